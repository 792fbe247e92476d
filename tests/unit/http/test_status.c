/*
 * test_status.c -- http/status.c: every status the debug server emits (its
 * own documents, h2o's errors it rewrites, the 408 of a cut connection) has
 * its own reason phrase, Python's http.HTTPStatus wording; unknown statuses
 * get their class, never another status's phrase (a 504 once went out as
 * "Internal Server Error").
 */
#include "status.h"
#include <stdlib.h>
#include <string.h>
#include "test.h"

TEST(every_status_the_server_emits)
{
	/* "<status> <phrase>" lines, as Python's http.HTTPStatus words them */
	static const char want[] =
		"200 OK\n"
		"400 Bad Request\n"
		"401 Unauthorized\n"
		"403 Forbidden\n"
		"404 Not Found\n"
		"405 Method Not Allowed\n"
		"408 Request Timeout\n"
		"409 Conflict\n"
		"413 Request Entity Too Large\n"
		"414 Request-URI Too Long\n"
		"417 Expectation Failed\n"
		"422 Unprocessable Entity\n"
		"431 Request Header Fields Too Large\n"
		"500 Internal Server Error\n"
		"503 Service Unavailable\n"
		"504 Gateway Timeout\n";
	int checked = 0;
	for (const char *line = want; *line;) {
		char *phrase;
		int status = (int)strtol(line, &phrase, 10);
		const char *end = strchr(++phrase, '\n');
		EXPECT_TRUE(gh__http_reason_known(status));
		EXPECT_EQ(strlen(gh__http_reason(status)), (size_t)(end - phrase));
		EXPECT_TRUE(strncmp(gh__http_reason(status), phrase, (size_t)(end - phrase)) == 0);
		line = end + 1;
		checked++;
	}
	EXPECT_EQ(checked, 16);
}

TEST(unknown_statuses_get_their_class)
{
	EXPECT_STREQ(gh__http_reason(299), "Success");
	EXPECT_STREQ(gh__http_reason(499), "Client Error");
	EXPECT_STREQ(gh__http_reason(599), "Server Error");
	EXPECT_STREQ(gh__http_reason(199), "Informational");
	EXPECT_STREQ(gh__http_reason(399), "Redirection");
	EXPECT_STREQ(gh__http_reason(0), "Unknown");
	EXPECT_STREQ(gh__http_reason(600), "Unknown");
	EXPECT_STREQ(gh__http_reason(-1), "Unknown");
	EXPECT_FALSE(gh__http_reason_known(499));
}

TEST(table_is_sorted_and_distinct)
{
	/* binary search needs a sorted table: every one of its 45 entries is
	 * found (update the count with the table) */
	int known = 0;
	for (int s = 100; s < 600; s++)
		known += gh__http_reason_known(s);
	EXPECT_EQ(known, 45);
	EXPECT_TRUE(gh__http_reason_known(100) && gh__http_reason_known(507));
}

int main(void)
{
	return RUN_TESTS();
}
