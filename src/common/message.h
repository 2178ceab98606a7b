/* message.h: the four Message formats (ExtMsg, IntMsg, OutMsg, UplMsg) that
 * Storage seals into Envelopes. Byte layouts, limits and rejection rules are in
 * docs/PROTOCOL.md section 5. Decoded structs point into the input buffer. */
#ifndef ALLEARS_MESSAGE_H
#define ALLEARS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/buf.h"
#include "common/util.h"

/* ---- Common header (5.1) ---- */
#define MSG_VERSION 1
#define MSG_HEADER_BYTES 12
/* Whole message, header included; an Envelope of it fits in 48 MiB. */
#define MESSAGE_MAX_BYTES (40u * 1024 * 1024)

enum msg_type {
	MSG_EXT = 0, /* incoming email */
	MSG_INT = 1, /* internal message (user or system) */
	MSG_OUT = 2, /* delivery report for a sent email */
	MSG_UPL = 3, /* a file: upload, attachment or email source */
	MSG_TYPE_MAX = 3,
};

struct msg_header {
	uint8_t version;
	uint8_t type;  /* enum msg_type */
	uint64_t ts;   /* Unix ms, when the server received or created it */
};

/* Checks the 12-byte header and the total size only; returns the type (>= 0),
 * -EMSGSIZE (over MESSAGE_MAX_BYTES) or -EBADMSG. */
int msg_header_decode(struct msg_header *ret, const uint8_t *p, size_t len) WUR;
/* Fully decodes p with the decoder for its type; returns the type or <0. */
int msg_check(const uint8_t *p, size_t len) WUR;

/* ---- Strings and text classes (5.2) ---- */

/* A length-prefixed field. After decoding, p points into the input buffer (or
 * is NULL only when len is 0 and the field was never set). */
struct msg_str {
	const uint8_t *p;
	size_t len;
};
/* For string literals only. */
#define MSG_STR(s) ((struct msg_str){ (const uint8_t *)(s), sizeof(s) - 1 })

enum msg_text {
	MSG_TEXT_LINE = 0,  /* UTF-8, no control character (U+0000-001F, U+007F-009F) */
	MSG_TEXT_ADDRS = 1, /* as LINE, but LF (between addresses) and 0x7F (name|address) allowed */
	MSG_TEXT_LINES = 2, /* as LINE, but LF allowed */
	MSG_TEXT_UTF8 = 3,  /* any valid UTF-8 (CET bodies) */
};

bool msg_text_valid(const uint8_t *p, size_t n, enum msg_text cls);
/* For producers: overwrites, in place and keeping the length, every byte that
 * makes p invalid for cls with '?', so the result passes msg_text_valid. */
void msg_text_sanitize(uint8_t *p, size_t n, enum msg_text cls);
/* For producers: the largest length <= max that does not split a UTF-8
 * sequence of p (p is valid UTF-8). Returns n when n <= max. */
size_t msg_text_cut(const uint8_t *p, size_t n, size_t max);

/* ---- Shared enums ---- */
enum msg_ip_family { MSG_IP_NONE = 0, MSG_IP_V4 = 4, MSG_IP_V6 = 6 };
#define MSG_IP_BYTES 16

enum msg_tls {
	MSG_TLS_NONE = 0,
	MSG_TLS_1_0 = 1,
	MSG_TLS_1_1 = 2,
	MSG_TLS_1_2 = 3,
	MSG_TLS_1_3 = 4,
	MSG_TLS_MAX = 4,
};

