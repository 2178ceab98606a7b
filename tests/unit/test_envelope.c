/* test_envelope.c: Envelope sizes, round trips across every block edge and at
 * the maximum, wrong keys, corruption, in-place sealing and the known-answer
 * vectors of docs/PROTOCOL.md section 4.7. */
#include <errno.h>

#include "check.h"
#include "common/envelope.h"
#include "common/keys.h"

static uint8_t esk[ENVELOPE_KEY_BYTES], epk[ENVELOPE_KEY_BYTES];

static const char kat20[] =
	"79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
	"5dd27ee04019fbd2bc5875b928ad31576eb573a7e1152052e2c109574cc5168c"
	"f3f67e02b65b9677b646dbec952c9a5b778bf8dcf3d40a823c265f2d18ca0c66"
	"71ebe5c8c6ff2564480f6138060ee99b62d3cb89cf44cfbde1984d62fbd7fd64";
static const char kat95[] =
	"79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
	"4974ba7fc3d8d8b01caf6a30252e5a6dc602d176d6a52b94027d5e21b4344771"
	"125eb701ca730fb27dc00a1988498b344de3cbe6f8c1c53eb9df65f889b09f73"
	"59077b3e6473ee2f2fa8b7137705a9db9b426110c523d6c86088a380ef5beaa9"
	"1e77b99ff84a2e506c65e73d8fe7d6ef4a209f3d49ce3f27563a0857ed52bbe6";

static void ephemeral_vector(uint8_t e[ENVELOPE_KEY_BYTES])
{
	for (int i = 0; i < ENVELOPE_KEY_BYTES; i++)
		e[i] = (uint8_t)(0x40 + i);
}

/* The UMK golden vector of section 3.8 gives the key pair of the KATs. */
static void setup_keys(void)
{
	uint8_t umk[KEYS_UMK_BYTES];
	for (int i = 0; i < KEYS_UMK_BYTES; i++)
		umk[i] = (uint8_t)i;
	if (keys_envelope_keypair(epk, esk, umk) != 0)
		exit(1);
}

