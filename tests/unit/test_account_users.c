/* test_account_users.c: Account's users in memory: every operation with each
 * of its rules and errors, the address index against a linear-scan model of
 * the original, the MTA answer with its decoys, replay protection, and that a
 * failing store leaves memory unchanged (and is called before memory changes). */
#include <errno.h>
#include <string.h>

#include "account/users.h"
#include "check.h"

static struct users_settings settings; /* made once: eleven Argon2id hashes */
static const struct addrhash_params fast = { .opslimit = 1, .memlimit_kib = 8192 };
static uint8_t salt[ADDRHASH_SALT_BYTES];
static uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES];

/* --- a store that records, checks ordering and can fail --- */

struct fake {
	struct users *db; /* to look at memory from inside the callback */
	int fail;         /* return this when non-zero */
	int saves, deletes, settings_saves;
	int memory_changed_early; /* memory already showed the new state */
	struct users_user last;
};

static int fake_save_user(void *ctx, const struct users_user *u)
{
	struct fake *f = ctx;
	f->saves++;
	const struct users_user *cur = users_get(f->db, u->uid);
	/* The store sees the new state before memory does. */
	if (cur && memcmp(cur, u, sizeof(*u)) == 0)
		f->memory_changed_early++;
	f->last = *u;
	f->last.priv = NULL;
	return f->fail;
}

static int fake_delete_user(void *ctx, uint16_t uid)
{
	struct fake *f = ctx;
	f->deletes++;
	if (!users_get(f->db, uid))
		f->memory_changed_early++;
	return f->fail;
}

static int fake_save_settings(void *ctx, const struct users_settings *s)
{
	struct fake *f = ctx;
	f->settings_saves++;
	if (users_settings(f->db)->version == s->version)
		f->memory_changed_early++;
	return f->fail;
}

static struct users *new_db(struct fake *f)
{
	struct users *db = users_new(&settings);
	if (f) {
		memset(f, 0, sizeof(*f));
		f->db = db;
		struct users_store st = { f, fake_save_user, fake_delete_user, fake_save_settings };
		users_set_store(db, &st);
	}
	return db;
}

static void uak_of(uint8_t uak[ACCOUNT_UAK_BYTES], uint16_t uid)
{
	memset(uak, 0x5A, ACCOUNT_UAK_BYTES);
	uak[0] = (uint8_t)uid;
	uak[1] = (uint8_t)(uid >> 8);
}

static int mk(struct users *db, uint16_t uid, uint8_t level)
{
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES];
	uak_of(uak, uid);
	memset(epk, 0xE0 ^ (uid & 0xFF), sizeof(epk));
	return users_create(db, uid, level, uak, epk, 1000 + uid, NULL);
}

static void hash_of(uint8_t h[ADDRHASH_BYTES], uint32_t n)
{
	memset(h, 0, ADDRHASH_BYTES);
	h[0] = 0xC3;
	h[4] = (uint8_t)n;
	h[5] = (uint8_t)(n >> 8);
	h[6] = (uint8_t)(n >> 16);
}

/* --- cases --- */

static void settings_init_values(void)
{
	CHECK(settings.version == 1);
	CHECK(settings.params.opslimit == 1 && settings.params.memlimit_kib == 8192);
	for (uint8_t l = 0; l < ACCOUNT_LEVELS; l++) {
		struct users_limits d = users_default_limits(l);
		CHECK(memcmp(&settings.limits[l], &d, sizeof(d)) == 0);
	}
	CHECK(settings.limits[0].storage_mib == 256 && settings.limits[0].max_normal == 3 &&
	      settings.limits[0].max_shield == 10);
	CHECK(settings.limits[3].max_normal == 31 && settings.limits[3].max_shield == 31);
	/* Reserved hashes: addrhash_normal of each name, in PROTOCOL.md 2.5 order. */
	static const char *names[] = { "abuse", "admin", "administrator", "help", "hostmaster",
		                           "info",  "postmaster", "security", "support", "webmaster" };
	for (size_t i = 0; i < ACCOUNT_RESERVED_COUNT; i++) {
		uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
		CHECK(addr32_parse(names[i], strlen(names[i]), a) == ADDR32_NORMAL);
		CHECK(addrhash_normal(h, a, salt, &fast) == 0);
		CHECK_MEM(settings.reserved_hash[i], h, ADDRHASH_BYTES);
	}
	/* "system" cannot go through addrhash_normal; recompute by PROTOCOL.md 2.6. */
	uint8_t full[16], sys[ADDRHASH_BYTES];
	CHECK(crypto_pwhash(full, 16, (const char *)addr32_system, ADDR32_BYTES, salt, 1, 8192 * 1024,
	                    crypto_pwhash_ALG_ARGON2ID13) == 0);
	for (int i = 0; i < 8; i++)
		sys[i] = full[i] ^ full[i + 8];
	CHECK_MEM(settings.system_hash, sys, ADDRHASH_BYTES);
	CHECK(!sodium_is_zero(settings.decoy_key, sizeof(settings.decoy_key)));
	CHECK(users_settings_valid(&settings) == 0);

	struct users_settings s2;
	struct addrhash_params bad = { .opslimit = 0, .memlimit_kib = 8192 };
	memset(&s2, 0x77, sizeof(s2));
	CHECK(users_settings_init(&s2, &bad, salt) == -EINVAL);
	CHECK(s2.version == 0x77777777); /* untouched on failure */
	/* Validation of stored settings. */
	s2 = settings;
	s2.version = 0;
	CHECK(users_settings_valid(&s2) == -EINVAL);
	s2 = settings;
	s2.limits[2].max_shield = 32;
	CHECK(users_settings_valid(&s2) == -EINVAL);
	s2 = settings;
	s2.limits[1].storage_mib = ACCOUNT_STORAGE_MIB_MAX + 1;
	CHECK(users_settings_valid(&s2) == -EINVAL);
	s2 = settings;
	s2.params.memlimit_kib = 8193;
	CHECK(users_settings_valid(&s2) == -EINVAL);
}

