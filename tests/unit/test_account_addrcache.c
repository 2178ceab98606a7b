/* test_account_addrcache.c: the Argon2id result cache: hits and misses,
 * replacement, LRU eviction at the bound, TTL and expiry, and that no Addr32
 * (nor its unkeyed hash) is ever in the cache's memory. */
#include <errno.h>
#include <string.h>

#include "account/addrcache.h"
#include "check.h"

static void addr_n(uint8_t a[ADDR32_BYTES], uint32_t n)
{
	/* Distinct, realistic-looking values: a 6-character normal address. */
	memset(a, 0, ADDR32_BYTES);
	a[0] = 0x30 | (uint8_t)(n >> 30);
	a[1] = (uint8_t)(n >> 22);
	a[2] = (uint8_t)(n >> 14);
	a[3] = (uint8_t)(n >> 6);
	a[4] = (uint8_t)(n << 2);
}

static void hash_n(uint8_t h[ADDRHASH_BYTES], uint32_t n)
{
	for (int i = 0; i < ADDRHASH_BYTES; i++)
		h[i] = (uint8_t)(n * 7 + i * 31 + 1);
}

static bool has_hit(struct addrcache *c, uint32_t n, uint64_t now)
{
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES], want[ADDRHASH_BYTES];
	addr_n(a, n);
	hash_n(want, n);
	if (addrcache_get(c, a, now, h) != 0)
		return false;
	return memcmp(h, want, sizeof(h)) == 0;
}

static void put_n(struct addrcache *c, uint32_t n, uint64_t now)
{
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	addr_n(a, n);
	hash_n(h, n);
	addrcache_put(c, a, h, now);
}

static void hit_and_miss(void)
{
	struct addrcache *c = addrcache_new(16, 1000);
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	addr_n(a, 1);
	memset(h, 0xAA, sizeof(h));
	CHECK(addrcache_get(c, a, 0, h) == -ENOENT);
	CHECK(h[0] == 0xAA); /* untouched on a miss */
	put_n(c, 1, 0);
	CHECK(addrcache_count(c) == 1);
	CHECK(has_hit(c, 1, 10));
	CHECK(!has_hit(c, 2, 10));
	/* The first byte alone differing is a different address. */
	addr_n(a, 1);
	a[9] ^= 1;
	CHECK(addrcache_get(c, a, 10, h) == -ENOENT);
	addrcache_free(c);
}

static void replace_value(void)
{
	struct addrcache *c = addrcache_new(4, 1000);
	uint8_t a[ADDR32_BYTES], h1[ADDRHASH_BYTES], h2[ADDRHASH_BYTES], got[ADDRHASH_BYTES];
	addr_n(a, 5);
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	addrcache_put(c, a, h1, 0);
	addrcache_put(c, a, h2, 0);
	CHECK(addrcache_count(c) == 1);
	CHECK(addrcache_get(c, a, 1, got) == 0);
	CHECK_MEM(got, h2, sizeof(got));
	addrcache_free(c);
}

static void lru_eviction_at_bound(void)
{
	struct addrcache *c = addrcache_new(8, 1000000);
	for (uint32_t n = 0; n < 8; n++)
		put_n(c, n, n);
	CHECK(addrcache_count(c) == 8);
	CHECK(has_hit(c, 0, 20)); /* 0 becomes the most recent; 1 is now the oldest */
	put_n(c, 100, 21);
	CHECK(addrcache_count(c) == 8);
	CHECK(!has_hit(c, 1, 22));
	CHECK(has_hit(c, 0, 22));
	for (uint32_t n = 2; n < 8; n++)
		CHECK(has_hit(c, n, 23));
	CHECK(has_hit(c, 100, 23));
	/* A cache of one keeps only the last. */
	struct addrcache *one = addrcache_new(1, 1000);
	put_n(one, 1, 0);
	put_n(one, 2, 0);
	CHECK(addrcache_count(one) == 1 && !has_hit(one, 1, 1) && has_hit(one, 2, 1));
	addrcache_free(one);
	addrcache_free(c);
}

static void default_bound(void)
{
	struct addrcache *c = addrcache_new(ADDRCACHE_ENTRIES, ADDRCACHE_TTL_MS);
	const uint32_t total = ADDRCACHE_ENTRIES + 5000;
	for (uint32_t n = 0; n < total; n++)
		put_n(c, n, 1);
	CHECK(addrcache_count(c) == ADDRCACHE_ENTRIES);
	int old_hits = 0, new_hits = 0;
	for (uint32_t n = 0; n < 5000; n++)
		old_hits += has_hit(c, n, 2);
	for (uint32_t n = 5000; n < total; n++)
		new_hits += has_hit(c, n, 2);
	CHECK(old_hits == 0);
	CHECK(new_hits == ADDRCACHE_ENTRIES);
	addrcache_free(c);
}

