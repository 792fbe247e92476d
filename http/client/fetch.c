/*
 * fetch.c -- the client's side of the wire: one HTTP request to the debug
 * server through libcurl, and what the user reads when it goes wrong.
 *
 * Entry points: gh__fetch_init/cleanup, gh__fetch (one request, any status),
 * gh__fetch_report (a non-2xx response as one or more lines on stderr),
 * gh__fetch_escape.
 *
 * One easy handle serves the whole process, reset before each request but
 * keeping its connection cache, so `watch` reuses one kept-alive connection.
 * Targets are a base URL, or a Unix socket (CURLOPT_UNIX_SOCKET_PATH) with
 * the URL's host used only in the Host header. Redirects are not followed;
 * only http and https are spoken; loopback is never sent through a proxy.
 */
#include "client.h"
#include "../status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* Larger responses are refused: the largest documents of api.md are a few
 * hundred KiB. */
#define MAX_BODY ((size_t)256 << 20)

static CURL *easy;

int gh__fetch_init(void)
{
	if (easy)
		return GH_EXIT_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(easy = curl_easy_init())) {
		gh__cli_error("cannot initialize libcurl");
		return GH_EXIT_CONNECT;
	}
	return GH_EXIT_OK;
}

void gh__fetch_cleanup(void)
{
	if (easy) {
		curl_easy_cleanup(easy);
		easy = NULL;
		curl_global_cleanup();
	}
}

void gh__response_free(struct gh_response *res)
{
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

char *gh__fetch_escape(const char *s)
{
	if (gh__fetch_init() != GH_EXIT_OK)
		return NULL;
	char *e = curl_easy_escape(easy, s, (int)strlen(s));
	char *copy = e ? strdup(e) : NULL;
	curl_free(e);
	return copy;
}

/* ---- One request -------------------------------------------------------------------- */

struct sink {
	struct gh_response *res;
	size_t cap;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	struct gh_response *res = s->res;
	if (n > MAX_BODY - res->len) {
		s->too_big = true;
		return 0;
	}
	if (res->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < res->len + n + 1)
			cap *= 2;
		char *b = realloc(res->body, cap);
		if (!b)
			return 0;
		res->body = b;
		s->cap = cap;
	}
	memcpy(res->body + res->len, data, n);
	res->len += n;
	res->body[res->len] = '\0';
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	const volatile bool *cancel = arg;
	return cancel && *cancel;
}

/* The base URL without trailing slashes, into buf. */
static void base_url(const struct gh_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s", t->url);
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
}

/* Where we tried, for messages: the base URL or the socket path. */
static void describe_target(const struct gh_target *t, char *buf, size_t len)
{
	if (t->unix_path)
		snprintf(buf, len, "unix socket %s", t->unix_path);
	else
		base_url(t, buf, len);
}

/* NO_PROXY for curl: loopback always, plus what the environment lists. */
static void no_proxy(char *buf, size_t len)
{
	const char *env = getenv("no_proxy");
	if (!env || !*env)
		env = getenv("NO_PROXY");
	snprintf(buf, len, "localhost,127.0.0.0/8,::1%s%s", env && *env ? "," : "", env && *env ? env : "");
}

static int report_transport(const struct gh_target *t, CURLcode rc, const char *errbuf, const struct sink *s)
{
	char where[512];
	describe_target(t, where, sizeof where);
	long os_errno = 0;
	curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		gh__cli_error("cannot connect to the debug server at %s: %s", where,
			      os_errno ? strerror((int)os_errno) : why);
		gh__cli_error("is the program running with its server on (GLASSHEAP_HTTP, gh_server_start, "
			      "'glassheap run')? point --url, --unix or GLASSHEAP_URL at it");
		return GH_EXIT_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		gh__cli_error("no answer from the debug server at %s within %.1f s (--timeout)", where,
			      (double)t->timeout_ms / 1000.0);
		return GH_EXIT_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
		gh__cli_error("cannot resolve the host of %s: %s", where, why);
		return GH_EXIT_CONNECT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		gh__cli_error("bad URL %s: %s", where, why);
		return GH_EXIT_USAGE;
	case CURLE_WRITE_ERROR:
		if (s->too_big) {
			gh__cli_error("the response from %s is larger than %zu MiB: refused", where, MAX_BODY >> 20);
			return GH_EXIT_DATA;
		}
		gh__cli_error("out of memory reading the response from %s", where);
		return GH_EXIT_DATA;
	default:
		gh__cli_error("request to the debug server at %s failed: %s", where, why);
		return GH_EXIT_CONNECT;
	}
}

