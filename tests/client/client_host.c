/*
 * client_host.c -- the host program of the client's integration tests
 * (driven by test_client.py): glassheap is its malloc (glassheap_static
 * linked first), it registers known types, holds a known number of objects of
 * each, starts the debug server and obeys commands.
 *
 *   gh_test_client_host [--listen ADDR]      (default 127.0.0.1:0)
 *
 * prints one line once serving:   ready rc=<errno> port=<port> pid=<pid>
 * then reads commands from stdin, one per line, answering one line each:
 *   grow TYPE N SIZE  -> "grown N"      N more objects of SIZE bytes of TYPE
 *                                       (registered on first use)
 *   free TYPE         -> "freed N"      frees every object grow made of TYPE
 *   drip TYPE MS N    -> "dripping"     a thread allocates one 64-byte TYPE
 *                                       every MS ms, N times (then stops)
 *   lose TYPE N SIZE  -> "lost N"       N objects of SIZE bytes of TYPE made by
 *                                       a function with a very long name, their
 *                                       pointers dropped (leaks the gc finds, and
 *                                       long names for the width tests)
 *   ping              -> "pong"
 *   quit / EOF        -> exits 0
 *
 * Known objects at start (every figure exact):
 *   CliAlpha      100 x 48 bytes, formatter "CliAlpha{index=i}"
 *   CliBeta       7 objects of 1000 + i bytes (i = 0..6), no formatter
 *   Cli "Gamma" π 3 x 10 bytes (a name needing escapes in JSON and in URLs)
 *   CliEsc<ESC>[31m  2 x 16 bytes (a name a terminal would interpret)
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glassheap.h>

#include "../host_args.h"
#include "../test_util.h"

static int fmt_alpha(const void *obj, size_t size, char *buf, size_t len)
{
	return gh_test_alpha_format("CliAlpha", obj, size, buf, len);
}

/* Objects made by "grow", per type name. */
#define MAX_GROWN 64
static struct grown {
	char name[GH_TYPE_NAME_MAX + 1];
	gh_type_t type;
	void **objs;
	size_t n, cap;
} grown[MAX_GROWN];
static size_t ngrown;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct grown *grown_for(const char *name)
{
	for (size_t i = 0; i < ngrown; i++)
		if (strcmp(grown[i].name, name) == 0)
			return &grown[i];
	if (ngrown == MAX_GROWN)
		return NULL;
	gh_type_t t = gh_type_register(name, NULL);
	if (t == GH_TYPE_NONE)
		return NULL;
	struct grown *g = &grown[ngrown++];
	snprintf(g->name, sizeof g->name, "%s", name);
	g->type = t;
	return g;
}

static int grow(const char *name, size_t n, size_t size)
{
	pthread_mutex_lock(&lock);
	struct grown *g = grown_for(name);
	size_t done = 0;
	for (; g && done < n; done++) {
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 64;
			void **o = realloc(g->objs, cap * sizeof *o);
			if (!o)
				break;
			g->objs = o;
			g->cap = cap;
		}
		void *p = gh_malloc_typed(g->type, size);
		if (!p)
			break;
		memset(p, 0x5a, size);
		g->objs[g->n++] = p;
	}
	pthread_mutex_unlock(&lock);
	return (int)done;
}

