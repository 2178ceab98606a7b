/* store.c: user files, group commit, deferred hole punching, snapshots and
 * crash recovery for Storage (docs/PROTOCOL.md section 9; threading contract
 * in store.h). The durability order of every operation is in section 9.5; the
 * recovery rules in section 9.6. Nothing here logs anything user-specific. */
#include "storage/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_READ_RECS 4096 /* records read per pread during replay */
#define ZERO_CHUNK 65536        /* zero-fill fallback when holes are unsupported */

enum { ST_IDLE, ST_COMMITTING, ST_COMMITTED };
enum { B_OPEN, B_COMMITTED, B_APPLIED };

/* Loop-thread view of what is queued but not applied yet, per user. */
struct queued {
	bool exists;      /* after every queued create/remove */
	uint32_t next_id; /* next id to hand out */
	uint32_t ops;     /* queued operations not yet applied or discarded */
	uint64_t bytes;   /* envelope bytes of those that are appends */
};

/* On-disk work an applied record calls for, done at the next commit's start. */
struct deferred {
	uint16_t uid;
	bool unlink;
	uint64_t off, len;
};

struct store {
	int dirfd, msgfd, jfd;
	uint8_t *key; /* sto-stat key, sodium_malloc */
	char *perm;   /* file-name permutation, sodium_malloc */
	size_t snap_bytes;

	struct stindex *ix;                /* written only by apply (L) */
	struct queued q[STINDEX_USERS];    /* L only */

	uint64_t phys[STINDEX_USERS];      /* C: length of each user file as written */
	bool punched[STINDEX_USERS];       /* C: holes not yet synced */
	bool regap[STINDEX_USERS];         /* C: a hole or cut failed: redo from the index */
	bool dir_dirty;                    /* C: unlinks not yet synced */
	uint64_t jsize;                    /* C: journal length */

	struct deferred *def;              /* appended by apply (L), drained by C */
	size_t ndef, cdef;
	atomic_bool cleanup_due;

	atomic_int state;
	struct store_batch *committed;     /* the batch awaiting apply */
	atomic_uint_fast64_t syncs;
	atomic_bool failed;
};

struct op {
	uint8_t kind; /* enum stindex_kind */
	uint16_t uid;
	uint32_t id;
	uint32_t blocks;
	uint64_t offset;
	const uint8_t *data;
	int result;
};

struct store_batch {
	struct store *st;
	struct op *ops;
	size_t n, cap;
	uint8_t removed[STINDEX_USERS / 8]; /* uids removed in this batch */
	struct stindex_rec *recs;
	size_t nrec, crec;
	int state;
};

static store_hook_fn test_hook;

void store_test_set_hook(store_hook_fn fn) { test_hook = fn; }

static void hook(enum store_hook where)
{
	if (test_hook)
		test_hook(where);
}

static void user_name(const struct store *st, uint16_t uid, char name[KEYS_FILENAME_LEN + 1])
{
	if (keys_user_filename_perm(name, uid, st->perm) != 0)
		fatalx("store: bad uid");
}

