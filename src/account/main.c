/* allears-account: users, UAKs and address hashes. Answers the MTA's "who
 * owns this address" (Argon2id on a fair worker pool, with a cache), Storage's
 * "what is this user's EPK and limit", and the API's requests, which only
 * Account can authenticate and decrypt. Keeps Storage in step with its users.
 * Channel messages: docs/PROTOCOL.md section 10; API requests: section 12;
 * state: section 8. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account/addrcache.h"
#include "account/api.h"
#include "account/hashsched.h"
#include "account/invites.h"
#include "account/userdb.h"
#include "account/users.h"
#include "common/apireq.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/keybundle.h"
#include "ipc/daemon.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"

#define ACCOUNT_ARGON2_THREADS_DEFAULT 2
#define ACCOUNT_STORAGE_TIMEOUT_MS 10000
#define ACCOUNT_CACHE_SWEEP_MS 60000
#define ACCOUNT_SYNC_INFLIGHT_MAX 32 /* Storage calls of the reconciliation at once */
#define ACCOUNT_SYNC_RETRY_MS 2000   /* pause after a failed one */
#define ACCOUNT_LOOKUP_REQ_BYTES 15  /* addr32, fairness tag u32, flags u8 */
#define ACCOUNT_LOOKUP_ANSWER_BYTES 4 /* status, uid u16, flags */
#define ACCOUNT_USER_INFO_ANSWER_BYTES (1 + 1 + ACCOUNT_EPK_BYTES + 8)
#define ACCOUNT_HELD_MAX 4096        /* cache hits held back at once (section 10.2) */
#define ACCOUNT_FAIR_KEY(role, tag) (((uint64_t)(role) << 32) | (uint32_t)(tag))

/* What Storage still has to do for a user (section 10.5). */
#define SYNC_REMOVE 0x01
#define SYNC_CREATE 0x02

/* One ACC_LOOKUP waiting for its hash, or (answered from the cache) for the
 * time a hash would have taken. */
struct lookup {
	struct lookup *next;
	struct rpc_conn *conn;
	uint32_t call;
	uint64_t due_ms;
	uint8_t hash[ADDRHASH_BYTES];
};

struct apiop;
struct hslot {
	struct apiop *op;
	uint8_t *out;
};

/* One ACC_API request between decryption and its answer. */
struct apiop {
	struct apiop *next_waiter;
	struct rpc_conn *conn;
	uint32_t call;
	struct api_result r;
	int hashes_left;
	int hash_rc;
	uint8_t from_hash[ADDRHASH_BYTES], to_hash[ADDRHASH_BYTES];
	struct hslot slots[2];
};

struct account {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct userdb *udb;
	struct users *users;
	struct invites *inv;
	struct addrcache *cache;
	struct hashsched *hs;
	struct rpc_server *srv;
	struct rpc_client *sto;
	struct api_ctx api;
	struct loop_timer *sweep;
	struct loop_timer *sync_timer;
	struct loop_timer *held_timer;
	struct lookup *held_head, *held_tail; /* cache hits, in due order */
	size_t held_count;
	uint64_t held_last_due;
	uint64_t sync_hold_until;
	unsigned sync_inflight;
	size_t sync_cursor;
	uint8_t sync_want[ACCOUNT_USERS_MAX];
	uint8_t sync_busy[ACCOUNT_USERS_MAX];
	struct apiop *sync_waiters[ACCOUNT_USERS_MAX];
};

static struct account A;

static uint64_t wall_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reply_status(struct rpc_conn *c, uint16_t type, uint32_t call, uint8_t status)
{
	(void)rpc_reply(c, type, call, &status, 1, -1);
}

static void ignore_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	if (fd >= 0)
		close(fd);
}

/* ---- Storage: the reconciliation (section 10.5) ---- */

static void apiop_answer(struct apiop *op);
static void sync_kick(void);

