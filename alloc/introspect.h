/*
 * introspect.h -- the core's read side: what the debug server (http/) and the
 * other readers of the heap need from the allocator, and nothing of how it
 * allocates (the fast paths, the block metadata's encoding and the private
 * jemalloc stay in internal.h, for alloc/ only). No file under http/ includes
 * internal.h.
 *
 *     http/ep_memory.c  --gh__obj_walk------> heap.c   (decoded live objects)
 *     http/ep_metrics.c --gh__alloc_stats---> heap.c   (jemalloc, cage, metadata)
 *     http/ep_gc.c      --gh__mark_run--------> mark.c   (stops the world)
 *     http/server.c     --gh__heap_bind_internal_arena, gh__world_*, gh__log
 *
 * Threads: everything here may be called from any thread that is not stopped
 * by a pass; the walks and statistics never stop the world and read
 * concurrently with the host's allocations (a walk's answer is exact only at a
 * quiet moment, like the type counters). gh__mark_run is the one call that stops
 * the world; it serializes with other passes.
 * Memory: nothing here allocates except gh__mark_run (its result, freed with
 * gh__mark_result_free by the caller) and gh__site_text's first symbolization of
 * a module (the symbolizer's caches, counted as glassheap's own).
 * Errors: functions that can fail return 0 or an errno value; the walks stop
 * early only when the visitor says so.
 */
#ifndef GH_INTROSPECT_H
#define GH_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "glassheap.h"

/* The core's internals (this header and internal.h) are declared with a
 * visibility, not only defined with one (-fvisibility covers those), so that
 * the compiler reaches globals directly on the hot path: protected in the
 * core (bound inside libglassheap.so, yet exported, by the version script's
 * gh_*, to its on-demand half: ext.h), default in that half (GH_EXT_BUILD:
 * the core's internals are its imports), hidden elsewhere (the sanitizer and
 * fuzzer builds compile the core alone). */
#if defined(GH_EXT_BUILD)
#define GH_INTERNAL_BEGIN _Pragma("GCC visibility push(default)")
#elif defined(GH_CORE_EXPORTS)
#define GH_INTERNAL_BEGIN _Pragma("GCC visibility push(protected)")
#else
#define GH_INTERNAL_BEGIN _Pragma("GCC visibility push(hidden)")
#endif
#define GH_INTERNAL_END _Pragma("GCC visibility pop")
/* The core's data stay hidden in every build: the on-demand half uses only
 * functions, and a protected object is reached through an address load
 * (lea + mov) on the hot path where a hidden one is one mov. */
#define GH_HIDDEN __attribute__((visibility("hidden")))

GH_INTERNAL_BEGIN

/* ==== Compiler helpers and logging, shared by the core and its readers ==== */

#ifndef GH_DEBUG
#define GH_DEBUG 0
#endif
static const int gh_config_debug = GH_DEBUG;

#define gh_likely(x) __builtin_expect(!!(x), 1)
#define gh_unlikely(x) __builtin_expect(!!(x), 0)
#define GH_TLS __thread __attribute__((tls_model("initial-exec")))
#define GH_NOINLINE __attribute__((noinline))
#define GH_INLINE static inline __attribute__((always_inline))

