/* test_account_invites.c: the invitation file (PROTOCOL.md 12.9): durable
 * changes that survive reopening, strict decoding, refusal of a damaged or
 * foreign file, expiry, master invitations, and the bootstrap file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/invites.h"
#include "check.h"
#include "common/bytes.h"

#define NOW 1767225600000ull

static uint8_t key[INVITES_KEY_BYTES];

static char *tmpdir(void)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "/tmp/test-invites-XXXXXX");
	if (!mkdtemp(buf))
		abort();
	return buf;
}

static void cleanup(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

static char *path(const char *dir, const char *name)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static void persist_and_reopen(void)
{
	char *dir = tmpdir();
	struct invites *iv;
	uint8_t a[32], b[32], id[16];
	struct invite got;
	CHECK(invites_open(dir, key, &iv) == 0 && invites_count(iv) == 0);
	CHECK(access(path(dir, INVITES_FILE_NAME), F_OK) != 0); /* nothing written yet */
	CHECK(invites_create(iv, 1, 0, NOW + 1000, NOW, a) == 0);
	CHECK(invites_create(iv, 3, INVITE_F_MASTER, NOW + 2000, NOW, b) == 0);
	struct stat st;
	CHECK(stat(path(dir, INVITES_FILE_NAME), &st) == 0 && st.st_size == INVITES_FILE_BYTES &&
	      (st.st_mode & 0777) == 0600);
	invites_close(iv);

	CHECK(invites_open(dir, key, &iv) == 0 && invites_count(iv) == 2);
	apireq_invite_id(id, a);
	CHECK(invites_find(iv, id, NOW, &got) == 0 && got.level == 1 && got.flags == 0 &&
	      got.expires_ms == NOW + 1000);
	uint8_t kinv[32];
	apireq_invite_key(kinv, a);
	CHECK_MEM(got.key, kinv, 32);
	CHECK(invites_find(iv, id, NOW + 1000, &got) == -ENOENT); /* expired at its time */
	CHECK(invites_remove(iv, id) == 0 && invites_remove(iv, id) == -ENOENT);
	CHECK(invites_put(iv, &got) == 0 && invites_put(iv, &got) == -EEXIST);
	CHECK(invites_remove_master(iv) == 0 && invites_count(iv) == 1);
	invites_close(iv);

	CHECK(invites_open(dir, key, &iv) == 0 && invites_count(iv) == 1);
	CHECK(invites_find(iv, id, NOW, &got) == 0);
	apireq_invite_id(id, b);
	CHECK(invites_find(iv, id, NOW, &got) == -ENOENT);
	/* Creating drops expired ones. */
	CHECK(invites_create(iv, 0, 0, NOW + 5000, NOW + 1500, b) == 0 && invites_count(iv) == 1);
	CHECK(invites_create(iv, 4, 0, NOW + 5000, NOW, b) == -EINVAL);
	CHECK(invites_create(iv, 2, INVITE_F_MASTER, NOW + 5000, NOW, b) == -EINVAL);
	CHECK(invites_create(iv, 2, 0x02, NOW + 5000, NOW, b) == -EINVAL);
	invites_close(iv);
	cleanup(dir);
}

static void full_list(void)
{
	struct invites *iv;
	uint8_t a[32];
	CHECK(invites_open(NULL, key, &iv) == 0);
	for (int i = 0; i < INVITES_MAX; i++)
		CHECK(invites_create(iv, 0, 0, NOW + 10, NOW, a) == 0);
	CHECK(invites_create(iv, 0, 0, NOW + 10, NOW, a) == -ENOSPC);
	struct invite in = { .level = 0, .expires_ms = NOW + 10 };
	randombytes_buf(in.id, 16);
	randombytes_buf(in.key, 32);
	CHECK(invites_put(iv, &in) == -ENOSPC);
	CHECK(invites_create(iv, 0, 0, NOW + 20, NOW + 10, a) == 0 && invites_count(iv) == 1);
	invites_close(iv);
}

