/* rpc.c: request/response calls over channels on the event loop (see rpc.h). */
#include "ipc/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "ipc/sock.h"

#define RPC_SWEEP_MS 100
#define RPC_RECONNECT_BACKOFF_MS 200
#define RPC_BUCKETS 1024

/* ---- a socket with a channel session and a queue of sealed frames ---- */

struct qframe {
	struct qframe *next;
	size_t len;
	int fd;
	uint8_t data[];
};

struct link {
	int sock;
	struct chan_session s;
	struct qframe *qhead, *qtail;
	size_t qn;
	bool want_out;
};

static void link_init(struct link *ln) { *ln = (struct link){ .sock = -1 }; }

static void link_close(struct loop *l, struct link *ln)
{
	if (ln->sock >= 0) {
		loop_del_fd(l, ln->sock);
		close(ln->sock);
	}
	ln->sock = -1;
	chan_session_clear(&ln->s);
	while (ln->qhead) {
		struct qframe *q = ln->qhead;
		ln->qhead = q->next;
		if (q->fd >= 0)
			close(q->fd);
		sodium_memzero(q->data, q->len);
		free(q);
	}
	ln->qtail = NULL;
	ln->qn = 0;
	ln->want_out = false;
}

static void link_update_events(struct loop *l, struct link *ln, bool out)
{
	if (ln->want_out == out)
		return;
	ln->want_out = out;
	if (loop_mod_fd(l, ln->sock, EPOLLIN | (out ? EPOLLOUT : 0)) < 0)
		fatal("epoll mod");
}

/* Sends or queues one sealed frame. Returns 0 or a negative errno (the link is
 * then broken and the caller closes it). */
static int link_send(struct loop *l, struct link *ln, const uint8_t *frame, size_t len, int fd)
{
	if (!ln->qhead) {
		int r = sock_send_frame(ln->sock, frame, len, fd);
		if (r != -EAGAIN)
			return r;
	}
	if (ln->qn >= RPC_MAX_QUEUED_FRAMES)
		return -ENOBUFS;
	struct qframe *q = xmalloc(sizeof(*q) + len);
	q->next = NULL;
	q->len = len;
	q->fd = -1;
	if (fd >= 0) {
		q->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (q->fd < 0) {
			free(q);
			return -errno;
		}
	}
	memcpy(q->data, frame, len);
	if (ln->qtail)
		ln->qtail->next = q;
	else
		ln->qhead = q;
	ln->qtail = q;
	ln->qn++;
	link_update_events(l, ln, true);
	return 0;
}

