/* test_client_cli.c: the allears command line (src/client/cli.c): every
 * subcommand parses with its arguments and options, and every kind of
 * usage error is refused with a message saying what is wrong (allears
 * exits 2 for these). */
#include <errno.h>

#include "check.h"
#include "client/cli.h"

#define ARGV_MAX 40

/* Splits s at spaces ("_" stands for an empty argument) and parses it. */
static int parse(struct cli *c, const char *s)
{
	static char buf[1024];
	char *argv[ARGV_MAX];
	int argc = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	argv[argc++] = "allears";
	for (char *t = strtok(buf, " "); t && argc < ARGV_MAX; t = strtok(NULL, " "))
		argv[argc++] = strcmp(t, "_") == 0 ? "" : t;
	return cli_parse(c, argc, argv);
}

static void ok(const char *s, enum cli_cmd want)
{
	struct cli c;
	int rc = parse(&c, s);
	if (rc != 0 || c.cmd != want) {
		fprintf(stderr, "  '%s': rc %d cmd %d err '%s'\n", s, rc, c.cmd, c.err);
		CHECK(0);
	}
}

static void bad(const char *s, const char *want)
{
	struct cli c;
	int rc = parse(&c, s);
	if (rc != -EINVAL || !strstr(c.err, want)) {
		fprintf(stderr, "  '%s': rc %d err '%s' (want '%s')\n", s, rc, c.err, want);
		CHECK(0);
	}
}

static void every_command(void)
{
	ok("init", CLI_INIT);
	ok("init --passphrase --force", CLI_INIT);
	ok("key import", CLI_KEY_IMPORT);
	ok("key import - --uid dcb", CLI_KEY_IMPORT);
	ok("key export", CLI_KEY_EXPORT);
	ok("key passwd --remove", CLI_KEY_PASSWD);
	ok("register oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8", CLI_REGISTER);
	ok("whoami", CLI_WHOAMI);
	ok("account delete --yes", CLI_ACCOUNT_DELETE);
	ok("address add alice --nick work", CLI_ADDR_ADD);
	ok("address shield", CLI_ADDR_SHIELD);
	ok("address list", CLI_ADDR_LIST);
	ok("address rm alice", CLI_ADDR_RM);
	ok("address flags alice +accept-internal -keep-original", CLI_ADDR_FLAGS);
	ok("address nick alice", CLI_ADDR_NICK);
	ok("address nick alice work", CLI_ADDR_NICK);
	ok("mail list", CLI_MAIL_LIST);
	ok("mail list --limit 5 --oldest", CLI_MAIL_LIST);
	ok("mail read 12", CLI_MAIL_READ);
	ok("mail rm 4294967295", CLI_MAIL_RM);
	ok("mail empty -y", CLI_MAIL_EMPTY);
	ok("send alice bob Hello", CLI_SEND);
	ok("send alice bob Hello -", CLI_SEND);
	ok("send alice bob Hello body", CLI_SEND);
	ok("upload file.txt --name=x.txt", CLI_UPLOAD);
	ok("download 3 -o - --force", CLI_DOWNLOAD);
	ok("admin invite --level 3 --days 30", CLI_ADMIN_INVITE);
	ok("admin users", CLI_ADMIN_USERS);
	ok("admin level dcb 2", CLI_ADMIN_LEVEL);
	ok("admin limits 0 1024 3 10", CLI_ADMIN_LIMITS);
	ok("admin rm 5 --yes", CLI_ADMIN_RM);
	ok("debug-post /v1/x body /v1/y body2", CLI_DEBUG_POST);
	ok("help", CLI_HELP);
	ok("--help", CLI_HELP);
	ok("mail read --help", CLI_HELP);
	ok("version", CLI_VERSION);
}

