/*
 * Tracing, end to end: allocation sites on known lines in known noinline
 * call chains allocate known amounts, and top (by line and by file),
 * traceback, snapshots and compare must give exactly those files, lines,
 * source text, functions, sizes and counts. Run twice by ctest, with
 * GLASSHEAP_UNWIND=fp and =dwarf (and GLASSHEAP_TRACE_SNAPSHOTS=4); the
 * chain through nofp_lib.c, built without frame pointers, is complete only
 * with DWARF.
 */
#include "internal.h"
#include "test.h"
#include "trace_test.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int unw_backtrace(void **buffer, int size); /* libunwind, linked by glassheap */

/* ---- Sites in this file ------------------------------------------------------------ */

int line_a, line_chain2, line_chain1, line_b, line_e, line_inl, line_outer_inl, line_realloc, line_calloc,
	line_aligned, line_main, line_thread;

static NOIPA void *alloc_a(size_t n)
{
	void *p = malloc(n); line_a = __LINE__;
	return p;
}

static NOIPA void *chain2(size_t n)
{
	void *p = alloc_a(n); line_chain2 = __LINE__;
	return p;
}

static NOIPA void *chain1(size_t n)
{
	void *p = chain2(n); line_chain1 = __LINE__;
	return p;
}

static NOIPA void *alloc_b(size_t n)
{
	void *p = malloc(n); line_b = __LINE__;
	return p;
}

static NOIPA void *alloc_e(size_t n)
{
	void *p = malloc(n); line_e = __LINE__;
	return p;
}

static inline __attribute__((always_inline)) void *inl(size_t n)
{
	void *p = malloc(n); line_inl = __LINE__;
	return p;
}

static NOIPA void *outer_inl(size_t n)
{
	void *p = inl(n); line_outer_inl = __LINE__;
	return p;
}

static NOIPA void *do_realloc(void *p, size_t n)
{
	void *q = realloc(p, n); line_realloc = __LINE__;
	return q;
}

static NOIPA void *do_calloc(size_t n)
{
	void *p = calloc(1, n); line_calloc = __LINE__;
	return p;
}

static NOIPA void *do_aligned(size_t n)
{
	void *p = aligned_alloc(256, n); line_aligned = __LINE__;
	return p;
}

/* ---- Helpers (none allocates: they run while tracing) ------------------------------- */

static char dir[1024];

static const char *path_of(const char *name)
{
	static char buf[8][1200];
	static int k;
	if (!dir[0]) {
		strcpy(dir, __FILE__);
		*strrchr(dir, '/') = '\0';
	}
	char *b = buf[k++ & 7];
	snprintf(b, sizeof buf[0], "%s/%s", dir, name);
	return b;
}

