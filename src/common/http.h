/* http.h: a strict, incremental HTTP/1.1 request parser (RFC 9112) and a small
 * response writer, for the daemons that answer HTTPS (API, Web). One parser per
 * connection works in a fixed buffer the caller provides: no allocation per
 * request. The accepted grammar, every limit and the status answered for each
 * violation: docs/PROTOCOL.md section 13. */
#ifndef ALLEARS_HTTP_H
#define ALLEARS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/util.h"

/* Limits on the request head. Exceeding one is answered with the status named. */
#define HTTP_LEADING_EMPTY_MAX 1  /* empty lines (CRLF) ignored before a request line; 400 beyond */
#define HTTP_REQUEST_LINE_MAX 2048 /* request line without its CRLF; 414 beyond (501/400, see doc) */
#define HTTP_FIELD_MAX 2048       /* one field line without its CRLF; 431 beyond */
#define HTTP_HEADERS_MAX 32       /* field lines in one request; 431 beyond */
#define HTTP_HEADER_BLOCK_MAX 8192 /* every field line with its CRLF, plus the final CRLF; 431 beyond */
/* The most buffer a request head can take. */
#define HTTP_HEAD_MAX (2 * HTTP_LEADING_EMPTY_MAX + HTTP_REQUEST_LINE_MAX + 2 + HTTP_HEADER_BLOCK_MAX)
/* The largest body limit a parser accepts (a caller's choice above it is a bug). */
#define HTTP_BODY_LIMIT_MAX (256u * 1024 * 1024)
/* The buffer a parser needs so that a head at every limit plus a body of
 * body_max bytes fit: after HTTP_NEED_MORE there is always room to read into. */
#define HTTP_BUFFER_SIZE(body_max) ((size_t)HTTP_HEAD_MAX + (size_t)(body_max))

/* Methods the parser knows; any other token is answered with 501. */
enum http_method {
	HTTP_GET = 1,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_PATCH,
};

/* A field line, pointing into the parser's buffer; the value has its leading
 * and trailing whitespace removed. Neither is NUL-terminated. */
struct http_header {
	const char *name;
	const char *value;
	size_t name_len;
	size_t value_len;
};

/* A complete request. Every pointer points into the parser's buffer and stays
 * valid until the next http_next() on the same parser. Strings are not
 * NUL-terminated. */
struct http_request {
	enum http_method method;
	unsigned minor;         /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
	const char *target;     /* the origin-form target as received (not decoded) */
	size_t target_len;
	const char *path;       /* target up to the first '?' (starts with '/') */
	size_t path_len;
	const char *query;      /* after the first '?', or NULL when there is none */
	size_t query_len;
	bool keep_alive;        /* the client lets the connection stay open */
	bool expect_continue;   /* HTTP/1.1 "Expect: 100-continue" was sent */
	bool has_length;        /* a Content-Length field was present */
	const uint8_t *body;    /* body_len bytes (never NULL) */
	size_t body_len;
	size_t header_count;
	const struct http_header *headers;
};

/* Called once per request when its head is complete and valid, before its body
 * is read. *body_max holds the parser's limit and may be lowered (a larger value
 * is ignored). Returns 0 to go on, or a status in 400..599 to refuse the request
 * (404, 405, ...). The request's body and body_len are not set yet. */
typedef int (*http_route_fn)(void *ctx, const struct http_request *req, size_t *body_max);

enum http_result {
	HTTP_NEED_MORE = 0, /* feed more bytes */
	HTTP_REQUEST = 1,   /* *ret_req holds a complete request */
	HTTP_ERROR = -1,    /* answer http_parser_status(); close if http_parser_must_close() */
};

enum http_state_ {
	HTTP_ST_LINE_,
	HTTP_ST_FIELDS_,
	HTTP_ST_BODY_,
	HTTP_ST_DONE_,
	HTTP_ST_DEAD_,
};

