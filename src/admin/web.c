/* web.c: `allears-admin web` (see web.h; docs/PROTOCOL.md section 21.1). The
 * compressed variants are made by the gzip and brotli programs when they are
 * installed (they are build-time tools, not dependencies of the daemon, and
 * allears links no compression library); each result is decompressed again
 * by the same program and compared with the page before it is kept. */
#include "admin/web.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin/webhtml.h"
#include "common/durable.h"

extern char **environ;

void admin_web_encode(struct wr *w, const char *csp, uint32_t max_age,
                      const struct admin_web_variant *v, size_t n)
{
	size_t start = w->len;
	size_t csp_len = strlen(csp);
	wr_bytes(w, WEBPAGE_MAGIC, WEBPAGE_MAGIC_LEN);
	wr_u8(w, WEBPAGE_VERSION);
	wr_u8(w, (uint8_t)n);
	wr_u32(w, max_age);
	wr_u16(w, (uint16_t)csp_len);
	wr_bytes(w, csp, csp_len);
	for (size_t i = 0; i < n; i++) {
		uint8_t tag[WEBPAGE_TAG_BYTES];
		crypto_generichash(tag, sizeof(tag), v[i].body, v[i].len, NULL, 0);
		wr_u8(w, (uint8_t)v[i].coding);
		wr_bytes(w, tag, sizeof(tag));
		wr_u32(w, (uint32_t)v[i].len);
		wr_bytes(w, v[i].body, v[i].len);
	}
	uint8_t *sum = wr_reserve(w, WEBPAGE_SUM_BYTES);
	crypto_generichash(sum, WEBPAGE_SUM_BYTES, w->p + start, w->len - WEBPAGE_SUM_BYTES - start,
	                   NULL, 0);
}

/* ---- running a compressor ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Waits for pid for at most ADMIN_WEB_TOOL_TIMEOUT_S; kills it after. */
static int wait_tool(pid_t pid)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
		if (r < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > ADMIN_WEB_TOOL_TIMEOUT_S) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		struct timespec tick = { 0, 10 * 1000 * 1000 };
		nanosleep(&tick, NULL);
	}
}

/* Runs argv with in as its standard input; its standard output (at most
 * out_max bytes) into *ret. -ENOENT when the program is not found. */
static int run_filter(char *const argv[], const uint8_t *in, size_t len, size_t out_max,
                      uint8_t **ret, size_t *ret_len)
{
	int fin = memfd_create("allears-web-in", MFD_CLOEXEC);
	int fout = memfd_create("allears-web-out", MFD_CLOEXEC);
	int rc = fin < 0 || fout < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fin, in, len);
	if (rc == 0 && lseek(fin, 0, SEEK_SET) < 0)
		rc = -errno;
	pid_t pid;
	if (rc == 0) {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fin, 0);
		posix_spawn_file_actions_adddup2(&fa, fout, 1);
		rc = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (rc == 0)
		rc = wait_tool(pid);
	off_t size = 0;
	if (rc == 0 && (size = lseek(fout, 0, SEEK_END)) < 0)
		rc = -errno;
	if (rc == 0 && (size == 0 || (size_t)size > out_max))
		rc = -EFBIG;
	uint8_t *p = NULL;
	if (rc == 0) {
		p = xmalloc((size_t)size);
		if (pread(fout, p, (size_t)size, 0) != size)
			rc = -EIO;
	}
	if (fin >= 0)
		close(fin);
	if (fout >= 0)
		close(fout);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*ret = p;
	*ret_len = (size_t)size;
	return 0;
}

struct tool {
	enum webpage_coding coding;
	const char *prog; /* NULL: not wanted */
	bool explicit_prog; /* named on the command line: a failure is an error */
};

/* Compresses html with t; 1 with the variant in *ret (the caller frees it),
 * 0 when it is skipped (not installed, or not smaller), -1 on an error. */
static int make_variant(const struct tool *t, const uint8_t *html, size_t len, uint8_t **ret,
                        size_t *ret_len)
{
	char *prog = (char *)t->prog;
	char *gz[] = { prog, "-9", "-n", "-c", NULL };
	char *br[] = { prog, "-c", "-q", "11", NULL };
	char *un[] = { prog, "-d", "-c", NULL };
	const char *name = webpage_coding_name(t->coding);
	uint8_t *out = NULL, *back = NULL;
	size_t out_len = 0, back_len = 0;
	int rc = run_filter(t->coding == WEBPAGE_GZIP ? gz : br, html, len, len, &out, &out_len);
	if (rc == -ENOENT && !t->explicit_prog) {
		fprintf(stderr, "allears-admin: %s is not installed: no %s variant\n", t->prog, name);
		return 0;
	}
	if (rc == -EFBIG) {
		fprintf(stderr, "allears-admin: %s does not make the page smaller: no %s variant\n",
		        t->prog, name);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "allears-admin: %s failed: %s\n", t->prog, strerror(-rc));
		return -1;
	}
	rc = run_filter(un, out, out_len, len, &back, &back_len);
	if (rc < 0 || back_len != len || memcmp(back, html, len) != 0) {
		fprintf(stderr, "allears-admin: %s -d does not give the page back: refusing its output\n",
		        t->prog);
		if (rc == 0)
			free(back);
		free(out);
		return -1;
	}
	free(back);
	if (out_len >= len) {
		free(out);
		return 0;
	}
	*ret = out;
	*ret_len = out_len;
	return 1;
}

