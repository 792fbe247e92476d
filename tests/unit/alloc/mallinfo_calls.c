/*
 * mallinfo_calls -- glibc's statistics and tuning calls answer for the heap
 * glassheap serves (alloc/mallinfo.c): mallinfo2/mallinfo count the
 * program's requested bytes exactly, malloc_trim gives freed pages back,
 * malloc_stats and malloc_info keep glibc's formats, mallopt accepts glibc's
 * parameters.
 *
 * Run linked (static or shared) or under LD_PRELOAD; $GH_TEST_FROM names the
 * object that must define mallinfo2 (glassheap's, not libc's). With the
 * argument "passthrough" it runs under an RLIMIT_AS too small for the cage:
 * glassheap passes everything to the system allocator, and these calls must
 * answer for that allocator's heap.
 */
#include "test.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keeps p alive against the optimizer (a malloc whose result is never read
 * may be deleted). */
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static size_t resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

TEST(glassheap_defines_them)
{
	const char *from = getenv("GH_TEST_FROM");
	ASSERT_TRUE(from != NULL);
	const char *names[] = {"mallinfo", "mallinfo2", "malloc_stats", "malloc_info", "malloc_trim", "mallopt"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		void *f = dlsym(RTLD_DEFAULT, names[i]);
		Dl_info info;
		ASSERT_TRUE(f != NULL && dladdr(f, &info) && info.dli_fname);
		if (!strstr(info.dli_fname, from))
			fprintf(stderr, "  %s comes from %s, not %s\n", names[i], info.dli_fname, from);
		EXPECT_TRUE(strstr(info.dli_fname, from) != NULL);
	}
}

#define NBLOCKS 1000

TEST(mallinfo2_counts_requested_bytes)
{
	static void *p[NBLOCKS + 2];
	struct mallinfo2 m0 = mallinfo2();
	size_t want = 0;
	for (size_t i = 0; i < NBLOCKS; i++) {
		p[i] = malloc(i + 1);
		ASSERT_TRUE(p[i] != NULL);
		memset(p[i], 0x5a, i + 1);
		ESCAPE(p[i]);
		want += i + 1;
	}
	p[NBLOCKS] = malloc((size_t)3 << 20); /* a large block */
	p[NBLOCKS + 1] = calloc(1, 40000);
	ASSERT_TRUE(p[NBLOCKS] != NULL && p[NBLOCKS + 1] != NULL);
	ESCAPE(p[NBLOCKS]);
	ESCAPE(p[NBLOCKS + 1]);
	want += ((size_t)3 << 20) + 40000;

	struct mallinfo2 m1 = mallinfo2();
	EXPECT_EQ(m1.uordblks - m0.uordblks, want);
	EXPECT_TRUE(m1.arena >= m1.uordblks);
	EXPECT_TRUE(m1.arena - m0.arena >= want / 2); /* (small blocks may fill slabs begun before) */
	EXPECT_EQ(m1.fordblks, m1.arena - m1.uordblks);
	EXPECT_EQ(m1.hblks, 0);
	EXPECT_EQ(m1.hblkhd, 0);

	/* the legacy call (deprecated by glibc, still called): the same figures in ints */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo l = mallinfo();
#pragma GCC diagnostic pop
	EXPECT_EQ((size_t)(unsigned)l.uordblks, m1.uordblks & 0xffffffffu);
	EXPECT_EQ((size_t)(unsigned)l.arena, m1.arena & 0xffffffffu);

	for (size_t i = 0; i < NBLOCKS + 2; i++)
		free(p[i]);
	struct mallinfo2 m2 = mallinfo2();
	EXPECT_EQ(m2.uordblks, m0.uordblks);
}

#define TRIM_BLOCKS 200000
#define TRIM_SIZE 320 /* 64 MB of small blocks */

