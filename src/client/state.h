/* state.h: the client's small state file: its UserID once registered, and the
 * last request timestamp it used, so that every request gets a strictly
 * increasing timestamp even across quick invocations (Account refuses a
 * timestamp that is not after the last one, docs/PROTOCOL.md 12.5). Updates
 * are made under an exclusive lock on a separate lock file and written
 * durably. Format: docs/PROTOCOL.md section 15.4. */
#ifndef ALLEARS_CLIENT_STATE_H
#define ALLEARS_CLIENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define STATE_FILE_MAX 256        /* bytes */
#define STATE_MAGIC_LINE "allears-state 1"
#define STATE_LOCK_SUFFIX ".lock"
#define STATE_TS_MAX 0x7FFFFFFFFFFFFFFFull /* well beyond any clock */

struct state {
	bool has_uid;
	uint16_t uid;      /* 0-4095 */
	uint64_t last_ts;  /* ms; 0 = none yet */
};

/* Strict parser: the magic line, then optionally "uid N", then "last-ts N",
 * each ending in LF, nothing else. -EBADMSG otherwise. */
int state_parse(struct state *ret, const char *text, size_t len) WUR;
/* The canonical text of s into out (STATE_FILE_MAX); returns its length. */
size_t state_format(const struct state *s, char out[STATE_FILE_MAX]);

/* The next timestamp: max(now_ms, last_ts + 1); 0 when last_ts is at the
 * maximum. */
uint64_t state_ts_after(uint64_t last_ts, uint64_t now_ms);

/* Reads path (a missing file is an empty state). -EBADMSG/-EIO with a
 * message. */
int state_load(const char *path, struct state *ret, char *err, size_t errlen) WUR;

/* Under the lock: reads the state, takes the next timestamp for now_ms,
 * writes it back durably, returns it in *ret_ts (and the state in *ret_state
 * if not NULL). */
int state_next_ts(const char *path, uint64_t now_ms, uint64_t *ret_ts,
                  struct state *ret_state, char *err, size_t errlen) WUR;

/* Under the lock: records the UserID (or forgets it when !has_uid). */
int state_set_uid(const char *path, bool has_uid, uint16_t uid, char *err, size_t errlen) WUR;

/* Unix time in ms (CLOCK_REALTIME). */
uint64_t state_now_ms(void);

#endif
