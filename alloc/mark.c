/*
 * mark.c -- reachability: roots, marking, leak classes, referrers, and
 * collection of unreachable objects of collectable types.
 *
 * gh__mark_run stops the world (world.c) inside a dl_iterate_phdr callback,
 * so no module can be unmapped while its globals are scanned, then:
 *
 *   pass 1  from the roots, follow pointers to object STARTS: "reachable";
 *           interior pointers met on the way are remembered (bitmap C)
 *   pass 2  from objects hit only by interior pointers, follow everything:
 *           "possibly lost" (valgrind's term)
 *   walk    count every live object, list the ones neither pass reached (the
 *           passes counted what they reached, by type, as they scanned it)
 *   pass 3  cliques among the lost (valgrind's algorithm): a lost object
 *           pointed to by another lost object is "indirectly lost"; the
 *           rest are "definitely lost" (a leaked cycle has one leader)
 *   collect the lost objects of collectable types are unpublished (start
 *           byte, header state, counters) while the world is still stopped,
 *           so that what is freed is exactly what was proven unreachable;
 *           their memory goes back to jemalloc after resume (jemalloc takes
 *           locks a stopped thread may hold). Nothing is collected when a
 *           thread could not be stopped precisely (world.c, GH_HELD_BLOCKED).
 *
 * Roots: registered ranges (gh_root_add), every thread's registers, stack
 * and static TLS / thread control block, the writable segments of every
 * loaded module, and the program's own anonymous mappings (mapped.c:
 * their readable pages in memory or swap; GLASSHEAP_MAPPED_ROOTS=off leaves them
 * out). A stack is scanned from the interrupted stack pointer (red
 * zone included) to the end of what holds it: the thread's own stack below
 * its TLS, the mapping, or -- for a coroutine or green thread running on a
 * heap block -- that block. A thread found running off its own stack (on a
 * signal alternate stack, or a coroutine's) has its own stack scanned too,
 * whole (its pages in memory or swap), since its suspended frames hold pointers. Scanning is conservative (any aligned word that
 * points into a live object), precise for types registered with pointer
 * offsets, and skips GH_TYPE_NO_SCAN types.
 *
 * Passes 1 and 2 are marked by this thread and helper threads when there are CPUs
 * for them (par, "Marking in parallel" in docs/architecture.md): started
 * before the first stop, exempt from the stops, asleep between passes.
 *
 * While the world is stopped nothing here allocates: bitmaps, mark stack,
 * lost list and result tables live in a work area mapped once (MAP_NORESERVE)
 * before the first stop and released (MADV_DONTNEED) after each run. The
 * result is copied to heap memory, collectable garbage is freed, and
 * everything that can allocate (names, symbolization) happens after resume.
 */
#include "internal.h"
#include "elfseg.h"

#include "dominators.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The marker reads memory other threads own: their stacks, heap objects, and
 * the headers of blocks written by threads that have exited unjoined
 * (detached), whose writes no sanitizer sees synchronized with us. The
 * functions that do so are not instrumented (bdwgc's GC_mark_from does the
 * same); the stop protocol (world.c) is what orders these reads.
 */
#define GH_MARKER __attribute__((no_sanitize("address", "thread")))

#define MAX_REG_ROOTS 1024
#define VTABLE_MAX_CHECK 20 /* words of a candidate vtable looked at (valgrind's bound) */
#define STACK_SLOTS ((size_t)1 << 27)   /* mark stack entries (virtual) */
#define LOST_SLOTS ((size_t)1 << 26)
#define REF_SLOTS ((size_t)1 << 20)
#define SITE_SLOTS ((size_t)1 << 16)
#define DEFER_SLOTS ((size_t)1 << 22) /* per marking thread (virtual: touched as used) */
#define PTHREAD_TCB_SPAN 2560            /* struct pthread after the thread pointer */
/* glibc keeps a thread's dynamic thread vector (dtv) in a calloc'ed block
 * and its TCB points one entry (16 bytes) into it: an interior pointer that
 * would make every thread's dtv "possibly lost". The TCB's dtv word, by the
 * thread pointer (tcbhead_t.dtv), is read as a pointer to the block's start. */
#if defined(__x86_64__)
#define DTV_IN_TCB 8 /* tcbhead_t { void *tcb; dtv_t *dtv; ... } at tp */
#elif defined(__aarch64__)
#define DTV_IN_TCB 0 /* tcbhead_t { dtv_t *dtv; void *private; } at tp */
#else
#define DTV_IN_TCB (-1)
#endif
#define DTV_ENTRY 16 /* sizeof(dtv_t): the TCB points at dtv[1] */
#define RED_ZONE 128
#define RESIDENT_PAGES 16384             /* a whole-stack scan asks mincore 64 MiB at a time */
#define LOOSE_STACK_SPAN ((uintptr_t)64 << 10) /* a stack pointer in the cage outside any block */

/* ---- Registered roots ------------------------------------------------------------- */

struct reg_root {
	uintptr_t addr;
	size_t len;
	char name[64];
};

static struct reg_root reg_roots[MAX_REG_ROOTS];
static int n_reg_roots;
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;

int gh_root_add(const void *addr, size_t len, const char *name)
{
	if (!addr || len == 0 || !name || !*name || strlen(name) >= sizeof reg_roots[0].name)
		return EINVAL;
	pthread_mutex_lock(&roots_lock);
	int i = 0;
	while (i < n_reg_roots && reg_roots[i].addr != (uintptr_t)addr)
		i++;
	if (i == n_reg_roots) {
		if (n_reg_roots == MAX_REG_ROOTS) {
			pthread_mutex_unlock(&roots_lock);
			return ENOSPC;
		}
		n_reg_roots++;
	}
	reg_roots[i].addr = (uintptr_t)addr;
	reg_roots[i].len = len;
	snprintf(reg_roots[i].name, sizeof reg_roots[i].name, "%s", name);
	pthread_mutex_unlock(&roots_lock);
	return 0;
}

static pthread_mutex_t totals_lock;

void gh__mark_atfork_prepare(void)
{
	pthread_mutex_lock(&roots_lock);
	pthread_mutex_lock(&totals_lock);
}

void gh__mark_atfork_parent(void)
{
	pthread_mutex_unlock(&totals_lock);
	pthread_mutex_unlock(&roots_lock);
}

static void par_atfork_child(void);
static void par_reset(void);

void gh__mark_atfork_child(void)
{
	pthread_mutex_init(&roots_lock, NULL);
	pthread_mutex_init(&totals_lock, NULL);
	par_atfork_child();
}

int gh_root_remove(const void *addr)
{
	int rc = ENOENT;
	pthread_mutex_lock(&roots_lock);
	for (int i = 0; i < n_reg_roots; i++)
		if (reg_roots[i].addr == (uintptr_t)addr) {
			reg_roots[i] = reg_roots[--n_reg_roots];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&roots_lock);
	return rc;
}

/* ---- Work area (mapped before the first stop) ------------------------------------------ */

struct ref_slot {
	uint32_t src; /* type id, or GH_TYPE_IDS + root index */
	uint32_t dst; /* type id */
	uint64_t count;
};

struct site_slot {
	uint32_t site; /* 0 = empty; site 0 stored as UINT32_MAX */
	uint32_t type;
	uint32_t stack; /* trace stack id (traced blocks), else 0 */
	uint32_t heur;  /* GH_HEUR_*: rows of objects reachable via a heuristic */
	uint64_t count[GH_LEAK_CLASSES];
	uint64_t bytes[GH_LEAK_CLASSES];
};

struct root_rec {
	int kind;
	int tid;
	char name[96];
	uintptr_t lo, hi;
	uintptr_t dtv_at; /* TLS roots: where the thread's TCB keeps its dtv pointer, or 0 */
};

enum { CAND_N = 32, OBJ_N = 16 };

/* A loaded module's PT_LOAD segment, the part backed by its file (p_filesz):
 * where the multipleinheritance heuristic looks for vtables and the
 * functions they point to. Reading there never faults (unlike any file
 * mapping: a page past a truncated file's end raises SIGBUS). */
struct seg {
	uintptr_t lo, hi;
	bool exec;
};
#define SEG_SLOTS 16384 /* the marking pipeline's FIFOs (see offer) */

struct cand {
	uintptr_t w;
	uint32_t src;
};

/* A pass-1 object reached through a heuristic while the markers run in
 * parallel: marked afterwards, by the requesting thread alone (see par). */
struct deferred {
	uintptr_t u;
	int heur;
};

struct reach_ctr {
	uint64_t count, bytes;
};

/*
 * One marking thread's own state: its mark stack, its candidate FIFO, and
 * what it counts. w0 is the requesting thread's; the helpers' (par) are
 * used in passes 1 and 2. The stack is a deque: a thread pops and pushes at
 * sp and gives work away from lo, the oldest entries (nearest the roots,
 * the largest subgraphs) without moving the rest.
 */
struct worker {
	uintptr_t *stack;         /* [STACK_SLOTS] mark stack entries (STK_ENTRY) */
	size_t lo, sp;
	struct cand *cand;        /* [CAND_N]: in here, so that no root holds its stale words */
	unsigned cand_head, cand_n;
	uint64_t scanned_bytes;
	struct reach_ctr *reached; /* helpers: [GH_TYPE_IDS] this pass's counts; w0: NULL (mk.by_type) */
	struct site_slot *sites;  /* helpers: [SITE_SLOTS] pass 2's per-site counts; w0: NULL (mk.sites) */
	uint32_t *site_used;
	size_t nsites;
	struct deferred *defer;   /* [DEFER_SLOTS] */
	size_t ndefer;
	bool idle;                /* counted in par.idle */
	unsigned since_share;     /* objects scanned since the last look at the others */
} __attribute__((aligned(128))); /* written all the time by its thread: lines of its own (and
				    the adjacent-line prefetch's), away from mk's read-mostly fields */

struct marker {
	size_t bitmap_words;         /* per bitmap, covering the whole cage */
	size_t max_roots;            /* roots table entries: 3 per thread slot + modules */
	bool roots_full;             /* a root did not fit: the pass fails (E2BIG) */
	uintptr_t *collected;        /* [LOST_SLOTS] unpublished while stopped, freed after */
	size_t ncollected;
	uint64_t collected_bytes;
	unsigned char *resident;     /* mincore() vector for a whole-stack scan */
	uint64_t *pagemap;           /* [RESIDENT_PAGES] /proc/self/pagemap entries, the same */
	int pagemap_fd;              /* open while the world is stopped, else -1 */
	uint32_t *slot_root;         /* [world cap] index of each thread slot's first root */
	uint64_t *reach, *possible, *interior, *indirect, *scanned;
	uint64_t *heur;              /* reached via a heuristic (and no start pointer yet) */
	uint64_t *heur_kind[3];      /* its enum gh_leak_heuristic, bit by bit */
	bool any_heur;               /* a heur bit was set in this pass */
	size_t self_root;            /* the stack root of the thread running the pass */
	unsigned heur_on;            /* 1 << GH_HEUR_* for the heuristics in use */
	size_t noffsets;
	uint32_t offsets[GH_LEAK_OFFSETS_MAX];
	struct gh_gc_class_stats heur_stats[GH_HEURISTICS];
	struct seg *segs;            /* [SEG_SLOTS] the modules' file-backed segments, by address */
	size_t nsegs;
	struct gh_gc_class_stats ignored;
	uintptr_t *lost;
	size_t nlost;
	bool lost_overflow, stack_overflow;
	const char *no_collect_why;  /* why this pass frees nothing, or NULL (it may free) */
	struct ref_slot *refs;
	uint32_t *ref_used;          /* indexes of the claimed refs slots, in order */
	size_t nrefs;
	bool refs_full;
	struct site_slot *sites;
	uint32_t *site_used;         /* indexes of the claimed sites slots */
	size_t nsites;
	struct gh_gc_class_stats (*by_type)[GH_LEAK_CLASSES]; /* [GH_TYPE_IDS] */
	struct root_rec *roots;
	size_t nroots;
	struct gh_gc_class_stats root_kind[GH_ROOT_KINDS];
	bool want_refs;
	/* The dominator pass (gh__mark_dominators): the graph recorded. */
	bool dom;
	bool dom_full;               /* the work limit was reached: recording stopped */
	bool dom_range;              /* the cage span does not fit the log's granules */
	uint32_t dom_src;            /* the source entry of the words being scanned */
	uint32_t dom_open;           /* the source of the log's last block */
	uint32_t dom_last;           /* the last granule logged (repeats skipped) */
	uint32_t *dom_log;
	size_t dom_nlog, dom_log_cap;
	struct gh_dom_node_rec *dom_nodes;
	size_t dom_nnodes, dom_nodes_cap;
	size_t dom_want_log, dom_want_nodes; /* what a complete record takes (counted past the limit) */
	size_t dom_limit, dom_fixed;  /* bytes of work allowed; the part not per node or entry */
	int pass;
	bool reached_fast;           /* pass 1 without referrers or the dominators' graph (consider_in) */
	bool par;                    /* reached_fast and helpers: bitmaps are shared (atomic updates) */
	uint64_t *hclaim;            /* objects deferred by a helper-era heuristic hit (struct deferred) */
	uint64_t helper_objects;     /* objects the helpers scanned (par_merge) */
	uint32_t mark_threads;       /* threads that marked pass 1 */
	uintptr_t base, top;
};

