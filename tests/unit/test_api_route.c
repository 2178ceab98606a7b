/* test_api_route.c: the API's HTTP mapping without I/O (src/api/route.c):
 * which heads are API requests and with which body limits, the status of
 * each unauthenticated outcome, request deadlines and the response heads
 * (golden bytes). Heads are also run through the real HTTP parser with
 * apiroute_head() as its route, as the daemon does. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "api/route.h"
#include "check.h"
#include "common/chanmsg.h"

#define GOOD "AKjadpsBAAAjAQ" /* ts 1,767,225,600,000, uid 291 (section 12.10) */
#define T2026 1767225600      /* Thu, 01 Jan 2026 00:00:00 GMT */

static int check_path(enum http_method m, const char *path, const char *query,
                      struct apiroute *r)
{
	struct apiroute dummy;
	return apiroute_check(m, path, strlen(path), query, r ? r : &dummy);
}

static void route_user_request(void)
{
	struct apiroute r;
	memset(&r, 0xAA, sizeof(r));
	CHECK(check_path(HTTP_POST, "/v1/" GOOD, NULL, &r) == 0);
	CHECK(r.ts == 1767225600000ull);
	CHECK(r.uid == 291);
	CHECK(r.kind == APIREQ_KIND_USER);
	CHECK(r.body_min == APIREQ_BODY_MIN && r.body_min == 42);
	CHECK(r.body_max == APIREQ_BODY_MAX && r.body_max == 41943082);
	/* uid 0 and 4095, the edges */
	char path[32];
	char text[APIREQ_URL_TEXT_LEN + 1];
	apireq_url_to_text(text, 1, 0);
	snprintf(path, sizeof(path), "/v1/%s", text);
	CHECK(check_path(HTTP_POST, path, NULL, &r) == 0 && r.uid == 0 && r.ts == 1);
	apireq_url_to_text(text, UINT64_MAX, 4095);
	snprintf(path, sizeof(path), "/v1/%s", text);
	CHECK(check_path(HTTP_POST, path, NULL, &r) == 0 && r.uid == 4095 && r.ts == UINT64_MAX);
}

static void route_registration(void)
{
	struct apiroute r;
	char path[32];
	char text[APIREQ_URL_TEXT_LEN + 1];
	apireq_url_to_text(text, 1767225600000ull, APIREQ_UID_REGISTER);
	snprintf(path, sizeof(path), "/v1/%s", text);
	CHECK(check_path(HTTP_POST, path, NULL, &r) == 0);
	CHECK(r.kind == APIREQ_KIND_REGISTER && r.uid == 0xFFFF);
	CHECK(r.body_min == 122 && r.body_max == 122);
}

static void route_not_found(void)
{
	static const char *const paths[] = {
		"/", "/v1", "/v1x/" GOOD, "/v2/" GOOD, "/V1/" GOOD, "//v1/" GOOD, "/v10/" GOOD,
		"/v1/" GOOD "/", "/v1/" GOOD "/x", "/v1/a/b", "/index.html", "/v1//" GOOD,
	};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		CHECK(check_path(HTTP_POST, paths[i], NULL, NULL) == 404);
		CHECK(check_path(HTTP_GET, paths[i], NULL, NULL) == 404);
	}
	/* A 404 never fills the route. */
	struct apiroute r;
	memset(&r, 0x55, sizeof(r));
	CHECK(check_path(HTTP_POST, "/", NULL, &r) == 404);
	CHECK(r.uid == 0x5555);
}

static void route_method_not_allowed(void)
{
	static const enum http_method ms[] = { HTTP_GET, HTTP_HEAD, HTTP_PUT, HTTP_DELETE,
		                                   HTTP_OPTIONS, HTTP_PATCH };
	for (size_t i = 0; i < ARRAY_SIZE(ms); i++) {
		CHECK(check_path(ms[i], "/v1/" GOOD, NULL, NULL) == 405);
		/* The method is judged before the URL text. */
		CHECK(check_path(ms[i], "/v1/junk", NULL, NULL) == 405);
		CHECK(check_path(ms[i], "/v1/", NULL, NULL) == 405);
	}
}

