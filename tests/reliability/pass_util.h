/*
 * pass_util.h -- shared by the pass_*.c programs: regression tests for
 * "a pass never harms the host" (docs/testing.md). Each program is one
 * situation in which a reachability pass used to free a live object, hang
 * or scan far too much; it runs passes through the core's internal entry
 * point (gh__mark_run) against a bounded workload and exits non-zero on any
 * damage. A watchdog turns a hang into a failure (exit 3).
 */
#ifndef GH_PASS_UTIL_H
#define GH_PASS_UTIL_H

#include "internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pass_failures;

#define PASS_CHECK(cond, ...)                                                      \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
			fprintf(stderr, __VA_ARGS__);                              \
			fprintf(stderr, "\n");                                     \
			pass_failures++;                                           \
		}                                                                  \
	} while (0)

static inline double pass_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pass_on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: watchdog: the program hung\n";
	(void)!write(2, msg, sizeof msg - 1);
	_exit(3);
}

/* A hang becomes a failure after `seconds`. */
static inline void pass_watchdog(unsigned seconds)
{
	signal(SIGALRM, pass_on_alarm);
	alarm(seconds);
}

/* Escapes p so that the compiler keeps the allocation and the store. */
#define PASS_KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

static inline int pass_finish(const char *name)
{
	if (pass_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, pass_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif
