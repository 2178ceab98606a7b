/* test_account_userdb.c: Account's encrypted state directory. Golden vectors
 * (computed independently in Python from docs/PROTOCOL.md section 8), strict
 * decoders, the sealing, a 4096-user round trip, crash leftovers, failing
 * writes (test hook and a real EFBIG) that leave memory unchanged, every kind
 * of damaged or moved file refused at load, and no plaintext on disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/userdb.h"
#include "check.h"
#include "common/userid.h"

static uint8_t state_key[USERDB_KEY_BYTES]; /* the acc-stat golden key of PROTOCOL.md 3.8 */
static uint8_t enc_key[USERDB_KEY_BYTES], name_key[USERDB_KEY_BYTES];
static struct users_settings settings;
static const struct addrhash_params fast = { .opslimit = 1, .memlimit_kib = 8192 };
static uint8_t salt[ADDRHASH_SALT_BYTES];
static uint8_t shield_key[ADDRHASH_SHIELD_KEY_BYTES];
static char base[200];

/* --- helpers --- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh state directory holding a new state. */
static void new_state(char dir[256])
{
	snprintf(dir, 256, "%s/stateXXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	if (userdb_create(dir, state_key, &settings) != 0) {
		printf("FAIL userdb_create\n");
		exit(1);
	}
}

