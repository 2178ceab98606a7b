/* https.c: the client's blocking HTTPS transport (docs/PROTOCOL.md section 14
 * for what travels; section 15.7 for this client's policy). wolfSSL runs over
 * our own socket callbacks so every wait has a timeout and a closed or silent
 * server is told apart from a TLS failure. */
#include <wolfssl/options.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "client/https.h"

/* The same AEAD-only suites as the server's policy (section 13). */
static const char https_ciphers[] =
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

#define HTTPS_HOST_MAX 253
#define HTTPS_RBUF (HTTPS_HEAD_MAX + 4096)

struct https_conn {
	char host[HTTPS_HOST_MAX + 1];
	char hostport[HTTPS_HOST_MAX + 16]; /* for messages: host:port or [v6]:port */
	char hosthdr[HTTPS_HOST_MAX + 16];  /* the Host field */
	uint16_t port;
	bool host_is_ip;
	char *ca;
	unsigned timeout_ms;

	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	int fd;
	unsigned connects;
	unsigned used; /* answers read on the current connection */

	enum https_error err;
	char msg[HTTPS_MSG_MAX];
	bool stale;

	bool io_timeout, io_eof;
	int io_errno;

	char rbuf[HTTPS_RBUF];
	size_t rlen;
};

static bool wolf_ready;

static void set_err(struct https_conn *c, enum https_error e, const char *fmt, ...) PRINTF(3, 4);
static void set_err(struct https_conn *c, enum https_error e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->err = e;
}

