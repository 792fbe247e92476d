/*
 * views.c -- one human rendering per endpoint document of api.md: the tables
 * `glassheap memory`, `types`, `gc`, `referrers` and `trace ...` print.
 *
 * Entry points: gh__view_<endpoint> (one per response shape) and
 * gh__view_detail (error documents: {"detail": str} and the 422 list).
 *
 * A view reads the decoded tree (decode.c) with the shape-tolerant lookups
 * of table.c: a missing or ill-typed field prints "?", an unexpected list
 * entry is skipped, and fields glassheap adds to api.md's documents (the
 * `allocator` of /debug/memory, the reachability details of gc) are shown
 * when present. Counts are printed exactly; byte figures human-readable
 * ("11.8 MiB"), with the exact byte count beside the headline ones; `*_mb`
 * floats as the server rounded them ("45.23 MiB").
 *
 * Code locations (gc's leak sites, trace rows and frames) show what the
 * server knows: the function, then "file:line" when it has a line, else the
 * site "module+0xoffset" (an address in a binary without debug information).
 * Everything fits the output width (table.c): tables elide names, paths and
 * source text, prose wraps.
 */
#include "client.h"

#include <string.h>

#define NUM 64 /* room for one formatted number */

/* Document text printed outside a table, made terminal-safe (table.c); the
 * buffer lives until the end of the enclosing block. */
#define SAFE(s) gh__fmt_safe((char[1024]){0}, 1024, (s))

/* ---- Cells -------------------------------------------------------------------------- */

static const char *int_or_q(char *buf, const json_t *o, const char *key, bool sign)
{
	long long v;
	return gh__doc_int(o, key, &v) ? gh__fmt_int(buf, NUM, v, sign) : "?";
}

static const char *size_or_q(char *buf, const json_t *o, const char *key, bool sign)
{
	double v;
	return gh__doc_num(o, key, &v) ? gh__fmt_size(buf, NUM, v, sign) : "?";
}

/* "802.2 KiB (821468 bytes)" */
static const char *size_exact(char *buf, size_t len, const json_t *o, const char *key)
{
	long long v;
	char h[NUM];
	if (!gh__doc_int(o, key, &v))
		return "?";
	snprintf(buf, len, "%s (%lld bytes)", gh__fmt_size(h, sizeof h, (double)v, false), v);
	return buf;
}

/* A *_mb float as sent: "45.23 MiB". */
static const char *mb_or_q(char *buf, const json_t *o, const char *key, bool sign)
{
	double v;
	if (!gh__doc_num(o, key, &v))
		return "?";
	snprintf(buf, NUM, sign && v > 0 ? "+%.2f MiB" : "%.2f MiB", v);
	return buf;
}

static const char *str_or_q(const json_t *o, const char *key)
{
	const char *s = gh__doc_str(o, key);
	return s ? s : "?";
}

/* "a, b, c" from a list of strings, "(none)" when empty. */
static void join_strings(char *buf, size_t len, const json_t *list)
{
	size_t k = 0;
	buf[0] = '\0';
	if (!json_is_array(list)) {
		snprintf(buf, len, "?");
		return;
	}
	size_t i;
	const json_t *v;
	json_array_foreach (list, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : "?";
		int n = snprintf(buf + k, len - k, "%s%s", i ? ", " : "", s);
		if (n < 0 || (size_t)n >= len - k) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		k += (size_t)n;
	}
	if (k == 0)
		snprintf(buf, len, "(none)");
}

/* "0 0 3" from a list of integers. */
static void join_ints(char *buf, size_t len, const json_t *list)
{
	size_t k = 0;
	buf[0] = '\0';
	if (!json_is_array(list)) {
		snprintf(buf, len, "?");
		return;
	}
	size_t i;
	const json_t *v;
	json_array_foreach (list, i, v) {
		int n = json_is_integer(v) ? snprintf(buf + k, len - k, "%s%lld", i ? " " : "",
						      (long long)json_integer_value(v))
					   : snprintf(buf + k, len - k, "%s?", i ? " " : "");
		if (n < 0 || (size_t)n >= len - k)
			return;
		k += (size_t)n;
	}
}

