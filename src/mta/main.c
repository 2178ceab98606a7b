/* allears-mta: the SMTP server that receives mail from the internet (port
 * 25, STARTTLS). Asks Account who owns each recipient, streams each message
 * into a sealed memfd and answers 250 only once Deliver has made every copy
 * durable. Dialogue and limits: docs/PROTOCOL.md section 18; the record for
 * Deliver: section 16. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/dlvrec.h"
#include "common/keybundle.h"
#include "ipc/daemon.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"
#include "ipc/tls.h"
#include "mta/session.h"
#include "mta/smtp.h"

#define MTA_TLS_CHAIN_CREDENTIAL "tls.crt"
#define MTA_TLS_KEY_CREDENTIAL "tls.key"
#define MTA_TIMEOUT_MS_MIN 100
#define MTA_TIMEOUT_MS_MAX 3600000

static struct {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct tls_ctx *tls;
	struct rpc_client *acc, *dlv;
	struct mta_server *srv;
} M;

static void load_tls(struct daemon *d)
{
	M.tls = daemon_load_tls(d, MTA_TLS_CHAIN_CREDENTIAL, MTA_TLS_KEY_CREDENTIAL);
}

static uint64_t timeout(struct daemon *d, const char *key, long def)
{
	return (uint64_t)daemon_config_int(d, key, def, MTA_TIMEOUT_MS_MIN, MTA_TIMEOUT_MS_MAX);
}

/* Each session holds a socket and a timer: take every descriptor the hard
 * limit allows (systemd's LimitNOFILE= sets both). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_stop(struct loop *l, void *data)
{
	mta_server_stop(M.srv);
}

int main(int argc, char **argv)
{
	struct daemon *d = &M.d;
	daemon_init(d, "mta", argc, argv);
	static const char *const allowed[] = {
		"account_socket", "deliver_socket", "domain", "hostname", "max_sessions",
		"max_sessions_per_ip", "rcpts_per_ip_minute", "max_message_bytes", "command_timeout_ms",
		"data_timeout_ms", "deliver_timeout_ms", "lookup_timeout_ms", "greeting_delay_ms",
		"data_memory_mib", "max_errors", "log_ips", NULL,
	};
	daemon_config_allow(d, allowed);
	const char *acc_path = daemon_config_str(d, "account_socket", SOCK_RUN_DIR "/account.sock");
	const char *dlv_path = daemon_config_str(d, "deliver_socket", SOCK_RUN_DIR "/deliver.sock");
	const char *domain = daemon_config_str(d, "domain", NULL);
	if (!domain)
		domain = daemon_config_global_str(d, "domain", NULL);
	if (!domain || !smtp_domain_valid((const uint8_t *)domain, strlen(domain), false))
		daemon_config_fail(d, "\"domain\" (top level or mta section) must name the mail domain");
	const char *hostname = daemon_config_str(d, "hostname", domain);
	if (!smtp_domain_valid((const uint8_t *)hostname, strlen(hostname), false))
		daemon_config_fail(d, "\"hostname\" must be a domain name");
	struct mta_opts o = {
		.hostname = hostname,
		.domain = domain,
		.max_sessions = (uint32_t)daemon_config_int(d, "max_sessions", MTA_MAX_SESSIONS_DEFAULT,
		                                            1, 100000),
		.max_sessions_per_ip = (uint32_t)daemon_config_int(
			d, "max_sessions_per_ip", MTA_MAX_SESSIONS_PER_IP_DEFAULT, 1, 100000),
		.rcpts_per_ip_minute = (uint32_t)daemon_config_int(
			d, "rcpts_per_ip_minute", MTA_RCPTS_PER_IP_MINUTE_DEFAULT, 1, 1000000),
		.max_message_bytes = (uint64_t)daemon_config_int(
			d, "max_message_bytes", MTA_MAX_MESSAGE_BYTES_DEFAULT, 1024, DLVREC_MESSAGE_MAX),
		.command_timeout_ms = timeout(d, "command_timeout_ms", MTA_COMMAND_TIMEOUT_MS_DEFAULT),
		.data_timeout_ms = timeout(d, "data_timeout_ms", MTA_DATA_TIMEOUT_MS_DEFAULT),
		.deliver_timeout_ms = timeout(d, "deliver_timeout_ms", MTA_DELIVER_TIMEOUT_MS_DEFAULT),
		.lookup_timeout_ms = timeout(d, "lookup_timeout_ms", MTA_LOOKUP_TIMEOUT_MS_DEFAULT),
		.greeting_delay_ms = (uint64_t)daemon_config_int(d, "greeting_delay_ms", 0, 0, 60000),
		.data_memory = (uint64_t)daemon_config_int(d, "data_memory_mib",
		                                           MTA_DATA_MEMORY_MIB_DEFAULT, 1, 1048576)
		               << 20,
		.max_errors = (uint32_t)daemon_config_int(d, "max_errors", MTA_MAX_ERRORS_DEFAULT, 1,
		                                          1000),
		.log_ips = daemon_config_bool(d, "log_ips", false),
	};
	int lfd = daemon_take_fd(d, "smtp");
	if (lfd < 0)
		daemon_config_fail(d, "no listening socket named \"smtp\" was passed");

	M.kb = daemon_load_keys(d, ROLE_MTA);
	load_tls(d);

	raise_fd_limit();
	M.loop = loop_new();
	if (loop_setup_signals(M.loop, on_stop, NULL) < 0)
		fatal("signals");
	M.acc = rpc_client_new(M.loop, acc_path, ROLE_MTA, ROLE_ACCOUNT,
	                       keybundle_pair(M.kb, ROLE_MTA, ROLE_ACCOUNT));
	M.dlv = rpc_client_new(M.loop, dlv_path, ROLE_MTA, ROLE_DELIVER,
	                       keybundle_pair(M.kb, ROLE_MTA, ROLE_DELIVER));
	M.srv = mta_server_new(M.loop, lfd, M.tls, M.acc, M.dlv, &o);
	daemon_ready(d, "serving");

	int rc = loop_run(M.loop);
	if (rc < 0)
		fatal("event loop");
	const struct mta_stats *st = mta_server_stats(M.srv);
	log_info("mta: %llu sessions (%llu refused at the cap, %llu per network, %llu timed out, "
	         "%llu closed after errors), TLS %llu ok / %llu failed / %llu injections refused; "
	         "recipients %llu ok, %llu unknown, %llu need TLS, %llu rate-limited, %llu "
	         "temporary, %llu relay; messages %llu accepted, %llu temporary failures, %llu "
	         "mailbox full, %llu too big, %llu out of memory; %llu invalid commands",
	         (unsigned long long)st->sessions, (unsigned long long)st->refused_busy,
	         (unsigned long long)st->refused_ip, (unsigned long long)st->timeouts,
	         (unsigned long long)st->closed_errors, (unsigned long long)st->tls_ok,
	         (unsigned long long)st->tls_failed, (unsigned long long)st->starttls_injection,
	         (unsigned long long)st->rcpt_ok, (unsigned long long)st->rcpt_unknown,
	         (unsigned long long)st->rcpt_need_tls, (unsigned long long)st->rcpt_rate,
	         (unsigned long long)st->rcpt_tempfail, (unsigned long long)st->rcpt_relay,
	         (unsigned long long)st->messages, (unsigned long long)st->msg_tempfail,
	         (unsigned long long)st->msg_limit, (unsigned long long)st->msg_too_big,
	         (unsigned long long)st->msg_no_memory, (unsigned long long)st->invalid_cmds);
	/* Stopped and idle: no call is in flight, so no answer can come back. */
	mta_server_free(M.srv);
	rpc_client_free(M.acc);
	rpc_client_free(M.dlv);
	close(lfd);
	tls_ctx_free(M.tls);
	keybundle_free(M.kb);
	loop_free(M.loop);
	daemon_free(d);
	log_info("mta: stopped");
	return 0;
}
