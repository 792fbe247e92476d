/*
 * trace.c -- tracing (the tracemalloc family): sessions, the interned stack
 * table with per-stack live counters, Poisson sampling, snapshots, and the
 * statistics built from them (top, compare, traceback).
 *
 * Hot side, inside malloc: gh__trace_record captures a stack (unwind.c),
 * interns it and adds the block to the stack's counters; gh__trace_release
 * takes it away again when the block is freed. Both are lock-free and touch
 * only mmap'd tables, never the heap.
 *
 * The stack table: records in an array indexed by stack id (ids are never
 * reused), their frames in a bump-allocated pool, and an open-addressing
 * index from a stack's hash to its id. An index slot is one 64-bit word,
 *
 *     63        48 47        32 31                        0
 *    | session gen | hash bits  |          stack id         |
 *
 * and a slot whose generation is not the current session's counts as empty:
 * starting a session forgets every stack without touching the index (a
 * thread still inserting for the previous session cannot corrupt the new
 * one), and the same stack gets a new id. Inserting writes the record and
 * its frames, then publishes it with one CAS on the slot; a thread that
 * loses the race to the same stack uses the winner's id (its own record
 * stays unused, with zero counts).
 *
 *   slot ──▶ id ──▶ record {nframes, site, hash, frames ──▶ pool[...], session,
 *                           count, bytes}            (count in 1/65536 units)
 *
 * Each record belongs to the session that created it, and so does every
 * block traced under it: releasing a block decrements its own record and
 * its own session's current bytes. A new session therefore never sees blocks
 * of an earlier one, however long they live. Snapshot, top and traceback
 * read the records of the current session: O(stacks), never O(objects).
 *
 * Control side: start/stop, snapshots and statistics run on the caller's
 * thread (the debug server's), under ctl_lock, which malloc never takes.
 * Their own allocations are made "quiet": not traced, counted under
 * GH_TYPE_INTERNAL. Symbolization (symbols.c) happens outside ctl_lock.
 *
 * Entry points: gh__trace_record, gh__trace_release, gh__trace_stack_site,
 * gh__trace_start/stop/status, gh__trace_snapshot*, gh__trace_top,
 * gh__trace_compare, gh__trace_traceback, gh_trace_* (glassheap.h).
 */
#include "internal.h"
#include "gh_math.h" /* log, expm1, llround without libm */
#include "trace.h"

#include <stdlib.h>
#include <time.h>

/* Live counts are kept in units of 1/COUNT_ONE allocation so that sampled
 * allocations can carry fractional weights; unsampled ones weigh exactly
 * COUNT_ONE and stay exact. */
#define COUNT_ONE GH_TRACE_COUNT_ONE

/* Default capacity: stack ids over the life of the process (sessions do not
 * reuse them), GLASSHEAP_TRACE_STACKS=1024..16M; frames average up to 32 per
 * stack. All of it MAP_NORESERVE: only touched pages cost memory. */
#define STACKS_DEFAULT ((size_t)1 << 20)

struct session {
	uint32_t gen; /* 1, 2, ... (index slots keep its low 16 bits) */
	unsigned frames;
	size_t sample_bytes;
	double inv_sample; /* 1 / sample_bytes */
	enum gh_unwinder unwinder;
	uint32_t first_id; /* this session's stacks have ids >= first_id */
	_Alignas(64) _Atomic int64_t cur;
	_Atomic int64_t peak;
	_Atomic uint64_t stacks;
};

struct stack_rec {
	_Atomic uint32_t nframes; /* 0 until the record is complete */
	uint32_t site;
	uint64_t hash;
	uint64_t frames; /* index of the first frame in pool */
	struct session *session;
	_Atomic int64_t count; /* live blocks, COUNT_ONE units */
	_Atomic int64_t bytes; /* live bytes */
	_Atomic int64_t allocs;      /* blocks ever recorded, COUNT_ONE units (pprof's alloc_objects) */
	_Atomic int64_t alloc_bytes; /* their bytes (alloc_space) */
} __attribute__((aligned(64)));

_Atomic int gh__trace_on;

static _Atomic(struct session *) cur_session;
static struct stack_rec *recs; /* [rec_max] */
static uint32_t rec_max;
static _Atomic uint32_t rec_next = 1; /* id 0 means "not traced" */
static _Atomic uint64_t *slots;       /* [slot_mask + 1] */
static size_t slot_mask;
static uintptr_t *pool;               /* [pool_words] */
static uint64_t pool_words;
static _Atomic uint64_t pool_next;
static _Atomic uint64_t untraced, nested;
static _Atomic uint64_t seed_counter;

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t session_gen;       /* under ctl_lock */
static unsigned last_frames;       /* under ctl_lock */
static enum gh_unwinder forced_unwinder;

static GH_TLS bool tl_in_record; /* inside gh__trace_record: nested allocations are not traced */
static GH_TLS int tl_quiet;      /* inside glassheap's own tracing work */
static GH_TLS uint64_t tl_rng;
static GH_TLS double tl_sample_left;
static GH_TLS uint32_t tl_sample_gen;

