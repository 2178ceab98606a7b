/* channel.c: HELLO/ACK handshake, direction keys and data frames of the
 * channel between roles (see channel.h; wire format in docs/PROTOCOL.md
 * section 7). */
#include "ipc/channel.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/bytes.h"
#include "ipc/memfd.h"
#include "ipc/sock.h"

#define CHAN_HS_BODY_BYTES (4 + CHAN_NONCE_BYTES) /* what the handshake tag covers first */
#define CHAN_AEAD_NONCE_BYTES crypto_aead_chacha20poly1305_ietf_NPUBBYTES

_Static_assert(CHAN_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(CHAN_TAG_BYTES == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CHAN_AEAD_NONCE_BYTES == 12, "nonce size");
_Static_assert(sizeof(CHAN_LABEL_C2S) - 1 == CHAN_LABEL_BYTES, "label size");
_Static_assert(sizeof(CHAN_LABEL_S2C) - 1 == CHAN_LABEL_BYTES, "label size");
_Static_assert(CHAN_PAYLOAD_MAX <= UINT32_MAX, "payload length field");

static struct chan_secrets *secrets_new(void)
{
	struct chan_secrets *sec = sodium_malloc(sizeof(*sec));
	if (!sec)
		fatal("sodium_malloc");
	memset(sec, 0, sizeof(*sec));
	return sec;
}

void chan_session_clear(struct chan_session *s)
{
	if (s->sec)
		sodium_free(s->sec); /* wipes, even when read-only */
	memset(s, 0, sizeof(*s));
}

/* The sticky error state: the keys go at once, only the state remains. */
static int session_kill(struct chan_session *s, int err)
{
	chan_session_clear(s);
	s->state = CHAN_DEAD;
	return err;
}

/* BLAKE2b-256 keyed with the pair key over a || b || c. */
static void keyed_hash(uint8_t out[32], const uint8_t key[CHAN_KEY_BYTES], const uint8_t *a,
                       size_t alen, const uint8_t *b, size_t blen, const uint8_t *c, size_t clen)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, CHAN_KEY_BYTES, 32);
	crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	if (clen)
		crypto_generichash_update(&st, c, clen);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

/* Direction keys from the pair key and both nonces; then the pair key copy
 * and the client nonce are wiped and the secrets made read-only. */
static void derive_keys(struct chan_session *s, const uint8_t cn[CHAN_NONCE_BYTES],
                        const uint8_t sn[CHAN_NONCE_BYTES])
{
	struct chan_secrets *sec = s->sec;
	uint8_t *c2s = s->server ? sec->k_recv : sec->k_send;
	uint8_t *s2c = s->server ? sec->k_send : sec->k_recv;
	keyed_hash(c2s, sec->pair_key, (const uint8_t *)CHAN_LABEL_C2S, CHAN_LABEL_BYTES, cn,
	           CHAN_NONCE_BYTES, sn, CHAN_NONCE_BYTES);
	keyed_hash(s2c, sec->pair_key, (const uint8_t *)CHAN_LABEL_S2C, CHAN_LABEL_BYTES, cn,
	           CHAN_NONCE_BYTES, sn, CHAN_NONCE_BYTES);
	sodium_memzero(sec->pair_key, sizeof(sec->pair_key));
	sodium_memzero(sec->client_nonce, sizeof(sec->client_nonce));
	sodium_mprotect_readonly(sec);
	s->send_ctr = 0;
	s->recv_ctr = 0;
	s->state = CHAN_ESTABLISHED;
}

int chan_client_hello_with_nonce(struct chan_session *s, uint8_t out[CHAN_HELLO_BYTES],
                                 enum role me, enum role server,
                                 const uint8_t pair_key[CHAN_KEY_BYTES],
                                 const uint8_t nonce[CHAN_NONCE_BYTES])
{
	chan_session_clear(s);
	if (!role_channel_allowed(me, server))
		return session_kill(s, -EPERM);
	s->sec = secrets_new();
	memcpy(s->sec->pair_key, pair_key, CHAN_KEY_BYTES);
	memcpy(s->sec->client_nonce, nonce, CHAN_NONCE_BYTES);
	out[0] = CHAN_VERSION;
	out[1] = CHAN_KIND_HELLO;
	out[2] = (uint8_t)me;
	out[3] = (uint8_t)server;
	memcpy(out + 4, nonce, CHAN_NONCE_BYTES);
	keyed_hash(out + CHAN_HS_BODY_BYTES, pair_key, out, CHAN_HS_BODY_BYTES, NULL, 0, NULL, 0);
	s->me = me;
	s->peer = server;
	s->server = false;
	s->state = CHAN_CLIENT_WAIT_ACK;
	return 0;
}