static struct marker mk;
static struct worker w0; /* the requesting thread's */
static bool have_avx2; /* scan_range's words four at a time (work_init) */
static size_t tls_static_size = 8192;
static char exe_name[256] = "main";
/* (its own lock: reading it never waits for a pass, which holds roots_lock) */
static struct gh_gc_totals totals;
static pthread_mutex_t totals_lock = PTHREAD_MUTEX_INITIALIZER;

static void *work_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int work_init(void)
{
	if (mk.reach)
		return 0;
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2") && !getenv("GLASSHEAP_NO_AVX2");
#endif
	size_t granules = gh__cage.size >> GH_GRANULE_LG;
	mk.bitmap_words = (granules + 63) / 64;
	size_t bm = mk.bitmap_words * sizeof(uint64_t);
	/* Bitmaps and mark stack are read at random: huge pages if THP allows */
	mk.reach = gh__map_work(bm);
	mk.possible = gh__map_work(bm);
	mk.interior = gh__map_work(bm);
	mk.indirect = gh__map_work(bm);
	mk.scanned = gh__map_work(bm);
	mk.heur = gh__map_work(bm);
	for (int k = 0; k < 3; k++)
		mk.heur_kind[k] = work_map(bm);
	w0.stack = gh__map_work(STACK_SLOTS * sizeof(uintptr_t));
	w0.cand = work_map(CAND_N * sizeof(struct cand));
	w0.defer = work_map(DEFER_SLOTS * sizeof(struct deferred));
	mk.hclaim = work_map(bm);
	mk.segs = work_map(SEG_SLOTS * sizeof(struct seg));
	mk.lost = work_map(LOST_SLOTS * sizeof(uintptr_t));
	mk.refs = work_map(REF_SLOTS * sizeof(struct ref_slot));
	mk.sites = work_map(SITE_SLOTS * sizeof(struct site_slot));
	mk.ref_used = work_map(REF_SLOTS * sizeof(uint32_t));
	mk.site_used = work_map(SITE_SLOTS * sizeof(uint32_t));
	mk.by_type = work_map(sizeof(*mk.by_type) * GH_TYPE_IDS);
	mk.max_roots = gh__world.cap * 3 + 65536;
	mk.roots = work_map(sizeof(struct root_rec) * mk.max_roots);
	mk.collected = work_map(LOST_SLOTS * sizeof(uintptr_t));
	mk.resident = work_map(RESIDENT_PAGES);
	mk.pagemap = work_map(RESIDENT_PAGES * sizeof(uint64_t));
	mk.slot_root = work_map(gh__world.cap * sizeof(uint32_t));
	if (!mk.reach || !mk.possible || !mk.interior || !mk.indirect || !mk.scanned || !w0.stack || !w0.cand || !mk.lost ||
	    !w0.defer || !mk.hclaim ||
	    !mk.refs || !mk.sites || !mk.ref_used || !mk.site_used || !mk.by_type || !mk.roots || !mk.collected ||
	    !mk.resident || !mk.pagemap || !mk.slot_root || !mk.heur || !mk.segs || !mk.heur_kind[0] || !mk.heur_kind[1] || !mk.heur_kind[2]) {
		mk.reach = NULL;
		return ENOMEM;
	}
	ssize_t n = readlink("/proc/self/exe", exe_name, sizeof exe_name - 1);
	exe_name[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		strcpy(exe_name, "main");
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	if (info) {
		size_t sz = 0, al = 0;
		info(&sz, &al);
		if (sz > 0 && sz < ((size_t)16 << 20))
			tls_static_size = sz;
	}
	return 0;
}

/* Touches the bitmaps' pages for the heap as it is now (plus 1/8 for growth)
 * before the world stops: a page fault inside the pause may wait for the
 * kernel to zero, even compact, a huge page (THP defrag=madvise). They are
 * zero already (fresh or MADV_DONTNEED): writing zeros only faults them in. */
static void prefault_bitmaps(void)
{
	size_t heap = atomic_load(&gh__cage.top) - gh__cage.base;
	heap += heap / 8;
	size_t words = (heap >> GH_GRANULE_LG) / 64 + 1;
	if (words > mk.bitmap_words)
		words = mk.bitmap_words;
	uint64_t *maps[] = {mk.reach, mk.possible, mk.interior, mk.indirect, mk.scanned, mk.heur};
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
		memset(maps[i], 0, words * sizeof(uint64_t));
}

/* Makes the work area zero again for the next pass. Small parts are zeroed
 * in place and stay mapped, so that the next pause does not fault them in
 * again (a huge page costs 2 MiB of zeroing per fault); large ones are given
 * back (MADV_DONTNEED: they read as zero next time). */
#define KEEP_BYTES ((size_t)2 << 20)

/* used: the bytes a pass may have written (the cage top only grows, so no
 * earlier pass wrote beyond it). */
static void reset_range(void *p, size_t used, size_t all)
{
	if (used <= KEEP_BYTES)
		memset(p, 0, used);
	else
		madvise(p, all, MADV_DONTNEED);
}

static void work_reset(void)
{
	size_t used_words = ((mk.top - mk.base) >> GH_GRANULE_LG) / 64 + 1;
	size_t bm = used_words * sizeof(uint64_t);
	size_t bm_all = (bm + 4095) & ~(size_t)4095;
	uint64_t *maps[] = {mk.reach,	    mk.possible,     mk.interior,     mk.indirect, mk.scanned,
			    mk.heur,	    mk.heur_kind[0], mk.heur_kind[1], mk.heur_kind[2], mk.hclaim};
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
		reset_range(maps[i], bm, bm_all);
	mk.any_heur = false;
	memset(mk.heur_stats, 0, sizeof mk.heur_stats);
	memset(&mk.ignored, 0, sizeof mk.ignored);
	/* The mark stack and lost list are read only below their tops: no zeroing. */
	madvise((char *)w0.stack + KEEP_BYTES, STACK_SLOTS * sizeof(uintptr_t) - KEEP_BYTES, MADV_DONTNEED);
	madvise((char *)w0.defer + KEEP_BYTES, DEFER_SLOTS * sizeof(struct deferred) - KEEP_BYTES, MADV_DONTNEED);
	par_reset();
	madvise((char *)mk.lost + KEEP_BYTES, LOST_SLOTS * sizeof(uintptr_t) - KEEP_BYTES, MADV_DONTNEED);
	if (mk.ncollected * sizeof(uintptr_t) > KEEP_BYTES)
		madvise(mk.collected, LOST_SLOTS * sizeof(uintptr_t), MADV_DONTNEED);
	mk.ncollected = 0;
	mk.collected_bytes = 0;
	mk.roots_full = false;
	mk.no_collect_why = NULL;
	mk.pagemap_fd = -1;
	if (mk.nrefs * sizeof(struct ref_slot) <= KEEP_BYTES / 8) {
		for (size_t k = 0; k < mk.nrefs; k++)
			memset(&mk.refs[mk.ref_used[k]], 0, sizeof(struct ref_slot));
	} else {
		madvise(mk.refs, REF_SLOTS * sizeof(struct ref_slot), MADV_DONTNEED);
	}
	if (mk.nsites * sizeof(struct site_slot) <= KEEP_BYTES / 8) {
		for (size_t k = 0; k < mk.nsites; k++)
			memset(&mk.sites[mk.site_used[k]], 0, sizeof(struct site_slot));
	} else {
		madvise(mk.sites, SITE_SLOTS * sizeof(struct site_slot), MADV_DONTNEED);
	}
	memset(mk.by_type, 0, sizeof(*mk.by_type) * ((size_t)gh_type_count() + 1));
	mk.nlost = mk.nrefs = mk.nsites = mk.nroots = mk.nsegs = 0;
	w0.lo = w0.sp = 0;
	w0.scanned_bytes = 0;
	w0.ndefer = 0;
	mk.par = false;
	mk.helper_objects = 0;
	mk.mark_threads = 1;
	mk.lost_overflow = mk.stack_overflow = mk.refs_full = false;
	memset(mk.root_kind, 0, sizeof mk.root_kind);
	mk.dom = mk.dom_full = mk.dom_range = false;
	mk.dom_log = NULL;
	mk.dom_nodes = NULL;
	mk.dom_nlog = mk.dom_nnodes = mk.dom_log_cap = mk.dom_nodes_cap = 0;
	mk.dom_want_log = mk.dom_want_nodes = 0;
	mk.dom_src = mk.dom_open = mk.dom_last = 0;
}

/* ---- Bitmaps ------------------------------------------------------------------------------ */

GH_INLINE size_t gran(uintptr_t user)
{
	return (user - mk.base) >> GH_GRANULE_LG;
}
/* Loads are relaxed atomics: in pass 1 other marking threads may set bits
 * in the same words (the same mov as a plain load). */
GH_INLINE bool bit_get(const uint64_t *bm, uintptr_t user)
{
	size_t g = gran(user);
	return (__atomic_load_n(&bm[g >> 6], __ATOMIC_RELAXED) >> (g & 63)) & 1;
}
GH_INLINE void bit_set(uint64_t *bm, uintptr_t user)
{
	size_t g = gran(user);
	bm[g >> 6] |= UINT64_C(1) << (g & 63);
}
/* For bitmaps other threads update at the same time (mk.par). */
GH_INLINE void bit_set_shared(uint64_t *bm, uintptr_t user)
{
	size_t g = gran(user);
	__atomic_fetch_or(&bm[g >> 6], UINT64_C(1) << (g & 63), __ATOMIC_RELAXED);
}
/* Sets the bit; true if this call set it (of racing threads, exactly one
 * is told so: the one that pushes the object). */
GH_INLINE bool bit_claim(uint64_t *bm, uintptr_t user)
{
	size_t g = gran(user);
	uint64_t m = UINT64_C(1) << (g & 63);
	return !(__atomic_fetch_or(&bm[g >> 6], m, __ATOMIC_RELAXED) & m);
}

/* ---- Referrer edges ------------------------------------------------------------------------ */

static void refer(uint32_t src, uint32_t dst)
{
	size_t i = ((size_t)src * 2654435761u ^ (size_t)dst * 40503u) & (REF_SLOTS - 1);
	for (size_t probes = 0; probes < REF_SLOTS; probes++) {
		struct ref_slot *r = &mk.refs[i];
		if (r->count == 0) {
			if (mk.nrefs * 4 >= REF_SLOTS * 3) {
				mk.refs_full = true;
				return;
			}
			r->src = src;
			r->dst = dst;
			r->count = 1;
			mk.ref_used[mk.nrefs++] = (uint32_t)i;
			return;
		}
		if (r->src == src && r->dst == dst) {
			r->count++;
			return;
		}
		i = (i + 1) & (REF_SLOTS - 1);
	}
}

/* ---- Scanning ------------------------------------------------------------------------------- */

static void site_add(struct site_slot *tab, uint32_t *used, size_t *n, uint32_t key, uint32_t type, uint32_t stack,
		     uint32_t heur, int cls, uint64_t count, uint64_t bytes);
static void count_site(struct worker *me, const struct gh_meta *m, int cls, int heur);

/* The metadata of a live object while the world is stopped (its start
 * byte is live: the marker only ever holds published starts). */
GH_INLINE void obj_meta(uintptr_t u, struct gh_meta *m)
{
	gh__meta_decode(u, gh__start_at(u), m);
}

/* Passes 1 and 2 count each object they reach (reachable, possibly lost)
 * while its metadata is at hand, so that the classification walk afterwards
 * reads the metadata of unreached objects only. The site only for the
 * possibly lost ones: reachable objects need nothing but type and size. */
GH_INLINE void count_reached(struct worker *me, uintptr_t u, unsigned start, gh_type_t type, size_t size)
{
	int cls = mk.pass == 1 ? GH_REACHABLE : GH_POSSIBLY_LOST;
	if (me->reached) { /* a helper: its own counts, summed after the pass (par_merge) */
		me->reached[type].count++;
		me->reached[type].bytes += size;
	} else {
		mk.by_type[type][cls].count++;
		mk.by_type[type][cls].bytes += size;
	}
	if (cls != GH_REACHABLE) {
		struct gh_meta m;
		gh__meta_decode(u, start, &m);
		count_site(me, &m, cls, GH_HEUR_NONE);
	}
}

/* A mark stack entry: the object and its start byte in the top byte, so
 * that popping it can prefetch its metadata without a load of the start
 * map (a likely miss on a large heap, which the prefetch would wait for). */
#define STK_ENTRY(u, start) ((u) | (uintptr_t)(start) << 56)
#define STK_U(e) ((e) & ((UINT64_C(1) << 56) - 1))
#define STK_START(e) ((unsigned)((e) >> 56))

GH_MARKER static void push(struct worker *me, uintptr_t u, unsigned start)
{
	gh_assert(u >= mk.base && u < mk.top && (u & 15) == 0 && start == gh__start_at(u));
	if (me->sp < STACK_SLOTS) {
		me->stack[me->sp++] = STK_ENTRY(u, start);
		return;
	}
	/* Marked but never scanned: the result says truncated; the counts
	 * still include the object. */
	__atomic_store_n(&mk.stack_overflow, true, __ATOMIC_RELAXED);
	if (mk.pass != 3) {
		size_t size;
		gh_type_t type = gh__obj_type_size(u, start, &size);
		count_reached(me, u, start, type, size);
	}
}

/* ---- Heuristics ----------------------------------------------------------------------------- */

const char *const gh__heuristic_names[GH_HEURISTICS] = {
	[GH_HEUR_NONE] = "none",
	[GH_HEUR_STDSTRING] = "stdstring",
	[GH_HEUR_LENGTH64] = "length64",
	[GH_HEUR_NEWARRAY] = "newarray",
	[GH_HEUR_MULTIPLE_INHERITANCE] = "multipleinheritance",
	[GH_HEUR_OFFSET] = "offset",
};

/* Does ptr look like a vtable address: inside a loaded module's file-backed
 * segment, and among its first VTABLE_MAX_CHECK words (within that segment)
 * at least two non-null ones, every non-null one before them pointing into
 * an executable segment? valgrind's test, with the modules' segments for its
 * file mappings (the same memory for ELF objects; the segments are read
 * before the stop, and never fault). */
static const struct seg *seg_of(uintptr_t addr);

GH_MARKER static bool is_vtable(uintptr_t ptr)
{
	const struct seg *r = seg_of(ptr);
	if (!r || r->hi - r->lo < sizeof(uintptr_t))
		return false;
	uintptr_t end = r->hi - sizeof(uintptr_t);
	uintptr_t last = ptr + VTABLE_MAX_CHECK * sizeof(uintptr_t);
	if (last > end)
		last = end;
	int fns = 0;
	for (uintptr_t p = ptr; p <= last; p += sizeof(uintptr_t)) {
		uintptr_t fn = *(const volatile uintptr_t *)p;
		if (fn == 0)
			continue;
		const struct seg *f = seg_of(fn);
		if (!f || !f->exec)
			return false;
		if (++fns == 2)
			return true;
	}
	return false;
}

GH_INLINE bool plausible_vptr(uintptr_t v)
{
	return (v & 7) == 0 && v >= 4096;
}

/* Which heuristic, if any, makes the interior pointer w a pointer to the
 * object at u (valgrind's order: stdstring, length64, newarray,
 * multipleinheritance; then the declared offsets). Reads only the object's
 * own bytes, which are in the cage (always readable). */
GH_MARKER static int heuristic_of(uintptr_t w, uintptr_t u)
{
	size_t size = gh__obj_size(u, gh__start_at(u));
	uintptr_t off = w - u;
	const volatile uint64_t *q = (const volatile uint64_t *)u;
	unsigned on = mk.heur_on;
	if ((on & (1u << GH_HEUR_STDSTRING)) && off == 24 && size >= 24) {
		uint64_t cap = q[1];
		if (3 * 8 + cap + 1 == size && q[0] <= cap)
			return GH_HEUR_STDSTRING;
	}
	if ((on & (1u << GH_HEUR_LENGTH64)) && off == 8 && size >= 8) {
		uint64_t len = q[0];
		if (len > 0 && size - 8 == len)
			return GH_HEUR_LENGTH64;
	}
	if ((on & (1u << GH_HEUR_NEWARRAY)) && off == 8 && size >= 8) {
		uint64_t n = q[0];
		if (n > 0 && (size - 8) % n == 0)
			return GH_HEUR_NEWARRAY;
	}
	if ((on & (1u << GH_HEUR_MULTIPLE_INHERITANCE)) && (w & 7) == 0 && off + 8 <= size && size >= 8) {
		uintptr_t inner = *(const volatile uintptr_t *)w, first = q[0];
		if (plausible_vptr(inner) && plausible_vptr(first) && is_vtable(inner) && is_vtable(first))
			return GH_HEUR_MULTIPLE_INHERITANCE;
	}
	for (size_t i = 0; i < mk.noffsets; i++)
		if (off == mk.offsets[i])
			return GH_HEUR_OFFSET;
	return GH_HEUR_NONE;
}

GH_INLINE void heur_set(uintptr_t u, int k)
{
	bit_set(mk.heur, u);
	for (int b = 0; b < 3; b++)
		if (k & (1 << b))
			bit_set(mk.heur_kind[b], u);
	mk.any_heur = true;
}

GH_INLINE int heur_get(uintptr_t u)
{
	int k = 0;
	for (int b = 0; b < 3; b++)
		k |= (int)bit_get(mk.heur_kind[b], u) << b;
	return k;
}

/* A start pointer reached an object first reached via a heuristic: it is
 * plainly reachable (valgrind clears the heuristic the same way). */
GH_INLINE void heur_clear(uintptr_t u)
{
	size_t g = gran(u);
	__atomic_fetch_and(&mk.heur[g >> 6], ~(UINT64_C(1) << (g & 63)), __ATOMIC_RELAXED);
}

/* Pass 1 in parallel: an object an interior pointer reaches through a
 * heuristic is not marked at once. Heuristic bits are set only while one
 * thread marks (defer_apply), and cleared by start pointers at any time,
 * so no set can race a clear: the outcome is the serial one. The first
 * thread to claim the object lists it. */
GH_MARKER static void defer(struct worker *me, uintptr_t u, int k)
{
	if (!bit_claim(mk.hclaim, u))
		return;
	if (me->ndefer < DEFER_SLOTS) {
		me->defer[me->ndefer++] = (struct deferred){u, k};
		return;
	}
	/* no room: the object stays for pass 2 ("possibly lost", never
	 * collected) and the result says truncated */
	bit_set_shared(mk.interior, u);
	__atomic_store_n(&mk.stack_overflow, true, __ATOMIC_RELAXED);
}

/* ---- The dominator pass's graph ------------------------------------------------------------ */

/* Room for one more log entry or node record within the work limit? Past
 * the limit the recording stops but the counting goes on (dom_want_*), so
 * that the refusal can say how much the heap would need. */
GH_INLINE bool dom_room(void)
{
	if (mk.dom_full)
		return false;
	size_t need = gh__dom_need(mk.dom_want_nodes, mk.nroots, mk.dom_want_log, 0) + mk.dom_fixed;
	if (need > mk.dom_limit || mk.dom_want_log > mk.dom_log_cap || mk.dom_want_nodes > mk.dom_nodes_cap) {
		mk.dom_full = true;
		return false;
	}
	return true;
}

/* An edge from src (a source entry: GH_DOM_OBJ or GH_DOM_ROOT) to the
 * object at u. The candidate FIFO delays words, so one source's edges may
 * come in several blocks, between other sources' blocks. */
GH_MARKER static void dom_edge(uintptr_t u, uint32_t src)
{
	uint32_t g = (uint32_t)gran(u);
	if (mk.dom_open != src) {
		mk.dom_want_log++;
		if (dom_room())
			mk.dom_log[mk.dom_nlog++] = src;
		mk.dom_open = src;
	} else if (mk.dom_last == g) {
		return; /* the same target again: one edge is enough */
	}
	mk.dom_last = g;
	mk.dom_want_log++;
	if (dom_room())
		mk.dom_log[mk.dom_nlog++] = g;
}

/* The object about to be scanned: a node, and the source of what follows. */
GH_MARKER static void dom_node(uintptr_t u, const struct gh_meta *m)
{
	uint32_t g = (uint32_t)gran(u);
	mk.dom_src = GH_DOM_OBJ | g;
	mk.dom_want_nodes++;
	if (!dom_room())
		return;
	struct gh_dom_node_rec *n = &mk.dom_nodes[mk.dom_nnodes++];
	n->gran = g;
	n->site = gh__meta_site(m);
	n->tsz = GH_DOM_TSZ(m->type, m->size);
}

/* One candidate word found in a source (an object of type src, or a root). */
/* consider for a word already known to lie in the cage (the FIFO's). */
GH_INLINE void consider_in(struct worker *me, uintptr_t w, uint32_t src)
{
	uintptr_t u;
	/* An object already marked costs one bit: a reach bit is only ever set
	 * at a live object's start, so the start map need not be read (the
	 * bitmap is 8x denser, more often in cache). */
	if (mk.reached_fast && (w & 15) == 0 && bit_get(mk.reach, w)) {
		if (gh_unlikely(mk.any_heur) && bit_get(mk.heur, w))
			heur_clear(w);
		return;
	}
	unsigned b;
	if ((w & 15) == 0 && gh__start_live(b = gh__start_at(w))) {
		/* A pointer to an object's start, the common case: the start map
		 * is the authority on liveness, so no metadata read is needed. */
		u = w;
	} else if ((u = gh__heap_lookup(w)) != 0) {
		b = gh__start_at(u);
	} else {
		return;
	}
	if (mk.want_refs) {
		struct gh_meta m;
		gh__meta_decode(u, b, &m);
		refer(src, m.type);
	}
	if (mk.dom)
		dom_edge(u, src); /* src: the source entry in this mode */
	switch (mk.pass) {
	case 1:
		if (mk.par) { /* other threads mark too (par) */
			if (w == u) {
				if (bit_claim(mk.reach, u))
					push(me, u, b);
				else if (mk.any_heur && bit_get(mk.heur, u))
					heur_clear(u);
			} else if (!bit_get(mk.reach, u)) {
				int k = mk.heur_on ? heuristic_of(w, u) : GH_HEUR_NONE;
				if (k != GH_HEUR_NONE)
					defer(me, u, k);
				else
					bit_set_shared(mk.interior, u);
			}
		} else if (w == u || mk.dom) { /* dominators: interior pointers are edges too */
			if (!bit_get(mk.reach, u)) {
				bit_set(mk.reach, u);
				push(me, u, b);
			} else if (mk.any_heur && bit_get(mk.heur, u)) {
				heur_clear(u);
			}
		} else if (!bit_get(mk.reach, u)) {
			int k = mk.heur_on ? heuristic_of(w, u) : GH_HEUR_NONE;
			if (k != GH_HEUR_NONE) {
				bit_set(mk.reach, u);
				heur_set(u, k);
				push(me, u, b);
			} else {
				bit_set(mk.interior, u);
			}
		}
		break;
	case 2:
		if (!bit_get(mk.reach, u) && !bit_get(mk.possible, u)) {
			if (!mk.par)
				bit_set(mk.possible, u);
			else if (!bit_claim(mk.possible, u))
				break; /* another thread has it */
			push(me, u, b);
		}
		break;
	case 3:
		if (!bit_get(mk.reach, u) && !bit_get(mk.possible, u) && !bit_get(mk.indirect, u)) {
			bit_set(mk.indirect, u);
			push(me, u, b);
		}
		break;
	}
}

GH_INLINE void consider(struct worker *me, uintptr_t w, uint32_t src)
{
	if (w - mk.base < mk.top - mk.base)
		consider_in(me, w, src);
}

/*
 * The marking pipeline. Every load the marker makes is a likely cache miss
 * (the start-map byte and mark-bit word of each candidate pointer, the
 * header and lines of each object to scan), and a straight loop would wait
 * for them one at a time. So work passes through two small FIFOs whose
 * entry prefetches what its exit will read, keeping a few dozen misses in
 * flight:
 *
 *   scan_object --words in the cage--> cand FIFO --consider--> mark stack
 *        ^   (prefetch start byte, mark word)          |
 *        |                                             v
 *        +------------ obj ring (prefetch header, first lines) <-- pop
 *
 * Deferring a candidate changes only when it is looked at, not the outcome:
 * every pass computes a set (and referrer counts, a sum).
 */
/* offer for a word already known to lie in the cage. */
GH_INLINE void offer_in(struct worker *me, uintptr_t w, uint32_t src)
{
	__builtin_prefetch(&gh__startmap_at[w >> GH_GRANULE_LG]);
	__builtin_prefetch(&mk.reach[gran(w) >> 6]);
	struct cand *c = &me->cand[(me->cand_head + me->cand_n) % CAND_N];
	if (me->cand_n == CAND_N) {
		/* full: the oldest (c, at the head) is considered, w takes its place */
		consider_in(me, c->w, c->src);
		me->cand_head = (me->cand_head + 1) % CAND_N;
	} else {
		me->cand_n++;
	}
	c->w = w;
	c->src = src;
}

GH_INLINE void offer(struct worker *me, uintptr_t w, uint32_t src)
{
	if (w - mk.base < mk.top - mk.base)
		offer_in(me, w, src);
}

/* Considers every deferred candidate (they may push objects). */
GH_MARKER static void cand_flush(struct worker *me)
{
	while (me->cand_n > 0) {
		struct cand *c = &me->cand[me->cand_head];
		me->cand_head = (me->cand_head + 1) % CAND_N;
		me->cand_n--;
		consider_in(me, c->w, c->src);
	}
}

/* The words of [p, hi) (8-aligned) that lie in [base, base + span),
 * offered in order. */
GH_MARKER static void scan_words(struct worker *me, uintptr_t p, uintptr_t hi, uint32_t src, uintptr_t base,
				 uintptr_t span)
{
	for (; p + 8 <= hi; p += 8) {
		uintptr_t w = *(const volatile uintptr_t *)p;
		if (w - base < span)
			offer_in(me, w, src);
	}
}

#if defined(__x86_64__)
#include <immintrin.h>
/* The same four words at a time, on CPUs with AVX2 (most words are no
 * pointers into the cage: one compare of four instead of four). The range
 * test is unsigned, AVX2 compares signed: both sides flip their top bit. */
__attribute__((target("avx2"))) GH_MARKER static void scan_words_avx2(struct worker *me, uintptr_t p, uintptr_t hi,
									 uint32_t src, uintptr_t base, uintptr_t span)
{
	const __m256i vbase = _mm256_set1_epi64x((long long)base);
	const __m256i vtop = _mm256_set1_epi64x(INT64_MIN);
	const __m256i vlim = _mm256_set1_epi64x((long long)(span ^ (uint64_t)INT64_MIN));
	for (; p + 32 <= hi; p += 32) {
		__m256i w = _mm256_loadu_si256((const __m256i *)p);
		__m256i x = _mm256_xor_si256(_mm256_sub_epi64(w, vbase), vtop);
		unsigned m = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(vlim, x)));
		for (; gh_unlikely(m != 0); m &= m - 1)
			offer_in(me, ((const volatile uintptr_t *)p)[__builtin_ctz(m)], src);
	}
	scan_words(me, p, hi, src, base, span);
}
#endif

