/*
 * types.c -- the type registry, scoped default types, and exact per-type
 * counters kept in per-thread shards.
 *
 * Counters: each thread owns a shard, an array of struct gh_ctr indexed by
 * type id, which only it writes (relaxed stores, no atomic read-modify-write
 * on the malloc/free path). Readers sum every shard under shard_lock. When a
 * thread exits, its shard is folded into the global shard and recycled;
 * threads that allocate after that (late TLS destructors) count directly
 * into the global shard with atomic adds.
 *
 *   thread A: tl_ctr ──▶ shard A [type 1..n]──┐
 *   thread B: tl_ctr ──▶ shard B [type 1..n]──┼──▶ sum on read (shard_lock)
 *   exited threads ───▶ global  [type 1..n]──┘      (+ free shards, all zero)
 *
 * A cross-thread free decrements the freeing thread's shard, so one shard's
 * live_count can be negative; only the sum is meaningful.
 *
 * Entry points: gh_type_register/find/name/count, gh_scope_push/pop,
 * gh_type_stats, gh_stats_all, gh__thread_setup, gh__count_global.
 */
#include "internal.h"

#include <stdlib.h>

struct type_rec {
	const char *name;
	gh_type_desc_t desc;
};

struct shard {
	struct shard *next_all;
	struct shard *next_free;
	bool in_use;
	struct gh_pend pend;                            /* right before bins: gh__pend */
	struct gh_bin bins[GH_TRL_CLASSES];             /* right before site_cache: gh__bin */
	struct gh_site_cache site_cache[GH_SITE_CACHE]; /* right before ctr: gh__site_cache */
	struct gh_ctr ctr[GH_TYPE_IDS];
};
_Static_assert(offsetof(struct shard, ctr) == offsetof(struct shard, site_cache) + GH_SITE_CACHE * sizeof(struct gh_site_cache),
	       "the site cache ends where the counters begin");
_Static_assert(offsetof(struct shard, site_cache) == offsetof(struct shard, bins) + sizeof(((struct shard *)0)->bins),
	       "the bins end where the site cache begins");
_Static_assert(offsetof(struct shard, bins) == offsetof(struct shard, pend) + sizeof(struct gh_pend),
	       "the ring ends where the bins begin");

#define NAME_SLOTS (2 * GH_TYPES_MAX) /* open addressing, power of two */
#define SCOPE_MAX 32

_Atomic uint32_t gh__ntypes;
static struct type_rec *types;  /* [GH_TYPE_IDS] */
static uint32_t *name_slots;    /* [NAME_SLOTS] type ids, 0 = empty */
static pthread_mutex_t type_lock = PTHREAD_MUTEX_INITIALIZER;

static struct shard *all_shards, *free_shards;
static struct gh_ctr *global_ctr; /* [GH_TYPE_IDS], atomic adds */
static pthread_mutex_t shard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;

GH_TLS struct gh_tl gh__tl;
static GH_TLS bool tl_setting_up, tl_dead;
static GH_TLS gh_type_t tl_scope[SCOPE_MAX];
static GH_TLS int tl_scope_depth;

/* ---- Registry ---------------------------------------------------------------- */

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Slot of name, or of the empty slot where it would go. Caller holds type_lock. */
static uint32_t *name_slot(const char *name, size_t len)
{
	uint32_t i = name_hash(name, len) & (NAME_SLOTS - 1);
	for (;;) {
		uint32_t id = name_slots[i];
		if (id == 0 || strcmp(types[id].name, name) == 0)
			return &name_slots[i];
		i = (i + 1) & (NAME_SLOTS - 1);
	}
}

static gh_type_t register_locked(const char *name, size_t len, const gh_type_desc_t *desc)
{
	uint32_t *slot = name_slot(name, len);
	if (*slot)
		return *slot;
	uint32_t n = atomic_load_explicit(&gh__ntypes, memory_order_relaxed);
	if (n >= GH_TYPES_MAX) {
		errno = ENOSPC;
		return GH_TYPE_NONE;
	}
	char *copy = gh__meta_alloc(len + 1);
	size_t *offs = NULL;
	if (desc && desc->n_ptr_offsets) {
		offs = gh__meta_alloc(desc->n_ptr_offsets * sizeof *offs);
		if (offs)
			memcpy(offs, desc->ptr_offsets, desc->n_ptr_offsets * sizeof *offs);
	}
	if (!copy || (desc && desc->n_ptr_offsets && !offs)) {
		errno = ENOMEM;
		return GH_TYPE_NONE;
	}
	memcpy(copy, name, len);
	gh_type_t id = n + 1;
	types[id].name = copy;
	if (desc) {
		types[id].desc = *desc;
		types[id].desc.ptr_offsets = offs;
	}
	*slot = id;
	atomic_store_explicit(&gh__ntypes, id, memory_order_release);
	return id;
}

