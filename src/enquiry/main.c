/* allears-enquiry: answers the other roles' DNS questions (A, AAAA, MX, TXT,
 * PTR) from a small cache or by asking the configured resolvers, the only
 * network egress of the server roles. Holds no user data; never logs a name.
 * Channel messages and DNS rules: docs/PROTOCOL.md section 17. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/chanmsg.h"
#include "common/enqmsg.h"
#include "common/keybundle.h"
#include "enquiry/cache.h"
#include "enquiry/dns.h"
#include "enquiry/resolve.h"
#include "ipc/daemon.h"
#include "ipc/rpc.h"

#define ENQUIRY_TIMEOUT_MS_DEFAULT 3000
#define ENQUIRY_DEADLINE_MS 8000 /* the whole question, every resolver and retry */
#define ENQUIRY_CACHE_ENTRIES_DEFAULT 4096
#define ENQUIRY_INFLIGHT_DEFAULT 256
#define ENQUIRY_INFLIGHT_MAX 65536
#define ENQUIRY_PTR_REQ_BYTES 17 /* family u8, address[16] */
#define ENQUIRY_RESOLV_CONF "/etc/resolv.conf"

/* One request waiting for a question's answer. */
struct waiter {
	struct waiter *next;
	struct rpc_conn *conn;
	uint32_t call;
};

/* One question in flight; identical questions wait on the same one. */
struct question {
	struct question *next;
	uint8_t type;
	uint8_t name[ENQ_NAME_MAX];
	size_t name_len;
	struct waiter *waiters;
};

struct enquiry {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct rpc_server *srv;
	struct resolve *rs;
	struct cache *cache;
	struct question *questions;
	size_t inflight, max_inflight;
	/* Counters, logged at exit: never a name. */
	uint64_t asked, from_cache, joined, busy, refused, invalid;
};

static struct enquiry S;

/* An answer without records (status only). */
static void reply_status(struct rpc_conn *c, uint16_t type, uint32_t call, uint8_t status)
{
	uint8_t out[4] = { status, 0, 0, 0 };
	if (status == CHST_INVALID)
		S.invalid++;
	rpc_reply(c, type, call, out, sizeof(out), -1);
}

