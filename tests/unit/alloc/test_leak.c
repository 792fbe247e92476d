/* Leak classes with valgrind's heuristics and declared offsets, ignored
 * objects and disabled scopes, gh_leak_check's counts: each over a known
 * object graph, counted exactly (per type, from the pass's rows, and as
 * differences of gh_leak_check's totals). */
#include "internal.h"
#include "mark_test.h"
#include "test.h"

#include <stdlib.h>

/* The heuristic the site rows of a type name for its reachable objects. */
static uint64_t heur_rows(const char *type, int heur)
{
	gh_type_t t = gh_type_find(type);
	uint64_t n = 0;
	for (size_t i = 0; R && i < R->nsites; i++)
		if (R->sites[i].type == t && R->sites[i].heuristic == (uint32_t)heur)
			n += R->sites[i].count[GH_REACHABLE];
	return n;
}

static void *typed(const char *type, size_t size)
{
	void *p = gh_calloc_typed(gh_type_register(type, NULL), 1, size);
	escape(p);
	return p;
}

/* Two "virtual functions" and two vtables in read-only data of this
 * executable (a file mapping), as a C++ compiler lays them out. */
static void vf1(void) {}
static void vf2(void) {}
static void (*const vtable_a[3])(void) = {vf1, vf2, 0};
static void (*const vtable_b[3])(void) = {vf2, vf1, 0};

static void *volatile g_in[16]; /* interior pointers kept by globals */
static void *volatile g_start;  /* a start pointer */

static __attribute__((noinline)) void build_heuristic_shapes(void)
{
	/* stdstring: {length, capacity, refcount} then capacity + 1 chars */
	uint64_t *s = typed("H.StdString", 24 + 40 + 1);
	s[0] = 10, s[1] = 40, s[2] = 0;
	g_in[0] = (char *)s + 24;
	/* length64: the first word is the length of what follows */
	uint64_t *l = typed("H.Length64", 8 + 72);
	l[0] = 72;
	g_in[1] = (char *)l + 8;
	/* newarray: new T[5] of 12-byte T, the count first */
	uint64_t *a = typed("H.NewArray", 8 + 5 * 12);
	a[0] = 5;
	g_in[2] = (char *)a + 8;
	/* multiple inheritance: a vtable pointer at the start and at +16 */
	uintptr_t *m = typed("H.MI", 40);
	m[0] = (uintptr_t)vtable_a;
	m[2] = (uintptr_t)vtable_b;
	g_in[3] = &m[2];
	/* a declared offset */
	char *o = typed("H.Offset", 128);
	g_in[4] = o + 48;
	/* near misses: possibly lost */
	uint64_t *s2 = typed("H.NotString", 24 + 40 + 1);
	s2[0] = 41, s2[1] = 40; /* length above capacity */
	g_in[5] = (char *)s2 + 24;
	uint64_t *a2 = typed("H.NotArray", 8 + 61);
	a2[0] = 5; /* 61 is no multiple of 5, and no length either */
	g_in[6] = (char *)a2 + 8;
	uintptr_t *m2 = typed("H.NotMI", 40);
	m2[0] = (uintptr_t)g_in; /* writable data, not a vtable */
	m2[2] = (uintptr_t)vtable_b;
	g_in[7] = &m2[2];
	char *o2 = typed("H.NotOffset", 128);
	g_in[8] = o2 + 64;
	/* a start pointer wins over a heuristic: plainly reachable */
	uint64_t *l2 = typed("H.Both", 8 + 24);
	l2[0] = 24;
	g_in[9] = (char *)l2 + 8;
	g_start = l2;
}

TEST(heuristics_make_valgrinds_shapes_reachable)
{
	ASSERT_EQ(gh_leak_interior_offset(48), 0);
	EXPECT_EQ(gh_leak_interior_offset(0), EINVAL);
	EXPECT_EQ(gh_leak_interior_offset(5000), EINVAL);
	build_heuristic_shapes();
	run_pass();
	ASSERT_TRUE(R != NULL);
	static const struct {
		const char *type;
		int heur;
	} yes[] = {{"H.StdString", GH_HEUR_STDSTRING},
		   {"H.Length64", GH_HEUR_LENGTH64},
		   {"H.NewArray", GH_HEUR_NEWARRAY},
		   {"H.MI", GH_HEUR_MULTIPLE_INHERITANCE},
		   {"H.Offset", GH_HEUR_OFFSET}};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		EXPECT_EQ(cls_of(yes[i].type, GH_REACHABLE).count, 1);
		EXPECT_EQ(cls_of(yes[i].type, GH_POSSIBLY_LOST).count, 0);
		EXPECT_EQ(heur_rows(yes[i].type, yes[i].heur), 1);
		EXPECT_EQ(R->heuristic[yes[i].heur].count, 1);
	}
	EXPECT_EQ(R->heuristic[GH_HEUR_STDSTRING].bytes, 65);
	EXPECT_EQ(R->heuristic[GH_HEUR_LENGTH64].bytes, 80);
	const char *no[] = {"H.NotString", "H.NotArray", "H.NotMI", "H.NotOffset"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		EXPECT_EQ(cls_of(no[i], GH_POSSIBLY_LOST).count, 1);
		EXPECT_EQ(cls_of(no[i], GH_REACHABLE).count, 0);
	}
	EXPECT_EQ(cls_of("H.Both", GH_REACHABLE).count, 1);
	for (int k = GH_HEUR_STDSTRING; k < GH_HEURISTICS; k++)
		EXPECT_EQ(heur_rows("H.Both", k), 0);
	for (size_t i = 0; i < 10; i++)
		g_in[i] = NULL;
	g_start = NULL;
}

