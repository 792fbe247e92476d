/*
 * storm_host.c -- the host program of the storm test (driven by storm.py).
 *
 * Linked with libglassheap.a first: glassheap is its malloc. Starts the debug
 * server on 127.0.0.1:0, starts the allocation storm of storm_work.h (lanes
 * of short-lived worker threads, typed and untyped blocks, cross-thread
 * frees), prints
 *     ready port=<port> pid=<pid>
 * and obeys commands on stdin, one line each:
 *     ping  -> "pong"
 *     stop  -> stops the workers (bounded), compares glassheap's counters
 *              with the ground truth: "truth <type> live bytes allocs frees"
 *              lines, "mismatch ..." lines, then "verified bad=<n>"
 *     free  -> frees every block left, verifies again, "freed bad=<n>"
 *     quit  -> stops the server and exits 0
 * A watchdog (alarm, STORM_HARD_LIMIT seconds, default 150) kills the
 * process if the test itself deadlocks, so a hang is a failure with a
 * signal, not a ctest timeout.
 *
 * Also built with ThreadSanitizer (STORM_TSAN=1, STORM_SHIM=0: the core and
 * the server linked directly beside TSan's malloc, typed blocks only): then
 * TSan's own thread is left out of stops, workers do fewer operations each,
 * and the main thread waits for commands in poll (gh_test_read_command, tests/test_util.h).
 */
#include "storm_work.h"

#include <signal.h>
#include <unistd.h>

#if STORM_TSAN
#include "internal.h"
#include "tsan_thread.h"
#endif
#include "test_util.h"

int main(void)
{
	const char *hard = getenv("STORM_HARD_LIMIT");
	alarm(hard ? (unsigned)atoi(hard) : 150);
#if STORM_TSAN
	gh_test_ignore_tsan_thread();
	setvbuf(stdin, NULL, _IONBF, 0);
	storm_ops_max = 2000;
#endif
	if (!storm_setup()) {
		fprintf(stderr, "storm_host: type registration failed\n");
		return 1;
	}
	int rc = gh_server_start("127.0.0.1:0");
	if (rc != 0) {
		fprintf(stderr, "storm_host: gh_server_start: %s\n", strerror(rc));
		return 1;
	}
	storm_start_lanes();
	printf("ready port=%d pid=%d\n", gh_server_port(), (int)getpid());
	fflush(stdout);

	char line[128];
	bool stopped = false;
	while (gh_test_read_command(line, sizeof line, STORM_TSAN)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "ping") == 0) {
			printf("pong\n");
		} else if (strcmp(line, "stop") == 0) {
			if (!storm_stop_lanes(30000)) {
				printf("stuck: a worker lane did not finish in 30 s\n");
				fflush(stdout);
				abort();
			}
			stopped = true;
			printf("verified bad=%d\n", storm_verify(stdout));
		} else if (strcmp(line, "free") == 0 && stopped) {
			storm_free_all();
			printf("freed bad=%d\n", storm_verify(stdout));
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
	if (!stopped)
		storm_stop_lanes(30000);
	gh_server_stop();
	return 0;
}
