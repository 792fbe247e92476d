/*
 * mapped.c -- the memory the program maps itself: its anonymous mmap(2)
 * mappings, which the reachability pass scans as roots (mark.c).
 *
 * A program that keeps its own arenas holds pointers to malloc'ed blocks in
 * memory no module, stack or TLS block covers: CPython's object arenas
 * (pymalloc), GCC's garbage-collected pages, a database's buffer pool, a
 * coroutine library's stacks. LeakSanitizer does not scan such memory and
 * calls those blocks leaked (and a collecting pass would free them live);
 * valgrind scans every mapping, its allocator's own included. glassheap
 * scans what the program mapped and nothing else: shim.c exports mmap,
 * mmap64, munmap and mremap, which call the kernel and note the change
 * here. glassheap's own mappings (internal.h's gh__sys_* redirect its
 * calls; jemalloc's calls are renamed to them by cmake/rename_jemalloc.sh;
 * what the server, the symbolizer and libunwind map while glassheap works
 * on a thread is told apart in gh__mapped_note) are not noted, nor are the
 * loader's and libc's (they call the kernel directly): thread stacks are scanned from their
 * stack pointer (mark.c), and jemalloc's thread caches keep stale pointers
 * that would hide leaks.
 *
 * The record is a sorted array of disjoint page ranges, merged when
 * adjacent, in memory mapped here. One lock (a word holding the owner's
 * thread pointer, spinning then yielding: mmap is a system call already)
 * guards it; the pass holds it across the stop (gh__mapped_hold), so that
 * no stopped thread can be half-way through an update, and mremap across
 * its system call, so that the record is never behind the kernel where
 * that would hide a pointer (gh__mapped_munmap). A call made from a
 * signal handler while its thread is inside an update cannot wait for
 * itself: it is not noted, and the record is marked incomplete (a pass
 * then collects nothing). The pass intersects the record with the readable
 * mappings of /proc/self/maps it reads in the stop, so a record that
 * missed an unmap (a raw syscall) costs nothing but a page range scanned
 * that may hold stale words.
 */
#include "internal.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

GH_TLS int gh__tl_own_maps;

static struct {
	_Atomic uintptr_t owner;  /* the holder's thread pointer, or 0 */
	struct gh_range *v;       /* [cap], sorted, disjoint, not adjacent */
	size_t n, cap;
	_Atomic bool incomplete;  /* an update could not be noted */
} mp;

static uintptr_t self_id(void)
{
	return (uintptr_t)__builtin_thread_pointer();
}

/* false: this thread holds the lock already (a signal handler interrupted
 * an update, or the pass itself maps something). */
static bool lock(void)
{
	uintptr_t me = self_id();
	if (atomic_load_explicit(&mp.owner, memory_order_relaxed) == me)
		return false;
	for (unsigned spins = 0;; spins++) {
		uintptr_t free_ = 0;
		if (atomic_compare_exchange_weak_explicit(&mp.owner, &free_, me, memory_order_acquire,
							  memory_order_relaxed))
			return true;
		if (spins >= 32)
			sched_yield();
	}
}

static void unlock(void)
{
	atomic_store_explicit(&mp.owner, 0, memory_order_release);
}

/* Sanitizer builds link no shim (CMakeLists.txt: the core next to the
 * sanitizer's malloc): there libc's mmap is the sanitizer's interceptor,
 * which must see glassheap's and jemalloc's mappings come and go (it
 * releases their shadow memory on munmap). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GH_SYS_VIA_LIBC 1
#undef mmap
#undef munmap
#endif

void *gh__sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
#ifdef GH_SYS_VIA_LIBC
	return mmap(addr, len, prot, flags, fd, off);
#else
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return r == -1 ? MAP_FAILED : (void *)r;
#endif
}

int gh__sys_munmap(void *addr, size_t len)
{
#ifdef GH_SYS_VIA_LIBC
	return munmap(addr, len);
#else
	return (int)syscall(SYS_munmap, addr, len);
#endif
}

void *gh__sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
#ifdef GH_SYS_VIA_LIBC
	return mremap(old, old_len, new_len, flags, new_addr);
#else
	long r = syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	return r == -1 ? MAP_FAILED : (void *)r;
#endif
}

/* The index of the first range ending above lo. */
static size_t first_above(uintptr_t lo)
{
	return gh__range_above(mp.v, mp.n, lo);
}

