/*
 * utf8.c -- measuring and comparing strings under the one sanitizing rule
 * of utf8.h (ill-formed maximal subparts -> U+FFFD).
 *
 * Entry points: gh__utf8_measure (sanitized length in bytes and code
 * points), gh__utf8_sanitized_len, gh__utf8_count, gh__utf8_sanitized_equal.
 * The decoder itself (gh__utf8_seq) is inline in utf8.h for the emitter's
 * inner loop.
 */
#include "utf8.h"

#include <string.h>

bool gh__utf8_measure(const char *s, size_t len, size_t *bytes, size_t *points)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, b = 0, cp = 0;
	bool clean = true;

	while (i < len) {
		unsigned skip = 1, n = p[i] < 0x80 ? 1 : gh__utf8_seq(p + i, len - i, &skip);
		if (n) {
			i += n;
			b += n;
		} else {
			i += skip;
			b += GH_UTF8_REPLACEMENT_LEN;
			clean = false;
		}
		cp++;
	}
	if (bytes)
		*bytes = b;
	if (points)
		*points = cp;
	return clean;
}

size_t gh__utf8_sanitized_len(const char *s, size_t len)
{
	size_t b;
	gh__utf8_measure(s, len, &b, NULL);
	return b;
}

size_t gh__utf8_count(const char *s, size_t len)
{
	size_t cp;
	gh__utf8_measure(s, len, NULL, &cp);
	return cp;
}

bool gh__utf8_sanitized_equal(const char *raw, size_t raw_len, const char *clean, size_t clean_len)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i = 0, j = 0;

	while (i < raw_len) {
		unsigned skip = 1, n = p[i] < 0x80 ? 1 : gh__utf8_seq(p + i, raw_len - i, &skip);
		const char *want = n ? raw + i : GH_UTF8_REPLACEMENT;
		size_t want_len = n ? n : GH_UTF8_REPLACEMENT_LEN;
		if (clean_len - j < want_len || memcmp(clean + j, want, want_len) != 0)
			return false;
		i += n ? n : skip;
		j += want_len;
	}
	return j == clean_len;
}
