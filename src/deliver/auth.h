/* auth.h: sender authentication results for incoming mail: DKIM (RFC 6376,
 * RFC 8463 Ed25519), SPF (RFC 7208) and DMARC (RFC 7489). Nothing here rejects
 * mail: the results go into the ExtMsg for the recipient's client to judge.
 * DNS goes through a caller-supplied synchronous lookup (Enquiry, or a table
 * in tests). Rules and bounds: docs/PROTOCOL.md section 20. */
#ifndef ALLEARS_DELIVER_AUTH_H
#define ALLEARS_DELIVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/enqmsg.h"
#include "common/message.h"
#include "common/util.h"

/* Looks up name (type enum enq_msg; for ENQ_PTR, name is unused and ip/family
 * are); fills *ret (pointers valid until the next call with the same ctx).
 * Returns 0 when *ret holds an answer (any status), or <0 when no answer
 * could be had (treated as TEMPFAIL). */
struct auth_dns {
	int (*lookup)(void *ctx, uint8_t type, const char *name, uint8_t family,
	              const uint8_t ip[16], struct enq_answer *ret);
	void *ctx;
	unsigned max_lookups; /* budget for one message (SPF's 10-term limit is separate) */
};

#define AUTH_DKIM_SIGS_MAX MSG_DKIM_MAX /* signatures verified per message */
#define AUTH_SPF_LOOKUPS_MAX 10         /* RFC 7208 4.6.4 */
#define AUTH_SPF_VOID_MAX 2

/* DKIM: verifies up to MSG_DKIM_MAX DKIM-Signature headers of the raw
 * message (CRLF or LF line ends), filling out[] with every field of struct
 * msg_dkim (domain/selector point into msg). env_from, hdr_from and reply_to
 * (bare addresses, may be NULL) feed the i= flags; now is the receive time
 * (Unix s). Returns the number of records written. */
size_t auth_dkim_verify(const uint8_t *msg, size_t len, uint64_t now, const char *env_from,
                        const char *hdr_from, const char *reply_to, const struct auth_dns *dns,
                        struct msg_dkim out[MSG_DKIM_MAX]);

/* SPF check_host() for the peer IP, the envelope sender (or postmaster@helo
 * when it is empty) and the HELO name. Returns enum msg_spf. */
uint8_t auth_spf_check(uint8_t ip_family, const uint8_t ip[16], const char *env_from,
                       const char *helo, const struct auth_dns *dns);

/* DMARC for the header From domain given the SPF result (with the domain SPF
 * checked, the envelope sender's) and the DKIM records. Returns enum msg_dmarc. */
uint8_t auth_dmarc_check(const char *hdr_from_domain, uint8_t spf, const char *spf_domain,
                         const struct msg_dkim *dkim, size_t dkim_count,
                         const struct auth_dns *dns);

/* Organizational domain (RFC 7489 3.2) using the Public Suffix List loaded
 * by auth_psl_load (a path; a built-in minimal list when never loaded).
 * Writes into out (cap >= 254). */
int auth_psl_load(const char *path) WUR;
void auth_org_domain(const char *domain, char *out, size_t cap);

/* Added by the authentication library (section 20). */

/* A domain name as the DNS questions here need it: 1..253 bytes of labels
 * (1..63 bytes of letters, digits, '-' and '_') with dots between, one
 * trailing dot allowed and not counted. */
bool auth_domain_valid(const char *d, size_t n);

/* DMARC as auth_dmarc_check, also saying which record was used and which
 * policy it asks for (the ExtMsg keeps only the result). */
enum auth_dmarc_policy {
	AUTH_DMARC_P_NONE = 0, /* no record, or p=none */
	AUTH_DMARC_P_QUARANTINE = 1,
	AUTH_DMARC_P_REJECT = 2,
};
struct auth_dmarc_info {
	uint8_t result;   /* enum msg_dmarc (the return value of auth_dmarc_check) */
	uint8_t policy;   /* enum auth_dmarc_policy that applies: sp= for a subdomain when set */
	bool org_record;  /* the record came from the organizational domain */
	bool dkim_aligned;
	bool spf_aligned;
	char record_domain[256]; /* where the record was found; empty when none */
};
uint8_t auth_dmarc_evaluate(const char *hdr_from_domain, uint8_t spf, const char *spf_domain,
                            const struct msg_dkim *dkim, size_t dkim_count,
                            const struct auth_dns *dns, struct auth_dmarc_info *ret_info);

#endif