static void user_path(char out[512], const char *dir, uint16_t uid)
{
	char name[USERDB_NAME_LEN + 1];
	userdb_user_filename(name, uid, name_key);
	snprintf(out, 512, "%s/users/%s", dir, name);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void write_all(const char *path, const uint8_t *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
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

static int open_state(const char *dir, uint64_t now, struct userdb **udb, struct users **db)
{
	return userdb_open(dir, state_key, now, udb, db);
}

static void close_state(struct userdb *udb, struct users *db)
{
	users_free(db);
	userdb_close(udb);
}

/* Two users are the same, apart from the memory-only last request time. */
static bool same_user(const struct users_user *a, const struct users_user *b)
{
	struct users_user x = *a, y = *b;
	x.last_request_ms = y.last_request_ms = 0;
	x.priv = y.priv = NULL;
	if (memcmp(&x, &y, sizeof(x)) != 0 || a->priv_len != b->priv_len)
		return false;
	return a->priv_len == 0 || memcmp(a->priv, b->priv, a->priv_len) == 0;
}

/* A golden record: uid 291, level 2, two addresses, private "hello". */
static void golden_user(struct users_user *u)
{
	memset(u, 0, sizeof(*u));
	u->uid = 291;
	u->level = 2;
	u->created_ms = 1700000000000ull;
	for (int i = 0; i < 32; i++) {
		u->uak[i] = (uint8_t)(1 + i);
		u->epk[i] = (uint8_t)(0x21 + i);
	}
	for (int i = 0; i < 8; i++) {
		u->addr[0].hash[i] = (uint8_t)(0xa1 + i);
		u->addr[1].hash[i] = (uint8_t)(0xb1 + i);
	}
	u->addr[0].flags = 14;
	u->addr[1].flags = 0x80 | 14 | 0x10;
	u->addr_count = 2;
	u->priv = xmalloc(5);
	memcpy(u->priv, "hello", 5);
	u->priv_len = 5;
}

static void golden_settings(struct users_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->version = 1;
	s->params = addrhash_params_default();
	for (uint8_t l = 0; l < ACCOUNT_LEVELS; l++)
		s->limits[l] = users_default_limits(l);
	for (int j = 0; j < 8; j++)
		s->system_hash[j] = (uint8_t)j;
	for (int i = 0; i < ACCOUNT_RESERVED_COUNT; i++)
		for (int j = 0; j < 8; j++)
			s->reserved_hash[i][j] = (uint8_t)(8 * (i + 1) + j);
	for (int j = 0; j < 16; j++)
		s->decoy_key[j] = (uint8_t)(0xd0 + j);
}

/* --- golden vectors --- */

static void golden_keys_and_names(void)
{
	uint8_t want[32];
	char name[USERDB_NAME_LEN + 1];
	check_unhex("8d4fa8a230e52ae59563bd545ae27070a5fbd5bf2d082c2e62c03ccf167425a7", want, 32);
	CHECK_MEM(enc_key, want, 32);
	check_unhex("7ea1433ff55519ef1264788299a13992dfcc369bd33b057f7c855a7c7b404caa", want, 32);
	CHECK_MEM(name_key, want, 32);
	userdb_user_filename(name, 0, name_key);
	CHECK(strcmp(name, "630bdb38b5d3cdaf8d4f01956a6bd830") == 0);
	userdb_user_filename(name, 1, name_key);
	CHECK(strcmp(name, "4dd50eb8dc635872e77850fd2fe95aaf") == 0);
	userdb_user_filename(name, 291, name_key);
	CHECK(strcmp(name, "574f7e56636561d136e779cd51292026") == 0);
	userdb_user_filename(name, 4095, name_key);
	CHECK(strcmp(name, "d19c002fdb19bbdc0be75faccb296d03") == 0);
}

static void golden_settings_file(void)
{
	struct users_settings s, back;
	uint8_t plain[USERDB_SETTINGS_PLAIN_BYTES], file[USERDB_SETTINGS_FILE_BYTES];
	uint8_t want_plain[USERDB_SETTINGS_PLAIN_BYTES], want_file[USERDB_SETTINGS_FILE_BYTES];
	uint8_t nonce[USERDB_NONCE_BYTES];

	golden_settings(&s);
	CHECK(check_unhex("01000000010300000080000000010000030a000400000a1f001000001f1f000001001f1f"
	                  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
	                  "2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344454647"
	                  "48494a4b4c4d4e4f5051525354555657d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
	                  want_plain, sizeof(want_plain)) == USERDB_SETTINGS_PLAIN_BYTES);
	CHECK(check_unhex("6163632d73657401404142434445464748494a4b4c4d4e4f5051525354555657e3aedbf4"
	                  "d34bf540f48b72f185970b6001195f06d924d0685677892d792469ca4461794af2ba3a70"
	                  "f1b00668d0d450c9d804e5ed720f3d0aaf85a47d49d8b06c77ec7f6ae26452b5da1e3af8"
	                  "449e3f0a5c13fa59203dbd1ae49d5c52efc632a00779cdd5753c9602c80db2f2ce61f2fe"
	                  "62866aff5feebd2a8c7d8a855444a7451b09e5ee41dfa03fcf91f8c5e76f006bb01a647b"
	                  "fa975cef18aa3cc2",
	                  want_file, sizeof(want_file)) == USERDB_SETTINGS_FILE_BYTES);
	userdb_settings_encode(&s, plain);
	CHECK_MEM(plain, want_plain, sizeof(plain));
	for (int i = 0; i < USERDB_NONCE_BYTES; i++)
		nonce[i] = (uint8_t)(0x40 + i);
	userdb_seal(file, plain, sizeof(plain), USERDB_KIND_SETTINGS, "settings", nonce, enc_key);
	CHECK_MEM(file, want_file, sizeof(file));
	memset(plain, 0, sizeof(plain));
	CHECK(userdb_unseal(plain, want_file, sizeof(want_file), USERDB_KIND_SETTINGS, "settings",
	                    enc_key) == 0);
	CHECK(userdb_settings_decode(plain, sizeof(plain), &back) == 0);
	CHECK(memcmp(&back, &s, sizeof(s)) == 0);
}

static void golden_user_file(void)
{
	struct users_user u, back;
	static uint8_t plain[USERDB_USER_PLAIN_BYTES], file[USERDB_USER_FILE_BYTES];
	uint8_t nonce[USERDB_NONCE_BYTES], h[32], want[48];
	char name[USERDB_NAME_LEN + 1];

	golden_user(&u);
	userdb_user_encode(&u, plain);
	crypto_generichash(h, 32, plain, sizeof(plain), NULL, 0);
	check_unhex("0d405573cc30a4acb33c8c840c57246634f1143dc7ef45f3978d3260cddeaef0", want, 32);
	CHECK_MEM(h, want, 32);
	/* A few fields at their documented offsets. */
	CHECK(plain[0] == 0x23 && plain[1] == 0x01 && plain[2] == 2 && plain[3] == 2);
	CHECK(plain[USERDB_USER_ADDR_OFF] == 0xa1 && plain[USERDB_USER_ADDR_OFF + 8] == 14);
	CHECK(plain[355] == 5 && plain[356] == 0 && memcmp(plain + 357, "hello", 5) == 0);

	userdb_user_filename(name, 291, name_key);
	for (int i = 0; i < USERDB_NONCE_BYTES; i++)
		nonce[i] = (uint8_t)(0x60 + i);
	userdb_seal(file, plain, sizeof(plain), USERDB_KIND_USER, name, nonce, enc_key);
	crypto_generichash(h, 32, file, sizeof(file), NULL, 0);
	check_unhex("4ebcac347ffd2a4ad39e0d7600a3060c66809f38d0802ad19ebe2c90176293cf", want, 32);
	CHECK_MEM(h, want, 32);
	check_unhex("6163632d75737201606162636465666768696a6b6c6d6e6f70717273747576778ea3faa9"
	            "0455ab18e3922492b87b7635", want, 48);
	CHECK_MEM(file, want, 48);
	check_unhex("1c7b83da27ce33c4b0f92ae742c7f8c7", want, 16);
	CHECK_MEM(file + sizeof(file) - 16, want, 16);

	CHECK(userdb_unseal(plain, file, sizeof(file), USERDB_KIND_USER, name, enc_key) == 0);
	CHECK(userdb_user_decode(plain, sizeof(plain), &back) == 0);
	CHECK(same_user(&u, &back) && back.last_request_ms == 0);
	users_user_clear(&back);
	users_user_clear(&u);
}

/* --- decoders --- */

static int decode_mutated(const uint8_t *plain, size_t off, uint8_t val)
{
	static uint8_t m[USERDB_USER_PLAIN_BYTES];
	struct users_user u;
	memcpy(m, plain, sizeof(m));
	m[off] = val;
	int rc = userdb_user_decode(m, sizeof(m), &u);
	if (rc == 0)
		users_user_clear(&u);
	return rc;
}

static void user_decode_rejects(void)
{
	struct users_user u, back;
	static uint8_t plain[USERDB_USER_PLAIN_BYTES + 1];

	golden_user(&u);
	userdb_user_encode(&u, plain);
	memset(&back, 0x11, sizeof(back));
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES - 1, &back) == -EBADMSG);
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES + 1, &back) == -EBADMSG);
	CHECK(userdb_user_decode(plain, 0, &back) == -EBADMSG);
	CHECK(back.uid == 0x1111); /* untouched */
	CHECK(decode_mutated(plain, 0, 0x23) == 0);         /* the unchanged record decodes */
	CHECK(decode_mutated(plain, 1, 0x10) == -EBADMSG);  /* uid 4131 */
	CHECK(decode_mutated(plain, 2, 4) == -EBADMSG);     /* level 4 */
	CHECK(decode_mutated(plain, 3, 32) == -EBADMSG);    /* 32 addresses */
	CHECK(decode_mutated(plain, 3, 1) == -EBADMSG);     /* slot 1 not zero but unused */
	CHECK(decode_mutated(plain, 3, 3) == 0);            /* a zero hash is still a hash */
	CHECK(decode_mutated(plain, USERDB_USER_ADDR_OFF + 8, 0x40 | 14) == -EBADMSG); /* flag 0x40 */
	CHECK(decode_mutated(plain, USERDB_USER_ADDR_OFF + 9 * 30, 1) == -EBADMSG); /* last slot */
	CHECK(decode_mutated(plain, USERDB_USER_PRIVLEN_OFF, 6) == 0); /* opaque: may end in 0 */
	CHECK(decode_mutated(plain, USERDB_USER_PRIVLEN_OFF, 4) == -EBADMSG); /* "o" in padding */
	CHECK(decode_mutated(plain, USERDB_USER_PRIVLEN_OFF + 1, 0x20) == -EBADMSG); /* 8197 */
	CHECK(decode_mutated(plain, USERDB_USER_PLAIN_BYTES - 1, 1) == -EBADMSG); /* padding */
	CHECK(decode_mutated(plain, USERDB_USER_PRIV_OFF + 5, 1) == -EBADMSG);    /* padding */
	users_user_clear(&u);

	/* Encoding such a record gives back the same bytes. */
	golden_user(&u);
	u.addr_count = 3; /* third slot: zero hash, zero flags */
	userdb_user_encode(&u, plain);
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == 0);
	CHECK(back.addr_count == 3);
	users_user_clear(&back);
	users_user_clear(&u);

	/* Duplicates, uid 0 below admin, zero UAK, 8192 bytes of private data. */
	golden_user(&u);
	userdb_user_encode(&u, plain);
	memcpy(plain + USERDB_USER_ADDR_OFF + 9, plain + USERDB_USER_ADDR_OFF, 9);
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == -EBADMSG);
	plain[USERDB_USER_ADDR_OFF + 9 + 8] |= 0x80; /* same hash, other kind: fine */
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == 0);
	users_user_clear(&back);
	userdb_user_encode(&u, plain);
	plain[0] = plain[1] = 0;
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == -EBADMSG);
	plain[2] = 3;
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == 0);
	users_user_clear(&back);
	userdb_user_encode(&u, plain);
	memset(plain + 12, 0, 32);
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == -EBADMSG);
	users_user_clear(&u);

	golden_user(&u);
	free(u.priv);
	u.priv = xmalloc(ACCOUNT_PRIVATE_MAX);
	memset(u.priv, 0xFF, ACCOUNT_PRIVATE_MAX);
	u.priv_len = ACCOUNT_PRIVATE_MAX;
	for (int i = 2; i < ACCOUNT_ADDR_MAX; i++) {
		hash_of(u.addr[i].hash, (uint32_t)i);
		u.addr[i].flags = 0xBF;
	}
	u.addr_count = ACCOUNT_ADDR_MAX;
	userdb_user_encode(&u, plain);
	CHECK(userdb_user_decode(plain, USERDB_USER_PLAIN_BYTES, &back) == 0);
	CHECK(same_user(&u, &back));
	users_user_clear(&back);
	users_user_clear(&u);
}

