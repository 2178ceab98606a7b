/* json.h: --json output with jansson. Every string that came from the server
 * or a sender is made terminal-safe first (render_text), and the output is
 * ASCII-only (JSON escapes), one JSON value per line on stdout. */
#ifndef ALLEARS_CLIENT_JSON_H
#define ALLEARS_CLIENT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "client/mail.h"
#include "client/render.h"

/* A JSON string of p[0..n) made safe by render_text (never NULL). */
json_t *json_safe_string(const uint8_t *p, size_t n);
/* A summary of one envelope: id, type, ts, date, from, subject, size. */
json_t *json_mail_summary(const struct mail *m);
/* Everything about one envelope, with the rendered body text (no ANSI) and
 * the attachments. */
json_t *json_mail_full(const struct mail *m, const struct mail *const *att, size_t n_att);
/* Prints j compactly with a newline on stdout and releases it. 0 or -EIO. */
int json_emit(json_t *j);

#endif