static void sync_fire_waiters(uint16_t uid)
{
	struct apiop *op = A.sync_waiters[uid];
	A.sync_waiters[uid] = NULL;
	while (op) {
		struct apiop *next = op->next_waiter;
		op->next_waiter = NULL;
		apiop_answer(op);
		op = next;
	}
}

static void sync_timer_fired(struct loop *l, struct loop_timer *t, void *data)
{
	sync_kick();
}

static void sync_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	uint16_t uid = (uint16_t)((uintptr_t)arg & 0xFFFF);
	uint8_t what = (uint8_t)((uintptr_t)arg >> 16);
	if (fd >= 0)
		close(fd);
	A.sync_busy[uid] = 0;
	A.sync_inflight--;
	bool good = status == 0 && len >= 1 &&
	            (p[0] == CHST_OK || (what == SYNC_CREATE && p[0] == CHST_EXISTS) ||
	             (what == SYNC_REMOVE && p[0] == CHST_NOT_FOUND));
	if (good) {
		A.sync_want[uid] &= (uint8_t)~what;
		if (!A.sync_want[uid])
			sync_fire_waiters(uid);
	} else {
		/* Storage is down or busy: whoever waits is answered now, the
		 * work is retried after a pause. */
		log_warn("account: Storage did not %s a user's storage (%s); will retry",
		         what == SYNC_CREATE ? "create" : "remove",
		         status < 0 ? strerror(-status) : "refused");
		sync_fire_waiters(uid);
		A.sync_hold_until = loop_now_ms() + ACCOUNT_SYNC_RETRY_MS;
		loop_timer_rearm(A.sync_timer, ACCOUNT_SYNC_RETRY_MS);
	}
	sync_kick();
}

static void sync_start(uint16_t uid)
{
	uint8_t what = (A.sync_want[uid] & SYNC_REMOVE) ? SYNC_REMOVE : SYNC_CREATE;
	if (what == SYNC_CREATE && !users_get(A.users, uid)) {
		A.sync_want[uid] = 0; /* deleted again meanwhile */
		sync_fire_waiters(uid);
		return;
	}
	uint8_t req[2];
	le16_store(req, uid);
	A.sync_busy[uid] = 1;
	A.sync_inflight++;
	rpc_call(A.sto, what == SYNC_REMOVE ? STO_REMOVE : STO_CREATE, req, sizeof(req), -1,
	         ACCOUNT_STORAGE_TIMEOUT_MS, sync_done, (void *)(uintptr_t)(uid | (what << 16)));
}

static void sync_kick(void)
{
	if (loop_stopping(A.loop) || loop_now_ms() < A.sync_hold_until)
		return;
	for (size_t n = 0; n < ACCOUNT_USERS_MAX && A.sync_inflight < ACCOUNT_SYNC_INFLIGHT_MAX; n++) {
		uint16_t uid = (uint16_t)A.sync_cursor;
		A.sync_cursor = (A.sync_cursor + 1) % ACCOUNT_USERS_MAX;
		if (A.sync_want[uid] && !A.sync_busy[uid])
			sync_start(uid);
	}
}

static void sync_mark(uint16_t uid, uint8_t what)
{
	A.sync_want[uid] |= what;
	sync_kick();
}

static void notify_changed(uint16_t uid)
{
	uint8_t req[2];
	le16_store(req, uid);
	rpc_call(A.sto, STO_USER_CHANGED, req, sizeof(req), -1, ACCOUNT_STORAGE_TIMEOUT_MS,
	         ignore_done, NULL);
}

/* ---- ACC_LOOKUP (section 10.2) ---- */

static void lookup_reply(struct rpc_conn *c, uint32_t call, uint8_t status, uint16_t uid,
                         uint8_t flags)
{
	uint8_t out[ACCOUNT_LOOKUP_ANSWER_BYTES];
	out[0] = status;
	le16_store(out + 1, uid);
	out[3] = flags;
	(void)rpc_reply(c, ACC_LOOKUP, call, out, sizeof(out), -1);
}

