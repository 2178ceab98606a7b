/* userdb.h: Account's state on disk. One encrypted file per user under a
 * secret name, plus one settings file, each rewritten whole and atomically
 * (temporary file, fsync, rename, fsync of the directory) before a change is
 * acknowledged. Layouts, keys and rules: docs/PROTOCOL.md section 8. */
#ifndef ALLEARS_ACCOUNT_USERDB_H
#define ALLEARS_ACCOUNT_USERDB_H

#include <stddef.h>
#include <stdint.h>

#include "account/users.h"
#include "common/util.h"

#define USERDB_KEY_BYTES 32      /* the acc-stat key and both keys derived from it */
#define USERDB_KDF_ENC_CTX "userdb-k" /* id 1: file encryption key */
#define USERDB_KDF_NAME_CTX "userdb-n" /* id 1: file name key */
#define USERDB_NAME_HASH_BYTES 16 /* BLAKE2b-128 of the uid */
#define USERDB_NAME_LEN 32       /* lowercase hex characters of a user file name */
#define USERDB_HEADER_BYTES 8    /* format name (7) + version (1) */
#define USERDB_FORMAT_LEN 7
#define USERDB_VERSION 1
#define USERDB_NONCE_BYTES 24    /* XChaCha20-Poly1305-IETF */
#define USERDB_TAG_BYTES 16
#define USERDB_OVERHEAD (USERDB_HEADER_BYTES + USERDB_NONCE_BYTES + USERDB_TAG_BYTES)

/* Plaintext layouts (fixed sizes, sections 8.4 and 8.5). */
#define USERDB_USER_ADDR_OFF 76
#define USERDB_USER_PRIVLEN_OFF (USERDB_USER_ADDR_OFF + ACCOUNT_ADDR_MAX * 9)
#define USERDB_USER_PRIV_OFF (USERDB_USER_PRIVLEN_OFF + 2)
#define USERDB_USER_PLAIN_BYTES (USERDB_USER_PRIV_OFF + ACCOUNT_PRIVATE_MAX) /* 8549 */
#define USERDB_SETTINGS_PLAIN_BYTES 140
#define USERDB_USER_FILE_BYTES (USERDB_OVERHEAD + USERDB_USER_PLAIN_BYTES)       /* 8597 */
#define USERDB_SETTINGS_FILE_BYTES (USERDB_OVERHEAD + USERDB_SETTINGS_PLAIN_BYTES) /* 188 */

#define USERDB_USERS_DIR "users"
#define USERDB_SETTINGS_NAME "settings"
#define USERDB_TMP_SUFFIX ".tmp"

enum userdb_kind {
	USERDB_KIND_USER = 0,     /* format name "acc-usr" */
	USERDB_KIND_SETTINGS = 1, /* format name "acc-set" */
};

/* --- codecs (also used by the fuzz target) --- */

/* u must pass users_user_valid (a bug otherwise: fatalx). */
void userdb_user_encode(const struct users_user *u, uint8_t out[USERDB_USER_PLAIN_BYTES]);
/* Strict: -EBADMSG for a wrong length or any rule of section 8.4. On success
 * ret_u owns a fresh private field (release with users_user_clear);
 * last_request_ms is 0. */
int userdb_user_decode(const uint8_t *in, size_t len, struct users_user *ret_u) WUR;
/* s must pass users_settings_valid (fatalx otherwise). */
void userdb_settings_encode(const struct users_settings *s,
                            uint8_t out[USERDB_SETTINGS_PLAIN_BYTES]);
int userdb_settings_decode(const uint8_t *in, size_t len, struct users_settings *ret_s) WUR;

/* --- keys, names, sealing --- */

/* Both keys from the acc-stat key (crypto_kdf, contexts above, id 1). */
void userdb_derive_keys(uint8_t enc_key[USERDB_KEY_BYTES], uint8_t name_key[USERDB_KEY_BYTES],
                        const uint8_t state_key[USERDB_KEY_BYTES]);
/* 32 lowercase hex characters and a NUL; uid < ACCOUNT_USERS_MAX (asserted). */
void userdb_user_filename(char out[USERDB_NAME_LEN + 1], uint16_t uid,
                          const uint8_t name_key[USERDB_KEY_BYTES]);
/* File = header || nonce || XChaCha20-Poly1305(plain), AD = header || name.
 * out holds plain_len + USERDB_OVERHEAD bytes. */
void userdb_seal(uint8_t *out, const uint8_t *plain, size_t plain_len, enum userdb_kind kind,
                 const char *name, const uint8_t nonce[USERDB_NONCE_BYTES],
                 const uint8_t enc_key[USERDB_KEY_BYTES]);
/* -EBADMSG for a short file, another format or version, or a failed tag;
 * plain (file_len - USERDB_OVERHEAD bytes) is written only on success. */
int userdb_unseal(uint8_t *plain, const uint8_t *file, size_t file_len, enum userdb_kind kind,
                  const char *name, const uint8_t enc_key[USERDB_KEY_BYTES]) WUR;

/* --- the state directory --- */

struct userdb;

/* A fresh state in dir (which must exist): users/ and the settings file.
 * -EINVAL for settings that fail users_settings_valid, -ENOENT if dir does
 * not exist, -EEXIST if it already holds settings or user files, -EIO if a
 * write fails. */
int userdb_create(const char *dir, const uint8_t state_key[USERDB_KEY_BYTES],
                  const struct users_settings *s) WUR;

/* Loads the state: removes leftover temporary files, decrypts and checks
 * every file, builds the users (every last request time = now_ms) and attaches
 * itself as their store. Any file that fails is a hard error, logged with its
 * name: -ENOENT (no state: no settings file or no users/), -EBADMSG (a file
 * that does not decrypt or decode, an unknown file, a duplicate address or
 * UAK), -EIO (a read error). Release with users_free, then userdb_close. */
int userdb_open(const char *dir, const uint8_t state_key[USERDB_KEY_BYTES], uint64_t now_ms,
                struct userdb **ret_db, struct users **ret_users) WUR;
void userdb_close(struct userdb *db);

/* The store userdb_open attached, for callers that build users themselves. */
struct users_store userdb_store(struct userdb *db);

/* Test hook: every later write or delete fails at this step (-EIO). */
enum userdb_fault {
	USERDB_FAULT_NONE = 0,
	USERDB_FAULT_OPEN,
	USERDB_FAULT_WRITE,
	USERDB_FAULT_FSYNC,
	USERDB_FAULT_RENAME,
	USERDB_FAULT_DIRSYNC,
	USERDB_FAULT_UNLINK,
};
void userdb_test_fault(struct userdb *db, enum userdb_fault f);

#endif
