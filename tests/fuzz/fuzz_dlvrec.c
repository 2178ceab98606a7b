/* fuzz_dlvrec.c: decodes arbitrary bytes as a delivery record (Deliver's
 * view of the MTA's memfd, docs/PROTOCOL.md section 16). Whatever decodes
 * must re-encode to the identical header (the format is canonical), and the
 * message must be exactly the rest. */
#include <stdlib.h>
#include <string.h>

#include "common/dlvrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dlvrec r;
	if (dlvrec_decode(&r, data, size) != 0)
		return 0;
	struct wr w = WR_INIT;
	if (dlvrec_encode_head(&w, &r) != 0)
		abort();
	if (w.len + r.message.len != size || memcmp(w.p, data, w.len) != 0)
		abort();
	if (r.message.len && r.message.p != data + w.len)
		abort();
	wr_free(&w);
	return 0;
}
