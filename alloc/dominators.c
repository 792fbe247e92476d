/*
 * dominators.c -- what retains the memory: immediate dominators and
 * retained sizes over the object graph (GET /debug/memory/dominators).
 *
 * gh__dom_run asks mark.c for one mark in "dominator" mode: the world stops
 * only for the mark, which follows every pointer (interior ones too: a
 * conservative pointer is an edge like any other) and writes what it sees
 * into two logs mapped here before the stop: one record per object scanned
 * (granule, site, type, size: read from the header the mark reads anyway)
 * and the edges, grouped by source (dominators.h). The world resumes; then
 * gh__dom_compute works on the logs alone -- no heap memory is read after
 * the resume, so objects freed meanwhile cannot hurt -- in this order:
 *
 *   figures  node id of an object = 1 + roots + its rank in the mark's
 *            reach bitmap (address order); each record becomes 8 bytes
 *            (site, type, size) at its rank, within the records' own buffer
 *   log      rewritten in place: heads to source ids, edges to target ids;
 *            each source's first block found (the roots' several blocks
 *            listed): the log is the successor lists, nothing is copied
 *   DFS      from the virtual super-root (children: the roots): preorder
 *            numbers; the log renumbered to them on the way
 *   preds    predecessor runs by preorder number, built a quarter of the
 *            numbers at a time while the log is compacted to the rest;
 *            the later quarters' runs at the log's end, in what the
 *            quarters before took out of it; the log goes back
 *   semi-NCA Georgiadis's semi-NCA: semidominators as Lengauer-Tarjan
 *            computes them (path compression, iterative, without a stack),
 *            then each immediate dominator as the nearest ancestor of its
 *            DFS parent numbered at most its semidominator
 *   retained bottom-up in reverse preorder, each node's bytes and objects
 *            (one word) added to its immediate dominator's
 *
 * Chosen by measurement: Cooper-Harvey-Kennedy's iterative algorithm needs
 * one round per node of a circular doubly linked list (an anchor pointing at
 * both ends: h2o's lists, sys/queue's TAILQ), so it is quadratic on heaps C
 * programs have -- 29,999 rounds and 7.7 s for a 30,000-node list, where
 * semi-NCA takes 7 ms (bench/dom_list.c; docs/performance.md).
 *
 * Work memory (all mmap, never malloc; bounded by GLASSHEAP_DOMINATORS_BUDGET)
 * is what the logs take while the world is stopped (16 bytes an object, 4 a
 * log entry), and after that hardly more: 8 bytes an object for its figures
 * throughout; the log (4 an entry) until the predecessors (4 an edge) are
 * built, in its own pages but for the first quarter's; 8 a node for the
 * DFS (preorder number beside each first block), 4 after it; 8 a node for
 * semi-NCA, then the dominators and the preorder's ids in that place, and
 * the retained figures (8) where the predecessors were. The computation's
 * arrays share one mapping (see "Work memory" below). On bench/gc_bench.c's
 * heap (two pointers an object, three log entries) that peaks at about 31
 * bytes an object (docs/performance.md).
 */
#include "internal.h"
#include "elfseg.h"

#include "dominators.h"

#include <link.h>
#if defined(__x86_64__)
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define UNDEF UINT32_MAX

/* -DGH_DOM_PHASES: each phase's thread CPU time on stderr (bench only). */
#ifdef GH_DOM_PHASES
static uint64_t ph_t0;
static void ph_mark(const char *name)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	uint64_t t1 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (name)
		fprintf(stderr, "phase %s %.2f\n", name, (double)(t1 - ph_t0) / 1e6);
	ph_t0 = t1;
}
#define PHASE(name) ph_mark(name)
#else
#define PHASE(name) ((void)0)
#endif

static void *map_zero(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Work arrays of 2 MiB and more come in transparent huge pages where THP
 * allows (gh__map_work): a page fault costs about as much as zeroing its
 * 4 KiB in a virtual machine, and a large pass touches tens of thousands.
 * *len is rounded to what must be unmapped. */
static void *map_work(size_t *len)
{
	const size_t huge = (size_t)2 << 20;
	if (*len < huge)
		return map_zero(*len);
	*len = (*len + huge - 1) & ~(huge - 1);
	return gh__map_work(*len);
}

/* ---- Work memory ---------------------------------------------------------------------------- */

/*
 * The computation's own arrays are carved from one mapping (an arena),
 * reserved up front for the most they can take and faulted in as they are
 * written, in transparent huge pages where THP allows: in a virtual machine
 * whose page tables are shadowed, a 4 KiB page costs several microseconds
 * the first time it is written, MAP_POPULATE or not, and a dozen small
 * mappings of a few hundred KiB cost more than the computation over them at
 * 100k objects; munmap and MADV_DONTNEED flush TLBs on every CPU. So an
 * array's space is reused by a later one instead of given back: long-lived
 * arrays grow up from the bottom (the preorder numbers, then the
 * predecessors where the DFS's pairs were, the dominators), short-lived
 * ones down from the top (block lists, the predecessors' per-part counts,
 * semi-NCA's second array). What the arena holds is its pages written at
 * both ends (the high-water marks, never lowered), which the tally adds to
 * the logs' pages still held; the peak is reported.
 */
struct wmem {
	size_t logs;         /* the logs' pages still held */
	size_t extra;        /* the DFS stack's pages written, while it is mapped */
	size_t peak;
	char *base;          /* the arena */
	size_t cap, lo, hi;  /* bottom in use [0, lo), top in use [cap - hi, cap) */
	size_t lo_hwm, hi_hwm;
};

static void wtally(struct wmem *w)
{
	size_t cur = w->logs + w->extra + w->lo_hwm + w->hi_hwm;
	if (cur > w->peak)
		w->peak = cur;
}

/* The bottom's pages up to offset end have been written. */
static void wlo_touch(struct wmem *w, size_t end)
{
	if (end > w->lo_hwm)
		w->lo_hwm = end;
	wtally(w);
}

/* bytes from the bottom (zero the first time, whatever a reused range held). */
static void *wlo(struct wmem *w, size_t bytes)
{
	size_t off = w->lo;
	w->lo += gh__page_up(bytes ? bytes : 1);
	if (w->lo + w->hi > w->cap)
		return NULL;
	wlo_touch(w, w->lo);
	return w->base + off;
}

/* bytes from the top, below what the top holds. */
static void *whi(struct wmem *w, size_t bytes)
{
	w->hi += gh__page_up(bytes ? bytes : 1);
	if (w->lo + w->hi > w->cap)
		return NULL;
	if (w->hi > w->hi_hwm)
		w->hi_hwm = w->hi;
	wtally(w);
	return w->base + w->cap - w->hi;
}

/* ---- Ranks ---------------------------------------------------------------------------------- */

/* Bits set in x (SWAR): __builtin_popcountll is a call into libgcc's
 * table without -mpopcnt, and ranks take one per object and log entry. */
static inline uint32_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (uint32_t)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* The popcount of the computation's hot loops: hw is a constant there,
 * true only in the copy compiled for POPCNT (see HW_COPIES). */
static inline __attribute__((always_inline)) uint32_t popcount_hw(uint64_t x, bool hw)
{
	return hw ? (uint32_t)__builtin_popcountll(x) : popcount64(x);
}

static inline __attribute__((always_inline)) uint32_t rank_hw(const struct gh_dom_tree *t, uint32_t gran, bool hw)
{
	size_t w = gran >> 6;
	uint64_t below = t->reach[w] & ((UINT64_C(1) << (gran & 63)) - 1);
	return t->prefix[w] + popcount_hw(below, hw);
}

static inline __attribute__((always_inline)) uint32_t rank_of(const struct gh_dom_tree *t, uint32_t gran)
{
	return rank_hw(t, gran, false);
}

static inline __attribute__((always_inline)) bool reached_gran(const struct gh_dom_graph *g, uint32_t gran)
{
	return (gran >> 6) < g->reach_words && ((g->reach[gran >> 6] >> (gran & 63)) & 1);
}

uint32_t gh__dom_node_of(const struct gh_dom_tree *t, uint32_t gran)
{
	return (uint32_t)(1 + t->nroots) + rank_of(t, gran);
}

uintptr_t gh__dom_address_of(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t rank = id - 1 - (uint32_t)t->nroots;
	size_t lo = 0, hi = t->reach_words; /* the last word whose prefix <= rank */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (t->prefix[mid] <= rank)
			lo = mid;
		else
			hi = mid;
	}
	uint64_t w = t->reach[lo];
	for (uint32_t k = rank - t->prefix[lo]; k > 0; k--)
		w &= w - 1;
	return t->base + (((uintptr_t)lo * 64 + (uintptr_t)__builtin_ctzll(w)) << GH_GRANULE_LG);
}

