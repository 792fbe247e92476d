/*
 * sites.c -- call sites: the return address of every allocation, interned
 * to a 32-bit id so that the header stays 16 bytes (a raw address's low
 * 32 bits would be ambiguous across libraries).
 *
 * The table is a lock-free open-addressing hash from address to id, in
 * MAP_NORESERVE memory mapped once at start-up (only touched pages cost
 * memory). Inserting claims a slot with one CAS on the key and then
 * publishes the id; a reader that finds the key before the id spins for
 * the few instructions in between. The common case -- a known site -- is a
 * multiply, a load and a compare.
 *
 * Entry points: gh__site_intern (hot path), gh__site_address,
 * gh_site_resolve, gh__site_describe.
 */
#include "internal.h"
#include "elfseg.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define SITE_SLOTS GH_SITE_SLOTS
#define SITES_MAX GH_SITES_MAX

_Atomic uintptr_t *gh__site_keys;
_Atomic uint32_t *gh__site_ids;
_Atomic uint64_t gh__site_epoch;
#define site_keys gh__site_keys
#define site_ids gh__site_ids
static _Atomic uintptr_t *site_addr; /* [SITES_MAX + 2] id -> address (atomic: read by id from any header) */
static _Atomic uint32_t site_n;
/* Per wrapper site: where its caller's return address lies relative to its
 * own (wrap_resolve); 0 unknown, -1 not constant. A small open-addressing
 * map of (site << 32 | k), 0 empty, in metadata: wrapper sites are few, and
 * a table per site id would cost megabytes of address space. A site that
 * finds no room is walked every time. */
#define KMAP_SLOTS 4096
#define KMAP_PROBES 16
static _Atomic uint64_t *kmap;
/* Allocations attributed to GH_SITE_OTHER because the table was full. */
static _Atomic uint64_t other_allocs;

void gh__sites_init(void)
{
	site_keys = gh__meta_map(SITE_SLOTS * sizeof *site_keys);
	site_ids = gh__meta_map(SITE_SLOTS * sizeof *site_ids);
	site_addr = gh__meta_map(((size_t)SITES_MAX + 2) * sizeof *site_addr);
	kmap = gh__meta_alloc(KMAP_SLOTS * sizeof *kmap);
	if (!site_keys || !site_ids || !site_addr || !kmap)
		gh__sites_release();
	gh__wrappers_init();
}

/* Gives the tables back (initialization failed: pass-through needs the
 * address space). Only before any allocation interned a site. */
void gh__sites_release(void)
{
	if (site_keys)
		munmap((void *)site_keys, SITE_SLOTS * sizeof *site_keys);
	if (site_ids)
		munmap((void *)site_ids, SITE_SLOTS * sizeof *site_ids);
	if (site_addr)
		munmap((void *)site_addr, ((size_t)SITES_MAX + 2) * sizeof *site_addr);
	site_keys = NULL;
	site_ids = NULL;
	site_addr = NULL;
	kmap = NULL; /* metadata: never given back */
}

/* Inserts are rare (once per call site) and serialized by this lock, which
 * fork handlers also take: a child never inherits a slot whose key is set
 * but whose id is not. Lookups never take it. */
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;

void gh__sites_atfork_prepare(void)
{
	pthread_mutex_lock(&insert_lock);
}

void gh__sites_atfork_parent(void)
{
	pthread_mutex_unlock(&insert_lock);
}

void gh__sites_atfork_child(void)
{
	pthread_mutex_init(&insert_lock, NULL);
}

static uint32_t wrap_resolve(uintptr_t ra, uint32_t own);

/* The slow path of gh__site_intern: probe from slot i, insert if absent.
 * Once SITES_MAX sites exist no slot is claimed any more: the table's load
 * factor stays at most 1/2, so every probe ends at an empty slot, and a new
 * address gets GH_SITE_OTHER (counted) instead of an id of its own.
 * Returns the slot value of ra (id | GH_SITE_WRAP). */
