/* invites.c: open invitations and the bootstrap invitation file
 * (docs/PROTOCOL.md 12.6, 12.9). A change is written to a copy, made durable
 * (temporary file, fsync, rename, fsync of the directory) and only then
 * applied, so memory never holds what the disk does not. */
#include "account/invites.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/durable.h"

_Static_assert(INVITES_FILE_BYTES == 4152, "invites file size");
_Static_assert(sizeof(INVITES_KDF_CTX) - 1 == crypto_kdf_CONTEXTBYTES, "ctx");
_Static_assert(sizeof(INVITES_FORMAT) - 1 == INVITES_HEADER_BYTES - 1, "format name");
_Static_assert(INVITES_MAX <= UINT8_MAX, "count is u8");

#define NAME_BUF 64

struct invites_secrets {
	uint8_t file_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	struct invite e[INVITES_MAX];
	struct invite tmp[INVITES_MAX];
	uint8_t plain[INVITES_PLAIN_BYTES];
	uint8_t file[INVITES_FILE_BYTES];
};

struct invites {
	int dirfd; /* -1: memory only */
	size_t n;
	struct invites_secrets *sec; /* sodium_malloc */
};

/* ---- codec ---- */

void invites_encode(const struct invite *e, size_t n, uint8_t out[INVITES_PLAIN_BYTES])
{
	if (n > INVITES_MAX)
		fatalx("invites_encode: %zu entries", n);
	memset(out, 0, INVITES_PLAIN_BYTES);
	out[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = out + 8 + i * INVITES_ENTRY_BYTES;
		memcpy(p, e[i].id, APIREQ_INVITE_ID_BYTES);
		memcpy(p + 16, e[i].key, APIREQ_KEY_BYTES);
		le64_store(p + 48, e[i].expires_ms);
		p[56] = e[i].level;
		p[57] = e[i].flags;
	}
}

int invites_decode(const uint8_t *in, size_t len, struct invite ret[INVITES_MAX], size_t *ret_n)
{
	struct invite e[INVITES_MAX];
	if (len != INVITES_PLAIN_BYTES || in[0] > INVITES_MAX || !sodium_is_zero(in + 1, 7))
		return -EBADMSG;
	size_t n = in[0];
	memset(e, 0, sizeof(e));
	int rc = 0;
	for (size_t i = 0; i < INVITES_MAX && rc == 0; i++) {
		const uint8_t *p = in + 8 + i * INVITES_ENTRY_BYTES;
		if (i >= n) {
			if (!sodium_is_zero(p, INVITES_ENTRY_BYTES))
				rc = -EBADMSG;
			continue;
		}
		memcpy(e[i].id, p, APIREQ_INVITE_ID_BYTES);
		memcpy(e[i].key, p + 16, APIREQ_KEY_BYTES);
		e[i].expires_ms = le64_load(p + 48);
		e[i].level = p[56];
		e[i].flags = p[57];
		if (e[i].level >= APIREQ_LEVELS || (e[i].flags & ~INVITE_F_MASTER) ||
		    ((e[i].flags & INVITE_F_MASTER) && e[i].level != APIREQ_LEVELS - 1) ||
		    !sodium_is_zero(p + 58, 6) || sodium_is_zero(e[i].key, APIREQ_KEY_BYTES))
			rc = -EBADMSG;
		for (size_t j = 0; j < i && rc == 0; j++)
			if (memcmp(e[j].id, e[i].id, APIREQ_INVITE_ID_BYTES) == 0)
				rc = -EBADMSG;
	}
	if (rc == 0) {
		memcpy(ret, e, sizeof(e));
		*ret_n = n;
	}
	sodium_memzero(e, sizeof(e));
	return rc;
}

/* ---- files ---- */

/* Writes name in dirfd whole and durably (durable.h); -EIO (logged) on any failure. */
static int write_durable(int dirfd, const char *name, const uint8_t *data, size_t len)
{
	char tmp[NAME_BUF];
	snprintf(tmp, sizeof(tmp), "%s%s", name, INVITES_TMP_SUFFIX);
	enum durable_step step;
	int rc = durable_replace(dirfd, name, tmp, data, len, NULL, NULL, &step);
	if (rc < 0) {
		log_err("invites: %s of %s failed: %s", durable_step_name(step), tmp, strerror(-rc));
		return -EIO;
	}
	return 0;
}

static void make_header(uint8_t hdr[INVITES_HEADER_BYTES])
{
	memcpy(hdr, INVITES_FORMAT, INVITES_HEADER_BYTES - 1);
	hdr[INVITES_HEADER_BYTES - 1] = INVITES_VERSION;
}

