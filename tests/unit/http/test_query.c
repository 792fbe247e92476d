/*
 * test_query.c -- query-string decoding and parameter validation
 * (http/query.c): percent and '+' decoding, malformed input, bounds,
 * duplicates, every validator's every error with pydantic v2's type and
 * message, and the 422 document (JSON bytes as FastAPI writes them; msgpack
 * decoded and checked against them).
 */
#include "query.h"
#include "test.h"

#include <jansson.h>
#include <msgpack.h>

#include "msgpack_same.h"

static int parse(gh_query_t *q, const char *s)
{
	return gh__query_parse(q, s, strlen(s));
}

static const char *get(const gh_query_t *q, const char *key)
{
	return gh__query_get(q, key, NULL);
}

/* ---- Decoding ----------------------------------------------------------------- */

/* A query string, how many parameters it has, and key, value pairs that get()
 * must give (a NULL value: the key is absent), up to a NULL key. */
struct decode_case {
	const char *query;
	int nparams;
	const char *kv[12];
};

static const struct decode_case decode_cases[] = {
	{"top_n=10&sort_by=size", 2, {"top_n", "10", "sort_by", "size", "absent", NULL, "top", NULL}},
	{"?a=1", 1, {"a", "1"}},
	{"??a=1", 1, {"?a", "1", "a", NULL}}, /* only one '?' is skipped */
	{"k%20ey=v%2Fal%41&low=%2f%7e&plus=a+b++c&lit=%2B5&%3D=%26", 5,
	 {"k ey", "v/alA", "low", "/~", "plus", "a b  c", "lit", "+5", "=", "&"}},
	{"name=%C3%A9t%C3%A9&bin=%FF%FE", 2, {"name", "\xc3\xa9t\xc3\xa9"}},
	/* empty values, missing '=', empty fields */
	{"&&a=&flag&=v&&b=x=y&", 4, {"a", "", "flag", "", "", "v", "b", "x=y"}},
	{"top_n=5&a=1&top_n=7", 3, {"top_n", "7", "a", "1"}}, /* the last of duplicates wins */
};

TEST(decoding_table)
{
	static gh_query_t q;
	for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
		const struct decode_case *c = &decode_cases[i];
		EXPECT_EQ(parse(&q, c->query), GH_QUERY_OK);
		EXPECT_EQ(q.nparams, c->nparams);
		for (size_t j = 0; c->kv[j]; j += 2) {
			const char *v = get(&q, c->kv[j]);
			if (c->kv[j + 1])
				EXPECT_STREQ(v, c->kv[j + 1]);
			else
				EXPECT_TRUE(v == NULL);
		}
	}
}

TEST(basic_fields)
{
	static gh_query_t q;
	ASSERT_EQ(parse(&q, "top_n=10&sort_by=size"), GH_QUERY_OK);
	EXPECT_EQ(q.params[0].key_len, 5);
	EXPECT_EQ(q.params[0].val_len, 2);
}

TEST(leading_question_mark_and_empty)
{
	static gh_query_t q;
	EXPECT_EQ(parse(&q, ""), GH_QUERY_OK);
	EXPECT_EQ(q.nparams, 0);
	EXPECT_EQ(parse(&q, "?"), GH_QUERY_OK);
	EXPECT_EQ(q.nparams, 0);
	EXPECT_EQ(gh__query_parse(&q, NULL, 0), GH_QUERY_OK);
	EXPECT_EQ(q.nparams, 0);
}

