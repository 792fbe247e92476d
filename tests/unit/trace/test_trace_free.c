/*
 * free while tracing is on. Tracing points free's fast path at a class
 * table of zeros (gh__free_cls), so every free leaves it for
 * gh__free_no_cls: an untraced block is freed there at once -- no ring, so
 * tracing's accounts follow each free -- through the thread's bins, a
 * traced one on the general path. Blocks that were in the ring when tracing
 * started are released when they leave it, after it stops. Every count
 * stays exact, a double free is still one, and nothing is handed out twice.
 */
#include "internal.h"
#include "test.h"
#include "ring_test.h"
#include "trace_test.h"

#include <stdlib.h>

static gh_type_t type_y(void)
{
	static gh_type_t t;
	if (!t)
		t = gh_type_register("trace_free_y", NULL);
	return t;
}

static bool traced(void *p)
{
	struct gh_meta m;
	return gh__meta_live((uintptr_t)p, &m) != 0 && m.traced;
}

/* Sampled tracing (one sample per GiB: none of these blocks is traced). */
TEST(untraced_frees_while_tracing_skip_the_ring)
{
	gh_type_t t = type_y();
	gh__free_drain();
	/* the class's bin emptied first, so that it has room for all eight */
	void *hold[GH_BIN_CAP];
	for (int i = 0; i < GH_BIN_CAP; i++)
		hold[i] = escape(gh_malloc_typed(t, 72));
	void *p[8];
	for (int i = 0; i < 8; i++)
		p[i] = escape(gh_malloc_typed(t, 72));
	gh_type_stats_t before = stats(t);
	ASSERT_EQ(gh__trace_start(4, (size_t)1 << 30), 0);
	gh__free_drain(); /* whatever the start itself freed before the switch */
	EXPECT_TRUE(atomic_load(&gh__free_cls) != gh__start_cls);
	for (int i = 0; i < 8; i++) {
		EXPECT_FALSE(traced(p[i]));
		gh_free(p[i]);
		EXPECT_EQ(ringed(), 0);
		/* the shard's own counts, no ring to subtract */
		gh_type_stats_t now = stats(t);
		EXPECT_EQ(now.live_count, before.live_count - 1 - i);
		EXPECT_EQ(now.live_bytes, before.live_bytes - 72 * (1 + (uint64_t)i));
		EXPECT_EQ(now.total_frees, before.total_frees + 1 + (uint64_t)i);
	}
	/* through the bin: the next block of the class is the last one freed */
	void *q = escape(gh_malloc_typed(t, 72));
	EXPECT_EQ((uintptr_t)q, (uintptr_t)escape(p[7]));
	EXPECT_FALSE(traced(q));
	gh_free(q);
	EXPECT_EQ(ringed(), 0);
	EXPECT_EQ(gh_heap_check(1), 0);
	EXPECT_EQ(gh__trace_stop(), 0);
	EXPECT_TRUE(atomic_load(&gh__free_cls) == gh__start_cls);
	EXPECT_EQ(stats(t).live_count, before.live_count - 8);
	for (int i = 0; i < GH_BIN_CAP; i++)
		gh_free(hold[i]);
	gh__free_drain();
}

/* Misuse reported to capture (ring_test.h), counted from zero. */
static void capture_misuse(void)
{
	gh__opt.on_error_log = true;
	gh_set_error_handler(capture);
	calls = 0;
}

TEST(double_free_while_tracing_is_reported)
{
	capture_misuse();
	gh_type_t t = type_y();
	ASSERT_EQ(gh__trace_start(4, (size_t)1 << 30), 0); /* sampled: one per GiB */
	void *p = escape(gh_malloc_typed(t, 40));
	gh_type_stats_t before = stats(t);
	gh_free(p);
	gh_free(escape(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_DOUBLE_FREE);
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count - 1);
	EXPECT_EQ(after.total_frees, before.total_frees + 1);
	EXPECT_EQ(gh__trace_stop(), 0);
	/* handed out once */
	expect_handed_out_once(t, 40, 32);
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh_set_error_handler(NULL);
}

/* A stray write that changed an untraced block's type and left its check
 * byte live: freed while tracing is on, the block is reported, not counted
 * under the written type (which indexes no counter), and stays as it was. */
