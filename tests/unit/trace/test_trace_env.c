/* GLASSHEAP_TRACE=7 (set by ctest) starts tracing at load time, before the
 * program's own constructors run. */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <stdlib.h>

static int line_ctor;
static void *early;

__attribute__((constructor)) static void early_allocation(void)
{
	early = malloc(1234); line_ctor = __LINE__;
}

TEST(traced_from_start_up)
{
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_TRUE(st.is_tracing);
	EXPECT_EQ(st.frames, 7);
	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].frame.filename, __FILE__) == 0 && (int)t[i].frame.lineno == line_ctor) {
			found = true;
			EXPECT_EQ(t[i].size, 1234);
			EXPECT_EQ(t[i].count, 1);
			EXPECT_STREQ(t[i].frame.function, "early_allocation");
		}
	EXPECT_TRUE(found);
	free(t);
	free(early);
}

int main(void)
{
	return RUN_TESTS();
}
