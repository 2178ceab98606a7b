/* test_account_api.c: Account's API request handling (src/account/api.c)
 * against an in-memory users database and invitation list: the order of the
 * authentication checks and that failures change nothing, every command with
 * its errors, admin against non-admin, the Storage calls forwarded commands
 * turn into, internal messages, and registration with invitations. */
#include <errno.h>
#include <string.h>

#include "account/api.h"
#include "check.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/message.h"

#define NOW 1767225600000ull
#define WINDOW 30000

static struct users_settings settings;
static const struct addrhash_params fast = { .opslimit = 1, .memlimit_kib = 8192 };
static uint8_t salt[ADDRHASH_SALT_BYTES];
static uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES];
static uint8_t invite_key_base[INVITES_KEY_BYTES];

struct env {
	struct api_ctx c;
	struct users *db;
	struct invites *inv;
	uint64_t clock;
	int store_fail; /* the users store returns this */
};

static int st_user(void *ctx, const struct users_user *u)
{
	(void)u;
	return ((struct env *)ctx)->store_fail;
}
static int st_del(void *ctx, uint16_t uid)
{
	(void)uid;
	return ((struct env *)ctx)->store_fail;
}
static int st_set(void *ctx, const struct users_settings *s)
{
	(void)s;
	return ((struct env *)ctx)->store_fail;
}

static void uak_of(uint8_t uak[32], uint16_t uid)
{
	memset(uak, 0x5A, 32);
	le16_store(uak, uid);
}

static void env_new(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->db = users_new(&settings);
	struct users_store st = { e, st_user, st_del, st_set };
	users_set_store(e->db, &st);
	if (invites_open(NULL, invite_key_base, &e->inv) != 0)
		abort();
	e->c = (struct api_ctx){ .db = e->db, .inv = e->inv, .salt = salt,
		                     .shield_key = shield_key, .window_ms = WINDOW };
	e->clock = NOW;
}

static void env_free(struct env *e)
{
	users_free(e->db);
	invites_close(e->inv);
}

static void mkuser(struct env *e, uint16_t uid, uint8_t level)
{
	uint8_t uak[32], epk[32];
	uak_of(uak, uid);
	memset(epk, 0xE0 ^ uid, 32);
	uint16_t got;
	if (users_create(e->db, uid, level, uak, epk, NOW - 100000, &got) != 0)
		abort();
	/* As after loading: requests must be newer than this. */
	if (users_check_and_update_time(e->db, uid, NOW - 20000, NOW, WINDOW) != 0)
		abort();
}

/* Seals and handles one request at time ts (now = e->clock). */
static void req_at(struct env *e, uint16_t uid, uint64_t ts, const uint8_t *uak, uint8_t cmd,
                   const uint8_t *args, size_t n, struct api_result *r)
{
	size_t blen = apireq_body_len(n);
	uint8_t *body = xmalloc(blen);
	if (apireq_seal(body, blen, uak, ts, uid, cmd, 0, args, n) != 0)
		abort();
	struct apireq_chan_req rq = { .ts = ts, .uid = uid, .kind = APIREQ_KIND_USER, .body = body,
		                          .body_len = blen };
	api_result_init(r);
	api_handle(&e->c, &rq, e->clock, r);
	free(body);
}

static void req(struct env *e, uint16_t uid, uint8_t cmd, const uint8_t *args, size_t n,
                struct api_result *r)
{
	uint8_t uak[32];
	uak_of(uak, uid);
	e->clock += 1;
	req_at(e, uid, e->clock, uak, cmd, args, n, r);
}

/* Status of a request; the result is released. */
static uint8_t run(struct env *e, uint16_t uid, uint8_t cmd, const uint8_t *args, size_t n)
{
	struct api_result r;
	req(e, uid, cmd, args, n, &r);
	uint8_t st = r.ans.status;
	api_result_free(&r);
	return st;
}

static void normal_hash(uint8_t h[8], const char *name)
{
	uint8_t a[ADDR32_BYTES];
	if (addr32_parse(name, strlen(name), a) != ADDR32_NORMAL ||
	    addrhash_normal(h, a, salt, &fast) != 0)
		abort();
}

static bool key_is(const struct api_result *r, uint16_t uid, uint64_t ts)
{
	uint8_t uak[32], ks[32];
	uak_of(uak, uid);
	apireq_keys(NULL, ks, uak, ts, uid);
	return memcmp(r->ans.key, ks, 32) == 0;
}

/* ---- authentication and time ---- */

static void auth_unknown_user(void)
{
	struct env e;
	struct api_result r;
	uint8_t uak[32];
	env_new(&e);
	uak_of(uak, 9);
	req_at(&e, 9, NOW, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_AUTH && r.ans.cmd == 0 && sodium_is_zero(r.ans.key, 32) &&
	      r.data.len == 0 && r.plain == NULL);
	api_result_free(&r);
	/* The all-zero "no key" does not open the door for unknown users either. */
	memset(uak, 0, 32);
	req_at(&e, 9, NOW, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_AUTH);
	api_result_free(&r);
	env_free(&e);
}