static uint32_t lookup_raw(uintptr_t ra, size_t i)
{
	int wrap = -1; /* not classified yet */
	for (size_t probes = 0; probes < SITE_SLOTS; probes++) {
		uintptr_t k = atomic_load_explicit(&site_keys[i], memory_order_acquire);
		if (k == ra) {
			/* Published under insert_lock right after the key: a reader
			 * that sees the key first waits a few instructions -- unless
			 * the inserter was preempted; yield, bounded. */
			for (int spins = 0; spins < 100000; spins++) {
				uint32_t id = atomic_load_explicit(&site_ids[i], memory_order_acquire);
				if (id != 0)
					return id; /* with its GH_SITE_WRAP flag */
				if (spins > 100)
					sched_yield();
			}
			return 0;
		}
		if (k == 0) {
			if (atomic_load_explicit(&site_n, memory_order_relaxed) >= SITES_MAX) {
				atomic_fetch_add_explicit(&other_allocs, 1, memory_order_relaxed);
				return GH_SITE_OTHER;
			}
			/* Classified before the lock (it may read a module's
			 * symbols), once per new address. */
			if (wrap < 0)
				wrap = gh__wrap_contains(ra);
			pthread_mutex_lock(&insert_lock);
			uintptr_t expect = 0;
			uint32_t id = 0;
			if (atomic_load_explicit(&site_n, memory_order_relaxed) < SITES_MAX &&
			    atomic_compare_exchange_strong(&site_keys[i], &expect, ra)) {
				id = atomic_fetch_add(&site_n, 1) + 1;
				atomic_store_explicit(&site_addr[id], ra, memory_order_release);
				atomic_store_explicit(&site_ids[i], id | (wrap ? GH_SITE_WRAP : 0), memory_order_release);
			}
			pthread_mutex_unlock(&insert_lock);
			if (id)
				return id | (wrap ? GH_SITE_WRAP : 0);
			continue; /* lost the race for this slot, or the table filled: look again */
		}
		i = (i + 1) & (SITE_SLOTS - 1);
	}
	return GH_SITE_OTHER; /* not reached: at most half the slots are ever used */
}

static size_t slot_of(uintptr_t ra)
{
	return (size_t)((ra * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - GH_SITE_LG));
}

uint32_t gh__site_insert(uintptr_t ra, size_t i)
{
	if (gh_unlikely(site_keys == NULL || ra == 0))
		return 0;
	uint32_t v = lookup_raw(ra, i);
	if (gh_unlikely(v & GH_SITE_WRAP))
		return wrap_resolve(ra, v & ~GH_SITE_WRAP);
	return v;
}

/* ---- Blame the caller -----------------------------------------------------------------
 * A site whose return address lies in an allocation wrapper (wrappers.c)
 * carries GH_SITE_WRAP in its slot, so the inline lookup sends it here: the
 * stack is unwound (libunwind, .eh_frame: wrappers are rarely built with
 * frame pointers) from the frame returning to ra, and the first frame whose
 * address is not a wrapper's is the allocation's site. Every address seen on
 * the way is interned with its classification, so each is decided once.
 * Falls back to the wrapper's own site when the stack holds nothing else. */

static GH_TLS bool tl_resolving;

#define WRAP_FRAMES 48

/* Index in f[0..n) of the first frame past ra that is not a wrapper's, or n. */
static unsigned first_outside(const uintptr_t *f, unsigned n, uintptr_t ra, uint32_t *id)
{
	unsigned i = 0;
	while (i < n && i < 16 && f[i] != ra)
		i++;
	if (i >= n || f[i] != ra)
		return n;
	for (i++; i < n; i++) {
		uint32_t v = f[i] < 4096 ? 0 : lookup_raw(f[i], slot_of(f[i]));
		if (v == 0 || v == GH_SITE_OTHER)
			return n;
		if (!(v & GH_SITE_WRAP)) {
			*id = v;
			return i;
		}
	}
	return n;
}

/* The executable segment holding glassheap's own code. */
static uintptr_t self_lo, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t me = (uintptr_t)arg;
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, PF_X, &sg);) {
		if (me - sg.lo < sg.memsz) {
			__atomic_store_n(&self_hi, sg.lo + sg.memsz, __ATOMIC_RELAXED);
			__atomic_store_n(&self_lo, sg.lo, __ATOMIC_RELEASE);
			return 1;
		}
	}
	return 0;
}

/* The slot holding ra, the return address of the allocator's outermost
 * frame: glassheap's own frames keep frame pointers, so their chain leads
 * there from this function's frame in a few steps. Only the records of
 * glassheap's own frames are followed (a frame whose return address is
 * elsewhere ends the walk: another's rbp may hold anything). 0 when not
 * found. */
