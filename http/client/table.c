/*
 * table.c -- aligned text tables for the client's human output, and the small
 * formatting helpers every view shares: human-readable sizes, signed
 * integers, terminal-safe text, shape-tolerant document lookups.
 *
 * Entry points: gh__table_new/cell/print/free, gh__print_wrapped,
 * gh__term_set_width, gh__text_width, gh__fmt_elide, gh__fmt_size,
 * gh__fmt_int, gh__fmt_safe, gh__doc_int/num/str.
 *
 * Cell text comes from the observed program (type names, formatter output,
 * source lines) and so is untrusted: control characters are escaped before
 * they reach a terminal, so a sample cannot move the cursor or retitle the
 * window. Widths are display columns (the text is UTF-8 once sanitized;
 * East Asian wide characters count two, combining marks none).
 *
 * Output fits gh__term_width() columns (main.c sets it from --width, --wide,
 * the terminal or $COLUMNS): tables elide their name, text and path columns
 * with "…", never a number; prose lines (gh__print_wrapped) wrap.
 */
#include "client.h"
#include "../utf8.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct gh_table {
	size_t ncols;
	char align[16];
	char **cells;      /* row-major; headers are row 0 when present */
	size_t ncells, cap;
	bool has_header;
};

/* ---- Safe text ------------------------------------------------------------------- */

/* Appends s to out (cap bytes, NUL included), escaping what a terminal would
 * interpret. Returns the length written; stops before overflowing. */
static size_t safe_copy(char *out, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;
	for (size_t i = 0; i < n;) {
		size_t l = gh__utf8_len(p + i, n - i);
		char tmp[8];
		const char *piece;
		size_t plen;
		unsigned c = p[i];
		if (l == 0) {
			piece = "?", plen = 1, l = 1;
		} else if (l == 1 && (c < 0x20 || c == 0x7f)) {
			snprintf(tmp, sizeof tmp, "\\x%02x", c);
			piece = tmp, plen = 4;
		} else if (l == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
			/* C1 controls (U+0080..U+009F): CSI and friends */
			snprintf(tmp, sizeof tmp, "\\x%02x", p[i + 1]);
			piece = tmp, plen = 4;
		} else {
			piece = (const char *)p + i, plen = l;
		}
		if (k + plen + 1 > cap)
			break;
		memcpy(out + k, piece, plen);
		k += plen;
		i += l;
	}
	if (cap)
		out[k] = '\0';
	return k;
}

char *gh__fmt_safe(char *buf, size_t len, const char *s)
{
	safe_copy(buf, len, s ? s : "");
	return buf;
}

/* ---- Display width ------------------------------------------------------------------- */

static size_t out_width = 80;

void gh__term_set_width(size_t cols)
{
	out_width = cols;
}

size_t gh__term_width(void)
{
	return out_width;
}

/* The code point at s (well-formed UTF-8, as safe text is) and its length;
 * an ill-formed byte counts as one '?'. */
static size_t decode(const char *s, unsigned *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t l = gh__utf8_len(p, strnlen(s, 4));
	if (l == 0) {
		*cp = '?';
		return 1;
	}
	unsigned c = l == 1 ? p[0] : p[0] & (0x7f >> l);
	for (size_t i = 1; i < l; i++)
		c = c << 6 | (p[i] & 0x3f);
	*cp = c;
	return l;
}

/* Columns a code point takes on a terminal: wcwidth() in the C.UTF-8 locale
 * (whatever the user's locale), so that East Asian wide characters count 2
 * and combining marks 0; 1 when that locale is missing or the character is
 * not printable (safe text has no controls left). */
