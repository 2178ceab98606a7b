/* upload.h: the client-side encryption of uploaded files (docs/PROTOCOL.md
 * section 15.8). The data of a user upload (UplMsg kind 0) is
 * version || nonce || XChaCha20-Poly1305(UFK, name || content); the server
 * sees a neutral file name and the size, never the real name or content. */
#ifndef ALLEARS_CLIENT_UPLOAD_H
#define ALLEARS_CLIENT_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/apireq.h"
#include "common/buf.h"
#include "common/message.h"
#include "common/util.h"

#define UPLOAD_VERSION 1
#define UPLOAD_LABEL "allears upload v1" /* AD: label || version byte */
#define UPLOAD_KEY_BYTES 32
#define UPLOAD_NONCE_BYTES 24
#define UPLOAD_TAG_BYTES 16
#define UPLOAD_OVERHEAD (1 + UPLOAD_NONCE_BYTES + UPLOAD_TAG_BYTES) /* 41 */
#define UPLOAD_SERVER_NAME "upload.bin" /* the UplMsg file name the server sees */
#define UPLOAD_NAME_MAX MSG_FILENAME_MAX  /* 255 */
/* The largest UplMsg data for the neutral name, and the largest content for
 * a real name of n bytes. */
#define UPLOAD_DATA_MAX (APIREQ_ARGS_MAX - APIREQ_UPLOAD_OVERHEAD - (sizeof(UPLOAD_SERVER_NAME) - 1))
#define UPLOAD_CONTENT_MAX(n) (UPLOAD_DATA_MAX - UPLOAD_OVERHEAD - 1 - (size_t)(n))

/* True for a name the format accepts: 1-255 bytes of UTF-8 without control
 * characters, no '/', not "." or "..". */
bool upload_name_valid(const char *name, size_t n);

/* Appends the encrypted data. -EINVAL for a bad name, -EFBIG for content
 * over UPLOAD_CONTENT_MAX(name_len). */
int upload_seal(struct wr *w, const char *name, size_t name_len, const uint8_t *content,
                size_t len, const uint8_t ufk[UPLOAD_KEY_BYTES]) WUR;
int upload_seal_with_nonce(struct wr *w, const char *name, size_t name_len,
                           const uint8_t *content, size_t len,
                           const uint8_t ufk[UPLOAD_KEY_BYTES],
                           const uint8_t nonce[UPLOAD_NONCE_BYTES]) WUR;

/* Decrypts p into a fresh buffer *ret_plain (name_len || name || content;
 * free it with upload_free) and points name and content into it. -EBADMSG for
 * a short input or another version, -EACCES for a failed tag, -EBADMSG for a
 * bad name after decryption. */
int upload_open(const uint8_t *p, size_t len, const uint8_t ufk[UPLOAD_KEY_BYTES],
                uint8_t **ret_plain, size_t *ret_plain_len, struct msg_str *ret_name,
                struct msg_str *ret_content) WUR;
void upload_free(uint8_t *plain, size_t len);

#endif
