/* test_web_site.c: allears-web's answers without I/O (src/web/site.c,
 * docs/PROTOCOL.md sections 21.3-21.5): host names, the MTA-STS text,
 * routing, content-coding choice, If-None-Match, and response heads byte for
 * byte (a golden head for robots.txt). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "web/site.h"

static uint8_t pbuf[HTTP_BUFFER_SIZE(0)];
static struct http_parser hp;
static struct http_request req;

/* Parses one request head (route: website_route) into req; returns
 * http_next()'s result, with the status in *st on an error. */
static int parse(const char *text, const struct website *s, int *st)
{
	http_parser_init(&hp, pbuf, sizeof(pbuf), 0, website_route, (void *)s);
	(void)http_parser_feed(&hp, text, strlen(text));
	int r = http_next(&hp, &req);
	*st = r == HTTP_ERROR ? http_parser_status(&hp) : 0;
	return r;
}

static struct webpage page;
static const uint8_t html[] = "<!DOCTYPE html><p>x</p>";
static const uint8_t gz[] = "GZ";

static void setup(struct website *s, bool sub)
{
	memset(&page, 0, sizeof(page));
	page.max_age = 60;
	strcpy(page.csp, "default-src 'none'");
	page.v[WEBPAGE_IDENTITY] = (struct webpage_variant){ true, html, sizeof(html) - 1,
		                                                 "\"aaaa\"" };
	page.v[WEBPAGE_GZIP] = (struct webpage_variant){ true, gz, 2, "\"gggg\"" };
	static const char *const mx[] = { "allears.test" };
	if (website_init(s, &page, sub, WEBSITE_STS_ENFORCE, mx, 1, 604800) != 0)
		abort();
}

static void host_names(void)
{
	CHECK(website_host_valid("mail.example.org", false));
	CHECK(website_host_valid("localhost", false));
	CHECK(website_host_valid("a-b.c0", false));
	CHECK(website_host_valid("*.example.org", true));
	CHECK(!website_host_valid("*.example.org", false));
	CHECK(!website_host_valid("*example.org", true));
	CHECK(!website_host_valid("", false));
	CHECK(!website_host_valid("-a.example", false));
	CHECK(!website_host_valid("a-.example", false));
	CHECK(!website_host_valid("a..example", false));
	CHECK(!website_host_valid("example.", false));
	CHECK(!website_host_valid(".example", false));
	CHECK(!website_host_valid("ex ample", false));
	CHECK(!website_host_valid("ex_ample.org", false));
	char l63[80], l64[80];
	memset(l63, 'a', 63);
	strcpy(l63 + 63, ".org");
	memset(l64, 'a', 64);
	strcpy(l64 + 64, ".org");
	CHECK(website_host_valid(l63, false));
	CHECK(!website_host_valid(l64, false));
	char long_name[300];
	for (int i = 0; i < 64; i++)
		memcpy(long_name + 4 * i, "abc.", 4);
	long_name[253] = '\0'; /* 253 bytes ending in "abc.a"... */
	long_name[252] = 'a';
	CHECK(website_host_valid(long_name, false));
	long_name[253] = 'b';
	long_name[254] = '\0';
	CHECK(!website_host_valid(long_name, false));
}

static void mta_sts_text(void)
{
	struct website s;
	static const char *const mx[] = { "mail.example.org", "*.mx.example.org" };
	CHECK(website_init(&s, &page, false, WEBSITE_STS_TESTING, mx, 2, 86400) == 0);
	const char want[] = "version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\n"
	                    "mx: *.mx.example.org\r\nmax_age: 86400\r\n";
	CHECK(s.sts_len == sizeof(want) - 1 && memcmp(s.sts, want, s.sts_len) == 0);
	CHECK(strcmp(s.hsts, "max-age=63072000") == 0);
	CHECK(website_init(&s, &page, true, WEBSITE_STS_NONE, mx, 1, 0) == 0);
	CHECK(strstr(s.sts, "mode: none\r\n") && strstr(s.sts, "max_age: 0\r\n"));
	CHECK(strcmp(s.hsts, "max-age=63072000; includeSubDomains") == 0);
	CHECK(website_init(&s, &page, false, WEBSITE_STS_ENFORCE, mx, 0, 1) == -EINVAL);
	CHECK(website_init(&s, &page, false, WEBSITE_STS_ENFORCE, mx, 1, 31557601) == -EINVAL);
	static const char *const bad[] = { "ok.example", "bad_name" };
	CHECK(website_init(&s, &page, false, WEBSITE_STS_ENFORCE, bad, 2, 1) == -EINVAL);
	const char *many[WEBSITE_MX_MAX + 1];
	for (int i = 0; i <= WEBSITE_MX_MAX; i++)
		many[i] = "mx.example.org";
	CHECK(website_init(&s, &page, false, WEBSITE_STS_ENFORCE, many, WEBSITE_MX_MAX, 1) == 0);
	CHECK(website_init(&s, &page, false, WEBSITE_STS_ENFORCE, many, WEBSITE_MX_MAX + 1, 1) ==
	      -EINVAL);
	enum website_sts_mode m;
	CHECK(website_sts_mode_parse("enforce", &m) == 0 && m == WEBSITE_STS_ENFORCE);
	CHECK(website_sts_mode_parse("testing", &m) == 0 && m == WEBSITE_STS_TESTING);
	CHECK(website_sts_mode_parse("none", &m) == 0 && m == WEBSITE_STS_NONE);
	CHECK(website_sts_mode_parse("Enforce", &m) == -EINVAL);
	CHECK(website_sts_mode_parse("", &m) == -EINVAL);
}