/* One per connection. Treat the fields as private. */
struct http_parser {
	uint8_t *buf;
	size_t cap;
	size_t len;      /* bytes buffered; the current request starts at buf[0] */
	size_t pos;      /* start of the line being parsed */
	size_t scan;     /* bytes before this offset hold no LF of the current line */
	size_t consumed; /* bytes of the finished request, dropped by the next http_next() */
	size_t body_max;
	size_t cur_body_max;
	size_t head_len;
	size_t block_used;
	uint64_t content_length;
	http_route_fn route;
	void *route_ctx;
	enum http_state_ state;
	int status;
	bool close;
	bool have_host, have_cl, have_te, conn_close, conn_keep;
	unsigned empty_lines;
	struct http_request req;
	struct http_header headers[HTTP_HEADERS_MAX];
};

/* Prepares p over buf[0..cap), which must be at least HTTP_BUFFER_SIZE(body_max)
 * bytes (a smaller one, or body_max above HTTP_BODY_LIMIT_MAX, is a bug: fatalx).
 * route may be NULL (every request is accepted with body_max). */
void http_parser_init(struct http_parser *p, uint8_t *buf, size_t cap, size_t body_max,
                      http_route_fn route, void *route_ctx);

/* Where to read the next bytes into, and how many fit (read(2) straight into
 * it, then http_parser_commit()). */
uint8_t *http_parser_space(struct http_parser *p, size_t *ret_avail);
void http_parser_commit(struct http_parser *p, size_t n);
/* Copies as much of data as fits; returns how many bytes were taken. */
size_t http_parser_feed(struct http_parser *p, const void *data, size_t len);

/* Parses what is buffered: the next complete request, or HTTP_NEED_MORE, or
 * HTTP_ERROR. Call it until HTTP_NEED_MORE after every feed (pipelined requests
 * come out one per call). After an error that must close, every later call
 * returns HTTP_ERROR again; after one that need not (a route refusal of a
 * request without a body), the next call goes on with the next request. */
enum http_result http_next(struct http_parser *p, struct http_request *ret_req) WUR;

/* The status to answer after HTTP_ERROR (400, 411, 413, 414, 417, 431, 501,
 * 505, or the route's), and whether the connection must close after it. */
int http_parser_status(const struct http_parser *p);
bool http_parser_must_close(const struct http_parser *p);
/* The HTTP minor version of the request an error answers (what to pass to
 * http_resp_end() when the connection stays open; 1 before a request line). */
unsigned http_parser_minor(const struct http_parser *p);
/* Bytes buffered beyond the last complete request (pipelined or partial). */
size_t http_parser_pending(const struct http_parser *p);

/* The first field named name (ASCII case-insensitive), or NULL. */
const struct http_header *http_header_get(const struct http_request *req, const char *name);
const char *http_method_name(enum http_method m);
/* "OK", "Not Found", ...; "" for a status without a known phrase. */
const char *http_reason(int status);

/* Response writer: status line and fields into a caller's buffer. The first
 * failure sticks and http_resp_end() returns it. Content-Length, Connection and
 * Date are written by the writer only; a caller's field named Content-Length,
 * Connection, Date or Transfer-Encoding is refused, as is a name that is not a
 * token or a value with a control character (CR, LF, NUL, ...) or with leading
 * or trailing whitespace. */
#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
struct http_resp {
	char *p;
	size_t cap;
	size_t len;
	int status;
	int err;
};

/* Starts "HTTP/1.1 <status> <reason>"; status outside 100..599 fails (-EINVAL). */
void http_resp_start(struct http_resp *w, void *buf, size_t cap, int status);
/* -EINVAL for a refused name or value, -ENOSPC when the buffer is full. */
int http_resp_header(struct http_resp *w, const char *name, const char *value);
/* Adds "Date: <IMF-fixdate>" for t (Unix seconds). */
int http_resp_date(struct http_resp *w, time_t t);
/* Adds Content-Length (except for 1xx, 204 and 304, which must have body_len 0),
 * "Connection: close" when !keep_alive, "Connection: keep-alive" when keep_alive
 * and the client spoke HTTP/1.0 (client_minor 0), and the empty line. A
 * response to HEAD gives the length the GET body would have and sends none.
 * Writes the header length to *ret_len; the body follows it on the wire. */
int http_resp_end(struct http_resp *w, size_t body_len, bool keep_alive, unsigned client_minor,
                  size_t *ret_len) WUR;

#endif
