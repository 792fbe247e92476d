/*
 * trace_cost -- what one traced malloc/free pair costs, for docs/tracing.md.
 * Not a test: built on demand (make trace_cost).
 *
 *   trace_cost off|fp|dwarf [pairs] [depth] [sample_bytes]
 *
 * Recurses to `depth` frames (default 25, so that a 25-frame limit is
 * filled), then makes `pairs` malloc(64)/free pairs and prints nanoseconds
 * per pair. Under callgrind only the loop is measured (CALLGRIND_TOGGLE_COLLECT):
 * run with --collect-atstart=no and divide the total Ir by `pairs`.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <valgrind/callgrind.h>

static volatile size_t sink;

static void *kept;

static __attribute__((noipa)) void loop(long pairs)
{
	struct timespec t0, t1;
	if (pairs < 0) { /* leave one big block live at this depth, for the frame count */
		kept = malloc(1 << 20);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CALLGRIND_TOGGLE_COLLECT;
	for (long i = 0; i < pairs; i++) {
		void *p = malloc(64);
		sink += (size_t)p;
		free(p);
	}
	CALLGRIND_TOGGLE_COLLECT;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("%.1f ns per malloc/free pair\n", ns / (double)pairs);
}

static __attribute__((noipa)) void deep(int depth, long pairs)
{
	if (depth > 1)
		deep(depth - 1, pairs);
	else
		loop(pairs);
	sink++;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "off";
	long pairs = argc > 2 ? atol(argv[2]) : 1000000;
	int depth = argc > 3 ? atoi(argv[3]) : 25;
	size_t sample = argc > 4 ? (size_t)atol(argv[4]) : 0;
	if (strcmp(mode, "off") != 0) {
		gh__trace_set_unwinder(strcmp(mode, "dwarf") == 0 ? GH_UNWIND_DWARF : GH_UNWIND_FP);
		if (gh__trace_start(25, sample) != 0)
			return 1;
	}
	/* main and the loop frames count too: depth - 2 recursive frames fill 25. */
	deep(depth > 2 ? depth - 2 : 1, 1000); /* warm-up: caches, tables */
	deep(depth > 2 ? depth - 2 : 1, pairs);
	if (strcmp(mode, "off") != 0) {
		deep(depth > 2 ? depth - 2 : 1, -1);
		struct gh_trace_tb *tb;
		size_t n;
		if (gh__trace_traceback(1, &tb, &n) == 0 && n)
			printf("%s: %zu frames captured\n", mode, tb[0].nframes);
		free(tb);
		free(kept);
	}
	return 0;
}