/* Sends queued frames after EPOLLOUT. Returns 0 or a negative errno. */
static int link_flush(struct loop *l, struct link *ln)
{
	while (ln->qhead) {
		struct qframe *q = ln->qhead;
		int r = sock_send_frame(ln->sock, q->data, q->len, q->fd);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		ln->qhead = q->next;
		if (!ln->qhead)
			ln->qtail = NULL;
		ln->qn--;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	link_update_events(l, ln, false);
	return 0;
}

/* Seals [call][payload] as one frame and sends or queues it. */
static int link_send_msg(struct loop *l, struct link *ln, uint16_t type, uint32_t call,
                         const uint8_t *payload, size_t len, int fd, uint8_t *scratch)
{
	if (len > RPC_PAYLOAD_MAX)
		return -EMSGSIZE;
	uint8_t *plain = scratch + CHAN_FRAME_MAX;
	le32_store(plain, call);
	if (len)
		memcpy(plain + RPC_CALL_ID_BYTES, payload, len);
	size_t flen;
	int r = chan_seal(&ln->s, scratch, CHAN_FRAME_MAX, &flen, type, fd >= 0 ? CHAN_FLAG_FD : 0,
	                  plain, RPC_CALL_ID_BYTES + len);
	sodium_memzero(plain, RPC_CALL_ID_BYTES + len);
	if (r < 0)
		return r;
	return link_send(l, ln, scratch, flen, fd);
}

/* Receives and opens one data frame. Returns 1 with a message, 0 when nothing
 * is queued, or a negative errno (EOF is -ECONNRESET). */
static int link_recv_msg(struct link *ln, uint8_t *frame, uint8_t *plain, uint16_t *ret_type,
                         uint32_t *ret_call, const uint8_t **ret_payload, size_t *ret_len,
                         int *ret_fd)
{
	size_t flen;
	int fd = -1;
	int r = sock_recv_frame(ln->sock, frame, CHAN_FRAME_MAX, &flen, &fd);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	if (flen == 0)
		return -ECONNRESET;
	size_t plen;
	uint16_t type;
	uint8_t flags;
	r = chan_open(&ln->s, plain, CHAN_FRAME_MAX, &plen, &type, &flags, frame, flen);
	if (r == 0 && (((flags & CHAN_FLAG_FD) != 0) != (fd >= 0) || plen < RPC_CALL_ID_BYTES))
		r = -EBADMSG;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret_type = type;
	*ret_call = le32_load(plain);
	*ret_payload = plain + RPC_CALL_ID_BYTES;
	*ret_len = plen - RPC_CALL_ID_BYTES;
	*ret_fd = fd;
	return 1;
}

/* ---- server ---- */

struct rpc_conn {
	struct rpc_server *srv;
	struct rpc_conn *prev, *next;
	struct link ln;
	int refs;
	bool closed;
	bool established;
	enum role peer;
	struct loop_timer *hs_timer;
};

struct rpc_server {
	struct loop *loop;
	int listen_fd;
	struct rpc_server_opts o;
	struct rpc_conn *conns;
	size_t nconns;
	uint8_t *frame; /* 2 x CHAN_FRAME_MAX: frame, then plaintext */
	uint8_t *scratch;
};

void rpc_conn_ref(struct rpc_conn *c) { c->refs++; }

void rpc_conn_unref(struct rpc_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

enum role rpc_conn_peer(const struct rpc_conn *c) { return c->peer; }

static void conn_close(struct rpc_conn *c)
{
	if (c->closed)
		return;
	struct rpc_server *s = c->srv;
	c->closed = true;
	link_close(s->loop, &c->ln);
	if (c->hs_timer) {
		loop_timer_del(s->loop, c->hs_timer);
		c->hs_timer = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	rpc_conn_unref(c);
}

static void conn_hs_timeout(struct loop *l, struct loop_timer *t, void *data)
{
	struct rpc_conn *c = data;
	log_warn("%s: channel handshake timed out", role_name(c->srv->o.me));
	conn_close(c);
}

static void conn_handshake(struct rpc_conn *c)
{
	struct rpc_server *s = c->srv;
	size_t flen;
	int fd = -1;
	int r = sock_recv_frame(c->ln.sock, s->frame, CHAN_FRAME_MAX, &flen, &fd);
	if (r == -EAGAIN)
		return;
	if (fd >= 0)
		close(fd);
	if (r < 0 || flen == 0 || fd >= 0) {
		conn_close(c);
		return;
	}
	uint8_t ack[CHAN_ACK_BYTES];
	enum role client;
	r = chan_server_accept(&c->ln.s, ack, s->frame, flen, s->o.me, s->o.key_lookup, s->o.key_ctx,
	                       &client);
	if (r < 0) {
		log_warn("%s: refused a channel handshake (%s)", role_name(s->o.me), strerror(-r));
		conn_close(c);
		return;
	}
	if (link_send(s->loop, &c->ln, ack, sizeof(ack), -1) < 0) {
		conn_close(c);
		return;
	}
	c->peer = client;
	c->established = true;
	loop_timer_del(s->loop, c->hs_timer);
	c->hs_timer = NULL;
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct rpc_conn *c = data;
	struct rpc_server *s = c->srv;
	rpc_conn_ref(c);
	if ((events & EPOLLOUT) && link_flush(l, &c->ln) < 0)
		conn_close(c);
	if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (!c->established)
			conn_handshake(c);
		/* Serve every queued request (a handler may close the connection). */
		while (!c->closed && c->established) {
			uint16_t type;
			uint32_t call;
			const uint8_t *payload;
			size_t len;
			int rfd;
			int r = link_recv_msg(&c->ln, s->frame, s->frame + CHAN_FRAME_MAX, &type, &call,
			                      &payload, &len, &rfd);
			if (r == 0)
				break;
			if (r < 0) {
				if (r != -ECONNRESET)
					log_warn("%s: closed a channel from %s after a bad frame (%s)",
					         role_name(s->o.me), role_name(c->peer), strerror(-r));
				conn_close(c);
				break;
			}
			s->o.handler(c, c->peer, type, call, payload, len, rfd, s->o.handler_data);
			sodium_memzero(s->frame + CHAN_FRAME_MAX, len + RPC_CALL_ID_BYTES);
		}
	}
	rpc_conn_unref(c);
}

static bool peer_allowed(const struct rpc_server *s, int sock)
{
	struct ucred cred;
	if (sock_peer_cred(sock, &cred) < 0)
		return false;
	if (s->o.n_peer_uids == 0)
		return true;
	for (size_t i = 0; i < s->o.n_peer_uids; i++)
		if (s->o.peer_uids[i] == cred.uid)
			return true;
	return false;
}

static void server_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	struct rpc_server *s = data;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept: %s", role_name(s->o.me), strerror(errno));
			return;
		}
		if (s->nconns >= RPC_MAX_CONNS || !peer_allowed(s, fd)) {
			log_warn("%s: refused a channel connection (%s)", role_name(s->o.me),
			         s->nconns >= RPC_MAX_CONNS ? "too many connections" : "peer not allowed");
			close(fd);
			continue;
		}
		struct rpc_conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->refs = 1;
		link_init(&c->ln);
		c->ln.sock = fd;
		if (loop_add_fd(l, fd, EPOLLIN, conn_event, c) < 0)
			fatal("loop_add_fd(conn)");
		c->hs_timer = loop_timer_add(l, RPC_HANDSHAKE_TIMEOUT_MS, false, conn_hs_timeout, c);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
	}
}