/* Where a frame, row or leak site is: "file.c:145" when the server sent a
 * line; else its site ("module+0xoffset", glassheap's addition) when sent;
 * else the filename (the module, or the file of a group_by=filename row). */
static const char *location(char *buf, size_t len, const json_t *o)
{
	long long line = 0;
	const char *file = gh__doc_str(o, "filename");
	const char *site = gh__doc_str(o, "site");
	if (file && *file && gh__doc_int(o, "lineno", &line) && line > 0)
		snprintf(buf, len, "%s:%lld", file, line);
	else if (site && *site)
		snprintf(buf, len, "%s", site);
	else
		snprintf(buf, len, "%s", file && *file ? file : "?");
	return buf;
}

/* The function of a frame or row, "" when the server has no name for it. */
static const char *function(const json_t *o)
{
	const char *f = gh__doc_str(o, "function");
	return f ? f : "";
}

#define LOC 4096 /* room for one location */

/* A key/value block: two columns, keys left, values left (elided last). */
static gh_table_t *kv_new(void)
{
	return gh__table_new(2, NULL, "ln");
}

static void kv(gh_table_t *t, const char *key, const char *value)
{
	gh__table_cell(t, "%s", key);
	gh__table_cell(t, "%s", value);
}

static void kv_print(gh_table_t *t, FILE *out)
{
	gh__table_print(t, out, 0);
	gh__table_free(t);
}

/* Prints the table (indented by indent), or the empty text and a newline
 * when it has no rows; frees it. */
static void table_done(gh_table_t *t, FILE *out, int indent, const char *empty)
{
	if (gh__table_rows(t) > 0)
		gh__table_print(t, out, indent);
	else
		fprintf(out, "%s\n", empty);
	gh__table_free(t);
}

/* ---- GET /debug/memory --------------------------------------------------------------- */

static void print_gc_stats(FILE *out, const char *label, const json_t *gs)
{
	char coll[256], thr[256], n[NUM];
	join_ints(coll, sizeof coll, json_object_get(gs, "collections"));
	join_ints(thr, sizeof thr, json_object_get(gs, "thresholds"));
	gh__print_wrapped(out, 2, "%scollections [%s], thresholds [%s], garbage %s", label, coll, thr,
			  int_or_q(n, gs, "garbage_count", false));
}

/* glassheap's addition: where the requested bytes sit in the allocator. */
static void print_allocator(FILE *out, const json_t *a)
{
	const json_t *je = json_object_get(a, "jemalloc");
	const json_t *self = json_object_get(a, "self");
	char r[NUM], sb[NUM], so[NUM], h[NUM], rd[NUM], al[NUM], ac[NUM], rs[NUM], rss[NUM];
	gh__print_wrapped(out, 2,
		"allocator: requested %s + glassheap's own %s (%s objects) + headers %s + rounding %s"
		" = jemalloc allocated %s; active %s, resident %s; process RSS %s",
		size_or_q(r, a, "requested_bytes", false), size_or_q(sb, self, "bytes", false),
		int_or_q(so, self, "objects", false), size_or_q(h, a, "header_bytes", false),
		size_or_q(rd, a, "rounding_bytes", false), size_or_q(al, je, "allocated", false),
		size_or_q(ac, je, "active", false), size_or_q(rs, je, "resident", false),
		size_or_q(rss, a, "rss_bytes", false));
}

/* "N objects, S, K <what>; top n by <sort_by>" and a blank line, from doc's
 * summary (K from kdoc's kkey); *total: the summary's bytes, for SHARE. */
