/* test_tls.c: the TLS server layer (ipc/tls.h) against a wolfSSL client over a
 * non-blocking socketpair, both driven from this thread: the policy (versions,
 * suites as IANA numbers), would-block reporting in both directions, close,
 * failure classes, STARTTLS refusal and the refusal of bad keys. Real clients
 * (openssl, Python, curl) are in tests/integration/test_tls_http.py. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ipc/tls.h"

/* A throw-away self-signed P-256 certificate and its key (never trusted by anyone). */
static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBkDCCATWgAwIBAgIUeiZhbB9f1CN/dGFQ1w4jsMr79C4wCgYIKoZIzj0EAwIw\n"
	"HDEaMBgGA1UEAwwRYWxsZWFycy11bml0LXRlc3QwIBcNMjYxMTI4MDAwOTQ3WhgP\n"
	"MjEyNjExMDQwMDA5NDdaMBwxGjAYBgNVBAMMEWFsbGVhcnMtdW5pdC10ZXN0MFkw\n"
	"EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcecFrDIbZEWWC7T1wk8p7VwWQB9bL0x/\n"
	"4jQ1JQ8YAw3/QOcqvf6j3Dm2yHZ8Pi2eO75aVzt8+zYbhNV6lnSjYKNTMFEwHQYD\n"
	"VR0OBBYEFDO1yH4ZW7ujsHkFewYZ05ki8NH0MB8GA1UdIwQYMBaAFDO1yH4ZW7uj\n"
	"sHkFewYZ05ki8NH0MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIh\n"
	"ALGOCyCC/8qnluK/Buxbgrqgs7XwWOSbRzzQuYZberZ7AiEAz5oAd3BS+OtcDcgA\n"
	"i9Fa5hn3odg45jehw9M3BjlQYCs=\n"
	"-----END CERTIFICATE-----\n";

static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQght3894+CJHkdb6Bb\n"
	"PggSCLXBv5FUnrktW2XM59xBpsWhRANCAARx5wWsMhtkRZYLtPXCTyntXBZAH1sv\n"
	"TH/iNDUlDxgDDf9A5yq9/qPcObbIdnw+LZ47vlpXO3z7NhuE1XqWdKNg\n"
	"-----END PRIVATE KEY-----\n";

/* Another P-256 key: right type and curve, wrong certificate. */
static const char other_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgL4KCbQ8447MvTKav\n"
	"j7Kehu7s1SODZfnJMJmcfL6DT72hRANCAARSs1QUwWx7WOWCHh4rRD0suOI09uPx\n"
	"YneqtHi6IjNwSO73xLC5Lfo5KcMj6ht3M1atJcWYuLvnShuz1p5wIvVP\n"
	"-----END PRIVATE KEY-----\n";

static struct tls_ctx *ctx;

static int ctx_from(const char *c, size_t clen, const char *k, size_t klen)
{
	struct tls_ctx *t = NULL;
	int rc = tls_ctx_new((const uint8_t *)c, clen, (const uint8_t *)k, klen, &t);
	if (rc == 0)
		tls_ctx_free(t);
	return rc;
}

struct pair {
	int sfd, cfd;
	struct tls_conn *srv;
	WOLFSSL_CTX *cctx;
	WOLFSSL *cli;
	bool cli_done, cli_failed;
};

static bool pair_open(struct pair *p, WOLFSSL_METHOD *m, const char *ciphers)
{
	int fds[2];
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
		return false;
	p->sfd = fds[0];
	p->cfd = fds[1];
	if (tls_conn_new(ctx, p->sfd, &p->srv) != 0)
		return false;
	p->cctx = wolfSSL_CTX_new(m);
	if (!p->cctx)
		return false;
	wolfSSL_CTX_set_verify(p->cctx, WOLFSSL_VERIFY_NONE, NULL);
	if (ciphers && wolfSSL_CTX_set_cipher_list(p->cctx, ciphers) != WOLFSSL_SUCCESS)
		return false;
	p->cli = wolfSSL_new(p->cctx);
	return p->cli && wolfSSL_set_fd(p->cli, p->cfd) == WOLFSSL_SUCCESS;
}

static void pair_close(struct pair *p)
{
	tls_conn_free(p->srv);
	wolfSSL_free(p->cli);
	wolfSSL_CTX_free(p->cctx);
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->cfd >= 0)
		close(p->cfd);
}