struct rpc_server *rpc_server_new(struct loop *l, int listen_fd, const struct rpc_server_opts *o)
{
	struct rpc_server *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->listen_fd = listen_fd;
	s->o = *o;
	s->frame = sodium_malloc(2 * CHAN_FRAME_MAX);
	s->scratch = sodium_malloc(2 * CHAN_FRAME_MAX);
	if (!s->frame || !s->scratch)
		fatal("sodium_malloc");
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("fcntl(listen)");
	if (loop_add_fd(l, listen_fd, EPOLLIN, server_accept, s) < 0)
		fatal("loop_add_fd(listen)");
	return s;
}

void rpc_server_stop_accepting(struct rpc_server *s)
{
	if (s->listen_fd >= 0)
		loop_del_fd(s->loop, s->listen_fd);
}

size_t rpc_server_conn_count(const struct rpc_server *s) { return s->nconns; }

int rpc_reply(struct rpc_conn *c, uint16_t type, uint32_t call, const uint8_t *payload, size_t len,
              int fd)
{
	if (c->closed)
		return -ENOTCONN;
	struct rpc_server *s = c->srv;
	int r = link_send_msg(s->loop, &c->ln, type, call, payload, len, fd, s->scratch);
	if (r < 0 && r != -EMSGSIZE) {
		conn_close(c);
		return -ENOTCONN;
	}
	return r;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	rpc_server_stop_accepting(s);
	while (s->conns)
		conn_close(s->conns);
	sodium_free(s->frame);
	sodium_free(s->scratch);
	free(s);
}

/* ---- client ---- */

struct pending {
	struct pending *next;  /* in its bucket */
	struct pending *qnext; /* in the unsent queue */
	uint32_t call;
	uint64_t deadline;
	rpc_done_fn done;
	void *arg;
	int status; /* set when failed before an answer */
	bool failed;
	bool sent;
	uint16_t type; /* the request, kept until sent */
	uint8_t *req;
	size_t req_len;
	int fd;
};