static int open_user(const struct store *st, uint16_t uid, int flags)
{
	char name[KEYS_FILENAME_LEN + 1];
	user_name(st, uid, name);
	int fd = openat(st->msgfd, name, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int sync_fd(struct store *st, int fd, bool data_only)
{
	atomic_fetch_add(&st->syncs, 1);
	int rc = data_only ? fdatasync(fd) : fsync(fd);
	return rc == 0 ? 0 : -errno;
}

static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t w = pwrite(fd, b, len, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		b += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int pread_all(int fd, void *p, size_t len, uint64_t off)
{
	uint8_t *b = p;
	while (len) {
		ssize_t r = pread(fd, b, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* the file is shorter than the index says */
		b += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t w = write(fd, b, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Frees the disk blocks of [off, off + len): a hole, or zeros where the file
 * system cannot punch holes. */
static int punch(int fd, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	static const uint8_t zeros[ZERO_CHUNK];
	while (len) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		int rc = pwrite_all(fd, zeros, n, off);
		if (rc < 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/* Punches every gap between the live envelopes of u: all bytes below its end
 * that no live envelope holds. Computed from the index alone, so always safe. */
static int punch_gaps(int fd, const struct stindex_user *u, bool *ret_any)
{
	uint64_t pos = 0;
	for (uint32_t i = 0; i < u->n; i++) {
		const struct stindex_entry *e = &u->e[i];
		if (e->blocks & STINDEX_DEAD)
			continue;
		if (e->offset > pos) {
			int rc = punch(fd, pos, e->offset - pos);
			if (rc < 0)
				return rc;
			*ret_any = true;
		}
		pos = e->offset + stindex_size(e->blocks);
	}
	return 0;
}

/* ---------------------------------------------------------------- cleanup */

/* Deferred work of the batches applied since the last commit (section 9.5),
 * then every user file is cut back to its index end. Runs on C before any
 * write of the new batch, so nothing it frees can be reused underneath it. */
static void cleanup(struct store *st)
{
	int fd = -1;
	long fd_uid = -1;
	unsigned failures = 0;
	for (size_t i = 0; i < st->ndef; i++) {
		const struct deferred *d = &st->def[i];
		const struct stindex_user *u = &st->ix->u[d->uid];
		if (d->unlink) {
			if (u->exists)
				continue; /* cannot happen: re-creation needs a later commit */
			if (fd_uid == d->uid) {
				close(fd);
				fd = -1;
				fd_uid = -1;
			}
			char name[KEYS_FILENAME_LEN + 1];
			user_name(st, d->uid, name);
			if (unlinkat(st->msgfd, name, 0) != 0 && errno != ENOENT)
				failures++;
			st->dir_dirty = true;
			st->phys[d->uid] = 0;
			st->punched[d->uid] = false;
			continue;
		}
		if (!u->exists)
			continue;
		uint64_t end = stindex_user_end(u);
		if (d->off >= end)
			continue; /* the truncation below frees it */
		uint64_t len = d->len < end - d->off ? d->len : end - d->off;
		if (fd_uid != d->uid) {
			if (fd >= 0)
				close(fd);
			fd = open_user(st, d->uid, O_WRONLY);
			fd_uid = fd >= 0 ? d->uid : -1;
			if (fd < 0) {
				failures++;
				st->regap[d->uid] = true;
				continue;
			}
		}
		if (punch(fd, d->off, len) != 0) {
			failures++;
			st->regap[d->uid] = true;
		} else {
			st->punched[d->uid] = true;
		}
	}
	if (fd >= 0)
		close(fd);
	st->ndef = 0;
	atomic_store(&st->cleanup_due, false);

	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		const struct stindex_user *u = &st->ix->u[uid];
		if (!u->exists) {
			st->phys[uid] = 0;
			st->regap[uid] = false;
			continue;
		}
		uint64_t end = stindex_user_end(u);
		if (st->phys[uid] == end && !st->regap[uid])
			continue;
		int tfd = open_user(st, (uint16_t)uid, O_WRONLY);
		bool any = false;
		if (tfd >= 0 && st->phys[uid] > end && ftruncate(tfd, (off_t)end) == 0)
			st->phys[uid] = end;
		if (tfd >= 0 && st->regap[uid] && punch_gaps(tfd, u, &any) == 0)
			st->regap[uid] = false;
		st->punched[uid] |= any;
		if (st->phys[uid] != end || st->regap[uid]) {
			/* Retried next commit. Appends meanwhile go past the uncut bytes,
			 * which the full gap punch then frees. */
			failures++;
			st->regap[uid] = true;
		}
		if (tfd >= 0)
			close(tfd);
	}
	if (failures)
		log_warn("storage: %u deferred hole/truncate/unlink operations failed", failures);
	hook(STORE_HOOK_CLEANUP_DONE);
}

/* --------------------------------------------------------------- snapshot */

static int snapshot(struct store *st)
{
	int rc = 0;
	/* Deleted bytes still on disk must stay covered by the journal. */
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++)
		if (st->regap[uid])
			return -EAGAIN;
	/* Holes and unlinks the snapshot relies on must be durable first: after
	 * it the journal that would redo them is gone. */
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		if (!st->punched[uid])
			continue;
		int fd = open_user(st, (uint16_t)uid, O_WRONLY);
		if (fd < 0)
			return fd;
		rc = sync_fd(st, fd, true);
		close(fd);
		if (rc < 0)
			return rc;
		st->punched[uid] = false;
	}
	if (st->dir_dirty) {
		if ((rc = sync_fd(st, st->msgfd, false)) < 0)
			return rc;
		st->dir_dirty = false;
	}

	struct wr w = WR_INIT;
	stindex_snapshot_seal(st->ix, st->key, &w);
	int fd = openat(st->dirfd, STORE_SNAPSHOT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = pwrite_all(fd, w.p, w.len, 0);
	if (rc == 0)
		rc = sync_fd(st, fd, false);
	close(fd);
	if (rc < 0) {
		unlinkat(st->dirfd, STORE_SNAPSHOT_TMP, 0);
		goto out;
	}
	hook(STORE_HOOK_SNAPSHOT_TMP);
	if (renameat(st->dirfd, STORE_SNAPSHOT_TMP, st->dirfd, STORE_SNAPSHOT_NAME) != 0) {
		rc = -errno;
		unlinkat(st->dirfd, STORE_SNAPSHOT_TMP, 0);
		goto out;
	}
	if ((rc = sync_fd(st, st->dirfd, false)) < 0)
		goto out;
	hook(STORE_HOOK_SNAPSHOT_RENAMED);
	/* Records the snapshot covers are skipped on load, so a failure to
	 * truncate only costs space. */
	if (ftruncate(st->jfd, 0) == 0) {
		st->jsize = 0;
		rc = sync_fd(st, st->jfd, false);
	} else {
		rc = -errno;
	}
out:
	wr_free(&w);
	return rc;
}

/* ----------------------------------------------------------------- commit */

struct ov_app {
	uint32_t id;
	bool dead;
};

/* A user as a commit sees it: the committed state plus this batch so far. */
struct ov {
	uint16_t uid;
	bool exists, fresh; /* fresh: committed entries are gone (created/emptied/removed) */
	bool created, create_durable, wrote, failed;
	int err;
	int fd;
	uint32_t next_id, live;
	struct ov_app *app; /* appended in this batch, ascending ids */
	size_t napp, capp;
	uint32_t *del; /* committed ids deleted in this batch */
	size_t ndel, cdel;
};

struct commit {
	struct store *st;
	struct store_batch *b;
	uint16_t slot[STINDEX_USERS]; /* 1 + index into ov, 0 = untouched */
	struct ov *ov;
	size_t nov, cov;
	uint64_t total;
};

static struct ov *ov_get(struct commit *c, uint16_t uid)
{
	if (c->slot[uid])
		return &c->ov[c->slot[uid] - 1];
	if (c->nov == c->cov) {
		c->cov = c->cov ? c->cov * 2 : 16;
		c->ov = xrealloc(c->ov, c->cov * sizeof(*c->ov));
	}
	const struct stindex_user *u = &c->st->ix->u[uid];
	struct ov *o = &c->ov[c->nov++];
	*o = (struct ov){ .uid = uid, .exists = u->exists, .fd = -1, .next_id = u->next_id,
		              .live = u->live };
	c->slot[uid] = (uint16_t)c->nov;
	return o;
}

static void ov_reset(struct ov *o)
{
	o->fresh = true;
	o->live = 0;
	o->napp = 0;
	o->ndel = 0;
}

static void ov_fail(struct ov *o, int err)
{
	if (!o->failed) {
		o->failed = true;
		o->err = err;
	}
}

/* Deletes id from the overlay; false if it is not live there. */
static bool ov_delete(struct commit *c, struct ov *o, uint32_t id)
{
	size_t lo = 0, hi = o->napp;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->app[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < o->napp && o->app[lo].id == id) {
		if (o->app[lo].dead)
			return false;
		o->app[lo].dead = true;
		return true;
	}
	if (o->fresh || stindex_find(&c->st->ix->u[o->uid], id) < 0)
		return false;
	for (size_t i = 0; i < o->ndel; i++)
		if (o->del[i] == id)
			return false;
	if (o->ndel == o->cdel) {
		o->cdel = o->cdel ? o->cdel * 2 : 8;
		o->del = xrealloc(o->del, o->cdel * sizeof(*o->del));
	}
	o->del[o->ndel++] = id;
	return true;
}

static void rec_push(struct commit *c, const struct op *op)
{
	struct store_batch *b = c->b;
	if (b->nrec == b->crec) {
		b->crec = b->crec ? b->crec * 2 : 16;
		b->recs = xrealloc(b->recs, b->crec * sizeof(*b->recs));
	}
	b->recs[b->nrec++] = (struct stindex_rec){ .kind = op->kind, .uid = op->uid, .id = op->id,
		                                       .blocks = op->blocks, .offset = op->offset };
}

/* Seals records [from, nrec) and makes them durable in one write + one
 * fdatasync. On failure they are dropped and the journal is cut back. */
static int journal_flush(struct commit *c, size_t from)
{
	struct store *st = c->st;
	struct store_batch *b = c->b;
	size_t n = b->nrec - from;
	if (n == 0)
		return 0;
	uint64_t len = (uint64_t)n * STINDEX_REC_BYTES;
	if (st->jsize + len > STORE_JOURNAL_MAX_BYTES) {
		b->nrec = from;
		return -ENOSPC; /* snapshots keep failing; the journal must not outgrow its load limit */
	}
	uint64_t seq0 = st->ix->seq + 1 + from;
	uint8_t *buf = xmalloc((size_t)len);
	for (size_t i = 0; i < n; i++) {
		struct stindex_rec *r = &b->recs[from + i];
		r->seq = seq0 + i;
		r->batch = seq0;
		stindex_rec_seal(buf + i * STINDEX_REC_BYTES, r, st->key);
	}
	int rc = pwrite_all(st->jfd, buf, (size_t)len, st->jsize);
	free(buf);
	if (rc == 0) {
		hook(STORE_HOOK_JOURNAL_WRITTEN);
		rc = sync_fd(st, st->jfd, true);
	}
	if (rc == 0) {
		st->jsize += len;
		hook(STORE_HOOK_JOURNAL_SYNCED);
		return 0;
	}
	b->nrec = from;
	/* Cut back whatever reached the file, or a later record would follow a
	 * gap of unacknowledged ones. If even that fails, stop committing. */
	if (ftruncate(st->jfd, (off_t)st->jsize) != 0 || sync_fd(st, st->jfd, false) != 0) {
		atomic_store(&st->failed, true);
		log_err("storage: journal write failed and could not be undone; refusing further commits");
	} else {
		log_err("storage: journal write failed: %s", strerror(-rc));
	}
	return rc;
}

static int write_envelope(int fd, const struct op *op, uint64_t off)
{
	uint64_t size = stindex_size(op->blocks);
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < STORE_WRITE_CHUNK ? (size_t)(size - done) : STORE_WRITE_CHUNK;
		int rc = pwrite_all(fd, op->data + done, n, off + done);
		if (rc < 0)
			return rc;
		done += n;
		hook(STORE_HOOK_DATA_CHUNK);
	}
	return 0;
}

/* Phase A: create the files of new users and make them durable. */
static void commit_creates(struct commit *c)
{
	struct store *st = c->st;
	struct store_batch *b = c->b;
	bool any = false;
	for (size_t i = 0; i < b->n; i++) {
		struct op *op = &b->ops[i];
		if (op->kind != STINDEX_CREATE)
			continue;
		struct ov *o = ov_get(c, op->uid);
		if (o->exists) {
			op->result = -EEXIST;
			continue;
		}
		int fd = open_user(st, op->uid, O_RDWR | O_CREAT | O_EXCL);
		if (fd < 0) {
			op->result = fd;
			continue;
		}
		o->fd = fd;
		o->created = true;
		o->exists = true;
		o->next_id = 1;
		ov_reset(o);
		st->phys[op->uid] = 0;
		op->result = 0;
		any = true;
	}
	if (!any)
		return;
	for (size_t k = 0; k < c->nov; k++) {
		struct ov *o = &c->ov[k];
		int rc;
		if (o->created && (rc = sync_fd(st, o->fd, false)) < 0)
			ov_fail(o, rc);
	}
	int rc = sync_fd(st, st->msgfd, false);
	for (size_t k = 0; k < c->nov; k++)
		if (rc < 0 && c->ov[k].created)
			ov_fail(&c->ov[k], rc);
	for (size_t i = 0; i < b->n; i++) {
		struct op *op = &b->ops[i];
		if (op->kind != STINDEX_CREATE || op->result != 0)
			continue;
		struct ov *o = ov_get(c, op->uid);
		if (o->failed)
			op->result = o->err;
		else
			rec_push(c, op);
	}
}

/* Phase B, one operation, in batch order. */
static void commit_op(struct commit *c, struct op *op)
{
	struct store *st = c->st;
	struct ov *o = ov_get(c, op->uid);
	if (o->failed) {
		op->result = o->err;
		return;
	}
	if (!o->exists) {
		op->result = -ENOENT;
		return;
	}
	op->result = 0;
	switch (op->kind) {
	case STINDEX_REMOVE:
		c->total -= o->live;
		ov_reset(o);
		o->exists = false;
		break;
	case STINDEX_EMPTY:
		c->total -= o->live;
		ov_reset(o);
		break;
	case STINDEX_DELETE:
		if (!ov_delete(c, o, op->id)) {
			op->result = -ENOENT;
			break;
		}
		o->live--;
		c->total--;
		break;
	case STINDEX_APPEND: {
		uint64_t size = stindex_size(op->blocks);
		uint64_t at = st->phys[op->uid];
		if (op->id < o->next_id || op->id > STINDEX_ID_MAX) {
			op->result = -EINVAL; /* the id was handed out for an earlier incarnation */
			break;
		}
		if (o->live >= STINDEX_USER_MAX_ENTRIES) {
			op->result = -EDQUOT;
			break;
		}
		if (c->total >= STINDEX_TOTAL_MAX_ENTRIES) {
			op->result = -ENOSPC;
			break;
		}
		if (at > STINDEX_FILE_MAX - size) {
			op->result = -EFBIG;
			break;
		}
		if (o->fd < 0) {
			o->fd = open_user(st, op->uid, O_WRONLY);
			if (o->fd < 0) {
				ov_fail(o, o->fd);
				op->result = o->err;
				break;
			}
		}
		/* Always past everything written so far: the committed view may still
		 * be read at lower offsets while this commit runs. */
		st->phys[op->uid] = at + size;
		int rc = write_envelope(o->fd, op, at);
		if (rc < 0) {
			ov_fail(o, rc);
			op->result = rc;
			break;
		}
		op->offset = at;
		o->wrote = true;
		if (o->napp == o->capp) {
			o->capp = o->capp ? o->capp * 2 : 8;
			o->app = xrealloc(o->app, o->capp * sizeof(*o->app));
		}
		o->app[o->napp++] = (struct ov_app){ .id = op->id };
		o->next_id = op->id + 1;
		o->live++;
		c->total++;
		break;
	}
	default:
		fatalx("store: bad op kind");
	}
}

static void commit_finish(struct commit *c)
{
	for (size_t k = 0; k < c->nov; k++) {
		struct ov *o = &c->ov[k];
		if (o->fd >= 0)
			close(o->fd);
		/* A new file whose creation never reached the journal: recovery would
		 * remove it too (empty, or no user), but not while we run. */
		if (o->created && !o->create_durable) {
			char name[KEYS_FILENAME_LEN + 1];
			user_name(c->st, o->uid, name);
			unlinkat(c->st->msgfd, name, 0);
			c->st->phys[o->uid] = 0;
		}
		free(o->app);
		free(o->del);
	}
	free(c->ov);
}

int store_batch_commit(struct store_batch *b)
{
	struct store *st = b->st;
	int expect = ST_IDLE;
	if (b->state != B_OPEN || !atomic_compare_exchange_strong(&st->state, &expect, ST_COMMITTING))
		fatalx("store: commit out of order (another commit running or not applied)");
	b->state = B_COMMITTED;
	b->nrec = 0;
	int ret = 0;

	if (atomic_load(&st->failed)) {
		for (size_t i = 0; i < b->n; i++)
			b->ops[i].result = -EIO;
		ret = -EIO;
		goto done;
	}
	cleanup(st);
	if (st->jsize >= st->snap_bytes) {
		int rc = snapshot(st);
		if (rc < 0)
			log_err("storage: snapshot failed: %s", strerror(-rc));
	}

	struct commit *c = xcalloc(1, sizeof(*c));
	c->st = st;
	c->b = b;
	c->total = st->ix->total_live;
	bool others = false;
	for (size_t i = 0; i < b->n; i++)
		others |= b->ops[i].kind != STINDEX_CREATE;

	/* Phase A: a new user's creation is durable before any envelope lands in
	 * its file, so a non-empty file never belongs to nobody. When the batch
	 * holds nothing else, its records simply go in the one journal write. */
	commit_creates(c);
	size_t flushed = 0;
	if (others && b->nrec) {
		int rc = journal_flush(c, 0);
		if (rc < 0) {
			for (size_t i = 0; i < b->n; i++)
				b->ops[i].result = rc;
			ret = rc;
			goto finish;
		}
		flushed = b->nrec;
		for (size_t k = 0; k < c->nov; k++)
			if (c->ov[k].created && !c->ov[k].failed)
				c->ov[k].create_durable = true;
	}

	/* Phase B: everything else, in order, then one fdatasync per file. */
	for (size_t i = 0; i < b->n; i++)
		if (b->ops[i].kind != STINDEX_CREATE)
			commit_op(c, &b->ops[i]);
	for (size_t k = 0; k < c->nov; k++) {
		struct ov *o = &c->ov[k];
		int rc;
		if (o->wrote && !o->failed && (rc = sync_fd(st, o->fd, true)) < 0)
			ov_fail(o, rc);
	}
	hook(STORE_HOOK_FILES_SYNCED);
	for (size_t i = 0; i < b->n; i++) {
		struct op *op = &b->ops[i];
		if (op->kind == STINDEX_CREATE)
			continue;
		struct ov *o = ov_get(c, op->uid);
		if (o->failed)
			op->result = o->err; /* one fdatasync covered all of them */
		else if (op->result == 0)
			rec_push(c, op);
	}

	/* One journal write and one fdatasync for the whole batch. */
	int rc = journal_flush(c, flushed);
	if (rc < 0) {
		for (size_t i = 0; i < b->n; i++) {
			struct op *op = &b->ops[i];
			if (op->result == 0 && (op->kind != STINDEX_CREATE || !flushed))
				op->result = rc;
		}
		if (!flushed)
			ret = rc;
	} else if (!flushed) {
		for (size_t k = 0; k < c->nov; k++)
			if (c->ov[k].created && !c->ov[k].failed)
				c->ov[k].create_durable = true;
	}
finish:
	commit_finish(c);
	free(c);
done:
	st->committed = b;
	atomic_store(&st->state, ST_COMMITTED);
	return ret;
}

/* ------------------------------------------------------------------ apply */

static void defer(struct store *st, uint16_t uid, const struct stindex_effect *e)
{
	if (st->ndef == st->cdef) {
		st->cdef = st->cdef ? st->cdef * 2 : 64;
		st->def = xrealloc(st->def, st->cdef * sizeof(*st->def));
	}
	st->def[st->ndef++] = (struct deferred){ .uid = uid, .unlink = e->unlink,
		                                     .off = e->punch_off, .len = e->punch_len };
}

/* Undoes the loop thread's queued counts for every op of b. */
static void release_queued(struct store *st, struct store_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct op *op = &b->ops[i];
		struct queued *q = &st->q[op->uid];
		q->ops--;
		if (op->kind == STINDEX_APPEND)
			q->bytes -= stindex_size(op->blocks);
		if (q->ops == 0) {
			const struct stindex_user *u = &st->ix->u[op->uid];
			q->exists = u->exists;
			q->next_id = u->exists ? u->next_id : 0;
			q->bytes = 0;
		}
	}
}

void store_batch_apply(struct store_batch *b)
{
	struct store *st = b->st;
	if (b->state != B_COMMITTED || st->committed != b || atomic_load(&st->state) != ST_COMMITTED)
		fatalx("store: apply of a batch that is not the committed one");
	bool deferred = false;
	for (size_t i = 0; i < b->nrec; i++) {
		struct stindex_effect eff;
		if (stindex_apply(st->ix, &b->recs[i], &eff) != 0)
			fatalx("store: the index rejected a committed record");
		if (eff.unlink || eff.punch_len) {
			defer(st, b->recs[i].uid, &eff);
			deferred = true;
		}
	}
	if (deferred)
		atomic_store(&st->cleanup_due, true);
	release_queued(st, b);
	b->state = B_APPLIED;
	st->committed = NULL;
	atomic_store(&st->state, ST_IDLE);
}

int store_checkpoint(struct store *st)
{
	int expect = ST_IDLE;
	if (!atomic_compare_exchange_strong(&st->state, &expect, ST_COMMITTING))
		fatalx("store: checkpoint while a commit is running or not applied");
	int rc = -EIO;
	if (!atomic_load(&st->failed)) {
		cleanup(st);
		rc = snapshot(st);
	}
	atomic_store(&st->state, ST_IDLE);
	return rc;
}

bool store_cleanup_pending(const struct store *st) { return atomic_load(&st->cleanup_due); }
bool store_failed(const struct store *st) { return atomic_load(&st->failed); }
uint64_t store_sync_count(const struct store *st) { return atomic_load(&st->syncs); }

/* ---------------------------------------------------------------- batches */

struct store_batch *store_batch_new(struct store *st)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));
	b->st = st;
	b->state = B_OPEN;
	return b;
}

size_t store_batch_ops(const struct store_batch *b) { return b->n; }

static int queue(struct store_batch *b, uint8_t kind, uint16_t uid, uint32_t id, uint32_t blocks,
                 const void *data)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->ops = xrealloc(b->ops, b->cap * sizeof(*b->ops));
	}
	b->ops[b->n] = (struct op){ .kind = kind, .uid = uid, .id = id, .blocks = blocks,
		                        .data = data, .result = -EINPROGRESS };
	b->st->q[uid].ops++;
	return (int)b->n++;
}

