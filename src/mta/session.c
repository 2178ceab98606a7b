/* session.c: SMTP sessions (see session.h; docs/PROTOCOL.md section 18).
 * One state machine per session, driven by sess_run(): write what is queued,
 * then take commands (or message text) from the input buffer, then read.
 * Replies leave in command order: a RCPT whose Account lookup is running
 * holds a slot in an ordered queue, and only further RCPTs are taken while
 * lookups run (they run in parallel); any other command waits for them.
 * Each session has one timer holding its current deadline. */
#include "mta/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr32.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/dlvrec.h"
#include "common/message.h"
#include "ipc/memfd.h"
#include "mta/datastream.h"
#include "mta/limits.h"
#include "mta/record.h"
#include "mta/smtp.h"

#define SESS_IN_CAP (32u * 1024)  /* input buffer: commands and message text */
#define SESS_OUT_HIGH (16u * 1024) /* take no command while this much is unsent */
#define SESS_REPLY_MAX 200         /* one single-line reply, CRLF included */
#define SESS_SLOTS 128             /* ordered replies waiting for lookups */
/* Lookups one session runs at once: below Account's 32 waiting hashes per
 * fairness tag (PROTOCOL.md 10.2), so one pipelining client is not refused. */
#define SESS_LOOKUPS_MAX 16
#define SESS_WRITE_CHUNK (16u * 1024)
#define NO_DEADLINE UINT64_MAX
#define ACCEPT_PAUSE_MS 100
#define ACC_LOOKUP_REQ_BYTES 15
#define ACC_LOOKUP_ANSWER_BYTES 4
#define ACC_UID_NONE 0xFFFFu
#define ACC_UID_MAX 4095u
#define ADDR_FLAG_REQUIRE_TLS 0x10
#define ADDR_FLAGS_MTA 0x3C

enum sess_state {
	ST_GREETING, /* waiting for greeting_delay_ms before the banner */
	ST_CMD,      /* commands */
	ST_STARTTLS, /* "220 Ready" queued: write it, then the handshake */
	ST_TLS,      /* TLS handshake */
	ST_DATA,     /* message text */
	ST_DELIVER,  /* waiting for Deliver's answer */
	ST_CLOSING,  /* write what is queued, then close */
};

struct slot {
	bool ready;
	uint8_t len;
	char text[SESS_REPLY_MAX];
};

struct rcpt {
	uint32_t seq; /* command order: lookups answer in any order */
	uint8_t addr[ADDR32_BYTES];
	uint8_t local_len;
	uint8_t local[SMTP_LOCAL_MAX];
	uint16_t uid;
	uint8_t flags;
};

struct session;

/* One ACC_LOOKUP in flight. */
struct lookup {
	struct session *s;
	unsigned slot; /* index into the ring */
	struct rcpt r;
};

struct session {
	struct session *next, *prev;
	struct mta_server *srv;
	int fd;
	struct tls_conn *tls;
	struct loop_timer *timer;
	uint64_t deadline;
	uint32_t events;
	bool watched;
	bool in_run;
	bool holds_loop; /* stopping: keeps the loop until the last reply is written */
	bool dead;     /* closed; freed once no call refers to it */
	unsigned refs; /* calls in flight that point at us */
	enum sess_state state;
	struct mta_ipent *ipent;
	uint8_t ip_family;
	uint8_t ip[MSG_IP_BYTES];
	/* session facts */
	bool helo_seen, esmtp;
	uint8_t helo_len;
	uint8_t helo[MSG_HELO_MAX];
	uint16_t flags; /* MSG_EXT_F_* of the session */
	uint8_t tls_version;
	uint16_t tls_suite;
	uint32_t errors;
	uint32_t commands;
	bool discarding; /* inside a command line that is too long */
	/* transaction */
	bool mail;
	uint16_t tx_flags; /* 8BITMIME, SMTPUTF8 */
	uint8_t from_len;
	uint8_t from[MSG_ENV_FROM_MAX];
	unsigned n_rcpt;   /* accepted */
	unsigned pending;  /* lookups in flight */
	uint32_t rcpt_seq;
	struct rcpt rcpt[DLVREC_RCPT_MAX];
	/* message */
	struct memfd_writer mw;
	struct datastream ds;
	uint64_t msg_bytes;
	uint64_t reserved; /* bytes of the server's data memory this message holds */
	bool too_big, no_memory;
	/* input */
	uint8_t *in;
	size_t in_pos, in_len;
	/* output: out[off..len); wlen is a TLS write to repeat after -EAGAIN */
	uint8_t *out;
	size_t out_off, out_len, out_cap, wlen;
	/* ordered replies: ring of SESS_SLOTS, head..head+n (allocated on first use) */
	struct slot *slots;
	unsigned slot_head, slot_n;
};

#define MTA_FDS_PER_SESSION 8 /* four, with room for the channels and logs */

struct mta_server {
	struct loop *loop;
	struct tls_ctx *tls;
	struct rpc_client *acc, *dlv;
	int lfd;
	bool accepting, stopping;
	struct loop_timer *accept_timer;
	struct mta_opts o;
	struct mta_limits *lim;
	struct session *sessions;
	size_t n;
	uint64_t data_used;
	int fd_limit; /* RLIMIT_NOFILE: a session past it is refused, not fatal */
	struct mta_stats st;
	uint8_t scratch[SESS_IN_CAP + DATASTREAM_SLACK];
};

static void sess_run(struct session *s);
static void sess_close(struct session *s);
static void sess_free(struct session *s);

/* ---- output ---- */

