/* utf8.c: strict UTF-8 validation (see utf8.h). */
#include "common/utf8.h"

#include <string.h>

size_t utf8_seq_len(const uint8_t *p, size_t left, uint32_t *ret_cp)
{
	if (left == 0)
		return 0;
	uint8_t c = p[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		if (ret_cp)
			*ret_cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2, cp = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, cp = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (ret_cp)
		*ret_cp = cp;
	return n;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* Mail is mostly ASCII: skip it eight bytes at a time. */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i, NULL);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}
