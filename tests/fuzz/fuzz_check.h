/*
 * fuzz_check.h -- the fuzzers' CHECK(cond): a broken invariant is a finding,
 * reported with its file, line and condition, then abort() so that libFuzzer
 * saves the input (fuzz_query.c, fuzz_emit.c, fuzz_listen.c).
 */
#ifndef GH_FUZZ_CHECK_H
#define GH_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                      \
	do {                                                                                          \
		if (!(c)) {                                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);         \
			abort();                                                                      \
		}                                                                                     \
	} while (0)

#endif /* GH_FUZZ_CHECK_H */
