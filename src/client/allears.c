/* allears.c: the allears command-line client: parse the command line, set up
 * the home directory and settings, run one command, exit with its status
 * (allears(1)). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "client/cli.h"
#include "client/client.h"

#define ALLEARS_CLIENT_VERSION "0.1"

static int run(struct client *cl)
{
	switch (cl->cli->cmd) {
	case CLI_INIT: return cmd_init(cl);
	case CLI_KEY_IMPORT: return cmd_key_import(cl);
	case CLI_KEY_EXPORT: return cmd_key_export(cl);
	case CLI_KEY_PASSWD: return cmd_key_passwd(cl);
	case CLI_REGISTER: return cmd_register(cl);
	case CLI_WHOAMI: return cmd_whoami(cl);
	case CLI_ACCOUNT_DELETE: return cmd_account_delete(cl);
	case CLI_ADDR_ADD:
	case CLI_ADDR_SHIELD:
	case CLI_ADDR_LIST:
	case CLI_ADDR_RM:
	case CLI_ADDR_FLAGS:
	case CLI_ADDR_NICK: return cmd_address(cl);
	case CLI_MAIL_LIST: return cmd_mail_list(cl);
	case CLI_MAIL_READ: return cmd_mail_read(cl);
	case CLI_MAIL_RM: return cmd_mail_rm(cl);
	case CLI_MAIL_EMPTY: return cmd_mail_empty(cl);
	case CLI_SEND: return cmd_send(cl);
	case CLI_UPLOAD: return cmd_upload(cl);
	case CLI_DOWNLOAD: return cmd_download(cl);
	case CLI_ADMIN_INVITE:
	case CLI_ADMIN_USERS:
	case CLI_ADMIN_LEVEL:
	case CLI_ADMIN_LIMITS:
	case CLI_ADMIN_RM: return cmd_admin(cl);
	case CLI_DEBUG_POST: return cmd_debug_post(cl);
	default: return client_fail(cl, CLIENT_EXIT_USAGE, "unknown command");
	}
}

int main(int argc, char **argv)
{
	struct cli cli;
	if (cli_parse(&cli, argc, argv) != 0) {
		fprintf(stderr, "allears: %s\n", cli.err);
		return CLIENT_EXIT_USAGE;
	}
	if (cli.cmd == CLI_HELP) {
		if (cli.nargs) {
			struct cli sub;
			char *words[4] = { argv[0], (char *)cli.arg[0], (char *)cli.arg[1], NULL };
			if (cli_parse(&sub, cli.nargs > 1 && cli.arg[1] ? 3 : 2, words) == 0 ||
			    sub.cmd != CLI_NONE) {
				printf("usage: allears %s\n", cli_usage(sub.cmd));
				return 0;
			}
		}
		cli_help(stdout);
		return 0;
	}
	if (cli.cmd == CLI_VERSION) {
		printf("allears %s\n", ALLEARS_CLIENT_VERSION);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "allears: libsodium cannot start\n");
		return CLIENT_EXIT_ERROR;
	}
	struct client cl;
	int rc = client_setup(&cl, &cli);
	if (rc == 0)
		rc = run(&cl);
	client_cleanup(&cl);
	return rc;
}
