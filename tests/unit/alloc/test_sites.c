/* Unit tests for sites.c: interning, distinct ids per call site, resolution. */
#include "internal.h"
#include "sites.h"
#include "test.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static __attribute__((noinline)) void *site_a(void)
{
	void *p = malloc(8);
	__asm__ volatile("" ::: "memory");
	return p;
}

static __attribute__((noinline)) void *site_b(void)
{
	void *p = malloc(24); /* differs from site_a so the two are not folded */
	__asm__ volatile("" ::: "memory");
	return p;
}

TEST(same_site_same_id_distinct_sites_distinct_ids)
{
	void *a1 = site_a(), *a2 = site_a(), *b = site_b();
	EXPECT_NE(gh_ptr_site(a1), 0);
	EXPECT_EQ(gh_ptr_site(a1), gh_ptr_site(a2));
	EXPECT_NE(gh_ptr_site(a1), gh_ptr_site(b));
	free(a1), free(a2), free(b);
}

TEST(resolve_names_this_executable)
{
	void *a = site_a();
	gh_site_info_t info;
	ASSERT_EQ(gh_site_resolve(gh_ptr_site(a), &info), 0);
	EXPECT_TRUE(strstr(info.module, "test_sites") != NULL);
	/* the return address lies inside site_a */
	EXPECT_GE(info.address, (uintptr_t)site_a);
	EXPECT_LT(info.address, (uintptr_t)site_a + 64);
	EXPECT_EQ(gh_site_resolve(0, &info), ENOENT);
	EXPECT_EQ(gh_site_resolve(UINT32_MAX - 1, &info), ENOENT);
	char buf[256];
	gh__site_describe(info.address, buf, sizeof buf);
	EXPECT_TRUE(strstr(buf, "test_sites+0x") != NULL);
	free(a);
}

TEST(intern_direct)
{
	uint32_t n0 = gh__site_count();
	uint32_t x = gh__site_intern(0x123456);
	EXPECT_NE(x, 0);
	EXPECT_EQ(gh__site_intern(0x123456), x);
	EXPECT_EQ(gh__site_address(x), 0x123456);
	EXPECT_EQ(gh__site_count(), n0 + 1);
	EXPECT_EQ(gh__site_intern(0), 0);
}

static void *intern_many(void *arg)
{
	uintptr_t base = (uintptr_t)arg;
	uint32_t *ids = malloc(sizeof(uint32_t) * 5000);
	for (uintptr_t i = 0; i < 5000; i++)
		ids[i] = gh__site_intern(base + i * 16);
	return ids;
}

TEST(concurrent_interning_agrees)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, intern_many, (void *)(uintptr_t)0x7000000);
	uint32_t *res[4];
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], (void **)&res[i]);
	for (int i = 1; i < 4; i++)
		EXPECT_EQ(memcmp(res[0], res[i], 5000 * sizeof(uint32_t)), 0);
	for (int k = 0; k < 5000; k++)
		EXPECT_EQ(gh__site_address(res[0][k]), 0x7000000 + (uintptr_t)k * 16);
	for (int i = 0; i < 4; i++)
		free(res[i]);
}


/* ---- The live view (sites_live.c) ------------------------------------------------------ */

static __attribute__((noinline)) void *live_a(gh_type_t t)
{
	void *p = gh_malloc_typed(t, 40);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

static __attribute__((noinline)) void *live_b(gh_type_t t)
{
	void *p = gh_malloc_typed(t, 24);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

static const struct gh_site_live_row *row_of(const struct gh_site_live_row *rows, size_t n, uint32_t site)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].site == site)
			return &rows[i];
	return NULL;
}

TEST(live_rows_exact_per_site_and_type)
{
	gh_type_t t = gh_type_register("SitesLiveT", NULL), u = gh_type_register("SitesLiveU", NULL);
	ASSERT_NE(t, GH_TYPE_NONE);
	static void *keep[300 + 200 + 50];
	size_t k = 0;
	for (int i = 0; i < 300; i++)
		keep[k++] = live_a(t);
	for (int i = 0; i < 200; i++)
		keep[k++] = live_b(t);
	for (int i = 0; i < 50; i++)
		keep[k++] = live_a(u); /* the same site, another type: its own row */
	uint32_t sa = gh_ptr_site(keep[0]), sb = gh_ptr_site(keep[300]);
	ASSERT_NE(sa, sb);

	struct gh_site_live_row *rows = NULL;
	size_t n = 0;
	ASSERT_EQ(gh__sites_live(t, &rows, &n), 0);
	EXPECT_EQ(n, 2);
	const struct gh_site_live_row *ra = row_of(rows, n, sa), *rb = row_of(rows, n, sb);
	ASSERT_TRUE(ra != NULL && rb != NULL);
	EXPECT_EQ(ra->count, 300);
	EXPECT_EQ(ra->bytes, 300 * 40);
	EXPECT_EQ(rb->count, 200);
	EXPECT_EQ(rb->bytes, 200 * 24);
	EXPECT_EQ(ra->type, t);
	free(rows);

	ASSERT_EQ(gh__sites_live(u, &rows, &n), 0);
	EXPECT_EQ(n, 1);
	EXPECT_TRUE(n == 1 && rows[0].site == sa && rows[0].count == 50 && rows[0].bytes == 50 * 40);
	free(rows);

	/* every type: both pairs of site a, with these exact counts */
	ASSERT_EQ(gh__sites_live(GH_TYPE_NONE, &rows, &n), 0);
	size_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		EXPECT_NE(rows[i].type, GH_TYPE_INTERNAL);
		if (rows[i].site == sa && (rows[i].type == t || rows[i].type == u)) {
			EXPECT_EQ(rows[i].count, rows[i].type == t ? 300u : 50u);
			seen++;
		}
	}
	EXPECT_EQ(seen, 2);
	free(rows);

	/* freed objects leave the rows */
	for (size_t i = 300; i < 500; i++)
		free(keep[i]);
	ASSERT_EQ(gh__sites_live(t, &rows, &n), 0);
	EXPECT_EQ(n, 1);
	free(rows);

	/* symbolized: this file, the allocating line, live_a */
	struct gh_site_sym sym;
	gh__sites_symbolize(sa, &sym);
	EXPECT_TRUE(strstr(sym.site, "test_sites+0x") != NULL);
	EXPECT_TRUE(strstr(sym.function, "live_a") != NULL);
	EXPECT_TRUE(strstr(sym.filename, "test_sites.c") != NULL);
	EXPECT_TRUE(strstr(sym.line, "gh_malloc_typed(t, 40)") != NULL);
	gh__sites_symbolize(0, &sym);
	EXPECT_STREQ(sym.site, "");
	for (size_t i = 0; i < 300; i++)
		free(keep[i]);
	for (size_t i = 500; i < 550; i++)
		free(keep[i]);
}