/* Conservative scan of [lo, hi). Reads memory that other code owns: not
 * instrumented by the sanitizers (bdwgc's GC_mark_from does the same). */
GH_MARKER static void scan_range(struct worker *me, uintptr_t lo, uintptr_t hi, uint32_t src)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	if (hi < lo + 8)
		return;
	if (mk.dom)
		src = mk.dom_src; /* a candidate carries its source entry in this mode */
	me->scanned_bytes += hi - lo;
	/* The range test in registers: offer's stores to me->cand could alias W,
	 * so the compiler would reload mk.base and mk.top for every word. */
	const uintptr_t base = mk.base, span = mk.top - mk.base;
#if defined(__x86_64__)
	if (have_avx2) {
		scan_words_avx2(me, lo, hi, src, base, span);
		return;
	}
#endif
	scan_words(me, lo, hi, src, base, span);
}

GH_MARKER static void scan_object(struct worker *me, uintptr_t u, unsigned start)
{
	size_t size;
	uint32_t type = gh__obj_type_size(u, start, &size);
	if (mk.pass != 3)
		count_reached(me, u, start, type, size);
	if (mk.dom) {
		struct gh_meta m;
		gh__meta_decode(u, start, &m);
		dom_node(u, &m);
	}
	const gh_type_desc_t *d = gh__type_desc(type);
	if (d && (d->flags & GH_TYPE_NO_SCAN))
		return;
	if (d && d->n_ptr_offsets) {
		size_t stride = d->stride ? d->stride : size;
		me->scanned_bytes += size;
		for (size_t base = 0; base < size && stride; base += stride)
			for (size_t k = 0; k < d->n_ptr_offsets; k++) {
				size_t off = base + d->ptr_offsets[k];
				if (off + sizeof(uintptr_t) <= size)
					offer(me, *(const volatile uintptr_t *)(u + off), mk.dom ? mk.dom_src : type);
			}
		return;
	}
	scan_range(me, u, u + size, type);
}