static bool headline(FILE *out, const json_t *doc, const json_t *top, const char *what, const json_t *kdoc,
		     const char *kkey, long long *total)
{
	const json_t *sum = json_object_get(doc, "summary");
	char objs[NUM], k[NUM], size[NUM * 2];
	gh__print_wrapped(out, 2, "%s objects, %s, %s %s; top %zu by %s\n", int_or_q(objs, sum, "total_objects", false),
			  size_exact(size, sizeof size, sum, "total_size_bytes"), int_or_q(k, kdoc, kkey, false), what,
			  json_is_array(top) ? json_array_size(top) : 0, SAFE(str_or_q(doc, "sort_by")));
	fprintf(out, "\n");
	return gh__doc_int(sum, "total_size_bytes", total);
}

/* A row's COUNT, SIZE, SHARE (of total; "?" without one) and AVG SIZE cells. */
static void figure_cells(gh_table_t *t, const json_t *row, long long total)
{
	char c[NUM], s[NUM], a[NUM];
	long long bytes;
	gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
	gh__table_cell(t, "%s", size_or_q(s, row, "total_size_bytes", false));
	if (total > 0 && gh__doc_int(row, "total_size_bytes", &bytes))
		gh__table_cell(t, "%.1f%%", 100.0 * (double)bytes / (double)total);
	else
		gh__table_cell(t, "?");
	gh__table_cell(t, "%s", size_or_q(a, row, "avg_size_bytes", false));
}

int gh__view_memory(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	const json_t *sum = json_object_get(doc, "summary");
	const json_t *top = json_object_get(doc, "top_objects");
	long long total = 0;
	bool have_total = headline(out, doc, top, "types", sum, "unique_types", &total);

	static const char *const hdr[] = {"TYPE", "COUNT", "SIZE", "SHARE", "AVG SIZE"};
	gh_table_t *t = gh__table_new(5, hdr, "nrrrr");
	size_t i;
	const json_t *row;
	json_array_foreach (top, i, row) {
		if (!json_is_object(row))
			continue;
		gh__table_cell(t, "%s", str_or_q(row, "type"));
		figure_cells(t, row, have_total ? total : 0);
	}
	table_done(t, out, 0, "(no live objects)");

	const json_t *gs = json_object_get(doc, "gc_stats");
	fprintf(out, "\n");
	if (json_is_object(gs))
		print_gc_stats(out, "gc: ", gs);
	const json_t *alloc = json_object_get(doc, "allocator");
	if (json_is_object(alloc))
		print_allocator(out, alloc);
	return 0;
}

/* ---- GET /debug/memory/sites ---------------------------------------------------------- */

int gh__view_sites(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	const json_t *top = json_object_get(doc, "top_sites");
	long long total = 0;
	bool have_total = headline(out, doc, top, "sites", doc, "unique_sites", &total);

	static const char *const hdr[] = {"FUNCTION", "LOCATION", "TYPE", "COUNT", "SIZE", "SHARE", "AVG SIZE"};
	gh_table_t *t = gh__table_new(7, hdr, "npnrrrr");
	size_t i;
	const json_t *row;
	json_array_foreach (top, i, row) {
		if (!json_is_object(row))
			continue;
		char loc[LOC];
		gh__table_cell(t, "%s", function(row));
		gh__table_cell(t, "%s", location(loc, sizeof loc, row));
		gh__table_cell(t, "%s", str_or_q(row, "type"));
		figure_cells(t, row, have_total ? total : 0);
	}
	table_done(t, out, 0, "(no live objects)");
	return 0;
}

/* ---- GET /debug/memory/types ---------------------------------------------------------- */

