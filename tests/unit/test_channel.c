/* test_channel.c: the channel between roles (docs/PROTOCOL.md section 7):
 * golden handshake and frame bytes, full sessions over a socketpair, and every
 * rejection rule, each leaving the session dead. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "common/bytes.h"
#include "ipc/channel.h"
#include "ipc/memfd.h"
#include "ipc/sock.h"

/* The worked example of section 7.8: deliver -> storage, key 00..1f, client
 * nonce 40..5f, server nonce 80..9f. Computed with an independent Python
 * implementation (hashlib.blake2b + cryptography's ChaCha20Poly1305). */
static const char GOLD_HELLO[] =
	"01010302404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"b7bb00db2f760cd41eda4865746f62721930eb783561b867f00e4c5c500447c7";
static const char GOLD_ACK[] =
	"01020203808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"e2f831390587db157591b708efdc22de82386396dd2b50c65d56224752abf451";
static const char GOLD_K_C2S[] = "4d23a4b274f876c91be7098cbe5de4cdfa228294f4900b988a9bafa849b91a91";
static const char GOLD_K_S2C[] = "81b04f1dc69f65515d434e2f30a071e0934debd79547aa2afe5c0c9c06a13895";
/* type 0x0101, payload "hello, storage", counter 0 */
static const char GOLD_FRAME_C2S[] = "010001010e0000000000000000000000"
                                     "229a2ae88b38e13a512703e9011fbeffbc9eb6ba10223870dea651c21489";
/* type 0x0102, empty payload, counter 0 */
static const char GOLD_FRAME_S2C[] = "01000201000000000000000000000000"
                                     "0582dd26054fac326891813c4a14d524";

static uint8_t key_a[CHAN_KEY_BYTES], key_b[CHAN_KEY_BYTES];
static uint8_t nonce_c[CHAN_NONCE_BYTES], nonce_s[CHAN_NONCE_BYTES];

struct lookup_ctx {
	const uint8_t *key; /* NULL: no key */
	int calls;
};

static int lookup(enum role client, uint8_t key_out[CHAN_KEY_BYTES], void *ctx)
{
	struct lookup_ctx *l = ctx;
	(void)client;
	l->calls++;
	if (!l->key)
		return -1;
	memcpy(key_out, l->key, CHAN_KEY_BYTES);
	return 0;
}

static void init_fixed(void)
{
	for (int i = 0; i < 32; i++) {
		key_a[i] = (uint8_t)i;
		key_b[i] = (uint8_t)(0xa0 + i);
		nonce_c[i] = (uint8_t)(0x40 + i);
		nonce_s[i] = (uint8_t)(0x80 + i);
	}
}

/* deliver -> storage with key_a and the fixed nonces (the golden session). */
static int establish(struct chan_session *c, struct chan_session *sv)
{
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES];
	struct lookup_ctx l = { key_a, 0 };
	enum role who;
	if (chan_client_hello_with_nonce(c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, nonce_c) < 0)
		return -1;
	if (chan_server_accept_with_nonce(sv, ack, hello, sizeof(hello), ROLE_STORAGE, lookup, &l,
	                                  nonce_s, &who) < 0 || who != ROLE_DELIVER)
		return -1;
	return chan_client_finish(c, ack, sizeof(ack));
}

/* A frame with an arbitrary header but a valid tag under the golden c2s key,
 * so that the header checks, not the tag, must catch it. */
