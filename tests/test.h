/*
 * test.h -- the tiny harness every glassheap test executable uses.
 *
 *   TEST(name) { EXPECT_EQ(a, b); ASSERT_TRUE(p != NULL); }
 *   int main(void) { return RUN_TESTS(); }
 *
 * EXPECT_* records a failure and continues; ASSERT_* records it and leaves
 * the current test; SKIP("why") leaves a test that cannot run here (a kernel
 * feature or a tool missing). Tests run in file order. The process exits 1
 * when anything failed, else 77 when a test skipped (ctest's
 * SKIP_RETURN_CODE, set by gh_add_test: reported as skipped, never as a
 * pass), else 0; it prints one "N passed, N failed, N skipped" line at the end.
 */
#ifndef GH_TEST_H
#define GH_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*gh_test_fn)(void);
struct gh_test_case {
	const char *name;
	gh_test_fn fn;
};

#define GH_TEST_MAX 512
static struct gh_test_case gh_test_cases[GH_TEST_MAX];
static int gh_test_ncases;
static int gh_test_failed_now;
static int gh_test_skipped_now;

/* The exit status of a run with a skipped test (ctest's SKIP_RETURN_CODE). */
#define GH_TEST_SKIP_CODE 77

#define SKIP(why)                                                                  \
	do {                                                                       \
		fprintf(stderr, "  SKIP: %s\n", (why));                             \
		gh_test_skipped_now = 1;                                           \
		return;                                                            \
	} while (0)

static inline void gh_test_register(const char *name, gh_test_fn fn)
{
	if (gh_test_ncases < GH_TEST_MAX)
		gh_test_cases[gh_test_ncases++] = (struct gh_test_case){name, fn};
}

#define TEST(name)                                                                 \
	static void test_##name(void);                                             \
	__attribute__((constructor)) static void test_register_##name(void)        \
	{                                                                          \
		gh_test_register(#name, test_##name);                              \
	}                                                                          \
	static void test_##name(void)

#define GH_TEST_FAIL_(fmt, ...)                                                            \
	do {                                                                               \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);    \
		gh_test_failed_now = 1;                                                    \
	} while (0)

#define EXPECT_TRUE(c)                                                             \
	do {                                                                       \
		if (!(c))                                                          \
			GH_TEST_FAIL_("expected true: %s", #c);                    \
	} while (0)
#define ASSERT_TRUE(c)                                                             \
	do {                                                                       \
		if (!(c)) {                                                        \
			GH_TEST_FAIL_("expected true: %s", #c);                    \
			return;                                                    \
		}                                                                  \
	} while (0)
#define EXPECT_FALSE(c) EXPECT_TRUE(!(c))
#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))

#define GH_TEST_CMP_(a, op, b, ret)                                                        \
	do {                                                                               \
		long long gh_a_ = (long long)(a), gh_b_ = (long long)(b);                  \
		if (!(gh_a_ op gh_b_)) {                                                   \
			GH_TEST_FAIL_("expected %s %s %s (%lld vs %lld)", #a, #op, #b, gh_a_, \
				      gh_b_);                                              \
			ret;                                                               \
		}                                                                          \
	} while (0)
#define EXPECT_EQ(a, b) GH_TEST_CMP_(a, ==, b, (void)0)
#define EXPECT_NE(a, b) GH_TEST_CMP_(a, !=, b, (void)0)
#define EXPECT_LT(a, b) GH_TEST_CMP_(a, <, b, (void)0)
#define EXPECT_LE(a, b) GH_TEST_CMP_(a, <=, b, (void)0)
#define EXPECT_GT(a, b) GH_TEST_CMP_(a, >, b, (void)0)
#define EXPECT_GE(a, b) GH_TEST_CMP_(a, >=, b, (void)0)
#define ASSERT_EQ(a, b) GH_TEST_CMP_(a, ==, b, return)
#define ASSERT_NE(a, b) GH_TEST_CMP_(a, !=, b, return)
#define ASSERT_LT(a, b) GH_TEST_CMP_(a, <, b, return)
#define ASSERT_LE(a, b) GH_TEST_CMP_(a, <=, b, return)
#define ASSERT_GT(a, b) GH_TEST_CMP_(a, >, b, return)
#define ASSERT_GE(a, b) GH_TEST_CMP_(a, >=, b, return)

#define EXPECT_STREQ(a, b)                                                                 \
	do {                                                                               \
		const char *gh_sa_ = (a), *gh_sb_ = (b);                                   \
		if (!gh_sa_ || !gh_sb_ || strcmp(gh_sa_, gh_sb_) != 0)                     \
			GH_TEST_FAIL_("expected %s == %s (\"%s\" vs \"%s\")", #a, #b,       \
				      gh_sa_ ? gh_sa_ : "(null)", gh_sb_ ? gh_sb_ : "(null)"); \
	} while (0)
#define ASSERT_STREQ(a, b)                                                                 \
	do {                                                                               \
		const char *gh_sa_ = (a), *gh_sb_ = (b);                                   \
		if (!gh_sa_ || !gh_sb_ || strcmp(gh_sa_, gh_sb_) != 0) {                   \
			GH_TEST_FAIL_("expected %s == %s (\"%s\" vs \"%s\")", #a, #b,       \
				      gh_sa_ ? gh_sa_ : "(null)", gh_sb_ ? gh_sb_ : "(null)"); \
			return;                                                            \
		}                                                                          \
	} while (0)

static inline int gh_test_run_all(const char *only)
{
	int passed = 0, failed = 0, skipped = 0;
	for (int i = 0; i < gh_test_ncases; i++) {
		if (only && strcmp(only, gh_test_cases[i].name) != 0)
			continue;
		gh_test_failed_now = 0;
		gh_test_skipped_now = 0;
		fprintf(stderr, "[ RUN  ] %s\n", gh_test_cases[i].name);
		gh_test_cases[i].fn();
		if (gh_test_failed_now) {
			failed++;
			fprintf(stderr, "[ FAIL ] %s\n", gh_test_cases[i].name);
		} else if (gh_test_skipped_now) {
			skipped++;
			fprintf(stderr, "[ SKIP ] %s\n", gh_test_cases[i].name);
		} else {
			passed++;
			fprintf(stderr, "[  OK  ] %s\n", gh_test_cases[i].name);
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : skipped ? GH_TEST_SKIP_CODE : 0;
}

/* RUN_TESTS() runs every test; GH_TEST_ONLY=name runs one. */
#define RUN_TESTS() gh_test_run_all(getenv("GH_TEST_ONLY"))

#endif /* GH_TEST_H */
