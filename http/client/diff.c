/*
 * diff.c -- per-type comparison of two /debug/memory documents: what
 * `glassheap diff BEFORE AFTER` prints (the load-test use case: save the
 * response before and after, then see which types grew) and what
 * `glassheap watch` shows between consecutive samples.
 *
 * Entry points: gh__diff_files (the diff subcommand: two saved files),
 * gh__diff_compute (two decoded documents -> rows), gh__diff_print (the
 * table), gh__diff_json (the same as a document), gh__diff_free.
 *
 * Rows are keyed by type name. Both lists are merged by sorting (a saved file
 * may be large or malformed: no quadratic matching); a name listed twice in
 * one document has its figures summed. A type listed on one side only is
 * "new" or "gone" -- which, when the server listed only its top_n types,
 * may also mean it entered or left that top list: the printout says so.
 */
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NUM 64

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static int by_name(const void *pa, const void *pb)
{
	const struct gh_diff_row *a = pa, *b = pb;
	return strcmp(a->type, b->type);
}

static long long dbytes(const struct gh_diff_row *r)
{
	return r->bytes[1] - r->bytes[0];
}

static long long dcount(const struct gh_diff_row *r)
{
	return r->count[1] - r->count[0];
}

/* Largest byte growth first, then count growth, then the larger type now,
 * then name: a total order, so two runs over the same files print the same
 * table, and a sample with no change at all lists the biggest types first. */
static int by_growth(const void *pa, const void *pb)
{
	const struct gh_diff_row *a = pa, *b = pb;
	long long x = dbytes(a), y = dbytes(b);
	if (x != y)
		return x > y ? -1 : 1;
	x = dcount(a), y = dcount(b);
	if (x != y)
		return x > y ? -1 : 1;
	if (a->bytes[1] != b->bytes[1])
		return a->bytes[1] > b->bytes[1] ? -1 : 1;
	return strcmp(a->type, b->type);
}

/* Saturating, so that hostile files cannot overflow the sums. */
static long long add_sat(long long a, long long b)
{
	long long r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? LLONG_MAX : LLONG_MIN;
	return r;
}

/* Figures are clamped to +-(2^62 - 1), so that differences cannot overflow
 * whatever a (hostile) file holds. */
static long long clamp(long long v)
{
	const long long lim = (1LL << 62) - 1;
	return v > lim ? lim : v < -lim ? -lim : v;
}

int gh__diff_compute(const json_t *before, const json_t *after, struct gh_diff *d, char *err, size_t err_len)
{
	memset(d, 0, sizeof *d);
	const json_t *docs[2] = {before, after};
	const json_t *lists[2];
	for (int s = 0; s < 2; s++) {
		lists[s] = json_is_object(docs[s]) ? json_object_get(docs[s], "top_objects") : NULL;
		if (!json_is_array(lists[s])) {
			set_err(err, err_len, "%s: no \"top_objects\" list: not a /debug/memory response",
				s ? "after" : "before");
			return -1;
		}
		const json_t *sum = json_object_get(docs[s], "summary");
		d->has_summary[s] = gh__doc_int(sum, "total_objects", &d->total_objects[s]) &&
				    gh__doc_int(sum, "total_size_bytes", &d->total_bytes[s]);
		if (!gh__doc_int(sum, "unique_types", &d->unique_types[s]) || d->unique_types[s] < 0)
			d->unique_types[s] = -1;
		d->total_objects[s] = clamp(d->total_objects[s]);
		d->total_bytes[s] = clamp(d->total_bytes[s]);
		d->unique_types[s] = clamp(d->unique_types[s]);
	}

	size_t cap = json_array_size(lists[0]) + json_array_size(lists[1]);
	struct gh_diff_row *rows = calloc(cap ? cap : 1, sizeof *rows);
	if (!rows) {
		set_err(err, err_len, "out of memory");
		return -1;
	}
	size_t n = 0;
	for (int s = 0; s < 2; s++) {
		size_t i;
		const json_t *e;
		json_array_foreach (lists[s], i, e) {
			const char *type = gh__doc_str(e, "type");
			if (!type)
				continue;
			struct gh_diff_row *r = &rows[n++];
			r->type = type;
			r->present[s] = true;
			gh__doc_int(e, "count", &r->count[s]);
			gh__doc_int(e, "total_size_bytes", &r->bytes[s]);
			d->listed[s]++;
		}
	}

	/* Merge equal names (adjacent once sorted). */
	qsort(rows, n, sizeof *rows, by_name);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(rows[m - 1].type, rows[i].type) == 0) {
			struct gh_diff_row *r = &rows[m - 1];
			for (int s = 0; s < 2; s++) {
				r->present[s] |= rows[i].present[s];
				r->count[s] = add_sat(r->count[s], rows[i].count[s]);
				r->bytes[s] = add_sat(r->bytes[s], rows[i].bytes[s]);
			}
		} else {
			rows[m++] = rows[i];
		}
	}
	/* Differences of clamped figures cannot overflow. */
	for (size_t i = 0; i < m; i++)
		for (int s = 0; s < 2; s++) {
			rows[i].count[s] = clamp(rows[i].count[s]);
			rows[i].bytes[s] = clamp(rows[i].bytes[s]);
		}
	qsort(rows, m, sizeof *rows, by_growth);
	d->rows = rows;
	d->nrows = m;
	return 0;
}