static void out_append(struct session *s, const void *p, size_t n)
{
	if (s->out_off == s->out_len && !s->wlen)
		s->out_off = s->out_len = 0;
	if (s->out_len + n > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 1024;
		while (cap < s->out_len + n)
			cap *= 2;
		s->out = xrealloc(s->out, cap);
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, p, n);
	s->out_len += n;
}

static size_t out_pending(const struct session *s) { return s->out_len - s->out_off; }

/* Moves the ready replies at the head of the ring to the output. */
static void slots_drain(struct session *s)
{
	while (s->slot_n && s->slots[s->slot_head].ready) {
		struct slot *sl = &s->slots[s->slot_head];
		out_append(s, sl->text, sl->len);
		sl->ready = false;
		s->slot_head = (s->slot_head + 1) % SESS_SLOTS;
		s->slot_n--;
	}
}

static unsigned slot_reserve(struct session *s)
{
	if (!s->slots)
		s->slots = xcalloc(SESS_SLOTS, sizeof(*s->slots)); /* only pipelining sessions */
	unsigned i = (s->slot_head + s->slot_n) % SESS_SLOTS;
	s->slots[i].ready = false;
	s->slot_n++;
	return i;
}

static void slot_fill(struct session *s, unsigned i, const char *text)
{
	size_t n = strlen(text);
	if (n + 2 > SESS_REPLY_MAX)
		fatalx("mta: a reply is too long");
	memcpy(s->slots[i].text, text, n);
	memcpy(s->slots[i].text + n, "\r\n", 2);
	s->slots[i].len = (uint8_t)(n + 2);
	s->slots[i].ready = true;
	slots_drain(s);
}

/* Queues one reply line (text without CRLF) behind any that wait. */
static void reply(struct session *s, const char *text)
{
	if (s->slot_n) {
		slot_fill(s, slot_reserve(s), text);
		return;
	}
	out_append(s, text, strlen(text));
	out_append(s, "\r\n", 2);
}

