/*
 * utf8.h -- UTF-8 validation and sanitizing for the debug server: the one
 * rule by which any bytes (a type name registered by the host, a query
 * value, a source line) become the valid UTF-8 that the responses carry.
 *
 * The rule is Unicode's "maximal subpart" practice (Unicode 15, section 3.9,
 * table 3-7), what Python's decode(errors="replace") and WHATWG do: each
 * ill-formed subpart becomes one U+FFFD. E1 80 41 -> U+FFFD 'A';
 * C0 AF -> U+FFFD U+FFFD; ED A0 80 (a surrogate) -> 3 x U+FFFD.
 *
 * Users: emit.c (every string it writes), query.c (string lengths in code
 * points, as pydantic counts them), ep_memory.c (a type looked up by the
 * name the server displays), export.c (folded stacks and label text) and the
 * client's table.c (terminal-safe cells). Nothing here allocates; everything is
 * thread-safe and async-signal-safe. Nothing is exported from libglassheap.
 */
#ifndef GH_HTTP_UTF8_H
#define GH_HTTP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define GH_UTF8_REPLACEMENT "\xEF\xBF\xBD"
#define GH_UTF8_REPLACEMENT_LEN 3

/*
 * The sequence starting at p (n > 0 bytes available): returns its length
 * (1..4) when it is well-formed, else 0 with *skip set to the length of the
 * maximal subpart (1..3) that one U+FFFD replaces. Inline: the emitter calls
 * it for every non-ASCII byte it writes.
 */
static inline unsigned gh__utf8_seq(const unsigned char *p, size_t n, unsigned *skip)
{
	unsigned c = p[0], need;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates D800..DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		*skip = 1; /* 80..C1 (continuation, overlong 2-byte lead), F5..FF */
		return 0;
	}
	if (n < 2 || p[1] < lo || p[1] > hi) {
		*skip = 1;
		return 0;
	}
	for (unsigned i = 2; i <= need; i++) {
		if (i >= n || (p[i] & 0xC0) != 0x80) {
			*skip = i;
			return 0;
		}
	}
	return need + 1;
}

/* The length (1..4) of the well-formed sequence at p (n > 0 bytes), or 0. */
static inline size_t gh__utf8_len(const unsigned char *p, size_t n)
{
	unsigned skip;
	return gh__utf8_seq(p, n, &skip);
}

/* The sanitized form of s[0..len): its length in bytes (*bytes) and in code
 * points (*points, what pydantic calls the length of the string). Returns
 * true when s is well-formed already (the lengths alone cannot say:
 * F0 9F 98 -> EF BF BD). Either pointer may be NULL. */
bool gh__utf8_measure(const char *s, size_t len, size_t *bytes, size_t *points);

/* The same figures one at a time. */
size_t gh__utf8_sanitized_len(const char *s, size_t len);
size_t gh__utf8_count(const char *s, size_t len);

/* Is clean[0..clean_len) exactly what sanitizing raw[0..raw_len) gives? Valid
 * UTF-8 compares as plain bytes; an ill-formed subpart of raw matches a
 * U+FFFD in clean (and so does a U+FFFD that raw really holds). */
bool gh__utf8_sanitized_equal(const char *raw, size_t raw_len, const char *clean, size_t clean_len);

#ifdef __cplusplus
}
#endif

#endif /* GH_HTTP_UTF8_H */