static size_t cp_width(unsigned cp)
{
	if (cp < 0x7f)
		return 1;
	static locale_t utf8;
	static bool tried;
	if (!tried) {
		tried = true;
		utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	if (!utf8)
		return 1;
	locale_t old = uselocale(utf8);
	int w = wcwidth((wchar_t)cp);
	uselocale(old);
	return w < 0 ? 1 : (size_t)w;
}

size_t gh__text_width(const char *s)
{
	size_t w = 0;
	unsigned cp;
	while (*s) {
		s += decode(s, &cp);
		w += cp_width(cp);
	}
	return w;
}

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one column */

/* The longest head of s (n bytes) that fits in room columns: its length. */
static size_t head_fitting(const char *s, size_t n, size_t room)
{
	size_t to = 0, w = 0;
	unsigned cp;
	while (to < n) {
		size_t l = decode(s + to, &cp);
		size_t cw = cp_width(cp);
		if (to + l > n || w + cw > room)
			break;
		w += cw;
		to += l;
	}
	return to;
}

/* The longest tail of s (n bytes) that fits in room columns: where it starts. */
static size_t tail_fitting(const char *s, size_t n, size_t room)
{
	size_t from = n, w = 0;
	unsigned cp;
	while (from > 0) {
		size_t b = from - 1;
		while (b > 0 && ((unsigned char)s[b] & 0xc0) == 0x80 && from - b < 4)
			b--;
		size_t l = decode(s + b, &cp);
		if (b + l != from) /* not the start of a sequence: one byte */
			b = from - 1, cp = '?';
		size_t cw = cp_width(cp);
		if (w + cw > room)
			break;
		w += cw;
		from = b;
	}
	return from;
}

/* The length of a location's suffix: ":123" (file:line) or "+0x1f" (a
 * site), else 0. */
static size_t location_suffix(const char *s, size_t n)
{
	size_t i = n;
	while (i > 0 && ((s[i - 1] >= '0' && s[i - 1] <= '9') || (s[i - 1] >= 'a' && s[i - 1] <= 'f')))
		i--;
	if (i < n && i > 0 && s[i - 1] == ':') {
		for (size_t k = i; k < n; k++)
			if (s[k] > '9')
				return 0;
		return n - i + 1;
	}
	if (i < n && i >= 3 && strncmp(s + i - 3, "+0x", 3) == 0)
		return n - i + 3;
	return 0;
}

/*
 * A path cut to width: whole trailing components first ("…/examples/demo.c:261",
 * "…/demo.c:261", "…demo.c:261"); when even the last one does not fit, the
 * start of the file name and the whole ":line" or "+0xoffset"
 * ("libh2o-ev…+0x1ab53"); else its last columns ("…x1ab53").
 */
static void elide_path(char *buf, size_t len, const char *s, size_t width)
{
	size_t n = strlen(s), sfx = location_suffix(s, n), body = n - sfx;
	size_t sfx_w = gh__text_width(s + body);
	if (width >= sfx_w + 3) {
		/* "…/" + the longest tail of whole components: the first '/' at
		 * or just before where the tail that fits starts. */
		size_t from = tail_fitting(s, body, width - sfx_w - 2);
		const char *slash = from > 0 ? memchr(s + from - 1, '/', body - from + 1) : NULL;
		if (slash && (size_t)(slash - s) + 1 < body) {
			snprintf(buf, len, ELLIPSIS "%s", slash);
			return;
		}
		/* The file name (without its directories), or its start, then the
		 * line or offset. */
		const char *name = s;
		for (const char *q = s; q < s + body; q++)
			if (*q == '/')
				name = q + 1;
		size_t name_len = (size_t)(s + body - name);
		size_t keep = head_fitting(name, name_len, width - sfx_w - 1);
		if (keep == name_len && name > s) {
			snprintf(buf, len, ELLIPSIS "%s", name);
			return;
		}
		if (keep > 0 && keep < name_len && sfx > 0) {
			snprintf(buf, len, "%.*s" ELLIPSIS "%s", (int)keep, name, s + body);
			return;
		}
	}
	snprintf(buf, len, ELLIPSIS "%s", s + tail_fitting(s, n, width - 1));
}

char *gh__fmt_elide(char *buf, size_t len, const char *s, size_t width, char mode)
{
	if (width == 0 || gh__text_width(s) <= width)
		snprintf(buf, len, "%s", s);
	else if (mode == 'p')
		elide_path(buf, len, s, width);
	else
		snprintf(buf, len, "%.*s" ELLIPSIS, (int)head_fitting(s, strlen(s), width - 1), s);
	return buf;
}

/* ---- Tables ------------------------------------------------------------------------ */

static int push(gh_table_t *t, char *cell)
{
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * sizeof *c);
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	t->cells[t->ncells++] = cell;
	return 0;
}

