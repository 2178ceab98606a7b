/* hashsched.c: fair scheduling of Argon2id jobs (see hashsched.h). Waiting
 * jobs sit in one FIFO per fairness key; the keys with waiting jobs form a
 * ring, and each free worker slot takes the oldest job of the next key in the
 * ring. Only as many jobs as there are workers are handed to the work queue,
 * so its own FIFO never holds a backlog that would bypass the ring. */
#include "account/hashsched.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "ipc/workq.h"

#define EMA_SHIFT 3 /* moving average weight 1/8 */

struct hjob {
	struct hjob *next;
	struct hashsched *s;
	uint8_t addr[ADDR32_BYTES];
	uint8_t hash[ADDRHASH_BYTES];
	int rc;
	bool cached; /* found in the cache when its turn came */
	uint64_t us; /* how long the hash took */
	hashsched_done_fn done;
	void *arg;
};

struct hqueue {
	struct hqueue *prev, *next; /* the ring of keys with waiting jobs */
	uint64_t key;
	struct hjob *head, *tail;
	unsigned n;
};

struct hashsched {
	struct loop *loop;
	struct workq *wq;
	struct addrcache *cache;
	unsigned threads;
	unsigned running;
	size_t waiting;
	struct hqueue *cur; /* the key served next; NULL when nothing waits */
	uint64_t typical_us;
	uint8_t salt[ADDRHASH_SALT_BYTES];
	struct addrhash_params params;
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Any normal address will do: the cost does not depend on it. */
static uint64_t time_one_hash(const uint8_t salt[ADDRHASH_SALT_BYTES],
                              const struct addrhash_params *p)
{
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	if (addr32_parse("calibration", 11, a) != ADDR32_NORMAL)
		fatalx("hashsched: calibration address");
	uint64_t t0 = mono_us();
	if (addrhash_normal(h, a, salt, p) != 0)
		fatalx("hashsched: Argon2id fails with these parameters");
	return mono_us() - t0;
}

uint64_t hashsched_typical_ms(const struct hashsched *s)
{
	uint64_t ms = (s->typical_us + 500) / 1000;
	return ms ? ms : 1;
}

struct hashsched *hashsched_new(struct loop *l, unsigned threads, struct addrcache *cache,
                                const uint8_t salt[ADDRHASH_SALT_BYTES],
                                const struct addrhash_params *params)
{
	if (threads == 0 || threads > HASHSCHED_THREADS_MAX || addrhash_params_check(params) < 0)
		fatalx("hashsched_new: bad threads or params");
	struct hashsched *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->cache = cache;
	s->threads = threads;
	s->wq = workq_new(l, threads);
	memcpy(s->salt, salt, ADDRHASH_SALT_BYTES);
	s->params = *params;
	s->typical_us = time_one_hash(salt, params);
	return s;
}

void hashsched_free(struct hashsched *s)
{
	if (!s)
		return;
	workq_free(s->wq); /* runs the done callbacks, which dispatch the rest */
	if (s->cur || s->running)
		fatalx("hashsched_free: jobs left");
	sodium_memzero(s->salt, sizeof(s->salt));
	free(s);
}

size_t hashsched_waiting(const struct hashsched *s) { return s->waiting; }
size_t hashsched_running(const struct hashsched *s) { return s->running; }

static struct hqueue *queue_find(const struct hashsched *s, uint64_t key)
{
	struct hqueue *q = s->cur;
	if (!q)
		return NULL;
	do {
		if (q->key == key)
			return q;
		q = q->next;
	} while (q != s->cur);
	return NULL;
}

/* A new key joins the ring just before the one served next, i.e. it is
 * served last in the current round. */
static struct hqueue *queue_add(struct hashsched *s, uint64_t key)
{
	struct hqueue *q = xcalloc(1, sizeof(*q));
	q->key = key;
	if (!s->cur) {
		q->prev = q->next = q;
		s->cur = q;
	} else {
		q->next = s->cur;
		q->prev = s->cur->prev;
		q->prev->next = q;
		s->cur->prev = q;
	}
	return q;
}

static void queue_drop(struct hashsched *s, struct hqueue *q)
{
	if (q->next == q) {
		s->cur = NULL;
	} else {
		q->prev->next = q->next;
		q->next->prev = q->prev;
		if (s->cur == q)
			s->cur = q->next;
	}
	free(q);
}

static void job_work(void *arg)
{
	struct hjob *j = arg;
	if (j->cached)
		return;
	uint64_t t0 = mono_us();
	j->rc = addrhash_normal(j->hash, j->addr, j->s->salt, &j->s->params);
	j->us = mono_us() - t0;
}

static void dispatch(struct hashsched *s);

static void job_done(void *arg)
{
	struct hjob *j = arg;
	struct hashsched *s = j->s;
	s->running--;
	if (j->rc == 0 && !j->cached) {
		addrcache_put(s->cache, j->addr, j->hash, loop_now_ms());
		s->typical_us += (j->us >> EMA_SHIFT) - (s->typical_us >> EMA_SHIFT);
	}
	j->done(j->rc, j->rc == 0 ? j->hash : NULL, j->arg);
	sodium_memzero(j, sizeof(*j));
	free(j);
	dispatch(s);
}

static void dispatch(struct hashsched *s)
{
	while (s->running < s->threads && s->cur) {
		struct hqueue *q = s->cur;
		struct hjob *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
		s->cur = q->next;
		if (q->n == 0)
			queue_drop(s, q);
		s->waiting--;
		/* An earlier job may have hashed the same address meanwhile. */
		j->cached = addrcache_get(s->cache, j->addr, loop_now_ms(), j->hash) == 0;
		s->running++;
		workq_submit(s->wq, job_work, job_done, j);
		loop_busy_dec(s->loop); /* the work queue keeps the loop busy now */
	}
}

int hashsched_get(struct hashsched *s, uint64_t key, const uint8_t addr[ADDR32_BYTES],
                  uint8_t ret_hash[ADDRHASH_BYTES], hashsched_done_fn done, void *arg)
{
	if (addr32_classify(addr) != ADDR32_NORMAL)
		return -EINVAL;
	if (addrcache_get(s->cache, addr, loop_now_ms(), ret_hash) == 0)
		return 1;
	if (s->waiting >= HASHSCHED_QUEUE_MAX)
		return -EAGAIN;
	struct hqueue *q = queue_find(s, key);
	if (q && q->n >= HASHSCHED_KEY_QUEUE_MAX)
		return -EAGAIN;
	if (!q)
		q = queue_add(s, key);
	struct hjob *j = xcalloc(1, sizeof(*j));
	j->s = s;
	memcpy(j->addr, addr, ADDR32_BYTES);
	j->done = done;
	j->arg = arg;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
	s->waiting++;
	loop_busy_inc(s->loop); /* a stopping daemon answers what it accepted */
	/* Never call done from here: the caller is not ready for it yet. The
	 * work queue runs done callbacks later, from the loop. */
	dispatch(s);
	return 0;
}