static GH_NOINLINE uintptr_t ra_slot(uintptr_t ra)
{
	if (__atomic_load_n(&self_lo, __ATOMIC_ACQUIRE) == 0)
		dl_iterate_phdr(find_self, (void *)(uintptr_t)ra_slot);
	uintptr_t lo = __atomic_load_n(&self_lo, __ATOMIC_ACQUIRE), hi = __atomic_load_n(&self_hi, __ATOMIC_RELAXED);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	for (int i = 0; i < 8; i++) {
		const uintptr_t *f = (const uintptr_t *)fp;
		if (f[1] == ra)
			return fp + sizeof(uintptr_t);
		if (f[1] - lo >= hi - lo)
			return 0;
		uintptr_t next = f[0];
		if (next <= fp || next - fp > 65536 || (next & 7) != 0)
			return 0;
		fp = next;
	}
	return 0;
}

/* The slow path: libunwind from here to the first frame past ra outside the
 * wrappers. *k: the distance from ra's slot to that frame's return address
 * slot (0 when it cannot be known). */
static GH_NOINLINE uint32_t resolve_unwind(uintptr_t ra, uintptr_t slot, uint32_t own, int32_t *k)
{
	*k = 0;
	unw_context_t ctx;
	unw_cursor_t cur;
	if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0)
		return own;
	bool at = false;
	for (int steps = 0; steps < WRAP_FRAMES && unw_step(&cur) > 0; steps++) {
		unw_word_t ip = 0, sp = 0;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0)
			break;
		if (!at) {
			at = ip == ra;
			if (at && slot && (unw_get_reg(&cur, UNW_REG_SP, &sp) != 0 || sp != slot + sizeof(uintptr_t)))
				slot = 0; /* not the frame the chain found: no shortcut */
			if (steps > 16)
				break;
			continue;
		}
		uint32_t v = ip < 4096 ? 0 : lookup_raw(ip, slot_of(ip));
		if (v == 0 || v == GH_SITE_OTHER)
			break;
		if (v & GH_SITE_WRAP) {
			slot = 0; /* several wrapper frames: paths vary, no shortcut */
			continue;
		}
		/* this frame's return address was pushed just below its caller's
		 * stack pointer, which the step computed */
		if (slot && unw_get_reg(&cur, UNW_REG_SP, &sp) == 0 && sp - sizeof(uintptr_t) > slot &&
		    sp - sizeof(uintptr_t) - slot < (1u << 20) && *(const uintptr_t *)(sp - sizeof(uintptr_t)) == ip)
			*k = (int32_t)(sp - sizeof(uintptr_t) - slot);
		return v;
	}
	return own;
}

static GH_TLS unsigned tl_checks;

static size_t kmap_slot(uint32_t site)
{
	return (size_t)(((uint64_t)site * UINT64_C(0x9E3779B97F4A7C15)) >> 52) & (KMAP_SLOTS - 1);
}

static int32_t kmap_get(uint32_t site)
{
	size_t i = kmap_slot(site);
	for (int p = 0; p < KMAP_PROBES; p++, i = (i + 1) & (KMAP_SLOTS - 1)) {
		uint64_t e = atomic_load_explicit(&kmap[i], memory_order_relaxed);
		if (e == 0)
			return 0;
		if ((uint32_t)(e >> 32) == site)
			return (int32_t)(uint32_t)e;
	}
	return -1; /* no room: no shortcut */
}

static void kmap_set(uint32_t site, int32_t k)
{
	uint64_t v = ((uint64_t)site << 32) | (uint32_t)k;
	size_t i = kmap_slot(site);
	for (int p = 0; p < KMAP_PROBES; p++, i = (i + 1) & (KMAP_SLOTS - 1)) {
		uint64_t e = atomic_load_explicit(&kmap[i], memory_order_relaxed);
		if (e != 0 && (uint32_t)(e >> 32) != site)
			continue;
		if (e == 0 && !atomic_compare_exchange_strong_explicit(&kmap[i], &e, v, memory_order_relaxed,
									 memory_order_relaxed)) {
			if ((uint32_t)(e >> 32) != site)
				continue; /* taken by another site meanwhile */
		}
		atomic_store_explicit(&kmap[i], v, memory_order_relaxed);
		return;
	}
}

