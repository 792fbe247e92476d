/*
 * gc_bench.c -- pause and mark time of a reachability pass at a given heap
 * size, against LeakSanitizer's leak check on the same heap.
 *
 *   gh-bench-gc N [RUNS]        linked with glassheap: N live objects, RUNS passes
 *   gh-bench-gc N RUNS dom      the same heap, RUNS dominator passes
 *                               (GET /debug/memory/dominators' engine) instead
 *   gh-bench-gc N ROWS domdump  one dominator pass, its answer printed in full
 *                               (ROWS top retainers, by_type, totals; addresses
 *                               relative to the cage): diff two builds' output
 *                               to check that a change keeps the results
 *   gh-bench-gc-lsan N [RUNS]   the same program built with clang -fsanitize=leak:
 *                               RUNS calls of __lsan_do_recoverable_leak_check()
 *   gh-bench-gc-plain N 0       the same heap with glibc (run under valgrind by
 *                               bench/introspection.py: leak check at exit)
 *
 * The heap: N objects of 16..256 bytes (log-uniform), each holding two
 * pointers into the heap (a random earlier object and a list link), reachable
 * from one global array of roots every 64 objects, plus ~1% leaked objects.
 * Prints one line per run: "run K pause_ms X mark_ms Y total_ms T scanned_mb Z
 * objects N lost L cpu_ms C" (C: the requesting thread's CPU time for the pass).
 * A dominator pass prints "dom K pause_ms X mark_ms Y compute_ms Z total_ms T
 * work_mb W bytes_per_object B objects N edges E iterations I cpu_ms C". Both
 * end with "rss_mb R hwm_mb H" (VmRSS before the passes, VmHWM after them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(GH_BENCH_GLASSHEAP)
#include "internal.h"
#include "dominators.h"
#elif defined(GH_BENCH_LSAN)
#include <sanitizer/lsan_interface.h>
#endif

struct obj {
	struct obj *link;
	struct obj *other;
	uint64_t payload[];
};

static struct obj **volatile roots;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* This thread's CPU time: on a shared machine, the pass's own cost without
 * the time other processes held the CPU (for A/B comparisons). */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static __attribute__((noinline)) void build(size_t n)
{
	size_t nroots = n / 64 + 1;
	roots = calloc(nroots, sizeof *roots);
	struct obj *prev = NULL;
	struct obj **all = malloc(n * sizeof *all);
	for (size_t i = 0; i < n; i++) {
		/* 16..256 bytes, log-uniform */
		size_t size = (size_t)16 << (next_rand() % 5);
		size += next_rand() % size;
		if (size < sizeof(struct obj))
			size = sizeof(struct obj);
		struct obj *o = malloc(size);
		memset(o, 0, size);
		all[i] = o;
		if (next_rand() % 100 == 0)
			continue; /* leaked: nothing points to it */
		o->link = prev;
		o->other = i ? all[next_rand() % i] : NULL;
		prev = o;
		if (i % 64 == 63) {
			roots[i / 64] = prev;
			prev = NULL;
		}
	}
	roots[nroots - 1] = prev;
	free(all);
}

/* A /proc/self/status field in MiB ("VmRSS", "VmHWM"). */
static double status_mb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double v = 0;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtod(line + kl + 1, NULL) / 1024.0;
	if (f)
		fclose(f);
	return v;
}

#if defined(GH_BENCH_GLASSHEAP)
/* One dominator pass printed in full: every figure of the answer that does
 * not depend on timing (rows, paths, root labels, by_type, totals). */
