/* test_utf8.c: strict UTF-8 validation against RFC 3629's edge cases. */
#include "check.h"
#include "common/utf8.h"

static bool v(const char *s, size_t n) { return utf8_valid((const uint8_t *)s, n); }

static void accepts_valid_sequences(void)
{
	CHECK(v("", 0));
	CHECK(v("plain ascii", 11));
	CHECK(v("\xC3\xA9", 2));              /* U+00E9 */
	CHECK(v("\xE2\x82\xAC", 3));          /* U+20AC */
	CHECK(v("\xF0\x9F\x98\x80", 4));      /* U+1F600 */
	CHECK(v("\xF4\x8F\xBF\xBF", 4));      /* U+10FFFF, the last code point */
	CHECK(v("a\0b", 3));                  /* NUL is valid UTF-8; callers decide */
}

static void rejects_overlongs_surrogates_and_out_of_range(void)
{
	CHECK(!v("\xC0\xAF", 2));             /* overlong '/' */
	CHECK(!v("\xE0\x80\xAF", 3));         /* overlong */
	CHECK(!v("\xF0\x80\x80\xAF", 4));     /* overlong */
	CHECK(!v("\xED\xA0\x80", 3));         /* U+D800 surrogate */
	CHECK(!v("\xF4\x90\x80\x80", 4));     /* U+110000 */
	CHECK(!v("\xF5\x80\x80\x80", 4));
	CHECK(!v("\xFF", 1));
	CHECK(!v("\x80", 1));                 /* lone continuation byte */
}

static void rejects_truncated_sequences(void)
{
	CHECK(!v("\xE2\x82", 2));
	CHECK(!v("\xF0\x9F\x98", 3));
	CHECK(!v("ok\xC3", 3));
	CHECK(!v("\xC3" "a", 2));             /* continuation byte missing */
}

static void reports_code_points(void)
{
	uint32_t cp = 0;
	CHECK(utf8_seq_len((const uint8_t *)"\xE2\x82\xAC", 3, &cp) == 3 && cp == 0x20AC);
	CHECK(utf8_seq_len((const uint8_t *)"\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600);
	CHECK(utf8_seq_len((const uint8_t *)"\xF0\x9F\x98\x80", 3, &cp) == 0);
}

int main(void)
{
	check_init();
	RUN(accepts_valid_sequences);
	RUN(rejects_overlongs_surrogates_and_out_of_range);
	RUN(rejects_truncated_sequences);
	RUN(reports_code_points);
	return check_finish();
}
