/*
 * workloads.c -- gh-bench-alloc: allocation-heavy workloads for comparing
 * malloc implementations. It links no allocator of its own: the allocator
 * under test is swapped in with LD_PRELOAD (bench/run.py and bench/profilers.py
 * do that; bench/harness.py runs them all).
 *
 *   gh-bench-alloc mixed1   [ops]   one thread, ~100k live objects, random replacement
 *   gh-bench-alloc mixed2   [ops]   the same on 2 threads, ~10% of frees cross-thread
 *   gh-bench-alloc tight64  [iters] malloc(64)/free in a tight loop
 *   gh-bench-alloc larson   [ops]   8 lineages of threads, random replacement in a slot
 *                                   array that each thread hands on to a new thread
 *   gh-bench-alloc prodcons [msgs]  2 producers allocate messages, 2 consumers free
 *                                   them; 1 in 16 is kept in a long-lived pool
 *   gh-bench-alloc fp_mixed1 [ops]  issue 15's footprint workloads: mixed1 and mixed2
 *   gh-bench-alloc fp_mixed2 [ops]  with small objects only (16..512 B log-uniform, first
 *                                   and last byte written), 5M replacements in both
 *
 * Without [ops] each workload runs its default count scaled by the
 * environment variable GH_BENCH_SCALE (a positive float, default 1).
 * GH_BENCH_LIVE changes the live-object count of mixed1/mixed2/fp_mixed* (default
 * 100000), larson (40000) and the prodcons pool (50000); the smoke test uses
 * fewer. GH_BENCH_LEAKCHECK=1 runs one leak check of the whole heap halfway
 * through (see leak_check()). GH_BENCH_TIMEOUT bounds a run (seconds,
 * default 600; then exit 4).
 * Everything is deterministic in what it allocates: fixed seeds, bounded
 * loops (the interleaving of threads is not). On success the program prints
 * one line "workload=... seconds=... peak_rss_kb=..." and exits 0 (seconds
 * covers the replacement phase or the loop only, without the working-set
 * fill and teardown; peak_rss_kb is VmHWM). A content check failure (an
 * allocator handed out overlapping memory) exits 2, a failed malloc 3, the
 * time bound 4, a failed leak check 5.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#if defined(GH_BENCH_LSAN)
#include <sanitizer/lsan_interface.h>
#endif

#define NOINLINE __attribute__((noinline))
/* Keeps a call from becoming a tail call, so that every helper level is a
 * real stack frame and the allocation sites sit at distinct depths. The
 * distinct id keeps identical helpers from being folded into one (ICF). */
#define KEEP(p, id) __asm__ volatile("" : : "r"(p), "i"(id) : "memory")

enum {
	MIXED_LIVE = 100000,          /* default live objects, all threads together */
	LARSON_LIVE = 40000,          /* default live objects over all lineages */
	LARSON_LINEAGES = 8,          /* threads alive at a time */
	LARSON_GEN_OPS = 20000,       /* replacements before a thread hands its array on */
	LARSON_MIN = 8,               /* larson's block sizes: uniform in [MIN, MAX] */
	LARSON_MAX = 1000,
	PRODCONS_POOL = 50000,        /* default long-lived objects, all consumers together */
	PRODCONS_PAIRS = 2,           /* producer -> consumer pairs, one ring each */
	SIZE_TABLE = 1 << 16,         /* pre-drawn small sizes */
	QUEUE_CAP = 1024,             /* cross-thread hand-off ring, per direction */
	PAGE = 4096,
};


/* Uniform in [0, n) from 32 random bits (multiply-shift, bias negligible). */
static inline uint32_t below(uint32_t bits, uint32_t n)
{
	return (uint32_t)(((uint64_t)bits * n) >> 32);
}

/* ---- Sizes ----------------------------------------------------------------
 * Small sizes are drawn once, log-uniform in [16, 512], into a table indexed
 * by random bits: the hot loop then costs no pow(). Large sizes (1% of
 * allocations) are log-uniform in [4 KiB, 256 KiB], drawn when needed. */

static uint32_t small_sizes[SIZE_TABLE];

static void sizes_init(void)
{
	struct rng r;
	rng_seed(&r, 0x5125);
	for (int i = 0; i < SIZE_TABLE; i++) {
		double u = (double)(rng_next(&r) >> 11) * 0x1p-53;
		small_sizes[i] = (uint32_t)lround(16.0 * pow(512.0 / 16.0, u));
	}
}

