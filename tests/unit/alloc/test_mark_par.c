/* Parallel marking (mark.c, par): pass 1 with helper threads gives exactly
 * the serial answer -- every class, type, heuristic and site count, the
 * objects collected -- on random graphs that mix wide and deep shapes,
 * interior pointers, valgrind's heuristic shapes (reached only through the
 * deferral), leaked cycles and collectable garbage; and the helpers did
 * scan part of the heap (helper_objects). */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "test_util.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(GH_TEST_TSAN)
/* test_mark_par_tsan: the core under TSan, beside TSan's malloc; its
 * background thread is left out of the stops (tests/reliability). */
#include "tsan_thread.h"
#endif

#define MAGIC UINT64_C(0x6d61726b70617221)

struct pnode {
	uint64_t magic;
	struct pnode *a, *b;
	void *c; /* a start pointer, an interior one, or a heuristic shape's inner pointer */
};

/* splitmix64: the graphs are the same on every run */
static uint64_t rng;
static uint64_t next_rand(void)
{
	uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void *volatile g_roots[5];
static gh_type_t t_node, t_wide, t_deep, t_len, t_arr, t_col, t_leak;

static struct pnode *pnode(gh_type_t t)
{
	struct pnode *n = gh_calloc_typed(t, 1, sizeof *n);
	n->magic = MAGIC;
	escape(n);
	return n;
}

/* A length64 shape (valgrind's): the length first, the program's pointer at
 * +8; reached only that way, so pass 1 marks it by the heuristic. Holds a
 * start pointer on to a node of its own, so that marking goes on from it. */
static void *len_shape(struct pnode *child)
{
	size_t size = 8 + 3 * sizeof(void *);
	uint64_t *q = gh_malloc_typed(t_len, size);
	q[0] = size - 8;
	q[1] = (uint64_t)(uintptr_t)child;
	q[2] = 0;
	q[3] = 0;
	escape(q);
	return (char *)q + 8;
}

/* A new[] shape: the element count first (newarray heuristic). */
static void *arr_shape(struct pnode *child)
{
	uint64_t *q = gh_malloc_typed(t_arr, 8 + 4 * 8);
	q[0] = 4;
	q[1] = (uint64_t)(uintptr_t)child;
	q[2] = q[3] = q[4] = 0;
	escape(q);
	return (char *)q + 8;
}

/* n reachable nodes in three shapes, plus leaks. Every node's c is chosen at
 * random among: nothing, a start pointer, an interior pointer (+8), or a
 * heuristic shape holding the next node (chains of heuristic-only objects,
 * several rounds of the deferral). */
static __attribute__((noinline)) void build(size_t n)
{
	struct pnode **all = malloc(n * sizeof *all);
	for (size_t i = 0; i < n; i++)
		all[i] = pnode(i % 3 == 0 ? t_node : i % 3 == 1 ? t_wide : t_deep);
	/* wide: a table of subtrees */
	size_t nwide = n / 3;
	struct pnode **table = gh_calloc_typed(t_wide, nwide / 4 + 1, sizeof *table);
	for (size_t i = 0; i < nwide / 4; i++)
		table[i] = all[i * 4];
	for (size_t i = 0; i + 3 < nwide; i += 4) {
		all[i]->a = all[i + 1];
		all[i]->b = all[i + 2];
		all[i + 1]->a = all[i + 3];
	}
	/* deep: one long list */
	for (size_t i = nwide; i + 1 < n; i++)
		all[i]->a = all[i + 1];
	/* random extra edges */
	for (size_t i = 0; i < n; i++) {
		struct pnode *to = all[next_rand() % n];
		switch (next_rand() % 8) {
		case 0:
			all[i]->c = to;
			break;
		case 1:
			all[i]->c = (char *)to + 8;
			break;
		case 2:
			all[i]->c = len_shape(pnode(t_node));
			break;
		case 3:
			all[i]->c = arr_shape(pnode(t_node));
			break;
		case 4:
			/* a heuristic shape also pointed at from its start: plainly reachable */
			all[i]->c = len_shape(pnode(t_node));
			all[(i + 1) % n]->b = (void *)((char *)all[i]->c - 8);
			break;
		default:
			break;
		}
	}
	/* a chain of heuristic-only objects, each holding the next's inner pointer */
	struct pnode *h = pnode(t_node);
	g_roots[2] = len_shape(h);
	for (int i = 0; i < 200; i++) {
		struct pnode *m = pnode(t_node);
		h->c = arr_shape(m);
		h = m;
	}
	/* leaks: chains, cycles, collectable garbage, an interior-only leak */
	for (int i = 0; i < 300; i++) {
		struct pnode *x = pnode(i % 2 ? t_leak : t_col), *y = pnode(i % 2 ? t_leak : t_col);
		x->a = y;
		if (i % 3 == 0)
			y->a = x;
	}
	struct pnode *io = pnode(t_leak);
	io->a = pnode(t_leak);
	g_roots[3] = (char *)io + 8;
	/* possibly lost: a table of interior pointers (no heuristic accepts
	 * them: the magic is no length or count), each to a small tree, for
	 * pass 2's parallel rounds */
	size_t npl = 3000;
	void **pl = gh_calloc_typed(t_wide, npl, sizeof *pl);
	for (size_t i = 0; i < npl; i++) {
		struct pnode *p = pnode(t_leak);
		p->a = pnode(t_leak);
		p->b = pnode(t_leak);
		p->a->a = pnode(t_leak);
		pl[i] = (char *)p + 8;
	}
	g_roots[4] = pl;
	g_roots[0] = table;
	g_roots[1] = all[nwide];
	free(all);
}

/* What a pass answered, to compare. */
struct answer {
	uint64_t objects_before, collected;
	struct gh_gc_class_stats cls[GH_LEAK_CLASSES], heur[GH_HEURISTICS];
	struct gh_gc_type_row types[16];
	size_t ntypes;
	uint64_t site_sum[GH_LEAK_CLASSES];
};

static void answer_of(const struct gh_gc_result *r, struct answer *a)
{
	memset(a, 0, sizeof *a);
	a->objects_before = r->objects_before;
	a->collected = r->collected_objects;
	memcpy(a->cls, r->cls, sizeof a->cls);
	memcpy(a->heur, r->heuristic, sizeof a->heur);
	gh_type_t mine[] = {t_node, t_wide, t_deep, t_len, t_arr, t_col, t_leak};
	for (size_t i = 0; i < r->ntypes; i++)
		for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++)
			if (r->types[i].type == mine[k] && a->ntypes < 16)
				a->types[a->ntypes++] = r->types[i];
	for (size_t i = 0; i < r->nsites; i++)
		for (int k = 0; k < GH_LEAK_CLASSES; k++)
			a->site_sum[k] += r->sites[i].count[k];
}

