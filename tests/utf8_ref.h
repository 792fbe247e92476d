/*
 * utf8_ref.h -- the tests' reference UTF-8 sanitizer: an oracle for
 * http/utf8.h's rule written from the definition rather than a table, shared
 * by tests/unit/http/test_emit.c and tests/fuzz/fuzz_emit.c.
 *
 * A sequence of L bytes is well-formed when it decodes to a scalar value
 * (<= U+10FFFF, not a surrogate) that needs exactly L bytes. A prefix is
 * "completable" when some well-formed sequence starts with it; the maximal
 * completable prefix of an ill-formed sequence (at least one byte) becomes one
 * U+FFFD.
 */
#ifndef GH_TEST_UTF8_REF_H
#define GH_TEST_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool gh_ref_utf8_wellformed(const unsigned char *b, int L)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t cp = b[0] & (0x7Fu >> L);
	for (int j = 1; j < L; j++) {
		if ((b[j] & 0xC0) != 0x80)
			return false;
		cp = cp << 6 | (b[j] & 0x3F);
	}
	return cp >= min[L] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

static inline bool gh_ref_utf8_completable(const unsigned char *p, size_t m, int L)
{
	unsigned char b[4];
	memcpy(b, p, m);
	for (int j = (int)m; j < L; j++)
		b[j] = 0x80;
	if (m >= 2 || L == 1)
		return gh_ref_utf8_wellformed(b, L);
	for (unsigned c = 0x80; c <= 0xBF; c++) { /* the second byte decides the ranges */
		b[1] = (unsigned char)c;
		if (gh_ref_utf8_wellformed(b, L))
			return true;
	}
	return false;
}

/* s[0..n) sanitized into out (room for 3 * n bytes); returns its length. */
static inline size_t gh_ref_utf8_sanitize(const unsigned char *s, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;
	while (i < n) {
		unsigned c = s[i];
		int L = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		size_t k = 0;
		for (size_t m = 1; L && m <= (size_t)L && i + m <= n; m++) {
			if (!gh_ref_utf8_completable(s + i, m, L))
				break;
			k = m;
		}
		if (L && k == (size_t)L) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += k ? k : 1;
		}
	}
	return o;
}

#endif /* GH_TEST_UTF8_REF_H */
