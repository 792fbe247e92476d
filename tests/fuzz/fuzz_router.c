/*
 * fuzz_router.c -- libFuzzer driver for the debug server's dispatch
 * (http/router.c, gh__http_dispatch): arbitrary methods, paths, query
 * strings, headers and bodies through authentication, the browser checks,
 * routing, format negotiation, query validation and every endpoint, which
 * run for real against the core (counters, heap walks, reachability passes,
 * tracing and snapshots). No h2o: what h2o parses is what the input says.
 *
 * Input (a line format, so that seeds can be written by hand):
 *
 *   byte 0       flags. bit 0: the router has a token (TOKEN); bit 1: it serves
 *                a Unix socket (no browser checks); bits 2-3: an Accept header
 *                comes first (none, application/json, application/msgpack,
 *                application/x-msgpack); bits 4-5: an Authorization header comes
 *                first (none, "Bearer TOKEN", a wrong token, "bEaReR\t TOKEN \t");
 *                bit 7: GLASSHEAP_PREVIEW=1. Bit 6 is ignored: '@'..'\x7f' are
 *                flags 0..63, printable.
 *   METHOD SP TARGET ['?' QUERY] LF   TARGET: any bytes but SP '?' LF, the
 *                                     request-target as sent (origin- or
 *                                     absolute-form); QUERY: any but LF
 *   NAME ':' VALUE LF ...             at most MAX_HEADERS (h2o's limit); VALUE
 *                                     trimmed of SP/HT as h2o does; Host and
 *                                     duplicates are passed on as they come
 *   LF
 *   BODY                              the rest
 *
 * Checked for every input (abort = a finding), beside ASan and UBSan:
 *   - the status is one api.md documents (200 400 401 403 404 405 409 414 422
 *     503 504); a 500 is a finding too: nothing here runs out of memory; the
 *     reason phrase is the status's own (status.c)
 *   - the body is exactly one document in the content type's format (jansson
 *     for JSON, the client's decoder http/client/decode.c for msgpack), a
 *     map; a 200 has its route's field; an error has "detail": a string, or
 *     for 422 a list of entries whose "loc" is ["query"|"path", <a parameter
 *     of api.md or "format">]
 *   - headers: Allow with 405 only, WWW-Authenticate with 401 only,
 *     Retry-After with 503 only, Cache-Control always
 *   - an independent oracle for the request's form (two Host or two Origin
 *     headers: 400 and nothing else), for authentication (no token configured:
 *     never 401; token and no Authorization: 401; the exact token: not 401),
 *     for routing (the target, origin- or absolute-form, percent-decoded but
 *     never normalized: a path that is no route of api.md is 404 "Not Found"
 *     once past 400/401/403/414; a route's path: never "Not Found") and for
 *     ?format (a value other than json/msgpack, any case: a 422 on a route)
 *
 * FUZZ_ROUTER_VERBOSE=1 prints one line per input (status, request, the
 * start of the body): `fuzz_router -runs=0 corpus/` shows what each seed does.
 *
 * Setup (LLVMFuzzerInitialize): typed objects with a formatter, a linked
 * list (referrers), blobs, collectable garbage topped up to a bound, and a
 * ring of typed blocks churned every input so that tracing has allocations
 * to count. Everything stays bounded however long the run.
 */
#include "client.h"
#include "internal.h"
#include "status.h"

#include <glassheap.h>

#include <jansson.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN "fuzz-token"
#define MAX_HEADERS 100 /* picohttpparser's limit in h2o 2.2.5 */
#define EXTRA_HEADERS 2 /* Accept and Authorization chosen by the flags */
#define N_NODES 64
#define N_BLOBS 16
#define RING 256
#define GARBAGE_MAX 64

/* ---- Objects for the endpoints to find ---------------------------------------------- */

struct node {
	struct node *next;
	uint32_t index;
	char pad[20];
};

static struct node *nodes[N_NODES];
static void *blobs[N_BLOBS];
static void *ring[RING];
static size_t ring_at;
static gh_type_t t_node, t_blob, t_churn, t_garbage, t_bad;
static void *bad[2]; /* of a type whose name is not UTF-8 (shown and found as "FuzzBad\ufffd") */
static struct gh_http_router routers[4]; /* by flags bits 0-1 */
static bool verbose;                     /* FUZZ_ROUTER_VERBOSE=1: one line per input */