static size_t forge(uint8_t *out, uint8_t version, uint8_t flags, uint16_t type, uint32_t plen_field,
                    uint64_t ctr, const uint8_t *pt, size_t len)
{
	uint8_t k[32], n[12] = { 0 };
	check_unhex(GOLD_K_C2S, k, sizeof(k));
	out[0] = version;
	out[1] = flags;
	le16_store(out + 2, type);
	le32_store(out + 4, plen_field);
	le64_store(out + 8, ctr);
	le64_store(n, ctr);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(out + 16, out + 16 + len, NULL, pt, len,
	                                                   out, 16, NULL, n, k);
	return len + CHAN_OVERHEAD;
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void golden_vector(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES], exp[128], frame[128], pt[64];
	struct lookup_ctx l = { key_a, 0 };
	enum role who = ROLE_NONE;
	size_t n;
	uint16_t type;
	uint8_t flags;

	CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, nonce_c) == 0);
	CHECK(check_unhex(GOLD_HELLO, exp, sizeof(exp)) == CHAN_HELLO_BYTES);
	CHECK_MEM(hello, exp, CHAN_HELLO_BYTES);
	CHECK(chan_server_accept_with_nonce(&sv, ack, hello, sizeof(hello), ROLE_STORAGE, lookup, &l,
	                                    nonce_s, &who) == 0);
	CHECK(who == ROLE_DELIVER && l.calls == 1);
	CHECK(check_unhex(GOLD_ACK, exp, sizeof(exp)) == CHAN_ACK_BYTES);
	CHECK_MEM(ack, exp, CHAN_ACK_BYTES);
	CHECK(chan_client_finish(&c, ack, sizeof(ack)) == 0);
	CHECK(chan_session_ok(&c) && chan_session_ok(&sv));
	CHECK(c.peer == ROLE_STORAGE && sv.peer == ROLE_DELIVER && sv.server && !c.server);
	/* The pair key copies and the client nonce are gone; only the direction keys remain. */
	static const uint8_t zero[32];
	CHECK(memcmp(c.sec->pair_key, zero, 32) == 0 && memcmp(sv.sec->pair_key, zero, 32) == 0);
	CHECK(memcmp(c.sec->client_nonce, zero, 32) == 0);
	CHECK(memcmp(c.sec->k_send, sv.sec->k_recv, 32) == 0 && memcmp(c.sec->k_recv, sv.sec->k_send, 32) == 0);
	CHECK(check_unhex(GOLD_K_C2S, exp, sizeof(exp)) == 32);
	CHECK_MEM(c.sec->k_send, exp, 32);

	CHECK(chan_seal(&c, frame, sizeof(frame), &n, 0x0101, 0, (const uint8_t *)"hello, storage", 14) == 0);
	CHECK(n == 46 && check_unhex(GOLD_FRAME_C2S, exp, sizeof(exp)) == 46);
	CHECK_MEM(frame, exp, 46);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, 46) == 0);
	CHECK(n == 14 && type == 0x0101 && flags == 0 && memcmp(pt, "hello, storage", 14) == 0);

	CHECK(chan_seal(&sv, frame, sizeof(frame), &n, 0x0102, 0, NULL, 0) == 0);
	CHECK(n == 32 && check_unhex(GOLD_FRAME_S2C, exp, sizeof(exp)) == 32);
	CHECK_MEM(frame, exp, 32);
	CHECK(chan_open(&c, NULL, 0, &n, &type, &flags, frame, 32) == 0);
	CHECK(n == 0 && type == 0x0102);

	/* The documented direction keys are the ones in use: the frames verify
	 * under them with plain libsodium. */
	uint8_t k[32], nonce[12] = { 0 };
	CHECK(check_unhex(GOLD_K_S2C, k, sizeof(k)) == 32);
	CHECK(check_unhex(GOLD_FRAME_S2C, exp, sizeof(exp)) == 32);
	CHECK(crypto_aead_chacha20poly1305_ietf_decrypt_detached(NULL, NULL, exp + 16, 0, exp + 16, exp, 16,
	                                                         nonce, k) == 0);
	CHECK(check_unhex(GOLD_K_C2S, k, sizeof(k)) == 32);
	CHECK(check_unhex(GOLD_FRAME_C2S, exp, sizeof(exp)) == 46);
	CHECK(crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, exp + 16, 14, exp + 30, exp, 16,
	                                                         nonce, k) == 0);
	CHECK(memcmp(pt, "hello, storage", 14) == 0);
	chan_session_clear(&c);
	chan_session_clear(&sv);
	CHECK(c.sec == NULL && c.state == CHAN_CLEARED);
}

