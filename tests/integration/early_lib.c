/*
 * early_lib.c -- a shared library (a dependency of early_main) whose
 * constructor(101) allocates before main. Under LD_PRELOAD the preloaded
 * libglassheap.so is initialized after the program's own dependencies, so
 * this runs before glassheap's constructor; linked statically, glassheap's
 * constructor is in the executable, which is initialized last. Either way
 * the first allocations here may be the ones that bring glassheap up.
 *
 * The constructor uses malloc/calloc/realloc/free/posix_memalign/strdup,
 * dlopen()s a plugin (whose constructor allocates), dlsym()s into it, and
 * provokes a dlerror() message (glibc allocates it). Its findings are read
 * by early_main through early_lib_status().
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char status[512];
static int failures;
static void *kept;
static void *kept_aligned;

#define ECHECK(c)                                                                          \
	do {                                                                               \
		if (!(c)) {                                                                \
			failures++;                                                        \
			size_t l_ = strlen(status);                                        \
			snprintf(status + l_, sizeof status - l_, "[line %d: %s] ", __LINE__, #c); \
		}                                                                          \
	} while (0)

__attribute__((constructor(101))) static void early_lib_ctor(void)
{
	char *p = malloc(100);
	ECHECK(p != NULL);
	if (p) {
		memset(p, 'a', 100);
		p = realloc(p, 5000);
		ECHECK(p != NULL && p[99] == 'a');
		if (p)
			p = realloc(p, 20);
		ECHECK(p != NULL && p[19] == 'a');
		free(p);
	}
	int *z = calloc(1000, sizeof(int));
	ECHECK(z != NULL);
	for (int i = 0; z && i < 1000; i++)
		if (z[i]) {
			ECHECK(!"calloc memory is zero");
			break;
		}
	free(z);
	void *al = NULL;
	ECHECK(posix_memalign(&al, 4096, 10000) == 0 && ((uintptr_t)al & 4095) == 0);
	kept_aligned = al;
	char *dup = strdup("early-string");
	ECHECK(dup && strcmp(dup, "early-string") == 0);
	free(dup);

	void *h = dlopen(GH_IT_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
	ECHECK(h != NULL);
	if (h) {
		const char *(*greet)(void) = (const char *(*)(void))dlsym(h, "gh_it_plugin_greeting");
		ECHECK(greet != NULL);
		if (greet)
			ECHECK(greet() && strcmp(greet(), "plugin-ready") == 0);
		ECHECK(dlsym(h, "gh_it_no_such_symbol") == NULL);
		const char *e = dlerror(); /* glibc mallocs the message */
		ECHECK(e != NULL && strstr(e, "gh_it_no_such_symbol") != NULL);
	}
	ECHECK(dlsym(RTLD_DEFAULT, "malloc") != NULL);
	ECHECK(dlsym(RTLD_NEXT, "gh_it_no_such_symbol_either") == NULL);
	(void)dlerror();

	kept = malloc(64);
	ECHECK(kept != NULL);
	if (kept)
		strcpy(kept, "allocated in early_lib's constructor");
}

/* 0 when the constructor saw no problem; *msg describes the problems. */
int early_lib_status(const char **msg)
{
	*msg = status;
	return failures;
}

void *early_lib_kept(void)
{
	return kept;
}

void *early_lib_kept_aligned(void)
{
	return kept_aligned;
}
