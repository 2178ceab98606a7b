/* fuzz_keybundle.c: the key credential parser on arbitrary bytes, as every role. */
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <string.h>

#include "common/keybundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keybundle *kb;
	if (!kb) {
		if (sodium_init() < 0)
			__builtin_trap();
		kb = keybundle_new();
	}
	for (int r = ROLE_NONE; r <= ROLE_MAX + 1; r++) {
		if (keybundle_parse(kb, data, size, (enum role)r) == 0) {
			/* what parses is exactly what the builder's layout says */
			if (size > KEYBUNDLE_MAX_BYTES || memcmp(data, KEYBUNDLE_MAGIC, 6) != 0)
				__builtin_trap();
		}
	}
	return 0;
}
