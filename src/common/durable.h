/* durable.h: replacing a whole file so that a crash at any instant leaves
 * either the old file or the new one (design section 5.3): write a temporary
 * file, fsync it, rename it over the target, fsync the directory. */
#ifndef ALLEARS_DURABLE_H
#define ALLEARS_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

enum durable_step {
	DURABLE_OPEN = 1,
	DURABLE_WRITE,
	DURABLE_FSYNC,
	DURABLE_RENAME,
	DURABLE_DIRSYNC,
};

/* Tests only: returning true makes that step fail (with errno EIO). */
typedef bool (*durable_fault_fn)(void *ctx, enum durable_step step);

/* Replaces name in dirfd with data[0..len) (mode 0600) through the temporary
 * file tmp in the same directory. Returns 0, or -errno with *ret_step the step
 * that failed; the temporary file is then removed. After a failed directory
 * fsync the rename may or may not survive a crash: callers report failure. */
int durable_replace(int dirfd, const char *name, const char *tmp, const uint8_t *data, size_t len,
                    durable_fault_fn fault, void *ctx, enum durable_step *ret_step) WUR;
const char *durable_step_name(enum durable_step step);

#endif
