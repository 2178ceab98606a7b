/* config.c: the client's home directory and its settings (server, port, CA
 * file, timeout) from the config file, the environment and flags.
 * Format: docs/PROTOCOL.md section 15.2. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/config.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = CONFIG_PORT_DEFAULT;
	c->timeout_s = CONFIG_TIMEOUT_DEFAULT_S;
}

static bool host_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > CONFIG_HOST_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* Accepts a DNS name, an IPv4 address, or an IPv6 address with or without
 * brackets; stores it without brackets. */
static int set_server(struct config *c, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	char buf[CONFIG_HOST_MAX + 1];
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (n == 0 || n > CONFIG_HOST_MAX)
		goto bad;
	memcpy(buf, v, n);
	buf[n] = '\0';
	struct in6_addr a6;
	struct in_addr a4;
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			goto bad;
	} else if (strspn(buf, "0123456789.") == n) {
		if (inet_pton(AF_INET, buf, &a4) != 1)
			goto bad;
	} else if (!host_name_valid(buf, n)) {
		goto bad;
	}
	memcpy(c->server, buf, n + 1);
	return 0;
bad:
	snprintf(err, errlen, "bad server name (want a host name or an IP address)");
	return -EINVAL;
}

static int parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *ret)
{
	if (*v < '0' || *v > '9' || strlen(v) > 10)
		return -EINVAL;
	unsigned long x = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		x = x * 10 + (unsigned long)(*p - '0');
	}
	if (x < min || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, const char *base_dir,
               char *err, size_t errlen)
{
	unsigned long x;
	if (strcmp(key, "server") == 0)
		return set_server(c, value, err, errlen);
	if (strcmp(key, "port") == 0) {
		if (parse_uint(value, 1, 65535, &x) != 0) {
			snprintf(err, errlen, "bad port (want 1-65535)");
			return -EINVAL;
		}
		c->port = (uint16_t)x;
		return 0;
	}
	if (strcmp(key, "timeout") == 0) {
		if (parse_uint(value, 1, CONFIG_TIMEOUT_MAX_S, &x) != 0) {
			snprintf(err, errlen, "bad timeout (want 1-%u seconds)", CONFIG_TIMEOUT_MAX_S);
			return -EINVAL;
		}
		c->timeout_s = (unsigned)x;
		return 0;
	}
	if (strcmp(key, "ca") == 0) {
		size_t n = strlen(value);
		if (n == 0) {
			snprintf(err, errlen, "empty CA file name");
			return -EINVAL;
		}
		int w;
		if (value[0] != '/' && base_dir)
			w = snprintf(c->ca, sizeof(c->ca), "%s/%s", base_dir, value);
		else
			w = snprintf(c->ca, sizeof(c->ca), "%s", value);
		if (w < 0 || (size_t)w >= sizeof(c->ca)) {
			c->ca[0] = '\0';
			snprintf(err, errlen, "CA file name too long");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown setting '%.40s' (known: server, port, ca, timeout)", key);
	return -EINVAL;
}

static bool blank(char ch) { return ch == ' ' || ch == '\t'; }

int config_parse(struct config *c, const char *text, size_t len, const char *name,
                 const char *base_dir, char *err, size_t errlen)
{
	static const char *const keys[] = { "server", "port", "ca", "timeout" };
	bool seen[ARRAY_SIZE(keys)] = { false };
	char msg[CONFIG_ERR_MAX];
	size_t pos = 0;
	unsigned lineno = 0;
	if (len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: file too large (at most %u bytes)", name, CONFIG_FILE_MAX);
		return -EINVAL;
	}
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n > CONFIG_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line too long", name, lineno);
			return -EINVAL;
		}
		if (n && line[n - 1] == '\r')
			n--;
		if (memchr(line, '\0', n)) {
			snprintf(err, errlen, "%s:%u: NUL byte", name, lineno);
			return -EINVAL;
		}
		size_t i = 0;
		while (i < n && blank(line[i]))
			i++;
		if (i == n || line[i] == '#')
			continue;
		size_t k0 = i;
		while (i < n && !blank(line[i]) && line[i] != '=')
			i++;
		size_t k1 = i;
		while (i < n && blank(line[i]))
			i++;
		if (i == n || line[i] != '=' || k1 == k0) {
			snprintf(err, errlen, "%s:%u: expected 'key = value'", name, lineno);
			return -EINVAL;
		}
		i++;
		while (i < n && blank(line[i]))
			i++;
		size_t v1 = n;
		while (v1 > i && blank(line[v1 - 1]))
			v1--;
		char key[32], value[CONFIG_LINE_MAX + 1];
		if (k1 - k0 >= sizeof(key)) {
			snprintf(err, errlen, "%s:%u: unknown setting", name, lineno);
			return -EINVAL;
		}
		memcpy(key, line + k0, k1 - k0);
		key[k1 - k0] = '\0';
		memcpy(value, line + i, v1 - i);
		value[v1 - i] = '\0';
		if (v1 == i) {
			snprintf(err, errlen, "%s:%u: no value for '%s'", name, lineno, key);
			return -EINVAL;
		}
		for (size_t j = 0; j < ARRAY_SIZE(keys); j++) {
			if (strcmp(key, keys[j]) != 0)
				continue;
			if (seen[j]) {
				snprintf(err, errlen, "%s:%u: '%s' is set twice", name, lineno, key);
				return -EINVAL;
			}
			seen[j] = true;
		}
		if (config_set(c, key, value, base_dir, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, msg);
			return -EINVAL;
		}
	}
	return 0;
}

