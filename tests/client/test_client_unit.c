/*
 * test_client_unit.c -- unit tests of the client's network-free parts
 * (http/client/): human sizes, terminal-safe text, table alignment, display
 * widths, elision and fitting the output width, wrapped prose, the
 * msgpack/JSON decoder and its bounds, the per-type diff, the views (code
 * locations: function, file:line, module+0xoffset) and the 422 detail
 * printer. No server involved (label unit).
 *
 * Tests that compare whole layouts set the width they assume
 * (gh__term_set_width): 0 for the natural layout.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include <msgpack.h>

#include "client.h"
#include "test.h"

#define ELL "\xe2\x80\xa6" /* the ellipsis */

/* main.c's error printer (diff.c's file loader uses it). */
void gh__cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define EXPECT_CONTAINS(hay, needle)                                                               \
	do {                                                                                       \
		const char *gh_h_ = (hay), *gh_n_ = (needle);                                      \
		if (!gh_h_ || !strstr(gh_h_, gh_n_))                                               \
			GH_TEST_FAIL_("expected \"%s\" in:\n%s", gh_n_, gh_h_ ? gh_h_ : "(null)"); \
	} while (0)

/* Runs a printer into a string (caller frees). */
#define CAPTURE(var, call)                                                                         \
	char *var = NULL;                                                                          \
	do {                                                                                       \
		size_t cap_len_;                                                                   \
		FILE *out = open_memstream(&var, &cap_len_);                                        \
		call;                                                                              \
		fclose(out);                                                                       \
	} while (0)

/* ---- Formatting ---------------------------------------------------------------------- */

TEST(sizes)
{
	char b[64];
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 0, false), "0 B");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 0, true), "0 B");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 512, false), "512 B");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 1023, false), "1023 B");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 1024, false), "1.0 KiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 11.8 * 1024 * 1024, false), "11.8 MiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 1048575, false), "1.0 MiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 1536, true), "+1.5 KiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, -1536, true), "-1.5 KiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, -500, false), "-500 B");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, 68719476736.0, false), "64.0 GiB");
	EXPECT_STREQ(gh__fmt_size(b, sizeof b, NAN, false), "?");
	EXPECT_STREQ(gh__fmt_int(b, sizeof b, 5, true), "+5");
	EXPECT_STREQ(gh__fmt_int(b, sizeof b, -5, true), "-5");
	EXPECT_STREQ(gh__fmt_int(b, sizeof b, 0, true), "0");
}

TEST(safe_text)
{
	char b[128];
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "plain"), "plain");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "CliEsc\x1b[31m"), "CliEsc\\x1b[31m");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "csi\xc2\x9b"), "csi\\x9b");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "pi \xcf\x80"), "pi \xcf\x80");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "bad \xff\xc0\x80"), "bad ???");
	EXPECT_STREQ(gh__fmt_safe(b, sizeof b, "surrogate \xed\xa0\x80"), "surrogate ???");
	EXPECT_STREQ(gh__fmt_safe(b, 6, "\x1b\x1b"), "\\x1b"); /* never a partial escape */
}

/* Every line of s is at most width display columns. */
static bool lines_fit(const char *s, size_t width)
{
	char *copy = strdup(s), *save = NULL;
	bool ok = true;
	for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save))
		if (gh__text_width(ln) > width) {
			fprintf(stderr, "  line of %zu columns (> %zu): %s\n", gh__text_width(ln), width, ln);
			ok = false;
		}
	free(copy);
	return ok;
}

TEST(table_alignment)
{
	gh__term_set_width(0);
	static const char *const hdr[] = {"TYPE", "COUNT", "SIZE"};
	gh_table_t *t = gh__table_new(3, hdr, "lrr");
	ASSERT_TRUE(t != NULL);
	gh__table_cell(t, "CliAlpha");
	gh__table_cell(t, "%d", 100);
	gh__table_cell(t, "4.7 KiB");
	gh__table_cell(t, "\xcf\x80");
	gh__table_cell(t, "%d", 3);
	gh__table_cell(t, "30 B");
	EXPECT_EQ(gh__table_rows(t), 2);
	CAPTURE(s, gh__table_print(t, out, 2));
	EXPECT_STREQ(s, "  TYPE      COUNT     SIZE\n"
			"  CliAlpha    100  4.7 KiB\n"
			"  \xcf\x80             3     30 B\n");
	free(s);
	gh__table_free(t);
}

