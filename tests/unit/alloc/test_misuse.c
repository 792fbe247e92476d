/* Unit tests for misuse detection: invalid, interior, double frees and
 * corrupted headers are reported through one path, with the pointer, the
 * operation and the allocation site; the default aborts like glibc, and
 * GLASSHEAP_ON_ERROR=log ignores the call. */
#include "internal.h"
#include "test.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* volatile: the compiler assumes free() cannot call back into this file */
static volatile gh_error_kind_t last_kind;
static const void *volatile last_ptr;
static char last_msg[1024];
static volatile int calls;

static void capture(gh_error_kind_t kind, const void *ptr, const char *op, const char *msg)
{
	(void)op;
	last_kind = kind;
	last_ptr = ptr;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
	calls++;
}

/* Hides a pointer's provenance from the optimizer: the tests misuse memory
 * on purpose and the compiler must not drop or rewrite those calls. */
static void *launder(const void *p)
{
	void *q = (void *)p;
	__asm__ volatile("" : "+r"(q) : : "memory");
	return q;
}

static void setup_log_mode(void)
{
	gh__opt.on_error_log = true;
	gh_set_error_handler(capture);
	calls = 0;
	last_msg[0] = '\0';
}

static __attribute__((noinline)) char *alloc_here(size_t n)
{
	char *p = malloc(n);
	__asm__ volatile("" ::: "memory");
	return p;
}

TEST(invalid_free_of_stack_pointer)
{
	setup_log_mode();
	int local;
	uint64_t before = gh_error_count();
	free(launder(&local));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_INVALID_FREE);
	EXPECT_TRUE(last_ptr == &local);
	EXPECT_TRUE(strstr(last_msg, "free: invalid pointer 0x") != NULL);
	EXPECT_EQ(gh_error_count(), before + 1);
}

TEST(interior_free_names_the_allocation_and_site)
{
	setup_log_mode();
	char *p = alloc_here(100);
	free(launder(p + 32));
	EXPECT_EQ(last_kind, GH_ERR_INTERIOR_FREE);
	EXPECT_TRUE(strstr(last_msg, "interior pointer") != NULL);
	EXPECT_TRUE(strstr(last_msg, "100 bytes") != NULL);
	EXPECT_TRUE(strstr(last_msg, "test_misuse+0x") != NULL);
	free(launder(p + 3)); /* unaligned */
	EXPECT_EQ(last_kind, GH_ERR_INTERIOR_FREE);
	EXPECT_EQ(calls, 2);
	/* the object survived both */
	EXPECT_EQ(gh_ptr_size(p), 100);
	free(p);
	EXPECT_EQ(calls, 2);
}

TEST(double_free_is_detected)
{
	setup_log_mode();
	char *p = alloc_here(48);
	free(p);
	free(launder(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_DOUBLE_FREE);
	EXPECT_TRUE(strstr(last_msg, "double free") != NULL);
	EXPECT_TRUE(strstr(last_msg, "test_misuse+0x") != NULL);
	/* the heap still works, and the block went into the thread's bin once
	 * (out of the ring of frees behind): the next two blocks of its class
	 * are two blocks */
	gh__free_drain();
	void *q = launder(malloc(48));
	void *r = launder(malloc(48));
	EXPECT_TRUE(q != NULL && r != NULL && q != r);
	EXPECT_TRUE(q == p);
	free(q);
	free(r);
}

/* A write after free into a block kept in the thread's bin reaches no
 * glassheap state: the bin keeps its pointers beside the blocks. */
/* The same once the first free's block has left the ring for the bin: its
 * trailer says freed. */
TEST(double_free_after_the_ring_is_detected)
{
	setup_log_mode();
	char *p = alloc_here(48);
	free(p);
	gh__free_drain();
	free(launder(p));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_DOUBLE_FREE);
	void *q = launder(malloc(48));
	void *r = launder(malloc(48));
	EXPECT_TRUE(q == p && r != q);
	free(q);
	free(r);
	gh__free_drain();
	EXPECT_EQ(gh_heap_check(1), 0);
}

TEST(write_after_free_into_a_cached_block)
{
	setup_log_mode();
	char *p = alloc_here(40);
	char *keep = launder(malloc(40));
	free(p);
	gh__free_drain(); /* in the bin */
	memset(launder(p), 0xa7, 48); /* the whole 48-byte class, its trailer's place included */
	char *q = launder(malloc(40));
	EXPECT_TRUE(q == p);
	EXPECT_EQ(gh_ptr_size(q), 40);
	EXPECT_EQ(calls, 0);
	free(q);
	free(keep);
	EXPECT_EQ(calls, 0);
	EXPECT_EQ(gh_heap_check(1), 0);
}

TEST(double_delete_via_realloc_and_invalid_realloc)
{
	setup_log_mode();
	int local;
	errno = 0;
	EXPECT_TRUE(realloc(launder(&local), 10) == NULL);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(last_kind, GH_ERR_INVALID_FREE);
	EXPECT_TRUE(strstr(last_msg, "realloc:") != NULL);
}