static void sizes(void)
{
	static const struct {
		size_t msg, env;
	} t[] = {
		{ 0, 128 }, { 1, 128 }, { 94, 128 }, { 95, 160 }, { 96, 160 }, { 126, 160 },
		{ 127, 192 }, { 158, 192 }, { 159, 224 }, { 1000, 1056 },
		{ ENVELOPE_MAX_MSG - 1, ENVELOPE_MAX_BYTES }, { ENVELOPE_MAX_MSG, ENVELOPE_MAX_BYTES },
		{ ENVELOPE_MAX_MSG + 1, 0 }, { ENVELOPE_MAX_BYTES, 0 }, { SIZE_MAX, 0 },
		{ SIZE_MAX - 33, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK(envelope_size_for(t[i].msg) == t[i].env);
	for (size_t m = 0; m < 2000; m++) {
		size_t len = envelope_size_for(m);
		CHECK(len % ENVELOPE_BLOCK == 0 && len >= ENVELOPE_MIN_BYTES);
		CHECK(len >= m + ENVELOPE_OVERHEAD);
		CHECK(len == ENVELOPE_MIN_BYTES || len - m - ENVELOPE_OVERHEAD < ENVELOPE_BLOCK);
		CHECK(envelope_size_valid(len));
	}
	CHECK(!envelope_size_valid(0));
	CHECK(!envelope_size_valid(96));
	CHECK(!envelope_size_valid(127));
	CHECK(!envelope_size_valid(129));
	CHECK(envelope_size_valid(ENVELOPE_MAX_BYTES));
	CHECK(!envelope_size_valid(ENVELOPE_MAX_BYTES + ENVELOPE_BLOCK));
}

/* Seals msg[0..m), checks the size, opens it and compares. */
static void round_trip(size_t m)
{
	uint8_t *msg = xmalloc(m + 1), *back = xmalloc(m + 1);
	size_t len = envelope_size_for(m), got = SIZE_MAX;
	uint8_t *env = xmalloc(len);
	randombytes_buf(msg, m);
	CHECK(envelope_seal(env, len, msg, m, epk) == 0);
	CHECK(len % ENVELOPE_BLOCK == 0);
	CHECK(envelope_open(back, m, &got, env, len, esk, epk) == 0);
	CHECK(got == m);
	CHECK(memcmp(back, msg, m) == 0);
	if (m > 16)
		CHECK(memcmp(env + ENVELOPE_OVERHEAD, msg, 16) != 0); /* not in clear */
	free(msg);
	free(back);
	free(env);
}

static void round_trips_at_block_edges(void)
{
	for (size_t m = 0; m <= 400; m++)
		round_trip(m);
	/* Around ChaCha20 block edges deep inside a larger envelope. */
	for (size_t m = 4000; m < 4200; m += 7)
		round_trip(m);
	round_trip(65536 + 3);
}

static void round_trip_at_maximum(void)
{
	round_trip(ENVELOPE_MAX_MSG);
	round_trip(ENVELOPE_MAX_MSG - 31);
	round_trip(ENVELOPE_MAX_MSG - 32); /* one block smaller */
}

static void known_answer(void)
{
	uint8_t e[ENVELOPE_KEY_BYTES], env[160], want[160], msg[95], back[95];
	size_t got = 0;
	ephemeral_vector(e);
	CHECK(envelope_seal_with_ephemeral(env, 128, (const uint8_t *)"allears envelope KAT", 20,
	                                   epk, e) == 0);
	CHECK(check_unhex(kat20, want, sizeof(want)) == 128);
	CHECK_MEM(env, want, 128);
	CHECK(envelope_open(back, sizeof(back), &got, want, 128, esk, epk) == 0);
	CHECK(got == 20 && memcmp(back, "allears envelope KAT", 20) == 0);

	for (int i = 0; i < 95; i++)
		msg[i] = (uint8_t)i;
	CHECK(envelope_seal_with_ephemeral(env, 160, msg, 95, epk, e) == 0);
	CHECK(check_unhex(kat95, want, sizeof(want)) == 160);
	CHECK_MEM(env, want, 160);
	CHECK(envelope_open(back, sizeof(back), &got, want, 160, esk, epk) == 0);
	CHECK(got == 95 && memcmp(back, msg, 95) == 0);
}

static void every_seal_differs(void)
{
	uint8_t a[128], b[128];
	CHECK(envelope_seal(a, sizeof(a), (const uint8_t *)"same", 4, epk) == 0);
	CHECK(envelope_seal(b, sizeof(b), (const uint8_t *)"same", 4, epk) == 0);
	CHECK(memcmp(a, b, ENVELOPE_PK_BYTES) != 0);
	CHECK(memcmp(a + ENVELOPE_PK_BYTES, b + ENVELOPE_PK_BYTES, 128 - ENVELOPE_PK_BYTES) != 0);
}

static void seal_rejects_bad_sizes_and_keys(void)
{
	uint8_t env[256], msg[100] = { 1 };
	uint8_t low[ENVELOPE_KEY_BYTES] = { 0 };
	CHECK(envelope_seal(env, 0, msg, 0, epk) == -EINVAL);
	CHECK(envelope_seal(env, 96, msg, 0, epk) == -EINVAL);
	CHECK(envelope_seal(env, 160, msg, 0, epk) == -EINVAL); /* bigger than needed */
	CHECK(envelope_seal(env, 128, msg, 95, epk) == -EINVAL);
	CHECK(envelope_seal(env, 192, msg, 95, epk) == -EINVAL);
	CHECK(envelope_seal(env, 256, msg, ENVELOPE_MAX_MSG + 1, epk) == -EINVAL);
	CHECK(envelope_seal(env, 256, msg, SIZE_MAX, epk) == -EINVAL);
	/* Low-order EPKs: zero and one give an all-zero shared secret. */
	CHECK(envelope_seal(env, 128, msg, 10, low) == -EINVAL);
	low[0] = 1;
	CHECK(envelope_seal(env, 128, msg, 10, low) == -EINVAL);
}

static void open_rejects_bad_lengths(void)
{
	uint8_t e[32], env[256], out[256];
	size_t got = 12345;
	ephemeral_vector(e);
	CHECK(envelope_seal_with_ephemeral(env, 128, (const uint8_t *)"x", 1, epk, e) == 0);
	memset(env + 128, 0, 128);
	static const size_t lens[] = { 0, 1, 32, 96, 127, 129, 159, 255 };
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++)
		CHECK(envelope_open(out, sizeof(out), &got, env, lens[i], esk, epk) == -EINVAL);
	/* Too long: rejected before a single byte is read. */
	CHECK(envelope_open(out, sizeof(out), &got, env, ENVELOPE_MAX_BYTES + ENVELOPE_BLOCK, esk,
	                    epk) == -EINVAL);
	CHECK(envelope_open(out, sizeof(out), &got, env, SIZE_MAX - 31, esk, epk) == -EINVAL);
	/* A valid envelope followed by a block of trailing data is not the same envelope
	 * (B is in the key derivation). */
	CHECK(envelope_open(out, sizeof(out), &got, env, 160, esk, epk) == -EBADMSG);
	CHECK(got == 12345);
	CHECK(envelope_open(out, sizeof(out), &got, env, 128, esk, epk) == 0);
	CHECK(got == 1 && out[0] == 'x');
}

/* Deterministic (fixed keys), so a wrong key can never pass by chance here. */
static void open_rejects_wrong_key(void)
{
	uint8_t umk[KEYS_UMK_BYTES], esk2[32], epk2[32], e[32], env[128], out[128];
	size_t got = 777;
	int wrong = 0;
	ephemeral_vector(e);
	memset(out, 0xEE, sizeof(out));
	for (int i = 0; i < 50; i++) {
		memset(umk, i + 1, sizeof(umk));
		e[0] = (uint8_t)i;
		CHECK(keys_envelope_keypair(epk2, esk2, umk) == 0);
		CHECK(envelope_seal_with_ephemeral(env, sizeof(env), (const uint8_t *)"for someone else",
		                                   16, epk2, e) == 0);
		wrong += envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG;
		/* The right secret with the wrong public key also fails (hash covers EPK). */
		wrong += envelope_open(out, sizeof(out), &got, env, sizeof(env), esk2, epk) == -EBADMSG;
		CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk2, epk2) == 0);
		got = 777;
	}
	CHECK(wrong == 100);
	CHECK(got == 777);
	memset(env, 0xEE, sizeof(env));
	CHECK(envelope_open(env, sizeof(env), &got, env, 0, esk, epk) == -EINVAL);
}

