/* The core without the shim: typed allocation, lookup, enumeration and
 * exact counters under threads with cross-thread frees, using only the
 * gh_* API. Built twice: linked normally (glassheap is also the malloc) and
 * against an ASan+UBSan build of the core next to the sanitizer's malloc
 * (label "sanitizer"), so the core's own memory errors are caught. */
#include "internal.h"
#include "test.h"
#include "test_util.h"

#include <pthread.h>

TEST(typed_calls_round_trip)
{
	gh_type_t t = gh_type_register("direct.T", NULL);
	char *p = gh_malloc_typed(t, 33);
	ASSERT_TRUE(p != NULL);
	memset(p, 7, 33);
	EXPECT_EQ(gh_ptr_size(p), 33);
	char *q = gh_calloc_typed(t, 3, 5);
	for (int i = 0; i < 15; i++)
		EXPECT_EQ(q[i], 0);
	p = gh_realloc_typed(t, p, 100000);
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(p[32], 7);
	EXPECT_EQ(gh_ptr_size(p), 100000);
	for (size_t a = 32; a <= ((size_t)1 << 16); a <<= 1) {
		char *r = gh_aligned_alloc_typed(t, a, 40);
		ASSERT_TRUE(r != NULL);
		EXPECT_EQ((uintptr_t)r % a, 0);
		EXPECT_EQ(gh_ptr_size(r), 40);
		EXPECT_EQ(gh__heap_lookup((uintptr_t)r + 39), (uintptr_t)r);
		r = gh_realloc_typed(t, r, 5000); /* aligned blocks realloc by copy */
		EXPECT_EQ(gh_ptr_size(r), 5000);
		gh_free(r);
	}
	EXPECT_TRUE(gh_aligned_alloc_typed(t, 48, 10) == NULL);
	gh_free(p);
	gh_free(q);
	gh_type_stats_t st;
	gh_type_stats(t, &st);
	EXPECT_EQ(st.live_count, 0);
	EXPECT_EQ(st.live_bytes, 0);
}

struct count_ctx {
	gh_type_t t;
	size_t n, bytes;
};

static bool count_type(uintptr_t user, const struct gh_meta *m, void *arg)
{
	struct count_ctx *c = arg;
	(void)user;
	if (m->type == c->t) {
		c->n++;
		c->bytes += m->size;
	}
	return true;
}

TEST(enumeration_matches_counters)
{
	gh_type_t t = gh_type_register("direct.Enum", NULL);
	void *ps[500];
	size_t total = 0;
	for (int i = 0; i < 500; i++) {
		size_t n = (size_t)(i * 131) % 40000;
		ps[i] = gh_malloc_typed(t, n);
		total += n;
	}
	struct count_ctx c = {.t = t};
	gh__heap_enumerate(count_type, &c);
	EXPECT_EQ(c.n, 500);
	EXPECT_EQ(c.bytes, total);
	gh_type_stats_t st;
	gh_type_stats(t, &st);
	EXPECT_EQ(st.live_count, 500);
	EXPECT_EQ(st.live_bytes, total);
	for (int i = 0; i < 500; i++)
		gh_free(ps[i]);
}

/* ---- Exact counters under threads ------------------------------------------------ */

#define NTYPES 4
#define NTHREADS 6
#define ROUNDS 3
#define OPS 20000
#define POOL 4096

static gh_type_t ttypes[NTYPES];
static void *pool[POOL];
static size_t pool_size[POOL];
static int pool_type[POOL];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

struct truth {
	int64_t live[NTYPES], bytes[NTYPES], allocs[NTYPES], frees[NTYPES];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	struct truth *tr = arg;
	uint64_t seed = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
	for (int i = 0; i < OPS; i++) {
		size_t slot = rnd(&seed) % POOL;
		int op = (int)(rnd(&seed) % 3);
		pthread_mutex_lock(&pool_lock);
		void *p = pool[slot];
		if (p == NULL) {
			int k = (int)(rnd(&seed) % NTYPES);
			size_t n = rnd(&seed) % 2000;
			if (rnd(&seed) % 50 == 0)
				n += 30000;
			p = (k & 1) ? gh_calloc_typed(ttypes[k], 1, n) : gh_malloc_typed(ttypes[k], n);
			pool[slot] = p;
			pool_size[slot] = n;
			pool_type[slot] = k;
			tr->live[k]++, tr->bytes[k] += (int64_t)n, tr->allocs[k]++;
		} else if (op == 0) {
			int k = pool_type[slot];
			size_t n = rnd(&seed) % 5000 + 1;
			void *q = gh_realloc_typed(ttypes[k], p, n);
			if (q) {
				tr->bytes[k] += (int64_t)n - (int64_t)pool_size[slot];
				tr->allocs[k]++, tr->frees[k]++;
				pool[slot] = q;
				pool_size[slot] = n;
			}
		} else {
			int k = pool_type[slot];
			pool[slot] = NULL;
			gh_free(p);
			tr->live[k]--, tr->bytes[k] -= (int64_t)pool_size[slot], tr->frees[k]++;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	return NULL;
}

TEST(counters_exact_with_thread_churn_and_cross_thread_frees)
{
	static const char *names[NTYPES] = {"direct.K0", "direct.K1", "direct.K2", "direct.K3"};
	for (int k = 0; k < NTYPES; k++)
		ttypes[k] = gh_type_register(names[k], NULL);
	static struct truth truths[ROUNDS][NTHREADS];
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t th[NTHREADS];
		for (int i = 0; i < NTHREADS; i++)
			pthread_create(&th[i], NULL, worker, &truths[r][i]);
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(th[i], NULL);
	}
	for (int k = 0; k < NTYPES; k++) {
		int64_t live = 0, bytes = 0, allocs = 0, frees = 0;
		for (int r = 0; r < ROUNDS; r++)
			for (int i = 0; i < NTHREADS; i++) {
				live += truths[r][i].live[k];
				bytes += truths[r][i].bytes[k];
				allocs += truths[r][i].allocs[k];
				frees += truths[r][i].frees[k];
			}
		gh_type_stats_t st;
		ASSERT_EQ(gh_type_stats(ttypes[k], &st), 0);
		EXPECT_EQ(st.live_count, live);
		EXPECT_EQ(st.live_bytes, bytes);
		EXPECT_EQ(st.total_allocs, allocs);
		EXPECT_EQ(st.total_frees, frees);
	}
	for (int i = 0; i < POOL; i++)
		gh_free(pool[i]);
	gh_test_expect_types_empty(ttypes, NTYPES);
}

int main(void)
{
	return RUN_TESTS();
}
