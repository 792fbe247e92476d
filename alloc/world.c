/*
 * world.c -- stopping and resuming every thread of the process.
 *
 * Two methods (GLASSHEAP_STOP=auto|ptrace|signal, default auto):
 *
 * ptrace (preferred). A tracer task -- a clone of the requesting thread
 * that shares the address space (CLONE_VM) but is a process of its own, as
 * the kernel requires of a tracer -- seizes every thread (PTRACE_SEIZE +
 * PTRACE_INTERRUPT), reads its registers (PTRACE_GETREGSET), and holds it
 * until the requester has marked; then it lets them go (PTRACE_DETACH). A
 * ptrace stop needs no cooperation from the thread: it reaches threads
 * that block every signal, threads exiting inside glibc with signals
 * blocked, and it runs no handler, so a blocking call the stop interrupted
 * is restarted by the kernel with its remaining time (nanosleep, poll,
 * select, read, futex...). The few calls the kernel ends with EINTR after
 * any stop (epoll_wait, epoll_pwait, rt_sigtimedwait, semtimedop) are
 * re-issued by the tracer, which rewrites the thread's registers before
 * letting it go, unless a real signal is pending for that thread.
 *
 *   requester (server thread)          tracer (CLONE_VM task)        threads
 *   clone ──────────────────────────▶ seize + interrupt ──────────▶ ptrace stop
 *   PR_SET_PTRACER, "go"               getregset, slots filled
 *   wait ◀──────────────────────────── "stopped"
 *   ... mark (must not allocate) ...
 *   "resume" ─────────────────────────▶ fix EINTR calls, detach ───▶ run
 *   reap the tracer ◀───────────────── exit
 *
 * The tracer shares the requester's thread pointer (no CLONE_SETTLS): it
 * calls no libc function (raw syscalls only), so it never touches errno,
 * locks or the heap.
 *
 * signal (fallback: ptrace refused -- a debugger already attached, seccomp,
 * a security module). Each thread gets a real-time signal
 * (GLASSHEAP_STOP_SIGNAL, default SIGRTMIN+7) with tgkill; the handler
 * saves the interrupted registers into the thread's slot and sleeps on a
 * futex until the epoch moves. Its costs are visible to the host: the
 * handler makes interrupted calls such as nanosleep and epoll_wait return
 * EINTR, and a thread that blocks the signal cannot be stopped. Such a
 * thread is accepted as held only when it blocks every signal the process
 * catches and sleeps in a futex wait without timeout (glibc's thread exit
 * path waiting for a lock is the common case); it is then "blocked", its
 * stack pointer read from /proc, its registers unknown: the pass is inexact
 * and frees nothing (mark.c). Only a running thread can wake it, so it is
 * checked again once every other thread is parked or gone: the lock's
 * holder may have released it on its way out (unhold_moved).
 *
 * Both methods re-list /proc/self/task until no new thread appears, so
 * threads started during the stop are caught; threads that exit meanwhile
 * are dropped. A thread inside one of the allocator's non-atomic windows
 * (gh__tl_stop_window: realloc rewriting a header, a few stores, never a call)
 * is let run to the window's end (signal: the handler returns and the
 * thread is signalled again; ptrace: single steps).
 *
 * The slots are mapped for the kernel's thread limit (threads-max): no
 * thread is ever left out silently. The process's memory map is read here
 * too (raw read of /proc/self/maps) so that stack scans are bounded by the
 * mapping that holds each stack pointer.
 */
#include "internal.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <cpuid.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

GH_TLS int gh__tl_stop_window;
GH_TLS struct gh_wait_rec gh__tl_wait;

struct gh_world gh__world;

static _Atomic uint32_t epoch;     /* futex word the parked handlers sleep on */
static _Atomic int in_handler;     /* handlers not yet returned */
static int stop_signal;
static pthread_mutex_t world_lock = PTHREAD_MUTEX_INITIALIZER;
static bool handler_installed;
static _Atomic pid_t ignored_tid;   /* test hook: a thread stops leave alone */
static enum gh_stop_method method_opt = GH_STOP_AUTO;
static bool ptrace_refused;         /* auto: ptrace failed once, use signals */

static void read_options(void);

/* tid -> slot index + 1, open addressing (0 = empty). Filled by the
 * requester before it signals a thread; read by the handlers. */
static _Atomic int32_t *slot_index;
static size_t index_mask;

void gh__world_ignore_thread(pid_t tid)
{
	atomic_store(&ignored_tid, tid);
}

/* The marker's helper threads (mark.c): they mark while the others are
 * stopped. Read by the tracer too (raw loads, no libc). */
#define EXEMPT_MAX 16
static _Atomic pid_t exempt_tids[EXEMPT_MAX];
static _Atomic int n_exempt;

void gh__world_exempt_add(pid_t tid)
{
	int i = atomic_fetch_add(&n_exempt, 1);
	if (i < EXEMPT_MAX)
		atomic_store(&exempt_tids[i], tid);
}

void gh__world_exempt_clear(void)
{
	for (int i = 0; i < EXEMPT_MAX; i++)
		atomic_store(&exempt_tids[i], 0);
	atomic_store(&n_exempt, 0);
}

/* Called by the tracer too: no instrumentation (see TRACER). */
__attribute__((no_sanitize("address", "thread", "undefined"), noinline)) static bool exempt(pid_t tid)
{
	int n = atomic_load_explicit(&n_exempt, memory_order_acquire);
	for (int i = 0; i < n && i < EXEMPT_MAX; i++)
		if (atomic_load_explicit(&exempt_tids[i], memory_order_relaxed) == tid)
			return true;
	return false;
}

