/*
 * internal.h -- the one private header of glassheap's core, grouped by file.
 *
 * Everything declared here is internal: only GH_API functions of
 * include/glassheap.h, the malloc family and (for libglassheap_ext.so, see
 * ext.h and GH_INTERNAL_BEGIN in introspect.h) the gh__ internals leave the
 * shared library. Cross-file internals are named gh__<module>_<verb>.
 */
#ifndef GH_INTERNAL_H
#define GH_INTERNAL_H

#include "glassheap.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>

#include "introspect.h" /* the read side: what http/ may use; GH_INTERNAL_BEGIN */

GH_INTERNAL_BEGIN

#include "trace.h" /* trace.c, unwind.c, symbols.c: tracing */

/* ==== mapped.c: the program's own mappings (roots) ===================== */

/* The kernel's mmap, munmap and mremap, unrecorded. glassheap's own code
 * calls these (the macros below): the exported mmap of shim.c would note
 * its mappings as the program's. */
void *gh__sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int gh__sys_munmap(void *addr, size_t len);
void *gh__sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
#define mmap(addr, len, prot, flags, fd, off) gh__sys_mmap(addr, len, prot, flags, fd, off)
#define munmap(addr, len) gh__sys_munmap(addr, len)
/* Nonzero while this thread runs code of glassheap's that may call the
 * exported mmap (libunwind's caches): those mappings are not the program's. */
extern GH_TLS int gh__tl_own_maps GH_HIDDEN;
/* shim.c's mmap, after a successful call: [addr, addr + len) is now an
 * anonymous mapping (anonymous) or a file mapping; noted as the program's
 * when it is anonymous and not glassheap's own. */
void gh__mapped_note(void *addr, size_t len, bool anonymous);
/* n rounded up to whole 4 KiB pages. */
static inline size_t gh__page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}
/* A lower-case hexadecimal digit's value, or -1 (what /proc prints). */
static inline int gh__hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
/* shim.c's munmap: forgets the range, then calls the kernel. */
int gh__mapped_munmap(void *addr, size_t len);
/* shim.c's mremap: calls the kernel with the record held (the pages'
 * contents move with the mapping) and notes the new range as the program's
 * if the old one was. */
void *gh__mapped_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
/* ==== epoll_roots.c: the data of the program's epoll registrations ===== */

/* waits.c's epoll_ctl, before the call: epfd is an epoll instance. */
void gh__epoll_note(int epfd);
/* An instance could not be noted (the table is full). */
bool gh__epoll_incomplete(void);
/* Any instance noted (the pass maps its buffers then). */
bool gh__epoll_any(void);
/* While the world is stopped: every noted instance's registered data words
 * into vals (nvals at most; *over when more, or one was unreadable), read
 * through buf (cap bytes). Returns how many. */
size_t gh__epoll_collect(uintptr_t *vals, size_t nvals, char *buf, size_t cap, bool *over);

struct gh_range;
/* The pass: holds the record unchanged across the stop (no stopped thread
 * can be inside an update); the ranges, sorted, while held. */
void gh__mapped_hold(void);
void gh__mapped_release(void);
size_t gh__mapped_ranges(const struct gh_range **v);
/* An update was lost (a signal handler's mmap inside another's update, or
 * no memory for the record): a pass must collect nothing. */
bool gh__mapped_incomplete(void);
void gh__mapped_atfork_prepare(void);
void gh__mapped_atfork_parent(void);
void gh__mapped_atfork_child(void);

/* ==== options.c: GLASSHEAP_* environment, logging, misuse reports ======== */

/* A buffered writer to a file descriptor, for the reports (report.c, the
 * exit-time leak check): write(2) only, never allocates. failed: a write
 * failed (the rest is dropped). Lines longer than 2 KiB are cut. */
struct gh_out {
	int fd;
	size_t n;
	bool failed;
	char buf[8192];
};
/* Reads fd into buf until end of file or cap bytes (EINTR retried); the
 * bytes read. Never allocates. */