gh_type_t gh_type_register(const char *name, const gh_type_desc_t *desc)
{
	size_t len = name ? strnlen(name, GH_TYPE_NAME_MAX + 1) : 0;
	if (len == 0 || len > GH_TYPE_NAME_MAX) {
		errno = EINVAL;
		return GH_TYPE_NONE;
	}
	if (desc && (desc->n_ptr_offsets > 64 || (desc->n_ptr_offsets && !desc->ptr_offsets))) {
		errno = EINVAL;
		return GH_TYPE_NONE;
	}
	if (!gh__init()) {
		errno = ENOMEM;
		return GH_TYPE_NONE;
	}
	pthread_mutex_lock(&type_lock);
	gh_type_t id = register_locked(name, len, desc);
	pthread_mutex_unlock(&type_lock);
	return id;
}

gh_type_t gh_type_find(const char *name)
{
	size_t len = name ? strnlen(name, GH_TYPE_NAME_MAX + 1) : 0;
	if (len == 0 || len > GH_TYPE_NAME_MAX || !gh__init())
		return GH_TYPE_NONE;
	pthread_mutex_lock(&type_lock);
	gh_type_t id = *name_slot(name, len);
	pthread_mutex_unlock(&type_lock);
	return id;
}

const char *gh_type_name(gh_type_t type)
{
	return gh__type_valid(type) ? types[type].name : NULL;
}

uint32_t gh_type_count(void)
{
	return atomic_load_explicit(&gh__ntypes, memory_order_acquire);
}

const gh_type_desc_t *gh__type_desc(gh_type_t type)
{
	return gh__type_valid(type) ? &types[type].desc : NULL;
}

/* ---- Scopes ------------------------------------------------------------------- */

int gh_scope_push(gh_type_t type)
{
	if (!gh__type_valid(type))
		return EINVAL;
	if (tl_scope_depth >= SCOPE_MAX)
		return EOVERFLOW;
	tl_scope[tl_scope_depth++] = type;
	gh__tl_set_scope(type);
	return 0;
}

int gh_scope_pop(void)
{
	if (tl_scope_depth == 0)
		return EINVAL;
	tl_scope_depth--;
	gh__tl_set_scope(tl_scope_depth ? tl_scope[tl_scope_depth - 1] : GH_TYPE_NONE);
	return 0;
}

/* ---- Shards ------------------------------------------------------------------- */

void gh__count_global(gh_type_t t, int64_t dallocs, int64_t dfrees, int64_t dbytes, int64_t dmoved)
{
	if (!global_ctr)
		return;
	struct gh_ctr *c = &global_ctr[t];
	__atomic_fetch_add(&c->allocs, dallocs, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->frees, dfrees, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->live_bytes, dbytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->moved, dmoved, __ATOMIC_RELAXED);
}

/* pthread key destructor: the thread is exiting. Later allocations of this
 * thread (other destructors) count into the global shard. */
static void thread_exit(void *arg)
{
	struct shard *s = arg;
	gh__free_drain(); /* its ring counted into its shard before the fold */
	gh__tl.ctr = NULL;
	gh__tl_refresh();
	tl_dead = true;
	pthread_mutex_lock(&shard_lock);
	uint32_t n = atomic_load(&gh__ntypes);
	for (uint32_t t = 1; t <= n; t++) {
		struct gh_ctr *c = &s->ctr[t];
		gh__count_global(t, c->allocs, c->frees, c->live_bytes, c->moved);
		memset(c, 0, sizeof *c);
	}
	s->in_use = false;
	s->next_free = free_shards;
	free_shards = s;
	pthread_mutex_unlock(&shard_lock);
}

