/*
 * router.c -- one request in, one response out: the request's form,
 * authentication, the browser checks, routing, format negotiation, query
 * decoding and the endpoint call, on plain data, without h2o.
 *
 * Entry points: gh__http_dispatch (a request description -> status, content
 * type, headers, body), gh__http_router_dispose, and the error documents the
 * endpoints use (gh__http_detail, gh__http_invalid).
 *
 *   server.c on_req: h2o_req_t --> struct gh_http_request
 *                                          |
 *   gh__http_dispatch:  format (?format, Accept) -> one Host, one Origin (400)
 *                       -> target: origin- or absolute-form, percent-decoded
 *                       (414) -> auth (401) -> browser (403) -> path (404)
 *                       -> method (405 + Allow) -> query decoding (400)
 *                       -> ?format's value (422) -> endpoint (200, 4xx, 5xx)
 *                                          |
 *   server.c on_req: h2o_send_inline <-- struct gh_http_response
 *
 * Paths match exactly, as sent: percent-decoded, never normalized ("." and
 * ".." segments are plain segments, so /debug/x/../memory is no route), as
 * Starlette matches them.
 *
 * Kept apart from server.c so that tests/fuzz/fuzz_router.c drives exactly
 * what the server runs, with arbitrary methods, targets, queries and headers,
 * and tests/unit/http/test_router.c checks every rule against stub endpoints.
 * Runs on one thread at a time per router (the server thread): the router's
 * query, path buffer and emitters are reused from one request to the next.
 */
#include "internal.h"
#include "status.h"

#include "../alloc/introspect.h"

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
 * registration wins); the decision is made here, exactly on the decoded
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
	{"/debug/memory/sites", "GET", gh__ep_memory_sites, false},
	{"/debug/memory", "GET", gh__ep_memory, false},
	{"/debug/memory/gc", "POST", gh__ep_memory_gc, false},
	{"/debug/memory/referrers", "GET", gh__ep_memory_referrers, false},
	{"/debug/memory/dominators", "GET", gh__ep_memory_dominators, false},
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
	gh__emit_kv_cstr(call->e, "detail", msg);
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

