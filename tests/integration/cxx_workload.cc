// cxx_workload.cc -- an ordinary C++17 program (NOT linked with glassheap)
// that preload_real_programs.py runs with and without
// LD_PRELOAD=libglassheap.so: the two outputs must be identical.
//
// It uses std::vector, std::map, std::unordered_map, std::string,
// std::shared_ptr/std::unique_ptr, over-aligned types (alignas(64) and
// alignas(4096), allocated with new, new[] and std::vector, which go
// through operator new(size_t, std::align_val_t)), nothrow new and
// std::thread. Every over-aligned pointer is checked; the program prints
// a checksum and exits 1 when any check failed.
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct alignas(64) X {
	uint64_t v[3];
	int id;
};

struct alignas(4096) Page {
	unsigned char bytes[100];
};

std::atomic<long> misaligned{0};
std::atomic<long> aligned_checked{0};

void check_align(const void *p, std::size_t a, const char *what)
{
	aligned_checked.fetch_add(1, std::memory_order_relaxed);
	if (reinterpret_cast<std::uintptr_t>(p) % a != 0) {
		if (misaligned.fetch_add(1) < 10)
			std::fprintf(stderr, "misaligned %s: %p (want %zu)\n", what, p, a);
	}
}

uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 1099511628211ull;
}

uint64_t mix_str(uint64_t h, const std::string &s)
{
	for (unsigned char c : s)
		h = mix(h, c);
	return h;
}

struct Node {
	std::string name;
	std::vector<int> data;
	std::shared_ptr<Node> next;
};

uint64_t work(int seed)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)seed;
	std::map<std::string, long> ordered;
	std::unordered_map<int, std::string> hashed;
	std::vector<std::shared_ptr<Node>> nodes;
	std::vector<std::unique_ptr<X[]>> xs;

	for (int i = 0; i < 30000; i++) {
		std::string key = "key-" + std::to_string((i * 7919 + seed * 31) % 20011);
		ordered[key] += i;
		hashed[i % 4099] = key + "/" + std::to_string(i);
		if (i % 3 == 0) {
			auto n = std::make_shared<Node>();
			n->name = key;
			n->data.assign((std::size_t)(i % 37), i);
			if (!nodes.empty())
				n->next = nodes.back();
			nodes.push_back(n);
		}
		if (nodes.size() > 500)
			nodes.erase(nodes.begin(), nodes.begin() + 250);
		if (i % 50 == 0) {
			// Over-aligned array new: every element must be 64-aligned.
			std::unique_ptr<X[]> arr(new X[10]);
			for (int j = 0; j < 10; j++) {
				check_align(&arr[j], 64, "new X[10] element");
				arr[j].v[0] = (uint64_t)(i + j);
				arr[j].id = j;
			}
			xs.push_back(std::move(arr));
			if (xs.size() > 64)
				xs.erase(xs.begin());
		}
		if (i % 97 == 0) {
			X *one = new X{{(uint64_t)i, 1, 2}, i};
			check_align(one, 64, "new X");
			h = mix(h, one->v[0] + (uint64_t)one->id);
			delete one;
			std::vector<X> vx((std::size_t)(i % 13 + 1));
			check_align(vx.data(), 64, "std::vector<X>::data");
			for (auto &x : vx)
				check_align(&x, 64, "std::vector<X> element");
			X *nt = new (std::nothrow) X[3];
			if (!nt) {
				std::fprintf(stderr, "nothrow new X[3] failed\n");
				misaligned++;
			} else {
				for (int j = 0; j < 3; j++)
					check_align(&nt[j], 64, "new (nothrow) X[3] element");
				delete[] nt;
			}
		}
		if (i % 1000 == 0) {
			auto pg = std::make_unique<Page>();
			check_align(pg.get(), 4096, "new Page (alignas 4096)");
			std::memset(pg->bytes, i & 0xff, sizeof pg->bytes);
			h = mix(h, pg->bytes[7]);
			std::vector<Page> pages(3);
			for (auto &p : pages)
				check_align(&p, 4096, "std::vector<Page> element");
		}
	}
	for (const auto &kv : ordered) {
		h = mix_str(h, kv.first);
		h = mix(h, (uint64_t)kv.second);
	}
	// Unordered iteration order may differ between runs: combine commutatively.
	uint64_t hs = 0;
	for (const auto &kv : hashed)
		hs += mix_str((uint64_t)kv.first, kv.second);
	h = mix(h, hs);
	for (const auto &n : nodes) {
		h = mix_str(h, n->name);
		h = mix(h, n->data.size());
		h = mix(h, n->next ? n->next->data.size() : 7);
	}
	for (const auto &arr : xs)
		for (int j = 0; j < 10; j++)
			h = mix(h, arr[j].v[0] + (uint64_t)arr[j].id);
	return h;
}

} // namespace

int main()
{
	const int nthreads = 4;
	std::vector<uint64_t> results(nthreads + 1);
	std::vector<std::thread> threads;
	for (int t = 0; t < nthreads; t++)
		threads.emplace_back([t, &results] { results[(std::size_t)t] = work(t + 1); });
	results[nthreads] = work(0);
	for (auto &th : threads)
		th.join();
	uint64_t sum = 0;
	for (uint64_t r : results)
		sum = mix(sum, r);
	std::printf("threads %d\n", nthreads);
	std::printf("checksum %016" PRIx64 "\n", sum);
	std::printf("aligned checks ok: %s\n", misaligned.load() == 0 ? "yes" : "no");
	if (misaligned.load() != 0 || aligned_checked.load() == 0) {
		std::fprintf(stderr, "%ld misaligned pointers out of %ld checked\n", misaligned.load(),
			     aligned_checked.load());
		return 1;
	}
	return 0;
}
