/* A second source file for the tracing tests: a site whose file differs. */
#include <stdlib.h>

#include "trace_test.h"

int line_other_inner, line_other_outer, line_ghost;

static NOIPA void *other_inner(size_t n)
{
	void *p = malloc(n); line_other_inner = __LINE__;
	return p;
}

void *other_alloc(size_t n)
{
	void *p = other_inner(n); line_other_outer = __LINE__;
	return p;
}

/* Debug information names a file that is not on disk: its line text is "". */
#line 100 "/nonexistent/glassheap/ghost.c"
void *ghost_alloc(size_t n)
{
	void *p = malloc(n); line_ghost = __LINE__;
	return p;
}