static void settings_decode_rejects(void)
{
	struct users_settings s, back;
	uint8_t p[USERDB_SETTINGS_PLAIN_BYTES + 1], m[USERDB_SETTINGS_PLAIN_BYTES];

	golden_settings(&s);
	userdb_settings_encode(&s, p);
	memset(&back, 0x33, sizeof(back));
	CHECK(userdb_settings_decode(p, USERDB_SETTINGS_PLAIN_BYTES - 1, &back) == -EBADMSG);
	CHECK(userdb_settings_decode(p, USERDB_SETTINGS_PLAIN_BYTES + 1, &back) == -EBADMSG);
	CHECK(back.version == 0x33333333);
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 0 },          /* version 0 (with the other bytes 0) */
		{ 4, 2 },          /* parameter block version */
		{ 5, 0 },          /* opslimit 0 */
		{ 5, 11 },         /* opslimit 11 */
		{ 6, 1 },          /* reserved */
		{ 8, 1 },          /* memlimit not whole MiB */
		{ 12 + 4, 32 },    /* level 0 max_normal */
		{ 12 + 6 * 3 + 5, 32 }, /* level 3 max_shield */
		{ 12 + 6 * 2 + 2, 0x11 }, /* level 2 storage > 1 TiB */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(m, p, sizeof(m));
		m[bad[i].off] = bad[i].val;
		if (bad[i].off == 0)
			m[1] = m[2] = m[3] = 0;
		int rc = userdb_settings_decode(m, sizeof(m), &back);
		if (rc != -EBADMSG)
			fprintf(stderr, "  settings mutation %zu accepted\n", i);
		CHECK(rc == -EBADMSG);
	}
	/* Storage at exactly 1 TiB is accepted. */
	memcpy(m, p, sizeof(m));
	m[12 + 6 * 2 + 0] = 0;
	m[12 + 6 * 2 + 1] = 0;
	m[12 + 6 * 2 + 2] = 0x10;
	m[12 + 6 * 2 + 3] = 0;
	CHECK(userdb_settings_decode(m, sizeof(m), &back) == 0 && back.limits[2].storage_mib == 1u << 20);
}

