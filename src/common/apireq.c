/* apireq.c: API request cryptography and codecs (docs/PROTOCOL.md sections 10.4
 * and 12). Every key is a keyed BLAKE2b-256 over a fixed label and the URL
 * bytes; every body is XChaCha20-Poly1305-IETF whose associated data binds
 * the URL, so a body never opens under another timestamp or UserID. */
#include "common/apireq.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"
#include "common/chanmsg.h"

_Static_assert(APIREQ_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(APIREQ_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(APIREQ_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(APIREQ_REGISTER_BODY_BYTES == 122, "registration body");
_Static_assert(APIREQ_UPLOAD_OVERHEAD == MSG_UPL_FIXED_BYTES + 1 + 1 + 4, "UplMsg overhead");
_Static_assert(APIREQ_BODY_MAX < SIZE_MAX / 2, "sizes");

#define AD_MAX 64 /* longest label (23) + invite id (16) + URL (10) */
#define B64_MAX 64

/* ---- base64url without padding, strict ---- */

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static void b64url_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Exactly the text the encoder writes for n bytes: the right length, only
 * alphabet characters (checked first: libsodium 1.0.18's decoder misreads
 * bytes >= 0x80), and zero unused bits (checked by encoding again). */
static int b64url_decode(uint8_t *out, size_t n, const char *text, size_t len)
{
	char again[B64_MAX];
	uint8_t tmp[B64_MAX];
	size_t bin_len = 0;
	const char *end = NULL;

	if (n > sizeof(tmp) ||
	    len + 1 != sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!b64url_char(text[i]))
			return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), text, len, NULL, &bin_len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != n || end != text + len)
		return -EINVAL;
	b64url_encode(again, sizeof(again), tmp, n);
	if (memcmp(again, text, len) != 0) {
		sodium_memzero(tmp, sizeof(tmp));
		return -EINVAL;
	}
	memcpy(out, tmp, n);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

/* ---- URL part ---- */

void apireq_url_pack(uint8_t out[APIREQ_URL_BYTES], uint64_t ts, uint16_t uid)
{
	le64_store(out, ts);
	le16_store(out + 8, uid);
}

void apireq_url_unpack(const uint8_t in[APIREQ_URL_BYTES], uint64_t *ret_ts, uint16_t *ret_uid)
{
	*ret_ts = le64_load(in);
	*ret_uid = le16_load(in + 8);
}

void apireq_url_to_text(char out[APIREQ_URL_TEXT_LEN + 1], uint64_t ts, uint16_t uid)
{
	uint8_t u[APIREQ_URL_BYTES];
	apireq_url_pack(u, ts, uid);
	b64url_encode(out, APIREQ_URL_TEXT_LEN + 1, u, sizeof(u));
}

int apireq_url_from_text(const char *text, size_t len, uint64_t *ret_ts, uint16_t *ret_uid)
{
	uint8_t u[APIREQ_URL_BYTES];
	if (len != APIREQ_URL_TEXT_LEN || b64url_decode(u, sizeof(u), text, len) < 0)
		return -EINVAL;
	apireq_url_unpack(u, ret_ts, ret_uid);
	return 0;
}

/* ---- keys ---- */

static void derive(uint8_t out[APIREQ_KEY_BYTES], const uint8_t key[APIREQ_KEY_BYTES],
                   const char *label, uint64_t ts, uint16_t uid)
{
	crypto_generichash_state st;
	uint8_t u[APIREQ_URL_BYTES];
	apireq_url_pack(u, ts, uid);
	crypto_generichash_init(&st, key, APIREQ_KEY_BYTES, APIREQ_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, u, sizeof(u));
	crypto_generichash_final(&st, out, APIREQ_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void apireq_keys(uint8_t k_req[APIREQ_KEY_BYTES], uint8_t k_resp[APIREQ_KEY_BYTES],
                 const uint8_t key[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid)
{
	if (k_req)
		derive(k_req, key, APIREQ_LABEL_REQ, ts, uid);
	if (k_resp)
		derive(k_resp, key, APIREQ_LABEL_RESP, ts, uid);
}

/* label || extra || ts || uid */
static size_t make_ad(uint8_t ad[AD_MAX], const char *label, const uint8_t *extra,
                      size_t extra_len, uint64_t ts, uint16_t uid)
{
	size_t n = strlen(label);
	memcpy(ad, label, n);
	if (extra_len)
		memcpy(ad + n, extra, extra_len);
	n += extra_len;
	apireq_url_pack(ad + n, ts, uid);
	return n + APIREQ_URL_BYTES;
}

/* ---- requests ---- */

size_t apireq_body_len(size_t args_len)
{
	return args_len > APIREQ_ARGS_MAX ? 0 : APIREQ_BODY_MIN + args_len;
}

int apireq_seal_with_nonce(uint8_t *out, size_t out_len, const uint8_t uak[APIREQ_KEY_BYTES],
                           uint64_t ts, uint16_t uid, uint8_t cmd, uint8_t flags,
                           const uint8_t *args, size_t args_len,
                           const uint8_t nonce[APIREQ_NONCE_BYTES])
{
	uint8_t k[APIREQ_KEY_BYTES], ad[AD_MAX];
	if (args_len > APIREQ_ARGS_MAX || out_len != apireq_body_len(args_len) ||
	    (args_len && !args))
		return -EINVAL;
	size_t ad_len = make_ad(ad, APIREQ_LABEL_AD, NULL, 0, ts, uid);
	uint8_t *m = out + APIREQ_NONCE_BYTES;
	if (args_len)
		memmove(m + APIREQ_PLAIN_HEADER, args, args_len);
	m[0] = cmd;
	m[1] = flags;
	memmove(out, nonce, APIREQ_NONCE_BYTES);
	derive(k, uak, APIREQ_LABEL_REQ, ts, uid);
	crypto_aead_xchacha20poly1305_ietf_encrypt(m, NULL, m, APIREQ_PLAIN_HEADER + args_len, ad,
	                                           ad_len, NULL, out, k);
	sodium_memzero(k, sizeof(k));
	return 0;
}

int apireq_seal(uint8_t *out, size_t out_len, const uint8_t uak[APIREQ_KEY_BYTES], uint64_t ts,
                uint16_t uid, uint8_t cmd, uint8_t flags, const uint8_t *args, size_t args_len)
{
	uint8_t nonce[APIREQ_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return apireq_seal_with_nonce(out, out_len, uak, ts, uid, cmd, flags, args, args_len, nonce);
}

int apireq_open(uint8_t *plain, size_t plain_cap, size_t *ret_len,
                const uint8_t uak[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid,
                const uint8_t *body, size_t body_len)
{
	uint8_t k[APIREQ_KEY_BYTES], ad[AD_MAX];
	if (body_len < APIREQ_BODY_MIN || body_len > APIREQ_BODY_MAX ||
	    plain_cap < body_len - APIREQ_OVERHEAD)
		return -EINVAL;
	size_t plen = body_len - APIREQ_OVERHEAD;
	size_t ad_len = make_ad(ad, APIREQ_LABEL_AD, NULL, 0, ts, uid);
	derive(k, uak, APIREQ_LABEL_REQ, ts, uid);
	int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
		plain, NULL, NULL, body + APIREQ_NONCE_BYTES, body_len - APIREQ_NONCE_BYTES, ad, ad_len,
		body, k);
	sodium_memzero(k, sizeof(k));
	if (rc != 0) {
		sodium_memzero(plain, plen);
		return -EBADMSG;
	}
	*ret_len = plen;
	return 0;
}

/* ---- responses ---- */

static size_t resp_plain_len(size_t data_len)
{
	size_t n = APIREQ_RESP_HEADER + data_len;
	return (n + APIREQ_RESP_BLOCK - 1) / APIREQ_RESP_BLOCK * APIREQ_RESP_BLOCK;
}

size_t apireq_response_len(size_t data_len)
{
	return data_len > APIREQ_RESP_DATA_MAX ? 0 : APIREQ_OVERHEAD + resp_plain_len(data_len);
}

int apireq_response_seal_with_nonce(uint8_t *out, size_t out_len,
                                    const uint8_t k_resp[APIREQ_KEY_BYTES], uint64_t ts,
                                    uint16_t uid, uint8_t status, const uint8_t *data,
                                    size_t data_len, const uint8_t nonce[APIREQ_NONCE_BYTES])
{
	uint8_t ad[AD_MAX];
	if (data_len > APIREQ_RESP_DATA_MAX || out_len != apireq_response_len(data_len) ||
	    (data_len && !data))
		return -EINVAL;
	size_t plen = resp_plain_len(data_len);
	size_t ad_len = make_ad(ad, APIREQ_LABEL_AD_RESP, NULL, 0, ts, uid);
	uint8_t *m = out + APIREQ_NONCE_BYTES;
	if (data_len)
		memmove(m + APIREQ_RESP_HEADER, data, data_len);
	m[0] = status;
	le32_store(m + 1, (uint32_t)data_len);
	memset(m + APIREQ_RESP_HEADER + data_len, 0, plen - APIREQ_RESP_HEADER - data_len);
	memmove(out, nonce, APIREQ_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(m, NULL, m, plen, ad, ad_len, NULL, out, k_resp);
	return 0;
}

int apireq_response_seal(uint8_t *out, size_t out_len, const uint8_t k_resp[APIREQ_KEY_BYTES],
                         uint64_t ts, uint16_t uid, uint8_t status, const uint8_t *data,
                         size_t data_len)
{
	uint8_t nonce[APIREQ_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return apireq_response_seal_with_nonce(out, out_len, k_resp, ts, uid, status, data, data_len,
	                                       nonce);
}

int apireq_response_open(uint8_t *plain, size_t plain_cap, const uint8_t k_resp[APIREQ_KEY_BYTES],
                         uint64_t ts, uint16_t uid, const uint8_t *body, size_t body_len,
                         uint8_t *ret_status, const uint8_t **ret_data, size_t *ret_data_len)
{
	uint8_t ad[AD_MAX];
	if (body_len < APIREQ_RESP_MIN || body_len > apireq_response_len(APIREQ_RESP_DATA_MAX) ||
	    (body_len - APIREQ_OVERHEAD) % APIREQ_RESP_BLOCK != 0 ||
	    plain_cap < body_len - APIREQ_OVERHEAD)
		return -EINVAL;
	size_t plen = body_len - APIREQ_OVERHEAD;
	size_t ad_len = make_ad(ad, APIREQ_LABEL_AD_RESP, NULL, 0, ts, uid);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, body + APIREQ_NONCE_BYTES,
	                                               body_len - APIREQ_NONCE_BYTES, ad, ad_len,
	                                               body, k_resp) != 0) {
		sodium_memzero(plain, plen);
		return -EBADMSG;
	}
	size_t n = le32_load(plain + 1);
	if (n > plen - APIREQ_RESP_HEADER || n > APIREQ_RESP_DATA_MAX || resp_plain_len(n) != plen ||
	    !sodium_is_zero(plain + APIREQ_RESP_HEADER + n, plen - APIREQ_RESP_HEADER - n)) {
		sodium_memzero(plain, plen);
		return -EBADMSG;
	}
	*ret_status = plain[0];
	*ret_data = plain + APIREQ_RESP_HEADER;
	*ret_data_len = n;
	return 0;
}

/* ---- invitations and registration ---- */

void apireq_invite_new(uint8_t invite[APIREQ_INVITE_BYTES])
{
	randombytes_buf(invite, APIREQ_INVITE_BYTES);
}

void apireq_invite_id(uint8_t id[APIREQ_INVITE_ID_BYTES], const uint8_t invite[APIREQ_INVITE_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, APIREQ_INVITE_ID_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)APIREQ_LABEL_INVITE_ID,
	                          strlen(APIREQ_LABEL_INVITE_ID));
	crypto_generichash_update(&st, invite, APIREQ_INVITE_BYTES);
	crypto_generichash_final(&st, id, APIREQ_INVITE_ID_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void apireq_invite_key(uint8_t k_inv[APIREQ_KEY_BYTES], const uint8_t invite[APIREQ_INVITE_BYTES])
{
	crypto_generichash(k_inv, APIREQ_KEY_BYTES, (const uint8_t *)APIREQ_LABEL_REGISTER,
	                   strlen(APIREQ_LABEL_REGISTER), invite, APIREQ_INVITE_BYTES);
}

void apireq_invite_to_text(char out[APIREQ_INVITE_TEXT_LEN + 1],
                           const uint8_t invite[APIREQ_INVITE_BYTES])
{
	b64url_encode(out, APIREQ_INVITE_TEXT_LEN + 1, invite, APIREQ_INVITE_BYTES);
}

int apireq_invite_from_text(uint8_t ret_invite[APIREQ_INVITE_BYTES], const char *text, size_t len)
{
	if (len != APIREQ_INVITE_TEXT_LEN)
		return -EINVAL;
	return b64url_decode(ret_invite, APIREQ_INVITE_BYTES, text, len);
}

static bool wanted_uid_ok(uint16_t u)
{
	return u <= APIREQ_UID_MAX || u == APIREQ_UID_REGISTER;
}

int apireq_register_seal_with_nonce(uint8_t out[APIREQ_REGISTER_BODY_BYTES],
                                    const uint8_t invite[APIREQ_INVITE_BYTES], uint64_t ts,
                                    uint16_t uid, uint16_t wanted_uid,
                                    const uint8_t uak[APIREQ_KEY_BYTES],
                                    const uint8_t epk[APIREQ_EPK_BYTES],
                                    const uint8_t nonce[APIREQ_NONCE_BYTES])
{
	uint8_t k[APIREQ_KEY_BYTES], ad[AD_MAX], m[APIREQ_REGISTER_PLAIN_BYTES];
	if (uid != APIREQ_UID_REGISTER || !wanted_uid_ok(wanted_uid) ||
	    sodium_is_zero(uak, APIREQ_KEY_BYTES))
		return -EINVAL;
	apireq_invite_id(out, invite);
	apireq_invite_key(k, invite);
	size_t ad_len = make_ad(ad, APIREQ_LABEL_REGISTER, out, APIREQ_INVITE_ID_BYTES, ts, uid);
	le16_store(m, wanted_uid);
	memcpy(m + 2, uak, APIREQ_KEY_BYTES);
	memcpy(m + 2 + APIREQ_KEY_BYTES, epk, APIREQ_EPK_BYTES);
	uint8_t *n = out + APIREQ_INVITE_ID_BYTES;
	memcpy(n, nonce, APIREQ_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(n + APIREQ_NONCE_BYTES, NULL, m, sizeof(m), ad,
	                                           ad_len, NULL, n, k);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(m, sizeof(m));
	return 0;
}

int apireq_register_seal(uint8_t out[APIREQ_REGISTER_BODY_BYTES],
                         const uint8_t invite[APIREQ_INVITE_BYTES], uint64_t ts, uint16_t uid,
                         uint16_t wanted_uid, const uint8_t uak[APIREQ_KEY_BYTES],
                         const uint8_t epk[APIREQ_EPK_BYTES])
{
	uint8_t nonce[APIREQ_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return apireq_register_seal_with_nonce(out, invite, ts, uid, wanted_uid, uak, epk, nonce);
}

int apireq_register_open(const uint8_t k_inv[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid,
                         const uint8_t *body, size_t body_len, uint16_t *ret_wanted_uid,
                         uint8_t ret_uak[APIREQ_KEY_BYTES], uint8_t ret_epk[APIREQ_EPK_BYTES])
{
	uint8_t ad[AD_MAX], m[APIREQ_REGISTER_PLAIN_BYTES];
	if (body_len != APIREQ_REGISTER_BODY_BYTES || uid != APIREQ_UID_REGISTER)
		return -EINVAL;
	size_t ad_len = make_ad(ad, APIREQ_LABEL_REGISTER, body, APIREQ_INVITE_ID_BYTES, ts, uid);
	const uint8_t *n = body + APIREQ_INVITE_ID_BYTES;
	int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
		m, NULL, NULL, n + APIREQ_NONCE_BYTES,
		APIREQ_REGISTER_PLAIN_BYTES + APIREQ_TAG_BYTES, ad, ad_len, n, k_inv);
	if (rc == 0 && (!wanted_uid_ok(le16_load(m)) || sodium_is_zero(m + 2, APIREQ_KEY_BYTES)))
		rc = -1;
	if (rc == 0) {
		*ret_wanted_uid = le16_load(m);
		memcpy(ret_uak, m + 2, APIREQ_KEY_BYTES);
		memcpy(ret_epk, m + 2 + APIREQ_KEY_BYTES, APIREQ_EPK_BYTES);
	}
	sodium_memzero(m, sizeof(m));
	return rc == 0 ? 0 : -EBADMSG;
}

/* ---- command arguments ---- */

int apireq_args_decode(struct apireq_args *ret, const uint8_t *plain, size_t len)
{
	struct apireq_args a;
	struct rd r = rd_init(plain, len);
	size_t n;

	memset(&a, 0, sizeof(a));
	a.cmd = rd_u8(&r);
	a.flags = rd_u8(&r);
	if (a.flags != 0)
		rd_fail(&r);
	switch (a.cmd) {
	case APIREQ_ACCOUNT_INFO:
	case APIREQ_ACCOUNT_DELETE:
	case APIREQ_PRIVATE_GET:
	case APIREQ_ADDRESS_ADD_SHIELD:
	case APIREQ_MSG_EMPTY:
	case APIREQ_ADMIN_LIST_USERS:
		break;
	case APIREQ_PRIVATE_SET:
		n = rd_left(&r);
		if (n > APIREQ_PRIVATE_MAX)
			rd_fail(&r);
		a.u.priv.len = n;
		a.u.priv.p = n ? rd_take(&r, n) : NULL;
		break;
	case APIREQ_ADDRESS_ADD_NORMAL:
		rd_copy(&r, a.u.addr.hash, ADDRHASH_BYTES);
		a.u.addr.kind = APIREQ_KIND_NORMAL;
		break;
	case APIREQ_ADDRESS_DELETE:
	case APIREQ_ADDRESS_SET_FLAGS:
		rd_copy(&r, a.u.addr.hash, ADDRHASH_BYTES);
		a.u.addr.kind = rd_u8(&r);
		if (a.u.addr.kind > APIREQ_KIND_SHIELD)
			rd_fail(&r);
		if (a.cmd == APIREQ_ADDRESS_SET_FLAGS) {
			a.u.addr.flags = rd_u8(&r);
			if (a.u.addr.flags & ~APIREQ_ADDR_FLAGS_USER)
				rd_fail(&r);
		}
		break;
	case APIREQ_MSG_BROWSE:
		a.u.browse.flags = rd_u8(&r);
		if ((a.u.browse.flags & ~APIREQ_BROWSE_FLAGS) || rd_u8(&r) != 0)
			rd_fail(&r);
		a.u.browse.from_id = rd_u32(&r);
		a.u.browse.max_bytes = rd_u32(&r);
		a.u.browse.max_count = rd_u32(&r);
		if (a.u.browse.max_bytes > APIREQ_BROWSE_MAX_BYTES ||
		    a.u.browse.max_count > APIREQ_BROWSE_MAX_COUNT)
			rd_fail(&r);
		break;
	case APIREQ_MSG_DELETE:
		a.u.del.id = rd_u32(&r);
		break;
	case APIREQ_MSG_UPLOAD:
		n = rd_u8(&r);
		if (n == 0)
			rd_fail(&r);
		a.u.upload.name.len = n;
		a.u.upload.name.p = rd_take(&r, n);
		n = rd_left(&r);
		if (n > MESSAGE_MAX_BYTES - APIREQ_UPLOAD_OVERHEAD - a.u.upload.name.len)
			rd_fail(&r);
		a.u.upload.data.len = n;
		a.u.upload.data.p = n ? rd_take(&r, n) : NULL;
		break;
	case APIREQ_MSG_SEND_INTERNAL:
		rd_copy(&r, a.u.send.from, ADDR32_BYTES);
		rd_copy(&r, a.u.send.to, ADDR32_BYTES);
		if (addr32_classify(a.u.send.from) == ADDR32_INVALID ||
		    addr32_classify(a.u.send.to) == ADDR32_INVALID)
			rd_fail(&r);
		n = rd_u8(&r);
		a.u.send.subject.len = n;
		a.u.send.subject.p = n ? rd_take(&r, n) : NULL;
		n = rd_u32(&r);
		if (n > MSG_BODY_MAX)
			rd_fail(&r);
		a.u.send.body.len = n;
		a.u.send.body.p = n ? rd_take(&r, n) : NULL;
		break;
	case APIREQ_ADMIN_SET_LEVEL:
	case APIREQ_ADMIN_DELETE_USER:
		a.u.user.uid = rd_u16(&r);
		if (a.u.user.uid > APIREQ_UID_MAX)
			rd_fail(&r);
		if (a.cmd == APIREQ_ADMIN_SET_LEVEL) {
			a.u.user.level = rd_u8(&r);
			if (a.u.user.level >= APIREQ_LEVELS)
				rd_fail(&r);
		}
		break;
	case APIREQ_ADMIN_SET_LIMITS:
		a.u.limits.level = rd_u8(&r);
		a.u.limits.max_normal = rd_u8(&r);
		a.u.limits.max_shield = rd_u8(&r);
		if (rd_u8(&r) != 0 || a.u.limits.level >= APIREQ_LEVELS ||
		    a.u.limits.max_normal > APIREQ_ADDR_MAX || a.u.limits.max_shield > APIREQ_ADDR_MAX)
			rd_fail(&r);
		a.u.limits.storage_mib = rd_u32(&r);
		if (a.u.limits.storage_mib > APIREQ_STORAGE_MIB_MAX)
			rd_fail(&r);
		break;
	case APIREQ_ADMIN_INVITE:
		a.u.invite.level = rd_u8(&r);
		if (a.u.invite.level >= APIREQ_LEVELS || rd_u8(&r) != 0 || rd_u16(&r) != 0)
			rd_fail(&r);
		a.u.invite.lifetime_s = rd_u32(&r);
		if (a.u.invite.lifetime_s < APIREQ_INVITE_LIFETIME_MIN_S ||
		    a.u.invite.lifetime_s > APIREQ_INVITE_LIFETIME_MAX_S)
			rd_fail(&r);
		break;
	default:
		rd_fail(&r);
		break;
	}
	if (!rd_done(&r))
		return -EBADMSG;
	*ret = a;
	return 0;
}

static void wr_str(struct wr *w, const struct msg_str *s)
{
	if (s->len)
		wr_bytes(w, s->p, s->len);
}

int apireq_args_encode(struct wr *w, const struct apireq_args *a)
{
	struct wr t = WR_INIT;
	struct apireq_args check;
	int rc = 0;

	wr_u8(&t, a->cmd);
	wr_u8(&t, a->flags);
	switch (a->cmd) {
	case APIREQ_PRIVATE_SET:
		if (a->u.priv.len > APIREQ_PRIVATE_MAX)
			rc = -EINVAL;
		else if (a->u.priv.len)
			wr_bytes(&t, a->u.priv.p, a->u.priv.len);
		break;
	case APIREQ_ADDRESS_ADD_NORMAL:
		wr_bytes(&t, a->u.addr.hash, ADDRHASH_BYTES);
		break;
	case APIREQ_ADDRESS_DELETE:
	case APIREQ_ADDRESS_SET_FLAGS:
		wr_bytes(&t, a->u.addr.hash, ADDRHASH_BYTES);
		wr_u8(&t, a->u.addr.kind);
		if (a->cmd == APIREQ_ADDRESS_SET_FLAGS)
			wr_u8(&t, a->u.addr.flags);
		break;
	case APIREQ_MSG_BROWSE:
		wr_u8(&t, a->u.browse.flags);
		wr_u8(&t, 0);
		wr_u32(&t, a->u.browse.from_id);
		wr_u32(&t, a->u.browse.max_bytes);
		wr_u32(&t, a->u.browse.max_count);
		break;
	case APIREQ_MSG_DELETE:
		wr_u32(&t, a->u.del.id);
		break;
	case APIREQ_MSG_UPLOAD:
		if (a->u.upload.name.len > UINT8_MAX || a->u.upload.data.len > APIREQ_ARGS_MAX) {
			rc = -EINVAL;
			break;
		}
		wr_u8(&t, (uint8_t)a->u.upload.name.len);
		wr_str(&t, &a->u.upload.name);
		wr_str(&t, &a->u.upload.data);
		break;
	case APIREQ_MSG_SEND_INTERNAL:
		if (a->u.send.subject.len > UINT8_MAX || a->u.send.body.len > MSG_BODY_MAX) {
			rc = -EINVAL;
			break;
		}
		wr_bytes(&t, a->u.send.from, ADDR32_BYTES);
		wr_bytes(&t, a->u.send.to, ADDR32_BYTES);
		wr_u8(&t, (uint8_t)a->u.send.subject.len);
		wr_str(&t, &a->u.send.subject);
		wr_u32(&t, (uint32_t)a->u.send.body.len);
		wr_str(&t, &a->u.send.body);
		break;
	case APIREQ_ADMIN_SET_LEVEL:
	case APIREQ_ADMIN_DELETE_USER:
		wr_u16(&t, a->u.user.uid);
		if (a->cmd == APIREQ_ADMIN_SET_LEVEL)
			wr_u8(&t, a->u.user.level);
		break;
	case APIREQ_ADMIN_SET_LIMITS:
		wr_u8(&t, a->u.limits.level);
		wr_u8(&t, a->u.limits.max_normal);
		wr_u8(&t, a->u.limits.max_shield);
		wr_u8(&t, 0);
		wr_u32(&t, a->u.limits.storage_mib);
		break;
	case APIREQ_ADMIN_INVITE:
		wr_u8(&t, a->u.invite.level);
		wr_zero(&t, 3);
		wr_u32(&t, a->u.invite.lifetime_s);
		break;
	default:
		break; /* no arguments, or unknown: the decoder below judges */
	}
	/* One set of rules: what the decoder refuses is never written. */
	if (rc == 0 && apireq_args_decode(&check, t.p, t.len) < 0)
		rc = -EINVAL;
	if (rc == 0)
		wr_bytes(w, t.p, t.len);
	wr_free(&t);
	return rc;
}

/* ---- ACC_API channel message ---- */

int apireq_chan_req_decode(struct apireq_chan_req *ret, const uint8_t *p, size_t len,
                           const uint8_t *bulk, size_t bulk_len, bool has_bulk)
{
	struct apireq_chan_req q;
	if (len < APIREQ_CHAN_REQ_BYTES || (has_bulk && len != APIREQ_CHAN_REQ_BYTES))
		return -EBADMSG;
	q.ts = le64_load(p);
	q.uid = le16_load(p + 8);
	q.kind = p[10];
	if (p[11] != 0)
		return -EBADMSG;
	q.body = has_bulk ? bulk : p + APIREQ_CHAN_REQ_BYTES;
	q.body_len = has_bulk ? bulk_len : len - APIREQ_CHAN_REQ_BYTES;
	switch (q.kind) {
	case APIREQ_KIND_USER:
		if (q.uid > APIREQ_UID_MAX || q.body_len < APIREQ_BODY_MIN ||
		    q.body_len > APIREQ_BODY_MAX)
			return -EBADMSG;
		break;
	case APIREQ_KIND_REGISTER:
		if (q.uid != APIREQ_UID_REGISTER || q.body_len != APIREQ_REGISTER_BODY_BYTES)
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	*ret = q;
	return 0;
}

int apireq_chan_req_encode(struct wr *w, const struct apireq_chan_req *r, bool body_in_memfd)
{
	struct apireq_chan_req check;
	uint8_t fixed[APIREQ_CHAN_REQ_BYTES];
	le64_store(fixed, r->ts);
	le16_store(fixed + 8, r->uid);
	fixed[10] = r->kind;
	fixed[11] = 0;
	if (apireq_chan_req_decode(&check, fixed, sizeof(fixed), r->body, r->body_len, true) < 0)
		return -EINVAL;
	wr_bytes(w, fixed, sizeof(fixed));
	if (!body_in_memfd)
		wr_bytes(w, r->body, r->body_len);
	return 0;
}

int apireq_chan_answer_decode(struct apireq_chan_answer *ret, const uint8_t *p, size_t len,
                              const uint8_t *bulk, size_t bulk_len, bool has_bulk)
{
	struct apireq_chan_answer a;
	struct rd r = rd_init(p, len);

	memset(&a, 0, sizeof(a));
	a.status = rd_u8(&r);
	a.cmd = rd_u8(&r);
	a.disp = rd_u8(&r);
	if (rd_u8(&r) != 0)
		rd_fail(&r);
	rd_copy(&r, a.key, APIREQ_KEY_BYTES);
	if (r.bad)
		return -EBADMSG;
	if (a.status != CHST_OK) {
		/* Failures carry nothing but the key. */
		if (a.disp != APIREQ_DISP_REPLY || has_bulk || rd_left(&r) != 0)
			return -EBADMSG;
	} else if (a.disp == APIREQ_DISP_REPLY) {
		if (has_bulk && rd_left(&r) != 0)
			return -EBADMSG;
		a.data_len = has_bulk ? bulk_len : rd_left(&r);
		a.data = has_bulk ? bulk : rd_take(&r, a.data_len);
		if (a.data_len > APIREQ_RESP_DATA_MAX)
			return -EBADMSG;
	} else if (a.disp == APIREQ_DISP_FORWARD) {
		a.sto_type = rd_u16(&r);
		a.sto_args_len = rd_u8(&r);
		if (rd_u8(&r) != 0 || a.sto_type == 0 || a.sto_args_len > APIREQ_STO_ARGS_MAX ||
		    has_bulk != (a.sto_type == STO_STORE))
			return -EBADMSG; /* before the copy: the length is not trusted */
		rd_copy(&r, a.sto_args, a.sto_args_len);
		if (has_bulk) {
			a.data = bulk;
			a.data_len = bulk_len;
		}
	} else {
		return -EBADMSG;
	}
	if (!rd_done(&r))
		return -EBADMSG;
	*ret = a;
	return 0;
}

int apireq_chan_answer_encode(struct wr *w, const struct apireq_chan_answer *a, bool data_in_memfd)
{
	struct apireq_chan_answer check;
	struct wr t = WR_INIT;
	wr_u8(&t, a->status);
	wr_u8(&t, a->cmd);
	wr_u8(&t, a->disp);
	wr_u8(&t, 0);
	wr_bytes(&t, a->key, APIREQ_KEY_BYTES);
	if (a->status == CHST_OK && a->disp == APIREQ_DISP_FORWARD) {
		wr_u16(&t, a->sto_type);
		wr_u8(&t, a->sto_args_len <= APIREQ_STO_ARGS_MAX ? (uint8_t)a->sto_args_len : 0xFF);
		wr_u8(&t, 0);
		if (a->sto_args_len <= APIREQ_STO_ARGS_MAX)
			wr_bytes(&t, a->sto_args, a->sto_args_len);
	} else if (a->status == CHST_OK && !data_in_memfd && a->data_len) {
		wr_bytes(&t, a->data, a->data_len);
	}
	bool bulk = data_in_memfd && a->status == CHST_OK;
	int rc = apireq_chan_answer_decode(&check, t.p, t.len, a->data, a->data_len, bulk);
	if (rc == 0)
		wr_bytes(w, t.p, t.len);
	wr_free(&t);
	return rc == 0 ? 0 : -EINVAL;
}