static void routes(void)
{
	struct website s;
	int st;
	setup(&s, false);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) == HTTP_REQUEST);
	CHECK(parse("HEAD /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) == HTTP_REQUEST);
	CHECK(parse("GET /.well-known/mta-sts.txt?x HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) ==
	      HTTP_REQUEST);
	CHECK(parse("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) == HTTP_ERROR &&
	      st == 404 && !http_parser_must_close(&hp));
	CHECK(parse("POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &s, &st) ==
	      HTTP_ERROR && st == 404);
	CHECK(parse("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &s, &st) ==
	      HTTP_ERROR && st == 405 && !http_parser_must_close(&hp));
	CHECK(parse("DELETE /robots.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &s,
	            &st) == HTTP_ERROR && st == 405 && http_parser_must_close(&hp));
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na", &s, &st) ==
	      HTTP_ERROR && st == 413);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &s, &st) ==
	      HTTP_REQUEST);
}

static enum webpage_coding pick(const char *fields, unsigned avail)
{
	char text[1024];
	struct website s;
	int st;
	setup(&s, false);
	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
	if (parse(text, &s, &st) != HTTP_REQUEST)
		return (enum webpage_coding)99;
	return website_pick_coding(&req, avail);
}

static void coding_choice(void)
{
	const unsigned all = 7, no_br = 3, id = 1;
	CHECK(pick("", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip, deflate, br\r\n", all) == WEBPAGE_BR);
	CHECK(pick("Accept-Encoding: gzip, deflate, br\r\n", no_br) == WEBPAGE_GZIP);
	CHECK(pick("Accept-Encoding: gzip, deflate, br\r\n", id) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: br;q=0.1, gzip;q=0.5\r\n", all) == WEBPAGE_GZIP);
	CHECK(pick("Accept-Encoding: br;q=0.500, gzip;q=0.5\r\n", all) == WEBPAGE_BR);
	CHECK(pick("Accept-Encoding: br;q=0, gzip;q=0\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: identity;q=0, *;q=0\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: *\r\n", all) == WEBPAGE_BR);
	CHECK(pick("Accept-Encoding: *;q=0.3, identity;q=0.4\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip;q=0.5, *;q=0.7\r\n", all) == WEBPAGE_BR);
	CHECK(pick("Accept-Encoding: \r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: x-gzip\r\n", all) == WEBPAGE_GZIP);
	CHECK(pick("Accept-Encoding: GZIP;Q=1.000\r\n", all) == WEBPAGE_GZIP);
	CHECK(pick("Accept-Encoding: gzip ; q=0.9 , , br;q=0.8\r\n", all) == WEBPAGE_GZIP);
	CHECK(pick("Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n", all) == WEBPAGE_GZIP);
	/* Malformed: no coding at all. */
	CHECK(pick("Accept-Encoding: gzip;q=2\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip;q=1.001\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip;q=0.0001\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip;level=9\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip;;q=1\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: gzip br\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: \"gzip\"\r\n", all) == WEBPAGE_IDENTITY);
	CHECK(pick("Accept-Encoding: br\r\nAccept-Encoding: gzip;q=x\r\n", all) == WEBPAGE_IDENTITY);
}

static void etags(void)
{
	const char *e = "\"abcd\"";
	CHECK(website_etag_match("\"abcd\"", 6, e));
	CHECK(website_etag_match("W/\"abcd\"", 8, e));
	CHECK(website_etag_match("*", 1, e));
	CHECK(website_etag_match("  * ", 4, e));
	CHECK(website_etag_match("\"x\", \"abcd\"", 11, e));
	CHECK(website_etag_match("\"x\",W/\"abcd\" ,", 14, e));
	CHECK(!website_etag_match("\"abc\"", 5, e));
	CHECK(!website_etag_match("abcd", 4, e));
	CHECK(!website_etag_match("\"abcd", 5, e));
	CHECK(!website_etag_match("\"abcd\" \"x\"", 10, e)); /* no comma: malformed */
	CHECK(!website_etag_match("\"abcd\" junk", 11, e));
	CHECK(!website_etag_match("\"ab cd\", \"abcd\"", 15, e)); /* SP is no etagc */
	CHECK(!website_etag_match("*, \"abcd\"", 9, e));
	CHECK(!website_etag_match("", 0, e));
	CHECK(!website_etag_match("w/\"abcd\"", 8, e));
}

static void golden_head(void)
{
	struct website s;
	struct website_answer a;
	char buf[WEBSITE_HEAD_MAX];
	int st;
	setup(&s, false);
	CHECK(parse("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) == HTTP_REQUEST);
	CHECK(website_answer(&s, &req, true, 784111777, buf, sizeof(buf), &a) == 0);
	const char want[] =
		"HTTP/1.1 200 OK\r\n"
		"Strict-Transport-Security: max-age=63072000\r\n"
		"Content-Security-Policy: default-src 'none'; base-uri 'none'; form-action 'none'; "
		"frame-ancestors 'none'\r\n"
		"Referrer-Policy: no-referrer\r\n"
		"X-Content-Type-Options: nosniff\r\n"
		"X-Frame-Options: DENY\r\n"
		"Cross-Origin-Opener-Policy: same-origin\r\n"
		"Cross-Origin-Embedder-Policy: require-corp\r\n"
		"Cross-Origin-Resource-Policy: same-origin\r\n"
		"Permissions-Policy: accelerometer=(), autoplay=(), camera=(), display-capture=(), "
		"encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), "
		"idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), "
		"picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), "
		"usb=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(self), "
		"browsing-topics=()\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Cache-Control: max-age=86400\r\n"
		"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"Content-Length: 28\r\n"
		"\r\n";
	CHECK(a.status == 200 && a.head_len == sizeof(want) - 1 && memcmp(buf, want, a.head_len) == 0);
	CHECK(a.body_len == 28 && a.body && memcmp(a.body, "User-agent: *\r\nDisallow: /\r\n", 28) == 0);
}

static void page_answers(void)
{
	struct website s;
	struct website_answer a;
	char buf[WEBSITE_HEAD_MAX];
	int st;
	setup(&s, true);
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", &s, &st) ==
	      HTTP_REQUEST);
	CHECK(website_answer(&s, &req, false, 0, buf, sizeof(buf), &a) == 0);
	buf[a.head_len] = '\0';
	CHECK(a.status == 200 && a.body == gz && a.body_len == 2);
	CHECK(strstr(buf, "\r\nContent-Encoding: gzip\r\n") && strstr(buf, "\r\nETag: \"gggg\"\r\n"));
	CHECK(strstr(buf, "\r\nContent-Security-Policy: default-src 'none'\r\n"));
	CHECK(strstr(buf, "\r\nVary: Accept-Encoding\r\n"));
	CHECK(strstr(buf, "\r\nCache-Control: max-age=60, no-transform\r\n"));
	CHECK(strstr(buf, "\r\nStrict-Transport-Security: max-age=63072000; includeSubDomains\r\n"));
	CHECK(strstr(buf, "\r\nConnection: close\r\n") && strstr(buf, "\r\nContent-Length: 2\r\n"));
	/* HEAD: the length, no body. */
	CHECK(parse("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &s, &st) == HTTP_REQUEST);
	CHECK(website_answer(&s, &req, true, 0, buf, sizeof(buf), &a) == 0);
	buf[a.head_len] = '\0';
	CHECK(a.body == NULL && a.body_len == sizeof(html) - 1 && !strstr(buf, "Content-Encoding"));
	/* If-None-Match against the chosen variant. */
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"aaaa\"\r\n\r\n", &s, &st) ==
	      HTTP_REQUEST);
	CHECK(website_answer(&s, &req, true, 0, buf, sizeof(buf), &a) == 0);
	buf[a.head_len] = '\0';
	CHECK(a.status == 304 && a.body == NULL && !strstr(buf, "Content-Length") &&
	      !strstr(buf, "\r\nContent-Type:") && strstr(buf, "ETag: \"aaaa\""));
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"gggg\"\r\n\r\n", &s, &st) ==
	      HTTP_REQUEST);
	CHECK(website_answer(&s, &req, true, 0, buf, sizeof(buf), &a) == 0 && a.status == 200);
}

static void errors(void)
{
	struct website s;
	struct website_answer a;
	char buf[WEBSITE_HEAD_MAX];
	setup(&s, false);
	CHECK(website_error(&s, 405, false, true, 1, 0, buf, sizeof(buf), &a) == 0);
	buf[a.head_len] = '\0';
	CHECK(a.status == 405 && a.body == NULL && strstr(buf, "\r\nAllow: GET, HEAD\r\n") &&
	      strstr(buf, "\r\nCache-Control: no-store\r\n") &&
	      strstr(buf, "\r\nContent-Length: 23\r\n\r\n405 Method Not Allowed\n") &&
	      !strstr(buf, "Connection:"));
	CHECK(website_error(&s, 404, true, false, 0, 0, buf, sizeof(buf), &a) == 0);
	buf[a.head_len] = '\0';
	CHECK(strstr(buf, "\r\nContent-Length: 14\r\nConnection: close\r\n\r\n") &&
	      buf[a.head_len - 1] == '\n' && buf[a.head_len - 2] == '\r' && !strstr(buf, "Allow"));
	CHECK(website_error(&s, 431, false, false, 1, 0, buf, 100, &a) == -ENOSPC);
}

int main(void)
{
	check_init();
	RUN(host_names);
	RUN(mta_sts_text);
	RUN(routes);
	RUN(coding_choice);
	RUN(etags);
	RUN(golden_head);
	RUN(page_answers);
	RUN(errors);
	return check_finish();
}
