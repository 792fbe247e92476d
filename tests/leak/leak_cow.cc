// Built with _GLIBCXX_USE_CXX11_ABI=0: the reference-counted std::string,
// whose owner points 24 bytes into its block (past {length, capacity,
// refcount}): valgrind's "stdstring" heuristic.
#define _GLIBCXX_USE_CXX11_ABI 0
#include <string>

std::string *g_cow[3]; // external linkage: the stores stay

extern "C" void leak_make_cow_strings(void)
{
	for (int i = 0; i < 3; i++) {
		// the std::string objects themselves are in a global array of
		// pointers (start pointers); their buffers only through +24
		g_cow[i] = new std::string(100 + i * 50, 'x');
		asm volatile("" ::"r"(g_cow[i]) : "memory");
	}
}
