/* test_http.c: the HTTP/1.1 request parser and response writer (common/http.h).
 * Every case is fed whole, a byte at a time and in several other splits, and
 * must give the same outcome each time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "common/http.h"

#define TEST_BODY_MAX (64 * 1024)
static uint8_t pbuf[HTTP_BUFFER_SIZE(TEST_BODY_MAX)];
static char outcome[256 * 1024];

/* Refuses DELETE with 405 and /missing with 404, limits /small to 4 bytes. */
static int test_route(void *ctx, const struct http_request *req, size_t *body_max)
{
	(void)ctx;
	if (req->method == HTTP_DELETE)
		return 405;
	if (req->path_len == 8 && memcmp(req->path, "/missing", 8) == 0)
		return 404;
	if (req->path_len == 6 && memcmp(req->path, "/small", 6) == 0)
		*body_max = 4;
	return 0;
}

static void append(const char *fmt, ...) PRINTF(1, 2);
static void append(const char *fmt, ...)
{
	size_t n = strlen(outcome);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(outcome + n, sizeof(outcome) - n, fmt, ap);
	va_end(ap);
}

/* Feeds in[0..len) in chunks of `chunk` bytes and describes every outcome:
 * "GET /t 1 ka 0" per request, "E400 close" per error, "need" at the end. */
static const char *run(const void *in, size_t len, size_t chunk, size_t body_max,
                       http_route_fn route)
{
	struct http_parser p;
	struct http_request req;
	http_parser_init(&p, pbuf, HTTP_BUFFER_SIZE(body_max), body_max, route, NULL);
	outcome[0] = 0;
	size_t off = 0;
	for (;;) {
		for (;;) {
			enum http_result r = http_next(&p, &req);
			if (r == HTTP_REQUEST) {
				append("%s%s %.*s 1.%u %s %zu", outcome[0] ? ";" : "",
				       http_method_name(req.method), (int)req.target_len, req.target, req.minor,
				       req.keep_alive ? "ka" : "close", req.body_len);
				continue;
			}
			if (r == HTTP_ERROR) {
				append("%sE%d %s", outcome[0] ? ";" : "", http_parser_status(&p),
				       http_parser_must_close(&p) ? "close" : "keep");
				if (http_parser_must_close(&p)) {
					CHECK(http_next(&p, &req) == HTTP_ERROR);
					return outcome;
				}
				continue;
			}
			break;
		}
		size_t avail;
		http_parser_space(&p, &avail);
		CHECK(avail > 0); /* after NEED_MORE there is always room */
		if (off == len) {
			append("%sneed", outcome[0] ? ";" : "");
			return outcome;
		}
		size_t n = len - off < chunk ? len - off : chunk;
		size_t took = http_parser_feed(&p, (const uint8_t *)in + off, n);
		CHECK(took > 0);
		if (took == 0)
			return "stuck";
		off += took;
	}
}

static void expect_n(const void *in, size_t len, size_t body_max, const char *want)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 1000 };
	const char *got = run(in, len, len ? len : 1, body_max, test_route);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "  whole: got   \"%s\"\n         want  \"%s\"\n", got, want);
		CHECK(strcmp(got, want) == 0);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		got = run(in, len, chunks[i], body_max, test_route);
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "  split %zu: got \"%s\"\n", chunks[i], got);
			CHECK(strcmp(got, want) == 0);
			return;
		}
	}
}

static void expect(const char *in, const char *want)
{
	expect_n(in, strlen(in), 1024, want);
}

#define H "Host: example.org\r\n"

static void simple_get(void)
{
	expect("GET / HTTP/1.1\r\n" H "\r\n", "GET / 1.1 ka 0;need");
	expect("HEAD /x HTTP/1.1\r\n" H "\r\n", "HEAD /x 1.1 ka 0;need");
	expect("GET / HTTP/1.0\r\n\r\n", "GET / 1.0 close 0;need");
	expect("", "need");
	expect("GET / HTTP/1.1\r\n" H, "need");
}

