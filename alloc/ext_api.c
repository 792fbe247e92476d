/*
 * ext_api.c -- the one symbol libglassheap_ext.so exports: the table of its
 * entry points that lazy.c (in libglassheap.so) calls through (ext.h).
 * Compiled only into the extension.
 */
#include "internal.h"
#include "ext.h"
#include "dominators.h"

#define ENTRY(field, fn, ret, params) .field = fn,

__attribute__((visibility("default"))) const struct gh_ext_api gh__ext_api = {
	.abi = GH_EXT_ABI,
	.size = sizeof(struct gh_ext_api),
#ifdef GH_EXT_HTTP
	GH_EXT_SERVER_ENTRIES(ENTRY)
#endif
	GH_EXT_SYM_ENTRIES(ENTRY)
};