/* ---- Sampling ----------------------------------------------------------------------
 * A Poisson process over allocated bytes with mean distance sample_bytes
 * (jemalloc's lg_prof_sample, Go's MemProfileRate): each thread counts down
 * an exponentially distributed number of bytes, and the allocation that
 * crosses zero is sampled. By the memorylessness of the exponential, an
 * allocation of s bytes is then sampled with probability
 * p(s) = 1 - exp(-s / sample_bytes), independently of the others, and
 * weighing it 1/p(s) allocations and s/p(s) bytes makes every per-stack sum
 * an unbiased (Horvitz-Thompson) estimate. Release subtracts the same
 * weights, recomputed from the block's size, so freeing everything returns
 * every counter to exactly zero. */

static uint64_t rng_next(void)
{
	uint64_t x = tl_rng;
	if (gh_unlikely(x == 0)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)(uintptr_t)&tl_rng ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32)) +
		    atomic_fetch_add_explicit(&seed_counter, UINT64_C(0x9E3779B97F4A7C15), memory_order_relaxed);
		if (x == 0)
			x = 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tl_rng = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Bytes until the next sample: Exp(mean sample_bytes). */
static double draw_gap(const struct session *s)
{
	double u = (double)((rng_next() >> 11) + 1) * 0x1p-53; /* (0, 1] */
	return -gh__m_log(u) * (double)s->sample_bytes;
}

static bool sampled(const struct session *s, size_t size)
{
	if (tl_sample_gen != s->gen) {
		tl_sample_gen = s->gen;
		tl_sample_left = draw_gap(s);
	}
	if ((double)size < tl_sample_left) {
		tl_sample_left -= (double)size;
		return false;
	}
	tl_sample_left = draw_gap(s);
	return true;
}

/* The weights one block of size bytes carries in its session. */
GH_INLINE void weights(const struct session *s, size_t size, int64_t *wc, int64_t *wb)
{
	if (s->sample_bytes == 0) {
		*wc = COUNT_ONE;
		*wb = (int64_t)size;
		return;
	}
	double p = -gh__m_expm1(-(double)size * s->inv_sample);
	*wc = gh__m_llround((double)COUNT_ONE / p);
	*wb = gh__m_llround((double)size / p);
}

/* ---- The stack table ------------------------------------------------------------------ */

/* One multiply per frame, then a full avalanche: slots use the low bits,
 * the index tag bits 40..55. */
static uint64_t hash_frames(const uintptr_t *f, unsigned n)
{
	uint64_t h = n;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ f[i]) * UINT64_C(0x9E3779B97F4A7C15);
	h ^= h >> 32;
	h *= UINT64_C(0xd6e8feb86659fd93);
	h ^= h >> 32;
	return h;
}

static bool rec_equal(uint32_t id, const uintptr_t *f, unsigned n, uint64_t h)
{
	const struct stack_rec *r = &recs[id];
	if (atomic_load_explicit(&r->nframes, memory_order_acquire) != n || r->hash != h)
		return false;
	return memcmp(&pool[r->frames], f, n * sizeof *f) == 0;
}

/* A complete, unpublished record for the stack, or 0 when a table is full. */
static uint32_t rec_new(struct session *s, const uintptr_t *f, unsigned n, uint64_t h)
{
	if (atomic_load_explicit(&rec_next, memory_order_relaxed) >= rec_max)
		return 0;
	uint32_t id = atomic_fetch_add_explicit(&rec_next, 1, memory_order_relaxed);
	if (id >= rec_max)
		return 0;
	uint64_t off = atomic_fetch_add_explicit(&pool_next, n, memory_order_relaxed);
	if (off + n > pool_words)
		return 0; /* the id stays unused: nframes 0 */
	memcpy(&pool[off], f, n * sizeof *f);
	struct stack_rec *r = &recs[id];
	r->site = gh__site_id(f[0]); /* wrappers were skipped (gh__trace_record) */
	r->hash = h;
	r->frames = off;
	r->session = s;
	atomic_store_explicit(&r->nframes, n, memory_order_release);
	return id;
}

/* The id of the stack in session s, inserting it if new; 0 when full. */
static uint32_t intern(struct session *s, const uintptr_t *f, unsigned n)
{
	uint64_t h = hash_frames(f, n);
	uint64_t tag = ((uint64_t)(s->gen & 0xffff) << 48) | (((h >> 40) & 0xffff) << 32);
	const uint64_t tag_mask = UINT64_C(0xffffffff) << 32;
	size_t i = (size_t)h & slot_mask;
	uint32_t mine = 0;
	for (size_t probes = 0; probes <= slot_mask; probes++) {
		uint64_t v = atomic_load_explicit(&slots[i], memory_order_acquire);
		if (v != 0 && (v >> 48) == (s->gen & 0xffff)) {
			if ((v & tag_mask) == tag && rec_equal((uint32_t)v, f, n, h))
				return (uint32_t)v; /* (a record of ours, if any, stays unused) */
			i = (i + 1) & slot_mask;
			continue;
		}
		/* Empty, or left by an earlier session: ours to take. */
		if (mine == 0 && (mine = rec_new(s, f, n, h)) == 0)
			return 0;
		if (atomic_compare_exchange_strong_explicit(&slots[i], &v, tag | mine, memory_order_acq_rel,
							    memory_order_acquire)) {
			atomic_fetch_add_explicit(&s->stacks, 1, memory_order_relaxed);
			return mine;
		}
		/* Someone else took the slot: look at what they put there. */
	}
	return 0;
}

