/* fileio.c: bounded whole-file reads and durable whole-file writes. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/fileio.h"

int fileio_read_fd(int fd, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *p = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(p);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			p = xrealloc(p, cap);
		}
		ssize_t r = read(fd, p + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(p);
			errno = e;
			return -EIO;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			free(p);
			return -EFBIG;
		}
	}
	*ret = p;
	*ret_len = len;
	return 0;
}

int fileio_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

int fileio_write_atomic(const char *path, const uint8_t *p, size_t len, mode_t mode,
                        bool replace)
{
	/* A fresh random name next to the target: never a file of the user's. */
	size_t n = strlen(path) + 8;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	if (fchmod(fd, mode) != 0) /* umask may have taken bits we want */
		rc = -errno;
	if (rc == 0)
		rc = fileio_write_all(fd, p, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0) {
		if (replace) {
			if (rename(tmp, path) != 0)
				rc = -errno;
		} else {
			if (link(tmp, path) != 0)
				rc = -errno;
		}
	}
	(void)unlink(tmp);
	free(tmp);
	if (rc == 0)
		rc = fsync_dir_of(path);
	return rc;
}