size_t gh__read_fd(int fd, char *buf, size_t cap);
void gh__out_flush(struct gh_out *o);
void gh__out_printf(struct gh_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gh__out_vprintf(struct gh_out *o, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

struct gh_options {
	size_t cage_size;        /* GLASSHEAP_CAGE_SIZE, bytes */
	unsigned arenas;         /* GLASSHEAP_ARENAS, 0 = one per CPU */
	bool on_error_log;       /* GLASSHEAP_ON_ERROR=log (default abort) */
	const char *report_path; /* GLASSHEAP_REPORT, or NULL */
	size_t thp_from;         /* GLASSHEAP_THP: cage offset from which transparent
	                            huge pages are advised (0: always, the default;
	                            SIZE_MAX: never) */
	unsigned symbols_idle_s; /* GLASSHEAP_SYMBOLS_IDLE: the symbolizer's memory goes
	                            back after this many seconds unused (default 30) */
	bool mapped_roots_off;   /* GLASSHEAP_MAPPED_ROOTS=off: the program's own
	                            anonymous mappings are no roots (mapped.c) */
	const char *http;        /* GLASSHEAP_HTTP, the address http/server.c serves
	                            at load time; NULL when unset or meant for
	                            another process (GLASSHEAP_HTTP_PID) */
};
/* GLASSHEAP_THP=auto: a heap that outgrows this gets huge pages past it. */
#define GH_THP_AUTO_FROM ((size_t)32 << 20)
extern struct gh_options gh__opt GH_HIDDEN;

/* Reads the environment once. Runs inside the first malloc: no allocation. */
void gh__options_init(void);
/* Parses "123", "64M", "2g"... into bytes; false when malformed or overflowing. */
bool gh__parse_size(const char *s, size_t *out);

struct gh_meta;
/*
 * The single misuse-reporting path (invalid/double/interior free, corrupt
 * metadata). Formats the message on the stack, calls the host's handler or
 * writes to stderr, then aborts unless GLASSHEAP_ON_ERROR=log. Never
 * allocates and takes no allocator lock. obj is the live allocation the
 * pointer falls into (interior frees), or NULL; m, when known, the
 * metadata of the block named (obj, or the freed block at ptr).
 */
void gh__misuse(gh_error_kind_t kind, const void *ptr, const char *op, const void *obj,
		const struct gh_meta *m);

/* ==== meta.c: glassheap's own metadata memory ============================= */

/* Zeroed, 16-byte aligned, never freed; from mmap, never from the heap.
 * Thread-safe (meta lock, held only around pointer bumps and mmap).
 * Returns NULL when the system is out of memory. */
void *gh__meta_alloc(size_t size);
/* A fresh private mapping (MAP_NORESERVE) for large sparse tables. */
void *gh__meta_map(size_t size);
/* The same, 2 MiB aligned and advised for transparent huge pages: for the
 * tables every allocation touches at random (fewer TLB misses). */
void *gh__meta_map_huge(size_t size);
/* gh__meta_map_huge without the accounting (the marker's work area). */
void *gh__map_work(size_t size);
/* Bytes of metadata: mapped (reserved address space) and handed out. */
void gh__meta_stats(size_t *mapped, size_t *used);
void gh__meta_atfork_prepare(void);
void gh__meta_atfork_parent(void);
void gh__meta_atfork_child(void);

/* ==== cage.c: the reserved address range under every arena ================ */

struct gh_cage {
	uintptr_t base;      /* first byte of the reservation */
	size_t size;         /* reserved bytes (0 until gh__cage_init succeeds) */
	_Atomic uintptr_t top; /* bump pointer: [base, top) has been handed to jemalloc */
};
extern struct gh_cage gh__cage GH_HIDDEN;

/* Reserves the cage (falling back to smaller sizes), returns 0 or ENOMEM. */
int gh__cage_init(size_t want);
/* The size gh__cage_init was asked for (the cage may be smaller). */
size_t gh__cage_wanted(void);
/* Gives the whole reservation back (initialization failed after it). */
void gh__cage_release(void);
/* The jemalloc extent hooks carving extents from the cage. */
extern void *gh__cage_hooks GH_HIDDEN;
/* Test hook: fail the next n cage extent allocations after `after` more succeed
 * (after < 0: never). Used by fault-injection tests. */
void gh__cage_inject_failure(long after);
/* Bytes handed to jemalloc so far. */
size_t gh__cage_used(void);
/* Keeps the last `bytes` of the cage for arena `arena` alone (heap.c's
 * internal arena). Called once, at initialization. */
void gh__cage_set_headroom(unsigned arena, size_t bytes);

GH_INLINE bool gh__cage_contains(uintptr_t p)
{
	return p - gh__cage.base < gh__cage.size;
}

/* ==== heap.c: the allocator core ========================================== */

/*
 * Every allocation carries its metadata (type, site, requested size, a
 * live/freed check byte) in one of two layouts; the block's start byte
 * (below) says which.
 *
 * Small blocks (jemalloc's small size classes up to GH_TRL_CLASS_MAX): an
 * 8-byte trailer in the last 8 bytes of the block, found from the size
 * class the start byte names. The user pointer is jemalloc's own (16-byte
 * aligned), and a request moves up a size class only when its last 8
 * bytes would not fit:
 *
 *    user = raw                                        raw + class - 8
 *    |<---------- size bytes ---------->|<- slack ->|<-- trailer 8 -->|
 *     trailer = state:8 | 0:1 | ignored:1 | size:14 | type:15 | site:24 | 0:1
 *
 * The check byte is the trailer's first byte: an overflow past the slack,
 * even by one byte, is caught as corrupted metadata when the block leaves
 * its thread's ring of frees behind (struct gh_pend: at most four frees
 * after its own), or by a pass. The whole trailer is one word:
 * changing it (realloc, retag, gh_ignore_object) is one store or CAS.
 *
 * Other blocks (large extents, alignments above 16, sizes whose class is
 * past the trailer's size field): the 16-byte header in front:
 *
 *    raw (from jemalloc)              user pointer (returned to the caller)
 *    |<- alignment gap ->|<- hdr 16 ->|<------------- size bytes ------------->|
 *                         type  site  meta = size:47 | ignored:1 | align_lg:6 | flags:2 | check:8
 *
 * align_lg is 0 for ordinary allocations (raw == hdr); for alignments above
 * 16 it is log2(alignment) and raw = user - alignment.
 *
 * In both, a traced block (GH_FLAG_TRACED; a trailer's state byte
 * GH_STATE_LIVE_TRACED, so that free's fast path tests one byte) keeps its trace
 * stack id where the site id goes (the stack remembers its site: read
 * either through struct gh_meta). The start map, not the metadata, is the
 * authority on which addresses are live allocations, so the check byte only
 * has to catch metadata that was overwritten or already freed.
 */
struct gh_hdr {
	uint32_t type;
	uint32_t site;
	uint64_t meta;
};

#define GH_HDR_SIZE 16u
#define GH_GRANULE_LG 4
#define GH_PAGE_LG 12
#define GH_SIZE_BITS 47
#define GH_SIZE_MASK ((UINT64_C(1) << GH_SIZE_BITS) - 1)
/* Left out of leak reports (gh_ignore_object, gh_leak_disable): bit 47, above
 * any size the cage can hold; realloc keeps it, free drops it. */
#define GH_FLAG_IGNORED (UINT64_C(1) << GH_SIZE_BITS)
#define GH_ALIGN_SHIFT 48
#define GH_FLAGS_SHIFT 54
#define GH_FLAG_LARGE (UINT64_C(1) << GH_FLAGS_SHIFT)  /* pagemap entries set */
#define GH_FLAG_TRACED (UINT64_C(2) << GH_FLAGS_SHIFT) /* site holds a trace stack id (trace.h) */
#define GH_CHECK_SHIFT 56
#define GH_STATE_LIVE 0xA7u
#define GH_STATE_FREED 0x5Eu
#define GH_STATE_LIVE_TRACED 0xB5u /* trailers only */
/* The largest request glassheap accepts (the cage is far smaller anyway). */
#define GH_SIZE_MAX_REQ (GH_SIZE_MASK - 4096)

/* The trailer word's fields, the check byte first (lowest address). */
#define GH_TRL_SIZE 8u
#define GH_TRL_CHECK_MASK UINT64_C(0xff)
#define GH_TRL_IGNORED (UINT64_C(1) << 9)
#define GH_TRL_SIZE_SHIFT 10
#define GH_TRL_SIZE_BITS 14
#define GH_TRL_TYPE_SHIFT 24
#define GH_TRL_TYPE_BITS 15
#define GH_TRL_SITE_SHIFT 39
#define GH_TRL_SITE_BITS 24
#define GH_TRL_FIELD(w, shift, bits) ((uint32_t)((w) >> (shift)) & ((UINT32_C(1) << (bits)) - 1))
#define GH_TRL_SIZE_OF(w) ((size_t)GH_TRL_FIELD(w, GH_TRL_SIZE_SHIFT, GH_TRL_SIZE_BITS))
/* The largest class with a trailer: its size field holds class - 8. */
#define GH_TRL_CLASS_MAX ((size_t)1 << GH_TRL_SIZE_BITS)

GH_INLINE uint64_t gh__hdr_state(unsigned state)
{
	return (uint64_t)state << GH_CHECK_SHIFT;
}
GH_INLINE struct gh_hdr *gh__hdr_of(uintptr_t user)
{
	return (struct gh_hdr *)(user - GH_HDR_SIZE);
}
GH_INLINE size_t gh__hdr_size(uint64_t meta)
{
	return (size_t)(meta & GH_SIZE_MASK);
}
/* A live trailer word (the site field: a site id, or a stack id when traced). */
GH_INLINE uint64_t gh__trl_word(size_t size, uint32_t site, gh_type_t type, bool traced)
{
	return ((uint64_t)size << GH_TRL_SIZE_SHIFT) | ((uint64_t)site << GH_TRL_SITE_SHIFT) |
	       ((uint64_t)type << GH_TRL_TYPE_SHIFT) | (traced ? GH_STATE_LIVE_TRACED : GH_STATE_LIVE);
}

/*
 * Object-start byte map: one byte per 16-byte granule of the cage, at the
 * granule of every allocation's user pointer:
 *   0                    no block starts here;
 *   GH_START_HDR         a live block with a header;
 *   GH_START_TRL0 + k    a live block with a trailer, of trailer class k;
 *   any of those | GH_START_FREED   a block freed here (the layout stays
 *                        readable, for the double-free report), until a
 *                        new block starts at this granule.
 * Live values are 1..0x7f. Page map: for large allocations (jemalloc
 * "large" extents, exclusive pages), one entry per 4 KiB page they cover,
 * holding (granule index of the user pointer) + 1.
 */
#define GH_START_HDR 1u
#define GH_START_TRL0 2u
#define GH_START_FREED 0x80u
#define GH_TRL_CLASSES 64 /* at most: jemalloc has 4 classes per doubling */
extern uint8_t *gh__startmap GH_HIDDEN;
/* gh__startmap biased by the cage base: gh__startmap_at[user >> 4] is the
 * byte of user's granule (one load and no subtraction on the hot path). */
extern uint8_t *gh__startmap_at GH_HIDDEN;
extern uint32_t *gh__pagemap GH_HIDDEN;
extern size_t gh__small_max GH_HIDDEN; /* largest jemalloc small size class */
/* By start byte: the block's class size for a live trailer block, else 0. */
extern uint16_t gh__start_cls[256] GH_HIDDEN;
/* By granules (request + 8 rounded up to 16, over 16), for requests up to
 * gh__trl_max: the trailer class's size and its start byte, side by side
 * (malloc's fast path loads each from the same entry, ready to use). */
struct gh_trl_ent {
	uint16_t cls;
	uint8_t start;
	uint8_t unused;
};
extern struct gh_trl_ent gh__trl_tab[GH_TRL_CLASS_MAX / 16 + 1] GH_HIDDEN;
/* The largest request served with a trailer (0 before initialization). */
extern size_t gh__trl_max GH_HIDDEN;

/* The start byte of user's granule. */
GH_INLINE unsigned gh__start_at(uintptr_t user)
{
	return GH_LOAD(&gh__startmap_at[user >> GH_GRANULE_LG]);
}
GH_INLINE bool gh__start_live(unsigned b)
{
	return (uint8_t)(b - 1) < 0x7f;
}
/* Bit 0 of byte i set when byte i of the 8 start bytes w is a live start. */
GH_INLINE uint64_t gh__starts8_bytes(uint64_t w)
{
	const uint64_t lo7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
	return (((w & lo7) + lo7) & ~w & ~lo7) >> 7; /* bit 7 of each live byte, down */
}
/* Bit i set when byte i of the 8 start bytes w is a live start. */
GH_INLINE unsigned gh__starts8(uint64_t w)
{
	return (unsigned)((gh__starts8_bytes(w) * UINT64_C(0x0102040810204080)) >> 56);
}
/* The number of live starts among them (the bytes summed by one multiply:
 * no popcount instruction in the baseline x86-64, a libgcc call instead). */
GH_INLINE unsigned gh__starts8_count(uint64_t w)
{
	return (unsigned)((gh__starts8_bytes(w) * UINT64_C(0x0101010101010101)) >> 56);
}
/* A request's trailer class entry (size <= gh__trl_max). */
GH_INLINE const struct gh_trl_ent *gh__trl_entry(size_t size)
{
	return &gh__trl_tab[(size + GH_TRL_SIZE + 15) >> 4];
}
GH_INLINE unsigned gh__trl_start_of(size_t size)
{
	return gh__trl_entry(size)->start;
}
GH_INLINE uint64_t *gh__trl_at(uintptr_t user, unsigned start)
{
	return (uint64_t *)(user + gh__start_cls[start] - GH_TRL_SIZE);
}

/* One block's metadata, decoded from either layout. */
struct gh_meta {
	size_t size;
	gh_type_t type;
	uint32_t site_word; /* the site id, or the stack id when traced */
	bool traced, ignored, large;
	unsigned align_lg;
};

/* Decodes the block at user whose start byte is `start` (live or freed);
 * returns whether its check byte says live. A racy read: the caller
 * validates (the start byte again, or a stopped world). */
GH_INLINE bool gh__meta_decode(uintptr_t user, unsigned start, struct gh_meta *m)
{
	unsigned s = start & ~GH_START_FREED;
	if (s != GH_START_HDR) {
		uint64_t w = GH_LOAD(gh__trl_at(user, s));
		m->size = GH_TRL_SIZE_OF(w);
		m->site_word = GH_TRL_FIELD(w, GH_TRL_SITE_SHIFT, GH_TRL_SITE_BITS);
		m->type = GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS);
		m->traced = (w & GH_TRL_CHECK_MASK) == GH_STATE_LIVE_TRACED;
		m->ignored = (w & GH_TRL_IGNORED) != 0;
		m->large = false;
		m->align_lg = 0;
		return (w & GH_TRL_CHECK_MASK) == GH_STATE_LIVE || m->traced;
	}
	const struct gh_hdr *h = gh__hdr_of(user);
	uint64_t meta = GH_LOAD(&h->meta);
	m->size = gh__hdr_size(meta);
	m->site_word = GH_LOAD(&h->site);
	m->type = GH_LOAD(&h->type);
	m->traced = (meta & GH_FLAG_TRACED) != 0;
	m->ignored = (meta & GH_FLAG_IGNORED) != 0;
	m->large = (meta & GH_FLAG_LARGE) != 0;
	m->align_lg = (unsigned)(meta >> GH_ALIGN_SHIFT) & 63;
	return (meta >> GH_CHECK_SHIFT) == GH_STATE_LIVE;
}
/* The live block starting exactly at user: its start byte, or 0 (m
 * untouched or partly written) when no live block starts there. Never
 * faults. */
GH_INLINE unsigned gh__meta_live(uintptr_t user, struct gh_meta *m)
{
	if (!gh__cage_contains(user) || (user & 15) != 0)
		return 0;
	unsigned b = gh__start_at(user);
	return gh__start_live(b) && gh__meta_decode(user, b, m) ? b : 0;
}
/* The site id of a block, traced or not. */
GH_INLINE uint32_t gh__meta_site(const struct gh_meta *m)
{
	return m->traced ? gh__trace_stack_site(m->site_word) : m->site_word;
}
/* The type and (in *size) the size of a live block: the marker's common
 * read, without the rest of the decoding. Metadata a program overwrote
 * (an overflow) still gives a type the counters' arrays hold and a size
 * inside the block's class. */
GH_INLINE gh_type_t gh__obj_type_size(uintptr_t user, unsigned start, size_t *size)
{
	if (start != GH_START_HDR) {
		uint64_t w = GH_LOAD(gh__trl_at(user, start));
		size_t s = GH_TRL_SIZE_OF(w), max = gh__start_cls[start] - GH_TRL_SIZE;
		*size = s <= max ? s : max;
		gh_type_t t = GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS);
		return t <= GH_TYPES_MAX ? t : GH_TYPE_NONE;
	}
	const struct gh_hdr *h = gh__hdr_of(user);
	*size = gh__hdr_size(GH_LOAD(&h->meta));
	return GH_LOAD(&h->type);
}
/* The size of a live block. */
GH_INLINE size_t gh__obj_size(uintptr_t user, unsigned start)
{
	size_t size;
	(void)gh__obj_type_size(user, start, &size);
	return size;
}

