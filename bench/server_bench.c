/*
 * server_bench.c -- a host for the debug server benchmarks
 * (bench/introspection.py): N live objects spread over T registered types,
 * the server on a loopback port (port 0), "port P" printed on stdout.
 *
 *   gh-bench-server N T
 *
 * Objects are allocated through one of 4096 call chains (12 levels of two
 * noinline functions, picked by the bits of the object's index), so with
 * tracing on (GLASSHEAP_TRACE) the heap holds 4096 distinct stacks, and
 * snapshot/compare have real work. One more object, of the type
 * "BenchRare", is allocated last: GET /debug/memory/types for it walks the
 * whole heap to find a sample.
 *
 * Commands on stdin, one per line: "churn" frees every 100th object and
 * allocates it again through another chain (so a compare of snapshots taken
 * before and after finds differences), then prints "done". The host exits
 * when stdin closes.
 */
#include <glassheap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
/* Keeps a call from becoming a tail call (so every level is a frame) and
 * the two functions of a level from being folded into one. */
#define KEEP(p, id) __asm__ volatile("" : : "r"(p), "i"(id) : "memory")

enum { CHAIN_LEVELS = 12 };

static void *chain(unsigned level, unsigned k, gh_type_t type, size_t size);

NOINLINE static void *chain_a(unsigned level, unsigned k, gh_type_t type, size_t size)
{
	void *p = chain(level + 1, k, type, size);
	KEEP(p, 1);
	return p;
}

NOINLINE static void *chain_b(unsigned level, unsigned k, gh_type_t type, size_t size)
{
	void *p = chain(level + 1, k, type, size);
	KEEP(p, 2);
	return p;
}

/* Bit `level` of k picks the function of this level. */
static void *chain(unsigned level, unsigned k, gh_type_t type, size_t size)
{
	if (level == CHAIN_LEVELS)
		return gh_malloc_typed(type, size);
	return (k >> level) & 1 ? chain_b(level, k, type, size) : chain_a(level, k, type, size);
}

static void *make(size_t i, gh_type_t *types, unsigned t, unsigned salt)
{
	void *p = chain(0, (unsigned)(i + salt), types[i % t], 32 + (i % 7) * 16);
	if (!p) {
		fprintf(stderr, "gh-bench-server: out of memory at object %zu\n", i);
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
	unsigned t = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	if (t < 1)
		t = 1;
	gh_type_t *types = malloc(t * sizeof *types);
	void **keep = malloc((n ? n : 1) * sizeof *keep);
	if (!types || !keep) {
		fprintf(stderr, "gh-bench-server: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < t; i++) {
		char name[64];
		snprintf(name, sizeof name, "BenchType%04u", i);
		types[i] = gh_type_register(name, NULL);
	}
	for (size_t i = 0; i < n; i++)
		keep[i] = make(i, types, t, 0);
	gh_type_t rare_type = gh_type_register("BenchRare", NULL);
	void *rare = gh_malloc_typed(rare_type, 48);
	int rc = gh_server_start("127.0.0.1:0");
	if (rc) {
		fprintf(stderr, "server start failed: %d\n", rc);
		return 1;
	}
	printf("port %d\n", gh_server_port());
	fflush(stdout);
	char buf[64];
	unsigned churns = 0;
	while (fgets(buf, sizeof buf, stdin)) {
		if (strcmp(buf, "churn\n") != 0)
			continue;
		churns++;
		for (size_t i = 0; i < n; i += 100) {
			free(keep[i]);
			keep[i] = make(i, types, t, churns);
		}
		printf("done\n");
		fflush(stdout);
	}
	gh_server_stop();
	for (size_t i = 0; i < n; i++)
		free(keep[i]);
	free(rare);
	free(keep);
	free(types);
	return 0;
}
