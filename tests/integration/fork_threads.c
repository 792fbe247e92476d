/*
 * fork_threads -- fork while other threads allocate.
 *
 * Linked with glassheap_static (glassheap is this program's malloc).
 *
 * forks_while_threads_run: NWORKERS threads allocate, reallocate and free
 * (typed under T_WORK, and untyped) in a loop and trade objects through
 * lock-free slots, while the main thread forks NFORKS times. Each child
 * (alarm() guards against a deadlock) allocates, reallocates and frees
 * through malloc/calloc/realloc/posix_memalign/the typed API, checks that
 * gh_type_stats moves by exactly what it did (its own type, "malloc", a
 * type registered after the fork, a thread created after the fork, and
 * frees of objects the parent's workers allocated), sometimes forks a
 * grandchild, and _exit(0)s. The parent requires every child to exit 0
 * within a time bound, and at the end the workers' type counters equal
 * their ground truth exactly.
 *
 * child_exit_writes_report: a process run with GLASSHEAP_REPORT=dir/r.%p
 * (this program re-executed as a helper) forks, while two threads
 * allocate, a child that leaves 37 objects of a new type live and calls
 * exit(): the child's report (and only it) appears, with exactly those
 * counts.
 */
#include "glassheap.h"
#include "test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 4
#define NFORKS 50
#define NSLOTS 64
#define CHILD_ALARM 20     /* seconds: a child stuck longer has deadlocked */
#define CHILD_DEADLINE 40  /* seconds the parent waits for a child */

static gh_type_t T_WORK, T_CHILD;
static _Atomic(void *) slots[NSLOTS];
static atomic_bool stop_workers;

struct wtruth {
	int64_t allocs, frees, live, bytes;
};

struct worker {
	pthread_t th;
	int idx;
	struct wtruth t;
	_Atomic long iters;
};

static struct worker workers[NWORKERS];

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 100;
	if (r < 80)
		return 1 + rnd(s) % 256;
	if (r < 98)
		return 257 + rnd(s) % 8000;
	return 8192 + rnd(s) % 300000;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Workers ---------------------------------------------------------------------- */

struct obj {
	void *p;
	size_t size;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x1234567ull * (uint64_t)(w->idx + 3);
	struct obj objs[128];
	int n = 0;
	while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
		uint64_t r = rnd(&seed) % 100;
		if (n < 128 && r < 40) {
			size_t sz = rnd_size(&seed);
			void *p;
			switch (rnd(&seed) % 3) {
			case 0: p = gh_malloc_typed(T_WORK, sz); break;
			case 1: p = gh_calloc_typed(T_WORK, 1, sz); break;
			default: p = gh_aligned_alloc_typed(T_WORK, 256, sz); break;
			}
			if (!p)
				abort();
			memset(p, 0x11, sz);
			objs[n++] = (struct obj){p, sz};
			w->t.allocs++, w->t.live++, w->t.bytes += (int64_t)sz;
		} else if (n > 0 && r < 55) {
			int i = (int)(rnd(&seed) % (uint64_t)n);
			size_t sz = rnd_size(&seed);
			void *p = (r & 1) ? realloc(objs[i].p, sz) : gh_realloc_typed(T_WORK, objs[i].p, sz);
			if (!p)
				abort();
			w->t.allocs++, w->t.frees++, w->t.bytes += (int64_t)sz - (int64_t)objs[i].size;
			objs[i] = (struct obj){p, sz};
		} else if (n > 0 && r < 85) {
			int i = (int)(rnd(&seed) % (uint64_t)n);
			free(objs[i].p);
			w->t.frees++, w->t.live--, w->t.bytes -= (int64_t)objs[i].size;
			objs[i] = objs[--n];
		} else if (n > 0 && r < 93) {
			/* trade: publish one object, free what the slot held */
			int i = (int)(rnd(&seed) % (uint64_t)n);
			void *old = atomic_exchange(&slots[rnd(&seed) % NSLOTS], objs[i].p);
			objs[i] = objs[--n];
			if (old) {
				size_t sz = gh_ptr_size(old);
				if (gh_ptr_type(old) != T_WORK)
					abort();
				free(old);
				w->t.frees++, w->t.live--, w->t.bytes -= (int64_t)sz;
			}
		} else {
			/* untyped churn (counted under "malloc") */
			char *s = malloc(1 + rnd(&seed) % 500);
			if (!s)
				abort();
			s[0] = 1;
			s = realloc(s, 1000);
			free(s);
		}
		atomic_fetch_add_explicit(&w->iters, 1, memory_order_relaxed);
	}
	for (int i = 0; i < n; i++) {
		free(objs[i].p);
		w->t.frees++, w->t.live--, w->t.bytes -= (int64_t)objs[i].size;
	}
	return NULL;
}