TEST(display_width)
{
	EXPECT_EQ(gh__text_width(""), 0);
	EXPECT_EQ(gh__text_width("plain"), 5);
	EXPECT_EQ(gh__text_width("\xcf\x80"), 1);                 /* pi */
	EXPECT_EQ(gh__text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4); /* two CJK ideographs */
	EXPECT_EQ(gh__text_width("e\xcc\x81"), 1);                /* e + combining acute */
	EXPECT_EQ(gh__text_width(ELL), 1);             /* the ellipsis itself */
}

TEST(elide)
{
	char b[256];
	/* names and text keep their start */
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "handle_request", 8, 'n'), "handle_" ELL);
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "handle_request", 14, 'n'), "handle_request");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "handle_request", 0, 'n'), "handle_request");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "abc", 1, 'n'), ELL);
	/* a wide character is never split: 5 columns hold two of them and the ellipsis */
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 5, 'n'),
		     "\xe6\x97\xa5\xe6\x9c\xac" ELL);
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, 'n'),
		     "\xe6\x97\xa5" ELL);
	/* paths keep whole trailing components, then the file name's start and the line or offset */
	const char *src = "/work/wt-cli/examples/demo.c:261";
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, src, 32, 'p'), src);
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, src, 25, 'p'), ELL "/examples/demo.c:261");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, src, 20, 'p'), ELL "/demo.c:261");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, src, 11, 'p'), ELL "demo.c:261");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, src, 9, 'p'), "demo" ELL ":261");
	const char *site = "/lib/x86_64-linux-gnu/libh2o-evloop.so.0.13+0x1ab53";
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, site, 32, 'p'), ELL "/libh2o-evloop.so.0.13+0x1ab53");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, site, 14, 'p'), "libh2" ELL "+0x1ab53");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, site, 6, 'p'), ELL "1ab53");
	/* no suffix: the last columns */
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "/usr/bin/python3.11", 12, 'p'), ELL "/python3.11");
	EXPECT_STREQ(gh__fmt_elide(b, sizeof b, "abcdefgh", 4, 'p'), ELL "fgh");
	for (size_t w = 1; w < 40; w++) {
		EXPECT_LE(gh__text_width(gh__fmt_elide(b, sizeof b, site, w, 'p')), w);
		EXPECT_LE(gh__text_width(gh__fmt_elide(b, sizeof b, src, w, 'n')), w);
	}
}

/* A table with one long name, one long path and numbers, at several widths. */
TEST(table_fits_width)
{
	static const char *const hdr[] = {"FUNCTION", "LOCATION", "COUNT BEFORE", "SIZE"};
	gh_table_t *t = gh__table_new(4, hdr, "nprr");
	ASSERT_TRUE(t != NULL);
	gh__table_cell(t, "a_function_with_a_really_long_name_for_the_width_tests");
	gh__table_cell(t, "/a/very/long/directory/name/for/the/width/tests/source_file.c:1234");
	gh__table_cell(t, "%d", 123456789);
	gh__table_cell(t, "1023.9 MiB");
	gh__table_cell(t, "main");
	gh__table_cell(t, "/lib/libc.so.6+0x2724a");
	gh__table_cell(t, "%d", 7);
	gh__table_cell(t, "12 B");

	gh__term_set_width(0);
	CAPTURE(wide, gh__table_print(t, out, 0));
	EXPECT_CONTAINS(wide, "a_function_with_a_really_long_name_for_the_width_tests  "
			      "/a/very/long/directory/name/for/the/width/tests/source_file.c:1234     123456789  1023.9 MiB\n");
	free(wide);

	for (size_t w = 30; w <= 100; w += 5) {
		gh__term_set_width(w);
		CAPTURE(s, gh__table_print(t, out, 2));
		EXPECT_TRUE(lines_fit(s, w));
		EXPECT_CONTAINS(s, "123456789");   /* numbers are never cut */
		EXPECT_CONTAINS(s, "1023.9 MiB");
		EXPECT_CONTAINS(s, "12 B");
		if (w >= 50) /* below, the text columns are down to a few columns */
			EXPECT_CONTAINS(s, "main");
		free(s);
	}
	/* 80 columns: the header breaks over two lines, then the widest column gives way */
	gh__term_set_width(80);
	CAPTURE(s, gh__table_print(t, out, 0));
	/* (the path column, cut at a '/', needs one column less than it got: the
	 * function column takes it) */
	EXPECT_STREQ(s, "                                                               COUNT\n"
			"FUNCTION                       LOCATION                       BEFORE        SIZE\n"
			"a_function_with_a_really_lon" ELL "  " ELL "/tests/source_file.c:1234  123456789  1023.9 MiB\n"
			"main                           /lib/libc.so.6+0x2724a              7        12 B\n");
	free(s);
	gh__table_free(t);
}

