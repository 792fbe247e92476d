/*
 * ep_dominators.c -- GET /debug/memory/dominators: what retains the memory.
 *
 * One dominator pass (alloc/dominators.c: the world stops for the mark
 * only) answers the objects with the largest retained size, each with the
 * chain of dominators from its root, and the retained bytes per type.
 * save=<name> keeps the answer's rows under a name (the last SAVED_MAX
 * names, the oldest replaced); since=<name> compares with such a saved
 * answer: rows and types gain their earlier figures and the difference,
 * and rows are ranked by growth -- "which retainer grew" in one request.
 *
 * Only dominators.h from the core (not alloc/internal.h).
 */
#include "internal.h"

#include "../alloc/dominators.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAVED_MAX 8
#define ROWS_MAX 1000

struct saved {
	char name[64 + 1];
	uint64_t seq;
	struct gh_dom_result *r;
};
static struct saved saved[SAVED_MAX]; /* server thread only */
static uint64_t saved_seq;

static struct saved *saved_find(const char *name)
{
	for (int i = 0; i < SAVED_MAX; i++)
		if (saved[i].r && strcmp(saved[i].name, name) == 0)
			return &saved[i];
	return NULL;
}

static void save_result(const char *name, struct gh_dom_result *r)
{
	struct saved *s = saved_find(name);
	if (!s) {
		s = &saved[0];
		for (int i = 0; i < SAVED_MAX; i++) {
			if (!saved[i].r) {
				s = &saved[i];
				break;
			}
			if (saved[i].seq < s->seq)
				s = &saved[i];
		}
	}
	gh__dom_result_free(s->r);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->r = r;
	s->seq = ++saved_seq;
}

static const struct gh_dom_row *old_row(const struct gh_dom_result *old, const struct gh_dom_row *row)
{
	for (size_t i = 0; old && i < old->nrows; i++)
		if (old->rows[i].address_hidden == row->address_hidden && old->rows[i].type == row->type)
			return &old->rows[i];
	return NULL;
}

static const struct gh_dom_type_row *old_type(const struct gh_dom_result *old, uint32_t type)
{
	for (size_t i = 0; old && i < old->ntypes; i++)
		if (old->types[i].type == type)
			return &old->types[i];
	return NULL;
}

static const struct gh_dom_result *cmp_base;

static int64_t growth(const struct gh_dom_row *row)
{
	const struct gh_dom_row *o = old_row(cmp_base, row);
	return (int64_t)row->retained_bytes - (int64_t)(o ? o->retained_bytes : 0);
}

static int cmp_growth(const void *a, const void *b)
{
	int64_t x = growth(a), y = growth(b);
	return x < y ? 1 : x > y ? -1 : 0;
}

static const char *type_text(uint32_t t)
{
	const char *n = gh_type_name(t);
	return n ? n : "?";
}

static void emit_row(gh_emit_t *e, const struct gh_dom_row *row, const struct gh_dom_result *old)
{
	char addr[32], where[512];
	const char *function, *filename;
	unsigned lineno;
	snprintf(addr, sizeof addr, "0x%lx", (unsigned long)GH_DOM_HIDE(row->address_hidden));
	gh__dom_site_info(row->site, where, sizeof where, &function, &filename, &lineno);
	gh__emit_map_begin(e, 10 + (old ? 2 : 0));
	gh__emit_kv_cstr(e, "address", addr);
	gh__emit_kv_cstr(e, "type", type_text(row->type));
	gh__emit_kv_cstr(e, "site", where);
	gh__emit_kv_cstr(e, "function", function);
	gh__emit_kv_cstr(e, "filename", filename);
	gh__emit_kv_uint(e, "lineno", lineno);
	gh__emit_kv_uint(e, "self_bytes", row->self_bytes);
	gh__emit_kv_uint(e, "retained_bytes", row->retained_bytes);
	gh__emit_kv_uint(e, "retained_objects", row->retained_objects);
	gh__emit_key(e, "path");
	gh__emit_array_begin(e, 1 + row->npath + row->path_elided);
	gh__emit_cstr(e, row->root_label);
	for (unsigned k = 0; k < row->npath; k++) {
		if (row->path_elided && k == 5)
			gh__emit_cstr(e, "...");
		gh__emit_cstr(e, type_text(row->path_type[k]));
	}
	gh__emit_array_end(e);
	if (old) {
		const struct gh_dom_row *o = old_row(old, row);
		uint64_t before = o ? o->retained_bytes : 0;
		gh__emit_kv_uint(e, "retained_bytes_before", before);
		gh__emit_kv_int(e, "retained_bytes_delta", (int64_t)row->retained_bytes - (int64_t)before);
	}
	gh__emit_map_end(e);
}