/* Allocation entry points used by the shim and the typed API. ra is the
 * caller's return address (interned to a site). They return NULL with
 * errno = ENOMEM on failure. */
void *gh__alloc(size_t size, gh_type_t type, uintptr_t ra, bool zero);
void *gh__alloc_aligned(size_t align, size_t size, gh_type_t type, uintptr_t ra);
/* type GH_TYPE_NONE keeps the object's type. */
void *gh__realloc(void *p, size_t size, gh_type_t type, uintptr_t ra, const char *op);
/* shim.c, for operator new (shim_cxx.cc): an untyped new's allocation, and
 * the calling thread's scope type. */
void *gh__alloc_new(size_t size, uintptr_t ra);
gh_type_t gh__scope_type(void);
void gh__free(void *p, const char *op);
size_t gh__usable_size(const void *p);

/* Everything the inline fast paths below do not handle (calloc, large and
 * aligned blocks, tracing, threads not set up, misuse). */
void *gh__alloc_general(size_t size, gh_type_t type, uintptr_t ra, bool zero);
void gh__free_general(void *p, const char *op);
/* The fast path's class 0 (heap.c): tracing's frees, else gh__free_general.
 * g and start: p's granule and start byte. */
void gh__free_no_cls(void *p, const char *op, size_t g, unsigned start);
/* A block leaving the ring whose trailer is not "live, untraced": a traced
 * block, or metadata overwritten since it was allocated (heap.c). */
void gh__free_pended_odd(uintptr_t u, unsigned start);
extern _Atomic int gh__trace_on GH_HIDDEN;
/* The class table free's fast path reads by start byte: gh__start_cls, or
 * while tracing is on a table of zeros, which sends every free to
 * gh__free_no_cls (tracing's accounts follow each free at once: no ring)
 * without a test of its own on the fast path. Switched by
 * gh__free_fast_tracing; a free that read the table just before a switch
 * takes the path it chose then (the ring's reader sees a traced block
 * leave it: gh__free_pended_odd). */
extern const uint16_t *_Atomic gh__free_cls GH_HIDDEN;
void gh__free_fast_tracing(bool on);


