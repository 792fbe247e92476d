/*
 * emit.c -- the response emitter: one call sequence, two encodings.
 *
 * Endpoints describe a document with gh__emit_map_begin/key/int/.../map_end
 * (emit.h); the emitter writes it either as compact JSON into a growing buffer
 * or as msgpack through msgpack-c's packer into an sbuffer. A small stack of
 * open containers checks the call sequence (keys only in maps, announced
 * counts kept) and carries what each backend needs:
 *
 *   stack[depth-1]  { is_map, want_value, count, limit, patch_at }
 *      JSON:    count > 0 decides whether a ',' goes before the next element
 *      msgpack: a container of GH_EMIT_UNKNOWN size was written as
 *               map32/array32 with a zero count at patch_at; its _end
 *               writes the real count there (big-endian, 4 bytes)
 *
 * Both backends share the text rules, so that the two documents are equal:
 * strings go through one UTF-8 sanitizer (utf8.h: ill-formed maximal
 * subparts -> U+FFFD), floats are doubles in both, and the JSON text of a
 * float reads back as the same double.
 *
 * Which format a request gets is the router's decision (router.c), not the
 * emitter's. Main entry points: gh__emit_new, the container and value calls,
 * the key/value shorthands (gh__emit_kv_*), gh__emit_data.
 */
#include "emit.h"

#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

struct frame {
	uint32_t count;  /* elements (arrays) or complete pairs (maps) so far */
	uint32_t limit;  /* announced count; UINT32_MAX when unknown */
	bool is_map;
	bool want_value; /* maps: a key was written, its value must come next */
	bool unknown;    /* announced as GH_EMIT_UNKNOWN */
	size_t patch_at; /* msgpack, unknown: offset of the 4 count bytes */
};

struct gh_emit {
	enum gh_emit_format format;
	enum gh_emit_error err;
	bool root_started;
	int depth;
	struct frame stack[GH_EMIT_MAX_DEPTH];
	/* JSON backend: buf[0..len) is the text so far; cap > len leaves room for a NUL. */
	char *buf;
	size_t len, cap;
	/* msgpack backend */
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
};

/* ---- Errors and state ----------------------------------------------------------- */

static bool fail(gh_emit_t *e, enum gh_emit_error err)
{
	if (!e->err)
		e->err = err;
	return false;
}

static inline bool is_json(const gh_emit_t *e)
{
	return e->format == GH_EMIT_JSON;
}

static bool mp_ok(gh_emit_t *e, int rc)
{
	return rc == 0 ? true : fail(e, GH_EMIT_ENOMEM);
}

/* ---- JSON buffer --------------------------------------------------------------- */

/* Makes room for extra more bytes plus the NUL that gh__emit_data appends. */
static bool json_reserve(gh_emit_t *e, size_t extra)
{
	if (e->cap - e->len > extra)
		return true;
	if (extra > SIZE_MAX / 2 - e->len)
		return fail(e, GH_EMIT_ENOMEM);
	size_t need = e->len + extra + 1, cap = e->cap ? e->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(e->buf, cap);
	if (!p)
		return fail(e, GH_EMIT_ENOMEM);
	e->buf = p;
	e->cap = cap;
	return true;
}

static void json_put(gh_emit_t *e, const char *s, size_t n)
{
	if (n == 0 || !json_reserve(e, n))
		return;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
}

static void json_putc(gh_emit_t *e, char c)
{
	if (json_reserve(e, 1))
		e->buf[e->len++] = c;
}

/* A JSON string: runs that need nothing are copied in one go. The escapes are
 * Python json.dumps's (ensure_ascii=False), so bodies match FastAPI's. */
static void json_string(gh_emit_t *e, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (!json_reserve(e, len + 2))
		return;
	e->buf[e->len++] = '"';
	while (i < len) {
		unsigned c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			unsigned skip = 1, n = gh__utf8_seq(p + i, len - i, &skip);
			if (n) {
				i += n;
				continue;
			}
			json_put(e, s + run, i - run);
			json_put(e, GH_UTF8_REPLACEMENT, GH_UTF8_REPLACEMENT_LEN);
			i += skip;
			run = i;
			continue;
		}
		json_put(e, s + run, i - run);
		char esc[6] = {'\\', 0, '0', '0', 0, 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		json_put(e, esc, n);
		i++;
		run = i;
	}
	json_put(e, s + run, i - run);
	json_putc(e, '"');
}

