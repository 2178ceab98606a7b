/* fuzz_enquiry_dns.c: Enquiry's DNS response parser (src/enquiry/dns.c) on
 * arbitrary messages, as the answer to "example.com" of each type (the id is
 * taken from the message so the fuzzer need not guess it). Whatever parses
 * must make an answer that encodes to exactly the size the parser counted,
 * within the limits, and decodes back to the same answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/chanmsg.h"
#include "common/enqmsg.h"
#include "enquiry/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_result R;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > DNS_MSG_MAX)
		return 0;
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	for (uint8_t type = ENQ_A; type <= ENQ_TYPE_MAX; type++) {
		struct dns_question q;
		uint8_t query[DNS_QUERY_MAX];
		size_t qlen;
		if (dns_query_build(&q, query, &qlen, id, (const uint8_t *)"Example.com", 11, type) != 0)
			abort();
		int rc = dns_response_parse(&R, &q, data, size);
		if (rc != 0) {
			if (rc != -ESRCH && rc != -EBADMSG)
				abort();
			continue;
		}
		if (R.truncated)
			continue;
		const struct enq_answer *a = &R.ans;
		if (a->type != type || a->count > ENQ_RECORDS_MAX || R.encoded > ENQ_ANSWER_MAX)
			abort();
		if (a->status == CHST_TEMPFAIL) {
			if (a->count != 0)
				abort();
			continue;
		}
		if (a->status != CHST_OK && a->status != CHST_NOT_FOUND)
			abort();
		struct wr w = WR_INIT;
		if (enq_answer_encode(&w, a) != 0 || w.len != R.encoded)
			abort();
		struct enq_answer d;
		if (enq_answer_decode(&d, type, w.p, w.len) != 0 || d.count != a->count ||
		    d.status != a->status || d.flags != a->flags)
			abort();
		for (uint16_t i = 0; i < d.count; i++)
			if (d.rec[i].len != a->rec[i].len || d.rec[i].pref != a->rec[i].pref ||
			    memcmp(d.rec[i].ip, a->rec[i].ip, 16) != 0 ||
			    (d.rec[i].len && memcmp(d.rec[i].data, a->rec[i].data, d.rec[i].len) != 0))
				abort();
		wr_free(&w);
	}
	return 0;
}
