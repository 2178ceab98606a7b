/* mime.h: turns one raw email (RFC 5322 + MIME) into what an ExtMsg holds:
 * the main header fields in UTF-8, the remaining header lines, the body as
 * CET and the attachments. Never fails on broken input: it repairs what it
 * can and says so in the flags. Every length, count and depth is bounded.
 * Conversion rules: docs/PROTOCOL.md section 19. */
#ifndef ALLEARS_DELIVER_MIME_H
#define ALLEARS_DELIVER_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

#define MIME_DEPTH_MAX 16       /* nested multiparts */
#define MIME_PARTS_MAX 512      /* parts in all */
#define MIME_HEADER_LINES_MAX 1024
#define MIME_ATTACH_MAX 64      /* = MSG_ATTACH_MAX */

/* result flags; numerically equal to the ExtMsg flags they become */
#define MIME_F_REPAIRED 0x0800      /* = MSG_EXT_F_MIME_REPAIRED */
#define MIME_F_BODY_TRUNC 0x1000    /* = MSG_EXT_F_BODY_TRUNC */
#define MIME_F_HEADERS_TRUNC 0x2000 /* = MSG_EXT_F_HEADERS_TRUNC */
#define MIME_F_ATTACH_DROPPED 0x4000 /* = MSG_EXT_F_ATTACH_DROPPED */

struct mime_attachment {
	struct wr media_type; /* "type/subtype", lower-case ASCII, <= 127 bytes */
	struct wr name;       /* file name, UTF-8 LINE class, 1..255 bytes (made up when absent) */
	struct wr data;       /* decoded content */
};

struct mime_result {
	/* Each wr holds text valid for the ExtMsg field's class (message.h,
	 * msg_text_valid) and within its limit; empty when absent. */
	struct wr from;        /* ADDRS: "Name" 0x7F "addr", LF between entries */
	struct wr to;          /* ADDRS */
	struct wr cc;          /* ADDRS */
	struct wr reply_to;    /* ADDRS */
	struct wr msg_id;      /* LINE, without <> */
	struct wr in_reply_to; /* LINE, without <> */
	struct wr subject;     /* LINE */
	struct wr headers;     /* LINES: the other "Name: value" lines, unfolded, decoded */
	struct wr body;        /* CET: every text version, CET_SEP (0x7F) between versions */
	size_t body_last;      /* offset in body where the last (preferred) version starts */
	bool has_date;
	int64_t date;          /* the Date header as Unix seconds, when has_date */
	int16_t tz_minutes;    /* its zone offset in minutes, when has_date */
	uint16_t flags;        /* MIME_F_* */
	size_t attach_seen;    /* attachments found (may exceed attach_count) */
	size_t attach_count;
	struct mime_attachment attach[MIME_ATTACH_MAX];
};

struct mime_limits {
	size_t body_max;        /* CET bytes kept (MSG_BODY_MAX when 0) */
	size_t attach_max_bytes; /* one attachment's decoded size (when 0: 32 MiB) */
};

/* Parses msg (CRLF or LF line ends). Returns 0, or -ENOMEM. The result is
 * always usable after 0, whatever the input was. */
int mime_parse(const uint8_t *msg, size_t len, const struct mime_limits *lim,
               struct mime_result *ret) WUR;
void mime_result_free(struct mime_result *r);

/* HTML (UTF-8) to CET, appended to out (docs/PROTOCOL.md 19.x); returns 0 or -ENOMEM. */
int html_to_cet(struct wr *out, const uint8_t *html, size_t len, size_t max_out) WUR;

/* Any charset label to UTF-8 via iconv; unknown labels and invalid bytes
 * become U+FFFD; appends to out. Returns 0, or -ENOMEM. */
int charset_to_utf8(struct wr *out, const char *charset, const uint8_t *p, size_t n) WUR;

#endif
