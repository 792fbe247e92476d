/*
 * leak_workload.c -- the program the leak-check section (bench/leakcheck.py)
 * runs under every checker: builds a heap of `live` objects that stay
 * reachable (a hash table of chained 48..112-byte nodes under a global) and
 * leaks `leaks` of them (a leaked list: one definitely lost, the rest
 * indirectly), then exits 0. Plain C, no glassheap API: the same binary runs
 * under glibc, glassheap (LD_PRELOAD), valgrind, and, rebuilt with
 * -fsanitize=leak, LeakSanitizer.
 *
 *   leak_workload LIVE LEAKS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	uint64_t key;
	char payload[];
};

struct node **g_table;
size_t g_buckets;

static __attribute__((noinline)) void build(size_t live)
{
	g_buckets = live / 4 + 1;
	g_table = calloc(g_buckets, sizeof *g_table);
	uint64_t x = 88172645463325252u;
	for (size_t i = 0; i < live; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t size = sizeof(struct node) + 32 + (x & 63);
		struct node *n = malloc(size);
		n->key = x;
		memset(n->payload, 0, 8);
		size_t b = x % g_buckets;
		n->next = g_table[b];
		g_table[b] = n;
	}
}

static __attribute__((noinline)) void leak(size_t leaks)
{
	struct node *head = NULL;
	for (size_t i = 0; i < leaks; i++) {
		struct node *n = malloc(sizeof(struct node) + 40);
		n->key = i;
		n->next = head;
		head = n;
	}
	__asm__ volatile("" : : "r"(head) : "memory");
}

static __attribute__((noinline)) void clobber_stack(void)
{
	volatile uintptr_t buf[4096];
	for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++)
		buf[i] = 0;
}

int main(int argc, char **argv)
{
	size_t live = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	size_t leaks = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
	build(live);
	leak(leaks);
	clobber_stack();
	return 0;
}
