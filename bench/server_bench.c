/*
 * server_bench.c -- a host for the debug server benchmarks: N live objects
 * spread over T registered types, the server on a loopback port (port 0),
 * "port P" printed on stdout; exits when stdin closes.
 *
 *   gh-bench-server N T
 */
#include <glassheap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
	unsigned t = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	gh_type_t *types = malloc(t * sizeof *types);
	for (unsigned i = 0; i < t; i++) {
		char name[64];
		snprintf(name, sizeof name, "BenchType%04u", i);
		types[i] = gh_type_register(name, NULL);
	}
	void **keep = malloc(n * sizeof *keep);
	for (size_t i = 0; i < n; i++)
		keep[i] = gh_malloc_typed(types[i % t], 32 + (i % 7) * 16);
	int rc = gh_server_start("127.0.0.1:0");
	if (rc) {
		fprintf(stderr, "server start failed: %d\n", rc);
		return 1;
	}
	printf("port %d\n", gh_server_port());
	fflush(stdout);
	char buf[64];
	while (fgets(buf, sizeof buf, stdin))
		;
	gh_server_stop();
	for (size_t i = 0; i < n; i++)
		free(keep[i]);
	free(keep);
	free(types);
	return 0;
}
