/* store.h: Storage's durable, crash-safe store of already-sealed Envelopes
 * (docs/PROTOCOL.md section 9). One file per user under Msg/ (secret name),
 * the Stindex in memory and on disk as an encrypted snapshot plus journal, and
 * group commit: many queued operations share one fdatasync per touched file and
 * one journal write + fdatasync.
 *
 * Threading contract (the daemon's loop thread L and one commit thread C, e.g.
 * a workq worker):
 *   - L: store_open, store_close, store_batch_new, store_queue_*, store_batch_apply,
 *     store_batch_free, and every query (store_user_exists, store_usage,
 *     store_quota_check, store_browse, store_read, store_read_to_fd, ...).
 *   - C: store_batch_commit and store_checkpoint (the latter may also run on L
 *     when no commit is in flight, e.g. at shutdown). At most one of them runs at a
 *     time, and never between a commit and the store_batch_apply of that batch:
 *     the cycle is commit(b1) on C -> apply(b1) on L -> commit(b2) on C -> ...
 *     The hand-offs C->L and L->C must be synchronised (workq_submit and the
 *     done callback are); breaking the order is a programmer error (fatalx).
 *   - While C commits, L may fill the next batch and run queries and reads:
 *     they see the committed state (everything applied so far). A commit only
 *     reads the committed index, and writes only beyond the end of the
 *     committed data; holes, truncations and unlinks that deletions call for
 *     are done at the start of the *next* commit, after L has applied the
 *     deletion, so a read never races with them.
 *   - The in-memory index changes only in store_batch_apply (L), which applies
 *     the batch's durable journal records. Reads must finish before the next
 *     store_batch_apply: do them on L.
 *
 * Results: a store_queue_* call fails at once for a bad argument; otherwise its
 * result is known after store_batch_apply (store_batch_result): 0 once durable,
 * or an error. Envelope ids are assigned when the append is queued. */
#ifndef ALLEARS_STORE_H
#define ALLEARS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "storage/stindex.h"

#define STORE_MSG_DIR "Msg"
#define STORE_SNAPSHOT_NAME "stindex"
#define STORE_SNAPSHOT_TMP "stindex.tmp"
#define STORE_JOURNAL_NAME "journal"

#define STORE_SNAPSHOT_BYTES_DEFAULT (4u << 20)  /* journal size that triggers a snapshot */
#define STORE_SNAPSHOT_BYTES_MAX (64u << 20)
#define STORE_JOURNAL_MAX_BYTES                                                              \
	((uint64_t)STORE_SNAPSHOT_BYTES_MAX + 2 * (uint64_t)STINDEX_BATCH_MAX * STINDEX_REC_BYTES)
#define STORE_BATCH_MAX_OPS STINDEX_BATCH_MAX    /* operations in one batch */
#define STORE_WRITE_CHUNK (1u << 20)             /* envelope bytes per pwrite */
#define STORE_BROWSE_MAX_BYTES (16u << 20)       /* default and largest byte cap of a page */
#define STORE_BROWSE_MAX_COUNT 4096u             /* default and largest entries in a page */

struct store;
struct store_batch;

struct store_options {
	size_t snapshot_bytes; /* 0: STORE_SNAPSHOT_BYTES_DEFAULT; at most STORE_SNAPSHOT_BYTES_MAX */
};

/* Opens (creating Msg/ and the journal on first use) and recovers the state in
 * dir, which must exist (section 9.6). Keys are copied into locked memory.
 * -EBUSY: another process holds the store. -EBADMSG: the snapshot or a journal
 * record before the last write does not authenticate or decode (wrong key or
 * tampering). -EUCLEAN: the state is inconsistent (a user file shorter than the
 * index says or missing, a non-empty file of no user, an unexpected entry in
 * Msg/, a journal without its snapshot). -EFBIG: a state file over its limit.
 * Other negative errno values: I/O. Logs the reason once. */
int store_open(const char *dir, const uint8_t state_key[KEYS_KEY_BYTES],
               const uint8_t name_key[KEYS_KEY_BYTES], const struct store_options *opt,
               struct store **ret) WUR;
/* Frees everything. No commit may be running; queued batches must be freed
 * first. Writes nothing: call store_checkpoint first for a fast next start. */
void store_close(struct store *st);

/* ---- Batches (L, except commit on C) ---- */

struct store_batch *store_batch_new(struct store *st);
/* Each returns the operation's index in the batch (>= 0) or fails at once:
 * -EINVAL bad uid, envelope length (envelope_size_valid) or id 0;
 * -ENOENT the user does not exist (counting earlier queued creates/removes);
 * -EEXIST create of an existing user; -EBUSY create of a uid removed in this
 * same batch (queue it in the next one); -EOVERFLOW ids exhausted;
 * -ENOBUFS STORE_BATCH_MAX_OPS reached; -EALREADY the batch was committed.
 * append: env[0..len) must stay valid and unchanged until store_batch_apply
 * returns; *ret_id is the envelope's id (known now, durable only on success). */
int store_queue_create(struct store_batch *b, uint16_t uid) WUR;
int store_queue_remove(struct store_batch *b, uint16_t uid) WUR;
int store_queue_append(struct store_batch *b, uint16_t uid, const void *env, size_t len,
                       uint32_t *ret_id) WUR;