static void ttl(void)
{
	struct addrcache *c = addrcache_new(16, 100);
	put_n(c, 1, 1000);
	CHECK(has_hit(c, 1, 1099));
	CHECK(!has_hit(c, 1, 1100)); /* expired: dropped */
	CHECK(addrcache_count(c) == 0);
	/* A hit does not extend the lifetime; a new put does. */
	put_n(c, 2, 2000);
	CHECK(has_hit(c, 2, 2050));
	CHECK(!has_hit(c, 2, 2100));
	put_n(c, 3, 3000);
	put_n(c, 3, 3080);
	CHECK(has_hit(c, 3, 3150));
	/* No overflow near the end of time. */
	struct addrcache *big = addrcache_new(2, UINT64_MAX);
	put_n(big, 1, 5);
	CHECK(has_hit(big, 1, UINT64_MAX - 1));
	addrcache_free(big);
	addrcache_free(c);
}

static void expire_and_clear(void)
{
	struct addrcache *c = addrcache_new(16, 100);
	for (uint32_t n = 0; n < 10; n++)
		put_n(c, n, n * 10); /* n expires at n*10 + 100 */
	CHECK(addrcache_expire(c, 150) == 6); /* 0..5 */
	CHECK(addrcache_count(c) == 4);
	CHECK(!has_hit(c, 5, 151));
	CHECK(has_hit(c, 6, 151));
	/* Freed entries are reused. */
	for (uint32_t n = 20; n < 32; n++)
		put_n(c, n, 151);
	CHECK(addrcache_count(c) == 16);
	addrcache_clear(c);
	CHECK(addrcache_count(c) == 0);
	CHECK(!has_hit(c, 20, 152));
	put_n(c, 40, 152);
	CHECK(has_hit(c, 40, 153));
	addrcache_free(c);
}

static bool region_contains(const struct addrcache *c, const uint8_t *needle, size_t n)
{
	const void *p;
	size_t len;
	addrcache_region(c, &p, &len);
	return memmem(p, len, needle, n) != NULL;
}

static void no_address_in_memory(void)
{
	struct addrcache *c = addrcache_new(512, 1000000);
	uint8_t a[400][ADDR32_BYTES], h[ADDRHASH_BYTES];
	for (int i = 0; i < 400; i++) {
		randombytes_buf(a[i], ADDR32_BYTES);
		a[i][0] &= 0x7F;
		hash_n(h, (uint32_t)i);
		addrcache_put(c, a[i], h, 1);
	}
	int found = 0, found_plain_hash = 0, found_half = 0;
	for (int i = 0; i < 400; i++) {
		uint8_t unkeyed[ADDRCACHE_TAG_BYTES];
		crypto_generichash(unkeyed, sizeof(unkeyed), a[i], ADDR32_BYTES, NULL, 0);
		found += region_contains(c, a[i], ADDR32_BYTES);
		found_half += region_contains(c, a[i] + 2, 6);
		found_plain_hash += region_contains(c, unkeyed, sizeof(unkeyed));
	}
	CHECK(found == 0);
	CHECK(found_half == 0);
	CHECK(found_plain_hash == 0);
	/* Sanity of the scan itself: the cached values are there. */
	hash_n(h, 7);
	CHECK(region_contains(c, h, sizeof(h)));
	/* After a clear, not even the values are. */
	addrcache_clear(c);
	CHECK(!region_contains(c, h, sizeof(h)));
	addrcache_free(c);
}

static void two_caches_differ(void)
{
	/* Per-process random keys: the same address has unrelated tags, seen as
	 * disjoint memory contents apart from the shared value. */
	struct addrcache *c1 = addrcache_new(1, 1000), *c2 = addrcache_new(1, 1000);
	uint8_t a[ADDR32_BYTES] = { 0x2a, 0x9b, 0x40, 0xd4 }, h[ADDRHASH_BYTES] = { 9 };
	addrcache_put(c1, a, h, 0);
	addrcache_put(c2, a, h, 0);
	const void *p1, *p2;
	size_t l1, l2;
	addrcache_region(c1, &p1, &l1);
	addrcache_region(c2, &p2, &l2);
	CHECK(l1 == l2);
	/* Both keys (first 32 bytes) and both tags differ. */
	CHECK(memcmp(p1, p2, ADDRCACHE_KEY_BYTES) != 0);
	uint8_t g[ADDRHASH_BYTES];
	CHECK(addrcache_get(c1, a, 1, g) == 0 && addrcache_get(c2, a, 1, g) == 0);
	addrcache_free(c1);
	addrcache_free(c2);
}

int main(void)
{
	check_init();
	RUN(hit_and_miss);
	RUN(replace_value);
	RUN(lru_eviction_at_bound);
	RUN(default_bound);
	RUN(ttl);
	RUN(expire_and_clear);
	RUN(no_address_in_memory);
	RUN(two_caches_differ);
	return check_finish();
}
