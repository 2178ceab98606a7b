/* stindex.h: Storage's index of Envelopes (docs/PROTOCOL.md section 9). Per user:
 * whether the user exists, the next envelope id, and the live envelopes in
 * arrival order with their id, size in 32-byte blocks and offset in the user's
 * file. This file holds the pure parts: the in-memory structure, the one
 * function that applies a journal record to it, queries, and the byte formats
 * of the encrypted snapshot and journal records. File I/O lives in store.c. */
#ifndef ALLEARS_STINDEX_H
#define ALLEARS_STINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/envelope.h"
#include "common/keys.h"
#include "common/util.h"

#define STINDEX_USERS KEYS_MAX_USERS               /* UserIDs 0-4095 */
#define STINDEX_USER_MAX_ENTRIES 1000000u          /* live envelopes per user */
#define STINDEX_TOTAL_MAX_ENTRIES (16u << 20)      /* live envelopes, all users */
#define STINDEX_FILE_MAX ((uint64_t)1 << 43)       /* 8 TiB: end of a user's file */
#define STINDEX_ID_MAX 0xfffffffeu                 /* largest envelope id (0 is "none") */
#define STINDEX_BATCH_MAX 65536u                   /* records in one journal write */
#define STINDEX_KEY_BYTES 32                       /* the sto-stat key */
#define STINDEX_NONCE_BYTES 24                     /* XChaCha20-Poly1305 nonce */
#define STINDEX_TAG_BYTES 16                       /* Poly1305 tag */

/* Journal record: 40 bytes of plaintext, sealed into 80 (nonce, ciphertext, tag). */
#define STINDEX_REC_PLAIN_BYTES 40
#define STINDEX_REC_BYTES (STINDEX_NONCE_BYTES + STINDEX_REC_PLAIN_BYTES + STINDEX_TAG_BYTES)
#define STINDEX_REC_AD "journal\x01"               /* associated data, 8 bytes */

/* Snapshot file: 8-byte header (also the associated data), nonce, ciphertext of
 * the padded plaintext, tag. */
#define STINDEX_SNAP_MAGIC "stindex\x01"
#define STINDEX_SNAP_HEADER_BYTES 8
#define STINDEX_SNAP_FIXED 16                      /* plaintext header: seq, users, zero */
#define STINDEX_SNAP_USER 16                       /* per-user header */
#define STINDEX_SNAP_ENTRY 16                      /* per envelope */
#define STINDEX_SNAP_PAD 65536                     /* plaintext length is a multiple of this */
#define STINDEX_SNAP_PLAIN_MAX                                                               \
	((((uint64_t)STINDEX_SNAP_FIXED + (uint64_t)STINDEX_USERS * STINDEX_SNAP_USER +          \
	   (uint64_t)STINDEX_TOTAL_MAX_ENTRIES * STINDEX_SNAP_ENTRY + STINDEX_SNAP_PAD - 1) /     \
	  STINDEX_SNAP_PAD) * STINDEX_SNAP_PAD)
#define STINDEX_SNAP_OVERHEAD (STINDEX_SNAP_HEADER_BYTES + STINDEX_NONCE_BYTES + STINDEX_TAG_BYTES)
#define STINDEX_SNAP_MAX_BYTES (STINDEX_SNAP_PLAIN_MAX + STINDEX_SNAP_OVERHEAD)

/* Record kinds (section 9.4). */
enum stindex_kind {
	STINDEX_CREATE = 1, /* uid */
	STINDEX_REMOVE = 2, /* uid */
	STINDEX_APPEND = 3, /* uid, id, blocks, offset */
	STINDEX_DELETE = 4, /* uid, id */
	STINDEX_EMPTY = 5,  /* uid */
};

struct stindex_rec {
	uint64_t seq;    /* 1, 2, 3, ... without gaps */
	uint64_t batch;  /* seq of the first record of the same journal write */
	uint8_t kind;    /* enum stindex_kind */
	uint16_t uid;
	uint32_t id;
	uint32_t blocks;
	uint64_t offset;
};

/* A dead entry stays in memory (flagged in `blocks`) until compaction, so that
 * ids stay sorted for binary search; it is never written to a snapshot. */
#define STINDEX_DEAD 0x80000000u

struct stindex_entry {
	uint32_t id;     /* ascending within a user */
	uint32_t blocks; /* size / 32, maybe | STINDEX_DEAD */
	uint64_t offset; /* ascending, entries never overlap */
};

/* Read-only outside stindex.c. Invariants (stindex_check): entries sorted by id
 * and by offset, non-overlapping; the last entry, if any, is live; live/dead
 * and live_bytes agree with the entries; every id < next_id. */
