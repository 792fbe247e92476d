/*
 * heap.c -- the allocator core: every allocation goes through gh__alloc,
 * gh__alloc_aligned, gh__realloc and gh__free.
 *
 * An allocation is a jemalloc block from a cage arena with its metadata in
 * an 8-byte trailer (small blocks) or a 16-byte header in front of the user
 * pointer (the rest; both in internal.h). Three pieces of state describe
 * the live heap, all updated here:
 *   - the metadata: type, site, requested size, a live/freed check byte;
 *   - the object-start byte map: at the granule of every live user pointer,
 *     the block's layout (its trailer class, or "header"), and where a block
 *     was freed the same with the freed bit (plain byte stores, no
 *     read-modify-write on the hot path);
 *   - the page map, for jemalloc "large" blocks only: every page they cover
 *     names their start, so interior lookups stay O(1) however big they are;
 * plus the calling thread's counter shard (types.c), and while tracing is
 * on (trace.c) the block's stack: every allocation then takes the general
 * path, which records it, and a traced block (its site field holding the
 * stack id) always takes the general free path, which releases it, even
 * after tracing stopped.
 *
 * Publication order: the metadata is written before the start byte is set,
 * and the start byte loses its live value before the block goes back to
 * jemalloc, so an enumerator that sees a live start byte reads metadata
 * that was live.
 *
 * Also here: lazy initialization (the first malloc may come before our
 * constructor, from any library), the bootstrap buffer that serves
 * allocations made while initializing, and fork handling.
 */
#include "internal.h"

#include <sys/mman.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

uint8_t *gh__startmap;
uint8_t *gh__startmap_at;
uint32_t *gh__pagemap;
size_t gh__small_max;
size_t gh__cage_granules;
uint16_t gh__start_cls[256];
static const uint16_t no_cls[256];
const uint16_t *_Atomic gh__free_cls = gh__start_cls;
struct gh_trl_ent gh__trl_tab[GH_TRL_CLASS_MAX / 16 + 1];
size_t gh__trl_max;
/* Live blocks with a header (the rest have a trailer): /debug/memory's
 * metadata figure. */
static _Atomic uint64_t hdr_blocks;

_Static_assert(GH_TYPE_IDS <= (1u << GH_TRL_TYPE_BITS), "a type id fits the trailer");
_Static_assert(GH_SITE_OTHER < (1u << GH_TRL_SITE_BITS), "a site id fits the trailer");
_Static_assert(GH_START_TRL0 + GH_TRL_CLASSES < GH_START_FREED, "trailer start bytes are live values");
static _Atomic int init_state; /* ST_NONE, ST_INIT, ST_READY, ST_FAILED */

enum { ST_NONE, ST_INIT, ST_READY, ST_FAILED };

static GH_TLS bool tl_in_init;
static unsigned arena_ids[256];
static unsigned arena_n;
static _Atomic unsigned arena_rr;

/* ---- Bootstrap buffer ----------------------------------------------------
 * Allocations made by the initializing thread while glassheap initializes
 * (pthread_atfork, dlsym and jemalloc's own start-up may call malloc) come
 * from this static buffer. They are never freed; free() ignores them. */
#define BOOT_SIZE ((size_t)256 << 10)
static _Alignas(4096) unsigned char boot_buf[BOOT_SIZE];
static _Atomic size_t boot_top;

static bool is_boot(uintptr_t p)
{
	return p - (uintptr_t)boot_buf < BOOT_SIZE;
}

static void *boot_alloc(size_t size, size_t align, bool zero)
{
	(void)zero; /* static memory is zero and never reused */
	if (align < 16)
		align = 16;
	if (size > BOOT_SIZE)
		goto nomem;
	size_t cur = atomic_load(&boot_top);
	for (;;) {
		size_t user = (cur + 16 + align - 1) & ~(align - 1);
		if (user + size > BOOT_SIZE)
			goto nomem;
		if (atomic_compare_exchange_weak(&boot_top, &cur, user + size)) {
			*(size_t *)(boot_buf + user - 16) = size;
			return boot_buf + user;
		}
	}
nomem:
	errno = ENOMEM;
	return NULL;
}

static size_t boot_size(uintptr_t p)
{
	return *(size_t *)(p - 16);
}

/* ---- Pass-through ----------------------------------------------------------
 * When no cage can be reserved at all (RLIMIT_AS of a few dozen MiB, strict
 * overcommit), glassheap steps aside instead of failing every allocation:
 * the system allocator (the next malloc in the lookup order, glibc's) serves
 * the program, untagged and uncounted, and glassheap says so once. Its
 * functions are looked up during initialization, whose own allocations come
 * from the bootstrap buffer. Nothing ever lives in the (empty) cage then, so
 * a pointer outside the cage and the bootstrap buffer is the system's. */
static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	size_t (*usable_size)(void *);
} sys;
static bool passthrough;

static void passthrough_init(void)
{
	sys.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	sys.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	sys.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	sys.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	sys.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	sys.usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	passthrough = sys.malloc && sys.calloc && sys.realloc && sys.free && sys.posix_memalign && sys.usable_size;
}

/* ---- Start map and page map ---------------------------------------------- */

GH_INLINE size_t granule_of(uintptr_t user)
{
	return (user - gh__cage.base) >> GH_GRANULE_LG;
}

GH_INLINE void start_set(uintptr_t user, uint8_t v)
{
	__atomic_store_n(&gh__startmap_at[user >> GH_GRANULE_LG], v, __ATOMIC_RELEASE);
}

static void pagemap_fill(uintptr_t user, size_t size, uint32_t v)
{
	size_t first = (user - gh__cage.base) >> GH_PAGE_LG;
	size_t last = (user + (size ? size : 1) - 1 - gh__cage.base) >> GH_PAGE_LG;
	for (size_t p = first; p <= last; p++)
		GH_STORE(&gh__pagemap[p], v);
}

GH_INLINE void pagemap_set(uintptr_t user, size_t size)
{
	pagemap_fill(user, size, (uint32_t)granule_of(user) + 1);
}

GH_INLINE void pagemap_clear(uintptr_t user, size_t size)
{
	pagemap_fill(user, size, 0);
}

/* ---- Counting -------------------------------------------------------------- */

GH_INLINE void count_alloc(struct gh_ctr *c, gh_type_t t, size_t size)
{
	if (gh_likely(c != NULL))
		gh__ctr_alloc(&c[t], size);
	else
		gh__count_global(t, 1, 0, (int64_t)size, 0);
}

GH_INLINE void count_free(struct gh_ctr *c, gh_type_t t, size_t size)
{
	if (gh_likely(c != NULL))
		gh__ctr_free(&c[t], size);
	else
		gh__count_global(t, 0, 1, -(int64_t)size, 0);
}

static GH_NOINLINE struct gh_ctr *thread_slow(void)
{
	if (!gh__init())
		return NULL;
	return gh__thread_setup();
}

/* ---- Allocation -------------------------------------------------------------- */

/* The block's site word (a trace stack id with *traced, else the site id)
 * and whether it is traced. */
GH_INLINE uint32_t site_word(size_t size, gh_type_t type, uintptr_t ra, bool *traced)
{
	uint32_t stack = 0;
	/* glassheap's own allocations (the debug server's thread) are not traced */
	if (gh_unlikely(atomic_load_explicit(&gh__trace_on, memory_order_relaxed)) && type != GH_TYPE_INTERNAL)
		stack = gh__trace_record(size, ra);
	*traced = stack != 0;
	return stack ? stack : gh__site_intern(ra);
}

