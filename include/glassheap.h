/*
 * glassheap.h -- a malloc with built-in introspection.
 *
 * Every allocation made through glassheap (the malloc family, C++ new/delete,
 * and the typed functions below) carries a type, the code address that made
 * it (its "site") and its requested size. The library keeps exact per-type
 * counters and can enumerate live objects; an embedded HTTP server (see
 * "Debug server") answers questions about them while the program runs.
 *
 * Linking: put -lglassheap first on the link line, or run an unmodified
 * program with LD_PRELOAD=libglassheap.so. Both make glassheap the process's
 * malloc.
 *
 * Conventions:
 *   - Allocation functions return NULL with errno = ENOMEM on failure.
 *   - Other functions return 0 on success or a positive errno value.
 *   - Every function here is thread-safe unless it says otherwise.
 *   - None is async-signal-safe unless it says so.
 */
#ifndef GLASSHEAP_H
#define GLASSHEAP_H

#define GH_VERSION_MAJOR 0
#define GH_VERSION_MINOR 1
#define GH_VERSION_PATCH 0
#define GH_VERSION ((GH_VERSION_MAJOR * 10000) + (GH_VERSION_MINOR * 100) + GH_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>

/* ---- Attribute macros ------------------------------------------------- */

#if defined(__GNUC__)
#define GH_API __attribute__((visibility("default")))
#define GH_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#define GH_ALLOC_SIZE(i) __attribute__((alloc_size(i)))
#define GH_ALLOC_SIZE2(i, j) __attribute__((alloc_size(i, j)))
#else
#define GH_API
#define GH_MALLOC_ATTR
#define GH_ALLOC_SIZE(i)
#define GH_ALLOC_SIZE2(i, j)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Types ------------------------------------------------------------ */

/*
 * A type id. Ids are small integers, stable for the life of the process.
 * GH_TYPE_NONE is never a registered type: functions that look a type up
 * return it when there is none. The first ids are built in:
 *   GH_TYPE_MALLOC   "malloc"        untyped malloc/calloc/realloc/...
 *   GH_TYPE_NEW      "operator new"  untyped C++ new / new[]
 *   GH_TYPE_INTERNAL "glassheap"     glassheap's own allocations (server, reports)
 */
typedef uint32_t gh_type_t;

#define GH_TYPE_NONE ((gh_type_t)0)
#define GH_TYPE_MALLOC ((gh_type_t)1)
#define GH_TYPE_NEW ((gh_type_t)2)
#define GH_TYPE_INTERNAL ((gh_type_t)3)

/* The most types a process can register, built-in ones included. */
#define GH_TYPES_MAX 16384
/* The longest type name kept; longer names are rejected with EINVAL. */
#define GH_TYPE_NAME_MAX 255

/* Type flags (gh_type_desc_t.flags). */
/* Unreachable objects of this type may be freed by POST /debug/memory/gc. */
#define GH_TYPE_COLLECTABLE 0x1u
/* Objects of this type hold no pointers: the reachability marker skips them. */
#define GH_TYPE_NO_SCAN 0x2u

/*
 * Renders one object of the type into buf (at most len bytes, NUL included),
 * for the samples of /debug/memory/types. Returns the length it would have
 * written, like snprintf. obj is the object's start, size its requested size.
 * Called from the debug server's thread while the object is live; it must
 * only read the object and must not free it.
 */
typedef int (*gh_format_fn)(const void *obj, size_t size, char *buf, size_t len);

/*
 * Optional description of a type. Zero-initialize it and set what you need.
 *   format        sample renderer, or NULL (samples then show address/size/site)
 *   ptr_offsets   byte offsets of the pointer fields; with it the marker scans
 *                 only those words (precise scanning) instead of every word
 *   n_ptr_offsets number of entries in ptr_offsets (at most 64)
 *   stride        element size when an object is an array of the type: the
 *                 offsets repeat every stride bytes; 0 applies them once
 *   flags         GH_TYPE_COLLECTABLE, GH_TYPE_NO_SCAN
 * The registry copies the description; the caller keeps ownership of desc.
 */
typedef struct gh_type_desc {
	gh_format_fn format;
	const size_t *ptr_offsets;
	size_t n_ptr_offsets;
	size_t stride;
	unsigned flags;
} gh_type_desc_t;

