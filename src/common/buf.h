/* buf.h: bounded reader and growable writer for the binary formats in
 * docs/PROTOCOL.md. A reader never reads past its end: the first short read
 * sets `bad` and every later read returns zeros, so a decoder checks once, at
 * the end, with rd_done() (which also rejects trailing bytes). */
#ifndef ALLEARS_BUF_H
#define ALLEARS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool bad;
};

static inline struct rd rd_init(const void *p, size_t len)
{
	return (struct rd){ .p = p, .len = len, .pos = 0, .bad = false };
}
static inline size_t rd_left(const struct rd *r) { return r->bad ? 0 : r->len - r->pos; }

/* Returns a pointer to the next n bytes and advances, or NULL (and sets bad). */
const uint8_t *rd_take(struct rd *r, size_t n);
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/* Copies n bytes into out (zero-fills out on failure). */
void rd_copy(struct rd *r, void *out, size_t n);
/* True when every read succeeded and nothing is left over. */
static inline bool rd_done(const struct rd *r) { return !r->bad && r->pos == r->len; }
/* Marks the reader bad (for out-of-range values found by the caller). */
static inline void rd_fail(struct rd *r) { r->bad = true; }

struct wr {
	uint8_t *p;
	size_t len;
	size_t cap;
};

#define WR_INIT { NULL, 0, 0 }
/* Appending never fails (allocation failure is fatal). */
uint8_t *wr_reserve(struct wr *w, size_t n);
void wr_bytes(struct wr *w, const void *p, size_t n);
void wr_u8(struct wr *w, uint8_t v);
void wr_u16(struct wr *w, uint16_t v);
void wr_u32(struct wr *w, uint32_t v);
void wr_u64(struct wr *w, uint64_t v);
void wr_zero(struct wr *w, size_t n);
/* Releases the buffer, wiping it first (it may have held plaintext). */
void wr_free(struct wr *w);

#endif
