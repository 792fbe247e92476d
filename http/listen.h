/*
 * listen.h -- the one parser of listen addresses, shared by the debug server
 * (gh_server_start, GLASSHEAP_HTTP) and the command-line client (--url,
 * GLASSHEAP_URL, `run --http`), so that both read the same string the same
 * way:
 *
 *   "8000", ":8000"          127.0.0.1 port 8000
 *   "127.0.0.1:8000"         an IPv4 literal (dotted quad) and a port
 *   "localhost:8000"         127.0.0.1 (no resolver runs: the server parses
 *                            inside the host process)
 *   "[::1]:8000"             an IPv6 literal in brackets; "[::ffff:127.0.0.1]:8000"
 *                            is an IPv4-mapped one (loopback)
 *   "unix:/run/x.sock"       a Unix-domain socket path (1..107 bytes)
 *
 * A port is 1 to 5 ASCII digits up to 65535 (0: any free port), nothing else:
 * no sign ("+80"), no spaces. Anything else is refused (EINVAL), never
 * guessed at. Loopback: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and Unix
 * sockets.
 *
 * Nothing here allocates; everything is thread-safe. Not exported from
 * libglassheap (the client compiles its own copy of listen.c).
 */
#ifndef GH_HTTP_LISTEN_H
#define GH_HTTP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gh_listen_addr {
	struct sockaddr_storage ss; /* AF_INET, AF_INET6 or AF_UNIX; port in network order */
	socklen_t len;              /* the length to give bind() and connect() */
	bool loopback;
};

/* Room for the longest gh__listen_describe text, NUL included. */
#define GH_LISTEN_DESC_MAX 128

/* Parses s (NUL-terminated; NULL is "") into *a. Returns 0, or EINVAL when s
 * is not an address of the forms above (then *a is zeroed). */
int gh__listen_parse(const char *s, struct gh_listen_addr *a);

/* The address as the parser reads it back: "127.0.0.1:8000",
 * "[::1]:8000" or "unix:/path" (always NUL-terminated, truncated to len). */
void gh__listen_describe(const struct sockaddr_storage *ss, char *buf, size_t len);

/* The port of an IP address (0 for a Unix socket), and setting it. */
unsigned gh__listen_port(const struct gh_listen_addr *a);
void gh__listen_set_port(struct gh_listen_addr *a, unsigned port);

#ifdef __cplusplus
}
#endif

#endif /* GH_HTTP_LISTEN_H */
