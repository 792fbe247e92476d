/* epconn N SECONDS: an event loop's connections, each a malloc'ed struct (an eventfd stands for its socket)
 * whose only pointer the kernel holds (epoll_event.data.ptr); prints
 * "ready", waits in epoll_wait for SECONDS, exits with them registered. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	char buf[120];
};

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100, secs = argc > 2 ? atoi(argv[2]) : 0;
	if (n < 1 || n > 100000 || secs < 0 || secs > 600)
		return 2;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_max < (rlim_t)n + 100) /* (root may raise it) */
		rl.rlim_cur = rl.rlim_max = (rlim_t)n + 100;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1;
	int ep = epoll_create1(0);
	for (int i = 0; i < n; i++) {
		int fd = eventfd(0, 0); /* (never readable: no events) */
		if (fd < 0)
			return 1;
		struct conn *c = malloc(sizeof *c);
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			return 1;
	}
	printf("ready\n");
	fflush(stdout);
	time_t end = time(NULL) + secs;
	struct epoll_event evs[16];
	while (time(NULL) < end)
		epoll_wait(ep, evs, 16, 200);
	return 0;
}
