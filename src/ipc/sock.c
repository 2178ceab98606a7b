/* sock.c: one frame per SOCK_SEQPACKET datagram with an optional fd (see sock.h). */
#include "ipc/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

int sock_send_frame(int sock, const uint8_t *frame, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			/* A SOCK_SEQPACKET datagram is all or nothing. */
			return (size_t)n == len ? 0 : -EIO;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

int sock_recv_frame(int sock, uint8_t *buf, size_t cap, size_t *ret_len, int *ret_fd)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SOCK_RECV_FDS_ROOM)];
	} ctl;
	struct msghdr msg;
	ssize_t n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}

	/* Collect every fd first, so that every path below can close them all. */
	int fds[SOCK_RECV_FDS_ROOM];
	size_t nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < SOCK_RECV_FDS_ROOM; i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (msg.msg_flags & MSG_TRUNC) {
		close_fds(fds, nfds);
		return -EMSGSIZE;
	}
	if ((msg.msg_flags & MSG_CTRUNC) || nfds > 1) {
		close_fds(fds, nfds);
		return -EPROTO;
	}
	*ret_len = (size_t)n;
	*ret_fd = nfds ? fds[0] : -1;
	return 0;
}

int sock_peer_cred(int sock, struct ucred *ret)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0)
		return -errno;
	if (sl != sizeof(uc))
		return -EIO;
	*ret = uc;
	return 0;
}

int sock_connect_seqpacket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	/* Path sockets only: an empty path or a leading NUL would be abstract. */
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n + 1);
	/* Non-blocking: on a Unix socket connect() then completes at once or
	 * fails with EAGAIN when the server's backlog is full (a server that has
	 * stopped accepting while its socket stays bound). Blocking, it would wait
	 * for ever, and block an event loop with it. */
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		int e = -errno;
		close(s);
		return e;
	}
	int fl = fcntl(s, F_GETFL);
	if (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = -errno;
		close(s);
		return e;
	}
	return s;
}