struct stindex_user {
	struct stindex_entry *e;
	uint32_t n, cap;     /* entries in e (live and dead), allocated */
	uint32_t live, dead;
	uint64_t live_bytes; /* sum of live envelope sizes */
	uint32_t next_id;    /* 1 after creation; 0xffffffff = ids exhausted */
	bool exists;
};

struct stindex {
	struct stindex_user u[STINDEX_USERS];
	uint32_t users;      /* existing users */
	uint64_t total_live; /* live entries, all users */
	uint64_t seq;        /* seq of the last record applied (0: none) */
};

/* What the caller must do on disk after a record is applied (section 9.5). */
struct stindex_effect {
	uint64_t punch_off; /* bytes [punch_off, punch_off + punch_len) are dead */
	uint64_t punch_len; /* 0: nothing */
	bool unlink;        /* the user's file goes away (REMOVE) */
};

struct stindex *stindex_new(void);
void stindex_free(struct stindex *ix);

static inline uint64_t stindex_size(uint32_t blocks)
{
	return (uint64_t)(blocks & ~STINDEX_DEAD) * ENVELOPE_BLOCK;
}
/* End of the last live envelope: the length the user's file must have. */
uint64_t stindex_user_end(const struct stindex_user *u);
/* Index in u->e of the live entry with this id, or -ENOENT. */
long stindex_find(const struct stindex_user *u, uint32_t id);

/* Applies one record, which must have seq == ix->seq + 1 and be consistent
 * with the index (section 9.4); on success fills *ret_eff. -EBADMSG for any
 * inconsistency; the index is then unchanged. */
int stindex_apply(struct stindex *ix, const struct stindex_rec *r,
                  struct stindex_effect *ret_eff) WUR;

/* Record plaintext (40 bytes). decode is strict: -EINVAL for an unknown kind,
 * a non-zero field the kind does not use, or a value out of range. */
void stindex_rec_encode(uint8_t out[STINDEX_REC_PLAIN_BYTES], const struct stindex_rec *r);
int stindex_rec_decode(struct stindex_rec *ret, const uint8_t in[STINDEX_REC_PLAIN_BYTES]) WUR;
/* Sealed record (80 bytes) with a fresh random nonce. open: -EBADMSG if it
 * does not authenticate, -EINVAL if it does but does not decode. */
void stindex_rec_seal(uint8_t out[STINDEX_REC_BYTES], const struct stindex_rec *r,
                      const uint8_t key[STINDEX_KEY_BYTES]);
int stindex_rec_open(struct stindex_rec *ret, const uint8_t in[STINDEX_REC_BYTES],
                     const uint8_t key[STINDEX_KEY_BYTES]) WUR;

/* Snapshot plaintext, padded (section 9.3). Appends to out. */
void stindex_snapshot_encode(const struct stindex *ix, struct wr *out);
/* Strict decoder: -EINVAL for anything out of range, unsorted, overlapping,
 * over a limit, non-zero where zero is required, or mis-padded. */
int stindex_snapshot_decode(const uint8_t *p, size_t len, struct stindex **ret) WUR;
/* The whole snapshot file. open: -EBADMSG for a bad header or tag, -EFBIG
 * above STINDEX_SNAP_MAX_BYTES, else as decode. */
void stindex_snapshot_seal(const struct stindex *ix, const uint8_t key[STINDEX_KEY_BYTES],
                           struct wr *out);
int stindex_snapshot_open(const uint8_t *p, size_t len, const uint8_t key[STINDEX_KEY_BYTES],
                          struct stindex **ret) WUR;

/* A page of one user's live envelopes (section 9.7). */
struct stindex_item {
	uint32_t id;
	uint32_t blocks;
	uint64_t offset;
};

struct stindex_query {
	uint32_t from_id;   /* 0: from the newest (or oldest); else start at this id */
	bool inclusive;     /* include from_id itself (else strictly after it) */
	bool oldest_first;  /* else newest first */
	uint64_t max_bytes; /* >= 1; the first envelope is returned even if larger */
	uint32_t max_count; /* >= 1; out has room for this many */
};

/* Fills out[0..*ret_n); *ret_more tells whether another live envelope follows
 * in that direction. -EINVAL for a zero cap. */
int stindex_browse(const struct stindex_user *u, const struct stindex_query *q,
                   struct stindex_item *out, size_t *ret_n, bool *ret_more) WUR;

/* Checks every invariant; 0 or -EINVAL. For tests and fuzzing. */
int stindex_check(const struct stindex *ix) WUR;

#endif
