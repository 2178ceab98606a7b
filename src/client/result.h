/* result.h: strict decoders for the data of API responses the client reads
 * (docs/PROTOCOL.md 12.8): ACCOUNT_INFO, ADDRESS_ADD_SHIELD, a MSG_BROWSE
 * page, ADMIN_LIST_USERS and ADMIN_INVITE. The server is not trusted to be
 * well-formed: every length and count is checked before use. */
#ifndef ALLEARS_CLIENT_RESULT_H
#define ALLEARS_CLIENT_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/apireq.h"
#include "common/util.h"

#define RESULT_INFO_FIXED 52
#define RESULT_INFO_ENTRY 9
#define RESULT_ADDR_FLAG_SHIELD 0x80
#define RESULT_ADDR_FLAG_UNUSED 0x40
#define RESULT_PAGE_HEADER 23
#define RESULT_PAGE_ENTRY 8
#define RESULT_USERS_MAX 4096
#define RESULT_USER_ENTRY 5
#define RESULT_SHIELD_BYTES (ADDRHASH_BYTES + ADDR32_BYTES)
#define RESULT_INVITE_BYTES (APIREQ_INVITE_BYTES + 8)

struct result_addr {
	uint8_t hash[ADDRHASH_BYTES];
	uint8_t flags; /* section 8.6; 0x80 SHIELD */
};

struct result_info {
	uint16_t uid;
	uint8_t level;
	uint8_t count;
	uint32_t storage_mib;
	uint8_t max_normal, max_shield;
	bool usage_known;
	uint64_t used_bytes;
	uint32_t used_count;
	struct addrhash_params params;
	uint8_t salt[ADDRHASH_SALT_BYTES];
	uint16_t private_len;
	struct result_addr addr[APIREQ_ADDR_MAX];
};

/* -EBADMSG for a wrong length, a value out of range or a reserved byte that
 * is not zero. */
int result_info_decode(struct result_info *ret, const uint8_t *p, size_t len) WUR;

/* ADDRESS_ADD_SHIELD: the hash and the new address (which must be SHIELD). */
int result_shield_decode(uint8_t hash[ADDRHASH_BYTES], uint8_t addr[ADDR32_BYTES],
                         const uint8_t *p, size_t len) WUR;

/* A MSG_BROWSE page: 23 bytes of header, count index entries (id, blocks),
 * then the envelopes back to back. Every envelope length must be valid and
 * they must fill the rest exactly. The page points into p. */
struct result_page {
	bool more;
	uint32_t count, total_count;
	uint64_t total_bytes;
	const uint8_t *index; /* count x (id u32, blocks u32) */
	const uint8_t *envs;
	size_t envs_len;
};
int result_page_decode(struct result_page *ret, const uint8_t *p, size_t len) WUR;
/* Entry i (< count) of a decoded page: id and its envelope. */
void result_page_entry(const struct result_page *pg, uint32_t i, size_t *off, uint32_t *ret_id,
                       const uint8_t **ret_env, size_t *ret_len);

struct result_user {
	uint16_t uid;
	uint8_t level, normal, shield;
};
/* ADMIN_LIST_USERS: n, then n entries in strictly increasing UserID order.
 * *ret is malloc'd (n entries; NULL when n is 0). */
int result_users_decode(struct result_user **ret, size_t *ret_n, const uint8_t *p,
                        size_t len) WUR;

/* ADMIN_INVITE: the invitation and its expiry (Unix ms). */
int result_invite_decode(uint8_t invite[APIREQ_INVITE_BYTES], uint64_t *ret_expires,
                         const uint8_t *p, size_t len) WUR;

#endif
