/*
 * unwind.c -- capturing the return addresses of one allocation, from inside
 * malloc: gh__unwind with either of two unwinders, and the automatic choice
 * between them.
 *
 * Frame pointers (GH_UNWIND_FP): each frame built with them starts with the
 * pair {saved rbp, return address} at rbp, so the chain is a linked list on
 * the stack. Walking it costs a few loads per frame, but it only describes
 * code compiled with -fno-omit-frame-pointer: a function built without them
 * (Debian's libraries are) leaves whatever it keeps in rbp, and the walk
 * either stops there or skips its caller. Every pointer is checked against
 * the bounds of the mapping that holds the current stack before it is read,
 * so a garbage rbp never faults. The bounds come from /proc/self/maps, read
 * with raw system calls (no malloc, no stdio lock, no cancellation point)
 * once per thread and stack, and cached in thread-local storage.
 *
 * DWARF (GH_UNWIND_DWARF): libunwind's unw_backtrace in local-only mode
 * follows .eh_frame call-frame information, so it gets through code built
 * without frame pointers. Its fast path keeps a per-thread cache of frame
 * layouts (mmap'd, not malloc'd); the first call initializes global state,
 * which gh__unwind_warm_up does at trace start, outside malloc. See
 * docs/tracing.md for what it calls and the measured costs of both.
 *
 * Both begin in glassheap's own frames: they walk up until the frame whose
 * return address is ra (the site the allocator recorded) and record from
 * there, so however malloc reached gh__trace_record (tail calls, the typed
 * API, realloc by copy, C++ new), the first frame is the caller's.
 */
#include "internal.h"
#include "elfseg.h"
#include "trace.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- Stack bounds ------------------------------------------------------------------
 * The mapping [lo, hi) that holds the thread's stack. Every address in it is
 * readable; a frame pointer is followed only while it stays inside. Two
 * entries per thread: its own stack and, say, a signal stack or one
 * coroutine stack. */

struct stack_range {
	uintptr_t lo, hi;
};
static GH_TLS struct stack_range tl_stack[2];
static GH_TLS unsigned tl_stack_next;
static GH_TLS unsigned tl_stack_failures;

/* Finds the readable mapping holding addr in /proc/self/maps. Raw system
 * calls only: this runs inside malloc. Lines are parsed as a stream of
 * characters, so a line of any length costs no buffer. */
static bool mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[512];
	uintptr_t ab[2] = {0, 0}; /* the line's start and end addresses */
	int field = 0;
	bool found = false;
	while (!found) {
		long n = syscall(SYS_read, fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (long i = 0; i < n && !found; i++) {
			char c = buf[i];
			if (c == '\n') {
				field = 0;
				ab[0] = ab[1] = 0;
				continue;
			}
			int v = gh__hexval(c);
			switch (field) {
			case 0: /* start address, up to '-' */
			case 1: /* end address, up to ' ' */
				if (c == (field == 0 ? '-' : ' '))
					field++;
				else if (v >= 0)
					ab[field] = ab[field] * 16 + (uintptr_t)v;
				break;
			case 2: /* first permission letter */
				if (c == 'r' && ab[0] <= addr && addr < ab[1]) {
					*lo = ab[0];
					*hi = ab[1];
					found = true;
				}
				field = 3;
				break;
			default: /* the rest of the line */
				break;
			}
		}
	}
	syscall(SYS_close, fd);
	return found;
}

/* The end of the mapping holding sp, or 0 when it cannot be known. */
static uintptr_t stack_hi(uintptr_t sp)
{
	for (int i = 0; i < 2; i++)
		if (sp - tl_stack[i].lo < tl_stack[i].hi - tl_stack[i].lo)
			return tl_stack[i].hi;
	/* A new stack, or the main thread's stack grew below what we saw.
	 * Give up on threads where /proc cannot be read (a sandbox) after a
	 * few tries rather than paying for the attempt on every allocation. */
	if (tl_stack_failures >= 4)
		return 0;
	uintptr_t lo, hi;
	if (!mapping_of(sp, &lo, &hi)) {
		tl_stack_failures++;
		return 0;
	}
	tl_stack[tl_stack_next] = (struct stack_range){lo, hi};
	tl_stack_next ^= 1;
	return hi;
}

/* ---- Frame pointers ----------------------------------------------------------------- */

/* Is fp the address of a whole {next, ret} frame record inside the stack
 * mapping, at or above lo? */
