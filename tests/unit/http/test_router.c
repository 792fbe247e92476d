/*
 * test_router.c -- http/router.c's rules, with stub endpoints (no core, no
 * h2o): what a request's form, headers and target get before any endpoint
 * runs.
 *
 *   - one Host and one Origin: a duplicate is a 400 with a JSON detail
 *   - paths match exactly as sent, percent-decoded and never normalized:
 *     "." and ".." segments are no way into a route
 *   - the absolute-form target (RFC 9112 section 3.2.2) routes like the
 *     origin-form; its authority, not Host, is what the browser check reads
 *   - ?format=json|msgpack (any case) or Accept picks the format; another
 *     ?format value is a 422 naming format, in the format Accept asks for
 *   - every answer's reason phrase is its own (status.c), an over-long path
 *     is a 414, and every error has {"detail": ...}
 *
 * The stubs answer {"ep": "<name>"} (and the {name} of DELETE .../snapshot/
 * as "name"), so that a test sees which endpoint ran.
 */
#include "internal.h"
#include "test.h"

#include <jansson.h>

/* ---- Stub endpoints ------------------------------------------------------------------ */

/* The core's assertion path (alloc/options.c), for GLASSHEAP_DEBUG builds:
 * router.c checks that an endpoint's document is well formed. */
_Noreturn void gh__assert_fail(const char *file, int line, const char *expr);
_Noreturn void gh__assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	abort();
}

static int calls; /* endpoint calls so far */

static void stub(struct gh_http_call *call, const char *name)
{
	calls++;
	gh__emit_map_begin(call->e, call->path_arg ? 2 : 1);
	gh__emit_kv_cstr(call->e, "ep", name);
	if (call->path_arg)
		gh__emit_kv_str(call->e, "name", call->path_arg, call->path_arg_len);
	gh__emit_map_end(call->e);
}

/* /debug/memory validates top_n as the real one does. */
void gh__ep_memory(struct gh_http_call *call)
{
	int64_t top_n;
	if (!gh__query_int(call->q, "top_n", 1, 100, 20, &top_n)) {
		gh__http_invalid(call);
		return;
	}
	stub(call, "memory");
}

#define STUB(fn, name)                                   \
	void fn(struct gh_http_call *call)               \
	{                                                \
		stub(call, name);                        \
	}
STUB(gh__ep_memory_types, "types")
STUB(gh__ep_memory_sites, "sites")
STUB(gh__ep_memory_gc, "gc")
STUB(gh__ep_memory_referrers, "referrers")
STUB(gh__ep_memory_dominators, "dominators")
STUB(gh__ep_trace_start, "start")
STUB(gh__ep_trace_status, "status")
STUB(gh__ep_trace_top, "top")
STUB(gh__ep_trace_snapshot, "snapshot")
STUB(gh__ep_trace_compare, "compare")
STUB(gh__ep_trace_traceback, "traceback")
STUB(gh__ep_trace_delete, "delete")
STUB(gh__ep_trace_stop, "stop")
STUB(gh__ep_trace_folded, "folded")
STUB(gh__ep_pprof_heap, "pprof")
STUB(gh__ep_metrics, "metrics")

/* The page: a raw body, and the one route answered without the token. */
void gh__ep_page(struct gh_http_call *call)
{
	gh__http_raw(call, "text/html; charset=utf-8", "<!doctype html>", 15, false);
}

/* ---- Requests ------------------------------------------------------------------------ */

static struct gh_http_router router; /* no token, TCP: browser checks on */
static struct gh_http_response res;
static json_t *doc;                   /* the last JSON answer, parsed */

/* One request: target with its query, header lines "Name: value" (NULL-
 * terminated). Returns the status; doc holds a JSON body. */
static int request(const char *method, const char *target, const char *const *lines)
{
	struct gh_http_header hs[16];
	size_t n = 0;
	for (; lines && lines[n]; n++) {
		const char *colon = strchr(lines[n], ':');
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		hs[n] = (struct gh_http_header){.name = lines[n], .name_len = (size_t)(colon - lines[n]),
						.value = v, .value_len = strlen(v)};
	}
	struct gh_http_request req = {.method = method, .method_len = strlen(method), .target = target,
				      .target_len = strlen(target), .headers = hs, .nheaders = n};
	const char *q = strchr(target, '?');
	if (q) {
		req.target_len = (size_t)(q - target);
		req.query = q;
		req.query_len = strlen(q);
	}
	json_decref(doc);
	doc = NULL;
	gh__http_dispatch(&router, &req, &res);
	if (strcmp(res.content_type, "application/json") == 0) {
		json_error_t err;
		doc = json_loadb(res.body, res.body_len, 0, &err);
		if (!doc)
			fprintf(stderr, "  not JSON: %.*s\n", (int)res.body_len, res.body);
	}
	return res.status;
}

