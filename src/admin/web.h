/* web.h: `allears-admin web` (replaces the original's WebMaker): checks one
 * HTML page, builds its Content-Security-Policy, precompresses it and writes
 * the page file allears-web serves (docs/PROTOCOL.md section 21). */
#ifndef ALLEARS_ADMIN_WEB_H
#define ALLEARS_ADMIN_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "web/page.h"

/* Where the unit's LoadCredential=web: expects the page file by default. */
#define ADMIN_WEB_DEFAULT_OUT "/etc/allears/credentials/web.page"
#define ADMIN_WEB_MAX_AGE_DEFAULT 3600
/* Compressors are given this long before the build fails. */
#define ADMIN_WEB_TOOL_TIMEOUT_S 60

/* One variant to write: coding and body. */
struct admin_web_variant {
	enum webpage_coding coding;
	const uint8_t *body;
	size_t len;
};

/* Writes a page file (section 21.2) into w: the CSP, max_age and n variants in
 * coding order, identity first. The caller has checked every limit. */
void admin_web_encode(struct wr *w, const char *csp, uint32_t max_age,
                      const struct admin_web_variant *v, size_t n);

/* The subcommand: argv are the arguments after "web". Returns the exit
 * status (0, 1 for a refused page or an I/O error, 2 for a usage error). */
int admin_web_main(int argc, char **argv);

#endif