static void create_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES] = { 1 }, zero[ACCOUNT_UAK_BYTES] = { 0 };
	uint16_t uid = 9999;

	uak_of(uak, 5);
	CHECK(users_create(db, 5, 0, uak, epk, 777, &uid) == 0);
	CHECK(uid == 5 && users_count(db) == 1 && f.saves == 1);
	const struct users_user *u = users_get(db, 5);
	CHECK(u && u->uid == 5 && u->level == 0 && u->created_ms == 777 && u->last_request_ms == 777 &&
	      u->addr_count == 0 && u->priv == NULL && u->priv_len == 0);
	CHECK(u && memcmp(u->uak, uak, sizeof(uak)) == 0 && memcmp(u->epk, epk, sizeof(epk)) == 0);

	uak_of(uak, 6);
	uid = 9999;
	CHECK(users_create(db, 5, 0, uak, epk, 1, &uid) == -EEXIST);
	CHECK(uid == 9999);
	CHECK(users_create(db, 4096, 0, uak, epk, 1, NULL) == -EINVAL);
	CHECK(users_create(db, 6, 4, uak, epk, 1, NULL) == -EINVAL);
	CHECK(users_create(db, 6, 0, zero, epk, 1, NULL) == -EINVAL);
	CHECK(users_create(db, 0, 2, uak, epk, 1, NULL) == -EPERM);
	/* Same UAK as user 5: refused. */
	uak_of(uak, 5);
	CHECK(users_create(db, 6, 0, uak, epk, 1, NULL) == -EEXIST);
	CHECK(users_count(db) == 1 && f.saves == 1);

	/* First free from 1, never 0. */
	uak_of(uak, 100);
	CHECK(users_create(db, ACCOUNT_UID_ANY, 0, uak, epk, 1, &uid) == 0 && uid == 1);
	CHECK(mk(db, 2, 1) == 0);
	uak_of(uak, 101);
	CHECK(users_create(db, ACCOUNT_UID_ANY, 3, uak, epk, 1, &uid) == 0 && uid == 3);
	CHECK(!users_get(db, 0));
	CHECK(mk(db, 0, 3) == 0 && users_get(db, 0)->level == 3);
	CHECK(users_get(db, 4096) == NULL && users_get(db, 7) == NULL);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void full_table(void)
{
	struct users *db = new_db(NULL);
	CHECK(mk(db, 0, 3) == 0);
	for (uint16_t i = 1; i < ACCOUNT_USERS_MAX; i++) {
		uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES] = { 0 };
		uint16_t uid = 0;
		uak_of(uak, i);
		if (users_create(db, ACCOUNT_UID_ANY, 0, uak, epk, 5, &uid) != 0 || uid != i) {
			CHECK(0);
			break;
		}
	}
	CHECK(users_count(db) == ACCOUNT_USERS_MAX);
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES] = { 0 };
	uak_of(uak, 5000);
	CHECK(users_create(db, ACCOUNT_UID_ANY, 0, uak, epk, 5, NULL) == -EDQUOT);
	CHECK(users_delete(db, 4000) == 0);
	uint16_t uid = 0;
	CHECK(users_create(db, ACCOUNT_UID_ANY, 0, uak, epk, 5, &uid) == 0 && uid == 4000);
	users_free(db);
}

