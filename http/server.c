/*
 * server.c -- the embedded debug server: an h2o 2.2.5 event loop on its own
 * thread, its listener and its connections. What a request gets is decided
 * by router.c; this file moves bytes between h2o and the router.
 *
 * Entry points: gh_server_start, gh_server_port, gh_server_stop (public), and
 * the GLASSHEAP_HTTP constructor that starts the server at load time.
 *
 * Life of a server (one at a time per process):
 *
 *   host thread: gh_server_start("127.0.0.1:0")
 *     parse, check loopback/token, socket+bind+listen    (errors: errno + one log line)
 *     pthread_create with every signal blocked --------> server thread
 *     wait for "ready"                                     scope GH_TYPE_INTERNAL
 *                                                          h2o config, context, listener
 *                                      <-----------------  "ready"
 *   host thread: gh_server_stop()                          loop: h2o_evloop_run
 *     h2o_multithread_send_message(stop) -------------->   control message: stop flag
 *     pthread_join                                         close listener, shut down
 *                                                          connections, drain, dispose
 *
 * Every request goes to one h2o handler (on_req) that hands a plain
 * description of it to router.c (the request's form, authentication,
 * routing by exact path against api.md's routes, format negotiation, the
 * endpoint call: ep_*.c) and sends back what the router answers. h2o's own
 * error responses (a 413 body, a broken chunked encoding) get the same JSON
 * {"detail": ...} body through a filter (error_filter). All of it runs on
 * the server thread; whatever it allocates is counted under "glassheap".
 *
 * Connections (slowloris, half-open clients): a new connection has
 * GH_HTTP_FIRST_REQ_TIMEOUT_MS to send its first request; past the cap of
 * GH_HTTP_MAX_CONNS a new client takes the place of the oldest connection
 * that has not sent a complete request, or else of the longest-idle one
 * (on_accept), so that idle or dripping clients never lock others out.
 *
 * Traps of h2o 2.2.5 handled here (design.md section 6): it writes without
 * MSG_NOSIGNAL (the thread blocks every signal but world.c's stop signal, so
 * a reset client cannot raise SIGPIPE in the host); HTTP/2 upgrade is off
 * (2.2.5 predates the rapid-reset fix); HTTP/1 has no shutdown hook and no
 * write timeout (we track connections ourselves, shut them down at stop and
 * cut stalled ones); the HTTP/2 graceful-shutdown timer must be unlinked
 * before h2o_context_dispose; the evloop build forgets its epoll descriptor,
 * its queue and its per-thread caches at destruction (released here, so
 * start/stop cycles do not leak).
 */
#include "internal.h"
#include "listen.h"
#include "status.h"

#include "../alloc/ext.h"
#include "../alloc/introspect.h"
#include "../alloc/trace.h"

#include <errno.h>
#include <stdatomic.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>

/* The longest GLASSHEAP_TOKEN accepted. */
#define TOKEN_MAX 1024
/* Connection slots beyond GH_HTTP_MAX_CONNS: a new client waits in one while
 * the connection it replaces closes (on_accept). */
#define SPARE_CONNS 4
#define CONN_SLOTS (GH_HTTP_MAX_CONNS + SPARE_CONNS)

/* ---- Server state -------------------------------------------------------------- */

struct conn {
	h2o_socket_t *sock; /* NULL: free slot */
	int fd;
	size_t progress;       /* bytes read + written at the last watchdog tick */
	uint64_t progress_at;  /* loop time of the last change */
	uint64_t accepted_at;  /* loop time */
	uint64_t waiting_since; /* loop time since which it waits for a request:
	                           its accept, or the end of its last request */
	uint64_t requests;     /* complete requests received */
	bool closing;          /* shut down by us, its close not yet seen */
	struct server *srv;
};

struct server {
	/* Set by the starting thread before the server thread runs. */
	int listen_fd;
	int family;
	char desc[GH_LISTEN_DESC_MAX]; /* "127.0.0.1:8000" or "unix:/path", for logs */
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t unix_dev;
	ino_t unix_ino;
	char token[TOKEN_MAX + 1];   /* router.token points here */
	pthread_t thread;

	/* start handshake (mu, cv): 0 pending, 1 running */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;

