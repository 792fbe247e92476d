/*
 * suppress.c -- the suppression file parser and pattern matcher for leak
 * reports (GLASSHEAP_SUPPRESSIONS; syntax in suppress.h). Used by leak.c
 * after the world has resumed, so it may allocate. Fuzzed by
 * tests/fuzz/fuzz_suppress.c.
 */
#include "suppress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int gh__supp_parse(const char *text, size_t len, struct gh_supp_list *out)
{
	memset(out, 0, sizeof *out);
	size_t cap = 0, line_no = 0;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && text[i] != '\n')
			i++;
		size_t end = i;
		if (i < len)
			i++; /* the newline */
		line_no++;
		while (start < end && is_space(text[start]))
			start++;
		while (end > start && is_space(text[end - 1]))
			end--;
		if (start == end || text[start] == '#')
			continue;
		static const char kind[] = "leak:";
		size_t kl = sizeof kind - 1;
		bool is_leak = end - start > kl && memcmp(text + start, kind, kl) == 0;
		size_t pstart = start + kl; /* white space after the colon is no part of the pattern */
		while (is_leak && pstart < end && is_space(text[pstart]))
			pstart++;
		size_t plen = is_leak ? end - pstart : 0;
		if (!is_leak || plen == 0 || memchr(text + pstart, '\0', plen)) {
			if (out->bad_lines++ == 0)
				out->first_bad = line_no;
			continue;
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct gh_supp *nv = realloc(out->v, ncap * sizeof *nv);
			if (!nv)
				goto oom;
			out->v = nv;
			cap = ncap;
		}
		char *pat = malloc(plen + 1);
		if (!pat)
			goto oom;
		memcpy(pat, text + pstart, plen);
		pat[plen] = '\0';
		out->v[out->n].pattern = pat;
		out->v[out->n].hits = out->v[out->n].hit_bytes = 0;
		out->n++;
	}
	return 0;
oom:
	gh__supp_free(out);
	return ENOMEM;
}

void gh__supp_free(struct gh_supp_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].pattern);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Does p[0..pn) occur in s[0..sn) at exactly position at? */
static bool piece_at(const char *s, size_t at, const char *p, size_t pn)
{
	return memcmp(s + at, p, pn) == 0;
}

bool gh__supp_match(const char *pattern, const char *s)
{
	if (!pattern || !s || !*pattern)
		return false;
	size_t pl = strlen(pattern), sl = strlen(s);
	bool anchor_start = pattern[0] == '^';
	const char *p = pattern + anchor_start;
	pl -= anchor_start;
	bool anchor_end = pl > 0 && p[pl - 1] == '$';
	pl -= anchor_end;
	/* Pieces between '*': the first must sit at 0 when anchored, the last at
	 * the end when anchored, the others leftmost after the previous one. */
	size_t pos = 0; /* in s */
	size_t i = 0;   /* in p */
	bool first = true;
	for (;;) {
		size_t j = i;
		while (j < pl && p[j] != '*')
			j++;
		size_t n = j - i;
		bool last = j == pl;
		if (last && anchor_end) {
			/* the final piece must end s, and start at or after pos */
			if (n > sl - pos)
				return false;
			if (first && anchor_start)
				return n == sl - pos && piece_at(s, pos, p + i, n);
			return piece_at(s, sl - n, p + i, n);
		}
		if (first && anchor_start) {
			if (n > sl || !piece_at(s, 0, p + i, n))
				return false;
			pos = n;
		} else if (n > 0) {
			size_t k = pos;
			while (k + n <= sl && !piece_at(s, k, p + i, n))
				k++;
			if (k + n > sl)
				return false;
			pos = k + n;
		}
		if (last)
			return true;
		first = false;
		i = j + 1;
	}
}
