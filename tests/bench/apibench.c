/* apibench.c: the API load generator of `make bench`. Each --home is the
 * ALLEARS_HOME of a registered client (config with server/port/CA, an
 * unprotected UMK file, the state file with the UserID); each gets one
 * thread and one keep-alive TLS connection (the client's https code) and
 * sends MSG_BROWSE requests one after another, each freshly sealed with the
 * UAK under a strictly increasing timestamp, as the client does. Every
 * answer must be HTTP 200, open with K_resp and carry status OK (and, with
 * --expect-count, exactly that many envelopes). Prints one line of JSON
 * (requests, seconds, requests/s, latency percentiles); exit status 1 if
 * any request failed. docs/BENCHMARKS.md describes the numbers.
 *
 * One user per connection: Account accepts a user's request only if its
 * timestamp is after the user's last one (PROTOCOL.md 12.5), so one user's
 * requests on several connections at once would overtake each other.
 *
 *   apibench --home DIR [--home DIR ...] [--seconds S | --count N]
 *            [--warm N] [--expect-count N] [--label TEXT] */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/config.h"
#include "client/https.h"
#include "client/keyfile.h"
#include "client/state.h"
#include "common/apireq.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/keys.h"

#define APIBENCH_CONNS_MAX 64
#define APIBENCH_SECONDS_MAX 3600
#define APIBENCH_DEFAULT_SECONDS 5
#define APIBENCH_COUNT_MAX 100000000ull
#define APIBENCH_BROWSE_ARGS 14       /* bflags, reserved, from_id, max_bytes, max_count */
#define APIBENCH_PAGE_HEADER 23       /* more, reserved, count, total_count, reserved, bytes */
/* One user can sustain only 1,000 requests per second (1 ms apart); faster,
 * its timestamps run ahead of the clock. Stay well inside Account's default
 * window (30 s) by waiting when they are this far ahead; the wait is reported. */
#define APIBENCH_AHEAD_MAX_MS 20000
#define APIBENCH_ERRMSG 512

struct worker {
	pthread_t thread;
	char home[CONFIG_PATH_MAX];
	char state_path[CONFIG_PATH_MAX];
	struct config cfg;
	uint16_t uid;
	uint8_t *uak; /* sodium_malloc'd */
	struct https_conn *https;
	uint64_t last_ts;
	/* results */
	uint32_t *lat_us;
	size_t nlat, cap;
	uint64_t ok, errors, throttled_ms, last_ns;
	char err[APIBENCH_ERRMSG]; /* the first failure */
};

static struct {
	struct worker w[APIBENCH_CONNS_MAX];
	unsigned n;
	uint64_t warm, count, expect_count;
	bool has_expect;
	uint64_t start_ns, end_ns; /* end_ns 0: run for count requests */
	pthread_barrier_t ready;
} G;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static NORETURN void usage(void)
{
	fprintf(stderr, "usage: apibench --home DIR [--home DIR ...] [--seconds S | --count N] "
	                "[--warm N] [--expect-count N] [--label TEXT]\n");
	exit(2);
}

static uint64_t num_arg(const char *s, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "apibench: bad number '%s'\n", s);
		usage();
	}
	return v;
}

/* Config, UAK and UserID from a client home. */
static void load_home(struct worker *w)
{
	char err[CONFIG_ERR_MAX], path[CONFIG_PATH_MAX];
	config_defaults(&w->cfg);
	if (config_path(path, sizeof(path), w->home, CONFIG_NAME) != 0 ||
	    config_load(&w->cfg, path, true, err, sizeof(err)) != 0)
		fatal("%s: cannot load the config file", w->home);
	if (!w->cfg.server[0])
		fatal("%s: the config names no server", w->home);
	if (config_path(w->state_path, sizeof(w->state_path), w->home, CONFIG_STATE_NAME) != 0)
		fatal("%s: path too long", w->home);
	struct state st;
	if (state_load(w->state_path, &st, err, sizeof(err)) != 0 || !st.has_uid)
		fatal("%s: no registered UserID in the state file", w->home);
	w->uid = st.uid;
	uint8_t buf[KEYFILE_MAX_BYTES + 1];
	size_t len;
	if (config_path(path, sizeof(path), w->home, CONFIG_UMK_NAME) != 0 ||
	    keyfile_read(path, buf, &len, err, sizeof(err)) != 0)
		fatal("%s: cannot read the UMK file", w->home);
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	w->uak = sodium_malloc(APIREQ_KEY_BYTES);
	if (!umk || !w->uak)
		fatal("sodium_malloc");
	if (keyfile_decode(umk, buf, len, NULL, 0) != 0)
		fatal("%s: the UMK file is damaged or protected by a passphrase", w->home);
	sodium_memzero(buf, sizeof(buf));
	if (keys_umk_derive(w->uak, USER_KEY_UAK, umk) != 0)
		fatal("keys_umk_derive");
	sodium_free(umk);
	struct https_opts o = { .host = w->cfg.server, .port = w->cfg.port, .ca_file = w->cfg.ca,
		                    .timeout_ms = w->cfg.timeout_s * 1000 };
	/* Made here, on the main thread: https_new initialises wolfSSL once. */
	w->https = https_new(&o);
	if (!w->https)
		fatal("%s: bad server settings", w->home);
	if (state_next_ts(w->state_path, state_now_ms(), &w->last_ts, NULL, err, sizeof(err)) != 0)
		fatal("%s: %s", w->home, err);
}