int gh__view_types(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char c[NUM], s[NUM * 2], a[NUM * 2];
	gh_table_t *t = kv_new();
	kv(t, "type", str_or_q(doc, "type"));
	kv(t, "count", int_or_q(c, doc, "count", false));
	kv(t, "size", size_exact(s, sizeof s, doc, "total_size_bytes"));
	kv(t, "avg size", size_exact(a, sizeof a, doc, "avg_size_bytes"));
	kv_print(t, out);

	const json_t *samples = json_object_get(doc, "samples");
	size_t n = json_is_array(samples) ? json_array_size(samples) : 0;
	if (n == 0) {
		fprintf(out, "\nsamples: none\n");
		return 0;
	}
	fprintf(out, "\nsamples (%zu):\n", n);
	size_t i;
	const json_t *v;
	size_t width = gh__term_width();
	json_array_foreach (samples, i, v) {
		/* One object per line: cut to the width like a table cell. */
		char safe[2048], cut[2048 + 8];
		gh__fmt_safe(safe, sizeof safe, json_is_string(v) ? json_string_value(v) : "?");
		fprintf(out, "  %s\n", gh__fmt_elide(cut, sizeof cut, safe, width > 3 ? width - 2 : width ? 1 : 0, 'n'));
	}
	return 0;
}

/* ---- POST /debug/memory/gc -------------------------------------------------------------- */

/* "3 (1.2 KiB)" from {"count": n, "bytes": n}. */
static const char *count_bytes(char *buf, size_t len, const json_t *o)
{
	char c[NUM], b[NUM];
	if (!json_is_object(o))
		return "?";
	snprintf(buf, len, "%s (%s)", int_or_q(c, o, "count", false), size_or_q(b, o, "bytes", false));
	return buf;
}

static void print_roots(FILE *out, const json_t *roots)
{
	static const char *const hdr[] = {"ROOTS", "RANGES", "SIZE"};
	gh_table_t *t = gh__table_new(3, hdr, "lrr");
	const char *key;
	const json_t *v;
	json_object_foreach ((json_t *)roots, key, v) {
		char r[NUM], b[NUM];
		gh__table_cell(t, "%s", key);
		gh__table_cell(t, "%s", int_or_q(r, v, "ranges", false));
		gh__table_cell(t, "%s", size_or_q(b, v, "bytes", false));
	}
	fprintf(out, "\n");
	gh__table_print(t, out, 0);
	gh__table_free(t);
}

/* glassheap's leak report: objects the pass found unreachable, by class,
 * type and allocation site. */
static void print_unreachable(FILE *out, const json_t *u)
{
	const json_t *sum = json_object_get(u, "summary");
	if (json_is_object(sum)) {
		char line[2048] = "unreachable:";
		size_t k = strlen(line);
		const char *key;
		const json_t *v;
		bool first = true;
		json_object_foreach ((json_t *)sum, key, v) {
			char cb[NUM * 2];
			int n = snprintf(line + k, sizeof line - k, "%s %s %s", first ? "" : ",", SAFE(key),
					 count_bytes(cb, sizeof cb, v));
			if (n < 0 || (size_t)n >= sizeof line - k)
				break;
			k += (size_t)n;
			first = false;
		}
		fprintf(out, "\n");
		gh__print_wrapped(out, 2, "%s", line);
	}

	static const char *const classes[] = {"definitely_lost", "indirectly_lost", "possibly_lost"};
	const json_t *by_type = json_object_get(u, "by_type");
	if (json_is_array(by_type) && json_array_size(by_type) > 0) {
		static const char *const hdr[] = {"TYPE", "DEFINITELY LOST", "INDIRECTLY LOST", "POSSIBLY LOST"};
		gh_table_t *t = gh__table_new(4, hdr, "nrrr");
		size_t i;
		const json_t *row;
		json_array_foreach (by_type, i, row) {
			if (!json_is_object(row))
				continue;
			gh__table_cell(t, "%s", str_or_q(row, "type"));
			for (int k = 0; k < 3; k++) {
				char cb[NUM * 2];
				gh__table_cell(t, "%s", count_bytes(cb, sizeof cb, json_object_get(row, classes[k])));
			}
		}
		fprintf(out, "\n");
		gh__table_print(t, out, 0);
		gh__table_free(t);
	}

	const json_t *by_site = json_object_get(u, "by_site");
	if (json_is_array(by_site) && json_array_size(by_site) > 0) {
		/* "LOST definitely": the class without its "_lost", so that the
		 * narrow column leaves room to the names. */
		static const char *const hdr[] = {"FUNCTION", "LOCATION", "TYPE", "LOST", "COUNT", "SIZE"};
		gh_table_t *t = gh__table_new(6, hdr, "npnnrr");
		size_t i;
		const json_t *row;
		json_array_foreach (by_site, i, row) {
			if (!json_is_object(row))
				continue;
			char c[NUM], b[NUM], loc[LOC];
			gh__table_cell(t, "%s", function(row));
			gh__table_cell(t, "%s", location(loc, sizeof loc, row));
			gh__table_cell(t, "%s", str_or_q(row, "type"));
			const char *cls = str_or_q(row, "class");
			size_t cl = strlen(cls);
			if (cl > 5 && strcmp(cls + cl - 5, "_lost") == 0)
				gh__table_cell(t, "%.*s", (int)(cl - 5), cls);
			else
				gh__table_cell(t, "%s", cls);
			gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
			gh__table_cell(t, "%s", size_or_q(b, row, "bytes", false));
		}
		fprintf(out, "\n");
		gh__table_print(t, out, 0);
		gh__table_free(t);
	}
	if (json_is_true(json_object_get(u, "truncated")))
		fprintf(out, "(the leak report was truncated)\n");
}

