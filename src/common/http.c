/* http.c: the strict HTTP/1.1 request parser and response writer of http.h.
 * Parsing is line by line over a fixed buffer: each line is looked for only in
 * a window as wide as its limit, so the outcome is a function of the bytes
 * alone, never of how they were split into reads (tests/fuzz/fuzz_http.c checks
 * that). Rules and statuses: docs/PROTOCOL.md section 13. */
#include "common/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Character classes of RFC 9110 section 5.6.2 and RFC 3986. */
static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* unreserved / sub-delims / ":" / "@" (pct-encoded is handled by the caller). */
static bool is_pchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* field-vchar or SP/HTAB: no control characters (obs-text 0x80-0xff is allowed). */
static bool is_field_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((uint8_t)a[i]) != lower((uint8_t)b[i]))
			return false;
	return true;
}

static const char *const method_names[] = {
	[HTTP_GET] = "GET",         [HTTP_HEAD] = "HEAD",       [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",         [HTTP_DELETE] = "DELETE",   [HTTP_OPTIONS] = "OPTIONS",
	[HTTP_PATCH] = "PATCH",
};

const char *http_method_name(enum http_method m)
{
	if ((size_t)m < ARRAY_SIZE(method_names) && method_names[m])
		return method_names[m];
	return "";
}

/* Methods are case-sensitive (RFC 9110 section 9.1). */
static enum http_method method_of(const uint8_t *s, size_t n)
{
	for (size_t m = 1; m < ARRAY_SIZE(method_names); m++)
		if (strlen(method_names[m]) == n && memcmp(method_names[m], s, n) == 0)
			return (enum http_method)m;
	return 0;
}

void http_parser_init(struct http_parser *p, uint8_t *buf, size_t cap, size_t body_max,
                      http_route_fn route, void *route_ctx)
{
	if (body_max > HTTP_BODY_LIMIT_MAX || cap < HTTP_BUFFER_SIZE(body_max))
		fatalx("http_parser_init: buffer of %zu bytes for a body of %zu", cap, body_max);
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->cap = cap;
	p->body_max = body_max;
	p->route = route;
	p->route_ctx = route_ctx;
	p->state = HTTP_ST_LINE_;
}

uint8_t *http_parser_space(struct http_parser *p, size_t *ret_avail)
{
	*ret_avail = p->cap - p->len;
	return p->buf + p->len;
}

void http_parser_commit(struct http_parser *p, size_t n)
{
	if (n > p->cap - p->len)
		fatalx("http_parser_commit: %zu bytes do not fit", n);
	p->len += n;
}

size_t http_parser_feed(struct http_parser *p, const void *data, size_t len)
{
	size_t n = p->cap - p->len;
	if (n > len)
		n = len;
	if (n) {
		memcpy(p->buf + p->len, data, n);
		p->len += n;
	}
	return n;
}

int http_parser_status(const struct http_parser *p)
{
	return p->status;
}

bool http_parser_must_close(const struct http_parser *p)
{
	return p->close;
}

unsigned http_parser_minor(const struct http_parser *p)
{
	return p->req.method ? p->req.minor : 1;
}

size_t http_parser_pending(const struct http_parser *p)
{
	return p->len - p->consumed;
}

static enum http_result fail(struct http_parser *p, int status)
{
	p->state = HTTP_ST_DEAD_;
	p->status = status;
	p->close = true;
	return HTTP_ERROR;
}

/* Drops the finished request and starts the next one at buf[0]. */
static void next_request(struct http_parser *p)
{
	size_t rest = p->len - p->consumed;
	if (p->consumed && rest)
		memmove(p->buf, p->buf + p->consumed, rest);
	p->len = rest;
	p->pos = p->scan = p->consumed = 0;
	p->head_len = p->block_used = 0;
	p->content_length = 0;
	p->have_host = p->have_cl = p->have_te = p->conn_close = p->conn_keep = false;
	p->empty_lines = 0;
	p->status = 0;
	p->close = false;
	memset(&p->req, 0, sizeof(p->req));
	p->state = HTTP_ST_LINE_;
}

/* Looks for the LF ending the line at p->pos within window bytes (the line's
 * content, CR and LF). Returns 1 with *ret_lf, 0 when more bytes are needed,
 * -1 when window bytes are buffered without a LF. */
static int find_line(struct http_parser *p, size_t window, size_t *ret_lf)
{
	size_t end = p->pos + window;
	if (end > p->len)
		end = p->len;
	size_t from = p->scan > p->pos ? p->scan : p->pos;
	if (from < end) {
		const uint8_t *lf = memchr(p->buf + from, '\n', end - from);
		if (lf) {
			*ret_lf = (size_t)(lf - p->buf);
			return 1;
		}
	}
	p->scan = end;
	return p->len - p->pos >= window ? -1 : 0;
}

/* An overlong request line: 400 for a method that is not a token, 501 for a
 * token that is no known method, 414 (the target is too long) otherwise. */
static int overlong_line_status(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != ' ') {
		if (!is_tchar(s[i]))
			return 400;
		i++;
	}
	if (i == 0)
		return 400;
	if (i == n || !method_of(s, i))
		return 501;
	return 414;
}