/* Makes e[0..n) durable (memory-only lists: nothing to do). */
static int save(struct invites *iv, const struct invite *e, size_t n)
{
	struct invites_secrets *s = iv->sec;
	if (iv->dirfd < 0)
		return 0;
	invites_encode(e, n, s->plain);
	make_header(s->file);
	uint8_t *nonce = s->file + INVITES_HEADER_BYTES;
	randombytes_buf(nonce, APIREQ_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + APIREQ_NONCE_BYTES, NULL, s->plain,
	                                           INVITES_PLAIN_BYTES, s->file,
	                                           INVITES_HEADER_BYTES, NULL, nonce, s->file_key);
	sodium_memzero(s->plain, sizeof(s->plain));
	return write_durable(iv->dirfd, INVITES_FILE_NAME, s->file, INVITES_FILE_BYTES);
}

/* Saves tmp[0..n) and makes it the list, or leaves the list as it was. */
static int commit(struct invites *iv, size_t n)
{
	struct invites_secrets *s = iv->sec;
	int rc = save(iv, s->tmp, n);
	if (rc == 0) {
		memcpy(s->e, s->tmp, sizeof(s->e));
		iv->n = n;
	}
	sodium_memzero(s->tmp, sizeof(s->tmp));
	return rc;
}

static int load(struct invites *iv)
{
	struct invites_secrets *s = iv->sec;
	struct stat st;
	int fd = openat(iv->dirfd, INVITES_FILE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("invites: cannot open %s: %s", INVITES_FILE_NAME, strerror(errno));
		return -EIO;
	}
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = -EIO;
	} else if (!S_ISREG(st.st_mode) || st.st_size != INVITES_FILE_BYTES) {
		rc = -EBADMSG;
	} else {
		for (size_t off = 0; off < INVITES_FILE_BYTES && rc == 0;) {
			ssize_t r = read(fd, s->file + off, INVITES_FILE_BYTES - off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				rc = r == 0 ? -EBADMSG : -EIO;
			else
				off += (size_t)r;
		}
	}
	close(fd);
	uint8_t hdr[INVITES_HEADER_BYTES];
	make_header(hdr);
	const uint8_t *nonce = s->file + INVITES_HEADER_BYTES;
	if (rc == 0 &&
	    (memcmp(s->file, hdr, sizeof(hdr)) != 0 ||
	     crypto_aead_xchacha20poly1305_ietf_decrypt(
		     s->plain, NULL, NULL, nonce + APIREQ_NONCE_BYTES,
		     INVITES_PLAIN_BYTES + APIREQ_TAG_BYTES, s->file, INVITES_HEADER_BYTES, nonce,
		     s->file_key) != 0 ||
	     invites_decode(s->plain, INVITES_PLAIN_BYTES, s->e, &iv->n) < 0))
		rc = -EBADMSG;
	sodium_memzero(s->plain, sizeof(s->plain));
	if (rc < 0)
		log_err("invites: %s: %s; refusing to start", INVITES_FILE_NAME,
		        rc == -EIO ? "read error" : "wrong size, wrong key or damaged file");
	return rc;
}

int invites_open(const char *dir, const uint8_t key[INVITES_KEY_BYTES], struct invites **ret)
{
	struct invites *iv = xcalloc(1, sizeof(*iv));
	iv->dirfd = -1;
	iv->sec = sodium_malloc(sizeof(*iv->sec));
	if (!iv->sec)
		fatal("sodium_malloc invites");
	memset(iv->sec, 0, sizeof(*iv->sec));
	if (crypto_kdf_derive_from_key(iv->sec->file_key, sizeof(iv->sec->file_key), 1,
	                               INVITES_KDF_CTX, key) != 0)
		fatalx("crypto_kdf_derive_from_key");
	if (dir) {
		iv->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (iv->dirfd < 0) {
			log_err("invites: cannot open %s: %s", dir, strerror(errno));
			invites_close(iv);
			return -EIO;
		}
		/* A write cut short by a crash leaves only a temporary file. */
		unlinkat(iv->dirfd, INVITES_FILE_NAME INVITES_TMP_SUFFIX, 0);
		unlinkat(iv->dirfd, INVITES_BOOTSTRAP_NAME INVITES_TMP_SUFFIX, 0);
		int rc = load(iv);
		if (rc < 0) {
			invites_close(iv);
			return rc;
		}
	}
	*ret = iv;
	return 0;
}

void invites_close(struct invites *iv)
{
	if (!iv)
		return;
	if (iv->dirfd >= 0)
		close(iv->dirfd);
	sodium_free(iv->sec);
	free(iv);
}

size_t invites_count(const struct invites *iv)
{
	return iv->n;
}