static bool same(const struct answer *x, const struct answer *y, const char *what)
{
	bool ok = true;
	if (x->objects_before != y->objects_before || x->collected != y->collected) {
		fprintf(stderr, "%s: objects %llu/%llu collected %llu/%llu\n", what,
			(unsigned long long)x->objects_before, (unsigned long long)y->objects_before,
			(unsigned long long)x->collected, (unsigned long long)y->collected);
		ok = false;
	}
	for (int k = 0; k < GH_LEAK_CLASSES; k++)
		if (memcmp(&x->cls[k], &y->cls[k], sizeof x->cls[k]) || x->site_sum[k] != y->site_sum[k]) {
			fprintf(stderr, "%s: class %d count %llu/%llu bytes %llu/%llu sites %llu/%llu\n", what, k,
				(unsigned long long)x->cls[k].count, (unsigned long long)y->cls[k].count,
				(unsigned long long)x->cls[k].bytes, (unsigned long long)y->cls[k].bytes,
				(unsigned long long)x->site_sum[k], (unsigned long long)y->site_sum[k]);
			ok = false;
		}
	for (int k = 0; k < GH_HEURISTICS; k++)
		if (memcmp(&x->heur[k], &y->heur[k], sizeof x->heur[k])) {
			fprintf(stderr, "%s: heuristic %d count %llu/%llu\n", what, k,
				(unsigned long long)x->heur[k].count, (unsigned long long)y->heur[k].count);
			ok = false;
		}
	if (x->ntypes != y->ntypes || memcmp(x->types, y->types, x->ntypes * sizeof x->types[0])) {
		fprintf(stderr, "%s: per-type rows differ\n", what);
		ok = false;
	}
	return ok;
}

