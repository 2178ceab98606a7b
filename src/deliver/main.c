/* allears-deliver: turns each email the MTA received into ExtMsgs (and, per
 * the recipient address's flags, attachment and source UplMsgs), with every
 * fact about how it arrived, and stores them through Storage. Answers the MTA
 * only once every copy is durable. Channel: docs/PROTOCOL.md section 16;
 * conversion: 19; sender authentication: 20. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/dlvrec.h"
#include "common/enqmsg.h"
#include "common/keybundle.h"
#include "common/message.h"
#include "deliver/auth.h"
#include "deliver/mime.h"
#include "ipc/daemon.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"
#include "ipc/workq.h"

#define DELIVER_WORKERS_DEFAULT 4
#define DELIVER_MAX_JOBS_DEFAULT 1024
#define DELIVER_MEMORY_MIB_DEFAULT 768
/* Debian's publicsuffix package; used when present and none is configured. */
#define DELIVER_PSL_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"
#define DELIVER_STORE_TIMEOUT_MS 60000
#define DELIVER_DNS_TIMEOUT_MS 5000
#define DELIVER_DNS_BUDGET_MS 30000 /* all lookups of one message together */
#define DELIVER_DNS_LOOKUPS_MAX 40 /* per check (DKIM, SPF, DMARC each count their own) */
#define DELIVER_UID_NONE 65535u
/* A wave: the copies made and stored together (at least one recipient's). */
#define DELIVER_WAVE_BYTES (64u * 1024 * 1024)
#define DELIVER_WAVE_COPIES 256
/* After a store failed (not a full mailbox), messages nobody receives are
 * also answered "try again later" for this long, as real ones would be. */
#define DELIVER_FAIL_MEMORY_MS 30000
#define DELIVER_USERS_MAX 4096u
/* Flags of an address (ACC_LOOKUP answer, PROTOCOL.md 10.2). */
#define ADDR_F_ORIGIN 0x20
#define ADDR_F_ATTACH 0x08
#define ADDR_F_ALLVER 0x04

struct job;

/* One Message to store for one recipient. */
struct out_msg {
	struct job *job;
	uint8_t rcpt;  /* index into the delivery's recipients */
	uint16_t uid;
	int fd;        /* sealed memfd */
	size_t len;
	size_t n_files; /* an ExtMsg: how many of the next outs are its files */
};

/* A message from the MTA. It is converted once; then its copies are made and
 * stored in waves of a few recipients (DELIVER_WAVE_*), so that a message to
 * many recipients never holds every copy in memory or in descriptors at once. */
struct job {
	struct rpc_conn *conn;
	uint32_t call;
	int fd;
	const uint8_t *map;
	size_t map_len;
	struct dlvrec rec;
	/* made by the worker: the conversion (once) ... */
	int prep_rc;
	bool parsed;
	struct mime_result m;
	struct msg_ext x; /* points into rec, m and rdns */
	char rdns[MSG_RDNS_MAX + 1];
	uint8_t next_rcpt;     /* the first recipient of the next wave */
	/* One copy per user: first[i] is the first recipient with rcpt[i]'s uid
	 * (itself for that one), flags[i] the union of that user's address flags. */
	uint8_t first[DLVREC_RCPT_MAX];
	uint8_t flags[DLVREC_RCPT_MAX];
	bool any_known;        /* some recipient has a uid */
	uint64_t decoy_bytes;  /* with none: what the copies would have weighed */
	/* ... and the copies of the current wave */
	struct out_msg *outs;
	size_t n_outs;
	/* stores */
	size_t pending;
	uint64_t started_ms;
	uint64_t stored_bytes;
	uint8_t status[DLVREC_RCPT_MAX];
	struct loop_timer *hold;
	uint64_t ping_ms;
	uint64_t cost; /* counted in D.job_bytes */
};

/* Store times by size: an average per power of two of a message's stored
 * bytes, for holding the answer of a message nobody receives (job_hold). */
#define HOLD_CLASSES 40

