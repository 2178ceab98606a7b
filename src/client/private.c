/* private.c: the private data field format (docs/PROTOCOL.md section 15.6). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/private.h"
#include "common/utf8.h"

bool private_text_safe(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0)
			return false;
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
		    cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
			return false;
		i += k;
	}
	return true;
}

bool private_entry_valid(const struct private_entry *e)
{
	enum addr32_kind kind = addr32_classify(e->addr);
	if (kind != ADDR32_NORMAL && kind != ADDR32_SHIELD)
		return false;
	if (e->text_len > PRIVATE_TEXT_MAX || e->nick_len > PRIVATE_NICK_MAX)
		return false;
	if (e->text_len) {
		for (size_t i = 0; i < e->text_len; i++)
			if ((unsigned char)e->text[i] < 0x21 || (unsigned char)e->text[i] > 0x7E)
				return false;
		uint8_t a[ADDR32_BYTES];
		if (addr32_parse(e->text, e->text_len, a) != kind || memcmp(a, e->addr, sizeof(a)))
			return false;
	}
	return private_text_safe((const uint8_t *)e->nick, e->nick_len);
}

static bool same_slot(const struct private_entry *a, const struct private_entry *b)
{
	bool sa = addr32_classify(a->addr) == ADDR32_SHIELD;
	bool sb = addr32_classify(b->addr) == ADDR32_SHIELD;
	return memcmp(a->addr, b->addr, ADDR32_BYTES) == 0 ||
	       (sa == sb && memcmp(a->hash, b->hash, ADDRHASH_BYTES) == 0);
}

static bool data_valid(const struct private_data *d)
{
	if (d->count > PRIVATE_ENTRIES_MAX)
		return false;
	for (size_t i = 0; i < d->count; i++) {
		if (!private_entry_valid(&d->e[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (same_slot(&d->e[i], &d->e[j]))
				return false;
	}
	return true;
}

int private_plain_encode(struct wr *w, const struct private_data *d)
{
	if (!data_valid(d))
		return -EINVAL;
	size_t start = w->len;
	wr_u8(w, d->count);
	wr_u8(w, 0);
	for (size_t i = 0; i < d->count; i++) {
		const struct private_entry *e = &d->e[i];
		wr_bytes(w, e->addr, ADDR32_BYTES);
		wr_bytes(w, e->hash, ADDRHASH_BYTES);
		wr_u8(w, e->text_len);
		wr_bytes(w, e->text, e->text_len);
		wr_u8(w, e->nick_len);
		wr_bytes(w, e->nick, e->nick_len);
	}
	size_t used = w->len - start;
	wr_zero(w, (PRIVATE_BLOCK - used % PRIVATE_BLOCK) % PRIVATE_BLOCK);
	return 0;
}

int private_plain_decode(struct private_data *ret, const uint8_t *p, size_t len)
{
	if (len == 0 || len % PRIVATE_BLOCK != 0 || len > PRIVATE_PLAIN_MAX)
		return -EBADMSG;
	struct private_data *d = xcalloc(1, sizeof(*d));
	struct rd r = rd_init(p, len);
	int rc = -EBADMSG;
	d->count = rd_u8(&r);
	if (rd_u8(&r) != 0 || d->count > PRIVATE_ENTRIES_MAX)
		goto out;
	for (size_t i = 0; i < d->count; i++) {
		struct private_entry *e = &d->e[i];
		rd_copy(&r, e->addr, ADDR32_BYTES);
		rd_copy(&r, e->hash, ADDRHASH_BYTES);
		e->text_len = rd_u8(&r);
		if (e->text_len > PRIVATE_TEXT_MAX)
			goto out;
		rd_copy(&r, e->text, e->text_len);
		e->nick_len = rd_u8(&r);
		if (e->nick_len > PRIVATE_NICK_MAX)
			goto out;
		rd_copy(&r, e->nick, e->nick_len);
		if (r.bad)
			goto out;
	}
	if (r.bad)
		goto out;
	/* The rest is padding: zero, and less than a block. */
	size_t used = r.pos;
	if (len - used >= PRIVATE_BLOCK)
		goto out;
	for (size_t i = used; i < len; i++)
		if (p[i])
			goto out;
	if (!data_valid(d))
		goto out;
	*ret = *d;
	rc = 0;
out:
	sodium_memzero(d, sizeof(*d));
	free(d);
	return rc;
}

static void ad(uint8_t out[sizeof(PRIVATE_LABEL)])
{
	memcpy(out, PRIVATE_LABEL, sizeof(PRIVATE_LABEL) - 1);
	out[sizeof(PRIVATE_LABEL) - 1] = PRIVATE_VERSION;
}

