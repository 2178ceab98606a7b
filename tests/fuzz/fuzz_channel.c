/* fuzz_channel.c: arbitrary bytes as HELLO (chan_server_accept), as ACK
 * (chan_client_finish) and as a sequence of data frames (chan_open) on a
 * session established in-process with fixed keys and nonces. Whatever is
 * accepted must be exactly what the honest peer would have sent: accepted
 * input is re-encoded and compared, so a forged frame that authenticated
 * would abort here. Input: mode byte (0 HELLO, 1 ACK, 2 frames to the server,
 * 3 frames to the client), then for modes 0-1 the message, for modes 2-3 any
 * number of [u16 length][frame]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/bytes.h"
#include "ipc/channel.h"

static uint8_t key_for(enum role client, uint8_t i) { return (uint8_t)(i ^ (client * 17u)); }

static int lookup(enum role client, uint8_t key_out[CHAN_KEY_BYTES], void *ctx)
{
	(void)ctx;
	if (client == ROLE_OUTGOING)
		return -1; /* exercise "no key held" */
	for (int i = 0; i < CHAN_KEY_BYTES; i++)
		key_out[i] = key_for(client, (uint8_t)i);
	return 0;
}

static void fixed(uint8_t out[32], uint8_t base)
{
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(base + i);
}

#define CHECK_OR_ABORT(cond)                                                               \
	do {                                                                                   \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_channel: %s failed at line %d\n", #cond, __LINE__);      \
			abort();                                                                       \
		}                                                                                  \
	} while (0)

static void fuzz_hello(const uint8_t *d, size_t n)
{
	struct chan_session sv = { 0 }, c = { 0 };
	uint8_t ack[CHAN_ACK_BYTES], again[CHAN_HELLO_BYTES], key[32], sn[32];
	enum role who = ROLE_NONE;
	fixed(sn, 0x80);
	/* The server role comes from the input, so every server is reachable. */
	enum role me = n >= 4 ? (enum role)(d[3] % (ROLE_MAX + 1)) : ROLE_STORAGE;
	int r = chan_server_accept_with_nonce(&sv, ack, d, n, me, lookup, NULL, sn, &who);
	if (r == 0) {
		/* Accepted: the honest client with that key and nonce sends exactly this. */
		CHECK_OR_ABORT(n == CHAN_HELLO_BYTES && chan_session_ok(&sv) && who == (enum role)d[2]);
		lookup(who, key, NULL);
		CHECK_OR_ABORT(chan_client_hello_with_nonce(&c, again, who, me, key, d + 4) == 0);
		CHECK_OR_ABORT(memcmp(again, d, CHAN_HELLO_BYTES) == 0);
		CHECK_OR_ABORT(chan_client_finish(&c, ack, sizeof(ack)) == 0);
	} else {
		CHECK_OR_ABORT(sv.state == CHAN_DEAD && sv.sec == NULL);
	}
	chan_session_clear(&sv);
	chan_session_clear(&c);
}

static void fuzz_ack(const uint8_t *d, size_t n)
{
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES], key[32], cn[32];
	enum role who;
	fixed(cn, 0x40);
	lookup(ROLE_DELIVER, key, NULL);
	CHECK_OR_ABORT(chan_client_hello_with_nonce(&c, hello, ROLE_DELIVER, ROLE_STORAGE, key, cn) == 0);
	if (chan_client_finish(&c, d, n) == 0) {
		/* Accepted: it is the ACK the honest server sends with that nonce. */
		CHECK_OR_ABORT(n == CHAN_ACK_BYTES && chan_session_ok(&c));
		CHECK_OR_ABORT(chan_server_accept_with_nonce(&sv, ack, hello, sizeof(hello), ROLE_STORAGE,
		                                             lookup, NULL, d + 4, &who) == 0);
		CHECK_OR_ABORT(memcmp(ack, d, CHAN_ACK_BYTES) == 0);
	} else {
		CHECK_OR_ABORT(c.state == CHAN_DEAD && c.sec == NULL);
	}
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

/* The fixed session of the seed corpus: deliver -> storage, nonces 40.. and 80... */
static void establish(struct chan_session *c, struct chan_session *sv)
{
	uint8_t hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES], key[32], cn[32], sn[32];
	enum role who;
	fixed(cn, 0x40);
	fixed(sn, 0x80);
	lookup(ROLE_DELIVER, key, NULL);
	CHECK_OR_ABORT(chan_client_hello_with_nonce(c, hello, ROLE_DELIVER, ROLE_STORAGE, key, cn) == 0);
	CHECK_OR_ABORT(chan_server_accept_with_nonce(sv, ack, hello, sizeof(hello), ROLE_STORAGE, lookup,
	                                             NULL, sn, &who) == 0);
	CHECK_OR_ABORT(chan_client_finish(c, ack, sizeof(ack)) == 0);
}

static uint8_t payload[CHAN_FRAME_MAX], resealed[CHAN_FRAME_MAX];

static void fuzz_frames(const uint8_t *d, size_t n, bool to_server)
{
	struct chan_session c = { 0 }, sv = { 0 };
	establish(&c, &sv);
	struct chan_session *rx = to_server ? &sv : &c, *tx = to_server ? &c : &sv;
	size_t pos = 0;
	while (n - pos >= 2) {
		size_t len = le16_load(d + pos);
		pos += 2;
		if (len > n - pos)
			len = n - pos;
		const uint8_t *frame = d + pos;
		pos += len;
		bool was_ok = chan_session_ok(rx);
		size_t plen, flen;
		uint16_t type;
		uint8_t flags;
		int r = chan_open(rx, payload, sizeof(payload), &plen, &type, &flags, frame, len);
		if (r == 0) {
			/* Only a frame the peer really sealed opens: sealing the same
			 * payload at the same counter must give the same bytes. */
			CHECK_OR_ABORT(was_ok && plen + CHAN_OVERHEAD == len && type != 0);
			CHECK_OR_ABORT(chan_seal(tx, resealed, sizeof(resealed), &flen, type, flags, payload,
			                         plen) == 0);
			CHECK_OR_ABORT(flen == len && memcmp(resealed, frame, len) == 0);
		} else {
			/* Sticky: dead now, and everything after is refused. */
			CHECK_OR_ABORT(rx->state == CHAN_DEAD && rx->sec == NULL);
		}
	}
	chan_session_clear(&c);
	chan_session_clear(&sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_hello(data + 1, size - 1);
		break;
	case 1:
		fuzz_ack(data + 1, size - 1);
		break;
	case 2:
		fuzz_frames(data + 1, size - 1, true);
		break;
	default:
		fuzz_frames(data + 1, size - 1, false);
		break;
	}
	return 0;
}