/* msgpack str of the sanitized bytes: the header needs the final length first. */
static void mp_string(gh_emit_t *e, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out, points;
	bool clean = gh__utf8_measure(s, len, &out, &points);

	if (out > UINT32_MAX) {
		fail(e, GH_EMIT_ENOMEM); /* no msgpack str can hold it */
		return;
	}
	if (!mp_ok(e, msgpack_pack_str(&e->pk, out)))
		return;
	if (clean) {
		mp_ok(e, msgpack_pack_str_body(&e->pk, s, len));
		return;
	}
	size_t i = 0, run = 0;
	while (i < len) {
		unsigned skip = 1, n = p[i] < 0x80 ? 1 : gh__utf8_seq(p + i, len - i, &skip);
		if (n) {
			i += n;
			continue;
		}
		if (!mp_ok(e, msgpack_pack_str_body(&e->pk, s + run, i - run)) ||
		    !mp_ok(e, msgpack_pack_str_body(&e->pk, GH_UTF8_REPLACEMENT, GH_UTF8_REPLACEMENT_LEN)))
			return;
		i += skip;
		run = i;
	}
	mp_ok(e, msgpack_pack_str_body(&e->pk, s + run, i - run));
}

/* ---- Numbers as text ----------------------------------------------------------- */

static size_t format_u64(char out[static 24], uint64_t v)
{
	char tmp[24];
	size_t n = 0, o = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[o++] = tmp[--n];
	return o;
}

/*
 * A finite double as Python's repr(float) writes it: the fewest significant
 * digits that read back as v, fixed notation for 1e-4 <= |v| < 1e16 (always
 * with a '.'), else d.ddde+XX. printf's "%.*e" gives correctly rounded digits;
 * we keep only its digits and exponent, so the locale's radix character never
 * reaches the output (strtod reads the same locale as printf wrote).
 */
static size_t format_double(char out[static 40], double v)
{
	char tmp[48], digits[20];
	int nd = 0, prec;
	bool neg = false;

	for (prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	const char *p = tmp;
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && nd < (int)sizeof digits)
			digits[nd++] = *p;
	int exp = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;

	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (exp >= -4 && exp < 16) {
		if (exp >= 0) {
			for (int i = 0; i <= exp; i++)
				out[o++] = i < nd ? digits[i] : '0';
			out[o++] = '.';
			if (nd > exp + 1)
				for (int i = exp + 1; i < nd; i++)
					out[o++] = digits[i];
			else
				out[o++] = '0';
		} else {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -exp - 1; i++)
				out[o++] = '0';
			for (int i = 0; i < nd; i++)
				out[o++] = digits[i];
		}
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			for (int i = 1; i < nd; i++)
				out[o++] = digits[i];
		}
		out[o++] = 'e';
		out[o++] = exp < 0 ? '-' : '+';
		unsigned a = (unsigned)(exp < 0 ? -exp : exp);
		if (a >= 100)
			out[o++] = (char)('0' + a / 100);
		out[o++] = (char)('0' + a / 10 % 10);
		out[o++] = (char)('0' + a % 10);
	}
	return o;
}

/*
 * round(bytes / 1024 / 1024, 2) exactly as Python computes it: the quotient is
 * exact (below 2**53 bytes; above, Python first rounds bytes to a double, and
 * so do we), rounding to cents is half-to-even on that exact value, and the
 * result is the double nearest cents / 100 (cents < 2**53, so the division is
 * correctly rounded).
 */
static double mb_value(uint64_t bytes)
{
	unsigned __int128 b = bytes;
	if (bytes >= (UINT64_C(1) << 53))
		b = (unsigned __int128)(double)bytes;
	unsigned __int128 num = b * 100;
	uint64_t cents = (uint64_t)(num >> 20);
	uint64_t rem = (uint64_t)(num & ((1u << 20) - 1));
	if (rem > (1u << 19) || (rem == (1u << 19) && (cents & 1)))
		cents++;
	return (double)cents / 100.0;
}

/* ---- Structure ---------------------------------------------------------------- */

/* Claims the place for one value (scalar or container) and writes what goes
 * before it in JSON. False when the emitter has failed or this is misuse. */
static bool value_slot(gh_emit_t *e)
{
	if (e->err)
		return false;
	if (e->depth == 0) {
		if (e->root_started)
			return fail(e, GH_EMIT_ESTATE);
		e->root_started = true;
		return true;
	}
	struct frame *f = &e->stack[e->depth - 1];
	if (f->is_map) {
		if (!f->want_value)
			return fail(e, GH_EMIT_ESTATE);
		f->want_value = false;
	} else {
		if (f->count >= f->limit)
			return fail(e, GH_EMIT_ECOUNT);
		if (f->count > 0 && is_json(e))
			json_putc(e, ',');
	}
	f->count++;
	return !e->err;
}

