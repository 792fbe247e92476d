/*
 * test_emit.c -- the response emitter (http/emit.c): golden JSON bytes, JSON
 * escaping of arbitrary bytes checked by jansson against an independent
 * UTF-8 sanitizer, the msgpack document compared structurally with the JSON
 * one, GH_EMIT_UNKNOWN containers, misuse errors and format negotiation.
 */
#include "emit.h"
#include "utf8.h"
#include "test.h"

#include <float.h>
#include <math.h>

#include <jansson.h>
#include <msgpack.h>

#include "msgpack_same.h"
#include "utf8_ref.h"

/* ---- Helpers ---------------------------------------------------------------- */

typedef void (*build_fn)(gh_emit_t *e, const void *arg);

struct doc {
	char *bytes;
	size_t len;
};

/* Builds one document in a format; bytes are a malloc'd copy (NULL on error). */
static struct doc build(enum gh_emit_format fmt, build_fn fn, const void *arg)
{
	struct doc d = {NULL, 0};
	gh_emit_t *e = gh__emit_new(fmt);
	if (!e)
		return d;
	fn(e, arg);
	const char *p = gh__emit_data(e, &d.len);
	if (p) {
		d.bytes = malloc(d.len + 1);
		memcpy(d.bytes, p, d.len);
		d.bytes[d.len] = '\0';
	}
	gh__emit_free(e);
	return d;
}

static json_t *parse_json(const struct doc *d)
{
	json_error_t err;
	json_t *j = json_loadb(d->bytes, d->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!j)
		fprintf(stderr, "  jansson: %s at %d: %.*s\n", err.text, err.position, (int)d->len,
			d->bytes);
	return j;
}


/* Emits the document in both formats, parses both, and compares them. */
static bool both_agree(build_fn fn, const void *arg)
{
	struct doc js = build(GH_EMIT_JSON, fn, arg), mp = build(GH_EMIT_MSGPACK, fn, arg);
	bool ok = false;
	json_t *j = NULL;
	if (js.bytes && mp.bytes && (j = parse_json(&js)))
		ok = gh_test_msgpack_is(mp.bytes, mp.len, j);
	json_decref(j);
	free(js.bytes);
	free(mp.bytes);
	return ok;
}


struct bytes {
	const char *p;
	size_t n;
};

static void build_str(gh_emit_t *e, const void *arg)
{
	const struct bytes *b = arg;
	gh__emit_str(e, b->p, b->n);
}

/* s emitted alone as JSON and msgpack decodes to exactly expect[0..en). */
static bool string_roundtrips(const char *s, size_t n, const unsigned char *expect, size_t en)
{
	struct bytes b = {s, n};
	struct doc js = build(GH_EMIT_JSON, build_str, &b), mp = build(GH_EMIT_MSGPACK, build_str, &b);
	bool ok = js.bytes && mp.bytes;
	json_t *j = ok ? parse_json(&js) : NULL;
	ok = ok && j && json_is_string(j) && json_string_length(j) == en &&
	     memcmp(json_string_value(j), expect, en) == 0;
	if (ok) {
		msgpack_unpacked u;
		size_t off = 0;
		msgpack_unpacked_init(&u);
		ok = msgpack_unpack_next(&u, mp.bytes, mp.len, &off) == MSGPACK_UNPACK_SUCCESS &&
		     off == mp.len && u.data.type == MSGPACK_OBJECT_STR &&
		     u.data.via.str.size == en &&
		     (en == 0 || memcmp(u.data.via.str.ptr, expect, en) == 0);
		msgpack_unpacked_destroy(&u);
	}
	ok = ok && gh__utf8_sanitized_len(s, n) == en;
	json_decref(j);
	free(js.bytes);
	free(mp.bytes);
	return ok;
}

static char *json_of(build_fn fn, const void *arg)
{
	return build(GH_EMIT_JSON, fn, arg).bytes;
}

/* fn's JSON text is want. */
static void expect_json(build_fn fn, const void *arg, const char *want)
{
	char *js = json_of(fn, arg);
	EXPECT_STREQ(js, want);
	free(js);
}

/* ---- Golden JSON ------------------------------------------------------------------ */

