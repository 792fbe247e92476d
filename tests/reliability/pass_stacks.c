/*
 * pass_stacks.c -- stacks that are not where a thread's stack pointer is
 * (issue 18, items 3 and 4).
 *
 * altstack_mmap   a thread interrupted by a signal whose handler runs on a
 *                 sigaltstack: its real stack holds a collectable object 40
 *                 KiB deep and must be scanned too.
 * altstack_heap   the same with the alternate stack a malloc'd block; the
 *                 handler's own frame (on that block) holds another object.
 * coroutine       a thread switched (swapcontext) onto a coroutine whose
 *                 stack is a malloc'd block: the stack root is that block,
 *                 not "from the stack pointer to the end of the heap"; the
 *                 thread's suspended frames on its own stack hold an object,
 *                 and so does a second, suspended coroutine.
 *
 * Each case runs passes while the thread sits there: nothing may be
 * collected, every object stays intact, and a pass scans a sane amount.
 */
#include "pass_util.h"

#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>

#define SCAN_LIMIT ((uint64_t)512 << 20) /* the heap here is a few MiB */

static gh_type_t held_type;
static _Atomic int parked, release;

static uint64_t *new_held(uint64_t tag)
{
	uint64_t *o = gh_malloc_typed(held_type, 48);
	o[0] = tag;
	return o;
}

static bool intact(const uint64_t *o, uint64_t tag)
{
	return gh_ptr_type(o) == held_type && o[0] == tag;
}

static void park(void)
{
	atomic_store(&parked, 1);
	while (!atomic_load(&release)) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* Runs passes while a thread is parked; checks the outcome. */
static void passes_while_parked(const char *what)
{
	while (!atomic_load(&parked)) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 3; i++) {
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		PASS_CHECK(rc == 0, "%s: pass failed: %s", what, strerror(rc));
		if (rc)
			return;
		printf("%s: pass %d: collected %llu, scanned %.1f MiB, pause %.2f ms (%s)\n", what, i,
		       (unsigned long long)r->collected_objects, r->scanned_bytes / 1048576.0, r->pause_ns / 1e6,
		       r->stop_method);
		PASS_CHECK(r->collected_objects == 0, "%s: a held object was collected", what);
		PASS_CHECK(r->scanned_bytes < SCAN_LIMIT, "%s: scanned %llu bytes", what,
			   (unsigned long long)r->scanned_bytes);
		PASS_CHECK(r->pause_ns < 2000000000u, "%s: pause %.0f ms", what, r->pause_ns / 1e6);
		gh__mark_result_free(r);
	}
}

/* ---- sigaltstack ------------------------------------------------------------ */

static _Atomic int handler_damage;

static void on_usr1(int sig)
{
	(void)sig;
	uint64_t *mine = new_held(0xA17); /* lives in this frame, on the alternate stack */
	PASS_KEEP(mine);
	park();
	if (!intact(mine, 0xA17))
		atomic_fetch_add(&handler_damage, 1);
	free(mine);
}

static __attribute__((noinline)) bool deep_then_signal(void)
{
	void *volatile slots[5120]; /* 40 KiB */
	uint64_t *o = new_held(0xDEE9);
	slots[0] = o; /* the deepest word of this frame */
	for (size_t i = 1; i < sizeof slots / sizeof slots[0]; i++)
		slots[i] = NULL;
	o = NULL;
	raise(SIGUSR1);
	uint64_t *back = slots[0];
	bool ok = intact(back, 0xDEE9);
	free(back);
	return ok;
}

static bool use_heap_altstack;