/* Writes the trailer of jemalloc's block raw (its class: start), publishes
 * the start, counts. */
GH_INLINE void *finish_trl(struct gh_ctr *c, uintptr_t raw, size_t size, gh_type_t type, uintptr_t ra,
			   unsigned start)
{
	bool traced;
	uint32_t site = site_word(size, type, ra, &traced);
	uint64_t w = gh__trl_word(size, site, type, traced);
	if (gh_unlikely(gh__tl.leak_off))
		w |= GH_TRL_IGNORED;
	GH_STORE(gh__trl_at(raw, start), w);
	start_set(raw, (uint8_t)start);
	count_alloc(c, type, size);
	return (void *)raw;
}

/* Writes the header, publishes the start, counts. raw is jemalloc's block,
 * align_lg 0 for ordinary blocks (user = raw + 16). */
GH_INLINE void *finish_hdr(struct gh_ctr *c, uintptr_t raw, size_t size, bool large, gh_type_t type,
			   uintptr_t ra, unsigned align_lg)
{
	uintptr_t user = raw + (align_lg ? ((uintptr_t)1 << align_lg) : GH_HDR_SIZE);
	struct gh_hdr *h = gh__hdr_of(user);
	uint64_t meta = (uint64_t)size | ((uint64_t)align_lg << GH_ALIGN_SHIFT) | gh__hdr_state(GH_STATE_LIVE);
	if (gh_unlikely(gh__tl.leak_off))
		meta |= GH_FLAG_IGNORED;
	h->type = type;
	bool traced;
	h->site = site_word(size, type, ra, &traced);
	if (traced)
		meta |= GH_FLAG_TRACED;
	if (gh_unlikely(large)) {
		meta |= GH_FLAG_LARGE;
		pagemap_set(user, size);
	}
	GH_STORE(&h->meta, meta);
	atomic_fetch_add_explicit(&hdr_blocks, 1, memory_order_relaxed);
	start_set(user, GH_START_HDR);
	count_alloc(c, type, size);
	return (void *)user;
}

/* A block of `size` from jemalloc with flags (0: the thread's defaults),
 * its metadata written and published: a trailer when the size has one. */
static void *alloc_block(struct gh_ctr *c, size_t size, gh_type_t type, uintptr_t ra, bool zero, int flags)
{
	bool trl = size <= gh__trl_max;
	size_t total = trl ? gh__trl_request(size) : size + GH_HDR_SIZE;
	void *raw;
	if (flags)
		raw = ghje_mallocx(total, flags | (zero ? GHJE_MALLOCX_ZERO : 0));
	else
		raw = zero ? ghje_calloc(1, total) : ghje_malloc(total);
	if (gh_unlikely(raw == NULL)) {
		errno = ENOMEM;
		return NULL;
	}
	if (trl)
		return finish_trl(c, (uintptr_t)raw, size, type, ra, gh__trl_start_of(size));
	return finish_hdr(c, (uintptr_t)raw, size, total > gh__small_max, type, ra, 0);
}

/* Threads without a shard (in set-up, exiting) or before initialization. */
static GH_NOINLINE void *alloc_slow(size_t size, gh_type_t type, uintptr_t ra, bool zero)
{
	struct gh_ctr *c = thread_slow();
	if (c)
		return gh__alloc_general(size, type, ra, zero);
	int st = atomic_load_explicit(&init_state, memory_order_acquire);
	if (st != ST_READY) {
		if (tl_in_init)
			return boot_alloc(size, 16, zero);
		if (passthrough)
			return zero ? sys.calloc(1, size) : sys.malloc(size);
		errno = ENOMEM;
		return NULL;
	}
	if (size > GH_SIZE_MAX_REQ) {
		errno = ENOMEM;
		return NULL;
	}
	/* An explicit arena and no thread cache: this thread may be past
	 * jemalloc's own thread teardown. */
	return alloc_block(NULL, size, type, ra, zero, GHJE_MALLOCX_ARENA(arena_ids[0]) | GHJE_MALLOCX_TCACHE_NONE);
}

/* Every case: calloc, large blocks, threads not set up yet. */
GH_NOINLINE void *gh__alloc_general(size_t size, gh_type_t type, uintptr_t ra, bool zero)
{
	struct gh_ctr *c = gh__tl.ctr;
	if (gh_unlikely(c == NULL))
		return alloc_slow(size, type, ra, zero);
	if (gh_unlikely(size > GH_SIZE_MAX_REQ)) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_block(c, size, type, ra, zero, 0);
}