static void full_session_over_socketpair(void)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES];
	uint8_t *buf = malloc(CHAN_FRAME_MAX), *big = malloc(CHAN_PAYLOAD_MAX);
	struct lookup_ctx l = { key_b, 0 };
	enum role who;
	size_t n;
	int fd;
	uint16_t type;

	CHECK(chan_client_hello(&c, hello, ROLE_API, ROLE_ACCOUNT, key_b) == 0);
	CHECK(sock_send_frame(sp[0], hello, sizeof(hello), -1) == 0);
	CHECK(sock_recv_frame(sp[1], buf, CHAN_FRAME_MAX, &n, &fd) == 0 && n == CHAN_HELLO_BYTES && fd == -1);
	CHECK(chan_server_accept(&sv, ack, buf, n, ROLE_ACCOUNT, lookup, &l, &who) == 0);
	CHECK(who == ROLE_API);
	CHECK(sock_send_frame(sp[1], ack, sizeof(ack), -1) == 0);
	CHECK(sock_recv_frame(sp[0], buf, CHAN_FRAME_MAX, &n, &fd) == 0 && n == CHAN_ACK_BYTES);
	CHECK(chan_client_finish(&c, buf, n) == 0);

	struct ucred uc;
	CHECK(sock_peer_cred(sp[1], &uc) == 0 && uc.pid == getpid() && uc.uid == getuid());

	/* Random nonces: two handshakes with the same key give different frames. */
	for (int i = 0; i < 20; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "request %d", i);
		CHECK(chan_send(&c, sp[0], (uint16_t)(100 + i), (const uint8_t *)msg, (size_t)len, -1) == 0);
		CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0);
		CHECK(n == (size_t)len && type == 100 + i && fd == -1 && memcmp(buf, msg, n) == 0);
		CHECK(chan_send(&sv, sp[1], 7, buf, n, -1) == 0);
		CHECK(chan_recv(&c, sp[0], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0);
		CHECK(n == (size_t)len && type == 7 && memcmp(buf, msg, n) == 0);
	}
	/* Largest and empty payloads. */
	randombytes_buf(big, CHAN_PAYLOAD_MAX);
	CHECK(chan_send(&c, sp[0], 0xffff, big, CHAN_PAYLOAD_MAX, -1) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0);
	CHECK(n == CHAN_PAYLOAD_MAX && type == 0xffff && memcmp(buf, big, n) == 0);
	CHECK(chan_send(&sv, sp[1], 1, NULL, 0, -1) == 0);
	CHECK(chan_recv(&c, sp[0], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0 && n == 0 && type == 1);
	CHECK(c.send_ctr == 21 && sv.recv_ctr == 21 && sv.send_ctr == 21 && c.recv_ctr == 21);

	/* Non-blocking and nothing queued: -EAGAIN, and the session lives on. */
	CHECK(fcntl(sp[1], F_SETFL, O_NONBLOCK) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == -EAGAIN);
	CHECK(chan_session_ok(&sv));
	/* Orderly EOF: 0 with length 0 and type 0. */
	close(sp[0]);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0 && n == 0 && type == 0 && fd == -1);
	/* Sending to a closed peer: -EPIPE (no SIGPIPE), session dead. */
	CHECK(chan_send(&sv, sp[1], 1, NULL, 0, -1) == -EPIPE);
	CHECK(sv.state == CHAN_DEAD && sv.sec == NULL);
	close(sp[1]);
	chan_session_clear(&c);
	chan_session_clear(&sv);
	free(buf);
	free(big);
}

static void wrong_pair_key_fails(void)
{
	struct chan_session c = { 0 }, c2 = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], hello2[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES];
	struct lookup_ctx l = { key_b, 0 };
	enum role who = ROLE_NONE;

	/* Server side: the client used key_a, the server holds key_b. */
	CHECK(chan_client_hello(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a) == 0);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_STORAGE, lookup, &l, &who) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD && sv.sec == NULL && who == ROLE_NONE);

	/* Client side: an ACK made with key_b for the same client nonce. */
	CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, nonce_c) == 0);
	CHECK(chan_client_hello_with_nonce(&c2, hello2, ROLE_DELIVER, ROLE_STORAGE, key_b, nonce_c) == 0);
	CHECK(chan_server_accept(&sv, ack, hello2, sizeof(hello2), ROLE_STORAGE, lookup, &l, &who) == 0);
	CHECK(chan_client_finish(&c, ack, sizeof(ack)) == -EBADMSG);
	CHECK(c.state == CHAN_DEAD && c.sec == NULL);
	CHECK(chan_client_finish(&c2, ack, sizeof(ack)) == 0); /* the right key works */
	/* And the dead one stays dead. */
	CHECK(chan_client_finish(&c, ack, sizeof(ack)) == -EPIPE);
	chan_session_clear(&c);
	chan_session_clear(&c2);
	chan_session_clear(&sv);
}

