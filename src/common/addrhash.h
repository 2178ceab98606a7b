/* addrhash.h: the 8-byte hashes under which Account stores addresses.
 * Normal addresses: Argon2id (per-server parameters, also served to clients,
 * who hash their own addresses); shield addresses: SipHash-2-4.
 * Algorithms, parameter bounds and the parameter block: docs/PROTOCOL.md 2.6-2.8. */
#ifndef ALLEARS_ADDRHASH_H
#define ALLEARS_ADDRHASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/util.h"

#define ADDRHASH_BYTES 8
#define ADDRHASH_SALT_BYTES 16       /* = crypto_pwhash_SALTBYTES */
#define ADDRHASH_SHIELD_KEY_BYTES 16 /* = crypto_shorthash_KEYBYTES */
#define ADDRHASH_ARGON2_OUT_BYTES 16 /* folded to ADDRHASH_BYTES */

/* Argon2id cost bounds; the memory limit is in KiB and a whole number of MiB. */
#define ADDRHASH_OPSLIMIT_MIN 1
#define ADDRHASH_OPSLIMIT_MAX 10
#define ADDRHASH_MEMLIMIT_KIB_MIN (8u * 1024)    /* 8 MiB */
#define ADDRHASH_MEMLIMIT_KIB_MAX (1024u * 1024) /* 1 GiB */
#define ADDRHASH_MEMLIMIT_KIB_STEP 1024u
/* Sized for a small 2-core server: about 30 ms per hash (section 2.8). */
#define ADDRHASH_DEFAULT_OPSLIMIT 3
#define ADDRHASH_DEFAULT_MEMLIMIT_KIB (32u * 1024)

/* Serialized parameter block served to clients (section 2.7). */
#define ADDRHASH_PARAMS_BYTES 8
#define ADDRHASH_PARAMS_VERSION 1 /* Argon2id v1.3, 1 lane, 16 bytes folded to 8 */

struct addrhash_params {
	uint8_t opslimit;      /* Argon2 passes (t) */
	uint32_t memlimit_kib; /* Argon2 memory (m), KiB */
};

static inline struct addrhash_params addrhash_params_default(void)
{
	return (struct addrhash_params){ .opslimit = ADDRHASH_DEFAULT_OPSLIMIT,
		                             .memlimit_kib = ADDRHASH_DEFAULT_MEMLIMIT_KIB };
}

/* 0 if p is within the bounds above, -EINVAL otherwise. */
int addrhash_params_check(const struct addrhash_params *p) WUR;

/* Writes the 8-byte block; -EINVAL (out untouched) if p fails the check. */
int addrhash_params_encode(const struct addrhash_params *p,
                           uint8_t out[ADDRHASH_PARAMS_BYTES]) WUR;

/* Reads exactly ADDRHASH_PARAMS_BYTES; -EBADMSG for a wrong length, version or
 * reserved field, -EINVAL for out-of-bounds parameters. */
int addrhash_params_decode(const uint8_t *in, size_t len, struct addrhash_params *ret_p) WUR;

/* Argon2id hash of a normal address, folded to 8 bytes. -EINVAL if addr is
 * not ADDR32_NORMAL or p fails the check, -ENOMEM if Argon2 cannot get its
 * memory; out is written only on success. Takes about 30 ms at the defaults. */
int addrhash_normal(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                    const uint8_t salt[ADDRHASH_SALT_BYTES],
                    const struct addrhash_params *p) WUR;

/* The same computation for any 10 bytes, valid address or not: the server
 * needs the hashes of forbidden values such as "system" to refuse them. */
int addrhash_normal_any(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                        const uint8_t salt[ADDRHASH_SALT_BYTES],
                        const struct addrhash_params *p) WUR;

/* SipHash-2-4 of a shield address. The caller has classified addr as
 * ADDR32_SHIELD; the hash itself accepts any 10 bytes. */
void addrhash_shield(uint8_t out[ADDRHASH_BYTES], const uint8_t addr[ADDR32_BYTES],
                     const uint8_t key[ADDRHASH_SHIELD_KEY_BYTES]);

#endif
