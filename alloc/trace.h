/*
 * trace.h -- private interface of glassheap's tracing (the tracemalloc
 * family): stack capture per allocation, the interned stack table, snapshots
 * and their statistics, and symbolization.
 *
 *   trace.c    tracing on/off, the stack table, sampling, snapshots, top,
 *              compare, traceback (gh__trace_*)
 *   unwind.c   capturing return addresses: frame pointers or libunwind
 *              (gh__unwind_*)
 *   symbols.c  address -> function, file, line, source text (libdw)
 *              (gh__sym_*)
 *
 * Two audiences: the allocator (heap.c) calls the four hot entry points
 * below from inside malloc/free; the debug server and GLASSHEAP_TRACE call
 * the control API, which runs outside malloc and may allocate.
 *
 * This header is self-contained (internal.h includes it) so that it can be
 * read without the allocator's internals.
 */
#ifndef GH_TRACE_H
#define GH_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ==== trace.c: the allocator's side =========================================== */

/* Nonzero while tracing. The allocator's fast paths divert to the general
 * paths when it is set; the general paths call gh__trace_record. */
extern _Atomic int gh__trace_on __attribute__((visibility("hidden"))); /* core-only, as internal.h's data (GH_HIDDEN) */

/*
 * Records one allocation of size bytes whose caller's return address is ra
 * (the site glassheap records anyway). Captures up to the session's `frames`
 * return addresses, innermost first, starting at ra (glassheap's own frames
 * are left out), interns the stack, and adds the allocation to the stack's
 * live count and bytes and to the session's current/peak bytes.
 *
 * Returns the stack id to keep in the header (with GH_FLAG_TRACED) in place
 * of the site id, or 0 when the allocation is not traced: tracing is off,
 * sampling skipped it, the stack table is full, or the call is nested inside
 * the unwinder or inside glassheap's own tracing code on this thread.
 *
 * Runs inside malloc: never allocates from the heap and takes no lock that
 * an allocation could hold (lock-free table in mmap'd memory). Call it with
 * no allocator lock held (jemalloc's included): the DWARF unwinder may take
 * libunwind's own locks and the loader's dl_iterate_phdr lock.
 */
uint32_t gh__trace_record(size_t size, uintptr_t ra);

/*
 * A block recorded under stack (any session, current or earlier) is freed
 * or reallocated: removes it from that stack's live count and bytes, and
 * from its session's current bytes. Never allocates, never locks; a few
 * atomic adds. stack 0 or an unknown id is ignored.
 */
void gh__trace_release(uint32_t stack, size_t size);

/* The site id (sites.c) of a stack's first frame, so that a traced block
 * still answers gh_ptr_site() with its allocation site; 0 for an unknown id.
 * Never allocates, never locks. */
uint32_t gh__trace_stack_site(uint32_t stack);

/* The return addresses of a recorded stack, innermost first (*pcs points
 * into the stack table, valid for the life of the process); 0 for an
 * unknown id. Never allocates, never locks. */
size_t gh__trace_stack_pcs(uint32_t stack, const uintptr_t **pcs);

/* ==== trace.c: control (outside malloc) ========================================== */

#define GH_TRACE_FRAMES_MAX 100
#define GH_TRACE_FRAMES_DEFAULT 25
/* Snapshot names: 1..GH_TRACE_NAME_MAX characters of [A-Za-z0-9_.-]. The one
 * home of the rule: trace.c (gh__trace_name_valid) and the debug server's
 * validator (http/query.c, gh__query_check_name, whose 422 quotes the
 * pattern) both read it from here. */
#define GH_TRACE_NAME_MAX 64
#define GH_TRACE_NAME_PATTERN "^[A-Za-z0-9_.-]+$"
static inline bool gh__trace_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}
/* Default bound on stored snapshots; GLASSHEAP_TRACE_SNAPSHOTS=1..1024. */
#define GH_TRACE_SNAPSHOTS_DEFAULT 16
#define GH_TRACE_SNAPSHOTS_LIMIT 1024