	/* Owned by the server thread. */
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	h2o_evloop_t *loop;
	h2o_socket_t *listener;
	bool listener_paused;
	h2o_multithread_receiver_t control;
	h2o_multithread_message_t stop_msg;
	bool stop;                   /* set only by the control message */
	h2o_timeout_t watchdog;
	h2o_timeout_entry_t watchdog_entry;
	h2o_timeout_t host_check;       /* is any thread of the program left? */
	h2o_timeout_entry_t host_check_entry;
	pid_t tid;                      /* the server thread's */
	size_t nconns;               /* open connections, closing ones included */
	size_t nclosing;             /* of which shut down by us, not yet closed */
	struct conn conns[CONN_SLOTS];
	char timeout_response[256];  /* the raw 408 sent to a connection cut mid-request */
	size_t timeout_response_len;
	struct gh_http_router router; /* token, socket kind; reused query and emitters */
};

struct handler {
	h2o_handler_t super;
	struct server *srv;
};

/*
 * api_lock serializes start and stop; `running` and `bound_port` are read
 * without it (gh_server_port). A fork child keeps neither the thread nor the
 * right to the parent's socket: see atfork_child.
 */
static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;
static struct server *running;
static _Atomic int bound_port;
static GH_TLS bool tl_server_thread;

/* ---- Requests -------------------------------------------------------------------- */

/* picohttpparser, inside libh2o-evloop (2.2.5 installs no header for it):
 * the parser h2o itself ran on the request. */
struct phr_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
		      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
		      size_t last_len);

/* h2o's header limit (H2O_MAX_HEADERS in lib/http1.c). */
#define RAW_HEADERS_MAX 100

/*
 * The request's header fields as the client sent them, Host and duplicates
 * included: h2o keeps only the last Host (as the authority) and drops the
 * others, and RFC 9110 wants a request with two answered 400. Until the
 * response is done, h2o keeps the request's bytes at the start of the
 * socket's input buffer; they are parsed again here with h2o's own parser.
 * Returns the count, or SIZE_MAX when those bytes are not this request's
 * (then h2o's list and its authority are used).
 */
static size_t raw_headers(h2o_req_t *req, struct gh_http_header *out)
{
	h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
	if (!sock || !sock->input || req->version >= 0x200)
		return SIZE_MAX;
	struct phr_header hs[RAW_HEADERS_MAX];
	size_t n = RAW_HEADERS_MAX, mlen, plen;
	const char *m, *p;
	int minor;
	int rc = phr_parse_request(sock->input->bytes, sock->input->size, &m, &mlen, &p, &plen, &minor, hs, &n, 0);
	if (rc <= 0 || !h2o_memis(m, mlen, req->input.method.base, req->input.method.len) ||
	    !h2o_memis(p, plen, req->input.path.base, req->input.path.len))
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		out[i] = (struct gh_http_header){.name = hs[i].name, .name_len = hs[i].name_len,
						 .value = hs[i].value, .value_len = hs[i].value_len};
	return n;
}

static struct conn *conn_of(struct server *srv, h2o_req_t *req)
{
	h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
	for (size_t i = 0; sock && i < CONN_SLOTS; i++)
		if (srv->conns[i].sock == sock)
			return &srv->conns[i];
	return NULL;
}

/* h2o's request -> router.c -> h2o's response. The target goes as sent
 * (the router decodes it, never normalizes it); the body is already
 * bounded (GH_HTTP_MAX_BODY_BYTES). */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct server *srv = ((struct handler *)self)->srv;
	struct conn *c = conn_of(srv, req);
	if (c) {
		c->requests++;
		c->waiting_since = h2o_now(srv->loop);
	}

	struct gh_http_header *hs = h2o_mem_alloc_pool(&req->pool, (RAW_HEADERS_MAX + req->headers.size + 1) * sizeof *hs);
	size_t nh = raw_headers(req, hs);
	if (nh == SIZE_MAX) {
		nh = 0;
		for (size_t i = 0; i < req->headers.size; i++) {
			const h2o_header_t *h = &req->headers.entries[i];
			hs[nh++] = (struct gh_http_header){.name = h->name->base, .name_len = h->name->len,
							   .value = h->value.base, .value_len = h->value.len};
		}
		hs[nh++] = (struct gh_http_header){.name = "host", .name_len = 4, .value = req->input.authority.base,
						   .value_len = req->input.authority.len};
	}
	struct gh_http_request in = {
		.method = req->input.method.base, .method_len = req->input.method.len,
		.target = req->input.path.base, .target_len = req->input.path.len,
		.headers = hs, .nheaders = nh,
		.body = req->entity.base, .body_len = req->entity.len,
	};
	if (req->query_at != SIZE_MAX) {
		in.target_len = req->query_at;
		in.query = req->input.path.base + req->query_at;
		in.query_len = req->input.path.len - req->query_at;
	}

	struct gh_http_response out;
	gh__http_dispatch(&srv->router, &in, &out);

	req->res.status = out.status;
	req->res.reason = out.reason;
	req->res.content_length = out.body_len;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, out.content_type,
		       strlen(out.content_type));
	for (size_t i = 0; i < out.nheaders; i++) {
		const struct gh_http_header *h = &out.headers[i];
		h2o_iovec_t v = h2o_strdup(&req->pool, h->value, h->value_len);
		h2o_add_header_by_str(&req->pool, &req->res.headers, h->name, h->name_len, 1, NULL, v.base, v.len);
	}
	h2o_send_inline(req, out.body, out.body_len);
	return 0;
}

