/* channel.h: the authenticated, replay-proof channel between two server roles:
 * a HELLO/ACK handshake keyed with the (client, server) pair key, then
 * ChaCha20-Poly1305 data frames with a strict per-direction counter.
 * The wire format is docs/PROTOCOL.md section 7. */
#ifndef ALLEARS_IPC_CHANNEL_H
#define ALLEARS_IPC_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/roles.h"
#include "common/util.h"

#define CHAN_VERSION 1
#define CHAN_KIND_HELLO 1
#define CHAN_KIND_ACK 2

#define CHAN_KEY_BYTES 32      /* pair key and both direction keys */
#define CHAN_NONCE_BYTES 32    /* handshake nonces */
#define CHAN_HS_TAG_BYTES 32   /* BLAKE2b-256 tag of HELLO and ACK */
#define CHAN_HELLO_BYTES (4 + CHAN_NONCE_BYTES + CHAN_HS_TAG_BYTES) /* 68 */
#define CHAN_ACK_BYTES (4 + CHAN_NONCE_BYTES + CHAN_HS_TAG_BYTES)   /* 68 */

#define CHAN_HEADER_BYTES 16
#define CHAN_TAG_BYTES 16      /* Poly1305 tag */
#define CHAN_OVERHEAD (CHAN_HEADER_BYTES + CHAN_TAG_BYTES)
#define CHAN_FRAME_MAX 65536   /* one datagram: header + ciphertext + tag */
#define CHAN_PAYLOAD_MAX (CHAN_FRAME_MAX - CHAN_OVERHEAD) /* 65504 */

#define CHAN_FLAG_FD 0x01      /* a sealed memfd travels with the frame */
#define CHAN_FLAGS_KNOWN CHAN_FLAG_FD
#define CHAN_BULK_LEN_BYTES 8  /* u64 bulk length at the start of an fd frame's payload */

/* Labels of the direction-key derivation (ASCII, no terminator). */
#define CHAN_LABEL_C2S "allears c2s v1"
#define CHAN_LABEL_S2C "allears s2c v1"
#define CHAN_LABEL_BYTES 14

enum chan_state {
	CHAN_CLEARED = 0,       /* zero-initialised or after chan_session_clear */
	CHAN_CLIENT_WAIT_ACK,   /* HELLO sent, waiting for the ACK */
	CHAN_ESTABLISHED,
	CHAN_DEAD,              /* a rejected frame or handshake: close the connection */
};

/* In sodium_malloc'd memory, read-only once established. Visible only so
 * that tests can check what is wiped; nothing else touches it. */
struct chan_secrets {
	uint8_t pair_key[CHAN_KEY_BYTES];       /* only until the keys are derived */
	uint8_t client_nonce[CHAN_NONCE_BYTES]; /* client side, only until the ACK */
	uint8_t k_send[CHAN_KEY_BYTES];
	uint8_t k_recv[CHAN_KEY_BYTES];
};

/* A zero-initialised struct is a valid cleared session. */
struct chan_session {
	struct chan_secrets *sec;
	uint64_t send_ctr;      /* counter of the next frame we send */
	uint64_t recv_ctr;      /* counter the next frame we accept must carry */
	enum role me;
	enum role peer;
	enum chan_state state;
	bool server;
};

static inline bool chan_session_ok(const struct chan_session *s)
{
	return s->state == CHAN_ESTABLISHED;
}

/* Returns 0 and writes the pair key of `client` (towards us) into key_out, or a
 * negative value when we hold no key for that client. */
typedef int (*chan_key_lookup_fn)(enum role client, uint8_t key_out[CHAN_KEY_BYTES], void *ctx);

/* Client, step 1: starts a session with `server` and writes the HELLO to send.
 * s must be zero-initialised or cleared (a previous session in it is cleared).
 * -EPERM when the pair is not an allowed channel. On failure s is left dead. */
int chan_client_hello(struct chan_session *s, uint8_t out[CHAN_HELLO_BYTES], enum role me,
                      enum role server, const uint8_t pair_key[CHAN_KEY_BYTES]) WUR;

/* Server: checks a received HELLO and, when it is good, writes the ACK to send
 * and establishes s. -EBADMSG for a malformed, mis-addressed or badly tagged
 * HELLO, -EPERM for a pair that is not an allowed channel, -ENOKEY when
 * key_lookup has no key. Nothing is sent back on failure: close the connection.
 * ack_out may be the buffer that holds hello. */