GH_NOINLINE void *gh__alloc_fast_miss(char *raw, size_t size, uint64_t tbits, uintptr_t ra)
{
	/* before the switch and the table: see gh__site_epoch */
	uint64_t epoch = atomic_load_explicit(&gh__site_epoch, memory_order_acquire);
	struct gh_ctr *c = gh__tl.ctr;
	if (gh_unlikely(atomic_load_explicit(&gh__trace_on, memory_order_acquire)))
		return finish_trl(c, (uintptr_t)raw, size, (gh_type_t)(tbits >> GH_TRL_TYPE_SHIFT), ra,
		                  gh__trl_start_of(size));
	size_t slot;
	uint32_t id = gh__site_hit(ra, &slot);
	if (gh_likely(id != 0)) {
		struct gh_site_cache *e = &gh__site_cache(c)[gh__site_slot(ra)];
		e->word = ((uint64_t)id << GH_TRL_SITE_SHIFT) | GH_STATE_LIVE;
		atomic_store_explicit((_Atomic uintptr_t *)&e->key, ra, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (gh_unlikely(atomic_load_explicit(&gh__site_epoch, memory_order_relaxed) != epoch))
			GH_STORE(&e->key, 0);
	} else {
		id = gh__site_insert(ra, slot);
	}
	return gh__alloc_fast_publish(c, raw, size, tbits, ((uint64_t)id << GH_TRL_SITE_SHIFT) | GH_STATE_LIVE);
}

GH_NOINLINE void *gh__alloc_fast_refill(size_t size, uint64_t tbits, uintptr_t ra, bool zero)
{
	size_t req = gh__trl_request(size);
	char *raw = zero ? ghje_calloc(1, req) : ghje_malloc(req);
	if (gh_unlikely(raw == NULL))
		return gh__alloc_general(size, (gh_type_t)(tbits >> GH_TRL_TYPE_SHIFT), ra, zero);
	return gh__alloc_fast_finish(gh__tl.ctr, raw, size, tbits, ra);
}

void gh__free_fast_tracing(bool on)
{
	atomic_store_explicit(&gh__free_cls, on ? no_cls : gh__start_cls, memory_order_release);
}

void gh__bins_init(struct gh_bin *bins)
{
	for (unsigned k = 0; k < GH_TRL_CLASSES; k++) {
		size_t cls = gh__start_cls[GH_START_TRL0 + k];
		bins[k].cap = cls == 0 ? 0 : cls <= 256 ? GH_BIN_CAP : cls <= 1024 ? 4 : 0;
	}
}

void gh__bins_release(struct gh_bin *bins)
{
	for (unsigned k = 0; k < GH_TRL_CLASSES; k++) {
		while (bins[k].n > 0)
			ghje_dallocx(bins[k].slot[--bins[k].n], GHJE_MALLOCX_TCACHE_NONE);
	}
}

void *gh__alloc(size_t size, gh_type_t type, uintptr_t ra, bool zero)
{
	return gh__alloc_fast(size, type, ra, zero);
}

void *gh__alloc_aligned(size_t align, size_t size, gh_type_t type, uintptr_t ra)
{
	if (align <= GH_HDR_SIZE)
		return gh__alloc(size, type, ra, false);
	/* align is a power of two above 16: the header sits in the gap
	 * before user = raw + align. */
	struct gh_ctr *c = gh__tl.ctr;
	if (gh_unlikely(c == NULL)) {
		c = thread_slow();
		if (!c && atomic_load(&init_state) != ST_READY && tl_in_init)
			return boot_alloc(size, align, false);
		if (!c && passthrough) {
			void *p = NULL;
			int rc = sys.posix_memalign(&p, align, size);
			errno = rc ? rc : errno;
			return rc ? NULL : p;
		}
	}
	/* Any power of two the cage can hold (glibc serves them too); the
	 * block is size + align bytes, the header in the gap. */
	if (size > GH_SIZE_MAX_REQ || align >= gh__cage.size || size > gh__cage.size - align) {
		errno = ENOMEM;
		return NULL;
	}
	unsigned lg = (unsigned)__builtin_ctzl(align);
	/* At least one byte past the gap: a zero-size block's user pointer
	 * stays inside its own block (at its end it would be the next block's
	 * start granule, which a trailer block's user pointer occupies). */
	size_t total = (size ? size : 1) + align;
	void *raw = NULL;
	if (c) {
		if (ghje_posix_memalign(&raw, align, total) != 0)
			raw = NULL;
	} else if (atomic_load(&init_state) == ST_READY) {
		raw = ghje_mallocx(total, GHJE_MALLOCX_ARENA(arena_ids[0]) | GHJE_MALLOCX_TCACHE_NONE |
						  GHJE_MALLOCX_LG_ALIGN(lg));
	}
	if (!raw) {
		errno = ENOMEM;
		return NULL;
	}
	bool large = ghje_sallocx(raw, 0) > gh__small_max;
	return finish_hdr(c, (uintptr_t)raw, size, large, type, ra, lg);
}

/* ---- Free ------------------------------------------------------------------------ */

/* A pointer that failed the fast checks: say precisely what is wrong. */
static GH_NOINLINE void report_bad(const void *p, const char *op)
{
	uintptr_t u = (uintptr_t)p;
	struct gh_meta m;
	bool in_heap = gh__cage_contains(u) && (u & 15) == 0 && u < atomic_load(&gh__cage.top);
	unsigned start = in_heap ? gh__start_at(u) : 0;
	if (gh__start_live(start) && !gh__meta_decode(u, start, &m)) {
		gh__misuse(GH_ERR_CORRUPT, p, op, NULL, NULL);
		return;
	}
	uintptr_t obj = gh__heap_lookup(u);
	if (obj && obj != u) {
		gh__misuse(GH_ERR_INTERIOR_FREE, p, op, (void *)obj, gh__meta_live(obj, &m) ? &m : NULL);
		return;
	}
	/* A block freed at u (its start byte keeps the layout until another
	 * block starts there) whose metadata still says freed. */
	unsigned was = start & ~GH_START_FREED;
	bool readable = was == GH_START_HDR ? u - gh__cage.base >= GH_HDR_SIZE : gh__start_cls[was] != 0;
	if ((start & GH_START_FREED) && readable) {
		uint64_t chk = was == GH_START_HDR ? GH_LOAD(&gh__hdr_of(u)->meta) >> GH_CHECK_SHIFT
						   : GH_LOAD(gh__trl_at(u, was)) & GH_TRL_CHECK_MASK;
		/* A trailer still live under a freed start byte: the block waits in
		 * a thread's ring (struct gh_pend), freed already. */
		bool pending = was != GH_START_HDR && (chk == GH_STATE_LIVE || chk == GH_STATE_LIVE_TRACED);
		if (chk == GH_STATE_FREED || pending) {
			gh__meta_decode(u, was, &m);
			gh__misuse(GH_ERR_DOUBLE_FREE, p, op, NULL, &m);
			return;
		}
	}
	gh__misuse(GH_ERR_INVALID_FREE, p, op, NULL, NULL);
}

/* Metadata a free or a realloc can act on: a registered type (it indexes
 * the counters) and, for a trailer block, a size its class holds (a copy
 * reads that many bytes). A program's stray write can leave the check byte
 * live and change the rest. */
GH_INLINE bool meta_sound(unsigned start, const struct gh_meta *m)
{
	return gh__type_valid(m->type) && (start == GH_START_HDR || m->size + GH_TRL_SIZE <= gh__start_cls[start]);
}

/* Validates p as the start of a live allocation and decodes it; reports
 * misuse and returns 0 otherwise (the block, if any, stays as it is), else
 * the block's start byte. Bootstrap pointers are the caller's business. */
GH_INLINE unsigned checked_meta(uintptr_t u, const char *op, struct gh_meta *m)
{
	unsigned start = gh__meta_live(u, m);
	if (gh_unlikely(start == 0)) {
		report_bad((void *)u, op);
		return 0;
	}
	if (gh_unlikely(!meta_sound(start, m))) {
		gh__misuse(GH_ERR_CORRUPT, (void *)u, op, NULL, NULL);
		return 0;
	}
	return start;
}

static GH_NOINLINE void free_odd(void *p, const char *op)
{
	if (p == NULL || is_boot((uintptr_t)p))
		return;
	if (passthrough) {
		sys.free(p);
		return;
	}
	report_bad(p, op);
}

/* Marks the block at u freed: its start byte (before jemalloc may hand the
 * block to another thread), its check byte, its page-map entries. */
GH_INLINE void unpublish(uintptr_t u, unsigned start, const struct gh_meta *m)
{
	start_set(u, (uint8_t)(start | GH_START_FREED));
	if (start == GH_START_HDR) {
		struct gh_hdr *h = gh__hdr_of(u);
		uint64_t meta = GH_LOAD(&h->meta);
		GH_STORE(&h->meta, (meta & ~(UINT64_C(0xff) << GH_CHECK_SHIFT)) | gh__hdr_state(GH_STATE_FREED));
		if (m->large)
			pagemap_clear(u, m->size);
		atomic_fetch_sub_explicit(&hdr_blocks, 1, memory_order_relaxed);
	} else {
		GH_STORE((uint8_t *)gh__trl_at(u, start), (uint8_t)GH_STATE_FREED);
	}
}

/* jemalloc's block of the block at u. */
GH_INLINE void *raw_of(uintptr_t u, unsigned start, const struct gh_meta *m)
{
	if (start != GH_START_HDR)
		return (void *)u;
	return (void *)(u - (m->align_lg ? ((uintptr_t)1 << m->align_lg) : GH_HDR_SIZE));
}

/* The fast path's class 0 (see gh__free_cls): g and start are p's granule
 * and start byte. While tracing is on, an untraced, live trailer block is
 * still freed as the fast path would, through the thread's bins, but
 * without the ring, so that tracing's accounts follow each free at once
 * (sampled tracing leaves most blocks untraced); anything else takes the
 * general path. */
GH_NOINLINE void gh__free_no_cls(void *p, const char *op, size_t g, unsigned start)
{
	size_t cls = gh__start_cls[start];
	if (!atomic_load_explicit(&gh__trace_on, memory_order_relaxed) || cls == 0) {
		gh__free_general(p, op);
		return;
	}
	uintptr_t u = (uintptr_t)p;
	uint64_t *t = (uint64_t *)(u + cls - GH_TRL_SIZE);
	uint64_t w = GH_LOAD(t);
	if (!gh__pend_word_ok(w, cls)) { /* traced, or overwritten: the general path tells */
		gh__free_general(p, op);
		return;
	}
	struct gh_ctr *c = gh__tl.ctr;
	gh__start_unpublish(g, start);
	gh__free_count(c, t, w);
	gh__free_release(c, u, start, cls);
}

/* Every case of free: misuse, large or aligned blocks, traced blocks,
 * threads without a shard. */
GH_NOINLINE void gh__free_general(void *p, const char *op)
{
	uintptr_t u = (uintptr_t)p;
	if (gh_unlikely(!gh__cage_contains(u) || (u & 15) != 0)) {
		free_odd(p, op);
		return;
	}
	struct gh_meta m;
	unsigned start = checked_meta(u, op, &m);
	if (gh_unlikely(start == 0))
		return;
	if (gh_unlikely(m.traced))
		gh__trace_release(m.site_word, m.size);
	unpublish(u, start, &m);
	struct gh_ctr *c = gh__tl.ctr;
	if (gh_unlikely(c == NULL))
		c = thread_slow();
	count_free(c, m.type, m.size);
	if (gh_likely(c != NULL))
		ghje_free(raw_of(u, start, &m));
	else
		ghje_dallocx(raw_of(u, start, &m), GHJE_MALLOCX_TCACHE_NONE);
}

void gh__free_pended_odd(uintptr_t u, unsigned start)
{
	uint64_t *t = gh__trl_at(u, start);
	struct gh_meta m;
	bool live = gh__meta_decode(u, start, &m);
	if (gh_unlikely(!live || !meta_sound(start, &m))) {
		/* Overwritten since it was allocated: an overflow of the block, a
		 * stray write, or a write after free while it waited in the ring.
		 * As a free before the ring did: the block stays published and
		 * counted, its memory kept, and the misuse reported. */
		start_set(u, (uint8_t)start);
		/* a check byte that still read live (a write after free can write
		 * anything) would let lookups trust the size that came with it */
		GH_STORE((uint8_t *)t, (uint8_t)0);
		gh__misuse(GH_ERR_CORRUPT, (void *)u, "free", NULL, NULL);
		return;
	}
	if (m.traced)
		gh__trace_release(m.site_word, m.size);
	GH_STORE((uint8_t *)t, (uint8_t)GH_STATE_FREED);
	struct gh_ctr *c = gh__tl.ctr;
	count_free(c, m.type, m.size);
	if (gh_likely(c != NULL))
		ghje_free((void *)u);
	else
		ghje_dallocx((void *)u, GHJE_MALLOCX_TCACHE_NONE);
}

/* The blocks of ring pd, oldest first, counted into c and given back:
 * with own, through the calling thread's bins and thread cache. */
static void drain_ring(struct gh_ctr *c, struct gh_pend *pd, bool own)
{
	/* the bumps below move gh__pend_next: the oldest is taken first */
	unsigned oldest = gh__pend_next(pd);
	for (unsigned k = 0; k < GH_PEND; k++) {
		unsigned i = (oldest + k) & (GH_PEND - 1);
		uintptr_t q = pd->u[i];
		if (q == 0)
			continue;
		unsigned qstart = pd->start[i];
		size_t qcls = gh__start_cls[qstart];
		uint64_t *qt = gh__trl_at(q, qstart);
		uint64_t w = GH_LOAD(qt);
		gh__pend_seq_bump(pd);
		GH_STORE(&pd->u[i], 0);
		if (!gh__pend_word_ok(w, qcls)) {
			gh__pend_seq_bump(pd);
			gh__free_pended_odd(q, qstart);
			continue;
		}
		gh__free_count(c, qt, w);
		gh__pend_seq_bump(pd);
		if (own)
			gh__free_release(c, q, qstart, qcls);
		else
			ghje_dallocx((void *)q, GHJE_MALLOCX_TCACHE_NONE);
	}
}

void gh__free_drain(void)
{
	struct gh_ctr *c = gh__tl.ctr;
	if (c)
		drain_ring(c, gh__pend(c), true);
}

void gh__free_drain_lost(struct gh_ctr *c)
{
	struct gh_pend *pd = gh__pend(c);
	/* The fork may have taken its thread half-way through a change (seq
	 * odd; the child's copy of each page is the state of one moment, so it
	 * sees a prefix of the thread's stores). The slot it was writing, the
	 * next one, may then hold the new block under the start byte of the
	 * block it replaces (read as that class, the trailer is the block's
	 * data: a "corruption" the child would report and act on). A block's
	 * own start byte is in the start map, freed bit set, from before it
	 * entered the ring until it leaves it: the slot takes that one, or is
	 * emptied when the map does not show a freed trailer block. The block
	 * it was taking out, if gone from the slot, stays with the lost thread:
	 * not given back, as any block a lost thread held. */
	if (pd->seq & 1) {
		unsigned i = gh__pend_next(pd);
		uintptr_t q = pd->u[i];
		if (q != 0) {
			unsigned s = gh__start_at(q);
			if ((s & GH_START_FREED) && (s & ~GH_START_FREED) != GH_START_HDR &&
			    gh__start_cls[s & ~GH_START_FREED] != 0)
				pd->start[i] = (uint8_t)(s & ~GH_START_FREED);
			else
				pd->u[i] = 0;
		}
		pd->seq++;
	}
	drain_ring(c, pd, false);
}

void gh__free(void *p, const char *op)
{
	gh__free_fast(p, op);
}

/* The first half of a free, for collection while the world is stopped:
 * plain stores and lock-free trace accounting, no call that may wait. The
 * caller has proven the block unreachable during this stop. It writes a
 * block other threads wrote, ordered by the stop (world.c), which
 * ThreadSanitizer does not see: not instrumented, like the marker. */
__attribute__((no_sanitize("thread"))) size_t gh__heap_unpublish(uintptr_t u, struct gh_ctr *c)
{
	unsigned start = gh__start_at(u);
	struct gh_meta m;
	gh__meta_decode(u, start, &m);
	if (m.traced)
		gh__trace_release(m.site_word, m.size);
	unpublish(u, start, &m);
	count_free(c, m.type, m.size);
	return m.size;
}

/* The second half: the block goes back to jemalloc. */
void gh__heap_release_unpublished(uintptr_t u)
{
	unsigned start = gh__start_at(u) & ~GH_START_FREED;
	struct gh_meta m;
	gh__meta_decode(u, start, &m);
	void *raw = raw_of(u, start, &m);
	if (gh__tl.ctr != NULL)
		ghje_free(raw);
	else
		ghje_dallocx(raw, GHJE_MALLOCX_TCACHE_NONE);
}

/* ---- Realloc ----------------------------------------------------------------------- */

static void *realloc_by_copy(uintptr_t u, size_t old, size_t size, gh_type_t type, uintptr_t ra, const char *op)
{
	void *n = gh__alloc(size, type, ra, false);
	if (!n)
		return NULL;
	memcpy(n, (void *)u, old < size ? old : size);
	gh__free((void *)u, op);
	return n;
}

/* Resizes the header block at u in place when jemalloc can (same small
 * size class, or a large extent that grows or shrinks where it is); true
 * when it did. The block stays published throughout and its header never
 * claims more bytes than the block holds, so no window is needed around the
 * jemalloc call: a world stop may take this thread anywhere in here, even
 * waiting for a jemalloc lock that a parked thread holds (a window would
 * then deadlock the stop). The caller writes the new size into the header
 * afterwards. */
static bool resize_in_place(uintptr_t u, struct gh_hdr *h, uint64_t meta, size_t old, size_t size)
{
	void *raw = (void *)(u - GH_HDR_SIZE);
	size_t need = size + GH_HDR_SIZE;
	if (!(meta & GH_FLAG_LARGE))
		return need <= gh__small_max && ghje_nallocx(need, 0) == ghje_sallocx(raw, 0);
	if (need <= gh__small_max)
		return false; /* a small size class now: move it to a slab */
	if (size < old) {
		/* Shrinking: jemalloc may hand the tail out at once, so the header
		 * and the page map give it up first. */
		GH_STORE(&h->meta, (meta & ~GH_SIZE_MASK) | (uint64_t)size);
		size_t keep_end = ((u + size - 1) >> GH_PAGE_LG) + 1; /* first page past the new end */
		size_t old_end = ((u + old - 1) >> GH_PAGE_LG) + 1;
		for (size_t pg = keep_end; pg < old_end; pg++)
			GH_STORE(&gh__pagemap[pg - (gh__cage.base >> GH_PAGE_LG)], 0);
		(void)ghje_xallocx(raw, need, 0, 0); /* keeps at least need bytes */
		return true;
	}
	if (ghje_xallocx(raw, need, 0, 0) < need)
		return false;
	pagemap_set(u, size); /* before the header admits the new bytes */
	return true;
}

/* Sets bits `set` under `mask` of a trailer word, with a CAS: the other
 * writers of a live block's trailer (retag, ignore) may run at once. */
static uint64_t trl_update(uint64_t *t, uint64_t mask, uint64_t set)
{
	uint64_t old = GH_LOAD(t);
	while (!atomic_compare_exchange_weak_explicit((_Atomic uint64_t *)t, &old, (old & ~mask) | set,
						      memory_order_relaxed, memory_order_relaxed))
		;
	return old;
}

/* The new metadata of a block resized in place: site, type, size, traced;
 * ignored and the layout's own bits stay. A trailer is one word: one store
 * and no window. A header's three words change together: a world stop
 * waits until they are consistent (a few stores, no call, no lock). */
static void rewrite_meta(uintptr_t u, unsigned start, size_t size, gh_type_t type, uint32_t site, bool traced)
{
	if (start != GH_START_HDR) {
		/* gh_ignore_object may set its flag at the same time */
		trl_update(gh__trl_at(u, start), ~GH_TRL_IGNORED,
			   gh__trl_word(size, site, type, traced));
		return;
	}
	struct gh_hdr *h = gh__hdr_of(u);
	uint64_t meta = GH_LOAD(&h->meta);
	uint64_t nmeta = (meta & ~(GH_SIZE_MASK | GH_FLAG_TRACED)) | (uint64_t)size;
	if (traced)
		nmeta |= GH_FLAG_TRACED;
	gh__tl_stop_window++;
	GH_STORE(&h->type, type);
	GH_STORE(&h->site, site);
	GH_STORE(&h->meta, nmeta);
	gh__tl_stop_window--;
}

void *gh__realloc(void *p, size_t size, gh_type_t type, uintptr_t ra, const char *op)
{
	uintptr_t u = (uintptr_t)p;
	if (p == NULL)
		return gh__alloc(size, type, ra, false);
	if (gh_unlikely(passthrough) && !is_boot(u))
		return sys.realloc(p, size);
	if (gh_unlikely(is_boot(u))) {
		void *n = gh__alloc(size, type, ra, false);
		if (n) {
			size_t old = boot_size(u);
			memcpy(n, p, old < size ? old : size);
		}
		return n;
	}
	struct gh_meta m;
	unsigned start = checked_meta(u, op, &m);
	if (gh_unlikely(start == 0)) {
		errno = EINVAL;
		return NULL;
	}
	if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
		gh__free(p, op);
		return NULL;
	}
	size_t old = m.size;
	gh_type_t old_type = m.type;
	if (type == GH_TYPE_NONE)
		type = old_type;
	struct gh_ctr *c = gh__tl.ctr;
	if (gh_unlikely(c == NULL))
		c = thread_slow();
	if (m.align_lg != 0 || c == NULL)
		return realloc_by_copy(u, old, size, type, ra, op);
	if (size > GH_SIZE_MAX_REQ) {
		errno = ENOMEM;
		return NULL;
	}
	/* In place: a trailer block whose new size keeps its class (the
	 * trailer does not move), or a header block jemalloc resizes. */
	bool in_place = start != GH_START_HDR
				? size <= gh__trl_max && gh__trl_start_of(size) == start
				: size > gh__trl_max && resize_in_place(u, gh__hdr_of(u), GH_LOAD(&gh__hdr_of(u)->meta), old, size);
	if (!in_place)
		return realloc_by_copy(u, old, size, type, ra, op);
	/* Tracing sees a realloc as a free and a new allocation at ra. The
	 * stack is captured outside the header's window: unwinding may wait
	 * for the loader's lock, which a world stop holds while it waits for us. */
	bool traced;
	uint32_t site = site_word(size, type, ra, &traced); /* may take the sites lock */
	rewrite_meta(u, start, size, type, site, traced);
	if (gh_unlikely(m.traced))
		gh__trace_release(m.site_word, old);
	if (type == old_type) {
		gh__ctr_realloc(&c[type], old, size);
	} else {
		gh__ctr_free(&c[old_type], old);
		gh__ctr_alloc(&c[type], size);
	}
	return p;
}

