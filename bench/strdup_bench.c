/*
 * strdup_bench.c -- the cost of blaming the caller (bench/sites.py): ITER
 * strdup calls from 4 call sites into a ring of LIVE strings (each replaces
 * the oldest), or, with "malloc", the same through malloc + memcpy (sites
 * that are not wrappers: the control). Prints "ns_per_op <x>".
 *
 *   strdup_bench strdup|malloc ITER LIVE
 *
 * Not linked with glassheap: bench/sites.py runs it under LD_PRELOAD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ESCAPE(p) __asm__ volatile("" ::"r"(p) : "memory")

static const char *const texts[4] = {"a short string", "a somewhat longer string of text",
				     "/usr/lib/x86_64-linux-gnu/libexample.so.1", "key=value"};

static __attribute__((noinline)) char *copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int use_strdup = strcmp(argv[1], "strdup") == 0;
	long iter = atol(argv[2]), live = atol(argv[3]);
	if (iter <= 0 || live <= 0)
		return 2;
	char **ring = calloc((size_t)live, sizeof *ring);
	if (!ring)
		return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < iter; i++) {
		long k = i % live;
		free(ring[k]);
		char *p;
		if (use_strdup) {
			switch (i & 3) {
			case 0: p = strdup(texts[0]); break;
			case 1: p = strdup(texts[1]); break;
			case 2: p = strdup(texts[2]); break;
			default: p = strdup(texts[3]); break;
			}
		} else {
			p = copy(texts[i & 3]);
		}
		if (!p)
			return 1;
		ESCAPE(p);
		ring[k] = p;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("ns_per_op %.2f\n", ns / (double)iter);
	for (long k = 0; k < live; k++)
		free(ring[k]);
	free(ring);
	return 0;
}
