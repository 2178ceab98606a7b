/* test_client_private.c: the private field format (src/client/private.c):
 * a golden vector computed independently in Python from docs section 15.6,
 * round trips, every single-bit change refused, the wrong key, and each
 * rule and limit of the plaintext. */
#include <errno.h>

#include "check.h"
#include "client/private.h"

/* PFK of the UMK golden vector (PROTOCOL.md 3.8), nonce 00..17; entries
 * "Alice.Smith" (hash 01..08, nick "Work ✓") and the shield address
 * zzzzzzzzzzzzzzzz (hash 11..18, no text, no nick). */
static const char pfk_hex[] = "ed3e4d106f10405aee3021b4aac9d95850ab4bb083752c676348f82afafcea10";
static const char golden[] =
	"01000102030405060708090a0b0c0d0e0f10111213141516172268395fb39778c9f8b5852534fb9dba9b9b"
	"dcc47b52eac955ea7de19e5d4c346ac21b34e1baea260488c32ce9956e854fc3bcb48a6069a1a507af35e7"
	"ca3dfdf66eb212de178459c21fae95ac95fbd522a877c683358608199da9a463f45d7bc4bc477b526e3eea"
	"026d97c90225415bf15316ec06dd45a3ebf1009cda0b6dee89920cd5fce26594416740417e3a4fe8b10770"
	"324ba65064e7046aea646ac59f02188bf8cf04054e3bfcdd972df0c8bd709aa186af1ba6e59449f9fd91e0"
	"86ec657682d74a0b23df0a96085f58d7827be578133ab2aad662a3b1b7576cd3efa0752aa951bdf924c0bc"
	"8a6c7dba7c9897d3c2e40caaccd954e3366f5612dd5db50c6371b4baa2d529b11399da754c974a";

static uint8_t pfk[32];

static void sample(struct private_data *d)
{
	memset(d, 0, sizeof(*d));
	uint8_t a1[10], a2[10], h1[8], h2[8];
	CHECK(addr32_parse("Alice.Smith", 11, a1) == ADDR32_NORMAL);
	CHECK(addr32_parse("zzzzzzzzzzzzzzzz", 16, a2) == ADDR32_SHIELD);
	for (int i = 0; i < 8; i++) {
		h1[i] = (uint8_t)(1 + i);
		h2[i] = (uint8_t)(0x11 + i);
	}
	struct private_entry e;
	CHECK(private_entry_make(&e, a1, h1, "Alice.Smith", 11, "Work \xe2\x9c\x93", 8) == 0);
	CHECK(private_put(d, &e) == 0);
	CHECK(private_entry_make(&e, a2, h2, NULL, 0, NULL, 0) == 0);
	CHECK(private_put(d, &e) == 0);
}

static void golden_vector(void)
{
	struct private_data d, got;
	sample(&d);
	uint8_t nonce[24], want[512];
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)i;
	int n = check_unhex(golden, want, sizeof(want));
	CHECK(n == PRIVATE_OVERHEAD + PRIVATE_BLOCK);
	struct wr w = WR_INIT;
	CHECK(private_seal_with_nonce(&w, &d, pfk, nonce) == 0);
	CHECK(w.len == (size_t)n);
	CHECK_MEM(w.p, want, (size_t)n);
	CHECK(private_open(&got, want, (size_t)n, pfk) == 0);
	CHECK(got.count == 2);
	CHECK(strcmp(got.e[0].text, "Alice.Smith") == 0 && strcmp(got.e[0].nick, "Work \xe2\x9c\x93") == 0);
	CHECK(got.e[1].text_len == 0 && got.e[1].nick_len == 0);
	CHECK_MEM(got.e[1].hash, d.e[1].hash, 8);
	wr_free(&w);
}

static void round_trip_and_fresh_nonce(void)
{
	struct private_data d, got;
	sample(&d);
	struct wr a = WR_INIT, b = WR_INIT;
	CHECK(private_seal(&a, &d, pfk) == 0);
	CHECK(private_seal(&b, &d, pfk) == 0);
	CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) != 0);
	CHECK(private_open(&got, a.p, a.len, pfk) == 0);
	CHECK(got.count == d.count && memcmp(&got.e[0], &d.e[0], sizeof(d.e[0])) == 0);
	/* The plaintext itself round-trips byte for byte. */
	struct wr p1 = WR_INIT, p2 = WR_INIT;
	CHECK(private_plain_encode(&p1, &d) == 0);
	CHECK(p1.len == PRIVATE_BLOCK);
	CHECK(private_plain_decode(&got, p1.p, p1.len) == 0);
	CHECK(private_plain_encode(&p2, &got) == 0);
	CHECK(p1.len == p2.len && memcmp(p1.p, p2.p, p1.len) == 0);
	/* Empty: a stored field of length 0 and a sealed empty list. */
	struct private_data empty = { 0 };
	CHECK(private_open(&got, NULL, 0, pfk) == 0 && got.count == 0);
	struct wr e = WR_INIT;
	CHECK(private_seal(&e, &empty, pfk) == 0 && e.len == PRIVATE_OVERHEAD + PRIVATE_BLOCK);
	got.count = 9;
	CHECK(private_open(&got, e.p, e.len, pfk) == 0 && got.count == 0);
	wr_free(&a);
	wr_free(&b);
	wr_free(&p1);
	wr_free(&p2);
	wr_free(&e);
}

