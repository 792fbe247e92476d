/* Unit tests for the ring of frees behind (struct gh_pend, internal.h):
 * free unpublishes a block at once and counts it GH_PEND frees later. The
 * counters must read exact at every quiet moment -- blocks in a ring
 * included, this thread's or another's, live or exited, before and after a
 * fork -- a double free of a ringed block is a double free, and nothing is
 * ever handed out twice. glassheap's own entry points throughout (gh_free
 * takes free's fast path): the same file runs under TSan (GH_TEST_TSAN),
 * where malloc is TSan's. */
#include "internal.h"
#include "test.h"
#include "ring_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static gh_type_t type_x(void)
{
	static gh_type_t t;
	if (!t)
		t = gh_type_register("ring_x", NULL);
	return t;
}

TEST(own_ring_is_counted_as_freed)
{
	gh__free_drain();
	gh_type_t t = type_x();
	gh_type_stats_t before = stats(t);
	void *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = escape(gh_malloc_typed(t, 100 + (size_t)i));
	gh_type_stats_t mid = stats(t);
	EXPECT_EQ(mid.live_count, before.live_count + 3);
	EXPECT_EQ(mid.live_bytes, before.live_bytes + 303);
	for (int i = 0; i < 3; i++)
		gh_free(p[i]);
	EXPECT_EQ(ringed(), 3); /* all three wait, none counted by the shard yet */
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.live_bytes, before.live_bytes);
	EXPECT_EQ(after.total_frees, before.total_frees + 3);
	gh_type_stats_t all[64];
	size_t n = gh_stats_all(all, 64);
	ASSERT_TRUE(n >= t);
	EXPECT_EQ(all[t - 1].live_count, before.live_count);
	EXPECT_EQ(all[t - 1].total_frees, before.total_frees + 3);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh__free_drain();
	EXPECT_EQ(ringed(), 0);
	after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.total_frees, before.total_frees + 3);
	EXPECT_EQ(gh_heap_check(1), 0);
}

/* A block in a ring is freed for every reader at once. */
TEST(ringed_block_reads_freed)
{
	void *p = escape(gh_malloc_typed(type_x(), 64));
	uintptr_t pa = (uintptr_t)escape(p);
	gh_free(p);
	EXPECT_FALSE(gh__start_live(gh__start_at(pa)));
	EXPECT_EQ(gh_ptr_size((void *)pa), 0);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh__free_drain();
}

/* Another thread's ring, while it waits and after it exits. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void wait_stage(int s)
{
	pthread_mutex_lock(&mu);
	while (stage < s)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void set_stage(int s)
{
	pthread_mutex_lock(&mu);
	stage = s;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* A helper thread's end: says it is done, then lives until stage 2. */
static void *done_then_wait(void)
{
	set_stage(1);
	wait_stage(2);
	return NULL;
}

static struct gh_ctr *waiter_ctr; /* the waiting thread's shard */

static void *free_three_and_wait(void *arg)
{
	gh_type_t t = *(gh_type_t *)arg;
	void *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = escape(gh_malloc_typed(t, 48));
	waiter_ctr = gh__tl.ctr; /* set up by its first allocation */
	for (int i = 0; i < 3; i++)
		gh_free(p[i]);
	return done_then_wait();
}

/* Starts free_three_and_wait and returns once its frees are done. */
static pthread_t start_waiter(gh_type_t *t)
{
	stage = 0;
	pthread_t th;
	if (pthread_create(&th, NULL, free_three_and_wait, t) != 0)
		abort();
	wait_stage(1);
	return th;
}

TEST(other_threads_ring_while_it_waits_and_after_it_exits)
{
	static gh_type_t t;
	t = type_x();
	gh_type_stats_t before = stats(t);
	pthread_t th = start_waiter(&t);
	gh_type_stats_t mid = stats(t);
	EXPECT_EQ(mid.live_count, before.live_count);
	EXPECT_EQ(mid.live_bytes, before.live_bytes);
	EXPECT_EQ(mid.total_allocs, before.total_allocs + 3);
	EXPECT_EQ(mid.total_frees, before.total_frees + 3);
	EXPECT_EQ(gh_heap_check(1), 0);
	set_stage(2);
	pthread_join(th, NULL);
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.total_frees, before.total_frees + 3);
	EXPECT_EQ(gh_heap_check(1), 0);
}

