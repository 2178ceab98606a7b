/* cache.h: Enquiry's answer cache: encoded answers (enqmsg.h) by question,
 * each until its TTL runs out, bounded in entries and bytes, least recently
 * used first out. Positive answers keep the DNS TTL (capped), negative ones a
 * short TTL (dns.h); failures are never cached. docs/PROTOCOL.md section 17. */
#ifndef ALLEARS_ENQUIRY_CACHE_H
#define ALLEARS_ENQUIRY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_TTL_MAX_S 3600          /* no answer is kept longer than an hour */
#define CACHE_BYTES_MAX (16u << 20)   /* answers held at most, in bytes */
#define CACHE_ENTRIES_MAX (1u << 20)  /* the largest cache_entries a config may ask */

struct cache;

/* max_entries 0 makes a cache that keeps nothing. */
struct cache *cache_new(size_t max_entries, size_t max_bytes);
void cache_free(struct cache *c);

/* The stored answer for (type, name) if it has not expired (an expired one is
 * dropped); the pointer is valid until the next cache_put or cache_free.
 * name is compared byte for byte: callers fold it to lower case. */
const uint8_t *cache_get(struct cache *c, uint8_t type, const uint8_t *name, size_t name_len,
                         uint64_t now_ms, size_t *ret_len);

/* Stores a copy (replacing an older one), evicting the least recently used
 * entries to stay within the bounds. An answer larger than the byte bound, a
 * name longer than 255 bytes or ttl_s 0 is not stored. */
void cache_put(struct cache *c, uint8_t type, const uint8_t *name, size_t name_len,
               const uint8_t *ans, size_t ans_len, uint64_t now_ms, uint32_t ttl_s);

size_t cache_count(const struct cache *c);
size_t cache_bytes(const struct cache *c);

#endif