/* ---- Limits (5.3); every one is a maximum length in bytes ---- */
#define MSG_ENV_FROM_MAX 255        /* u8 */
#define MSG_ENV_TO_MAX 64           /* u8, at least 1 */
#define MSG_HELO_MAX 255            /* u8 */
#define MSG_RDNS_MAX 255            /* u8 */
#define MSG_ASN_MAX 255             /* u8 */
#define MSG_ADDR_LIST_MAX 16384     /* u16: header From, To, Cc, Reply-To */
#define MSG_MSGID_MAX 998           /* u16: Message-ID, In-Reply-To */
#define MSG_SUBJECT_MAX 2048        /* u16: ExtMsg, OutMsg */
#define MSG_HEADERS_MAX (256u * 1024) /* u32 */
#define MSG_BODY_MAX (32u * 1024 * 1024) /* u32: ExtMsg, IntMsg, OutMsg */
#define MSG_DKIM_MAX 8
#define MSG_DKIM_DOMAIN_MAX 255     /* u8 */
#define MSG_DKIM_SELECTOR_MAX 255   /* u8 */
#define MSG_ATTACH_MAX 64
#define MSG_INT_SUBJECT_MAX 255     /* u8 */
#define MSG_LOCAL_MAX 64            /* u8: OutMsg sender local part, at least 1 */
#define MSG_RCPT_MAX 255            /* u8: OutMsg recipient, at least 1 */
#define MSG_MX_MAX 255              /* u8 */
#define MSG_SMTP_LINE_MAX 512       /* u16: OutMsg greeting and last reply */
#define MSG_MEDIA_TYPE_MAX 127      /* u8 */
#define MSG_FILENAME_MAX 255        /* u8, at least 1 */
#define MSG_DATA_MAX MESSAGE_MAX_BYTES /* u32; the total limit binds first */

/* ---- ExtMsg (5.4) ---- */
#define MSG_EXT_FIXED_BYTES 54
#define MSG_DKIM_FIXED_BYTES 24

/* Session and parsing flags (u16). */
#define MSG_EXT_F_ESMTP 0x0001          /* EHLO, not HELO */
#define MSG_EXT_F_STARTTLS 0x0002       /* the client gave STARTTLS */
#define MSG_EXT_F_PIPELINING 0x0004     /* commands arrived pipelined */
#define MSG_EXT_F_HELO_MATCH 0x0008     /* HELO name resolves to the peer IP */
#define MSG_EXT_F_RDNS_MATCH 0x0010     /* reverse DNS name resolves back to the peer IP */
#define MSG_EXT_F_BARE_LF 0x0020        /* a line ended in LF without CR */
#define MSG_EXT_F_PROTO_VIOLATION 0x0040
#define MSG_EXT_F_INVALID_CMDS 0x0080   /* unknown or unsupported commands */
#define MSG_EXT_F_RARE_CMDS 0x0100      /* RSET, VRFY or NOOP */
#define MSG_EXT_F_8BITMIME 0x0200       /* BODY=8BITMIME declared */
#define MSG_EXT_F_SMTPUTF8 0x0400       /* SMTPUTF8 declared */
#define MSG_EXT_F_MIME_REPAIRED 0x0800  /* parse errors; broken MIME was repaired */
#define MSG_EXT_F_BODY_TRUNC 0x1000     /* the body was cut to its limit */
#define MSG_EXT_F_HEADERS_TRUNC 0x2000  /* a header field was cut to its limit */
#define MSG_EXT_F_ATTACH_DROPPED 0x4000 /* attachments were not stored (count/size) */
#define MSG_EXT_F_ALL 0x7FFF

enum msg_spf {
	MSG_SPF_UNCHECKED = 0,
	MSG_SPF_NONE = 1,
	MSG_SPF_NEUTRAL = 2,
	MSG_SPF_PASS = 3,
	MSG_SPF_FAIL = 4,
	MSG_SPF_SOFTFAIL = 5,
	MSG_SPF_TEMPERROR = 6,
	MSG_SPF_PERMERROR = 7,
	MSG_SPF_MAX = 7,
};

enum msg_dmarc {
	MSG_DMARC_UNCHECKED = 0,
	MSG_DMARC_NONE = 1,
	MSG_DMARC_PASS = 2,
	MSG_DMARC_FAIL = 3,
	MSG_DMARC_TEMPERROR = 4,
	MSG_DMARC_PERMERROR = 5,
	MSG_DMARC_MAX = 5,
};

#define MSG_TZ_NONE INT16_MIN          /* Date header absent or unparseable */
#define MSG_TZ_MAX_MINUTES 5999        /* +9959 / -9959 */
#define MSG_DATE_DELTA_NONE INT32_MIN  /* Date header absent or unparseable */

enum msg_dkim_algo {
	MSG_DKIM_ALGO_UNKNOWN = 0,
	MSG_DKIM_ALGO_RSA_SHA1 = 1,
	MSG_DKIM_ALGO_RSA_SHA256 = 2,
	MSG_DKIM_ALGO_ED25519_SHA256 = 3,
	MSG_DKIM_ALGO_MAX = 3,
};

