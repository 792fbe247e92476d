/*
 * ep_trace.c -- the tracemalloc family of api.md over alloc/trace.c:
 *   POST /debug/tracemalloc/start        frames 1..100 (25), sample_bytes (added)
 *   GET  /debug/tracemalloc/status
 *   GET  /debug/tracemalloc/top          top_n 1..100 (10), group_by lineno|filename
 *   POST /debug/tracemalloc/snapshot     name
 *   GET  /debug/tracemalloc/compare      snapshot1, snapshot2, top_n, group_by
 *   GET  /debug/tracemalloc/traceback    top_n 1..50 (5)
 *   DELETE /debug/tracemalloc/snapshot/{name}
 *   POST /debug/tracemalloc/stop
 *
 * Rows carry api.md's fields plus "function" and "site" (added): the site is
 * "module+0xoffset" of the frame's return address, what a reader needs to
 * find a frame that has no debug information (addr2line, a debugger).
 * Symbolization happens here, on the server thread, inside
 * gh__trace_quiet_begin/end so that the symbolizer's own allocations are
 * never traced.
 */
#include "internal.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_names[] = {"lineno", "filename"};
#define NOT_TRACING "tracemalloc is not running; POST /debug/tracemalloc/start first"

static void not_tracing(struct gh_http_call *call)
{
	gh__http_detail(call, 400, NOT_TRACING);
}

/* The answer to a trace.c error code rc from the operation `what`. */
static void answer_error(struct gh_http_call *call, int rc, const char *what)
{
	char msg[200];
	switch (rc) {
	case ESRCH:
		not_tracing(call);
		return;
	case ENOMEM:
		snprintf(msg, sizeof msg, "%s: out of memory", what);
		gh__http_detail(call, 500, msg);
		return;
	default:
		snprintf(msg, sizeof msg, "%s failed: %s", what, strerror(rc));
		gh__http_detail(call, 500, msg);
	}
}

static void emit_snapshot_names(gh_emit_t *e)
{
	static char names[GH_TRACE_SNAPSHOTS_LIMIT][GH_TRACE_NAME_MAX + 1];
	size_t n = gh__trace_snapshot_names(names, GH_TRACE_SNAPSHOTS_LIMIT);
	if (n > GH_TRACE_SNAPSHOTS_LIMIT)
		n = GH_TRACE_SNAPSHOTS_LIMIT;
	gh__emit_array_begin(e, n);
	for (size_t i = 0; i < n; i++)
		gh__emit_cstr(e, names[i]);
	gh__emit_array_end(e);
}

/* "site": "module+0xoffset" of the frame's return address ("0x..." when no
 * module holds it), or "" when site is false. */
static void emit_site(gh_emit_t *e, const struct gh_trace_frame *f, bool site)
{
	char buf[PATH_MAX + 32] = "";
	if (site && f->module && *f->module)
		snprintf(buf, sizeof buf, "%s+0x%lx", f->module, (unsigned long)f->offset);
	else if (site)
		snprintf(buf, sizeof buf, "0x%lx", (unsigned long)f->address);
	gh__emit_key(e, "site");
	gh__emit_cstr(e, buf);
}

/* api.md's filename, lineno, line, then the added function and site. */
static void emit_frame_fields(gh_emit_t *e, const struct gh_trace_frame *f, bool site)
{
	gh__emit_kv_cstr(e, "filename", f->filename ? f->filename : "<unknown>");
	gh__emit_kv_uint(e, "lineno", f->lineno);
	gh__emit_kv_cstr(e, "line", f->line ? f->line : "");
	gh__emit_kv_cstr(e, "function", f->function ? f->function : "");
	emit_site(e, f, site);
}

/* "size_bytes", "size_mb", "count" (or the *_diff names of compare). */
static void emit_sizes(gh_emit_t *e, bool diff, int64_t size, int64_t count)
{
	gh__emit_kv_int(e, diff ? "size_diff_bytes" : "size_bytes", size);
	gh__emit_kv_mb_signed(e, diff ? "size_diff_mb" : "size_mb", size);
	gh__emit_kv_int(e, diff ? "count_diff" : "count", count);
}

/* The rows of top (sizes) or compare (differences), grouped by source line
 * or file. A row names one address only when it is grouped by lineno and
 * has no line (trace.c keeps such frames apart by address): only that row
 * gets a site, the others group several addresses and get "". */