/* ---- h2o's own error responses ----------------------------------------------------- */

/*
 * h2o answers some requests itself, in text/plain, before any handler runs:
 * a body over GH_HTTP_MAX_BODY_BYTES (413), a broken chunked encoding or
 * Content-Length (400), an unknown Expect (417). This filter, on every path
 * h2o can bind such a request to, gives them the body every other error has,
 * {"detail": "<reason phrase>"} in JSON, and the reason phrase of status.c.
 * Our own responses are never text/plain and pass through untouched. (A
 * request line h2o cannot parse at all is answered by h2o's HTTP/1 layer
 * directly, "400 Bad Request" in text/plain: no filter sees it.)
 */
struct error_body {
	h2o_ostream_t super;
	h2o_iovec_t body;
};

/* h2o_send_inline sends the whole body in one call (none for HEAD). */
static void error_body_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
			    h2o_send_state_t state)
{
	struct error_body *o = (struct error_body *)self;
	(void)bufs;
	h2o_iovec_t body = o->body;
	size_t n = bufcnt > 0 && body.len > 0 ? 1 : 0;
	o->body.len = 0;
	h2o_ostream_send_next(&o->super, req, &body, n, state);
}

static void error_filter(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	(void)self;
	ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
	h2o_iovec_t *ctv = ct >= 0 ? &req->res.headers.entries[ct].value : NULL;
	if (req->res.status >= 400 && ctv && ctv->len >= 10 && memcmp(ctv->base, "text/plain", 10) == 0) {
		const char *reason = gh__http_reason(req->res.status);
		h2o_iovec_t body = h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("{\"detail\":\"")),
					      h2o_iovec_init(reason, strlen(reason)), h2o_iovec_init(H2O_STRLIT("\"}")));
		req->res.reason = reason;
		req->res.content_length = body.len;
		*ctv = h2o_iovec_init(H2O_STRLIT("application/json"));
		struct error_body *o = (struct error_body *)h2o_add_ostream(req, sizeof *o, slot);
		o->super.do_send = error_body_send;
		o->body = body;
		slot = &o->super.next;
	}
	h2o_setup_next_ostream(req, slot);
}

/* ---- Connections ----------------------------------------------------------------- */

static void on_accept(h2o_socket_t *listener, const char *err);

static void listener_resume(struct server *srv)
{
	if (srv->listener && srv->listener_paused && !srv->stop && srv->nconns < CONN_SLOTS) {
		srv->listener_paused = false;
		h2o_socket_read_start(srv->listener, on_accept);
	}
}

static void listener_pause(struct server *srv)
{
	if (!srv->listener_paused) {
		h2o_socket_read_stop(srv->listener);
		srv->listener_paused = true;
	}
}

static void on_conn_close(void *data)
{
	struct conn *c = data;
	struct server *srv = c->srv;
	if (c->closing)
		srv->nclosing--;
	c->sock = NULL;
	c->fd = -1;
	c->closing = false;
	srv->nconns--;
	listener_resume(srv);
}

/* Is c waiting for (the rest of) a request? h2o handles a request on the
 * loop in one go (on_req answers at once), so a connection that is not
 * writing a response is reading one, or idle between two. */
static bool conn_waiting(const struct conn *c)
{
	return c->sock && !c->closing && !h2o_socket_is_writing(c->sock);
}

/*
 * Closes a waiting connection: a 408 with a JSON detail when it has sent
 * part of a request (written straight to the socket: h2o is not writing
 * on it), nothing when it is idle; then shut down, so that h2o's read sees
 * the end and closes it.
 */