enum client_state { CLIENT_DOWN, CLIENT_WAIT_ACK, CLIENT_UP };

struct rpc_client {
	struct loop *loop;
	char *path;
	enum role me, server;
	uint8_t *pair_key;
	struct link ln;
	enum client_state st;
	uint64_t hs_deadline;
	uint64_t last_fail_ms;
	uint32_t next_call;
	struct pending *buckets[RPC_BUCKETS];
	size_t npending;
	struct pending *unsent_head, *unsent_tail;
	struct loop_timer *timer;
	bool timer_armed;
	uint8_t *frame; /* 2 x CHAN_FRAME_MAX */
	uint8_t *scratch;
};

static struct pending **bucket_of(struct rpc_client *c, uint32_t call)
{
	return &c->buckets[call % RPC_BUCKETS];
}

static struct pending *pending_take(struct rpc_client *c, uint32_t call)
{
	for (struct pending **pp = bucket_of(c, call); *pp; pp = &(*pp)->next) {
		if ((*pp)->call == call) {
			struct pending *p = *pp;
			*pp = p->next;
			c->npending--;
			return p;
		}
	}
	return NULL;
}

static void pending_free_req(struct pending *p)
{
	if (p->req) {
		sodium_memzero(p->req, p->req_len);
		free(p->req);
		p->req = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static void arm_timer(struct rpc_client *c, uint64_t ms)
{
	loop_timer_rearm(c->timer, ms);
	c->timer_armed = true;
}

/* Marks p failed; its callback runs from the timer, never from the caller. */
static void pending_fail(struct rpc_client *c, struct pending *p, int status)
{
	p->failed = true;
	p->status = status;
	arm_timer(c, 1);
}

static void client_fail_all(struct rpc_client *c, int status)
{
	for (size_t b = 0; b < RPC_BUCKETS; b++)
		for (struct pending *p = c->buckets[b]; p; p = p->next)
			if (!p->failed)
				pending_fail(c, p, status);
	c->unsent_head = c->unsent_tail = NULL;
}

static void client_down(struct rpc_client *c, int status)
{
	link_close(c->loop, &c->ln);
	c->st = CLIENT_DOWN;
	c->last_fail_ms = loop_now_ms();
	client_fail_all(c, status);
}

static int client_send(struct rpc_client *c, struct pending *p)
{
	int r = link_send_msg(c->loop, &c->ln, p->type, p->call, p->req, p->req_len, p->fd,
	                      c->scratch);
	pending_free_req(p);
	if (r == -EMSGSIZE) {
		pending_fail(c, p, r);
		return 0;
	}
	if (r < 0)
		return r;
	p->sent = true;
	return 0;
}

static void client_flush_unsent(struct rpc_client *c)
{
	while (c->st == CLIENT_UP && c->unsent_head) {
		struct pending *p = c->unsent_head;
		c->unsent_head = p->qnext;
		if (!c->unsent_head)
			c->unsent_tail = NULL;
		if (p->failed)
			continue;
		if (client_send(c, p) < 0) {
			client_down(c, -ECONNRESET);
			return;
		}
	}
}

static void client_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct rpc_client *c = data;
	if ((events & EPOLLOUT) && link_flush(l, &c->ln) < 0) {
		client_down(c, -ECONNRESET);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->st == CLIENT_WAIT_ACK) {
		size_t flen;
		int rfd = -1;
		int r = sock_recv_frame(c->ln.sock, c->frame, CHAN_FRAME_MAX, &flen, &rfd);
		if (r == -EAGAIN)
			return;
		if (rfd >= 0)
			close(rfd);
		if (r < 0 || flen == 0 || rfd >= 0 || chan_client_finish(&c->ln.s, c->frame, flen) < 0) {
			log_warn("%s: channel handshake with %s failed", role_name(c->me),
			         role_name(c->server));
			client_down(c, -ECONNREFUSED);
			return;
		}
		c->st = CLIENT_UP;
		client_flush_unsent(c);
	}
	while (c->st == CLIENT_UP) {
		uint16_t type;
		uint32_t call;
		const uint8_t *payload;
		size_t len;
		int rfd;
		int r = link_recv_msg(&c->ln, c->frame, c->frame + CHAN_FRAME_MAX, &type, &call, &payload,
		                      &len, &rfd);
		if (r == 0)
			return;
		if (r < 0) {
			if (r != -ECONNRESET)
				log_warn("%s: bad frame from %s (%s)", role_name(c->me), role_name(c->server),
				         strerror(-r));
			client_down(c, -ECONNRESET);
			return;
		}
		struct pending *p = pending_take(c, call);
		if (p && p->sent && !p->failed) {
			p->done(0, type, payload, len, rfd, p->arg);
			loop_busy_dec(c->loop);
			free(p);
		} else {
			/* An answer after its deadline, or to no call of ours: drop it. A
			 * failed call still owes its callback, which the timer runs. */
			if (rfd >= 0)
				close(rfd);
			if (p) {
				p->next = *bucket_of(c, call);
				*bucket_of(c, call) = p;
				c->npending++;
			}
		}
		sodium_memzero(c->frame + CHAN_FRAME_MAX, len + RPC_CALL_ID_BYTES);
	}
}

static int client_connect(struct rpc_client *c)
{
	int fd = sock_connect_seqpacket(c->path);
	if (fd < 0)
		return fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -errno;
	}
	link_init(&c->ln);
	c->ln.sock = fd;
	uint8_t hello[CHAN_HELLO_BYTES];
	int r = chan_client_hello(&c->ln.s, hello, c->me, c->server, c->pair_key);
	if (r < 0) {
		close(fd);
		c->ln.sock = -1;
		return r;
	}
	if (loop_add_fd(c->loop, fd, EPOLLIN, client_event, c) < 0)
		fatal("loop_add_fd(client)");
	r = link_send(c->loop, &c->ln, hello, sizeof(hello), -1);
	if (r < 0) {
		link_close(c->loop, &c->ln);
		return r;
	}
	c->st = CLIENT_WAIT_ACK;
	c->hs_deadline = loop_now_ms() + RPC_HANDSHAKE_TIMEOUT_MS;
	return 0;
}