/* Steps client and server in turn; returns the server's last handshake result. */
static int handshake(struct pair *p)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 64; i++) {
		if (!p->cli_done && !p->cli_failed) {
			int r = wolfSSL_connect(p->cli);
			if (r == WOLFSSL_SUCCESS)
				p->cli_done = true;
			else if (wolfSSL_get_error(p->cli, r) != WOLFSSL_ERROR_WANT_READ &&
			         wolfSSL_get_error(p->cli, r) != WOLFSSL_ERROR_WANT_WRITE)
				p->cli_failed = true;
		}
		rc = tls_conn_handshake(p->srv);
		if (rc == -EAGAIN)
			CHECK(tls_conn_events(p->srv) == EPOLLIN || tls_conn_events(p->srv) == EPOLLOUT);
		if (rc != -EAGAIN && (p->cli_done || p->cli_failed))
			break;
	}
	return rc;
}

static void ctx_refuses_bad_input(void)
{
	size_t cl = strlen(cert_pem), kl = strlen(key_pem);
	CHECK(ctx_from(cert_pem, cl, key_pem, kl) == 0);
	CHECK(ctx_from(cert_pem, 0, key_pem, kl) == -EINVAL);
	CHECK(ctx_from(cert_pem, cl, key_pem, 0) == -EINVAL);
	CHECK(ctx_from(cert_pem, cl, other_key_pem, strlen(other_key_pem)) == -EINVAL);
	CHECK(ctx_from(key_pem, kl, cert_pem, cl) == -EINVAL);
	CHECK(ctx_from(cert_pem, cl - 40, key_pem, kl) == -EINVAL); /* truncated */
	CHECK(ctx_from(cert_pem, cl, key_pem, kl - 40) == -EINVAL);
	const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	CHECK(ctx_from(junk, strlen(junk), key_pem, kl) == -EINVAL);
	/* exactly at the size limit is parsed (and is no certificate); one over is not read */
	static char big[TLS_PEM_MAX + 1];
	memset(big, '\n', sizeof(big));
	memcpy(big, cert_pem, cl);
	CHECK(ctx_from(big, TLS_PEM_MAX, key_pem, kl) == 0);
	CHECK(ctx_from(big, TLS_PEM_MAX + 1, key_pem, kl) == -EINVAL);

	char name[TLS_ALPN_MAX + 2];
	memset(name, 'a', sizeof(name));
	name[TLS_ALPN_MAX + 1] = 0;
	CHECK(tls_ctx_set_alpn(ctx, name) == -EINVAL);
	name[TLS_ALPN_MAX] = 0;
	CHECK(tls_ctx_set_alpn(ctx, name) == 0);
	CHECK(tls_ctx_set_alpn(ctx, "") == -EINVAL);
	CHECK(tls_ctx_set_alpn(ctx, "h2,http/1.1") == -EINVAL);
	CHECK(tls_ctx_set_alpn(ctx, "http/1.1") == 0);
}

static void handshake_tls13(void)
{
	struct pair p;
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(tls_conn_version(p.srv) == 0 && tls_conn_cipher(p.srv) == 0);
	CHECK(!tls_conn_established(p.srv));
	CHECK(tls_conn_handshake(p.srv) == -EAGAIN && tls_conn_events(p.srv) == EPOLLIN);
	CHECK(handshake(&p) == 0 && p.cli_done);
	CHECK(tls_conn_established(p.srv));
	CHECK(tls_conn_version(p.srv) == TLS_VERSION_1_3);
	uint16_t s = tls_conn_cipher(p.srv);
	CHECK(s == TLS_AES_128_GCM_SHA256 || s == TLS_AES_256_GCM_SHA384 ||
	      s == TLS_CHACHA20_POLY1305_SHA256);
	CHECK(tls_conn_error(p.srv) == TLS_ERR_NONE);
	pair_close(&p);

	/* each TLS 1.3 suite, by its IANA number */
	static const struct { const char *name; uint16_t iana; } s13[] = {
		{ "TLS13-AES128-GCM-SHA256", TLS_AES_128_GCM_SHA256 },
		{ "TLS13-AES256-GCM-SHA384", TLS_AES_256_GCM_SHA384 },
		{ "TLS13-CHACHA20-POLY1305-SHA256", TLS_CHACHA20_POLY1305_SHA256 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(s13); i++) {
		CHECK(pair_open(&p, wolfTLSv1_3_client_method(), s13[i].name));
		CHECK(handshake(&p) == 0);
		CHECK(tls_conn_cipher(p.srv) == s13[i].iana);
		pair_close(&p);
	}
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), "TLS13-AES128-CCM-SHA256"));
	CHECK(handshake(&p) == -EPROTO);
	pair_close(&p);
}