/* A correctly tagged HELLO with any role bytes, to test the server's checks. */
static void make_hello(uint8_t h[CHAN_HELLO_BYTES], uint8_t version, uint8_t kind, uint8_t client,
                       uint8_t server, const uint8_t *key)
{
	h[0] = version;
	h[1] = kind;
	h[2] = client;
	h[3] = server;
	memcpy(h + 4, nonce_c, 32);
	crypto_generichash(h + 36, 32, h, 36, key, 32);
}

static void disallowed_pairs_refused(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES];
	struct lookup_ctx l = { key_a, 0 };
	enum role who = ROLE_NONE;

	CHECK(chan_client_hello(&c, hello, ROLE_WEB, ROLE_ACCOUNT, key_a) == -EPERM);
	CHECK(c.state == CHAN_DEAD && c.sec == NULL);
	CHECK(chan_client_hello(&c, hello, ROLE_ACCOUNT, ROLE_MTA, key_a) == -EPERM);
	CHECK(chan_client_hello(&c, hello, ROLE_STORAGE, ROLE_STORAGE, key_a) == -EPERM);

	/* The server never even looks up a key for a pair that does not exist. */
	make_hello(hello, 1, CHAN_KIND_HELLO, ROLE_WEB, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EPERM);
	make_hello(hello, 1, CHAN_KIND_HELLO, 0, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EPERM);
	make_hello(hello, 1, CHAN_KIND_HELLO, 200, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EPERM);
	CHECK(l.calls == 0 && sv.state == CHAN_DEAD);
	/* Addressed to another server. */
	make_hello(hello, 1, CHAN_KIND_HELLO, ROLE_API, ROLE_STORAGE, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EBADMSG);
	/* Allowed, correctly tagged: accepted (the control case). */
	make_hello(hello, 1, CHAN_KIND_HELLO, ROLE_API, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == 0);
	CHECK(who == ROLE_API && l.calls == 1);
	/* Allowed but no key held for that client. */
	l.key = NULL;
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -ENOKEY);
	CHECK(sv.state == CHAN_DEAD);
	/* Wrong version or kind, even when tagged. */
	l.key = key_a;
	make_hello(hello, 2, CHAN_KIND_HELLO, ROLE_API, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EBADMSG);
	make_hello(hello, 1, CHAN_KIND_ACK, ROLE_API, ROLE_ACCOUNT, key_a);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_ACCOUNT, lookup, &l, &who) == -EBADMSG);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