/*
 * Passes 1 and 2 in parallel. The requesting thread marks alone until its stack
 * holds SHARE_MIN entries; then it opens a round, in which the helper
 * threads (started before the first stop and exempt from it, see
 * helpers_ensure) take part. A thread whose stack and FIFOs run dry counts
 * itself idle and waits on the shared pool; a busy thread that sees an
 * idle one and an empty pool moves the oldest half of its stack (up to
 * DONATE_MAX entries) there. The round ends when every thread is idle with
 * the pool empty: nothing can produce work any more. The reach bitmap is
 * claimed atomically (bit_claim), so each object is pushed -- and scanned
 * and counted -- exactly once, by whichever thread claimed it.
 */
#define PAR_MAX 8            /* marking threads, the requester included */
#define POOL_SLOTS 65536
#define SHARE_MIN 64         /* stack entries before a round is worth opening */
#define SHARE_EVERY 16       /* objects scanned between two looks at the others */
#define DONATE_MAX 4096

static struct {
	int want;                /* marking threads wanted (GLASSHEAP_MARK_THREADS), read once */
	int n;                   /* helpers started */
	_Atomic int ready;       /* of them, exempt from the stops (helper_main) */
	_Atomic int k;           /* helpers taking part in this pass (the first k) */
	struct worker wk[PAR_MAX - 1];
	_Atomic int phase;       /* PAR_SLEEP, PAR_ACTIVE (futex word) */
	_Atomic unsigned round;  /* moves when a round opens (futex word) */
	_Atomic int sleepers;    /* helpers in a futex wait on round */
	bool open;               /* the requester's view: a round is under way */
	_Atomic int lock;
	_Atomic int idle;        /* threads counted idle in this round */
	_Atomic int done;
	_Atomic int exited;      /* helpers out of this round */
	_Atomic size_t n_pool;
	_Atomic unsigned pool_gen; /* moves when the pool gains work or the round ends (futex word) */
	_Atomic int pool_sleepers; /* idle threads in a futex wait on pool_gen */
	uintptr_t *pool;         /* [POOL_SLOTS], mapped with the first helper */
} par;

enum { PAR_SLEEP, PAR_ACTIVE };

static void pool_lock(void)
{
	while (atomic_exchange_explicit(&par.lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&par.lock, memory_order_relaxed))
			gh__cpu_relax();
}

static void pool_unlock(void)
{
	atomic_store_explicit(&par.lock, 0, memory_order_release);
}

