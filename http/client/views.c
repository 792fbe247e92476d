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

/* The entries of list separated by sep: strings as they are, integers in
 * decimal, anything else "?"; empty (an empty list) when there are none, "?"
 * when list is not a list, cut with "..." when it does not fit. */
static const char *join_list(char *buf, size_t len, const json_t *list, const char *sep, const char *empty)
{
	size_t k = 0;
	buf[0] = '\0';
	if (!json_is_array(list))
		return "?";
	size_t i;
	const json_t *v;
	json_array_foreach (list, i, v) {
		const char *s = i ? sep : "";
		int n = json_is_string(v)    ? snprintf(buf + k, len - k, "%s%s", s, json_string_value(v))
			: json_is_integer(v) ? snprintf(buf + k, len - k, "%s%lld", s, (long long)json_integer_value(v))
					     : snprintf(buf + k, len - k, "%s?", s);
		if (n < 0 || (size_t)n >= len - k) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return buf;
		}
		k += (size_t)n;
	}
	return k ? buf : empty;
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

/* Prints the table (indented by indent) and frees it. */
static void table_out(gh_table_t *t, FILE *out, int indent)
{
	gh__table_print(t, out, indent);
	gh__table_free(t);
}

/* The same, or the empty text and a newline when it has no rows. */
static void table_done(gh_table_t *t, FILE *out, int indent, const char *empty)
{
	if (gh__table_rows(t) > 0) {
		table_out(t, out, indent);
		return;
	}
	fprintf(out, "%s\n", empty);
	gh__table_free(t);
}

/* A table of one row per map in rows (other entries are skipped), whose
 * cells come from cells(t, row, ctx). */
typedef void (*cells_fn)(gh_table_t *t, const json_t *row, const void *ctx);

static gh_table_t *rows_table(const json_t *rows, size_t ncols, const char *const *hdr, const char *align,
			      cells_fn cells, const void *ctx)
{
	gh_table_t *t = gh__table_new(ncols, hdr, align);
	size_t i;
	const json_t *row;
	json_array_foreach (rows, i, row) {
		if (json_is_object(row))
			cells(t, row, ctx);
	}
	return t;
}

/* ---- Key/value blocks ------------------------------------------------------------------ */

/* A key/value block is two columns, keys left, values left (elided last);
 * most of its rows are one field of the document each. */
enum field_kind {
	F_STR,   /* a string */
	F_INT,   /* an integer, exactly */
	F_SIZE,  /* bytes, human-readable */
	F_EXACT, /* bytes, human-readable and exact: "802.2 KiB (821468 bytes)" */
	F_MB,    /* a *_mb float as sent: "45.23 MiB" */
	F_BOOL,  /* "yes" / "no" */
	F_NAMES, /* a list of strings: "a, b, c", "(none)" */
	F_OPT = 0x100, /* or'ed in: the row is left out when the document has no such key */
};

struct field {
	const char *label, *key;
	int kind; /* enum field_kind */
};

static gh_table_t *kv_new(void)
{
	return gh__table_new(2, NULL, "ln");
}

static void kv(gh_table_t *t, const char *key, const char *value)
{
	gh__table_cell(t, "%s", key);
	gh__table_cell(t, "%s", value);
}

static void kv_fields(gh_table_t *t, const json_t *doc, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++, f++) {
		const json_t *v = json_object_get(doc, f->key);
		if ((f->kind & F_OPT) && !v)
			continue;
		char buf[4096];
		const char *text = "?";
		switch (f->kind & ~F_OPT) {
		case F_STR: text = str_or_q(doc, f->key); break;
		case F_INT: text = int_or_q(buf, doc, f->key, false); break;
		case F_SIZE: text = size_or_q(buf, doc, f->key, false); break;
		case F_EXACT: text = size_exact(buf, sizeof buf, doc, f->key); break;
		case F_MB: text = mb_or_q(buf, doc, f->key, false); break;
		case F_BOOL: text = json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "?"; break;
		case F_NAMES: text = join_list(buf, sizeof buf, v, ", ", "(none)"); break;
		}
		kv(t, f->label, text);
	}
}

