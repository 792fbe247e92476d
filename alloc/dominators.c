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
 *   ranks    node id of an object = its rank in the mark's reach bitmap
 *            (a prefix count per 64 granules), ids in address order
 *   rewrite  the edge log in place, granules -> node ids; each object's
 *            block start noted; each root's blocks listed
 *   DFS      from the virtual super-root (children: the roots): preorder
 *            numbers and DFS-tree parents
 *   preds    predecessor lists by preorder number, from the log
 *   semi-NCA Georgiadis's semi-NCA: semidominators as Lengauer-Tarjan
 *            computes them (path compression, iterative), then each
 *            immediate dominator as the nearest ancestor of its DFS parent
 *            numbered at most its semidominator
 *   retained bottom-up in reverse preorder, each node's figures added to its
 *            immediate dominator's
 *
 * Chosen by measurement: Cooper-Harvey-Kennedy's iterative algorithm needs
 * one round per node of a circular doubly linked list (an anchor pointing at
 * both ends: h2o's lists, sys/queue's TAILQ), so it is quadratic on heaps C
 * programs have -- 29,999 rounds and 7.7 s for a 30,000-node list, where
 * semi-NCA takes 7 ms (bench/dom_list.c; docs/performance.md).
 *
 * Work memory (all mmap, never malloc; bounded by GLASSHEAP_DOMINATORS_BUDGET)
 * at its peak: 8 bytes per edge (the log, the predecessor lists) and about
 * 48 per node (the node records, 16, are released once site/type/size, 12,
 * are scattered by id; the DFS and semi-NCA arrays take 36, then all but
 * the dominators and order are released before the retained figures' 12).
 */
#include "internal.h"

#include "dominators.h"

#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define UNDEF UINT32_MAX

static void *map_zero(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static size_t page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* ---- Ranks ---------------------------------------------------------------------------------- */

uint32_t gh__dom_node_of(const struct gh_dom_tree *t, uint32_t gran)
{
	size_t w = gran >> 6;
	uint64_t below = t->reach[w] & ((UINT64_C(1) << (gran & 63)) - 1);
	return (uint32_t)(1 + t->nroots + t->prefix[w] + (uint32_t)__builtin_popcountll(below));
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

/* ---- Successors --------------------------------------------------------------------------- */

/* A node's successors, one at a time: the super-root's are the roots; a
 * root's, the entries of its blocks; an object's, the entries of its block. */
struct succ_it {
	uint32_t pos;   /* next log position, or next root for the super-root */
	uint32_t blk;   /* a root: next block index */
};

struct ctx {
	const struct gh_dom_graph *g;
	struct gh_dom_tree *t;
	uint32_t *log;
	uint32_t *lo;    /* [nodes] block start (log position + 1), 0: none */
	uint32_t *cur;   /* [nodes] DFS cursor */
	uint32_t *rblk;  /* [roots] DFS cursor: a root's next block */
	size_t R, M;
};

static inline void it_init(const struct ctx *c, uint32_t x, struct succ_it *it)
{
	it->blk = 0;
	if (x == 0)
		it->pos = 1;
	else if (x <= c->R)
		it->pos = 0; /* before its first block */
	else
		it->pos = c->lo[x];
}

/* The next successor, or UNDEF. */
static inline uint32_t it_next(const struct ctx *c, uint32_t x, struct succ_it *it)
{
	if (x == 0)
		return it->pos <= c->R ? it->pos++ : UNDEF;
	const uint32_t *log = c->log;
	size_t n = c->g->nlog;
	if (x <= c->R) {
		for (;;) {
			if (it->pos != 0 && it->pos - 1 < n && !(log[it->pos - 1] & GH_DOM_OBJ))
				return log[it->pos++ - 1];
			uint32_t b = c->t->rb_start[x - 1] + it->blk;
			if (b >= c->t->rb_start[x])
				return UNDEF;
			it->blk++;
			it->pos = c->t->rb_pos[b];
		}
	}
	if (it->pos == 0 || it->pos - 1 >= n || (log[it->pos - 1] & GH_DOM_OBJ))
		return UNDEF;
	return log[it->pos++ - 1];
}

/* ---- The computation ------------------------------------------------------------------------ */

void gh__dom_tree_release(struct gh_dom_tree *t)
{
	if (t->mem)
		munmap(t->mem, t->mem_len);
	if (t->mem2)
		munmap(t->mem2, t->mem2_len);
	if (t->mem3)
		munmap(t->mem3, t->mem3_len);
	memset(t, 0, sizeof *t);
}

int gh__dom_compute(const struct gh_dom_graph *g, size_t budget, struct gh_dom_tree *t, size_t *need)
{
	memset(t, 0, sizeof *t);
	size_t R = g->nroots, N = g->nnodes, M = 1 + R + N;
	*need = gh__dom_need(N, R, g->nlog, g->reach_words);
	if (*need > budget)
		return ENOMEM;
	if (M >= GH_DOM_OBJ)
		return EINVAL;
	/* root blocks and edges, counted */
	size_t nrb = 0, nedges = 0;
	for (size_t i = 0; i < g->nlog; i++)
		if ((g->log[i] & GH_DOM_ROOT) == GH_DOM_ROOT) {
			if ((g->log[i] & ~GH_DOM_ROOT) >= R)
				return EINVAL;
			nrb++;
		} else if (!(g->log[i] & GH_DOM_OBJ)) {
			nedges++;
		}
	/* first mapping: ranks, site, type:size, root blocks */
	size_t o_prefix = 0, o_site = page_up(4 * g->reach_words + 4), o_tsz = o_site + page_up(4 * M),
	       o_rbs = o_tsz + page_up(8 * M), o_rbp = o_rbs + page_up(4 * (R + 2)), len1 = o_rbp + page_up(4 * nrb + 4);
	char *m1 = map_zero(len1);
	if (!m1)
		return ENOMEM;
	t->mem = m1;
	t->mem_len = len1;
	t->nroots = R;
	t->nobjects = N;
	t->nodes = M;
	t->prefix = (uint32_t *)(m1 + o_prefix);
	t->site = (uint32_t *)(m1 + o_site);
	t->tsz = (uint64_t *)(m1 + o_tsz);
	t->rb_start = (uint32_t *)(m1 + o_rbs);
	t->rb_pos = (uint32_t *)(m1 + o_rbp);
	t->reach = g->reach;
	t->reach_words = g->reach_words;
	t->base = g->base;
	t->log = g->log;
	t->nlog = g->nlog;

	uint32_t rank = 0;
	for (size_t w = 0; w < g->reach_words; w++) {
		t->prefix[w] = rank;
		rank += (uint32_t)__builtin_popcountll(g->reach[w]);
	}
	if (rank != N) { /* an object marked but not recorded (or the reverse) */
		gh__dom_tree_release(t);
		return EINVAL;
	}
	for (size_t i = 0; i < N; i++) {
		const struct gh_dom_node_rec *n = &g->nodes[i];
		if ((n->gran >> 6) >= g->reach_words || !((g->reach[n->gran >> 6] >> (n->gran & 63)) & 1)) {
			gh__dom_tree_release(t);
			return EINVAL;
		}
		uint32_t id = gh__dom_node_of(t, n->gran);
		t->site[id] = n->site;
		t->tsz[id] = n->tsz;
	}
	/* the node records are read: their memory goes back before the rest is mapped */
	if (N)
		madvise((void *)((uintptr_t)g->nodes & ~(uintptr_t)4095),
			page_up(N * sizeof *g->nodes + ((uintptr_t)g->nodes & 4095)), MADV_DONTNEED);

	/* second mapping, u32 arrays: by node id lo (block start), cur (DFS
	 * cursor), pre (preorder number, then the immediate dominator); by
	 * preorder number vertex, parent (then idom), semi (first the DFS
	 * stack), stk (path compression); the predecessors (offsets, list) */
	size_t a4 = page_up(4 * (M + 2));
	size_t o_lo = 0, o_cur = a4, o_pre = 2 * a4, o_vert = 3 * a4, o_par = 4 * a4, o_semi = 5 * a4, o_stk = 6 * a4,
	       o_poff = 7 * a4, o_pcol = 8 * a4, o_rblk = o_pcol + page_up(4 * (nedges + R + 1)),
	       len2 = o_rblk + page_up(4 * (R + 1));
	char *m2 = map_zero(len2);
	if (!m2) {
		gh__dom_tree_release(t);
		return ENOMEM;
	}
	t->mem2 = m2;
	t->mem2_len = len2;
	uint32_t *pre = (uint32_t *)(m2 + o_pre), *vertex = (uint32_t *)(m2 + o_vert);
	uint32_t *parent = (uint32_t *)(m2 + o_par), *semi = (uint32_t *)(m2 + o_semi);
	uint32_t *stk = (uint32_t *)(m2 + o_stk), *poff = (uint32_t *)(m2 + o_poff), *pcol = (uint32_t *)(m2 + o_pcol);
	struct ctx c = {
		.g = g, .t = t, .log = g->log, .lo = (uint32_t *)(m2 + o_lo), .cur = (uint32_t *)(m2 + o_cur),
		.rblk = (uint32_t *)(m2 + o_rblk), .R = R, .M = M,
	};

	/* rewrite the log: granules -> ids; blocks noted */
	uint32_t *log = g->log;
	for (size_t i = 0; i < g->nlog; i++) {
		uint32_t e = log[i];
		if ((e & GH_DOM_ROOT) == GH_DOM_ROOT) {
			t->rb_start[(e & ~GH_DOM_ROOT) + 1]++;
		} else if (e & GH_DOM_OBJ) {
			uint32_t gr = e & ~GH_DOM_OBJ;
			if ((gr >> 6) >= g->reach_words || !((g->reach[gr >> 6] >> (gr & 63)) & 1))
				goto bad;
			uint32_t id = gh__dom_node_of(t, gr);
			log[i] = GH_DOM_OBJ | id;
			c.lo[id] = (uint32_t)i + 2; /* position of its first entry, + 1 */
		} else {
			if ((e >> 6) >= g->reach_words || !((g->reach[e >> 6] >> (e & 63)) & 1))
				goto bad;
			log[i] = gh__dom_node_of(t, e);
		}
	}
	for (size_t r = 0; r < R; r++)
		t->rb_start[r + 1] += t->rb_start[r];
	for (size_t i = 0; i < g->nlog; i++)
		if ((log[i] & GH_DOM_ROOT) == GH_DOM_ROOT) {
			uint32_t r = log[i] & ~GH_DOM_ROOT;
			t->rb_pos[t->rb_start[r] + c.rblk[r]++] = (uint32_t)i + 2;
		}
	memset(c.rblk, 0, 4 * (R + 1));
	t->edges = nedges;

	/* DFS from the super-root: preorder numbers and DFS-tree parents */
	for (size_t x = 0; x < M; x++)
		pre[x] = UNDEF;
	size_t n = 1, sp = 1;
	struct succ_it it;
	pre[0] = 0;
	vertex[0] = 0;
	parent[0] = 0;
	semi[0] = 0; /* the DFS stack, for now */
	it_init(&c, 0, &it);
	c.cur[0] = it.pos;
	while (sp) {
		uint32_t x = semi[sp - 1];
		it.pos = c.cur[x];
		it.blk = x >= 1 && x <= R ? c.rblk[x - 1] : 0;
		uint32_t y = it_next(&c, x, &it);
		c.cur[x] = it.pos;
		if (x >= 1 && x <= R)
			c.rblk[x - 1] = it.blk;
		if (y == UNDEF) {
			sp--;
			continue;
		}
		if (y >= M)
			goto bad;
		if (pre[y] != UNDEF)
			continue;
		pre[y] = (uint32_t)n;
		vertex[n] = y;
		parent[n] = pre[x];
		n++;
		struct succ_it iy;
		it_init(&c, y, &iy);
		c.cur[y] = iy.pos;
		semi[sp++] = y;
	}

	/* predecessors by preorder number, of the reached nodes only */
	for (size_t r = 1; r <= R; r++)
		if (pre[r] != UNDEF)
			poff[pre[r] + 1]++;
	uint32_t src = 0;
	for (size_t i = 0; i < g->nlog; i++) {
		uint32_t e = log[i];
		if ((e & GH_DOM_ROOT) == GH_DOM_ROOT)
			src = (e & ~GH_DOM_ROOT) + 1;
		else if (e & GH_DOM_OBJ)
			src = e & ~GH_DOM_OBJ;
		else if (pre[src] != UNDEF && pre[e] != UNDEF)
			poff[pre[e] + 1]++;
	}
	for (size_t w = 0; w < n; w++)
		poff[w + 1] += poff[w];
	memcpy(stk, poff, 4 * n); /* fill cursors */
	for (size_t r = 1; r <= R; r++)
		if (pre[r] != UNDEF)
			pcol[stk[pre[r]]++] = 0;
	for (size_t i = 0; i < g->nlog; i++) {
		uint32_t e = log[i];
		if ((e & GH_DOM_ROOT) == GH_DOM_ROOT)
			src = (e & ~GH_DOM_ROOT) + 1;
		else if (e & GH_DOM_OBJ)
			src = e & ~GH_DOM_OBJ;
		else if (pre[src] != UNDEF && pre[e] != UNDEF)
			pcol[stk[pre[e]]++] = pre[src];
	}

	/* Semi-NCA (Georgiadis): semidominators by Lengauer-Tarjan's simple
	 * evaluation with path compression (iterative: a list a million long
	 * must not recurse a million deep), then each immediate dominator as
	 * the nearest ancestor of its DFS parent whose number is at most its
	 * semidominator's. Linear in practice whatever the graph: the
	 * iterative algorithm needs a round per step of a doubly linked list
	 * entered from both ends (a circular list's anchor), which C heaps are
	 * full of. */
	uint32_t *label = c.lo, *anc = c.cur; /* lo and cur are done with */
	for (size_t w = 0; w < n; w++) {
		semi[w] = (uint32_t)w;
		label[w] = (uint32_t)w;
		anc[w] = UNDEF;
	}
	for (size_t w = n; w-- > 1;) {
		for (uint32_t k = poff[w]; k < poff[w + 1]; k++) {
			uint32_t v = pcol[k], u = v;
			if (anc[v] != UNDEF) {
				size_t depth = 0;
				uint32_t a = v;
				while (anc[anc[a]] != UNDEF) {
					stk[depth++] = a;
					a = anc[a];
				}
				while (depth) {
					uint32_t b = stk[--depth], ab = anc[b];
					if (semi[label[ab]] < semi[label[b]])
						label[b] = label[ab];
					anc[b] = anc[ab];
				}
				u = label[v];
			}
			if (semi[u] < semi[w])
				semi[w] = semi[u];
		}
		anc[w] = parent[w];
	}
	uint32_t *idp = parent; /* immediate dominators by preorder number, in place */
	for (size_t w = 1; w < n; w++) {
		uint32_t d = parent[w];
		while (d > semi[w])
			d = idp[d];
		idp[w] = d;
	}
	/* by node id, in place of the preorder numbers */
	for (size_t x = 0; x < M; x++)
		pre[x] = pre[x] == UNDEF ? UNDEF : vertex[idp[pre[x]]];
	uint32_t *idom = pre;
	idom[0] = 0;
	t->idom = idom;
	t->iterations = 1;

	/* the retained figures: third mapping, once the rest is given back */
	size_t peak2 = len2;
	madvise(m2 + o_lo, o_pre - o_lo, MADV_DONTNEED);
	madvise(m2 + o_semi, len2 - o_semi, MADV_DONTNEED);
	size_t o_ret = 0, o_cnt = page_up(8 * M), len3 = o_cnt + page_up(4 * M);
	char *m3 = map_zero(len3);
	if (!m3) {
		gh__dom_tree_release(t);
		return ENOMEM;
	}
	t->mem3 = m3;
	t->mem3_len = len3;
	uint64_t *ret = (uint64_t *)(m3 + o_ret);
	uint32_t *cnt = (uint32_t *)(m3 + o_cnt);
	for (size_t x = 0; x < M; x++) {
		ret[x] = GH_DOM_SIZE(t->tsz[x]);
		cnt[x] = x > R;
	}
	/* bottom-up: a dominator comes before what it dominates in preorder */
	for (size_t w = n; w-- > 1;) {
		uint32_t x = vertex[w];
		ret[idom[x]] += ret[x];
		cnt[idom[x]] += cnt[x];
	}
	t->retained = ret;
	t->retained_n = cnt;
	/* the peak: logs, records and the first mapping; or logs, the first
	 * mapping and the second; or logs, the first, idom and the third */
	size_t recs = N * sizeof *g->nodes, base = 4 * g->nlog + len1;
	size_t p1 = base + recs, p2 = base + peak2, p3 = base + 3 * a4 + len3;
	t->work_bytes = p1 > p2 ? (p1 > p3 ? p1 : p3) : (p2 > p3 ? p2 : p3);
	return 0;
bad:
	gh__dom_tree_release(t);
	return EINVAL;
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
	return b < ((size_t)1 << 20) ? (size_t)1 << 20 : b;
}

struct run_arg {
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

/* The root that holds object id directly (a root block lists it), or -1. */
static int root_holding(const struct gh_dom_tree *t, uint32_t id)
{
	for (size_t r = 0; r < t->nroots; r++)
		for (uint32_t b = t->rb_start[r]; b < t->rb_start[r + 1]; b++)
			for (uint32_t p = t->rb_pos[b]; p - 1 < t->nlog && !(t->log[p - 1] & GH_DOM_OBJ); p++)
				if (t->log[p - 1] == id)
					return (int)r;
	return -1;
}

static void fill_row(const struct gh_dom_tree *t, uint32_t id, struct gh_dom_row *row, int *root)
{
	row->address_hidden = GH_DOM_HIDE(gh__dom_address_of(t, id));
	row->type = GH_DOM_TYPE(t->tsz[id]);
	row->site = t->site[id];
	row->self_bytes = GH_DOM_SIZE(t->tsz[id]);
	row->retained_bytes = t->retained[id];
	row->retained_objects = t->retained_n[id];
	/* the chain of dominators up to a root: every element dominates the next */
	size_t n = 0;
	uint32_t x = id, top = id;
	while (x > t->nroots && x != UNDEF) {
		top = x;
		n++;
		x = t->idom[x];
	}
	*root = x >= 1 && x <= t->nroots ? (int)x - 1 : x == 0 ? root_holding(t, top) : -1;
	row->path_first_hidden = GH_DOM_HIDE(gh__dom_address_of(t, top));
	/* from the root down; a long chain keeps its first 5 and last 10 objects */
	size_t keep = GH_DOM_PATH_MAX - 1;
	row->path_elided = n > keep;
	row->npath = row->path_elided ? (unsigned)keep : (unsigned)n;
	x = id;
	for (size_t k = 0; k < n; k++, x = t->idom[x]) {
		size_t from_top = n - 1 - k;
		uint32_t type = GH_DOM_TYPE(t->tsz[x]);
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

__attribute__((no_sanitize("address", "thread"))) static int find_global_word(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct global_find *f = arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (lo != f->lo || lo + ph->p_memsz != f->hi)
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
	uint64_t t0 = gh__now_ns();
	struct gh_dom_tree t;
	int rc = gh__dom_compute(&cap->g, a->budget, &t, &a->need);
	if (rc == ENOMEM && a->need > a->budget)
		return EFBIG;
	if (rc)
		return rc;
	uint64_t t1 = gh__now_ns();
	const struct gh_dom_query *q = a->q;
	struct gh_dom_result *r = calloc(1, sizeof *r);
	size_t cap_rows = q->max_rows ? q->max_rows : 1;
	struct heap_ent *h = map_zero(page_up(cap_rows * sizeof *h));
	struct gh_dom_type_row *bt = map_zero(page_up(GH_TYPE_IDS * sizeof *bt));
	if (!r || !h || !bt) {
		free(r);
		if (h)
			munmap(h, page_up(cap_rows * sizeof *h));
		if (bt)
			munmap(bt, page_up(GH_TYPE_IDS * sizeof *bt));
		gh__dom_tree_release(&t);
		return ENOMEM;
	}
	size_t nh = 0;
	for (uint32_t x = (uint32_t)t.nroots + 1; x < t.nodes; x++) {
		uint32_t d = t.idom[x];
		if (d == UNDEF)
			continue;
		uint32_t type = GH_DOM_TYPE(t.tsz[x]);
		if (type == GH_TYPE_INTERNAL)
			continue; /* glassheap's own */
		r->reached_bytes += GH_DOM_SIZE(t.tsz[x]);
		if (d <= t.nroots || GH_DOM_TYPE(t.tsz[d]) != type) {
			bt[type].bytes += t.retained[x];
			bt[type].objects += t.retained_n[x];
		}
		if ((q->type == GH_TYPE_NONE || q->type == type) && t.retained[x] >= q->min_bytes)
			heap_offer(h, &nh, q->max_rows, t.retained[x], x);
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
		munmap(h, page_up(cap_rows * sizeof *h));
		munmap(bt, page_up(GH_TYPE_IDS * sizeof *bt));
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
	munmap(h, page_up(cap_rows * sizeof *h));
	munmap(bt, page_up(GH_TYPE_IDS * sizeof *bt));
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
	a->out = r;
	return 0;
}

int gh__dom_run(const struct gh_dom_query *q, struct gh_dom_result **out, pid_t *unresponsive, size_t *need,
		uint64_t *objects)
{
	*out = NULL;
	struct run_arg a = {.q = q, .budget = gh__dom_budget()};
	/* reservations for the most the budget allows; only what is written is memory */
	size_t log_cap = a.budget / 4, nodes_cap = a.budget / 32;
	uint32_t *log = map_zero(page_up(log_cap * 4));
	struct gh_dom_node_rec *nodes = map_zero(page_up(nodes_cap * sizeof *nodes));
	int rc = ENOMEM;
	if (log && nodes)
		rc = gh__mark_dominators(log, log_cap, nodes, nodes_cap, a.budget, after_mark, &a, unresponsive);
	if (log)
		munmap(log, page_up(log_cap * 4));
	if (nodes)
		munmap(nodes, page_up(nodes_cap * sizeof *nodes));
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