/* Line n of file, whitespace-stripped, read independently of symbols.c. */
static const char *text_of(const char *file, int n)
{
	static char data[4][1 << 17];
	static char names[4][1200];
	static char out[4][512];
	static int k;
	int slot = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(names[i], file) == 0)
			slot = i;
	if (slot < 0) {
		slot = k++ & 3;
		snprintf(names[slot], sizeof names[slot], "%s", file);
		int fd = open(file, O_RDONLY);
		ssize_t got = fd >= 0 ? read(fd, data[slot], sizeof data[slot] - 1) : 0;
		data[slot][got > 0 ? got : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	const char *p = data[slot];
	for (int i = 1; i < n && p; i++)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	char *o = out[slot];
	o[0] = '\0';
	if (!p || n < 1)
		return o;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strcspn(p, "\n");
	if (len >= 512)
		len = 511;
	memcpy(o, p, len);
	while (len && (o[len - 1] == ' ' || o[len - 1] == '\t' || o[len - 1] == '\r'))
		len--;
	o[len] = '\0';
	return o;
}

/* Line of the first occurrence of needle in file. */
static int line_containing(const char *file, const char *needle)
{
	for (int i = 1; i < 5000; i++)
		if (strstr(text_of(file, i), needle))
			return i;
	return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define EXPECT_FRAME(f, file, lno, fn)                                                           \
	do {                                                                                     \
		const struct gh_trace_frame *f_ = (f);                                           \
		EXPECT_STREQ(f_->filename, (file));                                              \
		EXPECT_EQ(f_->lineno, (lno));                                                    \
		EXPECT_STREQ(f_->function, (fn));                                                \
		EXPECT_STREQ(f_->line, text_of((file), (lno)));                                  \
	} while (0)

static enum gh_unwinder unwinder(void)
{
	struct gh_trace_status st;
	gh__trace_status(&st);
	return st.unwinder;
}

static void stop_quietly(void)
{
	(void)gh__trace_stop();
}

static void free_all(void **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
}

static void delete_all_snapshots(void)
{
	char names[GH_TRACE_SNAPSHOTS_LIMIT][GH_TRACE_NAME_MAX + 1];
	size_t n = gh__trace_snapshot_names(names, GH_TRACE_SNAPSHOTS_LIMIT);
	for (size_t i = 0; i < n; i++)
		gh__trace_snapshot_delete(names[i]);
}

/* ---- Tests --------------------------------------------------------------------------- */

TEST(unwinder_choice)
{
	/* This program is built with frame pointers: AUTO picks fp. */
	EXPECT_TRUE(gh__unwind_exe_has_fp());
	const char *env = getenv("GLASSHEAP_UNWIND");
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	if (env && strcmp(env, "dwarf") == 0)
		EXPECT_EQ(unwinder(), GH_UNWIND_DWARF);
	else
		EXPECT_EQ(unwinder(), GH_UNWIND_FP);
	EXPECT_EQ(gh__trace_start(25, 0), EALREADY);
	EXPECT_EQ(gh__trace_stop(), 0);
	EXPECT_EQ(gh__trace_stop(), ESRCH);
	EXPECT_EQ(gh__trace_start(0, 0), EINVAL);
	EXPECT_EQ(gh__trace_start(101, 0), EINVAL);
}

TEST(top_by_lineno_and_filename)
{
	stop_quietly();
	void *a[12], *b[5], *c[7], *d[3];
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	for (int i = 0; i < 12; i++)
		a[i] = chain1(1000);
	for (int i = 0; i < 5; i++)
		b[i] = alloc_b(333);
	for (int i = 0; i < 7; i++)
		c[i] = other_alloc(4096);
	for (int i = 0; i < 3; i++)
		d[i] = nofp_outer(2000, 0);
	free(a[10]);
	free(a[11]);

	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_TRUE(st.is_tracing);
	EXPECT_EQ(st.frames, 25);
	EXPECT_EQ(st.current_bytes, 10000 + 1665 + 28672 + 6000);
	EXPECT_EQ(st.peak_bytes, 12000 + 1665 + 28672 + 6000);
	EXPECT_EQ(st.nested, 0);
	EXPECT_EQ(st.untraced, 0);

	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 4);
	const char *main_c = __FILE__, *other_c = path_of("trace_other.c"), *nofp_c = path_of("nofp_lib.c");
	EXPECT_EQ(t[0].size, 28672); EXPECT_EQ(t[0].count, 7);
	EXPECT_FRAME(&t[0].frame, other_c, line_other_inner, "other_inner");
	EXPECT_EQ(t[1].size, 10000); EXPECT_EQ(t[1].count, 10);
	EXPECT_FRAME(&t[1].frame, main_c, line_a, "alloc_a");
	EXPECT_STREQ(t[1].frame.line, "void *p = malloc(n); line_a = __LINE__;");
	EXPECT_EQ(t[2].size, 6000); EXPECT_EQ(t[2].count, 3);
	EXPECT_FRAME(&t[2].frame, nofp_c, line_nofp_inner, "nofp_unmapped");
	EXPECT_EQ(t[3].size, 1665); EXPECT_EQ(t[3].count, 5);
	EXPECT_FRAME(&t[3].frame, main_c, line_b, "alloc_b");
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(t[i].size_diff, 0);
		EXPECT_EQ(t[i].count_diff, 0);
	}
	free(t);

	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 2, &t, &n), 0);
	EXPECT_EQ(n, 2);
	free(t);

	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_FILENAME, 10, &t, &n), 0);
	ASSERT_EQ(n, 3);
	EXPECT_STREQ(t[0].frame.filename, other_c); EXPECT_EQ(t[0].size, 28672); EXPECT_EQ(t[0].count, 7);
	EXPECT_STREQ(t[1].frame.filename, main_c); EXPECT_EQ(t[1].size, 11665); EXPECT_EQ(t[1].count, 15);
	EXPECT_STREQ(t[2].frame.filename, nofp_c); EXPECT_EQ(t[2].size, 6000); EXPECT_EQ(t[2].count, 3);
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(t[i].frame.lineno, 0);
		EXPECT_STREQ(t[i].frame.line, "");
	}
	free(t);

	free_all(a, 10), free_all(b, 5), free_all(c, 7), free_all(d, 3);
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 0);
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	EXPECT_EQ(n, 0);
	free(t);
	stop_quietly();
}

