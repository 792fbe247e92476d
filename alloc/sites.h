/*
 * sites.h -- the live per-site view for the debug server (GET
 * /debug/memory/sites), without alloc/internal.h.
 */
#ifndef GH_SITES_H
#define GH_SITES_H

#include "glassheap.h"
#include "introspect.h"

#include <stddef.h>
#include <stdint.h>

GH_INTERNAL_BEGIN

/* One (site, type) pair with live objects. */
struct gh_site_live_row {
	uint32_t site;
	gh_type_t type;
	uint64_t count, bytes;
};

/*
 * Every live object of the program (glassheap's own, GH_TYPE_INTERNAL, left
 * out), grouped by (allocation site, type): one walk of the heap, without
 * stopping the world, so exact when no thread allocates meanwhile. type
 * GH_TYPE_NONE: every type. *rows is malloc'd (free it), unsorted. Returns
 * 0 or ENOMEM.
 */
int gh__sites_live(gh_type_t type, struct gh_site_live_row **rows, size_t *n);

/* A site, symbolized: the allocating call's innermost logical frame outside
 * the system headers. Strings live for the life of the process, but site. */
struct gh_site_sym {
	char site[4096 + 32];  /* "module+0xoffset", "0x..." without module, "" unknown */
	const char *module;    /* "" when unknown */
	const char *function;  /* "" when unknown */
	const char *filename;  /* "" without a line */
	unsigned lineno;       /* 0 when unknown */
	const char *line;      /* the source line, "" when unavailable */
};
/* In symbols.c: the symbolizer's half (libglassheap_ext.so). */
void gh__sites_symbolize(uint32_t site, struct gh_site_sym *out);

GH_INTERNAL_END

#endif /* GH_SITES_H */