static struct gh_gc_result *pass(int threads, int flags)
{
	gh__mark_threads(threads);
	clobber_stack();
	struct gh_gc_result *r = NULL;
	int rc = gh__mark_run(flags, &r, NULL);
	if (rc != 0)
		fprintf(stderr, "gh__mark_run: %d\n", rc);
	return r;
}

static void types_once(void)
{
	if (t_node)
		return;
	t_node = gh_type_register("P.Node", NULL);
	t_wide = gh_type_register("P.Wide", NULL);
	t_deep = gh_type_register("P.Deep", NULL);
	t_len = gh_type_register("P.Length64", NULL);
	t_arr = gh_type_register("P.NewArray", NULL);
	gh_type_desc_t col = {.flags = GH_TYPE_COLLECTABLE};
	t_col = gh_type_register("P.Collectable", &col);
	t_leak = gh_type_register("P.Leak", NULL);
}

TEST(parallel_pass_one_equals_the_serial_one)
{
	/* (zeroed before any pass: the stack is a root, and what is left of
	 * earlier calls in these frames would differ from pass to pass) */
	struct answer a1 = {0}, an = {0};
	types_once();
	bool cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	uint64_t helped = 0;
	for (int round = 0; round < 4; round++) {
		build(60000 + (size_t)round * 20000);
		struct gh_gc_result *r1 = pass(1, 0);
		ASSERT_TRUE(r1 != NULL);
		EXPECT_EQ(r1->mark_threads, 1);
		EXPECT_EQ(r1->helper_objects, 0);
		EXPECT_TRUE(r1->heuristic[GH_HEUR_LENGTH64].count > 0);
		EXPECT_TRUE(r1->heuristic[GH_HEUR_NEWARRAY].count >= 200);
		EXPECT_TRUE(r1->cls[GH_DEFINITELY_LOST].count > 0 && r1->cls[GH_INDIRECTLY_LOST].count > 0);
		EXPECT_TRUE(r1->cls[GH_POSSIBLY_LOST].count >= 2 + 4 * 3000);
		/* (a result is heap memory: each is freed before the next pass) */
		answer_of(r1, &a1);
		uint64_t want = 0;
		for (size_t i = 0; i < r1->ntypes; i++)
			if (r1->types[i].type == t_col)
				want = r1->types[i].cls[GH_DEFINITELY_LOST].count + r1->types[i].cls[GH_INDIRECTLY_LOST].count;
		gh__mark_result_free(r1);
		for (int threads = 2; threads <= 4; threads++) {
			struct gh_gc_result *rn = pass(threads, 0);
			ASSERT_TRUE(rn != NULL);
			EXPECT_EQ(rn->mark_threads, (uint32_t)threads);
			answer_of(rn, &an);
			char what[64];
			snprintf(what, sizeof what, "round %d, %d threads", round, threads);
			EXPECT_TRUE(same(&a1, &an, what));
			EXPECT_TRUE(rn->helper_objects < rn->cls[GH_REACHABLE].count + rn->cls[GH_POSSIBLY_LOST].count);
			helped += rn->helper_objects;
			gh__mark_result_free(rn);
		}
		/* collection in parallel frees exactly the serial pass's lost
		 * collectable objects, and nothing reachable */
		EXPECT_TRUE(want > 0);
		struct gh_gc_result *rc = pass(2, GH_GC_COLLECT);
		ASSERT_TRUE(rc != NULL);
		EXPECT_EQ(rc->collected_objects, want);
		gh__mark_result_free(rc);
		EXPECT_EQ(gh__heap_validate(true), 0);
		struct gh_gc_result *after = pass(2, 0);
		ASSERT_TRUE(after != NULL);
		EXPECT_EQ(after->cls[GH_REACHABLE].count, a1.cls[GH_REACHABLE].count);
		EXPECT_EQ(after->objects_before, a1.objects_before - want);
		/* every reachable node is intact */
		struct pnode *d = g_roots[1];
		size_t walked = 0;
		for (; d; d = d->a, walked++)
			if (d->magic != MAGIC)
				break;
		EXPECT_TRUE(d == NULL && walked > 1000);
		gh__mark_result_free(after);
		g_roots[0] = g_roots[1] = g_roots[2] = g_roots[3] = g_roots[4] = NULL; /* this round's heap becomes garbage */
	}
	if (cpus)
		EXPECT_TRUE(helped > 0);
	else
		fprintf(stderr, "one CPU: the helpers' share is not checked\n");
	gh__mark_threads(1);
}

