/*
 * cage.c -- one reserved address range under every glassheap arena.
 *
 * At start-up we reserve a large range (PROT_READ|PROT_WRITE, MAP_NORESERVE,
 * default 64 GiB, GLASSHEAP_CAGE_SIZE) and give jemalloc extent hooks that
 * carve extents from it with a lock-free bump pointer. The hooks refuse to
 * unmap or decommit (jemalloc then retains the range) and purge with
 * MADV_DONTNEED, so every cage address stays mapped and readable for the
 * life of the process: "is p in our heap" is one range check, and the
 * reachability scanner may read any cage byte without faulting.
 *
 *   base                         top (bump, atomic)               base+size
 *   |== extents given to jemalloc ==|.......... never touched ..........|
 *
 * When the reservation fails (RLIMIT_AS, strict overcommit, valgrind) we
 * halve the size down to 16 MiB. When the cage is full the alloc hook
 * fails and the allocation returns NULL with errno = ENOMEM.
 *
 * The hooks run with jemalloc's locks held: they take no lock and never
 * allocate, so they cannot deadlock with fork or with the rest of glassheap.
 */
#include "internal.h"

#include <sys/mman.h>

struct gh_cage gh__cage;

/* Mirror of jemalloc's struct extent_hooks_s (jemalloc/jemalloc.h, 5.x). */
typedef struct cage_hooks cage_hooks_t;
struct cage_hooks {
	void *(*alloc)(cage_hooks_t *, void *, size_t, size_t, bool *, bool *, unsigned);
	bool (*dalloc)(cage_hooks_t *, void *, size_t, bool, unsigned);
	void (*destroy)(cage_hooks_t *, void *, size_t, bool, unsigned);
	bool (*commit)(cage_hooks_t *, void *, size_t, size_t, size_t, unsigned);
	bool (*decommit)(cage_hooks_t *, void *, size_t, size_t, size_t, unsigned);
	bool (*purge_lazy)(cage_hooks_t *, void *, size_t, size_t, size_t, unsigned);
	bool (*purge_forced)(cage_hooks_t *, void *, size_t, size_t, size_t, unsigned);
	bool (*split)(cage_hooks_t *, void *, size_t, size_t, size_t, bool, unsigned);
	bool (*merge)(cage_hooks_t *, void *, size_t, void *, size_t, bool, unsigned);
};

/* Headroom: ordinary arenas stop this many bytes before the end of the cage;
 * only glassheap's own arena (headroom_arena: the debug server's thread) may
 * use them. A host that fills its cage then gets ENOMEM, while the server,
 * whose library (h2o) aborts the process when malloc fails, keeps working. */
static size_t headroom;
static _Atomic unsigned headroom_arena = UINT32_MAX;

void gh__cage_set_headroom(unsigned arena, size_t bytes)
{
	headroom = bytes;
	atomic_store(&headroom_arena, arena);
}

/* Fault injection: successes left before failing; < 0 = never fail. */
static _Atomic long inject_after = -1;

void gh__cage_inject_failure(long after)
{
	atomic_store(&inject_after, after);
}

static bool injected_failure(void)
{
	long n = atomic_load_explicit(&inject_after, memory_order_relaxed);
	while (n >= 0) {
		if (n == 0)
			return true;
		if (atomic_compare_exchange_weak(&inject_after, &n, n - 1))
			return false;
	}
	return false;
}

/* GLASSHEAP_THP=auto: the bytes of cage each arena was given so far. An
 * arena's extents are advised for huge pages past its own first thp_from
 * bytes, so that the threshold is a heap's size and not an address: every
 * arena grows its reservation geometrically (jemalloc's retained growth,
 * most of it untouched), so with the advice at a cage offset a 20 MiB heap
 * on three arenas passed 32 MiB of cage and paid whole 2 MiB pages for the
 * partly used tails of its extents (fp_mixed2: +4 MiB). Arenas past the
 * table's end follow the cage offset instead. */
#define THP_ARENAS 512
static _Atomic size_t arena_given[THP_ARENAS];

static void thp_advise(uintptr_t start, size_t size, unsigned arena)
{
	size_t from = gh__opt.thp_from;
	if (from == 0 || from == SIZE_MAX)
		return; /* always: the whole cage at init; never */
	size_t before = arena < THP_ARENAS
				? atomic_fetch_add_explicit(&arena_given[arena], size, memory_order_relaxed)
				: start - gh__cage.base;
	if (before + size <= from)
		return;
	uintptr_t lo = start + (before < from ? from - before : 0);
	lo = (lo + ((size_t)2 << 20) - 1) & ~(((uintptr_t)2 << 20) - 1);
	if (lo < start + size)
		madvise((void *)lo, start + size - lo, MADV_HUGEPAGE);
}