static void question_done(const struct dns_result *res, void *arg)
{
	struct question *q = arg;
	struct wr w = WR_INIT;
	if (!res || enq_answer_encode(&w, &res->ans) < 0) {
		w.len = 0;
		wr_u8(&w, CHST_TEMPFAIL);
		wr_zero(&w, 3);
	} else {
		cache_put(S.cache, q->type, q->name, q->name_len, w.p, w.len, loop_now_ms(), res->ttl);
	}
	for (struct question **pp = &S.questions; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	while (q->waiters) {
		struct waiter *wt = q->waiters;
		q->waiters = wt->next;
		rpc_reply(wt->conn, q->type, wt->call, w.p, w.len, -1);
		rpc_conn_unref(wt->conn);
		free(wt);
	}
	wr_free(&w);
	sodium_memzero(q->name, sizeof(q->name));
	free(q);
	S.inflight--;
	loop_busy_dec(S.loop);
}

static void wait_on(struct question *q, struct rpc_conn *c, uint32_t call)
{
	struct waiter *wt = xcalloc(1, sizeof(*wt));
	wt->conn = c;
	wt->call = call;
	rpc_conn_ref(c);
	wt->next = q->waiters;
	q->waiters = wt;
}

/* The question a request asks, lower case: a name, or a PTR address's
 * reverse name. Returns its length, or -EINVAL (strict, section 17.2). */
static int request_name(uint16_t type, const uint8_t *p, size_t len, uint8_t *out)
{
	size_t n;
	if (type == ENQ_PTR) {
		if (len != ENQUIRY_PTR_REQ_BYTES || (p[0] != 4 && p[0] != 6))
			return -EINVAL;
		if (p[0] == 4)
			for (size_t i = 5; i < ENQUIRY_PTR_REQ_BYTES; i++)
				if (p[i])
					return -EINVAL;
		char text[DNS_PTR_NAME_MAX + 1];
		int r = dns_ptr_name(text, p[0], p + 1);
		if (r < 0)
			return r;
		n = (size_t)r;
		memcpy(out, text, n);
	} else {
		if (type < ENQ_A || type > ENQ_TYPE_MAX || !enq_name_valid(p, len))
			return -EINVAL;
		n = len;
		for (size_t i = 0; i < n; i++)
			out[i] = p[i] >= 'A' && p[i] <= 'Z' ? (uint8_t)(p[i] + 32) : p[i];
	}
	return (int)n;
}

static void handler(struct rpc_conn *c, enum role peer, uint16_t type, uint32_t call,
                    const uint8_t *p, size_t len, int fd, void *data)
{
	if (fd >= 0) {
		close(fd);
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	if (!role_channel_allowed(peer, ROLE_ENQUIRY)) {
		S.refused++;
		reply_status(c, type, call, CHST_DENIED);
		return;
	}
	uint8_t name[ENQ_NAME_MAX];
	int n = request_name(type, p, len, name);
	if (n < 0) {
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	S.asked++;
	size_t clen;
	const uint8_t *cached = cache_get(S.cache, (uint8_t)type, name, (size_t)n, loop_now_ms(), &clen);
	if (cached) {
		uint8_t out[ENQ_ANSWER_MAX];
		memcpy(out, cached, clen);
		out[1] |= ENQ_F_CACHED;
		S.from_cache++;
		rpc_reply(c, type, call, out, clen, -1);
		return;
	}
	for (struct question *q = S.questions; q; q = q->next) {
		if (q->type == type && q->name_len == (size_t)n && memcmp(q->name, name, (size_t)n) == 0) {
			S.joined++;
			wait_on(q, c, call);
			return;
		}
	}
	if (S.inflight >= S.max_inflight) {
		S.busy++;
		reply_status(c, type, call, CHST_TEMPFAIL);
		return;
	}
	struct question *q = xcalloc(1, sizeof(*q));
	q->type = (uint8_t)type;
	memcpy(q->name, name, (size_t)n);
	q->name_len = (size_t)n;
	if (resolve_start(S.rs, name, (size_t)n, q->type, question_done, q) < 0) {
		free(q);
		reply_status(c, type, call, CHST_INVALID);
		return;
	}
	wait_on(q, c, call);
	q->next = S.questions;
	S.questions = q;
	S.inflight++;
	loop_busy_inc(S.loop);
}

static void on_stop(struct loop *l, void *data)
{
	/* Answer what is in flight (each question ends by its deadline); take no
	 * new connections. */
	rpc_server_stop_accepting(S.srv);
}

static void load_resolvers(struct daemon *d, struct resolve_opts *o)
{
	json_t *v = json_object_get(d->section, "resolvers");
	if (!v) {
		int n = resolve_conf_servers(ENQUIRY_RESOLV_CONF, o->servers, RESOLVE_SERVERS_MAX);
		if (n <= 0)
			daemon_config_fail(d, "enquiry: no \"resolvers\" configured and no usable "
			                      "nameserver line in " ENQUIRY_RESOLV_CONF);
		o->n_servers = (size_t)n;
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > RESOLVE_SERVERS_MAX)
		daemon_config_fail(d, "enquiry.resolvers: want an array of 1 to %d addresses",
		                   RESOLVE_SERVERS_MAX);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || resolve_server_parse(&o->servers[i], json_string_value(e)) < 0)
			daemon_config_fail(d, "enquiry.resolvers[%zu]: want \"IPv4\", \"IPv4:port\" or "
			                      "\"[IPv6]:port\"",
			                   i);
	}
	o->n_servers = json_array_size(v);
}

int main(int argc, char **argv)
{
	struct daemon *d = &S.d;
	daemon_init(d, "enquiry", argc, argv);
	static const char *const allowed[] = { "resolvers", "timeout_ms", "cache_entries",
		                                   "max_inflight", NULL };
	daemon_config_allow(d, allowed);
	struct resolve_opts ro;
	memset(&ro, 0, sizeof(ro));
	load_resolvers(d, &ro);
	ro.timeout_ms = (uint64_t)daemon_config_int(d, "timeout_ms", ENQUIRY_TIMEOUT_MS_DEFAULT, 100,
	                                            ENQUIRY_DEADLINE_MS);
	ro.deadline_ms = ENQUIRY_DEADLINE_MS;
	long entries = daemon_config_int(d, "cache_entries", ENQUIRY_CACHE_ENTRIES_DEFAULT, 0,
	                                 CACHE_ENTRIES_MAX);
	S.max_inflight = (size_t)daemon_config_int(d, "max_inflight", ENQUIRY_INFLIGHT_DEFAULT, 1,
	                                           ENQUIRY_INFLIGHT_MAX);
	int lfd = daemon_take_fd(d, "channel");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"channel\" was passed");

	S.kb = daemon_load_keys(d, ROLE_ENQUIRY);

	S.loop = loop_new();
	if (loop_setup_signals(S.loop, on_stop, NULL) < 0)
		fatal("signals");
	S.cache = cache_new((size_t)entries, CACHE_BYTES_MAX);
	S.rs = resolve_new(S.loop, &ro);
	struct rpc_server_opts so = {
		.me = ROLE_ENQUIRY, .key_lookup = keybundle_server_lookup, .key_ctx = S.kb,
		.handler = handler,
	};
	S.srv = rpc_server_new(S.loop, lfd, &so);
	daemon_ready(d, "serving");
	log_info("enquiry: %zu resolvers, cache of %ld entries", ro.n_servers, entries);

	int rc = loop_run(S.loop);
	if (rc < 0)
		fatal("event loop");
	const struct resolve_stats *st = resolve_stats(S.rs);
	log_info("enquiry: %llu questions: %llu from the cache, %llu joined one in flight, %llu "
	         "refused while busy, %llu not answered in time; %llu invalid, %llu denied",
	         (unsigned long long)S.asked, (unsigned long long)S.from_cache,
	         (unsigned long long)S.joined, (unsigned long long)S.busy,
	         (unsigned long long)st->tempfails, (unsigned long long)S.invalid,
	         (unsigned long long)S.refused);
	log_info("enquiry: dns: %llu udp, %llu tcp, %llu truncated, %llu timeouts, %llu failures, "
	         "%llu malformed, %llu ignored",
	         (unsigned long long)st->udp_queries, (unsigned long long)st->tcp_queries,
	         (unsigned long long)st->truncated, (unsigned long long)st->timeouts,
	         (unsigned long long)st->failures, (unsigned long long)st->malformed,
	         (unsigned long long)st->ignored);
	rpc_server_free(S.srv);
	resolve_free(S.rs);
	cache_free(S.cache);
	keybundle_free(S.kb);
	loop_free(S.loop);
	daemon_free(d);
	log_info("enquiry: stopped");
	return 0;
}
