/*
 * A shared library built WITHOUT debug information (-g0): its frames have a
 * function (from the symbol table) but no file or line, so top and compare
 * see them as lineno 0 in the module. Two functions allocate here.
 */
#include <stdlib.h>
#include <string.h>

#include "trace_test.h"

NOIPA void *noline_alloc_a(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 'a', 1);
	return p;
}

NOIPA void *noline_alloc_b(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 'b', 1);
	return p;
}
