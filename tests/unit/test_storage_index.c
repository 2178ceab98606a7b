/* test_storage_index.c: the in-memory Stindex and its byte formats
 * (docs/PROTOCOL.md section 9): golden record and snapshot bytes, strict
 * decoders, the apply rules and their effects, limits, compaction, browse. */
#include <errno.h>

#include "check.h"
#include "storage/stindex.h"

static const uint8_t key42[STINDEX_KEY_BYTES] = {
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};

static const struct stindex_rec golden_rec = {
	.seq = 0x0102030405060708ull, .batch = 0x0102030405060700ull, .kind = STINDEX_APPEND,
	.uid = 0x0abc, .id = 0x11223344, .blocks = 256, .offset = 0x1122334400ull,
};
static const char golden_rec_hex[] = "0807060504030201"
                                     "0007060504030201"
                                     "0300bc0a"
                                     "44332211"
                                     "00010000"
                                     "00000000"
                                     "0044332211000000";
/* golden_rec sealed under key42 with nonce 00 01 .. 17, made with libsodium
 * directly (crypto_aead_xchacha20poly1305_ietf_encrypt, ad "journal\x01"). */
static const char golden_sealed_hex[] =
	"000102030405060708090a0b0c0d0e0f1011121314151617"
	"84fb82e2c3a2c5c1f261a243063bfcbfd2d9b7b0c79c68bca841928592db68fe4e2957d28e9918af"
	"0aaaf76d4b0b2f93f6b208717264e5b7";
/* The same with kind = 9: authentic, but not a valid record. */
static const char golden_sealed_badkind_hex[] =
	"000102030405060708090a0b0c0d0e0f1011121314151617"
	"84fb82e2c3a2c5c1f261a243063bfcbfd8d9b7b0c79c68bca841928592db68fe4e2957d28e9918af"
	"06398f4055fc9dd5caa141e8953b21a6";

static bool rec_eq(const struct stindex_rec *a, const struct stindex_rec *b)
{
	return a->seq == b->seq && a->batch == b->batch && a->kind == b->kind && a->uid == b->uid &&
	       a->id == b->id && a->blocks == b->blocks && a->offset == b->offset;
}

static void record_golden(void)
{
	uint8_t want[STINDEX_REC_PLAIN_BYTES], got[STINDEX_REC_PLAIN_BYTES];
	CHECK(check_unhex(golden_rec_hex, want, sizeof(want)) == STINDEX_REC_PLAIN_BYTES);
	stindex_rec_encode(got, &golden_rec);
	CHECK_MEM(got, want, sizeof(want));
	struct stindex_rec r;
	CHECK(stindex_rec_decode(&r, want) == 0);
	CHECK(rec_eq(&r, &golden_rec));

	uint8_t sealed[STINDEX_REC_BYTES];
	CHECK(check_unhex(golden_sealed_hex, sealed, sizeof(sealed)) == STINDEX_REC_BYTES);
	memset(&r, 0, sizeof(r));
	CHECK(stindex_rec_open(&r, sealed, key42) == 0);
	CHECK(rec_eq(&r, &golden_rec));
	CHECK(check_unhex(golden_sealed_badkind_hex, sealed, sizeof(sealed)) == STINDEX_REC_BYTES);
	CHECK(stindex_rec_open(&r, sealed, key42) == -EINVAL);
}

