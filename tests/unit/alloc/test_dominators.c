/* Dominators: gh__dom_compute on hand-made graphs with hand-computed
 * dominator trees (cycles, two roots, diamonds, self loops), checked again
 * against a brute-force definition (d dominates v when v is unreachable
 * from the super-root with d removed) on random graphs; then whole passes
 * (gh__dom_run) over real typed objects: interior pointers as edges,
 * collectable garbage left alone, registered and global roots named. */
#include "internal.h"
#include "dominators.h"
#include "mark_test.h"
#include "test.h"

#include <stdlib.h>
#include <sys/mman.h>

/* ---- Made-up graphs ------------------------------------------------------------------------- */

#define MAXN 64
#define MAXE 512

/* objects 0..n-1 at granules 3*i+1 (sparse, not starting at 0); roots 0..r-1 */
struct mk {
	int n, r;
	uint64_t size[MAXN];
	int ne;
	int src[MAXE], dst[MAXE]; /* src < 0: root -src-1 */
};

static uint32_t gran_of(int i)
{
	return (uint32_t)(3 * i + 1);
}

static struct gh_dom_tree T;
static uint32_t LOG[2 * MAXE + 2 * MAXN + 64];
/* the node records are released by the computation (MADV_DONTNEED): their own pages */
static struct gh_dom_node_rec *NODES;
static uint64_t REACH[8];

/* Builds the graph's logs (blocks in a scrambled order, as a mark's stack
 * would write them) and computes. */
static int compute(struct mk *m)
{
	if (!NODES)
		NODES = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(REACH, 0, sizeof REACH);
	size_t nl = 0;
	/* roots first (one root in two blocks when it has edges), then objects from last to first */
	for (int half = 0; half < 2; half++)
		for (int r = 0; r < m->r; r++) {
			bool open = false;
			int k = 0;
			for (int e = 0; e < m->ne; e++)
				if (m->src[e] == -r - 1 && (k++ % 2) == half) {
					if (!open)
						LOG[nl++] = GH_DOM_ROOT | (uint32_t)r;
					open = true;
					LOG[nl++] = gran_of(m->dst[e]);
				}
		}
	for (int i = m->n - 1; i >= 0; i--) {
		bool open = false;
		for (int e = 0; e < m->ne; e++)
			if (m->src[e] == i) {
				if (!open)
					LOG[nl++] = GH_DOM_OBJ | gran_of(i);
				open = true;
				LOG[nl++] = gran_of(m->dst[e]);
			}
	}
	for (int i = 0; i < m->n; i++) {
		NODES[m->n - 1 - i] = (struct gh_dom_node_rec){gran_of(i), (uint32_t)i + 100, GH_DOM_TSZ(10 + i, m->size[i])};
		REACH[gran_of(i) >> 6] |= UINT64_C(1) << (gran_of(i) & 63);
	}
	struct gh_dom_graph g = {LOG, nl, NODES, (size_t)m->n, REACH, 8, (size_t)m->r, 0x100000};
	size_t need = 0;
	return gh__dom_compute(&g, (size_t)1 << 30, &T, &need);
}

/* node id of object i, of root r */
static uint32_t O(int i)
{
	return gh__dom_node_of(&T, gran_of(i));
}
static uint32_t Rt(int r)
{
	return (uint32_t)r + 1;
}

static void edge(struct mk *m, int s, int d)
{
	m->src[m->ne] = s;
	m->dst[m->ne++] = d;
}
#define ROOT(r) (-(r)-1)

/* Several edges at once: EDGES(&m, {src, dst}, ...). */
static void edges(struct mk *m, const int (*e)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		edge(m, e[i][0], e[i][1]);
}
#define EDGES(m, ...) \
	edges((m), (const int[][2]){__VA_ARGS__}, sizeof((const int[][2]){__VA_ARGS__}) / sizeof(int[2]))

TEST(ids_and_addresses)
{
	struct mk m = {.n = 3, .r = 1};
	for (int i = 0; i < 3; i++)
		m.size[i] = 8;
	edge(&m, ROOT(0), 2);
	ASSERT_EQ(compute(&m), 0);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(O(i), 2u + (uint32_t)i); /* address order after the super-root and the root */
		EXPECT_EQ(gh__dom_address_of(&T, O(i)), 0x100000u + 16u * gran_of(i));
	}
	EXPECT_EQ(gh__dom_site(&T, O(1)), 101u);
	EXPECT_EQ(GH_DOM_TYPE(gh__dom_tsz(&T, O(2))), 12u);
	/* objects 0 and 1 are recorded but no edge reaches them */
	EXPECT_EQ(gh__dom_idom(&T, O(0)), UINT32_MAX);
	EXPECT_EQ(gh__dom_idom(&T, O(2)), Rt(0));
	EXPECT_EQ(gh__dom_retained(&T, 0), 8u);
	gh__dom_tree_release(&T);
}

