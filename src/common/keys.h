/* keys.h: the key tree. Every server key comes from the Server Master Key (SMK),
 * every user key from the User Master Key (UMK), through one BLAKE2b root per
 * master key and libsodium crypto_kdf below it. Also the text forms of both
 * master keys and the secret per-user file name of Storage.
 * Contexts, ids, lengths and golden vectors: docs/PROTOCOL.md section 3. */
#ifndef ALLEARS_KEYS_H
#define ALLEARS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/roles.h"
#include "common/util.h"

#define KEYS_SMK_BYTES 46        /* 368 bits */
#define KEYS_UMK_BYTES 45        /* 360 bits */
#define KEYS_SMK_TEXT_LEN 92     /* lowercase hex, no NUL */
#define KEYS_UMK_TEXT_LEN 60     /* standard base64 with padding (none needed at 45 bytes) */
#define KEYS_ROOT_BYTES 32       /* root_smk, root_umk */
#define KEYS_KEY_BYTES 32        /* every 32-byte derived key */
#define KEYS_ADDR_SALT_BYTES 16  /* Argon2id salt of normal addresses */
#define KEYS_SHIELD_KEY_BYTES 16 /* SipHash-2-4 key of shield addresses */
#define KEYS_CTX_BYTES 8         /* crypto_kdf context length */

/* Server keys derived from root_smk (section 3.3). The order is not part of any
 * format; the contexts and ids are. */
enum server_key {
	SERVER_KEY_ACC_STATE = 0, /* "acc-stat" 1: Account state file key */
	SERVER_KEY_ACC_ADDR_SALT, /* "acc-addr" 1: normal address Argon2id salt (16) */
	SERVER_KEY_ACC_SHIELD,    /* "acc-addr" 2: shield address SipHash key (16) */
	SERVER_KEY_ACC_INVITE,    /* "acc-invt" 1: invitation key */
	SERVER_KEY_STO_STATE,     /* "sto-stat" 1: Stindex/state key */
	SERVER_KEY_STO_NAME,      /* "sto-name" 1: secret file-name key */
	SERVER_KEY_API_MSGID,     /* "api-msid" 1: Message-ID key (outgoing mail) */
	SERVER_KEY_CHANNEL,       /* "channel_" (client<<8)|server: use keys_channel_pair */
	SERVER_KEY_COUNT,
};

/* User keys derived from root_umk under context "usr-keys"; the value is the
 * crypto_kdf subkey id. All are 32 bytes. */
enum user_key {
	USER_KEY_UAK = 1, /* User Access Key, shared with Account */
	USER_KEY_ESK = 2, /* Envelope X25519 secret key; EPK = X25519(ESK, 9) */
	USER_KEY_PFK = 3, /* private-field key, client only */
	USER_KEY_UFK = 4, /* upload-file key, client only */
};

/* Fresh random master keys. */
void keys_smk_generate(uint8_t smk[KEYS_SMK_BYTES]);
void keys_umk_generate(uint8_t umk[KEYS_UMK_BYTES]);

/* Text forms. to_text writes text_len characters and a NUL. from_text is
 * strict: exactly the text length, lowercase hex for the SMK, standard base64
 * for the UMK, no whitespace (callers strip their newline); -EINVAL otherwise,
 * and ret_* is written only on success. */
void keys_smk_to_text(char out[KEYS_SMK_TEXT_LEN + 1], const uint8_t smk[KEYS_SMK_BYTES]);
int keys_smk_from_text(uint8_t ret_smk[KEYS_SMK_BYTES], const char *text, size_t len) WUR;
void keys_umk_to_text(char out[KEYS_UMK_TEXT_LEN + 1], const uint8_t umk[KEYS_UMK_BYTES]);
int keys_umk_from_text(uint8_t ret_umk[KEYS_UMK_BYTES], const char *text, size_t len) WUR;

/* The roots (section 3.2). Exposed for the golden-vector tests; callers wipe. */
void keys_smk_root(uint8_t root[KEYS_ROOT_BYTES], const uint8_t smk[KEYS_SMK_BYTES]);
void keys_umk_root(uint8_t root[KEYS_ROOT_BYTES], const uint8_t umk[KEYS_UMK_BYTES]);