/* A block of only document fields. */
#define KV_BLOCK(out, doc, ...)                                                                          \
	do {                                                                                             \
		static const struct field fields_[] = {__VA_ARGS__};                                     \
		gh_table_t *t_ = kv_new();                                                               \
		kv_fields(t_, (doc), fields_, sizeof fields_ / sizeof fields_[0]);                       \
		table_out(t_, (out), 0);                                                                 \
	} while (0)

/* ---- GET /debug/memory --------------------------------------------------------------- */

/* doc's gc_stats, when it has them. */
static void print_gc_stats(FILE *out, const char *label, const json_t *doc)
{
	const json_t *gs = json_object_get(doc, "gc_stats");
	if (!json_is_object(gs))
		return;
	char coll[256], thr[256], n[NUM];
	gh__print_wrapped(out, 2, "%scollections [%s], thresholds [%s], garbage %s", label,
			  join_list(coll, sizeof coll, json_object_get(gs, "collections"), " ", ""),
			  join_list(thr, sizeof thr, json_object_get(gs, "thresholds"), " ", ""),
			  int_or_q(n, gs, "garbage_count", false));
}

/* glassheap's addition: where the requested bytes sit in the allocator. */
static void print_allocator(FILE *out, const json_t *doc)
{
	const json_t *a = json_object_get(doc, "allocator");
	if (!json_is_object(a))
		return;
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

/* A row's FUNCTION and LOCATION cells. */
static void site_cells(gh_table_t *t, const json_t *row)
{
	char loc[LOC];
	gh__table_cell(t, "%s", function(row));
	gh__table_cell(t, "%s", location(loc, sizeof loc, row));
}

struct figures {
	long long total;                             /* the summary's bytes, 0 when unknown */
	void (*lead)(gh_table_t *, const json_t *); /* the cells before TYPE, or NULL */
};

/* A row's TYPE (after lead's cells), COUNT, SIZE, SHARE (of the total; "?"
 * without one) and AVG SIZE cells. */
static void figure_cells(gh_table_t *t, const json_t *row, const void *ctx)
{
	const struct figures *f = ctx;
	char c[NUM], s[NUM], a[NUM];
	if (f->lead)
		f->lead(t, row);
	gh__table_cell(t, "%s", str_or_q(row, "type"));
	long long bytes;
	gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
	gh__table_cell(t, "%s", size_or_q(s, row, "total_size_bytes", false));
	if (f->total > 0 && gh__doc_int(row, "total_size_bytes", &bytes))
		gh__table_cell(t, "%.1f%%", 100.0 * (double)bytes / (double)f->total);
	else
		gh__table_cell(t, "?");
	gh__table_cell(t, "%s", size_or_q(a, row, "avg_size_bytes", false));
}

/* The headline and the rows of top_objects (memory) or top_sites (sites);
 * the cells before TYPE come from lead (none when NULL). */
static void figure_table(FILE *out, const json_t *doc, const char *list, const char *what, const json_t *kdoc,
			 const char *kkey, size_t ncols, const char *const *hdr, const char *align,
			 void (*lead)(gh_table_t *, const json_t *))
{
	const json_t *top = json_object_get(doc, list);
	struct figures f = {0, lead};
	if (!headline(out, doc, top, what, kdoc, kkey, &f.total))
		f.total = 0;
	table_done(rows_table(top, ncols, hdr, align, figure_cells, &f), out, 0, "(no live objects)");
}

void gh__view_memory(FILE *out, const json_t *doc)
{
	static const char *const hdr[] = {"TYPE", "COUNT", "SIZE", "SHARE", "AVG SIZE"};
	figure_table(out, doc, "top_objects", "types", json_object_get(doc, "summary"), "unique_types", 5, hdr, "nrrrr", NULL);
	fprintf(out, "\n");
	print_gc_stats(out, "gc: ", doc);
	print_allocator(out, doc);
}

/* ---- GET /debug/memory/sites ---------------------------------------------------------- */

void gh__view_sites(FILE *out, const json_t *doc)
{
	static const char *const hdr[] = {"FUNCTION", "LOCATION", "TYPE", "COUNT", "SIZE", "SHARE", "AVG SIZE"};
	figure_table(out, doc, "top_sites", "sites", doc, "unique_sites", 7, hdr, "npnrrrr", site_cells);
}

/* ---- GET /debug/memory/types ---------------------------------------------------------- */

void gh__view_types(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"type", "type", F_STR}, {"count", "count", F_INT},
		 {"size", "total_size_bytes", F_EXACT}, {"avg size", "avg_size_bytes", F_EXACT});

	const json_t *samples = json_object_get(doc, "samples");
	size_t n = json_is_array(samples) ? json_array_size(samples) : 0;
	if (n == 0) {
		fprintf(out, "\nsamples: none\n");
		return;
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

static void print_roots(FILE *out, const json_t *doc)
{
	const json_t *roots = json_object_get(doc, "roots");
	if (!json_is_object(roots) || json_object_size(roots) == 0)
		return;
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
	table_out(t, out, 0);
}

/* "unreachable: definitely_lost 3 (1.2 KiB), ..." */
static void print_lost_summary(FILE *out, const json_t *sum)
{
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

static void lost_by_type_cells(gh_table_t *t, const json_t *row, const void *ctx)
{
	(void)ctx;
	static const char *const classes[] = {"definitely_lost", "indirectly_lost", "possibly_lost"};
	gh__table_cell(t, "%s", str_or_q(row, "type"));
	for (int k = 0; k < 3; k++) {
		char cb[NUM * 2];
		gh__table_cell(t, "%s", count_bytes(cb, sizeof cb, json_object_get(row, classes[k])));
	}
}

static void lost_by_site_cells(gh_table_t *t, const json_t *row, const void *ctx)
{
	(void)ctx;
	char c[NUM], b[NUM];
	site_cells(t, row);
	gh__table_cell(t, "%s", str_or_q(row, "type"));
	/* The class without its "_lost", so that the narrow column leaves
	 * room to the names. */
	const char *cls = str_or_q(row, "class");
	size_t cl = strlen(cls);
	if (cl > 5 && strcmp(cls + cl - 5, "_lost") == 0)
		gh__table_cell(t, "%.*s", (int)(cl - 5), cls);
	else
		gh__table_cell(t, "%s", cls);
	gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
	gh__table_cell(t, "%s", size_or_q(b, row, "bytes", false));
}

/* The table of u's list key after a blank line; nothing when the list is
 * empty. */
static void lost_table(FILE *out, const json_t *u, const char *key, size_t ncols, const char *const *hdr,
		       const char *align, cells_fn cells)
{
	const json_t *rows = json_object_get(u, key);
	if (!json_is_array(rows) || json_array_size(rows) == 0)
		return;
	fprintf(out, "\n");
	table_out(rows_table(rows, ncols, hdr, align, cells, NULL), out, 0);
}

/* glassheap's leak report: objects the pass found unreachable, by class,
 * type and allocation site. */
static void print_unreachable(FILE *out, const json_t *doc)
{
	const json_t *u = json_object_get(doc, "unreachable");
	if (!json_is_object(u))
		return;
	const json_t *sum = json_object_get(u, "summary");
	if (json_is_object(sum))
		print_lost_summary(out, sum);
	static const char *const by_type[] = {"TYPE", "DEFINITELY LOST", "INDIRECTLY LOST", "POSSIBLY LOST"};
	lost_table(out, u, "by_type", 4, by_type, "nrrr", lost_by_type_cells);
	static const char *const by_site[] = {"FUNCTION", "LOCATION", "TYPE", "LOST", "COUNT", "SIZE"};
	lost_table(out, u, "by_site", 6, by_site, "npnnrr", lost_by_site_cells);
	if (json_is_true(json_object_get(u, "truncated")))
		fprintf(out, "(the leak report was truncated)\n");
}

void gh__view_gc(FILE *out, const json_t *doc)
{
	static const struct field counts[] = {
		{"collected objects", "collected_objects", F_INT},
		{"objects before", "objects_before", F_INT},
		{"objects after", "objects_after", F_INT},
		{"objects freed", "objects_freed", F_INT},
		{"collected size", "collected_bytes", F_SIZE | F_OPT},
	};
	static const struct field scanned[] = {{"scanned", "scanned_bytes", F_SIZE | F_OPT}};
	gh_table_t *t = kv_new();
	kv_fields(t, doc, counts, sizeof counts / sizeof counts[0]);
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
	kv_fields(t, doc, scanned, 1);
	table_out(t, out, 0);

	print_gc_stats(out, "gc stats: ", doc);
	print_roots(out, doc);
	print_unreachable(out, doc);
}

/* ---- GET /debug/memory/referrers --------------------------------------------------------- */

static void referrer_cells(gh_table_t *t, const json_t *row, const void *ctx)
{
	(void)ctx;
	char c[NUM];
	gh__table_cell(t, "%s", str_or_q(row, "type"));
	gh__table_cell(t, "%s", int_or_q(c, row, "count", false));
}

void gh__view_referrers(FILE *out, const json_t *doc)
{
	char n[NUM], s[NUM], p[NUM] = "";
	double pause;
	if (gh__doc_num(doc, "pause_ms", &pause))
		snprintf(p, sizeof p, " (pause %.2f ms)", pause);
	gh__print_wrapped(out, 2, "%s: %s objects, %s analyzed%s", SAFE(str_or_q(doc, "type")),
			  int_or_q(n, doc, "object_count", false), int_or_q(s, doc, "analyzed_sample_size", false), p);
	fprintf(out, "\n");

	static const char *const hdr[] = {"REFERRER", "COUNT"};
	table_done(rows_table(json_object_get(doc, "top_referrers"), 2, hdr, "nr", referrer_cells, NULL), out, 0,
		   "(no referrers found)");
}

/* ---- GET /debug/memory/dominators ---------------------------------------------------------- */

/* One retainer, then its path as an indented chain from the root down:
 *
 *   1. Cache  retained 123.4 KiB in 2002 objects (self 24 B)
 *      build (dom_host.c:79)  0x7f3a1c00c040
 *      global:g_cache (dom_host)
 *        Cache
 */
static void print_retainer(FILE *out, size_t rank, const json_t *row)
{
	char rb[NUM], ro[NUM], sb[NUM], d[NUM], ln[NUM];
	fprintf(out, "%zu. %s  retained %s in %s objects (self %s)", rank, SAFE(str_or_q(row, "type")),
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
	size_t k;
	const json_t *el;
	json_array_foreach (json_object_get(row, "path"), k, el) {
		const char *s = json_string_value(el);
		fprintf(out, "   %*s%s\n", (int)(2 * k), "", SAFE(s ? s : "?"));
	}
}

/* A by_type row: TYPE, RETAINED, OBJECTS and, with *(bool *)delta, CHANGE. */
static void retained_cells(gh_table_t *t, const json_t *row, const void *delta)
{
	char b[NUM], n[NUM], d[NUM];
	gh__table_cell(t, "%s", str_or_q(row, "type"));
	gh__table_cell(t, "%s", size_or_q(b, row, "retained_bytes", false));
	gh__table_cell(t, "%s", int_or_q(n, row, "retained_objects", false));
	if (*(const bool *)delta)
		gh__table_cell(t, "%s", size_or_q(d, row, "retained_bytes_delta", true));
}

void gh__view_dominators(FILE *out, const json_t *doc)
{
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
		if (json_is_object(row))
			print_retainer(out, i + 1, row);
	}
	if (json_array_size(rows) == 0)
		fprintf(out, "(no retainers)\n");

	const json_t *types = json_object_get(doc, "by_type");
	if (json_array_size(types) == 0)
		return;
	fprintf(out, "\nretained by type:\n");
	bool delta = json_object_get(json_array_get(types, 0), "retained_bytes_delta") != NULL;
	static const char *const hdr[] = {"TYPE", "RETAINED", "OBJECTS", "CHANGE"};
	table_out(rows_table(types, delta ? 4 : 3, hdr, "nrrr", retained_cells, &delta), out, 0);
}

/* ---- Tracemalloc -------------------------------------------------------------------------- */

void gh__view_trace_start(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"status", "status", F_STR}, {"frames", "frames", F_INT},
		 {"message", "message", F_STR});
}