TEST(overwritten_type_while_tracing_is_reported)
{
	capture_misuse();
	gh_type_t t = type_y();
	ASSERT_EQ(gh__trace_start(4, (size_t)1 << 30), 0); /* sampled: one per GiB */
	void *p = escape(gh_malloc_typed(t, 40));
	EXPECT_FALSE(traced(p));
	uint64_t *trl = gh__trl_at((uintptr_t)p, gh__start_at((uintptr_t)p));
	uint64_t w = *trl;
	const uint64_t type_mask = ((UINT64_C(1) << GH_TRL_TYPE_BITS) - 1) << GH_TRL_TYPE_SHIFT;
	*trl = (w & ~type_mask) | type_mask; /* type 32767: past any registered one */
	gh_type_stats_t before = stats(t);
	gh_free(escape(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	EXPECT_EQ(ringed(), 0);
	EXPECT_TRUE(gh__start_live(gh__start_at((uintptr_t)p)));
	EXPECT_EQ(stats(t).live_count, before.live_count);
	*trl = w; /* repaired, it frees normally */
	gh_free(escape(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(stats(t).live_count, before.live_count - 1);
	EXPECT_EQ(gh__trace_stop(), 0);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh_set_error_handler(NULL);
}

static int line_y;

static NOIPA void *alloc_y(size_t n)
{
	void *p = gh_malloc_typed(type_y(), n); line_y = __LINE__;
	return p;
}

/* Every block traced: they take the general path, and tracing's current
 * total and the type's counts both come back to where they were. */
TEST(traced_blocks_free_on_the_general_path)
{
	gh_type_t t = type_y();
	gh__free_drain();
	gh_type_stats_t before = stats(t);
	ASSERT_EQ(gh__trace_start(4, 0), 0);
	gh__free_drain();
	void *p[16];
	for (int i = 0; i < 16; i++) {
		p[i] = escape(alloc_y(100));
		EXPECT_TRUE(traced(p[i]));
	}
	struct gh_trace_stat *rows = NULL;
	size_t n = 0;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &rows, &n), 0);
	int64_t at_line = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].frame.lineno == (unsigned)line_y)
			at_line += rows[i].count;
	EXPECT_EQ(at_line, 16);
	free(rows);
	EXPECT_EQ(stats(t).live_count, before.live_count + 16);
	for (int i = 0; i < 16; i++)
		gh_free(p[i]);
	EXPECT_EQ(ringed(), 0);
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.live_bytes, before.live_bytes);
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &rows, &n), 0);
	at_line = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].frame.lineno == (unsigned)line_y)
			at_line += rows[i].count;
	EXPECT_EQ(at_line, 0);
	free(rows);
	EXPECT_EQ(gh__trace_stop(), 0);
	EXPECT_EQ(gh_heap_check(1), 0);
}

/* Blocks in the ring when tracing starts wait there while it runs, count as
 * freed throughout, and leave it once frees go through the ring again. */
TEST(ringed_before_tracing_leave_after)
{
	gh_type_t t = type_y();
	gh__free_drain();
	gh_type_stats_t before = stats(t);
	void *p[3], *r[3];
	for (int i = 0; i < 3; i++) {
		p[i] = escape(gh_malloc_typed(t, 200));
		r[i] = escape(gh_malloc_typed(t, 24));
	}
	for (int i = 0; i < 3; i++)
		gh_free(p[i]);
	EXPECT_EQ(ringed(), 3);
	ASSERT_EQ(gh__trace_start(4, (size_t)1 << 30), 0);
	unsigned at_start = ringed(); /* 3, or more if the start freed before the switch */
	EXPECT_TRUE(at_start >= 3);
	for (int i = 0; i < 3; i++)
		gh_free(r[i]);
	EXPECT_EQ(ringed(), at_start);
	gh_type_stats_t mid = stats(t);
	EXPECT_EQ(mid.live_count, before.live_count);
	EXPECT_EQ(mid.live_bytes, before.live_bytes);
	EXPECT_EQ(gh__trace_stop(), 0);
	void *s[GH_PEND];
	for (int i = 0; i < GH_PEND; i++)
		s[i] = escape(gh_malloc_typed(t, 56));
	for (int i = 0; i < GH_PEND; i++)
		gh_free(s[i]);
	EXPECT_EQ(ringed(), GH_PEND); /* the three old ones left it */
	gh__free_drain();
	gh_type_stats_t after = stats(t);
	EXPECT_EQ(after.live_count, before.live_count);
	EXPECT_EQ(after.live_bytes, before.live_bytes);
	EXPECT_EQ(after.total_frees, before.total_frees + 6 + GH_PEND);
	EXPECT_EQ(gh_heap_check(1), 0);
}

int main(void)
{
	return RUN_TESTS();
}
