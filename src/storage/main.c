/* allears-storage: seals Messages into Envelopes with the recipient's EPK,
 * stores them durably (group commit), and serves, deletes and counts them.
 * Channel messages: docs/PROTOCOL.md section 11; state: section 9. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/envelope.h"
#include "common/keybundle.h"
#include "common/message.h"
#include "ipc/daemon.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"
#include "ipc/workq.h"
#include "storage/store.h"

#define STORAGE_SEAL_THREADS_DEFAULT 2
#define STORAGE_USERINFO_TTL_MS 60000
#define STORAGE_ACCOUNT_TIMEOUT_MS 10000
#define STORAGE_STORE_REQ_BYTES 4   /* uid u16, flags u8, reserved u8 */
#define STORAGE_BROWSE_REQ_BYTES 16 /* uid, flags, reserved, from_id u32, max_bytes u32, max_count u32 */
#define STORAGE_BROWSE_ITEM_BYTES 8 /* id u32, blocks u32 */

/* What Storage knows of a user from Account, cached. */
struct userinfo {
	bool valid;
	bool fetching;
	bool changed_while_fetching; /* the answer in flight may be stale: do not keep it */
	uint64_t fetched_ms;
	uint64_t limit_bytes;
	uint8_t epk[ENVELOPE_KEY_BYTES];
	struct op *waiting; /* stores waiting for this fetch */
};

/* One request in flight: answered once its batch is durable (or it fails). */
struct op {
	struct op *next;
	struct rpc_conn *conn;
	uint16_t type;
	uint32_t call;
	uint16_t uid;
	int batch_index;
	uint32_t id;
	/* STO_STORE */
	int msg_fd;
	const uint8_t *msg;
	size_t msg_len;
	uint8_t *env;
	size_t env_len;
	uint64_t reserved; /* bytes counted against the quota while in flight */
	int seal_rc;
};

struct storage {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct store *st;
	struct rpc_server *srv;
	struct rpc_client *acc;
	struct workq *commit_q;
	struct workq *seal_q;
	struct store_batch *filling;
	struct op *filling_ops;
	struct store_batch *committing;
	struct op *committing_ops;
	int commit_rc; /* -EIO when nothing became durable; per-op results tell more */
	struct userinfo users[KEYS_MAX_USERS];
	uint64_t inflight[KEYS_MAX_USERS];
	/* Group-commit evidence, logged at exit (make bench reads it). */
	uint64_t commits;    /* batches committed that held operations */
	uint64_t commit_ops; /* operations in them */
	uint64_t syncs_at_start;
};

static struct storage S;

static void reply_status(struct rpc_conn *c, uint16_t type, uint32_t call, uint8_t status)
{
	if (rpc_reply(c, type, call, &status, 1, -1) < 0 && status == CHST_OK)
		log_warn("storage: an answer could not be sent (the peer left)");
}

static void op_free(struct op *o)
{
	if (o->msg)
		memfd_unmap(o->msg, o->msg_len);
	if (o->msg_fd >= 0)
		close(o->msg_fd);
	if (o->env) {
		sodium_memzero(o->env, o->env_len);
		free(o->env);
	}
	if (o->reserved)
		S.inflight[o->uid] -= o->reserved;
	rpc_conn_unref(o->conn);
	loop_busy_dec(S.loop);
	free(o);
}

static struct op *op_new(struct rpc_conn *c, uint16_t type, uint32_t call, uint16_t uid)
{
	struct op *o = xcalloc(1, sizeof(*o));
	o->conn = c;
	rpc_conn_ref(c);
	o->type = type;
	o->call = call;
	o->uid = uid;
	o->msg_fd = -1;
	o->batch_index = -1;
	loop_busy_inc(S.loop);
	return o;
}

static uint8_t status_of(int rc)
{
	switch (rc) {
	case 0:
		return CHST_OK;
	case -ENOENT:
		return CHST_NOT_FOUND;
	case -EEXIST:
		return CHST_EXISTS;
	case -EDQUOT:
	case -ENOSPC:
	case -EFBIG:
	case -EOVERFLOW:
		return CHST_LIMIT;
	case -EINVAL:
		return CHST_INVALID;
	case -EBUSY: /* create of a uid removed in the same batch: ask again */
	case -ENOBUFS:
	case -EAGAIN:
		return CHST_TEMPFAIL;
	default:
		return CHST_INTERNAL;
	}
}

