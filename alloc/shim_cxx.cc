/*
 * shim_cxx.cc -- every C++ operator new/delete variant (plain, array,
 * nothrow, sized, aligned) routed to glassheap's core. Untyped new is
 * counted under the scope type or GH_TYPE_NEW ("operator new").
 *
 * No dependency on the C++ runtime: built without exceptions or RTTI, so
 * that libglassheap.so needs libstdc++ no more than libc does (a C program
 * never maps it; issue 15's start-up). Failure still follows the C++ rules,
 * by handing the request to the C++ runtime's own operator of the same
 * form (the next definition, RTLD_NEXT): it calls the installed new-handler
 * and retries through malloc (glassheap's), then throws std::bad_alloc, or,
 * for the nothrow forms, returns nullptr. An allocation that succeeds after
 * a new-handler ran is counted under malloc's type at libstdc++'s site. A
 * program that calls operator new has the runtime loaded; if it does not,
 * the throwing forms abort, as an unhandled bad_alloc would.
 */
#include <cstddef>
#include <cstdint>
#include <new>

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
#define CALLER() ((uintptr_t)__builtin_return_address(0))

extern "C" {
HIDDEN void *gh__alloc_aligned(size_t align, size_t size, uint32_t type, uintptr_t ra);
HIDDEN void gh__free(void *p, const char *op);
/* shim.c: the calling thread's scope type (0: none), and gh__alloc for
 * untyped new (the scope type or GH_TYPE_NEW) with its fast path inlined. */
HIDDEN uint32_t gh__scope_type(void);
HIDDEN void *gh__alloc_new(size_t size, uintptr_t ra);
}

namespace {

const uint32_t kTypeNew = 2; /* GH_TYPE_NEW */

inline uint32_t untyped()
{
	uint32_t t = gh__scope_type();
	return t ? t : kTypeNew;
}

/* The C++ runtime's operator of one form, looked up on the first failure. */
enum Form { kNew, kNewArray, kNewNothrow, kNewArrayNothrow, kNewAligned, kNewArrayAligned, kNewAlignedNothrow,
	    kNewArrayAlignedNothrow, kForms };

const char *const kMangled[kForms] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
	"_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
};

void *runtime_operator(Form f)
{
	static void *resolved[kForms];
	void *fn = __atomic_load_n(&resolved[f], __ATOMIC_ACQUIRE);
	if (!fn) {
		fn = dlsym(RTLD_NEXT, kMangled[f]);
		__atomic_store_n(&resolved[f], fn, __ATOMIC_RELEASE);
	}
	return fn;
}

[[noreturn]] void no_runtime()
{
	static const char msg[] = "glassheap: operator new is out of memory and no C++ runtime is loaded to throw "
				  "std::bad_alloc\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	abort();
}

/* The allocation, else the runtime's answer to the failure. */
void *new_impl(std::size_t n, std::size_t align, uintptr_t ra, Form f)
{
	void *p = align ? gh__alloc_aligned(align, n, untyped(), ra) : gh__alloc_new(n, ra);
	if (__builtin_expect(p != nullptr, 1))
		return p;
	void *fn = runtime_operator(f);
	bool nothrow = f == kNewNothrow || f == kNewArrayNothrow || f == kNewAlignedNothrow ||
		       f == kNewArrayAlignedNothrow;
	if (!fn) {
		if (nothrow)
			return nullptr;
		no_runtime();
	}
	switch (f) {
	case kNew:
	case kNewArray:
		return ((void *(*)(std::size_t))fn)(n);
	case kNewNothrow:
	case kNewArrayNothrow:
		return ((void *(*)(std::size_t, const std::nothrow_t &))fn)(n, std::nothrow_t{});
	case kNewAligned:
	case kNewArrayAligned:
		return ((void *(*)(std::size_t, std::align_val_t))fn)(n, (std::align_val_t)align);
	default:
		return ((void *(*)(std::size_t, std::align_val_t, const std::nothrow_t &))fn)(n, (std::align_val_t)align,
											     std::nothrow_t{});
	}
}

} // namespace

EXPORT void *operator new(std::size_t n) { return new_impl(n, 0, CALLER(), kNew); }
EXPORT void *operator new[](std::size_t n) { return new_impl(n, 0, CALLER(), kNewArray); }
EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
	return new_impl(n, 0, CALLER(), kNewNothrow);
}
EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
	return new_impl(n, 0, CALLER(), kNewArrayNothrow);
}
EXPORT void *operator new(std::size_t n, std::align_val_t a)
{
	return new_impl(n, (std::size_t)a, CALLER(), kNewAligned);
}
EXPORT void *operator new[](std::size_t n, std::align_val_t a)
{
	return new_impl(n, (std::size_t)a, CALLER(), kNewArrayAligned);
}
EXPORT void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return new_impl(n, (std::size_t)a, CALLER(), kNewAlignedNothrow);
}
EXPORT void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return new_impl(n, (std::size_t)a, CALLER(), kNewArrayAlignedNothrow);
}

EXPORT void operator delete(void *p) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p) noexcept { gh__free(p, "operator delete[]"); }
EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept { gh__free(p, "operator delete[]"); }
EXPORT void operator delete(void *p, std::size_t) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p, std::size_t) noexcept { gh__free(p, "operator delete[]"); }
EXPORT void operator delete(void *p, std::align_val_t) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p, std::align_val_t) noexcept { gh__free(p, "operator delete[]"); }
EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	gh__free(p, "operator delete[]");
}
EXPORT void operator delete(void *p, std::size_t, std::align_val_t) noexcept { gh__free(p, "operator delete"); }
EXPORT void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { gh__free(p, "operator delete[]"); }