int config_load(struct config *c, const char *path, bool must_exist, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return -ENOENT;
		snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
		return -EIO;
	}
	char *buf = xmalloc(CONFIG_FILE_MAX + 1);
	size_t len = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
			rc = -EIO;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CONFIG_FILE_MAX)
			break;
	}
	close(fd);
	if (rc == 0) {
		char dir[CONFIG_PATH_MAX];
		const char *slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		rc = config_parse(c, buf, len, path, dir, err, errlen);
	}
	free(buf);
	return rc;
}

int config_from_env(struct config *c, char *err, size_t errlen)
{
	static const struct {
		const char *env, *key;
	} vars[] = { { "ALLEARS_SERVER", "server" }, { "ALLEARS_PORT", "port" },
		         { "ALLEARS_CA", "ca" }, { "ALLEARS_TIMEOUT", "timeout" } };
	char msg[CONFIG_ERR_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i].env);
		if (!v || !*v)
			continue;
		if (config_set(c, vars[i].key, v, NULL, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s: %s", vars[i].env, msg);
			return -EINVAL;
		}
	}
	return 0;
}

int config_path(char *out, size_t n, const char *dir, const char *name)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	return 0;
}

int config_home(char *out, size_t n, char *err, size_t errlen)
{
	const char *v = getenv("ALLEARS_HOME");
	int w;
	if (v && *v) {
		w = snprintf(out, n, "%s", v);
	} else if ((v = getenv("XDG_CONFIG_HOME")) && *v == '/') {
		w = snprintf(out, n, "%s/allears", v);
	} else if ((v = getenv("HOME")) && *v) {
		w = snprintf(out, n, "%s/.config/allears", v);
	} else {
		snprintf(err, errlen, "no home directory: set ALLEARS_HOME or HOME");
		return -ENOENT;
	}
	if (w < 0 || (size_t)w >= n) {
		snprintf(err, errlen, "home directory name too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

int config_mkdir(const char *dir, char *err, size_t errlen)
{
	char buf[CONFIG_PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "bad directory name");
		return -EINVAL;
	}
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char save = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
			return -EIO;
		}
		buf[i] = save;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -EIO;
	}
	return 0;
}