#ifndef GH_TEST_TSAN /* TSan's fork handling is not what is tested here */
/* A fork while another thread's ring holds blocks: the child counts them
 * and gives them back. */
TEST(fork_child_empties_the_rings_of_threads_it_lost)
{
	static gh_type_t t;
	t = type_x();
	gh_type_stats_t before = stats(t);
	pthread_t th = start_waiter(&t);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		gh_type_stats_t c = stats(t);
		int bad = c.live_count != before.live_count || c.total_frees != before.total_frees + 3 ||
			  gh_heap_check(1) != 0;
		/* the lost thread's ring was emptied: its blocks counted in its
		 * shard and given back */
		for (unsigned k = 0; k < GH_PEND; k++)
			bad |= (gh__pend(waiter_ctr)->u[k] != 0) << 1;
		bad |= (gh__pend(waiter_ctr)->seq & 1) << 2;
		/* the lost thread's blocks went back to jemalloc, once */
		void *q[64];
		for (int i = 0; i < 64; i++)
			q[i] = escape(gh_malloc_typed(t, 48));
		for (int i = 0; i < 64; i++)
			for (int j = 0; j < i; j++)
				bad |= q[i] == q[j];
		for (int i = 0; i < 64; i++)
			gh_free(q[i]);
		gh__free_drain();
		bad |= stats(t).live_count != before.live_count;
		_exit(bad);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	set_stage(2);
	pthread_join(th, NULL);
}
#endif

/* A second free, from another thread, of a block in the first thread's
 * ring: a double free, and the block goes back once. */
static void *free_one(void *arg)
{
	gh_free(arg);
	return done_then_wait();
}

TEST(double_free_of_another_threads_ringed_block)
{
	gh__opt.on_error_log = true;
	gh_set_error_handler(capture);
	calls = 0;
	stage = 0;
	void *p = escape(gh_malloc_typed(type_x(), 200));
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, free_one, p), 0);
	wait_stage(1);
	gh_free(escape(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_DOUBLE_FREE);
	set_stage(2);
	pthread_join(th, NULL);
	gh__free_drain();
	expect_handed_out_once(type_x(), 200, 64);
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh_set_error_handler(NULL);
}

/* Readers while a thread frees as fast as it can: never more than its few
 * live objects, never negative, and exact once it stops. */
static _Atomic int churn_stop;

static void *churn(void *arg)
{
	gh_type_t t = *(gh_type_t *)arg;
	void *keep[8] = {0};
	for (unsigned long i = 0; !atomic_load(&churn_stop) && i < 50000000; i++) {
		unsigned k = (unsigned)(i * 2654435761u) % 8;
		gh_free(keep[k]);
		keep[k] = escape(gh_malloc_typed(t, 16 + (i % 200)));
	}
	for (int k = 0; k < 8; k++)
		gh_free(keep[k]);
	return done_then_wait();
}

TEST(readers_during_churn_stay_in_range)
{
	stage = 0;
	atomic_store(&churn_stop, 0);
	gh_type_t t = gh_type_register("ring_churn", NULL);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, churn, &t), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned reads = 0, out_of_range = 0;
	do {
		gh_type_stats_t st = stats(t);
		/* 8 live at most; a read racing the owner may be off by its ring */
		out_of_range += st.live_count > 8 + GH_PEND;
		reads++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (reads < 200000 && (now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 300000000L);
	atomic_store(&churn_stop, 1);
	wait_stage(1);
	EXPECT_EQ(out_of_range, 0);
	EXPECT_TRUE(reads > 10);
	gh_type_stats_t st = stats(t);
	EXPECT_EQ(st.live_count, 0);
	EXPECT_EQ(st.live_bytes, 0);
	EXPECT_EQ(st.total_allocs, st.total_frees);
	EXPECT_EQ(gh_heap_check(1), 0);
	set_stage(2);
	pthread_join(th, NULL);
}

int main(void)
{
	return RUN_TESTS();
}
