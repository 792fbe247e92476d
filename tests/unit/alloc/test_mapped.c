/* The program's own mappings (alloc/mapped.c): the record follows mmap,
 * munmap, mremap and MAP_FIXED replacements exactly; a collectable object
 * held only from such a mapping is never collected, and is once the
 * mapping is gone; glassheap's own and jemalloc's mappings are not
 * recorded; a suspended coroutine's frames on a stack the program mapped
 * keep what they point to, and a pass run on such a stack works; fork while
 * another thread maps and unmaps; passes (both ways of stopping the world)
 * while another thread moves an object's only pointer between mappings. */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "mover_test.h"
#include "test_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* the program's calls: the exported functions (internal.h sends glassheap's
 * own to the kernel directly) */
#undef mmap
#undef munmap

#define PG 4096u

/* Is [lo, hi) recorded, exactly as one range or inside one? */
static bool recorded(uintptr_t lo, uintptr_t hi)
{
	const struct gh_range *v;
	size_t n = gh__mapped_ranges(&v);
	for (size_t i = 0; i < n; i++)
		if (v[i].lo <= lo && hi <= v[i].hi)
			return true;
	return false;
}

/* Does any recorded range overlap [lo, hi)? */
static bool touched(uintptr_t lo, uintptr_t hi)
{
	const struct gh_range *v;
	size_t n = gh__mapped_ranges(&v);
	for (size_t i = 0; i < n; i++)
		if (v[i].lo < hi && lo < v[i].hi)
			return true;
	return false;
}

static char *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* First: before this program maps anything, glassheap's start-up (its
 * tables, jemalloc's, libunwind's caches warmed up by the site walk) left
 * nothing in the record. */
TEST(record_starts_empty)
{
	const struct gh_range *v;
	EXPECT_EQ(gh__mapped_ranges(&v), 0);
}