int gh__view_gc(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char a[NUM], b[NUM], c[NUM], d[NUM], e[NUM], f[NUM];
	gh_table_t *t = kv_new();
	kv(t, "collected objects", int_or_q(a, doc, "collected_objects", false));
	kv(t, "objects before", int_or_q(b, doc, "objects_before", false));
	kv(t, "objects after", int_or_q(c, doc, "objects_after", false));
	kv(t, "objects freed", int_or_q(d, doc, "objects_freed", false));
	if (json_object_get(doc, "collected_bytes"))
		kv(t, "collected size", size_or_q(e, doc, "collected_bytes", false));
	double pause, mark;
	if (gh__doc_num(doc, "pause_ms", &pause)) {
		char p[NUM * 2], m[NUM] = "", th[NUM] = "";
		long long threads;
		if (gh__doc_num(doc, "mark_ms", &mark))
			snprintf(m, sizeof m, " (marking %.2f ms)", mark);
		if (gh__doc_int(doc, "threads_stopped", &threads))
			snprintf(th, sizeof th, ", %lld threads stopped", threads);
		snprintf(p, sizeof p, "%.2f ms%s%s", pause, m, th);
		kv(t, "pause", p);
	}
	if (json_object_get(doc, "scanned_bytes"))
		kv(t, "scanned", size_or_q(f, doc, "scanned_bytes", false));
	kv_print(t, out);

	const json_t *gs = json_object_get(doc, "gc_stats");
	if (json_is_object(gs))
		print_gc_stats(out, "gc stats: ", gs);
	const json_t *roots = json_object_get(doc, "roots");
	if (json_is_object(roots) && json_object_size(roots) > 0)
		print_roots(out, roots);
	const json_t *u = json_object_get(doc, "unreachable");
	if (json_is_object(u))
		print_unreachable(out, u);
	return 0;
}

/* ---- GET /debug/memory/referrers --------------------------------------------------------- */

int gh__view_referrers(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char n[NUM], s[NUM], p[NUM] = "";
	double pause;
	if (gh__doc_num(doc, "pause_ms", &pause))
		snprintf(p, sizeof p, " (pause %.2f ms)", pause);
	gh__print_wrapped(out, 2, "%s: %s objects, %s analyzed%s", SAFE(str_or_q(doc, "type")),
			  int_or_q(n, doc, "object_count", false), int_or_q(s, doc, "analyzed_sample_size", false), p);
	fprintf(out, "\n");

	const json_t *refs = json_object_get(doc, "top_referrers");
	static const char *const hdr[] = {"REFERRER", "COUNT"};
	gh_table_t *t = gh__table_new(2, hdr, "nr");
	size_t i;
	const json_t *row;
	json_array_foreach (refs, i, row) {
		if (!json_is_object(row))
			continue;
		char c[NUM];
		gh__table_cell(t, "%s", str_or_q(row, "type"));
		gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
	}
	table_done(t, out, 0, "(no referrers found)");
	return 0;
}