static void emit_stat_rows(gh_emit_t *e, const struct gh_trace_stat *rows, size_t n, bool diff, size_t group)
{
	gh__emit_array_begin(e, n);
	for (size_t i = 0; i < n; i++) {
		gh__emit_map_begin(e, 8);
		if (diff)
			emit_sizes(e, true, rows[i].size_diff, rows[i].count_diff);
		else
			emit_sizes(e, false, rows[i].size, rows[i].count);
		emit_frame_fields(e, &rows[i].frame, group == 0 && rows[i].frame.lineno == 0);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
}

static const char *unwinder_name(enum gh_unwinder u)
{
	return u == GH_UNWIND_DWARF ? "dwarf" : u == GH_UNWIND_FP ? "fp" : "auto";
}

void gh__ep_trace_start(struct gh_http_call *call)
{
	int64_t frames, sample;
	gh__query_int(call->q, "frames", 1, GH_TRACE_FRAMES_MAX, GH_TRACE_FRAMES_DEFAULT, &frames);
	gh__query_int(call->q, "sample_bytes", 0, (int64_t)1 << 40, 0, &sample);
	if (!gh__http_params_valid(call))
		return;
	int rc = gh__trace_start((unsigned)frames, (size_t)sample);
	char msg[160];
	struct gh_trace_status st;
	gh__trace_status(&st);
	if (rc == EALREADY) {
		snprintf(msg, sizeof msg, "tracemalloc already running with %u frame limit", st.frames);
	} else if (rc != 0) {
		answer_error(call, rc, "tracemalloc start");
		return;
	} else if (sample) {
		snprintf(msg, sizeof msg, "tracemalloc started with %u frame limit, sampling every %lld bytes on average",
			 st.frames, (long long)sample);
	} else {
		snprintf(msg, sizeof msg, "tracemalloc started with %u frame limit", st.frames);
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 3 + 2);
	gh__emit_kv_cstr(e, "status", "started");
	gh__emit_kv_cstr(e, "message", msg);
	gh__emit_kv_uint(e, "frames", st.frames);
	gh__emit_kv_uint(e, "sample_bytes", st.sample_bytes);
	gh__emit_kv_cstr(e, "unwinder", unwinder_name(st.unwinder));
	gh__emit_map_end(e);
}

void gh__ep_trace_status(struct gh_http_call *call)
{
	struct gh_trace_status st;
	gh__trace_status(&st);
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 5 + 6);
	gh__emit_kv_bool(e, "is_tracing", st.is_tracing);
	gh__emit_kv_uint(e, "frames", st.frames);
	gh__emit_kv_mb(e, "current_mb", st.current_bytes);
	gh__emit_kv_mb(e, "peak_mb", st.peak_bytes);
	gh__emit_key(e, "available_snapshots");
	emit_snapshot_names(e);
	gh__emit_kv_uint(e, "current_bytes", st.current_bytes);
	gh__emit_kv_uint(e, "peak_bytes", st.peak_bytes);
	gh__emit_kv_uint(e, "sample_bytes", st.sample_bytes);
	gh__emit_kv_cstr(e, "unwinder", unwinder_name(st.unwinder));
	gh__emit_kv_uint(e, "stacks", st.stacks);
	gh__emit_kv_uint(e, "snapshots_max", st.snapshots_max);
	gh__emit_map_end(e);
}

void gh__ep_trace_top(struct gh_http_call *call)
{
	int64_t top_n;
	size_t group;
	gh__query_int(call->q, "top_n", 1, 100, 10, &top_n);
	gh__query_enum(call->q, "group_by", group_names, 2, 0, &group);
	if (!gh__http_params_valid(call))
		return;
	struct gh_trace_status st;
	gh__trace_status(&st);
	if (!st.is_tracing) {
		not_tracing(call);
		return;
	}
	struct gh_trace_stat *rows = NULL;
	size_t n = 0;
	int rc = gh__trace_top(group ? GH_TRACE_BY_FILENAME : GH_TRACE_BY_LINENO, (size_t)top_n, &rows, &n);
	if (rc) {
		answer_error(call, rc, "tracemalloc top");
		return;
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 3);
	gh__emit_kv_cstr(e, "group_by", group_names[group]);
	gh__emit_key(e, "top_allocations");
	emit_stat_rows(e, rows, n, false, group);
	gh__emit_key(e, "summary");
	gh__emit_map_begin(e, 2);
	gh__emit_kv_mb(e, "current_mb", st.current_bytes);
	gh__emit_kv_mb(e, "peak_mb", st.peak_bytes);
	gh__emit_map_end(e);
	gh__emit_map_end(e);
	free(rows);
}

void gh__ep_trace_snapshot(struct gh_http_call *call)
{
	const char *name;
	size_t len;
	gh__query_name(call->q, "name", &name, &len);
	if (!gh__http_params_valid(call))
		return;
	char nm[GH_TRACE_NAME_MAX + 1];
	memcpy(nm, name, len);
	nm[len] = '\0';
	int rc = gh__trace_snapshot(nm);
	if (rc == ENOSPC) {
		struct gh_trace_status st;
		gh__trace_status(&st);
		char msg[200];
		snprintf(msg, sizeof msg,
			 "snapshot limit reached (%zu stored): DELETE /debug/tracemalloc/snapshot/{name} first, or "
			 "reuse a name", st.snapshots);
		gh__http_detail(call, 409, msg);
		return;
	}
	if (rc) {
		answer_error(call, rc, "tracemalloc snapshot");
		return;
	}
	struct gh_trace_status st;
	gh__trace_status(&st);
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 5);
	gh__emit_kv_cstr(e, "status", "created");
	gh__emit_kv_cstr(e, "name", nm);
	gh__emit_kv_mb(e, "current_mb", st.current_bytes);
	gh__emit_kv_mb(e, "peak_mb", st.peak_bytes);
	gh__emit_key(e, "available_snapshots");
	emit_snapshot_names(e);
	gh__emit_map_end(e);
}

