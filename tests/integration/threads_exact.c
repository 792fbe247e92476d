/*
 * threads_exact -- per-type counters are exact under threads.
 *
 * Linked with glassheap_static (glassheap is this program's malloc). Over
 * ROUNDS rounds, NTHREADS threads are created and joined (thread churn).
 * Each does OPS random operations on typed allocations (gh_malloc_typed,
 * gh_calloc_typed, gh_realloc_typed, gh_aligned_alloc_typed over three
 * registered types) and untyped ones (malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, made inside
 * gh_scope_push(T_UNTYPED) so that they count under a type of this test and
 * not under "malloc", which the C library uses too), plus realloc that moves
 * an object to another type, realloc(p, 0), gh_retag, and cross-thread
 * frees/reallocs through a shared mutex-protected pool. Objects left in the
 * pool outlive the thread that allocated them and are freed by threads of
 * later rounds (counts of exited threads must be kept).
 *
 * Every thread keeps its own ground truth per type (allocs, frees, live
 * count, live bytes; a realloc is one alloc and one free, see glassheap.h);
 * after each round the truths are merged and gh_type_stats and
 * gh_stats_all must equal them exactly. The contents of every object
 * (a tag pattern) are checked at realloc and free, and gh_ptr_type /
 * gh_ptr_size are checked against the records.
 */
#include "glassheap.h"
#include "test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define ROUNDS 6
#define OPS 25000
#define LOCAL_CAP 256
#define POOL_CAP 4096
#define NT 4 /* test types: 0..2 typed, 3 = scope type of untyped calls */
#define T_UNTYPED 3
#define TAG_BYTES 32

static gh_type_t types[NT];
static const char *const type_names[NT] = {"it_exact_alpha", "it_exact_beta", "it_exact_gamma",
					   "it_exact_untyped"};

struct rec {
	unsigned char *p;
	int ti;      /* index into types[] */
	size_t size; /* requested size */
	uint32_t tag;
};

struct truth {
	int64_t allocs[NT], frees[NT], live[NT], bytes[NT];
};

static struct rec pool[POOL_CAP];
static int pool_n;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

static struct truth total; /* merged after each round */
static _Atomic long errors;
static _Atomic uint32_t next_tag = 1;

struct worker {
	pthread_t th;
	int round, idx;
	struct truth t;
	long ops_done;
};

static void err(const char *what, const struct rec *r)
{
	if (atomic_fetch_add(&errors, 1) < 20)
		fprintf(stderr, "  error: %s (ptr %p type %s size %zu)\n", what, (void *)(r ? r->p : NULL),
			r ? type_names[r->ti] : "-", r ? r->size : 0);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 1000;
	if (r < 10)
		return 0;
	if (r < 700)
		return 1 + rnd(s) % 128;
	if (r < 960)
		return 129 + rnd(s) % 4000;
	if (r < 995)
		return 4096 + rnd(s) % 60000;
	return 65536 + rnd(s) % (1u << 20); /* large: page map path */
}

static void tag_write(struct rec *r)
{
	size_t n = r->size < TAG_BYTES ? r->size : TAG_BYTES;
	for (size_t i = 0; i < n; i++)
		r->p[i] = (unsigned char)(r->tag + i * 7);
	if (r->size > TAG_BYTES)
		r->p[r->size - 1] = (unsigned char)(r->tag ^ 0x5a); /* last byte writable */
}

static void tag_check(const struct rec *r, size_t upto, const char *when)
{
	size_t n = r->size < upto ? r->size : upto;
	if (n > TAG_BYTES)
		n = TAG_BYTES;
	for (size_t i = 0; i < n; i++)
		if (r->p[i] != (unsigned char)(r->tag + i * 7)) {
			err(when, r);
			return;
		}
}

static void meta_check(const struct rec *r)
{
	/* Pointer queries on zero-size objects are checked deterministically
	 * by shim_entry_points (zero_size_objects_are_live). */
	if (r->size == 0)
		return;
	if (gh_ptr_type(r->p) != types[r->ti])
		err("gh_ptr_type differs from the record", r);
	if (gh_ptr_size(r->p) != r->size)
		err("gh_ptr_size differs from the record", r);
}

