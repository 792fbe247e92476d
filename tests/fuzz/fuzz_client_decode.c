/*
 * fuzz_client_decode.c -- libFuzzer driver for the client's response decoder
 * (http/client/decode.c) and everything that reads a decoded document: every
 * endpoint view (views.c), the error-detail printer and the per-type diff
 * (diff.c), as `glassheap` runs them on bytes from the network or a file.
 *
 * Each input is decoded twice: as the client would guess (JSON when it starts
 * with '{' or '[', else msgpack) and forced through the msgpack path (its
 * pre-scan bounds what msgpack-c allocates: a 5-byte array32 header must not
 * ask for gigabytes). Whatever decodes is rendered by every view into
 * /dev/null at three output widths (elision and wrapping included) and
 * diffed against itself. Seeds: tests/fuzz/corpus/client/ (real responses of
 * every endpoint, in both encodings, and error documents).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

/* main.c's error printer, which diff.c's file loader calls: not fuzzed. */
void gh__cli_error(const char *fmt, ...)
{
	(void)fmt;
}

static const gh_view_fn views[] = {
	gh__view_memory,       gh__view_sites,           gh__view_types,
	gh__view_gc,           gh__view_referrers,       gh__view_dominators,
	gh__view_trace_start,  gh__view_trace_stop,
	gh__view_trace_status, gh__view_trace_top,       gh__view_trace_snapshot,
	gh__view_trace_compare, gh__view_trace_traceback, gh__view_trace_delete,
};

static void exercise(const json_t *doc, FILE *sink)
{
	/* Unlimited, a terminal's, and narrow enough that every name, path and
	 * prose line is elided or wrapped (table.c). */
	static const size_t widths[] = {0, 80, 24};
	for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
		gh__term_set_width(widths[k]);
		for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
			gh__view_show(sink, doc, views[i]);
	}
	gh__view_detail(sink, doc, "  ");
	struct gh_diff d;
	char err[256];
	if (gh__diff_compute(doc, doc, &d, err, sizeof err) == 0) {
		gh__diff_print(sink, &d, 0, "a", "b", false);
		gh__diff_print(sink, &d, 5, NULL, NULL, true);
		json_t *j = gh__diff_json(&d);
		json_decref(j);
		gh__diff_free(&d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	if (!sink)
		return 0;
	static const enum gh_wire wires[] = {GH_WIRE_AUTO, GH_WIRE_MSGPACK};
	for (size_t w = 0; w < 2; w++) {
		char err[256];
		json_t *doc = gh__decode((const char *)data, size, wires[w], err, sizeof err);
		if (doc) {
			exercise(doc, sink);
			json_decref(doc);
		}
	}
	return 0;
}
