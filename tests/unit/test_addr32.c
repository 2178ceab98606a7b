/* test_addr32.c: Addr32 against the original's vectors, the folding rules, the
 * bit layout, classification of every forbidden shape, and round trips. */
#include <ctype.h>
#include <errno.h>

#include "check.h"
#include "common/addr32.h"

static int enc(const char *s, uint8_t out[ADDR32_BYTES]) { return addr32_encode(s, strlen(s), out); }

static void hex10(const char *hex, uint8_t out[ADDR32_BYTES])
{
	if (check_unhex(hex, out, ADDR32_BYTES) != ADDR32_BYTES)
		abort();
}

static bool same_as(const char *a, const char *b)
{
	uint8_t x[ADDR32_BYTES], y[ADDR32_BYTES];
	enc(a, x);
	enc(b, y);
	return memcmp(x, y, ADDR32_BYTES) == 0;
}

static void golden_vectors(void)
{
	static const struct {
		const char *s, *hex, *canon;
	} v[] = {
		{ "abuse", "2a97bcb8000000000000", "abuse" },
		{ "admin", "2a9b40d4000000000000", "adm1n" },
		{ "administrator", "6a9b40d439d615a06000", "adm1n1strat0r" },
		{ "system", "367d9d3a800000000000", NULL }, /* forbidden: no text */
		{ "postmaster", "55819d5159d3b0000000", "p0stmaster" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t a[ADDR32_BYTES], want[ADDR32_BYTES];
		char text[ADDR32_TEXT_MAX];
		hex10(v[i].hex, want);
		CHECK(enc(v[i].s, a) == (int)strlen(v[i].s));
		CHECK_MEM(a, want, ADDR32_BYTES);
		int r = addr32_decode(a, text);
		if (v[i].canon) {
			CHECK(r == (int)strlen(v[i].canon) && strcmp(text, v[i].canon) == 0);
			CHECK(addr32_classify(a) == ADDR32_NORMAL);
		} else {
			CHECK(r == -EPERM);
			CHECK(addr32_classify(a) == ADDR32_INVALID);
		}
	}
	uint8_t sys[ADDR32_BYTES];
	hex10("367d9d3a800000000000", sys);
	CHECK_MEM(addr32_system, sys, ADDR32_BYTES);
}

static void folds_case_and_lookalikes(void)
{
	CHECK(same_as("Ad-Min!", "admin"));
	CHECK(same_as("ADMIN", "admin"));
	CHECK(same_as("adm1n", "admin"));
	CHECK(same_as("aDmLn", "admin"));
	CHECK(same_as("o", "0") && same_as("O", "0"));
	CHECK(same_as("i", "1") && same_as("I", "1") && same_as("l", "1") && same_as("L", "1"));
	CHECK(same_as("v", "w") && same_as("V", "w") && same_as("W", "w"));
	CHECK(!same_as("u", "w") && !same_as("a", "b") && !same_as("admin", "admln0"));
	/* Each alphabet symbol encodes to its position: length 1, c0 = value. */
	const char *alpha = "0123456789abcdefghjkmnpqrstuwxyz";
	for (unsigned v = 0; v < 32; v++) {
		uint8_t a[ADDR32_BYTES];
		char s[2] = { alpha[v], 0 };
		CHECK(enc(s, a) == 1);
		CHECK(a[0] == (uint8_t)(1 << 3 | v >> 2) && a[1] == (uint8_t)((v & 3) << 6));
		s[0] = (char)toupper((unsigned char)alpha[v]);
		uint8_t b[ADDR32_BYTES];
		CHECK(enc(s, b) == 1 && memcmp(a, b, ADDR32_BYTES) == 0);
	}
}

static void drops_every_other_byte(void)
{
	for (unsigned c = 0; c < 256; c++) {
		uint8_t a[ADDR32_BYTES];
		char s[1] = { (char)c };
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		CHECK(addr32_encode(s, 1, a) == (alnum ? 1 : 0));
	}
	CHECK(same_as("a.d-m_i n+\xc3\xa9\xe2\x82\xac\xff", "admin"));
	uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
	CHECK(addr32_encode("ad\0min", 6, a) == 5); /* NUL is just another dropped byte */
	enc("admin", b);
	CHECK_MEM(a, b, ADDR32_BYTES);
}

static void reads_only_len_bytes(void)
{
	uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
	CHECK(addr32_encode("adminXYZ", 5, a) == 5);
	enc("admin", b);
	CHECK_MEM(a, b, ADDR32_BYTES);
	memset(a, 0xAA, sizeof(a));
	CHECK(addr32_encode(NULL, 0, a) == 0);
	for (int i = 0; i < ADDR32_BYTES; i++)
		CHECK(a[i] == 0);
	CHECK(addr32_encode("...", 3, a) == 0);
	CHECK(addr32_parse("...", 3, a) == ADDR32_INVALID);
	CHECK(addr32_parse("", 0, a) == ADDR32_INVALID);
}

static void bit_layout_extremes(void)
{
	uint8_t a[ADDR32_BYTES], want[ADDR32_BYTES];
	char text[ADDR32_TEXT_MAX];
	CHECK(enc("zzzzzzzzzzzzzzz", a) == 15); /* 15 chars of 31: every character bit set */
	hex10("7fffffffffffffffffff", want);
	CHECK_MEM(a, want, ADDR32_BYTES);
	CHECK(addr32_classify(a) == ADDR32_NORMAL);
	CHECK(enc("zzzzzzzzzzzzzzzz", a) == 16);
	hex10("ffffffffffffffffffff", want);
	CHECK_MEM(a, want, ADDR32_BYTES);
	CHECK(addr32_classify(a) == ADDR32_SHIELD);
	CHECK(addr32_decode(a, text) == 16 && strcmp(text, "zzzzzzzzzzzzzzzz") == 0);
	CHECK(enc("1", a) == 1);
	hex10("08400000000000000000", want);
	CHECK_MEM(a, want, ADDR32_BYTES);
	/* The 16th character keeps only its low 4 bits; the flag supplies the 5th. */
	CHECK(enc("0000000000000000", a) == 16);
	hex10("80000000000000000000", want);
	CHECK_MEM(a, want, ADDR32_BYTES);
	CHECK(addr32_decode(a, text) == 16 && strcmp(text, "000000000000000g") == 0);
	CHECK(same_as("000000000000000g", "0000000000000000"));
	CHECK(same_as("abcdefghjkmnpqrz", "abcdefghjkmnpqrf"));
	CHECK(!same_as("abcdefghjkmnpqrz", "abcdefghjkmnpqry"));
	/* c14 is the last 5 bits of byte 9. */
	CHECK(enc("00000000000000z", a) == 15);
	hex10("7800000000000000001f", want);
	CHECK_MEM(a, want, ADDR32_BYTES);
}

static void counts_beyond_sixteen(void)
{
	uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
	CHECK(enc("abcdefghjkmnpqr", a) == 15 && addr32_classify(a) == ADDR32_NORMAL);
	CHECK(addr32_parse("abcdefghjkmnpqr", 15, b) == ADDR32_NORMAL);
	CHECK(enc("abcdefghjkmnpqrs", a) == 16 && addr32_classify(a) == ADDR32_SHIELD);
	CHECK(addr32_parse("abcdefghjkmnpqrs", 16, b) == ADDR32_SHIELD);
	CHECK(enc("abcdefghjkmnpqrst", a) == 17);
	enc("abcdefghjkmnpqrs", b);
	CHECK_MEM(a, b, ADDR32_BYTES); /* only the first 16 are encoded */
	CHECK(addr32_parse("abcdefghjkmnpqrst", 17, b) == ADDR32_INVALID);
	CHECK(addr32_parse("a.b.c.d.e.f.g.h.j.k.m.n.p.q.r.s", 31, b) == ADDR32_SHIELD);
	char big[5000];
	memset(big, 'x', sizeof(big));
	CHECK(addr32_encode(big, sizeof(big), a) == 5000);
	CHECK(addr32_parse(big, sizeof(big), a) == ADDR32_INVALID);
	CHECK(addr32_classify(a) == ADDR32_SHIELD);
}

static void rejects_malformed_normals(void)
{
	uint8_t a[ADDR32_BYTES] = { 0 };
	char text[ADDR32_TEXT_MAX] = "untouched";
	CHECK(addr32_classify(a) == ADDR32_INVALID); /* length 0 */
	CHECK(addr32_decode(a, text) == -EINVAL && strcmp(text, "untouched") == 0);
	a[9] = 1; /* length 0 with bits set */
	CHECK(addr32_classify(a) == ADDR32_INVALID && addr32_decode(a, text) == -EINVAL);
	/* For each length 1-14, every single bit beyond the last character is refused. */
	for (unsigned n = 1; n <= 14; n++) {
		for (unsigned bit = 5 + 5 * n; bit < 80; bit++) {
			memset(a, 0, sizeof(a));
			a[0] = (uint8_t)(n << 3);
			CHECK(addr32_classify(a) == ADDR32_NORMAL);
			a[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			CHECK(addr32_classify(a) == ADDR32_INVALID);
			CHECK(addr32_decode(a, text) == -EINVAL);
		}
		/* ... while the last bit of the last character is fine. */
		memset(a, 0, sizeof(a));
		a[0] = (uint8_t)(n << 3);
		unsigned last = 5 + 5 * n - 1;
		a[last / 8] |= (uint8_t)(0x80 >> (last % 8));
		CHECK(addr32_classify(a) == ADDR32_NORMAL);
	}
	CHECK(strcmp(text, "untouched") == 0);
}

static void rejects_forbidden_values(void)
{
	uint8_t a[ADDR32_BYTES], adm[ADDR32_BYTES];
	char text[ADDR32_TEXT_MAX] = "untouched";
	CHECK(addr32_parse("SyS-tem", 7, a) == ADDR32_INVALID);
	CHECK(addr32_decode(a, text) == -EPERM && strcmp(text, "untouched") == 0);
	CHECK(addr32_parse("systems", 7, a) == ADDR32_NORMAL);
	CHECK(addr32_parse("syste", 5, a) == ADDR32_NORMAL);
	enc("administrator", adm);
	/* Any shield whose bytes 2-9 are administrator's: all 2^15 of them. */
	bool all_invalid = true;
	for (unsigned hi = 0; hi < 128; hi++)
		for (unsigned b1 = 0; b1 < 256; b1++) {
			memcpy(a, adm, sizeof(a));
			a[0] = (uint8_t)(0x80 | hi);
			a[1] = (uint8_t)b1;
			if (addr32_classify(a) != ADDR32_INVALID || addr32_decode(a, text) != -EPERM)
				all_invalid = false;
		}
	CHECK(all_invalid);
	/* One bit away in the tail, it is an ordinary shield. */
	for (unsigned bit = 16; bit < 80; bit++) {
		memcpy(a, adm, sizeof(a));
		a[0] |= 0x80;
		a[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		CHECK(addr32_classify(a) == ADDR32_SHIELD);
	}
	CHECK(addr32_classify(adm) == ADDR32_NORMAL); /* the normal name itself is fine */
}

static void reserved_names(void)
{
	static const char *names[] = { "abuse", "admin", "administrator", "help", "hostmaster",
		                           "info", "postmaster", "security", "support", "webmaster" };
	static const char *variants[] = { "ABUSE", "Ad.Min", "adm1n1strat0r", "He-lp", "H0STMASTER",
		                              "lnfo", "post_master", "SECUR1TY", "supp0rt", "web.master" };
	static const char *others[] = { "admins", "helpdesk", "abus", "root", "info1", "webmasters",
		                            "x", "postmaste", "sup", "system" };
	uint8_t a[ADDR32_BYTES];
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		enc(names[i], a);
		CHECK(addr32_is_reserved(a) && addr32_classify(a) == ADDR32_NORMAL);
		enc(variants[i], a);
		CHECK(addr32_is_reserved(a));
		enc(others[i], a);
		CHECK(!addr32_is_reserved(a));
	}
	memset(a, 0, sizeof(a));
	CHECK(!addr32_is_reserved(a));
}

static void decode_encode_round_trip(void)
{
	static const char pool[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_+ \x80\xff";
	for (int iter = 0; iter < 20000; iter++) {
		char s[40], text[ADDR32_TEXT_MAX];
		uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
		size_t len = randombytes_uniform(sizeof(s) + 1);
		for (size_t i = 0; i < len; i++)
			s[i] = pool[randombytes_uniform(sizeof(pool) - 1)];
		int count = addr32_encode(s, len, a);
		enum addr32_kind k = addr32_parse(s, len, b);
		CHECK_MEM(a, b, ADDR32_BYTES);
		CHECK(count >= 0 && (size_t)count <= len);
		if (count == 0 || count > 16) {
			CHECK(k == ADDR32_INVALID);
			continue;
		}
		CHECK(k == (count == 16 ? ADDR32_SHIELD : ADDR32_NORMAL) ||
		      memcmp(a, addr32_system, ADDR32_BYTES) == 0);
		if (k == ADDR32_INVALID)
			continue;
		int n = addr32_decode(a, text);
		CHECK(n == count && strlen(text) == (size_t)n);
		CHECK(strspn(text, "0123456789abcdefghjkmnpqrstuwxyz") == (size_t)n);
		CHECK(addr32_encode(text, (size_t)n, b) == n);
		CHECK_MEM(a, b, ADDR32_BYTES);
	}
	/* Random 80-bit values: whatever classifies as valid decodes and re-encodes. */
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
		char text[ADDR32_TEXT_MAX];
		randombytes_buf(a, sizeof(a));
		if (iter & 1)
			a[0] &= 0x7f;
		enum addr32_kind k = addr32_classify(a);
		int n = addr32_decode(a, text);
		CHECK((k == ADDR32_INVALID) == (n < 0));
		if (n > 0) {
			CHECK(addr32_parse(text, (size_t)n, b) == k);
			CHECK_MEM(a, b, ADDR32_BYTES);
		}
	}
}

static void random_shields(void)
{
	enum { N = 2000 };
	static uint8_t s[N][ADDR32_BYTES];
	uint8_t ones[ADDR32_BYTES] = { 0 }, zeros[ADDR32_BYTES] = { 0 };
	for (int i = 0; i < N; i++) {
		addr32_shield_random(s[i]);
		CHECK(addr32_classify(s[i]) == ADDR32_SHIELD);
		for (int j = 0; j < ADDR32_BYTES; j++) {
			ones[j] |= s[i][j];
			zeros[j] |= (uint8_t)~s[i][j];
		}
		for (int j = 0; j < i; j++)
			CHECK(memcmp(s[i], s[j], ADDR32_BYTES) != 0);
	}
	/* Every bit but the flag varies; the flag is always set. */
	CHECK(zeros[0] == 0x7f);
	for (int j = 0; j < ADDR32_BYTES; j++) {
		CHECK(ones[j] == 0xff);
		CHECK(j == 0 || zeros[j] == 0xff);
	}
}

int main(void)
{
	check_init();
	RUN(golden_vectors);
	RUN(folds_case_and_lookalikes);
	RUN(drops_every_other_byte);
	RUN(reads_only_len_bytes);
	RUN(bit_layout_extremes);
	RUN(counts_beyond_sixteen);
	RUN(rejects_malformed_normals);
	RUN(rejects_forbidden_values);
	RUN(reserved_names);
	RUN(decode_encode_round_trip);
	RUN(random_shields);
	return check_finish();
}
