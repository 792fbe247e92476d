/*
 * early_ctor.c -- a program that allocates before anything else runs:
 * from .preinit_array (called by the dynamic loader before the constructors
 * of every library, glassheap's and libc's included) and from a
 * constructor(101). Built linked with glassheap_static and not linked (run
 * under LD_PRELOAD). The early objects must be live glassheap allocations
 * with their requested sizes in main, and the heap must work normally.
 */
#include "gh_dyn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *pre_obj, *ctor_obj;
static void *pre_aligned;
static int early_failures;

static void preinit(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	pre_obj = malloc(40);
	if (!pre_obj) {
		early_failures++;
		return;
	}
	strcpy(pre_obj, "from preinit_array");
	char *t = calloc(10, 10);
	t = realloc(t, 3000);
	if (!t)
		early_failures++;
	free(t);
	if (posix_memalign(&pre_aligned, 64, 200) != 0 || ((uintptr_t)pre_aligned & 63))
		early_failures++;
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_entry)(int, char **, char **) = preinit;

__attribute__((constructor(101))) static void early_ctor(void)
{
	ctor_obj = malloc(50);
	if (!ctor_obj) {
		early_failures++;
		return;
	}
	strcpy(ctor_obj, "from constructor(101)");
	for (int i = 0; i < 100; i++)
		free(malloc((size_t)i * 100));
}

int main(void)
{
	int bad = early_failures != 0;
	if (gh_dyn_init() != 0)
		return 2;
	bad |= !gh_dyn_object_ok(pre_obj, "from preinit_array", 40, "preinit object");
	bad |= !gh_dyn_object_ok(ctor_obj, "from constructor(101)", 50, "constructor object");
	bad |= !gh_dyn_object_ok(pre_aligned, NULL, 200, "preinit aligned object");
	free(pre_obj);
	free(ctor_obj);
	free(pre_aligned);
	gh_type_t t = GHD(gh_type_register)("early_ctor_type", NULL);
	gh_type_stats_t st;
	void *p = GHD(gh_malloc_typed)(t, 123);
	if (!p || GHD(gh_type_stats)(t, &st) != 0 || st.live_count != 1 || st.live_bytes != 123) {
		fprintf(stderr, "typed allocation after start-up is not counted\n");
		bad = 1;
	}
	GHD(gh_free)(p);
	printf("early_ctor: %s (early failures %d)\n", bad ? "FAILED" : "ok", early_failures);
	return bad;
}
