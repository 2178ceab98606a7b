/* fuzz_envelope.c: envelope_open on arbitrary bytes must never crash or read out
 * of bounds, and must accept exactly the envelopes section 4.5 of
 * docs/PROTOCOL.md accepts. The first input byte picks a mode:
 *   0: the rest is an envelope, opened with a fixed key pair;
 *   1: the rest is a message, sealed and opened again;
 *   2: the rest is a plaintext P (version, pad_len, ...), encrypted here for the
 *      fixed key pair so the checks behind the decryption are reached; the
 *      opener's verdict is compared with the rules, and what opens is sealed
 *      again and must give the same bytes (the format is canonical). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/envelope.h"
#include "common/keys.h"

static uint8_t esk[32], epk[32], eph[32];

static void setup(void)
{
	static int done;
	uint8_t umk[KEYS_UMK_BYTES];
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	for (int i = 0; i < KEYS_UMK_BYTES; i++)
		umk[i] = (uint8_t)i;
	if (keys_envelope_keypair(epk, esk, umk) != 0)
		abort();
	for (int i = 0; i < 32; i++)
		eph[i] = (uint8_t)(0x40 + i);
	done = 1;
}

static void open_arbitrary(const uint8_t *env, size_t len)
{
	uint8_t *out = malloc(len + 1);
	size_t m = 0;
	if (!out)
		abort();
	int rc = envelope_open(out, len, &m, env, len, esk, epk);
	if (rc == 0 && (len < ENVELOPE_OVERHEAD || m > len - ENVELOPE_OVERHEAD ||
	                envelope_size_for(m) != len))
		abort();
	if (rc != 0 && rc != -EINVAL && rc != -EBADMSG)
		abort();
	if (rc == -EINVAL && envelope_size_valid(len))
		abort(); /* out_cap = len always suffices */
	free(out);
}

static void round_trip(const uint8_t *msg, size_t m)
{
	size_t len = envelope_size_for(m), back_len = 0;
	uint8_t *env = malloc(len), *back = malloc(m + 1);
	if (!env || !back)
		abort();
	if (envelope_seal(env, len, msg, m, epk) != 0)
		abort();
	if (envelope_open(back, m, &back_len, env, len, esk, epk) != 0 || back_len != m ||
	    memcmp(back, msg, m) != 0)
		abort();
	free(env);
	free(back);
}

/* The rules of section 4.5 step 3, applied to a known plaintext. */
static int rules_accept(const uint8_t *p, size_t len)
{
	size_t pad = p[1];
	if (p[0] != ENVELOPE_VERSION || pad > len - ENVELOPE_OVERHEAD)
		return 0;
	size_t m = len - ENVELOPE_OVERHEAD - pad;
	if (envelope_size_for(m) != len)
		return 0;
	for (size_t i = 0; i < pad; i++)
		if (p[2 + m + i] != 0)
			return 0;
	return 1;
}

static void open_structured(const uint8_t *data, size_t n)
{
	size_t len = n + ENVELOPE_PK_BYTES;
	len = (len + ENVELOPE_BLOCK - 1) / ENVELOPE_BLOCK * ENVELOPE_BLOCK;
	if (len < ENVELOPE_MIN_BYTES)
		len = ENVELOPE_MIN_BYTES;
	uint8_t *env = calloc(1, len), *out = malloc(len), *again = malloc(len);
	uint8_t in[32 + 32 + 4], h[44];
	size_t m = 0;
	if (!env || !out || !again)
		abort();
	memcpy(env + 32, data, n); /* the rest of P stays zero */
	if (n < 2)
		env[32] = ENVELOPE_VERSION;
	int expect = rules_accept(env + 32, len);
	/* Independent encryption: key || nonce = BLAKE2b-44(X25519(e, EPK) || EPK || B). */
	if (crypto_scalarmult_base(env, eph) != 0 || crypto_scalarmult(in, eph, epk) != 0)
		abort();
	memcpy(in + 32, epk, 32);
	le32_store(in + 64, (uint32_t)(len / ENVELOPE_BLOCK));
	crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
	crypto_stream_chacha20_ietf_xor(env + 32, env + 32, len - 32, h + 32, h);

	int rc = envelope_open(out, len, &m, env, len, esk, epk);
	if ((rc == 0) != expect)
		abort();
	if (rc == 0) {
		if (envelope_size_for(m) != len ||
		    envelope_seal_with_ephemeral(again, len, out, m, epk, eph) != 0 ||
		    memcmp(again, env, len) != 0)
			abort();
	} else if (rc != -EBADMSG) {
		abort();
	}
	free(env);
	free(out);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		open_arbitrary(data + 1, size - 1);
		break;
	case 1:
		round_trip(data + 1, size - 1);
		break;
	default:
		open_structured(data + 1, size - 1);
		break;
	}
	return 0;
}
