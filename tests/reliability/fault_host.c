/*
 * fault_host.c -- the host program of reliability.py's fault, defaults and
 * fork cases. Linked with libglassheap.a first (glassheap is its malloc),
 * with glassheap's internals reachable (gh__mark_run).
 *
 * Starts the debug server (127.0.0.1:0, or --listen ADDR, or none with
 * --no-start), prints
 *     ready rc=<errno> port=<port> pid=<pid> cage=<bytes>
 * then obeys one command per stdin line, answering one line each:
 *     ping            pong
 *     fill            fills the cage with "Fault.Fill" blocks (1 MiB down to
 *                     16 bytes) until allocation fails:
 *                     filled count=N bytes=B errno=E
 *     alloc N         one N-byte malloc: "alloc ok" or "alloc fail errno=E"
 *     unfill          frees the fill: "unfilled live=<Fault.Fill count>"
 *     secret N        N "Fault.Secret" blocks of 64 bytes, each the ASCII text
 *                     "S3CR3T-PAYLOAD-S3CR3T-..." (no formatter): "secret N"
 *     block           a thread that blocks every signal (the stop signal
 *                     included) and waits: "blocked tid=T"
 *     unblock         that thread unblocks its signals and exits: "unblocked"
 *     workers N       N threads allocating and freeing until quit: "workers N"
 *     gc              one reachability pass: "gc rc=<errno> stuck=<tid>"
 *     aslimit M       RLIMIT_AS (soft) = the current address space + M MiB,
 *                     so that new mappings fail; 0 lifts it: "aslimit <bytes>"
 *     stop / start A  gh_server_stop / gh_server_start(A)
 *     fork            forks while the workers run. The child checks that its
 *                     allocator works and counts exactly, that no server
 *                     runs in it and that it holds no listening socket, then
 *                     starts its own server (as documented) and prints
 *                     "child pid=P port=Q alloc=1 counts=1 port0=1 nolisten=1"
 *                     (each check 1 or 0), serves until SIGTERM, exits 0.
 *                     The parent answers "forked pid=P".
 *     reap            waits (bounded) for the child: "reaped status=S"
 *                     (its exit code, or -signal, or "timeout")
 *     quit
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "host_args.h"
#include "internal.h"
#include "test_util.h"

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- Filling the cage ------------------------------------------------------------- */

#define FILL_MAX (1u << 18)
static void **fill;
static size_t nfill;
static gh_type_t t_fill;

static void cmd_fill(void)
{
	static const size_t sizes[] = {1 << 20, 64 << 10, 4 << 10, 256, 16};
	size_t bytes = 0;
	int err = 0;
	if (!fill)
		fill = calloc(FILL_MAX, sizeof *fill); /* before the cage is full */
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		while (nfill < FILL_MAX) {
			errno = 0;
			void *p = gh_malloc_typed(t_fill, sizes[k]);
			if (!p) {
				err = errno;
				break;
			}
			memset(p, 0x5a, sizes[k] < 64 ? sizes[k] : 64);
			fill[nfill++] = p;
			bytes += sizes[k];
		}
	}
	reply("filled count=%zu bytes=%zu errno=%d", nfill, bytes, err);
}

static void cmd_unfill(void)
{
	for (size_t i = 0; i < nfill; i++)
		free(fill[i]);
	nfill = 0;
	gh_type_stats_t st;
	memset(&st, 0, sizeof st);
	gh_type_stats(t_fill, &st);
	reply("unfilled live=%llu", (unsigned long long)st.live_count);
}

/* ---- A thread that blocks the stop signal ------------------------------------------- */

static int block_pipe[2] = {-1, -1};
static pthread_t blocker;
static _Atomic pid_t blocker_tid;

