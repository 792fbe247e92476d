/*
 * shim.c -- makes glassheap the process's malloc: the C allocation
 * functions and glibc's __libc_* aliases, exported from libglassheap
 * (linked first, or under LD_PRELOAD). C++ operator new/delete live in
 * shim_cxx.cc.
 *
 * Untyped allocations are counted under the calling thread's scope type
 * (gh_scope_push) or under GH_TYPE_MALLOC; every allocation records its
 * caller's return address as its site. Semantics follow glibc where the
 * standards leave room: malloc(0) returns a unique pointer, realloc(p, 0)
 * frees p and returns NULL, memalign and aligned_alloc round a non-power-of-two
 * alignment up, any alignment the address space allows is served.
 */
#include "internal.h"

#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define CALLER() ((uintptr_t)__builtin_return_address(0))

/* The type an untyped allocation counts under: the scope type, else dflt. */
GH_INLINE gh_type_t untyped_as(gh_type_t dflt)
{
	gh_type_t t = gh__tl.scope_type;
	return t ? t : dflt;
}

GH_INLINE gh_type_t untyped(void)
{
	return untyped_as(GH_TYPE_MALLOC);
}

/*
 * gh__alloc_fast with the type read only once the size is known to be
 * served: the thread's bin, else a tail call to jemalloc's refill. The
 * fast path needs no frame pointer: every call out of malloc is a tail
 * call, so the unwinders (sites.c, unwind.c), which start in glassheap's
 * own frames, never see malloc's frame.
 */
__attribute__((optimize("omit-frame-pointer"))) EXPORT void *malloc(size_t size)
{
	if (gh_unlikely(!gh__alloc_fast_ok(size)))
		return gh__alloc_general(size, untyped(), CALLER(), false);
	return gh__alloc_fast_bin(size, gh__tl.malloc_tbits, CALLER());
}

/* For shim_cxx.cc, which cannot include this header: untyped operator new
 * (the scope type, or GH_TYPE_NEW), the way malloc does it. */
__attribute__((optimize("omit-frame-pointer"))) void *gh__alloc_new(size_t size, uintptr_t ra)
{
	if (gh_unlikely(!gh__alloc_fast_ok(size)))
		return gh__alloc_general(size, untyped_as(GH_TYPE_NEW), ra, false);
	return gh__alloc_fast_bin(size, gh__tl.new_tbits, ra);
}

gh_type_t gh__scope_type(void)
{
	return gh__tl.scope_type;
}

/* No frame pointer either: every call out of free is a tail call. */
__attribute__((optimize("omit-frame-pointer"))) EXPORT void free(void *ptr)
{
	gh__free_fast(ptr, "free");
}

/* malloc's fast path with jemalloc's calloc, never the bins (the trailer,
 * past the request, is written over the zeroed block's end). */
__attribute__((optimize("omit-frame-pointer"))) EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (gh_unlikely(!gh__alloc_fast_ok(total)))
		return gh__alloc_general(total, untyped(), CALLER(), true);
	return gh__alloc_fast_refill(total, gh__tl.malloc_tbits, CALLER(), true);
}

EXPORT void *realloc(void *ptr, size_t size)
{
	return gh__realloc(ptr, size, ptr ? GH_TYPE_NONE : untyped(), CALLER(), "realloc");
}

EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return gh__realloc(ptr, total, ptr ? GH_TYPE_NONE : untyped(), CALLER(), "reallocarray");
}

static bool pow2(size_t a)
{
	return a != 0 && (a & (a - 1)) == 0;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (!pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int saved = errno;
	void *p = gh__alloc_aligned(align, size, untyped(), CALLER());
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* glibc 2.36 (Debian 12) makes aligned_alloc the same function as memalign:
 * any alignment is accepted and rounded up to a power of two (0 and 1 mean
 * none). A later C standard lets an implementation refuse a non-power of
 * two with EINVAL; glibc did not yet, and programs rely on it. */
static void *memalign_like(size_t align, size_t size, uintptr_t ra)
{
	if (align > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
		errno = ENOMEM; /* no power of two is that large */
		return NULL;
	}
	size_t a = 1;
	while (a < align)
		a <<= 1;
	return gh__alloc_aligned(a, size, untyped(), ra);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return memalign_like(align, size, CALLER());
}

EXPORT void *memalign(size_t align, size_t size)
{
	return memalign_like(align, size, CALLER());
}

static size_t page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

EXPORT void *valloc(size_t size)
{
	return gh__alloc_aligned(page_size(), size, untyped(), CALLER());
}

EXPORT void *pvalloc(size_t size)
{
	size_t ps = page_size();
	if (size > SIZE_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	size_t rounded = size ? (size + ps - 1) & ~(ps - 1) : ps;
	return gh__alloc_aligned(ps, rounded, untyped(), CALLER());
}

EXPORT size_t malloc_usable_size(void *ptr)
{
	return gh__usable_size(ptr);
}

/* glibc's internal names, called directly by some programs and libraries.
 * Their attributes match what <stdlib.h> declares for the targets. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
EXPORT void *__libc_malloc(size_t) __attribute__((alias("malloc")));
EXPORT void __libc_free(void *) __attribute__((alias("free")));
EXPORT void *__libc_calloc(size_t, size_t) __attribute__((alias("calloc")));
EXPORT void *__libc_realloc(void *, size_t) __attribute__((alias("realloc")));
EXPORT void *__libc_memalign(size_t, size_t) __attribute__((alias("memalign")));
EXPORT void *__libc_valloc(size_t) __attribute__((alias("valloc")));
EXPORT void *__libc_pvalloc(size_t) __attribute__((alias("pvalloc")));

/*
 * The program's own mappings (mapped.c): its anonymous memory is scanned as
 * roots. These call the kernel and note what changed (in the order
 * mapped.c's gh__mapped_munmap explains); glassheap's own code
 * calls gh__sys_mmap directly (the macros in internal.h, undone here).
 */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* (A sanitizer build leaves mmap to the sanitizer's interceptor: mapped.c
 * calls it for glassheap's own mappings, and the program's are not
 * recorded.) */
#undef mmap
#undef munmap

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = gh__sys_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		gh__mapped_note(p, len, (flags & MAP_ANONYMOUS) != 0);
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	return gh__mapped_munmap(addr, len);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return gh__mapped_mremap(old, old_len, new_len, flags, new_addr);
}
#endif
