/*
 * msgpack_same.h -- the tests' one comparison of a msgpack document with a
 * JSON one (jansson): the emitter promises that both encodings carry the same
 * document (api.md, "format"), and the unit tests and fuzzers of the wire
 * layer check that promise with this.
 *
 *   msgpack_unpacked u;  ...unpack the msgpack bytes...
 *   json_t *j = json_loadb(json_bytes, ...);
 *   EXPECT_TRUE(gh_test_same_document(&u.data, j));
 *
 * or, for bytes that must be one whole msgpack document,
 * gh_test_msgpack_is(bytes, len, j).
 *
 * "The same" is strict: the same types (integer/integer, float64/real, str/
 * string, nil/null), equal values (floats bit for bit but NaN, with their
 * sign), the same sizes, and map keys in the same order. msgpack's bin, ext
 * and non-string keys are never the same as anything: the emitter writes none.
 * Converting msgpack to JSON is the client decoder's job (http/client/decode.c,
 * gh__decode); tests that need a tree use it.
 */
#ifndef GH_TEST_MSGPACK_SAME_H
#define GH_TEST_MSGPACK_SAME_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

static inline bool gh_test_same_document(const msgpack_object *o, const json_t *j)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_is_null(j);
	case MSGPACK_OBJECT_BOOLEAN:
		return json_is_boolean(j) && json_is_true(j) == o->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_is_integer(j) && json_integer_value(j) >= 0 &&
		       (uint64_t)json_integer_value(j) == o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_is_integer(j) && json_integer_value(j) == o->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_is_real(j) && json_real_value(j) == o->via.f64 &&
		       signbit(json_real_value(j)) == signbit(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_is_string(j) && json_string_length(j) == o->via.str.size &&
		       (o->via.str.size == 0 || memcmp(json_string_value(j), o->via.str.ptr, o->via.str.size) == 0);
	case MSGPACK_OBJECT_ARRAY:
		if (!json_is_array(j) || json_array_size(j) != o->via.array.size)
			return false;
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (!gh_test_same_document(&o->via.array.ptr[i], json_array_get(j, i)))
				return false;
		return true;
	case MSGPACK_OBJECT_MAP: {
		if (!json_is_object(j) || json_object_size(j) != o->via.map.size)
			return false;
		void *it = json_object_iter((json_t *)j);
		for (uint32_t i = 0; i < o->via.map.size; i++, it = json_object_iter_next((json_t *)j, it)) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (!it || k->type != MSGPACK_OBJECT_STR || json_object_iter_key_len(it) != k->via.str.size ||
			    (k->via.str.size && memcmp(json_object_iter_key(it), k->via.str.ptr, k->via.str.size) != 0) ||
			    !gh_test_same_document(&o->via.map.ptr[i].val, json_object_iter_value(it)))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* Whether mp[0 .. len) is exactly one msgpack document (nothing after it),
 * the same as j. */
static inline bool gh_test_msgpack_is(const char *mp, size_t len, const json_t *j)
{
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpacked_init(&u);
	bool ok = msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
		  gh_test_same_document(&u.data, j);
	msgpack_unpacked_destroy(&u);
	return ok;
}

#endif /* GH_TEST_MSGPACK_SAME_H */