static void route_bad_request(void)
{
	CHECK(check_path(HTTP_POST, "/v1/" GOOD, "", NULL) == 400);
	CHECK(check_path(HTTP_POST, "/v1/" GOOD, "x=1", NULL) == 400);
	static const char *const bad[] = {
		"/v1/",                  /* empty */
		"/v1/AKjadpsBAAAjA",     /* 13 characters */
		"/v1/AKjadpsBAAAjAQA",   /* 15 */
		"/v1/AKjadpsBAAAjAR",    /* unused low bits set: not canonical */
		"/v1/AKjadpsBAAAjA=",    /* padding */
		"/v1/AKjadps+AAAjAQ",    /* base64, not base64url */
		"/v1/AKjadps%41AAjAQ",   /* percent-encoding is not decoded */
		"/v1/AKjadps.BAAAjAQ",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(check_path(HTTP_POST, bad[i], NULL, NULL) == 400);
	/* uids 4096..65534 are neither a user nor a registration */
	static const uint16_t uids[] = { 4096, 4097, 65534, 32768 };
	for (size_t i = 0; i < ARRAY_SIZE(uids); i++) {
		char path[32];
		char text[APIREQ_URL_TEXT_LEN + 1];
		apireq_url_to_text(text, 5, uids[i]);
		snprintf(path, sizeof(path), "/v1/%s", text);
		CHECK(check_path(HTTP_POST, path, NULL, NULL) == 400);
	}
}

static void body_limits(void)
{
	struct apiroute user, reg;
	CHECK(check_path(HTTP_POST, "/v1/" GOOD, NULL, &user) == 0);
	CHECK(apiroute_body_check(&user, 0) == 400);
	CHECK(apiroute_body_check(&user, 41) == 400);
	CHECK(apiroute_body_check(&user, 42) == 0);
	CHECK(apiroute_body_check(&user, APIREQ_BODY_MAX) == 0);
	CHECK(apiroute_body_check(&user, APIREQ_BODY_MAX + 1ull) == 413);
	CHECK(apiroute_body_check(&user, UINT64_MAX) == 413);
	char path[32];
	char text[APIREQ_URL_TEXT_LEN + 1];
	apireq_url_to_text(text, 9, APIREQ_UID_REGISTER);
	snprintf(path, sizeof(path), "/v1/%s", text);
	CHECK(check_path(HTTP_POST, path, NULL, &reg) == 0);
	CHECK(apiroute_body_check(&reg, 121) == 400);
	CHECK(apiroute_body_check(&reg, 122) == 0);
	CHECK(apiroute_body_check(&reg, 123) == 413);
	CHECK(apiroute_body_check(&reg, 42) == 400);
}

static void status_mapping(void)
{
	CHECK(apiroute_status_of(CHST_AUTH) == 403);
	CHECK(apiroute_status_of(CHST_REPLAY) == 409);
	CHECK(apiroute_status_of(CHST_TIME) == 412);
	CHECK(apiroute_status_of(CHST_INVALID) == 400);
	CHECK(apiroute_status_of(CHST_TEMPFAIL) == 503);
	/* Everything else before authentication is the server's failure. */
	static const uint8_t rest[] = { CHST_OK, CHST_NOT_FOUND, CHST_EXISTS, CHST_LIMIT,
		                            CHST_DENIED, CHST_INTERNAL, CHST_FORBIDDEN, CHST_SELF,
		                            CHST_DECLINED, CHST_NOT_OWNER, 15, 200, 255 };
	for (size_t i = 0; i < ARRAY_SIZE(rest); i++)
		CHECK(apiroute_status_of(rest[i]) == 500);
}

static void request_deadline(void)
{
	CHECK(apiroute_request_ms(30000, 0) == 30000);
	CHECK(apiroute_request_ms(30000, APIROUTE_BODY_MIN_RATE - 1) == 30000);
	CHECK(apiroute_request_ms(30000, APIROUTE_BODY_MIN_RATE) == 31000);
	/* The largest body: 640 s more at 64 KiB/s. */
	CHECK(apiroute_request_ms(500, APIREQ_BODY_MAX) == 500 + 640000);
	CHECK(apiroute_request_ms(UINT64_MAX - 10, 1u << 30) == UINT64_MAX);
	CHECK(apiroute_request_ms(100, UINT64_MAX) == 100 + (UINT64_MAX >> 16) * 1000);
}

static void expect_head(int status, size_t body_len, bool ka, unsigned minor, const char *want)
{
	char buf[APIROUTE_HEAD_ROOM];
	size_t len = 0;
	CHECK(apiroute_resp_head(buf, sizeof(buf), status, body_len, ka, minor, T2026, &len) == 0);
	CHECK(len == strlen(want));
	if (len == strlen(want))
		CHECK_MEM(buf, want, len);
	else
		fprintf(stderr, "  got: %.*s\n", (int)len, buf);
}

static void response_heads(void)
{
	expect_head(200, 296, true, 1,
	            "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\n"
	            "Content-Type: application/octet-stream\r\n"
	            "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 296\r\n\r\n");
	expect_head(403, 0, true, 1,
	            "HTTP/1.1 403 Forbidden\r\nCache-Control: no-store\r\n"
	            "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n");
	/* http.c may not know a phrase for 409 (it is then empty). */
	char want[256];
	snprintf(want, sizeof(want),
	         "HTTP/1.1 409 %s\r\nCache-Control: no-store\r\n"
	         "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n"
	         "Connection: close\r\n\r\n",
	         http_reason(409));
	expect_head(409, 0, false, 1, want);
	expect_head(405, 0, true, 0,
	            "HTTP/1.1 405 Method Not Allowed\r\nCache-Control: no-store\r\nAllow: POST\r\n"
	            "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n"
	            "Connection: keep-alive\r\n\r\n");
	expect_head(503, 0, true, 1,
	            "HTTP/1.1 503 Service Unavailable\r\nCache-Control: no-store\r\n"
	            "Retry-After: 5\r\n"
	            "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n");
}

static void response_head_room(void)
{
	/* The longest head the API writes fits the room kept for it. */
	char buf[APIROUTE_HEAD_ROOM];
	size_t len = 0;
	CHECK(apiroute_resp_head(buf, sizeof(buf), 200, apireq_response_len(APIREQ_RESP_DATA_MAX),
	                         false, 0, T2026, &len) == 0);
	CHECK(len < APIROUTE_HEAD_ROOM / 2);
	static const int all[] = { 200, 400, 403, 404, 405, 409, 411, 412, 413, 414, 417, 431,
		                       500, 501, 503, 505 };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		CHECK(apiroute_resp_head(buf, sizeof(buf), all[i], 0, false, 0, T2026, &len) == 0 &&
		      len < APIROUTE_HEAD_ROOM);
	/* Too small a buffer: -ENOSPC, not a truncated head. */
	CHECK(apiroute_resp_head(buf, 40, 200, 296, true, 1, T2026, &len) == -ENOSPC);
}

/* ---- through the HTTP parser ---- */

#define PBODY_MAX 256
static uint8_t pbuf[HTTP_BUFFER_SIZE(PBODY_MAX)];
static struct apiroute seen;
static uint64_t seen_len;

static int route_cb(void *ctx, const struct http_request *req, size_t *body_max)
{
	(void)ctx;
	int st = apiroute_head(req, &seen, &seen_len);
	if (st == 0 && seen.body_max < *body_max)
		*body_max = seen.body_max;
	return st;
}

/* Parses one request; returns 0 for a request or the status of the error. */
static int parse(const char *text, size_t extra_body)
{
	struct http_parser p;
	http_parser_init(&p, pbuf, sizeof(pbuf), PBODY_MAX, route_cb, NULL);
	size_t n = http_parser_feed(&p, text, strlen(text));
	CHECK(n == strlen(text));
	uint8_t zeros[PBODY_MAX] = { 0 };
	if (extra_body)
		CHECK(http_parser_feed(&p, zeros, extra_body) == extra_body);
	struct http_request req;
	enum http_result r = http_next(&p, &req);
	if (r == HTTP_REQUEST)
		return 0;
	if (r == HTTP_ERROR)
		return http_parser_status(&p);
	return -1;
}

static void through_parser(void)
{
	memset(&seen, 0, sizeof(seen));
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\nContent-Length: 00042\r\n\r\n", 42) ==
	      0);
	CHECK(seen.uid == 291 && seen_len == 42);
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\nContent-Length: 41\r\n\r\n", 41) == 400);
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\nContent-Length: 41943083\r\n\r\n", 0) ==
	      413);
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\n"
	            "Content-Length: 99999999999999999999999999\r\n\r\n",
	            0) == 413);
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\n\r\n", 0) == 411);
	CHECK(parse("POST /v1/" GOOD "?a HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", 0) ==
	      400);
	CHECK(parse("GET /v1/" GOOD " HTTP/1.1\r\nHost: a\r\n\r\n", 0) == 405);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0) == 404);
	CHECK(parse("POST /v1/%41KjadpsBAAAjA HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", 0) ==
	      400);
	/* A body the route accepts but larger than this parser's buffer limit. */
	CHECK(parse("POST /v1/" GOOD " HTTP/1.1\r\nHost: a\r\nContent-Length: 257\r\n\r\n", 0) == 413);
}

int main(void)
{
	check_init();
	RUN(route_user_request);
	RUN(route_registration);
	RUN(route_not_found);
	RUN(route_method_not_allowed);
	RUN(route_bad_request);
	RUN(body_limits);
	RUN(status_mapping);
	RUN(request_deadline);
	RUN(response_heads);
	RUN(response_head_room);
	RUN(through_parser);
	return check_finish();
}