static void lookup_normal_answer(struct rpc_conn *c, uint32_t call,
                                 const uint8_t hash[ADDRHASH_BYTES])
{
	uint16_t uid;
	uint8_t flags;
	if (users_mta_lookup(A.users, hash, false, &uid, &flags) < 0)
		fatalx("users_mta_lookup refused a normal address");
	lookup_reply(c, call, CHST_OK, uid, flags);
}

static void lookup_hashed(int status, const uint8_t hash[ADDRHASH_BYTES], void *arg)
{
	struct lookup *op = arg;
	if (status < 0)
		lookup_reply(op->conn, op->call, CHST_TEMPFAIL, ACCOUNT_UID_NONE, 0);
	else
		lookup_normal_answer(op->conn, op->call, hash);
	rpc_conn_unref(op->conn);
	loop_busy_dec(A.loop);
	free(op);
}

/* A cache hit is answered only after the typical time of a hash, so that the
 * answer's timing does not tell whether anyone asked for this address lately
 * (which would hint that it exists). One timer serves the FIFO: every entry is
 * due no earlier than the one before it. */
static void held_fired(struct loop *l, struct loop_timer *t, void *data)
{
	uint64_t now = loop_now_ms();
	while (A.held_head && A.held_head->due_ms <= now) {
		struct lookup *op = A.held_head;
		A.held_head = op->next;
		if (!A.held_head)
			A.held_tail = NULL;
		A.held_count--;
		lookup_normal_answer(op->conn, op->call, op->hash);
		rpc_conn_unref(op->conn);
		loop_busy_dec(A.loop);
		sodium_memzero(op, sizeof(*op));
		free(op);
	}
	if (A.held_head)
		loop_timer_rearm(A.held_timer, A.held_head->due_ms - now);
}

static void lookup_hold(struct rpc_conn *c, uint32_t call, const uint8_t hash[ADDRHASH_BYTES])
{
	if (A.held_count >= ACCOUNT_HELD_MAX) {
		lookup_reply(c, call, CHST_TEMPFAIL, ACCOUNT_UID_NONE, 0);
		return;
	}
	uint64_t now = loop_now_ms();
	struct lookup *op = xcalloc(1, sizeof(*op));
	op->conn = c;
	op->call = call;
	memcpy(op->hash, hash, ADDRHASH_BYTES);
	op->due_ms = now + hashsched_typical_ms(A.hs);
	if (op->due_ms < A.held_last_due)
		op->due_ms = A.held_last_due;
	A.held_last_due = op->due_ms;
	rpc_conn_ref(c);
	loop_busy_inc(A.loop);
	if (A.held_tail)
		A.held_tail->next = op;
	else
		A.held_head = op;
	A.held_tail = op;
	if (A.held_count++ == 0)
		loop_timer_rearm(A.held_timer, op->due_ms - now);
}

static void handle_lookup(struct rpc_conn *c, uint32_t call, const uint8_t *p, size_t len)
{
	uint8_t hash[ADDRHASH_BYTES];
	uint16_t uid;
	uint8_t flags;

	if (len != ACCOUNT_LOOKUP_REQ_BYTES || p[14] != 0) {
		lookup_reply(c, call, CHST_INVALID, ACCOUNT_UID_NONE, 0);
		return;
	}
	const uint8_t *addr = p;
	uint32_t tag = le32_load(p + ADDR32_BYTES);
	switch (addr32_classify(addr)) {
	case ADDR32_SHIELD:
		addrhash_shield(hash, addr, keybundle_key(A.kb, SERVER_KEY_ACC_SHIELD));
		if (users_mta_lookup(A.users, hash, true, &uid, &flags) == 0)
			lookup_reply(c, call, CHST_OK, uid, flags);
		else
			lookup_reply(c, call, CHST_NOT_FOUND, ACCOUNT_UID_NONE, 0);
		return;
	case ADDR32_NORMAL:
		break;
	default:
		lookup_reply(c, call, CHST_INVALID, ACCOUNT_UID_NONE, 0);
		return;
	}
	struct lookup *op = xcalloc(1, sizeof(*op));
	op->conn = c;
	op->call = call;
	int rc = hashsched_get(A.hs, ACCOUNT_FAIR_KEY(ROLE_MTA, tag), addr, hash, lookup_hashed, op);
	if (rc == 0) {
		rpc_conn_ref(c);
		loop_busy_inc(A.loop);
		return;
	}
	free(op);
	if (rc == 1)
		lookup_hold(c, call, hash);
	else
		lookup_reply(c, call, CHST_TEMPFAIL, ACCOUNT_UID_NONE, 0);
}