/* ---- GET /debug/memory/dominators ---------------------------------------------------------- */

/* Each retainer, then its path as an indented chain from the root down:
 *
 *   1. Cache  retained 123.4 KiB in 2002 objects (self 24 B)
 *      build (dom_host.c:79)  0x7f3a1c00c040
 *      global:g_cache (dom_host)
 *        Cache
 */
int gh__view_dominators(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char o[NUM], e[NUM], w[NUM];
	double pause = 0, mark = 0, comp = 0, per = 0;
	gh__doc_num(doc, "pause_ms", &pause);
	gh__doc_num(doc, "mark_ms", &mark);
	gh__doc_num(doc, "compute_ms", &comp);
	gh__doc_num(doc, "work_bytes_per_object", &per);
	gh__print_wrapped(out, 2,
			  "%s objects, %s edges; pause %.2f ms (mark %.2f ms), dominators %.2f ms; "
			  "work memory %s (%.1f bytes/object)",
			  int_or_q(o, doc, "objects", false), int_or_q(e, doc, "edges", false), pause, mark, comp,
			  size_or_q(w, doc, "work_bytes", false), per);
	const char *since = json_string_value(json_object_get(doc, "since"));
	if (since)
		fprintf(out, "compared with the saved result %s\n", SAFE(since));
	fprintf(out, "\n");
	const json_t *rows = json_object_get(doc, "top_retainers");
	size_t i;
	const json_t *row;
	json_array_foreach (rows, i, row) {
		if (!json_is_object(row))
			continue;
		char rb[NUM], ro[NUM], sb[NUM], d[NUM], ln[NUM];
		fprintf(out, "%zu. %s  retained %s in %s objects (self %s)", i + 1, SAFE(str_or_q(row, "type")),
			size_or_q(rb, row, "retained_bytes", false), int_or_q(ro, row, "retained_objects", false),
			size_or_q(sb, row, "self_bytes", false));
		if (json_object_get(row, "retained_bytes_delta"))
			fprintf(out, "  %s", size_or_q(d, row, "retained_bytes_delta", true));
		fprintf(out, "\n");
		const char *fn = str_or_q(row, "function"), *file = str_or_q(row, "filename");
		const char *slash = strrchr(file, '/');
		if (*file && strcmp(file, "?") != 0)
			fprintf(out, "   %s (%s:%s)  %s\n", SAFE(*fn ? fn : "?"), SAFE(slash ? slash + 1 : file),
				int_or_q(ln, row, "lineno", false), SAFE(str_or_q(row, "address")));
		else
			fprintf(out, "   %s  %s\n", SAFE(*fn ? fn : str_or_q(row, "site")), SAFE(str_or_q(row, "address")));
		const json_t *path = json_object_get(row, "path");
		size_t k;
		const json_t *el;
		json_array_foreach (path, k, el) {
			const char *s = json_string_value(el);
			fprintf(out, "   %*s%s\n", (int)(2 * k), "", SAFE(s ? s : "?"));
		}
	}
	if (json_array_size(rows) == 0)
		fprintf(out, "(no retainers)\n");

	const json_t *types = json_object_get(doc, "by_type");
	if (json_array_size(types) > 0) {
		fprintf(out, "\nretained by type:\n");
		bool delta = json_object_get(json_array_get(types, 0), "retained_bytes_delta") != NULL;
		static const char *const hdr[] = {"TYPE", "RETAINED", "OBJECTS", "CHANGE"};
		gh_table_t *t = gh__table_new(delta ? 4 : 3, hdr, "nrrr");
		json_array_foreach (types, i, row) {
			if (!json_is_object(row))
				continue;
			char b[NUM], n[NUM], d[NUM];
			gh__table_cell(t, "%s", str_or_q(row, "type"));
			gh__table_cell(t, "%s", size_or_q(b, row, "retained_bytes", false));
			gh__table_cell(t, "%s", int_or_q(n, row, "retained_objects", false));
			if (delta)
				gh__table_cell(t, "%s", size_or_q(d, row, "retained_bytes_delta", true));
		}
		gh__table_print(t, out, 0);
		gh__table_free(t);
	}
	return 0;
}

