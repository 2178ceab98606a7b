/* api.c: authentication, timestamp rules and command execution for API
 * requests (docs/PROTOCOL.md section 12). The order of checks is part of the
 * design: the timestamp window first (cheap, needs no user), then the user and
 * the tag (an unknown user costs the same AEAD as a known one), and only a
 * verified request may move the user's last timestamp or change anything. */
#include "account/api.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bytes.h"
#include "common/cet.h"
#include "common/chanmsg.h"
#include "common/message.h"

_Static_assert(APIREQ_PRIVATE_MAX == ACCOUNT_PRIVATE_MAX, "private field limit");
_Static_assert(APIREQ_LEVELS == ACCOUNT_LEVELS, "levels");
_Static_assert(APIREQ_ADDR_MAX == ACCOUNT_ADDR_MAX, "addresses");
_Static_assert(APIREQ_STORAGE_MIB_MAX == ACCOUNT_STORAGE_MIB_MAX, "storage limit");
_Static_assert(APIREQ_ADDR_FLAGS_USER == ACCOUNT_FLAGS_USER, "address flags");
_Static_assert(APIREQ_UID_MAX == ACCOUNT_USERS_MAX - 1, "uids");
_Static_assert(APIREQ_EPK_BYTES == ACCOUNT_EPK_BYTES && APIREQ_KEY_BYTES == ACCOUNT_UAK_BYTES,
               "keys");

void api_result_init(struct api_result *r)
{
	memset(r, 0, sizeof(*r));
	r->data = (struct wr)WR_INIT;
	r->sto_remove_uid = -1;
	r->sto_create_uid = -1;
	r->sto_changed_uid = -1;
	r->sto_changed_level = -1;
}

void api_result_free(struct api_result *r)
{
	if (r->plain) {
		sodium_memzero(r->plain, r->plain_len);
		free(r->plain);
	}
	wr_free(&r->data);
	sodium_memzero(r, sizeof(*r));
	api_result_init(r);
}

uint8_t api_status_of(int rc)
{
	switch (rc) {
	case 0:
		return CHST_OK;
	case -ENOENT:
		return CHST_NOT_FOUND;
	case -EEXIST:
	case -EACCES: /* a reserved name: others are told it is in use (2.5) */
		return CHST_EXISTS;
	case -EDQUOT:
	case -ENOSPC:
		return CHST_LIMIT;
	case -EINVAL:
		return CHST_INVALID;
	case -EPERM:
		return CHST_FORBIDDEN;
	case -EAGAIN:
		return CHST_TEMPFAIL;
	default:
		return CHST_INTERNAL;
	}
}

/* Failure: no data, no Storage call; the key stays (zero before auth). */
static void fail(struct api_result *r, uint8_t status)
{
	r->ans.status = status;
	r->ans.disp = APIREQ_DISP_REPLY;
	r->next = API_DONE;
	wr_free(&r->data);
	r->data = (struct wr)WR_INIT;
}

/* Failure before the request is known to come from the key's holder. */
static void fail_unauth(struct api_result *r, uint8_t status)
{
	fail(r, status);
	r->ans.cmd = 0;
	sodium_memzero(r->ans.key, sizeof(r->ans.key));
	if (r->plain) {
		sodium_memzero(r->plain, r->plain_len);
		free(r->plain);
		r->plain = NULL;
		r->plain_len = 0;
	}
}

static void ok(struct api_result *r)
{
	r->ans.status = CHST_OK;
	r->ans.disp = APIREQ_DISP_REPLY;
}

static void done_rc(struct api_result *r, int rc)
{
	if (rc < 0)
		fail(r, api_status_of(rc));
	else
		ok(r);
}

static void forward(struct api_result *r, uint16_t sto_type, const uint8_t *args, size_t n)
{
	r->ans.status = CHST_OK;
	r->ans.disp = APIREQ_DISP_FORWARD;
	r->ans.sto_type = sto_type;
	memcpy(r->ans.sto_args, args, n);
	r->ans.sto_args_len = n;
}

