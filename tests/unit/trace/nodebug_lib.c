/*
 * A shared library built WITHOUT debug information (-g0), as Debian's
 * binaries are: its frames symbolize to the module's path, line 0 and the
 * ELF symbol. Two allocation sites in two functions: trace.c must keep them
 * apart by their offset in the module (test_trace_nodebug.c).
 */
#include <stdlib.h>

#include "trace_test.h"

NOIPA void *nodebug_a(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

NOIPA void *nodebug_b(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}