/* Collection (mark.c): unpublishes the live block at user as if freed --
 * start byte, check byte, page map, counters (into c, or the global
 * shard when NULL), trace stack -- with plain stores only, so that it can
 * run while the world is stopped. Returns its size. The memory stays
 * allocated in jemalloc until gh__heap_release_unpublished(user). */
struct gh_ctr;
size_t gh__heap_unpublish(uintptr_t user, struct gh_ctr *c);
void gh__heap_release_unpublished(uintptr_t user);

/* gh_retag's and gh_ignore_object's writes to the live block starting at
 * user: false (nothing changed) when none does. Retag gives the old type
 * and the size. */
bool gh__heap_retag(uintptr_t user, gh_type_t type, gh_type_t *old, size_t *size);
bool gh__heap_ignore(uintptr_t user);

/* The live allocation containing addr (interior pointers included), or 0.
 * Never faults. Never allocates. Safe while the world is stopped. */
uintptr_t gh__heap_lookup(uintptr_t addr);
/* Calls fn(user, meta, arg) for every live allocation, in address order,
 * until fn returns false. Concurrent allocation may be seen or missed;
 * each reported object was live when its metadata was read. */
typedef bool (*gh_heap_visit_fn)(uintptr_t user, const struct gh_meta *m, void *arg);
void gh__heap_enumerate(gh_heap_visit_fn fn, void *arg);
/* Checks the heap's metadata (the level-2 validator): every live start has
 * a live header of a registered type, live blocks do not overlap or run past
 * the cage, large blocks own their page-map entries, and with counters
 * (only when no thread allocates) the per-type live counters equal what the
 * heap holds. Logs the first problems; returns how many. Never allocates
 * (mmap for the counters' table), so it may run while the world is stopped. */
size_t gh__heap_validate(bool counters);

/* Binds the calling thread to the next cage arena (round robin). */
void gh__heap_bind_arena(void);

/* Lazily initializes glassheap (first malloc); true when ready. */
bool gh__init(void);

/* ==== types.c: type registry, scopes and per-thread counter shards ========= */

/* Arrays indexed by type id: ids run 1..GH_TYPES_MAX (0 is GH_TYPE_NONE). */
#define GH_TYPE_IDS (GH_TYPES_MAX + 1)

/* One type's counters in one shard. Only the owning thread writes a live
 * shard (relaxed stores); readers sum every shard under the shard lock.
 * The live count is derived: allocs - frees + moved, where moved counts
 * retags in and out, so malloc and free each update two words. */
struct gh_ctr {
	int64_t allocs;
	int64_t frees;
	int64_t live_bytes;
	int64_t moved;
};

/*
 * The calling thread's state on the malloc/free path, in one thread-local
 * block: a shared library reaches each initial-exec TLS variable through a
 * GOT load of its offset, so one block costs one such load per call where
 * separate variables cost one each. Only the owning thread writes it.
 */
/* A thread's site cache: the sites its fast path interned last,
 * direct-mapped by bits 4..8 of the return address (gh__site_slot): the
 * address, and the id in the trailer's site field with the live state
 * byte. A key never matches an empty entry: return addresses are never 0
 * (gh__site_epoch says how a change empties them). It lies in the thread's shard
 * (types.c) right before the counters, GH_SITE_CACHE entries below
 * gh__tl.ctr: the fast path reaches both from the one pointer. */
#define GH_SITE_CACHE 32 /* a power of two */
struct gh_site_cache {
	uintptr_t key;
	uint64_t word;
};
struct gh_tl {
	/* The thread's counter array (types.c), NULL until the thread is set
	 * up and again once it has exited (counts then go to the atomic global
	 * shard). */
	struct gh_ctr *ctr;
	/* malloc's fast path serves sizes below this (gh__tl_refresh): 0 until
	 * the thread is set up, and while it is inside gh_leak_disable(). */
	size_t fast_lim;
	/* free's fast path serves granule indexes below this: the cage's
	 * granules (gh__cage_granules) once the thread is set up, else 0. */
	size_t free_lim;
	/* The type untyped allocations of this thread are counted under (0: none). */
	gh_type_t scope_type;
	/* What malloc's fast path counts under: scope_type, or GH_TYPE_MALLOC
	 * when none, shifted to its trailer field (kept by the scopes; read only
	 * while fast_lim is set): the trailer takes it as it is and the
	 * counters' offset comes from it by one shift (gh__ctr_of_bits). */
	uint64_t malloc_tbits;
	/* The same for untyped operator new (GH_TYPE_NEW when no scope). */
	uint64_t new_tbits;
	/* This thread's gh_leak_disable() depth (leak.c): while nonzero its
	 * allocations take the general path, which marks them GH_FLAG_IGNORED
	 * (other threads keep the fast path). */
	int leak_off;
};
extern GH_TLS struct gh_tl gh__tl GH_HIDDEN;

/* The thread's scope type t (0: none), and with it what malloc counts under. */
GH_INLINE void gh__tl_set_scope(gh_type_t t)
{
	gh__tl.scope_type = t;
	gh__tl.malloc_tbits = (uint64_t)(t ? t : GH_TYPE_MALLOC) << GH_TRL_TYPE_SHIFT;
	gh__tl.new_tbits = (uint64_t)(t ? t : GH_TYPE_NEW) << GH_TRL_TYPE_SHIFT;
}

void gh__types_init(void);
/* Sets up the calling thread (binds its arena, gives it a shard). Returns
 * its counters, or NULL when the thread cannot have a shard (exiting, or
 * inside its own set-up): then use gh__count_global. */
struct gh_ctr *gh__thread_setup(void);
/* Moves one live allocation's count from type `from` to type `to`. */
void gh__count_retag(gh_type_t from, gh_type_t to, size_t size);
/* Counting for threads without a shard (atomic). */
void gh__count_global(gh_type_t type, int64_t dallocs, int64_t dfrees, int64_t dbytes, int64_t dmoved);
/* Is type a registered id? */
GH_INLINE bool gh__type_valid(gh_type_t type);
extern _Atomic uint32_t gh__ntypes GH_HIDDEN;
GH_INLINE bool gh__type_valid(gh_type_t type)
{
	return type != GH_TYPE_NONE && type <= atomic_load_explicit(&gh__ntypes, memory_order_acquire);
}
void gh__types_atfork_prepare(void);
void gh__types_atfork_parent(void);
void gh__types_atfork_child(void);

/* Adds v to a counter of the calling thread's own shard. On x86-64 one
 * add to memory: only this thread writes the word, and a reader on another
 * thread (GH_LOAD) sees it before or after, never torn -- the relaxed load
 * and store below cost three instructions where this is one. Under
 * ThreadSanitizer the atomic form, which it understands. */
GH_INLINE void gh__ctr_add(int64_t *p, int64_t v)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ volatile("addq %1, %0" : "+m"(*p) : "er"(v));
#else
	GH_STORE(p, GH_LOAD(p) + v);
#endif
}

GH_INLINE void gh__ctr_sub(int64_t *p, int64_t v)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ volatile("subq %1, %0" : "+m"(*p) : "er"(v));
#else
	GH_STORE(p, GH_LOAD(p) - v);
#endif
}

GH_INLINE void gh__ctr_alloc(struct gh_ctr *c, size_t size)
{
	gh__ctr_add(&c->allocs, 1);
	gh__ctr_add(&c->live_bytes, (int64_t)size);
}

GH_INLINE void gh__ctr_free(struct gh_ctr *c, size_t size)
{
	gh__ctr_add(&c->frees, 1);
	gh__ctr_sub(&c->live_bytes, (int64_t)size);
}

/* A realloc that kept the type: one allocation and one free. */
GH_INLINE void gh__ctr_realloc(struct gh_ctr *c, size_t old, size_t size)
{
	gh__ctr_add(&c->allocs, 1);
	gh__ctr_add(&c->frees, 1);
	gh__ctr_add(&c->live_bytes, (int64_t)size - (int64_t)old);
}

