// thread_exit.cc -- allocations while threads exit, after glassheap's own
// thread-exit handler has run.
//
// Built twice: linked with glassheap_static, and not linked (run under
// LD_PRELOAD; glassheap's API is then found with dlsym). Each thread first
// mallocs (glassheap sets the thread up, registering its exit handler as a
// pthread key destructor), then constructs a C++ thread_local whose
// destructor frees and allocates, then sets values for pthread keys that
// main created after glassheap initialized (so their destructors run after
// glassheap's and jemalloc's thread clean-up). Those destructors allocate,
// reallocate and free typed and untyped memory, re-arm their key for
// further destructor rounds, and hand some objects to main, which frees
// them after joining. In the end the test's type is back to its baseline
// (live count and bytes), and every allocation was counted exactly once
// (total_allocs - total_frees equals the live delta at each check).
#include "gh_dyn.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace {

const int kThreads = 8;
const int kRounds = 4;
const int kKeys = 3;
const int kRearm = 2; // extra destructor rounds per key (<= PTHREAD_DESTRUCTOR_ITERATIONS - 1)

gh_type_t T;
pthread_key_t keys[kKeys];
std::atomic<long> failures{0};
std::atomic<long> key_dtor_calls{0};
std::atomic<long> tl_dtor_calls{0};

// Objects allocated in destructors during thread exit, freed by main later.
std::mutex handed_mu;
std::vector<void *> *handed; // allocated after glassheap is up
std::atomic<long> handed_bytes{0};

void fail(const char *what)
{
	if (failures.fetch_add(1) < 20)
		std::fprintf(stderr, "failure: %s\n", what);
}

void hand_to_main(void *p, size_t size)
{
	std::lock_guard<std::mutex> g(handed_mu);
	handed->push_back(p);
	handed_bytes += (long)size;
}

// Allocation traffic that must work and be counted during thread exit.
void churn(int salt)
{
	void *typed = GHD(gh_malloc_typed)(T, 200);
	char *u = static_cast<char *>(std::malloc(3000));
	if (!typed || !u) {
		fail("allocation in a destructor failed");
		return;
	}
	std::memset(u, salt, 3000);
	u = static_cast<char *>(std::realloc(u, 70000)); // large: page map path
	if (!u || u[2999] != (char)salt) {
		fail("realloc in a destructor lost data");
		return;
	}
	void *big = std::malloc(1 << 20);
	if (!big)
		fail("1 MiB malloc in a destructor failed");
	std::free(big);
	std::free(u);
	for (int i = 0; i < 200; i++) {
		void *q = (i & 1) ? GHD(gh_calloc_typed)(T, 1, (size_t)i + 1) : std::malloc((size_t)i * 8 + 1);
		if (!q)
			fail("small allocation in a destructor failed");
		std::free(q);
	}
	void *tr = GHD(gh_realloc_typed)(T, typed, 400);
	if (!tr || GHD(gh_ptr_type)(tr) != T || GHD(gh_ptr_size)(tr) != 400)
		fail("gh_realloc_typed in a destructor");
	GHD(gh_free)(tr);
	// One object outlives the thread.
	void *keep = GHD(gh_malloc_typed)(T, 48 + (size_t)salt % 16);
	if (!keep)
		fail("typed allocation in a destructor failed");
	else
		hand_to_main(keep, 48 + (size_t)salt % 16);
}

struct KeyVal {
	int key;
	int rearm;
	void *obj; // a typed object made in the thread, freed by the destructor
};

void key_dtor(void *v)
{
	key_dtor_calls++;
	KeyVal *kv = static_cast<KeyVal *>(v);
	if (GHD(gh_ptr_size)(kv->obj) != 96 || GHD(gh_ptr_type)(kv->obj) != T)
		fail("key value object is not live with its type");
	GHD(gh_free)(kv->obj);
	churn(kv->key * 10 + kv->rearm);
	if (kv->rearm-- > 0) {
		// Setting a value during destruction runs this destructor again in
		// the next round (after glassheap's handler has certainly run).
		kv->obj = GHD(gh_malloc_typed)(T, 96);
		if (pthread_setspecific(keys[kv->key], kv) != 0)
			fail("pthread_setspecific in a destructor");
		return;
	}
	std::free(kv);
}

