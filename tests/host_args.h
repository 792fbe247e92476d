/*
 * host_args.h -- the command line the test host programs share
 * (tests/server/server_host.c, tests/reliability/fault_host.c):
 *
 *   HOST [--listen ADDR] [--no-start]
 *
 * ADDR defaults to 127.0.0.1:0 (a free loopback port); --no-start leaves the
 * server off (GLASSHEAP_HTTP may still start it). Unknown words are ignored.
 */
#ifndef GH_TEST_HOST_ARGS_H
#define GH_TEST_HOST_ARGS_H

#include <stdbool.h>
#include <string.h>

struct gh_test_host_args {
	const char *listen;
	bool start;
};

static inline struct gh_test_host_args gh_test_host_args(int argc, char **argv)
{
	struct gh_test_host_args a = {.listen = "127.0.0.1:0", .start = true};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			a.listen = argv[++i];
		else if (strcmp(argv[i], "--no-start") == 0)
			a.start = false;
	}
	return a;
}

#endif /* GH_TEST_HOST_ARGS_H */
