/* utf8.h: strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). Used by every decoder that carries text. */
#ifndef ALLEARS_UTF8_H
#define ALLEARS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence starting at p (1-4), or 0 if invalid. */
size_t utf8_seq_len(const uint8_t *p, size_t left, uint32_t *ret_cp);
/* True if all n bytes are valid UTF-8. */
bool utf8_valid(const uint8_t *p, size_t n);

#endif
