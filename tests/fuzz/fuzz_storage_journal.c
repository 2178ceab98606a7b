/* fuzz_storage_journal.c: libFuzzer target for the Stindex's disk formats
 * (docs/PROTOCOL.md sections 9.3-9.4), which Storage reads back at start. The
 * first byte picks a mode:
 *   0: snapshot plaintext (zero-padded to the pad unit, and as given): a
 *      decoder that accepts yields a valid index that re-encodes to the same
 *      bytes;
 *   1: a run of 40-byte record plaintexts: strict decode, canonical re-encode,
 *      then applied (sequence numbers forced) with the index invariants checked
 *      after each step, a snapshot round trip and browse queries at the end;
 *   2: sealed inputs: each 80-byte chunk and the whole input opened under a
 *      fixed key (must fail or round-trip), and every plaintext sealed and
 *      opened again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "storage/stindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                     \
	do {                                                                                   \
		if (!(c))                                                                          \
			abort();                                                                       \
	} while (0)

#define FUZZ_MAX_INPUT (2 * STINDEX_SNAP_PAD)
#define FUZZ_MAX_RECORDS 256 /* each step checks every invariant: keep runs fast */

static const uint8_t key[STINDEX_KEY_BYTES] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	                                            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

static bool rec_eq(const struct stindex_rec *a, const struct stindex_rec *b)
{
	return a->seq == b->seq && a->batch == b->batch && a->kind == b->kind && a->uid == b->uid &&
	       a->id == b->id && a->blocks == b->blocks && a->offset == b->offset;
}

/* Snapshot round trip and a few pages of every user, both directions. */
static void exercise(const struct stindex *ix)
{
	FUZZ_ASSERT(stindex_check(ix) == 0);
	struct wr w = WR_INIT, w2 = WR_INIT;
	stindex_snapshot_encode(ix, &w);
	FUZZ_ASSERT(w.len % STINDEX_SNAP_PAD == 0);
	struct stindex *back = NULL;
	FUZZ_ASSERT(stindex_snapshot_decode(w.p, w.len, &back) == 0);
	FUZZ_ASSERT(stindex_check(back) == 0 && back->seq == ix->seq && back->users == ix->users &&
	            back->total_live == ix->total_live);
	stindex_snapshot_encode(back, &w2);
	FUZZ_ASSERT(w2.len == w.len && memcmp(w.p, w2.p, w.len) == 0);
	stindex_free(back);
	wr_free(&w);
	wr_free(&w2);

	struct stindex_item items[8];
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		const struct stindex_user *u = &ix->u[uid];
		if (!u->exists)
			continue;
		for (int dir = 0; dir < 2; dir++) {
			struct stindex_query q = { .oldest_first = dir, .max_bytes = 4096, .max_count = 8 };
			size_t n, seen = 0;
			bool more = true;
			while (more) {
				FUZZ_ASSERT(stindex_browse(u, &q, items, &n, &more) == 0);
				FUZZ_ASSERT(n <= 8 && (n > 0 || !more));
				for (size_t i = 0; i < n; i++) {
					FUZZ_ASSERT(stindex_find(u, items[i].id) >= 0);
					if (i)
						FUZZ_ASSERT(dir ? items[i].id > items[i - 1].id
						                : items[i].id < items[i - 1].id);
				}
				seen += n;
				if (n)
					q.from_id = items[n - 1].id;
			}
			FUZZ_ASSERT(seen == u->live);
		}
	}
}

static void snapshot_mode(const uint8_t *p, size_t len)
{
	struct stindex *ix = NULL;
	if (stindex_snapshot_decode(p, len, &ix) == 0) {
		exercise(ix);
		stindex_free(ix);
		ix = NULL;
	}
	size_t padded = (len / STINDEX_SNAP_PAD + 1) * STINDEX_SNAP_PAD;
	uint8_t *buf = calloc(1, padded);
	FUZZ_ASSERT(buf);
	memcpy(buf, p, len);
	size_t use = len % STINDEX_SNAP_PAD ? padded : len ? len : padded;
	if (stindex_snapshot_decode(buf, use, &ix) == 0) {
		struct wr w = WR_INIT;
		stindex_snapshot_encode(ix, &w);
		FUZZ_ASSERT(w.len == use && memcmp(w.p, buf, use) == 0);
		wr_free(&w);
		exercise(ix);
		stindex_free(ix);
	}
	free(buf);
}

