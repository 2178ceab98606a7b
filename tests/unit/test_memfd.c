/* test_memfd.c: sealed memfds for bulk data (docs/PROTOCOL.md section 7.7):
 * the seals hold, unsealed or oversized memfds are refused, fds cross a
 * SOCK_SEQPACKET socket, and a 30 MiB message is streamed without a copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "common/bytes.h"
#include "ipc/channel.h"
#include "ipc/memfd.h"
#include "ipc/sock.h"

#define BIG_BYTES (30u * 1024 * 1024)
#define CHUNK 65536

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void seals_present_and_hold(void)
{
	int fd = memfd_from_buffer("sealed bytes", 12, "t");
	CHECK(fd >= 0);
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals >= 0 && (seals & MEMFD_SEALS_REQUIRED) == MEMFD_SEALS_REQUIRED);
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	char back[16] = { 0 };
	CHECK(pread(fd, back, sizeof(back), 0) == 12 && memcmp(back, "sealed bytes", 12) == 0);

	/* Every way of changing the bytes fails. */
	CHECK(pwrite(fd, "X", 1, 0) < 0 && errno == EPERM);
	CHECK(write(fd, "X", 1) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 4) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 4096) < 0 && errno == EPERM);
	CHECK(mmap(NULL, 12, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM);
	CHECK(fallocate(fd, 0, 0, 8192) < 0);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 && errno == EPERM);
	CHECK(memfd_check_sealed(fd) == 0);

	const uint8_t *map = NULL;
	size_t n = 0;
	CHECK(memfd_map_sealed(fd, 12, &map, &n) == 0 && n == 12 && memcmp(map, "sealed bytes", 12) == 0);
	close(fd); /* the mapping outlives the fd */
	CHECK(memcmp(map, "sealed bytes", 12) == 0);
	memfd_unmap(map, n);
}

