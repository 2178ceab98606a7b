/* test_storage_store.c: Storage's durable store (docs/PROTOCOL.md section 9)
 * on a real directory: users, append/read/delete/empty with ids, browse paging,
 * reopening, snapshot vs journal replay, torn and tampered journals, files
 * longer/shorter than the index, orphans, group commit (counted fsyncs), a
 * commit on another thread during reads, and a byte scan for leaked plaintext. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/bytes.h"
#include "storage/store.h"

static uint8_t skey[KEYS_KEY_BYTES];
static uint8_t nkey[KEYS_KEY_BYTES];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rmrf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *t = xmalloc(4096);
	snprintf(t, 4096, "%s/storage-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(t))
		fatal("mkdtemp");
	return t;
}

static struct store *open_st(const char *dir, size_t snap)
{
	struct store_options o = { .snapshot_bytes = snap };
	struct store *st = NULL;
	int rc = store_open(dir, skey, nkey, &o, &st);
	if (rc != 0) {
		fprintf(stderr, "  store_open: %s\n", strerror(-rc));
		return NULL;
	}
	return st;
}

static int open_rc(const char *dir)
{
	struct store *st = NULL;
	int rc = store_open(dir, skey, nkey, NULL, &st);
	store_close(st);
	return rc;
}

/* Deterministic envelope bytes for (uid, id). */
static void fill(uint8_t *p, size_t len, uint16_t uid, uint32_t id)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ ((uint64_t)uid << 32) ^ id;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void commit_apply(struct store_batch *b)
{
	(void)store_batch_commit(b);
	store_batch_apply(b);
}

/* Buffers must live until apply; these tests apply at once, so one per call. */
static int append1(struct store *st, uint16_t uid, size_t len, uint32_t *ret_id)
{
	uint8_t *env = xmalloc(len);
	struct store_batch *b = store_batch_new(st);
	uint32_t id = 0;
	int op = store_queue_append(b, uid, env, len, &id);
	if (op < 0) {
		store_batch_free(b);
		free(env);
		return op;
	}
	fill(env, len, uid, id);
	commit_apply(b);
	int rc = store_batch_result(b, (size_t)op);
	store_batch_free(b);
	free(env);
	if (rc == 0 && ret_id)
		*ret_id = id;
	return rc;
}

static int one_op(struct store *st, int kind, uint16_t uid, uint32_t id)
{
	struct store_batch *b = store_batch_new(st);
	int op = kind == 1   ? store_queue_create(b, uid)
	         : kind == 2 ? store_queue_remove(b, uid)
	         : kind == 3 ? store_queue_delete(b, uid, id)
	                     : store_queue_empty(b, uid);
	if (op < 0) {
		store_batch_free(b);
		return op;
	}
	commit_apply(b);
	int rc = store_batch_result(b, (size_t)op);
	store_batch_free(b);
	return rc;
}
#define CREATE(st, u) one_op(st, 1, u, 0)
#define REMOVE(st, u) one_op(st, 2, u, 0)
#define DELETE(st, u, i) one_op(st, 3, u, i)
#define EMPTY(st, u) one_op(st, 4, u, 0)

static int empty_commit(struct store *st)
{
	struct store_batch *b = store_batch_new(st);
	int rc = store_batch_commit(b);
	store_batch_apply(b);
	store_batch_free(b);
	return rc;
}

static void user_path(char *out, size_t cap, const char *dir, uint16_t uid)
{
	char name[KEYS_FILENAME_LEN + 1];
	if (keys_user_filename(name, uid, nkey) != 0)
		fatalx("name");
	snprintf(out, cap, "%s/Msg/%s", dir, name);
}

static long long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static long long user_size(const char *dir, uint16_t uid)
{
	char p[4200];
	user_path(p, sizeof(p), dir, uid);
	return file_size(p);
}

static long long state_size(const char *dir, const char *name)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return file_size(p);
}

static bool read_matches(struct store *st, uint16_t uid, uint32_t id, size_t len)
{
	uint8_t *a = xmalloc(len), *b = xmalloc(len);
	fill(a, len, uid, id);
	bool ok = store_read(st, uid, id, b, len) == 0 && memcmp(a, b, len) == 0;
	free(a);
	free(b);
	return ok;
}

/* All live items of uid, oldest first. */
static size_t list_all(struct store *st, uint16_t uid, struct store_item *out, size_t cap)
{
	size_t total = 0;
	struct store_query q = { .oldest_first = true };
	struct store_item *page = xmalloc(STORE_BROWSE_MAX_COUNT * sizeof(*page));
	for (;;) {
		size_t n;
		bool more;
		if (store_browse(st, uid, &q, page, STORE_BROWSE_MAX_COUNT, &n, &more) != 0)
			break;
		for (size_t i = 0; i < n && total < cap; i++)
			out[total++] = page[i];
		if (!more || n == 0)
			break;
		q.from_id = page[n - 1].id;
	}
	free(page);
	return total;
}

/* A digest of everything observable: users, usage, items and their bytes. */
static void digest(struct store *st, uint8_t out[32])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 32);
	struct store_item *items = xmalloc(100000 * sizeof(*items));
	for (uint32_t uid = 0; uid < STINDEX_USERS; uid++) {
		if (!store_user_exists(st, (uint16_t)uid))
			continue;
		uint64_t bytes = 0;
		uint32_t count = 0;
		if (store_usage(st, (uint16_t)uid, &bytes, &count) != 0)
			fatalx("usage");
		size_t n = list_all(st, (uint16_t)uid, items, 100000);
		uint8_t hdr[16];
		le32_store(hdr, uid);
		le32_store(hdr + 4, count);
		le64_store(hdr + 8, bytes);
		crypto_generichash_update(&h, hdr, sizeof(hdr));
		for (size_t i = 0; i < n; i++) {
			size_t len = (size_t)items[i].blocks * ENVELOPE_BLOCK;
			uint8_t *buf = xmalloc(len);
			if (store_read(st, (uint16_t)uid, items[i].id, buf, len) != 0)
				memset(buf, 0xee, len);
			le32_store(hdr, items[i].id);
			le32_store(hdr + 4, items[i].blocks);
			crypto_generichash_update(&h, hdr, 8);
			crypto_generichash_update(&h, buf, len);
			free(buf);
		}
	}
	free(items);
	crypto_generichash_final(&h, out, 32);
}