/* ---- Tracemalloc -------------------------------------------------------------------------- */

int gh__view_trace_start(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char f[NUM];
	gh_table_t *t = kv_new();
	kv(t, "status", str_or_q(doc, "status"));
	kv(t, "frames", int_or_q(f, doc, "frames", false));
	kv(t, "message", str_or_q(doc, "message"));
	kv_print(t, out);
	return 0;
}

int gh__view_trace_stop(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	gh_table_t *t = kv_new();
	kv(t, "status", str_or_q(doc, "status"));
	kv_print(t, out);
	return 0;
}

int gh__view_trace_status(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	const json_t *on = json_object_get(doc, "is_tracing");
	char f[NUM], c[NUM], p[NUM], snaps[4096];
	join_strings(snaps, sizeof snaps, json_object_get(doc, "available_snapshots"));
	gh_table_t *t = kv_new();
	kv(t, "tracing", json_is_boolean(on) ? (json_is_true(on) ? "yes" : "no") : "?");
	kv(t, "frames", int_or_q(f, doc, "frames", false));
	kv(t, "current", mb_or_q(c, doc, "current_mb", false));
	kv(t, "peak", mb_or_q(p, doc, "peak_mb", false));
	kv(t, "snapshots", snaps);
	kv_print(t, out);
	return 0;
}

/* The rows of trace top (sizes) or compare (signed differences): size,
 * count, function, location, source line. */
static void print_location_rows(FILE *out, const json_t *rows, const char *const hdr[5], bool diff,
				const char *empty)
{
	gh_table_t *t = gh__table_new(5, hdr, "rrnpn");
	size_t i;
	const json_t *row;
	json_array_foreach (rows, i, row) {
		if (!json_is_object(row))
			continue;
		char s[NUM], n[NUM], loc[LOC];
		gh__table_cell(t, "%s", size_or_q(s, row, diff ? "size_diff_bytes" : "size_bytes", diff));
		gh__table_cell(t, "%s", int_or_q(n, row, diff ? "count_diff" : "count", diff));
		gh__table_cell(t, "%s", function(row));
		gh__table_cell(t, "%s", location(loc, sizeof loc, row));
		gh__table_cell(t, "%s", str_or_q(row, "line"));
	}
	table_done(t, out, 0, empty);
}

int gh__view_trace_top(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	const json_t *sum = json_object_get(doc, "summary");
	char c[NUM], p[NUM];
	gh__print_wrapped(out, 2, "grouped by %s; traced now %s, peak %s", SAFE(str_or_q(doc, "group_by")),
			  mb_or_q(c, sum, "current_mb", false), mb_or_q(p, sum, "peak_mb", false));
	fprintf(out, "\n");
	static const char *const hdr[] = {"SIZE", "COUNT", "FUNCTION", "LOCATION", "LINE"};
	print_location_rows(out, json_object_get(doc, "top_allocations"), hdr, false, "(no traced allocations)");
	return 0;
}

int gh__view_trace_snapshot(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char c[NUM], p[NUM], snaps[4096];
	join_strings(snaps, sizeof snaps, json_object_get(doc, "available_snapshots"));
	gh_table_t *t = kv_new();
	kv(t, "status", str_or_q(doc, "status"));
	kv(t, "name", str_or_q(doc, "name"));
	kv(t, "current", mb_or_q(c, doc, "current_mb", false));
	kv(t, "peak", mb_or_q(p, doc, "peak_mb", false));
	kv(t, "snapshots", snaps);
	kv_print(t, out);
	return 0;
}