static void replyf(struct session *s, const char *fmt, ...) PRINTF(2, 3);
static void replyf(struct session *s, const char *fmt, ...)
{
	char buf[SESS_REPLY_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		fatalx("mta: a reply is too long");
	reply(s, buf);
}

/* ---- plumbing: events, deadlines, I/O ---- */

static void on_event(struct loop *l, int fd, uint32_t events, void *data);

static void set_events(struct session *s, uint32_t ev)
{
	if (!ev) {
		if (s->watched) {
			loop_del_fd(s->srv->loop, s->fd);
			s->watched = false;
			s->events = 0;
		}
		return;
	}
	if (!s->watched) {
		if (loop_add_fd(s->srv->loop, s->fd, ev, on_event, s) < 0)
			fatal("loop_add_fd(smtp session)");
		s->watched = true;
		s->events = ev;
	} else if (ev != s->events) {
		if (loop_mod_fd(s->srv->loop, s->fd, ev) < 0)
			fatal("loop_mod_fd(smtp session)");
		s->events = ev;
	}
}

static void set_deadline(struct session *s, uint64_t ms)
{
	if (ms == NO_DEADLINE) {
		s->deadline = NO_DEADLINE;
		loop_timer_rearm(s->timer, 86400000);
		return;
	}
	s->deadline = loop_now_ms() + ms;
	loop_timer_rearm(s->timer, ms);
}

static ssize_t io_read(struct session *s, uint8_t *buf, size_t n)
{
	if (s->tls)
		return tls_conn_read(s->tls, buf, n);
	for (;;) {
		ssize_t r = recv(s->fd, buf, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static ssize_t io_write(struct session *s, const uint8_t *buf, size_t n)
{
	if (s->tls)
		return tls_conn_write(s->tls, buf, n);
	for (;;) {
		ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Writes what is queued: 1 when all is sent, 0 to wait (*ev set), -1 dead. */
static int flush(struct session *s, uint32_t *ev)
{
	while (out_pending(s)) {
		size_t n = s->wlen;
		if (!n) {
			n = out_pending(s);
			if (n > SESS_WRITE_CHUNK)
				n = SESS_WRITE_CHUNK;
		}
		ssize_t w = io_write(s, s->out + s->out_off, n);
		if (w == -EAGAIN) {
			s->wlen = n;
			*ev |= s->tls ? tls_conn_events(s->tls) : EPOLLOUT;
			return 0;
		}
		if (w <= 0)
			return -1;
		s->wlen = 0;
		s->out_off += (size_t)w;
	}
	s->out_off = s->out_len = 0;
	return 1;
}

/* ---- the message's memory ---- */

static void msg_release(struct session *s)
{
	memfd_writer_abort(&s->mw);
	s->srv->data_used -= s->reserved;
	s->reserved = 0;
}

static bool msg_reserve(struct session *s, size_t n)
{
	struct mta_server *srv = s->srv;
	if (n > srv->o.data_memory - srv->data_used)
		return false;
	srv->data_used += n;
	s->reserved += n;
	return true;
}

/* ---- session facts ---- */

static void tx_reset(struct session *s)
{
	s->mail = false;
	s->tx_flags = 0;
	s->from_len = 0;
	s->n_rcpt = 0;
	s->too_big = s->no_memory = false;
	s->msg_bytes = 0;
	msg_release(s);
}

static void count_error(struct session *s)
{
	s->errors++;
}

/* Copies text for the record: at most max bytes, whole UTF-8 characters,
 * anything LINE does not allow turned into '?'. */
static uint8_t copy_line(uint8_t *dst, const uint8_t *p, size_t n, size_t max)
{
	n = msg_text_cut(p, n, max);
	memcpy(dst, p, n);
	msg_text_sanitize(dst, n, MSG_TEXT_LINE);
	return (uint8_t)n;
}

static const char *ip_text(const struct session *s, char *buf, size_t cap)
{
	if (!s->srv->o.log_ips)
		return "-";
	if (!inet_ntop(s->ip_family == MSG_IP_V4 ? AF_INET : AF_INET6, s->ip, buf, (socklen_t)cap))
		return "?";
	return buf;
}

/* ---- recipients (Account) ---- */

static void lookup_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd,
                        void *arg)
{
	struct lookup *lk = arg;
	struct session *s = lk->s;
	struct mta_server *srv = s->srv;
	if (fd >= 0)
		close(fd);
	s->refs--;
	s->pending--;
	if (s->dead) {
		free(lk);
		if (!s->refs)
			sess_free(s);
		return;
	}
	const char *text;
	if (status < 0 || type != ACC_LOOKUP || len != ACC_LOOKUP_ANSWER_BYTES) {
		if (status >= 0)
			log_err("mta: Account sent a malformed lookup answer");
		srv->st.rcpt_tempfail++;
		text = "451 4.3.0 Temporary failure, please try again later";
	} else {
		uint16_t uid = le16_load(p + 1);
		uint8_t flags = p[3];
		switch (p[0]) {
		case CHST_OK:
			if ((uid > ACC_UID_MAX && uid != ACC_UID_NONE) || (flags & ~ADDR_FLAGS_MTA)) {
				log_err("mta: Account sent a malformed lookup answer");
				srv->st.rcpt_tempfail++;
				text = "451 4.3.0 Temporary failure, please try again later";
				break;
			}
			if ((flags & ADDR_FLAG_REQUIRE_TLS) && !s->tls) {
				srv->st.rcpt_need_tls++;
				text = "450 4.7.0 Recipient requires TLS: use STARTTLS";
				break;
			}
			srv->st.rcpt_ok++;
			text = "250 2.1.5 Recipient OK";
			/* The same address twice is one copy. */
			for (unsigned i = 0; i < s->n_rcpt; i++) {
				if (memcmp(s->rcpt[i].addr, lk->r.addr, ADDR32_BYTES) == 0)
					goto same;
			}
			lk->r.uid = uid;
			lk->r.flags = flags;
			{
				unsigned at = s->n_rcpt;
				while (at > 0 && s->rcpt[at - 1].seq > lk->r.seq) {
					s->rcpt[at] = s->rcpt[at - 1];
					at--;
				}
				s->rcpt[at] = lk->r;
				s->n_rcpt++;
			}
		same:
			break;
		case CHST_NOT_FOUND:
		case CHST_INVALID:
			srv->st.rcpt_unknown++;
			count_error(s);
			text = "550 5.1.1 No such recipient";
			break;
		case CHST_TEMPFAIL:
			srv->st.rcpt_tempfail++;
			text = "451 4.7.1 Busy, please try again later";
			break;
		default:
			log_err("mta: Account answered a lookup with status %u", p[0]);
			srv->st.rcpt_tempfail++;
			text = "451 4.3.0 Temporary failure, please try again later";
			break;
		}
	}
	slot_fill(s, lk->slot, text);
	free(lk);
	if (!s->in_run)
		sess_run(s);
}

static void do_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct mta_server *srv = s->srv;
	if (!s->mail) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if (s->n_rcpt + s->pending >= DLVREC_RCPT_MAX) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	const uint8_t *local = c->path.local;
	size_t local_len = c->path.local_len;
	if (!c->path.postmaster &&
	    (c->path.literal || !smtp_ascii_caseeq(c->path.domain, c->path.domain_len,
	                                           srv->o.domain, strlen(srv->o.domain)))) {
		srv->st.rcpt_relay++;
		count_error(s);
		reply(s, "550 5.7.1 Relaying denied: not a domain served here");
		return;
	}
	if (c->path.utf8 && !(s->tx_flags & MSG_EXT_F_SMTPUTF8)) {
		count_error(s);
		reply(s, "553 5.6.7 Non-ASCII address without SMTPUTF8");
		return;
	}
	struct rcpt r = { 0 };
	if (addr32_parse((const char *)local, local_len, r.addr) == ADDR32_INVALID) {
		srv->st.rcpt_unknown++;
		count_error(s);
		reply(s, "550 5.1.1 No such recipient");
		return;
	}
	/* The rate limit comes before Account: its Argon2 hash is the expensive part. */
	if (!mta_limits_take_rcpt(srv->lim, s->ipent, loop_now_ms())) {
		srv->st.rcpt_rate++;
		reply(s, "450 4.7.1 Too many recipients from your network, try again later");
		return;
	}
	r.local_len = copy_line(r.local, local, local_len, SMTP_LOCAL_MAX);
	r.seq = s->rcpt_seq++;
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	lk->s = s;
	lk->r = r;
	lk->slot = slot_reserve(s);
	uint8_t req[ACC_LOOKUP_REQ_BYTES];
	memcpy(req, r.addr, ADDR32_BYTES);
	le32_store(req + ADDR32_BYTES, mta_limits_tag(s->ipent));
	req[ADDR32_BYTES + 4] = 0;
	s->pending++;
	s->refs++;
	rpc_call(srv->acc, ACC_LOOKUP, req, sizeof(req), -1, srv->o.lookup_timeout_ms, lookup_done,
	         lk);
}

/* ---- DATA and Deliver ---- */

static void deliver_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd,
                         void *arg)
{
	struct session *s = arg;
	struct mta_server *srv = s->srv;
	if (fd >= 0)
		close(fd);
	s->refs--;
	msg_release(s); /* Deliver has the message now, or never will */
	if (s->dead) {
		if (!s->refs)
			sess_free(s);
		return;
	}
	int st = status < 0 || type != DLV_DELIVER ? -EIO : mta_record_answer(p, len, s->n_rcpt);
	if (status < 0)
		log_warn("mta: Deliver did not answer (%s)", strerror(-status));
	else if (st < 0)
		log_err("mta: Deliver sent a malformed answer");
	switch (st) {
	case CHST_OK:
		srv->st.messages++;
		reply(s, "250 2.0.0 Message accepted for delivery");
		break;
	case CHST_LIMIT:
		srv->st.msg_limit++;
		reply(s, "452 4.2.2 Mailbox full, try again later");
		break;
	default:
		if (st >= 0 && st != CHST_TEMPFAIL)
			log_err("mta: Deliver answered status %d", st);
		srv->st.msg_tempfail++;
		reply(s, "451 4.3.0 Temporary failure, please try again later");
		break;
	}
	tx_reset(s);
	s->state = srv->stopping ? ST_CLOSING : ST_CMD;
	if (srv->stopping) {
		reply(s, "421 4.3.2 Service shutting down");
		s->holds_loop = true;
		loop_busy_inc(srv->loop);
	}
	set_deadline(s, srv->o.command_timeout_ms);
	if (!s->in_run)
		sess_run(s);
}

static uint8_t tls_version_code(uint16_t v)
{
	return v == TLS_VERSION_1_3 ? MSG_TLS_1_3 : v == TLS_VERSION_1_2 ? MSG_TLS_1_2 : MSG_TLS_NONE;
}

/* The record's flags. PIPELINING describes an ESMTP session: a client that
 * pipelined after EHLO and then said HELO (or HELO again after STARTTLS) is
 * plain SMTP now. */
static uint16_t record_flags(const struct session *s)
{
	uint16_t f = (uint16_t)((s->flags | s->tx_flags) & DLVREC_FLAGS_ALLOWED);
	if (!(f & MSG_EXT_F_ESMTP))
		f &= (uint16_t)~MSG_EXT_F_PIPELINING;
	return f;
}

/* Opens the memfd and writes the record's header (ts and flags are patched
 * at the end). */
static int data_begin(struct session *s)
{
	struct dlvrec r;
	memset(&r, 0, sizeof(r));
	r.ip_family = s->ip_family;
	memcpy(r.ip, s->ip, MSG_IP_BYTES);
	r.tls_version = s->tls_version;
	r.tls_suite = s->tls_suite;
	r.flags = record_flags(s);
	r.helo = (struct msg_str){ s->helo, s->helo_len };
	r.env_from = (struct msg_str){ s->from, s->from_len };
	r.rcpt_count = (uint8_t)s->n_rcpt;
	for (unsigned i = 0; i < s->n_rcpt; i++) {
		r.rcpt[i].uid = s->rcpt[i].uid;
		r.rcpt[i].flags = s->rcpt[i].flags;
		r.rcpt[i].local = (struct msg_str){ s->rcpt[i].local, s->rcpt[i].local_len };
	}
	struct wr w = WR_INIT;
	int rc = dlvrec_encode_head(&w, &r);
	if (rc < 0) {
		log_err("mta: a delivery record did not encode");
		wr_free(&w);
		return rc;
	}
	if (!msg_reserve(s, w.len)) {
		wr_free(&w);
		return -ENOMEM;
	}
	rc = memfd_writer_open(&s->mw, "allears-mta-message");
	if (rc == 0)
		rc = memfd_writer_append(&s->mw, w.p, w.len);
	wr_free(&w);
	if (rc < 0)
		msg_release(s);
	return rc;
}

static void data_bytes(struct session *s, const uint8_t *p, size_t n)
{
	if (!n || s->too_big || s->no_memory)
		return;
	s->msg_bytes += n;
	if (s->msg_bytes > s->srv->o.max_message_bytes) {
		s->too_big = true;
		msg_release(s);
		return;
	}
	if (!msg_reserve(s, n) || memfd_writer_append(&s->mw, p, n) < 0) {
		s->no_memory = true;
		msg_release(s);
	}
}

static uint64_t now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void data_end(struct session *s)
{
	struct mta_server *srv = s->srv;
	uint8_t odd = s->ds.odd;
	if (odd & DATASTREAM_BARE_LF)
		s->flags |= MSG_EXT_F_BARE_LF;
	if (odd & (DATASTREAM_BARE_CR | DATASTREAM_NUL | DATASTREAM_LONG_LINE))
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
	s->state = ST_CMD;
	set_deadline(s, srv->o.command_timeout_ms);
	if (s->too_big) {
		srv->st.msg_too_big++;
		reply(s, "552 5.3.4 Message too big");
		tx_reset(s);
		return;
	}
	int fd = -1;
	int rc = s->no_memory ? -ENOMEM : 0;
	if (rc == 0)
		rc = mta_record_patch(s->mw.fd, record_flags(s),
		                      now_unix_ms());
	if (rc == 0) {
		uint64_t size = s->mw.len;
		fd = memfd_writer_finish(&s->mw);
		rc = fd < 0 ? fd : 0;
		if (rc == 0) {
			uint8_t req[8];
			le64_store(req, size);
			s->refs++;
			s->state = ST_DELIVER;
			set_deadline(s, NO_DEADLINE);
			rpc_call(srv->dlv, DLV_DELIVER, req, sizeof(req), fd, srv->o.deliver_timeout_ms,
			         deliver_done, s);
			close(fd);
			return;
		}
	}
	srv->st.msg_no_memory++;
	reply(s, "452 4.3.1 Insufficient system storage, try again later");
	tx_reset(s); /* releases the message's memory */
}

/* Feeds buffered input to the message; true when the message has ended. */
static bool data_input(struct session *s)
{
	struct mta_server *srv = s->srv;
	while (s->in_pos < s->in_len) {
		size_t o;
		size_t used = datastream_feed(&s->ds, s->in + s->in_pos, s->in_len - s->in_pos,
		                              srv->scratch, &o);
		s->in_pos += used;
		data_bytes(s, srv->scratch, o);
		if (s->ds.done) {
			data_end(s);
			return true;
		}
	}
	return false;
}

static void do_data(struct session *s)
{
	if (!s->mail) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "503 5.5.1 Need MAIL before DATA");
		return;
	}
	if (!s->n_rcpt) {
		reply(s, "554 5.5.1 No valid recipients");
		return;
	}
	int rc = data_begin(s);
	if (rc < 0) {
		s->srv->st.msg_no_memory++;
		reply(s, "452 4.3.1 Insufficient system storage, try again later");
		return;
	}
	datastream_init(&s->ds);
	s->msg_bytes = 0;
	s->state = ST_DATA;
	set_deadline(s, s->srv->o.data_timeout_ms);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* ---- other commands ---- */

static void do_helo(struct session *s, const struct smtp_cmd *c, bool ehlo)
{
	struct mta_server *srv = s->srv;
	tx_reset(s);
	s->helo_seen = true;
	s->esmtp = ehlo;
	s->helo_len = copy_line(s->helo, c->arg, c->arg_len, MSG_HELO_MAX);
	if (ehlo)
		s->flags |= MSG_EXT_F_ESMTP;
	else
		s->flags &= (uint16_t)~MSG_EXT_F_ESMTP;
	if (!ehlo) {
		replyf(s, "250 %s", srv->o.hostname);
		return;
	}
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
	                 "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n%s"
	                 "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
	                 srv->o.hostname, (unsigned long long)srv->o.max_message_bytes,
	                 s->tls || !srv->tls ? "" : "250-STARTTLS\r\n");
	if (n < 0 || (size_t)n >= sizeof(buf))
		fatalx("mta: the EHLO answer is too long");
	out_append(s, buf, (size_t)n);
}

static void do_mail(struct session *s, const struct smtp_cmd *c)
{
	struct mta_server *srv = s->srv;
	if (s->mail) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "503 5.5.1 Sender already given");
		return;
	}
	const struct smtp_params *pm = &c->params;
	if (!s->esmtp && (pm->size_given || pm->body != SMTP_BODY_NONE || pm->smtputf8)) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "555 5.5.4 Parameters need EHLO");
		return;
	}
	if (c->path.utf8 && !pm->smtputf8) {
		count_error(s);
		reply(s, "553 5.6.7 Non-ASCII address without SMTPUTF8");
		return;
	}
	if (pm->size_given && pm->size > srv->o.max_message_bytes) {
		reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	s->mail = true;
	s->n_rcpt = 0;
	s->tx_flags = 0;
	if (pm->body == SMTP_BODY_8BITMIME)
		s->tx_flags |= MSG_EXT_F_8BITMIME;
	if (pm->smtputf8)
		s->tx_flags |= MSG_EXT_F_SMTPUTF8;
	s->from_len = c->path.null ? 0
	                           : copy_line(s->from, c->path.mailbox, c->path.mailbox_len,
	                                       MSG_ENV_FROM_MAX);
	reply(s, "250 2.1.0 Sender OK");
}

