/* durable.c: crash-safe whole-file replacement (see durable.h). */
#include "common/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static bool failing(durable_fault_fn fault, void *ctx, enum durable_step step)
{
	if (!fault || !fault(ctx, step))
		return false;
	errno = EIO;
	return true;
}

int durable_replace(int dirfd, const char *name, const char *tmp, const uint8_t *data, size_t len,
                    durable_fault_fn fault, void *ctx, enum durable_step *ret_step)
{
	enum durable_step step = DURABLE_OPEN;
	int fd = failing(fault, ctx, step)
	             ? -1
	             : openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	step = DURABLE_WRITE;
	for (size_t off = 0; off < len;) {
		ssize_t n = failing(fault, ctx, step) ? -1 : write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	step = DURABLE_FSYNC;
	if (failing(fault, ctx, step) || fsync(fd) != 0)
		goto fail;
	int rc = close(fd);
	fd = -1;
	if (rc != 0)
		goto fail;
	step = DURABLE_RENAME;
	if (failing(fault, ctx, step) || renameat(dirfd, tmp, dirfd, name) != 0)
		goto fail;
	step = DURABLE_DIRSYNC;
	if (failing(fault, ctx, step) || fsync(dirfd) != 0) {
		*ret_step = step;
		return -errno;
	}
	return 0;
fail:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	*ret_step = step;
	return -e;
}

const char *durable_step_name(enum durable_step step)
{
	switch (step) {
	case DURABLE_OPEN:
		return "open";
	case DURABLE_WRITE:
		return "write";
	case DURABLE_FSYNC:
		return "fsync";
	case DURABLE_RENAME:
		return "rename";
	case DURABLE_DIRSYNC:
		return "directory fsync";
	}
	return "?";
}
