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

/* The reference: one code point at a time, no fast path. */
static bool slow_valid(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(p + i, n - i, NULL);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static void fast_path_agrees_with_the_reference(void)
{
	uint8_t buf[67];
	memset(buf, 'a', sizeof(buf));
	/* one bad or multi-byte sequence at every offset of a long ASCII run */
	for (size_t at = 0; at < sizeof(buf); at++) {
		memset(buf, 'a', sizeof(buf));
		buf[at] = 0x80;
		CHECK(!utf8_valid(buf, sizeof(buf)));
		if (at + 2 <= sizeof(buf)) {
			buf[at] = 0xC3, buf[at + 1] = 0xA9;
			CHECK(utf8_valid(buf, sizeof(buf)));
			CHECK(!utf8_valid(buf, at + 1)); /* cut inside the sequence */
		}
	}
	/* random mixes of ASCII and high bytes, every length */
	uint32_t seed = 12345;
	int agree = 1;
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(round % 40);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			uint8_t b = (uint8_t)(seed >> 16);
			buf[i] = (seed >> 28) & 1 ? b : (uint8_t)(b & 0x7F);
		}
		agree &= utf8_valid(buf, n) == slow_valid(buf, n);
	}
	CHECK(agree);
}

int main(void)
{
	check_init();
	RUN(accepts_valid_sequences);
	RUN(rejects_overlongs_surrogates_and_out_of_range);
	RUN(rejects_truncated_sequences);
	RUN(reports_code_points);
	RUN(fast_path_agrees_with_the_reference);
	return check_finish();
}
