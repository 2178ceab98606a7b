/* daemon.h: the start-up every role shares (design section 6): command line,
 * its section of the JSON config, listening sockets from systemd
 * (LISTEN_FDS/LISTEN_FDNAMES), credentials from $CREDENTIALS_DIRECTORY, and
 * READY=1. Errors in configuration, keys or sockets exit with
 * DAEMON_EXIT_CONFIG so systemd does not restart-loop
 * (RestartPreventExitStatus=78). */
#ifndef ALLEARS_DAEMON_H
#define ALLEARS_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keybundle.h"
#include "common/roles.h"
#include "common/util.h"

#define DAEMON_EXIT_CONFIG 78 /* EX_CONFIG */
#define DAEMON_DEFAULT_CONFIG "/etc/allears/config.json"
#define DAEMON_CONFIG_MAX_BYTES (1024 * 1024)
#define DAEMON_CREDENTIAL_MAX_BYTES (1024 * 1024)
#define DAEMON_MAX_LISTEN_FDS 16

struct daemon {
	const char *role;
	char *config_path;
	json_t *config;  /* the whole file */
	json_t *section; /* this role's object (an empty object when absent) */
	int nfds;
	int fds[DAEMON_MAX_LISTEN_FDS];
	char *fd_names[DAEMON_MAX_LISTEN_FDS];
	char *state_dir; /* $STATE_DIRECTORY, or the config's state_dir, or NULL */
};

/* Parses --config PATH (default $ALLEARS_CONFIG, then DAEMON_DEFAULT_CONFIG; a
 * missing default file means an empty configuration), --help and --version,
 * loads the config and takes the sockets systemd passed. Exits on error. */
void daemon_init(struct daemon *d, const char *role, int argc, char **argv);

/* Logs the problem and exits with DAEMON_EXIT_CONFIG. */
NORETURN void daemon_config_fail(const struct daemon *d, const char *fmt, ...) PRINTF(2, 3);

/* Rejects keys in this role's section that are not in the NULL-terminated list. */
void daemon_config_allow(const struct daemon *d, const char *const *keys);
/* Typed getters for this role's section, with defaults and ranges; a wrong type
 * or a value out of range is a configuration error (exits). */
long daemon_config_int(const struct daemon *d, const char *key, long def, long min, long max);
bool daemon_config_bool(const struct daemon *d, const char *key, bool def);
const char *daemon_config_str(const struct daemon *d, const char *key, const char *def);
/* A top-level (shared) string such as "domain". */
const char *daemon_config_global_str(const struct daemon *d, const char *key, const char *def);

/* Takes the passed socket named `name` (FileDescriptorName= or LISTEN_FDNAMES);
 * returns the fd, or -1 when there is none. */
int daemon_take_fd(struct daemon *d, const char *name);

/* Reads credential `name` into sodium_malloc'd memory (caller sodium_free()s).
 * Returns NULL with errno set when it is missing, empty or too large. */
uint8_t *daemon_credential(const struct daemon *d, const char *name, size_t *ret_len);

/* The same, but a missing credential is a configuration error (exits 78). */
uint8_t *daemon_credential_required(const struct daemon *d, const char *name, size_t *ret_len);

/* Loads the role's key bundle from the credential "keys" (PROTOCOL.md 3.9); a
 * missing one, or one that is not this role's, is a configuration error. */
struct keybundle *daemon_load_keys(const struct daemon *d, enum role r);

/* Makes a TLS server context (tls.h) from the credentials chain_name (the
 * certificate chain, PEM) and key_name (its private key, PEM); wipes both.
 * A missing or unusable credential is a configuration error (exits 78). */
struct tls_ctx *daemon_load_tls(const struct daemon *d, const char *chain_name,
                                const char *key_name);

/* Sends READY=1 and a STATUS= line to systemd (a no-op without systemd). */
void daemon_ready(const struct daemon *d, const char *status);

void daemon_free(struct daemon *d);

#endif