static struct {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct rpc_server *srv;
	struct rpc_client *sto;
	struct workq *q;
	const char *enq_path; /* NULL: no lookups */
	long dns_timeout_ms;
	long dns_budget_ms;
	size_t jobs;
	size_t max_jobs;
	uint64_t job_bytes;     /* what the messages in hand may take (job_cost) */
	uint64_t memory_bytes;  /* the budget for it */
	uint64_t hold_ms[HOLD_CLASSES]; /* 0: no sample yet */
	uint64_t last_fail_ms;          /* the last store that failed (not LIMIT) */
	/* counters, logged at exit */
	uint64_t n_msgs, n_copies, n_dropped, n_tempfail;
} D;

/* ---- Enquiry, from the worker threads ---- */

/* Each worker thread keeps its own blocking channel to Enquiry. */
static __thread struct rpc_sync *t_enq;
static __thread uint8_t *t_enq_buf;
/* When the lookups of the message this thread converts must end (loop_now_ms). */
static __thread uint64_t t_dns_deadline;
/* After a failed connection, Enquiry counts as down until then: the rest of
 * the message's questions fail at once instead of each waiting again. */
static __thread uint64_t t_enq_down_until;
#define DELIVER_ENQ_RETRY_MS 2000

static void enq_close(void)
{
	if (t_enq) {
		rpc_sync_close(t_enq);
		free(t_enq);
		t_enq = NULL;
	}
}

static int enq_connect(void)
{
	if (t_enq)
		return 0;
	if (loop_now_ms() < t_enq_down_until)
		return -ENOTCONN;
	struct rpc_sync *c = xcalloc(1, sizeof(*c));
	int rc = rpc_sync_connect(c, D.enq_path, ROLE_DELIVER, ROLE_ENQUIRY,
	                          keybundle_pair(D.kb, ROLE_DELIVER, ROLE_ENQUIRY));
	if (rc < 0) {
		free(c);
		t_enq_down_until = loop_now_ms() + DELIVER_ENQ_RETRY_MS;
		return rc;
	}
	struct timeval tv = { .tv_sec = D.dns_timeout_ms / 1000,
		                  .tv_usec = (D.dns_timeout_ms % 1000) * 1000 };
	if (setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		rpc_sync_close(c);
		free(c);
		return -errno;
	}
	t_enq = c;
	return 0;
}

static int enq_lookup(void *ctx, uint8_t type, const char *name, uint8_t family,
                      const uint8_t ip[16], struct enq_answer *ret)
{
	if (!D.enq_path)
		return -ENOTCONN;
	if (loop_now_ms() >= t_dns_deadline)
		return -ETIMEDOUT; /* this message has had its time: the rest count as temperror */
	struct wr w = WR_INIT;
	int rc = type == ENQ_PTR ? enq_request_ptr(&w, family, ip) : enq_request_name(&w, name);
	if (rc < 0) {
		wr_free(&w);
		return rc;
	}
	if (!t_enq_buf)
		t_enq_buf = xmalloc(CHAN_FRAME_MAX);
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = enq_connect();
		if (rc < 0)
			break;
		uint16_t rtype;
		size_t len;
		int rfd = -1;
		rc = rpc_sync_call(t_enq, type, w.p, w.len, -1, &rtype, t_enq_buf, CHAN_FRAME_MAX, &len,
		                   &rfd);
		if (rfd >= 0)
			close(rfd);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
			rc = -ETIMEDOUT; /* the channel stays usable: late answers are skipped */
			break;
		}
		if (rc < 0) {
			enq_close(); /* Enquiry restarted: reconnect once */
			continue;
		}
		rc = rtype == type ? enq_answer_decode(ret, type, t_enq_buf, len) : -EBADMSG;
		break;
	}
	wr_free(&w);
	return rc;
}

/* ---- the work of one message (on a worker thread) ---- */

static bool answer_has_ip(const struct enq_answer *a, uint8_t family, const uint8_t ip[16])
{
	if (a->status != CHST_OK)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (memcmp(a->rec[i].ip, ip, family == MSG_IP_V4 ? 4 : 16) == 0)
			return true;
	return false;
}

