/* The program's own mappings (alloc/mapped.c) when the system swaps: a
 * page swapped out still holds its pointers. Apart from test_mapped
 * because it needs swap space and memory pressure (SKIP without), e.g. as
 * root with a swap file on:
 *   mkdir /sys/fs/cgroup/memory/gh && echo 48M > /sys/fs/cgroup/memory/gh/memory.limit_in_bytes
 *   sh -c 'echo $$ > /sys/fs/cgroup/memory/gh/cgroup.procs &&
 *          GH_TEST_SWAP_PRESSURE_MB=96 exec build/tests/test_mapped_swap' */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "mover_test.h"
#include "test_util.h"

#include <stdlib.h>
#include <unistd.h>

#undef mmap
#undef munmap

#define PG 4096u

/* A page swapped out is not resident (mincore) but holds its pointers:
 * the pass reads /proc/self/pagemap's swapped bit. Needs swap space. */
TEST(swapped_out_pages_are_scanned)
{
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_mapped.swapped", &desc);
	char *region = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(region != MAP_FAILED);
	memset(region, 0, 256 * PG);
	volatile uintptr_t held = hold_at(region + 64, t);
	unsigned char in = 1;
	int rc = madvise(region, 256 * PG, MADV_PAGEOUT);
	/* the page goes to the swap cache, still "resident": memory pressure
	 * (GH_TEST_SWAP_PRESSURE_MB touched, run in a memory cgroup smaller
	 * than that) pushes it out */
	const char *mb = getenv("GH_TEST_SWAP_PRESSURE_MB");
	size_t press = mb ? (size_t)atol(mb) << 20 : 0;
	if (rc == 0 && press) {
		char *q = mmap(NULL, press, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q != MAP_FAILED) {
			memset(q, 1, press);
			munmap(q, press);
		}
	}
	if (rc != 0 || mincore(region, PG, &in) != 0 || (in & 1)) {
		munmap(region, 256 * PG);
		SKIP("the page could not be swapped out (needs swap space, MADV_PAGEOUT, and "
		     "GH_TEST_SWAP_PRESSURE_MB in a memory cgroup smaller than it)");
	}
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(gh_ptr_type((void *)(held ^ 0x5a5a)), t);
	gh__mark_result_free(r);
	munmap(region, 256 * PG);
}

int main(void)
{
	return RUN_TESTS();
}
