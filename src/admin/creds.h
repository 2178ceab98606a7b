/* creds.h: writing credentials as the units load them: encrypted with
 * `systemd-creds encrypt` (LoadCredentialEncrypted=, file name + ".cred") when
 * that is available, else plain 0600 files (LoadCredential=). See
 * allears-admin(8) and docs/OPERATIONS.md. */
#ifndef ALLEARS_ADMIN_CREDS_H
#define ALLEARS_ADMIN_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define CREDS_SYSTEMD_CREDS "systemd-creds"

enum creds_mode {
	CREDS_AUTO = 0, /* encrypt when systemd-creds works here, else plain */
	CREDS_ENCRYPT,  /* encrypt or fail */
	CREDS_PLAIN,    /* plain 0600 files */
};

/* "auto", "yes" or "no"; -EINVAL otherwise. */
int creds_mode_parse(const char *s, enum creds_mode *ret) WUR;

/* Decides, once, whether credentials will be encrypted: for CREDS_AUTO, runs a
 * test encryption. Returns 1 (encrypt), 0 (plain) or a negative errno when
 * CREDS_ENCRYPT was asked and systemd-creds does not work (said on stderr). */
int creds_resolve(enum creds_mode mode) WUR;

/* Writes the secret p as dir/name (plain, mode 0600) or dir/name.cred
 * (encrypted for the credential id `id`), durably and atomically. The
 * plaintext never touches the disk when encrypting. 0 or a negative errno. */
int creds_write(const char *dir, const char *name, const char *id, const uint8_t *p, size_t len,
                bool encrypt) WUR;

/* Writes public data (a certificate chain, the web page) as dir/name, mode 0644. */
int creds_write_public(const char *dir, const char *name, const uint8_t *p, size_t len) WUR;

#endif
