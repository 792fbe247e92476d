/*
 * query.h -- query-string decoding and FastAPI-style parameter validation for
 * the debug server's endpoints.
 *
 *   gh_query_t q;                                    (about 11 KiB: fine on a stack)
 *   if (gh__query_parse(&q, qs, qs_len) != 0)  -> 400, detail = gh__query_strerror(rc)
 *   int64_t top_n;  size_t sort;
 *   gh__query_int(&q, "top_n", 1, 100, 20, &top_n);
 *   gh__query_enum(&q, "sort_by", SORT_CHOICES, 2, 0, &sort);
 *   if (gh__query_failed(&q))                  -> 422, body = gh__query_emit_errors(&q, e)
 *
 * Validators record one error per bad parameter, in call order (call them in
 * the order the endpoint declares its parameters, as FastAPI reports them),
 * and the 422 body is FastAPI's byte for byte (pydantic v2 error types and
 * messages; see gh__query_emit_errors). Unknown parameters are ignored.
 *
 * Nothing here allocates except through the emitter; a gh_query_t belongs to
 * one thread. Decoded keys and values live inside the gh_query_t.
 */
#ifndef GH_HTTP_QUERY_H
#define GH_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits ------------------------------------------------------------------ */

#define GH_QUERY_MAX_LEN 8192   /* bytes of query string, after an optional leading '?' */
#define GH_QUERY_MAX_PARAMS 32  /* non-empty '&'-separated fields, duplicates included */
#define GH_QUERY_MAX_ERRORS 16  /* recorded validation errors; later ones are dropped */
/* Snapshot names follow alloc/trace.h's rule (GH_TRACE_NAME_MAX,
 * GH_TRACE_NAME_PATTERN): gh__query_name and gh__query_check_name. */

/* ---- Types ------------------------------------------------------------------ */

/* gh__query_parse results (0 is success). */
enum gh_query_status {
	GH_QUERY_OK = 0,
	GH_QUERY_ETOOLONG, /* longer than GH_QUERY_MAX_LEN */
	GH_QUERY_ETOOMANY, /* more than GH_QUERY_MAX_PARAMS fields */
	GH_QUERY_EESCAPE,  /* '%' not followed by two hex digits */
	GH_QUERY_ENUL,     /* a NUL byte, raw or as %00 */
};

/* Validation error kinds; gh__query_kind_name gives pydantic's type string. */
enum gh_query_kind {
	GH_QK_MISSING = 1,  /* "missing": Field required */
	GH_QK_INT_PARSING,  /* "int_parsing" */
	GH_QK_GE,           /* "greater_than_equal" */
	GH_QK_LE,           /* "less_than_equal" */
	GH_QK_ENUM,         /* "enum" */
	GH_QK_TOO_SHORT,    /* "string_too_short" */
	GH_QK_TOO_LONG,     /* "string_too_long" */
	GH_QK_PATTERN,      /* "string_pattern_mismatch" */
};

/* One decoded field. key and val are NUL-terminated inside the gh_query_t and
 * hold no NUL; "flag" without '=' has an empty value, as in Starlette. */
struct gh_query_param {
	const char *key, *val;
	size_t key_len, val_len;
};

struct gh_query_error {
	enum gh_query_kind kind;
	const char *loc;          /* "query" (or "path" for gh__query_path_name) */
	const char *param;        /* the caller's name string: must outlive the gh_query_t */
	const char *input;        /* the offending value; NULL for GH_QK_MISSING */
	size_t input_len;
	int64_t limit;            /* GE, LE: the bound; TOO_SHORT, TOO_LONG: the length */
	const char *const *choices; /* ENUM: the caller's array, must outlive the gh_query_t */
	size_t nchoices;
	const char *pattern;      /* PATTERN */
};

typedef struct gh_query {
	size_t nparams;
	struct gh_query_param params[GH_QUERY_MAX_PARAMS];
	size_t nerrors;
	bool errors_dropped; /* more than GH_QUERY_MAX_ERRORS */
	struct gh_query_error errors[GH_QUERY_MAX_ERRORS];
	/* decoded bytes: never longer than the input, plus two NULs per field */
	char buf[GH_QUERY_MAX_LEN + 2 * GH_QUERY_MAX_PARAMS];
} gh_query_t;

/* ---- Decoding ---------------------------------------------------------------- */

