/* envelope.h: Envelopes, the at-rest form of every stored Message. Storage seals
 * with the recipient's Envelope Public Key (EPK) and keeps no key that opens the
 * result; the client opens with its Envelope Secret Key (ESK). X25519 + BLAKE2b +
 * ChaCha20, padded to 32-byte blocks, NOT authenticated.
 * Byte layout, derivation and limits: docs/PROTOCOL.md section 4. */
#ifndef ALLEARS_ENVELOPE_H
#define ALLEARS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define ENVELOPE_BLOCK 32                   /* every envelope is a whole number of blocks */
#define ENVELOPE_MIN_BLOCKS 4
#define ENVELOPE_MIN_BYTES (ENVELOPE_MIN_BLOCKS * ENVELOPE_BLOCK)   /* 128 */
#define ENVELOPE_MAX_BYTES (48u * 1024u * 1024u)                    /* 48 MiB */
#define ENVELOPE_MAX_BLOCKS (ENVELOPE_MAX_BYTES / ENVELOPE_BLOCK)   /* 1,572,864 */
#define ENVELOPE_PK_BYTES 32                /* ephemeral X25519 public key in front */
#define ENVELOPE_KEY_BYTES 32               /* EPK, ESK */
#define ENVELOPE_OVERHEAD 34                /* public key + version + pad_len */
#define ENVELOPE_VERSION 0x01
#define ENVELOPE_MAX_MSG (ENVELOPE_MAX_BYTES - ENVELOPE_OVERHEAD)   /* 50,331,614 */
#define ENVELOPE_MAX_PAD (ENVELOPE_MIN_BYTES - ENVELOPE_OVERHEAD)   /* 94 */

/* Envelope length for a message of msg_len bytes: the smallest multiple of
 * ENVELOPE_BLOCK, at least ENVELOPE_MIN_BYTES, holding msg_len + 34 bytes.
 * 0 when msg_len > ENVELOPE_MAX_MSG. */
size_t envelope_size_for(size_t msg_len);

/* True when len is a length some envelope has (block multiple, within limits). */
bool envelope_size_valid(size_t len);

/* Seals msg into out, which must be exactly envelope_size_for(msg_len) bytes.
 * msg may overlap out (Storage can place the message at out + 34 and seal in
 * place); it is copied once. -EINVAL for a wrong out_len, a message over
 * ENVELOPE_MAX_MSG, or a degenerate (low-order) EPK; out is then unspecified. */
int envelope_seal(uint8_t *out, size_t out_len, const uint8_t *msg, size_t msg_len,
                  const uint8_t epk[ENVELOPE_KEY_BYTES]) WUR;

/* TESTS ONLY: envelope_seal with a chosen ephemeral secret key, for known-answer
 * tests. Reusing an ephemeral key across messages reuses the keystream between
 * envelopes of equal size: never call this outside tests. */
int envelope_seal_with_ephemeral(uint8_t *out, size_t out_len, const uint8_t *msg,
                                 size_t msg_len, const uint8_t epk[ENVELOPE_KEY_BYTES],
                                 const uint8_t eph_sk[ENVELOPE_KEY_BYTES]) WUR;

/* Opens env[0..env_len) with the user's key pair, writing the message to
 * out_msg and its length to *ret_msg_len. out_cap >= env_len - 34 always
 * suffices. -EINVAL: env_len is not a valid envelope length, or the message
 * does not fit out_cap. -EBADMSG: wrong key or corrupt envelope (bad version,
 * pad_len, non-zero padding, degenerate ephemeral key). Nothing is written to
 * out_msg or *ret_msg_len unless the call succeeds. This is a wrong-key and
 * corruption check only: envelopes carry no MAC (section 4.6). */
int envelope_open(uint8_t *out_msg, size_t out_cap, size_t *ret_msg_len, const uint8_t *env,
                  size_t env_len, const uint8_t esk[ENVELOPE_KEY_BYTES],
                  const uint8_t epk[ENVELOPE_KEY_BYTES]) WUR;

#endif