static void client_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct rpc_client *c = data;
	c->timer_armed = false;
	uint64_t now = loop_now_ms();
	if (c->st == CLIENT_WAIT_ACK && now >= c->hs_deadline) {
		log_warn("%s: channel handshake with %s timed out", role_name(c->me), role_name(c->server));
		client_down(c, -ETIMEDOUT);
	}
	/* Collect what is due first, then run the callbacks (they may call again). */
	struct pending *due = NULL;
	for (size_t b = 0; b < RPC_BUCKETS; b++) {
		struct pending **pp = &c->buckets[b];
		while (*pp) {
			struct pending *p = *pp;
			if (!p->failed && now >= p->deadline) {
				p->failed = true;
				p->status = -ETIMEDOUT;
			}
			if (p->failed) {
				*pp = p->next;
				c->npending--;
				p->next = due;
				due = p;
			} else {
				pp = &p->next;
			}
		}
	}
	/* Unsent requests that failed must leave the unsent queue too. */
	struct pending **qp = &c->unsent_head;
	c->unsent_tail = NULL;
	while (*qp) {
		if ((*qp)->failed) {
			*qp = (*qp)->qnext;
		} else {
			c->unsent_tail = *qp;
			qp = &(*qp)->qnext;
		}
	}
	while (due) {
		struct pending *p = due;
		due = p->next;
		pending_free_req(p);
		p->done(p->status, 0, NULL, 0, -1, p->arg);
		loop_busy_dec(c->loop);
		free(p);
	}
	if (c->npending > 0 && !c->timer_armed)
		arm_timer(c, RPC_SWEEP_MS);
}