TEST(record_follows_the_calls)
{
	char *p = map_anon(8 * PG);
	ASSERT_TRUE(p != NULL);
	uintptr_t a = (uintptr_t)p;
	EXPECT_TRUE(recorded(a, a + 8 * PG));
	/* a hole in the middle splits it */
	EXPECT_EQ(munmap(p + 2 * PG, PG), 0);
	EXPECT_TRUE(recorded(a, a + 2 * PG));
	EXPECT_TRUE(recorded(a + 3 * PG, a + 8 * PG));
	EXPECT_FALSE(touched(a + 2 * PG, a + 3 * PG));
	/* filled again, it joins both sides */
	EXPECT_EQ(mmap(p + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		  (void *)(p + 2 * PG));
	EXPECT_TRUE(recorded(a, a + 8 * PG));
	/* a file mapped over a page is not the program's anonymous memory */
	int fd = open("/proc/self/exe", O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	EXPECT_EQ(mmap(p + 5 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0), (void *)(p + 5 * PG));
	close(fd);
	EXPECT_FALSE(touched(a + 5 * PG, a + 6 * PG));
	EXPECT_TRUE(recorded(a, a + 5 * PG));
	EXPECT_TRUE(recorded(a + 6 * PG, a + 8 * PG));
	/* shrunk in place (a length that is not a page multiple) */
	EXPECT_EQ(mremap(p + 6 * PG, 2 * PG, PG - 100, 0), (void *)(p + 6 * PG));
	EXPECT_TRUE(recorded(a + 6 * PG, a + 7 * PG));
	EXPECT_FALSE(touched(a + 7 * PG, a + 8 * PG));
	/* calls the kernel refuses change nothing */
	errno = 0;
	EXPECT_EQ(munmap(p + 1, PG), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(munmap(p, 0), -1);
	EXPECT_TRUE(recorded(a, a + 2 * PG));
	EXPECT_EQ(mremap(p + 1, PG, 2 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	EXPECT_TRUE(recorded(a, a + 2 * PG));
	/* moved: the old place is forgotten, the new one is the program's */
	char *q = map_anon(16 * PG);
	ASSERT_TRUE(q != NULL);
	EXPECT_EQ(munmap(q, 16 * PG), 0);
	EXPECT_EQ(mremap(p, 2 * PG, 16 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, q), (void *)q);
	EXPECT_FALSE(touched(a, a + 2 * PG));
	EXPECT_TRUE(recorded((uintptr_t)q, (uintptr_t)q + 16 * PG));
	EXPECT_TRUE(recorded(a + 3 * PG, a + 5 * PG));
	/* all gone */
	EXPECT_EQ(munmap(q, 16 * PG), 0);
	EXPECT_EQ(munmap(p, 8 * PG), 0);
	EXPECT_FALSE(touched(a, a + 8 * PG));
	EXPECT_FALSE(touched((uintptr_t)q, (uintptr_t)q + 16 * PG));
	EXPECT_FALSE(gh__mapped_incomplete());
}

TEST(own_and_jemalloc_mappings_are_not_recorded)
{
	/* glassheap's own call (the internal.h macro's target) */
	void *w = gh__sys_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(w != MAP_FAILED);
	EXPECT_FALSE(touched((uintptr_t)w, (uintptr_t)w + 4 * PG));
	gh__sys_munmap(w, 4 * PG);
	/* jemalloc's huge allocations map memory in the cage; its metadata
	 * outside it: neither is recorded. Many large blocks make it map. */
	const struct gh_range *v;
	size_t before = gh__mapped_ranges(&v);
	void *big[8];
	for (int i = 0; i < 8; i++) {
		big[i] = malloc((size_t)(i + 1) << 22);
		escape(big[i]);
	}
	EXPECT_EQ(gh__mapped_ranges(&v), before);
	for (int i = 0; i < 8; i++)
		free(big[i]);
	/* libunwind, walking stacks for the tracer, maps its caches */
	ASSERT_EQ(gh_trace_start(32, 0), 0);
	for (int i = 0; i < 64; i++) {
		void *p = malloc(100 + (size_t)i);
		escape(p);
		free(p);
	}
	gh_trace_stop();
	EXPECT_EQ(gh__mapped_ranges(&v), before);
}

TEST(collectable_held_from_a_mapping_is_not_collected)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_mapped.held", &desc);
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	ASSERT_EQ(gh__mark_run(0, &r, &bad), 0);
	uint64_t base_ranges = r->root_kind[GH_ROOT_MAPPED].count, base_bytes = r->root_kind[GH_ROOT_MAPPED].bytes;
	gh__mark_result_free(r);
	char *region = map_anon(64 * PG);
	ASSERT_TRUE(region != NULL);
	/* far into the mapping, past untouched pages */
	/* volatile: the compiler must not keep the object's address (held ^
	 * 0x5a5a, computed for each check) in a register across the passes */
	volatile uintptr_t held = hold_at((void **)(region + 40 * PG + 24), t);
	clobber_stack();
	ASSERT_EQ(gh__mark_run(GH_GC_COLLECT, &r, &bad), 0);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(r->root_kind[GH_ROOT_MAPPED].count, base_ranges + 1);
	/* only the resident page is scanned */
	EXPECT_EQ(r->root_kind[GH_ROOT_MAPPED].bytes, base_bytes + PG);
	EXPECT_EQ(gh_ptr_type((void *)(held ^ 0x5a5a)), t);
	gh__mark_result_free(r);
	/* the mapping gone, the object is garbage */
	EXPECT_EQ(munmap(region, 64 * PG), 0);
	clobber_stack();
	ASSERT_EQ(gh__mark_run(GH_GC_COLLECT, &r, &bad), 0);
	ASSERT_TRUE(r != NULL);
	EXPECT_FALSE(r->collect_skipped);
	EXPECT_GE(r->collected_objects, 1);
	EXPECT_EQ(gh_ptr_type((void *)(held ^ 0x5a5a)), GH_TYPE_NONE);
	gh__mark_result_free(r);
}

TEST(unreadable_pages_are_skipped)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_mapped.hidden", &desc);
	char *region = map_anon(2 * PG);
	ASSERT_TRUE(region != NULL);
	volatile uintptr_t kept = hold_at((void **)(region + 8), t);
	volatile uintptr_t hidden = hold_at((void **)(region + PG + 8), t);
	EXPECT_EQ(mprotect(region + PG, PG, PROT_NONE), 0);
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(gh_ptr_type((void *)(kept ^ 0x5a5a)), t);
	/* (what only an unreadable page holds is garbage to any scanner) */
	EXPECT_EQ(gh_ptr_type((void *)(hidden ^ 0x5a5a)), GH_TYPE_NONE);
	gh__mark_result_free(r);
	munmap(region, 2 * PG);
}

/* A coroutine on a stack the program mapped (as boost.context and most
 * coroutine libraries do): its frame holds the only pointer to an object. */
static ucontext_t main_ctx, co_ctx;
static gh_type_t co_type;
static volatile uintptr_t co_obj, co_inner_obj;
static volatile int co_inner_ok = -1;

static __attribute__((noinline)) void co_body(void)
{
	void *volatile local = gh_malloc_typed(co_type, 64);
	co_obj = (uintptr_t)local ^ 0x5a5a;
	swapcontext(&co_ctx, &main_ctx); /* suspended: `local` lives in this frame */
	escape(local);
	/* a pass run from here: this thread's stack pointer is in the mapping */
	void *volatile inner = gh_malloc_typed(co_type, 64);
	co_inner_obj = (uintptr_t)inner ^ 0x5a5a;
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
	co_inner_ok = rc == 0 && r && gh_ptr_type((void *)(co_inner_obj ^ 0x5a5a)) == co_type &&
		      gh_ptr_type((void *)(co_obj ^ 0x5a5a)) == co_type;
	if (r)
		gh__mark_result_free(r);
	escape(inner);
	escape(local);
}

TEST(coroutine_stacks_the_program_mapped)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	co_type = gh_type_register("test_mapped.coroutine", &desc);
	size_t len = 256 << 10;
	char *stack = map_anon(len);
	ASSERT_TRUE(stack != NULL);
	ASSERT_EQ(getcontext(&co_ctx), 0);
	co_ctx.uc_stack.ss_sp = stack;
	co_ctx.uc_stack.ss_size = len;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, co_body, 0);
	ASSERT_EQ(swapcontext(&main_ctx, &co_ctx), 0);
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	/* the suspended frame is scanned: the object is live, not collected */
	EXPECT_EQ(gh_ptr_type((void *)(co_obj ^ 0x5a5a)), co_type);
	gh__mark_result_free(r);
	/* resumed, it runs a pass on its own stack, then returns here */
	ASSERT_EQ(swapcontext(&main_ctx, &co_ctx), 0);
	EXPECT_EQ(co_inner_ok, 1);
	munmap(stack, len);
}

/* One thread unmaps while another maps: the kernel may hand the second the
 * addresses the first just gave back. The record must never forget the
 * second's mapping (the first's unmap noted after the second's map). */
static volatile int reuser_stop;

static void *reuser(void *arg)
{
	(void)arg;
	while (!reuser_stop) {
		char *p = map_anon(PG);
		if (p)
			munmap(p, PG);
	}
	return NULL;
}

TEST(addresses_unmapped_and_mapped_again_at_once_stay_recorded)
{
	pthread_t th;
	reuser_stop = 0;
	ASSERT_EQ(pthread_create(&th, NULL, reuser, NULL), 0);
	int missed = 0, n = 0;
	for (; n < 100000; n++) {
		char *q = map_anon(PG);
		if (!q)
			continue;
		*(volatile char *)q = 1; /* the program uses it */
		gh__mapped_hold();
		missed += !recorded((uintptr_t)q, (uintptr_t)q + PG);
		gh__mapped_release();
		munmap(q, PG);
	}
	reuser_stop = 1;
	pthread_join(th, NULL);
	printf("  %d maps, %d not recorded\n", n, missed);
	EXPECT_EQ(missed, 0);
}

static volatile int churn_stop;

static void *churn(void *arg)
{
	(void)arg;
	while (!churn_stop) {
		char *p = map_anon(3 * PG);
		if (p) {
			munmap(p + PG, PG);
			munmap(p, 3 * PG);
		}
	}
	return NULL;
}

TEST(fork_while_another_thread_maps)
{
	pthread_t th;
	churn_stop = 0;
	ASSERT_EQ(pthread_create(&th, NULL, churn, NULL), 0);
	for (int i = 0; i < 50; i++) {
		pid_t pid = fork();
		ASSERT_TRUE(pid >= 0);
		if (pid == 0) {
			/* the record's lock is free in the child */
			char *p = map_anon(PG);
			int ok = p && recorded((uintptr_t)p, (uintptr_t)p + PG) && munmap(p, PG) == 0;
			_exit(ok ? 0 : 1);
		}
		int st = 0;
		int waited = 0;
		for (int ms = 0; ms < 10000 && !(waited = waitpid(pid, &st, WNOHANG)); ms++)
			usleep(1000);
		if (!waited) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		EXPECT_TRUE(waited == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	churn_stop = 1;
	pthread_join(th, NULL);
	EXPECT_FALSE(gh__mapped_incomplete());
}

/* Passes while another thread keeps moving the only pointer to an object
 * from mapping to mapping (map the next, copy, unmap the last; now and then
 * grow one with mremap, which may move it, or give back part of one): at
 * every instant some mapping the thread made, or one of its registers,
 * holds the pointer, so no pass may collect the object, whichever way the
 * world is stopped; garbage made meanwhile is collected (the passes were
 * not all skipped). */
static void *mover(void *arg)
{
	gh_type_t t = (gh_type_t)(uintptr_t)arg;
	size_t len = 2 * PG;
	char *cur = map_anon(len);
	if (!cur)
		return NULL;
	/* the second page only: the first stays untouched */
	mover_seed(cur + PG + 8, t);
	for (long i = 0; !mover_stop; i++) {
		char *nxt = map_anon(2 * PG);
		if (!nxt)
			continue;
		*(void *volatile *)(nxt + PG + 8) = *(void *volatile *)(cur + PG + 8);
		munmap(cur, len);
		cur = nxt;
		len = 2 * PG;
		if (i % 7 == 0) { /* grow; the kernel may move it */
			char *g = mremap(cur, len, 8 * PG, MREMAP_MAYMOVE);
			if (g != MAP_FAILED) {
				cur = g;
				len = 8 * PG;
				/* give back the tail */
				if (munmap(cur + 4 * PG, 4 * PG) == 0)
					len = 4 * PG;
			}
		}
		mover_moves++;
	}
	munmap(cur, len);
	return NULL;
}

TEST(passes_while_another_thread_moves_a_pointer_between_mappings_signal)
{
	passes_while_moving(mover, "test_mapped", 40, GH_STOP_SIGNAL, "signal");
	EXPECT_FALSE(gh__mapped_incomplete());
}

TEST(passes_while_another_thread_moves_a_pointer_between_mappings_ptrace)
{
	passes_while_moving(mover, "test_mapped", 40, GH_STOP_PTRACE, "ptrace");
	EXPECT_FALSE(gh__mapped_incomplete());
}

int main(void)
{
	return RUN_TESTS();
}
