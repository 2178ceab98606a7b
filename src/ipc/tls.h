/* tls.h: the server side of TLS 1.2/1.3 (wolfSSL) over non-blocking sockets on
 * the event loop (loop.h): HTTPS for API and Web, STARTTLS for the MTA. One
 * policy for every daemon (versions, AEAD suites, groups): docs/PROTOCOL.md
 * section 13. Timeouts are the caller's (loop timers). Nothing about a peer is
 * logged; a failure is reported as an error class. */
#ifndef ALLEARS_IPC_TLS_H
#define ALLEARS_IPC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* The most PEM a certificate chain or a private key may take. */
#define TLS_PEM_MAX (64 * 1024)
/* ALPN protocol names are at most this long (RFC 7301: 255). */
#define TLS_ALPN_MAX 255

/* Negotiated versions, as on the wire. */
#define TLS_VERSION_1_2 0x0303
#define TLS_VERSION_1_3 0x0304

/* The cipher suites offered, by IANA number (every other is refused). */
#define TLS_AES_128_GCM_SHA256 0x1301
#define TLS_AES_256_GCM_SHA384 0x1302
#define TLS_CHACHA20_POLY1305_SHA256 0x1303
#define TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 0xc02b
#define TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 0xc02c
#define TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 0xc02f
#define TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 0xc030
#define TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 0xcca8
#define TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 0xcca9

/* Why a connection failed; only this class may be logged. */
enum tls_error {
	TLS_ERR_NONE = 0,
	TLS_ERR_CLOSED,   /* the peer closed or reset the transport */
	TLS_ERR_VERSION,  /* no common protocol version */
	TLS_ERR_CIPHER,   /* no common cipher suite or key-exchange group */
	TLS_ERR_PROTOCOL, /* malformed or unexpected TLS, a bad MAC, a fatal alert */
	TLS_ERR_PLAINTEXT, /* STARTTLS with plaintext still buffered (injection) */
	TLS_ERR_INTERNAL, /* anything else (memory, our own state) */
};

struct tls_ctx;
struct tls_conn;

/* A server context from a certificate chain (leaf first, then intermediates, as
 * in an ACME fullchain.pem) and its private key (PKCS#8, SEC1 or PKCS#1 PEM;
 * EC P-256/P-384, RSA or Ed25519). Neither buffer is kept or copied by us
 * (wolfSSL keeps its own DER copy of the key and wipes it when freed): the
 * caller wipes its PEM (daemon_credential's memory is wiped by sodium_free).
 * Returns 0, -EINVAL for input over TLS_PEM_MAX, unparseable PEM or a key that
 * does not match the leaf certificate, -ENOMEM. */
int tls_ctx_new(const uint8_t *chain_pem, size_t chain_len, const uint8_t *key_pem,
                size_t key_len, struct tls_ctx **ret) WUR;
/* Selects ALPN protocol `proto` ("http/1.1") when the client offers it; a client
 * offering only others goes on without ALPN. -EINVAL for an empty or too long name. */
int tls_ctx_set_alpn(struct tls_ctx *ctx, const char *proto) WUR;
void tls_ctx_free(struct tls_ctx *ctx);

/* Wraps an accepted non-blocking socket; the caller keeps the fd (closes it
 * after tls_conn_free). -ENOMEM or -EINVAL. */
int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **ret) WUR;
/* STARTTLS on a plaintext connection whose reply ("220 ready") is already fully
 * sent. buffered is the number of plaintext bytes the caller has read beyond
 * the STARTTLS command: any such byte was sent before TLS and must not be taken
 * as if it came through it (RFC 3207 section 4.2, CVE-2011-0411), so the
 * upgrade is refused with -EPROTO and the caller closes the connection. */
int tls_conn_starttls(struct tls_ctx *ctx, int fd, size_t buffered, struct tls_conn **ret) WUR;

/* Drives the handshake: 0 once it is complete, -EAGAIN to wait for
 * tls_conn_events(), or a failure (-ECONNRESET, -EPROTO, -EIO; see
 * tls_conn_error()). */
int tls_conn_handshake(struct tls_conn *c) WUR;
/* Reads decrypted bytes: > 0 bytes, 0 at the peer's close_notify, -EAGAIN, or a
 * failure as above (-ECONNRESET for a transport closed without close_notify).
 * Decrypted bytes may wait inside TLS with the socket not readable: read until
 * -EAGAIN (or while tls_conn_pending()). Runs the handshake first if needed. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len) WUR;
/* Writes all len bytes (> 0): returns len, -EAGAIN, or a failure. After
 * -EAGAIN, call again with the same bytes and length once tls_conn_events() is
 * ready (they may be encrypted already). */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len) WUR;
/* Sends close_notify: 0 when it is sent, -EAGAIN to call again (or give up and
 * close: a missing close_notify costs the peer nothing it has not received), or
 * a failure. Does not wait for the peer's close_notify. */
int tls_conn_shutdown(struct tls_conn *c);

/* The epoll events (EPOLLIN or EPOLLOUT) the last -EAGAIN waits for. */
uint32_t tls_conn_events(const struct tls_conn *c);
/* True when decrypted or received bytes wait inside TLS. */
bool tls_conn_pending(const struct tls_conn *c);
bool tls_conn_established(const struct tls_conn *c);
/* After the handshake: TLS_VERSION_1_2 or TLS_VERSION_1_3, and the suite's IANA
 * number (0 before). */
uint16_t tls_conn_version(const struct tls_conn *c);
uint16_t tls_conn_cipher(const struct tls_conn *c);
/* The class of the failure that ended the connection (TLS_ERR_NONE if none). */
enum tls_error tls_conn_error(const struct tls_conn *c);
const char *tls_error_name(enum tls_error e);
/* Frees the connection (not the fd). */
void tls_conn_free(struct tls_conn *c);

#endif