void gh__diff_free(struct gh_diff *d)
{
	free(d->rows);
	d->rows = NULL;
	d->nrows = 0;
}

static const char *status_of(const struct gh_diff_row *r)
{
	if (!r->present[0])
		return "new";
	if (!r->present[1])
		return "gone";
	return dbytes(r) || dcount(r) ? "changed" : "unchanged";
}

/* ---- Printing ----------------------------------------------------------------------- */

static void totals(FILE *out, const struct gh_diff *d, const char *label0, const char *label1)
{
	if (!d->has_summary[0] || !d->has_summary[1])
		return;
	static const char *const hdr[] = {"", "BEFORE", "AFTER", "DIFF"};
	gh_table_t *t = gh__table_new(4, hdr, "lrrr");
	char a[NUM], b[NUM], c[NUM];
	gh__table_cell(t, "objects");
	gh__table_cell(t, "%lld", d->total_objects[0]);
	gh__table_cell(t, "%lld", d->total_objects[1]);
	gh__table_cell(t, "%s", gh__fmt_int(c, sizeof c, d->total_objects[1] - d->total_objects[0], true));
	gh__table_cell(t, "size");
	gh__table_cell(t, "%s", gh__fmt_size(a, sizeof a, (double)d->total_bytes[0], false));
	gh__table_cell(t, "%s", gh__fmt_size(b, sizeof b, (double)d->total_bytes[1], false));
	gh__table_cell(t, "%s",
		       gh__fmt_size(c, sizeof c, (double)d->total_bytes[1] - (double)d->total_bytes[0], true));
	if (d->unique_types[0] >= 0 && d->unique_types[1] >= 0) {
		gh__table_cell(t, "types");
		gh__table_cell(t, "%lld", d->unique_types[0]);
		gh__table_cell(t, "%lld", d->unique_types[1]);
		gh__table_cell(t, "%s", gh__fmt_int(c, sizeof c, d->unique_types[1] - d->unique_types[0], true));
	}
	if (label0 && label1) {
		char s0[512], s1[512];
		gh__print_wrapped(out, 8, "before: %s\nafter:  %s\n", gh__fmt_safe(s0, sizeof s0, label0),
				  gh__fmt_safe(s1, sizeof s1, label1));
		fprintf(out, "\n");
	}
	gh__table_print(t, out, 0);
	gh__table_free(t);
	fprintf(out, "\n");
}

void gh__diff_print(FILE *out, const struct gh_diff *d, size_t max_rows, const char *label0, const char *label1,
		    bool compact)
{
	if (!compact)
		totals(out, d, label0, label1);

	static const char *const full_hdr[] = {"TYPE", "COUNT BEFORE", "COUNT AFTER", "COUNT DIFF",
					       "SIZE BEFORE", "SIZE AFTER", "SIZE DIFF", "NOTE"};
	static const char *const compact_hdr[] = {"TYPE", "COUNT", "DIFF", "SIZE", "DIFF", "NOTE"};
	gh_table_t *t = compact ? gh__table_new(6, compact_hdr, "nrrrrl") : gh__table_new(8, full_hdr, "nrrrrrrl");
	size_t shown = max_rows && max_rows < d->nrows ? max_rows : d->nrows;
	for (size_t i = 0; i < shown; i++) {
		const struct gh_diff_row *r = &d->rows[i];
		char b[NUM], a[NUM], x[NUM];
		const char *st = status_of(r);
		gh__table_cell(t, "%s", r->type);
		if (!compact)
			gh__table_cell(t, "%s", r->present[0] ? gh__fmt_int(b, sizeof b, r->count[0], false) : "-");
		gh__table_cell(t, "%s", r->present[1] ? gh__fmt_int(a, sizeof a, r->count[1], false) : "-");
		gh__table_cell(t, "%s", gh__fmt_int(x, sizeof x, dcount(r), true));
		if (!compact)
			gh__table_cell(t, "%s",
				       r->present[0] ? gh__fmt_size(b, sizeof b, (double)r->bytes[0], false) : "-");
		gh__table_cell(t, "%s", r->present[1] ? gh__fmt_size(a, sizeof a, (double)r->bytes[1], false) : "-");
		gh__table_cell(t, "%s", gh__fmt_size(x, sizeof x, (double)dbytes(r), true));
		gh__table_cell(t, "%s", strcmp(st, "new") == 0 || strcmp(st, "gone") == 0 ? st : "");
	}
	if (shown > 0)
		gh__table_print(t, out, 0);
	else
		fprintf(out, "(no types listed)\n");
	gh__table_free(t);
	if (shown < d->nrows)
		fprintf(out, "(%zu more types; --rows 0 shows all)\n", d->nrows - shown);

	for (int s = 0; s < 2; s++) {
		if (d->unique_types[s] > 0 && (long long)d->listed[s] < d->unique_types[s]) {
			gh__print_wrapped(out, 6,
					  "note: %s lists %zu of %lld types (top_n): a type outside that list shows as"
					  " new or gone",
					  s ? "after" : "before", d->listed[s], d->unique_types[s]);
		}
	}
}