/* Opens a round: the helpers, counted idle, take what the requester gives. */
static void round_open(void)
{
	w0.idle = false;
	for (int i = 0; i < par.k; i++)
		par.wk[i].idle = true;
	atomic_store(&par.idle, par.k);
	atomic_store(&par.done, 0);
	atomic_store(&par.exited, 0);
	par.open = true;
	atomic_fetch_add(&par.round, 1);
	if (atomic_load(&par.sleepers) > 0)
		syscall(SYS_futex, &par.round, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void pool_wake(void);

/* A busy thread's look at the others: open a round (the requester), or
 * give the oldest half of the stack to an idle thread. */
GH_MARKER static void share(struct worker *me)
{
	me->since_share = 0;
	if (me->sp - me->lo < SHARE_MIN)
		return;
	if (me == &w0 && !par.open) {
		round_open();
		return;
	}
	if (atomic_load_explicit(&par.idle, memory_order_relaxed) == 0 ||
	    atomic_load_explicit(&par.n_pool, memory_order_relaxed) != 0)
		return;
	pool_lock();
	size_t n = atomic_load_explicit(&par.n_pool, memory_order_relaxed);
	size_t k = (me->sp - me->lo) / 2;
	if (k > DONATE_MAX)
		k = DONATE_MAX;
	if (k > POOL_SLOTS - n)
		k = POOL_SLOTS - n;
	memcpy(&par.pool[n], &me->stack[me->lo], k * sizeof(uintptr_t));
	me->lo += k;
	atomic_store_explicit(&par.n_pool, n + k, memory_order_relaxed);
	pool_unlock();
	pool_wake();
}

/* The pool gained work, or the round is over: wake the threads asleep on it. */
static void pool_wake(void)
{
	atomic_fetch_add(&par.pool_gen, 1);
	if (atomic_load(&par.pool_sleepers) > 0)
		syscall(SYS_futex, &par.pool_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* An idle thread waits for work or the round's end: a short spin, then a
 * futex wait, so that on a busy machine it does not take the CPU from the
 * thread that has the work (a spinning helper made a pass of Python's heap
 * 3x longer while other processes ran). The timeout is only a safety net. */
static void pool_wait(void)
{
	for (unsigned spins = 0;; spins++) {
		if (atomic_load_explicit(&par.done, memory_order_relaxed) ||
		    atomic_load_explicit(&par.n_pool, memory_order_relaxed) != 0)
			return;
		if (spins < 1024) {
			gh__cpu_relax();
			continue;
		}
		atomic_fetch_add(&par.pool_sleepers, 1);
		unsigned gen = atomic_load(&par.pool_gen);
		if (!atomic_load(&par.done) && atomic_load(&par.n_pool) == 0) {
			struct timespec ts = {0, 200000};
			syscall(SYS_futex, &par.pool_gen, FUTEX_WAIT_PRIVATE, gen, &ts, NULL, 0);
		}
		atomic_fetch_sub(&par.pool_sleepers, 1);
		spins = 0;
	}
}

/* An idle thread: takes part of the pool (true), or returns false once
 * every thread is idle and the pool empty (the round is over). */
GH_MARKER static bool idle_take(struct worker *me)
{
	int nthreads = par.k + 1;
	for (;;) {
		pool_lock();
		if (!me->idle) {
			me->idle = true;
			atomic_fetch_add_explicit(&par.idle, 1, memory_order_relaxed);
		}
		size_t n = atomic_load_explicit(&par.n_pool, memory_order_relaxed);
		if (n > 0) {
			size_t k = n > 64 ? n / 2 : n;
			memcpy(me->stack, &par.pool[n - k], k * sizeof(uintptr_t));
			me->lo = 0;
			me->sp = k;
			atomic_store_explicit(&par.n_pool, n - k, memory_order_relaxed);
			me->idle = false;
			atomic_fetch_sub_explicit(&par.idle, 1, memory_order_relaxed);
			pool_unlock();
			return true;
		}
		bool done = atomic_load_explicit(&par.done, memory_order_relaxed);
		if (!done && atomic_load_explicit(&par.idle, memory_order_relaxed) == nthreads) {
			atomic_store_explicit(&par.done, 1, memory_order_relaxed);
			done = true;
			pool_wake();
		}
		pool_unlock();
		if (done)
			return false;
		pool_wait();
	}
}

/* Scans until this thread's mark stack and both FIFOs are empty. */
GH_MARKER static void drain_local(struct worker *me)
{
	uintptr_t ring[OBJ_N]; /* mark stack entries */
	unsigned head = 0, n = 0;
	for (;;) {
		while (me->sp > me->lo || n > 0) {
			while (n < OBJ_N && me->sp > me->lo) {
				uintptr_t e = me->stack[--me->sp];
				uintptr_t u = STK_U(e);
				unsigned b = STK_START(e);
				__builtin_prefetch(b == GH_START_HDR ? (const char *)u - GH_HDR_SIZE
								     : (const char *)gh__trl_at(u, b));
				__builtin_prefetch((const char *)u);
				ring[(head + n) % OBJ_N] = e;
				n++;
			}
			if (me->sp == me->lo)
				me->lo = me->sp = 0;
			uintptr_t e = ring[head];
			head = (head + 1) % OBJ_N;
			n--;
			if (n >= OBJ_N / 2) {
				/* Half-way through the ring an object's metadata has
				 * arrived: fetch the rest of its body (up to 8 lines). */
				uintptr_t ve = ring[(head + OBJ_N / 2 - 1) % OBJ_N];
				uintptr_t v = STK_U(ve);
				size_t size = gh__obj_size(v, STK_START(ve));
				uintptr_t end = v + (size < 512 ? size : 512);
				for (uintptr_t line = (v & ~(uintptr_t)63) + 64; line < end; line += 64)
					__builtin_prefetch((const void *)line);
			}
			scan_object(me, STK_U(e), STK_START(e));
			if (mk.par && ++me->since_share >= SHARE_EVERY)
				share(me);
		}
		if (me->cand_n == 0)
			return;
		cand_flush(me);
	}
}

/* A thread's part in a round: its own work, then the pool's, until the
 * round is over. */
GH_MARKER static void par_work(struct worker *me)
{
	do
		drain_local(me);
	while (idle_take(me));
}

/* Marks the objects heuristics reached in the round (defer), one thread
 * alone: true if any was new (then there is more to drain). */
GH_MARKER static bool defer_apply(void)
{
	bool any = false;
	for (int i = -1; i < par.k; i++) {
		struct worker *w = i < 0 ? &w0 : &par.wk[i];
		for (size_t k = 0; k < w->ndefer; k++) {
			uintptr_t u = w->defer[k].u;
			if (bit_get(mk.reach, u))
				continue; /* a start pointer reached it: no heuristic */
			bit_set(mk.reach, u);
			heur_set(u, w->defer[k].heur);
			push(&w0, u, gh__start_at(u));
			any = true;
		}
		w->ndefer = 0;
	}
	return any;
}

/* Scans until the mark stack and both FIFOs are empty: the requesting
 * thread's, with the helpers in passes 1 and 2 (par). */
GH_MARKER static void drain(struct worker *me)
{
	for (;;) {
		drain_local(me);
		if (par.open) {
			par_work(me);
			/* the helpers may still be leaving: their counts and
			 * lists are read next */
			while (atomic_load_explicit(&par.exited, memory_order_acquire) != par.k)
				gh__cpu_relax();
			par.open = false;
		}
		if (!mk.par || !defer_apply())
			return;
	}
}

/* ---- The helper threads ------------------------------------------------------------------------ */

/* The total of every marking thread's scanned bytes. */
static uint64_t scanned_total(void)
{
	uint64_t t = w0.scanned_bytes;
	for (int i = 0; i < par.k; i++)
		t += par.wk[i].scanned_bytes;
	return t;
}

/* After a pass: the helpers' counts into mk.by_type (class cls) and their
 * per-site rows into mk.sites, and zero again. */
static void par_merge(int cls)
{
	size_t types = (size_t)gh_type_count() + 1;
	for (int i = 0; i < par.k; i++) {
		struct reach_ctr *c = par.wk[i].reached;
		for (size_t t = 0; t < types && t < GH_TYPE_IDS; t++)
			if (c[t].count) {
				mk.helper_objects += c[t].count;
				mk.by_type[t][cls].count += c[t].count;
				mk.by_type[t][cls].bytes += c[t].bytes;
				c[t].count = c[t].bytes = 0;
			}
		struct worker *w = &par.wk[i];
		for (size_t k = 0; k < w->nsites; k++) {
			struct site_slot *s = &w->sites[w->site_used[k]];
			site_add(mk.sites, mk.site_used, &mk.nsites, s->site, s->type, s->stack, s->heur, cls,
				 s->count[cls], s->bytes[cls]);
			memset(s, 0, sizeof *s);
		}
		w->nsites = 0;
	}
}

static void par_reset(void)
{
	par.k = 0;
	for (int i = 0; i < par.n; i++) {
		struct worker *w = &par.wk[i];
		madvise((char *)w->stack + KEEP_BYTES, STACK_SLOTS * sizeof(uintptr_t) - KEEP_BYTES, MADV_DONTNEED);
		madvise((char *)w->defer + KEEP_BYTES, DEFER_SLOTS * sizeof(struct deferred) - KEEP_BYTES,
			MADV_DONTNEED);
		w->lo = w->sp = 0;
		w->scanned_bytes = 0;
		w->ndefer = 0;
	}
}

/* A fork's child has none of the helpers: the next pass starts its own. */
static void par_atfork_child(void)
{
	par.n = 0;
	atomic_store(&par.k, 0);
	atomic_store(&par.ready, 0);
	atomic_store(&par.phase, PAR_SLEEP);
	atomic_store(&par.lock, 0);
	par.open = false;
	gh__world_exempt_clear();
}

static void phase_set(int phase)
{
	atomic_store(&par.phase, phase);
	if (phase == PAR_ACTIVE)
		syscall(SYS_futex, &par.phase, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* A helper: asleep between passes; during one it takes part in every round
 * the requester opens, and sleeps between rounds after a short spin. It never allocates, takes no lock but
 * the pool's, and its stack is no root (the stops leave it alone: world.c). */
static void *helper_main(void *arg)
{
	struct worker *me = arg;
	int index = (int)(me - par.wk);
	pthread_setname_np(pthread_self(), "glassheap-mark");
	gh__world_exempt_add(gettid());
	atomic_fetch_add(&par.ready, 1);
	unsigned seen = atomic_load(&par.round);
	unsigned spins = 0;
	for (;;) {
		if (atomic_load(&par.phase) == PAR_SLEEP) {
			syscall(SYS_futex, &par.phase, FUTEX_WAIT_PRIVATE, PAR_SLEEP, NULL, NULL, 0);
			continue;
		}
		unsigned r = atomic_load_explicit(&par.round, memory_order_acquire);
		if (r == seen) {
			/* between rounds the requester works alone (roots, small
			 * subgraphs): a short spin, then sleep, so as not to slow
			 * it down on a shared core (round_open wakes us) */
			if (++spins < 2048) {
				gh__cpu_relax();
				continue;
			}
			atomic_fetch_add(&par.sleepers, 1);
			syscall(SYS_futex, &par.round, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
			atomic_fetch_sub(&par.sleepers, 1);
			continue;
		}
		spins = 0;
		seen = r;
		if (index >= par.k)
			continue; /* became ready after this pass began: the next one */
		par_work(me);
		atomic_fetch_add_explicit(&par.exited, 1, memory_order_release);
	}
	return NULL;
}

/* How many marking threads: GLASSHEAP_MARK_THREADS (1 = the requester
 * alone), else the CPUs this process may use, at most 4. */
static int par_want(void)
{
	if (par.want)
		return par.want;
	int want = 0;
	const char *e = getenv("GLASSHEAP_MARK_THREADS");
	if (e && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (*end || v < 1 || v > PAR_MAX)
			gh__log("GLASSHEAP_MARK_THREADS=%s ignored: want 1..%d", e, PAR_MAX);
		else
			want = (int)v;
	}
	if (!want) {
		cpu_set_t set;
		int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
		want = cpus < 4 ? cpus : 4;
		if (want < 1)
			want = 1;
	}
	par.want = want;
	return want;
}

int gh__mark_threads(int n)
{
	int was = par_want();
	if (n >= 1 && n <= PAR_MAX)
		par.want = n;
	return was;
}

/* Before a stop: the helpers exist (started once; after a fork, again).
 * Creating a thread allocates (its TLS vector): glassheap's own. */
static void helpers_ensure(void)
{
	int want = par_want() - 1;
	if (par.n >= want)
		return;
	if (!par.pool && !(par.pool = work_map(POOL_SLOTS * sizeof(uintptr_t))))
		return;
	int quiet = gh__trace_quiet_begin();
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (par.n < want) {
		struct worker *w = &par.wk[par.n];
		if (!w->stack) {
			w->stack = gh__map_work(STACK_SLOTS * sizeof(uintptr_t));
			w->cand = work_map(CAND_N * sizeof(struct cand));
			w->defer = work_map(DEFER_SLOTS * sizeof(struct deferred));
			w->reached = work_map(GH_TYPE_IDS * sizeof(struct reach_ctr));
			w->sites = work_map(SITE_SLOTS * sizeof(struct site_slot));
			w->site_used = work_map(SITE_SLOTS * sizeof(uint32_t));
			if (!w->stack || !w->cand || !w->defer || !w->reached || !w->sites || !w->site_used) {
				w->stack = NULL; /* (what was mapped stays: a few reserved pages) */
				break;
			}
		}
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		/* glibc carves the static TLS out of the stack: a program with a
		 * large one would leave too little (or fail the create) */
		pthread_attr_setstacksize(&attr, ((size_t)256 << 10) + tls_static_size);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_t th;
		int rc = pthread_create(&th, &attr, helper_main, w);
		pthread_attr_destroy(&attr);
		if (rc != 0)
			break;
		par.n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	gh__trace_quiet_end(quiet);
	/* each helper exempts itself from the stops first thing: wait for that */
	uint64_t t0 = gh__now_ns();
	while (atomic_load(&par.ready) < par.n && gh__now_ns() - t0 < 1000000000u)
		sched_yield();
}

/* ---- Roots ------------------------------------------------------------------------------------ */

static struct root_rec *add_root(int kind, int tid, uintptr_t lo, uintptr_t hi, const char *name)
{
	if (hi <= lo)
		return NULL;
	if (mk.nroots >= mk.max_roots) {
		mk.roots_full = true; /* never drop a root silently */
		return NULL;
	}
	struct root_rec *r = &mk.roots[mk.nroots++];
	r->kind = kind;
	r->tid = tid;
	r->lo = lo;
	r->hi = hi;
	r->dtv_at = 0;
	snprintf(r->name, sizeof r->name, "%s", name);
	return r;
}

static uint32_t root_src(const struct root_rec *r)
{
	return GH_TYPE_IDS + (uint32_t)(r - mk.roots);
}

struct module_ctx {
	int n;
};

static void add_seg(uintptr_t lo, uintptr_t hi, bool exec);

static int collect_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : exe_name;
	const char *slash = strrchr(name, '/');
	char label[96];
	snprintf(label, sizeof label, "global:%.80s", slash ? slash + 1 : name);
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, 0, &sg);) {
		add_seg(sg.lo, sg.lo + sg.filesz, (sg.flags & PF_X) != 0);
		if (sg.flags & PF_W)
			add_root(GH_ROOT_GLOBAL, 0, sg.lo, sg.lo + sg.memsz, label);
	}
	return 0;
}

/* Keeps mk.segs sorted by address (insertion: a few hundred segments, and
 * no allocation inside the loader's lock). */
static void add_seg(uintptr_t lo, uintptr_t hi, bool exec)
{
	if (hi <= lo || mk.nsegs == SEG_SLOTS)
		return;
	size_t i = mk.nsegs++;
	while (i > 0 && mk.segs[i - 1].lo > lo) {
		mk.segs[i] = mk.segs[i - 1];
		i--;
	}
	mk.segs[i] = (struct seg){lo, hi, exec};
}

/* The module segment holding addr, or NULL. */
static const struct seg *seg_of(uintptr_t addr)
{
	size_t a = 0, b = mk.nsegs;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (addr < mk.segs[m].lo)
			b = m;
		else if (addr >= mk.segs[m].hi)
			a = m + 1;
		else
			return &mk.segs[m];
	}
	return NULL;
}

/* ---- Thread roots ------------------------------------------------------------------------------ */

/* What can hold a stack that addr points into: the live heap block around
 * it (a coroutine's or green thread's stack allocated with malloc), a small
 * window when addr is in the cage but in no live block, else addr's mapping.
 * Never the whole cage. Runs while the world is stopped. */
GH_MARKER static bool stack_region(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	if (gh__cage_contains(addr)) {
		uintptr_t u = gh__heap_lookup(addr);
		if (u) {
			*lo = u;
			*hi = u + gh__obj_size(u, gh__start_at(u));
		} else {
			*lo = addr;
			*hi = addr + LOOSE_STACK_SPAN < mk.top ? addr + LOOSE_STACK_SPAN : mk.top;
		}
		return *hi > *lo;
	}
	return gh__world_mapping_of(addr, lo, hi);
}

/* Which of the pages at lo are in use: in memory or in swap (a swapped-out
 * page holds pointers too, and mincore calls it not resident), from
 * /proc/self/pagemap; mincore's answer where pagemap cannot be read.
 * used[i] & 1 for page i. false: neither can tell. */
static bool pages_in_use(uintptr_t lo, size_t pages, unsigned char *used)
{
	if (mk.pagemap_fd >= 0) {
		size_t want = pages * sizeof(uint64_t);
		ssize_t got = pread(mk.pagemap_fd, mk.pagemap, want, (off_t)((lo >> 12) * sizeof(uint64_t)));
		if (got == (ssize_t)want) {
			for (size_t i = 0; i < pages; i++)
				used[i] = (mk.pagemap[i] >> 62) != 0; /* bit 63 present, bit 62 swapped */
			return true;
		}
	}
	return mincore((void *)lo, pages << 12, used) == 0;
}

/* Adds a range whose pages may be mostly untouched (a thread's own stack
 * while it runs elsewhere, the program's own mappings): only its pages in
 * use become roots, so a large, barely used range costs what it holds. */
static void add_resident(int kind, int tid, uintptr_t lo, uintptr_t hi, const char *name)
{
	lo &= ~(uintptr_t)4095;
	while (lo < hi) {
		size_t pages = (hi - lo + 4095) >> 12;
		if (pages > RESIDENT_PAGES)
			pages = RESIDENT_PAGES;
		if (!pages_in_use(lo, pages, mk.resident)) {
			add_root(kind, tid, lo, hi, name); /* cannot tell: all of it */
			return;
		}
		for (size_t i = 0; i < pages;) {
			if (!(mk.resident[i] & 1)) {
				i++;
				continue;
			}
			size_t j = i;
			while (j < pages && (mk.resident[j] & 1))
				j++;
			uintptr_t a = lo + (i << 12), b = lo + (j << 12);
			add_root(kind, tid, a, b < hi ? b : hi, name);
			i = j;
		}
		lo += pages << 12;
	}
}

/*
 * The ranges of one stopped thread: its stack and its static TLS / thread
 * control block. Registers are scanned from the slot (scan_registers).
 *
 *   own stack (pthread)   [mapping or heap block ........ | static TLS | TCB ]
 *                                   sp ^ scanned from here    ^ tp
 *   own stack (main)      the [stack] mapping
 *
 * When sp is not on the thread's own stack (a signal handler running on a
 * sigaltstack, a coroutine, a green thread), the region around sp is
 * scanned from sp, and the own stack whole (pages in use): the frames
 * suspended there are live and nothing says where their stack pointer is.
 */
static void add_thread_roots(pid_t tid, uintptr_t sp, uintptr_t tp, pid_t pid, uintptr_t red)
{
	char label[96], tls_label[96];
	snprintf(label, sizeof label, "stack:%d", (int)tid);
	snprintf(tls_label, sizeof tls_label, "tls:%d", (int)tid);
	/* the thread's own stack, and its TLS block */
	uintptr_t own_lo = 0, own_hi = 0, tls_lo = 0, tls_hi = 0;
	if (tp && stack_region(tp, &own_lo, &own_hi)) {
		tls_lo = tp - tls_static_size > own_lo && tp > tls_static_size ? tp - tls_static_size : own_lo;
		tls_hi = tp + PTHREAD_TCB_SPAN < own_hi ? tp + PTHREAD_TCB_SPAN : own_hi;
		own_hi = tls_lo; /* pthread stacks end where the static TLS starts */
	}
	if (tid == pid && gh__world.main_stack.hi) {
		/* the main thread's TCB is not on its stack */
		own_lo = gh__world.main_stack.lo;
		own_hi = gh__world.main_stack.hi;
	}
	/* The loader's static TLS size may exceed what glibc reserved at the
	 * top of this stack: a stack pointer above tls_lo says the TLS starts
	 * above it, and the words below sp - red are dead frames (a freed
	 * block's pointer there would keep its reused memory alive). */
	if (tls_hi > tls_lo && sp - red > tls_lo && sp < tp && own_hi > own_lo && sp - red >= own_lo)
		tls_lo = own_hi = sp - red;
	bool on_own = own_hi > own_lo && sp - red >= own_lo && sp - red <= own_hi;
	if (on_own) {
		add_root(GH_ROOT_STACK, tid, sp - red, own_hi, label);
	} else {
		uintptr_t lo, hi;
		if (sp && stack_region(sp, &lo, &hi)) {
			uintptr_t from = sp - red > lo ? sp - red : lo;
			/* a pthread stack's region ends at its TLS */
			if (tls_lo > from && tls_lo < hi && tp >= lo && tp < hi)
				hi = tls_lo;
			add_root(GH_ROOT_STACK, tid, from, hi, label);
		}
		if (own_hi > own_lo)
			add_resident(GH_ROOT_STACK, tid, own_lo, own_hi, label);
	}
	if (tls_hi > tls_lo) {
		struct root_rec *r = add_root(GH_ROOT_TLS, tid, tls_lo, tls_hi, tls_label);
		if (r && DTV_IN_TCB >= 0 && tp + (uintptr_t)DTV_IN_TCB + 8 <= tls_hi)
			r->dtv_at = tp + (uintptr_t)DTV_IN_TCB;
	}
}

/*
 * A registered range (gh_root_add), where it is readable now: a program
 * that unmapped or protected it without gh_root_remove must not crash in
 * the pass. What is not readable is skipped and named after the pass
 * (unreadable_root). Runs while the world is stopped.
 */
static char unreadable_root[64];

/* The epoll registrations' data (epoll_roots.c), read in the stop: mapped
 * before it, once the program has an epoll instance. */
#define EP_VALS ((size_t)1 << 20)
#define EP_BUF ((size_t)64 << 10)
static uintptr_t *ep_vals;
static char *ep_buf;

static void add_registered(const struct reg_root *rr)
{
	char label[96];
	snprintf(label, sizeof label, "root:%s", rr->name);
	uintptr_t lo = rr->addr, hi = rr->addr + rr->len < rr->addr ? UINTPTR_MAX : rr->addr + rr->len;
	const struct gh_range *m = gh__world.ranges;
	size_t nm = gh__world.nranges, a = gh__world_range_above(lo);
	uintptr_t covered = 0, run_lo = 0, run_hi = 0;
	for (size_t k = a; k < nm && m[k].lo < hi; k++) {
		uintptr_t x = m[k].lo > lo ? m[k].lo : lo, y = m[k].hi < hi ? m[k].hi : hi;
		covered += y - x;
		if (run_hi == x) { /* contiguous with the last: one root */
			run_hi = y;
			continue;
		}
		if (run_hi > run_lo)
			add_root(GH_ROOT_REGISTERED, 0, run_lo, run_hi, label);
		run_lo = x;
		run_hi = y;
	}
	if (run_hi > run_lo)
		add_root(GH_ROOT_REGISTERED, 0, run_lo, run_hi, label);
	if (covered < hi - lo && !unreadable_root[0])
		snprintf(unreadable_root, sizeof unreadable_root, "%s", rr->name);
}

/* Does [lo, hi) hold a stopped thread's stack pointer (or this thread's)? */
static bool holds_a_stack(uintptr_t lo, uintptr_t hi, uintptr_t self_sp)
{
	if (self_sp >= lo && self_sp < hi)
		return true;
	for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;) {
		uintptr_t sp = gh__world.slots[i].sp;
		if (sp >= lo && sp < hi)
			return true;
	}
	return false;
}

/*
 * The program's own anonymous mappings (mapped.c), where they are readable
 * now: their pages in use (add_resident). A mapping that holds a thread's stack pointer
 * is that thread's stack (a stack the program mapped, a coroutine's while
 * it runs): add_thread_roots scans it from the stack pointer, and its dead
 * frames below would keep freed blocks' reused memory alive. A coroutine's
 * stack that no thread runs on is scanned whole: its suspended frames are
 * live. Runs while the world is stopped, with the record held.
 */
static void add_mapped_roots(uintptr_t self_sp)
{
	const struct gh_range *v;
	size_t n = gh__mapped_ranges(&v);
	const struct gh_range *m = gh__world.ranges;
	size_t nm = gh__world.nranges, j = 0;
	for (size_t i = 0; i < n; i++) {
		while (j < nm && m[j].hi <= v[i].lo)
			j++;
		for (size_t k = j; k < nm && m[k].lo < v[i].hi; k++) {
			uintptr_t lo = v[i].lo > m[k].lo ? v[i].lo : m[k].lo;
			uintptr_t hi = v[i].hi < m[k].hi ? v[i].hi : m[k].hi;
			if (holds_a_stack(m[k].lo, m[k].hi, self_sp)) /* (lo < hi: both overlap) */
				continue;
			char label[96];
			snprintf(label, sizeof label, "mapped:%#lx", (unsigned long)lo);
			add_resident(GH_ROOT_MAPPED, 0, lo, hi, label);
		}
	}
}

GH_MARKER static void scan_stack_headers(uintptr_t lo, uintptr_t hi, uint32_t src);

GH_MARKER static void scan_roots(void)
{
	for (size_t i = 0; i < mk.nroots; i++) {
		struct root_rec *r = &mk.roots[i];
		uint64_t before = scanned_total();
		mk.dom_src = GH_DOM_ROOT | (uint32_t)i;
		scan_range(&w0, r->lo, r->hi, root_src(r));
		/* not the running thread's own stack: it is in no free or realloc,
		 * and its dead frames' words (jemalloc's raw block pointers) would
		 * keep freshly leaked blocks alive */
		if (r->kind == GH_ROOT_STACK && i != mk.self_root)
			scan_stack_headers(r->lo, r->hi, root_src(r));
		if (r->dtv_at) {
			uintptr_t dtv = *(const volatile uintptr_t *)r->dtv_at;
			if (dtv > DTV_ENTRY)
				consider(&w0, dtv - DTV_ENTRY, mk.dom ? mk.dom_src : root_src(r));
		}
		mk.root_kind[r->kind].count++;
		mk.root_kind[r->kind].bytes += scanned_total() - before;
		drain(&w0);
	}
}

/* A thread stopped inside free or realloc may hold only a pointer to the
 * header of the block it is releasing (user - 16), in a register or on its
 * stack. That block must not look unreachable (collecting it under the
 * thread's feet would free it twice). So on stacks and in registers a word
 * that points exactly at a live block's header reaches that block. (A
 * trailer block's free holds the user pointer itself, jemalloc's block, up
 * to its call into jemalloc: its start byte is no longer live by then.) */
GH_INLINE void consider_header(uintptr_t w, uint32_t src)
{
	uintptr_t u = w + GH_HDR_SIZE;
	if ((w & 15) == 0 && u - mk.base < mk.top - mk.base &&
	    gh__start_at(u) == GH_START_HDR)
		consider(&w0, u, src);
}

GH_MARKER static void scan_stack_headers(uintptr_t lo, uintptr_t hi, uint32_t src)
{
	if (mk.dom)
		src = mk.dom_src;
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t p = lo; p + 8 <= hi; p += 8)
		consider_header(*(const volatile uintptr_t *)p, src);
}

/* Registers of stopped threads, scanned as part of their stack root. */
GH_MARKER static void scan_registers(void)
{
	for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		/* the thread's first root is its stack (add_thread_roots) */
		uint32_t r = mk.slot_root[i];
		uint32_t src = r < mk.nroots && mk.roots[r].kind == GH_ROOT_STACK ? GH_TYPE_IDS + r : GH_TYPE_IDS;
		mk.dom_src = GH_DOM_ROOT | (src - GH_TYPE_IDS);
		if (mk.dom)
			src = mk.dom_src;
		for (unsigned k = 0; k < s->nregs; k++) {
			consider(&w0, s->regs[k], src);
			consider_header(s->regs[k], src);
		}
		for (unsigned k = 0; k < s->nvwords; k++) {
			consider(&w0, s->vwords[k], src);
			consider_header(s->vwords[k], src);
		}
		mk.root_kind[GH_ROOT_STACK].bytes += (s->nregs + s->nvwords) * sizeof s->regs[0];
		drain(&w0);
	}
}

/* ---- Classification ----------------------------------------------------------------------------- */

/* Adds count objects of bytes to a (site, type, stack, heuristic) row of a
 * site table: the pass's (mk.sites) or a helper's. */
GH_MARKER static void site_add(struct site_slot *tab, uint32_t *used, size_t *n, uint32_t key, uint32_t type,
			       uint32_t stack, uint32_t heur, int cls, uint64_t count, uint64_t bytes)
{
	size_t i = ((size_t)key * 2654435761u ^ type ^ (size_t)stack * 40503u ^ (size_t)heur << 20) & (SITE_SLOTS - 1);
	for (size_t probes = 0; probes < SITE_SLOTS; probes++) {
		struct site_slot *s = &tab[i];
		if (s->site == 0) {
			if (*n * 4 >= SITE_SLOTS * 3)
				return;
			s->site = key;
			s->type = type;
			s->stack = stack;
			s->heur = heur;
			used[(*n)++] = (uint32_t)i;
		}
		if (s->site == key && s->type == type && s->stack == stack && s->heur == heur) {
			s->count[cls] += count;
			s->bytes[cls] += bytes;
			return;
		}
		i = (i + 1) & (SITE_SLOTS - 1);
	}
}

/* One object into the site table of the thread that counts it: a helper's
 * own (merged after the pass), else the pass's. */
GH_MARKER static void count_site(struct worker *me, const struct gh_meta *m, int cls, int heur)
{
	uint32_t site = gh__meta_site(m);
	uint32_t key = site ? site : UINT32_MAX, stack = m->traced ? m->site_word : 0;
	if (me->sites)
		site_add(me->sites, me->site_used, &me->nsites, key, m->type, stack, (uint32_t)heur, cls, 1, m->size);
	else
		site_add(mk.sites, mk.site_used, &mk.nsites, key, m->type, stack, (uint32_t)heur, cls, 1, m->size);
}

/* The walk after passes 1 and 2: counts every live object (a start byte is
 * set exactly for the published ones while the world is stopped) and lists
 * those neither pass reached, reading only their metadata. Eight granules
 * at a time: their live start bytes as an 8-bit mask against the same
 * eight bits of the reach and possible bitmaps. */
/*
 * glassheap's own objects (GH_TYPE_INTERNAL: the debug server's, the
 * symbolizer's, the loader's for the on-demand half) are never the
 * program's leaks: those the roots did not reach become roots themselves
 * (pass 1, before the interior pass), so that what they point to is
 * reachable too. build_result leaves the type out of every figure. The
 * objects the program asked to leave out (GH_FLAG_IGNORED) are rooted the
 * same way, and counted (mk.ignored).
 */
GH_MARKER static void root_own_objects(void)
{
	size_t n = (mk.top - mk.base) >> GH_GRANULE_LG;
	const uint8_t *sm = gh__startmap;
	for (size_t g = 0; g < n; g += 8) {
		uint64_t w;
		memcpy(&w, sm + g, 8);
		if (w == 0)
			continue;
		unsigned starts = gh__starts8(w);
		unsigned seen = (unsigned)((mk.reach[g >> 6] >> (g & 63)) & 0xff);
		for (unsigned left = starts & ~seen; left; left &= left - 1) {
			uintptr_t u = mk.base + ((uintptr_t)(g + (size_t)__builtin_ctz(left)) << GH_GRANULE_LG);
			if (bit_get(mk.reach, u))
				continue;
			struct gh_meta m;
			obj_meta(u, &m);
			if (m.type == GH_TYPE_INTERNAL) {
				bit_set(mk.reach, u);
				push(&w0, u, gh__start_at(u));
			} else if (gh_unlikely(m.ignored)) {
				/* the program's ignored objects are roots too, as
				 * LSan treats them (gh_ignore_object, gh_leak_disable) */
				mk.ignored.count++;
				mk.ignored.bytes += m.size;
				bit_set(mk.reach, u);
				push(&w0, u, gh__start_at(u));
			}
		}
		if (w0.sp > STACK_SLOTS / 2)
			drain(&w0);
	}
	drain(&w0);
}

GH_MARKER static uint64_t walk_unreached(void)
{
	uint64_t objects = 0;
	size_t n = (mk.top - mk.base) >> GH_GRANULE_LG;
	const uint8_t *sm = gh__startmap; /* granule 0 is mk.base (the cage base) */
	for (size_t g = 0; g < n; g += 8) {
		uint64_t w;
		memcpy(&w, sm + g, 8);
		if (w == 0)
			continue;
		unsigned starts = gh__starts8(w); /* bit i: byte i */
		objects += gh__starts8_count(w);
		unsigned seen = (unsigned)(((mk.reach[g >> 6] | mk.possible[g >> 6]) >> (g & 63)) & 0xff);
		for (unsigned lost = starts & ~seen; lost; lost &= lost - 1) {
			uintptr_t u = mk.base + ((uintptr_t)(g + (size_t)__builtin_ctz(lost)) << GH_GRANULE_LG);
			if (mk.nlost < LOST_SLOTS)
				mk.lost[mk.nlost++] = u;
			else
				mk.lost_overflow = true;
		}
	}
	return objects;
}

/* Objects reached via a heuristic in bitmap word w (after pass 1, when no
 * start pointer can clear them any more): counted by heuristic and site. */
GH_MARKER static void count_heuristics(size_t w)
{
	for (uint64_t m = mk.heur[w] & mk.reach[w]; m; m &= m - 1) {
		uintptr_t u = mk.base + (((uintptr_t)w * 64 + (uintptr_t)__builtin_ctzll(m)) << GH_GRANULE_LG);
		struct gh_meta m;
		obj_meta(u, &m);
		int k = heur_get(u);
		mk.heur_stats[k].count++;
		mk.heur_stats[k].bytes += m.size;
		count_site(&w0, &m, GH_REACHABLE, k);
	}
}

/* Valgrind's cliques: every lost object reachable from another lost object
 * is indirectly lost; a leaked cycle keeps one leader. */
GH_MARKER static void classify_lost(void)
{
	mk.pass = 3;
	mk.reached_fast = false;
	for (size_t i = 0; i < mk.nlost; i++) {
		uintptr_t leader = mk.lost[i];
		if (bit_get(mk.indirect, leader) || bit_get(mk.scanned, leader))
			continue;
		bit_set(mk.scanned, leader);
		scan_object(&w0, leader, gh__start_at(leader));
		cand_flush(&w0);
		while (w0.sp > 0) {
			uintptr_t e = w0.stack[--w0.sp];
			uintptr_t u = STK_U(e);
			if (u == leader) { /* a cycle back to the leader: it stays the leader */
				u = 0;
			}
			if (u && !bit_get(mk.scanned, u)) {
				bit_set(mk.scanned, u);
				scan_object(&w0, u, STK_START(e));
				cand_flush(&w0);
			}
		}
		/* A cycle may have marked the leader itself indirect: undo. */
		size_t g = gran(leader);
		mk.indirect[g >> 6] &= ~(UINT64_C(1) << (g & 63));
	}
	for (size_t i = 0; i < mk.nlost; i++) {
		uintptr_t u = mk.lost[i];
		struct gh_meta m;
		obj_meta(u, &m);
		int cls = bit_get(mk.indirect, u) ? GH_INDIRECTLY_LOST : GH_DEFINITELY_LOST;
		mk.by_type[m.type][cls].count++;
		mk.by_type[m.type][cls].bytes += m.size;
		count_site(&w0, &m, cls, GH_HEUR_NONE);
	}
}

/* ---- The run ----------------------------------------------------------------------------------- */

struct run_ctx {
	int flags;
	int rc;
	pid_t unresponsive;
	uint64_t pause_ns, mark_ns;
	uint32_t threads, threads_blocked;
	uint32_t vregs_unknown; /* threads whose vector registers were not all kept */
	bool epoll_over;        /* epoll registrations not all kept */
	uint64_t objects_before;
	uintptr_t self_sp; /* gh__mark_run's stack pointer, its caller's registers spilled above it */
};

/* Why this pass must free nothing, or NULL: a thread held without its
 * registers (world.c, GH_HELD_BLOCKED), or with more heap pointers in its
 * vector registers than its slot keeps, may keep a pointer in a register;
 * roots that could not all be read or a work table that overflowed leave
 * the unreachable set unproven. */
static const char *no_collect_reason(const struct run_ctx *c)
{
	if (c->threads_blocked > 0)
		return "a thread held without its registers";
	if (c->vregs_unknown > 0)
		return "a thread's vector registers not all kept";
	if (c->epoll_over || gh__epoll_incomplete())
		return "epoll registrations not all read";
	if (mk.lost_overflow)
		return "the unreachable list overflowed";
	if (mk.stack_overflow)
		return "the mark stack overflowed";
	if (!gh__opt.mapped_roots_off && gh__mapped_incomplete())
		return "the mappings record is incomplete";
	return NULL;
}

/* Unpublishes the lost objects of collectable types (never "possibly
 * lost" ones): they were proven unreachable in this very stop, and after
 * this no thread can see them as live. Stores only (heap.c). */
GH_MARKER static void unpublish_unreachable(void)
{
	struct gh_ctr *c = gh__tl.ctr;
	for (size_t i = 0; i < mk.nlost; i++) {
		uintptr_t u = mk.lost[i];
		struct gh_meta m;
		obj_meta(u, &m);
		const gh_type_desc_t *d = gh__type_desc(m.type);
		if (!d || !(d->flags & GH_TYPE_COLLECTABLE))
			continue;
		mk.collected_bytes += gh__heap_unpublish(u, c);
		mk.collected[mk.ncollected++] = u;
	}
}

/* Runs with the loader's lock held (inside dl_iterate_phdr): no module can
 * be unmapped while we scan. */
static __attribute__((noinline)) void stop_and_mark(struct run_ctx *c)
{
	dl_iterate_phdr(collect_module, NULL);

	uint64_t t0 = gh__now_ns();
	c->rc = gh__world_stop(&c->unresponsive);
	if (c->rc != 0)
		return;
	uint64_t t1 = gh__now_ns();
	/* Everything from here to resume must not allocate. */
	c->rc = gh__world_read_maps();
	if (c->rc != 0) {
		gh__world_resume();
		return;
	}
	/* (the table is held until the world resumes: phdr_trampoline) */
	for (int i = 0; i < n_reg_roots; i++)
		add_registered(&reg_roots[i]);
	/* (for add_resident: which pages are in memory or in swap) */
	mk.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	mk.base = gh__cage.base;
	mk.top = atomic_load(&gh__cage.top);
	pid_t pid = getpid();
	int ns = atomic_load(&gh__world.nslots);
	for (int i = 0; i < ns; i++) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		mk.slot_root[i] = UINT32_MAX;
		if (atomic_load(&s->state) == GH_SLOT_STOPPED) {
			mk.slot_root[i] = (uint32_t)mk.nroots;
			add_thread_roots(s->tid, s->sp, s->tp, pid, RED_ZONE);
			c->threads++;
			if (s->held == GH_HELD_BLOCKED)
				c->threads_blocked++;
			else if (s->vwords_over)
				c->vregs_unknown++;
		}
	}
	/* This thread: from gh__mark_run's frame, where its caller's callee-saved
	 * registers were spilled (c->self_sp), not from here: the frames in
	 * between are glassheap's and the loader's, and their uninitialized
	 * slots hold stale words (earlier calls' pointers to blocks the program
	 * has since dropped) that would hide leaks. */
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	mk.self_root = mk.nroots; /* this thread's first root is its stack */
	add_thread_roots(gettid(), c->self_sp, tp, pid, 0);
	c->threads++;
	if (!gh__opt.mapped_roots_off)
		add_mapped_roots(c->self_sp);
	if (ep_vals) {
		size_t n = gh__epoll_collect(ep_vals, EP_VALS, ep_buf, EP_BUF, &c->epoll_over);
		if (n)
			add_root(GH_ROOT_EPOLL, 0, (uintptr_t)ep_vals, (uintptr_t)(ep_vals + n), "epoll");
	}
	if (mk.pagemap_fd >= 0)
		close(mk.pagemap_fd);
	mk.pagemap_fd = -1;
	if (mk.roots_full) {
		/* more roots than the table holds: marking without them could
		 * call live objects lost */
		gh__world_resume();
		c->rc = E2BIG;
		return;
	}

	mk.pass = 1;
	mk.reached_fast = !mk.want_refs && !mk.dom;
	if (mk.dom && ((mk.top - mk.base) >> GH_GRANULE_LG) >= GH_DOM_GRAN_MAX) {
		mk.dom_range = mk.dom_full = true;
		gh__world_resume();
		return;
	}
	/* the helpers mark with this thread: passes 1 and 2 without referrers
	 * or the dominators' graph (those record edges in one order, serially) */
	int k = mk.reached_fast ? atomic_load(&par.ready) : 0;
	if (k > par.n)
		k = par.n;
	if (k > par.want - 1) /* (par_want ran before the stop, or 0: no helpers) */
		k = par.want > 0 ? par.want - 1 : 0;
	par.k = k;
	mk.par = par.k > 0;
	mk.mark_threads = 1 + (uint32_t)par.k;
	if (mk.par)
		phase_set(PAR_ACTIVE);
	scan_roots();
	scan_registers();
	if (mk.dom) {
		/* the dominator pass has what it needs: the graph from the roots
		 * (glassheap's own objects are no roots of it: what only they
		 * hold is in no tree) */
		uint64_t t2 = gh__now_ns();
		gh__world_resume();
		c->mark_ns = t2 - t1;
		c->pause_ns = gh__now_ns() - t0;
		return;
	}
	root_own_objects();
	if (mk.par) {
		par_merge(GH_REACHABLE);
	}
	/* pass 2: objects only interior pointers reach */
	mk.pass = 2;
	mk.reached_fast = false;
	for (size_t w = 0; w < ((mk.top - mk.base) >> GH_GRANULE_LG) / 64 + 1; w++) {
		if (gh_unlikely(mk.any_heur) && (mk.heur[w] & mk.reach[w]))
			count_heuristics(w);
		uint64_t cand = mk.interior[w] & ~mk.reach[w];
		while (cand) {
			int b = __builtin_ctzll(cand);
			cand &= cand - 1;
			uintptr_t u = mk.base + (((uintptr_t)w * 64 + (uintptr_t)b) << GH_GRANULE_LG);
			if (!bit_get(mk.possible, u)) {
				bit_set(mk.possible, u);
				push(&w0, u, gh__start_at(u));
			}
		}
	}
	drain(&w0); /* with the helpers, as pass 1 */
	if (mk.par) {
		phase_set(PAR_SLEEP);
		par_merge(GH_POSSIBLY_LOST);
		mk.par = false;
	}
	c->objects_before = walk_unreached();
	classify_lost();
	mk.no_collect_why = no_collect_reason(c);
	if ((c->flags & GH_GC_COLLECT) && !mk.no_collect_why)
		unpublish_unreachable();
	/* Every thread is stopped outside its unsafe windows: the structure
	 * holds (the counters may be mid-update, so they are not compared). */
	gh_check2(gh__heap_validate(false) == 0);
	uint64_t t2 = gh__now_ns();
	gh__world_resume();
	uint64_t t3 = gh__now_ns();
	c->mark_ns = t2 - t1;
	c->pause_ns = t3 - t0;
}