static size_t large_size(struct rng *r)
{
	double u = (double)(rng_next(r) >> 11) * 0x1p-53;
	return (size_t)(4096.0 * pow(256.0 / 4.0, u));
}

/* 1 in 100, from 16 random bits. */
static inline int is_large(uint64_t bits)
{
	return (bits & 0xffff) < 655;
}

/* ---- Allocation sites -------------------------------------------------------
 * Eight sites: two chains of each depth 1..4 (site_dN_x is N frames below
 * the workload loop). Each terminal helper is its own malloc call site. */

NOINLINE static void *site_d1_a(size_t n) { void *p = malloc(n); KEEP(p, 1); return p; }
NOINLINE static void *site_d1_b(size_t n) { void *p = malloc(n); KEEP(p, 2); return p; }

NOINLINE static void *d2_a_leaf(size_t n) { void *p = malloc(n); KEEP(p, 3); return p; }
NOINLINE static void *d2_b_leaf(size_t n) { void *p = malloc(n); KEEP(p, 4); return p; }
NOINLINE static void *site_d2_a(size_t n) { void *p = d2_a_leaf(n); KEEP(p, 5); return p; }
NOINLINE static void *site_d2_b(size_t n) { void *p = d2_b_leaf(n); KEEP(p, 6); return p; }

NOINLINE static void *d3_a_leaf(size_t n) { void *p = malloc(n); KEEP(p, 7); return p; }
NOINLINE static void *d3_b_leaf(size_t n) { void *p = malloc(n); KEEP(p, 8); return p; }
NOINLINE static void *d3_a_mid(size_t n) { void *p = d3_a_leaf(n); KEEP(p, 9); return p; }
NOINLINE static void *d3_b_mid(size_t n) { void *p = d3_b_leaf(n); KEEP(p, 10); return p; }
NOINLINE static void *site_d3_a(size_t n) { void *p = d3_a_mid(n); KEEP(p, 11); return p; }
NOINLINE static void *site_d3_b(size_t n) { void *p = d3_b_mid(n); KEEP(p, 12); return p; }

NOINLINE static void *d4_a_leaf(size_t n) { void *p = malloc(n); KEEP(p, 13); return p; }
NOINLINE static void *d4_b_leaf(size_t n) { void *p = malloc(n); KEEP(p, 14); return p; }
NOINLINE static void *d4_a_mid2(size_t n) { void *p = d4_a_leaf(n); KEEP(p, 15); return p; }
NOINLINE static void *d4_b_mid2(size_t n) { void *p = d4_b_leaf(n); KEEP(p, 16); return p; }
NOINLINE static void *d4_a_mid1(size_t n) { void *p = d4_a_mid2(n); KEEP(p, 17); return p; }
NOINLINE static void *d4_b_mid1(size_t n) { void *p = d4_b_mid2(n); KEEP(p, 18); return p; }
NOINLINE static void *site_d4_a(size_t n) { void *p = d4_a_mid1(n); KEEP(p, 19); return p; }
NOINLINE static void *site_d4_b(size_t n) { void *p = d4_b_mid1(n); KEEP(p, 20); return p; }

static void *(*const sites[8])(size_t) = {
	site_d1_a, site_d1_b, site_d2_a, site_d2_b, site_d3_a, site_d3_b, site_d4_a, site_d4_b,
};

/* ---- Objects -----------------------------------------------------------------
 * Every object starts with a tag word (its sequence number mixed with a
 * key) and has its last byte written; a large object also gets one byte
 * per page, so that its pages are really resident as in a program that
 * fills its buffers. On release the tag is read back and checked. */

static const uint64_t TAG_KEY = UINT64_C(0xA5A5F00DC0DEBEEF);

/* Allocates n >= 8 bytes from site (x >> 32) & 7 and writes its tag. */
static void *obj_alloc(uint64_t x, size_t n, uint64_t seq)
{
	unsigned char *p = sites[(x >> 32) & 7](n);
	if (!p) {
		fprintf(stderr, "gh-bench-alloc: malloc(%zu) failed: %s\n", n, strerror(errno));
		exit(3);
	}
	*(uint64_t *)p = seq ^ TAG_KEY;
	for (size_t off = PAGE; off < n; off += PAGE)
		p[off] = (unsigned char)seq;
	if (n > sizeof(uint64_t)) /* larson's 8-byte blocks are all tag */
		p[n - 1] = (unsigned char)seq;
	return p;
}

/* An object of the mixed size distribution (99% small, 1% large), or with
 * small_only (issue 15's footprint workloads) always a small one. */
