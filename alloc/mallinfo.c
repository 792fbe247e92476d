/*
 * mallinfo.c -- glibc's statistics and tuning calls, answered for the heap
 * glassheap serves: mallinfo, mallinfo2, malloc_stats, malloc_info,
 * malloc_trim and mallopt. Without them a preloaded program reads glibc's
 * nearly empty arena (a service exporting mallinfo2 as a metric sees zero)
 * and its malloc_trim gives nothing back, linked (libglassheap.so or .a) as
 * well as preloaded.
 *
 * The figures (docs/architecture.md, "glibc's statistics calls"):
 *   uordblks  the program's live requested bytes (every type but glassheap's
 *             own): /debug/memory's summary.total_size_bytes
 *   arena     the pages jemalloc has in use for blocks (stats.active)
 *   fordblks  arena - uordblks: rounding, trailers, free blocks, glassheap's
 *             own objects
 *   keepcost  the unused dirty pages malloc_trim would give back now
 *   hblks, hblkhd, ordblks, smblks, usmblks, fsmblks: 0 (one heap, no
 *             separately mapped chunks; glibc's free-list shapes do not exist)
 * When glassheap could not start (pass-through), each call goes to the
 * system allocator's own.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

struct figures {
	uint64_t arena, uordblks, fordblks, keepcost, mapped;
};

static struct figures figures(void)
{
	struct gh_alloc_stats st;
	gh__alloc_stats(&st);
	struct figures f = {.uordblks = gh__program_live_bytes(), .keepcost = st.je_dirty, .mapped = st.je_mapped};
	/* the counters and jemalloc's statistics are read at different moments */
	f.arena = st.je_active > f.uordblks ? st.je_active : f.uordblks;
	f.fordblks = f.arena - f.uordblks;
	return f;
}

/* The system allocator's own function, for pass-through. */
static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

EXPORT struct mallinfo2 mallinfo2(void)
{
	if (!gh__init()) {
		struct mallinfo2 (*sys)(void) = (struct mallinfo2 (*)(void))next("mallinfo2");
		return sys ? sys() : (struct mallinfo2){0};
	}
	struct figures f = figures();
	return (struct mallinfo2){
		.arena = f.arena, .uordblks = f.uordblks, .fordblks = f.fordblks, .keepcost = f.keepcost,
	};
}

/* mallinfo2's figures in ints, which wrap past 2 GiB, as glibc's own
 * mallinfo does (also in pass-through: glibc's mallinfo2 narrowed). */
EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m = mallinfo2();
	return (struct mallinfo){
		.arena = (int)m.arena, .ordblks = (int)m.ordblks, .smblks = (int)m.smblks, .hblks = (int)m.hblks,
		.hblkhd = (int)m.hblkhd, .usmblks = (int)m.usmblks, .fsmblks = (int)m.fsmblks,
		.uordblks = (int)m.uordblks, .fordblks = (int)m.fordblks, .keepcost = (int)m.keepcost,
	};
}

/* glibc's format (one heap, then the totals), on standard error. Written
 * with write(2) from a buffer on the stack: no stdio, no allocation. */
EXPORT void malloc_stats(void)
{
	if (!gh__init()) {
		void (*sys)(void) = (void (*)(void))next("malloc_stats");
		if (sys)
			sys();
		return;
	}
	struct figures f = figures();
	char buf[512];
	int n = snprintf(buf, sizeof buf,
			 "Arena 0:\n"
			 "system bytes     = %10llu\n"
			 "in use bytes     = %10llu\n"
			 "Total (incl. mmap):\n"
			 "system bytes     = %10llu\n"
			 "in use bytes     = %10llu\n"
			 "max mmap regions = %10u\n"
			 "max mmap bytes   = %10lu\n",
			 (unsigned long long)f.arena, (unsigned long long)f.uordblks, (unsigned long long)f.arena,
			 (unsigned long long)f.uordblks, 0u, 0ul);
	for (int off = 0; n > 0 && off < n;) {
		ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
		if (w <= 0)
			break;
		off += (int)w;
	}
}

/* glibc's XML shape: one heap, no size bins (jemalloc's classes are not
 * glibc's bins), the totals. options must be 0. */
EXPORT int malloc_info(int options, FILE *fp)
{
	if (!gh__init()) {
		int (*sys)(int, FILE *) = (int (*)(int, FILE *))next("malloc_info");
		if (sys)
			return sys(options, fp);
		errno = ENOSYS;
		return -1;
	}
	if (options != 0 || fp == NULL) {
		errno = EINVAL;
		return -1;
	}
	struct figures f = figures();
	unsigned long long a = f.arena, fr = f.fordblks, m = f.mapped;
	fprintf(fp,
		"<malloc version=\"1\">\n"
		"<heap nr=\"0\">\n"
		"<sizes>\n"
		"</sizes>\n"
		"<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		"<total type=\"rest\" count=\"0\" size=\"%llu\"/>\n"
		"<system type=\"current\" size=\"%llu\"/>\n"
		"<system type=\"max\" size=\"%llu\"/>\n"
		"<aspace type=\"total\" size=\"%llu\"/>\n"
		"<aspace type=\"mprotect\" size=\"%llu\"/>\n"
		"</heap>\n"
		"<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		"<total type=\"rest\" count=\"0\" size=\"%llu\"/>\n"
		"<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
		"<system type=\"current\" size=\"%llu\"/>\n"
		"<system type=\"max\" size=\"%llu\"/>\n"
		"<aspace type=\"total\" size=\"%llu\"/>\n"
		"<aspace type=\"mprotect\" size=\"%llu\"/>\n"
		"</malloc>\n",
		fr, a, m, m, m, fr, a, m, m, m);
	return 0;
}

/* Gives every arena's unused dirty pages back to the system now (jemalloc
 * otherwise returns them over ~10 s) after flushing the calling thread's
 * jemalloc cache. 1 if any memory was released, as glibc's. pad: glibc's
 * slack at the heap's top, which this heap does not have. */
EXPORT int malloc_trim(size_t pad)
{
	if (!gh__init()) {
		int (*sys)(size_t) = (int (*)(size_t))next("malloc_trim");
		return sys ? sys(pad) : 0;
	}
	ghje_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	struct gh_alloc_stats st;
	gh__alloc_stats(&st);
	/* arena 4096 is jemalloc's MALLCTL_ARENAS_ALL: every arena */
	ghje_mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	(void)pad;
	return st.je_dirty > 0;
}

/* glibc's tuning parameters mean nothing to this heap: the known ones are
 * accepted (1) and change nothing, others fail (0), as glibc's do. */
EXPORT int mallopt(int param, int value)
{
	if (!gh__init()) {
		int (*sys)(int, int) = (int (*)(int, int))next("mallopt");
		return sys ? sys(param, value) : 0;
	}
	switch (param) {
	case M_MXFAST:
	case M_TRIM_THRESHOLD:
	case M_TOP_PAD:
	case M_MMAP_THRESHOLD:
	case M_MMAP_MAX:
	case M_CHECK_ACTION:
	case M_PERTURB:
	case M_ARENA_TEST:
	case M_ARENA_MAX:
		return 1;
	default:
		return 0;
	}
}
