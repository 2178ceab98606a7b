/* sock.h: one channel frame per SOCK_SEQPACKET datagram, optionally with one
 * file descriptor (SCM_RIGHTS), and the peer's credentials. Conventions:
 * docs/PROTOCOL.md section 7.1. */
#ifndef ALLEARS_IPC_SOCK_H
#define ALLEARS_IPC_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"

/* Where systemd binds each server role's socket: SOCK_RUN_DIR "/<role>.sock". */
#define SOCK_RUN_DIR "/run/allears"
/* Room for this many fds in the receive control buffer, so that a peer sending
 * too many is detected (and every one of them closed) rather than truncated. */
#define SOCK_RECV_FDS_ROOM 8

/* Sends frame[0..len) as one datagram, with fd attached when fd >= 0 (the
 * caller keeps its own fd). MSG_NOSIGNAL, retries EINTR. Returns 0, or -errno:
 * -EAGAIN on a full non-blocking socket, -EPIPE when the peer is gone,
 * -EMSGSIZE when the datagram is too large for the socket. */
int sock_send_frame(int sock, const uint8_t *frame, size_t len, int fd) WUR;

/* Receives one datagram into buf. On success writes *ret_len and *ret_fd (the
 * received fd, close-on-exec and owned by the caller, or -1). Returns 0 with
 * *ret_len == 0 on orderly EOF (an empty datagram reads the same; the channel
 * protocol never sends one). Errors: -EMSGSIZE for a datagram longer than cap,
 * -EPROTO for a truncated control message or more than one fd (all received
 * fds are closed), -EAGAIN when a non-blocking socket has nothing queued
 * (EINTR is retried), other -errno. */
int sock_recv_frame(int sock, uint8_t *buf, size_t cap, size_t *ret_len, int *ret_fd) WUR;

/* SO_PEERCRED: the pid, uid and gid of the peer at connect time. */
int sock_peer_cred(int sock, struct ucred *ret) WUR;

/* Connects a close-on-exec SOCK_SEQPACKET socket to the path, or -errno
 * (-ENAMETOOLONG when the path does not fit sockaddr_un). */
int sock_connect_seqpacket(const char *path) WUR;

#endif
