/* site.c: allears-web's answers without I/O (see site.h; docs/PROTOCOL.md
 * section 21). */
#include "web/site.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Fields on every response (section 21.4). */
static const char csp_strict[] =
	"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
static const char permissions_policy[] =
	"accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
	"fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), "
	"magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), "
	"publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
	"xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(self), browsing-topics=()";

static const char robots_txt[] = "User-agent: *\r\nDisallow: /\r\n";
static const char text_plain[] = "text/plain; charset=utf-8";

static bool path_is(const struct http_request *req, const char *path)
{
	size_t n = strlen(path);
	return req->path_len == n && memcmp(req->path, path, n) == 0;
}

bool website_host_valid(const char *s, bool allow_wildcard)
{
	if (allow_wildcard && s[0] == '*' && s[1] == '.')
		s += 2;
	size_t n = strlen(s);
	if (n == 0 || n > WEBSITE_HOST_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		           c == '-';
		if (!ldh || (label == 0 && c == '-'))
			return false;
		label++;
	}
	return true;
}

int website_sts_mode_parse(const char *s, enum website_sts_mode *ret)
{
	if (strcmp(s, "enforce") == 0)
		*ret = WEBSITE_STS_ENFORCE;
	else if (strcmp(s, "testing") == 0)
		*ret = WEBSITE_STS_TESTING;
	else if (strcmp(s, "none") == 0)
		*ret = WEBSITE_STS_NONE;
	else
		return -EINVAL;
	return 0;
}

static bool append(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (n > cap - *len)
		return false;
	memcpy(buf + *len, s, n);
	*len += n;
	return true;
}

int website_init(struct website *s, const struct webpage *page, bool hsts_subdomains,
                 enum website_sts_mode mode, const char *const *mx, size_t n, uint32_t max_age)
{
	static const char *const modes[] = { "enforce", "testing", "none" };
	if (n < 1 || n > WEBSITE_MX_MAX || max_age > WEBSITE_STS_MAX_AGE_MAX ||
	    (unsigned)mode >= ARRAY_SIZE(modes))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!website_host_valid(mx[i], true))
			return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->page = page;
	s->hsts_subdomains = hsts_subdomains;
	snprintf(s->hsts, sizeof(s->hsts), "max-age=%u%s", (unsigned)WEBSITE_HSTS_MAX_AGE,
	         hsts_subdomains ? "; includeSubDomains" : "");
	/* RFC 8461 section 3.2: key/value lines ending in CRLF. */
	char line[WEBSITE_HOST_MAX + 16];
	bool ok = append(s->sts, sizeof(s->sts), &s->sts_len, "version: STSv1\r\n");
	snprintf(line, sizeof(line), "mode: %s\r\n", modes[mode]);
	ok = ok && append(s->sts, sizeof(s->sts), &s->sts_len, line);
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "mx: %s\r\n", mx[i]);
		ok = ok && append(s->sts, sizeof(s->sts), &s->sts_len, line);
	}
	snprintf(line, sizeof(line), "max_age: %u\r\n", (unsigned)max_age);
	ok = ok && append(s->sts, sizeof(s->sts), &s->sts_len, line);
	return ok ? 0 : -EINVAL;
}

int website_route(void *ctx, const struct http_request *req, size_t *body_max)
{
	if (!path_is(req, WEBSITE_PATH_PAGE) && !path_is(req, WEBSITE_PATH_MTA_STS) &&
	    !path_is(req, WEBSITE_PATH_ROBOTS))
		return 404;
	if (req->method != HTTP_GET && req->method != HTTP_HEAD)
		return 405;
	*body_max = 0;
	return 0;
}

/* ---- Accept-Encoding (RFC 9110 section 12.5.3) ---- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool eq_nocase(const char *a, size_t n, const char *b)
{
	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
		if (x != b[i])
			return false;
	}
	return true;
}

static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int parse_qvalue(const char *s, size_t n)
{
	if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
		return -1;
	int q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.')
		return -1;
	int scale = 100;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* Indexes into the q table: the three codings, then "*". */
#define AE_STAR WEBPAGE_CODINGS