TEST(percent_and_plus)
{
	static gh_query_t q;
	size_t len;
	ASSERT_EQ(parse(&q, "name=%C3%A9t%C3%A9&bin=%FF%FE"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_get(&q, "bin", &len) != NULL);
	EXPECT_EQ(len, 2); /* bytes are bytes: the emitter sanitizes on output */
}

TEST(malformed_escapes)
{
	static gh_query_t q;
	static const char *const bad[] = {"a=%",   "a=%2",  "a=%zz", "a=%2g",  "%=1",
					  "a=1%",  "a=%%41", "a=% 1", "%G0=1", "x=1&a=%4"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EXPECT_EQ(parse(&q, bad[i]), GH_QUERY_EESCAPE);
		EXPECT_EQ(q.nparams, 0);
	}
	EXPECT_STREQ(gh__query_strerror(GH_QUERY_EESCAPE), "malformed percent-escape in query string");
}

TEST(nul_bytes)
{
	static gh_query_t q;
	EXPECT_EQ(parse(&q, "a=%00"), GH_QUERY_ENUL);
	EXPECT_EQ(parse(&q, "%00=1"), GH_QUERY_ENUL);
	EXPECT_EQ(gh__query_parse(&q, "a=1\0b", 5), GH_QUERY_ENUL);
	EXPECT_EQ(q.nparams, 0);
	EXPECT_EQ(gh__query_parse(&q, "a=1\0b", 3), GH_QUERY_OK); /* the length bounds the input */
	EXPECT_STREQ(get(&q, "a"), "1");
}

TEST(empty_values_missing_equals_empty_fields)
{
	static gh_query_t q;
	size_t len = 99;
	ASSERT_EQ(parse(&q, "&&a=&flag&=v&&b=x=y&"), GH_QUERY_OK);
	EXPECT_STREQ(gh__query_get(&q, "a", &len), "");
	EXPECT_EQ(len, 0);
}

TEST(duplicates_last_wins)
{
	static gh_query_t q;
	int64_t v = 0;
	ASSERT_EQ(parse(&q, "top_n=5&a=1&top_n=7"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	EXPECT_EQ(v, 7);
	ASSERT_EQ(parse(&q, "top_n=x&top_n=8"), GH_QUERY_OK); /* only the last is validated */
	EXPECT_TRUE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	EXPECT_EQ(v, 8);
	EXPECT_FALSE(gh__query_failed(&q));
}

TEST(too_many_params)
{
	static gh_query_t q;
	char s[1024];
	size_t n = 0;
	for (int i = 0; i < GH_QUERY_MAX_PARAMS; i++)
		n += (size_t)sprintf(s + n, "%sp%d=%d", i ? "&" : "", i, i);
	ASSERT_EQ(gh__query_parse(&q, s, n), GH_QUERY_OK);
	EXPECT_EQ(q.nparams, GH_QUERY_MAX_PARAMS);
	EXPECT_STREQ(get(&q, "p31"), "31");
	n += (size_t)sprintf(s + n, "&&&"); /* empty fields do not count */
	EXPECT_EQ(gh__query_parse(&q, s, n), GH_QUERY_OK);
	n += (size_t)sprintf(s + n, "x");
	EXPECT_EQ(gh__query_parse(&q, s, n), GH_QUERY_ETOOMANY);
	EXPECT_EQ(q.nparams, 0);
}

TEST(too_long)
{
	static gh_query_t q;
	static char s[GH_QUERY_MAX_LEN + 2];
	s[0] = '?';
	memcpy(s + 1, "a=", 2);
	memset(s + 3, 'x', sizeof s - 3);
	EXPECT_EQ(gh__query_parse(&q, s, GH_QUERY_MAX_LEN + 1), GH_QUERY_OK); /* '?' + 8192 */
	size_t len = 0;
	EXPECT_TRUE(gh__query_get(&q, "a", &len) != NULL);
	EXPECT_EQ(len, GH_QUERY_MAX_LEN - 2);
	EXPECT_EQ(gh__query_parse(&q, s + 1, GH_QUERY_MAX_LEN + 1), GH_QUERY_ETOOLONG);
	EXPECT_EQ(gh__query_parse(&q, s, GH_QUERY_MAX_LEN + 2), GH_QUERY_ETOOLONG);
	EXPECT_EQ(q.nparams, 0);
}

/* The worst case for the decode buffer: many fields without '=' at the limit. */
TEST(buffer_worst_case)
{
	static gh_query_t q;
	static char s[GH_QUERY_MAX_LEN];
	memset(s, 'k', sizeof s);
	for (int i = 0; i < GH_QUERY_MAX_PARAMS - 1; i++)
		s[(i + 1) * 2 - 1] = '&'; /* k&k&...&kkkkk */
	ASSERT_EQ(gh__query_parse(&q, s, sizeof s), GH_QUERY_OK);
	EXPECT_EQ(q.nparams, GH_QUERY_MAX_PARAMS);
	EXPECT_EQ(q.params[GH_QUERY_MAX_PARAMS - 1].key_len, GH_QUERY_MAX_LEN - 62);
}

TEST(strerror_all)
{
	for (int s = GH_QUERY_OK; s <= GH_QUERY_ENUL + 1; s++)
		EXPECT_TRUE(gh__query_strerror(s)[0] != '\0');
}

/* ---- Validators ------------------------------------------------------------------- */

/* The single recorded error's kind, message and input. */
static void expect_one_error(const gh_query_t *q, enum gh_query_kind kind, const char *param,
			     const char *msg, const char *input)
{
	char buf[256];
	if (q->nerrors != 1) {
		GH_TEST_FAIL_("%zu errors, want 1 (%s)", q->nerrors, msg);
		return;
	}
	const struct gh_query_error *err = &q->errors[0];
	gh__query_error_msg(err, buf, sizeof buf);
	if (err->kind != kind || strcmp(err->param, param) != 0 || strcmp(buf, msg) != 0)
		GH_TEST_FAIL_("got %s \"%s\" for %s, want %s \"%s\"", gh__query_kind_name(err->kind), buf,
			      err->param, gh__query_kind_name(kind), msg);
	if (input == NULL ? err->input != NULL
			  : (!err->input || err->input_len != strlen(input) ||
			     memcmp(err->input, input, err->input_len) != 0))
		GH_TEST_FAIL_("input of %s: want %s", msg, input ? input : "NULL");
	EXPECT_TRUE(gh__query_failed(q));
}

#define INT_PARSING "Input should be a valid integer, unable to parse string as an integer"

TEST(int_validator)
{
	static gh_query_t q;
	int64_t v;

	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	v = 0;
	EXPECT_TRUE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	EXPECT_EQ(v, 20);
	static const struct {
		const char *qs;
		int64_t want;
	} ok[] = {{"top_n=1", 1}, {"top_n=100", 100}, {"top_n=007", 7}, {"top_n=%2B5", 5},
		  {"top_n=-0", 0}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ASSERT_EQ(parse(&q, ok[i].qs), GH_QUERY_OK);
		EXPECT_TRUE(gh__query_int(&q, "top_n", 0, 100, 20, &v));
		EXPECT_EQ(v, ok[i].want);
		EXPECT_FALSE(gh__query_failed(&q));
	}

	ASSERT_EQ(parse(&q, "top_n=0"), GH_QUERY_OK);
	v = 55;
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	EXPECT_EQ(v, 55);
	expect_one_error(&q, GH_QK_GE, "top_n", "Input should be greater than or equal to 1", "0");
	EXPECT_EQ(q.errors[0].limit, 1);

	ASSERT_EQ(parse(&q, "top_n=101"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	expect_one_error(&q, GH_QK_LE, "top_n", "Input should be less than or equal to 100", "101");

	ASSERT_EQ(parse(&q, "top_n=-3"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	expect_one_error(&q, GH_QK_GE, "top_n", "Input should be greater than or equal to 1", "-3");

	/* strict integer syntax: documented deviations from pydantic */
	static const char *const bad[] = {"abc", "", "1.0", "5.", " 5", "5 ", "1_000", "--1", "+",
					  "-", "0x10", "1e2", "99999999999999999999x", "%C2%B3"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char qs[64], dec[64];
		gh_query_t *qq = &q;
		snprintf(qs, sizeof qs, "top_n=%s", bad[i]);
		ASSERT_EQ(parse(qq, qs), GH_QUERY_OK);
		EXPECT_FALSE(gh__query_int(qq, "top_n", 1, 100, 20, &v));
		snprintf(dec, sizeof dec, "%s", get(qq, "top_n"));
		expect_one_error(qq, GH_QK_INT_PARSING, "top_n", INT_PARSING, dec);
	}

	ASSERT_EQ(parse(&q, "a=9223372036854775807&b=-9223372036854775808"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_int(&q, "a", INT64_MIN, INT64_MAX, 0, &v));
	EXPECT_EQ(v, INT64_MAX);
	EXPECT_TRUE(gh__query_int(&q, "b", INT64_MIN, INT64_MAX, 0, &v));
	EXPECT_TRUE(v == INT64_MIN);

	/* any run of digits is a number, as Python's int: beyond int64 it is out
	 * of range (pydantic's bound error), not unparsable */
	static const char *const big[] = {"99999999999999999999", "9223372036854775808", "000000000000000000000000000012",
					  "123456789012345678901234567890"};
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		char qs[64];
		snprintf(qs, sizeof qs, "top_n=%s", big[i]);
		ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
		bool ok = gh__query_int(&q, "top_n", 1, 100, 20, &v);
		if (i == 2) { /* leading zeros: 12 */
			EXPECT_TRUE(ok && v == 12);
			continue;
		}
		EXPECT_FALSE(ok);
		expect_one_error(&q, GH_QK_LE, "top_n", "Input should be less than or equal to 100", big[i]);
	}
	ASSERT_EQ(parse(&q, "top_n=-99999999999999999999"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	expect_one_error(&q, GH_QK_GE, "top_n", "Input should be greater than or equal to 1", "-99999999999999999999");
	/* also where the bound is int64's own */
	ASSERT_EQ(parse(&q, "a=9223372036854775808&b=-9223372036854775809"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "a", INT64_MIN, INT64_MAX, 0, &v));
	EXPECT_FALSE(gh__query_int(&q, "b", INT64_MIN, INT64_MAX, 0, &v));
	ASSERT_EQ(q.nerrors, 2);
	EXPECT_EQ(q.errors[0].kind, GH_QK_LE);
	EXPECT_TRUE(q.errors[0].limit == INT64_MAX);
	EXPECT_EQ(q.errors[1].kind, GH_QK_GE);
	EXPECT_TRUE(q.errors[1].limit == INT64_MIN);
}

static const char *const SORT[] = {"size", "count"};
static const char *const ABC[] = {"a", "b", "c"};
static const char *const ONE[] = {"only"};

TEST(enum_validator)
{
	static gh_query_t q;
	size_t v = 9;

	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_enum(&q, "sort_by", SORT, 2, 0, &v));
	EXPECT_EQ(v, 0);
	ASSERT_EQ(parse(&q, "sort_by=count"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_enum(&q, "sort_by", SORT, 2, 0, &v));
	EXPECT_EQ(v, 1);

	static const char *const bad[] = {"Size", "", "sizes", "siz"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char qs[64];
		snprintf(qs, sizeof qs, "sort_by=%s", bad[i]);
		ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
		v = 9;
		EXPECT_FALSE(gh__query_enum(&q, "sort_by", SORT, 2, 0, &v));
		EXPECT_EQ(v, 9);
		expect_one_error(&q, GH_QK_ENUM, "sort_by", "Input should be 'size' or 'count'", bad[i]);
	}
	ASSERT_EQ(parse(&q, "g=x"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_enum(&q, "g", ABC, 3, 0, &v));
	expect_one_error(&q, GH_QK_ENUM, "g", "Input should be 'a', 'b' or 'c'", "x");
	ASSERT_EQ(parse(&q, "g=x"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_enum(&q, "g", ONE, 1, 0, &v));
	expect_one_error(&q, GH_QK_ENUM, "g", "Input should be 'only'", "x");
	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_enum(&q, "g", ABC, 3, -1, &v));
	expect_one_error(&q, GH_QK_MISSING, "g", "Field required", NULL);
}

TEST(str_validator)
{
	static gh_query_t q;
	const char *s = NULL;
	size_t len = 0;

	ASSERT_EQ(parse(&q, "type_name=dict"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_str(&q, "type_name", 0, 256, &s, &len));
	EXPECT_STREQ(s, "dict");
	EXPECT_EQ(len, 4);

	ASSERT_EQ(parse(&q, "type_name="), GH_QUERY_OK); /* "" is a str, as in FastAPI */
	EXPECT_TRUE(gh__query_str(&q, "type_name", 0, 256, &s, &len));
	EXPECT_EQ(len, 0);

	ASSERT_EQ(parse(&q, "other=1"), GH_QUERY_OK);
	s = NULL;
	EXPECT_FALSE(gh__query_str(&q, "type_name", 0, 256, &s, &len));
	EXPECT_TRUE(s == NULL);
	expect_one_error(&q, GH_QK_MISSING, "type_name", "Field required", NULL);

	ASSERT_EQ(parse(&q, "t=abcdef"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_str(&q, "t", 0, 5, &s, &len));
	expect_one_error(&q, GH_QK_TOO_LONG, "t", "String should have at most 5 characters", "abcdef");
	EXPECT_EQ(q.errors[0].limit, 5);
	ASSERT_EQ(parse(&q, "t=ab"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_str(&q, "t", 0, 1, &s, &len));
	expect_one_error(&q, GH_QK_TOO_LONG, "t", "String should have at most 1 character", "ab");
	ASSERT_EQ(parse(&q, "t=a"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_str(&q, "t", 2, 10, &s, &len));
	expect_one_error(&q, GH_QK_TOO_SHORT, "t", "String should have at least 2 characters", "a");
	ASSERT_EQ(parse(&q, "t="), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_str(&q, "t", 1, 10, &s, &len));
	expect_one_error(&q, GH_QK_TOO_SHORT, "t", "String should have at least 1 character", "");

	/* lengths are in characters: 5 x U+00E9 is 10 bytes but 5 characters */
	ASSERT_EQ(parse(&q, "t=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_str(&q, "t", 0, 5, &s, &len));
	EXPECT_EQ(len, 10);
	/* an ill-formed subpart counts as the one U+FFFD Starlette would decode */
	ASSERT_EQ(parse(&q, "t=%E1%80A%FF"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_str(&q, "t", 3, 3, &s, &len));
}

#define PATTERN_MSG "String should match pattern '^[A-Za-z0-9_.-]+$'"

TEST(name_validator)
{
	static gh_query_t q;
	const char *s = NULL;
	size_t len = 0;
	char qs[256], name[128];

	static const char *const good[] = {"before_test", "a", "A.b-c_9", "..", "-"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(qs, sizeof qs, "name=%s", good[i]);
		ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
		EXPECT_TRUE(gh__query_name(&q, "name", &s, &len));
		EXPECT_STREQ(s, good[i]);
		EXPECT_EQ(gh__query_check_name(good[i], strlen(good[i])), 0);
	}
	memset(name, 'x', 64);
	name[64] = '\0';
	snprintf(qs, sizeof qs, "name=%s", name);
	ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_name(&q, "name", &s, &len));
	EXPECT_EQ(len, 64);

	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_name(&q, "name", &s, &len));
	expect_one_error(&q, GH_QK_MISSING, "name", "Field required", NULL);

	ASSERT_EQ(parse(&q, "name="), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_name(&q, "name", &s, &len));
	expect_one_error(&q, GH_QK_TOO_SHORT, "name", "String should have at least 1 character", "");

	name[64] = 'x';
	name[65] = '\0';
	snprintf(qs, sizeof qs, "name=%s", name);
	ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_name(&q, "name", &s, &len));
	expect_one_error(&q, GH_QK_TOO_LONG, "name", "String should have at most 64 characters", name);

	/* too long wins over the pattern, as in pydantic */
	ASSERT_EQ(parse(&q, "name=+++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"),
		  GH_QUERY_OK);
	EXPECT_FALSE(gh__query_name(&q, "name", &s, &len));
	EXPECT_EQ(q.errors[0].kind, GH_QK_TOO_LONG);

	static const char *const bad[] = {"a b", "a/b", "caf\xc3\xa9", "x\x01", "a%", "x*"};
	static const char *const enc[] = {"a+b", "a%2Fb", "caf%C3%A9", "x%01", "a%25", "x*"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(qs, sizeof qs, "name=%s", enc[i]);
		ASSERT_EQ(parse(&q, qs), GH_QUERY_OK);
		EXPECT_FALSE(gh__query_name(&q, "name", &s, &len));
		expect_one_error(&q, GH_QK_PATTERN, "name", PATTERN_MSG, bad[i]);
		EXPECT_STREQ(q.errors[0].pattern, "^[A-Za-z0-9_.-]+$");
	}
	/* 64 characters of two bytes each: not too long, but not the pattern */
	ASSERT_EQ(gh__query_check_name("\xc3\xa9\xc3\xa9", 4), GH_QK_PATTERN);
	ASSERT_EQ(gh__query_check_name("", 0), GH_QK_TOO_SHORT);
}

TEST(path_name_validator)
{
	static gh_query_t q;
	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_path_name(&q, "name", "snap1", 5));
	EXPECT_FALSE(gh__query_failed(&q));
	EXPECT_FALSE(gh__query_path_name(&q, "name", "a/b", 3));
	expect_one_error(&q, GH_QK_PATTERN, "name", PATTERN_MSG, "a/b");
	EXPECT_STREQ(q.errors[0].loc, "path");
	EXPECT_FALSE(gh__query_path_name(&q, "name", NULL, 0));
	EXPECT_EQ(q.nerrors, 2);
	EXPECT_EQ(q.errors[1].kind, GH_QK_TOO_SHORT);
}

TEST(unknown_params_ignored)
{
	static gh_query_t q;
	int64_t v;
	ASSERT_EQ(parse(&q, "zzz=%FF&top_n=3&format=msgpack"), GH_QUERY_OK);
	EXPECT_TRUE(gh__query_int(&q, "top_n", 1, 100, 20, &v));
	EXPECT_FALSE(gh__query_failed(&q));
}

TEST(error_cap)
{
	static gh_query_t q;
	int64_t v;
	ASSERT_EQ(parse(&q, "a=x"), GH_QUERY_OK);
	for (int i = 0; i < GH_QUERY_MAX_ERRORS + 3; i++)
		EXPECT_FALSE(gh__query_int(&q, "a", 1, 2, 1, &v));
	EXPECT_EQ(q.nerrors, GH_QUERY_MAX_ERRORS);
	EXPECT_TRUE(q.errors_dropped);
	EXPECT_TRUE(gh__query_failed(&q));
}

TEST(kind_names)
{
	EXPECT_STREQ(gh__query_kind_name(GH_QK_MISSING), "missing");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_INT_PARSING), "int_parsing");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_GE), "greater_than_equal");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_LE), "less_than_equal");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_ENUM), "enum");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_TOO_SHORT), "string_too_short");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_TOO_LONG), "string_too_long");
	EXPECT_STREQ(gh__query_kind_name(GH_QK_PATTERN), "string_pattern_mismatch");
}

TEST(error_msg_truncates)
{
	struct gh_query_error err = {.kind = GH_QK_ENUM, .choices = SORT, .nchoices = 2};
	char buf[10];
	size_t need = gh__query_error_msg(&err, buf, sizeof buf);
	EXPECT_EQ(need, strlen("Input should be 'size' or 'count'"));
	EXPECT_STREQ(buf, "Input sho");
}

/* ---- The 422 document -------------------------------------------------------------- */

static char *emit_errors(const gh_query_t *q, enum gh_emit_format fmt, size_t *len)
{
	gh_emit_t *e = gh__emit_new(fmt);
	gh__query_emit_errors(q, e);
	const char *p = gh__emit_data(e, len);
	char *copy = NULL;
	if (p) {
		copy = malloc(*len + 1);
		memcpy(copy, p, *len);
		copy[*len] = '\0';
	}
	gh__emit_free(e);
	return copy;
}


static void expect_422(const gh_query_t *q, const char *want_json)
{
	size_t jlen = 0, mlen = 0;
	char *js = emit_errors(q, GH_EMIT_JSON, &jlen), *mp = emit_errors(q, GH_EMIT_MSGPACK, &mlen);
	EXPECT_STREQ(js, want_json);
	json_error_t jerr;
	json_t *j = js ? json_loadb(js, jlen, 0, &jerr) : NULL;
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	EXPECT_TRUE(j != NULL);
	EXPECT_TRUE(mp && msgpack_unpack_next(&u, mp, mlen, &off) == MSGPACK_UNPACK_SUCCESS);
	EXPECT_EQ(off, mlen);
	EXPECT_TRUE(j && gh_test_same_document(&u.data, j));
	msgpack_unpacked_destroy(&u);
	json_decref(j);
	free(js);
	free(mp);
}

/* An integer beyond int64 (pydantic 2: le error, the value as received). */
TEST(doc_422_overflow)
{
	static gh_query_t q;
	int64_t top_n;
	ASSERT_EQ(parse(&q, "top_n=99999999999999999999"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &top_n));
	expect_422(&q, "{\"detail\":[{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"top_n\"],"
		       "\"msg\":\"Input should be less than or equal to 100\",\"input\":\"99999999999999999999\","
		       "\"ctx\":{\"le\":100}}]}");
	ASSERT_EQ(parse(&q, "top_n=-99999999999999999999"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &top_n));
	expect_422(&q, "{\"detail\":[{\"type\":\"greater_than_equal\",\"loc\":[\"query\",\"top_n\"],"
		       "\"msg\":\"Input should be greater than or equal to 1\",\"input\":\"-99999999999999999999\","
		       "\"ctx\":{\"ge\":1}}]}");
}

/* Two bad parameters at once, in declaration order, as FastAPI answers
 * GET /debug/memory?top_n=0&sort_by=name (bytes checked against pydantic 2). */
TEST(doc_422_two_params)
{
	static gh_query_t q;
	int64_t top_n;
	size_t sort;
	ASSERT_EQ(parse(&q, "top_n=0&sort_by=name"), GH_QUERY_OK);
	EXPECT_FALSE(gh__query_int(&q, "top_n", 1, 100, 20, &top_n));
	EXPECT_FALSE(gh__query_enum(&q, "sort_by", SORT, 2, 0, &sort));
	expect_422(&q,
		   "{\"detail\":["
		   "{\"type\":\"greater_than_equal\",\"loc\":[\"query\",\"top_n\"],"
		   "\"msg\":\"Input should be greater than or equal to 1\",\"input\":\"0\","
		   "\"ctx\":{\"ge\":1}},"
		   "{\"type\":\"enum\",\"loc\":[\"query\",\"sort_by\"],"
		   "\"msg\":\"Input should be 'size' or 'count'\",\"input\":\"name\","
		   "\"ctx\":{\"expected\":\"'size' or 'count'\"}}]}");
}

TEST(doc_422_every_kind)
{
	static gh_query_t q;
	int64_t v;
	size_t k;
	const char *s;
	ASSERT_EQ(parse(&q, "a=x&b=101&s=ab&n=a+b&m=&l=%FFxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
		  GH_QUERY_OK);
	EXPECT_FALSE(gh__query_str(&q, "type_name", 0, 256, &s, NULL));
	EXPECT_FALSE(gh__query_int(&q, "a", 1, 100, 20, &v));
	EXPECT_FALSE(gh__query_int(&q, "b", 1, 100, 20, &v));
	EXPECT_FALSE(gh__query_enum(&q, "s", ABC, 3, 0, &k));
	EXPECT_FALSE(gh__query_name(&q, "n", &s, NULL));
	EXPECT_FALSE(gh__query_name(&q, "m", &s, NULL));
	EXPECT_FALSE(gh__query_name(&q, "l", &s, NULL));
	EXPECT_EQ(q.nerrors, 7);
	expect_422(&q,
		   "{\"detail\":["
		   "{\"type\":\"missing\",\"loc\":[\"query\",\"type_name\"],\"msg\":\"Field required\",\"input\":null},"
		   "{\"type\":\"int_parsing\",\"loc\":[\"query\",\"a\"],\"msg\":\"" INT_PARSING "\",\"input\":\"x\"},"
		   "{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"b\"],"
		   "\"msg\":\"Input should be less than or equal to 100\",\"input\":\"101\",\"ctx\":{\"le\":100}},"
		   "{\"type\":\"enum\",\"loc\":[\"query\",\"s\"],\"msg\":\"Input should be 'a', 'b' or 'c'\","
		   "\"input\":\"ab\",\"ctx\":{\"expected\":\"'a', 'b' or 'c'\"}},"
		   "{\"type\":\"string_pattern_mismatch\",\"loc\":[\"query\",\"n\"],\"msg\":\"" PATTERN_MSG "\","
		   "\"input\":\"a b\",\"ctx\":{\"pattern\":\"^[A-Za-z0-9_.-]+$\"}},"
		   "{\"type\":\"string_too_short\",\"loc\":[\"query\",\"m\"],"
		   "\"msg\":\"String should have at least 1 character\",\"input\":\"\",\"ctx\":{\"min_length\":1}},"
		   "{\"type\":\"string_too_long\",\"loc\":[\"query\",\"l\"],"
		   "\"msg\":\"String should have at most 64 characters\","
		   "\"input\":\"\xef\xbf\xbdxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
		   "\"ctx\":{\"max_length\":64}}]}");
}

TEST(doc_422_empty_when_no_errors)
{
	static gh_query_t q;
	ASSERT_EQ(parse(&q, ""), GH_QUERY_OK);
	expect_422(&q, "{\"detail\":[]}");
}

int main(void)
{
	return RUN_TESTS();
}