static void *obj_new(struct rng *r, uint64_t seq, size_t *size_out, int small_only)
{
	uint64_t x = rng_next(r);
	size_t n = !small_only && is_large(x) ? large_size(r) : small_sizes[(x >> 16) & (SIZE_TABLE - 1)];
	*size_out = n;
	return obj_alloc(x, n, seq);
}

static uint64_t obj_check(const void *p, uint64_t seq)
{
	uint64_t tag = *(const uint64_t *)p;
	if (tag != (seq ^ TAG_KEY)) {
		fprintf(stderr, "gh-bench-alloc: object %p: tag %#llx, want %#llx (overlapping allocations?)\n",
			p, (unsigned long long)tag, (unsigned long long)(seq ^ TAG_KEY));
		exit(2);
	}
	return tag;
}

/* ---- Cross-thread hand-off: a bounded single-producer single-consumer ring -- */

struct handoff {
	void *ptr;
	uint64_t seq;
};

struct ring {
	_Alignas(64) _Atomic uint64_t head; /* consumer */
	_Alignas(64) _Atomic uint64_t tail; /* producer */
	_Alignas(64) struct handoff items[QUEUE_CAP];
};

static int ring_push(struct ring *q, void *ptr, uint64_t seq)
{
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (t - atomic_load_explicit(&q->head, memory_order_acquire) >= QUEUE_CAP)
		return 0;
	q->items[t & (QUEUE_CAP - 1)] = (struct handoff){ptr, seq};
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return 1;
}

/* Frees up to max handed-over objects; returns the checksum of their tags. */
static uint64_t ring_drain(struct ring *q, unsigned max)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	uint64_t sum = 0;
	unsigned n = 0;
	for (; h != t && n < max; h++, n++) {
		struct handoff it = q->items[h & (QUEUE_CAP - 1)];
		sum += obj_check(it.ptr, it.seq);
		free(it.ptr);
	}
	atomic_store_explicit(&q->head, h, memory_order_release);
	return sum;
}

/* Takes one item; 0 when the ring is empty. */
static int ring_pop(struct ring *q, struct handoff *out)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	if (h == atomic_load_explicit(&q->tail, memory_order_acquire))
		return 0;
	*out = q->items[h & (QUEUE_CAP - 1)];
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return 1;
}

/* calloc, or exit 3 (the workload cannot run). */
static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		perror("gh-bench-alloc: calloc");
		exit(3);
	}
	return p;
}

/* ---- Clock and time bound ------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* SIGALRM after GH_BENCH_TIMEOUT seconds: a workload that stops making
 * progress (a lost wake-up, a deadlocked allocator) ends with exit 4 instead
 * of hanging the harness. */
static void on_alarm(int sig)
{
	static const char msg[] = "gh-bench-alloc: time bound reached (GH_BENCH_TIMEOUT)\n";
	(void)sig;
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(4);
}

/* ---- Leak check halfway (GH_BENCH_LEAKCHECK=1) ---------------------------------
 * One check of the whole live heap while the workload runs, made by one
 * workload thread halfway through its operations and timed here:
 *  - gh-bench-alloc-lsan (this file built with clang -fsanitize=leak):
 *    __lsan_do_recoverable_leak_check(), LeakSanitizer's stop-the-world scan;
 *  - under LD_PRELOAD=libglassheap.so with GLASSHEAP_HTTP=127.0.0.1:0:
 *    POST /debug/memory/gc to the library's own debug server on loopback
 *    (its port from gh_server_port(), found with dlsym), glassheap's
 *    reachability pass; the pause it reports is printed too.
 * Anything else has no leak check to run: exit 5. */

static int leakcheck_on;
static double leakcheck_ms = -1.0;       /* wall time of the check, seen by the workload */
static double leakcheck_pause_ms = -1.0; /* glassheap: threads paused, from the answer */

#if !defined(GH_BENCH_LSAN)
static char gc_answer[1 << 20];          /* static: the check itself allocates nothing here */

static void leak_check_fail(const char *what)
{
	fprintf(stderr, "gh-bench-alloc: leak check: %s\n", what);
	exit(5);
}

/* POST /debug/memory/gc on 127.0.0.1:port; HTTP/1.0, so the server closes
 * the connection after the answer. */