int chan_client_hello(struct chan_session *s, uint8_t out[CHAN_HELLO_BYTES], enum role me,
                      enum role server, const uint8_t pair_key[CHAN_KEY_BYTES])
{
	uint8_t nonce[CHAN_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return chan_client_hello_with_nonce(s, out, me, server, pair_key, nonce);
}

int chan_server_accept_with_nonce(struct chan_session *s, uint8_t ack_out[CHAN_ACK_BYTES],
                                  const uint8_t *hello, size_t len, enum role me,
                                  chan_key_lookup_fn key_lookup, void *ctx,
                                  const uint8_t nonce[CHAN_NONCE_BYTES],
                                  enum role *ret_client)
{
	chan_session_clear(s);
	struct rd r = rd_init(hello, len);
	uint8_t version = rd_u8(&r);
	uint8_t kind = rd_u8(&r);
	uint8_t client = rd_u8(&r);
	uint8_t server = rd_u8(&r);
	uint8_t cn[CHAN_NONCE_BYTES]; /* a copy: ack_out may be the HELLO's buffer */
	rd_copy(&r, cn, CHAN_NONCE_BYTES);
	const uint8_t *tag = rd_take(&r, CHAN_HS_TAG_BYTES);
	if (!rd_done(&r) || version != CHAN_VERSION || kind != CHAN_KIND_HELLO || server != me)
		return session_kill(s, -EBADMSG);
	if (!role_channel_allowed((enum role)client, me))
		return session_kill(s, -EPERM);

	s->sec = secrets_new();
	if (key_lookup((enum role)client, s->sec->pair_key, ctx) < 0)
		return session_kill(s, -ENOKEY);
	uint8_t expect[CHAN_HS_TAG_BYTES];
	keyed_hash(expect, s->sec->pair_key, hello, CHAN_HS_BODY_BYTES, NULL, 0, NULL, 0);
	int bad = crypto_verify_32(expect, tag);
	sodium_memzero(expect, sizeof(expect));
	if (bad)
		return session_kill(s, -EBADMSG);

