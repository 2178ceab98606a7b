/* mimeint.h: what the files of Deliver's MIME library share among themselves
 * (mime.c, mimehdr.c, html.c, charset.c). Not for the rest of Deliver, which
 * uses mime.h. Rules: docs/PROTOCOL.md section 19. */
#ifndef ALLEARS_DELIVER_MIMEINT_H
#define ALLEARS_DELIVER_MIMEINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

/* wr_bytes, but a no-op for n == 0 (wr_reserve on an empty writer would do
 * pointer arithmetic on NULL). */
static inline void wr_put(struct wr *w, const void *p, size_t n)
{
	if (n)
		wr_bytes(w, p, n);
}

/* ---- charset.c ---- */

/* Longest charset label looked at; longer ones are unknown. */
#define CHARSET_LABEL_MAX 40

/* Appends p as UTF-8, copying valid sequences and writing U+FFFD for each
 * byte that does not start one. */
void utf8_append_lenient(struct wr *out, const uint8_t *p, size_t n);
/* Appends p as UTF-8 when it is valid UTF-8, else decodes it as windows-1252
 * (the rule for unlabelled 8-bit text). */
void text_append_auto(struct wr *out, const uint8_t *p, size_t n);
/* The code point of a windows-1252 byte (U+FFFD where it defines none). */
uint32_t cp1252_to_cp(uint8_t b);
/* Appends the UTF-8 encoding of cp (a scalar value). */
void utf8_put(struct wr *out, uint32_t cp);

/* ---- html.c ---- */

/* html_to_cet, also telling whether the output was cut at max_out. */
int html_convert(struct wr *out, const uint8_t *html, size_t len, size_t max_out,
                 bool *ret_truncated) WUR;

/* ---- mimehdr.c: header fields ---- */

/* Most nested comment levels in a structured field; deeper ones are text. */
#define MIMEHDR_COMMENT_DEPTH_MAX 32
/* Longest parameter name or RFC 2231 section count kept. */
#define MIMEHDR_PARAM_NAME_MAX 64
#define MIMEHDR_PARAM_SECTIONS_MAX 64
/* Longest encoded-word charset label. */
#define MIMEHDR_EW_CHARSET_MAX CHARSET_LABEL_MAX

/* Appends the unfolded value of a raw header field value (CR and LF of folds
 * removed) converted to UTF-8 (valid UTF-8 kept, else windows-1252). */
void mimehdr_unfold(struct wr *out, const uint8_t *v, size_t n);

/* Appends the RFC 2047-decoded form of an unstructured UTF-8 value (Subject,
 * other headers); control characters become spaces, whitespace runs are
 * collapsed to one space and the ends trimmed. */
void mimehdr_decode_text(struct wr *out, const uint8_t *v, size_t n);

/* Appends the ADDRS form of an address-list value (already unfolded UTF-8):
 * one entry per mailbox, "name" 0x7F "addr" or "addr", LF between entries,
 * never over max bytes (whole entries only). Returns true when entries were
 * left out because of max. If out already holds entries, a LF is written
 * before the first new one. */
bool mimehdr_addrs(struct wr *out, const uint8_t *v, size_t n, size_t max);

/* The message id inside the first <...> of v, or the first word when there
 * are no angle brackets; appends it (LINE class). */
void mimehdr_msgid(struct wr *out, const uint8_t *v, size_t n);

/* RFC 5322 date (obsolete forms included). Returns true and fills the
 * results when v holds a usable date. */
bool mimehdr_date(const uint8_t *v, size_t n, int64_t *ret_time, int16_t *ret_tz);

/* A parsed Content-Type or Content-Disposition value. */
struct mimehdr_ctype {
	char type[64];     /* lower-case; "" when absent or invalid */
	char subtype[64];  /* lower-case */
	struct wr boundary; /* raw bytes */
	struct wr charset;  /* lower-case label */
	struct wr name;     /* Content-Type name= or Content-Disposition filename=, UTF-8 */
	bool flowed;        /* format=flowed */
	bool delsp;         /* delsp=yes */
	bool has_boundary;
};

/* Parses value v of Content-Type (is_disp false) or Content-Disposition (is_disp
 * true: type holds the disposition, name the filename) into ct, which the
 * caller zeroes first and frees with mimehdr_ctype_free. */
void mimehdr_ctype_parse(struct mimehdr_ctype *ct, const uint8_t *v, size_t n, bool is_disp);
void mimehdr_ctype_free(struct mimehdr_ctype *ct);

/* Drops every C0/C1 control and DEL from a UTF-8 buffer (in place): TAB, CR
 * and LF become spaces; whitespace runs are collapsed and the ends trimmed. */
void mimehdr_clean_line(struct wr *w, size_t from);

#endif
