/* gh_math.h -- the few libm functions glassheap needs, without libm.
 *
 * libglassheap.so depends on libc (and the unwinder) only: trace.c's
 * sampling and the private jemalloc's heap-profiling code
 * (cmake/rename_jemalloc.sh renames its log, exp and round to these) call
 * these instead. Same results as glibc's to within 1 ulp (round and llround
 * exactly); tests/unit/alloc/test_math.c compares them. Hidden: they are not
 * part of the library's interface. */
#ifndef GH_MATH_H
#define GH_MATH_H

#include <stdint.h>

#define GH_MATH_HIDDEN __attribute__((visibility("hidden")))

double gh__m_log(double x) GH_MATH_HIDDEN;
double gh__m_exp(double x) GH_MATH_HIDDEN;
double gh__m_expm1(double x) GH_MATH_HIDDEN;
/* Nearest integer, halfway cases away from zero. */
double gh__m_round(double x) GH_MATH_HIDDEN;
/* gh__m_round as an int64_t; NaN and values outside int64_t's range give
 * INT64_MIN, as glibc's llround does on x86-64. */
int64_t gh__m_llround(double x) GH_MATH_HIDDEN;

#endif