/* origin-form = absolute-path [ "?" query ] (RFC 9112 section 3.2.1). */
static bool valid_origin_form(const uint8_t *s, size_t n, size_t *ret_qmark)
{
	if (n == 0 || s[0] != '/')
		return false;
	size_t qmark = n;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
				return false;
			i += 2;
		} else if (c == '?') {
			if (qmark == n)
				qmark = i;
		} else if (c != '/' && !is_pchar(c)) {
			return false;
		}
	}
	*ret_qmark = qmark;
	return true;
}

/* request-line = method SP request-target SP HTTP-version. */
static int parse_request_line(struct http_parser *p, const uint8_t *s, size_t n)
{
	const uint8_t *sp1 = memchr(s, ' ', n);
	if (!sp1)
		return 400;
	size_t mlen = (size_t)(sp1 - s);
	const uint8_t *t = sp1 + 1;
	const uint8_t *sp2 = memchr(t, ' ', n - mlen - 1);
	if (!sp2)
		return 400;
	size_t tlen = (size_t)(sp2 - t);
	const uint8_t *v = sp2 + 1;
	size_t vlen = n - mlen - tlen - 2;

	if (mlen == 0)
		return 400;
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar(s[i]))
			return 400;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return 505;
	enum http_method m = method_of(s, mlen);
	if (!m)
		return 501;
	size_t qmark;
	if (!valid_origin_form(t, tlen, &qmark))
		return 400;

	p->req.method = m;
	p->req.minor = (unsigned)(v[7] - '0');
	p->req.target = (const char *)t;
	p->req.target_len = tlen;
	p->req.path = (const char *)t;
	p->req.path_len = qmark;
	if (qmark < tlen) {
		p->req.query = (const char *)t + qmark + 1;
		p->req.query_len = tlen - qmark - 1;
	}
	return 0;
}

/* Host = uri-host [ ":" port ]: only the characters those may hold. */
static bool valid_host(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == '%') {
			if (i + 2 >= n || !is_hex((uint8_t)s[i + 1]) || !is_hex((uint8_t)s[i + 2]))
				return false;
			i += 2;
		} else if ((!is_pchar(c) || c == '@') && c != '[' && c != ']') {
			return false; /* no userinfo: RFC 9110 section 7.2 */
		}
	}
	return true;
}

/* Content-Length = 1*DIGIT; the value saturates (anything that large is 413). */
static bool parse_length(const char *s, size_t n, uint64_t *ret)
{
	if (n == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v > UINT64_MAX / 16 ? UINT64_MAX / 16 : v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* Connection = #connection-option; empty list elements are allowed. */
static bool parse_connection(struct http_parser *p, const char *s, size_t n)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && is_ows((uint8_t)s[a]))
			a++;
		while (b > a && is_ows((uint8_t)s[b - 1]))
			b--;
		for (size_t k = a; k < b; k++)
			if (!is_tchar((uint8_t)s[k]))
				return false;
		if (eq_nocase(s + a, b - a, "close"))
			p->conn_close = true;
		else if (eq_nocase(s + a, b - a, "keep-alive"))
			p->conn_keep = true;
		i = j + 1;
	}
	return true;
}