static void handshake_tls12_suites(void)
{
	static const struct { const char *name; uint16_t iana; } ok[] = {
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 },
		{ "ECDHE-ECDSA-AES256-GCM-SHA384", TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 },
	};
	struct pair p;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		CHECK(pair_open(&p, wolfTLSv1_2_client_method(), ok[i].name));
		CHECK(handshake(&p) == 0);
		CHECK(tls_conn_version(p.srv) == TLS_VERSION_1_2);
		CHECK(tls_conn_cipher(p.srv) == ok[i].iana);
		pair_close(&p);
	}
	/* CBC, the old ChaCha draft, CCM, RSA key exchange: no shared suite */
	static const char *const refused[] = {
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
		"ECDHE-ECDSA-CHACHA20-POLY1305-OLD", "ECDHE-ECDSA-AES128-CCM", "AES128-GCM-SHA256",
	};
	size_t tried = 0;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		if (!pair_open(&p, wolfTLSv1_2_client_method(), refused[i])) {
			pair_close(&p); /* this wolfSSL cannot even offer it (static RSA) */
			continue;
		}
		tried++;
		int rc = handshake(&p);
		if (rc != -EPROTO || tls_conn_error(p.srv) != TLS_ERR_CIPHER)
			fprintf(stderr, "  %s: rc %d class %s\n", refused[i], rc,
			        tls_error_name(tls_conn_error(p.srv)));
		CHECK(rc == -EPROTO && tls_conn_error(p.srv) == TLS_ERR_CIPHER);
		CHECK(!tls_conn_established(p.srv) && tls_conn_cipher(p.srv) == 0);
		pair_close(&p);
	}
	CHECK(tried >= 5);
}

static void tls11_refused(void)
{
	struct pair p;
	CHECK(pair_open(&p, wolfTLSv1_1_client_method(), NULL));
	CHECK(handshake(&p) == -EPROTO);
	CHECK(tls_conn_error(p.srv) == TLS_ERR_VERSION);
	CHECK(!p.cli_done);
	/* the failure sticks */
	char b[8];
	CHECK(tls_conn_read(p.srv, b, sizeof(b)) == -EPROTO);
	CHECK(tls_conn_write(p.srv, "x", 1) == -EPROTO);
	CHECK(tls_conn_handshake(p.srv) == -EPROTO);
	pair_close(&p);
}

