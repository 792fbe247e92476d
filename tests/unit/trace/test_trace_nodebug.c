/*
 * Frames without a line (a library without debug information, nodebug_lib.c):
 * top and compare grouped by lineno give one row per allocation site, told
 * apart by the offset in the module (not one row per module), with its
 * function and exact counts; grouped by filename, one row for the module;
 * traceback keeps the two stacks apart. Frame-pointer unwinding (the library
 * keeps frame pointers).
 */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <stdlib.h>

void *nodebug_a(size_t n);
void *nodebug_b(size_t n);

static bool in_lib(const struct gh_trace_frame *f)
{
	return strstr(f->filename, "libgh_trace_nodebug") != NULL;
}

TEST(lineless_sites_apart)
{
	void *p[8];
	ASSERT_EQ(trace_two_sites(25, nodebug_a, 3, 40, nodebug_b, 5, 24, p), 0);

	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	const struct gh_trace_stat *a = NULL, *b = NULL;
	size_t rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (!in_lib(&t[i].frame))
			continue;
		rows++;
		EXPECT_EQ(t[i].frame.lineno, 0);
		EXPECT_STREQ(t[i].frame.filename, t[i].frame.module);
		if (strcmp(t[i].frame.function, "nodebug_a") == 0)
			a = &t[i];
		if (strcmp(t[i].frame.function, "nodebug_b") == 0)
			b = &t[i];
	}
	EXPECT_EQ(rows, 2);
	ASSERT_TRUE(a && b);
	EXPECT_EQ(a->count, 3);
	EXPECT_EQ(a->size, 3 * 40);
	EXPECT_EQ(b->count, 5);
	EXPECT_EQ(b->size, 5 * 24);
	EXPECT_NE(a->frame.offset, b->frame.offset);
	free(t);

	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_FILENAME, 100, &t, &n), 0);
	rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (!in_lib(&t[i].frame))
			continue;
		rows++;
		EXPECT_EQ(t[i].count, 8);
		EXPECT_EQ(t[i].size, 3 * 40 + 5 * 24);
	}
	EXPECT_EQ(rows, 1);
	free(t);

	ASSERT_EQ(gh__trace_compare("before", "after", GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	int64_t diffs[2] = {0, 0};
	rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (!in_lib(&t[i].frame))
			continue;
		diffs[rows < 2 ? rows : 1] = t[i].count_diff;
		rows++;
	}
	EXPECT_EQ(rows, 2);
	EXPECT_EQ(diffs[0] + diffs[1], 8);
	EXPECT_TRUE((diffs[0] == 3 && diffs[1] == 5) || (diffs[0] == 5 && diffs[1] == 3));
	free(t);

	struct gh_trace_tb *tb;
	ASSERT_EQ(gh__trace_traceback(50, &tb, &n), 0);
	int64_t counts[2] = {0, 0};
	rows = 0;
	for (size_t i = 0; i < n; i++) {
		if (tb[i].nframes == 0 || !in_lib(&tb[i].frames[0]))
			continue;
		counts[rows < 2 ? rows : 1] = tb[i].count;
		rows++;
	}
	EXPECT_EQ(rows, 2);
	EXPECT_TRUE((counts[0] == 3 && counts[1] == 5) || (counts[0] == 5 && counts[1] == 3));
	free(tb);

	EXPECT_EQ(trace_free_stop(p, 8), 0);
}

int main(void)
{
	return RUN_TESTS();
}