enum msg_dkim_result { /* RFC 8601 dkim= values */
	MSG_DKIM_NONE = 0,
	MSG_DKIM_PASS = 1,
	MSG_DKIM_FAIL = 2,
	MSG_DKIM_NEUTRAL = 3,
	MSG_DKIM_TEMPERROR = 4,
	MSG_DKIM_PERMERROR = 5,
	MSG_DKIM_POLICY = 6,
	MSG_DKIM_RESULT_MAX = 6,
};

enum msg_dkim_canon { MSG_DKIM_SIMPLE = 0, MSG_DKIM_RELAXED = 1, MSG_DKIM_CANON_MAX = 1 };

#define MSG_DKIM_F_LENGTH 0x0001     /* l= used: only part of the body is signed */
#define MSG_DKIM_F_T 0x0002          /* t= present */
#define MSG_DKIM_F_X 0x0004          /* x= present */
#define MSG_DKIM_F_EXPIRED 0x0008    /* x= is before the receive time */
#define MSG_DKIM_F_FUTURE 0x0010     /* t= is after the receive time */
#define MSG_DKIM_F_TEST 0x0020       /* key record t=y */
#define MSG_DKIM_F_STRICT 0x0040     /* key record t=s */
#define MSG_DKIM_F_I_ENV_FROM 0x0080 /* i= equals the envelope From */
#define MSG_DKIM_F_I_HDR_FROM 0x0100 /* i= equals the header From address */
#define MSG_DKIM_F_I_REPLY_TO 0x0200 /* i= equals the Reply-To address */
#define MSG_DKIM_F_ALL 0x03FF

struct msg_dkim {
	uint8_t algo;       /* enum msg_dkim_algo */
	uint8_t result;     /* enum msg_dkim_result */
	uint8_t head_canon; /* enum msg_dkim_canon */
	uint8_t body_canon; /* enum msg_dkim_canon */
	uint16_t key_bits;  /* 0 when unknown */
	uint16_t flags;     /* MSG_DKIM_F_* */
	uint64_t t;         /* t= in Unix seconds, 0 unless MSG_DKIM_F_T */
	uint64_t x;         /* x= in Unix seconds, 0 unless MSG_DKIM_F_X */
	struct msg_str domain;   /* d=, LINE */
	struct msg_str selector; /* s=, LINE */
};

struct msg_ext {
	uint64_t ts;
	uint64_t ref;        /* random, non-zero; attachments name it as parent */
	uint8_t ip_family;   /* MSG_IP_V4 or MSG_IP_V6 */
	uint8_t ip[MSG_IP_BYTES]; /* v4 in ip[0..3], rest zero */
	uint8_t tls_version; /* enum msg_tls */
	uint16_t tls_suite;  /* IANA cipher suite; 0 iff tls_version is 0 */
	uint16_t flags;      /* MSG_EXT_F_* */
	uint8_t spf;         /* enum msg_spf */
	uint8_t dmarc;       /* enum msg_dmarc */
	int16_t tz_minutes;  /* Date header zone, or MSG_TZ_NONE */
	int32_t date_delta;  /* received - Date in s, or MSG_DATE_DELTA_NONE */
	uint8_t country[2];  /* ISO 3166 'A'-'Z' x2, or 0,0 when unknown */
	uint8_t attach_count; /* attachments seen, informational */
	uint8_t dkim_count;
	struct msg_dkim dkim[MSG_DKIM_MAX];
	struct msg_str env_from;   /* MAIL FROM, empty for <> */
	struct msg_str env_to;     /* local part delivered for */
	struct msg_str helo;
	struct msg_str rdns;
	struct msg_str asn;        /* AS organisation name */
	struct msg_str hdr_from;   /* ADDRS: "Name" 0x7F "addr", LF between */
	struct msg_str hdr_to;
	struct msg_str cc;
	struct msg_str reply_to;
	struct msg_str msg_id;     /* without angle brackets */
	struct msg_str in_reply_to;
	struct msg_str subject;
	struct msg_str headers;    /* remaining "Name: value" lines, LF-separated */
	struct msg_str body;       /* CET (checked as UTF-8 only) */
};