static void values(void)
{
	struct cli c;
	CHECK(parse(&c, "--server h.example --port 8302 --ca ca.pem --config cfg --timeout 5 "
	                "--json --passphrase-file pf whoami") == 0);
	CHECK(c.cmd == CLI_WHOAMI && !strcmp(c.server, "h.example") && !strcmp(c.port, "8302") &&
	      !strcmp(c.ca, "ca.pem") && !strcmp(c.config, "cfg") && !strcmp(c.timeout, "5") &&
	      c.json && !strcmp(c.passphrase_file, "pf"));
	/* Global options after the command, with '=' too. */
	CHECK(parse(&c, "whoami --server=h2 --json") == 0 && !strcmp(c.server, "h2") && c.json);
	CHECK(parse(&c, "register inv --uid dcb") == 0 && c.has_uid && c.uid == 291);
	CHECK(parse(&c, "register inv --uid 4095") == 0 && c.uid == 4095);
	CHECK(parse(&c, "address flags alice +accept-internal -keep-original +require-tls") == 0);
	CHECK(c.flags_set == (CLI_FLAG_ACCEPT_INTERNAL | CLI_FLAG_REQUIRE_TLS));
	CHECK(c.flags_clear == CLI_FLAG_KEEP_ORIGINAL && c.nargs == 4);
	CHECK(parse(&c, "mail read 12") == 0 && c.id == 12);
	CHECK(parse(&c, "mail list -n 7") == 0 && c.limit == 7 && !c.oldest);
	CHECK(parse(&c, "admin invite") == 0 && c.level == 0 && c.days == CLI_INVITE_DAYS_DEFAULT);
	CHECK(parse(&c, "admin level ppp 3") == 0 && c.uid == 4095 && c.level == 3);
	CHECK(parse(&c, "admin limits 3 1048576 31 0") == 0);
	CHECK(c.level == 3 && c.mib == 1048576 && c.max_normal == 31 && c.max_shield == 0);
	CHECK(parse(&c, "download 9 --output out.bin") == 0 && c.id == 9 && !strcmp(c.output, "out.bin"));
	/* "--" ends options: a subject or body may start with '-'. */
	CHECK(parse(&c, "send alice bob -- --subject -body") == 0);
	CHECK(c.nargs == 4 && !strcmp(c.arg[2], "--subject") && !strcmp(c.arg[3], "-body"));
	CHECK(parse(&c, "send alice bob _") == 0 && c.nargs == 3 && c.arg[2][0] == 0);
	CHECK(parse(&c, "help mail read") == 0 && c.nargs == 2);
	/* Invitations may start with '-' or "--" (base64url). */
	CHECK(parse(&c, "register -8frcjBC4vnMSv5hwoR2jfVt8nEPxYBGqt6RkzdSAZs --uid 5") == 0);
	CHECK(c.cmd == CLI_REGISTER && c.nargs == 1 && c.arg[0][0] == '-' && c.uid == 5);
	CHECK(parse(&c, "register --frcjBC4vnMSv5hwoR2jfVt8nEPxYBGqt6RkzdSAZs") == 0);
	CHECK(c.nargs == 1 && !strcmp(c.arg[0], "--frcjBC4vnMSv5hwoR2jfVt8nEPxYBGqt6RkzdSAZs"));
	CHECK(parse(&c, "--json register -x") == 0 && c.json && !strcmp(c.arg[0], "-x"));
}

static void usage_errors(void)
{
	bad("", "no command given");
	bad("frobnicate", "unknown command 'frobnicate'");
	bad("mail", "'mail' needs a subcommand");
	bad("mail open 1", "'mail' needs a subcommand, not open");
	bad("address", "needs a subcommand");
	bad("whoami extra", "too many arguments (usage: allears whoami)");
	bad("mail read", "missing arguments (usage: allears mail read ID)");
	bad("mail read 0", "ID must be a message number");
	bad("mail read 4294967296", "ID must be a message number");
	bad("mail read 12x", "ID must be a message number");
	bad("mail rm -3", "unknown option '-3'");
	bad("send alice bob", "missing arguments (usage: allears send FROM TO SUBJECT [BODY|-])");
	bad("send a b c d e", "too many arguments");
	bad("register", "missing arguments");
	bad("register inv --uid 4096", "--uid wants a UserID");
	bad("register inv --uid qqq", "--uid wants a UserID");
	bad("register inv --uid", "--uid needs a value");
	bad("whoami --port 0", "--port wants a number 1-65535");
	bad("whoami --port 65536", "--port wants");
	bad("whoami --timeout 0", "--timeout wants");
	bad("whoami --frob", "unknown option '--frob'");
	bad("whoami --json=yes", "--json takes no value");
	bad("whoami --json --json", "--json is given twice");
	bad("whoami -x", "unknown option '-x'");
	bad("whoami --nick x", "--nick does not apply here");
	bad("init --yes", "--yes does not apply here");
	bad("mail list --limit 0", "--limit wants");
	bad("mail list --limit many", "--limit wants");
	bad("address flags alice", "missing arguments");
	bad("address flags alice accept-internal", "is not +FLAG or -FLAG");
	bad("address flags alice +colour", "is not +FLAG or -FLAG");
	bad("address flags alice +attachments -attachments", "given twice");
	bad("admin invite --level 4", "--level wants 0-3");
	bad("admin invite --days 31", "--days wants 1-30");
	bad("admin invite --days 0", "--days wants 1-30");
	bad("admin level dcb 4", "LEVEL must be 0-3");
	bad("admin level 4096 1", "UID must be 0-4095");
	bad("admin limits 0 1048577 3 10", "MIB must be");
	bad("admin limits 0 1 32 10", "NORMAL must be 0-31");
	bad("admin limits 0 1 3 32", "SHIELD must be 0-31");
	bad("admin limits 4 1 3 3", "LEVEL must be 0-3");
	bad("admin rm xyz", "UID must be");
	bad("download 1 -o", "--output needs a value");
	bad("debug-post /v1/x", "missing arguments");
	bad("debug-post /a b /c", "PATH BODYFILE pairs");
}

int main(void)
{
	check_init();
	RUN(every_command);
	RUN(values);
	RUN(usage_errors);
	return check_finish();
}
