/*
 * meta.c -- memory for glassheap's own bookkeeping (type records, names,
 * counter shards, site tables), taken straight from mmap so that it never
 * appears in the heap it describes and never recurses into malloc.
 *
 * gh__meta_alloc bump-allocates small zeroed blocks from 1 MiB chunks;
 * gh__meta_map gives large sparse tables their own MAP_NORESERVE mapping.
 * Nothing is ever returned: metadata lives as long as the process.
 */
#include "internal.h"

#include <sys/mman.h>

#define META_CHUNK ((size_t)1 << 20)

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t chunk_cur, chunk_end;
static _Atomic size_t meta_mapped, meta_used;

void *gh__meta_map(size_t size)
{
	size = (size + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	atomic_fetch_add_explicit(&meta_mapped, size, memory_order_relaxed);
	return p;
}

void *gh__map_work(size_t size)
{
	const size_t huge = (size_t)2 << 20;
	size = (size + huge - 1) & ~(huge - 1);
	uint8_t *p = mmap(NULL, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + size), (uintptr_t)p + huge - a);
	madvise((void *)a, size, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
	return (void *)a;
}

void *gh__meta_map_huge(size_t size)
{
	void *p = gh__map_work(size);
	if (p)
		atomic_fetch_add_explicit(&meta_mapped, (size + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1),
					  memory_order_relaxed);
	return p;
}

void *gh__meta_alloc(size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size > META_CHUNK / 4)
		return gh__meta_map(size);
	pthread_mutex_lock(&meta_lock);
	if (chunk_end - chunk_cur < size) {
		void *c = gh__meta_map(META_CHUNK);
		if (!c) {
			pthread_mutex_unlock(&meta_lock);
			return NULL;
		}
		chunk_cur = (uintptr_t)c;
		chunk_end = chunk_cur + META_CHUNK;
	}
	void *p = (void *)chunk_cur;
	chunk_cur += size;
	pthread_mutex_unlock(&meta_lock);
	atomic_fetch_add_explicit(&meta_used, size, memory_order_relaxed);
	return p;
}

void gh__meta_stats(size_t *mapped, size_t *used)
{
	*mapped = atomic_load_explicit(&meta_mapped, memory_order_relaxed);
	*used = atomic_load_explicit(&meta_used, memory_order_relaxed);
}

void gh__meta_atfork_prepare(void)
{
	pthread_mutex_lock(&meta_lock);
}

void gh__meta_atfork_parent(void)
{
	pthread_mutex_unlock(&meta_lock);
}

void gh__meta_atfork_child(void)
{
	pthread_mutex_init(&meta_lock, NULL);
}
