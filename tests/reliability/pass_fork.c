/*
 * pass_fork.c -- fork while passes run (issue 18, item 5). A child must
 * not inherit a pass half done: the loader's lock (a pass runs inside
 * dl_iterate_phdr), the world lock, parked threads. Threads fork in a loop
 * while another thread runs passes; each child runs a pass of its own,
 * walks the loaded modules (dl_iterate_phdr, as C++ exception unwinding
 * does), allocates, and exits. A child that does not exit within 10 s is
 * hung: it is killed and counted. None may hang.
 */
#include "pass_util.h"

#include <link.h>
#include <pthread.h>
#include <sys/wait.h>

#define FORKERS 2
#define CHILDREN_EACH 40

static _Atomic int stop_passes;
static _Atomic int hung, bad_exit, passes;

static void *pass_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_passes)) {
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		if (gh__mark_run(GH_GC_COLLECT, &r, &bad) == 0) {
			atomic_fetch_add(&passes, 1);
			gh__mark_result_free(r);
		}
	}
	return NULL;
}

static int count_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info, (void)size;
	(*(int *)arg)++;
	return 0;
}

static void child(void)
{
	alarm(0);
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
	if (rc == 0)
		gh__mark_result_free(r);
	int modules = 0;
	dl_iterate_phdr(count_module, &modules);
	void *p = malloc(100);
	PASS_KEEP(p);
	free(p);
	_exit(rc == 0 && modules > 0 ? 0 : 1);
}

static void *forker(void *arg)
{
	(void)arg;
	for (int i = 0; i < CHILDREN_EACH; i++) {
		pid_t pid = fork();
		if (pid == 0)
			child();
		if (pid < 0)
			continue;
		double end = pass_now() + 10;
		int st = 0;
		pid_t w = 0;
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 && pass_now() < end) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
		if (w == 0) {
			atomic_fetch_add(&hung, 1);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			atomic_fetch_add(&bad_exit, 1);
		}
	}
	return NULL;
}

int main(void)
{
	pass_watchdog(240);
	pthread_t pt, f[FORKERS];
	pthread_create(&pt, NULL, pass_loop, NULL);
	for (int i = 0; i < FORKERS; i++)
		pthread_create(&f[i], NULL, forker, NULL);
	for (int i = 0; i < FORKERS; i++)
		pthread_join(f[i], NULL);
	atomic_store(&stop_passes, 1);
	pthread_join(pt, NULL);
	printf("children %d, hung %d, failed %d, passes in the parent %d\n", FORKERS * CHILDREN_EACH,
	       atomic_load(&hung), atomic_load(&bad_exit), atomic_load(&passes));
	PASS_CHECK(atomic_load(&passes) > 0, "passes ran");
	PASS_CHECK(atomic_load(&hung) == 0, "no child hung");
	PASS_CHECK(atomic_load(&bad_exit) == 0, "every child's own pass worked");
	return pass_finish("pass_fork");
}
