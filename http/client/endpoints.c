/*
 * endpoints.c -- what every endpoint subcommand (memory, types, gc,
 * referrers, trace ...) does once main.c has turned its options into a
 * request: send it, then print the answer as the user asked.
 *
 * Entry point: gh__endpoint_call.
 *
 *   default      request msgpack, decode it (decode.c), print the view (views.c)
 *   --json       request JSON, print the document exactly as received
 *   --decoded    request msgpack, print the decoded tree as JSON (the data the
 *                table is built from; floats with 17 significant digits, so
 *                they read back bit-exact)
 *   -o FILE      also save the raw response bytes (msgpack, or JSON with
 *                --json) when the status is 2xx; "-o -" writes them to stdout
 *                instead of any other output
 *
 * An error status prints the server's detail (fetch.c) and saves nothing, so
 * a failed request never overwrites a good saved response.
 */
#include "client.h"

#include <errno.h>
#include <string.h>

static int save(const char *path, const struct gh_response *res)
{
	bool to_stdout = strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "wb");
	if (!f) {
		gh__cli_error("cannot write %s: %s", path, strerror(errno));
		return GH_EXIT_DATA;
	}
	bool ok = fwrite(res->body, 1, res->len, f) == res->len;
	ok = (to_stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
	if (!ok) {
		gh__cli_error("cannot write %s: %s", path, strerror(errno));
		return GH_EXIT_DATA;
	}
	return GH_EXIT_OK;
}

static int show(const struct gh_output *o, const struct gh_response *res, gh_view_fn view)
{
	if (o->json) {
		fwrite(res->body, 1, res->len, stdout);
		if (res->len == 0 || res->body[res->len - 1] != '\n')
			fputc('\n', stdout);
		return GH_EXIT_OK;
	}
	char err[256];
	json_t *doc = gh__decode(res->body, res->len, gh__decode_wire_of(res->content_type), err, sizeof err);
	if (!doc) {
		gh__cli_error("cannot decode the response to %s: %s", res->where, err);
		return GH_EXIT_DATA;
	}
	int rc = GH_EXIT_OK;
	if (o->decoded) {
		if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY) != 0) {
			gh__cli_error("cannot print the decoded document");
			rc = GH_EXIT_DATA;
		}
		fputc('\n', stdout);
	} else if (gh__view_show(stdout, doc, view) != 0) {
		gh__cli_error("unexpected response to %s: not a map", res->where);
		rc = GH_EXIT_DATA;
	}
	json_decref(doc);
	return rc;
}

int gh__endpoint_call(const struct gh_target *t, const struct gh_output *o, const char *method, const char *path,
		      const struct gh_param *params, size_t nparams, gh_view_fn view)
{
	struct gh_response res;
	int rc = gh__fetch(t, method, path, params, nparams, o->json, NULL, &res);
	if (rc != GH_EXIT_OK)
		return rc;
	if (res.status < 200 || res.status > 299) {
		rc = gh__fetch_report(t, &res);
	} else {
		if (o->save_path)
			rc = save(o->save_path, &res);
		if (rc == GH_EXIT_OK && !(o->save_path && strcmp(o->save_path, "-") == 0))
			rc = show(o, &res, view);
	}
	gh__response_free(&res);
	if (fflush(stdout) != 0 && rc == GH_EXIT_OK) {
		gh__cli_error("cannot write to stdout: %s", strerror(errno));
		rc = GH_EXIT_DATA;
	}
	return rc;
}
