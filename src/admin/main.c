/* allears-admin: the admin utility (replaces the original's Creator, DataCrypt
 * and WebMaker). This first version makes Server Master Keys and writes the
 * per-role key credentials; `init`, `web` and `status` arrive with their issues.
 * See allears-admin(8). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keybundle.h"
#include "common/keys.h"
#include "common/util.h"

#define EXIT_USAGE 2
#define SMK_FILE_MAX 4096

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
	           "  allears-admin smk-generate\n"
	           "      Prints a new Server Master Key (92 hex characters). Keep it offline:\n"
	           "      every server key derives from it.\n"
	           "  allears-admin credentials --smk-file FILE --out DIR\n"
	           "      Derives each role's keys from the SMK in FILE ('-' reads stdin) and\n"
	           "      writes DIR/<role>.keys (mode 0600), one credential per role.\n");
}

/* Reads the SMK text from path ('-' = stdin): 92 hex characters, optionally
 * followed by one newline. */
static int read_smk(const char *path, uint8_t smk[KEYS_SMK_BYTES])
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = sodium_malloc(SMK_FILE_MAX);
	if (!buf)
		fatal("sodium_malloc");
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, SMK_FILE_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == SMK_FILE_MAX)
			break;
	}
	if (fd != 0)
		close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	int rc = keys_smk_from_text(smk, buf, len);
	sodium_free(buf);
	return rc;
}

static int write_file_0600(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096], tmp[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		unlink(tmp);
		return -errno;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int cmd_smk_generate(void)
{
	uint8_t *smk = sodium_malloc(KEYS_SMK_BYTES);
	char *text = sodium_malloc(KEYS_SMK_TEXT_LEN + 1);
	if (!smk || !text)
		fatal("sodium_malloc");
	keys_smk_generate(smk);
	keys_smk_to_text(text, smk);
	printf("%s\n", text);
	sodium_free(smk);
	sodium_free(text);
	return 0;
}

static int cmd_credentials(int argc, char **argv)
{
	const char *smk_file = NULL, *out = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--smk-file") == 0 && i + 1 < argc)
			smk_file = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!smk_file || !out) {
		usage(stderr);
		return EXIT_USAGE;
	}
	uint8_t *smk = sodium_malloc(KEYS_SMK_BYTES);
	if (!smk)
		fatal("sodium_malloc");
	int rc = read_smk(smk_file, smk);
	if (rc < 0) {
		fprintf(stderr, "allears-admin: cannot read the SMK from %s: %s\n", smk_file,
		        rc == -EINVAL ? "not 92 lowercase hex characters" : strerror(-rc));
		sodium_free(smk);
		return 1;
	}
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "allears-admin: cannot create %s: %s\n", out, strerror(errno));
		sodium_free(smk);
		return 1;
	}
	int status = 0;
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX && status == 0; r++) {
		struct keys_item items[KEYS_BUNDLE_MAX];
		if (keys_role_bundle(items, (enum role)r) <= 0)
			continue; /* web holds no keys at all */
		struct wr w = WR_INIT;
		if (keybundle_build(&w, (enum role)r, smk) < 0)
			fatalx("keybundle_build(%s)", role_name((enum role)r));
		char name[64];
		snprintf(name, sizeof(name), "%s.keys", role_name((enum role)r));
		rc = write_file_0600(out, name, w.p, w.len);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot write %s/%s: %s\n", out, name, strerror(-rc));
			status = 1;
		}
		wr_free(&w);
	}
	sodium_free(smk);
	return status;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "smk-generate") == 0 && argc == 2)
		return cmd_smk_generate();
	if (strcmp(argv[1], "credentials") == 0)
		return cmd_credentials(argc - 2, argv + 2);
	usage(stderr);
	return EXIT_USAGE;
}
