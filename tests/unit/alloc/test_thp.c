/* Unit test for GLASSHEAP_THP (cage.c, options.c): which parts of the cage
 * are advised for transparent huge pages. The kernel shows the advice as
 * "hg" in the VmFlags of /proc/self/smaps. ctest runs this program four
 * times: default (auto, issue 15), GLASSHEAP_THP=auto, always and never.
 * With auto an arena's extents are advised past its own first 32 MiB (not
 * past a cage offset, which every arena's reservations push forward), and
 * the start map (heap.c) past its own first 32 MiB: a small program's
 * first allocation must not cost a 2 MiB page anywhere. */
#include "internal.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* 1 if the mapping holding addr has VM_HUGEPAGE, 0 if not, -1 if not found. */
static int advised(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	int in = 0, ret = -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = addr >= lo && addr < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			ret = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return ret;
}

TEST(cage_advice_follows_the_option)
{
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
		SKIP("no transparent huge pages in this kernel");
	void *p = malloc(64); /* initializes glassheap */
	ASSERT_TRUE(p != NULL);
	const char *mode = getenv("GLASSHEAP_THP");
	uintptr_t base = gh__cage.base;
	uintptr_t far = base + GH_THP_AUTO_FROM + ((size_t)8 << 20);
	ASSERT_TRUE(gh__cage.size > GH_THP_AUTO_FROM + ((size_t)16 << 20));
	uintptr_t sm = (uintptr_t)gh__startmap;
	uintptr_t sm_far = sm + GH_THP_AUTO_FROM + ((size_t)2 << 20);
	/* 64 MiB in 1 MiB blocks on this thread, so on one arena: its first
	 * block lies in its first 32 MiB, its last past them. */
	enum { NBIG = 64 };
	static void *big[NBIG];
	for (int i = 0; i < NBIG; i++) {
		big[i] = malloc((size_t)1 << 20);
		ASSERT_TRUE(big[i] != NULL);
		__asm__ volatile("" ::"r"(big[i]) : "memory");
	}
	uintptr_t first = (uintptr_t)big[0], last = (uintptr_t)big[NBIG - 1];
	if (mode && strcmp(mode, "always") == 0) {
		EXPECT_EQ(advised(base), 1);
		EXPECT_EQ(advised(far), 1);
		EXPECT_EQ(advised(first), 1);
		EXPECT_EQ(advised(sm), 1);
		EXPECT_EQ(advised(sm_far), 1);
	} else if (!mode || strcmp(mode, "auto") == 0) {
		EXPECT_EQ(advised(base), 0);
		EXPECT_EQ(advised(first), 0);
		EXPECT_EQ(advised(last), 1);
		/* the cage past 32 MiB is not advised for its offset alone */
		EXPECT_EQ(advised(gh__cage.base + gh__cage.size - ((size_t)8 << 20)), 0);
		EXPECT_EQ(advised(sm), 0);
		EXPECT_EQ(advised(sm + (GH_THP_AUTO_FROM >> GH_GRANULE_LG)), 0);
		EXPECT_EQ(advised(sm + GH_THP_AUTO_FROM - 4096), 0);
		EXPECT_EQ(advised(sm_far), 1);
	} else {
		EXPECT_EQ(advised(base), 0);
		EXPECT_EQ(advised(far), 0);
		EXPECT_EQ(advised(first), 0);
		EXPECT_EQ(advised(last), 0);
		EXPECT_EQ(advised(sm), 0);
		EXPECT_EQ(advised(sm_far), 0);
	}
	for (int i = 0; i < NBIG; i++)
		free(big[i]);
	free(p);
}

int main(void)
{
	return RUN_TESTS();
}
