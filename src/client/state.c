/* state.c: the state file (UserID, last request timestamp) and its lock
 * (docs/PROTOCOL.md section 15.4). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "client/fileio.h"
#include "client/state.h"

uint64_t state_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t state_ts_after(uint64_t last_ts, uint64_t now_ms)
{
	if (last_ts >= STATE_TS_MAX)
		return 0;
	return now_ms > last_ts ? now_ms : last_ts + 1;
}

/* A decimal without sign or leading zeros (except "0"), at most max. */
static int parse_dec(const char *p, size_t n, uint64_t max, uint64_t *ret)
{
	if (n == 0 || n > 19 || (n > 1 && p[0] == '0'))
		return -EBADMSG;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > max)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Takes the line "prefix DIGITS\n" at *pos if it starts with prefix. */
static int field(const char *t, size_t len, size_t *pos, const char *prefix, uint64_t max,
                 uint64_t *ret, bool *found)
{
	size_t pl = strlen(prefix);
	*found = false;
	if (len - *pos < pl || memcmp(t + *pos, prefix, pl) != 0)
		return 0;
	const char *v = t + *pos + pl;
	const char *nl = memchr(v, '\n', len - *pos - pl);
	if (!nl)
		return -EBADMSG;
	if (parse_dec(v, (size_t)(nl - v), max, ret) != 0)
		return -EBADMSG;
	*pos = (size_t)(nl - t) + 1;
	*found = true;
	return 0;
}

int state_parse(struct state *ret, const char *t, size_t len)
{
	static const char magic[] = STATE_MAGIC_LINE "\n";
	if (len > STATE_FILE_MAX || len < sizeof(magic) - 1 || memcmp(t, magic, sizeof(magic) - 1))
		return -EBADMSG;
	size_t pos = sizeof(magic) - 1;
	struct state s = { 0 };
	uint64_t v = 0;
	bool found;
	if (field(t, len, &pos, "uid ", 4095, &v, &found) != 0)
		return -EBADMSG;
	s.has_uid = found;
	s.uid = (uint16_t)v;
	if (field(t, len, &pos, "last-ts ", STATE_TS_MAX, &s.last_ts, &found) != 0 || !found)
		return -EBADMSG;
	if (pos != len)
		return -EBADMSG;
	*ret = s;
	return 0;
}

size_t state_format(const struct state *s, char out[STATE_FILE_MAX])
{
	int n;
	if (s->has_uid)
		n = snprintf(out, STATE_FILE_MAX, STATE_MAGIC_LINE "\nuid %u\nlast-ts %llu\n",
		             (unsigned)s->uid, (unsigned long long)s->last_ts);
	else
		n = snprintf(out, STATE_FILE_MAX, STATE_MAGIC_LINE "\nlast-ts %llu\n",
		             (unsigned long long)s->last_ts);
	return (size_t)n;
}

int state_load(const char *path, struct state *ret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*ret = (struct state){ 0 };
			return 0;
		}
		snprintf(err, errlen, "cannot open state file %s: %s", path, strerror(errno));
		return -EIO;
	}
	uint8_t *buf;
	size_t len;
	int rc = fileio_read_fd(fd, STATE_FILE_MAX, &buf, &len);
	close(fd);
	if (rc == -EIO) {
		snprintf(err, errlen, "cannot read state file %s: %s", path, strerror(errno));
		return -EIO;
	}
	if (rc == 0) {
		rc = state_parse(ret, (const char *)buf, len);
		free(buf);
	}
	if (rc != 0) {
		snprintf(err, errlen,
		         "state file %s is damaged; remove it and give your UserID again "
		         "('allears register' records it)",
		         path);
		return -EBADMSG;
	}
	return 0;
}

static int lock_open(const char *path, char *err, size_t errlen)
{
	char lock[4096];
	if (snprintf(lock, sizeof(lock), "%s%s", path, STATE_LOCK_SUFFIX) >= (int)sizeof(lock)) {
		snprintf(err, errlen, "state file name too long");
		return -ENAMETOOLONG;
	}
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", lock, strerror(errno));
		return -EIO;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(errno));
		close(fd);
		return -EIO;
	}
	return fd;
}

static int store(const char *path, const struct state *s, char *err, size_t errlen)
{
	char text[STATE_FILE_MAX];
	size_t n = state_format(s, text);
	int rc = fileio_write_atomic(path, (const uint8_t *)text, n, 0600, true);
	if (rc != 0)
		snprintf(err, errlen, "cannot write state file %s: %s", path, strerror(-rc));
	return rc;
}

int state_next_ts(const char *path, uint64_t now_ms, uint64_t *ret_ts, struct state *ret_state,
                  char *err, size_t errlen)
{
	int lfd = lock_open(path, err, errlen);
	if (lfd < 0)
		return lfd;
	struct state s;
	int rc = state_load(path, &s, err, errlen);
	if (rc == 0) {
		uint64_t ts = state_ts_after(s.last_ts, now_ms);
		if (ts == 0) {
			snprintf(err, errlen, "state file %s holds an impossible timestamp", path);
			rc = -EOVERFLOW;
		} else {
			s.last_ts = ts;
			rc = store(path, &s, err, errlen);
			if (rc == 0) {
				*ret_ts = ts;
				if (ret_state)
					*ret_state = s;
			}
		}
	}
	close(lfd);
	return rc;
}

int state_set_uid(const char *path, bool has_uid, uint16_t uid, char *err, size_t errlen)
{
	int lfd = lock_open(path, err, errlen);
	if (lfd < 0)
		return lfd;
	struct state s;
	int rc = state_load(path, &s, err, errlen);
	if (rc == 0) {
		s.has_uid = has_uid;
		s.uid = has_uid ? uid : 0;
		rc = store(path, &s, err, errlen);
	}
	close(lfd);
	return rc;
}
