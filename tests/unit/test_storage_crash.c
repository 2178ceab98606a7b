/* test_storage_crash.c: kill -9 at any instant (docs/PROTOCOL.md section 9.6).
 * A forked child appends, deletes and empties in batches, reporting each
 * batch's operations to the parent before committing and an acknowledgement
 * after. The parent SIGKILLs it at random moments, or the child kills itself at
 * a chosen point inside a commit or a snapshot (store_test_set_hook). After
 * every kill the parent reopens the store and checks: every acknowledged
 * envelope is there with its exact bytes, nothing acknowledged as deleted is,
 * nothing unknown appeared, every file is exactly as long as its index says;
 * then the next child carries on with the same store. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "storage/store.h"

#define NUSERS 4
#define MAX_ID 200000
#define BATCHES_PER_CHILD 5000 /* far more than a child lives: it is killed first */
#define SNAPSHOT_BYTES 16384 /* ~200 records: snapshots happen often */

static const uint16_t users[NUSERS] = { 3, 100, 2000, 4095 };
static uint8_t skey[KEYS_KEY_BYTES];
static uint8_t nkey[KEYS_KEY_BYTES];
static char *dir;

enum msg_type { M_READY = 1, M_APPEND, M_DELETE, M_EMPTY, M_ACK };
struct msg {
	uint8_t type;
	uint8_t pad;
	uint16_t uid;
	uint32_t id;
	uint32_t blocks;
};

/* Parent's model of one user's ids. */
enum { S_NONE, S_LIVE, S_DELETED, S_IN_APPEND, S_IN_DELETE };
struct model {
	uint8_t state[MAX_ID];
	uint32_t blocks[MAX_ID];
	bool in_empty;
};
static struct model *model[NUSERS];

static int uidx(uint16_t uid)
{
	for (int i = 0; i < NUSERS; i++)
		if (users[i] == uid)
			return i;
	return -1;
}

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

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static struct store *open_store(void)
{
	struct store_options o = { .snapshot_bytes = SNAPSHOT_BYTES };
	struct store *st = NULL;
	int rc = store_open(dir, skey, nkey, &o, &st);
	if (rc != 0)
		fprintf(stderr, "  store_open after a kill: %s\n", strerror(-rc));
	return st;
}

/* ------------------------------------------------------------- the child */

static enum store_hook kill_at;
static int kill_countdown; /* 0: no hook kill */

static void kill_hook(enum store_hook where)
{
	if (kill_countdown && where == kill_at && --kill_countdown == 0)
		raise(SIGKILL);
}

static void send_msgs(int fd, const struct msg *m, size_t n)
{
	/* At most PIPE_BUF per write, so the parent never sees half a message. */
	size_t per = 4096 / sizeof(*m);
	for (size_t i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;
		if (write(fd, m + i, k * sizeof(*m)) != (ssize_t)(k * sizeof(*m)))
			_exit(4);
	}
}