/* Room for two more ranges (an unmap may split one). */
static bool reserve(void)
{
	if (mp.n + 2 <= mp.cap)
		return true;
	size_t cap = mp.cap ? mp.cap * 2 : 256;
	/* MAP_NORESERVE: never merged with a neighbouring mapping of the
	 * program's (which its munmap would then have to split) */
	void *p = gh__sys_mmap(NULL, cap * sizeof *mp.v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
	if (p == MAP_FAILED)
		return false;
	if (mp.n)
		memcpy(p, mp.v, mp.n * sizeof *mp.v);
	if (mp.v)
		gh__sys_munmap(mp.v, mp.cap * sizeof *mp.v);
	mp.v = p;
	mp.cap = cap;
	return true;
}

/* Forgets [lo, hi). */
static bool cut(uintptr_t lo, uintptr_t hi)
{
	size_t i = first_above(lo);
	if (i == mp.n || mp.v[i].lo >= hi)
		return true;
	if (mp.v[i].lo < lo && mp.v[i].hi > hi) { /* inside one range: split it */
		if (!reserve())
			return false;
		memmove(&mp.v[i + 1], &mp.v[i], (mp.n - i) * sizeof *mp.v);
		mp.n++;
		mp.v[i].hi = lo;
		mp.v[i + 1].lo = hi;
		return true;
	}
	if (mp.v[i].lo < lo) {
		mp.v[i].hi = lo;
		i++;
	}
	size_t j = i;
	while (j < mp.n && mp.v[j].hi <= hi)
		j++;
	if (j < mp.n && mp.v[j].lo < hi)
		mp.v[j].lo = hi;
	memmove(&mp.v[i], &mp.v[j], (mp.n - j) * sizeof *mp.v);
	mp.n -= j - i;
	return true;
}

/* Notes [lo, hi) as the program's. */
static bool add(uintptr_t lo, uintptr_t hi)
{
	if (!cut(lo, hi) || !reserve())
		return false;
	size_t i = first_above(lo);
	bool join_prev = i > 0 && mp.v[i - 1].hi == lo;
	bool join_next = i < mp.n && mp.v[i].lo == hi;
	if (join_prev && join_next) {
		mp.v[i - 1].hi = mp.v[i].hi;
		memmove(&mp.v[i], &mp.v[i + 1], (mp.n - i - 1) * sizeof *mp.v);
		mp.n--;
	} else if (join_prev) {
		mp.v[i - 1].hi = hi;
	} else if (join_next) {
		mp.v[i].lo = lo;
	} else {
		memmove(&mp.v[i + 1], &mp.v[i], (mp.n - i) * sizeof *mp.v);
		mp.v[i].lo = lo;
		mp.v[i].hi = hi;
		mp.n++;
	}
	return true;
}

/* Does any noted range overlap [lo, hi)? */
static bool overlaps(uintptr_t lo, uintptr_t hi)
{
	size_t i = first_above(lo);
	return i < mp.n && mp.v[i].lo < hi;
}

void gh__mapped_note(void *addr, size_t len, bool anonymous)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + gh__page_up(len);
	if (hi <= lo)
		return;
	/* The program's: anonymous, mapped outside glassheap's own work (the
	 * server, the symbolizer and the libraries they call run in the
	 * GH_TYPE_INTERNAL scope; libunwind's site and stack walks under
	 * gh__tl_own_maps), and not in the cage (the heap: never a root). */
	bool program = anonymous && gh__tl.scope_type != GH_TYPE_INTERNAL && gh__tl_own_maps == 0 &&
		       !gh__cage_contains(lo) && !gh__cage_contains(hi - 1);
	if (!lock()) {
		atomic_store(&mp.incomplete, true);
		return;
	}
	bool ok = program ? add(lo, hi) : (mp.n == 0 || cut(lo, hi));
	unlock();
	if (!ok)
		atomic_store(&mp.incomplete, true);
}