/*
 * Every control function below is thread-safe, may allocate (its own
 * allocations are never traced and are counted under GH_TYPE_INTERNAL) and
 * must not be called from inside malloc, from a signal handler, or while
 * the world is stopped. None holds a lock that malloc takes.
 *
 * Error codes (0 on success):
 *   EINVAL    bad argument (frames outside 1..100, malformed name, ...)
 *   EALREADY  start while tracing: nothing changes (the old session goes on)
 *   ESRCH     the call needs tracing to be on and it is not
 *   ENOENT    no snapshot of that name
 *   ENOSPC    the snapshot bound is reached (taking one under an existing
 *             name is still allowed: it replaces that one)
 *   ENOMEM    out of memory (metadata tables or result arrays)
 */

/* Which unwinder captures stacks. AUTO: GLASSHEAP_UNWIND=fp|dwarf when set,
 * else frame pointers unless the main executable looks built without them
 * (see gh__unwind_exe_has_fp). */
enum gh_unwinder { GH_UNWIND_AUTO = 0, GH_UNWIND_FP = 1, GH_UNWIND_DWARF = 2 };

/*
 * Starts a tracing session: every allocation from now on (sample_bytes 0),
 * or a Poisson sample with mean distance sample_bytes between sampled bytes,
 * records up to `frames` (1..100) frames. A new session starts from zero:
 * stacks are interned anew (new ids), current and peak bytes are 0, and
 * blocks traced in earlier sessions never count in it (when freed they are
 * still released, from their own session's stacks). Snapshots are kept.
 * Returns 0, EINVAL, EALREADY, ENOMEM.
 */
int gh__trace_start(unsigned frames, size_t sample_bytes);
/* Ends the session: allocations are no longer traced; traced blocks keep
 * their stack and are released when freed; snapshots stay. Returns 0 or
 * ESRCH when not tracing. */
int gh__trace_stop(void);
/* Forces the unwinder used by the next start (GH_UNWIND_AUTO restores the
 * automatic choice). Returns the previous setting. */
enum gh_unwinder gh__trace_set_unwinder(enum gh_unwinder u);

struct gh_trace_status {
	bool is_tracing;
	unsigned frames;          /* this or the last session's limit; 0 if never started */
	size_t sample_bytes;      /* 0: every allocation */
	enum gh_unwinder unwinder;/* the session's unwinder (FP or DWARF) */
	uint64_t current_bytes;   /* live traced bytes of this session (estimate when sampling); 0 when not tracing */
	uint64_t peak_bytes;      /* their maximum since start; 0 when not tracing */
	uint64_t stacks;          /* distinct stacks interned by this session */
	uint64_t untraced;        /* allocations left out because the stack table was full */
	uint64_t nested;          /* allocations made inside the unwinder (not traced); 0 expected */
	size_t snapshots;         /* stored snapshots */
	size_t snapshots_max;     /* their bound (GLASSHEAP_TRACE_SNAPSHOTS) */
};
void gh__trace_status(struct gh_trace_status *out);

/* Is name a valid snapshot name (see GH_TRACE_NAME_MAX)? */
bool gh__trace_name_valid(const char *name);
/* Copies the live count and bytes of every stack of the session (O(stacks),
 * not O(objects)) under name, replacing a snapshot of that name. Returns 0,
 * EINVAL, ESRCH, ENOSPC, ENOMEM. */
int gh__trace_snapshot(const char *name);
/* Returns 0 or ENOENT. Works whether tracing or not. */
int gh__trace_snapshot_delete(const char *name);
bool gh__trace_snapshot_exists(const char *name);
/* Copies up to cap names, oldest first, into names; returns how many exist. */
size_t gh__trace_snapshot_names(char (*names)[GH_TRACE_NAME_MAX + 1], size_t cap);

/* One logical frame, symbolized (a physical frame yields several when
 * functions were inlined into it: the inlined ones first, flagged). Strings
 * belong to the symbol cache and live for the life of the process. */