static NORETURN void child(int wfd, unsigned seed)
{
	if (kill_countdown)
		store_test_set_hook(kill_hook);
	struct store *st = open_store();
	if (!st)
		_exit(2);
	/* The child's own view: the live ids of each user, from the store. */
	static uint32_t live[NUSERS][MAX_ID];
	size_t nlive[NUSERS] = { 0 };
	struct store_item *it = xmalloc(STORE_BROWSE_MAX_COUNT * sizeof(*it));
	for (int u = 0; u < NUSERS; u++) {
		struct store_query q = { .oldest_first = true };
		for (;;) {
			size_t n;
			bool more;
			if (store_browse(st, users[u], &q, it, STORE_BROWSE_MAX_COUNT, &n, &more) != 0)
				_exit(2);
			for (size_t i = 0; i < n; i++)
				live[u][nlive[u]++] = it[i].id;
			if (!more)
				break;
			q.from_id = it[n - 1].id;
		}
	}
	struct msg ready = { .type = M_READY };
	send_msgs(wfd, &ready, 1);
	srand(seed);
	for (int round = 0; round < BATCHES_PER_CHILD; round++) {
		struct store_batch *b = store_batch_new(st);
		struct msg m[64];
		uint8_t *bufs[64];
		size_t nm = 0, nb = 0;
		int nops = rand() % 30 + 1;
		for (int k = 0; k < nops; k++) {
			int u = rand() % NUSERS;
			int what = rand() % 100;
			if (what < 75) {
				size_t blocks = rand() % 200 == 0 ? (size_t)(rand() % 3 + 1) * 32768 + 17
				                                 : (size_t)(rand() % 120 + 4);
				size_t len = blocks * ENVELOPE_BLOCK;
				uint32_t id;
				bufs[nb] = xmalloc(len);
				if (store_queue_append(b, users[u], bufs[nb], len, &id) < 0)
					_exit(5);
				fill(bufs[nb++], len, users[u], id);
				m[nm++] = (struct msg){ .type = M_APPEND, .uid = users[u], .id = id,
					                    .blocks = (uint32_t)blocks };
			} else if (what < 99) {
				if (nlive[u] == 0)
					continue;
				size_t pick = (size_t)rand() % nlive[u];
				uint32_t id = live[u][pick];
				live[u][pick] = live[u][--nlive[u]];
				if (store_queue_delete(b, users[u], id) < 0)
					_exit(5);
				m[nm++] = (struct msg){ .type = M_DELETE, .uid = users[u], .id = id };
			} else {
				nlive[u] = 0;
				/* Appends queued earlier in this batch go too: forget them. */
				for (size_t i = 0; i < nm; i++)
					if (m[i].type == M_APPEND && m[i].uid == users[u])
						m[i].pad = 1;
				if (store_queue_empty(b, users[u]) < 0)
					_exit(5);
				m[nm++] = (struct msg){ .type = M_EMPTY, .uid = users[u] };
			}
		}
		send_msgs(wfd, m, nm);
		(void)store_batch_commit(b);
		store_batch_apply(b);
		for (size_t i = 0; i < store_batch_ops(b); i++)
			if (store_batch_result(b, i) != 0)
				_exit(6);
		store_batch_free(b);
		for (size_t i = 0; i < nb; i++)
			free(bufs[i]);
		for (size_t i = 0; i < nm; i++)
			if (m[i].type == M_APPEND && !m[i].pad)
				live[uidx(m[i].uid)][nlive[uidx(m[i].uid)]++] = m[i].id;
		struct msg ack = { .type = M_ACK };
		send_msgs(wfd, &ack, 1);
	}
	_exit(0);
}

/* ------------------------------------------------------------ the parent */

static void take(const struct msg *m, struct msg *pending, size_t *npending)
{
	if (m->type == M_ACK) {
		for (size_t i = 0; i < *npending; i++) {
			const struct msg *p = &pending[i];
			struct model *md = model[uidx(p->uid)];
			if (p->type == M_APPEND) {
				md->state[p->id] = S_LIVE;
				md->blocks[p->id] = p->blocks;
			} else if (p->type == M_DELETE) {
				md->state[p->id] = S_DELETED;
			} else {
				for (uint32_t id = 1; id < MAX_ID; id++)
					if (md->state[id] == S_LIVE)
						md->state[id] = S_DELETED;
			}
		}
		*npending = 0;
		return;
	}
	if (m->type == M_READY)
		return;
	pending[(*npending)++] = *m;
}

/* The child's in-flight batch: each op may or may not have become durable. */
static void mark_inflight(const struct msg *pending, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct msg *p = &pending[i];
		struct model *md = model[uidx(p->uid)];
		if (p->type == M_APPEND) {
			md->state[p->id] = S_IN_APPEND;
			md->blocks[p->id] = p->blocks;
		} else if (p->type == M_DELETE) {
			if (md->state[p->id] == S_LIVE)
				md->state[p->id] = S_IN_DELETE;
		} else {
			md->in_empty = true;
		}
	}
}

