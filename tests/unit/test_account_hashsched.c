/* test_account_hashsched.c: the fair Argon2id scheduler on a real event loop
 * and worker pool: results equal addrhash_normal, round-robin across fairness
 * keys (a busy key does not delay a quiet one behind its whole queue), the
 * per-key and total queue caps, cache hits returned at once (main.c holds their
 * answers back for hashsched_typical_ms, measured here too), and done
 * callbacks never running inside hashsched_get. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "account/hashsched.h"
#include "check.h"

static const struct addrhash_params fast = { .opslimit = 1, .memlimit_kib = 8192 };
static uint8_t salt[ADDRHASH_SALT_BYTES];

#define MAXJOBS 2048

struct rec {
	int order[MAXJOBS];
	uint64_t key[MAXJOBS];
	uint8_t hash[MAXJOBS][ADDRHASH_BYTES];
	int status[MAXJOBS];
	int n;
	bool in_get; /* a done callback must never run while this is set */
	int reentered;
};

static struct rec R;

struct tag {
	int idx;
	uint64_t key;
};
static struct tag tags[MAXJOBS];

static void done(int status, const uint8_t hash[ADDRHASH_BYTES], void *arg)
{
	struct tag *t = arg;
	if (R.in_get)
		R.reentered++;
	R.order[R.n] = t->idx;
	R.key[R.n] = t->key;
	R.status[R.n] = status;
	if (status == 0)
		memcpy(R.hash[R.n], hash, ADDRHASH_BYTES);
	R.n++;
}

static void addr_of(uint8_t a[ADDR32_BYTES], int i)
{
	char name[16];
	snprintf(name, sizeof(name), "u%dx", i);
	if (addr32_parse(name, strlen(name), a) != ADDR32_NORMAL)
		abort();
}

static int get(struct hashsched *s, uint64_t key, const uint8_t *a, int idx, uint8_t *out)
{
	tags[idx].idx = idx;
	tags[idx].key = key;
	R.in_get = true;
	int rc = hashsched_get(s, key, a, out, done, &tags[idx]);
	R.in_get = false;
	return rc;
}

static void run_loop(struct loop *l)
{
	loop_stop(l);
	if (loop_run(l) != 0)
		abort();
}

static void round_robin(void)
{
	struct loop *l = loop_new();
	struct addrcache *c = addrcache_new(1024, 60000);
	struct hashsched *s = hashsched_new(l, 1, c, salt, &fast);
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	memset(&R, 0, sizeof(R));
	/* Key 1 floods: one runs, 32 wait, the next is refused. */
	int idx = 0;
	for (int i = 0; i < 33; i++) {
		addr_of(a, i);
		CHECK(get(s, 1, a, idx++, h) == 0);
	}
	addr_of(a, 99);
	CHECK(get(s, 1, a, idx, h) == -EAGAIN);
	CHECK(hashsched_running(s) == 1 && hashsched_waiting(s) == 32);
	/* Key 2 comes later with three. */
	for (int i = 0; i < 3; i++) {
		addr_of(a, 100 + i);
		CHECK(get(s, 2, a, idx++, h) == 0);
	}
	CHECK(R.n == 0); /* nothing ran inside the calls */
	run_loop(l);
	CHECK(R.n == 36 && R.reentered == 0);
	/* Key 2's jobs alternate with key 1's: all done within the first 8. */
	int last2 = -1;
	for (int i = 0; i < R.n; i++)
		if (R.key[i] == 2)
			last2 = i;
	CHECK(last2 >= 0 && last2 <= 7);
	/* FIFO within a key. */
	int prev = -1;
	for (int i = 0; i < R.n; i++)
		if (R.key[i] == 1) {
			CHECK(R.order[i] > prev);
			prev = R.order[i];
		}
	/* Every result is the real hash. */
	for (int i = 0; i < R.n; i++) {
		int j = R.order[i];
		addr_of(a, j < 33 ? j : 100 + (j - 33));
		CHECK(R.status[i] == 0 && addrhash_normal(h, a, salt, &fast) == 0 &&
		      memcmp(h, R.hash[i], ADDRHASH_BYTES) == 0);
	}
	/* Now cached: answered inside the call, done not called. */
	int before = R.n;
	uint8_t want[ADDRHASH_BYTES];
	addr_of(a, 5);
	CHECK(addrhash_normal(want, a, salt, &fast) == 0);
	memset(h, 0, sizeof(h));
	CHECK(get(s, 7, a, 0, h) == 1 && memcmp(h, want, ADDRHASH_BYTES) == 0 && R.n == before);
	/* The typical time is measured, and about what a hash takes here. */
	uint64_t typical = hashsched_typical_ms(s);
	uint64_t t0 = loop_now_ms();
	for (int i = 0; i < 5; i++)
		CHECK(addrhash_normal(h, a, salt, &fast) == 0);
	uint64_t per = (loop_now_ms() - t0) / 5;
	CHECK(typical >= 1 && typical <= 10 * (per + 1) && per <= 10 * typical);
	/* Not a normal address. */
	uint8_t shield[ADDR32_BYTES];
	addr32_shield_random(shield);
	CHECK(get(s, 7, shield, 0, h) == -EINVAL);
	CHECK(get(s, 7, addr32_system, 0, h) == -EINVAL);
	hashsched_free(s);
	addrcache_free(c);
	loop_free(l);
}

static void total_cap_and_duplicates(void)
{
	struct loop *l = loop_new();
	struct addrcache *c = addrcache_new(1024, 60000);
	struct hashsched *s = hashsched_new(l, 2, c, salt, &fast);
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES], want[ADDRHASH_BYTES];
	memset(&R, 0, sizeof(R));
	addr_of(a, 42);
	CHECK(addrhash_normal(want, a, salt, &fast) == 0);
	/* One address asked for by many keys: the hash is computed at most
	 * once per worker; the rest find it in the cache when their turn comes. */
	int accepted = 0, refused = 0, idx = 0;
	for (uint64_t key = 0; key < 40; key++)
		for (int i = 0; i < 40; i++) {
			int rc = get(s, key, a, idx, h);
			if (rc == 0) {
				accepted++;
				idx++;
			} else {
				CHECK(rc == -EAGAIN);
				refused++;
			}
		}
	CHECK(accepted == HASHSCHED_QUEUE_MAX + 2 && hashsched_waiting(s) == HASHSCHED_QUEUE_MAX);
	CHECK(refused == 40 * 40 - accepted);
	run_loop(l);
	CHECK(R.n == accepted && R.reentered == 0);
	int same = 0;
	for (int i = 0; i < R.n; i++)
		same += R.status[i] == 0 && memcmp(R.hash[i], want, ADDRHASH_BYTES) == 0;
	CHECK(same == accepted);
	CHECK(hashsched_waiting(s) == 0 && hashsched_running(s) == 0);
	CHECK(get(s, 1, a, 0, h) == 1);
	hashsched_free(s);
	addrcache_free(c);
	loop_free(l);
}

int main(void)
{
	check_init();
	randombytes_buf(salt, sizeof(salt));
	RUN(round_robin);
	RUN(total_cap_and_duplicates);
	return check_finish();
}