/* ---- Blame the caller ---------------------------------------------------------------- */

/* A wrapper of the program's own: its return address is what the site of
 * its allocations must be once it is named with gh_wrapper_add. */
static uintptr_t xm_ra;
__attribute__((noinline)) void *test_sites_xmalloc(size_t n)
{
	xm_ra = (uintptr_t)__builtin_return_address(0);
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

static __attribute__((noinline)) void *call_xmalloc(void)
{
	void *p = test_sites_xmalloc(40);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

static __attribute__((noinline)) char *call_strdup(void)
{
	char *p = strdup("a string to copy");
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

static uintptr_t site_address(const void *p)
{
	gh_site_info_t info;
	return gh_site_resolve(gh_ptr_site(p), &info) == 0 ? info.address : 0;
}

static bool inside(uintptr_t a, void *fn, size_t len)
{
	return a > (uintptr_t)fn && a < (uintptr_t)fn + len;
}

TEST(wrappers_blame_the_caller)
{
	/* libc is a wrapper by default: strdup's block is call_strdup's */
	char *s = call_strdup();
	EXPECT_TRUE(inside(site_address(s), (void *)call_strdup, 64));

	/* not yet a wrapper: the site is inside it */
	void *a = call_xmalloc();
	EXPECT_TRUE(inside(site_address(a), (void *)test_sites_xmalloc, 64));
	EXPECT_NE(site_address(a), xm_ra);
	ASSERT_EQ(gh_wrapper_add("test_sites_xmalloc"), 0);
	void *b = call_xmalloc();
	EXPECT_EQ(site_address(b), xm_ra);
	EXPECT_TRUE(inside(site_address(b), (void *)call_xmalloc, 64));
	EXPECT_NE(gh_ptr_site(a), gh_ptr_site(b));
	/* the same call site again: the same id */
	void *c = call_xmalloc();
	EXPECT_EQ(gh_ptr_site(b), gh_ptr_site(c));

	/* bad specs */
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	EXPECT_EQ(gh_wrapper_add(longname), EINVAL);
	EXPECT_EQ(gh_wrapper_add(""), EINVAL);
	EXPECT_EQ(gh_wrapper_add(NULL), EINVAL);
	EXPECT_EQ(gh_wrapper_add(" , module:libnothing.so ,"), 0);

	/* -defaults: libc's code is its own site again (already interned sites
	 * are classified again) */
	ASSERT_EQ(gh_wrapper_add("-defaults"), 0);
	char *t = call_strdup();
	EXPECT_FALSE(inside(site_address(t), (void *)call_strdup, 64));
	EXPECT_NE(gh_ptr_site(s), gh_ptr_site(t));
	/* the program's own wrapper stays one */
	void *d = call_xmalloc();
	EXPECT_EQ(gh_ptr_site(b), gh_ptr_site(d));
	free(s), free(t), free(a), free(b), free(c), free(d);
}

/* The fast path keeps the thread's recent sites in a cache: a reclassification
 * must reach it. Runs after wrappers_blame_the_caller, whose "-defaults" left
 * libc's code its own site; the allocations between the first strdup and the
 * wrapper's naming come from that one call site. */
TEST(site_cache_follows_reclassification)
{
	char *s = call_strdup();
	char *t = call_strdup(); /* its site from the thread's cache */
	ASSERT_EQ(gh_wrapper_add("module:libc.so"), 0);
	char *u = call_strdup();
	EXPECT_EQ(gh_ptr_site(s), gh_ptr_site(t));
	EXPECT_FALSE(inside(site_address(t), (void *)call_strdup, 64));
	EXPECT_TRUE(inside(site_address(u), (void *)call_strdup, 64));
	free(s), free(t), free(u);
}

int main(void)
{
	return RUN_TESTS();
}
