/*
 * dom_host.c -- issue 16's acceptance program (tests/dominators/test_dominators.py).
 *
 * A typed program: a global cache holding a bucket array, 1,000 entries and
 * 1,000 payloads (each entry in one bucket chain owns its payload), and 200
 * other entries held by a global array. Types are registered with their
 * pointer offsets, so scanning is precise and the graph is exactly the one
 * built here. Started with GLASSHEAP_HTTP=127.0.0.1:0; prints "port N", the
 * expected figures ("expect cache_bytes B cache_objects N entry_bytes E"),
 * then "ready". Commands on stdin: "grow" adds GROW more entries (with
 * payloads) to the cache, "drop" frees the cache and everything in it,
 * "quit" exits. Each command is answered "ok".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glassheap.h>

#define ESCAPE(p) __asm__ volatile("" ::"r"(p) : "memory")

enum { NBUCKETS = 128, NENTRIES = 1000, NOTHERS = 200, PAYLOAD = 100, GROW = 50 };

struct payload {
	char data[PAYLOAD];
};
struct entry {
	struct entry *next;
	struct payload *payload;
	long key;
};
struct cache {
	struct entry **buckets;
	size_t nbuckets, count;
};

struct cache *g_cache;
struct entry *g_others[NOTHERS];

static gh_type_t T_CACHE, T_BUCKETS, T_ENTRY, T_PAYLOAD;
static size_t cache_bytes, cache_objects;

static __attribute__((noinline)) struct entry *new_entry(long key, bool with_payload)
{
	struct entry *e = gh_calloc_typed(T_ENTRY, 1, sizeof *e);
	e->key = key;
	if (with_payload) {
		e->payload = gh_malloc_typed(T_PAYLOAD, sizeof *e->payload);
		memset(e->payload, 'x', sizeof *e->payload);
		cache_bytes += sizeof *e->payload;
		cache_objects++;
	}
	ESCAPE(e);
	return e;
}

static __attribute__((noinline)) void cache_put(long key)
{
	struct entry *e = new_entry(key, true);
	cache_bytes += sizeof *e;
	cache_objects++;
	size_t b = (size_t)key % g_cache->nbuckets;
	e->next = g_cache->buckets[b];
	g_cache->buckets[b] = e;
	g_cache->count++;
}

static __attribute__((noinline)) void build(void)
{
	size_t o_next[2] = {offsetof(struct entry, next), offsetof(struct entry, payload)};
	gh_type_desc_t de = {.ptr_offsets = o_next, .n_ptr_offsets = 2};
	size_t o_cache[1] = {offsetof(struct cache, buckets)};
	gh_type_desc_t dc = {.ptr_offsets = o_cache, .n_ptr_offsets = 1};
	size_t o_bucket[1] = {0};
	gh_type_desc_t db = {.ptr_offsets = o_bucket, .n_ptr_offsets = 1, .stride = sizeof(struct entry *)};
	gh_type_desc_t dp = {.flags = GH_TYPE_NO_SCAN};
	T_CACHE = gh_type_register("Cache", &dc);
	T_BUCKETS = gh_type_register("Bucket[]", &db);
	T_ENTRY = gh_type_register("Entry", &de);
	T_PAYLOAD = gh_type_register("Payload", &dp);
	g_cache = gh_calloc_typed(T_CACHE, 1, sizeof *g_cache);
	g_cache->nbuckets = NBUCKETS;
	g_cache->buckets = gh_calloc_typed(T_BUCKETS, NBUCKETS, sizeof(struct entry *));
	cache_bytes = sizeof *g_cache + NBUCKETS * sizeof(struct entry *);
	cache_objects = 2;
	for (long k = 0; k < NENTRIES; k++)
		cache_put(k);
	for (int i = 0; i < NOTHERS; i++)
		g_others[i] = new_entry(100000 + i, false);
	ESCAPE(g_others);
}

/* Overwrites the dead stack below main: no stale copy of a pointer from
 * build() may hold an entry (conservative stack scanning would make that
 * entry a second root's). */
static __attribute__((noinline)) void clobber_stack(void)
{
	volatile char buf[65536];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = 0;
}

int main(void)
{
	build();
	clobber_stack();
	printf("port %d\n", gh_server_port());
	printf("expect cache_bytes %zu cache_objects %zu entry_bytes %zu others %d\n", cache_bytes, cache_objects,
	       sizeof(struct entry), NOTHERS);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "grow", 4) == 0) {
			for (int i = 0; i < GROW; i++)
				cache_put(NENTRIES + (long)g_cache->count + i);
			clobber_stack();
			printf("expect cache_bytes %zu cache_objects %zu\n", cache_bytes, cache_objects);
		} else if (strncmp(line, "drop", 4) == 0) {
			for (size_t b = 0; b < g_cache->nbuckets; b++)
				for (struct entry *e = g_cache->buckets[b], *next; e; e = next) {
					next = e->next;
					gh_free(e->payload);
					gh_free(e);
				}
			gh_free(g_cache->buckets);
			gh_free(g_cache);
			g_cache = NULL;
			clobber_stack();
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		printf("ok\n");
		fflush(stdout);
	}
	return 0;
}