/* ==== sites.c: call sites ================================================== */

/* Interns a return address to a 32-bit site id (0 = unknown). Lock-free,
 * never allocates after gh__sites_init. The lookup of a known site is
 * inline; inserting a new one is gh__site_insert. */
#define GH_SITE_SLOTS ((size_t)1 << GH_SITE_LG)
/* GH_SITES_MAX and GH_SITE_OTHER: introspect.h. */
_Static_assert(GH_SITES_MAX == GH_SITE_SLOTS / 2, "the table's load factor stays <= 1/2");
extern _Atomic uintptr_t *gh__site_keys GH_HIDDEN; /* [GH_SITE_SLOTS] addresses, 0 = empty */
extern _Atomic uint32_t *gh__site_ids GH_HIDDEN;   /* [GH_SITE_SLOTS] */
uint32_t gh__site_insert(uintptr_t ra, size_t slot);
/* The id of ra when the table holds it published (the inline hit), else 0
 * (absent; 0: not yet published; GH_SITE_WRAP: a wrapper's, resolved to its
 * caller by gh__site_insert); *slot: the probe's start for gh__site_insert. */
GH_INLINE uint32_t gh__site_hit(uintptr_t ra, size_t *slot)
{
	size_t i = (size_t)((ra * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - GH_SITE_LG));
	_Atomic uintptr_t *keys = gh__site_keys;
	*slot = i;
	if (gh_likely(keys != NULL) &&
	    gh_likely(atomic_load_explicit(&keys[i], memory_order_acquire) == ra)) {
		uint32_t id = atomic_load_explicit(&gh__site_ids[i], memory_order_acquire);
		if (gh_likely((int32_t)id > 0))
			return id;
	}
	return 0;
}
GH_INLINE uint32_t gh__site_intern(uintptr_t ra)
{
	size_t i;
	uint32_t id = gh__site_hit(ra, &i);
	return gh_likely(id != 0) ? id : gh__site_insert(ra, i);
}
/* A relaxed load that the compiler may fold into the instruction using it
 * (a compare with a memory operand, where an atomic load is a separate
 * move), for the fast paths' checks of words other threads write only
 * under misuse or rarely (the start byte of the block being freed, the
 * header's top bits, the tracing switch): a plain aligned load, which x86-64
 * never tears. GH_LOAD under ThreadSanitizer. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define GH_PEEK(p) (*(p))
#else
#define GH_PEEK(p) GH_LOAD(p)
#endif

/*
 * The site caches' epoch (sites.c). It changes when the ids in the table
 * change (gh__sites_reclassify) and when tracing starts (gh__sites_forget),
 * and every thread's cache is then emptied (gh__site_caches_clear): while
 * tracing is on no entry is filled, so every allocation misses and the miss
 * takes the traced path -- malloc tests nothing else for tracing. A hit is
 * the return address compared with the entry's key, nothing global.
 *
 * A miss that fills an entry races with a change: it read the epoch first
 * (acquire: the ids and the tracing switch it then reads are at least that
 * recent), stores the entry, and after a full fence reads the epoch again;
 * if it moved, it empties the entry itself. Otherwise the change's
 * increment comes after the fence in the total order, and the clearing
 * that follows it empties the entry. Either way no entry outlives a
 * change. Misses are rare (0.2% of gcc's allocations), the fence with them.
 */
extern _Atomic uint64_t gh__site_epoch GH_HIDDEN;
void gh__sites_forget(void);
/* Clears every shard's site cache (types.c; takes the shard lock). */
void gh__site_caches_clear(void);
/* The calling thread's site cache. Only an inline hit of the table
 * (gh__site_hit) is cached: a plain id, never 0, a wrapper's slot or
 * GH_SITE_OTHER, which are decided or counted per call; and only while
 * tracing is off (heap.c's gh__alloc_fast_miss). The entry is chosen by
 * bits 4..8 of the address (call sites of a loop are rarely within 16
 * bytes of each other): one mask gives the entry's byte offset; 0 is an
 * empty key. */
_Static_assert(sizeof(struct gh_site_cache) == 16, "one entry per 16 bytes of return address");
GH_INLINE size_t gh__site_slot(uintptr_t ra)
{
	return (ra & ((GH_SITE_CACHE - 1) * sizeof(struct gh_site_cache))) / sizeof(struct gh_site_cache);
}
/* The thread's cache (only while gh__tl.ctr is set). */
GH_INLINE struct gh_site_cache *gh__site_cache(struct gh_ctr *c)
{
	return (struct gh_site_cache *)(void *)c - GH_SITE_CACHE;
}

/*
 * A thread's free blocks, per trailer class: the last few small blocks its
 * free unpublished, which its malloc hands out again without a call into
 * jemalloc (whose public entry points cost ~30 instructions each way: the
 * thread's state, the class lookup, its event counters, then its own
 * cache). A block here is free to glassheap (its start byte says so: the
 * marker, the walkers and a second free see a freed block) and allocated
 * to jemalloc. The pointers are kept here, never inside the blocks, so a
 * write after free cannot reach them. The bins lie in the thread's shard
 * right before its site cache (types.c), stay with the shard when its
 * thread exits (the next thread takes both), and a fork's child returns
 * the bins of the threads it lost (gh__bins_release). cap is the class's
 * limit (gh__bins_init): 15 blocks up to 256 bytes, 4 up to 1 KiB, none
 * above -- at most ~47 KiB per thread, which jemalloc sees as allocated.
 */
#define GH_BIN_CAP 15
struct gh_bin {
	uint32_t n;   /* blocks held, slot[0..n) */
	uint32_t cap; /* the class's limit (0: not cached) */
	char *slot[GH_BIN_CAP];
};
_Static_assert(sizeof(struct gh_bin) == 128, "a bin is found by a shift of its start byte");
/* The bin of the trailer class whose start byte is start (live value). */
GH_INLINE struct gh_bin *gh__bin(struct gh_ctr *c, unsigned start)
{
	/* the constants fold into one displacement: one shift, one add */
	uintptr_t before_first = (uintptr_t)gh__site_cache(c) - (GH_TRL_CLASSES + GH_START_TRL0) * sizeof(struct gh_bin);
	return (struct gh_bin *)(before_first + (uintptr_t)start * sizeof(struct gh_bin));
}
/*
 * Frees behind (the free fast path, below): the last GH_PEND blocks this
 * thread freed whose trailers free has not read yet. free(p) checks p's
 * start byte and unpublishes it at once -- from then on every reader sees
 * p freed, and a second free of p is a double free -- then prefetches p's
 * trailer and reads the trailer of the block GH_PEND frees back, whose line
 * has arrived meanwhile: its type and size are counted and it goes to the
 * bin or to jemalloc only then. The trailer of a block the program did not
 * touch before freeing it is a cache miss (it lies at the block's end);
 * this way the miss overlaps the program's own work.
 *
 * The counters therefore count a block in the ring as live until it leaves
 * it; their readers (types.c) subtract the ring's blocks. seq is odd while
 * the owner changes the ring and counts the block that leaves it, so a
 * reader that saw the same even seq before and after reading a block's
 * trailer read a block still in the ring (not yet given back, its trailer
 * unchanged). The ring lies in the thread's shard right before its bins;
 * it is emptied when the thread exits (gh__free_drain) and, for the threads
 * a fork's child lost, by the child. Only the owner writes it.
 */
/* Readers of state other threads write without ordering it for them (start
 * bytes, trailers, a ring of frees): the value read is validated after
 * (heap.c's lookup, types.c's ring), so ThreadSanitizer must not
 * instrument them. */