GH_INLINE bool frame_ok(uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
	return (fp & 7) == 0 && fp >= lo && fp <= hi - 2 * sizeof(uintptr_t);
}

static GH_NOINLINE unsigned unwind_fp(uintptr_t ra, uintptr_t *out, unsigned max)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t hi = stack_hi(fp);
	unsigned skipped = 0;
	if (hi == 0)
		goto only_ra;
	/* Glassheap's own frames, up to the one whose return address is ra. */
	for (;;) {
		if (!frame_ok(fp, fp, hi))
			goto only_ra;
		const uintptr_t *f = (const uintptr_t *)fp;
		if (f[1] == ra)
			break;
		if (++skipped > GH_UNWIND_SKIP_MAX || f[0] <= fp)
			goto only_ra;
		fp = f[0];
	}
	/* The caller's frames: each next record must lie above the last and
	 * inside the mapping ((next - lo) > (lim - lo) folds both tests). */
	uintptr_t *o = out, *end = out + max, lim = hi - 2 * sizeof(uintptr_t);
	for (;;) {
		const uintptr_t *f = (const uintptr_t *)fp;
		uintptr_t ret = f[1], next = f[0], lo = fp + 1;
		if (ret < 4096)
			break;
		*o++ = ret;
		if (o == end || next - lo > lim - lo || (next & 7) != 0)
			break;
		fp = next;
	}
	return (unsigned)(o - out);
only_ra:
	out[0] = ra;
	return ra != 0;
}

/* ---- DWARF (libunwind) ---------------------------------------------------------------- */

static GH_NOINLINE unsigned unwind_dwarf(uintptr_t ra, uintptr_t *out, unsigned max)
{
	void *buf[GH_TRACE_FRAMES_MAX + GH_UNWIND_SKIP_MAX];
	gh__tl_own_maps++; /* libunwind maps its caches: not the program's */
	int got = unw_backtrace(buf, (int)(max + GH_UNWIND_SKIP_MAX));
	gh__tl_own_maps--;
	int i = 0;
	while (i < got && i <= GH_UNWIND_SKIP_MAX && (uintptr_t)buf[i] != ra)
		i++;
	if (i >= got || i > GH_UNWIND_SKIP_MAX) {
		out[0] = ra;
		return ra != 0;
	}
	unsigned n = 0;
	for (; i < got && n < max; i++)
		out[n++] = (uintptr_t)buf[i];
	return n;
}

unsigned gh__unwind(enum gh_unwinder how, uintptr_t ra, uintptr_t *out, unsigned max)
{
	if (max == 0)
		return 0;
	if (max > GH_TRACE_FRAMES_MAX)
		max = GH_TRACE_FRAMES_MAX;
	if (how == GH_UNWIND_DWARF)
		return unwind_dwarf(ra, out, max);
	return unwind_fp(ra, out, max);
}

/* Called where nothing is being allocated: loads libunwind's global state
 * and this thread's frame cache, and reads this thread's stack bounds. */
static GH_NOINLINE void warm_up_here(enum gh_unwinder how)
{
	uintptr_t out[4];
	gh__unwind(how, (uintptr_t)__builtin_return_address(0), out, 4);
}

void gh__unwind_warm_up(enum gh_unwinder how)
{
	warm_up_here(how);
	__asm__ volatile("" ::: "memory"); /* keep the call a real call */
}

const char *gh__unwind_name(enum gh_unwinder how)
{
	switch (how) {
	case GH_UNWIND_FP: return "fp";
	case GH_UNWIND_DWARF: return "dwarf";
	default: return "auto";
	}
}

/* ---- Choosing ------------------------------------------------------------------------- */

/*
 * Does the main executable keep frame pointers? Three signals, in order:
 *
 * 1. Its DWARF: GCC records each unit's switches in DW_AT_producer, so a
 *    majority of units built with -fno-omit-frame-pointer (or -O0) means
 *    yes, a majority without means no (symbols.c; glassheap's own units,
 *    which always keep them, are not counted).
 * 2. Without usable DWARF (stripped, or clang without -grecord-command-line),
 *    function prologues. A function built with frame pointers starts with
 *    push %rbp (after an optional endbr64) and sets rbp from rsp within its
 *    first instructions; one built without them almost never does (only
 *    functions that realign the stack or use alloca). First the functions
 *    that contain the allocation sites seen so far (sites.c): they are the
 *    frames that matter, and they leave out the private jemalloc of a
 *    static glassheap, which never calls malloc. With fewer than 4 of them
 *    (tracing started at load time), up to 2000 functions sampled evenly
 *    from the executable's .eh_frame_hdr table. More than half means yes.
 * 3. Unknown counts as yes: frame pointers are the default.
 */