static void count_alloc(struct truth *t, int ti, size_t size)
{
	t->allocs[ti]++;
	t->live[ti]++;
	t->bytes[ti] += (int64_t)size;
}

static void count_free(struct truth *t, int ti, size_t size)
{
	t->frees[ti]++;
	t->live[ti]--;
	t->bytes[ti] -= (int64_t)size;
}

/* A new allocation by one of the entry points; false when it failed. */
static bool do_alloc(struct truth *t, uint64_t *s, struct rec *out)
{
	size_t size = rnd_size(s);
	int kind = (int)(rnd(s) % 10);
	int ti = kind < 4 ? (int)(rnd(s) % 3) : T_UNTYPED;
	unsigned char *p = NULL;
	size_t align = (size_t)32 << (rnd(s) % 8); /* 32..4096 */
	bool zeroed = false;
	switch (kind) {
	case 0: p = gh_malloc_typed(types[ti], size); break;
	case 1: p = gh_calloc_typed(types[ti], 1 + size / 8, 8); size = (1 + size / 8) * 8; zeroed = true; break;
	case 2: p = gh_aligned_alloc_typed(types[ti], align, size); break;
	case 3: p = gh_realloc_typed(types[ti], NULL, size); break;
	case 4: p = malloc(size); break;
	case 5: p = calloc(size / 4 + 1, 4); size = (size / 4 + 1) * 4; zeroed = true; break;
	case 6: {
		void *q = NULL;
		if (posix_memalign(&q, align, size) == 0)
			p = q;
		break;
	}
	case 7: p = aligned_alloc(align, size); break;
	case 8: p = realloc(NULL, size); break;
	default: p = reallocarray(NULL, size / 2 + 1, 2); size = (size / 2 + 1) * 2; break;
	}
	if (!p) {
		err("allocation failed", NULL);
		return false;
	}
	if ((kind == 2 || kind == 6 || kind == 7) && ((uintptr_t)p % align) != 0)
		err("aligned allocation misaligned", NULL);
	if (zeroed)
		for (size_t i = 0; i < size && i < 256; i++)
			if (p[i]) {
				err("calloc memory not zero", NULL);
				break;
			}
	*out = (struct rec){.p = p, .ti = ti, .size = size, .tag = atomic_fetch_add(&next_tag, 1)};
	count_alloc(t, ti, size);
	tag_write(out);
	return true;
}

static void do_free(struct truth *t, uint64_t *s, struct rec *r)
{
	tag_check(r, TAG_BYTES, "contents changed before free");
	if (rnd(s) % 8 == 0)
		meta_check(r);
	count_free(t, r->ti, r->size);
	if (rnd(s) & 1)
		free(r->p);
	else
		gh_free(r->p);
	r->p = NULL;
}

