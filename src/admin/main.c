/* allears-admin: the admin utility (replaces the original's Creator, DataCrypt
 * and WebMaker): a new installation (init), the per-role key credentials from a
 * Server Master Key (credentials, rekey), TLS credentials (tls), the Web role's
 * page (web) and a summary of the running system (status). See allears-admin(8). */
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
#include "admin/creds.h"
#include "admin/status.h"
#include "admin/web.h"
#include "common/durable.h"
#include "common/keybundle.h"
#include "common/keys.h"
#include "common/userid.h"
#include "common/util.h"

#define EXIT_USAGE 2
#define SMK_FILE_MAX 4096
#define TLS_FILE_MAX (1024 * 1024)
#define CREDENTIALS_DIR "/etc/allears/credentials"
/* StateDirectory=allears/account with DynamicUser=: systemd keeps it here. */
#define ACCOUNT_STATE_DIR "/var/lib/private/allears/account"

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
	           "  allears-admin init [--credentials DIR] [--account-state DIR]\n"
	           "                     [--encrypt auto|yes|no]\n"
	           "      A new installation: makes an SMK and prints it once for offline backup,\n"
	           "      writes every role's key credential (default " CREDENTIALS_DIR "),\n"
	           "      creates Account's state (default " ACCOUNT_STATE_DIR ")\n"
	           "      with the master admin (UserID 0, level 3), and prints the admin's User\n"
	           "      Master Key once. Refuses to overwrite anything.\n"
	           "  allears-admin credentials|rekey --smk-file FILE [--out DIR]\n"
	           "                     [--encrypt auto|yes|no]\n"
	           "      Derives each role's keys from the SMK in FILE ('-' reads stdin) and\n"
	           "      writes them (restoring on new hardware, or re-encrypting for it).\n"
	           "  allears-admin tls --chain FILE --key FILE [--roles api,mta,web]\n"
	           "                     [--out DIR] [--encrypt auto|yes|no]\n"
	           "      Installs a certificate chain and its key as the TLS credentials of\n"
	           "      the roles that serve TLS.\n"
	           "  allears-admin smk-generate\n"
	           "      Prints a new Server Master Key (92 hex characters).\n"
	           "  allears-admin status\n"
	           "      Summarises every allears unit and the size of each role's state.\n"
	           "  allears-admin web [--out FILE] [--max-age SECONDS] [--gzip PROG|none]\n"
	           "                    [--brotli PROG|none] PAGE.html\n"
	           "      Checks the page (size, Subresource Integrity on external scripts and\n"
	           "      styles, nothing its Content-Security-Policy would block), builds that\n"
	           "      CSP, precompresses it with gzip and brotli when installed, and writes\n"
	           "      the page file allears-web serves (default\n"
	           "      " ADMIN_WEB_DEFAULT_OUT ", mode 0644).\n"
	           "--encrypt: auto (the default) encrypts with systemd-creds when it works here\n"
	           "(as root on a systemd host: files NAME.cred for LoadCredentialEncrypted=),\n"
	           "else writes plain 0600 files (for LoadCredential=).\n");
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

/* Writes every role's key credential; 0 or 1 (after saying why). */
static int write_credentials(const char *out, const uint8_t smk[KEYS_SMK_BYTES], bool encrypt)
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
		int rc = creds_write(out, name, "keys", w.p, w.len, encrypt);
		wr_free(&w);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot write %s/%s%s: %s\n", out, name,
			        encrypt ? ".cred" : "", strerror(-rc));
			return 1;
		}
	}
	return 0;
}

/* Parses --encrypt's value and decides: 1 encrypt, 0 plain, <0 error. */
static int encrypt_option(const char *value)
{
	enum creds_mode mode = CREDS_AUTO;
	if (value && creds_mode_parse(value, &mode) < 0) {
		fprintf(stderr, "allears-admin: --encrypt takes auto, yes or no\n");
		return -EINVAL;
	}
	return creds_resolve(mode);
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
	const char *creds = CREDENTIALS_DIR, *acc = ACCOUNT_STATE_DIR, *enc = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--credentials") == 0 && i + 1 < argc)
			creds = argv[++i];
		else if (strcmp(argv[i], "--account-state") == 0 && i + 1 < argc)
			acc = argv[++i];
		else if (strcmp(argv[i], "--encrypt") == 0 && i + 1 < argc)
			enc = argv[++i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	int encrypt = encrypt_option(enc);
	if (encrypt < 0)
		return encrypt == -EINVAL ? EXIT_USAGE : 1;
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
	int status = write_credentials(creds, smk, encrypt);
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
		       "Each role's keys: %s/<role>.keys%s (%s).\n\n"
		       "Next steps:\n"
		       "  the admin runs: allears key import --uid 0   (and pastes the key)\n"
		       "  allears-admin tls --chain FULLCHAIN.pem --key KEY.pem   (API, MTA, Web)\n"
		       "  allears-admin web PREFIX/share/allears/web/index.html   (the Web page)\n"
		       "  systemctl start allears.target; allears-admin status\n",
		       text, creds, encrypt ? ".cred" : "",
		       encrypt ? "encrypted with systemd-creds, for LoadCredentialEncrypted="
		               : "plain files: load them with LoadCredential=, docs/OPERATIONS.md");
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
	const char *smk_file = NULL, *out = CREDENTIALS_DIR, *enc = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--smk-file") == 0 && i + 1 < argc)
			smk_file = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--encrypt") == 0 && i + 1 < argc)
			enc = argv[++i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!smk_file) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int encrypt = encrypt_option(enc);
	if (encrypt < 0)
		return encrypt == -EINVAL ? EXIT_USAGE : 1;
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
	int status = write_credentials(out, smk, encrypt);
	sodium_free(smk);
	if (status == 0)
		printf("Wrote the key credentials to %s (%s).\n", out,
		       encrypt ? "<role>.keys.cred, encrypted with systemd-creds" : "<role>.keys, plain");
	return status;
}