static void conn_cut(struct server *srv, struct conn *c)
{
	if (c->sock->input && c->sock->input->size > 0)
		(void)send(c->fd, srv->timeout_response, srv->timeout_response_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(c->fd, SHUT_RDWR);
	c->closing = true;
	srv->nclosing++;
}

/*
 * The connection to give up its place: the oldest one that has not sent a
 * complete request yet (half-open, or dripping), else the one idle longest
 * since its last request (a client that was served before loses its
 * kept-alive connection, not its answer), else NULL.
 */
static struct conn *replaceable(struct server *srv)
{
	struct conn *fresh = NULL, *idle = NULL;
	for (size_t i = 0; i < CONN_SLOTS; i++) {
		struct conn *c = &srv->conns[i];
		if (!conn_waiting(c))
			continue;
		if (c->requests == 0 && (!fresh || c->accepted_at < fresh->accepted_at))
			fresh = c;
		if (c->requests > 0 && (!idle || c->waiting_since < idle->waiting_since))
			idle = c;
	}
	return fresh ? fresh : idle;
}

/*
 * Accepts what the listener has. At the cap (GH_HTTP_MAX_CONNS open, not
 * counting those we are closing), a new client is accepted only when a
 * waiting connection can give up its place (replaceable): that one is cut
 * (conn_cut) and the new one waits in a spare slot while it closes. When none can (every
 * connection is sending a response, or SPARE_CONNS replacements are under
 * way), the listener pauses and new clients wait in the kernel's backlog
 * until a connection closes (on_conn_close) or the watchdog retries.
 */
static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct server *srv = listener->data;
	if (err != NULL)
		return;
	for (int n = 0; n < 16; n++) {
		struct conn *victim = NULL;
		if (srv->nconns - srv->nclosing >= GH_HTTP_MAX_CONNS) {
			victim = srv->nconns < CONN_SLOTS ? replaceable(srv) : NULL;
			if (!victim) {
				listener_pause(srv);
				return;
			}
		}
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: pause, the watchdog retries next second
				 * (level-triggered epoll would spin otherwise). */
				listener_pause(srv);
			}
			return;
		}
		if (victim)
			conn_cut(srv, victim);
		if (srv->family != AF_UNIX) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		/* h2o reads until the kernel has nothing more, growing the input
		 * buffer as it goes, and only then parses: a small receive buffer
		 * bounds what one read event can add, so h2o's own limit on a
		 * request (~417 KiB) is what bounds a connection's buffer. */
		int rcvbuf = GH_HTTP_RCVBUF;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
		struct conn *c = NULL;
		for (size_t i = 0; i < CONN_SLOTS && !c; i++)
			if (!srv->conns[i].sock)
				c = &srv->conns[i];
		if (!c) { /* cannot happen: nconns < CONN_SLOTS */
			close(fd);
			return;
		}
		h2o_socket_t *sock = h2o_evloop_socket_create(srv->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
		uint64_t now = h2o_now(srv->loop);
		*c = (struct conn){.sock = sock, .fd = fd, .srv = srv, .progress_at = now, .accepted_at = now,
				   .waiting_since = now};
		srv->nconns++;
		sock->on_close.cb = on_conn_close;
		sock->on_close.data = c;
		h2o_accept(&srv->accept_ctx, sock);
	}
}

/* Once a second: cut connections that have not sent a first request in
 * time, that stall or that buffer too much, and retry a paused listener. */
static void on_watchdog(h2o_timeout_entry_t *entry)
{
	struct server *srv = H2O_STRUCT_FROM_MEMBER(struct server, watchdog_entry, entry);
	uint64_t now = h2o_now(srv->loop);
	for (size_t i = 0; i < CONN_SLOTS; i++) {
		struct conn *c = &srv->conns[i];
		if (!c->sock || c->closing)
			continue;
		size_t progress = c->sock->bytes_read + c->sock->bytes_written;
		if (progress != c->progress) {
			c->progress = progress;
			c->progress_at = now;
		}
		bool stalled = now - c->progress_at > GH_HTTP_STALL_TIMEOUT_MS;
		bool too_big = c->sock->input && c->sock->input->size > GH_HTTP_MAX_REQ_BYTES;
		bool late = c->requests == 0 && now - c->accepted_at > GH_HTTP_FIRST_REQ_TIMEOUT_MS;
		if (late && conn_waiting(c))
			conn_cut(srv, c);
		else if (stalled || too_big)
			shutdown(c->fd, SHUT_RDWR);
	}
	listener_resume(srv);
	h2o_timeout_link(srv->loop, &srv->watchdog, &srv->watchdog_entry);
}

/* Five times a second: glassheap's own memory (below), and when every thread of the program has exited (main
 * called pthread_exit, the last other thread returned), only this thread
 * keeps the process alive, with every signal blocked. The process ends as
 * it would have without us: exit(0), as POSIX specifies for the last
 * thread's exit. */