int chan_server_accept(struct chan_session *s, uint8_t ack_out[CHAN_ACK_BYTES],
                       const uint8_t *hello, size_t len, enum role me,
                       chan_key_lookup_fn key_lookup, void *ctx, enum role *ret_client) WUR;

/* Client, step 2: checks the ACK and establishes s. -EBADMSG (s dead) on any fault. */
int chan_client_finish(struct chan_session *s, const uint8_t *ack, size_t len) WUR;

/* Tests only: the same with a fixed nonce instead of a random one. A daemon
 * must never call these: fixed nonces make a session's frames replayable. */
int chan_client_hello_with_nonce(struct chan_session *s, uint8_t out[CHAN_HELLO_BYTES],
                                 enum role me, enum role server,
                                 const uint8_t pair_key[CHAN_KEY_BYTES],
                                 const uint8_t nonce[CHAN_NONCE_BYTES]) WUR;
int chan_server_accept_with_nonce(struct chan_session *s, uint8_t ack_out[CHAN_ACK_BYTES],
                                  const uint8_t *hello, size_t len, enum role me,
                                  chan_key_lookup_fn key_lookup, void *ctx,
                                  const uint8_t nonce[CHAN_NONCE_BYTES],
                                  enum role *ret_client) WUR;

/* Encrypts one data frame into out (needs len + CHAN_OVERHEAD bytes) and uses
 * up one send counter. type 0 and unknown flags are -EINVAL, an fd frame needs
 * at least CHAN_BULK_LEN_BYTES of payload, len > CHAN_PAYLOAD_MAX is -EMSGSIZE,
 * a short out is -ENOBUFS, a session that is not established is -EPIPE. These
 * caller errors leave the session usable. payload may be out + CHAN_HEADER_BYTES
 * (in place); otherwise the two must not overlap. */
int chan_seal(struct chan_session *s, uint8_t *out, size_t out_cap, size_t *ret_len,
              uint16_t type, uint8_t flags, const uint8_t *payload, size_t len) WUR;

/* Checks and decrypts one whole received datagram. Every failure kills the
 * session for good: -EPIPE when it was not established (or already dead),
 * -ENOBUFS when cap is smaller than the payload, -EBADMSG for everything the
 * peer got wrong (section 7.6). out_payload may be frame + CHAN_HEADER_BYTES
 * (in place; a frame that fails authentication is then zeroed there);
 * otherwise the two must not overlap. */
int chan_open(struct chan_session *s, uint8_t *out_payload, size_t cap, size_t *ret_len,
              uint16_t *ret_type, uint8_t *ret_flags, const uint8_t *frame, size_t len) WUR;

/* Wipes and frees the session's secrets; s becomes a cleared session. */
void chan_session_clear(struct chan_session *s);

/* Seals and sends one frame over a blocking SOCK_SEQPACKET socket, with the
 * sealed memfd `fd` attached when fd >= 0 (the payload must then start with
 * its u64 size; the memfd is checked first, -EINVAL when it is not sealed or
 * the size differs). The caller keeps ownership of fd. A failed send kills the
 * session (its counter is used up and must never be reused); for a
 * non-blocking socket, use chan_seal + sock_send_frame and resend the same
 * bytes on -EAGAIN. */
int chan_send(struct chan_session *s, int sock, uint16_t type, const uint8_t *payload,
              size_t len, int fd) WUR;

/* Receives one frame into buf (cap bytes; CHAN_FRAME_MAX receives every legal
 * frame) and decrypts it in place: on success buf[0..*ret_len) is the payload,
 * *ret_fd the received memfd (owned by the caller) or -1. Returns 0 with
 * *ret_len == 0, *ret_type == 0 and no fd on orderly EOF. -EAGAIN (non-blocking,
 * nothing there) and -EINTR leave the session usable; every other failure
 * kills it and closes any received fd. The fd flag and the presence of an fd
 * must agree. */
int chan_recv(struct chan_session *s, int sock, uint8_t *buf, size_t cap, size_t *ret_len,
              uint16_t *ret_type, int *ret_fd) WUR;

/* Maps the bulk data of a received fd frame: reads the u64 length at the
 * start of payload, requires it <= max_len, maps the sealed memfd
 * (memfd_map_sealed) and requires its size to equal that length (-EBADMSG). */
int chan_bulk_map(int fd, const uint8_t *payload, size_t payload_len, size_t max_len,
                  const uint8_t **ret_map, size_t *ret_len) WUR;

#endif
