/* cli.c: the allears command-line grammar (allears(1)). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "common/userid.h"

enum {
	O_PASSPHRASE = 1u << 0,
	O_FORCE = 1u << 1,
	O_UID = 1u << 2,
	O_NICK = 1u << 3,
	O_LIMIT = 1u << 4,
	O_OLDEST = 1u << 5,
	O_YES = 1u << 6,
	O_NAME = 1u << 7,
	O_OUTPUT = 1u << 8,
	O_LEVEL = 1u << 9,
	O_DAYS = 1u << 10,
	O_REMOVE = 1u << 11,
	O_GLOBAL = 1u << 12,
	O_HELP = 1u << 13,
};

struct opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0 for none */
	bool value;
	unsigned bit;
};

static const struct opt opts[] = {
	{ "server", 0, true, O_GLOBAL },     { "port", 0, true, O_GLOBAL },
	{ "ca", 0, true, O_GLOBAL },         { "config", 0, true, O_GLOBAL },
	{ "timeout", 0, true, O_GLOBAL },    { "json", 0, false, O_GLOBAL },
	{ "passphrase-file", 0, true, O_GLOBAL },
	{ "help", 'h', false, O_HELP },      { "passphrase", 0, false, O_PASSPHRASE },
	{ "force", 'f', false, O_FORCE },    { "uid", 0, true, O_UID },
	{ "nick", 0, true, O_NICK },         { "limit", 'n', true, O_LIMIT },
	{ "oldest", 0, false, O_OLDEST },    { "yes", 'y', false, O_YES },
	{ "name", 0, true, O_NAME },         { "output", 'o', true, O_OUTPUT },
	{ "level", 0, true, O_LEVEL },       { "days", 0, true, O_DAYS },
	{ "remove", 0, false, O_REMOVE },
};

struct spec {
	enum cli_cmd cmd;
	const char *w1, *w2; /* command words (w2 NULL for one-word commands) */
	unsigned min, max;   /* positional arguments */
	unsigned opts;
	const char *usage;   /* after "allears " */
	const char *help;    /* NULL: hidden */
};

