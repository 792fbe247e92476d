/* Symbolization of code built by clang (no .debug_aranges, which elfutils'
 * dwfl_module_addrdie relies on): file, line and function still resolve. */
#include "internal.h"
#include "test.h"
#include "trace.h"

#include <dlfcn.h>

typedef void *(*gh_ra_fn)(void);

static __attribute__((noinline)) void *return_address(void)
{
	return __builtin_return_address(0);
}

TEST(clang_library_resolves_to_file_and_line)
{
	void *lib = dlopen(GH_CLANG_LIB_PATH, RTLD_NOW);
	ASSERT_TRUE(lib != NULL);
	void *(*call)(gh_ra_fn) = (void *(*)(gh_ra_fn))dlsym(lib, "gh_clang_lib_call");
	ASSERT_TRUE(call != NULL);
	uintptr_t ra = (uintptr_t)call(return_address);
	const struct gh_trace_frame *f = NULL;
	size_t n = gh__sym_frames(ra, &f);
	ASSERT_GE(n, 1);
	const char *slash = strrchr(f[0].filename, '/');
	EXPECT_STREQ(slash ? slash + 1 : f[0].filename, "clang_lib.c");
	EXPECT_EQ(f[0].lineno, 6);
	EXPECT_STREQ(f[0].function, "gh_clang_lib_call");
}

int main(void)
{
	return RUN_TESTS();
}
