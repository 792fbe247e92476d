/*
 * fuzz_suppress.c -- libFuzzer driver for alloc/suppress.c, the parser and
 * matcher of leak suppression files (GLASSHEAP_SUPPRESSIONS).
 *
 * The input is parsed as a whole file; then its first line is used as a
 * pattern and the rest as a subject string. Checked beside ASan and UBSan:
 *   - every rule's pattern is non-empty, without NUL, newline, or white space
 *     at either end; rules + skipped lines <= lines in the input
 *   - the matcher agrees with an independent reference: the pattern (minus
 *     '^' / '$' anchors, an unanchored end standing for '*') is a glob, '*'
 *     any run of characters, matched against the whole string by dynamic
 *     programming
 *   - a pattern without '*', '^' or '$' matches every string containing it
 */
#include "suppress.h"
#include "fuzz_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Whole-string glob match, '*' only, by dynamic programming over prefixes. */
static bool glob_full(const char *p, size_t pn, const char *s, size_t sn)
{
	bool *row = calloc(sn + 1, sizeof *row), *next = calloc(sn + 1, sizeof *next);
	CHECK(row && next);
	row[0] = true; /* empty pattern prefix matches the empty string prefix */
	for (size_t i = 0; i < pn; i++) {
		memset(next, 0, sn + 1);
		for (size_t j = 0; j <= sn; j++) {
			if (p[i] == '*')
				next[j] = row[j] || (j > 0 && next[j - 1]);
			else
				next[j] = j > 0 && row[j - 1] && s[j - 1] == p[i];
		}
		bool *t = row;
		row = next;
		next = t;
	}
	bool r = row[sn];
	free(row);
	free(next);
	return r;
}

static bool reference(const char *pat, const char *s)
{
	size_t pl = strlen(pat);
	if (pl == 0)
		return false;
	bool a0 = pat[0] == '^';
	const char *p = pat + a0;
	pl -= a0;
	bool a1 = pl > 0 && p[pl - 1] == '$';
	pl -= a1;
	char *g = malloc(pl + 3);
	CHECK(g);
	size_t n = 0;
	if (!a0)
		g[n++] = '*';
	memcpy(g + n, p, pl);
	n += pl;
	if (!a1)
		g[n++] = '*';
	bool r = glob_full(g, n, s, strlen(s));
	free(g);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	const char *text = (const char *)data;
	struct gh_supp_list l;
	CHECK(gh__supp_parse(text, size, &l) == 0);
	size_t lines = 0;
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	lines += size > 0 && text[size - 1] != '\n';
	CHECK(l.n + l.bad_lines <= lines);
	CHECK((l.bad_lines == 0) == (l.first_bad == 0));
	for (size_t i = 0; i < l.n; i++) {
		const char *pat = l.v[i].pattern;
		size_t n = strlen(pat);
		CHECK(n > 0 && !strchr(pat, '\n'));
		CHECK(pat[0] != ' ' && pat[0] != '\t' && pat[n - 1] != ' ' && pat[n - 1] != '\t');
		CHECK(pat[n - 1] != '\r');
	}
	gh__supp_free(&l);

	/* pattern = first line, subject = the rest, both NUL-free C strings */
	char *buf = malloc(size + 1);
	CHECK(buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < size; i++)
		if (buf[i] == '\0')
			buf[i] = '.';
	char *nl = strchr(buf, '\n');
	const char *subject = "";
	if (nl) {
		*nl = '\0';
		subject = nl + 1;
	}
	bool got = gh__supp_match(buf, subject);
	CHECK(got == reference(buf, subject));
	if (*buf && !strpbrk(buf, "*^$"))
		CHECK(got == (strstr(subject, buf) != NULL));
	free(buf);
	return 0;
}
