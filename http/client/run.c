/*
 * run.c -- `glassheap run`: start any dynamically linked program with
 * glassheap as its malloc and its debug server on, the way heaptrack or
 * valgrind wrap a command line.
 *
 * Entry point: gh__run.
 *
 *   glassheap run [--http ADDR] [--token T] [--trace FRAMES] [--report PATH]
 *                 [--quiet] [--follow-children] -- PROG ARGS...
 *
 *   1. find libglassheap.so: $GLASSHEAP_LIB, else next to this executable
 *      (<bindir>/../<libdir>, ../lib, ../lib64), else -- when running from the build tree --
 *      the library built beside it
 *   2. choose the address: --http, else $GLASSHEAP_HTTP, else 127.0.0.1 with
 *      a free port. A port of 0 is replaced by a free port found here (bind
 *      port 0, read it, close): the library logs the port it bound, but in
 *      the program's stderr, where this launcher cannot read it. Another
 *      process could take the port in between; the program's server then
 *      logs that it cannot listen, and the probe below warns.
 *   3. environment: LD_PRELOAD = libglassheap.so first (the first object that
 *      defines malloc wins), followed by any LD_PRELOAD already set;
 *      GLASSHEAP_HTTP, GLASSHEAP_FOLLOW_CHILDREN (0, or 1 with
 *      --follow-children), GLASSHEAP_HTTP_PID (the program's PID, set in the
 *      child before exec), and GLASSHEAP_TOKEN / GLASSHEAP_TRACE /
 *      GLASSHEAP_REPORT when given
 *   4. fork, exec PROG (PATH searched); print
 *      "glassheap: debug server for PID N at http://127.0.0.1:PORT"
 *   5. probe the address for up to 5 s; warn if nothing answers while the
 *      program runs (a static or set-uid program ignores LD_PRELOAD)
 *   6. wait: SIGINT and SIGQUIT are ignored here (the terminal sends them to
 *      the program too), SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are forwarded;
 *      return the program's exit status, or 128 + N when signal N killed it
 *
 * The program's children: the library, in the program, removes its
 * LD_PRELOAD entry and GLASSHEAP_HTTP from the environment before main
 * (alloc/options.c, scrub_environment), so children run without glassheap.
 * With --follow-children it leaves them: children run on glassheap, and
 * GLASSHEAP_HTTP_PID keeps them from serving (one address, one process);
 * the program's successor by exec has its PID and serves.
 */
#include "client.h"
#include "../listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The installed library relative to the installed executable (CMake's
 * CMAKE_INSTALL_LIBDIR seen from CMAKE_INSTALL_BINDIR). */
#ifndef GH_CLIENT_LIB_FROM_BIN
#define GH_CLIENT_LIB_FROM_BIN "../lib"
#endif

/* ---- The library ---------------------------------------------------------------------- */

static bool readable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* Writes the absolute path of libglassheap into out (PATH_MAX). */
static int find_library(char *out)
{
	const char *env = getenv("GLASSHEAP_LIB");
	if (env && *env) {
		if (!readable_file(env) || !realpath(env, out)) {
			gh__cli_error("GLASSHEAP_LIB=%s: not a readable file", env);
			return -1;
		}
		return 0;
	}

	char exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		*slash = '\0';
		snprintf(dir, sizeof dir, "%s", exe[0] ? exe : "/");
		static const char *const libdirs[] = {GH_CLIENT_LIB_FROM_BIN, "../lib", "../lib64"};
		static const char *const names[] = {"libglassheap.so.0", "libglassheap.so"};
		for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0]; i++) {
			for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
				char cand[PATH_MAX + 64];
				snprintf(cand, sizeof cand, "%s/%s/%s", dir, libdirs[i], names[j]);
				if (readable_file(cand) && realpath(cand, out))
					return 0;
			}
		}