static void damaged_files(void)
{
	char *dir = tmpdir();
	struct invites *iv;
	uint8_t a[32], other[32];
	CHECK(invites_open(dir, key, &iv) == 0);
	CHECK(invites_create(iv, 1, 0, NOW + 1000, NOW, a) == 0);
	invites_close(iv);
	/* Another key. */
	memcpy(other, key, 32);
	other[0] ^= 1;
	CHECK(invites_open(dir, other, &iv) == -EBADMSG);
	/* Any flipped byte. */
	int fd = open(path(dir, INVITES_FILE_NAME), O_RDWR);
	uint8_t file[INVITES_FILE_BYTES];
	CHECK(fd >= 0 && pread(fd, file, sizeof(file), 0) == (ssize_t)sizeof(file));
	size_t spots[] = { 0, 7, 8, 40, 2000, INVITES_FILE_BYTES - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(spots); i++) {
		uint8_t t = file[spots[i]] ^ 0x20;
		CHECK(pwrite(fd, &t, 1, (off_t)spots[i]) == 1);
		CHECK(invites_open(dir, key, &iv) == -EBADMSG);
		CHECK(pwrite(fd, &file[spots[i]], 1, (off_t)spots[i]) == 1);
	}
	CHECK(invites_open(dir, key, &iv) == 0);
	invites_close(iv);
	/* Short and long files. */
	CHECK(ftruncate(fd, INVITES_FILE_BYTES - 1) == 0);
	CHECK(invites_open(dir, key, &iv) == -EBADMSG);
	CHECK(pwrite(fd, file, sizeof(file), 0) == (ssize_t)sizeof(file));
	CHECK(pwrite(fd, "x", 1, INVITES_FILE_BYTES) == 1);
	CHECK(invites_open(dir, key, &iv) == -EBADMSG);
	close(fd);
	/* A leftover temporary file is removed; the real one is still used. */
	CHECK(unlink(path(dir, INVITES_FILE_NAME)) == 0);
	fd = open(path(dir, INVITES_FILE_NAME), O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, file, sizeof(file)) == (ssize_t)sizeof(file));
	close(fd);
	fd = open(path(dir, "invites.tmp"), O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
	close(fd);
	CHECK(invites_open(dir, key, &iv) == 0 && invites_count(iv) == 1);
	CHECK(access(path(dir, "invites.tmp"), F_OK) != 0);
	invites_close(iv);
	cleanup(dir);
}

static void decode_rules(void)
{
	struct invite e[INVITES_MAX], out[INVITES_MAX];
	uint8_t p[INVITES_PLAIN_BYTES], t[INVITES_PLAIN_BYTES];
	size_t n;
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		randombytes_buf(e[i].id, 16);
		randombytes_buf(e[i].key, 32);
		e[i].expires_ms = NOW + (uint64_t)i;
		e[i].level = (uint8_t)i;
	}
	e[2].level = 3;
	e[2].flags = INVITE_F_MASTER;
	invites_encode(e, 3, p);
	CHECK(p[0] == 3 && invites_decode(p, sizeof(p), out, &n) == 0 && n == 3 &&
	      memcmp(out, e, 3 * sizeof(e[0])) == 0);
	/* Layout of one entry. */
	CHECK(memcmp(p + 8, e[0].id, 16) == 0 && memcmp(p + 24, e[0].key, 32) == 0 &&
	      le64_load(p + 56) == NOW && p[64] == 0 && p[65] == 0);
	CHECK(invites_decode(p, sizeof(p) - 1, out, &n) == -EBADMSG);
	struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{ 0, INVITES_MAX + 1 }, /* count */
		{ 0, 2 },               /* count below the entries present */
		{ 1, 1 },               /* reserved header */
		{ 8 + 48 + 8, 4 },      /* level */
		{ 8 + 48 + 9, 2 },      /* flags */
		{ 8 + 64 + 48 + 9, 1 }, /* master at level 1 */
		{ 8 + 48 + 10, 1 },     /* entry reserved */
		{ 8 + 3 * 64 + 5, 1 },  /* unused entry not zero */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(t, p, sizeof(p));
		t[bad[i].off] = bad[i].v;
		CHECK(invites_decode(t, sizeof(t), out, &n) == -EBADMSG);
	}
	/* A zero key, a duplicate id. */
	memcpy(t, p, sizeof(p));
	memset(t + 8 + 16, 0, 32);
	CHECK(invites_decode(t, sizeof(t), out, &n) == -EBADMSG);
	memcpy(t, p, sizeof(p));
	memcpy(t + 8 + 64, t + 8, 16);
	CHECK(invites_decode(t, sizeof(t), out, &n) == -EBADMSG);
	invites_encode(e, 0, p);
	CHECK(invites_decode(p, sizeof(p), out, &n) == 0 && n == 0 && sodium_is_zero(p, sizeof(p)));
}

static void bootstrap_file(void)
{
	char *dir = tmpdir();
	uint8_t inv[32], back[32];
	char text[64];
	struct stat st;
	apireq_invite_new(inv);
	CHECK(invites_bootstrap_write(dir, inv) == 0);
	CHECK(stat(path(dir, INVITES_BOOTSTRAP_NAME), &st) == 0 && (st.st_mode & 0777) == 0600 &&
	      st.st_size == APIREQ_INVITE_TEXT_LEN + 1);
	FILE *f = fopen(path(dir, INVITES_BOOTSTRAP_NAME), "r");
	CHECK(f && fgets(text, sizeof(text), f) != NULL);
	if (f)
		fclose(f);
	CHECK(strlen(text) == 44 && text[43] == '\n');
	CHECK(apireq_invite_from_text(back, text, 43) == 0 && memcmp(back, inv, 32) == 0);
	CHECK(invites_bootstrap_remove(dir) == 0 && access(path(dir, INVITES_BOOTSTRAP_NAME), F_OK));
	CHECK(invites_bootstrap_remove(dir) == 0);
	CHECK(invites_bootstrap_write("/nonexistent-dir-x", inv) == -EIO);
	cleanup(dir);
}

int main(void)
{
	check_init();
	randombytes_buf(key, sizeof(key));
	RUN(persist_and_reopen);
	RUN(full_list);
	RUN(damaged_files);
	RUN(decode_rules);
	RUN(bootstrap_file);
	return check_finish();
}
