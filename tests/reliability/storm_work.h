/*
 * storm_work.h -- the allocation side of the storm tests, shared by
 * storm_host.c (with the debug server, driven over HTTP by storm.py) and
 * storm_core.c (the core alone, also built with ThreadSanitizer).
 *
 * LANES threads each run generations of short-lived worker threads (thread
 * churn: a worker does a random number of operations, exits, and its lane
 * starts the next one). Workers pick random slots of one shared table and
 * allocate, realloc, retag or free what is there, whoever allocated it
 * (cross-thread frees), with the typed API and, when STORM_SHIM is 1 (the
 * program's malloc is glassheap), with plain malloc/calloc/realloc/
 * posix_memalign under a scope.
 *
 *   slots[i] = {ptr, size, type}  -- guarded by stripe[i % STRIPES]
 *   worker: lock stripe, act on the slot, update its own ground truth, unlock
 *   exit:   fold its ground truth into storm_truth (mutex)
 *
 * Every type is collectable, so a pass that freed a held block would show
 * as damage here. Every block carries a stamp (its slot, size and a check word) at both ends,
 * verified before every realloc and free: a block that glassheap, a gc pass
 * or a concurrent reader damaged is reported as corruption.
 *
 * Ground truth is kept per type: allocations and frees as glassheap counts
 * them (a realloc counts one of each; a retag moves the live count and bytes
 * but no allocation or free), and the live count and bytes.
 */
#ifndef STORM_WORK_H
#define STORM_WORK_H

#include <glassheap.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef STORM_SHIM
#define STORM_SHIM 1
#endif
#ifndef STORM_TSAN
#define STORM_TSAN 0
#endif

#define STORM_SLOTS 8192
#define STORM_STRIPES 64
#define STORM_LANES 4

enum {
	ST_NODE,    /* small typed blocks, with a formatter */
	ST_BLOB,    /* typed, up to 1 MiB (large blocks, the page map) */
	ST_ALIGNED, /* gh_aligned_alloc_typed, 32..4096 */
	ST_RETAG,   /* Node blocks retagged with gh_retag */
	ST_SCOPED,  /* untyped malloc family under gh_scope_push */
	ST_NTYPES
};

static const char *const storm_type_names[ST_NTYPES] = {
	"Storm.Node", "Storm.Blob", "Storm.Aligned", "Storm.Retagged", "Storm.Scoped",
};

struct storm_truth {
	int64_t live[ST_NTYPES], bytes[ST_NTYPES], allocs[ST_NTYPES], frees[ST_NTYPES];
	int64_t ops, corrupt, failed;
};

struct storm_slot {
	void *ptr;
	size_t size;
	int type;
};

/* Globals: the slot table is a root of the reachability passes (every live
 * storm block is referenced from here or from a worker's registers/stack). */
static struct storm_slot storm_slots[STORM_SLOTS];
static pthread_mutex_t storm_stripe[STORM_STRIPES];
static gh_type_t storm_types[ST_NTYPES];
static struct storm_truth storm_truth;
static pthread_mutex_t storm_truth_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int storm_stop;
static _Atomic long storm_generations;
static pthread_t storm_lane_threads[STORM_LANES];

static inline uint64_t storm_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint64_t storm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Stamps ------------------------------------------------------------------------ */

#define STORM_MAGIC UINT64_C(0x5354524d424c4b21) /* "STRMBLK!" */

struct storm_stamp {
	uint32_t slot;
	uint32_t size;
	uint64_t check;
};

static inline uint64_t storm_check(uint32_t slot, uint32_t size)
{
	return STORM_MAGIC ^ ((uint64_t)slot << 32) ^ size;
}

/* Writes the stamp at the start and, when there is room, at the end. */
static inline void storm_stamp(void *p, size_t size, uint32_t slot)
{
	if (size < sizeof(struct storm_stamp))
		return;
	struct storm_stamp s = {slot, (uint32_t)size, storm_check(slot, (uint32_t)size)};
	memcpy(p, &s, sizeof s);
	if (size >= 2 * sizeof s)
		memcpy((char *)p + size - sizeof s, &s, sizeof s);
}

