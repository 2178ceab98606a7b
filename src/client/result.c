/* result.c: decoders of API response data (docs/PROTOCOL.md 12.8, 11.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/result.h"
#include "common/buf.h"
#include "common/bytes.h"
#include "common/envelope.h"

int result_info_decode(struct result_info *ret, const uint8_t *p, size_t len)
{
	if (len < RESULT_INFO_FIXED)
		return -EBADMSG;
	struct result_info r;
	memset(&r, 0, sizeof(r));
	struct rd d = rd_init(p, len);
	r.uid = rd_u16(&d);
	r.level = rd_u8(&d);
	r.count = rd_u8(&d);
	r.storage_mib = rd_u32(&d);
	r.max_normal = rd_u8(&d);
	r.max_shield = rd_u8(&d);
	uint8_t known = rd_u8(&d);
	uint8_t res1 = rd_u8(&d);
	r.used_bytes = rd_u64(&d);
	r.used_count = rd_u32(&d);
	const uint8_t *params = rd_take(&d, ADDRHASH_PARAMS_BYTES);
	rd_copy(&d, r.salt, ADDRHASH_SALT_BYTES);
	r.private_len = rd_u16(&d);
	uint16_t res2 = rd_u16(&d);
	if (d.bad || r.uid >= 4096 || r.level > 3 || r.count > APIREQ_ADDR_MAX ||
	    r.storage_mib > APIREQ_STORAGE_MIB_MAX || r.max_normal > APIREQ_ADDR_MAX ||
	    r.max_shield > APIREQ_ADDR_MAX || known > 1 || res1 || res2 ||
	    r.private_len > APIREQ_PRIVATE_MAX || len != RESULT_INFO_FIXED + RESULT_INFO_ENTRY * (size_t)r.count)
		return -EBADMSG;
	if (!known && (r.used_bytes || r.used_count))
		return -EBADMSG;
	r.usage_known = known;
	if (addrhash_params_decode(params, ADDRHASH_PARAMS_BYTES, &r.params) != 0)
		return -EBADMSG;
	for (size_t i = 0; i < r.count; i++) {
		rd_copy(&d, r.addr[i].hash, ADDRHASH_BYTES);
		r.addr[i].flags = rd_u8(&d);
		if (r.addr[i].flags & RESULT_ADDR_FLAG_UNUSED)
			return -EBADMSG;
	}
	if (!rd_done(&d))
		return -EBADMSG;
	*ret = r;
	return 0;
}

int result_shield_decode(uint8_t hash[ADDRHASH_BYTES], uint8_t addr[ADDR32_BYTES],
                         const uint8_t *p, size_t len)
{
	if (len != RESULT_SHIELD_BYTES || addr32_classify(p + ADDRHASH_BYTES) != ADDR32_SHIELD)
		return -EBADMSG;
	memcpy(hash, p, ADDRHASH_BYTES);
	memcpy(addr, p + ADDRHASH_BYTES, ADDR32_BYTES);
	return 0;
}

int result_page_decode(struct result_page *ret, const uint8_t *p, size_t len)
{
	if (len < RESULT_PAGE_HEADER)
		return -EBADMSG;
	struct result_page pg;
	memset(&pg, 0, sizeof(pg));
	uint8_t more = p[0];
	uint16_t res1 = le16_load(p + 1);
	pg.count = le32_load(p + 3);
	pg.total_count = le32_load(p + 7);
	uint32_t res2 = le32_load(p + 11);
	pg.total_bytes = le64_load(p + 15);
	if (more > 1 || res1 || res2 || pg.count > APIREQ_BROWSE_MAX_COUNT ||
	    pg.count > pg.total_count)
		return -EBADMSG;
	pg.more = more;
	size_t left = len - RESULT_PAGE_HEADER;
	if (left / RESULT_PAGE_ENTRY < pg.count)
		return -EBADMSG;
	pg.index = p + RESULT_PAGE_HEADER;
	pg.envs = pg.index + (size_t)pg.count * RESULT_PAGE_ENTRY;
	pg.envs_len = left - (size_t)pg.count * RESULT_PAGE_ENTRY;
	size_t sum = 0;
	for (uint32_t i = 0; i < pg.count; i++) {
		uint64_t blocks = le32_load(pg.index + (size_t)i * RESULT_PAGE_ENTRY + 4);
		uint64_t bytes = blocks * ENVELOPE_BLOCK;
		if (!envelope_size_valid((size_t)bytes) || bytes > pg.envs_len - sum)
			return -EBADMSG;
		sum += (size_t)bytes;
	}
	if (sum != pg.envs_len || (uint64_t)sum > pg.total_bytes)
		return -EBADMSG;
	*ret = pg;
	return 0;
}

void result_page_entry(const struct result_page *pg, uint32_t i, size_t *off, uint32_t *ret_id,
                       const uint8_t **ret_env, size_t *ret_len)
{
	const uint8_t *e = pg->index + (size_t)i * RESULT_PAGE_ENTRY;
	size_t n = (size_t)le32_load(e + 4) * ENVELOPE_BLOCK;
	*ret_id = le32_load(e);
	*ret_env = pg->envs + *off;
	*ret_len = n;
	*off += n;
}

int result_users_decode(struct result_user **ret, size_t *ret_n, const uint8_t *p, size_t len)
{
	if (len < 2)
		return -EBADMSG;
	size_t n = le16_load(p);
	if (n > RESULT_USERS_MAX || len != 2 + RESULT_USER_ENTRY * n)
		return -EBADMSG;
	struct result_user *u = n ? xcalloc(n, sizeof(*u)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = p + 2 + RESULT_USER_ENTRY * i;
		u[i] = (struct result_user){ le16_load(e), e[2], e[3], e[4] };
		if (u[i].uid >= 4096 || u[i].level > 3 || u[i].normal > APIREQ_ADDR_MAX ||
		    u[i].shield > APIREQ_ADDR_MAX || u[i].normal + u[i].shield > APIREQ_ADDR_MAX ||
		    (i && u[i].uid <= u[i - 1].uid)) {
			free(u);
			return -EBADMSG;
		}
	}
	*ret = u;
	*ret_n = n;
	return 0;
}

int result_invite_decode(uint8_t invite[APIREQ_INVITE_BYTES], uint64_t *ret_expires,
                         const uint8_t *p, size_t len)
{
	if (len != RESULT_INVITE_BYTES)
		return -EBADMSG;
	memcpy(invite, p, APIREQ_INVITE_BYTES);
	*ret_expires = le64_load(p + APIREQ_INVITE_BYTES);
	return 0;
}