static int dom_dump(size_t rows)
{
	struct gh_dom_query q = {.type = GH_TYPE_NONE, .max_rows = rows};
	struct gh_dom_result *r = NULL;
	size_t need = 0;
	uint64_t objs = 0;
	int rc = gh__dom_run(&q, &r, NULL, &need, &objs);
	if (rc != 0) {
		fprintf(stderr, "dominator pass failed: %s\n", strerror(rc));
		return 1;
	}
	printf("objects %llu edges %llu roots %llu reached_bytes %llu rows %zu types %zu\n",
	       (unsigned long long)r->objects, (unsigned long long)r->edges, (unsigned long long)r->roots,
	       (unsigned long long)r->reached_bytes, r->nrows, r->ntypes);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct gh_dom_row *w = &r->rows[i];
		printf("row %zu at +%#llx type %u site %u self %llu retained %llu objects %llu first +%#llx root %s path",
		       i, (unsigned long long)(GH_DOM_HIDE(w->address_hidden) - gh__cage.base), w->type, w->site,
		       (unsigned long long)w->self_bytes, (unsigned long long)w->retained_bytes,
		       (unsigned long long)w->retained_objects,
		       (unsigned long long)(GH_DOM_HIDE(w->path_first_hidden) - gh__cage.base), w->root_label);
		for (unsigned k = 0; k < w->npath; k++)
			printf(" %u", w->path_type[k]);
		printf("%s\n", w->path_elided ? " (elided)" : "");
	}
	for (size_t i = 0; i < r->ntypes; i++)
		printf("type %u bytes %llu objects %llu\n", r->types[i].type, (unsigned long long)r->types[i].bytes,
		       (unsigned long long)r->types[i].objects);
	gh__dom_result_free(r);
	return 0;
}
#endif

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double t0 = now_ms();
	build(n);
	fprintf(stderr, "built %zu objects in %.0f ms\n", n, now_ms() - t0);
	double rss0 = status_mb("VmRSS");
	(void)rss0;
#if defined(GH_BENCH_GLASSHEAP)
	if (argc > 3 && strcmp(argv[3], "domdump") == 0)
		return dom_dump((size_t)runs);
	if (argc > 3 && strcmp(argv[3], "dom") == 0) {
		for (int k = 0; k < runs; k++) {
			struct gh_dom_query q = {.type = GH_TYPE_NONE, .max_rows = 20};
			struct gh_dom_result *r = NULL;
			size_t need = 0;
			uint64_t objs = 0;
			double t = now_ms(), c0 = cpu_ms();
			int rc = gh__dom_run(&q, &r, NULL, &need, &objs);
			if (rc != 0) {
				fprintf(stderr, "dominator pass failed: %s (need %zu bytes for %llu objects)\n", strerror(rc),
					need, (unsigned long long)objs);
				return 1;
			}
			double total = now_ms() - t, cpu = cpu_ms() - c0;
			printf("dom %d pause_ms %.2f mark_ms %.2f compute_ms %.2f total_ms %.2f work_mb %.1f "
			       "bytes_per_object %.1f objects %llu edges %llu iterations %u cpu_ms %.2f rss_mb %.1f hwm_mb %.1f "
			       "compute_cpu_ms %.2f mark_cpu_ms %.2f\n",
			       k, (double)r->pause_ns / 1e6, (double)r->mark_ns / 1e6, (double)r->compute_ns / 1e6, total,
			       (double)r->work_bytes / 1048576.0, (double)r->work_bytes / (double)(r->objects ? r->objects : 1),
			       (unsigned long long)r->objects, (unsigned long long)r->edges, r->iterations, cpu, rss0,
			       status_mb("VmHWM"), (double)r->compute_cpu_ns / 1e6, cpu - (double)r->compute_cpu_ns / 1e6);
			gh__dom_result_free(r);
			fflush(stdout);
		}
		return 0;
	}
#endif
	for (int k = 0; k < runs; k++) {
#if defined(GH_BENCH_GLASSHEAP)
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		double t = now_ms(), c0 = cpu_ms();
		if (gh__mark_run(0, &r, &bad) != 0) {
			fprintf(stderr, "pass failed\n");
			return 1;
		}
		double total = now_ms() - t, cpu = cpu_ms() - c0;
		printf("run %d pause_ms %.2f mark_ms %.2f total_ms %.2f scanned_mb %.1f objects %llu lost %llu cpu_ms %.2f "
		       "rss_mb %.1f hwm_mb %.1f mark_threads %u helper_objects %llu\n", k,
		       (double)r->pause_ns / 1e6, (double)r->mark_ns / 1e6, total, (double)r->scanned_bytes / 1048576.0,
		       (unsigned long long)r->objects_before,
		       (unsigned long long)(r->cls[GH_DEFINITELY_LOST].count + r->cls[GH_INDIRECTLY_LOST].count), cpu, rss0,
		       status_mb("VmHWM"), r->mark_threads, (unsigned long long)r->helper_objects);
		gh__mark_result_free(r);
#elif defined(GH_BENCH_LSAN)
		double t = now_ms();
		__lsan_do_recoverable_leak_check();
		double total = now_ms() - t;
		printf("run %d pause_ms %.2f mark_ms %.2f total_ms %.2f scanned_mb 0 objects %zu lost 0\n", k, total,
		       total, total, n);
#endif
		fflush(stdout);
	}
	return 0;
}
