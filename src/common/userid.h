/* userid.h: UserIDs (0-4095) and their three-letter usernames, as in
 * All-Ears Mail ("aaa" = 0, "ppp" = 4095). The username is for display and
 * command-line input only; it has nothing to do with addresses.
 * docs/PROTOCOL.md section 2.9. */
#ifndef ALLEARS_USERID_H
#define ALLEARS_USERID_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define USERID_COUNT 4096
#define USERID_NAME_LEN 3 /* letters; buffers need USERID_NAME_LEN + 1 */

/* Writes the lowercase username and a NUL. uid must be < USERID_COUNT (asserted). */
void userid_to_name(uint16_t uid, char out[USERID_NAME_LEN + 1]);

/* Exactly USERID_NAME_LEN letters a-p (A-P also accepted), low nibble first.
 * -EINVAL for anything else; *ret_uid is written only on success. */
int userid_from_name(const char *s, size_t len, uint16_t *ret_uid) WUR;

#endif
