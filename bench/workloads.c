/*
 * workloads.c -- gh-bench-alloc: allocation-heavy workloads for comparing
 * malloc implementations. It links no allocator of its own: the allocator
 * under test is swapped in with LD_PRELOAD (bench/run.py does that).
 *
 *   gh-bench-alloc mixed1  [ops]   one thread, ~100k live objects, random replacement
 *   gh-bench-alloc mixed2  [ops]   the same on 2 threads, ~10% of frees cross-thread
 *   gh-bench-alloc tight64 [iters] malloc(64)/free in a tight loop
 *
 * Without [ops] each workload runs its default count scaled by the
 * environment variable GH_BENCH_SCALE (a positive float, default 1).
 * GH_BENCH_LIVE changes the mixed workloads' live-object count (default
 * 100000; the smoke test uses fewer).
 * Everything is deterministic: fixed seeds, bounded loops. On success the
 * program prints one line "workload=... seconds=... peak_rss_kb=..." and
 * exits 0 (seconds covers the replacement phase or the loop only, without
 * the working-set fill and teardown; peak_rss_kb is VmHWM). A content check
 * failure (an allocator handed out overlapping memory) exits 2, a failed
 * malloc 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
/* Keeps a call from becoming a tail call, so that every helper level is a
 * real stack frame and the allocation sites sit at distinct depths. The
 * distinct id keeps identical helpers from being folded into one (ICF). */
#define KEEP(p, id) __asm__ volatile("" : : "r"(p), "i"(id) : "memory")

enum {
	MIXED_LIVE = 100000,          /* default live objects, all threads together */
	SIZE_TABLE = 1 << 16,         /* pre-drawn small sizes */
	QUEUE_CAP = 1024,             /* cross-thread hand-off ring, per direction */
	PAGE = 4096,
};

/* Default counts: about 1-3 s per run under glibc on the reference machine. */
static const uint64_t MIXED1_OPS = 5000000;   /* replacements */
static const uint64_t MIXED2_OPS = 8000000;   /* replacements, both threads together */
static const uint64_t TIGHT64_ITERS = 100000000;

/* ---- PRNG: splitmix64 seeds xoshiro256** ------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

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

static void *obj_new(struct rng *r, uint64_t seq, size_t *size_out)
{
	uint64_t x = rng_next(r);
	size_t n = is_large(x) ? large_size(r) : small_sizes[(x >> 16) & (SIZE_TABLE - 1)];
	unsigned char *p = sites[(x >> 32) & 7](n);
	if (!p) {
		fprintf(stderr, "gh-bench-alloc: malloc(%zu) failed: %s\n", n, strerror(errno));
		exit(3);
	}
	*(uint64_t *)p = seq ^ TAG_KEY;
	for (size_t off = PAGE; off < n; off += PAGE)
		p[off] = (unsigned char)seq;
	p[n - 1] = (unsigned char)seq;
	*size_out = n;
	return p;
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

/* ---- Peak RSS ------------------------------------------------------------------
 * VmHWM of this process's own address space. The driver's wait4() ru_maxrss
 * cannot show a peak below the driver's own RSS: Linux folds the high-water
 * mark of the pre-exec (forked) image into it. */

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	for (int i = 0; i < 100 && fgets(line, sizeof line, f); i++) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ---- mixed1 / mixed2 ----------------------------------------------------------- */

struct slot {
	void *ptr;
	uint64_t seq;
};

struct mixed_thread {
	unsigned id;
	uint32_t live;          /* slots owned by this thread */
	uint64_t ops;
	unsigned cross_pct;     /* % of evictions handed to the peer (mixed2) */
	struct ring *out, *in;  /* NULL for mixed1 */
	pthread_barrier_t *start;
	uint64_t checksum;
	uint64_t handed;        /* objects handed to the peer to free */
	double t0, t1;          /* replacement phase: after the fill, before the teardown */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *mixed_run(void *arg)
{
	struct mixed_thread *t = arg;
	struct rng r;
	rng_seed(&r, UINT64_C(0x6C6173736865617) + t->id);
	struct slot *slots = calloc(t->live, sizeof *slots);
	if (!slots) {
		perror("gh-bench-alloc: calloc");
		exit(3);
	}
	uint64_t seq = (uint64_t)t->id << 56;
	size_t n;
	for (uint32_t i = 0; i < t->live; i++) {
		slots[i].seq = ++seq;
		slots[i].ptr = obj_new(&r, seq, &n);
	}
	if (t->start)
		pthread_barrier_wait(t->start);
	t->t0 = now();

	uint64_t sum = 0;
	/* 10% from 7 random bits: < 13/128 is 10.2%. */
	unsigned cross_lim = t->cross_pct * 128 / 100 + (t->cross_pct ? 1 : 0);
	for (uint64_t op = 0; op < t->ops; op++) {
		uint64_t x = rng_next(&r);
		struct slot *s = &slots[below((uint32_t)x, t->live)];
		if (t->out && ((x >> 32) & 127) < cross_lim && ring_push(t->out, s->ptr, s->seq)) {
			t->handed++;
		} else {
			sum += obj_check(s->ptr, s->seq);
			free(s->ptr);
		}
		s->seq = ++seq;
		s->ptr = obj_new(&r, seq, &n);
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

static int run_mixed(const char *name, unsigned nthreads, uint64_t ops, uint32_t live)
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
	printf("workload=%s threads=%u ops=%llu live=%u cross_frees=%llu seconds=%.6f checksum=%016llx "
	       "peak_rss_kb=%ld\n",
	       name, nthreads, (unsigned long long)ops, (unsigned)live, (unsigned long long)handed, t1 - t0,
	       (unsigned long long)sum, peak_rss_kb());
	return 0;
}

/* ---- tight64 --------------------------------------------------------------------- */

static void *volatile sink;

static int run_tight64(uint64_t iters)
{
	double t0 = now();
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(64);
		sink = p;
		free(p);
	}
	double t1 = now();
	printf("workload=tight64 threads=1 ops=%llu seconds=%.6f peak_rss_kb=%ld\n", (unsigned long long)iters,
	       t1 - t0, peak_rss_kb());
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: gh-bench-alloc {mixed1|mixed2|tight64} [ops]\n"
		"  ops defaults to mixed1 %llu, mixed2 %llu, tight64 %llu, times $GH_BENCH_SCALE (default 1)\n"
		"  $GH_BENCH_LIVE: live objects of mixed1/mixed2 (default %d)\n",
		(unsigned long long)MIXED1_OPS, (unsigned long long)MIXED2_OPS, (unsigned long long)TIGHT64_ITERS,
		MIXED_LIVE);
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
	const char *w = argv[1];
	uint64_t def;
	if (strcmp(w, "mixed1") == 0)
		def = MIXED1_OPS;
	else if (strcmp(w, "mixed2") == 0)
		def = MIXED2_OPS;
	else if (strcmp(w, "tight64") == 0)
		def = TIGHT64_ITERS;
	else
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
		ops = (uint64_t)((double)def * scale);
	}

	if (strcmp(w, "tight64") == 0)
		return run_tight64(ops);

	uint64_t live = MIXED_LIVE;
	const char *s = getenv("GH_BENCH_LIVE");
	if (s && *s && (!parse_u64(s, &live) || live < 2 || live > 10000000)) {
		fprintf(stderr, "gh-bench-alloc: GH_BENCH_LIVE=%s: want 2..10000000\n", s);
		return 64;
	}
	sizes_init();
	return run_mixed(w, strcmp(w, "mixed1") == 0 ? 1 : 2, ops, (uint32_t)live);
}