uint32_t gh__trace_record(size_t size, uintptr_t ra)
{
	struct session *s = atomic_load_explicit(&cur_session, memory_order_acquire);
	if (gh_unlikely(s == NULL || tl_quiet != 0))
		return 0;
	if (gh_unlikely(tl_in_record)) {
		atomic_fetch_add_explicit(&nested, 1, memory_order_relaxed);
		return 0;
	}
	int64_t wc, wb;
	if (s->sample_bytes != 0 && !sampled(s, size))
		return 0;
	weights(s, size, &wc, &wb);

	int saved_errno = errno;
	tl_in_record = true;
	uintptr_t frames[GH_TRACE_FRAMES_MAX];
	unsigned n = gh__unwind(s->unwinder, ra, frames, s->frames);
	if (n > 0 && gh__site_is_wrapper(frames[0])) {
		/* Blame the caller: the wrapper's frames go. Wrappers are rarely
		 * built with frame pointers, so their callers come from DWARF. */
		if (s->unwinder != GH_UNWIND_DWARF)
			n = gh__unwind(GH_UNWIND_DWARF, ra, frames, GH_TRACE_FRAMES_MAX);
		else if (s->frames < GH_TRACE_FRAMES_MAX)
			n = gh__unwind(s->unwinder, ra, frames, GH_TRACE_FRAMES_MAX);
		unsigned k = gh__site_skip_wrappers(frames, n);
		n -= k;
		memmove(frames, frames + k, n * sizeof *frames);
		if (n > s->frames)
			n = s->frames;
	}
	uint32_t id = n ? intern(s, frames, n) : 0;
	tl_in_record = false;
	errno = saved_errno;
	if (gh_unlikely(id == 0)) {
		atomic_fetch_add_explicit(&untraced, 1, memory_order_relaxed);
		return 0;
	}
	struct stack_rec *r = &recs[id];
	atomic_fetch_add_explicit(&r->count, wc, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->bytes, wb, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->allocs, wc, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->alloc_bytes, wb, memory_order_relaxed);
	int64_t cur = atomic_fetch_add_explicit(&s->cur, wb, memory_order_relaxed) + wb;
	int64_t peak = atomic_load_explicit(&s->peak, memory_order_relaxed);
	while (cur > peak &&
	       !atomic_compare_exchange_weak_explicit(&s->peak, &peak, cur, memory_order_relaxed, memory_order_relaxed))
		;
	return id;
}

void gh__trace_release(uint32_t stack, size_t size)
{
	if (gh_unlikely(stack == 0 || stack >= rec_max || recs == NULL))
		return;
	struct stack_rec *r = &recs[stack];
	struct session *s = r->session;
	if (gh_unlikely(s == NULL))
		return;
	int64_t wc, wb;
	weights(s, size, &wc, &wb);
	atomic_fetch_sub_explicit(&r->count, wc, memory_order_relaxed);
	atomic_fetch_sub_explicit(&r->bytes, wb, memory_order_relaxed);
	atomic_fetch_sub_explicit(&s->cur, wb, memory_order_relaxed);
}

uint32_t gh__trace_stack_site(uint32_t stack)
{
	if (stack == 0 || stack >= rec_max || recs == NULL)
		return 0;
	/* The id may come from a header read without synchronizing with the
	 * allocating thread (the types samples): the record's nframes, stored
	 * with release after the rest, says whether site is written yet. */
	if (atomic_load_explicit(&recs[stack].nframes, memory_order_acquire) == 0)
		return 0;
	return recs[stack].site;
}

size_t gh__trace_stack_pcs(uint32_t stack, const uintptr_t **pcs)
{
	if (stack == 0 || stack >= rec_max || recs == NULL)
		return 0;
	unsigned n = atomic_load_explicit(&recs[stack].nframes, memory_order_acquire);
	*pcs = n ? &pool[recs[stack].frames] : NULL;
	return n;
}

/* ---- Quiet sections ---------------------------------------------------------------------
 * Glassheap's own work on the control side (snapshots, result arrays,
 * symbol caches, libdw) must not show up in the trace it describes. */

int gh__trace_quiet_begin(void)
{
	tl_quiet++;
	return gh_scope_push(GH_TYPE_INTERNAL) == 0;
}

void gh__trace_quiet_end(int pushed)
{
	if (pushed)
		gh_scope_pop();
	tl_quiet--;
}

/* ---- Start and stop --------------------------------------------------------------------- */

static size_t env_count(const char *name, size_t def, size_t lo, size_t hi)
{
	const char *s = getenv(name);
	size_t v;
	if (!s || !*s)
		return def;
	if (gh__parse_size(s, &v) && v >= lo && v <= hi)
		return v;
	gh__log("%s=%s ignored: want %zu..%zu", name, s, lo, hi);
	return def;
}

/* Maps the tables once, at the first start. Caller holds ctl_lock. */
static int tables_init(void)
{
	if (recs)
		return 0;
	size_t stacks = env_count("GLASSHEAP_TRACE_STACKS", STACKS_DEFAULT, 1024, (size_t)1 << 24);
	size_t nslots = 1;
	while (nslots < 2 * stacks)
		nslots <<= 1;
	uint64_t words = (uint64_t)stacks * 32;
	struct stack_rec *r = gh__meta_map(stacks * sizeof *r);
	_Atomic uint64_t *sl = gh__meta_map(nslots * sizeof *sl);
	uintptr_t *p = gh__meta_map(words * sizeof *p);
	if (!r || !sl || !p)
		return ENOMEM; /* (the mappings that worked are kept: metadata is never returned) */
	slots = sl;
	slot_mask = nslots - 1;
	pool = p;
	pool_words = words;
	rec_max = (uint32_t)stacks;
	recs = r;
	return 0;
}

