/* daemon.c: shared daemon start-up (see daemon.h). */
#include "ipc/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "ipc/tls.h"

#ifndef ALLEARS_VERSION
#define ALLEARS_VERSION "0.1.0"
#endif

void daemon_config_fail(const struct daemon *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s: configuration error: %s", d->role, msg);
	exit(DAEMON_EXIT_CONFIG);
}

static void usage(const char *role)
{
	printf("Usage: allears-%s [--config PATH]\n"
	       "Runs the allears %s role. Normally started by systemd "
	       "(allears-%s.service); see allears-%s(8).\n",
	       role, role, role, role);
}

static void load_config(struct daemon *d, bool explicit_path)
{
	int fd = open(d->config_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !explicit_path) {
			d->config = json_object();
			return;
		}
		daemon_config_fail(d, "cannot open %s: %s", d->config_path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DAEMON_CONFIG_MAX_BYTES) {
		close(fd);
		daemon_config_fail(d, "%s is not a regular file of at most %d bytes", d->config_path,
		                   DAEMON_CONFIG_MAX_BYTES);
	}
	json_error_t err;
	d->config = json_loadfd(fd, JSON_REJECT_DUPLICATES, &err);
	close(fd);
	if (!d->config)
		daemon_config_fail(d, "%s:%d:%d: %s", d->config_path, err.line, err.column, err.text);
	if (!json_is_object(d->config))
		daemon_config_fail(d, "%s: the top level must be an object", d->config_path);
}

static void take_sockets(struct daemon *d)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		errno = -n;
		daemon_config_fail(d, "LISTEN_FDS: %s", strerror(-n));
	}
	if (n > DAEMON_MAX_LISTEN_FDS)
		daemon_config_fail(d, "%d sockets passed, at most %d supported", n, DAEMON_MAX_LISTEN_FDS);
	d->nfds = n;
	for (int i = 0; i < n; i++) {
		d->fds[i] = SD_LISTEN_FDS_START + i;
		d->fd_names[i] = xstrdup(names && names[i] ? names[i] : "unknown");
		int fl = fcntl(d->fds[i], F_GETFD);
		if (fl >= 0)
			fcntl(d->fds[i], F_SETFD, fl | FD_CLOEXEC);
	}
	if (names) {
		for (int i = 0; names[i]; i++)
			free(names[i]);
		free(names);
	}
}

void daemon_init(struct daemon *d, const char *role, int argc, char **argv)
{
	*d = (struct daemon){ .role = role };
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(role);
			exit(0);
		case 'V':
			printf("allears-%s %s\n", role, ALLEARS_VERSION);
			exit(0);
		default:
			usage(role);
			exit(DAEMON_EXIT_CONFIG);
		}
	}
	if (optind != argc)
		daemon_config_fail(d, "unexpected argument '%s'", argv[optind]);
	bool explicit_path = path != NULL;
	if (!path)
		path = getenv("ALLEARS_CONFIG");
	if (path && *path)
		explicit_path = true;
	else
		path = DAEMON_DEFAULT_CONFIG;
	d->config_path = xstrdup(path);
	load_config(d, explicit_path);

	json_t *sec = json_object_get(d->config, role);
	if (sec && !json_is_object(sec))
		daemon_config_fail(d, "\"%s\" must be an object", role);
	d->section = sec ? json_incref(sec) : json_object();

	const char *sd = getenv("STATE_DIRECTORY");
	if (sd && *sd) {
		/* systemd may pass several, colon-separated; ours is the first. */
		d->state_dir = xstrdup(sd);
		char *colon = strchr(d->state_dir, ':');
		if (colon)
			*colon = '\0';
	} else {
		const char *cfg = daemon_config_str(d, "state_dir", NULL);
		if (cfg)
			d->state_dir = xstrdup(cfg);
	}
	take_sockets(d);
}

void daemon_config_allow(const struct daemon *d, const char *const *keys)
{
	const char *k;
	json_t *v;
	json_object_foreach(d->section, k, v) {
		bool ok = false;
		for (size_t i = 0; keys[i]; i++)
			ok = ok || strcmp(k, keys[i]) == 0;
		if (!ok)
			daemon_config_fail(d, "unknown setting \"%s.%s\"", d->role, k);
	}
}