static void build_golden(gh_emit_t *e, const void *arg)
{
	(void)arg;
	gh__emit_map_begin(e, 10);
	gh__emit_key(e, "type");
	gh__emit_cstr(e, "dict");
	gh__emit_key(e, "count");
	gh__emit_int(e, 5432);
	gh__emit_key(e, "neg");
	gh__emit_int(e, INT64_MIN);
	gh__emit_key(e, "big");
	gh__emit_uint(e, UINT64_MAX);
	gh__emit_key(e, "total_size_mb");
	gh__emit_mb(e, 12345678);
	gh__emit_key(e, "zero_mb");
	gh__emit_mb(e, 0);
	gh__emit_key(e, "ok");
	gh__emit_bool(e, true);
	gh__emit_key(e, "none");
	gh__emit_cstr(e, NULL);
	gh__emit_key(e, "list");
	gh__emit_array_begin(e, 5);
	gh__emit_int(e, 1);
	gh__emit_cstr(e, "a\"b\\c\n\t\x01/\x7f\xc3\xa9\r\b\f\x1f");
	gh__emit_bool(e, false);
	gh__emit_dbl(e, 2.5);
	gh__emit_dbl(e, -0.0);
	gh__emit_array_end(e);
	gh__emit_key(e, "nested");
	gh__emit_map_begin(e, 2);
	gh__emit_key(e, "k");
	gh__emit_array_begin(e, 0);
	gh__emit_array_end(e);
	gh__emit_key(e, "m");
	gh__emit_map_begin(e, GH_EMIT_UNKNOWN);
	gh__emit_map_end(e);
	gh__emit_map_end(e);
	gh__emit_map_end(e);
}

/* The bytes are Python's json.dumps(doc, separators=(",", ":"), ensure_ascii=False). */
TEST(golden_json)
{
	char *js = json_of(build_golden, NULL);
	ASSERT_TRUE(js != NULL);
	EXPECT_STREQ(js, "{\"type\":\"dict\",\"count\":5432,\"neg\":-9223372036854775808,"
			 "\"big\":18446744073709551615,\"total_size_mb\":11.77,\"zero_mb\":0.0,"
			 "\"ok\":true,\"none\":null,"
			 "\"list\":[1,\"a\\\"b\\\\c\\n\\t\\u0001/\x7f\xc3\xa9\\r\\b\\f\\u001f\",false,2.5,-0.0],"
			 "\"nested\":{\"k\":[],\"m\":{}}}");
	free(js);
}

TEST(golden_msgpack_bytes)
{
	struct doc d;
	gh_emit_t *e = gh__emit_new(GH_EMIT_MSGPACK);
	ASSERT_TRUE(e != NULL);
	gh__emit_map_begin(e, 2);
	gh__emit_key(e, "a");
	gh__emit_int(e, 1);
	gh__emit_key(e, "mb");
	gh__emit_mb(e, 1048576);
	gh__emit_map_end(e);
	const char *p = gh__emit_data(e, &d.len);
	static const unsigned char want[] = {0x82, 0xa1, 'a', 0x01, 0xa2, 'm', 'b',
					     0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(d.len, sizeof want);
	EXPECT_TRUE(memcmp(p, want, sizeof want) == 0);
	gh__emit_free(e);
}

/* A value, at arg, and its expected JSON text. */
struct text_case {
	const void *arg;
	const char *json;
};
#define U64(x) (&(const uint64_t){x})
#define DBL(x) (&(const double){x})

/* fn's JSON text of every case's value is the case's, and msgpack agrees. */
static void expect_texts(build_fn fn, const struct text_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		expect_json(fn, cases[i].arg, cases[i].json);
		EXPECT_TRUE(both_agree(fn, cases[i].arg));
	}
}

static void build_mb(gh_emit_t *e, const void *arg)
{
	gh__emit_mb(e, *(const uint64_t *)arg);
}