/* Does name resolve (A or AAAA, as the peer's family) to the peer's address? */
static bool name_has_ip(const struct auth_dns *dns, const char *name, uint8_t family,
                        const uint8_t ip[16])
{
	struct enq_answer a;
	if (!name[0] || !enq_name_valid((const uint8_t *)name, strlen(name)))
		return false;
	if (dns->lookup(dns->ctx, family == MSG_IP_V4 ? ENQ_A : ENQ_AAAA, name, 0, NULL, &a) < 0)
		return false;
	return answer_has_ip(&a, family, ip);
}

/* A NUL-terminated copy of a msg_str (bounded; strings here are LINE class). */
static char *cstr(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n + 1);
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The address of the first ADDRS entry ("Name" 0x7F "addr" LF ...). */
static char *first_addr(const struct wr *w)
{
	size_t end = 0;
	while (end < w->len && w->p[end] != '\n')
		end++;
	size_t start = 0;
	for (size_t i = 0; i < end; i++)
		if (w->p[i] == 0x7F)
			start = i + 1;
	return cstr(w->p + start, end - start);
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

static void str_set(struct msg_str *s, const uint8_t *p, size_t n)
{
	s->p = p;
	s->len = n;
}

static int emit(struct job *j, uint8_t rcpt, uint16_t uid, const struct wr *w, const char *name)
{
	int fd = memfd_from_buffer(w->p, w->len, name);
	if (fd < 0)
		return fd;
	j->outs = realloc(j->outs, (j->n_outs + 1) * sizeof(*j->outs));
	if (!j->outs)
		fatal("realloc");
	j->outs[j->n_outs++] = (struct out_msg){ .rcpt = rcpt, .uid = uid, .fd = fd, .len = w->len };
	return 0;
}

/* Converts the message and checks where it came from (once per message). */
static int job_parse(struct job *j)
{
	const struct dlvrec *r = &j->rec;
	struct mime_result *m = &j->m;
	struct msg_ext *x = &j->x;
	struct mime_limits lim = { 0 };
	struct auth_dns dns = { .lookup = enq_lookup, .ctx = NULL,
		                    .max_lookups = DELIVER_DNS_LOOKUPS_MAX };
	memset(x, 0, sizeof(*x));

	/* The same work whether or not any recipient exists (only the stores
	 * differ), so a sender cannot tell unknown addresses by the time taken. */
	int rc = mime_parse(r->message.p, r->message.len, &lim, m);
	if (rc < 0)
		return rc;
	j->parsed = true;

	char *env_from = cstr(r->env_from.p, r->env_from.len);
	char *helo = cstr(r->helo.p, r->helo.len);
	char *hdr_from = first_addr(&m->from);
	char *reply_to = first_addr(&m->reply_to);
	uint64_t now_s = r->ts / 1000;

	x->ts = r->ts;
	x->ip_family = r->ip_family;
	memcpy(x->ip, r->ip, MSG_IP_BYTES);
	x->tls_version = r->tls_version;
	x->tls_suite = r->tls_suite;
	x->flags = (uint16_t)(r->flags | m->flags);
	x->tz_minutes = m->has_date ? m->tz_minutes : MSG_TZ_NONE;
	x->date_delta = MSG_DATE_DELTA_NONE;
	if (m->has_date) {
		int64_t d = (int64_t)now_s - m->date;
		if (d > INT32_MAX)
			d = INT32_MAX;
		if (d <= INT32_MIN)
			d = INT32_MIN + 1;
		x->date_delta = (int32_t)d;
	}
	x->attach_count = m->attach_seen > MSG_ATTACH_MAX ? MSG_ATTACH_MAX : (uint8_t)m->attach_seen;

	t_dns_deadline = loop_now_ms() + (uint64_t)D.dns_budget_ms;
	/* Where the message came from: reverse DNS, and whether the names given
	 * resolve back to the peer. */
	j->rdns[0] = '\0';
	if (D.enq_path) {
		struct enq_answer a;
		if (enq_lookup(NULL, ENQ_PTR, NULL, r->ip_family, r->ip, &a) == 0 &&
		    a.status == CHST_OK && a.count > 0 && a.rec[0].len <= MSG_RDNS_MAX) {
			memcpy(j->rdns, a.rec[0].data, a.rec[0].len);
			j->rdns[a.rec[0].len] = '\0';
			if (name_has_ip(&dns, j->rdns, r->ip_family, r->ip))
				x->flags |= MSG_EXT_F_RDNS_MATCH;
		}
		if (name_has_ip(&dns, helo, r->ip_family, r->ip))
			x->flags |= MSG_EXT_F_HELO_MATCH;
		x->dkim_count = (uint8_t)auth_dkim_verify(r->message.p, r->message.len, now_s,
		                                          env_from, hdr_from, reply_to, &dns, x->dkim);
		x->spf = auth_spf_check(r->ip_family, r->ip, env_from, helo, &dns);
		const char *spf_domain = env_from[0] ? domain_of(env_from) : helo;
		x->dmarc = auth_dmarc_check(domain_of(hdr_from), x->spf, spf_domain, x->dkim,
		                            x->dkim_count, &dns);
	}
	if (!msg_text_valid((const uint8_t *)j->rdns, strlen(j->rdns), MSG_TEXT_LINE))
		j->rdns[0] = '\0';

	str_set(&x->env_from, r->env_from.p, r->env_from.len);
	str_set(&x->helo, r->helo.p, r->helo.len);
	str_set(&x->rdns, (const uint8_t *)j->rdns, strlen(j->rdns));
	str_set(&x->hdr_from, m->from.p, m->from.len);
	str_set(&x->hdr_to, m->to.p, m->to.len);
	str_set(&x->cc, m->cc.p, m->cc.len);
	str_set(&x->reply_to, m->reply_to.p, m->reply_to.len);
	str_set(&x->msg_id, m->msg_id.p, m->msg_id.len);
	str_set(&x->in_reply_to, m->in_reply_to.p, m->in_reply_to.len);
	str_set(&x->subject, m->subject.p, m->subject.len);
	str_set(&x->headers, m->headers.p, m->headers.len);
	free(env_from);
	free(helo);
	free(hdr_from);
	free(reply_to);
	return 0;
}

/* The copies for recipient i: its ExtMsg, then per its flags one UplMsg per
 * attachment and the original message. With store false they are only
 * weighed (added to *bytes); with store true they become memfds in j->outs. */
static int job_copies(struct job *j, uint8_t i, bool store, uint64_t *bytes)
{
	const struct dlvrec *r = &j->rec;
	const struct dlvrec_rcpt *rc = &r->rcpt[i];
	const struct mime_result *m = &j->m;
	struct msg_ext *x = &j->x;
	struct wr w = WR_INIT;
	size_t ext = j->n_outs;
	/* Each copy its own ref: a user with two of the recipient addresses gets
	 * two mails, each with only its own files. */
	do
		randombytes_buf(&x->ref, sizeof(x->ref));
	while (!x->ref);
	uint8_t flags = j->flags[i];
	str_set(&x->env_to, rc->local.p, rc->local.len);
	if (flags & ADDR_F_ALLVER)
		str_set(&x->body, m->body.p, m->body.len);
	else
		str_set(&x->body, m->body.p ? m->body.p + m->body_last : NULL, m->body.len - m->body_last);
	int err = msg_ext_encode(&w, x);
	if (err == 0) {
		*bytes += w.len;
		if (store)
			err = emit(j, i, rc->uid, &w, "extmsg");
	}
	wr_free(&w);
	for (size_t k = 0; err == 0 && (flags & ADDR_F_ATTACH) && k < m->attach_count; k++) {
		const struct mime_attachment *at = &m->attach[k];
		struct msg_upl u = { .ts = r->ts, .parent = x->ref, .kind = MSG_UPL_ATTACHMENT };
		str_set(&u.media_type, at->media_type.p, at->media_type.len);
		str_set(&u.name, at->name.p, at->name.len);
		str_set(&u.data, at->data.p, at->data.len);
		if (msg_upl_encode(&w, &u) == 0) {
			*bytes += w.len;
			if (store)
				err = emit(j, i, rc->uid, &w, "attachment");
		}
		wr_free(&w);
	}
	if (err == 0 && (flags & ADDR_F_ORIGIN)) {
		struct msg_upl u = { .ts = r->ts, .parent = x->ref, .kind = MSG_UPL_SOURCE,
			                 .name = MSG_STR("message.eml") };
		str_set(&u.data, r->message.p, r->message.len);
		if (msg_upl_encode(&w, &u) == 0) {
			*bytes += w.len;
			if (store)
				err = emit(j, i, rc->uid, &w, "source");
		}
		wr_free(&w);
	}
	/* The files just emitted follow the recipient's ExtMsg at index ext. */
	if (store && err == 0 && ext < j->n_outs)
		j->outs[ext].n_files = j->n_outs - ext - 1;
	return err;
}

/* On a worker thread: the conversion (first time), then the next wave. */
static void job_work(void *arg)
{
	struct job *j = arg;
	const struct dlvrec *r = &j->rec;
	if (!j->parsed) {
		j->prep_rc = job_parse(j);
		if (j->prep_rc < 0)
			return;
	}
	uint64_t bytes = 0;
	uint8_t i = j->next_rcpt;
	for (; i < r->rcpt_count && j->prep_rc == 0; i++) {
		if (r->rcpt[i].uid >= DELIVER_USERS_MAX || j->first[i] != i)
			continue; /* nobody, or a user who gets the copy of an earlier address */
		if (j->n_outs && (bytes >= DELIVER_WAVE_BYTES || j->n_outs >= DELIVER_WAVE_COPIES))
			break;
		j->any_known = true;
		j->prep_rc = job_copies(j, i, true, &bytes);
	}
	j->next_rcpt = i;
	/* Nobody to deliver to: weigh the copies the first recipient would have
	 * had (its flags are the decoy flags Account gave), for the held answer. */
	if (j->prep_rc == 0 && !j->any_known && r->rcpt_count > 0)
		j->prep_rc = job_copies(j, 0, false, &j->decoy_bytes);
}

/* ---- answers and stores (on the loop thread) ---- */

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->n_outs; i++)
		if (j->outs[i].fd >= 0)
			close(j->outs[i].fd);
	free(j->outs);
	if (j->parsed)
		mime_result_free(&j->m);
	if (j->map)
		memfd_unmap(j->map, j->map_len);
	if (j->fd >= 0)
		close(j->fd);
	if (j->hold)
		loop_timer_del(D.loop, j->hold);
	rpc_conn_unref(j->conn);
	D.job_bytes -= j->cost;
	D.jobs--;
	loop_busy_dec(D.loop);
	free(j);
}

