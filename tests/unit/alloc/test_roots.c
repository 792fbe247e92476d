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
#include "test_util.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096u

static volatile int mover_stop;
static volatile uintptr_t mover_obj; /* the address ^ 0x5a5a: not a pointer */
static volatile long mover_moves;

static char *map_unrecorded(void)
{
	/* internal.h's macro: the kernel's, not the exported one */
	void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static __attribute__((noinline)) void mover_seed(char *at, gh_type_t t)
{
	void *o = gh_malloc_typed(t, 48);
	escape(o);
	*(void *volatile *)at = o;
	mover_obj = (uintptr_t)o ^ 0x5a5a;
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

static __attribute__((noinline)) uintptr_t make_garbage(gh_type_t t)
{
	void *g = gh_malloc_typed(t, 32);
	escape(g);
	return (uintptr_t)g ^ 0x5a5a;
}

static void passes_while_moving(enum gh_stop_method method, const char *name)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_roots.moved", &desc);
	gh_type_t tg = gh_type_register("test_roots.garbage", &desc);
	pthread_t th;
	mover_stop = 0;
	mover_obj = 0;
	mover_moves = 0;
	ASSERT_EQ(pthread_create(&th, NULL, mover, (void *)(uintptr_t)t), 0);
	for (int i = 0; i < 10000 && !mover_obj; i++)
		usleep(100);
	ASSERT_TRUE(mover_obj != 0);
	gh__world_set_method(method);
	int passes = 0, refused = 0;
	long collected = 0;
	for (int i = 0; i < 60; i++) {
		volatile uintptr_t junk = make_garbage(tg);
		clobber_stack();
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		if (rc == EPERM && method == GH_STOP_PTRACE) {
			refused = 1;
			break;
		}
		EXPECT_EQ(rc, 0);
		if (rc != 0 || !r)
			continue;
		passes++;
		EXPECT_EQ(gh_ptr_type((void *)(mover_obj ^ 0x5a5a)), t);
		collected += gh_ptr_type((void *)(junk ^ 0x5a5a)) == GH_TYPE_NONE;
		gh__mark_result_free(r);
		usleep(300);
	}
	mover_stop = 1;
	pthread_join(th, NULL);
	gh__world_set_method(GH_STOP_AUTO);
	if (refused) {
		printf("  (ptrace refused here: the %s half is not checked)\n", name);
		return;
	}
	printf("  %s: %d passes, %ld moves, %ld/%d garbage objects collected\n", name, passes, mover_moves,
	       collected, passes);
	EXPECT_EQ(passes, 60);
	EXPECT_EQ(collected, passes);
	EXPECT_GT(mover_moves, 60);
}

TEST(passes_while_another_thread_moves_a_pointer_between_registered_roots_signal)
{
	passes_while_moving(GH_STOP_SIGNAL, "signal");
}

TEST(passes_while_another_thread_moves_a_pointer_between_registered_roots_ptrace)
{
	passes_while_moving(GH_STOP_PTRACE, "ptrace");
}

/* A range registered and then unmapped (or made unreadable) without
 * gh_root_remove: the pass skips what cannot be read -- it does not crash
 * the host -- and still scans the rest; a range in the heap (a malloc'ed
 * block) is scanned. */
static __attribute__((noinline)) uintptr_t hold_at(void *at, gh_type_t t)
{
	void *o = gh_malloc_typed(t, 24);
	escape(o);
	*(void *volatile *)at = o;
	return (uintptr_t)o ^ 0x5a5a;
}

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
