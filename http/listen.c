/*
 * listen.c -- listen addresses (listen.h): "[host:]port", "[v6]:port" or
 * "unix:/path" to a socket address, and back.
 *
 * Entry points: gh__listen_parse, gh__listen_describe, gh__listen_port,
 * gh__listen_set_port. Fuzzed by tests/fuzz/fuzz_listen.c (every address it
 * accepts describes itself as a string that parses to the same address).
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* The host part of an IP address, brackets excluded: INET6_ADDRSTRLEN (46)
 * covers every IPv6 literal inet_pton reads. */
#define HOST_MAX 64

/* 1..5 ASCII digits, at most 65535. */
static bool parse_port(const char *s, unsigned *port)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = v;
	return true;
}

static int parse_unix(const char *path, struct gh_listen_addr *a)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof un->sun_path)
		return EINVAL;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, n + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	a->loopback = true;
	return 0;
}

static int parse_ip(const char *s, struct gh_listen_addr *a)
{
	char host[HOST_MAX] = "127.0.0.1";
	const char *port_s;
	bool v6 = s[0] == '[';
	if (v6) {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
			return EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port_s = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon && memchr(s, ':', (size_t)(colon - s)))
			return EINVAL; /* an IPv6 address needs brackets */
		if (colon && colon != s) {
			if ((size_t)(colon - s) >= sizeof host)
				return EINVAL;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
		}
		port_s = colon ? colon + 1 : s;
	}
	unsigned port;
	if (!parse_port(port_s, &port))
		return EINVAL;
	if (!v6 && strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");

	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	if (!v6 && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		a->len = sizeof *in4;
		a->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->len = sizeof *in6;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		a->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
			      (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
		return 0;
	}
	return EINVAL;
}

int gh__listen_parse(const char *s, struct gh_listen_addr *a)
{
	memset(a, 0, sizeof *a);
	if (!s)
		s = "";
	int rc = strncmp(s, "unix:", 5) == 0 ? parse_unix(s + 5, a) : parse_ip(s, a);
	if (rc != 0)
		memset(a, 0, sizeof *a);
	return rc;
}

void gh__listen_describe(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (len == 0)
		return;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		snprintf(buf, len, "unix:%.*s", (int)sizeof un->sun_path, un->sun_path);
	} else {
		snprintf(buf, len, "?");
	}
}

unsigned gh__listen_port(const struct gh_listen_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

void gh__listen_set_port(struct gh_listen_addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}
