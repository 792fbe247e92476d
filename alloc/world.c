/*
 * world.c -- stopping and resuming every thread of the process, without
 * ptrace (which fails in containers and under SELinux).
 *
 * gh__world_stop lists the threads from /proc/self/task (getdents64 into a
 * prepared buffer: nothing here allocates), sends each a real-time signal
 * (GLASSHEAP_STOP_SIGNAL, default SIGRTMIN+7; never SIGPWR, which container
 * managers use) with tgkill, and waits, bounded, until each has parked in
 * the handler. The handler saves the interrupted registers and stack pointer
 * and the thread pointer into the thread's slot, then sleeps on a futex
 * until gh__world_resume bumps the epoch. It re-lists until no new thread
 * appears, so threads started during the stop are caught; threads that exit
 * meanwhile (ESRCH, or gone from /proc) are dropped.
 *
 *   requester                         every other thread
 *   list tids ── tgkill ─────────────▶ handler: save regs, sp, tp
 *   wait for acks (bounded) ◀──────── ack; futex_wait(epoch)
 *   ... mark (must not allocate) ...
 *   epoch++ ; futex_wake ────────────▶ return from the handler
 *   wait until every handler left
 *
 * A thread inside one of the allocator's non-atomic windows (gh__tl_unsafe,
 * e.g. realloc rewriting a header in place: a few stores, never a call) does not
 * park: its handler returns at once and the requester signals it again a
 * moment later. A thread that never answers (signal blocked) makes the stop
 * fail with ETIMEDOUT after GLASSHEAP_STOP_TIMEOUT_MS (default 2000): every
 * thread already stopped is resumed.
 *
 * The process's memory map is read here too (raw read of /proc/self/maps) so
 * that stack scans are bounded by the mapping that holds each stack pointer.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <ucontext.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

GH_TLS int gh__tl_unsafe;

struct gh_world gh__world;

static _Atomic uint32_t epoch;     /* futex word the parked handlers sleep on */
static _Atomic int in_handler;     /* handlers not yet returned */
static int stop_signal;
static pthread_mutex_t world_lock = PTHREAD_MUTEX_INITIALIZER;
static bool handler_installed;
static _Atomic pid_t ignored_tid;   /* test hook: a thread stops leave alone */

void gh__world_ignore_thread(pid_t tid)
{
	atomic_store(&ignored_tid, tid);
}

static long sys_futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gh__now_ns(void)
{
	return now_ns();
}

/* ---- The handler (async-signal-safe) ------------------------------------------- */

static void stop_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	int saved_errno = errno;
	atomic_fetch_add(&in_handler, 1);
	pid_t tid = sys_gettid();
	struct gh_thread_slot *slot = NULL;
	int n = atomic_load(&gh__world.nslots);
	for (int i = 0; i < n; i++)
		if (gh__world.slots[i].tid == tid) {
			slot = &gh__world.slots[i];
			break;
		}
	if (!slot || gh__tl_unsafe) {
		/* Not ours to stop, or inside an allocator window: the requester
		 * retries this thread. */
		if (slot)
			atomic_store(&slot->state, GH_SLOT_RETRY);
		atomic_fetch_sub(&in_handler, 1);
		errno = saved_errno;
		return;
	}
	ucontext_t *uc = ucv;
	/* The epoch this stop started at (set before any signal was sent): if
	 * the requester already resumed, we do not park at all. */
	uint32_t my_epoch = atomic_load(&gh__world.stop_epoch);
	memcpy(slot->regs, uc->uc_mcontext.gregs, sizeof slot->regs);
	slot->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	slot->tp = tp;
	atomic_store(&slot->state, GH_SLOT_STOPPED);
	while (atomic_load(&epoch) == my_epoch)
		sys_futex(&epoch, FUTEX_WAIT_PRIVATE, my_epoch, NULL);
	atomic_fetch_sub(&in_handler, 1);
	errno = saved_errno;
}