static void unseal_rejects(void)
{
	uint8_t plain[USERDB_SETTINGS_PLAIN_BYTES], file[USERDB_SETTINGS_FILE_BYTES];
	uint8_t m[USERDB_SETTINGS_FILE_BYTES], out[USERDB_SETTINGS_PLAIN_BYTES], nonce[24] = { 7 };
	uint8_t other[USERDB_KEY_BYTES];
	struct users_settings s;

	golden_settings(&s);
	userdb_settings_encode(&s, plain);
	userdb_seal(file, plain, sizeof(plain), USERDB_KIND_SETTINGS, "settings", nonce, enc_key);
	CHECK(userdb_unseal(out, file, sizeof(file), USERDB_KIND_SETTINGS, "settings", enc_key) == 0);
	/* Every single-bit change anywhere in the file. */
	int accepted = 0;
	for (size_t i = 0; i < sizeof(file); i++) {
		memcpy(m, file, sizeof(m));
		m[i] ^= (uint8_t)(1u << (i % 8));
		accepted += userdb_unseal(out, m, sizeof(m), USERDB_KIND_SETTINGS, "settings", enc_key) == 0;
	}
	CHECK(accepted == 0);
	CHECK(userdb_unseal(out, file, sizeof(file) - 1, USERDB_KIND_SETTINGS, "settings", enc_key) ==
	      -EBADMSG);
	CHECK(userdb_unseal(out, file, USERDB_OVERHEAD - 1, USERDB_KIND_SETTINGS, "settings", enc_key) ==
	      -EBADMSG);
	CHECK(userdb_unseal(out, file, 0, USERDB_KIND_SETTINGS, "settings", enc_key) == -EBADMSG);
	CHECK(userdb_unseal(out, file, sizeof(file), USERDB_KIND_USER, "settings", enc_key) == -EBADMSG);
	CHECK(userdb_unseal(out, file, sizeof(file), USERDB_KIND_SETTINGS, "settingz", enc_key) ==
	      -EBADMSG);
	memcpy(other, enc_key, sizeof(other));
	other[31] ^= 1;
	CHECK(userdb_unseal(out, file, sizeof(file), USERDB_KIND_SETTINGS, "settings", other) == -EBADMSG);
	/* Header rewritten to the other format: refused by the header, and by the
	 * tag if a reader ignored the header (it is in the associated data). */
	memcpy(m, file, sizeof(m));
	memcpy(m, "acc-usr", 7);
	CHECK(userdb_unseal(out, m, sizeof(m), USERDB_KIND_USER, "settings", enc_key) == -EBADMSG);
	/* An empty plaintext seals and opens (the overhead alone). */
	uint8_t tiny[USERDB_OVERHEAD];
	userdb_seal(tiny, NULL, 0, USERDB_KIND_USER, "x", nonce, enc_key);
	CHECK(userdb_unseal(out, tiny, sizeof(tiny), USERDB_KIND_USER, "x", enc_key) == 0);
}

/* --- the state directory --- */

static void create_and_open(void)
{
	char dir[256], path[512];
	struct userdb *udb = (struct userdb *)1;
	struct users *db = (struct users *)1;

	new_state(dir);
	snprintf(path, sizeof(path), "%s/settings", dir);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == USERDB_SETTINGS_FILE_BYTES &&
	      (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/users", dir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK(userdb_create(dir, state_key, &settings) == -EEXIST);
	struct users_settings bad = settings;
	bad.limits[0].max_normal = 32;
	CHECK(userdb_create(dir, state_key, &bad) == -EINVAL);
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	CHECK(userdb_create(path, state_key, &settings) == -ENOENT);
	CHECK(open_state(dir, 5000, &udb, &db) == 0);
	CHECK(users_count(db) == 0);
	CHECK(memcmp(users_settings(db), &settings, sizeof(settings)) == 0);
	close_state(udb, db);

	/* Wrong key: refused, outputs untouched. */
	uint8_t wrong[USERDB_KEY_BYTES];
	memcpy(wrong, state_key, sizeof(wrong));
	wrong[0] ^= 1;
	udb = (struct userdb *)1;
	CHECK(userdb_open(dir, wrong, 5000, &udb, &db) == -EBADMSG);
	CHECK(udb == (struct userdb *)1);
	/* No state at all, or no users/. */
	char empty[256];
	snprintf(empty, sizeof(empty), "%s/emptyXXXXXX", base);
	CHECK(mkdtemp(empty) != NULL);
	CHECK(open_state(empty, 1, &udb, &db) == -ENOENT);
	snprintf(path, sizeof(path), "%s/nonexistent", empty);
	CHECK(open_state(path, 1, &udb, &db) == -ENOENT);
	snprintf(path, sizeof(path), "%s/users", dir);
	CHECK(rmdir(path) == 0);
	CHECK(open_state(dir, 1, &udb, &db) == -ENOENT);
	/* create refuses a users/ that already holds files. */
	snprintf(path, sizeof(path), "%s/users", empty);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/users/stray", empty);
	write_all(path, (const uint8_t *)"x", 1);
	CHECK(userdb_create(empty, state_key, &settings) == -EEXIST);
	rm_rf(dir);
	rm_rf(empty);
}

static void round_trip_4096(void)
{
	char dir[256];
	struct userdb *udb;
	struct users *db, *db2;
	uint8_t h[ADDRHASH_BYTES], a[ADDR32_BYTES], priv[64];

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 0, 3) == 0);
	for (uint16_t uid = 1; uid < ACCOUNT_USERS_MAX; uid++) {
		uint8_t level = (uint8_t)(uid % 4);
		if (mk(db, uid, level) != 0) {
			CHECK(0);
			break;
		}
		/* Every 8th user gets addresses and a private field. */
		if (uid % 8 == 0) {
			hash_of(h, uid);
			CHECK(users_addr_add_normal(db, uid, h) == 0);
			CHECK(users_addr_add_shield(db, uid, shield_key, a, h) == 0);
			memset(priv, (int)uid, sizeof(priv));
			CHECK(users_private_set(db, uid, priv, 1 + uid % 64) == 0);
		}
	}
	CHECK(users_count(db) == ACCOUNT_USERS_MAX);
	struct userdb *udb2;
	CHECK(open_state(dir, 777, &udb2, &db2) == 0);
	CHECK(users_count(db2) == ACCOUNT_USERS_MAX);
	int diff = 0;
	for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid++) {
		const struct users_user *x = users_get(db, uid), *y = users_get(db2, uid);
		diff += !x || !y || !same_user(x, y) || y->last_request_ms != 777;
		for (int i = 0; x && y && i < x->addr_count; i++) {
			uint16_t o;
			uint8_t fl;
			bool sh = (x->addr[i].flags & ACCOUNT_FLAG_SHIELD) != 0;
			diff += users_lookup_hash(db2, x->addr[i].hash, sh, &o, &fl) != 0 || o != uid ||
			        fl != x->addr[i].flags;
		}
	}
	CHECK(diff == 0);
	CHECK(memcmp(users_settings(db), users_settings(db2), sizeof(settings)) == 0);
	/* Every file has the same size, whatever it holds. */
	char path[512];
	struct stat st;
	int sizes = 0;
	for (uint16_t uid = 0; uid < ACCOUNT_USERS_MAX; uid += 7) {
		user_path(path, dir, uid);
		sizes += stat(path, &st) == 0 && st.st_size == USERDB_USER_FILE_BYTES &&
		         (st.st_mode & 0777) == 0600;
	}
	CHECK(sizes == (ACCOUNT_USERS_MAX + 6) / 7);
	close_state(udb2, db2);
	close_state(udb, db);
	rm_rf(dir);
}

