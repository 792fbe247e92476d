/*
 * pass_main_exit.c -- main calls pthread_exit with the debug server on
 * (issue 18, item 6). The server thread blocks every signal; when it was
 * the last thread alive the process never exited and ignored SIGTERM. The
 * process must end, with status 0 (POSIX: as if exit(0) when the last
 * thread exits), when the last thread of the program does.
 *
 * Run without arguments it is the driver: it starts itself as the host in
 * each case and checks how the host ends.
 *   alone   main starts the server and calls pthread_exit at once
 *   after   main exits first; another thread runs 1 s, then returns
 *   term    as `after`, but the other thread blocks forever: SIGTERM to the
 *           process must still end it (default action)
 *   served  as `alone`, while a client keeps a connection open
 */
#include "pass_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void *sleeper(void *arg)
{
	if (arg) {
		for (;;)
			pause();
	}
	sleep(1);
	return NULL;
}

static int host(const char *mode)
{
	if (gh_server_start("127.0.0.1:0") != 0)
		return 3;
	printf("port %d\n", gh_server_port());
	fflush(stdout);
	pthread_t th;
	if (strcmp(mode, "after") == 0)
		pthread_create(&th, NULL, sleeper, NULL);
	if (strcmp(mode, "term") == 0)
		pthread_create(&th, NULL, sleeper, (void *)1);
	pthread_exit(NULL);
}

/* Starts the host in `mode`; returns its pid, *port its server port. */
static pid_t start(const char *self, const char *mode, int *port)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(self, self, mode, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[64] = "";
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	*port = 0;
	sscanf(buf, "port %d", port);
	return pid;
}

/* Waits up to `limit` seconds; the exit status, or -1 (then killed). */
static int wait_for(pid_t pid, double limit, double *took)
{
	double t0 = pass_now();
	int st = 0;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (pass_now() - t0 > limit) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			*took = pass_now() - t0;
			return -1;
		}
		usleep(10000);
	}
	*took = pass_now() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return host(argv[1]);
	pass_watchdog(60);
	const char *self = "/proc/self/exe";
	char exe[4096];
	ssize_t n = readlink(self, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	int port;
	double took;

	pid_t pid = start(exe, "alone", &port);
	int st = wait_for(pid, 5, &took);
	printf("alone: status %d after %.2f s\n", st, took);
	PASS_CHECK(port > 0, "alone: the server started");
	PASS_CHECK(st == 0 && took < 2, "alone: exits 0 at once: status %d after %.2f s", st, took);

	pid = start(exe, "after", &port);
	st = wait_for(pid, 6, &took);
	printf("after: status %d after %.2f s\n", st, took);
	PASS_CHECK(st == 0 && took >= 0.9 && took < 3, "after: exits 0 when the other thread returns: %d, %.2f s", st,
		   took);

	pid = start(exe, "term", &port);
	usleep(300000);
	kill(pid, SIGTERM);
	st = wait_for(pid, 5, &took);
	printf("term: status %d after %.2f s\n", st, took);
	PASS_CHECK(st == 128 + SIGTERM, "term: SIGTERM ends it: status %d", st);

	/* a client holds a connection open: the process still ends */
	pid = start(exe, "after", &port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int c = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	st = wait_for(pid, 6, &took);
	printf("served: status %d after %.2f s (client connected: %s)\n", st, took, c == 0 ? "yes" : "no");
	PASS_CHECK(c == 0, "served: the client connected");
	PASS_CHECK(st == 0 && took < 3, "served: exits 0 with a client connected: %d, %.2f s", st, took);
	close(fd);
	return pass_finish("pass_main_exit");
}