/* ---- ACC_USER_INFO (section 10.3) ---- */

static void handle_user_info(struct rpc_conn *c, uint32_t call, const uint8_t *p, size_t len)
{
	uint8_t out[ACCOUNT_USER_INFO_ANSWER_BYTES];
	uint32_t mib;
	if (len != 2 || le16_load(p) >= ACCOUNT_USERS_MAX) {
		reply_status(c, ACC_USER_INFO, call, CHST_INVALID);
		return;
	}
	uint16_t uid = le16_load(p);
	const struct users_user *u = users_get(A.users, uid);
	if (!u || users_storage_info(A.users, uid, out + 2, &mib) < 0) {
		reply_status(c, ACC_USER_INFO, call, CHST_NOT_FOUND);
		return;
	}
	out[0] = CHST_OK;
	out[1] = u->level;
	le64_store(out + 2 + ACCOUNT_EPK_BYTES, (uint64_t)mib << 20);
	(void)rpc_reply(c, ACC_USER_INFO, call, out, sizeof(out), -1);
}

/* ---- ACC_API (section 10.4) ---- */

static struct apiop *apiop_new(struct rpc_conn *c, uint32_t call)
{
	struct apiop *op = xcalloc(1, sizeof(*op));
	op->conn = c;
	op->call = call;
	api_result_init(&op->r);
	rpc_conn_ref(c);
	loop_busy_inc(A.loop);
	return op;
}

static void apiop_answer(struct apiop *op)
{
	struct api_result *r = &op->r;
	struct wr w = WR_INIT;
	int fd = -1;

	r->ans.data = r->data.p;
	r->ans.data_len = r->data.len;
	bool memfd = r->ans.status == CHST_OK &&
	             (r->ans.disp == APIREQ_DISP_FORWARD
	                  ? r->ans.sto_type == STO_STORE
	                  : APIREQ_CHAN_ANSWER_BYTES + r->data.len > RPC_PAYLOAD_MAX);
	if (memfd) {
		fd = memfd_from_buffer(r->data.p ? r->data.p : (const uint8_t *)"", r->data.len,
		                       "account-answer");
		if (fd < 0) {
			log_err("account: cannot make a memfd: %s", strerror(-fd));
			memfd = false;
			r->ans.status = CHST_INTERNAL;
			r->ans.disp = APIREQ_DISP_REPLY;
			r->ans.data_len = 0;
		} else {
			wr_u64(&w, r->data.len);
		}
	}
	if (apireq_chan_answer_encode(&w, &r->ans, memfd) < 0)
		fatalx("account: an ACC_API answer does not encode");
	(void)rpc_reply(op->conn, ACC_API, op->call, w.p, w.len, fd);
	if (fd >= 0)
		close(fd);
	wr_free(&w);
	api_result_free(r);
	rpc_conn_unref(op->conn);
	loop_busy_dec(A.loop);
	free(op);
}

static void apiop_continue(struct apiop *op);

static void usage_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	struct apiop *op = arg;
	if (fd >= 0)
		close(fd);
	/* answer: status u8, bytes u64, envelopes u32 */
	bool known = status == 0 && type == STO_USAGE && len == 13 && p[0] == CHST_OK;
	api_set_usage(&op->r, known, known ? le64_load(p + 1) : 0, known ? le32_load(p + 9) : 0);
	apiop_continue(op);
}

static void send_hashed(struct apiop *op)
{
	api_send_finish(&A.api, &op->r, op->hash_rc, op->from_hash, op->to_hash, wall_ms());
	apiop_continue(op);
}

