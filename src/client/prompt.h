/* prompt.h: reading secrets and answers. A passphrase comes from a file
 * (--passphrase-file, "-" for stdin) or from the terminal with echo off; a
 * confirmation from --yes or a line on stdin. Every prompt goes to stderr. */
#ifndef ALLEARS_CLIENT_PROMPT_H
#define ALLEARS_CLIENT_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/util.h"

#define PROMPT_LINE_MAX 1024

/* Reads one line (without its LF or CRLF) from f into out (cap bytes,
 * NUL-terminated). -EIO at end of input or on error, -E2BIG for a longer
 * line, -EINVAL for a NUL byte. */
int prompt_read_line(FILE *f, char *out, size_t cap, size_t *ret_len) WUR;

/* The first line of path ("-" = stdin). */
int prompt_line_from_file(const char *path, char *out, size_t cap, size_t *ret_len) WUR;

/* Asks on /dev/tty with echo off. -ENOTTY when there is no terminal. */
int prompt_secret_tty(const char *question, char *out, size_t cap, size_t *ret_len) WUR;

/* Asks question on stderr and reads a line from stdin; true for "yes". */
bool prompt_confirm(const char *question);

#endif