/* field-line = field-name ":" OWS field-value OWS. Returns 0 or a status. */
static int parse_field(struct http_parser *p, const uint8_t *s, size_t n)
{
	if (is_ows(s[0]))
		return 400; /* obs-fold, or whitespace before the first field */
	if (p->req.header_count == HTTP_HEADERS_MAX)
		return 431;
	size_t nl = 0;
	while (nl < n && s[nl] != ':') {
		if (!is_tchar(s[nl]))
			return 400;
		nl++;
	}
	if (nl == 0 || nl == n)
		return 400;
	size_t a = nl + 1, b = n;
	while (a < b && is_ows(s[a]))
		a++;
	while (b > a && is_ows(s[b - 1]))
		b--;
	for (size_t i = a; i < b; i++)
		if (!is_field_byte(s[i]))
			return 400;

	const char *name = (const char *)s, *val = (const char *)s + a;
	size_t vl = b - a;
	if (eq_nocase(name, nl, "host")) {
		if (p->have_host || !valid_host(val, vl))
			return 400;
		p->have_host = true;
	} else if (eq_nocase(name, nl, "content-length")) {
		if (p->have_cl || !parse_length(val, vl, &p->content_length))
			return 400;
		p->have_cl = true;
	} else if (eq_nocase(name, nl, "transfer-encoding")) {
		if (p->have_te)
			return 400;
		p->have_te = true;
	} else if (eq_nocase(name, nl, "connection")) {
		if (!parse_connection(p, val, vl))
			return 400;
	} else if (eq_nocase(name, nl, "expect")) {
		if (!eq_nocase(val, vl, "100-continue"))
			return 417;
		/* An HTTP/1.0 client cannot expect 100 (RFC 9110 section 10.1.1). */
		if (p->req.minor == 1)
			p->req.expect_continue = true;
	}
	struct http_header *h = &p->headers[p->req.header_count++];
	h->name = name;
	h->name_len = nl;
	h->value = val;
	h->value_len = vl;
	return 0;
}

/* The head is complete: framing and the route decide what comes next. */
static enum http_result end_of_head(struct http_parser *p)
{
	struct http_request *r = &p->req;
	r->headers = p->headers;
	if (r->minor == 1 && !p->have_host)
		return fail(p, 400);
	if (p->have_te)
		return fail(p, p->have_cl ? 400 : 501);
	if (!p->have_cl &&
	    (r->method == HTTP_POST || r->method == HTTP_PUT || r->method == HTTP_PATCH))
		return fail(p, 411);
	r->has_length = p->have_cl;
	r->keep_alive = r->minor == 1 ? !p->conn_close : (p->conn_keep && !p->conn_close);
	r->body = p->buf + p->head_len;

	size_t limit = p->body_max;
	if (p->route) {
		size_t want = p->body_max;
		int st = p->route(p->route_ctx, r, &want);
		if (st != 0) {
			if (st < 400 || st > 599)
				fatalx("http route answered status %d", st);
			if (p->content_length == 0 && r->keep_alive) {
				/* Nothing follows the head: the connection stays in step. */
				p->consumed = p->head_len;
				p->state = HTTP_ST_DONE_;
				p->status = st;
				p->close = false;
				return HTTP_ERROR;
			}
			return fail(p, st);
		}
		if (want < limit)
			limit = want;
	}
	if (p->content_length > limit)
		return fail(p, 413);
	p->cur_body_max = limit;
	p->state = HTTP_ST_BODY_;
	return HTTP_NEED_MORE;
}

enum http_result http_next(struct http_parser *p, struct http_request *ret_req)
{
	if (p->state == HTTP_ST_DEAD_)
		return HTTP_ERROR;
	if (p->state == HTTP_ST_DONE_)
		next_request(p);

