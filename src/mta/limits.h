/* limits.h: what the MTA allows each client network: concurrent sessions
 * and recipients per minute (a token bucket), per IPv4 address or IPv6 /64,
 * and the fairness tag sent to Account with each lookup (a SipHash of that
 * network under a key drawn at start, so Account compares clients without
 * learning addresses). Memory is bounded: idle entries are evicted oldest
 * first. docs/PROTOCOL.md section 18. */
#ifndef ALLEARS_MTA_LIMITS_H
#define ALLEARS_MTA_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Idle networks remembered beyond the ones with sessions. */
#define MTA_LIMITS_IDLE_MAX 65536

struct mta_limits;
struct mta_ipent;

/* per_ip_sessions: concurrent sessions per network; rcpts_per_minute: the
 * bucket's size and refill per minute; max_sessions: the global cap (sizes
 * the table). */
struct mta_limits *mta_limits_new(uint32_t per_ip_sessions, uint32_t rcpts_per_minute,
                                  uint32_t max_sessions);
void mta_limits_free(struct mta_limits *l);

/* The network of an address (family 4: ip[0..4), 6: ip[0..16)). Opens a
 * session for it: -EUSERS when it has per_ip_sessions already. */
int mta_limits_open(struct mta_limits *l, int family, const uint8_t ip[16], uint64_t now_ms,
                    struct mta_ipent **ret) WUR;
void mta_limits_close(struct mta_limits *l, struct mta_ipent *e, uint64_t now_ms);
/* Takes one recipient token; false when the bucket is empty. */
bool mta_limits_take_rcpt(struct mta_limits *l, struct mta_ipent *e, uint64_t now_ms);
/* ACC_LOOKUP fairness tag of the network. */
uint32_t mta_limits_tag(const struct mta_ipent *e);
size_t mta_limits_entries(const struct mta_limits *l);

#endif
