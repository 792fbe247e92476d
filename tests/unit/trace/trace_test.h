/*
 * trace_test.h -- what the tracing tests share: allocation sites in other
 * translation units and libraries (each records the line of its call), and
 * small helpers over the control API of alloc/trace.h.
 */
#ifndef GH_TRACE_TEST_H
#define GH_TRACE_TEST_H

#include <stddef.h>
#include <stdlib.h>

#define NOIPA __attribute__((noipa))

/* trace_other.c */
extern int line_other_inner, line_other_outer;
void *other_alloc(size_t n);
extern int line_ghost;
void *ghost_alloc(size_t n); /* its source file does not exist (#line) */

/* nofp_lib.c: built with -fomit-frame-pointer. mode 0: rbp holds an
 * unmapped address at the malloc call; 1: rbp points into the stack at no
 * frame; 2: rbp untouched. */
extern int line_nofp_inner, line_nofp_outer;
void *nofp_outer(size_t n, int mode);

/* dl_lib.c: loaded with dlopen while tracing. */
typedef void *(*dl_alloc_fn)(size_t n);

#if defined(GH_TEST_H) && defined(GH_INTERNAL_H) /* a test program (test.h, internal.h) */
/* Starts tracing (frames deep), then between the snapshots "before" and
 * "after" makes na blocks of size_a at site a and nb of size_b at site b, in
 * keep[0 .. na + nb). 0, or the first failing call's result. */
static inline int trace_two_sites(int frames, void *(*a)(size_t), int na, size_t size_a, void *(*b)(size_t), int nb,
				  size_t size_b, void **keep)
{
	int rc = gh__trace_start(frames, 0);
	if (rc == 0)
		rc = gh__trace_snapshot("before");
	if (rc != 0)
		return rc;
	for (int i = 0; i < na; i++)
		keep[i] = a(size_a);
	for (int i = 0; i < nb; i++)
		keep[na + i] = b(size_b);
	for (int i = 0; i < na + nb; i++)
		__asm__ volatile("" ::"r"(keep[i]) : "memory");
	return gh__trace_snapshot("after");
}

/* Frees keep[0 .. n) and stops tracing: gh__trace_stop's result. */
static inline int trace_free_stop(void **keep, int n)
{
	for (int i = 0; i < n; i++)
		free(keep[i]);
	return gh__trace_stop();
}
#endif

#endif