/* The slot value of ra, 0 when absent (never inserts). */
static uint32_t lookup_only(uintptr_t ra)
{
	size_t i = slot_of(ra);
	for (size_t probes = 0; probes < SITE_SLOTS; probes++) {
		uintptr_t k = atomic_load_explicit(&site_keys[i], memory_order_acquire);
		if (k == ra)
			return atomic_load_explicit(&site_ids[i], memory_order_acquire);
		if (k == 0)
			return 0;
		i = (i + 1) & (SITE_SLOTS - 1);
	}
	return 0;
}

/* The return addresses alone (unw_backtrace, libunwind's cached fast path). */
static uint32_t resolve_backtrace(uintptr_t ra, uint32_t own)
{
	void *buf[WRAP_FRAMES];
	uint32_t id = own;
	int got = unw_backtrace(buf, WRAP_FRAMES);
	if (got > 0)
		first_outside((const uintptr_t *)buf, (unsigned)got, ra, &id);
	return id;
}

/*
 * A wrapper site's allocation. The first one unwinds with libunwind's
 * cursor (resolve_unwind). When the wrapper's caller is outside (strdup
 * called by the program), it notes where, relative to ra's own slot, the
 * caller's return address lies: a constant for a function whose frame has
 * a fixed size (nearly all), so the next ones read it directly (a few
 * loads), accepted only if it is an address already seen as a caller. One
 * in 64 is checked against a walk of the return addresses; a site where they
 * differ (alloca) is walked every time, as is a site under several wrapper
 * frames (libstdc++'s string code: paths vary).
 */
static GH_NOINLINE uint32_t wrap_resolve(uintptr_t ra, uint32_t own)
{
	if (tl_resolving || own > SITES_MAX)
		return own;
	tl_resolving = true;
	gh__tl_own_maps++; /* libunwind maps its caches: not the program's */
	int saved_errno = errno;
	uintptr_t slot = ra_slot(ra);
	int32_t k = slot ? kmap_get(own) : -1;
	uint32_t id = own;
	if (k > 0) {
		/* only an address already seen as a caller (the walks intern
		 * them): a stray word read here never becomes a site */
		uintptr_t c = *(const uintptr_t *)(slot + (uintptr_t)k);
		uint32_t v = c < 4096 ? 0 : lookup_only(c);
		bool ok = v != 0 && v != GH_SITE_OTHER && !(v & GH_SITE_WRAP);
		if (ok && (++tl_checks & 63) != 0) {
			id = v;
		} else {
			/* a new caller (the walk interns it), or the check */
			id = resolve_backtrace(ra, own);
			uintptr_t at = id > 0 && id <= SITES_MAX ? atomic_load_explicit(&site_addr[id], memory_order_acquire) : 0;
			if (at != c)
				kmap_set(own, -1);
		}
	} else if (k == 0) {
		int32_t nk = 0;
		id = resolve_unwind(ra, slot, own, &nk);
		kmap_set(own, nk > 0 ? nk : -1);
		if (id == own)
			id = resolve_backtrace(ra, own);
	} else {
		id = resolve_backtrace(ra, own);
	}
	errno = saved_errno;
	gh__tl_own_maps--;
	tl_resolving = false;
	return id;
}

uint32_t gh__site_id(uintptr_t ra)
{
	if (site_keys == NULL || ra == 0)
		return 0;
	return lookup_raw(ra, slot_of(ra)) & ~GH_SITE_WRAP;
}

unsigned gh__site_skip_wrappers(const uintptr_t *f, unsigned n)
{
	if (site_keys == NULL)
		return 0;
	unsigned i = 0;
	while (i + 1 < n) {
		uint32_t v = lookup_raw(f[i], slot_of(f[i]));
		if (!(v & GH_SITE_WRAP) || v == GH_SITE_OTHER)
			break;
		i++;
	}
	return i;
}

bool gh__site_is_wrapper(uintptr_t ra)
{
	if (site_keys == NULL || ra == 0)
		return false;
	uint32_t v = lookup_raw(ra, slot_of(ra));
	return (v & GH_SITE_WRAP) && v != GH_SITE_OTHER;
}