static int queue_check(const struct store_batch *b, uint16_t uid)
{
	if (b->state != B_OPEN)
		return -EALREADY;
	if (uid >= STINDEX_USERS)
		return -EINVAL;
	if (b->n >= STORE_BATCH_MAX_OPS)
		return -ENOBUFS;
	return 0;
}

int store_queue_create(struct store_batch *b, uint16_t uid)
{
	int rc = queue_check(b, uid);
	if (rc < 0)
		return rc;
	struct queued *q = &b->st->q[uid];
	if (q->exists)
		return -EEXIST;
	if (b->removed[uid / 8] & (1u << (uid % 8)))
		return -EBUSY; /* its old file goes only at the next commit */
	q->exists = true;
	q->next_id = 1;
	return queue(b, STINDEX_CREATE, uid, 0, 0, NULL);
}

int store_queue_remove(struct store_batch *b, uint16_t uid)
{
	int rc = queue_check(b, uid);
	if (rc < 0)
		return rc;
	struct queued *q = &b->st->q[uid];
	if (!q->exists)
		return -ENOENT;
	q->exists = false;
	b->removed[uid / 8] |= (uint8_t)(1u << (uid % 8));
	return queue(b, STINDEX_REMOVE, uid, 0, 0, NULL);
}

int store_queue_append(struct store_batch *b, uint16_t uid, const void *env, size_t len,
                       uint32_t *ret_id)
{
	int rc = queue_check(b, uid);
	if (rc < 0)
		return rc;
	if (!envelope_size_valid(len) || !env)
		return -EINVAL;
	struct queued *q = &b->st->q[uid];
	if (!q->exists)
		return -ENOENT;
	if (q->next_id == 0 || q->next_id > STINDEX_ID_MAX)
		return -EOVERFLOW;
	uint32_t id = q->next_id++;
	q->bytes += len;
	rc = queue(b, STINDEX_APPEND, uid, id, (uint32_t)(len / ENVELOPE_BLOCK), env);
	*ret_id = id;
	return rc;
}

