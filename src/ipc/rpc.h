/* rpc.h: request/response calls between roles over channels (channel.h), on
 * the event loop. Every payload starts with a u32 call id chosen by the client;
 * the server's answer carries the same id, so answers may come out of order
 * (Account answers an address lookup after an Argon2 hash on a worker).
 * docs/PROTOCOL.md section 7.9.
 *
 * Server: accepts connections on a listening SOCK_SEQPACKET socket, checks the
 * peer (SO_PEERCRED; an optional uid allow-list), runs the handshake, then
 * hands each request to the role's handler. A malformed or unauthenticated
 * frame closes that connection only; the server keeps serving the others.
 *
 * Client: one connection to one server role, opened on first use and reopened
 * after a failure; calls made while it is down or that outlive their deadline
 * complete with an error (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT) so the caller
 * can answer "try again later". */
#ifndef ALLEARS_RPC_H
#define ALLEARS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/roles.h"
#include "ipc/channel.h"
#include "ipc/loop.h"

#define RPC_CALL_ID_BYTES 4
#define RPC_PAYLOAD_MAX (CHAN_PAYLOAD_MAX - RPC_CALL_ID_BYTES)
#define RPC_HANDSHAKE_TIMEOUT_MS 5000
#define RPC_DEFAULT_TIMEOUT_MS 30000
#define RPC_MAX_CONNS 1024          /* per server */
#define RPC_MAX_PENDING_CALLS 65536 /* per client */
#define RPC_MAX_QUEUED_FRAMES 4096  /* per connection, waiting for EPOLLOUT */
#define RPC_MAX_PEER_UIDS 16

/* ---- server ---- */

struct rpc_server;
struct rpc_conn;

/* One request. fd is a received memfd (owned by the handler: close it) or -1.
 * The handler answers now or later with rpc_reply() on a reference it holds
 * (rpc_conn_ref/unref) and may answer a request at most once. */
typedef void (*rpc_handler_fn)(struct rpc_conn *c, enum role client, uint16_t type,
                               uint32_t call, const uint8_t *payload, size_t len, int fd,
                               void *data);

struct rpc_server_opts {
	enum role me;
	chan_key_lookup_fn key_lookup; /* pair key of a client role, or an error */
	void *key_ctx;
	rpc_handler_fn handler;
	void *handler_data;
	/* When n_peer_uids > 0, only peers with one of these uids may connect. */
	uid_t peer_uids[RPC_MAX_PEER_UIDS];
	size_t n_peer_uids;
};

struct rpc_server *rpc_server_new(struct loop *l, int listen_fd, const struct rpc_server_opts *o);
/* Stops accepting; open connections stay until their peers close them. */
void rpc_server_stop_accepting(struct rpc_server *s);
void rpc_server_free(struct rpc_server *s);
size_t rpc_server_conn_count(const struct rpc_server *s);

void rpc_conn_ref(struct rpc_conn *c);
void rpc_conn_unref(struct rpc_conn *c);
enum role rpc_conn_peer(const struct rpc_conn *c);
/* Sends the answer (fd: a sealed memfd to pass along, or -1; the caller keeps
 * its own fd). Returns -ENOTCONN when the connection has gone away meanwhile. */
int rpc_reply(struct rpc_conn *c, uint16_t type, uint32_t call, const uint8_t *payload, size_t len,
              int fd);

/* ---- client ---- */

struct rpc_client;

/* status: 0 with the answer, or a negative errno (no answer: payload NULL, fd -1).
 * fd is owned by the callback. */
typedef void (*rpc_done_fn)(int status, uint16_t type, const uint8_t *payload, size_t len, int fd,
                            void *arg);

/* path: the server's socket. The pair key is copied into locked memory. */
struct rpc_client *rpc_client_new(struct loop *l, const char *path, enum role me, enum role server,
                                  const uint8_t pair_key[CHAN_KEY_BYTES]);
/* Starts a call; done runs exactly once, always later on the loop thread
 * (never from inside rpc_call). */
void rpc_call(struct rpc_client *c, uint16_t type, const uint8_t *payload, size_t len, int fd,
              uint64_t timeout_ms, rpc_done_fn done, void *arg);
bool rpc_client_connected(const struct rpc_client *c);
/* Fails every pending call with -ECANCELED and frees the client. */
void rpc_client_free(struct rpc_client *c);

/* ---- blocking client, for tools and tests ---- */

struct rpc_sync {
	int sock;
	struct chan_session s;
	uint32_t next_call;
};

int rpc_sync_connect(struct rpc_sync *c, const char *path, enum role me, enum role server,
                     const uint8_t pair_key[CHAN_KEY_BYTES]) WUR;
/* Sends one request and waits for its answer (reply buffer of CHAN_FRAME_MAX).
 * *ret_fd gets a received fd or -1. Returns 0, or a negative errno. */
int rpc_sync_call(struct rpc_sync *c, uint16_t type, const uint8_t *payload, size_t len, int fd,
                  uint16_t *ret_type, uint8_t *reply, size_t reply_cap, size_t *ret_len,
                  int *ret_fd) WUR;
void rpc_sync_close(struct rpc_sync *c);

#endif
