/* test_rpc.c: calls between roles on the event loop: answers in and out of
 * order, memfds, timeouts, a server that is down, wrong keys, refused peers,
 * and hostile frames that must close one connection and nothing else. */
#include "check.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bytes.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"
#include "ipc/sock.h"

#define T_ECHO 1
#define T_LATER 2
#define T_SILENT 3
#define T_BULK 4

static uint8_t key_mta_acc[CHAN_KEY_BYTES];
static uint8_t key_api_acc[CHAN_KEY_BYTES];
static char sock_path[108];
static struct loop *L;

static int key_lookup(enum role client, uint8_t out[CHAN_KEY_BYTES], void *ctx)
{
	if (client == ROLE_MTA)
		memcpy(out, key_mta_acc, CHAN_KEY_BYTES);
	else if (client == ROLE_API)
		memcpy(out, key_api_acc, CHAN_KEY_BYTES);
	else
		return -ENOENT;
	return 0;
}

/* ---- the server's handler ---- */

struct later {
	struct rpc_conn *c;
	uint32_t call;
	struct loop_timer *t;
};
static int served;

static void answer_later(struct loop *l, struct loop_timer *t, void *data)
{
	struct later *x = data;
	CHECK(rpc_reply(x->c, T_LATER, x->call, (const uint8_t *)"late", 4, -1) == 0);
	rpc_conn_unref(x->c);
	loop_timer_del(l, x->t);
	free(x);
}

static void handler(struct rpc_conn *c, enum role client, uint16_t type, uint32_t call,
                    const uint8_t *payload, size_t len, int fd, void *data)
{
	served++;
	if (type == T_ECHO) {
		CHECK(fd < 0);
		CHECK(rpc_reply(c, T_ECHO, call, payload, len, -1) == 0);
	} else if (type == T_LATER) {
		struct later *x = xcalloc(1, sizeof(*x));
		x->c = c;
		x->call = call;
		rpc_conn_ref(c);
		x->t = loop_timer_add(L, 20, false, answer_later, x);
	} else if (type == T_BULK) {
		const uint8_t *map;
		size_t mlen;
		CHECK(fd >= 0);
		CHECK(chan_bulk_map(fd, payload, len, 1 << 20, &map, &mlen) == 0);
		/* Answer with the same bytes, reversed, in a new sealed memfd. */
		uint8_t *rev = xmalloc(mlen);
		for (size_t i = 0; i < mlen; i++)
			rev[i] = map[mlen - 1 - i];
		memfd_unmap(map, mlen);
		close(fd);
		int out = memfd_from_buffer(rev, mlen, "test");
		CHECK(out >= 0);
		uint8_t hdr[8];
		le64_store(hdr, mlen);
		CHECK(rpc_reply(c, T_BULK, call, hdr, 8, out) == 0);
		close(out);
		free(rev);
	} else if (fd >= 0) {
		close(fd);
	}
	/* T_SILENT: never answered. */
}

static int listen_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		return -1;
	return fd;
}

static struct rpc_server *start_server(int lfd, uid_t only_uid)
{
	struct rpc_server_opts o = {
		.me = ROLE_ACCOUNT, .key_lookup = key_lookup, .handler = handler,
	};
	if (only_uid != (uid_t)-1) {
		o.peer_uids[0] = only_uid;
		o.n_peer_uids = 1;
	}
	return rpc_server_new(L, lfd, &o);
}

/* ---- client callbacks ---- */

struct result {
	int done;
	int status;
	uint16_t type;
	uint8_t data[64];
	size_t len;
	int order;
};
static int completion_order;

static void on_done(int status, uint16_t type, const uint8_t *payload, size_t len, int fd, void *arg)
{
	struct result *r = arg;
	r->done++;
	r->status = status;
	r->type = type;
	r->order = ++completion_order;
	if (status == 0 && len <= sizeof(r->data)) {
		memcpy(r->data, payload, len);
		r->len = len;
	}
	if (fd >= 0) {
		const uint8_t *map;
		size_t mlen;
		if (chan_bulk_map(fd, payload, len, 1 << 20, &map, &mlen) == 0) {
			r->len = mlen < sizeof(r->data) ? mlen : sizeof(r->data);
			memcpy(r->data, map, r->len);
			memfd_unmap(map, mlen);
		}
		close(fd);
	}
}

