/*
 * top and compare rows without line information (lineno 0): a module built
 * without debug information (noline_lib.c, -g0) allocates from two
 * functions. Grouped by line, its rows are told apart by function (module +
 * function), so that each row's function is the one that allocated every
 * byte of it; grouped by file, one row for the module, with no function.
 * Before this rule both functions fell into one row that showed whichever
 * function sorted first.
 */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <stdlib.h>

void *noline_alloc_a(size_t n);
void *noline_alloc_b(size_t n);

/* The rows of the library (its file name is the module's path). */
static size_t lib_rows(struct gh_trace_stat *t, size_t n, struct gh_trace_stat **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strstr(t[i].frame.filename, "libgh_trace_noline"))
			out[k++] = &t[i];
	return k;
}

static void expect_split(struct gh_trace_stat *t, size_t n, bool diff)
{
	struct gh_trace_stat *rows[8];
	size_t k = lib_rows(t, n, rows);
	ASSERT_EQ(k, 2);
	for (size_t i = 0; i < k; i++) {
		EXPECT_EQ(rows[i]->frame.lineno, 0);
		EXPECT_STREQ(rows[i]->frame.line, "");
	}
	/* by size: a's 10 x 100, then b's 3 x 1000 */
	struct gh_trace_stat *a = rows[0]->size < rows[1]->size ? rows[0] : rows[1];
	struct gh_trace_stat *b = a == rows[0] ? rows[1] : rows[0];
	EXPECT_STREQ(a->frame.function, "noline_alloc_a");
	EXPECT_EQ(a->size, 1000);
	EXPECT_EQ(a->count, 10);
	EXPECT_STREQ(b->frame.function, "noline_alloc_b");
	EXPECT_EQ(b->size, 3000);
	EXPECT_EQ(b->count, 3);
	if (diff) {
		EXPECT_EQ(a->size_diff, 1000);
		EXPECT_EQ(b->count_diff, 3);
	}
}

TEST(rows_without_lines_are_grouped_by_function)
{
	void *keep[13];
	ASSERT_EQ(trace_two_sites(1, noline_alloc_a, 10, 100, noline_alloc_b, 3, 1000, keep), 0);

	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	expect_split(t, n, false);
	free(t);
	ASSERT_EQ(gh__trace_compare("before", "after", GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	expect_split(t, n, true);
	free(t);

	/* by file: one row for the module, and no function (its members differ) */
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_FILENAME, 100, &t, &n), 0);
	struct gh_trace_stat *rows[8];
	size_t k = lib_rows(t, n, rows);
	ASSERT_EQ(k, 1);
	EXPECT_EQ(rows[0]->size, 4000);
	EXPECT_EQ(rows[0]->count, 13);
	EXPECT_EQ(rows[0]->frame.lineno, 0);
	EXPECT_STREQ(rows[0]->frame.function, "");
	free(t);

	EXPECT_EQ(trace_free_stop(keep, 13), 0);
}

int main(void)
{
	return RUN_TESTS();
}
