/* resolve.c: DNS questions to the configured resolvers on the event loop
 * (resolve.h). One query at a time per question: UDP to one resolver, TCP
 * to the same one when the answer is truncated, otherwise the next resolver,
 * until an answer, the tries run out or the question's deadline passes. */
#include "enquiry/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/chanmsg.h"

#define RESOLVE_CONF_LINE_MAX 512
#define RESOLVE_UDP_READS 16 /* datagrams read per wake-up */

enum qstate {
	Q_UDP,
	Q_TCP_WRITE,
	Q_TCP_READ,
	Q_FAILED, /* no answer: finish on the next timer tick */
};

struct resolve {
	struct loop *loop;
	struct resolve_opts o;
	size_t preferred; /* the resolver asked first: the last one that did not fail */
	struct resolve_stats st;
	uint8_t udp_buf[DNS_MSG_MAX];
};

struct resolve_query {
	struct resolve *rs;
	struct dns_question q;
	uint8_t name[ENQ_NAME_MAX];
	size_t name_len;
	uint8_t query[2 + DNS_QUERY_MAX]; /* TCP length prefix, then the query */
	size_t query_len;
	int fd;
	enum qstate state;
	size_t first, server; /* the resolver asked first, and the one asked now */
	unsigned attempt, max_attempts;
	uint64_t deadline;
	struct loop_timer *timer;
	uint8_t *tcp_buf; /* 2 + DNS_MSG_MAX while reading over TCP */
	size_t tcp_done;  /* bytes sent (writing) or received (reading) */
	struct dns_result *res;
	resolve_done_fn done;
	void *arg;
};

int resolve_server_parse(struct resolve_server *ret, const char *text)
{
	char host[RESOLVE_ADDR_TEXT_MAX];
	const char *port = NULL;
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n + 1);
	char *h = host;
	if (host[0] == '[') {
		char *end = strchr(host, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		*end = '\0';
		h = host + 1;
		port = end + 2;
	} else {
		char *colon = strchr(host, ':');
		if (colon && !strchr(colon + 1, ':')) { /* one colon: IPv4:port */
			*colon = '\0';
			port = colon + 1;
		}
	}
	unsigned long p = RESOLVE_PORT;
	if (port) {
		char *end;
		if (*port < '1' || *port > '9')
			return -EINVAL;
		p = strtoul(port, &end, 10);
		if (*end || p > 65535)
			return -EINVAL;
	}
	struct resolve_server s;
	memset(&s, 0, sizeof(s));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&s.sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s.sa;
	if (host[0] != '[' && inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		s.len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1 && (host[0] == '[' || !port)) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		s.len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	*ret = s;
	return 0;
}

int resolve_conf_servers(const char *path, struct resolve_server *out, size_t max)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[RESOLVE_CONF_LINE_MAX];
	size_t n = 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *key = strtok_r(line, " \t\r\n", &save);
		char *val = key ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		if (!key || !val || strcmp(key, "nameserver") != 0)
			continue;
		if (resolve_server_parse(&out[n], val) == 0) /* scoped (%eth0) ones are skipped */
			n++;
	}
	fclose(f);
	return (int)n;
}

struct resolve *resolve_new(struct loop *l, const struct resolve_opts *o)
{
	struct resolve *rs = xcalloc(1, sizeof(*rs));
	rs->loop = l;
	rs->o = *o;
	return rs;
}

void resolve_free(struct resolve *rs) { free(rs); }

const struct resolve_stats *resolve_stats(const struct resolve *rs) { return &rs->st; }

static void close_fd(struct resolve_query *qr)
{
	if (qr->fd >= 0) {
		loop_del_fd(qr->rs->loop, qr->fd);
		close(qr->fd);
		qr->fd = -1;
	}
	free(qr->tcp_buf);
	qr->tcp_buf = NULL;
	qr->tcp_done = 0;
}

static void finish(struct resolve_query *qr, const struct dns_result *res)
{
	close_fd(qr);
	loop_timer_del(qr->rs->loop, qr->timer);
	if (!res)
		qr->rs->st.tempfails++;
	qr->done(res, qr->arg);
	if (qr->res)
		sodium_memzero(qr->res, sizeof(*qr->res));
	free(qr->res);
	sodium_memzero(qr, sizeof(*qr));
	free(qr);
}