/* STO_STORE of the Message in r->data for user uid: uid u16, flags 0, reserved 0. */
static void forward_store(struct api_result *r, uint16_t uid)
{
	uint8_t a[4] = { 0 };
	le16_store(a, uid);
	forward(r, STO_STORE, a, sizeof(a));
}

/* ---- commands ---- */

static void cmd_info(struct api_ctx *c, struct api_result *r, const struct users_user *u)
{
	const struct users_settings *s = users_settings(c->db);
	const struct users_limits *l = &s->limits[u->level];
	uint8_t params[ADDRHASH_PARAMS_BYTES];
	if (addrhash_params_encode(&s->params, params) < 0)
		fatalx("settings hold invalid parameters");
	struct wr *w = &r->data;
	wr_u16(w, u->uid);
	wr_u8(w, u->level);
	wr_u8(w, u->addr_count);
	wr_u32(w, l->storage_mib);
	wr_u8(w, l->max_normal);
	wr_u8(w, l->max_shield);
	wr_zero(w, 2 + 8 + 4); /* usage, filled by api_set_usage */
	wr_bytes(w, params, sizeof(params));
	wr_bytes(w, c->salt, ADDRHASH_SALT_BYTES);
	wr_u16(w, u->priv_len);
	wr_u16(w, 0);
	for (int i = 0; i < u->addr_count; i++) {
		wr_bytes(w, u->addr[i].hash, ADDRHASH_BYTES);
		wr_u8(w, u->addr[i].flags);
	}
	ok(r);
	r->next = API_NEED_USAGE;
}

void api_set_usage(struct api_result *r, bool known, uint64_t bytes, uint32_t count)
{
	if (r->ans.cmd != APIREQ_ACCOUNT_INFO || r->data.len < API_INFO_FIXED_BYTES)
		fatalx("api_set_usage: not an ACCOUNT_INFO result");
	uint8_t *p = r->data.p + API_INFO_USAGE_OFF;
	p[0] = known;
	p[1] = 0;
	le64_store(p + 2, known ? bytes : 0);
	le32_store(p + 10, known ? count : 0);
	r->next = API_DONE;
}

static void cmd_list_users(struct api_ctx *c, struct api_result *r)
{
	struct wr *w = &r->data;
	wr_u16(w, (uint16_t)users_count(c->db));
	for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++) {
		const struct users_user *u = users_get(c->db, uid);
		if (!u)
			continue;
		uint8_t shield = 0;
		for (int i = 0; i < u->addr_count; i++)
			shield += (u->addr[i].flags & ACCOUNT_FLAG_SHIELD) != 0;
		wr_u16(w, uid);
		wr_u8(w, u->level);
		wr_u8(w, (uint8_t)(u->addr_count - shield));
		wr_u8(w, shield);
	}
	ok(r);
}

static void cmd_upload(struct api_result *r, uint64_t now_ms)
{
	struct msg_upl m = {
		.ts = now_ms,
		.parent = 0,
		.kind = MSG_UPL_USER,
		.media_type = { NULL, 0 },
		.name = r->args.u.upload.name,
		.data = r->args.u.upload.data,
	};
	if (msg_upl_encode(&r->data, &m) < 0) {
		fail(r, CHST_INVALID);
		return;
	}
	forward_store(r, r->uid);
}

static void cmd_send_check(struct api_result *r)
{
	const struct msg_str *subj = &r->args.u.send.subject;
	const struct msg_str *body = &r->args.u.send.body;
	if (!msg_text_valid(subj->p, subj->len, MSG_TEXT_LINE) ||
	    cet_validate(body->p, body->len, NULL) < 0) {
		fail(r, CHST_INVALID);
		return;
	}
	ok(r);
	r->next = API_NEED_HASHES;
}