#define GH_RACY_READER __attribute__((no_sanitize("thread")))
/* A spin-wait's pause. */
GH_INLINE void gh__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}
#define GH_PEND 4 /* a power of two */
struct gh_pend {
	uintptr_t u[GH_PEND];     /* 0: empty */
	/* Two steps per block that enters or leaves: the slot the next free
	 * takes (the oldest) is gh__pend_next. */
	uint64_t seq;
	uint8_t start[GH_PEND];   /* the blocks' live start bytes */
	uint8_t pad[128 - 8 - GH_PEND * sizeof(uintptr_t) - GH_PEND];
};
_Static_assert(sizeof(struct gh_pend) == 128, "the ring is two cache lines of its own");
GH_INLINE unsigned gh__pend_next(const struct gh_pend *pd)
{
	return (unsigned)(pd->seq >> 1) & (GH_PEND - 1);
}
GH_INLINE struct gh_pend *gh__pend(struct gh_ctr *c)
{
	return (struct gh_pend *)((uintptr_t)gh__site_cache(c) - GH_TRL_CLASSES * sizeof(struct gh_bin) -
				  sizeof(struct gh_pend));
}
/* Counts and gives back every block in the calling thread's ring. */
void gh__free_drain(void);
/* Counts and gives back the blocks in another thread's ring, into c (a
 * fork's child, for the threads it lost: no thread cache). */
void gh__free_drain_lost(struct gh_ctr *c);
/* Sets a new shard's limits (heap.c; after the classes are known). */
void gh__bins_init(struct gh_bin *bins);
/* Gives every block of these bins back to jemalloc (no thread cache). */
void gh__bins_release(struct gh_bin *bins);
/* Sites interned so far (ids 1..n; GH_SITE_OTHER is not counted). */
uint32_t gh__site_count(void);
/* Allocations attributed to GH_SITE_OTHER since start (table full). */
uint64_t gh__site_other_count(void);
void gh__sites_init(void);
/* Unmaps the tables (initialization failed); interning then answers 0. */
void gh__sites_release(void);
void gh__sites_atfork_prepare(void);
void gh__sites_atfork_parent(void);
void gh__sites_atfork_child(void);
/* Blame the caller (wrappers.c decides what is a wrapper): set in a slot's id
 * when its address lies in an allocation wrapper; never part of an id. */
#define GH_SITE_WRAP UINT32_C(0x80000000)
/* The id of any return address (interned if new), a wrapper's own included:
 * for addresses that are not the current allocation's (a traced stack's
 * first frame). */
uint32_t gh__site_id(uintptr_t ra);
/* The number of leading frames of f[0..n) that lie in wrappers (at most n - 1). */
unsigned gh__site_skip_wrappers(const uintptr_t *f, unsigned n);
/* Is ra (interned with its classification) a wrapper's address? */
bool gh__site_is_wrapper(uintptr_t ra);
/* After the wrapper list changed (gh_wrapper_add). */
void gh__sites_reclassify(void);

/* ==== wrappers.c: allocation wrappers ========================================= */

/* Reads GLASSHEAP_WRAPPERS (from gh__sites_init; no allocation). */
void gh__wrappers_init(void);
/* Is the return address ra in a wrapper's code? Inside malloc: no allocation. */
bool gh__wrap_contains(uintptr_t ra);
void gh__wrappers_atfork_prepare(void);
void gh__wrappers_atfork_parent(void);
void gh__wrappers_atfork_child(void);

/* ==== world.c: stopping and resuming every thread ============================ */

/* How a stop reaches the threads (GLASSHEAP_STOP=auto|ptrace|signal). */
enum gh_stop_method { GH_STOP_AUTO, GH_STOP_PTRACE, GH_STOP_SIGNAL };

enum { GH_SLOT_SIGNAL, GH_SLOT_SENT, GH_SLOT_RETRY, GH_SLOT_STOPPED, GH_SLOT_GONE };

/* How a thread in state GH_SLOT_STOPPED was stopped. */
enum {
	GH_HELD_SIGNAL = 1, /* parked in the stop signal's handler: registers known */
	GH_HELD_PTRACE,     /* in a ptrace stop: registers known */
	GH_HELD_BLOCKED     /* not stopped: it blocks the stop signal and sleeps in a
	                       futex wait without timeout, which no running thread can
	                       end; stack pointer known (/proc), registers not */
};

#define GH_WORLD_NREGS 27 /* general registers kept per thread (user_regs_struct) */
/* Words of a thread's vector registers (x87/MMX, xmm, ymm, zmm) that point
 * into the heap: memmove, memcpy and compiler-vectorized copies hold
 * pointers there only (an overlapping memmove keeps its first vector's
 * words in a register while its loop overwrites them in memory). */
#define GH_WORLD_NVWORDS 64

/* One thread of a stop: filled by the requester (tid), the handler or the tracer. */
struct gh_thread_slot {
	pid_t tid;
	_Atomic int state;
	int held;            /* GH_HELD_*, once stopped */
	int pending_sig;     /* ptrace: a signal the stop intercepted, delivered at resume */
	uint64_t sent_ns;
	uint64_t probe_ns;   /* last look at /proc for a thread slow to stop */
	uintptr_t sp;        /* interrupted stack pointer */
	uintptr_t tp;        /* thread pointer (TCB / static TLS end); 0 if unknown */
	uintptr_t pc;
	unsigned nregs;
	uintptr_t regs[GH_WORLD_NREGS]; /* interrupted general registers */
	unsigned nvwords;
	bool vwords_over;    /* more than GH_WORLD_NVWORDS, or unreadable: the pass frees nothing */
	uintptr_t vwords[GH_WORLD_NVWORDS];
	uint64_t switches;   /* GH_HELD_BLOCKED: context switches when parked */
};

struct gh_range {
	uintptr_t lo, hi;
};

/* The index of the first of v[n] (sorted, disjoint) ending above addr. */
static inline size_t gh__range_above(const struct gh_range *v, size_t n, uintptr_t addr)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (v[m].hi <= addr)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

struct gh_world {
	struct gh_thread_slot *slots; /* [cap], prepared */
	size_t cap;                   /* slots mapped: the kernel's threads-max */
	_Atomic int nslots;
	_Atomic uint32_t stop_epoch;
	char *maps_buf;               /* raw /proc/self/maps */
	size_t maps_cap;
	struct gh_range *ranges;      /* readable mappings, sorted */
	size_t nranges, ranges_cap;
	struct gh_range main_stack;   /* the [stack] mapping, from the last read */
	uint64_t timeout_ns;
	enum gh_stop_method method;   /* the method of the last successful stop */
	int nblocked;                 /* threads held GH_HELD_BLOCKED in the last stop */
};
extern struct gh_world gh__world GH_HIDDEN;

/* The first thread slot after index i (start from -1) in state, or -1:
 *   for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;) */
static inline int gh__world_slot_next(int i, int state)
{
	int ns = atomic_load(&gh__world.nslots);
	while (++i < ns)
		if (atomic_load(&gh__world.slots[i].state) == state)
			return i;
	return -1;
}

/* waits.c: the blocking call a thread is in, noted by glassheap's wrappers
 * (epoll_wait, epoll_pwait, sigtimedwait, semtimedop) so that the tracer
 * can restart it with its remaining time after a stop ended it early. */
struct gh_wait_rec {
	int active;                /* set while the call runs (release) */
	long nr;                   /* its system call number */
	long timeout_ms;           /* epoll: milliseconds, < 0 none */
	bool has_timeout;          /* sigtimedwait, semtimedop: timeout given */
	struct timespec timeout;   /* ... and its value (relative) */
	uint64_t start_ns;         /* CLOCK_MONOTONIC at the call */
	struct timespec remaining; /* the tracer's: what the restarted call waits */
};
extern GH_TLS struct gh_wait_rec gh__tl_wait GH_HIDDEN;

/* Nonzero while the thread is inside an allocator window that a stop must
 * not observe (realloc rewriting a header in place). A window holds no lock
 * and calls nothing that may wait: its thread must reach the end quickly. */