static void delete_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t h[ADDRHASH_BYTES];
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 0, 3) == 0 && mk(db, 7, 2) == 0 && mk(db, 8, 2) == 0);
	CHECK(users_delete(db, 0) == -EPERM);
	CHECK(users_delete(db, 4096) == -EINVAL);
	CHECK(users_delete(db, 9) == -ENOENT);
	CHECK(f.deletes == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 7, h) == 0);
	CHECK(users_private_set(db, 7, (const uint8_t *)"abc", 3) == 0);
	CHECK(users_delete(db, 7) == 0 && f.deletes == 1);
	CHECK(!users_get(db, 7) && users_count(db) == 2);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	/* Freed at once: another user takes it. */
	CHECK(users_addr_add_normal(db, 8, h) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 8);
	/* The uid and its UAK are free again. */
	CHECK(mk(db, 7, 0) == 0 && users_get(db, 7)->addr_count == 0 && users_get(db, 7)->priv == NULL);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void set_level_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	CHECK(mk(db, 0, 3) == 0 && mk(db, 1, 0) == 0);
	CHECK(users_set_level(db, 0, 2) == -EPERM);
	CHECK(users_set_level(db, 0, 0) == -EPERM);
	CHECK(users_set_level(db, 0, 3) == 0 && f.saves == 2); /* no change, no write */
	CHECK(users_set_level(db, 1, 4) == -EINVAL);
	CHECK(users_set_level(db, 4096, 1) == -EINVAL);
	CHECK(users_set_level(db, 2, 1) == -ENOENT);
	CHECK(users_set_level(db, 1, 2) == 0 && users_get(db, 1)->level == 2 && f.saves == 3);
	CHECK(f.last.level == 2);
	CHECK(users_set_level(db, 1, 3) == 0 && users_get(db, 1)->level == 3);
	CHECK(users_set_level(db, 1, 0) == 0 && users_get(db, 1)->level == 0);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void set_epk_and_storage_info(void)
{
	struct users *db = new_db(NULL);
	uint8_t epk[ACCOUNT_EPK_BYTES], got[ACCOUNT_EPK_BYTES];
	uint32_t mib = 0;
	CHECK(mk(db, 3, 1) == 0);
	memset(epk, 0x42, sizeof(epk));
	CHECK(users_set_epk(db, 3, epk) == 0);
	CHECK(users_storage_info(db, 3, got, &mib) == 0);
	CHECK_MEM(got, epk, sizeof(epk));
	CHECK(mib == 1024);
	struct users_limits l = { .storage_mib = 5, .max_normal = 1, .max_shield = 1 };
	CHECK(users_set_limits(db, 1, &l) == 0);
	CHECK(users_storage_info(db, 3, got, &mib) == 0 && mib == 5);
	CHECK(users_set_level(db, 3, 0) == 0);
	CHECK(users_storage_info(db, 3, got, &mib) == 0 && mib == 256);
	mib = 99;
	CHECK(users_storage_info(db, 4, got, &mib) == -ENOENT && mib == 99);
	CHECK(users_storage_info(db, 4096, got, &mib) == -EINVAL);
	CHECK(users_set_epk(db, 4, epk) == -ENOENT);
	CHECK(users_set_epk(db, 4096, epk) == -EINVAL);
	users_free(db);
}

static void limits_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	struct users_limits l = { .storage_mib = 10, .max_normal = 1, .max_shield = 0 };
	uint8_t h[ADDRHASH_BYTES], a[ADDR32_BYTES];

	CHECK(users_set_limits(db, 4, &l) == -EINVAL);
	l.max_normal = 32;
	CHECK(users_set_limits(db, 0, &l) == -EINVAL);
	l.max_normal = 1;
	l.storage_mib = ACCOUNT_STORAGE_MIB_MAX + 1;
	CHECK(users_set_limits(db, 0, &l) == -EINVAL);
	CHECK(f.settings_saves == 0);
	l.storage_mib = ACCOUNT_STORAGE_MIB_MAX;
	CHECK(users_set_limits(db, 0, &l) == 0 && f.settings_saves == 1);
	CHECK(users_settings(db)->version == 2 && users_settings(db)->limits[0].max_normal == 1);
	CHECK(users_settings(db)->limits[1].max_normal == 10); /* others unchanged */

	CHECK(mk(db, 1, 0) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	hash_of(h, 2);
	CHECK(users_addr_add_normal(db, 1, h) == -EDQUOT);
	CHECK(users_addr_add_shield(db, 1, shield_key, a, h) == -EDQUOT);
	/* Lowering a limit keeps existing addresses. */
	l.max_normal = 0;
	CHECK(users_set_limits(db, 0, &l) == 0 && users_get(db, 1)->addr_count == 1);
	CHECK(users_settings(db)->version == 3);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void add_normal_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t h[ADDRHASH_BYTES];
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 0, 3) == 0 && mk(db, 1, 0) == 0 && mk(db, 2, 2) == 0 && mk(db, 3, 1) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 4096, h) == -EINVAL);
	CHECK(users_addr_add_normal(db, 9, h) == -ENOENT);
	/* "system": nobody, not even the admin. */
	CHECK(users_addr_add_normal(db, 0, settings.system_hash) == -EPERM);
	CHECK(users_addr_add_normal(db, 1, settings.system_hash) == -EPERM);
	/* Reserved names: admins only. */
	for (size_t i = 0; i < ACCOUNT_RESERVED_COUNT; i++) {
		CHECK(users_addr_add_normal(db, 1, settings.reserved_hash[i]) == -EACCES);
		CHECK(users_addr_add_normal(db, 2, settings.reserved_hash[i]) == -EACCES);
	}
	CHECK(users_addr_add_normal(db, 0, settings.reserved_hash[1]) == 0);
	CHECK(users_addr_add_normal(db, 3, settings.reserved_hash[1]) == -EACCES);
	CHECK(f.saves == 4 + 1);
	/* An ordinary address, with the default flags. */
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 1 &&
	      flags == (ACCOUNT_FLAG_ACCEXT | ACCOUNT_FLAG_ALLVER | ACCOUNT_FLAG_ATTACH));
	CHECK(flags == 14);
	CHECK(users_lookup_hash(db, h, true, &uid, &flags) == -ENOENT);
	/* In use, by anyone, including the owner. */
	CHECK(users_addr_add_normal(db, 1, h) == -EEXIST);
	CHECK(users_addr_add_normal(db, 2, h) == -EEXIST);
	CHECK(users_addr_add_normal(db, 0, settings.reserved_hash[1]) == -EEXIST);
	/* Level 0 default: 3 normal addresses. */
	hash_of(h, 2);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	hash_of(h, 3);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	hash_of(h, 4);
	CHECK(users_addr_add_normal(db, 1, h) == -EDQUOT);
	CHECK(users_get(db, 1)->addr_count == 3);
	/* A limit is checked before "in use", so a full user learns nothing. */
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == -EDQUOT);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void total_cap_31(void)
{
	struct users *db = new_db(NULL);
	uint8_t h[ADDRHASH_BYTES], a[ADDR32_BYTES];
	CHECK(mk(db, 2, 2) == 0); /* level 2: 31 normal and 31 shield allowed */
	for (uint32_t i = 0; i < 20; i++) {
		hash_of(h, 100 + i);
		CHECK(users_addr_add_normal(db, 2, h) == 0);
	}
	for (uint32_t i = 0; i < 11; i++)
		CHECK(users_addr_add_shield(db, 2, shield_key, a, h) == 0);
	CHECK(users_get(db, 2)->addr_count == ACCOUNT_ADDR_MAX);
	hash_of(h, 999);
	CHECK(users_addr_add_normal(db, 2, h) == -EDQUOT);
	CHECK(users_addr_add_shield(db, 2, shield_key, a, h) == -EDQUOT);
	users_free(db);
}