static int phdr_trampoline(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	/* Neither the registered roots nor the program's mappings can change
	 * between the pass reading them and the world resuming, and no stopped
	 * thread is half-way through changing them: a root registered after
	 * the pass read the table (and given the only pointer to an object)
	 * would be missed, one unregistered and unmapped would be read -- the
	 * host would crash (test_roots). */
	pthread_mutex_lock(&roots_lock);
	gh__mapped_hold();
	stop_and_mark(arg);
	gh__mapped_release();
	pthread_mutex_unlock(&roots_lock);
	return 1; /* once */
}

static int cmp_ref(const void *a, const void *b)
{
	const struct gh_gc_ref_row *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct gh_gc_site_row *x = a, *y = b;
	uint64_t bx = x->bytes[GH_DEFINITELY_LOST] + x->bytes[GH_INDIRECTLY_LOST] + x->bytes[GH_POSSIBLY_LOST];
	uint64_t by = y->bytes[GH_DEFINITELY_LOST] + y->bytes[GH_INDIRECTLY_LOST] + y->bytes[GH_POSSIBLY_LOST];
	return bx < by ? 1 : bx > by ? -1 : 0;
}

/* Copies the work tables into a heap result (after resume). */
static struct gh_gc_result *build_result(const struct run_ctx *c)
{
	struct gh_gc_result *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->objects_before = c->objects_before;
	r->pause_ns = c->pause_ns;
	r->mark_ns = c->mark_ns;
	r->threads = c->threads;
	r->threads_blocked = c->threads_blocked;
	r->mark_threads = mk.mark_threads;
	r->helper_objects = mk.helper_objects;
	r->stop_method = gh__world_method_name();
	r->collect_skipped = (c->flags & GH_GC_COLLECT) && mk.no_collect_why;
	r->collect_skipped_why = r->collect_skipped ? mk.no_collect_why : NULL;
	r->scanned_bytes = scanned_total();
	r->truncated = mk.lost_overflow || mk.stack_overflow || mk.refs_full;
	memcpy(r->root_kind, mk.root_kind, sizeof r->root_kind);
	memcpy(r->heuristic, mk.heur_stats, sizeof r->heuristic);
	r->ignored = mk.ignored;
	uint32_t nt = gh_type_count();
	r->types = calloc(nt + 1, sizeof *r->types);
	r->sites = calloc(mk.nsites + 1, sizeof *r->sites);
	r->refs = calloc(mk.nrefs + 1, sizeof *r->refs);
	r->root_names = calloc(mk.nroots + 1, sizeof *r->root_names);
	if (!r->types || !r->sites || !r->refs || !r->root_names) {
		gh__mark_result_free(r);
		return NULL;
	}
	for (uint32_t t = 1; t <= nt; t++) {
		if (t == GH_TYPE_INTERNAL) { /* glassheap's own: not the program's */
			for (int k = 0; k < GH_LEAK_CLASSES; k++)
				r->objects_before -= mk.by_type[t][k].count;
			continue;
		}
		bool any = false;
		for (int k = 0; k < GH_LEAK_CLASSES; k++) {
			r->cls[k].count += mk.by_type[t][k].count;
			r->cls[k].bytes += mk.by_type[t][k].bytes;
			any |= mk.by_type[t][k].count != 0;
		}
		if (any) {
			r->types[r->ntypes].type = t;
			memcpy(r->types[r->ntypes].cls, mk.by_type[t], sizeof r->types[0].cls);
			r->ntypes++;
		}
	}
	/* Only the claimed slots: the tables are large and mostly never touched. */
	for (size_t k = 0; k < mk.nsites; k++) {
		struct site_slot *s = &mk.sites[mk.site_used[k]];
		if (s->type == GH_TYPE_INTERNAL)
			continue;
		struct gh_gc_site_row *row = &r->sites[r->nsites++];
		row->site = s->site == UINT32_MAX ? 0 : s->site;
		row->type = s->type;
		row->stack = s->stack;
		row->heuristic = s->heur;
		memcpy(row->count, s->count, sizeof row->count);
		memcpy(row->bytes, s->bytes, sizeof row->bytes);
	}
	if (r->nsites > 1)
		qsort(r->sites, r->nsites, sizeof *r->sites, cmp_site);
	for (size_t k = 0; k < mk.nrefs; k++) {
		struct ref_slot *s = &mk.refs[mk.ref_used[k]];
		if (s->src == GH_TYPE_INTERNAL || s->dst == GH_TYPE_INTERNAL)
			continue;
		struct gh_gc_ref_row *row = &r->refs[r->nrefs++];
		row->src = s->src;
		row->dst = s->dst;
		row->count = s->count;
	}
	if (r->nrefs > 1)
		qsort(r->refs, r->nrefs, sizeof *r->refs, cmp_ref);
	r->nroots = mk.nroots;
	for (size_t i = 0; i < mk.nroots; i++)
		memcpy(r->root_names[i], mk.roots[i].name, sizeof r->root_names[i]);
	return r;
}