int store_queue_delete(struct store_batch *b, uint16_t uid, uint32_t id)
{
	int rc = queue_check(b, uid);
	if (rc < 0)
		return rc;
	if (id == 0 || id > STINDEX_ID_MAX)
		return -EINVAL;
	if (!b->st->q[uid].exists)
		return -ENOENT;
	return queue(b, STINDEX_DELETE, uid, id, 0, NULL);
}

int store_queue_empty(struct store_batch *b, uint16_t uid)
{
	int rc = queue_check(b, uid);
	if (rc < 0)
		return rc;
	if (!b->st->q[uid].exists)
		return -ENOENT;
	return queue(b, STINDEX_EMPTY, uid, 0, 0, NULL);
}

int store_batch_result(const struct store_batch *b, size_t op)
{
	if (b->state != B_APPLIED || op >= b->n)
		fatalx("store: result of an unapplied batch or a bad op");
	return b->ops[op].result;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	if (b->state == B_COMMITTED)
		fatalx("store: free of a committed batch that was not applied");
	if (b->state == B_OPEN)
		release_queued(b->st, b);
	free(b->ops);
	free(b->recs);
	free(b);
}

/* ---------------------------------------------------------------- queries */

bool store_user_exists(const struct store *st, uint16_t uid)
{
	return uid < STINDEX_USERS && st->ix->u[uid].exists;
}

