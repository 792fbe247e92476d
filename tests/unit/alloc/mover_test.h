/*
 * mover_test.h -- collecting passes while another thread keeps moving an
 * object's only pointer from place to place (test_mapped: between the
 * program's mappings; test_roots: between registered roots). The mover
 * seeds the object with mover_seed, moves it until mover_stop, and counts
 * its moves; no pass may collect the object, whichever way the world is
 * stopped, and the garbage made before each pass is collected (the passes
 * were not all skipped). Include after mark_test.h and test.h. hold_at
 * makes an object held from one place only, for the other cases.
 */
#ifndef GH_MOVER_TEST_H
#define GH_MOVER_TEST_H

#include <pthread.h>
#include <unistd.h>

static volatile int mover_stop;
static volatile uintptr_t mover_obj; /* the address ^ 0x5a5a: not a pointer */
static volatile long mover_moves;

/* A new object of type t whose only pointer is stored at at; returns its
 * address ^ 0x5a5a (not a pointer). */
static __attribute__((noinline, unused)) uintptr_t hold_at(void *at, gh_type_t t)
{
	void *o = gh_malloc_typed(t, 48);
	escape(o);
	*(void *volatile *)at = o;
	return (uintptr_t)o ^ 0x5a5a;
}

/* The mover's object, its only pointer stored at at. */
static __attribute__((unused)) void mover_seed(char *at, gh_type_t t)
{
	mover_obj = hold_at(at, t);
}

static __attribute__((noinline)) uintptr_t mover_garbage(gh_type_t t)
{
	void *g = gh_malloc_typed(t, 32);
	escape(g);
	return (uintptr_t)g ^ 0x5a5a;
}

/* npasses collecting passes with method while mover (started with the
 * object's type) runs; types named <prefix>.moved and <prefix>.garbage. */
static void passes_while_moving(void *(*mover)(void *), const char *prefix, int npasses, enum gh_stop_method method,
				const char *name)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	char tn[64];
	snprintf(tn, sizeof tn, "%s.moved", prefix);
	gh_type_t t = gh_type_register(tn, &desc);
	snprintf(tn, sizeof tn, "%s.garbage", prefix);
	gh_type_t tg = gh_type_register(tn, &desc);
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
	for (int i = 0; i < npasses; i++) {
		volatile uintptr_t junk = mover_garbage(tg);
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
		if (r->collect_skipped) /* why, for the record */
			fprintf(stderr, "  pass %d collected nothing: %s (%u threads)\n", i,
				r->collect_skipped_why ? r->collect_skipped_why : "?", r->threads);
		EXPECT_FALSE(r->collect_skipped);
		EXPECT_EQ(gh_ptr_type((void *)(mover_obj ^ 0x5a5a)), t);
		collected += gh_ptr_type((void *)(junk ^ 0x5a5a)) == GH_TYPE_NONE;
		gh__mark_result_free(r);
		usleep(400);
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
	EXPECT_EQ(passes, npasses);
	EXPECT_EQ(collected, passes);
	EXPECT_GT(mover_moves, npasses);
}

#endif