void gh__world_set_method(enum gh_stop_method m)
{
	pthread_mutex_lock(&world_lock);
	read_options();
	method_opt = m;
	ptrace_refused = false;
	pthread_mutex_unlock(&world_lock);
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

const char *gh__world_method_name(void)
{
	return gh__world.method == GH_STOP_PTRACE ? "ptrace" : "signal";
}

/* ---- Slots ---------------------------------------------------------------------------- */

/* The stop handler and the requester share the slots through the signal
 * itself (written before tgkill, read in the handler) and the futex: an
 * order ThreadSanitizer does not see. The functions that read across it are
 * not instrumented (like the marker, mark.c's GH_MARKER). */
#define GH_STOP_PROTOCOL __attribute__((no_sanitize("thread")))

GH_STOP_PROTOCOL static size_t hash_tid(pid_t tid)
{
	return ((size_t)(uint32_t)tid * 2654435761u) & index_mask;
}

GH_STOP_PROTOCOL static struct gh_thread_slot *slot_find(pid_t tid)
{
	for (size_t i = hash_tid(tid), n = 0; n <= index_mask; i = (i + 1) & index_mask, n++) {
		int32_t v = atomic_load_explicit(&slot_index[i], memory_order_acquire);
		if (v == 0)
			return NULL;
		if (gh__world.slots[v - 1].tid == tid)
			return &gh__world.slots[v - 1];
	}
	return NULL;
}

/* Adds tid (not yet known) as slot nslots; false when every slot is taken. */
static bool slot_add(pid_t tid)
{
	int ns = atomic_load(&gh__world.nslots);
	if ((size_t)ns >= gh__world.cap)
		return false;
	struct gh_thread_slot *s = &gh__world.slots[ns];
	memset(s, 0, sizeof *s);
	s->tid = tid;
	atomic_store(&s->state, GH_SLOT_SIGNAL);
	size_t i = hash_tid(tid);
	while (atomic_load_explicit(&slot_index[i], memory_order_relaxed) != 0)
		i = (i + 1) & index_mask;
	atomic_store_explicit(&slot_index[i], ns + 1, memory_order_release);
	atomic_store(&gh__world.nslots, ns + 1);
	return true;
}

static void slots_clear(void)
{
	int ns = atomic_load(&gh__world.nslots);
	atomic_store(&gh__world.nslots, 0);
	/* the index is only ever as full as the slots were */
	if ((size_t)ns * 4 < index_mask) {
		for (int k = 0; k < ns; k++) {
			size_t i = hash_tid(gh__world.slots[k].tid);
			while (atomic_load_explicit(&slot_index[i], memory_order_relaxed) != 0) {
				atomic_store_explicit(&slot_index[i], 0, memory_order_relaxed);
				i = (i + 1) & index_mask;
			}
		}
	} else {
		memset((void *)slot_index, 0, (index_mask + 1) * sizeof *slot_index);
	}
}

/* ---- The signal handler (async-signal-safe) ---------------------------------------------- */

/*
 * Vector registers. The kernel saves them in XSAVE's standard layout (the
 * signal frame's fpregs, ptrace's NT_X86_XSTATE): the FXSAVE area (x87/MMX
 * at 32, xmm0-15 at 160), its header at 512 (xstate_bv: which components
 * are not in their initial, all-zero state), then each component where
 * CPUID leaf 0xD says -- 2: the upper halves of ymm0-15, 6: the upper
 * halves of zmm0-15, 7: zmm16-31. Only the words that point into the heap
 * are kept.
 */
static struct {
	uint32_t off, size;
} xcomp[8];
static const unsigned xcomps[] = {2, 6, 7};

static void xsave_layout(void)
{
	for (size_t i = 0; i < sizeof xcomps / sizeof *xcomps; i++) {
		unsigned a = 0, b = 0, c = 0, d = 0;
		if (__get_cpuid_count(0xd, xcomps[i], &a, &b, &c, &d) && a && b) {
			xcomp[xcomps[i]].size = a;
			xcomp[xcomps[i]].off = b;
		}
	}
}

#define VREGS __attribute__((no_sanitize("address", "thread", "undefined")))

VREGS static void vwords_add(struct gh_thread_slot *s, const unsigned char *p, size_t bytes)
{
	for (size_t o = 0; o + 8 <= bytes; o += 8) {
		uint64_t w;
		__builtin_memcpy(&w, p + o, 8);
		if (!gh__cage_contains(w))
			continue;
		if (s->nvwords < GH_WORLD_NVWORDS)
			s->vwords[s->nvwords++] = w;
		else
			s->vwords_over = true;
	}
}

/* x: len bytes of an FXSAVE area, or of an XSAVE area (xsave). */
VREGS static void vwords_from(struct gh_thread_slot *s, const unsigned char *x, size_t len, bool xsave)
{
	s->nvwords = 0;
	s->vwords_over = false;
	if (!x || len < 512) {
		s->vwords_over = true;
		return;
	}
	uint64_t bv = ~(uint64_t)0;
	if (xsave && len >= 520)
		__builtin_memcpy(&bv, x + 512, 8);
	else
		xsave = false;
	if (bv & 1)
		for (int r = 0; r < 8; r++)
			vwords_add(s, x + 32 + 16 * r, 8); /* mm0-7 (the x87 registers' mantissas) */
	if (bv & 2)
		vwords_add(s, x + 160, 16 * 16); /* xmm0-15 */
	if (!xsave)
		return;
	for (size_t i = 0; i < sizeof xcomps / sizeof *xcomps; i++) {
		unsigned c = xcomps[i];
		if (((bv >> c) & 1) && xcomp[c].size && xcomp[c].off + xcomp[c].size <= len)
			vwords_add(s, x + xcomp[c].off, xcomp[c].size);
	}
}

/* The signal frame's saved vector state: extended (XSAVE) when the FXSAVE
 * area's software bytes carry FP_XSTATE_MAGIC1 and its size. */
VREGS static void vwords_from_frame(struct gh_thread_slot *s, const ucontext_t *uc)
{
	const unsigned char *fx = (const unsigned char *)uc->uc_mcontext.fpregs;
	size_t len = 512;
	bool xsave = false;
	if (fx) {
		uint32_t magic1, size;
		__builtin_memcpy(&magic1, fx + 464, 4);
		__builtin_memcpy(&size, fx + 468, 4);
		if (magic1 == 0x46505853u && size > 520) {
			xsave = true;
			len = size;
		}
	}
	vwords_from(s, fx, len, xsave);
}

GH_STOP_PROTOCOL static void stop_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	int saved_errno = errno;
	atomic_fetch_add(&in_handler, 1);
	struct gh_thread_slot *slot = slot_index ? slot_find(sys_gettid()) : NULL;
	if (!slot || gh__tl_stop_window) {
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
	for (int k = 0; k < NGREG && k < GH_WORLD_NREGS; k++)
		slot->regs[k] = (uintptr_t)uc->uc_mcontext.gregs[k];
	slot->nregs = NGREG < GH_WORLD_NREGS ? NGREG : GH_WORLD_NREGS;
	slot->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	slot->pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	vwords_from_frame(slot, uc);
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	slot->tp = tp;
	slot->held = GH_HELD_SIGNAL;
	atomic_store(&slot->state, GH_SLOT_STOPPED);
	while (atomic_load(&epoch) == my_epoch)
		sys_futex(&epoch, FUTEX_WAIT_PRIVATE, my_epoch, NULL);
	atomic_fetch_sub(&in_handler, 1);
	errno = saved_errno;
}

/* ---- Set-up (may allocate: runs before the stop) ------------------------------------------ */

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

static long read_long_file(const char *path, long dflt)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	return v > 0 ? v : dflt;
}