static void add_shield_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES], h2[ADDRHASH_BYTES], prev[ADDR32_BYTES] = { 0 };
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 1, 0) == 0);
	memset(a, 0xEE, sizeof(a));
	CHECK(users_addr_add_shield(db, 9, shield_key, a, h) == -ENOENT);
	CHECK(users_addr_add_shield(db, 4096, shield_key, a, h) == -EINVAL);
	CHECK(a[0] == 0xEE);
	for (int i = 0; i < 10; i++) {
		CHECK(users_addr_add_shield(db, 1, shield_key, a, h) == 0);
		CHECK(addr32_classify(a) == ADDR32_SHIELD);
		CHECK(memcmp(a, prev, sizeof(a)) != 0);
		memcpy(prev, a, sizeof(a));
		addrhash_shield(h2, a, shield_key);
		CHECK_MEM(h, h2, sizeof(h));
		CHECK(users_lookup_hash(db, h, true, &uid, &flags) == 0 && uid == 1 &&
		      flags == (ACCOUNT_FLAGS_NEW | ACCOUNT_FLAG_SHIELD));
		CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	}
	/* Level 0 default: 10 shields. */
	CHECK(users_addr_add_shield(db, 1, shield_key, a, h) == -EDQUOT);
	CHECK(f.saves == 11 && f.memory_changed_early == 0);
	users_free(db);
}

