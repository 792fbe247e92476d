/*
 * msgpack2json.c -- the project's own msgpack reader for the integration
 * tests: decodes one msgpack document from stdin with the client's decoder
 * (http/client/decode.c: msgpack-c behind a bounded pre-scan) and prints it
 * as compact JSON (jansson) on stdout, keeping integers and floats apart, so
 * that the driver can compare it with the JSON rendering and with
 * python3-msgpack.
 *
 * Exit status: 0 ok, 1 malformed, trailing bytes, or a type JSON cannot carry
 * (bin, ext, a non-string key, an integer beyond int64): the reason on stderr.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf)
		return 1;
	char err[256] = "";
	json_t *j = gh__decode(buf, len, GH_WIRE_MSGPACK, err, sizeof err);
	if (!j) {
		fprintf(stderr, "msgpack2json: %s\n", err);
		return 1;
	}
	char *out = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	if (!out)
		return 1;
	puts(out);
	free(out);
	json_decref(j);
	free(buf);
	return 0;
}