/* Level-1 assertions: cheap, compiled always, checked when GH_DEBUG >= 1. */
#define gh_assert(c)                                                                      \
	do {                                                                              \
		if (gh_config_debug >= 1 && gh_unlikely(!(c)))                            \
			gh__assert_fail(__FILE__, __LINE__, #c);                          \
	} while (0)

/* Level-2 checks: whole-heap invariants (the heap validator), evaluated only
 * when GH_DEBUG >= 2 -- the expression is not run otherwise. */
#define gh_check2(c)                                                                      \
	do {                                                                              \
		if (gh_config_debug >= 2 && gh_unlikely(!(c)))                            \
			gh__assert_fail(__FILE__, __LINE__, #c);                          \
	} while (0)

/* Relaxed loads/stores of words other threads may read concurrently. */
#define GH_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GH_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* One "glassheap: ..." line to stderr with write(2); never allocates. */
void gh__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void gh__assert_fail(const char *file, int line, const char *expr);

/* ==== heap.c: live objects ================================================== */

/* One live allocation, decoded from its metadata. */
struct gh_obj {
	uintptr_t addr;  /* the pointer the program holds */
	size_t size;     /* bytes requested */
	gh_type_t type;  /* GH_TYPE_MALLOC for untyped allocations */
	uint32_t site;   /* interned allocation site (sites.c), 0 when unknown */
	uint32_t stack;  /* the trace stack id when tracing recorded one, else 0 */
};

/* Called for every live object in address order; false stops the walk. The
 * object may be freed, even reused, while the visitor runs: read its bytes
 * only inside GH_RACY annotations and confirm with gh__obj_still. */
typedef bool (*gh_obj_visit_fn)(const struct gh_obj *o, void *arg);
/* Walks the live heap without stopping the world. glassheap's own objects
 * (GH_TYPE_INTERNAL) are passed too: the visitor decides. */
void gh__obj_walk(gh_obj_visit_fn fn, void *arg);
/* True when o->addr is still a live allocation of o->type. */
bool gh__obj_still(const struct gh_obj *o);

/* ==== heap.c, meta.c: the allocator's own figures ============================ */

struct gh_alloc_stats {
	/* jemalloc's stats.* after an epoch refresh (bytes) */
	uint64_t je_allocated, je_active, je_metadata, je_resident, je_mapped, je_retained;
	uint64_t je_dirty;                   /* unused dirty and muzzy pages of every arena (bytes) */
	uint64_t meta_mapped, meta_used;     /* glassheap's side tables (meta.c) */
	uint64_t cage_reserved, cage_used;   /* the cage's address range */
	uint64_t metadata_bytes_per_object;  /* kept beside every block (its trailer) */
	uint64_t header_extra_bytes;         /* what blocks with a 16-byte header keep beyond that */
};
/* Fills *s; never allocates. */
void gh__alloc_stats(struct gh_alloc_stats *s);
/* types.c: the program's live requested bytes (every type but
 * GH_TYPE_INTERNAL), as /debug/memory's summary sums them; never allocates. */
uint64_t gh__program_live_bytes(void);

/* ==== heap.c, options.c: the debug server's thread ========================== */

/* Binds the calling thread to glassheap's internal arena, the only one that
 * may use the cage's headroom (for the debug server's thread: its allocations
 * keep succeeding when the host has filled the cage). Sets the thread up
 * first. Returns 0 or ENOMEM. */
int gh__heap_bind_internal_arena(void);
/* GLASSHEAP_HTTP as read at start-up, or NULL (unset, or meant for another
 * process through GLASSHEAP_HTTP_PID). */
const char *gh__opt_http(void);
/* GLASSHEAP_SYMBOLS_IDLE in nanoseconds: how long the symbolizer keeps its
 * caches unused before the server gives them back (default 30 s). */
uint64_t gh__opt_symbols_idle_ns(void);

/* ==== types.c ================================================================ */

/* A registered type's description (flags, offsets, formatter). */
const gh_type_desc_t *gh__type_desc(gh_type_t type);

/* ==== sites.c: allocation sites =============================================== */

#define GH_SITE_LG 21
/* Capacity: distinct call sites with an id of their own. Past it every new
 * call site shares GH_SITE_OTHER, shown as GH_SITE_OTHER_NAME. */
#define GH_SITES_MAX ((uint32_t)(((size_t)1 << GH_SITE_LG) / 2))
#define GH_SITE_OTHER (GH_SITES_MAX + 1)
/* The address of a site id; 0 for 0, GH_SITE_OTHER and unknown ids. */
uintptr_t gh__site_address(uint32_t site);
/* "module+0xoffset" for an address, into buf; never allocates. */
void gh__site_describe(uintptr_t addr, char *buf, size_t len);

/* ==== world.c: stopping the world ============================================ */

/* True when a stop is being prepared or is running (for "busy" answers). */
bool gh__world_busy(void);
/* The signal used to stop threads (GLASSHEAP_STOP_SIGNAL, default SIGRTMIN+7).
 * Threads that block every signal must leave this one unblocked. */
int gh__world_stop_signal(void);
/* True when every thread of the process but `keep` (glassheap's server
 * thread) has exited: the main thread is a zombie (it called pthread_exit)
 * and no other thread runs. Reads /proc; never allocates. */
bool gh__world_host_gone(pid_t keep);

/* ==== mark.c: reachability, leak classes, referrers, collection ============ */

enum gh_leak_class {
	GH_REACHABLE,       /* a chain of start pointers from a root */
	GH_POSSIBLY_LOST,   /* reached only through interior pointers */
	GH_INDIRECTLY_LOST, /* unreachable, pointed to by other lost objects */
	GH_DEFINITELY_LOST, /* unreachable, no lost object points to it */
	GH_LEAK_CLASSES
};

/* valgrind's leak heuristics (memcheck --leak-check-heuristics), and the
 * program's declared interior offsets: an interior pointer that one of them
 * recognises reaches its object as a start pointer does ("reachable via
 * heuristic"). */
enum gh_leak_heuristic {
	GH_HEUR_NONE,
	GH_HEUR_STDSTRING,           /* ptr = block + 24: {length, capacity, refcount} chars, capacity = size - 25 */
	GH_HEUR_LENGTH64,            /* ptr = block + 8, the first word = size - 8 */
	GH_HEUR_NEWARRAY,            /* ptr = block + 8, the first word n > 0 divides size - 8 (new T[n]) */
	GH_HEUR_MULTIPLE_INHERITANCE,/* ptr and block both hold vtable pointers (a secondary base) */
	GH_HEUR_OFFSET,              /* ptr = block + a declared offset (GLASSHEAP_LEAK_OFFSETS) */
	GH_HEURISTICS
};
/* "stdstring", "length64", "newarray", "multipleinheritance", "offset" (mark.c) */
extern const char *const gh__heuristic_names[GH_HEURISTICS];

enum gh_root_kind { GH_ROOT_REGISTERED, GH_ROOT_STACK, GH_ROOT_TLS, GH_ROOT_GLOBAL, GH_ROOT_MAPPED, GH_ROOT_EPOLL, GH_ROOT_KINDS };

#define GH_GC_COLLECT 0x1   /* free unreachable objects of collectable types */
#define GH_GC_REFERRERS 0x2 /* aggregate referrer edges */

struct gh_gc_class_stats {
	uint64_t count, bytes;
};
struct gh_gc_type_row {
	gh_type_t type;
	struct gh_gc_class_stats cls[GH_LEAK_CLASSES];
};
struct gh_gc_site_row {
	uint32_t site, type;
	uint32_t stack;     /* the trace stack id of traced blocks, else 0 */
	uint32_t heuristic; /* GH_HEUR_*: the reachable objects counted here were reached via it */
	uint64_t count[GH_LEAK_CLASSES], bytes[GH_LEAK_CLASSES];
};
/* src: a type id below GH_TYPE_IDS, else GH_TYPE_IDS + root index. */
struct gh_gc_ref_row {
	uint32_t src, dst;
	uint64_t count;
};
struct gh_gc_result {
	uint64_t objects_before, objects_after, collected_objects, collected_bytes;
	uint64_t pause_ns, mark_ns, scanned_bytes;
	uint32_t threads;
	uint32_t threads_blocked; /* held without registers (world.c GH_HELD_BLOCKED) */
	uint32_t mark_threads;    /* threads that marked (pass 1): the requester and its helpers */
	uint64_t helper_objects;  /* objects the helpers scanned (of cls[GH_REACHABLE]) */
	const char *stop_method;  /* "ptrace" or "signal" */
	bool collect_skipped;     /* COLLECT asked, nothing freed: a thread was held
	                             without its registers, or a table overflowed */
	const char *collect_skipped_why; /* a static string naming the first reason, or NULL */
	bool truncated; /* a work table overflowed: counts are lower bounds */
	struct gh_gc_class_stats cls[GH_LEAK_CLASSES];
	struct gh_gc_class_stats root_kind[GH_ROOT_KINDS]; /* ranges, bytes */
	struct gh_gc_class_stats heuristic[GH_HEURISTICS]; /* reachable via each (part of cls[GH_REACHABLE]) */
	struct gh_gc_class_stats ignored; /* ignored objects nothing else reached, used as roots */
	size_t ntypes, nsites, nrefs, nroots;
	struct gh_gc_type_row *types;  /* types with any object, by id */
	struct gh_gc_site_row *sites;  /* (site, type) of non-reachable objects, by lost bytes */
	struct gh_gc_ref_row *refs;    /* by count, descending */
	char (*root_names)[96];
};
struct gh_gc_totals {
	uint64_t runs, collections, collected_objects, garbage_count;
	uint64_t garbage_bytes;  /* bytes of the garbage_count objects (last pass) */
	uint64_t last_pause_ns;  /* the last pass's stop-the-world pause */
	uint64_t pause_ns_total; /* every pass's pause, summed */
};

/* One reachability pass. Heap-allocates *out (gh__mark_result_free). Returns
 * 0, EBUSY (stop signal taken), ETIMEDOUT (*unresponsive = the tid that did
 * not stop), E2BIG (more threads or mappings than the tables hold: nothing
 * is marked), ENOMEM. Serialized with other stops (blocks while one runs). */
int gh__mark_run(int flags, struct gh_gc_result **out, pid_t *unresponsive);
void gh__mark_result_free(struct gh_gc_result *r);
/* The threads that mark pass 1, the requester included (1..8); n out of
 * range changes nothing. Returns the number before. GLASSHEAP_MARK_THREADS
 * sets it at the first pass; default: the CPUs the process may use, at
 * most 4. */
int gh__mark_threads(int n);
struct gh_gc_totals gh__mark_totals(void);
/* "struct Foo", "stack:1234", "global:libc.so.6", "root:name", ... */
const char *gh__mark_source_name(const struct gh_gc_result *r, uint32_t src);

GH_INTERNAL_END

#endif /* GH_INTROSPECT_H */
