/* test_client_keyfile.c: the UMK file (src/client/keyfile.c): both layouts
 * against golden vectors (the protected one computed independently in
 * Python with argon2-cffi and an XChaCha20-Poly1305 written from the
 * draft), passphrase round trips, a wrong or missing passphrase, every
 * single-byte change refused, and the 0600 rules of keyfile_read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "client/keyfile.h"

static const char plain_golden[] =
	"4145554d4b010000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021"
	"22232425262728292a2b2c822236907aa46d3106d0806f73da25e2";
/* UMK 00..2c, passphrase "correct horse", ops 1, 8 MiB, salt 10..1f, nonce 20..37. */
static const char prot_golden[] =
	"4145554d4b0101000100000000200000101112131415161718191a1b1c1d1e1f202122232425262728292a"
	"2b2c2d2e2f30313233343536371db8824b84f066229f777c5ad2eb4787906b89c0515b8da4400867023cd1"
	"546824a87f656cb3f55b29c57d78f9e9b7a1c79354887bd60b90d11f0a41ba";

static const struct keyfile_kdf fast = { 1, 8192 };
static uint8_t umk[KEYS_UMK_BYTES];
static char dir[64];

static void golden_plain(void)
{
	uint8_t want[KEYFILE_PLAIN_BYTES], out[KEYFILE_MAX_BYTES], got[KEYS_UMK_BYTES];
	size_t len = 0;
	CHECK(check_unhex(plain_golden, want, sizeof(want)) == KEYFILE_PLAIN_BYTES);
	CHECK(keyfile_encode(out, &len, umk, NULL, 0, NULL) == 0);
	CHECK(len == KEYFILE_PLAIN_BYTES);
	CHECK_MEM(out, want, sizeof(want));
	CHECK(keyfile_protection(out, len) == 0);
	CHECK(keyfile_decode(got, out, len, NULL, 0) == 0);
	CHECK_MEM(got, umk, sizeof(umk));
	/* A passphrase given for an unprotected file is not needed and ignored. */
	CHECK(keyfile_decode(got, out, len, "x", 1) == 0);
}

static void golden_protected(void)
{
	uint8_t want[KEYFILE_PROT_BYTES], out[KEYFILE_MAX_BYTES], got[KEYS_UMK_BYTES];
	uint8_t salt[KEYFILE_SALT_BYTES], nonce[KEYFILE_NONCE_BYTES];
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)(0x20 + i);
	size_t len = 0;
	CHECK(check_unhex(prot_golden, want, sizeof(want)) == KEYFILE_PROT_BYTES);
	CHECK(keyfile_encode_with(out, &len, umk, "correct horse", 13, &fast, salt, nonce) == 0);
	CHECK(len == KEYFILE_PROT_BYTES);
	CHECK_MEM(out, want, sizeof(want));
	CHECK(keyfile_protection(out, len) == 1);
	memset(got, 0xAA, sizeof(got));
	CHECK(keyfile_decode(got, want, len, "correct horse", 13) == 0);
	CHECK_MEM(got, umk, sizeof(umk));
}

static void passphrase_round_trip(void)
{
	uint8_t out[KEYFILE_MAX_BYTES], out2[KEYFILE_MAX_BYTES], got[KEYS_UMK_BYTES], other[45];
	size_t len, len2;
	randombytes_buf(other, sizeof(other));
	CHECK(keyfile_encode(out, &len, other, "pässwörd", 10, &fast) == 0);
	CHECK(keyfile_encode(out2, &len2, other, "pässwörd", 10, &fast) == 0);
	/* Fresh salt and nonce every time. */
	CHECK(len == len2 && memcmp(out, out2, len) != 0);
	CHECK(keyfile_decode(got, out, len, "pässwörd", 10) == 0);
	CHECK_MEM(got, other, sizeof(other));
	/* The longest passphrase works, one byte more is refused. */
	char *longp = malloc(KEYFILE_PASS_MAX + 1);
	memset(longp, 'p', KEYFILE_PASS_MAX + 1);
	CHECK(keyfile_encode(out, &len, other, longp, KEYFILE_PASS_MAX, &fast) == 0);
	CHECK(keyfile_decode(got, out, len, longp, KEYFILE_PASS_MAX) == 0);
	CHECK(keyfile_encode(out, &len, other, longp, KEYFILE_PASS_MAX + 1, &fast) == -EINVAL);
	CHECK(keyfile_encode(out, &len, other, "", 0, &fast) == -EINVAL);
	free(longp);
	/* Cost bounds. */
	struct keyfile_kdf bad[] = { { 0, 8192 }, { 11, 8192 }, { 1, 7168 }, { 1, 8193 },
		                         { 1, 1024 * 1024 + 1024 } };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(keyfile_encode(out, &len, other, "x", 1, &bad[i]) == -EINVAL);
}

static void wrong_passphrase(void)
{
	uint8_t want[KEYFILE_PROT_BYTES], got[KEYS_UMK_BYTES];
	CHECK(check_unhex(prot_golden, want, sizeof(want)) == KEYFILE_PROT_BYTES);
	memset(got, 0x55, sizeof(got));
	CHECK(keyfile_decode(got, want, sizeof(want), "correct horsE", 13) == -EACCES);
	CHECK(keyfile_decode(got, want, sizeof(want), "correct hors", 12) == -EACCES);
	CHECK(keyfile_decode(got, want, sizeof(want), "", 0) == -EACCES);
	CHECK(keyfile_decode(got, want, sizeof(want), NULL, 0) == -ENOKEY);
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK(got[i] == 0x55); /* never written on failure */
}

