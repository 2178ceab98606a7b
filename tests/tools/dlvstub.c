/* dlvstub: a stand-in for allears-deliver in the MTA's tests. Serves the
 * Deliver channel (socket "channel" and credential "keys", exactly as the
 * launcher or systemd pass them), decodes every DLV_DELIVER with
 * dlvrec_decode, writes each record into a directory (N.json with the
 * session facts, N.eml with the message; the JSON is renamed into place
 * last) and answers the status chosen on the command line or, when it
 * exists, by the first word of a control file read at every request:
 *   ok | tempfail | limit | invalid | internal | hang (never answer)
 * optionally followed by a delay in milliseconds before answering.
 * Records that do not decode are answered CHST_INVALID and counted in
 * DIR/invalid. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/chanmsg.h"
#include "common/dlvrec.h"
#include "common/keybundle.h"
#include "ipc/channel.h"
#include "ipc/daemon.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"

#define STUB_HEAD_MAX 8192 /* far above the largest header (section 16.1) */
#define STUB_HANG (-1)

static struct {
	struct daemon d;
	struct loop *loop;
	struct keybundle *kb;
	struct rpc_server *srv;
	const char *dir;
	const char *control;
	int status;        /* CHST_* or STUB_HANG */
	unsigned delay_ms;
	unsigned seq;
} S;

struct pending {
	struct rpc_conn *c;
	uint32_t call;
	uint8_t ans[DLV_ANSWER_MAX];
	size_t len;
};

static int status_of(const char *w)
{
	static const struct {
		const char *name;
		int st;
	} t[] = { { "ok", CHST_OK }, { "tempfail", CHST_TEMPFAIL }, { "limit", CHST_LIMIT },
		      { "invalid", CHST_INVALID }, { "internal", CHST_INTERNAL }, { "hang", STUB_HANG } };
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (strcmp(w, t[i].name) == 0)
			return t[i].st;
	}
	return -2;
}

/* The control file, if present, overrides the command line for this request. */
static void current(int *st, unsigned *delay)
{
	*st = S.status;
	*delay = S.delay_ms;
	if (!S.control)
		return;
	FILE *f = fopen(S.control, "r");
	if (!f)
		return;
	char w[32];
	unsigned dl;
	int n = fscanf(f, "%31s %u", w, &dl);
	fclose(f);
	if (n >= 1 && status_of(w) != -2)
		*st = status_of(w);
	if (n == 2)
		*delay = dl;
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", S.dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fatal("dlvstub: %s", tmp);
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0)
			fatal("dlvstub: write");
		b += w;
		n -= (size_t)w;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		fatal("dlvstub: rename");
}

static json_t *jstr(struct msg_str s) { return json_stringn((const char *)s.p, s.len); }

static void save(const struct dlvrec *r)
{
	unsigned n = S.seq++;
	char name[64];
	snprintf(name, sizeof(name), "%06u.eml", n);
	write_file(name, r->message.p, r->message.len);
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(r->ip_family == MSG_IP_V4 ? AF_INET : AF_INET6, r->ip, ip, sizeof(ip));
	json_t *rc = json_array();
	for (unsigned i = 0; i < r->rcpt_count; i++)
		json_array_append_new(rc, json_pack("{s:i,s:i,s:o}", "uid", r->rcpt[i].uid, "flags",
		                                    r->rcpt[i].flags, "local", jstr(r->rcpt[i].local)));
	json_t *j = json_pack("{s:I,s:i,s:s,s:i,s:i,s:i,s:o,s:o,s:o,s:I}", "ts", (json_int_t)r->ts,
	                      "ip_family", r->ip_family, "ip", ip, "tls_version", r->tls_version,
	                      "tls_suite", r->tls_suite, "flags", r->flags, "helo", jstr(r->helo),
	                      "env_from", jstr(r->env_from), "rcpts", rc, "message_len",
	                      (json_int_t)r->message.len);
	char *text = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	snprintf(name, sizeof(name), "%06u.json", n);
	write_file(name, text, strlen(text));
	free(text);
}

