/* datastream.h: the text after DATA as a streaming state machine: undoes
 * dot-stuffing, finds the end (only CR LF "." CR LF ends it, RFC 5321 4.1.1.4;
 * a bare LF never does, so no "SMTP smuggling"), and notes what is odd (bare
 * LF or CR, NUL, lines over 1000 octets) while keeping every byte. Works on
 * any split of the input, with no allocation. docs/PROTOCOL.md section 18. */
#ifndef ALLEARS_MTA_DATASTREAM_H
#define ALLEARS_MTA_DATASTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output of one call is at most its input plus what an earlier call held
 * back (".", CR, "." CR): size the output buffer n + DATASTREAM_SLACK. */
#define DATASTREAM_SLACK 4

#define DATASTREAM_BARE_LF 0x01  /* a line ended in LF alone */
#define DATASTREAM_BARE_CR 0x02  /* a CR not followed by LF */
#define DATASTREAM_NUL 0x04      /* a NUL byte */
#define DATASTREAM_LONG_LINE 0x08 /* a line over SMTP_TEXT_LINE_MAX octets with its CRLF */

struct datastream {
	uint8_t state;
	bool done;        /* the terminating CR LF "." CR LF was seen */
	uint8_t odd;      /* DATASTREAM_* seen so far */
	size_t line_len;  /* octets of the current line so far (after unstuffing) */
};

void datastream_init(struct datastream *d);
/* Consumes in[0..n) up to and including the end marker: returns how many
 * bytes it used (less than n only when it found the end; the rest belongs
 * to the next command). Writes the message bytes to out (capacity at least
 * n + DATASTREAM_SLACK) and their count to *ret_out. */
size_t datastream_feed(struct datastream *d, const uint8_t *in, size_t n, uint8_t *out,
                       size_t *ret_out);

#endif
