/* fuzz_account_userdb.c: Account's disk decoders and its user operations on
 * arbitrary input. The first byte picks a mode:
 *   0: the rest, zero-padded to a full user record, is decoded;
 *   1: the rest is decoded as a user record as it stands (any length);
 *   2: the rest is decoded as the settings plaintext;
 *   3: the rest is opened as a sealed user or settings file (fixed key);
 *   4: as 0, but sealed under a user's file name first, then opened, decoded
 *      and checked against the name, as loading does;
 *   5: the rest is a sequence of user operations on a fresh database, whose
 *      address index is then compared with a linear scan of every slot.
 * What decodes must pass the validity rules and re-encode to the same bytes
 * (the layouts are canonical). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "account/userdb.h"
#include "common/bytes.h"

static uint8_t enc_key[USERDB_KEY_BYTES], name_key[USERDB_KEY_BYTES];
static struct users_settings settings;
static uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES];
static uint8_t plain[USERDB_USER_PLAIN_BYTES], again[USERDB_USER_PLAIN_BYTES];
static uint8_t file[USERDB_USER_FILE_BYTES];

static void setup(void)
{
	static int done;
	uint8_t state[USERDB_KEY_BYTES], salt[ADDRHASH_SALT_BYTES] = { 0 };
	struct addrhash_params p = { .opslimit = 1, .memlimit_kib = 8192 };
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(state, 0x42, sizeof(state));
	userdb_derive_keys(enc_key, name_key, state);
	if (users_settings_init(&settings, &p, salt) != 0)
		abort();
	memset(shield_key, 7, sizeof(shield_key));
	done = 1;
}

/* A decoded user re-encodes to exactly the bytes it came from. */
static void check_user(const uint8_t *in, size_t len)
{
	struct users_user u;
	int rc = userdb_user_decode(in, len, &u);
	if (rc != 0) {
		if (rc != -EBADMSG)
			abort();
		return;
	}
	if (len != USERDB_USER_PLAIN_BYTES || users_user_valid(&u) != 0)
		abort();
	userdb_user_encode(&u, again);
	if (memcmp(again, in, len) != 0)
		abort();
	users_user_clear(&u);
}

static void check_settings(const uint8_t *in, size_t len)
{
	struct users_settings s;
	uint8_t out[USERDB_SETTINGS_PLAIN_BYTES];
	int rc = userdb_settings_decode(in, len, &s);
	if (rc != 0) {
		if (rc != -EBADMSG)
			abort();
		return;
	}
	if (len != USERDB_SETTINGS_PLAIN_BYTES || users_settings_valid(&s) != 0)
		abort();
	userdb_settings_encode(&s, out);
	if (memcmp(out, in, len) != 0)
		abort();
}

static void padded(const uint8_t *in, size_t len)
{
	memset(plain, 0, sizeof(plain));
	memcpy(plain, in, len < sizeof(plain) ? len : sizeof(plain));
}

static void open_sealed(const uint8_t *in, size_t len)
{
	uint8_t *out = malloc(len + 1);
	if (!out)
		abort();
	char name[USERDB_NAME_LEN + 1];
	userdb_user_filename(name, (uint16_t)(len & 0xFFF), name_key);
	if (userdb_unseal(out, in, len, USERDB_KIND_USER, name, enc_key) == 0)
		check_user(out, len - USERDB_OVERHEAD);
	if (userdb_unseal(out, in, len, USERDB_KIND_SETTINGS, USERDB_SETTINGS_NAME, enc_key) == 0)
		check_settings(out, len - USERDB_OVERHEAD);
	free(out);
}

static void seal_and_load(const uint8_t *in, size_t len)
{
	char name[USERDB_NAME_LEN + 1], expect[USERDB_NAME_LEN + 1];
	uint8_t nonce[USERDB_NONCE_BYTES] = { 1 };
	struct users_user u;
	padded(in, len);
	uint16_t as_uid = (uint16_t)(le16_load(plain) & 0xFFF);
	userdb_user_filename(name, as_uid, name_key);
	userdb_seal(file, plain, sizeof(plain), USERDB_KIND_USER, name, nonce, enc_key);
	if (userdb_unseal(again, file, sizeof(file), USERDB_KIND_USER, name, enc_key) != 0 ||
	    memcmp(again, plain, sizeof(plain)) != 0)
		abort();
	if (userdb_user_decode(again, sizeof(again), &u) != 0)
		return;
	userdb_user_filename(expect, u.uid, name_key);
	if ((strcmp(expect, name) == 0) != (u.uid == as_uid))
		abort();
	users_user_clear(&u);
}

/* The original's lookup: every user, every slot, the kind must match. */
static int scan(const struct users *db, const uint8_t h[ADDRHASH_BYTES], bool shield,
                uint16_t *ret_uid, uint8_t *ret_flags)
{
	for (uint16_t uid = 0; uid < 16; uid++) {
		const struct users_user *u = users_get(db, uid);
		for (int i = 0; u && i < u->addr_count; i++)
			if (memcmp(u->addr[i].hash, h, ADDRHASH_BYTES) == 0 &&
			    ((u->addr[i].flags & ACCOUNT_FLAG_SHIELD) != 0) == shield) {
				*ret_uid = uid;
				*ret_flags = u->addr[i].flags;
				return 0;
			}
	}
	return -ENOENT;
}