static void record_decode_rejects(void)
{
	uint8_t base[STINDEX_REC_PLAIN_BYTES], p[STINDEX_REC_PLAIN_BYTES];
	stindex_rec_encode(base, &golden_rec);
	struct stindex_rec r = { 0 };
	/* Each mutation alone makes the record invalid. */
	struct {
		size_t at;
		uint8_t v;
	} bytes[] = {
		{ 16, 0 }, { 16, 6 }, { 16, 0xff }, /* kind */
		{ 17, 1 },                          /* reserved */
		{ 28, 1 }, { 31, 0x80 },            /* reserved u32 */
		{ 19, 0x10 },                       /* uid 0x10bc >= 4096 */
		{ 25, 0 },                          /* blocks 0 */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++) {
		memcpy(p, base, sizeof(p));
		p[bytes[i].at] = bytes[i].v;
		CHECK(stindex_rec_decode(&r, p) == -EINVAL);
	}
	struct stindex_rec bad[] = {
		{ .seq = 0, .batch = 0, .kind = STINDEX_CREATE },                  /* seq 0 */
		{ .seq = 5, .batch = 0, .kind = STINDEX_CREATE },                  /* batch 0 */
		{ .seq = 5, .batch = 6, .kind = STINDEX_CREATE },                  /* batch > seq */
		{ .seq = 65537, .batch = 1, .kind = STINDEX_CREATE },              /* write too long */
		{ .seq = 1, .batch = 1, .kind = STINDEX_CREATE, .id = 1 },         /* unused field */
		{ .seq = 1, .batch = 1, .kind = STINDEX_REMOVE, .blocks = 4 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_EMPTY, .offset = 32 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_DELETE, .id = 0 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_DELETE, .id = 0xffffffff },
		{ .seq = 1, .batch = 1, .kind = STINDEX_DELETE, .id = 3, .blocks = 4 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_DELETE, .id = 3, .offset = 32 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 0, .blocks = 4 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 0xffffffff, .blocks = 4 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = 3 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = ENVELOPE_MAX_BLOCKS + 1 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = 4, .offset = 16 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = 4,
		  .offset = STINDEX_FILE_MAX - 96 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = 4, .uid = 4096 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		stindex_rec_encode(p, &bad[i]);
		CHECK(stindex_rec_decode(&r, p) == -EINVAL);
	}
	/* The edges that are allowed. */
	struct stindex_rec good[] = {
		{ .seq = 65536, .batch = 1, .kind = STINDEX_CREATE, .uid = 4095 },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = STINDEX_ID_MAX,
		  .blocks = ENVELOPE_MAX_BLOCKS, .offset = STINDEX_FILE_MAX - ENVELOPE_MAX_BYTES },
		{ .seq = 1, .batch = 1, .kind = STINDEX_APPEND, .id = 1, .blocks = 4,
		  .offset = STINDEX_FILE_MAX - 128 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		stindex_rec_encode(p, &good[i]);
		CHECK(stindex_rec_decode(&r, p) == 0);
		CHECK(rec_eq(&r, &good[i]));
	}
}

static void record_seal_open(void)
{
	uint8_t s1[STINDEX_REC_BYTES], s2[STINDEX_REC_BYTES], other[STINDEX_KEY_BYTES];
	struct stindex_rec r;
	stindex_rec_seal(s1, &golden_rec, key42);
	stindex_rec_seal(s2, &golden_rec, key42);
	CHECK(memcmp(s1, s2, sizeof(s1)) != 0); /* fresh nonce each time */
	CHECK(stindex_rec_open(&r, s1, key42) == 0 && rec_eq(&r, &golden_rec));
	memcpy(other, key42, sizeof(other));
	other[31] ^= 1;
	CHECK(stindex_rec_open(&r, s1, other) == -EBADMSG);
	for (size_t i = 0; i < STINDEX_REC_BYTES; i++) {
		memcpy(s2, s1, sizeof(s2));
		s2[i] ^= 0x20;
		CHECK(stindex_rec_open(&r, s2, key42) == -EBADMSG);
	}
	/* No plaintext field shows through. */
	uint8_t plain[STINDEX_REC_PLAIN_BYTES];
	stindex_rec_encode(plain, &golden_rec);
	CHECK(memmem(s1, sizeof(s1), plain + 20, 8) == NULL);
}

static struct stindex_rec mk(struct stindex *ix, uint8_t kind, uint16_t uid, uint32_t id,
                             uint32_t blocks, uint64_t off)
{
	return (struct stindex_rec){ .seq = ix->seq + 1, .batch = ix->seq + 1, .kind = kind,
		                         .uid = uid, .id = id, .blocks = blocks, .offset = off };
}

static int ap(struct stindex *ix, uint8_t kind, uint16_t uid, uint32_t id, uint32_t blocks,
              uint64_t off, struct stindex_effect *eff)
{
	struct stindex_effect dummy;
	struct stindex_rec r = mk(ix, kind, uid, id, blocks, off);
	return stindex_apply(ix, &r, eff ? eff : &dummy);
}

static void apply_basic(void)
{
	struct stindex *ix = stindex_new();
	struct stindex_effect e;
	CHECK(ap(ix, STINDEX_CREATE, 5, 0, 0, 0, &e) == 0 && !e.unlink && e.punch_len == 0);
	CHECK(ix->users == 1 && ix->u[5].exists && ix->u[5].next_id == 1);
	CHECK(ap(ix, STINDEX_APPEND, 5, 1, 4, 0, &e) == 0 && e.punch_len == 0);
	CHECK(ap(ix, STINDEX_APPEND, 5, 2, 4, 128, NULL) == 0);
	/* A gap before an append is allowed (a failed write left it). */
	CHECK(ap(ix, STINDEX_APPEND, 5, 7, 5, 512, NULL) == 0);
	CHECK(stindex_user_end(&ix->u[5]) == 512 + 160);
	CHECK(ix->u[5].next_id == 8 && ix->u[5].live == 3 && ix->u[5].live_bytes == 128 + 128 + 160);
	CHECK(ix->total_live == 3 && ix->seq == 4);
	CHECK(stindex_find(&ix->u[5], 2) == 1 && stindex_find(&ix->u[5], 3) == -ENOENT);

	CHECK(ap(ix, STINDEX_DELETE, 5, 2, 0, 0, &e) == 0);
	CHECK(e.punch_off == 128 && e.punch_len == 128 && !e.unlink);
	CHECK(stindex_find(&ix->u[5], 2) == -ENOENT && ix->u[5].live == 2);
	CHECK(stindex_user_end(&ix->u[5]) == 672);
	/* Deleting the last one moves the end back past every dead entry. */
	CHECK(ap(ix, STINDEX_DELETE, 5, 7, 0, 0, &e) == 0 && e.punch_off == 512 && e.punch_len == 160);
	CHECK(stindex_user_end(&ix->u[5]) == 128 && ix->u[5].n == 1);
	/* Ids are never reused; appends continue at or after the end. */
	CHECK(ap(ix, STINDEX_APPEND, 5, 7, 4, 128, NULL) == -EBADMSG);
	CHECK(ap(ix, STINDEX_APPEND, 5, 8, 4, 96, NULL) == -EBADMSG);
	CHECK(ap(ix, STINDEX_APPEND, 5, 8, 4, 128, NULL) == 0);

	CHECK(ap(ix, STINDEX_EMPTY, 5, 0, 0, 0, &e) == 0 && e.punch_off == 0 && e.punch_len == 256);
	CHECK(ix->u[5].exists && ix->u[5].live == 0 && ix->u[5].next_id == 9 && ix->total_live == 0);
	CHECK(stindex_user_end(&ix->u[5]) == 0);
	CHECK(ap(ix, STINDEX_APPEND, 5, 9, 4, 4096, NULL) == 0);

	CHECK(ap(ix, STINDEX_REMOVE, 5, 0, 0, 0, &e) == 0 && e.unlink);
	CHECK(!ix->u[5].exists && ix->users == 0 && ix->total_live == 0);
	/* A re-created user starts again at id 1. */
	CHECK(ap(ix, STINDEX_CREATE, 5, 0, 0, 0, NULL) == 0 && ix->u[5].next_id == 1);
	CHECK(stindex_check(ix) == 0);
	stindex_free(ix);
}

static void snap_plain(const struct stindex *ix, struct wr *w)
{
	w->len = 0;
	stindex_snapshot_encode(ix, w);
}

static void apply_rejects(void)
{
	struct stindex *ix = stindex_new();
	struct wr before = WR_INIT, after = WR_INIT;
	struct stindex_effect e;
	CHECK(ap(ix, STINDEX_CREATE, 1, 0, 0, 0, NULL) == 0);
	CHECK(ap(ix, STINDEX_APPEND, 1, 3, 4, 0, NULL) == 0);
	snap_plain(ix, &before);
	uint64_t seq = ix->seq;
	struct stindex_rec bad[] = {
		mk(ix, STINDEX_CREATE, 1, 0, 0, 0),   /* exists */
		mk(ix, STINDEX_REMOVE, 2, 0, 0, 0),   /* no such user */
		mk(ix, STINDEX_EMPTY, 2, 0, 0, 0),
		mk(ix, STINDEX_APPEND, 2, 1, 4, 0),
		mk(ix, STINDEX_DELETE, 2, 1, 0, 0),
		mk(ix, STINDEX_APPEND, 1, 3, 4, 128), /* id not above next */
		mk(ix, STINDEX_APPEND, 1, 2, 4, 128),
		mk(ix, STINDEX_APPEND, 1, 4, 4, 96),  /* overlaps */
		mk(ix, STINDEX_DELETE, 1, 2, 0, 0),   /* not there */
		mk(ix, STINDEX_DELETE, 1, 4, 0, 0),
		mk(ix, STINDEX_APPEND, 1, 4, 4, 100), /* misaligned */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(stindex_apply(ix, &bad[i], &e) == -EBADMSG);
	/* Sequence: no gap, no repeat. */
	struct stindex_rec r = mk(ix, STINDEX_APPEND, 1, 4, 4, 128);
	r.seq = r.batch = seq + 2;
	CHECK(stindex_apply(ix, &r, &e) == -EBADMSG);
	r.seq = r.batch = seq;
	CHECK(stindex_apply(ix, &r, &e) == -EBADMSG);
	snap_plain(ix, &after);
	CHECK(ix->seq == seq && before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
	/* Deleting twice: the second fails. */
	CHECK(ap(ix, STINDEX_DELETE, 1, 3, 0, 0, NULL) == 0);
	CHECK(ap(ix, STINDEX_DELETE, 1, 3, 0, 0, NULL) == -EBADMSG);
	CHECK(stindex_check(ix) == 0);
	wr_free(&before);
	wr_free(&after);
	stindex_free(ix);
}

static void compaction_keeps_order(void)
{
	struct stindex *ix = stindex_new();
	CHECK(ap(ix, STINDEX_CREATE, 3, 0, 0, 0, NULL) == 0);
	for (uint32_t id = 1; id <= 1000; id++)
		CHECK(ap(ix, STINDEX_APPEND, 3, id, 4, (uint64_t)(id - 1) * 128, NULL) == 0);
	/* Delete all but every 50th, from the front: compaction must kick in. */
	for (uint32_t id = 1; id <= 1000; id++)
		if (id % 50)
			CHECK(ap(ix, STINDEX_DELETE, 3, id, 0, 0, NULL) == 0);
	const struct stindex_user *u = &ix->u[3];
	CHECK(u->live == 20 && u->dead < 32 + 20 && u->n < 100);
	for (uint32_t id = 1; id <= 1000; id++) {
		long i = stindex_find(u, id);
		CHECK((id % 50 == 0) == (i >= 0));
		if (i >= 0)
			CHECK(u->e[i].offset == (uint64_t)(id - 1) * 128);
	}
	CHECK(stindex_user_end(u) == 1000 * 128);
	CHECK(stindex_check(ix) == 0);
	stindex_free(ix);
}

static void per_user_limit(void)
{
	struct stindex *ix = stindex_new();
	CHECK(ap(ix, STINDEX_CREATE, 0, 0, 0, 0, NULL) == 0);
	int bad = 0;
	for (uint32_t id = 1; id <= STINDEX_USER_MAX_ENTRIES; id++)
		bad += ap(ix, STINDEX_APPEND, 0, id, 4, (uint64_t)(id - 1) * 128, NULL) != 0;
	CHECK(bad == 0 && ix->u[0].live == STINDEX_USER_MAX_ENTRIES);
	CHECK(ap(ix, STINDEX_APPEND, 0, STINDEX_USER_MAX_ENTRIES + 1, 4,
	         (uint64_t)STINDEX_USER_MAX_ENTRIES * 128, NULL) == -EBADMSG);
	CHECK(ap(ix, STINDEX_DELETE, 0, 17, 0, 0, NULL) == 0);
	CHECK(ap(ix, STINDEX_APPEND, 0, STINDEX_USER_MAX_ENTRIES + 1, 4,
	         (uint64_t)STINDEX_USER_MAX_ENTRIES * 128, NULL) == 0);
	/* Ids run out at STINDEX_ID_MAX: next_id then says "exhausted". */
	CHECK(ap(ix, STINDEX_EMPTY, 0, 0, 0, 0, NULL) == 0);
	CHECK(ap(ix, STINDEX_APPEND, 0, STINDEX_ID_MAX, 4, 0, NULL) == 0);
	CHECK(ix->u[0].next_id == 0xffffffffu);
	struct stindex_rec r = mk(ix, STINDEX_APPEND, 0, 0xffffffffu, 4, 128);
	struct stindex_effect e;
	CHECK(stindex_apply(ix, &r, &e) == -EBADMSG);
	CHECK(stindex_check(ix) == 0);
	stindex_free(ix);
}

/* seq 7; user 5: next_id 4, entries (1, 4 blocks, 0) and (3, 5 blocks, 256). */
static struct stindex *golden_index(void)
{
	struct stindex *ix = stindex_new();
	int bad = 0;
	bad |= ap(ix, STINDEX_CREATE, 5, 0, 0, 0, NULL);
	bad |= ap(ix, STINDEX_APPEND, 5, 1, 4, 0, NULL);
	bad |= ap(ix, STINDEX_APPEND, 5, 2, 4, 128, NULL);
	bad |= ap(ix, STINDEX_APPEND, 5, 3, 5, 256, NULL);
	bad |= ap(ix, STINDEX_DELETE, 5, 2, 0, 0, NULL);
	bad |= ap(ix, STINDEX_CREATE, 9, 0, 0, 0, NULL);
	bad |= ap(ix, STINDEX_REMOVE, 9, 0, 0, 0, NULL);
	CHECK(bad == 0);
	return ix;
}

static const char golden_snap_hex[] = "0700000000000000" "01000000" "00000000"
                                      "0500" "0000" "04000000" "02000000" "00000000"
                                      "01000000" "04000000" "0000000000000000"
                                      "03000000" "05000000" "0001000000000000";

static void snapshot_golden(void)
{
	struct stindex *ix = golden_index();
	struct wr w = WR_INIT;
	stindex_snapshot_encode(ix, &w);
	uint8_t want[64];
	CHECK(check_unhex(golden_snap_hex, want, sizeof(want)) == 64);
	CHECK(w.len == STINDEX_SNAP_PAD);
	CHECK_MEM(w.p, want, 64);
	bool zeros = true;
	for (size_t i = 64; i < w.len; i++)
		zeros &= w.p[i] == 0;
	CHECK(zeros);

	struct stindex *back = NULL;
	CHECK(stindex_snapshot_decode(w.p, w.len, &back) == 0);
	CHECK(back && stindex_check(back) == 0 && back->seq == 7 && back->users == 1);
	CHECK(back && back->u[5].next_id == 4 && stindex_find(&back->u[5], 3) == 1);
	struct wr again = WR_INIT;
	if (back)
		stindex_snapshot_encode(back, &again);
	CHECK(again.len == w.len && memcmp(again.p, w.p, w.len) == 0);

	/* Sealed file: header, nonce, ciphertext, tag. */
	struct wr s = WR_INIT;
	stindex_snapshot_seal(ix, key42, &s);
	CHECK(s.len == STINDEX_SNAP_OVERHEAD + STINDEX_SNAP_PAD);
	CHECK(memcmp(s.p, "stindex\x01", 8) == 0);
	CHECK(memmem(s.p, s.len, want + 32, 32) == NULL);
	struct stindex *opened = NULL;
	CHECK(stindex_snapshot_open(s.p, s.len, key42, &opened) == 0);
	struct wr third = WR_INIT;
	if (opened)
		stindex_snapshot_encode(opened, &third);
	CHECK(third.len == w.len && memcmp(third.p, w.p, w.len) == 0);
	stindex_free(opened);
	stindex_free(back);
	stindex_free(ix);
	wr_free(&w);
	wr_free(&again);
	wr_free(&third);
	wr_free(&s);
}

static void snapshot_seal_rejects(void)
{
	struct stindex *ix = golden_index();
	struct wr s = WR_INIT;
	stindex_snapshot_seal(ix, key42, &s);
	struct stindex *out = NULL;
	uint8_t other[STINDEX_KEY_BYTES];
	memcpy(other, key42, sizeof(other));
	other[0] ^= 1;
	CHECK(stindex_snapshot_open(s.p, s.len, other, &out) == -EBADMSG);
	size_t at[] = { 0, 7, 8, 31, 32, 40, 100, s.len / 2, s.len - 17, s.len - 16, s.len - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		s.p[at[i]] ^= 4;
		CHECK(stindex_snapshot_open(s.p, s.len, key42, &out) == -EBADMSG);
		s.p[at[i]] ^= 4;
	}
	CHECK(stindex_snapshot_open(s.p, s.len - 1, key42, &out) == -EBADMSG);
	CHECK(stindex_snapshot_open(s.p, 0, key42, &out) == -EBADMSG);
	CHECK(stindex_snapshot_open(s.p, STINDEX_SNAP_OVERHEAD + 1000, key42, &out) == -EBADMSG);
	/* Over the limit: refused from the length alone, before reading. */
	CHECK(stindex_snapshot_open(s.p, STINDEX_SNAP_MAX_BYTES + 1, key42, &out) == -EFBIG);
	CHECK(out == NULL);
	CHECK(stindex_snapshot_open(s.p, s.len, key42, &out) == 0);
	stindex_free(out);
	stindex_free(ix);
	wr_free(&s);
}

static int decode_mut(const uint8_t *base, size_t len, size_t at, const void *v, size_t n)
{
	uint8_t *p = xmalloc(len);
	memcpy(p, base, len);
	memcpy(p + at, v, n);
	struct stindex *ix = NULL;
	int rc = stindex_snapshot_decode(p, len, &ix);
	stindex_free(ix);
	free(p);
	return rc;
}

static void snapshot_decode_rejects(void)
{
	struct stindex *ix = golden_index();
	struct wr w = WR_INIT;
	stindex_snapshot_encode(ix, &w);
	struct stindex *out = NULL;
	CHECK(stindex_snapshot_decode(w.p, w.len, &out) == 0);
	stindex_free(out);
	out = NULL;
	CHECK(stindex_snapshot_decode(w.p, 0, &out) == -EINVAL);
	CHECK(stindex_snapshot_decode(w.p, w.len - 1, &out) == -EINVAL);
	CHECK(stindex_snapshot_decode(w.p, 64, &out) == -EINVAL);
	/* One pad unit too many. */
	uint8_t *big = xcalloc(2, w.len);
	memcpy(big, w.p, w.len);
	CHECK(stindex_snapshot_decode(big, 2 * w.len, &out) == -EINVAL);
	free(big);
	/* Oversized lengths are refused before reading. */
	CHECK(stindex_snapshot_decode(w.p, STINDEX_SNAP_PLAIN_MAX + STINDEX_SNAP_PAD, &out) == -EINVAL);

	uint32_t v32;
	uint16_t v16;
	uint64_t v64;
	v32 = 2; /* two users announced, one present (the rest is zero padding: uid 0 ok, but ...) */
	CHECK(decode_mut(w.p, w.len, 8, &v32, 4) == -EINVAL);
	v32 = 4097;
	CHECK(decode_mut(w.p, w.len, 8, &v32, 4) == -EINVAL);
	v32 = 1;
	CHECK(decode_mut(w.p, w.len, 12, &v32, 4) == -EINVAL); /* reserved */
	v16 = 4096;
	CHECK(decode_mut(w.p, w.len, 16, &v16, 2) == -EINVAL); /* uid */
	v16 = 1;
	CHECK(decode_mut(w.p, w.len, 18, &v16, 2) == -EINVAL); /* reserved */
	v32 = 0;
	CHECK(decode_mut(w.p, w.len, 20, &v32, 4) == -EINVAL); /* next_id 0 */
	v32 = 3;
	CHECK(decode_mut(w.p, w.len, 20, &v32, 4) == -EINVAL); /* id 3 >= next_id */
	v32 = 3;
	CHECK(decode_mut(w.p, w.len, 24, &v32, 4) == -EINVAL); /* count 3: runs into padding */
	v32 = STINDEX_USER_MAX_ENTRIES + 1;
	CHECK(decode_mut(w.p, w.len, 24, &v32, 4) == -EINVAL);
	v32 = 1;
	CHECK(decode_mut(w.p, w.len, 28, &v32, 4) == -EINVAL); /* reserved */
	v32 = 3;
	CHECK(decode_mut(w.p, w.len, 32, &v32, 4) == -EINVAL); /* ids not ascending */
	v32 = 0;
	CHECK(decode_mut(w.p, w.len, 32, &v32, 4) == -EINVAL); /* id 0 */
	v32 = 3;
	CHECK(decode_mut(w.p, w.len, 36, &v32, 4) == -EINVAL); /* 3 blocks */
	v32 = ENVELOPE_MAX_BLOCKS + 1;
	CHECK(decode_mut(w.p, w.len, 36, &v32, 4) == -EINVAL);
	v32 = 9; /* first entry 288 bytes: overlaps the second at 256 */
	CHECK(decode_mut(w.p, w.len, 36, &v32, 4) == -EINVAL);
	v64 = 16;
	CHECK(decode_mut(w.p, w.len, 40, &v64, 8) == -EINVAL); /* misaligned */
	v64 = 96;
	CHECK(decode_mut(w.p, w.len, 56, &v64, 8) == -EINVAL); /* second overlaps first */
	v64 = STINDEX_FILE_MAX;
	CHECK(decode_mut(w.p, w.len, 56, &v64, 8) == -EINVAL); /* past the file limit */
	uint8_t one = 1;
	CHECK(decode_mut(w.p, w.len, 64, &one, 1) == -EINVAL);          /* padding */
	CHECK(decode_mut(w.p, w.len, w.len - 1, &one, 1) == -EINVAL);
	/* Still fine: an entry moved later (holes are allowed). */
	v64 = 1024;
	CHECK(decode_mut(w.p, w.len, 56, &v64, 8) == 0);

	/* Unsorted and duplicate uids. */
	struct stindex *two = stindex_new();
	int bad = 0;
	bad |= ap(two, STINDEX_CREATE, 3, 0, 0, 0, NULL);
	bad |= ap(two, STINDEX_CREATE, 7, 0, 0, 0, NULL);
	CHECK(bad == 0);
	struct wr w2 = WR_INIT;
	stindex_snapshot_encode(two, &w2);
	CHECK(stindex_snapshot_decode(w2.p, w2.len, &out) == 0);
	stindex_free(out);
	out = NULL;
	v16 = 3;
	CHECK(decode_mut(w2.p, w2.len, 32, &v16, 2) == -EINVAL);
	v16 = 2;
	CHECK(decode_mut(w2.p, w2.len, 32, &v16, 2) == -EINVAL);
	stindex_free(two);
	wr_free(&w2);
	stindex_free(ix);
	wr_free(&w);
}

static struct stindex *browse_index(void)
{
	/* uid 2: ids 1..10, id k has k + 3 blocks; 4 and 10 are deleted. */
	struct stindex *ix = stindex_new();
	int bad = ap(ix, STINDEX_CREATE, 2, 0, 0, 0, NULL);
	uint64_t off = 0;
	for (uint32_t id = 1; id <= 10; id++) {
		bad |= ap(ix, STINDEX_APPEND, 2, id, id + 3, off, NULL);
		off += (uint64_t)(id + 3) * 32;
	}
	bad |= ap(ix, STINDEX_DELETE, 2, 4, 0, 0, NULL);
	bad |= ap(ix, STINDEX_DELETE, 2, 10, 0, 0, NULL);
	CHECK(bad == 0);
	return ix;
}

static bool ids_are(const struct stindex_item *it, size_t n, const uint32_t *want, size_t wn)
{
	if (n != wn)
		return false;
	for (size_t i = 0; i < n; i++)
		if (it[i].id != want[i] || it[i].blocks != want[i] + 3)
			return false;
	return true;
}

static void browse_directions_and_caps(void)
{
	struct stindex *ix = browse_index();
	const struct stindex_user *u = &ix->u[2];
	struct stindex_item it[16];
	size_t n;
	bool more;
	struct stindex_query q = { .max_bytes = 1u << 20, .max_count = 3 };
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 9, 8, 7 }, 3) && more);
	q.from_id = 7;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 6, 5, 3 }, 3) && more);
	q.from_id = 3;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 2, 1 }, 2) && !more);
	q.from_id = 5;
	q.inclusive = true;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 5, 3, 2 }, 3) && more);
	q.from_id = 4; /* deleted: inclusive starts below it */
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 3, 2, 1 }, 3) && !more);
	q.from_id = 1000;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 9, 8, 7 }, 3) && more);

	q = (struct stindex_query){ .oldest_first = true, .max_bytes = 1u << 20, .max_count = 4 };
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 1, 2, 3, 5 }, 4) && more);
	q.from_id = 5;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 6, 7, 8, 9 }, 4) && !more);
	q.inclusive = true;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 5, 6, 7, 8 }, 4) && more);
	q.from_id = 9;
	q.inclusive = false;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(n == 0 && !more);
	q.from_id = 0xffffffffu;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0 && n == 0 && !more);

	/* Byte cap: ids 7 and 6 (10 + 9 blocks = 608 bytes) fit in 610, id 5 does not. */
	q = (struct stindex_query){ .max_bytes = 610, .max_count = 16, .from_id = 8 };
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 7, 6 }, 2) && more);
	/* The first envelope is returned even when it alone is over the cap. */
	q.max_bytes = 1;
	CHECK(stindex_browse(u, &q, it, &n, &more) == 0);
	CHECK(ids_are(it, n, (uint32_t[]){ 7 }, 1) && more);
	CHECK(it[0].offset == (4 + 5 + 6 + 7 + 8 + 9) * 32);
	q.max_bytes = 0;
	CHECK(stindex_browse(u, &q, it, &n, &more) == -EINVAL);
	q.max_bytes = 1;
	q.max_count = 0;
	CHECK(stindex_browse(u, &q, it, &n, &more) == -EINVAL);

	/* An empty user. */
	q = (struct stindex_query){ .max_bytes = 100, .max_count = 1 };
	CHECK(stindex_browse(&ix->u[0], &q, it, &n, &more) == 0 && n == 0 && !more);
	stindex_free(ix);
}

int main(void)
{
	check_init();
	RUN(record_golden);
	RUN(record_decode_rejects);
	RUN(record_seal_open);
	RUN(apply_basic);
	RUN(apply_rejects);
	RUN(compaction_keeps_order);
	RUN(per_user_limit);
	RUN(snapshot_golden);
	RUN(snapshot_seal_rejects);
	RUN(snapshot_decode_rejects);
	RUN(browse_directions_and_caps);
	return check_finish();
}