struct gh_ctr *gh__thread_setup(void)
{
	if (gh__tl.ctr)
		return gh__tl.ctr;
	if (tl_setting_up || tl_dead)
		return NULL;
	tl_setting_up = true;
	gh__heap_bind_arena();
	pthread_mutex_lock(&shard_lock);
	struct shard *s = free_shards;
	if (s) {
		free_shards = s->next_free;
	} else if ((s = gh__meta_map(sizeof *s)) != NULL) {
		s->next_all = all_shards;
		all_shards = s;
		gh__bins_init(s->bins);
	}
	if (s)
		s->in_use = true;
	pthread_mutex_unlock(&shard_lock);
	if (s) {
		/* May allocate (keys past the first 32): we are still marked as
		 * setting up, so such allocations count globally. */
		pthread_setspecific(exit_key, s);
		gh__tl.ctr = s->ctr;
		gh__tl_refresh();
	}
	tl_setting_up = false;
	return gh__tl.ctr;
}

void gh__types_init(void)
{
	types = gh__meta_map(sizeof(struct type_rec) * GH_TYPE_IDS);
	name_slots = gh__meta_map(sizeof(uint32_t) * NAME_SLOTS);
	global_ctr = gh__meta_map(sizeof(struct gh_ctr) * GH_TYPE_IDS);
	pthread_key_create(&exit_key, thread_exit);
	if (!types || !name_slots)
		return;
	static const char *const builtin[] = {"malloc", "operator new", "glassheap"};
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		register_locked(builtin[i], strlen(builtin[i]), NULL);
}

void gh__site_caches_clear(void)
{
	pthread_mutex_lock(&shard_lock);
	for (struct shard *s = all_shards; s; s = s->next_all)
		for (size_t i = 0; i < GH_SITE_CACHE; i++)
			GH_STORE(&s->site_cache[i].key, 0);
	pthread_mutex_unlock(&shard_lock);
}

/* ---- Reading the counters ----------------------------------------------------- */

static void add_ctr(gh_type_stats_t *o, const struct gh_ctr *c)
{
	int64_t allocs = GH_LOAD(&c->allocs), frees = GH_LOAD(&c->frees);
	o->live_count += (uint64_t)(allocs - frees + GH_LOAD(&c->moved));
	o->live_bytes += (uint64_t)GH_LOAD(&c->live_bytes);
	o->total_allocs += (uint64_t)allocs;
	o->total_frees += (uint64_t)frees;
}

/* The blocks in a shard's ring (struct gh_pend): freed, and counted until
 * they leave it. Their types into type[], sizes into size[]; returns how
 * many. A racy read validated by the ring's sequence number: a trailer read
 * between two equal even values belongs to a block still in the ring. A
 * busy owner can make every attempt fail; after a bounded number the
 * counters are read as they stand (off by at most GH_PEND for that shard,
 * as any read of a thread that is freeing is off by its last frees). */
GH_RACY_READER static unsigned pend_read(struct shard *s, gh_type_t type[GH_PEND], size_t size[GH_PEND])
{
	struct gh_pend *pd = &s->pend;
	for (unsigned tries = 0; tries < 256; tries++) {
		uint64_t seq = __atomic_load_n(&pd->seq, __ATOMIC_ACQUIRE);
		if (seq & 1) {
			gh__cpu_relax();
			continue;
		}
		unsigned n = 0;
		for (unsigned k = 0; k < GH_PEND; k++) {
			uintptr_t q = GH_LOAD(&pd->u[k]);
			size_t cls = gh__start_cls[GH_LOAD(&pd->start[k])];
			if (q == 0 || cls == 0)
				continue;
			uint64_t w = GH_LOAD((const uint64_t *)(q + cls - GH_TRL_SIZE));
			unsigned chk = (unsigned)(w & GH_TRL_CHECK_MASK);
			if ((chk != GH_STATE_LIVE && chk != GH_STATE_LIVE_TRACED) || GH_TRL_SIZE_OF(w) + GH_TRL_SIZE > cls)
				continue; /* overwritten: gh__free_pended_odd leaves it counted */
			type[n] = GH_TRL_FIELD(w, GH_TRL_TYPE_SHIFT, GH_TRL_TYPE_BITS);
			size[n] = GH_TRL_SIZE_OF(w);
			n++;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&pd->seq, __ATOMIC_RELAXED) == seq)
			return n;
	}
	return 0;
}

/* One freed block of a ring taken out of o's figures. */
static void pend_sub(gh_type_stats_t *o, size_t size)
{
	o->live_count--;
	o->live_bytes -= size;
	o->total_frees++;
}

/* Sums were accumulated in two's complement; a transiently negative live
 * figure (a free counted before its allocation) reads as 0. */
