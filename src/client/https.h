/* https.h: a small blocking HTTPS/1.1 client for the API (docs/PROTOCOL.md
 * section 14): TLS 1.2 or 1.3 only (wolfSSL), the server certificate checked
 * against a CA file or the system store and against the host name (SNI is
 * sent for names), keep-alive across several POSTs, a timeout on every wait.
 * Errors are classified (server down, certificate, protocol) with a message
 * meant for the user. */
#ifndef ALLEARS_CLIENT_HTTPS_H
#define ALLEARS_CLIENT_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/apireq.h"
#include "common/util.h"

#define HTTPS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define HTTPS_HEAD_MAX 16384          /* status line and header fields, with CRLFs */
#define HTTPS_HEADER_LINES_MAX 64
#define HTTPS_PATH_MAX 1024
/* The largest response body: a sealed response with the most data (12.4). */
#define HTTPS_BODY_MAX                                                                  \
	((size_t)APIREQ_OVERHEAD +                                                          \
	 (size_t)APIREQ_RESP_BLOCK *                                                        \
	     (((size_t)APIREQ_RESP_HEADER + APIREQ_RESP_DATA_MAX + APIREQ_RESP_BLOCK - 1) / \
	      APIREQ_RESP_BLOCK))
#define HTTPS_CHUNK 65536             /* bytes per write/read step (progress granularity) */
#define HTTPS_MSG_MAX 512
#define HTTPS_TIMEOUT_DEFAULT_MS 30000

enum https_error {
	HTTPS_OK = 0,
	HTTPS_E_RESOLVE,  /* the host name does not resolve */
	HTTPS_E_REFUSED,  /* connection refused: nothing listens there */
	HTTPS_E_CONNECT,  /* unreachable, or another connect error */
	HTTPS_E_TIMEOUT,  /* no progress within the timeout */
	HTTPS_E_CLOSED,   /* the server closed the connection (or reset it) */
	HTTPS_E_CA,       /* the CA file cannot be loaded */
	HTTPS_E_CERT,     /* the certificate chain does not verify */
	HTTPS_E_NAME,     /* the certificate is not for this host */
	HTTPS_E_TLS,      /* any other TLS failure */
	HTTPS_E_PROTO,    /* not an acceptable HTTP response */
	HTTPS_E_TOOBIG,   /* the response body is over HTTPS_BODY_MAX */
	HTTPS_E_USAGE,    /* bad arguments */
};

struct https_opts {
	const char *host;    /* DNS name or IP address, without brackets */
	uint16_t port;
	const char *ca_file; /* NULL or "": HTTPS_SYSTEM_CA */
	unsigned timeout_ms; /* 0: HTTPS_TIMEOUT_DEFAULT_MS */
};

struct https_progress {
	void (*fn)(void *arg, uint64_t done, uint64_t total);
	void *arg;
};

struct https_resp {
	int status;          /* 200..599 */
	bool has_date;
	int64_t date;        /* the Date field, Unix seconds */
	unsigned retry_after; /* seconds, 0 when absent */
	uint8_t *body;       /* malloc'd, NULL when empty */
	size_t body_len;
};

/* A parsed response head (the bytes up to and including the empty line). */
struct https_head {
	int status;
	int minor;           /* HTTP/1.minor */
	bool has_length;
	uint64_t length;
	bool close;          /* the connection must be closed after this response */
	bool has_date;
	int64_t date;
	unsigned retry_after;
};

struct https_conn;

/* Copies the options; makes no connection yet. NULL for bad options. */
struct https_conn *https_new(const struct https_opts *o);
void https_free(struct https_conn *c);

/* POSTs body to path (which must start with '/') and reads the whole answer.
 * Connects (or reconnects) as needed and keeps the connection for the next
 * call unless the server closes it. 0 on success (any HTTP status); -1 on
 * failure, with https_error()/https_message() saying why and the connection
 * dropped. up/down may be NULL. */
int https_post(struct https_conn *c, const char *path, const uint8_t *body, size_t len,
               struct https_resp *ret, const struct https_progress *up,
               const struct https_progress *down) WUR;
void https_resp_free(struct https_resp *r);

enum https_error https_error(const struct https_conn *c);
const char *https_message(const struct https_conn *c);
/* True when the last failure happened on a reused connection before any byte
 * of the answer arrived: the server most likely closed an idle connection
 * and never saw the request, so one retry (with a fresh request) is safe. */
bool https_stale(const struct https_conn *c);
/* TCP connections made so far (tests check keep-alive with it). */
unsigned https_connections(const struct https_conn *c);

/* Parses a response head of len bytes ending in CRLF CRLF. -EBADMSG for
 * anything malformed (bad status line, bare LF, obs-fold, bad field name or
 * value, duplicate or non-numeric Content-Length), -ENOTSUP for
 * Transfer-Encoding, -EFBIG for a Content-Length over HTTPS_BODY_MAX,
 * -E2BIG over the size or line limits. A Date that is not an IMF-fixdate is
 * ignored (has_date false). */
int https_parse_head(struct https_head *ret, const char *p, size_t len) WUR;
/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 bytes) to Unix
 * seconds; -EINVAL otherwise. */
int https_parse_date(const char *p, size_t n, int64_t *ret) WUR;

#endif