/* The frames every chain from a test function shares: the test function,
 * the harness (inlined into main, or not) and main. */
static void expect_tail(const struct gh_trace_tb *tb, size_t at, const char *test_fn, int test_line)
{
	const char *main_c = __FILE__;
	ASSERT_GE(tb->nframes, at + 3);
	EXPECT_FRAME(&tb->frames[at], main_c, test_line, test_fn);
	const struct gh_trace_frame *h = &tb->frames[at + 1];
	EXPECT_TRUE(ends_with(h->filename, "/test.h"));
	EXPECT_EQ(h->lineno, line_containing(h->filename, "gh_test_cases[i].fn();"));
	EXPECT_STREQ(h->function, "gh_test_run_all");
	EXPECT_STREQ(h->line, "gh_test_cases[i].fn();");
	EXPECT_FRAME(&tb->frames[at + 2], main_c, line_main, "main");
}

static int line_tb_a, line_tb_inl, line_tb_nofp;

TEST(traceback_chains)
{
	stop_quietly();
	void *a[3], *i2[2], *d[2];
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = chain1(1000); line_tb_a = __LINE__;
	}
	for (int i = 0; i < 2; i++) {
		i2[i] = outer_inl(555); line_tb_inl = __LINE__;
	}
	for (int i = 0; i < 2; i++) {
		d[i] = nofp_outer(700, 0); line_tb_nofp = __LINE__;
	}

	struct gh_trace_tb *tb;
	size_t n;
	ASSERT_EQ(gh__trace_traceback(10, &tb, &n), 0);
	ASSERT_EQ(n, 3);
	const char *main_c = __FILE__, *nofp_c = path_of("nofp_lib.c");

	EXPECT_EQ(tb[0].size, 3000); EXPECT_EQ(tb[0].count, 3);
	ASSERT_GE(tb[0].nframes, 6);
	EXPECT_FRAME(&tb[0].frames[0], main_c, line_a, "alloc_a");
	EXPECT_FRAME(&tb[0].frames[1], main_c, line_chain2, "chain2");
	EXPECT_FRAME(&tb[0].frames[2], main_c, line_chain1, "chain1");
	for (int i = 0; i < 3; i++)
		EXPECT_FALSE(tb[0].frames[i].inlined);
	expect_tail(&tb[0], 3, "test_traceback_chains", line_tb_a);

	/* Through the library without frame pointers. */
	EXPECT_EQ(tb[1].size, 1400); EXPECT_EQ(tb[1].count, 2);
	EXPECT_FRAME(&tb[1].frames[0], nofp_c, line_nofp_inner, "nofp_unmapped");
	EXPECT_TRUE(strstr(tb[1].frames[0].module, "libgh_trace_nofp") != NULL);
	if (unwinder() == GH_UNWIND_DWARF) {
		ASSERT_GE(tb[1].nframes, 5);
		EXPECT_FRAME(&tb[1].frames[1], nofp_c, line_nofp_outer, "nofp_outer");
		expect_tail(&tb[1], 2, "test_traceback_chains", line_tb_nofp);
	} else {
		/* rbp held an unmapped address: the walk stops after the first frame. */
		EXPECT_EQ(tb[1].nframes, 1);
	}

	/* The inlined call is its own logical frame of the same address. */
	EXPECT_EQ(tb[2].size, 1110); EXPECT_EQ(tb[2].count, 2);
	ASSERT_GE(tb[2].nframes, 5);
	EXPECT_FRAME(&tb[2].frames[0], main_c, line_inl, "inl");
	EXPECT_TRUE(tb[2].frames[0].inlined);
	EXPECT_FRAME(&tb[2].frames[1], main_c, line_outer_inl, "outer_inl");
	EXPECT_FALSE(tb[2].frames[1].inlined);
	EXPECT_EQ(tb[2].frames[0].address, tb[2].frames[1].address);
	expect_tail(&tb[2], 2, "test_traceback_chains", line_tb_inl);
	free(tb);

	ASSERT_EQ(gh__trace_traceback(1, &tb, &n), 0);
	EXPECT_EQ(n, 1);
	EXPECT_EQ(tb[0].size, 3000);
	free(tb);
	free_all(a, 3), free_all(i2, 2), free_all(d, 2);
	stop_quietly();
}

