/* conn.c: allears-web's HTTPS connections (see conn.h; docs/PROTOCOL.md
 * section 21.6). One state machine per connection, driven by conn_run():
 * handshake, read and parse, answer at once from site.c, write, again. Each
 * connection has one timer holding its current deadline. The same pattern as
 * the API's connections, without bodies and without waiting for other roles. */
#include "web/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NO_DEADLINE UINT64_MAX
/* Room for a head and, when it fits, the body after it (one TLS write). */
#define WEBCONN_OUT_MAX (WEBSITE_HEAD_MAX + WEBCONN_WRITE_CHUNK)

struct webconn {
	struct webconn *next, *prev;
	struct webconn_server *srv;
	int fd;
	struct tls_conn *tls;
	struct loop_timer *timer;
	uint64_t deadline;
	uint32_t events;
	bool watched;
	bool holds_loop;  /* loop_busy_inc() while a stopping server finishes our answer */
	bool in_request;  /* bytes of a request are buffered: its deadline runs */
	bool close_after; /* close once the output is written */
	enum http_method last_method; /* of the request the parser is on (0 before its head) */
	/* Output: out[off..out_len), then body[body_off..body_len). */
	size_t off, out_len;
	const uint8_t *body;
	size_t body_off, body_len;
	struct http_parser hp;
	uint8_t in[HTTP_BUFFER_SIZE(0)];
	uint8_t out[WEBCONN_OUT_MAX];
};

struct webconn_server {
	struct loop *loop;
	struct tls_ctx *tls;
	const struct website *site;
	int lfd;
	bool accepting;
	bool stopping;
	struct loop_timer *accept_timer;
	struct webconn_opts o;
	struct webconn *conns;
	size_t n;
	struct webconn_stats st;
};

static void conn_run(struct webconn *c);
static void on_event(struct loop *l, int fd, uint32_t events, void *data);

static void set_deadline(struct webconn *c, uint64_t ms_from_now)
{
	c->deadline = loop_now_ms() + ms_from_now;
	loop_timer_rearm(c->timer, ms_from_now);
}

static void set_events(struct webconn *c, uint32_t ev)
{
	if (!c->watched) {
		if (loop_add_fd(c->srv->loop, c->fd, ev, on_event, c) < 0)
			fatal("loop_add_fd(web connection)");
		c->watched = true;
		c->events = ev;
		return;
	}
	if (ev != c->events) {
		if (loop_mod_fd(c->srv->loop, c->fd, ev) < 0)
			fatal("loop_mod_fd(web connection)");
		c->events = ev;
	}
}

static void conn_free(struct webconn *c)
{
	struct webconn_server *s = c->srv;
	if (c->tls && tls_conn_established(c->tls))
		(void)tls_conn_shutdown(c->tls); /* one try; a missing close_notify costs nothing */
	if (c->watched)
		loop_del_fd(s->loop, c->fd);
	loop_timer_del(s->loop, c->timer);
	tls_conn_free(c->tls);
	close(c->fd);
	if (c->holds_loop)
		loop_busy_dec(s->loop);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n--;
	free(c);
}

static bool output_pending(const struct webconn *c)
{
	return c->off < c->out_len || c->body_off < c->body_len;
}

/* Queues an answer (its head is in c->out already). */
static void queue(struct webconn *c, const struct website_answer *a, bool keep_alive)
{
	c->off = 0;
	c->out_len = a->head_len;
	c->body = a->body;
	c->body_off = 0;
	c->body_len = a->body ? a->body_len : 0;
	/* A small body goes in the same write as its head. */
	if (c->body_len && c->body_len <= sizeof(c->out) - c->out_len) {
		memcpy(c->out + c->out_len, c->body, c->body_len);
		c->out_len += c->body_len;
		c->body_len = 0;
	}
	if (!keep_alive)
		c->close_after = true;
	c->in_request = false;
	set_deadline(c, c->srv->o.idle_ms);
}

/* Writes what is queued: 1 when done, 0 to wait, -1 when the connection died. */
static int flush(struct webconn *c)
{
	while (output_pending(c)) {
		const uint8_t *p;
		size_t n;
		if (c->off < c->out_len) {
			p = c->out + c->off;
			n = c->out_len - c->off;
		} else {
			p = c->body + c->body_off;
			n = c->body_len - c->body_off;
		}
		if (n > WEBCONN_WRITE_CHUNK)
			n = WEBCONN_WRITE_CHUNK;
		ssize_t w = tls_conn_write(c->tls, p, n);
		if (w == -EAGAIN) {
			set_events(c, tls_conn_events(c->tls));
			return 0;
		}
		if (w < 0)
			return -1;
		if (c->off < c->out_len)
			c->off += (size_t)w;
		else
			c->body_off += (size_t)w;
		set_deadline(c, c->srv->o.idle_ms);
	}
	c->off = c->out_len = 0;
	c->body = NULL;
	c->body_off = c->body_len = 0;
	return 1;
}

static int on_route(void *ctx, const struct http_request *req, size_t *body_max)
{
	struct webconn *c = ctx;
	c->last_method = req->method;
	return website_route((void *)c->srv->site, req, body_max);
}

static void request_begins(struct webconn *c)
{
	c->in_request = true;
	set_deadline(c, c->srv->o.request_ms);
}