int private_seal_with_nonce(struct wr *w, const struct private_data *d,
                            const uint8_t pfk[PRIVATE_KEY_BYTES],
                            const uint8_t nonce[PRIVATE_NONCE_BYTES])
{
	struct wr plain = WR_INIT;
	int rc = private_plain_encode(&plain, d);
	if (rc != 0)
		return rc;
	uint8_t a[sizeof(PRIVATE_LABEL)];
	ad(a);
	wr_u8(w, PRIVATE_VERSION);
	wr_bytes(w, nonce, PRIVATE_NONCE_BYTES);
	uint8_t *ct = wr_reserve(w, plain.len + PRIVATE_TAG_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain.p, plain.len, a, sizeof(a),
	                                           NULL, nonce, pfk);
	wr_free(&plain);
	return 0;
}

int private_seal(struct wr *w, const struct private_data *d, const uint8_t pfk[PRIVATE_KEY_BYTES])
{
	uint8_t nonce[PRIVATE_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return private_seal_with_nonce(w, d, pfk, nonce);
}

int private_open(struct private_data *ret, const uint8_t *p, size_t len,
                 const uint8_t pfk[PRIVATE_KEY_BYTES])
{
	if (len == 0) {
		ret->count = 0;
		return 0;
	}
	if (len > PRIVATE_FIELD_MAX || len < PRIVATE_OVERHEAD + PRIVATE_BLOCK ||
	    (len - PRIVATE_OVERHEAD) % PRIVATE_BLOCK != 0 ||
	    len - PRIVATE_OVERHEAD > PRIVATE_PLAIN_MAX || p[0] != PRIVATE_VERSION)
		return -EBADMSG;
	size_t n = len - PRIVATE_OVERHEAD;
	uint8_t *plain = xmalloc(n);
	uint8_t a[sizeof(PRIVATE_LABEL)];
	ad(a);
	unsigned long long got = 0;
	int rc = -EACCES;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, p + 1 + PRIVATE_NONCE_BYTES,
	                                               n + PRIVATE_TAG_BYTES, a, sizeof(a), p + 1,
	                                               pfk) == 0 &&
	    got == n)
		rc = private_plain_decode(ret, plain, n);
	sodium_memzero(plain, n);
	free(plain);
	return rc;
}

int private_find_addr(const struct private_data *d, const uint8_t addr[ADDR32_BYTES])
{
	for (int i = 0; i < d->count; i++)
		if (memcmp(d->e[i].addr, addr, ADDR32_BYTES) == 0)
			return i;
	return -1;
}

int private_find_hash(const struct private_data *d, const uint8_t hash[ADDRHASH_BYTES],
                      bool shield)
{
	for (int i = 0; i < d->count; i++)
		if (memcmp(d->e[i].hash, hash, ADDRHASH_BYTES) == 0 &&
		    (addr32_classify(d->e[i].addr) == ADDR32_SHIELD) == shield)
			return i;
	return -1;
}

int private_find_nick(const struct private_data *d, const char *nick, size_t len)
{
	for (int i = 0; i < d->count; i++)
		if (len && d->e[i].nick_len == len && memcmp(d->e[i].nick, nick, len) == 0)
			return i;
	return -1;
}

int private_entry_make(struct private_entry *ret, const uint8_t addr[ADDR32_BYTES],
                       const uint8_t hash[ADDRHASH_BYTES], const char *text, size_t text_len,
                       const char *nick, size_t nick_len)
{
	struct private_entry e;
	memset(&e, 0, sizeof(e));
	if (text_len > PRIVATE_TEXT_MAX || nick_len > PRIVATE_NICK_MAX)
		return -EINVAL;
	memcpy(e.addr, addr, ADDR32_BYTES);
	memcpy(e.hash, hash, ADDRHASH_BYTES);
	e.text_len = (uint8_t)text_len;
	if (text_len)
		memcpy(e.text, text, text_len);
	e.nick_len = (uint8_t)nick_len;
	if (nick_len)
		memcpy(e.nick, nick, nick_len);
	if (!private_entry_valid(&e))
		return -EINVAL;
	*ret = e;
	return 0;
}

int private_put(struct private_data *d, const struct private_entry *e)
{
	if (!private_entry_valid(e))
		return -EINVAL;
	for (int i = 0; i < d->count; i++) {
		if (same_slot(&d->e[i], e)) {
			/* Replaces the entry of this address (or of this hash). */
			d->e[i] = *e;
			for (int j = d->count - 1; j > i; j--)
				if (same_slot(&d->e[j], e))
					private_remove(d, j);
			return 0;
		}
	}
	if (d->count >= PRIVATE_ENTRIES_MAX)
		return -EDQUOT;
	d->e[d->count++] = *e;
	return 0;
}

void private_remove(struct private_data *d, int idx)
{
	if (idx < 0 || idx >= d->count)
		return;
	memmove(&d->e[idx], &d->e[idx + 1], (size_t)(d->count - idx - 1) * sizeof(d->e[0]));
	d->count--;
	memset(&d->e[d->count], 0, sizeof(d->e[0]));
}
