/* route.h: the pure part of the API's HTTP mapping (docs/PROTOCOL.md section
 * 14): which request heads are API requests, the body limits per kind, the
 * HTTP status for each unauthenticated outcome, the time a request may take
 * to arrive, and the response head. No I/O: conn.c and call.c use these. */
#ifndef ALLEARS_API_ROUTE_H
#define ALLEARS_API_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/apireq.h"
#include "common/http.h"
#include "common/util.h"

/* POST /v1/<14-character URL text of section 12.1> */
#define APIROUTE_PREFIX "/v1/"
#define APIROUTE_PREFIX_LEN 4
#define APIROUTE_PATH_LEN (APIROUTE_PREFIX_LEN + APIREQ_URL_TEXT_LEN)

/* A request's head and body must arrive within request_timeout_ms of its
 * first byte, plus one second per APIROUTE_BODY_MIN_RATE bytes of declared
 * body, so a large upload over a slow link is not cut while a client that
 * trickles its head is (section 14.4). */
#define APIROUTE_BODY_MIN_RATE (64u * 1024) /* bytes per second */

/* The answer to an unreachable Account or Storage before authentication. */
#define APIROUTE_RETRY_AFTER "5"

/* Room kept in front of a response body for its head (status line and the
 * fields of apiroute_resp_head); the longest head is well under it. */
#define APIROUTE_HEAD_ROOM 512

/* What the URL says about a request. */
struct apiroute {
	uint64_t ts;
	uint16_t uid;      /* 0-4095, or APIREQ_UID_REGISTER */
	uint8_t kind;      /* APIREQ_KIND_USER or APIREQ_KIND_REGISTER */
	size_t body_min;   /* Content-Length below it: 400 */
	size_t body_max;   /* above it: 413 */
};

/* Decides a request head from its method and target: 0 with *ret filled, or
 * the HTTP status to refuse it with: 404 for a path outside /v1/ (or with a
 * '/' after the prefix), 405 for a method other than POST on /v1/..., 400
 * for a query, a URL text that apireq_url_from_text() refuses, or a uid that
 * is neither 0-4095 nor 65,535. */
int apiroute_check(enum http_method method, const char *path, size_t path_len,
                   const char *query, struct apiroute *ret) WUR;

/* The declared body length against the route: 0, 400 when it is below
 * body_min, 413 when it is above body_max. */
int apiroute_body_check(const struct apiroute *r, uint64_t content_length) WUR;

/* The value of a Content-Length field the HTTP parser accepted (1*DIGIT),
 * saturating at UINT64_MAX; 0 when there is none. */
uint64_t apiroute_content_length(const struct http_request *req);

/* The whole decision on a parsed head (the HTTP parser's route callback):
 * apiroute_check(), then the declared body length against the route's
 * limits. 0 with *ret and *ret_length (0 without Content-Length), or the
 * status to refuse the request with. */
int apiroute_head(const struct http_request *req, struct apiroute *ret,
                  uint64_t *ret_length) WUR;

/* The HTTP status for Account's answer when it carries no response key
 * (the request was not authenticated): section 14.2. */
int apiroute_status_of(uint8_t chan_status);

/* Milliseconds a request may take to arrive (see APIROUTE_BODY_MIN_RATE),
 * saturating. */
uint64_t apiroute_request_ms(uint64_t request_timeout_ms, uint64_t content_length);

/* Writes a response head into buf: the status line, Date (for now),
 * Cache-Control: no-store, Content-Type for a body, Allow: POST for 405,
 * Retry-After for 503, Content-Length and the Connection field of section
 * 13.5. -ENOSPC when buf is too small. */
int apiroute_resp_head(char *buf, size_t cap, int status, size_t body_len, bool keep_alive,
                       unsigned client_minor, time_t now, size_t *ret_len) WUR;

#endif
