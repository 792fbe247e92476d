/*
 * ep_metrics.c -- GET /metrics: the heap's figures in the Prometheus text
 * exposition format 0.0.4, for a Prometheus server scraping a fleet.
 *
 *   glassheap_live_bytes{type="..."}     requested bytes of live allocations, per
 *   glassheap_live_objects{type="..."}   type: the top N types by bytes, the rest
 *                                        summed under type="other"
 *   glassheap_allocations_total, glassheap_frees_total, the gc pass figures,
 *   tracing, process RSS, and the allocator's own figures (jemalloc, metadata,
 *   cage, glassheap's own allocations).
 *
 * Bounded cardinality: at most N + 1 series per per-type metric, N from
 * GLASSHEAP_METRICS_TYPES (0..1000, default 20), read once. Every figure
 * comes from counters (gh_stats_all, gh__mark_totals, mallctl): no heap walk,
 * cost grows with the number of types only. glassheap's own allocations
 * (type "glassheap") are never counted as the program's: they appear only in
 * glassheap_self_bytes/_objects.
 *
 * Data gathering is read_figures(); the rest only formats.
 */
#include "internal.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_TYPES_DEFAULT 20
#define METRICS_TYPES_MAX 1000

/* ---- Data ------------------------------------------------------------------------ */

struct figures {
	gh_type_stats_t *types;  /* the program's types with live objects, by bytes */
	size_t ntypes;
	uint64_t allocs, frees;  /* the program's, every type summed */
	gh_type_stats_t self;    /* GH_TYPE_INTERNAL */
	struct gh_gc_totals gc;
	struct gh_trace_status trace;
	uint64_t errors;
	uint32_t registered;
	uint64_t je[6];          /* allocated active metadata resident mapped retained */
	size_t meta_mapped, meta_used;
	uint64_t cage_reserved, cage_used;
	uint64_t rss, vsz;
};

static const char *const je_names[6] = {"allocated", "active", "metadata", "resident", "mapped", "retained"};

static int by_bytes(const void *pa, const void *pb)
{
	const gh_type_stats_t *a = pa, *b = pb;
	if (a->live_bytes != b->live_bytes)
		return a->live_bytes > b->live_bytes ? -1 : 1;
	if (a->live_count != b->live_count)
		return a->live_count > b->live_count ? -1 : 1;
	return a->type < b->type ? -1 : a->type > b->type;
}

/* Every figure, from counters only. false when out of memory. */
static bool read_figures(struct figures *f)
{
	memset(f, 0, sizeof *f);
	size_t n = 0;
	gh_type_stats_t *st = gh__http_read_stats(&n);
	if (!st)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].type == GH_TYPE_INTERNAL) {
			f->self = st[i];
			continue;
		}
		f->allocs += st[i].total_allocs;
		f->frees += st[i].total_frees;
		if (st[i].live_count > 0 || st[i].live_bytes > 0)
			st[k++] = st[i];
	}
	if (k > 1)
		qsort(st, k, sizeof *st, by_bytes);
	f->types = st;
	f->ntypes = k;
	f->gc = gh__mark_totals();
	gh__trace_status(&f->trace);
	f->errors = gh_error_count();
	f->registered = gh_type_count();

	struct gh_alloc_stats as;
	gh__alloc_stats(&as);
	const uint64_t je[6] = {as.je_allocated, as.je_active, as.je_metadata, as.je_resident, as.je_mapped, as.je_retained};
	for (int i = 0; i < 6; i++)
		f->je[i] = je[i];
	f->meta_mapped = as.meta_mapped;
	f->meta_used = as.meta_used;
	f->cage_reserved = as.cage_reserved;
	f->cage_used = as.cage_used;
	gh__export_proc_mem(&f->rss, &f->vsz);
	return true;
}

/* ---- Format ------------------------------------------------------------------------ */

static size_t top_types(void)
{
	static size_t n = SIZE_MAX;
	if (n != SIZE_MAX)
		return n;
	n = METRICS_TYPES_DEFAULT;
	const char *s = getenv("GLASSHEAP_METRICS_TYPES");
	if (s && *s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (*end || s[0] == '-' || v > METRICS_TYPES_MAX)
			gh__log("GLASSHEAP_METRICS_TYPES=%s ignored: want 0..%d", s, METRICS_TYPES_MAX);
		else
			n = v;
	}
	return n;
}

static void family(struct gh_buf *b, const char *name, const char *type, const char *help)
{
	gh__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct gh_buf *b, const char *name, uint64_t v)
{
	gh__buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void one(struct gh_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	family(b, name, type, help);
	sample(b, name, v);
}

/* A label value: '\\', '"' and newline escaped as the format wants; bytes
 * that are not UTF-8 (type names are any bytes) become U+FFFD. */
static void label_value(struct gh_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; p[i];) {
		unsigned c = p[i];
		size_t k = 1;
		if (c >= 0x80) {
			/* well-formed multi-byte sequence? (no overlongs, no surrogates) */
			size_t want = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			bool ok = want != 0;
			for (size_t j = 1; ok && j < want; j++)
				ok = (p[i + j] & 0xc0) == 0x80;
			if (ok && want == 3) {
				unsigned cp = ((c & 0x0f) << 12) | ((p[i + 1] & 0x3f) << 6);
				ok = cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
			}
			if (ok && want == 4) {
				unsigned cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3f) << 12);
				ok = cp >= 0x10000 && cp <= 0x10ffff;
			}
			if (!ok) {
				gh__buf_puts(b, "\xef\xbf\xbd");
				i++;
				continue;
			}
			k = want;
		} else if (c == '\\') {
			gh__buf_puts(b, "\\\\");
			i++;
			continue;
		} else if (c == '"') {
			gh__buf_puts(b, "\\\"");
			i++;
			continue;
		} else if (c == '\n') {
			gh__buf_puts(b, "\\n");
			i++;
			continue;
		}
		gh__buf_put(b, p + i, k);
		i += k;
	}
}

