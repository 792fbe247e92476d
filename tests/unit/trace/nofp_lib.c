/*
 * A shared library built WITHOUT frame pointers (-fomit-frame-pointer -O2):
 * rbp is an ordinary register here, and two of the inner functions leave
 * garbage in it when they call malloc. The frame-pointer unwinder must stop
 * (or wander) safely; the DWARF unwinder must still see the whole chain.
 */
#include <stdint.h>
#include <stdlib.h>

#include "trace_test.h"

int line_nofp_inner, line_nofp_outer;

/* rbp: an address no mapping holds. */
static NOIPA void *nofp_unmapped(size_t n)
{
	__asm__ volatile("movabs $0xdeadbeef000, %%rbp" ::: "rbp");
	void *p = malloc(n); line_nofp_inner = __LINE__;
	__asm__ volatile("" ::: "memory");
	return p;
}

/* rbp: inside this stack, at no frame record. */
static NOIPA void *nofp_wild(size_t n)
{
	__asm__ volatile("lea 8(%%rsp), %%rbp" ::: "rbp");
	void *p = malloc(n); line_nofp_inner = __LINE__;
	__asm__ volatile("" ::: "memory");
	return p;
}

/* rbp: whatever the compiler left there. */
static NOIPA void *nofp_plain(size_t n)
{
	void *p = malloc(n); line_nofp_inner = __LINE__;
	__asm__ volatile("" ::: "memory");
	return p;
}

NOIPA void *nofp_outer(size_t n, int mode)
{
	void *p;
	if (mode == 0) {
		p = nofp_unmapped(n); line_nofp_outer = __LINE__;
	} else if (mode == 1) {
		p = nofp_wild(n); line_nofp_outer = __LINE__;
	} else {
		p = nofp_plain(n); line_nofp_outer = __LINE__;
	}
	__asm__ volatile("" ::: "memory");
	return p;
}