size_t gh__usable_size(const void *p)
{
	uintptr_t u = (uintptr_t)p;
	if (p == NULL)
		return 0;
	if (is_boot(u))
		return boot_size(u);
	if (passthrough)
		return sys.usable_size((void *)p);
	struct gh_meta m;
	unsigned start = gh__meta_live(u, &m);
	if (start == 0)
		return 0;
	if (start != GH_START_HDR)
		return gh__start_cls[start] - GH_TRL_SIZE;
	uintptr_t raw = (uintptr_t)raw_of(u, start, &m);
	return ghje_malloc_usable_size((void *)raw) - (u - raw);
}

/* ---- Retag and ignore ------------------------------------------------------------------ */

bool gh__heap_retag(uintptr_t u, gh_type_t type, gh_type_t *old, size_t *size)
{
	struct gh_meta m;
	unsigned start = gh__meta_live(u, &m);
	if (start == 0)
		return false;
	const uint64_t mask = (uint64_t)((1u << GH_TRL_TYPE_BITS) - 1) << GH_TRL_TYPE_SHIFT;
	if (start != GH_START_HDR) {
		uint64_t w = trl_update(gh__trl_at(u, start), mask, (uint64_t)type << GH_TRL_TYPE_SHIFT);
		*old = GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS);
	} else {
		*old = atomic_exchange_explicit((_Atomic uint32_t *)&gh__hdr_of(u)->type, type, memory_order_relaxed);
	}
	*size = m.size;
	return true;
}