static void hash_done(int status, const uint8_t hash[ADDRHASH_BYTES], void *arg)
{
	struct hslot *s = arg;
	struct apiop *op = s->op;
	if (status < 0)
		op->hash_rc = status;
	else
		memcpy(s->out, hash, ADDRHASH_BYTES);
	if (--op->hashes_left == 0)
		send_hashed(op);
}

static void hash_one(struct apiop *op, int i, const uint8_t addr[ADDR32_BYTES], uint8_t *out)
{
	struct hslot *s = &op->slots[i];
	s->op = op;
	s->out = out;
	if (addr32_classify(addr) == ADDR32_SHIELD) {
		addrhash_shield(out, addr, keybundle_key(A.kb, SERVER_KEY_ACC_SHIELD));
		op->hashes_left--;
		return;
	}
	int rc = hashsched_get(A.hs, ACCOUNT_FAIR_KEY(ROLE_API, op->r.uid), addr, out, hash_done, s);
	if (rc == 0)
		return;
	if (rc < 0)
		op->hash_rc = rc;
	op->hashes_left--;
}

static void apiop_continue(struct apiop *op)
{
	struct api_result *r = &op->r;
	uint8_t req[2];

	switch (r->next) {
	case API_NEED_USAGE:
		le16_store(req, r->uid);
		rpc_call(A.sto, STO_USAGE, req, sizeof(req), -1, ACCOUNT_STORAGE_TIMEOUT_MS, usage_done,
		         op);
		return;
	case API_NEED_HASHES:
		op->hashes_left = 3; /* two hashes, and this function's own hold */
		hash_one(op, 0, r->args.u.send.from, op->from_hash);
		hash_one(op, 1, r->args.u.send.to, op->to_hash);
		if (--op->hashes_left == 0)
			send_hashed(op);
		return;
	case API_DONE:
		break;
	}
	if (r->sto_remove_uid >= 0)
		sync_mark((uint16_t)r->sto_remove_uid, SYNC_REMOVE);
	if (r->sto_changed_uid >= 0)
		notify_changed((uint16_t)r->sto_changed_uid);
	if (r->sto_changed_level >= 0)
		for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++) {
			const struct users_user *u = users_get(A.users, uid);
			if (u && u->level == r->sto_changed_level)
				notify_changed(uid);
		}
	if (r->bootstrap_used && invites_bootstrap_remove(A.d.state_dir) == 0)
		log_notice("account: the master admin registered; the bootstrap invitation is gone");
	if (r->sto_create_uid >= 0 && !loop_stopping(A.loop)) {
		/* Answered once Storage holds the new user's storage (or failed). */
		uint16_t uid = (uint16_t)r->sto_create_uid;
		op->next_waiter = A.sync_waiters[uid];
		A.sync_waiters[uid] = op;
		sync_mark(uid, SYNC_REMOVE | SYNC_CREATE);
		return;
	}
	apiop_answer(op);
}

static void handle_api(struct rpc_conn *c, uint32_t call, const uint8_t *p, size_t len, int fd)
{
	const uint8_t *bulk = NULL;
	size_t bulk_len = 0;
	struct apireq_chan_req rq;
	struct apiop *op = apiop_new(c, call);

	if (fd >= 0) {
		int rc = chan_bulk_map(fd, p, len, APIREQ_BODY_MAX, &bulk, &bulk_len);
		close(fd);
		if (rc < 0) {
			op->r.ans.status = CHST_INVALID;
			apiop_answer(op);
			return;
		}
		p += CHAN_BULK_LEN_BYTES;
		len -= CHAN_BULK_LEN_BYTES;
	}
	if (apireq_chan_req_decode(&rq, p, len, bulk, bulk_len, fd >= 0) < 0)
		op->r.ans.status = CHST_INVALID;
	else
		api_handle(&A.api, &rq, wall_ms(), &op->r);
	if (bulk)
		memfd_unmap(bulk, bulk_len);
	apiop_continue(op);
}