static void post_gc(int port)
{
	static const char req[] = "POST /debug/memory/gc HTTP/1.0\r\nHost: 127.0.0.1\r\n"
				  "Accept: application/json\r\nContent-Length: 0\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		leak_check_fail("cannot connect to the debug server");
	if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
		leak_check_fail("cannot send the request");
	/* The whole answer: the server closes the connection after it. */
	ssize_t len = recv(fd, gc_answer, sizeof gc_answer - 1, MSG_WAITALL);
	close(fd);
	gc_answer[len > 0 ? len : 0] = '\0';
	if (strncmp(gc_answer, "HTTP/1.", 7) != 0 || strncmp(gc_answer + 8, " 200", 4) != 0)
		leak_check_fail("the debug server did not answer 200");
	const char *p = strstr(gc_answer, "\"pause_ms\":");
	if (p)
		leakcheck_pause_ms = strtod(p + 11, NULL);
}
#endif

static void leak_check(void)
{
	double t0 = now();
#if defined(GH_BENCH_LSAN)
	__lsan_do_recoverable_leak_check();
#else
	int (*server_port)(void);
	*(void **)&server_port = dlsym(RTLD_DEFAULT, "gh_server_port");
	int port = server_port ? server_port() : 0;
	if (port <= 0)
		leak_check_fail("no glassheap debug server (want LD_PRELOAD=libglassheap.so GLASSHEAP_HTTP=127.0.0.1:0)");
	post_gc(port);
#endif
	leakcheck_ms = (now() - t0) * 1e3;
}

/* The fields every workload appends to its output line. */
static void print_tail(void)
{
	if (leakcheck_on)
		printf(" leakcheck_ms=%.3f leakcheck_pause_ms=%.3f", leakcheck_ms, leakcheck_pause_ms);
	printf(" peak_rss_kb=%ld\n", peak_rss_kb());
}

/* ---- mixed1 / mixed2 ----------------------------------------------------------- */

struct slot {
	void *ptr;
	uint64_t seq;
};

struct mixed_thread {
	unsigned id;
	int small_only;         /* fp_mixed*: no 4-256 KiB objects */
	uint32_t live;          /* slots owned by this thread */
	uint64_t ops;
	unsigned cross_pct;     /* % of evictions handed to the peer (mixed2) */
	struct ring *out, *in;  /* NULL for mixed1 */
	pthread_barrier_t *start;
	uint64_t checksum;
	uint64_t handed;        /* objects handed to the peer to free */
	double t0, t1;          /* replacement phase: after the fill, before the teardown */
};

static void *mixed_run(void *arg)
{
	struct mixed_thread *t = arg;
	struct rng r;
	rng_seed(&r, UINT64_C(0x6C6173736865617) + t->id);
	struct slot *slots = xcalloc(t->live, sizeof *slots);
	uint64_t seq = (uint64_t)t->id << 56;
	size_t n;
	for (uint32_t i = 0; i < t->live; i++) {
		slots[i].seq = ++seq;
		slots[i].ptr = obj_new(&r, seq, &n, t->small_only);
	}
	if (t->start)
		pthread_barrier_wait(t->start);
	t->t0 = now();

	uint64_t sum = 0;
	/* 10% from 7 random bits: < 13/128 is 10.2%. */
	unsigned cross_lim = t->cross_pct * 128 / 100 + (t->cross_pct ? 1 : 0);
	uint64_t check_at = leakcheck_on && t->id == 0 ? t->ops / 2 : UINT64_MAX;
	for (uint64_t op = 0; op < t->ops; op++) {
		if (op == check_at)
			leak_check();
		uint64_t x = rng_next(&r);
		struct slot *s = &slots[below((uint32_t)x, t->live)];
		if (t->out && ((x >> 32) & 127) < cross_lim && ring_push(t->out, s->ptr, s->seq)) {
			t->handed++;
		} else {
			sum += obj_check(s->ptr, s->seq);
			free(s->ptr);
		}
		s->seq = ++seq;
		s->ptr = obj_new(&r, seq, &n, t->small_only);
		if (t->in)
			sum += ring_drain(t->in, 4);
	}
	t->t1 = now();
	for (uint32_t i = 0; i < t->live; i++) {
		sum += obj_check(slots[i].ptr, slots[i].seq);
		free(slots[i].ptr);
	}
	free(slots);
	t->checksum = sum;
	return NULL;
}

