/* conn.h: the API's HTTPS connections on the event loop: accept (with a cap),
 * the TLS handshake under a deadline, HTTP/1.1 requests read under a
 * deadline (slow or half-open clients cannot hold a connection), one request
 * at a time handed to the caller, the answer written, keep-alive. A buffer
 * grows to the size a request declares only once its route is accepted.
 * docs/PROTOCOL.md section 14.4. */
#ifndef ALLEARS_API_CONN_H
#define ALLEARS_API_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "api/route.h"
#include "ipc/loop.h"
#include "ipc/tls.h"

/* Buffer committed to a new connection: a whole head and small bodies. */
#define APICONN_BUF_INITIAL (64u * 1024)
/* The most a connection's buffer can grow to (reserved, committed on need). */
#define APICONN_BUF_MAX HTTP_BUFFER_SIZE(APIREQ_BODY_MAX)
/* A response is handed to TLS in pieces of at most this size. */
#define APICONN_WRITE_CHUNK (256u * 1024)
/* After accept(2) fails for lack of descriptors or memory, wait this long. */
#define APICONN_ACCEPT_PAUSE_MS 100

/* Configuration defaults and limits (api section, docs/PROTOCOL.md 14.5). */
#define APICONN_MAX_CONNECTIONS_DEFAULT 256
#define APICONN_MAX_CONNECTIONS_MAX 65536
#define APICONN_HANDSHAKE_MS_DEFAULT 10000
#define APICONN_IDLE_MS_DEFAULT 60000
#define APICONN_REQUEST_MS_DEFAULT 30000
#define APICONN_TIMEOUT_MS_MIN 100
#define APICONN_TIMEOUT_MS_MAX 3600000

struct apiconn;
struct apiconn_server;

/* A complete request, authenticated by nobody yet. The connection reads
 * nothing more until apiconn_answer(c, ...) is called exactly once (now or
 * later); body stays valid until then. */
typedef void (*apiconn_dispatch_fn)(struct apiconn *c, const struct apiroute *r,
                                    const uint8_t *body, size_t body_len, void *data);

#define APICONN_BODY_MEMORY_MIB_DEFAULT 512 /* under the unit's MemoryMax=1G */
#define APICONN_BODY_MEMORY_MIB_MIN 1
#define APICONN_BODY_MEMORY_MIB_MAX 65536

struct apiconn_opts {
	size_t max_connections;
	uint64_t handshake_ms; /* from accept to the end of the handshake */
	uint64_t idle_ms;      /* between requests, and per write without progress */
	uint64_t request_ms;   /* from a request's first byte to its last (apiroute_request_ms) */
	size_t body_memory;    /* most bytes all connections' large bodies may hold at once */
	apiconn_dispatch_fn dispatch;
	void *data;
};

/* What happened so far, for the log line at exit and the benchmarks. */
struct apiconn_stats {
	uint64_t accepted;
	uint64_t refused;       /* over max_connections */
	uint64_t tls_failed;    /* handshakes that failed (any class) */
	uint64_t timeouts;      /* closed by a handshake, request, idle or write deadline */
	uint64_t requests;      /* dispatched */
	uint64_t http_errors;   /* answered by the HTTP layer itself (400, 404, 413, ...) */
};

/* Serves the listening TCP socket lfd (made non-blocking here) with tls. */
struct apiconn_server *apiconn_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                          const struct apiconn_opts *o);
/* Graceful stop: no new connections; idle ones and ones still sending a
 * request close now; a dispatched request is answered (Connection: close)
 * and its connection closes after the answer. Holds the loop (loop_busy)
 * while an answer is owed or being written. */
void apiconn_server_stop(struct apiconn_server *s);
/* Frees every connection that is left and the server (not lfd). */
void apiconn_server_free(struct apiconn_server *s);
size_t apiconn_server_count(const struct apiconn_server *s);
const struct apiconn_stats *apiconn_server_stats(const struct apiconn_server *s);

/* Answers the dispatched request: status, and body_len bytes of body at
 * buf + APIROUTE_HEAD_ROOM (buf is taken over and freed; NULL when
 * body_len is 0). */
void apiconn_answer(struct apiconn *c, int status, uint8_t *buf, size_t body_len);

#endif