struct https_conn *https_new(const struct https_opts *o)
{
	if (!o->host || !*o->host || strlen(o->host) > HTTPS_HOST_MAX || o->port == 0)
		return NULL;
	if (!wolf_ready) {
		if (wolfSSL_Init() != WOLFSSL_SUCCESS)
			return NULL;
		wolf_ready = true;
	}
	struct https_conn *c = xcalloc(1, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", o->host);
	c->port = o->port;
	bool v6 = strchr(o->host, ':') != NULL;
	struct in6_addr a6;
	c->host_is_ip = v6 || inet_pton(AF_INET, o->host, &a6) == 1;
	snprintf(c->hostport, sizeof(c->hostport), v6 ? "[%s]:%u" : "%s:%u", o->host,
	         (unsigned)o->port);
	if (o->port == 443)
		snprintf(c->hosthdr, sizeof(c->hosthdr), v6 ? "[%s]" : "%s", o->host);
	else
		snprintf(c->hosthdr, sizeof(c->hosthdr), "%s", c->hostport);
	c->ca = xstrdup(o->ca_file && *o->ca_file ? o->ca_file : HTTPS_SYSTEM_CA);
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : HTTPS_TIMEOUT_DEFAULT_MS;
	c->fd = -1;
	return c;
}

static void drop(struct https_conn *c)
{
	if (c->ssl) {
		if (!c->io_eof && !c->io_timeout && c->fd >= 0) {
			/* One close_notify, without waiting for the peer's: the timeout
			 * still bounds the write. */
			(void)wolfSSL_shutdown(c->ssl);
		}
		wolfSSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->used = 0;
	c->rlen = 0;
}

void https_free(struct https_conn *c)
{
	if (!c)
		return;
	drop(c);
	if (c->ctx)
		wolfSSL_CTX_free(c->ctx);
	free(c->ca);
	free(c);
}

enum https_error https_error(const struct https_conn *c) { return c->err; }
const char *https_message(const struct https_conn *c) { return c->msg; }
bool https_stale(const struct https_conn *c) { return c->stale; }
unsigned https_connections(const struct https_conn *c) { return c->connects; }

void https_resp_free(struct https_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ---- socket waits ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, unsigned timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	for (;;) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		return 1;
	}
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct https_conn *c = arg;
	for (;;) {
		ssize_t r = recv(c->fd, buf, (size_t)sz, 0);
		if (r > 0)
			return (int)r;
		if (r == 0) {
			c->io_eof = true;
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(c->fd, POLLIN, c->timeout_ms);
			if (w == 0) {
				c->io_timeout = true;
				return WOLFSSL_CBIO_ERR_GENERAL;
			}
			if (w < 0) {
				c->io_errno = errno;
				return WOLFSSL_CBIO_ERR_GENERAL;
			}
			continue;
		}
		c->io_errno = errno;
		if (errno == ECONNRESET) {
			c->io_eof = true;
			return WOLFSSL_CBIO_ERR_CONN_RST;
		}
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct https_conn *c = arg;
	for (;;) {
		ssize_t r = send(c->fd, buf, (size_t)sz, MSG_NOSIGNAL);
		if (r >= 0)
			return (int)r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(c->fd, POLLOUT, c->timeout_ms);
			if (w == 0) {
				c->io_timeout = true;
				return WOLFSSL_CBIO_ERR_GENERAL;
			}
			if (w < 0) {
				c->io_errno = errno;
				return WOLFSSL_CBIO_ERR_GENERAL;
			}
			continue;
		}
		c->io_errno = errno;
		if (errno == EPIPE || errno == ECONNRESET) {
			c->io_eof = true;
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

/* The message for a failure the I/O flags explain; false if they do not. */
static bool io_failure(struct https_conn *c)
{
	if (c->io_timeout) {
		set_err(c, HTTPS_E_TIMEOUT, "server down at %s (no answer within %u s)", c->hostport,
		        (c->timeout_ms + 999) / 1000);
		return true;
	}
	if (c->io_eof) {
		set_err(c, HTTPS_E_CLOSED, "server down at %s (it closed the connection)",
		        c->hostport);
		return true;
	}
	if (c->io_errno) {
		set_err(c, HTTPS_E_CLOSED, "server down at %s (%s)", c->hostport,
		        strerror(c->io_errno));
		return true;
	}
	return false;
}

/* ---- connecting ---- */

static int tcp_connect(struct https_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)c->port);
	int g = getaddrinfo(c->host, port, &hints, &res);
	if (g != 0) {
		set_err(c, HTTPS_E_RESOLVE, "cannot find the server %s: %s", c->host,
		        g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -1;
	}
	int last = 0;
	bool refused = false, timed_out = false;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int e = 0;
		/* The head and the body go in separate TLS records: without this, Nagle
		 * holds the body until the server's delayed ACK (about 40 ms a request). */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			e = errno;
			if (e == EINPROGRESS) {
				int w = wait_fd(fd, POLLOUT, c->timeout_ms);
				socklen_t sl = sizeof(e);
				if (w == 0)
					e = ETIMEDOUT;
				else if (w < 0)
					e = errno;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
					e = errno;
			}
		}
		if (e == 0) {
			freeaddrinfo(res);
			c->fd = fd;
			c->connects++;
			return 0;
		}
		close(fd);
		last = e;
		refused |= e == ECONNREFUSED;
		timed_out |= e == ETIMEDOUT;
	}
	freeaddrinfo(res);
	if (refused)
		set_err(c, HTTPS_E_REFUSED, "server down at %s (connection refused)", c->hostport);
	else if (timed_out)
		set_err(c, HTTPS_E_TIMEOUT, "server down at %s (no answer within %u s)", c->hostport,
		        (c->timeout_ms + 999) / 1000);
	else
		set_err(c, HTTPS_E_CONNECT, "cannot reach the server at %s: %s", c->hostport,
		        strerror(last ? last : EHOSTUNREACH));
	return -1;
}

static int ctx_setup(struct https_conn *c)
{
	if (c->ctx)
		return 0;
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!ctx) {
		set_err(c, HTTPS_E_TLS, "cannot set up TLS");
		return -1;
	}
	if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(ctx, https_ciphers) != WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(ctx);
		set_err(c, HTTPS_E_TLS, "cannot set the TLS policy in this wolfSSL build");
		return -1;
	}
	if (wolfSSL_CTX_load_verify_locations(ctx, c->ca, NULL) != WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(ctx);
		set_err(c, HTTPS_E_CA, "cannot load CA certificates from %s", c->ca);
		return -1;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	c->ctx = ctx;
	return 0;
}

static void tls_failure(struct https_conn *c, int code)
{
	char why[WOLFSSL_MAX_ERROR_SZ];
	switch (code) {
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
		set_err(c, HTTPS_E_NAME, "the certificate of %s is not for %s", c->hostport, c->host);
		return;
	case ASN_NO_SIGNER_E:
	case ASN_SELF_SIGNED_E:
		set_err(c, HTTPS_E_CERT,
		        "the certificate of %s is not signed by a trusted CA (CA file %s)", c->hostport,
		        c->ca);
		return;
	case ASN_AFTER_DATE_E:
		set_err(c, HTTPS_E_CERT, "the certificate of %s has expired (or your clock is wrong)",
		        c->hostport);
		return;
	case ASN_BEFORE_DATE_E:
		set_err(c, HTTPS_E_CERT,
		        "the certificate of %s is not yet valid (or your clock is wrong)", c->hostport);
		return;
	case ASN_SIG_CONFIRM_E:
	case VERIFY_CERT_ERROR:
		set_err(c, HTTPS_E_CERT, "the certificate of %s does not verify", c->hostport);
		return;
	default:
		break;
	}
	if (io_failure(c))
		return;
	wolfSSL_ERR_error_string_n((unsigned long)(code < 0 ? -code : code), why, sizeof(why));
	set_err(c, HTTPS_E_TLS, "TLS with %s failed: %s (%d)", c->hostport, why, code);
}