/* A pass with referrers (serial by design) after parallel ones: the helpers
 * stay asleep and the answer is still the serial one. */
TEST(referrer_pass_stays_serial)
{
	types_once();
	build(20000);
	struct gh_gc_result *r = pass(4, GH_GC_REFERRERS);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(r->mark_threads, 1);
	EXPECT_EQ(r->helper_objects, 0);
	EXPECT_TRUE(r->nrefs > 0);
	gh__mark_result_free(r);
	g_roots[0] = g_roots[1] = g_roots[2] = g_roots[3] = g_roots[4] = NULL;
	gh__mark_threads(1);
}

/* A fork's child has none of its parent's helpers: its first pass starts
 * its own, marks with them, and the answer is still the serial one. */
#if !defined(GH_TEST_TSAN) /* TSan does not support threads started in a multithreaded process's fork child */
TEST(fork_child_starts_its_own_helpers)
{
	/* (zeroed before any pass: the stack is a root, and what is left of
	 * earlier calls in these frames would differ from pass to pass) */
	struct answer parent = {0}, one = {0}, two = {0}, again = {0};
	types_once();
	build(40000);
	struct gh_gc_result *r = pass(2, 0); /* the parent's helpers exist now */
	ASSERT_TRUE(r != NULL);
	answer_of(r, &parent);
	gh__mark_result_free(r);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		alarm(60); /* a hang fails the test instead of stalling ctest */
		struct gh_gc_result *a = pass(1, 0);
		if (!a)
			_exit(2);
		answer_of(a, &one);
		gh__mark_result_free(a);
		struct gh_gc_result *b = pass(2, 0);
		if (!b || b->mark_threads != 2)
			_exit(3);
		answer_of(b, &two);
		bool helped = b->helper_objects > 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2;
		gh__mark_result_free(b);
		_exit(!same(&one, &two, "child") ? 4 : !helped ? 5 : 0);
	}
	int st = 0;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	/* and the parent's helpers still work */
	r = pass(2, 0);
	ASSERT_TRUE(r != NULL);
	answer_of(r, &again);
	EXPECT_EQ(again.cls[GH_REACHABLE].count, parent.cls[GH_REACHABLE].count);
	gh__mark_result_free(r);
	g_roots[0] = g_roots[1] = g_roots[2] = g_roots[3] = g_roots[4] = NULL;
	gh__mark_threads(1);
}
#endif

int main(void)
{
#if defined(GH_TEST_TSAN)
	gh_test_ignore_tsan_thread(); /* before the helpers exist: they block every signal too */
#endif
	return RUN_TESTS();
}