TEST(frame_limit)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(2, 0), 0);
	void *p = chain1(100);
	struct gh_trace_tb *tb;
	size_t n;
	ASSERT_EQ(gh__trace_traceback(5, &tb, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(tb[0].nframes, 2);
	EXPECT_FRAME(&tb[0].frames[0], __FILE__, line_a, "alloc_a");
	EXPECT_FRAME(&tb[0].frames[1], __FILE__, line_chain2, "chain2");
	free(tb);
	free(p);
	stop_quietly();

	ASSERT_EQ(gh__trace_start(1, 0), 0);
	p = chain1(100);
	ASSERT_EQ(gh__trace_traceback(5, &tb, &n), 0);
	ASSERT_EQ(n, 1);
	EXPECT_EQ(tb[0].nframes, 1);
	free(tb);
	free(p);
	stop_quietly();
}

TEST(garbage_frame_pointers_are_safe)
{
	stop_quietly();
	/* rbp pointing into the stack at no frame: the fp walk may record junk
	 * but must neither fault nor lose the first frame. */
	ASSERT_EQ(gh__trace_start(100, 0), 0);
	void *p[50];
	for (int i = 0; i < 50; i++)
		p[i] = nofp_outer(64, i % 3);
	struct gh_trace_tb *tb;
	size_t n;
	ASSERT_EQ(gh__trace_traceback(50, &tb, &n), 0);
	ASSERT_GE(n, 1);
	for (size_t i = 0; i < n; i++)
		EXPECT_STREQ(tb[i].frames[0].filename, path_of("nofp_lib.c"));
	free(tb);
	free_all(p, 50);
	stop_quietly();
}

static int line_cmp_a1, line_cmp_a2;

TEST(compare_snapshots)
{
	stop_quietly();
	void *a[8], *b[4], *c, *e[2];
	delete_all_snapshots();
	EXPECT_EQ(gh__trace_snapshot("s1"), ESRCH); /* not tracing */
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	for (int i = 0; i < 5; i++) {
		a[i] = chain1(1000); line_cmp_a1 = __LINE__;
	}
	for (int i = 0; i < 4; i++)
		b[i] = alloc_b(333);
	c = other_alloc(4096);
	ASSERT_EQ(gh__trace_snapshot("s1"), 0);
	for (int i = 5; i < 8; i++) {
		a[i] = chain1(1000); line_cmp_a2 = __LINE__;
	}
	for (int i = 1; i < 4; i++)
		free(b[i]);
	for (int i = 0; i < 2; i++)
		e[i] = alloc_e(100);
	ASSERT_EQ(gh__trace_snapshot("s2"), 0);

	const char *main_c = __FILE__, *other_c = path_of("trace_other.c");
	struct gh_trace_stat *d;
	size_t n;
	ASSERT_EQ(gh__trace_compare("s1", "s2", GH_TRACE_BY_LINENO, 10, &d, &n), 0);
	ASSERT_EQ(n, 4);
	EXPECT_FRAME(&d[0].frame, main_c, line_a, "alloc_a");
	EXPECT_EQ(d[0].size_diff, 3000); EXPECT_EQ(d[0].count_diff, 3);
	EXPECT_EQ(d[0].size, 8000); EXPECT_EQ(d[0].count, 8);
	EXPECT_FRAME(&d[1].frame, main_c, line_b, "alloc_b");
	EXPECT_EQ(d[1].size_diff, -999); EXPECT_EQ(d[1].count_diff, -3);
	EXPECT_EQ(d[1].size, 333); EXPECT_EQ(d[1].count, 1);
	EXPECT_FRAME(&d[2].frame, main_c, line_e, "alloc_e");
	EXPECT_EQ(d[2].size_diff, 200); EXPECT_EQ(d[2].count_diff, 2);
	EXPECT_EQ(d[2].size, 200); EXPECT_EQ(d[2].count, 2);
	/* Unchanged lines are listed too, last. */
	EXPECT_FRAME(&d[3].frame, other_c, line_other_inner, "other_inner");
	EXPECT_EQ(d[3].size_diff, 0); EXPECT_EQ(d[3].count_diff, 0);
	EXPECT_EQ(d[3].size, 4096); EXPECT_EQ(d[3].count, 1);
	free(d);

	ASSERT_EQ(gh__trace_compare("s1", "s2", GH_TRACE_BY_LINENO, 3, &d, &n), 0);
	EXPECT_EQ(n, 3);
	free(d);

	/* The other way round: shrinkage is growth. */
	ASSERT_EQ(gh__trace_compare("s2", "s1", GH_TRACE_BY_LINENO, 10, &d, &n), 0);
	ASSERT_EQ(n, 4);
	EXPECT_EQ(d[0].size_diff, -3000); EXPECT_EQ(d[0].count_diff, -3); EXPECT_EQ(d[0].size, 5000);
	EXPECT_EQ(d[1].size_diff, 999); EXPECT_EQ(d[1].count_diff, 3); EXPECT_EQ(d[1].size, 1332);
	EXPECT_EQ(d[2].size_diff, -200); EXPECT_EQ(d[2].count_diff, -2); EXPECT_EQ(d[2].size, 0);
	free(d);

	ASSERT_EQ(gh__trace_compare("s1", "s2", GH_TRACE_BY_FILENAME, 10, &d, &n), 0);
	ASSERT_EQ(n, 2);
	EXPECT_STREQ(d[0].frame.filename, main_c);
	EXPECT_EQ(d[0].size_diff, 3000 - 999 + 200); EXPECT_EQ(d[0].count_diff, 3 - 3 + 2);
	EXPECT_EQ(d[0].frame.lineno, 0); EXPECT_STREQ(d[0].frame.line, "");
	EXPECT_STREQ(d[1].frame.filename, other_c);
	EXPECT_EQ(d[1].size_diff, 0); EXPECT_EQ(d[1].count_diff, 0);
	free(d);

	EXPECT_EQ(gh__trace_compare("s1", "nope", GH_TRACE_BY_LINENO, 10, &d, &n), ENOENT);
	EXPECT_TRUE(d == NULL);

	/* Snapshots survive stop; compare still works; the rest wants tracing. */
	ASSERT_EQ(gh__trace_stop(), 0);
	char names[8][GH_TRACE_NAME_MAX + 1];
	ASSERT_EQ(gh__trace_snapshot_names(names, 8), 2);
	EXPECT_STREQ(names[0], "s1");
	EXPECT_STREQ(names[1], "s2");
	ASSERT_EQ(gh__trace_compare("s1", "s2", GH_TRACE_BY_LINENO, 10, &d, &n), 0);
	EXPECT_EQ(n, 4);
	EXPECT_EQ(d[0].size_diff, 3000);
	free(d);
	struct gh_trace_stat *t;
	EXPECT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), ESRCH);
	struct gh_trace_tb *tb;
	EXPECT_EQ(gh__trace_traceback(10, &tb, &n), ESRCH);
	EXPECT_EQ(gh__trace_snapshot("s3"), ESRCH);
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_FALSE(st.is_tracing);
	EXPECT_EQ(st.current_bytes, 0);
	EXPECT_EQ(st.snapshots, 2);

	/* Delete. */
	EXPECT_TRUE(gh__trace_snapshot_exists("s1"));
	EXPECT_EQ(gh__trace_snapshot_delete("s1"), 0);
	EXPECT_FALSE(gh__trace_snapshot_exists("s1"));
	EXPECT_EQ(gh__trace_snapshot_delete("s1"), ENOENT);
	ASSERT_EQ(gh__trace_snapshot_names(names, 8), 1);
	EXPECT_STREQ(names[0], "s2");
	EXPECT_EQ(gh__trace_compare("s1", "s2", GH_TRACE_BY_LINENO, 10, &d, &n), ENOENT);

	free_all(a, 8), free(b[0]), free(c), free_all(e, 2);
	delete_all_snapshots();
}