static void users_create_remove(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(store_user_count(st) == 0);
	struct store_batch *b = store_batch_new(st);
	int o0 = store_queue_create(b, 0);
	int o1 = store_queue_create(b, 5);
	int o2 = store_queue_create(b, 4095);
	CHECK(o0 == 0 && o1 == 1 && o2 == 2);
	CHECK(store_queue_create(b, 5) == -EEXIST);
	CHECK(store_queue_create(b, 4096) == -EINVAL);
	CHECK(store_batch_ops(b) == 3);
	commit_apply(b);
	CHECK(store_batch_result(b, 0) == 0 && store_batch_result(b, 1) == 0 &&
	      store_batch_result(b, 2) == 0);
	CHECK(store_queue_create(b, 7) == -EALREADY);
	store_batch_free(b);
	CHECK(store_user_count(st) == 3 && store_user_exists(st, 5) && !store_user_exists(st, 6));
	CHECK(user_size(dir, 0) == 0 && user_size(dir, 5) == 0 && user_size(dir, 4095) == 0);

	/* Msg/ holds exactly the three secret names. */
	char msg[4200];
	snprintf(msg, sizeof(msg), "%s/Msg", dir);
	DIR *d = opendir(msg);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		uint16_t uid = 9999;
		char perm[KEYS_FILENAME_CHARS];
		keys_filename_perm(perm, nkey);
		CHECK(keys_filename_uid(&uid, de->d_name, strlen(de->d_name), perm) == 0);
		CHECK(uid == 0 || uid == 5 || uid == 4095);
		n++;
	}
	if (d)
		closedir(d);
	CHECK(n == 3);

	uint32_t id;
	CHECK(append1(st, 5, 256, &id) == 0 && id == 1);
	CHECK(REMOVE(st, 5) == 0);
	CHECK(!store_user_exists(st, 5) && store_user_count(st) == 2);
	CHECK(REMOVE(st, 5) == -ENOENT);
	/* The file goes at the next commit, not under a reader's feet. */
	CHECK(user_size(dir, 5) == 256);
	CHECK(empty_commit(st) == 0);
	CHECK(user_size(dir, 5) == -1);
	/* Re-created: a new user, ids from 1 again. */
	CHECK(CREATE(st, 5) == 0);
	CHECK(append1(st, 5, 128, &id) == 0 && id == 1);

	/* Remove then create of one uid in the same batch: refused. */
	b = store_batch_new(st);
	CHECK(store_queue_remove(b, 5) == 0);
	CHECK(store_queue_create(b, 5) == -EBUSY);
	CHECK(store_queue_append(b, 5, (uint8_t[128]){ 0 }, 128, &id) == -ENOENT);
	commit_apply(b);
	CHECK(store_batch_result(b, 0) == 0);
	store_batch_free(b);
	/* ... but fine in the next batch. */
	CHECK(CREATE(st, 5) == 0 && user_size(dir, 5) == 0);

	/* Discarding a queued batch undoes its queued state. */
	b = store_batch_new(st);
	CHECK(store_queue_create(b, 77) == 0);
	CHECK(store_queue_create(b, 77) == -EEXIST);
	store_batch_free(b);
	CHECK(CREATE(st, 77) == 0);
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void append_read_delete_empty(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 7) == 0);
	static const size_t sizes[] = { 128, 160, 65536, 4096, 131072 };
	uint8_t *bufs[5];
	uint32_t ids[5];
	struct store_batch *b = store_batch_new(st);
	for (int i = 0; i < 5; i++) {
		bufs[i] = xmalloc(sizes[i]);
		CHECK(store_queue_append(b, 7, bufs[i], sizes[i], &ids[i]) == i);
		CHECK(ids[i] == (uint32_t)i + 1);
		fill(bufs[i], sizes[i], 7, ids[i]);
	}
	uint32_t junk;
	CHECK(store_queue_append(b, 7, bufs[0], 100, &junk) == -EINVAL);
	CHECK(store_queue_append(b, 7, bufs[0], 129, &junk) == -EINVAL);
	CHECK(store_queue_append(b, 7, bufs[0], 96, &junk) == -EINVAL);
	CHECK(store_queue_append(b, 8, bufs[0], 128, &junk) == -ENOENT);
	CHECK(store_queue_delete(b, 7, 0) == -EINVAL);
	CHECK(store_queue_delete(b, 8, 1) == -ENOENT);
	CHECK(store_queue_empty(b, 8) == -ENOENT);
	/* Queued, not applied: invisible to queries, counted by the quota. */
	CHECK(store_quota_check(st, 7, 0, 128 + 160 + 65536 + 4096 + 131072) == 0);
	CHECK(store_quota_check(st, 7, 32, 128 + 160 + 65536 + 4096 + 131072) == -EDQUOT);
	CHECK(store_read(st, 7, 1, bufs[0], 128) == -ENOENT);
	commit_apply(b);
	for (int i = 0; i < 5; i++)
		CHECK(store_batch_result(b, (size_t)i) == 0);
	store_batch_free(b);
	for (int i = 0; i < 5; i++)
		free(bufs[i]);

	uint64_t bytes;
	uint32_t count;
	CHECK(store_usage(st, 7, &bytes, &count) == 0 && count == 5 && bytes == 200992);
	CHECK(store_usage(st, 8, &bytes, &count) == -ENOENT);
	CHECK(store_quota_check(st, 7, 0, 200992) == 0);
	CHECK(store_quota_check(st, 7, 1, 200992) == -EDQUOT);
	CHECK(store_quota_check(st, 7, 0, 100) == -EDQUOT);
	CHECK(store_quota_check(st, 8, 0, 100) == -ENOENT);
	for (int i = 0; i < 5; i++)
		CHECK(read_matches(st, 7, ids[i], sizes[i]));
	uint8_t tmp[256];
	CHECK(store_read(st, 7, 1, tmp, 256) == -EINVAL);
	CHECK(store_read(st, 7, 99, tmp, 128) == -ENOENT);
	CHECK(store_read(st, 9, 1, tmp, 128) == -ENOENT);
	CHECK(user_size(dir, 7) == 200992);

	/* Delete the 64 KiB one: after the next commit its bytes are a hole. */
	char path[4200];
	user_path(path, sizeof(path), dir, 7);
	struct stat sb0, sb1;
	CHECK(stat(path, &sb0) == 0);
	CHECK(DELETE(st, 7, 3) == 0);
	CHECK(store_cleanup_pending(st));
	CHECK(store_read(st, 7, 3, tmp, 128) == -ENOENT);
	CHECK(DELETE(st, 7, 3) == -ENOENT); /* this commit also punches the hole */
	CHECK(!store_cleanup_pending(st));
	CHECK(stat(path, &sb1) == 0);
	CHECK(sb1.st_size == sb0.st_size);
	CHECK(sb1.st_blocks < sb0.st_blocks); /* disk blocks freed */
	int fd = open(path, O_RDONLY);
	uint8_t *raw = xmalloc(65536);
	CHECK(fd >= 0 && pread(fd, raw, 65536, 288) == 65536);
	bool zero = true;
	for (size_t i = 0; i < 65536; i++)
		zero &= raw[i] == 0;
	CHECK(zero);
	free(raw);
	close(fd);
	CHECK(read_matches(st, 7, 4, 4096) && read_matches(st, 7, 5, 131072));

	/* Delete the newest: the file is cut back at the next commit. */
	CHECK(DELETE(st, 7, 5) == 0);
	CHECK(user_size(dir, 7) == 200992);
	CHECK(empty_commit(st) == 0);
	CHECK(user_size(dir, 7) == 128 + 160 + 65536 + 4096);
	uint32_t id;
	CHECK(append1(st, 7, 192, &id) == 0 && id == 6);
	CHECK(user_size(dir, 7) == 128 + 160 + 65536 + 4096 + 192);
	CHECK(read_matches(st, 7, 6, 192));

	/* Empty: everything goes, ids continue. */
	CHECK(EMPTY(st, 7) == 0);
	CHECK(store_usage(st, 7, &bytes, &count) == 0 && count == 0 && bytes == 0);
	CHECK(append1(st, 7, 128, &id) == 0 && id == 7);
	CHECK(user_size(dir, 7) == 128);
	CHECK(read_matches(st, 7, 7, 128));
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* Empty and a new append in one batch: the new envelope must not overwrite
 * bytes the loop thread may still be reading; the old ones become a hole. */
