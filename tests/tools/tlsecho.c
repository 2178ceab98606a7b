/* tlsecho.c: a small TLS server on loopback built from ipc/tls.h, common/http.h
 * and the event loop, for tests/integration/test_tls_http.py to drive with real
 * clients (openssl s_client, Python's ssl and smtplib, curl).
 *   tlsecho echo|http|smtp CHAIN.pem KEY.pem [--port N] [--handshake-ms N] [--alpn P]
 * echo: echoes every byte back over TLS.
 * http: HTTPS; GET/HEAD / answer 200 with a fixed body, POST /echo (up to
 *       ECHO_BODY_MAX bytes) answers the body back, other paths 404, other
 *       methods on those paths 405; keep-alive and pipelining as http.h allows.
 * smtp: a plaintext SMTP-like greeting with STARTTLS (EHLO, STARTTLS, NOOP,
 *       QUIT), then the same commands over TLS.
 * Prints "PORT n" once listening, then one line per connection event:
 * "TLS version=0304 cipher=1301" after a handshake, "TLSFAIL class=..." for a
 * failed one, "TIMEOUT" when the handshake timer fired, "PLAINTEXT-REFUSED" for
 * STARTTLS with pipelined plaintext. Stops on SIGTERM/SIGINT. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "ipc/loop.h"
#include "ipc/tls.h"

#define MAX_CONNS 256
#define ECHO_BODY_MAX 4096
#define OUT_CAP (64 * 1024)
#define OUT_LOW (16 * 1024) /* stop answering pipelined requests above this much output */
#define LINE_MAX_SMTP 512
#define IDLE_MS 30000

static const char http_body[] = "hello from allears\n";

enum mode { MODE_ECHO, MODE_HTTP, MODE_SMTP };

struct conn {
	struct conn *next, *prev;
	int fd;
	struct tls_conn *tls; /* NULL while plaintext (smtp before STARTTLS) */
	struct loop_timer *timer;
	uint32_t events;
	bool closing;        /* close once the output is sent */
	bool starttls_next;  /* switch to TLS once the output is sent */
	struct http_parser hp;
	uint8_t *hbuf;
	uint8_t in[LINE_MAX_SMTP + 2];
	size_t in_len;
	uint8_t out[OUT_CAP];
	size_t out_len;
};

static struct {
	enum mode mode;
	struct loop *loop;
	struct tls_ctx *tls;
	int lfd;
	uint64_t handshake_ms;
	struct conn *conns;
	int nconns;
} srv;

