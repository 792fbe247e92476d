/*
 * test_fork_step -- a fork at every instruction of another thread's malloc,
 * free and realloc.
 *
 * A fork's child keeps the threads it lost as the fork found them: anywhere
 * inside an allocator call, and the child's copy of memory holds a prefix of
 * that call's stores. A stepper thread runs a fixed list of calls with the
 * trap flag set (one SIGTRAP per instruction); at each instruction (all of
 * the first ones of each call, then one in STRIDE) it waits in its handler
 * while the main thread forks. The calls cover free's ring (empty slots,
 * pushing out a block of another class to the bin and to jemalloc), malloc
 * from the bin and from jemalloc, header (aligned) and large blocks, realloc
 * in place and moving. Each child:
 *   - reports no misuse, and the heap's structure checks clean;
 *   - sees every block the stepper held live (all but the one in flight) as
 *     live, with its type and size, and never hands one out, nor any block
 *     twice;
 *   - frees them all without a report; between two calls (no block in
 *     flight) the type's counters then read exactly zero, inside a call at
 *     most the call's two blocks (the one it frees or allocates, the one
 *     free's ring pushes out: a lost thread keeps what it was moving).
 * Before the fix the child took a ring slot written half-way (the new block
 * under the old block's start byte) as a corrupted block and aborted
 * (fork_threads on CI: "free: corrupted allocation metadata").
 *
 * x86-64 only (the trap flag); not under sanitizers (their own malloc).
 */
#include "internal.h"
#include "test.h"
#include "ring_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define GH_STEP_OK 1
#endif

#define NHELD 48
#define EVERY 200          /* steps of each call that may get a fork */
#define STRIDE 61          /* then one step in STRIDE */
#define MAX_STEPS 400000   /* all calls together */
#define MAX_FORKS 12000
#define HANDLER_WAIT_NS 5000000L /* the main thread stuck in fork this long: a lock the stepper holds */

enum { OP_MALLOC, OP_ALIGNED, OP_FREE, OP_REALLOC };
struct op {
	int kind, idx;
	size_t size;
	unsigned stride; /* a fork at one instruction in stride (1: each) */
};

static gh_type_t T;
static void *held[NHELD];
static size_t held_size[NHELD];
static volatile int in_flight = -1; /* the held[] index the current call changes */
static volatile int cur_op = -1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#ifdef GH_STEP_OK
/* ---- The stepper ---------------------------------------------------------------- */

static _Atomic int tracing;
static unsigned long steps, op_steps;  /* the stepper's own */
static unsigned op_stride;
static _Atomic unsigned long want;     /* step at which the stepper waits for a fork */
static _Atomic unsigned long done;     /* the last step the main thread forked for */
static _Atomic int forking;
static _Atomic unsigned long late;     /* waits given up: the main thread was stuck in fork */
static uintptr_t want_rip;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	if (!atomic_load(&tracing) || steps >= MAX_STEPS) {
		uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L;
		return;
	}
	unsigned long n = ++steps;
	unsigned long k = op_steps++;
	if (k < EVERY ? k % op_stride != 0 : k % STRIDE != 0)
		return;
	want_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	atomic_store(&want, n);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&done) < n) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ns = (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec);
		if (atomic_load(&forking) && ns > HANDLER_WAIT_NS) {
			atomic_fetch_add(&late, 1);
			return; /* step on: the fork waits for a lock this thread holds */
		}
		if (ns > 20000000000L)
			abort(); /* the main thread is gone */
	}
}

static inline void trap_on(void)
{
	__asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq" ::: "memory", "cc");
}
static inline void trap_off(void)
{
	__asm__ volatile("pushfq\n\tandq $~0x100, (%%rsp)\n\tpopfq" ::: "memory", "cc");
}

static const struct op *ops;
static int nops;
static _Atomic int stepper_done;

static void run_op(const struct op *o)
{
	void *p;
	in_flight = o->idx;
	switch (o->kind) {
	case OP_MALLOC:
		p = gh_malloc_typed(T, o->size);
		held[o->idx] = escape(p);
		held_size[o->idx] = o->size;
		break;
	case OP_ALIGNED:
		p = gh_aligned_alloc_typed(T, 256, o->size);
		held[o->idx] = escape(p);
		held_size[o->idx] = o->size;
		break;
	case OP_FREE:
		gh_free(escape(held[o->idx]));
		held[o->idx] = NULL;
		break;
	default:
		p = gh_realloc_typed(T, escape(held[o->idx]), o->size);
		held[o->idx] = escape(p);
		held_size[o->idx] = o->size;
		break;
	}
	in_flight = -1;
}