static void malformed_hello_rejected(void)
{
	struct chan_session sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES + 1], ack[CHAN_ACK_BYTES];
	struct lookup_ctx l = { key_a, 0 };
	enum role who;

	make_hello(hello, 1, CHAN_KIND_HELLO, ROLE_DELIVER, ROLE_STORAGE, key_a);
	hello[CHAN_HELLO_BYTES] = 0;
	for (size_t len = 0; len < CHAN_HELLO_BYTES; len++)
		CHECK(chan_server_accept(&sv, ack, hello, len, ROLE_STORAGE, lookup, &l, &who) == -EBADMSG);
	CHECK(chan_server_accept(&sv, ack, hello, CHAN_HELLO_BYTES + 1, ROLE_STORAGE, lookup, &l, &who) == -EBADMSG);
	int accepted = 0;
	for (size_t bit = 0; bit < CHAN_HELLO_BYTES * 8; bit++) {
		hello[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (chan_server_accept(&sv, ack, hello, CHAN_HELLO_BYTES, ROLE_STORAGE, lookup, &l, &who) == 0)
			accepted++;
		CHECK(sv.state == CHAN_DEAD);
		hello[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK(accepted == 0);
	CHECK(chan_server_accept(&sv, ack, hello, CHAN_HELLO_BYTES, ROLE_STORAGE, lookup, &l, &who) == 0);
	chan_session_clear(&sv);
}

static void malformed_ack_rejected(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES + 1] = { 0 }, old_ack[CHAN_ACK_BYTES];
	struct lookup_ctx l = { key_a, 0 };
	enum role who;

	CHECK(chan_client_finish(&c, ack, CHAN_ACK_BYTES) == -EPIPE); /* no HELLO sent */
	CHECK(chan_client_hello(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a) == 0);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_STORAGE, lookup, &l, &who) == 0);
	ack[CHAN_ACK_BYTES] = 0;
	memcpy(old_ack, ack, sizeof(old_ack));
	uint8_t cn[CHAN_NONCE_BYTES]; /* restart the same HELLO after each failure */
	memcpy(cn, hello + 4, sizeof(cn));
	for (size_t len = 0; len <= CHAN_ACK_BYTES + 1; len++) {
		if (len == CHAN_ACK_BYTES)
			continue;
		CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a,
		                                   cn) == 0);
		CHECK(chan_client_finish(&c, ack, len) == -EBADMSG && c.state == CHAN_DEAD);
	}
	int accepted = 0;
	for (size_t bit = 0; bit < CHAN_ACK_BYTES * 8; bit++) {
		CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a,
		                                   cn) == 0);
		ack[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (chan_client_finish(&c, ack, CHAN_ACK_BYTES) == 0)
			accepted++;
		CHECK(c.state == CHAN_DEAD);
		ack[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK(accepted == 0);
	/* The untouched ACK finishes the same HELLO... */
	CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, cn) == 0);
	CHECK(chan_client_finish(&c, ack, CHAN_ACK_BYTES) == 0);
	/* ...but an old ACK does not finish a new HELLO (fresh client nonce). */
	CHECK(chan_client_hello(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a) == 0);
	CHECK(chan_client_finish(&c, old_ack, CHAN_ACK_BYTES) == -EBADMSG);
	/* A correctly tagged ACK that names the wrong roles (a server that thinks
	 * it is someone else, or answers another client role). */
	const uint8_t roles[][2] = { { ROLE_ACCOUNT, ROLE_DELIVER }, { ROLE_STORAGE, ROLE_API },
		                         { ROLE_DELIVER, ROLE_STORAGE } };
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
		CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, cn) == 0);
		uint8_t forged[CHAN_ACK_BYTES], in[36 + 32];
		forged[0] = 1;
		forged[1] = CHAN_KIND_ACK;
		forged[2] = roles[i][0];
		forged[3] = roles[i][1];
		memcpy(forged + 4, nonce_s, 32);
		memcpy(in, forged, 36);
		memcpy(in + 36, cn, 32);
		crypto_generichash(forged + 36, 32, in, sizeof(in), key_a, 32);
		CHECK(chan_client_finish(&c, forged, sizeof(forged)) == -EBADMSG);
		/* The same construction with the right roles is accepted. */
		CHECK(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a, cn) == 0);
		forged[2] = ROLE_STORAGE;
		forged[3] = ROLE_DELIVER;
		memcpy(in, forged, 36);
		crypto_generichash(forged + 36, 32, in, sizeof(in), key_a, 32);
		CHECK(chan_client_finish(&c, forged, sizeof(forged)) == 0);
	}
	/* A HELLO is not an ACK. */
	CHECK(chan_client_hello(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key_a) == 0);
	CHECK(chan_client_finish(&c, hello, CHAN_HELLO_BYTES) == -EBADMSG);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

/* Seals frames 0..count-1 from c into frames[i] (64 bytes each). */
static void seal_n(struct chan_session *c, uint8_t frames[][64], size_t *lens, int count)
{
	for (int i = 0; i < count; i++) {
		uint8_t msg[8];
		le64_store(msg, (uint64_t)i);
		CHECK(chan_seal(c, frames[i], 64, &lens[i], 9, 0, msg, sizeof(msg)) == 0);
		CHECK(le64_load(frames[i] + 8) == (uint64_t)i); /* counter in the header */
	}
}

