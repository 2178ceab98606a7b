/* status.c: `allears-admin status` (see status.h). */
#include "admin/status.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

extern char **environ;

#define STATUS_OUTPUT_MAX (256 * 1024)
#define STATUS_FIELD_MAX 64

static const char *const roles[] = { "enquiry", "storage", "account", "deliver",
	                                 "mta",     "api",     "web" };
#define N_ROLES (sizeof(roles) / sizeof(roles[0]))

struct unit_state {
	char active[STATUS_FIELD_MAX];
	char sub[STATUS_FIELD_MAX];
	char pid[STATUS_FIELD_MAX];
	char restarts[STATUS_FIELD_MAX];
	char memory[STATUS_FIELD_MAX];
	char load[STATUS_FIELD_MAX];
};

/* Runs argv, returns its standard output (NUL-terminated, malloc'd) or NULL. */
static char *capture(char *const argv[], int *ret_status)
{
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	if (rc != 0) {
		close(out[0]);
		errno = rc;
		return NULL;
	}
	char *buf = xmalloc(STATUS_OUTPUT_MAX + 1);
	size_t len = 0;
	for (;;) {
		ssize_t r = read(out[0], buf + len, STATUS_OUTPUT_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (len += (size_t)r) == STATUS_OUTPUT_MAX)
			break;
	}
	close(out[0]);
	buf[len] = '\0';
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	return buf;
}

static void field(char dst[STATUS_FIELD_MAX], const char *line, const char *key)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) != 0 || line[k] != '=')
		return;
	snprintf(dst, STATUS_FIELD_MAX, "%.*s", (int)strcspn(line + k + 1, "\n"), line + k + 1);
}

/* Fills st[] from `systemctl show` of the units, in order (blank lines
 * separate the units' blocks). */
static int show_units(char units[][64], size_t n, struct unit_state *st)
{
	const char *prog = getenv("ALLEARS_SYSTEMCTL");
	char *argv[4 + 2 * N_ROLES + 2];
	size_t a = 0;
	argv[a++] = (char *)(prog && *prog ? prog : "systemctl");
	argv[a++] = (char *)"show";
	argv[a++] = (char *)"--property=LoadState,ActiveState,SubState,MainPID,NRestarts,"
	                    "MemoryCurrent";
	for (size_t i = 0; i < n; i++)
		argv[a++] = units[i];
	argv[a] = NULL;
	int status = 0;
	char *out = capture(argv, &status);
	if (!out) {
		fprintf(stderr, "allears-admin: cannot run %s: %s\n", argv[0], strerror(errno));
		return -1;
	}
	if (status != 0) {
		fprintf(stderr, "allears-admin: %s show failed (exit %d)\n", argv[0], status);
		free(out);
		return -1;
	}
	size_t u = 0;
	bool in_block = false;
	for (char *line = out; *line && u < n;) {
		char *nl = strchr(line, '\n');
		if (line[0] == '\n' || line[0] == '\0') {
			if (in_block)
				u++;
			in_block = false;
		} else {
			in_block = true;
			field(st[u].load, line, "LoadState");
			field(st[u].active, line, "ActiveState");
			field(st[u].sub, line, "SubState");
			field(st[u].pid, line, "MainPID");
			field(st[u].restarts, line, "NRestarts");
			field(st[u].memory, line, "MemoryCurrent");
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	free(out);
	return 0;
}

static void human(char *out, size_t cap, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
}

static uint64_t walk_bytes, walk_files;

static int walk_fn(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	if (type == FTW_F) {
		walk_bytes += (uint64_t)sb->st_blocks * 512;
		walk_files++;
	}
	return 0;
}

int admin_status_main(int argc, char **argv)
{
	if (argc != 0) {
		fprintf(stderr, "Usage: allears-admin status\n");
		return 2;
	}
	char units[2 * N_ROLES][64];
	struct unit_state st[2 * N_ROLES];
	memset(st, 0, sizeof(st));
	for (size_t i = 0; i < N_ROLES; i++) {
		snprintf(units[2 * i], sizeof(units[0]), "allears-%s.service", roles[i]);
		snprintf(units[2 * i + 1], sizeof(units[0]), "allears-%s.socket", roles[i]);
	}
	if (show_units(units, 2 * N_ROLES, st) < 0)
		return 1;
	int rc = 0;
	printf("%-26s %-9s %-10s %8s %8s %10s\n", "UNIT", "ACTIVE", "SUB", "PID", "RESTARTS",
	       "MEMORY");
	for (size_t i = 0; i < 2 * N_ROLES; i++) {
		bool service = i % 2 == 0;
		if (strcmp(st[i].load, "not-found") == 0) {
			printf("%-26s %s\n", units[i], "(not installed)");
			continue;
		}
		char mem[32] = "-";
		char *end;
		unsigned long long m = strtoull(st[i].memory, &end, 10);
		if (service && st[i].memory[0] && *end == '\0' && m != ULLONG_MAX)
			human(mem, sizeof(mem), m);
		printf("%-26s %-9s %-10s %8s %8s %10s\n", units[i], st[i].active, st[i].sub,
		       service ? st[i].pid : "-", service ? st[i].restarts : "-", mem);
		if (service && strcmp(st[i].active, "active") != 0)
			rc = STATUS_EXIT_NOT_RUNNING;
	}
	const char *root = getenv("ALLEARS_STATE_ROOT");
	if (!root || !*root)
		root = STATUS_STATE_ROOT;
	printf("\n%-40s %12s %8s\n", "STATE", "ON DISK", "FILES");
	for (size_t i = 0; i < N_ROLES; i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/%s", root, roles[i]);
		struct stat sb;
		if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		walk_bytes = walk_files = 0;
		if (nftw(dir, walk_fn, 16, FTW_PHYS) < 0) {
			printf("%-40s %12s\n", dir, strerror(errno));
			continue;
		}
		char size[32];
		human(size, sizeof(size), walk_bytes);
		printf("%-40s %12s %8" PRIu64 "\n", dir, size, walk_files);
	}
	if (rc)
		printf("\nNot every role is running: journalctl -u 'allears-*' tells why.\n");
	return rc;
}
