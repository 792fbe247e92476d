/*
 * decode.c -- the client's response decoder: one document of msgpack or JSON
 * bytes into a jansson tree, the model every view, diff and watch reads.
 *
 * Entry points: gh__decode (bytes -> json_t), gh__decode_wire_of (which
 * decoder a Content-Type asks for).
 *
 * msgpack goes through msgpack-c, after a bounded pre-scan. msgpack-c
 * allocates a container's element array as soon as it reads the header, so
 * five bytes announcing 2^32 - 1 elements would ask for ~96 GiB. The pre-scan
 * walks the headers once, without recursion, and refuses a document whose
 * containers announce more elements than there are bytes left (every element
 * takes at least one), or whose strings run past the end: after it, what
 * msgpack-c allocates is proportional to the input.
 *
 * The bytes come from the network or from a saved file: any input must fail
 * cleanly (fuzzed by tests/fuzz/fuzz_client_decode.c).
 */
#include "client.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || !err_len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

enum gh_wire gh__decode_wire_of(const char *content_type)
{
	if (!content_type)
		return GH_WIRE_AUTO;
	while (*content_type == ' ')
		content_type++;
	size_t n = strcspn(content_type, "; \t");
	if ((n == 19 && strncasecmp(content_type, "application/msgpack", n) == 0) ||
	    (n == 21 && strncasecmp(content_type, "application/x-msgpack", n) == 0))
		return GH_WIRE_MSGPACK;
	if (n == 16 && strncasecmp(content_type, "application/json", n) == 0)
		return GH_WIRE_JSON;
	return GH_WIRE_AUTO;
}

/* ---- msgpack pre-scan ---------------------------------------------------------- */

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Checks that buf holds exactly one msgpack document whose declared sizes fit
 * in it. `pending` counts the elements still to read; a container adds its
 * elements (a map two per entry). Returns 0 or -1 (reason in err).
 */
static int prescan(const unsigned char *buf, size_t len, char *err, size_t err_len)
{
	size_t pos = 0;
	uint64_t pending = 1;
	while (pending > 0) {
		if (pos >= len) {
			set_err(err, err_len, "msgpack: truncated document");
			return -1;
		}
		pending--;
		unsigned b = buf[pos++];
		int head = 0;          /* bytes of length/count after the type byte */
		uint64_t payload = 0;  /* fixed payload bytes */
		int kind = 0;          /* 0 scalar, 1 str/bin/ext (head = length), 2 array, 3 map */
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b <= 0x8f) {
			pending += 2u * (b & 0x0f);
		} else if (b <= 0x9f) {
			pending += b & 0x0f;
		} else if (b <= 0xbf) {
			payload = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: head = 1, kind = 1; break;               /* bin 8/16/32 */
			case 0xc5: head = 2, kind = 1; break;
			case 0xc6: head = 4, kind = 1; break;
			case 0xc7: head = 1, kind = 1, payload = 1; break;  /* ext 8/16/32: + type byte */
			case 0xc8: head = 2, kind = 1, payload = 1; break;
			case 0xc9: head = 4, kind = 1, payload = 1; break;
			case 0xca: payload = 4; break;                      /* float 32/64 */
			case 0xcb: payload = 8; break;
			case 0xcc: case 0xd0: payload = 1; break;           /* (u)int 8..64 */
			case 0xcd: case 0xd1: payload = 2; break;
			case 0xce: case 0xd2: payload = 4; break;
			case 0xcf: case 0xd3: payload = 8; break;
			case 0xd4: payload = 2; break;                      /* fixext 1..16 */
			case 0xd5: payload = 3; break;
			case 0xd6: payload = 5; break;
			case 0xd7: payload = 9; break;
			case 0xd8: payload = 17; break;
			case 0xd9: head = 1, kind = 1; break;               /* str 8/16/32 */
			case 0xda: head = 2, kind = 1; break;
			case 0xdb: head = 4, kind = 1; break;
			case 0xdc: head = 2, kind = 2; break;               /* array 16/32 */
			case 0xdd: head = 4, kind = 2; break;
			case 0xde: head = 2, kind = 3; break;               /* map 16/32 */
			case 0xdf: head = 4, kind = 3; break;
			default:
				set_err(err, err_len, "msgpack: invalid type byte 0x%02x at offset %zu", b, pos - 1);
				return -1;
			}
		}
		if ((size_t)head > len - pos) {
			set_err(err, err_len, "msgpack: truncated document");
			return -1;
		}
		uint64_t n = be(buf + pos, head);
		pos += (size_t)head;
		if (kind == 1)
			payload += n;
		else if (kind == 2)
			pending += n;
		else if (kind == 3)
			pending += 2 * n;
		if (payload > len - pos) {
			set_err(err, err_len, "msgpack: a value runs past the end of the data");
			return -1;
		}
		pos += (size_t)payload;
		if (pending > len - pos) {
			set_err(err, err_len, "msgpack: containers announce more elements than the data holds");
			return -1;
		}
	}
	if (pos != len) {
		set_err(err, err_len, "msgpack: %zu trailing bytes after the document", len - pos);
		return -1;
	}
	return 0;
}

