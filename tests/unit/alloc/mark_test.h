/*
 * mark_test.h -- what the reachability tests (test_mark, test_leak,
 * test_dominators) share: pointers escaped against the optimizer, dead stack
 * cleared, and one pass's result with its classes per type.
 */
#ifndef GH_MARK_TEST_H
#define GH_MARK_TEST_H

#include "internal.h"

#include <stdio.h>

/* The graph is written through pointers the compiler must treat as escaped:
 * otherwise it may drop stores into objects that are never read again. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Overwrites dead stack below the caller so stale copies of pointers from
 * finished calls do not keep objects alive (conservative scanning). */
static __attribute__((noinline, unused)) void clobber_stack(void)
{
	volatile char buf[32768];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = 0;
}

/* One collecting pass: its result (gh__mark_result_free it), or NULL when
 * the pass failed. */
static __attribute__((unused)) struct gh_gc_result *collect_pass(void)
{
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	if (gh__mark_run(GH_GC_COLLECT, &r, &bad) != 0) {
		if (r)
			gh__mark_result_free(r);
		return NULL;
	}
	return r;
}

/* The last pass's result (run_pass). */
static __attribute__((unused)) struct gh_gc_result *R;

static __attribute__((unused)) void run_pass(void)
{
	clobber_stack();
	gh__mark_result_free(R);
	R = NULL;
	int rc = gh__mark_run(0, &R, NULL);
	if (rc != 0)
		fprintf(stderr, "gh__mark_run: %d\n", rc);
}

/* One type's figures in one class of the last pass; zeros when absent. */
static __attribute__((unused)) struct gh_gc_class_stats cls_of(const char *type, int cls)
{
	struct gh_gc_class_stats z = {0, 0};
	gh_type_t t = gh_type_find(type);
	for (size_t i = 0; R && i < R->ntypes; i++)
		if (R->types[i].type == t)
			return R->types[i].cls[cls];
	return z;
}

#endif /* GH_MARK_TEST_H */