static int run_mixed(const char *name, unsigned nthreads, int small_only, uint64_t ops, uint32_t live)
{
	struct mixed_thread th[2];
	struct ring *rings = NULL;
	pthread_barrier_t start;
	if (nthreads == 2) {
		rings = aligned_alloc(64, 2 * sizeof *rings);
		if (!rings) {
			perror("gh-bench-alloc: aligned_alloc");
			return 3;
		}
		memset(rings, 0, 2 * sizeof *rings);
		pthread_barrier_init(&start, NULL, 2); /* replace once both are filled */
	}
	for (unsigned i = 0; i < nthreads; i++) {
		th[i] = (struct mixed_thread){
			.id = i,
			.small_only = small_only,
			.live = live / nthreads,
			.ops = ops / nthreads,
			.cross_pct = nthreads == 2 ? 10 : 0,
			.out = rings ? &rings[i] : NULL,
			.in = rings ? &rings[1 - i] : NULL,
			.start = rings ? &start : NULL,
		};
	}
	uint64_t sum = 0, handed = 0;
	if (nthreads == 1) {
		mixed_run(&th[0]);
	} else {
		pthread_t tid[2];
		for (unsigned i = 0; i < 2; i++) {
			int e = pthread_create(&tid[i], NULL, mixed_run, &th[i]);
			if (e) {
				fprintf(stderr, "gh-bench-alloc: pthread_create: %s\n", strerror(e));
				return 3;
			}
		}
		for (unsigned i = 0; i < 2; i++)
			pthread_join(tid[i], NULL);
		/* Objects still in the rings: freed here, on a third thread. */
		for (unsigned i = 0; i < 2; i++)
			for (unsigned k = 0; k < QUEUE_CAP / 64 + 1; k++)
				sum += ring_drain(&rings[i], 64);
		pthread_barrier_destroy(&start);
		free(rings);
	}
	double t0 = th[0].t0, t1 = th[0].t1;
	for (unsigned i = 0; i < nthreads; i++) {
		sum += th[i].checksum;
		handed += th[i].handed;
		t0 = th[i].t0 < t0 ? th[i].t0 : t0;
		t1 = th[i].t1 > t1 ? th[i].t1 : t1;
	}
	printf("workload=%s threads=%u ops=%llu live=%u cross_frees=%llu seconds=%.6f checksum=%016llx", name,
	       nthreads, (unsigned long long)ops, (unsigned)live, (unsigned long long)handed, t1 - t0,
	       (unsigned long long)sum);
	print_tail();
	return 0;
}

/* ---- tight64 --------------------------------------------------------------------- */

static void *volatile sink;

static void tight64_loop(uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(64);
		sink = p;
		free(p);
	}
}

static int run_tight64(uint64_t iters)
{
	double t0 = now();
	if (leakcheck_on) {
		tight64_loop(iters / 2);
		leak_check();
		tight64_loop(iters - iters / 2);
	} else {
		tight64_loop(iters);
	}
	double t1 = now();
	printf("workload=tight64 threads=1 ops=%llu seconds=%.6f", (unsigned long long)iters, t1 - t0);
	print_tail();
	return 0;
}

/* ---- larson ------------------------------------------------------------------------
 * Modelled on Larson and Krishnan's server simulation (as mimalloc-bench runs
 * it: blocks of 8..1000 bytes, a slot array per thread, threads replaced as
 * they go). LARSON_LINEAGES threads run at a time; each owns a slot array and
 * replaces random blocks (check and free the old one, allocate a new one of
 * uniform random size). After LARSON_GEN_OPS replacements a thread starts a
 * fresh thread, hands it the whole array and exits, so nearly every block is
 * freed by a thread other than the one that allocated it, most often by one
 * whose allocating thread has exited. The main thread fills the arrays
 * before the timed phase.
 *
 *   main: fill ─▶ gen 0 ──create──▶ gen 1 ──create──▶ ... ─▶ last gen: last = self; post(done)
 *                   (exits)   joins gen 0      joins gen n-1                     main: wait(done), join(last)
 */

struct lineage {
	unsigned id;
	uint32_t live;
	struct slot *slots;
	struct rng rng;
	uint64_t seq;
	uint64_t ops_left;
	uint64_t check_gen;   /* generation (1-based) that runs the leak check, or 0 */
	uint64_t gens;        /* threads run so far */
	uint64_t checksum;
	int has_prev;
	pthread_t prev;       /* the thread this one takes over from: joined first */
	pthread_t last;       /* the lineage's final thread, joined by main */
	sem_t done;
};

static size_t larson_size(struct rng *r)
{
	return LARSON_MIN + below((uint32_t)rng_next(r), LARSON_MAX - LARSON_MIN + 1);
}

