/*
 * epoll_roots.c -- pointers the kernel holds for the program: the data of
 * its epoll registrations, scanned as roots by every pass (mark.c).
 *
 * An event loop registers each connection with epoll_ctl(ADD, fd, {.data.ptr
 * = conn}) and often keeps the connection nowhere else: the kernel hands the
 * pointer back from epoll_wait. No scanner of the process's memory sees it
 * -- valgrind, LeakSanitizer and a pass without this report every idle
 * connection "definitely lost", and a collecting pass would free a live
 * one. The kernel shows each epoll instance's registrations, data included,
 * in /proc/self/fdinfo/<epfd> ("tfd: ... data: <hex> ...").
 *
 * So glassheap's epoll_ctl (waits.c) notes the epoll descriptor here before
 * it calls the kernel, and the pass, with the world stopped, reads the
 * fdinfo of each noted descriptor that is still an epoll instance and keeps
 * every data word (a pointer or not: conservative, as everywhere). A noted
 * descriptor closed since is dropped from the table then. The table holds
 * GH_EPOLL_FDS descriptors; one more cannot be noted and makes the record
 * incomplete (a pass then collects nothing), as does a registration count
 * above what the pass keeps (mark.c). A registration made with a raw
 * syscall(2) on a descriptor never passed to the libc wrapper is not seen.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GH_EPOLL_FDS 256

static struct {
	_Atomic int fd[GH_EPOLL_FDS]; /* noted descriptor + 1, 0 free */
	_Atomic bool incomplete;
} ep;

void gh__epoll_note(int epfd)
{
	if (epfd < 0)
		return;
	int want = epfd + 1;
	int free_at = -1;
	for (int i = 0; i < GH_EPOLL_FDS; i++) {
		int v = atomic_load_explicit(&ep.fd[i], memory_order_relaxed);
		if (v == want)
			return;
		if (v == 0 && free_at < 0)
			free_at = i;
	}
	for (int i = free_at < 0 ? GH_EPOLL_FDS : free_at; i < GH_EPOLL_FDS; i++) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&ep.fd[i], &expect, want))
			return;
		if (expect == want)
			return;
	}
	atomic_store(&ep.incomplete, true);
}

bool gh__epoll_incomplete(void)
{
	return atomic_load(&ep.incomplete);
}

bool gh__epoll_any(void)
{
	for (int i = 0; i < GH_EPOLL_FDS; i++)
		if (atomic_load_explicit(&ep.fd[i], memory_order_relaxed))
			return true;
	return false;
}

/* Is fd an epoll instance? ("anon_inode:[eventpoll]") */
static bool is_epoll(int fd)
{
	char path[40], target[32];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	return strcmp(target, "anon_inode:[eventpoll]") == 0;
}

/*
 * Runs while the world is stopped: no allocation. Reads each noted epoll
 * instance's registrations through buf (cap bytes) and stores their data
 * words in vals (at most nvals); *over when there were more. Returns the
 * number stored.
 */
size_t gh__epoll_collect(uintptr_t *vals, size_t nvals, char *buf, size_t cap, bool *over)
{
	size_t n = 0;
	*over = false;
	for (int i = 0; i < GH_EPOLL_FDS; i++) {
		int v = atomic_load(&ep.fd[i]);
		if (v == 0)
			continue;
		int fd = v - 1;
		if (!is_epoll(fd)) { /* closed (or reused) since: noted again at its next epoll_ctl */
			int expect = v;
			atomic_compare_exchange_strong(&ep.fd[i], &expect, 0);
			continue;
		}
		char path[40];
		snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
		int f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0) {
			*over = true; /* an instance whose registrations cannot be read */
			continue;
		}
		/* a line at a time, across reads: "tfd: N events: X data: H ..." */
		size_t have = 0;
		for (;;) {
			ssize_t got = read(f, buf + have, cap - have);
			if (got < 0) {
				*over = true;
				break;
			}
			have += (size_t)got;
			size_t start = 0;
			for (;;) {
				char *nl = memchr(buf + start, '\n', have - start);
				if (!nl)
					break;
				*nl = 0;
				const char *d = strncmp(buf + start, "tfd:", 4) == 0 ? strstr(buf + start, " data:") : NULL;
				if (d) {
					d += 6;
					while (*d == ' ')
						d++;
					uintptr_t w = 0;
					int h, digits = 0;
					while ((h = gh__hexval(*d)) >= 0 && digits < 16) {
						w = w << 4 | (uintptr_t)h;
						d++;
						digits++;
					}
					if (digits && n < nvals)
						vals[n++] = w;
					else if (digits)
						*over = true;
				}
				start = (size_t)(nl - buf) + 1;
			}
			memmove(buf, buf + start, have - start);
			have -= start;
			if (got == 0 || have == cap) /* the end, or a line longer than the buffer */
				break;
		}
		close(f);
	}
	return n;
}
