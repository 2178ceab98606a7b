/* conn.h: allears-web's HTTPS connections on the event loop: accept (with a
 * cap), the TLS handshake under a deadline, small requests read under a
 * deadline, each answered at once from site.c's prebuilt bytes, keep-alive
 * and pipelining. docs/PROTOCOL.md section 21.6. */
#ifndef ALLEARS_WEB_CONN_H
#define ALLEARS_WEB_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/loop.h"
#include "ipc/tls.h"
#include "web/site.h"

/* A response is handed to TLS in pieces of at most this size (one record). */
#define WEBCONN_WRITE_CHUNK (16u * 1024)
/* After accept(2) fails for lack of descriptors or memory, wait this long. */
#define WEBCONN_ACCEPT_PAUSE_MS 100

/* Configuration defaults and limits (web section, docs/PROTOCOL.md 21.7). */
#define WEBCONN_MAX_CONNECTIONS_DEFAULT 256
#define WEBCONN_MAX_CONNECTIONS_MAX 65536
#define WEBCONN_HANDSHAKE_MS_DEFAULT 10000
#define WEBCONN_REQUEST_MS_DEFAULT 10000
#define WEBCONN_IDLE_MS_DEFAULT 30000
#define WEBCONN_TIMEOUT_MS_MIN 100
#define WEBCONN_TIMEOUT_MS_MAX 3600000

struct webconn_server;

struct webconn_opts {
	size_t max_connections;
	uint64_t handshake_ms; /* from accept to the end of the handshake */
	uint64_t request_ms;   /* from a request's first byte to its end; before the first one */
	uint64_t idle_ms;      /* between requests, and per write without progress */
};

struct webconn_stats {
	uint64_t accepted;
	uint64_t refused;     /* over max_connections */
	uint64_t tls_failed;  /* handshakes that failed */
	uint64_t timeouts;    /* closed by a deadline */
	uint64_t requests;    /* answered by site.c (200, 304) */
	uint64_t http_errors; /* answered with an error status (400, 404, 405, 413, ...) */
};

/* Serves the listening TCP socket lfd (made non-blocking here) with tls. */
struct webconn_server *webconn_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                          const struct website *site,
                                          const struct webconn_opts *o);
/* Graceful stop: no new connections; connections with no answer being
 * written close now, the others once it is written (the loop waits). */
void webconn_server_stop(struct webconn_server *s);
void webconn_server_free(struct webconn_server *s);
const struct webconn_stats *webconn_server_stats(const struct webconn_server *s);

#endif
