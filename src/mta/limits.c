/* limits.c: per-network session counts and recipient buckets (see
 * limits.h). A chained hash table keyed by a SipHash of the network under a
 * random key (so nobody can aim for collisions); entries without sessions
 * sit on an idle list in the order they became idle and are evicted from its
 * head: after a minute (their bucket is full again, so nothing is lost) or
 * when more than MTA_LIMITS_IDLE_MAX are idle. */
#include "mta/limits.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 9         /* family, then 4 (IPv4) or 8 (IPv6 /64) bytes, zero-padded */
#define UNITS_PER_TOKEN 60000u /* one token in rate-units: refill is `rate` units per ms */
#define REFILL_MS 60000u

struct mta_ipent {
	struct mta_ipent *hnext;
	struct mta_ipent *iprev, *inext; /* on the idle list while sessions == 0 */
	uint64_t h;
	uint8_t key[KEY_BYTES];
	uint32_t sessions;
	uint64_t units;      /* tokens * UNITS_PER_TOKEN */
	uint64_t stamp;      /* when units was last refilled */
	uint64_t idle_since;
};

struct mta_limits {
	uint8_t sipkey[crypto_shorthash_KEYBYTES];
	struct mta_ipent **buckets;
	size_t mask;
	size_t n, n_idle;
	struct mta_ipent *idle_head, *idle_tail;
	uint32_t per_ip;
	uint32_t rate;
};

struct mta_limits *mta_limits_new(uint32_t per_ip_sessions, uint32_t rcpts_per_minute,
                                  uint32_t max_sessions)
{
	struct mta_limits *l = xcalloc(1, sizeof(*l));
	randombytes_buf(l->sipkey, sizeof(l->sipkey));
	size_t want = (size_t)max_sessions + MTA_LIMITS_IDLE_MAX, nb = 1024;
	while (nb < want)
		nb <<= 1;
	l->buckets = xcalloc(nb, sizeof(*l->buckets));
	l->mask = nb - 1;
	l->per_ip = per_ip_sessions;
	l->rate = rcpts_per_minute;
	return l;
}

static void idle_unlink(struct mta_limits *l, struct mta_ipent *e)
{
	if (e->iprev)
		e->iprev->inext = e->inext;
	else
		l->idle_head = e->inext;
	if (e->inext)
		e->inext->iprev = e->iprev;
	else
		l->idle_tail = e->iprev;
	e->iprev = e->inext = NULL;
	l->n_idle--;
}

static void idle_append(struct mta_limits *l, struct mta_ipent *e, uint64_t now)
{
	e->idle_since = now;
	e->inext = NULL;
	e->iprev = l->idle_tail;
	if (l->idle_tail)
		l->idle_tail->inext = e;
	else
		l->idle_head = e;
	l->idle_tail = e;
	l->n_idle++;
}

static void entry_remove(struct mta_limits *l, struct mta_ipent *e)
{
	struct mta_ipent **pp = &l->buckets[e->h & l->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	idle_unlink(l, e);
	l->n--;
	sodium_memzero(e, sizeof(*e));
	free(e);
}

static void evict(struct mta_limits *l, uint64_t now)
{
	while (l->idle_head &&
	       (now - l->idle_head->idle_since >= REFILL_MS || l->n_idle > MTA_LIMITS_IDLE_MAX))
		entry_remove(l, l->idle_head);
}

void mta_limits_free(struct mta_limits *l)
{
	if (!l)
		return;
	for (size_t i = 0; i <= l->mask; i++) {
		struct mta_ipent *e = l->buckets[i];
		while (e) {
			struct mta_ipent *next = e->hnext;
			free(e);
			e = next;
		}
	}
	free(l->buckets);
	sodium_memzero(l->sipkey, sizeof(l->sipkey));
	free(l);
}

static void refill(struct mta_limits *l, struct mta_ipent *e, uint64_t now)
{
	uint64_t cap = (uint64_t)l->rate * UNITS_PER_TOKEN;
	if (now > e->stamp) {
		uint64_t add = (now - e->stamp) * l->rate;
		e->units = cap - e->units <= add ? cap : e->units + add;
	}
	e->stamp = now;
}

int mta_limits_open(struct mta_limits *l, int family, const uint8_t ip[16], uint64_t now_ms,
                    struct mta_ipent **ret)
{
	uint8_t key[KEY_BYTES] = { 0 };
	key[0] = (uint8_t)family;
	memcpy(key + 1, ip, family == 4 ? 4 : 8);
	uint8_t hb[crypto_shorthash_BYTES];
	crypto_shorthash(hb, key, sizeof(key), l->sipkey);
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h |= (uint64_t)hb[i] << (8 * i);
	evict(l, now_ms);
	struct mta_ipent *e = l->buckets[h & l->mask];
	while (e && (e->h != h || memcmp(e->key, key, sizeof(key)) != 0))
		e = e->hnext;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->h = h;
		memcpy(e->key, key, sizeof(key));
		e->units = (uint64_t)l->rate * UNITS_PER_TOKEN;
		e->stamp = now_ms;
		e->hnext = l->buckets[h & l->mask];
		l->buckets[h & l->mask] = e;
		l->n++;
	} else if (e->sessions == 0) {
		idle_unlink(l, e);
	}
	if (e->sessions >= l->per_ip) {
		if (e->sessions == 0)
			idle_append(l, e, now_ms); /* per_ip 0: never holds a session */
		return -EUSERS;
	}
	e->sessions++;
	*ret = e;
	return 0;
}

void mta_limits_close(struct mta_limits *l, struct mta_ipent *e, uint64_t now_ms)
{
	if (--e->sessions == 0)
		idle_append(l, e, now_ms);
}

bool mta_limits_take_rcpt(struct mta_limits *l, struct mta_ipent *e, uint64_t now_ms)
{
	refill(l, e, now_ms);
	if (e->units < UNITS_PER_TOKEN)
		return false;
	e->units -= UNITS_PER_TOKEN;
	return true;
}

uint32_t mta_limits_tag(const struct mta_ipent *e) { return (uint32_t)(e->h >> 32); }

size_t mta_limits_entries(const struct mta_limits *l) { return l->n; }