static void *stepper(void *arg)
{
	(void)arg;
	/* set up outside the trace: the thread's shard, its first bins */
	gh_free(escape(gh_malloc_typed(T, 8)));
	gh__free_drain();
	atomic_store(&tracing, 1);
	for (int i = 0; i < nops; i++) {
		cur_op = i;
		op_steps = 0;
		op_stride = ops[i].stride;
		trap_on();
		run_op(&ops[i]);
		trap_off();
		cur_op = -1;
	}
	atomic_store(&tracing, 0);
	atomic_store(&stepper_done, 1);
	return NULL;
}

/* ---- The child ------------------------------------------------------------------ */

static const size_t probe_sizes[] = {24, 40, 200, 500, 3000, 70000};

/* Bits of the child's exit status: what went wrong. */
enum {
	BAD_MISUSE = 1,
	BAD_STRUCTURE = 2,
	BAD_HELD = 4,
	BAD_HANDED_TWICE = 8,
	BAD_COUNT = 16,
	BAD_ALLOC = 32,
};

static int child_check(void)
{
	int bad = 0;
	int fl = in_flight;
	if (gh_heap_check(0) != 0)
		bad |= BAD_STRUCTURE;
	for (int j = 0; j < NHELD; j++) {
		if (!held[j] || j == fl)
			continue;
		if (gh_ptr_type(held[j]) != T || gh_ptr_size(held[j]) != held_size[j])
			bad |= BAD_HELD;
	}
	/* never a block the stepper held, never one twice */
	enum { PER = 24 };
	void *got[sizeof probe_sizes / sizeof probe_sizes[0]][PER];
	for (size_t s = 0; s < sizeof probe_sizes / sizeof probe_sizes[0]; s++)
		for (int i = 0; i < PER; i++) {
			char *p = escape(gh_malloc_typed(T, probe_sizes[s]));
			got[s][i] = p;
			if (!p) {
				bad |= BAD_ALLOC;
				continue;
			}
			memset(p, 0xa5, probe_sizes[s]);
			for (int j = 0; j < NHELD; j++)
				if (held[j] && j != fl && p < (char *)held[j] + held_size[j] &&
				    (char *)held[j] < p + probe_sizes[s])
					bad |= BAD_HANDED_TWICE;
		}
	for (size_t s = 0; s < sizeof probe_sizes / sizeof probe_sizes[0]; s++)
		for (int i = 0; i < PER; i++)
			for (size_t s2 = 0; s2 <= s; s2++)
				for (int i2 = 0; i2 < (s2 == s ? i : PER); i2++)
					if (got[s][i] && got[s][i] == got[s2][i2])
						bad |= BAD_HANDED_TWICE;
	for (int j = 0; j < NHELD; j++)
		if (held[j] && j != fl && (gh_ptr_type(held[j]) != T || gh_ptr_size(held[j]) != held_size[j]))
			bad |= BAD_HELD; /* a probe wrote over it */
	for (size_t s = 0; s < sizeof probe_sizes / sizeof probe_sizes[0]; s++)
		for (int i = 0; i < PER; i++)
			gh_free(got[s][i]);
	for (int j = 0; j < NHELD; j++)
		if (held[j] && j != fl)
			gh_free(held[j]);
	gh__free_drain();
	gh_type_stats_t st;
	if (gh_type_stats(T, &st) != 0)
		bad |= BAD_COUNT;
	else if (cur_op < 0 ? st.live_count != 0 : st.live_count > 2)
		bad |= BAD_COUNT;
	if (calls != 0)
		bad |= BAD_MISUSE;
	if (gh_heap_check(0) != 0)
		bad |= BAD_STRUCTURE;
	return bad;
}

/* The calls the stepper makes, in order: indexes into held[]. */
static struct op op_list[512];

