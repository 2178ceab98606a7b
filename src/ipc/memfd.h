/* memfd.h: sealed memfds, the carrier of bulk data between roles (a 30 MiB
 * email, a batch of Envelopes). The sender writes once and seals; the receiver
 * maps read-only after checking the seals, so the bytes cannot change under it.
 * Rules: docs/PROTOCOL.md section 7.7. */
#ifndef ALLEARS_IPC_MEMFD_H
#define ALLEARS_IPC_MEMFD_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* The seals a receiver requires, all four of them. */
#define MEMFD_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
/* memfd_create(2) refuses longer names. */
#define MEMFD_NAME_MAX 249

/* Returns a sealed memfd (close-on-exec) holding a copy of p[0..len), or -errno. */
int memfd_from_buffer(const void *p, size_t len, const char *name) WUR;

/* Streaming writer for data produced piecewise: open, append any number of
 * times, finish. Nothing is buffered in user space. */
struct memfd_writer {
	int fd;        /* -1 when closed */
	uint64_t len;  /* bytes appended so far */
};

int memfd_writer_open(struct memfd_writer *w, const char *name) WUR;
/* Appends n bytes (retries short writes and EINTR). On failure the writer
 * still owns its fd: call memfd_writer_abort. */
int memfd_writer_append(struct memfd_writer *w, const void *p, size_t n) WUR;
/* Seals and returns the fd (the caller owns it; w->len is its size), or
 * -errno. Either way the writer no longer holds the fd. */
int memfd_writer_finish(struct memfd_writer *w) WUR;
/* Closes an unfinished writer; harmless on a finished or closed one. */
void memfd_writer_abort(struct memfd_writer *w);

/* Maps a received memfd read-only after checking that it carries all of
 * MEMFD_SEALS_REQUIRED (-EPERM otherwise; -EINVAL and friends for an fd that
 * is not a memfd at all) and that its size is <= max_len (-EFBIG). A size of
 * 0 yields a non-NULL pointer to a static empty object with *ret_len == 0.
 * The fd may be closed afterwards; the mapping stays valid. */
int memfd_map_sealed(int fd, size_t max_len, const uint8_t **ret_map, size_t *ret_len) WUR;
/* Undoes memfd_map_sealed (len as it returned). */
void memfd_unmap(const uint8_t *map, size_t len);
/* 0 when fd carries every required seal, -EPERM when not, -errno when fd is
 * not sealable. */
int memfd_check_sealed(int fd) WUR;

#endif
