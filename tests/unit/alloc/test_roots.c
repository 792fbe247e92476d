/* Registered roots (gh_root_add, gh_root_remove) changing while passes run:
 * another thread keeps moving an object's only pointer from one registered
 * region to the next -- map it (glassheap's own mmap: not one of the
 * program's recorded mappings, so the registration is all that makes it a
 * root), register it, copy the pointer, unregister the last and unmap it.
 * No pass may collect the object (a root registered after the pass read the
 * table, before it stopped the world, was missed), nor read a region that
 * was unregistered and unmapped meanwhile (the host would crash), whichever
 * way the world is stopped; garbage made meanwhile is collected. A range
 * unmapped or made unreadable without gh_root_remove is skipped, not read. */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "mover_test.h"
#include "test_util.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096u

static char *map_unrecorded(void)
{
	/* internal.h's macro: the kernel's, not the exported one */
	void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void *mover(void *arg)
{
	gh_type_t t = (gh_type_t)(uintptr_t)arg;
	char *cur = map_unrecorded();
	if (!cur || gh_root_add(cur, PG, "mover") != 0)
		return NULL;
	mover_seed(cur + 64, t);
	while (!mover_stop) {
		char *nxt = map_unrecorded();
		if (!nxt)
			continue;
		if (gh_root_add(nxt, PG, "mover") != 0) {
			munmap(nxt, PG);
			continue;
		}
		*(void *volatile *)(nxt + 64) = *(void *volatile *)(cur + 64);
		gh_root_remove(cur);
		munmap(cur, PG);
		cur = nxt;
		mover_moves++;
	}
	gh_root_remove(cur);
	munmap(cur, PG);
	return NULL;
}

TEST(passes_while_another_thread_moves_a_pointer_between_registered_roots_signal)
{
	passes_while_moving(mover, "test_roots", 60, GH_STOP_SIGNAL, "signal");
}

TEST(passes_while_another_thread_moves_a_pointer_between_registered_roots_ptrace)
{
	passes_while_moving(mover, "test_roots", 60, GH_STOP_PTRACE, "ptrace");
}

/* A range registered and then unmapped (or made unreadable) without
 * gh_root_remove: the pass skips what cannot be read -- it does not crash
 * the host -- and still scans the rest; a range in the heap (a malloc'ed
 * block) is scanned. */
TEST(roots_unmapped_or_unreadable_without_remove_are_skipped)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_roots.held", &desc);
	/* three pages: the first keeps an object, the second is made
	 * unreadable, the third is unmapped */
	char *r = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(r != MAP_FAILED);
	ASSERT_EQ(gh_root_add(r, 3 * PG, "gone"), 0);
	volatile uintptr_t kept = hold_at(r + 8, t);
	volatile uintptr_t hidden = hold_at(r + PG + 8, t);
	/* in the heap */
	void **block = malloc(64);
	ASSERT_TRUE(block != NULL);
	escape(block);
	ASSERT_EQ(gh_root_add(block, 64, "heap"), 0);
	volatile uintptr_t in_heap = hold_at(&block[3], t);
	volatile uintptr_t hidden_block = (uintptr_t)block ^ 0x5a5a;
	block = NULL;
	EXPECT_EQ(mprotect(r + PG, PG, PROT_NONE), 0);
	EXPECT_EQ(munmap(r + 2 * PG, PG), 0);
	clobber_stack();
	struct gh_gc_result *res = collect_pass();
	ASSERT_TRUE(res != NULL);
	EXPECT_EQ(gh_ptr_type((void *)(kept ^ 0x5a5a)), t);
	EXPECT_EQ(gh_ptr_type((void *)(in_heap ^ 0x5a5a)), t);
	/* (what only an unreadable page holds is garbage to any scanner) */
	EXPECT_EQ(gh_ptr_type((void *)(hidden ^ 0x5a5a)), GH_TYPE_NONE);
	gh__mark_result_free(res);
	/* all of it gone */
	EXPECT_EQ(munmap(r, 2 * PG), 0);
	clobber_stack();
	res = collect_pass();
	ASSERT_TRUE(res != NULL);
	EXPECT_EQ(gh_ptr_type((void *)(kept ^ 0x5a5a)), GH_TYPE_NONE);
	EXPECT_EQ(gh_ptr_type((void *)(in_heap ^ 0x5a5a)), t);
	gh__mark_result_free(res);
	EXPECT_EQ(gh_root_remove(r), 0);
	EXPECT_EQ(gh_root_remove((void *)(hidden_block ^ 0x5a5a)), 0);
	free((void *)(hidden_block ^ 0x5a5a));
}

int main(void)
{
	return RUN_TESTS();
}
