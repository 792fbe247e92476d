/*
 * suppress.h -- LeakSanitizer-style suppression files (alloc/suppress.c).
 *
 * A file holds one rule a line, `leak:PATTERN`; blank lines and lines
 * starting with '#' are skipped, white space around the line and after the
 * colon is ignored. A
 * pattern matches a function name, a source file name or a module path
 * anywhere in the string, with '*' for any run of characters, a leading '^'
 * anchoring it at the start and a trailing '$' at the end (LSan's
 * TemplateMatch). Self-contained (libc only): the fuzzer links it alone.
 */
#ifndef GH_SUPPRESS_H
#define GH_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gh_supp {
	char *pattern;
	uint64_t hits, hit_bytes; /* objects (and their bytes) this rule suppressed */
};

struct gh_supp_list {
	struct gh_supp *v;
	size_t n;
	size_t bad_lines;    /* lines skipped: not `leak:PATTERN` with a non-empty pattern */
	size_t first_bad;    /* the first of them (1-based), 0 if none */
};

/* Parses len bytes of text (need not be NUL-terminated) into *out (heap
 * memory: gh__supp_free). Malformed lines are counted and skipped. Returns 0
 * or ENOMEM (then *out is empty). */
int gh__supp_parse(const char *text, size_t len, struct gh_supp_list *out);
void gh__supp_free(struct gh_supp_list *l);
/* Does pattern match s (see above)? An empty pattern matches nothing. */
bool gh__supp_match(const char *pattern, const char *s);

#endif /* GH_SUPPRESS_H */