static bool is_admin(const struct users_user *u)
{
	return u->level == ACCOUNT_LEVEL_ADMIN;
}

static void run_command(struct api_ctx *c, struct api_result *r, uint64_t now_ms)
{
	const struct users_user *u = users_get(c->db, r->uid);
	const struct apireq_args *a = &r->args;
	uint8_t sto[APIREQ_STO_ARGS_MAX];
	uint8_t addr[ADDR32_BYTES], hash[ADDRHASH_BYTES];
	const uint8_t *pdata;
	size_t plen;
	int rc;

	if (a->cmd >= APIREQ_ADMIN_LIST_USERS && !is_admin(u)) {
		fail(r, CHST_DENIED);
		return;
	}
	switch (a->cmd) {
	case APIREQ_ACCOUNT_INFO:
		cmd_info(c, r, u);
		return;
	case APIREQ_ACCOUNT_DELETE:
	case APIREQ_ADMIN_DELETE_USER: {
		uint16_t victim = a->cmd == APIREQ_ACCOUNT_DELETE ? r->uid : a->u.user.uid;
		rc = users_delete(c->db, victim);
		done_rc(r, rc);
		if (rc == 0)
			r->sto_remove_uid = victim;
		return;
	}
	case APIREQ_PRIVATE_GET:
		rc = users_private_get(c->db, r->uid, &pdata, &plen);
		if (rc == 0 && plen)
			wr_bytes(&r->data, pdata, plen);
		done_rc(r, rc);
		return;
	case APIREQ_PRIVATE_SET:
		done_rc(r, users_private_set(c->db, r->uid, a->u.priv.p, a->u.priv.len));
		return;
	case APIREQ_ADDRESS_ADD_NORMAL:
		done_rc(r, users_addr_add_normal(c->db, r->uid, a->u.addr.hash));
		return;
	case APIREQ_ADDRESS_ADD_SHIELD:
		rc = users_addr_add_shield(c->db, r->uid, c->shield_key, addr, hash);
		if (rc == 0) {
			wr_bytes(&r->data, hash, sizeof(hash));
			wr_bytes(&r->data, addr, sizeof(addr));
		}
		sodium_memzero(addr, sizeof(addr));
		done_rc(r, rc);
		return;
	case APIREQ_ADDRESS_DELETE:
		done_rc(r, users_addr_delete(c->db, r->uid, a->u.addr.hash,
		                             a->u.addr.kind == APIREQ_KIND_SHIELD));
		return;
	case APIREQ_ADDRESS_SET_FLAGS:
		done_rc(r, users_addr_set_flags(c->db, r->uid, a->u.addr.hash,
		                                a->u.addr.kind == APIREQ_KIND_SHIELD, a->u.addr.flags));
		return;
	case APIREQ_MSG_BROWSE:
		le16_store(sto, r->uid);
		sto[2] = a->u.browse.flags;
		sto[3] = 0;
		le32_store(sto + 4, a->u.browse.from_id);
		le32_store(sto + 8, a->u.browse.max_bytes);
		le32_store(sto + 12, a->u.browse.max_count);
		forward(r, STO_BROWSE, sto, 16);
		return;
	case APIREQ_MSG_DELETE:
		le16_store(sto, r->uid);
		le32_store(sto + 2, a->u.del.id);
		forward(r, STO_DELETE, sto, 6);
		return;
	case APIREQ_MSG_EMPTY:
		le16_store(sto, r->uid);
		forward(r, STO_EMPTY, sto, 2);
		return;
	case APIREQ_MSG_UPLOAD:
		cmd_upload(r, now_ms);
		return;
	case APIREQ_MSG_SEND_INTERNAL:
		cmd_send_check(r);
		return;
	case APIREQ_ADMIN_LIST_USERS:
		cmd_list_users(c, r);
		return;
	case APIREQ_ADMIN_SET_LEVEL:
		rc = users_set_level(c->db, a->u.user.uid, a->u.user.level);
		done_rc(r, rc);
		if (rc == 0)
			r->sto_changed_uid = a->u.user.uid;
		return;
	case APIREQ_ADMIN_SET_LIMITS: {
		struct users_limits l = { .storage_mib = a->u.limits.storage_mib,
			                      .max_normal = a->u.limits.max_normal,
			                      .max_shield = a->u.limits.max_shield };
		rc = users_set_limits(c->db, a->u.limits.level, &l);
		done_rc(r, rc);
		if (rc == 0)
			r->sto_changed_level = a->u.limits.level;
		return;
	}
	case APIREQ_ADMIN_INVITE: {
		uint8_t invite[APIREQ_INVITE_BYTES];
		uint64_t expires = now_ms + (uint64_t)a->u.invite.lifetime_s * 1000;
		rc = invites_create(c->inv, a->u.invite.level, 0, expires, now_ms, invite);
		if (rc == 0) {
			wr_bytes(&r->data, invite, sizeof(invite));
			wr_u64(&r->data, expires);
		}
		sodium_memzero(invite, sizeof(invite));
		done_rc(r, rc);
		return;
	}
	default:
		fatalx("api: command %u passed the decoder", a->cmd);
	}
}

