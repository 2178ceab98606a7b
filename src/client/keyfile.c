/* keyfile.c: encoding, decoding, reading and writing the UMK file
 * (docs/PROTOCOL.md section 15.3). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/fileio.h"
#include "client/keyfile.h"
#include "common/bytes.h"

static bool kdf_valid(const struct keyfile_kdf *k)
{
	return k->opslimit >= KEYFILE_OPS_MIN && k->opslimit <= KEYFILE_OPS_MAX &&
	       k->memlimit_kib >= KEYFILE_MEM_KIB_MIN && k->memlimit_kib <= KEYFILE_MEM_KIB_MAX &&
	       k->memlimit_kib % 1024 == 0;
}

static void header(uint8_t *out, uint8_t prot)
{
	memcpy(out, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN);
	out[5] = KEYFILE_VERSION;
	out[6] = prot;
	out[7] = 0;
}

static void plain_check(uint8_t out[KEYFILE_CHECK_BYTES], const uint8_t *p)
{
	uint8_t salt[crypto_generichash_blake2b_SALTBYTES] = { 0 };
	uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] = { 0 };
	memcpy(personal, KEYFILE_CHECK_LABEL, sizeof(KEYFILE_CHECK_LABEL) - 1);
	crypto_generichash_blake2b_salt_personal(out, KEYFILE_CHECK_BYTES, p,
	                                         KEYFILE_HEADER_BYTES + KEYS_UMK_BYTES, NULL, 0,
	                                         salt, personal);
}

static int pass_key(uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], const char *pass,
                    size_t pass_len, const uint8_t salt[KEYFILE_SALT_BYTES],
                    const struct keyfile_kdf *k)
{
	if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len, salt,
	                  k->opslimit, (size_t)k->memlimit_kib * 1024,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

int keyfile_encode_with(uint8_t out[KEYFILE_MAX_BYTES], size_t *ret_len,
                        const uint8_t umk[KEYS_UMK_BYTES], const char *pass, size_t pass_len,
                        const struct keyfile_kdf *kdf, const uint8_t salt[KEYFILE_SALT_BYTES],
                        const uint8_t nonce[KEYFILE_NONCE_BYTES])
{
	if (!pass) {
		header(out, KEYFILE_PROT_NONE);
		memcpy(out + KEYFILE_HEADER_BYTES, umk, KEYS_UMK_BYTES);
		plain_check(out + KEYFILE_HEADER_BYTES + KEYS_UMK_BYTES, out);
		*ret_len = KEYFILE_PLAIN_BYTES;
		return 0;
	}
	struct keyfile_kdf def = { KEYFILE_OPS_DEFAULT, KEYFILE_MEM_KIB_DEFAULT };
	if (!kdf)
		kdf = &def;
	if (pass_len == 0 || pass_len > KEYFILE_PASS_MAX || !kdf_valid(kdf))
		return -EINVAL;
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	int rc = pass_key(key, pass, pass_len, salt, kdf);
	if (rc != 0)
		return rc;
	uint8_t *p = out;
	header(p, KEYFILE_PROT_PASSPHRASE);
	p[8] = kdf->opslimit;
	p[9] = p[10] = p[11] = 0;
	le32_store(p + 12, kdf->memlimit_kib);
	memcpy(p + 16, salt, KEYFILE_SALT_BYTES);
	memcpy(p + 32, nonce, KEYFILE_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + KEYFILE_PROT_AD_BYTES, NULL, umk,
	                                           KEYS_UMK_BYTES, p, KEYFILE_PROT_AD_BYTES, NULL,
	                                           nonce, key);
	sodium_memzero(key, sizeof(key));
	*ret_len = KEYFILE_PROT_BYTES;
	return 0;
}

int keyfile_encode(uint8_t out[KEYFILE_MAX_BYTES], size_t *ret_len,
                   const uint8_t umk[KEYS_UMK_BYTES], const char *pass, size_t pass_len,
                   const struct keyfile_kdf *kdf)
{
	uint8_t salt[KEYFILE_SALT_BYTES], nonce[KEYFILE_NONCE_BYTES];
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	return keyfile_encode_with(out, ret_len, umk, pass, pass_len, kdf, salt, nonce);
}

int keyfile_protection(const uint8_t *p, size_t len)
{
	if (len < KEYFILE_HEADER_BYTES || memcmp(p, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN) != 0 ||
	    p[5] != KEYFILE_VERSION || p[7] != 0)
		return -EBADMSG;
	if (p[6] == KEYFILE_PROT_NONE)
		return len == KEYFILE_PLAIN_BYTES ? 0 : -EBADMSG;
	if (p[6] == KEYFILE_PROT_PASSPHRASE)
		return len == KEYFILE_PROT_BYTES ? 1 : -EBADMSG;
	return -EBADMSG;
}

int keyfile_decode(uint8_t ret_umk[KEYS_UMK_BYTES], const uint8_t *p, size_t len,
                   const char *pass, size_t pass_len)
{
	int prot = keyfile_protection(p, len);
	if (prot < 0)
		return prot;
	if (prot == 0) {
		uint8_t check[KEYFILE_CHECK_BYTES];
		plain_check(check, p);
		if (sodium_memcmp(check, p + KEYFILE_HEADER_BYTES + KEYS_UMK_BYTES, sizeof(check)))
			return -EBADMSG;
		memcpy(ret_umk, p + KEYFILE_HEADER_BYTES, KEYS_UMK_BYTES);
		return 0;
	}
	struct keyfile_kdf k = { p[8], le32_load(p + 12) };
	if (p[9] || p[10] || p[11] || !kdf_valid(&k))
		return -EBADMSG;
	if (!pass)
		return -ENOKEY;
	if (pass_len == 0 || pass_len > KEYFILE_PASS_MAX)
		return -EACCES;
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	int rc = pass_key(key, pass, pass_len, p + 16, &k);
	if (rc != 0)
		return rc;
	uint8_t umk[KEYS_UMK_BYTES];
	unsigned long long n = 0;
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(umk, &n, NULL, p + KEYFILE_PROT_AD_BYTES,
	                                                KEYS_UMK_BYTES + KEYFILE_TAG_BYTES, p,
	                                                KEYFILE_PROT_AD_BYTES, p + 32, key);
	sodium_memzero(key, sizeof(key));
	if (rc != 0 || n != KEYS_UMK_BYTES) {
		sodium_memzero(umk, sizeof(umk));
		return -EACCES;
	}
	memcpy(ret_umk, umk, KEYS_UMK_BYTES);
	sodium_memzero(umk, sizeof(umk));
	return 0;
}

int keyfile_read(const char *path, uint8_t buf[KEYFILE_MAX_BYTES + 1], size_t *ret_len,
                 char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) {
			snprintf(err, errlen, "no key file %s (run 'allears init' or 'allears key import')",
			         path);
			return -ENOENT;
		}
		if (e == ELOOP) {
			snprintf(err, errlen, "key file %s is a symbolic link; refusing it", path);
			return -EPERM;
		}
		snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(e));
		return -EIO;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat key file %s: %s", path, strerror(errno));
		rc = -EIO;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s is not a regular file", path);
		rc = -EPERM;
	} else if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "key file %s belongs to another user; refusing it", path);
		rc = -EPERM;
	} else if (st.st_mode & 0077) {
		snprintf(err, errlen,
		         "key file %s can be accessed by others (mode %04o); refusing it: "
		         "run 'chmod 600 %s' if nobody else has read it, else make a new key",
		         path, (unsigned)(st.st_mode & 07777), path);
		rc = -EPERM;
	}
	if (rc == 0) {
		size_t len = 0;
		for (;;) {
			ssize_t r = read(fd, buf + len, KEYFILE_MAX_BYTES + 1 - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
				rc = -EIO;
				break;
			}
			if (r == 0)
				break;
			len += (size_t)r;
			if (len > KEYFILE_MAX_BYTES) {
				snprintf(err, errlen, "key file %s is damaged (too large)", path);
				rc = -EBADMSG;
				break;
			}
		}
		if (rc == 0)
			*ret_len = len;
	}
	close(fd);
	return rc;
}

int keyfile_write(const char *path, const uint8_t *p, size_t len, bool replace, char *err,
                  size_t errlen)
{
	int rc = fileio_write_atomic(path, p, len, 0600, replace);
	if (rc == -EEXIST)
		snprintf(err, errlen, "key file %s already exists; not replacing it", path);
	else if (rc != 0)
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(-rc));
	return rc;
}
