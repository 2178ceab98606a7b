/* addrcache.h: memory-only cache of recent Argon2id results for normal
 * addresses, so repeated RCPT TO lookups do not repeat a 30 ms hash. Entries
 * are found by a keyed BLAKE2b of the Addr32 under a random per-process key:
 * the cache holds no address and means nothing after a restart. Bounded, LRU
 * eviction, TTL from insertion. Loop thread only (no locking).
 * docs/PROTOCOL.md section 8.11. */
#ifndef ALLEARS_ACCOUNT_ADDRCACHE_H
#define ALLEARS_ACCOUNT_ADDRCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/util.h"

#define ADDRCACHE_ENTRIES 65536      /* default bound */
#define ADDRCACHE_ENTRIES_MAX (1u << 22)
#define ADDRCACHE_TAG_BYTES 16       /* BLAKE2b-128 of the Addr32 */
#define ADDRCACHE_KEY_BYTES 32
#define ADDRCACHE_TTL_MS (15u * 60 * 1000) /* default: 15 minutes */

struct addrcache;

/* A cache of at most `entries` results (1 - ADDRCACHE_ENTRIES_MAX; fatalx
 * otherwise), each kept ttl_ms after it was put. Times passed to the other
 * functions come from one monotonic clock. */
struct addrcache *addrcache_new(size_t entries, uint64_t ttl_ms);
/* Wipes and frees. */
void addrcache_free(struct addrcache *c);

/* 0 and the cached hash, or -ENOENT (absent or expired; an expired entry is
 * dropped). A hit makes the entry the most recently used. */
int addrcache_get(struct addrcache *c, const uint8_t addr[ADDR32_BYTES], uint64_t now_ms,
                  uint8_t ret_hash[ADDRHASH_BYTES]) WUR;
/* Adds or replaces; when full, the least recently used entry goes. */
void addrcache_put(struct addrcache *c, const uint8_t addr[ADDR32_BYTES],
                   const uint8_t hash[ADDRHASH_BYTES], uint64_t now_ms);
/* Drops every expired entry (for a periodic timer); returns how many. */
size_t addrcache_expire(struct addrcache *c, uint64_t now_ms);
/* Drops everything. */
void addrcache_clear(struct addrcache *c);
size_t addrcache_count(const struct addrcache *c);

/* Test hook: the one memory block holding the whole cache. */
void addrcache_region(const struct addrcache *c, const void **ret_p, size_t *ret_len);

#endif