static void on_host_check(h2o_timeout_entry_t *entry)
{
	struct server *srv = H2O_STRUCT_FROM_MEMBER(struct server, host_check_entry, entry);
	if (gh__world_host_gone(srv->tid)) {
		if (srv->unix_path[0])
			unlink(srv->unix_path);
		exit(0);
	}
	/* glassheap's own memory, between requests (no frame handed out is in
	 * use): the symbolizer's caches and libdw's debug information go back
	 * once idle, or at once when glassheap holds more than its cap. */
	gh_type_stats_t self;
	bool over = gh_type_stats(GH_TYPE_INTERNAL, &self) == 0 && self.live_bytes > GH_HTTP_SELF_MAX_BYTES;
	gh__sym_release(gh__opt_symbols_idle_ns(), over);
	h2o_timeout_link(srv->loop, &srv->host_check, &srv->host_check_entry);
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	struct server *srv = H2O_STRUCT_FROM_MEMBER(struct server, control, receiver);
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		h2o_linklist_unlink(&m->link);
		if (m == &srv->stop_msg)
			srv->stop = true;
	}
}

/* ---- The server thread ------------------------------------------------------------- */

static void setup(struct server *srv)
{
	h2o_config_init(&srv->config);
	srv->config.server_name = h2o_iovec_init(H2O_STRLIT("glassheap"));
	srv->config.http1.req_timeout = GH_HTTP_IDLE_TIMEOUT_MS;
	srv->config.http1.upgrade_to_http2 = 0;
	srv->config.max_request_entity_size = GH_HTTP_MAX_BODY_BYTES;
	h2o_hostconf_t *host = h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	struct handler *h = (struct handler *)h2o_create_handler(path, sizeof *h);
	h->super.on_req = on_req;
	h->srv = srv;
	/* h2o binds a request it answers before routing (a 413) to the host's
	 * fallback path: the error filter goes on both. */
	h2o_create_filter(path, sizeof(h2o_filter_t))->on_setup_ostream = error_filter;
	h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = error_filter;
	static const char detail_408[] = "{\"detail\":\"Request Timeout\"}";
	int n = snprintf(srv->timeout_response, sizeof srv->timeout_response,
			 "HTTP/1.1 408 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
			 gh__http_reason(408), sizeof detail_408 - 1, detail_408);
	srv->timeout_response_len = n > 0 && (size_t)n < sizeof srv->timeout_response ? (size_t)n : 0;

	srv->loop = h2o_evloop_create();
	h2o_context_init(&srv->ctx, srv->loop, &srv->config);
	srv->accept_ctx.ctx = &srv->ctx;
	srv->accept_ctx.hosts = srv->config.hosts;
	h2o_multithread_register_receiver(srv->ctx.queue, &srv->control, on_control);

	srv->listener = h2o_evloop_socket_create(srv->loop, srv->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
	srv->listener->data = srv;
	h2o_socket_read_start(srv->listener, on_accept);

	h2o_timeout_init(srv->loop, &srv->watchdog, 1000);
	srv->watchdog_entry.cb = on_watchdog;
	h2o_timeout_link(srv->loop, &srv->watchdog, &srv->watchdog_entry);
	h2o_timeout_init(srv->loop, &srv->host_check, 200);
	srv->host_check_entry.cb = on_host_check;
	h2o_timeout_link(srv->loop, &srv->host_check, &srv->host_check_entry);
}

/* The epoll descriptor of an evloop: h2o 2.2.5's h2o_evloop_destroy does not
 * close it. The layout is that of lib/common/socket/evloop/epoll.c.h; the
 * descriptor is closed only if /proc confirms it is an epoll instance. */
struct evloop_epoll_layout {
	h2o_evloop_t super;
	int ep;
};

static int evloop_epoll_fd(h2o_evloop_t *loop)
{
	int fd = ((struct evloop_epoll_layout *)loop)->ep;
	char link[64], target[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventpoll]") == 0 ? fd : -1;
}

/* h2o 2.2.5 keeps up to 16 memory-pool chunks (a static thread-local) and
 * 16 socket buffers per thread and never frees them at thread exit. Drain
 * both, so that a start/stop cycle gives back what it took: the buffers
 * through their public recycler, the pool chunks by taking every cached
 * chunk into a pool (1008-byte requests: four per chunk, none "direct") and
 * freeing the chunk list ourselves instead of recycling it. */
static void drain_h2o_thread_caches(void)
{
	h2o_mem_recycle_t *r = &h2o_socket_buffer_prototype.allocator;
	while (r->cnt > 0)
		free(h2o_mem_alloc_recycle(r, 0));
	h2o_mem_pool_t pool;
	h2o_mem_init_pool(&pool);
	for (int i = 0; i < 16 * 4; i++)
		h2o_mem_alloc_pool(&pool, 1008);
	for (void *c = pool.chunks; c;) {
		void *next = *(void **)c; /* st_h2o_mem_pool_chunk_t starts with next */
		free(c);
		c = next;
	}
}

/* Returns true when every connection closed and h2o was disposed. */
static bool teardown(struct server *srv)
{
	h2o_timeout_unlink(&srv->watchdog_entry);
	h2o_timeout_unlink(&srv->host_check_entry);

	/* No new connections; a Unix socket's path goes with its listener (only
	 * if the path still names our socket). */
	h2o_socket_read_stop(srv->listener);
	h2o_socket_close(srv->listener);
	srv->listener = NULL;
	if (srv->family == AF_UNIX) {
		struct stat st;
		if (lstat(srv->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == srv->unix_dev &&
		    st.st_ino == srv->unix_ino)
			unlink(srv->unix_path);
	}

	/* HTTP/1 has no shutdown hook in 2.2.5: shut every socket down so that
	 * h2o's own read/write paths see the end and close the connection. */
	h2o_context_request_shutdown(&srv->ctx);
	for (size_t i = 0; i < CONN_SLOTS; i++)
		if (srv->conns[i].sock)
			shutdown(srv->conns[i].fd, SHUT_RDWR);
	uint64_t deadline = h2o_now(srv->loop) + GH_HTTP_STOP_DRAIN_MS;
	while (srv->nconns > 0 && h2o_now(srv->loop) < deadline)
		h2o_evloop_run(srv->loop, 50);

	if (srv->nconns > 0) {
		/* Disposing now would trip h2o's assertions on linked timeouts:
		 * abandon the loop (never run again) and only release the sockets. */
		gh__log("debug server on %s: %zu connection(s) did not close; leaving them", srv->desc, srv->nconns);
		for (size_t i = 0; i < CONN_SLOTS; i++)
			if (srv->conns[i].sock)
				close(srv->conns[i].fd);
		int ep = evloop_epoll_fd(srv->loop);
		if (ep >= 0)
			close(ep);
		return false;
	}

	if (h2o_timeout_is_linked(&srv->ctx.http2._graceful_shutdown_timeout))
		h2o_timeout_unlink(&srv->ctx.http2._graceful_shutdown_timeout);
	h2o_timeout_dispose(srv->loop, &srv->watchdog);
	h2o_timeout_dispose(srv->loop, &srv->host_check);
	h2o_multithread_unregister_receiver(srv->ctx.queue, &srv->control);
	h2o_multithread_queue_t *queue = srv->ctx.queue;
	h2o_context_dispose(&srv->ctx);
	free(queue); /* h2o_multithread_destroy_queue (evloop) does not */
	int ep = evloop_epoll_fd(srv->loop);
	h2o_evloop_destroy(srv->loop);
	if (ep >= 0)
		close(ep);
	h2o_config_dispose(&srv->config);
	gh__http_router_dispose(&srv->router);
	drain_h2o_thread_caches();
	return true;
}

static void *server_main(void *arg)
{
	struct server *srv = arg;
	tl_server_thread = true;
	srv->tid = gettid();
	/* The internal arena may use the cage's headroom: h2o aborts the process
	 * when malloc fails, so the server must not run out when the host does. */
	gh__heap_bind_internal_arena();
	gh_scope_push(GH_TYPE_INTERNAL);
	setup(srv);

	pthread_mutex_lock(&srv->mu);
	srv->ready = 1;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);

	while (!srv->stop)
		h2o_evloop_run(srv->loop, INT32_MAX);

	bool clean = teardown(srv);
	gh_scope_pop();
	return (void *)(uintptr_t)clean;
}

/* ---- The listening socket ------------------------------------------------------- */

/* Opens the listening socket. Returns 0 or an errno value (and logs). */
static int open_listener(struct server *srv, const struct gh_listen_addr *a, const char *what)
{
	int family = a->ss.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		gh__log("debug server: %s: cannot create a socket: %s", what, strerror(err));
		return err;
	}
	const char *step = "bind";
	if (family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
		struct stat st;
		/* A socket file left by a dead process is replaced; a live one or
		 * any other kind of file is not. */
		if (lstat(un->sun_path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				close(fd);
				gh__log("debug server: %s: the path exists and is not a socket", what);
				return EEXIST;
			}
			int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			bool live = probe >= 0 && connect(probe, (const struct sockaddr *)un, a->len) == 0;
			if (probe >= 0)
				close(probe);
			if (live) {
				close(fd);
				gh__log("debug server: %s: %s", what, strerror(EADDRINUSE));
				return EADDRINUSE;
			}
			unlink(un->sun_path);
		}
	} else {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	}
	int rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
	if (rc == 0 && family == AF_UNIX) {
		/* Nobody can connect before listen(): mode 0600 is set in time. */
		const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
		struct stat st;
		step = "chmod 0600";
		rc = chmod(un->sun_path, 0600);
		if (rc == 0)
			rc = lstat(un->sun_path, &st);
		if (rc == 0) {
			srv->unix_dev = st.st_dev;
			srv->unix_ino = st.st_ino;
			snprintf(srv->unix_path, sizeof srv->unix_path, "%s", un->sun_path);
		} else {
			int err = errno;
			unlink(un->sun_path);
			errno = err;
		}
	}
	if (rc == 0) {
		step = "listen";
		rc = listen(fd, 128);
	}
	if (rc != 0) {
		int err = errno;
		close(fd);
		if (family == AF_UNIX && srv->unix_path[0])
			unlink(srv->unix_path);
		gh__log("debug server: cannot listen on %s (%s): %s", what, step, strerror(err));
		return err;
	}
	srv->listen_fd = fd;
	srv->family = family;
	return 0;
}