bool gh__heap_ignore(uintptr_t u)
{
	struct gh_meta m;
	unsigned start = gh__meta_live(u, &m);
	if (start == 0)
		return false;
	if (start != GH_START_HDR)
		trl_update(gh__trl_at(u, start), GH_TRL_IGNORED, GH_TRL_IGNORED);
	else
		__atomic_fetch_or(&gh__hdr_of(u)->meta, GH_FLAG_IGNORED, __ATOMIC_RELAXED);
	return true;
}

/* ---- Lookup and enumeration ---------------------------------------------------------- */

/*
 * Lookup and enumeration read start bytes and headers that other threads are
 * writing: a block may be freed, and its memory reused as another block's
 * user data, between reading its start byte and reading its header. That is
 * by design (the state byte validates what was read; the cage stays mapped),
 * so ThreadSanitizer must not instrument these readers, like the marker's
 * scanner (mark.c). Their callers (gh_ptr_info, the samples of
 * /debug/memory/types) get values that were true at some instant of the call.
 */

/* Does the live allocation at user contain addr? */
GH_RACY_READER static bool covers(uintptr_t user, uintptr_t addr)
{
	unsigned start = GH_LOAD(&gh__startmap[granule_of(user)]);
	struct gh_meta m;
	if (!gh__start_live(start) || !gh__meta_decode(user, start, &m))
		return false;
	return addr - user < (m.size ? m.size : 1);
}

