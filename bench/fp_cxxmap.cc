/*
 * fp_cxxmap.cc -- gh-bench-fp-cxx: issue 15's C++ small-node heap. Like
 * gh-bench-alloc it links no allocator of its own; bench/footprint.py swaps
 * glibc, jemalloc, tcmalloc, mimalloc and glassheap in with LD_PRELOAD.
 *
 *   gh-bench-fp-cxx [ops]
 *
 * A std::map<std::string, std::vector<int>> holds GH_BENCH_LIVE entries
 * (default 300,000). Each operation erases a random entry (its value is
 * checked first) and inserts a new one, so the heap is churned at a constant
 * size: a map node (~88 B), a key of 4..48 characters (40% longer than
 * libstdc++'s 15-character SSO buffer, so on the heap), a vector of 0..32
 * ints (none, or 4..128 B). These are the small objects on which a
 * per-object header moves sizes up a class. Without [ops], 500,000 times
 * GH_BENCH_SCALE. GH_BENCH_TIMEOUT bounds a run (seconds, default 600).
 *
 * Deterministic: fixed seed, keys and values derived from a sequence
 * number. Prints one line "workload=fp_cxxmap ... seconds=... peak_rss_kb=..."
 * (seconds: the churn only; peak_rss_kb: VmHWM) and exits 0; 2 when an
 * entry is missing or its value is wrong (overlapping allocations), 4 at
 * the time bound, 64 on bad arguments.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench_util.h"

namespace {

constexpr uint64_t kDefaultOps = 500000;
constexpr uint64_t kDefaultLive = 300000;

/* xoshiro256** seeded by splitmix64 (bench_util.h, as in workloads.c). */
struct Rng {
	struct rng r;
	explicit Rng(uint64_t seed) { rng_seed(&r, seed); }
	uint64_t next() { return rng_next(&r); }
	/* Uniform in [0, n) (multiply-shift). */
	uint32_t below(uint32_t n) { return (uint32_t)(((next() >> 32) * n) >> 32); }
};

uint64_t mix(uint64_t id)
{
	uint64_t x = id;
	return splitmix64(&x);
}

/* The key of entry id: its number in base 36 and a '.', padded with letters
 * to a length drawn from id (60%: 4..15, within the SSO buffer; 40%:
 * 16..48). The '.' ends the number, so keys are distinct. */
std::string key_of(uint64_t id)
{
	uint64_t h = mix(id);
	size_t len = (h & 0xff) < 154 ? 4 + (h >> 8) % 12 : 16 + (h >> 8) % 33;
	char buf[64];
	size_t n = 0;
	do {
		buf[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[id % 36];
		id /= 36;
	} while (id);
	buf[n++] = '.';
	for (uint64_t f = h >> 16; n < len; f = f * 31 + 7)
		buf[n++] = (char)('a' + f % 26);
	return std::string(buf, n);
}

size_t value_len(uint64_t id)
{
	return (size_t)(mix(id) >> 40) % 33;
}

int value_at(uint64_t id, size_t i)
{
	return (int)(id * 31 + i);
}

std::vector<int> value_of(uint64_t id)
{
	std::vector<int> v(value_len(id));
	for (size_t i = 0; i < v.size(); i++)
		v[i] = value_at(id, i);
	return v;
}

[[noreturn]] void corrupt(uint64_t id, const char *what)
{
	std::fprintf(stderr, "gh-bench-fp-cxx: entry %llu: %s (overlapping allocations?)\n",
		     (unsigned long long)id, what);
	std::exit(2);
}

double now()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void on_alarm(int)
{
	static const char msg[] = "gh-bench-fp-cxx: time bound reached (GH_BENCH_TIMEOUT)\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(4);
}

bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = std::strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return false;
	*out = v;
	return true;
}

int usage()
{
	std::fprintf(stderr, "usage: gh-bench-fp-cxx [ops]\n"
			     "  default ops %llu times $GH_BENCH_SCALE; $GH_BENCH_LIVE entries (default %llu);\n"
			     "  $GH_BENCH_TIMEOUT seconds (default 600)\n",
		     (unsigned long long)kDefaultOps, (unsigned long long)kDefaultLive);
	return 64;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 2)
		return usage();
	uint64_t ops = kDefaultOps;
	if (argc == 2) {
		if (!parse_u64(argv[1], &ops))
			return usage();
	} else if (const char *s = std::getenv("GH_BENCH_SCALE"); s && *s) {
		char *end;
		double scale = std::strtod(s, &end);
		if (*end || !(scale > 0) || scale > 1000) {
			std::fprintf(stderr, "gh-bench-fp-cxx: GH_BENCH_SCALE=%s: want a number in (0, 1000]\n", s);
			return 64;
		}
		ops = (uint64_t)((double)kDefaultOps * scale);
	}
	uint64_t live = kDefaultLive;
	if (const char *s = std::getenv("GH_BENCH_LIVE"); s && *s && (!parse_u64(s, &live) || live < 2 || live > 10000000)) {
		std::fprintf(stderr, "gh-bench-fp-cxx: GH_BENCH_LIVE=%s: want 2..10000000\n", s);
		return 64;
	}
	uint64_t timeout = 600;
	if (const char *s = std::getenv("GH_BENCH_TIMEOUT");
	    s && *s && (!parse_u64(s, &timeout) || timeout < 1 || timeout > 86400)) {
		std::fprintf(stderr, "gh-bench-fp-cxx: GH_BENCH_TIMEOUT=%s: want 1..86400 seconds\n", s);
		return 64;
	}
	signal(SIGALRM, on_alarm);
	alarm((unsigned)timeout);

	std::map<std::string, std::vector<int>> m;
	std::vector<uint64_t> ids(live); /* the live entries, to pick one at random */
	uint64_t next_id = 0, long_keys = 0, checksum = 0;
	for (uint64_t i = 0; i < live; i++) {
		ids[i] = next_id++;
		m.emplace(key_of(ids[i]), value_of(ids[i]));
	}
	Rng rng(0x4358584D4150);
	double t0 = now();
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t &slot = ids[rng.below((uint32_t)live)];
		auto it = m.find(key_of(slot));
		if (it == m.end())
			corrupt(slot, "missing from the map");
		const std::vector<int> &v = it->second;
		size_t n = value_len(slot);
		if (v.size() != n || (n && (v[0] != value_at(slot, 0) || v[n - 1] != value_at(slot, n - 1))))
			corrupt(slot, "wrong value");
		checksum += n ? (uint64_t)(uint32_t)v[n - 1] : 1;
		long_keys += it->first.size() > 15;
		m.erase(it);
		slot = next_id++;
		m.emplace(key_of(slot), value_of(slot));
	}
	double t1 = now();
	if (m.size() != live)
		corrupt(next_id, "the map lost entries");
	std::printf("workload=fp_cxxmap threads=1 ops=%llu live=%llu long_keys_erased=%llu seconds=%.6f "
		    "checksum=%016llx peak_rss_kb=%ld\n",
		    (unsigned long long)ops, (unsigned long long)live, (unsigned long long)long_keys, t1 - t0,
		    (unsigned long long)checksum, peak_rss_kb());
	return 0;
}