/* Reallocates r in place of the record; false when r was freed (size 0). */
static bool do_realloc(struct truth *t, uint64_t *s, struct rec *r)
{
	tag_check(r, TAG_BYTES, "contents changed before realloc");
	if (rnd(s) % 50 == 0) {
		/* glibc semantics: realloc(p, 0) frees p and returns NULL. */
		unsigned char *z = realloc(r->p, 0);
		if (z != NULL) {
			err("realloc(p, 0) returned non-NULL", r);
			free(z);
		}
		count_free(t, r->ti, r->size);
		r->p = NULL;
		return false;
	}
	size_t size = rnd_size(s);
	if (size == 0)
		size = 1; /* size 0 would free (above) */
	int kind = (int)(rnd(s) % 4);
	int ti = r->ti;
	unsigned char *n;
	switch (kind) {
	case 0: n = realloc(r->p, size); break; /* keeps the object's type */
	case 1: n = reallocarray(r->p, size / 2 + 1, 2); size = (size / 2 + 1) * 2; break;
	default:
		/* the result carries the given type (maybe another one) */
		ti = (int)(rnd(s) % 3);
		n = gh_realloc_typed(types[ti], r->p, size);
		break;
	}
	if (!n) {
		err("realloc failed", r);
		return true;
	}
	count_free(t, r->ti, r->size);
	count_alloc(t, ti, size);
	r->p = n;
	tag_check(r, size, "contents not preserved by realloc"); /* min(old, new) bytes */
	r->ti = ti;
	r->size = size;
	tag_write(r);
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct truth *t = &w->t;
	uint64_t seed = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(w->round * 131 + w->idx + 1) * 0xD1B54A32D192ED03ull);
	uint64_t *s = &seed;
	struct rec local[LOCAL_CAP];
	int n = 0;
	if (gh_scope_push(types[T_UNTYPED]) != 0)
		err("gh_scope_push failed", NULL);
	for (int op = 0; op < OPS; op++) {
		uint64_t r = rnd(s) % 100;
		if (n == 0 || (r < 36 && n < LOCAL_CAP)) {
			if (do_alloc(t, s, &local[n]))
				n++;
		} else if (r < 56) {
			int i = (int)(rnd(s) % (uint64_t)n);
			if (!do_realloc(t, s, &local[i]))
				local[i] = local[--n];
		} else if (r < 74) {
			int i = (int)(rnd(s) % (uint64_t)n);
			do_free(t, s, &local[i]);
			local[i] = local[--n];
		} else if (r < 84) {
			/* hand one object to whichever thread comes next */
			int i = (int)(rnd(s) % (uint64_t)n);
			pthread_mutex_lock(&pool_mu);
			if (pool_n < POOL_CAP) {
				pool[pool_n++] = local[i];
				local[i] = local[--n];
			}
			pthread_mutex_unlock(&pool_mu);
		} else if (r < 96) {
			/* take one from the pool (maybe allocated by an exited
			 * thread): free it, or realloc it and keep it */
			struct rec got = {0};
			pthread_mutex_lock(&pool_mu);
			if (pool_n > 0) {
				int i = (int)(rnd(s) % (uint64_t)pool_n);
				got = pool[i];
				pool[i] = pool[--pool_n];
			}
			pthread_mutex_unlock(&pool_mu);
			if (got.p) {
				if ((rnd(s) & 1) || n >= LOCAL_CAP) {
					do_free(t, s, &got);
				} else {
					meta_check(&got);
					if (do_realloc(t, s, &got))
						local[n++] = got;
				}
			}
		} else {
			/* retag: live counts move, totals do not */
			int i = (int)(rnd(s) % (uint64_t)n);
			int to = (int)(rnd(s) % NT);
			if (local[i].size == 0) {
				/* see meta_check */
			} else if (gh_retag(local[i].p, types[to]) != 0) {
				err("gh_retag failed", &local[i]);
			} else {
				t->live[local[i].ti]--;
				t->bytes[local[i].ti] -= (int64_t)local[i].size;
				t->live[to]++;
				t->bytes[to] += (int64_t)local[i].size;
				local[i].ti = to;
			}
		}
		w->ops_done++;
	}
	/* Leave about half of what is left live, in the pool, for later rounds. */
	for (int i = 0; i < n; i++) {
		bool kept = false;
		if (rnd(s) & 1) {
			pthread_mutex_lock(&pool_mu);
			if (pool_n < POOL_CAP) {
				pool[pool_n++] = local[i];
				kept = true;
			}
			pthread_mutex_unlock(&pool_mu);
		}
		if (!kept)
			do_free(t, s, &local[i]);
	}
	if (gh_scope_pop() != 0)
		err("gh_scope_pop failed", NULL);
	return NULL;
}

static void merge(const struct truth *t)
{
	for (int i = 0; i < NT; i++) {
		total.allocs[i] += t->allocs[i];
		total.frees[i] += t->frees[i];
		total.live[i] += t->live[i];
		total.bytes[i] += t->bytes[i];
	}
}

static gh_type_stats_t base[NT];