TEST(malloc_trim_gives_freed_pages_back)
{
	void **p = malloc(TRIM_BLOCKS * sizeof *p);
	ASSERT_TRUE(p != NULL);
	for (size_t i = 0; i < TRIM_BLOCKS; i++) {
		p[i] = malloc(TRIM_SIZE);
		ASSERT_TRUE(p[i] != NULL);
		memset(p[i], 1, TRIM_SIZE);
	}
	void *big[8];
	for (size_t i = 0; i < 8; i++) {
		big[i] = malloc((size_t)4 << 20);
		ASSERT_TRUE(big[i] != NULL);
		memset(big[i], 2, (size_t)4 << 20);
	}
	for (size_t i = 0; i < TRIM_BLOCKS; i++)
		free(p[i]);
	for (size_t i = 0; i < 8; i++)
		free(big[i]);
	free(p);

	/* jemalloc's decay gives some pages back by itself over seconds (more
	 * of them when a loaded machine slows the loops above): the trim must
	 * give back the rest, and most of the 96 MiB must still be there. */
	size_t before = resident_bytes();
	struct mallinfo2 m = mallinfo2();
	EXPECT_TRUE(m.keepcost >= (size_t)32 << 20);
	EXPECT_EQ(malloc_trim(0), 1);
	size_t after = resident_bytes();
	fprintf(stderr, "  resident %zu -> %zu MiB, keepcost %zu -> %zu MiB\n", before >> 20, after >> 20,
		m.keepcost >> 20, mallinfo2().keepcost >> 20);
	EXPECT_TRUE(after + m.keepcost / 4 * 3 <= before);
	EXPECT_TRUE(mallinfo2().keepcost < (size_t)1 << 20);
}

/* Runs fn with standard error going to a temporary file; returns what it
 * wrote. fn runs once the file is open (its FILE is an allocation too). */
static char *capture_stderr(void (*fn)(void))
{
	static char out[4096];
	FILE *tmp = tmpfile();
	if (!tmp)
		return NULL;
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	fn();
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, sizeof out - 1, tmp);
	out[n] = 0;
	fclose(tmp);
	return out;
}

static struct mallinfo2 stats_seen;

static void stats_now(void)
{
	stats_seen = mallinfo2();
	malloc_stats();
}

TEST(malloc_stats_keeps_glibcs_format)
{
	void *keep = malloc(123456);
	ASSERT_TRUE(keep != NULL);
	ESCAPE(keep);
	char *s = capture_stderr(stats_now);
	ASSERT_TRUE(s != NULL);
	const char *in_use = strstr(s, "in use bytes     = ");
	ASSERT_TRUE(strncmp(s, "Arena 0:\nsystem bytes     = ", 28) == 0 && in_use != NULL);
	EXPECT_EQ(strtoull(in_use + 19, NULL, 10), stats_seen.uordblks);
	EXPECT_TRUE(stats_seen.uordblks >= 123456);
	EXPECT_TRUE(strstr(s, "Total (incl. mmap):\n") != NULL);
	EXPECT_TRUE(strstr(s, "max mmap bytes   = ") != NULL);
	free(keep);
}

TEST(malloc_info_writes_glibcs_xml)
{
	FILE *f = tmpfile();
	ASSERT_TRUE(f != NULL);
	EXPECT_EQ(malloc_info(0, f), 0);
	rewind(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	EXPECT_TRUE(strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\">\n", 35) == 0);
	EXPECT_TRUE(n > 10 && strcmp(buf + n - 10, "</malloc>\n") == 0);
	EXPECT_TRUE(strstr(buf, "<system type=\"current\" size=\"") != NULL);
	errno = 0;
	EXPECT_EQ(malloc_info(1, stdout), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST(mallopt_accepts_glibcs_parameters)
{
	EXPECT_EQ(mallopt(M_ARENA_MAX, 2), 1);
	EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
	EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
	EXPECT_EQ(mallopt(12345, 1), 0);
	void *p = malloc(100); /* allocation is unchanged */
	ASSERT_TRUE(p != NULL);
	ESCAPE(p);
	free(p);
}

/* Under an RLIMIT_AS too small for the cage (ctest's passthrough variant):
 * the system allocator serves the program, and mallinfo2 is its own. */
static int passthrough(void)
{
	struct mallinfo2 m0 = mallinfo2();
	void *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = malloc(1000);
		if (!p[i])
			return 1;
		ESCAPE(p[i]);
	}
	struct mallinfo2 m1 = mallinfo2();
	size_t grew = m1.uordblks - m0.uordblks;
	int ok = grew >= 100 * 1000 && grew <= 100 * 1100 && malloc_trim(0) >= 0 && mallopt(M_ARENA_MAX, 2) == 1;
	for (int i = 0; i < 100; i++)
		free(p[i]);
	printf("pass-through: the system allocator's uordblks grew by %zu for 100 x 1000 bytes: %s\n", grew,
	       ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "passthrough") == 0)
		return passthrough();
	return RUN_TESTS();
}
