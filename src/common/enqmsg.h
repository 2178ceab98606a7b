/* enqmsg.h: Enquiry's channel messages (server role 4): DNS questions from
 * Deliver and the API, and their answers. Layout: docs/PROTOCOL.md section 17.
 * Numbers appear on the wire: never renumber. */
#ifndef ALLEARS_ENQMSG_H
#define ALLEARS_ENQMSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

/* Request types (the channel frame type). */
enum enq_msg {
	ENQ_A = 1,    /* name -> IPv4 addresses */
	ENQ_AAAA = 2, /* name -> IPv6 addresses */
	ENQ_MX = 3,   /* name -> (preference, exchange) */
	ENQ_TXT = 4,  /* name -> TXT records, each one's strings joined */
	ENQ_PTR = 5,  /* IP address -> names */
	ENQ_TYPE_MAX = 5,
};

#define ENQ_NAME_MAX 253          /* presentation form, no trailing dot */
#define ENQ_RECORDS_MAX 32        /* records per answer; more are dropped (flag TRUNC) */
#define ENQ_TXT_MAX 4096          /* one TXT record, strings joined */
#define ENQ_ANSWER_MAX 32768      /* encoded answer, always below RPC_PAYLOAD_MAX */

/* Answer flags. */
#define ENQ_F_NXDOMAIN 0x01 /* with CHST_NOT_FOUND: the name does not exist (else: no data) */
#define ENQ_F_TRUNC 0x02    /* more records existed than ENQ_RECORDS_MAX / ENQ_ANSWER_MAX */
#define ENQ_F_CACHED 0x04   /* served from Enquiry's cache (informational) */
#define ENQ_F_ALL 0x07

struct enq_record {
	uint16_t pref;       /* MX preference; 0 otherwise */
	uint8_t ip[16];      /* A: ip[0..3]; AAAA: all 16; zero otherwise */
	const uint8_t *data; /* MX exchange (len 0: null MX ".") / PTR name (lower-case, no
	                      * trailing dot) or TXT text */
	size_t len;
};

/* A decoded answer. data pointers point into the decoded buffer. */
struct enq_answer {
	uint8_t status; /* CHST_OK, CHST_NOT_FOUND, CHST_TEMPFAIL, CHST_INVALID, CHST_DENIED */
	uint8_t flags;  /* ENQ_F_* */
	uint8_t type;   /* the enum enq_msg asked */
	uint16_t count; /* records, 0 unless CHST_OK (then >= 1) */
	struct enq_record rec[ENQ_RECORDS_MAX];
};

/* Requests. A name request is the name itself (1..ENQ_NAME_MAX bytes of
 * LDH labels and '_' , dots between, no trailing dot; checked by
 * enq_name_valid); a PTR request is family (4 or 6) u8 + 16 address bytes. */
bool enq_name_valid(const uint8_t *p, size_t n);
int enq_request_name(struct wr *w, const char *name) WUR;
int enq_request_ptr(struct wr *w, uint8_t family, const uint8_t ip[16]) WUR;

/* Answers: encode from a filled struct, decode strictly (-EBADMSG on any
 * violation: unknown status/flags, count out of range, record lengths, trailing bytes). */
int enq_answer_encode(struct wr *w, const struct enq_answer *a) WUR;
int enq_answer_decode(struct enq_answer *ret, uint8_t type, const uint8_t *p, size_t len) WUR;

#endif
