/*
 * router.c -- one request in, one response out: authentication, the browser
 * checks, routing, format negotiation, query decoding and the endpoint call,
 * on plain data, without h2o.
 *
 * Entry points: gh__http_dispatch (a request description -> status, content
 * type, headers, body), gh__http_router_dispose, and the error documents the
 * endpoints use (gh__http_detail, gh__http_invalid).
 *
 *   server.c on_req: h2o_req_t --> struct gh_http_request
 *                                          |
 *   gh__http_dispatch:  negotiate (Accept, ?format) -> auth (401) -> browser
 *                       (403) -> path (404) -> method (405 + Allow) -> query
 *                       decoding (400) -> endpoint (200, 4xx, 422, 5xx)
 *                                          |
 *   server.c on_req: h2o_send_inline <-- struct gh_http_response
 *
 * Kept apart from server.c so that tests/fuzz/fuzz_router.c drives exactly
 * what the server runs, with arbitrary methods, paths, queries and headers.
 * Runs on one thread at a time per router (the server thread): the router's
 * query and emitters are reused from one request to the next.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Set by server.c at start (GLASSHEAP_PREVIEW), read by the endpoints. */
struct gh_http_opts gh__http_opt;

/* ---- Routes ---------------------------------------------------------------------- */

/*
 * Every path of api.md, each with its endpoint.
 * h2o sees a single handler at "/" (its own routing is by prefix, first
 * registration wins); the decision is made here, exactly on the normalized
 * path, so "/debug/memory/typesX" or "/debug/memory/" are 404 whatever the
 * order (longer paths still come first, as they would have to in h2o). A
 * route with `arg` matches its prefix followed by one non-empty segment
 * ({name}). A path that matches only with another method gets 405 + Allow.
 */
struct route {
	const char *path;
	const char *method;
	gh_http_endpoint_fn fn;
	bool arg;
};

static const struct route routes[] = {
	{"/debug/memory/types", "GET", gh__ep_memory_types, false},
	{"/debug/memory", "GET", gh__ep_memory, false},
	{"/debug/memory/gc", "POST", gh__ep_memory_gc, false},
	{"/debug/memory/referrers", "GET", gh__ep_memory_referrers, false},
	{"/debug/tracemalloc/start", "POST", gh__ep_trace_start, false},
	{"/debug/tracemalloc/status", "GET", gh__ep_trace_status, false},
	{"/debug/tracemalloc/top", "GET", gh__ep_trace_top, false},
	{"/debug/tracemalloc/snapshot", "POST", gh__ep_trace_snapshot, false},
	{"/debug/tracemalloc/compare", "GET", gh__ep_trace_compare, false},
	{"/debug/tracemalloc/traceback", "GET", gh__ep_trace_traceback, false},
	{"/debug/tracemalloc/snapshot/", "DELETE", gh__ep_trace_delete, true},
	{"/debug/tracemalloc/stop", "POST", gh__ep_trace_stop, false},
	{"/debug/tracemalloc/folded", "GET", gh__ep_trace_folded, false},
	{"/debug/pprof/heap", "GET", gh__ep_pprof_heap, false},
	{"/metrics", "GET", gh__ep_metrics, false},
	{"/debug/", "GET", gh__ep_page, false},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static bool route_matches(const struct route *r, const char *path, size_t len, const char **arg,
			  size_t *arg_len)
{
	size_t n = strlen(r->path);
	if (!r->arg)
		return len == n && memcmp(path, r->path, n) == 0;
	if (len <= n || memcmp(path, r->path, n) != 0 || memchr(path + n, '/', len - n))
		return false;
	*arg = path + n;
	*arg_len = len - n;
	return true;
}

/* ---- Responses ------------------------------------------------------------------- */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 422: return "Unprocessable Entity";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Error" : "Internal Server Error";
	}
}

/* Drops a raw body and the endpoint's headers: an error document replaces them. */
static void drop_raw(struct gh_http_call *call)
{
	if (call->raw_owned)
		free((void *)call->raw);
	call->raw_type = NULL;
	call->raw = NULL;
	call->raw_len = 0;
	call->raw_owned = false;
	call->nextra = 0;
}

void gh__http_raw(struct gh_http_call *call, const char *content_type, const char *body, size_t len, bool owned)
{
	drop_raw(call);
	call->raw_type = content_type;
	call->raw = body;
	call->raw_len = len;
	call->raw_owned = owned;
}

void gh__http_header(struct gh_http_call *call, const char *name, const char *value)
{
	if (call->nextra < GH_HTTP_CALL_HEADERS_MAX)
		call->extra[call->nextra++] = (struct gh_http_header_static){name, value};
}