TEST(snapshot_names_and_cap)
{
	stop_quietly();
	delete_all_snapshots();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	char long_name[80];
	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	EXPECT_EQ(gh__trace_snapshot(long_name), EINVAL);
	long_name[64] = '\0';
	EXPECT_EQ(gh__trace_snapshot(long_name), 0);
	EXPECT_EQ(gh__trace_snapshot(""), EINVAL);
	EXPECT_EQ(gh__trace_snapshot("a b"), EINVAL);
	EXPECT_EQ(gh__trace_snapshot("../x"), EINVAL);
	EXPECT_EQ(gh__trace_snapshot(NULL), EINVAL);
	EXPECT_EQ(gh__trace_snapshot("A-z_0.9"), 0);

	struct gh_trace_status st;
	gh__trace_status(&st);
	ASSERT_EQ(st.snapshots_max, 4); /* GLASSHEAP_TRACE_SNAPSHOTS=4 */
	EXPECT_EQ(gh__trace_snapshot("c2"), 0);
	EXPECT_EQ(gh__trace_snapshot("c3"), 0);
	EXPECT_EQ(gh__trace_snapshot("c4"), ENOSPC);

	/* Same name again: replaced (allowed at the cap), contents are new. */
	void *p = alloc_e(100);
	EXPECT_EQ(gh__trace_snapshot("c3"), 0);
	struct gh_trace_stat *d;
	size_t n;
	ASSERT_EQ(gh__trace_compare("c2", "c3", GH_TRACE_BY_LINENO, 10, &d, &n), 0);
	ASSERT_EQ(n, 1);
	EXPECT_EQ(d[0].size_diff, 100);
	free(d);
	char names[8][GH_TRACE_NAME_MAX + 1];
	ASSERT_EQ(gh__trace_snapshot_names(names, 8), 4);
	EXPECT_STREQ(names[3], "c3");

	EXPECT_EQ(gh__trace_snapshot_delete("c2"), 0);
	EXPECT_EQ(gh__trace_snapshot("c4"), 0);
	free(p);
	stop_quietly();
	delete_all_snapshots();
}

