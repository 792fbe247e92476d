/* gc while other threads allocate, realloc and free at full speed: 1000
 * reachability passes under a time bound, no crash, no deadlock, exact
 * counters at the end, and no reachable object ever reported lost (every
 * object the workers hold is reachable from their pool, a global). */
#include "internal.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define WORKERS 4
#define SLOTS 2048
#define GC_RUNS 1000
#define TIME_LIMIT_S 60

static void *volatile pool[WORKERS][SLOTS];
static _Atomic int stop;
static gh_type_t held_type;
static _Atomic long ops;
static _Atomic long misuse;

static void on_misuse(gh_error_kind_t kind, const void *ptr, const char *op, const char *msg)
{
	(void)kind, (void)ptr, (void)op, (void)msg;
	atomic_fetch_add(&misuse, 1);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	uint64_t seed = (uint64_t)id * 7919 + 1;
	gh_scope_push(held_type);
	while (!atomic_load(&stop)) {
		size_t i = rnd(&seed) % SLOTS;
		void *p = pool[id][i];
		switch (rnd(&seed) % 4) {
		case 0:
		case 1:
			if (!p)
				pool[id][i] = malloc(rnd(&seed) % 300 + 1);
			break;
		case 2:
			if (p) {
				void *q = realloc(p, rnd(&seed) % 3000 + 1);
				if (q)
					pool[id][i] = q;
			}
			break;
		default:
			if (p) {
				pool[id][i] = NULL;
				free(p);
			}
		}
		atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
	}
	gh_scope_pop();
	return NULL;
}

TEST(thousand_gcs_during_allocation_storm)
{
	/* collectable: a pass that freed a held block would break the counts
	 * below and make the worker's later free a double free */
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	held_type = gh_type_register("Storm.Held", &desc);
	gh_set_error_handler(on_misuse);
	pthread_t th[WORKERS];
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	time_t start = time(NULL);
	int runs = 0, timeouts = 0;
	uint64_t lost_held = 0, collected = 0;
	for (; runs < GC_RUNS && time(NULL) - start < TIME_LIMIT_S; runs++) {
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT | (runs % 10 == 0 ? GH_GC_REFERRERS : 0), &r, &bad);
		if (rc == ETIMEDOUT) {
			/* every allocator window is a few stores, never a wait: a
			 * stop that times out here is a bug (counted, then failed) */
			fprintf(stderr, "  gc run %d: ETIMEDOUT, thread %d did not stop\n", runs, (int)bad);
			timeouts++;
			continue;
		}
		ASSERT_EQ(rc, 0);
		for (size_t k = 0; k < r->ntypes; k++)
			if (r->types[k].type == held_type)
				lost_held += r->types[k].cls[GH_DEFINITELY_LOST].count +
					     r->types[k].cls[GH_INDIRECTLY_LOST].count;
		collected += r->collected_objects;
		gh__mark_result_free(r);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "  %d gc runs (%d timed out), %ld allocator ops\n", runs, timeouts, atomic_load(&ops));
	EXPECT_GE(runs - timeouts, 100);
	EXPECT_EQ(timeouts, 0);
	EXPECT_EQ(lost_held, 0);
	EXPECT_EQ(collected, 0);
	EXPECT_EQ(atomic_load(&misuse), 0);
	/* counters: the live objects are exactly those left in the pools */
	uint64_t n = 0, bytes = 0;
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < SLOTS; i++)
			if (pool[w][i]) {
				n++;
				bytes += gh_ptr_size(pool[w][i]);
			}
	gh_type_stats_t st;
	gh_type_stats(held_type, &st);
	EXPECT_EQ(st.live_count, n);
	EXPECT_EQ(st.live_bytes, bytes);
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < SLOTS; i++)
			free(pool[w][i]);
}

int main(void)
{
	return RUN_TESTS();
}