/* Reads a whole file of at most max bytes into sodium_malloc'd memory; NULL
 * with errno on failure. */
static uint8_t *read_all(const char *path, size_t max, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	uint8_t *buf = sodium_malloc(max);
	if (!buf)
		fatal("sodium_malloc");
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, max - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == max) {
			close(fd);
			sodium_free(buf);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	*ret_len = len;
	return buf;
}

static bool has_text(const uint8_t *p, size_t n, const char *text)
{
	size_t l = strlen(text);
	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(p + i, text, l) == 0)
			return true;
	return false;
}

static bool tls_role(const char *r)
{
	return strcmp(r, "api") == 0 || strcmp(r, "mta") == 0 || strcmp(r, "web") == 0;
}

/* The TLS credentials (tls.crt, public; tls.key, secret) of each role named. */
static int cmd_tls(int argc, char **argv)
{
	const char *chain_file = NULL, *key_file = NULL, *out = CREDENTIALS_DIR, *enc = NULL;
	const char *list = "api,mta,web";
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc)
			chain_file = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key_file = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--encrypt") == 0 && i + 1 < argc)
			enc = argv[++i];
		else if (strcmp(argv[i], "--roles") == 0 && i + 1 < argc)
			list = argv[++i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	const char *roles[3];
	size_t n_roles = 0;
	char buf[64];
	if (!chain_file || !key_file || strlen(list) >= sizeof(buf)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		if (!tls_role(r) || n_roles == 3) {
			fprintf(stderr, "allears-admin: --roles: %s is not one of api, mta, web\n", r);
			return EXIT_USAGE;
		}
		roles[n_roles++] = r;
	}
	int encrypt = encrypt_option(enc);
	if (encrypt < 0)
		return encrypt == -EINVAL ? EXIT_USAGE : 1;
	size_t clen = 0, klen = 0;
	uint8_t *chain = read_all(chain_file, TLS_FILE_MAX, &clen);
	uint8_t *key = chain ? read_all(key_file, TLS_FILE_MAX, &klen) : NULL;
	int status = 0;
	if (!chain || !key) {
		fprintf(stderr, "allears-admin: cannot read %s: %s\n", chain ? key_file : chain_file,
		        strerror(errno));
		status = 1;
	} else if (!has_text(chain, clen, "-----BEGIN CERTIFICATE-----") ||
	           !has_text(key, klen, "PRIVATE KEY-----")) {
		fprintf(stderr, "allears-admin: --chain must hold PEM certificates and --key a PEM "
		                "private key\n");
		status = 1;
	}
	if (status == 0) {
		int made = mkdir_p(out);
		if (made < 0) {
			fprintf(stderr, "allears-admin: cannot create %s: %s\n", out, strerror(-made));
			status = 1;
		}
	}
	for (size_t i = 0; status == 0 && i < n_roles; i++) {
		char crt[32], kname[32];
		snprintf(crt, sizeof(crt), "%s.tls.crt", roles[i]);
		snprintf(kname, sizeof(kname), "%s.tls.key", roles[i]);
		int rc = creds_write_public(out, crt, chain, clen);
		if (rc == 0)
			rc = creds_write(out, kname, "tls.key", key, klen, encrypt);
		if (rc < 0) {
			fprintf(stderr, "allears-admin: cannot write the TLS credentials of %s in %s: %s\n",
			        roles[i], out, strerror(-rc));
			status = 1;
		} else {
			printf("%s: %s/%s, %s/%s%s\n", roles[i], out, crt, out, kname,
			       encrypt ? ".cred" : "");
		}
	}
	if (chain)
		sodium_free(chain);
	if (key)
		sodium_free(key);
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
	if (strcmp(argv[1], "credentials") == 0 || strcmp(argv[1], "rekey") == 0)
		return cmd_credentials(argc - 2, argv + 2);
	if (strcmp(argv[1], "tls") == 0)
		return cmd_tls(argc - 2, argv + 2);
	if (strcmp(argv[1], "status") == 0)
		return admin_status_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	if (strcmp(argv[1], "web") == 0)
		return admin_web_main(argc - 2, argv + 2);
	usage(stderr);
	return EXIT_USAGE;
}
