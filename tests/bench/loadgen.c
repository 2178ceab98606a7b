/* loadgen.c: the load generator of `make bench`. Connects to a server role as
 * a client role (with that role's key bundle, as the launcher writes it) and
 * keeps N calls in flight with rpc_call on one event loop, over one or more
 * connections, for a duration or a count; then prints one line of JSON with
 * the throughput and latency percentiles. Any failed call (an RPC error or an
 * answer other than the expected one) is counted and makes the exit status 1.
 * Not installed. docs/BENCHMARKS.md describes the numbers.
 *
 *   loadgen --op store  --socket S --keys K --role deliver --server storage
 *           --msg FILE --uid N [common options]
 *   loadgen --op lookup --socket S --keys K --role mta --server account
 *           (--fresh | --addrs HEX,HEX,...) [--expect ok|notfound] [common]
 *   loadgen --op hashtime [--count N] [--threads N]   Argon2id hashes of normal
 *           addresses at the default parameters, timed (no daemon)
 * common: --conc N (calls in flight, default 1), --conns N (connections,
 *   default 1), --seconds S or --count N (default 3 s), --warm N (calls made
 *   and dropped before measuring), --timeout-ms N, --label TEXT */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/keybundle.h"
#include "common/message.h"
#include "ipc/channel.h"
#include "ipc/loop.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"

#define LOADGEN_CONC_MAX 4096
#define LOADGEN_CONNS_MAX 64
#define LOADGEN_ADDRS_MAX 1024
#define LOADGEN_SECONDS_MAX 3600
#define LOADGEN_DEFAULT_SECONDS 3
#define LOADGEN_STORE_REQ_BYTES (CHAN_BULK_LEN_BYTES + 4) /* bulk length, uid, flags, reserved */
#define LOADGEN_STORE_ANSWER_BYTES 5                      /* status, id u32 */
#define LOADGEN_LOOKUP_REQ_BYTES 15                       /* addr32, tag u32, flags */
#define LOADGEN_LOOKUP_ANSWER_BYTES 4                     /* status, uid u16, flags */
#define LOADGEN_STATUS_KINDS 256
#define LOADGEN_RPC_ERRORS 8 /* distinct negative errno values remembered */
#define LOADGEN_PREFIX_CHARS 4
#define LOADGEN_HASH_THREADS_MAX 64

enum op { OP_STORE, OP_LOOKUP, OP_HASHTIME };

struct slot {
	unsigned idx;
	struct rpc_client *cl;
	uint64_t t0_ns;
};

struct gen {
	struct loop *loop;
	enum op op;
	struct rpc_client *cl[LOADGEN_CONNS_MAX];
	unsigned nconns;
	struct slot *slots;
	uint64_t timeout_ms;
	/* store */
	int msg_fd;
	uint64_t msg_len;
	uint16_t uid;
	/* lookup */
	bool fresh;
	char prefix[LOADGEN_PREFIX_CHARS + 1];
	uint8_t (*addrs)[ADDR32_BYTES];
	size_t naddrs;
	uint8_t expect;
	/* the running phase */
	bool measuring;
	uint64_t issued, done, ok;
	uint64_t limit_count; /* 0: by time */
	uint64_t deadline_ns;
	unsigned inflight;
	uint64_t seq; /* addresses handed out */
	uint64_t start_ns, last_ns;
	uint32_t *lat_us;
	size_t nlat, caplat;
	uint64_t status_count[LOADGEN_STATUS_KINDS];
	int rpc_err[LOADGEN_RPC_ERRORS];
	uint64_t rpc_err_count[LOADGEN_RPC_ERRORS];
	uint64_t malformed;
	uint64_t errors;
};

static struct gen G;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static NORETURN void usage(void)
{
	fputs("usage: loadgen --op store|lookup|hashtime [--socket PATH --keys FILE --role R "
	      "--server S] [--msg FILE --uid N] [--fresh | --addrs HEX,...] [--expect ok|notfound] "
	      "[--conc N] [--conns N] [--seconds S | --count N] [--warm N] [--timeout-ms N] "
	      "[--label TEXT] [--threads N]\n",
	      stderr);
	exit(2);
}

static long num_arg(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "loadgen: %s is not a number in %ld..%ld\n", s, min, max);
		usage();
	}
	return v;
}

static enum role role_by_name(const char *s)
{
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX; r++)
		if (strcmp(role_name((enum role)r), s) == 0)
			return (enum role)r;
	fatalx("unknown role %s", s);
}