TEST(restart_is_a_new_session)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	void *old = chain1(1000);
	void *old2 = alloc_b(333);
	ASSERT_EQ(gh__trace_snapshot("before"), 0);
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 0);
	EXPECT_EQ(st.peak_bytes, 0);
	EXPECT_EQ(st.stacks, 0);

	void *y = alloc_e(100);
	free(old); /* an earlier session's block: not this session's business */
	void *q = do_realloc(old2, 2500); /* released there, traced here */
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 2600);
	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 2);
	EXPECT_FRAME(&t[0].frame, __FILE__, line_realloc, "do_realloc");
	EXPECT_EQ(t[0].size, 2500); EXPECT_EQ(t[0].count, 1);
	EXPECT_FRAME(&t[1].frame, __FILE__, line_e, "alloc_e");
	free(t);

	/* The old snapshot still compares against a new one by location. */
	ASSERT_EQ(gh__trace_snapshot("after"), 0);
	ASSERT_EQ(gh__trace_compare("before", "after", GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 4);
	EXPECT_FRAME(&t[0].frame, __FILE__, line_realloc, "do_realloc");
	EXPECT_EQ(t[0].size_diff, 2500);
	EXPECT_FRAME(&t[1].frame, __FILE__, line_a, "alloc_a");
	EXPECT_EQ(t[1].size_diff, -1000); EXPECT_EQ(t[1].count_diff, -1);
	free(t);
	free(y);
	free(q);
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 0);
	EXPECT_EQ(st.peak_bytes, 2600);
	stop_quietly();
	delete_all_snapshots();
}