static void empty_then_append_same_batch(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 1) == 0);
	uint32_t id;
	CHECK(append1(st, 1, 8192, &id) == 0 && id == 1);
	uint8_t *env = xmalloc(256);
	struct store_batch *b = store_batch_new(st);
	CHECK(store_queue_delete(b, 1, 1) == 0);
	CHECK(store_queue_empty(b, 1) == 1);
	CHECK(store_queue_append(b, 1, env, 256, &id) == 2 && id == 2);
	fill(env, 256, 1, 2);
	CHECK(store_batch_commit(b) == 0);
	/* Before apply, the old envelope still reads back intact. */
	CHECK(read_matches(st, 1, 1, 8192));
	store_batch_apply(b);
	CHECK(store_batch_result(b, 0) == 0 && store_batch_result(b, 1) == 0 &&
	      store_batch_result(b, 2) == 0);
	store_batch_free(b);
	free(env);
	struct store_item it[4];
	CHECK(list_all(st, 1, it, 4) == 1 && it[0].id == 2 && it[0].offset == 8192);
	CHECK(read_matches(st, 1, 2, 256));
	CHECK(empty_commit(st) == 0);
	char path[4200];
	user_path(path, sizeof(path), dir, 1);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_HOLE) == 0); /* the old envelope is a hole */
	close(fd);
	CHECK(user_size(dir, 1) == 8192 + 256);
	store_close(st);
	/* Reopen: nothing to trim, same content. */
	st = open_st(dir, 0);
	CHECK(st && read_matches(st, 1, 2, 256));
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void browse_paging(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 3) == 0);
	/* 50 envelopes; id k is (k % 7 + 4) blocks. */
	struct store_batch *b = store_batch_new(st);
	uint8_t *bufs[50];
	for (uint32_t k = 1; k <= 50; k++) {
		size_t len = (k % 7 + 4) * 32;
		bufs[k - 1] = xmalloc(len);
		uint32_t id;
		CHECK(store_queue_append(b, 3, bufs[k - 1], len, &id) >= 0 && id == k);
		fill(bufs[k - 1], len, 3, k);
	}
	commit_apply(b);
	store_batch_free(b);
	for (int k = 0; k < 50; k++)
		free(bufs[k]);
	for (uint32_t k = 5; k <= 50; k += 5)
		CHECK(DELETE(st, 3, k) == 0);

	struct store_item out[STORE_BROWSE_MAX_COUNT];
	size_t n;
	bool more;
	/* Newest first, 7 per page: 40 live ids in descending order. */
	uint32_t seen[64];
	size_t total = 0;
	struct store_query q = { .max_count = 7 };
	for (int pages = 0; pages < 20; pages++) {
		CHECK(store_browse(st, 3, &q, out, 7, &n, &more) == 0);
		for (size_t i = 0; i < n && total < 64; i++)
			seen[total++] = out[i].id;
		if (!more)
			break;
		CHECK(n == 7);
		q.from_id = out[n - 1].id;
	}
	CHECK(total == 40);
	bool desc = true;
	for (size_t i = 0; i < total; i++) {
		desc &= seen[i] % 5 != 0;
		if (i)
			desc &= seen[i] < seen[i - 1];
	}
	CHECK(desc && seen[0] == 49 && seen[39] == 1);

	/* Oldest first with a byte cap of 1000: pages of whole envelopes. */
	q = (struct store_query){ .oldest_first = true, .max_bytes = 1000 };
	total = 0;
	for (int pages = 0; pages < 40; pages++) {
		CHECK(store_browse(st, 3, &q, out, STORE_BROWSE_MAX_COUNT, &n, &more) == 0);
		uint64_t bytes = 0;
		for (size_t i = 0; i < n; i++) {
			bytes += out[i].blocks * 32u;
			CHECK(out[i].blocks == out[i].id % 7 + 4);
			CHECK(read_matches(st, 3, out[i].id, out[i].blocks * 32u));
			if (total < 64)
				seen[total++] = out[i].id;
		}
		CHECK(n >= 1 && bytes <= 1000);
		if (!more)
			break;
		q.from_id = out[n - 1].id;
	}
	CHECK(total == 40 && seen[0] == 1 && seen[39] == 49);

	/* Inclusive start, and a deleted start id. */
	q = (struct store_query){ .from_id = 10, .inclusive = true, .max_count = 2 };
	CHECK(store_browse(st, 3, &q, out, 2, &n, &more) == 0 && n == 2 && out[0].id == 9 &&
	      out[1].id == 8 && more);
	q.oldest_first = true;
	CHECK(store_browse(st, 3, &q, out, 2, &n, &more) == 0 && n == 2 && out[0].id == 11 &&
	      out[1].id == 12 && more);
	q.from_id = 11;
	CHECK(store_browse(st, 3, &q, out, 2, &n, &more) == 0 && n == 2 && out[0].id == 11);

	/* Caps. */
	q = (struct store_query){ .max_count = STORE_BROWSE_MAX_COUNT + 1 };
	CHECK(store_browse(st, 3, &q, out, STORE_BROWSE_MAX_COUNT, &n, &more) == -EINVAL);
	q = (struct store_query){ .max_bytes = STORE_BROWSE_MAX_BYTES + 1 };
	CHECK(store_browse(st, 3, &q, out, STORE_BROWSE_MAX_COUNT, &n, &more) == -EINVAL);
	q = (struct store_query){ .max_count = 8 };
	CHECK(store_browse(st, 3, &q, out, 7, &n, &more) == -EINVAL);
	q = (struct store_query){ 0 };
	CHECK(store_browse(st, 3, &q, out, 100, &n, &more) == -EINVAL); /* default is 4096 */
	CHECK(store_browse(st, 3, &q, out, STORE_BROWSE_MAX_COUNT, &n, &more) == 0 && n == 40);
	CHECK(store_browse(st, 4, &q, out, STORE_BROWSE_MAX_COUNT, &n, &more) == -ENOENT);

	/* read_to_fd into a memfd. */
	int mfd = memfd_create("t", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	CHECK(store_read_to_fd(st, 3, 49, mfd) == (49 % 7 + 4) * 32);
	CHECK(store_read_to_fd(st, 3, 50, mfd) == -ENOENT);
	uint8_t want[512], got[512];
	fill(want, (49 % 7 + 4) * 32, 3, 49);
	CHECK(pread(mfd, got, sizeof(got), 0) == (49 % 7 + 4) * 32);
	CHECK_MEM(got, want, (49 % 7 + 4) * 32);
	close(mfd);
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* A mixed workload, deterministic; leaves live data in several users. */
static void workload(struct store *st, int rounds)
{
	uint32_t rng = 12345;
	for (uint16_t u = 0; u < 6; u++)
		if (!store_user_exists(st, (uint16_t)(u * 700)))
			CHECK(CREATE(st, (uint16_t)(u * 700)) == 0);
	for (int r = 0; r < rounds; r++) {
		struct store_batch *b = store_batch_new(st);
		uint8_t *bufs[20];
		int nb = 0;
		for (int k = 0; k < 20; k++) {
			rng = rng * 1103515245 + 12345;
			uint16_t uid = (uint16_t)((rng >> 8) % 6 * 700);
			size_t len = ((rng >> 16) % 40 + 4) * 32;
			uint32_t id;
			bufs[nb] = xmalloc(len);
			if (store_queue_append(b, uid, bufs[nb], len, &id) >= 0)
				fill(bufs[nb], len, uid, id);
			nb++;
		}
		/* Some deletes of older ids. */
		for (uint16_t u = 0; u < 6; u++) {
			struct store_item it[8];
			size_t n;
			bool more;
			struct store_query q = { .oldest_first = true, .max_count = 8 };
			if (store_browse(st, (uint16_t)(u * 700), &q, it, 8, &n, &more) == 0 && n > 3)
				CHECK(store_queue_delete(b, (uint16_t)(u * 700), it[(r + u) % n].id) >= 0);
		}
		if (r % 7 == 6)
			CHECK(store_queue_empty(b, 1400) >= 0);
		commit_apply(b);
		for (size_t i = 0; i < store_batch_ops(b); i++)
			CHECK(store_batch_result(b, i) == 0);
		store_batch_free(b);
		for (int k = 0; k < nb; k++)
			free(bufs[k]);
	}
}

static void reopen_and_snapshot_equivalence(void)
{
	char *d1 = tmpdir_new(), *d2 = tmpdir_new();
	/* d1 snapshots at every commit (threshold 1 byte), d2 only replays. */
	struct store *s1 = open_st(d1, 1), *s2 = open_st(d2, 0);
	CHECK(s1 && s2);
	if (!s1 || !s2)
		return;
	workload(s1, 30);
	workload(s2, 30);
	uint8_t h1[32], h2[32], h3[32], h4[32];
	digest(s1, h1);
	digest(s2, h2);
	CHECK_MEM(h1, h2, 32);
	/* The journal of d1 holds at most one batch; d2's holds all of them. */
	CHECK(state_size(d1, "journal") <= 40 * STINDEX_REC_BYTES);
	CHECK(state_size(d2, "journal") > 600 * STINDEX_REC_BYTES);
	CHECK(state_size(d2, "stindex") == STINDEX_SNAP_OVERHEAD + STINDEX_SNAP_PAD);
	store_close(s1);
	store_close(s2);
	s1 = open_st(d1, 1);
	s2 = open_st(d2, 0);
	CHECK(s1 && s2);
	if (!s1 || !s2)
		return;
	digest(s1, h3);
	digest(s2, h4);
	CHECK_MEM(h3, h1, 32);
	CHECK_MEM(h4, h1, 32);
	/* Opening changes nothing: again, with no commit in between. */
	store_close(s1);
	store_close(s2);
	s1 = open_st(d1, 1);
	s2 = open_st(d2, 0);
	CHECK(s1 && s2);
	if (!s1 || !s2)
		return;
	digest(s1, h3);
	digest(s2, h4);
	CHECK_MEM(h3, h1, 32);
	CHECK_MEM(h4, h1, 32);
	/* Keeps working after reopening, then a checkpoint empties the journal. */
	workload(s2, 5);
	CHECK(store_checkpoint(s2) == 0);
	CHECK(state_size(d2, "journal") == 0);
	digest(s2, h2);
	store_close(s2);
	s2 = open_st(d2, 0);
	CHECK(s2 != NULL);
	if (s2) {
		digest(s2, h4);
		CHECK_MEM(h4, h2, 32);
	}
	store_close(s1);
	store_close(s2);
	rmrf(d1);
	rmrf(d2);
	free(d1);
	free(d2);
}

static void copy_file(const char *from, const char *to, long long limit)
{
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (a < 0 || b < 0)
		fatal("copy_file");
	uint8_t buf[65536];
	long long done = 0;
	ssize_t n;
	while ((limit < 0 || done < limit) &&
	       (n = read(a, buf, limit < 0 || limit - done > (long long)sizeof(buf)
	                             ? sizeof(buf)
	                             : (size_t)(limit - done))) > 0) {
		if (write(b, buf, (size_t)n) != n)
			fatal("write");
		done += n;
	}
	close(a);
	close(b);
}

static void torn_journal_tail(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 9) == 0);
	uint32_t id;
	CHECK(append1(st, 9, 512, &id) == 0 && id == 1);
	uint8_t before[32];
	digest(st, before);
	long long jsize0 = state_size(dir, "journal");
	CHECK(append1(st, 9, 1024, &id) == 0 && id == 2);
	store_close(st);
	long long jsize1 = state_size(dir, "journal");
	CHECK(jsize1 == jsize0 + STINDEX_REC_BYTES);

	char jpath[4200], jsave[4200], upath[4200], usave[4200];
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	snprintf(jsave, sizeof(jsave), "%s/journal.save", dir);
	user_path(upath, sizeof(upath), dir, 9);
	snprintf(usave, sizeof(usave), "%s/user.save", dir);
	copy_file(jpath, jsave, -1);
	copy_file(upath, usave, -1);
	int bad = 0;
	for (long long cut = 0; cut < STINDEX_REC_BYTES; cut++) {
		copy_file(jsave, jpath, jsize0 + cut);
		copy_file(usave, upath, -1); /* the envelope bytes did reach the file */
		st = open_st(dir, 0);
		if (!st) {
			bad++;
			continue;
		}
		uint8_t h[32];
		digest(st, h);
		bad += memcmp(h, before, 32) != 0;
		bad += state_size(dir, "journal") != jsize0;
		bad += user_size(dir, 9) != 512; /* trimmed to the acknowledged end */
		/* And it keeps working: the next id is 2 again (never acknowledged). */
		bad += append1(st, 9, 128, &id) != 0 || id != 2;
		store_close(st);
	}
	CHECK(bad == 0);
	rmrf(dir);
	free(dir);
}

