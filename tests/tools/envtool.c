/* envtool.c: command-line access to the key tree and Envelopes, for the
 * cross-implementation test (tests/cross/test_envelope_cross.py).
 *   envtool size MSGLEN                 envelope length for a message
 *   envtool seal EPKHEX < msg > env     seal with a fresh ephemeral key
 *   envtool seal-eph EPKHEX EPHSKHEX    seal with a chosen ephemeral key (tests)
 *   envtool open ESKHEX < env > msg     open (EPK is derived from ESK)
 *   envtool keys UMK                    user keys; UMK as 60 base64 or 90 hex chars
 *   envtool smk SMKHEX                  server keys, pair keys, bundles, file names
 *   envtool parse-smk TEXT | parse-umk TEXT   strict text parsers; hex on success
 * Exit status: 0 ok, 1 usage or I/O, 2 -EINVAL, 3 -EBADMSG. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "common/keys.h"

static int usage(void)
{
	fprintf(stderr, "usage: envtool size|seal|seal-eph|open|keys|smk|parse-smk|parse-umk ...\n");
	return 1;
}

static int status_of(int rc)
{
	if (rc == -EINVAL)
		return 2;
	if (rc == -EBADMSG)
		return 3;
	return rc == 0 ? 0 : 1;
}

static int unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t bin_len = 0;
	const char *end = NULL;
	if (strlen(hex) != 2 * n ||
	    sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, &end) != 0 || bin_len != n)
		return -1;
	return 0;
}

/* Hex of a key (at most 64 bytes) in a static buffer. */
static const char *hex(const uint8_t *p, size_t n)
{
	static char buf[2 * 64 + 1];
	if (n > 64)
		n = 64;
	return sodium_bin2hex(buf, sizeof(buf), p, n);
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	printf("%s %s\n", label, hex(p, n));
}

/* Reads all of stdin, at most max bytes; NULL if there is more or on error. */
static uint8_t *read_stdin(size_t max, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *p = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(p);
				return NULL;
			}
			cap *= 2;
			p = xrealloc(p, cap);
		}
		size_t n = fread(p + len, 1, cap - len, stdin);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(stdin) || len > max) {
		free(p);
		return NULL;
	}
	*ret_len = len;
	return p;
}

static int write_stdout(const uint8_t *p, size_t n)
{
	return (fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0) ? 0 : 1;
}

static int cmd_seal(int argc, char **argv)
{
	uint8_t epk[ENVELOPE_KEY_BYTES], eph[ENVELOPE_KEY_BYTES];
	bool fixed = strcmp(argv[1], "seal-eph") == 0;
	if (argc != (fixed ? 4 : 3) || unhex(epk, sizeof(epk), argv[2]) != 0 ||
	    (fixed && unhex(eph, sizeof(eph), argv[3]) != 0))
		return usage();
	size_t msg_len = 0;
	uint8_t *msg = read_stdin(ENVELOPE_MAX_MSG + 1, &msg_len);
	if (!msg)
		return 1;
	size_t len = envelope_size_for(msg_len);
	uint8_t *env = xmalloc(len ? len : 1);
	int rc = fixed ? envelope_seal_with_ephemeral(env, len, msg, msg_len, epk, eph)
	               : envelope_seal(env, len, msg, msg_len, epk);
	int st = rc == 0 ? write_stdout(env, len) : status_of(rc);
	free(msg);
	free(env);
	return st;
}

static int cmd_open(int argc, char **argv)
{
	uint8_t esk[ENVELOPE_KEY_BYTES], epk[ENVELOPE_KEY_BYTES];
	if (argc != 3 || unhex(esk, sizeof(esk), argv[2]) != 0)
		return usage();
	if (crypto_scalarmult_base(epk, esk) != 0)
		return 2;
	size_t env_len = 0, msg_len = 0;
	uint8_t *env = read_stdin(ENVELOPE_MAX_BYTES + 1, &env_len);
	if (!env)
		return 1;
	uint8_t *msg = xmalloc(env_len + 1);
	int rc = envelope_open(msg, env_len, &msg_len, env, env_len, esk, epk);
	int st = rc == 0 ? write_stdout(msg, msg_len) : status_of(rc);
	if (rc != 0)
		fprintf(stderr, "envtool: open: %s\n", strerror(-rc));
	sodium_memzero(esk, sizeof(esk));
	free(msg);
	free(env);
	return st;
}

