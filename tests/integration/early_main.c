/*
 * early_main.c -- checks what early_lib's constructor did before main
 * (see early_lib.c). Built twice: linked with glassheap_static, and not
 * linked (run under LD_PRELOAD). The objects allocated before main must be
 * glassheap allocations with their requested sizes, and freeing them works.
 */
#include "gh_dyn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int early_lib_status(const char **msg);
void *early_lib_kept(void);
void *early_lib_kept_aligned(void);

int main(void)
{
	int bad = 0;
	if (gh_dyn_init() != 0)
		return 2;
	const char *msg;
	if (early_lib_status(&msg) != 0) {
		fprintf(stderr, "early_lib constructor failures: %s\n", msg);
		bad = 1;
	}
	char *k = early_lib_kept();
	if (!k || strcmp(k, "allocated in early_lib's constructor") != 0) {
		fprintf(stderr, "object allocated before main is wrong: %s\n", k ? k : "(null)");
		bad = 1;
	} else if (GHD(gh_ptr_size)(k) != 64 || GHD(gh_ptr_type)(k) != GH_TYPE_MALLOC) {
		fprintf(stderr, "object allocated before main: gh_ptr_size %zu (want 64), type %u (want %u)\n",
			GHD(gh_ptr_size)(k), GHD(gh_ptr_type)(k), GH_TYPE_MALLOC);
		bad = 1;
	}
	void *a = early_lib_kept_aligned();
	bad |= !gh_dyn_object_ok(a, NULL, 10000, "aligned object allocated before main");
	free(k);
	free(a);
	/* The heap works normally afterwards. */
	for (int i = 0; i < 10000; i++) {
		char *p = malloc((size_t)i % 3000 + 1);
		if (!p || GHD(gh_ptr_size)(p) != (size_t)i % 3000 + 1) {
			fprintf(stderr, "malloc after start-up failed at %d\n", i);
			return 1;
		}
		p[0] = 1;
		free(p);
	}
	printf("early_main: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