static int build_ops(void)
{
	int n = 0;
#define OP(k, i, s) (op_list[n++] = (struct op){(k), (i), (s), 1})
	/* class A (40): the first from jemalloc, a bin refilled */
	for (int i = 0; i < 6; i++)
		OP(OP_MALLOC, i, 40);
	/* class B (500) */
	for (int i = 6; i < 10; i++)
		OP(OP_MALLOC, i, 500);
	/* four frees into empty ring slots */
	for (int i = 0; i < 4; i++)
		OP(OP_FREE, i, 0);
	/* B pushes out A (to the bin): the slot changes class */
	for (int i = 6; i < 10; i++)
		OP(OP_FREE, i, 0);
	/* from the bin again */
	for (int i = 0; i < 4; i++)
		OP(OP_MALLOC, i, 40);
	/* realloc within the class, then moving to another class */
	OP(OP_REALLOC, 4, 44);
	OP(OP_REALLOC, 5, 3000);
	OP(OP_REALLOC, 5, 24);
	/* a header block (aligned) and a large block */
	OP(OP_ALIGNED, 10, 100);
	OP(OP_MALLOC, 11, 70000);
	OP(OP_REALLOC, 11, 140000);
	OP(OP_FREE, 10, 0);
	OP(OP_FREE, 11, 0);
	/* more of class A than its bin holds (GH_BIN_CAP): frees that go on to
	 * jemalloc; the calls that only repeat one before, sampled */
	for (int i = 12; i < 12 + GH_BIN_CAP + 8; i++) {
		OP(OP_MALLOC, i, 40);
		op_list[n - 1].stride = i < 14 ? 1 : 5;
	}
	for (int i = 12; i < 12 + GH_BIN_CAP + 8; i++) {
		OP(OP_FREE, i, 0);
		op_list[n - 1].stride = i < 14 || i >= 12 + GH_BIN_CAP + 4 ? 1 : 5;
	}
	for (int i = 0; i < 6; i++)
		OP(OP_FREE, i, 0);
#undef OP
	return n;
}
#endif

TEST(fork_at_every_instruction_of_another_threads_calls)
{
#ifndef GH_STEP_OK
	SKIP("x86-64 without sanitizers only (the trap flag; the sanitizers' malloc)");
#else
	gh__opt.on_error_log = true;
	gh_set_error_handler(capture);
	calls = 0;
	T = gh_type_register("fork_step", NULL);
	ASSERT_NE(T, GH_TYPE_NONE);
	nops = build_ops();
	ops = op_list;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGTRAP, &sa, NULL), 0);

	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, stepper, NULL), 0);
	unsigned long forks = 0, failed = 0, last = 0;
	int bad_union = 0;
	double t0 = now_s();
	while (!atomic_load(&stepper_done) && now_s() - t0 < 240) {
		unsigned long w = atomic_load(&want);
		if (w <= last) {
			sched_yield();
			continue;
		}
		if (forks >= MAX_FORKS || now_s() - t0 > 200) { /* bounded: the rest is stepped only */
			atomic_store(&done, w);
			last = w;
			continue;
		}
		int op = cur_op;
		uintptr_t rip = want_rip;
		atomic_store(&forking, 1);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(20);
			_exit(child_check());
		}
		atomic_store(&forking, 0);
		ASSERT_TRUE(pid > 0);
		int st = 0;
		waitpid(pid, &st, 0);
		forks++;
		int bad = WIFEXITED(st) ? WEXITSTATUS(st) : 64 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		if (bad) {
			if (failed < 8)
				fprintf(stderr, "  step %lu (call %d, rip %#lx): child %s %d\n", w, op,
					(unsigned long)rip, WIFEXITED(st) ? "failed, bits" : "killed by signal",
					WIFEXITED(st) ? bad : bad - 64);
			failed++;
			bad_union |= bad;
		}
		atomic_store(&done, w);
		last = w;
	}
	ASSERT_EQ(pthread_join(th, NULL), 0);
	fprintf(stderr, "  %d calls, %lu instructions stepped, %lu forks (%lu while the stepper held a lock) in %.1f s\n",
		nops, steps, forks, (unsigned long)atomic_load(&late), now_s() - t0);
	EXPECT_EQ(failed, 0);
	EXPECT_EQ(bad_union, 0);
	EXPECT_TRUE(atomic_load(&stepper_done));
	EXPECT_GT(forks, (unsigned long)nops * 20); /* the trace did run */
	EXPECT_LT(steps, (unsigned long)MAX_STEPS);
	/* the stepper freed all it allocated, and the parent's counts are exact */
	for (int j = 0; j < NHELD; j++)
		EXPECT_TRUE(held[j] == NULL);
	gh__free_drain();
	EXPECT_EQ(calls, 0);
	EXPECT_EQ(gh_heap_check(1), 0);
	gh_set_error_handler(NULL);
#endif
}

int main(void)
{
	return RUN_TESTS();
}