GH_RACY_READER uintptr_t gh__heap_lookup(uintptr_t addr)
{
	if (!gh__cage_contains(addr) || addr >= atomic_load_explicit(&gh__cage.top, memory_order_relaxed))
		return 0;
	/* A zero-size allocation's user pointer is the end of its jemalloc block:
	 * it may lie on a page of the next block, even of a large one (page map
	 * entry set). A live start at exactly addr is the answer. */
	if ((addr & 15) == 0 && covers(addr, addr))
		return addr;
	size_t off = addr - gh__cage.base;
	uint32_t pe = GH_LOAD(&gh__pagemap[off >> GH_PAGE_LG]);
	if (pe) {
		uintptr_t user = gh__cage.base + ((uintptr_t)(pe - 1) << GH_GRANULE_LG);
		return covers(user, addr) ? user : 0;
	}
	/* A small allocation starts at most small_max bytes before addr: the
	 * nearest start at or below addr is the only candidate. */
	size_t g = off >> GH_GRANULE_LG;
	size_t span = gh__small_max >> GH_GRANULE_LG;
	size_t lo = g > span ? g - span : 0;
	size_t i = g + 1; /* scan [lo, i) downwards */
	while (i > lo) {
		if ((i & 7) == 0 && i - lo >= 8) {
			uint64_t w;
			memcpy(&w, &gh__startmap[i - 8], 8);
			unsigned live = gh__starts8(w);
			if (live == 0) {
				i -= 8;
				continue;
			}
			i = i - 8 + (size_t)(31 - __builtin_clz(live)) + 1;
		}
		i--;
		if (gh__start_live(GH_LOAD(&gh__startmap[i]))) {
			uintptr_t user = gh__cage.base + ((uintptr_t)i << GH_GRANULE_LG);
			return covers(user, addr) ? user : 0;
		}
	}
	return 0;
}

/* The first granule at or after g (below n) where a live start is
 * published, or n: the start map read 8 bytes at a time. */
GH_RACY_READER static size_t next_start(size_t g, size_t n)
{
	while (g < n) {
		if ((g & 7) == 0 && n - g >= 8) {
			uint64_t w;
			memcpy(&w, &gh__startmap[g], 8);
			unsigned live = gh__starts8(w);
			if (live == 0) {
				g += 8;
				continue;
			}
			g += (size_t)__builtin_ctz(live);
		}
		if (gh__start_live(GH_LOAD(&gh__startmap[g])))
			return g;
		g++;
	}
	return n;
}

GH_RACY_READER void gh__heap_enumerate(gh_heap_visit_fn fn, void *arg)
{
	if (atomic_load(&init_state) != ST_READY)
		return;
	size_t n = (atomic_load(&gh__cage.top) - gh__cage.base) >> GH_GRANULE_LG;
	for (size_t g = next_start(0, n); g < n;) {
		uintptr_t user = gh__cage.base + ((uintptr_t)g << GH_GRANULE_LG);
		unsigned start = GH_LOAD(&gh__startmap[g]);
		struct gh_meta m;
		if (!gh__start_live(start) || !gh__meta_decode(user, start, &m)) {
			g = next_start(g + 1, n);
			continue;
		}
		if (!fn(user, &m, arg))
			return;
		g = next_start(g + 1 + (m.size > 0 ? (m.size - 1) >> GH_GRANULE_LG : 0), n);
	}
}

/* The read side's walk (introspect.h): the enumeration with each block's
 * metadata decoded, so that readers never see the header's encoding. */
struct obj_walk {
	gh_obj_visit_fn fn;
	void *arg;
};

GH_RACY_READER static bool decode_visit(uintptr_t user, const struct gh_meta *m, void *arg)
{
	const struct obj_walk *w = arg;
	struct gh_obj o = {
		.addr = user,
		.size = m->size,
		.type = m->type,
		.site = gh__meta_site(m),
		.stack = m->traced ? m->site_word : 0,
	};
	return w->fn(&o, w->arg);
}

void gh__obj_walk(gh_obj_visit_fn fn, void *arg)
{
	struct obj_walk w = {fn, arg};
	gh__heap_enumerate(decode_visit, &w);
}

GH_RACY_READER bool gh__obj_still(const struct gh_obj *o)
{
	struct gh_meta m;
	return gh__meta_live(o->addr, &m) && m.type == o->type;
}

static uint64_t je_stat(const char *name)
{
	size_t v = 0, len = sizeof v;
	return ghje_mallctl(name, &v, &len, NULL, 0) == 0 ? (uint64_t)v : 0;
}

void gh__alloc_stats(struct gh_alloc_stats *s)
{
	uint64_t epoch = 1;
	size_t len = sizeof epoch;
	ghje_mallctl("epoch", &epoch, &len, &epoch, sizeof epoch);
	s->je_allocated = je_stat("stats.allocated");
	s->je_active = je_stat("stats.active");
	s->je_metadata = je_stat("stats.metadata");
	s->je_resident = je_stat("stats.resident");
	s->je_mapped = je_stat("stats.mapped");
	s->je_retained = je_stat("stats.retained");
	/* arena 4096 is jemalloc's MALLCTL_ARENAS_ALL: every arena */
	s->je_dirty = (je_stat("stats.arenas.4096.pdirty") + je_stat("stats.arenas.4096.pmuzzy")) *
		      (uint64_t)sysconf(_SC_PAGESIZE);
	size_t mapped = 0, used = 0;
	gh__meta_stats(&mapped, &used);
	s->meta_mapped = mapped;
	s->meta_used = used;
	s->cage_reserved = gh__cage.size;
	s->cage_used = gh__cage_used();
	s->metadata_bytes_per_object = GH_TRL_SIZE;
	s->header_extra_bytes = atomic_load_explicit(&hdr_blocks, memory_order_relaxed) * (GH_HDR_SIZE - GH_TRL_SIZE);
}

/* ---- The heap validator (GLASSHEAP_DEBUG=2, gh_heap_check) ------------------------------ */