void gh__http_detail(struct gh_http_call *call, int status, const char *msg)
{
	drop_raw(call);
	gh__emit_reset(call->e);
	gh__emit_map_begin(call->e, 1);
	gh__emit_key(call->e, "detail");
	gh__emit_cstr(call->e, msg);
	gh__emit_map_end(call->e);
	call->status = status;
}

void gh__http_invalid(struct gh_http_call *call)
{
	drop_raw(call);
	gh__emit_reset(call->e);
	gh__query_emit_errors(call->q, call->e);
	call->status = 422;
}

static void add_header(struct gh_http_response *res, const char *name, const char *value)
{
	if (res->nheaders >= GH_HTTP_RES_HEADERS_MAX)
		return; /* cannot happen: at most four are ever added */
	struct gh_http_header *h = &res->headers[res->nheaders++];
	h->name = name;
	h->name_len = strlen(name);
	h->value = value;
	h->value_len = strlen(value);
}

/* The last resort when not even an error document can be built: h2o's
 * own plain-text error (h2o_send_error_generic's content type). */
static void plain_out_of_memory(struct gh_http_response *res)
{
	static const char body[] = "out of memory\n";
	res->status = 500;
	res->reason = "Internal Server Error";
	res->content_type = "text/plain; charset=utf-8";
	res->body = body;
	res->body_len = sizeof body - 1;
	res->nheaders = 0;
}

/* The emitter's document as the response (the body stays in the emitter),
 * or the endpoint's raw body (kept by the router until its next dispatch). */
static void finish(struct gh_http_router *r, struct gh_http_response *res, struct gh_http_call *call,
		   const char *allow, bool challenge)
{
	if (call->raw_type) {
		res->status = call->status;
		res->reason = reason_phrase(call->status);
		res->content_type = call->raw_type;
		res->body = call->raw;
		res->body_len = call->raw_len;
		if (call->raw_owned)
			r->raw = (char *)call->raw;
		res->nheaders = 0;
		add_header(res, "cache-control", "no-store");
		for (size_t i = 0; i < call->nextra; i++)
			add_header(res, call->extra[i].name, call->extra[i].value);
		return;
	}
	size_t len;
	const char *body = gh__emit_data(call->e, &len);
	if (!body) {
		gh__http_detail(call, 500, "Internal Server Error");
		body = gh__emit_data(call->e, &len);
		if (!body) {
			plain_out_of_memory(res);
			return;
		}
	}
	res->status = call->status;
	res->reason = reason_phrase(call->status);
	res->content_type = gh__emit_content_type(call->e);
	res->body = body;
	res->body_len = len;
	res->nheaders = 0;
	add_header(res, "cache-control", "no-store");
	if (allow)
		add_header(res, "allow", allow);
	if (challenge)
		add_header(res, "www-authenticate", "Bearer");
	if (call->retry_after > 0) {
		snprintf(res->retry_after, sizeof res->retry_after, "%d", call->retry_after);
		add_header(res, "retry-after", res->retry_after);
	}
	for (size_t i = 0; i < call->nextra; i++)
		add_header(res, call->extra[i].name, call->extra[i].value);
}

/* ---- Requests -------------------------------------------------------------------- */

/* The first header of that (lower-case) name, compared without case; NULL
 * when absent. */
static const struct gh_http_header *find_header(const struct gh_http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct gh_http_header *h = &req->headers[i];
		if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
			return h;
	}
	return NULL;
}

/* Compares in time that depends only on the configured token's length. */
static bool token_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
	unsigned diff = got_len != want_len;
	for (size_t i = 0; i < want_len; i++) {
		unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
		diff |= g ^ (unsigned char)want[i];
	}
	return diff == 0;
}