static void *larson_thread(void *arg)
{
	struct lineage *l = arg;
	if (l->has_prev)
		pthread_join(l->prev, NULL);
	l->gens++;
	uint64_t n = l->ops_left < LARSON_GEN_OPS ? l->ops_left : LARSON_GEN_OPS;
	uint64_t check_at = l->gens == l->check_gen ? n / 2 : UINT64_MAX;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (i == check_at)
			leak_check();
		uint64_t x = rng_next(&l->rng);
		struct slot *s = &l->slots[below((uint32_t)x, l->live)];
		sum += obj_check(s->ptr, s->seq);
		free(s->ptr);
		s->seq = ++l->seq;
		s->ptr = obj_alloc(x, larson_size(&l->rng), s->seq);
	}
	l->checksum += sum;
	l->ops_left -= n;
	if (l->ops_left == 0) {
		l->last = pthread_self();
		sem_post(&l->done);
		return NULL;
	}
	l->prev = pthread_self();
	l->has_prev = 1;
	pthread_t next;
	int e = pthread_create(&next, NULL, larson_thread, l);
	if (e) {
		fprintf(stderr, "gh-bench-alloc: pthread_create: %s\n", strerror(e));
		exit(3);
	}
	return NULL;
}

static int run_larson(uint64_t ops, uint32_t live)
{
	struct lineage *ls = xcalloc(LARSON_LINEAGES, sizeof *ls);
	uint32_t per = live / LARSON_LINEAGES ? live / LARSON_LINEAGES : 1;
	uint64_t per_ops = ops / LARSON_LINEAGES;
	uint64_t gens = (per_ops + LARSON_GEN_OPS - 1) / LARSON_GEN_OPS;
	for (unsigned i = 0; i < LARSON_LINEAGES; i++) {
		struct lineage *l = &ls[i];
		l->id = i;
		l->live = per;
		l->ops_left = per_ops;
		l->check_gen = leakcheck_on && i == 0 && gens ? gens / 2 + 1 : 0;
		l->seq = (uint64_t)(i + 1) << 56;
		rng_seed(&l->rng, UINT64_C(0x4C4152534F4E) + i);
		sem_init(&l->done, 0, 0);
		l->slots = xcalloc(per, sizeof *l->slots);
		for (uint32_t k = 0; k < per; k++) {
			uint64_t x = rng_next(&l->rng);
			l->slots[k].seq = ++l->seq;
			l->slots[k].ptr = obj_alloc(x, larson_size(&l->rng), l->seq);
		}
	}
	double t0 = now();
	for (unsigned i = 0; i < LARSON_LINEAGES; i++) {
		pthread_t tid;
		int e = pthread_create(&tid, NULL, larson_thread, &ls[i]);
		if (e) {
			fprintf(stderr, "gh-bench-alloc: pthread_create: %s\n", strerror(e));
			return 3;
		}
	}
	for (unsigned i = 0; i < LARSON_LINEAGES; i++) {
		while (sem_wait(&ls[i].done) != 0 && errno == EINTR)
			;
		pthread_join(ls[i].last, NULL);
	}
	double t1 = now();
	uint64_t sum = 0, threads = 0;
	for (unsigned i = 0; i < LARSON_LINEAGES; i++) {
		struct lineage *l = &ls[i];
		for (uint32_t k = 0; k < l->live; k++) {
			sum += obj_check(l->slots[k].ptr, l->slots[k].seq);
			free(l->slots[k].ptr);
		}
		free(l->slots);
		sem_destroy(&l->done);
		sum += l->checksum;
		threads += l->gens;
	}
	free(ls);
	printf("workload=larson threads=%u ops=%llu live=%u thread_starts=%llu seconds=%.6f checksum=%016llx",
	       LARSON_LINEAGES, (unsigned long long)per_ops * LARSON_LINEAGES, per * LARSON_LINEAGES,
	       (unsigned long long)threads, t1 - t0, (unsigned long long)sum);
	print_tail();
	return 0;
}

/* ---- prodcons ----------------------------------------------------------------------
 * Producers and consumers with two lifetimes, like a message-passing server.
 * PRODCONS_PAIRS producers allocate messages (the mixed workloads' sizes and
 * sites) and pass each through a bounded SPSC ring to their consumer. The
 * consumer checks a message and frees most at once (short-lived, freed on
 * another thread); 1 in 16 goes to its pool of long-lived objects, and once
 * the pool is full each new resident evicts (checks and frees) a random old
 * one. A full or empty ring yields the CPU.
 */