long daemon_config_int(const struct daemon *d, const char *key, long def, long min, long max)
{
	json_t *v = json_object_get(d->section, key);
	if (!v)
		return def;
	if (!json_is_integer(v))
		daemon_config_fail(d, "\"%s.%s\" must be an integer", d->role, key);
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		daemon_config_fail(d, "\"%s.%s\" = %lld is outside %ld..%ld", d->role, key, (long long)x,
		                   min, max);
	return (long)x;
}

bool daemon_config_bool(const struct daemon *d, const char *key, bool def)
{
	json_t *v = json_object_get(d->section, key);
	if (!v)
		return def;
	if (!json_is_boolean(v))
		daemon_config_fail(d, "\"%s.%s\" must be true or false", d->role, key);
	return json_is_true(v);
}

static const char *str_of(const struct daemon *d, json_t *obj, const char *prefix, const char *key,
                          const char *def)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return def;
	if (!json_is_string(v))
		daemon_config_fail(d, "\"%s%s\" must be a string", prefix, key);
	return json_string_value(v);
}

const char *daemon_config_str(const struct daemon *d, const char *key, const char *def)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s.", d->role);
	return str_of(d, d->section, prefix, key, def);
}

const char *daemon_config_global_str(const struct daemon *d, const char *key, const char *def)
{
	return str_of(d, d->config, "", key, def);
}

int daemon_take_fd(struct daemon *d, const char *name)
{
	for (int i = 0; i < d->nfds; i++) {
		if (d->fds[i] >= 0 && strcmp(d->fd_names[i], name) == 0) {
			int fd = d->fds[i];
			d->fds[i] = -1;
			return fd;
		}
	}
	return -1;
}

uint8_t *daemon_credential(const struct daemon *d, const char *name, size_t *ret_len)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	if (!dir || !*dir || strchr(name, '/')) {
		errno = ENOENT;
		return NULL;
	}
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > DAEMON_CREDENTIAL_MAX_BYTES) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = sodium_malloc(len);
	if (!buf)
		fatal("sodium_malloc");
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			sodium_free(buf);
			errno = e;
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	*ret_len = len;
	return buf;
}

uint8_t *daemon_credential_required(const struct daemon *d, const char *name, size_t *ret_len)
{
	uint8_t *p = daemon_credential(d, name, ret_len);
	if (!p)
		daemon_config_fail(d, "cannot read the credential \"%s\": %s", name, strerror(errno));
	return p;
}

struct keybundle *daemon_load_keys(const struct daemon *d, enum role r)
{
	size_t len;
	uint8_t *bytes = daemon_credential_required(d, KEYBUNDLE_CREDENTIAL, &len);
	struct keybundle *kb = keybundle_new();
	int rc = keybundle_parse(kb, bytes, len, r);
	sodium_free(bytes);
	if (rc < 0)
		daemon_config_fail(d, "the credential \"%s\" is not the %s role's key bundle",
		                   KEYBUNDLE_CREDENTIAL, role_name(r));
	return kb;
}

void daemon_ready(const struct daemon *d, const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "running");
	log_info("%s: ready", d->role);
}

void daemon_free(struct daemon *d)
{
	for (int i = 0; i < d->nfds; i++)
		free(d->fd_names[i]);
	json_decref(d->section);
	json_decref(d->config);
	free(d->config_path);
	free(d->state_dir);
	*d = (struct daemon){ 0 };
}

struct tls_ctx *daemon_load_tls(const struct daemon *d, const char *chain_name,
                                const char *key_name)
{
	size_t clen, klen;
	struct tls_ctx *ctx = NULL;
	uint8_t *chain = daemon_credential_required(d, chain_name, &clen);
	uint8_t *key = daemon_credential_required(d, key_name, &klen);
	int rc = tls_ctx_new(chain, clen, key, klen, &ctx);
	sodium_free(chain);
	sodium_free(key);
	if (rc < 0)
		daemon_config_fail(d, "the credentials \"%s\" and \"%s\" are not a usable certificate "
		                      "chain and key: %s",
		                   chain_name, key_name, strerror(-rc));
	return ctx;
}