static uint8_t *read_file(const char *path, size_t max, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("open %s", path);
	uint8_t *p = xmalloc(max + 1);
	size_t n = fread(p, 1, max + 1, f);
	if (ferror(f) || n > max)
		fatalx("cannot read %s (or it is too large)", path);
	fclose(f);
	*ret_len = n;
	return p;
}

static void parse_addrs(const char *list)
{
	G.addrs = xcalloc(LOADGEN_ADDRS_MAX, sizeof(*G.addrs));
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		size_t bin_len = 0;
		const char *end = NULL;
		if (G.naddrs >= LOADGEN_ADDRS_MAX || n != 2 * ADDR32_BYTES ||
		    sodium_hex2bin(G.addrs[G.naddrs], ADDR32_BYTES, p, n, NULL, &bin_len, &end) != 0 ||
		    bin_len != ADDR32_BYTES)
			fatalx("--addrs wants up to %d comma-separated 20-digit hex Addr32 values",
			       LOADGEN_ADDRS_MAX);
		G.naddrs++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (G.naddrs == 0)
		fatalx("--addrs is empty");
}

/* ---- failures ---- */

static void count_rpc_error(int status)
{
	for (size_t i = 0; i < LOADGEN_RPC_ERRORS; i++) {
		if (G.rpc_err_count[i] == 0 || G.rpc_err[i] == status) {
			G.rpc_err[i] = status;
			G.rpc_err_count[i]++;
			return;
		}
	}
	G.rpc_err_count[LOADGEN_RPC_ERRORS - 1]++;
}

static void record_failure(void)
{
	G.errors++;
	/* The first one is worth a line on stderr; the JSON has the counts. */
	if (G.errors == 1)
		fprintf(stderr, "loadgen: a call failed (details in the JSON line)\n");
}

/* ---- calls ---- */

static void issue(struct slot *s);

static bool want_more(void)
{
	if (G.limit_count)
		return G.issued < G.limit_count;
	return now_ns() < G.deadline_ns;
}

