/* config.h: where the client keeps its files and which server it talks to.
 * The home directory holds the config file, the UMK file and the state file;
 * settings come from flags, then the environment, then the config file, then
 * the defaults. Formats: docs/PROTOCOL.md section 15. */
#ifndef ALLEARS_CLIENT_CONFIG_H
#define ALLEARS_CLIENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define CONFIG_FILE_MAX 65536   /* bytes of a config file */
#define CONFIG_LINE_MAX 1024    /* bytes of one line, without the LF */
#define CONFIG_HOST_MAX 253     /* a DNS name; an IPv6 literal is shorter */
#define CONFIG_PATH_MAX 4096    /* home directory, CA file */
#define CONFIG_PORT_DEFAULT 302
#define CONFIG_TIMEOUT_DEFAULT_S 30
#define CONFIG_TIMEOUT_MAX_S 3600
#define CONFIG_ERR_MAX 512      /* error message buffers */

/* File names inside the home directory. */
#define CONFIG_NAME "config"
#define CONFIG_UMK_NAME "umk"
#define CONFIG_STATE_NAME "state"

struct config {
	char server[CONFIG_HOST_MAX + 1]; /* empty: not configured */
	uint16_t port;
	char ca[CONFIG_PATH_MAX];         /* empty: the system store */
	unsigned timeout_s;               /* per network wait, not per request */
};

/* Sources of a setting, for error messages and precedence. */
enum config_source { CONFIG_FROM_FILE, CONFIG_FROM_ENV, CONFIG_FROM_FLAG };

void config_defaults(struct config *c);

/* One setting ("server", "port", "ca", "timeout") with its validation.
 * -EINVAL with a message in err for an unknown key or a bad value. A relative
 * "ca" from a file is taken relative to base_dir (may be NULL). */
int config_set(struct config *c, const char *key, const char *value, const char *base_dir,
               char *err, size_t errlen) WUR;

/* Parses a config file's text: lines "key = value", blank lines, lines whose
 * first non-blank character is '#'. Each key at most once. name is used in
 * messages ("NAME:LINE: ..."). -EINVAL with a message otherwise; *c keeps the
 * settings made before the bad line. */
int config_parse(struct config *c, const char *text, size_t len, const char *name,
                 const char *base_dir, char *err, size_t errlen) WUR;

/* Reads and parses path. A missing file is fine (-ENOENT, nothing changed)
 * unless must_exist; any other failure is -EINVAL/-EIO with a message. */
int config_load(struct config *c, const char *path, bool must_exist, char *err,
                size_t errlen) WUR;

/* Applies ALLEARS_SERVER, ALLEARS_PORT, ALLEARS_CA and ALLEARS_TIMEOUT. */
int config_from_env(struct config *c, char *err, size_t errlen) WUR;

/* The home directory: $ALLEARS_HOME, else $XDG_CONFIG_HOME/allears, else
 * $HOME/.config/allears. -ENOENT with a message when none is set, -ENAMETOOLONG. */
int config_home(char *out, size_t n, char *err, size_t errlen) WUR;

/* dir/name into out; -ENAMETOOLONG when it does not fit. */
int config_path(char *out, size_t n, const char *dir, const char *name) WUR;

/* Creates dir (and missing parents) with mode 0700. */
int config_mkdir(const char *dir, char *err, size_t errlen) WUR;

#endif