extern GH_TLS int gh__tl_stop_window GH_HIDDEN;

/* Takes the world lock (one stop at a time), installs the signal handler
 * and prepares the slot and map buffers. May allocate metadata. Returns 0
 * or an errno; on success gh__world_finish must follow. */
int gh__world_prepare(void);
void gh__world_finish(void);
/* Reads /proc/self/maps into the prepared buffer (no allocation). Returns
 * 0, or E2BIG when the map does not fit (the pass must not go on: a stack
 * it cannot bound would be missed). */
int gh__world_read_maps(void);
/* The readable mapping holding addr, from the last gh__world_read_maps. */
/* The index of the first readable mapping (gh__world.ranges) ending above
 * addr; nranges when none. */
size_t gh__world_range_above(uintptr_t addr);
bool gh__world_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);
/* Stops every other thread; 0, or ETIMEDOUT (*unresponsive = its tid) /
 * EIO / E2BIG (more threads than slots), with every thread running again.
 * Must not allocate. */
int gh__world_stop(pid_t *unresponsive);
void gh__world_resume(void);
uint64_t gh__now_ns(void);
/* "ptrace" or "signal": the method of the last stop. */
const char *gh__world_method_name(void);
/* Test hook: stops leave thread tid alone (not signalled, not scanned); 0
 * restores the default. For a sanitizer runtime's own thread, which blocks
 * every signal and never touches the heap (TSan's background thread). */
void gh__world_ignore_thread(pid_t tid);
/* Threads no stop touches: the marker's helpers (mark.c). */
void gh__world_exempt_add(pid_t tid);
void gh__world_exempt_clear(void);
/* Test hook: the method of the next stops (overrides GLASSHEAP_STOP). */
void gh__world_set_method(enum gh_stop_method m);
void gh__world_atfork_prepare(void);
void gh__world_atfork_parent(void);
void gh__world_atfork_child(void);

#define GH_LEAK_OFFSETS_MAX 16
/* The heuristics in use (1 << GH_HEUR_*: GLASSHEAP_LEAK_HEURISTICS, default
 * all) and the declared offsets (GLASSHEAP_LEAK_OFFSETS and
 * gh_leak_interior_offset); leak.c. Returns the number of offsets. */
size_t gh__leak_heuristics(unsigned *on, uint32_t offsets[GH_LEAK_OFFSETS_MAX]);

/* mark.c's fork handlers (heap.c's atfork calls them). */
void gh__mark_atfork_prepare(void);
void gh__mark_atfork_parent(void);
void gh__mark_atfork_child(void);

/* ==== private jemalloc (renamed, see cmake/rename_jemalloc.sh) ============= */

void *ghje_malloc(size_t size);
void *ghje_calloc(size_t n, size_t size);
void *ghje_realloc(void *p, size_t size);
void ghje_free(void *p);
int ghje_posix_memalign(void **out, size_t align, size_t size);
void *ghje_mallocx(size_t size, int flags);
void ghje_dallocx(void *p, int flags);
void ghje_sdallocx(void *p, size_t size, int flags);
/* sdallocx(p, size, 0) without the flags' tests (jemalloc 5.3's
 * je_sdallocx_noflags; Debian's archive names it je_je_...). */
void ghje_je_je_sdallocx_noflags(void *p, size_t size);
size_t ghje_sallocx(const void *p, int flags);
size_t ghje_xallocx(void *p, size_t size, size_t extra, int flags);
size_t ghje_nallocx(size_t size, int flags);
size_t ghje_malloc_usable_size(const void *p);
int ghje_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

#define GHJE_MALLOCX_LG_ALIGN(la) ((int)(la))
#define GHJE_MALLOCX_ZERO ((int)0x40)
#define GHJE_MALLOCX_TCACHE_NONE ((int)((-1 + 2) << 8))
#define GHJE_MALLOCX_ARENA(a) ((int)(((unsigned)(a) + 1) << 20))

/* ==== leak.c: exit-time leak check, suppressions, ignored objects ============= */

/* Called from heap.c's constructor: GLASSHEAP_LEAK_CHECK=exit registers the
 * check at exit (atexit, as early as possible: it runs after the program's
 * own atexit handlers and static destructors). */
void gh__leak_init(void);

/* ==== heap.c: the inline fast paths (used by the shim and gh__alloc/gh__free) ===== */

typedef uint16_t gh_u16_alias __attribute__((may_alias));

/* The cage's size in 16-byte granules (0 until the heap is ready). */
extern size_t gh__cage_granules GH_HIDDEN;

/* Recomputes gh__tl.fast_lim after the thread's shard or its leak-check
 * depth changed: sizes with a trailer (up to gh__trl_max) take the fast
 * path when the thread is set up and its leak checks are on. */
GH_INLINE void gh__tl_refresh(void)
{
	bool fast = gh__tl.ctr != NULL && gh__tl.leak_off == 0;
	gh__tl.fast_lim = fast ? gh__trl_max + 1 : 0;
	gh__tl.free_lim = gh__tl.ctr != NULL ? gh__cage_granules : 0;
	gh__tl_set_scope(gh__tl.scope_type);
}

/*
 * The fast path of an allocation: a small, uninitialized block on a thread
 * that is set up, with its leak checks on. The block comes from the
 * thread's bin of its class (gh__alloc_fast_bin), else from jemalloc in a
 * tail-called refill (gh__alloc_fast_refill, calloc's too), so malloc's
 * common case makes no call at all. Then the second
 * half (gh__alloc_fast_finish) writes the trailer and publishes the start.
 * Anything else, and a failed jemalloc call (the general path tries again
 * and sets errno), goes to gh__alloc_general. Tracing is seen in the
 * second half: its start empties the site caches (gh__site_epoch), and a
 * miss with tracing on takes the traced path.
 */
GH_INLINE bool gh__alloc_fast_ok(size_t size)
{
	return gh_likely(size < gh__tl.fast_lim);
}

/* What the fast path asks jemalloc for: the request and its trailer,
 * rounded up to 16 (the smallest class, 8 bytes, is not 16-byte aligned;
 * the rounding never changes the class, all others being multiples of 16). */
GH_INLINE size_t gh__trl_request(size_t size)
{
	return (size + GH_TRL_SIZE + 15) & ~(size_t)15;
}

/* The thread's counters of the type whose trailer field is tbits (only the
 * type's bits set): the field's shift is the array's index scaled. */
_Static_assert(sizeof(struct gh_ctr) == 32, "gh__ctr_of_bits scales by 32");
GH_INLINE struct gh_ctr *gh__ctr_of_bits(struct gh_ctr *c, uint64_t tbits)
{
	return (struct gh_ctr *)(void *)((char *)c + (tbits >> (GH_TRL_TYPE_SHIFT - 5)));
}

/* The second half for a site the thread's cache does not hold, and while
 * tracing is on (heap.c). tbits: the type in its trailer field. */
void *gh__alloc_fast_miss(char *raw, size_t size, uint64_t tbits, uintptr_t ra);

/* site_bits: the site in its field and the live state (the cache's word). */
GH_INLINE void *gh__alloc_fast_publish(struct gh_ctr *c, char *raw, size_t size, uint64_t tbits, uint64_t site_bits)
{
	uintptr_t user = (uintptr_t)raw;
	struct gh_ctr *ctr = gh__ctr_of_bits(c, tbits);
	const struct gh_trl_ent *e = gh__trl_entry(size);
	uint64_t *t = (uint64_t *)(user + e->cls - GH_TRL_SIZE);
	GH_STORE(t, ((uint64_t)size << GH_TRL_SIZE_SHIFT) | tbits | site_bits);
	/* jemalloc handed out a block nobody has published */
	gh_assert(gh__cage_contains(user) && !gh__start_live(gh__start_at(user)));
	__atomic_store_n(&gh__startmap_at[user >> GH_GRANULE_LG], e->start, __ATOMIC_RELEASE);
	gh__ctr_alloc(ctr, size);
	return (void *)user;
}