struct rpc_client *rpc_client_new(struct loop *l, const char *path, enum role me, enum role server,
                                  const uint8_t pair_key[CHAN_KEY_BYTES])
{
	struct rpc_client *c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->path = xstrdup(path);
	c->me = me;
	c->server = server;
	c->pair_key = sodium_malloc(CHAN_KEY_BYTES);
	c->frame = sodium_malloc(2 * CHAN_FRAME_MAX);
	c->scratch = sodium_malloc(2 * CHAN_FRAME_MAX);
	if (!c->pair_key || !c->frame || !c->scratch)
		fatal("sodium_malloc");
	memcpy(c->pair_key, pair_key, CHAN_KEY_BYTES);
	link_init(&c->ln);
	randombytes_buf(&c->next_call, sizeof(c->next_call));
	c->timer = loop_timer_add(l, 3600 * 1000, false, client_timer, c);
	return c;
}

bool rpc_client_connected(const struct rpc_client *c) { return c->st == CLIENT_UP; }

void rpc_call(struct rpc_client *c, uint16_t type, const uint8_t *payload, size_t len, int fd,
              uint64_t timeout_ms, rpc_done_fn done, void *arg)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	do
		p->call = c->next_call++;
	while (!p->call);
	p->deadline = loop_now_ms() + (timeout_ms ? timeout_ms : RPC_DEFAULT_TIMEOUT_MS);
	p->done = done;
	p->arg = arg;
	p->type = type;
	p->fd = -1;
	p->next = *bucket_of(c, p->call);
	*bucket_of(c, p->call) = p;
	c->npending++;
	loop_busy_inc(c->loop); /* a stopping daemon waits for its calls */
	if (!c->timer_armed)
		arm_timer(c, RPC_SWEEP_MS);

	if (c->npending > RPC_MAX_PENDING_CALLS || len > RPC_PAYLOAD_MAX) {
		pending_fail(c, p, len > RPC_PAYLOAD_MAX ? -EMSGSIZE : -ENOBUFS);
		return;
	}
	p->req = xmalloc(len ? len : 1);
	if (len)
		memcpy(p->req, payload, len);
	p->req_len = len;
	if (fd >= 0) {
		p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (p->fd < 0) {
			pending_fail(c, p, -errno);
			return;
		}
	}
	if (c->st == CLIENT_UP) {
		if (client_send(c, p) < 0)
			client_down(c, -ECONNRESET);
		return;
	}
	if (c->unsent_tail)
		c->unsent_tail->qnext = p;
	else
		c->unsent_head = p;
	c->unsent_tail = p;
	if (c->st == CLIENT_DOWN) {
		if (c->last_fail_ms && loop_now_ms() - c->last_fail_ms < RPC_RECONNECT_BACKOFF_MS) {
			client_fail_all(c, -ECONNREFUSED);
			return;
		}
		int r = client_connect(c);
		if (r < 0) {
			c->last_fail_ms = loop_now_ms();
			client_fail_all(c, r == -ENOENT ? -ECONNREFUSED : r);
		}
	}
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	link_close(c->loop, &c->ln);
	c->st = CLIENT_DOWN;
	for (size_t b = 0; b < RPC_BUCKETS; b++) {
		while (c->buckets[b]) {
			struct pending *p = c->buckets[b];
			c->buckets[b] = p->next;
			pending_free_req(p);
			p->done(p->failed ? p->status : -ECANCELED, 0, NULL, 0, -1, p->arg);
			loop_busy_dec(c->loop);
			free(p);
		}
	}
	loop_timer_del(c->loop, c->timer);
	sodium_free(c->pair_key);
	sodium_free(c->frame);
	sodium_free(c->scratch);
	free(c->path);
	free(c);
}

/* ---- blocking client ---- */