/* Gives the blocks unpublish_unreachable unpublished back to jemalloc (after
 * resume: jemalloc may take locks a stopped thread held). */
static void release_collected(struct gh_gc_result *r)
{
	for (size_t i = 0; i < mk.ncollected; i++)
		gh__heap_release_unpublished(mk.collected[i]);
	if (r) {
		r->collected_objects = mk.ncollected;
		r->collected_bytes = mk.collected_bytes;
	}
}

/* A pass's start: glassheap ready, the stop prepared, the work area set up. */
static int pass_begin(void)
{
	if (!gh__init())
		return ENOMEM;
	int rc = gh__world_prepare();
	if (rc)
		return rc;
	rc = work_init();
	if (rc == 0 && !ep_vals && gh__epoll_any()) {
		/* (under the world lock: one pass maps them) */
		if (!ep_buf)
			ep_buf = gh__meta_map(EP_BUF);
		ep_vals = ep_buf ? gh__meta_map(EP_VALS * sizeof *ep_vals) : NULL;
		if (!ep_vals) {
			work_reset();
			rc = ENOMEM;
		}
	}
	if (rc)
		gh__world_finish();
	return rc;
}

/* A pass that could not stop the world or mark: everything given back. */
static int pass_failed(const struct run_ctx *c, pid_t *unresponsive)
{
	if (unresponsive)
		*unresponsive = c->unresponsive;
	work_reset();
	gh__world_finish();
	return c->rc;
}