static int start_workers(int n)
{
	atomic_store(&stop_workers, false);
	for (int i = 0; i < n; i++) {
		memset(&workers[i], 0, sizeof workers[i]);
		workers[i].idx = i;
		if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0)
			return -1;
	}
	return 0;
}

static long worker_iters(int n)
{
	long s = 0;
	for (int i = 0; i < n; i++)
		s += atomic_load(&workers[i].iters);
	return s;
}

/* Stops and joins the workers, frees what the slots hold, returns the merged truth. */
static struct wtruth stop_and_join(int n)
{
	atomic_store(&stop_workers, true);
	struct wtruth t = {0};
	for (int i = 0; i < n; i++) {
		pthread_join(workers[i].th, NULL);
		t.allocs += workers[i].t.allocs;
		t.frees += workers[i].t.frees;
		t.live += workers[i].t.live;
		t.bytes += workers[i].t.bytes;
	}
	for (int i = 0; i < NSLOTS; i++) {
		void *p = atomic_exchange(&slots[i], NULL);
		if (p) {
			t.frees++, t.live--, t.bytes -= (int64_t)gh_ptr_size(p);
			free(p);
		}
	}
	return t;
}

/* Waits for pid at most `limit` seconds; returns its wait status, or -1
 * (after killing it) when it did not finish in time. */
static int wait_bounded(pid_t pid, double limit)
{
	double t0 = now();
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -2;
		if (now() - t0 > limit) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static bool status_ok(const char *who, int i, int st)
{
	if (st == -1) {
		fprintf(stderr, "  %s %d did not finish within %d s (deadlock?)\n", who, i, CHILD_DEADLINE);
		return false;
	}
	if (st < 0) {
		fprintf(stderr, "  %s %d: waitpid failed\n", who, i);
		return false;
	}
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "  %s %d killed by signal %d%s\n", who, i, WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? " (alarm: deadlock)" : "");
		return false;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "  %s %d exited with status %d\n", who, i, WEXITSTATUS(st));
		return false;
	}
	return true;
}

/* ---- Children ------------------------------------------------------------------------ */

#define CCHECK(c)                                                                          \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "  child %d: line %d: check failed: %s\n", idx, __LINE__, #c); \
			return 1;                                                          \
		}                                                                          \
	} while (0)

static int stats_delta_is(gh_type_t t, const gh_type_stats_t *b, int64_t live, int64_t bytes, int64_t allocs,
			  int64_t frees)
{
	gh_type_stats_t a;
	if (gh_type_stats(t, &a) != 0)
		return 0;
	bool ok = (int64_t)(a.live_count - b->live_count) == live && (int64_t)(a.live_bytes - b->live_bytes) == bytes &&
		  (int64_t)(a.total_allocs - b->total_allocs) == allocs &&
		  (int64_t)(a.total_frees - b->total_frees) == frees;
	if (!ok)
		fprintf(stderr,
			"  type %s: delta live=%lld bytes=%lld allocs=%lld frees=%lld, want %lld %lld %lld %lld\n",
			a.name, (long long)(a.live_count - b->live_count), (long long)(a.live_bytes - b->live_bytes),
			(long long)(a.total_allocs - b->total_allocs), (long long)(a.total_frees - b->total_frees),
			(long long)live, (long long)bytes, (long long)allocs, (long long)frees);
	return ok;
}