/* ---- the server ---- */

static void handler(struct rpc_conn *c, enum role peer, uint16_t type, uint32_t call,
                    const uint8_t *p, size_t len, int fd, void *data)
{
	if (fd >= 0 && (type != ACC_API || peer != ROLE_API)) {
		close(fd);
		reply_status(c, type, call, type == ACC_API ? CHST_DENIED : CHST_INVALID);
		return;
	}
	switch (type) {
	case ACC_LOOKUP:
		if (peer != ROLE_MTA)
			break;
		handle_lookup(c, call, p, len);
		return;
	case ACC_USER_INFO:
		if (peer != ROLE_STORAGE)
			break;
		handle_user_info(c, call, p, len);
		return;
	case ACC_API:
		if (peer != ROLE_API)
			break;
		handle_api(c, call, p, len, fd);
		return;
	default:
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	reply_status(c, type, call, CHST_DENIED);
}

static void on_stop(struct loop *l, void *data)
{
	/* Finish what is in flight; take no new connections. Registrations
	 * waiting for Storage are answered now: the reconciliation of the next
	 * start finishes their storage. */
	rpc_server_stop_accepting(A.srv);
	for (size_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++)
		sync_fire_waiters((uint16_t)uid);
}

static void sweep(struct loop *l, struct loop_timer *t, void *data)
{
	addrcache_expire(A.cache, loop_now_ms());
}

/* ---- start-up ---- */

static bool state_exists(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, USERDB_SETTINGS_NAME) >= sizeof(path))
		return true; /* let userdb_open report it */
	return lstat(path, &st) == 0 || errno != ENOENT;
}

static void open_state(struct daemon *d)
{
	const uint8_t *state_key = keybundle_key(A.kb, SERVER_KEY_ACC_STATE);
	const uint8_t *salt = keybundle_key(A.kb, SERVER_KEY_ACC_ADDR_SALT);
	int rc = -ENOENT;
	/* A directory without a settings file holds no state yet. */
	if (faccessat(AT_FDCWD, d->state_dir, F_OK, 0) == 0 && !state_exists(d->state_dir))
		log_notice("account: no state yet; creating a fresh one");
	else
		rc = userdb_open(d->state_dir, state_key, wall_ms(), &A.udb, &A.users);
	if (rc == -ENOENT) {
		struct users_settings s;
		struct addrhash_params p = addrhash_params_default();
		if (users_settings_init(&s, &p, salt) < 0)
			fatalx("account: cannot compute the settings");
		rc = userdb_create(d->state_dir, state_key, &s);
		sodium_memzero(&s, sizeof(s));
		if (rc == 0)
			rc = userdb_open(d->state_dir, state_key, wall_ms(), &A.udb, &A.users);
	}
	if (rc < 0) {
		log_err("account: cannot open the state in %s: %s", d->state_dir, strerror(-rc));
		exit(EXIT_FAILURE);
	}
	rc = invites_open(d->state_dir, keybundle_key(A.kb, SERVER_KEY_ACC_INVITE), &A.inv);
	if (rc < 0)
		exit(EXIT_FAILURE);
}

/* With no users at all, the only way in is one master invitation, written for
 * the operator to hand to the first admin (section 12.9). */
static void bootstrap(struct daemon *d)
{
	uint8_t invite[APIREQ_INVITE_BYTES];
	int rc = invites_remove_master(A.inv);
	if (rc == 0 && users_count(A.users) > 0) {
		rc = invites_bootstrap_remove(d->state_dir);
	} else if (rc == 0) {
		uint64_t now = wall_ms();
		rc = invites_create(A.inv, ACCOUNT_LEVEL_ADMIN, INVITE_F_MASTER,
		                    now + INVITES_MASTER_LIFETIME_MS, now, invite);
		if (rc == 0)
			rc = invites_bootstrap_write(d->state_dir, invite);
		sodium_memzero(invite, sizeof(invite));
		if (rc == 0)
			log_notice("account: no users yet; the first admin registers with the invitation "
			           "in %s/%s", d->state_dir, INVITES_BOOTSTRAP_NAME);
	}
	if (rc < 0) {
		log_err("account: cannot set up the bootstrap invitation: %s", strerror(-rc));
		exit(EXIT_FAILURE);
	}
}