static void same_hash_both_kinds(void)
{
	/* A normal and a shield slot with equal hashes never match each other. */
	struct users *db = new_db(NULL);
	struct users_user u;
	uint8_t h[ADDRHASH_BYTES];
	uint16_t uid;
	uint8_t flags;

	memset(&u, 0, sizeof(u));
	u.uid = 4;
	u.level = 2;
	uak_of(u.uak, 4);
	hash_of(h, 77);
	memcpy(u.addr[0].hash, h, sizeof(h));
	u.addr[0].flags = ACCOUNT_FLAGS_NEW | ACCOUNT_FLAG_SHIELD;
	u.addr_count = 1;
	CHECK(users_insert_loaded(db, &u) == 0);
	CHECK(mk(db, 5, 2) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	CHECK(users_addr_add_normal(db, 5, h) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 5 && !(flags & 0x80));
	CHECK(users_lookup_hash(db, h, true, &uid, &flags) == 0 && uid == 4 && (flags & 0x80));
	CHECK(users_addr_delete(db, 4, h, false) == -ENOENT);
	CHECK(users_addr_delete(db, 4, h, true) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 5);
	users_free(db);
}

static void delete_address(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t h[ADDRHASH_BYTES];
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 1, 2) == 0 && mk(db, 2, 2) == 0);
	for (uint32_t i = 0; i < 5; i++) {
		hash_of(h, i);
		CHECK(users_addr_add_normal(db, 1, h) == 0);
	}
	hash_of(h, 2);
	CHECK(users_addr_delete(db, 4096, h, false) == -EINVAL);
	CHECK(users_addr_delete(db, 3, h, false) == -ENOENT);
	CHECK(users_addr_delete(db, 2, h, false) == -ENOENT); /* not this user's */
	CHECK(users_addr_delete(db, 1, h, true) == -ENOENT);  /* not a shield */
	int saves = f.saves;
	CHECK(users_addr_delete(db, 1, h, false) == 0 && f.saves == saves + 1);
	const struct users_user *u = users_get(db, 1);
	CHECK(u->addr_count == 4);
	/* The rest keep their order. */
	uint32_t want[4] = { 0, 1, 3, 4 };
	for (int i = 0; i < 4; i++) {
		uint8_t w[ADDRHASH_BYTES];
		hash_of(w, want[i]);
		CHECK_MEM(u->addr[i].hash, w, ADDRHASH_BYTES);
	}
	CHECK(sodium_is_zero((const uint8_t *)&u->addr[4], sizeof(u->addr[4])));
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	CHECK(users_addr_delete(db, 1, h, false) == -ENOENT);
	CHECK(users_addr_add_normal(db, 2, h) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 2);
	/* Deleting an address using a pointer into the user's own slot. */
	CHECK(users_addr_delete(db, 1, users_get(db, 1)->addr[0].hash, false) == 0);
	hash_of(h, 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void set_flags_rules(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t h[ADDRHASH_BYTES], sh[ADDRHASH_BYTES], a[ADDR32_BYTES];
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 1, 1) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	CHECK(users_addr_add_shield(db, 1, shield_key, a, sh) == 0);
	CHECK(users_addr_set_flags(db, 1, h, false, 0x40) == -EINVAL);
	CHECK(users_addr_set_flags(db, 1, h, false, 0x41) == -EINVAL);
	CHECK(users_addr_set_flags(db, 1, h, true, 0x01) == -ENOENT);
	CHECK(users_addr_set_flags(db, 2, h, false, 0x01) == -ENOENT);
	CHECK(users_addr_set_flags(db, 4096, h, false, 0x01) == -EINVAL);
	/* Every user bit can be set and cleared. */
	for (unsigned v = 0; v <= ACCOUNT_FLAGS_USER; v++) {
		CHECK(users_addr_set_flags(db, 1, h, false, (uint8_t)v) == 0);
		CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && flags == v);
	}
	/* SHIELD is kept as is, whatever the caller passes. */
	CHECK(users_addr_set_flags(db, 1, h, false, 0x80 | 0x21) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && flags == 0x21);
	CHECK(users_addr_set_flags(db, 1, sh, true, 0x10) == 0);
	CHECK(users_lookup_hash(db, sh, true, &uid, &flags) == 0 && flags == 0x90);
	int saves = f.saves;
	CHECK(users_addr_set_flags(db, 1, sh, true, 0x10) == 0 && f.saves == saves); /* no change */
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void private_field(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	static uint8_t big[ACCOUNT_PRIVATE_MAX + 1];
	const uint8_t *p = (const uint8_t *)"x";
	size_t n = 99;

	randombytes_buf(big, sizeof(big));
	CHECK(mk(db, 1, 0) == 0);
	CHECK(users_private_get(db, 1, &p, &n) == 0 && p == NULL && n == 0);
	CHECK(users_private_set(db, 1, big, ACCOUNT_PRIVATE_MAX + 1) == -EINVAL);
	CHECK(users_private_set(db, 1, NULL, 5) == -EINVAL);
	CHECK(users_private_set(db, 2, big, 5) == -ENOENT);
	CHECK(users_private_set(db, 4096, big, 5) == -EINVAL);
	CHECK(users_private_get(db, 2, &p, &n) == -ENOENT);
	CHECK(users_private_get(db, 4096, &p, &n) == -EINVAL);
	CHECK(users_private_set(db, 1, big, ACCOUNT_PRIVATE_MAX) == 0);
	CHECK(users_private_get(db, 1, &p, &n) == 0 && n == ACCOUNT_PRIVATE_MAX);
	CHECK(p && memcmp(p, big, n) == 0);
	CHECK(f.last.priv_len == ACCOUNT_PRIVATE_MAX);
	CHECK(users_private_set(db, 1, big + 1, 1) == 0);
	CHECK(users_private_get(db, 1, &p, &n) == 0 && n == 1 && p[0] == big[1]);
	CHECK(users_private_set(db, 1, NULL, 0) == 0);
	CHECK(users_private_get(db, 1, &p, &n) == 0 && p == NULL && n == 0);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

/* The original's lookup: scan every user and slot; the kind must match. */
static int model_lookup(const struct users *db, const uint8_t h[ADDRHASH_BYTES], bool shield,
                        uint16_t *ret_uid)
{
	for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++) {
		const struct users_user *u = users_get(db, uid);
		for (int i = 0; u && i < u->addr_count; i++)
			if (memcmp(u->addr[i].hash, h, ADDRHASH_BYTES) == 0 &&
			    ((u->addr[i].flags & ACCOUNT_FLAG_SHIELD) != 0) == shield) {
				*ret_uid = uid;
				return 0;
			}
	}
	return -ENOENT;
}