static void job_answer(struct job *j, uint8_t status)
{
	uint8_t out[DLV_ANSWER_MAX];
	size_t n = 2;
	out[0] = status;
	out[1] = 0;
	if (status != CHST_INVALID) {
		out[1] = j->rec.rcpt_count;
		for (size_t i = 0; i < j->rec.rcpt_count; i++)
			out[n++] = j->status[j->first[i]];
	}
	if (status == CHST_TEMPFAIL)
		D.n_tempfail++;
	rpc_reply(j->conn, DLV_DELIVER, j->call, out, n, -1);
	job_free(j);
}

static uint8_t job_overall(const struct job *j)
{
	bool limit = false;
	for (size_t i = 0; i < j->rec.rcpt_count; i++) {
		uint8_t s = j->status[i];
		if (s == CHST_OK)
			continue;
		if (s == CHST_LIMIT)
			limit = true;
		else
			return CHST_TEMPFAIL;
	}
	return limit ? CHST_LIMIT : CHST_OK;
}

static unsigned hold_class(uint64_t bytes)
{
	unsigned c = 0;
	while (bytes > 1 && c < HOLD_CLASSES - 1) {
		bytes >>= 1;
		c++;
	}
	return c;
}

/* A message whose copies all became durable took ms to store: remember it
 * for messages of its size class (a moving average, weight 1/8). */