/* After the wrapper list changed: every interned address decided again. */
void gh__sites_reclassify(void)
{
	if (site_keys == NULL)
		return;
	uint32_t n = atomic_load(&site_n);
	for (uint32_t id = 1; id <= n && id <= SITES_MAX; id++) {
		uintptr_t ra = atomic_load_explicit(&site_addr[id], memory_order_acquire);
		if (!ra)
			continue;
		bool wrap = gh__wrap_contains(ra);
		size_t i = slot_of(ra);
		for (size_t probes = 0; probes < SITE_SLOTS; probes++) {
			uintptr_t k = atomic_load_explicit(&site_keys[i], memory_order_acquire);
			if (k == 0)
				break;
			if (k == ra) {
				atomic_store_explicit(&site_ids[i], id | (wrap ? GH_SITE_WRAP : 0), memory_order_release);
				break;
			}
			i = (i + 1) & (SITE_SLOTS - 1);
		}
	}
	/* After the ids: every thread's site cache is stale now. */
	gh__sites_forget();
}

void gh__sites_forget(void)
{
	/* seq_cst: ordered with a filling miss's fence (gh__site_epoch) */
	atomic_fetch_add_explicit(&gh__site_epoch, 1, memory_order_seq_cst);
	gh__site_caches_clear();
}

uint64_t gh__site_other_count(void)
{
	return atomic_load_explicit(&other_allocs, memory_order_relaxed);
}

uintptr_t gh__site_address(uint32_t site)
{
	if (!site_keys || site == 0 || site > atomic_load(&site_n) || site > SITES_MAX)
		return 0; /* GH_SITE_OTHER included: it has no address */
	return atomic_load_explicit(&site_addr[site], memory_order_acquire);
}

uint32_t gh__site_count(void)
{
	return atomic_load(&site_n);
}

/* ---- Resolution: address -> module + offset ---------------------------------------- */

struct find_ctx {
	uintptr_t addr;
	uintptr_t base;
	const char *name;
	bool found;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct find_ctx *f = arg;
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, 0, &sg);) {
		if (f->addr - sg.lo < sg.memsz) {
			f->base = info->dlpi_addr;
			f->name = info->dlpi_name;
			f->found = true;
			return 1;
		}
	}
	return 0;
}

static char exe_path[4096];

static const char *main_program_path(void)
{
	if (exe_path[0] == '\0') {
		ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
		if (n <= 0)
			strcpy(exe_path, "<main>");
		else
			exe_path[n] = '\0';
	}
	return exe_path;
}

/* Module names are copied into metadata: the loader's copy dies at dlclose. */
static const char *intern_module(const char *name)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const char *names[256];
	static int n;
	const char *r = NULL;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < n && !r; i++)
		if (strcmp(names[i], name) == 0)
			r = names[i];
	if (!r) {
		size_t len = strlen(name);
		char *copy = gh__meta_alloc(len + 1);
		if (copy) {
			memcpy(copy, name, len + 1);
			if (n < 256)
				names[n++] = copy;
			r = copy;
		} else {
			r = "";
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

static bool resolve(uintptr_t addr, const char **module, uintptr_t *offset)
{
	struct find_ctx f = {.addr = addr};
	dl_iterate_phdr(find_module, &f);
	if (!f.found)
		return false;
	*module = (f.name && f.name[0]) ? f.name : main_program_path();
	*offset = addr - f.base;
	return true;
}

int gh_site_resolve(uint32_t site, gh_site_info_t *info)
{
	if (site == GH_SITE_OTHER && site_keys) {
		/* Every call site that found the table full (GH_SITES_MAX). */
		info->address = 0;
		info->module = GH_SITE_OTHER_NAME;
		info->offset = 0;
		return 0;
	}
	uintptr_t addr = gh__site_address(site);
	if (!addr)
		return ENOENT;
	const char *module;
	uintptr_t off;
	info->address = addr;
	if (resolve(addr, &module, &off)) {
		info->module = intern_module(module);
		info->offset = off;
	} else {
		info->module = "";
		info->offset = addr;
	}
	return 0;
}

void gh__site_describe(uintptr_t addr, char *buf, size_t len)
{
	const char *module;
	uintptr_t off;
	if (resolve(addr, &module, &off))
		snprintf(buf, len, "%s+0x%lx", module, (unsigned long)off);
	else
		snprintf(buf, len, "0x%lx", (unsigned long)addr);
}