static size_t snaps_max(void);

int gh__trace_start(unsigned frames, size_t sample_bytes)
{
	if (frames < 1 || frames > GH_TRACE_FRAMES_MAX)
		return EINVAL;
	if (!gh__init())
		return ENOMEM;
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&ctl_lock);
	int err = 0;
	if (atomic_load(&gh__trace_on)) {
		err = EALREADY;
		goto out;
	}
	if ((err = tables_init()) != 0)
		goto out;
	/* Metadata is 16-byte aligned; the counters want their own cache line. */
	void *raw = gh__meta_alloc(sizeof(struct session) + 64);
	if (!raw) {
		err = ENOMEM;
		goto out;
	}
	struct session *s = (struct session *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
	(void)snaps_max(); /* read GLASSHEAP_TRACE_SNAPSHOTS now, not mid-request */
	s->gen = ++session_gen;
	if ((s->gen & 0xffff) == 0) /* 65536 sessions: generation tags wrap */
		memset((void *)slots, 0, (slot_mask + 1) * sizeof *slots);
	s->frames = frames;
	s->sample_bytes = sample_bytes;
	s->inv_sample = sample_bytes ? 1.0 / (double)sample_bytes : 0;
	s->unwinder = forced_unwinder != GH_UNWIND_AUTO ? forced_unwinder : gh__unwind_choose();
	uint32_t next = atomic_load(&rec_next);
	s->first_id = next < rec_max ? next : rec_max;
	/* libunwind's global state and this thread's caches, outside malloc. */
	gh__unwind_warm_up(s->unwinder);
	last_frames = frames;
	atomic_store_explicit(&cur_session, s, memory_order_release);
	gh__free_fast_tracing(true);
	atomic_store_explicit(&gh__trace_on, 1, memory_order_release);
out:
	pthread_mutex_unlock(&ctl_lock);
	/* After the switch, before returning: malloc's fast path sees tracing as
	 * a site cache miss from here on. Outside ctl_lock: clearing the caches
	 * takes the shard lock. */
	if (err == 0)
		gh__sites_forget();
	gh__trace_quiet_end(q);
	return err;
}

int gh__trace_stop(void)
{
	pthread_mutex_lock(&ctl_lock);
	int on = atomic_exchange(&gh__trace_on, 0);
	gh__free_fast_tracing(false);
	pthread_mutex_unlock(&ctl_lock);
	return on ? 0 : ESRCH;
}

enum gh_unwinder gh__trace_set_unwinder(enum gh_unwinder u)
{
	pthread_mutex_lock(&ctl_lock);
	enum gh_unwinder old = forced_unwinder;
	forced_unwinder = u;
	pthread_mutex_unlock(&ctl_lock);
	return old;
}

/* ---- Snapshots -----------------------------------------------------------------------------
 * A snapshot is a copy of (stack id, count, bytes) for every stack of the
 * session with live blocks. Stack records are immutable once published and
 * never freed, so a snapshot stays meaningful after stop and restart. */

struct snap_entry {
	uint32_t id;
	int64_t count; /* COUNT_ONE units */
	int64_t bytes;
};

struct snapshot {
	char name[GH_TRACE_NAME_MAX + 1];
	size_t n;
	struct snap_entry *e;
};

static struct snapshot *snaps[GH_TRACE_SNAPSHOTS_LIMIT]; /* oldest first; under ctl_lock */
static size_t nsnaps;
static size_t snaps_cap; /* 0 until read from the environment */

static size_t snaps_max(void)
{
	if (snaps_cap == 0)
		snaps_cap = env_count("GLASSHEAP_TRACE_SNAPSHOTS", GH_TRACE_SNAPSHOTS_DEFAULT, 1,
				      GH_TRACE_SNAPSHOTS_LIMIT);
	return snaps_cap;
}

bool gh__trace_name_valid(const char *name)
{
	size_t n = 0;
	if (!name)
		return false;
	for (; name[n]; n++) {
		if (!gh__trace_name_char(name[n]) || n >= GH_TRACE_NAME_MAX)
			return false;
	}
	return n > 0;
}

/* The live stacks of session s, heap-allocated (quiet). */
static int collect(const struct session *s, struct snap_entry **out, size_t *n)
{
	uint32_t end = atomic_load(&rec_next);
	if (end > rec_max)
		end = rec_max;
	size_t cap = end > s->first_id ? end - s->first_id : 0;
	struct snap_entry *e = malloc((cap ? cap : 1) * sizeof *e);
	if (!e)
		return ENOMEM;
	size_t k = 0;
	for (uint32_t id = s->first_id; id < end; id++) {
		const struct stack_rec *r = &recs[id];
		if (atomic_load_explicit(&r->nframes, memory_order_acquire) == 0 || r->session != s)
			continue;
		int64_t c = atomic_load_explicit(&r->count, memory_order_relaxed);
		int64_t b = atomic_load_explicit(&r->bytes, memory_order_relaxed);
		if (c != 0 || b != 0)
			e[k++] = (struct snap_entry){id, c, b};
	}
	*out = e;
	*n = k;
	return 0;
}

