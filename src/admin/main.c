/* allears-admin: the admin utility (replaces the original's Creator, DataCrypt
 * and WebMaker). This first version makes Server Master Keys and writes the
 * per-role key credentials; `init`, `web` and `status` arrive with their issues.
 * See allears-admin(8). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account/userdb.h"
#include "account/users.h"
#include "admin/web.h"
#include "common/durable.h"
#include "common/keybundle.h"
#include "common/keys.h"
#include "common/userid.h"
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
	           "      writes DIR/<role>.keys (mode 0600), one credential per role.\n"
	           "  allears-admin init --credentials DIR --account-state DIR\n"
	           "      A new installation: makes an SMK and prints it once for offline backup,\n"
	           "      writes every role's credential into the first DIR, creates Account's\n"
	           "      state in the second with the master admin (UserID 0, level 3), and\n"
	           "      prints the admin's User Master Key once. Refuses to overwrite anything.\n"
	           "  allears-admin web [--out FILE] [--max-age SECONDS] [--gzip PROG|none]\n"
	           "                    [--brotli PROG|none] PAGE.html\n"
	           "      Checks the page (size, Subresource Integrity on external scripts and\n"
	           "      styles, nothing its Content-Security-Policy would block), builds that\n"
	           "      CSP, precompresses it with gzip and brotli when installed, and writes\n"
	           "      the page file allears-web serves (default\n"
	           "      " ADMIN_WEB_DEFAULT_OUT ", mode 0644).\n");
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
	char tmp[256];
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	enum durable_step step;
	int rc = durable_replace(dirfd, name, tmp, p, len, NULL, NULL, &step);
	close(dirfd);
	return rc;
}

/* mkdir -p with mode 0700 for what it creates; 0 or -errno. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Writes every role's credential; 0 or 1 (after saying why). */
static int write_credentials(const char *out, const uint8_t smk[KEYS_SMK_BYTES])
{
	int made = mkdir_p(out);
	if (made < 0) {
		fprintf(stderr, "allears-admin: cannot create %s: %s\n", out, strerror(-made));
		return 1;
	}
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX; r++) {
		struct keys_item items[KEYS_BUNDLE_MAX];
		if (keys_role_bundle(items, (enum role)r) <= 0)
			continue; /* web holds no keys at all */
		struct wr w = WR_INIT;
		if (keybundle_build(&w, (enum role)r, smk) < 0)
			fatalx("keybundle_build(%s)", role_name((enum role)r));
		char name[64];
		snprintf(name, sizeof(name), "%s.keys", role_name((enum role)r));
		int rc = write_file_0600(out, name, w.p, w.len);
		wr_free(&w);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot write %s/%s: %s\n", out, name, strerror(-rc));
			return 1;
		}
	}
	return 0;
}

static bool dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool any = false;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return any;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Account's state with the master admin (UserID 0, level 3) for this UMK. */
static int create_account_state(const char *dir, const uint8_t smk[KEYS_SMK_BYTES],
                                const uint8_t umk[KEYS_UMK_BYTES])
{
	uint8_t *k = sodium_malloc(KEYS_KEY_BYTES * 4);
	if (!k)
		fatal("sodium_malloc");
	uint8_t *state_key = k, *salt = k + 32, *uak = k + 64, *esk = k + 96;
	uint8_t epk[KEYS_KEY_BYTES];
	struct users_settings st;
	struct addrhash_params p = addrhash_params_default();
	struct userdb *udb = NULL;
	struct users *db = NULL;
	uint16_t uid = 0;
	int rc = keys_smk_derive(state_key, KEYS_KEY_BYTES, SERVER_KEY_ACC_STATE, smk);
	if (rc == 0)
		rc = keys_smk_derive(salt, KEYS_ADDR_SALT_BYTES, SERVER_KEY_ACC_ADDR_SALT, smk);
	if (rc == 0)
		rc = keys_umk_derive(uak, USER_KEY_UAK, umk);
	if (rc == 0)
		rc = keys_envelope_keypair(epk, esk, umk);
	if (rc == 0)
		rc = users_settings_init(&st, &p, salt);
	if (rc == 0) {
		rc = mkdir_p(dir);
		if (rc == 0)
			rc = userdb_create(dir, state_key, &st);
	}
	if (rc == 0)
		rc = userdb_open(dir, state_key, wall_ms(), &udb, &db);
	if (rc == 0)
		rc = users_create(db, 0, ACCOUNT_LEVEL_ADMIN, uak, epk, wall_ms(), &uid);
	if (db)
		users_free(db);
	if (udb)
		userdb_close(udb);
	sodium_memzero(&st, sizeof(st));
	sodium_free(k);
	return rc < 0 ? rc : (uid == 0 ? 0 : -EINVAL);
}

static int cmd_init(int argc, char **argv)
{
	const char *creds = NULL, *acc = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--credentials") == 0 && i + 1 < argc)
			creds = argv[++i];
		else if (strcmp(argv[i], "--account-state") == 0 && i + 1 < argc)
			acc = argv[++i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!creds || !acc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (dir_has_entries(creds) || dir_has_entries(acc)) {
		fprintf(stderr, "allears-admin: %s or %s is not empty: refusing to overwrite an "
		                "existing installation\n", creds, acc);
		return 1;
	}
	uint8_t *smk = sodium_malloc(KEYS_SMK_BYTES + KEYS_UMK_BYTES);
	char *text = sodium_malloc(KEYS_SMK_TEXT_LEN + KEYS_UMK_TEXT_LEN + 2);
	if (!smk || !text)
		fatal("sodium_malloc");
	uint8_t *umk = smk + KEYS_SMK_BYTES;
	keys_smk_generate(smk);
	keys_umk_generate(umk);
	int status = write_credentials(creds, smk);
	if (status == 0) {
		int rc = create_account_state(acc, smk, umk);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot create Account's state in %s: %s\n", acc,
			        strerror(-rc));
			status = 1;
		}
	}
	if (status == 0) {
		keys_smk_to_text(text, smk);
		printf("Server Master Key (shown once; keep it offline, it remakes every credential):\n"
		       "  %s\n\n", text);
		keys_umk_to_text(text, umk);
		printf("Master admin: UserID 0 (username aaa), level 3. Their User Master Key\n"
		       "(shown once; give it to the admin, then forget it):\n  %s\n\n"
		       "Next steps:\n"
		       "  the admin runs: allears key import --uid 0   (and pastes the key)\n"
		       "  load %s/<role>.keys as each unit's credential \"keys\"\n"
		       "  systemctl start allears.target\n",
		       text, creds);
	}
	sodium_free(smk);
	sodium_free(text);
	return status;
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
	int status = write_credentials(out, smk);
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
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	if (strcmp(argv[1], "web") == 0)
		return admin_web_main(argc - 2, argv + 2);
	usage(stderr);
	return EXIT_USAGE;
}