static void tamper_and_wrong_key(void)
{
	uint8_t p[512], other[32];
	struct private_data got;
	int n = check_unhex(golden, p, sizeof(p));
	int refused = 0;
	for (int i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			p[i] ^= (uint8_t)(1 << bit);
			refused += private_open(&got, p, (size_t)n, pfk) != 0;
			p[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK(refused == n * 3);
	memcpy(other, pfk, 32);
	other[31] ^= 1;
	CHECK(private_open(&got, p, (size_t)n, other) == -EACCES);
	/* Lengths: truncated, one byte more, not a whole block, too large. */
	CHECK(private_open(&got, p, (size_t)n - 1, pfk) == -EBADMSG);
	CHECK(private_open(&got, p, PRIVATE_OVERHEAD, pfk) == -EBADMSG);
	uint8_t big[PRIVATE_FIELD_MAX + 1];
	memset(big, 0, sizeof(big));
	memcpy(big, p, (size_t)n);
	CHECK(private_open(&got, big, (size_t)n + 1, pfk) == -EBADMSG);
	CHECK(private_open(&got, big, PRIVATE_OVERHEAD + PRIVATE_PLAIN_MAX + PRIVATE_BLOCK, pfk) ==
	      -EBADMSG);
	CHECK(private_open(&got, big, sizeof(big), pfk) == -EBADMSG);
	p[0] = 2;
	CHECK(private_open(&got, p, (size_t)n, pfk) == -EBADMSG);
}

/* A plaintext built by hand, for the decoder's rules. */
static size_t plain(uint8_t *out, uint8_t count, const char *text, const char *nick)
{
	memset(out, 0, PRIVATE_BLOCK);
	out[0] = count;
	size_t o = 2;
	for (int i = 0; i < count; i++) {
		char t[80];
		snprintf(t, sizeof(t), "%s%c", text, 'a' + i); /* distinct addresses */
		CHECK(addr32_parse(t, strlen(t), out + o) == ADDR32_NORMAL);
		o += 10;
		memset(out + o, i + 1, 8);
		o += 8;
		out[o++] = (uint8_t)strlen(t);
		memcpy(out + o, t, strlen(t));
		o += strlen(t);
		out[o++] = (uint8_t)strlen(nick);
		memcpy(out + o, nick, strlen(nick));
		o += strlen(nick);
	}
	return o;
}

static void decoder_rules(void)
{
	uint8_t p[PRIVATE_PLAIN_MAX + PRIVATE_BLOCK];
	struct private_data got;
	size_t used = plain(p, 2, "bob", "n");
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == 0 && got.count == 2);
	/* Reserved byte, non-zero padding, a whole block of padding too many. */
	p[1] = 1;
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	p[1] = 0;
	p[PRIVATE_BLOCK - 1] = 1;
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	p[PRIVATE_BLOCK - 1] = 0;
	memset(p + PRIVATE_BLOCK, 0, PRIVATE_BLOCK);
	CHECK(private_plain_decode(&got, p, 2 * PRIVATE_BLOCK) == -EBADMSG);
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK - 1) == -EBADMSG);
	CHECK(private_plain_decode(&got, p, 0) == -EBADMSG);
	/* Count beyond the entries present: short input. */
	p[0] = 3;
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	p[0] = 32;
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	/* Text that does not fold to the Addr32. */
	plain(p, 1, "carol", "");
	p[2 + 10 + 8 + 1] = 'x';
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	/* Text with a space (not printable ASCII without space). */
	plain(p, 1, "ca rol", "");
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	/* Nicknames with ESC, DEL, C1 (U+009B), RLO (U+202E), invalid UTF-8. */
	static const char *const bad_nicks[] = { "a\x1b[2J", "a\x7f", "a\xc2\x9b", "a\xe2\x80\xae",
		                                     "a\xff", "a\n" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_nicks); i++) {
		plain(p, 1, "dave", bad_nicks[i]);
		CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	}
	/* Duplicate Addr32. */
	used = plain(p, 2, "erin", "");
	memcpy(p + 2 + 10 + 8 + 1 + 5 + 1, p + 2, 10);
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
	(void)used;
	/* An invalid Addr32 (the empty address). */
	plain(p, 1, "fred", "");
	memset(p + 2, 0, 10);
	p[2 + 10 + 8] = 0; /* no text */
	memmove(p + 2 + 10 + 8 + 1, p + 2 + 10 + 8 + 1 + 5, 1);
	CHECK(private_plain_decode(&got, p, PRIVATE_BLOCK) == -EBADMSG);
}