/*
 *   root0 -> A -> B -> C -> A (cycle), C -> D, B -> B (self loop)
 *   idom: A=root0, B=A, C=B, D=C; A retains all four
 */
TEST(cycle)
{
	struct mk m = {.n = 4, .r = 1, .size = {100, 20, 3, 4000}};
	EDGES(&m, {ROOT(0), 0}, {0, 1}, {1, 2}, {2, 0}, {2, 3}, {1, 1});
	ASSERT_EQ(compute(&m), 0);
	EXPECT_EQ(gh__dom_idom(&T, O(0)), Rt(0));
	EXPECT_EQ(gh__dom_idom(&T, O(1)), O(0));
	EXPECT_EQ(gh__dom_idom(&T, O(2)), O(1));
	EXPECT_EQ(gh__dom_idom(&T, O(3)), O(2));
	EXPECT_EQ(gh__dom_retained(&T, O(0)), 4123u);
	EXPECT_EQ(gh__dom_retained_n(&T, O(0)), 4u);
	EXPECT_EQ(gh__dom_retained(&T, O(2)), 4003u);
	EXPECT_EQ(gh__dom_retained(&T, Rt(0)), 4123u);
	EXPECT_EQ(gh__dom_retained(&T, 0), 4123u);
	EXPECT_EQ(T.edges, 6u);
	gh__dom_tree_release(&T);
}

/*
 *   root0 -> X, root1 -> X          X: idom super-root
 *   root0 -> Y -> Z, root1 -> Z     Z: idom super-root; Y retains itself only
 *   root1 -> W -> V                 V: idom W, W: idom root1
 */
TEST(two_roots)
{
	struct mk m = {.n = 5, .r = 2, .size = {10, 20, 30, 40, 50}};
	int X = 0, Y = 1, Z = 2, W = 3, V = 4;
	EDGES(&m, {ROOT(0), X}, {ROOT(1), X}, {ROOT(0), Y}, {Y, Z}, {ROOT(1), Z}, {ROOT(1), W}, {W, V});
	ASSERT_EQ(compute(&m), 0);
	EXPECT_EQ(gh__dom_idom(&T, O(X)), 0u);
	EXPECT_EQ(gh__dom_idom(&T, O(Z)), 0u);
	EXPECT_EQ(gh__dom_idom(&T, O(Y)), Rt(0));
	EXPECT_EQ(gh__dom_retained(&T, O(Y)), 20u);
	EXPECT_EQ(gh__dom_retained_n(&T, O(Y)), 1u);
	EXPECT_EQ(gh__dom_idom(&T, O(W)), Rt(1));
	EXPECT_EQ(gh__dom_idom(&T, O(V)), O(W));
	EXPECT_EQ(gh__dom_retained(&T, O(W)), 90u);
	EXPECT_EQ(gh__dom_retained(&T, Rt(1)), 90u);
	EXPECT_EQ(gh__dom_retained(&T, Rt(0)), 20u);
	EXPECT_EQ(gh__dom_retained(&T, 0), 150u);
	EXPECT_EQ(gh__dom_retained_n(&T, 0), 5u);
	gh__dom_tree_release(&T);
}

/*
 *   root0 -> A; A -> B, A -> C; B -> D, C -> D; D -> E; C -> E
 *   idom: B=A, C=A, D=A, E=A
 */