#if defined(GH_CLIENT_BUILD_DIR) && defined(GH_CLIENT_BUILD_LIB)
		/* Uninstalled: the executable still sits in its build directory. */
		char real_build[PATH_MAX];
		if (realpath(GH_CLIENT_BUILD_DIR, real_build) && strcmp(real_build, dir) == 0 &&
		    readable_file(GH_CLIENT_BUILD_LIB) && realpath(GH_CLIENT_BUILD_LIB, out))
			return 0;
#endif
	}
	bool usual = strcmp(GH_CLIENT_LIB_FROM_BIN, "../lib") == 0 || strcmp(GH_CLIENT_LIB_FROM_BIN, "../lib64") == 0;
	gh__cli_error("cannot find libglassheap.so (looked in %s/{%s%s../lib,../lib64}); set "
		      "GLASSHEAP_LIB=/path/to/libglassheap.so",
		      n > 0 ? dir : "<this executable's directory>", usual ? "" : GH_CLIENT_LIB_FROM_BIN,
		      usual ? "" : ",");
	return -1;
}

/* LD_PRELOAD with lib first, then what was there (without lib again). */
static char *preload_value(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fputs(lib, f);
	if (old) {
		/* ld.so separates entries by spaces or colons. */
		char *copy = strdup(old);
		char *save = NULL;
		for (char *tok = copy ? strtok_r(copy, ": ", &save) : NULL; tok; tok = strtok_r(NULL, ": ", &save)) {
			char real[PATH_MAX];
			if (strcmp(tok, lib) == 0 || (realpath(tok, real) && strcmp(real, lib) == 0))
				continue;
			fprintf(f, ":%s", tok);
		}
		free(copy);
	}
	fclose(f);
	return out;
}

/* ---- The address ------------------------------------------------------------------------ */

struct addr {
	char listen[300];         /* GLASSHEAP_HTTP for the program */
	char url[300];            /* what we print: http://127.0.0.1:PORT or unix:/path */
	struct sockaddr_storage ss; /* for the probe */
	socklen_t ss_len;
	bool loopback;
};

/*
 * Parses what the server accepts, with the server's own parser (listen.h:
 * "[host:]port", "[v6]:port", "unix:/path"; hosts numeric or "localhost"),
 * and replaces a port of 0 by a free one.
 */
static int resolve_addr(const char *spec, struct addr *a)
{
	memset(a, 0, sizeof *a);
	struct gh_listen_addr la;
	if (gh__listen_parse(spec, &la) != 0) {
		gh__cli_error("--http %s: want [host:]port, [ipv6]:port or unix:/path (numeric host or localhost)",
			      spec);
		return -1;
	}
	char desc[GH_LISTEN_DESC_MAX];
	gh__listen_describe(&la.ss, desc, sizeof desc);
	if (la.ss.ss_family != AF_UNIX && gh__listen_port(&la) == 0) {
		/* Let the kernel pick a free port, then give it to the program. */
		int fd = socket(la.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage got;
		socklen_t glen = sizeof got;
		if (fd < 0 || bind(fd, (struct sockaddr *)&la.ss, la.len) != 0 ||
		    getsockname(fd, (struct sockaddr *)&got, &glen) != 0) {
			gh__cli_error("cannot find a free port on %s: %s", desc, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		gh__listen_set_port(&la, ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
									 : ((struct sockaddr_in6 *)&got)->sin6_port));
		gh__listen_describe(&la.ss, desc, sizeof desc);
	}
	a->ss = la.ss;
	a->ss_len = la.len;
	a->loopback = la.loopback;
	snprintf(a->listen, sizeof a->listen, "%s", desc);
	snprintf(a->url, sizeof a->url, la.ss.ss_family == AF_UNIX ? "%s" : "http://%s", desc);
	return 0;
}

/* True once something accepts connections at a. */
static bool answers(const struct addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (const struct sockaddr *)&a->ss, a->ss_len) == 0;
	close(fd);
	return ok;
}

/* ---- The program ------------------------------------------------------------------------ */

static volatile pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* Polls for the server while the program runs, up to 5 s. Returns the
 * program's wait status if it ended meanwhile (and sets *ended). */
static int probe(const struct addr *a, pid_t pid, bool *ended)
{
	struct timespec step = {0, 50 * 1000 * 1000};
	for (int i = 0; i < 100; i++) {
		int status;
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			*ended = true;
			return status;
		}
		if (answers(a))
			return 0;
		nanosleep(&step, NULL);
	}
	gh__cli_error("warning: nothing answers at %s after 5 s: a static or set-uid program ignores "
		      "LD_PRELOAD; see the program's stderr for a 'glassheap:' line", a->url);
	return 0;
}

