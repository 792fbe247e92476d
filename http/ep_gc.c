/*
 * ep_gc.c -- the GC family's reachability endpoints:
 *   POST /debug/memory/gc         one reachability pass (alloc/mark.c): frees
 *                                 unreachable objects of collectable types and
 *                                 reports the rest as a live leak report
 *   GET /debug/memory/referrers   who holds pointers into objects of a type
 *
 * Both stop the world. They run on the server thread; a second one while a
 * stop is in progress (from another request or from the host) answers 503
 * with Retry-After instead of queueing.
 */
#include "internal.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SITES_REPORTED 50
#define MAX_TYPES_REPORTED 100

static const char *const class_names[GH_LEAK_CLASSES] = {
	[GH_REACHABLE] = "reachable",
	[GH_POSSIBLY_LOST] = "possibly_lost",
	[GH_INDIRECTLY_LOST] = "indirectly_lost",
	[GH_DEFINITELY_LOST] = "definitely_lost",
};

static const char *const root_kind_names[GH_ROOT_KINDS] = {
	[GH_ROOT_REGISTERED] = "registered",
	[GH_ROOT_STACK] = "stack",
	[GH_ROOT_TLS] = "tls",
	[GH_ROOT_GLOBAL] = "global",
	[GH_ROOT_MAPPED] = "mapped",
	[GH_ROOT_EPOLL] = "epoll",
};

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Runs a pass; on failure answers the error and returns NULL. */
static struct gh_gc_result *run_pass(struct gh_http_call *call, int flags)
{
	if (gh__world_busy()) {
		call->retry_after = 1;
		gh__http_detail(call, 503, "a stop-the-world operation is already running; retry shortly");
		return NULL;
	}
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	int rc = gh__mark_run(flags, &r, &bad);
	if (rc == 0)
		return r;
	char msg[256];
	if (rc == ETIMEDOUT)
		snprintf(msg, sizeof msg,
			 "thread %d did not stop within the timeout (is the stop signal blocked? see "
			 "GLASSHEAP_STOP and GLASSHEAP_STOP_SIGNAL); nothing was analyzed",
			 (int)bad);
	else if (rc == E2BIG)
		snprintf(msg, sizeof msg,
			 "the process has more threads or memory mappings than a pass can hold "
			 "(threads-max, vm.max_map_count); nothing was analyzed");
	else if (rc == EBUSY)
		snprintf(msg, sizeof msg, "the stop signal is used by the program: set GLASSHEAP_STOP_SIGNAL");
	else
		snprintf(msg, sizeof msg, "reachability pass failed: %s", strerror(rc));
	gh__http_detail(call, rc == ETIMEDOUT ? 504 : 500, msg);
	return NULL;
}

static void emit_class_pair(gh_emit_t *e, const char *key, uint64_t count, uint64_t bytes)
{
	gh__emit_key(e, key);
	gh__emit_map_begin(e, 2);
	gh__emit_kv_uint(e, "count", count);
	gh__emit_kv_uint(e, "bytes", bytes);
	gh__emit_map_end(e);
}

static uint64_t lost_bytes(const struct gh_gc_class_stats *c)
{
	return c[GH_DEFINITELY_LOST].bytes + c[GH_INDIRECTLY_LOST].bytes + c[GH_POSSIBLY_LOST].bytes;
}

static int cmp_type_rows(const void *a, const void *b)
{
	uint64_t x = lost_bytes(((const struct gh_gc_type_row *)a)->cls);
	uint64_t y = lost_bytes(((const struct gh_gc_type_row *)b)->cls);
	return x < y ? 1 : x > y ? -1 : 0;
}

