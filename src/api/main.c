/* allears-api: the HTTPS API for clients (port 302). Takes each request's
 * timestamp and UserID from its URL, lets Account authenticate, decrypt and
 * run it, makes the Storage call Account names for a forwarded command, and
 * answers with the response sealed under the key Account gives. It never
 * holds a UAK. HTTP mapping: docs/PROTOCOL.md section 14; TLS: section 13. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/call.h"
#include "api/conn.h"
#include "common/keybundle.h"
#include "ipc/daemon.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"
#include "ipc/tls.h"

#define API_TLS_CHAIN_CREDENTIAL "tls.crt"
#define API_TLS_KEY_CREDENTIAL "tls.key"
#define API_ALPN "http/1.1"

static struct {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct tls_ctx *tls;
	struct apiconn_server *srv;
	struct apicall_ctx calls;
} A;

static void load_tls(struct daemon *d)
{
	A.tls = daemon_load_tls(d, API_TLS_CHAIN_CREDENTIAL, API_TLS_KEY_CREDENTIAL);
	if (tls_ctx_set_alpn(A.tls, API_ALPN) < 0)
		fatalx("api: ALPN");
}

static void on_stop(struct loop *l, void *data)
{
	/* Take no new connections; finish the requests already handed over. */
	apiconn_server_stop(A.srv);
}

int main(int argc, char **argv)
{
	struct daemon *d = &A.d;
	daemon_init(d, "api", argc, argv);
	/* enquiry_socket: the Enquiry role is not used yet; accepted so one
	 * configuration serves this version and the next. */
	static const char *const allowed[] = { "account_socket", "storage_socket", "enquiry_socket",
		                                   "max_connections", "idle_timeout_ms",
		                                   "handshake_timeout_ms", "request_timeout_ms",
		                                   "body_memory_mib", NULL };
	daemon_config_allow(d, allowed);
	const char *acc_path = daemon_config_str(d, "account_socket", SOCK_RUN_DIR "/account.sock");
	const char *sto_path = daemon_config_str(d, "storage_socket", SOCK_RUN_DIR "/storage.sock");
	(void)daemon_config_str(d, "enquiry_socket", SOCK_RUN_DIR "/enquiry.sock");
	struct apiconn_opts o = {
		.max_connections = (size_t)daemon_config_int(d, "max_connections",
		                                             APICONN_MAX_CONNECTIONS_DEFAULT, 1,
		                                             APICONN_MAX_CONNECTIONS_MAX),
		.handshake_ms = (uint64_t)daemon_config_int(d, "handshake_timeout_ms",
		                                            APICONN_HANDSHAKE_MS_DEFAULT,
		                                            APICONN_TIMEOUT_MS_MIN,
		                                            APICONN_TIMEOUT_MS_MAX),
		.idle_ms = (uint64_t)daemon_config_int(d, "idle_timeout_ms", APICONN_IDLE_MS_DEFAULT,
		                                       APICONN_TIMEOUT_MS_MIN, APICONN_TIMEOUT_MS_MAX),
		.request_ms = (uint64_t)daemon_config_int(d, "request_timeout_ms",
		                                          APICONN_REQUEST_MS_DEFAULT,
		                                          APICONN_TIMEOUT_MS_MIN, APICONN_TIMEOUT_MS_MAX),
		.body_memory = (size_t)daemon_config_int(d, "body_memory_mib",
		                                         APICONN_BODY_MEMORY_MIB_DEFAULT,
		                                         APICONN_BODY_MEMORY_MIB_MIN,
		                                         APICONN_BODY_MEMORY_MIB_MAX)
		               << 20,
		.dispatch = apicall_dispatch,
		.data = &A.calls,
	};
	int lfd = daemon_take_fd(d, "api");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"api\" was passed");

	A.kb = daemon_load_keys(d, ROLE_API);
	load_tls(d);

	A.loop = loop_new();
	if (loop_setup_signals(A.loop, on_stop, NULL) < 0)
		fatal("signals");
	A.calls.acc = rpc_client_new(A.loop, acc_path, ROLE_API, ROLE_ACCOUNT,
	                             keybundle_pair(A.kb, ROLE_API, ROLE_ACCOUNT));
	A.calls.sto = rpc_client_new(A.loop, sto_path, ROLE_API, ROLE_STORAGE,
	                             keybundle_pair(A.kb, ROLE_API, ROLE_STORAGE));
	A.srv = apiconn_server_new(A.loop, lfd, A.tls, &o);
	daemon_ready(d, "serving");

	int rc = loop_run(A.loop);
	if (rc < 0)
		fatal("event loop");
	const struct apiconn_stats *cs = apiconn_server_stats(A.srv);
	const struct apicall_stats *ks = &A.calls.st;
	log_info("api: %llu connections (%llu refused at the cap, %llu failed TLS, %llu timed out), "
	         "%llu requests: %llu sealed answers, %llu refused, %llu unavailable, %llu failed, "
	         "%llu HTTP errors",
	         (unsigned long long)cs->accepted, (unsigned long long)cs->refused,
	         (unsigned long long)cs->tls_failed, (unsigned long long)cs->timeouts,
	         (unsigned long long)cs->requests, (unsigned long long)ks->sealed,
	         (unsigned long long)ks->refused, (unsigned long long)ks->unavailable,
	         (unsigned long long)ks->failed, (unsigned long long)cs->http_errors);
	apiconn_server_free(A.srv);
	close(lfd);
	rpc_client_free(A.calls.acc);
	rpc_client_free(A.calls.sto);
	tls_ctx_free(A.tls);
	keybundle_free(A.kb);
	loop_free(A.loop);
	daemon_free(d);
	log_info("api: stopped");
	return 0;
}
