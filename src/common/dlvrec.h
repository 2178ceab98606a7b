/* dlvrec.h: the delivery record the MTA hands to Deliver (DLV_DELIVER, server
 * role 3) in a sealed memfd: the SMTP session facts, the recipients and the
 * raw message. Layout: docs/PROTOCOL.md section 16. Decoded pointers point
 * into the mapped memfd. */
#ifndef ALLEARS_DLVREC_H
#define ALLEARS_DLVREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/message.h"
#include "common/util.h"

/* Channel message types of Deliver. */
enum dlv_msg {
	DLV_DELIVER = 1, /* mta: deliver one message to its recipients */
};

#define DLVREC_VERSION 1
#define DLVREC_RCPT_MAX 100         /* RFC 5321 4.5.3.1.8: at least 100 must be accepted */
#define DLVREC_LOCAL_MAX 64         /* local part, bytes */
#define DLVREC_MESSAGE_MAX (32u * 1024 * 1024) /* raw message after dot-unstuffing */
/* The largest header: 33 fixed bytes, helo and env_from at 255 each, and 100
 * recipients of 4 + 64 bytes. */
#define DLVREC_HEAD_MAX 7345
/* Session flags: exactly the MSG_EXT_F_* bits the MTA knows. */
#define DLVREC_FLAGS_ALLOWED (MSG_EXT_F_ESMTP | MSG_EXT_F_STARTTLS | MSG_EXT_F_PIPELINING | \
	MSG_EXT_F_BARE_LF | MSG_EXT_F_PROTO_VIOLATION | MSG_EXT_F_INVALID_CMDS |             \
	MSG_EXT_F_RARE_CMDS | MSG_EXT_F_8BITMIME | MSG_EXT_F_SMTPUTF8)

struct dlvrec_rcpt {
	uint16_t uid;        /* owner from ACC_LOOKUP; 65535 = none (Deliver drops the copy) */
	uint8_t flags;       /* the address flags from ACC_LOOKUP (& 0x3C) */
	struct msg_str local; /* local part as given in RCPT TO, 1..DLVREC_LOCAL_MAX */
};

struct dlvrec {
	uint64_t ts;          /* arrival, Unix ms (when DATA ended) */
	uint8_t ip_family;    /* MSG_IP_V4 / MSG_IP_V6 */
	uint8_t ip[MSG_IP_BYTES];
	uint8_t tls_version;  /* enum msg_tls */
	uint16_t tls_suite;
	uint16_t flags;       /* DLVREC_FLAGS_ALLOWED bits only */
	struct msg_str helo;  /* LINE, up to MSG_HELO_MAX */
	struct msg_str env_from; /* LINE, up to MSG_ENV_FROM_MAX; empty for <> */
	uint8_t rcpt_count;   /* 1..DLVREC_RCPT_MAX */
	struct dlvrec_rcpt rcpt[DLVREC_RCPT_MAX];
	struct msg_str message; /* the rest of the memfd, 0..DLVREC_MESSAGE_MAX */
};

/* The header (everything before the message). The MTA writes it to the
 * memfd first, then streams the message after it. */
int dlvrec_encode_head(struct wr *w, const struct dlvrec *r) WUR;
/* Decodes a whole mapped memfd; -EBADMSG on any violation. */
int dlvrec_decode(struct dlvrec *ret, const uint8_t *p, size_t len) WUR;

/* The answer to DLV_DELIVER: status u8, count u8 (= rcpt_count, or 0 when the
 * status is CHST_INVALID), then one CHST_* byte per recipient in order.
 * Overall status: CHST_OK when every recipient's copy is durable (or dropped
 * for uid 65535); else CHST_TEMPFAIL when any copy failed for a reason that
 * may pass (peer down, timeout, internal); else CHST_LIMIT (some mailbox full). */
#define DLV_ANSWER_MAX (2 + DLVREC_RCPT_MAX)

#endif
