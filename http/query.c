/*
 * query.c -- the query string of a request, decoded and validated the way the
 * FastAPI service we imitate does it (api.md, "bad parameter").
 *
 * gh__query_parse splits "a=1&b=x+y%21" into fields, percent-decoding keys and
 * values into the gh_query_t's own buffer (h2o 2.2.5 has no helper for this).
 * It is strict where Starlette is lenient (malformed escapes, NUL bytes) and
 * bounded in length and field count, because the bytes come from anyone who
 * can reach the port.
 *
 * The validators (gh__query_int, _enum, _str, _name) read one parameter each
 * and record pydantic v2's error for it; gh__query_emit_errors writes the 422
 * document. Main entry points: gh__query_parse, the validators,
 * gh__query_emit_errors.
 */
#include "query.h"

#include "../alloc/trace.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

/* ---- Decoding ---------------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes s[0..n) at q->buf + *o and NUL-terminates it; returns 0 or a status. */
static int decode(gh_query_t *q, const char *s, size_t n, size_t *o)
{
	char *out = q->buf + *o;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
			if (lo < 0)
				return GH_QUERY_EESCAPE;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0')
			return GH_QUERY_ENUL;
		out[k++] = (char)c;
	}
	out[k] = '\0';
	*o += k + 1;
	return GH_QUERY_OK;
}

int gh__query_parse(gh_query_t *q, const char *qs, size_t len)
{
	q->nparams = 0;
	q->nerrors = 0;
	q->errors_dropped = false;
	if (len && qs[0] == '?') {
		qs++;
		len--;
	}
	if (len > GH_QUERY_MAX_LEN)
		return GH_QUERY_ETOOLONG;

	size_t o = 0, i = 0, n = 0;
	int rc = GH_QUERY_OK;
	while (i < len) {
		size_t end = i, eq;
		while (end < len && qs[end] != '&')
			end++;
		if (end == i) {
			i = end + 1;
			continue;
		}
		if (n == GH_QUERY_MAX_PARAMS) {
			rc = GH_QUERY_ETOOMANY;
			break;
		}
		for (eq = i; eq < end && qs[eq] != '='; eq++)
			;
		struct gh_query_param *p = &q->params[n];
		size_t start = o;
		if ((rc = decode(q, qs + i, eq - i, &o)) != GH_QUERY_OK)
			break;
		p->key = q->buf + start;
		p->key_len = o - start - 1;
		start = o;
		if ((rc = decode(q, qs + eq + (eq < end), end - eq - (eq < end), &o)) != GH_QUERY_OK)
			break;
		p->val = q->buf + start;
		p->val_len = o - start - 1;
		n++;
		i = end + 1;
	}
	q->nparams = rc == GH_QUERY_OK ? n : 0;
	return rc;
}

const char *gh__query_strerror(int status)
{
	switch (status) {
	case GH_QUERY_OK: return "ok";
	case GH_QUERY_ETOOLONG: return "query string too long";
	case GH_QUERY_ETOOMANY: return "too many query parameters";
	case GH_QUERY_EESCAPE: return "malformed percent-escape in query string";
	case GH_QUERY_ENUL: return "NUL byte in query string";
	}
	return "malformed query string";
}

const char *gh__query_get(const gh_query_t *q, const char *key, size_t *val_len)
{
	size_t klen = strlen(key);
	for (size_t i = q->nparams; i-- > 0;) {
		const struct gh_query_param *p = &q->params[i];
		if (p->key_len == klen && memcmp(p->key, key, klen) == 0) {
			if (val_len)
				*val_len = p->val_len;
			return p->val;
		}
	}
	return NULL;
}

/* ---- Validators -------------------------------------------------------------- */

static struct gh_query_error *add_error(gh_query_t *q, enum gh_query_kind kind, const char *loc,
					const char *param, const char *input, size_t input_len)
{
	if (q->nerrors == GH_QUERY_MAX_ERRORS) {
		q->errors_dropped = true;
		return NULL;
	}
	struct gh_query_error *err = &q->errors[q->nerrors++];
	*err = (struct gh_query_error){
		.kind = kind, .loc = loc, .param = param, .input = input, .input_len = input_len};
	return err;
}

static bool error_with_limit(gh_query_t *q, enum gh_query_kind kind, const char *loc,
			     const char *param, const char *input, size_t input_len, int64_t limit)
{
	struct gh_query_error *err = add_error(q, kind, loc, param, input, input_len);
	if (err) {
		err->limit = limit;
		if (kind == GH_QK_PATTERN)
			err->pattern = GH_TRACE_NAME_PATTERN;
	}
	return false;
}

/* [+-]?[0-9]+ -> the value, or with *clamped set INT64_MAX or INT64_MIN when
 * it does not fit (Python's int would hold it: it is a number, beyond any
 * bound); false when s is not such a number. */
