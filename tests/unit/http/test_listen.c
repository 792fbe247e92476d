/*
 * test_listen.c -- http/listen.c, the one listen-address parser of the
 * server (GLASSHEAP_HTTP, gh_server_start) and the client (--url, `run
 * --http`): a table of inputs and what each must give (family, address as
 * described back, port, loopback) or EINVAL. Before listen.c the two had
 * their own parsers and disagreed on "+80" (the client took it),
 * "[::ffff:127.0.0.1]:8000" (not loopback to the client: a token demanded)
 * and "unix:" (an empty path, taken by the client).
 */
#include "listen.h"
#include "test.h"

#include <errno.h>
#include <sys/un.h>

static const struct {
	const char *in;
	int rc;
	const char *desc; /* gh__listen_describe of the result */
	unsigned port;
	int loopback;
} cases[] = {
	{"8000", 0, "127.0.0.1:8000", 8000, 1},
	{":8000", 0, "127.0.0.1:8000", 8000, 1},
	{"0", 0, "127.0.0.1:0", 0, 1},
	{"127.0.0.1:8000", 0, "127.0.0.1:8000", 8000, 1},
	{"127.0.0.2:65535", 0, "127.0.0.2:65535", 65535, 1},
	{"localhost:8000", 0, "127.0.0.1:8000", 8000, 1},
	{"0.0.0.0:80", 0, "0.0.0.0:80", 80, 0},
	{"10.1.2.3:80", 0, "10.1.2.3:80", 80, 0},
	{"[::1]:8000", 0, "[::1]:8000", 8000, 1},
	{"[::ffff:127.0.0.1]:8000", 0, "[::ffff:127.0.0.1]:8000", 8000, 1},
	{"[::ffff:10.0.0.1]:8000", 0, "[::ffff:10.0.0.1]:8000", 8000, 0},
	{"[::]:0", 0, "[::]:0", 0, 0},
	{"[fe80::1]:9", 0, "[fe80::1]:9", 9, 0},
	{"unix:/tmp/gh.sock", 0, "unix:/tmp/gh.sock", 0, 1},
	{"unix:relative.sock", 0, "unix:relative.sock", 0, 1},
	{"+80", EINVAL, NULL, 0, 0},
	{"-80", EINVAL, NULL, 0, 0},
	{" 80", EINVAL, NULL, 0, 0},
	{"80 ", EINVAL, NULL, 0, 0},
	{"", EINVAL, NULL, 0, 0},
	{"65536", EINVAL, NULL, 0, 0},
	{"123456", EINVAL, NULL, 0, 0},
	{"127.0.0.1:", EINVAL, NULL, 0, 0},
	{"127.0.0.1:+80", EINVAL, NULL, 0, 0},
	{"127.0.0.1:80x", EINVAL, NULL, 0, 0},
	{"127.1:80", EINVAL, NULL, 0, 0},
	{"example.com:80", EINVAL, NULL, 0, 0},
	{"LOCALHOST:80", EINVAL, NULL, 0, 0},
	{"::1:80", EINVAL, NULL, 0, 0},
	{"[::1]80", EINVAL, NULL, 0, 0},
	{"[::1]", EINVAL, NULL, 0, 0},
	{"[localhost]:80", EINVAL, NULL, 0, 0},
	{"[127.0.0.1]:80", EINVAL, NULL, 0, 0},
	{"unix:", EINVAL, NULL, 0, 0},
	{"nope", EINVAL, NULL, 0, 0},
	{"http://127.0.0.1:8000", EINVAL, NULL, 0, 0},
};

TEST(table)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct gh_listen_addr a;
		int rc = gh__listen_parse(cases[i].in, &a);
		if (rc != cases[i].rc) {
			GH_TEST_FAIL_("\"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
			continue;
		}
		if (rc != 0) {
			EXPECT_EQ(a.len, 0); /* zeroed on failure */
			continue;
		}
		char desc[GH_LISTEN_DESC_MAX];
		gh__listen_describe(&a.ss, desc, sizeof desc);
		if (strcmp(desc, cases[i].desc) != 0)
			GH_TEST_FAIL_("\"%s\": described as \"%s\", want \"%s\"", cases[i].in, desc, cases[i].desc);
		if (gh__listen_port(&a) != cases[i].port || a.loopback != (bool)cases[i].loopback)
			GH_TEST_FAIL_("\"%s\": port %u loopback %d", cases[i].in, gh__listen_port(&a), a.loopback);
		/* what it describes reads back as the same address */
		struct gh_listen_addr b;
		EXPECT_EQ(gh__listen_parse(desc, &b), 0);
		EXPECT_TRUE(b.len == a.len && memcmp(&a.ss, &b.ss, a.len) == 0);
	}
}

TEST(unix_path_bounds)
{
	char s[5 + sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	memcpy(s, "unix:", 5);
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	memset(s + 5, 'p', max);
	s[5 + max] = '\0';
	struct gh_listen_addr a;
	EXPECT_EQ(gh__listen_parse(s, &a), 0);
	EXPECT_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + max + 1);
	s[5 + max] = 'p';
	s[5 + max + 1] = '\0';
	EXPECT_EQ(gh__listen_parse(s, &a), EINVAL);
	EXPECT_EQ(gh__listen_parse(NULL, &a), EINVAL);
}

TEST(set_port)
{
	struct gh_listen_addr a;
	ASSERT_EQ(gh__listen_parse("[::1]:0", &a), 0);
	gh__listen_set_port(&a, 4321);
	EXPECT_EQ(gh__listen_port(&a), 4321);
	char desc[GH_LISTEN_DESC_MAX];
	gh__listen_describe(&a.ss, desc, sizeof desc);
	EXPECT_STREQ(desc, "[::1]:4321");
}

int main(void)
{
	return RUN_TESTS();
}
