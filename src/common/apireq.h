/* apireq.h: API request cryptography shared by the client, the API role and
 * Account: the plaintext URL part (timestamp, UserID), the keys derived from
 * the User Access Key, sealed requests and padded sealed responses,
 * invitations and registration requests, the command-argument codecs, and the
 * ACC_API channel message between the API and Account.
 * Layouts, labels and rules: docs/PROTOCOL.md sections 10 and 12. */
#ifndef ALLEARS_APIREQ_H
#define ALLEARS_APIREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/buf.h"
#include "common/message.h"
#include "common/util.h"

/* ---- URL part (12.1) ---- */
#define APIREQ_URL_BYTES 10      /* ts u64 || uid u16 */
#define APIREQ_URL_TEXT_LEN 14   /* base64url without padding */
#define APIREQ_UID_REGISTER 0xFFFFu /* the URL uid of a registration */
#define APIREQ_UID_MAX 4095u

/* ---- keys and bodies (12.2-12.4) ---- */
#define APIREQ_KEY_BYTES 32   /* UAK, K_req, K_resp, K_inv */
#define APIREQ_NONCE_BYTES 24 /* XChaCha20-Poly1305-IETF */
#define APIREQ_TAG_BYTES 16
#define APIREQ_OVERHEAD (APIREQ_NONCE_BYTES + APIREQ_TAG_BYTES)
#define APIREQ_LABEL_REQ "allears request v1"       /* K_req derivation */
#define APIREQ_LABEL_RESP "allears response v1"     /* K_resp derivation */
#define APIREQ_LABEL_AD "allears api v1"            /* request AD */
#define APIREQ_LABEL_AD_RESP "allears api v1 response" /* response AD */
#define APIREQ_LABEL_REGISTER "allears register v1" /* K_inv and registration AD */
#define APIREQ_LABEL_INVITE_ID "allears invite id"  /* invite id */

/* Request plaintext: cmd u8 || flags u8 || args. */
#define APIREQ_PLAIN_HEADER 2
#define APIREQ_ARGS_MAX MESSAGE_MAX_BYTES /* the largest arguments (an upload) */
#define APIREQ_BODY_MIN (APIREQ_OVERHEAD + APIREQ_PLAIN_HEADER)
#define APIREQ_BODY_MAX (APIREQ_BODY_MIN + APIREQ_ARGS_MAX)

/* Response plaintext: status u8 || data length u32 || data || zero padding to
 * a multiple of APIREQ_RESP_BLOCK. */
#define APIREQ_RESP_HEADER 5
#define APIREQ_RESP_BLOCK 256
#define APIREQ_RESP_DATA_MAX (64u * 1024 * 1024)
#define APIREQ_RESP_MIN (APIREQ_OVERHEAD + APIREQ_RESP_BLOCK)

/* ---- invitations and registration (12.6) ---- */
#define APIREQ_INVITE_BYTES 32
#define APIREQ_INVITE_TEXT_LEN 43 /* base64url without padding */
#define APIREQ_INVITE_ID_BYTES 16
#define APIREQ_REGISTER_PLAIN_BYTES (2 + 32 + 32) /* wanted uid, UAK, EPK */
#define APIREQ_REGISTER_BODY_BYTES \
	(APIREQ_INVITE_ID_BYTES + APIREQ_OVERHEAD + APIREQ_REGISTER_PLAIN_BYTES) /* 122 */
#define APIREQ_EPK_BYTES 32

/* ---- commands (12.7) ---- */
enum apireq_cmd {
	APIREQ_ACCOUNT_INFO = 1,
	APIREQ_ACCOUNT_DELETE = 2,
	APIREQ_PRIVATE_GET = 3,
	APIREQ_PRIVATE_SET = 4,
	APIREQ_ADDRESS_ADD_NORMAL = 5,
	APIREQ_ADDRESS_ADD_SHIELD = 6,
	APIREQ_ADDRESS_DELETE = 7,
	APIREQ_ADDRESS_SET_FLAGS = 8,
	APIREQ_MSG_BROWSE = 16,
	APIREQ_MSG_DELETE = 17,
	APIREQ_MSG_EMPTY = 18,
	APIREQ_MSG_UPLOAD = 19,
	APIREQ_MSG_SEND_INTERNAL = 20,
	APIREQ_ADMIN_LIST_USERS = 32,
	APIREQ_ADMIN_SET_LEVEL = 33,
	APIREQ_ADMIN_SET_LIMITS = 34,
	APIREQ_ADMIN_INVITE = 35,
	APIREQ_ADMIN_DELETE_USER = 36,
};