uint32_t store_user_count(const struct store *st) { return st->ix->users; }

int store_usage(const struct store *st, uint16_t uid, uint64_t *ret_bytes, uint32_t *ret_count)
{
	if (!store_user_exists(st, uid))
		return -ENOENT;
	*ret_bytes = st->ix->u[uid].live_bytes;
	*ret_count = st->ix->u[uid].live;
	return 0;
}

int store_quota_check(const struct store *st, uint16_t uid, uint64_t add_bytes,
                      uint64_t limit_bytes)
{
	if (!store_user_exists(st, uid))
		return -ENOENT;
	uint64_t used = st->ix->u[uid].live_bytes + st->q[uid].bytes;
	if (used > limit_bytes || add_bytes > limit_bytes - used)
		return -EDQUOT;
	return 0;
}

int store_browse(const struct store *st, uint16_t uid, const struct store_query *q,
                 struct store_item *out, size_t out_cap, size_t *ret_n, bool *ret_more)
{
	size_t max_bytes = q->max_bytes ? q->max_bytes : STORE_BROWSE_MAX_BYTES;
	size_t max_count = q->max_count ? q->max_count : STORE_BROWSE_MAX_COUNT;
	if (max_bytes > STORE_BROWSE_MAX_BYTES || max_count > STORE_BROWSE_MAX_COUNT ||
	    out_cap < max_count)
		return -EINVAL;
	if (!store_user_exists(st, uid))
		return -ENOENT;
	struct stindex_query sq = { .from_id = q->from_id, .inclusive = q->inclusive,
		                        .oldest_first = q->oldest_first, .max_bytes = max_bytes,
		                        .max_count = (uint32_t)max_count };
	_Static_assert(sizeof(struct store_item) == sizeof(struct stindex_item), "item layout");
	struct stindex_item *items = xmalloc(max_count * sizeof(*items));
	size_t n;
	bool more;
	int rc = stindex_browse(&st->ix->u[uid], &sq, items, &n, &more);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			out[i] = (struct store_item){ .id = items[i].id, .blocks = items[i].blocks,
				                          .offset = items[i].offset };
		*ret_n = n;
		*ret_more = more;
	}
	free(items);
	return rc;
}

