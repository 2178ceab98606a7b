/* test_client_state.c: the state file (src/client/state.c): the strict
 * format, strictly increasing timestamps when the clock stands still or
 * goes backwards, no timestamp used twice by processes racing on one file,
 * and a damaged file reported instead of guessed at. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "client/state.h"

static char dir[64], path[128];

static void parse_format(void)
{
	struct state s;
	const char a[] = "allears-state 1\nuid 291\nlast-ts 1767225600000\n";
	CHECK(state_parse(&s, a, sizeof(a) - 1) == 0);
	CHECK(s.has_uid && s.uid == 291 && s.last_ts == 1767225600000ull);
	char out[STATE_FILE_MAX];
	size_t n = state_format(&s, out);
	CHECK(n == sizeof(a) - 1 && memcmp(out, a, n) == 0);
	const char b[] = "allears-state 1\nlast-ts 0\n";
	CHECK(state_parse(&s, b, sizeof(b) - 1) == 0 && !s.has_uid && s.last_ts == 0);
	n = state_format(&s, out);
	CHECK(n == sizeof(b) - 1 && memcmp(out, b, n) == 0);
	static const char *const bad[] = {
		"",
		"allears-state 2\nlast-ts 1\n",
		"allears-state 1\n",                          /* no last-ts */
		"allears-state 1\nlast-ts 1",                 /* no LF */
		"allears-state 1\nlast-ts 01\n",              /* leading zero */
		"allears-state 1\nlast-ts -1\n",
		"allears-state 1\nlast-ts 1\n\n",             /* trailing */
		"allears-state 1\nuid 4096\nlast-ts 1\n",     /* uid out of range */
		"allears-state 1\nlast-ts 1\nuid 1\n",        /* order */
		"allears-state 1\nuid 1\nuid 1\nlast-ts 1\n", /* twice */
		"allears-state 1\nlast-ts 9223372036854775808\n",
		"allears-state 1\nlast-ts 99999999999999999999\n",
		"allears-state 1\nlast-ts  1\n",
		"allears-state 1\r\nlast-ts 1\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		s.last_ts = 77;
		CHECK(state_parse(&s, bad[i], strlen(bad[i])) == -EBADMSG);
		CHECK(s.last_ts == 77);
	}
}

static void increasing(void)
{
	CHECK(state_ts_after(0, 1000) == 1000);
	CHECK(state_ts_after(1000, 1000) == 1001);
	CHECK(state_ts_after(5000, 1000) == 5001); /* the clock went back */
	CHECK(state_ts_after(STATE_TS_MAX, 1) == 0);
	char err[512];
	uint64_t ts, prev = 0;
	unlink(path);
	for (int i = 0; i < 50; i++) {
		/* The clock stands still, then jumps back. */
		uint64_t now = i < 25 ? 1767225600000ull : 1767225500000ull;
		CHECK(state_next_ts(path, now, &ts, NULL, err, sizeof(err)) == 0);
		CHECK(ts > prev);
		prev = ts;
	}
	CHECK(prev == 1767225600000ull + 49);
	/* A later clock wins again. */
	CHECK(state_next_ts(path, 1767225700000ull, &ts, NULL, err, sizeof(err)) == 0);
	CHECK(ts == 1767225700000ull);
	struct state s;
	CHECK(state_load(path, &s, err, sizeof(err)) == 0 && s.last_ts == ts && !s.has_uid);
	CHECK(state_set_uid(path, true, 4095, err, sizeof(err)) == 0);
	CHECK(state_load(path, &s, err, sizeof(err)) == 0 && s.has_uid && s.uid == 4095);
	CHECK(s.last_ts == ts); /* kept */
	CHECK(state_next_ts(path, 1, &ts, &s, err, sizeof(err)) == 0 && s.uid == 4095);
	CHECK(state_set_uid(path, false, 0, err, sizeof(err)) == 0);
	CHECK(state_load(path, &s, err, sizeof(err)) == 0 && !s.has_uid);
	/* Now is a real clock reading. */
	CHECK(state_now_ms() > 1600000000000ull);
}

static void racing_processes(void)
{
	enum { PROCS = 4, EACH = 150 };
	char out[128];
	snprintf(out, sizeof(out), "%s/race", dir);
	unlink(path);
	for (int p = 0; p < PROCS; p++) {
		pid_t pid = fork();
		if (pid == 0) {
			char name[160], err[512];
			snprintf(name, sizeof(name), "%s.%d", out, p);
			FILE *f = fopen(name, "w");
			for (int i = 0; i < EACH; i++) {
				uint64_t ts;
				/* Every process sees the same frozen clock. */
				if (state_next_ts(path, 1767225600000ull, &ts, NULL, err, sizeof(err)) != 0)
					_exit(1);
				fprintf(f, "%llu\n", (unsigned long long)ts);
			}
			fclose(f);
			_exit(0);
		}
	}
	int ok = 1;
	for (int p = 0; p < PROCS; p++) {
		int st;
		wait(&st);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECK(ok);
	/* Every timestamp handed out exactly once: the union is exactly
	 * now .. now + PROCS*EACH - 1, and each process saw them increasing. */
	static unsigned char seen[PROCS * EACH];
	memset(seen, 0, sizeof(seen));
	int total = 0;
	for (int p = 0; p < PROCS; p++) {
		char name[160];
		snprintf(name, sizeof(name), "%s.%d", out, p);
		FILE *f = fopen(name, "r");
		unsigned long long v, prev = 0;
		while (f && fscanf(f, "%llu", &v) == 1) {
			CHECK(v > prev);
			prev = v;
			unsigned long long k = v - 1767225600000ull;
			CHECK(k < PROCS * EACH);
			if (k < PROCS * EACH) {
				CHECK(seen[k] == 0);
				seen[k] = 1;
			}
			total++;
		}
		if (f)
			fclose(f);
	}
	CHECK(total == PROCS * EACH);
}

static void damaged_file(void)
{
	char err[512];
	uint64_t ts = 42;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8);
	close(fd);
	err[0] = 0;
	CHECK(state_next_ts(path, 1000, &ts, NULL, err, sizeof(err)) == -EBADMSG);
	CHECK(ts == 42 && strstr(err, "damaged") != NULL);
	/* Too large. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char big[STATE_FILE_MAX + 10];
	memset(big, 'a', sizeof(big));
	CHECK(fd >= 0 && write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
	close(fd);
	struct state s;
	CHECK(state_load(path, &s, err, sizeof(err)) == -EBADMSG);
	/* A missing file is an empty state. */
	unlink(path);
	CHECK(state_load(path, &s, err, sizeof(err)) == 0 && !s.has_uid && s.last_ts == 0);
	/* A directory that cannot be written: the error is reported. */
	char nodir[160];
	snprintf(nodir, sizeof(nodir), "%s/missing/state", dir);
	CHECK(state_next_ts(nodir, 1000, &ts, NULL, err, sizeof(err)) < 0);
}

int main(void)
{
	check_init();
	snprintf(dir, sizeof(dir), "/tmp/test_client_state.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	RUN(parse_format);
	RUN(increasing);
	RUN(racing_processes);
	RUN(damaged_file);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_finish();
}