static void read_options(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	const char *m = getenv("GLASSHEAP_STOP");
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	/* A sanitizer's runtime keeps per-thread state behind the thread
	 * pointer, which the tracer would share with its parent. */
	method_opt = GH_STOP_SIGNAL;
#endif
	if (m && *m) {
		if (strcmp(m, "ptrace") == 0)
			method_opt = GH_STOP_PTRACE;
		else if (strcmp(m, "signal") == 0)
			method_opt = GH_STOP_SIGNAL;
		else if (strcmp(m, "auto") == 0)
			method_opt = GH_STOP_AUTO;
		else
			gh__log("GLASSHEAP_STOP=%s ignored: want auto, ptrace or signal", m);
	}
}

#define TRACER_STACK ((size_t)256 << 10)
static char *tracer_stack;

int gh__world_prepare(void)
{
	pthread_mutex_lock(&world_lock);
	read_options();
	static pthread_once_t layout_once = PTHREAD_ONCE_INIT;
	pthread_once(&layout_once, xsave_layout);
	int rc = install_handler();
	/* Each table is mapped until it exists: after a failed attempt (out of
	 * address space) the next one maps what is still missing. */
	if (rc == 0 && !gh__world.slots) {
		size_t cap = (size_t)read_long_file("/proc/sys/kernel/threads-max", 1 << 20);
		cap = cap < 1024 ? 1024 : cap > ((size_t)1 << 22) ? (size_t)1 << 22 : cap;
		size_t idx = 1;
		while (idx < 2 * cap)
			idx <<= 1;
		slot_index = gh__meta_map(idx * sizeof *slot_index);
		gh__world.slots = slot_index ? gh__meta_map(sizeof(struct gh_thread_slot) * cap) : NULL;
		if (gh__world.slots) {
			gh__world.cap = cap;
			index_mask = idx - 1;
		}
	}
	if (rc == 0 && !gh__world.maps_buf) {
		/* A line of /proc/self/maps is ~100 bytes and a process has at
		 * most vm.max_map_count mappings: room for all of them. */
		size_t maps = (size_t)read_long_file("/proc/sys/vm/max_map_count", 65530) + 1024;
		gh__world.ranges = gh__meta_map(sizeof(struct gh_range) * maps);
		gh__world.maps_buf = gh__world.ranges ? gh__meta_map(maps * 256) : NULL;
		if (gh__world.maps_buf) {
			gh__world.ranges_cap = maps;
			gh__world.maps_cap = maps * 256;
		}
	}
	if (rc == 0 && !tracer_stack && method_opt != GH_STOP_SIGNAL)
		tracer_stack = gh__meta_map(TRACER_STACK);
	if (rc == 0 && (!gh__world.slots || !gh__world.maps_buf))
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

bool gh__world_busy(void)
{
	if (pthread_mutex_trylock(&world_lock) != 0)
		return true;
	pthread_mutex_unlock(&world_lock);
	return false;
}

/* fork waits for a pass to end: a child must not inherit a stop half done
 * (the world lock, the loader's lock the pass holds, parked handlers). */
void gh__world_atfork_prepare(void)
{
	pthread_mutex_lock(&world_lock);
}

void gh__world_atfork_parent(void)
{
	pthread_mutex_unlock(&world_lock);
}

void gh__world_atfork_child(void)
{
	pthread_mutex_init(&world_lock, NULL);
}

/* ---- Threads and maps, read without allocating ------------------------------------------ */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static pid_t parse_tid(const char *s)
{
	pid_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return *s ? 0 : v;
}

/* Reads a small /proc file into buf (NUL-terminated); its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The value of "Key:\t..." in a /proc status text, or NULL. */
static const char *status_field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	return NULL;
}

static uint64_t parse_hex(const char *p)
{
	uint64_t v = 0;
	for (;; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v * 16 + (uint64_t)d;
	}
}

