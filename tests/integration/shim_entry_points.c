/*
 * shim_entry_points -- every C allocation entry point, in LD_PRELOAD mode.
 *
 * This program is NOT linked with glassheap; ctest runs it with
 * LD_PRELOAD=libglassheap.so. It first proves glassheap is the malloc in
 * use (dlsym(RTLD_DEFAULT, "gh_ptr_size") is found and reports the sizes
 * this program asked for, also for allocations libc makes internally), then
 * calls malloc, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size and glibc's
 * __libc_malloc/__libc_free/__libc_calloc/__libc_realloc/__libc_memalign,
 * checking alignment guarantees, that memory is writable to the requested
 * size, that calloc zeroes, and the failure cases (invalid alignment ->
 * EINVAL; overflow and huge requests -> NULL with errno ENOMEM).
 */
#include "glassheap.h"
#include "test.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deliberate: querying freshly allocated (unwritten) memory's size, and
 * using a block after a realloc of it failed. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuse-after-free"

/* glibc's internal names (exported by libc.so.6 and by glassheap). */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static size_t (*ptr_size)(const void *);
static gh_type_t (*ptr_type)(const void *);

/* Sizes kept in volatiles so that the compiler cannot see (or warn about)
 * the huge requests. */
static volatile size_t HUGE_REQ = SIZE_MAX / 2;
static volatile size_t HALF_MAX = SIZE_MAX / 2 + 1;
static volatile size_t ALL_ONES = SIZE_MAX;
static volatile size_t BEYOND_CAGE = (size_t)1 << 40; /* 1 TiB: more than any cage */

static const size_t sizes[] = {0, 1, 7, 15, 16, 17, 100, 1000, 4095, 4096, 4097, 14336, 20000, 65536, 1 << 20,
			       (9u << 20) + 5};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static int aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* Writes the whole requested range and reads it back. */
static int writable(void *p, size_t n, unsigned char v)
{
	unsigned char *c = p;
	memset(c, v, n);
	for (size_t i = 0; i < n; i += (i < 4096 ? 1 : 61))
		if (c[i] != v)
			return 0;
	return n == 0 || c[n - 1] == v;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

TEST(glassheap_is_the_malloc)
{
	ptr_size = (size_t(*)(const void *))dlsym(RTLD_DEFAULT, "gh_ptr_size");
	ptr_type = (gh_type_t(*)(const void *))dlsym(RTLD_DEFAULT, "gh_ptr_type");
	ASSERT_TRUE(ptr_size != NULL); /* else libglassheap.so is not preloaded */
	ASSERT_TRUE(ptr_type != NULL);
	void *p = malloc(123);
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(ptr_size(p), 123);
	EXPECT_EQ(ptr_type(p), GH_TYPE_MALLOC);
	free(p);
	/* libc's own allocations go through glassheap too */
	char *d = strdup("twelve chars");
	ASSERT_TRUE(d != NULL);
	EXPECT_EQ(ptr_size(d), 13);
	free(d);
	char *a = NULL;
	EXPECT_EQ(asprintf(&a, "%d-%s", 42, "x"), 4);
	ASSERT_TRUE(a != NULL);
	EXPECT_GE(ptr_size(a), 5);
	free(a);
}

TEST(malloc_free)
{
	ASSERT_TRUE(ptr_size != NULL);
	for (size_t i = 0; i < NSIZES; i++) {
		unsigned char *p = malloc(sizes[i]);
		ASSERT_TRUE(p != NULL);
		EXPECT_TRUE(aligned(p, 16));
		EXPECT_EQ(ptr_size(p), sizes[i]);
		EXPECT_TRUE(writable(p, sizes[i], 0xa5));
		EXPECT_GE(malloc_usable_size(p), sizes[i]);
		free(p);
	}
	/* malloc(0) gives distinct pointers */
	void *z1 = malloc(0), *z2 = malloc(0);
	EXPECT_TRUE(z1 != NULL && z2 != NULL && z1 != z2);
	free(z1);
	free(z2);
	free(NULL);
}

TEST(calloc_zeroes)
{
	ASSERT_TRUE(ptr_size != NULL);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NSIZES; i++) {
			/* dirty memory of the same size first, so reuse would show */
			unsigned char *d = malloc(sizes[i]);
			ASSERT_TRUE(d != NULL);
			memset(d, 0xff, sizes[i]);
			free(d);
			size_t n = sizes[i] / 4 + 1;
			unsigned char *p = calloc(n, 4);
			ASSERT_TRUE(p != NULL);
			EXPECT_TRUE(aligned(p, 16));
			EXPECT_EQ(ptr_size(p), n * 4);
			EXPECT_TRUE(all_zero(p, n * 4));
			EXPECT_TRUE(writable(p, n * 4, 1));
			free(p);
		}
	void *z = calloc(0, 10);
	EXPECT_TRUE(z != NULL);
	free(z);
}

