/* Vector registers are roots: a thread that holds the only pointer to a
 * collectable object in xmm15, in the upper half of a ymm register (AVX),
 * in the upper half of a zmm register or in zmm16-31 (AVX-512) -- as
 * memmove does with the first vector of an overlapping copy while its loop
 * overwrites the words in memory -- keeps the object through collecting
 * passes, whichever way the world is stopped; once the thread has let go,
 * the object is collected (so only the register held it). */
#include "internal.h"
#include "mark_test.h"
#include "test.h"
#include "test_util.h"

#include <pthread.h>
#include <unistd.h>

#define KEY ((uintptr_t)0x5a5a)

enum where { IN_XMM, IN_YMM_HIGH, IN_ZMM_HIGH, IN_ZMM16 };
static const char *const where_name[] = {"xmm15", "ymm11 upper half", "zmm9 upper half", "xmm20 (zmm16-31)"};

static volatile int hold_ready, hold_stop;
static volatile uintptr_t hold_hidden; /* the address ^ KEY: not a pointer */
static enum where hold_where;

/* Each holder: says it is ready, then waits for hold_stop, touching no
 * vector register meanwhile. */
#define HOLD_WAIT "movl $1, %[ready]\n\t1: pause\n\tcmpl $0, %[stop]\n\tje 1b\n\t"
#define HOLD_OPERANDS : [ready] "=m"(hold_ready) : [h] "r"(h), [k] "r"(k), [stop] "m"(hold_stop)

/* (xmm16-31 exist for the compiler only with AVX-512) */
__attribute__((target("avx512f"), noinline)) static void hold_zmm16(uintptr_t h, uintptr_t k)
{
	__asm__ volatile("vmovq %[h], %%xmm20\n\t"
			 "vmovq %[k], %%xmm21\n\t"
			 "vpxorq %%zmm21, %%zmm20, %%zmm20\n\t"
			 HOLD_WAIT
			 "vpxorq %%zmm20, %%zmm20, %%zmm20\n\t"
			 "vzeroupper\n\t"
			 HOLD_OPERANDS
			 : "xmm20", "xmm21", "memory");
}

/* The pointer exists only in the register: the hidden value and the key are
 * combined there, and every other register that saw a part is cleared. */
static void *holder(void *arg)
{
	(void)arg;
	uintptr_t h = hold_hidden, k = KEY;
	switch (hold_where) {
	case IN_XMM:
		__asm__ volatile("movq %[h], %%xmm15\n\t"
				 "movq %[k], %%xmm14\n\t"
				 "pxor %%xmm14, %%xmm15\n\t"
				 HOLD_WAIT
				 "pxor %%xmm15, %%xmm15\n\t"
				 HOLD_OPERANDS
				 : "xmm14", "xmm15", "memory");
		break;
	case IN_YMM_HIGH:
		__asm__ volatile("vmovq %[h], %%xmm13\n\t"
				 "vmovq %[k], %%xmm12\n\t"
				 "vpxor %%xmm12, %%xmm13, %%xmm13\n\t"
				 "vpxor %%xmm11, %%xmm11, %%xmm11\n\t"
				 "vinserti128 $1, %%xmm13, %%ymm11, %%ymm11\n\t"
				 "vpxor %%xmm13, %%xmm13, %%xmm13\n\t"
				 HOLD_WAIT
				 "vpxor %%xmm11, %%xmm11, %%xmm11\n\t"
				 "vzeroupper\n\t"
				 HOLD_OPERANDS
				 : "xmm11", "xmm12", "xmm13", "memory");
		break;
	case IN_ZMM_HIGH:
		__asm__ volatile("vmovq %[h], %%xmm13\n\t"
				 "vmovq %[k], %%xmm12\n\t"
				 "vpxor %%xmm12, %%xmm13, %%xmm13\n\t"
				 "vpxorq %%zmm9, %%zmm9, %%zmm9\n\t"
				 "vinserti64x4 $1, %%ymm13, %%zmm9, %%zmm9\n\t"
				 "vpxor %%xmm13, %%xmm13, %%xmm13\n\t"
				 HOLD_WAIT
				 "vpxorq %%zmm9, %%zmm9, %%zmm9\n\t"
				 "vzeroupper\n\t"
				 HOLD_OPERANDS
				 : "xmm9", "xmm12", "xmm13", "memory");
		break;
	case IN_ZMM16:
		hold_zmm16(h, k);
		break;
	}
	return NULL;
}

static __attribute__((noinline)) uintptr_t make_hidden(gh_type_t t, size_t size)
{
	void *o = gh_malloc_typed(t, size);
	escape(o);
	return (uintptr_t)o ^ KEY;
}

static bool supported(enum where w)
{
	__builtin_cpu_init();
	switch (w) {
	case IN_XMM:
		return true;
	case IN_YMM_HIGH:
		return __builtin_cpu_supports("avx2");
	default:
		return __builtin_cpu_supports("avx512f");
	}
}

