/* session.h: the MTA's SMTP sessions on the event loop: accept (global and
 * per-network caps), greeting, commands with pipelining (recipient lookups
 * in Account run in parallel, replies leave in order), STARTTLS, DATA
 * streamed into a sealed memfd and handed to Deliver, whose answer decides
 * the reply. Dialogue, limits and timeouts: docs/PROTOCOL.md section 18. */
#ifndef ALLEARS_MTA_SESSION_H
#define ALLEARS_MTA_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/loop.h"
#include "ipc/rpc.h"
#include "ipc/tls.h"

/* Defaults and ranges of the configuration (mta section). */
#define MTA_MAX_SESSIONS_DEFAULT 1000
#define MTA_MAX_SESSIONS_PER_IP_DEFAULT 20
#define MTA_RCPTS_PER_IP_MINUTE_DEFAULT 200
#define MTA_MAX_MESSAGE_BYTES_DEFAULT (25u * 1024 * 1024)
#define MTA_COMMAND_TIMEOUT_MS_DEFAULT 300000 /* RFC 5321 4.5.3.2.7 */
#define MTA_DATA_TIMEOUT_MS_DEFAULT 180000    /* RFC 5321 4.5.3.2.5 */
#define MTA_DELIVER_TIMEOUT_MS_DEFAULT 120000
#define MTA_LOOKUP_TIMEOUT_MS_DEFAULT 60000
#define MTA_DATA_MEMORY_MIB_DEFAULT 1024
#define MTA_MAX_ERRORS_DEFAULT 10
#define MTA_SESSION_COMMANDS_MAX 10000 /* commands in one session, then 421 */

struct mta_opts {
	const char *hostname; /* in the greeting and the EHLO answer */
	const char *domain;   /* the only recipient domain accepted */
	uint32_t max_sessions;
	uint32_t max_sessions_per_ip;
	uint32_t rcpts_per_ip_minute;
	uint64_t max_message_bytes;
	uint64_t command_timeout_ms;
	uint64_t data_timeout_ms;
	uint64_t deliver_timeout_ms;
	uint64_t lookup_timeout_ms;
	uint64_t greeting_delay_ms;
	uint64_t data_memory; /* bytes all messages being received may hold at once */
	uint32_t max_errors;
	bool log_ips;
};

/* Counters only (no addresses, no IPs): logged at exit. */
struct mta_stats {
	uint64_t sessions;
	uint64_t refused_busy;    /* 421 at max_sessions */
	uint64_t refused_ip;      /* 421 at max_sessions_per_ip */
	uint64_t tls_ok, tls_failed;
	uint64_t starttls_injection; /* plaintext after STARTTLS: refused */
	uint64_t timeouts;
	uint64_t closed_errors;   /* 421 after too many errors or commands */
	uint64_t messages;        /* 250 after DATA */
	uint64_t msg_tempfail;    /* 451 after DATA */
	uint64_t msg_limit;       /* 452 4.2.2 after DATA */
	uint64_t msg_too_big;     /* 552 */
	uint64_t msg_no_memory;   /* 452 4.3.1 */
	uint64_t rcpt_ok, rcpt_unknown, rcpt_need_tls, rcpt_rate, rcpt_tempfail, rcpt_relay;
	uint64_t invalid_cmds;
};

struct mta_server;

/* Serves the listening TCP socket lfd (made non-blocking here); the Account
 * and Deliver clients and the TLS context stay the caller's. */
struct mta_server *mta_server_new(struct loop *l, int lfd, struct tls_ctx *tls,
                                  struct rpc_client *acc, struct rpc_client *dlv,
                                  const struct mta_opts *o);
/* Graceful stop: no new sessions; every session gets 421 and closes, except
 * one waiting for Deliver, which gets Deliver's answer first. */
void mta_server_stop(struct mta_server *s);
void mta_server_free(struct mta_server *s);
const struct mta_stats *mta_server_stats(const struct mta_server *s);

#endif