#define APIREQ_PRIVATE_MAX 8192        /* = ACCOUNT_PRIVATE_MAX */
#define APIREQ_LEVELS 4
#define APIREQ_ADDR_MAX 31             /* addresses per user, max of each kind */
#define APIREQ_STORAGE_MIB_MAX (1u << 20)
#define APIREQ_ADDR_FLAGS_USER 0x3F    /* what ADDRESS_SET_FLAGS may set */
#define APIREQ_KIND_NORMAL 0
#define APIREQ_KIND_SHIELD 1
#define APIREQ_BROWSE_OLDEST_FIRST 0x01
#define APIREQ_BROWSE_INCLUSIVE 0x02
#define APIREQ_BROWSE_FLAGS 0x03
#define APIREQ_BROWSE_MAX_BYTES (16u << 20) /* Storage's STO_BROWSE bounds */
#define APIREQ_BROWSE_MAX_COUNT 4096u
#define APIREQ_INVITE_LIFETIME_MIN_S 60u
#define APIREQ_INVITE_LIFETIME_MAX_S (30u * 24 * 3600)
/* UplMsg fixed part + empty media type + name prefix + data prefix. */
#define APIREQ_UPLOAD_OVERHEAD (MSG_HEADER_BYTES + 8 + 1 + 1 + 1 + 4)

/* Decoded arguments. Strings point into the decoded buffer. */
struct apireq_args {
	uint8_t cmd;
	uint8_t flags; /* always 0 so far */
	union {
		struct {
			const uint8_t *p;
			size_t len;
		} priv; /* PRIVATE_SET */
		struct {
			uint8_t hash[ADDRHASH_BYTES];
			uint8_t kind;  /* APIREQ_KIND_*; ADD_NORMAL: NORMAL */
			uint8_t flags; /* SET_FLAGS */
		} addr; /* ADDRESS_ADD_NORMAL, ADDRESS_DELETE, ADDRESS_SET_FLAGS */
		struct {
			uint8_t flags;
			uint32_t from_id, max_bytes, max_count;
		} browse;
		struct {
			uint32_t id;
		} del; /* MSG_DELETE */
		struct {
			struct msg_str name, data;
		} upload;
		struct {
			uint8_t from[ADDR32_BYTES], to[ADDR32_BYTES];
			struct msg_str subject, body;
		} send;
		struct {
			uint16_t uid;
			uint8_t level;
		} user; /* ADMIN_SET_LEVEL, ADMIN_DELETE_USER (uid only) */
		struct {
			uint8_t level, max_normal, max_shield;
			uint32_t storage_mib;
		} limits;
		struct {
			uint8_t level;
			uint32_t lifetime_s;
		} invite;
	} u;
};

/* ---- the ACC_API channel message (10.4) ---- */
#define APIREQ_KIND_USER 0
#define APIREQ_KIND_REGISTER 1
#define APIREQ_CHAN_REQ_BYTES 12    /* ts u64, uid u16, kind u8, reserved u8 */
#define APIREQ_CHAN_ANSWER_BYTES 36 /* status, cmd, disposition, reserved, key */
#define APIREQ_DISP_REPLY 0
#define APIREQ_DISP_FORWARD 1
#define APIREQ_STO_ARGS_MAX 16
#define APIREQ_FORWARD_BYTES 4      /* sto type u16, args length u8, reserved u8 */

struct apireq_chan_req {
	uint64_t ts;
	uint16_t uid;
	uint8_t kind;
	const uint8_t *body;
	size_t body_len;
};