static void held_in(enum where w, enum gh_stop_method method, const char *mname)
{
	if (!supported(w)) {
		printf("  (%s: not on this CPU)\n", where_name[w]);
		return;
	}
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	gh_type_t t = gh_type_register("test_vregs.held", &desc);
	gh_type_t tg = gh_type_register("test_vregs.garbage", &desc);
	hold_where = w;
	hold_ready = 0;
	hold_stop = 0;
	hold_hidden = make_hidden(t, 64);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, holder, NULL), 0);
	for (int i = 0; i < 20000 && !hold_ready; i++)
		usleep(100);
	ASSERT_TRUE(hold_ready);
	gh__world_set_method(method);
	for (int pass = 0; pass < 5; pass++) {
		volatile uintptr_t junk = make_hidden(tg, 32);
		clobber_stack();
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		if (rc == EPERM && method == GH_STOP_PTRACE) {
			printf("  (ptrace refused here: %s under ptrace is not checked)\n", where_name[w]);
			break;
		}
		ASSERT_EQ(rc, 0);
		ASSERT_TRUE(r != NULL);
		EXPECT_FALSE(r->collect_skipped);
		if (gh_ptr_type((void *)(hold_hidden ^ KEY)) != t) {
			printf("  %s, %s: collected while held (pass %d)\n", where_name[w], mname, pass);
			EXPECT_EQ(gh_ptr_type((void *)(hold_hidden ^ KEY)), t);
			gh__mark_result_free(r);
			break;
		}
		EXPECT_EQ(gh_ptr_type((void *)(junk ^ KEY)), GH_TYPE_NONE);
		gh__mark_result_free(r);
	}
	hold_stop = 1;
	pthread_join(th, NULL);
	/* let go: now garbage */
	bool was_live = gh_ptr_type((void *)(hold_hidden ^ KEY)) == t;
	clobber_stack();
	struct gh_gc_result *r = collect_pass();
	ASSERT_TRUE(r != NULL);
	if (was_live)
		EXPECT_EQ(gh_ptr_type((void *)(hold_hidden ^ KEY)), GH_TYPE_NONE);
	gh__mark_result_free(r);
	gh__world_set_method(GH_STOP_AUTO);
}

TEST(xmm_signal) { held_in(IN_XMM, GH_STOP_SIGNAL, "signal"); }
TEST(xmm_ptrace) { held_in(IN_XMM, GH_STOP_PTRACE, "ptrace"); }
TEST(ymm_upper_half_signal) { held_in(IN_YMM_HIGH, GH_STOP_SIGNAL, "signal"); }
TEST(ymm_upper_half_ptrace) { held_in(IN_YMM_HIGH, GH_STOP_PTRACE, "ptrace"); }
TEST(zmm_upper_half_signal) { held_in(IN_ZMM_HIGH, GH_STOP_SIGNAL, "signal"); }
TEST(zmm_upper_half_ptrace) { held_in(IN_ZMM_HIGH, GH_STOP_PTRACE, "ptrace"); }
TEST(zmm16_31_signal) { held_in(IN_ZMM16, GH_STOP_SIGNAL, "signal"); }
TEST(zmm16_31_ptrace) { held_in(IN_ZMM16, GH_STOP_PTRACE, "ptrace"); }

/* The case the registers matter for: a thread erasing the first element of
 * an array of pointers over and over (memmove(a, a + 1, ...): libc's
 * vectorized copy keeps a vector of the source in a register while its
 * loop overwrites those words) and putting it back at the end. Every
 * object stays referenced; no collecting pass may free one. */
#define ROT_N 256 /* 2 KiB: a vector loop, below rep movsb's threshold */
static void *volatile *rot_arr;
static volatile int rot_stop;
static volatile long rot_turns;

static void *rotator(void *arg)
{
	(void)arg;
	while (!rot_stop) {
		void *first = rot_arr[0];
		memmove((void *)rot_arr, (void *)(rot_arr + 1), (ROT_N - 1) * sizeof *rot_arr);
		rot_arr[ROT_N - 1] = first;
		rot_turns++;
	}
	return NULL;
}

static void rotate_under_passes(enum gh_stop_method method, const char *mname)
{
	static const gh_type_desc_t desc = {.flags = GH_TYPE_COLLECTABLE};
	char name[64];
	snprintf(name, sizeof name, "test_vregs.rotated.%s", mname);
	gh_type_t t = gh_type_register(name, &desc);
	rot_arr = malloc(ROT_N * sizeof *rot_arr);
	ASSERT_TRUE(rot_arr != NULL);
	for (int i = 0; i < ROT_N; i++)
		rot_arr[i] = gh_malloc_typed(t, 40);
	rot_stop = 0;
	rot_turns = 0;
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, rotator, NULL), 0);
	gh__world_set_method(method);
	int passes = 0;
	for (int i = 0; i < 200; i++) {
		struct gh_gc_result *r = NULL;
		pid_t bad = 0;
		int rc = gh__mark_run(GH_GC_COLLECT, &r, &bad);
		if (rc == EPERM && method == GH_STOP_PTRACE) {
			printf("  (ptrace refused here: not checked)\n");
			break;
		}
		ASSERT_EQ(rc, 0);
		passes++;
		gh__mark_result_free(r);
		gh_type_stats_t st;
		gh_type_stats(t, &st);
		if (st.live_count != ROT_N) {
			printf("  %s: %llu of %d objects left after pass %d\n", mname, (unsigned long long)st.live_count,
			       ROT_N, i);
			EXPECT_EQ(st.live_count, (uint64_t)ROT_N);
			break;
		}
	}
	rot_stop = 1;
	pthread_join(th, NULL);
	gh__world_set_method(GH_STOP_AUTO);
	printf("  %s: %d passes, %ld turns\n", mname, passes, rot_turns);
	EXPECT_GT(rot_turns, 1000);
	for (int i = 0; i < ROT_N; i++)
		free(rot_arr[i]);
	free((void *)rot_arr);
}

TEST(memmove_of_pointers_under_passes_signal) { rotate_under_passes(GH_STOP_SIGNAL, "signal"); }
TEST(memmove_of_pointers_under_passes_ptrace) { rotate_under_passes(GH_STOP_PTRACE, "ptrace"); }

int main(void)
{
	return RUN_TESTS();
}