static void container_begin(gh_emit_t *e, size_t n, bool is_map)
{
	if (!value_slot(e))
		return;
	if (e->depth == GH_EMIT_MAX_DEPTH) {
		fail(e, GH_EMIT_EDEPTH);
		return;
	}
	bool unknown = n == GH_EMIT_UNKNOWN;
	if (!unknown && n > UINT32_MAX) {
		fail(e, GH_EMIT_ECOUNT); /* more than msgpack can count */
		return;
	}
	struct frame *f = &e->stack[e->depth++];
	*f = (struct frame){.limit = unknown ? UINT32_MAX : (uint32_t)n, .is_map = is_map,
			    .unknown = unknown};
	if (is_json(e)) {
		json_putc(e, is_map ? '{' : '[');
	} else if (unknown) {
		char hdr[5] = {(char)(is_map ? 0xdf : 0xdd), 0, 0, 0, 0};
		if (mp_ok(e, msgpack_sbuffer_write(&e->sbuf, hdr, sizeof hdr)))
			f->patch_at = e->sbuf.size - 4;
	} else {
		mp_ok(e, is_map ? msgpack_pack_map(&e->pk, n) : msgpack_pack_array(&e->pk, n));
	}
}

static void container_end(gh_emit_t *e, bool is_map)
{
	if (e->err)
		return;
	if (e->depth == 0 || e->stack[e->depth - 1].is_map != is_map) {
		fail(e, GH_EMIT_ESTATE);
		return;
	}
	struct frame *f = &e->stack[e->depth - 1];
	if (f->want_value) {
		fail(e, GH_EMIT_ESTATE); /* a key without its value */
		return;
	}
	if (!f->unknown && f->count != f->limit) {
		fail(e, GH_EMIT_ECOUNT);
		return;
	}
	if (is_json(e)) {
		json_putc(e, is_map ? '}' : ']');
	} else if (f->unknown) {
		unsigned char *p = (unsigned char *)e->sbuf.data + f->patch_at;
		p[0] = (unsigned char)(f->count >> 24);
		p[1] = (unsigned char)(f->count >> 16);
		p[2] = (unsigned char)(f->count >> 8);
		p[3] = (unsigned char)f->count;
	}
	e->depth--;
}

/* ---- Public calls ---------------------------------------------------------------- */

gh_emit_t *gh__emit_new(enum gh_emit_format format)
{
	gh_emit_t *e = calloc(1, sizeof *e);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->format = format == GH_EMIT_MSGPACK ? GH_EMIT_MSGPACK : GH_EMIT_JSON;
	msgpack_sbuffer_init(&e->sbuf);
	msgpack_packer_init(&e->pk, &e->sbuf, msgpack_sbuffer_write);
	return e;
}

void gh__emit_free(gh_emit_t *e)
{
	if (!e)
		return;
	msgpack_sbuffer_destroy(&e->sbuf);
	free(e->buf);
	free(e);
}

void gh__emit_reset(gh_emit_t *e)
{
	e->err = GH_EMIT_OK;
	e->root_started = false;
	e->depth = 0;
	e->len = 0;
	msgpack_sbuffer_clear(&e->sbuf);
}

enum gh_emit_format gh__emit_format(const gh_emit_t *e)
{
	return e->format;
}

const char *gh__emit_content_type(const gh_emit_t *e)
{
	return is_json(e) ? "application/json" : "application/msgpack";
}

void gh__emit_map_begin(gh_emit_t *e, size_t n)
{
	container_begin(e, n, true);
}

void gh__emit_map_end(gh_emit_t *e)
{
	container_end(e, true);
}

void gh__emit_array_begin(gh_emit_t *e, size_t n)
{
	container_begin(e, n, false);
}

void gh__emit_array_end(gh_emit_t *e)
{
	container_end(e, false);
}

void gh__emit_keyn(gh_emit_t *e, const char *key, size_t len)
{
	if (e->err)
		return;
	struct frame *f = e->depth ? &e->stack[e->depth - 1] : NULL;
	if (!f || !f->is_map || f->want_value) {
		fail(e, GH_EMIT_ESTATE);
		return;
	}
	if (f->count >= f->limit) {
		fail(e, GH_EMIT_ECOUNT);
		return;
	}
	f->want_value = true;
	if (is_json(e)) {
		if (f->count > 0)
			json_putc(e, ',');
		json_string(e, key, len);
		json_putc(e, ':');
	} else {
		mp_string(e, key, len);
	}
}

void gh__emit_key(gh_emit_t *e, const char *key)
{
	if (!key) {
		fail(e, GH_EMIT_ESTATE);
		return;
	}
	gh__emit_keyn(e, key, strlen(key));
}

void gh__emit_str(gh_emit_t *e, const char *s, size_t len)
{
	if (!s && len) {
		fail(e, GH_EMIT_ESTATE);
		return;
	}
	if (!value_slot(e))
		return;
	if (is_json(e))
		json_string(e, s ? s : "", len);
	else
		mp_string(e, s ? s : "", len);
}

void gh__emit_cstr(gh_emit_t *e, const char *s)
{
	if (s)
		gh__emit_str(e, s, strlen(s));
	else
		gh__emit_null(e);
}

