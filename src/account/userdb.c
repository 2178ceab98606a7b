/* userdb.c: Account's encrypted state directory (docs/PROTOCOL.md section 8).
 * Files have fixed sizes so the disk shows how many users there are but not
 * how many addresses or how much private data each has. */
#include "account/userdb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/bytes.h"
#include "common/durable.h"

_Static_assert(USERDB_USER_PLAIN_BYTES == 8549, "user layout");
_Static_assert(USERDB_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(USERDB_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(USERDB_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(USERDB_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key");
_Static_assert(sizeof(USERDB_KDF_ENC_CTX) - 1 == crypto_kdf_CONTEXTBYTES, "ctx");
_Static_assert(sizeof(USERDB_KDF_NAME_CTX) - 1 == crypto_kdf_CONTEXTBYTES, "ctx");

#define NAME_BUF 64 /* longest name we make: 32 hex + ".tmp" */

static const char *const format_name[] = {
	[USERDB_KIND_USER] = "acc-usr",
	[USERDB_KIND_SETTINGS] = "acc-set",
};

/* --- codecs --- */

void userdb_user_encode(const struct users_user *u, uint8_t out[USERDB_USER_PLAIN_BYTES])
{
	if (users_user_valid(u) < 0)
		fatalx("userdb_user_encode: invalid user %u", u->uid);
	memset(out, 0, USERDB_USER_PLAIN_BYTES);
	le16_store(out, u->uid);
	out[2] = u->level;
	out[3] = u->addr_count;
	le64_store(out + 4, u->created_ms);
	memcpy(out + 12, u->uak, ACCOUNT_UAK_BYTES);
	memcpy(out + 44, u->epk, ACCOUNT_EPK_BYTES);
	for (int i = 0; i < u->addr_count; i++) {
		uint8_t *p = out + USERDB_USER_ADDR_OFF + 9 * i;
		memcpy(p, u->addr[i].hash, ADDRHASH_BYTES);
		p[8] = u->addr[i].flags;
	}
	le16_store(out + USERDB_USER_PRIVLEN_OFF, u->priv_len);
	if (u->priv_len)
		memcpy(out + USERDB_USER_PRIV_OFF, u->priv, u->priv_len);
}

int userdb_user_decode(const uint8_t *in, size_t len, struct users_user *ret_u)
{
	struct users_user u;
	struct rd r = rd_init(in, len);

	if (len != USERDB_USER_PLAIN_BYTES)
		return -EBADMSG;
	memset(&u, 0, sizeof(u));
	u.uid = rd_u16(&r);
	u.level = rd_u8(&r);
	u.addr_count = rd_u8(&r);
	u.created_ms = rd_u64(&r);
	rd_copy(&r, u.uak, ACCOUNT_UAK_BYTES);
	rd_copy(&r, u.epk, ACCOUNT_EPK_BYTES);
	if (u.addr_count > ACCOUNT_ADDR_MAX)
		rd_fail(&r);
	for (int i = 0; i < ACCOUNT_ADDR_MAX; i++) {
		const uint8_t *p = rd_take(&r, 9);
		if (!p)
			break;
		if (i < u.addr_count) {
			memcpy(u.addr[i].hash, p, ADDRHASH_BYTES);
			u.addr[i].flags = p[8];
		} else if (!sodium_is_zero(p, 9)) {
			rd_fail(&r); /* unused slots are zero */
		}
	}
	u.priv_len = rd_u16(&r);
	const uint8_t *priv = rd_take(&r, ACCOUNT_PRIVATE_MAX);
	if (u.priv_len > ACCOUNT_PRIVATE_MAX ||
	    (priv && !sodium_is_zero(priv + u.priv_len, ACCOUNT_PRIVATE_MAX - u.priv_len)))
		rd_fail(&r);
	if (!rd_done(&r)) {
		sodium_memzero(&u, sizeof(u));
		return -EBADMSG;
	}
	if (u.priv_len) {
		u.priv = xmalloc(u.priv_len);
		memcpy(u.priv, priv, u.priv_len);
	}
	if (users_user_valid(&u) < 0) {
		users_user_clear(&u);
		return -EBADMSG;
	}
	*ret_u = u;
	return 0;
}

void userdb_settings_encode(const struct users_settings *s,
                            uint8_t out[USERDB_SETTINGS_PLAIN_BYTES])
{
	if (users_settings_valid(s) < 0 || addrhash_params_encode(&s->params, out + 4) < 0)
		fatalx("userdb_settings_encode: invalid settings");
	le32_store(out, s->version);
	uint8_t *p = out + 12;
	for (size_t l = 0; l < ACCOUNT_LEVELS; l++, p += 6) {
		le32_store(p, s->limits[l].storage_mib);
		p[4] = s->limits[l].max_normal;
		p[5] = s->limits[l].max_shield;
	}
	memcpy(p, s->system_hash, ADDRHASH_BYTES);
	p += ADDRHASH_BYTES;
	for (size_t i = 0; i < ACCOUNT_RESERVED_COUNT; i++, p += ADDRHASH_BYTES)
		memcpy(p, s->reserved_hash[i], ADDRHASH_BYTES);
	memcpy(p, s->decoy_key, ACCOUNT_DECOY_KEY_BYTES);
}

int userdb_settings_decode(const uint8_t *in, size_t len, struct users_settings *ret_s)
{
	struct users_settings s;
	struct rd r = rd_init(in, len);

	memset(&s, 0, sizeof(s));
	s.version = rd_u32(&r);
	const uint8_t *pb = rd_take(&r, ADDRHASH_PARAMS_BYTES);
	if (!pb || addrhash_params_decode(pb, ADDRHASH_PARAMS_BYTES, &s.params) < 0)
		rd_fail(&r);
	for (size_t l = 0; l < ACCOUNT_LEVELS; l++) {
		s.limits[l].storage_mib = rd_u32(&r);
		s.limits[l].max_normal = rd_u8(&r);
		s.limits[l].max_shield = rd_u8(&r);
	}
	rd_copy(&r, s.system_hash, ADDRHASH_BYTES);
	for (size_t i = 0; i < ACCOUNT_RESERVED_COUNT; i++)
		rd_copy(&r, s.reserved_hash[i], ADDRHASH_BYTES);
	rd_copy(&r, s.decoy_key, ACCOUNT_DECOY_KEY_BYTES);
	int rc = rd_done(&r) && users_settings_valid(&s) == 0 ? 0 : -EBADMSG;
	if (rc == 0)
		*ret_s = s;
	sodium_memzero(&s, sizeof(s));
	return rc;
}

/* --- keys, names, sealing --- */

void userdb_derive_keys(uint8_t enc_key[USERDB_KEY_BYTES], uint8_t name_key[USERDB_KEY_BYTES],
                        const uint8_t state_key[USERDB_KEY_BYTES])
{
	if (crypto_kdf_derive_from_key(enc_key, USERDB_KEY_BYTES, 1, USERDB_KDF_ENC_CTX, state_key) != 0 ||
	    crypto_kdf_derive_from_key(name_key, USERDB_KEY_BYTES, 1, USERDB_KDF_NAME_CTX, state_key) != 0)
		fatalx("crypto_kdf_derive_from_key");
}

void userdb_user_filename(char out[USERDB_NAME_LEN + 1], uint16_t uid,
                          const uint8_t name_key[USERDB_KEY_BYTES])
{
	uint8_t in[2], h[USERDB_NAME_HASH_BYTES];
	if (uid >= ACCOUNT_USERS_MAX)
		fatalx("userdb_user_filename: uid %u", uid);
	le16_store(in, uid);
	crypto_generichash(h, sizeof(h), in, sizeof(in), name_key, USERDB_KEY_BYTES);
	sodium_bin2hex(out, USERDB_NAME_LEN + 1, h, sizeof(h));
}

static void make_header(uint8_t hdr[USERDB_HEADER_BYTES], enum userdb_kind kind)
{
	memcpy(hdr, format_name[kind], USERDB_FORMAT_LEN);
	hdr[USERDB_FORMAT_LEN] = USERDB_VERSION;
}

/* AD = header || name; names are at most NAME_BUF bytes. */
static size_t make_ad(uint8_t ad[USERDB_HEADER_BYTES + NAME_BUF], enum userdb_kind kind,
                      const char *name)
{
	size_t n = strlen(name);
	if (n > NAME_BUF)
		fatalx("userdb: file name too long");
	make_header(ad, kind);
	memcpy(ad + USERDB_HEADER_BYTES, name, n);
	return USERDB_HEADER_BYTES + n;
}

void userdb_seal(uint8_t *out, const uint8_t *plain, size_t plain_len, enum userdb_kind kind,
                 const char *name, const uint8_t nonce[USERDB_NONCE_BYTES],
                 const uint8_t enc_key[USERDB_KEY_BYTES])
{
	uint8_t ad[USERDB_HEADER_BYTES + NAME_BUF];
	size_t ad_len = make_ad(ad, kind, name);
	make_header(out, kind);
	memcpy(out + USERDB_HEADER_BYTES, nonce, USERDB_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + USERDB_HEADER_BYTES + USERDB_NONCE_BYTES,
	                                           NULL, plain, plain_len, ad, ad_len, NULL, nonce,
	                                           enc_key);
}

int userdb_unseal(uint8_t *plain, const uint8_t *file, size_t file_len, enum userdb_kind kind,
                  const char *name, const uint8_t enc_key[USERDB_KEY_BYTES])
{
	uint8_t ad[USERDB_HEADER_BYTES + NAME_BUF];
	size_t ad_len = make_ad(ad, kind, name);
	if (file_len < USERDB_OVERHEAD || memcmp(file, ad, USERDB_HEADER_BYTES) != 0)
		return -EBADMSG;
	const uint8_t *nonce = file + USERDB_HEADER_BYTES;
	const uint8_t *c = nonce + USERDB_NONCE_BYTES;
	size_t c_len = file_len - USERDB_HEADER_BYTES - USERDB_NONCE_BYTES;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, c, c_len, ad, ad_len, nonce,
	                                               enc_key) != 0)
		return -EBADMSG;
	return 0;
}

/* --- the state directory --- */

struct userdb_secrets {
	uint8_t enc_key[USERDB_KEY_BYTES];
	uint8_t name_key[USERDB_KEY_BYTES];
	uint8_t plain[USERDB_USER_PLAIN_BYTES];
	uint8_t file[USERDB_USER_FILE_BYTES];
};

struct userdb {
	int dirfd;   /* the state directory */
	int usersfd; /* users/ */
	enum userdb_fault fault;
	struct userdb_secrets *sec; /* sodium_malloc */
};

static struct userdb *userdb_new(int dirfd, const uint8_t state_key[USERDB_KEY_BYTES])
{
	struct userdb *db = xcalloc(1, sizeof(*db));
	db->dirfd = dirfd;
	db->usersfd = -1;
	db->sec = sodium_malloc(sizeof(*db->sec));
	if (!db->sec)
		fatal("sodium_malloc userdb");
	userdb_derive_keys(db->sec->enc_key, db->sec->name_key, state_key);
	return db;
}

void userdb_close(struct userdb *db)
{
	if (!db)
		return;
	if (db->usersfd >= 0)
		close(db->usersfd);
	if (db->dirfd >= 0)
		close(db->dirfd);
	sodium_free(db->sec);
	free(db);
}

void userdb_test_fault(struct userdb *db, enum userdb_fault f)
{
	db->fault = f;
}

/* The test hook: true (errno = EIO) when this step is to fail instead of
 * being carried out. */
static bool fault(const struct userdb *db, enum userdb_fault step)
{
	if (db->fault != step)
		return false;
	errno = EIO;
	return true;
}

static bool durable_fault(void *ctx, enum durable_step step)
{
	static const enum userdb_fault map[] = {
		[DURABLE_OPEN] = USERDB_FAULT_OPEN,       [DURABLE_WRITE] = USERDB_FAULT_WRITE,
		[DURABLE_FSYNC] = USERDB_FAULT_FSYNC,     [DURABLE_RENAME] = USERDB_FAULT_RENAME,
		[DURABLE_DIRSYNC] = USERDB_FAULT_DIRSYNC,
	};
	return fault(ctx, map[step]);
}

/* Writes name in dirfd whole and durably (durable.h). Logs and returns -EIO on
 * any failure. */
static int write_file(struct userdb *db, int dirfd, const char *name, const uint8_t *data,
                      size_t len)
{
	char tmp[NAME_BUF + sizeof(USERDB_TMP_SUFFIX)];
	snprintf(tmp, sizeof(tmp), "%s%s", name, USERDB_TMP_SUFFIX);
	enum durable_step step;
	int rc = durable_replace(dirfd, name, tmp, data, len, durable_fault, db, &step);
	if (rc < 0) {
		log_err("userdb: %s of %s failed: %s", durable_step_name(step), tmp, strerror(-rc));
		return -EIO;
	}
	return 0;
}

static int save_user(void *ctx, const struct users_user *u)
{
	struct userdb *db = ctx;
	struct userdb_secrets *s = db->sec;
	char name[USERDB_NAME_LEN + 1];
	uint8_t nonce[USERDB_NONCE_BYTES];

	userdb_user_filename(name, u->uid, s->name_key);
	userdb_user_encode(u, s->plain);
	randombytes_buf(nonce, sizeof(nonce));
	userdb_seal(s->file, s->plain, USERDB_USER_PLAIN_BYTES, USERDB_KIND_USER, name, nonce,
	            s->enc_key);
	sodium_memzero(s->plain, sizeof(s->plain));
	return write_file(db, db->usersfd, name, s->file, USERDB_USER_FILE_BYTES);
}

static int delete_user(void *ctx, uint16_t uid)
{
	struct userdb *db = ctx;
	char name[USERDB_NAME_LEN + 1];

	userdb_user_filename(name, uid, db->sec->name_key);
	/* A file already gone counts as deleted: retrying a delete must work. */
	if ((fault(db, USERDB_FAULT_UNLINK) || unlinkat(db->usersfd, name, 0) != 0) &&
	    errno != ENOENT) {
		log_err("userdb: unlink of %s failed: %s", name, strerror(errno));
		return -EIO;
	}
	if (fault(db, USERDB_FAULT_DIRSYNC) || fsync(db->usersfd) != 0) {
		log_err("userdb: directory fsync after deleting %s: %s", name, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int write_settings(struct userdb *db, const struct users_settings *st)
{
	uint8_t plain[USERDB_SETTINGS_PLAIN_BYTES], file[USERDB_SETTINGS_FILE_BYTES];
	uint8_t nonce[USERDB_NONCE_BYTES];

	userdb_settings_encode(st, plain);
	randombytes_buf(nonce, sizeof(nonce));
	userdb_seal(file, plain, sizeof(plain), USERDB_KIND_SETTINGS, USERDB_SETTINGS_NAME, nonce,
	            db->sec->enc_key);
	sodium_memzero(plain, sizeof(plain));
	return write_file(db, db->dirfd, USERDB_SETTINGS_NAME, file, sizeof(file));
}

static int save_settings(void *ctx, const struct users_settings *st)
{
	return write_settings(ctx, st);
}

struct users_store userdb_store(struct userdb *db)
{
	return (struct users_store){ .ctx = db,
		                         .save_user = save_user,
		                         .delete_user = delete_user,
		                         .save_settings = save_settings };
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool is_user_name(const char *s)
{
	if (strlen(s) != USERDB_NAME_LEN)
		return false;
	for (size_t i = 0; i < USERDB_NAME_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Reads name in dirfd, which must be a regular file of exactly len bytes. */
static int read_file(int dirfd, const char *name, uint8_t *out, size_t len)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EIO;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = -EIO;
	} else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len) {
		rc = -EBADMSG;
	} else {
		for (size_t off = 0; off < len;) {
			ssize_t n = read(fd, out + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = n == 0 ? -EBADMSG : -EIO;
				break;
			}
			off += (size_t)n;
		}
	}
	close(fd);
	return rc;
}

/* Removes a leftover temporary file; true if one was there. */
static bool remove_tmp(int dirfd, const char *tmp)
{
	if (unlinkat(dirfd, tmp, 0) == 0) {
		log_notice("userdb: removed leftover %s", tmp);
		return true;
	}
	return false;
}

static int load_settings(struct userdb *db, struct users_settings *ret)
{
	uint8_t file[USERDB_SETTINGS_FILE_BYTES], plain[USERDB_SETTINGS_PLAIN_BYTES];
	int rc = read_file(db->dirfd, USERDB_SETTINGS_NAME, file, sizeof(file));
	if (rc == -ENOENT) {
		log_err("userdb: no settings file: the state is not initialised");
		return rc;
	}
	if (rc == 0 && (userdb_unseal(plain, file, sizeof(file), USERDB_KIND_SETTINGS,
	                              USERDB_SETTINGS_NAME, db->sec->enc_key) < 0 ||
	                userdb_settings_decode(plain, sizeof(plain), ret) < 0))
		rc = -EBADMSG;
	if (rc < 0)
		log_err("userdb: settings: %s", rc == -EIO ? "read error"
		                                            : "wrong size, wrong key or damaged file");
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

static int load_user(struct userdb *db, struct users *users, const char *name)
{
	struct userdb_secrets *s = db->sec;
	struct users_user u;
	char expect[USERDB_NAME_LEN + 1];
	const char *why = NULL;

	int rc = read_file(db->usersfd, name, s->file, USERDB_USER_FILE_BYTES);
	if (rc < 0) {
		why = rc == -EIO ? "read error" : "not a regular file of the right size";
	} else if (userdb_unseal(s->plain, s->file, USERDB_USER_FILE_BYTES, USERDB_KIND_USER, name,
	                         s->enc_key) < 0) {
		why = "does not decrypt (wrong key, damaged, or moved from another name)";
	} else if (userdb_user_decode(s->plain, USERDB_USER_PLAIN_BYTES, &u) < 0) {
		why = "invalid user record";
	} else {
		userdb_user_filename(expect, u.uid, s->name_key);
		if (strcmp(expect, name) != 0)
			why = "user record under another user's name";
		else if (users_insert_loaded(users, &u) < 0)
			why = "an address or UAK that another user also holds";
		if (why)
			users_user_clear(&u);
	}
	sodium_memzero(s->plain, sizeof(s->plain));
	if (!why)
		return 0;
	log_err("userdb: users/%s: %s; refusing to start without this user", name, why);
	return rc == -EIO ? -EIO : -EBADMSG;
}

static int load_users(struct userdb *db, struct users *users, bool *removed)
{
	int fd = dup(db->usersfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		log_err("userdb: cannot list users/: %s", strerror(errno));
		return -EIO;
	}
	int rc = 0;
	struct dirent *e;
	errno = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (has_suffix(e->d_name, USERDB_TMP_SUFFIX))
			*removed |= remove_tmp(db->usersfd, e->d_name);
		else if (is_user_name(e->d_name))
			rc = load_user(db, users, e->d_name);
		else {
			log_err("userdb: users/ holds an unknown file; refusing to start");
			rc = -EBADMSG;
		}
		errno = 0;
	}
	if (rc == 0 && errno != 0) {
		log_err("userdb: cannot list users/: %s", strerror(errno));
		rc = -EIO;
	}
	closedir(d);
	return rc;
}

/* An fd for dir, or -ENOENT / -EIO (logged). */
static int open_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int rc = errno == ENOENT ? -ENOENT : -EIO;
	log_err("userdb: cannot open %s: %s", dir, strerror(errno));
	return rc;
}

int userdb_open(const char *dir, const uint8_t state_key[USERDB_KEY_BYTES], uint64_t now_ms,
                struct userdb **ret_db, struct users **ret_users)
{
	struct users_settings st;
	struct users *users = NULL;
	bool removed = false;
	int rc;

	int dirfd = open_dir(dir);
	if (dirfd < 0)
		return dirfd;
	struct userdb *db = userdb_new(dirfd, state_key);
	removed |= remove_tmp(dirfd, USERDB_SETTINGS_NAME USERDB_TMP_SUFFIX);
	if ((rc = load_settings(db, &st)) < 0)
		goto fail;
	db->usersfd = openat(dirfd, USERDB_USERS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (db->usersfd < 0) {
		rc = errno == ENOENT ? -ENOENT : -EIO;
		log_err("userdb: cannot open users/: %s", strerror(errno));
		goto fail;
	}
	users = users_new(&st);
	sodium_memzero(&st, sizeof(st));
	if ((rc = load_users(db, users, &removed)) < 0)
		goto fail;
	if (removed && (fsync(db->usersfd) != 0 || fsync(dirfd) != 0)) {
		log_err("userdb: directory fsync: %s", strerror(errno));
		rc = -EIO;
		goto fail;
	}
	users_replay_reset(users, now_ms);
	struct users_store store = userdb_store(db);
	users_set_store(users, &store);
	*ret_db = db;
	*ret_users = users;
	return 0;
fail:
	sodium_memzero(&st, sizeof(st));
	users_free(users);
	userdb_close(db);
	return rc;
}

/* True if the directory holds anything but temporary files. */
static int dir_has_files(int dirfd, bool *ret)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	struct dirent *e;
	bool any = false;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    !has_suffix(e->d_name, USERDB_TMP_SUFFIX))
			any = true;
	closedir(d);
	*ret = any;
	return 0;
}

int userdb_create(const char *dir, const uint8_t state_key[USERDB_KEY_BYTES],
                  const struct users_settings *s)
{
	struct stat st;
	bool any = false;
	int rc = -EIO;

	if (users_settings_valid(s) < 0)
		return -EINVAL;
	int dirfd = open_dir(dir);
	if (dirfd < 0)
		return dirfd;
	struct userdb *db = userdb_new(dirfd, state_key);
	if (fstatat(dirfd, USERDB_SETTINGS_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_err("userdb: %s already holds a state", dir);
		rc = -EEXIST;
		goto out;
	}
	if (mkdirat(dirfd, USERDB_USERS_DIR, 0700) != 0 && errno != EEXIST) {
		log_err("userdb: mkdir users/: %s", strerror(errno));
		goto out;
	}
	db->usersfd = openat(dirfd, USERDB_USERS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (db->usersfd < 0 || dir_has_files(db->usersfd, &any) < 0) {
		log_err("userdb: cannot read users/: %s", strerror(errno));
		goto out;
	}
	if (any) {
		log_err("userdb: %s/users already holds files", dir);
		rc = -EEXIST;
		goto out;
	}
	if (fsync(dirfd) != 0) {
		log_err("userdb: directory fsync: %s", strerror(errno));
		goto out;
	}
	rc = write_settings(db, s);
out:
	userdb_close(db);
	return rc;
}
