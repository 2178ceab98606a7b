/* conn.c: the API's HTTPS connections (see conn.h; docs/PROTOCOL.md section
 * 14.4). One state machine per connection, driven by conn_run(): handshake,
 * read and parse, hand a request over, wait, write the answer, again. Each
 * connection has one timer holding its current deadline. */
#include "api/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define NO_DEADLINE UINT64_MAX

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

struct apiconn {
	struct apiconn *next, *prev;
	struct apiconn_server *srv;
	size_t reserved;       /* bytes of the server's body memory this request holds */
	int fd;
	struct tls_conn *tls;
	struct loop_timer *timer;
	uint64_t deadline;     /* loop_now_ms() at which the timer closes us */
	uint32_t events;       /* what the fd is watched for; 0 when it is not */
	bool watched;
	bool in_run;           /* inside conn_run(): answers wait for it */
	bool busy;             /* a request is dispatched and its answer owed */
	bool holds_loop;       /* loop_busy_inc() until the answer is written */
	bool in_request;       /* bytes of a request are buffered: its deadline runs */
	bool close_after;      /* close once the output is written */
	bool continue_pending; /* send 100 Continue before reading the body */
	bool ka;               /* the dispatched request's keep-alive and version */
	unsigned minor;
	uint64_t req_start;
	/* Input: the parser's buffer, reserved at APICONN_BUF_MAX and committed
	 * (readable and writable) up to `committed`; reads never go past it. */
	struct http_parser hp;
	uint8_t *buf;
	size_t committed;
	size_t want;           /* the committed size the current request needs, 0 before its route */
	struct apiroute route;
	/* Output: out[off..end) still to send; out_owned is freed after. */
	const uint8_t *out;
	uint8_t *out_owned;
	size_t off, end;
	uint8_t head[APIROUTE_HEAD_ROOM]; /* answers without a body */
};

struct apiconn_server {
	struct loop *loop;
	struct tls_ctx *tls;
	int lfd;
	bool accepting;
	bool stopping;
	struct loop_timer *accept_timer;
	struct apiconn_opts o;
	struct apiconn *conns;
	size_t n;
	size_t reserved; /* body memory promised to requests in progress (o.body_memory caps it) */
	struct apiconn_stats st;
};

static void conn_run(struct apiconn *c);

/* ---- deadlines ---- */

static void set_deadline(struct apiconn *c, uint64_t ms_from_now)
{
	uint64_t now = loop_now_ms();
	c->deadline = ms_from_now == NO_DEADLINE || ms_from_now > NO_DEADLINE - now
	                  ? NO_DEADLINE
	                  : now + ms_from_now;
	/* A timer that may never fire still needs a value: a day, rearmed then. */
	loop_timer_rearm(c->timer, c->deadline == NO_DEADLINE ? 86400000 : ms_from_now);
}

static void set_deadline_at(struct apiconn *c, uint64_t at)
{
	uint64_t now = loop_now_ms();
	set_deadline(c, at == NO_DEADLINE ? NO_DEADLINE : at > now ? at - now : 0);
}

/* ---- the fd and the buffer ---- */

static void on_event(struct loop *l, int fd, uint32_t events, void *data);

static void set_events(struct apiconn *c, uint32_t ev)
{
	if (!c->watched) {
		if (loop_add_fd(c->srv->loop, c->fd, ev, on_event, c) < 0)
			fatal("loop_add_fd(api connection)");
		c->watched = true;
		c->events = ev;
		return;
	}
	if (ev != c->events) {
		if (loop_mod_fd(c->srv->loop, c->fd, ev) < 0)
			fatal("loop_mod_fd(api connection)");
		c->events = ev;
	}
}

