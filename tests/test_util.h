/*
 * test_util.h -- small pieces the test programs share (the host programs of
 * tests/server, tests/client, tests/reliability and some unit tests); the
 * hosts' command line is host_args.h.
 *
 *   struct gh_test_alpha, gh_test_alpha_format   the formatted "Alpha" type
 *   gh_test_type_formatted                       registers a type with a formatter
 *   gh_test_read_command                         one command line from stdin
 *   gh_test_all_signals                          block (or unblock) every signal
 *   gh_test_gc                                   one reachability pass (with the
 *                                                internals' header included first)
 *   gh_test_expect_types_empty                   no live object of some types left
 *                                                (with test.h included first)
 */
#ifndef GH_TEST_UTIL_H
#define GH_TEST_UTIL_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glassheap.h>

/* The hosts' formatted type: gh_test_alpha_format writes "NAME{index=N}"
 * (e.g. TestAlpha{index=3}), or fails (-1) on an object too small for one. */
struct gh_test_alpha {
	uint32_t index;
	char pad[44];
};

static inline int gh_test_alpha_format(const char *name, const void *obj, size_t size, char *buf, size_t len)
{
	const struct gh_test_alpha *a = obj;
	if (size < sizeof *a)
		return -1;
	return snprintf(buf, len, "%s{index=%u}", name, a->index);
}

/* gh_type_register(name) with the sample formatter fmt (0 on failure). */
static inline gh_type_t gh_test_type_formatted(const char *name, gh_format_fn fmt)
{
	gh_type_desc_t d;
	memset(&d, 0, sizeof d);
	d.format = fmt;
	return gh_type_register(name, &d);
}

/*
 * One command line from stdin into line (fgets). Under TSan a signal reaches
 * a thread only in an intercepted call, and fgets blocks in glibc's internal
 * read, which TSan does not intercept: the main thread would never stop for a
 * reachability pass. With in_poll the host waits in poll first (intercepted,
 * signals delivered while blocked); it must then read stdin unbuffered
 * (setvbuf _IONBF), so that no line waits in stdio's buffer unseen by poll.
 */
static inline char *gh_test_read_command(char *line, int len, bool in_poll)
{
	if (in_poll) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		for (int i = 0; i < 1000000 && poll(&p, 1, -1) < 0 && errno == EINTR; i++)
			;
	}
	return fgets(line, len, stdin);
}

/* Blocks (how = SIG_BLOCK) or unblocks (SIG_UNBLOCK) every signal in the
 * calling thread, the stop signal included. */
static inline void gh_test_all_signals(int how)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(how, &all, NULL);
}

#ifdef GH_INTROSPECT_H
/* One reachability pass (gh__mark_run, flags 0), its result freed: its return
 * code, and the thread that did not stop in *stuck (0 when none). */
static inline int gh_test_gc(pid_t *stuck)
{
	struct gh_gc_result *r = NULL;
	*stuck = 0;
	int rc = gh__mark_run(0, &r, stuck);
	if (r)
		gh__mark_result_free(r);
	return rc;
}
#endif

#ifdef GH_TEST_H
/* Every type of types[0 .. n) has no live object and no live byte left. */
static inline void gh_test_expect_types_empty(const gh_type_t *types, int n)
{
	for (int k = 0; k < n; k++) {
		gh_type_stats_t st;
		gh_type_stats(types[k], &st);
		EXPECT_EQ(st.live_count, 0);
		EXPECT_EQ(st.live_bytes, 0);
	}
}
#endif

#endif /* GH_TEST_UTIL_H */