struct prodcons {
	unsigned id;
	uint64_t msgs;        /* messages through this pair's ring */
	uint32_t pool_cap;    /* the consumer's long-lived pool */
	struct ring *q;
	pthread_barrier_t *start;
	uint64_t checksum;
	uint64_t waits;       /* yields on a full (producer) or empty (consumer) ring */
	uint64_t kept;        /* messages that went to the pool */
	double t0, t1;
};

static void *producer(void *arg)
{
	struct prodcons *pc = arg;
	struct rng r;
	rng_seed(&r, UINT64_C(0x50524F44) + pc->id);
	uint64_t seq = (uint64_t)(pc->id + 1) << 56;
	uint64_t waits = 0;
	size_t n;
	pthread_barrier_wait(pc->start);
	for (uint64_t i = 0; i < pc->msgs; i++) {
		void *p = obj_new(&r, ++seq, &n, 0);
		while (!ring_push(pc->q, p, seq)) {
			waits++;
			sched_yield();
		}
	}
	pc->waits += waits;
	return NULL;
}

static void *consumer(void *arg)
{
	struct prodcons *pc = arg;
	struct rng r;
	rng_seed(&r, UINT64_C(0x434F4E53) + pc->id);
	struct slot *pool = xcalloc(pc->pool_cap, sizeof *pool);
	uint32_t used = 0;
	uint64_t sum = 0, got = 0, waits = 0, kept = 0;
	uint64_t check_at = leakcheck_on && pc->id == 0 ? pc->msgs / 2 : UINT64_MAX;
	pthread_barrier_wait(pc->start);
	pc->t0 = now();
	while (got < pc->msgs) {
		struct handoff it;
		if (!ring_pop(pc->q, &it)) {
			waits++;
			sched_yield();
			continue;
		}
		if (got++ == check_at)
			leak_check();
		sum += obj_check(it.ptr, it.seq);
		uint64_t x = rng_next(&r);
		if ((x & 15) != 0) {
			free(it.ptr);
			continue;
		}
		kept++;
		if (used < pc->pool_cap) {
			pool[used++] = (struct slot){it.ptr, it.seq};
			continue;
		}
		struct slot *s = &pool[below((uint32_t)(x >> 32), used)];
		sum += obj_check(s->ptr, s->seq);
		free(s->ptr);
		*s = (struct slot){it.ptr, it.seq};
	}
	pc->t1 = now();
	for (uint32_t i = 0; i < used; i++) {
		sum += obj_check(pool[i].ptr, pool[i].seq);
		free(pool[i].ptr);
	}
	free(pool);
	pc->checksum = sum;
	pc->waits += waits;
	pc->kept = kept;
	return NULL;
}

