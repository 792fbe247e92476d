/* Unit tests for heap.c: trailer and header, start map, interior lookup, enumeration,
 * realloc paths, misuse detection. Linked with libglassheap.a: glassheap is
 * this program's malloc. */
#include "internal.h"
#include "test.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

TEST(malloc_has_live_metadata)
{
	char *p = malloc(100);
	ASSERT_TRUE(p != NULL);
	EXPECT_EQ((uintptr_t)p % 16, 0);
	EXPECT_TRUE(gh__cage_contains((uintptr_t)p));
	EXPECT_EQ(gh_ptr_size(p), 100);
	EXPECT_EQ(gh_ptr_type(p), GH_TYPE_MALLOC);
	EXPECT_NE(gh_ptr_site(p), 0);
	/* 100 + the 8-byte trailer: the 112-byte class, named by the start byte */
	uint8_t start = gh__startmap[((uintptr_t)p - gh__cage.base) >> 4];
	EXPECT_TRUE(start >= GH_START_TRL0 && start < GH_START_FREED);
	EXPECT_EQ(gh__start_cls[start], 112);
	EXPECT_EQ(malloc_usable_size(p), 104);
	free(p);
	EXPECT_EQ(gh__startmap[((uintptr_t)p - gh__cage.base) >> 4], start | GH_START_FREED);
	EXPECT_FALSE(gh__start_live(start | GH_START_FREED));

	/* a large block keeps a header */
	char *big = malloc(100000);
	ASSERT_TRUE(big != NULL);
	EXPECT_EQ(gh__startmap[((uintptr_t)big - gh__cage.base) >> 4], GH_START_HDR);
	EXPECT_EQ(gh_ptr_size(big), 100000);
	free(big);
}

/* Every size up to the largest trailer class: the class is the smallest
 * that holds the request and its trailer, the block's metadata reads back,
 * and the last usable byte can be written without touching it. */
TEST(trailer_classes_fit_every_small_size)
{
	ASSERT_TRUE(gh__trl_max >= 8192);
	for (size_t n = 0; n <= gh__trl_max; n += n < 1024 ? 1 : 7) {
		char *p = malloc(n);
		ASSERT_TRUE(p != NULL);
		EXPECT_EQ((uintptr_t)p % 16, 0);
		uint8_t start = gh__startmap[((uintptr_t)p - gh__cage.base) >> 4];
		size_t cls = gh__start_cls[start];
		ASSERT_TRUE(cls >= n + GH_TRL_SIZE);
		EXPECT_EQ(cls, ghje_nallocx((n + GH_TRL_SIZE + 15) & ~(size_t)15, 0));
		EXPECT_EQ(malloc_usable_size(p), cls - GH_TRL_SIZE);
		memset(p, 0xff, malloc_usable_size(p));
		EXPECT_EQ(gh_ptr_size(p), n);
		EXPECT_EQ(gh_ptr_type(p), GH_TYPE_MALLOC);
		free(p);
	}
	EXPECT_EQ(gh_heap_check(1), 0);
}

TEST(interior_lookup_small_and_large)
{
	size_t sizes[] = {0, 1, 16, 17, 100, 4096, 14000, 14337, 20000, 1 << 20, 9 << 20};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		char *p = malloc(n);
		ASSERT_TRUE(p != NULL);
		uintptr_t u = (uintptr_t)p;
		EXPECT_EQ(gh__heap_lookup(u), u);
		if (n > 1) {
			EXPECT_EQ(gh__heap_lookup(u + n - 1), u);
			EXPECT_EQ(gh__heap_lookup(u + n / 2), u);
		}
		EXPECT_NE(gh__heap_lookup(u + (n ? n : 1) + 4096 * 4), u);
		/* the header itself is not part of the object */
		EXPECT_NE(gh__heap_lookup(u - 8), u);
		gh_ptr_info_t info;
		EXPECT_EQ(gh_ptr_info(p + (n ? n - 1 : 0), &info), 0);
		EXPECT_EQ((uintptr_t)info.base, u);
		EXPECT_EQ(info.size, n);
		free(p);
		EXPECT_EQ(gh__heap_lookup(u), 0);
	}
}

TEST(lookup_outside_heap)
{
	int x;
	EXPECT_EQ(gh__heap_lookup((uintptr_t)&x), 0);
	EXPECT_EQ(gh__heap_lookup(0), 0);
	EXPECT_EQ(gh__heap_lookup(UINTPTR_MAX), 0);
	EXPECT_EQ(gh__heap_lookup(gh__cage.base + gh__cage.size - 1), 0);
	gh_ptr_info_t info;
	EXPECT_EQ(gh_ptr_info(&x, &info), ENOENT);
}