static void do_starttls(struct session *s)
{
	struct mta_server *srv = s->srv;
	if (s->tls || !srv->tls) {
		count_error(s);
		s->flags |= MSG_EXT_F_INVALID_CMDS;
		reply(s, s->tls ? "503 5.5.1 TLS is already active" : "502 5.5.1 Not available");
		return;
	}
	if (!s->esmtp) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->in_len > s->in_pos) {
		/* Bytes sent after STARTTLS in plain text (CVE-2011-0411): nothing
		 * of them may count as if it came through TLS. */
		srv->st.starttls_injection++;
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "554 5.5.1 Data after STARTTLS refused, closing");
		s->state = ST_CLOSING;
		return;
	}
	tx_reset(s);
	reply(s, "220 2.0.0 Ready to start TLS");
	s->state = ST_STARTTLS;
}

/* Whether a command must be the last of a pipelined group (RFC 2920 3.1). */
static bool ends_group(enum smtp_verb v)
{
	return v != SMTP_MAIL && v != SMTP_RCPT && v != SMTP_RSET;
}

static void syntax_reply(struct session *s, const struct smtp_cmd *c)
{
	count_error(s);
	s->flags |= MSG_EXT_F_PROTO_VIOLATION;
	switch (c->err) {
	case SMTP_E_PATH:
		reply(s, c->verb == SMTP_MAIL ? "501 5.1.7 Bad sender address syntax"
		                              : "501 5.1.3 Bad recipient address syntax");
		break;
	case SMTP_E_PARAM:
		reply(s, "555 5.5.4 Unsupported parameter");
		break;
	case SMTP_E_PARAM_VALUE:
		reply(s, "501 5.5.4 Invalid parameter value");
		break;
	default:
		if (c->verb == SMTP_HELO || c->verb == SMTP_EHLO)
			reply(s, "501 5.5.4 Syntax: EHLO hostname");
		else
			reply(s, "501 5.5.2 Syntax error");
		break;
	}
}