#define VALIDATE_LOG_MAX 8 /* problems logged per check; all are counted */

struct validate {
	size_t problems;
	uintptr_t prev_end; /* end of the previous live block: blocks never overlap */
	uint64_t (*count)[2]; /* [GH_TYPE_IDS] objects and bytes found, or NULL */
};

__attribute__((format(printf, 2, 3))) static void problem(struct validate *v, const char *fmt, ...)
{
	if (v->problems++ < VALIDATE_LOG_MAX) {
		char msg[200];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		gh__log("heap check: %s", msg);
	}
}

GH_RACY_READER static void validate_block(struct validate *v, uintptr_t user)
{
	unsigned start = GH_LOAD(&gh__startmap[granule_of(user)]);
	struct gh_meta m;
	if (start != GH_START_HDR && gh__start_cls[start] == 0) {
		problem(v, "block 0x%lx: start byte 0x%02x names no layout", (unsigned long)user, start);
		return;
	}
	if (!gh__meta_decode(user, start, &m)) {
		problem(v, "block 0x%lx: its start is published but its metadata is not live", (unsigned long)user);
		return;
	}
	gh_type_t type = m.type;
	size_t size = m.size;
	if (start != GH_START_HDR && size + GH_TRL_SIZE > gh__start_cls[start])
		problem(v, "block 0x%lx: size %zu does not fit its class (%u bytes)", (unsigned long)user, size,
			(unsigned)gh__start_cls[start]);
	if (user < v->prev_end)
		problem(v, "block 0x%lx starts inside the previous live block (ends 0x%lx)", (unsigned long)user,
			(unsigned long)v->prev_end);
	if (size > GH_SIZE_MAX_REQ || user + size > atomic_load(&gh__cage.top))
		problem(v, "block 0x%lx: size %zu runs past the cage's top", (unsigned long)user, size);
	if (!gh__type_valid(type))
		problem(v, "block 0x%lx: type %u is not registered", (unsigned long)user, type);
	else if (v->count) {
		v->count[type][0]++;
		v->count[type][1] += size;
	}
	if (m.large) {
		size_t first = (user - gh__cage.base) >> GH_PAGE_LG;
		size_t last = (user + (size ? size : 1) - 1 - gh__cage.base) >> GH_PAGE_LG;
		for (size_t p = first; p <= last; p++)
			if (GH_LOAD(&gh__pagemap[p]) != (uint32_t)granule_of(user) + 1) {
				problem(v, "large block 0x%lx: page map entry %zu does not name it", (unsigned long)user,
					p - first);
				break;
			}
	}
	if (user + (size ? size : 1) > v->prev_end)
		v->prev_end = user + (size ? size : 1);
}

/* Every published start, without trusting any header's size to skip ahead
 * (the enumeration does: a damaged size would hide the blocks it covers). */
GH_RACY_READER static void validate_starts(struct validate *v)
{
	size_t n = (atomic_load(&gh__cage.top) - gh__cage.base) >> GH_GRANULE_LG;
	for (size_t g = next_start(0, n); g < n; g = next_start(g + 1, n))
		validate_block(v, gh__cage.base + ((uintptr_t)g << GH_GRANULE_LG));
}

size_t gh__heap_validate(bool counters)
{
	if (atomic_load(&init_state) != ST_READY)
		return 0;
	struct validate v = {0};
	size_t table = GH_TYPE_IDS * sizeof *v.count;
	if (counters) {
		void *m = mmap(NULL, table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		v.count = m == MAP_FAILED ? NULL : m;
		if (!v.count)
			gh__log("heap check: no memory for the counters' check; structure only");
	}
	validate_starts(&v);
	if (v.count) {
		for (gh_type_t t = 1; t < GH_TYPE_IDS && gh__type_valid(t); t++) {
			gh_type_stats_t st;
			if (gh_type_stats(t, &st) != 0)
				continue;
			if (st.live_count != v.count[t][0] || st.live_bytes != v.count[t][1])
				problem(&v, "type %u (%s): counters say %llu objects, %llu bytes; the heap holds %llu, %llu", t,
					st.name ? st.name : "?", (unsigned long long)st.live_count,
					(unsigned long long)st.live_bytes, (unsigned long long)v.count[t][0],
					(unsigned long long)v.count[t][1]);
		}
		munmap(v.count, table);
	}
	return v.problems;
}

GH_API size_t gh_heap_check(int counters)
{
	return gh__heap_validate(counters != 0);
}

/* ---- Arenas, initialization, fork ------------------------------------------------------ */

/*
 * jemalloc starts with thread caches off (ghje_malloc_conf below): a thread
 * cache's bin stack comes from arena 0, and jemalloc creates the first one
 * inside its own initialization, before init_jemalloc can give arena 0 the
 * cage hooks -- arena 0 would then keep memory from outside the cage, and
 * it serves every thread that allocates after jemalloc's thread clean-up
 * ("reincarnated" threads: late pthread key destructors), whatever
 * MALLOCX_ARENA asks for. Each thread turns its cache on here instead.
 */
const char *ghje_malloc_conf = "tcache:false";

/* The arena of glassheap's own server thread (UINT32_MAX: none). */
static unsigned internal_arena = UINT32_MAX;

int gh__heap_bind_internal_arena(void)
{
	if (gh__thread_setup() == NULL || internal_arena == UINT32_MAX)
		return ENOMEM;
	unsigned idx = internal_arena;
	return ghje_mallctl("thread.arena", NULL, NULL, &idx, sizeof idx) == 0 ? 0 : ENOMEM;
}

void gh__heap_bind_arena(void)
{
	unsigned idx = arena_ids[atomic_fetch_add_explicit(&arena_rr, 1, memory_order_relaxed) % arena_n];
	ghje_mallctl("thread.arena", NULL, NULL, &idx, sizeof idx);
	bool on = true;
	ghje_mallctl("thread.tcache.enabled", NULL, NULL, &on, sizeof on);
}

/* Lock order: a pass first (the world lock is held for its whole length,
 * so fork waits for it to end), then its roots, then the allocator's own. */
static void atfork_prepare(void)
{
	gh__world_atfork_prepare();
	gh__mark_atfork_prepare();
	gh__mapped_atfork_prepare();
	gh__types_atfork_prepare();
	gh__wrappers_atfork_prepare(); /* before the sites' lock: classification holds it first */
	gh__sites_atfork_prepare();
	gh__meta_atfork_prepare();
}

static void atfork_parent(void)
{
	gh__meta_atfork_parent();
	gh__sites_atfork_parent();
	gh__wrappers_atfork_parent();
	gh__types_atfork_parent();
	gh__mapped_atfork_parent();
	gh__mark_atfork_parent();
	gh__world_atfork_parent();
}

static void atfork_child(void)
{
	gh__meta_atfork_child();
	gh__sites_atfork_child();
	gh__wrappers_atfork_child();
	gh__types_atfork_child();
	gh__mapped_atfork_child();
	gh__mark_atfork_child();
	gh__world_atfork_child();
}

/* The trailer's class tables (internal.h): every small class from 16 up
 * that is a multiple of 16 and whose size field holds class - 8. Until
 * this runs gh__trl_max is 0 and every block gets a header. */
static void trl_classes_init(void)
{
	size_t limit = gh__small_max < GH_TRL_CLASS_MAX ? gh__small_max : GH_TRL_CLASS_MAX;
	unsigned k = 0;
	size_t prev = 0, max = 0;
	for (size_t n = 16; n <= limit; n += 16) {
		size_t cls = ghje_nallocx(n, 0);
		if (cls == 0 || cls % 16 != 0 || cls > limit)
			break;
		if (cls != prev) {
			if (k == GH_TRL_CLASSES)
				break;
			gh__start_cls[GH_START_TRL0 + k++] = (uint16_t)cls;
			prev = cls;
		}
		gh__trl_tab[n >> 4] = (struct gh_trl_ent){.cls = (uint16_t)prev, .start = (uint8_t)(GH_START_TRL0 + k - 1)};
		max = n;
	}
	gh__trl_max = max >= 16 ? max - GH_TRL_SIZE : 0;
}

static bool init_jemalloc(void)
{
	/* A thread that allocates after jemalloc's own thread clean-up (a
	 * pthread key destructor that runs after jemalloc's) is "reincarnated":
	 * jemalloc then serves it from arena 0 whatever MALLOCX_ARENA asks
	 * for. Arena 0 must carve from the cage too. */
	void *hooks0 = gh__cage_hooks;
	if (ghje_mallctl("arena.0.extent_hooks", NULL, NULL, &hooks0, sizeof hooks0) != 0)
		return false;

	unsigned nbins;
	size_t sz = sizeof nbins;
	if (ghje_mallctl("arenas.nbins", &nbins, &sz, NULL, 0) != 0 || nbins == 0)
		return false;
	char name[64];
	size_t binsize;
	sz = sizeof binsize;
	snprintf(name, sizeof name, "arenas.bin.%u.size", nbins - 1);
	if (ghje_mallctl(name, &binsize, &sz, NULL, 0) != 0)
		return false;
	gh__small_max = binsize;
	trl_classes_init();

	unsigned n = gh__opt.arenas;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned idx;
		sz = sizeof idx;
		void *hooks = gh__cage_hooks;
		if (ghje_mallctl("arenas.create", &idx, &sz, &hooks, sizeof hooks) != 0)
			break;
		arena_ids[arena_n++] = idx;
	}
	/* One more arena for the debug server's thread, with the cage's last
	 * 1/64 (4..256 MiB, at most a quarter of the cage) to itself: the
	 * server's worst case is ~64 MiB of request buffers (128 connections
	 * of at most ~512 KiB, http/internal.h) plus its responses. */
	unsigned idx;
	sz = sizeof idx;
	void *hooks = gh__cage_hooks;
	if (arena_n > 0 && ghje_mallctl("arenas.create", &idx, &sz, &hooks, sizeof hooks) == 0) {
		size_t room = gh__cage.size / 64;
		room = room < ((size_t)4 << 20) ? (size_t)4 << 20 : room > ((size_t)256 << 20) ? (size_t)256 << 20 : room;
		if (room > gh__cage.size / 4)
			room = gh__cage.size / 4;
		internal_arena = idx;
		gh__cage_set_headroom(idx, room);
	}
	return arena_n > 0;
}