static int locate(const struct store *st, uint16_t uid, uint32_t id, uint64_t *ret_off,
                  uint64_t *ret_size)
{
	if (!store_user_exists(st, uid))
		return -ENOENT;
	const struct stindex_user *u = &st->ix->u[uid];
	long i = stindex_find(u, id);
	if (i < 0)
		return -ENOENT;
	*ret_off = u->e[i].offset;
	*ret_size = stindex_size(u->e[i].blocks);
	return 0;
}

int store_read(const struct store *st, uint16_t uid, uint32_t id, void *buf, size_t len)
{
	uint64_t off, size;
	int rc = locate(st, uid, id, &off, &size);
	if (rc < 0)
		return rc;
	if (len != size)
		return -EINVAL;
	int fd = open_user(st, uid, O_RDONLY);
	if (fd < 0)
		return fd;
	rc = pread_all(fd, buf, len, off);
	close(fd);
	return rc;
}

long store_read_to_fd(const struct store *st, uint16_t uid, uint32_t id, int out_fd)
{
	uint64_t off, size;
	int rc = locate(st, uid, id, &off, &size);
	if (rc < 0)
		return rc;
	int fd = open_user(st, uid, O_RDONLY);
	if (fd < 0)
		return fd;
	uint8_t *buf = xmalloc(STORE_WRITE_CHUNK);
	for (uint64_t done = 0; done < size && rc == 0; done += STORE_WRITE_CHUNK) {
		size_t n = size - done < STORE_WRITE_CHUNK ? (size_t)(size - done) : STORE_WRITE_CHUNK;
		rc = pread_all(fd, buf, n, off + done);
		if (rc == 0)
			rc = write_all(out_fd, buf, n);
	}
	free(buf);
	close(fd);
	return rc < 0 ? rc : (long)size;
}

/* --------------------------------------------------------------- recovery */

/* Recovery first reads and classifies everything, and changes the disk only
 * once it knows the state is sound, so a refused start destroys nothing. */
struct recover {
	bool touched[STINDEX_USERS]; /* changed by a replayed record */
	bool removed[STINDEX_USERS]; /* last replayed existence change was a removal */
	bool trim[STINDEX_USERS];    /* file longer than the index end */
	bool unlink[STINDEX_USERS];  /* file of no user that may go */
	uint64_t journal_size, journal_keep;
	uint64_t replayed;
	unsigned trims, unlinks;
};

/* A later record that authenticates after one that does not: the failure is
 * a torn tail only if that record belongs to the same (last) journal write. */
static bool same_write(const struct stindex_rec *r, uint64_t pos, uint64_t fail_at,
                       const struct stindex_rec *prev, bool have_prev)
{
	uint64_t back = r->seq - r->batch; /* records before it in its write */
	if (back > pos || pos - back > fail_at)
		return false;
	if (have_prev && r->seq != prev->seq + 1 + (pos - fail_at))
		return false;
	return true;
}