void api_send_finish(struct api_ctx *c, struct api_result *r, int hash_rc,
                     const uint8_t from_hash[ADDRHASH_BYTES],
                     const uint8_t to_hash[ADDRHASH_BYTES], uint64_t now_ms)
{
	const struct apireq_args *a = &r->args;
	const struct users_user *u = users_get(c->db, r->uid);
	uint16_t owner, rcpt;
	uint8_t flags;

	r->next = API_DONE;
	if (a->cmd != APIREQ_MSG_SEND_INTERNAL)
		fatalx("api_send_finish: not an internal message");
	if (hash_rc < 0) {
		fail(r, CHST_TEMPFAIL);
		return;
	}
	if (!u) { /* deleted while its hashes were computed */
		fail(r, CHST_NOT_FOUND);
		return;
	}
	bool from_shield = addr32_classify(a->u.send.from) == ADDR32_SHIELD;
	bool to_shield = addr32_classify(a->u.send.to) == ADDR32_SHIELD;
	if (users_lookup_hash(c->db, from_hash, from_shield, &owner, &flags) < 0 || owner != r->uid) {
		fail(r, CHST_NOT_OWNER);
		return;
	}
	if (users_lookup_hash(c->db, to_hash, to_shield, &rcpt, &flags) < 0) {
		fail(r, CHST_NOT_FOUND);
		return;
	}
	if (rcpt == r->uid) {
		fail(r, CHST_SELF);
		return;
	}
	if (!(flags & ACCOUNT_FLAG_ACCINT) && !is_admin(u)) {
		fail(r, CHST_DECLINED);
		return;
	}
	struct msg_int m = {
		.ts = now_ms,
		.kind = MSG_INT_USER,
		.flags = is_admin(u) ? MSG_INT_F_ADMIN : 0,
		.subject = a->u.send.subject,
		.body = a->u.send.body,
	};
	memcpy(m.from, a->u.send.from, ADDR32_BYTES);
	memcpy(m.to, a->u.send.to, ADDR32_BYTES);
	if (msg_int_encode(&r->data, &m) < 0) {
		fail(r, CHST_INVALID);
		return;
	}
	forward_store(r, rcpt);
}

/* ---- authentication ---- */