/* Length of a server key (16 or 32), 0 for an invalid value. */
size_t keys_server_key_len(enum server_key which);
/* The 8-character context of a server key, e.g. "acc-stat"; "invalid" if none. */
const char *keys_server_key_ctx(enum server_key which);
/* Its crypto_kdf subkey id (0 for SERVER_KEY_CHANNEL, whose id depends on the pair). */
uint64_t keys_server_key_id(enum server_key which);

/* Derives server key `which` into out; len must equal keys_server_key_len.
 * -EINVAL for a wrong len, SERVER_KEY_CHANNEL or an unknown value. */
int keys_smk_derive(uint8_t *out, size_t len, enum server_key which,
                    const uint8_t smk[KEYS_SMK_BYTES]) WUR;

/* The key of channel client -> server, only for pairs role_channel_allowed()
 * accepts; -EINVAL for every other pair. */
int keys_channel_pair(uint8_t out[KEYS_KEY_BYTES], enum role client, enum role server,
                      const uint8_t smk[KEYS_SMK_BYTES]) WUR;

/* Derives user key `which`; -EINVAL for an unknown value. */
int keys_umk_derive(uint8_t out[KEYS_KEY_BYTES], enum user_key which,
                    const uint8_t umk[KEYS_UMK_BYTES]) WUR;

/* The Envelope key pair: esk = USER_KEY_ESK, epk = X25519 base-point multiple.
 * -EINVAL only if the derived secret gives a degenerate public key (never in
 * practice; checked so the caller never uses one). */
int keys_envelope_keypair(uint8_t epk[KEYS_KEY_BYTES], uint8_t esk[KEYS_KEY_BYTES],
                          const uint8_t umk[KEYS_UMK_BYTES]) WUR;

/* One server key a role holds: a fixed key (client/server are ROLE_NONE), or
 * the pair key of the channel client -> server (which == SERVER_KEY_CHANNEL). */
struct keys_item {
	enum server_key which;
	enum role client;
	enum role server;
};

#define KEYS_BUNDLE_MAX 16 /* more than any role holds */

/* True when role r holds server key `which` (fixed keys only). */
bool keys_role_holds(enum role r, enum server_key which);

/* The keys role r holds, in a fixed order: its fixed keys in enum order, then
 * the pair key of every allowed channel it is client or server of, ordered by
 * (client, server). Returns the count (0 for web), -EINVAL for a bad role. */
int keys_role_bundle(struct keys_item out[KEYS_BUNDLE_MAX], enum role r) WUR;

/* Length and derivation of one bundle item. */
size_t keys_item_len(const struct keys_item *it);
int keys_item_derive(uint8_t *out, size_t len, const struct keys_item *it,
                     const uint8_t smk[KEYS_SMK_BYTES]) WUR;

/* Storage's secret file names (section 3.5): a permutation of the 64-character
 * alphabet below, derived from the sto-name key. */
#define KEYS_FILENAME_ALPHABET "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_+"
#define KEYS_FILENAME_CHARS 64
#define KEYS_FILENAME_LEN 2   /* characters per file name */
#define KEYS_MAX_USERS 4096  /* UserIDs 0-4095 */

/* The permutation (64 characters, not NUL-terminated). Secret: wipe it. */
void keys_filename_perm(char perm[KEYS_FILENAME_CHARS], const uint8_t key[KEYS_KEY_BYTES]);
/* Two characters and a NUL for uid; -EINVAL for uid >= KEYS_MAX_USERS. */
int keys_user_filename(char out[KEYS_FILENAME_LEN + 1], uint16_t uid,
                       const uint8_t key[KEYS_KEY_BYTES]) WUR;
/* The same with a permutation the caller keeps (Storage derives it once). */
int keys_user_filename_perm(char out[KEYS_FILENAME_LEN + 1], uint16_t uid,
                            const char perm[KEYS_FILENAME_CHARS]) WUR;
/* The inverse: the uid whose file is name[0..len); -EINVAL if len != 2 or a
 * character is not in the alphabet. */
int keys_filename_uid(uint16_t *ret_uid, const char *name, size_t len,
                      const char perm[KEYS_FILENAME_CHARS]) WUR;

#endif