static int tls_connect(struct https_conn *c)
{
	if (ctx_setup(c) != 0)
		return -1;
	WOLFSSL *ssl = wolfSSL_new(c->ctx);
	if (!ssl) {
		set_err(c, HTTPS_E_TLS, "cannot set up TLS");
		return -1;
	}
	c->ssl = ssl;
	wolfSSL_SSLSetIORecv(ssl, io_recv);
	wolfSSL_SSLSetIOSend(ssl, io_send);
	wolfSSL_SetIOReadCtx(ssl, c);
	wolfSSL_SetIOWriteCtx(ssl, c);
	int ok;
	if (c->host_is_ip) {
		/* No SNI for an address (RFC 6066); the certificate must name it. */
		WOLFSSL_X509_VERIFY_PARAM *param = wolfSSL_get0_param(ssl);
		ok = param && wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(param, c->host) == WOLFSSL_SUCCESS;
	} else {
		ok = wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, c->host, (unsigned short)strlen(c->host)) ==
		         WOLFSSL_SUCCESS &&
		     wolfSSL_check_domain_name(ssl, c->host) == WOLFSSL_SUCCESS;
	}
	if (!ok) {
		set_err(c, HTTPS_E_TLS, "cannot set the expected server name");
		return -1;
	}
	int r = wolfSSL_connect(ssl);
	if (r != WOLFSSL_SUCCESS) {
		tls_failure(c, wolfSSL_get_error(ssl, r));
		return -1;
	}
	return 0;
}

static int ensure_connected(struct https_conn *c)
{
	if (c->ssl) {
		/* An idle connection with something to read has been closed (or
		 * spoken out of turn) by the server: start afresh. */
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (wolfSSL_pending(c->ssl) > 0 || c->rlen > 0 || poll(&p, 1, 0) != 0)
			drop(c);
		else
			return 0;
	}
	c->io_eof = c->io_timeout = false;
	c->io_errno = 0;
	if (tcp_connect(c) != 0)
		return -1;
	if (tls_connect(c) != 0) {
		drop(c);
		return -1;
	}
	return 0;
}

/* ---- one exchange ---- */

static int ssl_write_all(struct https_conn *c, const uint8_t *p, size_t n,
                         const struct https_progress *pr, uint64_t total, uint64_t *done)
{
	while (n) {
		int chunk = n > HTTPS_CHUNK ? HTTPS_CHUNK : (int)n;
		int w = wolfSSL_write(c->ssl, p, chunk);
		if (w <= 0) {
			if (!io_failure(c))
				tls_failure(c, wolfSSL_get_error(c->ssl, w));
			return -1;
		}
		p += w;
		n -= (size_t)w;
		if (done) {
			*done += (uint64_t)w;
			if (pr && pr->fn)
				pr->fn(pr->arg, *done, total);
		}
	}
	return 0;
}

/* Reads at most n bytes; 0 on success with *got > 0, -1 on failure. */
static int ssl_read_some(struct https_conn *c, void *p, size_t n, size_t *got)
{
	int r = wolfSSL_read(c->ssl, p, n > HTTPS_CHUNK ? HTTPS_CHUNK : (int)n);
	if (r > 0) {
		*got = (size_t)r;
		return 0;
	}
	int e = wolfSSL_get_error(c->ssl, r);
	if (e == WOLFSSL_ERROR_ZERO_RETURN)
		c->io_eof = true;
	if (!io_failure(c))
		tls_failure(c, e);
	return -1;
}

static int find_head_end(const char *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
			return (int)(i + 1);
	return -1;
}

