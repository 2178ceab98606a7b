/* envelope.c: sealing and opening Envelopes (docs/PROTOCOL.md section 4). Every
 * intermediate secret (ephemeral key, shared secret, hash, key, nonce, decrypted
 * header and padding) is on the stack and wiped before return. */
#include "common/envelope.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"

#define HASH_BYTES (crypto_stream_chacha20_ietf_KEYBYTES + crypto_stream_chacha20_ietf_NONCEBYTES)
#define HASH_INPUT_BYTES (crypto_scalarmult_BYTES + ENVELOPE_KEY_BYTES + 4)
#define CHACHA_BLOCK 64

_Static_assert(HASH_BYTES == 44, "BLAKE2b output is key(32) || nonce(12)");
/* The 32-bit ChaCha20 block counter cannot wrap inside the largest envelope. */
_Static_assert((ENVELOPE_MAX_BYTES - ENVELOPE_PK_BYTES) / CHACHA_BLOCK < UINT32_MAX,
               "ChaCha20 counter range");
_Static_assert(ENVELOPE_MAX_PAD <= 255, "pad_len is one byte");

struct stream_key {
	uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
};

size_t envelope_size_for(size_t msg_len)
{
	if (msg_len > ENVELOPE_MAX_MSG)
		return 0;
	size_t need = msg_len + ENVELOPE_OVERHEAD;
	size_t len = (need + ENVELOPE_BLOCK - 1) / ENVELOPE_BLOCK * ENVELOPE_BLOCK;
	return len < ENVELOPE_MIN_BYTES ? ENVELOPE_MIN_BYTES : len;
}

bool envelope_size_valid(size_t len)
{
	return len % ENVELOPE_BLOCK == 0 && len >= ENVELOPE_MIN_BYTES && len <= ENVELOPE_MAX_BYTES;
}

/* key || nonce = BLAKE2b-352(X25519(sk, peer) || EPK || u32 LE blocks).
 * -1 when X25519 gives the all-zero secret (a low-order peer key). */
static int derive(struct stream_key *sk_out, const uint8_t sk[ENVELOPE_KEY_BYTES],
                  const uint8_t peer[ENVELOPE_KEY_BYTES], const uint8_t epk[ENVELOPE_KEY_BYTES],
                  uint32_t blocks)
{
	uint8_t in[HASH_INPUT_BYTES];
	uint8_t h[HASH_BYTES];
	int rc = -1;
	if (crypto_scalarmult(in, sk, peer) == 0) {
		memcpy(in + crypto_scalarmult_BYTES, epk, ENVELOPE_KEY_BYTES);
		le32_store(in + crypto_scalarmult_BYTES + ENVELOPE_KEY_BYTES, blocks);
		crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
		memcpy(sk_out->key, h, sizeof(sk_out->key));
		memcpy(sk_out->nonce, h + sizeof(sk_out->key), sizeof(sk_out->nonce));
		rc = 0;
	}
	sodium_memzero(in, sizeof(in));
	sodium_memzero(h, sizeof(h));
	return rc;
}

/* XORs the keystream at byte offset `off` of the plaintext (counter 0 at the
 * version byte) into in[0..len), for reads that do not start on a block edge. */
static void xor_at(uint8_t *out, const uint8_t *in, size_t len, size_t off,
                   const struct stream_key *k)
{
	uint32_t counter = (uint32_t)(off / CHACHA_BLOCK);
	size_t head = off % CHACHA_BLOCK;
	if (len == 0)
		return;
	if (head != 0) {
		uint8_t ks[CHACHA_BLOCK] = { 0 };
		size_t n = CHACHA_BLOCK - head < len ? CHACHA_BLOCK - head : len;
		crypto_stream_chacha20_ietf_xor_ic(ks, ks, sizeof(ks), k->nonce, counter, k->key);
		for (size_t i = 0; i < n; i++)
			out[i] = in[i] ^ ks[head + i];
		sodium_memzero(ks, sizeof(ks));
		out += n;
		in += n;
		len -= n;
		counter++;
	}
	if (len != 0)
		crypto_stream_chacha20_ietf_xor_ic(out, in, len, k->nonce, counter, k->key);
}