static int find(const struct invites *iv, const uint8_t id[APIREQ_INVITE_ID_BYTES])
{
	for (size_t i = 0; i < iv->n; i++)
		if (sodium_memcmp(iv->sec->e[i].id, id, APIREQ_INVITE_ID_BYTES) == 0)
			return (int)i;
	return -1;
}

int invites_create(struct invites *iv, uint8_t level, uint8_t flags, uint64_t expires_ms,
                   uint64_t now_ms, uint8_t ret_invite[APIREQ_INVITE_BYTES])
{
	struct invites_secrets *s = iv->sec;
	uint8_t invite[APIREQ_INVITE_BYTES];
	if (level >= APIREQ_LEVELS || (flags & ~INVITE_F_MASTER) ||
	    ((flags & INVITE_F_MASTER) && level != APIREQ_LEVELS - 1))
		return -EINVAL;
	size_t n = 0;
	for (size_t i = 0; i < iv->n; i++)
		if (s->e[i].expires_ms > now_ms)
			s->tmp[n++] = s->e[i];
	if (n >= INVITES_MAX) {
		sodium_memzero(s->tmp, sizeof(s->tmp));
		return -ENOSPC;
	}
	struct invite *e = &s->tmp[n];
	do {
		apireq_invite_new(invite);
		apireq_invite_id(e->id, invite);
	} while (find(iv, e->id) >= 0); /* 2^-128: for form's sake */
	apireq_invite_key(e->key, invite);
	e->expires_ms = expires_ms;
	e->level = level;
	e->flags = flags;
	int rc = commit(iv, n + 1);
	if (rc == 0)
		memcpy(ret_invite, invite, APIREQ_INVITE_BYTES);
	sodium_memzero(invite, sizeof(invite));
	return rc;
}

int invites_find(const struct invites *iv, const uint8_t id[APIREQ_INVITE_ID_BYTES],
                 uint64_t now_ms, struct invite *ret)
{
	int i = find(iv, id);
	if (i < 0 || iv->sec->e[i].expires_ms <= now_ms)
		return -ENOENT;
	*ret = iv->sec->e[i];
	return 0;
}

/* tmp = the list without the entries keep() refuses. */
static size_t filter(struct invites *iv, const uint8_t *id, bool drop_master)
{
	struct invites_secrets *s = iv->sec;
	size_t n = 0;
	for (size_t i = 0; i < iv->n; i++) {
		const struct invite *e = &s->e[i];
		if ((id && sodium_memcmp(e->id, id, APIREQ_INVITE_ID_BYTES) == 0) ||
		    (drop_master && (e->flags & INVITE_F_MASTER)))
			continue;
		s->tmp[n++] = *e;
	}
	return n;
}

int invites_remove(struct invites *iv, const uint8_t id[APIREQ_INVITE_ID_BYTES])
{
	if (find(iv, id) < 0)
		return -ENOENT;
	return commit(iv, filter(iv, id, false));
}

int invites_remove_master(struct invites *iv)
{
	size_t n = filter(iv, NULL, true);
	if (n == iv->n) {
		sodium_memzero(iv->sec->tmp, sizeof(iv->sec->tmp));
		return 0;
	}
	return commit(iv, n);
}

int invites_put(struct invites *iv, const struct invite *in)
{
	struct invites_secrets *s = iv->sec;
	if (find(iv, in->id) >= 0)
		return -EEXIST;
	if (iv->n >= INVITES_MAX)
		return -ENOSPC;
	size_t n = filter(iv, NULL, false);
	s->tmp[n++] = *in;
	return commit(iv, n);
}

/* ---- the bootstrap file ---- */

int invites_bootstrap_write(const char *dir, const uint8_t invite[APIREQ_INVITE_BYTES])
{
	char text[APIREQ_INVITE_TEXT_LEN + 2];
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_err("invites: cannot open %s: %s", dir, strerror(errno));
		return -EIO;
	}
	apireq_invite_to_text(text, invite);
	text[APIREQ_INVITE_TEXT_LEN] = '\n';
	int rc = write_durable(dirfd, INVITES_BOOTSTRAP_NAME, (const uint8_t *)text,
	                       APIREQ_INVITE_TEXT_LEN + 1);
	sodium_memzero(text, sizeof(text));
	close(dirfd);
	return rc;
}

int invites_bootstrap_remove(const char *dir)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_err("invites: cannot open %s: %s", dir, strerror(errno));
		return -EIO;
	}
	int rc = 0;
	if (unlinkat(dirfd, INVITES_BOOTSTRAP_NAME, 0) == 0) {
		if (fsync(dirfd) != 0)
			rc = -EIO;
	} else if (errno != ENOENT) {
		rc = -EIO;
	}
	if (rc < 0)
		log_err("invites: removing %s: %s", INVITES_BOOTSTRAP_NAME, strerror(errno));
	close(dirfd);
	return rc;
}