static char *safe_dup(const char *s)
{
	/* An escape turns 1 byte into 4. */
	size_t cap = strlen(s) * 4 + 1;
	char *out = malloc(cap);
	if (out)
		safe_copy(out, cap, s);
	return out;
}

gh_table_t *gh__table_new(size_t ncols, const char *const *headers, const char *align)
{
	if (ncols == 0 || ncols >= sizeof ((gh_table_t *)0)->align)
		return NULL;
	gh_table_t *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		char a = align ? align[i] : 'l';
		t->align[i] = a == 'r' || a == 'n' || a == 'p' ? a : 'l';
	}
	if (headers) {
		t->has_header = true;
		for (size_t i = 0; i < ncols; i++)
			gh__table_cell(t, "%s", headers[i]);
	}
	return t;
}

void gh__table_cell(gh_table_t *t, const char *fmt, ...)
{
	if (!t)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *raw = NULL;
	int n = vasprintf(&raw, fmt, ap);
	va_end(ap);
	char *cell = n >= 0 ? safe_dup(raw) : NULL;
	free(raw);
	if (!cell)
		cell = strdup("?");
	if (!cell || push(t, cell) != 0)
		free(cell);
}

size_t gh__table_rows(const gh_table_t *t)
{
	if (!t)
		return 0;
	size_t rows = t->ncells / t->ncols;
	return t->has_header && rows ? rows - 1 : rows;
}

/* Where to break a header of two or more words into two lines: the space
 * that makes the longer line shortest; 0 when it has no space. */
static size_t header_break(const char *h)
{
	size_t best = 0, best_w = gh__text_width(h);
	for (size_t i = 1; h[i]; i++) {
		if (h[i] != ' ')
			continue;
		char left[256];
		snprintf(left, sizeof left, "%.*s", (int)i, h);
		size_t lw = gh__text_width(left), rw = gh__text_width(h + i + 1);
		size_t w = lw > rw ? lw : rw;
		if (w < best_w)
			best = i, best_w = w;
	}
	return best;
}

/* s elided to width w in mode, into a new string (never longer than s and
 * the ellipsis); NULL when out of memory. */
static char *elide_dup(const char *s, size_t w, char mode)
{
	size_t len = strlen(s) + sizeof ELLIPSIS;
	char *buf = malloc(len);
	return buf ? gh__fmt_elide(buf, len, s, w, mode) : NULL;
}

/* One cell padded (or elided) to width w, appended to f. */
static void put_cell(FILE *f, const char *cell, size_t w, char align, bool header)
{
	char *cut = NULL;
	const char *text = cell;
	size_t cw = gh__text_width(cell);
	if (cw > w && (cut = elide_dup(cell, w, header ? 'n' : align)) != NULL) {
		/* Headers keep their start; paths their end; names and text their start. */
		text = cut;
		cw = gh__text_width(text);
	}
	size_t pad = w > cw ? w - cw : 0;
	if (align == 'r')
		fprintf(f, "%*s%s", (int)pad, "", text);
	else
		fprintf(f, "%s%*s", text, (int)pad, "");
	free(cut);
}

/* Writes one line of the given cells, trimmed of trailing blanks. */
static void put_line(FILE *out, int indent, const char *const *cells, const size_t *w, const bool *shown,
		     const char *align, size_t ncols, bool header)
{
	char *line = NULL;
	size_t line_len = 0;
	FILE *f = open_memstream(&line, &line_len);
	if (!f)
		return;
	bool first = true;
	for (size_t c = 0; c < ncols; c++) {
		if (!shown[c])
			continue;
		if (!first)
			fputs("  ", f);
		first = false;
		put_cell(f, cells[c] ? cells[c] : "", w[c], align[c], header);
	}
	fclose(f);
	while (line_len && line[line_len - 1] == ' ')
		line[--line_len] = '\0';
	fprintf(out, "%*s%s\n", indent, "", line);
	free(line);
}