static void hold_learn(uint64_t bytes, uint64_t ms)
{
	uint64_t *h = &D.hold_ms[hold_class(bytes)];
	*h = *h ? (*h * 7 + ms) / 8 : (ms ? ms : 1);
}

/* How long storing copies of these bytes takes: the class's average, or the
 * nearest smaller class's scaled up by the size ratio, or the nearest larger
 * class's. */
static uint64_t hold_estimate(uint64_t bytes)
{
	unsigned c = hold_class(bytes);
	if (D.hold_ms[c])
		return D.hold_ms[c];
	for (unsigned k = c; k-- > 0;)
		if (D.hold_ms[k])
			return D.hold_ms[k] << (c - k);
	for (unsigned k = c + 1; k < HOLD_CLASSES; k++)
		if (D.hold_ms[k])
			return D.hold_ms[k];
	return 1;
}

static void hold_done(struct loop *l, struct loop_timer *t, void *data)
{
	job_answer(data, CHST_OK);
}

/* Storage answered the liveness question of a message nobody receives: hold
 * the answer for the rest of the time a real store of its size takes. */
static void ping_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	struct job *j = arg;
	if (fd >= 0)
		close(fd);
	uint64_t now = loop_now_ms();
	/* No answer, or stores failing lately: say what a real recipient would get. */
	if (status < 0 || (D.last_fail_ms && now - D.last_fail_ms < DELIVER_FAIL_MEMORY_MS)) {
		memset(j->status, CHST_TEMPFAIL, sizeof(j->status));
		job_answer(j, CHST_TEMPFAIL);
		return;
	}
	uint64_t spent = now - j->ping_ms, want = hold_estimate(j->decoy_bytes);
	j->hold = loop_timer_add(D.loop, want > spent ? want - spent : 1, false, hold_done, j);
}