static int replay(struct store *st, struct recover *rv)
{
	struct stat sb;
	if (fstat(st->jfd, &sb) != 0)
		return -errno;
	if ((uint64_t)sb.st_size > STORE_JOURNAL_MAX_BYTES) {
		log_err("storage: journal larger than its limit");
		return -EFBIG;
	}
	rv->journal_size = (uint64_t)sb.st_size;
	uint64_t nrec = rv->journal_size / STINDEX_REC_BYTES;
	uint8_t *buf = xmalloc((size_t)JOURNAL_READ_RECS * STINDEX_REC_BYTES);
	struct stindex_rec prev = { 0 };
	bool have_prev = false;
	uint64_t fail_at = UINT64_MAX;
	const uint64_t snap_seq = st->ix->seq;
	int rc = 0;
	for (uint64_t k0 = 0; k0 < nrec && rc == 0; k0 += JOURNAL_READ_RECS) {
		uint64_t cnt = nrec - k0 < JOURNAL_READ_RECS ? nrec - k0 : JOURNAL_READ_RECS;
		if ((rc = pread_all(st->jfd, buf, (size_t)cnt * STINDEX_REC_BYTES,
		                    k0 * STINDEX_REC_BYTES)) < 0)
			break;
		for (uint64_t j = 0; j < cnt; j++) {
			uint64_t k = k0 + j;
			struct stindex_rec r;
			int orc = stindex_rec_open(&r, buf + j * STINDEX_REC_BYTES, st->key);
			if (fail_at != UINT64_MAX) {
				if (orc == -EINVAL ||
				    (orc == 0 && !same_write(&r, k, fail_at, &prev, have_prev))) {
					log_err("storage: a journal record fails to authenticate before later writes");
					rc = -EBADMSG;
					break;
				}
				continue;
			}
			if (orc == -EBADMSG) {
				fail_at = k;
				continue;
			}
			if (orc < 0) {
				log_err("storage: a journal record authenticates but does not decode");
				rc = -EBADMSG;
				break;
			}
			if (have_prev ? r.seq != prev.seq + 1 : r.seq > snap_seq + 1) {
				log_err("storage: the journal sequence does not follow the snapshot");
				rc = have_prev ? -EBADMSG : -EUCLEAN;
				break;
			}
			prev = r;
			have_prev = true;
			if (r.seq <= snap_seq)
				continue; /* already in the snapshot */
			struct stindex_effect eff;
			if (stindex_apply(st->ix, &r, &eff) != 0) {
				log_err("storage: a journal record is inconsistent with the index");
				rc = -EBADMSG;
				break;
			}
			rv->replayed++;
			rv->touched[r.uid] = true;
			if (r.kind == STINDEX_REMOVE)
				rv->removed[r.uid] = true;
			else if (r.kind == STINDEX_CREATE)
				rv->removed[r.uid] = false;
		}
	}
	free(buf);
	if (rc < 0)
		return rc;
	/* A torn tail is at most the last journal write, never more. */
	if (fail_at != UINT64_MAX && nrec - fail_at > STINDEX_BATCH_MAX) {
		log_err("storage: more journal records fail to authenticate than one write holds");
		return -EBADMSG;
	}
	rv->journal_keep = (fail_at == UINT64_MAX ? nrec : fail_at) * STINDEX_REC_BYTES;
	/* Every record already in the snapshot (a crash between the snapshot's
	 * rename and the journal's truncation): the journal starts afresh. */
	if (have_prev && prev.seq <= snap_seq)
		rv->journal_keep = 0;
	return 0;
}

static int load_snapshot(struct store *st, bool *ret_found)
{
	int fd = openat(st->dirfd, STORE_SNAPSHOT_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		st->ix = stindex_new();
		*ret_found = false;
		return 0;
	}
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
	} else if ((uint64_t)sb.st_size > STINDEX_SNAP_MAX_BYTES) {
		rc = -EFBIG;
	} else {
		size_t len = (size_t)sb.st_size;
		uint8_t *p = xmalloc(len ? len : 1);
		rc = pread_all(fd, p, len, 0);
		if (rc == 0)
			rc = stindex_snapshot_open(p, len, st->key, &st->ix);
		free(p);
	}
	close(fd);
	if (rc < 0) {
		log_err("storage: cannot load the snapshot: %s", strerror(-rc));
		return rc;
	}
	*ret_found = true;
	return 0;
}

/* Msg/ against the index (section 9.6): decides trims and removals, or fails. */
static int scan_files(struct store *st, struct recover *rv)
{
	int dfd = dup(st->msgfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	rewinddir(d);
	bool *seen = xcalloc(STINDEX_USERS, sizeof(*seen));
	unsigned strange = 0, shorter = 0, orphans = 0, missing = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		uint16_t uid;
		struct stat sb;
		if (keys_filename_uid(&uid, name, strlen(name), st->perm) != 0 ||
		    fstatat(st->msgfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
			strange++;
			continue;
		}
		seen[uid] = true;
		const struct stindex_user *u = &st->ix->u[uid];
		uint64_t size = (uint64_t)sb.st_size;
		if (!u->exists) {
			if (size == 0 || rv->removed[uid]) {
				rv->unlink[uid] = true;
				rv->unlinks++;
			} else {
				orphans++;
			}
			continue;
		}
		uint64_t end = stindex_user_end(u);
		if (size < end) {
			shorter++;
		} else if (size > end) {
			rv->trim[uid] = true;
			rv->trims++;
		}
	}
	closedir(d);
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++)
		if (st->ix->u[uid].exists && !seen[uid])
			missing++;
	free(seen);
	if (strange || shorter || orphans || missing) {
		log_err("storage: inconsistent state: %u unexpected entries in Msg/, %u file(s) shorter "
		        "than the index, %u non-empty file(s) of no user, %u missing file(s)",
		        strange, shorter, orphans, missing);
		return -EUCLEAN;
	}
	return 0;
}