static void small_hash(uint8_t h[ADDRHASH_BYTES], uint8_t b)
{
	memset(h, 0, ADDRHASH_BYTES);
	h[0] = b;
}

/* One database reused across inputs (a fresh one costs milliseconds): each
 * input leaves it empty again with the original limits, or, when it made the
 * undeletable user 0, it is replaced. */
static struct users *ops_db;

/* LeakSanitizer does not look inside sodium_malloc'd memory, where the
 * database keeps its index pointer: release it before the leak check. */
static void ops_free(void)
{
	users_free(ops_db);
	ops_db = NULL;
}

static void ops_reset(void)
{
	for (uint16_t uid = 1; uid < ACCOUNT_USERS_MAX; uid++)
		if (users_get(ops_db, uid) && users_delete(ops_db, uid) != 0)
			abort();
	for (uint8_t l = 0; l < ACCOUNT_LEVELS; l++)
		if (users_set_limits(ops_db, l, &settings.limits[l]) != 0)
			abort();
	if (users_get(ops_db, 0)) {
		users_free(ops_db);
		ops_db = users_new(&settings);
	}
}

static void operations(const uint8_t *in, size_t len)
{
	if (!ops_db) {
		ops_db = users_new(&settings);
		atexit(ops_free);
	}
	struct users *db = ops_db;
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES] = { 0 }, h[ADDRHASH_BYTES];
	uint8_t a[ADDR32_BYTES];
	size_t i = 0;
	int rc = 0;

	while (i + 3 <= len) {
		uint8_t op = in[i] & 15, x = in[i + 1], y = in[i + 2];
		uint16_t uid = x & 15;
		i += 3;
		switch (op) {
		case 0:
			memset(uak, 0, sizeof(uak));
			uak[0] = (uint8_t)(y | 1);
			rc = users_create(db, (x & 16) ? ACCOUNT_UID_ANY : uid, (uint8_t)(y & 3), uak, epk,
			                  1, NULL);
			break;
		case 1:
			rc = users_delete(db, uid);
			break;
		case 2:
			rc = users_set_level(db, uid, (uint8_t)(y & 7));
			break;
		case 3:
			small_hash(h, y);
			rc = users_addr_add_normal(db, uid, h);
			break;
		case 4:
			rc = users_addr_add_shield(db, uid, shield_key, a, h);
			break;
		case 5:
			small_hash(h, y);
			rc = users_addr_delete(db, uid, h, (x & 16) != 0);
			break;
		case 6: {
			const struct users_user *u = users_get(db, uid);
			if (u && u->addr_count) /* a real one, to reach the change */
				memcpy(h, u->addr[y % u->addr_count].hash, ADDRHASH_BYTES);
			else
				small_hash(h, y);
			bool sh = u && u->addr_count && (u->addr[y % u->addr_count].flags & 0x80);
			rc = users_addr_set_flags(db, uid, h, sh, x);
			break;
		}
		case 7:
			rc = users_private_set(db, uid, in + i, (size_t)y > len - i ? len - i : y);
			break;
		case 8: {
			struct users_limits l = { .storage_mib = y, .max_normal = (uint8_t)(x >> 3),
				                      .max_shield = (uint8_t)(y >> 3) };
			rc = users_set_limits(db, x & 7, &l);
			break;
		}
		case 9: {
			uint8_t flags;
			small_hash(h, y);
			rc = users_mta_lookup(db, h, (x & 16) != 0, &uid, &flags);
			break;
		}
		case 10:
			rc = users_check_and_update_time(db, uid, y, x, 5);
			break;
		default:
			rc = 0;
			break;
		}
		if (rc > 0)
			abort();
	}
	/* Index and scan agree on every small hash, both kinds, and on every
	 * stored address; every stored user is valid and re-encodes. */
	for (int b = 0; b < 256; b++)
		for (int k = 0; k < 2; k++) {
			uint16_t u1 = 0, u2 = 0;
			uint8_t f1 = 0, f2 = 0;
			small_hash(h, (uint8_t)b);
			int r1 = users_lookup_hash(db, h, k, &u1, &f1), r2 = scan(db, h, k, &u2, &f2);
			if (r1 != r2 || (r1 == 0 && (u1 != u2 || f1 != f2)))
				abort();
		}
	for (uint16_t uid = 0; uid < 16; uid++) {
		const struct users_user *u = users_get(db, uid);
		for (int j = 0; u && j < u->addr_count; j++) {
			uint16_t o;
			uint8_t f;
			if (users_lookup_hash(db, u->addr[j].hash, (u->addr[j].flags & 0x80) != 0, &o, &f) != 0 ||
			    o != uid)
				abort();
		}
		if (u) {
			struct users_user back;
			userdb_user_encode(u, plain);
			if (userdb_user_decode(plain, sizeof(plain), &back) != 0)
				abort();
			users_user_clear(&back);
		}
	}
	ops_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	switch (data[0] % 6) {
	case 0:
		padded(in, len);
		check_user(plain, sizeof(plain));
		break;
	case 1:
		check_user(in, len);
		break;
	case 2:
		check_settings(in, len);
		break;
	case 3:
		open_sealed(in, len);
		break;
	case 4:
		seal_and_load(in, len);
		break;
	case 5:
		operations(in, len);
		break;
	}
	return 0;
}
