/*
 * server_host.c -- the host program of the debug-server integration tests
 * (driven by test_server.py).
 *
 * Registers known types, creates a known number of objects of each, starts
 * the server (on --listen, default 127.0.0.1:0, unless --no-start) and prints
 * one line:   ready rc=<errno> port=<port> pid=<pid>
 * then obeys commands read from stdin, one per line, answering one line each:
 *   start ADDR   -> "start rc=<errno> port=<port>"
 *   stop         -> "stopped"
 *   port         -> "port <port>"
 *   ping         -> "pong"            (the host is alive and serving its loop)
 *   churn N      -> "churned N"       (N malloc/free pairs on this thread)
 *   gc           -> "gc rc=<errno>"   (one reachability pass, which stops every
 *                                      thread, the server's included; only in
 *                                      the static build, GH_TEST_INTERNALS)
 *   quit / EOF   -> exit 0
 *
 * Known objects (sizes chosen so every figure is exact):
 *   TestAlpha     100 x 48 bytes, formatter "TestAlpha{index=i}"
 *   TestBeta      7 objects of 1000 + i bytes (i = 0..6), no formatter,
 *                 every byte 0x42 ('B')
 *   Test "Gamma" π  3 x 10 bytes (a name that needs escaping and %-encoding)
 *   TestBad\xff\xfeName  2 x 16 bytes: a name that is not UTF-8, displayed as
 *                 "TestBad\ufffd\ufffdName" and found by that name too
 *   TestEmpty     registered, no objects
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glassheap.h>

#include "../host_args.h"
#ifdef GH_TEST_INTERNALS
#include "internal.h"
#endif
#ifdef GH_TEST_TSAN /* the ThreadSanitizer build (tests/reliability) */
#include "tsan_thread.h"
#define IN_POLL true
#else
#define IN_POLL false
#endif
#include "../test_util.h"

#define N_ALPHA 100
#define N_BETA 7
#define N_GAMMA 3
#define N_BAD 2

static int fmt_alpha(const void *obj, size_t size, char *buf, size_t len)
{
	return gh_test_alpha_format("TestAlpha", obj, size, buf, len);
}

static void *keep[N_ALPHA + N_BETA + N_GAMMA + N_BAD];

#ifdef GH_TEST_INTERNALS
#include <pthread.h>
#include <time.h>

/* Overwrites dead stack so stale copies of dropped pointers do not keep
 * "leaked" objects reachable (scanning is conservative). */
static __attribute__((noinline)) void clobber_stack(void)
{
	volatile char buf[16384];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = 0;
}

/* n unreachable TestLeak objects and n collectable TestCollect ones, made
 * in a frame of their own that clobber_stack then overwrites. */
static __attribute__((noinline)) void leak_some(int n)
{
	gh_type_desc_t cd;
	memset(&cd, 0, sizeof cd);
	cd.flags = GH_TYPE_COLLECTABLE;
	gh_type_t leak = gh_type_register("TestLeak", NULL);
	gh_type_t coll = gh_type_register("TestCollect", &cd);
	for (int i = 0; i < n; i++) {
		void *volatile a = gh_malloc_typed(leak, 64);
		void *volatile b = gh_malloc_typed(coll, 32);
		(void)a;
		(void)b;
	}
}

/* Runs reachability passes back to back for gcloop_ms (the 503 test). */
static int gcloop_ms;
static void *gcloop(void *arg)
{
	(void)arg;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100000; i++) {
		pid_t stuck;
		gh_test_gc(&stuck);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > gcloop_ms)
			break;
	}
	return NULL;
}
#endif

static void reply(const char *fmt, int a, int b)
{
	printf(fmt, a, b);
	fputc('\n', stdout);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct gh_test_host_args args = gh_test_host_args(argc, argv);
	const char *listen = args.listen;
	int start = args.start;
#ifdef GH_TEST_TSAN
	gh_test_ignore_tsan_thread();
	setvbuf(stdin, NULL, _IONBF, 0);
#endif

	gh_type_t alpha = gh_test_type_formatted("TestAlpha", fmt_alpha);
	gh_type_t beta = gh_type_register("TestBeta", NULL);
	gh_type_t gamma = gh_type_register("Test \"Gamma\" \xcf\x80", NULL);
	gh_type_t empty = gh_type_register("TestEmpty", NULL);
	gh_type_t bad = gh_type_register("TestBad\xff\xfe" "Name", NULL);
	if (!alpha || !beta || !gamma || !empty || !bad) {
		fprintf(stderr, "server_host: type registration failed\n");
		return 1;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < N_ALPHA; i++) {
		struct gh_test_alpha *a = gh_malloc_typed(alpha, sizeof *a);
		memset(a, 0, sizeof *a);
		a->index = i;
		keep[k++] = a;
	}
	for (size_t i = 0; i < N_BETA; i++) {
		void *p = gh_malloc_typed(beta, 1000 + i);
		memset(p, 'B', 1000 + i);
		keep[k++] = p;
	}
	for (size_t i = 0; i < N_GAMMA; i++)
		keep[k++] = gh_calloc_typed(gamma, 1, 10);
	for (size_t i = 0; i < N_BAD; i++)
		keep[k++] = gh_calloc_typed(bad, 1, 16);

	int rc = start ? gh_server_start(listen) : 0;
	printf("ready rc=%d port=%d pid=%d\n", rc, gh_server_port(), (int)getpid());
	fflush(stdout);

	char line[512];
	while (gh_test_read_command(line, sizeof line, IN_POLL)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "start ", 6) == 0) {
			rc = gh_server_start(line + 6);
			reply("start rc=%d port=%d", rc, gh_server_port());
		} else if (strcmp(line, "stop") == 0) {
			gh_server_stop();
			reply("stopped", 0, 0);
		} else if (strcmp(line, "port") == 0) {
			reply("port %d", gh_server_port(), 0);
		} else if (strcmp(line, "ping") == 0) {
			reply("pong", 0, 0);
		} else if (strncmp(line, "churn ", 6) == 0) {
			int n = atoi(line + 6);
			for (int i = 0; i < n; i++) {
				void *p = malloc((size_t)(16 + i % 512));
				if (p)
					memset(p, 0, 16);
				free(p);
			}
			reply("churned %d", n, 0);
#ifdef GH_TEST_INTERNALS
		} else if (strncmp(line, "leak ", 5) == 0) {
			/* n unreachable TestLeak objects and n collectable TestCollect */
			int n = atoi(line + 5);
			leak_some(n);
			clobber_stack();
			reply("leaked %d", n, 0);
		} else if (strncmp(line, "gcloop ", 7) == 0) {
			gcloop_ms = atoi(line + 7);
			pthread_t th;
			pthread_create(&th, NULL, gcloop, NULL);
			pthread_detach(th);
			reply("gcloop started", 0, 0);
		} else if (strcmp(line, "gc") == 0) {
			pid_t stuck;
			int grc = gh_test_gc(&stuck);
			reply("gc rc=%d stuck=%d", grc, (int)stuck);
#endif
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			reply("unknown command", 0, 0);
		}
	}
	for (size_t i = 0; i < k; i++)
		gh_free(keep[i]); /* typed blocks: also right when glassheap is not the malloc */
	return 0;
}
