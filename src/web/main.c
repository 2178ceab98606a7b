/* allears-web: the Web role (port 443). Serves the one prebuilt page (in the
 * variant the client accepts), the MTA-STS policy, robots.txt and a 404 for
 * everything else, over HTTPS, with the security fields of every response.
 * It talks to no other role and holds no key but its TLS credential.
 * docs/PROTOCOL.md section 21; TLS and HTTP: section 13. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/daemon.h"
#include "ipc/tls.h"
#include "web/conn.h"
#include "web/page.h"
#include "web/site.h"

#define WEB_TLS_CHAIN_CREDENTIAL "tls.crt"
#define WEB_TLS_KEY_CREDENTIAL "tls.key"
#define WEB_PAGE_CREDENTIAL "web"
#define WEB_ALPN "http/1.1"

static struct {
	struct daemon d;
	struct loop *loop;
	struct tls_ctx *tls;
	uint8_t *page_bytes; /* the page file, which `page` points into */
	struct webpage page;
	struct website site;
	struct webconn_server *srv;
} W;

static void load_tls(struct daemon *d)
{
	W.tls = daemon_load_tls(d, WEB_TLS_CHAIN_CREDENTIAL, WEB_TLS_KEY_CREDENTIAL);
	if (tls_ctx_set_alpn(W.tls, WEB_ALPN) < 0)
		fatalx("web: ALPN");
}