bool gh__http_params_valid(struct gh_http_call *call)
{
	if (!gh__query_failed(call->q))
		return true;
	gh__http_invalid(call);
	return false;
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

/* The last resort when not even an error document can be built: a static
 * JSON body, which needs no allocation. */
static void static_out_of_memory(struct gh_http_response *res)
{
	static const char body[] = "{\"detail\":\"out of memory\"}";
	res->status = 500;
	res->reason = gh__http_reason(500);
	res->content_type = "application/json";
	res->body = body;
	res->body_len = sizeof body - 1;
	res->nheaders = 0;
}

/* The emitter's document as the response (the body stays in the emitter),
 * or the endpoint's raw body (kept by the router until its next dispatch). */
static void respond(struct gh_http_router *r, struct gh_http_response *res, struct gh_http_call *call,
		    const char *allow, bool challenge)
{
	if (call->raw_type) {
		res->status = call->status;
		res->reason = gh__http_reason(call->status);
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
	/* An endpoint's document is well formed: only memory may run out. */
	gh_assert(body || gh__emit_error(call->e) == GH_EMIT_ENOMEM);
	if (!body) {
		gh__http_detail(call, 500, "Internal Server Error");
		body = gh__emit_data(call->e, &len);
		if (!body) {
			static_out_of_memory(res);
			return;
		}
	}
	res->status = call->status;
	res->reason = gh__http_reason(call->status);
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

static void respond_detail(struct gh_http_router *r, struct gh_http_response *res, struct gh_http_call *call,
			   int status, const char *msg)
{
	gh__http_detail(call, status, msg);
	respond(r, res, call, NULL, status == 401);
}

/* ---- Request headers ---------------------------------------------------------------- */

/* The first header of that (lower-case) name, compared without case, and
 * how many there are; NULL when absent. */
static const struct gh_http_header *find_header(const struct gh_http_request *req, const char *name, size_t *count)
{
	size_t n = strlen(name), seen = 0;
	const struct gh_http_header *first = NULL;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct gh_http_header *h = &req->headers[i];
		if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
			if (!first)
				first = h;
			seen++;
		}
	}
	if (count)
		*count = seen;
	return first;
}

/* ---- Format negotiation ------------------------------------------------------------- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ows((*s)[*n - 1]))
		(*n)--;
}

static bool token_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* End of the Accept element or parameter starting at s: the next unquoted sep. */
static size_t scan_to(const char *s, size_t n, char sep)
{
	bool quoted = false;
	for (size_t i = 0; i < n; i++) {
		if (quoted && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == sep)
			return i;
	}
	return n;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
 * A malformed weight counts as 1: the client did name the type. */
static int parse_q(const char *s, size_t n)
{
	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return 1000;
	int q = (s[0] - '0') * 1000, scale = 100;
	if (n > 1) {
		if (s[1] != '.' || n > 5)
			return 1000;
		for (size_t i = 2; i < n; i++, scale /= 10) {
			if (s[i] < '0' || s[i] > '9')
				return 1000;
			q += (s[i] - '0') * scale;
		}
	}
	return q > 1000 ? 1000 : q;
}

/*
 * What Accept asks for: msgpack when a media range "application/msgpack" or
 * "application/x-msgpack" is present with q > 0 and a q no lower than that of
 * an explicit "application/json" (so "application/json, application/msgpack"
 * is msgpack; "application/msgpack;q=0" is not); else JSON.
 */
static enum gh_emit_format accept_format(const char *accept, size_t accept_len)
{
	int mq = -1, jq = -1;
	size_t i = 0;
	while (accept && i < accept_len) {
		const char *el = accept + i;
		size_t el_len = scan_to(el, accept_len - i, ',');
		i += el_len + 1;

		size_t type_len = scan_to(el, el_len, ';');
		const char *type = el;
		size_t tn = type_len;
		trim(&type, &tn);
		bool msgpack = token_is(type, tn, "application/msgpack") ||
			       token_is(type, tn, "application/x-msgpack");
		bool json = token_is(type, tn, "application/json");
		if (!msgpack && !json)
			continue;
		int q = 1000;
		size_t j = type_len;
		while (j < el_len) {
			const char *par = el + j + 1;
			size_t pn = scan_to(par, el_len - j - 1, ';');
			j += pn + 1;
			trim(&par, &pn);
			if (pn >= 2 && (par[0] == 'q' || par[0] == 'Q') && par[1] == '=')
				q = parse_q(par + 2, pn - 2);
		}
		if (msgpack && q > mq)
			mq = q;
		if (json && q > jq)
			jq = q;
	}
	return mq > 0 && mq >= jq ? GH_EMIT_MSGPACK : GH_EMIT_JSON;
}

/* ?format's choices, as the 422 names them. The value is matched without
 * ASCII case ("MSGPACK" is msgpack). */
static const char *const FORMAT_CHOICES[] = {"json", "msgpack"};

/*
 * The response format (api.md, "format"): ?format=json|msgpack decides;
 * else the Accept header. *bad_format: ?format has another value (a 422
 * once the route is known; its document follows Accept).
 */
static enum gh_emit_format negotiate(const struct gh_http_request *req, const gh_query_t *q, bool query_ok,
				     bool *bad_format)
{
	const char *fmt = query_ok ? gh__query_get(q, "format", NULL) : NULL;
	*bad_format = false;
	if (fmt) {
		if (strcasecmp(fmt, FORMAT_CHOICES[0]) == 0)
			return GH_EMIT_JSON;
		if (strcasecmp(fmt, FORMAT_CHOICES[1]) == 0)
			return GH_EMIT_MSGPACK;
		*bad_format = true;
	}
	const struct gh_http_header *accept = find_header(req, "accept", NULL);
	return accept_format(accept ? accept->value : NULL, accept ? accept->value_len : 0);
}

/* ---- The request target ------------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (cap bytes): "%XX" is a byte, a '%' not
 * followed by two hex digits stays as it is (Python's unquote). Returns the
 * decoded length, or SIZE_MAX when it does not fit. */
static size_t decode_path(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;
		if (c == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (k == cap)
			return SIZE_MAX;
		out[k++] = (char)c;
	}
	return k;
}

/* The parts of a request-target that routing needs: the (still encoded)
 * path, and for the absolute-form its authority. */
struct target {
	const char *path;
	size_t path_len;
	const char *authority; /* NULL: origin-form, the Host header says */
	size_t authority_len;
	bool known_form;       /* origin- or absolute-form; else no route can match */
};

/*
 * origin-form "/path" or absolute-form "http://authority/path" (RFC 9112
 * section 3.2: a server MUST accept the absolute-form, and then ignores
 * Host). Anything else ("*", "path") routes nowhere.
 */
static struct target parse_target(const char *t, size_t n)
{
	struct target out = {.path = t, .path_len = n, .known_form = n > 0 && t[0] == '/'};
	static const char *const schemes[] = {"http://", "https://"};
	for (size_t i = 0; !out.known_form && i < 2; i++) {
		size_t k = strlen(schemes[i]);
		if (n < k || strncasecmp(t, schemes[i], k) != 0)
			continue;
		const char *auth = t + k;
		const char *slash = memchr(auth, '/', n - k);
		out.authority = auth;
		out.authority_len = slash ? (size_t)(slash - auth) : n - k;
		out.path = slash ? slash : "/";
		out.path_len = slash ? (size_t)(t + n - slash) : 1;
		out.known_form = out.authority_len > 0;
	}
	return out;
}

/* ---- Authentication and browsers ---------------------------------------------------- */

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
	const struct gh_http_header *h = find_header(req, "authorization", NULL);
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

/* The host part of "host[:port]" or "[v6]:port": with loopback_only, is it
 * a loopback literal or "localhost"; else, is it anything but a DNS name
 * (an IP literal, "localhost", or one label without a dot: no public name)? */
static bool not_a_dns_name(const char *h, size_t n, bool loopback_only)
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
 * Returns why a request is refused, or NULL.
 */
static const char *browser_refusal(const struct gh_http_router *r, const struct gh_http_request *req,
				   const char *authority, size_t authority_len)
{
	if (r->token_len != 0 || r->unix_socket)
		return NULL; /* a browser cannot add the token, nor reach a Unix socket */
	const struct gh_http_header *h = find_header(req, "origin", NULL);
	if (h) {
		const char *base = h->value;
		size_t len = h->value_len;
		const char *sep = len > 3 ? memchr(base, ':', len) : NULL;
		if (!sep || (size_t)(base + len - sep) < 3 || sep[1] != '/' || sep[2] != '/' ||
		    !not_a_dns_name(sep + 3, (size_t)(base + len - sep - 3), true))
			return "a cross-site request (Origin) to a server without GLASSHEAP_TOKEN";
	}
	if (!not_a_dns_name(authority, authority_len, false))
		return "a Host that is a DNS name (DNS rebinding?) to a server without GLASSHEAP_TOKEN";
	return NULL;
}

/* GET /debug/, the page's static shell, is answered without the token: a
 * browser cannot add the header to a navigation; the page asks for the
 * token and sends it with each of its calls (ep_page.c). */
static bool open_route(const struct gh_http_request *req, const char *path, size_t path_len)
{
	static const char page[] = "/debug/";
	return req->method_len == 3 && memcmp(req->method, "GET", 3) == 0 && path_len == sizeof page - 1 &&
	       memcmp(path, page, sizeof page - 1) == 0;
}

/* ---- Dispatch ------------------------------------------------------------------------ */

static gh_emit_t *emitter_for(struct gh_http_router *r, enum gh_emit_format fmt)
{
	int i = fmt == GH_EMIT_MSGPACK;
	if (!r->emit[i])
		r->emit[i] = gh__emit_new(fmt);
	else
		gh__emit_reset(r->emit[i]);
	return r->emit[i];
}

/* Records ?format's 422 entry, as gh__query_enum would for a case-sensitive
 * enum (the accepted values are the same, without case). */
static void invalid_format(gh_query_t *q)
{
	size_t which;
	gh__query_enum(q, "format", FORMAT_CHOICES, 2, -1, &which);
}

void gh__http_dispatch(struct gh_http_router *r, const struct gh_http_request *req, struct gh_http_response *res)
{
	struct gh_http_call call = {.q = &r->query, .status = 200};
	memset(res, 0, sizeof *res);
	free(r->raw); /* the previous response's raw body: sent by now */
	r->raw = NULL;

	int qrc = gh__query_parse(&r->query, req->query, req->query_len);
	bool bad_format;
	call.e = emitter_for(r, negotiate(req, &r->query, qrc == 0, &bad_format));
	if (!call.e) {
		static_out_of_memory(res);
		return;
	}

	/* RFC 9110 section 7.2 and RFC 6454: one Host, one Origin. */
	size_t nhost, norigin;
	const struct gh_http_header *host = find_header(req, "host", &nhost);
	find_header(req, "origin", &norigin);
	if (nhost > 1 || norigin > 1) {
		respond_detail(r, res, &call, 400, nhost > 1 ? "more than one Host header" : "more than one Origin header");
		return;
	}
	struct target t = parse_target(req->target, req->target_len);
	const char *authority = t.authority ? t.authority : host ? host->value : "";
	size_t authority_len = t.authority ? t.authority_len : host ? host->value_len : 0;
	size_t path_len = decode_path(t.path, t.path_len, r->path, sizeof r->path);
	if (path_len == SIZE_MAX) {
		respond_detail(r, res, &call, 414, "Request-URI Too Long");
		return;
	}

	if (!authorized(r, req) && !open_route(req, t.known_form ? r->path : "", t.known_form ? path_len : 0)) {
		respond_detail(r, res, &call, 401, "Not authenticated");
		return;
	}
	const char *why = browser_refusal(r, req, authority, authority_len);
	if (why) {
		respond_detail(r, res, &call, 403, why);
		return;
	}

	const struct route *found = NULL, *other = NULL;
	for (size_t i = 0; t.known_form && i < NROUTES && !found; i++) {
		const char *arg = NULL;
		size_t arg_len = 0;
		if (!route_matches(&routes[i], r->path, path_len, &arg, &arg_len))
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
		respond(r, res, &call, other->method, false);
		return;
	}
	if (!found) {
		respond_detail(r, res, &call, 404, "Not Found");
		return;
	}
	if (qrc != 0) {
		respond_detail(r, res, &call, 400, gh__query_strerror(qrc));
		return;
	}
	if (bad_format) {
		invalid_format(call.q);
		gh__http_invalid(&call);
	} else {
		found->fn(&call);
	}
	respond(r, res, &call, NULL, false);
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