/* ---- files ---- */

static int read_html(const char *path, uint8_t **ret, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = WEBPAGE_HTML_MAX + 1, len = 0;
	uint8_t *p = xmalloc(cap);
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, p + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == cap) {
			rc = -EFBIG;
			break;
		}
	}
	if (fd != 0)
		close(fd);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*ret = p;
	*ret_len = len;
	return 0;
}

/* Replaces out durably (mode 0644: the page is public, and a page_file is
 * read by the daemon's dynamic user). */
static int write_out(const char *out, const uint8_t *p, size_t len)
{
	char dir[4096], base[256], tmp[300];
	const char *slash = strrchr(out, '/');
	if (slash) {
		size_t dl = (size_t)(slash - out);
		if (dl >= sizeof(dir) || strlen(slash + 1) >= sizeof(base))
			return -ENAMETOOLONG;
		memcpy(dir, out, dl);
		dir[dl ? dl : 1] = '\0';
		if (!dl)
			dir[0] = '/';
		snprintf(base, sizeof(base), "%s", slash + 1);
	} else {
		if (strlen(out) >= sizeof(base))
			return -ENAMETOOLONG;
		snprintf(dir, sizeof(dir), ".");
		snprintf(base, sizeof(base), "%s", out);
	}
	if (!base[0])
		return -EISDIR;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", base);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	enum durable_step step;
	int rc = durable_replace(dirfd, base, tmp, p, len, NULL, NULL, &step);
	if (rc == 0 && fchmodat(dirfd, base, 0644, 0) < 0)
		rc = -errno;
	close(dirfd);
	return rc;
}

static int usage_error(void)
{
	fprintf(stderr, "Usage: allears-admin web [--out FILE] [--max-age SECONDS] "
	                "[--gzip PROG|none] [--brotli PROG|none] PAGE.html\n"
	                "See allears-admin --help.\n");
	return 2;
}

int admin_web_main(int argc, char **argv)
{
	const char *in = NULL, *out = ADMIN_WEB_DEFAULT_OUT;
	long max_age = ADMIN_WEB_MAX_AGE_DEFAULT;
	struct tool tools[] = { { WEBPAGE_GZIP, "gzip", false }, { WEBPAGE_BR, "brotli", false } };
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--max-age") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			max_age = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || max_age < 0 ||
			    max_age > (long)WEBPAGE_MAX_AGE_MAX) {
				fprintf(stderr, "allears-admin: --max-age must be 0 to %u seconds\n",
				        WEBPAGE_MAX_AGE_MAX);
				return 2;
			}
		} else if ((strcmp(argv[i], "--gzip") == 0 || strcmp(argv[i], "--brotli") == 0) &&
		           i + 1 < argc) {
			struct tool *t = &tools[strcmp(argv[i], "--gzip") == 0 ? 0 : 1];
			i++;
			t->prog = strcmp(argv[i], "none") == 0 ? NULL : argv[i];
			t->explicit_prog = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return usage_error();
		} else if (!in) {
			in = argv[i];
		} else {
			return usage_error();
		}
	}
	if (!in)
		return usage_error();

	uint8_t *html = NULL;
	size_t len = 0;
	int rc = read_html(in, &html, &len);
	if (rc < 0) {
		fprintf(stderr, "allears-admin: cannot read %s: %s\n", in,
		        rc == -EFBIG ? "larger than the page limit" : strerror(-rc));
		return 1;
	}
	struct webhtml_result res;
	char err[WEBHTML_ERR_MAX];
	if (webhtml_check(html, len, &res, err) < 0) {
		fprintf(stderr, "allears-admin: %s: %s\n", in, err);
		free(html);
		return 1;
	}

	struct admin_web_variant v[WEBPAGE_CODINGS] = { { WEBPAGE_IDENTITY, html, len } };
	uint8_t *owned[WEBPAGE_CODINGS] = { NULL };
	size_t n = 1;
	int status = 0;
	for (size_t i = 0; i < ARRAY_SIZE(tools) && status == 0; i++) {
		if (!tools[i].prog)
			continue;
		uint8_t *body;
		size_t blen;
		int r = make_variant(&tools[i], html, len, &body, &blen);
		if (r < 0)
			status = 1;
		else if (r > 0) {
			owned[n] = body;
			v[n++] = (struct admin_web_variant){ tools[i].coding, body, blen };
		}
	}
	if (status == 0) {
		struct wr w = WR_INIT;
		admin_web_encode(&w, res.csp, (uint32_t)max_age, v, n);
		rc = write_out(out, w.p, w.len);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot write %s: %s\n", out, strerror(-rc));
			status = 1;
		} else {
			printf("wrote %s (%zu bytes): %zu bytes of HTML", out, w.len, len);
			for (size_t i = 1; i < n; i++)
				printf(", %s %zu", webpage_coding_name(v[i].coding), v[i].len);
			printf("\n%u external and %u inline scripts, %u external and %u inline styles\n"
			       "Content-Security-Policy: %s\n",
			       res.external_scripts, res.inline_scripts, res.external_styles,
			       res.inline_styles, res.csp);
		}
		wr_free(&w);
	}
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	free(html);
	return status;
}