struct gh_trace_frame {
	const char *filename; /* source file; the module's path without debug info; "<unknown>" */
	unsigned lineno;      /* 0 when unknown */
	const char *line;     /* the source line, whitespace-stripped; "" when the file cannot be read */
	const char *function; /* function name (C++ demangled); "" when unknown */
	const char *module;   /* path of the ELF object, "" when unknown */
	uintptr_t address;    /* the physical frame's return address */
	uintptr_t offset;     /* address - the module's load bias */
	bool inlined;         /* inlined into the next frame of the same address */
};

enum gh_trace_group { GH_TRACE_BY_LINENO, GH_TRACE_BY_FILENAME };

/* One row of top or compare, grouped by the innermost logical frame: its
 * (filename, lineno) -- (module, offset) for a frame without a line -- or its
 * filename alone (then lineno 0, line "" and function ""). Tracebacks group
 * by the same key, frame by frame. */
struct gh_trace_stat {
	int64_t size;       /* top: live bytes; compare: bytes in snapshot2 */
	int64_t count;      /* top: live blocks; compare: blocks in snapshot2 */
	int64_t size_diff;  /* compare: snapshot2 - snapshot1; top: 0 */
	int64_t count_diff;
	struct gh_trace_frame frame;
};

/* One row of traceback: a distinct symbolized stack. */
struct gh_trace_tb {
	int64_t size, count;
	size_t nframes;
	const struct gh_trace_frame *frames; /* innermost first */
};

/*
 * Statistics. Each returns a single heap block in *out (release it with
 * free(); row pointers point inside it) holding at most top_n rows in *n.
 *   top:       live traced blocks of the session, by size then count.
 *              ESRCH when not tracing.
 *   compare:   snapshot2 - snapshot1 for every group present in either,
 *              unchanged groups included, by |size_diff| then size then
 *              |count_diff|. ENOENT for an unknown name. Works after stop.
 *   traceback: live stacks grouped by their symbolized frames, by size.
 *              ESRCH when not tracing.
 * With sampling, sizes and counts are unbiased estimates.
 * The first call on a cold symbol cache reads debug information (can take
 * a while on big binaries); later calls hit the per-address cache.
 */
int gh__trace_top(enum gh_trace_group group, size_t top_n, struct gh_trace_stat **out, size_t *n);
int gh__trace_compare(const char *snapshot1, const char *snapshot2, enum gh_trace_group group, size_t top_n,
		      struct gh_trace_stat **out, size_t *n);
int gh__trace_traceback(size_t top_n, struct gh_trace_tb **out, size_t *n);

/* One interned stack, unsymbolized, for the exporters (pprof, folded). */
struct gh_trace_stack {
	uint32_t id;
	int64_t count, bytes;             /* live (or in the snapshot); estimates when sampling */
	int64_t alloc_count, alloc_bytes; /* every block ever recorded under it in the
	                                     session (0 for a snapshot) */
	unsigned nframes;
	const uintptr_t *frames;          /* return addresses, innermost first; valid
	                                     for the life of the process */
};

/*
 * The stacks with live blocks of the running session (snapshot NULL; ESRCH
 * when not tracing) or of a stored snapshot (ENOENT for an unknown name),
 * in id order, into one heap block *out (free() it). with_freed (running
 * session only): also the stacks whose blocks were all freed (pprof's
 * alloc_ figures). O(stacks). Returns 0, ESRCH, ENOENT, ENOMEM.
 */
int gh__trace_stacks(const char *snapshot, bool with_freed, struct gh_trace_stack **out, size_t *n);

/*
 * The weights a live block of size bytes traced under stack carries in the
 * running session (1 and size when every allocation is traced; 1/p and
 * size/p when sampling, as top and the stack counters count it): counts in
 * GH_TRACE_COUNT_ONE units. false when stack is not a stack of the running
 * session (tracing off, or a block left from an earlier session). For heap
 * walks that split a stack's blocks by type. Never allocates, never locks.
 */