static void handle_register(struct api_ctx *c, const struct apireq_chan_req *rq, uint64_t now_ms,
                            struct api_result *r)
{
	struct invite in;
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES];
	uint16_t wanted, uid;

	if (invites_find(c->inv, rq->body, now_ms, &in) < 0 ||
	    apireq_register_open(in.key, rq->ts, rq->uid, rq->body, rq->body_len, &wanted, uak, epk) <
	        0) {
		sodium_memzero(&in, sizeof(in));
		fail_unauth(r, CHST_AUTH);
		return;
	}
	/* From here on the client holds the invitation: answer encrypted. */
	apireq_keys(NULL, r->ans.key, in.key, rq->ts, rq->uid);
	bool master = in.flags & INVITE_F_MASTER;
	int rc = 0;
	uid = wanted;
	if (master) {
		if (wanted != ACCOUNT_MASTER_UID && wanted != ACCOUNT_UID_ANY)
			rc = -EINVAL;
		uid = ACCOUNT_MASTER_UID;
	} else if (wanted == ACCOUNT_MASTER_UID) {
		rc = -EPERM;
	}
	if (rc == 0 && uid != ACCOUNT_UID_ANY && users_get(c->db, uid))
		rc = -EEXIST;
	/* Consumed before the user exists: a crash in between loses the
	 * invitation rather than letting it register twice. */
	if (rc == 0)
		rc = invites_remove(c->inv, in.id);
	if (rc == 0) {
		/* The registration's own timestamp (inside the window, checked) is the
		 * user's last request: with the server's clock, a client whose clock
		 * is a little behind it would find its next requests refused as
		 * replays. */
		rc = users_create(c->db, uid, in.level, uak, epk, rq->ts, &uid);
		if (rc < 0 && invites_put(c->inv, &in) < 0)
			log_warn("account: an invitation could not be restored after a failed registration");
	}
	if (rc == 0) {
		wr_u16(&r->data, uid);
		wr_u8(&r->data, in.level);
		r->uid = uid;
		r->sto_create_uid = uid;
		r->bootstrap_used = master;
		ok(r);
	} else {
		fail(r, api_status_of(rc));
	}
	sodium_memzero(&in, sizeof(in));
	sodium_memzero(uak, sizeof(uak));
	sodium_memzero(epk, sizeof(epk));
}

static void handle_user(struct api_ctx *c, const struct apireq_chan_req *rq, uint64_t now_ms,
                        struct api_result *r)
{
	static const uint8_t no_key[ACCOUNT_UAK_BYTES]; /* unknown users: the same work */
	const struct users_user *u = users_get(c->db, rq->uid);
	size_t cap = rq->body_len - APIREQ_OVERHEAD;

	r->plain = xmalloc(cap);
	int rc = apireq_open(r->plain, cap, &r->plain_len, u ? u->uak : no_key, rq->ts, rq->uid,
	                     rq->body, rq->body_len);
	if (rc < 0 || !u) {
		r->plain_len = cap;
		fail_unauth(r, CHST_AUTH);
		return;
	}
	rc = users_check_and_update_time(c->db, rq->uid, rq->ts, now_ms, c->window_ms);
	if (rc < 0) {
		fail_unauth(r, rc == -EALREADY ? CHST_REPLAY : rc == -ERANGE ? CHST_TIME : CHST_AUTH);
		return;
	}
	apireq_keys(NULL, r->ans.key, u->uak, rq->ts, rq->uid);
	r->uid = rq->uid;
	r->ans.cmd = r->plain[0];
	if (apireq_args_decode(&r->args, r->plain, r->plain_len) < 0) {
		fail(r, CHST_INVALID);
		return;
	}
	run_command(c, r, now_ms);
}

void api_handle(struct api_ctx *c, const struct apireq_chan_req *rq, uint64_t now_ms,
                struct api_result *r)
{
	r->ts = rq->ts;
	r->ans.cmd = 0;
	uint64_t diff = rq->ts > now_ms ? rq->ts - now_ms : now_ms - rq->ts;
	if (diff > c->window_ms) {
		fail_unauth(r, CHST_TIME);
		return;
	}
	if (rq->kind == APIREQ_KIND_REGISTER)
		handle_register(c, rq, now_ms, r);
	else
		handle_user(c, rq, now_ms, r);
}