void gh__view_trace_stop(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"status", "status", F_STR});
}

void gh__view_trace_status(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"tracing", "is_tracing", F_BOOL}, {"frames", "frames", F_INT},
		 {"current", "current_mb", F_MB}, {"peak", "peak_mb", F_MB},
		 {"snapshots", "available_snapshots", F_NAMES});
}

/* The rows of trace top (sizes) or compare (signed differences): size,
 * count, function, location, source line. */
static void location_cells(gh_table_t *t, const json_t *row, const void *ctx)
{
	bool diff = *(const bool *)ctx;
	char s[NUM], n[NUM];
	gh__table_cell(t, "%s", size_or_q(s, row, diff ? "size_diff_bytes" : "size_bytes", diff));
	gh__table_cell(t, "%s", int_or_q(n, row, diff ? "count_diff" : "count", diff));
	site_cells(t, row);
	gh__table_cell(t, "%s", str_or_q(row, "line"));
}

static void print_location_rows(FILE *out, const json_t *rows, const char *const hdr[5], bool diff,
				const char *empty)
{
	table_done(rows_table(rows, 5, hdr, "rrnpn", location_cells, &diff), out, 0, empty);
}

void gh__view_trace_top(FILE *out, const json_t *doc)
{
	const json_t *sum = json_object_get(doc, "summary");
	char c[NUM], p[NUM];
	gh__print_wrapped(out, 2, "grouped by %s; traced now %s, peak %s", SAFE(str_or_q(doc, "group_by")),
			  mb_or_q(c, sum, "current_mb", false), mb_or_q(p, sum, "peak_mb", false));
	fprintf(out, "\n");
	static const char *const hdr[] = {"SIZE", "COUNT", "FUNCTION", "LOCATION", "LINE"};
	print_location_rows(out, json_object_get(doc, "top_allocations"), hdr, false, "(no traced allocations)");
}