static void read_write_would_block(void)
{
	struct pair p;
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(handshake(&p) == 0);
	char b[64];
	CHECK(tls_conn_read(p.srv, b, sizeof(b)) == -EAGAIN);
	CHECK(tls_conn_events(p.srv) == EPOLLIN);
	CHECK(wolfSSL_write(p.cli, "hello", 5) == 5);
	CHECK(tls_conn_read(p.srv, b, sizeof(b)) == 5 && memcmp(b, "hello", 5) == 0);
	CHECK(!tls_conn_pending(p.srv));
	CHECK(tls_conn_write(p.srv, b, 0) == -EINVAL);

	/* two records, read a byte at a time: the second waits inside TLS */
	CHECK(wolfSSL_write(p.cli, "ab", 2) == 2);
	CHECK(wolfSSL_write(p.cli, "cd", 2) == 2);
	CHECK(tls_conn_read(p.srv, b, 1) == 1 && b[0] == 'a');
	CHECK(tls_conn_pending(p.srv));
	CHECK(tls_conn_read(p.srv, b, 1) == 1 && b[0] == 'b');
	CHECK(tls_conn_read(p.srv, b, 1) == 1 && b[0] == 'c');
	CHECK(tls_conn_read(p.srv, b, 1) == 1 && b[0] == 'd');
	CHECK(tls_conn_read(p.srv, b, 1) == -EAGAIN);

	/* a write larger than the socket takes: -EAGAIN/EPOLLOUT, then the same bytes again */
	int small = 4096;
	setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(p.cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	enum { BIG = 1 << 20 };
	uint8_t *big = malloc(BIG), *got = malloc(BIG);
	randombytes_buf(big, BIG);
	size_t have = 0;
	int eagain = 0, done = 0;
	for (int i = 0; i < 100000 && have < BIG; i++) {
		if (!done) {
			ssize_t w = tls_conn_write(p.srv, big, BIG);
			if (w == -EAGAIN) {
				CHECK(tls_conn_events(p.srv) == EPOLLOUT);
				eagain++;
			} else {
				CHECK(w == BIG);
				done = 1;
			}
		}
		int r = wolfSSL_read(p.cli, got + have, (int)(BIG - have));
		if (r > 0)
			have += (size_t)r;
	}
	CHECK(eagain > 0 && done && have == BIG);
	CHECK(memcmp(big, got, BIG) == 0);
	free(big);
	free(got);
	pair_close(&p);
}

static void close_notify_both_ways(void)
{
	struct pair p;
	char b[16];
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(handshake(&p) == 0);
	CHECK(tls_conn_shutdown(p.srv) == 0);
	int r = wolfSSL_read(p.cli, b, sizeof(b));
	CHECK(r <= 0 && wolfSSL_get_error(p.cli, r) == WOLFSSL_ERROR_ZERO_RETURN);
	pair_close(&p);

	CHECK(pair_open(&p, wolfTLSv1_2_client_method(), NULL));
	CHECK(handshake(&p) == 0);
	CHECK(wolfSSL_shutdown(p.cli) != WOLFSSL_FATAL_ERROR);
	CHECK(tls_conn_read(p.srv, b, sizeof(b)) == 0);
	pair_close(&p);

	/* the transport closed without close_notify: a truncation, not a clean end */
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(handshake(&p) == 0);
	close(p.cfd);
	p.cfd = -1;
	CHECK(tls_conn_read(p.srv, b, sizeof(b)) == -ECONNRESET);
	CHECK(tls_conn_error(p.srv) == TLS_ERR_CLOSED);
	pair_close(&p);

	/* shutdown before a handshake has nothing to close */
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(tls_conn_shutdown(p.srv) == -ENOTCONN);
	pair_close(&p);
}

static void failure_classes(void)
{
	struct pair p;
	/* the peer goes away in the middle of a ClientHello */
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	CHECK(write(p.cfd, "\x16\x03\x01\x02\x00\x01", 6) == 6);
	CHECK(tls_conn_handshake(p.srv) == -EAGAIN);
	close(p.cfd);
	p.cfd = -1;
	CHECK(tls_conn_handshake(p.srv) == -ECONNRESET);
	CHECK(tls_conn_error(p.srv) == TLS_ERR_CLOSED);
	pair_close(&p);

	/* plaintext instead of TLS */
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	CHECK(write(p.cfd, get, strlen(get)) == (ssize_t)strlen(get));
	CHECK(tls_conn_handshake(p.srv) == -EPROTO);
	CHECK(tls_conn_error(p.srv) == TLS_ERR_PROTOCOL);
	pair_close(&p);

	CHECK(strcmp(tls_error_name(TLS_ERR_NONE), "none") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_CLOSED), "closed") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_VERSION), "version") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_CIPHER), "cipher") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_PROTOCOL), "protocol") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_PLAINTEXT), "plaintext") == 0);
	CHECK(strcmp(tls_error_name(TLS_ERR_INTERNAL), "internal") == 0);
}

static void starttls_refuses_buffered_plaintext(void)
{
	int fds[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
	struct tls_conn *c = (struct tls_conn *)&fds; /* must stay untouched */
	CHECK(tls_conn_starttls(ctx, fds[0], 1, &c) == -EPROTO);
	CHECK(c == (struct tls_conn *)&fds);
	CHECK(tls_conn_new(ctx, -1, &c) == -EINVAL);
	close(fds[0]);
	close(fds[1]);

	/* with nothing buffered the upgrade goes ahead */
	struct pair p;
	CHECK(pair_open(&p, wolfTLSv1_3_client_method(), NULL));
	tls_conn_free(p.srv);
	p.srv = NULL;
	CHECK(tls_conn_starttls(ctx, p.sfd, 0, &p.srv) == 0);
	CHECK(handshake(&p) == 0);
	pair_close(&p);
}

int main(void)
{
	check_init();
	if (tls_ctx_new((const uint8_t *)cert_pem, strlen(cert_pem), (const uint8_t *)key_pem,
	                strlen(key_pem), &ctx) != 0) {
		printf("FAIL tls_ctx_new\n");
		return 1;
	}
	RUN(ctx_refuses_bad_input);
	RUN(handshake_tls13);
	RUN(handshake_tls12_suites);
	RUN(tls11_refused);
	RUN(read_write_would_block);
	RUN(close_notify_both_ways);
	RUN(failure_classes);
	RUN(starttls_refuses_buffered_plaintext);
	tls_ctx_free(ctx);
	return check_finish();
}