/*
 * The record must never be behind the kernel where that hides a pointer:
 *  - munmap: once the kernel has unmapped a range, another thread's mmap
 *    may get the same addresses and note them; a cut noted after that would
 *    forget the new mapping. So the range is cut first, then unmapped: a
 *    pass in between misses only what the program is discarding. (A call
 *    the kernel would refuse is passed on untouched; one it refuses anyway
 *    -- ENOMEM, splitting a mapping past the limit on their number -- has
 *    lost ranges still mapped: the record is incomplete.)
 *  - mremap moves the pages' contents when it moves a mapping; a thread
 *    stopped between the call and its note would leave the program's
 *    pointers in pages no root covers, and a collecting pass would free
 *    what they point to. So the lock is held across the call (mremap does
 *    not allocate; the pass takes the lock before it stops anyone). Holding
 *    it across munmap would do too, but serializes two threads' munmaps:
 *    bench/results/2026-12-05/mapped-race, 51.6 against 33.8 us a pair.
 * mmap needs neither: a new mapping holds nothing until the call returns.
 */
int gh__mapped_munmap(void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + gh__page_up(len);
	if ((lo & 4095) != 0 || hi <= lo)
		return gh__sys_munmap(addr, len); /* EINVAL */
	bool ok = false, had = true; /* (not held: a signal handler inside this thread's update) */
	if (lock()) {
		had = overlaps(lo, hi);
		ok = !had || cut(lo, hi);
		unlock();
	}
	int rc = gh__sys_munmap(addr, len);
	if (!ok || (rc != 0 && had))
		atomic_store(&mp.incomplete, true);
	return rc;
}

void *gh__mapped_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	bool held = lock();
	void *p = gh__sys_mremap(old, old_len, new_len, flags, new_addr);
	if (p == MAP_FAILED) {
		if (held)
			unlock();
		return p;
	}
	if (!held) { /* a signal handler inside this thread's update */
		atomic_store(&mp.incomplete, true);
		return p;
	}
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
	/* old_len 0: a copy of a shared mapping */
	bool keep_old = old_len == 0 || (flags & MREMAP_DONTUNMAP);
	uintptr_t o = (uintptr_t)old, n = (uintptr_t)p;
	bool ok = true;
	if (mp.n != 0) {
		bool ours = overlaps(o, o + (old_len ? gh__page_up(old_len) : 4096));
		if (!keep_old)
			ok = cut(o, o + gh__page_up(old_len));
		if (ok)
			ok = ours && !gh__cage_contains(n) ? add(n, n + gh__page_up(new_len)) : cut(n, n + gh__page_up(new_len));
	}
	unlock();
	if (!ok)
		atomic_store(&mp.incomplete, true);
	return p;
}

void gh__mapped_hold(void)
{
	if (!lock())
		atomic_store(&mp.incomplete, true); /* (cannot happen: the pass maps nothing through the shim) */
}

void gh__mapped_release(void)
{
	if (atomic_load_explicit(&mp.owner, memory_order_relaxed) == self_id())
		unlock();
}

size_t gh__mapped_ranges(const struct gh_range **v)
{
	*v = mp.v;
	return mp.n;
}

bool gh__mapped_incomplete(void)
{
	return atomic_load(&mp.incomplete);
}

/* fork: the pass's lock order (world, mark, then this) is the prepare
 * handler's. */
void gh__mapped_atfork_prepare(void)
{
	gh__mapped_hold();
}

void gh__mapped_atfork_parent(void)
{
	gh__mapped_release();
}

void gh__mapped_atfork_child(void)
{
	atomic_store(&mp.owner, 0);
}