struct enum_ctx {
	uintptr_t want[64];
	int found[64];
	int n;
	size_t visited;
};

static bool visit(uintptr_t user, const struct gh_meta *m, void *arg)
{
	struct enum_ctx *c = arg;
	(void)m;
	c->visited++;
	for (int i = 0; i < c->n; i++)
		if (c->want[i] == user)
			c->found[i]++;
	return true;
}

TEST(enumeration_finds_every_live_object_once)
{
	struct enum_ctx c = {.n = 64};
	void *ps[64];
	for (int i = 0; i < 64; i++) {
		ps[i] = malloc((size_t)(i * 977) % 70000);
		c.want[i] = (uintptr_t)ps[i];
	}
	free(ps[10]);
	gh__heap_enumerate(visit, &c);
	for (int i = 0; i < 64; i++)
		EXPECT_EQ(c.found[i], i == 10 ? 0 : 1);
	for (int i = 0; i < 64; i++)
		if (i != 10)
			free(ps[i]);
}

TEST(realloc_keeps_contents_and_type)
{
	gh_type_t t = gh_type_register("test.realloc", NULL);
	char *p = gh_malloc_typed(t, 10);
	memcpy(p, "0123456789", 10);
	for (size_t n = 20; n < (4u << 20); n *= 3) {
		p = realloc(p, n);
		ASSERT_TRUE(p != NULL);
		EXPECT_EQ(memcmp(p, "0123456789", 10), 0);
		EXPECT_EQ(gh_ptr_size(p), n);
		EXPECT_EQ(gh_ptr_type(p), t);
		EXPECT_EQ(gh__heap_lookup((uintptr_t)p + n - 1), (uintptr_t)p);
	}
	p = realloc(p, 5);
	EXPECT_EQ(memcmp(p, "01234", 5), 0);
	EXPECT_EQ(gh_ptr_size(p), 5);
	free(p);
}

/* The page map entries of [lo, hi) (cage addresses, page-aligned range). */
static size_t pages_naming(uintptr_t user, uintptr_t lo, uintptr_t hi)
{
	size_t n = 0;
	for (uintptr_t a = lo & ~(uintptr_t)4095; a < hi; a += 4096)
		if (gh__pagemap[(a - gh__cage.base) >> 12] == (uint32_t)(((user - gh__cage.base) >> 4) + 1))
			n++;
	return n;
}

TEST(realloc_in_place_small_and_large)
{
	/* Same small size class: the block stays, the header follows. */
	char *p = malloc(33); /* 33 + 8: the 48-byte class, as 40 + 8 */
	ASSERT_TRUE(p != NULL);
	volatile uintptr_t pa = (uintptr_t)p; /* (gcc: no use-after-realloc warning) */
	char *q = realloc(p, 40);
	EXPECT_EQ((uintptr_t)q, pa);
	EXPECT_EQ(gh_ptr_size(q), 40);
	/* one byte more needs the next class: the block moves */
	char *r = realloc(q, 41);
	ASSERT_TRUE(r != NULL);
	EXPECT_EQ(gh_ptr_size(r), 41);
	EXPECT_EQ(gh_heap_check(1), 0);
	free(r);

	/* A large block grows and shrinks; wherever it ends up, its page map
	 * names exactly the pages it covers and the lookups follow. Blocks
	 * after it are freed so that jemalloc can extend it in place. */
	gh_type_t t = gh_type_register("test.realloc_large", NULL);
	gh_type_stats_t st0, st1;
	gh_type_stats(t, &st0);
	char *b = gh_malloc_typed(t, 64 << 10);
	ASSERT_TRUE(b != NULL);
	memset(b, 7, 64 << 10);
	size_t sizes[] = {200 << 10, 1 << 20, 300 << 10, 33 << 10, 2 << 20, 20000, 16 << 10};
	size_t prev = 64 << 10;
	int in_place = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		volatile uintptr_t old = (uintptr_t)b;
		b = realloc((void *)old, n);
		ASSERT_TRUE(b != NULL);
		size_t keep = prev < n ? prev : n;
		EXPECT_EQ(b[0], 7);
		EXPECT_EQ(b[keep - 1], 7);
		memset(b, 7, n);
		uintptr_t u = (uintptr_t)b;
		EXPECT_EQ(gh_ptr_size(b), n);
		EXPECT_EQ(gh_ptr_type(b), t);
		EXPECT_EQ(gh__heap_lookup(u + n - 1), u);
		EXPECT_EQ(gh__heap_lookup(u + n), 0);
		size_t want = ((u + n - 1) >> 12) - (u >> 12) + 1;
		EXPECT_EQ(pages_naming(u, u, u + n), want);
		/* nothing past the end, nor of the old extent, names the block */
		EXPECT_EQ(pages_naming(u, u + n + 4095, u + (4u << 20)), 0);
		if (old != u)
			EXPECT_EQ(pages_naming(old, old, old + prev), 0);
		else
			in_place++;
		prev = n;
	}
	EXPECT_GE(in_place, 1); /* shrinking a large extent stays where it is */
	gh_type_stats(t, &st1);
	EXPECT_EQ(st1.live_count - st0.live_count, 1);
	EXPECT_EQ(st1.live_bytes - st0.live_bytes, (int64_t)prev);
	EXPECT_EQ(st1.total_allocs - st0.total_allocs, 1 + sizeof sizes / sizeof sizes[0]);
	free(b);
	gh_type_stats(t, &st1);
	EXPECT_EQ(st1.live_count, st0.live_count);
	EXPECT_EQ(st1.live_bytes, st0.live_bytes);
}