static void auth_bad_tag_changes_nothing(void)
{
	struct env e;
	struct api_result r;
	uint8_t uak[32], body[42];
	env_new(&e);
	mkuser(&e, 1, 0);
	uak_of(uak, 1);
	CHECK(apireq_seal(body, 42, uak, NOW, 1, APIREQ_ACCOUNT_INFO, 0, NULL, 0) == 0);
	body[30] ^= 1;
	struct apireq_chan_req rq = { .ts = NOW, .uid = 1, .kind = 0, .body = body, .body_len = 42 };
	api_result_init(&r);
	api_handle(&e.c, &rq, NOW, &r);
	CHECK(r.ans.status == CHST_AUTH && sodium_is_zero(r.ans.key, 32));
	api_result_free(&r);
	/* The same timestamp still works: the failure did not move it. */
	req_at(&e, 1, NOW, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && key_is(&r, 1, NOW));
	api_result_free(&r);
	/* Another user's key for this uid. */
	uint8_t other[32];
	uak_of(other, 2);
	req_at(&e, 1, NOW + 1, other, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_AUTH);
	api_result_free(&r);
	env_free(&e);
}

static void time_window(void)
{
	struct env e;
	struct api_result r;
	uint8_t uak[32];
	env_new(&e);
	mkuser(&e, 1, 0);
	uak_of(uak, 1);
	req_at(&e, 1, NOW - WINDOW - 1, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_TIME && sodium_is_zero(r.ans.key, 32));
	api_result_free(&r);
	req_at(&e, 1, NOW + WINDOW + 1, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_TIME);
	api_result_free(&r);
	req_at(&e, 1, NOW + WINDOW, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK);
	api_result_free(&r);
	/* The window is checked first: a bad tag out of the window says TIME. */
	uint8_t wrong[32] = { 1 };
	req_at(&e, 1, NOW - 2 * WINDOW, wrong, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_TIME);
	api_result_free(&r);
	/* An unknown user out of the window: TIME too (no user lookup needed). */
	req_at(&e, 77, NOW - 2 * WINDOW, wrong, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_TIME);
	api_result_free(&r);
	env_free(&e);
}

static void replay(void)
{
	struct env e;
	struct api_result r;
	uint8_t uak[32];
	env_new(&e);
	mkuser(&e, 1, 0);
	uak_of(uak, 1);
	req_at(&e, 1, NOW, uak, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK);
	api_result_free(&r);
	req_at(&e, 1, NOW, uak, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_REPLAY && sodium_is_zero(r.ans.key, 32) && r.ans.cmd == 0);
	api_result_free(&r);
	req_at(&e, 1, NOW - 1, uak, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_REPLAY);
	api_result_free(&r);
	/* A forged request with a replayed timestamp is AUTH: the tag comes first. */
	uint8_t wrong[32] = { 1 };
	req_at(&e, 1, NOW, wrong, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_AUTH);
	api_result_free(&r);
	/* A timestamp from before the last load (mkuser set NOW - 20000). */
	req_at(&e, 1, NOW - 25000, uak, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_REPLAY);
	api_result_free(&r);
	req_at(&e, 1, NOW + 1, uak, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK);
	api_result_free(&r);
	env_free(&e);
}

static void bad_arguments_after_auth(void)
{
	struct env e;
	struct api_result r;
	uint8_t uak[32];
	env_new(&e);
	mkuser(&e, 1, 0);
	uak_of(uak, 1);
	uint8_t extra = 0;
	req_at(&e, 1, NOW, uak, APIREQ_ACCOUNT_INFO, &extra, 1, &r);
	CHECK(r.ans.status == CHST_INVALID && r.ans.cmd == APIREQ_ACCOUNT_INFO &&
	      key_is(&r, 1, NOW) && r.data.len == 0);
	api_result_free(&r);
	/* Authenticated: the timestamp moved. */
	req_at(&e, 1, NOW, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_REPLAY);
	api_result_free(&r);
	req_at(&e, 1, NOW + 1, uak, 99, NULL, 0, &r);
	CHECK(r.ans.status == CHST_INVALID && r.ans.cmd == 99);
	api_result_free(&r);
	env_free(&e);
}

/* ---- account commands ---- */