	ack_out[0] = CHAN_VERSION;
	ack_out[1] = CHAN_KIND_ACK;
	ack_out[2] = (uint8_t)me;
	ack_out[3] = client;
	memcpy(ack_out + 4, nonce, CHAN_NONCE_BYTES);
	/* The client nonce in the tag proves the ACK answers this HELLO. */
	keyed_hash(ack_out + CHAN_HS_BODY_BYTES, s->sec->pair_key, ack_out, CHAN_HS_BODY_BYTES, cn,
	           CHAN_NONCE_BYTES, NULL, 0);
	s->me = me;
	s->peer = (enum role)client;
	s->server = true;
	derive_keys(s, cn, nonce);
	*ret_client = (enum role)client;
	return 0;
}

int chan_server_accept(struct chan_session *s, uint8_t ack_out[CHAN_ACK_BYTES],
                       const uint8_t *hello, size_t len, enum role me,
                       chan_key_lookup_fn key_lookup, void *ctx, enum role *ret_client)
{
	uint8_t nonce[CHAN_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	return chan_server_accept_with_nonce(s, ack_out, hello, len, me, key_lookup, ctx, nonce,
	                                     ret_client);
}

int chan_client_finish(struct chan_session *s, const uint8_t *ack, size_t len)
{
	if (s->state != CHAN_CLIENT_WAIT_ACK || !s->sec)
		return session_kill(s, -EPIPE);
	struct rd r = rd_init(ack, len);
	uint8_t version = rd_u8(&r);
	uint8_t kind = rd_u8(&r);
	uint8_t server = rd_u8(&r);
	uint8_t client = rd_u8(&r);
	const uint8_t *sn = rd_take(&r, CHAN_NONCE_BYTES);
	const uint8_t *tag = rd_take(&r, CHAN_HS_TAG_BYTES);
	if (!rd_done(&r) || version != CHAN_VERSION || kind != CHAN_KIND_ACK ||
	    server != s->peer || client != s->me)
		return session_kill(s, -EBADMSG);
	uint8_t expect[CHAN_HS_TAG_BYTES];
	keyed_hash(expect, s->sec->pair_key, ack, CHAN_HS_BODY_BYTES, s->sec->client_nonce,
	           CHAN_NONCE_BYTES, NULL, 0);
	int bad = crypto_verify_32(expect, tag);
	sodium_memzero(expect, sizeof(expect));
	if (bad)
		return session_kill(s, -EBADMSG);
	uint8_t cn[CHAN_NONCE_BYTES];
	memcpy(cn, s->sec->client_nonce, sizeof(cn));
	derive_keys(s, cn, sn);
	return 0;
}

static void aead_nonce(uint8_t n[CHAN_AEAD_NONCE_BYTES], uint64_t ctr)
{
	le64_store(n, ctr);
	memset(n + 8, 0, CHAN_AEAD_NONCE_BYTES - 8);
}

int chan_seal(struct chan_session *s, uint8_t *out, size_t out_cap, size_t *ret_len,
              uint16_t type, uint8_t flags, const uint8_t *payload, size_t len)
{
	static const uint8_t empty[1];
	if (s->state != CHAN_ESTABLISHED)
		return -EPIPE;
	if (type == 0 || (flags & ~CHAN_FLAGS_KNOWN) || (len > 0 && !payload))
		return -EINVAL;
	if ((flags & CHAN_FLAG_FD) && len < CHAN_BULK_LEN_BYTES)
		return -EINVAL;
	if (len > CHAN_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (out_cap < len + CHAN_OVERHEAD)
		return -ENOBUFS;
	/* The last counter value is never used, so the nonce can never repeat. */
	if (s->send_ctr == UINT64_MAX)
		return -EOVERFLOW;

	out[0] = CHAN_VERSION;
	out[1] = flags;
	le16_store(out + 2, type);
	le32_store(out + 4, (uint32_t)len);
	le64_store(out + 8, s->send_ctr);
	uint8_t nonce[CHAN_AEAD_NONCE_BYTES];
	aead_nonce(nonce, s->send_ctr);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		out + CHAN_HEADER_BYTES, out + CHAN_HEADER_BYTES + len, NULL, len ? payload : empty,
		len, out, CHAN_HEADER_BYTES, NULL, nonce, s->sec->k_send);
	s->send_ctr++;
	*ret_len = len + CHAN_OVERHEAD;
	return 0;
}

int chan_open(struct chan_session *s, uint8_t *out_payload, size_t cap, size_t *ret_len,
              uint16_t *ret_type, uint8_t *ret_flags, const uint8_t *frame, size_t len)
{
	uint8_t scratch[1];
	if (s->state != CHAN_ESTABLISHED)
		return session_kill(s, -EPIPE);
	if (len < CHAN_OVERHEAD || len > CHAN_FRAME_MAX)
		return session_kill(s, -EBADMSG);
	struct rd r = rd_init(frame, CHAN_HEADER_BYTES);
	uint8_t version = rd_u8(&r);
	uint8_t flags = rd_u8(&r);
	uint16_t type = rd_u16(&r);
	uint32_t plen = rd_u32(&r);
	uint64_t ctr = rd_u64(&r);
	if (!rd_done(&r) || version != CHAN_VERSION || (flags & ~CHAN_FLAGS_KNOWN) || type == 0 ||
	    plen != len - CHAN_OVERHEAD)
		return session_kill(s, -EBADMSG);
	if ((flags & CHAN_FLAG_FD) && plen < CHAN_BULK_LEN_BYTES)
		return session_kill(s, -EBADMSG);
	/* Exactly the next counter: a replayed, reordered or dropped frame ends the session. */
	if (ctr != s->recv_ctr || ctr == UINT64_MAX)
		return session_kill(s, -EBADMSG);
	if (plen > cap)
		return session_kill(s, -ENOBUFS);
	uint8_t nonce[CHAN_AEAD_NONCE_BYTES];
	aead_nonce(nonce, ctr);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    plen ? out_payload : scratch, NULL, frame + CHAN_HEADER_BYTES, plen,
		    frame + CHAN_HEADER_BYTES + plen, frame, CHAN_HEADER_BYTES, nonce,
		    s->sec->k_recv) != 0)
		return session_kill(s, -EBADMSG);
	s->recv_ctr++;
	*ret_len = plen;
	*ret_type = type;
	*ret_flags = flags;
	return 0;
}