static void op_answer(struct op *o, int rc)
{
	uint8_t out[5];
	out[0] = status_of(rc);
	size_t len = 1;
	if (rc == 0 && o->type == STO_STORE) {
		le32_store(out + 1, o->id);
		len = 5;
	}
	rpc_reply(o->conn, o->type, o->call, out, len, -1);
	op_free(o);
}

/* ---- group commit ---- */

static void commit_work(void *arg) { S.commit_rc = store_batch_commit(S.committing); }

static void kick_commit(void);

static void commit_done(void *arg)
{
	store_batch_apply(S.committing);
	struct op *o = S.committing_ops;
	while (o) {
		struct op *next = o->next;
		op_answer(o, store_batch_result(S.committing, (size_t)o->batch_index));
		o = next;
	}
	store_batch_free(S.committing);
	S.committing = NULL;
	S.committing_ops = NULL;
	if (store_failed(S.st)) {
		/* The journal is in a state only recovery can fix: exit so systemd
		 * restarts us and store_open() recovers. Nothing acknowledged is lost. */
		log_err("storage: the store failed; exiting for recovery");
		exit(EXIT_FAILURE);
	}
	kick_commit();
}

static void kick_commit(void)
{
	if (S.committing)
		return;
	bool idle_cleanup = store_batch_ops(S.filling) == 0 && store_cleanup_pending(S.st);
	if (store_batch_ops(S.filling) == 0 && !idle_cleanup)
		return;
	if (store_batch_ops(S.filling) > 0) {
		S.commits++;
		S.commit_ops += store_batch_ops(S.filling);
	}
	S.committing = S.filling;
	S.committing_ops = S.filling_ops;
	S.filling = store_batch_new(S.st);
	S.filling_ops = NULL;
	workq_submit(S.commit_q, commit_work, commit_done, NULL);
}

/* Queues an operation in the filling batch (or answers it at once on error). */
static void queue_op(struct op *o, int index)
{
	if (index < 0) {
		op_answer(o, index);
		return;
	}
	o->batch_index = index;
	o->next = S.filling_ops;
	S.filling_ops = o;
	kick_commit();
}

/* ---- store ---- */

static void seal_work(void *arg)
{
	struct op *o = arg;
	struct userinfo *u = &S.users[o->uid];
	o->env_len = envelope_size_for(o->msg_len);
	o->env = xmalloc(o->env_len);
	o->seal_rc = envelope_seal(o->env, o->env_len, o->msg, o->msg_len, u->epk);
}

static void seal_done(void *arg)
{
	struct op *o = arg;
	memfd_unmap(o->msg, o->msg_len);
	o->msg = NULL;
	close(o->msg_fd);
	o->msg_fd = -1;
	if (o->seal_rc < 0) {
		log_warn("storage: sealing failed (%s)", strerror(-o->seal_rc));
		op_answer(o, -EINVAL);
		return;
	}
	int idx = store_queue_append(S.filling, o->uid, o->env, o->env_len, &o->id);
	if (idx >= 0) {
		/* Queued, the store counts these bytes itself until they are live
		 * (store_quota_check): counting them here too would refuse stores
		 * that fit. */
		S.inflight[o->uid] -= o->reserved;
		o->reserved = 0;
	}
	queue_op(o, idx);
}

static void store_continue(struct op *o)
{
	struct userinfo *u = &S.users[o->uid];
	size_t env_len = envelope_size_for(o->msg_len);
	if (env_len == 0) {
		op_answer(o, -EINVAL);
		return;
	}
	int rc = store_quota_check(S.st, o->uid, S.inflight[o->uid] + env_len, u->limit_bytes);
	if (rc < 0) {
		op_answer(o, rc == -EDQUOT ? -EDQUOT : rc);
		return;
	}
	o->reserved = env_len;
	S.inflight[o->uid] += env_len;
	workq_submit(S.seal_q, seal_work, seal_done, o);
}

