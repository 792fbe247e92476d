/* The data of the program's epoll registrations are roots
 * (alloc/epoll_roots.c): a collectable object whose only pointer the kernel
 * holds (epoll_event.data.ptr, as an event loop registers a connection)
 * survives a collecting pass, and is collected once the registration is
 * deleted or the epoll instance closed; thousands of registrations (their
 * fdinfo read across many buffers) are all kept; the gc result counts them
 * as the "epoll" root. */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "mover_test.h"
#include "test_util.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

static gh_type_t conn_type(void)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	return gh_type_register("test_epoll.conn", &desc);
}

/* registers fd with the only pointer to a new object; returns its address
 * inverted (~: never a heap address, unlike ^ 0x5a5a, which a table of
 * them in a root would turn into interior pointers to other objects) */
static __attribute__((noinline)) uintptr_t register_conn(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	uintptr_t hidden = ~(hold_at(&ev.data.ptr, conn_type()) ^ 0x5a5a);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return 0;
	memset(&ev, 0, sizeof ev);
	escape(&ev);
	return hidden;
}

/* n descriptors (new eventfds, or duplicates of dup_of when it is one),
 * each registered with a new object; false when one could not be */
static bool register_many(int ep, int *fds, uintptr_t *hidden, int n, int dup_of)
{
	for (int i = 0; i < n; i++) {
		fds[i] = dup_of >= 0 ? dup(dup_of) : eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0 || (hidden[i] = register_conn(ep, fds[i])) == 0)
			return false;
	}
	return true;
}

static size_t alive(const uintptr_t *hidden, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += gh_ptr_type((void *)~hidden[i]) == conn_type();
	return k;
}

TEST(registered_data_keep_their_objects)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_TRUE(ep >= 0);
	int fds[8];
	uintptr_t hidden[8];
	ASSERT_TRUE(register_many(ep, fds, hidden, 8, -1));
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_FALSE(r->collect_skipped);
	EXPECT_EQ(alive(hidden, 8), 8);
	EXPECT_EQ(r->root_kind[GH_ROOT_EPOLL].count, 1);
	EXPECT_EQ(r->root_kind[GH_ROOT_EPOLL].bytes, 8 * sizeof(void *));
	gh__mark_result_free(r);
	/* deleted: garbage */
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL), 0);
	clobber_stack();
	r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(alive(hidden, 4), 0);
	EXPECT_EQ(alive(hidden + 4, 4), 4);
	gh__mark_result_free(r);
	/* the instance closed: all garbage, and it leaves the table */
	close(ep);
	clobber_stack();
	r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(alive(hidden + 4, 4), 0);
	EXPECT_EQ(r->root_kind[GH_ROOT_EPOLL].count, 0);
	gh__mark_result_free(r);
	EXPECT_FALSE(gh__epoll_any());
	for (int i = 0; i < 8; i++)
		close(fds[i]);
}

TEST(thousands_of_registrations_across_reads)
{
	/* ~90 bytes a line in fdinfo: 3000 registrations read in five buffers */
	struct rlimit rl;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	enum { N = 3000 };
	if (rl.rlim_max < N + 64)
		SKIP("RLIMIT_NOFILE's hard limit is below 3,064");
	rlim_t soft = rl.rlim_cur;
	rl.rlim_cur = N + 64;
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int ev = eventfd(0, EFD_CLOEXEC);
	ASSERT_TRUE(ep >= 0 && ev >= 0);
	static int fds[N];
	static uintptr_t hidden[N];
	/* a registration is per (file, descriptor) */
	ASSERT_TRUE(register_many(ep, fds, hidden, N, ev));
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_FALSE(r->collect_skipped);
	EXPECT_EQ(alive(hidden, N), N);
	EXPECT_EQ(r->root_kind[GH_ROOT_EPOLL].bytes, N * sizeof(void *));
	gh__mark_result_free(r);
	close(ep);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	close(ev);
	clobber_stack();
	r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(alive(hidden, N), 0);
	gh__mark_result_free(r);
	rl.rlim_cur = soft;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* An instance made under glassheap's own scope (the debug server's event
 * loop) is not noted: its connections are glassheap's. */
TEST(internal_scope_is_not_noted)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int fd = eventfd(0, EFD_CLOEXEC);
	ASSERT_TRUE(ep >= 0 && fd >= 0);
	ASSERT_EQ(gh_scope_push(GH_TYPE_INTERNAL), 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
	EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	ASSERT_EQ(gh_scope_pop(), 0);
	EXPECT_FALSE(gh__epoll_any());
	close(fd);
	close(ep);
}

/* More live instances than the table notes: the record is incomplete and
 * no pass collects from then on (last: it stays so). */
TEST(more_instances_than_the_table_holds_collect_nothing)
{
	enum { M = 300 };
	static int eps[M];
	int fd = eventfd(0, EFD_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	for (int i = 0; i < M; i++) {
		eps[i] = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_TRUE(eps[i] >= 0);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
		ASSERT_EQ(epoll_ctl(eps[i], EPOLL_CTL_ADD, fd, &ev), 0);
	}
	EXPECT_TRUE(gh__epoll_incomplete());
	void *obj = gh_malloc_typed(conn_type(), 64);
	ASSERT_TRUE(obj != NULL);
	uintptr_t hidden = ~(uintptr_t)obj;
	obj = NULL;
	escape(&obj);
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	EXPECT_TRUE(r->collect_skipped);
	EXPECT_STREQ(r->collect_skipped_why, "epoll registrations not all read");
	EXPECT_EQ(alive(&hidden, 1), 1);
	gh__mark_result_free(r);
	for (int i = 0; i < M; i++)
		close(eps[i]);
	close(fd);
}

int main(void)
{
	return RUN_TESTS();
}
