/* stindex.c: the in-memory Stindex, the rules for applying journal records, and
 * the encrypted snapshot and record formats (docs/PROTOCOL.md section 9). Every
 * operation is O(1) or O(log n) per record except snapshots, which are O(index):
 * nothing here rewrites per-user state wholesale on a single store or delete. */
#include "storage/stindex.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

/* A user's dead entries are squeezed out once they outnumber the live ones, so
 * memory stays within about twice the live entries and the work is amortized. */
#define COMPACT_MIN_DEAD 32

struct stindex *stindex_new(void)
{
	struct stindex *ix = xcalloc(1, sizeof(*ix));
	return ix;
}

static void user_clear(struct stindex_user *u)
{
	free(u->e);
	u->e = NULL;
	u->n = u->cap = u->live = u->dead = 0;
	u->live_bytes = 0;
}

void stindex_free(struct stindex *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < STINDEX_USERS; i++)
		user_clear(&ix->u[i]);
	free(ix);
}

uint64_t stindex_user_end(const struct stindex_user *u)
{
	if (u->n == 0)
		return 0;
	const struct stindex_entry *e = &u->e[u->n - 1];
	return e->offset + stindex_size(e->blocks);
}

/* First index whose id is >= id (n if none). */
static uint32_t lower_bound(const struct stindex_user *u, uint32_t id)
{
	uint32_t lo = 0, hi = u->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (u->e[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose id is > id. */
static uint32_t upper_bound(const struct stindex_user *u, uint32_t id)
{
	uint32_t lo = 0, hi = u->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (u->e[mid].id <= id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long stindex_find(const struct stindex_user *u, uint32_t id)
{
	uint32_t i = lower_bound(u, id);
	if (i < u->n && u->e[i].id == id && !(u->e[i].blocks & STINDEX_DEAD))
		return (long)i;
	return -ENOENT;
}

static void user_push(struct stindex_user *u, uint32_t id, uint32_t blocks, uint64_t offset)
{
	if (u->n == u->cap) {
		uint32_t cap = u->cap ? u->cap * 2 : 16;
		u->e = xrealloc(u->e, (size_t)cap * sizeof(*u->e));
		u->cap = cap;
	}
	u->e[u->n++] = (struct stindex_entry){ .id = id, .blocks = blocks, .offset = offset };
}

static void user_compact(struct stindex_user *u)
{
	uint32_t w = 0;
	for (uint32_t i = 0; i < u->n; i++)
		if (!(u->e[i].blocks & STINDEX_DEAD))
			u->e[w++] = u->e[i];
	u->n = w;
	u->dead = 0;
	if (u->cap > 64 && u->cap / 4 > u->n) {
		uint32_t cap = u->n * 2 > 16 ? u->n * 2 : 16;
		u->e = xrealloc(u->e, (size_t)cap * sizeof(*u->e));
		u->cap = cap;
	}
}

/* Field rules of section 9.4, shared by the decoder and by apply. */
static bool rec_valid(const struct stindex_rec *r)
{
	if (r->seq == 0 || r->batch == 0 || r->batch > r->seq || r->seq - r->batch >= STINDEX_BATCH_MAX)
		return false;
	if (r->uid >= STINDEX_USERS)
		return false;
	switch (r->kind) {
	case STINDEX_CREATE:
	case STINDEX_REMOVE:
	case STINDEX_EMPTY:
		return r->id == 0 && r->blocks == 0 && r->offset == 0;
	case STINDEX_APPEND:
		return r->id >= 1 && r->id <= STINDEX_ID_MAX && r->blocks >= ENVELOPE_MIN_BLOCKS &&
		       r->blocks <= ENVELOPE_MAX_BLOCKS && r->offset % ENVELOPE_BLOCK == 0 &&
		       r->offset <= STINDEX_FILE_MAX - stindex_size(r->blocks);
	case STINDEX_DELETE:
		return r->id >= 1 && r->id <= STINDEX_ID_MAX && r->blocks == 0 && r->offset == 0;
	default:
		return false;
	}
}

int stindex_apply(struct stindex *ix, const struct stindex_rec *r, struct stindex_effect *ret_eff)
{
	struct stindex_effect eff = { 0 };
	if (!rec_valid(r) || r->seq != ix->seq + 1)
		return -EBADMSG;
	struct stindex_user *u = &ix->u[r->uid];
	if (r->kind != STINDEX_CREATE && !u->exists)
		return -EBADMSG;

	switch (r->kind) {
	case STINDEX_CREATE:
		if (u->exists)
			return -EBADMSG;
		user_clear(u);
		u->exists = true;
		u->next_id = 1;
		ix->users++;
		break;
	case STINDEX_REMOVE:
		ix->total_live -= u->live;
		user_clear(u);
		u->exists = false;
		u->next_id = 0;
		ix->users--;
		eff.unlink = true;
		break;
	case STINDEX_APPEND:
		if (r->id < u->next_id || u->live >= STINDEX_USER_MAX_ENTRIES ||
		    ix->total_live >= STINDEX_TOTAL_MAX_ENTRIES || r->offset < stindex_user_end(u))
			return -EBADMSG;
		user_push(u, r->id, r->blocks, r->offset);
		u->next_id = r->id + 1; /* id <= STINDEX_ID_MAX, so no wrap */
		u->live++;
		u->live_bytes += stindex_size(r->blocks);
		ix->total_live++;
		break;
	case STINDEX_DELETE: {
		long i = stindex_find(u, r->id);
		if (i < 0)
			return -EBADMSG;
		struct stindex_entry *e = &u->e[i];
		eff.punch_off = e->offset;
		eff.punch_len = stindex_size(e->blocks);
		e->blocks |= STINDEX_DEAD;
		u->live--;
		u->dead++;
		u->live_bytes -= eff.punch_len;
		ix->total_live--;
		/* Keep the last entry live so the file end is O(1) to find. */
		while (u->n > 0 && (u->e[u->n - 1].blocks & STINDEX_DEAD)) {
			u->n--;
			u->dead--;
		}
		if (u->dead >= COMPACT_MIN_DEAD && u->dead > u->live)
			user_compact(u);
		break;
	}
	case STINDEX_EMPTY:
		eff.punch_off = 0;
		eff.punch_len = stindex_user_end(u);
		ix->total_live -= u->live;
		user_clear(u);
		break;
	default:
		return -EBADMSG;
	}
	ix->seq = r->seq;
	*ret_eff = eff;
	return 0;
}

void stindex_rec_encode(uint8_t out[STINDEX_REC_PLAIN_BYTES], const struct stindex_rec *r)
{
	memset(out, 0, STINDEX_REC_PLAIN_BYTES);
	le64_store(out + 0, r->seq);
	le64_store(out + 8, r->batch);
	out[16] = r->kind;
	le16_store(out + 18, r->uid);
	le32_store(out + 20, r->id);
	le32_store(out + 24, r->blocks);
	le64_store(out + 32, r->offset);
}

int stindex_rec_decode(struct stindex_rec *ret, const uint8_t in[STINDEX_REC_PLAIN_BYTES])
{
	struct stindex_rec r = {
		.seq = le64_load(in + 0),
		.batch = le64_load(in + 8),
		.kind = in[16],
		.uid = le16_load(in + 18),
		.id = le32_load(in + 20),
		.blocks = le32_load(in + 24),
		.offset = le64_load(in + 32),
	};
	if (in[17] != 0 || le32_load(in + 28) != 0 || !rec_valid(&r))
		return -EINVAL;
	*ret = r;
	return 0;
}

void stindex_rec_seal(uint8_t out[STINDEX_REC_BYTES], const struct stindex_rec *r,
                      const uint8_t key[STINDEX_KEY_BYTES])
{
	uint8_t plain[STINDEX_REC_PLAIN_BYTES];
	stindex_rec_encode(plain, r);
	randombytes_buf(out, STINDEX_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + STINDEX_NONCE_BYTES, NULL, plain, sizeof(plain),
	                                           (const uint8_t *)STINDEX_REC_AD, 8, NULL, out, key);
	sodium_memzero(plain, sizeof(plain));
}

int stindex_rec_open(struct stindex_rec *ret, const uint8_t in[STINDEX_REC_BYTES],
                     const uint8_t key[STINDEX_KEY_BYTES])
{
	uint8_t plain[STINDEX_REC_PLAIN_BYTES];
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        plain, NULL, NULL, in + STINDEX_NONCE_BYTES, STINDEX_REC_PLAIN_BYTES + STINDEX_TAG_BYTES,
	        (const uint8_t *)STINDEX_REC_AD, 8, in, key) != 0)
		return -EBADMSG;
	int rc = stindex_rec_decode(ret, plain);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

void stindex_snapshot_encode(const struct stindex *ix, struct wr *out)
{
	size_t start = out->len;
	wr_u64(out, ix->seq);
	wr_u32(out, ix->users);
	wr_u32(out, 0);
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		const struct stindex_user *u = &ix->u[uid];
		if (!u->exists)
			continue;
		wr_u16(out, (uint16_t)uid);
		wr_u16(out, 0);
		wr_u32(out, u->next_id);
		wr_u32(out, u->live);
		wr_u32(out, 0);
		for (uint32_t i = 0; i < u->n; i++) {
			const struct stindex_entry *e = &u->e[i];
			if (e->blocks & STINDEX_DEAD)
				continue;
			wr_u32(out, e->id);
			wr_u32(out, e->blocks);
			wr_u64(out, e->offset);
		}
	}
	size_t len = out->len - start;
	wr_zero(out, (STINDEX_SNAP_PAD - len % STINDEX_SNAP_PAD) % STINDEX_SNAP_PAD);
}

int stindex_snapshot_decode(const uint8_t *p, size_t len, struct stindex **ret)
{
	if (len == 0 || len % STINDEX_SNAP_PAD != 0 || len > STINDEX_SNAP_PLAIN_MAX)
		return -EINVAL;
	struct rd r = rd_init(p, len);
	struct stindex *ix = stindex_new();
	ix->seq = rd_u64(&r);
	uint32_t users = rd_u32(&r);
	if (rd_u32(&r) != 0 || users > STINDEX_USERS)
		rd_fail(&r);
	long prev_uid = -1;
	for (uint32_t k = 0; k < users && !r.bad; k++) {
		uint16_t uid = rd_u16(&r);
		uint16_t zero16 = rd_u16(&r);
		uint32_t next_id = rd_u32(&r);
		uint32_t count = rd_u32(&r);
		uint32_t zero32 = rd_u32(&r);
		if (r.bad || uid >= STINDEX_USERS || (long)uid <= prev_uid || zero16 || zero32 ||
		    next_id == 0 || count > STINDEX_USER_MAX_ENTRIES ||
		    ix->total_live + count > STINDEX_TOTAL_MAX_ENTRIES ||
		    (uint64_t)count * STINDEX_SNAP_ENTRY > rd_left(&r)) {
			rd_fail(&r);
			break;
		}
		prev_uid = uid;
		struct stindex_user *u = &ix->u[uid];
		u->exists = true;
		u->next_id = next_id;
		if (count) {
			u->e = xmalloc((size_t)count * sizeof(*u->e));
			u->cap = count;
		}
		uint64_t end = 0;
		uint32_t prev_id = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t id = rd_u32(&r);
			uint32_t blocks = rd_u32(&r);
			uint64_t off = rd_u64(&r);
			if (id <= prev_id || id >= next_id || blocks < ENVELOPE_MIN_BLOCKS ||
			    blocks > ENVELOPE_MAX_BLOCKS || off % ENVELOPE_BLOCK != 0 || off < end ||
			    off > STINDEX_FILE_MAX - stindex_size(blocks)) {
				rd_fail(&r);
				break;
			}
			u->e[u->n++] = (struct stindex_entry){ .id = id, .blocks = blocks, .offset = off };
			prev_id = id;
			end = off + stindex_size(blocks);
			u->live++;
			u->live_bytes += stindex_size(blocks);
		}
		ix->users++;
		ix->total_live += u->live;
	}
	/* Padding: zeros up to the next multiple of STINDEX_SNAP_PAD, and no more. */
	if (!r.bad) {
		size_t used = r.pos;
		size_t padded = (used + STINDEX_SNAP_PAD - 1) / STINDEX_SNAP_PAD * STINDEX_SNAP_PAD;
		if (padded != len)
			rd_fail(&r);
		const uint8_t *pad = rd_take(&r, len - used);
		for (size_t i = 0; pad && i < len - used; i++)
			if (pad[i])
				rd_fail(&r);
	}
	if (!rd_done(&r)) {
		stindex_free(ix);
		return -EINVAL;
	}
	*ret = ix;
	return 0;
}

void stindex_snapshot_seal(const struct stindex *ix, const uint8_t key[STINDEX_KEY_BYTES],
                           struct wr *out)
{
	struct wr plain = WR_INIT;
	stindex_snapshot_encode(ix, &plain);
	size_t hdr_at = out->len;
	wr_bytes(out, STINDEX_SNAP_MAGIC, STINDEX_SNAP_HEADER_BYTES);
	uint8_t *nonce = wr_reserve(out, STINDEX_NONCE_BYTES);
	randombytes_buf(nonce, STINDEX_NONCE_BYTES);
	wr_reserve(out, plain.len + STINDEX_TAG_BYTES);
	/* wr_reserve may move the buffer: take the pointers afterwards. */
	uint8_t *hdr = out->p + hdr_at;
	crypto_aead_xchacha20poly1305_ietf_encrypt(hdr + STINDEX_SNAP_HEADER_BYTES + STINDEX_NONCE_BYTES,
	                                           NULL, plain.p, plain.len, hdr,
	                                           STINDEX_SNAP_HEADER_BYTES, NULL,
	                                           hdr + STINDEX_SNAP_HEADER_BYTES, key);
	wr_free(&plain);
}

int stindex_snapshot_open(const uint8_t *p, size_t len, const uint8_t key[STINDEX_KEY_BYTES],
                          struct stindex **ret)
{
	if (len > STINDEX_SNAP_MAX_BYTES)
		return -EFBIG;
	if (len < STINDEX_SNAP_OVERHEAD + STINDEX_SNAP_PAD ||
	    memcmp(p, STINDEX_SNAP_MAGIC, STINDEX_SNAP_HEADER_BYTES) != 0)
		return -EBADMSG;
	size_t plain_len = len - STINDEX_SNAP_OVERHEAD;
	uint8_t *plain = xmalloc(plain_len);
	int rc = -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        plain, NULL, NULL, p + STINDEX_SNAP_HEADER_BYTES + STINDEX_NONCE_BYTES,
	        len - STINDEX_SNAP_HEADER_BYTES - STINDEX_NONCE_BYTES, p, STINDEX_SNAP_HEADER_BYTES,
	        p + STINDEX_SNAP_HEADER_BYTES, key) == 0)
		rc = stindex_snapshot_decode(plain, plain_len, ret);
	sodium_memzero(plain, plain_len);
	free(plain);
	return rc;
}

