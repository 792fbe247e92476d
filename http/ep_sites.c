/*
 * ep_sites.c -- GET /debug/memory/sites: live objects per allocation site
 * (and type), what /debug/memory is for types, without tracing.
 *
 *   top_n      1..1000 (20)
 *   sort_by    size | count (size)
 *   type_name  only objects of this type (optional; unknown: no rows)
 *
 * Rows come from one walk of the live heap (alloc/sites_live.c), without
 * stopping the world; the summary is /debug/memory's, from the counters.
 * A site is the allocating call outside any allocation wrapper (strdup,
 * std::string, ...: alloc/wrappers.c).
 */
#include "internal.h"

#include "../alloc/sites.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const SORT_CHOICES[] = {"size", "count"};
enum { SORT_SIZE, SORT_COUNT };

static int by_size(const void *pa, const void *pb)
{
	const struct gh_site_live_row *a = pa, *b = pb;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->site != b->site)
		return a->site < b->site ? -1 : 1;
	return a->type < b->type ? -1 : a->type > b->type;
}

static int by_count(const void *pa, const void *pb)
{
	const struct gh_site_live_row *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return by_size(pa, pb);
}

struct summary {
	uint64_t objects, bytes, types;
};

/* /debug/memory's summary, from the per-type counters (glassheap's own
 * objects left out, as there). */
static int read_summary(struct summary *sm)
{
	size_t n = 0;
	gh_type_stats_t *st = gh__http_read_stats(&n);
	if (!st)
		return ENOMEM;
	uint64_t objects = 0, bytes = 0, types = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].type == GH_TYPE_INTERNAL) /* glassheap's own: not the program's (allocator.self) */
			continue;
		objects += st[i].live_count;
		bytes += st[i].live_bytes;
		types += st[i].live_count > 0;
	}
	free(st);
	*sm = (struct summary){objects, bytes, types};
	return 0;
}

void gh__ep_memory_sites(struct gh_http_call *call)
{
	int64_t top_n = 20;
	size_t sort_by = SORT_SIZE;
	const char *name = NULL;
	size_t name_len = 0;
	gh__query_int(call->q, "top_n", 1, 1000, 20, &top_n);
	gh__query_enum(call->q, "sort_by", SORT_CHOICES, 2, SORT_SIZE, &sort_by);
	if (gh__query_get(call->q, "type_name", NULL))
		gh__query_str(call->q, "type_name", 0, GH_QUERY_MAX_LEN, &name, &name_len);
	if (!gh__http_params_valid(call))
		return;

	gh_type_t type = GH_TYPE_NONE;
	bool unknown = false;
	if (name) {
		type = gh__http_type_lookup(name, name_len);
		unknown = type == GH_TYPE_NONE;
	}
	struct gh_site_live_row *rows = NULL;
	size_t n = 0;
	struct summary sm;
	if (read_summary(&sm) != 0 || (!unknown && gh__sites_live(type, &rows, &n) != 0)) {
		gh__http_detail(call, 500, "out of memory");
		return;
	}
	if (n > 1)
		qsort(rows, n, sizeof *rows, sort_by == SORT_SIZE ? by_size : by_count);
	size_t shown = n < (size_t)top_n ? n : (size_t)top_n;
	struct gh_site_sym *sym = malloc(sizeof *sym);
	if (!sym) {
		free(rows);
		gh__http_detail(call, 500, "out of memory");
		return;
	}

	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 4);
	gh__emit_key(e, "summary");
	gh__emit_map_begin(e, 4);
	gh__emit_kv_uint(e, "total_objects", sm.objects);
	gh__emit_kv_uint(e, "total_size_bytes", sm.bytes);
	gh__emit_kv_mb(e, "total_size_mb", sm.bytes);
	gh__emit_kv_uint(e, "unique_types", sm.types);
	gh__emit_map_end(e);
	gh__emit_key(e, "top_sites");
	gh__emit_array_begin(e, shown);
	for (size_t i = 0; i < shown; i++) {
		const struct gh_site_live_row *r = &rows[i];
		gh__sites_symbolize(r->site, sym);
		const char *tname = gh_type_name(r->type);
		gh__emit_map_begin(e, 11);
		gh__emit_kv_cstr(e, "site", sym->site);
		gh__emit_kv_cstr(e, "module", sym->module);
		gh__emit_kv_cstr(e, "function", sym->function);
		gh__emit_kv_cstr(e, "filename", sym->filename);
		gh__emit_kv_uint(e, "lineno", sym->lineno);
		gh__emit_kv_cstr(e, "line", sym->line);
		gh__emit_kv_cstr(e, "type", tname ? tname : "");
		gh__emit_kv_uint(e, "count", r->count);
		gh__emit_kv_uint(e, "total_size_bytes", r->bytes);
		gh__emit_kv_uint(e, "avg_size_bytes", r->count ? r->bytes / r->count : 0);
		gh__emit_kv_mb(e, "total_size_mb", r->bytes);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
	gh__emit_kv_uint(e, "unique_sites", n);
	gh__emit_kv_cstr(e, "sort_by", SORT_CHOICES[sort_by]);
	gh__emit_map_end(e);
	free(sym);
	free(rows);
}