static void command(struct session *s, const struct smtp_cmd *c)
{
	struct mta_server *srv = s->srv;
	if (c->verb == SMTP_UNKNOWN || c->verb == SMTP_UNSUPPORTED) {
		count_error(s);
		srv->st.invalid_cmds++;
		s->flags |= MSG_EXT_F_INVALID_CMDS;
		reply(s, c->verb == SMTP_UNKNOWN ? "500 5.5.2 Command not recognized"
		                                 : "502 5.5.1 Command not implemented");
		return;
	}
	if (c->err) {
		syntax_reply(s, c);
		return;
	}
	if (c->lenient)
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
	if (!s->helo_seen && (c->verb == SMTP_MAIL || c->verb == SMTP_RCPT || c->verb == SMTP_DATA)) {
		count_error(s);
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
		reply(s, "503 5.5.1 Send EHLO or HELO first");
		return;
	}
	switch (c->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		do_helo(s, c, c->verb == SMTP_EHLO);
		break;
	case SMTP_MAIL:
		do_mail(s, c);
		break;
	case SMTP_RCPT:
		do_rcpt(s, c);
		break;
	case SMTP_DATA:
		do_data(s);
		break;
	case SMTP_RSET:
		s->flags |= MSG_EXT_F_RARE_CMDS;
		tx_reset(s);
		reply(s, "250 2.0.0 OK");
		break;
	case SMTP_NOOP:
		s->flags |= MSG_EXT_F_RARE_CMDS;
		reply(s, "250 2.0.0 OK");
		break;
	case SMTP_VRFY:
		s->flags |= MSG_EXT_F_RARE_CMDS;
		reply(s, "252 2.5.0 Cannot verify, but will accept the message and try delivery");
		break;
	case SMTP_HELP:
		s->flags |= MSG_EXT_F_RARE_CMDS;
		reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
		         "STARTTLS");
		break;
	case SMTP_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->state = ST_CLOSING;
		break;
	case SMTP_STARTTLS:
		do_starttls(s);
		break;
	default:
		break;
	}
}

