/* webhtml.h: the page check of `allears-admin web` (docs/PROTOCOL.md section
 * 21.1): a small HTML tokenizer that finds every script and style the page
 * loads or holds, requires Subresource Integrity on external ones, refuses
 * what the page's Content-Security-Policy would block anyway (event handler
 * and style attributes, javascript: URLs, frames, forms, external images), and
 * writes that CSP: external scripts and styles by exact URL and SRI hash,
 * inline ones by their SHA-256. */
#ifndef ALLEARS_ADMIN_WEBHTML_H
#define ALLEARS_ADMIN_WEBHTML_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "web/page.h"

#define WEBHTML_ATTRS_MAX 64   /* attributes on one tag */
#define WEBHTML_SOURCES_MAX 64 /* sources in script-src or style-src */
#define WEBHTML_URL_MAX 1024   /* an external script's or style's URL */
#define WEBHTML_ERR_MAX 256

struct webhtml_result {
	char csp[WEBPAGE_CSP_MAX + 1];
	unsigned external_scripts, inline_scripts, external_styles, inline_styles;
};

/* Checks the page (valid UTF-8 without NUL, at most WEBPAGE_HTML_MAX bytes,
 * the rules above) and builds its CSP. 0, or -EINVAL with a reason and a line
 * number in err (NUL-terminated, at most WEBHTML_ERR_MAX bytes). */
int webhtml_check(const uint8_t *html, size_t len, struct webhtml_result *ret,
                  char err[WEBHTML_ERR_MAX]) WUR;

#endif