static void account_info(void)
{
	struct env e;
	struct api_result r;
	uint8_t h[8];
	env_new(&e);
	mkuser(&e, 5, 1);
	normal_hash(h, "carol");
	CHECK(run(&e, 5, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	CHECK(run(&e, 5, APIREQ_PRIVATE_SET, (const uint8_t *)"abc", 3) == CHST_OK);
	req(&e, 5, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.next == API_NEED_USAGE && r.ans.disp == 0);
	CHECK(r.data.len == API_INFO_FIXED_BYTES + 9);
	const uint8_t *p = r.data.p;
	CHECK(le16_load(p) == 5 && p[2] == 1 && p[3] == 1);
	CHECK(le32_load(p + 4) == 1024 && p[8] == 10 && p[9] == 31);
	CHECK(sodium_is_zero(p + 10, 14));
	uint8_t params[8];
	CHECK(addrhash_params_encode(&fast, params) == 0);
	CHECK_MEM(p + 24, params, 8);
	CHECK_MEM(p + 32, salt, 16);
	CHECK(le16_load(p + 48) == 3 && le16_load(p + 50) == 0);
	CHECK_MEM(p + 52, h, 8);
	CHECK(p[60] == ACCOUNT_FLAGS_NEW);
	api_set_usage(&r, true, 123456789012ull, 77);
	CHECK(r.next == API_DONE && p[10] == 1 && p[11] == 0 && le64_load(p + 12) == 123456789012ull &&
	      le32_load(p + 20) == 77);
	api_set_usage(&r, false, 5, 5);
	CHECK(sodium_is_zero(p + 10, 14));
	api_result_free(&r);
	env_free(&e);
}

static void account_delete(void)
{
	struct env e;
	struct api_result r;
	env_new(&e);
	mkuser(&e, 0, 3);
	mkuser(&e, 4, 0);
	req(&e, 0, APIREQ_ACCOUNT_DELETE, NULL, 0, &r);
	CHECK(r.ans.status == CHST_FORBIDDEN && r.sto_remove_uid == -1 && users_get(e.db, 0));
	api_result_free(&r);
	e.store_fail = -EIO;
	req(&e, 4, APIREQ_ACCOUNT_DELETE, NULL, 0, &r);
	CHECK(r.ans.status == CHST_INTERNAL && r.sto_remove_uid == -1 && users_get(e.db, 4));
	api_result_free(&r);
	e.store_fail = 0;
	req(&e, 4, APIREQ_ACCOUNT_DELETE, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.sto_remove_uid == 4 && !users_get(e.db, 4));
	api_result_free(&r);
	CHECK(run(&e, 4, APIREQ_ACCOUNT_INFO, NULL, 0) == CHST_AUTH);
	env_free(&e);
}

static void private_field(void)
{
	struct env e;
	struct api_result r;
	static uint8_t big[ACCOUNT_PRIVATE_MAX + 1];
	env_new(&e);
	mkuser(&e, 1, 0);
	req(&e, 1, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.data.len == 0);
	api_result_free(&r);
	randombytes_buf(big, sizeof(big));
	CHECK(run(&e, 1, APIREQ_PRIVATE_SET, big, ACCOUNT_PRIVATE_MAX) == CHST_OK);
	req(&e, 1, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.data.len == ACCOUNT_PRIVATE_MAX &&
	      memcmp(r.data.p, big, ACCOUNT_PRIVATE_MAX) == 0);
	api_result_free(&r);
	CHECK(run(&e, 1, APIREQ_PRIVATE_SET, big, sizeof(big)) == CHST_INVALID);
	e.store_fail = -EIO;
	CHECK(run(&e, 1, APIREQ_PRIVATE_SET, big, 5) == CHST_INTERNAL);
	e.store_fail = 0;
	req(&e, 1, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.data.len == ACCOUNT_PRIVATE_MAX); /* unchanged */
	api_result_free(&r);
	CHECK(run(&e, 1, APIREQ_PRIVATE_SET, NULL, 0) == CHST_OK);
	req(&e, 1, APIREQ_PRIVATE_GET, NULL, 0, &r);
	CHECK(r.data.len == 0);
	api_result_free(&r);
	env_free(&e);
}

static void addresses_normal(void)
{
	struct env e;
	uint8_t h[8], args[10];
	env_new(&e);
	mkuser(&e, 0, 3);
	mkuser(&e, 1, 0);
	normal_hash(h, "alice");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_EXISTS);
	CHECK(run(&e, 0, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_EXISTS);
	/* Reserved names: "in use" for users, allowed for the admin. */
	normal_hash(h, "postmaster");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_EXISTS);
	CHECK(run(&e, 0, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	/* "system" is nobody's. */
	CHECK(run(&e, 0, APIREQ_ADDRESS_ADD_NORMAL, settings.system_hash, 8) == CHST_FORBIDDEN);
	/* Level 0 holds 3 normal addresses. */
	normal_hash(h, "b1");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	normal_hash(h, "b2");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	normal_hash(h, "b3");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_LIMIT);
	/* Flags and deletion, by (hash, kind). */
	normal_hash(h, "b2");
	memcpy(args, h, 8);
	args[8] = APIREQ_KIND_NORMAL;
	args[9] = ACCOUNT_FLAG_ACCINT | ACCOUNT_FLAG_REQUIRE_TLS;
	CHECK(run(&e, 1, APIREQ_ADDRESS_SET_FLAGS, args, 10) == CHST_OK);
	uint16_t uid;
	uint8_t flags;
	CHECK(users_lookup_hash(e.db, h, false, &uid, &flags) == 0 && uid == 1 &&
	      flags == (ACCOUNT_FLAG_ACCINT | ACCOUNT_FLAG_REQUIRE_TLS));
	args[8] = APIREQ_KIND_SHIELD;
	CHECK(run(&e, 1, APIREQ_ADDRESS_SET_FLAGS, args, 10) == CHST_NOT_FOUND);
	CHECK(run(&e, 1, APIREQ_ADDRESS_DELETE, args, 9) == CHST_NOT_FOUND);
	args[9] = 0x40;
	CHECK(run(&e, 1, APIREQ_ADDRESS_SET_FLAGS, args, 10) == CHST_INVALID);
	args[8] = APIREQ_KIND_NORMAL;
	CHECK(run(&e, 0, APIREQ_ADDRESS_DELETE, args, 9) == CHST_NOT_FOUND); /* not the admin's */
	e.store_fail = -EIO;
	CHECK(run(&e, 1, APIREQ_ADDRESS_DELETE, args, 9) == CHST_INTERNAL);
	e.store_fail = 0;
	CHECK(run(&e, 1, APIREQ_ADDRESS_DELETE, args, 9) == CHST_OK);
	CHECK(users_lookup_hash(e.db, h, false, &uid, &flags) == -ENOENT);
	CHECK(run(&e, 1, APIREQ_ADDRESS_DELETE, args, 9) == CHST_NOT_FOUND);
	env_free(&e);
}

static void addresses_shield(void)
{
	struct env e;
	struct api_result r;
	env_new(&e);
	mkuser(&e, 1, 0);
	req(&e, 1, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.data.len == 18);
	uint8_t h[8];
	addrhash_shield(h, r.data.p + 8, shield_key);
	CHECK(memcmp(h, r.data.p, 8) == 0 && addr32_classify(r.data.p + 8) == ADDR32_SHIELD);
	uint16_t uid;
	uint8_t flags;
	CHECK(users_lookup_hash(e.db, h, true, &uid, &flags) == 0 && uid == 1 &&
	      (flags & ACCOUNT_FLAG_SHIELD));
	api_result_free(&r);
	for (int i = 1; i < 10; i++)
		CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0) == CHST_OK);
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0) == CHST_LIMIT);
	uint8_t args[9];
	memcpy(args, h, 8);
	args[8] = APIREQ_KIND_SHIELD;
	CHECK(run(&e, 1, APIREQ_ADDRESS_DELETE, args, 9) == CHST_OK);
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0) == CHST_OK);
	env_free(&e);
}

