/*
 * Sampling (gh__trace_start with sample_bytes > 0): on a large workload of
 * known sizes and counts, the per-line estimates and the current total are
 * unbiased within a tolerance several standard deviations wide, and freeing
 * everything brings every counter back to exactly zero.
 *
 * Standard deviations at sample_bytes = 4096 (relative, bytes and counts):
 * 200000 x 48 B: ~2.1%; 20000 x 1500 B: ~1.1%; 200 x 64 KiB: ~0;
 * 50000 x U[1, 8192] B (bytes): ~0.5%. Tolerance: 10% (per line), 5% (total).
 */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <math.h>
#include <stdlib.h>

#define R 4096
#define N_SMALL 200000
#define N_MID 20000
#define N_BIG 200
#define N_MIXED 50000

static int line_small, line_mid, line_big, line_mixed, line_zero;

static NOIPA void *small(void)
{
	void *p = malloc(48); line_small = __LINE__;
	return p;
}

static NOIPA void *mid(void)
{
	void *p = malloc(1500); line_mid = __LINE__;
	return p;
}

static NOIPA void *big(void)
{
	void *p = malloc(65536); line_big = __LINE__;
	return p;
}

static NOIPA void *mixed(size_t n)
{
	void *p = malloc(n); line_mixed = __LINE__;
	return p;
}

static NOIPA void *zero(void)
{
	void *p = malloc(0); line_zero = __LINE__;
	return p;
}

static void *ps[N_SMALL], *pm[N_MID], *pb[N_BIG], *px[N_MIXED], *pz[1000];

static const struct gh_trace_stat *row_at(const struct gh_trace_stat *t, size_t n, int line)
{
	for (size_t i = 0; i < n; i++)
		if ((int)t[i].frame.lineno == line)
			return &t[i];
	return NULL;
}

static double rel(double est, double truth)
{
	return fabs(est - truth) / truth;
}

#define EXPECT_NEAR_REL(est, truth, tol)                                                          \
	do {                                                                                      \
		double e_ = (double)(est), t_ = (double)(truth);                                  \
		if (rel(e_, t_) > (tol))                                                          \
			GH_TEST_FAIL_("%s = %.0f, expected %.0f within %.0f%%", #est, e_, t_,      \
				      (tol) * 100);                                               \
		else                                                                              \
			fprintf(stderr, "  %s = %.0f vs %.0f (%.2f%%)\n", #est, e_, t_,            \
				100 * rel(e_, t_));                                               \
	} while (0)

TEST(unbiased_estimates)
{
	ASSERT_EQ(gh__trace_start(25, R), 0);
	uint64_t mixed_bytes = 0;
	uint64_t x = 12345;
	for (int i = 0; i < N_SMALL; i++)
		ps[i] = small();
	for (int i = 0; i < N_MID; i++)
		pm[i] = mid();
	for (int i = 0; i < N_BIG; i++)
		pb[i] = big();
	for (int i = 0; i < N_MIXED; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		size_t n = 1 + (size_t)((x >> 33) % 8192);
		mixed_bytes += n;
		px[i] = mixed(n);
	}
	for (int i = 0; i < 1000; i++)
		pz[i] = zero();

	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	const struct gh_trace_stat *s = row_at(t, n, line_small), *m = row_at(t, n, line_mid),
				   *b = row_at(t, n, line_big), *x_ = row_at(t, n, line_mixed);
	ASSERT_TRUE(s && m && b && x_);
	EXPECT_TRUE(row_at(t, n, line_zero) == NULL); /* 0 bytes: never sampled */
	EXPECT_NEAR_REL(s->size, 48.0 * N_SMALL, 0.10);
	EXPECT_NEAR_REL(s->count, N_SMALL, 0.10);
	EXPECT_NEAR_REL(m->size, 1500.0 * N_MID, 0.10);
	EXPECT_NEAR_REL(m->count, N_MID, 0.10);
	EXPECT_NEAR_REL(b->size, 65536.0 * N_BIG, 0.01);
	EXPECT_NEAR_REL(b->count, N_BIG, 0.01);
	EXPECT_NEAR_REL(x_->size, mixed_bytes, 0.05);
	EXPECT_NEAR_REL(x_->count, N_MIXED, 0.10);
	free(t);

	double total = 48.0 * N_SMALL + 1500.0 * N_MID + 65536.0 * N_BIG + (double)mixed_bytes;
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_EQ(st.sample_bytes, R);
	EXPECT_NEAR_REL(st.current_bytes, total, 0.05);
	EXPECT_GE(st.peak_bytes, st.current_bytes);

	/* Free every other small block: the estimate halves. */
	for (int i = 0; i < N_SMALL; i += 2) {
		free(ps[i]);
		ps[i] = NULL;
	}
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	s = row_at(t, n, line_small);
	ASSERT_TRUE(s != NULL);
	EXPECT_NEAR_REL(s->size, 48.0 * N_SMALL / 2, 0.15);
	free(t);

	for (int i = 0; i < N_SMALL; i++)
		free(ps[i]);
	for (int i = 0; i < N_MID; i++)
		free(pm[i]);
	for (int i = 0; i < N_BIG; i++)
		free(pb[i]);
	for (int i = 0; i < N_MIXED; i++)
		free(px[i]);
	for (int i = 0; i < 1000; i++)
		free(pz[i]);
	/* The weights released are the weights added: exactly zero. */
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 100, &t, &n), 0);
	EXPECT_EQ(n, 0);
	free(t);
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 0);
	EXPECT_EQ(gh__trace_stop(), 0);
}

int main(void)
{
	return RUN_TESTS();
}