static void index_matches_scan(void)
{
	/* Random adds and deletes over 64 users and a small hash space, so
	 * hashes are reused after deletes and clusters form and break. */
	struct users *db = new_db(NULL);
	for (uint16_t u = 1; u <= 64; u++)
		CHECK(mk(db, u, 2) == 0);
	uint32_t seed = 12345;
	int mismatches = 0, ok_adds = 0, ok_dels = 0;
	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		uint16_t uid = (uint16_t)(1 + (seed >> 16) % 64);
		uint8_t h[ADDRHASH_BYTES];
		hash_of(h, (seed >> 6) % 3000);
		const struct users_user *u = users_get(db, uid);
		if (((seed >> 4) & 3) != 0 || u->addr_count == 0) {
			ok_adds += users_addr_add_normal(db, uid, h) == 0;
		} else {
			uint8_t victim[ADDRHASH_BYTES];
			memcpy(victim, u->addr[(seed >> 8) % u->addr_count].hash, ADDRHASH_BYTES);
			/* The wrong kind never matches; the right one does. */
			mismatches += users_addr_delete(db, uid, victim, true) != -ENOENT;
			ok_dels += users_addr_delete(db, uid, victim, false) == 0;
		}
		if (step % 400 == 0 || step == 19999)
			for (uint32_t k = 0; k < 3000; k++) {
				uint8_t q[ADDRHASH_BYTES];
				uint16_t a = 0, b = 0;
				uint8_t fl;
				hash_of(q, k);
				int r1 = users_lookup_hash(db, q, false, &a, &fl);
				int r2 = model_lookup(db, q, false, &b);
				mismatches += r1 != r2 || (r1 == 0 && a != b);
				mismatches += users_lookup_hash(db, q, true, &a, &fl) != -ENOENT;
			}
	}
	CHECK(mismatches == 0);
	CHECK(ok_adds > 3000 && ok_dels > 2000);
	users_free(db);
}

static void mta_answers(void)
{
	struct users *db = new_db(NULL);
	uint8_t h[ADDRHASH_BYTES], sh[ADDRHASH_BYTES], a[ADDR32_BYTES];
	uint16_t uid;
	uint8_t flags, flags2;

	CHECK(mk(db, 1, 1) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	CHECK(users_addr_add_shield(db, 1, shield_key, a, sh) == 0);
	CHECK(users_addr_set_flags(db, 1, h, false, 0x3F) == 0);
	CHECK(users_mta_lookup(db, h, false, &uid, &flags) == 0 && uid == 1 &&
	      flags == ACCOUNT_FLAGS_MTA);
	CHECK(users_mta_lookup(db, sh, true, &uid, &flags) == 0 && uid == 1 &&
	      flags == (ACCOUNT_FLAG_ATTACH | ACCOUNT_FLAG_ALLVER));

	/* Unknown normal: no owner, decoy flags fixed per hash. */
	uint8_t u[ADDRHASH_BYTES];
	hash_of(u, 2);
	CHECK(users_mta_lookup(db, u, false, &uid, &flags) == 0 && uid == ACCOUNT_UID_NONE);
	CHECK(users_mta_lookup(db, u, false, &uid, &flags2) == 0 && flags2 == flags);
	CHECK((flags & ~(ACCOUNT_FLAG_ALLVER | ACCOUNT_FLAG_ATTACH | ACCOUNT_FLAG_REQUIRE_TLS)) == 0);
	CHECK((flags & (ACCOUNT_FLAG_ALLVER | ACCOUNT_FLAG_ATTACH)) ==
	      (ACCOUNT_FLAG_ALLVER | ACCOUNT_FLAG_ATTACH));
	/* About a quarter of unknown addresses look like REQUIRE_TLS ones. */
	int tls = 0;
	for (uint32_t i = 0; i < 4000; i++) {
		uint8_t r[ADDRHASH_BYTES];
		randombytes_buf(r, sizeof(r));
		CHECK(users_mta_lookup(db, r, false, &uid, &flags) == 0 && uid == ACCOUNT_UID_NONE);
		tls += (flags & ACCOUNT_FLAG_REQUIRE_TLS) != 0;
	}
	CHECK(tls > 800 && tls < 1200);

	/* Known but not accepting external mail: exactly the unknown answer. */
	CHECK(users_addr_set_flags(db, 1, h, false, ACCOUNT_FLAG_ACCINT | ACCOUNT_FLAG_REQUIRE_TLS) == 0);
	CHECK(users_mta_lookup(db, h, false, &uid, &flags) == 0 && uid == ACCOUNT_UID_NONE);
	CHECK(users_addr_delete(db, 1, h, false) == 0);
	CHECK(users_mta_lookup(db, h, false, &uid, &flags2) == 0 && uid == ACCOUNT_UID_NONE);
	CHECK(flags == flags2);

	/* Shields: unknown or without ACCEXT is refused. */
	uid = 77;
	CHECK(users_mta_lookup(db, h, true, &uid, &flags) == -ENOENT && uid == 77);
	CHECK(users_addr_set_flags(db, 1, sh, true, ACCOUNT_FLAG_ACCINT) == 0);
	CHECK(users_mta_lookup(db, sh, true, &uid, &flags) == -ENOENT);
	/* A different decoy key gives different decoys (fixed per server). */
	struct users_settings s2 = settings;
	s2.decoy_key[0] ^= 1;
	struct users *db2 = users_new(&s2);
	int differ = 0;
	for (uint32_t i = 0; i < 200; i++) {
		hash_of(u, 1000 + i);
		CHECK(users_mta_lookup(db, u, false, &uid, &flags) == 0);
		CHECK(users_mta_lookup(db2, u, false, &uid, &flags2) == 0);
		differ += flags != flags2;
	}
	CHECK(differ > 20);
	users_free(db2);
	users_free(db);
}

static void replay_protection(void)
{
	struct users *db = new_db(NULL);
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES] = { 0 };
	const uint64_t W = 5000;
	uak_of(uak, 1);
	CHECK(users_create(db, 1, 0, uak, epk, 100000, NULL) == 0);
	CHECK(users_check_and_update_time(db, 2, 100001, 100001, W) == -ENOENT);
	CHECK(users_check_and_update_time(db, 4096, 100001, 100001, W) == -EINVAL);
	/* Nothing at or before the creation time. */
	CHECK(users_check_and_update_time(db, 1, 100000, 100000, W) == -EALREADY);
	CHECK(users_check_and_update_time(db, 1, 100001, 100000, W) == 0);
	CHECK(users_check_and_update_time(db, 1, 100001, 100002, W) == -EALREADY);
	CHECK(users_check_and_update_time(db, 1, 100000, 100002, W) == -EALREADY);
	CHECK(users_check_and_update_time(db, 1, 100002, 100002, W) == 0);
	/* The window, both sides, with its edges. */
	CHECK(users_check_and_update_time(db, 1, 200000 - W - 1, 200000, W) == -ERANGE);
	CHECK(users_check_and_update_time(db, 1, 200000 + W + 1, 200000, W) == -ERANGE);
	CHECK(users_check_and_update_time(db, 1, 200000 - W, 200000, W) == 0);
	CHECK(users_check_and_update_time(db, 1, 200000 + W, 200000, W) == 0);
	CHECK(users_get(db, 1)->last_request_ms == 200000 + W);
	/* The window is checked first: a replay outside it reports the window. */
	CHECK(users_check_and_update_time(db, 1, 100, 200000, W) == -ERANGE);
	/* No wrap-around near zero or the top. */
	CHECK(users_check_and_update_time(db, 1, UINT64_MAX, 0, W) == -ERANGE);
	CHECK(users_check_and_update_time(db, 1, 0, UINT64_MAX, W) == -ERANGE);
	/* After a restart every earlier request is refused, even a fresh-looking one. */
	users_replay_reset(db, 300000);
	CHECK(users_check_and_update_time(db, 1, 299999, 300000, W) == -EALREADY);
	CHECK(users_check_and_update_time(db, 1, 300000, 300000, W) == -EALREADY);
	CHECK(users_check_and_update_time(db, 1, 300001, 300000, W) == 0);
	users_free(db);
}