static int fmt_node(const void *obj, size_t size, char *buf, size_t len)
{
	const struct node *n = obj;
	if (size < sizeof *n)
		return -1;
	return snprintf(buf, len, "FuzzNode{index=%u}", n->index);
}

/* An unreachable collectable object (the gc endpoint frees them), made in a
 * frame of its own; topped up to GARBAGE_MAX, so the total stays bounded. */
static __attribute__((noinline)) void drop_garbage(void)
{
	gh_type_stats_t st;
	if (gh_type_stats(t_garbage, &st) == 0 && st.live_count < GARBAGE_MAX) {
		void *volatile p = gh_malloc_typed(t_garbage, 40);
		(void)p;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *v = getenv("FUZZ_ROUTER_VERBOSE");
	verbose = v && strcmp(v, "1") == 0;
	gh_type_desc_t d;
	memset(&d, 0, sizeof d);
	d.format = fmt_node;
	t_node = gh_type_register("FuzzNode", &d);
	t_blob = gh_type_register("Fuzz \"Blob\" \xcf\x80", NULL);
	t_churn = gh_type_register("FuzzChurn", NULL);
	t_bad = gh_type_register("FuzzBad\xff", NULL);
	memset(&d, 0, sizeof d);
	d.flags = GH_TYPE_COLLECTABLE;
	t_garbage = gh_type_register("FuzzGarbage", &d);
	if (!t_node || !t_blob || !t_churn || !t_garbage || !t_bad) {
		fprintf(stderr, "fuzz_router: type registration failed\n");
		abort();
	}
	for (uint32_t i = 0; i < N_NODES; i++) {
		nodes[i] = gh_calloc_typed(t_node, 1, sizeof *nodes[i]);
		nodes[i]->index = i;
		if (i > 0)
			nodes[i - 1]->next = nodes[i];
	}
	for (size_t i = 0; i < 2; i++)
		bad[i] = gh_calloc_typed(t_bad, 1, 24);
	for (size_t i = 0; i < N_BLOBS; i++) {
		blobs[i] = gh_malloc_typed(t_blob, 100 * (i + 1));
		memset(blobs[i], 'B', 100 * (i + 1));
	}
	for (size_t i = 0; i < 4; i++) {
		routers[i].token = (i & 1) ? TOKEN : "";
		routers[i].token_len = (i & 1) ? strlen(TOKEN) : 0;
		routers[i].unix_socket = (i & 2) != 0;
	}
	return 0;
}

/* ---- Decoding the input ---------------------------------------------------------------- */

struct input {
	unsigned flags;
	struct gh_http_request req;
	struct gh_http_header headers[EXTRA_HEADERS + MAX_HEADERS];
};

static size_t line_len(const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n);
	return lf ? (size_t)(lf - p) : n;
}

static void header(struct input *in, const char *name, const char *value, size_t value_len)
{
	struct gh_http_header *h = &in->headers[in->req.nheaders++];
	h->name = name;
	h->name_len = strlen(name);
	h->value = value;
	h->value_len = value_len;
}

