/* upload.c: encrypted uploads (docs/PROTOCOL.md section 15.8). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/upload.h"

bool upload_name_valid(const char *name, size_t n)
{
	if (n == 0 || n > UPLOAD_NAME_MAX || memchr(name, '/', n))
		return false;
	if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return msg_text_valid((const uint8_t *)name, n, MSG_TEXT_LINE);
}

static void ad(uint8_t out[sizeof(UPLOAD_LABEL)])
{
	memcpy(out, UPLOAD_LABEL, sizeof(UPLOAD_LABEL) - 1);
	out[sizeof(UPLOAD_LABEL) - 1] = UPLOAD_VERSION;
}

int upload_seal_with_nonce(struct wr *w, const char *name, size_t name_len,
                           const uint8_t *content, size_t len,
                           const uint8_t ufk[UPLOAD_KEY_BYTES],
                           const uint8_t nonce[UPLOAD_NONCE_BYTES])
{
	if (!upload_name_valid(name, name_len))
		return -EINVAL;
	if (len > UPLOAD_CONTENT_MAX(name_len))
		return -EFBIG;
	size_t plen = 1 + name_len + len;
	uint8_t *plain = xmalloc(plen);
	plain[0] = (uint8_t)name_len;
	memcpy(plain + 1, name, name_len);
	if (len)
		memcpy(plain + 1 + name_len, content, len);
	uint8_t a[sizeof(UPLOAD_LABEL)];
	ad(a);
	wr_u8(w, UPLOAD_VERSION);
	wr_bytes(w, nonce, UPLOAD_NONCE_BYTES);
	uint8_t *ct = wr_reserve(w, plen + UPLOAD_TAG_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain, plen, a, sizeof(a), NULL, nonce,
	                                           ufk);
	sodium_memzero(plain, plen);
	free(plain);
	return 0;
}

int upload_seal(struct wr *w, const char *name, size_t name_len, const uint8_t *content,
                size_t len, const uint8_t ufk[UPLOAD_KEY_BYTES])
{
	uint8_t nonce[UPLOAD_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return upload_seal_with_nonce(w, name, name_len, content, len, ufk, nonce);
}

void upload_free(uint8_t *plain, size_t len)
{
	if (!plain)
		return;
	sodium_memzero(plain, len);
	free(plain);
}

int upload_open(const uint8_t *p, size_t len, const uint8_t ufk[UPLOAD_KEY_BYTES],
                uint8_t **ret_plain, size_t *ret_plain_len, struct msg_str *ret_name,
                struct msg_str *ret_content)
{
	if (len < UPLOAD_OVERHEAD + 2 || len > UPLOAD_DATA_MAX || p[0] != UPLOAD_VERSION)
		return -EBADMSG;
	size_t plen = len - UPLOAD_OVERHEAD;
	uint8_t *plain = xmalloc(plen);
	uint8_t a[sizeof(UPLOAD_LABEL)];
	ad(a);
	unsigned long long got = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, p + 1 + UPLOAD_NONCE_BYTES,
	                                               plen + UPLOAD_TAG_BYTES, a, sizeof(a), p + 1,
	                                               ufk) != 0 ||
	    got != plen) {
		upload_free(plain, plen);
		return -EACCES;
	}
	size_t nl = plain[0];
	if (nl + 1 > plen || !upload_name_valid((const char *)plain + 1, nl)) {
		upload_free(plain, plen);
		return -EBADMSG;
	}
	*ret_plain = plain;
	*ret_plain_len = plen;
	*ret_name = (struct msg_str){ plain + 1, nl };
	*ret_content = (struct msg_str){ plain + 1 + nl, plen - 1 - nl };
	return 0;
}