/* Takes the commands that are buffered, as far as the rules of ordering
 * allow. */
static void commands(struct session *s)
{
	struct mta_server *srv = s->srv;
	while (s->state == ST_CMD && !s->dead) {
		if (out_pending(s) > SESS_OUT_HIGH)
			return;
		if (s->errors >= srv->o.max_errors || s->commands >= MTA_SESSION_COMMANDS_MAX) {
			if (s->pending)
				return; /* the replies owed come first */
			srv->st.closed_errors++;
			reply(s, "421 4.7.0 Too many errors, closing connection");
			s->state = ST_CLOSING;
			return;
		}
		uint8_t *p = s->in + s->in_pos;
		size_t avail = s->in_len - s->in_pos;
		uint8_t *lf = memchr(p, '\n', avail);
		if (s->discarding) {
			if (!lf) {
				s->in_pos = s->in_len;
				return;
			}
			s->in_pos += (size_t)(lf - p) + 1;
			s->discarding = false;
			continue;
		}
		size_t line_len = lf ? (size_t)(lf - p) : avail;
		bool cr = lf && line_len > 0 && p[line_len - 1] == '\r';
		size_t text_len = cr ? line_len - 1 : line_len;
		if (!lf && avail < SMTP_LINE_MAX)
			return; /* wait for the rest of the line */
		if (text_len > SMTP_LINE_MAX - 2) {
			if (s->pending)
				return;
			s->commands++;
			count_error(s);
			s->flags |= MSG_EXT_F_PROTO_VIOLATION;
			reply(s, "500 5.5.2 Line too long");
			if (lf) {
				s->in_pos += line_len + 1;
			} else {
				s->in_pos = s->in_len;
				s->discarding = true;
			}
			continue;
		}
		struct smtp_cmd c;
		smtp_parse(p, text_len, &c);
		if (s->pending && (c.verb != SMTP_RCPT || s->slot_n >= SESS_SLOTS ||
		                   s->pending >= SESS_LOOKUPS_MAX))
			return; /* replies owed first */
		s->in_pos += line_len + 1;
		s->commands++;
		if (!cr)
			s->flags |= MSG_EXT_F_BARE_LF;
		if (s->in_pos < s->in_len) {
			/* More input came before our reply: pipelining, which is only
			 * allowed after EHLO offered it, and not after every command. */
			if (!s->esmtp || ends_group(c.verb))
				s->flags |= MSG_EXT_F_PROTO_VIOLATION;
			else
				s->flags |= MSG_EXT_F_PIPELINING;
		}
		set_deadline(s, srv->o.command_timeout_ms);
		command(s, &c);
	}
}

/* ---- the state machine ---- */

static bool wants_input(const struct session *s)
{
	if (s->state != ST_CMD && s->state != ST_DATA)
		return false;
	return s->in_len - s->in_pos < SESS_IN_CAP;
}

static void tls_begin(struct session *s)
{
	struct mta_server *srv = s->srv;
	/* Nothing may be buffered: do_starttls refused that already. */
	if (tls_conn_starttls(srv->tls, s->fd, s->in_len - s->in_pos, &s->tls) < 0) {
		srv->st.tls_failed++;
		s->tls = NULL;
		s->state = ST_CLOSING;
		return;
	}
	s->in_pos = s->in_len = 0;
	s->state = ST_TLS;
	s->flags |= MSG_EXT_F_STARTTLS;
	set_deadline(s, srv->o.command_timeout_ms);
}

