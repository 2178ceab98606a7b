/* page.c: the page file decoder (see page.h; docs/PROTOCOL.md section 21.2). */
#include "web/page.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/buf.h"

bool webpage_csp_valid(const char *s, size_t n)
{
	if (n == 0 || n > WEBPAGE_CSP_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] > 0x7e)
			return false;
	return true;
}

int webpage_decode(const uint8_t *p, size_t len, struct webpage *ret)
{
	static struct webpage zero;
	struct webpage pg = zero;
	if (len < WEBPAGE_HEAD_BYTES + WEBPAGE_SUM_BYTES || len > WEBPAGE_FILE_MAX)
		return -EINVAL;
	uint8_t sum[WEBPAGE_SUM_BYTES];
	size_t body_end = len - WEBPAGE_SUM_BYTES;
	crypto_generichash(sum, sizeof(sum), p, body_end, NULL, 0);
	if (sodium_memcmp(sum, p + body_end, sizeof(sum)) != 0)
		return -EINVAL;

	struct rd r = rd_init(p, body_end);
	const uint8_t *magic = rd_take(&r, WEBPAGE_MAGIC_LEN);
	if (!magic || memcmp(magic, WEBPAGE_MAGIC, WEBPAGE_MAGIC_LEN) != 0)
		return -EINVAL;
	if (rd_u8(&r) != WEBPAGE_VERSION)
		return -EINVAL;
	unsigned n = rd_u8(&r);
	pg.max_age = rd_u32(&r);
	size_t csp_len = rd_u16(&r);
	const uint8_t *csp = rd_take(&r, csp_len);
	if (r.bad || n < 1 || n > WEBPAGE_CODINGS || pg.max_age > WEBPAGE_MAX_AGE_MAX || !csp ||
	    !webpage_csp_valid((const char *)csp, csp_len))
		return -EINVAL;
	memcpy(pg.csp, csp, csp_len);
	pg.csp[csp_len] = '\0';

	int last = -1;
	for (unsigned i = 0; i < n; i++) {
		unsigned coding = rd_u8(&r);
		const uint8_t *tag = rd_take(&r, WEBPAGE_TAG_BYTES);
		uint32_t vlen = rd_u32(&r);
		const uint8_t *body = rd_take(&r, vlen);
		/* Identity first, then each coding at most once, in order. */
		if (r.bad || !tag || !body || coding >= WEBPAGE_CODINGS || (int)coding <= last ||
		    (i == 0) != (coding == WEBPAGE_IDENTITY) || vlen == 0)
			return -EINVAL;
		if (coding == WEBPAGE_IDENTITY ? vlen > WEBPAGE_HTML_MAX
		                               : vlen >= pg.v[WEBPAGE_IDENTITY].len)
			return -EINVAL;
		uint8_t want[WEBPAGE_TAG_BYTES];
		crypto_generichash(want, sizeof(want), body, vlen, NULL, 0);
		if (sodium_memcmp(want, tag, sizeof(want)) != 0)
			return -EINVAL;
		struct webpage_variant *v = &pg.v[coding];
		v->present = true;
		v->body = body;
		v->len = vlen;
		v->etag[0] = '"';
		sodium_bin2hex(v->etag + 1, 2 * WEBPAGE_TAG_BYTES + 1, tag, WEBPAGE_TAG_BYTES);
		v->etag[WEBPAGE_ETAG_LEN - 1] = '"';
		v->etag[WEBPAGE_ETAG_LEN] = '\0';
		last = (int)coding;
	}
	if (!rd_done(&r))
		return -EINVAL;
	*ret = pg;
	return 0;
}
