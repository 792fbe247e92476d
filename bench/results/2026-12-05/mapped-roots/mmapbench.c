/* mmapbench: the cost of the exported mmap/munmap (alloc/mapped.c's record)
 *   mmapbench pairs N     N x (mmap 4 KiB anonymous, touch, munmap)
 *   mmapbench keep N      N mappings of 4 KiB kept (each next to the last:
 *                         merged in the record), then all unmapped
 *   mmapbench holes N     N mappings kept with a file page between each two
 *                         (N separate ranges in the record), then unmapped
 *   mmapbench threads N   pairs N on each of two threads at once
 * prints seconds= for the loop. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *pairs(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			exit(1);
		p[0] = 1;
		munmap(p, 4096);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	double t0 = now();
	if (strcmp(argv[1], "pairs") == 0) {
		pairs((void *)n);
	} else if (strcmp(argv[1], "threads") == 0) {
		pthread_t th;
		pthread_create(&th, NULL, pairs, (void *)n);
		pairs((void *)n);
		pthread_join(th, NULL);
	} else {
		int holes = strcmp(argv[1], "holes") == 0;
		int fd = open("/proc/self/exe", O_RDONLY);
		char **v = malloc(sizeof *v * n);
		for (long i = 0; i < n; i++) {
			v[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (v[i] == MAP_FAILED)
				return 1;
			if (holes && mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
				return 1;
		}
		for (long i = 0; i < n; i++)
			munmap(v[i], 4096);
	}
	printf("seconds=%.4f per_op_us=%.3f\n", now() - t0, (now() - t0) / n * 1e6);
	return 0;
}