static void decode(const uint8_t *data, size_t size, struct input *in)
{
	static const char *const accepts[] = {NULL, "application/json", "application/msgpack", "application/x-msgpack"};
	static const char *const auths[] = {NULL, "Bearer " TOKEN, "Bearer fuzz-tokem", "bEaReR\t " TOKEN " \t"};
	memset(in, 0, sizeof *in);
	in->req.headers = in->headers;
	if (size == 0)
		return;
	in->flags = data[0];
	data++, size--;
	if (accepts[(in->flags >> 2) & 3])
		header(in, "accept", accepts[(in->flags >> 2) & 3], strlen(accepts[(in->flags >> 2) & 3]));
	if (auths[(in->flags >> 4) & 3])
		header(in, "authorization", auths[(in->flags >> 4) & 3], strlen(auths[(in->flags >> 4) & 3]));

	/* request line */
	size_t n = line_len(data, size);
	const char *line = (const char *)data;
	const char *sp = memchr(line, ' ', n);
	size_t mlen = sp ? (size_t)(sp - line) : n;
	in->req.method = line;
	in->req.method_len = mlen;
	const char *target = sp ? sp + 1 : line + n;
	size_t tlen = (size_t)(line + n - target);
	const char *q = memchr(target, '?', tlen);
	in->req.target = target;
	in->req.target_len = q ? (size_t)(q - target) : tlen;
	const char *psp = memchr(in->req.target, ' ', in->req.target_len);
	if (psp) /* "GET /path HTTP/1.1": the version is not part of the target */
		in->req.target_len = (size_t)(psp - in->req.target);
	if (q) {
		in->req.query = q;
		in->req.query_len = (size_t)(target + tlen - q);
	}
	data += n + (n < size), size -= n + (n < size);

	/* headers, up to an empty line */
	for (int i = 0; i < MAX_HEADERS && size > 0; i++) {
		n = line_len(data, size);
		const char *l = (const char *)data;
		data += n + (n < size), size -= n + (n < size);
		if (n == 0)
			break;
		const char *colon = memchr(l, ':', n);
		const char *v = colon ? colon + 1 : l + n;
		size_t vlen = (size_t)(l + n - v);
		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		struct gh_http_header *h = &in->headers[in->req.nheaders++];
		h->name = l;
		h->name_len = colon ? (size_t)(colon - l) : n;
		h->value = v;
		h->value_len = vlen;
	}
	in->req.body = (const char *)data;
	in->req.body_len = size;
}

/* ---- The oracle ----------------------------------------------------------------------------- */

static const char *const route_paths[] = {
	"/debug/memory/types", "/debug/memory", "/debug/memory/gc", "/debug/memory/referrers",
	"/debug/tracemalloc/start", "/debug/tracemalloc/status", "/debug/tracemalloc/top",
	"/debug/tracemalloc/snapshot", "/debug/tracemalloc/compare", "/debug/tracemalloc/traceback",
	"/debug/tracemalloc/stop", "/debug/memory/sites", "/debug/memory/dominators",
};
/* The field every 200 document of that route has (same order). */
static const char *const route_field[] = {
	"samples", "summary", "collected_objects", "top_referrers", "frames", "is_tracing",
	"top_allocations", "available_snapshots", "differences", "top_allocations", "status", "top_sites",
	"top_retainers",
};
#define NPATHS (sizeof route_paths / sizeof route_paths[0])
#define SNAPSHOT_PREFIX "/debug/tracemalloc/snapshot/"

static const char *const params[] = {
	"top_n", "sort_by", "type_name", "samples", "max_referrers", "frames", "sample_bytes",
	"name", "snapshot1", "snapshot2", "group_by", "format", "value", "snapshot", "base", "debug",
	"min_bytes", "save", "since",
};

/* The exporters (docs/export.md): a 200 is in the consumer's format. */
enum { RAW_FOLDED, RAW_PPROF, RAW_METRICS, RAW_PAGE, NRAW };
static const char *const raw_paths[NRAW] = {
	"/debug/tracemalloc/folded", "/debug/pprof/heap", "/metrics", "/debug/",
};

static int raw_route_of(const char *p, size_t n)
{
	for (int i = 0; i < NRAW; i++)
		if (strlen(raw_paths[i]) == n && memcmp(raw_paths[i], p, n) == 0)
			return i;
	return -1;
}

/* The route's index, NPATHS for DELETE .../snapshot/{name}, -1 for none. */
static int route_of(const char *p, size_t n)
{
	for (size_t i = 0; i < NPATHS; i++)
		if (strlen(route_paths[i]) == n && memcmp(route_paths[i], p, n) == 0)
			return (int)i;
	size_t k = strlen(SNAPSHOT_PREFIX);
	if (n > k && memcmp(p, SNAPSHOT_PREFIX, k) == 0 && !memchr(p + k, '/', n - k))
		return NPATHS;
	return -1;
}

