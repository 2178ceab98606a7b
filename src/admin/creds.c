/* creds.c: credentials written as the units load them (see creds.h). */
#include "admin/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/durable.h"

extern char **environ;

int creds_mode_parse(const char *s, enum creds_mode *ret)
{
	if (strcmp(s, "auto") == 0)
		*ret = CREDS_AUTO;
	else if (strcmp(s, "yes") == 0)
		*ret = CREDS_ENCRYPT;
	else if (strcmp(s, "no") == 0)
		*ret = CREDS_PLAIN;
	else
		return -EINVAL;
	return 0;
}

/* Runs `systemd-creds encrypt --name=id - out` with p on its standard input
 * (out: a path, or "-" for its standard output, which goes to /dev/null).
 * quiet: its standard error goes to /dev/null too. 0, or -EIO when it failed. */
static int run_encrypt(const char *id, const char *out, const uint8_t *p, size_t len, bool quiet)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (strcmp(out, "-") == 0)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char name_arg[128];
	snprintf(name_arg, sizeof(name_arg), "--name=%s", id);
	char *argv[] = { (char *)CREDS_SYSTEMD_CREDS, (char *)"encrypt", name_arg, (char *)"-",
		             (char *)out, NULL };
	pid_t pid;
	int rc = posix_spawnp(&pid, CREDS_SYSTEMD_CREDS, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	if (rc != 0) {
		close(in[1]);
		return -rc;
	}
	/* A child that dies early must not kill us with SIGPIPE. */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(in[1], p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	signal(SIGPIPE, old);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return off == len && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int creds_resolve(enum creds_mode mode)
{
	if (mode == CREDS_PLAIN)
		return 0;
	static const uint8_t probe[] = "allears probe";
	int rc = run_encrypt("probe", "-", probe, sizeof(probe) - 1, mode == CREDS_AUTO);
	if (rc == 0)
		return 1;
	if (mode == CREDS_AUTO)
		return 0;
	fprintf(stderr, "allears-admin: systemd-creds encrypt does not work here (%s); run as root "
	                "on a systemd host, or use --encrypt no for plain credential files\n",
	        rc == -EIO ? "it failed" : strerror(-rc));
	return rc;
}

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int creds_write(const char *dir, const char *name, const char *id, const uint8_t *p, size_t len,
                bool encrypt)
{
	char tmp[256], final[4096], path[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s%s.tmp", name, encrypt ? ".cred" : "") >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	if (!encrypt) {
		int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -errno;
		enum durable_step step;
		int rc = durable_replace(dirfd, name, tmp, p, len, NULL, NULL, &step);
		close(dirfd);
		return rc;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tmp) >= sizeof(path) ||
	    (size_t)snprintf(final, sizeof(final), "%s/%s.cred", dir, name) >= sizeof(final))
		return -ENAMETOOLONG;
	unlink(path);
	mode_t old = umask(0077);
	int rc = run_encrypt(id, path, p, len, false);
	umask(old);
	if (rc == 0 && chmod(path, 0600) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_path(path, false);
	if (rc == 0 && rename(path, final) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_path(dir, true);
	if (rc < 0)
		unlink(path);
	return rc;
}

int creds_write_public(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char tmp[256], path[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= sizeof(tmp) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	enum durable_step step;
	int rc = durable_replace(dirfd, name, tmp, p, len, NULL, NULL, &step);
	close(dirfd);
	if (rc == 0 && chmod(path, 0644) < 0)
		rc = -errno;
	return rc;
}