struct child_thread_arg {
	void *keep[10];
	size_t kept_bytes;
	bool ok;
};

static void *child_thread(void *arg)
{
	struct child_thread_arg *a = arg;
	a->ok = true;
	for (int i = 0; i < 1000; i++) {
		size_t sz = 1 + (size_t)(i * 37) % 3000;
		char *p = gh_malloc_typed(T_CHILD, sz);
		if (!p) {
			a->ok = false;
			return NULL;
		}
		memset(p, 7, sz);
		if (i % 100 == 0) {
			a->keep[i / 100] = p;
			a->kept_bytes += sz;
		} else {
			free(p);
		}
	}
	return NULL;
}

static int child_main(int idx)
{
	alarm(CHILD_ALARM);
	uint64_t seed = 0xfeedull + (uint64_t)idx;
	gh_type_stats_t b;

	/* 1. Our own type: typed calls and untyped calls inside a scope. */
	CCHECK(gh_type_stats(T_CHILD, &b) == 0);
	enum { K = 300 };
	static void *ptr[K];
	static size_t size[K];
	int64_t bytes = 0;
	CCHECK(gh_scope_push(T_CHILD) == 0);
	for (int i = 0; i < K; i++) {
		size_t sz = rnd_size(&seed);
		void *p = NULL;
		switch (i % 7) {
		case 0: p = gh_malloc_typed(T_CHILD, sz); break;
		case 1: p = gh_calloc_typed(T_CHILD, sz, 1); break;
		case 2: p = gh_aligned_alloc_typed(T_CHILD, 4096, sz); break;
		case 3: p = malloc(sz); break;
		case 4: p = calloc(1, sz); break;
		case 5: CCHECK(posix_memalign(&p, 128, sz) == 0); break;
		default: p = realloc(NULL, sz); break;
		}
		CCHECK(p != NULL);
		CCHECK(gh_ptr_type(p) == T_CHILD);
		CCHECK(gh_ptr_size(p) == sz);
		memset(p, i & 0xff, sz);
		ptr[i] = p;
		size[i] = sz;
		bytes += (int64_t)sz;
	}
	CCHECK(stats_delta_is(T_CHILD, &b, K, bytes, K, 0));
	for (int i = 0; i < K; i++) {
		size_t sz = rnd_size(&seed);
		void *p = (i & 1) ? realloc(ptr[i], sz) : gh_realloc_typed(T_CHILD, ptr[i], sz);
		CCHECK(p != NULL);
		CCHECK(((unsigned char *)p)[0] == (i & 0xff));
		bytes += (int64_t)sz - (int64_t)size[i];
		ptr[i] = p;
		size[i] = sz;
	}
	CCHECK(stats_delta_is(T_CHILD, &b, K, bytes, 2 * K, K));
	for (int i = 0; i < K; i++)
		free(ptr[i]);
	CCHECK(stats_delta_is(T_CHILD, &b, 0, 0, 2 * K, 2 * K));
	CCHECK(gh_scope_pop() == 0);

	/* 2. Plain malloc: this process has one thread now, the delta is exact. */
	CCHECK(gh_type_stats(GH_TYPE_MALLOC, &b) == 0);
	char *m = malloc(100);
	CCHECK(m != NULL);
	m = realloc(m, 5000);
	CCHECK(m != NULL);
	CCHECK(stats_delta_is(GH_TYPE_MALLOC, &b, 1, 5000, 2, 1));
	free(m);
	CCHECK(stats_delta_is(GH_TYPE_MALLOC, &b, 0, 0, 2, 2));

	/* 3. Objects the parent's workers allocated (maybe mid-operation at the fork). */
	for (int s = 0; s < NSLOTS; s += 8) {
		void *p = atomic_exchange(&slots[s], NULL);
		if (!p)
			continue;
		CCHECK(gh_ptr_type(p) == T_WORK);
		size_t sz = gh_ptr_size(p);
		CCHECK(gh_type_stats(T_WORK, &b) == 0);
		free(p);
		CCHECK(stats_delta_is(T_WORK, &b, -1, -(int64_t)sz, 0, 1));
	}

	/* 4. A type registered after the fork. */
	char name[64];
	snprintf(name, sizeof name, "fork_child_type_%d", idx);
	gh_type_t nt = gh_type_register(name, NULL);
	CCHECK(nt != GH_TYPE_NONE);
	CCHECK(gh_type_find(name) == nt);
	CCHECK(strcmp(gh_type_name(nt), name) == 0);
	void *a = gh_malloc_typed(nt, 10), *c = gh_calloc_typed(nt, 3, 10);
	CCHECK(a && c);
	CCHECK(gh_type_stats(nt, &b) == 0);
	CCHECK(b.live_count == 2 && b.live_bytes == 40 && b.total_allocs == 2 && b.total_frees == 0);
	free(a);
	free(c);

	/* 5. A thread created after the fork gets a shard; its counts are kept. */
	CCHECK(gh_type_stats(T_CHILD, &b) == 0);
	struct child_thread_arg ta = {0};
	pthread_t th;
	CCHECK(pthread_create(&th, NULL, child_thread, &ta) == 0);
	CCHECK(pthread_join(th, NULL) == 0);
	CCHECK(ta.ok);
	CCHECK(stats_delta_is(T_CHILD, &b, 10, (int64_t)ta.kept_bytes, 1000, 990));
	for (int i = 0; i < 10; i++)
		free(ta.keep[i]);
	CCHECK(stats_delta_is(T_CHILD, &b, 0, 0, 1000, 1000));

	/* 6. Sometimes a grandchild. */
	if (idx % 10 == 0) {
		pid_t g = fork();
		CCHECK(g >= 0);
		if (g == 0) {
			alarm(CHILD_ALARM);
			gh_type_stats_t gb;
			if (gh_type_stats(T_CHILD, &gb) != 0)
				_exit(2);
			for (int i = 0; i < 1000; i++) {
				void *q = gh_malloc_typed(T_CHILD, (size_t)i + 1);
				if (!q)
					_exit(3);
				free(q);
			}
			_exit(stats_delta_is(T_CHILD, &gb, 0, 0, 1000, 1000) ? 0 : 4);
		}
		int st = wait_bounded(g, CHILD_DEADLINE);
		CCHECK(status_ok("grandchild of child", idx, st));
	}
	return 0;
}

