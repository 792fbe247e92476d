/*
 * ring_test.h -- what the tests of free's ring share (test_free_ring.c,
 * test_trace_free.c, test_trace_toggle.c): an error handler that records
 * the last misuse, an optimizer barrier for pointers, a type's stats, the
 * number of blocks waiting in the calling thread's ring (struct gh_pend),
 * and a check that no block is handed out twice. Include after internal.h
 * and test.h.
 */
#ifndef GH_RING_TEST_H
#define GH_RING_TEST_H

static volatile int calls;
static volatile gh_error_kind_t last_kind;

static inline void capture(gh_error_kind_t kind, const void *ptr, const char *op, const char *msg)
{
	(void)ptr;
	(void)op;
	(void)msg;
	last_kind = kind;
	calls++;
}

static inline void *escape(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

static inline gh_type_stats_t stats(gh_type_t t)
{
	gh_type_stats_t st;
	memset(&st, 0, sizeof st);
	EXPECT_EQ(gh_type_stats(t, &st), 0);
	return st;
}

/* Blocks of the calling thread's ring. */
static inline unsigned ringed(void)
{
	struct gh_pend *pd = gh__pend(gh__tl.ctr);
	unsigned n = 0;
	for (unsigned k = 0; k < GH_PEND; k++)
		n += pd->u[k] != 0;
	return n;
}

/* Allocates n (at most 64) blocks of type t and size size, checks that no
 * block is handed out twice, frees them and empties the ring. */
static inline void expect_handed_out_once(gh_type_t t, size_t size, int n)
{
	void *q[64];
	int twice = 0;
	for (int i = 0; i < n && i < 64; i++)
		q[i] = escape(gh_malloc_typed(t, size));
	for (int i = 0; i < n && i < 64; i++)
		for (int j = 0; j < i; j++)
			twice |= q[i] == q[j];
	EXPECT_EQ(twice, 0);
	for (int i = 0; i < n && i < 64; i++)
		gh_free(q[i]);
	gh__free_drain();
}

#endif
