/*
 * pass_eintr.c -- a pass is invisible to blocking calls (issue 13, item 3).
 *
 * Six threads block over and over, each in one call with a 300 ms timeout:
 * nanosleep, poll, select, epoll_wait, sleep (1 s), and -- in a thread
 * that blocks every signal, the sigwait pattern -- sigtimedwait. Meanwhile
 * 100 passes run. Every call must return exactly what it returns without
 * glassheap (0, or EAGAIN for sigtimedwait: nothing ever arrives), never
 * EINTR, and never before its timeout; nor much after it (the pauses are
 * milliseconds; the allowance covers a loaded machine).
 *
 * Only the ptrace stop can promise this (a signal's handler makes these
 * calls fail with EINTR); where ptrace is refused the test is skipped.
 */
#include "pass_util.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>

#define ROUNDS 10
#define TIMEOUT_MS 300
#define LATE_MS 400 /* allowed lateness per call */

enum { NANOSLEEP, POLL, SELECT, EPOLL, SLEEP, SIGWAIT, KINDS };
static const char *const names[KINDS] = {"nanosleep", "poll", "select", "epoll_wait", "sleep", "sigtimedwait"};
static _Atomic int wrong_result[KINDS], eintr[KINDS], early[KINDS], late[KINDS], calls[KINDS];
static double worst_late[KINDS];
static _Atomic int done;

static void *blocker(void *arg)
{
	int kind = (int)(uintptr_t)arg;
	int ep = epoll_create1(0);
	if (kind == SIGWAIT) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	}
	for (int i = 0; i < ROUNDS; i++) {
		double want = kind == SLEEP ? 1.0 : TIMEOUT_MS / 1e3;
		errno = 0;
		double t0 = pass_now();
		int r = -2, expect = 0;
		switch (kind) {
		case NANOSLEEP: {
			struct timespec ts = {0, TIMEOUT_MS * 1000000L};
			r = nanosleep(&ts, NULL);
			break;
		}
		case POLL:
			r = poll(NULL, 0, TIMEOUT_MS);
			break;
		case SELECT: {
			struct timeval tv = {0, TIMEOUT_MS * 1000};
			r = select(0, NULL, NULL, NULL, &tv);
			break;
		}
		case EPOLL: {
			struct epoll_event ev;
			r = epoll_wait(ep, &ev, 1, TIMEOUT_MS);
			break;
		}
		case SLEEP:
			r = (int)sleep(1);
			break;
		case SIGWAIT: {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGUSR2); /* never sent */
			struct timespec ts = {0, TIMEOUT_MS * 1000000L};
			r = sigtimedwait(&set, NULL, &ts);
			expect = -1;
			if (r == -1 && errno != EAGAIN)
				r = -3;
			break;
		}
		}
		int e = errno;
		double took = pass_now() - t0;
		atomic_fetch_add(&calls[kind], 1);
		if (r != expect)
			atomic_fetch_add(&wrong_result[kind], 1);
		if (e == EINTR)
			atomic_fetch_add(&eintr[kind], 1);
		if (took < want - 0.002)
			atomic_fetch_add(&early[kind], 1);
		if (took - want > worst_late[kind])
			worst_late[kind] = took - want;
		if (took > want + LATE_MS / 1e3) {
			atomic_fetch_add(&late[kind], 1);
			fprintf(stderr, "  %s call %d: returned %d after %.0f ms (want %.0f)\n", names[kind], i, r,
				took * 1e3, want * 1e3);
		}
	}
	close(ep);
	atomic_fetch_add(&done, 1);
	return NULL;
}

int main(void)
{
	pass_watchdog(120);
	gh__world_set_method(GH_STOP_PTRACE);
	{
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(0, &r, &bad);
		if (rc == EPERM) {
			printf("SKIP: ptrace is refused here; the signal method cannot keep blocking calls unseen\n");
			return 77;
		}
		gh__mark_result_free(r);
	}
	pthread_t th[KINDS];
	for (uintptr_t k = 0; k < KINDS; k++)
		pthread_create(&th[k], NULL, blocker, (void *)k);
	int passes = 0;
	double t0 = pass_now();
	while (passes < 100 && atomic_load(&done) < KINDS) {
		struct timespec ts = {0, 25000000};
		nanosleep(&ts, NULL);
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		PASS_CHECK(rc == 0, "pass: %s", strerror(rc));
		if (rc == 0) {
			PASS_CHECK(strcmp(r->stop_method, "ptrace") == 0, "stopped by ptrace: %s", r->stop_method);
			gh__mark_result_free(r);
			passes++;
		}
	}
	double span = pass_now() - t0;
	for (int k = 0; k < KINDS; k++)
		pthread_join(th[k], NULL);
	printf("%d passes in %.1f s\n", passes, span);
	PASS_CHECK(passes == 100, "100 passes ran while the calls blocked: %d", passes);
	for (int k = 0; k < KINDS; k++) {
		printf("  %-12s %2d calls: %d wrong results, %d EINTR, %d early, %d late (worst %+.0f ms)\n", names[k],
		       atomic_load(&calls[k]), atomic_load(&wrong_result[k]), atomic_load(&eintr[k]),
		       atomic_load(&early[k]), atomic_load(&late[k]), worst_late[k] * 1e3);
		PASS_CHECK(atomic_load(&wrong_result[k]) == 0 && atomic_load(&eintr[k]) == 0 && atomic_load(&early[k]) == 0 &&
				   atomic_load(&late[k]) == 0,
			   "%s returns as it would without glassheap", names[k]);
	}
	return pass_finish("pass_eintr");
}
