/*
 * watch.c -- `glassheap watch`: GET /debug/memory every --interval seconds
 * and print, per type, the change since the previous sample, largest growth
 * first, so that a type that keeps growing stands out.
 *
 * Entry point: gh__watch.
 *
 * Bounded by --count samples, and by Ctrl-C (SIGINT) or SIGTERM: the handler
 * only sets a flag; the sleep between samples wakes up at once, a request in
 * flight is abandoned (libcurl's progress callback sees the flag), and watch
 * exits 0. The server is asked for its top --top-n types (default 100, the
 * most it lists) so that a type rarely drops out of the list between samples.
 */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Set by the handler, read by the loop and by libcurl's progress callback
 * (gh__fetch's cancel flag); a bool store is a single byte, atomic here. */
static volatile bool stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = true;
}

/* Sleeps s seconds unless asked to stop (the signal interrupts nanosleep). */
static void pause_for(double s)
{
	struct timespec left = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (!stop_requested && nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

static void header(FILE *out, long i, long count, const struct gh_diff *d, bool first)
{
	char now[32], c[64], b[64], db[64];
	time_t t = time(NULL);
	struct tm tm;
	strftime(now, sizeof now, "%H:%M:%S", localtime_r(&t, &tm));
	/* Built whole, then wrapped to the output width. */
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f)
		return;
	fprintf(f, "%s  sample %ld", now, i);
	if (count > 0)
		fprintf(f, "/%ld", count);
	if (d->has_summary[1]) {
		long long dobj = d->total_objects[1] - d->total_objects[0];
		double dbytes = (double)d->total_bytes[1] - (double)d->total_bytes[0];
		fprintf(f, ": %lld objects", d->total_objects[1]);
		if (!first)
			fprintf(f, " (%s)", gh__fmt_int(c, sizeof c, dobj, true));
		fprintf(f, ", %s", gh__fmt_size(b, sizeof b, (double)d->total_bytes[1], false));
		if (!first)
			fprintf(f, " (%s)", gh__fmt_size(db, sizeof db, dbytes, true));
		if (d->unique_types[1] >= 0)
			fprintf(f, ", %lld types", d->unique_types[1]);
		if (first)
			fprintf(f, "; baseline, changes from the next sample");
	}
	fclose(f);
	if (i > 1)
		fprintf(out, "\n");
	gh__print_wrapped(out, 10, "%s", line);
	free(line);
}

int gh__watch(const struct gh_target *t, const struct gh_watch_opts *o)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: the sleep must end */
	sigaction(SIGTERM, &sa, NULL);

	struct gh_param params[] = {{"top_n", o->top_n ? o->top_n : "100"}, {"sort_by", o->sort_by}};
	json_t *prev = NULL;
	int rc = GH_EXIT_OK;
	for (long i = 1; !stop_requested && (o->count == 0 || i <= o->count); i++) {
		if (i > 1)
			pause_for(o->interval_s);
		if (stop_requested)
			break;
		struct gh_response res;
		rc = gh__fetch(t, "GET", "/debug/memory", params, 2, o->json, &stop_requested, &res);
		if (rc != GH_EXIT_OK) {
			if (stop_requested)
				rc = GH_EXIT_OK;
			break;
		}
		if (res.status < 200 || res.status > 299) {
			rc = gh__fetch_report(t, &res);
			gh__response_free(&res);
			break;
		}
		if (o->json) {
			/* One document per line (the server's JSON is compact). */
			fwrite(res.body, 1, res.len, stdout);
			if (res.len == 0 || res.body[res.len - 1] != '\n')
				fputc('\n', stdout);
			fflush(stdout);
			gh__response_free(&res);
			continue;
		}
		char err[256];
		json_t *doc = gh__decode(res.body, res.len, gh__decode_wire_of(res.content_type), err, sizeof err);
		if (!doc) {
			gh__cli_error("cannot decode the response to %s: %s", res.where, err);
			gh__response_free(&res);
			rc = GH_EXIT_DATA;
			break;
		}
		gh__response_free(&res);
		struct gh_diff d;
		if (gh__diff_compute(prev ? prev : doc, doc, &d, err, sizeof err) != 0) {
			gh__cli_error("unexpected response: %s", err);
			json_decref(doc);
			rc = GH_EXIT_DATA;
			break;
		}
		header(stdout, i, o->count, &d, prev == NULL);
		gh__diff_print(stdout, &d, o->rows, NULL, NULL, true);
		fflush(stdout);
		gh__diff_free(&d);
		json_decref(prev);
		prev = doc;
	}
	json_decref(prev);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return rc;
}