static void unsealed_or_partial_refused(void)
{
	const uint8_t *map = NULL;
	size_t n = 0;
	int fd = memfd_create("u", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
	CHECK(memfd_map_sealed(fd, 100, &map, &n) == -EPERM && map == NULL);
	close(fd);

	/* Each set that lacks exactly one of the four seals. */
	const int all[] = { F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_SEAL };
	for (size_t miss = 0; miss < 4; miss++) {
		fd = memfd_create("p", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
		int seals = 0;
		for (size_t i = 0; i < 4; i++)
			if (i != miss)
				seals |= all[i];
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
		CHECK(memfd_map_sealed(fd, 100, &map, &n) == -EPERM);
		CHECK(memfd_check_sealed(fd) == -EPERM);
		close(fd);
	}
	/* Without MFD_ALLOW_SEALING a memfd carries only F_SEAL_SEAL. */
	fd = memfd_create("n", MFD_CLOEXEC);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
	CHECK(memfd_map_sealed(fd, 100, &map, &n) == -EPERM);
	close(fd);
	/* Not a memfd at all: a pipe, a regular file. */
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(memfd_map_sealed(p[0], 100, &map, &n) < 0);
	close(p[0]);
	close(p[1]);
	FILE *f = tmpfile();
	CHECK(f != NULL);
	if (f) {
		CHECK(memfd_map_sealed(fileno(f), 100, &map, &n) < 0);
		fclose(f);
	}
	CHECK(memfd_map_sealed(-1, 100, &map, &n) == -EBADF);
	CHECK(map == NULL && n == 0);
}

static void size_limit_and_empty(void)
{
	uint8_t data[100];
	memset(data, 0x5a, sizeof(data));
	int fd = memfd_from_buffer(data, sizeof(data), "s");
	const uint8_t *map = NULL;
	size_t n = 0;
	CHECK(fd >= 0);
	CHECK(memfd_map_sealed(fd, 99, &map, &n) == -EFBIG && map == NULL);
	CHECK(memfd_map_sealed(fd, 0, &map, &n) == -EFBIG);
	CHECK(memfd_map_sealed(fd, 100, &map, &n) == 0 && n == 100 && map[99] == 0x5a);
	memfd_unmap(map, n);
	close(fd);

	fd = memfd_from_buffer(NULL, 0, "e");
	CHECK(fd >= 0);
	map = NULL;
	n = 1;
	CHECK(memfd_map_sealed(fd, 0, &map, &n) == 0 && map != NULL && n == 0);
	memfd_unmap(map, n);
	close(fd);

	char name[MEMFD_NAME_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	CHECK(memfd_from_buffer("x", 1, name) == -ENAMETOOLONG);
	name[MEMFD_NAME_MAX] = 0;
	fd = memfd_from_buffer("x", 1, name);
	CHECK(fd >= 0);
	close(fd);
}

static void writer_lifecycle(void)
{
	struct memfd_writer w;
	CHECK(memfd_writer_open(&w, "w") == 0 && w.fd >= 0);
	CHECK(memfd_writer_append(&w, "abc", 3) == 0);
	CHECK(memfd_writer_append(&w, NULL, 0) == 0);
	CHECK(memfd_writer_append(&w, "def", 3) == 0 && w.len == 6);
	int fd = memfd_writer_finish(&w);
	CHECK(fd >= 0 && w.fd == -1);
	CHECK(memfd_writer_finish(&w) == -EBADF);
	CHECK(memfd_writer_append(&w, "x", 1) == -EBADF);
	memfd_writer_abort(&w); /* harmless */
	const uint8_t *map;
	size_t n;
	CHECK(memfd_map_sealed(fd, 6, &map, &n) == 0 && n == 6 && memcmp(map, "abcdef", 6) == 0);
	memfd_unmap(map, n);
	close(fd);

	int before = count_fds();
	CHECK(memfd_writer_open(&w, "a") == 0);
	CHECK(count_fds() == before + 1);
	memfd_writer_abort(&w);
	CHECK(count_fds() == before && w.fd == -1);
}

static void fd_passes_through_socket(void)
{
	int sp[2];
	uint8_t buf[64];
	size_t n;
	int fd = -1;
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	int mfd = memfd_from_buffer("passed along", 12, "f");
	CHECK(mfd >= 0);
	CHECK(sock_send_frame(sp[0], (const uint8_t *)"frame", 5, mfd) == 0);
	close(mfd); /* the kernel holds its own reference in flight */
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == 0);
	CHECK(n == 5 && memcmp(buf, "frame", 5) == 0 && fd >= 0);
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	const uint8_t *map;
	size_t mlen;
	CHECK(memfd_map_sealed(fd, 1024, &map, &mlen) == 0 && mlen == 12);
	CHECK(memcmp(map, "passed along", 12) == 0);
	memfd_unmap(map, mlen);
	close(fd);

	/* No fd sent: -1. */
	CHECK(sock_send_frame(sp[0], (const uint8_t *)"x", 1, -1) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == 0 && n == 1 && fd == -1);
	close(sp[0]);
	close(sp[1]);
}

/* Sends a datagram with `count` fds in one SCM_RIGHTS message. */
static int send_fds(int sock, const int *fds, int count)
{
	struct iovec iov = { .iov_base = (void *)"m", .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		                  .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)count);
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static void extra_fds_refused_and_closed(void)
{
	int sp[2], fds[16];
	uint8_t buf[64];
	size_t n = 99;
	int fd = -7;
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	for (int i = 0; i < 16; i++)
		fds[i] = memfd_from_buffer("x", 1, "x");
	int before = count_fds();
	/* Two fds. */
	CHECK(send_fds(sp[0], fds, 2) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == -EPROTO);
	CHECK(count_fds() == before && n == 99 && fd == -7);
	/* More than the control buffer holds: MSG_CTRUNC. */
	CHECK(send_fds(sp[0], fds, 16) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == -EPROTO);
	CHECK(count_fds() == before);
	/* A truncated datagram with an fd: -EMSGSIZE, the fd closed. */
	CHECK(sock_send_frame(sp[0], buf, sizeof(buf), fds[0]) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf) - 1, &n, &fd) == -EMSGSIZE);
	CHECK(count_fds() == before);
	/* The exact size fits. */
	CHECK(sock_send_frame(sp[0], buf, sizeof(buf), -1) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == 0 && n == sizeof(buf));
	/* Non-blocking, nothing there. */
	CHECK(fcntl(sp[1], F_SETFL, O_NONBLOCK) == 0);
	CHECK(sock_recv_frame(sp[1], buf, sizeof(buf), &n, &fd) == -EAGAIN);
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	close(sp[0]);
	close(sp[1]);

	CHECK(sock_connect_seqpacket("") == -EINVAL);
	char longpath[200];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	CHECK(sock_connect_seqpacket(longpath) == -ENAMETOOLONG);
	CHECK(sock_connect_seqpacket("/nonexistent/allears-test.sock") == -ENOENT);
}