TEST(site_of_a_traced_block)
{
	stop_quietly();
	void *untraced = alloc_a(10);
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	void *traced = alloc_a(10);
	/* the site was in the thread's site cache before the start: traced all the same */
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 10);
	EXPECT_NE(gh_ptr_site(traced), 0);
	EXPECT_EQ(gh_ptr_site(traced), gh_ptr_site(untraced));
	gh_ptr_info_t info;
	ASSERT_EQ(gh_ptr_info((char *)traced + 3, &info), 0);
	EXPECT_EQ(info.site, gh_ptr_site(untraced));
	EXPECT_EQ(info.size, 10);
	stop_quietly();
	/* Still right after stop, and freeing after stop releases nothing new. */
	EXPECT_EQ(gh_ptr_site(traced), gh_ptr_site(untraced));
	free(traced);
	free(untraced);
}

TEST(calloc_aligned_realloc_large)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	void *c = do_calloc(3000);
	void *al = do_aligned(700);
	void *big = alloc_b((size_t)3 << 20);
	void *r = do_realloc(NULL, 50);
	EXPECT_EQ((uintptr_t)al & 255, 0);
	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 4);
	EXPECT_FRAME(&t[0].frame, __FILE__, line_b, "alloc_b");
	EXPECT_EQ(t[0].size, 3 << 20);
	EXPECT_FRAME(&t[1].frame, __FILE__, line_calloc, "do_calloc");
	EXPECT_FRAME(&t[2].frame, __FILE__, line_aligned, "do_aligned");
	EXPECT_FRAME(&t[3].frame, __FILE__, line_realloc, "do_realloc");
	free(t);
	big = do_realloc(big, (size_t)4 << 20); /* large in place or moved */
	r = do_realloc(r, 20000);
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 3);
	EXPECT_FRAME(&t[0].frame, __FILE__, line_realloc, "do_realloc");
	EXPECT_EQ(t[0].size, (4 << 20) + 20000); EXPECT_EQ(t[0].count, 2);
	free(t);
	free(c), free(al), free(big), free(r);
	struct gh_trace_status st;
	gh__trace_status(&st);
	EXPECT_EQ(st.current_bytes, 0);
	stop_quietly();
}

TEST(missing_source_and_unknown_addresses)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	void *p = ghost_alloc(10);
	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 1);
	EXPECT_STREQ(t[0].frame.filename, "/nonexistent/glassheap/ghost.c");
	EXPECT_EQ(t[0].frame.lineno, line_ghost);
	EXPECT_STREQ(t[0].frame.line, "");
	EXPECT_STREQ(t[0].frame.function, "ghost_alloc");
	free(t);
	free(p);
	stop_quietly();

	const struct gh_trace_frame *f;
	ASSERT_EQ(gh__sym_frames(0x10, &f), 1);
	EXPECT_STREQ(f->filename, "<unknown>");
	EXPECT_EQ(f->lineno, 0);
	EXPECT_STREQ(f->line, "");
	/* A library without debug information (Debian's libunwind): its path,
	 * line 0, its symbol, its offset from the load bias. */
	ASSERT_EQ(gh__sym_frames((uintptr_t)&unw_backtrace + 1, &f), 1);
	EXPECT_TRUE(strstr(f->filename, "libunwind.so") != NULL);
	EXPECT_STREQ(f->filename, f->module);
	EXPECT_EQ(f->lineno, 0);
	EXPECT_STREQ(f->line, "");
	EXPECT_STREQ(f->function, "unw_backtrace");
	EXPECT_NE(f->offset, f->address);
	/* A relative name in debug information (Debian's glibc, when its
	 * debug symbols are installed) is never read from the current directory. */
	ASSERT_GE(gh__sym_frames((uintptr_t)&getpid + 1, &f), 1);
	if (f->filename[0] != '/')
		EXPECT_STREQ(f->line, "");
	EXPECT_STREQ(gh__sym_source_line("/nonexistent/x.c", 1), "");
	EXPECT_STREQ(gh__sym_source_line(__FILE__, 1), "/*");
}