static struct snapshot **snap_find(const char *name)
{
	for (size_t i = 0; i < nsnaps; i++)
		if (strcmp(snaps[i]->name, name) == 0)
			return &snaps[i];
	return NULL;
}

/* The current session while tracing, else NULL. Caller holds ctl_lock. */
static struct session *active_session(void)
{
	return atomic_load(&gh__trace_on) ? atomic_load(&cur_session) : NULL;
}

int gh__trace_snapshot(const char *name)
{
	if (!gh__trace_name_valid(name))
		return EINVAL;
	int q = gh__trace_quiet_begin();
	int err = 0;
	struct snapshot *sn = NULL, *old = NULL;
	pthread_mutex_lock(&ctl_lock);
	struct session *s = active_session();
	if (!s) {
		err = ESRCH;
		goto out;
	}
	struct snapshot **slot = snap_find(name);
	if (!slot && nsnaps >= snaps_max()) {
		err = ENOSPC;
		goto out;
	}
	sn = calloc(1, sizeof *sn);
	if (!sn || (err = collect(s, &sn->e, &sn->n)) != 0) {
		err = ENOMEM;
		goto out;
	}
	strcpy(sn->name, name);
	if (slot) {
		old = *slot;
		*slot = sn;
	} else {
		snaps[nsnaps++] = sn;
	}
	sn = NULL;
out:
	pthread_mutex_unlock(&ctl_lock);
	if (sn)
		free(sn->e);
	free(sn);
	if (old)
		free(old->e);
	free(old);
	gh__trace_quiet_end(q);
	return err;
}

int gh__trace_snapshot_delete(const char *name)
{
	struct snapshot *gone = NULL;
	pthread_mutex_lock(&ctl_lock);
	struct snapshot **slot = name ? snap_find(name) : NULL;
	if (slot) {
		gone = *slot;
		size_t i = (size_t)(slot - snaps);
		memmove(&snaps[i], &snaps[i + 1], (nsnaps - i - 1) * sizeof *snaps);
		nsnaps--;
	}
	pthread_mutex_unlock(&ctl_lock);
	if (!gone)
		return ENOENT;
	int q = gh__trace_quiet_begin();
	free(gone->e);
	free(gone);
	gh__trace_quiet_end(q);
	return 0;
}

bool gh__trace_snapshot_exists(const char *name)
{
	pthread_mutex_lock(&ctl_lock);
	bool yes = name && snap_find(name) != NULL;
	pthread_mutex_unlock(&ctl_lock);
	return yes;
}

size_t gh__trace_snapshot_names(char (*names)[GH_TRACE_NAME_MAX + 1], size_t cap)
{
	pthread_mutex_lock(&ctl_lock);
	size_t n = nsnaps;
	for (size_t i = 0; i < n && i < cap; i++)
		strcpy(names[i], snaps[i]->name);
	pthread_mutex_unlock(&ctl_lock);
	return n;
}

void gh__trace_status(struct gh_trace_status *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&ctl_lock);
	struct session *s = atomic_load(&cur_session);
	out->is_tracing = atomic_load(&gh__trace_on) != 0;
	out->frames = last_frames;
	if (s) {
		out->sample_bytes = s->sample_bytes;
		out->unwinder = s->unwinder;
	}
	if (s && out->is_tracing) {
		int64_t cur = atomic_load(&s->cur), peak = atomic_load(&s->peak);
		out->current_bytes = cur > 0 ? (uint64_t)cur : 0;
		out->peak_bytes = peak > 0 ? (uint64_t)peak : 0;
		out->stacks = atomic_load(&s->stacks);
	}
	out->untraced = atomic_load(&untraced);
	out->nested = atomic_load(&nested);
	out->snapshots = nsnaps;
	out->snapshots_max = snaps_max();
	pthread_mutex_unlock(&ctl_lock);
}

/* ---- Statistics ----------------------------------------------------------------------------
 * Rows are grouped by symbolized frames, not by stack id, so snapshots of
 * different sessions compare by source location as they should. */

/* Counts in COUNT_ONE units to whole allocations, rounding to nearest. */
static int64_t whole(int64_t units)
{
	return units >= 0 ? (units + COUNT_ONE / 2) / COUNT_ONE : -((-units + COUNT_ONE / 2) / COUNT_ONE);
}

struct row {
	const struct gh_trace_frame *key; /* innermost logical frame */
	int64_t c1, b1, c2, b2;           /* snapshot1 (or nothing) and snapshot2 (or live) */
};

static const struct gh_trace_frame *innermost(uint32_t id)
{
	const struct gh_trace_frame *f;
	gh__sym_frames(pool[recs[id].frames], &f);
	return f;
}

/* Frames without a line (no debug information: the filename is the module)
 * are told apart by their offset in the module, so that one row does not
 * merge every function of a stripped binary. */
static int cmp_key(const struct gh_trace_frame *a, const struct gh_trace_frame *b, enum gh_trace_group group)
{
	int c = strcmp(a->filename, b->filename);
	if (c != 0 || group == GH_TRACE_BY_FILENAME)
		return c;
	if (a->lineno != b->lineno)
		return a->lineno > b->lineno ? 1 : -1;
	return a->lineno ? 0 : (a->offset > b->offset) - (a->offset < b->offset);
}

