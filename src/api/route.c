/* route.c: the API's HTTP mapping without I/O (see route.h; docs/PROTOCOL.md
 * section 14). */
#include "api/route.h"

#include <errno.h>
#include <string.h>

#include "common/chanmsg.h"

int apiroute_check(enum http_method method, const char *path, size_t path_len,
                   const char *query, struct apiroute *ret)
{
	if (path_len < APIROUTE_PREFIX_LEN || memcmp(path, APIROUTE_PREFIX, APIROUTE_PREFIX_LEN) != 0)
		return 404;
	const char *text = path + APIROUTE_PREFIX_LEN;
	size_t text_len = path_len - APIROUTE_PREFIX_LEN;
	if (memchr(text, '/', text_len))
		return 404;
	if (method != HTTP_POST)
		return 405;
	if (query)
		return 400;
	struct apiroute r = { 0 };
	if (apireq_url_from_text(text, text_len, &r.ts, &r.uid) < 0)
		return 400;
	if (r.uid == APIREQ_UID_REGISTER) {
		r.kind = APIREQ_KIND_REGISTER;
		r.body_min = r.body_max = APIREQ_REGISTER_BODY_BYTES;
	} else if (r.uid <= APIREQ_UID_MAX) {
		r.kind = APIREQ_KIND_USER;
		r.body_min = APIREQ_BODY_MIN;
		r.body_max = APIREQ_BODY_MAX;
	} else {
		return 400;
	}
	*ret = r;
	return 0;
}

int apiroute_body_check(const struct apiroute *r, uint64_t content_length)
{
	if (content_length < r->body_min)
		return 400;
	if (content_length > r->body_max)
		return 413;
	return 0;
}

uint64_t apiroute_content_length(const struct http_request *req)
{
	const struct http_header *h = http_header_get(req, "Content-Length");
	if (!h)
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < h->value_len; i++) {
		unsigned d = (unsigned)(h->value[i] - '0');
		if (d > 9)
			return UINT64_MAX; /* the parser lets only digits through */
		if (v > (UINT64_MAX - d) / 10)
			return UINT64_MAX;
		v = v * 10 + d;
	}
	return v;
}

int apiroute_head(const struct http_request *req, struct apiroute *ret, uint64_t *ret_length)
{
	struct apiroute r;
	int st = apiroute_check(req->method, req->path, req->path_len, req->query, &r);
	if (st)
		return st;
	uint64_t cl = apiroute_content_length(req);
	st = apiroute_body_check(&r, cl);
	if (st)
		return st;
	*ret = r;
	*ret_length = cl;
	return 0;
}

int apiroute_status_of(uint8_t chan_status)
{
	switch (chan_status) {
	case CHST_AUTH:
		return 403;
	case CHST_REPLAY:
		return 409;
	case CHST_TIME:
		return 412;
	case CHST_INVALID:
		return 400;
	case CHST_TEMPFAIL:
		return 503;
	default:
		return 500;
	}
}

uint64_t apiroute_request_ms(uint64_t request_timeout_ms, uint64_t content_length)
{
	uint64_t extra = content_length / APIROUTE_BODY_MIN_RATE;
	if (extra > (UINT64_MAX - request_timeout_ms) / 1000)
		return UINT64_MAX;
	return request_timeout_ms + extra * 1000;
}

int apiroute_resp_head(char *buf, size_t cap, int status, size_t body_len, bool keep_alive,
                       unsigned client_minor, time_t now, size_t *ret_len)
{
	struct http_resp w;
	size_t len;
	http_resp_start(&w, buf, cap, status);
	(void)http_resp_header(&w, "Cache-Control", "no-store");
	if (body_len)
		(void)http_resp_header(&w, "Content-Type", "application/octet-stream");
	if (status == 405)
		(void)http_resp_header(&w, "Allow", "POST");
	if (status == 503)
		(void)http_resp_header(&w, "Retry-After", APIROUTE_RETRY_AFTER);
	(void)http_resp_date(&w, now);
	int rc = http_resp_end(&w, body_len, keep_alive, client_minor, &len);
	if (rc < 0)
		return rc;
	*ret_len = len;
	return 0;
}