static inline bool storm_stamp_ok(const void *p, size_t size, uint32_t slot)
{
	if (size < sizeof(struct storm_stamp))
		return true;
	struct storm_stamp s = {slot, (uint32_t)size, storm_check(slot, (uint32_t)size)};
	if (memcmp(p, &s, sizeof s) != 0)
		return false;
	return size < 2 * sizeof s || memcmp((const char *)p + size - sizeof s, &s, sizeof s) == 0;
}

/* A formatter that reads only the object itself (the server may call it on
 * a block another thread is freeing: it must not follow pointers). */
static int storm_format_node(const void *obj, size_t size, char *buf, size_t len)
{
	struct storm_stamp s;
	if (size < sizeof s)
		return snprintf(buf, len, "Storm.Node{size=%zu}", size);
	memcpy(&s, obj, sizeof s);
	return snprintf(buf, len, "Storm.Node{slot=%u, size=%u}", s.slot, s.size);
}

/* Under TSan a thread blocked inside pthread_mutex_lock never runs a pending
 * signal (TSan delivers async signals at the next intercepted call), so it
 * could never park for a reachability pass while the lock's holder is
 * parked: spin on trylock instead, whose return is such a call. */
static inline void storm_lock(pthread_mutex_t *m)
{
	if (!STORM_TSAN) {
		pthread_mutex_lock(m);
		return;
	}
	while (pthread_mutex_trylock(m) != 0)
		sched_yield();
}

/* ---- One operation ------------------------------------------------------------------- */

static size_t storm_size(uint64_t *seed, int type)
{
	uint64_t r = storm_rnd(seed);
	switch (type) {
	case ST_NODE:
		return r % 257; /* 0 included */
	case ST_BLOB:
		if (r % 1024 == 0)
			return (size_t)(1 << 20) + r % 4096;
		if (r % 64 == 1)
			return 16384 + r % (256 * 1024);
		return 1 + r % 4096;
	case ST_ALIGNED:
		return 1 + r % 3000;
	default:
		return 1 + r % 2048;
	}
}

static void *storm_alloc(uint64_t *seed, int type, size_t size)
{
	uint64_t r = storm_rnd(seed);
	switch (type) {
	case ST_NODE:
		return (r & 1) ? gh_calloc_typed(storm_types[ST_NODE], 1, size)
			       : gh_malloc_typed(storm_types[ST_NODE], size);
	case ST_BLOB:
		return gh_malloc_typed(storm_types[ST_BLOB], size);
	case ST_ALIGNED:
		return gh_aligned_alloc_typed(storm_types[ST_ALIGNED], (size_t)32 << (r % 8), size);
	default: {
#if STORM_SHIM
		void *p = NULL;
		gh_scope_push(storm_types[ST_SCOPED]);
		switch (r % 3) {
		case 0:
			p = malloc(size);
			break;
		case 1:
			p = calloc(1, size);
			break;
		default:
			if (posix_memalign(&p, 64, size) != 0)
				p = NULL;
		}
		gh_scope_pop();
		return p;
#else
		return gh_malloc_typed(storm_types[ST_SCOPED], size);
#endif
	}
	}
}

static void *storm_realloc(int type, void *p, size_t size)
{
#if STORM_SHIM
	if (type == ST_SCOPED || type == ST_RETAG)
		return realloc(p, size); /* untyped: keeps the block's type */
#endif
	return gh_realloc_typed(storm_types[type], p, size);
}