int msg_ext_encode(struct wr *w, const struct msg_ext *m) WUR;
int msg_ext_decode(struct msg_ext *ret, const uint8_t *p, size_t len) WUR;

/* ---- IntMsg (5.5) ---- */
#define MSG_INT_FIXED_BYTES 34
#define MSG_ADDR32_BYTES ADDR32_BYTES

enum msg_int_kind { MSG_INT_SYSTEM = 0, MSG_INT_USER = 1, MSG_INT_KIND_MAX = 1 };
#define MSG_INT_F_ADMIN 0x01     /* the sender is an administrator */
#define MSG_INT_F_BROADCAST 0x02 /* sent to every user; needs ADMIN, to is zero */
#define MSG_INT_F_ALL 0x03

struct msg_int {
	uint64_t ts;
	uint8_t kind;  /* enum msg_int_kind */
	uint8_t flags; /* MSG_INT_F_*, 0 for system messages */
	uint8_t from[MSG_ADDR32_BYTES]; /* Addr32; zero for system messages */
	uint8_t to[MSG_ADDR32_BYTES];   /* Addr32; zero for system and broadcast */
	struct msg_str subject; /* LINE, up to MSG_INT_SUBJECT_MAX */
	struct msg_str body;    /* CET */
};

int msg_int_encode(struct wr *w, const struct msg_int *m) WUR;
int msg_int_decode(struct msg_int *ret, const uint8_t *p, size_t len) WUR;

/* ---- OutMsg (5.6) ---- */
#define MSG_OUT_FIXED_BYTES 34

enum msg_out_status {
	MSG_OUT_DELIVERED = 0,
	MSG_OUT_TEMPFAIL = 1,
	MSG_OUT_PERMFAIL = 2,
	MSG_OUT_NOT_ATTEMPTED = 3,
	MSG_OUT_STATUS_MAX = 3,
};
#define MSG_OUT_F_ESMTP 0x01            /* the remote accepted EHLO */
#define MSG_OUT_F_STARTTLS_OFFERED 0x02
#define MSG_OUT_F_CERT_VALID 0x04       /* chain verified; needs TLS */
#define MSG_OUT_F_CERT_NAME 0x08        /* certificate matches the MX name; needs TLS */
#define MSG_OUT_F_DKIM_SIGNED 0x10
#define MSG_OUT_F_ALL 0x1F

struct msg_out {
	uint64_t ts;
	uint8_t status;      /* enum msg_out_status */
	uint8_t ip_family;   /* MSG_IP_NONE when no connection was made */
	uint8_t ip[MSG_IP_BYTES];
	uint8_t tls_version;
	uint16_t tls_suite;
	uint8_t flags;       /* MSG_OUT_F_* */
	struct msg_str sender;   /* local part, LINE, 1..MSG_LOCAL_MAX */
	struct msg_str rcpt;     /* LINE, 1..MSG_RCPT_MAX */
	struct msg_str mx;       /* LINE */
	struct msg_str greeting; /* LINE, first line of the 220 */
	struct msg_str reply;    /* LINE, last reply line */
	struct msg_str subject;  /* LINE */
	struct msg_str body;     /* binary: the message exactly as sent */
};

int msg_out_encode(struct wr *w, const struct msg_out *m) WUR;
int msg_out_decode(struct msg_out *ret, const uint8_t *p, size_t len) WUR;

/* ---- UplMsg (5.7) ---- */
#define MSG_UPL_FIXED_BYTES 21

enum msg_upl_kind {
	MSG_UPL_USER = 0,       /* client-encrypted upload */
	MSG_UPL_ATTACHMENT = 1, /* decoded email attachment */
	MSG_UPL_SOURCE = 2,     /* the original email source */
	MSG_UPL_KIND_MAX = 2,
};

struct msg_upl {
	uint64_t ts;
	uint64_t parent;  /* ExtMsg ref for kinds 1 and 2, else 0 */
	uint8_t kind;     /* enum msg_upl_kind */
	struct msg_str media_type; /* attachments only: "type/subtype", ASCII */
	struct msg_str name;       /* file name */
	struct msg_str data;       /* binary */
};

int msg_upl_encode(struct wr *w, const struct msg_upl *m) WUR;
int msg_upl_decode(struct msg_upl *ret, const uint8_t *p, size_t len) WUR;

#endif