static void emit_unreachable(gh_emit_t *e, struct gh_gc_result *r)
{
	gh__emit_map_begin(e, 4 + 2);
	gh__emit_key(e, "summary");
	gh__emit_map_begin(e, GH_LEAK_CLASSES);
	for (int k = GH_LEAK_CLASSES - 1; k >= 0; k--)
		emit_class_pair(e, class_names[k], r->cls[k].count, r->cls[k].bytes);
	gh__emit_map_end(e);
	/* reachable only because a heuristic recognised an interior pointer
	 * (part of summary.reachable), like valgrind's "reachable via heuristic" */
	gh__emit_key(e, "heuristics");
	gh__emit_map_begin(e, GH_HEURISTICS - 1);
	for (int k = GH_HEUR_STDSTRING; k < GH_HEURISTICS; k++)
		emit_class_pair(e, gh__heuristic_names[k], r->heuristic[k].count, r->heuristic[k].bytes);
	gh__emit_map_end(e);
	emit_class_pair(e, "ignored", r->ignored.count, r->ignored.bytes);

	/* by_type: types holding any non-reachable object, most lost bytes first */
	if (r->ntypes > 1)
		qsort(r->types, r->ntypes, sizeof *r->types, cmp_type_rows);
	size_t nt = 0;
	while (nt < r->ntypes && nt < MAX_TYPES_REPORTED && lost_bytes(r->types[nt].cls) > 0)
		nt++;
	gh__emit_key(e, "by_type");
	gh__emit_array_begin(e, nt);
	for (size_t i = 0; i < nt; i++) {
		const struct gh_gc_type_row *t = &r->types[i];
		const char *name = gh_type_name(t->type);
		gh__emit_map_begin(e, 1 + 3);
		gh__emit_kv_cstr(e, "type", name ? name : "?");
		for (int k = GH_DEFINITELY_LOST; k >= GH_POSSIBLY_LOST; k--)
			emit_class_pair(e, class_names[k], t->cls[k].count, t->cls[k].bytes);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);

	/* by_site: one row per (site, type, class) with lost objects */
	size_t ns = 0;
	for (size_t i = 0; i < r->nsites; i++)
		for (int k = GH_REACHABLE; k <= GH_DEFINITELY_LOST; k++)
			ns += r->sites[i].count[k] != 0; /* reachable: the heuristic rows */
	if (ns > MAX_SITES_REPORTED)
		ns = MAX_SITES_REPORTED;
	gh__emit_key(e, "by_site");
	gh__emit_array_begin(e, ns);
	size_t done = 0;
	for (size_t i = 0; i < r->nsites && done < ns; i++) {
		const struct gh_gc_site_row *s = &r->sites[i];
		for (int k = GH_DEFINITELY_LOST; k >= GH_REACHABLE && done < ns; k--) {
			if (!s->count[k])
				continue;
			char where[512] = "unknown";
			gh_site_info_t info;
			if (s->site && gh_site_resolve(s->site, &info) == 0)
				snprintf(where, sizeof where, "%s+0x%lx", info.module, (unsigned long)info.offset);
			/* symbolized: function, file, line of the allocating call */
			const struct gh_trace_frame *f = NULL;
			size_t nf = 0;
			uintptr_t addr = s->site ? gh__site_address(s->site) : 0;
			if (addr) {
				int q = gh__trace_quiet_begin();
				nf = gh__sym_frames(addr, &f);
				gh__trace_quiet_end(q);
			}
			const char *name = gh_type_name(s->type);
			bool heur = k == GH_REACHABLE && s->heuristic != GH_HEUR_NONE;
			gh__emit_map_begin(e, 5 + 3 + heur);
			gh__emit_kv_cstr(e, "site", where);
			gh__emit_kv_cstr(e, "function", nf && f[0].function ? f[0].function : "");
			gh__emit_kv_cstr(e, "filename", nf && f[0].lineno && f[0].filename ? f[0].filename : "");
			gh__emit_kv_uint(e, "lineno", nf ? f[0].lineno : 0);
			gh__emit_kv_cstr(e, "type", name ? name : "?");
			gh__emit_kv_cstr(e, "class", class_names[k]);
			gh__emit_kv_uint(e, "count", s->count[k]);
			gh__emit_kv_uint(e, "bytes", s->bytes[k]);
			if (heur)
				gh__emit_kv_cstr(e, "heuristic", gh__heuristic_names[s->heuristic]);
			gh__emit_map_end(e);
			done++;
		}
	}
	gh__emit_array_end(e);
	gh__emit_kv_bool(e, "truncated", r->truncated);
	gh__emit_map_end(e);
}

