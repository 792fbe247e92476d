#define _GNU_SOURCE
#include <dlfcn.h>
static void (*real_free)(void *);
__attribute__((constructor)) static void init(void) { real_free = dlsym(RTLD_NEXT, "free"); }
#define R1 "add $1, %%rax\n\t"
#define R8 R1 R1 R1 R1 R1 R1 R1 R1
void free(void *p)
{
	long a = 0;
	__asm__ volatile(
#if NOPS >= 8
	R8
#endif
#if NOPS >= 16
	R8
#endif
#if NOPS >= 24
	R8
#endif
#if NOPS >= 32
	R8
#endif
#if NOPS >= 40
	R8
#endif
#if NOPS >= 48
	R8
#endif
#if NOPS >= 56
	R8
#endif
#if NOPS >= 64
	R8
#endif
	: "+a"(a));
	real_free(p);
}