/* ---- Public API ------------------------------------------------------------------- */

static int start_locked(const char *listen, const char *origin)
{
	if (running)
		return EALREADY;
	if (!listen)
		listen = "";

	struct gh_listen_addr a;
	if (gh__listen_parse(listen, &a) != 0) {
		gh__log("debug server: %s\"%.100s\" is not an address: want [host:]port, [ipv6]:port or unix:/path",
			origin, listen);
		return EINVAL;
	}
	const char *token = getenv("GLASSHEAP_TOKEN");
	size_t token_len = token ? strlen(token) : 0;
	if (token_len > TOKEN_MAX) {
		gh__log("debug server: GLASSHEAP_TOKEN is longer than %d bytes", TOKEN_MAX);
		return EINVAL;
	}
	if (!a.loopback && token_len == 0) {
		gh__log("debug server: refusing to listen on %.100s: not a loopback address and GLASSHEAP_TOKEN is not set",
			listen);
		return EPERM;
	}
	const char *preview = getenv("GLASSHEAP_PREVIEW");
	gh__http_opt.preview = preview && strcmp(preview, "1") == 0;

	struct server *srv = gh_calloc_typed(GH_TYPE_INTERNAL, 1, sizeof *srv);
	if (!srv) {
		gh__log("debug server: out of memory");
		return ENOMEM;
	}
	srv->listen_fd = -1;
	memcpy(srv->token, token ? token : "", token_len + 1);
	gh__listen_describe(&a.ss, srv->desc, sizeof srv->desc);

	int rc = open_listener(srv, &a, srv->desc);
	if (rc != 0) {
		gh_free(srv);
		return rc;
	}
	srv->router.token = srv->token;
	srv->router.token_len = token_len; /* 0: no token, every request is allowed */
	srv->router.unix_socket = srv->family == AF_UNIX;
	int port = 0;
	if (a.ss.ss_family != AF_UNIX) {
		struct sockaddr_storage bound;
		socklen_t blen = sizeof bound;
		if (getsockname(srv->listen_fd, (struct sockaddr *)&bound, &blen) == 0) {
			gh__listen_describe(&bound, srv->desc, sizeof srv->desc);
			port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
								: ((struct sockaddr_in6 *)&bound)->sin6_port);
		}
	}

	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	for (size_t i = 0; i < CONN_SLOTS; i++)
		srv->conns[i].fd = -1;

	/* The thread inherits a mask with every signal blocked but the
	 * stop-the-world one: h2o's writes cannot raise SIGPIPE in the host, host
	 * signals go elsewhere, and a reachability pass can still pause it. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, gh__world_stop_signal());
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)1 << 20);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&srv->thread, &attr, server_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		gh__log("debug server: cannot start its thread: %s", strerror(rc));
		close(srv->listen_fd);
		if (srv->unix_path[0])
			unlink(srv->unix_path);
		gh_free(srv);
		return rc;
	}
	pthread_mutex_lock(&srv->mu);
	while (!srv->ready)
		pthread_cond_wait(&srv->cv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);

	running = srv;
	atomic_store(&bound_port, port);
	return 0;
}

int gh_server_start(const char *listen)
{
	if (tl_server_thread)
		return EDEADLK;
	pthread_mutex_lock(&api_lock);
	int rc = start_locked(listen, "");
	pthread_mutex_unlock(&api_lock);
	return rc;
}

int gh_server_port(void)
{
	return atomic_load(&bound_port);
}

/* wait_ms < 0: wait as long as it takes. Returns false if the thread did
 * not finish in time (it is then left running, detached from the API). */
