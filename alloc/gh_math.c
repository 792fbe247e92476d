/* gh_math.c -- log, exp, expm1, round and llround without libm (gh_math.h).
 *
 * Why: libglassheap.so must need nothing but libc and the unwinder, and
 * glibc's static libm cannot go into a shared object (local-exec TLS errno,
 * libc-internal ifunc data). Speed matters little (trace.c calls these a few
 * times per sampled block, jemalloc only with profiling on); accuracy does:
 * within 1 ulp of glibc, which is itself within about half an ulp of the
 * exact result (tests/unit/alloc/test_math.c).
 *
 * log: x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals are scaled by
 * 2^54 first), f = m - 1 (exact). With s = f / (2 + f),
 *   log(1 + f) = 2 atanh(s) = 2s + s R(s^2),  R(z) = 2z/3 + 2z^2/5 + 2z^3/7 + ...
 * |s| <= 0.1716, so ten terms of R are below 2^-60 relative. Written as
 *   log(1 + f) = f - (hfsq - s (hfsq + R)),  hfsq = f^2 / 2
 * (since 2s = f - s f and s f = hfsq - s hfsq) the leading term f is exact and
 * the rounding errors are confined to terms at most about a fifth of f.
 * log(x) = k ln2 + log(1 + f), with ln2 split in ln2_hi (32 significant bits,
 * so k ln2_hi is exact) and ln2_lo.
 *
 * exp: k = round(x / ln2), r = x - k ln2_hi - k ln2_lo, |r| <= ln2 / 2 (the
 * first subtraction is exact, the second's rounding error is kept, 2Sum).
 * e^r = 1 + p with p = r + r^2 (1/2! + r/3! + ... + r^12/14!): the Taylor
 * remainder r^15/15! is below 2^-62. 1 + p is kept as an unevaluated sum
 * yh + yl (Fast2Sum) so that the only large rounding is the last one;
 * e^x = 2^k (yh + yl), 2^k built from its exponent bits (in two steps where
 * 2^k or the result is not a normal number).
 *
 * expm1: the same yh + yl, then 2^k yh - 1 with 2Sum and 2^k yl added last:
 * for small |x| (k = 0) this is p itself, with full relative accuracy, and
 * for larger |x| it avoids the cancellation of exp(x) - 1.
 *
 * Round to nearest is assumed (glassheap never changes the rounding mode).
 * The error-free sums are additions only and the products they use are
 * exact, so a compiler that fuses a * b + c into an FMA (-march with FMA)
 * changes the results by rounding noise only (test_math built so: 1.03 ulp
 * from the exact result at worst instead of 0.89). */
#include "gh_math.h"

#include <string.h>

#ifdef __FAST_MATH__
#error "gh_math.c relies on IEEE arithmetic: do not build it with -ffast-math"
#endif

#define GH_INF __builtin_inf()
#define GH_NAN __builtin_nan("")

/* ln2 = LN2_HI + LN2_LO; LN2_HI has 32 significant bits: k * LN2_HI is exact
 * for |k| < 2^21. */
static const double LN2_HI = 0x1.62e42feep-1;
static const double LN2_LO = 0x1.a39ef35793c76p-33;
static const double INV_LN2 = 0x1.71547652b82fep+0;
static const double SQRT2 = 0x1.6a09e667f3bcdp+0;
/* Largest x with e^x finite (709.78...); smallest with e^x above 2^-1075,
 * half the smallest subnormal (-745.13...). */
static const double EXP_OVER = 0x1.62e42fefa39efp+9;
static const double EXP_UNDER = -0x1.74910d52d3051p+9;
/* Below this e^x < 2^-54 and expm1(x) rounds to -1. */
static const double EXPM1_MINUS_ONE = -38.0;

static inline uint64_t bits_of(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof b);
	return b;
}

static inline double from_bits(uint64_t b)
{
	double x;
	memcpy(&x, &b, sizeof x);
	return x;
}

/* 2^k for -1022 <= k <= 1023. */
static inline double pow2(int k)
{
	return from_bits((uint64_t)(k + 1023) << 52);
}

/* y * 2^k for 0.5 < y < 2.5 and -1080 < k < 1030, one rounding at most:
 * 2^k itself is not a double outside -1022..1023. */
static inline double scale(double y, int k)
{
	if (k > 1023)
		return y * 2.0 * pow2(k - 1);
	if (k < -1022)
		return y * pow2(k + 1000) * 0x1p-1000;
	return y * pow2(k);
}