TEST(realloc_keeps_contents)
{
	ASSERT_TRUE(ptr_size != NULL);
	unsigned char *p = realloc(NULL, 10); /* realloc(NULL, n) is malloc */
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(ptr_size(p), 10);
	memset(p, 0x3c, 10);
	size_t prev = 10;
	const size_t steps[] = {100, 5, 5000, 70000, 20, 3 << 20, 64, 1 << 20, 1};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		size_t n = steps[i];
		p = realloc(p, n);
		ASSERT_TRUE(p != NULL);
		EXPECT_TRUE(aligned(p, 16));
		EXPECT_EQ(ptr_size(p), n);
		size_t keep = prev < n ? prev : n;
		EXPECT_TRUE(p[0] == 0x3c && p[keep - 1] == 0x3c);
		memset(p, 0x3c, n);
		prev = n;
	}
	free(p);
	/* failure leaves the block alone */
	p = malloc(32);
	ASSERT_TRUE(p != NULL);
	memset(p, 7, 32);
	errno = 0;
	EXPECT_TRUE(realloc(p, HUGE_REQ) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	EXPECT_EQ(p[31], 7);
	EXPECT_EQ(ptr_size(p), 32);
	free(p);
}

TEST(reallocarray_entry)
{
	ASSERT_TRUE(ptr_size != NULL);
	int *a = reallocarray(NULL, 10, sizeof(int));
	ASSERT_TRUE(a != NULL);
	EXPECT_EQ(ptr_size(a), 10 * sizeof(int));
	for (int i = 0; i < 10; i++)
		a[i] = i;
	a = reallocarray(a, 100000, sizeof(int));
	ASSERT_TRUE(a != NULL);
	EXPECT_EQ(ptr_size(a), 100000 * sizeof(int));
	EXPECT_EQ(a[9], 9);
	EXPECT_TRUE(writable(a, 100000 * sizeof(int), 2));
	/* n * size overflows: NULL, ENOMEM, the old block untouched */
	errno = 0;
	EXPECT_TRUE(reallocarray(a, HALF_MAX, 2) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	EXPECT_EQ(ptr_size(a), 100000 * sizeof(int));
	free(a);
	errno = 0;
	EXPECT_TRUE(reallocarray(NULL, HALF_MAX, 4) == NULL);
	EXPECT_EQ(errno, ENOMEM);
}

TEST(posix_memalign_alignments)
{
	ASSERT_TRUE(ptr_size != NULL);
	for (size_t a = 8; a <= ((size_t)1 << 20); a <<= 1) {
		const size_t ns[] = {0, 1, 24, a - 1, a, a + 1, 3 * a + 5, 100000};
		for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			void *p = (void *)0x1;
			int rc = posix_memalign(&p, a, ns[i]);
			ASSERT_EQ(rc, 0);
			ASSERT_TRUE(p != NULL);
			if (!aligned(p, a))
				fprintf(stderr, "  posix_memalign(%zu, %zu) = %p\n", a, ns[i], p);
			EXPECT_TRUE(aligned(p, a));
			EXPECT_TRUE(aligned(p, 16));
			EXPECT_EQ(ptr_size(p), ns[i]);
			EXPECT_TRUE(writable(p, ns[i], 0x5a));
			EXPECT_GE(malloc_usable_size(p), ns[i]);
			free(p);
		}
	}
	/* invalid alignments: EINVAL, *out untouched */
	const size_t bad[] = {0, 1, 2, 3, 4, 12, 24, 48, 100, 4097, ((size_t)1 << 20) + 8};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *p = (void *)0x1234;
		EXPECT_EQ(posix_memalign(&p, bad[i], 16), EINVAL);
		EXPECT_TRUE(p == (void *)0x1234);
	}
	void *p = (void *)0x1234;
	EXPECT_EQ(posix_memalign(&p, 64, HUGE_REQ), ENOMEM);
	EXPECT_TRUE(p == (void *)0x1234);
}

