/* test_web_page.c: the page file decoder (src/web/page.c, docs/PROTOCOL.md
 * section 21.2): a file written here byte by byte from the document loads
 * with its fields and ETags; every broken rule is refused. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "common/bytes.h"
#include "web/page.h"

static uint8_t file[WEBPAGE_FILE_MAX + 64];

struct var {
	int coding;
	const uint8_t *body;
	size_t len;
};

/* Writes a file as section 21.2 says; returns its length. */
static size_t make(const char *magic, uint8_t version, uint32_t max_age, const char *csp,
                   const struct var *v, size_t n)
{
	size_t at = 0, cl = strlen(csp);
	memcpy(file, magic, 6);
	file[6] = version;
	file[7] = (uint8_t)n;
	le32_store(file + 8, max_age);
	le16_store(file + 12, (uint16_t)cl);
	at = 14;
	memcpy(file + at, csp, cl);
	at += cl;
	for (size_t i = 0; i < n; i++) {
		file[at] = (uint8_t)v[i].coding;
		crypto_generichash(file + at + 1, 16, v[i].body, v[i].len, NULL, 0);
		le32_store(file + at + 17, (uint32_t)v[i].len);
		memcpy(file + at + 21, v[i].body, v[i].len);
		at += 21 + v[i].len;
	}
	crypto_generichash(file + at, 32, file, at, NULL, 0);
	return at + 32;
}

static void resum(size_t len)
{
	crypto_generichash(file + len - 32, 32, file, len - 32, NULL, 0);
}

static const uint8_t html[] = "<!DOCTYPE html><p>hello hello hello hello</p>";
#define HTML_LEN (sizeof(html) - 1)
static const uint8_t gz[] = "0123456789";
static const uint8_t br[] = "abcdefgh";

static void loads(void)
{
	struct var v[] = { { 0, html, HTML_LEN }, { 1, gz, 10 }, { 2, br, 8 } };
	size_t len = make("AEWEBP", 1, 3600, "default-src 'none'", v, 3);
	struct webpage pg;
	CHECK(webpage_decode(file, len, &pg) == 0);
	CHECK(pg.max_age == 3600 && strcmp(pg.csp, "default-src 'none'") == 0);
	CHECK(pg.v[0].present && pg.v[0].len == HTML_LEN && memcmp(pg.v[0].body, html, HTML_LEN) == 0);
	CHECK(pg.v[1].present && pg.v[1].len == 10 && pg.v[2].present && pg.v[2].len == 8);
	uint8_t tag[16];
	char hex[33], want[40];
	crypto_generichash(tag, 16, html, HTML_LEN, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), tag, 16);
	snprintf(want, sizeof(want), "\"%s\"", hex);
	CHECK(strcmp(pg.v[0].etag, want) == 0 && strlen(pg.v[0].etag) == WEBPAGE_ETAG_LEN);
	CHECK(strcmp(webpage_coding_name(WEBPAGE_BR), "br") == 0);
	/* Identity only, and identity with br only. */
	len = make("AEWEBP", 1, 0, "x", v, 1);
	CHECK(webpage_decode(file, len, &pg) == 0 && !pg.v[1].present && !pg.v[2].present);
	struct var v2[] = { { 0, html, HTML_LEN }, { 2, br, 8 } };
	len = make("AEWEBP", 1, WEBPAGE_MAX_AGE_MAX, "x", v2, 2);
	CHECK(webpage_decode(file, len, &pg) == 0 && !pg.v[1].present && pg.v[2].present);
}

static int decode_of(size_t len)
{
	struct webpage pg;
	memset(&pg, 0x55, sizeof(pg));
	int rc = webpage_decode(file, len, &pg);
	return rc;
}

static void refused(void)
{
	struct var v[] = { { 0, html, HTML_LEN }, { 1, gz, 10 } };
	size_t len = make("AEWEBP", 1, 1, "x", v, 2);
	CHECK(decode_of(len) == 0);
	/* checksum, truncation, trailing bytes */
	file[20] ^= 1;
	CHECK(decode_of(len) == -EINVAL);
	len = make("AEWEBP", 1, 1, "x", v, 2);
	CHECK(decode_of(len - 1) == -EINVAL);
	CHECK(decode_of(0) == -EINVAL && decode_of(45) == -EINVAL);
	file[len] = 0;
	resum(len + 1); /* a checksum over one more byte: trailing byte inside */
	CHECK(decode_of(len + 1) == -EINVAL);
	/* magic, version, counts */
	CHECK(decode_of(make("AEWEBQ", 1, 1, "x", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 2, 1, "x", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", v, 0)) == -EINVAL);
	len = make("AEWEBP", 1, 1, "x", v, 2);
	file[7] = 4;
	resum(len);
	CHECK(decode_of(len) == -EINVAL);
	/* max_age and CSP */
	CHECK(decode_of(make("AEWEBP", 1, WEBPAGE_MAX_AGE_MAX + 1, "x", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 1, 1, "", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 1, 1, " x", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 1, 1, "x\r\nSet-Cookie: a", v, 2)) == -EINVAL);
	CHECK(decode_of(make("AEWEBP", 1, 1, "x\x7f", v, 2)) == -EINVAL);
	static char big[WEBPAGE_CSP_MAX + 2];
	memset(big, 'a', WEBPAGE_CSP_MAX);
	CHECK(decode_of(make("AEWEBP", 1, 1, big, v, 2)) == 0);
	big[WEBPAGE_CSP_MAX] = 'a';
	CHECK(decode_of(make("AEWEBP", 1, 1, big, v, 2)) == -EINVAL);
	/* coding order, duplicates, unknown codings, identity first */
	struct var dup[] = { { 0, html, HTML_LEN }, { 1, gz, 10 }, { 1, gz, 10 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", dup, 3)) == -EINVAL);
	struct var order[] = { { 0, html, HTML_LEN }, { 2, br, 8 }, { 1, gz, 10 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", order, 3)) == -EINVAL);
	struct var nofirst[] = { { 1, gz, 10 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", nofirst, 1)) == -EINVAL);
	struct var unknown[] = { { 0, html, HTML_LEN }, { 3, gz, 10 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", unknown, 2)) == -EINVAL);
	/* a compressed variant not smaller; an empty one; a wrong tag */
	struct var same[] = { { 0, gz, 10 }, { 1, gz, 10 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", same, 2)) == -EINVAL);
	struct var empty[] = { { 0, html, 0 } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", empty, 1)) == -EINVAL);
	len = make("AEWEBP", 1, 1, "x", v, 2);
	file[14 + 1 + 1] ^= 1; /* identity's tag */
	resum(len);
	CHECK(decode_of(len) == -EINVAL);
	/* a length past the end */
	len = make("AEWEBP", 1, 1, "x", v, 1);
	le32_store(file + 14 + 1 + 17, (uint32_t)HTML_LEN + 1);
	resum(len);
	CHECK(decode_of(len) == -EINVAL);
}

static void limits(void)
{
	static uint8_t big[WEBPAGE_HTML_MAX + 1];
	memset(big, 'a', sizeof(big));
	struct var v[] = { { 0, big, WEBPAGE_HTML_MAX } };
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", v, 1)) == 0);
	v[0].len = WEBPAGE_HTML_MAX + 1;
	CHECK(decode_of(make("AEWEBP", 1, 1, "x", v, 1)) == -EINVAL);
	CHECK(decode_of(WEBPAGE_FILE_MAX + 1) == -EINVAL);
}

int main(void)
{
	check_init();
	RUN(loads);
	RUN(refused);
	RUN(limits);
	return check_finish();
}
