/*
 * Tracing under load (bounded: 2 s and at least 20 control rounds, at most
 * 10 s): 8 threads allocate, reallocate and
 * free at three sites while another thread takes, compares and deletes
 * snapshots and reads top, traceback and status. Afterwards the per-line
 * counts must equal exactly what the threads left live, and freeing it all
 * (from another thread) must bring them to zero.
 */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define RING 256
#define RUN_MS 2000

static int line_w1, line_w2, line_w3;
static _Atomic int stop_flag;

static NOIPA void *w1(size_t n)
{
	void *p = malloc(n); line_w1 = __LINE__;
	return p;
}

static NOIPA void *w2(size_t n)
{
	void *p = calloc(1, n); line_w2 = __LINE__;
	return p;
}

static NOIPA void *w3(void *old, size_t n)
{
	void *p = realloc(old, n); line_w3 = __LINE__;
	return p;
}

struct worker {
	void *ring[RING];
	size_t size[RING];
	int site[RING]; /* 1, 2, 3 */
	uint64_t ops;
};
static struct worker workers[THREADS];

static NOIPA void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (uintptr_t)arg * 2654435761u + 1;
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		unsigned i = (unsigned)(x >> 40) % RING;
		size_t n = 1 + (size_t)((x >> 20) % 3000);
		switch ((x >> 58) % 3) {
		case 0:
			free(w->ring[i]);
			w->ring[i] = w1(n);
			w->site[i] = 1;
			break;
		case 1:
			free(w->ring[i]);
			w->ring[i] = w2(n);
			w->site[i] = 2;
			break;
		default:
			w->ring[i] = w3(w->ring[i], n);
			w->site[i] = 3;
			break;
		}
		w->size[i] = n;
		w->ops++;
	}
	return NULL;
}

static _Atomic uint64_t control_rounds, control_errors;

static void *control(void *arg)
{
	(void)arg;
	char name[16], prev[16] = "";
	for (unsigned k = 0; !atomic_load(&stop_flag); k++) {
		snprintf(name, sizeof name, "s%u", k % 3);
		if (gh__trace_snapshot(name) != 0)
			control_errors++;
		struct gh_trace_stat *t;
		struct gh_trace_tb *tb;
		size_t n;
		if (prev[0]) {
			if (gh__trace_compare(prev, name, k & 1 ? GH_TRACE_BY_LINENO : GH_TRACE_BY_FILENAME, 10, &t,
					      &n) != 0)
				control_errors++;
			else
				free(t);
		}
		if (gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n) != 0)
			control_errors++;
		else
			free(t);
		if (gh__trace_traceback(5, &tb, &n) != 0)
			control_errors++;
		else
			free(tb);
		struct gh_trace_status st;
		gh__trace_status(&st);
		if (!st.is_tracing)
			control_errors++;
		if (k % 7 == 6)
			gh__trace_snapshot_delete(name);
		else
			strcpy(prev, name);
		control_rounds++;
	}
	return NULL;
}

TEST(threads_with_concurrent_snapshots)
{
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	/* Symbolize once before the storm: a cold symbol cache loads libdw's view
	 * of the process and libc's debug information (170 ms alone, seconds
	 * when 8 threads compete for the cores). */
	pthread_t th[THREADS], ctl;
	ASSERT_EQ(pthread_create(&ctl, NULL, work, &workers[0]), 0);
	atomic_store(&stop_flag, 1);
	pthread_join(ctl, NULL);
	atomic_store(&stop_flag, 0);
	struct gh_trace_tb *warm;
	size_t nwarm;
	ASSERT_EQ(gh__trace_traceback(100, &warm, &nwarm), 0);
	free(warm);
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, work, &workers[i]), 0);
	ASSERT_EQ(pthread_create(&ctl, NULL, control, NULL), 0);
	struct timespec ts = {RUN_MS / 1000, (RUN_MS % 1000) * 1000000L}, tick = {0, 10000000L};
	nanosleep(&ts, NULL);
	for (int i = 0; i < 800 && atomic_load(&control_rounds) < 20; i++)
		nanosleep(&tick, NULL);
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(ctl, NULL);
	EXPECT_EQ(control_errors, 0);
	EXPECT_GE(control_rounds, 20);

	int64_t want_bytes[4] = {0}, want_count[4] = {0};
	uint64_t ops = 0;
	for (int i = 0; i < THREADS; i++) {
		ops += workers[i].ops;
		for (int j = 0; j < RING; j++)
			if (workers[i].ring[j]) {
				want_bytes[workers[i].site[j]] += (int64_t)workers[i].size[j];
				want_count[workers[i].site[j]]++;
			}
	}
	fprintf(stderr, "  %llu allocator operations, %llu control rounds\n", (unsigned long long)ops,
		(unsigned long long)control_rounds);

	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	int64_t got_bytes[4] = {0}, got_count[4] = {0}, all = 0;
	for (size_t i = 0; i < n; i++) {
		all += t[i].size;
		if (strcmp(t[i].frame.filename, __FILE__) != 0)
			continue;
		int site = (int)t[i].frame.lineno == line_w1 ? 1 : (int)t[i].frame.lineno == line_w2 ? 2 :
			   (int)t[i].frame.lineno == line_w3 ? 3 : 0;
		got_bytes[site] += t[i].size;
		got_count[site] += t[i].count;
	}
	free(t);
	for (int s = 0; s < 4; s++) {
		EXPECT_EQ(got_bytes[s], want_bytes[s]);
		EXPECT_EQ(got_count[s], want_count[s]);
	}
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, (uint64_t)all);
	EXPECT_EQ(st.nested, 0);
	EXPECT_EQ(st.untraced, 0);

	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < RING; j++)
			free(workers[i].ring[j]);
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_FILENAME, 100, &t, &n), 0);
	for (size_t i = 0; i < n; i++)
		EXPECT_TRUE(strcmp(t[i].frame.filename, __FILE__) != 0);
	free(t);
	EXPECT_EQ(gh__trace_stop(), 0);
}

int main(void)
{
	return RUN_TESTS();
}