TEST(table_hides_empty_columns)
{
	gh__term_set_width(0);
	static const char *const hdr[] = {"SIZE", "FUNCTION", "LOCATION", "LINE"};
	gh_table_t *t = gh__table_new(4, hdr, "rnpn");
	gh__table_cell(t, "10 B");
	gh__table_cell(t, "%s", "");
	gh__table_cell(t, "x.c");
	gh__table_cell(t, "%s", "");
	CAPTURE(s, gh__table_print(t, out, 0));
	EXPECT_STREQ(s, "SIZE  LOCATION\n"
			"10 B  x.c\n");
	free(s);
	gh__table_free(t);
}

TEST(wrapped_prose)
{
	const char *text = "allocator: requested 233.6 KiB + headers 16.5 KiB + rounding 1.2 MiB = jemalloc "
			   "allocated 1.4 MiB; active 1.8 MiB, resident 5.5 MiB; process RSS 23.1 MiB";
	gh__term_set_width(0);
	CAPTURE(s0, gh__print_wrapped(out, 2, "%s", text));
	EXPECT_TRUE(strncmp(s0, text, strlen(text)) == 0 && strcmp(s0 + strlen(text), "\n") == 0);
	free(s0);
	gh__term_set_width(40);
	CAPTURE(s, gh__print_wrapped(out, 2, "%s\n\nsecond %s", text, "paragraph"));
	EXPECT_TRUE(lines_fit(s, 40));
	EXPECT_STREQ(s, "allocator: requested 233.6 KiB + headers\n"
			"  16.5 KiB + rounding 1.2 MiB = jemalloc\n"
			"  allocated 1.4 MiB; active 1.8 MiB,\n"
			"  resident 5.5 MiB; process RSS 23.1 MiB\n"
			"\n"
			"second paragraph\n");
	free(s);
	/* a word wider than the line is broken inside */
	gh__term_set_width(20);
	CAPTURE(s2, gh__print_wrapped(out, 0, "type: %s", "A_type_name_without_any_space_at_all_x"));
	EXPECT_STREQ(s2, "type:\n"
			 "A_type_name_without_\n"
			 "any_space_at_all_x\n");
	free(s2);
}

/* ---- Decoding ----------------------------------------------------------------------------- */

static json_t *dec(const void *buf, size_t len, enum gh_wire w, char *err)
{
	return gh__decode(buf, len, w, err, 256);
}

TEST(decode_msgpack_document)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "Cli \"Gamma\" \xcf\x80", 14);
	msgpack_pack_str_with_body(&pk, "count", 5);
	msgpack_pack_uint64(&pk, 3);
	msgpack_pack_str_with_body(&pk, "neg", 3);
	msgpack_pack_int64(&pk, -7);
	msgpack_pack_str_with_body(&pk, "total_size_mb", 13);
	msgpack_pack_double(&pk, 0.62);
	msgpack_pack_str_with_body(&pk, "samples", 7);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);

	char err[256] = "";
	json_t *doc = dec(sb.data, sb.size, GH_WIRE_AUTO, err);
	ASSERT_TRUE(doc != NULL);
	long long v;
	double d;
	EXPECT_TRUE(gh__doc_int(doc, "count", &v) && v == 3);
	EXPECT_TRUE(gh__doc_int(doc, "neg", &v) && v == -7);
	EXPECT_TRUE(json_is_real(json_object_get(doc, "total_size_mb")));
	EXPECT_TRUE(gh__doc_num(doc, "total_size_mb", &d) && d == 0.62);
	EXPECT_STREQ(gh__doc_str(doc, "type"), "Cli \"Gamma\" \xcf\x80");
	EXPECT_TRUE(json_is_null(json_array_get(json_object_get(doc, "samples"), 0)));
	/* keys keep their order */
	EXPECT_STREQ(json_object_iter_key(json_object_iter(doc)), "type");
	json_decref(doc);
	msgpack_sbuffer_destroy(&sb);
}

