/*
 * pass_reuse.c -- a pass frees only what it proved unreachable (issue 18,
 * item 1).
 *
 * Phase 1: blocks whose only pointers live in an unregistered mmap region
 * look unreachable to a pass; the program frees them and at once allocates
 * collectable objects of the same size, held by a global array, which
 * usually land at the same addresses. A pass that decided "unreachable"
 * during its stop and freed after resume by re-reading whatever header sat
 * at those addresses freed these live objects. Every object is checked
 * while passes run in a loop: it must be live, of its type, intact.
 *
 * Phase 2: the same check under a realloc storm with thread churn: short-
 * lived threads grow and shrink collectable objects held in a global table.
 *
 * Nothing here is ever garbage: a pass must collect 0 objects, and no free
 * may be reported as invalid or double. GLASSHEAP_ON_ERROR=log lets the
 * program count such reports instead of aborting at the first.
 */
#include "pass_util.h"

#include <pthread.h>
#include <sys/mman.h>

#define N 1000
#define SIZE 200
#define PHASE_S 5.0

static gh_type_t live_type;
static void *volatile live[N];
static _Atomic int stop_passes;
static _Atomic uint64_t passes, collected, damaged, checked;
static _Atomic uint64_t misuse;

static void on_error(gh_error_kind_t kind, const void *ptr, const char *op, const char *msg)
{
	(void)kind, (void)ptr, (void)op, (void)msg;
	atomic_fetch_add(&misuse, 1);
}

static void *pass_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_passes)) {
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		if (rc == 0) {
			atomic_fetch_add(&passes, 1);
			atomic_fetch_add(&collected, r->collected_objects);
			gh__mark_result_free(r);
		} else {
			PASS_CHECK(rc == 0, "pass failed: %s (thread %d)", strerror(rc), (int)bad);
		}
	}
	return NULL;
}

static void fill(void *p, uint64_t tag, size_t size)
{
	uint64_t *w = p;
	for (size_t i = 0; i < size / 8; i++)
		w[i] = tag ^ (i * 0x9E3779B97F4A7C15u);
}

static bool intact(const void *p, uint64_t tag, size_t size)
{
	const uint64_t *w = p;
	if (gh_ptr_type(p) != live_type || gh_ptr_size(p) != size)
		return false;
	for (size_t i = 0; i < size / 8; i++)
		if (w[i] != (tag ^ (i * 0x9E3779B97F4A7C15u)))
			return false;
	return true;
}

static void phase_reuse(void)
{
	void **hidden = mmap(NULL, N * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hidden == MAP_FAILED) {
		PASS_CHECK(0, "mmap");
		return;
	}
	double end = pass_now() + PHASE_S;
	for (uint64_t round = 1; pass_now() < end; round++) {
		for (int i = 0; i < N; i++) {
			hidden[i] = malloc(SIZE);
			PASS_KEEP(hidden[i]);
		}
		for (int i = 0; i < N; i++)
			free(hidden[i]);
		for (int i = 0; i < N; i++) {
			void *p = gh_malloc_typed(live_type, SIZE);
			fill(p, round * N + (uint64_t)i, SIZE);
			live[i] = p;
		}
		for (int i = 0; i < N; i++) {
			atomic_fetch_add(&checked, 1);
			if (!intact(live[i], round * N + (uint64_t)i, SIZE))
				atomic_fetch_add(&damaged, 1);
		}
		for (int i = 0; i < N; i++) {
			void *p = live[i];
			live[i] = NULL;
			free(p);
		}
	}
	munmap(hidden, N * sizeof(void *));
}

/* Phase 2: short-lived threads, each taking a slice of the table. */
#define CHURN_SLOTS 512
#define CHURN_THREADS 4
static void *volatile table[CHURN_SLOTS];
static size_t table_size[CHURN_SLOTS];
static uint64_t table_tag[CHURN_SLOTS];

static void *churn_thread(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	uint64_t seed = k * 7919 + (uint64_t)(pass_now() * 1e6);
	for (int op = 0; op < 400; op++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		size_t i = (size_t)(k + CHURN_THREADS * (seed % (CHURN_SLOTS / CHURN_THREADS)));
		void *p = table[i];
		if (p) {
			atomic_fetch_add(&checked, 1);
			if (!intact(p, table_tag[i], table_size[i]))
				atomic_fetch_add(&damaged, 1);
		}
		size_t size = 16 + 8 * (size_t)((seed >> 20) % 600);
		if (p && (seed >> 40) % 4 == 0) {
			table[i] = NULL;
			free(p);
			continue;
		}
		void *q = gh_realloc_typed(live_type, p, size);
		if (!q)
			continue;
		table_tag[i] = seed;
		table_size[i] = size;
		fill(q, seed, size);
		table[i] = q;
	}
	return NULL;
}

static void phase_churn(void)
{
	double end = pass_now() + PHASE_S;
	while (pass_now() < end) {
		pthread_t th[CHURN_THREADS];
		for (uintptr_t k = 0; k < CHURN_THREADS; k++)
			pthread_create(&th[k], NULL, churn_thread, (void *)k);
		for (int k = 0; k < CHURN_THREADS; k++)
			pthread_join(th[k], NULL);
	}
	for (int i = 0; i < CHURN_SLOTS; i++) {
		void *p = table[i];
		table[i] = NULL;
		free(p);
	}
}

int main(void)
{
	pass_watchdog(60);
	gh_set_error_handler(on_error);
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	live_type = gh_type_register("Reuse.Live", &desc);
	pthread_t pt;
	pthread_create(&pt, NULL, pass_loop, NULL);
	phase_reuse();
	uint64_t p1 = atomic_load(&passes), c1 = atomic_load(&checked);
	phase_churn();
	atomic_store(&stop_passes, 1);
	pthread_join(pt, NULL);
	printf("passes %llu (%llu during phase 1), objects checked %llu (%llu in phase 1), damaged %llu, "
	       "collected %llu, misuse reports %llu\n",
	       (unsigned long long)atomic_load(&passes), (unsigned long long)p1,
	       (unsigned long long)atomic_load(&checked), (unsigned long long)c1,
	       (unsigned long long)atomic_load(&damaged), (unsigned long long)atomic_load(&collected),
	       (unsigned long long)atomic_load(&misuse));
	PASS_CHECK(p1 >= 20 && atomic_load(&passes) > p1, "passes ran during both phases");
	PASS_CHECK(atomic_load(&damaged) == 0, "no live object damaged");
	PASS_CHECK(atomic_load(&collected) == 0, "nothing collected: nothing was garbage");
	PASS_CHECK(atomic_load(&misuse) == 0, "no invalid or double free reported");
	return pass_finish("pass_reuse");
}
