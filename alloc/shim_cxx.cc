/*
 * shim_cxx.cc -- every C++ operator new/delete variant (plain, array,
 * nothrow, sized, aligned) routed to glassheap's core. Untyped new is
 * counted under the scope type or GH_TYPE_NEW ("operator new").
 *
 * Failure follows the C++ rules: the throwing forms call the installed
 * new-handler and retry, and throw std::bad_alloc when there is none; the
 * nothrow forms do the same but return nullptr instead of throwing.
 */
#include <cstddef>
#include <cstdint>
#include <new>

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
#define CALLER() ((uintptr_t)__builtin_return_address(0))

extern "C" {
HIDDEN void *gh__alloc(size_t size, uint32_t type, uintptr_t ra, bool zero);
HIDDEN void *gh__alloc_aligned(size_t align, size_t size, uint32_t type, uintptr_t ra);
HIDDEN void gh__free(void *p, const char *op);
extern HIDDEN __thread uint32_t gh__tl_scope_type __attribute__((tls_model("initial-exec")));
}

namespace {

const uint32_t kTypeNew = 2; /* GH_TYPE_NEW */

inline uint32_t untyped()
{
	uint32_t t = gh__tl_scope_type;
	return t ? t : kTypeNew;
}

void *new_impl(std::size_t n, std::size_t align, uintptr_t ra)
{
	for (;;) {
		void *p = align ? gh__alloc_aligned(align, n, untyped(), ra) : gh__alloc(n, untyped(), ra, false);
		if (p)
			return p;
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *new_nothrow(std::size_t n, std::size_t align, uintptr_t ra) noexcept
{
	try {
		return new_impl(n, align, ra);
	} catch (...) {
		return nullptr;
	}
}

} // namespace

EXPORT void *operator new(std::size_t n) { return new_impl(n, 0, CALLER()); }
EXPORT void *operator new[](std::size_t n) { return new_impl(n, 0, CALLER()); }
EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return new_nothrow(n, 0, CALLER()); }
EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return new_nothrow(n, 0, CALLER()); }
EXPORT void *operator new(std::size_t n, std::align_val_t a) { return new_impl(n, (std::size_t)a, CALLER()); }
EXPORT void *operator new[](std::size_t n, std::align_val_t a) { return new_impl(n, (std::size_t)a, CALLER()); }
EXPORT void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return new_nothrow(n, (std::size_t)a, CALLER());
}
EXPORT void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
	return new_nothrow(n, (std::size_t)a, CALLER());
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