int gh__run(const struct gh_run_opts *o)
{
	if (!o->argv || !o->argv[0]) {
		gh__cli_error("run: no program given (glassheap run [options] -- PROG ARGS...)");
		return GH_EXIT_USAGE;
	}
	char lib[PATH_MAX];
	if (find_library(lib) != 0)
		return GH_EXIT_USAGE;
	const char *spec = o->http;
	if (!spec || !*spec)
		spec = getenv("GLASSHEAP_HTTP");
	if (!spec || !*spec)
		spec = "127.0.0.1:0";
	struct addr a;
	if (resolve_addr(spec, &a) != 0)
		return GH_EXIT_USAGE;
	const char *token = o->token && *o->token ? o->token : getenv("GLASSHEAP_TOKEN");
	if (!a.loopback && !(token && *token))
		gh__cli_error("warning: %s is not a loopback address: the server refuses it without a token (--token)",
			      a.listen);

	char *preload = preload_value(lib);
	if (!preload || setenv("LD_PRELOAD", preload, 1) != 0 || setenv("GLASSHEAP_HTTP", a.listen, 1) != 0 ||
	    setenv("GLASSHEAP_FOLLOW_CHILDREN", o->follow_children ? "1" : "0", 1) != 0 ||
	    (o->token && setenv("GLASSHEAP_TOKEN", o->token, 1) != 0) ||
	    (o->trace && setenv("GLASSHEAP_TRACE", o->trace, 1) != 0) ||
	    (o->report && setenv("GLASSHEAP_REPORT", o->report, 1) != 0)) {
		gh__cli_error("run: cannot set the environment: %s", strerror(errno));
		free(preload);
		return GH_EXIT_USAGE;
	}
	free(preload);

	/* Block the forwarded signals until the handlers know the child. */
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	fflush(NULL);

	/* The child reports a failed exec through a close-on-exec pipe. */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		gh__cli_error("run: pipe: %s", strerror(errno));
		return GH_EXIT_USAGE;
	}
	pid_t pid = fork();
	if (pid < 0) {
		gh__cli_error("run: fork: %s", strerror(errno));
		return GH_EXIT_USAGE;
	}
	if (pid == 0) {
		/* This process becomes the program: the server is its own. */
		char me[32];
		snprintf(me, sizeof me, "%ld", (long)getpid());
		close(pfd[0]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (setenv("GLASSHEAP_HTTP_PID", me, 1) == 0)
			execvp(o->argv[0], o->argv);
		int err = errno;
		ssize_t w = write(pfd[1], &err, sizeof err);
		(void)w;
		_exit(err == ENOENT ? 127 : 126);
	}
	close(pfd[1]);
	child_pid = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = forward;
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaction(forwarded[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);

	int exec_err = 0;
	ssize_t r;
	while ((r = read(pfd[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (r == (ssize_t)sizeof exec_err) {
		gh__cli_error("cannot run %s: %s", o->argv[0], strerror(exec_err));
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return exit_status(status);
	}

	if (!o->quiet)
		gh__cli_error("debug server for PID %d at %s", (int)pid, a.url);
	bool ended = false;
	int status = o->quiet ? 0 : probe(&a, pid, &ended);
	if (!ended)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	child_pid = 0;
	return exit_status(status);
}
