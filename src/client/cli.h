/* cli.h: the allears command line: global flags, subcommands, their options
 * and arguments, parsed strictly into one struct (the man page allears(1)
 * describes the same grammar). Parsing does no I/O, so every usage error is
 * found before anything happens, and tests can check each one. */
#ifndef ALLEARS_CLIENT_CLI_H
#define ALLEARS_CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"

#define CLI_PAIRS_MAX 16      /* debug-post: PATH BODYFILE pairs */
#define CLI_ARGS_MAX (2 * CLI_PAIRS_MAX) /* positional arguments after the command words */
#define CLI_ERR_MAX 512
#define CLI_INVITE_DAYS_DEFAULT 7
#define CLI_INVITE_DAYS_MAX 30

enum cli_cmd {
	CLI_NONE = 0,
	CLI_HELP,
	CLI_VERSION,
	CLI_INIT,
	CLI_KEY_IMPORT,
	CLI_KEY_EXPORT,
	CLI_KEY_PASSWD,
	CLI_REGISTER,
	CLI_WHOAMI,
	CLI_ACCOUNT_DELETE,
	CLI_ADDR_ADD,
	CLI_ADDR_SHIELD,
	CLI_ADDR_LIST,
	CLI_ADDR_RM,
	CLI_ADDR_FLAGS,
	CLI_ADDR_NICK,
	CLI_MAIL_LIST,
	CLI_MAIL_READ,
	CLI_MAIL_RM,
	CLI_MAIL_EMPTY,
	CLI_SEND,
	CLI_UPLOAD,
	CLI_DOWNLOAD,
	CLI_ADMIN_INVITE,
	CLI_ADMIN_USERS,
	CLI_ADMIN_LEVEL,
	CLI_ADMIN_LIMITS,
	CLI_ADMIN_RM,
	CLI_DEBUG_POST,
	CLI_CMD_COUNT,
};

/* Address flags by name (section 8.6 bits), for `address flags`. */
#define CLI_FLAG_ACCEPT_INTERNAL 0x01
#define CLI_FLAG_ACCEPT_EXTERNAL 0x02
#define CLI_FLAG_ALL_VERSIONS 0x04
#define CLI_FLAG_ATTACHMENTS 0x08
#define CLI_FLAG_REQUIRE_TLS 0x10
#define CLI_FLAG_KEEP_ORIGINAL 0x20

struct cli {
	enum cli_cmd cmd;
	/* global */
	const char *server, *ca, *config, *passphrase_file, *port, *timeout;
	bool json;
	/* per command */
	const char *arg[CLI_ARGS_MAX]; /* positional arguments, in order */
	size_t nargs;
	bool passphrase, force, yes, remove, oldest;
	bool has_uid;
	uint16_t uid;        /* register --uid; admin level/rm UID */
	uint8_t level;       /* admin invite --level (default 0); admin level N; admin limits LEVEL */
	uint32_t days;       /* admin invite --days */
	uint32_t id;         /* mail read/rm, download */
	uint32_t limit;      /* mail list --limit (0 = all) */
	const char *nick, *name, *output;
	uint8_t flags_set, flags_clear; /* address flags */
	uint32_t mib;        /* admin limits */
	uint8_t max_normal, max_shield;
	char err[CLI_ERR_MAX]; /* the usage error, when cli_parse fails */
};

/* Parses argv. 0, or -EINVAL with cli->err set ("COMMAND: what is wrong").
 * Nothing is read or written. */
int cli_parse(struct cli *ret, int argc, char *const *argv) WUR;

/* "allears address add NAME [--nick TEXT]" for a command. */
const char *cli_usage(enum cli_cmd c);
/* The full help text. */
void cli_help(FILE *f);

/* Address flag names: the bit for a name, 0 if unknown; and the name of a bit. */
uint8_t cli_flag_bit(const char *name);
const char *cli_flag_name(uint8_t bit);

#endif
