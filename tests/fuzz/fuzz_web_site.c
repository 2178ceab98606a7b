/* fuzz_web_site.c: libFuzzer target for what allears-web does with a
 * client's bytes (src/web/site.c over the HTTP parser, docs/PROTOCOL.md
 * section 21): every request or error in the input is answered, and every
 * answer must be a well-formed head (status line, fields without stray CR or
 * LF, the empty line) with a body that is the page's, a built-in text or
 * none. Accept-Encoding and If-None-Match values reach their parsers here. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pbuf[HTTP_BUFFER_SIZE(0)];
static char out[WEBSITE_HEAD_MAX];
static const uint8_t html[] = "<!DOCTYPE html><p>page</p>";
static const uint8_t gz[] = "gz";
static const uint8_t br[] = "b";

static void check_head(const char *h, size_t len, bool error_body)
{
	if (len < 19 || memcmp(h, "HTTP/1.1 ", 9) != 0)
		abort();
	const char *end = NULL;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(h + i, "\r\n\r\n", 4) == 0) {
			end = h + i + 4;
			break;
		}
	if (!end || (!error_body && (size_t)(end - h) != len))
		abort();
	for (const char *p = h; p < end - 2; p++) {
		if (*p == '\r' && p[1] != '\n')
			abort();
		if (*p == '\n' && p[-1] != '\r')
			abort();
		if (*p == '\0')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct webpage pg;
	static struct website s;
	static bool init;
	if (!init) {
		pg.max_age = 60;
		strcpy(pg.csp, "default-src 'none'");
		pg.v[0] = (struct webpage_variant){ true, html, sizeof(html) - 1, "\"i\"" };
		pg.v[1] = (struct webpage_variant){ true, gz, 2, "\"g\"" };
		pg.v[2] = (struct webpage_variant){ true, br, 1, "\"b\"" };
		static const char *const mx[] = { "mx.example.org" };
		if (website_init(&s, &pg, true, WEBSITE_STS_TESTING, mx, 1, 100) != 0)
			abort();
		init = true;
	}
	struct http_parser p;
	http_parser_init(&p, pbuf, sizeof(pbuf), 0, website_route, &s);
	size_t off = 0;
	for (int rounds = 0; rounds < 64; rounds++) {
		off += http_parser_feed(&p, data + off, size - off);
		struct http_request req;
		struct website_answer a;
		enum http_result r = http_next(&p, &req);
		if (r == HTTP_NEED_MORE) {
			if (off == size)
				break;
			continue;
		}
		if (r == HTTP_REQUEST) {
			if (req.method != HTTP_GET && req.method != HTTP_HEAD)
				abort();
			if (website_answer(&s, &req, req.keep_alive, 0, out, sizeof(out), &a) != 0)
				abort();
			check_head(out, a.head_len, false);
			if (a.status != 200 && a.status != 304)
				abort();
			if (a.body && !(a.body == html || a.body == gz || a.body == br ||
			                a.body == (const uint8_t *)s.sts || a.body_len == 28))
				abort();
			if (req.method == HTTP_HEAD && a.body)
				abort();
			for (size_t i = 0; i < req.header_count; i++) {
				const struct http_header *h = &req.headers[i];
				(void)website_etag_match(h->value, h->value_len, "\"i\"");
			}
			continue;
		}
		int st = http_parser_status(&p);
		if (st < 400 || st > 599)
			abort();
		if (website_error(&s, st, false, !http_parser_must_close(&p), http_parser_minor(&p), 0,
		                  out, sizeof(out), &a) != 0)
			abort();
		check_head(out, a.head_len, true);
		if (http_parser_must_close(&p))
			break;
	}
	return 0;
}