/* Deleted envelopes leave holes: after recovery no old byte survives there. */
static bool gap_is_zero(uint16_t uid, uint64_t from, uint64_t to)
{
	char name[KEYS_FILENAME_LEN + 1], path[4200];
	if (keys_user_filename(name, uid, nkey) != 0)
		fatalx("name");
	snprintf(path, sizeof(path), "%s/Msg/%s", dir, name);
	int fd = open(path, O_RDONLY);
	bool ok = fd >= 0;
	uint8_t buf[65536];
	while (ok && from < to) {
		size_t n = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ok = pread(fd, buf, n, (off_t)from) == (ssize_t)n;
		for (size_t i = 0; ok && i < n; i++)
			ok = buf[i] == 0;
		from += n;
	}
	if (fd >= 0)
		close(fd);
	if (!ok)
		fprintf(stderr, "  uid %u: deleted bytes survive\n", uid);
	return ok;
}

/* Checks the reopened store against the model and settles the in-flight ops
 * from what is observed. Returns the number of problems. */
static int verify(struct store *st)
{
	int bad = 0;
	uint8_t *present = xcalloc(MAX_ID, 1);
	struct store_item *it = xmalloc(STORE_BROWSE_MAX_COUNT * sizeof(*it));
	for (int u = 0; u < NUSERS; u++) {
		struct model *md = model[u];
		memset(present, 0, MAX_ID);
		uint64_t end = 0;
		struct store_query q = { .oldest_first = true };
		for (;;) {
			size_t n;
			bool more;
			if (store_browse(st, users[u], &q, it, STORE_BROWSE_MAX_COUNT, &n, &more) != 0) {
				bad++;
				break;
			}
			for (size_t i = 0; i < n; i++) {
				uint32_t id = it[i].id;
				size_t len = (size_t)it[i].blocks * ENVELOPE_BLOCK;
				if (id >= MAX_ID) {
					bad++;
					continue;
				}
				present[id] = 1;
				uint8_t s = md->state[id];
				if (s != S_LIVE && s != S_IN_APPEND && s != S_IN_DELETE) {
					fprintf(stderr, "  uid %u id %u present in state %u\n", users[u], id, s);
					bad++;
				}
				if (md->blocks[id] != it[i].blocks) {
					bad++;
					continue;
				}
				uint8_t *want = xmalloc(len), *got = xmalloc(len);
				fill(want, len, users[u], id);
				if (store_read(st, users[u], id, got, len) != 0 || memcmp(want, got, len) != 0) {
					fprintf(stderr, "  uid %u id %u: wrong bytes\n", users[u], id);
					bad++;
				}
				free(want);
				free(got);
				if (it[i].offset > end)
					bad += !gap_is_zero(users[u], end, it[i].offset);
				end = it[i].offset + len;
			}
			if (!more)
				break;
			q.from_id = it[n - 1].id;
		}
		/* An in-flight empty either happened (every acknowledged id gone) or not. */
		bool emptied = false;
		if (md->in_empty) {
			size_t live_there = 0, live_gone = 0;
			for (uint32_t id = 1; id < MAX_ID; id++)
				if (md->state[id] == S_LIVE)
					present[id] ? live_there++ : live_gone++;
			if (live_there && live_gone)
				bad++;
			emptied = live_gone > 0;
		}
		for (uint32_t id = 1; id < MAX_ID; id++) {
			uint8_t s = md->state[id];
			if (s == S_LIVE && !present[id] && !emptied) {
				fprintf(stderr, "  uid %u id %u acknowledged but missing\n", users[u], id);
				bad++;
			}
			if (s == S_LIVE)
				md->state[id] = present[id] ? S_LIVE : S_DELETED;
			else if (s == S_IN_APPEND)
				md->state[id] = present[id] ? S_LIVE : S_NONE;
			else if (s == S_IN_DELETE)
				md->state[id] = present[id] ? S_LIVE : S_DELETED;
		}
		md->in_empty = false;
		/* The file is exactly as long as the index says. */
		char name[KEYS_FILENAME_LEN + 1], path[4200];
		if (keys_user_filename(name, users[u], nkey) != 0)
			fatalx("name");
		snprintf(path, sizeof(path), "%s/Msg/%s", dir, name);
		struct stat sb;
		if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != end) {
			fprintf(stderr, "  uid %u: file size %lld, index end %llu\n", users[u],
			        (long long)sb.st_size, (unsigned long long)end);
			bad++;
		}
	}
	free(it);
	free(present);
	return bad;
}