static void *blocker_main(void *arg)
{
	(void)arg;
	gh_test_all_signals(SIG_BLOCK);
	atomic_store(&blocker_tid, gettid());
	char c;
	while (read(block_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	/* A stop that timed out left its signal pending here: it runs now and
	 * must return at once (that stop is over). */
	gh_test_all_signals(SIG_UNBLOCK);
	void *p = malloc(100); /* and this thread's allocator still works */
	free(p);
	return NULL;
}

/* ---- Worker threads ------------------------------------------------------------------- */

static _Atomic int workers_stop;
static _Atomic long worker_ops;
static pthread_t workers[16];
static int nworkers;
static gh_type_t t_work;

static void *worker_main(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15u + 1;
	void *held[256] = {0};
	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		size_t i = s % 256;
		if (held[i]) {
			free(held[i]);
			held[i] = NULL;
		} else {
			held[i] = (s & 1) ? malloc(s % 2000) : gh_malloc_typed(t_work, s % 3000);
		}
		atomic_fetch_add_explicit(&worker_ops, 1, memory_order_relaxed);
	}
	for (size_t i = 0; i < 256; i++)
		free(held[i]);
	return NULL;
}

/* ---- Fork ------------------------------------------------------------------------------- */

static pid_t child;
static volatile sig_atomic_t child_term;

static void on_term(int sig)
{
	(void)sig;
	child_term = 1;
}

/* Does this process hold a listening TCP socket on port? */
static int holds_listener(int port)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int fd = atoi(e->d_name);
		int acc = 0;
		socklen_t len = sizeof acc;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
			continue;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET &&
		    ntohs(((struct sockaddr_in *)&ss)->sin_port) == port)
			found = 1;
	}
	if (d)
		closedir(d);
	return found;
}

static void child_main(int parent_port)
{
	int port0 = gh_server_port() == 0;
	int nolisten = !holds_listener(parent_port);
	/* The allocator: typed and untyped, exact counts for a type only the child uses. */
	gh_type_t t = gh_type_register("Fault.Child", NULL);
	void *keep[1000];
	int alloc_ok = t != GH_TYPE_NONE;
	for (int round = 0; round < 20 && alloc_ok; round++) {
		for (int i = 0; i < 1000; i++) {
			keep[i] = (i & 1) ? gh_malloc_typed(t, (size_t)i + 1) : malloc((size_t)i * 3 + 1);
			if (!keep[i])
				alloc_ok = 0;
		}
		for (int i = 0; i < 1000; i++)
			free(keep[i]);
	}
	for (int i = 0; i < 500; i++)
		keep[i] = gh_malloc_typed(t, 100);
	gh_type_stats_t st;
	memset(&st, 0, sizeof st);
	gh_type_stats(t, &st);
	int counts = st.live_count == 500 && st.live_bytes == 50000 && st.total_allocs == 20 * 500 + 500;
	int rc = gh_server_start("127.0.0.1:0");
	reply("child pid=%d port=%d alloc=%d counts=%d port0=%d nolisten=%d start_rc=%d", (int)getpid(),
	      gh_server_port(), alloc_ok, counts, port0, nolisten, rc);
	signal(SIGTERM, on_term);
	for (int i = 0; i < 600 && !child_term; i++) /* 60 s at most */
		usleep(100000);
	for (int i = 0; i < 500; i++)
		free(keep[i]);
	exit(0); /* at-exit stops the child's server */
}

static void cmd_fork(void)
{
	fflush(stdout);
	int parent_port = gh_server_port();
	pid_t pid = fork();
	if (pid < 0) {
		reply("forked pid=-1 errno=%d", errno);
		return;
	}
	if (pid == 0)
		child_main(parent_port);
	child = pid;
	reply("forked pid=%d", (int)pid);
}

