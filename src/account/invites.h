/* invites.h: Account's open invitations (registration codes). Account keeps
 * only each invitation's id and registration key, never the invitation
 * itself, in one encrypted fixed-size file rewritten whole and atomically
 * before a change is acknowledged; and the bootstrap invitation file through
 * which the first admin registers. docs/PROTOCOL.md sections 12.6 and 12.9. */
#ifndef ALLEARS_ACCOUNT_INVITES_H
#define ALLEARS_ACCOUNT_INVITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/apireq.h"
#include "common/util.h"

#define INVITES_MAX 64               /* open invitations at once */
#define INVITES_KEY_BYTES 32         /* the acc-invt key */
#define INVITES_KDF_CTX "invites_"   /* file key = KDF(acc-invt, ctx, 1, 32) */
#define INVITES_FILE_NAME "invites"
#define INVITES_BOOTSTRAP_NAME "bootstrap-invite"
#define INVITES_TMP_SUFFIX ".tmp"
#define INVITES_FORMAT "acc-inv"     /* 7 bytes, then the version byte */
#define INVITES_VERSION 1
#define INVITES_HEADER_BYTES 8
#define INVITES_ENTRY_BYTES 64
#define INVITES_PLAIN_BYTES (8 + INVITES_MAX * INVITES_ENTRY_BYTES)          /* 4104 */
#define INVITES_FILE_BYTES (INVITES_HEADER_BYTES + APIREQ_OVERHEAD + INVITES_PLAIN_BYTES) /* 4152 */
#define INVITE_F_MASTER 0x01 /* registers UserID 0, the master admin */
#define INVITES_MASTER_LIFETIME_MS (30ull * 24 * 3600 * 1000)

struct invite {
	uint8_t id[APIREQ_INVITE_ID_BYTES];
	uint8_t key[APIREQ_KEY_BYTES]; /* K_inv */
	uint64_t expires_ms;           /* Unix ms */
	uint8_t level;
	uint8_t flags;                 /* INVITE_F_* */
};

struct invites;

/* Loads dir/invites (no file: no invitations); dir NULL keeps them in memory
 * only (tests). -EBADMSG for a file that does not open or decode, -EIO. */
int invites_open(const char *dir, const uint8_t key[INVITES_KEY_BYTES], struct invites **ret) WUR;
void invites_close(struct invites *iv);
size_t invites_count(const struct invites *iv);

/* A fresh invitation, durable before return; expired ones are dropped in the
 * same write. -EINVAL (level, flags), -ENOSPC (INVITES_MAX open), -EIO. */
int invites_create(struct invites *iv, uint8_t level, uint8_t flags, uint64_t expires_ms,
                   uint64_t now_ms, uint8_t ret_invite[APIREQ_INVITE_BYTES]) WUR;
/* The unexpired invitation with this id, or -ENOENT. */
int invites_find(const struct invites *iv, const uint8_t id[APIREQ_INVITE_ID_BYTES],
                 uint64_t now_ms, struct invite *ret) WUR;
/* Removes it durably (-ENOENT, -EIO). */
int invites_remove(struct invites *iv, const uint8_t id[APIREQ_INVITE_ID_BYTES]) WUR;
/* Puts a removed invitation back durably (-ENOSPC, -EEXIST, -EIO). */
int invites_put(struct invites *iv, const struct invite *in) WUR;
/* Removes every master invitation (durably, if there was one). */
int invites_remove_master(struct invites *iv) WUR;

/* Plaintext codec (section 12.9), exposed for tests. Decoding is strict:
 * -EBADMSG for any rule broken. */
void invites_encode(const struct invite *e, size_t n, uint8_t out[INVITES_PLAIN_BYTES]);
int invites_decode(const uint8_t *in, size_t len, struct invite ret[INVITES_MAX],
                   size_t *ret_n) WUR;

/* The bootstrap file: dir/bootstrap-invite, mode 0600, the invitation's text
 * and a newline, written durably; removing an absent file is not an error. */
int invites_bootstrap_write(const char *dir, const uint8_t invite[APIREQ_INVITE_BYTES]) WUR;
int invites_bootstrap_remove(const char *dir) WUR;

#endif
