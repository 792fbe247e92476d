/*
 * test_status.c -- http/status.c: every status the debug server emits (its
 * own documents, h2o's errors it rewrites, the 408 of a cut connection) has
 * its own reason phrase, Python's http.HTTPStatus wording; unknown statuses
 * get their class, never another status's phrase (a 504 once went out as
 * "Internal Server Error").
 */
#include "status.h"
#include "test.h"

TEST(every_status_the_server_emits)
{
	static const struct {
		int status;
		const char *phrase;
	} want[] = {
		{200, "OK"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{413, "Request Entity Too Large"},
		{414, "Request-URI Too Long"},
		{417, "Expectation Failed"},
		{422, "Unprocessable Entity"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		EXPECT_STREQ(gh__http_reason(want[i].status), want[i].phrase);
		EXPECT_TRUE(gh__http_reason_known(want[i].status));
	}
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