static bool stop_locked(long wait_ms)
{
	struct server *srv = running;
	if (!srv)
		return true;
	running = NULL;
	atomic_store(&bound_port, 0);
	h2o_multithread_send_message(&srv->control, &srv->stop_msg);
	void *clean = NULL;
	if (wait_ms < 0) {
		pthread_join(srv->thread, &clean);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(srv->thread, &clean, &ts) != 0)
			return false;
	}
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
	/* An abandoned loop may still point into srv: keep it then. */
	if (clean)
		gh_free(srv);
	return true;
}

void gh_server_stop(void)
{
	if (tl_server_thread)
		return; /* from a formatter on the server thread: cannot join itself */
	pthread_mutex_lock(&api_lock);
	stop_locked(-1);
	pthread_mutex_unlock(&api_lock);
}

/* ---- Process life: GLASSHEAP_HTTP, exit, fork ------------------------------------------ */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&api_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&api_lock);
}

/* Is fd a connection the server accepted (the listener's local address)?
 * Async-signal-safe. */
static bool server_socket(const struct server *srv, int fd, const struct sockaddr_storage *local, socklen_t llen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (fd == srv->listen_fd)
		return false; /* closed by the caller last */
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || len != llen)
		return false;
	return memcmp(&ss, local, len) == 0;
}