static void changes_persist(void)
{
	char dir[256], path[512];
	struct userdb *udb;
	struct users *db;
	uint8_t h[ADDRHASH_BYTES], a[ADDR32_BYTES], sh[ADDRHASH_BYTES];
	struct users_limits l = { 5, 1, 2 };
	uint16_t uid;
	uint8_t fl;

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 0, 3) == 0 && mk(db, 1, 0) == 0 && mk(db, 2, 0) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	CHECK(users_addr_add_shield(db, 2, shield_key, a, sh) == 0);
	CHECK(users_addr_set_flags(db, 2, sh, true, 0x21) == 0);
	CHECK(users_set_limits(db, 0, &l) == 0);
	CHECK(users_set_level(db, 1, 2) == 0);
	CHECK(users_delete(db, 1) == 0);
	user_path(path, dir, 1);
	CHECK(!exists(path));
	close_state(udb, db);

	CHECK(open_state(dir, 2, &udb, &db) == 0);
	CHECK(users_count(db) == 2 && !users_get(db, 1));
	CHECK(users_settings(db)->version == 2 && users_settings(db)->limits[0].max_shield == 2);
	CHECK(users_lookup_hash(db, h, false, &uid, &fl) == -ENOENT);
	CHECK(users_lookup_hash(db, sh, true, &uid, &fl) == 0 && uid == 2 && fl == 0xA1);
	/* Deleting a user whose file is already gone still succeeds. */
	user_path(path, dir, 2);
	CHECK(unlink(path) == 0);
	CHECK(users_delete(db, 2) == 0);
	close_state(udb, db);
	rm_rf(dir);
}

static void leftovers_removed(void)
{
	char dir[256], path[512];
	struct userdb *udb;
	struct users *db;

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 3, 0) == 0);
	close_state(udb, db);
	/* A crash between creating and renaming leaves these. */
	snprintf(path, sizeof(path), "%s/settings.tmp", dir);
	write_all(path, (const uint8_t *)"partial", 7);
	user_path(path, dir, 3);
	strcat(path, ".tmp");
	write_all(path, (const uint8_t *)"partial", 7);
	user_path(path, dir, 4);
	strcat(path, ".tmp");
	write_all(path, (const uint8_t *)"", 0);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(users_count(db) == 1 && users_get(db, 3));
	CHECK(!exists(path));
	user_path(path, dir, 3);
	strcat(path, ".tmp");
	CHECK(!exists(path));
	snprintf(path, sizeof(path), "%s/settings.tmp", dir);
	CHECK(!exists(path));
	close_state(udb, db);
	rm_rf(dir);
}

/* The directory listing (names only) of users/. */
static int count_users_dir(const char *dir, int *tmp)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/users", dir);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	*tmp = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			n++;
			*tmp += strstr(e->d_name, ".tmp") != NULL;
		}
	if (d)
		closedir(d);
	return n;
}