static void *hook_alloc(cage_hooks_t *hooks, void *new_addr, size_t size, size_t alignment, bool *zero,
			bool *commit, unsigned arena)
{
	(void)hooks;
	if (injected_failure())
		return NULL;
	if (alignment < 4096)
		alignment = 4096;
	uintptr_t limit = gh__cage.base + gh__cage.size;
	if (arena != atomic_load_explicit(&headroom_arena, memory_order_relaxed))
		limit -= headroom;
	uintptr_t cur = atomic_load_explicit(&gh__cage.top, memory_order_relaxed);
	for (;;) {
		uintptr_t start;
		if (new_addr) {
			/* jemalloc wants to grow an extent in place: only possible
			 * when new_addr is exactly where the bump pointer stands. */
			start = (uintptr_t)new_addr;
			if (start != cur)
				return NULL;
		} else {
			start = (cur + alignment - 1) & ~(alignment - 1);
		}
		if (start < cur || start > limit || limit - start < size)
			return NULL;
		if (atomic_compare_exchange_weak_explicit(&gh__cage.top, &cur, start + size,
							  memory_order_relaxed, memory_order_relaxed)) {
			/* Fresh cage memory has never been handed out: it is zero. */
			*zero = true;
			*commit = true;
			thp_advise(start, size, arena);
			return (void *)start;
		}
	}
}

/* Refuse: jemalloc keeps the extent as "retained" and reuses it later. */
static bool hook_dalloc(cage_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)committed, (void)arena;
	return true;
}

static void hook_destroy(cage_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena)
{
	(void)h, (void)committed, (void)arena;
	madvise(addr, size, MADV_DONTNEED);
}

static bool hook_commit(cage_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)off, (void)len, (void)arena;
	return false; /* cage memory is always committed */
}

static bool hook_refuse(cage_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)off, (void)len, (void)arena;
	return true;
}

static bool hook_purge_forced(cage_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
	(void)h, (void)size, (void)arena;
	/* Pages read back as zero afterwards; the range stays mapped. */
	return madvise((char *)addr + off, len, MADV_DONTNEED) != 0;
}

static bool hook_split(cage_hooks_t *h, void *addr, size_t size, size_t a, size_t b, bool committed, unsigned arena)
{
	(void)h, (void)addr, (void)size, (void)a, (void)b, (void)committed, (void)arena;
	return false;
}

static bool hook_merge(cage_hooks_t *h, void *a, size_t sa, void *b, size_t sb, bool committed, unsigned arena)
{
	(void)h, (void)a, (void)sa, (void)b, (void)sb, (void)committed, (void)arena;
	return false; /* one contiguous mapping: any two neighbours may merge */
}

static cage_hooks_t cage_hooks = {
	.alloc = hook_alloc,
	.dalloc = hook_dalloc,
	.destroy = hook_destroy,
	.commit = hook_commit,
	.decommit = hook_refuse,
	.purge_lazy = hook_refuse,
	.purge_forced = hook_purge_forced,
	.split = hook_split,
	.merge = hook_merge,
};
void *gh__cage_hooks = &cage_hooks;

static void *cage_map;      /* the whole reservation, for gh__cage_release */
static size_t cage_map_len;
static size_t cage_wanted;  /* the size asked for (GLASSHEAP_CAGE_SIZE) */

size_t gh__cage_wanted(void)
{
	return cage_wanted;
}

void gh__cage_release(void)
{
	if (cage_map)
		munmap(cage_map, cage_map_len);
	cage_map = NULL;
	gh__cage.size = 0;
	gh__cage.base = 0;
	atomic_store(&gh__cage.top, 0);
}

int gh__cage_init(size_t want)
{
	size_t target = want & ~(((size_t)1 << 21) - 1);
	/* The page map stores granule indexes in 32 bits: at most 64 GiB. */
	if (target > ((size_t)64 << 30))
		target = (size_t)64 << 30;
	size_t size = target;
	for (; size >= ((size_t)16 << 20); size /= 2) {
		/* Over-reserve 2 MiB so the base can be 2 MiB aligned. */
		size_t len = size + ((size_t)2 << 20);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			continue;
		if (size != target && size >= ((size_t)32 << 20)) {
			/* The address space is limited (RLIMIT_AS): the largest range
			 * that fits would leave nothing for the start map (1/16 of
			 * it), jemalloc's own metadata, thread stacks and libraries
			 * loaded later -- and jemalloc crashes, rather than failing,
			 * when a new thread's cache cannot be set up. Keep half. */
			munmap(p, len);
			size /= 2;
			len = size + ((size_t)2 << 20);
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED)
				continue;
		}
		uintptr_t base = ((uintptr_t)p + ((size_t)2 << 20) - 1) & ~(((uintptr_t)2 << 20) - 1);
		gh__cage.base = base;
		gh__cage.size = size;
		atomic_store(&gh__cage.top, base);
		/* Transparent huge pages (where the system leaves them to
		 * madvise): a heap read at random -- by the program and by the
		 * marker -- spends much of its time in TLB misses with 4 KiB
		 * pages (mixed1: 1.3x the CPU time). The price is RSS rounded up
		 * to 2 MiB steps per arena, a few MiB for a small program:
		 * GLASSHEAP_THP=auto keeps each arena's first 32 MiB on small
		 * pages (thp_advise, as extents are handed out), never keeps all
		 * of it. See docs/performance.md. */
		if (gh__opt.thp_from == 0)
			madvise((void *)base, size, MADV_HUGEPAGE);
		cage_map = p;
		cage_map_len = len;
		cage_wanted = target;
		return 0;
	}
	return ENOMEM;
}

size_t gh__cage_used(void)
{
	return atomic_load_explicit(&gh__cage.top, memory_order_relaxed) - gh__cage.base;
}