/*
 * The child has no server thread. Release every descriptor of the server --
 * the listener (so the port or path frees when the parent stops) and the
 * client connections (or a client waiting for the end of a response, or for
 * the close after "Connection: close", would wait until the child exits) --
 * and forget the server. Connections are recognized by their local address,
 * never by the table the server thread may have been updating at the fork.
 * Raw system calls only: we are in the child of a multi-threaded fork.
 */
static void atfork_child(void)
{
	if (running) {
		struct server *srv = running;
		struct sockaddr_storage local;
		socklen_t llen = sizeof local;
		bool have_local = getsockname(srv->listen_fd, (struct sockaddr *)&local, &llen) == 0;
		int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char buf[4096];
		long n;
		while (dir >= 0 && have_local && (n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
			for (long off = 0; off < n;) {
				struct {
					uint64_t ino;
					int64_t off;
					unsigned short reclen;
					unsigned char type;
					char name[];
				} *d = (void *)(buf + off);
				off += d->reclen;
				if (d->name[0] < '0' || d->name[0] > '9')
					continue;
				int fd = 0;
				for (const char *c = d->name; *c; c++)
					fd = fd * 10 + (*c - '0');
				if (fd != dir && server_socket(srv, fd, &local, llen))
					close(fd);
			}
		}
		if (dir >= 0)
			close(dir);
		close(srv->listen_fd);
		running = NULL;
		atomic_store(&bound_port, 0);
	}
	pthread_mutex_init(&api_lock, NULL);
}

/* GLASSHEAP_HTTP, read by alloc/options.c (which may remove it from the
 * environment before this runs: see scrub_environment there). In the
 * static library, from the constructor below; in libglassheap_ext.so,
 * called by alloc/lazy.c's constructor (200) through the extension's table,
 * so that the server starts at the same point of start-up either way. */
void gh__server_autostart(void)
{
	const char *listen = gh__opt_http();
	if (!listen || !*listen)
		return;
	pthread_mutex_lock(&api_lock);
	int rc = start_locked(listen, "GLASSHEAP_HTTP=");
	if (rc == 0)
		gh__log("debug server listening on %s (GLASSHEAP_HTTP)", running->desc);
	pthread_mutex_unlock(&api_lock);
}

/* After the allocator's constructor (101): the heap is ready. */
__attribute__((constructor(200))) static void server_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
#ifndef GH_EXT_BUILD
	gh__server_autostart();
#endif
}

/* A server still running at exit is stopped (its Unix socket path removed)
 * before the libraries it uses are torn down; a stuck one is abandoned. */
__attribute__((destructor)) static void server_at_exit(void)
{
	if (tl_server_thread || pthread_mutex_trylock(&api_lock) != 0)
		return;
	stop_locked(3000);
	pthread_mutex_unlock(&api_lock);
}