static void userinfo_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd,
                          void *arg)
{
	uint16_t uid = (uint16_t)(uintptr_t)arg;
	struct userinfo *u = &S.users[uid];
	if (fd >= 0)
		close(fd);
	u->fetching = false;
	int rc = 0;
	/* answer: status u8, level u8, epk[32], limit_bytes u64 */
	if (status < 0 || type != ACC_USER_INFO || len < 1) {
		rc = -EAGAIN;
	} else if (p[0] == CHST_NOT_FOUND) {
		rc = -ENOENT;
	} else if (p[0] != CHST_OK || len != 1 + 1 + ENVELOPE_KEY_BYTES + 8) {
		rc = -EAGAIN;
	} else {
		memcpy(u->epk, p + 2, ENVELOPE_KEY_BYTES);
		u->limit_bytes = le64_load(p + 2 + ENVELOPE_KEY_BYTES);
		u->valid = !u->changed_while_fetching;
		u->fetched_ms = loop_now_ms();
	}
	u->changed_while_fetching = false;
	struct op *o = u->waiting;
	u->waiting = NULL;
	while (o) {
		struct op *next = o->next;
		o->next = NULL;
		if (rc < 0)
			op_answer(o, rc);
		else
			store_continue(o);
		o = next;
	}
}

static void userinfo_get(struct op *o)
{
	struct userinfo *u = &S.users[o->uid];
	if (u->valid && loop_now_ms() - u->fetched_ms < STORAGE_USERINFO_TTL_MS) {
		store_continue(o);
		return;
	}
	o->next = u->waiting;
	u->waiting = o;
	if (u->fetching)
		return;
	u->fetching = true;
	uint8_t req[2];
	le16_store(req, o->uid);
	rpc_call(S.acc, ACC_USER_INFO, req, sizeof(req), -1, STORAGE_ACCOUNT_TIMEOUT_MS, userinfo_done,
	         (void *)(uintptr_t)o->uid);
}

/* Which Message types and UplMsg kinds each peer may store. */
static bool store_allowed(enum role peer, const uint8_t *msg, size_t len)
{
	int type = msg_check(msg, len);
	if (type < 0)
		return false;
	if (type == MSG_UPL) {
		struct msg_upl u;
		if (msg_upl_decode(&u, msg, len) < 0)
			return false;
		if (peer == ROLE_DELIVER)
			return u.kind == MSG_UPL_ATTACHMENT || u.kind == MSG_UPL_SOURCE;
		return peer == ROLE_API && u.kind == MSG_UPL_USER;
	}
	if (peer == ROLE_DELIVER)
		return type == MSG_EXT;
	if (peer == ROLE_API)
		return type == MSG_INT;
	return false;
}

static void handle_store(struct rpc_conn *c, enum role peer, uint32_t call, const uint8_t *p,
                         size_t len, int fd)
{
	if (len < STORAGE_STORE_REQ_BYTES + CHAN_BULK_LEN_BYTES || fd < 0) {
		if (fd >= 0)
			close(fd);
		reply_status(c, STO_STORE, call, CHST_INVALID);
		return;
	}
	/* payload: bulk length u64 (section 7.9), then uid u16, flags u8, reserved u8 */
	uint16_t uid = le16_load(p + CHAN_BULK_LEN_BYTES);
	struct op *o = op_new(c, STO_STORE, call, uid);
	o->msg_fd = fd;
	if (uid >= KEYS_MAX_USERS || p[CHAN_BULK_LEN_BYTES + 2] != 0 ||
	    p[CHAN_BULK_LEN_BYTES + 3] != 0 || len != STORAGE_STORE_REQ_BYTES + CHAN_BULK_LEN_BYTES ||
	    chan_bulk_map(fd, p, len, MESSAGE_MAX_BYTES, &o->msg, &o->msg_len) < 0) {
		o->msg = NULL;
		op_answer(o, -EINVAL);
		return;
	}
	if (!store_allowed(peer, o->msg, o->msg_len)) {
		op_answer(o, -EINVAL);
		return;
	}
	if (!store_user_exists(S.st, uid)) {
		op_answer(o, -ENOENT);
		return;
	}
	userinfo_get(o);
}

/* ---- browse ---- */