static struct result *wait_for;
static int wait_count;
static void stop_when_done(struct loop *l, struct loop_timer *t, void *data)
{
	int all = 1;
	for (int i = 0; i < wait_count; i++)
		all &= wait_for[i].done > 0;
	if (all)
		loop_stop(l);
}

/* Runs the loop until every result in rs[0..n) completed (or 5 s passed). */
static void run_until(struct result *rs, int n)
{
	wait_for = rs;
	wait_count = n;
	struct loop_timer *poll = loop_timer_add(L, 2, true, stop_when_done, NULL);
	struct loop_timer *guard = loop_timer_add(L, 5000, false, stop_when_done, NULL);
	(void)guard;
	loop_run(L);
	loop_timer_del(L, poll);
	loop_timer_del(L, guard);
}

/* The loop must be restartable between steps of a test: loop_run returns once
 * stopped, so each step makes a fresh loop. */
static void fresh_loop(void)
{
	L = loop_new();
}

static void calls_answered_in_and_out_of_order(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), (uid_t)-1);
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r[3] = { 0 };
	completion_order = 0;
	rpc_call(cl, T_LATER, (const uint8_t *)"x", 1, -1, 2000, on_done, &r[0]);
	rpc_call(cl, T_ECHO, (const uint8_t *)"hello", 5, -1, 2000, on_done, &r[1]);
	rpc_call(cl, T_ECHO, NULL, 0, -1, 2000, on_done, &r[2]);
	CHECK(r[0].done == 0 && r[1].done == 0); /* never from inside rpc_call */
	run_until(r, 3);
	CHECK(r[0].done == 1 && r[0].status == 0 && r[0].len == 4 && !memcmp(r[0].data, "late", 4));
	CHECK(r[1].done == 1 && r[1].status == 0 && r[1].len == 5 && !memcmp(r[1].data, "hello", 5));
	CHECK(r[2].done == 1 && r[2].status == 0 && r[2].len == 0);
	CHECK(r[1].order < r[0].order); /* the slow answer came last */
	CHECK(rpc_client_connected(cl));
	rpc_client_free(cl);
	rpc_server_free(srv);
	loop_free(L);
}

static void memfd_travels_both_ways(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), (uid_t)-1);
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_API, ROLE_ACCOUNT, key_api_acc);
	const char *msg = "bulk data travels as a sealed memfd";
	int fd = memfd_from_buffer(msg, strlen(msg), "test");
	CHECK(fd >= 0);
	uint8_t hdr[8];
	le64_store(hdr, strlen(msg));
	struct result r = { 0 };
	rpc_call(cl, T_BULK, hdr, 8, fd, 2000, on_done, &r);
	close(fd); /* rpc_call kept its own duplicate */
	run_until(&r, 1);
	CHECK(r.status == 0 && r.len == strlen(msg));
	int rev_ok = r.len == strlen(msg);
	for (size_t i = 0; rev_ok && i < r.len; i++)
		rev_ok = r.data[i] == (uint8_t)msg[r.len - 1 - i];
	CHECK(rev_ok);
	rpc_client_free(cl);
	rpc_server_free(srv);
	loop_free(L);
}

static void unanswered_call_times_out(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), (uid_t)-1);
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r[2] = { 0 };
	rpc_call(cl, T_SILENT, NULL, 0, -1, 150, on_done, &r[0]);
	rpc_call(cl, T_ECHO, (const uint8_t *)"ok", 2, -1, 2000, on_done, &r[1]);
	run_until(r, 2);
	CHECK(r[0].done == 1 && r[0].status == -ETIMEDOUT);
	CHECK(r[1].done == 1 && r[1].status == 0); /* the connection is still fine */
	rpc_client_free(cl);
	rpc_server_free(srv);
	loop_free(L);
}