static void arm_timer(struct resolve_query *qr)
{
	uint64_t now = loop_now_ms();
	uint64_t left = qr->deadline > now ? qr->deadline - now : 0;
	loop_timer_rearm(qr->timer, left < qr->rs->o.timeout_ms ? left : qr->rs->o.timeout_ms);
}

static void server_failed(struct resolve_query *qr)
{
	struct resolve *rs = qr->rs;
	if (qr->server == rs->preferred)
		rs->preferred = (rs->preferred + 1) % rs->o.n_servers;
}

static void udp_ready(struct loop *l, int fd, uint32_t events, void *data);
static void tcp_ready(struct loop *l, int fd, uint32_t events, void *data);

static int udp_start(struct resolve_query *qr)
{
	struct resolve *rs = qr->rs;
	const struct resolve_server *s = &rs->o.servers[qr->server];
	if (dns_query_build(&qr->q, qr->query + 2, &qr->query_len, (uint16_t)randombytes_uniform(65536),
	                    qr->name, qr->name_len, qr->q.enq_type) < 0)
		return -EINVAL;
	/* A fresh socket per query: a new random source port from the kernel;
	 * connect() makes the kernel drop datagrams from anyone but the resolver. */
	int fd = socket(s->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&s->sa, s->len) < 0 ||
	    send(fd, qr->query + 2, qr->query_len, MSG_NOSIGNAL) != (ssize_t)qr->query_len) {
		int e = errno ? -errno : -EIO;
		close(fd);
		return e;
	}
	int rc = loop_add_fd(rs->loop, fd, EPOLLIN, udp_ready, qr);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	qr->fd = fd;
	qr->state = Q_UDP;
	rs->st.udp_queries++;
	return 0;
}

/* Moves on to the next resolver, or gives up. */
static void attempt_next(struct resolve_query *qr)
{
	struct resolve *rs = qr->rs;
	close_fd(qr);
	while (qr->attempt < qr->max_attempts && loop_now_ms() < qr->deadline) {
		qr->server = (qr->first + qr->attempt) % rs->o.n_servers;
		qr->attempt++;
		if (udp_start(qr) == 0) {
			arm_timer(qr);
			return;
		}
		rs->st.failures++;
		server_failed(qr);
	}
	/* done must run later, never inside resolve_start: finish on the timer. */
	qr->state = Q_FAILED;
	loop_timer_rearm(qr->timer, 0);
}

static void fail_attempt(struct resolve_query *qr)
{
	server_failed(qr);
	attempt_next(qr);
}

static void tcp_start(struct resolve_query *qr)
{
	struct resolve *rs = qr->rs;
	const struct resolve_server *s = &rs->o.servers[qr->server];
	close_fd(qr);
	int fd = socket(s->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rs->st.failures++;
		fail_attempt(qr);
		return;
	}
	if ((connect(fd, (const struct sockaddr *)&s->sa, s->len) < 0 && errno != EINPROGRESS) ||
	    loop_add_fd(rs->loop, fd, EPOLLOUT, tcp_ready, qr) < 0) {
		close(fd);
		rs->st.failures++;
		fail_attempt(qr);
		return;
	}
	qr->fd = fd;
	qr->state = Q_TCP_WRITE;
	qr->tcp_done = 0;
	qr->query[0] = (uint8_t)(qr->query_len >> 8);
	qr->query[1] = (uint8_t)qr->query_len;
	rs->st.tcp_queries++;
	arm_timer(qr); /* a fresh timeout for the TCP query */
}

/* Acts on a parsed (or unparsable) message. Returns true when the query
 * still waits on the same UDP socket (a message that is not its answer),
 * false when it has moved on or finished (qr may be freed). */
static bool on_message(struct resolve_query *qr, const uint8_t *p, size_t len, bool udp)
{
	struct resolve *rs = qr->rs;
	if (!qr->res)
		qr->res = xmalloc(sizeof(*qr->res));
	int rc = dns_response_parse(qr->res, &qr->q, p, len);
	if (rc == -ESRCH && udp) {
		rs->st.ignored++;
		return true;
	}
	if (rc < 0 || (qr->res->truncated && !udp)) {
		rs->st.malformed++;
		fail_attempt(qr);
	} else if (qr->res->truncated) {
		rs->st.truncated++;
		tcp_start(qr);
	} else if (qr->res->ans.status == CHST_TEMPFAIL) {
		rs->st.failures++;
		fail_attempt(qr);
	} else {
		finish(qr, qr->res);
	}
	return false;
}