static struct http_parser one_p;
static struct http_request one_req;

static enum http_result parse_one(const char *in)
{
	http_parser_init(&one_p, pbuf, sizeof(pbuf), TEST_BODY_MAX, NULL, NULL);
	CHECK(http_parser_feed(&one_p, in, strlen(in)) == strlen(in));
	return http_next(&one_p, &one_req);
}

static bool str_is(const char *p, size_t n, const char *s)
{
	return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void path_and_query(void)
{
	CHECK(parse_one("GET /a/b?x=1&y=%20?z HTTP/1.1\r\n" H "\r\n") == HTTP_REQUEST);
	CHECK(str_is(one_req.path, one_req.path_len, "/a/b"));
	CHECK(str_is(one_req.query, one_req.query_len, "x=1&y=%20?z"));
	CHECK(str_is(one_req.target, one_req.target_len, "/a/b?x=1&y=%20?z"));
	CHECK(parse_one("GET /plain HTTP/1.1\r\n" H "\r\n") == HTTP_REQUEST);
	CHECK(one_req.query == NULL && one_req.query_len == 0);
	CHECK(parse_one("GET /? HTTP/1.1\r\n" H "\r\n") == HTTP_REQUEST);
	CHECK(one_req.query != NULL && one_req.query_len == 0);
	CHECK(str_is(one_req.path, one_req.path_len, "/"));
	/* every pchar, sub-delim and "/" "?" in a query */
	CHECK(parse_one("GET /AZaz09-._~!$&'()*+,;=:@/?/?%Af HTTP/1.1\r\n" H "\r\n") == HTTP_REQUEST);
}

static void header_lookup(void)
{
	CHECK(parse_one("GET / HTTP/1.1\r\nHost: h\r\nX-Foo:  bar baz \t\r\nEmpty:\r\n"
	                "Obs: caf\xc3\xa9\r\nx-foo: second\r\n\r\n") == HTTP_REQUEST);
	CHECK(one_req.header_count == 5);
	const struct http_header *h = http_header_get(&one_req, "x-FOO");
	CHECK(h && str_is(h->value, h->value_len, "bar baz"));
	CHECK(h && str_is(h->name, h->name_len, "X-Foo"));
	h = http_header_get(&one_req, "empty");
	CHECK(h && h->value_len == 0);
	h = http_header_get(&one_req, "obs");
	CHECK(h && str_is(h->value, h->value_len, "caf\xc3\xa9"));
	CHECK(http_header_get(&one_req, "X-Fo") == NULL);
	CHECK(http_header_get(&one_req, "X-Foo2") == NULL);
	h = http_header_get(&one_req, "HOST");
	CHECK(h && str_is(h->value, h->value_len, "h"));
}

static void post_body(void)
{
	CHECK(parse_one("POST /up HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhelloGET") == HTTP_REQUEST);
	CHECK(one_req.body_len == 5 && memcmp(one_req.body, "hello", 5) == 0);
	CHECK(one_req.has_length);
	CHECK(http_parser_pending(&one_p) == 3);
	expect("POST /up HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello", "POST /up 1.1 ka 5;need");
	expect("POST /up HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhell", "need");
	expect("POST /up HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", "POST /up 1.1 ka 0;need");
	expect("POST /up HTTP/1.1\r\n" H "Content-Length: 007\r\n\r\n1234567",
	       "POST /up 1.1 ka 7;need");
	/* a body on GET is read (and not taken for the next request) */
	expect("GET / HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n" H "\r\n",
	       "GET / 1.1 ka 3;GET / 1.1 ka 0;need");
}

static void pipelining(void)
{
	const char *in = "GET /1 HTTP/1.1\r\n" H "\r\n"
	                 "POST /2 HTTP/1.1\r\n" H "Content-Length: 4\r\n\r\nabcd"
	                 "\r\nGET /3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	                 "GET /4 HTTP/1.1\r\n" H "Connection: close\r\n\r\n"
	                 "GET /5 HTTP/1.1\r\n";
	expect(in, "GET /1 1.1 ka 0;POST /2 1.1 ka 4;GET /3 1.0 ka 0;GET /4 1.1 close 0;need");

	/* the bodies come out intact when several requests arrive in one read */
	struct http_parser p;
	struct http_request r;
	http_parser_init(&p, pbuf, sizeof(pbuf), TEST_BODY_MAX, NULL, NULL);
	const char *two = "PUT /a HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\none"
	                  "PUT /b HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\ntwo";
	CHECK(http_parser_feed(&p, two, strlen(two)) == strlen(two));
	CHECK(http_next(&p, &r) == HTTP_REQUEST);
	CHECK(r.body_len == 3 && memcmp(r.body, "one", 3) == 0 && r.path[1] == 'a');
	CHECK(http_next(&p, &r) == HTTP_REQUEST);
	CHECK(r.body_len == 3 && memcmp(r.body, "two", 3) == 0 && r.path[1] == 'b');
	CHECK(http_next(&p, &r) == HTTP_NEED_MORE);
	CHECK(http_parser_pending(&p) == 0);
}

/* More pipelined requests than the buffer holds: feeding takes what fits and
 * the rest goes in after the parser has made room. */
static void pipelining_beyond_buffer(void)
{
	static char big[120000];
	size_t n = 0;
	int count = 0;
	while (n + 64 < sizeof(big)) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n",
		                      count % 1000);
		count++;
	}
	const char *got = run(big, n, n, 16, test_route);
	int seen = 0;
	for (const char *s = got; (s = strstr(s, "GET /")) != NULL; s++)
		seen++;
	CHECK(seen == count);
	CHECK(strlen(got) >= 4 && strcmp(got + strlen(got) - 4, "need") == 0);
	CHECK(strcmp(got, run(big, n, 997, 16, test_route)) == 0);
}