/* ---- forwarded commands ---- */

static void forwarded(void)
{
	struct env e;
	struct api_result r;
	env_new(&e);
	mkuser(&e, 0x123, 0);
	uint8_t b[14] = { 3, 0, 0x10, 0, 0, 0, 0, 0, 1, 0, 0x20, 0, 0, 0 };
	req(&e, 0x123, APIREQ_MSG_BROWSE, b, 14, &r);
	uint8_t want_b[16] = { 0x23, 0x01, 3, 0, 0x10, 0, 0, 0, 0, 0, 1, 0, 0x20, 0, 0, 0 };
	CHECK(r.ans.status == CHST_OK && r.ans.disp == APIREQ_DISP_FORWARD &&
	      r.ans.sto_type == STO_BROWSE && r.ans.sto_args_len == 16 &&
	      memcmp(r.ans.sto_args, want_b, 16) == 0 && r.data.len == 0);
	api_result_free(&r);
	uint8_t d[4] = { 0x78, 0x56, 0x34, 0x12 };
	req(&e, 0x123, APIREQ_MSG_DELETE, d, 4, &r);
	uint8_t want_d[6] = { 0x23, 0x01, 0x78, 0x56, 0x34, 0x12 };
	CHECK(r.ans.status == CHST_OK && r.ans.sto_type == STO_DELETE && r.ans.sto_args_len == 6 &&
	      memcmp(r.ans.sto_args, want_d, 6) == 0);
	api_result_free(&r);
	req(&e, 0x123, APIREQ_MSG_EMPTY, NULL, 0, &r);
	CHECK(r.ans.status == CHST_OK && r.ans.sto_type == STO_EMPTY && r.ans.sto_args_len == 2 &&
	      r.ans.sto_args[0] == 0x23 && r.ans.sto_args[1] == 0x01);
	api_result_free(&r);
	/* Upload: an UplMsg of kind 0, stored for the sender. */
	uint8_t up[] = { 5, 'a', '.', 'b', 'i', 'n', 0xDE, 0xAD };
	e.clock += 1000;
	req(&e, 0x123, APIREQ_MSG_UPLOAD, up, sizeof(up), &r);
	CHECK(r.ans.status == CHST_OK && r.ans.sto_type == STO_STORE && r.ans.sto_args_len == 4 &&
	      le16_load(r.ans.sto_args) == 0x123 && r.ans.sto_args[2] == 0 && r.ans.sto_args[3] == 0);
	struct msg_upl m;
	CHECK(msg_upl_decode(&m, r.data.p, r.data.len) == 0 && m.kind == MSG_UPL_USER &&
	      m.parent == 0 && m.ts == e.clock && m.media_type.len == 0 && m.name.len == 5 &&
	      memcmp(m.name.p, "a.bin", 5) == 0 && m.data.len == 2 && m.data.p[0] == 0xDE);
	api_result_free(&r);
	uint8_t bad1[] = { 1, '/', 0 };
	CHECK(run(&e, 0x123, APIREQ_MSG_UPLOAD, bad1, sizeof(bad1)) == CHST_INVALID);
	uint8_t bad2[] = { 2, '.', '.' };
	CHECK(run(&e, 0x123, APIREQ_MSG_UPLOAD, bad2, sizeof(bad2)) == CHST_INVALID);
	uint8_t bad3[] = { 1, '\n' };
	CHECK(run(&e, 0x123, APIREQ_MSG_UPLOAD, bad3, sizeof(bad3)) == CHST_INVALID);
	env_free(&e);
}