int envelope_seal_with_ephemeral(uint8_t *out, size_t out_len, const uint8_t *msg,
                                 size_t msg_len, const uint8_t epk[ENVELOPE_KEY_BYTES],
                                 const uint8_t eph_sk[ENVELOPE_KEY_BYTES])
{
	struct stream_key k;
	uint8_t eph_pk[ENVELOPE_PK_BYTES];
	size_t len = envelope_size_for(msg_len);
	if (len == 0 || out_len != len)
		return -EINVAL;
	size_t pad = len - ENVELOPE_OVERHEAD - msg_len;
	if (crypto_scalarmult_base(eph_pk, eph_sk) != 0 ||
	    derive(&k, eph_sk, epk, epk, (uint32_t)(len / ENVELOPE_BLOCK)) != 0) {
		sodium_memzero(&k, sizeof(k));
		return -EINVAL;
	}
	/* Message first: it may overlap out, including the header bytes. */
	if (msg_len != 0)
		memmove(out + ENVELOPE_OVERHEAD, msg, msg_len);
	memcpy(out, eph_pk, ENVELOPE_PK_BYTES);
	out[ENVELOPE_PK_BYTES] = ENVELOPE_VERSION;
	out[ENVELOPE_PK_BYTES + 1] = (uint8_t)pad;
	memset(out + ENVELOPE_OVERHEAD + msg_len, 0, pad);
	crypto_stream_chacha20_ietf_xor(out + ENVELOPE_PK_BYTES, out + ENVELOPE_PK_BYTES,
	                                len - ENVELOPE_PK_BYTES, k.nonce, k.key);
	sodium_memzero(&k, sizeof(k));
	return 0;
}

int envelope_seal(uint8_t *out, size_t out_len, const uint8_t *msg, size_t msg_len,
                  const uint8_t epk[ENVELOPE_KEY_BYTES])
{
	uint8_t eph_sk[ENVELOPE_KEY_BYTES];
	randombytes_buf(eph_sk, sizeof(eph_sk));
	int rc = envelope_seal_with_ephemeral(out, out_len, msg, msg_len, epk, eph_sk);
	sodium_memzero(eph_sk, sizeof(eph_sk));
	return rc;
}

int envelope_open(uint8_t *out_msg, size_t out_cap, size_t *ret_msg_len, const uint8_t *env,
                  size_t env_len, const uint8_t esk[ENVELOPE_KEY_BYTES],
                  const uint8_t epk[ENVELOPE_KEY_BYTES])
{
	struct stream_key k;
	uint8_t hdr[ENVELOPE_OVERHEAD - ENVELOPE_PK_BYTES];
	uint8_t pad_bytes[ENVELOPE_MAX_PAD];
	const uint8_t *ct = env + ENVELOPE_PK_BYTES; /* offset 0 of the plaintext */
	size_t msg_len = 0, pad = 0;
	uint8_t acc = 0;
	int rc = -EBADMSG;

	if (!envelope_size_valid(env_len))
		return -EINVAL;
	if (derive(&k, esk, env, epk, (uint32_t)(env_len / ENVELOPE_BLOCK)) != 0)
		goto out;
	xor_at(hdr, ct, sizeof(hdr), 0, &k);
	pad = hdr[1];
	if (hdr[0] != ENVELOPE_VERSION || pad > env_len - ENVELOPE_OVERHEAD)
		goto out;
	msg_len = env_len - ENVELOPE_OVERHEAD - pad;
	/* Only the sealer's choice of pad_len is accepted, so pad <= ENVELOPE_MAX_PAD. */
	if (envelope_size_for(msg_len) != env_len)
		goto out;
	xor_at(pad_bytes, ct + 2 + msg_len, pad, 2 + msg_len, &k);
	for (size_t i = 0; i < pad; i++)
		acc |= pad_bytes[i];
	if (acc != 0)
		goto out;
	if (msg_len > out_cap) {
		rc = -EINVAL;
		goto out;
	}
	xor_at(out_msg, ct + 2, msg_len, 2, &k);
	*ret_msg_len = msg_len;
	rc = 0;
out:
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(hdr, sizeof(hdr));
	sodium_memzero(pad_bytes, sizeof(pad_bytes));
	return rc;
}
