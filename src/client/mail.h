/* mail.h: one stored envelope as the client sees it: opened with the ESK,
 * its Message decoded (ExtMsg, IntMsg, OutMsg or UplMsg), and for the user's
 * own uploads the client-encrypted data opened with the UFK. Everything in it
 * is untrusted input (envelopes are not authenticated, section 4.6). */
#ifndef ALLEARS_CLIENT_MAIL_H
#define ALLEARS_CLIENT_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/envelope.h"
#include "common/message.h"
#include "common/util.h"

struct mail_keys {
	uint8_t esk[ENVELOPE_KEY_BYTES];
	uint8_t epk[ENVELOPE_KEY_BYTES];
	uint8_t ufk[32];
};

struct mail {
	uint32_t id;
	size_t env_len;       /* the envelope's size, as stored */
	uint8_t *buf;         /* the Message (owned) */
	size_t len;
	int type;             /* enum msg_type */
	uint64_t ts;
	union {
		struct msg_ext ext;
		struct msg_int in;
		struct msg_out out;
		struct msg_upl upl;
	} m;
	/* A user upload (UplMsg kind 0) that opened with the UFK. */
	bool upl_open;
	uint8_t *upl_plain;
	size_t upl_plain_len;
	struct msg_str upl_name, upl_content;
};

/* Opens and decodes. -EINVAL for an impossible envelope size, -EBADMSG when
 * the envelope does not open with this key (wrong key or corrupt) or the
 * Message inside does not decode. A user upload that does not open with the
 * UFK still succeeds, with upl_open false. */
int mail_open(struct mail *ret, uint32_t id, const uint8_t *env, size_t env_len,
              const struct mail_keys *k) WUR;
void mail_free(struct mail *m);

/* The type's name: "mail", "message", "report", "file". */
const char *mail_type_name(int type);

#endif
