/* client.c: setup, keys, passphrases, the API connection and errors shared
 * by every command. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "client/client.h"
#include "client/fileio.h"
#include "client/json.h"
#include "client/keyfile.h"
#include "client/prompt.h"
#include "common/cet.h"

int client_fail(struct client *cl, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "allears: %s\n", msg);
	if (cl && cl->cli && cl->cli->json)
		(void)json_emit(json_pack("{s:s, s:i}", "error", msg, "exit", code));
	return code;
}

int client_setup(struct client *cl, const struct cli *cli)
{
	char err[CONFIG_ERR_MAX];
	memset(cl, 0, sizeof(*cl));
	cl->cli = cli;
	config_defaults(&cl->cfg);
	if (config_home(cl->home, sizeof(cl->home), err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	if (config_path(cl->umk_path, sizeof(cl->umk_path), cl->home, CONFIG_UMK_NAME) != 0 ||
	    config_path(cl->state_path, sizeof(cl->state_path), cl->home, CONFIG_STATE_NAME) != 0 ||
	    config_path(cl->config_path, sizeof(cl->config_path), cl->home, CONFIG_NAME) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "home directory name too long");
	bool explicit_config = cli->config != NULL;
	if (explicit_config)
		snprintf(cl->config_path, sizeof(cl->config_path), "%s", cli->config);
	int rc = config_load(&cl->cfg, cl->config_path, explicit_config, err, sizeof(err));
	if (rc != 0 && rc != -ENOENT)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	if (config_from_env(&cl->cfg, err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_USAGE, "%s", err);
	const struct {
		const char *key, *value;
	} flags[] = { { "server", cli->server },
		          { "port", cli->port },
		          { "ca", cli->ca },
		          { "timeout", cli->timeout } };
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		if (!flags[i].value)
			continue;
		if (config_set(&cl->cfg, flags[i].key, flags[i].value, NULL, err, sizeof(err)) != 0)
			return client_fail(cl, CLIENT_EXIT_USAGE, "--%s: %s", flags[i].key, err);
	}
	const char *nc = getenv("NO_COLOR");
	cl->ro.ansi = isatty(STDOUT_FILENO) && !(nc && *nc) && !cli->json;
	cl->ro.width = 0;
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		cl->ro.width = ws.ws_col > CET_WIDTH_DEFAULT ? CET_WIDTH_DEFAULT : ws.ws_col;
	return 0;
}

void client_cleanup(struct client *cl)
{
	if (cl->api_open)
		api_close(&cl->api);
	if (cl->keys)
		sodium_free(cl->keys);
	for (size_t i = 0; i < cl->pass_count; i++) {
		sodium_memzero(cl->pass[i], cl->pass_len[i] + 1);
		free(cl->pass[i]);
	}
	memset(cl, 0, sizeof(*cl));
}

static int load_pass_file(struct client *cl)
{
	if (cl->pass_loaded)
		return 0;
	cl->pass_loaded = true;
	const char *path = cl->cli->passphrase_file;
	if (!path)
		path = getenv("ALLEARS_PASSPHRASE_FILE");
	if (!path || !*path)
		return 0;
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot open the passphrase file %s: %s",
		                   path, strerror(errno));
	char line[KEYFILE_PASS_MAX + 2];
	size_t n;
	int rc = 0;
	while (cl->pass_count < CLIENT_PASS_LINES &&
	       (rc = prompt_read_line(f, line, sizeof(line), &n)) == 0) {
		cl->pass[cl->pass_count] = xmalloc(n + 1);
		memcpy(cl->pass[cl->pass_count], line, n + 1);
		cl->pass_len[cl->pass_count++] = n;
	}
	sodium_memzero(line, sizeof(line));
	if (f != stdin)
		fclose(f);
	if (rc == -E2BIG || rc == -EINVAL)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "the passphrase file %s has a line that is too long or holds NUL",
		                   path);
	if (cl->pass_count == 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "the passphrase file %s is empty", path);
	return 0;
}

int client_passphrase(struct client *cl, const char *question, bool confirm, char *out,
                      size_t cap, size_t *ret_len)
{
	int rc = load_pass_file(cl);
	if (rc != 0)
		return rc;
	if (cl->pass_count) {
		if (cl->pass_next >= cl->pass_count)
			return client_fail(cl, CLIENT_EXIT_ERROR,
			                   "the passphrase file has no line for: %s", question);
		size_t i = cl->pass_next++;
		if (cl->pass_len[i] + 1 > cap)
			return client_fail(cl, CLIENT_EXIT_ERROR, "passphrase too long");
		memcpy(out, cl->pass[i], cl->pass_len[i] + 1);
		*ret_len = cl->pass_len[i];
	} else {
		rc = prompt_secret_tty(question, out, cap, ret_len);
		if (rc == -ENOTTY)
			return client_fail(cl, CLIENT_EXIT_USAGE,
			                   "a passphrase is needed and there is no terminal: give "
			                   "--passphrase-file FILE (or - for stdin)");
		if (rc != 0)
			return client_fail(cl, CLIENT_EXIT_ERROR, "no passphrase given");
		if (confirm) {
			char again[KEYFILE_PASS_MAX + 2];
			size_t n2;
			rc = prompt_secret_tty("Again: ", again, sizeof(again), &n2);
			bool same = rc == 0 && n2 == *ret_len && sodium_memcmp(again, out, n2) == 0;
			sodium_memzero(again, sizeof(again));
			if (!same)
				return client_fail(cl, CLIENT_EXIT_ERROR, "the passphrases differ");
		}
	}
	if (*ret_len == 0 || *ret_len > KEYFILE_PASS_MAX)
		return client_fail(cl, CLIENT_EXIT_ERROR, "a passphrase has 1-%d bytes",
		                   KEYFILE_PASS_MAX);
	return 0;
}

int client_load_umk(struct client *cl, uint8_t umk[KEYS_UMK_BYTES])
{
	uint8_t buf[KEYFILE_MAX_BYTES + 1];
	size_t len;
	char err[CONFIG_ERR_MAX];
	int rc = keyfile_read(cl->umk_path, buf, &len, err, sizeof(err));
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	int prot = keyfile_protection(buf, len);
	char pass[KEYFILE_PASS_MAX + 2];
	size_t pl = 0;
	if (prot == 1) {
		rc = client_passphrase(cl, "Passphrase of your key: ", false, pass, sizeof(pass), &pl);
		if (rc != 0)
			return rc;
	}
	rc = keyfile_decode(umk, buf, len, prot == 1 ? pass : NULL, pl);
	sodium_memzero(pass, sizeof(pass));
	sodium_memzero(buf, sizeof(buf));
	if (rc == -EACCES)
		return client_fail(cl, CLIENT_EXIT_AUTH,
		                   "wrong passphrase (or the key file %s was changed)", cl->umk_path);
	if (rc == -ENOMEM)
		return client_fail(cl, CLIENT_EXIT_ERROR, "not enough memory for the passphrase hash");
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "the key file %s is damaged; restore it with 'allears key import'",
		                   cl->umk_path);
	return 0;
}

int client_keys(struct client *cl)
{
	if (cl->keys)
		return 0;
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	if (!umk)
		fatal("sodium_malloc");
	int rc = client_load_umk(cl, umk);
	if (rc != 0) {
		sodium_free(umk);
		return rc;
	}
	struct client_keys *k = sodium_malloc(sizeof(*k));
	if (!k)
		fatal("sodium_malloc");
	if (keys_umk_derive(k->uak, USER_KEY_UAK, umk) != 0 ||
	    keys_umk_derive(k->pfk, USER_KEY_PFK, umk) != 0 ||
	    keys_umk_derive(k->mk.ufk, USER_KEY_UFK, umk) != 0 ||
	    keys_envelope_keypair(k->mk.epk, k->mk.esk, umk) != 0) {
		sodium_free(umk);
		sodium_free(k);
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot derive the keys");
	}
	sodium_free(umk);
	cl->keys = k;
	return 0;
}

int client_api(struct client *cl, bool need_uid)
{
	if (cl->api_open)
		return 0;
	int rc = client_keys(cl);
	if (rc != 0)
		return rc;
	struct state st;
	char err[CONFIG_ERR_MAX];
	if (state_load(cl->state_path, &st, err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	if (need_uid && !st.has_uid)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "not registered: run 'allears register INVITATION' (or 'allears key "
		                   "import --uid UID' for an existing account)");
	if (api_init(&cl->api, &cl->cfg, cl->state_path) != 0)
		return client_fail(cl, cl->api.exit_code, "%s", cl->api.err);
	cl->api.uid = st.uid;
	cl->api.uak = cl->keys->uak;
	cl->api_open = true;
	return 0;
}

int client_api_fail(struct client *cl)
{
	return client_fail(cl, cl->api.exit_code ? cl->api.exit_code : CLIENT_EXIT_ERROR, "%s",
	                   cl->api.err);
}

int client_call(struct client *cl, const char *what, uint8_t cmd, const uint8_t *args,
                size_t args_len, struct api_result *ret)
{
	if (api_call_ok(&cl->api, what, cmd, args, args_len, ret) != 0)
		return client_api_fail(cl);
	return 0;
}

bool client_confirm(struct client *cl, const char *question)
{
	if (cl->cli->yes)
		return true;
	return prompt_confirm(question);
}

int client_write_stdout(struct client *cl, const void *p, size_t n)
{
	fflush(stdout);
	int rc = fileio_write_all(STDOUT_FILENO, p, n);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot write to stdout: %s", strerror(-rc));
	return 0;
}
