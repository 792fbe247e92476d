/*
 * internal.h -- the private header of the debug server (http/): what
 * server.c offers to the endpoint files (ep_*.c) and what they offer back.
 *
 * An endpoint is a plain function that reads its parameters from the decoded
 * query, writes one document through the emitter and sets the status:
 *
 *     server.c (h2o thread)    router.c                       ep_memory.c
 *     h2o_req_t -> request --> target -> auth -> route
 *                              -> query, format -----------> gh__ep_memory(call)
 *                                                              gh__query_int(call->q, ...)
 *                                                              gh__emit_map_begin(call->e, ...)
 *     h2o_send_inline <------- response <- emitter bytes <--- call->status = 200
 *
 * Endpoints run on the server thread only, one at a time, with every
 * allocation counted under GH_TYPE_INTERNAL ("glassheap") (the router fuzzer,
 * tests/fuzz/fuzz_router.c, calls them on its own single thread). They may
 * allocate and may walk the heap, but must be bounded in time and memory
 * whatever the request says. Nothing here is exported from libglassheap.
 */
#ifndef GH_HTTP_INTERNAL_H
#define GH_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <glassheap.h>

#include "emit.h"
#include "query.h"

/* ---- Limits of server.c ------------------------------------------------------ */

/* Open client connections at most. A new client past it takes the place of
 * the oldest connection that has not sent a complete request yet, or else of
 * the one idle longest since its last request (it is closed, with a 408 when
 * it had sent part of a request); only when every connection is sending a
 * response do new clients wait in the kernel's backlog. */
#define GH_HTTP_MAX_CONNS 128
/* A new connection has this long to send its first complete request (the
 * request line and headers), milliseconds; checked by the once-a-second
 * watchdog, so a connection is closed between this and a second more. */
#define GH_HTTP_FIRST_REQ_TIMEOUT_MS 2000
/* h2o's request timeout: a keep-alive connection's idle time between
 * requests and the time to read one once started, milliseconds. */
#define GH_HTTP_IDLE_TIMEOUT_MS 10000
/* A connection that neither reads nor writes a byte for this long is shut
 * down (h2o 2.2.5 has no write timeout of its own), milliseconds. */
#define GH_HTTP_STALL_TIMEOUT_MS 30000
/* Buffered request bytes per connection; more is shut down. h2o itself
 * answers 400 to a header block over ~417 KiB; our requests are a line. */
#define GH_HTTP_MAX_REQ_BYTES (64 * 1024)
/* Kernel receive buffer of a client connection (SO_RCVBUF; the kernel
 * doubles it): what one read event may add to a connection's input. */
#define GH_HTTP_RCVBUF (16 * 1024)
/* Request bodies (no endpoint takes one): larger ones get h2o's 413. */
#define GH_HTTP_MAX_BODY_BYTES 4096
/* glassheap's own live bytes (allocator.self) above which the symbolizer
 * (alloc/symbols.c: its caches, libdw's debug information, source files)
 * gives its memory back at once, between two requests; otherwise it does
 * after GLASSHEAP_SYMBOLS_IDLE seconds unused. */
#define GH_HTTP_SELF_MAX_BYTES ((uint64_t)64 << 20)
/* How long gh_server_stop waits for open connections to close, ms. */
#define GH_HTTP_STOP_DRAIN_MS 2000

/* ---- Options read at server start ------------------------------------------- */

struct gh_http_opts {
	bool preview; /* GLASSHEAP_PREVIEW=1: samples may show an object's first bytes */
};
extern struct gh_http_opts gh__http_opt;

/* Every type's counters (gh_stats_all) in a malloc'ed array of *n entries,
 * glassheap's own type included; NULL when out of memory. ep_memory.c. */
gh_type_stats_t *gh__http_read_stats(size_t *n);

/* ---- One call of an endpoint ------------------------------------------------- */

/* Response headers an endpoint may add (Content-Disposition, Location, the
 * page's Content-Security-Policy...). */
#define GH_HTTP_CALL_HEADERS_MAX 4