static void storm_op(struct storm_truth *t, uint64_t *seed)
{
	uint32_t i = (uint32_t)(storm_rnd(seed) % STORM_SLOTS);
	pthread_mutex_t *m = &storm_stripe[i % STORM_STRIPES];
	storm_lock(m);
	struct storm_slot *s = &storm_slots[i];
	uint64_t r = storm_rnd(seed) % 100;
	t->ops++;
	if (!s->ptr) {
		if (r < 60) {
			int type = (int)(storm_rnd(seed) % ST_NTYPES);
			if (type == ST_RETAG)
				type = ST_NODE;
			size_t size = storm_size(seed, type);
			void *p = storm_alloc(seed, type, size);
			if (!p) {
				t->failed++;
			} else {
				storm_stamp(p, size, i);
				s->ptr = p;
				s->size = size;
				s->type = type;
				t->live[type]++, t->bytes[type] += (int64_t)size, t->allocs[type]++;
			}
		}
	} else {
		if (!storm_stamp_ok(s->ptr, s->size, i))
			t->corrupt++;
		if (r < 30) { /* realloc */
			size_t size = storm_size(seed, s->type);
			if (size == 0)
				size = 1;
			void *q = storm_realloc(s->type, s->ptr, size);
			if (!q) {
				t->failed++;
			} else {
				storm_stamp(q, size, i); /* the size changed: restamp both ends */
				t->bytes[s->type] += (int64_t)size - (int64_t)s->size;
				t->allocs[s->type]++, t->frees[s->type]++;
				s->ptr = q;
				s->size = size;
			}
		} else if (r < 38 && s->type == ST_NODE) { /* retag */
			if (gh_retag(s->ptr, storm_types[ST_RETAG]) != 0) {
				t->failed++;
			} else {
				t->live[ST_NODE]--, t->bytes[ST_NODE] -= (int64_t)s->size;
				t->live[ST_RETAG]++, t->bytes[ST_RETAG] += (int64_t)s->size;
				s->type = ST_RETAG;
			}
		} else if (r < 80) { /* free */
			if (!STORM_SHIM || (storm_rnd(seed) & 1))
				gh_free(s->ptr);
			else
				free(s->ptr); /* the same thing when glassheap is the malloc */
			t->live[s->type]--, t->bytes[s->type] -= (int64_t)s->size, t->frees[s->type]++;
			s->ptr = NULL;
			s->size = 0;
		}
	}
	pthread_mutex_unlock(m);
}

/* ---- Workers and lanes --------------------------------------------------------------- */

struct storm_worker_arg {
	uint64_t seed;
	long ops;
};

static void storm_fold(const struct storm_truth *t)
{
	pthread_mutex_lock(&storm_truth_lock);
	for (int k = 0; k < ST_NTYPES; k++) {
		storm_truth.live[k] += t->live[k];
		storm_truth.bytes[k] += t->bytes[k];
		storm_truth.allocs[k] += t->allocs[k];
		storm_truth.frees[k] += t->frees[k];
	}
	storm_truth.ops += t->ops;
	storm_truth.corrupt += t->corrupt;
	storm_truth.failed += t->failed;
	pthread_mutex_unlock(&storm_truth_lock);
}

static void *storm_worker(void *argp)
{
	struct storm_worker_arg *a = argp;
	struct storm_truth t;
	memset(&t, 0, sizeof t);
	uint64_t seed = a->seed;
	for (long n = 0; n < a->ops && !atomic_load_explicit(&storm_stop, memory_order_relaxed); n++)
		storm_op(&t, &seed);
	storm_fold(&t);
	return NULL;
}

/* A lane: worker after worker until storm_stop; ops per worker vary so that
 * threads start and exit all the time. */
static long storm_ops_max = 20000;

static void *storm_lane(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15u + 12345;
	while (!atomic_load(&storm_stop)) {
		struct storm_worker_arg a = {storm_rnd(&seed), (long)(storm_rnd(&seed) % (uint64_t)storm_ops_max) + 1};
		pthread_t th;
		if (pthread_create(&th, NULL, storm_worker, &a) != 0) {
			storm_worker(&a); /* out of threads: do the work here */
			continue;
		}
		pthread_join(th, NULL);
		atomic_fetch_add(&storm_generations, 1);
	}
	return NULL;
}

/* Registers the types (returns false on failure). */
static bool storm_setup(void)
{
	for (int i = 0; i < STORM_STRIPES; i++)
		pthread_mutex_init(&storm_stripe[i], NULL);
	for (int k = 0; k < ST_NTYPES; k++) {
		gh_type_desc_t d;
		memset(&d, 0, sizeof d);
		if (k == ST_NODE)
			d.format = storm_format_node;
		/* Collectable: a pass may free what it proves unreachable, and
		 * every storm block is held (slot table, or a worker's registers
		 * and stack): a pass that frees one damages the storm. */
		d.flags = GH_TYPE_COLLECTABLE;
		storm_types[k] = gh_type_register(storm_type_names[k], &d);
		if (storm_types[k] == GH_TYPE_NONE)
			return false;
	}
	return true;
}