/* The pattern of the 30 MiB message: byte i is a function of i. */
static void fill(uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (uint64_t)(off + i);
		p[i] = (uint8_t)((x * 2654435761u) >> 13);
	}
}

static int lookup(enum role client, uint8_t key_out[CHAN_KEY_BYTES], void *ctx)
{
	(void)client;
	memcpy(key_out, ctx, CHAN_KEY_BYTES);
	return 0;
}

static void stream_30mib_through_channel(void)
{
	struct memfd_writer w;
	uint8_t *chunk = malloc(CHUNK), *buf = malloc(CHAN_FRAME_MAX);
	crypto_generichash_state hs;
	uint8_t h1[32], h2[32];

	/* Written once, piecewise, never held whole in user memory. */
	CHECK(memfd_writer_open(&w, "email") == 0);
	crypto_generichash_init(&hs, NULL, 0, 32);
	for (size_t off = 0; off < BIG_BYTES; off += CHUNK) {
		fill(chunk, off, CHUNK);
		crypto_generichash_update(&hs, chunk, CHUNK);
		CHECK(memfd_writer_append(&w, chunk, CHUNK) == 0);
	}
	crypto_generichash_final(&hs, h1, 32);
	CHECK(w.len == BIG_BYTES);
	int mfd = memfd_writer_finish(&w);
	CHECK(mfd >= 0);

	/* Across a real channel session, mta -> deliver, with the fd attached. */
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	struct chan_session c = { 0 }, sv = { 0 };
	uint8_t key[32], hello[CHAN_HELLO_BYTES], ack[CHAN_ACK_BYTES], pl[12];
	enum role who;
	size_t n;
	uint16_t type;
	int fd = -1;
	randombytes_buf(key, sizeof(key));
	CHECK(chan_client_hello(&c, hello, ROLE_MTA, ROLE_DELIVER, key) == 0);
	CHECK(chan_server_accept(&sv, ack, hello, sizeof(hello), ROLE_DELIVER, lookup, key, &who) == 0);
	CHECK(chan_client_finish(&c, ack, sizeof(ack)) == 0);
	le64_store(pl, BIG_BYTES);
	memcpy(pl + 8, "meta", 4);
	CHECK(chan_send(&c, sp[0], 0x0201, pl, sizeof(pl), mfd) == 0);
	close(mfd);
	CHECK(chan_recv(&sv, sp[1], buf, CHAN_FRAME_MAX, &n, &type, &fd) == 0);
	CHECK(n == sizeof(pl) && type == 0x0201 && fd >= 0 && memcmp(buf + 8, "meta", 4) == 0);

	const uint8_t *map = NULL;
	size_t mlen = 0;
	CHECK(chan_bulk_map(fd, buf, n, BIG_BYTES - 1, &map, &mlen) == -EFBIG);
	CHECK(chan_bulk_map(fd, buf, 7, BIG_BYTES, &map, &mlen) == -EBADMSG);
	CHECK(chan_bulk_map(fd, buf, n, BIG_BYTES, &map, &mlen) == 0 && mlen == BIG_BYTES);
	if (map && mlen == BIG_BYTES) {
		crypto_generichash(h2, 32, map, mlen, NULL, 0);
		CHECK_MEM(h1, h2, 32);
		memfd_unmap(map, mlen);
	}
	/* A declared length that differs from the memfd's size is refused. */
	le64_store(buf, BIG_BYTES - 1);
	CHECK(chan_bulk_map(fd, buf, n, BIG_BYTES, &map, &mlen) == -EBADMSG);
	close(fd);
	close(sp[0]);
	close(sp[1]);
	chan_session_clear(&c);
	chan_session_clear(&sv);
	free(chunk);
	free(buf);
}

int main(void)
{
	check_init();
	RUN(seals_present_and_hold);
	RUN(unsealed_or_partial_refused);
	RUN(size_limit_and_empty);
	RUN(writer_lifecycle);
	RUN(fd_passes_through_socket);
	RUN(extra_fds_refused_and_closed);
	RUN(stream_30mib_through_channel);
	return check_finish();
}