/* Decodes qs[0..len) (one leading '?' is skipped; qs may be NULL when len is 0)
 * into q, which it initializes, also on failure (then with no fields):
 * '&' separates fields (empty ones are skipped), the first '=' separates key
 * from value, "%XX" (either case) is a byte and '+' a space, in keys and values.
 * Stricter than Starlette, which keeps malformed escapes and NULs as they are:
 * those are errors here. Returns 0 or an enum gh_query_status. */
int gh__query_parse(gh_query_t *q, const char *qs, size_t len);

/* A static English sentence for a gh__query_parse result. */
const char *gh__query_strerror(int status);

/* The value of the LAST field named key (duplicates: last wins, as Starlette),
 * NUL-terminated, with its length in *val_len if not NULL; NULL if absent. */
const char *gh__query_get(const gh_query_t *q, const char *key, size_t *val_len);

/* ---- Validators -------------------------------------------------------------- */
/*
 * Each returns true and stores the value when the parameter is valid (or
 * absent with a default), else records one error in q and returns false
 * leaving *out unchanged. param must outlive q (string literals do).
 */

/* An integer in [min, max], def when absent. Strict, documented deviation from
 * pydantic's lax str->int: an optional '+' or '-' then ASCII digits only (no
 * spaces, underscores or "5.0"). Any number of digits is a number, as for
 * pydantic (Python's int is unbounded): one beyond int64 is above max
 * (less_than_equal) or, negative, below min (greater_than_equal), never a
 * parse error. Checks: int_parsing, then greater_than_equal, then
 * less_than_equal. */
bool gh__query_int(gh_query_t *q, const char *param, int64_t min, int64_t max, int64_t def,
		   int64_t *out);

/* One of choices[0..n) (exact, case-sensitive), stored as its index; def is the
 * index used when absent, or -1 when the parameter is required. */
bool gh__query_enum(gh_query_t *q, const char *param, const char *const *choices, size_t n,
		    int def, size_t *out);

/* A required string of min_len..max_len characters (code points; ill-formed
 * UTF-8 counts one per replaced subpart, as Starlette decodes it). Checks
 * missing, string_too_short, string_too_long. *out is NUL-terminated. */
bool gh__query_str(gh_query_t *q, const char *param, size_t min_len, size_t max_len,
		   const char **out, size_t *out_len);

/* A required snapshot name: 1..GH_TRACE_NAME_MAX characters of [A-Za-z0-9_.-].
 * Checks missing, string_too_short, string_too_long, string_pattern_mismatch. */
bool gh__query_name(gh_query_t *q, const char *param, const char **out, size_t *out_len);

/* The same rules for a name taken from the path (DELETE .../snapshot/{name}),
 * recorded with loc ["path", param]; s must outlive q. */
bool gh__query_path_name(gh_query_t *q, const char *param, const char *s, size_t len);

/* The snapshot-name rules alone: 0 when s is a valid name, else the kind of
 * the first violation (GH_QK_TOO_SHORT, GH_QK_TOO_LONG or GH_QK_PATTERN). */
enum gh_query_kind gh__query_check_name(const char *s, size_t len);

/* ---- Errors ---------------------------------------------------------------------- */

/* True when a validator recorded an error. */
bool gh__query_failed(const gh_query_t *q);

/* pydantic's type string for a kind ("missing", "int_parsing", ...). */
const char *gh__query_kind_name(enum gh_query_kind kind);

/* pydantic's message for an error into buf (always NUL-terminated, truncated
 * to cap - 1); returns the length it needed, as snprintf does. */
size_t gh__query_error_msg(const struct gh_query_error *err, char *buf, size_t cap);

/* Emits the whole 422 document through e, as FastAPI does:
 *   {"detail":[{"type":"int_parsing","loc":["query","top_n"],
 *     "msg":"Input should be a valid integer, unable to parse string as an integer",
 *     "input":"x"}, {"type":"greater_than_equal", ..., "input":"0","ctx":{"ge":1}}]}
 * "type", "loc" and "msg" are api.md's; "input" (the value received, null when
 * missing) and "ctx" (the bound: ge, le, min_length, max_length, expected,
 * pattern; absent for missing and int_parsing) are FastAPI's additions. The
 * caller checks gh__emit_failed / gh__emit_data as usual. */
void gh__query_emit_errors(const gh_query_t *q, gh_emit_t *e);

#ifdef __cplusplus
}
#endif

#endif /* GH_HTTP_QUERY_H */