static const char *const LOCAL[] = {"Host: 127.0.0.1:8000", NULL};

static int get(const char *target)
{
	return request("GET", target, LOCAL);
}

static const char *detail(void)
{
	return json_string_value(json_object_get(doc, "detail"));
}

static const char *ep(void)
{
	return json_string_value(json_object_get(doc, "ep"));
}

/* ---- One Host, one Origin -------------------------------------------------------------- */

TEST(duplicate_host_or_origin_is_400)
{
	static const char *const two_hosts[] = {"Host: 127.0.0.1:8000", "Host: attacker.example", NULL};
	EXPECT_EQ(request("GET", "/debug/memory", two_hosts), 400);
	EXPECT_STREQ(detail(), "more than one Host header");
	EXPECT_STREQ(res.reason, "Bad Request");
	static const char *const mixed_case[] = {"host: localhost", "HOST: localhost", NULL};
	EXPECT_EQ(request("GET", "/debug/memory", mixed_case), 400);
	static const char *const two_origins[] = {"Host: 127.0.0.1", "Origin: http://127.0.0.1",
						  "Origin: http://127.0.0.1", NULL};
	EXPECT_EQ(request("GET", "/debug/memory", two_origins), 400);
	EXPECT_STREQ(detail(), "more than one Origin header");
	/* before anything else: not even a 404 or a 405 */
	EXPECT_EQ(request("POST", "/nope", two_hosts), 400);
	int before = calls;
	EXPECT_EQ(request("POST", "/debug/memory/gc", two_hosts), 400);
	EXPECT_EQ(calls, before); /* the endpoint did not run */
	static const char *const one_each[] = {"Host: 127.0.0.1", "Origin: http://127.0.0.1", NULL};
	EXPECT_EQ(request("GET", "/debug/memory", one_each), 200);
	static const char *const none[] = {NULL};
	EXPECT_EQ(request("GET", "/debug/memory", none), 200); /* HTTP/1.0: no Host at all */
}

/* ---- Exact paths ---------------------------------------------------------------------- */

TEST(paths_match_exactly_as_sent)
{
	EXPECT_EQ(get("/debug/memory"), 200);
	EXPECT_STREQ(ep(), "memory");
	static const char *const not_routes[] = {
		"/debug/x/../memory", "/debug/./memory", "/debug/memory/.", "/debug/memory/types/..",
		"/debug/memory/types/../../memory", "//debug/memory", "/debug//memory", "/debug/memory/",
		"/debug/%2E%2E/debug/memory", "/./debug/memory", "/debug/tracemalloc/x/../status",
	};
	for (size_t i = 0; i < sizeof not_routes / sizeof not_routes[0]; i++) {
		if (get(not_routes[i]) != 404 || !detail() || strcmp(detail(), "Not Found") != 0)
			GH_TEST_FAIL_("%s -> %d, want 404 Not Found", not_routes[i], res.status);
	}
	/* percent-decoding is not normalizing */
	EXPECT_EQ(get("/debug/%6Demory"), 200);
	EXPECT_STREQ(ep(), "memory");
	EXPECT_EQ(get("/debug/memory%2Ftypes?type_name=x"), 200);
	EXPECT_STREQ(ep(), "types");
	EXPECT_EQ(get("/debug/memory/sites?top_n=5"), 200);
	EXPECT_STREQ(ep(), "sites");
	EXPECT_EQ(get("/debug/memory/sitesX"), 404);
	EXPECT_EQ(get("/debug/memory%"), 404); /* a lone '%' stays a '%' */
	EXPECT_EQ(get("/debug/memory/dominators?top_n=5"), 200);
	EXPECT_STREQ(ep(), "dominators");
	EXPECT_EQ(get("/debug/memory/dominators/"), 404);
	EXPECT_EQ(request("POST", "/debug/memory/dominators", LOCAL), 405);
	/* "." and ".." are plain names in a {name} segment */
	EXPECT_EQ(request("DELETE", "/debug/tracemalloc/snapshot/..", LOCAL), 200);
	EXPECT_STREQ(ep(), "delete");
	EXPECT_STREQ(json_string_value(json_object_get(doc, "name")), "..");
	EXPECT_EQ(request("DELETE", "/debug/tracemalloc/snapshot/a%2Fb", LOCAL), 404);
	EXPECT_EQ(request("DELETE", "/debug/tracemalloc/snapshot/a%20b", LOCAL), 200);
	EXPECT_STREQ(json_string_value(json_object_get(doc, "name")), "a b");
}