static void sess_run(struct session *s)
{
	struct mta_server *srv = s->srv;
	s->in_run = true;
	for (;;) {
		uint32_t ev = 0;
		if (s->state == ST_GREETING)
			break;
		int f = flush(s, &ev);
		if (f < 0)
			goto dead;
		if (s->state == ST_CLOSING) {
			if (f == 1)
				goto dead;
			set_events(s, ev);
			break;
		}
		if (s->state == ST_STARTTLS) {
			if (f == 0) {
				set_events(s, ev);
				break;
			}
			tls_begin(s);
			continue;
		}
		if (s->state == ST_TLS) {
			int rc = tls_conn_handshake(s->tls);
			if (rc == -EAGAIN) {
				set_events(s, tls_conn_events(s->tls));
				break;
			}
			if (rc < 0) {
				srv->st.tls_failed++;
				log_debug("mta: a STARTTLS handshake failed (%s)",
				          tls_error_name(tls_conn_error(s->tls)));
				goto dead;
			}
			srv->st.tls_ok++;
			s->tls_version = tls_version_code(tls_conn_version(s->tls));
			s->tls_suite = tls_conn_cipher(s->tls);
			if (!s->tls_version || !s->tls_suite)
				goto dead; /* the policy allows 1.2 and 1.3 only */
			/* RFC 3207 4.2: forget what the client said before TLS. */
			s->helo_seen = s->esmtp = false;
			s->helo_len = 0;
			s->flags &= (uint16_t)~MSG_EXT_F_ESMTP;
			s->state = ST_CMD;
			set_deadline(s, srv->o.command_timeout_ms);
			continue;
		}
		/* ST_CMD, ST_DATA, ST_DELIVER: take what is buffered, then read. */
		size_t pos_before = s->in_pos;
		enum sess_state st_before = s->state;
		if (s->state == ST_DATA)
			data_input(s);
		if (s->state == ST_CMD)
			commands(s);
		if (s->dead)
			goto out;
		if (s->state != st_before || s->in_pos != pos_before)
			continue; /* progress: write the replies, look again */
		if (!wants_input(s)) {
			set_events(s, ev);
			break;
		}
		if (s->in_pos == s->in_len) {
			s->in_pos = s->in_len = 0;
		} else if (s->in_pos > 0 && s->in_len == SESS_IN_CAP) {
			memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
			s->in_len -= s->in_pos;
			s->in_pos = 0;
		}
		ssize_t n = io_read(s, s->in + s->in_len, SESS_IN_CAP - s->in_len);
		if (n == -EAGAIN) {
			ev |= s->tls ? tls_conn_events(s->tls) : EPOLLIN;
			set_events(s, ev);
			break;
		}
		if (n <= 0)
			goto dead; /* the client closed or the connection failed */
		if (s->state == ST_DATA)
			set_deadline(s, srv->o.data_timeout_ms);
		s->in_len += (size_t)n;
	}
out:
	s->in_run = false;
	return;
dead:
	s->in_run = false;
	sess_close(s);
}

static void on_event(struct loop *l, int fd, uint32_t events, void *data)
{
	sess_run(data);
}

/* ---- life and death ---- */

static void sess_free(struct session *s)
{
	free(s->in);
	free(s->out);
	free(s->slots);
	free(s);
}

static void sess_close(struct session *s)
{
	struct mta_server *srv = s->srv;
	if (!s->dead) {
		s->dead = true;
		if (s->state != ST_DELIVER)
			msg_release(s); /* a message in Deliver's hands is released by its answer */
		if (s->holds_loop)
			loop_busy_dec(srv->loop);
		if (s->tls && tls_conn_established(s->tls))
			(void)tls_conn_shutdown(s->tls);
		set_events(s, 0);
		loop_timer_del(srv->loop, s->timer);
		s->timer = NULL;
		tls_conn_free(s->tls);
		s->tls = NULL;
		close(s->fd);
		s->fd = -1;
		mta_limits_close(srv->lim, s->ipent, loop_now_ms());
		if (s->prev)
			s->prev->next = s->next;
		else
			srv->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		srv->n--;
	}
	if (!s->refs)
		sess_free(s);
}

static void greet(struct session *s)
{
	struct mta_server *srv = s->srv;
	uint8_t b;
	/* A client that talks before the greeting breaks RFC 5321 3.1. */
	if (recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		s->flags |= MSG_EXT_F_PROTO_VIOLATION;
	replyf(s, "220 %s ESMTP allears", srv->o.hostname);
	s->state = ST_CMD;
	set_deadline(s, srv->o.command_timeout_ms);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct session *s = data;
	struct mta_server *srv = s->srv;
	uint64_t now = loop_now_ms();
	if (s->deadline == NO_DEADLINE) {
		loop_timer_rearm(t, 86400000);
		return;
	}
	if (now < s->deadline) {
		loop_timer_rearm(t, s->deadline - now);
		return;
	}
	if (s->state == ST_GREETING) {
		greet(s);
		sess_run(s);
		return;
	}
	if (s->pending && !out_pending(s)) {
		/* We owe the replies; Account's deadline bounds the wait. */
		set_deadline(s, srv->o.command_timeout_ms);
		return;
	}
	srv->st.timeouts++;
	log_debug("mta: a session timed out (%s)",
	          s->state == ST_DATA ? "data" : s->state == ST_TLS ? "handshake" : "command");
	if (s->state == ST_CMD || s->state == ST_DATA) {
		uint32_t ev = 0;
		reply(s, "421 4.4.2 Timeout, closing connection");
		(void)flush(s, &ev);
	}
	sess_close(s);
}

/* ---- accepting ---- */

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data);