/*
 * Layout, when the table is wider than the output (gh__term_width() less the
 * indent):
 *   1. a column whose data are all empty is left out (with its header);
 *   2. a header wider than its column's data and made of several words is
 *      broken over two header lines ("COUNT" above "BEFORE");
 *   3. then the widest elidable column ('n' names and text, 'p' paths) loses
 *      one column at a time, until the table fits or every elidable column
 *      is down to one. Numbers ('r') and 'l' columns are never cut.
 * Cells wider than their column are then elided with "…": 'p' keeps the end
 * of a path ("…/examples/demo.c:261"), 'n' the start of a name. A path column
 * whose cells, cut at '/', need fewer columns than it got gives the rest to
 * the 'n' columns that were cut.
 */
void gh__table_print(const gh_table_t *t, FILE *out, int indent)
{
	if (!t)
		return;
	size_t nc = t->ncols, rows = (t->ncells + nc - 1) / nc;
	size_t first_data = t->has_header ? 1 : 0;
	size_t data_w[16] = {0}, head_w[16] = {0}, w[16];
	bool shown[16], any_data[16] = {0};
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % nc, cw = gh__text_width(t->cells[i]);
		if (i / nc < first_data) {
			head_w[c] = cw;
		} else {
			if (cw > data_w[c])
				data_w[c] = cw;
			any_data[c] |= t->cells[i][0] != '\0';
		}
	}
	size_t total = 0, nshown = 0;
	for (size_t c = 0; c < nc; c++) {
		shown[c] = any_data[c] || rows <= first_data;
		w[c] = data_w[c] > head_w[c] ? data_w[c] : head_w[c];
		if (shown[c])
			total += w[c], nshown++;
	}
	total += nshown ? 2 * (nshown - 1) : 0;
	size_t limit = gh__term_width();
	if (limit)
		limit = limit > (size_t)indent + 1 ? limit - (size_t)indent : 1;

	/* Two-line headers. */
	size_t brk[16] = {0};
	bool two_lines = false;
	if (limit && total > limit && t->has_header) {
		for (size_t c = 0; c < nc; c++) {
			if (!shown[c] || head_w[c] <= data_w[c] || !(brk[c] = header_break(t->cells[c])))
				continue;
			char left[256];
			snprintf(left, sizeof left, "%.*s", (int)brk[c], t->cells[c]);
			size_t lw = gh__text_width(left), rw = gh__text_width(t->cells[c] + brk[c] + 1);
			size_t hw = lw > rw ? lw : rw;
			size_t nw = data_w[c] > hw ? data_w[c] : hw;
			total -= w[c] - nw;
			w[c] = nw;
			two_lines = true;
		}
	}
	/* Elide the widest elidable column, one column at a time. */
	while (limit && total > limit) {
		size_t best = nc;
		for (size_t c = 0; c < nc; c++)
			if (shown[c] && (t->align[c] == 'n' || t->align[c] == 'p') && w[c] > 1 &&
			    (best == nc || w[c] >= w[best]))
				best = c;
		if (best == nc)
			break;
		w[best]--;
		total--;
	}

	/* A path cut at a '/' may need fewer columns than it was given: the
	 * rest goes to the names and text that were cut. */
	if (limit) {
		size_t slack = 0;
		for (size_t c = 0; c < nc; c++) {
			if (!shown[c] || t->align[c] != 'p' || w[c] >= data_w[c])
				continue;
			size_t used = head_w[c] < w[c] ? head_w[c] : w[c];
			for (size_t i = first_data * nc + c; i < t->ncells; i += nc) {
				char *cut = elide_dup(t->cells[i], w[c], 'p');
				size_t cw = cut ? gh__text_width(cut) : w[c];
				free(cut);
				if (cw > used)
					used = cw;
			}
			slack += w[c] - used;
			w[c] = used;
		}
		for (bool grew = true; slack && grew;) {
			grew = false;
			for (size_t c = 0; c < nc && slack; c++) {
				if (shown[c] && t->align[c] == 'n' && w[c] < data_w[c]) {
					w[c]++;
					slack--;
					grew = true;
				}
			}
		}
	}

	const char *cells[16];
	for (size_t r = 0; r < rows; r++) {
		bool header = r < first_data;
		if (header && two_lines) {
			char top[16][256], bottom[16][256];
			const char *lines[2][16];
			for (size_t c = 0; c < nc; c++) {
				const char *h = t->cells[c];
				if (brk[c]) {
					snprintf(top[c], sizeof top[c], "%.*s", (int)brk[c], h);
					snprintf(bottom[c], sizeof bottom[c], "%s", h + brk[c] + 1);
					lines[0][c] = top[c], lines[1][c] = bottom[c];
				} else {
					lines[0][c] = "", lines[1][c] = h;
				}
			}
			put_line(out, indent, lines[0], w, shown, t->align, nc, true);
			put_line(out, indent, lines[1], w, shown, t->align, nc, true);
			continue;
		}
		for (size_t c = 0; c < nc; c++) {
			size_t i = r * nc + c;
			cells[c] = i < t->ncells ? t->cells[i] : "";
		}
		put_line(out, indent, cells, w, shown, t->align, nc, header);
	}
}

