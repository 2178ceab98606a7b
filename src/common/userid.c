/* userid.c: UserID <-> username (docs/PROTOCOL.md section 2.9). */
#include "common/userid.h"

#include <assert.h>
#include <errno.h>

#define USERID_NIBBLE_BITS 4

void userid_to_name(uint16_t uid, char out[USERID_NAME_LEN + 1])
{
	assert(uid < USERID_COUNT);
	for (int i = 0; i < USERID_NAME_LEN; i++)
		out[i] = (char)('a' + ((uid >> (USERID_NIBBLE_BITS * i)) & 15));
	out[USERID_NAME_LEN] = '\0';
}

int userid_from_name(const char *s, size_t len, uint16_t *ret_uid)
{
	if (len != USERID_NAME_LEN)
		return -EINVAL;
	unsigned uid = 0;
	for (int i = 0; i < USERID_NAME_LEN; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'P')
			c = (unsigned char)(c - 'A' + 'a');
		if (c < 'a' || c > 'p')
			return -EINVAL;
		uid |= (unsigned)(c - 'a') << (USERID_NIBBLE_BITS * i);
	}
	*ret_uid = (uint16_t)uid;
	return 0;
}
