/*
 * waits.c -- the blocking calls a world stop can end early, and what the
 * tracer needs to resume them unseen.
 *
 * A ptrace stop (world.c) interrupts a blocking system call. The kernel
 * restarts most of them by itself, with their remaining time (nanosleep,
 * poll, select, futex, read...). A few it ends with EINTR after any stop,
 * even one that ran no handler: epoll_wait, epoll_pwait, rt_sigtimedwait,
 * semtimedop. The tracer issues those again before it lets the thread go;
 * for one with a timeout it needs to know how much of the timeout is left,
 * which the kernel does not say. So glassheap exports these functions
 * (it is first in the lookup order, under LD_PRELOAD or linked): each
 * notes in a thread-local record when it started and with which timeout,
 * then calls the system's. The tracer reads the record of the interrupted
 * thread (through the thread pointer: initial-exec TLS sits at the same
 * offset in every thread) and restarts the call with the remaining time,
 * or completes it as timed out when none is left.
 *
 * A call made without these wrappers (a raw syscall(2)) has no record: it
 * is restarted with its whole timeout, so it may return later than it
 * would have, never earlier and never with EINTR.
 */
#include "internal.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

/* gh__tl_wait is defined in world.c, part of the core. */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The system's function behind ours: resolved by the constructor below,
 * or at the first call if another library's constructor calls first
 * (dlsym takes the loader's lock, which a pass holds for its length: not
 * something to do on every thread's first wait). */
#define NEXT(name)                                                                  \
	if (!next_##name)                                                           \
		next_##name = (name##_fn)dlsym(RTLD_NEXT, #name);                   \
	if (!next_##name) {                                                         \
		errno = ENOSYS;                                                     \
		return -1;                                                          \
	}

typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
typedef int (*sigtimedwait_fn)(const sigset_t *, siginfo_t *, const struct timespec *);
typedef int (*semtimedop_fn)(int, struct sembuf *, size_t, const struct timespec *);

static epoll_ctl_fn next_epoll_ctl;
static epoll_wait_fn next_epoll_wait;
static epoll_pwait_fn next_epoll_pwait;
static sigtimedwait_fn next_sigtimedwait;
static semtimedop_fn next_semtimedop;

__attribute__((constructor(103))) static void resolve_next(void)
{
	next_epoll_ctl = (epoll_ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");
	next_epoll_wait = (epoll_wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
	next_epoll_pwait = (epoll_pwait_fn)dlsym(RTLD_NEXT, "epoll_pwait");
	next_sigtimedwait = (sigtimedwait_fn)dlsym(RTLD_NEXT, "sigtimedwait");
	next_semtimedop = (semtimedop_fn)dlsym(RTLD_NEXT, "semtimedop");
}

GH_INLINE void begin(long nr, long timeout_ms, const struct timespec *ts)
{
	gh__tl_wait.nr = nr;
	gh__tl_wait.timeout_ms = timeout_ms;
	if (ts) {
		gh__tl_wait.timeout = *ts;
		gh__tl_wait.has_timeout = true;
	} else {
		gh__tl_wait.has_timeout = false;
	}
	gh__tl_wait.start_ns = mono_ns();
	__atomic_store_n(&gh__tl_wait.active, 1, __ATOMIC_RELEASE);
}

GH_INLINE void end(void)
{
	__atomic_store_n(&gh__tl_wait.active, 0, __ATOMIC_RELEASE);
}

/* Not a wait: the registrations' data are roots (epoll_roots.c), noted
 * before the kernel has them. The debug server's own event loop runs in the
 * GH_TYPE_INTERNAL scope: its connections are glassheap's, not roots. */
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	NEXT(epoll_ctl);
	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && gh__tl.scope_type != GH_TYPE_INTERNAL)
		gh__epoll_note(epfd);
	return next_epoll_ctl(epfd, op, fd, event);
}

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	NEXT(epoll_wait);
	begin(SYS_epoll_wait, timeout, NULL);
	int r = next_epoll_wait(epfd, events, maxevents, timeout);
	int e = errno;
	end();
	errno = e;
	return r;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *mask)
{
	NEXT(epoll_pwait);
	begin(SYS_epoll_pwait, timeout, NULL);
	int r = next_epoll_pwait(epfd, events, maxevents, timeout, mask);
	int e = errno;
	end();
	errno = e;
	return r;
}

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	NEXT(sigtimedwait);
	begin(SYS_rt_sigtimedwait, -1, timeout);
	int r = next_sigtimedwait(set, info, timeout);
	int e = errno;
	end();
	errno = e;
	return r;
}

EXPORT int semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout)
{
	NEXT(semtimedop);
	begin(SYS_semtimedop, -1, timeout);
	int r = next_semtimedop(semid, sops, nsops, timeout);
	int e = errno;
	end();
	errno = e;
	return r;
}