int store_queue_delete(struct store_batch *b, uint16_t uid, uint32_t id) WUR;
int store_queue_empty(struct store_batch *b, uint16_t uid) WUR;
size_t store_batch_ops(const struct store_batch *b);

/* C: makes the batch durable (section 9.8): finishes the previous batches'
 * deferred holes/truncations/unlinks, snapshots if the journal is over the
 * threshold, writes envelopes, one fdatasync per touched file, one journal
 * write + fdatasync. Per-operation results are set; the index is not touched.
 * Returns 0, or a negative errno when the journal write failed (or the store
 * has failed) and nothing of the batch became durable. An empty batch is fine
 * (it only does the deferred work). */
int store_batch_commit(struct store_batch *b);
/* L: applies the committed batch to the in-memory index. Then results are
 * readable. Must follow store_batch_commit of this batch before any other commit. */
void store_batch_apply(struct store_batch *b);
/* After apply: 0 (durable), -ENOENT (no such user or envelope), -EEXIST,
 * -EDQUOT (STINDEX_USER_MAX_ENTRIES), -ENOSPC (STINDEX_TOTAL_MAX_ENTRIES or
 * no space on disk), -EFBIG (STINDEX_FILE_MAX), -EIO or another I/O error. */
int store_batch_result(const struct store_batch *b, size_t op);
/* L: after apply, or before commit (the batch is then discarded). Freeing a
 * committed batch that was not applied is a programmer error. */
void store_batch_free(struct store_batch *b);

/* C (or L with no commit in flight): deferred work, then a snapshot and
 * journal truncation now. -EAGAIN while
 * a deferred hole keeps failing (section 9.8); other negative errno: I/O. */
int store_checkpoint(struct store *st) WUR;
/* L: true when applied deletions still wait for their holes to be punched (the
 * daemon may commit an empty batch when idle so deleted bytes do not linger). */
bool store_cleanup_pending(const struct store *st);
/* True once a journal failure could not be undone: every later commit fails
 * with -EIO; the daemon should exit so that recovery runs. */
bool store_failed(const struct store *st);

/* ---- Queries (L; committed state only) ---- */

bool store_user_exists(const struct store *st, uint16_t uid);
uint32_t store_user_count(const struct store *st);
/* Live envelopes of uid: total bytes and count. -ENOENT if no such user. */
int store_usage(const struct store *st, uint16_t uid, uint64_t *ret_bytes,
                uint32_t *ret_count) WUR;
/* 0 if storing add_bytes more keeps uid within limit_bytes, counting live
 * envelopes plus appends queued and not yet applied; -EDQUOT if not; -ENOENT. */
int store_quota_check(const struct store *st, uint16_t uid, uint64_t add_bytes,
                      uint64_t limit_bytes) WUR;

struct store_item {
	uint32_t id;
	uint32_t blocks; /* size / ENVELOPE_BLOCK */
	uint64_t offset; /* in the user's file (internal; for store_read) */
};

struct store_query {
	uint32_t from_id;  /* 0: from the newest (oldest) envelope */
	bool inclusive;    /* start at from_id itself rather than just past it */
	bool oldest_first; /* default newest first */
	size_t max_bytes;  /* 0: STORE_BROWSE_MAX_BYTES; the first envelope always fits */
	size_t max_count;  /* 0: STORE_BROWSE_MAX_COUNT */
};

/* A page of uid's live envelopes. out has room for out_cap items, which must
 * be at least the count cap. -EINVAL for caps over the maxima or out_cap too
 * small; -ENOENT if no such user. */
int store_browse(const struct store *st, uint16_t uid, const struct store_query *q,
                 struct store_item *out, size_t out_cap, size_t *ret_n, bool *ret_more) WUR;
/* Reads envelope id of uid into buf, whose length must be its size.
 * -ENOENT (no such user or envelope), -EINVAL (wrong len), -EIO (short file). */
int store_read(const struct store *st, uint16_t uid, uint32_t id, void *buf, size_t len) WUR;
/* Writes envelope id of uid to fd at its current position (e.g. a memfd).
 * Returns the size written, or as store_read. */
long store_read_to_fd(const struct store *st, uint16_t uid, uint32_t id, int fd) WUR;

/* fsync + fdatasync calls made so far (any thread; for tests and metrics). */
uint64_t store_sync_count(const struct store *st);

/* TESTS ONLY: a function called at fixed points of a commit, so a crash test
 * can kill the process exactly there. Process-wide; NULL to clear. */
enum store_hook {
	STORE_HOOK_CLEANUP_DONE,      /* deferred holes/truncations/unlinks done */
	STORE_HOOK_SNAPSHOT_TMP,      /* stindex.tmp written and synced, not renamed */
	STORE_HOOK_SNAPSHOT_RENAMED,  /* renamed, journal not yet truncated */
	STORE_HOOK_DATA_CHUNK,        /* after each chunk of envelope bytes written */
	STORE_HOOK_FILES_SYNCED,      /* user files synced, journal not written */
	STORE_HOOK_JOURNAL_WRITTEN,   /* journal written, not synced */
	STORE_HOOK_JOURNAL_SYNCED,    /* journal synced, commit not returned */
};
typedef void (*store_hook_fn)(enum store_hook where);
void store_test_set_hook(store_hook_fn fn);

#endif