/* ---- Set-up (may allocate: runs before the stop) -------------------------------- */

int gh__world_stop_signal(void)
{
	static int logged;
	int sig = SIGRTMIN + 7;
	const char *s = getenv("GLASSHEAP_STOP_SIGNAL");
	if (s && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end || v < 1 || v > SIGRTMAX || v == SIGKILL || v == SIGSTOP) {
			if (!logged++)
				gh__log("GLASSHEAP_STOP_SIGNAL=%s ignored: want a signal number 1..%d", s, SIGRTMAX);
		} else {
			sig = (int)v;
		}
	}
	return sig;
}

static int install_handler(void)
{
	if (handler_installed)
		return 0;
	stop_signal = gh__world_stop_signal();
	struct sigaction old;
	if (sigaction(stop_signal, NULL, &old) == 0 && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
		gh__log("signal %d already has a handler: set GLASSHEAP_STOP_SIGNAL to a free signal", stop_signal);
		return EBUSY;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = stop_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(stop_signal, &sa, NULL) != 0)
		return errno;
	handler_installed = true;
	return 0;
}

int gh__world_prepare(void)
{
	pthread_mutex_lock(&world_lock);
	int rc = install_handler();
	/* Each table is mapped until it exists: after a failed attempt (out of
	 * address space) the next one maps what is still missing. */
	if (rc == 0 && !gh__world.slots)
		gh__world.slots = gh__meta_map(sizeof(struct gh_thread_slot) * GH_WORLD_MAX_THREADS);
	if (rc == 0 && !gh__world.maps_buf) {
		gh__world.maps_buf = gh__meta_map((size_t)4 << 20);
		gh__world.maps_cap = gh__world.maps_buf ? (size_t)4 << 20 : 0;
	}
	if (rc == 0 && !gh__world.ranges)
		gh__world.ranges = gh__meta_map(sizeof(struct gh_range) * GH_WORLD_MAX_MAPS);
	if (rc == 0 && (!gh__world.slots || !gh__world.maps_buf || !gh__world.ranges))
		rc = ENOMEM;
	if (rc == 0) {
		const char *t = getenv("GLASSHEAP_STOP_TIMEOUT_MS");
		long ms = t ? strtol(t, NULL, 10) : 0;
		gh__world.timeout_ns = (uint64_t)(ms > 0 ? ms : 2000) * 1000000u;
	}
	if (rc != 0)
		pthread_mutex_unlock(&world_lock);
	return rc;
}

void gh__world_finish(void)
{
	pthread_mutex_unlock(&world_lock);
}

bool gh__world_trylock_pending(void)
{
	if (pthread_mutex_trylock(&world_lock) != 0)
		return true;
	pthread_mutex_unlock(&world_lock);
	return false;
}

/* ---- Threads and maps, read without allocating ---------------------------------- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Adds every tid of /proc/self/task not yet in a slot. Returns the number
 * added, or -1 when /proc cannot be read. */
static int add_new_threads(pid_t self)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	int added = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			off += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);
			if (tid == self || tid == atomic_load_explicit(&ignored_tid, memory_order_relaxed))
				continue;
			int ns = atomic_load(&gh__world.nslots);
			bool known = false;
			for (int i = 0; i < ns && !known; i++)
				known = gh__world.slots[i].tid == tid;
			if (known || ns >= GH_WORLD_MAX_THREADS)
				continue;
			struct gh_thread_slot *s = &gh__world.slots[ns];
			memset(s, 0, sizeof *s);
			s->tid = tid;
			atomic_store(&s->state, GH_SLOT_SIGNAL);
			atomic_store(&gh__world.nslots, ns + 1);
			added++;
		}
	}
	close(fd);
	return added;
}