static void records_mode(const uint8_t *p, size_t len)
{
	struct stindex *ix = stindex_new();
	if (len > FUZZ_MAX_RECORDS * STINDEX_REC_PLAIN_BYTES)
		len = FUZZ_MAX_RECORDS * STINDEX_REC_PLAIN_BYTES;
	for (size_t off = 0; off + STINDEX_REC_PLAIN_BYTES <= len; off += STINDEX_REC_PLAIN_BYTES) {
		struct stindex_rec r;
		if (stindex_rec_decode(&r, p + off) != 0)
			continue;
		uint8_t again[STINDEX_REC_PLAIN_BYTES];
		stindex_rec_encode(again, &r);
		FUZZ_ASSERT(memcmp(again, p + off, sizeof(again)) == 0);
		/* Out-of-sequence records are refused without a change. */
		uint64_t seq = ix->seq;
		uint32_t users = ix->users;
		uint64_t total = ix->total_live;
		struct stindex_effect e;
		if (r.seq != seq + 1)
			FUZZ_ASSERT(stindex_apply(ix, &r, &e) != 0);
		r.seq = r.batch = ix->seq + 1;
		int rc = stindex_apply(ix, &r, &e);
		if (rc == 0) {
			FUZZ_ASSERT(ix->seq == seq + 1);
			FUZZ_ASSERT(!e.unlink || r.kind == STINDEX_REMOVE);
			FUZZ_ASSERT(e.punch_len == 0 || r.kind == STINDEX_DELETE || r.kind == STINDEX_EMPTY);
		} else {
			FUZZ_ASSERT(ix->seq == seq && ix->users == users && ix->total_live == total);
		}
		/* stindex_check walks all 4,096 users: not after every step. */
		if (off < 4 * STINDEX_REC_PLAIN_BYTES || off % (64 * STINDEX_REC_PLAIN_BYTES) == 0)
			FUZZ_ASSERT(stindex_check(ix) == 0);
	}
	exercise(ix);
	stindex_free(ix);
}

static void sealed_mode(const uint8_t *p, size_t len)
{
	for (size_t off = 0; off + STINDEX_REC_BYTES <= len; off += STINDEX_REC_BYTES) {
		struct stindex_rec r, r2;
		if (stindex_rec_open(&r, p + off, key) == 0) {
			uint8_t s[STINDEX_REC_BYTES];
			stindex_rec_seal(s, &r, key);
			FUZZ_ASSERT(stindex_rec_open(&r2, s, key) == 0 && rec_eq(&r, &r2));
		}
	}
	struct stindex *ix = NULL;
	if (stindex_snapshot_open(p, len, key, &ix) == 0) {
		exercise(ix);
		stindex_free(ix);
	}
	/* Whatever decodes as plaintext survives sealing and opening. */
	for (size_t off = 0; off + STINDEX_REC_PLAIN_BYTES <= len; off += STINDEX_REC_PLAIN_BYTES) {
		struct stindex_rec r, r2;
		if (stindex_rec_decode(&r, p + off) != 0)
			continue;
		uint8_t s[STINDEX_REC_BYTES];
		stindex_rec_seal(s, &r, key);
		FUZZ_ASSERT(stindex_rec_open(&r2, s, key) == 0 && rec_eq(&r, &r2));
		s[off % STINDEX_REC_BYTES] ^= 1;
		FUZZ_ASSERT(stindex_rec_open(&r2, s, key) == -EBADMSG);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (sodium_init() < 0)
		abort();
	switch (data[0] % 3) {
	case 0:
		snapshot_mode(data + 1, size - 1);
		break;
	case 1:
		records_mode(data + 1, size - 1);
		break;
	default:
		sealed_mode(data + 1, size - 1);
		break;
	}
	return 0;
}
