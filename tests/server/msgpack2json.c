/*
 * msgpack2json.c -- the project's own msgpack reader for the integration
 * tests: decodes one msgpack document from stdin with msgpack-c and prints it
 * as compact JSON (jansson) on stdout, keeping integers and floats apart, so
 * the driver can compare it with the JSON rendering and with python3-msgpack.
 *
 * Exit status: 0 ok, 1 malformed or trailing bytes, 2 a type JSON cannot
 * carry (bin, ext, non-string key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

static int bad_type;

static json_t *convert(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			bad_type = 1;
			return json_null();
		}
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(a, convert(&o->via.array.ptr[i]));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR) {
				bad_type = 1;
				continue;
			}
			char *k = strndup(kv->key.via.str.ptr, kv->key.via.str.size);
			json_object_set_new(m, k, convert(&kv->val));
			free(k);
		}
		return m;
	}
	default:
		bad_type = 1;
		return json_null();
	}
}

int main(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf)
		return 1;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
		fprintf(stderr, "msgpack2json: malformed msgpack or trailing bytes\n");
		return 1;
	}
	json_t *j = convert(&u.data);
	char *out = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	if (!out)
		return 1;
	puts(out);
	free(out);
	json_decref(j);
	msgpack_unpacked_destroy(&u);
	free(buf);
	return bad_type ? 2 : 0;
}
