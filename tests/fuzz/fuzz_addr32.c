/* fuzz_addr32.c: arbitrary bytes through the Addr32 encoder (as an SMTP local
 * part would arrive) and, as a 10-byte value, through classify/decode (as a
 * value read from another role would). Checks the invariants of
 * docs/PROTOCOL.md 2.3-2.5: canonical round trips, the count/kind agreement,
 * and that nothing reads past the input (ASan, on libFuzzer's exact-size copy). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                     \
	do {                                                                                   \
		if (!(c))                                                                          \
			abort();                                                                       \
	} while (0)

static const char canon_alphabet[] = "0123456789abcdefghjkmnpqrstuwxyz";

/* A valid value decodes to canonical text that parses back to the same bytes. */
static void check_value(const uint8_t a[ADDR32_BYTES])
{
	char text[ADDR32_TEXT_MAX];
	uint8_t b[ADDR32_BYTES];
	enum addr32_kind k = addr32_classify(a);
	int n = addr32_decode(a, text);
	FUZZ_ASSERT((k == ADDR32_INVALID) == (n < 0));
	if (n < 0)
		return;
	FUZZ_ASSERT(n >= 1 && n <= ADDR32_SHIELD_CHARS && strlen(text) == (size_t)n);
	FUZZ_ASSERT((n == ADDR32_SHIELD_CHARS) == (k == ADDR32_SHIELD));
	FUZZ_ASSERT(strspn(text, canon_alphabet) == (size_t)n);
	FUZZ_ASSERT(addr32_encode(text, (size_t)n, b) == n);
	FUZZ_ASSERT(memcmp(a, b, ADDR32_BYTES) == 0);
	FUZZ_ASSERT(addr32_parse(text, (size_t)n, b) == k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
	const char *s = (const char *)data;

	int count = addr32_encode(s, size, a);
	enum addr32_kind k = addr32_parse(s, size, b);
	FUZZ_ASSERT(count >= 0 && (size_t)count <= size);
	FUZZ_ASSERT(memcmp(a, b, ADDR32_BYTES) == 0);
	if (count == 0 || count > ADDR32_SHIELD_CHARS)
		FUZZ_ASSERT(k == ADDR32_INVALID);
	else if (k != ADDR32_INVALID)
		FUZZ_ASSERT(k == (count == ADDR32_SHIELD_CHARS ? ADDR32_SHIELD : ADDR32_NORMAL));
	else /* only the forbidden values can make a 1-16 character input invalid */
		FUZZ_ASSERT(memcmp(a, addr32_system, ADDR32_BYTES) == 0 ||
		            count == ADDR32_SHIELD_CHARS);
	/* Whatever the encoder produces is canonical: no stray bits, ever. */
	if (count >= 1)
		FUZZ_ASSERT(addr32_classify(a) != ADDR32_INVALID ||
		            memcmp(a, addr32_system, ADDR32_BYTES) == 0 || (a[0] & 0x80));
	check_value(a);
	(void)addr32_is_reserved(a);

	if (size >= ADDR32_BYTES) {
		memcpy(b, data, ADDR32_BYTES);
		check_value(b);
		(void)addr32_is_reserved(b);
	}
	return 0;
}