static void fail(struct worker *w, const char *fmt, ...) PRINTF(2, 3);
static void fail(struct worker *w, const char *fmt, ...)
{
	w->errors++;
	if (w->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

/* One MSG_BROWSE of the whole (small) mailbox, newest first. true when it
 * succeeded. */
static bool browse(struct worker *w)
{
	uint64_t now = state_now_ms(), ts = state_ts_after(w->last_ts, now);
	while (ts > now + APIBENCH_AHEAD_MAX_MS) {
		struct timespec d = { 0, 1000000 };
		nanosleep(&d, NULL);
		w->throttled_ms++;
		now = state_now_ms();
	}
	w->last_ts = ts;
	uint8_t args[APIBENCH_BROWSE_ARGS] = { 0 }; /* from the newest, no byte or count cap */
	uint8_t body[APIREQ_BODY_MIN + APIBENCH_BROWSE_ARGS];
	if (apireq_seal(body, sizeof(body), w->uak, ts, w->uid, APIREQ_MSG_BROWSE, 0, args,
	                sizeof(args)) != 0)
		fatal("apireq_seal");
	char url[APIREQ_URL_TEXT_LEN + 1], path[sizeof(url) + 8];
	apireq_url_to_text(url, ts, w->uid);
	snprintf(path, sizeof(path), "/v1/%s", url);
	struct https_resp r;
	memset(&r, 0, sizeof(r));
	if (https_post(w->https, path, body, sizeof(body), &r, NULL, NULL) != 0) {
		fail(w, "%s", https_message(w->https));
		return false;
	}
	bool ok = false;
	if (r.status != 200) {
		fail(w, "HTTP %d", r.status);
		goto out;
	}
	uint8_t k_resp[APIREQ_KEY_BYTES];
	apireq_keys(NULL, k_resp, w->uak, ts, w->uid);
	size_t cap = r.body_len > APIREQ_OVERHEAD ? r.body_len - APIREQ_OVERHEAD : 1;
	uint8_t *plain = xmalloc(cap);
	uint8_t status;
	const uint8_t *data;
	size_t dlen;
	int rc = apireq_response_open(plain, cap, k_resp, ts, w->uid, r.body, r.body_len, &status,
	                              &data, &dlen);
	sodium_memzero(k_resp, sizeof(k_resp));
	if (rc != 0)
		fail(w, "the response does not open (%d)", rc);
	else if (status != CHST_OK)
		fail(w, "status %u", status);
	else if (dlen < APIBENCH_PAGE_HEADER)
		fail(w, "a page of %zu bytes", dlen);
	else if (G.has_expect &&
	         (le32_load(data + 3) != G.expect_count || le32_load(data + 7) != G.expect_count))
		fail(w, "%u envelopes (%u in all), expected %llu", le32_load(data + 3),
		     le32_load(data + 7), (unsigned long long)G.expect_count);
	else
		ok = true;
	free(plain);
out:
	https_resp_free(&r);
	return ok;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	for (uint64_t i = 0; i < G.warm; i++)
		browse(w);
	pthread_barrier_wait(&G.ready); /* main sets start/end */
	pthread_barrier_wait(&G.ready);
	for (uint64_t i = 0;; i++) {
		uint64_t t0 = now_ns();
		if (G.end_ns ? t0 >= G.end_ns : i >= G.count)
			break;
		bool ok = browse(w);
		uint64_t t1 = now_ns();
		w->last_ns = t1;
		if (!ok)
			continue;
		w->ok++;
		if (w->nlat == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 65536;
			w->lat_us = xrealloc(w->lat_us, w->cap * sizeof(*w->lat_us));
		}
		uint64_t us = (t1 - t0) / 1000;
		w->lat_us[w->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	return v[(size_t)(q * (double)(n - 1) + 0.5)] / 1000.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },  { "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' }, { "warm", required_argument, NULL, 'w' },
		{ "expect-count", required_argument, NULL, 'e' },
		{ "label", required_argument, NULL, 'l' }, { NULL, 0, NULL, 0 },
	};
	const char *label = "";
	uint64_t seconds = APIBENCH_DEFAULT_SECONDS;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (G.n == APIBENCH_CONNS_MAX || strlen(optarg) >= CONFIG_PATH_MAX)
				usage();
			snprintf(G.w[G.n++].home, CONFIG_PATH_MAX, "%s", optarg);
			break;
		case 't': seconds = num_arg(optarg, 1, APIBENCH_SECONDS_MAX); break;
		case 'n': G.count = num_arg(optarg, 1, APIBENCH_COUNT_MAX); break;
		case 'w': G.warm = num_arg(optarg, 0, APIBENCH_COUNT_MAX); break;
		case 'e':
			G.expect_count = num_arg(optarg, 0, APIREQ_BROWSE_MAX_COUNT);
			G.has_expect = true;
			break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || G.n == 0 || strchr(label, '"') || strchr(label, '\\'))
		usage();
	if (sodium_init() < 0)
		fatal("sodium_init");
	for (unsigned i = 0; i < G.n; i++)
		load_home(&G.w[i]);
	if (pthread_barrier_init(&G.ready, NULL, G.n + 1) != 0)
		fatal("pthread_barrier_init");
	for (unsigned i = 0; i < G.n; i++)
		if (pthread_create(&G.w[i].thread, NULL, run, &G.w[i]) != 0)
			fatal("pthread_create");
	pthread_barrier_wait(&G.ready); /* every connection is warm */
	G.start_ns = now_ns();
	G.end_ns = G.count ? 0 : G.start_ns + seconds * 1000000000ull;
	pthread_barrier_wait(&G.ready);
	uint64_t ok = 0, errors = 0, throttled = 0, last = G.start_ns;
	unsigned tcp = 0;
	size_t nlat = 0;
	for (unsigned i = 0; i < G.n; i++) {
		struct worker *w = &G.w[i];
		pthread_join(w->thread, NULL);
		ok += w->ok;
		errors += w->errors;
		throttled += w->throttled_ms;
		nlat += w->nlat;
		tcp += https_connections(w->https);
		if (w->last_ns > last)
			last = w->last_ns;
		if (w->err[0])
			fprintf(stderr, "apibench: %s (uid %u): %s\n", w->home, w->uid, w->err);
		/* The client's next request must come after ours. */
		char err[CONFIG_ERR_MAX];
		uint64_t ts;
		if (state_next_ts(w->state_path, w->last_ts, &ts, NULL, err, sizeof(err)) != 0)
			fatal("%s: %s", w->home, err);
	}
	uint32_t *lat = xmalloc((nlat ? nlat : 1) * sizeof(*lat));
	size_t k = 0;
	double sum = 0;
	for (unsigned i = 0; i < G.n; i++) {
		memcpy(lat + k, G.w[i].lat_us, G.w[i].nlat * sizeof(*lat));
		k += G.w[i].nlat;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	for (size_t i = 0; i < nlat; i++)
		sum += lat[i];
	double secs = (double)(last - G.start_ns) / 1e9;
	/* Keep-alive: one TCP connection per home for the whole run. */
	bool reconnected = tcp != G.n;
	printf("{\"label\": \"%s\", \"op\": \"browse\", \"conns\": %u, \"requests\": %llu, "
	       "\"ok\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"per_sec\": %.1f, "
	       "\"lat_ms\": {\"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
	       "\"max\": %.3f}, \"tcp_connections\": %u, \"throttled_ms\": %llu}\n",
	       label, G.n, (unsigned long long)(ok + errors), (unsigned long long)ok,
	       (unsigned long long)errors, secs, secs > 0 ? (double)ok / secs : 0.0,
	       nlat ? sum / (double)nlat / 1000.0 : 0.0, pct(lat, nlat, 0.50), pct(lat, nlat, 0.90),
	       pct(lat, nlat, 0.99), nlat ? lat[nlat - 1] / 1000.0 : 0.0, tcp,
	       (unsigned long long)throttled);
	fflush(stdout);
	if (reconnected)
		fprintf(stderr, "apibench: %u TCP connections for %u homes (keep-alive broken)\n", tcp,
		        G.n);
	for (unsigned i = 0; i < G.n; i++) {
		https_free(G.w[i].https);
		sodium_free(G.w[i].uak);
		free(G.w[i].lat_us);
	}
	free(lat);
	pthread_barrier_destroy(&G.ready);
	return errors || reconnected ? 1 : 0;
}
