/*
 * pprof.c -- `glassheap pprof -o FILE`: saves the program's heap profile
 * (GET /debug/pprof/heap, gzipped profile.proto) for `go tool pprof` and
 * the tools that read its format.
 *
 * Entry point: gh__cli_pprof. The profile is written only when the server
 * answered 200, so a failed request never overwrites a good saved profile;
 * "-o -" writes it to stdout.
 */
#include "client.h"

#include <errno.h>
#include <string.h>

int gh__cli_pprof(const struct gh_target *t, const char *path)
{
	if (!path) {
		gh__cli_error("pprof needs -o FILE (e.g. -o heap.pb.gz; \"-\" for stdout)");
		return GH_EXIT_USAGE;
	}
	int rc = gh__fetch_init();
	if (rc != GH_EXIT_OK)
		return rc;
	struct gh_response res;
	/* JSON, so that an error's detail reads as every other command's. */
	rc = gh__fetch(t, "GET", "/debug/pprof/heap", NULL, 0, true, NULL, &res);
	if (rc != GH_EXIT_OK)
		return rc;
	if (res.status < 200 || res.status > 299) {
		rc = gh__fetch_report(t, &res);
		gh__response_free(&res);
		return rc;
	}
	if (res.len < 2 || (unsigned char)res.body[0] != 0x1f || (unsigned char)res.body[1] != 0x8b) {
		gh__cli_error("%s: not a gzipped profile (%s)", res.where, res.content_type);
		gh__response_free(&res);
		return GH_EXIT_DATA;
	}
	bool to_stdout = strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "wb");
	bool ok = f && fwrite(res.body, 1, res.len, f) == res.len;
	ok = f && (to_stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
	if (!ok) {
		gh__cli_error("cannot write %s: %s", path, strerror(errno));
		gh__response_free(&res);
		return GH_EXIT_DATA;
	}
	if (!to_stdout)
		printf("wrote %zu bytes to %s\nread it with: go tool pprof -top %s   (or -http=127.0.0.1:0 for the web UI)\n",
		       res.len, path, path);
	gh__response_free(&res);
	return GH_EXIT_OK;
}