/* ---- internal messages ---- */

static size_t send_args(uint8_t *out, const char *from, const char *to, const char *subj,
                        const uint8_t *body, size_t blen)
{
	size_t n = 0;
	if (addr32_parse(from, strlen(from), out) == ADDR32_INVALID ||
	    addr32_parse(to, strlen(to), out + 10) == ADDR32_INVALID)
		abort();
	n = 20;
	out[n++] = (uint8_t)strlen(subj);
	memcpy(out + n, subj, strlen(subj));
	n += strlen(subj);
	le32_store(out + n, (uint32_t)blen);
	n += 4;
	memcpy(out + n, body, blen);
	return n + blen;
}

/* Runs MSG_SEND_INTERNAL to the end, computing the hashes as main.c would. */
static void send_full(struct env *e, uint16_t uid, const uint8_t *args, size_t n,
                      struct api_result *r)
{
	req(e, uid, APIREQ_MSG_SEND_INTERNAL, args, n, r);
	if (r->next != API_NEED_HASHES)
		return;
	uint8_t hf[8], ht[8];
	const uint8_t *from = r->args.u.send.from, *to = r->args.u.send.to;
	if (addr32_classify(from) == ADDR32_SHIELD)
		addrhash_shield(hf, from, shield_key);
	else if (addrhash_normal(hf, from, salt, &fast) != 0)
		abort();
	if (addr32_classify(to) == ADDR32_SHIELD)
		addrhash_shield(ht, to, shield_key);
	else if (addrhash_normal(ht, to, salt, &fast) != 0)
		abort();
	api_send_finish(&e->c, r, 0, hf, ht, e->clock);
}