int gh__view_trace_compare(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	gh__print_wrapped(out, 2, "%s -> %s, grouped by %s", SAFE(str_or_q(doc, "snapshot1")),
			  SAFE(str_or_q(doc, "snapshot2")), SAFE(str_or_q(doc, "group_by")));
	fprintf(out, "\n");
	static const char *const hdr[] = {"SIZE DIFF", "COUNT DIFF", "FUNCTION", "LOCATION", "LINE"};
	print_location_rows(out, json_object_get(doc, "differences"), hdr, true, "(no differences)");
	return 0;
}

int gh__view_trace_traceback(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	const json_t *top = json_object_get(doc, "top_allocations");
	size_t i;
	const json_t *row;
	size_t shown = 0;
	json_array_foreach (top, i, row) {
		if (!json_is_object(row))
			continue;
		char s[NUM], n[NUM];
		fprintf(out, "%s#%zu  %s in %s blocks\n", shown ? "\n" : "", i + 1,
			size_or_q(s, row, "size_bytes", false), int_or_q(n, row, "count", false));
		/* One frame a line, innermost first: function, location, source. */
		gh_table_t *t = gh__table_new(3, NULL, "npn");
		size_t j;
		const json_t *fr;
		json_array_foreach (json_object_get(row, "traceback"), j, fr) {
			if (!json_is_object(fr))
				continue;
			char loc[LOC];
			gh__table_cell(t, "%s", function(fr));
			gh__table_cell(t, "%s", location(loc, sizeof loc, fr));
			gh__table_cell(t, "%s", str_or_q(fr, "line"));
		}
		gh__table_print(t, out, 4);
		gh__table_free(t);
		shown++;
	}
	if (!shown)
		fprintf(out, "(no traced allocations)\n");
	return 0;
}

int gh__view_trace_delete(FILE *out, const json_t *doc)
{
	if (!json_is_object(doc))
		return -1;
	char snaps[4096];
	join_strings(snaps, sizeof snaps, json_object_get(doc, "available_snapshots"));
	gh_table_t *t = kv_new();
	kv(t, "status", str_or_q(doc, "status"));
	kv(t, "name", str_or_q(doc, "name"));
	kv(t, "snapshots", snaps);
	kv_print(t, out);
	return 0;
}

/* ---- Error documents ------------------------------------------------------------------------ */

int gh__view_detail(FILE *out, const json_t *doc, const char *prefix)
{
	const json_t *detail = json_is_object(doc) ? json_object_get(doc, "detail") : NULL;
	char safe[2048];
	if (json_is_string(detail)) {
		fprintf(out, "%s%s\n", prefix, gh__fmt_safe(safe, sizeof safe, json_string_value(detail)));
		return 1;
	}
	if (!json_is_array(detail))
		return 0;
	/* FastAPI's validation list: {"loc": ["query", "top_n"], "msg": ..., "type": ...} */
	int lines = 0;
	size_t i;
	const json_t *e;
	json_array_foreach (detail, i, e) {
		char loc[512] = "";
		size_t k = 0;
		size_t j;
		const json_t *part;
		json_array_foreach (json_object_get(e, "loc"), j, part) {
			int n;
			if (json_is_string(part))
				n = snprintf(loc + k, sizeof loc - k, "%s%s", j ? "." : "", json_string_value(part));
			else if (json_is_integer(part))
				n = snprintf(loc + k, sizeof loc - k, "%s%lld", j ? "." : "",
					     (long long)json_integer_value(part));
			else
				n = snprintf(loc + k, sizeof loc - k, "%s?", j ? "." : "");
			if (n < 0 || (size_t)n >= sizeof loc - k)
				break;
			k += (size_t)n;
		}
		char line[3072];
		snprintf(line, sizeof line, "%s: %s", k ? loc : "?", str_or_q(e, "msg"));
		fprintf(out, "%s%s\n", prefix, gh__fmt_safe(safe, sizeof safe, line));
		lines++;
	}
	return lines;
}