TEST(diamond)
{
	struct mk m = {.n = 5, .r = 1, .size = {1, 2, 4, 8, 16}};
	EDGES(&m, {ROOT(0), 0}, {0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {2, 4});
	ASSERT_EQ(compute(&m), 0);
	for (int i = 1; i < 5; i++)
		EXPECT_EQ(gh__dom_idom(&T, O(i)), O(0));
	EXPECT_EQ(gh__dom_retained(&T, O(0)), 31u);
	EXPECT_EQ(gh__dom_retained(&T, O(3)), 8u);
	gh__dom_tree_release(&T);
}

/* Brute force: d (an object) dominates v when v is not reachable from the
 * super-root with d removed. idom: the dominator that every other strict
 * dominator dominates. */
static bool reach_without(struct mk *m, int removed, bool *seen)
{
	int stack[MAXN], sp = 0;
	memset(seen, 0, sizeof(bool) * MAXN);
	for (int e = 0; e < m->ne; e++)
		if (m->src[e] < 0 && m->dst[e] != removed && !seen[m->dst[e]]) {
			seen[m->dst[e]] = true;
			stack[sp++] = m->dst[e];
		}
	while (sp) {
		int x = stack[--sp];
		for (int e = 0; e < m->ne; e++)
			if (m->src[e] == x && m->dst[e] != removed && !seen[m->dst[e]]) {
				seen[m->dst[e]] = true;
				stack[sp++] = m->dst[e];
			}
	}
	return true;
}

/* What the roots other than `except` reach. */
static void reach_roots_except(struct mk *m, int except, bool *seen)
{
	int stack[MAXN], sp = 0;
	memset(seen, 0, sizeof(bool) * MAXN);
	for (int e = 0; e < m->ne; e++)
		if (m->src[e] < 0 && m->src[e] != ROOT(except) && !seen[m->dst[e]]) {
			seen[m->dst[e]] = true;
			stack[sp++] = m->dst[e];
		}
	while (sp) {
		int x = stack[--sp];
		for (int e = 0; e < m->ne; e++)
			if (m->src[e] == x && !seen[m->dst[e]]) {
				seen[m->dst[e]] = true;
				stack[sp++] = m->dst[e];
			}
	}
}

TEST(random_graphs_match_brute_force)
{
	srand(1234);
	for (int round = 0; round < 300; round++) {
		struct mk m = {.n = 1 + rand() % 40, .r = 1 + rand() % 3};
		for (int i = 0; i < m.n; i++)
			m.size[i] = 1 + (uint64_t)(rand() % 1000);
		int ne = rand() % (3 * m.n + 2);
		for (int e = 0; e < ne && m.ne < MAXE; e++) {
			int s = rand() % (m.n + m.r);
			edge(&m, s >= m.n ? ROOT(s - m.n) : s, rand() % m.n);
		}
		ASSERT_EQ(compute(&m), 0);
		bool all[MAXN], without[MAXN][MAXN];
		reach_without(&m, -1, all);
		for (int d = 0; d < m.n; d++)
			reach_without(&m, d, without[d]);
		for (int v = 0; v < m.n; v++) {
			if (!all[v]) {
				EXPECT_EQ(gh__dom_idom(&T, O(v)), UINT32_MAX);
				continue;
			}
			/* strict object dominators of v */
			int idom = -1;
			for (int d = 0; d < m.n; d++) {
				if (d == v || !all[d] || without[d][v])
					continue;
				/* the closest: every other dominator of v dominates d */
				bool closest = true;
				for (int d2 = 0; d2 < m.n; d2++)
					if (d2 != v && d2 != d && all[d2] && !without[d2][v] && without[d2][d])
						closest = false;
				if (closest)
					idom = d;
			}
			uint32_t got = gh__dom_idom(&T, O(v));
			if (idom >= 0) {
				EXPECT_EQ(got, O(idom));
			} else {
				/* a root or the super-root: root r when no other root reaches v */
				int only = -1;
				for (int r = 0; r < m.r; r++) {
					bool other[MAXN];
					reach_roots_except(&m, r, other);
					if (!other[v])
						only = r;
				}
				EXPECT_EQ(got, only >= 0 ? Rt(only) : 0u);
			}
			/* retained = sum of sizes of the objects it dominates, itself included */
			uint64_t sum = m.size[v];
			uint32_t cnt = 1;
			for (int w = 0; w < m.n; w++)
				if (w != v && all[w] && without[v][w] == false) {
					sum += m.size[w];
					cnt++;
				}
			EXPECT_EQ(gh__dom_retained(&T, O(v)), sum);
			EXPECT_EQ(gh__dom_retained_n(&T, O(v)), cnt);
		}
		gh__dom_tree_release(&T);
		if (gh_test_failed_now) {
			fprintf(stderr, "  round %d: n=%d r=%d ne=%d\n", round, m.n, m.r, m.ne);
			return;
		}
	}
}

/*
 * A circular doubly linked list (an anchor pointing at the first and the
 * last node, each node at its neighbours): the anchor dominates every
 * node, and no node another. The iterative algorithm needed a round per
 * node here (bench/dom_list.c); this checks the answer on a long one.
 */
TEST(circular_list)
{
	enum { LN = 20000 };
	static uint32_t llog[4 * LN + 16];
	struct gh_dom_node_rec *recs = mmap(NULL, 16 * (LN + 2), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					    -1, 0);
	static uint64_t reach[(2 * LN + 8) / 64 + 1];
	memset(reach, 0, sizeof reach);
#define LG(i) ((uint32_t)(2 * (i) + 1))
	size_t nl2 = 0, n2 = 0;
	llog[nl2++] = GH_DOM_ROOT | 0;
	llog[nl2++] = LG(0);
	recs[n2++] = (struct gh_dom_node_rec){LG(0), 0, GH_DOM_TSZ(5, 16)};
	llog[nl2++] = GH_DOM_OBJ | LG(0);
	llog[nl2++] = LG(1);
	llog[nl2++] = LG(LN);
	for (size_t i = LN; i >= 1; i--) { /* the mark goes down the prev pointers */
		recs[n2++] = (struct gh_dom_node_rec){LG(i), 0, GH_DOM_TSZ(6, 8 + i % 3)};
		llog[nl2++] = GH_DOM_OBJ | LG(i);
		llog[nl2++] = LG(i == LN ? 0 : i + 1);
		llog[nl2++] = LG(i - 1);
	}
	uint64_t total = 16;
	for (size_t i = 0; i <= LN; i++) {
		reach[LG(i) >> 6] |= UINT64_C(1) << (LG(i) & 63);
		total += i ? 8 + i % 3 : 0;
	}
	struct gh_dom_graph g = {llog, nl2, recs, n2, reach, sizeof reach / 8, 1, 0};
	size_t need = 0;
	ASSERT_EQ(gh__dom_compute(&g, (size_t)1 << 30, &T, &need), 0);
	uint32_t anchor = gh__dom_node_of(&T, LG(0));
	EXPECT_EQ(gh__dom_idom(&T, anchor), 1u);
	EXPECT_EQ(gh__dom_retained(&T, anchor), total);
	EXPECT_EQ(gh__dom_retained_n(&T, anchor), (uint32_t)LN + 1);
	size_t wrong = 0;
	for (size_t i = 1; i <= LN; i++) {
		uint32_t x = gh__dom_node_of(&T, LG(i));
		wrong += gh__dom_idom(&T, x) != anchor || gh__dom_retained_n(&T, x) != 1;
	}
	EXPECT_EQ(wrong, 0u);
	gh__dom_tree_release(&T);
	munmap(recs, 16 * (LN + 2));
#undef LG
}

/*
 * Random graphs up to a few hundred thousand nodes against a reference:
 * Cooper-Harvey-Kennedy's iterative algorithm (slow on long circular
 * lists, exact anywhere), retained sizes summed over its tree. The logs
 * are written the way a mark may write them and worse: records in a random
 * order, sources' edges split into several blocks scattered through the
 * log, duplicates, self loops, cycles, several roots, lists,
 * and records that do not fit the packed 8 bytes (a size of 2^28 or more,
 * a site of 2^21 or more).
 */
struct rg {
	uint32_t n, r, e;          /* objects, roots, edges */
	uint32_t *src, *dst;       /* node ids (0 never: roots 1..r, objects r+1..) */
	uint64_t *tsz;
	uint32_t *site;
};

static uint64_t rg_state;
static uint32_t rg_rand(uint32_t below)
{
	rg_state ^= rg_state << 13;
	rg_state ^= rg_state >> 7;
	rg_state ^= rg_state << 17;
	return (uint32_t)(rg_state % below);
}

/* Reference idom by node id (UINT32_MAX: unreached), retained bytes and objects. */
static void chk_reference(const struct rg *g, uint32_t *idom, uint64_t *rb, uint64_t *rn)
{
	uint32_t M = 1 + g->r + g->n;
	uint32_t *soff = calloc(M + 1, 4), *scol = malloc(4 * ((size_t)g->e + g->r + 1));
	uint32_t *poff = calloc(M + 1, 4), *pcol = malloc(4 * ((size_t)g->e + g->r + 1));
	uint32_t *po = malloc(4 * M), *rpo = malloc(4 * M), *stk = malloc(8 * (size_t)M), *cur = malloc(4 * M);
	for (uint32_t k = 0; k < g->e; k++)
		soff[g->src[k]]++, poff[g->dst[k]]++;
	for (uint32_t r = 1; r <= g->r; r++)
		soff[0]++, poff[r]++;
	for (uint32_t x = 0, a = 0, b = 0; x < M; x++) {
		uint32_t c = soff[x], d = poff[x];
		soff[x] = a, poff[x] = b;
		a += c, b += d;
	}
	soff[M] = soff[M - 1], poff[M] = poff[M - 1];
	memcpy(cur, soff, 4 * M);
	uint32_t *pcur = malloc(4 * M);
	memcpy(pcur, poff, 4 * M);
	for (uint32_t r = 1; r <= g->r; r++)
		scol[cur[0]++] = r, pcol[pcur[r]++] = 0;
	for (uint32_t k = 0; k < g->e; k++)
		scol[cur[g->src[k]]++] = g->dst[k], pcol[pcur[g->dst[k]]++] = g->src[k];
	for (uint32_t x = 0; x < M; x++)
		soff[x + 1] = cur[x], poff[x + 1] = pcur[x]; /* ends */
	/* the starts again: cur holds the ends, the starts are the previous ends */
	for (uint32_t x = M; x-- > 1;)
		soff[x] = cur[x - 1], poff[x] = pcur[x - 1];
	soff[0] = poff[0] = 0;
	/* postorder by an iterative DFS */
	for (uint32_t x = 0; x < M; x++)
		po[x] = UINT32_MAX, cur[x] = soff[x];
	uint32_t sp = 0, np = 0;
	bool *seen = calloc(M, 1);
	stk[sp++] = 0;
	seen[0] = true;
	while (sp) {
		uint32_t x = stk[sp - 1];
		if (cur[x] < soff[x + 1]) {
			uint32_t y = scol[cur[x]++];
			if (!seen[y]) {
				seen[y] = true;
				stk[sp++] = y;
			}
			continue;
		}
		sp--;
		po[x] = np;
		rpo[np++] = x;
	}
	for (uint32_t x = 0; x < M; x++)
		idom[x] = UINT32_MAX;
	idom[0] = 0;
	for (bool changed = true; changed;) {
		changed = false;
		for (uint32_t i = np - 1; i-- > 0;) { /* reverse postorder, the super-root (last) left out */
			uint32_t b = rpo[i], nw = UINT32_MAX;
			for (uint32_t k = poff[b]; k < poff[b + 1]; k++) {
				uint32_t p = pcol[k];
				if (idom[p] == UINT32_MAX)
					continue;
				if (nw == UINT32_MAX) {
					nw = p;
					continue;
				}
				uint32_t a = p, c = nw;
				while (a != c) {
					while (po[a] < po[c])
						a = idom[a];
					while (po[c] < po[a])
						c = idom[c];
				}
				nw = a;
			}
			if (idom[b] != nw) {
				idom[b] = nw;
				changed = true;
			}
		}
	}
	for (uint32_t x = 0; x < M; x++) {
		rb[x] = GH_DOM_SIZE(x > g->r ? g->tsz[x - 1 - g->r] : 0);
		rn[x] = x > g->r;
	}
	for (uint32_t i = 0; i + 1 < np; i++) { /* postorder: what a node dominates comes first */
		uint32_t x = rpo[i];
		rb[idom[x]] += rb[x];
		rn[idom[x]] += rn[x];
	}
	free(soff), free(scol), free(poff), free(pcol), free(po), free(rpo), free(stk), free(cur), free(pcur), free(seen);
}

static void rg_check(struct rg *g, int round)
{
	uint32_t R = g->r, N = g->n, M = 1 + R + N;
	/* blocks: each source's edges cut into pieces (a cut before an edge one time in four), shuffled */
	uint32_t *cut = malloc(4 * ((size_t)g->e + 1));
	/* edges grouped by source (a stable counting sort), then cut */
	uint32_t *cnt = calloc(M + 1, 4), *grouped = malloc(4 * ((size_t)g->e + 1));
	for (uint32_t k = 0; k < g->e; k++)
		cnt[g->src[k] + 1]++;
	for (uint32_t x = 0; x < M; x++)
		cnt[x + 1] += cnt[x];
	for (uint32_t k = 0; k < g->e; k++)
		grouped[cnt[g->src[k]]++] = k;
	uint32_t nb = 0; /* piece starts in grouped[] */
	for (uint32_t k = 0; k < g->e; k++)
		if (k == 0 || g->src[grouped[k]] != g->src[grouped[k - 1]] || rg_rand(4) == 0)
			cut[nb++] = k;
	for (uint32_t i = nb; i > 1; i--) { /* shuffle the pieces */
		uint32_t j = rg_rand(i), t = cut[i - 1];
		cut[i - 1] = cut[j];
		cut[j] = t;
	}
	size_t cap = (size_t)g->e + nb + 8;
	uint32_t *log = mmap(NULL, 4 * cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t nl = 0;
	/* each piece runs to the next cut or to its source's end */
	bool *is_cut = calloc((size_t)g->e + 1, 1);
	for (uint32_t b = 0; b < nb; b++)
		is_cut[cut[b]] = true;
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t k = cut[b], s = g->src[grouped[k]];
		log[nl++] = s <= R ? GH_DOM_ROOT | (s - 1) : GH_DOM_OBJ | (2 * (s - 1 - R) + 1);
		do
			log[nl++] = 2 * (g->dst[grouped[k++]] - 1 - R) + 1;
		while (k < g->e && !is_cut[k]);
	}
	/* records in a random order */
	struct gh_dom_node_rec *recs = mmap(NULL, 16 * ((size_t)N + 1), PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t words = (2 * (size_t)N + 2) / 64 + 1;
	uint64_t *reach = calloc(words, 8);
	for (uint32_t i = 0; i < N; i++) {
		recs[i] = (struct gh_dom_node_rec){2 * i + 1, g->site[i], g->tsz[i]};
		reach[(2 * i + 1) >> 6] |= UINT64_C(1) << ((2 * i + 1) & 63);
	}
	for (uint32_t i = N; i > 1; i--) {
		uint32_t j = rg_rand(i);
		struct gh_dom_node_rec t = recs[i - 1];
		recs[i - 1] = recs[j];
		recs[j] = t;
	}
	uint32_t *idom = malloc(4 * (size_t)M);
	uint64_t *rb = malloc(8 * (size_t)M), *rn = malloc(8 * (size_t)M);
	chk_reference(g, idom, rb, rn);
	struct gh_dom_graph dg = {log, nl, recs, N, reach, words, R, 0x100000};
	size_t need = 0;
	ASSERT_EQ(gh__dom_compute(&dg, (size_t)1 << 34, &T, &need), 0);
	size_t wrong = 0, first_wrong = SIZE_MAX;
	for (uint32_t x = 0; x < M; x++) {
		bool ok = gh__dom_idom(&T, x) == idom[x];
		if (idom[x] != UINT32_MAX)
			ok = ok && gh__dom_retained(&T, x) == rb[x] && gh__dom_retained_n(&T, x) == rn[x];
		if (x > R)
			ok = ok && gh__dom_tsz(&T, x) == g->tsz[x - 1 - R] && gh__dom_site(&T, x) == g->site[x - 1 - R];
		if (!ok && first_wrong == SIZE_MAX)
			first_wrong = x;
		wrong += !ok;
	}
	EXPECT_EQ(wrong, 0u);
	EXPECT_EQ(T.edges, (size_t)g->e);
	EXPECT_GT(T.work_bytes, 0u);
	if (wrong)
		fprintf(stderr, "  round %d: n=%u r=%u e=%u, first wrong node %zu: idom %u want %u\n", round, N, R, g->e,
			first_wrong, gh__dom_idom(&T, (uint32_t)first_wrong), idom[first_wrong]);
	gh__dom_tree_release(&T);
	munmap(log, 4 * cap);
	munmap(recs, 16 * ((size_t)N + 1));
	free(cut), free(cnt), free(grouped), free(is_cut), free(reach), free(idom), free(rb), free(rn);
}

/* n objects, r roots; edges: random ones (avg. deg each), circular doubly
 * linked lists of up to list_max, chains, self loops, duplicates. */
static void rg_round(int round, uint32_t n, uint32_t r, uint32_t deg, uint32_t list_max)
{
	struct rg g = {.n = n, .r = r};
	size_t cap = (size_t)n * (deg + 3) + 64;
	g.src = malloc(4 * cap);
	g.dst = malloc(4 * cap);
	g.tsz = malloc(8 * (size_t)n);
	g.site = malloc(4 * (size_t)n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t size = 1 + rg_rand(1000);
		uint32_t site = 1 + rg_rand(50);
		if (rg_rand(5000) == 0)
			size = (UINT64_C(1) << 28) + rg_rand(100); /* does not fit 28 bits */
		if (rg_rand(5000) == 0)
			site = (UINT32_C(1) << 21) + rg_rand(100);
		g.tsz[i] = GH_DOM_TSZ(1 + rg_rand(20), size);
		g.site[i] = site;
	}
#define OBJ(i) (1 + r + (i))
#define ADD(s, d) (g.src[g.e] = (s), g.dst[g.e] = (d), g.e++)
	for (uint32_t k = 0; k < r; k++) /* each root holds a few objects */
		for (uint32_t j = 0, c = 1 + rg_rand(4); j < c; j++)
			ADD(1 + k, OBJ(rg_rand(n)));
	uint32_t i = 0;
	while (i < n) {
		uint32_t kind = rg_rand(3), len = 1 + rg_rand(list_max);
		if (i + len > n)
			len = n - i;
		if (kind == 0 && len >= 2) { /* a circular doubly linked list, its anchor at i */
			for (uint32_t j = 1; j < len; j++) {
				uint32_t next = j + 1 < len ? i + j + 1 : i, prev = j > 1 ? i + j - 1 : i;
				ADD(OBJ(i + j), OBJ(next));
				ADD(OBJ(i + j), OBJ(prev));
			}
			ADD(OBJ(i), OBJ(i + 1));
			ADD(OBJ(i), OBJ(i + len - 1));
		} else if (kind == 1) { /* a chain */
			for (uint32_t j = 0; j + 1 < len; j++)
				ADD(OBJ(i + j), OBJ(i + j + 1));
		}
		/* random edges out of every object of the piece (to anywhere: cycles across pieces) */
		for (uint32_t j = 0; j < len; j++)
			for (uint32_t k = 0, c = rg_rand(deg + 1); k < c && g.e < cap - 4; k++)
				ADD(OBJ(i + j), OBJ(rg_rand(n)));
		if (rg_rand(7) == 0)
			ADD(OBJ(i), OBJ(i)); /* a self loop */
		if (rg_rand(7) == 0 && g.e > 0) { /* a duplicate */
			uint32_t ds = g.src[g.e - 1], dd = g.dst[g.e - 1];
			ADD(ds, dd);
		}
		i += len;
	}
#undef ADD
#undef OBJ
	rg_check(&g, round);
	free(g.src), free(g.dst), free(g.tsz), free(g.site);
}

TEST(random_graphs_match_iterative_reference)
{
	rg_state = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 40 && !gh_test_failed_now; round++)
		rg_round(round, 50 + rg_rand(3000), 1 + rg_rand(5), 1 + rg_rand(3), 1 + rg_rand(300));
	/* sparse: much unreached; dense: short paths */
	rg_round(100, 5000, 3, 0, 20);
	rg_round(101, 3000, 2, 8, 5);
	/* a few hundred thousand nodes (lists short: the reference needs a round per step of one) */
	rg_round(102, 300000, 4, 2, 40);
}

TEST(budget_and_bad_logs)
{
	struct mk m = {.n = 2, .r = 1, .size = {1, 2}};
	edge(&m, ROOT(0), 0);
	edge(&m, 0, 1);
	ASSERT_EQ(compute(&m), 0);
	gh__dom_tree_release(&T);
	struct gh_dom_graph g = {LOG, 4, NODES, 2, REACH, 8, 1, 0};
	size_t need = 0;
	EXPECT_EQ(gh__dom_compute(&g, 100, &T, &need), ENOMEM);
	EXPECT_EQ(need, gh__dom_need(2, 1, 4, 8));
	/* an edge to a granule that is no object */
	uint32_t bad[3] = {GH_DOM_ROOT | 0, 5000, 0};
	struct gh_dom_node_rec *nodes = NODES;
	nodes[0] = (struct gh_dom_node_rec){gran_of(0), 0, 8};
	uint64_t reach[8] = {UINT64_C(1) << gran_of(0)};
	struct gh_dom_graph g2 = {bad, 2, nodes, 1, reach, 8, 1, 0};
	EXPECT_EQ(gh__dom_compute(&g2, (size_t)1 << 30, &T, &need), EINVAL);
	/* a root index past the roots */
	uint32_t bad2[2] = {GH_DOM_ROOT | 7, gran_of(0)};
	nodes[0] = (struct gh_dom_node_rec){gran_of(0), 0, 8};
	struct gh_dom_graph g3 = {bad2, 2, nodes, 1, reach, 8, 1, 0};
	EXPECT_EQ(gh__dom_compute(&g3, (size_t)1 << 30, &T, &need), EINVAL);
}

/* ---- Whole passes over real objects ----------------------------------------------------------- */

struct obj {
	struct obj *a, *b;
	char pad[32];
};

static struct obj *new_obj(gh_type_t t)
{
	struct obj *o = gh_calloc_typed(t, 1, sizeof *o);
	escape(o);
	return o;
}

static void *volatile g_holder;      /* D.Holder -> (interior) D.Inner */
static void *g_region;               /* registered root -> D.Reg -> D.RegChild x3 */

static __attribute__((noinline)) void build(void)
{
	size_t offs[2] = {0, 8};
	gh_type_desc_t d = {.ptr_offsets = offs, .n_ptr_offsets = 2};
	gh_type_t holder = gh_type_register("D.Holder", &d), inner = gh_type_register("D.Inner", &d);
	gh_type_t reg = gh_type_register("D.Reg", &d), child = gh_type_register("D.RegChild", &d);
	gh_type_desc_t col = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t garbage = gh_type_register("D.Collectable", &col);
	struct obj *h = new_obj(holder);
	struct obj *in = new_obj(inner);
	h->a = (struct obj *)((char *)in + 24); /* interior pointer: an edge like any other */
	in->a = new_obj(inner);
	g_holder = h;
	g_region = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct obj *r = new_obj(reg);
	r->a = new_obj(child);
	r->b = new_obj(child);
	r->a->a = new_obj(child);
	((void **)g_region)[3] = r;
	gh_root_add(g_region, 4096, "dom-region");
	for (int i = 0; i < 4; i++)
		escape(gh_malloc_typed(garbage, 64));
}

static const struct gh_dom_row *row_of(const struct gh_dom_result *r, const char *type)
{
	gh_type_t t = gh_type_find(type);
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].type == t)
			return &r->rows[i];
	return NULL;
}

