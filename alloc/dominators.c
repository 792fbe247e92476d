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
 *   succs    the edge log rewritten in place (granules -> node ids), then
 *            joined into successor lists (a source's edges may come in
 *            several blocks: the mark's candidate FIFO interleaves them);
 *            the log's pages go back
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
 * at its peak: 8 bytes per edge (log and successors, then successors and
 * predecessors) and about 48 per node (the node records, 16, are released
 * once site/type/size, 12, are scattered by id; the DFS and semi-NCA arrays
 * take 36, then all but the dominators, successors and DFS order are
 * released before the retained figures' 12).
 */
#include "internal.h"

#include "dominators.h"

#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

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

/* Gives back the whole pages inside [p, p + len) (MADV_DONTNEED): a
 * caller's buffer that is read is released without touching its
 * neighbours. */
static void release_inside(const void *p, size_t len)
{
	uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + len) & ~(uintptr_t)4095;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
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
	size_t nedges = 0;
	for (size_t i = 0; i < g->nlog; i++)
		if ((g->log[i] & GH_DOM_ROOT) == GH_DOM_ROOT) {
			if ((g->log[i] & ~GH_DOM_ROOT) >= R)
				return EINVAL;
		} else if (!(g->log[i] & GH_DOM_OBJ)) {
			nedges++;
		}
	/* first mapping: ranks, site, type:size, root blocks */
	size_t o_prefix = 0, o_site = page_up(4 * g->reach_words + 4), o_tsz = o_site + page_up(4 * M),
	       len1 = o_tsz + page_up(8 * M);
	char *m1 = map_work(&len1);
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
	t->reach = g->reach;
	t->reach_words = g->reach_words;
	t->base = g->base;

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
	release_inside(g->nodes, N * sizeof *g->nodes);

	/* second mapping, u32 arrays. Kept with the tree: soff and scol (the
	 * successor lists), pre (then the immediate dominator by id), vertex,
	 * parent. Released before the retained figures: cur (DFS cursor, then
	 * the forest's ancestors), semi (first the DFS stack), stk (fill
	 * cursors, then the path-compression stack), poff, label, pcol. */
	size_t a4 = page_up(4 * (M + 2)), ecap = page_up(4 * (nedges + R + 1));
	size_t o_soff = 0, o_pre = a4, o_vert = 2 * a4, o_par = 3 * a4, o_scol = 4 * a4, o_cur = o_scol + ecap,
	       o_semi = o_cur + a4, o_stk = o_semi + a4, o_poff = o_stk + a4, o_label = o_poff + a4,
	       o_pcol = o_label + a4, len2 = o_pcol + ecap;
	char *m2 = map_work(&len2);
	if (!m2) {
		gh__dom_tree_release(t);
		return ENOMEM;
	}
	t->mem2 = m2;
	t->mem2_len = len2;
	uint32_t *soff = (uint32_t *)(m2 + o_soff), *scol = (uint32_t *)(m2 + o_scol);
	uint32_t *pre = (uint32_t *)(m2 + o_pre), *vertex = (uint32_t *)(m2 + o_vert);
	uint32_t *parent = (uint32_t *)(m2 + o_par), *semi = (uint32_t *)(m2 + o_semi), *cur = (uint32_t *)(m2 + o_cur);
	uint32_t *stk = (uint32_t *)(m2 + o_stk), *poff = (uint32_t *)(m2 + o_poff), *pcol = (uint32_t *)(m2 + o_pcol);
	uint32_t *label = (uint32_t *)(m2 + o_label);
	t->soff = soff;
	t->scol = scol;

	/* rewrite the log to ids (a root's head becomes GH_DOM_OBJ | its id) */
	uint32_t *log = g->log;
	for (size_t i = 0; i < g->nlog; i++) {
		uint32_t e = log[i];
		if ((e & GH_DOM_ROOT) == GH_DOM_ROOT) {
			log[i] = GH_DOM_OBJ | ((e & ~GH_DOM_ROOT) + 1);
		} else if (e & GH_DOM_OBJ) {
			uint32_t gr = e & ~GH_DOM_OBJ;
			if ((gr >> 6) >= g->reach_words || !((g->reach[gr >> 6] >> (gr & 63)) & 1))
				goto bad;
			log[i] = GH_DOM_OBJ | gh__dom_node_of(t, gr);
		} else {
			if (i == 0 || (e >> 6) >= g->reach_words || !((g->reach[e >> 6] >> (e & 63)) & 1))
				goto bad;
			log[i] = gh__dom_node_of(t, e);
		}
	}
	/* successor lists: the super-root's are the roots; a source's blocks,
	 * however many, joined */
	soff[1] = (uint32_t)R;
	uint32_t src = 0;
	for (size_t i = 0; i < g->nlog; i++) {
		if (log[i] & GH_DOM_OBJ)
			src = log[i] & ~GH_DOM_OBJ;
		else
			soff[src + 1]++;
	}
	for (size_t x = 0; x < M; x++)
		soff[x + 1] += soff[x];
	memcpy(stk, soff, 4 * M);
	for (size_t r = 1; r <= R; r++)
		scol[stk[0]++] = (uint32_t)r;
	for (size_t i = 0; i < g->nlog; i++) {
		if (log[i] & GH_DOM_OBJ)
			src = log[i] & ~GH_DOM_OBJ;
		else
			scol[stk[src]++] = log[i];
	}
	t->edges = nedges;
	/* the log is read: its whole pages go back */
	release_inside(g->log, 4 * g->nlog);

	/* DFS from the super-root: preorder numbers and DFS-tree parents */
	for (size_t x = 0; x < M; x++)
		pre[x] = UNDEF;
	size_t n = 1, sp = 1;
	pre[0] = 0;
	vertex[0] = 0;
	parent[0] = 0;
	semi[0] = 0; /* the DFS stack, for now */
	cur[0] = soff[0];
	while (sp) {
		uint32_t x = semi[sp - 1];
		if (cur[x] == soff[x + 1]) {
			sp--;
			continue;
		}
		uint32_t y = scol[cur[x]++];
		if (y >= M)
			goto bad;
		if (pre[y] != UNDEF)
			continue;
		pre[y] = (uint32_t)n;
		vertex[n] = y;
		parent[n] = pre[x];
		n++;
		cur[y] = soff[y];
		semi[sp++] = y;
	}

	/* predecessors by preorder number, of the reached nodes only */
	for (size_t x = 0; x < M; x++)
		if (pre[x] != UNDEF)
			for (uint32_t k = soff[x]; k < soff[x + 1]; k++)
				poff[pre[scol[k]] + 1]++;
	for (size_t w = 0; w < n; w++)
		poff[w + 1] += poff[w];
	memcpy(stk, poff, 4 * n); /* fill cursors */
	for (size_t x = 0; x < M; x++)
		if (pre[x] != UNDEF)
			for (uint32_t k = soff[x]; k < soff[x + 1]; k++)
				pcol[stk[pre[scol[k]]]++] = pre[x];

	/* Semi-NCA (Georgiadis): semidominators by Lengauer-Tarjan's simple
	 * evaluation with path compression (iterative: a list a million long
	 * must not recurse a million deep), then each immediate dominator as
	 * the nearest ancestor of its DFS parent whose number is at most its
	 * semidominator's. Linear in practice whatever the graph: the
	 * iterative algorithm needs a round per step of a doubly linked list
	 * entered from both ends (a circular list's anchor), which C heaps are
	 * full of. */
	uint32_t *anc = cur; /* the DFS is done with its cursors */
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
	madvise(m2 + o_cur, len2 - o_cur, MADV_DONTNEED);
	size_t o_ret = 0, o_cnt = page_up(8 * M), len3 = o_cnt + page_up(4 * M);
	char *m3 = map_work(&len3);
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
	size_t recs = N * sizeof *g->nodes, logb = 4 * g->nlog;
	size_t p1 = logb + len1 + recs, p2 = logb + len1 + peak2, p3 = len1 + o_cur + len3;
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

/* The root that holds object id directly (its successors list it), or -1. */
static int root_holding(const struct gh_dom_tree *t, uint32_t id)
{
	for (size_t r = 1; r <= t->nroots; r++)
		for (uint32_t k = t->soff[r]; k < t->soff[r + 1]; k++)
			if (t->scol[k] == id)
				return (int)r - 1;
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

__attribute__((no_sanitize("address", "thread"))) static int find_global_word(struct dl_phdr_info *info, size_t size,
										 void *arg)
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