struct apireq_chan_answer {
	uint8_t status; /* enum chan_status */
	uint8_t cmd;
	uint8_t disp;   /* APIREQ_DISP_* */
	uint8_t key[APIREQ_KEY_BYTES]; /* K_resp, or zero when the API cannot answer encrypted */
	const uint8_t *data;           /* REPLY: the response data; FORWARD: the Message, if any */
	size_t data_len;
	uint16_t sto_type;             /* FORWARD: Storage's message type */
	uint8_t sto_args[APIREQ_STO_ARGS_MAX];
	size_t sto_args_len;
};

/* URL part. */
void apireq_url_pack(uint8_t out[APIREQ_URL_BYTES], uint64_t ts, uint16_t uid);
void apireq_url_unpack(const uint8_t in[APIREQ_URL_BYTES], uint64_t *ret_ts, uint16_t *ret_uid);
void apireq_url_to_text(char out[APIREQ_URL_TEXT_LEN + 1], uint64_t ts, uint16_t uid);
/* Strict: exactly 14 characters of the base64url alphabet in canonical form
 * (unused low bits zero). -EINVAL otherwise. */
int apireq_url_from_text(const char *text, size_t len, uint64_t *ret_ts, uint16_t *ret_uid) WUR;

/* K_req and K_resp from a 32-byte key (the UAK; K_inv for a registration's
 * response). Either output may be NULL. */