static void open_rejects_corruption(void)
{
	uint8_t e[32], msg[60], env[128], out[128];
	size_t got = 5;
	ephemeral_vector(e);
	memset(msg, 'm', sizeof(msg));
	CHECK(envelope_seal_with_ephemeral(env, sizeof(env), msg, sizeof(msg), epk, e) == 0);
	/* Every single-bit flip of the version byte. */
	for (int bit = 0; bit < 8; bit++) {
		env[32] ^= (uint8_t)(1 << bit);
		CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG);
		env[32] ^= (uint8_t)(1 << bit);
	}
	/* pad_len is 34 here. A larger value swallows message bytes ('m' != 0) or is out
	 * of range; a smaller one only moves zero padding into the message, which no
	 * unauthenticated check can notice (section 4.6). */
	for (int bit = 0; bit < 8; bit++) {
		unsigned pad = 34u ^ (1u << bit);
		env[33] ^= (uint8_t)(1 << bit);
		int rc = envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk);
		if (pad > 34) {
			CHECK(rc == -EBADMSG);
		} else {
			CHECK(rc == 0 && got == 128 - 34 - pad);
			CHECK(memcmp(out, msg, sizeof(msg)) == 0 && out[got - 1] == 0);
			got = 5;
		}
		env[33] ^= (uint8_t)(1 << bit);
	}
	/* Any padding byte. */
	for (size_t i = ENVELOPE_OVERHEAD + sizeof(msg); i < sizeof(env); i++) {
		env[i] ^= 0x80;
		CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG);
		env[i] ^= 0x80;
	}
	/* The ephemeral key. */
	env[5] ^= 0x01;
	CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG);
	env[5] ^= 0x01;
	/* A low-order ephemeral key gives an all-zero secret. */
	uint8_t saved[32];
	memcpy(saved, env, 32);
	memset(env, 0, 32);
	CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG);
	env[0] = 1;
	CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == -EBADMSG);
	memcpy(env, saved, 32);
	CHECK(got == 5);
	CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == 0);
	CHECK(got == sizeof(msg) && memcmp(out, msg, sizeof(msg)) == 0);
}

/* Not authenticated (section 4.6): a flipped message bit opens, flipped. */
static void message_bits_are_malleable(void)
{
	uint8_t msg[40], env[128], out[128];
	size_t got = 0;
	memset(msg, 'a', sizeof(msg));
	CHECK(envelope_seal(env, sizeof(env), msg, sizeof(msg), epk) == 0);
	env[ENVELOPE_OVERHEAD + 7] ^= 0x20;
	CHECK(envelope_open(out, sizeof(out), &got, env, sizeof(env), esk, epk) == 0);
	msg[7] ^= 0x20;
	CHECK(got == sizeof(msg) && memcmp(out, msg, sizeof(msg)) == 0);
}