static void flip_byte(const char *path, long long at)
{
	int fd = open(path, O_RDWR);
	uint8_t c;
	if (fd < 0 || pread(fd, &c, 1, at) != 1)
		fatal("flip");
	c ^= 0x10;
	if (pwrite(fd, &c, 1, at) != 1)
		fatal("flip");
	close(fd);
}

static void swap_records(const char *path, long long a, long long b)
{
	uint8_t ra[STINDEX_REC_BYTES], rb[STINDEX_REC_BYTES];
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, ra, sizeof(ra), a * STINDEX_REC_BYTES) != sizeof(ra) ||
	    pread(fd, rb, sizeof(rb), b * STINDEX_REC_BYTES) != sizeof(rb) ||
	    pwrite(fd, rb, sizeof(rb), a * STINDEX_REC_BYTES) != sizeof(rb) ||
	    pwrite(fd, ra, sizeof(ra), b * STINDEX_REC_BYTES) != sizeof(ra))
		fatal("swap");
	close(fd);
}

static void copy_record(const char *path, long long from, long long to)
{
	uint8_t r[STINDEX_REC_BYTES];
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, r, sizeof(r), from * STINDEX_REC_BYTES) != sizeof(r) ||
	    pwrite(fd, r, sizeof(r), to * STINDEX_REC_BYTES) != sizeof(r))
		fatal("copy_record");
	close(fd);
}

