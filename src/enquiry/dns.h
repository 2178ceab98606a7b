/* dns.h: the DNS wire format as Enquiry speaks it (RFC 1035, EDNS0 RFC 6891):
 * one query builder and a strict response parser that turns an answer into
 * an Enquiry answer (enqmsg.h). No I/O here (resolve.h sends and receives).
 * Rules: docs/PROTOCOL.md section 17. */
#ifndef ALLEARS_ENQUIRY_DNS_H
#define ALLEARS_ENQUIRY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/enqmsg.h"
#include "common/util.h"

#define DNS_HEADER_BYTES 12
#define DNS_NAME_WIRE_MAX 255   /* a name in wire form, root label included */
#define DNS_LABEL_MAX 63
#define DNS_EDNS_PAYLOAD 1232   /* the UDP size we advertise (DNS flag day 2020) */
#define DNS_QUERY_MAX (DNS_HEADER_BYTES + DNS_NAME_WIRE_MAX + 4 + 11)
#define DNS_MSG_MAX 65535       /* the largest message (TCP length prefix) */
#define DNS_CNAME_MAX 8         /* CNAMEs followed inside one answer */
#define DNS_RR_MAX 256          /* answer records looked at; later ones are left out (TRUNC) */
#define DNS_NEG_TTL_DEFAULT 60  /* negative answer without an SOA (seconds) */
#define DNS_PTR_NAME_MAX 72     /* 32 nibbles "x." and "ip6.arpa" */

enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_OPT = 41,
};
#define DNS_CLASS_IN 1

enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
};

/* One question: what dns_query_build made and what the answer must echo. */
struct dns_question {
	uint16_t id;
	uint16_t qtype;
	uint8_t enq_type;                 /* enum enq_msg */
	uint8_t wire[DNS_NAME_WIRE_MAX];  /* lower-case wire form */
	size_t wire_len;
};

/* A parsed response. ans.rec[].data points into arena. */
struct dns_result {
	bool truncated;    /* TC: ask again over TCP (nothing else is set) */
	uint8_t rcode;
	uint32_t ttl;      /* seconds this answer may be kept (minimum of the records used) */
	struct enq_answer ans; /* status CHST_OK, CHST_NOT_FOUND or CHST_TEMPFAIL */
	size_t encoded;    /* the size enq_answer_encode will need */
	uint8_t arena[ENQ_ANSWER_MAX];
};

/* The record type asked for an Enquiry request type (0 for an unknown one). */
uint16_t dns_qtype(uint8_t enq_type);

/* The reverse name of an address: family 4 -> "d.c.b.a.in-addr.arpa", 6 ->
 * 32 nibbles and "ip6.arpa". out needs DNS_PTR_NAME_MAX + 1 bytes. Returns the
 * length, or -EINVAL for another family. */
int dns_ptr_name(char *out, uint8_t family, const uint8_t ip[16]) WUR;

/* Fills q for the name (enq_name_valid; folded to lower case) and writes the
 * query: recursion desired, one question of class IN, an EDNS0 OPT record
 * advertising DNS_EDNS_PAYLOAD. out needs DNS_QUERY_MAX bytes. -EINVAL for a
 * bad name or type. */
int dns_query_build(struct dns_question *q, uint8_t *out, size_t *ret_len, uint16_t id,
                    const uint8_t *name, size_t name_len, uint8_t enq_type) WUR;

/* Parses a response to q. Returns 0 with *ret filled; -ESRCH when the message
 * is not an answer to q (another id, not a response, another question): a UDP
 * reader ignores it and keeps waiting; -EBADMSG when it is malformed (any
 * length or count out of bounds, a compression pointer that does not point
 * backwards, an opcode that is not QUERY, malformed data in a record used).
 * RCODEs other than NOERROR and NXDOMAIN give ans.status CHST_TEMPFAIL. */
int dns_response_parse(struct dns_result *ret, const struct dns_question *q, const uint8_t *p,
                       size_t len) WUR;

#endif