static void limits(void)
{
	/* 31 entries with 64-byte texts and nicknames: the largest field fits
	 * in what Account stores. */
	struct private_data d = { 0 }, got;
	for (int i = 0; i < PRIVATE_ENTRIES_MAX; i++) {
		char text[PRIVATE_TEXT_MAX + 1], nick[PRIVATE_NICK_MAX + 1];
		/* 64 bytes folding to a 15-character address unique per i. */
		memset(text, '-', PRIVATE_TEXT_MAX);
		text[0] = "0123456789abcdefghjkmnpqrstuwxyz"[i]; /* no two fold together */
		text[1] = 'a';
		for (int k = 0; k < 13; k++)
			text[3 + 2 * k] = 'x';
		text[PRIVATE_TEXT_MAX] = 0;
		memset(nick, 'N', PRIVATE_NICK_MAX);
		nick[PRIVATE_NICK_MAX] = 0;
		uint8_t a[10], h[8];
		CHECK(addr32_parse(text, strlen(text), a) == ADDR32_NORMAL);
		memset(h, i, sizeof(h));
		struct private_entry e;
		CHECK(private_entry_make(&e, a, h, text, strlen(text), nick, strlen(nick)) == 0);
		CHECK(private_put(&d, &e) == 0);
	}
	CHECK(d.count == PRIVATE_ENTRIES_MAX);
	struct wr w = WR_INIT;
	CHECK(private_seal(&w, &d, pfk) == 0);
	CHECK(w.len <= PRIVATE_FIELD_MAX && w.len == PRIVATE_OVERHEAD + PRIVATE_PLAIN_MAX);
	CHECK(private_open(&got, w.p, w.len, pfk) == 0 && got.count == PRIVATE_ENTRIES_MAX);
	wr_free(&w);
	/* A 32nd entry does not fit; 65-byte text or nickname is refused. */
	uint8_t a[10], h[8] = { 0xEE };
	struct private_entry e;
	CHECK(addr32_parse("zed", 3, a) == ADDR32_NORMAL);
	CHECK(private_entry_make(&e, a, h, "zed", 3, NULL, 0) == 0);
	CHECK(private_put(&d, &e) == -EDQUOT);
	d.count = 32;
	CHECK(private_plain_encode(&w, &d) == -EINVAL && w.len == 0);
	char t65[66];
	memset(t65, '-', 65);
	t65[0] = 'z';
	t65[1] = 'e';
	t65[2] = 'd';
	CHECK(private_entry_make(&e, a, h, t65, 65, NULL, 0) == -EINVAL);
	CHECK(private_entry_make(&e, a, h, NULL, 0, t65, 65) == -EINVAL);
	CHECK(private_entry_make(&e, a, h, "zed", 3, t65, 64) == 0);
}

static void find_put_remove(void)
{
	struct private_data d;
	sample(&d);
	CHECK(private_find_addr(&d, d.e[1].addr) == 1);
	CHECK(private_find_hash(&d, d.e[0].hash, false) == 0);
	CHECK(private_find_hash(&d, d.e[0].hash, true) == -1);
	CHECK(private_find_hash(&d, d.e[1].hash, true) == 1);
	CHECK(private_find_nick(&d, "Work \xe2\x9c\x93", 8) == 0);
	CHECK(private_find_nick(&d, "", 0) == -1);
	/* Putting the same address again replaces it. */
	struct private_entry e = d.e[0];
	CHECK(private_entry_make(&e, e.addr, e.hash, NULL, 0, "home", 4) == 0);
	CHECK(private_put(&d, &e) == 0 && d.count == 2 && strcmp(d.e[0].nick, "home") == 0);
	private_remove(&d, 0);
	CHECK(d.count == 1 && addr32_classify(d.e[0].addr) == ADDR32_SHIELD);
	private_remove(&d, 5);
	CHECK(d.count == 1);
}

int main(void)
{
	check_init();
	CHECK(check_unhex(pfk_hex, pfk, sizeof(pfk)) == 32);
	RUN(golden_vector);
	RUN(round_trip_and_fresh_nonce);
	RUN(tamper_and_wrong_key);
	RUN(decoder_rules);
	RUN(limits);
	RUN(find_put_remove);
	return check_finish();
}
