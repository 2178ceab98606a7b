/* addrhash.c: address hashes and their parameter block (docs/PROTOCOL.md
 * sections 2.6-2.8). The Argon2id cost is the only thing that slows down an
 * attacker who holds Account's state and guesses normal addresses. */
#include "common/addrhash.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"

_Static_assert(ADDRHASH_SALT_BYTES == crypto_pwhash_argon2id_SALTBYTES, "salt size");
_Static_assert(ADDRHASH_SHIELD_KEY_BYTES == crypto_shorthash_siphash24_KEYBYTES, "key size");
_Static_assert(ADDRHASH_BYTES == crypto_shorthash_siphash24_BYTES, "shorthash size");
/* Our bounds sit inside libsodium's, on 32-bit (2 GiB ceiling) and 64-bit alike. */
_Static_assert(ADDRHASH_OPSLIMIT_MIN >= crypto_pwhash_argon2id_OPSLIMIT_MIN, "ops min");
_Static_assert(ADDRHASH_OPSLIMIT_MAX <= crypto_pwhash_argon2id_OPSLIMIT_MAX, "ops max");
_Static_assert((size_t)ADDRHASH_MEMLIMIT_KIB_MIN * 1024u >= crypto_pwhash_argon2id_MEMLIMIT_MIN,
               "mem min");
_Static_assert((size_t)ADDRHASH_MEMLIMIT_KIB_MAX * 1024u <= crypto_pwhash_argon2id_MEMLIMIT_MAX,
               "mem max");
_Static_assert(ADDRHASH_ARGON2_OUT_BYTES == 2 * ADDRHASH_BYTES, "fold halves");

int addrhash_params_check(const struct addrhash_params *p)
{
	if (p->opslimit < ADDRHASH_OPSLIMIT_MIN || p->opslimit > ADDRHASH_OPSLIMIT_MAX)
		return -EINVAL;
	if (p->memlimit_kib < ADDRHASH_MEMLIMIT_KIB_MIN || p->memlimit_kib > ADDRHASH_MEMLIMIT_KIB_MAX ||
	    p->memlimit_kib % ADDRHASH_MEMLIMIT_KIB_STEP != 0)
		return -EINVAL;
	return 0;
}

int addrhash_params_encode(const struct addrhash_params *p, uint8_t out[ADDRHASH_PARAMS_BYTES])
{
	if (addrhash_params_check(p) < 0)
		return -EINVAL;
	out[0] = ADDRHASH_PARAMS_VERSION;
	out[1] = p->opslimit;
	le16_store(out + 2, 0);
	le32_store(out + 4, p->memlimit_kib);
	return 0;
}

int addrhash_params_decode(const uint8_t *in, size_t len, struct addrhash_params *ret_p)
{
	if (len != ADDRHASH_PARAMS_BYTES || in[0] != ADDRHASH_PARAMS_VERSION ||
	    le16_load(in + 2) != 0)
		return -EBADMSG;
	struct addrhash_params p = { .opslimit = in[1], .memlimit_kib = le32_load(in + 4) };
	if (addrhash_params_check(&p) < 0)
		return -EINVAL;
	*ret_p = p;
	return 0;
}

int addrhash_normal_any(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                        const uint8_t salt[ADDRHASH_SALT_BYTES], const struct addrhash_params *p)
{
	if (addrhash_params_check(p) < 0)
		return -EINVAL;
	uint8_t h[ADDRHASH_ARGON2_OUT_BYTES];
	if (crypto_pwhash(h, sizeof(h), (const char *)addr, ADDR32_BYTES, salt, p->opslimit,
	                  (size_t)p->memlimit_kib * 1024u, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < ADDRHASH_BYTES; i++)
		out[i] = h[i] ^ h[i + ADDRHASH_BYTES];
	sodium_memzero(h, sizeof(h));
	return 0;
}

int addrhash_normal(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                    const uint8_t salt[ADDRHASH_SALT_BYTES], const struct addrhash_params *p)
{
	if (addr32_classify(addr) != ADDR32_NORMAL)
		return -EINVAL;
	return addrhash_normal_any(out, addr, salt, p);
}

void addrhash_shield(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                     const uint8_t key[ADDRHASH_SHIELD_KEY_BYTES])
{
	crypto_shorthash_siphash24(out, addr, ADDR32_BYTES, key);
}
