/* buf.c: bounded reader and growable writer (see buf.h). */
#include "common/buf.h"

#include <sodium.h>
#include <string.h>

#include "common/bytes.h"
#include "common/util.h"

const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = rd_take(r, 1);
	return p ? p[0] : 0;
}

uint16_t rd_u16(struct rd *r)
{
	const uint8_t *p = rd_take(r, 2);
	return p ? le16_load(p) : 0;
}

uint32_t rd_u32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);
	return p ? le32_load(p) : 0;
}

uint64_t rd_u64(struct rd *r)
{
	const uint8_t *p = rd_take(r, 8);
	return p ? le64_load(p) : 0;
}

void rd_copy(struct rd *r, void *out, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

uint8_t *wr_reserve(struct wr *w, size_t n)
{
	if (n > SIZE_MAX - w->len)
		fatalx("wr_reserve overflow");
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
		/* Grow by copy so the old buffer can be wiped, not left in the heap. */
		uint8_t *q = xmalloc(cap);
		if (w->len)
			memcpy(q, w->p, w->len);
		if (w->p) {
			sodium_memzero(w->p, w->cap);
			free(w->p);
		}
		w->p = q;
		w->cap = cap;
	}
	uint8_t *at = w->p + w->len;
	w->len += n;
	return at;
}

void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (n)
		memcpy(wr_reserve(w, n), p, n);
}

void wr_u8(struct wr *w, uint8_t v) { *wr_reserve(w, 1) = v; }
void wr_u16(struct wr *w, uint16_t v) { le16_store(wr_reserve(w, 2), v); }
void wr_u32(struct wr *w, uint32_t v) { le32_store(wr_reserve(w, 4), v); }
void wr_u64(struct wr *w, uint64_t v) { le64_store(wr_reserve(w, 8), v); }
void wr_zero(struct wr *w, size_t n)
{
	if (n)
		memset(wr_reserve(w, n), 0, n);
}

void wr_free(struct wr *w)
{
	if (w->p) {
		sodium_memzero(w->p, w->cap);
		free(w->p);
	}
	*w = (struct wr)WR_INIT;
}
