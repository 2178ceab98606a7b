/* site.h: what allears-web answers, without I/O (docs/PROTOCOL.md section
 * 21.3-21.5): the routes (the page, the MTA-STS policy, robots.txt, 404),
 * content-coding negotiation, conditional requests, the MTA-STS policy text
 * and every response head with its security fields. conn.c does the I/O. */
#ifndef ALLEARS_WEB_SITE_H
#define ALLEARS_WEB_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/http.h"
#include "common/util.h"
#include "web/page.h"

#define WEBSITE_PATH_PAGE "/"
#define WEBSITE_PATH_MTA_STS "/.well-known/mta-sts.txt"
#define WEBSITE_PATH_ROBOTS "/robots.txt"

/* MTA-STS (RFC 8461) limits. */
#define WEBSITE_MX_MAX 16            /* mx patterns in the policy */
#define WEBSITE_HOST_MAX 253         /* one name, without a trailing dot */
#define WEBSITE_STS_MAX_AGE_MAX 31557600 /* RFC 8461 section 3.2 */
#define WEBSITE_STS_MAX_AGE_DEFAULT 604800 /* one week */
#define WEBSITE_STS_TEXT_MAX 8192
#define WEBSITE_HSTS_MAX_AGE 63072000 /* two years */

/* The most bytes a response head takes (the page's CSP is at most 4,096). */
#define WEBSITE_HEAD_MAX 8192

enum website_sts_mode {
	WEBSITE_STS_ENFORCE,
	WEBSITE_STS_TESTING,
	WEBSITE_STS_NONE,
};

struct website {
	const struct webpage *page;
	bool hsts_subdomains;
	char hsts[64];
	char sts[WEBSITE_STS_TEXT_MAX]; /* the policy body */
	size_t sts_len;
};

/* A name for an MTA-STS mx pattern (allow_wildcard: an optional leading "*.")
 * or the domain: LDH labels of 1-63 bytes that do not start or end with '-',
 * joined by dots, at most WEBSITE_HOST_MAX bytes, no trailing dot. */
bool website_host_valid(const char *s, bool allow_wildcard);

/* "enforce", "testing", "none" -> the mode; -EINVAL for anything else. */
int website_sts_mode_parse(const char *s, enum website_sts_mode *ret) WUR;

/* Sets up s for page: the HSTS value and the MTA-STS policy text for mode, the
 * n mx patterns (1..WEBSITE_MX_MAX, each website_host_valid with a wildcard
 * allowed) and max_age (0..WEBSITE_STS_MAX_AGE_MAX). -EINVAL otherwise. */
int website_init(struct website *s, const struct webpage *page, bool hsts_subdomains,
                 enum website_sts_mode mode, const char *const *mx, size_t n,
                 uint32_t max_age) WUR;

/* The HTTP parser's route callback (ctx is the struct website): 404 for a
 * path that is none of the three, 405 for a method other than GET or HEAD on
 * one of them, else 0 with the body limit lowered to 0. */
int website_route(void *ctx, const struct http_request *req, size_t *body_max);

/* The coding to send the page in, given the request's Accept-Encoding fields
 * and the codings the page has (bit 1 << coding). Always one the page has:
 * identity when nothing better is acceptable (never 406). */
enum webpage_coding website_pick_coding(const struct http_request *req, unsigned available);

/* Whether an If-None-Match field value (n bytes) matches etag ("*" matches
 * anything; weak comparison). A malformed value matches nothing. */
bool website_etag_match(const char *value, size_t n, const char *etag);

/* An answer: the head, then body_len bytes of body (none to send for HEAD and
 * 304, where body is NULL). body points into the page or static memory. */
struct website_answer {
	int status;
	size_t head_len;
	const uint8_t *body;
	size_t body_len;
};

/* Answers a request that website_route() accepted: the head into buf (at
 * least WEBSITE_HEAD_MAX bytes). keep_alive: whether the connection stays open
 * after it. -ENOSPC if the head does not fit (a bug). */
int website_answer(const struct website *s, const struct http_request *req, bool keep_alive,
                   time_t now, char *buf, size_t cap, struct website_answer *ret) WUR;

/* Answers an HTTP error (a status from the parser or the route): a short
 * text/plain body, Allow for 405, Cache-Control no-store, every security
 * field. is_head: the request was HEAD (no body sent). The body is written
 * into buf after the head and counted in head_len (body stays NULL). */
int website_error(const struct website *s, int status, bool is_head, bool keep_alive,
                  unsigned minor, time_t now, char *buf, size_t cap,
                  struct website_answer *ret) WUR;

#endif