static int cmp_row_key(const void *x, const void *y, void *group)
{
	return cmp_key(((const struct row *)x)->key, ((const struct row *)y)->key, *(enum gh_trace_group *)group);
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

#define CMP_DESC(a, b)                                                                          \
	do {                                                                                    \
		if ((a) != (b))                                                                 \
			return (a) < (b) ? 1 : -1;                                              \
	} while (0)

/* Python's order: |size_diff|, size, |count_diff|, count, all descending
 * (for top the diffs are 0); then by location for a stable answer. */
static int cmp_stat(const void *x, const void *y)
{
	const struct gh_trace_stat *a = x, *b = y;
	CMP_DESC(abs64(a->size_diff), abs64(b->size_diff));
	CMP_DESC(a->size, b->size);
	CMP_DESC(abs64(a->count_diff), abs64(b->count_diff));
	CMP_DESC(a->count, b->count);
	return cmp_key(&a->frame, &b->frame, GH_TRACE_BY_LINENO);
}

/* Groups rows by key (sorting them), sums, and returns the top_n stats. */
static int group_rows(struct row *rows, size_t n, enum gh_trace_group group, size_t top_n, bool diff,
		      struct gh_trace_stat **out, size_t *nout)
{
	qsort_r(rows, n, sizeof *rows, cmp_row_key, &group);
	struct gh_trace_stat *st = malloc((n ? n : 1) * sizeof *st);
	if (!st)
		return ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		int64_t c1 = 0, b1 = 0, c2 = 0, b2 = 0;
		size_t j = i;
		for (; j < n && cmp_key(rows[i].key, rows[j].key, group) == 0; j++) {
			c1 += rows[j].c1, b1 += rows[j].b1;
			c2 += rows[j].c2, b2 += rows[j].b2;
		}
		struct gh_trace_stat *s = &st[k++];
		s->size = b2;
		s->count = whole(c2);
		s->size_diff = diff ? b2 - b1 : 0;
		s->count_diff = diff ? whole(c2) - whole(c1) : 0;
		s->frame = *rows[i].key;
		if (group == GH_TRACE_BY_FILENAME) {
			s->frame.lineno = 0;
			s->frame.line = "";
			s->frame.function = "";
			s->frame.inlined = false;
		}
		i = j;
	}
	if (k > 1)
		qsort(st, k, sizeof *st, cmp_stat);
	*nout = k < top_n ? k : top_n;
	*out = st;
	return 0;
}

/* collect() of the active session under the control lock; ESRCH when
 * tracing is off. */
static int collect_active(struct snap_entry **out, size_t *n)
{
	pthread_mutex_lock(&ctl_lock);
	struct session *s = active_session();
	int err = s ? collect(s, out, n) : ESRCH;
	pthread_mutex_unlock(&ctl_lock);
	return err;
}

int gh__trace_top(enum gh_trace_group group, size_t top_n, struct gh_trace_stat **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	int q = gh__trace_quiet_begin();
	struct snap_entry *e = NULL;
	size_t n = 0;
	int err = collect_active(&e, &n);
	struct row *rows = NULL;
	if (!err && !(rows = malloc((n ? n : 1) * sizeof *rows)))
		err = ENOMEM;
	if (!err) {
		for (size_t i = 0; i < n; i++)
			rows[i] = (struct row){innermost(e[i].id), 0, 0, e[i].count, e[i].bytes};
		err = group_rows(rows, n, group, top_n, false, out, nout);
	}
	free(rows);
	free(e);
	gh__trace_quiet_end(q);
	return err;
}

static struct snap_entry *copy_entries(const struct snapshot *sn)
{
	struct snap_entry *e = malloc((sn->n ? sn->n : 1) * sizeof *e);
	if (e)
		memcpy(e, sn->e, sn->n * sizeof *e);
	return e;
}

int gh__trace_compare(const char *name1, const char *name2, enum gh_trace_group group, size_t top_n,
		      struct gh_trace_stat **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (!name1 || !name2)
		return EINVAL;
	int q = gh__trace_quiet_begin();
	struct snap_entry *e1 = NULL, *e2 = NULL;
	size_t n1 = 0, n2 = 0;
	int err = 0;
	pthread_mutex_lock(&ctl_lock);
	struct snapshot **s1 = snap_find(name1), **s2 = snap_find(name2);
	if (!s1 || !s2) {
		err = ENOENT;
	} else {
		n1 = (*s1)->n;
		n2 = (*s2)->n;
		e1 = copy_entries(*s1);
		e2 = copy_entries(*s2);
		if (!e1 || !e2)
			err = ENOMEM;
	}
	pthread_mutex_unlock(&ctl_lock);
	struct row *rows = NULL;
	if (!err && !(rows = malloc((n1 + n2 + 1) * sizeof *rows)))
		err = ENOMEM;
	if (!err) {
		size_t k = 0;
		for (size_t i = 0; i < n1; i++)
			rows[k++] = (struct row){innermost(e1[i].id), e1[i].count, e1[i].bytes, 0, 0};
		for (size_t i = 0; i < n2; i++)
			rows[k++] = (struct row){innermost(e2[i].id), 0, 0, e2[i].count, e2[i].bytes};
		err = group_rows(rows, k, group, top_n, true, out, nout);
	}
	free(rows);
	free(e1);
	free(e2);
	gh__trace_quiet_end(q);
	return err;
}

/* ---- Traceback ------------------------------------------------------------------------------ */

struct tb_item {
	int64_t count, bytes;
	size_t n;                            /* logical frames */
	const struct gh_trace_frame **frames; /* into the symbol cache */
};

