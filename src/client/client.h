/* client.h: what every allears command shares: the home directory and
 * settings, the keys derived from the UMK (kept in sodium_malloc'd memory),
 * the API connection, and error reporting with exit codes. The commands
 * themselves are in cmd_key.c, cmd_account.c and cmd_mail.c. */
#ifndef ALLEARS_CLIENT_CLIENT_H
#define ALLEARS_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/api.h"
#include "client/cli.h"
#include "client/config.h"
#include "client/exitcode.h"
#include "client/mail.h"
#include "client/private.h"
#include "client/render.h"
#include "client/result.h"
#include "client/state.h"
#include "common/keys.h"
#include "common/util.h"

#define CLIENT_PASS_LINES 2 /* passphrases a --passphrase-file may hold */

struct client_keys {
	uint8_t uak[KEYS_KEY_BYTES];
	uint8_t pfk[KEYS_KEY_BYTES];
	struct mail_keys mk; /* ESK, EPK, UFK */
};

struct client {
	const struct cli *cli;
	char home[CONFIG_PATH_MAX];
	char config_path[CONFIG_PATH_MAX];
	char umk_path[CONFIG_PATH_MAX];
	char state_path[CONFIG_PATH_MAX];
	struct config cfg;
	struct client_keys *keys; /* sodium_malloc'd once loaded */
	struct api api;
	bool api_open;
	struct render_opts ro;
	/* passphrases read from --passphrase-file, handed out in order */
	char *pass[CLIENT_PASS_LINES];
	size_t pass_len[CLIENT_PASS_LINES];
	size_t pass_count, pass_next;
	bool pass_loaded;
};

/* Home, config file, environment, flags. Returns 0 or an exit code (after
 * printing the error). */
int client_setup(struct client *cl, const struct cli *cli);
void client_cleanup(struct client *cl);

/* Prints "allears: MESSAGE" on stderr (and {"error": ...} on stdout with
 * --json) and returns code. */
int client_fail(struct client *cl, int code, const char *fmt, ...) PRINTF(3, 4);

/* A passphrase: the next line of --passphrase-file (or
 * $ALLEARS_PASSPHRASE_FILE), else asked on the terminal (twice when
 * confirm). 0 or an exit code; out is NUL-terminated, wiped by the caller. */
int client_passphrase(struct client *cl, const char *question, bool confirm, char *out,
                      size_t cap, size_t *ret_len);

/* Reads and decodes the UMK file (asking for the passphrase if needed).
 * 0 or an exit code. */
int client_load_umk(struct client *cl, uint8_t umk[KEYS_UMK_BYTES]);
/* Derives cl->keys from the UMK file once. 0 or an exit code. */
int client_keys(struct client *cl);
/* Opens the API (keys first); need_uid: the state must hold a UserID.
 * 0 or an exit code. */
int client_api(struct client *cl, bool need_uid);
/* An API call that must succeed: 0 or an exit code (message printed). */
int client_call(struct client *cl, const char *what, uint8_t cmd, const uint8_t *args,
                size_t args_len, struct api_result *ret);
/* The failure of the last api call as an exit code (message printed). */
int client_api_fail(struct client *cl);

/* Commands: each returns an exit code. */
int cmd_init(struct client *cl);
int cmd_key_import(struct client *cl);
int cmd_key_export(struct client *cl);
int cmd_key_passwd(struct client *cl);
int cmd_register(struct client *cl);
int cmd_whoami(struct client *cl);
int cmd_account_delete(struct client *cl);
int cmd_address(struct client *cl);
int cmd_admin(struct client *cl);
int cmd_mail_list(struct client *cl);
int cmd_mail_read(struct client *cl);
int cmd_mail_rm(struct client *cl);
int cmd_mail_empty(struct client *cl);
int cmd_send(struct client *cl);
int cmd_upload(struct client *cl);
int cmd_download(struct client *cl);
int cmd_debug_post(struct client *cl);

/* Shared by the commands. */
bool client_confirm(struct client *cl, const char *question);
/* Writes all of p to stdout; 0 or an exit code. */
int client_write_stdout(struct client *cl, const void *p, size_t n);

#endif