static void finish_stats(gh_type_stats_t *o, gh_type_t t)
{
	if ((int64_t)o->live_count < 0)
		o->live_count = 0;
	if ((int64_t)o->live_bytes < 0)
		o->live_bytes = 0;
	o->type = t;
	o->name = types[t].name;
}

int gh_type_stats(gh_type_t type, gh_type_stats_t *out)
{
	if (!gh__init() || !gh__type_valid(type))
		return ENOENT;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&shard_lock);
	for (struct shard *s = all_shards; s; s = s->next_all) {
		add_ctr(out, &s->ctr[type]);
		gh_type_t pt[GH_PEND];
		size_t ps[GH_PEND];
		for (unsigned k = 0, n = pend_read(s, pt, ps); k < n; k++)
			if (pt[k] == type)
				pend_sub(out, ps[k]);
	}
	add_ctr(out, &global_ctr[type]);
	pthread_mutex_unlock(&shard_lock);
	finish_stats(out, type);
	return 0;
}

size_t gh_stats_all(gh_type_stats_t *out, size_t cap)
{
	if (!gh__init())
		return 0;
	uint32_t n = gh_type_count();
	size_t m = n < cap ? n : cap;
	memset(out, 0, m * sizeof *out);
	pthread_mutex_lock(&shard_lock);
	for (struct shard *s = all_shards; s; s = s->next_all) {
		for (size_t i = 0; i < m; i++)
			add_ctr(&out[i], &s->ctr[i + 1]);
		gh_type_t pt[GH_PEND];
		size_t ps[GH_PEND];
		for (unsigned k = 0, n = pend_read(s, pt, ps); k < n; k++)
			if (pt[k] >= 1 && pt[k] <= m)
				pend_sub(&out[pt[k] - 1], ps[k]);
	}
	for (size_t i = 0; i < m; i++)
		add_ctr(&out[i], &global_ctr[i + 1]);
	pthread_mutex_unlock(&shard_lock);
	for (size_t i = 0; i < m; i++)
		finish_stats(&out[i], (gh_type_t)(i + 1));
	return n;
}

/* The program's live requested bytes: every type but glassheap's own
 * (GH_TYPE_INTERNAL), summed as /debug/memory's summary sums them. Never
 * allocates (mallinfo2 in mallinfo.c). */
uint64_t gh__program_live_bytes(void)
{
	uint64_t bytes = 0;
	gh_type_stats_t st;
	for (gh_type_t t = 1, n = gh_type_count(); t <= n; t++)
		if (t != GH_TYPE_INTERNAL && gh_type_stats(t, &st) == 0)
			bytes += st.live_bytes;
	return bytes;
}

/* ---- Retag ----------------------------------------------------------------------- */

void gh__count_retag(gh_type_t from, gh_type_t to, size_t size)
{
	struct gh_ctr *c = gh__tl.ctr ? gh__tl.ctr : gh__thread_setup();
	if (c) {
		GH_STORE(&c[from].moved, GH_LOAD(&c[from].moved) - 1);
		GH_STORE(&c[from].live_bytes, GH_LOAD(&c[from].live_bytes) - (int64_t)size);
		GH_STORE(&c[to].moved, GH_LOAD(&c[to].moved) + 1);
		GH_STORE(&c[to].live_bytes, GH_LOAD(&c[to].live_bytes) + (int64_t)size);
	} else {
		gh__count_global(from, 0, 0, -(int64_t)size, -1);
		gh__count_global(to, 0, 0, (int64_t)size, 1);
	}
}

/* ---- Fork ------------------------------------------------------------------------ */

void gh__types_atfork_prepare(void)
{
	pthread_mutex_lock(&type_lock);
	pthread_mutex_lock(&shard_lock);
}

void gh__types_atfork_parent(void)
{
	pthread_mutex_unlock(&shard_lock);
	pthread_mutex_unlock(&type_lock);
}

void gh__types_atfork_child(void)
{
	pthread_mutex_init(&shard_lock, NULL);
	pthread_mutex_init(&type_lock, NULL);
	/* The threads the child lost keep their shards (their counts describe
	 * objects in the child's heap); their free blocks go back to jemalloc. */
	struct gh_ctr *own = gh__tl.ctr;
	for (struct shard *s = all_shards; s; s = s->next_all)
		if (s->in_use && s->ctr != own) {
			gh__free_drain_lost(s->ctr);
			gh__bins_release(s->bins);
		}
}
