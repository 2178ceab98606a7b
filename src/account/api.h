/* api.h: Account's half of an API request: authenticate and decrypt it (or
 * check a registration), enforce the timestamp rules, run the command on the
 * users and invitations, and say what the API answers or which Storage call
 * it makes for the client. No I/O of its own: main.c does the channel calls
 * that a result asks for (Storage usage, Argon2 hashes, Storage follow-ups).
 * docs/PROTOCOL.md sections 10.4 and 12. */
#ifndef ALLEARS_ACCOUNT_API_H
#define ALLEARS_ACCOUNT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account/invites.h"
#include "account/users.h"
#include "common/apireq.h"
#include "common/buf.h"

#define API_WINDOW_MS_DEFAULT 30000 /* |ts - now| allowed */
#define API_WINDOW_MS_MIN 1000
#define API_WINDOW_MS_MAX 600000

/* ACCOUNT_INFO result (12.8.1). */
#define API_INFO_FIXED_BYTES 52
#define API_INFO_USAGE_OFF 10 /* usage_known u8, reserved u8, bytes u64, count u32 */
#define API_LIST_ENTRY_BYTES 5 /* uid u16, level u8, normal u8, shield u8 */

struct api_ctx {
	struct users *db;
	struct invites *inv;
	const uint8_t *salt;       /* ADDRHASH_SALT_BYTES: the normal-address salt */
	const uint8_t *shield_key; /* ADDRHASH_SHIELD_KEY_BYTES */
	uint64_t window_ms;
};

enum api_next {
	API_DONE = 0,        /* answer now */
	API_NEED_USAGE,      /* ask Storage STO_USAGE, then api_set_usage, then answer */
	API_NEED_HASHES,     /* hash args.u.send.from and .to, then api_send_finish */
};

struct api_result {
	struct apireq_chan_answer ans; /* status, cmd, disposition, key, Storage call */
	struct wr data;                /* reply data, or the Message to forward */
	enum api_next next;
	uint8_t *plain;                /* the decrypted request (args point into it) */
	size_t plain_len;
	struct apireq_args args;
	uint16_t uid;                  /* the authenticated (or newly registered) user */
	uint64_t ts;
	/* Follow-ups with Storage, to run once the change is durable: */
	int sto_remove_uid;    /* -1, or a deleted user (STO_REMOVE) */
	int sto_create_uid;    /* -1, or a new user (STO_REMOVE of leftovers, then STO_CREATE) */
	int sto_changed_uid;   /* -1, or STO_USER_CHANGED for this user */
	int sto_changed_level; /* -1, or STO_USER_CHANGED for every user of this level */
	bool bootstrap_used;   /* the master invitation was used: remove its file */
};

void api_result_init(struct api_result *r);
/* Wipes the plaintext and the data. */
void api_result_free(struct api_result *r);

/* Handles one ACC_API request (rq decoded by apireq_chan_req_decode). now_ms
 * is Unix time. Always fills r (r->ans.status says how it went). */
void api_handle(struct api_ctx *c, const struct apireq_chan_req *rq, uint64_t now_ms,
                struct api_result *r);
/* API_NEED_USAGE: puts Storage's answer (or "unknown") into the result. */
void api_set_usage(struct api_result *r, bool known, uint64_t bytes, uint32_t count);
/* API_NEED_HASHES: hash_rc < 0 when a hash could not be computed (then the
 * answer is CHST_TEMPFAIL). Checks ownership and the recipient, and builds
 * the IntMsg. */
void api_send_finish(struct api_ctx *c, struct api_result *r, int hash_rc,
                     const uint8_t from_hash[ADDRHASH_BYTES],
                     const uint8_t to_hash[ADDRHASH_BYTES], uint64_t now_ms);

/* The status an operation's error code gives the client. */
uint8_t api_status_of(int rc);

#endif