static void say(const char *fmt, ...) PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void conn_close(struct conn *c)
{
	if (c->tls && tls_conn_established(c->tls))
		tls_conn_shutdown(c->tls); /* best effort: one try, never waits */
	loop_del_fd(srv.loop, c->fd);
	loop_timer_del(srv.loop, c->timer);
	tls_conn_free(c->tls);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv.nconns--;
	if (c->hbuf) {
		sodium_memzero(c->hbuf, HTTP_BUFFER_SIZE(ECHO_BODY_MAX));
		free(c->hbuf);
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
}

static void queue(struct conn *c, const void *p, size_t n)
{
	if (n > sizeof(c->out) - c->out_len) {
		c->closing = true;
		return;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void queue_str(struct conn *c, const char *s)
{
	queue(c, s, strlen(s));
}

/* ---- http ---- */

static int http_route(void *ctx, const struct http_request *req, size_t *body_max)
{
	struct conn *c = ctx;
	bool root = req->path_len == 1;
	bool echo = req->path_len == 5 && memcmp(req->path, "/echo", 5) == 0;
	if (!root && !echo)
		return 404;
	if (root && req->method != HTTP_GET && req->method != HTTP_HEAD)
		return 405;
	if (echo && req->method != HTTP_POST)
		return 405;
	if (root)
		*body_max = 0;
	if (req->expect_continue)
		queue_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

static void http_answer(struct conn *c, int status, bool keep_alive, unsigned minor,
                        const void *body, size_t body_len, bool send_body)
{
	char head[512];
	struct http_resp w;
	size_t len;
	http_resp_start(&w, head, sizeof(head), status);
	(void)http_resp_header(&w, "Server", "tlsecho");
	if (status == 405)
		(void)http_resp_header(&w, "Allow", "GET, HEAD, POST");
	if (body_len)
		(void)http_resp_header(&w, "Content-Type", "text/plain; charset=utf-8");
	(void)http_resp_date(&w, time(NULL));
	if (http_resp_end(&w, body_len, keep_alive, minor, &len) != 0) {
		c->closing = true;
		return;
	}
	queue(c, head, len);
	if (send_body && body_len)
		queue(c, body, body_len);
	if (!keep_alive)
		c->closing = true;
}

/* Answers parsed requests while there is room; false when more input is needed. */
static bool http_produce(struct conn *c)
{
	while (!c->closing && c->out_len < OUT_LOW) {
		struct http_request req;
		enum http_result r = http_next(&c->hp, &req);
		if (r == HTTP_NEED_MORE)
			return false;
		if (r == HTTP_ERROR) {
			bool close_it = http_parser_must_close(&c->hp);
			http_answer(c, http_parser_status(&c->hp), !close_it, http_parser_minor(&c->hp), NULL,
			            0, false);
			continue;
		}
		if (req.path_len == 1)
			http_answer(c, 200, req.keep_alive, req.minor, http_body, sizeof(http_body) - 1,
			            req.method == HTTP_GET);
		else
			http_answer(c, 200, req.keep_alive, req.minor, req.body, req.body_len, true);
	}
	return true;
}

/* ---- smtp ---- */

static void smtp_line(struct conn *c, const char *line, size_t n)
{
	char verb[16];
	size_t v = 0;
	while (v < n && v < sizeof(verb) - 1 && line[v] != ' ') {
		verb[v] = (char)(line[v] >= 'a' && line[v] <= 'z' ? line[v] - 32 : line[v]);
		v++;
	}
	verb[v] = 0;
	if (!strcmp(verb, "EHLO") || !strcmp(verb, "HELO")) {
		queue_str(c, c->tls ? "250-tlsecho\r\n250 8BITMIME\r\n"
		                    : "250-tlsecho\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	} else if (!strcmp(verb, "STARTTLS") && !c->tls) {
		if (c->in_len) {
			/* Bytes after STARTTLS were sent in plaintext: never carry them over. */
			say("PLAINTEXT-REFUSED");
			queue_str(c, "554 5.5.1 Commands pipelined after STARTTLS\r\n");
			c->closing = true;
			return;
		}
		queue_str(c, "220 2.0.0 Ready to start TLS\r\n");
		c->starttls_next = true;
	} else if (!strcmp(verb, "NOOP")) {
		queue_str(c, "250 2.0.0 Ok\r\n");
	} else if (!strcmp(verb, "QUIT")) {
		queue_str(c, "221 2.0.0 Bye\r\n");
		c->closing = true;
	} else {
		queue_str(c, "502 5.5.2 Command not recognized\r\n");
	}
}

/* Answers the complete lines in c->in. */
static void smtp_produce(struct conn *c)
{
	while (!c->closing && !c->starttls_next) {
		uint8_t *lf = memchr(c->in, '\n', c->in_len);
		if (!lf) {
			if (c->in_len >= LINE_MAX_SMTP) {
				queue_str(c, "500 5.5.2 Line too long\r\n");
				c->closing = true;
			}
			return;
		}
		size_t n = (size_t)(lf - c->in);
		size_t len = n && c->in[n - 1] == '\r' ? n - 1 : n;
		char line[LINE_MAX_SMTP + 2];
		memcpy(line, c->in, len);
		memmove(c->in, lf + 1, c->in_len - n - 1);
		c->in_len -= n + 1;
		smtp_line(c, line, len);
	}
}

/* ---- transport ---- */

static void set_events(struct conn *c, uint32_t ev)
{
	if (ev != c->events && loop_mod_fd(srv.loop, c->fd, ev) == 0)
		c->events = ev;
}

static ssize_t conn_read(struct conn *c, void *buf, size_t n)
{
	if (c->tls)
		return tls_conn_read(c->tls, buf, n);
	ssize_t r = recv(c->fd, buf, n, 0);
	return r < 0 ? -errno : r;
}

static ssize_t conn_write(struct conn *c, const void *buf, size_t n)
{
	if (c->tls)
		return tls_conn_write(c->tls, buf, n);
	ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
	return r < 0 ? -errno : r;
}

static uint32_t wait_events(const struct conn *c)
{
	return c->tls ? tls_conn_events(c->tls) : (c->out_len ? EPOLLOUT : EPOLLIN);
}

static void on_handshake_done(struct conn *c)
{
	say("TLS version=%04x cipher=%04x", tls_conn_version(c->tls), tls_conn_cipher(c->tls));
	loop_timer_rearm(c->timer, IDLE_MS);
}

/* Runs the connection until it has to wait; may free c. */
static void conn_run(struct conn *c)
{
	for (;;) {
		if (c->tls && !tls_conn_established(c->tls)) {
			int rc = tls_conn_handshake(c->tls);
			if (rc == -EAGAIN) {
				set_events(c, tls_conn_events(c->tls));
				return;
			}
			if (rc < 0) {
				say("TLSFAIL class=%s", tls_error_name(tls_conn_error(c->tls)));
				conn_close(c);
				return;
			}
			on_handshake_done(c);
		}
		if (c->out_len) {
			ssize_t w = conn_write(c, c->out, c->out_len);
			if (w == -EAGAIN || w == -EWOULDBLOCK) {
				set_events(c, c->tls ? tls_conn_events(c->tls) : EPOLLOUT);
				return;
			}
			if (w < 0) {
				conn_close(c);
				return;
			}
			/* TLS writes all or nothing; plaintext may be partial. */
			memmove(c->out, c->out + w, c->out_len - (size_t)w);
			c->out_len -= (size_t)w;
			continue;
		}
		if (c->closing) {
			conn_close(c);
			return;
		}
		if (c->starttls_next) {
			c->starttls_next = false;
			int rc = tls_conn_starttls(srv.tls, c->fd, c->in_len, &c->tls);
			if (rc < 0) {
				say("PLAINTEXT-REFUSED");
				conn_close(c);
				return;
			}
			loop_timer_rearm(c->timer, srv.handshake_ms);
			continue;
		}
		if (srv.mode == MODE_HTTP && http_produce(c))
			continue; /* answered some; send them before reading more */
		if (c->out_len)
			continue;

		uint8_t *dst;
		size_t room;
		if (srv.mode == MODE_HTTP) {
			dst = http_parser_space(&c->hp, &room);
		} else if (srv.mode == MODE_SMTP) {
			dst = c->in + c->in_len;
			room = sizeof(c->in) - c->in_len;
		} else {
			dst = c->out;
			room = sizeof(c->out);
		}
		ssize_t n = conn_read(c, dst, room);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			set_events(c, wait_events(c));
			return;
		}
		if (n <= 0) {
			if (n < 0 && c->tls && tls_conn_error(c->tls) != TLS_ERR_CLOSED)
				say("TLSFAIL class=%s", tls_error_name(tls_conn_error(c->tls)));
			conn_close(c);
			return;
		}
		if (srv.mode == MODE_HTTP) {
			http_parser_commit(&c->hp, (size_t)n);
		} else if (srv.mode == MODE_SMTP) {
			c->in_len += (size_t)n;
			smtp_produce(c);
		} else {
			c->out_len = (size_t)n;
		}
	}
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	conn_run(data);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct conn *c = data;
	if (c->tls && !tls_conn_established(c->tls))
		say("TIMEOUT");
	conn_close(c);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (srv.nconns >= MAX_CONNS) {
			close(fd);
			continue;
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		if (srv.mode != MODE_SMTP && tls_conn_new(srv.tls, fd, &c->tls) < 0) {
			close(fd);
			free(c);
			continue;
		}
		if (srv.mode == MODE_HTTP) {
			c->hbuf = xmalloc(HTTP_BUFFER_SIZE(ECHO_BODY_MAX));
			http_parser_init(&c->hp, c->hbuf, HTTP_BUFFER_SIZE(ECHO_BODY_MAX), ECHO_BODY_MAX,
			                 http_route, c);
		}
		if (srv.mode == MODE_SMTP)
			queue_str(c, "220 tlsecho ESMTP\r\n");
		c->events = EPOLLIN;
		if (loop_add_fd(l, fd, c->events, on_conn, c) < 0) {
			tls_conn_free(c->tls);
			free(c->hbuf);
			close(fd);
			free(c);
			continue;
		}
		c->timer = loop_timer_add(l, c->tls ? srv.handshake_ms : IDLE_MS, false, on_timer, c);
		c->next = srv.conns;
		if (srv.conns)
			srv.conns->prev = c;
		srv.conns = c;
		srv.nconns++;
		conn_run(c);
	}
}

static void on_stop(struct loop *l, void *data)
{
	loop_del_fd(l, srv.lfd);
	while (srv.conns)
		conn_close(srv.conns);
}

/* Reads a PEM file into sodium_malloc'd memory of exactly its size (wiped by
 * sodium_free; a read past its end would hit the guard page). */
static uint8_t *read_pem(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("open %s", path);
	uint8_t *tmp = sodium_malloc(TLS_PEM_MAX + 1);
	if (!tmp)
		fatal("sodium_malloc");
	size_t n = fread(tmp, 1, TLS_PEM_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > TLS_PEM_MAX)
		fatalx("%s: empty or larger than %d bytes", path, TLS_PEM_MAX);
	uint8_t *p = sodium_malloc(n);
	if (!p)
		fatal("sodium_malloc");
	memcpy(p, tmp, n);
	sodium_free(tmp);
	*ret_len = n;
	return p;
}

static int usage(void)
{
	fprintf(stderr, "usage: tlsecho echo|http|smtp CHAIN.pem KEY.pem [--port N] "
	                "[--handshake-ms N] [--alpn PROTO]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (!strcmp(argv[1], "echo"))
		srv.mode = MODE_ECHO;
	else if (!strcmp(argv[1], "http"))
		srv.mode = MODE_HTTP;
	else if (!strcmp(argv[1], "smtp"))
		srv.mode = MODE_SMTP;
	else
		return usage();
	int port = 0;
	const char *alpn = srv.mode == MODE_HTTP ? "http/1.1" : NULL;
	srv.handshake_ms = 5000;
	for (int i = 4; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--handshake-ms"))
			srv.handshake_ms = (uint64_t)strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--alpn"))
			alpn = argv[++i];
		else
			return usage();
	}

	size_t clen, klen;
	uint8_t *chain = read_pem(argv[2], &clen);
	uint8_t *key = read_pem(argv[3], &klen);
	int rc = tls_ctx_new(chain, clen, key, klen, &srv.tls);
	sodium_free(chain);
	sodium_free(key);
	if (rc < 0) {
		fprintf(stderr, "tlsecho: certificate or key refused (%s)\n", strerror(-rc));
		return 1;
	}
	if (alpn && tls_ctx_set_alpn(srv.tls, alpn) < 0)
		return usage();

	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.lfd < 0)
		fatal("socket");
	int one = 1;
	setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv.lfd, 64) < 0)
		fatal("bind/listen");
	socklen_t sl = sizeof(sa);
	if (getsockname(srv.lfd, (struct sockaddr *)&sa, &sl) < 0)
		fatal("getsockname");

	srv.loop = loop_new();
	if (loop_setup_signals(srv.loop, on_stop, NULL) < 0)
		fatal("signals");
	if (loop_add_fd(srv.loop, srv.lfd, EPOLLIN, on_accept, NULL) < 0)
		fatal("loop_add_fd");
	say("PORT %d", ntohs(sa.sin_port));
	rc = loop_run(srv.loop);
	close(srv.lfd);
	loop_free(srv.loop);
	tls_ctx_free(srv.tls);
	return rc < 0 ? 1 : 0;
}