/* Snapshot of everything observable about a db. */
struct snap {
	size_t count;
	struct users_settings s;
	struct users_user u[3];
	uint8_t priv[3][16];
	int present[3];
};

static void take(const struct users *db, struct snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	sn->count = users_count(db);
	sn->s = *users_settings(db);
	for (uint16_t i = 0; i < 3; i++) {
		const struct users_user *u = users_get(db, i);
		sn->present[i] = u != NULL;
		if (u) {
			sn->u[i] = *u;
			sn->u[i].priv = NULL;
			if (u->priv)
				memcpy(sn->priv[i], u->priv, u->priv_len < 16 ? u->priv_len : 16);
		}
	}
}

static void failing_store_changes_nothing(void)
{
	struct fake f;
	struct users *db = new_db(&f);
	uint8_t h[ADDRHASH_BYTES], h2[ADDRHASH_BYTES], a[ADDR32_BYTES], sh[ADDRHASH_BYTES];
	uint8_t epk[ACCOUNT_EPK_BYTES], uak[ACCOUNT_UAK_BYTES];
	struct users_limits l = { 1, 1, 1 };
	struct snap before, after;
	uint16_t uid;
	uint8_t flags;

	CHECK(mk(db, 0, 3) == 0 && mk(db, 1, 1) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	CHECK(users_addr_add_shield(db, 1, shield_key, a, sh) == 0);
	CHECK(users_private_set(db, 1, (const uint8_t *)"private!", 8) == 0);
	take(db, &before);

	f.fail = -EIO;
	memset(epk, 0x99, sizeof(epk));
	uak_of(uak, 2);
	hash_of(h2, 2);
	memset(a, 0xEE, sizeof(a));
	CHECK(users_create(db, 2, 0, uak, epk, 5, NULL) == -EIO);
	CHECK(users_delete(db, 1) == -EIO);
	CHECK(users_set_level(db, 1, 2) == -EIO);
	CHECK(users_set_epk(db, 1, epk) == -EIO);
	CHECK(users_set_limits(db, 1, &l) == -EIO);
	CHECK(users_addr_add_normal(db, 1, h2) == -EIO);
	CHECK(users_addr_add_shield(db, 1, shield_key, a, h2) == -EIO);
	CHECK(a[0] == 0xEE); /* no address handed out that was not stored */
	CHECK(users_addr_delete(db, 1, h, false) == -EIO);
	CHECK(users_addr_set_flags(db, 1, h, false, 0x01) == -EIO);
	CHECK(users_private_set(db, 1, (const uint8_t *)"changed", 7) == -EIO);
	CHECK(users_private_set(db, 1, NULL, 0) == -EIO);
	CHECK(f.saves + f.deletes + f.settings_saves > 10);
	take(db, &after);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == 0 && uid == 1);
	CHECK(users_lookup_hash(db, sh, true, &uid, &flags) == 0 && uid == 1);
	CHECK(users_lookup_hash(db, h2, false, &uid, &flags) == -ENOENT);
	const uint8_t *p;
	size_t n;
	CHECK(users_private_get(db, 1, &p, &n) == 0 && n == 8 && memcmp(p, "private!", 8) == 0);

	/* And with the store back, everything works. */
	f.fail = 0;
	CHECK(users_addr_add_normal(db, 1, h2) == 0);
	CHECK(users_delete(db, 1) == 0);
	CHECK(users_lookup_hash(db, h, false, &uid, &flags) == -ENOENT);
	CHECK(f.memory_changed_early == 0);
	users_free(db);
}

