/* cmd_key.c: the UMK commands: init, key import, key export, key passwd. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/json.h"
#include "client/keyfile.h"
#include "client/prompt.h"
#include "common/userid.h"

/* Encodes umk (protected when cl->cli->passphrase or want_pass) and writes
 * it. 0 or an exit code. */
static int save_umk(struct client *cl, const uint8_t umk[KEYS_UMK_BYTES], bool protect,
                    bool replace)
{
	char err[CONFIG_ERR_MAX];
	if (config_mkdir(cl->home, err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	char pass[KEYFILE_PASS_MAX + 2];
	size_t pl = 0;
	int rc;
	if (protect) {
		rc = client_passphrase(cl, "New passphrase for your key: ", true, pass, sizeof(pass),
		                       &pl);
		if (rc != 0)
			return rc;
	}
	uint8_t file[KEYFILE_MAX_BYTES];
	size_t len;
	rc = keyfile_encode(file, &len, umk, protect ? pass : NULL, pl, NULL);
	sodium_memzero(pass, sizeof(pass));
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot protect the key (%s)", strerror(-rc));
	rc = keyfile_write(cl->umk_path, file, len, replace, err, sizeof(err));
	sodium_memzero(file, sizeof(file));
	if (rc == -EEXIST)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "a key already exists at %s; --force replaces it (the old key is lost "
		                   "unless you have its backup)",
		                   cl->umk_path);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	return 0;
}

static bool umk_exists(struct client *cl) { return access(cl->umk_path, F_OK) == 0; }

int cmd_init(struct client *cl)
{
	if (umk_exists(cl) && !cl->cli->force)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "a key already exists at %s; --force replaces it (the old key is lost "
		                   "unless you have its backup)",
		                   cl->umk_path);
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	if (!umk)
		fatal("sodium_malloc");
	keys_umk_generate(umk);
	int rc = save_umk(cl, umk, cl->cli->passphrase, cl->cli->force);
	if (rc == 0) {
		char text[KEYS_UMK_TEXT_LEN + 1];
		keys_umk_to_text(text, umk);
		if (cl->cli->json) {
			rc = json_emit(json_pack("{s:s, s:s}", "umk", text, "file", cl->umk_path)) ? 1 : 0;
		} else {
			fputs("Your User Master Key. Write it down and keep it somewhere safe: it is shown\n"
			      "only this once, and without it nobody (not even the server's admin) can\n"
			      "read your mail or restore your account.\n\n",
			      stderr);
			printf("%s\n", text);
			fflush(stdout);
			fprintf(stderr, "\nSaved in %s%s.\n", cl->umk_path,
			        cl->cli->passphrase ? ", protected by your passphrase" : "");
		}
		sodium_memzero(text, sizeof(text));
	}
	sodium_free(umk);
	return rc;
}

static void trim(char *s, size_t *n)
{
	size_t a = 0, b = *n;
	while (a < b && (s[a] == ' ' || s[a] == '\t'))
		a++;
	while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
		b--;
	memmove(s, s + a, b - a);
	s[b - a] = '\0';
	*n = b - a;
}