static const struct gh_dom_type_row *type_of(const struct gh_dom_result *r, const char *type)
{
	gh_type_t t = gh_type_find(type);
	for (size_t i = 0; i < r->ntypes; i++)
		if (r->types[i].type == t)
			return &r->types[i];
	return NULL;
}

TEST(pass_over_real_objects)
{
	build();
	clobber_stack();
	gh_type_stats_t before;
	ASSERT_EQ(gh_type_stats(gh_type_find("D.Collectable"), &before), 0);
	struct gh_dom_query q = {.type = GH_TYPE_NONE, .min_bytes = 0, .max_rows = 1000};
	struct gh_dom_result *r = NULL;
	pid_t bad = 0;
	size_t need = 0;
	uint64_t objs = 0;
	ASSERT_EQ(gh__dom_run(&q, &r, &bad, &need, &objs), 0);
	const struct gh_dom_row *h = row_of(r, "D.Holder");
	ASSERT_TRUE(h != NULL);
	EXPECT_EQ(h->self_bytes, sizeof(struct obj));
	EXPECT_EQ(h->retained_objects, 3u); /* itself, the inner object through its interior pointer, and its child */
	EXPECT_EQ(h->retained_bytes, 3 * sizeof(struct obj));
	EXPECT_EQ(GH_DOM_HIDE(h->address_hidden), (uintptr_t)g_holder);
	EXPECT_EQ(h->npath, 1u);
	EXPECT_EQ(h->path_type[0], gh_type_find("D.Holder"));
	EXPECT_TRUE(strstr(h->root_label, "global:") == h->root_label);
	EXPECT_TRUE(strstr(h->root_label, "g_holder") != NULL);
	const struct gh_dom_row *rg = row_of(r, "D.Reg");
	ASSERT_TRUE(rg != NULL);
	EXPECT_EQ(rg->retained_objects, 4u);
	EXPECT_EQ(rg->retained_bytes, 4 * sizeof(struct obj));
	EXPECT_STREQ(rg->root_label, "root:dom-region");
	/* by_type: D.Inner's two objects count once, under the holder's dominance (the
	 * inner child is dominated by an object of its own type) */
	const struct gh_dom_type_row *ti = type_of(r, "D.Inner");
	ASSERT_TRUE(ti != NULL);
	EXPECT_EQ(ti->bytes, 2 * sizeof(struct obj));
	EXPECT_EQ(ti->objects, 2u);
	const struct gh_dom_type_row *tc = type_of(r, "D.RegChild");
	ASSERT_TRUE(tc != NULL);
	EXPECT_EQ(tc->bytes, 3 * sizeof(struct obj));
	/* the garbage is in no tree (unreachable) and the pass frees nothing */
	EXPECT_TRUE(row_of(r, "D.Collectable") == NULL);
	gh_type_stats_t after;
	ASSERT_EQ(gh_type_stats(gh_type_find("D.Collectable"), &after), 0);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(before.live_count, 4u);
	EXPECT_GT(r->work_bytes, 0u);
	EXPECT_GE(r->objects, 7u);
	/* a type filter and a floor */
	gh__dom_result_free(r);
	q.type = gh_type_find("D.RegChild");
	q.min_bytes = 2 * sizeof(struct obj);
	ASSERT_EQ(gh__dom_run(&q, &r, &bad, &need, &objs), 0);
	ASSERT_EQ(r->nrows, 1u); /* the child holding another child */
	EXPECT_EQ(r->rows[0].retained_objects, 2u);
	EXPECT_EQ(r->rows[0].npath, 2u);
	EXPECT_EQ(r->rows[0].path_type[0], gh_type_find("D.Reg"));
	gh__dom_result_free(r);
	gh_root_remove(g_region);
}

TEST(budget_too_small_is_refused)
{
	setenv("GLASSHEAP_DOMINATORS_BUDGET", "1M", 1);
	void *keep[40000];
	gh_type_t t = gh_type_register("D.Many", NULL);
	for (int i = 0; i < 40000; i++)
		keep[i] = gh_malloc_typed(t, 16); /* in the cage whatever the process's malloc */
	escape(keep);
	struct gh_dom_query q = {.max_rows = 10};
	struct gh_dom_result *r = NULL;
	size_t need = 0;
	uint64_t objs = 0;
	EXPECT_EQ(gh__dom_run(&q, &r, NULL, &need, &objs), EFBIG);
	EXPECT_GT(need, (size_t)1 << 20); /* the whole graph's need, counted past the budget */
	EXPECT_GE(objs, 40000u);
	EXPECT_TRUE(r == NULL);
	for (int i = 0; i < 40000; i++)
		gh_free(keep[i]);
	unsetenv("GLASSHEAP_DOMINATORS_BUDGET");
}

int main(void)
{
	return RUN_TESTS();
}
