/* page.h: the page file (docs/PROTOCOL.md section 21.2): the one HTML page in
 * up to three prebuilt variants (identity, gzip, br) with their tags, its
 * Content-Security-Policy and its cache lifetime, as `allears-admin web`
 * writes it and allears-web loads it. The constants here are the format's;
 * the builder (src/admin/web.c) writes the same layout. */
#ifndef ALLEARS_WEB_PAGE_H
#define ALLEARS_WEB_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define WEBPAGE_MAGIC "AEWEBP"
#define WEBPAGE_MAGIC_LEN 6
#define WEBPAGE_VERSION 1
#define WEBPAGE_HEAD_BYTES 14        /* magic, version, n, max_age, csp_len */
#define WEBPAGE_VARIANT_HEAD_BYTES 21 /* coding, tag, length */
#define WEBPAGE_SUM_BYTES 32         /* BLAKE2b-256 of everything before it */
#define WEBPAGE_TAG_BYTES 16         /* BLAKE2b-128 of a variant's body */
#define WEBPAGE_ETAG_LEN (2 + 2 * WEBPAGE_TAG_BYTES) /* "<32 hex digits>" with its quotes */

/* Limits. The HTML page is at most WEBPAGE_HTML_MAX bytes; a compressed
 * variant is kept only when it is smaller, so a file is at most about three
 * times that, under the 1 MiB a credential may hold (DAEMON_CREDENTIAL_MAX_BYTES). */
#define WEBPAGE_HTML_MAX (256u * 1024)
#define WEBPAGE_CSP_MAX 4096
#define WEBPAGE_MAX_AGE_MAX 31536000u /* one year, in seconds */
#define WEBPAGE_FILE_MAX (1024u * 1024)

/* Content codings, in the order variants appear in the file. */
enum webpage_coding {
	WEBPAGE_IDENTITY = 0,
	WEBPAGE_GZIP = 1,
	WEBPAGE_BR = 2,
	WEBPAGE_CODINGS = 3,
};

struct webpage_variant {
	bool present;
	const uint8_t *body; /* points into the decoded file */
	size_t len;
	char etag[WEBPAGE_ETAG_LEN + 1]; /* "\"<hex>\"", NUL-terminated */
};

/* A decoded page file; every pointer points into the buffer given to
 * webpage_decode(), which must outlive it. */
struct webpage {
	uint32_t max_age;
	char csp[WEBPAGE_CSP_MAX + 1]; /* NUL-terminated */
	struct webpage_variant v[WEBPAGE_CODINGS];
};

/* Decodes and checks a page file: magic, version, counts, lengths, coding
 * order, each tag against its body, the checksum, the CSP's bytes, and no
 * trailing bytes. 0, or -EINVAL with nothing written to *ret. */
int webpage_decode(const uint8_t *p, size_t len, struct webpage *ret) WUR;

/* The content-coding token of a coding ("identity", "gzip", "br"). Inline:
 * the builder uses the constants of this header without linking the daemon's
 * code. */
static inline const char *webpage_coding_name(enum webpage_coding c)
{
	static const char *const names[WEBPAGE_CODINGS] = { "identity", "gzip", "br" };
	return (unsigned)c < WEBPAGE_CODINGS ? names[c] : "";
}

/* The bytes a CSP may hold: printable ASCII, no leading or trailing space. */
bool webpage_csp_valid(const char *s, size_t n);

#endif
