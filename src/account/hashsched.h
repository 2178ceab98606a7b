/* hashsched.h: the Argon2id hashes of normal addresses, scheduled fairly.
 * At most `threads` hashes run at once (each holds the server's Argon2
 * memory); waiting jobs are queued per fairness key and served round-robin
 * across keys, each key with a short queue of its own, so one busy sender
 * cannot starve the others. Recent results come from the address cache at
 * once, whether or not the address belongs to anyone. Loop thread only.
 * docs/PROTOCOL.md section 10.2. */
#ifndef ALLEARS_ACCOUNT_HASHSCHED_H
#define ALLEARS_ACCOUNT_HASHSCHED_H

#include <stddef.h>
#include <stdint.h>

#include "account/addrcache.h"
#include "common/addr32.h"
#include "common/addrhash.h"
#include "ipc/loop.h"

#define HASHSCHED_KEY_QUEUE_MAX 32 /* waiting jobs per fairness key */
#define HASHSCHED_QUEUE_MAX 1024   /* waiting jobs in all */
#define HASHSCHED_THREADS_MAX 64

/* status: 0 with the hash, or -ENOMEM (Argon2 could not get its memory). */
typedef void (*hashsched_done_fn)(int status, const uint8_t hash[ADDRHASH_BYTES], void *arg);

struct hashsched;

/* salt and params are copied; cache is shared with the caller. Runs one
 * Argon2id hash to time it. */
struct hashsched *hashsched_new(struct loop *l, unsigned threads, struct addrcache *cache,
                                const uint8_t salt[ADDRHASH_SALT_BYTES],
                                const struct addrhash_params *params);
/* Waits for every job (their done callbacks run) and frees. */
void hashsched_free(struct hashsched *s);

/* The hash of a NORMAL address. Returns 1 with ret_hash from the cache (done
 * is not called), 0 when queued (done runs later on the loop thread, never
 * from inside this call), -EAGAIN when this key's queue or the whole queue is
 * full, -EINVAL when addr is not a normal address. */
int hashsched_get(struct hashsched *s, uint64_t key, const uint8_t addr[ADDR32_BYTES],
                  uint8_t ret_hash[ADDRHASH_BYTES], hashsched_done_fn done, void *arg) WUR;

/* How long one hash typically takes, in ms (at least 1): timed once when the
 * scheduler is made, then a moving average (weight 1/8) of the hashes it
 * runs. Cache hits are meant to be answered no sooner than this. */
uint64_t hashsched_typical_ms(const struct hashsched *s);

size_t hashsched_waiting(const struct hashsched *s);
size_t hashsched_running(const struct hashsched *s);

#endif