int cmd_key_import(struct client *cl)
{
	if (umk_exists(cl) && !cl->cli->force)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "a key already exists at %s; --force replaces it", cl->umk_path);
	char text[PROMPT_LINE_MAX];
	size_t n = 0;
	int rc;
	const char *arg = cl->cli->nargs ? cl->cli->arg[0] : NULL;
	if (arg && strcmp(arg, "-") != 0) {
		n = strlen(arg);
		if (n >= sizeof(text))
			return client_fail(cl, CLIENT_EXIT_USAGE, "the key text is 60 characters");
		memcpy(text, arg, n + 1);
	} else if (!arg && isatty(STDIN_FILENO)) {
		rc = prompt_secret_tty("Your User Master Key (60 characters): ", text, sizeof(text), &n);
		if (rc != 0)
			return client_fail(cl, CLIENT_EXIT_ERROR, "no key given");
	} else {
		rc = prompt_read_line(stdin, text, sizeof(text), &n);
		if (rc != 0)
			return client_fail(cl, CLIENT_EXIT_USAGE, "no key text on stdin");
	}
	trim(text, &n);
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	if (!umk)
		fatal("sodium_malloc");
	rc = keys_umk_from_text(umk, text, n);
	sodium_memzero(text, sizeof(text));
	if (rc != 0) {
		sodium_free(umk);
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "that is not a User Master Key (60 characters of A-Z a-z 0-9 + /)");
	}
	rc = save_umk(cl, umk, cl->cli->passphrase, cl->cli->force);
	sodium_free(umk);
	if (rc != 0)
		return rc;
	char err[CONFIG_ERR_MAX];
	if (cl->cli->has_uid && state_set_uid(cl->state_path, true, cl->cli->uid, err, sizeof(err)))
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	if (cl->cli->json)
		return json_emit(json_pack("{s:s}", "file", cl->umk_path)) ? 1 : 0;
	fprintf(stderr, "Key saved in %s.\n", cl->umk_path);
	return 0;
}

int cmd_key_export(struct client *cl)
{
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	if (!umk)
		fatal("sodium_malloc");
	int rc = client_load_umk(cl, umk);
	if (rc == 0) {
		char text[KEYS_UMK_TEXT_LEN + 1];
		keys_umk_to_text(text, umk);
		if (cl->cli->json)
			rc = json_emit(json_pack("{s:s}", "umk", text)) ? 1 : 0;
		else
			printf("%s\n", text);
		sodium_memzero(text, sizeof(text));
	}
	sodium_free(umk);
	return rc;
}

int cmd_key_passwd(struct client *cl)
{
	uint8_t *umk = sodium_malloc(KEYS_UMK_BYTES);
	if (!umk)
		fatal("sodium_malloc");
	int rc = client_load_umk(cl, umk);
	if (rc == 0)
		rc = save_umk(cl, umk, !cl->cli->remove, true);
	sodium_free(umk);
	if (rc == 0 && !cl->cli->json)
		fprintf(stderr, "%s\n", cl->cli->remove ? "The key file has no passphrase now."
		                                        : "Passphrase set.");
	return rc;
}

int cmd_register(struct client *cl)
{
	char err[CONFIG_ERR_MAX];
	struct state st;
	if (state_load(cl->state_path, &st, err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s", err);
	if (st.has_uid && !cl->cli->force) {
		char name[USERID_NAME_LEN + 1];
		userid_to_name(st.uid, name);
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "already registered as %s (UserID %u); --force registers again",
		                   name, (unsigned)st.uid);
	}
	const char *t = cl->cli->arg[0];
	uint8_t invite[APIREQ_INVITE_BYTES];
	if (apireq_invite_from_text(invite, t, strlen(t)) != 0)
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "that is not an invitation (43 characters of A-Z a-z 0-9 - _)");
	int rc = client_api(cl, false);
	if (rc != 0)
		return rc;
	uint16_t uid;
	uint8_t level;
	uint16_t wanted = cl->cli->has_uid ? cl->cli->uid : APIREQ_UID_REGISTER;
	rc = api_register(&cl->api, invite, wanted, cl->keys->uak, cl->keys->mk.epk, &uid, &level);
	sodium_memzero(invite, sizeof(invite));
	if (rc != 0)
		return client_api_fail(cl);
	if (state_set_uid(cl->state_path, true, uid, err, sizeof(err)) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "registered as UserID %u, but %s",
		                   (unsigned)uid, err);
	char name[USERID_NAME_LEN + 1];
	userid_to_name(uid, name);
	if (cl->cli->json)
		return json_emit(json_pack("{s:i, s:s, s:i}", "uid", (int)uid, "user", name, "level",
		                           (int)level))
		           ? 1
		           : 0;
	printf("registered as %s (UserID %u), level %u\n", name, (unsigned)uid, (unsigned)level);
	return 0;
}