static void replay_reorder_drop_rejected(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frames[4][64], pt[64];
	size_t lens[4], n;
	uint16_t type;
	uint8_t flags;

	/* Replay. */
	CHECK(establish(&c, &sv) == 0);
	seal_n(&c, frames, lens, 4);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[0], lens[0]) == 0);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[0], lens[0]) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD && sv.sec == NULL);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[1], lens[1]) == -EPIPE);
	/* Reorder. */
	CHECK(establish(&c, &sv) == 0);
	seal_n(&c, frames, lens, 4);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[1], lens[1]) == -EBADMSG);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[0], lens[0]) == -EPIPE);
	/* Drop. */
	CHECK(establish(&c, &sv) == 0);
	seal_n(&c, frames, lens, 4);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[0], lens[0]) == 0);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[2], lens[2]) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD);
	/* In order: all four open (the control case). */
	CHECK(establish(&c, &sv) == 0);
	seal_n(&c, frames, lens, 4);
	for (int i = 0; i < 4; i++) {
		CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frames[i], lens[i]) == 0);
		CHECK(n == 8 && le64_load(pt) == (uint64_t)i);
	}
	/* Reflection: a client's own frame sent back to it. */
	CHECK(chan_seal(&c, frames[0], 64, &lens[0], 9, 0, pt, 8) == 0);
	CHECK(chan_seal(&sv, frames[1], 64, &lens[1], 9, 0, pt, 8) == 0);
	CHECK(chan_open(&c, pt, sizeof(pt), &n, &type, &flags, frames[0], lens[0]) == -EBADMSG);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

static void every_bit_flip_rejected(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frame[64], pt[64];
	size_t len, n;
	uint16_t type;
	uint8_t flags;
	int opened = 0, dead = 0;

	for (size_t bit = 0; bit < (20 + CHAN_OVERHEAD) * 8; bit++) {
		CHECK(establish(&c, &sv) == 0);
		CHECK(chan_seal(&c, frame, sizeof(frame), &len, 0x1234, 0,
		                (const uint8_t *)"twenty bytes payload", 20) == 0);
		frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, len) == 0)
			opened++;
		if (sv.state == CHAN_DEAD && sv.sec == NULL)
			dead++;
	}
	CHECK(opened == 0 && dead == (20 + CHAN_OVERHEAD) * 8);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

static void truncated_and_trailing_rejected(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frame[64], pt[64];
	size_t len, n;
	uint16_t type;
	uint8_t flags;

	for (size_t cut = 0; cut < 20 + CHAN_OVERHEAD; cut++) {
		CHECK(establish(&c, &sv) == 0);
		CHECK(chan_seal(&c, frame, sizeof(frame), &len, 3, 0, (const uint8_t *)"0123456789abcdefghij", 20) == 0);
		CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, cut) == -EBADMSG);
		CHECK(sv.state == CHAN_DEAD);
	}
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 3, 0, (const uint8_t *)"0123456789abcdefghij", 20) == 0);
	frame[len] = 0;
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, len + 1) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD);
	/* Output buffer one byte short: refused, and the session is dead too. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 3, 0, (const uint8_t *)"0123456789abcdefghij", 20) == 0);
	CHECK(chan_open(&sv, pt, 19, &n, &type, &flags, frame, len) == -ENOBUFS);
	CHECK(sv.state == CHAN_DEAD);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

static void oversized_rejected(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	size_t big = CHAN_FRAME_MAX + 1, n;
	uint8_t *frame = calloc(1, big + 16), *buf = malloc(CHAN_FRAME_MAX);
	uint16_t type;
	uint8_t flags;
	int fd, sp[2];

	/* The sender refuses to build one. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, big + 16, &n, 1, 0, frame, CHAN_PAYLOAD_MAX + 1) == -EMSGSIZE);
	CHECK(chan_session_ok(&c) && c.send_ctr == 0);
	/* A forged one with a consistent header is refused by the decoder... */
	n = forge(frame, 1, 0, 1, CHAN_PAYLOAD_MAX + 1, 0, buf, CHAN_PAYLOAD_MAX + 1);
	CHECK(n == big);
	CHECK(chan_open(&sv, buf, CHAN_FRAME_MAX, &n, &type, &flags, frame, big) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD);
	/* ...and never even fits the receive buffer: MSG_TRUNC. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	int sz = 4 * CHAN_FRAME_MAX;
	CHECK(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) == 0);
	CHECK(establish(&c, &sv) == 0);
	CHECK(sock_send_frame(sp[0], frame, big, -1) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == -EMSGSIZE);
	CHECK(sv.state == CHAN_DEAD);
	/* The largest legal frame does fit. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_send(&c, sp[0], 2, frame, CHAN_PAYLOAD_MAX, -1) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0 && n == CHAN_PAYLOAD_MAX);
	close(sp[0]);
	close(sp[1]);
	chan_session_clear(&c);
	chan_session_clear(&sv);
	free(frame);
	free(buf);
}

static void bad_header_fields_rejected_despite_valid_tag(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frame[64], pt[64];
	const uint8_t msg[10] = "0123456789";
	size_t len, n;
	uint16_t type;
	uint8_t flags;
	struct {
		uint8_t version, flags;
		uint16_t type;
		uint32_t plen;
		uint64_t ctr;
		size_t len;
	} bad[] = {
		{ 2, 0, 5, 10, 0, 10 },    /* unknown version */
		{ 0, 0, 5, 10, 0, 10 },
		{ 1, 0x02, 5, 10, 0, 10 }, /* unknown flag bits */
		{ 1, 0x80, 5, 10, 0, 10 },
		{ 1, 0xff, 5, 10, 0, 10 },
		{ 1, 0, 0, 10, 0, 10 },    /* type 0 */
		{ 1, 0, 5, 11, 0, 10 },    /* length field != datagram */
		{ 1, 0, 5, 9, 0, 10 },
		{ 1, 0, 5, 10, 1, 10 },    /* counter ahead */
		{ 1, 1, 5, 4, 0, 4 },      /* fd frame without room for the bulk length */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(establish(&c, &sv) == 0);
		len = forge(frame, bad[i].version, bad[i].flags, bad[i].type, bad[i].plen, bad[i].ctr, msg,
		            bad[i].len);
		CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, len) == -EBADMSG);
		CHECK(sv.state == CHAN_DEAD);
	}
	/* The control: the same forge with a good header opens (the key is right). */
	CHECK(establish(&c, &sv) == 0);
	len = forge(frame, 1, 1, 5, 10, 0, msg, 10);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, len) == 0);
	CHECK(n == 10 && type == 5 && flags == CHAN_FLAG_FD && memcmp(pt, msg, 10) == 0);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