void gh__ep_memory_gc(struct gh_http_call *call)
{
	struct gh_gc_result *r = run_pass(call, GH_GC_COLLECT);
	if (!r)
		return;
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 5 + 10);
	gh__emit_kv_uint(e, "collected_objects", r->collected_objects);
	gh__emit_kv_uint(e, "objects_before", r->objects_before);
	gh__emit_kv_uint(e, "objects_after", r->objects_after);
	gh__emit_kv_uint(e, "objects_freed", r->objects_before - r->objects_after);
	gh__emit_key(e, "gc_stats");
	gh__http_emit_gc_stats(e);
	/* glassheap's additions */
	gh__emit_kv_uint(e, "collected_bytes", r->collected_bytes);
	gh__emit_kv_dbl(e, "pause_ms", ms(r->pause_ns));
	gh__emit_kv_dbl(e, "mark_ms", ms(r->mark_ns));
	gh__emit_kv_uint(e, "threads_stopped", r->threads);
	gh__emit_kv_uint(e, "threads_blocked", r->threads_blocked);
	gh__emit_kv_str(e, "stop_method", r->stop_method, strlen(r->stop_method));
	gh__emit_kv_bool(e, "collect_skipped", r->collect_skipped);
	gh__emit_kv_uint(e, "scanned_bytes", r->scanned_bytes);
	gh__emit_key(e, "roots");
	gh__emit_map_begin(e, GH_ROOT_KINDS);
	for (int k = 0; k < GH_ROOT_KINDS; k++) {
		gh__emit_key(e, root_kind_names[k]);
		gh__emit_map_begin(e, 2);
		gh__emit_kv_uint(e, "ranges", r->root_kind[k].count);
		gh__emit_kv_uint(e, "bytes", r->root_kind[k].bytes);
		gh__emit_map_end(e);
	}
	gh__emit_map_end(e);
	gh__emit_key(e, "unreachable");
	emit_unreachable(e, r);
	gh__emit_map_end(e);
	gh__mark_result_free(r);
}

void gh__ep_memory_referrers(struct gh_http_call *call)
{
	const char *name;
	size_t name_len;
	int64_t max_referrers;
	gh__query_str(call->q, "type_name", 1, GH_TYPE_NAME_MAX, &name, &name_len);
	gh__query_int(call->q, "max_referrers", 1, 20, 5, &max_referrers);
	if (!gh__http_params_valid(call))
		return;
	/* The limit above counts characters, the registry's bytes: a name of
	 * more than GH_TYPE_NAME_MAX bytes (multi-byte characters) names a type
	 * only as the display form of one (gh__http_type_lookup). */
	gh_type_t type = gh__http_type_lookup(name, name_len);
	struct gh_gc_result *r = NULL;
	uint64_t count = 0;
	if (type != GH_TYPE_NONE) {
		r = run_pass(call, GH_GC_REFERRERS);
		if (!r)
			return;
		for (size_t i = 0; i < r->ntypes; i++)
			if (r->types[i].type == type)
				for (int k = 0; k < GH_LEAK_CLASSES; k++)
					count += r->types[i].cls[k].count;
	}
	size_t nref = 0;
	for (size_t i = 0; r && i < r->nrefs && nref < (size_t)max_referrers; i++)
		nref += r->refs[i].dst == type;
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 4 + 1);
	gh__emit_kv_str(e, "type", name, name_len);
	gh__emit_kv_uint(e, "object_count", count);
	gh__emit_kv_uint(e, "analyzed_sample_size", count);
	gh__emit_key(e, "top_referrers");
	gh__emit_array_begin(e, nref);
	size_t done = 0;
	for (size_t i = 0; r && i < r->nrefs && done < nref; i++) {
		if (r->refs[i].dst != type)
			continue;
		const char *src = gh__mark_source_name(r, r->refs[i].src);
		gh__emit_map_begin(e, 2);
		gh__emit_kv_cstr(e, "type", src ? src : "?");
		gh__emit_kv_uint(e, "count", r->refs[i].count);
		gh__emit_map_end(e);
		done++;
	}
	gh__emit_array_end(e);
	gh__emit_kv_dbl(e, "pause_ms", r ? ms(r->pause_ns) : 0.0);
	gh__emit_map_end(e);
	gh__mark_result_free(r);
}
