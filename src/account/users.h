/* users.h: Account's users in memory: keys, levels, per-level limits, address
 * hashes with their flags, the private field, replay timestamps, and the index
 * that answers "who owns this address hash". Every change is validated on a
 * copy, handed to a store (userdb) to be made durable, and only then applied,
 * so a failed write leaves memory as it was. Rules and errors:
 * docs/PROTOCOL.md section 8. Loop thread only (no locking). */
#ifndef ALLEARS_ACCOUNT_USERS_H
#define ALLEARS_ACCOUNT_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/util.h"

#define ACCOUNT_USERS_MAX 4096      /* UserIDs 0-4095 */
#define ACCOUNT_UID_ANY 0xFFFFu     /* users_create: take the first free UserID from 1 */
#define ACCOUNT_UID_NONE 0xFFFFu    /* users_mta_lookup: no owner */
#define ACCOUNT_MASTER_UID 0        /* the master admin: never deleted or demoted */
#define ACCOUNT_LEVELS 4            /* levels 0-3 */
#define ACCOUNT_LEVEL_ADMIN 3
#define ACCOUNT_ADDR_MAX 31         /* addresses per user, whatever the limits say */
#define ACCOUNT_PRIVATE_MAX 8192    /* private field, bytes */
#define ACCOUNT_UAK_BYTES 32
#define ACCOUNT_EPK_BYTES 32
#define ACCOUNT_STORAGE_MIB_MAX (1u << 20) /* 1 TiB: highest storage limit */
#define ACCOUNT_SHIELD_TRIES 8      /* fresh shield addresses drawn before giving up */
#define ACCOUNT_RESERVED_COUNT 10   /* admin-only names (PROTOCOL.md 2.5) */
#define ACCOUNT_DECOY_KEY_BYTES 16
#define ACCOUNT_DECOY_TLS_IN_256 64 /* unknown normal addresses that act as REQUIRE_TLS */

/* Address flags (bit values as in All-Ears Mail). */
#define ACCOUNT_FLAG_SHIELD 0x80      /* kind marker; set by the server only, never changed */
#define ACCOUNT_FLAG_UNUSED 0x40      /* must be 0 */
#define ACCOUNT_FLAG_ORIGIN 0x20      /* also keep the original message */
#define ACCOUNT_FLAG_REQUIRE_TLS 0x10 /* refuse SMTP delivery without TLS */
#define ACCOUNT_FLAG_ATTACH 0x08      /* store attachments separately */
#define ACCOUNT_FLAG_ALLVER 0x04      /* keep all text alternatives */
#define ACCOUNT_FLAG_ACCEXT 0x02      /* accept external (SMTP) mail */
#define ACCOUNT_FLAG_ACCINT 0x01      /* accept internal mail from non-admins */
#define ACCOUNT_FLAGS_USER 0x3F       /* the bits users_addr_set_flags may change */
#define ACCOUNT_FLAGS_VALID (ACCOUNT_FLAG_SHIELD | ACCOUNT_FLAGS_USER)
#define ACCOUNT_FLAGS_NEW (ACCOUNT_FLAG_ACCEXT | ACCOUNT_FLAG_ALLVER | ACCOUNT_FLAG_ATTACH)
/* The flags the MTA is told (users_mta_lookup). */
#define ACCOUNT_FLAGS_MTA \
	(ACCOUNT_FLAG_ORIGIN | ACCOUNT_FLAG_REQUIRE_TLS | ACCOUNT_FLAG_ATTACH | ACCOUNT_FLAG_ALLVER)

struct users_addr {
	uint8_t hash[ADDRHASH_BYTES];
	uint8_t flags; /* ACCOUNT_FLAG_*; SHIELD tells the kind */
};

struct users_user {
	uint16_t uid;
	uint8_t level;
	uint8_t addr_count;
	uint8_t uak[ACCOUNT_UAK_BYTES];
	uint8_t epk[ACCOUNT_EPK_BYTES];
	struct users_addr addr[ACCOUNT_ADDR_MAX];
	uint64_t created_ms;
	uint64_t last_request_ms; /* memory only (section 8.9) */
	uint8_t *priv;            /* private field, NULL when priv_len is 0 */
	uint16_t priv_len;
};

struct users_limits {
	uint32_t storage_mib; /* 0 - ACCOUNT_STORAGE_MIB_MAX */
	uint8_t max_normal;   /* 0 - ACCOUNT_ADDR_MAX */
	uint8_t max_shield;   /* 0 - ACCOUNT_ADDR_MAX */
};

struct users_settings {
	uint32_t version; /* >= 1, raised by every change */
	struct addrhash_params params;
	struct users_limits limits[ACCOUNT_LEVELS];
	uint8_t system_hash[ADDRHASH_BYTES];
	uint8_t reserved_hash[ACCOUNT_RESERVED_COUNT][ADDRHASH_BYTES];
	uint8_t decoy_key[ACCOUNT_DECOY_KEY_BYTES];
};

/* Where changes are made durable. Each function returns 0 or a negative code
 * (userdb returns -EIO); the operation then fails and memory is unchanged. */
struct users_store {
	void *ctx;
	int (*save_user)(void *ctx, const struct users_user *u);
	int (*delete_user)(void *ctx, uint16_t uid);
	int (*save_settings)(void *ctx, const struct users_settings *s);
};

struct users;

/* Default limits (section 8.5). */
struct users_limits users_default_limits(uint8_t level);

