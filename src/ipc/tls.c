/* tls.c: the TLS server policy and non-blocking connections of tls.h, on
 * wolfSSL. The socket I/O goes through our own callbacks (MSG_NOSIGNAL, EINTR
 * retried) so that a failure can be put in a class without wolfSSL's logging.
 * Policy: docs/PROTOCOL.md section 13. */
#include "ipc/tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfio.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* wolfSSL's names for the suites in tls.h: TLS 1.3 first, then TLS 1.2 ECDHE
 * with AEAD only (no CBC, no RSA key exchange, no DHE). */
static const char tls_cipher_list[] =
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* The in-memory handshake that proves the key (self_handshake). */
#define TLS_SELFTEST_BUF (128 * 1024)
#define TLS_SELFTEST_ROUNDS 16

struct tls_ctx {
	WOLFSSL_CTX *ctx;
	char alpn[TLS_ALPN_MAX + 1];
};

struct tls_conn {
	WOLFSSL *ssl;
	int fd;
	uint32_t want;
	bool established;
	bool failed;
	enum tls_error error;
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_rc;

static void tls_global_init(void)
{
	tls_init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -EIO;
}

/* One direction of an in-memory transport for self_handshake(). */
struct mem_pipe {
	uint8_t buf[TLS_SELFTEST_BUF];
	size_t len, off;
};

static int mem_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct mem_pipe *p = arg;
	(void)ssl;
	size_t n = p->len - p->off;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, p->buf + p->off, n);
	p->off += n;
	if (p->off == p->len)
		p->off = p->len = 0;
	return (int)n;
}

static int mem_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct mem_pipe *p = arg;
	(void)ssl;
	if ((size_t)sz > sizeof(p->buf) - p->len)
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(p->buf + p->len, buf, (size_t)sz);
	p->len += (size_t)sz;
	return sz;
}

/* wolfSSL 5.5.4's check_private_key does not notice a key of the right type and
 * curve that belongs to another certificate. So the key is proven the way a
 * client would: a TLS 1.3 handshake with ourselves in memory, where the client
 * checks the server's CertificateVerify signature against the leaf's public key
 * (the chain itself is not validated here: that is the client's business). */
static int self_handshake(WOLFSSL_CTX *srv_ctx)
{
	int rc = -EINVAL;
	WOLFSSL_CTX *cli_ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	WOLFSSL *cli = NULL, *srv = NULL;
	struct mem_pipe *c2s = xcalloc(1, sizeof(*c2s)), *s2c = xcalloc(1, sizeof(*s2c));
	if (!cli_ctx)
		goto out;
	wolfSSL_CTX_set_verify(cli_ctx, WOLFSSL_VERIFY_NONE, NULL);
	cli = wolfSSL_new(cli_ctx);
	srv = wolfSSL_new(srv_ctx);
	if (!cli || !srv)
		goto out;
	wolfSSL_SSLSetIORecv(cli, mem_recv);
	wolfSSL_SSLSetIOSend(cli, mem_send);
	wolfSSL_SetIOReadCtx(cli, s2c);
	wolfSSL_SetIOWriteCtx(cli, c2s);
	wolfSSL_SSLSetIORecv(srv, mem_recv);
	wolfSSL_SSLSetIOSend(srv, mem_send);
	wolfSSL_SetIOReadCtx(srv, c2s);
	wolfSSL_SetIOWriteCtx(srv, s2c);
	bool cli_done = false, srv_done = false;
	for (int round = 0; round < TLS_SELFTEST_ROUNDS && !(cli_done && srv_done); round++) {
		if (!cli_done) {
			int r = wolfSSL_connect(cli);
			if (r == WOLFSSL_SUCCESS)
				cli_done = true;
			else if (wolfSSL_get_error(cli, r) != WOLFSSL_ERROR_WANT_READ)
				goto out;
		}
		if (!srv_done) {
			int r = wolfSSL_accept(srv);
			if (r == WOLFSSL_SUCCESS)
				srv_done = true;
			else if (wolfSSL_get_error(srv, r) != WOLFSSL_ERROR_WANT_READ)
				goto out;
		}
	}
	if (cli_done && srv_done)
		rc = 0;
out:
	wolfSSL_free(cli);
	wolfSSL_free(srv);
	wolfSSL_CTX_free(cli_ctx);
	explicit_bzero(c2s, sizeof(*c2s));
	explicit_bzero(s2c, sizeof(*s2c));
	free(c2s);
	free(s2c);
	return rc;
}

