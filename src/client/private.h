/* private.h: the private data field, stored by Account but encrypted by the
 * client with the PFK (docs/PROTOCOL.md section 15.6). It holds what the
 * server must not know: the plaintext of the user's addresses (normal and
 * shield) next to their Addr32 and 8-byte hash, and optional nicknames.
 * Versioned, padded to 256-byte blocks, XChaCha20-Poly1305 with a random
 * nonce. */
#ifndef ALLEARS_CLIENT_PRIVATE_H
#define ALLEARS_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/apireq.h"
#include "common/buf.h"
#include "common/util.h"

#define PRIVATE_VERSION 1
#define PRIVATE_LABEL "allears private v1" /* AD: label || version byte */
#define PRIVATE_KEY_BYTES 32
#define PRIVATE_NONCE_BYTES 24
#define PRIVATE_TAG_BYTES 16
#define PRIVATE_OVERHEAD (1 + PRIVATE_NONCE_BYTES + PRIVATE_TAG_BYTES) /* 41 */
#define PRIVATE_BLOCK 256           /* the plaintext is a multiple of this */
#define PRIVATE_ENTRIES_MAX 31      /* = the most addresses a user holds */
#define PRIVATE_TEXT_MAX 64         /* address as typed, printable ASCII */
#define PRIVATE_NICK_MAX 64         /* nickname, UTF-8 without controls */
#define PRIVATE_ENTRY_FIXED (ADDR32_BYTES + ADDRHASH_BYTES + 2) /* 20 + text + nick */
#define PRIVATE_FIELD_MAX APIREQ_PRIVATE_MAX /* 8,192: what Account stores */
/* The largest plaintext: every entry at its limits, rounded up to a block. */
#define PRIVATE_PLAIN_MAX                                                                    \
	((2 + PRIVATE_ENTRIES_MAX * (PRIVATE_ENTRY_FIXED + PRIVATE_TEXT_MAX + PRIVATE_NICK_MAX) + \
	  PRIVATE_BLOCK - 1) / PRIVATE_BLOCK * PRIVATE_BLOCK) /* 4,608 */

struct private_entry {
	uint8_t addr[ADDR32_BYTES];
	uint8_t hash[ADDRHASH_BYTES];
	uint8_t text_len;                /* 0: show the canonical form */
	char text[PRIVATE_TEXT_MAX + 1]; /* NUL-terminated copy */
	uint8_t nick_len;
	char nick[PRIVATE_NICK_MAX + 1];
};

struct private_data {
	uint8_t count;
	struct private_entry e[PRIVATE_ENTRIES_MAX];
};

/* Checks one entry against the rules of 15.6 (the Addr32 NORMAL or SHIELD,
 * the text printable ASCII folding to exactly this Addr32, the nickname
 * UTF-8 without control or bidi characters). */
bool private_entry_valid(const struct private_entry *e);

/* The padded plaintext. -EINVAL (nothing appended) for an invalid entry, a
 * count above the limit or two entries with the same Addr32. */
int private_plain_encode(struct wr *w, const struct private_data *d) WUR;
/* Strict inverse: -EBADMSG for anything else (bad length or padding, a
 * reserved byte, an invalid entry, a duplicate). */
int private_plain_decode(struct private_data *ret, const uint8_t *p, size_t len) WUR;

/* Encrypts d under the PFK with a random nonce; appends version || nonce ||
 * ciphertext || tag. */
int private_seal(struct wr *w, const struct private_data *d,
                 const uint8_t pfk[PRIVATE_KEY_BYTES]) WUR;
/* Tests only. */
int private_seal_with_nonce(struct wr *w, const struct private_data *d,
                            const uint8_t pfk[PRIVATE_KEY_BYTES],
                            const uint8_t nonce[PRIVATE_NONCE_BYTES]) WUR;
/* Opens a stored field. An empty field is an empty list. -EBADMSG for a bad
 * length or version, -EACCES when the tag fails (another key, or changed),
 * and the plaintext rules after that (-EBADMSG). */
int private_open(struct private_data *ret, const uint8_t *p, size_t len,
                 const uint8_t pfk[PRIVATE_KEY_BYTES]) WUR;

/* Index of the entry with this Addr32, or -1. */
int private_find_addr(const struct private_data *d, const uint8_t addr[ADDR32_BYTES]);
/* Index of the entry with this hash and kind (SHIELD when shield), or -1. */
int private_find_hash(const struct private_data *d, const uint8_t hash[ADDRHASH_BYTES],
                      bool shield);
/* Index of the entry with this nickname (exact bytes), or -1. */
int private_find_nick(const struct private_data *d, const char *nick, size_t len);
/* Adds (or replaces the entry with the same Addr32). -EINVAL for an invalid
 * entry, -EDQUOT when full. */
int private_put(struct private_data *d, const struct private_entry *e) WUR;
void private_remove(struct private_data *d, int idx);

/* Fills an entry; text/nick may be NULL. -EINVAL if the result is invalid. */
int private_entry_make(struct private_entry *ret, const uint8_t addr[ADDR32_BYTES],
                       const uint8_t hash[ADDRHASH_BYTES], const char *text, size_t text_len,
                       const char *nick, size_t nick_len) WUR;

/* True for UTF-8 text without C0/C1 controls, DEL or bidi formatting
 * characters: safe to print on a terminal (also used for nicknames). */
bool private_text_safe(const uint8_t *p, size_t n);

#endif