TEST(decode_json_and_detection)
{
	char err[256] = "";
	const char *j = "  \n{\"a\": 1, \"b\": 2.5, \"c\": \"x\\u0000y\"}";
	json_t *doc = dec(j, strlen(j), GH_WIRE_AUTO, err);
	ASSERT_TRUE(doc != NULL);
	EXPECT_TRUE(json_is_integer(json_object_get(doc, "a")));
	EXPECT_TRUE(json_is_real(json_object_get(doc, "b")));
	EXPECT_EQ(json_string_length(json_object_get(doc, "c")), 3);
	json_decref(doc);

	EXPECT_TRUE(dec("{\"a\":1} x", 9, GH_WIRE_AUTO, err) == NULL);
	EXPECT_TRUE(dec("", 0, GH_WIRE_AUTO, err) == NULL);
	EXPECT_EQ(gh__decode_wire_of("application/msgpack"), GH_WIRE_MSGPACK);
	EXPECT_EQ(gh__decode_wire_of("application/x-msgpack; charset=binary"), GH_WIRE_MSGPACK);
	EXPECT_EQ(gh__decode_wire_of("Application/JSON"), GH_WIRE_JSON);
	EXPECT_EQ(gh__decode_wire_of("text/html"), GH_WIRE_AUTO);
	EXPECT_EQ(gh__decode_wire_of(NULL), GH_WIRE_AUTO);
}