static void insert_loaded_rules(void)
{
	struct users *db = new_db(NULL);
	struct users_user u, v;
	uint8_t h[ADDRHASH_BYTES];

	memset(&u, 0, sizeof(u));
	u.uid = 10;
	u.level = 1;
	uak_of(u.uak, 10);
	hash_of(h, 5);
	memcpy(u.addr[0].hash, h, sizeof(h));
	u.addr[0].flags = ACCOUNT_FLAGS_NEW;
	u.addr_count = 1;
	u.priv = xmalloc(3);
	memcpy(u.priv, "abc", 3);
	u.priv_len = 3;
	v = u;
	CHECK(users_insert_loaded(db, &u) == 0);
	CHECK(u.priv == NULL); /* ownership moved */
	CHECK(users_get(db, 10)->priv == v.priv);

	struct users_user w;
	memset(&w, 0, sizeof(w));
	w.uid = 10;
	w.level = 1;
	uak_of(w.uak, 11);
	CHECK(users_insert_loaded(db, &w) == -EEXIST); /* uid */
	w.uid = 11;
	memcpy(w.addr[0].hash, h, sizeof(h));
	w.addr[0].flags = ACCOUNT_FLAGS_NEW;
	w.addr_count = 1;
	CHECK(users_insert_loaded(db, &w) == -EEXIST); /* address held by 10 */
	w.addr[0].flags |= ACCOUNT_FLAG_SHIELD;
	uak_of(w.uak, 10);
	CHECK(users_insert_loaded(db, &w) == -EEXIST); /* UAK held by 10 */
	uak_of(w.uak, 11);
	struct users_user bad = w;
	bad.level = 4;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL);
	bad = w;
	bad.addr[0].flags = 0x40;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL);
	bad = w;
	bad.addr[1] = bad.addr[0];
	bad.addr_count = 2;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL); /* duplicate within the user */
	bad = w;
	bad.addr_count = 32;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL);
	bad = w;
	bad.priv_len = 1;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL); /* length without data */
	bad = w;
	bad.uid = 0;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL); /* master admin below level 3 */
	bad = w;
	bad.uid = 4096;
	CHECK(users_insert_loaded(db, &bad) == -EINVAL);
	bad = w;
	memset(bad.uak, 0, sizeof(bad.uak));
	CHECK(users_insert_loaded(db, &bad) == -EINVAL);
	CHECK(users_insert_loaded(db, &w) == 0); /* shield kind: no clash */
	CHECK(users_count(db) == 2);
	users_free(db);
}

static void check_normal_plaintext(void)
{
	uint8_t a[ADDR32_BYTES];
	CHECK(users_addr_check_normal(addr32_system, 3) == -EPERM);
	CHECK(addr32_parse("Post.Master", 11, a) == ADDR32_NORMAL);
	CHECK(users_addr_check_normal(a, 0) == -EACCES);
	CHECK(users_addr_check_normal(a, 2) == -EACCES);
	CHECK(users_addr_check_normal(a, 3) == 0);
	CHECK(addr32_parse("alice", 5, a) == ADDR32_NORMAL);
	CHECK(users_addr_check_normal(a, 0) == 0);
	addr32_shield_random(a);
	CHECK(users_addr_check_normal(a, 3) == -EPERM);
	memset(a, 0, sizeof(a));
	CHECK(users_addr_check_normal(a, 3) == -EPERM);
}

int main(void)
{
	check_init();
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(0xA0 + i);
	for (size_t i = 0; i < sizeof(shield_key); i++)
		shield_key[i] = (uint8_t)i;
	if (users_settings_init(&settings, &fast, salt) != 0) {
		printf("FAIL users_settings_init\n");
		return 1;
	}
	RUN(settings_init_values);
	RUN(create_rules);
	RUN(full_table);
	RUN(delete_rules);
	RUN(set_level_rules);
	RUN(set_epk_and_storage_info);
	RUN(limits_rules);
	RUN(add_normal_rules);
	RUN(total_cap_31);
	RUN(add_shield_rules);
	RUN(same_hash_both_kinds);
	RUN(delete_address);
	RUN(set_flags_rules);
	RUN(private_field);
	RUN(index_matches_scan);
	RUN(mta_answers);
	RUN(replay_protection);
	RUN(failing_store_changes_nothing);
	RUN(insert_loaded_rules);
	RUN(check_normal_plaintext);
	return check_finish();
}