static uint64_t parse_dec(const char *p)
{
	uint64_t v = 0;
	while (p && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

int gh__world_read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t len = gh__read_fd(fd, gh__world.maps_buf, gh__world.maps_cap - 1);
	/* within a page of the end: the table may have been cut */
	bool full = len + 4096 > gh__world.maps_cap;
	close(fd);
	gh__world.maps_buf[len] = '\0';
	size_t nr = 0;
	gh__world.main_stack.lo = gh__world.main_stack.hi = 0;
	char *p = gh__world.maps_buf;
	while (*p) {
		char *end;
		uintptr_t lo = (uintptr_t)strtoull(p, &end, 16);
		uintptr_t hi = (uintptr_t)strtoull(end + 1, &end, 16);
		bool readable = end[1] == 'r';
		char *nl = strchr(end, '\n');
		if (readable && hi > lo) {
			if (nr == gh__world.ranges_cap) {
				full = true;
				break;
			}
			gh__world.ranges[nr].lo = lo;
			gh__world.ranges[nr].hi = hi;
			nr++;
			char *name = nl ? nl : end + strlen(end);
			if (name - end > 7 && memcmp(name - 7, "[stack]", 7) == 0) {
				gh__world.main_stack.lo = lo;
				gh__world.main_stack.hi = hi;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	gh__world.nranges = nr;
	return full ? E2BIG : 0;
}

size_t gh__world_range_above(uintptr_t addr)
{
	/* /proc/self/maps is sorted by address */
	return gh__range_above(gh__world.ranges, gh__world.nranges, addr);
}

bool gh__world_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	size_t i = gh__world_range_above(addr);
	if (i == gh__world.nranges || addr < gh__world.ranges[i].lo)
		return false;
	*lo = gh__world.ranges[i].lo;
	*hi = gh__world.ranges[i].hi;
	return true;
}

/* A task's state letter from /proc/self/task/<tid>/stat, or 0. */
static char task_state(pid_t tid)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	if (read_small(path, text, sizeof text) <= 0)
		return 0;
	const char *last = strrchr(text, ')'); /* comm may hold ')' */
	return last && last[1] == ' ' ? last[2] : 0;
}

bool gh__world_host_gone(pid_t keep)
{
	pid_t pid = getpid();
	char st = pid == keep ? 'Z' : task_state(pid);
	if (st != 'Z' && st != 'X' && st != 0)
		return false; /* the main thread runs: the cheap, common answer */
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	bool gone = true;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n && gone;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			off += d->d_reclen;
			pid_t tid = parse_tid(d->d_name);
			if (tid <= 0 || tid == keep)
				continue;
			char ts = task_state(tid);
			gone = ts == 'Z' || ts == 'X' || ts == 0;
		}
	}
	close(fd);
	return gone;
}

/* ==== The signal method ==================================================================== */

/* Adds every tid of /proc/self/task not yet in a slot. Returns the number
 * added, -1 when /proc cannot be read, -2 when the slots are exhausted. */
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
			pid_t tid = parse_tid(d->d_name);
			if (tid <= 0 || tid == self || tid == atomic_load_explicit(&ignored_tid, memory_order_relaxed) ||
			    exempt(tid))
				continue;
			if (slot_find(tid))
				continue;
			if (!slot_add(tid)) {
				close(fd);
				return -2;
			}
			added++;
		}
	}
	close(fd);
	return added;
}

static bool task_exists(pid_t tid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

/* A thread that has not answered the signal: can it be held without it?
 * Only if it blocks the signal and every signal the process catches (no
 * handler can run on it), and sleeps in a futex wait without timeout: then
 * only a running thread could wake it. Whether one did is checked once no
 * other thread runs (unhold_moved). */
static bool hold_blocked(struct gh_thread_slot *s)
{
	char path[64], text[2048];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)s->tid);
	if (read_small(path, text, sizeof text) < 0)
		return false;
	const char *blk = status_field(text, "SigBlk");
	const char *cgt = status_field(text, "SigCgt");
	const char *state = status_field(text, "State");
	if (!blk || !cgt || !state || (*state != 'S' && *state != 'D'))
		return false;
	uint64_t blocked = parse_hex(blk);
	if (!((blocked >> (stop_signal - 1)) & 1))
		return false; /* the signal can reach it: keep waiting */
	/* glibc's own signals (SIGCANCEL 32, SIGSETXID 33) left unblocked come
	 * only from pthread_cancel and the set*id calls of this process's other
	 * threads, none of which runs during the pass */
	const uint64_t glibc_internal = UINT64_C(3) << 31;
	if (parse_hex(cgt) & ~blocked & ~glibc_internal)
		return false; /* a handler could run on it during the pass */
	uint64_t switches = parse_dec(status_field(text, "voluntary_ctxt_switches")) +
			    parse_dec(status_field(text, "nonvoluntary_ctxt_switches"));
	/* "nr arg1 ... arg6 sp pc" while it sleeps in a system call */
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)s->tid);
	if (read_small(path, text, sizeof text) <= 0)
		return false;
	char *p = text;
	long nr = strtol(p, &p, 10);
	uint64_t args[8];
	for (int i = 0; i < 8; i++) {
		while (*p == ' ')
			p++;
		if (p[0] != '0' || p[1] != 'x')
			return false;
		args[i] = parse_hex(p + 2);
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	int op = (int)args[1] & FUTEX_CMD_MASK;
	if (nr != SYS_futex || (op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET && op != FUTEX_LOCK_PI) || args[3] != 0)
		return false;
	s->sp = (uintptr_t)args[6];
	s->pc = (uintptr_t)args[7];
	s->tp = 0;
	s->nregs = 0;
	s->nvwords = 0;
	s->vwords_over = true; /* (registers unknown: the pass frees nothing anyway) */
	s->switches = switches;
	s->held = GH_HELD_BLOCKED;
	return true;
}

/* Is the held thread s still asleep in the very wait it was held in (no
 * code run since: same stack pointer, call site and context switches)? */
static bool blocked_still(const struct gh_thread_slot *s)
{
	struct gh_thread_slot again = {.tid = s->tid};
	return hold_blocked(&again) && again.sp == s->sp && again.pc == s->pc && again.switches == s->switches;
}

/*
 * Called when every thread is parked, held or gone: a held thread can only
 * have been woken by a thread that ran until then -- typically one that
 * held the lock it waits for, released it and exited (then marked gone).
 * Such a thread is no longer held: it goes back to waiting for the signal
 * it still has pending (or for its exit). Returns how many went back.
 * Once this finds none, nothing that runs is left to wake a held thread.
 */