static void tampered_state(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 2) == 0);
	uint32_t id;
	/* Three journal writes of 3 records each after the create. */
	for (int w = 0; w < 3; w++) {
		uint8_t *bufs[3];
		struct store_batch *b = store_batch_new(st);
		for (int k = 0; k < 3; k++) {
			bufs[k] = xmalloc(128);
			CHECK(store_queue_append(b, 2, bufs[k], 128, &id) >= 0);
			fill(bufs[k], 128, 2, id);
		}
		commit_apply(b);
		store_batch_free(b);
		for (int k = 0; k < 3; k++)
			free(bufs[k]);
	}
	uint8_t full[32];
	digest(st, full);
	store_close(st);
	char jpath[4200], spath[4200];
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	snprintf(spath, sizeof(spath), "%s/stindex", dir);
	long long jsize = file_size(jpath);
	CHECK(jsize == 10 * STINDEX_REC_BYTES);

	/* Snapshot: any flipped byte refuses the start, and nothing changes. */
	long long ssize = file_size(spath);
	long long at[] = { 0, 5, 8, 20, 40, 1000, ssize / 2, ssize - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		flip_byte(spath, at[i]);
		CHECK(open_rc(dir) == -EBADMSG);
		CHECK(file_size(jpath) == jsize && user_size(dir, 2) == 9 * 128);
		flip_byte(spath, at[i]);
	}
	/* A wrong key is the same: the snapshot does not authenticate. */
	skey[0] ^= 1;
	CHECK(open_rc(dir) == -EBADMSG);
	skey[0] ^= 1;
	CHECK(file_size(jpath) == jsize);

	/* Journal: a record of an earlier write fails -> refused (a later write
	 * authenticates, so this is no torn tail). */
	long long rec_at[] = { 0, 1, 2, 3, 5, 6 }; /* records of writes 1-3 but not the last */
	for (size_t i = 0; i < ARRAY_SIZE(rec_at); i++) {
		flip_byte(jpath, rec_at[i] * STINDEX_REC_BYTES + 30);
		CHECK(open_rc(dir) == -EBADMSG);
		CHECK(file_size(jpath) == jsize);
		flip_byte(jpath, rec_at[i] * STINDEX_REC_BYTES + 30);
	}
	/* A record of the last write fails: that write is a torn tail and goes,
	 * the same as if the crash had torn it. Its later records go with it. */
	flip_byte(jpath, 7 * STINDEX_REC_BYTES + 3);
	st = open_st(dir, 0);
	CHECK(st != NULL);
	if (st) {
		uint64_t bytes;
		uint32_t count;
		CHECK(store_usage(st, 2, &bytes, &count) == 0 && count == 6);
		CHECK(file_size(jpath) == 7 * STINDEX_REC_BYTES && user_size(dir, 2) == 6 * 128);
		store_close(st);
	}
	/* Records that authenticate but are out of sequence: refused. */
	swap_records(jpath, 1, 4);
	CHECK(open_rc(dir) == -EBADMSG);
	swap_records(jpath, 1, 4);
	CHECK(open_rc(dir) == 0);
	copy_record(jpath, 5, 6); /* a repeated record */
	CHECK(open_rc(dir) == -EBADMSG);
	rmrf(dir);
	free(dir);
}

