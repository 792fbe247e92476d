/*
 * fuzz_query.c -- libFuzzer driver for http/query.c.
 *
 * The input is a query string. It is decoded; the decoded fields are checked
 * (NUL-terminated, no NUL inside, inside the gh_query_t); every validator the
 * endpoints use runs on it, and what a validator accepts is checked against
 * its contract (range, choices, name rules, an independent integer parser).
 * The 422 document is then emitted as JSON and as msgpack: the JSON must
 * parse with jansson and the msgpack decode with msgpack-c into the same
 * document. The input also serves as a path name ({name}). Any run of
 * digits is a number (an overflow is out of range, not unparsable). Accept
 * negotiation is the router's: fuzz_router drives it.
 */
#include "query.h"
#include "fuzz_check.h"
#include "utf8.h"

#include "../../alloc/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "msgpack_same.h"

static const char *const SORT[] = {"size", "count"};
static const char *const GROUP[] = {"lineno", "filename"};
static const char *const THREE[] = {"a", "b", "c"};

/* Independent check of gh__query_int's accepted syntax: [+-]?[0-9]+ in int64. */
static int ref_int(const char *s, int64_t *out)
{
	const char *p = s + (*s == '+' || *s == '-');
	if (!*p)
		return 0;
	for (const char *c = p; *c; c++)
		if (*c < '0' || *c > '9')
			return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end)
		return 0;
	*out = v;
	return 1;
}

/* [+-]?[0-9]+, of any length */
static int is_number(const char *s)
{
	s += *s == '+' || *s == '-';
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int name_ok(const char *s, size_t len)
{
	if (len < 1 || len > GH_TRACE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", s[i]) ||
		    !s[i])
			return 0;
	return 1;
}

static void check_422(const gh_query_t *q)
{
	gh_emit_t *ej = gh__emit_new(GH_EMIT_JSON), *em = gh__emit_new(GH_EMIT_MSGPACK);
	CHECK(ej && em);
	gh__query_emit_errors(q, ej);
	gh__query_emit_errors(q, em);
	size_t jlen, mlen;
	const char *js = gh__emit_data(ej, &jlen), *mp = gh__emit_data(em, &mlen);
	CHECK(js && mp);

	json_error_t err;
	json_t *j = json_loadb(js, jlen, JSON_ALLOW_NUL, &err); /* path names may hold NUL */
	if (!j)
		fprintf(stderr, "jansson: %s at %d\n", err.text, err.position);
	CHECK(j);
	json_t *detail = json_object_get(j, "detail");
	CHECK(json_is_array(detail) && json_array_size(detail) == q->nerrors);
	for (size_t i = 0; i < q->nerrors; i++) {
		json_t *d = json_array_get(detail, i);
		CHECK(json_is_string(json_object_get(d, "type")));
		CHECK(json_is_string(json_object_get(d, "msg")));
		CHECK(json_array_size(json_object_get(d, "loc")) == 2);
	}

	CHECK(gh_test_msgpack_is(mp, mlen, j));
	json_decref(j);
	gh__emit_free(ej);
	gh__emit_free(em);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gh_query_t q;
	const char *in = (const char *)data;

	/* the same bytes as a query string and as a path segment */
	int rc = gh__query_parse(&q, in, size);
	CHECK(gh__query_strerror(rc) != NULL);
	if (rc != GH_QUERY_OK) {
		CHECK(q.nparams == 0);
		CHECK(rc == GH_QUERY_ETOOLONG || rc == GH_QUERY_ETOOMANY || rc == GH_QUERY_EESCAPE ||
		      rc == GH_QUERY_ENUL);
		if (gh__query_path_name(&q, "name", in, size))
			CHECK(name_ok(in, size));
		check_422(&q);
		return 0;
	}
	CHECK(size <= GH_QUERY_MAX_LEN + 1 && q.nparams <= GH_QUERY_MAX_PARAMS);
	for (size_t i = 0; i < q.nparams; i++) {
		const struct gh_query_param *p = &q.params[i];
		CHECK(p->key >= q.buf && p->key + p->key_len < q.buf + sizeof q.buf);
		CHECK(p->val >= q.buf && p->val + p->val_len < q.buf + sizeof q.buf);
		CHECK(strlen(p->key) == p->key_len && strlen(p->val) == p->val_len);
		CHECK(p->key_len + p->val_len <= size);
	}
	/* every validator, in an endpoint-like order */
	int64_t v, ref;
	size_t k, len;
	const char *s;
	const char *raw;
	if (gh__query_int(&q, "top_n", 1, 100, 20, &v)) {
		CHECK(v >= 1 && v <= 100);
		if ((raw = gh__query_get(&q, "top_n", NULL)))
			CHECK(ref_int(raw, &ref) && ref == v);
	} else {
		raw = gh__query_get(&q, "top_n", NULL);
		CHECK(raw && (!ref_int(raw, &ref) || ref < 1 || ref > 100));
		/* any run of digits is a number, however long: out of range, never unparsable */
		enum gh_query_kind kind = q.errors[q.nerrors - 1].kind;
		CHECK(is_number(raw) ? kind == GH_QK_GE || kind == GH_QK_LE : kind == GH_QK_INT_PARSING);
	}
	if (gh__query_int(&q, "any", INT64_MIN, INT64_MAX, 0, &v)) {
		if ((raw = gh__query_get(&q, "any", NULL)))
			CHECK(ref_int(raw, &ref) && ref == v);
	}
	if (gh__query_enum(&q, "sort_by", SORT, 2, 0, &k))
		CHECK(k < 2);
	if (gh__query_enum(&q, "group_by", GROUP, 2, 0, &k))
		CHECK(k < 2);
	if (gh__query_enum(&q, "g", THREE, 3, -1, &k))
		CHECK(k < 3 && strcmp(gh__query_get(&q, "g", NULL), THREE[k]) == 0);
	if (gh__query_str(&q, "type_name", 0, 256, &s, &len))
		CHECK(strlen(s) == len && gh__utf8_count(s, len) <= 256);
	if (gh__query_int(&q, "max_referrers", 1, 20, 5, &v))
		CHECK(v >= 1 && v <= 20);
	if (gh__query_int(&q, "frames", 1, 100, 25, &v))
		CHECK(v >= 1 && v <= 100);
	if (gh__query_int(&q, "samples", 0, 100, 10, &v))
		CHECK(v >= 0 && v <= 100);
	if (gh__query_name(&q, "name", &s, &len))
		CHECK(name_ok(s, len));
	if (gh__query_name(&q, "snapshot1", &s, &len))
		CHECK(name_ok(s, len));
	if (gh__query_name(&q, "snapshot2", &s, &len))
		CHECK(name_ok(s, len));
	if (gh__query_str(&q, "t", 2, 3, &s, &len))
		CHECK(gh__utf8_count(s, len) >= 2 && gh__utf8_count(s, len) <= 3);
	if (gh__query_path_name(&q, "name", in, size))
		CHECK(name_ok(in, size));
	CHECK(q.nerrors <= GH_QUERY_MAX_ERRORS);
	CHECK(gh__query_failed(&q) == (q.nerrors > 0));

	for (size_t i = 0; i < q.nerrors; i++) {
		char msg[64];
		size_t need = gh__query_error_msg(&q.errors[i], msg, sizeof msg);
		CHECK(strlen(msg) == (need < sizeof msg ? need : sizeof msg - 1));
	}
	check_422(&q);
	return 0;
}
