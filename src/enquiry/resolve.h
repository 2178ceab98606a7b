/* resolve.h: asks the configured recursive resolvers, on the event loop and
 * never blocking: UDP first (a fresh socket, so a fresh source port, and a
 * random id per query), TCP when the answer is truncated, the next resolver
 * after a timeout, a failure answer (SERVFAIL, REFUSED, ...) or a malformed
 * message, all within one deadline per question. docs/PROTOCOL.md section 17. */
#ifndef ALLEARS_ENQUIRY_RESOLVE_H
#define ALLEARS_ENQUIRY_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "enquiry/dns.h"
#include "ipc/loop.h"

#define RESOLVE_SERVERS_MAX 8
#define RESOLVE_PORT 53
#define RESOLVE_TRIES_PER_SERVER 2   /* each resolver is asked at most twice per question */
#define RESOLVE_ADDR_TEXT_MAX 64     /* "[IPv6]:port" */

struct resolve_server {
	struct sockaddr_storage sa;
	socklen_t len;
};

/* Parses "IPv4", "IPv4:port", "IPv6" or "[IPv6]:port" (port 1-65535, default
 * 53). -EINVAL for anything else. */
int resolve_server_parse(struct resolve_server *ret, const char *text) WUR;

/* The nameserver lines of a resolv.conf (at most max). Returns the count, or
 * a negative errno when the file cannot be read. */
int resolve_conf_servers(const char *path, struct resolve_server *out, size_t max) WUR;

struct resolve_opts {
	struct resolve_server servers[RESOLVE_SERVERS_MAX];
	size_t n_servers;
	uint64_t timeout_ms;  /* one query to one resolver */
	uint64_t deadline_ms; /* the whole question */
};

/* Counters (logged at exit; never names). */
struct resolve_stats {
	uint64_t questions, udp_queries, tcp_queries, truncated, timeouts, failures, malformed,
		ignored, tempfails;
};

struct resolve;
struct resolve_query;

/* res is the parsed answer (status CHST_OK or CHST_NOT_FOUND), or NULL when
 * no resolver gave one in time (the caller answers CHST_TEMPFAIL). */
typedef void (*resolve_done_fn)(const struct dns_result *res, void *arg);

struct resolve *resolve_new(struct loop *l, const struct resolve_opts *o);
/* Every query must have finished. */
void resolve_free(struct resolve *rs);

/* Starts a question for name (enq_name_valid) of Enquiry type enq_type; done
 * runs exactly once, later, on the loop. -EINVAL for a bad name or type. */
int resolve_start(struct resolve *rs, const uint8_t *name, size_t name_len, uint8_t enq_type,
                  resolve_done_fn done, void *arg) WUR;

const struct resolve_stats *resolve_stats(const struct resolve *rs);

#endif