static void server_down_fails_fast(void)
{
	fresh_loop();
	unlink(sock_path);
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r = { 0 };
	uint64_t t0 = loop_now_ms();
	rpc_call(cl, T_ECHO, NULL, 0, -1, 5000, on_done, &r);
	run_until(&r, 1);
	CHECK(r.done == 1 && r.status == -ECONNREFUSED);
	CHECK(loop_now_ms() - t0 < 1000);
	rpc_client_free(cl);
	loop_free(L);
}

static void wrong_key_and_wrong_role_are_refused(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), (uid_t)-1);
	uint8_t bad[CHAN_KEY_BYTES];
	memcpy(bad, key_mta_acc, sizeof(bad));
	bad[0] ^= 1;
	struct rpc_client *c1 = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, bad);
	/* web may not talk to account at all, whatever key it holds */
	struct rpc_client *c2 = rpc_client_new(L, sock_path, ROLE_WEB, ROLE_ACCOUNT, key_mta_acc);
	/* api holding mta's key claims to be api: the key does not match */
	struct rpc_client *c3 = rpc_client_new(L, sock_path, ROLE_API, ROLE_ACCOUNT, key_mta_acc);
	struct rpc_client *good = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r[4] = { 0 };
	served = 0;
	rpc_call(c1, T_ECHO, NULL, 0, -1, 2000, on_done, &r[0]);
	rpc_call(c2, T_ECHO, NULL, 0, -1, 2000, on_done, &r[1]);
	rpc_call(c3, T_ECHO, NULL, 0, -1, 2000, on_done, &r[2]);
	rpc_call(good, T_ECHO, NULL, 0, -1, 2000, on_done, &r[3]);
	run_until(r, 4);
	CHECK(r[0].status < 0 && r[1].status < 0 && r[2].status < 0);
	CHECK(r[3].status == 0);
	CHECK(served == 1);
	rpc_client_free(c1);
	rpc_client_free(c2);
	rpc_client_free(c3);
	rpc_client_free(good);
	rpc_server_free(srv);
	loop_free(L);
}

static void peer_uid_allow_list_is_enforced(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), getuid() + 1);
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r = { 0 };
	served = 0;
	rpc_call(cl, T_ECHO, NULL, 0, -1, 2000, on_done, &r);
	run_until(&r, 1);
	CHECK(r.status < 0 && served == 0);
	rpc_client_free(cl);
	rpc_server_free(srv);
	loop_free(L);
}

/* A raw client completes a real handshake, then misbehaves. */
static int raw_connect(struct chan_session *s)
{
	int fd = sock_connect_seqpacket(sock_path);
	uint8_t hello[CHAN_HELLO_BYTES];
	if (fd < 0 || chan_client_hello(s, hello, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc) < 0 ||
	    sock_send_frame(fd, hello, sizeof(hello), -1) < 0)
		return -1;
	return fd; /* the ACK is read later, once the server's loop has run */
}

static int hostile_fd;
static struct chan_session hostile_s;
static uint8_t captured[CHAN_FRAME_MAX];
static size_t captured_len;

static void hostile_step(struct loop *l, struct loop_timer *t, void *data)
{
	int step = (*(int *)data)++;
	uint8_t buf[CHAN_FRAME_MAX];
	size_t len;
	int fd = -1;
	if (step == 0) {
		/* read the ACK (the server has answered by now) and finish */
		CHECK(sock_recv_frame(hostile_fd, buf, sizeof(buf), &len, &fd) == 0);
		CHECK(chan_client_finish(&hostile_s, buf, len) == 0);
		uint8_t plain[8] = { 0 };
		CHECK(chan_seal(&hostile_s, captured, sizeof(captured), &captured_len, T_ECHO, 0, plain,
		                sizeof(plain)) == 0);
		CHECK(sock_send_frame(hostile_fd, captured, captured_len, -1) == 0);
	} else if (step == 1) {
		CHECK(sock_recv_frame(hostile_fd, buf, sizeof(buf), &len, &fd) == 0 && len > 0);
		/* replay the captured frame: the server must drop the connection */
		CHECK(sock_send_frame(hostile_fd, captured, captured_len, -1) == 0);
	} else if (step == 2) {
		CHECK(sock_recv_frame(hostile_fd, buf, sizeof(buf), &len, &fd) == 0 && len == 0);
		loop_stop(l);
	}
}

