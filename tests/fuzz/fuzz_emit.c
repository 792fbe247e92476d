/*
 * fuzz_emit.c -- libFuzzer driver for http/emit.c.
 *
 * The input is a little program that builds a document tree (strings of any
 * bytes, integers, doubles, mb values, booleans, nulls, nested arrays and maps,
 * each container announced with its count or as GH_EMIT_UNKNOWN). The tree is
 * emitted as JSON and as msgpack; the JSON must parse with jansson and equal a
 * tree built independently (its own UTF-8 sanitizer, its own mb rounding), the
 * msgpack must decode with msgpack-c into the same document, same types and
 * same key order. Any difference aborts.
 *
 * Program bytes, op = byte % 10:
 *   0 str   len byte, then len bytes     5 bool  (op >> 4) & 1
 *   1 int   8 bytes                      6 null
 *   2 uint  8 bytes (top bit cleared)    7 array (op >> 4) & 1: unknown count
 *   3 dbl   8 bytes                      8 map   likewise
 *   4 mb    8 bytes                      9 end of the open container
 * Byte 0: the root array's unknown-count flag (bit 0). Inside a map, the key
 * (len byte % 16, then len bytes) comes right after the op, before its operand.
 */
#include "emit.h"
#include "fuzz_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "msgpack_same.h"
#include "utf8_ref.h"

#define MAX_NODES 2048
#define MAX_TREE_DEPTH (GH_EMIT_MAX_DEPTH + 8) /* deeper than the emitter allows, on purpose */

enum kind { K_STR, K_INT, K_UINT, K_DBL, K_MB, K_BOOL, K_NULL, K_ARRAY, K_MAP };

struct node {
	enum kind kind;
	const char *s; /* K_STR bytes */
	size_t len;
	char key[32]; /* as a map child: "<index>:" then up to 15 key bytes */
	size_t key_len;
	union {
		int64_t i;
		uint64_t u;
		double d;
		int b;
	} v;
	int unknown;
	int first, next, nchildren, depth;
};