static bool parse_i64(const char *s, size_t n, int64_t *out, bool *clamped)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return false;
	uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	*clamped = false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (*clamped || mag > (limit - d) / 10) {
			*clamped = true; /* keep reading: "99999999999999999999x" is still no number */
			continue;
		}
		mag = mag * 10 + d;
	}
	if (*clamped)
		mag = limit;
	*out = neg ? (mag ? -(int64_t)(mag - 1) - 1 : 0) : (int64_t)mag;
	return true;
}

bool gh__query_int(gh_query_t *q, const char *param, int64_t min, int64_t max, int64_t def,
		   int64_t *out)
{
	size_t len;
	const char *s = gh__query_get(q, param, &len);
	int64_t v;
	bool clamped;
	if (!s) {
		*out = def;
		return true;
	}
	if (!parse_i64(s, len, &v, &clamped))
		return error_with_limit(q, GH_QK_INT_PARSING, "query", param, s, len, 0);
	if (v < min || (clamped && v < 0))
		return error_with_limit(q, GH_QK_GE, "query", param, s, len, min);
	if (v > max || clamped)
		return error_with_limit(q, GH_QK_LE, "query", param, s, len, max);
	*out = v;
	return true;
}

bool gh__query_enum(gh_query_t *q, const char *param, const char *const *choices, size_t n,
		    int def, size_t *out)
{
	size_t len;
	const char *s = gh__query_get(q, param, &len);
	if (!s) {
		if (def < 0 || (size_t)def >= n) {
			add_error(q, GH_QK_MISSING, "query", param, NULL, 0);
			return false;
		}
		*out = (size_t)def;
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if (strlen(choices[i]) == len && memcmp(choices[i], s, len) == 0) {
			*out = i;
			return true;
		}
	}
	struct gh_query_error *err = add_error(q, GH_QK_ENUM, "query", param, s, len);
	if (err) {
		err->choices = choices;
		err->nchoices = n;
	}
	return false;
}

bool gh__query_str(gh_query_t *q, const char *param, size_t min_len, size_t max_len,
		   const char **out, size_t *out_len)
{
	size_t len;
	const char *s = gh__query_get(q, param, &len);
	if (!s) {
		add_error(q, GH_QK_MISSING, "query", param, NULL, 0);
		return false;
	}
	size_t chars = gh__utf8_count(s, len);
	if (chars < min_len)
		return error_with_limit(q, GH_QK_TOO_SHORT, "query", param, s, len, (int64_t)min_len);
	if (chars > max_len)
		return error_with_limit(q, GH_QK_TOO_LONG, "query", param, s, len, (int64_t)max_len);
	*out = s;
	if (out_len)
		*out_len = len;
	return true;
}

enum gh_query_kind gh__query_check_name(const char *s, size_t len)
{
	if (len == 0)
		return GH_QK_TOO_SHORT;
	if (len > GH_TRACE_NAME_MAX && gh__utf8_count(s, len) > GH_TRACE_NAME_MAX)
		return GH_QK_TOO_LONG;
	for (size_t i = 0; i < len; i++)
		if (!gh__trace_name_char(s[i]))
			return GH_QK_PATTERN;
	return 0;
}

/* The name rules for a value already found (s != NULL). */
static bool check_name_value(gh_query_t *q, const char *loc, const char *param, const char *s,
			     size_t len)
{
	enum gh_query_kind kind = gh__query_check_name(s, len);
	if (kind == 0)
		return true;
	int64_t limit = kind == GH_QK_TOO_SHORT ? 1 : GH_TRACE_NAME_MAX;
	return error_with_limit(q, kind, loc, param, s, len, limit);
}

bool gh__query_name(gh_query_t *q, const char *param, const char **out, size_t *out_len)
{
	size_t len;
	const char *s = gh__query_get(q, param, &len);
	if (!s) {
		add_error(q, GH_QK_MISSING, "query", param, NULL, 0);
		return false;
	}
	if (!check_name_value(q, "query", param, s, len))
		return false;
	*out = s;
	if (out_len)
		*out_len = len;
	return true;
}

bool gh__query_path_name(gh_query_t *q, const char *param, const char *s, size_t len)
{
	return check_name_value(q, "path", param, s ? s : "", s ? len : 0);
}

/* ---- Errors ---------------------------------------------------------------------- */

bool gh__query_failed(const gh_query_t *q)
{
	return q->nerrors > 0 || q->errors_dropped;
}

const char *gh__query_kind_name(enum gh_query_kind kind)
{
	switch (kind) {
	case GH_QK_MISSING: return "missing";
	case GH_QK_INT_PARSING: return "int_parsing";
	case GH_QK_GE: return "greater_than_equal";
	case GH_QK_LE: return "less_than_equal";
	case GH_QK_ENUM: return "enum";
	case GH_QK_TOO_SHORT: return "string_too_short";
	case GH_QK_TOO_LONG: return "string_too_long";
	case GH_QK_PATTERN: return "string_pattern_mismatch";
	}
	return "value_error";
}

/* A bounded string builder that still counts what it could not store. */
struct text {
	char *buf;
	size_t cap, len;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len < t->cap) {
		size_t room = t->cap - t->len - 1, k = n < room ? n : room;
		memcpy(t->buf + t->len, s, k);
		t->buf[t->len + k] = '\0';
	}
	t->len += n;
}