/* Gives back the whole pages inside [p, p + len) (MADV_DONTNEED): a
 * caller's buffer that is read is released without touching its
 * neighbours. Returns the bytes given back. */
static size_t release_inside(const void *p, size_t len)
{
	uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + len) & ~(uintptr_t)4095;
	if (hi <= lo)
		return 0;
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
	return hi - lo;
}

/* ---- Node figures, 8 bytes per object ------------------------------------------------------- */

/* site:21 | type:15 | size:28 (site ids stay below 2^21, type ids below
 * 2^15). What does not fit -- a size of 256 MiB or more, in practice --
 * is an escape: size field all ones, the rest the index of its record in
 * t->esc. */
#define P_SIZE_BITS 28
#define P_TYPE_BITS 15
#define P_SITE_BITS 21
#define P_ESC ((UINT64_C(1) << P_SIZE_BITS) - 1)

static bool pay_fits(uint32_t site, uint64_t tsz)
{
	return site < (UINT32_C(1) << P_SITE_BITS) && GH_DOM_TYPE(tsz) < (UINT32_C(1) << P_TYPE_BITS) &&
	       GH_DOM_SIZE(tsz) < P_ESC;
}

static uint64_t pay_pack(uint32_t site, uint64_t tsz)
{
	return ((uint64_t)site << (P_SIZE_BITS + P_TYPE_BITS)) | ((uint64_t)GH_DOM_TYPE(tsz) << P_SIZE_BITS) |
	       GH_DOM_SIZE(tsz);
}

/* The record of object rank r. */
static void pay_get(const struct gh_dom_tree *t, uint32_t r, uint32_t *site, uint64_t *tsz)
{
	uint64_t p = t->pay[r];
	if ((p & P_ESC) != P_ESC) {
		*site = (uint32_t)(p >> (P_SIZE_BITS + P_TYPE_BITS));
		*tsz = GH_DOM_TSZ((p >> P_SIZE_BITS) & ((UINT64_C(1) << P_TYPE_BITS) - 1), p & P_ESC);
		return;
	}
	const struct gh_dom_node_rec *e = &t->esc[p >> P_SIZE_BITS];
	*site = e->site;
	*tsz = e->tsz;
}

uint64_t gh__dom_tsz(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t site;
	uint64_t tsz = 0;
	if (id > t->nroots && id < t->nodes)
		pay_get(t, id - 1 - (uint32_t)t->nroots, &site, &tsz);
	return tsz;
}

uint32_t gh__dom_site(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t site = 0;
	uint64_t tsz;
	if (id > t->nroots && id < t->nodes)
		pay_get(t, id - 1 - (uint32_t)t->nroots, &site, &tsz);
	return site;
}

/* retained[]: bytes << ret_n_bits | objects (see the computation) */
#define RET_N_MASK(t) ((UINT64_C(1) << (t)->ret_n_bits) - 1)

uint32_t gh__dom_idom(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t w = t->pre[id];
	return w == UNDEF ? UNDEF : t->vertex[t->idom[w]];
}

uint64_t gh__dom_retained(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t w = t->pre[id];
	return w == UNDEF ? GH_DOM_SIZE(gh__dom_tsz(t, id)) : t->retained[w] >> t->ret_n_bits;
}

uint64_t gh__dom_retained_n(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t w = t->pre[id];
	return w == UNDEF ? id > t->nroots : t->retained[w] & RET_N_MASK(t);
}

/* ---- The computation ------------------------------------------------------------------------ */

void gh__dom_tree_release(struct gh_dom_tree *t)
{
	for (size_t i = 0; i < GH_DOM_ARRAYS; i++)
		if (t->arr[i])
			munmap(t->arr[i], t->arr_len[i]);
	memset(t, 0, sizeof *t);
}

/* A node record packed with its rank: rank, figures (pay) in two halves. */
struct crec {
	uint32_t rank, lo, hi;
};

/* Semi-NCA's evaluation with path compression, iterative without a stack:
 * the path up is walked with its links reversed, then walked back down
 * compressing (a list a million long must not recurse a million deep, and
 * a stack would cost 4 bytes a node). Returns the smallest semidominator
 * on the path from v up to (not including) the root of its tree. */
struct ab {
	uint32_t anc, best; /* a node's link in the forest and its label: one cache line for both */
};

static uint32_t eval(struct ab *f, uint32_t v)
{
	uint32_t prev = UNDEF, a = v;
	while (f[f[a].anc].anc != UNDEF) {
		uint32_t next = f[a].anc;
		f[a].anc = prev;
		prev = a;
		a = next;
	}
	while (prev != UNDEF) {
		uint32_t b = prev;
		prev = f[b].anc;
		if (f[a].best < f[b].best)
			f[b].best = f[a].best;
		f[b].anc = f[a].anc;
		a = b;
	}
	return f[v].best;
}

/* Within a source whose blocks are listed (side[0] of them, log positions
 * of their heads ascending, from side[1]): the first entry of the block
 * after position p, or UNDEF. */
