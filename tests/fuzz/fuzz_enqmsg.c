/* fuzz_enqmsg.c: the decoder of Enquiry's answers (src/common/enqmsg.c), as
 * Deliver and the API run it. The first byte picks the type asked (0-6, so
 * unknown types are tried too). Whatever decodes must re-encode to the
 * identical bytes (the format is canonical) and keep to every limit; the
 * name check and the request builders run on the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "common/chanmsg.h"
#include "common/enqmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t type = data[0] % 7;
	struct enq_answer a;
	if (enq_answer_decode(&a, type, data + 1, size - 1) == 0) {
		if (type < ENQ_A || type > ENQ_TYPE_MAX || a.count > ENQ_RECORDS_MAX ||
		    (a.status == CHST_OK) != (a.count > 0) || size - 1 > ENQ_ANSWER_MAX)
			abort();
		for (uint16_t i = 0; i < a.count; i++) {
			const struct enq_record *r = &a.rec[i];
			if (r->len && (r->data < data + 1 || r->data + r->len > data + size))
				abort();
			if ((type == ENQ_PTR || (type == ENQ_MX && r->len)) &&
			    !enq_name_valid(r->data, r->len))
				abort();
			if (type == ENQ_TXT && r->len > ENQ_TXT_MAX)
				abort();
		}
		struct wr w = WR_INIT;
		if (enq_answer_encode(&w, &a) != 0 || w.len != size - 1 ||
		    memcmp(w.p, data + 1, size - 1) != 0)
			abort();
		wr_free(&w);
	}
	/* The rest as a name request. */
	if (size - 1 <= 300) {
		char name[302];
		memcpy(name, data + 1, size - 1);
		name[size - 1] = '\0';
		struct wr w = WR_INIT;
		bool ok = enq_name_valid(data + 1, size - 1);
		int rc = enq_request_name(&w, name);
		/* an embedded NUL shortens the C string: only then may they differ */
		if (!memchr(data + 1, 0, size - 1) && ((rc == 0) != ok || (ok && w.len != size - 1)))
			abort();
		if (ok && (size - 1 == 0 || size - 1 > ENQ_NAME_MAX))
			abort();
		wr_free(&w);
	}
	if (size >= 18) {
		struct wr w = WR_INIT;
		int rc = enq_request_ptr(&w, data[1], data + 2);
		if (rc == 0 && (w.len != 17 || (data[1] != 4 && data[1] != 6)))
			abort();
		wr_free(&w);
	}
	return 0;
}
