/*
 * trace_test.h -- what the tracing tests share: allocation sites in other
 * translation units and libraries (each records the line of its call), and
 * small helpers over the control API of alloc/trace.h.
 */
#ifndef GH_TRACE_TEST_H
#define GH_TRACE_TEST_H

#include <stddef.h>

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

#endif