struct gh_http_call {
	gh_query_t *q;        /* the decoded query string (parsed successfully) */
	gh_emit_t *e;         /* empty emitter in the negotiated format */
	int status;           /* HTTP status; 200 unless the endpoint sets another */
	int retry_after;      /* > 0: a "Retry-After: <seconds>" header (503 busy) */
	const char *path_arg; /* the {name} of a ".../{name}" route: the percent-decoded
	                         path segment, NOT NUL-terminated, any bytes,
	                         unvalidated (gh__query_path_name); else NULL */
	size_t path_arg_len;
	/* A body in a format fixed by its consumer (Prometheus text, gzipped
	 * pprof, the HTML page), set with gh__http_raw: when raw_type is set the
	 * router sends raw with that Content-Type instead of the emitter's
	 * document. Errors still go through gh__http_detail (JSON/msgpack). */
	const char *raw_type;
	const char *raw;
	size_t raw_len;
	bool raw_owned;       /* raw is malloc'd: the router frees it */
	/* Headers the endpoint adds (static strings), gh__http_header. */
	size_t nextra;
	struct gh_http_header_static {
		const char *name, *value;
	} extra[GH_HTTP_CALL_HEADERS_MAX];
};

typedef void (*gh_http_endpoint_fn)(struct gh_http_call *call);

/* router.c: error documents. Both reset the emitter first, so an endpoint
 * may call them after emitting part of its document. */
/* {"detail": msg} with the given status. */
void gh__http_detail(struct gh_http_call *call, int status, const char *msg);
/* The 422 document of every validation error recorded in call->q. */
void gh__http_invalid(struct gh_http_call *call);
/* After an endpoint's validators: true when every parameter was valid; else
 * answers the 422 (gh__http_invalid) and returns false. */
bool gh__http_params_valid(struct gh_http_call *call);
/* Answers body (len bytes) as is, with the given static Content-Type, in
 * place of the emitter's document. owned: body was malloc'd and the router
 * frees it (after the response is sent, at its next dispatch, or when an
 * error replaces it); else it must outlive the router (static data). */
void gh__http_raw(struct gh_http_call *call, const char *content_type, const char *body, size_t len, bool owned);
/* Adds a response header; name (lower case) and value are static strings.
 * Past GH_HTTP_CALL_HEADERS_MAX headers the call is ignored. */
void gh__http_header(struct gh_http_call *call, const char *name, const char *value);

/* ---- router.c: one request in, one response out ---------------------------- */

struct gh_http_header {
	const char *name, *value; /* not NUL-terminated; any bytes */
	size_t name_len, value_len;
};

/* A request as it came in (server.c, from h2o and its parser) or as a
 * fuzzer makes it up. Every field may hold any bytes; none is NUL-terminated. */
struct gh_http_request {
	const char *method;
	size_t method_len;
	const char *target;    /* the request-target as sent, without its query: origin-form
	                          "/debug/memory" (percent-encoded, dot segments and all) or
	                          absolute-form "http://127.0.0.1:8000/debug/memory" */
	size_t target_len;
	const char *query;     /* from the '?' on (one leading '?' is skipped); NULL: none */
	size_t query_len;
	const struct gh_http_header *headers; /* every header field as received, in order,
	                                         Host and duplicates included; names
	                                         compared without case */
	size_t nheaders;
	const char *body;      /* no endpoint reads it */
	size_t body_len;
};

/* Headers of a response besides Content-Type: Cache-Control, Allow,
 * WWW-Authenticate, Retry-After (in that order, each when it applies), then
 * the endpoint's own (gh__http_header). */
#define GH_HTTP_RES_HEADERS_MAX (4 + GH_HTTP_CALL_HEADERS_MAX)

/* The longest request path the router decodes (after percent-decoding);
 * a longer one is answered 414. No route comes near it. */
#define GH_HTTP_PATH_MAX 8192

struct gh_http_response {
	int status;
	const char *reason;       /* static (status.c) */
	const char *content_type; /* static */
	const char *body;         /* owned by the router: valid until its next dispatch */
	size_t body_len;
	size_t nheaders;
	struct gh_http_header headers[GH_HTTP_RES_HEADERS_MAX]; /* lower-case names */
	char retry_after[16];     /* the Retry-After value's storage */
};

/* What answers requests: the server's token and socket kind (set by the
 * owner before the first dispatch), and the state reused between requests. */
struct gh_http_router {
	const char *token;   /* GLASSHEAP_TOKEN, token_len bytes; token_len 0: none */
	size_t token_len;
	bool unix_socket;    /* no browser checks: a browser cannot reach it */
	gh_query_t query;    /* one request at a time: reused */
	gh_emit_t *emit[2];  /* per format, created on first use, reused */
	char path[GH_HTTP_PATH_MAX]; /* the decoded path of the current request */
	char *raw;           /* the last response's malloc'd raw body (gh__http_raw), or NULL */
};

