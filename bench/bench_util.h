/* bench_util.h -- what the benchmark programs (workloads.c, fp_cxxmap.cc,
 * spawn.c) share: the xoshiro256** generator seeded by splitmix64, and the
 * process's own peak RSS (VmHWM). Header-only, C and C++. */
#ifndef GH_BENCH_UTIL_H
#define GH_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG: splitmix64 seeds xoshiro256** ------------------------------- */

struct rng {
	uint64_t s[4];
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* ---- Peak RSS ------------------------------------------------------------------
 * VmHWM of this process's own address space, in KiB (-1 when unreadable).
 * A parent's wait4() ru_maxrss cannot show a peak below the parent's own RSS:
 * Linux folds the high-water mark of the pre-exec (forked) image into it. */

static inline long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	for (int i = 0; i < 100 && fgets(line, sizeof line, f); i++) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

#endif