static int unhold_moved(void)
{
	int moved = 0;
	for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		if (s->held != GH_HELD_BLOCKED || blocked_still(s))
			continue;
		s->held = 0;
		s->sent_ns = now_ns();
		atomic_store(&s->state, GH_SLOT_SENT);
		moved++;
	}
	return moved;
}


static int stop_by_signal(pid_t self, pid_t *unresponsive)
{
	pid_t pid = getpid();
	atomic_store(&gh__world.stop_epoch, atomic_load(&epoch));
	int added = add_new_threads(self);
	if (added < 0)
		return added == -2 ? E2BIG : EIO;
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
				uint64_t waited = now_ns() - s->sent_ns;
				if (waited > 10000000u && hold_blocked(s)) {
					/* Claim the slot; a handler that ran meanwhile wins. */
					int expect = GH_SLOT_SENT;
					if (atomic_compare_exchange_strong(&s->state, &expect, GH_SLOT_STOPPED))
						continue;
				}
				pending = true;
				if (waited > 1000000u && !task_exists(s->tid))
					atomic_store(&s->state, GH_SLOT_GONE);
			}
		}
		if (!pending) {
			/* Everyone known is parked: catch threads created meanwhile,
			 * then make sure no held thread was woken before its waker
			 * stopped or exited. */
			added = add_new_threads(self);
			if (added == 0 && unhold_moved() == 0)
				break;
			if (added < 0) {
				gh__world_resume();
				return added == -2 ? E2BIG : EIO;
			}
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

static void resume_signal(void)
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

/* ==== The ptrace method ==================================================================== */

/*
 * Everything the tracer runs is below: raw system calls only. It shares the
 * requester's address space and thread pointer, so a libc call could write
 * the requester's errno or take a lock the requester holds; a sanitizer's
 * instrumentation would use the requester's per-thread state. Hence
 * TRACER: no instrumentation, no calls out of this file but the kernel.
 */
#define TRACER __attribute__((no_sanitize("address", "thread", "undefined"), noinline))

enum { PH_START, PH_GO, PH_STOPPED, PH_FAILED, PH_RESUME, PH_DONE };

struct tracer_ctl {
	_Atomic uint32_t phase;
	int err;                /* PH_FAILED: why */
	pid_t pid, self, ignored, unresponsive;
	uint64_t timeout_ns;
	intptr_t unsafe_off;    /* &gh__tl_stop_window - thread pointer, the same for every thread */
	intptr_t wait_off;      /* &gh__tl_wait - thread pointer */
	char task_dir[48];      /* "/proc/<pid>/task" */
	char task_path[64];     /* scratch for "/proc/<pid>/task/<tid>/..." */
	char text[2048];        /* scratch for /proc reads */
	char dents[4096];
};

static struct tracer_ctl *tctl;

TRACER static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define RAW(n, a, b, c, d) raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

TRACER static uint64_t t_now(void)
{
	struct timespec ts;
	RAW(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0, 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TRACER static void t_sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};
	RAW(SYS_nanosleep, &ts, 0, 0, 0);
}

TRACER static void t_wake(_Atomic uint32_t *w)
{
	RAW(SYS_futex, w, FUTEX_WAKE, INT32_MAX, 0);
}

TRACER static void t_set_phase(uint32_t ph)
{
	atomic_store(&tctl->phase, ph);
	t_wake(&tctl->phase);
}

/* Appends decimal v to s (no libc). */
TRACER static char *t_utoa(char *s, unsigned long v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*s++ = tmp[--n];
	*s = '\0';
	return s;
}

/* Reads /proc/<pid>/task/<tid>/<leaf> into tctl->text; length or -1. */
TRACER static long t_read_task(pid_t tid, const char *leaf)
{
	char *p = tctl->task_path;
	for (const char *q = tctl->task_dir; *q;)
		*p++ = *q++;
	*p++ = '/';
	p = t_utoa(p, (unsigned long)tid);
	*p++ = '/';
	while (*leaf)
		*p++ = *leaf++;
	*p = '\0';
	long fd = RAW(SYS_openat, AT_FDCWD, tctl->task_path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	long n = RAW(SYS_read, fd, tctl->text, sizeof tctl->text - 1, 0);
	RAW(SYS_close, fd, 0, 0, 0);
	if (n < 0)
		return -1;
	tctl->text[n] = '\0';
	return n;
}

/* A task that will never stop: dead, or a zombie (a main thread that
 * called pthread_exit while others run). */
TRACER static bool t_dead(pid_t tid)
{
	if (t_read_task(tid, "stat") <= 0)
		return true;
	/* "tid (comm) S ...": comm may hold spaces and parentheses */
	const char *last = NULL;
	for (const char *q = tctl->text; *q; q++)
		if (*q == ')')
			last = q;
	return last && (last[2] == 'Z' || last[2] == 'X');
}

/* Deliverable signals pending for tid (thread or process), from status. */
TRACER static bool t_signal_pending(pid_t tid)
{
	if (t_read_task(tid, "status") <= 0)
		return false;
	uint64_t pnd = 0, shd = 0, blk = 0;
	for (const char *p = tctl->text; *p;) {
		uint64_t *dst = NULL;
		if (p[0] == 'S' && p[1] == 'i' && p[2] == 'g' && p[3] == 'P' && p[4] == 'n' && p[5] == 'd')
			dst = &pnd;
		else if (p[0] == 'S' && p[1] == 'h' && p[2] == 'd' && p[3] == 'P' && p[4] == 'n' && p[5] == 'd')
			dst = &shd;
		else if (p[0] == 'S' && p[1] == 'i' && p[2] == 'g' && p[3] == 'B' && p[4] == 'l' && p[5] == 'k')
			dst = &blk;
		if (dst) {
			const char *v = p + 7;
			while (*v == '\t' || *v == ' ')
				v++;
			uint64_t x = 0;
			for (;; v++) {
				int d = *v >= '0' && *v <= '9' ? *v - '0' : *v >= 'a' && *v <= 'f' ? *v - 'a' + 10 : -1;
				if (d < 0)
					break;
				x = x * 16 + (uint64_t)d;
			}
			*dst = x;
		}
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
	}
	return ((pnd | shd) & ~blk) != 0;
}

TRACER static struct gh_thread_slot *t_find(pid_t tid)
{
	int ns = atomic_load(&gh__world.nslots);
	struct gh_thread_slot *s = slot_find(tid);
	return s && s - gh__world.slots < ns ? s : NULL;
}

/* Seizes and interrupts every task not yet known. Returns the number
 * added, -EPERM (and the like) when ptrace is refused, -E2BIG when the
 * slots are exhausted. */
TRACER static long t_attach_new(void)
{
	long fd = RAW(SYS_openat, AT_FDCWD, tctl->task_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return -EIO;
	long added = 0;
	for (;;) {
		long n = RAW(SYS_getdents64, fd, tctl->dents, sizeof tctl->dents, 0);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(tctl->dents + off);
			off += d->d_reclen;
			pid_t tid = 0;
			const char *c = d->d_name;
			for (; *c >= '0' && *c <= '9'; c++)
				tid = tid * 10 + (*c - '0');
			if (*c || tid <= 0 || tid == tctl->self || tid == tctl->ignored || exempt(tid) || t_find(tid))
				continue;
			if (!slot_add(tid)) {
				RAW(SYS_close, fd, 0, 0, 0);
				return -E2BIG;
			}
			struct gh_thread_slot *s = t_find(tid);
			long rc = RAW(SYS_ptrace, PTRACE_SEIZE, tid, 0, 0);
			/* a thread that is exiting answers EPERM (its exit state is
			 * set) or ESRCH: it is gone, not a refusal */
			if (rc == -ESRCH || (rc == -EPERM && t_dead(tid))) {
				atomic_store(&s->state, GH_SLOT_GONE);
				continue;
			}
			if (rc < 0) {
				atomic_store(&s->state, GH_SLOT_GONE);
				RAW(SYS_close, fd, 0, 0, 0);
				return rc;
			}
			s->held = GH_HELD_PTRACE; /* seized: must be detached */
			s->sent_ns = t_now();
			atomic_store(&s->state, GH_SLOT_SENT);
			if (RAW(SYS_ptrace, PTRACE_INTERRUPT, tid, 0, 0) < 0)
				atomic_store(&s->state, t_dead(tid) ? GH_SLOT_GONE : GH_SLOT_SENT);
			added++;
		}
	}
	RAW(SYS_close, fd, 0, 0, 0);
	return added;
}

/* Records one wait status of a seized thread. */
TRACER static void t_note_status(struct gh_thread_slot *s, int st)
{
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		s->held = 0;
		atomic_store(&s->state, GH_SLOT_GONE);
	} else if (WIFSTOPPED(st)) {
		/* Our interrupt (PTRACE_EVENT_STOP), or a signal on its way to
		 * the thread: held either way; that signal is delivered when the
		 * thread is let go. */
		if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP)
			s->pending_sig = WSTOPSIG(st);
		if (atomic_load(&s->state) == GH_SLOT_SENT)
			atomic_store(&s->state, GH_SLOT_STOPPED);
	}
}

