/* call.h: what the API does with a request once it has arrived
 * (docs/PROTOCOL.md section 14.3): hand it to Account (ACC_API, 10.4), make
 * the Storage call Account names for a forwarded command (12.8.3), and seal
 * the answer with the response key Account gives (12.4). The API never holds
 * a UAK; it forgets each response key once the answer is sealed. */
#ifndef ALLEARS_API_CALL_H
#define ALLEARS_API_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "api/conn.h"
#include "ipc/rpc.h"

/* Deadlines of the calls to Account and Storage. Account may wait for
 * Storage (10 s) and Argon2 hashes; Storage for a group commit. */
#define APICALL_ACCOUNT_TIMEOUT_MS 30000
#define APICALL_STORAGE_TIMEOUT_MS 30000
/* STO_BROWSE's answer after the bulk length: status, more, reserved u16,
 * count, total_count, reserved u32, total_bytes (section 11.3). */
#define APICALL_BROWSE_ANSWER_BYTES 24
/* What the client gets of it before the memfd's bytes: bytes 1-23. */
#define APICALL_BROWSE_HEADER_BYTES (APICALL_BROWSE_ANSWER_BYTES - 1)

struct apicall_stats {
	uint64_t sealed;      /* answered 200 with an encrypted response */
	uint64_t refused;     /* answered in clear: not authenticated (400, 403, 409, 412) */
	uint64_t unavailable; /* 503: Account could not be reached */
	uint64_t failed;      /* 500 */
	uint64_t forwarded;   /* Storage calls made */
};

struct apicall_ctx {
	struct rpc_client *acc;
	struct rpc_client *sto;
	struct apicall_stats st;
};

/* An apiconn_dispatch_fn; data is the struct apicall_ctx. */
void apicall_dispatch(struct apiconn *c, const struct apiroute *r, const uint8_t *body,
                      size_t body_len, void *data);

#endif
