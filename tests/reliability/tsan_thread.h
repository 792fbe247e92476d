/*
 * tsan_thread.h -- for programs built with ThreadSanitizer next to the
 * core: leave TSan's own background thread out of stop-the-world passes.
 *
 * TSan's runtime starts a background thread at the first pthread_create; it
 * blocks every signal and never touches glassheap's heap. A pass signals
 * every thread of the process and waits for each: without this, every pass
 * would time out on that thread. gh_test_ignore_tsan_thread() makes sure the
 * thread exists (one short-lived thread), finds it in /proc/self/task as the
 * thread that blocks the stop signal, and hands it to
 * gh__world_ignore_thread (alloc/internal.h, a test hook). Call it from the
 * main thread before any other thread is created. Needs alloc/internal.h.
 */
#ifndef GH_TEST_TSAN_THREAD_H
#define GH_TEST_TSAN_THREAD_H

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *gh_test_tsan_nothing(void *arg)
{
	return arg;
}

static void gh_test_ignore_tsan_thread(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, gh_test_tsan_nothing, NULL) == 0)
		pthread_join(th, NULL);
	int sig = gh__world_stop_signal();
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == gettid())
			continue;
		char path[64], line[256];
		snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
		FILE *f = fopen(path, "r");
		unsigned long long blk = 0;
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				break;
		if (f)
			fclose(f);
		if (blk & (1ull << (sig - 1))) {
			fprintf(stderr, "  leaving thread %d (blocks signal %d: TSan's own) out of stops\n", (int)tid, sig);
			gh__world_ignore_thread(tid);
		}
	}
	if (d)
		closedir(d);
}

#endif /* GH_TEST_TSAN_THREAD_H */