/* The changes recovery decided on, in a safe order: journal, files, holes. */
static int recover_apply(struct store *st, const struct recover *rv)
{
	int rc;
	if (rv->journal_keep != rv->journal_size) {
		if (ftruncate(st->jfd, (off_t)rv->journal_keep) != 0)
			return -errno;
		if ((rc = sync_fd(st, st->jfd, false)) < 0)
			return rc;
	}
	st->jsize = rv->journal_keep;
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		if (rv->unlink[uid]) {
			char name[KEYS_FILENAME_LEN + 1];
			user_name(st, (uint16_t)uid, name);
			if (unlinkat(st->msgfd, name, 0) != 0)
				return -errno;
			continue;
		}
		const struct stindex_user *u = &st->ix->u[uid];
		if (!u->exists || (!rv->trim[uid] && !(rv->touched[uid] && u->n)))
			continue;
		int fd = open_user(st, (uint16_t)uid, O_WRONLY);
		if (fd < 0)
			return fd;
		rc = 0;
		if (rv->trim[uid] && ftruncate(fd, (off_t)stindex_user_end(u)) != 0)
			rc = -errno;
		bool any = false;
		if (rc == 0 && rv->touched[uid])
			rc = punch_gaps(fd, u, &any);
		if (rc == 0 && any)
			rc = sync_fd(st, fd, true);
		close(fd);
		if (rc < 0)
			return rc;
	}
	if (rv->unlinks && (rc = sync_fd(st, st->msgfd, false)) < 0)
		return rc;
	return 0;
}

static int recover_state(struct store *st)
{
	int rc;
	if (unlinkat(st->dirfd, STORE_SNAPSHOT_TMP, 0) != 0 && errno != ENOENT)
		return -errno;
	bool have_snap = false;
	if ((rc = load_snapshot(st, &have_snap)) < 0)
		return rc;
	st->jfd = openat(st->dirfd, STORE_JOURNAL_NAME, O_RDWR | O_CLOEXEC);
	if (st->jfd < 0) {
		if (errno != ENOENT)
			return -errno;
		if (have_snap) {
			log_err("storage: the snapshot exists but the journal is missing");
			return -EUCLEAN;
		}
		/* First start: the journal, then (below) an empty snapshot, which
		 * also proves the key on every later start. */
		st->jfd = openat(st->dirfd, STORE_JOURNAL_NAME, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		                 0600);
		if (st->jfd < 0)
			return -errno;
		if ((rc = sync_fd(st, st->dirfd, false)) < 0)
			return rc;
	}
	struct stat sb;
	if (fstat(st->jfd, &sb) != 0)
		return -errno;
	if (!have_snap && sb.st_size != 0) {
		log_err("storage: the journal exists but the snapshot is missing");
		return -EUCLEAN;
	}
	struct recover *rv = xcalloc(1, sizeof(*rv));
	rc = replay(st, rv);
	if (rc == 0 && stindex_check(st->ix) != 0)
		rc = -EBADMSG; /* cannot happen: apply and decode keep the invariants */
	if (rc == 0)
		rc = scan_files(st, rv);
	if (rc == 0)
		rc = recover_apply(st, rv);
	if (rc == 0 && !have_snap)
		rc = snapshot(st);
	if (rc == 0) {
		if (rv->journal_keep < rv->journal_size)
			log_notice("storage: journal: %llu bytes dropped (unacknowledged tail or covered "
			           "by the snapshot)",
			           (unsigned long long)(rv->journal_size - rv->journal_keep));
		if (rv->trims)
			log_notice("storage: trimmed %u user file(s) to their last acknowledged envelope",
			           rv->trims);
		log_info("storage: %u users", st->ix->users);
	}
	free(rv);
	return rc;
}

int store_open(const char *dir, const uint8_t state_key[KEYS_KEY_BYTES],
               const uint8_t name_key[KEYS_KEY_BYTES], const struct store_options *opt,
               struct store **ret)
{
	size_t snap_bytes = opt && opt->snapshot_bytes ? opt->snapshot_bytes
	                                               : STORE_SNAPSHOT_BYTES_DEFAULT;
	if (snap_bytes > STORE_SNAPSHOT_BYTES_MAX)
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOSYS;
	struct store *st = xcalloc(1, sizeof(*st));
	st->dirfd = st->msgfd = st->jfd = -1;
	st->snap_bytes = snap_bytes;
	atomic_init(&st->state, ST_IDLE);
	atomic_init(&st->syncs, 0);
	atomic_init(&st->failed, false);
	atomic_init(&st->cleanup_due, false);
	st->key = sodium_malloc(STINDEX_KEY_BYTES);
	st->perm = sodium_malloc(KEYS_FILENAME_CHARS);
	if (!st->key || !st->perm)
		fatal("sodium_malloc");
	memcpy(st->key, state_key, STINDEX_KEY_BYTES);
	keys_filename_perm(st->perm, name_key);

	int rc = 0;
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(st->dirfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	if (mkdirat(st->dirfd, STORE_MSG_DIR, 0700) == 0) {
		if ((rc = sync_fd(st, st->dirfd, false)) < 0)
			goto fail;
	} else if (errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	st->msgfd = openat(st->dirfd, STORE_MSG_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->msgfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = recover_state(st)) < 0)
		goto fail;
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		const struct stindex_user *u = &st->ix->u[uid];
		st->phys[uid] = u->exists ? stindex_user_end(u) : 0;
		st->q[uid] = (struct queued){ .exists = u->exists, .next_id = u->exists ? u->next_id : 0 };
	}
	*ret = st;
	return 0;
fail:
	if (rc != -EBADMSG && rc != -EUCLEAN && rc != -EFBIG)
		log_err("storage: cannot open the state: %s", strerror(-rc));
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (atomic_load(&st->state) != ST_IDLE)
		fatalx("store: close during a commit");
	if (st->jfd >= 0)
		close(st->jfd);
	if (st->msgfd >= 0)
		close(st->msgfd);
	if (st->dirfd >= 0)
		close(st->dirfd); /* releases the lock */
	stindex_free(st->ix);
	free(st->def);
	sodium_free(st->key);
	sodium_free(st->perm);
	free(st);
}
