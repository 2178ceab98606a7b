/* memfd.c: sealed memfds for bulk data between roles (see memfd.h). */
#include "ipc/memfd.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int memfd_writer_open(struct memfd_writer *w, const char *name)
{
	w->fd = -1;
	w->len = 0;
	if (strlen(name) > MEMFD_NAME_MAX)
		return -ENAMETOOLONG;
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	w->fd = fd;
	return 0;
}

int memfd_writer_append(struct memfd_writer *w, const void *p, size_t n)
{
	const uint8_t *q = p;
	if (w->fd < 0)
		return -EBADF;
	if (n > UINT64_MAX - w->len)
		return -EFBIG;
	while (n > 0) {
		ssize_t k = write(w->fd, q, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		q += k;
		n -= (size_t)k;
		w->len += (uint64_t)k;
	}
	return 0;
}

int memfd_writer_finish(struct memfd_writer *w)
{
	int fd = w->fd;
	w->fd = -1;
	if (fd < 0)
		return -EBADF;
	if (fcntl(fd, F_ADD_SEALS, MEMFD_SEALS_REQUIRED) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

void memfd_writer_abort(struct memfd_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

int memfd_from_buffer(const void *p, size_t len, const char *name)
{
	struct memfd_writer w;
	int r = memfd_writer_open(&w, name);
	if (r < 0)
		return r;
	r = memfd_writer_append(&w, p, len);
	if (r < 0) {
		memfd_writer_abort(&w);
		return r;
	}
	return memfd_writer_finish(&w);
}

int memfd_check_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	return (seals & MEMFD_SEALS_REQUIRED) == MEMFD_SEALS_REQUIRED ? 0 : -EPERM;
}

/* What an empty mapping points at: callers may test the pointer for NULL. */
static const uint8_t memfd_empty[1];

int memfd_map_sealed(int fd, size_t max_len, const uint8_t **ret_map, size_t *ret_len)
{
	struct stat st;
	/* Seals first: only then is the size we read final. */
	int r = memfd_check_sealed(fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	if ((uintmax_t)st.st_size > max_len)
		return -EFBIG;
	if (st.st_size == 0) {
		*ret_map = memfd_empty;
		*ret_len = 0;
		return 0;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	*ret_map = m;
	*ret_len = (size_t)st.st_size;
	return 0;
}

void memfd_unmap(const uint8_t *map, size_t len)
{
	if (map && len > 0 && map != memfd_empty)
		munmap((void *)map, len);
}