static int free_all(const char *name)
{
	pthread_mutex_lock(&lock);
	int n = 0;
	for (size_t i = 0; i < ngrown; i++) {
		if (strcmp(grown[i].name, name) != 0)
			continue;
		for (size_t k = 0; k < grown[i].n; k++)
			free(grown[i].objs[k]);
		n = (int)grown[i].n;
		grown[i].n = 0;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

/* Long on purpose: the width tests need a function name wider than a
 * terminal column. noinline, so that it is a frame of its own. */
__attribute__((noinline)) static int
client_host_allocates_and_forgets_objects_in_a_function_with_a_deliberately_long_name(gh_type_t type, size_t n,
										      size_t size)
{
	int done = 0;
	for (size_t i = 0; i < n; i++) {
		char *p = gh_malloc_typed(type, size);
		if (!p)
			break;
		memset(p, 0x33, size);
		asm volatile("" ::"r"(p) : "memory");
		done++;
	}
	return done;
}

static int lose(const char *name, size_t n, size_t size)
{
	pthread_mutex_lock(&lock);
	struct grown *g = grown_for(name);
	pthread_mutex_unlock(&lock);
	return g ? client_host_allocates_and_forgets_objects_in_a_function_with_a_deliberately_long_name(g->type, n,
													 size)
		 : 0;
}

struct drip {
	char name[GH_TYPE_NAME_MAX + 1];
	long ms, times;
};

static void *dripper(void *arg)
{
	struct drip *d = arg;
	struct timespec ts = {d->ms / 1000, (d->ms % 1000) * 1000000L};
	for (long i = 0; i < d->times; i++) {
		grow(d->name, 1, 64);
		nanosleep(&ts, NULL);
	}
	free(d);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *listen = gh_test_host_args(argc, argv).listen;

	gh_type_t alpha = gh_test_type_formatted("CliAlpha", fmt_alpha);
	gh_type_t beta = gh_type_register("CliBeta", NULL);
	gh_type_t gamma = gh_type_register("Cli \"Gamma\" \xcf\x80", NULL);
	gh_type_t esc = gh_type_register("CliEsc\x1b[31m", NULL);
	if (!alpha || !beta || !gamma || !esc) {
		fprintf(stderr, "client_host: type registration failed\n");
		return 1;
	}
	static void *keep[100 + 7 + 3 + 2];
	size_t k = 0;
	for (uint32_t i = 0; i < 100; i++) {
		struct gh_test_alpha *a = gh_malloc_typed(alpha, sizeof *a);
		memset(a, 0, sizeof *a);
		a->index = i;
		keep[k++] = a;
	}
	for (size_t i = 0; i < 7; i++)
		keep[k++] = memset(gh_malloc_typed(beta, 1000 + i), 'B', 1000 + i);
	for (size_t i = 0; i < 3; i++)
		keep[k++] = gh_calloc_typed(gamma, 1, 10);
	for (size_t i = 0; i < 2; i++)
		keep[k++] = gh_calloc_typed(esc, 1, 16);

	int rc = gh_server_start(listen);
	printf("ready rc=%d port=%d pid=%d\n", rc, gh_server_port(), (int)getpid());
	fflush(stdout);

	char line[512];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		char name[256];
		long a, b;
		if (sscanf(line, "grow %255s %ld %ld", name, &a, &b) == 3 && a >= 0 && b > 0) {
			printf("grown %d\n", grow(name, (size_t)a, (size_t)b));
		} else if (sscanf(line, "lose %255s %ld %ld", name, &a, &b) == 3 && a >= 0 && b > 0) {
			printf("lost %d\n", lose(name, (size_t)a, (size_t)b));
		} else if (sscanf(line, "free %255s", name) == 1) {
			printf("freed %d\n", free_all(name));
		} else if (sscanf(line, "drip %255s %ld %ld", name, &a, &b) == 3 && a > 0 && b > 0) {
			struct drip *dr = calloc(1, sizeof *dr);
			pthread_t t;
			if (dr) {
				snprintf(dr->name, sizeof dr->name, "%s", name);
				dr->ms = a;
				dr->times = b > 100000 ? 100000 : b;
			}
			if (dr && pthread_create(&t, NULL, dripper, dr) == 0) {
				pthread_detach(t);
				printf("dripping\n");
			} else {
				free(dr);
				printf("drip failed\n");
			}
		} else if (strcmp(line, "ping") == 0) {
			printf("pong\n");
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
	gh_server_stop();
	for (size_t i = 0; i < k; i++)
		free(keep[i]);
	return 0;
}