static void seal_caller_errors_keep_session(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frame[64], pt[64];
	size_t len, n;
	uint16_t type;
	uint8_t flags;

	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, pt, 1) == -EPIPE); /* no session */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 0, 0, pt, 1) == -EINVAL);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0x02, pt, 1) == -EINVAL);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, CHAN_FLAG_FD, pt, 7) == -EINVAL);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, NULL, 1) == -EINVAL);
	CHECK(chan_seal(&c, frame, 1 + CHAN_OVERHEAD - 1, &len, 1, 0, pt, 1) == -ENOBUFS);
	CHECK(c.send_ctr == 0 && chan_session_ok(&c));
	memcpy(pt, "abc", 3);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, pt, 3) == 0 && len == 3 + CHAN_OVERHEAD);
	CHECK(chan_open(&sv, pt, sizeof(pt), &n, &type, &flags, frame, len) == 0 && n == 3);
	/* In place both ways. */
	memcpy(frame + CHAN_HEADER_BYTES, "in place", 8);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, frame + CHAN_HEADER_BYTES, 8) == 0);
	CHECK(chan_open(&sv, frame + CHAN_HEADER_BYTES, sizeof(frame) - CHAN_HEADER_BYTES, &n, &type,
	                &flags, frame, len) == 0);
	CHECK(n == 8 && memcmp(frame + CHAN_HEADER_BYTES, "in place", 8) == 0);
	/* Counter exhaustion: never reuse a nonce. */
	c.send_ctr = UINT64_MAX;
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, pt, 3) == -EOVERFLOW);
	chan_session_clear(&c);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, pt, 3) == -EPIPE);
	chan_session_clear(&sv);
}