/* ---- As a document ------------------------------------------------------------------ */

static json_t *side(const struct gh_diff *d, int s)
{
	if (!d->has_summary[s])
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "total_objects", json_integer(d->total_objects[s]));
	json_object_set_new(o, "total_size_bytes", json_integer(d->total_bytes[s]));
	if (d->unique_types[s] >= 0)
		json_object_set_new(o, "unique_types", json_integer(d->unique_types[s]));
	json_object_set_new(o, "listed_types", json_integer((json_int_t)d->listed[s]));
	return o;
}

json_t *gh__diff_json(const struct gh_diff *d)
{
	json_t *doc = json_object();
	json_t *types = json_array();
	if (!doc || !types) {
		json_decref(doc);
		json_decref(types);
		return NULL;
	}
	json_object_set_new(doc, "before", side(d, 0));
	json_object_set_new(doc, "after", side(d, 1));
	for (size_t i = 0; i < d->nrows; i++) {
		const struct gh_diff_row *r = &d->rows[i];
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string(r->type));
		json_object_set_new(o, "count_before", json_integer(r->count[0]));
		json_object_set_new(o, "count_after", json_integer(r->count[1]));
		json_object_set_new(o, "count_diff", json_integer(dcount(r)));
		json_object_set_new(o, "size_before_bytes", json_integer(r->bytes[0]));
		json_object_set_new(o, "size_after_bytes", json_integer(r->bytes[1]));
		json_object_set_new(o, "size_diff_bytes", json_integer(dbytes(r)));
		json_object_set_new(o, "status", json_string(status_of(r)));
		json_array_append_new(types, o);
	}
	json_object_set_new(doc, "types", types);
	return doc;
}

/* ---- The diff subcommand -------------------------------------------------------------- */

/* Saved responses are small; refuse anything absurd rather than read it all. */
#define MAX_FILE ((size_t)256 << 20)

static json_t *load(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		gh__cli_error("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool too_big = false, failed = false;
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_FILE) {
				too_big = true;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			char *b = realloc(buf, cap);
			if (!b) {
				failed = true;
				break;
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			failed = ferror(f) != 0;
			break;
		}
	}
	int err = errno;
	if (f != stdin)
		fclose(f);
	json_t *doc = NULL;
	char why[256];
	if (too_big)
		gh__cli_error("%s: larger than %zu MiB", path, MAX_FILE >> 20);
	else if (failed)
		gh__cli_error("cannot read %s: %s", path, strerror(err));
	else if (!(doc = gh__decode(buf, len, GH_WIRE_AUTO, why, sizeof why)))
		gh__cli_error("%s: %s", path, why);
	free(buf);
	return doc;
}

int gh__diff_files(const char *before_path, const char *after_path, size_t rows, bool json)
{
	json_t *before = load(before_path);
	json_t *after = before ? load(after_path) : NULL;
	if (!before || !after) {
		json_decref(before);
		return GH_EXIT_DATA;
	}
	struct gh_diff d;
	char err[256];
	int rc = GH_EXIT_OK;
	if (gh__diff_compute(before, after, &d, err, sizeof err) != 0) {
		gh__cli_error("%s", err);
		rc = GH_EXIT_DATA;
	} else if (json) {
		json_t *doc = gh__diff_json(&d);
		if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
			gh__cli_error("out of memory");
			rc = GH_EXIT_DATA;
		}
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		gh__diff_print(stdout, &d, rows, before_path, after_path, false);
	}
	gh__diff_free(&d);
	json_decref(before);
	json_decref(after);
	return rc;
}
