/* fuzz_textforms.c: the small parsers of admin and client input: SMK and UMK
 * text forms, the address-hash parameter block, usernames. Whatever parses
 * must print back to the same bytes (each form is canonical). */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/addrhash.h"
#include "common/keys.h"
#include "common/userid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		if (sodium_init() < 0)
			__builtin_trap();
		ready = 1;
	}
	const char *s = (const char *)data;

	uint8_t smk[KEYS_SMK_BYTES];
	if (keys_smk_from_text(smk, s, size) == 0) {
		char back[KEYS_SMK_TEXT_LEN + 1];
		keys_smk_to_text(back, smk);
		if (size != KEYS_SMK_TEXT_LEN || memcmp(back, s, size) != 0)
			__builtin_trap();
	}
	uint8_t umk[KEYS_UMK_BYTES];
	if (keys_umk_from_text(umk, s, size) == 0) {
		char back[KEYS_UMK_TEXT_LEN + 1];
		keys_umk_to_text(back, umk);
		if (size != KEYS_UMK_TEXT_LEN || memcmp(back, s, size) != 0)
			__builtin_trap();
	}
	struct addrhash_params p;
	if (addrhash_params_decode(data, size, &p) == 0) {
		uint8_t back[ADDRHASH_PARAMS_BYTES];
		if (addrhash_params_encode(&p, back) != 0 || size != ADDRHASH_PARAMS_BYTES ||
		    memcmp(back, data, size) != 0)
			__builtin_trap();
	}
	uint16_t uid;
	if (userid_from_name(s, size, &uid) == 0) {
		char back[4];
		if (uid >= USERID_COUNT)
			__builtin_trap();
		userid_to_name(uid, back);
		if (size != 3)
			__builtin_trap();
		for (size_t i = 0; i < 3; i++)
			if ((back[i] | 0x20) != (s[i] | 0x20))
				__builtin_trap();
	}
	return 0;
}
