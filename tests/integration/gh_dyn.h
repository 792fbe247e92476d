/*
 * gh_dyn.h -- glassheap's API for integration programs that are built twice:
 * linked with glassheap_static (GH_IT_LINKED defined: direct calls) and not
 * linked at all, run under LD_PRELOAD=libglassheap.so (the functions are
 * looked up with dlsym(RTLD_DEFAULT, ...); finding them proves that the
 * preloaded glassheap is in the process).
 *
 *   if (gh_dyn_init() != 0) ...;        // NULL entries: glassheap missing
 *   void *p = GHD(gh_malloc_typed)(t, 10);
 */
#ifndef GH_IT_DYN_H
#define GH_IT_DYN_H

#include "glassheap.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define GH_DYN_FUNCS(X)                                                                    \
	X(gh_type_register)                                                                \
	X(gh_malloc_typed)                                                                 \
	X(gh_calloc_typed)                                                                 \
	X(gh_realloc_typed)                                                                \
	X(gh_free)                                                                         \
	X(gh_type_stats)                                                                   \
	X(gh_ptr_size)                                                                     \
	X(gh_ptr_type)                                                                     \
	X(gh_scope_push)                                                                   \
	X(gh_scope_pop)

#define GH_DYN_DECL_(f) static __typeof__(&f) ghd_##f;
GH_DYN_FUNCS(GH_DYN_DECL_)
#undef GH_DYN_DECL_

#define GHD(f) (ghd_##f)

/* Returns 0 when every function was found, -1 (after a message) otherwise. */
static int gh_dyn_init(void)
{
	int missing = 0;
#ifdef GH_IT_LINKED
#define GH_DYN_LOAD_(f) ghd_##f = &f;
#else
#define GH_DYN_LOAD_(f)                                                                    \
	ghd_##f = (__typeof__(&f))dlsym(RTLD_DEFAULT, #f);                                 \
	if (!ghd_##f) {                                                                    \
		fprintf(stderr, "glassheap function %s not found: is libglassheap.so preloaded?\n", #f); \
		missing = 1;                                                               \
	}
#endif
	GH_DYN_FUNCS(GH_DYN_LOAD_)
#undef GH_DYN_LOAD_
	return missing ? -1 : 0;
}

/* Whether p is an object of gh_ptr_size size holding the string text (any
 * content when text is NULL); if not, a message naming what and 0. */
static inline int gh_dyn_object_ok(const char *p, const char *text, size_t size, const char *what)
{
	size_t got = p ? GHD(gh_ptr_size)(p) : 0;
	if (p && (!text || strcmp(p, text) == 0) && got == size)
		return 1;
	fprintf(stderr, "%s: %s, gh_ptr_size %zu (want %s, %zu)\n", what, !p ? "(null)" : text ? p : "...", got,
		text ? text : "...", size);
	return 0;
}

#endif /* GH_IT_DYN_H */