void gh__ep_memory_dominators(struct gh_http_call *call)
{
	int64_t top_n, min_bytes;
	const char *type_name = NULL, *since = NULL, *save = NULL;
	size_t type_len = 0, since_len = 0, save_len = 0, vlen;
	gh__query_int(call->q, "top_n", 1, ROWS_MAX, 20, &top_n);
	gh__query_int(call->q, "min_bytes", 0, INT64_MAX, 0, &min_bytes);
	if (gh__query_get(call->q, "type_name", &vlen))
		gh__query_str(call->q, "type_name", 1, GH_TYPE_NAME_MAX, &type_name, &type_len);
	if (gh__query_get(call->q, "since", &vlen))
		gh__query_name(call->q, "since", &since, &since_len);
	if (gh__query_get(call->q, "save", &vlen))
		gh__query_name(call->q, "save", &save, &save_len);
	if (!gh__http_params_valid(call))
		return;
	const struct saved *base = NULL;
	if (since && !(base = saved_find(since))) {
		char msg[128];
		snprintf(msg, sizeof msg, "Dominators result '%s' not found", since);
		gh__http_detail(call, 404, msg);
		return;
	}
	gh_type_t type = GH_TYPE_NONE;
	if (type_name) {
		type = gh__http_type_lookup(type_name, type_len);
		if (type == GH_TYPE_NONE) {
			/* no such type: nothing retains under it, and nothing is paused */
			gh_emit_t *e = call->e;
			gh__emit_map_begin(e, 3);
			gh__emit_key(e, "top_retainers");
			gh__emit_array_begin(e, 0);
			gh__emit_array_end(e);
			gh__emit_key(e, "by_type");
			gh__emit_array_begin(e, 0);
			gh__emit_array_end(e);
			gh__emit_kv_dbl(e, "pause_ms", 0.0);
			gh__emit_map_end(e);
			return;
		}
	}
	if (gh__dom_busy()) {
		call->retry_after = 1;
		gh__http_detail(call, 503, "a stop-the-world operation is already running; retry shortly");
		return;
	}
	/* every row the call may keep or compare: the top ROWS_MAX under its filter */
	struct gh_dom_query q = {.type = type, .min_bytes = (uint64_t)min_bytes, .max_rows = ROWS_MAX};
	struct gh_dom_result *r = NULL;
	pid_t bad = 0;
	size_t need = 0;
	uint64_t objects = 0;
	int rc = gh__dom_run(&q, &r, &bad, &need, &objects);
	if (rc != 0) {
		char msg[320];
		int status = 500;
		if (rc == EFBIG) {
			status = 503;
			snprintf(msg, sizeof msg,
				 "the heap is too large for the dominators work budget: %llu objects need %zu bytes of "
				 "work memory, the budget is %zu (GLASSHEAP_DOMINATORS_BUDGET); nothing was computed",
				 (unsigned long long)objects, need, gh__dom_budget());
		} else if (rc == ERANGE) {
			status = 503;
			snprintf(msg, sizeof msg, "the heap spans 16 GiB or more of the cage: too large for a dominators pass");
		} else if (rc == ETIMEDOUT) {
			status = 504;
			snprintf(msg, sizeof msg,
				 "thread %d did not stop within the timeout (is the stop signal blocked? see GLASSHEAP_STOP "
				 "and GLASSHEAP_STOP_SIGNAL); nothing was analyzed",
				 (int)bad);
		} else if (rc == E2BIG) {
			snprintf(msg, sizeof msg,
				 "the process has more threads or memory mappings than a pass can hold (threads-max, "
				 "vm.max_map_count); nothing was analyzed");
		} else if (rc == EBUSY) {
			snprintf(msg, sizeof msg, "the stop signal is used by the program: set GLASSHEAP_STOP_SIGNAL");
		} else {
			snprintf(msg, sizeof msg, "dominators pass failed: %s", strerror(rc));
		}
		gh__http_detail(call, status, msg);
		return;
	}
	const struct gh_dom_result *old = base ? base->r : NULL;
	/* ranked by growth against the saved answer; else by retained bytes (as computed).
	 * A copy: the saved rows keep their own order. */
	struct gh_dom_row *rows = r->rows;
	struct gh_dom_row *ranked = NULL;
	if (old && r->nrows > 0 && (ranked = malloc(r->nrows * sizeof *ranked)) != NULL) {
		memcpy(ranked, r->rows, r->nrows * sizeof *ranked);
		cmp_base = old;
		qsort(ranked, r->nrows, sizeof *ranked, cmp_growth);
		cmp_base = NULL;
		rows = ranked;
	}
	size_t n = r->nrows < (size_t)top_n ? r->nrows : (size_t)top_n;
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 17);
	gh__emit_key(e, "top_retainers");
	gh__emit_array_begin(e, n);
	for (size_t i = 0; i < n; i++)
		emit_row(e, &rows[i], old);
	gh__emit_array_end(e);
	gh__emit_key(e, "by_type");
	gh__emit_array_begin(e, r->ntypes);
	for (size_t i = 0; i < r->ntypes; i++) {
		const struct gh_dom_type_row *t = &r->types[i];
		gh__emit_map_begin(e, 3 + (old ? 2 : 0));
		gh__emit_kv_cstr(e, "type", type_text(t->type));
		gh__emit_kv_uint(e, "retained_bytes", t->bytes);
		gh__emit_kv_uint(e, "retained_objects", t->objects);
		if (old) {
			const struct gh_dom_type_row *o = old_type(old, t->type);
			uint64_t before = o ? o->bytes : 0;
			gh__emit_kv_uint(e, "retained_bytes_before", before);
			gh__emit_kv_int(e, "retained_bytes_delta", (int64_t)t->bytes - (int64_t)before);
		}
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
	gh__emit_kv_uint(e, "objects", r->objects);
	gh__emit_kv_uint(e, "edges", r->edges);
	gh__emit_kv_uint(e, "roots", r->roots);
	gh__emit_kv_uint(e, "reachable_bytes", r->reached_bytes);
	gh__emit_kv_dbl(e, "pause_ms", (double)r->pause_ns / 1e6);
	gh__emit_kv_dbl(e, "mark_ms", (double)r->mark_ns / 1e6);
	gh__emit_kv_dbl(e, "compute_ms", (double)r->compute_ns / 1e6);
	gh__emit_kv_uint(e, "work_bytes", r->work_bytes);
	gh__emit_kv_dbl(e, "work_bytes_per_object", r->objects ? (double)r->work_bytes / (double)r->objects : 0.0);
	gh__emit_kv_uint(e, "budget_bytes", r->budget_bytes);
	gh__emit_kv_uint(e, "threads_stopped", r->threads);
	gh__emit_kv_cstr(e, "stop_method", r->stop_method ? r->stop_method : "");
	gh__emit_key(e, "saved");
	if (save)
		gh__emit_str(e, save, save_len);
	else
		gh__emit_null(e);
	gh__emit_key(e, "since");
	if (since)
		gh__emit_str(e, since, since_len);
	else
		gh__emit_null(e);
	gh__emit_kv_bool(e, "type_filter", type != GH_TYPE_NONE);
	gh__emit_map_end(e);
	free(ranked);
	if (save)
		save_result(save, r); /* kept: the rows under its filter, the types */
	else
		gh__dom_result_free(r);
}