void gh__view_trace_snapshot(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"status", "status", F_STR}, {"name", "name", F_STR},
		 {"current", "current_mb", F_MB}, {"peak", "peak_mb", F_MB},
		 {"snapshots", "available_snapshots", F_NAMES});
}

void gh__view_trace_compare(FILE *out, const json_t *doc)
{
	gh__print_wrapped(out, 2, "%s -> %s, grouped by %s", SAFE(str_or_q(doc, "snapshot1")),
			  SAFE(str_or_q(doc, "snapshot2")), SAFE(str_or_q(doc, "group_by")));
	fprintf(out, "\n");
	static const char *const hdr[] = {"SIZE DIFF", "COUNT DIFF", "FUNCTION", "LOCATION", "LINE"};
	print_location_rows(out, json_object_get(doc, "differences"), hdr, true, "(no differences)");
}

static void frame_cells(gh_table_t *t, const json_t *frame, const void *ctx)
{
	(void)ctx;
	site_cells(t, frame);
	gh__table_cell(t, "%s", str_or_q(frame, "line"));
}

void gh__view_trace_traceback(FILE *out, const json_t *doc)
{
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
		table_out(rows_table(json_object_get(row, "traceback"), 3, NULL, "npn", frame_cells, NULL), out, 4);
		shown++;
	}
	if (!shown)
		fprintf(out, "(no traced allocations)\n");
}

void gh__view_trace_delete(FILE *out, const json_t *doc)
{
	KV_BLOCK(out, doc, {"status", "status", F_STR}, {"name", "name", F_STR},
		 {"snapshots", "available_snapshots", F_NAMES});
}

int gh__view_show(FILE *out, const json_t *doc, gh_view_fn view)
{
	if (!json_is_object(doc))
		return -1;
	view(out, doc);
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
		char loc[512], line[3072];
		snprintf(line, sizeof line, "%s: %s", join_list(loc, sizeof loc, json_object_get(e, "loc"), ".", "?"),
			 str_or_q(e, "msg"));
		fprintf(out, "%s%s\n", prefix, gh__fmt_safe(safe, sizeof safe, line));
		lines++;
	}
	return lines;
}