static void *altstack_thread(void *arg)
{
	(void)arg;
	size_t size = 64 << 10;
	stack_t ss = {.ss_size = size};
	ss.ss_sp = use_heap_altstack ? malloc(size) : mmap(NULL, size, PROT_READ | PROT_WRITE,
							   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	sigaltstack(&ss, NULL);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	bool ok = deep_then_signal();
	stack_t off = {.ss_flags = SS_DISABLE};
	sigaltstack(&off, NULL);
	if (use_heap_altstack)
		free(ss.ss_sp);
	else
		munmap(ss.ss_sp, size);
	return (void *)(uintptr_t)ok;
}

static void case_altstack(bool heap)
{
	const char *what = heap ? "altstack_heap" : "altstack_mmap";
	use_heap_altstack = heap;
	atomic_store(&parked, 0);
	atomic_store(&release, 0);
	pthread_t th;
	pthread_create(&th, NULL, altstack_thread, NULL);
	passes_while_parked(what);
	atomic_store(&release, 1);
	void *ok;
	pthread_join(th, &ok);
	PASS_CHECK(ok != NULL, "%s: the object 40 KiB deep on the real stack is intact", what);
	PASS_CHECK(atomic_load(&handler_damage) == 0, "%s: the handler's object is intact", what);
}

/* ---- coroutines on heap stacks ---------------------------------------------------- */

static ucontext_t main_ctx, co_ctx, idle_ctx;
static _Atomic int co_damage;

static void coroutine(void)
{
	uint64_t *x = new_held(0xC0);
	PASS_KEEP(x);
	park();
	if (!intact(x, 0xC0))
		atomic_fetch_add(&co_damage, 1);
	free(x);
	swapcontext(&co_ctx, &main_ctx);
}

static uint64_t *volatile idle_obj_check;
static void idle_coroutine(void)
{
	uint64_t *z = new_held(0x1D1E);
	idle_obj_check = (uint64_t *)((uintptr_t)z ^ 1); /* not a pointer: only the frame holds z */
	PASS_KEEP(z);
	swapcontext(&idle_ctx, &main_ctx); /* suspended here during the passes */
	if (!intact(z, 0x1D1E))
		atomic_fetch_add(&co_damage, 1);
	free(z);
	swapcontext(&idle_ctx, &main_ctx);
}

static void *volatile co_stacks[2]; /* the stacks are reachable heap blocks */

static __attribute__((noinline)) bool run_coroutines(void)
{
	uint64_t *y = new_held(0x7);
	PASS_KEEP(y);
	size_t size = 256 << 10;
	co_stacks[0] = malloc(size);
	co_stacks[1] = malloc(size);
	getcontext(&idle_ctx);
	idle_ctx.uc_stack.ss_sp = co_stacks[1];
	idle_ctx.uc_stack.ss_size = size;
	idle_ctx.uc_link = &main_ctx;
	makecontext(&idle_ctx, idle_coroutine, 0);
	swapcontext(&main_ctx, &idle_ctx); /* runs until its first swap back */
	getcontext(&co_ctx);
	co_ctx.uc_stack.ss_sp = co_stacks[0];
	co_ctx.uc_stack.ss_size = size;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, coroutine, 0);
	swapcontext(&main_ctx, &co_ctx); /* the passes run while the coroutine parks */
	swapcontext(&main_ctx, &idle_ctx); /* let the idle one check its object */
	bool ok = intact(y, 0x7);
	free(y);
	free(co_stacks[0]);
	free(co_stacks[1]);
	return ok;
}

static void *coroutine_thread(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)run_coroutines();
}

static void case_coroutine(void)
{
	atomic_store(&parked, 0);
	atomic_store(&release, 0);
	pthread_t th;
	pthread_create(&th, NULL, coroutine_thread, NULL);
	passes_while_parked("coroutine");
	atomic_store(&release, 1);
	void *ok;
	pthread_join(th, &ok);
	PASS_CHECK(ok != NULL, "coroutine: the object on the thread's own (suspended) stack is intact");
	PASS_CHECK(atomic_load(&co_damage) == 0, "coroutine: the coroutines' objects are intact");
}

int main(void)
{
	pass_watchdog(90);
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	held_type = gh_type_register("Stacks.Held", &desc);
	case_altstack(false);
	case_altstack(true);
	case_coroutine();
	return pass_finish("pass_stacks");
}