int stindex_browse(const struct stindex_user *u, const struct stindex_query *q,
                   struct stindex_item *out, size_t *ret_n, bool *ret_more)
{
	if (q->max_count == 0 || q->max_bytes == 0)
		return -EINVAL;
	long step = q->oldest_first ? 1 : -1;
	long i;
	if (q->oldest_first)
		i = q->from_id == 0 ? 0
		    : (long)(q->inclusive ? lower_bound(u, q->from_id) : upper_bound(u, q->from_id));
	else
		i = q->from_id == 0 ? (long)u->n - 1
		    : (long)(q->inclusive ? upper_bound(u, q->from_id) : lower_bound(u, q->from_id)) - 1;
	size_t n = 0;
	uint64_t bytes = 0;
	bool more = false;
	for (; i >= 0 && i < (long)u->n; i += step) {
		const struct stindex_entry *e = &u->e[i];
		if (e->blocks & STINDEX_DEAD)
			continue;
		uint64_t size = stindex_size(e->blocks);
		if (n == q->max_count || (n > 0 && bytes + size > q->max_bytes)) {
			more = true;
			break;
		}
		out[n++] = (struct stindex_item){ .id = e->id, .blocks = e->blocks, .offset = e->offset };
		bytes += size;
	}
	*ret_n = n;
	*ret_more = more;
	return 0;
}