/* Collects the stops that have happened. One wait per pending thread, by
 * tid: waiting for "any" tracee walks the tracer's whole list in the
 * kernel, quadratic with thousands of threads. */
TRACER static void t_reap_stops(void)
{
	for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_SENT)) >= 0;) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		int st = 0;
		long w = RAW(SYS_wait4, s->tid, &st, __WALL | WNOHANG, 0);
		if (w == s->tid)
			t_note_status(s, st);
	}
}

TRACER static bool t_getregs(struct gh_thread_slot *s)
{
	struct user_regs_struct r;
	struct iovec io = {&r, sizeof r};
	if (RAW(SYS_ptrace, PTRACE_GETREGSET, s->tid, NT_PRSTATUS, &io) < 0)
		return false;
	const unsigned long *w = (const unsigned long *)&r;
	for (unsigned k = 0; k < GH_WORLD_NREGS && k < sizeof r / sizeof *w; k++)
		s->regs[k] = w[k];
	s->nregs = sizeof r / sizeof *w < GH_WORLD_NREGS ? sizeof r / sizeof *w : GH_WORLD_NREGS;
	s->sp = r.rsp;
	s->pc = r.rip;
	s->tp = r.fs_base;
	/* the vector registers: XSAVE layout, else FXSAVE's (NT_PRFPREG) */
	unsigned char xs[4096] __attribute__((aligned(64)));
	struct iovec xio = {xs, sizeof xs};
	if (RAW(SYS_ptrace, PTRACE_GETREGSET, s->tid, NT_X86_XSTATE, &xio) >= 0) {
		vwords_from(s, xs, xio.iov_len, true);
	} else {
		xio.iov_len = 512;
		if (RAW(SYS_ptrace, PTRACE_GETREGSET, s->tid, NT_PRFPREG, &xio) >= 0)
			vwords_from(s, xs, xio.iov_len, false);
		else
			vwords_from(s, NULL, 0, false);
	}
	return true;
}

/* A thread stopped inside an allocator window steps to its end. */
TRACER static void t_leave_window(struct gh_thread_slot *s)
{
	for (int step = 0; step < 100000; step++) {
		if (!s->tp || *(volatile int *)(s->tp + (uintptr_t)tctl->unsafe_off) == 0)
			return;
		if (RAW(SYS_ptrace, PTRACE_SINGLESTEP, s->tid, 0, 0) < 0)
			return;
		for (;;) {
			int st = 0;
			long w = RAW(SYS_wait4, s->tid, &st, __WALL, 0);
			if (w == -EINTR)
				continue;
			if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
				s->held = 0;
				atomic_store(&s->state, GH_SLOT_GONE);
				return;
			}
			if (WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP)
				s->pending_sig = WSTOPSIG(st);
			break;
		}
		if (!t_getregs(s))
			return;
	}
}