static void journal_vs_snapshot_seq(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	uint32_t id;
	CHECK(CREATE(st, 4) == 0 && append1(st, 4, 128, &id) == 0);
	char jpath[4200], jsave[4200];
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	snprintf(jsave, sizeof(jsave), "%s/journal.save", dir);
	copy_file(jpath, jsave, -1); /* records 1-2 */
	CHECK(store_checkpoint(st) == 0 && file_size(jpath) == 0);
	uint8_t h0[32], h1[32];
	digest(st, h0);
	store_close(st);
	/* The old journal again: every record is in the snapshot (a crash between
	 * the snapshot's rename and the journal's truncation). */
	copy_file(jsave, jpath, -1);
	st = open_st(dir, 0);
	CHECK(st != NULL && file_size(jpath) == 0);
	if (!st)
		return;
	digest(st, h1);
	CHECK_MEM(h0, h1, 32);
	CHECK(append1(st, 4, 160, &id) == 0 && id == 2);
	CHECK(append1(st, 4, 192, &id) == 0 && id == 3);
	digest(st, h0);
	store_close(st);
	st = open_st(dir, 0);
	CHECK(st != NULL);
	if (st) {
		digest(st, h1);
		CHECK_MEM(h0, h1, 32);
		store_close(st);
	}
	/* The journal's first record lost: a gap after the snapshot. */
	copy_file(jpath, jsave, -1);
	int in = open(jsave, O_RDONLY), out = open(jpath, O_WRONLY | O_TRUNC);
	uint8_t rec[STINDEX_REC_BYTES];
	CHECK(in >= 0 && out >= 0 && pread(in, rec, sizeof(rec), STINDEX_REC_BYTES) == sizeof(rec) &&
	      write(out, rec, sizeof(rec)) == sizeof(rec));
	close(in);
	close(out);
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(file_size(jpath) == STINDEX_REC_BYTES);
	rmrf(dir);
	free(dir);
}