static void storm_start_lanes(void)
{
	for (long i = 0; i < STORM_LANES; i++)
		pthread_create(&storm_lane_threads[i], NULL, storm_lane, (void *)(i + 1));
}

/* Stops the lanes; false when one did not finish within limit_ms. */
static bool storm_stop_lanes(long limit_ms)
{
	atomic_store(&storm_stop, 1);
	bool ok = true;
	for (int i = 0; i < STORM_LANES; i++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += limit_ms / 1000;
		if (pthread_timedjoin_np(storm_lane_threads[i], NULL, &ts) != 0)
			ok = false;
	}
	return ok;
}

/*
 * Compares glassheap's counters with the ground truth and with the slot
 * table; prints one line per type ("truth <name> live bytes allocs frees")
 * and one "mismatch ..." line per difference. Returns the mismatches.
 * Call with the workers stopped.
 */
static int storm_verify(FILE *out)
{
	int bad = 0;
	int64_t slot_live[ST_NTYPES] = {0}, slot_bytes[ST_NTYPES] = {0};
	for (int i = 0; i < STORM_SLOTS; i++) {
		struct storm_slot *s = &storm_slots[i];
		if (!s->ptr)
			continue;
		slot_live[s->type]++;
		slot_bytes[s->type] += (int64_t)s->size;
		if (!storm_stamp_ok(s->ptr, s->size, (uint32_t)i)) {
			fprintf(out, "mismatch slot %d stamp damaged\n", i);
			bad++;
		}
		gh_ptr_info_t info;
		if (gh_ptr_info(s->ptr, &info) != 0 || info.base != s->ptr || info.size != s->size ||
		    info.type != storm_types[s->type]) {
			fprintf(out, "mismatch slot %d gh_ptr_info disagrees\n", i);
			bad++;
		}
	}
	for (int k = 0; k < ST_NTYPES; k++) {
		gh_type_stats_t st;
		memset(&st, 0, sizeof st);
		gh_type_stats(storm_types[k], &st);
		fprintf(out, "truth %s %lld %lld %lld %lld\n", storm_type_names[k], (long long)storm_truth.live[k],
			(long long)storm_truth.bytes[k], (long long)storm_truth.allocs[k], (long long)storm_truth.frees[k]);
		if ((int64_t)st.live_count != storm_truth.live[k] || (int64_t)st.live_bytes != storm_truth.bytes[k] ||
		    (int64_t)st.total_allocs != storm_truth.allocs[k] || (int64_t)st.total_frees != storm_truth.frees[k]) {
			fprintf(out, "mismatch %s glassheap %llu %llu %llu %llu\n", storm_type_names[k],
				(unsigned long long)st.live_count, (unsigned long long)st.live_bytes,
				(unsigned long long)st.total_allocs, (unsigned long long)st.total_frees);
			bad++;
		}
		if (slot_live[k] != storm_truth.live[k] || slot_bytes[k] != storm_truth.bytes[k]) {
			fprintf(out, "mismatch %s slots %lld %lld\n", storm_type_names[k], (long long)slot_live[k],
				(long long)slot_bytes[k]);
			bad++;
		}
	}
	if (storm_truth.corrupt) {
		fprintf(out, "mismatch corrupt blocks seen by workers: %lld\n", (long long)storm_truth.corrupt);
		bad++;
	}
	if (storm_truth.failed) {
		fprintf(out, "mismatch failed allocations: %lld\n", (long long)storm_truth.failed);
		bad++;
	}
	fprintf(out, "ops %lld generations %ld\n", (long long)storm_truth.ops, atomic_load(&storm_generations));
	fflush(out);
	return bad;
}

/* Frees every block left in the table (workers stopped). */
static void storm_free_all(void)
{
	for (int i = 0; i < STORM_SLOTS; i++) {
		struct storm_slot *s = &storm_slots[i];
		if (!s->ptr)
			continue;
		storm_truth.live[s->type]--;
		storm_truth.bytes[s->type] -= (int64_t)s->size;
		storm_truth.frees[s->type]++;
		gh_free(s->ptr);
		s->ptr = NULL;
		s->size = 0;
	}
}

#endif /* STORM_WORK_H */
