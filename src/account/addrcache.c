/* addrcache.c: the Argon2id result cache (docs/PROTOCOL.md section 8.11). One
 * sodium_malloc block holds the key, a bucket array (chained by index) and
 * the entries, which also form a doubly linked LRU list. Every removed entry
 * is wiped. */
#include "account/addrcache.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"

#define NIL UINT32_MAX

_Static_assert(ADDRCACHE_ENTRIES_MAX < NIL, "indexes fit u32");

struct ac_entry {
	uint8_t tag[ADDRCACHE_TAG_BYTES];
	uint8_t hash[ADDRHASH_BYTES];
	uint64_t expires_ms;
	uint32_t chain; /* next entry in the bucket, or in the free list */
	uint32_t prev;  /* LRU neighbours; head = most recent */
	uint32_t next;
};

struct addrcache {
	uint8_t key[ADDRCACHE_KEY_BYTES];
	size_t size;  /* bytes of the whole block */
	size_t cap;   /* entries */
	size_t nbuckets; /* power of two >= cap */
	size_t count;
	uint64_t ttl_ms;
	uint32_t head, tail, free_list;
	uint32_t *bucket;
	struct ac_entry *e;
};

struct addrcache *addrcache_new(size_t entries, uint64_t ttl_ms)
{
	if (entries == 0 || entries > ADDRCACHE_ENTRIES_MAX)
		fatalx("addrcache_new: %zu entries", entries);
	size_t nb = 1;
	while (nb < entries)
		nb <<= 1;
	size_t head = (sizeof(struct addrcache) + 15) & ~(size_t)15;
	size_t bsz = (nb * sizeof(uint32_t) + 15) & ~(size_t)15;
	size_t size = head + bsz + entries * sizeof(struct ac_entry);
	uint8_t *block = sodium_malloc(size);
	if (!block)
		fatal("sodium_malloc addrcache");
	memset(block, 0, size);
	struct addrcache *c = (struct addrcache *)block;
	c->size = size;
	c->cap = entries;
	c->nbuckets = nb;
	c->ttl_ms = ttl_ms;
	c->bucket = (uint32_t *)(block + head);
	c->e = (struct ac_entry *)(block + head + bsz);
	randombytes_buf(c->key, sizeof(c->key));
	addrcache_clear(c);
	return c;
}

void addrcache_free(struct addrcache *c)
{
	if (c)
		sodium_free(c); /* wipes the whole block */
}

void addrcache_clear(struct addrcache *c)
{
	for (size_t b = 0; b < c->nbuckets; b++)
		c->bucket[b] = NIL;
	sodium_memzero(c->e, c->cap * sizeof(*c->e));
	for (size_t i = 0; i < c->cap; i++)
		c->e[i].chain = i + 1 < c->cap ? (uint32_t)(i + 1) : NIL;
	c->free_list = 0;
	c->head = c->tail = NIL;
	c->count = 0;
}

size_t addrcache_count(const struct addrcache *c)
{
	return c->count;
}

void addrcache_region(const struct addrcache *c, const void **ret_p, size_t *ret_len)
{
	*ret_p = c;
	*ret_len = c->size;
}

static void make_tag(const struct addrcache *c, uint8_t tag[ADDRCACHE_TAG_BYTES],
                     const uint8_t addr[ADDR32_BYTES])
{
	crypto_generichash(tag, ADDRCACHE_TAG_BYTES, addr, ADDR32_BYTES, c->key, sizeof(c->key));
}

static size_t bucket_of(const struct addrcache *c, const uint8_t tag[ADDRCACHE_TAG_BYTES])
{
	return le32_load(tag) & (c->nbuckets - 1);
}

static uint32_t find(const struct addrcache *c, const uint8_t tag[ADDRCACHE_TAG_BYTES])
{
	for (uint32_t i = c->bucket[bucket_of(c, tag)]; i != NIL; i = c->e[i].chain)
		if (memcmp(c->e[i].tag, tag, ADDRCACHE_TAG_BYTES) == 0)
			return i;
	return NIL;
}

static void lru_unlink(struct addrcache *c, uint32_t i)
{
	struct ac_entry *x = &c->e[i];
	if (x->prev != NIL)
		c->e[x->prev].next = x->next;
	else
		c->head = x->next;
	if (x->next != NIL)
		c->e[x->next].prev = x->prev;
	else
		c->tail = x->prev;
	x->prev = x->next = NIL;
}

static void lru_push_front(struct addrcache *c, uint32_t i)
{
	struct ac_entry *x = &c->e[i];
	x->prev = NIL;
	x->next = c->head;
	if (c->head != NIL)
		c->e[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

static void remove_entry(struct addrcache *c, uint32_t i)
{
	uint32_t *pp = &c->bucket[bucket_of(c, c->e[i].tag)];
	while (*pp != i) {
		if (*pp == NIL)
			fatalx("addrcache: entry missing from its bucket");
		pp = &c->e[*pp].chain;
	}
	*pp = c->e[i].chain;
	lru_unlink(c, i);
	sodium_memzero(&c->e[i], sizeof(c->e[i]));
	c->e[i].chain = c->free_list;
	c->free_list = i;
	c->count--;
}

int addrcache_get(struct addrcache *c, const uint8_t addr[ADDR32_BYTES], uint64_t now_ms,
                  uint8_t ret_hash[ADDRHASH_BYTES])
{
	uint8_t tag[ADDRCACHE_TAG_BYTES];
	make_tag(c, tag, addr);
	uint32_t i = find(c, tag);
	sodium_memzero(tag, sizeof(tag));
	if (i == NIL)
		return -ENOENT;
	if (now_ms >= c->e[i].expires_ms) {
		remove_entry(c, i);
		return -ENOENT;
	}
	lru_unlink(c, i);
	lru_push_front(c, i);
	memcpy(ret_hash, c->e[i].hash, ADDRHASH_BYTES);
	return 0;
}

void addrcache_put(struct addrcache *c, const uint8_t addr[ADDR32_BYTES],
                   const uint8_t hash[ADDRHASH_BYTES], uint64_t now_ms)
{
	uint8_t tag[ADDRCACHE_TAG_BYTES];
	make_tag(c, tag, addr);
	uint32_t i = find(c, tag);
	if (i != NIL) {
		lru_unlink(c, i);
	} else {
		if (c->free_list == NIL)
			remove_entry(c, c->tail);
		i = c->free_list;
		c->free_list = c->e[i].chain;
		memcpy(c->e[i].tag, tag, ADDRCACHE_TAG_BYTES);
		size_t b = bucket_of(c, tag);
		c->e[i].chain = c->bucket[b];
		c->bucket[b] = i;
		c->count++;
	}
	memcpy(c->e[i].hash, hash, ADDRHASH_BYTES);
	c->e[i].expires_ms = now_ms + c->ttl_ms < now_ms ? UINT64_MAX : now_ms + c->ttl_ms;
	lru_push_front(c, i);
	sodium_memzero(tag, sizeof(tag));
}

size_t addrcache_expire(struct addrcache *c, uint64_t now_ms)
{
	size_t n = 0;
	for (uint32_t i = c->head; i != NIL;) {
		uint32_t next = c->e[i].next;
		if (now_ms >= c->e[i].expires_ms) {
			remove_entry(c, i);
			n++;
		}
		i = next;
	}
	return n;
}
