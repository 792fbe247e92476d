/* Unit tests for types.c: registry, GH_NEW, scopes, retag, stats. */
#include "internal.h"
#include "test.h"

#include <stdlib.h>

struct Widget {
	int a;
	char name[40];
};

static int fmt_widget(const void *obj, size_t size, char *buf, size_t len)
{
	(void)size;
	return snprintf(buf, len, "Widget{a=%d}", ((const struct Widget *)obj)->a);
}

TEST(builtin_types)
{
	EXPECT_STREQ(gh_type_name(GH_TYPE_MALLOC), "malloc");
	EXPECT_STREQ(gh_type_name(GH_TYPE_NEW), "operator new");
	EXPECT_STREQ(gh_type_name(GH_TYPE_INTERNAL), "glassheap");
	EXPECT_EQ(gh_type_find("malloc"), GH_TYPE_MALLOC);
	EXPECT_TRUE(gh_type_name(GH_TYPE_NONE) == NULL);
	EXPECT_TRUE(gh_type_name(GH_TYPES_MAX + 5) == NULL);
}

TEST(register_is_idempotent_and_validates)
{
	gh_type_t a = gh_type_register("test.A", NULL);
	EXPECT_NE(a, GH_TYPE_NONE);
	EXPECT_EQ(gh_type_register("test.A", NULL), a);
	EXPECT_EQ(gh_type_find("test.A"), a);
	EXPECT_STREQ(gh_type_name(a), "test.A");
	errno = 0;
	EXPECT_EQ(gh_type_register("", NULL), GH_TYPE_NONE);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(gh_type_register(NULL, NULL), GH_TYPE_NONE);
	char longname[GH_TYPE_NAME_MAX + 2];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	errno = 0;
	EXPECT_EQ(gh_type_register(longname, NULL), GH_TYPE_NONE);
	EXPECT_EQ(errno, EINVAL);
	longname[GH_TYPE_NAME_MAX] = '\0';
	EXPECT_NE(gh_type_register(longname, NULL), GH_TYPE_NONE);
	EXPECT_EQ(gh_type_find("test.nonexistent"), GH_TYPE_NONE);
}