static void text_puts(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* pydantic's "expected" for an enum: 'a', 'b' or 'c'. */
static void text_expected(struct text *t, const struct gh_query_error *err)
{
	for (size_t i = 0; i < err->nchoices; i++) {
		if (i > 0)
			text_puts(t, i + 1 == err->nchoices ? " or " : ", ");
		text_puts(t, "'");
		text_puts(t, err->choices[i]);
		text_puts(t, "'");
	}
}

size_t gh__query_error_msg(const struct gh_query_error *err, char *buf, size_t cap)
{
	struct text t = {buf, cap, 0};
	char num[64];
	const char *plural = err->limit == 1 ? "" : "s";

	if (cap)
		buf[0] = '\0';
	switch (err->kind) {
	case GH_QK_MISSING:
		text_puts(&t, "Field required");
		break;
	case GH_QK_INT_PARSING:
		text_puts(&t, "Input should be a valid integer, unable to parse string as an integer");
		break;
	case GH_QK_GE:
		snprintf(num, sizeof num, "%lld", (long long)err->limit);
		text_puts(&t, "Input should be greater than or equal to ");
		text_puts(&t, num);
		break;
	case GH_QK_LE:
		snprintf(num, sizeof num, "%lld", (long long)err->limit);
		text_puts(&t, "Input should be less than or equal to ");
		text_puts(&t, num);
		break;
	case GH_QK_ENUM:
		text_puts(&t, "Input should be ");
		text_expected(&t, err);
		break;
	case GH_QK_TOO_SHORT:
	case GH_QK_TOO_LONG:
		snprintf(num, sizeof num, "%lld character%s", (long long)err->limit, plural);
		text_puts(&t, err->kind == GH_QK_TOO_SHORT ? "String should have at least "
							   : "String should have at most ");
		text_puts(&t, num);
		break;
	case GH_QK_PATTERN:
		text_puts(&t, "String should match pattern '");
		text_puts(&t, err->pattern ? err->pattern : "");
		text_puts(&t, "'");
		break;
	}
	return t.len;
}

/* "ctx" of an error, or nothing for the kinds FastAPI gives none. */
static void emit_ctx(gh_emit_t *e, const struct gh_query_error *err)
{
	char buf[1024];
	struct text t = {buf, sizeof buf, 0};

	switch (err->kind) {
	case GH_QK_GE:
	case GH_QK_LE:
	case GH_QK_TOO_SHORT:
	case GH_QK_TOO_LONG:
		gh__emit_key(e, "ctx");
		gh__emit_map_begin(e, 1);
		gh__emit_key(e, err->kind == GH_QK_GE	? "ge"
				: err->kind == GH_QK_LE ? "le"
				: err->kind == GH_QK_TOO_SHORT ? "min_length"
							       : "max_length");
		gh__emit_int(e, err->limit);
		gh__emit_map_end(e);
		break;
	case GH_QK_ENUM:
		text_expected(&t, err);
		gh__emit_key(e, "ctx");
		gh__emit_map_begin(e, 1);
		gh__emit_key(e, "expected");
		gh__emit_str(e, buf, t.len < sizeof buf ? t.len : sizeof buf - 1);
		gh__emit_map_end(e);
		break;
	case GH_QK_PATTERN:
		gh__emit_key(e, "ctx");
		gh__emit_map_begin(e, 1);
		gh__emit_key(e, "pattern");
		gh__emit_cstr(e, err->pattern ? err->pattern : "");
		gh__emit_map_end(e);
		break;
	case GH_QK_MISSING:
	case GH_QK_INT_PARSING:
		break;
	}
}

void gh__query_emit_errors(const gh_query_t *q, gh_emit_t *e)
{
	char msg[1024];

	gh__emit_map_begin(e, 1);
	gh__emit_key(e, "detail");
	gh__emit_array_begin(e, q->nerrors);
	for (size_t i = 0; i < q->nerrors; i++) {
		const struct gh_query_error *err = &q->errors[i];
		bool has_ctx = err->kind != GH_QK_MISSING && err->kind != GH_QK_INT_PARSING;
		size_t n = gh__query_error_msg(err, msg, sizeof msg);

		gh__emit_map_begin(e, has_ctx ? 5 : 4);
		gh__emit_key(e, "type");
		gh__emit_cstr(e, gh__query_kind_name(err->kind));
		gh__emit_key(e, "loc");
		gh__emit_array_begin(e, 2);
		gh__emit_cstr(e, err->loc);
		gh__emit_cstr(e, err->param);
		gh__emit_array_end(e);
		gh__emit_key(e, "msg");
		gh__emit_str(e, msg, n < sizeof msg ? n : sizeof msg - 1);
		gh__emit_key(e, "input");
		if (err->kind == GH_QK_MISSING)
			gh__emit_null(e);
		else
			gh__emit_str(e, err->input, err->input_len);
		emit_ctx(e, err);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
	gh__emit_map_end(e);
}