static int cmd_keys(int argc, char **argv)
{
	uint8_t umk[KEYS_UMK_BYTES], k[KEYS_KEY_BYTES], epk[KEYS_KEY_BYTES];
	char text[KEYS_UMK_TEXT_LEN + 1];
	static const struct {
		const char *name;
		enum user_key which;
	} names[] = { { "uak", USER_KEY_UAK }, { "esk", USER_KEY_ESK }, { "pfk", USER_KEY_PFK },
		          { "ufk", USER_KEY_UFK } };
	if (argc != 3)
		return usage();
	if (strlen(argv[2]) == 2 * KEYS_UMK_BYTES) {
		if (unhex(umk, sizeof(umk), argv[2]) != 0)
			return 2;
	} else if (keys_umk_from_text(umk, argv[2], strlen(argv[2])) != 0) {
		return 2;
	}
	keys_umk_to_text(text, umk);
	printf("umk_text %s\n", text);
	keys_umk_root(k, umk);
	print_hex("root_umk", k, sizeof(k));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (keys_umk_derive(k, names[i].which, umk) != 0)
			return 1;
		print_hex(names[i].name, k, sizeof(k));
	}
	if (keys_envelope_keypair(epk, k, umk) != 0)
		return 1;
	print_hex("epk", epk, sizeof(epk));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(umk, sizeof(umk));
	return 0;
}

static void item_label(char *out, size_t cap, const struct keys_item *it)
{
	if (it->which == SERVER_KEY_CHANNEL)
		snprintf(out, cap, "channel_:%d:%d", (int)it->client, (int)it->server);
	else
		snprintf(out, cap, "%s:%llu", keys_server_key_ctx(it->which),
		         (unsigned long long)keys_server_key_id(it->which));
}

static int cmd_smk(int argc, char **argv)
{
	uint8_t smk[KEYS_SMK_BYTES], k[KEYS_KEY_BYTES];
	char text[KEYS_SMK_TEXT_LEN + 1], perm[KEYS_FILENAME_CHARS + 1];
	char label[96];
	if (argc != 3)
		return usage();
	if (keys_smk_from_text(smk, argv[2], strlen(argv[2])) != 0)
		return 2;
	keys_smk_to_text(text, smk);
	printf("smk_text %s\n", text);
	keys_smk_root(k, smk);
	print_hex("root_smk", k, sizeof(k));
	for (int w = 0; w < SERVER_KEY_CHANNEL; w++) {
		size_t len = keys_server_key_len((enum server_key)w);
		if (keys_smk_derive(k, len, (enum server_key)w, smk) != 0)
			return 1;
		printf("key %s %llu %zu %s\n", keys_server_key_ctx((enum server_key)w),
		       (unsigned long long)keys_server_key_id((enum server_key)w), len, hex(k, len));
	}
	for (int c = 1; c <= ROLE_MAX; c++) {
		for (int s = 1; s <= ROLE_MAX; s++) {
			if (keys_channel_pair(k, c, s, smk) != 0)
				continue;
			printf("pair %d %d %s\n", c, s, hex(k, sizeof(k)));
		}
	}
	if (keys_smk_derive(k, sizeof(k), SERVER_KEY_STO_NAME, smk) != 0)
		return 1;
	keys_filename_perm(perm, k);
	perm[KEYS_FILENAME_CHARS] = '\0';
	printf("perm %s\n", perm);
	for (int r = 1; r <= ROLE_MAX; r++) {
		struct keys_item items[KEYS_BUNDLE_MAX];
		int n = keys_role_bundle(items, r);
		if (n < 0)
			return 1;
		printf("bundle %s", role_name(r));
		for (int i = 0; i < n; i++) {
			item_label(label, sizeof(label), &items[i]);
			printf(" %s", label);
		}
		printf("\n");
	}
	sodium_memzero(k, sizeof(k));
	sodium_memzero(smk, sizeof(smk));
	sodium_memzero(perm, sizeof(perm));
	return 0;
}

static int cmd_parse(int argc, char **argv)
{
	uint8_t buf[KEYS_SMK_BYTES];
	bool smk = strcmp(argv[1], "parse-smk") == 0;
	if (argc != 3)
		return usage();
	int rc = smk ? keys_smk_from_text(buf, argv[2], strlen(argv[2]))
	             : keys_umk_from_text(buf, argv[2], strlen(argv[2]));
	if (rc != 0)
		return status_of(rc);
	print_hex(smk ? "smk" : "umk", buf, smk ? KEYS_SMK_BYTES : KEYS_UMK_BYTES);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (strcmp(cmd, "size") == 0 && argc == 3) {
		char *end = NULL;
		errno = 0;
		unsigned long long n = strtoull(argv[2], &end, 10);
		if (errno != 0 || *end != '\0' || argv[2][0] == '\0' || argv[2][0] == '-')
			return usage();
		printf("%zu\n", envelope_size_for((size_t)n));
		return 0;
	}
	if (strcmp(cmd, "seal") == 0 || strcmp(cmd, "seal-eph") == 0)
		return cmd_seal(argc, argv);
	if (strcmp(cmd, "open") == 0)
		return cmd_open(argc, argv);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc, argv);
	if (strcmp(cmd, "smk") == 0)
		return cmd_smk(argc, argv);
	if (strcmp(cmd, "parse-smk") == 0 || strcmp(cmd, "parse-umk") == 0)
		return cmd_parse(argc, argv);
	return usage();
}
