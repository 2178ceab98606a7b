/* cache.c: a bounded TTL cache of encoded answers (cache.h): a hash table
 * keyed with SipHash under a random key (so askers cannot aim many names at
 * one bucket), and a doubly linked list in order of use for eviction. */
#include "enquiry/cache.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define CACHE_KEY_MAX 255

struct centry {
	struct centry *hnext;             /* bucket chain */
	struct centry *prev, *next;       /* use order: head most recent */
	uint64_t expires_ms;
	uint64_t hash;
	size_t ans_len;
	size_t name_len;
	uint8_t type;
	uint8_t *ans;                     /* follows the name in the same allocation */
	uint8_t name[];
};

struct cache {
	struct centry **buckets;
	size_t nbuckets; /* a power of two */
	struct centry *head, *tail;
	size_t count, max_entries;
	size_t bytes, max_bytes;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

struct cache *cache_new(size_t max_entries, size_t max_bytes)
{
	struct cache *c = xcalloc(1, sizeof(*c));
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->nbuckets = 16;
	while (c->nbuckets < 2 * max_entries)
		c->nbuckets *= 2;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	randombytes_buf(c->key, sizeof(c->key));
	return c;
}

static uint64_t key_hash(const struct cache *c, uint8_t type, const uint8_t *name, size_t len)
{
	uint8_t k[1 + CACHE_KEY_MAX];
	uint8_t h[crypto_shorthash_BYTES];
	k[0] = type;
	memcpy(k + 1, name, len);
	crypto_shorthash(h, k, 1 + len, c->key);
	uint64_t v;
	memcpy(&v, h, sizeof(v));
	return v;
}

static void unlink_use(struct cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct cache *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_drop(struct cache *c, struct centry *e)
{
	struct centry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	unlink_use(c, e);
	c->count--;
	c->bytes -= e->ans_len + e->name_len;
	/* The names asked say who corresponds with whom: leave nothing behind. */
	sodium_memzero(e->name, e->name_len + e->ans_len);
	free(e);
}

static struct centry *lookup(struct cache *c, uint64_t h, uint8_t type, const uint8_t *name,
                             size_t len)
{
	for (struct centry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->type == type && e->name_len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

const uint8_t *cache_get(struct cache *c, uint8_t type, const uint8_t *name, size_t name_len,
                         uint64_t now_ms, size_t *ret_len)
{
	if (name_len > CACHE_KEY_MAX || c->count == 0)
		return NULL;
	struct centry *e = lookup(c, key_hash(c, type, name, name_len), type, name, name_len);
	if (!e)
		return NULL;
	if (now_ms >= e->expires_ms) {
		entry_drop(c, e);
		return NULL;
	}
	unlink_use(c, e);
	push_front(c, e);
	*ret_len = e->ans_len;
	return e->ans;
}

void cache_put(struct cache *c, uint8_t type, const uint8_t *name, size_t name_len,
               const uint8_t *ans, size_t ans_len, uint64_t now_ms, uint32_t ttl_s)
{
	if (c->max_entries == 0 || ttl_s == 0 || name_len > CACHE_KEY_MAX ||
	    ans_len + name_len > c->max_bytes)
		return;
	if (ttl_s > CACHE_TTL_MAX_S)
		ttl_s = CACHE_TTL_MAX_S;
	uint64_t h = key_hash(c, type, name, name_len);
	struct centry *old = lookup(c, h, type, name, name_len);
	if (old)
		entry_drop(c, old);
	while (c->tail && (c->count >= c->max_entries || c->bytes + ans_len + name_len > c->max_bytes))
		entry_drop(c, c->tail);
	struct centry *e = xmalloc(sizeof(*e) + name_len + ans_len);
	e->hash = h;
	e->type = type;
	e->name_len = name_len;
	e->ans_len = ans_len;
	e->expires_ms = now_ms + (uint64_t)ttl_s * 1000;
	memcpy(e->name, name, name_len);
	e->ans = e->name + name_len;
	memcpy(e->ans, ans, ans_len);
	struct centry **b = &c->buckets[h & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	push_front(c, e);
	c->count++;
	c->bytes += ans_len + name_len;
}

size_t cache_count(const struct cache *c) { return c->count; }
size_t cache_bytes(const struct cache *c) { return c->bytes; }

void cache_free(struct cache *c)
{
	if (!c)
		return;
	while (c->tail)
		entry_drop(c, c->tail);
	sodium_memzero(c->key, sizeof(c->key));
	free(c->buckets);
	free(c);
}