static void call_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd, void *arg)
{
	struct slot *s = arg;
	uint64_t t = now_ns();
	if (fd >= 0)
		close(fd);
	G.done++;
	G.last_ns = t;
	bool good = false;
	if (status < 0) {
		count_rpc_error(status);
	} else if (len < 1 || type != (G.op == OP_STORE ? STO_STORE : ACC_LOOKUP)) {
		G.malformed++;
	} else {
		G.status_count[p[0]]++;
		size_t want = G.op == OP_STORE ? LOADGEN_STORE_ANSWER_BYTES : LOADGEN_LOOKUP_ANSWER_BYTES;
		uint8_t expect = G.op == OP_STORE ? CHST_OK : G.expect;
		if (p[0] == expect && len != want)
			G.malformed++;
		else
			good = p[0] == expect;
	}
	if (good) {
		G.ok++;
		if (G.measuring) {
			if (G.nlat == G.caplat) {
				G.caplat = G.caplat ? 2 * G.caplat : 4096;
				G.lat_us = xrealloc(G.lat_us, G.caplat * sizeof(*G.lat_us));
			}
			uint64_t us = (t - s->t0_ns) / 1000;
			G.lat_us[G.nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		}
	} else {
		record_failure();
	}
	if (want_more()) {
		issue(s);
	} else if (--G.inflight == 0) {
		loop_stop(G.loop);
	}
}

/* A never-seen normal address: a per-run random prefix and a counter. */
static void fresh_addr(uint8_t out[ADDR32_BYTES])
{
	char text[ADDR32_MAX_NORMAL + 1];
	int n = snprintf(text, sizeof(text), "%s%llu", G.prefix, (unsigned long long)G.seq++);
	if (n <= 0 || (size_t)n > ADDR32_MAX_NORMAL ||
	    addr32_parse(text, (size_t)n, out) != ADDR32_NORMAL)
		fatalx("loadgen: cannot make a fresh address from %s", text);
}

static void issue(struct slot *s)
{
	uint8_t req[LOADGEN_STORE_REQ_BYTES > LOADGEN_LOOKUP_REQ_BYTES ? LOADGEN_STORE_REQ_BYTES
	                                                               : LOADGEN_LOOKUP_REQ_BYTES];
	size_t len;
	uint16_t type;
	int fd = -1;
	G.issued++;
	if (G.op == OP_STORE) {
		le64_store(req, G.msg_len);
		le16_store(req + CHAN_BULK_LEN_BYTES, G.uid);
		req[CHAN_BULK_LEN_BYTES + 2] = 0;
		req[CHAN_BULK_LEN_BYTES + 3] = 0;
		len = LOADGEN_STORE_REQ_BYTES;
		type = STO_STORE;
		fd = G.msg_fd;
	} else {
		if (G.fresh)
			fresh_addr(req);
		else
			memcpy(req, G.addrs[G.seq++ % G.naddrs], ADDR32_BYTES);
		/* One fairness tag per slot, as if each were its own SMTP client, so
		 * the per-sender queue limit is never what is measured. */
		le32_store(req + ADDR32_BYTES, s->idx);
		req[ADDR32_BYTES + 4] = 0;
		len = LOADGEN_LOOKUP_REQ_BYTES;
		type = ACC_LOOKUP;
	}
	s->t0_ns = now_ns();
	rpc_call(s->cl, type, req, len, fd, G.timeout_ms, call_done, s);
}

/* Runs one phase: conc calls in flight until count calls were issued (count
 * > 0) or seconds have passed. */
static void run_phase(unsigned conc, uint64_t count, uint64_t seconds, bool measuring)
{
	G.measuring = measuring;
	G.issued = G.done = G.ok = 0;
	G.limit_count = count;
	G.inflight = 0;
	G.start_ns = G.last_ns = now_ns();
	G.deadline_ns = G.start_ns + seconds * 1000000000u;
	if (count && conc > count)
		conc = (unsigned)count;
	for (unsigned i = 0; i < conc; i++) {
		G.inflight++;
		issue(&G.slots[i]);
	}
	if (G.inflight && loop_run(G.loop) < 0)
		fatal("event loop");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(double q)
{
	if (G.nlat == 0)
		return 0;
	size_t i = (size_t)(q * (double)(G.nlat - 1) + 0.5);
	return G.lat_us[i] / 1000.0;
}

static void print_result(const char *label, const char *opname, unsigned conc)
{
	double secs = (double)(G.last_ns - G.start_ns) / 1e9;
	qsort(G.lat_us, G.nlat, sizeof(*G.lat_us), cmp_u32);
	double sum = 0;
	for (size_t i = 0; i < G.nlat; i++)
		sum += G.lat_us[i];
	printf("{\"label\": \"%s\", \"op\": \"%s\", \"conc\": %u, \"conns\": %u, "
	       "\"calls\": %llu, \"ok\": %llu, \"errors\": %llu, \"seconds\": %.3f, "
	       "\"per_sec\": %.1f, \"lat_ms\": {\"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, "
	       "\"p99\": %.3f, \"max\": %.3f}",
	       label, opname, conc, G.nconns, (unsigned long long)G.done,
	       (unsigned long long)G.ok, (unsigned long long)G.errors, secs,
	       secs > 0 ? (double)G.ok / secs : 0.0, G.nlat ? sum / (double)G.nlat / 1000.0 : 0.0,
	       pct(0.50), pct(0.90), pct(0.99), G.nlat ? G.lat_us[G.nlat - 1] / 1000.0 : 0.0);
	if (G.op == OP_STORE)
		printf(", \"msg_bytes\": %llu", (unsigned long long)G.msg_len);
	printf(", \"status\": {");
	bool first = true;
	for (size_t i = 0; i < LOADGEN_STATUS_KINDS; i++) {
		if (!G.status_count[i])
			continue;
		printf("%s\"%zu\": %llu", first ? "" : ", ", i, (unsigned long long)G.status_count[i]);
		first = false;
	}
	printf("}, \"rpc_errors\": {");
	first = true;
	for (size_t i = 0; i < LOADGEN_RPC_ERRORS; i++) {
		if (!G.rpc_err_count[i])
			continue;
		printf("%s\"%s\": %llu", first ? "" : ", ", strerror(-G.rpc_err[i]),
		       (unsigned long long)G.rpc_err_count[i]);
		first = false;
	}
	printf("}, \"malformed\": %llu}\n", (unsigned long long)G.malformed);
	fflush(stdout);
}

/* ---- Argon2id timing (no daemon) ---- */

struct hashjob {
	pthread_t th;
	const uint8_t *salt;
	uint64_t first, n;
	uint32_t *lat_us;
};

static void *hash_thread(void *arg)
{
	struct hashjob *j = arg;
	struct addrhash_params p = addrhash_params_default();
	for (uint64_t i = 0; i < j->n; i++) {
		char text[ADDR32_MAX_NORMAL + 1];
		uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
		int n = snprintf(text, sizeof(text), "hashtime%llu", (unsigned long long)(j->first + i));
		if (n <= 0 || addr32_parse(text, (size_t)n, a) != ADDR32_NORMAL)
			fatalx("hashtime address");
		uint64_t t = now_ns();
		if (addrhash_normal(h, a, j->salt, &p) != 0)
			fatalx("Argon2id failed");
		j->lat_us[i] = (uint32_t)((now_ns() - t) / 1000);
	}
	return NULL;
}

/* count hashes at the default parameters on `threads` threads of one process,
 * as Account's pool runs them. */
static int hashtime(uint64_t count, unsigned threads, const char *label)
{
	uint8_t salt[ADDRHASH_SALT_BYTES];
	struct addrhash_params p = addrhash_params_default();
	struct hashjob jobs[LOADGEN_HASH_THREADS_MAX];
	randombytes_buf(salt, sizeof(salt));
	if (count < threads)
		count = threads;
	G.lat_us = xcalloc(count, sizeof(*G.lat_us));
	uint64_t t0 = now_ns(), first = 0;
	for (unsigned i = 0; i < threads; i++) {
		uint64_t n = count / threads + (i < count % threads);
		jobs[i] = (struct hashjob){ .salt = salt, .first = first, .n = n,
			                        .lat_us = G.lat_us + first };
		first += n;
		if (pthread_create(&jobs[i].th, NULL, hash_thread, &jobs[i]) != 0)
			fatalx("pthread_create");
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(jobs[i].th, NULL);
	double secs = (double)(now_ns() - t0) / 1e9;
	G.nlat = count;
	qsort(G.lat_us, G.nlat, sizeof(*G.lat_us), cmp_u32);
	printf("{\"label\": \"%s\", \"op\": \"hashtime\", \"threads\": %u, \"calls\": %llu, "
	       "\"seconds\": %.3f, \"opslimit\": %u, \"memlimit_kib\": %u, \"per_sec\": %.2f, "
	       "\"lat_ms\": {\"p50\": %.3f, \"max\": %.3f}}\n",
	       label, threads, (unsigned long long)count, secs, p.opslimit, p.memlimit_kib,
	       (double)count / secs, pct(0.5), G.lat_us[G.nlat - 1] / 1000.0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "op", required_argument, NULL, 'o' },      { "socket", required_argument, NULL, 's' },
		{ "keys", required_argument, NULL, 'k' },    { "role", required_argument, NULL, 'r' },
		{ "server", required_argument, NULL, 'S' },  { "msg", required_argument, NULL, 'm' },
		{ "uid", required_argument, NULL, 'u' },     { "fresh", no_argument, NULL, 'f' },
		{ "addrs", required_argument, NULL, 'a' },   { "expect", required_argument, NULL, 'e' },
		{ "conc", required_argument, NULL, 'c' },    { "conns", required_argument, NULL, 'C' },
		{ "seconds", required_argument, NULL, 't' }, { "count", required_argument, NULL, 'n' },
		{ "warm", required_argument, NULL, 'w' },    { "timeout-ms", required_argument, NULL, 'T' },
		{ "label", required_argument, NULL, 'l' },   { "threads", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opname = NULL, *sock = NULL, *keys = NULL, *rname = NULL, *sname = NULL;
	const char *msg = NULL, *addrs = NULL, *label = "";
	unsigned conc = 1, threads = 1;
	uint64_t seconds = LOADGEN_DEFAULT_SECONDS, count = 0, warm = 0;
	G.timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
	G.expect = CHST_OK;
	G.nconns = 1;
	G.msg_fd = -1;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': opname = optarg; break;
		case 's': sock = optarg; break;
		case 'k': keys = optarg; break;
		case 'r': rname = optarg; break;
		case 'S': sname = optarg; break;
		case 'm': msg = optarg; break;
		case 'u': G.uid = (uint16_t)num_arg(optarg, 0, KEYS_MAX_USERS - 1); break;
		case 'f': G.fresh = true; break;
		case 'a': addrs = optarg; break;
		case 'e':
			if (strcmp(optarg, "ok") == 0)
				G.expect = CHST_OK;
			else if (strcmp(optarg, "notfound") == 0)
				G.expect = CHST_NOT_FOUND;
			else
				usage();
			break;
		case 'c': conc = (unsigned)num_arg(optarg, 1, LOADGEN_CONC_MAX); break;
		case 'C': G.nconns = (unsigned)num_arg(optarg, 1, LOADGEN_CONNS_MAX); break;
		case 't': seconds = (uint64_t)num_arg(optarg, 1, LOADGEN_SECONDS_MAX); break;
		case 'n': count = (uint64_t)num_arg(optarg, 1, 100000000); break;
		case 'w': warm = (uint64_t)num_arg(optarg, 1, 100000000); break;
		case 'T': G.timeout_ms = (uint64_t)num_arg(optarg, 1, 600000); break;
		case 'l': label = optarg; break;
		case 'h': threads = (unsigned)num_arg(optarg, 1, LOADGEN_HASH_THREADS_MAX); break;
		default: usage();
		}
	}
	if (optind != argc || !opname)
		usage();
	if (strchr(label, '"') || strchr(label, '\\'))
		fatalx("--label must not hold quotes or backslashes");
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (strcmp(opname, "hashtime") == 0)
		return hashtime(count ? count : 10, threads, label);
	if (strcmp(opname, "store") == 0)
		G.op = OP_STORE;
	else if (strcmp(opname, "lookup") == 0)
		G.op = OP_LOOKUP;
	else
		usage();
	if (!sock || !keys || !rname || !sname)
		usage();

	if (G.op == OP_STORE) {
		if (!msg)
			fatalx("--op store needs --msg FILE");
		/* One sealed memfd serves every call: it is immutable, and the
		 * server maps it read-only each time (section 7.7). */
		size_t mlen;
		uint8_t *m = read_file(msg, MESSAGE_MAX_BYTES, &mlen);
		G.msg_fd = memfd_from_buffer(m, mlen, "loadgen");
		if (G.msg_fd < 0)
			fatalx("memfd: %s", strerror(-G.msg_fd));
		G.msg_len = mlen;
		free(m);
	} else {
		if (G.fresh == (addrs != NULL))
			fatalx("--op lookup needs exactly one of --fresh and --addrs");
		if (addrs)
			parse_addrs(addrs);
		/* Letters only in the prefix: the counter's digits keep every address
		 * distinct, and a random prefix keeps runs apart. */
		uint8_t r[LOADGEN_PREFIX_CHARS];
		randombytes_buf(r, sizeof(r));
		for (size_t i = 0; i < LOADGEN_PREFIX_CHARS; i++)
			G.prefix[i] = (char)('a' + r[i] % 26);
	}

	enum role me = role_by_name(rname), server = role_by_name(sname);
	size_t klen;
	uint8_t *kbytes = read_file(keys, KEYBUNDLE_MAX_BYTES, &klen);
	struct keybundle *kb = keybundle_new();
	if (keybundle_parse(kb, kbytes, klen, me) < 0)
		fatalx("%s is not %s's key bundle", keys, role_name(me));
	sodium_memzero(kbytes, klen);
	free(kbytes);
	const uint8_t *pair = keybundle_pair(kb, me, server);
	if (!pair)
		fatalx("%s holds no key for %s -> %s", keys, role_name(me), role_name(server));

	G.loop = loop_new();
	for (unsigned i = 0; i < G.nconns; i++)
		G.cl[i] = rpc_client_new(G.loop, sock, me, server, pair);
	keybundle_free(kb);
	G.slots = xcalloc(conc, sizeof(*G.slots));
	for (unsigned i = 0; i < conc; i++)
		G.slots[i] = (struct slot){ .idx = i, .cl = G.cl[i % G.nconns] };

	if (warm) {
		run_phase(conc, warm, 0, false);
		if (G.errors) {
			print_result(label, opname, conc);
			return 1;
		}
		memset(G.status_count, 0, sizeof(G.status_count));
	}
	run_phase(conc, count, count ? 0 : seconds, true);
	print_result(label, opname, conc);

	for (unsigned i = 0; i < G.nconns; i++)
		rpc_client_free(G.cl[i]);
	loop_free(G.loop);
	if (G.msg_fd >= 0)
		close(G.msg_fd);
	free(G.slots);
	free(G.lat_us);
	free(G.addrs);
	return G.errors ? 1 : 0;
}