/* glassheap_live_bytes / _objects: the top n types and "other". A program
 * type named "other" is always summed into the "other" series. */
static void per_type(struct gh_buf *b, const struct figures *f, bool bytes)
{
	const char *name = bytes ? "glassheap_live_bytes" : "glassheap_live_objects";
	family(b, name, "gauge",
	       bytes ? "Requested bytes of the program's live allocations, by type (the top types by bytes; "
		       "the rest summed as type=\"other\")."
		     : "Live allocations of the program, by type (the types of glassheap_live_bytes; the rest "
		       "summed as type=\"other\").");
	size_t n = top_types(), shown = 0;
	uint64_t other = 0;
	for (size_t i = 0; i < f->ntypes; i++) {
		const gh_type_stats_t *t = &f->types[i];
		uint64_t v = bytes ? t->live_bytes : t->live_count;
		const char *tn = t->name ? t->name : "";
		if (shown >= n || strcmp(tn, "other") == 0) {
			other += v;
			continue;
		}
		shown++;
		gh__buf_printf(b, "%s{type=\"", name);
		label_value(b, tn);
		gh__buf_printf(b, "\"} %llu\n", (unsigned long long)v);
	}
	gh__buf_printf(b, "%s{type=\"other\"} %llu\n", name, (unsigned long long)other);
}

static void format(struct gh_buf *b, const struct figures *f)
{
	per_type(b, f, true);
	per_type(b, f, false);
	one(b, "glassheap_allocations_total", "counter",
	    "Allocations made by the program since start (a realloc counts once).", f->allocs);
	one(b, "glassheap_frees_total", "counter", "Frees made by the program since start (a realloc counts once).",
	    f->frees);
	one(b, "glassheap_types_registered", "gauge", "Type ids in use, built-in ones included.", f->registered);
	one(b, "glassheap_heap_errors_total", "counter", "Heap misuse detected (invalid, double or interior frees).",
	    f->errors);

	one(b, "glassheap_gc_passes_total", "counter", "Reachability passes run (POST /debug/memory/gc, referrers).",
	    f->gc.runs);
	one(b, "glassheap_gc_collections_total", "counter", "Passes that collected (POST /debug/memory/gc).",
	    f->gc.collections);
	one(b, "glassheap_gc_collected_objects_total", "counter",
	    "Unreachable objects of collectable types freed by passes.", f->gc.collected_objects);
	family(b, "glassheap_gc_last_pause_seconds", "gauge",
	       "Stop-the-world pause of the last reachability pass (0 before any pass).");
	gh__buf_printf(b, "glassheap_gc_last_pause_seconds %.9f\n", (double)f->gc.last_pause_ns / 1e9);
	family(b, "glassheap_gc_pause_seconds_total", "counter", "Stop-the-world pauses of every pass, summed.");
	gh__buf_printf(b, "glassheap_gc_pause_seconds_total %.9f\n", (double)f->gc.pause_ns_total / 1e9);
	one(b, "glassheap_gc_unreachable_objects", "gauge",
	    "Unreachable objects the last pass left allocated (leak suspects; 0 before any pass).",
	    f->gc.garbage_count);
	one(b, "glassheap_gc_unreachable_bytes", "gauge", "Requested bytes of those objects.", f->gc.garbage_bytes);

	one(b, "glassheap_trace_active", "gauge", "1 while tracemalloc-style tracing is on.", f->trace.is_tracing);
	one(b, "glassheap_trace_current_bytes", "gauge", "Live bytes of traced allocations (0 when not tracing).",
	    f->trace.current_bytes);
	one(b, "glassheap_trace_peak_bytes", "gauge", "Peak of glassheap_trace_current_bytes since tracing started.",
	    f->trace.peak_bytes);

	one(b, "glassheap_self_bytes", "gauge",
	    "Requested bytes of glassheap's own live allocations (debug server, reports), counted nowhere else.",
	    f->self.live_bytes);
	one(b, "glassheap_self_objects", "gauge", "glassheap's own live allocations.", f->self.live_count);
	family(b, "glassheap_jemalloc_bytes", "gauge",
	       "jemalloc's statistics (stats.<stat>) of the heap glassheap runs on: headers, size-class rounding "
	       "and caches included.");
	for (int i = 0; i < 6; i++)
		gh__buf_printf(b, "glassheap_jemalloc_bytes{stat=\"%s\"} %llu\n", je_names[i],
			       (unsigned long long)f->je[i]);
	one(b, "glassheap_metadata_mapped_bytes", "gauge", "glassheap's metadata mappings (reserved address space).",
	    f->meta_mapped);
	one(b, "glassheap_metadata_used_bytes", "gauge", "glassheap's metadata handed out.", f->meta_used);
	one(b, "glassheap_cage_reserved_bytes", "gauge", "The reserved address range all heap memory comes from.",
	    f->cage_reserved);
	one(b, "glassheap_cage_used_bytes", "gauge", "Bytes of the cage handed to jemalloc so far.", f->cage_used);
	one(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes (/proc/self/statm).", f->rss);
	one(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes (/proc/self/statm).", f->vsz);
}

void gh__ep_metrics(struct gh_http_call *call)
{
	struct figures f;
	if (!read_figures(&f)) {
		gh__http_detail(call, 500, "out of memory");
		return;
	}
	struct gh_buf b = {0};
	format(&b, &f);
	free(f.types);
	gh__buf_send(call, "text/plain; version=0.0.4; charset=utf-8", &b);
}