static void handle_browse(struct rpc_conn *c, uint32_t call, const uint8_t *p, size_t len)
{
	if (len != STORAGE_BROWSE_REQ_BYTES) {
		reply_status(c, STO_BROWSE, call, CHST_INVALID);
		return;
	}
	uint16_t uid = le16_load(p);
	uint8_t flags = p[2];
	struct store_query q = {
		.from_id = le32_load(p + 4),
		.oldest_first = flags & 1,
		.inclusive = flags & 2,
		.max_bytes = le32_load(p + 8),
		.max_count = le32_load(p + 12),
	};
	if (uid >= KEYS_MAX_USERS || (flags & ~3u) || p[3] || q.max_bytes > STORE_BROWSE_MAX_BYTES ||
	    q.max_count > STORE_BROWSE_MAX_COUNT) {
		reply_status(c, STO_BROWSE, call, CHST_INVALID);
		return;
	}
	size_t cap = q.max_count ? q.max_count : STORE_BROWSE_MAX_COUNT;
	struct store_item *items = xcalloc(cap, sizeof(*items));
	size_t n = 0;
	bool more = false;
	int rc = store_browse(S.st, uid, &q, items, cap, &n, &more);
	uint64_t total_bytes = 0;
	uint32_t total_count = 0;
	if (rc == 0)
		rc = store_usage(S.st, uid, &total_bytes, &total_count);
	int fd = -1;
	struct memfd_writer w = { .fd = -1 }; /* the error path below may abort it unopened */
	if (rc == 0)
		rc = memfd_writer_open(&w, "browse");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t item[STORAGE_BROWSE_ITEM_BYTES];
		le32_store(item, items[i].id);
		le32_store(item + 4, items[i].blocks);
		rc = memfd_writer_append(&w, item, sizeof(item));
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		long r = store_read_to_fd(S.st, uid, items[i].id, w.fd);
		if (r < 0)
			rc = (int)r;
		else
			w.len += (size_t)r;
	}
	if (rc == 0)
		fd = memfd_writer_finish(&w);
	else if (w.fd >= 0)
		memfd_writer_abort(&w);
	free(items);
	if (rc < 0 || fd < 0) {
		reply_status(c, STO_BROWSE, call, status_of(rc < 0 ? rc : -EIO));
		return;
	}
	/* answer: bulk length u64, status u8, more u8, reserved u16, count u32,
	 * total_count u32, reserved u32, total_bytes u64 */
	uint8_t out[8 + 24];
	memset(out, 0, sizeof(out));
	le64_store(out, w.len);
	out[8] = CHST_OK;
	out[9] = more;
	le32_store(out + 12, (uint32_t)n);
	le32_store(out + 16, total_count);
	le64_store(out + 24, total_bytes);
	rpc_reply(c, STO_BROWSE, call, out, sizeof(out), fd);
	close(fd);
}

/* ---- the rest ---- */