static const struct spec specs[] = {
	{ CLI_INIT, "init", NULL, 0, 0, O_PASSPHRASE | O_FORCE, "init [--passphrase] [--force]",
	  "make a new User Master Key, show it once for backup, save it" },
	{ CLI_KEY_IMPORT, "key", "import", 0, 1, O_PASSPHRASE | O_FORCE | O_UID,
	  "key import [UMK|-] [--uid UID] [--passphrase] [--force]",
	  "restore the key from its 60-character text (asked for, or from stdin with -)" },
	{ CLI_KEY_EXPORT, "key", "export", 0, 0, 0, "key export",
	  "print the key's 60-character text (for a backup)" },
	{ CLI_KEY_PASSWD, "key", "passwd", 0, 0, O_REMOVE, "key passwd [--remove]",
	  "set, change or (--remove) remove the key file's passphrase" },
	{ CLI_REGISTER, "register", NULL, 1, 1, O_UID | O_FORCE,
	  "register INVITATION [--uid UID] [--force]", "register with an invitation" },
	{ CLI_WHOAMI, "whoami", NULL, 0, 0, 0, "whoami",
	  "your account: user, level, limits, usage, addresses" },
	{ CLI_ACCOUNT_DELETE, "account", "delete", 0, 0, O_YES, "account delete [--yes]",
	  "delete your account and all your mail" },
	{ CLI_ADDR_ADD, "address", "add", 1, 1, O_NICK, "address add NAME [--nick TEXT]",
	  "register a normal address (hashed locally)" },
	{ CLI_ADDR_SHIELD, "address", "shield", 0, 0, O_NICK, "address shield [--nick TEXT]",
	  "get a new random shield address" },
	{ CLI_ADDR_LIST, "address", "list", 0, 0, 0, "address list",
	  "your addresses with their flags" },
	{ CLI_ADDR_RM, "address", "rm", 1, 1, 0, "address rm ADDRESS", "delete an address" },
	{ CLI_ADDR_FLAGS, "address", "flags", 2, 7, 0,
	  "address flags ADDRESS +FLAG|-FLAG...",
	  "change flags: accept-internal accept-external all-versions attachments require-tls "
	  "keep-original" },
	{ CLI_ADDR_NICK, "address", "nick", 1, 2, 0, "address nick ADDRESS [NICKNAME]",
	  "set (or clear) an address's nickname" },
	{ CLI_MAIL_LIST, "mail", "list", 0, 0, O_LIMIT | O_OLDEST,
	  "mail list [--limit N] [--oldest]", "one line per stored message" },
	{ CLI_MAIL_READ, "mail", "read", 1, 1, 0, "mail read ID", "decrypt and show a message" },
	{ CLI_MAIL_RM, "mail", "rm", 1, 1, 0, "mail rm ID", "delete a message" },
	{ CLI_MAIL_EMPTY, "mail", "empty", 0, 0, O_YES, "mail empty [--yes]",
	  "delete every stored message" },
	{ CLI_SEND, "send", NULL, 3, 4, 0, "send FROM TO SUBJECT [BODY|-]",
	  "send an internal message (body text, or - for stdin)" },
	{ CLI_UPLOAD, "upload", NULL, 1, 1, O_NAME, "upload FILE [--name NAME]",
	  "store a file, encrypted by you" },
	{ CLI_DOWNLOAD, "download", NULL, 1, 1, O_OUTPUT | O_FORCE,
	  "download ID [-o FILE|-] [--force]", "save a stored file (upload, attachment, report)" },
	{ CLI_ADMIN_INVITE, "admin", "invite", 0, 0, O_LEVEL | O_DAYS,
	  "admin invite [--level N] [--days N]", "make an invitation (admin)" },
	{ CLI_ADMIN_USERS, "admin", "users", 0, 0, 0, "admin users", "list every user (admin)" },
	{ CLI_ADMIN_LEVEL, "admin", "level", 2, 2, 0, "admin level UID LEVEL",
	  "set a user's level 0-3 (admin)" },
	{ CLI_ADMIN_LIMITS, "admin", "limits", 4, 4, 0, "admin limits LEVEL MIB NORMAL SHIELD",
	  "set a level's storage and address limits (admin)" },
	{ CLI_ADMIN_RM, "admin", "rm", 1, 1, O_YES, "admin rm UID [--yes]",
	  "delete a user (admin)" },
	{ CLI_DEBUG_POST, "debug-post", NULL, 2, CLI_PAIRS_MAX * 2, 0,
	  "debug-post PATH BODYFILE [PATH BODYFILE...]", NULL },
	{ CLI_HELP, "help", NULL, 0, 2, 0, "help [COMMAND]", "this help" },
	{ CLI_VERSION, "version", NULL, 0, 0, 0, "version", "the client's version" },
};

static const struct {
	const char *name;
	uint8_t bit;
} flag_names[] = {
	{ "accept-internal", CLI_FLAG_ACCEPT_INTERNAL }, { "accept-external", CLI_FLAG_ACCEPT_EXTERNAL },
	{ "all-versions", CLI_FLAG_ALL_VERSIONS },       { "attachments", CLI_FLAG_ATTACHMENTS },
	{ "require-tls", CLI_FLAG_REQUIRE_TLS },         { "keep-original", CLI_FLAG_KEEP_ORIGINAL },
};

uint8_t cli_flag_bit(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
		if (strcmp(name, flag_names[i].name) == 0)
			return flag_names[i].bit;
	return 0;
}

const char *cli_flag_name(uint8_t bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
		if (flag_names[i].bit == bit)
			return flag_names[i].name;
	return NULL;
}

static const struct spec *spec_of(enum cli_cmd c)
{
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		if (specs[i].cmd == c)
			return &specs[i];
	return NULL;
}

const char *cli_usage(enum cli_cmd c)
{
	const struct spec *s = spec_of(c);
	return s ? s->usage : "COMMAND [ARGS]";
}