static void replayed_and_garbage_frames_close_only_that_connection(void)
{
	fresh_loop();
	struct rpc_server *srv = start_server(listen_socket(), (uid_t)-1);
	hostile_s = (struct chan_session){ 0 };
	hostile_fd = raw_connect(&hostile_s);
	CHECK(hostile_fd >= 0);
	/* garbage right away on a second connection */
	int g = sock_connect_seqpacket(sock_path);
	CHECK(g >= 0 && sock_send_frame(g, (const uint8_t *)"GARBAGE!", 8, -1) == 0);
	int step = 0;
	struct loop_timer *t = loop_timer_add(L, 30, true, hostile_step, &step);
	served = 0;
	loop_run(L);
	loop_timer_del(L, t);
	CHECK(step == 3);
	CHECK(served == 1); /* the first frame was served, the replay was not */
	uint8_t buf[64];
	CHECK(recv(g, buf, sizeof(buf), MSG_DONTWAIT) == 0); /* garbage: closed */
	close(g);
	close(hostile_fd);
	chan_session_clear(&hostile_s);
	/* and the server still serves a well-behaved client */
	struct rpc_client *cl = rpc_client_new(L, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc);
	struct result r = { 0 };
	rpc_call(cl, T_ECHO, (const uint8_t *)"still", 5, -1, 2000, on_done, &r);
	run_until(&r, 1);
	CHECK(r.status == 0 && r.len == 5);
	CHECK(rpc_server_conn_count(srv) == 1);
	rpc_client_free(cl);
	rpc_server_free(srv);
	loop_free(L);
}

static pid_t sync_child;
static int sync_status = -1;
static void reap_child(struct loop *l, struct loop_timer *t, void *data)
{
	if (waitpid(sync_child, &sync_status, WNOHANG) == sync_child)
		loop_stop(l);
}

static void sync_client_round_trip(void)
{
	fresh_loop();
	int lfd = listen_socket();
	struct rpc_server *srv = start_server(lfd, (uid_t)-1);
	fflush(stdout);
	sync_child = fork();
	if (sync_child == 0) {
		struct rpc_sync sc;
		uint8_t reply[64];
		size_t rlen;
		uint16_t rtype;
		int rfd;
		int ok = rpc_sync_connect(&sc, sock_path, ROLE_MTA, ROLE_ACCOUNT, key_mta_acc) == 0 &&
		         rpc_sync_call(&sc, T_ECHO, (const uint8_t *)"sync", 4, -1, &rtype, reply,
		                       sizeof(reply), &rlen, &rfd) == 0 &&
		         rtype == T_ECHO && rlen == 4 && memcmp(reply, "sync", 4) == 0 && rfd == -1;
		rpc_sync_close(&sc);
		_exit(ok ? 0 : 1);
	}
	struct loop_timer *t = loop_timer_add(L, 5, true, reap_child, NULL);
	loop_run(L);
	loop_timer_del(L, t);
	CHECK(WIFEXITED(sync_status) && WEXITSTATUS(sync_status) == 0);
	rpc_server_free(srv);
	close(lfd);
	loop_free(L);
}

int main(void)
{
	check_init();
	randombytes_buf(key_mta_acc, sizeof(key_mta_acc));
	randombytes_buf(key_api_acc, sizeof(key_api_acc));
	snprintf(sock_path, sizeof(sock_path), "/tmp/allears-rpc-%d.sock", (int)getpid());
	RUN(calls_answered_in_and_out_of_order);
	RUN(memfd_travels_both_ways);
	RUN(unanswered_call_times_out);
	RUN(server_down_fails_fast);
	RUN(wrong_key_and_wrong_role_are_refused);
	RUN(peer_uid_allow_list_is_enforced);
	RUN(replayed_and_garbage_frames_close_only_that_connection);
	RUN(sync_client_round_trip);
	unlink(sock_path);
	return check_finish();
}