/* A write after free that reaches the trailer of a block still in the ring
 * (the live check byte's own value included, so that only the size and the
 * type give it away): reported when the block leaves the ring, and the
 * block kept as a free of corrupted metadata keeps it -- published, counted,
 * never handed out again. */
TEST(write_after_free_into_a_block_in_the_ring)
{
	setup_log_mode();
	gh_type_stats_t before, after;
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &before), 0);
	char *p = alloc_here(40);
	free(p);
	memset(launder(p), 0xa7, 48); /* the whole 48-byte class, the trailer included */
	EXPECT_EQ(calls, 0);
	gh__free_drain();
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	EXPECT_TRUE(gh__start_live(gh__start_at((uintptr_t)p)));
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &after), 0);
	EXPECT_EQ(after.live_count, before.live_count + 1);
	EXPECT_EQ(gh_ptr_size(p), 0); /* its metadata reads corrupted, never live */
	EXPECT_EQ(gh_heap_check(0), 1);
	for (int i = 0; i < 64; i++) {
		void *q = launder(malloc(40));
		EXPECT_TRUE(q != p);
		free(q);
	}
	gh__free_drain();
	EXPECT_EQ(calls, 1);
}

TEST(overflow_over_the_trailer_is_detected)
{
	setup_log_mode();
	char *p = alloc_here(56); /* 56 + 8: exactly the 64-byte class, no slack */
	ASSERT_EQ(malloc_usable_size(p), 56);
	memset(launder(p + 56), 0x41, 1); /* a one-byte overflow reaches the trailer */
	free(launder(p));
	gh__free_drain(); /* read when it leaves the ring of frees behind */
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	EXPECT_TRUE(strstr(last_msg, "corrupted allocation metadata") != NULL);
}

TEST(corrupted_header_is_detected)
{
	setup_log_mode();
	char *p = alloc_here(100000); /* large: a header in front */
	memset(launder(p - 16), 0x41, 16); /* a buffer underflow over the header */
	free(launder(p));
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	EXPECT_TRUE(strstr(last_msg, "corrupted allocation metadata") != NULL);
}

/* A stray write that changes a block's type or size and leaves its check
 * byte live: free and realloc report corrupted metadata and leave the block
 * as it is (published, counted) instead of indexing the counters with the
 * type or copying the size. Repaired, the block frees normally. */
TEST(stray_write_to_type_or_size_with_a_live_check_byte)
{
	setup_log_mode();
	gh_type_stats_t before, now;
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &before), 0);
	int problems = gh_heap_check(0); /* the blocks earlier tests left corrupted */

	char *big = alloc_here(100000); /* large: a header in front */
	struct gh_hdr *h = gh__hdr_of((uintptr_t)big);
	uint32_t type = h->type;
	h->type = 0x7ffff; /* past any registered type */
	free(launder(big));
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	errno = 0;
	EXPECT_TRUE(realloc(launder(big), 200000) == NULL);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(calls, 2);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	EXPECT_TRUE(gh__start_live(gh__start_at((uintptr_t)big)));

	char *small = alloc_here(40); /* a trailer block of the 48-byte class */
	unsigned start = gh__start_at((uintptr_t)small);
	uint64_t *t = gh__trl_at((uintptr_t)small, start);
	uint64_t w = *t;
	/* size 1000: more than the class holds; the check byte and type intact */
	*t = (w & ~(((UINT64_C(1) << GH_TRL_SIZE_BITS) - 1) << GH_TRL_SIZE_SHIFT)) | ((uint64_t)1000 << GH_TRL_SIZE_SHIFT);
	errno = 0;
	EXPECT_TRUE(realloc(launder(small), 4000) == NULL); /* would copy 1000 bytes */
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(calls, 3);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);
	free(launder(small));
	gh__free_drain(); /* the fast path's ring reads the trailer when the block leaves */
	EXPECT_EQ(calls, 4);
	EXPECT_EQ(last_kind, GH_ERR_CORRUPT);

	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &now), 0);
	EXPECT_EQ(now.live_count, before.live_count + 2);
	h->type = type;
	*t = w;
	free(launder(big));
	free(launder(small));
	gh__free_drain();
	EXPECT_EQ(calls, 4);
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &now), 0);
	EXPECT_EQ(now.live_count, before.live_count);
	EXPECT_EQ(gh_heap_check(0), problems);
}

TEST(free_null_and_foreign_mmap)
{
	setup_log_mode();
	free(NULL);
	EXPECT_EQ(calls, 0);
	char buf[64];
	free(launder(buf + 16));
	EXPECT_EQ(last_kind, GH_ERR_INVALID_FREE);
}

TEST(default_aborts_with_a_clear_message)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		gh__opt.on_error_log = false;
		gh_set_error_handler(NULL);
		char *p = alloc_here(32);
		free(p);
		free(launder(p));
		_exit(0); /* not reached */
	}
	close(fds[1]);
	char out[2048] = "";
	size_t n = 0;
	ssize_t r;
	while ((r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	EXPECT_TRUE(strstr(out, "glassheap: free: double free 0x") != NULL);
	EXPECT_TRUE(strstr(out, "aborting") != NULL);
}

int main(void)
{
	return RUN_TESTS();
}