static void failing_writes(void)
{
	static const enum userdb_fault steps[] = { USERDB_FAULT_OPEN, USERDB_FAULT_WRITE,
		                                       USERDB_FAULT_FSYNC, USERDB_FAULT_RENAME,
		                                       USERDB_FAULT_DIRSYNC };
	char dir[256], path[512];
	static uint8_t before[USERDB_USER_FILE_BYTES], after[USERDB_USER_FILE_BYTES];
	struct userdb *udb, *udb2;
	struct users *db, *db2;
	uint8_t h[ADDRHASH_BYTES], h2[ADDRHASH_BYTES], a[ADDR32_BYTES];
	struct users_limits l = { 1, 1, 1 };
	int tmp;

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 0, 3) == 0 && mk(db, 1, 1) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	user_path(path, dir, 1);

	for (size_t s = 0; s < ARRAY_SIZE(steps); s++) {
		struct users_user mem = *users_get(db, 1);
		uint32_t version = users_settings(db)->version;
		CHECK(read_all(path, before, sizeof(before)) == sizeof(before));
		userdb_test_fault(udb, steps[s]);
		hash_of(h2, 2);
		CHECK(users_addr_add_normal(db, 1, h2) == -EIO);
		CHECK(users_addr_add_shield(db, 1, shield_key, a, h2) == -EIO);
		CHECK(users_set_level(db, 1, 2) == -EIO);
		CHECK(users_private_set(db, 1, (const uint8_t *)"p", 1) == -EIO);
		CHECK(users_set_limits(db, 1, &l) == -EIO);
		CHECK(mk(db, 5, 0) == -EIO);
		userdb_test_fault(udb, USERDB_FAULT_NONE);
		/* Memory unchanged, no temporary file left. */
		CHECK(memcmp(users_get(db, 1), &mem, sizeof(mem)) == 0);
		CHECK(!users_get(db, 5) && users_count(db) == 2);
		CHECK(users_settings(db)->version == version);
		CHECK(count_users_dir(dir, &tmp) == 2 + (steps[s] == USERDB_FAULT_DIRSYNC) && tmp == 0);
		CHECK(read_all(path, after, sizeof(after)) == sizeof(after));
		if (steps[s] != USERDB_FAULT_DIRSYNC) {
			/* Before the rename: the file on disk is the old one too. */
			CHECK(memcmp(before, after, sizeof(before)) == 0);
			CHECK(open_state(dir, 2, &udb2, &db2) == 0);
			CHECK(same_user(users_get(db2, 1), users_get(db, 1)));
			CHECK(users_count(db2) == 2);
			close_state(udb2, db2);
		} else {
			/* After the rename the outcome is not determined; the disk
			 * may hold the change, and it loads cleanly either way. */
			CHECK(open_state(dir, 2, &udb2, &db2) == 0);
			close_state(udb2, db2);
			/* User 5's file may exist while memory has no user 5: the
			 * daemon reported failure, so nothing was acknowledged. */
			char p5[512];
			user_path(p5, dir, 5);
			CHECK(exists(p5) && unlink(p5) == 0);
		}
	}
	/* Deleting: the unlink and the directory fsync. */
	userdb_test_fault(udb, USERDB_FAULT_UNLINK);
	CHECK(users_delete(db, 1) == -EIO);
	CHECK(users_get(db, 1) && exists(path));
	userdb_test_fault(udb, USERDB_FAULT_DIRSYNC);
	CHECK(users_delete(db, 1) == -EIO);
	CHECK(users_get(db, 1) != NULL);
	userdb_test_fault(udb, USERDB_FAULT_NONE);
	CHECK(users_delete(db, 1) == 0); /* the file is already gone: still fine */
	CHECK(!users_get(db, 1) && !exists(path));
	close_state(udb, db);
	rm_rf(dir);
}

static void real_write_failure(void)
{
	/* A file size limit makes write() fail for real (EFBIG). */
	char dir[256], path[512];
	struct userdb *udb;
	struct users *db;
	struct rlimit old, small = { 4096, 4096 };
	int tmp;

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 1, 0) == 0);
	struct users_user mem = *users_get(db, 1);
	signal(SIGXFSZ, SIG_IGN);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	small.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
	int rc1 = users_set_level(db, 1, 2);
	int rc2 = mk(db, 2, 0);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_DFL);
	CHECK(rc1 == -EIO && rc2 == -EIO);
	CHECK(memcmp(users_get(db, 1), &mem, sizeof(mem)) == 0 && !users_get(db, 2));
	CHECK(count_users_dir(dir, &tmp) == 1 && tmp == 0);
	user_path(path, dir, 2);
	CHECK(!exists(path));
	CHECK(users_set_level(db, 1, 2) == 0);
	close_state(udb, db);
	rm_rf(dir);
}

/* Makes a state with users 1 and 2 (each with an address) and returns the
 * paths of their files. */
static void two_user_state(char dir[256], char p1[512], char p2[512])
{
	struct userdb *udb;
	struct users *db;
	uint8_t h[ADDRHASH_BYTES];
	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	CHECK(mk(db, 1, 0) == 0 && mk(db, 2, 0) == 0);
	hash_of(h, 1);
	CHECK(users_addr_add_normal(db, 1, h) == 0);
	hash_of(h, 2);
	CHECK(users_addr_add_normal(db, 2, h) == 0);
	close_state(udb, db);
	user_path(p1, dir, 1);
	user_path(p2, dir, 2);
}

static int try_open(const char *dir)
{
	struct userdb *udb;
	struct users *db;
	int rc = open_state(dir, 1, &udb, &db);
	if (rc == 0)
		close_state(udb, db);
	return rc;
}