static void tampered_refused(void)
{
	uint8_t p[KEYFILE_PROT_BYTES], q[KEYFILE_PLAIN_BYTES], got[KEYS_UMK_BYTES];
	CHECK(check_unhex(prot_golden, p, sizeof(p)) == KEYFILE_PROT_BYTES);
	CHECK(check_unhex(plain_golden, q, sizeof(q)) == KEYFILE_PLAIN_BYTES);
	/* Every byte of both files, one bit flipped: refused. (For the protected
	 * file, bytes 8-15 are the cost: cheap changes only, so skip the ones
	 * that would make Argon2 expensive but still check they are refused.) */
	int refused = 0;
	for (size_t i = 0; i < sizeof(q); i++) {
		q[i] ^= 0x01;
		refused += keyfile_decode(got, q, sizeof(q), NULL, 0) != 0;
		q[i] ^= 0x01;
	}
	CHECK(refused == (int)sizeof(q));
	refused = 0;
	for (size_t i = 0; i < sizeof(p); i++) {
		uint8_t flip = (i >= 12 && i < 16) ? 0x80 : 0x01; /* memlimit: out of range */
		if (i == 8)
			flip = 0x02; /* ops 1 -> 3: valid, still cheap at 8 MiB */
		p[i] ^= flip;
		int rc = keyfile_decode(got, p, sizeof(p), "correct horse", 13);
		refused += rc == -EACCES || rc == -EBADMSG;
		p[i] ^= flip;
	}
	CHECK(refused == (int)sizeof(p));
	/* Truncated, extended, other magic, version, protection, reserved. */
	CHECK(keyfile_decode(got, q, sizeof(q) - 1, NULL, 0) == -EBADMSG);
	uint8_t big[KEYFILE_PROT_BYTES + 1];
	memcpy(big, p, sizeof(p));
	big[sizeof(p)] = 0;
	CHECK(keyfile_decode(got, big, sizeof(big), "correct horse", 13) == -EBADMSG);
	CHECK(keyfile_decode(got, p, sizeof(p) - 1, "correct horse", 13) == -EBADMSG);
	CHECK(keyfile_decode(got, p, 0, "correct horse", 13) == -EBADMSG);
	CHECK(keyfile_protection(q, 4) == -EBADMSG);
	q[6] = 2;
	CHECK(keyfile_protection(q, sizeof(q)) == -EBADMSG);
	/* A plain file claiming protection has the wrong size. */
	q[6] = 1;
	CHECK(keyfile_decode(got, q, sizeof(q), "x", 1) == -EBADMSG);
}

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void read_enforces_0600(void)
{
	char path[128], err[512];
	uint8_t file[KEYFILE_MAX_BYTES], buf[KEYFILE_MAX_BYTES + 1];
	size_t len, got;
	CHECK(keyfile_encode(file, &len, umk, NULL, 0, NULL) == 0);
	path_of(path, sizeof(path), "umk");
	unlink(path);
	mode_t old = umask(0);
	CHECK(keyfile_write(path, file, len, false, err, sizeof(err)) == 0);
	umask(old);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(keyfile_read(path, buf, &got, err, sizeof(err)) == 0 && got == len);
	CHECK_MEM(buf, file, len);
	/* Not replaced without replace; replaced with it. */
	CHECK(keyfile_write(path, file, len, false, err, sizeof(err)) == -EEXIST);
	CHECK(keyfile_write(path, file, len, true, err, sizeof(err)) == 0);
	/* Any group or other bit: refused, with a message naming the mode. */
	static const mode_t modes[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644, 0666 };
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		CHECK(chmod(path, modes[i]) == 0);
		err[0] = 0;
		CHECK(keyfile_read(path, buf, &got, err, sizeof(err)) == -EPERM);
		CHECK(strstr(err, "accessed by others") != NULL);
	}
	CHECK(chmod(path, 0400) == 0);
	CHECK(keyfile_read(path, buf, &got, err, sizeof(err)) == 0);
	CHECK(chmod(path, 0600) == 0);
	/* A symbolic link to a good file is refused. */
	char link[128];
	path_of(link, sizeof(link), "umk-link");
	unlink(link);
	CHECK(symlink(path, link) == 0);
	CHECK(keyfile_read(link, buf, &got, err, sizeof(err)) == -EPERM);
	/* A directory, a missing file, a file too large. */
	CHECK(keyfile_read(dir, buf, &got, err, sizeof(err)) == -EPERM);
	char missing[128];
	path_of(missing, sizeof(missing), "nothing");
	CHECK(keyfile_read(missing, buf, &got, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "allears init") != NULL);
	char large[128];
	path_of(large, sizeof(large), "large");
	int fd = open(large, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t junk[KEYFILE_MAX_BYTES + 1] = { 0 };
	CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	CHECK(keyfile_read(large, buf, &got, err, sizeof(err)) == -EBADMSG);
}

int main(void)
{
	check_init();
	for (int i = 0; i < KEYS_UMK_BYTES; i++)
		umk[i] = (uint8_t)i;
	snprintf(dir, sizeof(dir), "/tmp/test_client_keyfile.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	RUN(golden_plain);
	RUN(golden_protected);
	RUN(passphrase_round_trip);
	RUN(wrong_passphrase);
	RUN(tampered_refused);
	RUN(read_enforces_0600);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_finish();
}