void gh__ep_trace_compare(struct gh_http_call *call)
{
	const char *s1, *s2;
	size_t l1, l2, group;
	int64_t top_n;
	gh__query_name(call->q, "snapshot1", &s1, &l1);
	gh__query_name(call->q, "snapshot2", &s2, &l2);
	gh__query_int(call->q, "top_n", 1, 100, 10, &top_n);
	gh__query_enum(call->q, "group_by", group_names, 2, 0, &group);
	if (!gh__http_params_valid(call))
		return;
	char a[GH_TRACE_NAME_MAX + 1], b[GH_TRACE_NAME_MAX + 1];
	memcpy(a, s1, l1);
	a[l1] = '\0';
	memcpy(b, s2, l2);
	b[l2] = '\0';
	const char *missing = !gh__trace_snapshot_exists(a) ? a : !gh__trace_snapshot_exists(b) ? b : NULL;
	if (missing) {
		char msg[160];
		snprintf(msg, sizeof msg, "Snapshot '%s' not found", missing);
		gh__http_detail(call, 404, msg);
		return;
	}
	struct gh_trace_stat *rows = NULL;
	size_t n = 0;
	int rc = gh__trace_compare(a, b, group ? GH_TRACE_BY_FILENAME : GH_TRACE_BY_LINENO, (size_t)top_n, &rows, &n);
	if (rc == ENOENT) { /* deleted meanwhile */
		gh__http_detail(call, 404, "Snapshot not found");
		return;
	}
	if (rc) {
		answer_error(call, rc, "tracemalloc compare");
		return;
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 4);
	gh__emit_kv_cstr(e, "snapshot1", a);
	gh__emit_kv_cstr(e, "snapshot2", b);
	gh__emit_kv_cstr(e, "group_by", group_names[group]);
	gh__emit_key(e, "differences");
	emit_stat_rows(e, rows, n, true, group);
	gh__emit_map_end(e);
	free(rows);
}

void gh__ep_trace_traceback(struct gh_http_call *call)
{
	int64_t top_n;
	gh__query_int(call->q, "top_n", 1, 50, 5, &top_n);
	if (!gh__http_params_valid(call))
		return;
	struct gh_trace_tb *rows = NULL;
	size_t n = 0;
	int rc = gh__trace_traceback((size_t)top_n, &rows, &n);
	if (rc) {
		answer_error(call, rc, "tracemalloc traceback");
		return;
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 1);
	gh__emit_key(e, "top_allocations");
	gh__emit_array_begin(e, n);
	for (size_t i = 0; i < n; i++) {
		gh__emit_map_begin(e, 4);
		emit_sizes(e, false, rows[i].size, rows[i].count);
		gh__emit_key(e, "traceback");
		gh__emit_array_begin(e, rows[i].nframes);
		for (size_t k = 0; k < rows[i].nframes; k++) {
			gh__emit_map_begin(e, 5);
			emit_frame_fields(e, &rows[i].frames[k], true);
			gh__emit_map_end(e);
		}
		gh__emit_array_end(e);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);
	gh__emit_map_end(e);
	free(rows);
}

void gh__ep_trace_delete(struct gh_http_call *call)
{
	gh__query_path_name(call->q, "name", call->path_arg, call->path_arg_len);
	if (!gh__http_params_valid(call))
		return;
	char nm[GH_TRACE_NAME_MAX + 1];
	memcpy(nm, call->path_arg, call->path_arg_len);
	nm[call->path_arg_len] = '\0';
	if (gh__trace_snapshot_delete(nm) == ENOENT) {
		char msg[160];
		snprintf(msg, sizeof msg, "Snapshot '%s' not found", nm);
		gh__http_detail(call, 404, msg);
		return;
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 3);
	gh__emit_kv_cstr(e, "status", "deleted");
	gh__emit_kv_cstr(e, "name", nm);
	gh__emit_key(e, "available_snapshots");
	emit_snapshot_names(e);
	gh__emit_map_end(e);
}

void gh__ep_trace_stop(struct gh_http_call *call)
{
	if (gh__trace_stop() == ESRCH) {
		not_tracing(call);
		return;
	}
	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 1);
	gh__emit_kv_cstr(e, "status", "stopped");
	gh__emit_map_end(e);
}