/* System calls the kernel ends with EINTR after any stop, even one that ran
 * no handler: issue them again, unless a real signal is on its way. With a
 * timeout, the call goes on for what is left of it (waits.c noted when it
 * began), or ends as timed out when nothing is left; without that note it
 * restarts with its whole timeout: it can end later than it would have,
 * never earlier, never with EINTR. */
TRACER static void t_restart_syscall(struct gh_thread_slot *s)
{
	/* the registers read at the stop (user_regs_struct order): only a
	 * system call that ended with EINTR needs a second look */
	const unsigned rax = offsetof(struct user_regs_struct, rax) / sizeof(unsigned long);
	const unsigned orig = offsetof(struct user_regs_struct, orig_rax) / sizeof(unsigned long);
	if (s->nregs <= orig || (long)s->regs[orig] < 0 || (long)s->regs[rax] != -EINTR)
		return;
	struct user_regs_struct r;
	struct iovec io = {&r, sizeof r};
	if (RAW(SYS_ptrace, PTRACE_GETREGSET, s->tid, NT_PRSTATUS, &io) < 0)
		return;
	if ((long)r.orig_rax < 0 || (long)r.rax != -EINTR || s->pending_sig)
		return;
	long nr = (long)r.orig_rax;
	switch (nr) {
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_rt_sigtimedwait:
	case SYS_semtimedop:
	case SYS_semop:
		break;
	default:
		return;
	}
	if (t_signal_pending(s->tid))
		return;
	struct gh_wait_rec *w = s->tp ? (struct gh_wait_rec *)(s->tp + (uintptr_t)tctl->wait_off) : NULL;
	/* glibc implements epoll_wait with the epoll_pwait system call */
	bool epoll = nr == SYS_epoll_wait || nr == SYS_epoll_pwait;
	bool noted = w && __atomic_load_n(&w->active, __ATOMIC_ACQUIRE) &&
		     (w->nr == nr || (epoll && (w->nr == SYS_epoll_wait || w->nr == SYS_epoll_pwait)));
	bool timed = false; /* noted, with a timeout */
	int64_t left_ns = 0;
	if (noted && epoll && w->timeout_ms >= 0) {
		timed = true;
		left_ns = (int64_t)w->timeout_ms * 1000000 - (int64_t)(t_now() - w->start_ns);
	} else if (noted && (nr == SYS_rt_sigtimedwait || nr == SYS_semtimedop) && w->has_timeout) {
		timed = true;
		left_ns = (int64_t)w->timeout.tv_sec * 1000000000 + w->timeout.tv_nsec - (int64_t)(t_now() - w->start_ns);
	}
	if (timed && epoll && left_ns < 1000000) {
		r.rax = 0; /* the timeout ran out while stopped: no events */
	} else if (timed && left_ns <= 0) {
		r.rax = (unsigned long)-EAGAIN; /* sigtimedwait / semtimedop timed out */
	} else {
		if (timed && epoll)
			r.r10 = (unsigned long)((left_ns + 999999) / 1000000); /* milliseconds, rounded up */
		if (timed && !epoll) {
			w->remaining.tv_sec = left_ns / 1000000000;
			w->remaining.tv_nsec = left_ns % 1000000000;
			if (nr == SYS_rt_sigtimedwait)
				r.rdx = (unsigned long)&w->remaining;
			else
				r.r10 = (unsigned long)&w->remaining;
		}
		r.rax = r.orig_rax;
		r.rip -= 2; /* back onto the 2-byte syscall instruction */
	}
	RAW(SYS_ptrace, PTRACE_SETREGSET, s->tid, NT_PRSTATUS, &io);
}

TRACER static void t_detach_all(bool fix_syscalls)
{
	int ns = atomic_load(&gh__world.nslots);
	for (int i = 0; i < ns; i++) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		if (s->held != GH_HELD_PTRACE)
			continue;
		if (atomic_load(&s->state) != GH_SLOT_STOPPED) {
			/* seized, interrupt pending: wait (bounded) for the stop the
			 * detach needs; a thread that never stops is released when
			 * the tracer exits */
			uint64_t t0 = t_now();
			while (atomic_load(&s->state) == GH_SLOT_SENT && t_now() - t0 < 100000000u && !t_dead(s->tid)) {
				t_reap_stops();
				if (atomic_load(&s->state) == GH_SLOT_SENT)
					t_sleep_us(100);
			}
			if (atomic_load(&s->state) != GH_SLOT_STOPPED)
				continue;
		}
		if (fix_syscalls)
			t_restart_syscall(s);
		RAW(SYS_ptrace, PTRACE_DETACH, s->tid, 0, s->pending_sig);
	}
}

TRACER static int tracer_main(void *arg)
{
	(void)arg;
	uint64_t all = ~UINT64_C(0);
	RAW(SYS_rt_sigprocmask, SIG_BLOCK, &all, 0, 8);
	/* If the process dies during the stop (killed, or crashed), the
	 * requester never says "resume": die with it rather than wait forever,
	 * a process that holds the whole address space. */
	RAW(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
	if (RAW(SYS_getppid, 0, 0, 0, 0) != tctl->pid)
		return 0; /* it died before the line above */
	while (atomic_load(&tctl->phase) == PH_START)
		RAW(SYS_futex, &tctl->phase, FUTEX_WAIT, PH_START, 0);
	uint64_t deadline = t_now() + tctl->timeout_ns;
	long rc = t_attach_new();
	for (;;) {
		if (rc < 0)
			break;
		t_reap_stops();
		bool pending = false;
		for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_SENT)) >= 0;) {
			struct gh_thread_slot *s = &gh__world.slots[i];
			/* a thread slow to stop may be a zombie: look, now and then */
			uint64_t now = t_now();
			if (now - s->sent_ns > 20000000u && now - s->probe_ns > 50000000u) {
				s->probe_ns = now;
				if (t_dead(s->tid)) {
					atomic_store(&s->state, GH_SLOT_GONE);
					continue;
				}
			}
			pending = true;
		}
		if (!pending) {
			rc = t_attach_new(); /* threads started meanwhile */
			if (rc == 0)
				break;
			continue;
		}
		if (t_now() > deadline) {
			int i = gh__world_slot_next(-1, GH_SLOT_SENT);
			if (i >= 0)
				tctl->unresponsive = gh__world.slots[i].tid;
			rc = -ETIMEDOUT;
			break;
		}
		t_sleep_us(50);
	}
	if (rc < 0) {
		t_detach_all(false);
		tctl->err = (int)-rc;
		t_set_phase(PH_FAILED);
		return 0;
	}
	for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;) {
		struct gh_thread_slot *s = &gh__world.slots[i];
		if (!t_getregs(s)) {
			atomic_store(&s->state, GH_SLOT_GONE); /* died while stopped */
			continue;
		}
		t_leave_window(s);
	}
	t_set_phase(PH_STOPPED);
	while (atomic_load(&tctl->phase) == PH_STOPPED)
		RAW(SYS_futex, &tctl->phase, FUTEX_WAIT, PH_STOPPED, 0);
	t_detach_all(true);
	t_set_phase(PH_DONE);
	return 0;
}