int tls_ctx_new(const uint8_t *chain_pem, size_t chain_len, const uint8_t *key_pem,
                size_t key_len, struct tls_ctx **ret)
{
	if (!chain_len || !key_len || chain_len > TLS_PEM_MAX || key_len > TLS_PEM_MAX)
		return -EINVAL;
	pthread_once(&tls_once, tls_global_init);
	if (tls_init_rc)
		return tls_init_rc;

	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (!ctx)
		return -ENOMEM;
	int groups[] = { WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1 };
	int rc = -EINVAL;
	if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(ctx, tls_cipher_list) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(ctx, groups, (int)ARRAY_SIZE(groups)) != WOLFSSL_SUCCESS) {
		log_err("tls: the TLS policy cannot be set in this wolfSSL build");
		rc = -EIO;
		goto fail;
	}
	/* TLS 1.2 ECDHE: set_groups only rules TLS 1.3 key shares in wolfSSL 5.5.4,
	 * which otherwise takes any curve a client offers (P-384, P-521, X448);
	 * the curves list disables every other curve for both versions. */
	if (wolfSSL_CTX_set1_curves_list(ctx, "X25519:P-256") != WOLFSSL_SUCCESS) {
		log_err("tls: the key exchange groups cannot be set in this wolfSSL build");
		rc = -EIO;
		goto fail;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	/* No server-side session cache: resumption is by TLS 1.3 tickets only, so
	 * no session secrets are kept between connections in our memory. */
	wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
	if (wolfSSL_CTX_NoTicketTLSv12(ctx) != WOLFSSL_SUCCESS) {
		rc = -EIO;
		goto fail;
	}
	if (wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, chain_pem, (long)chain_len,
	                                                      WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		goto fail;
	if (wolfSSL_CTX_use_PrivateKey_buffer(ctx, key_pem, (long)key_len, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS)
		goto fail;
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS || self_handshake(ctx) != 0)
		goto fail;

	struct tls_ctx *t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	*ret = t;
	return 0;
fail:
	wolfSSL_CTX_free(ctx);
	return rc;
}

int tls_ctx_set_alpn(struct tls_ctx *ctx, const char *proto)
{
	size_t n = strlen(proto);
	if (n == 0 || n > TLS_ALPN_MAX || strchr(proto, ','))
		return -EINVAL;
	memcpy(ctx->alpn, proto, n + 1);
	return 0;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	wolfSSL_CTX_free(ctx->ctx);
	free(ctx);
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	(void)ssl;
	for (;;) {
		ssize_t n = recv(c->fd, buf, (size_t)sz, 0);
		if (n > 0)
			return (int)n;
		if (n == 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->want = EPOLLIN;
			return WOLFSSL_CBIO_ERR_WANT_READ;
		}
		if (errno == ECONNRESET)
			return WOLFSSL_CBIO_ERR_CONN_RST;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	(void)ssl;
	for (;;) {
		ssize_t n = send(c->fd, buf, (size_t)sz, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->want = EPOLLOUT;
			return WOLFSSL_CBIO_ERR_WANT_WRITE;
		}
		if (errno == EPIPE)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (errno == ECONNRESET)
			return WOLFSSL_CBIO_ERR_CONN_RST;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **ret)
{
	if (fd < 0)
		return -EINVAL;
	WOLFSSL *ssl = wolfSSL_new(ctx->ctx);
	if (!ssl)
		return -ENOMEM;
	struct tls_conn *c = xcalloc(1, sizeof(*c));
	c->ssl = ssl;
	c->fd = fd;
	c->want = EPOLLIN;
	wolfSSL_SSLSetIORecv(ssl, io_recv);
	wolfSSL_SSLSetIOSend(ssl, io_send);
	wolfSSL_SetIOReadCtx(ssl, c);
	wolfSSL_SetIOWriteCtx(ssl, c);
	if (ctx->alpn[0] &&
	    wolfSSL_UseALPN(ssl, ctx->alpn, (unsigned)strlen(ctx->alpn),
	                    WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) != WOLFSSL_SUCCESS) {
		tls_conn_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int tls_conn_starttls(struct tls_ctx *ctx, int fd, size_t buffered, struct tls_conn **ret)
{
	if (buffered)
		return -EPROTO;
	return tls_conn_new(ctx, fd, ret);
}

static enum tls_error classify(int err)
{
	switch (err) {
	case WOLFSSL_ERROR_SYSCALL:
	case SOCKET_ERROR_E:
	case SOCKET_PEER_CLOSED_E:
		return TLS_ERR_CLOSED;
	case VERSION_ERROR:
		return TLS_ERR_VERSION;
	case MATCH_SUITE_ERROR:
	case UNSUPPORTED_SUITE:
	case ECC_CURVE_ERROR:
	case KEY_SHARE_ERROR:
	case BAD_KEY_SHARE_DATA:
		return TLS_ERR_CIPHER;
	case MEMORY_E:
		return TLS_ERR_INTERNAL;
	default:
		return TLS_ERR_PROTOCOL;
	}
}

/* Maps a wolfSSL result <= 0 to -EAGAIN (with c->want) or a failure. */
static int fail_or_wait(struct tls_conn *c, int ret)
{
	int err = wolfSSL_get_error(c->ssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ) {
		c->want = EPOLLIN;
		return -EAGAIN;
	}
	if (err == WOLFSSL_ERROR_WANT_WRITE) {
		c->want = EPOLLOUT;
		return -EAGAIN;
	}
	c->failed = true;
	c->error = classify(err);
	switch (c->error) {
	case TLS_ERR_CLOSED:
		return -ECONNRESET;
	case TLS_ERR_INTERNAL:
		return -EIO;
	default:
		return -EPROTO;
	}
}

static int failed_rc(const struct tls_conn *c)
{
	switch (c->error) {
	case TLS_ERR_CLOSED:
		return -ECONNRESET;
	case TLS_ERR_INTERNAL:
		return -EIO;
	default:
		return -EPROTO;
	}
}

int tls_conn_handshake(struct tls_conn *c)
{
	if (c->failed)
		return failed_rc(c);
	if (c->established)
		return 0;
	int ret = wolfSSL_accept(c->ssl);
	if (ret != WOLFSSL_SUCCESS)
		return fail_or_wait(c, ret);
	int v = wolfSSL_version(c->ssl);
	if (v != TLS_VERSION_1_2 && v != TLS_VERSION_1_3) {
		/* Cannot happen with the minimum version set; refuse rather than trust it. */
		c->failed = true;
		c->error = TLS_ERR_VERSION;
		return -EPROTO;
	}
	c->established = true;
	return 0;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	if (c->failed)
		return failed_rc(c);
	if (!c->established) {
		int rc = tls_conn_handshake(c);
		if (rc)
			return rc;
	}
	if (len > INT_MAX)
		len = INT_MAX;
	if (len == 0)
		return -EINVAL;
	int ret = wolfSSL_read(c->ssl, buf, (int)len);
	if (ret > 0)
		return ret;
	int err = wolfSSL_get_error(c->ssl, ret);
	if (err == WOLFSSL_ERROR_ZERO_RETURN)
		return 0;
	return fail_or_wait(c, ret);
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
	if (c->failed)
		return failed_rc(c);
	if (!c->established) {
		int rc = tls_conn_handshake(c);
		if (rc)
			return rc;
	}
	if (len == 0 || len > INT_MAX)
		return -EINVAL;
	int ret = wolfSSL_write(c->ssl, buf, (int)len);
	if (ret > 0)
		return ret;
	return fail_or_wait(c, ret);
}

int tls_conn_shutdown(struct tls_conn *c)
{
	if (c->failed)
		return failed_rc(c);
	if (!c->established)
		return -ENOTCONN;
	int ret = wolfSSL_shutdown(c->ssl);
	/* SHUTDOWN_NOT_DONE: ours is sent, the peer's has not come; we do not wait. */
	if (ret == WOLFSSL_SUCCESS || ret == WOLFSSL_SHUTDOWN_NOT_DONE)
		return 0;
	return fail_or_wait(c, ret);
}

uint32_t tls_conn_events(const struct tls_conn *c)
{
	return c->want;
}

bool tls_conn_pending(const struct tls_conn *c)
{
	return wolfSSL_has_pending(c->ssl) != 0;
}

bool tls_conn_established(const struct tls_conn *c)
{
	return c->established;
}

uint16_t tls_conn_version(const struct tls_conn *c)
{
	if (!c->established)
		return 0;
	return (uint16_t)wolfSSL_version(c->ssl);
}

uint16_t tls_conn_cipher(const struct tls_conn *c)
{
	if (!c->established)
		return 0;
	int s = wolfSSL_get_current_cipher_suite(c->ssl);
	return s < 0 ? 0 : (uint16_t)s;
}

enum tls_error tls_conn_error(const struct tls_conn *c)
{
	return c->error;
}

const char *tls_error_name(enum tls_error e)
{
	switch (e) {
	case TLS_ERR_NONE: return "none";
	case TLS_ERR_CLOSED: return "closed";
	case TLS_ERR_VERSION: return "version";
	case TLS_ERR_CIPHER: return "cipher";
	case TLS_ERR_PROTOCOL: return "protocol";
	case TLS_ERR_PLAINTEXT: return "plaintext";
	case TLS_ERR_INTERNAL: return "internal";
	}
	return "unknown";
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	wolfSSL_free(c->ssl);
	free(c);
}
