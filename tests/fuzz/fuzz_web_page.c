/* fuzz_web_page.c: libFuzzer target for the page file decoder (src/web/page.c,
 * docs/PROTOCOL.md section 21.2). Half the inputs get a valid checksum so the
 * fields behind it are reached; a decoded page must satisfy every rule. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[WEBPAGE_FILE_MAX + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > WEBPAGE_FILE_MAX)
		return 0;
	bool fix = data[0] & 1;
	size_t n = size - 1;
	memcpy(buf, data + 1, n);
	if (fix && n >= WEBPAGE_SUM_BYTES)
		crypto_generichash(buf + n - WEBPAGE_SUM_BYTES, WEBPAGE_SUM_BYTES, buf,
		                   n - WEBPAGE_SUM_BYTES, NULL, 0);
	struct webpage pg;
	if (webpage_decode(buf, n, &pg) != 0)
		return 0;
	if (!pg.v[WEBPAGE_IDENTITY].present || !webpage_csp_valid(pg.csp, strlen(pg.csp)) ||
	    pg.max_age > WEBPAGE_MAX_AGE_MAX)
		abort();
	for (int c = 0; c < WEBPAGE_CODINGS; c++) {
		const struct webpage_variant *v = &pg.v[c];
		if (!v->present)
			continue;
		if (v->body < buf || v->body + v->len > buf + n || v->len == 0 ||
		    strlen(v->etag) != WEBPAGE_ETAG_LEN)
			abort();
		if (c && v->len >= pg.v[0].len)
			abort();
	}
	return 0;
}