/* Answers one request: the request's form (400 for a duplicate Host or
 * Origin, 414), authentication (401), browser checks (403), routing (404,
 * 405), query decoding (400), the format parameter (422), then the
 * endpoint. The format is negotiated first (?format, else Accept), so that
 * every answer but the last resort comes in it. Never fails: out of memory
 * is a 500 (a static JSON body as a last resort). One thread at a time per
 * router; may allocate, walk the heap and stop the world (the endpoints do). */
void gh__http_dispatch(struct gh_http_router *r, const struct gh_http_request *req,
		       struct gh_http_response *res);
/* Frees the router's emitters (the last response's body with them). */
void gh__http_router_dispose(struct gh_http_router *r);

/* ---- ep_memory.c: the GC family's read-only endpoints ----------------------- */

/* GET /debug/memory (top_n, sort_by). Counters only: never walks the heap. */
void gh__ep_memory(struct gh_http_call *call);
/* GET /debug/memory/types (type_name, samples). Counters for the figures;
 * a bounded heap walk for the samples. */
void gh__ep_memory_types(struct gh_http_call *call);
/* GET /debug/memory/sites (top_n, sort_by, type_name): live objects per
 * allocation site, from a heap walk (ep_sites.c). */
void gh__ep_memory_sites(struct gh_http_call *call);
/* The "gc_stats" value shared with POST /debug/memory/gc:
 * {"collections":[..],"thresholds":[..],"garbage_count":n}. */
void gh__http_emit_gc_stats(gh_emit_t *e);

/* The type a client names: the registered name byte for byte, else a name
 * that shows as it (a name registered with ill-formed UTF-8 is displayed
 * with U+FFFD, utf8.h: that display form finds it too; of several such
 * types, the lowest id). GH_TYPE_NONE when none. name need not be
 * NUL-terminated. */
gh_type_t gh__http_type_lookup(const char *name, size_t len);

/* "function (file:line)" for a site id, symbolized with libdw (symbols.c);
 * "function (module+0xoff)" or "module+0xoff" without debug information.
 * Allocates (outside malloc): server thread only. */
void gh__http_site_text(uint32_t site, char *buf, size_t len);

/* ---- ep_gc.c: the GC family's reachability endpoints ------------------------ */

/* POST /debug/memory/gc: one reachability pass; frees unreachable objects of
 * collectable types; a live leak report. 503 + Retry-After while another
 * stop-the-world operation runs. */
void gh__ep_memory_gc(struct gh_http_call *call);
/* GET /debug/memory/referrers (type_name, max_referrers). */
void gh__ep_memory_referrers(struct gh_http_call *call);
/* ---- ep_dominators.c: retained sizes ------------------------------------------ */
/* GET /debug/memory/dominators (top_n, type_name, min_bytes, save, since). */
void gh__ep_memory_dominators(struct gh_http_call *call);

/* ---- ep_trace.c: the tracemalloc family --------------------------------------- */

void gh__ep_trace_start(struct gh_http_call *call);
void gh__ep_trace_status(struct gh_http_call *call);
void gh__ep_trace_top(struct gh_http_call *call);
void gh__ep_trace_snapshot(struct gh_http_call *call);
void gh__ep_trace_compare(struct gh_http_call *call);
void gh__ep_trace_traceback(struct gh_http_call *call);
void gh__ep_trace_delete(struct gh_http_call *call);
void gh__ep_trace_stop(struct gh_http_call *call);

/* ---- The exporters: formats fixed by their consumers (export.h) ------------- */

/* ep_folded.c: GET /debug/tracemalloc/folded (value, snapshot, base):
 * folded stacks, text/plain. */
void gh__ep_trace_folded(struct gh_http_call *call);
/* ep_pprof.c: GET /debug/pprof/heap (debug): gzipped profile.proto, or the
 * legacy text heap profile with debug=1. Walks the heap. */
void gh__ep_pprof_heap(struct gh_http_call *call);
/* ep_metrics.c: GET /metrics: Prometheus text format 0.0.4. Counters only. */
void gh__ep_metrics(struct gh_http_call *call);
/* ep_page.c: GET /debug/: the HTML page (answered without the token). */
void gh__ep_page(struct gh_http_call *call);

#endif /* GH_HTTP_INTERNAL_H */