/* Expected texts are Python's repr(round(bytes / 1024 / 1024, 2)). */
TEST(mb_rounding_like_python)
{
	const struct text_case cases[] = {
		{U64(0), "0.0"},           {U64(1), "0.0"},           {U64(5242), "0.0"},
		{U64(5243), "0.01"},       {U64(1048576), "1.0"},     {U64(12345678), "11.77"},
		{U64(2345678), "2.24"},    {U64(131072), "0.12"}, /* 0.125: half to even */
		{U64(393216), "0.38"}, /* 0.375 */
		{U64(UINT64_C(9007199254740993)), "8589934592.0"},
		{U64(UINT64_MAX), "17592186044416.0"},
	};
	expect_texts(build_mb, cases, sizeof cases / sizeof cases[0]);
}

static void build_dbl(gh_emit_t *e, const void *arg)
{
	gh__emit_dbl(e, *(const double *)arg);
}

/* Expected texts are Python's repr(float). */
TEST(double_text_like_python_repr)
{
	const struct text_case cases[] = {
		{DBL(0.1), "0.1"},
		{DBL(1e16), "1e+16"},
		{DBL(1e-5), "1e-05"},
		{DBL(123.0), "123.0"},
		{DBL(-0.0), "-0.0"},
		{DBL(0.0), "0.0"},
		{DBL(1.5e300), "1.5e+300"},
		{DBL(5e-324), "5e-324"},
		{DBL(0.0001), "0.0001"},
		{DBL(1e15), "1000000000000000.0"},
		{DBL(1.0 / 3), "0.3333333333333333"},
		{DBL(DBL_MAX), "1.7976931348623157e+308"},
		{DBL(9999999999999998.0), "9999999999999998.0"},
		{DBL(1e-4 * 0.99), "9.900000000000001e-05"},
		{DBL(-17.25), "-17.25"},
		{DBL(123456789012345678.0), "1.2345678901234568e+17"},
		{DBL(1e22), "1e+22"},
		{DBL(0.1 + 0.2), "0.30000000000000004"},
	};
	expect_texts(build_dbl, cases, sizeof cases / sizeof cases[0]);
	double nan = NAN, inf = -INFINITY;
	expect_json(build_dbl, &nan, "null");
	expect_json(build_dbl, &inf, "null");
	EXPECT_TRUE(both_agree(build_dbl, &nan));
}

/* Random doubles: the JSON text always reads back as the same double. */
TEST(double_roundtrip_random)
{
	uint64_t x = 0x9E3779B97F4A7C15u;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v;
		memcpy(&v, &x, sizeof v);
		if (isnan(v) || isinf(v))
			continue;
		char *js = json_of(build_dbl, &v);
		ASSERT_TRUE(js != NULL);
		ASSERT_TRUE(strpbrk(js, ".e") != NULL);
		ASSERT_TRUE(strtod(js, NULL) == v);
		free(js);
	}
}

/* ---- Strings -------------------------------------------------------------------- */

TEST(every_single_byte)
{
	for (int c = 0; c < 256; c++) {
		char s[1] = {(char)c};
		unsigned char want[3];
		size_t wn = gh_ref_utf8_sanitize((const unsigned char *)s, 1, want);
		EXPECT_EQ(wn, c < 0x80 ? 1 : 3);
		if (!string_roundtrips(s, 1, want, wn))
			GH_TEST_FAIL_("byte 0x%02x", c);
	}
}

TEST(control_escapes_exact)
{
	static const char *const want[32] = {
		"\"\\u0000\"", "\"\\u0001\"", "\"\\u0002\"", "\"\\u0003\"", "\"\\u0004\"",
		"\"\\u0005\"", "\"\\u0006\"", "\"\\u0007\"", "\"\\b\"",     "\"\\t\"",
		"\"\\n\"",     "\"\\u000b\"", "\"\\f\"",     "\"\\r\"",     "\"\\u000e\"",
		"\"\\u000f\"", "\"\\u0010\"", "\"\\u0011\"", "\"\\u0012\"", "\"\\u0013\"",
		"\"\\u0014\"", "\"\\u0015\"", "\"\\u0016\"", "\"\\u0017\"", "\"\\u0018\"",
		"\"\\u0019\"", "\"\\u001a\"", "\"\\u001b\"", "\"\\u001c\"", "\"\\u001d\"",
		"\"\\u001e\"", "\"\\u001f\"",
	};
	for (int c = 0; c < 32; c++) {
		char s[1] = {(char)c};
		struct bytes b = {s, 1};
		expect_json(build_str, &b, want[c]);
	}
}