static uint32_t next_block(const uint32_t *side, uint32_t p)
{
	uint32_t lo = 1, hi = side[0] + 1; /* the first head at or after p */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (side[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo <= side[0] ? side[lo] + 1 : UNDEF;
}

#define PF_AHEAD 16    /* entries ahead that a scan prefetches for */
#define PF_MIN_BYTES ((size_t)32 << 20) /* the predecessor passes: from a log of this size (2.8M objects here) */
#define PRED_PARTS 4   /* the predecessors are built in as many parts */
#define DFS_NEAR 2     /* the DFS reads ahead the blocks of as many neighbours each side */
#define HEAD GH_DOM_OBJ       /* a block's source entry once rewritten: HEAD | node id */
#define FIRST(x) first[2 * (size_t)(x)]
#define PRE(x) first[2 * (size_t)(x) + 1]
#define LISTED 0x80000000u    /* first[x]: x's blocks are listed in side[] from this offset */
#define RUN 0x80000000u       /* pcol: the first predecessor of a node */

/* ---- The ranks' hot loops, with and without POPCNT ---------------------------------------- */

/* The node records packed with their ranks (see gh__dom_compute). */
static inline __attribute__((always_inline)) void pack_figures(struct gh_dom_tree *t,
							    const struct gh_dom_node_rec *rec, struct crec *c,
							    size_t N, const bool hw)
{
	for (size_t i = N; i-- > 0;) {
		if (i >= PF_AHEAD) {
			uint32_t ga = rec[i - PF_AHEAD].gran;
			__builtin_prefetch(&t->reach[ga >> 6]);
			__builtin_prefetch(&t->prefix[ga >> 6]);
		}
		struct gh_dom_node_rec nr = rec[i]; /* c[i] lies at or above rec[i] */
		uint32_t r = rank_hw(t, nr.gran, hw);
		uint64_t p;
		if (pay_fits(nr.site, nr.tsz)) {
			p = pay_pack(nr.site, nr.tsz);
		} else {
			t->esc[t->nesc] = (struct gh_dom_node_rec){r, nr.site, nr.tsz};
			p = ((uint64_t)t->nesc++ << P_SIZE_BITS) | P_ESC;
		}
		c[i] = (struct crec){r, (uint32_t)p, (uint32_t)(p >> 32)};
	}
}

/* The log rewritten in place: heads to HEAD | source id, edges to target
 * ids (edges and the roots' own counted). -1: not a log of this graph. */
static inline __attribute__((always_inline)) int rewrite_log(const struct gh_dom_graph *g,
							  const struct gh_dom_tree *t, size_t *nedges,
							  size_t *rlen, const bool hw)
{
	uint32_t *log = g->log;
	size_t L = g->nlog, R = g->nroots;
	bool in_root = false;
	for (size_t i = 0; i < L; i++) {
		if (i + PF_AHEAD < L) {
			uint32_t ga = log[i + PF_AHEAD] & (GH_DOM_GRAN_MAX - 1);
			__builtin_prefetch(&t->reach[ga >> 6]);
			__builtin_prefetch(&t->prefix[ga >> 6]);
		}
		uint32_t e = log[i];
		if ((e & GH_DOM_ROOT) == GH_DOM_ROOT) {
			if ((e & ~GH_DOM_ROOT) >= R)
				return -1;
			log[i] = HEAD | ((e & ~GH_DOM_ROOT) + 1);
			in_root = true;
		} else if (e & GH_DOM_OBJ) {
			if (!reached_gran(g, e & ~GH_DOM_OBJ))
				return -1;
			log[i] = HEAD | ((uint32_t)(1 + R) + rank_hw(t, e & ~GH_DOM_OBJ, hw));
			in_root = false;
		} else {
			if (i == 0 || !reached_gran(g, e))
				return -1;
			log[i] = (uint32_t)(1 + R) + rank_hw(t, e, hw);
			(*nedges)++;
			*rlen += in_root;
		}
	}
	return 0;
}

/* The ranks (a popcount per object and per log entry: 40M at 10M objects)
 * take one instruction with POPCNT, a dozen without; glassheap is built for
 * baseline x86-64, so these two loops have a POPCNT copy, chosen at run
 * time (cpuid). Only these two: the whole computation compiled twice ran
 * its later passes 10% slower (code placement). */
#if defined(__x86_64__)
#define HW_COPIES 1

__attribute__((target("popcnt"), noinline)) static void pack_figures_hw(struct gh_dom_tree *t,
									  const struct gh_dom_node_rec *rec,
									  struct crec *c, size_t N)
{
	pack_figures(t, rec, c, N, true);
}

__attribute__((target("popcnt"), noinline)) static int rewrite_log_hw(const struct gh_dom_graph *g,
									const struct gh_dom_tree *t, size_t *nedges,
									size_t *rlen)
{
	return rewrite_log(g, t, nedges, rlen, true);
}

/* The compiler's CPU model (libgcc reads cpuid once, as the marker's AVX2
 * choice does; in a virtual machine cpuid traps to the hypervisor). */
static bool cpu_has_popcnt(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("popcnt");
}
#endif

int gh__dom_compute(const struct gh_dom_graph *g, size_t budget, struct gh_dom_tree *t, size_t *need)
{
	memset(t, 0, sizeof *t);
	size_t R = g->nroots, N = g->nnodes, M = 1 + R + N, L = g->nlog;
	PHASE(NULL);
	*need = gh__dom_need(N, R, L, g->reach_words);
	if (*need > budget)
		return ENOMEM;
	if (M >= GH_DOM_OBJ || L >= GH_DOM_OBJ)
		return EINVAL;
	t->nroots = R;
	t->nobjects = N;
	t->nodes = M;
	t->reach = g->reach;
	t->reach_words = g->reach_words;
	t->base = g->base;
	/* the logs as the mark left them */
	struct wmem w = {.logs = gh__page_up(4 * L) + gh__page_up(sizeof *g->nodes * N)};
	w.peak = w.logs;
	int rc = EINVAL;
	uint32_t *first = NULL, *side = NULL, *stack = NULL, *poff = NULL, *pcol = NULL;
	size_t stack_len = 0;
	/* the arena: room for the most every array can take (address space
	 * only; its pages come as they are written) -- bottom: ranks, escapes,
	 * the roots' edges (at most an entry each), the DFS's pairs, then the
	 * predecessors (at most an entry each, and the roots) where their
	 * second half was, the dominators, the retained figures; top: the
	 * block lists (at most 3 words a head), two per-part counts, or
	 * semi-NCA's second array, or the preorder's ids */
	size_t part = (M + PRED_PARTS - 1) / PRED_PARTS;
	size_t top = gh__page_up(12 * L + 4) + 2 * gh__page_up(4 * (part + 2));
	if (top < gh__page_up(4 * M))
		top = gh__page_up(4 * M);
	w.cap = gh__page_up(4 * g->reach_words + 4) + gh__page_up(sizeof *t->esc * N + 1) + gh__page_up(4 * (R + 2)) +
		gh__page_up(4 * L + 4) + gh__page_up(4 * M) + gh__page_up(4 * M) + gh__page_up(4 * (L + R) + 4) + gh__page_up(4 * M) +
		gh__page_up(8 * M) + top;
	w.cap = (w.cap + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
	w.base = gh__map_work(w.cap);
	if (!w.base)
		return ENOMEM;
	t->arr[0] = w.base;
	t->arr_len[0] = w.cap;

	/* ranks: a prefix count per 64 granules */
#ifdef HW_COPIES
	const bool hw = cpu_has_popcnt();
#endif
	/* the predecessor passes prefetch only where their arrays outgrow
	 * the caches: below, choosing the address costs more than the misses
	 * it saves (without: 100k objects 3.7 -> 2.2 ms, 1M 35 -> 25; 10M
	 * 507 -> 669, so with) */
	const bool pf = 4 * L >= PF_MIN_BYTES;
	t->prefix = wlo(&w, 4 * g->reach_words + 4);
	if (!t->prefix)
		goto nomem;
	uint32_t rank = 0;
	for (size_t k = 0; k < g->reach_words; k++) {
		t->prefix[k] = rank;
		rank += popcount64(g->reach[k]);
	}
	if (rank != N) /* an object marked but not recorded (or the reverse) */
		goto bad;
	PHASE("ranks");

	/*
	 * The node records become the 8-byte figures by rank in their own
	 * buffer (16 bytes an object), with no other memory: packed to 12
	 * bytes (rank, figures) at the buffer's top, [4N, 16N), walking down;
	 * the ranks below N/2 scattered into [0, 4N); the others moved up to
	 * [10N, 16N) and scattered into [4N, 8N); [8N, 16N) given back.
	 */
	struct gh_dom_node_rec *rec = g->nodes;
	size_t nesc = 0;
	for (size_t i = 0; i < N; i++) {
		if (!reached_gran(g, rec[i].gran))
			goto bad;
		nesc += !pay_fits(rec[i].site, rec[i].tsz);
	}
	if (nesc) {
		t->esc = wlo(&w, nesc * sizeof *t->esc);
		if (!t->esc)
			goto nomem;
	}
	char *buf = (char *)rec;
	struct crec *c = (struct crec *)(void *)(buf + 4 * N);
#ifdef HW_COPIES
	if (hw)
		pack_figures_hw(t, rec, c, N);
	else
#endif
		pack_figures(t, rec, c, N, false);
	uint64_t *pay = (uint64_t *)(void *)buf;
	size_t lowhalf = N / 2, up = N;
	for (size_t i = 0; i < N; i++)
		if (c[i].rank < lowhalf)
			pay[c[i].rank] = (uint64_t)c[i].hi << 32 | c[i].lo;
	for (size_t i = N; i-- > 0;) /* up: where the moved ones start */
		if (c[i].rank >= lowhalf) {
			if (up == 0)
				goto bad; /* two records of one object */
			c[--up] = c[i];
		}
	if (up != lowhalf)
		goto bad;
	for (size_t i = up; i < N; i++)
		pay[c[i].rank] = (uint64_t)c[i].hi << 32 | c[i].lo;
	t->pay = pay;
	release_inside(pay + N, 8 * N);
	w.logs -= gh__page_up(sizeof *rec * N) - gh__page_up(8 * N);
	PHASE("figures");

	/* the log, in place: heads to HEAD | source id, edges to target ids */
	uint32_t *log = g->log;
	size_t nedges = 0, rlen = 0;
	int bad_log;
#ifdef HW_COPIES
	if (hw)
		bad_log = rewrite_log_hw(g, t, &nedges, &rlen);
	else
#endif
		bad_log = rewrite_log(g, t, &nedges, &rlen, false);
	if (bad_log)
		goto bad;
	t->edges = nedges;
	PHASE("rewrite");
	/* the roots' own edges, kept to name the root that holds an object */
	t->roff = wlo(&w, 4 * (R + 2));
	t->rcol = wlo(&w, 4 * rlen + 4);
	if (!t->roff || !t->rcol)
		goto nomem;

	/* each source's first block; a source with several blocks (the roots:
	 * their registers come last) gets its blocks listed in side[]. Kept
	 * beside the preorder numbers, as pairs (FIRST(x), PRE(x)): the DFS
	 * looks a node's number up for every edge and its first block for
	 * every new node, one cache line for both; pre[] is compacted out
	 * after. */
	size_t first_off = w.lo;
	first = wlo(&w, 8 * M);
	if (!first)
		goto nomem;
	memset(first, 0xff, 8 * M);
	size_t nside = 0;
	bool obj_listed = false; /* an object (not only roots) has several blocks */
	for (size_t i = 0; i < L; i++)
		if (log[i] & HEAD) {
			uint32_t x = log[i] & ~HEAD;
			if (FIRST(x) == UNDEF) {
				FIRST(x) = (uint32_t)i;
			} else if (FIRST(x) & LISTED) {
				FIRST(x)++;
				nside++;
			} else {
				FIRST(x) = LISTED | 2;
				nside += 3;
				obj_listed |= x > R;
			}
		}
	if (nside) {
		side = whi(&w, 4 * nside);
		if (!side)
			goto nomem;
		uint32_t off = 0;
		size_t xend = obj_listed ? M : R + 1; /* usually only roots have several */
		for (size_t x = 0; x < xend; x++)
			if (FIRST(x) != UNDEF && (FIRST(x) & LISTED)) {
				uint32_t c = FIRST(x) & ~LISTED;
				FIRST(x) = LISTED | off;
				off += c + 1; /* side[off] counts the heads filled */
			}
		for (size_t i = 0; i < L; i++)
			if ((log[i] & HEAD) && (obj_listed || (log[i] & ~HEAD) <= R)) {
				uint32_t f = FIRST(log[i] & ~HEAD);
				if (f & LISTED) {
					uint32_t *s = side + (f & ~LISTED);
					s[1 + s[0]++] = (uint32_t)i;
				}
			}
	}

	/* what the formula leaves out: the block lists and the roots' edges */
	PHASE("first");
	if (*need + 4 * (nside + rlen) > budget) {
		*need += 4 * (nside + rlen);
		goto nomem;
	}

	/* DFS from the super-root (its children: the roots, in order):
	 * preorder numbers. The stack holds one log position per level (the
	 * next entry to read); the node of level d is the entry level d - 1
	 * read last, so nothing else is kept. On the way the log is
	 * renumbered: an edge read becomes its target's preorder number (UNDEF
	 * for a self loop) -- a tree edge only once its target is done, since
	 * it names the node of its level until then -- and the wanted edges
	 * and each root's are counted. An unreached source's blocks stay ids. */
	stack = map_zero(stack_len = gh__page_up(4 * (M + 1)));
	/* the predecessors' first part (below) counted here too: its range
	 * is set by the nodes, not the reached ones, which are not known yet.
	 * Two slots at the top for the per-part counts, used in turn. */
	size_t slot_len = gh__page_up(4 * (part + 2));
	uint32_t *slot[2];
	slot[0] = poff = whi(&w, slot_len);
	slot[1] = whi(&w, slot_len);
	if (!stack || !poff || !slot[1])
		goto nomem;
	w.hi -= slot_len; /* the second slot is written (counted) when used */
	w.hi_hwm -= slot_len;
	size_t n = 1, d = 0, depth = 0, np = R;
	uint32_t x = 0;
	PRE(0) = 0;
	stack[0] = 1;
	for (;;) {
		uint32_t y = UNDEF;
		if (d == 0) {
			if (stack[0] > R)
				break;
			y = stack[0]++;
		} else {
			uint32_t p = stack[d];
			for (;;) {
				if (p < L && !(log[p] & HEAD)) {
					y = log[p++];
					if (p < L && !(log[p] & HEAD))
						__builtin_prefetch(&PRE(log[p]));
					break;
				}
				uint32_t f = FIRST(x);
				if (f == UNDEF || !(f & LISTED) || (p = next_block(side + (f & ~LISTED), p)) == UNDEF)
					break;
			}
			stack[d] = p;
			if (y == UNDEF) { /* x is done: its tree edge renumbered, back to its parent */
				if (d >= 2)
					log[stack[d - 1] - 1] = PRE(x);
				d--;
				x = d == 0 ? 0 : d == 1 ? stack[0] - 1 : log[stack[d - 1] - 1];
				continue;
			}
			if (y == x) {
				log[p - 1] = UNDEF;
				continue;
			}
			np++;
			t->roff[x <= R ? x + 1 : 0]++;
			uint32_t yp = PRE(y);
			if (yp != UNDEF) {
				log[p - 1] = yp;
				if (yp < part)
					poff[yp + 2]++;
				continue;
			}
		}
		if (n < part)
			poff[n + 2]++;
		PRE(y) = (uint32_t)n++;
		uint32_t f = FIRST(y);
		stack[++d] = f == UNDEF ? (uint32_t)L : (f & LISTED) ? side[(f & ~LISTED) + 1] + 1 : f + 1;
		/* The blocks of y's neighbours in address order read ahead
		 * (numbered or not): their pairs share y's cache line, and a list
		 * or tree built in allocation order links neighbours, so the DFS
		 * is likely to enter them next -- a block fetched while y's is
		 * read instead of after it (a dependent miss per node, otherwise,
		 * since the log is in the mark's order, not the DFS's). */
		for (uint32_t k = 1; k <= DFS_NEAR; k++) { /* no branch on what a pair holds: it mispredicts */
			uint32_t fa = y > R + k ? FIRST(y - k) : UNDEF, fb = y + k < M ? FIRST(y + k) : UNDEF;
			__builtin_prefetch(&log[fa & LISTED ? 0 : fa]);
			__builtin_prefetch(&log[fb & LISTED ? 0 : fb]);
		}
		if (d > depth)
			depth = d;
		x = y;
	}
	t->roff[0] = 0;
	/* the stack's pages that were written count */
	PHASE("dfs");
	w.extra = gh__page_up(4 * (depth + 1));
	wtally(&w);
	w.extra = 0;
	munmap(stack, stack_len);
	stack = NULL;
	/* pre[] compacted out of the pairs, in place; the predecessors take
	 * the rest (its pages are written already) */
	uint32_t *pre = first;
	for (size_t y = 0; y < M; y++)
		pre[y] = first[2 * y + 1];
	w.lo = first_off + gh__page_up(4 * M);
	t->pre = pre;
	first = NULL;
	side = NULL;
	t->reached = n;

	/* Predecessors by preorder number, from the log (the super-root's
	 * edges to the roots added), in runs: node v's run starts with the
	 * entry flagged RUN -- every reached node but the super-root has one
	 * at least, its DFS parent. Built for a quarter of the numbers at a
	 * time, the log compacted to what is left after each: the log and the
	 * predecessors never both take their whole size. The roots' own edges
	 * are kept (preorder numbers) for naming the root that holds an
	 * object. */

	uint32_t *pnext = NULL;
	uint32_t sp = UNDEF, src = 0;
	for (size_t r = 0; r <= R; r++)
		t->roff[r + 1] += t->roff[r];
	/* The first part's predecessors go where the DFS's pairs' second
	 * half was (its pages are written); each later part's at the end of
	 * the log, in what the parts before it took out of it (the log is
	 * compacted towards its start), or after the first part's if it does
	 * not fit there. No page is given back before the last part: a
	 * release costs a TLB flush on every CPU (and splits a huge page);
	 * the log stays whole, the predecessors come in pages already held. */
	size_t pcol_off = w.lo, pcol_len = gh__page_up(4 * np + 4);
	if (w.lo + pcol_len + w.hi > w.cap)
		goto nomem;
	pcol = (uint32_t *)(void *)(w.base + pcol_off);
	struct {
		uint32_t *p;
		uint32_t lo, hi;
		size_t cnt;
	} seg[PRED_PARTS + 1];
	size_t nseg = 0, aused = 0, tail = L, log_held = gh__page_up(4 * L);
	/* Each part: filled from the log, which is compacted to the other
	 * parts' edges (heads whose blocks empty dropped) while the next
	 * part's targets are counted. */
	size_t L2 = L, cur_slot = 0;
	for (uint32_t lo = 0, hi = (uint32_t)(part < n ? part : n); lo < n;) {
		uint32_t nhi = (uint32_t)(hi + part < n ? hi + part : n);
		for (size_t k = 0; k <= hi - lo; k++)
			poff[k + 1] += poff[k];
		size_t cnt = poff[hi - lo + 1];
		uint32_t *pc; /* poff[v - lo + 1]: v's fill cursor */
		if (lo > 0 && cnt <= tail - L2) {
			tail -= cnt;
			pc = log + tail;
		} else {
			if (lo > 0) { /* what the log's end had free goes back first */
				size_t b = release_inside(log + L2, 4 * (tail - L2));
				w.logs -= b;
				log_held -= b;
				tail = L2;
			}
			pc = pcol + aused;
			aused += cnt;
			wlo_touch(&w, pcol_off + gh__page_up(4 * aused));
		}
		if (nseg >= PRED_PARTS + 1)
			goto bad;
		seg[nseg].p = pc;
		seg[nseg].lo = lo;
		seg[nseg].hi = hi;
		seg[nseg++].cnt = cnt;
		if (hi < n) {
			pnext = slot[cur_slot ^ 1];
			memset(pnext, 0, 4 * (nhi - hi + 2));
			if (w.cap - (size_t)((char *)pnext - w.base) > w.hi_hwm)
				w.hi_hwm = w.cap - (size_t)((char *)pnext - w.base);
			wtally(&w);
		}
		for (size_t r = 1; r <= R; r++)
			if (pre[r] >= lo && pre[r] < hi)
				pc[poff[pre[r] - lo + 1]++] = 0;
			else if (pre[r] >= hi && pre[r] < nhi)
				pnext[pre[r] - hi + 2]++;
		size_t out = 0;
		bool empty = false; /* the last head kept has no entry after it yet */
		for (size_t i = 0; i < L2; i++) {
			if (pf && i + PF_AHEAD < L2) { /* selected without a branch: they mispredict */
				uint32_t ea = log[i + PF_AHEAD];
				const uint32_t *pa = (ea & HEAD) ? pre + (ea & ~HEAD)
						     : ea - lo < hi - lo ? poff + (ea - lo + 1)
						     : pnext && ea - hi < nhi - hi ? pnext + (ea - hi + 2) : log + i;
				__builtin_prefetch(pa);
			}
			uint32_t e = log[i];
			if (e & HEAD) {
				if (e == UNDEF)
					continue;
				out -= empty; /* the previous head lost its block */
				src = e & ~HEAD;
				sp = pre[src];
				if (sp == UNDEF) { /* not reached: dropped, its entries too */
					empty = false;
					continue;
				}
				log[out++] = e;
				empty = true;
				continue;
			}
			if (sp == UNDEF)
				continue;
			if (src <= R && lo == 0)
				t->rcol[t->roff[src]++] = e;
			if (e < hi) {
				pc[poff[e - lo + 1]++] = sp;
			} else {
				log[out++] = e;
				empty = false;
				if (e < nhi)
					pnext[e - hi + 2]++;
			}
		}
		out -= empty;
		for (size_t v = lo ? lo : 1; v < hi; v++)
			pc[poff[v - lo]] |= RUN;
		poff = pnext;
		cur_slot ^= 1;
		pnext = NULL;
		L2 = out;
		lo = hi;
		hi = nhi;
	}
	/* roff[r] was advanced to r's end: shift back to starts */
	for (size_t r = R; r >= 1; r--)
		t->roff[r] = t->roff[r - 1];
	t->roff[0] = 0;
	/* the log is read: its pages before the predecessors go back */
	{
		size_t b = release_inside(g->log, 4 * tail);
		w.logs -= b;
		log_held -= b;
	}
	w.lo = pcol_off + gh__page_up(4 * aused);
	poff = NULL;
	PHASE("preds");

	/* Semi-NCA (Georgiadis): semidominators by Lengauer-Tarjan's simple
	 * evaluation with path compression, in reverse preorder, then each
	 * immediate dominator as the nearest ancestor of its DFS parent
	 * numbered at most its semidominator. A predecessor v < w is an
	 * ancestor of w (a tree or forward edge), so w's DFS parent is the
	 * largest such v and need not be stored: once w's run is read, its
	 * first entry keeps the parent and its second (if any) the
	 * semidominator -- with one predecessor, the parent is both. Linear in
	 * practice whatever the graph: the iterative algorithm needs a round
	 * per step of a doubly linked list entered from both ends (a circular
	 * list's anchor), which C heaps are full of. */
	w.hi = 0; /* the block lists and the counts are done */
	/* the forest (link and label of a node side by side: eval reads
	 * both), then the dominators in its first half, then the preorder's
	 * ids in its second */
	struct ab *forest = whi(&w, 2 * gh__page_up(4 * n));
	if (!forest)
		goto nomem;
	t->idom = (uint32_t *)(void *)forest;
	for (size_t v = 0; v < n; v++)
		forest[v].anc = UNDEF;
	for (size_t j = nseg; j-- > 0;) {
		uint32_t *pc = seg[j].p;
		size_t e = seg[j].cnt;
		for (size_t v = seg[j].hi; v-- > (seg[j].lo ? seg[j].lo : 1);) {
			uint32_t s = (uint32_t)v, par = 0;
			size_t k = e;
			do {
				if (k == 0)
					goto bad; /* a reached node without a predecessor */
				/* eval's first link, read ahead for a later
				 * predecessor (used if it is numbered above its
				 * node: an edge back or across; without a branch,
				 * which mispredicts half the time) */
				if (k > PF_AHEAD)
					__builtin_prefetch(&forest[pc[k - PF_AHEAD] & ~RUN]);
				uint32_t u = pc[--k] & ~RUN;
				if (u < v) {
					if (u < s)
						s = u;
					if (u > par)
						par = u;
				} else {
					uint32_t b = eval(forest, u);
					if (b < s)
						s = b;
				}
			} while (!(pc[k] & RUN));
			forest[v].best = s;
			forest[v].anc = par;
			pc[k] = RUN | par;
			if (e - k >= 2)
				pc[k + 1] = s;
			e = k;
		}
	}
	uint32_t *idom = t->idom; /* over the forest, which is read no more */
	PHASE("semi");
	idom[0] = 0;
	for (size_t j = 0; j < nseg; j++) {
		const uint32_t *pc = seg[j].p;
		size_t cnt = seg[j].cnt;
		for (size_t v = seg[j].lo ? seg[j].lo : 1, k = 0; v < seg[j].hi; v++) {
			size_t start = k++;
			while (k < cnt && !(pc[k] & RUN))
				k++;
			uint32_t par = pc[start] & ~RUN, s = k - start >= 2 ? pc[start + 1] : par, dd = par;
			while (dd > s)
				dd = idom[dd];
			idom[v] = dd;
		}
	}
	t->iterations = 1;
	PHASE("nca");
	/* the predecessors at the log's end go back with it */
	release_inside(g->log, 4 * L);
	w.logs -= log_held;

	/* the retained figures, by preorder number, bottom-up (a dominator
	 * comes before what it dominates in preorder): bytes and objects in
	 * one word, bytes << ret_n_bits | objects, ret_n_bits the width of
	 * the node count (no node retains more objects than there are): 25
	 * bits at 20M objects leave 39 bits, 512 GiB, for the bytes; a total
	 * that does not fit is refused below */
	t->ret_n_bits = 64u - (unsigned)__builtin_clzll((uint64_t)n | 1);
	/* where the predecessors were; semi-NCA's second array's place at
	 * the top for the ids */
	w.lo = pcol_off;
	t->retained = wlo(&w, 8 * n);
	pcol = NULL;
	t->vertex = (uint32_t *)(void *)((char *)forest + gh__page_up(4 * n));
	if (!t->retained || !t->vertex)
		goto nomem;
	uint64_t *ret = t->retained, total = 0;
	for (size_t y = 0; y < M; y++)
		if (pre[y] != UNDEF) {
			t->vertex[pre[y]] = (uint32_t)y;
			uint64_t p = 0;
			if (y > R) {
				p = pay[y - 1 - R];
				p = (p & P_ESC) != P_ESC ? p & P_ESC : GH_DOM_SIZE(gh__dom_tsz(t, (uint32_t)y));
				total += p;
				p = p << t->ret_n_bits | 1;
			}
			ret[pre[y]] = p;
		}
	if (total >> (64 - t->ret_n_bits))
		goto bad; /* more than a cage holds */
	for (size_t v = n; v-- > 1;) {
		if (v >= PF_AHEAD)
			__builtin_prefetch(&ret[idom[v - PF_AHEAD]], 1);
		ret[idom[v]] += ret[v];
	}
	PHASE("retained");
	t->work_bytes = w.peak;
	return 0;
nomem:
	rc = ENOMEM;
bad:
	if (stack)
		munmap(stack, stack_len);
	gh__dom_tree_release(t);
	return rc;
}

/* ---- One pass -------------------------------------------------------------------------------- */

size_t gh__dom_budget(void)
{
	size_t b = (size_t)1 << 30;
	const char *s = getenv("GLASSHEAP_DOMINATORS_BUDGET");
	if (s && *s && !gh__parse_size(s, &b)) {
		gh__log("GLASSHEAP_DOMINATORS_BUDGET=%s ignored: want a size (e.g. 512M)", s);
		b = (size_t)1 << 30;
	}
	return b < ((size_t)64 << 10) ? (size_t)64 << 10 : b;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct run_arg {
	uint64_t compute_cpu_ns;
	const struct gh_dom_query *q;
	size_t budget;
	struct gh_dom_result *out;
	size_t need;
	uint64_t objects;
	int rc;
};

struct heap_ent {
	uint64_t key;
	uint32_t id;
};

/* A min-heap of the best max_rows nodes by retained bytes. */
static void heap_offer(struct heap_ent *h, size_t *n, size_t cap, uint64_t key, uint32_t id)
{
	if (*n < cap) {
		size_t i = (*n)++;
		while (i > 0 && h[(i - 1) / 2].key > key) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = (struct heap_ent){key, id};
		return;
	}
	if (cap == 0 || key <= h[0].key)
		return;
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t mk = key;
		if (l < *n && h[l].key < mk)
			m = l, mk = h[l].key;
		if (r < *n && h[r].key < mk)
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = (struct heap_ent){key, id};
}

static int cmp_rows(const void *a, const void *b)
{
	const struct gh_dom_row *x = a, *y = b;
	return x->retained_bytes < y->retained_bytes ? 1 : x->retained_bytes > y->retained_bytes ? -1
	       : x->address_hidden > y->address_hidden ? -1 : x->address_hidden < y->address_hidden;
}

static int cmp_types(const void *a, const void *b)
{
	const struct gh_dom_type_row *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->type < y->type ? -1 : x->type > y->type;
}

/* The root that holds object id directly (its own edges list it), or -1. */
static int root_holding(const struct gh_dom_tree *t, uint32_t id)
{
	uint32_t w = t->pre[id];
	for (size_t r = 1; r <= t->nroots; r++)
		for (uint32_t k = t->roff[r]; k < t->roff[r + 1]; k++)
			if (t->rcol[k] == w)
				return (int)r - 1;
	return -1;
}

static void fill_row(const struct gh_dom_tree *t, uint32_t id, struct gh_dom_row *row, int *root)
{
	uint64_t tsz = gh__dom_tsz(t, id);
	row->address_hidden = GH_DOM_HIDE(gh__dom_address_of(t, id));
	row->type = GH_DOM_TYPE(tsz);
	row->site = gh__dom_site(t, id);
	row->self_bytes = GH_DOM_SIZE(tsz);
	row->retained_bytes = gh__dom_retained(t, id);
	row->retained_objects = gh__dom_retained_n(t, id);
	/* the chain of dominators up to a root: every element dominates the next */
	size_t n = 0;
	uint32_t x = id, top = id;
	while (x > t->nroots && x != UNDEF) {
		top = x;
		n++;
		x = gh__dom_idom(t, x);
	}
	*root = x >= 1 && x <= t->nroots ? (int)x - 1 : x == 0 ? root_holding(t, top) : -1;
	row->path_first_hidden = GH_DOM_HIDE(gh__dom_address_of(t, top));
	/* from the root down; a long chain keeps its first 5 and last 10 objects */
	size_t keep = GH_DOM_PATH_MAX - 1;
	row->path_elided = n > keep;
	row->npath = row->path_elided ? (unsigned)keep : (unsigned)n;
	x = id;
	for (size_t k = 0; k < n; k++, x = gh__dom_idom(t, x)) {
		size_t from_top = n - 1 - k;
		uint32_t type = GH_DOM_TYPE(gh__dom_tsz(t, x));
		if (!row->path_elided)
			row->path_type[from_top] = type;
		else if (k < keep - 5)
			row->path_type[keep - 1 - k] = type;
		else if (from_top < 5)
			row->path_type[from_top] = type;
	}
}

/* Finding a global's word: the module must still be loaded (dl_iterate_phdr
 * holds the loader's lock while we read its segment). */
struct global_find {
	uintptr_t lo, hi, obj, obj_end, found;
};

__attribute__((no_sanitize("address", "thread"))) static int find_global_word(struct dl_phdr_info *info, size_t size,
										 void *arg)
{
	(void)size;
	struct global_find *f = arg;
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, PF_W, &sg);) {
		if (sg.lo != f->lo || sg.lo + sg.memsz != f->hi)
			continue;
		for (uintptr_t p = (f->lo + 7) & ~(uintptr_t)7; p + 8 <= f->hi; p += 8) {
			uintptr_t w = *(const volatile uintptr_t *)p;
			if (w >= f->obj && w < f->obj_end) {
				f->found = p;
				return 1;
			}
		}
		return 1;
	}
	return 0;
}

static int after_mark(const struct gh_dom_capture *cap, void *argp)
{
	struct run_arg *a = argp;
	a->objects = cap->want_nodes;
	if (cap->full || cap->truncated) {
		a->need = gh__dom_need(cap->want_nodes, cap->g.nroots, cap->want_log, cap->g.reach_words);
		return EFBIG;
	}
	uint64_t t0 = gh__now_ns(), c0 = thread_cpu_ns();
	struct gh_dom_tree t;
	int rc = gh__dom_compute(&cap->g, a->budget, &t, &a->need);
	if (rc == ENOMEM && a->need > a->budget)
		return EFBIG;
	if (rc)
		return rc;
	uint64_t t1 = gh__now_ns();
	a->compute_cpu_ns = thread_cpu_ns() - c0;
	const struct gh_dom_query *q = a->q;
	struct gh_dom_result *r = calloc(1, sizeof *r);
	size_t cap_rows = q->max_rows ? q->max_rows : 1;
	struct heap_ent *h = map_zero(gh__page_up(cap_rows * sizeof *h));
	struct gh_dom_type_row *bt = map_zero(gh__page_up(GH_TYPE_IDS * sizeof *bt));
	if (!r || !h || !bt) {
		free(r);
		if (h)
			munmap(h, gh__page_up(cap_rows * sizeof *h));
		if (bt)
			munmap(bt, gh__page_up(GH_TYPE_IDS * sizeof *bt));
		gh__dom_tree_release(&t);
		return ENOMEM;
	}
	size_t nh = 0;
	for (uint32_t x = (uint32_t)t.nroots + 1; x < t.nodes; x++) {
		uint32_t w = t.pre[x];
		if (w == UNDEF)
			continue;
		uint64_t tsz = gh__dom_tsz(&t, x);
		uint32_t type = GH_DOM_TYPE(tsz), d = t.vertex[t.idom[w]];
		if (type == GH_TYPE_INTERNAL)
			continue; /* glassheap's own */
		r->reached_bytes += GH_DOM_SIZE(tsz);
		uint64_t rb = t.retained[w] >> t.ret_n_bits;
		if (d <= t.nroots || GH_DOM_TYPE(gh__dom_tsz(&t, d)) != type) {
			bt[type].bytes += rb;
			bt[type].objects += t.retained[w] & RET_N_MASK(&t);
		}
		if ((q->type == GH_TYPE_NONE || q->type == type) && rb >= q->min_bytes)
			heap_offer(h, &nh, q->max_rows, rb, x);
	}
	r->objects = t.nobjects;
	r->edges = t.edges;
	r->roots = t.nroots;
	r->pause_ns = cap->pause_ns;
	r->mark_ns = cap->mark_ns;
	r->threads = cap->threads;
	r->stop_method = cap->stop_method;
	r->iterations = t.iterations;
	r->budget_bytes = a->budget;
	/* the stop-time logs' peak beside the computation's */
	r->work_bytes = t.work_bytes;
	r->rows = calloc(nh + 1, sizeof *r->rows);
	size_t ntypes = 0;
	for (size_t k = 0; k < GH_TYPE_IDS; k++)
		ntypes += bt[k].bytes != 0 || bt[k].objects != 0;
	r->types = calloc(ntypes + 1, sizeof *r->types);
	int *roots = calloc(nh + 1, sizeof *roots);
	if (!r->rows || !r->types || !roots) {
		free(roots);
		munmap(h, gh__page_up(cap_rows * sizeof *h));
		munmap(bt, gh__page_up(GH_TYPE_IDS * sizeof *bt));
		gh__dom_tree_release(&t);
		gh__dom_result_free(r);
		return ENOMEM;
	}
	for (size_t k = 0; k < GH_TYPE_IDS; k++)
		if (bt[k].bytes != 0 || bt[k].objects != 0) {
			r->types[r->ntypes] = bt[k];
			r->types[r->ntypes++].type = (uint32_t)k;
		}
	for (size_t k = 0; k < nh; k++)
		fill_row(&t, h[k].id, &r->rows[k], &roots[k]);
	r->nrows = nh;
	munmap(h, gh__page_up(cap_rows * sizeof *h));
	munmap(bt, gh__page_up(GH_TYPE_IDS * sizeof *bt));
	gh__dom_tree_release(&t);
	/* root labels: names now; a global's symbol once the world runs freely */
	for (size_t k = 0; k < nh; k++) {
		struct gh_dom_row *row = &r->rows[k];
		if (roots[k] < 0) {
			snprintf(row->root_label, sizeof row->root_label, "(several roots)");
			continue;
		}
		const char *name;
		int kind;
		uintptr_t lo, hi;
		gh__mark_root((size_t)roots[k], &name, &kind, &lo, &hi);
		snprintf(row->root_label, sizeof row->root_label, "%s", name);
		if (kind != GH_ROOT_GLOBAL)
			continue;
		uintptr_t first = GH_DOM_HIDE(row->path_first_hidden);
		struct global_find f = {lo, hi, first, first + 1, 0};
		/* the word that pointed into the object then: its start, or inside it */
		f.obj_end = first + (row->path_first_hidden == row->address_hidden ? row->self_bytes : 1);
		if (f.obj_end == f.obj)
			f.obj_end++;
		dl_iterate_phdr(find_global_word, &f);
		char sym[128];
		if (f.found && gh__sym_data_name(f.found, sym, sizeof sym))
			snprintf(row->root_label, sizeof row->root_label, "global:%s (%s)", sym, name + 7);
	}
	free(roots);
	qsort(r->rows, r->nrows ? r->nrows : 1, sizeof *r->rows, cmp_rows);
	qsort(r->types, r->ntypes ? r->ntypes : 1, sizeof *r->types, cmp_types);
	r->compute_ns = t1 - t0;
	r->compute_cpu_ns = a->compute_cpu_ns;
	a->out = r;
	return 0;
}

/*
 * Zeroes the dead stack below the caller. The calling thread's stack is a
 * root of the pass (from its stack pointer up), and the frames the pass
 * pushes there -- stop_and_mark alone keeps an 80 KiB array it mostly
 * leaves unwritten -- would otherwise hold whatever earlier calls left:
 * object addresses from the last answer's computation, which would make
 * those objects look held by this thread's stack.
 */
static __attribute__((noinline)) void clear_dead_stack(void)
{
	char buf[112 << 10];
	explicit_bzero(buf, sizeof buf);
	__asm__ volatile("" : : "r"(buf) : "memory");
}

int gh__dom_run(const struct gh_dom_query *q, struct gh_dom_result **out, pid_t *unresponsive, size_t *need,
		uint64_t *objects)
{
	*out = NULL;
	struct run_arg a = {.q = q, .budget = gh__dom_budget()};
	/* reservations for the most the budget allows; only what is written is memory */
	size_t log_cap = a.budget / 4, nodes_cap = a.budget / 32;
	size_t log_len = log_cap * 4, nodes_len = nodes_cap * sizeof(struct gh_dom_node_rec);
	uint32_t *log = map_work(&log_len);
	struct gh_dom_node_rec *nodes = map_work(&nodes_len);
	int rc = ENOMEM;
	if (log && nodes) {
		clear_dead_stack();
		rc = gh__mark_dominators(log, log_cap, nodes, nodes_cap, a.budget, after_mark, &a, unresponsive);
		clear_dead_stack(); /* what the computation left, before the next pass */
	}
	if (log)
		munmap(log, log_len);
	if (nodes)
		munmap(nodes, nodes_len);
	if (need)
		*need = a.need;
	if (objects)
		*objects = a.objects;
	if (rc == 0)
		*out = a.out;
	return rc;
}

void gh__dom_result_free(struct gh_dom_result *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->types);
	free(r);
}

bool gh__dom_busy(void)
{
	return gh__world_busy();
}

void gh__dom_site_info(uint32_t site, char *where, size_t len, const char **function, const char **filename,
		       unsigned *lineno)
{
	snprintf(where, len, "unknown");
	*function = "";
	*filename = "";
	*lineno = 0;
	gh_site_info_t info;
	if (site && gh_site_resolve(site, &info) == 0)
		snprintf(where, len, "%s+0x%lx", info.module, (unsigned long)info.offset);
	uintptr_t addr = site ? gh__site_address(site) : 0;
	if (!addr)
		return;
	const struct gh_trace_frame *f = NULL;
	size_t nf = gh__sym_frames(addr, &f);
	if (nf && f[0].function)
		*function = f[0].function;
	if (nf && f[0].lineno && f[0].filename) {
		*filename = f[0].filename;
		*lineno = f[0].lineno;
	}
}