TEST(dlopen_after_start)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	/* Symbolize something first, so the module list is read before dlopen. */
	void *p0 = alloc_e(1);
	struct gh_trace_stat *t;
	size_t n;
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	free(t);
	stop_quietly();
	void *h = dlopen(GH_TRACE_DL_PATH, RTLD_NOW);
	ASSERT_TRUE(h != NULL);
	dl_alloc_fn fn = (dl_alloc_fn)dlsym(h, "dl_alloc");
	int *dl_line = dlsym(h, "dl_line");
	ASSERT_TRUE(fn && dl_line);
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	void *p = fn(77);
	ASSERT_EQ(gh__trace_top(GH_TRACE_BY_LINENO, 10, &t, &n), 0);
	ASSERT_EQ(n, 1);
	EXPECT_FRAME(&t[0].frame, path_of("dl_lib.c"), *dl_line, "dl_alloc");
	EXPECT_EQ(t[0].size, 77);
	free(t);
	free(p);
	free(p0);
	stop_quietly();
}

static void *thread_body(void *arg)
{
	(void)arg;
	void *p = chain1(1000); line_thread = __LINE__;
	return p;
}

TEST(other_threads_and_no_nested_allocations)
{
	stop_quietly();
	ASSERT_EQ(gh__trace_start(25, 0), 0);
	struct gh_trace_status st;
	gh__trace_status(&st);
	uint64_t nested0 = st.nested;
	pthread_t th[4];
	void *r[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, thread_body, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], &r[i]);
	gh__trace_status(&st);
	/* The unwinders never allocated on a fresh thread. */
	EXPECT_EQ(st.nested, nested0);
	struct gh_trace_tb *tb;
	size_t n;
	ASSERT_EQ(gh__trace_traceback(50, &tb, &n), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (tb[i].frames[0].lineno != (unsigned)line_a)
			continue;
		found = true;
		EXPECT_EQ(tb[i].count, 4);
		ASSERT_GE(tb[i].nframes, 4);
		EXPECT_FRAME(&tb[i].frames[3], __FILE__, line_thread, "thread_body");
	}
	EXPECT_TRUE(found);
	free(tb);
	free_all(r, 4);
	stop_quietly();
}

TEST(public_api)
{
	stop_quietly();
	EXPECT_EQ(gh_trace_is_tracing(), 0);
	ASSERT_EQ(gh_trace_start(10, 0), 0);
	EXPECT_EQ(gh_trace_is_tracing(), 1);
	void *p = alloc_b(4321);
	uint64_t cur = 1, peak = 1;
	gh_trace_get_memory(&cur, &peak);
	EXPECT_EQ(cur, 4321);
	EXPECT_EQ(peak, 4321);
	free(p);
	gh_trace_get_memory(&cur, &peak);
	EXPECT_EQ(cur, 0);
	EXPECT_EQ(peak, 4321);
	EXPECT_EQ(gh_trace_stop(), 0);
	gh_trace_get_memory(&cur, &peak);
	EXPECT_EQ(cur, 0);
	EXPECT_EQ(peak, 0);
}

int main(void)
{
	line_main = __LINE__; return RUN_TESTS();
}