static void job_hold(struct job *j)
{
	D.n_dropped++;
	j->ping_ms = loop_now_ms();
	/* A store without a Message is refused at once: it asks only whether
	 * Storage is there, as a real store would find out. */
	uint8_t req[CHAN_BULK_LEN_BYTES + 4] = { 0 };
	rpc_call(D.sto, STO_STORE, req, sizeof(req), -1, DELIVER_STORE_TIMEOUT_MS, ping_done, j);
}

/* How bad a store status is for the recipient's result. */
static int severity(uint8_t s)
{
	return s == CHST_OK ? 0 : s == CHST_LIMIT ? 1 : 2;
}

static void store_send(struct job *j, struct out_msg *o);
static void job_done(void *arg);

/* Every store of the wave has answered: the next wave, or the answer. */
static void wave_done(struct job *j)
{
	for (size_t i = 0; i < j->n_outs; i++)
		if (j->outs[i].fd >= 0)
			close(j->outs[i].fd);
	free(j->outs);
	j->outs = NULL;
	j->n_outs = 0;
	uint8_t overall = job_overall(j);
	if (overall != CHST_TEMPFAIL && j->next_rcpt < j->rec.rcpt_count) {
		workq_submit(D.q, job_work, job_done, j);
		return;
	}
	if (overall == CHST_TEMPFAIL) {
		/* The sender sends it again to everybody: skip the rest. */
		for (size_t i = j->next_rcpt; i < j->rec.rcpt_count; i++)
			j->status[i] = CHST_TEMPFAIL;
	} else if (overall == CHST_OK) {
		hold_learn(j->stored_bytes, loop_now_ms() - j->started_ms);
	}
	job_answer(j, overall);
}

static void store_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	struct out_msg *o = arg;
	struct job *j = o->job;
	if (fd >= 0)
		close(fd);
	uint8_t s;
	if (status < 0 || type != STO_STORE || len < 1)
		s = CHST_TEMPFAIL;
	else if (p[0] == CHST_OK || p[0] == CHST_LIMIT)
		s = p[0];
	else if (p[0] == CHST_NOT_FOUND)
		s = CHST_OK; /* the user was deleted meanwhile: nobody to deliver to */
	else
		s = CHST_TEMPFAIL;
	if (status == 0 && len >= 1 && p[0] == CHST_OK)
		D.n_copies++;
	if (s == CHST_TEMPFAIL)
		D.last_fail_ms = loop_now_ms();
	if (severity(s) > severity(j->status[o->rcpt]))
		j->status[o->rcpt] = s;
	/* An ExtMsg's files go to Storage once it holds the ExtMsg, so that they
	 * get the envelope ids after it (the client looks for them there). */
	size_t files = o->n_files;
	if (files && status == 0 && len >= 1 && p[0] == CHST_OK) {
		for (size_t i = 1; i <= files; i++)
			store_send(j, o + i);
	} else if (files) {
		j->pending -= files;
	}
	if (--j->pending == 0)
		wave_done(j);
}