TEST(desc_is_copied)
{
	size_t offs[2] = {8, 16};
	gh_type_desc_t d = {.format = fmt_widget, .ptr_offsets = offs, .n_ptr_offsets = 2, .flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test.Desc", &d);
	offs[0] = 999;
	const gh_type_desc_t *got = gh__type_desc(t);
	ASSERT_TRUE(got != NULL);
	EXPECT_EQ(got->ptr_offsets[0], 8);
	EXPECT_EQ(got->ptr_offsets[1], 16);
	EXPECT_EQ(got->n_ptr_offsets, 2);
	EXPECT_EQ(got->flags, GH_TYPE_COLLECTABLE);
	EXPECT_TRUE(got->format == fmt_widget);
	gh_type_desc_t bad = {.n_ptr_offsets = 3};
	EXPECT_EQ(gh_type_register("test.BadDesc", &bad), GH_TYPE_NONE);
}

TEST(gh_new_registers_and_counts)
{
	struct Widget *w = GH_NEW(struct Widget);
	ASSERT_TRUE(w != NULL);
	gh_type_t t = gh_type_find("struct Widget");
	ASSERT_NE(t, GH_TYPE_NONE);
	EXPECT_EQ(gh_ptr_type(w), t);
	EXPECT_EQ(gh_ptr_size(w), sizeof(struct Widget));
	EXPECT_EQ(w->a, 0);
	gh_type_stats_t st;
	ASSERT_EQ(gh_type_stats(t, &st), 0);
	EXPECT_EQ(st.live_count, 1);
	EXPECT_EQ(st.live_bytes, sizeof(struct Widget));
	EXPECT_STREQ(st.name, "struct Widget");
	struct Widget *arr = GH_NEW_ARRAY(struct Widget, 10);
	ASSERT_EQ(gh_type_stats(t, &st), 0);
	EXPECT_EQ(st.live_count, 2);
	EXPECT_EQ(st.live_bytes, 11 * sizeof(struct Widget));
	EXPECT_EQ(st.total_allocs, 2);
	free(w);
	gh_free(arr);
	ASSERT_EQ(gh_type_stats(t, &st), 0);
	EXPECT_EQ(st.live_count, 0);
	EXPECT_EQ(st.live_bytes, 0);
	EXPECT_EQ(st.total_frees, 2);
	errno = 0;
	volatile size_t huge = SIZE_MAX / 8;
	EXPECT_TRUE(GH_NEW_ARRAY(struct Widget, huge) == NULL);
	EXPECT_EQ(errno, ENOMEM);
}

TEST(scope_types_untyped_allocations)
{
	gh_type_t s1 = gh_type_register("test.Scope1", NULL);
	gh_type_t s2 = gh_type_register("test.Scope2", NULL);
	EXPECT_EQ(gh_scope_pop(), EINVAL);
	EXPECT_EQ(gh_scope_push(GH_TYPE_NONE), EINVAL);
	EXPECT_EQ(gh_scope_push(s1), 0);
	void *a = malloc(10);
	EXPECT_EQ(gh_scope_push(s2), 0);
	void *b = calloc(2, 10);
	void *c = gh_malloc_typed(s1, 5); /* explicit type wins */
	EXPECT_EQ(gh_scope_pop(), 0);
	void *d = malloc(10);
	EXPECT_EQ(gh_scope_pop(), 0);
	void *e = malloc(10);
	EXPECT_EQ(gh_ptr_type(a), s1);
	EXPECT_EQ(gh_ptr_type(b), s2);
	EXPECT_EQ(gh_ptr_type(c), s1);
	EXPECT_EQ(gh_ptr_type(d), s1);
	EXPECT_EQ(gh_ptr_type(e), GH_TYPE_MALLOC);
	/* realloc keeps the type it had */
	b = realloc(b, 1000);
	EXPECT_EQ(gh_ptr_type(b), s2);
	for (int i = 0; i < 32; i++)
		EXPECT_EQ(gh_scope_push(s1), 0);
	EXPECT_EQ(gh_scope_push(s1), EOVERFLOW);
	for (int i = 0; i < 32; i++)
		EXPECT_EQ(gh_scope_pop(), 0);
	free(a), free(b), free(c), free(d), free(e);
}

TEST(retag_moves_counts)
{
	gh_type_t from = gh_type_register("test.RetagFrom", NULL);
	gh_type_t to = gh_type_register("test.RetagTo", NULL);
	void *p = gh_malloc_typed(from, 100);
	gh_type_stats_t a, b;
	EXPECT_EQ(gh_retag(p, to), 0);
	EXPECT_EQ(gh_ptr_type(p), to);
	gh_type_stats(from, &a);
	gh_type_stats(to, &b);
	EXPECT_EQ(a.live_count, 0);
	EXPECT_EQ(a.live_bytes, 0);
	EXPECT_EQ(a.total_allocs, 1);
	EXPECT_EQ(b.live_count, 1);
	EXPECT_EQ(b.live_bytes, 100);
	EXPECT_EQ(b.total_allocs, 0);
	EXPECT_EQ(gh_retag((char *)p + 16, from), EINVAL);
	EXPECT_EQ(gh_retag(p, GH_TYPE_NONE), EINVAL);
	int local;
	EXPECT_EQ(gh_retag(&local, from), EINVAL);
	free(p);
	gh_type_stats(to, &b);
	EXPECT_EQ(b.live_count, 0);
	EXPECT_EQ(b.total_frees, 1);
}

TEST(stats_all_lists_every_type_in_id_order)
{
	gh_type_t t = gh_type_register("test.StatsAll", NULL);
	void *p = gh_malloc_typed(t, 7);
	uint32_t n = gh_type_count();
	gh_type_stats_t st[256];
	ASSERT_LE(n, 256);
	EXPECT_EQ(gh_stats_all(st, 256), n);
	for (uint32_t i = 0; i < n; i++)
		EXPECT_EQ(st[i].type, i + 1);
	EXPECT_EQ(st[t - 1].live_count, 1);
	EXPECT_EQ(st[t - 1].live_bytes, 7);
	/* a short buffer is filled and the full count returned */
	EXPECT_EQ(gh_stats_all(st, 2), n);
	EXPECT_EQ(gh_type_stats(GH_TYPE_NONE, st), ENOENT);
	free(p);
}

TEST(unknown_type_counts_as_malloc)
{
	void *p = gh_malloc_typed(60000, 3);
	EXPECT_EQ(gh_ptr_type(p), GH_TYPE_MALLOC);
	free(p);
}

/* Exactly GH_TYPES_MAX ids, built-in ones included, then ENOSPC; the last
 * id counts like any other. Runs last: it fills the registry. */
TEST(registry_holds_exactly_types_max)
{
	char name[32];
	uint32_t n = gh_type_count();
	gh_type_t last = GH_TYPE_NONE;
	for (uint32_t i = n; i < GH_TYPES_MAX; i++) {
		snprintf(name, sizeof name, "fill.%u", i);
		last = gh_type_register(name, NULL);
		ASSERT_TRUE(last != GH_TYPE_NONE);
	}
	EXPECT_EQ(gh_type_count(), GH_TYPES_MAX);
	EXPECT_EQ(last, GH_TYPES_MAX);
	errno = 0;
	EXPECT_EQ(gh_type_register("one.too.many", NULL), GH_TYPE_NONE);
	EXPECT_EQ(errno, ENOSPC);
	void *p = gh_malloc_typed(last, 40);
	__asm__ volatile("" ::"r"(p) : "memory");
	gh_type_stats_t st;
	ASSERT_EQ(gh_type_stats(last, &st), 0);
	EXPECT_EQ(st.live_count, 1);
	EXPECT_EQ(st.live_bytes, 40);
	EXPECT_EQ(gh_ptr_type(p), last);
	gh_free(p);
	EXPECT_EQ(gh_type_stats(last, &st), 0);
	EXPECT_EQ(st.live_count, 0);
}

int main(void)
{
	return RUN_TESTS();
}