struct round_stats {
	int rounds, killed_by_hook, killed_by_parent, finished, bad;
};

/* One child life. hook_count == 0: the parent kills after delay_us. */
static void one_round(enum store_hook hook, int hook_count, long delay_us, unsigned seed,
                      struct round_stats *rs)
{
	int p[2];
	if (pipe(p) != 0)
		fatal("pipe");
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		kill_at = hook;
		kill_countdown = hook_count;
		child(p[1], seed);
	}
	close(p[1]);
	static struct msg pending[4096];
	size_t npending = 0;
	struct msg m;
	bool ready = false;
	while (!ready && read(p[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		take(&m, pending, &npending);
		ready = m.type == M_READY;
	}
	if (hook_count == 0 && ready) {
		struct timespec ts = { .tv_sec = delay_us / 1000000, .tv_nsec = (delay_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	while (read(p[0], &m, sizeof(m)) == (ssize_t)sizeof(m))
		take(&m, pending, &npending);
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	rs->rounds++;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		hook_count ? rs->killed_by_hook++ : rs->killed_by_parent++;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rs->finished++;
	else {
		fprintf(stderr, "  child failed: status %d\n", status);
		rs->bad++;
	}
	mark_inflight(pending, npending);
	struct store *st = open_store();
	if (!st) {
		rs->bad++;
		return;
	}
	rs->bad += verify(st);
	store_close(st);
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	dir = xmalloc(4096);
	snprintf(dir, 4096, "%s/storage-crash-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		fatal("mkdtemp");
	for (int u = 0; u < NUSERS; u++)
		model[u] = xcalloc(1, sizeof(struct model));
	struct store *st = open_store();
	if (!st)
		fatalx("open");
	struct store_batch *b = store_batch_new(st);
	for (int u = 0; u < NUSERS; u++)
		if (store_queue_create(b, users[u]) < 0)
			fatalx("create");
	(void)store_batch_commit(b);
	store_batch_apply(b);
	store_batch_free(b);
	store_close(st);
}

static void random_kills(void)
{
	struct round_stats rs = { 0 };
	srand(20240611);
	for (int r = 0; r < 40; r++)
		one_round(0, 0, rand() % 40000, (unsigned)rand(), &rs);
	fprintf(stderr, "  random: %d rounds, %d killed, %d finished\n", rs.rounds,
	        rs.killed_by_parent, rs.finished);
	CHECK(rs.bad == 0);
	CHECK(rs.killed_by_parent >= 30);
}

static void hook_kills(void)
{
	static const enum store_hook hooks[] = {
		STORE_HOOK_CLEANUP_DONE,     STORE_HOOK_SNAPSHOT_TMP,     STORE_HOOK_SNAPSHOT_RENAMED,
		STORE_HOOK_DATA_CHUNK,       STORE_HOOK_FILES_SYNCED,     STORE_HOOK_JOURNAL_WRITTEN,
		STORE_HOOK_JOURNAL_SYNCED,
	};
	static const int counts[] = { 1, 3, 17 };
	struct round_stats rs = { 0 };
	int by_hook[ARRAY_SIZE(hooks)] = { 0 };
	for (size_t h = 0; h < ARRAY_SIZE(hooks); h++)
		for (size_t c = 0; c < ARRAY_SIZE(counts); c++) {
			int before = rs.killed_by_hook;
			one_round(hooks[h], counts[c], 0, (unsigned)(h * 31 + c), &rs);
			by_hook[h] += rs.killed_by_hook - before;
		}
	fprintf(stderr, "  hooks: %d rounds, %d killed at their hook, %d finished\n", rs.rounds,
	        rs.killed_by_hook, rs.finished);
	CHECK(rs.bad == 0);
	for (size_t h = 0; h < ARRAY_SIZE(hooks); h++)
		CHECK(by_hook[h] >= 2); /* every kill point was really reached */
}

/* A user created and written in one batch, or removed, killed at each point:
 * recovery must never find a non-empty file of no user. */
static void create_remove_kills(void)
{
	static const struct {
		enum store_hook h;
		int n;
	} at[] = {
		{ STORE_HOOK_JOURNAL_WRITTEN, 1 }, /* phase A: creation not durable */
		{ STORE_HOOK_JOURNAL_SYNCED, 1 },  /* creation durable, envelopes not */
		{ STORE_HOOK_DATA_CHUNK, 1 },
		{ STORE_HOOK_FILES_SYNCED, 1 },
		{ STORE_HOOK_JOURNAL_WRITTEN, 2 },
		{ STORE_HOOK_JOURNAL_SYNCED, 2 },
	};
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		uint16_t x = (uint16_t)(1000 + i);
		for (int removal = 0; removal < 2; removal++) {
			pid_t pid = fork();
			if (pid == 0) {
				struct store *st = open_store();
				if (!st)
					_exit(2);
				static uint8_t env[4096];
				uint32_t id;
				struct store_batch *b = store_batch_new(st);
				if (removal) {
					if (store_queue_remove(b, x) < 0)
						_exit(3);
				} else if (store_queue_create(b, x) < 0 ||
				           store_queue_append(b, x, env, sizeof(env), &id) < 0) {
					_exit(3);
				}
				kill_at = removal && at[i].n == 2 ? STORE_HOOK_JOURNAL_SYNCED : at[i].h;
				kill_countdown = removal ? 1 : at[i].n;
				store_test_set_hook(kill_hook);
				(void)store_batch_commit(b);
				store_batch_apply(b);
				/* The removal's unlink waits for the next commit: die before it. */
				_exit(removal ? 7 : 0);
			}
			int status;
			waitpid(pid, &status, 0);
			if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) &&
			    !(WIFEXITED(status) && WEXITSTATUS(status) == (removal ? 7 : 0)))
				bad++;
			struct store *st = open_store();
			if (!st) {
				bad++;
				continue;
			}
			uint64_t bytes;
			uint32_t count;
			char name[KEYS_FILENAME_LEN + 1], path[4200];
			if (keys_user_filename(name, x, nkey) != 0)
				fatalx("name");
			snprintf(path, sizeof(path), "%s/Msg/%s", dir, name);
			struct stat sb;
			bool file = stat(path, &sb) == 0;
			if (store_user_exists(st, x)) {
				bad += store_usage(st, x, &bytes, &count) != 0 || !file ||
				       (uint64_t)sb.st_size != bytes;
			} else {
				bad += file; /* removed by recovery */
			}
			/* Make sure the next iteration starts from "x exists" for removal. */
			if (!removal && !store_user_exists(st, x)) {
				struct store_batch *b = store_batch_new(st);
				if (store_queue_create(b, x) < 0)
					bad++;
				(void)store_batch_commit(b);
				store_batch_apply(b);
				store_batch_free(b);
			}
			store_close(st);
		}
	}
	CHECK(bad == 0);
}

static void survives_and_continues(void)
{
	/* After all that, a final clean life: more work, a checkpoint, a reopen. */
	struct round_stats rs = { 0 };
	one_round(STORE_HOOK_CLEANUP_DONE, 0 /* never */, 0, 99, &rs);
	CHECK(rs.bad == 0 && rs.finished == 0 && rs.killed_by_parent == 1);
	struct store *st = open_store();
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(store_checkpoint(st) == 0);
	store_close(st);
	st = open_store();
	CHECK(st != NULL && verify(st) == 0);
	store_close(st);
}

int main(void)
{
	check_init();
	memset(skey, 0x5a, sizeof(skey));
	memset(nkey, 0xa5, sizeof(nkey));
	log_set_threshold(LOG_WARNING);
	setup();
	RUN(random_kills);
	RUN(hook_kills);
	RUN(create_remove_kills);
	RUN(survives_and_continues);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	for (int u = 0; u < NUSERS; u++)
		free(model[u]);
	return check_finish();
}
