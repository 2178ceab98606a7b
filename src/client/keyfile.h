/* keyfile.h: the UMK file. It holds the User Master Key, either as is or
 * encrypted under a passphrase (Argon2id -> XChaCha20-Poly1305), and is
 * readable by its owner only: the client refuses a file that anyone else can
 * read or write. Layout: docs/PROTOCOL.md section 15.3. */
#ifndef ALLEARS_CLIENT_KEYFILE_H
#define ALLEARS_CLIENT_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"
#include "common/util.h"

#define KEYFILE_MAGIC "AEUMK"
#define KEYFILE_MAGIC_LEN 5
#define KEYFILE_VERSION 1
#define KEYFILE_HEADER_BYTES 8     /* magic, version, protection, reserved */
#define KEYFILE_PROT_NONE 0
#define KEYFILE_PROT_PASSPHRASE 1
#define KEYFILE_CHECK_BYTES 16     /* BLAKE2b-16 check of an unprotected file */
#define KEYFILE_SALT_BYTES 16      /* crypto_pwhash_SALTBYTES */
#define KEYFILE_NONCE_BYTES 24     /* XChaCha20-Poly1305-IETF */
#define KEYFILE_TAG_BYTES 16
#define KEYFILE_KDF_BYTES 8        /* opslimit u8, reserved (3), memlimit_kib u32 */
#define KEYFILE_PLAIN_BYTES (KEYFILE_HEADER_BYTES + KEYS_UMK_BYTES + KEYFILE_CHECK_BYTES) /* 69 */
#define KEYFILE_PROT_AD_BYTES \
	(KEYFILE_HEADER_BYTES + KEYFILE_KDF_BYTES + KEYFILE_SALT_BYTES + KEYFILE_NONCE_BYTES) /* 56 */
#define KEYFILE_PROT_BYTES (KEYFILE_PROT_AD_BYTES + KEYS_UMK_BYTES + KEYFILE_TAG_BYTES) /* 117 */
#define KEYFILE_MAX_BYTES KEYFILE_PROT_BYTES
#define KEYFILE_CHECK_LABEL "allears umk file" /* BLAKE2b personal of the check (16) */

/* Passphrase: 1-1024 bytes, taken as given (no normalisation). */
#define KEYFILE_PASS_MAX 1024
/* Argon2id cost bounds accepted in a file, and the cost new files get
 * (libsodium's MODERATE: 3 passes, 256 MiB, about a second). */
#define KEYFILE_OPS_MIN 1
#define KEYFILE_OPS_MAX 10
#define KEYFILE_MEM_KIB_MIN (8u * 1024)
#define KEYFILE_MEM_KIB_MAX (1024u * 1024)
#define KEYFILE_OPS_DEFAULT 3
#define KEYFILE_MEM_KIB_DEFAULT (256u * 1024)

struct keyfile_kdf {
	uint8_t opslimit;
	uint32_t memlimit_kib; /* a whole number of MiB */
};

/* Encodes a UMK file into out (KEYFILE_MAX_BYTES), *ret_len its length:
 * unprotected when pass is NULL, else encrypted under pass with kdf (NULL for
 * the default cost). -EINVAL for a bad passphrase length or cost, -ENOMEM
 * when Argon2id cannot get its memory. */
int keyfile_encode(uint8_t out[KEYFILE_MAX_BYTES], size_t *ret_len,
                   const uint8_t umk[KEYS_UMK_BYTES], const char *pass, size_t pass_len,
                   const struct keyfile_kdf *kdf) WUR;
/* Tests only: a fixed salt and nonce. */
int keyfile_encode_with(uint8_t out[KEYFILE_MAX_BYTES], size_t *ret_len,
                        const uint8_t umk[KEYS_UMK_BYTES], const char *pass, size_t pass_len,
                        const struct keyfile_kdf *kdf, const uint8_t salt[KEYFILE_SALT_BYTES],
                        const uint8_t nonce[KEYFILE_NONCE_BYTES]) WUR;

/* 1 protected, 0 unprotected, -EBADMSG when p is not a UMK file. */
int keyfile_protection(const uint8_t *p, size_t len) WUR;

/* Decodes a UMK file. -EBADMSG: not a UMK file, an unknown version, bad
 * reserved bytes or cost, a wrong size, or a failed check of an unprotected
 * file; -ENOKEY: protected and pass is NULL; -EACCES: the passphrase is wrong
 * or the encrypted part was changed (the tag fails: the two cannot be told
 * apart); -ENOMEM. ret_umk is written only on success. */
int keyfile_decode(uint8_t ret_umk[KEYS_UMK_BYTES], const uint8_t *p, size_t len,
                   const char *pass, size_t pass_len) WUR;

/* Reads the file at path into buf (KEYFILE_MAX_BYTES + 1). Refuses (-EPERM,
 * with a message) a file that is not a regular file, is a symbolic link, is
 * not owned by the user, or has any group or other permission bit; -ENOENT
 * when it does not exist; -EIO for other errors; -EBADMSG if too large. */
int keyfile_read(const char *path, uint8_t buf[KEYFILE_MAX_BYTES + 1], size_t *ret_len,
                 char *err, size_t errlen) WUR;

/* Writes a UMK file durably with mode 0600: a temporary file in the same
 * directory, fsync, then link (or rename when replace) and fsync of the
 * directory. -EEXIST when the file exists and !replace. */
int keyfile_write(const char *path, const uint8_t *p, size_t len, bool replace, char *err,
                  size_t errlen) WUR;

#endif