#define GH_TRACE_COUNT_ONE ((int64_t)1 << 16)
bool gh__trace_block_weight(uint32_t stack, size_t size, int64_t *count_units, int64_t *bytes);
/* GH_TRACE_COUNT_ONE units to whole blocks, rounded to nearest. */
int64_t gh__trace_whole(int64_t count_units);

/* Brackets glassheap's own work on the calling thread (symbolization, result
 * building): allocations in between are not traced and are counted under
 * GH_TYPE_INTERNAL. Nests; pass begin's token to end. */
int gh__trace_quiet_begin(void);
void gh__trace_quiet_end(int token);

/* Fork handlers (registered by trace.c). */
void gh__trace_atfork_prepare(void);
void gh__trace_atfork_parent(void);
void gh__trace_atfork_child(void);

/* ==== unwind.c: capturing return addresses ======================================== */

/* Glassheap frames searched for ra before giving up (malloc -> gh__alloc ->
 * alloc_general -> gh__trace_record -> gh__unwind -> ...). */
#define GH_UNWIND_SKIP_MAX 16

/*
 * Writes up to max (1..100) return addresses into out, innermost first,
 * the first being ra: walks up from the caller until the frame whose return
 * address is ra, then records from there. When that frame is not found
 * (a broken chain), records ra alone. Returns the count (>= 1 when ra != 0).
 *   GH_UNWIND_FP: follows saved frame pointers; stops at a NULL, misaligned
 *     or non-increasing pointer, or one outside the mapping of the current
 *     stack (read once per thread and stack from /proc/self/maps with raw
 *     system calls). Never allocates, never locks.
 *   GH_UNWIND_DWARF: libunwind's unw_backtrace (local-only, .eh_frame).
 *     Never calls malloc on its paths once warmed up (see docs/tracing.md);
 *     may take libunwind's internal locks and dl_iterate_phdr's.
 */
unsigned gh__unwind(enum gh_unwinder how, uintptr_t ra, uintptr_t *out, unsigned max);
/* The choice for AUTO: GLASSHEAP_UNWIND, else the heuristic below. */
enum gh_unwinder gh__unwind_choose(void);
/* Heuristic: does the main executable keep frame pointers? By its DWARF
 * producer strings when it has them, else by function prologues (see
 * unwind.c). */
bool gh__unwind_exe_has_fp(void);
/* Initializes the unwinder's lazy state on this thread, outside malloc. */
void gh__unwind_warm_up(enum gh_unwinder how);
const char *gh__unwind_name(enum gh_unwinder how);

/* ==== symbols.c: addresses to source (libdw) ======================================= */

/*
 * The logical frames of one return address (it is looked up at address - 1,
 * the call instruction), innermost first; *frames points into the cache and
 * stays valid for the life of the process. Returns their count (>= 1: an
 * address that resolves to nothing yields one "<unknown>" frame). Modules
 * loaded since the last lookup (dlopen) are found by re-reading the module
 * list when an address is in none. Thread-safe (one mutex around libdw);
 * allocates; never call it inside malloc or with allocator locks held.
 */
size_t gh__sym_frames(uintptr_t address, const struct gh_trace_frame **frames);
/* The source text of file:lineno, whitespace-stripped, "" when unavailable.
 * Cached per file. The string lives for the life of the process. */
const char *gh__sym_source_line(const char *file, unsigned lineno);
/* Counts the main executable's compilation units (glassheap's own left out)
 * whose recorded compiler switches keep or omit frame pointers; units that
 * record none (no DWARF, clang) are not counted. */
void gh__sym_exe_frame_pointers(unsigned *with_fp, unsigned *without_fp);
/* Frees the symbolizer's caches and its libdw session (the next call starts
 * over) when it has not been used for idle_ns, or now with force; true when
 * it freed anything. Every frame and string handed out before is invalid
 * afterwards: only the thread that uses them (the debug server's, between
 * requests) may call it. */
bool gh__sym_release(uint64_t idle_ns, bool force);
void gh__sym_atfork_prepare(void);
void gh__sym_atfork_parent(void);
void gh__sym_atfork_child(void);

#endif /* GH_TRACE_H */
