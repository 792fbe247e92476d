/*
 * emit.h -- the one document emitter of the debug server, with a JSON and a
 * msgpack backend.
 *
 * An endpoint describes its response once, as a stream of calls:
 *
 *   gh_emit_t *e = gh__emit_new(GH_EMIT_JSON);    (the router picks the format)
 *   gh__emit_map_begin(e, 3);
 *     gh__emit_kv_cstr(e, "type", "dict");         one call per field
 *     gh__emit_kv_mb(e, "total_size_mb", bytes);
 *     gh__emit_key(e, "samples");                  a key, then a container
 *     gh__emit_array_begin(e, 0); gh__emit_array_end(e);
 *   gh__emit_map_end(e);
 *   body = gh__emit_data(e, &len);      (NULL when anything went wrong)
 *
 * and both backends produce the same document with the same types (api.md,
 * "format"): integers stay integers, gh__emit_mb() is always a float, strings
 * are always valid UTF-8 (ill-formed bytes become U+FFFD in both encodings).
 *
 * Errors are sticky: the first misuse or allocation failure sets an error,
 * every later call is a no-op, and gh__emit_data() answers NULL. Callers may
 * therefore emit a whole document and check once at the end.
 *
 * Thread safety: an emitter belongs to one thread at a time; distinct
 * emitters are independent. Every function may allocate (plain malloc), none
 * is async-signal-safe. Nothing here is exported from libglassheap.
 */
#ifndef GH_HTTP_EMIT_H
#define GH_HTTP_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Types ------------------------------------------------------------------ */

typedef struct gh_emit gh_emit_t;

enum gh_emit_format {
	GH_EMIT_JSON,    /* application/json, compact (no whitespace) */
	GH_EMIT_MSGPACK, /* application/msgpack, str (not bin) for strings, float64 for floats */
};

/* A container size for gh__emit_map_begin/array_begin when the number of
 * elements is not known up front. JSON does not care; msgpack writes a 32-bit
 * header (map32/array32) and patches the count at the matching _end call. */
#define GH_EMIT_UNKNOWN SIZE_MAX

/* Deepest nesting of containers; one more begin is GH_EMIT_EDEPTH. 32 is what
 * msgpack-c's C unpacker decodes (MSGPACK_EMBED_STACK_SIZE): deeper documents
 * would be unreadable to C clients. Real responses nest 4 levels at most. */
#define GH_EMIT_MAX_DEPTH 32

enum gh_emit_error {
	GH_EMIT_OK = 0,
	GH_EMIT_ENOMEM,      /* an allocation failed */
	GH_EMIT_ESTATE,      /* a key where a value is expected (or the reverse), an end
	                        without its begin or of the other kind, a second root value */
	GH_EMIT_ECOUNT,      /* a container got more or fewer elements than announced */
	GH_EMIT_EDEPTH,      /* more than GH_EMIT_MAX_DEPTH nested containers */
	GH_EMIT_EINCOMPLETE, /* gh__emit_data() before the root value was complete */
};

/* ---- Lifetime --------------------------------------------------------------- */

/* A new, empty emitter for one document. NULL (errno ENOMEM) when out of memory. */
gh_emit_t *gh__emit_new(enum gh_emit_format format);

/* Frees the emitter and its buffer (and so the bytes gh__emit_data returned). NULL is a no-op. */
void gh__emit_free(gh_emit_t *e);

/* Empties the emitter for a new document in the same format and clears the
 * error: e.g. to answer a 500 after a half-written document. Keeps its buffer. */
void gh__emit_reset(gh_emit_t *e);

/* The emitter's format, and its HTTP Content-Type ("application/json" or
 * "application/msgpack"; a static string). */
enum gh_emit_format gh__emit_format(const gh_emit_t *e);
const char *gh__emit_content_type(const gh_emit_t *e);

/* ---- Containers --------------------------------------------------------------- */