void gh__table_free(gh_table_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* ---- Prose ------------------------------------------------------------------------------ */

/* Prints one line, broken at spaces (or, for a word wider than the room,
 * inside it) so that no printed line is wider than limit (0: no limit);
 * continuation lines are indented by hang spaces. */
static void wrap_line(FILE *out, const char *p, int hang, size_t limit)
{
	bool cont = false;
	do {
		size_t room = limit;
		if (cont)
			room = limit > (size_t)hang + 1 ? limit - (size_t)hang : 1;
		size_t end = strlen(p);
		if (limit) {
			size_t w = 0, last_space = 0, i = 0;
			unsigned cp;
			while (p[i]) {
				size_t l = decode(p + i, &cp);
				size_t cw = cp_width(cp);
				if (w + cw > room)
					break;
				if (p[i] == ' ')
					last_space = i;
				w += cw;
				i += l;
			}
			if (p[i] == ' ')
				end = i;
			else if (p[i])
				end = last_space > 0 ? last_space : i > 0 ? i : decode(p, &cp);
		}
		fprintf(out, "%*s%.*s\n", cont ? hang : 0, "", (int)end, p);
		p += end;
		while (*p == ' ')
			p++;
		cont = true;
	} while (*p);
}

void gh__print_wrapped(FILE *out, int hang, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	for (char *line = text; line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		wrap_line(out, line, hang, gh__term_width());
		line = nl && nl[1] ? nl + 1 : NULL;
	}
	free(text);
}

/* ---- Numbers ------------------------------------------------------------------------ */

char *gh__fmt_size(char *buf, size_t len, double bytes, bool sign)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	const char *s = bytes < 0 ? "-" : sign && bytes > 0 ? "+" : "";
	double a = fabs(bytes);
	if (!isfinite(a)) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (a < 1024) {
		snprintf(buf, len, "%s%.0f B", s, a);
		return buf;
	}
	size_t u = 0;
	while (a >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		a /= 1024;
		u++;
	}
	/* 1023.96 KiB would print as "1024.0 KiB": move up a unit instead. */
	if (round(a * 10) / 10 >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		a /= 1024;
		u++;
	}
	snprintf(buf, len, "%s%.1f %s", s, a, units[u]);
	return buf;
}

char *gh__fmt_int(char *buf, size_t len, long long v, bool sign)
{
	snprintf(buf, len, sign && v > 0 ? "+%lld" : "%lld", v);
	return buf;
}

/* ---- Document lookups ----------------------------------------------------------------- */

bool gh__doc_int(const json_t *obj, const char *key, long long *out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_integer(v))
		return false;
	*out = (long long)json_integer_value(v);
	return true;
}

bool gh__doc_num(const json_t *obj, const char *key, double *out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

const char *gh__doc_str(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}