/* Parses one field value into q[] (-1: not named). false when malformed. */
static bool parse_accept_encoding(const char *s, size_t n, int q[WEBPAGE_CODINGS + 1])
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && is_ows(s[a]))
			a++;
		while (b > a && is_ows(s[b - 1]))
			b--;
		i = j + 1;
		if (a == b)
			continue; /* empty list element */
		size_t t = a;
		while (t < b && is_tchar(s[t]))
			t++;
		if (t == a)
			return false;
		const char *name = s + a;
		size_t name_len = t - a;
		int qv = 1000;
		while (t < b && is_ows(s[t]))
			t++;
		if (t < b) {
			if (s[t] != ';')
				return false;
			t++;
			while (t < b && is_ows(s[t]))
				t++;
			if (b - t < 2 || (s[t] != 'q' && s[t] != 'Q') || s[t + 1] != '=')
				return false;
			qv = parse_qvalue(s + t + 2, b - t - 2);
			if (qv < 0)
				return false;
		}
		int idx = -1;
		if (eq_nocase(name, name_len, "identity"))
			idx = WEBPAGE_IDENTITY;
		else if (eq_nocase(name, name_len, "gzip") || eq_nocase(name, name_len, "x-gzip"))
			idx = WEBPAGE_GZIP;
		else if (eq_nocase(name, name_len, "br"))
			idx = WEBPAGE_BR;
		else if (name_len == 1 && name[0] == '*')
			idx = AE_STAR;
		if (idx >= 0 && qv > q[idx])
			q[idx] = qv;
	}
	return true;
}

enum webpage_coding website_pick_coding(const struct http_request *req, unsigned available)
{
	int q[WEBPAGE_CODINGS + 1] = { -1, -1, -1, -1 };
	bool any = false;
	for (size_t i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];
		if (!eq_nocase(h->name, h->name_len, "accept-encoding"))
			continue;
		any = true;
		if (!parse_accept_encoding(h->value, h->value_len, q))
			return WEBPAGE_IDENTITY; /* a malformed field: no coding */
	}
	if (!any)
		return WEBPAGE_IDENTITY;
	/* Unnamed codings take "*"'s weight; identity is acceptable unless excluded. */
	int star = q[AE_STAR];
	int best = WEBPAGE_IDENTITY, best_q = -1;
	for (int c = WEBPAGE_BR; c >= WEBPAGE_IDENTITY; c--) {
		if (!(available & (1u << c)))
			continue;
		int qc = q[c] >= 0 ? q[c] : star >= 0 ? star : c == WEBPAGE_IDENTITY ? 1 : 0;
		if (qc > best_q) {
			best = c;
			best_q = qc;
		}
	}
	return best_q > 0 ? (enum webpage_coding)best : WEBPAGE_IDENTITY;
}

/* ---- If-None-Match (RFC 9110 section 13.1.2) ---- */

bool website_etag_match(const char *s, size_t n, const char *etag)
{
	size_t i = 0;
	while (i < n && is_ows(s[i]))
		i++;
	size_t e = n;
	while (e > i && is_ows(s[e - 1]))
		e--;
	if (e - i == 1 && s[i] == '*')
		return true;
	bool match = false, need_comma = false;
	size_t elen = strlen(etag);
	while (i < e) {
		if (s[i] == ',') {
			need_comma = false;
			i++;
			continue;
		}
		if (is_ows(s[i])) {
			i++;
			continue;
		}
		if (need_comma)
			return false;
		if (e - i >= 2 && s[i] == 'W' && s[i + 1] == '/')
			i += 2; /* weak comparison: W/ does not matter */
		if (i >= e || s[i] != '"')
			return false;
		size_t start = i++;
		while (i < e && s[i] != '"') {
			uint8_t c = (uint8_t)s[i];
			if (c != 0x21 && (c < 0x23 || c == 0x7f)) /* etagc = %x21 / %x23-7E / obs-text */
				return false;
			i++;
		}
		if (i >= e)
			return false;
		i++;
		if (i - start == elen && memcmp(s + start, etag, elen) == 0)
			match = true;
		need_comma = true;
	}
	return match;
}

/* ---- heads ---- */

static void common_fields(const struct website *s, struct http_resp *w, const char *csp)
{
	(void)http_resp_header(w, "Strict-Transport-Security", s->hsts);
	(void)http_resp_header(w, "Content-Security-Policy", csp);
	(void)http_resp_header(w, "Referrer-Policy", "no-referrer");
	(void)http_resp_header(w, "X-Content-Type-Options", "nosniff");
	(void)http_resp_header(w, "X-Frame-Options", "DENY");
	(void)http_resp_header(w, "Cross-Origin-Opener-Policy", "same-origin");
	(void)http_resp_header(w, "Cross-Origin-Embedder-Policy", "require-corp");
	(void)http_resp_header(w, "Cross-Origin-Resource-Policy", "same-origin");
	(void)http_resp_header(w, "Permissions-Policy", permissions_policy);
}