void cli_help(FILE *f)
{
	fputs("usage: allears [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		if (specs[i].help && strlen(specs[i].usage) > 44)
			fprintf(f, "  %s\n  %-44s %s\n", specs[i].usage, "", specs[i].help);
		else if (specs[i].help)
			fprintf(f, "  %-44s %s\n", specs[i].usage, specs[i].help);
	fputs("\nglobal options:\n"
	      "  --server HOST  --port N (302)  --ca FILE  --config FILE  --timeout SECONDS\n"
	      "  --json  --passphrase-file FILE|-  --help\n"
	      "\nfiles: $ALLEARS_HOME (default ~/.config/allears): config, umk, state\n"
	      "exit status: 0 ok, 1 error, 2 usage, 3 server or network, 4 authentication or time\n"
	      "See allears(1).\n",
	      f);
}

static int fail(struct cli *c, const char *fmt, ...) PRINTF(2, 3);
static int fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Strict decimal in [min, max]. */
static int num(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	if (!*s || strlen(s) > 19)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A UserID as a number 0-4095 or a three-letter username. */
static int uid_arg(const char *s, uint16_t *ret)
{
	uint64_t v;
	if (num(s, 0, 4095, &v) == 0) {
		*ret = (uint16_t)v;
		return 0;
	}
	return userid_from_name(s, strlen(s), ret);
}

static const struct opt *find_long(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (strlen(opts[i].name) == n && strncmp(opts[i].name, name, n) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt *find_short(char ch)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (opts[i].short_name && opts[i].short_name == ch)
			return &opts[i];
	return NULL;
}

struct seen_opt {
	const struct opt *o;
	const char *value;
};

#define CLI_OPTS_MAX 32
#define CLI_WORDS_MAX (CLI_ARGS_MAX + 4)

static const struct spec *match(const char *const *w, size_t nw, size_t *used)
{
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		const struct spec *s = &specs[i];
		if (nw < 1 || strcmp(w[0], s->w1) != 0)
			continue;
		if (!s->w2) {
			*used = 1;
			return s;
		}
		if (nw >= 2 && strcmp(w[1], s->w2) == 0) {
			*used = 2;
			return s;
		}
	}
	return NULL;
}

static bool is_group(const char *w)
{
	return !strcmp(w, "key") || !strcmp(w, "account") || !strcmp(w, "address") ||
	       !strcmp(w, "mail") || !strcmp(w, "admin");
}

static int apply_opt(struct cli *c, const struct spec *s, const struct seen_opt *so)
{
	const struct opt *o = so->o;
	const char *v = so->value;
	uint64_t x;
	const char *cmdname = s->usage;
	if (o->bit != O_GLOBAL && o->bit != O_HELP && !(s->opts & o->bit))
		return fail(c, "--%s does not apply here (usage: allears %s)", o->name, cmdname);
	switch (o->bit) {
	case O_GLOBAL:
		if (!strcmp(o->name, "server"))
			c->server = v;
		else if (!strcmp(o->name, "port")) {
			if (num(v, 1, 65535, &x) != 0)
				return fail(c, "--port wants a number 1-65535, not '%s'", v);
			c->port = v;
		} else if (!strcmp(o->name, "ca"))
			c->ca = v;
		else if (!strcmp(o->name, "config"))
			c->config = v;
		else if (!strcmp(o->name, "timeout")) {
			if (num(v, 1, 3600, &x) != 0)
				return fail(c, "--timeout wants 1-3600 seconds, not '%s'", v);
			c->timeout = v;
		} else if (!strcmp(o->name, "json"))
			c->json = true;
		else if (!strcmp(o->name, "passphrase-file"))
			c->passphrase_file = v;
		return 0;
	case O_PASSPHRASE: c->passphrase = true; return 0;
	case O_FORCE: c->force = true; return 0;
	case O_YES: c->yes = true; return 0;
	case O_REMOVE: c->remove = true; return 0;
	case O_OLDEST: c->oldest = true; return 0;
	case O_UID:
		if (uid_arg(v, &c->uid) != 0)
			return fail(c, "--uid wants a UserID 0-4095 or a username like 'dcb', not '%s'", v);
		c->has_uid = true;
		return 0;
	case O_NICK: c->nick = v; return 0;
	case O_NAME: c->name = v; return 0;
	case O_OUTPUT: c->output = v; return 0;
	case O_LIMIT:
		if (num(v, 1, 1000000, &x) != 0)
			return fail(c, "--limit wants a number 1-1000000, not '%s'", v);
		c->limit = (uint32_t)x;
		return 0;
	case O_LEVEL:
		if (num(v, 0, 3, &x) != 0)
			return fail(c, "--level wants 0-3, not '%s'", v);
		c->level = (uint8_t)x;
		return 0;
	case O_DAYS:
		if (num(v, 1, CLI_INVITE_DAYS_MAX, &x) != 0)
			return fail(c, "--days wants 1-%d, not '%s'", CLI_INVITE_DAYS_MAX, v);
		c->days = (uint32_t)x;
		return 0;
	default: return fail(c, "internal: unknown option");
	}
}

static int positional(struct cli *c, const struct spec *s)
{
	uint64_t x;
	const char *u = s->usage;
	switch (s->cmd) {
	case CLI_MAIL_READ:
	case CLI_MAIL_RM:
	case CLI_DOWNLOAD:
		if (num(c->arg[0], 1, UINT32_MAX, &x) != 0)
			return fail(c, "ID must be a message number, not '%s' (usage: allears %s)",
			            c->arg[0], u);
		c->id = (uint32_t)x;
		return 0;
	case CLI_ADMIN_LEVEL:
		if (uid_arg(c->arg[0], &c->uid) != 0)
			return fail(c, "UID must be 0-4095 or a username, not '%s' (usage: allears %s)",
			            c->arg[0], u);
		c->has_uid = true;
		if (num(c->arg[1], 0, 3, &x) != 0)
			return fail(c, "LEVEL must be 0-3, not '%s' (usage: allears %s)", c->arg[1], u);
		c->level = (uint8_t)x;
		return 0;
	case CLI_ADMIN_RM:
		if (uid_arg(c->arg[0], &c->uid) != 0)
			return fail(c, "UID must be 0-4095 or a username, not '%s' (usage: allears %s)",
			            c->arg[0], u);
		c->has_uid = true;
		return 0;
	case CLI_ADMIN_LIMITS:
		if (num(c->arg[0], 0, 3, &x) != 0)
			return fail(c, "LEVEL must be 0-3, not '%s' (usage: allears %s)", c->arg[0], u);
		c->level = (uint8_t)x;
		if (num(c->arg[1], 0, 1048576, &x) != 0)
			return fail(c, "MIB must be 0-1048576, not '%s' (usage: allears %s)", c->arg[1], u);
		c->mib = (uint32_t)x;
		if (num(c->arg[2], 0, 31, &x) != 0)
			return fail(c, "NORMAL must be 0-31, not '%s' (usage: allears %s)", c->arg[2], u);
		c->max_normal = (uint8_t)x;
		if (num(c->arg[3], 0, 31, &x) != 0)
			return fail(c, "SHIELD must be 0-31, not '%s' (usage: allears %s)", c->arg[3], u);
		c->max_shield = (uint8_t)x;
		return 0;
	case CLI_ADDR_FLAGS:
		for (size_t i = 1; i < c->nargs; i++) {
			const char *f = c->arg[i];
			uint8_t bit = (f[0] == '+' || f[0] == '-') ? cli_flag_bit(f + 1) : 0;
			if (!bit)
				return fail(c,
				            "'%s' is not +FLAG or -FLAG; flags: accept-internal accept-external "
				            "all-versions attachments require-tls keep-original",
				            f);
			if ((c->flags_set | c->flags_clear) & bit)
				return fail(c, "flag '%s' is given twice", f + 1);
			if (f[0] == '+')
				c->flags_set |= bit;
			else
				c->flags_clear |= bit;
		}
		return 0;
	case CLI_DEBUG_POST:
		if (c->nargs % 2)
			return fail(c, "debug-post wants PATH BODYFILE pairs");
		return 0;
	case CLI_HELP:
		return 0;
	default:
		return 0;
	}
}

int cli_parse(struct cli *c, int argc, char *const *argv)
{
	memset(c, 0, sizeof(*c));
	const char *words[CLI_WORDS_MAX];
	size_t nw = 0;
	struct seen_opt seen[CLI_OPTS_MAX];
	size_t ns = 0;
	bool dashdash = false, help = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt *o = NULL;
		const char *value = NULL;
		bool flag_op = nw >= 2 && !strcmp(words[0], "address") && !strcmp(words[1], "flags");
		/* Invitations are base64url and may start with '-' (even "--"): for
		 * the commands that take one, what is not a known option is a word. */
		bool literal = (nw >= 1 && !strcmp(words[0], "register")) ||
		               (nw >= 2 && !strcmp(words[0], "key") && !strcmp(words[1], "import"));
		if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		if (!dashdash && a[0] == '-' && a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			o = find_long(a + 2, n);
			if (!o && !literal)
				return fail(c, "unknown option '%.*s' (see allears --help)", (int)(n + 2), a);
			if (eq && !o->value)
				return fail(c, "--%s takes no value", o->name);
			if (eq)
				value = eq + 1;
		} else if (!dashdash && a[0] == '-' && a[1] && !flag_op) {
			o = a[2] ? NULL : find_short(a[1]);
			if (!o && !literal)
				return fail(c, "unknown option '%s' (see allears --help)", a);
		}
		if (!o) {
			if (nw == CLI_WORDS_MAX)
				return fail(c, "too many arguments");
			words[nw++] = a;
			continue;
		}
		if (o->value && !value) {
			if (i + 1 >= argc)
				return fail(c, "--%s needs a value", o->name);
			value = argv[++i];
		}
		if (o->bit == O_HELP) {
			help = true;
			continue;
		}
		if (ns == CLI_OPTS_MAX)
			return fail(c, "too many options");
		for (size_t j = 0; j < ns; j++)
			if (seen[j].o == o)
				return fail(c, "--%s is given twice", o->name);
		seen[ns++] = (struct seen_opt){ o, value };
	}
	if (nw == 0) {
		if (help) {
			c->cmd = CLI_HELP;
			return 0;
		}
		return fail(c, "no command given (see allears --help)");
	}
	size_t used = 0;
	const struct spec *s = match(words, nw, &used);
	if (!s && help) {
		c->cmd = CLI_HELP;
		return 0;
	}
	if (!s) {
		if (is_group(words[0]))
			return fail(c, "'%s' needs a subcommand%s%s (see allears --help)", words[0],
			            nw > 1 ? ", not " : "", nw > 1 ? words[1] : "");
		return fail(c, "unknown command '%s' (see allears --help)", words[0]);
	}
	c->cmd = s->cmd;
	if (help) {
		c->arg[0] = s->w1;
		c->arg[1] = s->w2;
		c->nargs = s->w2 ? 2 : 1;
		c->cmd = CLI_HELP;
		return 0;
	}
	size_t np = nw - used;
	if (np < s->min)
		return fail(c, "missing arguments (usage: allears %s)", s->usage);
	if (np > s->max)
		return fail(c, "too many arguments (usage: allears %s)", s->usage);
	for (size_t i = 0; i < np; i++)
		c->arg[i] = words[used + i];
	c->nargs = np;
	if (s->cmd == CLI_ADMIN_INVITE)
		c->days = CLI_INVITE_DAYS_DEFAULT;
	for (size_t i = 0; i < ns; i++)
		if (apply_opt(c, s, &seen[i]) != 0)
			return -EINVAL;
	return positional(c, s);
}