/* Counters minus the baseline must equal the merged ground truth. */
static void check_counters(const char *when)
{
	gh_type_stats_t all[64];
	size_t nall = gh_stats_all(all, 64);
	EXPECT_GE(nall, (size_t)types[NT - 1]);
	for (int i = 0; i < NT; i++) {
		gh_type_stats_t st;
		ASSERT_EQ(gh_type_stats(types[i], &st), 0);
		EXPECT_EQ(st.type, types[i]);
		EXPECT_STREQ(st.name, type_names[i]);
		long long live = (long long)(st.live_count - base[i].live_count);
		long long bytes = (long long)(st.live_bytes - base[i].live_bytes);
		long long allocs = (long long)(st.total_allocs - base[i].total_allocs);
		long long frees = (long long)(st.total_frees - base[i].total_frees);
		if (live != total.live[i] || bytes != total.bytes[i] || allocs != total.allocs[i] ||
		    frees != total.frees[i])
			fprintf(stderr,
				"  %s: type %s: counters live=%lld bytes=%lld allocs=%lld frees=%lld, "
				"truth live=%lld bytes=%lld allocs=%lld frees=%lld\n",
				when, type_names[i], live, bytes, allocs, frees, (long long)total.live[i],
				(long long)total.bytes[i], (long long)total.allocs[i], (long long)total.frees[i]);
		EXPECT_EQ(live, total.live[i]);
		EXPECT_EQ(bytes, total.bytes[i]);
		EXPECT_EQ(allocs, total.allocs[i]);
		EXPECT_EQ(frees, total.frees[i]);
		/* gh_stats_all agrees with gh_type_stats (nothing runs now) */
		if ((size_t)types[i] <= nall && types[i] <= 64) {
			const gh_type_stats_t *a = &all[types[i] - 1];
			EXPECT_EQ(a->type, types[i]);
			EXPECT_EQ(a->live_count, st.live_count);
			EXPECT_EQ(a->live_bytes, st.live_bytes);
			EXPECT_EQ(a->total_allocs, st.total_allocs);
			EXPECT_EQ(a->total_frees, st.total_frees);
		}
	}
}

TEST(threads_counters_exact)
{
	for (int i = 0; i < NT; i++) {
		types[i] = gh_type_register(type_names[i], NULL);
		ASSERT_NE(types[i], GH_TYPE_NONE);
		ASSERT_EQ(gh_type_stats(types[i], &base[i]), 0);
	}
	long ops = 0;
	for (int round = 0; round < ROUNDS; round++) {
		static struct worker w[NTHREADS];
		for (int i = 0; i < NTHREADS; i++) {
			memset(&w[i], 0, sizeof w[i]);
			w[i].round = round;
			w[i].idx = i;
			ASSERT_EQ(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++) {
			ASSERT_EQ(pthread_join(w[i].th, NULL), 0);
			merge(&w[i].t);
			ops += w[i].ops_done;
		}
		char when[32];
		snprintf(when, sizeof when, "after round %d", round);
		check_counters(when);
		/* What the pool holds is exactly what the truth says is live. */
		int64_t live = 0, bytes = 0;
		for (int i = 0; i < pool_n; i++) {
			meta_check(&pool[i]);
			live++;
			bytes += (int64_t)pool[i].size;
		}
		int64_t tl = 0, tb = 0;
		for (int i = 0; i < NT; i++) {
			tl += total.live[i];
			tb += total.bytes[i];
		}
		EXPECT_EQ(live, tl);
		EXPECT_EQ(bytes, tb);
	}
	fprintf(stderr, "  %d rounds x %d threads, %ld operations, %d objects left in the pool\n", ROUNDS,
		NTHREADS, ops, pool_n);
	/* The main thread frees what the threads left behind. */
	uint64_t s = 42;
	while (pool_n > 0)
		do_free(&total, &s, &pool[--pool_n]);
	check_counters("after freeing the pool");
	for (int i = 0; i < NT; i++) {
		gh_type_stats_t st;
		ASSERT_EQ(gh_type_stats(types[i], &st), 0);
		EXPECT_EQ(st.live_count, base[i].live_count);
		EXPECT_EQ(st.live_bytes, base[i].live_bytes);
	}
	EXPECT_EQ(atomic_load(&errors), 0);
}

int main(void)
{
	return RUN_TESTS();
}
