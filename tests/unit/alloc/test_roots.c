/* Registered roots (gh_root_add, gh_root_remove) changing while passes run:
 * another thread keeps moving an object's only pointer from one registered
 * region to the next -- map it (glassheap's own mmap: not one of the
 * program's recorded mappings, so the registration is all that makes it a
 * root), register it, copy the pointer, unregister the last and unmap it.
 * No pass may collect the object (a root registered after the pass read the
 * table, before it stopped the world, was missed), nor read a region that
 * was unregistered and unmapped meanwhile (the host would crash), whichever
 * way the world is stopped; garbage made meanwhile is collected. */
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

int main(void)
{
	return RUN_TESTS();
}