static void internal_messages(void)
{
	struct env e;
	struct api_result r;
	uint8_t h[8], args[512];
	size_t n;
	env_new(&e);
	mkuser(&e, 0, 3);
	mkuser(&e, 1, 0);
	mkuser(&e, 2, 0);
	normal_hash(h, "admin");
	CHECK(run(&e, 0, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	normal_hash(h, "alice");
	CHECK(run(&e, 1, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	normal_hash(h, "bob");
	CHECK(run(&e, 2, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	/* bob accepts internal mail, alice and admin do not (the default). */
	uint8_t fl[10];
	memcpy(fl, h, 8);
	fl[8] = 0;
	fl[9] = ACCOUNT_FLAG_ACCINT | ACCOUNT_FLAG_ACCEXT;
	CHECK(run(&e, 2, APIREQ_ADDRESS_SET_FLAGS, fl, 10) == CHST_OK);
	const uint8_t body[] = "hello \x16world\x16";

	n = send_args(args, "alice", "bob", "hi", body, sizeof(body) - 1);
	send_full(&e, 1, args, n, &r);
	CHECK(r.ans.status == CHST_OK && r.ans.disp == APIREQ_DISP_FORWARD &&
	      r.ans.sto_type == STO_STORE && le16_load(r.ans.sto_args) == 2 && r.next == API_DONE);
	struct msg_int m;
	CHECK(msg_int_decode(&m, r.data.p, r.data.len) == 0 && m.kind == MSG_INT_USER &&
	      m.flags == 0 && m.ts == e.clock && memcmp(m.from, args, 10) == 0 &&
	      memcmp(m.to, args + 10, 10) == 0 && m.subject.len == 2 &&
	      m.body.len == sizeof(body) - 1);
	api_result_free(&r);
	/* Errors, each in its own way. */
	n = send_args(args, "bob", "alice", "x", body, 1);
	send_full(&e, 1, args, n, &r);
	CHECK(r.ans.status == CHST_NOT_OWNER && r.data.len == 0);
	api_result_free(&r);
	n = send_args(args, "alice", "nobody", "x", body, 1);
	send_full(&e, 1, args, n, &r);
	CHECK(r.ans.status == CHST_NOT_FOUND);
	api_result_free(&r);
	n = send_args(args, "bob", "admin", "x", body, 1);
	send_full(&e, 2, args, n, &r);
	CHECK(r.ans.status == CHST_DECLINED);
	api_result_free(&r);
	n = send_args(args, "bob", "bob", "x", body, 1);
	send_full(&e, 2, args, n, &r);
	CHECK(r.ans.status == CHST_SELF);
	api_result_free(&r);
	/* The admin reaches addresses without ACCINT, and the message says ADMIN. */
	n = send_args(args, "admin", "alice", "x", body, 1);
	send_full(&e, 0, args, n, &r);
	CHECK(r.ans.status == CHST_OK && le16_load(r.ans.sto_args) == 1);
	CHECK(msg_int_decode(&m, r.data.p, r.data.len) == 0 && m.flags == MSG_INT_F_ADMIN);
	api_result_free(&r);
	/* Content is checked before any hash is computed. */
	n = send_args(args, "alice", "bob", "a\tb", body, 1);
	req(&e, 1, APIREQ_MSG_SEND_INTERNAL, args, n, &r);
	CHECK(r.ans.status == CHST_INVALID && r.next == API_DONE);
	api_result_free(&r);
	n = send_args(args, "alice", "bob", "x", (const uint8_t *)"\x1b", 1);
	req(&e, 1, APIREQ_MSG_SEND_INTERNAL, args, n, &r);
	CHECK(r.ans.status == CHST_INVALID);
	api_result_free(&r);
	/* A hash that could not be computed. */
	n = send_args(args, "alice", "bob", "x", body, 1);
	req(&e, 1, APIREQ_MSG_SEND_INTERNAL, args, n, &r);
	CHECK(r.next == API_NEED_HASHES);
	api_send_finish(&e.c, &r, -EAGAIN, NULL, NULL, e.clock);
	CHECK(r.ans.status == CHST_TEMPFAIL && r.data.len == 0);
	api_result_free(&r);
	/* A shield recipient. */
	req(&e, 2, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0, &r);
	uint8_t shield[10];
	memcpy(shield, r.data.p + 8, 10);
	api_result_free(&r);
	n = send_args(args, "admin", "bob", "x", body, 1);
	memcpy(args + 10, shield, 10);
	send_full(&e, 0, args, n, &r);
	CHECK(r.ans.status == CHST_OK && le16_load(r.ans.sto_args) == 2);
	api_result_free(&r);
	env_free(&e);
}

/* ---- admin ---- */

static void admin_only(void)
{
	struct env e;
	env_new(&e);
	mkuser(&e, 1, 2);
	uint8_t lvl[3] = { 1, 0, 3 }, lim[8] = { 0 }, inv[8] = { 0, 0, 0, 0, 60, 0, 0, 0 },
	        del[2] = { 1, 0 };
	CHECK(run(&e, 1, APIREQ_ADMIN_LIST_USERS, NULL, 0) == CHST_DENIED);
	CHECK(run(&e, 1, APIREQ_ADMIN_SET_LEVEL, lvl, 3) == CHST_DENIED);
	CHECK(run(&e, 1, APIREQ_ADMIN_SET_LIMITS, lim, 8) == CHST_DENIED);
	CHECK(run(&e, 1, APIREQ_ADMIN_INVITE, inv, 8) == CHST_DENIED);
	CHECK(run(&e, 1, APIREQ_ADMIN_DELETE_USER, del, 2) == CHST_DENIED);
	CHECK(users_get(e.db, 1)->level == 2 && invites_count(e.inv) == 0 && users_get(e.db, 1));
	env_free(&e);
}

static void admin_commands(void)
{
	struct env e;
	struct api_result r;
	env_new(&e);
	mkuser(&e, 0, 3);
	mkuser(&e, 7, 1);
	mkuser(&e, 300, 0);
	uint8_t h[8];
	normal_hash(h, "x7");
	CHECK(run(&e, 7, APIREQ_ADDRESS_ADD_NORMAL, h, 8) == CHST_OK);
	CHECK(run(&e, 7, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0) == CHST_OK);
	CHECK(run(&e, 7, APIREQ_ADDRESS_ADD_SHIELD, NULL, 0) == CHST_OK);
	req(&e, 0, APIREQ_ADMIN_LIST_USERS, NULL, 0, &r);
	uint8_t want[2 + 15] = { 3, 0, 0, 0, 3, 0, 0, 7, 0, 1, 1, 2, 0x2c, 0x01, 0, 0, 0 };
	CHECK(r.ans.status == CHST_OK && r.data.len == sizeof(want) &&
	      memcmp(r.data.p, want, sizeof(want)) == 0);
	api_result_free(&r);

	uint8_t lvl[3] = { 7, 0, 2 };
	req(&e, 0, APIREQ_ADMIN_SET_LEVEL, lvl, 3, &r);
	CHECK(r.ans.status == CHST_OK && r.sto_changed_uid == 7 && users_get(e.db, 7)->level == 2);
	api_result_free(&r);
	uint8_t lvl0[3] = { 0, 0, 1 };
	CHECK(run(&e, 0, APIREQ_ADMIN_SET_LEVEL, lvl0, 3) == CHST_FORBIDDEN);
	uint8_t lvl9[3] = { 9, 0, 1 };
	CHECK(run(&e, 0, APIREQ_ADMIN_SET_LEVEL, lvl9, 3) == CHST_NOT_FOUND);

	uint8_t lim[8] = { 2, 5, 6, 0, 0x00, 0x10, 0, 0 };
	req(&e, 0, APIREQ_ADMIN_SET_LIMITS, lim, 8, &r);
	const struct users_limits *l = &users_settings(e.db)->limits[2];
	CHECK(r.ans.status == CHST_OK && r.sto_changed_level == 2 && l->storage_mib == 4096 &&
	      l->max_normal == 5 && l->max_shield == 6);
	api_result_free(&r);
	e.store_fail = -EIO;
	lim[1] = 9;
	CHECK(run(&e, 0, APIREQ_ADMIN_SET_LIMITS, lim, 8) == CHST_INTERNAL);
	CHECK(users_settings(e.db)->limits[2].max_normal == 5);
	e.store_fail = 0;

	uint8_t inv[8] = { 1, 0, 0, 0, 0x10, 0x0e, 0, 0 }; /* level 1, 3600 s */
	req(&e, 0, APIREQ_ADMIN_INVITE, inv, 8, &r);
	CHECK(r.ans.status == CHST_OK && r.data.len == 40 &&
	      le64_load(r.data.p + 32) == e.clock + 3600000 && invites_count(e.inv) == 1);
	struct invite found;
	uint8_t id[16];
	apireq_invite_id(id, r.data.p);
	CHECK(invites_find(e.inv, id, e.clock, &found) == 0 && found.level == 1 && found.flags == 0);
	api_result_free(&r);

	uint8_t del[2] = { 0x2c, 0x01 };
	req(&e, 0, APIREQ_ADMIN_DELETE_USER, del, 2, &r);
	CHECK(r.ans.status == CHST_OK && r.sto_remove_uid == 300 && !users_get(e.db, 300));
	api_result_free(&r);
	CHECK(run(&e, 0, APIREQ_ADMIN_DELETE_USER, del, 2) == CHST_NOT_FOUND);
	uint8_t del0[2] = { 0, 0 };
	CHECK(run(&e, 0, APIREQ_ADMIN_DELETE_USER, del0, 2) == CHST_FORBIDDEN);
	env_free(&e);
}

static void invite_limit(void)
{
	struct env e;
	env_new(&e);
	mkuser(&e, 0, 3);
	uint8_t inv[8] = { 0, 0, 0, 0, 60, 0, 0, 0 };
	for (int i = 0; i < INVITES_MAX; i++)
		CHECK(run(&e, 0, APIREQ_ADMIN_INVITE, inv, 8) == CHST_OK);
	CHECK(run(&e, 0, APIREQ_ADMIN_INVITE, inv, 8) == CHST_LIMIT);
	/* Expired invitations make room. */
	e.clock += 61000;
	CHECK(run(&e, 0, APIREQ_ADMIN_INVITE, inv, 8) == CHST_OK);
	CHECK(invites_count(e.inv) == 1);
	env_free(&e);
}

/* ---- registration ---- */

static void reg(struct env *e, const uint8_t invite[32], uint64_t ts, uint16_t wanted,
                const uint8_t uak[32], struct api_result *r)
{
	uint8_t body[APIREQ_REGISTER_BODY_BYTES], epk[32];
	memset(epk, 0x44, 32);
	if (apireq_register_seal(body, invite, ts, APIREQ_UID_REGISTER, wanted, uak, epk) != 0)
		abort();
	struct apireq_chan_req rq = { .ts = ts, .uid = APIREQ_UID_REGISTER,
		                          .kind = APIREQ_KIND_REGISTER, .body = body,
		                          .body_len = sizeof(body) };
	api_result_init(r);
	api_handle(&e->c, &rq, e->clock, r);
}

static void registration(void)
{
	struct env e;
	struct api_result r;
	uint8_t invite[32], uak[32], kinv[32], ks[32];
	env_new(&e);
	mkuser(&e, 0, 3);
	mkuser(&e, 5, 0);
	CHECK(invites_create(e.inv, 2, 0, NOW + 60000, NOW, invite) == 0);
	apireq_invite_key(kinv, invite);
	uak_of(uak, 99);

	/* Unknown invitation, wrong time, tampering: AUTH or TIME, nothing used. */
	uint8_t other[32];
	apireq_invite_new(other);
	reg(&e, other, NOW, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_AUTH && sodium_is_zero(r.ans.key, 32));
	api_result_free(&r);
	reg(&e, invite, NOW - WINDOW - 1, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_TIME);
	api_result_free(&r);
	/* Taken or forbidden UserIDs: encrypted answers, the invitation stays. */
	reg(&e, invite, NOW, 5, uak, &r);
	apireq_keys(NULL, ks, kinv, NOW, APIREQ_UID_REGISTER);
	CHECK(r.ans.status == CHST_EXISTS && memcmp(r.ans.key, ks, 32) == 0 &&
	      invites_count(e.inv) == 1);
	api_result_free(&r);
	reg(&e, invite, NOW, 0, uak, &r);
	CHECK(r.ans.status == CHST_FORBIDDEN && invites_count(e.inv) == 1);
	api_result_free(&r);
	/* The same UAK as another user: refused, the invitation is put back. */
	uint8_t dup[32];
	uak_of(dup, 5);
	reg(&e, invite, NOW, 0xFFFF, dup, &r);
	CHECK(r.ans.status == CHST_EXISTS && invites_count(e.inv) == 1);
	api_result_free(&r);
	/* A failing store: nothing registered, the invitation is back. */
	e.store_fail = -EIO;
	reg(&e, invite, NOW, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_INTERNAL && invites_count(e.inv) == 1 && users_count(e.db) == 2);
	api_result_free(&r);
	e.store_fail = 0;
	/* Success. */
	reg(&e, invite, NOW, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_OK && r.ans.cmd == 0 && r.data.len == 3 &&
	      le16_load(r.data.p) == 1 && r.data.p[2] == 2 && r.sto_create_uid == 1 &&
	      !r.bootstrap_used && memcmp(r.ans.key, ks, 32) == 0);
	api_result_free(&r);
	const struct users_user *u = users_get(e.db, 1);
	CHECK(u && u->level == 2 && memcmp(u->uak, uak, 32) == 0 && invites_count(e.inv) == 0);
	/* Single use. */
	uak_of(uak, 100);
	reg(&e, invite, NOW + 1, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_AUTH);
	api_result_free(&r);
	/* An expired invitation. */
	CHECK(invites_create(e.inv, 0, 0, NOW + 10, NOW, invite) == 0);
	e.clock = NOW + 10;
	reg(&e, invite, NOW + 10, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_AUTH);
	api_result_free(&r);
	/* A wanted UserID. */
	CHECK(invites_create(e.inv, 0, 0, NOW + 60000, NOW, invite) == 0);
	reg(&e, invite, NOW + 10, 4095, uak, &r);
	CHECK(r.ans.status == CHST_OK && le16_load(r.data.p) == 4095 && users_get(e.db, 4095));
	api_result_free(&r);
	env_free(&e);
}

/* A client whose clock is a few seconds behind the server's (inside the
 * window) registers; its next requests are not taken for replays. */
static void registration_clock_behind(void)
{
	struct env e;
	struct api_result r;
	uint8_t invite[32], uak[32];
	env_new(&e);
	mkuser(&e, 0, 3);
	memset(uak, 0x5A, sizeof(uak));
	CHECK(invites_create(e.inv, 1, 0, NOW + 60000, NOW, invite) == 0);
	e.clock = NOW;
	reg(&e, invite, NOW - 5000, 0xFFFF, uak, &r);
	uint16_t uid = r.ans.status == CHST_OK ? le16_load(r.data.p) : 0;
	CHECK(r.ans.status == CHST_OK && uid != 0);
	api_result_free(&r);
	e.clock = NOW + 100;
	req_at(&e, uid, NOW - 4900, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status != CHST_REPLAY && r.ans.status != CHST_AUTH);
	api_result_free(&r);
	/* ... while the registration's own time still counts as its last request. */
	req_at(&e, uid, NOW - 5000, uak, APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	CHECK(r.ans.status == CHST_REPLAY);
	api_result_free(&r);
	env_free(&e);
}

static void registration_master(void)
{
	struct env e;
	struct api_result r;
	uint8_t invite[32], uak[32];
	env_new(&e);
	CHECK(invites_create(e.inv, 3, INVITE_F_MASTER, NOW + 60000, NOW, invite) == 0);
	uak_of(uak, 0);
	reg(&e, invite, NOW, 7, uak, &r);
	CHECK(r.ans.status == CHST_INVALID && invites_count(e.inv) == 1);
	api_result_free(&r);
	reg(&e, invite, NOW, 0xFFFF, uak, &r);
	CHECK(r.ans.status == CHST_OK && le16_load(r.data.p) == 0 && r.data.p[2] == 3 &&
	      r.bootstrap_used && r.sto_create_uid == 0);
	api_result_free(&r);
	CHECK(users_get(e.db, 0) && users_get(e.db, 0)->level == 3 && invites_count(e.inv) == 0);
	/* A second master invitation cannot replace the master admin. */
	CHECK(invites_create(e.inv, 3, INVITE_F_MASTER, NOW + 60000, NOW, invite) == 0);
	uak_of(uak, 1);
	reg(&e, invite, NOW, 0, uak, &r);
	CHECK(r.ans.status == CHST_EXISTS && invites_count(e.inv) == 1);
	api_result_free(&r);
	CHECK(invites_create(e.inv, 2, INVITE_F_MASTER, NOW + 60000, NOW, invite) == -EINVAL);
	env_free(&e);
}

int main(void)
{
	check_init();
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(shield_key, sizeof(shield_key));
	randombytes_buf(invite_key_base, sizeof(invite_key_base));
	if (users_settings_init(&settings, &fast, salt) != 0)
		return 1;
	RUN(auth_unknown_user);
	RUN(auth_bad_tag_changes_nothing);
	RUN(time_window);
	RUN(replay);
	RUN(bad_arguments_after_auth);
	RUN(account_info);
	RUN(account_delete);
	RUN(private_field);
	RUN(addresses_normal);
	RUN(addresses_shield);
	RUN(forwarded);
	RUN(internal_messages);
	RUN(admin_only);
	RUN(admin_commands);
	RUN(invite_limit);
	RUN(registration);
	RUN(registration_clock_behind);
	RUN(registration_master);
	return check_finish();
}
