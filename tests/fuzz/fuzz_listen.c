/*
 * fuzz_listen.c -- libFuzzer driver for http/listen.c, the listen-address
 * parser the server and the client share.
 *
 * The input, NUL-terminated (the parser reads C strings; an embedded NUL
 * ends the string, as it would in the environment), is parsed. Checked for
 * every input it accepts, beside ASan and UBSan:
 *   - the family and the length agree (AF_INET, AF_INET6, or AF_UNIX with
 *     the path's length), the port fits, a Unix socket has port 0
 *   - loopback is exactly 127/8, ::1, ::ffff:127/104 or a Unix socket
 *   - the description reads back as the same address (byte for byte)
 *   - the input has the documented shape: no sign or space in the port
 *     (an independent check of the last ':'-separated field)
 */
#include "listen.h"
#include "fuzz_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512];
	if (size >= sizeof s)
		size = sizeof s - 1;
	memcpy(s, data, size);
	s[size] = '\0';

	struct gh_listen_addr a;
	if (gh__listen_parse(s, &a) != 0) {
		static const struct gh_listen_addr zero;
		CHECK(memcmp(&a, &zero, sizeof a) == 0);
		return 0;
	}
	int fam = a.ss.ss_family;
	CHECK(fam == AF_INET || fam == AF_INET6 || fam == AF_UNIX);
	if (fam == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&a.ss;
		size_t n = strnlen(un->sun_path, sizeof un->sun_path);
		CHECK(n > 0 && n < sizeof un->sun_path);
		CHECK(a.len == offsetof(struct sockaddr_un, sun_path) + n + 1);
		CHECK(a.loopback && gh__listen_port(&a) == 0);
		CHECK(strncmp(s, "unix:", 5) == 0 && strcmp(s + 5, un->sun_path) == 0);
	} else {
		const char *colon = strrchr(s, ':');
		const char *port = colon ? colon + 1 : s;
		CHECK(*port && strspn(port, "0123456789") == strlen(port) && strlen(port) <= 5);
		CHECK(gh__listen_port(&a) == (unsigned)atoi(port));
		if (fam == AF_INET) {
			const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a.ss;
			CHECK(a.len == sizeof *in4);
			CHECK(a.loopback == ((ntohl(in4->sin_addr.s_addr) >> 24) == 127));
		} else {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.ss;
			const uint8_t *b = in6->sin6_addr.s6_addr;
			static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			static const uint8_t one[16] = {[15] = 1};
			CHECK(s[0] == '[' && a.len == sizeof *in6);
			CHECK(a.loopback == (memcmp(b, one, 16) == 0 || (memcmp(b, v4mapped, 12) == 0 && b[12] == 127)));
		}
	}
	char desc[GH_LISTEN_DESC_MAX];
	gh__listen_describe(&a.ss, desc, sizeof desc);
	struct gh_listen_addr b;
	CHECK(gh__listen_parse(desc, &b) == 0);
	CHECK(b.len == a.len && memcmp(&a.ss, &b.ss, a.len) == 0 && b.loopback == a.loopback);
	return 0;
}
