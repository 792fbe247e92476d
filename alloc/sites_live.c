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

GH_RACY_READER static bool visit(uintptr_t user, const struct gh_meta *m, void *arg)
{
	(void)user;
	struct agg *a = arg;
	gh_type_t type = m->type;
	if (type == GH_TYPE_INTERNAL || (a->type != GH_TYPE_NONE && type != a->type))
		return true;
	size_t size = m->size;
	uint32_t site = gh__meta_site(m);
	size_t i = hash_key(site, type) & a->mask;
	for (;;) {
		struct gh_site_live_row *r = &a->slots[i];
		if (r->count == 0) {
			if ((a->used + 1) * 2 > a->mask + 1) {
				if (!grow(a)) {
					a->oom = true;
					return false;
				}
				return visit(user, m, arg);
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