static void cmd_reap(void)
{
	for (int i = 0; i < 200; i++) { /* 20 s */
		int st;
		pid_t r = waitpid(child, &st, WNOHANG);
		if (r == child) {
			reply("reaped status=%d", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
			return;
		}
		usleep(100000);
	}
	reply("reaped status=timeout");
}

static void *secrets[64];
static int nsecrets;

/* ---- Main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct gh_test_host_args args = gh_test_host_args(argc, argv);
	const char *listen = args.listen;
	int start = args.start;
	/* Fill blocks hold no pointers: a reachability pass does not read the
	 * gigabytes of them (it would, conservatively, otherwise). */
	gh_type_desc_t nsd;
	memset(&nsd, 0, sizeof nsd);
	nsd.flags = GH_TYPE_NO_SCAN;
	t_fill = gh_type_register("Fault.Fill", &nsd);
	t_work = gh_type_register("Fault.Work", NULL);
	int rc = start ? gh_server_start(listen) : 0;
	reply("ready rc=%d port=%d pid=%d cage=%zu", rc, gh_server_port(), (int)getpid(), gh__cage.size);

	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "ping") == 0) {
			reply("pong ops=%ld", atomic_load(&worker_ops));
		} else if (strcmp(line, "fill") == 0) {
			cmd_fill();
		} else if (strcmp(line, "unfill") == 0) {
			cmd_unfill();
		} else if (strncmp(line, "alloc ", 6) == 0) {
			errno = 0;
			void *p = malloc((size_t)atol(line + 6));
			if (p)
				reply("alloc ok");
			else
				reply("alloc fail errno=%d", errno);
			free(p);
		} else if (strncmp(line, "secret ", 7) == 0) {
			gh_type_t ts = gh_type_register("Fault.Secret", NULL);
			int n = atoi(line + 7);
			for (int i = 0; i < n && nsecrets < 64; i++) {
				char *p = gh_malloc_typed(ts, 64);
				for (int k = 0; k < 64; k++)
					p[k] = "S3CR3T-PAYLOAD-"[k % 15];
				secrets[nsecrets++] = p;
			}
			reply("secret %d", n);
		} else if (strcmp(line, "block") == 0) {
			if (pipe(block_pipe) != 0 || pthread_create(&blocker, NULL, blocker_main, NULL) != 0) {
				reply("blocked tid=0");
				continue;
			}
			while (atomic_load(&blocker_tid) == 0)
				usleep(1000);
			reply("blocked tid=%d", (int)atomic_load(&blocker_tid));
		} else if (strcmp(line, "unblock") == 0) {
			if (write(block_pipe[1], "x", 1) == 1)
				pthread_join(blocker, NULL);
			reply("unblocked");
		} else if (strncmp(line, "workers ", 8) == 0) {
			int n = atoi(line + 8);
			while (nworkers < n && nworkers < 16 &&
			       pthread_create(&workers[nworkers], NULL, worker_main, (void *)(uintptr_t)(nworkers + 1)) == 0)
				nworkers++;
			reply("workers %d", nworkers);
		} else if (strcmp(line, "gc") == 0) {
			pid_t stuck;
			int grc = gh_test_gc(&stuck);
			reply("gc rc=%d stuck=%d", grc, (int)stuck);
		} else if (strncmp(line, "aslimit ", 8) == 0) {
			long extra = atol(line + 8);
			struct rlimit rl;
			getrlimit(RLIMIT_AS, &rl);
			rl.rlim_cur = RLIM_INFINITY;
			if (extra > 0) {
				unsigned long vm = 0;
				FILE *f = fopen("/proc/self/statm", "r");
				if (f && fscanf(f, "%lu", &vm) == 1)
					rl.rlim_cur = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)extra << 20);
				if (f)
					fclose(f);
			}
			if (rl.rlim_cur > rl.rlim_max)
				rl.rlim_cur = rl.rlim_max;
			int lrc = setrlimit(RLIMIT_AS, &rl);
			reply("aslimit %llu rc=%d", (unsigned long long)rl.rlim_cur, lrc);
		} else if (strcmp(line, "stop") == 0) {
			gh_server_stop();
			reply("stopped");
		} else if (strncmp(line, "start ", 6) == 0) {
			rc = gh_server_start(line + 6);
			reply("start rc=%d port=%d", rc, gh_server_port());
		} else if (strcmp(line, "fork") == 0) {
			cmd_fork();
		} else if (strcmp(line, "reap") == 0) {
			cmd_reap();
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			reply("unknown command");
		}
	}
	atomic_store(&workers_stop, 1);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	return 0;
}