/* Reads a regular file of at most WEBPAGE_FILE_MAX bytes; NULL with errno. */
static uint8_t *read_page_file(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	int bad = fstat(fd, &st) < 0             ? errno
	          : !S_ISREG(st.st_mode)         ? EINVAL
	          : st.st_size > WEBPAGE_FILE_MAX ? EFBIG
	                                         : 0;
	if (bad) {
		close(fd);
		errno = bad;
		return NULL;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	uint8_t *p = xmalloc(cap);
	for (;;) {
		ssize_t r = read(fd, p + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(p);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == cap) { /* it grew since fstat */
			free(p);
			close(fd);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	*ret_len = len;
	return p;
}

/* The page file: from "page_file" when configured, else the credential "web". */
static void load_page(struct daemon *d)
{
	const char *path = daemon_config_str(d, "page_file", NULL);
	size_t len = 0;
	if (path) {
		W.page_bytes = read_page_file(path, &len);
		if (!W.page_bytes)
			daemon_config_fail(d, "cannot read the page file %s: %s", path, strerror(errno));
	} else {
		uint8_t *cred = daemon_credential_required(d, WEB_PAGE_CREDENTIAL, &len);
		W.page_bytes = xmalloc(len);
		memcpy(W.page_bytes, cred, len);
		sodium_free(cred);
	}
	if (webpage_decode(W.page_bytes, len, &W.page) < 0)
		daemon_config_fail(d, "%s%s is not a page file made by allears-admin web (format %d)",
		                   path ? "" : "the credential ", path ? path : WEB_PAGE_CREDENTIAL,
		                   WEBPAGE_VERSION);
}

/* The MTA-STS policy from "mta_sts_mode", "mx" (default: the domain) and
 * "mta_sts_max_age". */
static void load_site(struct daemon *d)
{
	enum website_sts_mode mode;
	const char *m = daemon_config_str(d, "mta_sts_mode", "enforce");
	if (website_sts_mode_parse(m, &mode) < 0)
		daemon_config_fail(d, "\"web.mta_sts_mode\" must be \"enforce\", \"testing\" or \"none\"");
	uint32_t max_age = (uint32_t)daemon_config_int(d, "mta_sts_max_age",
	                                                WEBSITE_STS_MAX_AGE_DEFAULT, 0,
	                                                WEBSITE_STS_MAX_AGE_MAX);
	bool subdomains = daemon_config_bool(d, "hsts_include_subdomains", false);
	const char *mx[WEBSITE_MX_MAX];
	size_t n = 0;
	json_t *arr = json_object_get(d->section, "mx");
	if (arr) {
		if (!json_is_array(arr) || json_array_size(arr) < 1 ||
		    json_array_size(arr) > WEBSITE_MX_MAX)
			daemon_config_fail(d, "\"web.mx\" must be a list of 1 to %d names", WEBSITE_MX_MAX);
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v) {
			if (!json_is_string(v) || !website_host_valid(json_string_value(v), true))
				daemon_config_fail(d, "\"web.mx\"[%zu] is not a host name or *.name pattern", i);
			mx[n++] = json_string_value(v);
		}
	} else {
		const char *domain = daemon_config_global_str(d, "domain", NULL);
		if (!domain)
			daemon_config_fail(d, "the MTA-STS policy needs \"web.mx\" or the top-level "
			                      "\"domain\"");
		if (!website_host_valid(domain, false))
			daemon_config_fail(d, "\"domain\" is not a host name");
		mx[n++] = domain;
	}
	if (website_init(&W.site, &W.page, subdomains, mode, mx, n, max_age) < 0)
		daemon_config_fail(d, "the MTA-STS policy does not fit %d bytes", WEBSITE_STS_TEXT_MAX);
}

static void on_stop(struct loop *l, void *data)
{
	webconn_server_stop(W.srv);
}

int main(int argc, char **argv)
{
	struct daemon *d = &W.d;
	daemon_init(d, "web", argc, argv);
	static const char *const allowed[] = { "page_file", "mta_sts_mode", "mx", "mta_sts_max_age",
		                                   "hsts_include_subdomains", "max_connections",
		                                   "handshake_timeout_ms", "request_timeout_ms",
		                                   "idle_timeout_ms", NULL };
	daemon_config_allow(d, allowed);
	struct webconn_opts o = {
		.max_connections = (size_t)daemon_config_int(d, "max_connections",
		                                             WEBCONN_MAX_CONNECTIONS_DEFAULT, 1,
		                                             WEBCONN_MAX_CONNECTIONS_MAX),
		.handshake_ms = (uint64_t)daemon_config_int(d, "handshake_timeout_ms",
		                                            WEBCONN_HANDSHAKE_MS_DEFAULT,
		                                            WEBCONN_TIMEOUT_MS_MIN,
		                                            WEBCONN_TIMEOUT_MS_MAX),
		.request_ms = (uint64_t)daemon_config_int(d, "request_timeout_ms",
		                                          WEBCONN_REQUEST_MS_DEFAULT,
		                                          WEBCONN_TIMEOUT_MS_MIN, WEBCONN_TIMEOUT_MS_MAX),
		.idle_ms = (uint64_t)daemon_config_int(d, "idle_timeout_ms", WEBCONN_IDLE_MS_DEFAULT,
		                                       WEBCONN_TIMEOUT_MS_MIN, WEBCONN_TIMEOUT_MS_MAX),
	};
	int lfd = daemon_take_fd(d, "web");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"web\" was passed");

	load_page(d);
	load_site(d);
	load_tls(d);

	W.loop = loop_new();
	if (loop_setup_signals(W.loop, on_stop, NULL) < 0)
		fatal("signals");
	W.srv = webconn_server_new(W.loop, lfd, W.tls, &W.site, &o);
	daemon_ready(d, "serving");

	int rc = loop_run(W.loop);
	if (rc < 0)
		fatal("event loop");
	const struct webconn_stats *st = webconn_server_stats(W.srv);
	log_info("web: %llu connections (%llu refused at the cap, %llu failed TLS, %llu timed out), "
	         "%llu answers, %llu HTTP errors",
	         (unsigned long long)st->accepted, (unsigned long long)st->refused,
	         (unsigned long long)st->tls_failed, (unsigned long long)st->timeouts,
	         (unsigned long long)st->requests, (unsigned long long)st->http_errors);
	webconn_server_free(W.srv);
	close(lfd);
	tls_ctx_free(W.tls);
	loop_free(W.loop);
	free(W.page_bytes);
	daemon_free(d);
	log_info("web: stopped");
	return 0;
}