/* n is the number of key/value pairs (maps) or of elements (arrays), checked at
 * the matching _end call, or GH_EMIT_UNKNOWN (at most UINT32_MAX elements). */
void gh__emit_map_begin(gh_emit_t *e, size_t n);
void gh__emit_map_end(gh_emit_t *e);
void gh__emit_array_begin(gh_emit_t *e, size_t n);
void gh__emit_array_end(gh_emit_t *e);

/* A map key: only where a key is expected. Keys are escaped/sanitized as strings. */
void gh__emit_key(gh_emit_t *e, const char *key);
void gh__emit_keyn(gh_emit_t *e, const char *key, size_t len);

/* ---- Values ----------------------------------------------------------------- */

/* Any bytes (NUL included): valid UTF-8 passes through, each ill-formed
 * sequence (maximal subpart, as Python's errors="replace") becomes U+FFFD.
 * JSON escapes '"', '\\' and the C0 controls (\b \f \n \r \t, else \u00xx). */
void gh__emit_str(gh_emit_t *e, const char *s, size_t len);
/* A NUL-terminated string; NULL emits null. */
void gh__emit_cstr(gh_emit_t *e, const char *s);
void gh__emit_int(gh_emit_t *e, int64_t v);
void gh__emit_uint(gh_emit_t *e, uint64_t v);
/* A float: JSON prints the shortest text that reads back as v, always with a
 * '.' or an exponent (Python's repr: 0.0, 11.77, 1e+16). NaN and infinities
 * have no JSON form: both encodings emit null instead. */
void gh__emit_dbl(gh_emit_t *e, double v);
/* bytes as MiB rounded to 2 decimals, as Python's round(bytes / 1024 / 1024, 2)
 * (half-to-even on the exact value), emitted as a float: 0.0, 11.77. */
void gh__emit_mb(gh_emit_t *e, uint64_t bytes);
/* The same for a signed byte count (differences): negative values round like
 * Python's round(), symmetrically. */
void gh__emit_mb_signed(gh_emit_t *e, int64_t bytes);
void gh__emit_bool(gh_emit_t *e, bool b);
void gh__emit_null(gh_emit_t *e);

/* ---- Result --------------------------------------------------------------------- */

/* The encoded document, owned by the emitter (valid until the next call that
 * changes it, reset or free). NULL and *len = 0 when an error occurred or the
 * root value is not complete (which then sets GH_EMIT_EINCOMPLETE). The JSON
 * bytes are followed by a NUL that *len does not count. */
const char *gh__emit_data(gh_emit_t *e, size_t *len);

/* True once any error occurred; gh__emit_error says which (the first one). */
bool gh__emit_failed(const gh_emit_t *e);
enum gh_emit_error gh__emit_error(const gh_emit_t *e);
const char *gh__emit_strerror(enum gh_emit_error err);

/* ---- Key/value shorthands ------------------------------------------------------- */
/*
 * A map entry in one call: gh__emit_key(e, key) then the value call of the
 * same suffix (jemalloc's emitter_json_kv). Only where a key is expected.
 */
void gh__emit_kv_int(gh_emit_t *e, const char *key, int64_t v);
void gh__emit_kv_uint(gh_emit_t *e, const char *key, uint64_t v);
void gh__emit_kv_str(gh_emit_t *e, const char *key, const char *s, size_t len);
void gh__emit_kv_cstr(gh_emit_t *e, const char *key, const char *s);
void gh__emit_kv_dbl(gh_emit_t *e, const char *key, double v);
void gh__emit_kv_mb(gh_emit_t *e, const char *key, uint64_t bytes);
void gh__emit_kv_mb_signed(gh_emit_t *e, const char *key, int64_t bytes);
void gh__emit_kv_bool(gh_emit_t *e, const char *key, bool b);

#ifdef __cplusplus
}
#endif

#endif /* GH_HTTP_EMIT_H */