/* Orders tracebacks by their (filename, lineno) sequence, lineless frames
 * by offset as cmp_key does; filenames are interned by symbols.c, so equal
 * names are equal pointers. */
static int cmp_tb_key(const void *x, const void *y)
{
	const struct tb_item *a = x, *b = y;
	size_t n = a->n < b->n ? a->n : b->n;
	for (size_t i = 0; i < n; i++) {
		const struct gh_trace_frame *fa = a->frames[i], *fb = b->frames[i];
		if (fa->filename != fb->filename)
			return (uintptr_t)fa->filename < (uintptr_t)fb->filename ? -1 : 1;
		if (fa->lineno != fb->lineno)
			return fa->lineno < fb->lineno ? -1 : 1;
		if (!fa->lineno && fa->offset != fb->offset)
			return fa->offset < fb->offset ? -1 : 1;
	}
	return (a->n > b->n) - (a->n < b->n);
}

static int cmp_tb_size(const void *x, const void *y)
{
	const struct tb_item *a = x, *b = y;
	CMP_DESC(a->bytes, b->bytes);
	CMP_DESC(a->count, b->count);
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int c = cmp_key(a->frames[i], b->frames[i], GH_TRACE_BY_LINENO);
		if (c)
			return c;
	}
	return (a->n > b->n) - (a->n < b->n);
}

/* Logical frames of a stack, into a heap array. */
static int logical_frames(uint32_t id, const struct gh_trace_frame ***out, size_t *nout)
{
	const struct stack_rec *r = &recs[id];
	unsigned np = atomic_load_explicit(&r->nframes, memory_order_acquire);
	size_t cap = (size_t)np * 2 + 4, n = 0;
	const struct gh_trace_frame **v = malloc(cap * sizeof *v);
	if (!v)
		return ENOMEM;
	for (unsigned i = 0; i < np; i++) {
		const struct gh_trace_frame *f;
		size_t k = gh__sym_frames(pool[r->frames + i], &f);
		if (n + k > cap) {
			cap = (n + k) * 2;
			const struct gh_trace_frame **nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				free(v);
				return ENOMEM;
			}
			v = nv;
		}
		for (size_t j = 0; j < k; j++)
			v[n++] = &f[j];
	}
	*out = v;
	*nout = n;
	return 0;
}

int gh__trace_traceback(size_t top_n, struct gh_trace_tb **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	int q = gh__trace_quiet_begin();
	struct snap_entry *e = NULL;
	size_t n = 0;
	int err = collect_active(&e, &n);
	struct tb_item *items = NULL;
	if (!err && !(items = calloc(n ? n : 1, sizeof *items)))
		err = ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		items[i].count = e[i].count;
		items[i].bytes = e[i].bytes;
		err = logical_frames(e[i].id, &items[i].frames, &items[i].n);
	}
	if (!err) {
		/* Merge stacks whose symbolized frames are the same. */
		if (n > 1)
			qsort(items, n, sizeof *items, cmp_tb_key);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (k > 0 && cmp_tb_key(&items[k - 1], &items[i]) == 0) {
				items[k - 1].count += items[i].count;
				items[k - 1].bytes += items[i].bytes;
				free(items[i].frames);
				items[i].frames = NULL;
			} else if (k++ != i) {
				items[k - 1] = items[i];
				items[i].frames = NULL;
			}
		}
		if (k > 1)
			qsort(items, k, sizeof *items, cmp_tb_size);
		size_t m = k < top_n ? k : top_n, nf = 0;
		for (size_t i = 0; i < m; i++)
			nf += items[i].n;
		struct gh_trace_tb *tb = malloc(m * sizeof *tb + nf * sizeof(struct gh_trace_frame) + 1);
		if (!tb) {
			err = ENOMEM;
		} else {
			struct gh_trace_frame *fr = (struct gh_trace_frame *)(tb + m);
			for (size_t i = 0; i < m; i++) {
				tb[i].size = items[i].bytes;
				tb[i].count = whole(items[i].count);
				tb[i].nframes = items[i].n;
				tb[i].frames = fr;
				for (size_t j = 0; j < items[i].n; j++)
					*fr++ = *items[i].frames[j];
			}
			*out = tb;
			*nout = m;
		}
	}
	for (size_t i = 0; items && i < n; i++)
		free(items[i].frames);
	free(items);
	free(e);
	gh__trace_quiet_end(q);
	return err;
}

/* ---- Raw stacks (the exporters: pprof, folded stacks) ------------------------------------------
 * Unsymbolized: the caller symbolizes what it needs (gh__sym_frames), so
 * that a profile names each return address once however many stacks share
 * it. Frames point into the pool, immutable once published: they stay valid
 * for the life of the process. */

/* Every stack of the running session with live blocks, or (with_freed)
 * with any block ever recorded, as snap_entry rows. */