TEST(aligned_alloc_alignments)
{
	ASSERT_TRUE(ptr_size != NULL);
	for (size_t a = 1; a <= ((size_t)1 << 20); a <<= 1) {
		const size_t ns[] = {a, 2 * a, 100, 5000};
		for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			void *p = aligned_alloc(a, ns[i]);
			ASSERT_TRUE(p != NULL);
			EXPECT_TRUE(aligned(p, a));
			EXPECT_TRUE(aligned(p, 16));
			EXPECT_EQ(ptr_size(p), ns[i]);
			EXPECT_TRUE(writable(p, ns[i], 0x11));
			free(p);
		}
	}
	errno = 0;
	EXPECT_TRUE(aligned_alloc(64, HUGE_REQ) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	/* glibc 2.36: aligned_alloc is memalign, a non-power of two (0 too) is
	 * rounded up, never EINVAL */
	const size_t odd[][2] = {{0, 16}, {3, 16}, {24, 32}, {100, 128}, {4097, 8192}};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		errno = 0;
		void *p = aligned_alloc(odd[i][0], 50);
		ASSERT_TRUE(p != NULL);
		EXPECT_EQ(errno, 0);
		EXPECT_TRUE(aligned(p, odd[i][1]));
		EXPECT_EQ(ptr_size(p), 50);
		free(p);
	}
}

/* Alignments above 1 GiB are served, as glibc serves them; one that no
 * address space could hold is ENOMEM. */
TEST(huge_alignments)
{
	ASSERT_TRUE(ptr_size != NULL);
	const size_t big[] = {(size_t)1 << 30, (size_t)1 << 31, (size_t)1 << 32};
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		void *p = NULL;
		ASSERT_EQ(posix_memalign(&p, big[i], 100), 0);
		EXPECT_TRUE(aligned(p, big[i]));
		EXPECT_EQ(ptr_size(p), 100);
		EXPECT_TRUE(writable(p, 100, 0x66));
		free(p);
		void *q = aligned_alloc(big[i], 64);
		ASSERT_TRUE(q != NULL);
		EXPECT_TRUE(aligned(q, big[i]));
		free(q);
	}
	errno = 0;
	EXPECT_TRUE(memalign((size_t)1 << 62, 10) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(memalign(SIZE_MAX, 10) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	void *p = (void *)0x1234;
	EXPECT_EQ(posix_memalign(&p, (size_t)1 << 62, 10), ENOMEM);
	EXPECT_TRUE(p == (void *)0x1234);
}

TEST(memalign_valloc_pvalloc)
{
	ASSERT_TRUE(ptr_size != NULL);
	for (size_t a = 1; a <= ((size_t)1 << 20); a <<= 1) {
		void *p = memalign(a, 1000);
		ASSERT_TRUE(p != NULL);
		EXPECT_TRUE(aligned(p, a));
		EXPECT_TRUE(aligned(p, 16));
		EXPECT_EQ(ptr_size(p), 1000);
		EXPECT_TRUE(writable(p, 1000, 0x22));
		free(p);
	}
	/* glibc rounds a non-power-of-two alignment up to the next power of two */
	const size_t odd[][2] = {{24, 32}, {48, 64}, {100, 128}, {3000, 4096}, {4097, 8192}, {65537, 131072}};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		void *p = memalign(odd[i][0], 777);
		ASSERT_TRUE(p != NULL);
		if (!aligned(p, odd[i][1]))
			fprintf(stderr, "  memalign(%zu, 777) = %p, want %zu-aligned\n", odd[i][0], p, odd[i][1]);
		EXPECT_TRUE(aligned(p, odd[i][1]));
		EXPECT_EQ(ptr_size(p), 777);
		EXPECT_TRUE(writable(p, 777, 0x33));
		free(p);
	}
	void *m0 = memalign(0, 10);
	EXPECT_TRUE(m0 != NULL);
	free(m0);
	errno = 0;
	EXPECT_TRUE(memalign(64, HUGE_REQ) == NULL);
	EXPECT_EQ(errno, ENOMEM);

	size_t ps = page();
	const size_t vs[] = {0, 1, 100, ps - 1, ps, ps + 1, 5 * ps + 3};
	for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
		void *v = valloc(vs[i]);
		ASSERT_TRUE(v != NULL);
		EXPECT_TRUE(aligned(v, ps));
		EXPECT_EQ(ptr_size(v), vs[i]);
		EXPECT_TRUE(writable(v, vs[i], 0x44));
		free(v);

		/* pvalloc rounds the size up to whole pages (0 -> one page) */
		size_t rounded = vs[i] ? (vs[i] + ps - 1) / ps * ps : ps;
		void *pv = pvalloc(vs[i]);
		ASSERT_TRUE(pv != NULL);
		EXPECT_TRUE(aligned(pv, ps));
		EXPECT_GE(malloc_usable_size(pv), rounded);
		EXPECT_EQ(ptr_size(pv), rounded);
		EXPECT_TRUE(writable(pv, rounded, 0x55));
		free(pv);
	}
	errno = 0;
	EXPECT_TRUE(valloc(HUGE_REQ) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(pvalloc(SIZE_MAX - 10) == NULL);
	EXPECT_EQ(errno, ENOMEM);
}