/* Runs the connection until it must wait; may free c. */
static void conn_run(struct webconn *c)
{
	struct webconn_server *s = c->srv;
	for (;;) {
		if (!tls_conn_established(c->tls)) {
			int rc = tls_conn_handshake(c->tls);
			if (rc == -EAGAIN) {
				set_events(c, tls_conn_events(c->tls));
				return;
			}
			if (rc < 0) {
				s->st.tls_failed++;
				log_debug("web: a TLS handshake failed (%s)",
				          tls_error_name(tls_conn_error(c->tls)));
				goto dead;
			}
			/* A client that opens TLS has a request to send. */
			set_deadline(c, s->o.request_ms);
		}
		if (output_pending(c)) {
			int r = flush(c);
			if (r < 0)
				goto dead;
			if (r == 0)
				return;
			if (c->close_after)
				goto dead;
			if (http_parser_pending(&c->hp))
				request_begins(c);
			continue;
		}
		if (c->close_after || s->stopping)
			goto dead;

		struct http_request req;
		c->last_method = 0;
		enum http_result hr = http_next(&c->hp, &req);
		if (hr == HTTP_REQUEST) {
			struct website_answer a;
			if (website_answer(s->site, &req, req.keep_alive, time(NULL), (char *)c->out,
			                   WEBSITE_HEAD_MAX, &a) < 0)
				fatalx("web: a response head does not fit %d bytes", WEBSITE_HEAD_MAX);
			s->st.requests++;
			queue(c, &a, req.keep_alive);
			continue;
		}
		if (hr == HTTP_ERROR) {
			struct website_answer a;
			bool keep = !http_parser_must_close(&c->hp);
			if (website_error(s->site, http_parser_status(&c->hp), c->last_method == HTTP_HEAD,
			                  keep, http_parser_minor(&c->hp), time(NULL), (char *)c->out,
			                  WEBSITE_HEAD_MAX, &a) < 0)
				fatalx("web: an error head does not fit %d bytes", WEBSITE_HEAD_MAX);
			s->st.http_errors++;
			queue(c, &a, keep);
			continue;
		}
		/* HTTP_NEED_MORE */
		size_t avail;
		uint8_t *dst = http_parser_space(&c->hp, &avail);
		if (avail == 0)
			fatalx("web: no room for a request head");
		ssize_t n = tls_conn_read(c->tls, dst, avail);
		if (n == -EAGAIN) {
			set_events(c, tls_conn_events(c->tls));
			return;
		}
		if (n <= 0)
			goto dead; /* close_notify, reset or a TLS failure */
		http_parser_commit(&c->hp, (size_t)n);
		if (!c->in_request)
			request_begins(c);
	}
dead:
	conn_free(c);
}

static void on_event(struct loop *l, int fd, uint32_t events, void *data)
{
	conn_run(data);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct webconn *c = data;
	uint64_t now = loop_now_ms();
	if (now < c->deadline) {
		loop_timer_rearm(t, c->deadline - now);
		return;
	}
	c->srv->st.timeouts++;
	log_debug("web: a connection timed out (%s)",
	          !tls_conn_established(c->tls) ? "handshake"
	          : output_pending(c)           ? "write"
	          : c->in_request               ? "request"
	                                        : "idle");
	conn_free(c);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data);

static void accept_resume(struct loop *l, struct loop_timer *t, void *data)
{
	struct webconn_server *s = data;
	if (s->stopping || s->accepting)
		return;
	if (loop_add_fd(l, s->lfd, EPOLLIN, on_accept, s) < 0)
		fatal("loop_add_fd(web listener)");
	s->accepting = true;
}

static void accept_pause(struct webconn_server *s)
{
	loop_del_fd(s->loop, s->lfd);
	s->accepting = false;
	loop_timer_rearm(s->accept_timer, WEBCONN_ACCEPT_PAUSE_MS);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	struct webconn_server *s = data;
	while (s->accepting) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("web: cannot accept connections for now: %s", strerror(errno));
				accept_pause(s);
			}
			return;
		}
		if (s->n >= s->o.max_connections) {
			s->st.refused++;
			close(fd);
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct webconn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		if (tls_conn_new(s->tls, fd, &c->tls) < 0) {
			free(c);
			close(fd);
			accept_pause(s);
			return;
		}
		http_parser_init(&c->hp, c->in, sizeof(c->in), 0, on_route, c);
		c->timer = loop_timer_add(l, s->o.handshake_ms, false, on_timer, c);
		c->deadline = loop_now_ms() + s->o.handshake_ms;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n++;
		s->st.accepted++;
		set_events(c, EPOLLIN);
		conn_run(c);
	}
}

struct webconn_server *webconn_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                          const struct website *site,
                                          const struct webconn_opts *o)
{
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("web: the listening socket");
	struct webconn_server *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->tls = tls;
	s->site = site;
	s->lfd = lfd;
	s->o = *o;
	s->accept_timer = loop_timer_add(l, 86400000, false, accept_resume, s);
	if (loop_add_fd(l, lfd, EPOLLIN, on_accept, s) < 0)
		fatal("loop_add_fd(web listener)");
	s->accepting = true;
	return s;
}

void webconn_server_stop(struct webconn_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	if (s->accepting)
		loop_del_fd(s->loop, s->lfd);
	s->accepting = false;
	struct webconn *c = s->conns;
	while (c) {
		struct webconn *next = c->next;
		if (output_pending(c) && tls_conn_established(c->tls)) {
			c->close_after = true; /* its answer is written, then it closes */
			c->holds_loop = true;
			loop_busy_inc(s->loop);
		} else {
			conn_free(c);
		}
		c = next;
	}
}

void webconn_server_free(struct webconn_server *s)
{
	if (!s)
		return;
	if (s->accepting)
		loop_del_fd(s->loop, s->lfd);
	while (s->conns)
		conn_free(s->conns);
	loop_timer_del(s->loop, s->accept_timer);
	free(s);
}

const struct webconn_stats *webconn_server_stats(const struct webconn_server *s)
{
	return &s->st;
}