static void store_send(struct job *j, struct out_msg *o)
{
	o->job = j;
	j->stored_bytes += o->len;
	uint8_t req[CHAN_BULK_LEN_BYTES + 4];
	le64_store(req, o->len);
	le16_store(req + CHAN_BULK_LEN_BYTES, o->uid);
	req[CHAN_BULK_LEN_BYTES + 2] = 0;
	req[CHAN_BULK_LEN_BYTES + 3] = 0;
	rpc_call(D.sto, STO_STORE, req, sizeof(req), o->fd, DELIVER_STORE_TIMEOUT_MS, store_done, o);
	close(o->fd); /* rpc_call keeps its own duplicate */
	o->fd = -1;
}

static void job_done(void *arg)
{
	struct job *j = arg;
	if (j->prep_rc < 0) {
		log_warn("deliver: a message could not be converted (%s)", strerror(-j->prep_rc));
		memset(j->status, CHST_TEMPFAIL, sizeof(j->status));
		job_answer(j, CHST_TEMPFAIL);
		return;
	}
	if (!j->started_ms) {
		D.n_msgs++;
		memset(j->status, CHST_OK, sizeof(j->status));
		j->started_ms = loop_now_ms();
	}
	if (!j->any_known) {
		job_hold(j);
		return;
	}
	if (j->n_outs == 0) { /* the last recipients had no uid */
		wave_done(j);
		return;
	}
	j->pending = j->n_outs;
	/* Every recipient's ExtMsg now; each one's files when it is stored. */
	for (size_t i = 0; i < j->n_outs; i += 1 + j->outs[i].n_files)
		store_send(j, &j->outs[i]);
}

/* What a message of this many bytes may take while in hand: the mapping, its
 * conversion (body, attachments) and one wave of copies, roughly. */
static uint64_t job_cost(uint64_t bulk)
{
	if (bulk > DLVREC_HEAD_MAX + DLVREC_MESSAGE_MAX)
		bulk = DLVREC_HEAD_MAX + DLVREC_MESSAGE_MAX; /* refused when mapped */
	return 4 * bulk + 256 * 1024;
}

static void reply_invalid(struct rpc_conn *c, uint16_t type, uint32_t call, uint8_t status)
{
	uint8_t out[2] = { status, 0 };
	rpc_reply(c, type, call, out, sizeof(out), -1);
}