/* The sender-side check of an fd frame: the memfd is sealed and its size is
 * the u64 the payload starts with, as the receiver will require. */
static int bulk_check(int fd, const uint8_t *payload, size_t len)
{
	struct stat st;
	if (len < CHAN_BULK_LEN_BYTES || memfd_check_sealed(fd) < 0 || fstat(fd, &st) < 0)
		return -EINVAL;
	if (st.st_size < 0 || (uint64_t)st.st_size != le64_load(payload))
		return -EINVAL;
	return 0;
}

int chan_send(struct chan_session *s, int sock, uint16_t type, const uint8_t *payload,
              size_t len, int fd)
{
	if (s->state != CHAN_ESTABLISHED)
		return -EPIPE;
	if (fd >= 0 && (!payload || bulk_check(fd, payload, len) < 0))
		return -EINVAL;
	if (len > CHAN_PAYLOAD_MAX)
		return -EMSGSIZE;
	size_t cap = len + CHAN_OVERHEAD, n;
	uint8_t *frame = xmalloc(cap);
	int r = chan_seal(s, frame, cap, &n, type, fd >= 0 ? CHAN_FLAG_FD : 0, payload, len);
	if (r == 0) {
		r = sock_send_frame(sock, frame, n, fd);
		if (r < 0)
			session_kill(s, r);
	}
	free(frame); /* ciphertext only */
	return r;
}

int chan_recv(struct chan_session *s, int sock, uint8_t *buf, size_t cap, size_t *ret_len,
              uint16_t *ret_type, int *ret_fd)
{
	if (s->state != CHAN_ESTABLISHED)
		return session_kill(s, -EPIPE);
	if (cap < CHAN_OVERHEAD)
		return -EINVAL;
	size_t n, plen;
	int fd;
	int r = sock_recv_frame(sock, buf, cap, &n, &fd);
	if (r == -EAGAIN || r == -EINTR)
		return r;
	if (r < 0)
		return session_kill(s, r);
	if (n == 0) {
		*ret_len = 0;
		*ret_type = 0;
		*ret_fd = -1;
		return 0;
	}
	uint16_t type;
	uint8_t flags;
	r = chan_open(s, buf + CHAN_HEADER_BYTES, cap - CHAN_HEADER_BYTES, &plen, &type, &flags,
	              buf, n);
	if (r == 0 && !(flags & CHAN_FLAG_FD) != (fd < 0))
		r = session_kill(s, -EBADMSG);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	memmove(buf, buf + CHAN_HEADER_BYTES, plen);
	*ret_len = plen;
	*ret_type = type;
	*ret_fd = fd;
	return 0;
}

int chan_bulk_map(int fd, const uint8_t *payload, size_t payload_len, size_t max_len,
                  const uint8_t **ret_map, size_t *ret_len)
{
	if (payload_len < CHAN_BULK_LEN_BYTES)
		return -EBADMSG;
	uint64_t want = le64_load(payload);
	if (want > max_len)
		return -EFBIG;
	const uint8_t *map;
	size_t n;
	int r = memfd_map_sealed(fd, max_len, &map, &n);
	if (r < 0)
		return r;
	if ((uint64_t)n != want) {
		memfd_unmap(map, n);
		return -EBADMSG;
	}
	*ret_map = map;
	*ret_len = n;
	return 0;
}