int gh__fetch(const struct gh_target *t, const char *method, const char *path, const struct gh_param *params,
	      size_t nparams, bool want_json, const volatile bool *cancel, struct gh_response *res)
{
	memset(res, 0, sizeof *res);
	int rc = gh__fetch_init();
	if (rc != GH_EXIT_OK)
		return rc;
	curl_easy_reset(easy);

	/* URL: base + path + ?k=v&... (values percent-encoded) */
	char *url = NULL;
	size_t url_len = 0;
	FILE *u = open_memstream(&url, &url_len);
	if (!u) {
		gh__cli_error("out of memory");
		return GH_EXIT_DATA;
	}
	char base[2048];
	base_url(t, base, sizeof base);
	fprintf(u, "%s%s", base, path);
	char sep = '?';
	for (size_t i = 0; i < nparams; i++) {
		if (!params[i].value)
			continue;
		char *v = curl_easy_escape(easy, params[i].value, (int)strlen(params[i].value));
		fprintf(u, "%c%s=%s", sep, params[i].name, v ? v : "");
		curl_free(v);
		sep = '&';
	}
	fclose(u);
	if (!url) {
		gh__cli_error("out of memory");
		return GH_EXIT_DATA;
	}
	if (t->unix_path)
		snprintf(res->where, sizeof res->where, "%s %s via unix:%s", method, url, t->unix_path);
	else
		snprintf(res->where, sizeof res->where, "%s %s", method, url);

	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, want_json ? "Accept: application/json" : "Accept: application/msgpack");
	char *auth = NULL;
	if (t->token && *t->token && asprintf(&auth, "Authorization: Bearer %s", t->token) >= 0)
		hdrs = curl_slist_append(hdrs, auth);

	struct sink sink = {.res = res};
	char errbuf[CURL_ERROR_SIZE] = "";
	char np[1024];
	no_proxy(np, sizeof np);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, np);
	if (t->unix_path)
		curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "glassheap-cli");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms < 5000 ? t->timeout_ms : 5000L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, (void *)cancel);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	}

	CURLcode cc = curl_easy_perform(easy);
	curl_slist_free_all(hdrs);
	free(auth);
	free(url);

	if (cc != CURLE_OK) {
		gh__response_free(res);
		if (cc == CURLE_ABORTED_BY_CALLBACK && cancel && *cancel)
			return GH_EXIT_CONNECT;
		return report_transport(t, cc, errbuf, &sink);
	}
	if (!res->body) {
		res->body = calloc(1, 1);
		if (!res->body) {
			gh__cli_error("out of memory");
			return GH_EXIT_DATA;
		}
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
	char *ct = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(res->content_type, sizeof res->content_type, "%s", ct);
	struct curl_header *h = NULL;
	if (curl_easy_header(easy, "Allow", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value)
		snprintf(res->allow, sizeof res->allow, "%s", h->value);
	curl_off_t retry = 0;
	if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
		res->retry_after = (long)retry;
	return GH_EXIT_OK;
}

/* ---- Error responses ------------------------------------------------------------------ */

int gh__fetch_report(const struct gh_target *t, const struct gh_response *res)
{
	char err[256];
	char status[128];
	snprintf(status, sizeof status, "%ld %s", res->status, gh__http_reason(res->status > 999 ? 0 : (int)res->status));
	json_t *doc = gh__decode(res->body, res->len, gh__decode_wire_of(res->content_type), err, sizeof err);
	const json_t *detail = json_is_object(doc) ? json_object_get(doc, "detail") : NULL;
	char safe[2048];

	if (json_is_array(detail)) {
		/* 422: one line per bad parameter, "query.<param>: <msg>" */
		gh__cli_error("invalid request (%s from %s):", status, res->where);
		if (gh__view_detail(stderr, doc, "  ") == 0)
			fprintf(stderr, "  (no details)\n");
	} else if (json_is_string(detail)) {
		gh__cli_error("%s (%s from %s)", gh__fmt_safe(safe, sizeof safe, json_string_value(detail)), status,
			      res->where);
	} else {
		/* Not one of our documents: show the start of what came back. */
		char head[201];
		size_t n = res->len < 200 ? res->len : 200;
		memcpy(head, res->body ? res->body : "", n);
		head[n] = '\0';
		gh__cli_error("%s from %s%s%s", status, res->where, n ? ": " : "",
			      gh__fmt_safe(safe, sizeof safe, head));
	}

	switch (res->status) {
	case 401:
		if (t->token && *t->token)
			gh__cli_error("the server refused the token given (--token or GLASSHEAP_TOKEN)");
		else
			gh__cli_error("the server requires a token: pass --token or set GLASSHEAP_TOKEN");
		break;
	case 404:
		if (!json_is_string(detail) || strcmp(json_string_value(detail), "Not Found") == 0)
			gh__cli_error("no such path: is %s a glassheap debug server of this version?",
				      t->unix_path ? t->unix_path : t->url);
		break;
	case 405:
		if (res->allow[0])
			gh__cli_error("the server allows: %s", gh__fmt_safe(safe, sizeof safe, res->allow));
		break;
	case 503:
		if (res->retry_after > 0)
			gh__cli_error("the server is busy: retry in %ld s", res->retry_after);
		break;
	default:
		break;
	}
	json_decref(doc);
	return GH_EXIT_HTTP;
}