static void handler(struct rpc_conn *c, enum role peer, uint16_t type, uint32_t call,
                    const uint8_t *p, size_t len, int fd, void *data)
{
	if (peer != ROLE_MTA || type != DLV_DELIVER) {
		if (fd >= 0)
			close(fd);
		reply_invalid(c, type, call, peer != ROLE_MTA ? CHST_DENIED : CHST_INVALID);
		return;
	}
	if (fd < 0 || len != CHAN_BULK_LEN_BYTES) {
		if (fd >= 0)
			close(fd);
		reply_invalid(c, type, call, CHST_INVALID);
		return;
	}
	uint64_t cost = job_cost(le64_load(p));
	if (D.jobs >= D.max_jobs || D.job_bytes + cost > D.memory_bytes || loop_stopping(D.loop)) {
		close(fd);
		uint8_t out[2] = { CHST_TEMPFAIL, 0 };
		rpc_reply(c, type, call, out, sizeof(out), -1);
		D.n_tempfail++;
		return;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->conn = c;
	rpc_conn_ref(c);
	j->call = call;
	j->fd = fd;
	j->cost = cost;
	D.job_bytes += cost;
	D.jobs++;
	loop_busy_inc(D.loop);
	if (chan_bulk_map(fd, p, len, DLVREC_HEAD_MAX + DLVREC_MESSAGE_MAX, &j->map, &j->map_len) < 0) {
		j->map = NULL;
		job_answer(j, CHST_INVALID);
		return;
	}
	if (dlvrec_decode(&j->rec, j->map, j->map_len) < 0) {
		log_warn("deliver: a malformed delivery record was refused");
		job_answer(j, CHST_INVALID);
		return;
	}
	for (uint8_t i = 0; i < j->rec.rcpt_count; i++) {
		uint8_t f = i;
		for (uint8_t k = 0; k < i && f == i; k++)
			if (j->rec.rcpt[k].uid == j->rec.rcpt[i].uid && j->rec.rcpt[i].uid < DELIVER_USERS_MAX)
				f = j->first[k];
		j->first[i] = f;
		j->flags[f] |= j->rec.rcpt[i].flags;
	}
	workq_submit(D.q, job_work, job_done, j);
}

static void on_stop(struct loop *l, void *data) { rpc_server_stop_accepting(D.srv); }

int main(int argc, char **argv)
{
	struct daemon *d = &D.d;
	daemon_init(d, "deliver", argc, argv);
	static const char *const allowed[] = { "storage_socket", "enquiry_socket", "workers",
		                                   "max_jobs", "memory_mib", "dns_timeout_ms",
		                                   "dns_budget_ms",
		                                   "public_suffix_list", NULL };
	daemon_config_allow(d, allowed);
	const char *sto_path = daemon_config_str(d, "storage_socket", SOCK_RUN_DIR "/storage.sock");
	D.enq_path = daemon_config_str(d, "enquiry_socket", SOCK_RUN_DIR "/enquiry.sock");
	if (!D.enq_path[0])
		D.enq_path = NULL; /* lookups off: results are recorded as unchecked */
	long workers = daemon_config_int(d, "workers", DELIVER_WORKERS_DEFAULT, 1, WORKQ_MAX_THREADS);
	D.max_jobs = (size_t)daemon_config_int(d, "max_jobs", DELIVER_MAX_JOBS_DEFAULT, 1, 65536);
	D.memory_bytes = (uint64_t)daemon_config_int(d, "memory_mib", DELIVER_MEMORY_MIB_DEFAULT, 64,
	                                             1048576) * 1024 * 1024;
	D.dns_timeout_ms = daemon_config_int(d, "dns_timeout_ms", DELIVER_DNS_TIMEOUT_MS, 100, 60000);
	D.dns_budget_ms = daemon_config_int(d, "dns_budget_ms", DELIVER_DNS_BUDGET_MS, 100, 600000);
	const char *psl = daemon_config_str(d, "public_suffix_list", "");
	if (psl[0] && auth_psl_load(psl) < 0)
		daemon_config_fail(d, "cannot load the public suffix list %s", psl);
	if (!psl[0] && access(DELIVER_PSL_DEFAULT, R_OK) == 0 && auth_psl_load(DELIVER_PSL_DEFAULT) < 0)
		log_warn("deliver: %s could not be loaded; using the built-in list",
		         DELIVER_PSL_DEFAULT);

	int lfd = daemon_take_fd(d, "channel");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"channel\" was passed");
	D.kb = daemon_load_keys(d, ROLE_DELIVER);

	D.loop = loop_new();
	if (loop_setup_signals(D.loop, on_stop, NULL) < 0)
		fatal("signals");
	D.q = workq_new(D.loop, (unsigned)workers);
	D.sto = rpc_client_new(D.loop, sto_path, ROLE_DELIVER, ROLE_STORAGE,
	                       keybundle_pair(D.kb, ROLE_DELIVER, ROLE_STORAGE));
	struct rpc_server_opts so = {
		.me = ROLE_DELIVER, .key_lookup = keybundle_server_lookup, .key_ctx = D.kb,
		.handler = handler,
	};
	D.srv = rpc_server_new(D.loop, lfd, &so);
	daemon_ready(d, "serving");
	log_info("deliver: %ld workers%s", workers, D.enq_path ? "" : ", DNS lookups off");

	int rc = loop_run(D.loop);
	if (rc < 0)
		fatal("event loop");
	workq_free(D.q);
	log_info("deliver: %llu messages, %llu copies stored, %llu for nobody, %llu deferred",
	         (unsigned long long)D.n_msgs, (unsigned long long)D.n_copies,
	         (unsigned long long)D.n_dropped, (unsigned long long)D.n_tempfail);
	rpc_server_free(D.srv);
	rpc_client_free(D.sto);
	keybundle_free(D.kb);
	loop_free(D.loop);
	daemon_free(d);
	return 0;
}