static int run_prodcons(uint64_t msgs, uint32_t pool)
{
	struct prodcons pc[PRODCONS_PAIRS];
	pthread_t tid[2 * PRODCONS_PAIRS];
	pthread_barrier_t start;
	struct ring *rings = aligned_alloc(64, PRODCONS_PAIRS * sizeof *rings);
	if (!rings) {
		perror("gh-bench-alloc: aligned_alloc");
		return 3;
	}
	memset(rings, 0, PRODCONS_PAIRS * sizeof *rings);
	pthread_barrier_init(&start, NULL, 2 * PRODCONS_PAIRS);
	uint32_t cap = pool / PRODCONS_PAIRS ? pool / PRODCONS_PAIRS : 1;
	for (unsigned i = 0; i < PRODCONS_PAIRS; i++)
		pc[i] = (struct prodcons){
			.id = i, .msgs = msgs / PRODCONS_PAIRS, .pool_cap = cap, .q = &rings[i], .start = &start,
		};
	for (unsigned i = 0; i < 2 * PRODCONS_PAIRS; i++) {
		int e = pthread_create(&tid[i], NULL, i % 2 ? consumer : producer, &pc[i / 2]);
		if (e) {
			fprintf(stderr, "gh-bench-alloc: pthread_create: %s\n", strerror(e));
			return 3;
		}
	}
	for (unsigned i = 0; i < 2 * PRODCONS_PAIRS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
	free(rings);
	uint64_t sum = 0, waits = 0, kept = 0;
	double t0 = pc[0].t0, t1 = pc[0].t1;
	for (unsigned i = 0; i < PRODCONS_PAIRS; i++) {
		sum += pc[i].checksum;
		waits += pc[i].waits;
		kept += pc[i].kept;
		t0 = pc[i].t0 < t0 ? pc[i].t0 : t0;
		t1 = pc[i].t1 > t1 ? pc[i].t1 : t1;
	}
	printf("workload=prodcons threads=%u ops=%llu live=%u kept=%llu waits=%llu seconds=%.6f checksum=%016llx",
	       2 * PRODCONS_PAIRS, (unsigned long long)pc[0].msgs * PRODCONS_PAIRS, cap * PRODCONS_PAIRS,
	       (unsigned long long)kept, (unsigned long long)waits, t1 - t0, (unsigned long long)sum);
	print_tail();
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

/* Default counts: about 1-3 s per run under glibc on the reference machine.
 * ops counts replacements (mixed, larson; all threads together), loop
 * iterations (tight64) or messages (prodcons, all producers together). */
static const struct workload {
	const char *name;
	uint64_t ops;         /* default count */
	uint32_t live;        /* default live objects (0: none) */
} workloads[] = {
	{"mixed1", 5000000, MIXED_LIVE},
	{"mixed2", 8000000, MIXED_LIVE},
	{"tight64", 100000000, 0},
	{"larson", 10000000, LARSON_LIVE},
	{"prodcons", 6000000, PRODCONS_POOL},
	/* Issue 15: the same totals on one thread and on two. */
	{"fp_mixed1", 5000000, MIXED_LIVE},
	{"fp_mixed2", 5000000, MIXED_LIVE},
};

static int usage(void)
{
	fprintf(stderr, "usage: gh-bench-alloc {mixed1|mixed2|tight64|larson|prodcons|fp_mixed1|fp_mixed2} [ops]\n"
			"  default ops (times $GH_BENCH_SCALE, default 1) and live objects ($GH_BENCH_LIVE):\n");
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		fprintf(stderr, "    %-9s %10llu ops, %u live\n", workloads[i].name,
			(unsigned long long)workloads[i].ops, (unsigned)workloads[i].live);
	fprintf(stderr, "  $GH_BENCH_LEAKCHECK=1: one leak check of the whole heap halfway (LSan build, or\n"
			"    glassheap preloaded with GLASSHEAP_HTTP=127.0.0.1:0)\n"
			"  $GH_BENCH_TIMEOUT: time bound in seconds (default 600, then exit 4)\n");
	return 64;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return 0;
	*out = v;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return usage();
	const struct workload *w = NULL;
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		if (strcmp(argv[1], workloads[i].name) == 0)
			w = &workloads[i];
	if (!w)
		return usage();

	uint64_t ops;
	if (argc == 3) {
		if (!parse_u64(argv[2], &ops))
			return usage();
	} else {
		double scale = 1.0;
		const char *s = getenv("GH_BENCH_SCALE");
		if (s && *s) {
			char *end;
			scale = strtod(s, &end);
			if (*end || !(scale > 0) || scale > 1000) {
				fprintf(stderr, "gh-bench-alloc: GH_BENCH_SCALE=%s: want a number in (0, 1000]\n", s);
				return 64;
			}
		}
		ops = (uint64_t)((double)w->ops * scale);
	}

	uint64_t timeout = 600;
	const char *s = getenv("GH_BENCH_TIMEOUT");
	if (s && *s && (!parse_u64(s, &timeout) || timeout < 1 || timeout > 86400)) {
		fprintf(stderr, "gh-bench-alloc: GH_BENCH_TIMEOUT=%s: want 1..86400 seconds\n", s);
		return 64;
	}
	signal(SIGALRM, on_alarm);
	alarm((unsigned)timeout);
	s = getenv("GH_BENCH_LEAKCHECK");
	leakcheck_on = s && strcmp(s, "1") == 0;

	uint64_t live = w->live;
	s = getenv("GH_BENCH_LIVE");
	if (s && *s && (!parse_u64(s, &live) || live < 2 || live > 10000000)) {
		fprintf(stderr, "gh-bench-alloc: GH_BENCH_LIVE=%s: want 2..10000000\n", s);
		return 64;
	}
	sizes_init();
	if (strcmp(w->name, "tight64") == 0)
		return run_tight64(ops);
	if (strcmp(w->name, "larson") == 0)
		return run_larson(ops, (uint32_t)live);
	if (strcmp(w->name, "prodcons") == 0)
		return run_prodcons(ops, (uint32_t)live);
	int fp = strncmp(w->name, "fp_", 3) == 0;
	unsigned threads = w->name[strlen(w->name) - 1] == '1' ? 1 : 2;
	return run_mixed(w->name, threads, fp, ops, (uint32_t)live);
}
