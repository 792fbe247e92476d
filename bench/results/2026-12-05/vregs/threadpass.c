/* threadpass: the cost of a pass with many threads (each stopped thread's
 * registers, vector ones included, are read and scanned).
 *   threadpass T N   T threads asleep in nanosleep, 10,000 live objects;
 *                    N calls of gh_leak_check; prints the median ms per call */
#define _GNU_SOURCE
#include <glassheap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

static void *sleeper(void *arg)
{
	(void)arg;
	while (!stop)
		usleep(2000);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int t = argc > 1 ? atoi(argv[1]) : 100, n = argc > 2 ? atoi(argv[2]) : 21;
	if (n < 1 || n > 1000 || t < 0 || t > 4000)
		return 2;
	static void *keep[10000];
	for (int i = 0; i < 10000; i++)
		keep[i] = malloc(32 + i % 200);
	pthread_t *th = malloc(sizeof *th * (size_t)(t ? t : 1));
	for (int i = 0; i < t; i++)
		pthread_create(&th[i], NULL, sleeper, NULL);
	double *ms = malloc(sizeof *ms * (size_t)n);
	for (int i = 0; i < n; i++) {
		gh_leak_counts_t c;
		double t0 = now();
		int rc = gh_leak_check(0, &c);
		ms[i] = now() - t0;
		if (rc != 0) {
			fprintf(stderr, "gh_leak_check: %d\n", rc);
			return 1;
		}
	}
	qsort(ms, (size_t)n, sizeof *ms, cmp);
	printf("threads=%d median_ms=%.2f\n", t, ms[n / 2]);
	stop = 1;
	for (int i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 10000; i++)
		free(keep[i]);
	return 0;
}
