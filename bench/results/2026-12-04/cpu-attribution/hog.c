/* hog.c SECONDS MIB: streams reads and writes over a MIB buffer for SECONDS
 * (bounded), a stand-in for a neighbour that loads the memory system. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	size_t n = (argc > 2 ? strtoul(argv[2], 0, 10) : 256) << 20;
	uint64_t *b = malloc(n);
	if (!b)
		return 1;
	memset(b, 1, n);
	double end = now() + secs;
	uint64_t s = 0, passes = 0;
	while (now() < end && passes < 100000) {
		for (size_t i = 0; i < n / 8; i += 8) {
			s += b[i];
			b[i] = s;
		}
		passes++;
	}
	printf("passes=%llu sum=%llu\n", (unsigned long long)passes, (unsigned long long)s);
	return 0;
}