/* One number: v.i, v.u or v.d by kind, as JSON text or msgpack's smallest
 * encoding of it. */
enum num_kind { NUM_INT, NUM_UINT, NUM_DBL };
union num {
	int64_t i;
	uint64_t u;
	double d;
};

static void emit_number(gh_emit_t *e, enum num_kind kind, union num v)
{
	if (!value_slot(e))
		return;
	if (!is_json(e)) {
		mp_ok(e, kind == NUM_INT    ? msgpack_pack_int64(&e->pk, v.i)
			 : kind == NUM_UINT ? msgpack_pack_uint64(&e->pk, v.u)
					    : msgpack_pack_double(&e->pk, v.d));
		return;
	}
	char txt[40];
	size_t n = 0;
	if (kind == NUM_DBL) {
		n = format_double(txt, v.d);
	} else if (kind == NUM_INT && v.i < 0) {
		txt[n++] = '-';
		n += format_u64(txt + n, 0 - (uint64_t)v.i); /* INT64_MIN too */
	} else {
		n = format_u64(txt, v.u);
	}
	json_put(e, txt, n);
}

void gh__emit_int(gh_emit_t *e, int64_t v)
{
	emit_number(e, NUM_INT, (union num){.i = v});
}

void gh__emit_uint(gh_emit_t *e, uint64_t v)
{
	emit_number(e, NUM_UINT, (union num){.u = v});
}

void gh__emit_dbl(gh_emit_t *e, double v)
{
	if (__builtin_isnan(v) || __builtin_isinf(v))
		gh__emit_null(e);
	else
		emit_number(e, NUM_DBL, (union num){.d = v});
}

void gh__emit_mb(gh_emit_t *e, uint64_t bytes)
{
	gh__emit_dbl(e, mb_value(bytes));
}

void gh__emit_mb_signed(gh_emit_t *e, int64_t bytes)
{
	/* Python's round() is symmetric: round(-x, 2) == -round(x, 2) */
	if (bytes < 0)
		gh__emit_dbl(e, -mb_value((uint64_t)0 - (uint64_t)bytes));
	else
		gh__emit_dbl(e, mb_value((uint64_t)bytes));
}

void gh__emit_bool(gh_emit_t *e, bool b)
{
	if (!value_slot(e))
		return;
	if (is_json(e))
		json_put(e, b ? "true" : "false", b ? 4 : 5);
	else
		mp_ok(e, b ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk));
}

void gh__emit_null(gh_emit_t *e)
{
	if (!value_slot(e))
		return;
	if (is_json(e))
		json_put(e, "null", 4);
	else
		mp_ok(e, msgpack_pack_nil(&e->pk));
}

const char *gh__emit_data(gh_emit_t *e, size_t *len)
{
	*len = 0;
	if (!e->err && (e->depth != 0 || !e->root_started))
		fail(e, GH_EMIT_EINCOMPLETE);
	if (e->err)
		return NULL;
	if (is_json(e)) {
		if (!json_reserve(e, 0))
			return NULL;
		e->buf[e->len] = '\0';
		*len = e->len;
		return e->buf;
	}
	*len = e->sbuf.size;
	return e->sbuf.data;
}

bool gh__emit_failed(const gh_emit_t *e)
{
	return e->err != GH_EMIT_OK;
}

enum gh_emit_error gh__emit_error(const gh_emit_t *e)
{
	return e->err;
}

const char *gh__emit_strerror(enum gh_emit_error err)
{
	switch (err) {
	case GH_EMIT_OK: return "no error";
	case GH_EMIT_ENOMEM: return "out of memory";
	case GH_EMIT_ESTATE: return "key or value out of place";
	case GH_EMIT_ECOUNT: return "container count mismatch";
	case GH_EMIT_EDEPTH: return "containers nested too deep";
	case GH_EMIT_EINCOMPLETE: return "document incomplete";
	}
	return "unknown error";
}

/* ---- Key/value shorthands ------------------------------------------------------- */

/* gh__emit_kv_<name>(e, key, value): the key, then gh__emit_<name>(e, value). */
#define KV(name, type)                                                     \
	void gh__emit_kv_##name(gh_emit_t *e, const char *key, type v)     \
	{                                                                  \
		gh__emit_key(e, key);                                      \
		gh__emit_##name(e, v);                                     \
	}
KV(int, int64_t)
KV(uint, uint64_t)
KV(cstr, const char *)
KV(dbl, double)
KV(mb, uint64_t)
KV(mb_signed, int64_t)
KV(bool, bool)
#undef KV

void gh__emit_kv_str(gh_emit_t *e, const char *key, const char *s, size_t len)
{
	gh__emit_key(e, key);
	gh__emit_str(e, s, len);
}