static int exchange(struct https_conn *c, const char *path, const uint8_t *body, size_t len,
                    struct https_resp *ret, const struct https_progress *up,
                    const struct https_progress *down, bool *got_any)
{
	char head[HTTPS_PATH_MAX + HTTPS_HOST_MAX + 256];
	int hn = snprintf(head, sizeof(head),
	                  "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: allears\r\n"
	                  "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
	                  path, c->hosthdr, len);
	uint64_t done = 0;
	if (ssl_write_all(c, (const uint8_t *)head, (size_t)hn, NULL, 0, NULL) != 0 ||
	    ssl_write_all(c, body, len, up, len, &done) != 0)
		return -1;

	struct https_head h;
	int hl;
	for (;;) {
		while ((hl = find_head_end(c->rbuf, c->rlen)) < 0) {
			if (c->rlen >= HTTPS_HEAD_MAX) {
				set_err(c, HTTPS_E_PROTO, "%s sent an overlong HTTP answer head",
				        c->hostport);
				return -1;
			}
			size_t got;
			if (ssl_read_some(c, c->rbuf + c->rlen, HTTPS_HEAD_MAX - c->rlen, &got) != 0)
				return -1;
			c->rlen += got;
			*got_any = true;
		}
		int rc = https_parse_head(&h, c->rbuf, (size_t)hl);
		if (rc == -EFBIG) {
			set_err(c, HTTPS_E_TOOBIG, "the answer from %s is too large", c->hostport);
			return -1;
		}
		if (rc != 0) {
			set_err(c, HTTPS_E_PROTO, "%s did not answer in acceptable HTTP (%s)",
			        c->hostport,
			        rc == -ENOTSUP ? "Transfer-Encoding is not supported" : "malformed head");
			return -1;
		}
		memmove(c->rbuf, c->rbuf + hl, c->rlen - (size_t)hl);
		c->rlen -= (size_t)hl;
		if (h.status >= 200)
			break;
		if (h.status != 100) {
			set_err(c, HTTPS_E_PROTO, "%s answered with status %d", c->hostport, h.status);
			return -1;
		}
	}
	if (!h.has_length) {
		if (h.status != 204 && h.status != 304) {
			set_err(c, HTTPS_E_PROTO, "%s answered without a Content-Length", c->hostport);
			return -1;
		}
		h.length = 0;
	}
	size_t blen = (size_t)h.length;
	uint8_t *b = blen ? xmalloc(blen) : NULL;
	size_t have = c->rlen < blen ? c->rlen : blen;
	if (have)
		memcpy(b, c->rbuf, have);
	if (c->rlen > blen)
		h.close = true; /* more than announced: never reuse this connection */
	c->rlen = 0;
	while (have < blen) {
		size_t got;
		if (ssl_read_some(c, b + have, blen - have, &got) != 0) {
			free(b);
			return -1;
		}
		have += got;
		if (down && down->fn)
			down->fn(down->arg, have, blen);
	}
	ret->status = h.status;
	ret->has_date = h.has_date;
	ret->date = h.date;
	ret->retry_after = h.retry_after;
	ret->body = b;
	ret->body_len = blen;
	c->used++;
	if (h.close)
		drop(c);
	return 0;
}

int https_post(struct https_conn *c, const char *path, const uint8_t *body, size_t len,
               struct https_resp *ret, const struct https_progress *up,
               const struct https_progress *down)
{
	c->err = HTTPS_OK;
	c->msg[0] = '\0';
	c->stale = false;
	size_t pl = strlen(path);
	if (pl == 0 || pl > HTTPS_PATH_MAX || path[0] != '/' || strpbrk(path, " \r\n\t")) {
		set_err(c, HTTPS_E_USAGE, "bad request path");
		return -1;
	}
	if (ensure_connected(c) != 0)
		return -1;
	bool reused = c->used > 0, got_any = false;
	c->io_eof = c->io_timeout = false;
	c->io_errno = 0;
	if (exchange(c, path, body, len, ret, up, down, &got_any) != 0) {
		c->stale = reused && !got_any && c->err == HTTPS_E_CLOSED;
		drop(c);
		return -1;
	}
	return 0;
}

/* ---- response head ---- */

static bool tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* HTAB, SP, visible ASCII and obs-text; no other control character. */
static bool vchar_or_ws(unsigned char ch) { return ch == '\t' || (ch >= 0x20 && ch != 0x7F); }