TEST(malloc_usable_size_entry)
{
	EXPECT_EQ(malloc_usable_size(NULL), 0);
	for (size_t i = 0; i < NSIZES; i++) {
		unsigned char *p = malloc(sizes[i]);
		ASSERT_TRUE(p != NULL);
		size_t u = malloc_usable_size(p);
		EXPECT_GE(u, sizes[i]);
		EXPECT_LT(u, sizes[i] + sizes[i] / 4 + 4096 + 64); /* a sane bound */
		EXPECT_TRUE(writable(p, u, 0x66)); /* the whole usable size may be used */
		free(p);
	}
}

TEST(libc_aliases)
{
	ASSERT_TRUE(ptr_size != NULL);
	char *p = __libc_malloc(77);
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(ptr_size(p), 77); /* glassheap's, not glibc's */
	EXPECT_TRUE(writable(p, 77, 1));
	p = __libc_realloc(p, 7000);
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ(ptr_size(p), 7000);
	EXPECT_EQ(p[76], 1);
	free(p); /* mixing the names is fine: it is one allocator */
	unsigned char *c = __libc_calloc(50, 3);
	ASSERT_TRUE(c != NULL);
	EXPECT_EQ(ptr_size(c), 150);
	EXPECT_TRUE(all_zero(c, 150));
	__libc_free(c);
	for (size_t a = 16; a <= 65536; a <<= 2) {
		void *m = __libc_memalign(a, 300);
		ASSERT_TRUE(m != NULL);
		EXPECT_TRUE(aligned(m, a));
		EXPECT_EQ(ptr_size(m), 300);
		EXPECT_TRUE(writable(m, 300, 9));
		__libc_free(m);
	}
	void *q = malloc(5);
	__libc_free(q);
	errno = 0;
	EXPECT_TRUE(__libc_calloc(HALF_MAX, 2) == NULL);
	EXPECT_EQ(errno, ENOMEM);
}

/* A zero-size object is a live allocation like any other: the pointer
 * queries know it, also when the address right after its (tiny) block
 * belongs to a large allocation. */
TEST(zero_size_objects_are_live)
{
	ASSERT_TRUE(ptr_type != NULL);
	enum { N = 4000 };
	static void *zero[N], *big[N];
	int bad_aligned = 0, bad_malloc = 0;
	for (int i = 0; i < N; i++) {
		ASSERT_EQ(posix_memalign(&zero[i], 4096, 0), 0);
		big[i] = malloc(20000 + (size_t)(i % 7) * 4096); /* large blocks */
		ASSERT_TRUE(big[i] != NULL);
	}
	for (int i = 0; i < N; i++)
		if (ptr_type(zero[i]) != GH_TYPE_MALLOC && bad_aligned++ < 3)
			fprintf(stderr, "  posix_memalign(4096, 0) = %p: gh_ptr_type %u (want %u)\n", zero[i],
				ptr_type(zero[i]), GH_TYPE_MALLOC);
	for (int i = 0; i < N; i++) {
		free(zero[i]);
		free(big[i]);
	}
	for (int i = 0; i < N; i++) {
		zero[i] = malloc(0);
		big[i] = malloc(20000);
		ASSERT_TRUE(zero[i] != NULL && big[i] != NULL);
	}
	for (int i = 0; i < N; i++)
		if (ptr_type(zero[i]) != GH_TYPE_MALLOC && bad_malloc++ < 3)
			fprintf(stderr, "  malloc(0) = %p: gh_ptr_type %u (want %u)\n", zero[i], ptr_type(zero[i]),
				GH_TYPE_MALLOC);
	for (int i = 0; i < N; i++) {
		free(zero[i]);
		free(big[i]);
	}
	EXPECT_EQ(bad_aligned, 0);
	EXPECT_EQ(bad_malloc, 0);
}

TEST(overflow_and_huge_requests)
{
	errno = 0;
	EXPECT_TRUE(calloc(HALF_MAX, 2) == NULL); /* n * size overflows */
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(calloc(HALF_MAX, HALF_MAX) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(malloc(HUGE_REQ) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(malloc(ALL_ONES) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(malloc(BEYOND_CAGE) == NULL); /* fits the header, not the cage */
	EXPECT_EQ(errno, ENOMEM);
	errno = 0;
	EXPECT_TRUE(calloc(BEYOND_CAGE, 1) == NULL);
	EXPECT_EQ(errno, ENOMEM);
	/* and the heap still works afterwards */
	void *p = malloc(100);
	EXPECT_TRUE(p != NULL);
	free(p);
}

int main(void)
{
	return RUN_TESTS();
}