static int finish(struct http_resp *w, time_t now, size_t body_len, bool send_body,
                  const void *body, bool keep_alive, unsigned minor, struct website_answer *ret)
{
	size_t len;
	(void)http_resp_date(w, now);
	int rc = http_resp_end(w, body_len, keep_alive, minor, &len);
	if (rc < 0)
		return rc;
	ret->status = w->status;
	ret->head_len = len;
	ret->body = send_body && body_len ? body : NULL;
	ret->body_len = body_len;
	return 0;
}

static int answer_page(const struct website *s, const struct http_request *req, bool keep_alive,
                       time_t now, char *buf, size_t cap, struct website_answer *ret)
{
	const struct webpage *pg = s->page;
	unsigned avail = 0;
	for (int c = 0; c < WEBPAGE_CODINGS; c++)
		if (pg->v[c].present)
			avail |= 1u << c;
	enum webpage_coding c = website_pick_coding(req, avail);
	const struct webpage_variant *v = &pg->v[c];
	bool not_modified = false;
	for (size_t i = 0; i < req->header_count && !not_modified; i++) {
		const struct http_header *h = &req->headers[i];
		if (eq_nocase(h->name, h->name_len, "if-none-match"))
			not_modified = website_etag_match(h->value, h->value_len, v->etag);
	}
	struct http_resp w;
	char cache[64];
	snprintf(cache, sizeof(cache), "max-age=%u, no-transform", (unsigned)pg->max_age);
	http_resp_start(&w, buf, cap, not_modified ? 304 : 200);
	common_fields(s, &w, pg->csp);
	if (!not_modified)
		(void)http_resp_header(&w, "Content-Type", "text/html; charset=utf-8");
	if (c != WEBPAGE_IDENTITY)
		(void)http_resp_header(&w, "Content-Encoding", webpage_coding_name(c));
	(void)http_resp_header(&w, "Vary", "Accept-Encoding");
	(void)http_resp_header(&w, "ETag", v->etag);
	(void)http_resp_header(&w, "Cache-Control", cache);
	return finish(&w, now, not_modified ? 0 : v->len, req->method == HTTP_GET, v->body,
	              keep_alive, req->minor, ret);
}

static int answer_text(const struct website *s, const struct http_request *req, bool keep_alive,
                       time_t now, const char *text, size_t len, const char *cache, char *buf,
                       size_t cap, struct website_answer *ret)
{
	struct http_resp w;
	http_resp_start(&w, buf, cap, 200);
	common_fields(s, &w, csp_strict);
	(void)http_resp_header(&w, "Content-Type", text_plain);
	(void)http_resp_header(&w, "Cache-Control", cache);
	return finish(&w, now, len, req->method == HTTP_GET, text, keep_alive, req->minor, ret);
}

int website_answer(const struct website *s, const struct http_request *req, bool keep_alive,
                   time_t now, char *buf, size_t cap, struct website_answer *ret)
{
	if (path_is(req, WEBSITE_PATH_PAGE))
		return answer_page(s, req, keep_alive, now, buf, cap, ret);
	if (path_is(req, WEBSITE_PATH_MTA_STS))
		return answer_text(s, req, keep_alive, now, s->sts, s->sts_len, "no-cache", buf, cap,
		                   ret);
	if (path_is(req, WEBSITE_PATH_ROBOTS))
		return answer_text(s, req, keep_alive, now, robots_txt, sizeof(robots_txt) - 1,
		                   "max-age=86400", buf, cap, ret);
	fatalx("web: an answer for a path the route refused");
}

/* Error bodies: the status line's words. */
static const char *error_body(int status, char *tmp, size_t cap)
{
	snprintf(tmp, cap, "%d %s\n", status, http_reason(status));
	return tmp;
}

int website_error(const struct website *s, int status, bool is_head, bool keep_alive,
                  unsigned minor, time_t now, char *buf, size_t cap, struct website_answer *ret)
{
	struct http_resp w;
	char tmp[80];
	http_resp_start(&w, buf, cap, status);
	common_fields(s, &w, csp_strict);
	(void)http_resp_header(&w, "Content-Type", text_plain);
	(void)http_resp_header(&w, "Cache-Control", "no-store");
	if (status == 405)
		(void)http_resp_header(&w, "Allow", "GET, HEAD");
	const char *body = error_body(status, tmp, sizeof(tmp));
	size_t len = strlen(body);
	/* The body is copied after the head: tmp does not outlive this call. */
	int rc = finish(&w, now, len, false, NULL, keep_alive, minor, ret);
	if (rc < 0)
		return rc;
	if (!is_head) {
		if (len > cap - ret->head_len)
			return -ENOSPC;
		memcpy(buf + ret->head_len, body, len);
		ret->head_len += len; /* sent with the head */
	}
	ret->body = NULL;
	ret->body_len = 0;
	return 0;
}