static void accept_resume(struct loop *l, struct loop_timer *t, void *data)
{
	struct mta_server *srv = data;
	if (srv->stopping || srv->accepting)
		return;
	if (loop_add_fd(l, srv->lfd, EPOLLIN, on_accept, srv) < 0)
		fatal("loop_add_fd(smtp listener)");
	srv->accepting = true;
}

static void refuse(int fd, const char *host, const char *why)
{
	char buf[SESS_REPLY_MAX];
	int n = snprintf(buf, sizeof(buf), "421 4.7.0 %s %s\r\n", host, why);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static bool peer_of(const struct sockaddr_storage *ss, uint8_t *family, uint8_t ip[MSG_IP_BYTES])
{
	memset(ip, 0, MSG_IP_BYTES);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		memcpy(ip, &a->sin_addr, 4);
		*family = MSG_IP_V4;
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			memcpy(ip, a->sin6_addr.s6_addr + 12, 4);
			*family = MSG_IP_V4;
		} else {
			memcpy(ip, a->sin6_addr.s6_addr, 16);
			*family = MSG_IP_V6;
		}
		return true;
	}
	return false;
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	struct mta_server *srv = data;
	while (srv->accepting) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("mta: cannot accept connections for now: %s", strerror(errno));
				loop_del_fd(l, lfd);
				srv->accepting = false;
				loop_timer_rearm(srv->accept_timer, ACCEPT_PAUSE_MS);
			}
			return;
		}
		uint8_t family, ip[MSG_IP_BYTES];
		if (!peer_of(&ss, &family, ip)) {
			close(fd);
			continue;
		}
		/* Descriptors are handed out lowest first: a session needs up to four
		 * (socket, timer, the message's memfd and its copy in flight). */
		if (srv->n >= srv->o.max_sessions || fd + MTA_FDS_PER_SESSION >= srv->fd_limit) {
			srv->st.refused_busy++;
			refuse(fd, srv->o.hostname, "Too many connections, try again later");
			continue;
		}
		struct mta_ipent *ent;
		if (mta_limits_open(srv->lim, family == MSG_IP_V4 ? 4 : 6, ip, loop_now_ms(), &ent) < 0) {
			srv->st.refused_ip++;
			if (srv->o.log_ips) {
				char t[INET6_ADDRSTRLEN];
				inet_ntop(family == MSG_IP_V4 ? AF_INET : AF_INET6, ip, t, sizeof(t));
				log_info("mta: too many sessions from %s", t);
			}
			refuse(fd, srv->o.hostname, "Too many connections from your network");
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct session *s = xcalloc(1, sizeof(*s));
		s->srv = srv;
		s->fd = fd;
		s->ipent = ent;
		s->ip_family = family;
		memcpy(s->ip, ip, MSG_IP_BYTES);
		s->mw.fd = -1;
		s->in = xmalloc(SESS_IN_CAP);
		s->timer = loop_timer_add(l, 86400000, false, on_timer, s);
		s->deadline = NO_DEADLINE;
		s->next = srv->sessions;
		if (srv->sessions)
			srv->sessions->prev = s;
		srv->sessions = s;
		srv->n++;
		srv->st.sessions++;
		if (srv->o.log_ips) {
			char t[INET6_ADDRSTRLEN];
			log_debug("mta: session from %s", ip_text(s, t, sizeof(t)));
		}
		if (srv->o.greeting_delay_ms) {
			s->state = ST_GREETING;
			set_deadline(s, srv->o.greeting_delay_ms);
			continue;
		}
		greet(s);
		sess_run(s);
	}
}

struct mta_server *mta_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                  struct rpc_client *acc, struct rpc_client *dlv,
                                  const struct mta_opts *o)
{
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("mta: the listening socket");
	struct mta_server *srv = xcalloc(1, sizeof(*srv));
	struct rlimit rl;
	srv->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < INT_MAX ? (int)rl.rlim_cur
	                                                                               : INT_MAX;
	srv->loop = l;
	srv->tls = tls;
	srv->acc = acc;
	srv->dlv = dlv;
	srv->lfd = lfd;
	srv->o = *o;
	srv->lim = mta_limits_new(o->max_sessions_per_ip, o->rcpts_per_ip_minute, o->max_sessions);
	srv->accept_timer = loop_timer_add(l, 86400000, false, accept_resume, srv);
	if (loop_add_fd(l, lfd, EPOLLIN, on_accept, srv) < 0)
		fatal("loop_add_fd(smtp listener)");
	srv->accepting = true;
	return srv;
}

void mta_server_stop(struct mta_server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	if (srv->accepting)
		loop_del_fd(srv->loop, srv->lfd);
	srv->accepting = false;
	struct session *s = srv->sessions;
	while (s) {
		struct session *next = s->next;
		if (s->state != ST_DELIVER) {
			/* Nothing was acknowledged: the client sends it again later. */
			uint32_t ev = 0;
			if (s->state == ST_CMD || s->state == ST_DATA || s->state == ST_GREETING) {
				reply(s, "421 4.3.2 Service shutting down");
				(void)flush(s, &ev);
			}
			sess_close(s);
		}
		s = next;
	}
}

void mta_server_free(struct mta_server *srv)
{
	if (!srv)
		return;
	if (srv->accepting)
		loop_del_fd(srv->loop, srv->lfd);
	while (srv->sessions) {
		struct session *s = srv->sessions;
		s->refs = 0; /* the clients are freed after us: no call will come back */
		sess_close(s);
	}
	loop_timer_del(srv->loop, srv->accept_timer);
	mta_limits_free(srv->lim);
	free(srv);
}

const struct mta_stats *mta_server_stats(const struct mta_server *srv) { return &srv->st; }