int rpc_sync_connect(struct rpc_sync *c, const char *path, enum role me, enum role server,
                     const uint8_t pair_key[CHAN_KEY_BYTES])
{
	*c = (struct rpc_sync){ .sock = -1 };
	int fd = sock_connect_seqpacket(path);
	if (fd < 0)
		return fd;
	uint8_t hello[CHAN_HELLO_BYTES];
	uint8_t ack[CHAN_FRAME_MAX];
	size_t alen;
	int afd = -1;
	/* A listening socket nobody accepts on (its server stopped, the socket
	 * kept by systemd) must not block the caller for ever. */
	struct timeval tv = { .tv_sec = RPC_HANDSHAKE_TIMEOUT_MS / 1000,
		                  .tv_usec = (RPC_HANDSHAKE_TIMEOUT_MS % 1000) * 1000 };
	struct timeval none = { 0 };
	int r = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
	if (r == 0)
		r = chan_client_hello(&c->s, hello, me, server, pair_key);
	if (r == 0)
		r = sock_send_frame(fd, hello, sizeof(hello), -1);
	if (r == 0)
		r = sock_recv_frame(fd, ack, sizeof(ack), &alen, &afd);
	if (r == 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)) < 0)
		r = -errno;
	if (afd >= 0) {
		close(afd);
		r = -EPROTO;
	}
	if (r == 0)
		r = alen ? chan_client_finish(&c->s, ack, alen) : -ECONNRESET;
	if (r < 0) {
		chan_session_clear(&c->s);
		close(fd);
		return r;
	}
	c->sock = fd;
	c->next_call = 1;
	return 0;
}

int rpc_sync_call(struct rpc_sync *c, uint16_t type, const uint8_t *payload, size_t len, int fd,
                  uint16_t *ret_type, uint8_t *reply, size_t reply_cap, size_t *ret_len,
                  int *ret_fd)
{
	if (ret_fd)
		*ret_fd = -1;
	if (len > RPC_PAYLOAD_MAX)
		return -EMSGSIZE;
	uint8_t *plain = xmalloc(CHAN_FRAME_MAX);
	uint8_t *frame = xmalloc(CHAN_FRAME_MAX);
	uint32_t call = c->next_call++;
	le32_store(plain, call);
	if (len)
		memcpy(plain + RPC_CALL_ID_BYTES, payload, len);
	size_t flen;
	int r = chan_seal(&c->s, frame, CHAN_FRAME_MAX, &flen, type, fd >= 0 ? CHAN_FLAG_FD : 0, plain,
	                  RPC_CALL_ID_BYTES + len);
	if (r == 0)
		r = sock_send_frame(c->sock, frame, flen, fd);
	while (r == 0) {
		size_t plen;
		uint16_t rtype;
		uint8_t flags;
		int rfd = -1;
		r = sock_recv_frame(c->sock, frame, CHAN_FRAME_MAX, &flen, &rfd);
		if (r == 0 && flen == 0)
			r = -ECONNRESET;
		if (r == 0)
			r = chan_open(&c->s, plain, CHAN_FRAME_MAX, &plen, &rtype, &flags, frame, flen);
		if (r == 0 && (plen < RPC_CALL_ID_BYTES || ((flags & CHAN_FLAG_FD) != 0) != (rfd >= 0)))
			r = -EBADMSG;
		if (r == 0 && le32_load(plain) != call) {
			if (rfd >= 0)
				close(rfd);
			continue; /* an answer to an earlier, abandoned call */
		}
		if (r == 0 && plen - RPC_CALL_ID_BYTES > reply_cap)
			r = -EMSGSIZE;
		if (r < 0) {
			if (rfd >= 0)
				close(rfd);
			break;
		}
		*ret_type = rtype;
		*ret_len = plen - RPC_CALL_ID_BYTES;
		memcpy(reply, plain + RPC_CALL_ID_BYTES, *ret_len);
		if (ret_fd)
			*ret_fd = rfd;
		else if (rfd >= 0)
			close(rfd);
		break;
	}
	sodium_memzero(plain, CHAN_FRAME_MAX);
	free(plain);
	free(frame);
	return r;
}

void rpc_sync_close(struct rpc_sync *c)
{
	if (c->sock >= 0)
		close(c->sock);
	chan_session_clear(&c->s);
	c->sock = -1;
}
