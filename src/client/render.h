/* render.h: mail as terminal text. Header strings pass through
 * render_text(), which keeps the terminal-safety guarantee of the CET
 * renderer (docs/PROTOCOL.md 6.3): no C0 or C1 control, no DEL, no bidi
 * formatting character, valid UTF-8, so a sender can inject no escape
 * sequence through a header; bodies go through cet_render_text. */
#ifndef ALLEARS_CLIENT_RENDER_H
#define ALLEARS_CLIENT_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/mail.h"
#include "common/buf.h"
#include "common/util.h"

#define RENDER_FROM_COLS 28    /* `mail list` column widths, in characters */
#define RENDER_SUBJECT_COLS 44
#define RENDER_DATE_MAX 40
#define RENDER_HEADER_COLS 2000 /* longest header value shown in `mail read` */

struct render_opts {
	bool ansi;      /* SGR for the body and bold labels (a tty without NO_COLOR) */
	unsigned width; /* rule width for the body; 0 = CET_WIDTH_DEFAULT */
};

/* Appends p[0..n) made terminal-safe: invalid UTF-8 and controls become '?',
 * bidi formatting characters are dropped, U+2028/U+2029 become spaces. With
 * max_cols > 0 the text is cut to that many characters, the last being an
 * ellipsis when something was cut. */
void render_text(struct wr *out, const uint8_t *p, size_t n, size_t max_cols);
/* An ADDRS field (entries separated by LF, "name" 0x7F "address") as
 * "name <address>, address2"; safe as render_text. */
void render_addrs(struct wr *out, const uint8_t *p, size_t n, size_t max_cols);
/* The canonical text of an Addr32, "system" for all-zero, "?" if invalid. */
void render_addr32(char out[ADDR32_TEXT_MAX + 8], const uint8_t a[ADDR32_BYTES]);
/* Local time "YYYY-MM-DD HH:MM" (short) or "YYYY-MM-DD HH:MM:SS +zzzz". */
void render_date(char out[RENDER_DATE_MAX], uint64_t ts_ms, bool full);
/* "123 B", "4.5 KiB", "1.2 MiB". */
void render_size(char out[32], uint64_t bytes);

/* The "from" and "subject" columns of a listing (also used for JSON). */
void render_from(struct wr *out, const struct mail *m, size_t max_cols);
void render_subject(struct wr *out, const struct mail *m, size_t max_cols);
/* One `mail list` line, ending in LF. */
void render_list_line(struct wr *out, const struct mail *m);

/* The whole message: headers, a summary of its transport security, the
 * attachments (UplMsgs of this ExtMsg, already opened by the caller) and
 * the body. 0, or -EINVAL for bad options. A body that is not valid CET is
 * replaced by a notice. */
int render_mail(struct wr *out, const struct mail *m, const struct mail *const *att,
                size_t n_att, const struct render_opts *o) WUR;

/* The body alone, rendered (used for JSON with ansi off). */
int render_body(struct wr *out, const struct mail *m, const struct render_opts *o) WUR;

/* The names of codes, for text and JSON. */
const char *render_tls_name(uint8_t v);
const char *render_spf_name(uint8_t v);
const char *render_dmarc_name(uint8_t v);
const char *render_dkim_result_name(uint8_t v);
const char *render_out_status_name(uint8_t v);
const char *render_upl_kind_name(uint8_t v);
/* IP address text ("" for family 0). */
void render_ip(char out[64], uint8_t family, const uint8_t ip[16]);

#endif
