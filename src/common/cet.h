/* cet.h: Control-Enriched Text, the body format of stored messages
 * (docs/PROTOCOL.md section 6): UTF-8 text in which a few control characters
 * are markup. Validation is strict so that Deliver, Storage and the client
 * agree on one grammar; the renderer turns CET into terminal text that can
 * never carry a control sequence chosen by the sender. */
#ifndef ALLEARS_CET_H
#define ALLEARS_CET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

/* Every function here takes p == NULL when len == 0 (an empty struct wr). */

/* The CET character set (PROTOCOL.md 6.1). Every other byte below 0x20 is
 * invalid: 0x00, 0x05-0x09, 0x0C-0x10. */
enum cet_char {
	CET_LINK_HTTP = 0x01,  /* document link, http: 0x01 url 0x01 */
	CET_LINK_HTTPS = 0x02, /* document link, https */
	CET_FILE_HTTP = 0x03,  /* file/media link (img, audio, video, ...), http */
	CET_FILE_HTTPS = 0x04, /* file/media link, https */
	CET_LF = 0x0A,         /* line break */
	CET_HR = 0x0B,         /* horizontal rule */
	CET_BIG = 0x11,        /* toggles: each occurrence flips the state */
	CET_SMALL = 0x12,
	CET_SUB = 0x13,
	CET_SUP = 0x14,
	CET_MONO = 0x15,
	CET_BOLD = 0x16,
	CET_ITALIC = 0x17,
	CET_UNDERLINE = 0x18,
	CET_STRIKE = 0x19,
	CET_TABLE = 0x1A,      /* layout: opens, or closes when it is the innermost */
	CET_ROW = 0x1B,
	CET_CELL = 0x1C,
	CET_OL = 0x1D,
	CET_UL = 0x1E,
	CET_ITEM = 0x1F,
	CET_SEP = 0x7F,        /* separator: alternatives, header/body, name/address */
};

/* Largest CET document, the same as the largest message body. */
#define CET_MAX_BYTES (32u * 1024u * 1024u) /* = MSG_BODY_MAX in message.h */
/* Largest link span (the URL without its scheme) and its host part. */
#define CET_URL_MAX 4096u
#define CET_HOST_MAX 253u
/* Deepest layout nesting (tables, rows, cells, lists, items together). */
#define CET_DEPTH_MAX 32u
/* Most alternatives (0x7F-separated sections) in one document. */
#define CET_ALT_MAX 1024u

/* Renderer limits: the rule width and the output size (a cap on the
 * amplification of rules, indentation and ANSI sequences). */
#define CET_WIDTH_DEFAULT 72u
#define CET_WIDTH_MAX 1024u
#define CET_RENDER_MAX (64u * 1024u * 1024u)
#define CET_RENDER_MIN 64u
/* Most consecutive line breaks cet_from_plain keeps (two blank lines). */
#define CET_PLAIN_MAX_LF 3u

struct cet_stats {
	size_t links;        /* document links (0x01, 0x02) */
	size_t media;        /* file/media links (0x03, 0x04) */
	size_t alternatives; /* number of 0x7F separators + 1 */
};

struct cet_render_opts {
	bool ansi;        /* emit SGR sequences for bold/italic/underline/strike/dim */
	unsigned width;   /* horizontal rule width; 0 = CET_WIDTH_DEFAULT */
	size_t max_bytes; /* output cap; 0 = CET_RENDER_MAX; then truncated with a marker */
};

/* Checks p against the rules of PROTOCOL.md 6.2. Returns 0 (and fills
 * *ret_stats when not NULL), -E2BIG when len > CET_MAX_BYTES, or -EBADMSG. */
int cet_validate(const uint8_t *p, size_t len, struct cet_stats *ret_stats) WUR;

/* True if u (the content of a link span) is an acceptable scheme-less URL. */
bool cet_url_valid(const uint8_t *u, size_t n) WUR;

/* Validates, then appends the plain-text rendering of p to out
 * (PROTOCOL.md 6.3). Returns cet_validate's error (out untouched) or
 * -EINVAL for bad options; 0 on success. o may be NULL for the defaults. */
int cet_render_text(struct wr *out, const uint8_t *p, size_t len,
                    const struct cet_render_opts *o) WUR;

/* Appends the CET form of a text/plain body (already UTF-8) to out
 * (PROTOCOL.md 6.4). The result always passes cet_validate. Returns 0, or
 * -E2BIG when the input or the result exceeds CET_MAX_BYTES (out untouched). */
int cet_from_plain(struct wr *out, const uint8_t *p, size_t len) WUR;

#endif
