/* fuzz_message.c: decodes arbitrary bytes as each Message type; whatever
 * decodes must re-encode to the identical bytes (the formats are canonical),
 * and msg_check must agree with the per-type decoders. */
#include <stdlib.h>
#include <string.h>

#include "common/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_bytes(int e, struct wr *w, const uint8_t *data, size_t size)
{
	if (e != 0 || w->len != size || memcmp(w->p, data, size) != 0)
		abort();
	wr_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The header byte 1 picks the decoder that can succeed; trying all four
	 * also exercises the type-mismatch paths. */
	int accepted = -1;
	struct wr w = WR_INIT;
	struct msg_ext ext;
	if (msg_ext_decode(&ext, data, size) == 0) {
		accepted = MSG_EXT;
		same_bytes(msg_ext_encode(&w, &ext), &w, data, size);
	}
	struct msg_int in;
	if (msg_int_decode(&in, data, size) == 0) {
		if (accepted >= 0)
			abort();
		accepted = MSG_INT;
		same_bytes(msg_int_encode(&w, &in), &w, data, size);
	}
	struct msg_out out;
	if (msg_out_decode(&out, data, size) == 0) {
		if (accepted >= 0)
			abort();
		accepted = MSG_OUT;
		same_bytes(msg_out_encode(&w, &out), &w, data, size);
	}
	struct msg_upl upl;
	if (msg_upl_decode(&upl, data, size) == 0) {
		if (accepted >= 0)
			abort();
		accepted = MSG_UPL;
		same_bytes(msg_upl_encode(&w, &upl), &w, data, size);
	}
	int t = msg_check(data, size);
	if ((accepted < 0 && t >= 0) || (accepted >= 0 && t != accepted))
		abort();

	/* The producer helpers: sanitize always yields valid text of its class. */
	if (size > 0 && size <= 4096) {
		uint8_t *copy = malloc(size);
		if (!copy)
			return 0;
		for (int cls = MSG_TEXT_LINE; cls <= MSG_TEXT_UTF8; cls++) {
			memcpy(copy, data, size);
			msg_text_sanitize(copy, size, (enum msg_text)cls);
			if (!msg_text_valid(copy, size, (enum msg_text)cls))
				abort();
			size_t k = msg_text_cut(copy, size, data[0] % size);
			if (k > data[0] % size || !msg_text_valid(copy, k, (enum msg_text)cls))
				abort();
		}
		free(copy);
	}
	return 0;
}