struct pair {
	struct pair *child;
	char pad[24];
};

static __attribute__((noinline)) struct pair *leak_pair(const char *type)
{
	struct pair *p = typed(type, sizeof *p);
	p->child = typed(type, sizeof *p);
	return p;
}

static __attribute__((noinline)) void leak_pairs(int n, const char *type)
{
	for (int i = 0; i < n; i++)
		escape(leak_pair(type));
}

static __attribute__((noinline)) void ignore_new_pair(void)
{
	EXPECT_EQ(gh_ignore_object(leak_pair("I.Ignored")), 0);
}

TEST(ignored_objects_are_roots)
{
	ignore_new_pair();
	leak_pairs(1, "I.Leaked");
	run_pass();
	ASSERT_TRUE(R != NULL);
	EXPECT_EQ(cls_of("I.Ignored", GH_REACHABLE).count, 2);
	EXPECT_EQ(cls_of("I.Ignored", GH_DEFINITELY_LOST).count, 0);
	EXPECT_EQ(cls_of("I.Leaked", GH_DEFINITELY_LOST).count, 1);
	EXPECT_EQ(cls_of("I.Leaked", GH_INDIRECTLY_LOST).count, 1);
	EXPECT_EQ(R->ignored.count, 1);
	EXPECT_EQ(gh_ignore_object(NULL), EINVAL);
	int local;
	EXPECT_EQ(gh_ignore_object(&local), EINVAL);
	char *p = malloc(64);
	escape(p);
	EXPECT_EQ(gh_ignore_object(p + 16), EINVAL);
	free(p);
}

/* Blocks from malloc's fast path (gh_malloc_typed; the pairs come from calloc,
 * which always takes the general path). */
static __attribute__((noinline)) void leak_singles(int n, const char *type)
{
	gh_type_t t = gh_type_register(type, NULL);
	for (int i = 0; i < n; i++) {
		struct pair *p = gh_malloc_typed(t, sizeof *p);
		p->child = NULL;
		escape(p);
	}
}

TEST(disabled_scope_leaves_its_allocations_out)
{
	gh_leak_disable();
	leak_pairs(3, "D.Inside");
	leak_singles(2, "D.Fast");
	gh_leak_disable(); /* nested */
	leak_pairs(1, "D.Inside");
	gh_leak_enable();
	leak_pairs(1, "D.Inside"); /* still disabled: one enable per disable */
	gh_leak_enable();
	leak_pairs(2, "D.Outside");
	gh_leak_enable(); /* unbalanced: ignored */
	leak_pairs(1, "D.After");
	run_pass();
	ASSERT_TRUE(R != NULL);
	EXPECT_EQ(cls_of("D.Inside", GH_REACHABLE).count, 10);
	EXPECT_EQ(cls_of("D.Inside", GH_DEFINITELY_LOST).count, 0);
	EXPECT_EQ(cls_of("D.Fast", GH_REACHABLE).count, 2);
	EXPECT_EQ(cls_of("D.Fast", GH_DEFINITELY_LOST).count, 0);
	EXPECT_EQ(cls_of("D.Outside", GH_DEFINITELY_LOST).count, 2);
	EXPECT_EQ(cls_of("D.Outside", GH_INDIRECTLY_LOST).count, 2);
	EXPECT_EQ(cls_of("D.After", GH_DEFINITELY_LOST).count, 1);
}

TEST(leak_check_counts_are_differences_of_known_leaks)
{
	gh_leak_counts_t a, b;
	clobber_stack();
	ASSERT_EQ(gh_leak_check(0, &a), 0);
	leak_pairs(4, "C.Leak");
	clobber_stack();
	ASSERT_EQ(gh_leak_check(0, &b), 0);
	EXPECT_EQ(b.definitely_lost - a.definitely_lost, 4);
	EXPECT_EQ(b.indirectly_lost - a.indirectly_lost, 4);
	EXPECT_EQ(b.definitely_lost_bytes - a.definitely_lost_bytes, 4 * sizeof(struct pair));
	EXPECT_EQ(b.possibly_lost, a.possibly_lost);
	EXPECT_EQ(b.suppressed, 0);
}

int main(void)
{
	int rc = RUN_TESTS();
	gh__mark_result_free(R);
	return rc;
}
