/*
 * sites_live.c -- live objects grouped by allocation site and type, for GET
 * /debug/memory/sites (sites.h).
 *
 * Per-site counters on the allocation fast path would cost a shared atomic
 * or a per-thread table indexed by up to a million sites; instead the live
 * heap is walked (gh__heap_enumerate: the start map, then each live
 * header), like the pprof and sample walks, without stopping the world.
 * The walk reads each live header once: its cost grows with the objects
 * and the used cage (bench/introspection.py measures it at 1M objects).
 */
#include "internal.h"
#include "sites.h"

#include <stdio.h>
#include <stdlib.h>

/* Headers of live objects are read while their owners run (as heap.c's walk). */
#define GH_RACY_READER __attribute__((no_sanitize("thread")))

struct agg {
	struct gh_site_live_row *slots; /* open addressing, count 0 = empty */
	size_t mask, used;
	gh_type_t type;
	bool oom;
};

static size_t hash_key(uint32_t site, gh_type_t type)
{
	uint64_t k = ((uint64_t)site << 32) | type;
	k *= UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(k >> 20);
}

static bool grow(struct agg *a)
{
	size_t cap = (a->mask + 1) * 2;
	struct gh_site_live_row *s = calloc(cap, sizeof *s);
	if (!s)
		return false;
	for (size_t i = 0; i <= a->mask; i++) {
		const struct gh_site_live_row *r = &a->slots[i];
		if (!r->count)
			continue;
		size_t j = hash_key(r->site, r->type) & (cap - 1);
		while (s[j].count)
			j = (j + 1) & (cap - 1);
		s[j] = *r;
	}
	free(a->slots);
	a->slots = s;
	a->mask = cap - 1;
	return true;
}

GH_RACY_READER static bool visit(uintptr_t user, const struct gh_hdr *h, void *arg)
{
	(void)user;
	struct agg *a = arg;
	gh_type_t type = GH_LOAD(&h->type);
	if (type == GH_TYPE_INTERNAL || (a->type != GH_TYPE_NONE && type != a->type))
		return true;
	size_t size = gh__hdr_size(GH_LOAD(&h->meta));
	uint32_t site = gh__hdr_site(h);
	size_t i = hash_key(site, type) & a->mask;
	for (;;) {
		struct gh_site_live_row *r = &a->slots[i];
		if (r->count == 0) {
			if ((a->used + 1) * 2 > a->mask + 1) {
				if (!grow(a)) {
					a->oom = true;
					return false;
				}
				return visit(user, h, arg);
			}
			*r = (struct gh_site_live_row){site, type, 1, size};
			a->used++;
			return true;
		}
		if (r->site == site && r->type == type) {
			r->count++;
			r->bytes += size;
			return true;
		}
		i = (i + 1) & a->mask;
	}
}

int gh__sites_live(gh_type_t type, struct gh_site_live_row **rows, size_t *n)
{
	struct agg a = {.mask = 1023, .type = type};
	a.slots = calloc(a.mask + 1, sizeof *a.slots);
	if (!a.slots)
		return ENOMEM;
	gh__heap_enumerate(visit, &a);
	if (a.oom) {
		free(a.slots);
		return ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i <= a.mask; i++)
		if (a.slots[i].count)
			a.slots[k++] = a.slots[i];
	*rows = a.slots;
	*n = k;
	return 0;
}

void gh__sites_symbolize(uint32_t site, struct gh_site_sym *out)
{
	out->site[0] = '\0';
	out->module = "";
	out->function = "";
	out->filename = "";
	out->lineno = 0;
	out->line = "";
	if (site == GH_SITE_OTHER) {
		snprintf(out->site, sizeof out->site, "%s", GH_SITE_OTHER_NAME);
		out->module = GH_SITE_OTHER_NAME;
		return;
	}
	uintptr_t addr = gh__site_address(site);
	if (!addr)
		return;
	gh_site_info_t info = {0, NULL, 0};
	if (gh_site_resolve(site, &info) == 0 && info.module && info.module[0])
		snprintf(out->site, sizeof out->site, "%s+0x%lx", info.module, (unsigned long)info.offset);
	else
		snprintf(out->site, sizeof out->site, "0x%lx", (unsigned long)addr);
	const struct gh_trace_frame *f = NULL;
	int q = gh__trace_quiet_begin();
	size_t nf = gh__sym_frames(addr, &f);
	gh__trace_quiet_end(q);
	if (nf == 0)
		return;
	out->module = f[0].module ? f[0].module : "";
	out->function = f[0].function ? f[0].function : "";
	if (f[0].lineno) {
		out->filename = f[0].filename ? f[0].filename : "";
		out->lineno = f[0].lineno;
		out->line = f[0].line ? f[0].line : "";
	}
	if (!out->module[0] && info.module)
		out->module = info.module;
}
