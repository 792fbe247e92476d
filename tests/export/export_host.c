/*
 * export_host.c -- a program with known stacks for the exporter tests
 * (tests/export/test_export.py): noinline call chains that allocate known
 * sizes under known types, then wait for commands on stdin.
 *
 * Started with GLASSHEAP_HTTP=127.0.0.1:0 (and GLASSHEAP_TRACE=<frames> when
 * a test wants every allocation traced); prints "port N" once the server
 * listens, then "ready" after the first phase. Commands (one per line, each
 * answered "ok" once done):
 *   grow     phase 2: grow_leaf allocates GROW_N blocks of GROW_SIZE bytes
 *   leak     drops the pointers of phase 2 (unreachable: leak suspects)
 *   quit     exits
 *
 * Phase 1 (at start), every block kept alive unless said otherwise:
 *   alpha_leaf   ALPHA_N x ALPHA_SIZE bytes, type "ExportAlpha"
 *                (ALPHA_FREED more are allocated and freed: alloc_ > inuse_)
 *   beta_leaf    BETA_N x BETA_SIZE bytes, untyped malloc (type "malloc")
 *   gamma_leaf   GAMMA_N x GAMMA_SIZE bytes, type "Export \"Gamma\";odd" (a
 *                name that needs escaping in labels)
 * Each *_leaf is called through its own noinline chain (alpha_top ->
 * alpha_mid -> alpha_leaf, ...). The numbers are printed at start
 * ("expect alpha_leaf 10 10000" ...) so the driver takes them from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glassheap.h>

#define NOINLINE __attribute__((noinline))
#define ESCAPE(p) __asm__ volatile("" ::"r"(p) : "memory")

enum {
	ALPHA_N = 10, ALPHA_SIZE = 1000, ALPHA_FREED = 6,
	BETA_N = 7, BETA_SIZE = 333,
	GAMMA_N = 3, GAMMA_SIZE = 2048,
	GROW_N = 5, GROW_SIZE = 4096,
};

static gh_type_t T_ALPHA, T_GAMMA, T_GROW;
static void *alpha[ALPHA_N], *beta[BETA_N], *gamma_[GAMMA_N];
static void *volatile grown[GROW_N];

NOINLINE static void *alpha_leaf(size_t n)
{
	void *p = gh_malloc_typed(T_ALPHA, n); /* ALLOC_ALPHA */
	ESCAPE(p);
	return p;
}

NOINLINE static void alpha_mid(void)
{
	for (int i = 0; i < ALPHA_FREED; i++)
		gh_free(alpha_leaf(ALPHA_SIZE));
	for (int i = 0; i < ALPHA_N; i++)
		alpha[i] = alpha_leaf(ALPHA_SIZE);
	ESCAPE(alpha);
}

NOINLINE static void alpha_top(void)
{
	alpha_mid();
	__asm__ volatile("");
}

NOINLINE static void *beta_leaf(size_t n)
{
	void *p = malloc(n); /* ALLOC_BETA */
	ESCAPE(p);
	return p;
}

NOINLINE static void beta_top(void)
{
	for (int i = 0; i < BETA_N; i++)
		beta[i] = beta_leaf(BETA_SIZE);
	ESCAPE(beta);
}

NOINLINE static void *gamma_leaf(size_t n)
{
	void *p = gh_malloc_typed(T_GAMMA, n); /* ALLOC_GAMMA */
	ESCAPE(p);
	return p;
}

NOINLINE static void gamma_top(void)
{
	for (int i = 0; i < GAMMA_N; i++)
		gamma_[i] = gamma_leaf(GAMMA_SIZE);
	ESCAPE(gamma_);
}

NOINLINE static void *grow_leaf(size_t n)
{
	void *p = gh_malloc_typed(T_GROW, n); /* ALLOC_GROW */
	ESCAPE(p);
	return p;
}

NOINLINE static void grow_top(void)
{
	for (int i = 0; i < GROW_N; i++)
		grown[i] = grow_leaf(GROW_SIZE);
}

int main(void)
{
	T_ALPHA = gh_type_register("ExportAlpha", NULL);
	T_GAMMA = gh_type_register("Export \"Gamma\";odd", NULL);
	T_GROW = gh_type_register("ExportGrow", NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* stdin's buffer here, not malloc'd by the first fgets after "ready":
	 * the program makes no allocation of its own once it says ready */
	static char inbuf[256];
	setvbuf(stdin, inbuf, _IOLBF, sizeof inbuf);
	printf("port %d\n", gh_server_port());
	printf("expect alpha_leaf %d %d %d %d\n", ALPHA_N, ALPHA_N * ALPHA_SIZE, ALPHA_N + ALPHA_FREED,
	       (ALPHA_N + ALPHA_FREED) * ALPHA_SIZE);
	printf("expect beta_leaf %d %d %d %d\n", BETA_N, BETA_N * BETA_SIZE, BETA_N, BETA_N * BETA_SIZE);
	printf("expect gamma_leaf %d %d %d %d\n", GAMMA_N, GAMMA_N * GAMMA_SIZE, GAMMA_N, GAMMA_N * GAMMA_SIZE);
	printf("expect grow_leaf %d %d %d %d\n", GROW_N, GROW_N * GROW_SIZE, GROW_N, GROW_N * GROW_SIZE);
	alpha_top();
	beta_top();
	gamma_top();
	printf("ready\n");
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "grow", 4) == 0) {
			grow_top();
		} else if (strncmp(line, "leak", 4) == 0) {
			for (int i = 0; i < GROW_N; i++)
				grown[i] = NULL;
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		printf("ok\n");
	}
	return 0;
}