static const struct gh_http_header *first(const struct gh_http_header *hs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (hs[i].name_len == strlen(name) && strncasecmp(hs[i].name, name, hs[i].name_len) == 0)
			return &hs[i];
	return NULL;
}

static size_t count(const struct gh_http_header *hs, size_t n, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += hs[i].name_len == strlen(name) && strncasecmp(hs[i].name, name, hs[i].name_len) == 0;
	return k;
}

/*
 * The oracle's own reading of a target: the path of "/..." or of
 * "http[s]://authority/..." (scheme without case, authority non-empty, path
 * "/" when absent), percent-decoded into out ("%XX" with two hex digits is
 * a byte, anything else stays). Returns the decoded length; SIZE_MAX when
 * the target has neither form; *too_long when it exceeds GH_HTTP_PATH_MAX.
 */
static size_t oracle_path(const char *t, size_t n, char *out, bool *too_long)
{
	const char *p = t;
	size_t pn = n;
	*too_long = false;
	if (n == 0 || t[0] != '/') {
		size_t k = n >= 7 && strncasecmp(t, "http://", 7) == 0 ? 7 : n >= 8 && strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
		if (k == 0)
			return SIZE_MAX;
		const char *slash = memchr(t + k, '/', n - k);
		if ((slash ? (size_t)(slash - t) : n) == k)
			return SIZE_MAX;
		p = slash ? slash : "/";
		pn = slash ? (size_t)(t + n - slash) : 1;
	}
	size_t o = 0;
	for (size_t i = 0; i < pn; i++) {
		char c = p[i];
		if (c == '%' && i + 2 < pn && isxdigit((unsigned char)p[i + 1]) && isxdigit((unsigned char)p[i + 2])) {
			char hex[3] = {p[i + 1], p[i + 2], 0};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o == GH_HTTP_PATH_MAX) {
			*too_long = true;
			return SIZE_MAX;
		}
		out[o++] = c;
	}
	return o;
}