static struct node nodes[MAX_NODES];
static int nnodes;

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint8_t rd_byte(struct rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint64_t rd_u64(struct rd *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | rd_byte(r);
	return v;
}

/* ---- Building the tree ------------------------------------------------------------ */

static int add_child(int parent, enum kind kind, struct rd *r)
{
	if (nnodes == MAX_NODES)
		return -1;
	int id = nnodes++;
	struct node *n = &nodes[id], *p = &nodes[parent];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->first = n->next = -1;
	n->depth = p->depth + 1;
	if (p->kind == K_MAP) {
		/* "<index>:" keeps keys unique whatever the bytes after it become */
		int k = snprintf(n->key, sizeof n->key, "%d:", p->nchildren);
		size_t kl = rd_byte(r) % 16;
		for (size_t i = 0; i < kl && r->n; i++) {
			char c = (char)rd_byte(r);
			n->key[k++] = c ? c : '\x01'; /* jansson cannot hold NUL in keys */
		}
		n->key_len = (size_t)k;
	}
	if (p->first < 0) {
		p->first = id;
	} else {
		int c = p->first;
		while (nodes[c].next >= 0)
			c = nodes[c].next;
		nodes[c].next = id;
	}
	p->nchildren++;
	return id;
}

static void build_tree(const uint8_t *data, size_t size)
{
	struct rd r = {data, size};
	int stack[MAX_TREE_DEPTH + 1], depth = 0;

	nnodes = 1;
	memset(&nodes[0], 0, sizeof nodes[0]);
	nodes[0].kind = K_ARRAY;
	nodes[0].unknown = rd_byte(&r) & 1;
	nodes[0].first = nodes[0].next = -1;
	stack[0] = 0;
	while (r.n) {
		uint8_t op = rd_byte(&r);
		int cur = stack[depth], id;
		switch (op % 10) {
		case 0: {
			if ((id = add_child(cur, K_STR, &r)) < 0)
				return;
			size_t len = rd_byte(&r);
			if (len > r.n)
				len = r.n;
			nodes[id].s = (const char *)r.p;
			nodes[id].len = len;
			r.p += len;
			r.n -= len;
			break;
		}
		case 1:
		case 2:
		case 3:
		case 4: {
			static const enum kind k[] = {K_INT, K_UINT, K_DBL, K_MB};
			if ((id = add_child(cur, k[op % 10 - 1], &r)) < 0)
				return;
			uint64_t u = rd_u64(&r);
			if (op % 10 == 2)
				u &= INT64_MAX; /* jansson reads no integer above INT64_MAX */
			if (op % 10 == 3)
				memcpy(&nodes[id].v.d, &u, sizeof u);
			else
				nodes[id].v.u = u;
			break;
		}
		case 5:
		case 6:
			if ((id = add_child(cur, op % 10 == 5 ? K_BOOL : K_NULL, &r)) < 0)
				return;
			nodes[id].v.b = (op >> 4) & 1;
			break;
		case 7:
		case 8:
			if (depth == MAX_TREE_DEPTH)
				break;
			if ((id = add_child(cur, op % 10 == 7 ? K_ARRAY : K_MAP, &r)) < 0)
				return;
			nodes[id].unknown = (op >> 4) & 1;
			stack[++depth] = id;
			break;
		case 9:
			if (depth > 0)
				depth--;
			break;
		}
	}
}

/* ---- Emitting ----------------------------------------------------------------------- */

static void emit_node(gh_emit_t *e, const struct node *n, int in_map)
{
	if (in_map)
		gh__emit_keyn(e, n->key, n->key_len);
	switch (n->kind) {
	case K_STR: gh__emit_str(e, n->s, n->len); break;
	case K_INT: gh__emit_int(e, n->v.i); break;
	case K_UINT: gh__emit_uint(e, n->v.u); break;
	case K_DBL: gh__emit_dbl(e, n->v.d); break;
	case K_MB: gh__emit_mb(e, n->v.u); break;
	case K_BOOL: gh__emit_bool(e, n->v.b); break;
	case K_NULL: gh__emit_null(e); break;
	case K_ARRAY:
	case K_MAP: {
		size_t count = n->unknown ? GH_EMIT_UNKNOWN : (size_t)n->nchildren;
		if (n->kind == K_MAP)
			gh__emit_map_begin(e, count);
		else
			gh__emit_array_begin(e, count);
		for (int c = n->first; c >= 0; c = nodes[c].next)
			emit_node(e, &nodes[c], n->kind == K_MAP);
		if (n->kind == K_MAP)
			gh__emit_map_end(e);
		else
			gh__emit_array_end(e);
		break;
	}
	}
}

/* ---- The independent expectation ------------------------------------------------------ */

/* A string as the emitter must write it (tests/utf8_ref.h). */
static json_t *ref_string(const char *s, size_t n)
{
	unsigned char *out = malloc(3 * n + 1);
	size_t o = gh_ref_utf8_sanitize((const unsigned char *)s, n, out);
	json_t *j = json_stringn((const char *)out, o);
	free(out);
	return j;
}

/* Python's round(bytes / 1024 / 1024, 2) by another road: glibc's %.2f rounds
 * the exact binary value half-to-even, as Python's round does. */
static double ref_mb(uint64_t bytes)
{
	char txt[64];
	snprintf(txt, sizeof txt, "%.2f", (double)bytes / 1048576.0);
	return strtod(txt, NULL);
}

static json_t *expect_node(const struct node *n)
{
	switch (n->kind) {
	case K_STR: return ref_string(n->s, n->len);
	case K_INT: return json_integer(n->v.i);
	case K_UINT: return json_integer((json_int_t)n->v.u);
	case K_DBL: return isfinite(n->v.d) ? json_real(n->v.d) : json_null();
	case K_MB: return json_real(ref_mb(n->v.u));
	case K_BOOL: return json_boolean(n->v.b);
	case K_NULL: return json_null();
	case K_ARRAY: {
		json_t *a = json_array();
		for (int c = n->first; c >= 0; c = nodes[c].next)
			json_array_append_new(a, expect_node(&nodes[c]));
		return a;
	}
	case K_MAP: {
		json_t *m = json_object();
		for (int c = n->first; c >= 0; c = nodes[c].next) {
			json_t *key = ref_string(nodes[c].key, nodes[c].key_len);
			json_object_setn_new(m, json_string_value(key), json_string_length(key),
					     expect_node(&nodes[c]));
			json_decref(key);
		}
		return m;
	}
	}
	return NULL;
}

static int tree_depth(void)
{
	int d = 0;
	for (int i = 0; i < nnodes; i++)
		if ((nodes[i].kind == K_ARRAY || nodes[i].kind == K_MAP) && nodes[i].depth + 1 > d)
			d = nodes[i].depth + 1;
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	build_tree(data, size);

	gh_emit_t *ej = gh__emit_new(GH_EMIT_JSON), *em = gh__emit_new(GH_EMIT_MSGPACK);
	CHECK(ej && em);
	emit_node(ej, &nodes[0], 0);
	emit_node(em, &nodes[0], 0);
	size_t jlen, mlen;
	const char *js = gh__emit_data(ej, &jlen), *mp = gh__emit_data(em, &mlen);

	if (tree_depth() > GH_EMIT_MAX_DEPTH) {
		CHECK(!js && !mp);
		CHECK(gh__emit_error(ej) == GH_EMIT_EDEPTH && gh__emit_error(em) == GH_EMIT_EDEPTH);
		gh__emit_free(ej);
		gh__emit_free(em);
		return 0;
	}
	CHECK(js && mp);
	CHECK(strlen(js) <= jlen); /* NUL-terminated */

	json_error_t err;
	json_t *parsed = json_loadb(js, jlen, JSON_ALLOW_NUL, &err);
	if (!parsed)
		fprintf(stderr, "jansson: %s at %d\n", err.text, err.position);
	CHECK(parsed);
	json_t *expected = expect_node(&nodes[0]);
	CHECK(json_equal(parsed, expected));

	CHECK(gh_test_msgpack_is(mp, mlen, parsed));

	json_decref(parsed);
	json_decref(expected);
	gh__emit_free(ej);
	gh__emit_free(em);
	return 0;
}