TEST(forks_while_threads_run)
{
	T_WORK = gh_type_register("fork_worker", NULL);
	T_CHILD = gh_type_register("fork_child", NULL);
	ASSERT_NE(T_WORK, GH_TYPE_NONE);
	ASSERT_NE(T_CHILD, GH_TYPE_NONE);
	gh_type_stats_t wbase;
	ASSERT_EQ(gh_type_stats(T_WORK, &wbase), 0);
	ASSERT_EQ(start_workers(NWORKERS), 0);
	while (worker_iters(NWORKERS) < 20000)
		sched_yield();
	long it0 = worker_iters(NWORKERS);
	double t0 = now(), slowest = 0;
	int ok = 0;
	for (int i = 0; i < NFORKS; i++) {
		double f0 = now();
		pid_t pid = fork();
		ASSERT_TRUE(pid >= 0);
		if (pid == 0)
			_exit(child_main(i));
		int st = wait_bounded(pid, CHILD_DEADLINE);
		if (status_ok("child", i, st))
			ok++;
		else
			EXPECT_TRUE(!"child failed");
		if (now() - f0 > slowest)
			slowest = now() - f0;
		/* let the workers run on between forks */
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	long it1 = worker_iters(NWORKERS);
	fprintf(stderr, "  %d/%d children exited 0 in %.2f s (slowest %.3f s); workers ran %ld iterations meanwhile\n",
		ok, NFORKS, now() - t0, slowest, it1 - it0);
	EXPECT_EQ(ok, NFORKS);
	EXPECT_GT(it1 - it0, 0);

	struct wtruth t = stop_and_join(NWORKERS);
	gh_type_stats_t st;
	ASSERT_EQ(gh_type_stats(T_WORK, &st), 0);
	EXPECT_EQ((int64_t)(st.live_count - wbase.live_count), t.live);
	EXPECT_EQ((int64_t)(st.live_bytes - wbase.live_bytes), t.bytes);
	EXPECT_EQ((int64_t)(st.total_allocs - wbase.total_allocs), t.allocs);
	EXPECT_EQ((int64_t)(st.total_frees - wbase.total_frees), t.frees);
	EXPECT_EQ(t.live, 0);
	EXPECT_EQ(t.bytes, 0);
}

/* ---- A child that exit()s writes its own report ------------------------------------------ */

#define LEAK_N 37
#define LEAK_SIZE 100

static void *report_leak[LEAK_N]; /* live at exit: the report must show them */

static int report_helper(const char *dir)
{
	alarm(60);
	const char *rp = getenv("GLASSHEAP_REPORT");
	if (!rp || !strstr(rp, "%p")) {
		fprintf(stderr, "  helper: GLASSHEAP_REPORT not set\n");
		return 1;
	}
	T_WORK = gh_type_register("fork_worker", NULL);
	if (start_workers(2) != 0)
		return 1;
	while (worker_iters(2) < 5000)
		sched_yield();
	pid_t g = fork();
	if (g < 0)
		return 1;
	if (g == 0) {
		alarm(CHILD_ALARM);
		gh_type_t t = gh_type_register("fork_report_leak", NULL);
		for (int i = 0; i < LEAK_N; i++)
			if ((report_leak[i] = gh_malloc_typed(t, LEAK_SIZE)) == NULL)
				_exit(3);
		for (int i = 0; i < 1000; i++)
			free(malloc((size_t)i + 1));
		exit(0); /* atexit handlers and destructors run: the report is written */
	}
	int st = wait_bounded(g, CHILD_DEADLINE);
	stop_and_join(2);
	if (!status_ok("exiting child", 0, st))
		return 1;
	char path[4096], want_head[128], want_line[128], line[512];
	snprintf(path, sizeof path, "%s/r.%d", dir, (int)g);
	snprintf(want_head, sizeof want_head, "# glassheap report pid=%d ", (int)g);
	snprintf(want_line, sizeof want_line, "type\t%d\t%d\t%d\t0\tfork_report_leak\n", LEAK_N, LEAK_N * LEAK_SIZE,
		 LEAK_N);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "  helper: the child that called exit() wrote no report %s\n", path);
		return 1;
	}
	bool head = false, found = false;
	int lines = 0;
	while (fgets(line, sizeof line, f)) {
		if (lines++ == 0)
			head = strncmp(line, want_head, strlen(want_head)) == 0;
		if (strcmp(line, want_line) == 0)
			found = true;
	}
	fclose(f);
	unlink(path);
	if (!head || !found) {
		fprintf(stderr, "  helper: report %s: header ok=%d, line \"%.*s\" found=%d\n", path, head,
			(int)strlen(want_line) - 1, want_line, found);
		return 1;
	}
	/* Only the child's report: the helper itself has not exited. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int others = 0;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			fprintf(stderr, "  helper: unexpected file %s/%s\n", dir, e->d_name);
			others++;
		}
	if (d)
		closedir(d);
	return others ? 1 : 0;
}

TEST(child_exit_writes_report)
{
	char dir[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/gh_fork_report_XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		char env[4200];
		snprintf(env, sizeof env, "%s/r.%%p", dir);
		setenv("GLASSHEAP_REPORT", env, 1);
		execl("/proc/self/exe", "fork_threads", "--report-helper", dir, (char *)NULL);
		_exit(127);
	}
	int st = wait_bounded(pid, 90);
	EXPECT_TRUE(status_ok("report helper", 0, st));
	EXPECT_EQ(rmdir(dir), 0); /* empty: no stray reports */
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--report-helper") == 0)
		_exit(report_helper(argv[2])); /* _exit: the helper writes no report */
	return RUN_TESTS();
}
