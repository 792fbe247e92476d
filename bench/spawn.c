/*
 * spawn.c -- gh-bench-spawn: start-up cost of a short program (issue 15's
 * "/bin/true under LD_PRELOAD"), for bench/footprint.py.
 *
 *   gh-bench-spawn RUNS PROGRAM [ARGS...]
 *
 * Runs PROGRAM RUNS times, one after the other, with this process's
 * environment (so LD_PRELOAD reaches the child), and prints one line per
 * run: "run=I wall_us=... user_us=... sys_us=... maxrss_kb=... status=S".
 * The first line is "launcher_rss_kb=N": this process's own VmHWM.
 *
 * Why a launcher of its own: a child's ru_maxrss includes the high-water
 * mark of the image it was forked from (Linux carries the old mm's peak
 * over exec), so a Python driver (~17 MiB) or /usr/bin/time would hide
 * /bin/true's 1-4 MiB. This program is linked statically (a dynamic
 * loader here would also honour LD_PRELOAD and load the allocator under
 * test into the launcher itself) and touches little memory, so the floor
 * it puts under every child's peak is launcher_rss_kb, printed to show it.
 * Wall time is CLOCK_MONOTONIC around posix_spawn() and wait4(); user and
 * system time are wait4()'s. Exits 0, 1 if a run could not be started, was
 * killed or exited non-zero, 64 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "bench_util.h"

extern char **environ;

static long long usec(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

int main(int argc, char **argv)
{
	char *end;
	long runs = argc >= 3 ? strtol(argv[1], &end, 10) : 0;
	if (argc < 3 || *end || runs < 1 || runs > 100000) {
		fprintf(stderr, "usage: gh-bench-spawn RUNS PROGRAM [ARGS...]   (RUNS 1..100000)\n");
		return 64;
	}
	printf("launcher_rss_kb=%ld\n", peak_rss_kb());
	fflush(stdout);
	int failed = 0;
	for (long i = 0; i < runs; i++) {
		struct timespec t0, t1;
		struct rusage ru;
		pid_t pid;
		int st = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int e = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
		if (e) {
			fprintf(stderr, "gh-bench-spawn: %s: %s\n", argv[2], strerror(e));
			return 1;
		}
		while (wait4(pid, &st, 0, &ru) < 0) {
			if (errno != EINTR) {
				perror("gh-bench-spawn: wait4");
				return 1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
		int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		failed |= status != 0;
		printf("run=%ld wall_us=%lld user_us=%lld sys_us=%lld maxrss_kb=%ld status=%d\n", i, wall,
		       usec(ru.ru_utime), usec(ru.ru_stime), ru.ru_maxrss, status);
	}
	return failed;
}