/* No call but the miss's tail call: nothing else lives across a call.
 * c: the thread's counters (gh__tl.ctr). */
GH_INLINE void *gh__alloc_fast_finish(struct gh_ctr *c, char *raw, size_t size, uint64_t tbits, uintptr_t ra)
{
	const struct gh_site_cache *e = &gh__site_cache(c)[gh__site_slot(ra)];
	uint64_t word = e->word;
	if (gh_unlikely(GH_PEEK(&e->key) != ra))
		return gh__alloc_fast_miss(raw, size, tbits, ra);
	return gh__alloc_fast_publish(c, raw, size, tbits, word);
}

/* The fast path with a block from jemalloc (heap.c): malloc's with an
 * empty bin, and calloc's (zero: jemalloc's calloc). */
void *gh__alloc_fast_refill(size_t size, uint64_t tbits, uintptr_t ra, bool zero);

/* The fast path for a size that passed gh__alloc_fast_ok: the thread's
 * bin, else jemalloc. tbits: the type in its trailer field. */
GH_INLINE void *gh__alloc_fast_bin(size_t size, uint64_t tbits, uintptr_t ra)
{
	struct gh_ctr *c = gh__tl.ctr;
	struct gh_bin *b = gh__bin(c, gh__trl_entry(size)->start);
	uint32_t n = b->n;
	if (gh_unlikely(n == 0))
		return gh__alloc_fast_refill(size, tbits, ra, false);
	b->n = --n;
	return gh__alloc_fast_finish(c, b->slot[n], size, tbits, ra);
}

GH_INLINE void *gh__alloc_fast(size_t size, gh_type_t type, uintptr_t ra, bool zero)
{
	if (gh_unlikely(zero || !gh__alloc_fast_ok(size)))
		return gh__alloc_general(size, type, ra, zero);
	return gh__alloc_fast_bin(size, (uint64_t)type << GH_TRL_TYPE_SHIFT, ra);
}

/* The second half of a free, for a block whose start byte is already
 * unpublished and whose trailer t says live: the trailer's state, the
 * counters, then the thread's bin or jemalloc. */
GH_INLINE void gh__free_count(struct gh_ctr *c, uint64_t *t, uint64_t w)
{
	size_t size = GH_TRL_SIZE_OF(w);
	gh_type_t type = GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS);
	gh_assert(type < GH_TYPE_IDS);
	/* The check byte alone says freed: the rest of the word stays for a
	 * double free's report. */
	GH_STORE((uint8_t *)t, (uint8_t)GH_STATE_FREED);
	gh__ctr_free(&c[type], size);
}
GH_INLINE void gh__free_release(struct gh_ctr *c, uintptr_t u, unsigned start, size_t cls)
{
	/* Kept for this thread's next malloc of the class while its bin has room. */
	struct gh_bin *b = gh__bin(c, start);
	uint32_t n = b->n;
	if (gh_likely(n < b->cap)) {
		b->slot[n] = (char *)u;
		/* slot before count, for the compiler too: a fork's child gives
		 * back slot[0..n) of the bins of the threads it lost, and sees a
		 * prefix of their stores */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		b->n = n + 1;
		return;
	}
	/* The class saves jemalloc its radix-tree lookup (a cache miss per free
	 * on large heaps). jemalloc 5.3 sends page-aligned pointers given with a
	 * size down its slow path (they could be profiling samples): those go
	 * through plain free, whose fast path does the lookup instead. */
	if (gh_likely((u & 4095) != 0))
		ghje_je_je_sdallocx_noflags((void *)u, cls);
	else
		ghje_free((void *)u);
}
/* Sets the freed bit of a live start byte in place: only this thread writes
 * a live block's start byte, so it needs no atomic read-modify-write (x86
 * orders the store before the later ones, jemalloc's included). */
GH_INLINE void gh__start_unpublish(size_t g, unsigned start)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	(void)start;
	__asm__ volatile("orb %1, %0" : "+m"(gh__startmap[g]) : "i"(GH_START_FREED) : "memory");
#else
	__atomic_store_n(&gh__startmap[g], (uint8_t)(start | GH_START_FREED), __ATOMIC_RELEASE);
#endif
}
/* Is w, the trailer of a block of class cls that free is about to count,
 * still a live, untraced word? A stray write may have reached it (while
 * the block waited in the ring, or before it was freed): its type must
 * still be registered and its size fit. */
GH_INLINE bool gh__pend_word_ok(uint64_t w, size_t cls)
{
	return (uint8_t)w == GH_STATE_LIVE && GH_TRL_SIZE_OF(w) + GH_TRL_SIZE <= cls &&
	       gh__type_valid(GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS));
}
/* The ring's sequence number, one step: only the owner writes it. On x86-64
 * one add to memory, ordered with the stores around it by the processor
 * (readers load it with acquire) and by the memory clobber for the compiler. */
GH_INLINE void gh__pend_seq_bump(struct gh_pend *pd)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ volatile("addq $1, %0" : "+m"(pd->seq) : : "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&pd->seq, pd->seq + 1, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * The fast path of free: a live block with a trailer freed by a thread
 * that is set up. The pointer's granule index comes from one rotation: a
 * pointer that is not 16-byte aligned has its low bits rotated to the top
 * and fails the cage's range check with the ones outside it, and the range
 * is empty (gh__tl.free_lim) until the thread is set up. The start byte
 * gives the class (0 for anything but a live trailer block: misuse, a
 * header block, a block already freed all take the general path; 0 for
 * every block while tracing is on, see gh__free_cls). The
 * block is then unpublished and goes into the ring (struct gh_pend); the
 * block it pushes out is counted and given back, unless its trailer is not
 * exactly "live, not traced" (gh__free_pended_odd).
 */
GH_INLINE void gh__free_fast(void *p, const char *op)
{
	uintptr_t u = (uintptr_t)p;
	uintptr_t off = u - gh__cage.base;
	size_t g = (off >> GH_GRANULE_LG) | (off << (64 - GH_GRANULE_LG));
	if (gh_unlikely(g >= gh__tl.free_lim)) {
		gh__free_general(p, op);
		return;
	}
	unsigned start = GH_PEEK(&gh__startmap[g]);
	size_t cls = atomic_load_explicit(&gh__free_cls, memory_order_relaxed)[start];
	if (gh_unlikely(cls == 0)) {
		gh__free_no_cls(p, op, g, start);
		return;
	}
	uint64_t *t = (uint64_t *)(u + cls - GH_TRL_SIZE);
	struct gh_ctr *c = gh__tl.ctr;
	/* Unpublished now (a second free of p is a double free from here on);
	 * counted and given back GH_PEND frees later. */
	gh__start_unpublish(g, start);
	__builtin_prefetch(t, 1);
	struct gh_pend *pd = gh__pend(c);
	unsigned i = gh__pend_next(pd);
	uintptr_t q = pd->u[i];
	unsigned qstart = pd->start[i];
	gh__pend_seq_bump(pd);
	GH_STORE(&pd->u[i], u);
	GH_STORE(&pd->start[i], (uint8_t)start);
	if (q == 0) {
		gh__pend_seq_bump(pd);
		return;
	}
	size_t qcls = gh__start_cls[qstart];
	uint64_t *qt = (uint64_t *)(q + qcls - GH_TRL_SIZE);
	uint64_t w = GH_LOAD(qt);
	if (gh_unlikely(!gh__pend_word_ok(w, qcls))) {
		gh__pend_seq_bump(pd);
		gh__free_pended_odd(q, qstart);
		return;
	}
	gh__free_count(c, qt, w);
	gh__pend_seq_bump(pd);
	gh__free_release(c, q, qstart, qcls);
}

GH_INTERNAL_END

#endif /* GH_INTERNAL_H */
