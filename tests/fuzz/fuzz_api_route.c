/* fuzz_api_route.c: libFuzzer target for the API's request routing
 * (src/api/route.c). The input is an HTTP byte stream, parsed with
 * apiroute_head() as the route exactly as the daemon does. Every request the
 * route lets through must be POST /v1/<text> without a query, whose text is
 * the canonical URL text of the ts and uid it yields (re-encoding gives the
 * same 14 characters), with a uid of a user or a registration and a body
 * within that kind's limits. The same input is also given straight to
 * apiroute_check() (first byte: method), with the same checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/route.h"

#define FUZZ_BODY_MAX 512
static uint8_t pbuf[HTTP_BUFFER_SIZE(FUZZ_BODY_MAX)];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(enum http_method m, const char *path, size_t path_len,
                           const char *query, const struct apiroute *r)
{
	char text[APIREQ_URL_TEXT_LEN + 1];
	if (m != HTTP_POST || query || path_len != APIROUTE_PATH_LEN ||
	    memcmp(path, APIROUTE_PREFIX, APIROUTE_PREFIX_LEN) != 0)
		abort();
	apireq_url_to_text(text, r->ts, r->uid);
	if (memcmp(text, path + APIROUTE_PREFIX_LEN, APIREQ_URL_TEXT_LEN) != 0)
		abort();
	if (r->uid == APIREQ_UID_REGISTER) {
		if (r->kind != APIREQ_KIND_REGISTER || r->body_min != APIREQ_REGISTER_BODY_BYTES ||
		    r->body_max != APIREQ_REGISTER_BODY_BYTES)
			abort();
	} else if (r->uid > APIREQ_UID_MAX || r->kind != APIREQ_KIND_USER ||
	           r->body_min != APIREQ_BODY_MIN || r->body_max != APIREQ_BODY_MAX) {
		abort();
	}
}

static int route(void *ctx, const struct http_request *req, size_t *body_max)
{
	struct apiroute *r = ctx;
	uint64_t cl;
	int st = apiroute_head(req, r, &cl);
	if (st == 0) {
		check_accepted(req->method, req->path, req->path_len, req->query, r);
		if (cl < r->body_min || cl > r->body_max || cl != apiroute_content_length(req))
			abort();
		if (r->body_max < *body_max)
			*body_max = r->body_max;
	} else if (st != 400 && st != 404 && st != 405 && st != 413) {
		abort();
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apiroute r;
	struct http_parser p;
	http_parser_init(&p, pbuf, sizeof(pbuf), FUZZ_BODY_MAX, route, &r);
	size_t fed = http_parser_feed(&p, data, size);
	for (int i = 0; i < 64; i++) {
		struct http_request req;
		enum http_result res = http_next(&p, &req);
		if (res == HTTP_NEED_MORE) {
			if (fed == size)
				break;
			fed += http_parser_feed(&p, data + fed, size - fed);
			continue;
		}
		if (res == HTTP_ERROR && http_parser_must_close(&p))
			break;
		if (res == HTTP_REQUEST && (req.body_len < r.body_min || req.body_len > r.body_max))
			abort();
	}

	/* Straight: method from the first byte, the rest is path[?query]. */
	if (size < 1)
		return 0;
	enum http_method m = (enum http_method)(data[0] % 8);
	const char *path = (const char *)data + 1;
	size_t len = size - 1;
	const char *q = memchr(path, '?', len);
	size_t path_len = q ? (size_t)(q - path) : len;
	int st = apiroute_check(m, path, path_len, q ? q + 1 : NULL, &r);
	if (st == 0)
		check_accepted(m, path, path_len, q ? q + 1 : NULL, &r);
	else if (st != 400 && st != 404 && st != 405)
		abort();
	return 0;
}
