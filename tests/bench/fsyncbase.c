/* fsyncbase.c: the peer of the durable-store benchmark: what this machine's
 * disk costs a naive store that makes every message durable on its own, with
 * no group commit. Writes messages of a given size one after another for a
 * duration and prints one line of JSON (messages/s, latency percentiles).
 * Not installed. docs/BENCHMARKS.md describes the numbers.
 *   fsyncbase --dir DIR --size BYTES [--seconds S] [--mode append|file] [--label TEXT]
 * append: one file, write + fdatasync per message (the cheapest naive store);
 * file:   a new file per message, write + fsync + close, then fsync of the
 *         directory (a queue file per message, as classic MTAs keep them). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#define FSYNCBASE_SIZE_MAX (64u << 20)
#define FSYNCBASE_SECONDS_MAX 600
#define FSYNCBASE_PATH_MAX 4096

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fatal("write");
		p += w;
		n -= (size_t)w;
	}
}

static NORETURN void usage(void)
{
	fputs("usage: fsyncbase --dir DIR --size BYTES [--seconds S] [--mode append|file] "
	      "[--label TEXT]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },     { "size", required_argument, NULL, 'z' },
		{ "seconds", required_argument, NULL, 't' }, { "mode", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },   { NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *mode = "append", *label = "";
	long size = 0, seconds = 3;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'z': size = atol(optarg); break;
		case 't': seconds = atol(optarg); break;
		case 'm': mode = optarg; break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	bool per_file = strcmp(mode, "file") == 0;
	if (optind != argc || !dir || size <= 0 || size > (long)FSYNCBASE_SIZE_MAX || seconds <= 0 ||
	    seconds > FSYNCBASE_SECONDS_MAX || (!per_file && strcmp(mode, "append") != 0) ||
	    strchr(label, '"') || strchr(label, '\\'))
		usage();

	uint8_t *msg = xmalloc((size_t)size);
	for (long i = 0; i < size; i++)
		msg[i] = (uint8_t)(i * 131 + 7); /* not zeros: no filesystem shortcut */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		fatal("open %s", dir);
	int afd = -1;
	if (!per_file) {
		afd = openat(dfd, "fsyncbase.append", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		             0600);
		if (afd < 0)
			fatal("open fsyncbase.append");
	}

	size_t n = 0, cap = 4096;
	uint32_t *lat = xmalloc(cap * sizeof(*lat));
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000u, t = t0;
	while (t < end) {
		uint64_t s = now_ns();
		if (per_file) {
			char name[FSYNCBASE_PATH_MAX];
			snprintf(name, sizeof(name), "fsyncbase.%zu", n);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0)
				fatal("open %s", name);
			write_all(fd, msg, (size_t)size);
			if (fsync(fd) != 0)
				fatal("fsync");
			close(fd);
			if (fsync(dfd) != 0)
				fatal("fsync dir");
		} else {
			write_all(afd, msg, (size_t)size);
			if (fdatasync(afd) != 0)
				fatal("fdatasync");
		}
		t = now_ns();
		if (n == cap) {
			cap *= 2;
			lat = xrealloc(lat, cap * sizeof(*lat));
		}
		lat[n++] = (uint32_t)((t - s) / 1000);
	}
	double secs = (double)(t - t0) / 1e9;
	qsort(lat, n, sizeof(*lat), cmp_u32);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	printf("{\"label\": \"%s\", \"op\": \"fsyncbase\", \"mode\": \"%s\", \"msg_bytes\": %ld, "
	       "\"calls\": %zu, \"ok\": %zu, \"errors\": 0, \"seconds\": %.3f, \"per_sec\": %.1f, "
	       "\"lat_ms\": {\"mean\": %.3f, \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}}\n",
	       label, mode, size, n, n, secs, (double)n / secs, sum / (double)n / 1000.0,
	       lat[n / 2] / 1000.0, lat[(size_t)(0.99 * (double)(n - 1) + 0.5)] / 1000.0,
	       lat[n - 1] / 1000.0);

	/* Leave nothing behind. */
	if (per_file) {
		for (size_t i = 0; i < n; i++) {
			char name[FSYNCBASE_PATH_MAX];
			snprintf(name, sizeof(name), "fsyncbase.%zu", i);
			unlinkat(dfd, name, 0);
		}
	} else {
		close(afd);
		unlinkat(dfd, "fsyncbase.append", 0);
	}
	close(dfd);
	free(lat);
	free(msg);
	return 0;
}