int stindex_check(const struct stindex *ix)
{
	uint32_t users = 0;
	uint64_t total = 0;
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		const struct stindex_user *u = &ix->u[uid];
		if (!u->exists) {
			if (u->n || u->live || u->dead || u->live_bytes)
				return -EINVAL;
			continue;
		}
		users++;
		if (u->next_id == 0 || u->n > u->cap || u->live > STINDEX_USER_MAX_ENTRIES)
			return -EINVAL;
		uint32_t live = 0, dead = 0, prev_id = 0;
		uint64_t bytes = 0, end = 0;
		for (uint32_t i = 0; i < u->n; i++) {
			const struct stindex_entry *e = &u->e[i];
			uint32_t b = e->blocks & ~STINDEX_DEAD;
			if (e->id <= prev_id || e->id >= u->next_id || b < ENVELOPE_MIN_BLOCKS ||
			    b > ENVELOPE_MAX_BLOCKS || e->offset % ENVELOPE_BLOCK || e->offset < end ||
			    e->offset > STINDEX_FILE_MAX - stindex_size(b))
				return -EINVAL;
			prev_id = e->id;
			end = e->offset + stindex_size(b);
			if (e->blocks & STINDEX_DEAD) {
				dead++;
			} else {
				live++;
				bytes += stindex_size(b);
			}
		}
		if (u->n && (u->e[u->n - 1].blocks & STINDEX_DEAD))
			return -EINVAL;
		if (live != u->live || dead != u->dead || bytes != u->live_bytes)
			return -EINVAL;
		total += live;
	}
	if (users != ix->users || total != ix->total_live || total > STINDEX_TOTAL_MAX_ENTRIES)
		return -EINVAL;
	return 0;
}