/* Seals plain as a user file under uid's name (as only the key holder can). */
static void plant(const char *dir, uint16_t name_uid, const uint8_t *plain)
{
	static uint8_t file[USERDB_USER_FILE_BYTES];
	char name[USERDB_NAME_LEN + 1], path[512];
	uint8_t nonce[USERDB_NONCE_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	userdb_user_filename(name, name_uid, name_key);
	userdb_seal(file, plain, USERDB_USER_PLAIN_BYTES, USERDB_KIND_USER, name, nonce, enc_key);
	snprintf(path, sizeof(path), "%s/users/%s", dir, name);
	write_all(path, file, sizeof(file));
}

static void damaged_files_refused(void)
{
	char dir[256], p1[512], p2[512], path[512];
	static uint8_t f1[USERDB_USER_FILE_BYTES + 1], f2[USERDB_USER_FILE_BYTES];
	static uint8_t plain[USERDB_USER_PLAIN_BYTES];

	two_user_state(dir, p1, p2);
	CHECK(try_open(dir) == 0);
	CHECK(read_all(p1, f1, sizeof(f1)) == USERDB_USER_FILE_BYTES);
	CHECK(read_all(p2, f2, sizeof(f2)) == USERDB_USER_FILE_BYTES);

	/* A flipped bit in the header, the nonce, the ciphertext, the tag. */
	static const size_t offs[] = { 0, 7, 8, 31, 32, 4000, USERDB_USER_FILE_BYTES - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		f1[offs[i]] ^= 4;
		write_all(p1, f1, USERDB_USER_FILE_BYTES);
		CHECK(try_open(dir) == -EBADMSG);
		f1[offs[i]] ^= 4;
	}
	write_all(p1, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == 0);
	/* Truncated, empty, one trailing byte. */
	write_all(p1, f1, USERDB_USER_FILE_BYTES - 1);
	CHECK(try_open(dir) == -EBADMSG);
	write_all(p1, f1, 0);
	CHECK(try_open(dir) == -EBADMSG);
	f1[USERDB_USER_FILE_BYTES] = 0;
	write_all(p1, f1, USERDB_USER_FILE_BYTES + 1);
	CHECK(try_open(dir) == -EBADMSG);
	/* Swapped between the two users, or one copied over the other. */
	write_all(p1, f2, USERDB_USER_FILE_BYTES);
	write_all(p2, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == -EBADMSG);
	write_all(p2, f2, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == -EBADMSG);
	write_all(p1, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == 0);
	/* A user file renamed to a name no uid has, or to an unknown name. */
	snprintf(path, sizeof(path), "%s/users/%032x", dir, 0);
	write_all(path, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == -EBADMSG);
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/users/backup", dir);
	write_all(path, f1, 1);
	CHECK(try_open(dir) == -EBADMSG);
	CHECK(unlink(path) == 0);
	/* A directory or a symlink where a user file should be. */
	CHECK(unlink(p1) == 0 && mkdir(p1, 0700) == 0);
	CHECK(try_open(dir) < 0);
	CHECK(rmdir(p1) == 0 && symlink(p2, p1) == 0);
	CHECK(try_open(dir) < 0);
	CHECK(unlink(p1) == 0);
	write_all(p1, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == 0);

	/* Validly sealed but wrong inside (only the key holder could do this):
	 * uid 1's record under uid 3's name; a record with level 4; a record
	 * repeating uid 2's address; a record repeating uid 2's UAK. */
	struct users_user u;
	CHECK(userdb_unseal(plain, f1, USERDB_USER_FILE_BYTES, USERDB_KIND_USER, strrchr(p1, '/') + 1,
	                    enc_key) == 0);
	CHECK(userdb_user_decode(plain, sizeof(plain), &u) == 0);
	plant(dir, 3, plain);
	CHECK(try_open(dir) == -EBADMSG);
	user_path(path, dir, 3);
	CHECK(unlink(path) == 0);
	u.uid = 3;
	uak_of(u.uak, 3);
	userdb_user_encode(&u, plain);
	plain[2] = 4;
	plant(dir, 3, plain);
	CHECK(try_open(dir) == -EBADMSG);
	hash_of(u.addr[0].hash, 2);
	userdb_user_encode(&u, plain);
	plant(dir, 3, plain);
	CHECK(try_open(dir) == -EBADMSG);
	hash_of(u.addr[0].hash, 3);
	uak_of(u.uak, 2);
	userdb_user_encode(&u, plain);
	plant(dir, 3, plain);
	CHECK(try_open(dir) == -EBADMSG);
	uak_of(u.uak, 3);
	userdb_user_encode(&u, plain);
	plant(dir, 3, plain);
	CHECK(try_open(dir) == 0); /* and the honest version loads */
	users_user_clear(&u);

	/* Settings: damaged or missing. */
	uint8_t s[USERDB_SETTINGS_FILE_BYTES];
	snprintf(path, sizeof(path), "%s/settings", dir);
	CHECK(read_all(path, s, sizeof(s)) == sizeof(s));
	s[100] ^= 1;
	write_all(path, s, sizeof(s));
	CHECK(try_open(dir) == -EBADMSG);
	s[100] ^= 1;
	write_all(path, s, sizeof(s) - 1);
	CHECK(try_open(dir) == -EBADMSG);
	/* A user file where the settings should be. */
	write_all(path, f1, USERDB_USER_FILE_BYTES);
	CHECK(try_open(dir) == -EBADMSG);
	CHECK(unlink(path) == 0);
	CHECK(try_open(dir) == -ENOENT);
	write_all(path, s, sizeof(s));
	CHECK(try_open(dir) == 0);
	rm_rf(dir);
}

/* Occurrences of needle in every file under dir. */
static int scan_count;
static const uint8_t *scan_needle;
static size_t scan_len;

static int scan_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	static uint8_t buf[1 << 16];
	if (flag != FTW_F || st->st_size > (off_t)sizeof(buf))
		return 0;
	size_t n = read_all(path, buf, sizeof(buf));
	if (n >= scan_len)
		for (size_t i = 0; i + scan_len <= n; i++)
			scan_count += memcmp(buf + i, scan_needle, scan_len) == 0;
	/* File names too. */
	if (memmem(path, strlen(path), scan_needle, scan_len))
		scan_count++;
	return 0;
}

