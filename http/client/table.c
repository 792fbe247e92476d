/*
 * table.c -- aligned text tables for the client's human output, and the small
 * formatting helpers every view shares: human-readable sizes, signed
 * integers, terminal-safe text, shape-tolerant document lookups.
 *
 * Entry points: gh__table_new/cell/print/free, gh__fmt_size, gh__fmt_int,
 * gh__fmt_safe, gh__doc_int/num/str.
 *
 * Cell text comes from the observed program (type names, formatter output,
 * source lines) and so is untrusted: control characters are escaped before
 * they reach a terminal, so a sample cannot move the cursor or retitle the
 * window. Column widths count code points (the text is UTF-8 once
 * sanitized); wide East Asian characters are counted as one column.
 */
#include "client.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct gh_table {
	size_t ncols;
	char align[16];
	char **cells;      /* row-major; headers are row 0 when present */
	size_t ncells, cap;
	bool has_header;
};

/* ---- Safe text ------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned b = s[0];
	size_t len;
	unsigned min;
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2, min = 0x80;
	else if (b >= 0xe0 && b <= 0xef)
		len = 3, min = 0x800;
	else if (b >= 0xf0 && b <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = b & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends s to out (cap bytes, NUL included), escaping what a terminal would
 * interpret. Returns the length written; stops before overflowing. */
static size_t safe_copy(char *out, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(p + i, n - i);
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

static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
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
	for (size_t i = 0; i < ncols; i++)
		t->align[i] = align && align[i] == 'r' ? 'r' : 'l';
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

void gh__table_print(const gh_table_t *t, FILE *out, int indent)
{
	if (!t)
		return;
	size_t w[16] = {0};
	for (size_t i = 0; i < t->ncells; i++) {
		size_t cw = width(t->cells[i]);
		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	size_t rows = (t->ncells + t->ncols - 1) / t->ncols;
	for (size_t r = 0; r < rows; r++) {
		/* Pad into a line buffer first, so trailing blanks can be trimmed. */
		char *line = NULL;
		size_t line_len = 0;
		FILE *f = open_memstream(&line, &line_len);
		if (!f)
			return;
		for (size_t c = 0; c < t->ncols; c++) {
			size_t i = r * t->ncols + c;
			const char *cell = i < t->ncells ? t->cells[i] : "";
			size_t pad = w[c] - width(cell);
			if (c)
				fputs("  ", f);
			if (t->align[c] == 'r')
				fprintf(f, "%*s%s", (int)pad, "", cell);
			else
				fprintf(f, "%s%*s", cell, (int)pad, "");
		}
		fclose(f);
		while (line_len && line[line_len - 1] == ' ')
			line[--line_len] = '\0';
		fprintf(out, "%*s%s\n", indent, "", line);
		free(line);
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