TEST(an_overlong_path_is_414)
{
	size_t n = GH_HTTP_PATH_MAX + 10;
	char *t = malloc(n + 1);
	ASSERT_TRUE(t != NULL);
	memset(t, 'a', n);
	t[0] = '/';
	t[n] = '\0';
	EXPECT_EQ(get(t), 414);
	EXPECT_STREQ(res.reason, "Request-URI Too Long");
	EXPECT_TRUE(detail() != NULL);
	t[GH_HTTP_PATH_MAX] = '\0'; /* exactly the bound: decoded, no route */
	EXPECT_EQ(get(t), 404);
	free(t);
}

/* ---- Absolute-form ----------------------------------------------------------------------- */

TEST(absolute_form_routes_like_origin_form)
{
	EXPECT_EQ(get("http://127.0.0.1:8000/debug/memory"), 200);
	EXPECT_STREQ(ep(), "memory");
	EXPECT_EQ(get("HTTP://localhost/debug/memory/types?type_name=x"), 200);
	EXPECT_STREQ(ep(), "types");
	EXPECT_EQ(get("https://127.0.0.1/debug/tracemalloc/status"), 200);
	EXPECT_EQ(get("http://127.0.0.1:8000/debug/memory?top_n=0"), 422);
	EXPECT_EQ(request("POST", "http://127.0.0.1:8000/debug/memory", LOCAL), 405);
	EXPECT_EQ(get("http://127.0.0.1:8000"), 404); /* path "/" */
	EXPECT_EQ(get("http://127.0.0.1:8000?top_n=1"), 404);
	EXPECT_EQ(get("http:///debug/memory"), 404); /* no authority */
	EXPECT_EQ(get("ftp://127.0.0.1/debug/memory"), 404);
	EXPECT_EQ(get("*"), 404);
	EXPECT_EQ(get("debug/memory"), 404);
	EXPECT_EQ(get("http://127.0.0.1/debug/x/../memory"), 404);
	/* its authority replaces Host (RFC 9112 3.2.2): the browser check reads it */
	EXPECT_EQ(get("http://attacker.example/debug/memory"), 403);
	static const char *const dns_host[] = {"Host: attacker.example", NULL};
	EXPECT_EQ(request("GET", "http://127.0.0.1:8000/debug/memory", dns_host), 200);
	EXPECT_EQ(request("GET", "/debug/memory", dns_host), 403);
}

/* ---- Format ------------------------------------------------------------------------------ */

TEST(unknown_format_is_422_naming_format)
{
	int before = calls;
	EXPECT_EQ(get("/debug/memory?format=xml"), 422);
	EXPECT_EQ(calls, before);
	EXPECT_STREQ(res.reason, "Unprocessable Entity");
	json_t *e = json_array_get(json_object_get(doc, "detail"), 0);
	json_t *loc = json_object_get(e, "loc");
	EXPECT_STREQ(json_string_value(json_array_get(loc, 0)), "query");
	EXPECT_STREQ(json_string_value(json_array_get(loc, 1)), "format");
	EXPECT_STREQ(json_string_value(json_object_get(e, "type")), "enum");
	EXPECT_STREQ(json_string_value(json_object_get(e, "msg")), "Input should be 'json' or 'msgpack'");
	EXPECT_STREQ(json_string_value(json_object_get(e, "input")), "xml");
	EXPECT_STREQ(json_string_value(json_object_get(json_object_get(e, "ctx"), "expected")), "'json' or 'msgpack'");
	EXPECT_EQ(get("/debug/memory?format="), 422);
	/* a POST endpoint does not run either */
	before = calls;
	EXPECT_EQ(request("POST", "/debug/memory/gc?format=yaml", LOCAL), 422);
	EXPECT_EQ(calls, before);
	/* the 422 follows Accept */
	static const char *const mp[] = {"Host: 127.0.0.1", "Accept: application/msgpack", NULL};
	EXPECT_EQ(request("GET", "/debug/memory?format=xml", mp), 422);
	EXPECT_STREQ(res.content_type, "application/msgpack");
	/* routing first: an unknown path stays 404 */
	EXPECT_EQ(get("/nope?format=xml"), 404);
	/* the known values, in any case */
	EXPECT_EQ(get("/debug/memory?format=MsgPack"), 200);
	EXPECT_STREQ(res.content_type, "application/msgpack");
	EXPECT_EQ(get("/debug/memory?format=JSON"), 200);
	EXPECT_STREQ(res.content_type, "application/json");
}

