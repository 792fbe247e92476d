/* Out-of-memory and fault injection: a full cage, failing extent hooks,
 * huge requests and an address-space limit all end in NULL + ENOMEM (or a
 * smaller cage), never a crash, and the heap keeps working afterwards.
 * Runs with GLASSHEAP_CAGE_SIZE=64M (set by ctest). */
#include "internal.h"
#include "test.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self_path;

TEST(cage_is_the_configured_size)
{
	EXPECT_EQ(gh__cage.size, (size_t)64 << 20);
}

TEST(huge_requests_fail_cleanly)
{
	volatile size_t huge = SIZE_MAX - 8;
	errno = 0;
	EXPECT_TRUE(malloc(huge) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(malloc((size_t)1 << 40) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(calloc(huge, 2) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	void *p = NULL;
	EXPECT_EQ(posix_memalign(&p, 64, (size_t)1 << 40), ENOMEM);
	errno = 0;
	EXPECT_TRUE(aligned_alloc(4096, (size_t)1 << 40) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	char *q = malloc(10);
	errno = 0;
	EXPECT_TRUE(realloc(q, (size_t)1 << 40) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	EXPECT_EQ(gh_ptr_size(q), 10); /* the old block is untouched */
	free(q);
}

TEST(filling_the_cage_returns_enomem_then_recovers)
{
	void *blocks[256];
	int n = 0;
	errno = 0;
	for (; n < 256; n++) {
		blocks[n] = malloc(1 << 20);
		if (!blocks[n])
			break;
		memset(blocks[n], n, 1 << 20);
	}
	EXPECT_LT(n, 64);
	EXPECT_GT(n, 8);
	EXPECT_EQ(errno, ENOMEM);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(((unsigned char *)blocks[i])[12345], (unsigned char)i);
		free(blocks[i]);
	}
	void *again = malloc(1 << 20);
	EXPECT_TRUE(again != NULL);
	free(again);
}

TEST(injected_extent_failures_at_every_step)
{
	/* For each N, the (N+1)-th cage extent request fails: allocations
	 * fail with ENOMEM at that point and everything before stays valid. */
	for (long fail_after = 0; fail_after < 12; fail_after++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			gh__cage_inject_failure(fail_after);
			char *kept[64];
			int n = 0, failed = 0;
			for (int i = 0; i < 64; i++) {
				errno = 0;
				char *p = malloc((size_t)(i + 1) * 300000);
				if (!p) {
					if (errno != ENOMEM)
						_exit(3);
					failed = 1;
					break;
				}
				memset(p, 0x5a, 64);
				kept[n++] = p;
			}
			for (int i = 0; i < n; i++)
				if (kept[i][63] != 0x5a)
					_exit(4);
			gh__cage_inject_failure(-1);
			for (int i = 0; i < n; i++)
				free(kept[i]);
			void *ok = malloc(100);
			_exit(failed && ok ? 0 : 5);
		}
		int st;
		waitpid(pid, &st, 0);
		EXPECT_TRUE(WIFEXITED(st));
		EXPECT_EQ(WEXITSTATUS(st), 0);
	}
}

TEST(address_space_limit_shrinks_the_cage)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit rl = {(rlim_t)3 << 30, (rlim_t)3 << 30};
		setrlimit(RLIMIT_AS, &rl);
		setenv("GLASSHEAP_CAGE_SIZE", "64G", 1);
		execl(self_path, self_path, "--rlimit-child", (char *)NULL);
		_exit(9);
	}
	int st;
	waitpid(pid, &st, 0);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
}

static int rlimit_child(void)
{
	/* glassheap initialized before main under a 3 GiB address-space limit */
	if (gh__cage.size == 0 || gh__cage.size > ((size_t)2 << 30))
		return 1;
	for (int i = 0; i < 1000; i++) {
		void *p = malloc((size_t)i * 100);
		if (!p)
			return 2;
		free(p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--rlimit-child") == 0)
		return rlimit_child();
	self_path = argv[0];
	return RUN_TESTS();
}