static void replayed_hello_gives_useless_session(void)
{
	struct chan_session c = { 0 }, s1 = { 0 }, s2 = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack1[CHAN_ACK_BYTES], ack2[CHAN_ACK_BYTES], frame[64], pt[64];
	struct lookup_ctx l = { key_a, 0 };
	enum role who;
	size_t len, n;
	uint16_t type;
	uint8_t flags;

	CHECK(chan_client_hello(&c, hello, ROLE_MTA, ROLE_DELIVER, key_a) == 0);
	CHECK(chan_server_accept(&s1, ack1, hello, sizeof(hello), ROLE_DELIVER, lookup, &l, &who) == 0);
	/* The attacker replays the captured HELLO to a fresh server session: accepted... */
	CHECK(chan_server_accept(&s2, ack2, hello, sizeof(hello), ROLE_DELIVER, lookup, &l, &who) == 0);
	CHECK(memcmp(ack1, ack2, CHAN_ACK_BYTES) != 0);
	CHECK(chan_client_finish(&c, ack1, sizeof(ack1)) == 0);
	/* ...but nothing the real client sends opens in it, */
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 4, 0, (const uint8_t *)"mail", 4) == 0);
	CHECK(chan_open(&s2, pt, sizeof(pt), &n, &type, &flags, frame, len) == -EBADMSG);
	CHECK(chan_open(&s1, pt, sizeof(pt), &n, &type, &flags, frame, len) == 0);
	/* and the replayed session's ACK does not finish a new client session. */
	CHECK(chan_client_hello(&c, hello, ROLE_MTA, ROLE_DELIVER, key_a) == 0);
	CHECK(chan_client_finish(&c, ack2, sizeof(ack2)) == -EBADMSG);
	chan_session_clear(&c);
	chan_session_clear(&s1);
	chan_session_clear(&s2);
}

static void fd_flag_must_match_fd(void)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t frame[64], buf[CHAN_FRAME_MAX], pl[8];
	size_t len, n;
	uint16_t type;
	int fd, sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	int mfd = memfd_from_buffer("bulk", 4, "t");
	CHECK(mfd >= 0);
	le64_store(pl, 4);
	int before = count_fds();

	/* The flag but no fd. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, CHAN_FLAG_FD, pl, 8) == 0);
	CHECK(sock_send_frame(sp[0], frame, len, -1) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, sizeof(buf), &n, &type, &fd) == -EBADMSG);
	CHECK(sv.state == CHAN_DEAD);
	/* An fd but no flag: refused, and the received fd is closed. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, 0, pl, 8) == 0);
	CHECK(sock_send_frame(sp[0], frame, len, mfd) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, sizeof(buf), &n, &type, &fd) == -EBADMSG);
	CHECK(count_fds() == before);
	/* A bad frame with an fd: the fd is closed too. */
	CHECK(establish(&c, &sv) == 0);
	CHECK(chan_seal(&c, frame, sizeof(frame), &len, 1, CHAN_FLAG_FD, pl, 8) == 0);
	frame[len - 1] ^= 1;
	CHECK(sock_send_frame(sp[0], frame, len, mfd) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, sizeof(buf), &n, &type, &fd) == -EBADMSG);
	CHECK(count_fds() == before);
	/* chan_send checks the memfd it attaches: size must match the payload. */
	CHECK(establish(&c, &sv) == 0);
	le64_store(pl, 5);
	CHECK(chan_send(&c, sp[0], 1, pl, 8, mfd) == -EINVAL);
	CHECK(chan_send(&c, sp[0], 1, pl, 7, mfd) == -EINVAL);
	CHECK(chan_send(&c, sp[0], 1, pl, 8, sp[0]) == -EINVAL); /* not a memfd */
	CHECK(chan_session_ok(&c) && c.send_ctr == 0);
	le64_store(pl, 4);
	CHECK(chan_send(&c, sp[0], 1, pl, 8, mfd) == 0);
	CHECK(chan_recv(&sv, sp[1], buf, sizeof(buf), &n, &type, &fd) == 0 && fd >= 0 && n == 8);
	close(fd);
	close(mfd);
	close(sp[0]);
	close(sp[1]);
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

int main(void)
{
	check_init();
	init_fixed();
	RUN(golden_vector);
	RUN(full_session_over_socketpair);
	RUN(wrong_pair_key_fails);
	RUN(disallowed_pairs_refused);
	RUN(malformed_hello_rejected);
	RUN(malformed_ack_rejected);
	RUN(replay_reorder_drop_rejected);
	RUN(every_bit_flip_rejected);
	RUN(truncated_and_trailing_rejected);
	RUN(oversized_rejected);
	RUN(bad_header_fields_rejected_despite_valid_tag);
	RUN(seal_caller_errors_keep_session);
	RUN(replayed_hello_gives_useless_session);
	RUN(fd_flag_must_match_fd);
	return check_finish();
}