struct utf8_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
};

/* Expected outputs are Python's bytes.decode("utf-8", "replace"). */
static const struct utf8_case utf8_cases[] = {
	{"\xe1\x80\x41", 3, "\xef\xbf\xbd\x41", 4},
	{"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xe0\x80\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
	{"\xf0\x80\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12},
	{"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
	{"\xed\xbf\xbf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
	{"\xed\x9f\xbf", 3, "\xed\x9f\xbf", 3},
	{"\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf", 4},
	{"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12},
	{"\xe2\x82", 2, "\xef\xbf\xbd", 3},
	{"\xe2\x82\xac", 3, "\xe2\x82\xac", 3},
	{"\xe2\x82\x41", 3, "\xef\xbf\xbd\x41", 4},
	{"\x80", 1, "\xef\xbf\xbd", 3},
	{"\xbf\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xf5\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4},
	{"\xf0\x9f\x98", 3, "\xef\xbf\xbd", 3},
	{"\xf0\x9f", 2, "\xef\xbf\xbd", 3},
	{"\xef\xbf\xbd", 3, "\xef\xbf\xbd", 3},
	{"\xef\xbb\xbf", 3, "\xef\xbb\xbf", 3},
	{"\xe2\x80\xa8", 3, "\xe2\x80\xa8", 3},
	{"\xc2\x80", 2, "\xc2\x80", 2},
	{"\xc1\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
	{"\xdf\xbf", 2, "\xdf\xbf", 2},
	{"\x61\xf1\x80\x80\xe1\x80\xc2\x62", 8, "\x61\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x62", 11},
	{"\xf8\x88\x80\x80\x80", 5,
	 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 15},
	{"\xe0\xa0", 2, "\xef\xbf\xbd", 3},
	{"\xe0\x9f\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
};

TEST(tricky_utf8)
{
	for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
		const struct utf8_case *c = &utf8_cases[i];
		unsigned char ref[64];
		size_t rn = gh_ref_utf8_sanitize((const unsigned char *)c->in, c->in_len, ref);
		/* the reference sanitizer agrees with Python... */
		if (rn != c->out_len || memcmp(ref, c->out, rn) != 0)
			GH_TEST_FAIL_("reference disagrees with Python on case %zu", i);
		/* ...and so does the emitter, in both encodings */
		if (!string_roundtrips(c->in, c->in_len, (const unsigned char *)c->out, c->out_len))
			GH_TEST_FAIL_("utf8 case %zu", i);
	}
}

/* Pieces that make random strings interesting: valid sequences of each
 * length, their truncations, overlongs, surrogates, the limits. */
static const char *const pieces[] = {
	"a", "\"", "\\", "\n", "\x01", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
	"\xc3", "\xe2\x82", "\xf0\x9f\x98", "\x80", "\xbf", "\xc0\xaf", "\xe0\x80\xaf",
	"\xed\xa0\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xff", "\xf5", "\xef\xbf\xbf",
};

TEST(random_byte_strings)
{
	uint64_t x = 42;
	char s[256];
	unsigned char want[1024];
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int npieces = (int)(x % 24);
		for (int k = 0; k < npieces && n < sizeof s - 8; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (x & 1) {
				s[n++] = (char)(x >> 8); /* any byte */
			} else {
				const char *p = pieces[(x >> 8) % (sizeof pieces / sizeof pieces[0])];
				size_t pl = strlen(p);
				memcpy(s + n, p, pl);
				n += pl;
			}
		}
		size_t wn = gh_ref_utf8_sanitize((const unsigned char *)s, n, want);
		if (!string_roundtrips(s, n, want, wn)) {
			GH_TEST_FAIL_("random string %d (len %zu)", iter, n);
			return;
		}
	}
}

/* arg: the first key, 3 bytes */
static void build_keys(gh_emit_t *e, const void *arg)
{
	gh__emit_map_begin(e, 3);
	gh__emit_keyn(e, arg, 3);
	gh__emit_int(e, 1);
	gh__emit_key(e, "\"quoted\"\n");
	gh__emit_int(e, 2);
	gh__emit_keyn(e, "", 0);
	gh__emit_str(e, "", 0);
	gh__emit_map_end(e);
}

TEST(keys_are_escaped_and_sanitized)
{
	expect_json(build_keys, "k\x00\xff", "{\"k\\u0000\xef\xbf\xbd\":1,\"\\\"quoted\\\"\\n\":2,\"\":\"\"}");
	/* jansson refuses NUL in object keys: compare the encodings without one */
	EXPECT_TRUE(both_agree(build_keys, "k\x01\xff"));
}

/* ---- msgpack against JSON ---------------------------------------------------------- */

/* jansson cannot read integers above INT64_MAX: the same document without "big". */
static void build_composite(gh_emit_t *e, const void *arg)
{
	(void)arg;
	gh__emit_map_begin(e, 6);
	gh__emit_key(e, "summary");
	gh__emit_map_begin(e, 4);
	gh__emit_key(e, "total_objects");
	gh__emit_uint(e, 45678);
	gh__emit_key(e, "total_size_bytes");
	gh__emit_int(e, 12345678);
	gh__emit_key(e, "total_size_mb");
	gh__emit_mb(e, 12345678);
	gh__emit_key(e, "unique_types");
	gh__emit_int(e, 234);
	gh__emit_map_end(e);
	gh__emit_key(e, "top_objects");
	gh__emit_array_begin(e, GH_EMIT_UNKNOWN);
	for (int i = 0; i < 3; i++) {
		gh__emit_map_begin(e, GH_EMIT_UNKNOWN);
		gh__emit_key(e, "type");
		gh__emit_str(e, "t\xff\x00pe", 5);
		gh__emit_key(e, "count");
		gh__emit_int(e, -i * 1000000007LL);
		gh__emit_key(e, "zero_mb");
		gh__emit_mb(e, 0);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
	gh__emit_key(e, "gc_stats");
	gh__emit_map_begin(e, 3);
	gh__emit_key(e, "collections");
	gh__emit_array_begin(e, 3);
	gh__emit_int(e, 123);
	gh__emit_int(e, 45);
	gh__emit_int(e, 6);
	gh__emit_array_end(e);
	gh__emit_key(e, "thresholds");
	gh__emit_array_begin(e, 0);
	gh__emit_array_end(e);
	gh__emit_key(e, "garbage_count");
	gh__emit_uint(e, INT64_MAX);
	gh__emit_map_end(e);
	gh__emit_key(e, "min");
	gh__emit_int(e, INT64_MIN);
	gh__emit_key(e, "flags");
	gh__emit_array_begin(e, 4);
	gh__emit_bool(e, true);
	gh__emit_bool(e, false);
	gh__emit_null(e);
	gh__emit_dbl(e, 1e300);
	gh__emit_array_end(e);
	gh__emit_key(e, "sort_by");
	gh__emit_cstr(e, "size");
	gh__emit_map_end(e);
}

TEST(msgpack_matches_json)
{
	EXPECT_TRUE(both_agree(build_composite, NULL));
}

/* The structural comparison itself notices a difference in type. */
static void build_int_one(gh_emit_t *e, const void *arg)
{
	(void)arg;
	gh__emit_int(e, 1);
}

TEST(comparison_sees_type_changes)
{
	json_t *real = json_real(1.0), *integer = json_integer(1);
	struct doc mp = build(GH_EMIT_MSGPACK, build_int_one, NULL);
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	ASSERT_TRUE(msgpack_unpack_next(&u, mp.bytes, mp.len, &off) == MSGPACK_UNPACK_SUCCESS);
	EXPECT_TRUE(gh_test_same_document(&u.data, integer));
	EXPECT_FALSE(gh_test_same_document(&u.data, real));
	msgpack_unpacked_destroy(&u);
	json_decref(real);
	json_decref(integer);
	free(mp.bytes);
}

/* ---- GH_EMIT_UNKNOWN ------------------------------------------------------------ */

static void build_big_unknown(gh_emit_t *e, const void *arg)
{
	size_t n = *(const size_t *)arg;
	gh__emit_array_begin(e, GH_EMIT_UNKNOWN);
	for (size_t i = 0; i < n; i++)
		gh__emit_int(e, (int64_t)i);
	gh__emit_array_end(e);
}

TEST(unknown_counts_are_patched)
{
	static const size_t sizes[] = {0, 1, 15, 16, 65535, 70000};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		struct doc mp = build(GH_EMIT_MSGPACK, build_big_unknown, &sizes[k]);
		ASSERT_TRUE(mp.bytes != NULL);
		const unsigned char *p = (const unsigned char *)mp.bytes;
		EXPECT_EQ(p[0], 0xdd); /* array32 whatever the count */
		EXPECT_EQ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4], sizes[k]);
		msgpack_unpacked u;
		size_t off = 0;
		msgpack_unpacked_init(&u);
		EXPECT_TRUE(msgpack_unpack_next(&u, mp.bytes, mp.len, &off) == MSGPACK_UNPACK_SUCCESS);
		EXPECT_EQ(off, mp.len);
		EXPECT_EQ(u.data.type, MSGPACK_OBJECT_ARRAY);
		EXPECT_EQ(u.data.via.array.size, sizes[k]);
		msgpack_unpacked_destroy(&u);
		free(mp.bytes);
		EXPECT_TRUE(both_agree(build_big_unknown, &sizes[k]));
	}
}

static void build_nested_unknown(gh_emit_t *e, const void *arg)
{
	(void)arg;
	gh__emit_map_begin(e, GH_EMIT_UNKNOWN);
	gh__emit_key(e, "a");
	gh__emit_array_begin(e, GH_EMIT_UNKNOWN);
	gh__emit_map_begin(e, GH_EMIT_UNKNOWN);
	gh__emit_map_end(e);
	gh__emit_array_begin(e, 2);
	gh__emit_array_begin(e, GH_EMIT_UNKNOWN);
	gh__emit_cstr(e, "x");
	gh__emit_array_end(e);
	gh__emit_mb(e, 5243);
	gh__emit_array_end(e);
	gh__emit_array_end(e);
	gh__emit_key(e, "b");
	gh__emit_null(e);
	gh__emit_map_end(e);
}

TEST(nested_unknown_counts)
{
	expect_json(build_nested_unknown, NULL, "{\"a\":[{},[[\"x\"],0.01]],\"b\":null}");
	EXPECT_TRUE(both_agree(build_nested_unknown, NULL));
}

/* ---- Misuse ------------------------------------------------------------------ */

/* Runs the emitter calls that ops spells: "{N" / "[N" a map / array of N
 * (a digit, '?': GH_EMIT_UNKNOWN), '}' / ']' their ends, 'k' a key (a, b,
 * c... in turn), 'K' a NULL key, 'i' an integer, 'D' one array more than
 * GH_EMIT_MAX_DEPTH; spaces are for the reader. */
static void run_ops(gh_emit_t *e, const char *ops)
{
	char key[2] = "a";
	for (const char *p = ops; *p; p++) {
		switch (*p) {
		case '{':
		case '[': {
			size_t n = p[1] == '?' ? GH_EMIT_UNKNOWN : (size_t)(p[1] - '0');
			if (*p == '{')
				gh__emit_map_begin(e, n);
			else
				gh__emit_array_begin(e, n);
			p++;
			break;
		}
		case '}': gh__emit_map_end(e); break;
		case ']': gh__emit_array_end(e); break;
		case 'k': gh__emit_key(e, key); key[0]++; break;
		case 'K': gh__emit_key(e, NULL); break;
		case 'i': gh__emit_int(e, 1); break;
		case 'D':
			for (int i = 0; i <= GH_EMIT_MAX_DEPTH; i++)
				gh__emit_array_begin(e, 1);
			break;
		}
	}
}

/* The calls of ops fail in both formats with error want, and leave no document. */
static void expect_error(const char *ops, enum gh_emit_error want, const char *what)
{
	for (int f = 0; f < 2; f++) {
		gh_emit_t *e = gh__emit_new(f ? GH_EMIT_MSGPACK : GH_EMIT_JSON);
		size_t len = 99;
		run_ops(e, ops);
		if (gh__emit_data(e, &len) != NULL || len != 0 || !gh__emit_failed(e) ||
		    gh__emit_error(e) != want)
			GH_TEST_FAIL_("%s (%s): error %d (%s), want %d", what, f ? "msgpack" : "json",
				      gh__emit_error(e), gh__emit_strerror(gh__emit_error(e)), want);
		gh__emit_free(e);
	}
}

TEST(misuse_is_reported)
{
	static const struct {
		const char *ops;
		enum gh_emit_error want;
		const char *what;
	} cases[] = {
		{"[1 k i ]", GH_EMIT_ESTATE, "key in array"},
		{"{1 i i }", GH_EMIT_ESTATE, "value where key expected"},
		{"{1 k k i }", GH_EMIT_ESTATE, "two keys"},
		{"{? k }", GH_EMIT_ESTATE, "key without value"},
		{"[1 i i ]", GH_EMIT_ECOUNT, "too many elements"},
		{"{2 k i }", GH_EMIT_ECOUNT, "too few pairs"},
		{"{1 k i k i }", GH_EMIT_ECOUNT, "too many pairs"},
		{"{0 ]", GH_EMIT_ESTATE, "map ended as array"},
		{"}", GH_EMIT_ESTATE, "end without begin"},
		{"i i", GH_EMIT_ESTATE, "two roots"},
		{"D", GH_EMIT_EDEPTH, "too deep"},
		{"[1 i", GH_EMIT_EINCOMPLETE, "incomplete"},
		{"", GH_EMIT_EINCOMPLETE, "empty"},
		{"k", GH_EMIT_ESTATE, "key at root"},
		{"{1 K i }", GH_EMIT_ESTATE, "NULL key"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].ops, cases[i].want, cases[i].what);
}

TEST(max_depth_is_allowed)
{
	gh_emit_t *e = gh__emit_new(GH_EMIT_JSON);
	size_t len;
	for (int i = 0; i < GH_EMIT_MAX_DEPTH; i++)
		gh__emit_array_begin(e, i == GH_EMIT_MAX_DEPTH - 1 ? 0 : 1);
	for (int i = 0; i < GH_EMIT_MAX_DEPTH; i++)
		gh__emit_array_end(e);
	EXPECT_TRUE(gh__emit_data(e, &len) != NULL);
	EXPECT_EQ(len, 2 * GH_EMIT_MAX_DEPTH);
	gh__emit_free(e);
}

static void build_deepest(gh_emit_t *e, const void *arg)
{
	(void)arg;
	for (int i = 0; i < GH_EMIT_MAX_DEPTH; i++) {
		gh__emit_map_begin(e, 1);
		gh__emit_key(e, "k");
	}
	gh__emit_int(e, 7);
	for (int i = 0; i < GH_EMIT_MAX_DEPTH; i++)
		gh__emit_map_end(e);
}

/* The deepest document the emitter allows is one msgpack-c can still decode. */
TEST(deepest_document_decodes)
{
	EXPECT_TRUE(both_agree(build_deepest, NULL));
}

TEST(errors_are_sticky_and_reset_clears)
{
	gh_emit_t *e = gh__emit_new(GH_EMIT_JSON);
	size_t len;
	gh__emit_array_begin(e, 1);
	gh__emit_key(e, "bad");
	gh__emit_int(e, 1);
	gh__emit_array_end(e);
	EXPECT_EQ(gh__emit_error(e), GH_EMIT_ESTATE);
	EXPECT_TRUE(gh__emit_data(e, &len) == NULL);
	gh__emit_reset(e);
	EXPECT_FALSE(gh__emit_failed(e));
	gh__emit_map_begin(e, 1);
	gh__emit_key(e, "detail");
	gh__emit_cstr(e, "Internal Server Error");
	gh__emit_map_end(e);
	const char *p = gh__emit_data(e, &len);
	EXPECT_STREQ(p, "{\"detail\":\"Internal Server Error\"}");
	EXPECT_EQ(len, strlen("{\"detail\":\"Internal Server Error\"}"));
	gh__emit_free(e);
	gh__emit_free(NULL);
}

TEST(content_type_and_format)
{
	gh_emit_t *j = gh__emit_new(GH_EMIT_JSON), *m = gh__emit_new(GH_EMIT_MSGPACK);
	EXPECT_STREQ(gh__emit_content_type(j), "application/json");
	EXPECT_STREQ(gh__emit_content_type(m), "application/msgpack");
	EXPECT_EQ(gh__emit_format(j), GH_EMIT_JSON);
	EXPECT_EQ(gh__emit_format(m), GH_EMIT_MSGPACK);
	gh__emit_free(j);
	gh__emit_free(m);
}

TEST(long_string_grows_buffer)
{
	size_t n = 1 << 20;
	char *s = malloc(n);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 7 == 0 ? '"' : 'a' + i % 26);
	unsigned char *want = malloc(n);
	size_t wn = gh_ref_utf8_sanitize((const unsigned char *)s, n, want);
	EXPECT_TRUE(string_roundtrips(s, n, want, wn));
	free(s);
	free(want);
}

/* ---- Key/value shorthands -------------------------------------------------------- */

/* One document, written with gh__emit_key + a value call (arg NULL) or with
 * the gh__emit_kv_* shorthands (arg non-NULL): the bytes must not differ. */
static void build_fields(gh_emit_t *e, const void *arg)
{
	bool kv = arg != NULL;
	gh__emit_map_begin(e, 8);
	if (kv) {
		gh__emit_kv_int(e, "int", -42);
		gh__emit_kv_uint(e, "uint", UINT64_MAX);
		gh__emit_kv_str(e, "str", "a\0b", 3);
		gh__emit_kv_cstr(e, "cstr", NULL);
		gh__emit_kv_dbl(e, "dbl", 0.1);
		gh__emit_kv_mb(e, "mb", 12345678);
		gh__emit_kv_mb_signed(e, "mb_signed", -12345678);
		gh__emit_kv_bool(e, "bool", true);
	} else {
		gh__emit_key(e, "int");
		gh__emit_int(e, -42);
		gh__emit_key(e, "uint");
		gh__emit_uint(e, UINT64_MAX);
		gh__emit_key(e, "str");
		gh__emit_str(e, "a\0b", 3);
		gh__emit_key(e, "cstr");
		gh__emit_cstr(e, NULL);
		gh__emit_key(e, "dbl");
		gh__emit_dbl(e, 0.1);
		gh__emit_key(e, "mb");
		gh__emit_mb(e, 12345678);
		gh__emit_key(e, "mb_signed");
		gh__emit_mb_signed(e, -12345678);
		gh__emit_key(e, "bool");
		gh__emit_bool(e, true);
	}
	gh__emit_map_end(e);
}

TEST(kv_shorthands_write_the_same_bytes)
{
	for (int f = 0; f < 2; f++) {
		enum gh_emit_format fmt = f ? GH_EMIT_MSGPACK : GH_EMIT_JSON;
		struct doc a = build(fmt, build_fields, NULL), b = build(fmt, build_fields, "kv");
		ASSERT_TRUE(a.bytes != NULL && b.bytes != NULL);
		EXPECT_EQ(a.len, b.len);
		EXPECT_TRUE(a.len == b.len && memcmp(a.bytes, b.bytes, a.len) == 0);
		free(a.bytes);
		free(b.bytes);
	}
	struct doc j = build(GH_EMIT_JSON, build_fields, "kv");
	EXPECT_STREQ(j.bytes, "{\"int\":-42,\"uint\":18446744073709551615,\"str\":\"a\\u0000b\",\"cstr\":null,"
			      "\"dbl\":0.1,\"mb\":11.77,\"mb_signed\":-11.77,\"bool\":true}");
	free(j.bytes);
}

/* A shorthand where a value is expected is the same misuse as a key there. */
static void kv_in_array(gh_emit_t *e, const void *arg)
{
	(void)arg;
	gh__emit_array_begin(e, 1);
	gh__emit_kv_int(e, "k", 1);
	gh__emit_array_end(e);
}

TEST(kv_shorthand_outside_a_map_fails)
{
	struct doc d = build(GH_EMIT_JSON, kv_in_array, NULL);
	EXPECT_TRUE(d.bytes == NULL);
	free(d.bytes);
}

int main(void)
{
	return RUN_TESTS();
}