static bool authorized(const struct gh_http_router *r, const struct gh_http_request *req)
{
	if (r->token_len == 0)
		return true;
	const struct gh_http_header *h = find_header(req, "authorization");
	if (!h)
		return false;
	const char *v = h->value;
	size_t n = h->value_len;
	if (n < 7 || strncasecmp(v, "bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
		return false;
	v += 7;
	n -= 7;
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return token_equal(v, n, r->token, r->token_len);
}

/* The host part of "host[:port]" or "[v6]:port": is it an IP literal,
 * "localhost", or a name without a dot (one label: no public DNS name)? */
static bool local_host_name(const char *h, size_t n, bool loopback_only)
{
	if (n > 0 && h[0] == '[') { /* IPv6 literal */
		const char *end = memchr(h, ']', n);
		return end && (!loopback_only || ((size_t)(end - h) == 4 && memcmp(h, "[::1", 4) == 0));
	}
	const char *colon = memchr(h, ':', n);
	if (colon)
		n = (size_t)(colon - h);
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	bool digits_dots = n > 0, dot = false;
	for (size_t i = 0; i < n; i++) {
		dot |= h[i] == '.';
		digits_dots &= (h[i] >= '0' && h[i] <= '9') || h[i] == '.';
	}
	if (loopback_only)
		return digits_dots && n > 4 && memcmp(h, "127.", 4) == 0;
	return digits_dots || !dot;
}

/*
 * Without a token, a web browser can be turned against a loopback server: a
 * page on any site can POST a form to http://127.0.0.1:port/... (no CORS
 * preflight for that), and a DNS name rebound to 127.0.0.1 lets a page read
 * the answers. Browsers say who is asking: refuse an Origin that is not
 * loopback, and a Host that is a DNS name (DNS rebinding). curl, the client
 * and scripts send no Origin and an address, "localhost" or a one-label Host.
 */
static const char *browser_request(const struct gh_http_router *r, const struct gh_http_request *req)
{
	if (r->token_len != 0 || r->unix_socket)
		return NULL; /* a browser cannot add the token, nor reach a Unix socket */
	const struct gh_http_header *h = find_header(req, "origin");
	if (h) {
		const char *base = h->value;
		size_t len = h->value_len;
		const char *sep = len > 3 ? memchr(base, ':', len) : NULL;
		if (!sep || (size_t)(base + len - sep) < 3 || sep[1] != '/' || sep[2] != '/' ||
		    !local_host_name(sep + 3, (size_t)(base + len - sep - 3), true))
			return "a cross-site request (Origin) to a server without GLASSHEAP_TOKEN";
	}
	if (!local_host_name(req->authority, req->authority_len, false))
		return "a Host that is a DNS name (DNS rebinding?) to a server without GLASSHEAP_TOKEN";
	return NULL;
}

/* GET /debug/, the page's static shell, is answered without the token: a
 * browser cannot add the header to a navigation; the page asks for the
 * token and sends it with each of its calls (ep_page.c). */
static bool open_route(const struct gh_http_request *req)
{
	static const char path[] = "/debug/";
	return req->method_len == 3 && memcmp(req->method, "GET", 3) == 0 && req->path_len == sizeof path - 1 &&
	       memcmp(req->path, path, sizeof path - 1) == 0;
}

static gh_emit_t *emitter_for(struct gh_http_router *r, enum gh_emit_format fmt)
{
	int i = fmt == GH_EMIT_MSGPACK;
	if (!r->emit[i])
		r->emit[i] = gh__emit_new(fmt);
	else
		gh__emit_reset(r->emit[i]);
	return r->emit[i];
}

void gh__http_dispatch(struct gh_http_router *r, const struct gh_http_request *req, struct gh_http_response *res)
{
	struct gh_http_call call = {.q = &r->query, .status = 200};
	memset(res, 0, sizeof *res);
	free(r->raw); /* the previous response's raw body: sent by now */
	r->raw = NULL;

	int qrc = gh__query_parse(&r->query, req->query, req->query_len);
	const struct gh_http_header *accept = find_header(req, "accept");
	const char *fmt_param = qrc == 0 ? gh__query_get(&r->query, "format", NULL) : NULL;
	call.e = emitter_for(r, gh__emit_negotiate(accept ? accept->value : NULL, accept ? accept->value_len : 0,
						   fmt_param));
	if (!call.e) {
		plain_out_of_memory(res);
		return;
	}

	if (!authorized(r, req) && !open_route(req)) {
		gh__http_detail(&call, 401, "Not authenticated");
		finish(r, res, &call, NULL, true);
		return;
	}
	const char *why = browser_request(r, req);
	if (why) {
		gh__http_detail(&call, 403, why);
		finish(r, res, &call, NULL, false);
		return;
	}

	const struct route *found = NULL, *other = NULL;
	for (size_t i = 0; i < NROUTES && !found; i++) {
		const char *arg = NULL;
		size_t arg_len = 0;
		if (!route_matches(&routes[i], req->path, req->path_len, &arg, &arg_len))
			continue;
		size_t mlen = strlen(routes[i].method);
		if (req->method_len == mlen && memcmp(req->method, routes[i].method, mlen) == 0) {
			found = &routes[i];
			call.path_arg = arg;
			call.path_arg_len = arg_len;
		} else if (!other) {
			other = &routes[i];
		}
	}

	if (!found && other) {
		gh__http_detail(&call, 405, "Method Not Allowed");
		finish(r, res, &call, other->method, false);
		return;
	}
	if (!found) {
		gh__http_detail(&call, 404, "Not Found");
		finish(r, res, &call, NULL, false);
		return;
	}
	if (qrc != 0)
		gh__http_detail(&call, 400, gh__query_strerror(qrc));
	else
		found->fn(&call);
	finish(r, res, &call, NULL, false);
}

void gh__http_router_dispose(struct gh_http_router *r)
{
	for (int i = 0; i < 2; i++) {
		gh__emit_free(r->emit[i]);
		r->emit[i] = NULL;
	}
	free(r->raw);
	r->raw = NULL;
}