static void answer_now(struct pending *p)
{
	(void)rpc_reply(p->c, DLV_DELIVER, p->call, p->ans, p->len, -1);
	rpc_conn_unref(p->c);
	loop_busy_dec(S.loop);
	free(p);
}

static void answer_later(struct loop *l, struct loop_timer *t, void *data)
{
	answer_now(data);
	loop_timer_del(l, t);
}

static void count_invalid(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/invalid", S.dir);
	FILE *f = fopen(path, "a");
	if (f) {
		fputs("x\n", f);
		fclose(f);
	}
}

static void handler(struct rpc_conn *c, enum role client, uint16_t type, uint32_t call,
                    const uint8_t *payload, size_t len, int fd, void *data)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->call = call;
	rpc_conn_ref(c);
	loop_busy_inc(S.loop);
	const uint8_t *map = NULL;
	size_t mlen = 0;
	struct dlvrec r;
	bool ok = type == DLV_DELIVER && client == ROLE_MTA && fd >= 0 && len == 8 &&
	          chan_bulk_map(fd, payload, len, STUB_HEAD_MAX + DLVREC_MESSAGE_MAX, &map, &mlen) ==
	                  0 &&
	          dlvrec_decode(&r, map, mlen) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		count_invalid();
		p->ans[0] = CHST_INVALID;
		p->ans[1] = 0;
		p->len = 2;
		if (map)
			memfd_unmap(map, mlen);
		answer_now(p);
		return;
	}
	int st;
	unsigned delay;
	current(&st, &delay);
	save(&r);
	p->ans[0] = (uint8_t)(st == STUB_HANG ? CHST_OK : st);
	p->ans[1] = r.rcpt_count;
	for (unsigned i = 0; i < r.rcpt_count; i++)
		p->ans[2 + i] = p->ans[0];
	p->len = 2 + (size_t)r.rcpt_count;
	memfd_unmap(map, mlen);
	if (st == STUB_HANG) {
		/* Never answered: the MTA's deadline has to end it. */
		rpc_conn_unref(p->c);
		loop_busy_dec(S.loop);
		free(p);
		return;
	}
	if (delay)
		loop_timer_add(S.loop, delay, false, answer_later, p);
	else
		answer_now(p);
}

static void on_stop(struct loop *l, void *data) { rpc_server_stop_accepting(S.srv); }

static unsigned count_existing(void)
{
	unsigned n = 0;
	DIR *dir = opendir(S.dir);
	if (!dir)
		fatal("dlvstub: %s", S.dir);
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			n++;
	}
	closedir(dir);
	return n;
}

int main(int argc, char **argv)
{
	S.status = CHST_OK;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			S.dir = argv[++i];
		} else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
			S.control = argv[++i];
		} else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
			S.status = status_of(argv[++i]);
			if (S.status == -2) {
				fprintf(stderr, "dlvstub: unknown status %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
			S.delay_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: dlvstub --out DIR [--status ok|tempfail|limit|invalid|"
			                "internal|hang] [--delay-ms N] [--control FILE]\n");
			return 2;
		}
	}
	if (!S.dir) {
		fprintf(stderr, "dlvstub: --out DIR is required\n");
		return 2;
	}
	char *args[] = { argv[0], NULL };
	daemon_init(&S.d, "deliver", 1, args);
	int lfd = daemon_take_fd(&S.d, "channel");
	if (lfd < 0)
		daemon_config_fail(&S.d, "no listening socket named \"channel\" was passed");
	S.kb = daemon_load_keys(&S.d, ROLE_DELIVER);
	S.seq = count_existing();
	S.loop = loop_new();
	if (loop_setup_signals(S.loop, on_stop, NULL) < 0)
		fatal("signals");
	struct rpc_server_opts so = {
		.me = ROLE_DELIVER, .key_lookup = keybundle_server_lookup, .key_ctx = S.kb,
		.handler = handler,
	};
	S.srv = rpc_server_new(S.loop, lfd, &so);
	daemon_ready(&S.d, "serving (stub)");
	int rc = loop_run(S.loop);
	rpc_server_free(S.srv);
	close(lfd);
	keybundle_free(S.kb);
	loop_free(S.loop);
	daemon_free(&S.d);
	return rc < 0 ? 1 : 0;
}
