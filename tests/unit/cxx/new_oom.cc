// new_oom.cc -- operator new's failure rules under glassheap, whose shim
// (alloc/shim_cxx.cc) is built without the C++ runtime and hands a failed
// request to the runtime's own operator: the new-handler is called and the
// request retried, std::bad_alloc is thrown through glassheap's frame, the
// nothrow forms return nullptr (also when the handler throws), and a handler
// that releases memory lets the request succeed.
//
// Run linked (static or shared) or under LD_PRELOAD; $GH_TEST_NEW_FROM names
// the object that must define operator new (a check that glassheap's shim is the
// one under test, not libstdc++'s). GLASSHEAP_CAGE_SIZE=64M (set by ctest)
// bounds the heap so that a release can make room.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <dlfcn.h>

static int failures;
#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
			failures++;                                               \
		}                                                                 \
	} while (0)

static void escape(void *p) { asm volatile("" : : "r"(p) : "memory"); }

static const std::size_t kHuge = std::size_t(1) << 46; // 64 TiB: never fits

static int calls;
static void *reserve;

static void handler_gives_up() // the second call uninstalls itself
{
	if (++calls == 2)
		std::set_new_handler(nullptr);
}

static void handler_throws()
{
	calls++;
	throw std::bad_alloc();
}

static void handler_releases()
{
	calls++;
	std::free(reserve);
	reserve = nullptr;
	std::set_new_handler(nullptr);
}

template <class F> static bool throws_bad_alloc(F f)
{
	try {
		escape(f());
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

int main()
{
	// 0. glassheap's operator new is the one called
	Dl_info info;
	void *op = dlsym(RTLD_DEFAULT, "_Znwm");
	const char *from = std::getenv("GH_TEST_NEW_FROM");
	if (!from || !op || !dladdr(op, &info) || !info.dli_fname || !std::strstr(info.dli_fname, from)) {
		std::fprintf(stderr, "operator new comes from %s, not %s\n", op && dladdr(op, &info) ? info.dli_fname : "?",
			     from ? from : "($GH_TEST_NEW_FROM unset)");
		return 1;
	}

	// 1. every throwing form throws std::bad_alloc when there is no handler
	CHECK(throws_bad_alloc([] { return ::operator new(kHuge); }));
	CHECK(throws_bad_alloc([] { return ::operator new[](kHuge); }));
	CHECK(throws_bad_alloc([] { return ::operator new(kHuge, std::align_val_t(64)); }));
	CHECK(throws_bad_alloc([] { return ::operator new[](kHuge, std::align_val_t(4096)); }));
	CHECK(throws_bad_alloc([] { return (void *)new char[kHuge]; }));

	// 2. the handler is called until it gives up, then bad_alloc
	calls = 0;
	std::set_new_handler(handler_gives_up);
	CHECK(throws_bad_alloc([] { return ::operator new(kHuge); }));
	CHECK(calls == 2);
	calls = 0;
	std::set_new_handler(handler_gives_up);
	CHECK(throws_bad_alloc([] { return ::operator new[](kHuge, std::align_val_t(64)); }));
	CHECK(calls == 2);

	// 3. nothrow: nullptr, with no handler and with one that throws
	CHECK(::operator new(kHuge, std::nothrow) == nullptr);
	CHECK(::operator new[](kHuge, std::nothrow) == nullptr);
	CHECK(::operator new(kHuge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(::operator new[](kHuge, std::align_val_t(64), std::nothrow) == nullptr);
	calls = 0;
	std::set_new_handler(handler_throws);
	CHECK(::operator new(kHuge, std::nothrow) == nullptr);
	CHECK(calls == 1);
	calls = 0;
	CHECK(::operator new[](kHuge, std::align_val_t(256), std::nothrow) == nullptr);
	CHECK(calls == 1);
	std::set_new_handler(nullptr);

	// 4. a handler that releases memory: the retry succeeds. The cage
	// (64 MiB) holds the 40 MiB reserve but not a second 40 MiB block.
	const char *cage = std::getenv("GLASSHEAP_CAGE_SIZE");
	if (cage && std::strcmp(cage, "64M") == 0) {
		reserve = std::malloc(40u << 20);
		CHECK(reserve != nullptr);
		escape(reserve);
		calls = 0;
		std::set_new_handler(handler_releases);
		char *p = nullptr;
		try {
			p = new char[40u << 20];
		} catch (const std::bad_alloc &) {
		}
		escape(p);
		CHECK(p != nullptr);
		CHECK(calls == 1);
		CHECK(reserve == nullptr);
		if (p)
			std::memset(p, 1, 40u << 20);
		delete[] p;
	} else {
		std::fprintf(stderr, "part 4 needs GLASSHEAP_CAGE_SIZE=64M\n");
		failures++;
	}

	// 5. and ordinary requests still work
	int *q = new int[1000];
	escape(q);
	q[999] = 1;
	delete[] q;

	if (failures)
		std::fprintf(stderr, "%d failures\n", failures);
	else
		std::printf("new_oom: all operator new failure rules hold\n");
	return failures ? 1 : 0;
}