	for (;;) {
		size_t lf = 0;
		int found;
		switch (p->state) {
		case HTTP_ST_LINE_:
			found = find_line(p, HTTP_REQUEST_LINE_MAX + 2, &lf);
			if (found < 0)
				return fail(p, overlong_line_status(p->buf + p->pos, HTTP_REQUEST_LINE_MAX + 2));
			if (found == 0)
				return HTTP_NEED_MORE;
			if (lf == p->pos || p->buf[lf - 1] != '\r')
				return fail(p, 400); /* a bare LF */
			if (lf - 1 == p->pos) {
				if (++p->empty_lines > HTTP_LEADING_EMPTY_MAX)
					return fail(p, 400);
			} else {
				int st = parse_request_line(p, p->buf + p->pos, lf - 1 - p->pos);
				if (st)
					return fail(p, st);
				p->state = HTTP_ST_FIELDS_;
			}
			p->pos = p->scan = lf + 1;
			break;

		case HTTP_ST_FIELDS_: {
			size_t window = HTTP_HEADER_BLOCK_MAX - p->block_used;
			if (window > HTTP_FIELD_MAX + 2)
				window = HTTP_FIELD_MAX + 2;
			found = find_line(p, window, &lf);
			if (found < 0)
				return fail(p, 431);
			if (found == 0)
				return HTTP_NEED_MORE;
			if (lf == p->pos || p->buf[lf - 1] != '\r')
				return fail(p, 400);
			p->block_used += lf + 1 - p->pos;
			if (lf - 1 == p->pos) {
				p->pos = p->scan = p->head_len = lf + 1;
				enum http_result r = end_of_head(p);
				if (r != HTTP_NEED_MORE)
					return r;
				break;
			}
			int st = parse_field(p, p->buf + p->pos, lf - 1 - p->pos);
			if (st)
				return fail(p, st);
			p->pos = p->scan = lf + 1;
			break;
		}

		case HTTP_ST_BODY_:
			if (p->len - p->head_len < p->content_length)
				return HTTP_NEED_MORE;
			p->req.body_len = (size_t)p->content_length;
			p->consumed = p->head_len + p->req.body_len;
			p->state = HTTP_ST_DONE_;
			*ret_req = p->req;
			return HTTP_REQUEST;

		default:
			fatalx("http parser in state %d", (int)p->state);
		}
	}
}

const struct http_header *http_header_get(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->header_count; i++)
		if (eq_nocase(req->headers[i].name, req->headers[i].name_len, name))
			return &req->headers[i];
	return NULL;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

static void resp_put(struct http_resp *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void resp_puts(struct http_resp *w, const char *s)
{
	resp_put(w, s, strlen(s));
}

void http_resp_start(struct http_resp *w, void *buf, size_t cap, int status)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->status = status;
	w->err = 0;
	if (status < 100 || status > 599) {
		w->err = -EINVAL;
		return;
	}
	char line[32];
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	resp_puts(w, line);
	resp_puts(w, http_reason(status));
	resp_puts(w, "\r\n");
}

int http_resp_header(struct http_resp *w, const char *name, const char *value)
{
	if (w->err)
		return w->err;
	size_t nl = strlen(name), vl = strlen(value);
	bool ok = nl > 0 && !eq_nocase(name, nl, "content-length") &&
	          !eq_nocase(name, nl, "connection") && !eq_nocase(name, nl, "date") &&
	          !eq_nocase(name, nl, "transfer-encoding");
	for (size_t i = 0; ok && i < nl; i++)
		ok = is_tchar((uint8_t)name[i]);
	for (size_t i = 0; ok && i < vl; i++)
		ok = is_field_byte((uint8_t)value[i]);
	if (ok && vl && (is_ows((uint8_t)value[0]) || is_ows((uint8_t)value[vl - 1])))
		ok = false;
	if (!ok) {
		w->err = -EINVAL;
		return w->err;
	}
	resp_put(w, name, nl);
	resp_put(w, ": ", 2);
	resp_put(w, value, vl);
	resp_put(w, "\r\n", 2);
	return w->err;
}

int http_resp_date(struct http_resp *w, time_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (w->err)
		return w->err;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		w->err = -EINVAL;
		return w->err;
	}
	char line[128];
	snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
	         days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
	resp_puts(w, line);
	return w->err;
}

int http_resp_end(struct http_resp *w, size_t body_len, bool keep_alive, unsigned client_minor,
                  size_t *ret_len)
{
	if (w->err)
		return w->err;
	bool no_body = w->status < 200 || w->status == 204 || w->status == 304;
	if (no_body) {
		if (body_len) {
			w->err = -EINVAL;
			return w->err;
		}
	} else {
		char line[48];
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_len);
		resp_puts(w, line);
	}
	if (!keep_alive)
		resp_puts(w, "Connection: close\r\n");
	else if (client_minor == 0)
		resp_puts(w, "Connection: keep-alive\r\n");
	resp_puts(w, "\r\n");
	if (w->err)
		return w->err;
	*ret_len = w->len;
	return 0;
}