static bool same(const struct gh_http_header *h, const char *value)
{
	return h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

static void finding(const char *what, const struct gh_http_request *req, const struct gh_http_response *res)
{
	fprintf(stderr, "fuzz_router: %s\n  request: %.*s %.*s %.*s\n  response: %d %s %.*s\n", what,
		(int)req->method_len, req->method, (int)req->target_len, req->target, (int)req->query_len,
		req->query ? req->query : "", res->status, res->content_type ? res->content_type : "?",
		(int)(res->body_len < 400 ? res->body_len : 400), res->body ? res->body : "");
	abort();
}

#define CHECK(cond, what)                                  \
	do {                                               \
		if (!(cond))                               \
			finding(what, &in->req, res);      \
	} while (0)

/* The body as a jansson tree, or NULL when it is not exactly one document:
 * JSON through jansson, msgpack through the client's decoder (which refuses
 * what the emitter never writes: bin, ext, non-string keys). */
static json_t *parse_body(const struct gh_http_response *res, bool msgpack)
{
	json_error_t err;
	if (!msgpack)
		return json_loadb(res->body, res->body_len, JSON_ALLOW_NUL, &err);
	return gh__decode(res->body, res->body_len, GH_WIRE_MSGPACK, NULL, 0);
}

static bool is_param(const char *s)
{
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
		if (strcmp(s, params[i]) == 0)
			return true;
	return false;
}

/* A 200 of an exporter: its content type and the shape of its body. */
static void check_raw(const struct input *in, const struct gh_http_response *res, int raw)
{
	const char *ct = res->content_type, *b = res->body;
	size_t n = res->body_len;
	CHECK(first(res->headers, res->nheaders, "cache-control"), "no Cache-Control");
	CHECK(!first(res->headers, res->nheaders, "allow"), "Allow on a 200");
	switch (raw) {
	case RAW_FOLDED:
		CHECK(strcmp(ct, "text/plain; charset=utf-8") == 0, "folded: content type");
		for (size_t i = 0; i < n;) { /* every line: "stack VALUE\n", VALUE > 0 */
			const char *nl = memchr(b + i, '\n', n - i);
			CHECK(nl, "folded: a line without its newline");
			size_t len = (size_t)(nl - (b + i));
			const char *sp = len ? memrchr(b + i, ' ', len) : NULL;
			CHECK(sp && sp > b + i && sp + 1 < nl && sp[1] != '0', "folded: a line without its value");
			for (const char *c = sp + 1; c < nl; c++)
				CHECK(*c >= '0' && *c <= '9', "folded: a value that is not a count");
			i += len + 1;
		}
		break;
	case RAW_PPROF:
		CHECK((strcmp(ct, "application/octet-stream") == 0 && n > 2 && (unsigned char)b[0] == 0x1f &&
		       (unsigned char)b[1] == 0x8b) ||
			      (strcmp(ct, "text/plain; charset=utf-8") == 0 && n > 14 && memcmp(b, "heap profile: ", 14) == 0),
		      "pprof: neither gzip nor the text profile");
		break;
	case RAW_METRICS:
		CHECK(strcmp(ct, "text/plain; version=0.0.4; charset=utf-8") == 0 && n > 7 && memcmp(b, "# HELP ", 7) == 0 &&
			      b[n - 1] == '\n',
		      "metrics: content type or shape");
		break;
	case RAW_PAGE:
		CHECK(strcmp(ct, "text/html; charset=utf-8") == 0 && n > 15 && memcmp(b, "<!doctype html>", 15) == 0,
		      "page: content type or shape");
		CHECK(first(res->headers, res->nheaders, "content-security-policy"), "page: no CSP");
		break;
	}
	/* only GET /debug/ is answered without the token */
	const struct gh_http_header *auth = first(in->headers, in->req.nheaders, "authorization");
	if ((in->flags & 1) && raw != RAW_PAGE)
		CHECK(auth && !same(auth, "Bearer fuzz-tokem"), "an exporter answered 200 without the token");
}

static void check(const struct input *in, const struct gh_http_response *res)
{
	const struct gh_http_request *req = &in->req;
	int st = res->status;
	static char rpath[GH_HTTP_PATH_MAX];
	bool rlong;
	size_t rplen = oracle_path(req->target, req->target_len, rpath, &rlong);
	int raw = rplen == SIZE_MAX ? -1 : raw_route_of(rpath, rplen);
	if (st == 200 && raw >= 0) {
		CHECK(res->reason && res->content_type && res->body, "an incomplete response");
		check_raw(in, res, raw);
		return;
	}
	CHECK(st == 200 || st == 400 || st == 401 || st == 403 || st == 404 || st == 405 || st == 409 ||
		      st == 414 || st == 422 || st == 503 || st == 504,
	      "a status api.md does not document");
	CHECK(res->reason && res->content_type && res->body && res->body_len > 0, "an incomplete response");
	CHECK(gh__http_reason_known(st) && strcmp(res->reason, gh__http_reason(st)) == 0,
	      "a reason phrase that is not the status's own");
	bool msgpack = strcmp(res->content_type, "application/msgpack") == 0;
	CHECK(msgpack || strcmp(res->content_type, "application/json") == 0, "an unexpected content type");

	const struct gh_http_header *allow = first(res->headers, res->nheaders, "allow");
	CHECK(first(res->headers, res->nheaders, "cache-control"), "no Cache-Control");
	CHECK((allow != NULL) == (st == 405), "Allow without 405, or 405 without Allow");
	CHECK(!allow || same(allow, "GET") || same(allow, "POST") || same(allow, "DELETE"), "Allow names no method");
	CHECK((first(res->headers, res->nheaders, "www-authenticate") != NULL) == (st == 401),
	      "WWW-Authenticate without 401, or 401 without it");
	CHECK((first(res->headers, res->nheaders, "retry-after") != NULL) == (st == 503),
	      "Retry-After without 503, or 503 without it");

	json_t *doc = parse_body(res, msgpack);
	CHECK(doc && json_is_object(doc), "the body is not one map in its content type");
	json_t *detail = json_object_get(doc, "detail");
	if (st == 422) {
		CHECK(json_is_array(detail) && json_array_size(detail) > 0, "a 422 without entries");
		for (size_t i = 0; i < json_array_size(detail); i++) {
			json_t *e = json_array_get(detail, i);
			json_t *loc = json_object_get(e, "loc");
			CHECK(json_is_array(loc) && json_array_size(loc) == 2, "a 422 entry without loc");
			const char *where = json_string_value(json_array_get(loc, 0));
			const char *param = json_string_value(json_array_get(loc, 1));
			CHECK(where && (strcmp(where, "query") == 0 || strcmp(where, "path") == 0), "a 422 loc[0]");
			CHECK(param && is_param(param), "a 422 that names no parameter of api.md");
			CHECK(json_is_string(json_object_get(e, "msg")) && json_is_string(json_object_get(e, "type")),
			      "a 422 entry without msg or type");
		}
	} else if (st != 200) {
		CHECK(json_is_string(detail), "an error without a detail string");
	}

	/* the oracle */
	bool duplicate = count(in->headers, req->nheaders, "host") > 1 || count(in->headers, req->nheaders, "origin") > 1;
	CHECK(duplicate == (st == 400 && json_is_string(detail) && strncmp(json_string_value(detail), "more than one ", 14) == 0),
	      "two Host or Origin headers and not their 400, or that 400 without them");
	if (duplicate) {
		json_decref(doc);
		return;
	}
	static char path[GH_HTTP_PATH_MAX];
	bool too_long;
	size_t plen = oracle_path(req->target, req->target_len, path, &too_long);
	CHECK(too_long == (st == 414), "a path over GH_HTTP_PATH_MAX and not 414, or a 414 without one");
	int route = plen == SIZE_MAX ? -1 : route_of(path, plen);
	const struct gh_http_header *auth = first(in->headers, req->nheaders, "authorization");
	bool token = in->flags & 1;
	if (!token)
		CHECK(st != 401, "401 without a token");
	if (token && !auth && !too_long)
		CHECK(st == 401, "no 401 without Authorization");
	if (token && auth && same(auth, "Bearer " TOKEN))
		CHECK(st != 401, "401 with the right token");
	bool not_found = st == 404 && json_is_string(detail) && strcmp(json_string_value(detail), "Not Found") == 0;
	if (route < 0 && raw < 0 && st != 401 && st != 403 && st != 414)
		CHECK(not_found, "a path that is no route is not 404 Not Found");
	if (route >= 0 && st == 200) {
		/* an answered route's ?format was json, msgpack or absent */
		gh_query_t *q = &routers[in->flags & 3].query;
		const char *fmt = gh__query_get(q, "format", NULL);
		CHECK(!fmt || strcasecmp(fmt, "json") == 0 || strcasecmp(fmt, "msgpack") == 0,
		      "a 200 with an unknown ?format");
		if (fmt)
			CHECK(msgpack == (strcasecmp(fmt, "msgpack") == 0), "?format not obeyed");
	}
	if (route >= 0 || raw >= 0)
		CHECK(!not_found, "a route's path answered Not Found");
	if (st == 200 && route >= 0 && route < (int)NPATHS)
		CHECK(json_object_get(doc, route_field[route]), "a 200 without its route's field");
	if (st == 200 && route == (int)NPATHS)
		CHECK(json_object_get(doc, "status"), "a 200 delete without status");
	json_decref(doc);
}

/* ---- The driver -------------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* churn: tracing, when on, counts these */
	gh_free(ring[ring_at]);
	ring[ring_at] = gh_malloc_typed(t_churn, 16 + (ring_at & 63) * 8);
	ring_at = (ring_at + 1) % RING;
	drop_garbage();

	struct input in;
	decode(data, size, &in);
	gh__http_opt.preview = (in.flags & 0x80) != 0;
	struct gh_http_response res;
	gh__http_dispatch(&routers[in.flags & 3], &in.req, &res);
	if (verbose)
		fprintf(stderr, "fuzz_router: %d %s %.*s %.*s -> %.*s\n", res.status, res.content_type,
			(int)in.req.method_len, in.req.method, (int)in.req.target_len, in.req.target,
			(int)(res.body_len < 400 ? res.body_len : 400), res.body);
	check(&in, &res);
	return 0;
}