TEST(usable_size_at_least_requested)
{
	for (size_t n = 0; n < 100000; n = n * 2 + 1) {
		char *p = malloc(n);
		EXPECT_GE(malloc_usable_size(p), n);
		memset(p, 1, malloc_usable_size(p));
		free(p);
	}
	EXPECT_EQ(malloc_usable_size(NULL), 0);
}

/* The validator (gh_heap_check, GLASSHEAP_DEBUG=2's pass-end check) finds
 * metadata that disagrees, and nothing in a consistent heap. */
TEST(heap_check_finds_damaged_metadata)
{
	enum { N = 2000 };
	static char *keep[N];
	for (int i = 0; i < N; i++) {
		keep[i] = malloc((size_t)(i % 300) + (i % 97 == 0 ? 70000 : 1));
		ASSERT_TRUE(keep[i] != NULL);
		__asm__ volatile("" ::"r"(keep[i]) : "memory");
	}
	EXPECT_EQ(gh_heap_check(1), 0);

	/* a trailer whose type no one registered */
	uintptr_t small = (uintptr_t)keep[7];
	unsigned start = gh__startmap_at[small >> GH_GRANULE_LG];
	ASSERT_TRUE(start != GH_START_HDR && gh__start_cls[start] != 0);
	uint64_t *t = gh__trl_at(small, start);
	uint64_t word = *t;
	const uint64_t type_mask = (uint64_t)((1u << GH_TRL_TYPE_BITS) - 1) << GH_TRL_TYPE_SHIFT;
	*t = (word & ~type_mask) | ((uint64_t)(GH_TYPES_MAX - 1) << GH_TRL_TYPE_SHIFT);
	EXPECT_EQ(gh_heap_check(0), 1);
	/* a trailer whose size does not fit its class */
	*t = (word & ~((uint64_t)((1u << GH_TRL_SIZE_BITS) - 1) << GH_TRL_SIZE_SHIFT)) |
	     ((uint64_t)gh__start_cls[start] << GH_TRL_SIZE_SHIFT);
	EXPECT_GE(gh_heap_check(0), 1);
	/* a trailer that says freed under a live start byte */
	*t = (word & ~GH_TRL_CHECK_MASK) | GH_STATE_FREED;
	EXPECT_EQ(gh_heap_check(0), 1);
	*t = word;
	EXPECT_EQ(gh_heap_check(0), 0);

	/* a header whose type no one registered */
	uintptr_t big = (uintptr_t)keep[97];
	ASSERT_EQ(gh__startmap_at[big >> GH_GRANULE_LG], GH_START_HDR);
	struct gh_hdr *h = gh__hdr_of(big);
	uint32_t type = h->type;
	h->type = GH_TYPES_MAX - 1;
	EXPECT_EQ(gh_heap_check(0), 1);
	h->type = type;

	/* a size that runs over the next block: two live blocks overlap */
	uint64_t meta = h->meta;
	h->meta = (meta & ~GH_SIZE_MASK) | (uint64_t)(1 << 22);
	EXPECT_GE(gh_heap_check(0), 1);
	h->meta = meta;

	/* a large block whose page map entry names someone else */
	size_t page = (big - gh__cage.base) >> GH_PAGE_LG;
	uint32_t pe = gh__pagemap[page + 1];
	gh__pagemap[page + 1] = pe + 1;
	EXPECT_EQ(gh_heap_check(0), 1);
	gh__pagemap[page + 1] = pe;

	/* counters that disagree with the heap: the block goes, the count stays */
	uint8_t *sb = &gh__startmap[((uintptr_t)keep[9] - gh__cage.base) >> 4];
	uint8_t was = *sb;
	*sb = 0;
	EXPECT_EQ(gh_heap_check(0), 0);
	EXPECT_EQ(gh_heap_check(1), 1);
	*sb = was;

	EXPECT_EQ(gh_heap_check(1), 0);
	for (int i = 0; i < N; i++)
		free(keep[i]);
	EXPECT_EQ(gh_heap_check(1), 0);
}

