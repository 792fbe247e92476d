/*
 * Tracing switched on and off while threads free (bounded: at least 40
 * switches and 1.5 s of churn, at most 10 s). Each switch moves free's fast
 * path between the class table and the table of zeros (gh__free_cls) while
 * frees are under way: blocks reach the ring just before a start, traced
 * blocks reach it when a free raced the switch, untraced ones leave it for
 * the bins when it comes back. Afterwards the type's counts must equal
 * exactly what the threads hold, no misuse may have been reported, and
 * freeing it all must bring them back.
 */
#include "internal.h"
#include "test.h"
#include "ring_test.h"
#include "trace_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 3
#define SLOTS 96
#define MIN_SWITCHES 40
#define RUN_NS 1500000000LL
#define MAX_NS 10000000000LL

static gh_type_t type_t(void)
{
	static gh_type_t t;
	if (!t)
		t = gh_type_register("trace_toggle_t", NULL);
	return t;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct worker {
	pthread_t th;
	unsigned seed;
	void *slot[SLOTS];
	size_t size[SLOTS];
	unsigned long ops;
};

static _Atomic int stop_flag;

static void *churn(void *arg)
{
	struct worker *w = arg;
	gh_type_t t = type_t();
	uint32_t x = w->seed;
	for (unsigned long i = 0; !atomic_load(&stop_flag) && i < 200000000; i++) {
		x = x * 1664525u + 1013904223u;
		unsigned k = (x >> 8) % SLOTS;
		gh_free(w->slot[k]);
		size_t n = 16 + (x >> 20) % 600;
		w->slot[k] = escape(gh_malloc_typed(t, n));
		w->size[k] = n;
		w->ops++;
	}
	/* the blocks stay live for the check; the ring is emptied at exit */
	return NULL;
}

TEST(tracing_switched_while_threads_free)
{
	gh__opt.on_error_log = true;
	gh_set_error_handler(capture);
	calls = 0;
	gh_type_t t = type_t();
	gh__free_drain();
	gh_type_stats_t before = stats(t);
	static struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i].seed = 12345u + 7919u * (unsigned)i;
		ASSERT_EQ(pthread_create(&w[i].th, NULL, churn, &w[i]), 0);
	}
	long long t0 = now_ns();
	int switches = 0;
	while (switches < MIN_SWITCHES || now_ns() - t0 < RUN_NS) {
		if (now_ns() - t0 > MAX_NS)
			break;
		/* every allocation traced, then sampled: both kinds of block */
		EXPECT_EQ(gh__trace_start(4, (switches & 2) ? 4096 : 0), 0);
		struct timespec d = {0, 2000000};
		nanosleep(&d, NULL);
		EXPECT_EQ(gh__trace_stop(), 0);
		nanosleep(&d, NULL);
		switches++;
	}
	atomic_store(&stop_flag, 1);
	uint64_t held = 0, bytes = 0;
	unsigned long ops = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
		for (int k = 0; k < SLOTS; k++) {
			held += w[i].slot[k] != NULL;
			bytes += w[i].slot[k] ? w[i].size[k] : 0;
		}
	}
	EXPECT_TRUE(switches >= MIN_SWITCHES);
	EXPECT_TRUE(ops > 10000);
	EXPECT_EQ(calls, 0);
	gh_type_stats_t mid = stats(t);
	EXPECT_EQ(mid.live_count, before.live_count + held);
	EXPECT_EQ(mid.live_bytes, before.live_bytes + bytes);
	EXPECT_EQ(gh_heap_check(1), 0);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < SLOTS; k++)
			gh_free(w[i].slot[k]);
	gh__free_drain();
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.live_bytes, before.live_bytes);
	EXPECT_EQ(after.total_allocs - before.total_allocs, after.total_frees - before.total_frees);
	EXPECT_EQ(calls, 0);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh_set_error_handler(NULL);
}

int main(void)
{
	return RUN_TESTS();
}