struct ThreadLocalThing {
	void *obj;
	ThreadLocalThing() : obj(GHD(gh_malloc_typed)(T, 64)) {}
	~ThreadLocalThing()
	{
		tl_dtor_calls++;
		if (GHD(gh_ptr_size)(obj) != 64)
			fail("thread_local's object is not live");
		GHD(gh_free)(obj);
		churn(99);
	}
};

thread_local ThreadLocalThing tl_thing;

void *thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	// The first allocation: glassheap sets this thread up.
	void *first = std::malloc(16);
	std::free(first);
	if (!tl_thing.obj)
		fail("thread_local constructor's allocation failed");
	for (int k = 0; k < kKeys; k++) {
		KeyVal *kv = static_cast<KeyVal *>(std::malloc(sizeof(KeyVal)));
		kv->key = k;
		kv->rearm = (int)((id + k) % (kRearm + 1));
		kv->obj = GHD(gh_malloc_typed)(T, 96);
		if (pthread_setspecific(keys[k], kv) != 0)
			fail("pthread_setspecific");
	}
	// Some ordinary work.
	std::vector<void *> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(GHD(gh_malloc_typed)(T, (size_t)i % 500 + 1));
	for (void *p : v)
		GHD(gh_free)(p);
	return nullptr;
}

bool check_stats(const gh_type_stats_t &base, long live, long bytes, const char *when)
{
	gh_type_stats_t st;
	if (GHD(gh_type_stats)(T, &st) != 0) {
		fail("gh_type_stats");
		return false;
	}
	long dl = (long)(st.live_count - base.live_count), db = (long)(st.live_bytes - base.live_bytes);
	long da = (long)(st.total_allocs - base.total_allocs), df = (long)(st.total_frees - base.total_frees);
	bool ok = dl == live && db == bytes && da - df == live;
	std::fprintf(stderr, "  %s: live %+ld (want %+ld), bytes %+ld (want %+ld), allocs %+ld, frees %+ld\n", when, dl,
		     live, db, bytes, da, df);
	if (!ok)
		fail(when);
	return ok;
}

} // namespace

int main()
{
	if (gh_dyn_init() != 0)
		return 2;
	// glassheap is up (this program has allocated before main): keys created
	// now come after glassheap's and jemalloc's own thread-exit keys.
	void *warm = std::malloc(1);
	std::free(warm);
	handed = new std::vector<void *>();
	handed->reserve(4096);
	T = GHD(gh_type_register)("thread_exit_type", nullptr);
	if (T == GH_TYPE_NONE)
		return 2;
	for (int k = 0; k < kKeys; k++)
		if (pthread_key_create(&keys[k], key_dtor) != 0)
			return 2;
	gh_type_stats_t base;
	if (GHD(gh_type_stats)(T, &base) != 0)
		return 2;

	for (int r = 0; r < kRounds; r++) {
		pthread_t th[kThreads];
		for (int i = 0; i < kThreads; i++)
			if (pthread_create(&th[i], nullptr, thread_main, (void *)(intptr_t)(r * kThreads + i)) != 0)
				return 2;
		for (int i = 0; i < kThreads; i++)
			pthread_join(th[i], nullptr);
		char when[64];
		std::snprintf(when, sizeof when, "after round %d (objects handed to main live)", r);
		check_stats(base, (long)handed->size(), handed_bytes.load(), when);
	}
	long expect_keys = 0;
	for (int r = 0; r < kRounds; r++)
		for (int i = 0; i < kThreads; i++)
			for (int k = 0; k < kKeys; k++)
				expect_keys += 1 + (r * kThreads + i + k) % (kRearm + 1);
	if (key_dtor_calls.load() != expect_keys)
		fail("pthread key destructors did not run as often as expected");
	if (tl_dtor_calls.load() != kRounds * kThreads)
		fail("thread_local destructors did not all run");
	for (void *p : *handed)
		GHD(gh_free)(p);
	size_t n = handed->size();
	handed->clear();
	handed_bytes = 0;
	check_stats(base, 0, 0, "after main freed the handed objects");
	std::printf("thread_exit: %s (%d threads, %ld key destructor calls, %ld thread_local destructor calls, %zu "
		    "objects outlived their thread)\n",
		    failures.load() ? "FAILED" : "ok", kRounds * kThreads, key_dtor_calls.load(), tl_dtor_calls.load(),
		    n);
	return failures.load() ? 1 : 0;
}
