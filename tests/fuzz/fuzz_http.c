/* fuzz_http.c: libFuzzer target for the HTTP/1.1 request parser. The input's
 * first two bytes choose a body limit and a split pattern; the rest is the byte
 * stream. It is parsed whole, a byte at a time and in pseudo-random chunks: the
 * three transcripts (every request's fields and body, every error) must be the
 * same. Each request is written out again canonically and must parse to the
 * same fields; its target goes through the response writer, which must either
 * refuse it or keep it on one header line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"

#define FUZZ_BODY_MAX 4096
static uint8_t pbuf[HTTP_BUFFER_SIZE(FUZZ_BODY_MAX)];
static uint8_t rbuf[HTTP_BUFFER_SIZE(FUZZ_BODY_MAX)];
static uint8_t canon[HTTP_BUFFER_SIZE(FUZZ_BODY_MAX)];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Deterministic per request: refusals (with and without a body) and lowered limits. */
static int route(void *ctx, const struct http_request *req, size_t *body_max)
{
	(void)ctx;
	if (req->path_len % 7 == 3)
		return 405;
	if (req->path_len % 5 == 2)
		*body_max = req->path_len * 3;
	return 0;
}

static void mix(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ULL;
	}
	*h ^= n;
	*h *= 0x100000001b3ULL;
}

static void mix_u(uint64_t *h, uint64_t v)
{
	mix(h, &v, sizeof(v));
}

static void record_request(uint64_t *h, const struct http_request *r)
{
	mix_u(h, 1);
	mix_u(h, r->method);
	mix_u(h, r->minor);
	mix_u(h, r->keep_alive);
	mix_u(h, r->expect_continue);
	mix_u(h, r->has_length);
	mix(h, r->target, r->target_len);
	mix_u(h, r->path_len);
	mix_u(h, r->query != NULL);
	mix(h, r->body, r->body_len);
	mix_u(h, r->header_count);
	for (size_t i = 0; i < r->header_count; i++) {
		mix(h, r->headers[i].name, r->headers[i].name_len);
		mix(h, r->headers[i].value, r->headers[i].value_len);
	}
}

static size_t put(uint8_t *out, size_t at, const void *p, size_t n)
{
	if (at + n > sizeof(canon))
		abort();
	memcpy(out + at, p, n);
	return at + n;
}

/* Writes r out canonically and parses it again: the same fields must come back. */
static void round_trip(const struct http_request *r, size_t body_max)
{
	size_t n = 0;
	const char *m = http_method_name(r->method);
	n = put(canon, n, m, strlen(m));
	n = put(canon, n, " ", 1);
	n = put(canon, n, r->target, r->target_len);
	n = put(canon, n, r->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
	for (size_t i = 0; i < r->header_count; i++) {
		n = put(canon, n, r->headers[i].name, r->headers[i].name_len);
		n = put(canon, n, ":", 1); /* no space: never longer than the original line */
		n = put(canon, n, r->headers[i].value, r->headers[i].value_len);
		n = put(canon, n, "\r\n", 2);
	}
	n = put(canon, n, "\r\n", 2);
	n = put(canon, n, r->body, r->body_len);

	struct http_parser p;
	struct http_request r2;
	http_parser_init(&p, rbuf, sizeof(rbuf), body_max, route, NULL);
	if (http_parser_feed(&p, canon, n) != n)
		abort();
	if (http_next(&p, &r2) != HTTP_REQUEST || http_parser_pending(&p) != 0)
		abort();
	uint64_t a = 0xcbf29ce484222325ULL, b = a;
	record_request(&a, r);
	record_request(&b, &r2);
	if (a != b)
		abort();
}

/* A target as a response field value: refused, or exactly one well-formed line. */
static void writer_check(const struct http_request *r)
{
	char value[HTTP_REQUEST_LINE_MAX + 1], out[HTTP_REQUEST_LINE_MAX + 256];
	size_t vl = r->target_len;
	memcpy(value, r->target, vl);
	value[vl] = 0;
	struct http_resp w;
	size_t len;
	http_resp_start(&w, out, sizeof(out), 200);
	if (http_resp_header(&w, "X-Echo", value) != 0 || http_resp_end(&w, 0, true, 1, &len) != 0)
		return;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '\n') {
			if (i == 0 || out[i - 1] != '\r')
				abort();
			lines++;
		} else if (out[i] == '\r' && (i + 1 >= len || out[i + 1] != '\n')) {
			abort();
		}
	}
	if (lines != 4) /* status line, X-Echo, Content-Length, empty line */
		abort();
}

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* mode 0: whole, 1: one byte at a time, 2: chunks from the seed. */
static uint64_t transcript(const uint8_t *in, size_t len, size_t body_max, int mode,
                           uint32_t seed, bool checks)
{
	struct http_parser p;
	struct http_request r;
	uint64_t h = 0xcbf29ce484222325ULL;
	http_parser_init(&p, pbuf, sizeof(pbuf), body_max, route, NULL);
	size_t off = 0;
	uint32_t s = seed | 1;
	for (;;) {
		for (;;) {
			enum http_result res = http_next(&p, &r);
			if (res == HTTP_REQUEST) {
				record_request(&h, &r);
				if (checks) {
					round_trip(&r, body_max);
					writer_check(&r);
				}
				continue;
			}
			if (res == HTTP_ERROR) {
				int st = http_parser_status(&p);
				if (st < 400 || st > 599)
					abort();
				mix_u(&h, 2);
				mix_u(&h, (uint64_t)st);
				mix_u(&h, http_parser_must_close(&p));
				if (http_parser_must_close(&p))
					return h;
				continue;
			}
			break;
		}
		size_t avail;
		(void)http_parser_space(&p, &avail);
		if (avail == 0)
			abort(); /* NEED_MORE with a full buffer would hang a connection */
		if (off == len) {
			mix_u(&h, 3);
			mix_u(&h, http_parser_pending(&p));
			return h;
		}
		size_t n = len - off;
		if (mode == 1)
			n = 1;
		else if (mode == 2 && n > 1)
			n = 1 + rng_next(&s) % (n < 40 ? n : 40);
		off += http_parser_feed(&p, in + off, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[4] = { 0, 16, 200, FUZZ_BODY_MAX };
	if (size < 2)
		return 0;
	size_t body_max = limits[data[0] & 3];
	uint32_t seed = (uint32_t)data[1] * 2654435761u + (data[0] >> 2);
	const uint8_t *in = data + 2;
	size_t len = size - 2;
	uint64_t whole = transcript(in, len, body_max, 0, seed, true);
	if (transcript(in, len, body_max, 1, seed, false) != whole)
		abort();
	if (transcript(in, len, body_max, 2, seed, false) != whole)
		abort();
	return 0;
}