static bool name_is(const char *p, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(p, want, n) == 0;
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int digits(const char *p, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int https_parse_date(const char *p, size_t n, int64_t *ret)
{
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (n != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
	    p[19] != ':' || p[22] != ':' || p[25] != ' ' || memcmp(p + 26, "GMT", 3) != 0)
		return -EINVAL;
	bool wd = false;
	for (size_t i = 0; i < ARRAY_SIZE(wdays); i++)
		wd |= memcmp(p, wdays[i], 3) == 0;
	unsigned mon = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(months); i++)
		if (memcmp(p + 8, months[i], 3) == 0)
			mon = i + 1;
	int day = digits(p + 5, 2), year = digits(p + 12, 4), hh = digits(p + 17, 2),
	    mm = digits(p + 20, 2), ss = digits(p + 23, 2);
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (!wd || !mon || day < 1 || year < 1970 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
	    ss < 0 || ss > 60 || day > mdays[mon - 1])
		return -EINVAL;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (mon == 2 && day == 29 && !leap)
		return -EINVAL;
	*ret = days_from_civil(year, mon, (unsigned)day) * 86400 + hh * 3600 + mm * 60 +
	       (ss == 60 ? 59 : ss);
	return 0;
}

int https_parse_head(struct https_head *ret, const char *p, size_t len)
{
	if (len > HTTPS_HEAD_MAX)
		return -E2BIG;
	if (len < 4 || memcmp(p + len - 4, "\r\n\r\n", 4) != 0)
		return -EBADMSG;
	/* Every CR is followed by LF and every LF preceded by CR. */
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return -EBADMSG;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return -EBADMSG;
	}
	struct https_head h = { 0 };
	const char *line = p, *end = p + len;
	const char *eol = memchr(line, '\r', (size_t)(end - line));
	size_t n = (size_t)(eol - line);
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ')
		return -EBADMSG;
	h.minor = line[7] - '0';
	int st = digits(line + 9, 3);
	if (st < 100 || st > 599 || (n > 12 && line[12] != ' '))
		return -EBADMSG;
	for (size_t i = 13; i < n; i++)
		if (!vchar_or_ws((unsigned char)line[i]))
			return -EBADMSG;
	h.status = st;
	bool keep_alive = false, seen_date = false;
	unsigned lines = 0;
	for (line = eol + 2; line < end - 2; line = eol + 2) {
		eol = memchr(line, '\r', (size_t)(end - line));
		n = (size_t)(eol - line);
		if (++lines > HTTPS_HEADER_LINES_MAX)
			return -E2BIG;
		const char *colon = memchr(line, ':', n);
		if (!colon || colon == line)
			return -EBADMSG; /* also rejects obs-fold, which starts with SP/HTAB */
		size_t nl = (size_t)(colon - line);
		for (size_t i = 0; i < nl; i++)
			if (!tchar((unsigned char)line[i]))
				return -EBADMSG;
		const char *v = colon + 1, *ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if (!vchar_or_ws((unsigned char)*q))
				return -EBADMSG;
		size_t vn = (size_t)(ve - v);
		if (name_is(line, nl, "content-length")) {
			if (h.has_length || vn == 0)
				return -EBADMSG;
			uint64_t x = 0;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -EBADMSG;
				if (x > HTTPS_BODY_MAX)
					continue; /* saturated: keep checking the syntax */
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			if (x > HTTPS_BODY_MAX)
				return -EFBIG;
			h.has_length = true;
			h.length = x;
		} else if (name_is(line, nl, "transfer-encoding")) {
			return -ENOTSUP;
		} else if (name_is(line, nl, "connection")) {
			const char *q = v;
			while (q < ve) {
				const char *comma = memchr(q, ',', (size_t)(ve - q));
				const char *te = comma ? comma : ve, *ts = q;
				while (ts < te && (*ts == ' ' || *ts == '\t'))
					ts++;
				while (te > ts && (te[-1] == ' ' || te[-1] == '\t'))
					te--;
				if (name_is(ts, (size_t)(te - ts), "close"))
					h.close = true;
				else if (name_is(ts, (size_t)(te - ts), "keep-alive"))
					keep_alive = true;
				q = comma ? comma + 1 : ve;
			}
		} else if (name_is(line, nl, "date") && !seen_date) {
			seen_date = true;
			int64_t d;
			if (https_parse_date(v, vn, &d) == 0) {
				h.has_date = true;
				h.date = d;
			}
		} else if (name_is(line, nl, "retry-after")) {
			int r = vn >= 1 && vn <= 6 ? digits(v, vn) : -1;
			if (r >= 0)
				h.retry_after = (unsigned)r;
		}
	}
	if (h.minor == 0 && !keep_alive)
		h.close = true;
	*ret = h;
	return 0;
}