static int scan(const char *dir, const void *needle, size_t n)
{
	scan_count = 0;
	scan_needle = needle;
	scan_len = n;
	nftw(dir, scan_one, 16, FTW_PHYS);
	return scan_count;
}

static void no_plaintext_on_disk(void)
{
	char dir[256];
	struct userdb *udb;
	struct users *db;
	uint8_t uak[ACCOUNT_UAK_BYTES], epk[ACCOUNT_EPK_BYTES];
	uint8_t shield[4][ADDR32_BYTES], shash[4][ADDRHASH_BYTES], nhash[4][ADDRHASH_BYTES];
	uint8_t naddr[4][ADDR32_BYTES];
	static const char *names[4] = { "alice", "bob.smith", "carol", "dave-x" };
	static const uint16_t uids[4] = { 1, 17, 291, 4095 };
	char canary[64];

	new_state(dir);
	CHECK(open_state(dir, 1, &udb, &db) == 0);
	for (int i = 0; i < 4; i++) {
		memset(uak, 0, sizeof(uak));
		snprintf((char *)uak, sizeof(uak), "UAK-CANARY-%d-0123456789abcdef", i);
		snprintf((char *)epk, sizeof(epk), "EPK-CANARY-%d-0123456789abcdef", i);
		CHECK(users_create(db, uids[i], 2, uak, epk, 1, NULL) == 0);
		CHECK(addr32_parse(names[i], strlen(names[i]), naddr[i]) == ADDR32_NORMAL);
		CHECK(addrhash_normal(nhash[i], naddr[i], salt, &fast) == 0);
		CHECK(users_addr_add_normal(db, uids[i], nhash[i]) == 0);
		CHECK(users_addr_add_shield(db, uids[i], shield_key, shield[i], shash[i]) == 0);
		int n = snprintf(canary, sizeof(canary), "PRIVATE-CANARY-%d-the-quick-brown-fox", i);
		CHECK(users_private_set(db, uids[i], (const uint8_t *)canary, (size_t)n) == 0);
	}
	close_state(udb, db);

	int hits = 0;
	for (int i = 0; i < 4; i++) {
		char un[USERID_NAME_LEN + 1];
		snprintf(canary, sizeof(canary), "UAK-CANARY-%d", i);
		hits += scan(dir, canary, strlen(canary));
		snprintf(canary, sizeof(canary), "EPK-CANARY-%d", i);
		hits += scan(dir, canary, strlen(canary));
		snprintf(canary, sizeof(canary), "PRIVATE-CANARY-%d", i);
		hits += scan(dir, canary, strlen(canary));
		hits += scan(dir, nhash[i], ADDRHASH_BYTES);
		hits += scan(dir, shash[i], ADDRHASH_BYTES);
		hits += scan(dir, shield[i], ADDR32_BYTES);
		hits += scan(dir, naddr[i], ADDR32_BYTES);
		hits += scan(dir, names[i], strlen(names[i]));
		/* The username: no file name holds it. A 3-byte string could
		 * turn up by chance in 35 KiB of ciphertext, so only the names. */
		userid_to_name(uids[i], un);
		char path[512];
		snprintf(path, sizeof(path), "%s/users", dir);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)))
			hits += strstr(e->d_name, un) != NULL;
		if (d)
			closedir(d);
	}
	/* Nor the settings' secrets (reserved hashes, decoy key). */
	hits += scan(dir, settings.reserved_hash[1], ADDRHASH_BYTES);
	hits += scan(dir, settings.decoy_key, ACCOUNT_DECOY_KEY_BYTES);
	hits += scan(dir, settings.system_hash, ADDRHASH_BYTES);
	CHECK(hits == 0);
	/* The scanner works: plant a canary and find it. */
	char path[512];
	snprintf(path, sizeof(path), "%s/users/probe.tmp", dir);
	write_all(path, (const uint8_t *)"xxUAK-CANARY-1yy", 16);
	CHECK(scan(dir, "UAK-CANARY-1", 12) == 1);
	rm_rf(dir);
}

int main(void)
{
	check_init();
	check_unhex("d196f783f404b9241d72f6a16c55228a0c1237a8e328737892d541bf4e17cfea", state_key, 32);
	userdb_derive_keys(enc_key, name_key, state_key);
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(0xA0 + i);
	for (size_t i = 0; i < sizeof(shield_key); i++)
		shield_key[i] = (uint8_t)i;
	if (users_settings_init(&settings, &fast, salt) != 0) {
		printf("FAIL users_settings_init\n");
		return 1;
	}
	const char *t = getenv("TMPDIR");
	snprintf(base, sizeof(base), "%s/test_account_userdb.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(golden_keys_and_names);
	RUN(golden_settings_file);
	RUN(golden_user_file);
	RUN(user_decode_rejects);
	RUN(settings_decode_rejects);
	RUN(unseal_rejects);
	RUN(create_and_open);
	RUN(round_trip_4096);
	RUN(changes_persist);
	RUN(leftovers_removed);
	RUN(failing_writes);
	RUN(real_write_failure);
	RUN(damaged_files_refused);
	RUN(no_plaintext_on_disk);
	rm_rf(base);
	return check_finish();
}