static void udp_ready(struct loop *l, int fd, uint32_t events, void *data)
{
	struct resolve_query *qr = data;
	struct resolve *rs = qr->rs;
	/* A few datagrams per wake-up; epoll reports the rest again. */
	for (int i = 0; i < RESOLVE_UDP_READS; i++) {
		ssize_t n = recv(fd, rs->udp_buf, sizeof(rs->udp_buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED: the ICMP port unreachable of a resolver that is down */
			rs->st.failures++;
			fail_attempt(qr);
			return;
		}
		if (!on_message(qr, rs->udp_buf, (size_t)n, true))
			return;
	}
}

static void tcp_ready(struct loop *l, int fd, uint32_t events, void *data)
{
	struct resolve_query *qr = data;
	struct resolve *rs = qr->rs;
	if (qr->state == Q_TCP_WRITE) {
		size_t total = 2 + qr->query_len;
		ssize_t n = send(fd, qr->query + qr->tcp_done, total - qr->tcp_done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			rs->st.failures++;
			fail_attempt(qr);
			return;
		}
		qr->tcp_done += (size_t)n;
		if (qr->tcp_done < total)
			return;
		qr->state = Q_TCP_READ;
		qr->tcp_done = 0;
		qr->tcp_buf = xmalloc(2 + DNS_MSG_MAX);
		if (loop_mod_fd(l, fd, EPOLLIN) < 0) {
			rs->st.failures++;
			fail_attempt(qr);
		}
		return;
	}
	/* Reading: the 2-byte length, then that many bytes. */
	size_t need = qr->tcp_done < 2 ? 2 : 2 + (size_t)(qr->tcp_buf[0] << 8 | qr->tcp_buf[1]);
	ssize_t n = recv(fd, qr->tcp_buf + qr->tcp_done, need - qr->tcp_done, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		rs->st.failures++;
		fail_attempt(qr);
		return;
	}
	qr->tcp_done += (size_t)n;
	if (qr->tcp_done == 2) {
		need = 2 + (size_t)(qr->tcp_buf[0] << 8 | qr->tcp_buf[1]);
		if (need < 2 + DNS_HEADER_BYTES) {
			rs->st.malformed++;
			fail_attempt(qr);
		}
		return;
	}
	if (qr->tcp_done < need)
		return;
	uint8_t *buf = qr->tcp_buf;
	qr->tcp_buf = NULL; /* on_message may close the connection and free qr */
	(void)on_message(qr, buf + 2, need - 2, false);
	free(buf);
}

static void timer_fired(struct loop *l, struct loop_timer *t, void *data)
{
	struct resolve_query *qr = data;
	if (qr->state == Q_FAILED) {
		finish(qr, NULL);
		return;
	}
	qr->rs->st.timeouts++;
	fail_attempt(qr);
}

int resolve_start(struct resolve *rs, const uint8_t *name, size_t name_len, uint8_t enq_type,
                  resolve_done_fn done, void *arg)
{
	if (!enq_name_valid(name, name_len) || !dns_qtype(enq_type) || rs->o.n_servers == 0)
		return -EINVAL;
	struct resolve_query *qr = xcalloc(1, sizeof(*qr));
	qr->rs = rs;
	qr->fd = -1;
	memcpy(qr->name, name, name_len);
	qr->name_len = name_len;
	qr->q.enq_type = enq_type;
	qr->first = rs->preferred;
	qr->max_attempts = (unsigned)(rs->o.n_servers * RESOLVE_TRIES_PER_SERVER);
	qr->deadline = loop_now_ms() + rs->o.deadline_ms;
	qr->done = done;
	qr->arg = arg;
	qr->timer = loop_timer_add(rs->loop, rs->o.timeout_ms, false, timer_fired, qr);
	rs->st.questions++;
	attempt_next(qr);
	return 0;
}
