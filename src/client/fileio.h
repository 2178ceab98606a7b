/* fileio.h: whole-file reads with a size limit and durable whole-file writes
 * (temporary file, fsync, link or rename, fsync of the directory), for the
 * client's small files and for downloads. */
#ifndef ALLEARS_CLIENT_FILEIO_H
#define ALLEARS_CLIENT_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* Reads all of fd into a fresh buffer (*ret, freed by the caller); -EFBIG
 * when there are more than max bytes, -EIO with errno kept otherwise. */
int fileio_read_fd(int fd, size_t max, uint8_t **ret, size_t *ret_len) WUR;

/* Writes p to path through a new temporary file path.XXXXXX (mkostemp) with
 * the given mode. When replace is false the final step is link(2), so an
 * existing file is never overwritten (-EEXIST). Returns 0 or a negative
 * errno; the temporary file is removed on failure. */
int fileio_write_atomic(const char *path, const uint8_t *p, size_t len, mode_t mode,
                        bool replace) WUR;

/* write(2) all of p, retrying on EINTR; -errno on failure. */
int fileio_write_all(int fd, const uint8_t *p, size_t len) WUR;

#endif