int main(int argc, char **argv)
{
	struct daemon *d = &A.d;
	daemon_init(d, "account", argc, argv);
	static const char *const allowed[] = { "storage_socket", "argon2_threads", "api_window_ms",
		                                   "state_dir", NULL };
	daemon_config_allow(d, allowed);
	const char *sto_path = daemon_config_str(d, "storage_socket", SOCK_RUN_DIR "/storage.sock");
	long threads = daemon_config_int(d, "argon2_threads", ACCOUNT_ARGON2_THREADS_DEFAULT, 1,
	                                 HASHSCHED_THREADS_MAX);
	long window = daemon_config_int(d, "api_window_ms", API_WINDOW_MS_DEFAULT, API_WINDOW_MS_MIN,
	                                API_WINDOW_MS_MAX);
	if (!d->state_dir)
		daemon_config_fail(d, "no state directory (StateDirectory= or account.state_dir)");
	int lfd = daemon_take_fd(d, "channel");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"channel\" was passed");

	A.kb = daemon_load_keys(d, ROLE_ACCOUNT);

	open_state(d);
	bootstrap(d);

	A.loop = loop_new();
	if (loop_setup_signals(A.loop, on_stop, NULL) < 0)
		fatal("signals");
	A.cache = addrcache_new(ADDRCACHE_ENTRIES, ADDRCACHE_TTL_MS);
	A.hs = hashsched_new(A.loop, (unsigned)threads, A.cache,
	                     keybundle_key(A.kb, SERVER_KEY_ACC_ADDR_SALT),
	                     &users_settings(A.users)->params);
	A.sweep = loop_timer_add(A.loop, ACCOUNT_CACHE_SWEEP_MS, true, sweep, NULL);
	A.sync_timer = loop_timer_add(A.loop, ACCOUNT_SYNC_RETRY_MS, false, sync_timer_fired, NULL);
	A.held_timer = loop_timer_add(A.loop, ACCOUNT_CACHE_SWEEP_MS, false, held_fired, NULL);
	A.api = (struct api_ctx){
		.db = A.users,
		.inv = A.inv,
		.salt = keybundle_key(A.kb, SERVER_KEY_ACC_ADDR_SALT),
		.shield_key = keybundle_key(A.kb, SERVER_KEY_ACC_SHIELD),
		.window_ms = (uint64_t)window,
	};
	A.sto = rpc_client_new(A.loop, sto_path, ROLE_ACCOUNT, ROLE_STORAGE,
	                       keybundle_pair(A.kb, ROLE_ACCOUNT, ROLE_STORAGE));
	struct rpc_server_opts so = {
		.me = ROLE_ACCOUNT, .key_lookup = keybundle_server_lookup, .key_ctx = A.kb,
		.handler = handler,
	};
	A.srv = rpc_server_new(A.loop, lfd, &so);

	/* A crash between a durable registration and Storage's create heals here. */
	for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++)
		if (users_get(A.users, uid))
			A.sync_want[uid] = SYNC_CREATE;
	sync_kick();

	daemon_ready(d, "serving");
	log_info("account: %zu users", users_count(A.users));

	int rc = loop_run(A.loop);
	if (rc < 0)
		fatal("event loop");
	hashsched_free(A.hs);
	rpc_server_free(A.srv);
	rpc_client_free(A.sto);
	loop_timer_del(A.loop, A.sweep);
	loop_timer_del(A.loop, A.sync_timer);
	loop_timer_del(A.loop, A.held_timer);
	addrcache_free(A.cache);
	users_free(A.users);
	userdb_close(A.udb);
	invites_close(A.inv);
	keybundle_free(A.kb);
	loop_free(A.loop);
	daemon_free(d);
	log_info("account: stopped");
	return 0;
}