/* ---- msgpack -> jansson ---------------------------------------------------------- */

/* Depth is bounded by msgpack-c (MSGPACK_EMBED_STACK_SIZE, 32). */
static json_t *convert(const msgpack_object *o, char *err, size_t err_len)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			set_err(err, err_len, "msgpack: integer %llu does not fit in 64 signed bits",
				(unsigned long long)o->via.u64);
			return NULL;
		}
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* jansson has no NaN or infinity; the server sends null for them too. */
		return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
	case MSGPACK_OBJECT_STR: {
		json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
		if (!s)
			set_err(err, err_len, "msgpack: a string is not valid UTF-8");
		return s;
	}
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; a && i < o->via.array.size; i++) {
			json_t *v = convert(&o->via.array.ptr[i], err, err_len);
			if (!v || json_array_append_new(a, v) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; m && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR) {
				set_err(err, err_len, "msgpack: a map key is not a string");
				json_decref(m);
				return NULL;
			}
			json_t *v = convert(&kv->val, err, err_len);
			if (!v) {
				json_decref(m);
				return NULL;
			}
			/* Validates the key's UTF-8; a repeated key keeps the last value,
			 * as python3-msgpack does. */
			if (json_object_setn_new(m, kv->key.via.str.ptr, kv->key.via.str.size, v) != 0) {
				set_err(err, err_len, "msgpack: a map key is not valid UTF-8");
				json_decref(m);
				return NULL;
			}
		}
		return m;
	}
	case MSGPACK_OBJECT_BIN:
		set_err(err, err_len, "msgpack: unexpected bin value (the server sends strings as str)");
		return NULL;
	default:
		set_err(err, err_len, "msgpack: unexpected ext value");
		return NULL;
	}
}

static json_t *decode_msgpack(const char *buf, size_t len, char *err, size_t err_len)
{
	if (prescan((const unsigned char *)buf, len, err, err_len) != 0)
		return NULL;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	msgpack_unpack_return rc = msgpack_unpack_next(&u, buf, len, &off);
	json_t *doc = NULL;
	if (rc == MSGPACK_UNPACK_SUCCESS && off == len) {
		set_err(err, err_len, "out of memory");
		doc = convert(&u.data, err, err_len);
	} else if (rc == MSGPACK_UNPACK_NOMEM_ERROR) {
		set_err(err, err_len, "msgpack: nested too deeply or out of memory");
	} else {
		set_err(err, err_len, "msgpack: malformed document");
	}
	msgpack_unpacked_destroy(&u);
	return doc;
}

/* ---- Entry point ------------------------------------------------------------------- */

json_t *gh__decode(const char *buf, size_t len, enum gh_wire wire, char *err, size_t err_len)
{
	if (!buf || len == 0) {
		set_err(err, err_len, "empty document");
		return NULL;
	}
	if (wire == GH_WIRE_AUTO) {
		size_t i = 0;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
			i++;
		wire = i < len && (buf[i] == '{' || buf[i] == '[') ? GH_WIRE_JSON : GH_WIRE_MSGPACK;
	}
	if (wire == GH_WIRE_MSGPACK)
		return decode_msgpack(buf, len, err, err_len);

	json_error_t je;
	json_t *doc = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!doc)
		set_err(err, err_len, "JSON: %s (line %d, column %d)", je.text, je.line, je.column);
	return doc;
}