static void unwatch(struct apiconn *c)
{
	if (c->watched) {
		loop_del_fd(c->srv->loop, c->fd);
		c->watched = false;
		c->events = 0;
	}
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

/* Commits the buffer up to `size` bytes (rounded to pages, at most the
 * reservation). */
static int buf_commit(struct apiconn *c, size_t size)
{
	size_t want = page_round(size);
	size_t cap = page_round(APICONN_BUF_MAX);
	if (want > cap)
		want = cap;
	if (want <= c->committed)
		return 0;
	if (mprotect(c->buf + c->committed, want - c->committed, PROT_READ | PROT_WRITE) < 0)
		return -errno;
	c->committed = want;
	return 0;
}

static void release_body_memory(struct apiconn *c)
{
	c->srv->reserved -= c->reserved;
	c->reserved = 0;
}

/* Gives back what a large request took, once only a head can be buffered. */
static void buf_shrink(struct apiconn *c)
{
	release_body_memory(c);
	if (c->committed <= APICONN_BUF_INITIAL)
		return;
	uint8_t *p = c->buf + APICONN_BUF_INITIAL;
	size_t n = c->committed - APICONN_BUF_INITIAL;
	(void)madvise(p, n, MADV_DONTNEED);
	(void)mprotect(p, n, PROT_NONE);
	c->committed = APICONN_BUF_INITIAL;
}

/* ---- life and death ---- */

static void conn_free(struct apiconn *c)
{
	struct apiconn_server *s = c->srv;
	if (c->busy) {
		/* The answer is still owed by the caller: free on apiconn_answer(). */
		unwatch(c);
		c->close_after = true;
		return;
	}
	if (c->tls && tls_conn_established(c->tls))
		(void)tls_conn_shutdown(c->tls); /* one try; a missing close_notify costs nothing */
	unwatch(c);
	loop_timer_del(s->loop, c->timer);
	tls_conn_free(c->tls);
	close(c->fd);
	release_body_memory(c);
	if (c->buf)
		munmap(c->buf, page_round(APICONN_BUF_MAX));
	free(c->out_owned);
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

/* ---- output ---- */

static void put_answer(struct apiconn *c, int status, uint8_t *buf, size_t body_len,
                       bool keep_alive, unsigned minor)
{
	char head[APIROUTE_HEAD_ROOM];
	size_t hlen;
	if (c->srv->stopping)
		keep_alive = false;
	if (apiroute_resp_head(head, sizeof(head), status, body_len, keep_alive, minor, time(NULL),
	                       &hlen) < 0)
		fatalx("api: a response head does not fit %d bytes", APIROUTE_HEAD_ROOM);
	free(c->out_owned);
	if (buf) {
		memcpy(buf + APIROUTE_HEAD_ROOM - hlen, head, hlen);
		c->out_owned = buf;
		c->out = buf;
		c->off = APIROUTE_HEAD_ROOM - hlen;
		c->end = APIROUTE_HEAD_ROOM + body_len;
	} else {
		memcpy(c->head, head, hlen);
		c->out_owned = NULL;
		c->out = c->head;
		c->off = 0;
		c->end = hlen;
	}
	if (!keep_alive)
		c->close_after = true;
	set_deadline(c, c->srv->o.idle_ms);
}

/* Writes what is queued: 1 when done, 0 to wait, -1 when the connection died. */
static int flush(struct apiconn *c)
{
	while (c->off < c->end) {
		size_t n = c->end - c->off;
		if (n > APICONN_WRITE_CHUNK)
			n = APICONN_WRITE_CHUNK;
		ssize_t w = tls_conn_write(c->tls, c->out + c->off, n);
		if (w == -EAGAIN) {
			set_events(c, tls_conn_events(c->tls));
			return 0;
		}
		if (w < 0)
			return -1;
		c->off += (size_t)w;
		set_deadline(c, c->srv->o.idle_ms);
	}
	free(c->out_owned);
	c->out_owned = NULL;
	c->out = NULL;
	c->off = c->end = 0;
	if (c->holds_loop) {
		loop_busy_dec(c->srv->loop);
		c->holds_loop = false;
	}
	return 1;
}

/* ---- input ---- */

static int on_route(void *ctx, const struct http_request *req, size_t *body_max)
{
	struct apiconn *c = ctx;
	uint64_t cl;
	int st = apiroute_head(req, &c->route, &cl);
	if (st)
		return st;
	/* Large bodies share one memory budget, so many big uploads at once get
	 * 503 instead of pushing the daemon past its MemoryMax. */
	release_body_memory(c);
	size_t need = HTTP_HEAD_MAX + (size_t)cl;
	if (need > APICONN_BUF_INITIAL) {
		size_t extra = need - APICONN_BUF_INITIAL;
		if (extra > c->srv->o.body_memory - c->srv->reserved)
			return 503;
		c->reserved = extra;
		c->srv->reserved += extra;
	}
	*body_max = c->route.body_max;
	c->want = HTTP_HEAD_MAX + (size_t)cl;
	uint64_t allow = apiroute_request_ms(c->srv->o.request_ms, cl);
	set_deadline_at(c, allow > NO_DEADLINE - c->req_start ? NO_DEADLINE : c->req_start + allow);
	c->continue_pending = req->expect_continue && cl > 0;
	return 0;
}

static void request_begins(struct apiconn *c)
{
	c->in_request = true;
	c->req_start = loop_now_ms();
	set_deadline(c, c->srv->o.request_ms);
}

static void dispatch(struct apiconn *c, const struct http_request *req)
{
	struct apiconn_server *s = c->srv;
	c->busy = true;
	c->holds_loop = true;
	loop_busy_inc(s->loop);
	c->in_request = false;
	c->continue_pending = false;
	c->want = 0;
	c->ka = req->keep_alive;
	c->minor = req->minor;
	unwatch(c); /* nothing to read or write until the answer */
	set_deadline(c, NO_DEADLINE);
	s->st.requests++;
	s->o.dispatch(c, &c->route, req->body, req->body_len, s->o.data);
}

void apiconn_answer(struct apiconn *c, int status, uint8_t *buf, size_t body_len)
{
	if (!c->busy)
		fatalx("api: an answer to no request");
	c->busy = false;
	put_answer(c, status, buf, body_len, c->ka, c->minor);
	if (!c->in_run)
		conn_run(c);
}

/* Runs the connection until it must wait; may free c. */
static void conn_run(struct apiconn *c)
{
	struct apiconn_server *s = c->srv;
	c->in_run = true;
	for (;;) {
		if (!tls_conn_established(c->tls)) {
			int rc = tls_conn_handshake(c->tls);
			if (rc == -EAGAIN) {
				set_events(c, tls_conn_events(c->tls));
				break;
			}
			if (rc < 0) {
				s->st.tls_failed++;
				log_debug("api: a TLS handshake failed (%s)",
				          tls_error_name(tls_conn_error(c->tls)));
				goto dead;
			}
			/* A client that opens TLS has a request to send: it gets no
			 * keep-alive idle time before its first one. */
			set_deadline(c, s->o.request_ms);
		}
		if (c->out) {
			int r = flush(c);
			if (r < 0)
				goto dead;
			if (r == 0)
				break;
			if (c->close_after)
				goto dead;
			if (http_parser_pending(&c->hp))
				request_begins(c);
			else
				set_deadline(c, s->o.idle_ms);
			continue;
		}
		if (c->busy)
			break; /* the answer comes through apiconn_answer() */
		if (c->close_after || (s->stopping && !c->in_request))
			goto dead;

		struct http_request req;
		enum http_result hr = http_next(&c->hp, &req);
		if (hr == HTTP_REQUEST) {
			dispatch(c, &req);
			continue;
		}
		if (hr == HTTP_ERROR) {
			s->st.http_errors++;
			bool keep = !http_parser_must_close(&c->hp);
			put_answer(c, http_parser_status(&c->hp), NULL, 0, keep, http_parser_minor(&c->hp));
			c->in_request = false;
			c->want = 0;
			continue;
		}
		/* HTTP_NEED_MORE */
		if (s->stopping)
			goto dead; /* a request still arriving is not in flight yet */
		if (c->continue_pending) {
			c->continue_pending = false;
			c->out = (const uint8_t *)continue_100;
			c->off = 0;
			c->end = sizeof(continue_100) - 1;
			continue;
		}
		if (c->want == 0)
			buf_shrink(c);
		size_t avail;
		uint8_t *dst = http_parser_space(&c->hp, &avail);
		size_t len = (size_t)(dst - c->buf);
		if (len >= c->committed) {
			if (c->want <= c->committed || buf_commit(c, c->want) < 0)
				goto dead; /* cannot happen: a head always fits the first part */
		}
		size_t room = c->committed - len;
		if (room > avail)
			room = avail;
		ssize_t n = tls_conn_read(c->tls, dst, room);
		if (n == -EAGAIN) {
			set_events(c, tls_conn_events(c->tls));
			break;
		}
		if (n <= 0)
			goto dead; /* close_notify, reset or a TLS failure */
		http_parser_commit(&c->hp, (size_t)n);
		if (!c->in_request)
			request_begins(c);
	}
	c->in_run = false;
	return;
dead:
	c->in_run = false;
	conn_free(c);
}

static void on_event(struct loop *l, int fd, uint32_t events, void *data)
{
	conn_run(data);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct apiconn *c = data;
	if (c->busy || c->deadline == NO_DEADLINE)
		return;
	uint64_t now = loop_now_ms();
	if (now < c->deadline) {
		loop_timer_rearm(t, c->deadline - now);
		return;
	}
	c->srv->st.timeouts++;
	log_debug("api: a connection timed out (%s)",
	          !tls_conn_established(c->tls) ? "handshake"
	          : c->out                      ? "write"
	          : c->in_request               ? "request"
	                                        : "idle");
	conn_free(c);
}

/* ---- accepting ---- */

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data);

static void accept_resume(struct loop *l, struct loop_timer *t, void *data)
{
	struct apiconn_server *s = data;
	if (s->stopping || s->accepting)
		return;
	if (loop_add_fd(l, s->lfd, EPOLLIN, on_accept, s) < 0)
		fatal("loop_add_fd(api listener)");
	s->accepting = true;
}

static void accept_pause(struct apiconn_server *s)
{
	loop_del_fd(s->loop, s->lfd);
	s->accepting = false;
	loop_timer_rearm(s->accept_timer, APICONN_ACCEPT_PAUSE_MS);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	struct apiconn_server *s = data;
	while (s->accepting) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("api: cannot accept connections for now: %s", strerror(errno));
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
		struct apiconn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->buf = mmap(NULL, page_round(APICONN_BUF_MAX), PROT_NONE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (c->buf == MAP_FAILED) {
			c->buf = NULL;
			free(c);
			close(fd);
			accept_pause(s);
			return;
		}
		if (buf_commit(c, APICONN_BUF_INITIAL) < 0 || tls_conn_new(s->tls, fd, &c->tls) < 0) {
			munmap(c->buf, page_round(APICONN_BUF_MAX));
			free(c);
			close(fd);
			accept_pause(s);
			return;
		}
		http_parser_init(&c->hp, c->buf, APICONN_BUF_MAX, APIREQ_BODY_MAX, on_route, c);
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

struct apiconn_server *apiconn_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                          const struct apiconn_opts *o)
{
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("api: the listening socket");
	struct apiconn_server *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->tls = tls;
	s->lfd = lfd;
	s->o = *o;
	s->accept_timer = loop_timer_add(l, 86400000, false, accept_resume, s);
	if (loop_add_fd(l, lfd, EPOLLIN, on_accept, s) < 0)
		fatal("loop_add_fd(api listener)");
	s->accepting = true;
	return s;
}

void apiconn_server_stop(struct apiconn_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	if (s->accepting)
		loop_del_fd(s->loop, s->lfd);
	s->accepting = false;
	struct apiconn *c = s->conns;
	while (c) {
		struct apiconn *next = c->next;
		if (c->busy || c->holds_loop)
			c->close_after = true; /* answered, then closed */
		else
			conn_free(c);
		c = next;
	}
}

void apiconn_server_free(struct apiconn_server *s)
{
	if (!s)
		return;
	if (s->accepting)
		loop_del_fd(s->loop, s->lfd);
	while (s->conns) {
		s->conns->busy = false; /* nobody will answer any more */
		conn_free(s->conns);
	}
	loop_timer_del(s->loop, s->accept_timer);
	free(s);
}

size_t apiconn_server_count(const struct apiconn_server *s) { return s->n; }

const struct apiconn_stats *apiconn_server_stats(const struct apiconn_server *s)
{
	return &s->st;
}