TEST(decode_msgpack_refuses)
{
	char err[256];
	/* array32 announcing 2^32 - 1 elements: refused before msgpack-c allocates */
	err[0] = '\0';
	EXPECT_TRUE(dec("\xdd\xff\xff\xff\xff", 5, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "announce");
	EXPECT_TRUE(dec("\xdf\x00\x01\x00\x00\xa1k", 7, GH_WIRE_MSGPACK, err) == NULL);
	/* str32 longer than the data */
	EXPECT_TRUE(dec("\xdb\x7f\xff\xff\xff" "ab", 7, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "past the end");
	/* trailing bytes, truncation, the never-used type byte */
	EXPECT_TRUE(dec("\x80\x80", 2, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "trailing");
	EXPECT_TRUE(dec("\x81\xa1k", 3, GH_WIRE_MSGPACK, err) == NULL); /* a key without its value */
	EXPECT_CONTAINS(err, "announce");
	EXPECT_TRUE(dec("\xdc\x00", 2, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "truncated");
	EXPECT_TRUE(dec("\xcd\x01", 2, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "past the end");
	EXPECT_TRUE(dec("\xc1", 1, GH_WIRE_MSGPACK, err) == NULL);
	/* a non-string key, invalid UTF-8, an integer beyond int64, bin, ext */
	EXPECT_TRUE(dec("\x81\x01\x02", 3, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "key");
	EXPECT_TRUE(dec("\xa2\xff\xfe", 3, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_CONTAINS(err, "UTF-8");
	EXPECT_TRUE(dec("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_TRUE(dec("\xc4\x01x", 3, GH_WIRE_MSGPACK, err) == NULL);
	EXPECT_TRUE(dec("\xd4\x01x", 3, GH_WIRE_MSGPACK, err) == NULL);
	/* NaN becomes null */
	json_t *nan = dec("\x91\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 10, GH_WIRE_MSGPACK, err);
	ASSERT_TRUE(nan != NULL);
	EXPECT_TRUE(json_is_null(json_array_get(nan, 0)));
	json_decref(nan);
	/* deeper than msgpack-c's 32 levels: an error, not a crash */
	char deep[64];
	memset(deep, 0x91, 40);
	deep[40] = 0x01;
	EXPECT_TRUE(dec(deep, 41, GH_WIRE_MSGPACK, err) == NULL);
	memset(deep, 0x91, 20);
	deep[20] = 0x01;
	json_t *ok = dec(deep, 21, GH_WIRE_MSGPACK, err);
	EXPECT_TRUE(ok != NULL);
	json_decref(ok);
}

/* ---- Diff ------------------------------------------------------------------------------------- */

static json_t *memdoc(const char *json)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);
	if (!j)
		fprintf(stderr, "bad test JSON: %s\n", e.text);
	return j;
}

/* What view prints for doc, its return checked against rc ("" when doc is NULL). */
static char *view_text(gh_view_fn view, const json_t *doc, int rc)
{
	EXPECT_TRUE(doc != NULL);
	if (!doc)
		return strdup("");
	CAPTURE(s, EXPECT_EQ(gh__view_show(out, doc, view), rc));
	return s;
}

/* At width columns, what view prints for doc fits them and still holds every
 * string of parts (up to a NULL); the width goes back to 0 (no limit). */
static void expect_narrow(gh_view_fn view, const json_t *doc, int width,
			  const char *const *parts)
{
	gh__term_set_width(width);
	char *s = view_text(view, doc, 0);
	EXPECT_TRUE(lines_fit(s, width));
	for (size_t i = 0; parts[i]; i++)
		EXPECT_CONTAINS(s, parts[i]);
	free(s);
	gh__term_set_width(0);
}

/* The same for the document of the JSON text json. */
static char *view_json(gh_view_fn view, const char *json, int rc)
{
	json_t *doc = memdoc(json);
	char *s = view_text(view, doc, rc);
	json_decref(doc);
	return s;
}

TEST(diff_rows)
{
	json_t *a = memdoc("{\"summary\":{\"total_objects\":110,\"total_size_bytes\":5000,\"unique_types\":3},"
			   "\"top_objects\":[{\"type\":\"Keep\",\"count\":100,\"total_size_bytes\":4000},"
			   "{\"type\":\"Gone\",\"count\":5,\"total_size_bytes\":500},"
			   "{\"type\":\"Shrink\",\"count\":5,\"total_size_bytes\":500}]}");
	json_t *b = memdoc("{\"summary\":{\"total_objects\":160,\"total_size_bytes\":9000,\"unique_types\":3},"
			   "\"top_objects\":[{\"type\":\"Keep\",\"count\":150,\"total_size_bytes\":6000},"
			   "{\"type\":\"New\",\"count\":8,\"total_size_bytes\":2800},"
			   "{\"type\":\"Shrink\",\"count\":2,\"total_size_bytes\":200},"
			   "{\"type\":\"New\",\"count\":2,\"total_size_bytes\":200}]}");
	ASSERT_TRUE(a && b);
	struct gh_diff d;
	char err[256];
	ASSERT_EQ(gh__diff_compute(a, b, &d, err, sizeof err), 0);
	ASSERT_EQ(d.nrows, 4);
	/* by byte growth: New +3000, Keep +2000, Shrink -300, Gone -500 */
	EXPECT_STREQ(d.rows[0].type, "New");
	EXPECT_FALSE(d.rows[0].present[0]);
	EXPECT_EQ(d.rows[0].count[1], 10); /* listed twice: summed */
	EXPECT_EQ(d.rows[0].bytes[1], 3000);
	EXPECT_STREQ(d.rows[1].type, "Keep");
	EXPECT_EQ(d.rows[1].count[1] - d.rows[1].count[0], 50);
	EXPECT_STREQ(d.rows[2].type, "Shrink");
	EXPECT_STREQ(d.rows[3].type, "Gone");
	EXPECT_FALSE(d.rows[3].present[1]);

	gh__term_set_width(0);
	CAPTURE(s, gh__diff_print(out, &d, 0, "before.json", "after.msgpack", false));
	EXPECT_CONTAINS(s, "before: before.json");
	EXPECT_CONTAINS(s, "          BEFORE    AFTER      DIFF\n"
			   "objects      110      160       +50\n"
			   "size     4.9 KiB  8.8 KiB  +3.9 KiB\n"
			   "types          3        3         0\n");
	EXPECT_CONTAINS(s, "TYPE    COUNT BEFORE  COUNT AFTER  COUNT DIFF  SIZE BEFORE  SIZE AFTER  SIZE DIFF  NOTE\n"
			   "New                -           10         +10            -     2.9 KiB   +2.9 KiB  new\n"
			   "Keep             100          150         +50      3.9 KiB     5.9 KiB   +2.0 KiB\n"
			   "Shrink             5            2          -3        500 B       200 B     -300 B\n"
			   "Gone               5            -          -5        500 B           -     -500 B  gone\n");
	free(s);
	/* at 80 columns the headers take two lines; every figure stays */
	gh__term_set_width(80);
	CAPTURE(s80, gh__diff_print(out, &d, 0, "before.json", "after.msgpack", false));
	EXPECT_TRUE(lines_fit(s80, 80));
	EXPECT_CONTAINS(s80, "         COUNT  COUNT  COUNT     SIZE     SIZE      SIZE\n"
			     "TYPE    BEFORE  AFTER   DIFF   BEFORE    AFTER      DIFF  NOTE\n"
			     "New          -     10    +10        -  2.9 KiB  +2.9 KiB  new\n");
	free(s80);

	json_t *j = gh__diff_json(&d);
	ASSERT_TRUE(j != NULL);
	json_t *first = json_array_get(json_object_get(j, "types"), 0);
	EXPECT_STREQ(gh__doc_str(first, "status"), "new");
	long long v;
	EXPECT_TRUE(gh__doc_int(first, "size_diff_bytes", &v) && v == 3000);
	json_decref(j);
	gh__diff_free(&d);

	/* not a /debug/memory document */
	json_t *c = memdoc("{\"type\":\"x\"}");
	EXPECT_EQ(gh__diff_compute(a, c, &d, err, sizeof err), -1);
	EXPECT_CONTAINS(err, "top_objects");
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

TEST(diff_hostile_figures)
{
	json_t *a = memdoc("{\"summary\":{\"total_objects\":-9223372036854775807,\"total_size_bytes\":0},"
			   "\"top_objects\":[{\"type\":\"X\",\"count\":9223372036854775807,"
			   "\"total_size_bytes\":-9223372036854775807},"
			   "{\"type\":\"X\",\"count\":9223372036854775807,\"total_size_bytes\":1}]}");
	json_t *b = memdoc("{\"summary\":{\"total_objects\":9223372036854775807,\"total_size_bytes\":0},"
			   "\"top_objects\":[{\"type\":\"X\",\"count\":-9223372036854775807,"
			   "\"total_size_bytes\":9223372036854775807}]}");
	ASSERT_TRUE(a && b);
	struct gh_diff d;
	char err[256];
	ASSERT_EQ(gh__diff_compute(a, b, &d, err, sizeof err), 0);
	CAPTURE(s, gh__diff_print(out, &d, 0, "a", "b", false));
	EXPECT_TRUE(s != NULL);
	free(s);
	gh__diff_free(&d);
	json_decref(a);
	json_decref(b);
}

/* ---- Views ------------------------------------------------------------------------------------ */

TEST(view_memory)
{
	gh__term_set_width(0);
	char *s = view_json(gh__view_memory,
			    "{\"summary\":{\"total_objects\":110,\"total_size_bytes\":10240,\"total_size_mb\":0.01,"
			     "\"unique_types\":2},\"top_objects\":["
			     "{\"type\":\"CliBeta\",\"count\":10,\"total_size_bytes\":5440,\"avg_size_bytes\":544,"
			     "\"total_size_mb\":0.01},"
			     "{\"type\":\"CliEsc\\u001b[31m\",\"count\":100,\"total_size_bytes\":4800,"
			     "\"avg_size_bytes\":48,\"total_size_mb\":0.0}],"
			     "\"gc_stats\":{\"collections\":[0,0,2],\"thresholds\":[0,0,0],\"garbage_count\":4},"
			     "\"sort_by\":\"size\"}", 0);
	EXPECT_CONTAINS(s, "110 objects, 10.0 KiB (10240 bytes), 2 types; top 2 by size\n");
	EXPECT_CONTAINS(s, "TYPE            COUNT     SIZE  SHARE  AVG SIZE\n"
			   "CliBeta            10  5.3 KiB  53.1%     544 B\n"
			   "CliEsc\\x1b[31m    100  4.7 KiB  46.9%      48 B\n");
	EXPECT_CONTAINS(s, "gc: collections [0 0 2], thresholds [0 0 0], garbage 4\n");
	EXPECT_TRUE(strchr(s, '\x1b') == NULL);
	free(s);

	/* any other shape renders with '?', and a non-map is refused */
	char *s2 = view_json(gh__view_memory, "{\"summary\":[],\"top_objects\":[1,{\"type\":5}]}", 0);
	EXPECT_CONTAINS(s2, "? objects");
	free(s2);
	free(view_json(gh__view_memory, "[1,2]", -1));
}

TEST(view_detail_422)
{
	json_t *doc = memdoc("{\"detail\":[{\"type\":\"greater_than_equal\",\"loc\":[\"query\",\"top_n\"],"
			     "\"msg\":\"Input should be greater than or equal to 1\",\"input\":\"0\"},"
			     "{\"type\":\"enum\",\"loc\":[\"query\",\"sort_by\"],\"msg\":\"Input should be 'size' or "
			     "'count'\"}]}");
	ASSERT_TRUE(doc != NULL);
	CAPTURE(s, EXPECT_EQ(gh__view_detail(out, doc, "  "), 2));
	EXPECT_STREQ(s, "  query.top_n: Input should be greater than or equal to 1\n"
			"  query.sort_by: Input should be 'size' or 'count'\n");
	free(s);
	json_decref(doc);

	json_t *one = memdoc("{\"detail\":\"Not Found\"}");
	CAPTURE(s2, EXPECT_EQ(gh__view_detail(out, one, ""), 1));
	EXPECT_STREQ(s2, "Not Found\n");
	free(s2);
	json_decref(one);
}

TEST(view_trace_documents)
{
	gh__term_set_width(0);
	/* api.md's fields only (an older server): the location is file:line or the module */
	char *s = view_json(gh__view_trace_top,
			    "{\"group_by\":\"lineno\",\"top_allocations\":[{\"size_bytes\":2345678,\"size_mb\":2.24,"
			     "\"count\":1234,\"filename\":\"src/service.c\",\"lineno\":145,\"line\":\"buf = malloc(n);\"},"
			     "{\"size_bytes\":10,\"size_mb\":0.0,\"count\":1,\"filename\":\"libc.so.6\",\"lineno\":0,"
			     "\"line\":\"\"}],\"summary\":{\"current_mb\":45.23,\"peak_mb\":67.89}}", 0);
	EXPECT_CONTAINS(s, "grouped by lineno; traced now 45.23 MiB, peak 67.89 MiB");
	EXPECT_CONTAINS(s, "   SIZE  COUNT  LOCATION           LINE\n"
			   "2.2 MiB   1234  src/service.c:145  buf = malloc(n);\n"
			   "   10 B      1  libc.so.6\n");
	free(s);

	/* glassheap's function and site: the function, then file:line or module+0xoffset */
	char *s1 = view_json(gh__view_trace_top,
			    "{\"group_by\":\"lineno\",\"top_allocations\":[{\"size_bytes\":2048,\"size_mb\":0.0,"
			      "\"count\":2,\"filename\":\"/src/demo.c\",\"lineno\":261,\"line\":\"r = malloc(n);\","
			      "\"function\":\"handle_request\",\"site\":\"\"},"
			      "{\"size_bytes\":100,\"size_mb\":0.0,\"count\":1,\"filename\":\"/usr/bin/python3.11\","
			      "\"lineno\":0,\"line\":\"\",\"function\":\"PyType_GenericAlloc\","
			      "\"site\":\"/usr/bin/python3.11+0x508475\"},"
			      "{\"size_bytes\":50,\"size_mb\":0.0,\"count\":1,\"filename\":\"/usr/bin/python3.11\","
			      "\"lineno\":0,\"line\":\"\",\"function\":\"\",\"site\":\"/usr/bin/python3.11+0x5007a3\"}],"
			      "\"summary\":{\"current_mb\":0.0,\"peak_mb\":0.0}}", 0);
	EXPECT_CONTAINS(s1, "   SIZE  COUNT  FUNCTION             LOCATION                      LINE\n"
			    "2.0 KiB      2  handle_request       /src/demo.c:261               r = malloc(n);\n"
			    "  100 B      1  PyType_GenericAlloc  /usr/bin/python3.11+0x508475\n"
			    "   50 B      1                       /usr/bin/python3.11+0x5007a3\n");
	free(s1);

	json_t *tb = memdoc("{\"top_allocations\":[{\"size_bytes\":2048,\"size_mb\":0.0,\"count\":2,\"traceback\":["
			    "{\"filename\":\"/src/demo.c\",\"lineno\":261,\"line\":\"r = malloc(n);\","
			    "\"function\":\"handle_request\",\"site\":\"/bin/demo+0x1a471\"},"
			    "{\"filename\":\"/usr/bin/python3.11\",\"lineno\":0,\"line\":\"\",\"function\":\"\","
			    "\"site\":\"/usr/bin/python3.11+0x67c373\"},"
			    "{\"filename\":\"/usr/bin/python3.11\",\"lineno\":0,\"line\":\"\",\"function\":\"_start\","
			    "\"site\":\"/usr/bin/python3.11+0x2a1b0\"}]}]}");
	char *s4 = view_text(gh__view_trace_traceback, tb, 0);
	EXPECT_STREQ(s4, "#1  2.0 KiB in 2 blocks\n"
			 "    handle_request  /src/demo.c:261               r = malloc(n);\n"
			 "                    /usr/bin/python3.11+0x67c373\n"
			 "    _start          /usr/bin/python3.11+0x2a1b0\n");
	free(s4);
	expect_narrow(gh__view_trace_traceback, tb, 40, (const char *const[]){"+0x67c373", "demo.c:261", NULL});
	json_decref(tb);

	char *s2 = view_json(gh__view_trace_compare,
			    "{\"snapshot1\":\"a\",\"snapshot2\":\"b\",\"group_by\":\"filename\",\"differences\":["
			     "{\"size_diff_bytes\":-2048,\"size_diff_mb\":0.0,\"count_diff\":-2,\"filename\":\"x.c\","
			     "\"lineno\":0,\"line\":\"\"}]}", 0);
	EXPECT_CONTAINS(s2, "a -> b, grouped by filename");
	EXPECT_CONTAINS(s2, "-2.0 KiB          -2  x.c");
	free(s2);

	char *s3 = view_json(gh__view_trace_status,
			    "{\"is_tracing\":true,\"frames\":25,\"current_mb\":1.5,\"peak_mb\":2.0,"
			    "\"available_snapshots\":[\"before\",\"after\"]}", 0);
	EXPECT_CONTAINS(s3, "tracing    yes\n");
	EXPECT_CONTAINS(s3, "snapshots  before, after\n");
	free(s3);
}

TEST(view_gc_sites)
{
	gh__term_set_width(0);
	json_t *gc = memdoc("{\"collected_objects\":0,\"objects_before\":10,\"objects_after\":10,\"objects_freed\":0,"
			    "\"unreachable\":{\"by_site\":["
			    "{\"site\":\"/bin/glassheap-demo+0x1a471\",\"function\":\"handle_request\","
			    "\"filename\":\"/work/examples/demo.c\",\"lineno\":261,\"type\":\"SpeechRecognizer\","
			    "\"class\":\"definitely_lost\",\"count\":66,\"bytes\":136752},"
			    "{\"site\":\"/lib/x86_64-linux-gnu/libh2o-evloop.so.0.13+0x1ab53\",\"function\":\"h2o_mem_alloc_shared\","
			    "\"filename\":\"\",\"lineno\":0,\"type\":\"glassheap\",\"class\":\"possibly_lost\","
			    "\"count\":191,\"bytes\":15561},"
			    "{\"site\":\"/lib/x86_64-linux-gnu/libh2o-evloop.so.0.13+0x37aa5\",\"function\":\"\","
			    "\"filename\":\"\",\"lineno\":0,\"type\":\"glassheap\",\"class\":\"possibly_lost\","
			    "\"count\":1,\"bytes\":2048}]}}");
	char *s = view_text(gh__view_gc, gc, 0);
	EXPECT_CONTAINS(s, "FUNCTION              LOCATION                                             TYPE              "
			   "LOST        COUNT       SIZE\n"
			   "handle_request        /work/examples/demo.c:261                            SpeechRecognizer  "
			   "definitely     66  133.5 KiB\n"
			   "h2o_mem_alloc_shared  /lib/x86_64-linux-gnu/libh2o-evloop.so.0.13+0x1ab53  glassheap         "
			   "possibly      191   15.2 KiB\n"
			   "                      /lib/x86_64-linux-gnu/libh2o-evloop.so.0.13+0x37aa5  glassheap         "
			   "possibly        1    2.0 KiB\n");
	free(s);
	expect_narrow(gh__view_gc, gc, 80,
		      (const char *const[]){"handle_request", "/demo.c:261", "+0x1ab53", "    66  133.5 KiB\n", NULL});
	json_decref(gc);
}

int main(void)
{
	return RUN_TESTS();
}
