/* test_client_config.c: the config file, the environment and the home
 * directory (src/client/config.c): what is accepted, and a clear error with
 * file and line for everything that is not. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "client/config.h"

static int parse(struct config *c, const char *text, char *err)
{
	config_defaults(c);
	return config_parse(c, text, strlen(text), "cfg", "/etc/allears", err, CONFIG_ERR_MAX);
}

static void good(void)
{
	struct config c;
	char err[CONFIG_ERR_MAX];
	CHECK(parse(&c, "", err) == 0 && c.port == 302 && c.server[0] == 0 && c.timeout_s == 30);
	CHECK(parse(&c,
	            "# allears\n\n  server = mail.example.org  \nport=8302\r\n"
	            "\tca =  ca.pem\ntimeout = 5\n   # indented comment\n",
	            err) == 0);
	CHECK(strcmp(c.server, "mail.example.org") == 0 && c.port == 8302 && c.timeout_s == 5);
	CHECK(strcmp(c.ca, "/etc/allears/ca.pem") == 0); /* relative to the file */
	CHECK(parse(&c, "ca = /abs/ca.pem", err) == 0 && strcmp(c.ca, "/abs/ca.pem") == 0);
	CHECK(parse(&c, "server = 127.0.0.1\n", err) == 0 && strcmp(c.server, "127.0.0.1") == 0);
	CHECK(parse(&c, "server = [::1]\n", err) == 0 && strcmp(c.server, "::1") == 0);
	CHECK(parse(&c, "server = 2001:db8::25\n", err) == 0);
	CHECK(parse(&c, "server = localhost\nport = 1\n", err) == 0 && c.port == 1);
	CHECK(parse(&c, "port = 65535\ntimeout = 3600\n", err) == 0);
}

static void bad(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "colour = blue\n", "cfg:1: unknown setting 'colour'" },
		{ "server = a\nserver = b\n", "cfg:2: 'server' is set twice" },
		{ "\nport = 0\n", "cfg:2: bad port" },
		{ "port = 65536\n", "cfg:1: bad port" },
		{ "port = 30x\n", "cfg:1: bad port" },
		{ "port = -1\n", "cfg:1: bad port" },
		{ "port = \n", "cfg:1: no value for 'port'" },
		{ "server\n", "cfg:1: expected 'key = value'" },
		{ "= x\n", "cfg:1: expected 'key = value'" },
		{ "server = bad_name\n", "cfg:1: bad server name" },
		{ "server = -x.org\n", "cfg:1: bad server name" },
		{ "server = a..b\n", "cfg:1: bad server name" },
		{ "server = 1.2.3.256\n", "cfg:1: bad server name" },
		{ "server = ::g\n", "cfg:1: bad server name" },
		{ "server = a b\n", "cfg:1: bad server name" },
		{ "timeout = 0\n", "cfg:1: bad timeout" },
		{ "timeout = 3601\n", "cfg:1: bad timeout" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config c;
		char err[CONFIG_ERR_MAX] = "";
		CHECK(parse(&c, cases[i].text, err) == -EINVAL);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0) {
			fprintf(stderr, "  case %zu: got '%s'\n", i, err);
			CHECK(0);
		}
	}
	/* A NUL byte, an overlong line, an overlong file. */
	struct config c;
	char err[CONFIG_ERR_MAX];
	config_defaults(&c);
	CHECK(config_parse(&c, "port = 1\0\n", 10, "cfg", NULL, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "NUL") != NULL);
	char *big = malloc(CONFIG_FILE_MAX + 2);
	memset(big, '#', CONFIG_FILE_MAX + 1);
	big[CONFIG_FILE_MAX + 1] = 0;
	CHECK(config_parse(&c, big, CONFIG_LINE_MAX + 1, "cfg", NULL, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "line too long") != NULL);
	CHECK(config_parse(&c, big, CONFIG_LINE_MAX, "cfg", NULL, err, sizeof(err)) == 0);
	CHECK(config_parse(&c, big, CONFIG_FILE_MAX + 1, "cfg", NULL, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "too large") != NULL);
	free(big);
}

static void files_env_home(void)
{
	char dir[] = "/tmp/test_client_config.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128], err[CONFIG_ERR_MAX];
	snprintf(path, sizeof(path), "%s/config", dir);
	struct config c;
	config_defaults(&c);
	CHECK(config_load(&c, path, false, err, sizeof(err)) == -ENOENT);
	CHECK(config_load(&c, path, true, err, sizeof(err)) == -EIO);
	CHECK(strstr(err, "cannot open config file") != NULL);
	FILE *f = fopen(path, "w");
	fputs("server = x.example\nca = my.pem\nport = 9\n", f);
	fclose(f);
	CHECK(config_load(&c, path, false, err, sizeof(err)) == 0);
	char want[160];
	snprintf(want, sizeof(want), "%s/my.pem", dir);
	CHECK(strcmp(c.ca, want) == 0 && c.port == 9);
	f = fopen(path, "w");
	fputs("server = x.example\nport = 99999\n", f);
	fclose(f);
	CHECK(config_load(&c, path, false, err, sizeof(err)) == -EINVAL);
	snprintf(want, sizeof(want), "%s:2: bad port", path);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	/* Environment over the file. */
	setenv("ALLEARS_SERVER", "env.example", 1);
	setenv("ALLEARS_PORT", "1234", 1);
	CHECK(config_from_env(&c, err, sizeof(err)) == 0);
	CHECK(strcmp(c.server, "env.example") == 0 && c.port == 1234);
	setenv("ALLEARS_PORT", "0", 1);
	CHECK(config_from_env(&c, err, sizeof(err)) == -EINVAL);
	CHECK(strncmp(err, "ALLEARS_PORT: bad port", 22) == 0);
	unsetenv("ALLEARS_SERVER");
	unsetenv("ALLEARS_PORT");
	/* Home: ALLEARS_HOME, then XDG_CONFIG_HOME, then HOME. */
	char home[CONFIG_PATH_MAX];
	setenv("ALLEARS_HOME", "/t/a", 1);
	setenv("XDG_CONFIG_HOME", "/t/x", 1);
	setenv("HOME", "/t/h", 1);
	CHECK(config_home(home, sizeof(home), err, sizeof(err)) == 0 && !strcmp(home, "/t/a"));
	unsetenv("ALLEARS_HOME");
	CHECK(config_home(home, sizeof(home), err, sizeof(err)) == 0 &&
	      !strcmp(home, "/t/x/allears"));
	unsetenv("XDG_CONFIG_HOME");
	CHECK(config_home(home, sizeof(home), err, sizeof(err)) == 0 &&
	      !strcmp(home, "/t/h/.config/allears"));
	unsetenv("HOME");
	CHECK(config_home(home, sizeof(home), err, sizeof(err)) == -ENOENT);
	/* mkdir -p with 0700. */
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	CHECK(config_mkdir(sub, err, sizeof(err)) == 0);
	CHECK(config_mkdir(sub, err, sizeof(err)) == 0);
	CHECK(config_mkdir(path, err, sizeof(err)) != 0); /* a file */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	check_init();
	RUN(good);
	RUN(bad);
	RUN(files_env_home);
	return check_finish();
}
