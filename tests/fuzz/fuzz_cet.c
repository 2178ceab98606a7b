/* fuzz_cet.c: libFuzzer target for CET (docs/PROTOCOL.md section 6). The
 * first byte picks render options, the rest is the document. Checks: the
 * renderer accepts exactly what the validator accepts; its output is always
 * terminal-safe and within the cap; cet_from_plain always yields valid CET,
 * is idempotent, and renders back to itself. */
#include <stdlib.h>
#include <string.h>

#include "common/cet.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_bidi(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static void terminal_safe_or_die(const uint8_t *s, size_t n, bool ansi)
{
	if (!utf8_valid(s, n))
		abort();
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_seq_len(s + i, n - i, &cp);
		if (cp == 0x1B) {
			if (!ansi || i + 2 >= n || s[i + 1] != '[')
				abort();
			size_t j = i + 2;
			while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';'))
				j++;
			if (j >= n || s[j] != 'm')
				abort();
			i = j + 1;
			continue;
		}
		if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F) || is_bidi(cp))
			abort();
		i += k;
	}
	if (n > 0 && s[n - 1] != '\n')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	struct cet_render_opts o = {
		.ansi = flags & 1,
		.width = (flags >> 1) & 7 ? ((flags >> 1) & 7) * 10u : 0,
		.max_bytes = flags & 0x10 ? CET_RENDER_MIN + (size_t)(flags >> 5) * 100 : 0,
	};

	struct cet_stats st;
	int rv = cet_validate(p, len, &st);
	struct wr out = WR_INIT;
	int rr = cet_render_text(&out, p, len, &o);
	if (rv != rr)
		abort();
	if (rr == 0) {
		terminal_safe_or_die(out.p, out.len, o.ansi);
		if (out.len > (o.max_bytes ? o.max_bytes : CET_RENDER_MAX))
			abort();
		if (st.alternatives < 1 || st.links + st.media > len / 3)
			abort();
	} else if (out.len != 0) {
		abort(); /* a rejected document leaves the output untouched */
	}
	wr_free(&out);

	/* text/plain import: always valid, idempotent, renders back to itself */
	struct wr a = WR_INIT, b = WR_INIT, r = WR_INIT;
	if (cet_from_plain(&a, p, len) != 0)
		abort();
	if (cet_validate(a.p, a.len, NULL) != 0)
		abort();
	if (cet_from_plain(&b, a.p, a.len) != 0 || b.len != a.len || (a.len && memcmp(a.p, b.p, a.len)))
		abort();
	if (cet_render_text(&r, a.p, a.len, NULL) != 0)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < a.len;) {
		uint32_t cp;
		size_t n = utf8_seq_len(a.p + i, a.len - i, &cp);
		if (n == 0)
			abort();
		if (!is_bidi(cp)) {
			if (k + n > r.len || memcmp(r.p + k, a.p + i, n) != 0)
				abort();
			k += n;
		}
		i += n;
	}
	/* a final LF closes the last line, unless stripping left that line empty */
	bool last_empty = k == 0 || r.p[k - 1] == '\n';
	if (last_empty ? r.len != k : (r.len != k + 1 || r.p[k] != '\n'))
		abort();
	wr_free(&a);
	wr_free(&b);
	wr_free(&r);
	return 0;
}