void apireq_keys(uint8_t k_req[APIREQ_KEY_BYTES], uint8_t k_resp[APIREQ_KEY_BYTES],
                 const uint8_t key[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid);

/* Request body length for args_len bytes of arguments (0 when too long). */
size_t apireq_body_len(size_t args_len);
/* Seals cmd || flags || args into out (exactly apireq_body_len(args_len)
 * bytes; -EINVAL for another out_len or args over APIREQ_ARGS_MAX). */
int apireq_seal(uint8_t *out, size_t out_len, const uint8_t uak[APIREQ_KEY_BYTES], uint64_t ts,
                uint16_t uid, uint8_t cmd, uint8_t flags, const uint8_t *args,
                size_t args_len) WUR;
/* Tests only: a fixed nonce. */
int apireq_seal_with_nonce(uint8_t *out, size_t out_len, const uint8_t uak[APIREQ_KEY_BYTES],
                           uint64_t ts, uint16_t uid, uint8_t cmd, uint8_t flags,
                           const uint8_t *args, size_t args_len,
                           const uint8_t nonce[APIREQ_NONCE_BYTES]) WUR;
/* Opens a request body (K_req derived from the UAK) into plain
 * (body_len - APIREQ_OVERHEAD bytes: cmd, flags, args). -EINVAL for a length
 * outside APIREQ_BODY_MIN..MAX or a short plain buffer, -EBADMSG when the tag
 * fails (plain is then wiped). */
int apireq_open(uint8_t *plain, size_t plain_cap, size_t *ret_len,
                const uint8_t uak[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid,
                const uint8_t *body, size_t body_len) WUR;

/* Response body length for data_len bytes (0 when data_len is over the max). */
size_t apireq_response_len(size_t data_len);
int apireq_response_seal(uint8_t *out, size_t out_len, const uint8_t k_resp[APIREQ_KEY_BYTES],
                         uint64_t ts, uint16_t uid, uint8_t status, const uint8_t *data,
                         size_t data_len) WUR;
int apireq_response_seal_with_nonce(uint8_t *out, size_t out_len,
                                    const uint8_t k_resp[APIREQ_KEY_BYTES], uint64_t ts,
                                    uint16_t uid, uint8_t status, const uint8_t *data,
                                    size_t data_len, const uint8_t nonce[APIREQ_NONCE_BYTES]) WUR;
/* Opens a response into plain (body_len - APIREQ_OVERHEAD bytes) and points
 * *ret_data into it. -EINVAL for a bad length, -EBADMSG for a failed tag or a
 * non-canonical plaintext (length over what is there, padding not zero or a
 * whole block too long). */
int apireq_response_open(uint8_t *plain, size_t plain_cap, const uint8_t k_resp[APIREQ_KEY_BYTES],
                         uint64_t ts, uint16_t uid, const uint8_t *body, size_t body_len,
                         uint8_t *ret_status, const uint8_t **ret_data, size_t *ret_data_len) WUR;

/* Invitations. */
void apireq_invite_new(uint8_t invite[APIREQ_INVITE_BYTES]);
void apireq_invite_id(uint8_t id[APIREQ_INVITE_ID_BYTES], const uint8_t invite[APIREQ_INVITE_BYTES]);
void apireq_invite_key(uint8_t k_inv[APIREQ_KEY_BYTES], const uint8_t invite[APIREQ_INVITE_BYTES]);
void apireq_invite_to_text(char out[APIREQ_INVITE_TEXT_LEN + 1],
                           const uint8_t invite[APIREQ_INVITE_BYTES]);
int apireq_invite_from_text(uint8_t ret_invite[APIREQ_INVITE_BYTES], const char *text,
                            size_t len) WUR;

/* Registration body (APIREQ_REGISTER_BODY_BYTES) for the URL (ts, uid). */
int apireq_register_seal(uint8_t out[APIREQ_REGISTER_BODY_BYTES],
                         const uint8_t invite[APIREQ_INVITE_BYTES], uint64_t ts, uint16_t uid,
                         uint16_t wanted_uid, const uint8_t uak[APIREQ_KEY_BYTES],
                         const uint8_t epk[APIREQ_EPK_BYTES]) WUR;
int apireq_register_seal_with_nonce(uint8_t out[APIREQ_REGISTER_BODY_BYTES],
                                    const uint8_t invite[APIREQ_INVITE_BYTES], uint64_t ts,
                                    uint16_t uid, uint16_t wanted_uid,
                                    const uint8_t uak[APIREQ_KEY_BYTES],
                                    const uint8_t epk[APIREQ_EPK_BYTES],
                                    const uint8_t nonce[APIREQ_NONCE_BYTES]) WUR;
/* -EINVAL for a wrong length, -EBADMSG for a failed tag. The invite id is the
 * first APIREQ_INVITE_ID_BYTES of the body (the caller finds K_inv by it). */
int apireq_register_open(const uint8_t k_inv[APIREQ_KEY_BYTES], uint64_t ts, uint16_t uid,
                         const uint8_t *body, size_t body_len, uint16_t *ret_wanted_uid,
                         uint8_t ret_uak[APIREQ_KEY_BYTES], uint8_t ret_epk[APIREQ_EPK_BYTES]) WUR;

/* Command arguments: plain = cmd || flags || args, strict (12.7). -EBADMSG
 * for an unknown command, non-zero flags, a wrong length or an out-of-range
 * value. Content rules that need server state (ownership, CET, file names)
 * are Account's. */
int apireq_args_decode(struct apireq_args *ret, const uint8_t *plain, size_t len) WUR;
/* Appends cmd || flags || args; -EINVAL (nothing appended) for what the
 * decoder would reject. */
int apireq_args_encode(struct wr *w, const struct apireq_args *a) WUR;

/* ACC_API request: p is the message after the call id (and after the bulk
 * length in an fd frame); bulk is the mapped memfd when has_bulk. -EBADMSG
 * for anything section 10.4 rejects. */
int apireq_chan_req_decode(struct apireq_chan_req *ret, const uint8_t *p, size_t len,
                           const uint8_t *bulk, size_t bulk_len, bool has_bulk) WUR;
/* Appends the fixed part, and the body unless body_in_memfd. */
int apireq_chan_req_encode(struct wr *w, const struct apireq_chan_req *r, bool body_in_memfd) WUR;
/* ACC_API answer, same conventions: data travels inline or in the memfd. */
int apireq_chan_answer_decode(struct apireq_chan_answer *ret, const uint8_t *p, size_t len,
                              const uint8_t *bulk, size_t bulk_len, bool has_bulk) WUR;
int apireq_chan_answer_encode(struct wr *w, const struct apireq_chan_answer *a,
                              bool data_in_memfd) WUR;

#endif