static pid_t tracer_pid;

static void tracer_wait_phase(uint32_t from, uint64_t limit_ns)
{
	uint64_t t0 = now_ns();
	uint32_t ph;
	while ((ph = atomic_load(&tctl->phase)) == from && now_ns() - t0 < limit_ns) {
		struct timespec ts = {0, 20000000};
		sys_futex(&tctl->phase, FUTEX_WAIT, from, &ts);
	}
}

static void tracer_reap(void)
{
	int st;
	while (syscall(SYS_wait4, tracer_pid, &st, __WALL, NULL) < 0 && errno == EINTR)
		;
	tracer_pid = 0;
}

static int stop_by_ptrace(pid_t self, pid_t *unresponsive)
{
	if (!tracer_stack)
		return EPERM;
	if (!tctl) {
		tctl = gh__meta_alloc(sizeof *tctl);
		if (!tctl)
			return ENOMEM;
	}
	memset(tctl, 0, sizeof *tctl);
	tctl->pid = getpid();
	tctl->self = self;
	tctl->ignored = atomic_load(&ignored_tid);
	tctl->timeout_ns = gh__world.timeout_ns;
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	tctl->unsafe_off = (intptr_t)((uintptr_t)&gh__tl_stop_window - tp);
	tctl->wait_off = (intptr_t)((uintptr_t)&gh__tl_wait - tp);
	snprintf(tctl->task_dir, sizeof tctl->task_dir, "/proc/%d/task", (int)tctl->pid);
	pid_t t = clone(tracer_main, tracer_stack + TRACER_STACK - 64, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED,
			NULL);
	if (t < 0)
		return EPERM;
	tracer_pid = t;
	prctl(PR_SET_PTRACER, (unsigned long)t, 0, 0, 0); /* Yama: let our tracer attach */
	atomic_store(&tctl->phase, PH_GO);
	sys_futex(&tctl->phase, FUTEX_WAKE, INT32_MAX, NULL);
	/* the tracer ends its own attempt at the timeout; a margin on top */
	tracer_wait_phase(PH_GO, gh__world.timeout_ns + 5000000000u);
	uint32_t ph = atomic_load(&tctl->phase);
	if (ph == PH_STOPPED)
		return 0;
	if (ph == PH_GO) {
		/* the tracer is stuck (it should not be): release everyone */
		kill(t, SIGKILL);
		tracer_reap();
		return ETIMEDOUT;
	}
	tracer_reap();
	if (tctl->err == ETIMEDOUT && unresponsive)
		*unresponsive = tctl->unresponsive;
	return tctl->err ? tctl->err : EIO;
}

static void resume_ptrace(void)
{
	atomic_store(&tctl->phase, PH_RESUME);
	sys_futex(&tctl->phase, FUTEX_WAKE, INT32_MAX, NULL);
	tracer_wait_phase(PH_RESUME, 10000000000u);
	if (atomic_load(&tctl->phase) != PH_DONE)
		kill(tracer_pid, SIGKILL); /* its tracees are let go when it dies */
	tracer_reap();
}

/* ==== Stop and resume ========================================================================== */

int gh__world_stop(pid_t *unresponsive)
{
	pid_t self = sys_gettid();
	int saved_errno = errno;
	/* Wait for handlers of an earlier stop that have not returned yet: they
	 * may still read the slots. */
	uint64_t t0 = now_ns();
	while (atomic_load(&in_handler) > 0 && now_ns() - t0 < gh__world.timeout_ns)
		sched_yield();
	slots_clear();
	gh__world.nblocked = 0;
	int rc = EPERM;
	bool try_ptrace = method_opt == GH_STOP_PTRACE || (method_opt == GH_STOP_AUTO && !ptrace_refused);
	if (try_ptrace) {
		rc = stop_by_ptrace(self, unresponsive);
		if (rc == 0) {
			gh__world.method = GH_STOP_PTRACE;
		} else if ((rc == EPERM || rc == EACCES || rc == ENOSYS) && method_opt == GH_STOP_AUTO) {
			ptrace_refused = true;
			gh__log("ptrace is not permitted here (%s): passes stop threads with signal %d "
				"(blocking calls may return EINTR)",
				strerror(rc), gh__world_stop_signal());
			slots_clear();
			try_ptrace = false;
		}
	}
	if (!try_ptrace) {
		rc = stop_by_signal(self, unresponsive);
		if (rc == 0)
			gh__world.method = GH_STOP_SIGNAL;
	}
	if (rc == 0) {
		for (int i = -1; (i = gh__world_slot_next(i, GH_SLOT_STOPPED)) >= 0;)
			if (gh__world.slots[i].held == GH_HELD_BLOCKED)
				gh__world.nblocked++;
	}
	errno = saved_errno;
	return rc;
}

void gh__world_resume(void)
{
	int saved_errno = errno;
	if (tracer_pid)
		resume_ptrace();
	else
		resume_signal();
	errno = saved_errno;
}
