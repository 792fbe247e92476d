/*
 * ep_folded.c -- GET /debug/tracemalloc/folded: the traced stacks as folded
 * stacks, the input format of flame-graph tools (flamegraph.pl, speedscope,
 * inferno) and of the page's own flame graph (ep_page.c):
 *
 *     main (demo.c:310);worker (demo.c:250);open_session (demo.c:180) 4096
 *
 * one line per distinct symbolized stack, root first, frames separated by
 * ';', then one space and the value: live bytes (value=bytes, the default)
 * or live blocks (value=count). Inlined calls are frames of their own. The
 * frame text (export.c) never holds ';', control bytes or a trailing space.
 *
 *   (no parameter)           the running session's live stacks (400 when
 *                            tracing is off)
 *   snapshot=A               the stacks stored in snapshot A (works after stop)
 *   snapshot=A&base=B        growth from B to A, per symbolized stack: lines
 *                            whose growth is zero or negative are left out
 *                            (a flame graph has no negative widths)
 *   base=B                   growth from B to the running session now
 *
 * Stacks are matched across snapshots by their symbolized text, so
 * snapshots of different sessions compare as tracemalloc's compare does.
 * Lines are sorted by their text. Data gathering: collect().
 */
#include "internal.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const VALUE_CHOICES[] = {"bytes", "count"};
enum { VALUE_BYTES, VALUE_COUNT };

#define NOT_TRACING "tracemalloc is not running; POST /debug/tracemalloc/start first"

struct line {
	char *text;
	int64_t value;
};

struct lines {
	struct line *v;
	size_t n, cap;
	bool failed;
};

static void add_line(struct lines *ls, char *text, int64_t value)
{
	if (ls->failed) {
		free(text);
		return;
	}
	if (!gh__grow((void **)&ls->v, &ls->cap, ls->n, sizeof *ls->v)) {
		ls->failed = true;
		free(text);
		return;
	}
	ls->v[ls->n++] = (struct line){text, value};
}

/*
 * Adds sign * value of every stack of a snapshot (or of the running session
 * when name is NULL) to ls, one folded text per stack. Returns 0, ESRCH,
 * ENOENT, ENOMEM (gh__trace_stacks).
 */
static int collect(const char *name, int sign, bool count, struct lines *ls)
{
	struct gh_trace_stack *st = NULL;
	size_t n = 0;
	int err = gh__trace_stacks(name, false, &st, &n);
	if (err)
		return err;
	int q = gh__trace_quiet_begin();
	struct gh_buf b = {0};
	for (size_t i = 0; i < n && !ls->failed; i++) {
		/* root first: outermost physical frame first, and within one
		 * physical frame the caller before what was inlined into it */
		for (unsigned j = st[i].nframes; j-- > 0;) {
			const struct gh_trace_frame *f = NULL;
			size_t k = gh__sym_frames(st[i].frames[j], &f);
			while (k-- > 0) {
				if (b.len)
					gh__buf_put(&b, ";", 1);
				gh__export_frame_text(&b, &f[k]);
			}
		}
		size_t len;
		char *text = gh__buf_take(&b, &len);
		if (!text) {
			ls->failed = true;
			break;
		}
		add_line(ls, text, sign * (count ? st[i].count : st[i].bytes));
	}
	gh__buf_free(&b);
	gh__trace_quiet_end(q);
	free(st);
	return ls->failed ? ENOMEM : 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

static void free_lines(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i].text);
	free(ls->v);
}

/* An optional snapshot name: absent (NULL), or valid, else a recorded 422. */
static const char *optional_name(gh_query_t *q, const char *param)
{
	if (!gh__query_get(q, param, NULL))
		return NULL;
	const char *s = NULL;
	size_t len = 0;
	return gh__query_name(q, param, &s, &len) ? s : NULL;
}

void gh__ep_trace_folded(struct gh_http_call *call)
{
	size_t value = VALUE_BYTES;
	gh__query_enum(call->q, "value", VALUE_CHOICES, 2, VALUE_BYTES, &value);
	const char *snap = optional_name(call->q, "snapshot");
	const char *base = optional_name(call->q, "base");
	if (gh__query_failed(call->q)) {
		gh__http_invalid(call);
		return;
	}
	bool count = value == VALUE_COUNT;
	struct lines ls = {0};
	int err = collect(snap, 1, count, &ls);
	const char *missing = snap;
	if (!err && base) {
		err = collect(base, -1, count, &ls);
		missing = base;
	}
	if (err) {
		free_lines(&ls);
		char msg[128];
		if (err == ESRCH) {
			gh__http_detail(call, 400, NOT_TRACING);
		} else if (err == ENOENT) {
			snprintf(msg, sizeof msg, "Snapshot '%s' not found", missing);
			gh__http_detail(call, 404, msg);
		} else {
			gh__http_detail(call, 500, "out of memory");
		}
		return;
	}

	/* Merge equal stacks (several ids symbolize alike; snapshot and base). */
	if (ls.n > 1) /* ls.v is NULL when nothing was live */
		qsort(ls.v, ls.n, sizeof *ls.v, cmp_line);
	struct gh_buf out = {0};
	for (size_t i = 0; i < ls.n;) {
		int64_t sum = 0;
		size_t j = i;
		for (; j < ls.n && strcmp(ls.v[i].text, ls.v[j].text) == 0; j++)
			sum += ls.v[j].value;
		if (sum > 0)
			gh__buf_printf(&out, "%s %lld\n", ls.v[i].text, (long long)sum);
		i = j;
	}
	free_lines(&ls);
	gh__buf_send(call, "text/plain; charset=utf-8", &out);
}