/* A longer-than-needed envelope (a whole extra block of zero padding) is
 * refused even though version and padding are right. Built from the keystream
 * of a real envelope of that size: ciphertext XOR known plaintext. */
static void open_rejects_noncanonical_padding(void)
{
	uint8_t e[32], msg[158], env[192], forged[192], out[192];
	size_t got = 9;
	ephemeral_vector(e);
	memset(msg, 0x11, sizeof(msg));
	CHECK(envelope_seal_with_ephemeral(env, 192, msg, 158, epk, e) == 0); /* pad_len 0 */
	uint8_t plain[160] = { ENVELOPE_VERSION, 0 }, fake[160] = { ENVELOPE_VERSION, 58 };
	memcpy(plain + 2, msg, 158);
	memcpy(fake + 2, msg, 100); /* 100 bytes would fit 160; the rest stays zero */
	memcpy(forged, env, 32);
	for (int i = 0; i < 160; i++)
		forged[32 + i] = env[32 + i] ^ plain[i] ^ fake[i];
	CHECK(envelope_open(out, sizeof(out), &got, forged, 192, esk, epk) == -EBADMSG);
	/* The same forging with canonical values does open: the check is what failed. */
	fake[1] = 26;
	memset(fake + 2, 0x22, 132);
	memset(fake + 134, 0, 26);
	for (int i = 0; i < 160; i++)
		forged[32 + i] = env[32 + i] ^ plain[i] ^ fake[i];
	CHECK(envelope_open(out, sizeof(out), &got, forged, 192, esk, epk) == 0);
	CHECK(got == 132 && out[0] == 0x22 && out[131] == 0x22);
}

static void open_needs_room_for_the_message(void)
{
	uint8_t msg[50], env[128], out[128];
	size_t got = 3;
	memset(msg, 7, sizeof(msg));
	memset(out, 0xEE, sizeof(out));
	CHECK(envelope_seal(env, sizeof(env), msg, sizeof(msg), epk) == 0);
	CHECK(envelope_open(out, 49, &got, env, sizeof(env), esk, epk) == -EINVAL);
	CHECK(envelope_open(out, 0, &got, env, sizeof(env), esk, epk) == -EINVAL);
	CHECK(got == 3 && out[0] == 0xEE);
	CHECK(envelope_open(out, 50, &got, env, sizeof(env), esk, epk) == 0);
	CHECK(got == 50 && memcmp(out, msg, 50) == 0 && out[50] == 0xEE);
	/* An empty message needs no room at all. */
	CHECK(envelope_seal(env, sizeof(env), NULL, 0, epk) == 0);
	CHECK(envelope_open(NULL, 0, &got, env, sizeof(env), esk, epk) == 0);
	CHECK(got == 0);
}

static void seal_in_place(void)
{
	uint8_t e[32], buf[160], msg[95], want[160], out[160];
	size_t got = 0;
	ephemeral_vector(e);
	for (int i = 0; i < 95; i++)
		msg[i] = (uint8_t)i;
	CHECK(check_unhex(kat95, want, sizeof(want)) == 160);
	/* Message already at its place in the envelope. */
	memcpy(buf + ENVELOPE_OVERHEAD, msg, 95);
	CHECK(envelope_seal_with_ephemeral(buf, 160, buf + ENVELOPE_OVERHEAD, 95, epk, e) == 0);
	CHECK_MEM(buf, want, 160);
	/* Message at the start of the buffer, overlapping the header. */
	memcpy(buf, msg, 95);
	CHECK(envelope_seal_with_ephemeral(buf, 160, buf, 95, epk, e) == 0);
	CHECK_MEM(buf, want, 160);
	CHECK(envelope_open(out, sizeof(out), &got, buf, 160, esk, epk) == 0);
	CHECK(got == 95 && memcmp(out, msg, 95) == 0);
}

int main(void)
{
	check_init();
	setup_keys();
	RUN(sizes);
	RUN(round_trips_at_block_edges);
	RUN(round_trip_at_maximum);
	RUN(known_answer);
	RUN(every_seal_differs);
	RUN(seal_rejects_bad_sizes_and_keys);
	RUN(open_rejects_bad_lengths);
	RUN(open_rejects_wrong_key);
	RUN(open_rejects_corruption);
	RUN(message_bits_are_malleable);
	RUN(open_rejects_noncanonical_padding);
	RUN(open_needs_room_for_the_message);
	RUN(seal_in_place);
	return check_finish();
}
