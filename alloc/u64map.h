/*
 * u64map.h -- one small open-addressing hash map, 64-bit key (never 0) to
 * 64-bit value, for the server-side code that needs one: the symbolizer's
 * caches (symbols.c) and the pprof encoder's indexes (http/ep_pprof.c).
 * Memory from malloc; not thread-safe (callers lock); load factor <= 1/2.
 */
#ifndef GH_U64MAP_H
#define GH_U64MAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct gh_u64map {
	uint64_t *keys, *vals; /* [mask + 1]; key 0 marks an empty slot */
	size_t mask, n;
	bool failed; /* a growth ran out of memory: every later insert fails */
};

static inline size_t gh_u64map_mix(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (size_t)k;
}

static inline bool gh_u64map_grow(struct gh_u64map *m)
{
	size_t cap = m->keys ? (m->mask + 1) * 2 : 1024;
	uint64_t *k = calloc(cap, sizeof *k), *v = calloc(cap, sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		m->failed = true;
		return false;
	}
	for (size_t i = 0; m->keys && i <= m->mask; i++) {
		if (!m->keys[i])
			continue;
		size_t j = gh_u64map_mix(m->keys[i]) & (cap - 1);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->mask = cap - 1;
	return true;
}

/* The value of key, or NULL when absent. */
static inline uint64_t *gh_u64map_find(const struct gh_u64map *m, uint64_t key)
{
	if (!m->keys)
		return NULL;
	for (size_t i = gh_u64map_mix(key) & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (m->keys[i] == key)
			return &m->vals[i];
	return NULL;
}

/* The value slot of key, inserted with *fresh = true (value 0) if new;
 * NULL when out of memory. */
static inline uint64_t *gh_u64map_slot(struct gh_u64map *m, uint64_t key, bool *fresh)
{
	if (m->failed || ((m->n + 1) * 2 > (m->keys ? m->mask + 1 : 0) && !gh_u64map_grow(m)))
		return NULL;
	size_t i = gh_u64map_mix(key) & m->mask;
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & m->mask;
	*fresh = m->keys[i] == 0;
	if (*fresh) {
		m->keys[i] = key;
		m->vals[i] = 0;
		m->n++;
	}
	return &m->vals[i];
}

static inline void gh_u64map_free(struct gh_u64map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct gh_u64map){0};
}

#endif /* GH_U64MAP_H */