static const char *negotiated(const char *accept, const char *fmt)
{
	char target[128], hdr[256];
	snprintf(target, sizeof target, "/debug/tracemalloc/status%s%s", fmt ? "?format=" : "", fmt ? fmt : "");
	snprintf(hdr, sizeof hdr, "Accept: %s", accept ? accept : "");
	const char *lines[] = {"Host: 127.0.0.1", accept ? hdr : NULL, NULL};
	request("GET", target, lines);
	return res.status == 200 && strcmp(res.content_type, "application/msgpack") == 0 ? "msgpack" : "json";
}

TEST(negotiation)
{
	EXPECT_STREQ(negotiated(NULL, NULL), "json");
	EXPECT_STREQ(negotiated("", NULL), "json");
	EXPECT_STREQ(negotiated("*/*", NULL), "json");
	EXPECT_STREQ(negotiated("application/*", NULL), "json");
	EXPECT_STREQ(negotiated("application/json", NULL), "json");
	EXPECT_STREQ(negotiated("application/msgpack", NULL), "msgpack");
	EXPECT_STREQ(negotiated("application/x-msgpack", NULL), "msgpack");
	EXPECT_STREQ(negotiated("APPLICATION/MsgPack", NULL), "msgpack");
	EXPECT_STREQ(negotiated("  application/msgpack  ", NULL), "msgpack");
	EXPECT_STREQ(negotiated("text/html, application/msgpack;q=0.9", NULL), "msgpack");
	EXPECT_STREQ(negotiated("text/html,application/x-msgpack ; charset=binary ; q=0.5,*/*;q=0.1", NULL),
		     "msgpack");
	EXPECT_STREQ(negotiated("application/msgpack;q=0", NULL), "json");
	EXPECT_STREQ(negotiated("application/msgpack; q=0.000", NULL), "json");
	EXPECT_STREQ(negotiated("application/msgpack;q=0.001", NULL), "msgpack");
	EXPECT_STREQ(negotiated("application/json;q=1, application/msgpack;q=0.5", NULL), "json");
	EXPECT_STREQ(negotiated("application/json;q=0.5, application/msgpack", NULL), "msgpack");
	EXPECT_STREQ(negotiated("application/json, application/msgpack", NULL), "msgpack");
	EXPECT_STREQ(negotiated("application/msgpack;q=bogus", NULL), "msgpack");
	EXPECT_STREQ(negotiated("application/msgpackx", NULL), "json");
	EXPECT_STREQ(negotiated("xapplication/msgpack", NULL), "json");
	EXPECT_STREQ(negotiated("text/plain;x=\"a,application/msgpack\", application/json", NULL), "json");
	EXPECT_STREQ(negotiated(",,,;;;,", NULL), "json");
	/* ?format= wins over Accept */
	EXPECT_STREQ(negotiated("application/json", "msgpack"), "msgpack");
	EXPECT_STREQ(negotiated(NULL, "MsgPack"), "msgpack");
	EXPECT_STREQ(negotiated("application/msgpack", "json"), "json");
	EXPECT_STREQ(negotiated("application/msgpack", "JSON"), "json");
}

/* ---- Reason phrases and documents -------------------------------------------------------- */

TEST(reasons_and_details)
{
	EXPECT_EQ(get("/debug/memory"), 200);
	EXPECT_STREQ(res.reason, "OK");
	EXPECT_EQ(request("PUT", "/debug/memory", LOCAL), 405);
	EXPECT_STREQ(res.reason, "Method Not Allowed");
	EXPECT_STREQ(detail(), "Method Not Allowed");
	EXPECT_EQ(res.nheaders, 2);
	EXPECT_TRUE(res.headers[1].value_len == 3 && memcmp(res.headers[1].value, "GET", 3) == 0);
	EXPECT_EQ(get("/debug/memory?top_n=%zz"), 400);
	EXPECT_STREQ(res.reason, "Bad Request");
	EXPECT_STREQ(detail(), "malformed percent-escape in query string");
	EXPECT_EQ(get("/debug/memory?top_n=99999999999999999999"), 422);
	json_t *e = json_array_get(json_object_get(doc, "detail"), 0);
	EXPECT_STREQ(json_string_value(json_object_get(e, "type")), "less_than_equal");
	EXPECT_EQ(get("/nope"), 404);
	EXPECT_STREQ(res.reason, "Not Found");
}

int main(void)
{
	int rc = RUN_TESTS();
	json_decref(doc);
	gh__http_router_dispose(&router);
	return rc;
}