static void handler(struct rpc_conn *c, enum role peer, uint16_t type, uint32_t call,
                    const uint8_t *p, size_t len, int fd, void *data)
{
	bool from_account = peer == ROLE_ACCOUNT;
	bool from_api = peer == ROLE_API;
	if (type == STO_STORE) {
		if (peer != ROLE_DELIVER && !from_api) {
			if (fd >= 0)
				close(fd);
			reply_status(c, type, call, CHST_DENIED);
			return;
		}
		handle_store(c, peer, call, p, len, fd);
		return;
	}
	if (fd >= 0) {
		close(fd);
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	switch (type) {
	case STO_BROWSE:
		if (!from_api)
			break;
		handle_browse(c, call, p, len);
		return;
	case STO_CREATE:
	case STO_REMOVE:
	case STO_USER_CHANGED:
	case STO_USAGE:
	case STO_EMPTY:
		if ((type == STO_EMPTY ? !from_api : !from_account))
			break;
		if (len != 2 || le16_load(p) >= KEYS_MAX_USERS) {
			reply_status(c, type, call, CHST_INVALID);
			return;
		}
		{
			uint16_t uid = le16_load(p);
			if (type == STO_USER_CHANGED) {
				S.users[uid].valid = false;
				if (S.users[uid].fetching)
					S.users[uid].changed_while_fetching = true;
				reply_status(c, type, call, CHST_OK);
				return;
			}
			if (type == STO_USAGE) {
				uint8_t out[13] = { 0 };
				uint64_t bytes;
				uint32_t count;
				int rc = store_usage(S.st, uid, &bytes, &count);
				out[0] = status_of(rc);
				if (rc == 0) {
					le64_store(out + 1, bytes);
					le32_store(out + 9, count);
				}
				rpc_reply(c, type, call, out, rc == 0 ? sizeof(out) : 1, -1);
				return;
			}
			struct op *o = op_new(c, type, call, uid);
			int idx = type == STO_CREATE   ? store_queue_create(S.filling, uid)
			          : type == STO_REMOVE ? store_queue_remove(S.filling, uid)
			                               : store_queue_empty(S.filling, uid);
			if (type == STO_REMOVE)
				S.users[uid].valid = false;
			queue_op(o, idx);
		}
		return;
	case STO_DELETE:
		if (!from_api)
			break;
		if (len != 6 || le16_load(p) >= KEYS_MAX_USERS) {
			reply_status(c, type, call, CHST_INVALID);
			return;
		}
		{
			struct op *o = op_new(c, type, call, le16_load(p));
			queue_op(o, store_queue_delete(S.filling, o->uid, le32_load(p + 2)));
		}
		return;
	default:
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	reply_status(c, type, call, CHST_DENIED);
}

static void on_stop(struct loop *l, void *data)
{
	/* Finish what is in flight; take no new connections. */
	rpc_server_stop_accepting(S.srv);
}

int main(int argc, char **argv)
{
	struct daemon *d = &S.d;
	daemon_init(d, "storage", argc, argv);
	static const char *const allowed[] = { "account_socket", "seal_threads", "state_dir",
		                                   "snapshot_bytes", NULL };
	daemon_config_allow(d, allowed);
	const char *acc_path =
		daemon_config_str(d, "account_socket", SOCK_RUN_DIR "/account.sock");
	long seal_threads = daemon_config_int(d, "seal_threads", STORAGE_SEAL_THREADS_DEFAULT, 1, 16);
	long snap = daemon_config_int(d, "snapshot_bytes", 0, 0, STORE_SNAPSHOT_BYTES_MAX);
	if (!d->state_dir)
		daemon_config_fail(d, "no state directory (StateDirectory= or storage.state_dir)");
	int lfd = daemon_take_fd(d, "channel");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"channel\" was passed");

	S.kb = daemon_load_keys(d, ROLE_STORAGE);

	struct store_options opt = { .snapshot_bytes = (size_t)snap };
	int rc = store_open(d->state_dir, keybundle_key(S.kb, SERVER_KEY_STO_STATE),
	                    keybundle_key(S.kb, SERVER_KEY_STO_NAME), &opt, &S.st);
	if (rc < 0) {
		log_err("storage: cannot open the store: %s", strerror(-rc));
		return EXIT_FAILURE;
	}

	S.loop = loop_new();
	if (loop_setup_signals(S.loop, on_stop, NULL) < 0)
		fatal("signals");
	S.filling = store_batch_new(S.st);
	S.commit_q = workq_new(S.loop, 1);
	S.seal_q = workq_new(S.loop, (unsigned)seal_threads);
	S.acc = rpc_client_new(S.loop, acc_path, ROLE_STORAGE, ROLE_ACCOUNT,
	                       keybundle_pair(S.kb, ROLE_STORAGE, ROLE_ACCOUNT));
	struct rpc_server_opts so = {
		.me = ROLE_STORAGE, .key_lookup = keybundle_server_lookup, .key_ctx = S.kb,
		.handler = handler,
	};
	S.srv = rpc_server_new(S.loop, lfd, &so);
	S.syncs_at_start = store_sync_count(S.st);
	daemon_ready(d, "serving");
	log_info("storage: %u users", store_user_count(S.st));

	rc = loop_run(S.loop);
	if (rc < 0)
		fatal("event loop");
	/* Stopped and idle: no commit runs now. Snapshot for a quick next start. */
	workq_free(S.seal_q);
	workq_free(S.commit_q);
	log_info("storage: %llu operations in %llu commits, %llu syncs",
	         (unsigned long long)S.commit_ops, (unsigned long long)S.commits,
	         (unsigned long long)(store_sync_count(S.st) - S.syncs_at_start));
	if (store_checkpoint(S.st) < 0)
		log_warn("storage: the final checkpoint failed; the journal will be replayed");
	rpc_server_free(S.srv);
	rpc_client_free(S.acc);
	store_batch_free(S.filling);
	store_close(S.st);
	keybundle_free(S.kb);
	loop_free(S.loop);
	daemon_free(d);
	log_info("storage: stopped");
	return 0;
}