static void keep_alive_rules(void)
{
	expect("GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n", "GET / 1.1 close 0;need");
	expect("GET / HTTP/1.1\r\n" H "Connection: Keep-Alive, Upgrade\r\n\r\n", "GET / 1.1 ka 0;need");
	expect("GET / HTTP/1.1\r\n" H "Connection: te, CLOSE\r\n\r\n", "GET / 1.1 close 0;need");
	expect("GET / HTTP/1.1\r\n" H "Connection: ,, close ,\r\n\r\n", "GET / 1.1 close 0;need");
	expect("GET / HTTP/1.1\r\n" H "Connection: a\r\nConnection: close\r\n\r\n",
	       "GET / 1.1 close 0;need");
	expect("GET / HTTP/1.0\r\n\r\n", "GET / 1.0 close 0;need");
	expect("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET / 1.0 ka 0;need");
	expect("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "GET / 1.0 close 0;need");
	expect("GET / HTTP/1.1\r\n" H "Connection: keep alive\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "Connection: close;x\r\n\r\n", "E400 close");
}

static void error_400_request_line(void)
{
	expect("GET / HTTP/1.1\n" H "\r\n", "E400 close");                /* bare LF */
	expect("\nGET / HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /\r HTTP/1.1\r\n" H "\r\n", "E400 close");           /* bare CR */
	expect("GET  / HTTP/1.1\r\n" H "\r\n", "E400 close");            /* two SP */
	expect("GET / HTTP/1.1 \r\n" H "\r\n", "E400 close");
	expect(" GET / HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /\tx HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "\r\n", "GET / 1.1 ka 0;need");
	expect("GET\r\n", "E400 close");
	expect("GET /\r\n", "E400 close");
	expect("G(T / HTTP/1.1\r\n" H "\r\n", "E400 close");             /* not a token */
	expect("GET / http/1.1\r\n" H "\r\n", "E400 close");
	expect("GET / HTTP/1.10\r\n" H "\r\n", "E400 close");
	expect("GET / HTTP/1\r\n" H "\r\n", "E400 close");
	expect("GET / HTTP/a.1\r\n" H "\r\n", "E400 close");
	expect("GET http://example.org/ HTTP/1.1\r\n" H "\r\n", "E400 close"); /* absolute-form */
	expect("OPTIONS * HTTP/1.1\r\n" H "\r\n", "E400 close");         /* asterisk-form */
	expect("GET example.org:80 HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /a#frag HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /%4 HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /%zz HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /a\"b HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect("GET /\x80 HTTP/1.1\r\n" H "\r\n", "E400 close");
	expect_n("GET /\0 HTTP/1.1\r\n" H "\r\n", 17 + strlen(H) + 2, 1024, "E400 close");
	/* one empty line before a request is ignored, two are not */
	expect("\r\nGET / HTTP/1.1\r\n" H "\r\n", "GET / 1.1 ka 0;need");
	expect("\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", "E400 close");
}

static void error_400_fields(void)
{
	expect("GET / HTTP/1.1\r\n\r\n", "E400 close");                      /* no Host in 1.1 */
	expect("GET / HTTP/1.0\r\n" H "\r\n", "GET / 1.0 close 0;need");
	expect("GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET / 1.1 ka 0;need");      /* empty Host */
	expect("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", "GET / 1.1 ka 0;need");
	expect("GET / HTTP/1.1\r\n" H H "\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "host: other\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 1, 1\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 1a\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 0x1\r\n\r\nx", "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx",
	       "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx",
	       "E400 close");
	expect("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
	       "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X: a\r\n  folded\r\n\r\n", "E400 close"); /* obs-fold */
	expect("GET / HTTP/1.1\r\n" H "X: a\r\n\tfolded\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n Host: a\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "E400 close");       /* SP before colon */
	expect("GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H ": a\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X(: a\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", "E400 close");     /* bare CR */
	expect("GET / HTTP/1.1\r\n" H "X: a\nY: b\r\n\r\n", "E400 close");  /* bare LF */
	expect("GET / HTTP/1.1\r\n" H "\n", "E400 close");
	expect_n("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", 16 + strlen(H) + 10, 1024, "E400 close");
	expect("GET / HTTP/1.1\r\n" H "X: a\tb\r\n\r\n", "GET / 1.1 ka 0;need");
}

static void error_405_route(void)
{
	/* no body: the connection stays in step and goes on */
	expect("DELETE /x HTTP/1.1\r\n" H "\r\nGET /y HTTP/1.1\r\n" H "\r\n",
	       "E405 keep;GET /y 1.1 ka 0;need");
	expect("GET /missing HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\nGET /y HTTP/1.1\r\n" H "\r\n",
	       "E404 keep;GET /y 1.1 ka 0;need");
	/* a body would have to be skipped: close */
	expect("DELETE /x HTTP/1.1\r\n" H "Content-Length: 2\r\n\r\nab", "E405 close");
	/* the client asked to close */
	expect("DELETE /x HTTP/1.1\r\n" H "Connection: close\r\n\r\n", "E405 close");
	expect("DELETE /x HTTP/1.0\r\n\r\n", "E405 close");
}

static void error_411(void)
{
	expect("POST / HTTP/1.1\r\n" H "\r\n", "E411 close");
	expect("PUT / HTTP/1.1\r\n" H "\r\n", "E411 close");
	expect("PATCH / HTTP/1.0\r\n\r\n", "E411 close");
	expect("OPTIONS / HTTP/1.1\r\n" H "\r\n", "OPTIONS / 1.1 ka 0;need");
}

static void error_413_body(void)
{
	char in[2048];
	static uint8_t body[1025];
	memset(body, 'b', sizeof(body));
	/* exactly at the parser's limit, and one over */
	int n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\n" H "Content-Length: 1024\r\n\r\n");
	memcpy(in + n, body, 1024);
	expect_n(in, (size_t)n + 1024, 1024, "POST / 1.1 ka 1024;need");
	n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\n" H "Content-Length: 1025\r\n\r\n");
	memcpy(in + n, body, 1025);
	expect_n(in, (size_t)n + 1025, 1024, "E413 close");
	/* the route's lower limit, at and over */
	expect("POST /small HTTP/1.1\r\n" H "Content-Length: 4\r\n\r\nabcd", "POST /small 1.1 ka 4;need");
	expect("POST /small HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nabcde", "E413 close");
	/* a length too large for any integer */
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999999999\r\n\r\n",
	       "E413 close");
	expect("POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551616\r\n\r\n", "E413 close");
	/* zero body limit */
	const char *one = "POST / HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx";
	expect_n(one, strlen(one), 0, "E413 close");
}

/* A request line of exactly len bytes (without CRLF). */
static size_t line_of(char *out, size_t len, const char *method)
{
	size_t m = strlen(method);
	memcpy(out, method, m);
	out[m] = ' ';
	size_t tlen = len - m - 1 - 9;
	out[m + 1] = '/';
	memset(out + m + 2, 'a', tlen - 1);
	memcpy(out + m + 1 + tlen, " HTTP/1.1\r\n" H "\r\n", 11 + strlen(H) + 2);
	return len + 2 + strlen(H) + 2;
}

static void error_414_line(void)
{
	static char in[HTTP_REQUEST_LINE_MAX + 256];
	size_t n = line_of(in, HTTP_REQUEST_LINE_MAX, "GET");
	const char *got = run(in, n, n, 0, test_route);
	CHECK(strncmp(got, "GET /aaaa", 9) == 0 && strstr(got, " 1.1 ka 0;need") != NULL);
	expect_n(in, n, 0, got);
	n = line_of(in, HTTP_REQUEST_LINE_MAX + 1, "GET");
	expect_n(in, n, 0, "E414 close");
	/* overlong with an unknown method: 501; with a method that is no token: 400 */
	n = line_of(in, HTTP_REQUEST_LINE_MAX + 1, "BREW");
	expect_n(in, n, 0, "E501 close");
	n = line_of(in, HTTP_REQUEST_LINE_MAX + 1, "G@T");
	expect_n(in, n, 0, "E400 close");
	memset(in, 'G', HTTP_REQUEST_LINE_MAX + 10);
	expect_n(in, HTTP_REQUEST_LINE_MAX + 10, 0, "E501 close");
	/* overlong and never ended: decided as soon as the limit is passed */
	n = line_of(in, HTTP_REQUEST_LINE_MAX + 1, "GET");
	expect_n(in, HTTP_REQUEST_LINE_MAX + 2, 0, "E414 close");
	expect_n(in, HTTP_REQUEST_LINE_MAX + 1, 0, "need");
}

/* "X-N: vvv...\r\n" of exactly len bytes without CRLF. */
static size_t field_of(char *out, size_t len, int idx)
{
	int k = snprintf(out, 16, "X-%03d: ", idx);
	memset(out + k, 'v', len - (size_t)k);
	out[len] = '\r';
	out[len + 1] = '\n';
	return len + 2;
}

static void error_431_field(void)
{
	static char in[HTTP_HEADER_BLOCK_MAX * 2];
	size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n" H);
	n += field_of(in + n, HTTP_FIELD_MAX, 0);
	memcpy(in + n, "\r\n", 2);
	expect_n(in, n + 2, 0, "GET / 1.1 ka 0;need");
	n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n" H);
	n += field_of(in + n, HTTP_FIELD_MAX + 1, 0);
	memcpy(in + n, "\r\n", 2);
	expect_n(in, n + 2, 0, "E431 close");
	/* the limit applies before the line has ended */
	n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n" H);
	size_t at = n;
	n += field_of(in + n, HTTP_FIELD_MAX + 1, 0);
	expect_n(in, at + HTTP_FIELD_MAX + 2, 0, "E431 close");
	expect_n(in, at + HTTP_FIELD_MAX + 1, 0, "need");
}

static void error_431_count(void)
{
	static char in[8192];
	size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n" H);
	for (int i = 1; i < HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "X-%d: v\r\n", i);
	memcpy(in + n, "\r\n", 2);
	expect_n(in, n + 2, 0, "GET / 1.1 ka 0;need");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "X-last: v\r\n\r\n");
	expect_n(in, n, 0, "E431 close");
}

/* A header block of exactly `block` bytes (fields with CRLFs, and the final CRLF). */
static size_t block_of(char *out, size_t block)
{
	size_t n = (size_t)snprintf(out, 64, H);
	size_t left = block - n - 2;
	int idx = 0;
	while (left > 0) {
		size_t line = left > HTTP_FIELD_MAX + 2 ? HTTP_FIELD_MAX + 2 : left;
		if (left - line > 0 && left - line < 12)
			line -= 12; /* leave room for a last field of at least 12 bytes */
		n += field_of(out + n, line - 2, idx++);
		left -= line;
	}
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

static void error_431_block(void)
{
	static char in[HTTP_HEADER_BLOCK_MAX * 2];
	size_t l = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n");
	size_t n = l + block_of(in + l, HTTP_HEADER_BLOCK_MAX);
	expect_n(in, n, 0, "GET / 1.1 ka 0;need");
	n = l + block_of(in + l, HTTP_HEADER_BLOCK_MAX + 1);
	expect_n(in, n, 0, "E431 close");
	/* a block that never ends is refused once the limit is reached */
	n = l + block_of(in + l, HTTP_HEADER_BLOCK_MAX);
	in[n - 2] = 'X'; /* the final CRLF becomes the start of another field */
	in[n - 1] = ':';
	expect_n(in, n, 0, "E431 close");
	expect_n(in, n - 1, 0, "need");
}

/* The largest request a parser takes fills its buffer exactly. */
static void head_and_body_at_every_limit(void)
{
	enum { BODY = 100 };
	static char in[HTTP_BUFFER_SIZE(BODY) + 16];
	size_t n = 0;
	for (int i = 0; i < HTTP_LEADING_EMPTY_MAX; i++) {
		memcpy(in + n, "\r\n", 2);
		n += 2;
	}
	char line[HTTP_REQUEST_LINE_MAX + 64];
	line_of(line, HTTP_REQUEST_LINE_MAX, "PUT");
	memcpy(in + n, line, HTTP_REQUEST_LINE_MAX + 2);
	n += HTTP_REQUEST_LINE_MAX + 2;
	size_t b = (size_t)snprintf(in + n, 64, "Content-Length: %d\r\n", BODY);
	n += b;
	size_t blk = block_of(in + n, HTTP_HEADER_BLOCK_MAX - b);
	n += blk;
	memset(in + n, 'z', BODY);
	n += BODY;
	CHECK(n == HTTP_BUFFER_SIZE(BODY));
	const char *got = run(in, n, n, BODY, NULL);
	CHECK(strncmp(got, "PUT /aaa", 8) == 0 && strstr(got, " 1.1 ka 100;need") != NULL);
	expect_n(in, n, BODY, got);
}

static void error_417_expect(void)
{
	expect("GET / HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n", "E417 close");
	CHECK(parse_one("POST / HTTP/1.1\r\n" H "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx") ==
	      HTTP_REQUEST);
	CHECK(one_req.expect_continue);
	CHECK(parse_one("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx") ==
	      HTTP_REQUEST);
	CHECK(!one_req.expect_continue);
	CHECK(parse_one("GET / HTTP/1.1\r\n" H "\r\n") == HTTP_REQUEST);
	CHECK(!one_req.expect_continue && !one_req.has_length);
}

static void error_501(void)
{
	expect("BREW / HTTP/1.1\r\n" H "\r\n", "E501 close");
	expect("get / HTTP/1.1\r\n" H "\r\n", "E501 close");
	expect("CONNECT / HTTP/1.1\r\n" H "\r\n", "E501 close");
	expect("TRACE / HTTP/1.1\r\n" H "\r\n", "E501 close");
	expect("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "E501 close");
	expect("GET / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", "E501 close");
	expect("PUT / HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx", "PUT / 1.1 ka 1;need");
	expect("PATCH / HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx", "PATCH / 1.1 ka 1;need");
}

static void error_505(void)
{
	expect("GET / HTTP/2.0\r\n" H "\r\n", "E505 close");
	expect("GET / HTTP/1.2\r\n" H "\r\n", "E505 close");
	expect("GET / HTTP/0.9\r\n" H "\r\n", "E505 close");
	expect("GET / HTTP/9.9\r\n" H "\r\n", "E505 close");
}

/* An error ends the connection: nothing after it is parsed. */
static void error_is_final(void)
{
	expect("GET / HTTP/1.1\r\n" H "\r\nBAD\r\nGET / HTTP/1.1\r\n" H "\r\n",
	       "GET / 1.1 ka 0;E400 close");
	struct http_parser p;
	struct http_request r;
	http_parser_init(&p, pbuf, sizeof(pbuf), 16, NULL, NULL);
	const char *in = "XYZ\r\n";
	CHECK(http_parser_feed(&p, in, 5) == 5);
	CHECK(http_next(&p, &r) == HTTP_ERROR);
	CHECK(http_parser_status(&p) == 400 && http_parser_must_close(&p));
	in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	(void)http_parser_feed(&p, in, strlen(in));
	CHECK(http_next(&p, &r) == HTTP_ERROR);
}

/* Reading straight into the parser's buffer. */
static void space_and_commit(void)
{
	struct http_parser p;
	struct http_request r;
	static uint8_t small[HTTP_BUFFER_SIZE(0)];
	http_parser_init(&p, small, sizeof(small), 0, NULL, NULL);
	size_t avail;
	uint8_t *at = http_parser_space(&p, &avail);
	CHECK(at == small && avail == sizeof(small));
	const char *in = "GET /c HTTP/1.1\r\nHost: a\r\n\r\nGET /d";
	memcpy(at, in, strlen(in));
	http_parser_commit(&p, strlen(in));
	CHECK(http_next(&p, &r) == HTTP_REQUEST);
	CHECK(str_is(r.path, r.path_len, "/c"));
	CHECK(http_parser_pending(&p) == 6);
	CHECK(http_next(&p, &r) == HTTP_NEED_MORE);
	at = http_parser_space(&p, &avail);
	CHECK(at == small + 6 && avail == sizeof(small) - 6); /* moved to the front */
}

static const char *resp(int status, const char **hdrs, bool ka, unsigned minor, size_t body,
                        int *ret_rc)
{
	static char out[512];
	struct http_resp w;
	size_t len = 0;
	http_resp_start(&w, out, sizeof(out) - 1, status);
	*ret_rc = 0;
	for (size_t i = 0; hdrs && hdrs[i]; i += 2) {
		int rc = http_resp_header(&w, hdrs[i], hdrs[i + 1]);
		if (rc && !*ret_rc)
			*ret_rc = rc;
	}
	int rc = http_resp_end(&w, body, ka, minor, &len);
	if (!*ret_rc)
		*ret_rc = rc;
	out[rc == 0 ? len : 0] = 0;
	return out;
}

static void response_writer(void)
{
	int rc;
	const char *h1[] = { "Content-Type", "text/plain", "X-Empty", "", NULL };
	CHECK(strcmp(resp(200, h1, true, 1, 12, &rc),
	             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty: \r\n"
	             "Content-Length: 12\r\n\r\n") == 0 && rc == 0);
	CHECK(strcmp(resp(404, NULL, false, 1, 0, &rc),
	             "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") == 0);
	CHECK(strcmp(resp(200, NULL, true, 0, 3, &rc),
	             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n") == 0);
	CHECK(strcmp(resp(204, NULL, true, 1, 0, &rc), "HTTP/1.1 204 No Content\r\n\r\n") == 0);
	CHECK(strcmp(resp(304, NULL, false, 1, 0, &rc),
	             "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n") == 0);
	CHECK(strcmp(resp(299, NULL, true, 1, 0, &rc), "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n") == 0);
	CHECK(strcmp(resp(431, NULL, false, 1, 0, &rc),
	             "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
	             "Connection: close\r\n\r\n") == 0);
	(void)resp(204, NULL, true, 1, 1, &rc);
	CHECK(rc == -EINVAL);
	(void)resp(99, NULL, true, 1, 0, &rc);
	CHECK(rc == -EINVAL);
	(void)resp(600, NULL, true, 1, 0, &rc);
	CHECK(rc == -EINVAL);
}

static void response_no_injection(void)
{
	int rc;
	const char *bad[][2] = {
		{ "X", "a\r\nSet-Cookie: x" }, { "X", "a\nb" }, { "X", "a\rb" }, { "X", "a\x01" },
		{ "X", "a\x7f" },              { "X", " a" },   { "X", "a\t" },  { "X\r\nY", "a" },
		{ "X Y", "a" },                { "X:", "a" },   { "", "a" },     { "Content-Length", "1" },
		{ "connection", "close" },     { "DATE", "x" }, { "Transfer-Encoding", "chunked" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *h[] = { bad[i][0], bad[i][1], NULL };
		(void)resp(200, h, true, 1, 0, &rc);
		if (rc != -EINVAL)
			fprintf(stderr, "  accepted header %zu\n", i);
		CHECK(rc == -EINVAL);
	}
	/* the failure sticks: nothing after it is written */
	char out[256];
	struct http_resp w;
	size_t len = 7;
	http_resp_start(&w, out, sizeof(out), 200);
	CHECK(http_resp_header(&w, "X", "a\r\nb") == -EINVAL);
	CHECK(http_resp_header(&w, "Y", "ok") == -EINVAL);
	CHECK(http_resp_end(&w, 0, true, 1, &len) == -EINVAL && len == 7);
	const char *ok[] = { "X", "a\tb c \xc3\xa9!", NULL };
	CHECK(strcmp(resp(200, ok, true, 1, 0, &rc),
	             "HTTP/1.1 200 OK\r\nX: a\tb c \xc3\xa9!\r\nContent-Length: 0\r\n\r\n") == 0);
}

static void response_space_and_date(void)
{
	char out[256];
	struct http_resp w;
	size_t len = 0;
	http_resp_start(&w, out, sizeof(out), 200);
	CHECK(http_resp_date(&w, 784111777) == 0); /* RFC 9110's example */
	CHECK(http_resp_end(&w, 0, true, 1, &len) == 0);
	const char *want = "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	                   "Content-Length: 0\r\n\r\n";
	CHECK(len == strlen(want) && memcmp(out, want, len) == 0);
	CHECK(HTTP_DATE_LEN == strlen("Sun, 06 Nov 1994 08:49:37 GMT"));
	/* exactly enough room, then one byte short */
	for (size_t cap = len - 1; cap <= len; cap++) {
		size_t got = 0;
		http_resp_start(&w, out, cap, 200);
		int rc = http_resp_date(&w, 784111777);
		(void)rc;
		rc = http_resp_end(&w, 0, true, 1, &got);
		CHECK(cap == len ? (rc == 0 && got == len) : rc == -ENOSPC);
	}
	http_resp_start(&w, out, 10, 200);
	CHECK(http_resp_end(&w, 0, true, 1, &len) == -ENOSPC);
}

int main(void)
{
	check_init();
	RUN(simple_get);
	RUN(path_and_query);
	RUN(header_lookup);
	RUN(post_body);
	RUN(pipelining);
	RUN(pipelining_beyond_buffer);
	RUN(keep_alive_rules);
	RUN(error_400_request_line);
	RUN(error_400_fields);
	RUN(error_405_route);
	RUN(error_411);
	RUN(error_413_body);
	RUN(error_414_line);
	RUN(error_431_field);
	RUN(error_431_count);
	RUN(error_431_block);
	RUN(head_and_body_at_every_limit);
	RUN(error_417_expect);
	RUN(error_501);
	RUN(error_505);
	RUN(error_is_final);
	RUN(space_and_commit);
	RUN(response_writer);
	RUN(response_no_injection);
	RUN(response_space_and_date);
	return check_finish();
}
