/* addr32.h: Addr32, the 10-byte form of an email local part, bit-exact with
 * All-Ears Mail. Normal addresses (1-15 characters) are chosen by users,
 * shield addresses (16 characters) are random and made by the server.
 * Alphabet, folding, bit layout and forbidden values: docs/PROTOCOL.md section 2. */
#ifndef ALLEARS_ADDR32_H
#define ALLEARS_ADDR32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define ADDR32_BYTES 10        /* 80 bits */
#define ADDR32_MAX_NORMAL 15   /* longest normal address, in characters */
#define ADDR32_SHIELD_CHARS 16 /* every shield address has exactly this many */
#define ADDR32_TEXT_MAX (ADDR32_SHIELD_CHARS + 1) /* decode buffer, with the NUL */

enum addr32_kind {
	ADDR32_INVALID = 0,
	ADDR32_NORMAL = 1,
	ADDR32_SHIELD = 2,
};

/* Encoding of the normal address "system", the sender of system messages; no
 * user can own it (addr32_classify calls it invalid). */
extern const uint8_t addr32_system[ADDR32_BYTES];

/* Folds s[0..len) (any bytes; non-alphanumerics are dropped) and packs the
 * first 16 significant characters into out. Returns how many significant
 * characters s holds (saturating at INT_MAX); 0 and values above 16 are the
 * caller's to judge. Never reads past len; out is always written. */
int addr32_encode(const char *s, size_t len, uint8_t out[ADDR32_BYTES]);

/* NORMAL, SHIELD or INVALID (empty normal, non-zero unused bits, "system",
 * the forbidden shield value); section 2.4. */
enum addr32_kind addr32_classify(const uint8_t a[ADDR32_BYTES]);

/* addr32_encode + addr32_classify, with more than 16 significant characters
 * (or none) giving ADDR32_INVALID. out is always written. */
enum addr32_kind addr32_parse(const char *s, size_t len, uint8_t out[ADDR32_BYTES]);

/* Canonical lowercase text of a valid address into out (NUL-terminated),
 * returning its length (1-16). -EINVAL for a malformed value (empty, non-zero
 * unused bits), -EPERM for a forbidden one; out is then left untouched. */
int addr32_decode(const uint8_t a[ADDR32_BYTES], char out[ADDR32_TEXT_MAX]) WUR;

/* True for the names only the admin may register (abuse, admin, ...). */
bool addr32_is_reserved(const uint8_t a[ADDR32_BYTES]);

/* A fresh random shield address: 80 random bits with the shield bit set,
 * drawn again while the value is forbidden. */
void addr32_shield_random(uint8_t out[ADDR32_BYTES]);

#endif