int gh__mark_run(int flags, struct gh_gc_result **out, pid_t *unresponsive)
{
	*out = NULL;
	int rc = pass_begin();
	if (rc)
		return rc;
	mk.want_refs = (flags & GH_GC_REFERRERS) != 0;
	if (!mk.want_refs)
		helpers_ensure();
	mk.noffsets = gh__leak_heuristics(&mk.heur_on, mk.offsets);
	if (mk.noffsets)
		mk.heur_on |= 1u << GH_HEUR_OFFSET;
	prefault_bitmaps();
	struct run_ctx c = {.flags = flags};
	/* The caller's callee-saved registers, spilled into this frame: the
	 * scan of this thread's stack starts here (stop_and_mark). */
	__builtin_unwind_init();
	__asm__ volatile("mov %%rsp, %0" : "=r"(c.self_sp));
	dl_iterate_phdr(phdr_trampoline, &c);
	if (unreadable_root[0]) {
		static _Atomic bool told;
		if (!atomic_exchange(&told, true))
			gh__log("gh_root_add range \"%s\" is no longer (all) mapped and readable: skipped "
				"(call gh_root_remove before unmapping it)", unreadable_root);
		unreadable_root[0] = 0;
	}
	if (c.rc != 0)
		return pass_failed(&c, unresponsive);
	struct gh_gc_result *r = build_result(&c);
	release_collected(r);
	uint64_t garbage = 0, garbage_bytes = 0;
	if (r) {
		garbage = r->cls[GH_DEFINITELY_LOST].count + r->cls[GH_INDIRECTLY_LOST].count +
			  r->cls[GH_POSSIBLY_LOST].count - r->collected_objects;
		garbage_bytes = r->cls[GH_DEFINITELY_LOST].bytes + r->cls[GH_INDIRECTLY_LOST].bytes +
				r->cls[GH_POSSIBLY_LOST].bytes - r->collected_bytes;
		r->objects_after = r->objects_before - r->collected_objects;
	}
	work_reset();
	pthread_mutex_lock(&totals_lock);
	if (flags & GH_GC_COLLECT) {
		totals.collections++;
		totals.collected_objects += r ? r->collected_objects : 0;
	}
	totals.runs++;
	totals.garbage_count = garbage;
	totals.garbage_bytes = garbage_bytes;
	if (r) {
		totals.last_pause_ns = r->pause_ns;
		totals.pause_ns_total += r->pause_ns;
	}
	pthread_mutex_unlock(&totals_lock);
	gh__world_finish();
	if (!r)
		return ENOMEM;
	*out = r;
	return 0;
}

void gh__mark_result_free(struct gh_gc_result *r)
{
	if (!r)
		return;
	free(r->types);
	free(r->sites);
	free(r->refs);
	free(r->root_names);
	free(r);
}

struct gh_gc_totals gh__mark_totals(void)
{
	pthread_mutex_lock(&totals_lock);
	struct gh_gc_totals t = totals;
	pthread_mutex_unlock(&totals_lock);
	return t;
}

const char *gh__mark_source_name(const struct gh_gc_result *r, uint32_t src)
{
	if (src < GH_TYPE_IDS)
		return gh_type_name(src);
	size_t i = src - GH_TYPE_IDS;
	return i < r->nroots ? r->root_names[i] : "root:?";
}

/* ---- The dominator pass's stop (dominators.c computes after it) ----------------------------- */

void gh__mark_root(size_t i, const char **name, int *kind, uintptr_t *lo, uintptr_t *hi)
{
	const struct root_rec *r = &mk.roots[i];
	*name = r->name;
	*kind = r->kind;
	*lo = r->lo;
	*hi = r->hi;
}

int gh__mark_dominators(uint32_t *log, size_t log_cap, struct gh_dom_node_rec *nodes, size_t nodes_cap,
			size_t limit_bytes, gh_dom_fn fn, void *arg, pid_t *unresponsive)
{
	if (((atomic_load(&gh__cage.top) - gh__cage.base) >> GH_GRANULE_LG) >= GH_DOM_GRAN_MAX)
		return ERANGE;
	int rc = pass_begin();
	if (rc)
		return rc;
	prefault_bitmaps();
	mk.dom = true;
	mk.dom_log = log;
	mk.dom_log_cap = log_cap;
	mk.dom_nodes = nodes;
	mk.dom_nodes_cap = nodes_cap;
	mk.dom_limit = limit_bytes;
	/* the ranks cost 4 bytes per bitmap word of the heap as it may be at the stop */
	size_t heap = atomic_load(&gh__cage.top) - gh__cage.base;
	mk.dom_fixed = 4 * (((heap + heap / 8) >> GH_GRANULE_LG) / 64 + 1);
	mk.dom_open = UINT32_MAX;
	mk.dom_last = UINT32_MAX;
	struct run_ctx c = {.flags = 0};
	/* as gh__mark_run: this thread's stack is scanned from here */
	__builtin_unwind_init();
	__asm__ volatile("mov %%rsp, %0" : "=r"(c.self_sp));
	dl_iterate_phdr(phdr_trampoline, &c);
	if (c.rc == 0 && mk.dom_range)
		c.rc = ERANGE;
	if (c.rc != 0)
		return pass_failed(&c, unresponsive);
	struct gh_dom_capture cap = {
		.g = {
			.log = mk.dom_log,
			.nlog = mk.dom_nlog,
			.nodes = mk.dom_nodes,
			.nnodes = mk.dom_nnodes,
			.reach = mk.reach,
			.reach_words = ((mk.top - mk.base) >> GH_GRANULE_LG) / 64 + 1,
			.nroots = mk.nroots,
			.base = mk.base,
		},
		.full = mk.dom_full,
		.want_nodes = mk.dom_want_nodes,
		.want_log = mk.dom_want_log,
		.truncated = mk.stack_overflow,
		.pause_ns = c.pause_ns,
		.mark_ns = c.mark_ns,
		.threads = c.threads,
		.stop_method = gh__world_method_name(),
	};
	rc = fn(&cap, arg);
	work_reset();
	gh__world_finish();
	return rc;
}