/* The thread's bins: a freed small block is this thread's next block of
 * its class, last in first out, up to the class's limit; counts stay exact;
 * classes above 1 KiB are not kept. */
static void *escape(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

static struct gh_bin *bin_of(void *p)
{
	return gh__bin(gh__tl.ctr, gh__startmap[((uintptr_t)p - gh__cage.base) >> 4] & ~GH_START_FREED);
}

TEST(bins_hand_back_the_last_freed_blocks)
{
	gh_type_stats_t before, after;
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &before), 0);
	char *p = escape(malloc(40));
	ASSERT_TRUE(p != NULL);
	struct gh_bin *b = bin_of(p);
	EXPECT_EQ(b->cap, GH_BIN_CAP); /* the 48-byte class */
	unsigned n0 = b->n;
	uintptr_t pa = (uintptr_t)escape(p); /* not p itself: the compiler would see a use after free */
	free(p);
	EXPECT_EQ(b->n, n0); /* in the ring of frees behind until GH_PEND more */
	gh__free_drain();
	EXPECT_EQ(b->n, n0 + 1);
	EXPECT_FALSE(gh__start_live(gh__startmap[(pa - gh__cage.base) >> 4]));
	EXPECT_EQ(gh_ptr_size((void *)pa), 0); /* freed to glassheap while in the bin */
	char *q = escape(malloc(33)); /* same class */
	EXPECT_EQ((uintptr_t)q, pa);
	EXPECT_EQ(b->n, n0);
	EXPECT_EQ(gh_ptr_size(q), 33);
	EXPECT_EQ(gh_ptr_type(q), GH_TYPE_MALLOC);
	free(q);

	/* up to the limit, last in first out; the rest went to jemalloc */
	enum { N = 2 * GH_BIN_CAP + 3 };
	uintptr_t blk[N];
	for (int i = 0; i < N; i++)
		blk[i] = (uintptr_t)escape(malloc(40));
	gh__free_drain(); /* the ring's blocks into the bin, before it is emptied */
	b->n = 0; /* start from an empty bin (its blocks stay allocated to jemalloc: a test leak) */
	for (int i = 0; i < N; i++)
		free((void *)blk[i]);
	gh__free_drain();
	EXPECT_EQ(b->n, GH_BIN_CAP);
	for (int i = 0; i < GH_BIN_CAP; i++) {
		char *r = escape(malloc(40));
		EXPECT_EQ((uintptr_t)r, blk[GH_BIN_CAP - 1 - i]); /* the first frees filled it */
		blk[GH_BIN_CAP - 1 - i] = (uintptr_t)r;
	}
	EXPECT_EQ(b->n, 0);
	for (int i = 0; i < GH_BIN_CAP; i++)
		free((void *)blk[i]);
	ASSERT_EQ(gh_type_stats(GH_TYPE_MALLOC, &after), 0);
	EXPECT_EQ(after.total_allocs - before.total_allocs, 2 + N + GH_BIN_CAP);
	EXPECT_EQ(after.total_frees - before.total_frees, 2 + N + GH_BIN_CAP);
	EXPECT_EQ(after.live_bytes, before.live_bytes);

	/* a 2 KiB class has no bin */
	char *big = escape(malloc(2000));
	struct gh_bin *bb = bin_of(big);
	EXPECT_EQ(bb->cap, 0);
	free(big);
	EXPECT_EQ(bb->n, 0);
	EXPECT_EQ(gh_heap_check(1), 0);
}

/* A thread's bins stay with its shard: the next thread takes them. */
static uintptr_t exited_blocks[4];

static void *free_four(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		exited_blocks[i] = (uintptr_t)escape(malloc(200));
	for (int i = 0; i < 4; i++)
		free((void *)exited_blocks[i]);
	return NULL;
}

static void *take_one(void *arg)
{
	free(escape(malloc(1))); /* a thread's first call sets it up (the general path) */
	return escape(malloc(*(size_t *)arg));
}

TEST(bins_stay_with_the_shard_of_an_exited_thread)
{
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, free_four, NULL), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	size_t want = 200;
	void *got;
	ASSERT_EQ(pthread_create(&t, NULL, take_one, &want), 0);
	ASSERT_EQ(pthread_join(t, &got), 0);
	/* the shard the first thread left is the next one handed out */
	EXPECT_EQ((uintptr_t)got, exited_blocks[3]);
	EXPECT_EQ(gh_ptr_size(got), 200);
	free(got);
	EXPECT_EQ(gh_heap_check(1), 0);
}

int main(void)
{
	return RUN_TESTS();
}
