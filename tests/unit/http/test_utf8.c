/*
 * test_utf8.c -- http/utf8.c: the one sanitizing rule (ill-formed maximal
 * subparts -> U+FFFD), string lengths as pydantic counts them, and the
 * comparison of a raw name with its displayed form (a type registered with
 * ill-formed UTF-8 is found by the name the server shows).
 */
#include "utf8.h"
#include "test.h"

#define FFFD GH_UTF8_REPLACEMENT

TEST(count_and_sanitized_length)
{
	EXPECT_EQ(gh__utf8_count("", 0), 0);
	EXPECT_EQ(gh__utf8_count("abc", 3), 3);
	EXPECT_EQ(gh__utf8_count("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), 3);
	EXPECT_EQ(gh__utf8_count("\xe1\x80\x41", 3), 2); /* U+FFFD 'A' */
	EXPECT_EQ(gh__utf8_count("\xed\xa0\x80", 3), 3); /* a surrogate: three subparts */
	EXPECT_EQ(gh__utf8_sanitized_len("\xed\xa0\x80", 3), 9);
	EXPECT_EQ(gh__utf8_sanitized_len("\xf0\x9f\x98", 3), 3); /* truncated: one subpart */
	size_t b = 0, cp = 0;
	EXPECT_TRUE(gh__utf8_measure("a\xc3\xa9", 3, &b, &cp));
	EXPECT_EQ(b, 3);
	EXPECT_EQ(cp, 2);
	EXPECT_FALSE(gh__utf8_measure("\xf0\x9f\x98", 3, &b, &cp));
	EXPECT_EQ(b, 3); /* same length, not the same bytes: measure says so */
	EXPECT_EQ(cp, 1);
}

TEST(sequences)
{
	unsigned skip = 0;
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xc3\xa9", 2, &skip), 2);
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &skip), 4); /* U+10FFFF */
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xf4\x90\x80\x80", 4, &skip), 0); /* above */
	EXPECT_EQ(skip, 1);
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xe0\x80\x80", 3, &skip), 0); /* overlong */
	EXPECT_EQ(skip, 1);
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xe1\x80\x41", 3, &skip), 0);
	EXPECT_EQ(skip, 2);
	EXPECT_EQ(gh__utf8_seq((const unsigned char *)"\xc0\xaf", 2, &skip), 0);
	EXPECT_EQ(skip, 1);
}

static bool eq(const char *raw, size_t rn, const char *clean)
{
	return gh__utf8_sanitized_equal(raw, rn, clean, strlen(clean));
}

TEST(sanitized_equal)
{
	EXPECT_TRUE(eq("", 0, ""));
	EXPECT_TRUE(eq("Plain", 5, "Plain"));
	EXPECT_FALSE(eq("Plain", 5, "Plai"));
	EXPECT_FALSE(eq("Plai", 4, "Plain"));
	EXPECT_TRUE(eq("Bad\xff", 4, "Bad" FFFD));
	EXPECT_FALSE(eq("Bad\xff", 4, "Bad"));
	EXPECT_FALSE(eq("Bad\xff", 4, "Bad?"));
	EXPECT_TRUE(eq("\xe1\x80\x41", 3, FFFD "A"));
	EXPECT_FALSE(eq("\xe1\x80\x41", 3, FFFD FFFD "A")); /* one maximal subpart, one U+FFFD */
	EXPECT_TRUE(eq("\xed\xa0\x80", 3, FFFD FFFD FFFD));
	EXPECT_TRUE(eq("x" FFFD, 4, "x" FFFD)); /* a real U+FFFD shows as itself */
	EXPECT_TRUE(eq("caf\xc3\xa9\x80", 6, "caf\xc3\xa9" FFFD));
	EXPECT_TRUE(gh__utf8_sanitized_equal("a\0b", 3, "a\0b", 3));
}

int main(void)
{
	return RUN_TESTS();
}