/* Fresh settings: version 1, default limits, params, the hashes of "system" and
 * of the reserved names under salt, and a random decoy key. Runs eleven
 * Argon2id hashes. -EINVAL for bad params, -ENOMEM if Argon2 fails. */
int users_settings_init(struct users_settings *ret, const struct addrhash_params *p,
                        const uint8_t salt[ADDRHASH_SALT_BYTES]) WUR;

/* Rule checks shared with the decoders: 0 or -EINVAL. */
int users_settings_valid(const struct users_settings *s) WUR;
int users_limits_valid(const struct users_limits *l) WUR;
/* Range, flags, no duplicate (hash, kind), private length; uid 0 is level 3. */
int users_user_valid(const struct users_user *u) WUR;
/* Wipes u and frees its private field. */
void users_user_clear(struct users_user *u);

/* A database holding no users, with a copy of s. Changes are kept in memory
 * only until users_set_store. */
struct users *users_new(const struct users_settings *s);
void users_free(struct users *db);
void users_set_store(struct users *db, const struct users_store *st);

const struct users_settings *users_settings(const struct users *db);
size_t users_count(const struct users *db);
/* The user, or NULL. The pointer stays valid until the next change to uid. */
const struct users_user *users_get(const struct users *db, uint16_t uid);

/* Loading: takes a decoded user (and its private field) without storing it.
 * -EINVAL if u is not valid, -EEXIST if the uid or one of its (hash, kind)
 * is already present; u is left to the caller then. */
int users_insert_loaded(struct users *db, struct users_user *u) WUR;
/* Sets every user's last request time to now_ms (done once, after loading). */
void users_replay_reset(struct users *db, uint64_t now_ms);

/* Operations. Errors: -EINVAL bad argument, -ENOENT no such user or address,
 * -EEXIST exists or in use, -EDQUOT limit reached, -EPERM forbidden,
 * -EACCES reserved for admins, or the store's code (-EIO). */
int users_create(struct users *db, uint16_t uid, uint8_t level,
                 const uint8_t uak[ACCOUNT_UAK_BYTES], const uint8_t epk[ACCOUNT_EPK_BYTES],
                 uint64_t now_ms, uint16_t *ret_uid) WUR;
int users_delete(struct users *db, uint16_t uid) WUR;
int users_set_level(struct users *db, uint16_t uid, uint8_t level) WUR;
int users_set_epk(struct users *db, uint16_t uid, const uint8_t epk[ACCOUNT_EPK_BYTES]) WUR;
int users_set_limits(struct users *db, uint8_t level, const struct users_limits *l) WUR;

/* For callers that hold the plaintext Addr32 of a normal address (and compute
 * its hash): -EPERM unless it classifies NORMAL ("system" does not), -EACCES
 * for a reserved name when level < 3, else 0. */
int users_addr_check_normal(const uint8_t addr[ADDR32_BYTES], uint8_t level) WUR;
/* Registers a normal address by its Argon2id hash (computed by the client). */
int users_addr_add_normal(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES]) WUR;
/* Makes a random shield address, registers its SipHash, and gives back the
 * Addr32 (the only time it exists) and its hash. */
int users_addr_add_shield(struct users *db, uint16_t uid,
                          const uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES],
                          uint8_t ret_addr[ADDR32_BYTES], uint8_t ret_hash[ADDRHASH_BYTES]) WUR;
int users_addr_delete(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES],
                      bool is_shield) WUR;
/* Sets the six user bits; the SHIELD bit stays as it is, bit 0x40 is -EINVAL. */
int users_addr_set_flags(struct users *db, uint16_t uid, const uint8_t hash[ADDRHASH_BYTES],
                         bool is_shield, uint8_t flags) WUR;

int users_private_set(struct users *db, uint16_t uid, const uint8_t *data, size_t len) WUR;
/* *ret_data stays valid until the next change to uid (NULL when empty). */
int users_private_get(const struct users *db, uint16_t uid, const uint8_t **ret_data,
                      size_t *ret_len) WUR;

/* Who owns (hash, kind): 0 with the uid and the slot's flags, or -ENOENT. */
int users_lookup_hash(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield,
                      uint16_t *ret_uid, uint8_t *ret_flags) WUR;

/* The MTA's answer (section 8.8). Known with ACCEXT: uid and flags &
 * ACCOUNT_FLAGS_MTA. Normal and unknown (or without ACCEXT): ACCOUNT_UID_NONE
 * and decoy flags that are fixed per hash. Shield and unknown (or without
 * ACCEXT): -ENOENT. */
int users_mta_lookup(const struct users *db, const uint8_t hash[ADDRHASH_BYTES], bool is_shield,
                     uint16_t *ret_uid, uint8_t *ret_flags) WUR;

/* Storage's question: the user's EPK and storage limit in MiB. */
int users_storage_info(const struct users *db, uint16_t uid, uint8_t ret_epk[ACCOUNT_EPK_BYTES],
                       uint32_t *ret_storage_mib) WUR;

/* Replay protection: -ERANGE if request_ms is more than window_ms away from
 * now_ms, -EALREADY if it is not above the user's last request time, -ENOENT
 * for no user; on success the last request time becomes request_ms. */
int users_check_and_update_time(struct users *db, uint16_t uid, uint64_t request_ms,
                                uint64_t now_ms, uint64_t window_ms) WUR;

#endif