static bool task_exists(pid_t tid)
{
	char path[64];
	/* no snprintf needed, but it does not allocate either */
	snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

int gh__world_read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t len = 0;
	for (;;) {
		if (len + 4096 > gh__world.maps_cap)
			break;
		ssize_t n = read(fd, gh__world.maps_buf + len, gh__world.maps_cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	gh__world.maps_buf[len] = '\0';
	size_t nr = 0;
	char *p = gh__world.maps_buf;
	while (*p && nr < GH_WORLD_MAX_MAPS) {
		char *end;
		uintptr_t lo = (uintptr_t)strtoull(p, &end, 16);
		uintptr_t hi = (uintptr_t)strtoull(end + 1, &end, 16);
		bool readable = end[1] == 'r';
		char *nl = strchr(end, '\n');
		if (readable && hi > lo) {
			gh__world.ranges[nr].lo = lo;
			gh__world.ranges[nr].hi = hi;
			nr++;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	gh__world.nranges = nr;
	return 0;
}

bool gh__world_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	size_t a = 0, b = gh__world.nranges;
	while (a < b) { /* /proc/self/maps is sorted by address */
		size_t m = (a + b) / 2;
		if (addr < gh__world.ranges[m].lo)
			b = m;
		else if (addr >= gh__world.ranges[m].hi)
			a = m + 1;
		else {
			*lo = gh__world.ranges[m].lo;
			*hi = gh__world.ranges[m].hi;
			return true;
		}
	}
	return false;
}

/* ---- Stop and resume ---------------------------------------------------------------- */

int gh__world_stop(pid_t *unresponsive)
{
	pid_t self = sys_gettid();
	pid_t pid = getpid();
	atomic_store(&gh__world.nslots, 0);
	atomic_store(&gh__world.stop_epoch, atomic_load(&epoch));
	/* Wait for handlers of an earlier stop that have not returned yet. */
	uint64_t t0 = now_ns();
	while (atomic_load(&in_handler) > 0 && now_ns() - t0 < gh__world.timeout_ns)
		sched_yield();
	if (add_new_threads(self) < 0)
		return EIO;
	uint64_t deadline = now_ns() + gh__world.timeout_ns;
	for (;;) {
		bool pending = false;
		int ns = atomic_load(&gh__world.nslots);
		for (int i = 0; i < ns; i++) {
			struct gh_thread_slot *s = &gh__world.slots[i];
			int st = atomic_load(&s->state);
			if (st == GH_SLOT_SIGNAL || st == GH_SLOT_RETRY) {
				atomic_store(&s->state, GH_SLOT_SENT);
				s->sent_ns = now_ns();
				if (syscall(SYS_tgkill, pid, s->tid, stop_signal) != 0)
					atomic_store(&s->state, GH_SLOT_GONE);
				pending = true;
			} else if (st == GH_SLOT_SENT) {
				pending = true;
				if (now_ns() - s->sent_ns > 200000000u && !task_exists(s->tid))
					atomic_store(&s->state, GH_SLOT_GONE);
			}
		}
		if (!pending) {
			/* Everyone known is parked: catch threads created meanwhile. */
			int added = add_new_threads(self);
			if (added == 0)
				break;
			continue;
		}
		if (now_ns() > deadline) {
			for (int i = 0; i < ns; i++)
				if (atomic_load(&gh__world.slots[i].state) == GH_SLOT_SENT) {
					if (unresponsive)
						*unresponsive = gh__world.slots[i].tid;
					break;
				}
			gh__world_resume();
			return ETIMEDOUT;
		}
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

void gh__world_resume(void)
{
	atomic_store(&epoch, atomic_load(&gh__world.stop_epoch) + 1);
	sys_futex(&epoch, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
	/* Threads signalled but not yet parked (a timed-out stop) see the new
	 * epoch and leave at once; wait, bounded, for all handlers to return
	 * so that the next stop starts clean. */
	uint64_t t0 = now_ns();
	while (atomic_load(&in_handler) > 0 && now_ns() - t0 < 1000000000u)
		sched_yield();
}