static const char *init_failure = "initialization failed";

static bool init_all(void)
{
	gh__options_init();
	/* The call-site and type tables first: they take their address space
	 * before the cage sizes itself to what is left (the cage keeps half of
	 * the largest range that fits, so that jemalloc's own metadata, which it
	 * maps outside the cage as the heap grows, finds room). When a required
	 * piece cannot be had, everything is given back and the address space
	 * is left to the system allocator (pass-through). */
	gh__sites_init();
	gh__types_init();
	if (gh_type_count() == 0) {
		init_failure = "cannot map glassheap's tables (RLIMIT_AS?)";
		gh__sites_release();
		return false;
	}
	if (gh__cage_init(gh__opt.cage_size) != 0) {
		init_failure = "cannot reserve the heap's address range (RLIMIT_AS?)";
		gh__sites_release();
		return false;
	}
	gh__startmap = gh__meta_map_huge(gh__cage.size >> GH_GRANULE_LG);
	if (gh__startmap && gh__opt.thp_from > 0) {
		/* The start map follows GLASSHEAP_THP: with auto its own first
		 * thp_from bytes (describing 16 times as much cage) stay on small
		 * pages, as an arena's do -- a huge page here is paid whole as soon
		 * as the cage's top passes into the range it describes (+1.6 MiB
		 * for a 38 MiB cage, fp_mixed2). */
		size_t len = gh__cage.size >> GH_GRANULE_LG, huge = (size_t)2 << 20;
		size_t small = gh__opt.thp_from;
		small = small > len - huge ? len : (small + huge - 1) & ~(huge - 1);
		madvise(gh__startmap, small, MADV_NOHUGEPAGE);
	}
	gh__startmap_at = gh__startmap - (gh__cage.base >> GH_GRANULE_LG);
	gh__pagemap = gh__meta_map((gh__cage.size >> GH_PAGE_LG) * sizeof(uint32_t));
	if (!gh__startmap || !gh__pagemap) {
		init_failure = "cannot map the object-start tables (RLIMIT_AS?)";
		gh__cage_release();
		gh__sites_release();
		return false;
	}
	if (!init_jemalloc()) {
		init_failure = "cannot create the cage arenas";
		gh__cage_release();
		gh__sites_release();
		return false;
	}
	if (gh__cage.size != gh__cage_wanted())
		gh__log("cage reduced to %zu MiB (could not reserve %zu MiB)%s", gh__cage.size >> 20,
			gh__cage_wanted() >> 20, gh__site_keys ? "" : "; allocation sites are not recorded");
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	gh__cage_granules = gh__cage.size >> GH_GRANULE_LG;
	return true;
}

bool gh__init(void)
{
	int st = atomic_load_explicit(&init_state, memory_order_acquire);
	if (gh_likely(st == ST_READY))
		return true;
	if (st == ST_FAILED || tl_in_init)
		return false;
	int expect = ST_NONE;
	if (!atomic_compare_exchange_strong(&init_state, &expect, ST_INIT)) {
		while ((st = atomic_load_explicit(&init_state, memory_order_acquire)) == ST_INIT)
			sched_yield();
		return st == ST_READY;
	}
	tl_in_init = true;
	bool ok = init_all();
	if (!ok) {
		passthrough_init();
		if (passthrough)
			gh__log("%s: allocations pass through to the system allocator, untagged and uncounted; "
				"introspection is off",
				init_failure);
		else
			gh__log("%s, and no system allocator to fall back to: every allocation will fail", init_failure);
	}
	atomic_store_explicit(&init_state, ok ? ST_READY : ST_FAILED, memory_order_release);
	tl_in_init = false;
	return ok;
}

/* Initialize at load time too, so that the first allocation of the host
 * does not pay for it (it may still come earlier, from another library). */
__attribute__((constructor(101))) static void heap_constructor(void)
{
	gh__init();
	gh__leak_init();
}

/* GLASSHEAP_REPORT at exit. It lives here, in an object every program that
 * uses glassheap links, and not in report.c: from libglassheap.a the linker
 * takes report.o only when the program calls gh_report_write itself. */
__attribute__((destructor)) static void report_at_exit(void)
{
	if (gh__opt.report_path) {
		int rc = gh_report_write(gh__opt.report_path);
		if (rc)
			gh__log("cannot write the report to %s: %s", gh__opt.report_path, strerror(rc));
	}
}