struct fp_probe {
	unsigned sites_total, sites_fp; /* functions holding allocation sites */
	unsigned total, with_fp;        /* sampled functions */
};

static bool has_fp_prologue(const unsigned char *p)
{
	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) /* endbr64 */
		p += 4;
	if (p[0] != 0x55) /* push %rbp */
		return false;
	/* mov %rsp,%rbp (either encoding), possibly after a few scheduled instructions */
	for (int i = 1; i < 20; i++)
		if (p[i] == 0x48 && ((p[i + 1] == 0x89 && p[i + 2] == 0xe5) || (p[i + 1] == 0x8b && p[i + 2] == 0xec)))
			return true;
	return false;
}

static bool in_exec_segment(const struct dl_phdr_info *info, uintptr_t addr, size_t len)
{
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, PF_R | PF_X, &sg);)
		if (addr >= sg.lo && addr + len <= sg.lo + sg.filesz)
			return true;
	return false;
}

/* Function k of the .eh_frame_hdr search table (sorted by address). */
static uintptr_t table_fn(const unsigned char *hdr, uint32_t k)
{
	int32_t rel;
	memcpy(&rel, hdr + 12 + (size_t)k * 8, sizeof rel);
	return (uintptr_t)hdr + (intptr_t)rel;
}

static void probe(struct fp_probe *pr, const struct dl_phdr_info *info, uintptr_t fn, bool site)
{
	if (!in_exec_segment(info, fn, 32))
		return;
	bool fp = has_fp_prologue((const unsigned char *)fn);
	if (site) {
		pr->sites_total++;
		pr->sites_fp += fp;
	} else {
		pr->total++;
		pr->with_fp += fp;
	}
}

static int probe_main(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct fp_probe *pr = arg;
	const unsigned char *hdr = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			hdr = (const unsigned char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	/* version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4:
	 * what GNU ld and lld write. */
	if (!hdr || hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
		return 1;
	uint32_t count;
	memcpy(&count, hdr + 8, sizeof count);
	if (count == 0)
		return 1;
	/* The functions holding allocation sites (return addresses) in this
	 * module: the last table entry at or below each. */
	uint32_t nsites = gh__site_count();
	for (uint32_t id = 1; id <= nsites && pr->sites_total < 2000; id++) {
		uintptr_t ra = gh__site_address(id);
		if (!ra || !in_exec_segment(info, ra - 1, 1) || ra - 1 < table_fn(hdr, 0))
			continue;
		uint32_t lo = 0, hi = count; /* table_fn(lo) <= ra - 1 < table_fn(hi) */
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (table_fn(hdr, mid) <= ra - 1)
				lo = mid;
			else
				hi = mid;
		}
		probe(pr, info, table_fn(hdr, lo), true);
	}
	uint32_t step = count > 2000 ? count / 2000 : 1;
	for (uint32_t k = 0; k < count; k += step)
		probe(pr, info, table_fn(hdr, k), false);
	return 1; /* the first object is the main program */
}

bool gh__unwind_exe_has_fp(void)
{
	unsigned with, without;
	gh__sym_exe_frame_pointers(&with, &without);
	if (with + without > 0)
		return with >= without;
	struct fp_probe pr = {0, 0, 0, 0};
	dl_iterate_phdr(probe_main, &pr);
	if (pr.sites_total >= 4)
		return pr.sites_fp * 2 > pr.sites_total;
	if (pr.total >= 8)
		return pr.with_fp * 2 > pr.total;
	return true;
}

enum gh_unwinder gh__unwind_choose(void)
{
	const char *s = getenv("GLASSHEAP_UNWIND");
	if (s && strcmp(s, "fp") == 0)
		return GH_UNWIND_FP;
	if (s && strcmp(s, "dwarf") == 0)
		return GH_UNWIND_DWARF;
	if (s && *s && strcmp(s, "auto") != 0)
		gh__log("GLASSHEAP_UNWIND=%s ignored: want fp, dwarf or auto", s);
	return gh__unwind_exe_has_fp() ? GH_UNWIND_FP : GH_UNWIND_DWARF;
}