double gh__m_log(double x)
{
	if (x != x)
		return x + x; /* NaN in, the same (quiet) NaN out */
	if (x < 0)
		return GH_NAN;
	if (x == 0)
		return -GH_INF;
	if (x == GH_INF)
		return x;
	uint64_t b = bits_of(x);
	int k = 0;
	if ((b >> 52) == 0) { /* subnormal: make it normal */
		b = bits_of(x * 0x1p54);
		k = -54;
	}
	k += (int)(b >> 52) - 1023;
	double m = from_bits((b & 0x000fffffffffffffu) | 0x3ff0000000000000u); /* [1, 2) */
	if (m >= SQRT2) {
		m *= 0.5;
		k++;
	}
	double f = m - 1.0; /* exact: m is within a factor 2 of 1 */
	double s = f / (2.0 + f);
	double z = s * s;
	double R = z * (2.0 / 3 + z * (2.0 / 5 + z * (2.0 / 7 + z * (2.0 / 9 + z * (2.0 / 11 +
	           z * (2.0 / 13 + z * (2.0 / 15 + z * (2.0 / 17 + z * (2.0 / 19 + z * (2.0 / 21))))))))));
	double hfsq = 0.5 * f * f;
	double dk = (double)k;
	return dk * LN2_HI - ((hfsq - (s * (hfsq + R) + dk * LN2_LO)) - f);
}

/* e^r for x = k ln2 + r: yh + *yl = e^r (not yet rounded to one double).
 * For EXP_UNDER <= x <= EXP_OVER. */
static double exp_reduced(double x, int *kp, double *yl)
{
	int k = (int)(x * INV_LN2 + (x < 0 ? -0.5 : 0.5));
	double dk = (double)k;
	double hi = x - dk * LN2_HI; /* exact (Sterbenz) */
	double lo = dk * LN2_LO;
	double r = hi - lo;
	/* 2Sum: hi and lo may be of any relative size */
	double bv = r - hi;
	double rerr = (hi - (r - bv)) + (-lo - bv);
	/* e^r - 1 - r = r^2 (1/2! + r/3! + ... + r^12/14!) */
	double q = 1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 +
	           r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 +
	           r * (1.0 / 39916800 + r * (1.0 / 479001600 + r * (1.0 / 6227020800 +
	           r * (1.0 / 87178291200))))))))))));
	double t = rerr + r * r * q;
	/* Fast2Sum (|t| < |r| / 4 unless both are 0) */
	double p = r + t;
	double perr = t - (p - r);
	/* Fast2Sum (|p| < 1) */
	double yh = 1.0 + p;
	*yl = ((1.0 - yh) + p) + perr;
	*kp = k;
	return yh;
}

double gh__m_exp(double x)
{
	if (x != x)
		return x + x;
	if (x > EXP_OVER)
		return GH_INF;
	if (x < EXP_UNDER)
		return 0.0; /* and e^-inf */
	int k;
	double yl;
	double yh = exp_reduced(x, &k, &yl);
	return scale(yh + yl, k);
}

double gh__m_expm1(double x)
{
	if (x != x)
		return x + x;
	if (x == 0)
		return x; /* keeps the sign of zero */
	if (x > EXP_OVER)
		return GH_INF;
	if (x < EXPM1_MINUS_ONE)
		return -1.0; /* and expm1(-inf) */
	int k;
	double yl;
	double yh = exp_reduced(x, &k, &yl);
	if (k > 60) /* the 1 is below the result's last bit */
		return scale(yh + yl, k) - 1.0;
	/* 2^k (yh + yl) - 1, the powers of two exact, one large rounding */
	double two = pow2(k);
	double hi = yh * two;
	double lo = yl * two;
	double s = hi - 1.0;
	double bv = s - hi;
	double e = (hi - (s - bv)) + (-1.0 - bv);
	return s + (e + lo);
}

double gh__m_round(double x)
{
	uint64_t b = bits_of(x);
	int e = (int)((b >> 52) & 0x7ff) - 1023;
	if (e == 1024)
		return x + x; /* inf, or NaN (quieted) */
	if (e >= 52)
		return x; /* an integer already */
	if (e < 0) /* |x| < 1: 0 or 1, with x's sign */
		return from_bits((b & 0x8000000000000000u) | (e == -1 ? 0x3ff0000000000000u : 0));
	uint64_t frac = 0x000fffffffffffffu >> e;
	if ((b & frac) == 0)
		return x;
	/* Add half a unit to the magnitude and truncate: a carry out of the
	 * fraction goes into the exponent, which is what it means. */
	b += UINT64_C(0x0008000000000000) >> e;
	return from_bits(b & ~frac);
}

int64_t gh__m_llround(double x)
{
	/* [-2^63, 2^63): the doubles whose rounding fits (the next double
	 * below -2^63 is -2^63 - 2048) */
	if (!(x >= -0x1p63 && x < 0x1p63))
		return INT64_MIN;
	return (int64_t)gh__m_round(x);
}