static int collect_all(struct snap_entry **out, size_t *n, bool with_freed)
{
	if (!with_freed)
		return collect_active(out, n);
	pthread_mutex_lock(&ctl_lock);
	struct session *s = active_session();
	int err = ESRCH;
	if (s) {
		uint32_t end = atomic_load(&rec_next);
		if (end > rec_max)
			end = rec_max;
		size_t cap = end > s->first_id ? end - s->first_id : 0, k = 0;
		struct snap_entry *e = malloc((cap ? cap : 1) * sizeof *e);
		err = e ? 0 : ENOMEM;
		for (uint32_t id = s->first_id; e && id < end; id++) {
			const struct stack_rec *r = &recs[id];
			if (atomic_load_explicit(&r->nframes, memory_order_acquire) == 0 || r->session != s ||
			    atomic_load_explicit(&r->allocs, memory_order_relaxed) == 0)
				continue;
			e[k++] = (struct snap_entry){id, atomic_load_explicit(&r->count, memory_order_relaxed),
						     atomic_load_explicit(&r->bytes, memory_order_relaxed)};
		}
		*out = e;
		*n = k;
	}
	pthread_mutex_unlock(&ctl_lock);
	return err;
}

int gh__trace_stacks(const char *snapshot, bool with_freed, struct gh_trace_stack **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	int q = gh__trace_quiet_begin();
	struct snap_entry *e = NULL;
	size_t n = 0;
	int err = 0;
	if (snapshot) {
		pthread_mutex_lock(&ctl_lock);
		struct snapshot **sn = snap_find(snapshot);
		if (!sn) {
			err = ENOENT;
		} else {
			n = (*sn)->n;
			if (!(e = copy_entries(*sn)))
				err = ENOMEM;
		}
		pthread_mutex_unlock(&ctl_lock);
	} else {
		err = collect_all(&e, &n, with_freed);
	}
	struct gh_trace_stack *st = NULL;
	if (!err && !(st = malloc((n ? n : 1) * sizeof *st)))
		err = ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		const struct stack_rec *r = &recs[e[i].id];
		st[i] = (struct gh_trace_stack){
			.id = e[i].id,
			.count = whole(e[i].count),
			.bytes = e[i].bytes,
			.alloc_count = snapshot ? 0 : whole(atomic_load_explicit(&r->allocs, memory_order_relaxed)),
			.alloc_bytes = snapshot ? 0 : atomic_load_explicit(&r->alloc_bytes, memory_order_relaxed),
			.nframes = atomic_load_explicit(&r->nframes, memory_order_acquire),
			.frames = &pool[r->frames],
		};
	}
	free(e);
	if (err) {
		free(st);
		st = NULL;
		n = 0;
	}
	*out = st;
	*nout = n;
	gh__trace_quiet_end(q);
	return err;
}

bool gh__trace_block_weight(uint32_t stack, size_t size, int64_t *count_units, int64_t *bytes)
{
	if (stack == 0 || stack >= rec_max || recs == NULL)
		return false;
	const struct stack_rec *r = &recs[stack];
	if (atomic_load_explicit(&r->nframes, memory_order_acquire) == 0)
		return false;
	struct session *s = r->session;
	if (!atomic_load(&gh__trace_on) || s != atomic_load(&cur_session))
		return false;
	weights(s, size, count_units, bytes);
	return true;
}

int64_t gh__trace_whole(int64_t count_units)
{
	return whole(count_units);
}

/* ---- Public API (glassheap.h) ------------------------------------------------------------------ */

int gh_trace_start(unsigned frames, size_t sample_bytes)
{
	return gh__trace_start(frames, sample_bytes);
}

int gh_trace_stop(void)
{
	return gh__trace_stop();
}

int gh_trace_is_tracing(void)
{
	return atomic_load(&gh__trace_on) != 0;
}

void gh_trace_get_memory(uint64_t *current, uint64_t *peak)
{
	struct gh_trace_status st;
	gh__trace_status(&st);
	if (current)
		*current = st.current_bytes;
	if (peak)
		*peak = st.peak_bytes;
}

/* ---- Fork and start-up -------------------------------------------------------------------------- */

void gh__trace_atfork_prepare(void)
{
	pthread_mutex_lock(&ctl_lock);
	gh__sym_atfork_prepare();
}

void gh__trace_atfork_parent(void)
{
	gh__sym_atfork_parent();
	pthread_mutex_unlock(&ctl_lock);
}

void gh__trace_atfork_child(void)
{
	gh__sym_atfork_child();
	pthread_mutex_init(&ctl_lock, NULL);
}

/* After heap.c's constructor (101): GLASSHEAP_TRACE=<frames> starts tracing
 * before the program's own constructors run (GLASSHEAP_TRACE_SAMPLE=<bytes>
 * samples). Allocations made earlier, by other libraries' constructors, are
 * not traced. */
__attribute__((constructor(102))) static void trace_constructor(void)
{
	pthread_atfork(gh__trace_atfork_prepare, gh__trace_atfork_parent, gh__trace_atfork_child);
	const char *s = getenv("GLASSHEAP_TRACE");
	if (!s || !*s)
		return;
	size_t frames = 0, sample = 0;
	if (!gh__parse_size(s, &frames) || frames < 1 || frames > GH_TRACE_FRAMES_MAX) {
		gh__log("GLASSHEAP_TRACE=%s ignored: want a frame count 1..%d", s, GH_TRACE_FRAMES_MAX);
		return;
	}
	const char *ss = getenv("GLASSHEAP_TRACE_SAMPLE");
	if (ss && *ss && !gh__parse_size(ss, &sample)) {
		gh__log("GLASSHEAP_TRACE_SAMPLE=%s ignored: want a byte count (0 = every allocation)", ss);
		sample = 0;
	}
	int err = gh__trace_start((unsigned)frames, sample);
	if (err)
		gh__log("GLASSHEAP_TRACE: cannot start tracing (%s)", strerror(err));
}