/*
 * Registers a type by name and returns its id. Registering a name that
 * exists returns the existing id (the first description wins), so calling
 * it from several threads or several times is safe. desc may be NULL.
 * Returns GH_TYPE_NONE with errno set on failure: EINVAL for an empty or
 * over-long name, ENOSPC when GH_TYPES_MAX types exist. May allocate
 * glassheap metadata (never from the host heap).
 */
GH_API gh_type_t gh_type_register(const char *name, const gh_type_desc_t *desc);

/* Looks a type up by name; GH_TYPE_NONE when no such type is registered. */
GH_API gh_type_t gh_type_find(const char *name);

/* The name of a type id, or NULL for an unknown id. The string lives for
 * the life of the process. */
GH_API const char *gh_type_name(gh_type_t type);

/* Number of type ids in use, built-in ones included (ids are 1..n). */
GH_API uint32_t gh_type_count(void);

/* ---- Typed allocation ------------------------------------------------- */

/* Like malloc/calloc/realloc, with the allocation counted under type.
 * An unknown type id is counted under GH_TYPE_MALLOC. The result is
 * released with free() (or gh_free). gh_realloc_typed(type, NULL, n) is
 * gh_malloc_typed(type, n); the result of a realloc carries type. */
GH_API void *gh_malloc_typed(gh_type_t type, size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE(2);
GH_API void *gh_calloc_typed(gh_type_t type, size_t n, size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE2(2, 3);
GH_API void *gh_realloc_typed(gh_type_t type, void *ptr, size_t size) GH_ALLOC_SIZE(3);
/* Like aligned_alloc: alignment must be a power of two. */
GH_API void *gh_aligned_alloc_typed(gh_type_t type, size_t alignment, size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE(3);
/* free(), under a name that reads well beside the functions above. */
GH_API void gh_free(void *ptr);

/* Registers #T once (thread-safe) and returns its id. */
#define GH_TYPE_OF(T)                                                                    \
	__extension__({                                                                    \
		static gh_type_t gh__tid_;                                                   \
		gh_type_t gh__t_ = __atomic_load_n(&gh__tid_, __ATOMIC_ACQUIRE);             \
		if (gh__t_ == GH_TYPE_NONE) {                                                \
			gh__t_ = gh_type_register(#T, NULL);                                     \
			__atomic_store_n(&gh__tid_, gh__t_, __ATOMIC_RELEASE);                   \
		}                                                                            \
		gh__t_;                                                                      \
	})

/* Allocates one zeroed T counted under the type named #T; NULL on failure. */
#define GH_NEW(T) ((T *)gh_calloc_typed(GH_TYPE_OF(T), 1, sizeof(T)))
/* Allocates n zeroed T counted under the type named #T; NULL on failure
 * (including n * sizeof(T) overflow). */
#define GH_NEW_ARRAY(T, n) ((T *)gh_calloc_typed(GH_TYPE_OF(T), (n), sizeof(T)))

/* Changes the type a live allocation is counted under (the counts move
 * from the old type to the new one; totals of allocations and frees are
 * not touched). Returns 0, or EINVAL when ptr is not the start of a live
 * glassheap allocation or type is unknown. */
GH_API int gh_retag(void *ptr, gh_type_t type);

/*
 * Untyped allocations (malloc, new, ...) made by this thread between
 * gh_scope_push(type) and the matching gh_scope_pop() are counted under
 * type. Scopes nest (up to 32 deep). push returns 0, or EINVAL for an
 * unknown type, or EOVERFLOW when nested too deep. pop returns 0, or
 * EINVAL without a matching push. Thread-local; never allocates.
 */
GH_API int gh_scope_push(gh_type_t type);
GH_API int gh_scope_pop(void);

/* ---- Pointer queries -------------------------------------------------- */

/* Facts about one live allocation. */
typedef struct gh_ptr_info {
	void *base;        /* the allocation's start (what malloc returned) */
	size_t size;       /* requested size in bytes */
	gh_type_t type;    /* type id */
	uint32_t site;     /* site id (see gh_site_resolve); the allocating call
	                    * site whether or not the block was traced */
} gh_ptr_info_t;

/*
 * Fills info for the live allocation containing ptr (an interior pointer
 * works). Returns 0, or ENOENT when no live glassheap allocation contains
 * ptr. Never faults, whatever ptr is. Never allocates.
 */
GH_API int gh_ptr_info(const void *ptr, gh_ptr_info_t *info);
/* Shorthands for the start of a live allocation; GH_TYPE_NONE / 0 / 0 otherwise. */
GH_API gh_type_t gh_ptr_type(const void *ptr);
GH_API uint32_t gh_ptr_site(const void *ptr);
GH_API size_t gh_ptr_size(const void *ptr);

/* ---- Statistics ------------------------------------------------------- */

typedef struct gh_type_stats {
	gh_type_t type;
	const char *name;
	uint64_t live_count;   /* live allocations now */
	uint64_t live_bytes;   /* their requested bytes */
	uint64_t total_allocs; /* allocations since start (a realloc counts once) */
	uint64_t total_frees;  /* frees since start (a realloc counts once) */
} gh_type_stats_t;

/*
 * Per-type counters, exact: per-thread shards summed on read, and the
 * counts of threads that exited are kept. While other threads allocate,
 * a read sees each thread's counts at some instant of the call.
 * gh_type_stats fills one type (ENOENT for an unknown id); gh_stats_all
 * fills up to cap entries, one per type id 1..n in order, and returns
 * the number of types (which may exceed cap). Never allocates.
 */
GH_API int gh_type_stats(gh_type_t type, gh_type_stats_t *out);
GH_API size_t gh_stats_all(gh_type_stats_t *out, size_t cap);

/*
 * Checks the heap's metadata: every live allocation has intact metadata of a
 * registered type, no two overlap, large blocks own their page-map entries;
 * with counters != 0 also that every type's live counters equal what the
 * heap holds -- call it so only when no other thread allocates (after
 * joining them), or the counters differ by the allocations in flight.
 * Logs the first problems on stderr and returns how many (0: consistent).
 * Walks the whole heap; never allocates. Builds with GLASSHEAP_DEBUG=2 run
 * the structural check at the end of every reachability pass.
 */
GH_API size_t gh_heap_check(int counters);

/* ---- Sites ------------------------------------------------------------ */

/* Where a site id points. */
typedef struct gh_site_info {
	uintptr_t address;   /* the return address recorded at allocation */
	const char *module;  /* path of the loaded object containing it, or "" */
	uintptr_t offset;    /* address minus that module's load base */
} gh_site_info_t;

/*
 * Resolves a site id. Returns 0, or ENOENT for an unknown id. The module
 * string lives for the life of the process. glassheap gives its own id to
 * the first 1,048,576 distinct call sites of a process; allocations from
 * call sites beyond that share one site whose module is GH_SITE_OTHER_NAME
 * (address and offset 0).
 */
#define GH_SITE_OTHER_NAME "[other sites]"
GH_API int gh_site_resolve(uint32_t site, gh_site_info_t *info);

/*
 * Blame the caller: an allocation made inside an allocation wrapper is
 * attributed to the first frame outside it (its site, its traced stack).
 * Built in: the whole of libc, libstdc++ and GLib, the standard library's
 * template code instantiated in the program (namespaces std, __gnu_cxx),
 * and strdup/asprintf/getline/realpath/g_malloc... wherever they are
 * defined. spec adds more, comma-separated: a function name as in the ELF
 * symbol table ("xmalloc", a C++ function by its mangled name), or
 * "module:libfoo.so" (libfoo.so, libfoo.so.1, ...); "-defaults" drops the
 * built-in list. The same syntax as GLASSHEAP_WRAPPERS. Applies to the
 * allocations that follow (call it before the wrapper's first use).
 * Returns 0, EINVAL (a name of 256 bytes or more) or ENOSPC (64 of each
 * kind already).
 */
GH_API int gh_wrapper_add(const char *spec);

/* ---- Errors ----------------------------------------------------------- */

/* What kind of heap misuse was detected. */
typedef enum gh_error_kind {
	GH_ERR_INVALID_FREE = 1, /* pointer glassheap did not allocate */
	GH_ERR_DOUBLE_FREE = 2,  /* pointer already freed */
	GH_ERR_INTERIOR_FREE = 3,/* pointer inside a live allocation, not its start */
	GH_ERR_CORRUPT = 4       /* an allocation's header was overwritten */
} gh_error_kind_t;

/*
 * Called when free/realloc/... detect misuse. msg is a complete one-line
 * description (pointer, operation, allocation site where known). Runs on the
 * offending thread inside the allocator: it must not allocate. After it
 * returns, glassheap aborts unless GLASSHEAP_ON_ERROR=log, in which case the
 * offending call is ignored (free does nothing, realloc returns NULL with
 * errno = EINVAL). The default handler writes msg to stderr.
 * Returns the previous handler. Passing NULL restores the default.
 */
typedef void (*gh_error_fn)(gh_error_kind_t kind, const void *ptr, const char *op, const char *msg);
GH_API gh_error_fn gh_set_error_handler(gh_error_fn fn);

/* Number of misuse errors detected since start. */
GH_API uint64_t gh_error_count(void);

/* ---- Roots ------------------------------------------------------------ */

/*
 * Registers [addr, addr + len) as a root for reachability analysis
 * (POST /debug/memory/gc, /debug/memory/referrers): pointers stored there
 * keep heap objects reachable. Use it for memory glassheap cannot see, such
 * as your own mmap'd regions; thread stacks, TLS and modules' globals are
 * roots already. name (1..63 bytes) labels it "root:<name>" in reports.
 * Registering the same addr again replaces the entry. Returns 0, EINVAL,
 * or ENOSPC (1024 roots). gh_root_remove returns 0 or ENOENT. Both wait
 * while a pass has the world stopped: once gh_root_add returns, every pass
 * scans the range; once gh_root_remove returns, none reads it (it may be
 * unmapped or freed). A range unmapped or made unreadable while still
 * registered is skipped where it cannot be read (glassheap logs it once).
 */
GH_API int gh_root_add(const void *addr, size_t len, const char *name);
GH_API int gh_root_remove(const void *addr);

/* ---- Leak checking ---------------------------------------------------- */

/*
 * Leak checks for tests and CI, modelled on LeakSanitizer's interface
 * (sanitizer/lsan_interface.h). See docs/leak-checking.md.
 *
 * Classes are valgrind's: definitely lost (nothing points to the object),
 * indirectly lost (only other lost objects point to it), possibly lost
 * (only pointers into its middle reach it), reachable. Interior pointers
 * that valgrind's heuristics recognise (stdstring, length64, newarray,
 * multipleinheritance: GLASSHEAP_LEAK_HEURISTICS) or that point at a
 * declared offset (gh_leak_interior_offset, GLASSHEAP_LEAK_OFFSETS) count as
 * pointers to the object: it is "reachable via heuristic".
 */
typedef struct gh_leak_counts {
	uint64_t definitely_lost, definitely_lost_bytes;
	uint64_t indirectly_lost, indirectly_lost_bytes;
	uint64_t possibly_lost, possibly_lost_bytes;
	uint64_t reachable, reachable_bytes; /* includes the heuristic ones below */
	/* reachable via stdstring, length64, newarray, multipleinheritance, offset */
	uint64_t heuristic[5], heuristic_bytes[5];
	uint64_t suppressed, suppressed_bytes; /* lost objects matched by GLASSHEAP_SUPPRESSIONS, not counted above */
	uint64_t ignored, ignored_bytes;       /* gh_ignore_object / gh_leak_disable objects used as roots */
} gh_leak_counts_t;

#define GH_LEAK_PRINT 0x1 /* gh_leak_check: write the report to stderr */

/*
 * Runs a reachability pass now (every thread is paused meanwhile) and fills
 * *out (may be NULL). With GH_LEAK_PRINT, writes the report that
 * GLASSHEAP_LEAK_CHECK=exit would print, grouped by allocation site (the
 * full stack for blocks allocated while tracing), to stderr. Suppressions
 * (GLASSHEAP_SUPPRESSIONS) apply; glassheap's own objects are never counted.
 * Returns 0, or EBUSY / ETIMEDOUT / E2BIG / ENOMEM (the pass could not run;
 * *out is zeroed). Thread-safe; allocates; not from a signal handler.
 */
GH_API int gh_leak_check(int flags, gh_leak_counts_t *out);

/*
 * Leaves the live block at p out of leak reports: it is treated as a root,
 * so neither it nor what it points to is reported (__lsan_ignore_object).
 * Returns 0, or EINVAL when p is not the start of a live block. Thread-safe,
 * no allocation, async-signal-safe.
 */
GH_API int gh_ignore_object(const void *p);

/*
 * gh_leak_disable() ... gh_leak_enable(): the blocks the calling thread
 * allocates in between are ignored as by gh_ignore_object
 * (__lsan_disable/__lsan_enable). Scopes nest, per thread. No allocation.
 */
GH_API void gh_leak_disable(void);
GH_API void gh_leak_enable(void);

/*
 * Declares that the program points to some blocks at a fixed offset past
 * their start (CPython points to every GC-tracked object 16 bytes in, past
 * its PyGC_Head): such pointers count as pointers to the block ("reachable
 * via heuristic: offset"). Same as GLASSHEAP_LEAK_OFFSETS=16,... Returns 0,
 * EINVAL (offset 0 or above 4096), ENOSPC (16 offsets). Thread-safe.
 */
GH_API int gh_leak_interior_offset(size_t offset);

/* ---- Tracing ---------------------------------------------------------- */

/*
 * Call-stack tracing, like Python's tracemalloc (the debug server's
 * /debug/tracemalloc endpoints drive the same machinery, and
 * GLASSHEAP_TRACE=<frames> starts it at load time).
 *
 * gh_trace_start begins a session: every allocation from then on records up
 * to `frames` (1..100) return addresses, innermost first, glassheap's own
 * frames left out, and is counted under that stack until it is freed.
 * sample_bytes 0 traces every allocation; otherwise allocations are sampled
 * as a Poisson process with one sample every sample_bytes bytes on average
 * (an allocation of s bytes with probability 1 - exp(-s / sample_bytes)),
 * and statistics are scaled to unbiased estimates. The unwinder follows
 * frame pointers unless the program looks built without them, or as
 * GLASSHEAP_UNWIND=fp|dwarf says. Returns 0, EINVAL (frames out of range),
 * EALREADY (already tracing: the running session is unchanged), ENOMEM.
 *
 * gh_trace_stop ends the session (0, or ESRCH when not tracing). Blocks
 * traced so far stay attributed to it and never count in a later session.
 *
 * gh_trace_get_memory: the live bytes of the session's traced blocks and
 * their peak since start (estimates when sampling), both 0 when not tracing.
 *
 * Thread-safe. start/stop may allocate and must not be called from a
 * signal handler or an allocation hook.
 */
GH_API int gh_trace_start(unsigned frames, size_t sample_bytes);
GH_API int gh_trace_stop(void);
GH_API int gh_trace_is_tracing(void);
GH_API void gh_trace_get_memory(uint64_t *current, uint64_t *peak);

/* ---- Reports ---------------------------------------------------------- */

/*
 * Writes the per-type table (and the top sites) as text to path, "%p" in path
 * replaced by the process id. Also done at exit when GLASSHEAP_REPORT=path is
 * set. Returns 0 or an errno value.
 */
GH_API int gh_report_write(const char *path);

/* ---- Debug server ----------------------------------------------------- */

/*
 * Starts the embedded HTTP debug server (h2o, its own thread) listening on
 * listen: "[host:]port" (host defaults to 127.0.0.1; port 0 picks a free
 * port) or "unix:/path" (socket created with mode 0600). A non-loopback host
 * is refused (EPERM) unless GLASSHEAP_TOKEN is set; with a token every
 * request needs "Authorization: Bearer <token>". Also started at load time
 * when GLASSHEAP_HTTP is set. Returns 0, EALREADY when running, EINVAL for a
 * malformed address, EADDRINUSE/EACCES/... when the bind fails (one line is
 * logged); the host keeps running in every case. The server's own
 * allocations are counted under GH_TYPE_INTERNAL.
 */
GH_API int gh_server_start(const char *listen);
/* The bound TCP port (useful after starting on port 0), 0 when not running
 * or listening on a Unix socket. */
GH_API int gh_server_port(void);
/* Stops the server and joins its thread; no-op when not running. */
GH_API void gh_server_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* GLASSHEAP_H */