static void file_longer_shorter_orphans(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 11) == 0 && CREATE(st, 12) == 0);
	uint32_t id;
	CHECK(append1(st, 11, 256, &id) == 0 && append1(st, 11, 128, &id) == 0);
	store_close(st);
	char p11[4200], p12[4200], p13[4200], extra[4200];
	user_path(p11, sizeof(p11), dir, 11);
	user_path(p12, sizeof(p12), dir, 12);
	user_path(p13, sizeof(p13), dir, 13);

	/* Longer: a half-written envelope is trimmed, nothing else changes. */
	int fd = open(p11, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "half an envelope", 16) == 16);
	close(fd);
	fd = open(p12, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, (uint8_t[4096]){ 1 }, 4096) == 4096);
	close(fd);
	st = open_st(dir, 0);
	CHECK(st && file_size(p11) == 384 && file_size(p12) == 0);
	CHECK(st && read_matches(st, 11, 1, 256) && read_matches(st, 11, 2, 128));
	store_close(st);

	/* Shorter: refused, and nothing is changed by the refusal. */
	CHECK(truncate(p11, 352) == 0);
	long long j = state_size(dir, "journal");
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(file_size(p11) == 352 && state_size(dir, "journal") == j);
	CHECK(truncate(p11, 384) == 0);
	CHECK(open_rc(dir) == 0);

	/* A missing file of an existing user: refused. */
	CHECK(rename(p12, p13) == 0);
	CHECK(open_rc(dir) == -EUCLEAN); /* 12 missing, and 13 is an empty orphan */
	CHECK(file_size(p13) == 0);      /* the refusal removed nothing */
	CHECK(rename(p13, p12) == 0);

	/* An empty orphan is removed; a non-empty one refuses the start. */
	fd = open(p13, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(open_rc(dir) == 0 && file_size(p13) == -1);
	fd = open(p13, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	CHECK(open_rc(dir) == -EUCLEAN && file_size(p13) == 1);
	CHECK(unlink(p13) == 0);

	/* Names outside the scheme, and a directory. */
	snprintf(extra, sizeof(extra), "%s/Msg/abc", dir);
	fd = open(extra, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(unlink(extra) == 0);
	snprintf(extra, sizeof(extra), "%s/Msg/!x", dir);
	fd = open(extra, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(unlink(extra) == 0);
	CHECK(mkdir(p13, 0700) == 0);
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(rmdir(p13) == 0);

	/* A leftover temporary snapshot is removed. */
	snprintf(extra, sizeof(extra), "%s/stindex.tmp", dir);
	fd = open(extra, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
	close(fd);
	CHECK(open_rc(dir) == 0 && file_size(extra) == -1);

	/* Snapshot and journal must come together. */
	char jpath[4200], jsave[4200], spath[4200], ssave[4200];
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	snprintf(jsave, sizeof(jsave), "%s/journal.save", dir);
	snprintf(spath, sizeof(spath), "%s/stindex", dir);
	snprintf(ssave, sizeof(ssave), "%s/stindex.save", dir);
	CHECK(rename(jpath, jsave) == 0);
	CHECK(open_rc(dir) == -EUCLEAN);
	CHECK(rename(jsave, jpath) == 0);
	CHECK(rename(spath, ssave) == 0);
	CHECK(open_rc(dir) == -EUCLEAN); /* journal not empty, snapshot gone */
	CHECK(rename(ssave, spath) == 0);

	/* Locked while open. */
	st = open_st(dir, 0);
	CHECK(st != NULL);
	CHECK(open_rc(dir) == -EBUSY);
	store_close(st);
	CHECK(open_rc(dir) == 0);
	/* A bad snapshot threshold. */
	struct store_options o = { .snapshot_bytes = STORE_SNAPSHOT_BYTES_MAX + 1 };
	st = NULL;
	CHECK(store_open(dir, skey, nkey, &o, &st) == -EINVAL && st == NULL);
	rmrf(dir);
	free(dir);
}

static int set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY);
	int flags = 0, rc = -1;
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static bool range_is_zero(const char *path, off_t off, size_t len)
{
	uint8_t *buf = xmalloc(len);
	int fd = open(path, O_RDONLY);
	bool zero = fd >= 0 && pread(fd, buf, len, off) == (ssize_t)len;
	for (size_t i = 0; zero && i < len; i++)
		zero = buf[i] == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return zero;
}

/* A hole that cannot be punched (I/O error; here an immutable file) is redone
 * from the index later, and no snapshot drops the journal meanwhile. */
static void cleanup_failure_is_retried(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 1); /* a snapshot at every commit */
	CHECK(st != NULL);
	if (!st)
		return;
	uint32_t id;
	CHECK(CREATE(st, 6) == 0);
	for (int k = 0; k < 3; k++)
		CHECK(append1(st, 6, 65536, &id) == 0);
	CHECK(DELETE(st, 6, 2) == 0);
	char path[4200];
	user_path(path, sizeof(path), dir, 6);
	if (set_immutable(path, true) != 0) {
		store_close(st);
		rmrf(dir);
		free(dir);
		SKIP("cannot set the immutable attribute here (needs CAP_LINUX_IMMUTABLE on ext4/xfs)");
	}
	CHECK(empty_commit(st) == 0);
	CHECK(!range_is_zero(path, 65536, 65536));        /* still there */
	CHECK(state_size(dir, "journal") > 0);             /* snapshot held back */
	CHECK(set_immutable(path, false) == 0);
	CHECK(empty_commit(st) == 0);
	CHECK(range_is_zero(path, 65536, 65536));         /* punched now */
	CHECK(state_size(dir, "journal") == 0);            /* and the snapshot went ahead */
	CHECK(read_matches(st, 6, 1, 65536) && read_matches(st, 6, 3, 65536));
	store_close(st);
	st = open_st(dir, 1);
	CHECK(st && read_matches(st, 6, 3, 65536));
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void group_commit_sync_count(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 1) == 0);
	for (uint16_t u = 100; u < 110; u++)
		CHECK(CREATE(st, u) == 0);
	uint8_t *env = xcalloc(1000, 128);
	/* 1000 appends to one user, in batches of 100: 10 x (1 file + 1 journal). */
	uint64_t s0 = store_sync_count(st);
	for (int batch = 0; batch < 10; batch++) {
		struct store_batch *b = store_batch_new(st);
		for (int k = 0; k < 100; k++) {
			uint32_t id;
			CHECK(store_queue_append(b, 1, env + (batch * 100 + k) * 128, 128, &id) == k);
		}
		commit_apply(b);
		for (int k = 0; k < 100; k++)
			CHECK(store_batch_result(b, (size_t)k) == 0);
		store_batch_free(b);
	}
	uint64_t s1 = store_sync_count(st);
	CHECK(s1 - s0 == 20);
	/* The same spread over 10 users: 10 x (10 files + 1 journal), not 2000. */
	for (int batch = 0; batch < 10; batch++) {
		struct store_batch *b = store_batch_new(st);
		for (int k = 0; k < 100; k++) {
			uint32_t id;
			CHECK(store_queue_append(b, (uint16_t)(100 + k % 10), env + (batch * 100 + k) * 128,
			                         128, &id) == k);
		}
		commit_apply(b);
		store_batch_free(b);
	}
	CHECK(store_sync_count(st) - s1 == 110);
	/* One append alone: 2 syncs. */
	uint64_t s2 = store_sync_count(st);
	uint32_t id;
	CHECK(append1(st, 1, 128, &id) == 0 && store_sync_count(st) - s2 == 2);
	uint64_t bytes;
	uint32_t count;
	CHECK(store_usage(st, 1, &bytes, &count) == 0 && count == 1001);
	free(env);
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void batch_limits(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(CREATE(st, 1) == 0);
	struct store_batch *b = store_batch_new(st);
	int bad = 0;
	for (uint32_t k = 0; k < STORE_BATCH_MAX_OPS; k++)
		bad += store_queue_delete(b, 1, k + 1) != (int)k;
	CHECK(bad == 0);
	CHECK(store_queue_delete(b, 1, 1) == -ENOBUFS);
	commit_apply(b);
	CHECK(store_batch_result(b, 0) == -ENOENT && store_batch_result(b, 65535) == -ENOENT);
	store_batch_free(b);
	/* Nothing was durable, so nothing reached the journal. */
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* Commits on another thread while this one reads, as the daemon does. */
struct commit_job {
	struct store_batch *b;
	int rc;
};

static void *commit_thread(void *arg)
{
	struct commit_job *j = arg;
	j->rc = store_batch_commit(j->b);
	return NULL;
}

static void commit_while_reading(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 4096);
	CHECK(st != NULL);
	if (!st)
		return;
	for (uint16_t u = 0; u < 4; u++)
		CHECK(CREATE(st, u) == 0);
	uint32_t next[4] = { 1, 1, 1, 1 };
	uint32_t first_live[4] = { 1, 1, 1, 1 };
	int bad = 0;
	for (int round = 0; round < 40; round++) {
		struct store_batch *b = store_batch_new(st);
		uint8_t *bufs[40];
		for (int k = 0; k < 40; k++) {
			uint16_t u = (uint16_t)(k % 4);
			size_t len = (size_t)((k * 7 + round) % 50 + 4) * 32;
			uint32_t id;
			bufs[k] = xmalloc(len);
			bad += store_queue_append(b, u, bufs[k], len, &id) < 0 || id != next[u]++;
			fill(bufs[k], len, u, id);
		}
		/* Delete the 5 oldest of each user. */
		for (uint16_t u = 0; u < 4 && round > 2; u++)
			for (int k = 0; k < 5; k++)
				bad += store_queue_delete(b, u, first_live[u]++) < 0;
		struct commit_job job = { .b = b };
		pthread_t t;
		CHECK(pthread_create(&t, NULL, commit_thread, &job) == 0);
		/* Meanwhile: browse and read every committed envelope. */
		for (uint16_t u = 0; u < 4; u++) {
			struct store_item it[STORE_BROWSE_MAX_COUNT];
			size_t n;
			bool more;
			struct store_query q = { 0 };
			if (store_browse(st, u, &q, it, STORE_BROWSE_MAX_COUNT, &n, &more) != 0) {
				bad++;
				continue;
			}
			for (size_t i = 0; i < n; i++)
				bad += !read_matches(st, u, it[i].id, it[i].blocks * 32u);
		}
		pthread_join(t, NULL);
		bad += job.rc != 0;
		store_batch_apply(b);
		for (size_t i = 0; i < store_batch_ops(b); i++)
			bad += store_batch_result(b, i) != 0;
		store_batch_free(b);
		for (int k = 0; k < 40; k++)
			free(bufs[k]);
	}
	CHECK(bad == 0);
	uint8_t h1[32], h2[32];
	digest(st, h1);
	store_close(st);
	st = open_st(dir, 4096);
	CHECK(st != NULL);
	if (st) {
		digest(st, h2);
		CHECK_MEM(h1, h2, 32);
		store_close(st);
	}
	rmrf(dir);
	free(dir);
}

/* Reads a whole file; NULL and 0 for a directory or an error. */
static uint8_t *slurp(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		*ret_len = 0;
		return NULL;
	}
	uint8_t *p = xmalloc((size_t)sb.st_size + 1);
	ssize_t n = pread(fd, p, (size_t)sb.st_size, 0);
	close(fd);
	*ret_len = n > 0 ? (size_t)n : 0;
	return p;
}

static size_t count_in(const uint8_t *p, size_t len, const void *pat, size_t plen)
{
	size_t n = 0;
	for (const uint8_t *at = p; len >= plen;) {
		const uint8_t *hit = memmem(at, len, pat, plen);
		if (!hit)
			break;
		n++;
		len -= (size_t)(hit - at) + 1;
		at = hit + 1;
	}
	return n;
}

static void canary_scan(void)
{
	char *dir = tmpdir_new();
	struct store *st = open_st(dir, 0);
	CHECK(st != NULL);
	if (!st)
		return;
	/* uid 1234 gets 20 envelopes whose content is a canary naming their id. */
	CHECK(CREATE(st, 1234) == 0 && CREATE(st, 77) == 0);
	struct store_batch *b = store_batch_new(st);
	uint8_t *env[20];
	for (int k = 0; k < 20; k++) {
		size_t len = (size_t)(k % 3 + 4) * 32 * 16;
		env[k] = xmalloc(len);
		uint32_t id;
		CHECK(store_queue_append(b, 1234, env[k], len, &id) == k);
		for (size_t i = 0; i < len; i += 32)
			snprintf((char *)env[k] + i, 32, "CANARY-%02u-7f3a9c-%06u", id % 100u, (unsigned)(i % 1000000));
	}
	commit_apply(b);
	store_batch_free(b);
	for (int k = 0; k < 20; k += 2)
		CHECK(DELETE(st, 1234, (uint32_t)k + 1) == 0); /* odd ids go */
	CHECK(empty_commit(st) == 0);                      /* holes punched */
	store_close(st);

	/* What may be known about the index, as plaintext bytes. */
	struct {
		uint8_t b[16];
		size_t n;
	} secrets[64];
	size_t ns = 0;
	uint64_t off = 0;
	for (uint32_t id = 1; id <= 20; id++) {
		uint32_t blocks = ((id - 1) % 3 + 4) * 16;
		le32_store(secrets[ns].b, id); /* snapshot entry: id, blocks, offset */
		le32_store(secrets[ns].b + 4, blocks);
		le64_store(secrets[ns].b + 8, off);
		secrets[ns++].n = 16;
		le32_store(secrets[ns].b, id); /* journal record: id, blocks */
		le32_store(secrets[ns].b + 4, blocks);
		secrets[ns++].n = 8;
		off += blocks * 32u;
	}
	uint8_t uidrec[8] = { 0xd2, 0x04, 0, 0, 0, 0, 0, 0 }; /* uid 1234 with the zero next to it */
	static const char canary[] = "7f3a9c";

	const char *state_files[] = { "stindex", "journal" };
	for (size_t f = 0; f < 2; f++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", dir, state_files[f]);
		size_t len;
		uint8_t *data = slurp(p, &len);
		CHECK(data != NULL && len > 0);
		if (!data)
			continue;
		for (size_t s = 0; s < ns; s++)
			CHECK(memmem(data, len, secrets[s].b, secrets[s].n) == NULL);
		CHECK(memmem(data, len, uidrec, 4) == NULL || f == 0); /* 4 bytes may occur by chance */
		CHECK(memmem(data, len, canary, 6) == NULL);
		CHECK(memmem(data, len, "CANARY", 6) == NULL);
		free(data);
	}
	/* Msg/: only secret names; the live canaries are there, the deleted ones not. */
	char msg[4200], p[4600];
	snprintf(msg, sizeof(msg), "%s/Msg", dir);
	DIR *d = opendir(msg);
	struct dirent *de;
	int files = 0;
	char want1234[3], want77[3];
	CHECK(keys_user_filename(want1234, 1234, nkey) == 0 && keys_user_filename(want77, 77, nkey) == 0);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		files++;
		CHECK(!strcmp(de->d_name, want1234) || !strcmp(de->d_name, want77));
		snprintf(p, sizeof(p), "%s/%s", msg, de->d_name);
		size_t len;
		uint8_t *data = slurp(p, &len);
		if (!strcmp(de->d_name, want1234)) {
			for (uint32_t id = 1; id <= 20; id++) {
				char tag[16];
				snprintf(tag, sizeof(tag), "CANARY-%02u-", id);
				size_t hits = count_in(data, len, tag, strlen(tag));
				uint32_t blocks = ((id - 1) % 3 + 4) * 16;
				CHECK(hits == (id % 2 ? 0 : blocks));
			}
		}
		free(data);
	}
	if (d)
		closedir(d);
	CHECK(files == 2);
	/* Nothing else in the state directory. */
	d = opendir(dir);
	int entries = 0;
	while (d && (de = readdir(d)) != NULL)
		entries += de->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK(entries == 3); /* Msg, stindex, journal */
	for (int k = 0; k < 20; k++)
		free(env[k]);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	check_init();
	memset(skey, 0x11, sizeof(skey));
	memset(nkey, 0x22, sizeof(nkey));
	log_set_threshold(LOG_CRIT); /* refusals log errors by design */
	RUN(users_create_remove);
	RUN(append_read_delete_empty);
	RUN(empty_then_append_same_batch);
	RUN(browse_paging);
	RUN(reopen_and_snapshot_equivalence);
	RUN(torn_journal_tail);
	RUN(tampered_state);
	RUN(journal_vs_snapshot_seq);
	RUN(file_longer_shorter_orphans);
	RUN(cleanup_failure_is_retried);
	RUN(group_commit_sync_count);
	RUN(batch_limits);
	RUN(commit_while_reading);
	RUN(canary_scan);
	return check_finish();
}
