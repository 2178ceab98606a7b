/* keybundle.h: the one credential each role receives (design section 4): every
 * server key the role holds, derived from the SMK by the admin utility, in a
 * strict binary file. Daemons load it from $CREDENTIALS_DIRECTORY/keys.
 * Layout: docs/PROTOCOL.md section 3.9. */
#ifndef ALLEARS_KEYBUNDLE_H
#define ALLEARS_KEYBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/keys.h"
#include "common/roles.h"

#define KEYBUNDLE_MAGIC "AEKEYS"
#define KEYBUNDLE_MAGIC_BYTES 6
#define KEYBUNDLE_VERSION 1
#define KEYBUNDLE_HEADER_BYTES 9 /* magic, version, role, count */
#define KEYBUNDLE_ENTRY_HEADER 4 /* which, client, server, length */
#define KEYBUNDLE_MAX_BYTES (KEYBUNDLE_HEADER_BYTES + KEYS_BUNDLE_MAX * (KEYBUNDLE_ENTRY_HEADER + KEYS_KEY_BYTES))
#define KEYBUNDLE_CREDENTIAL "keys" /* the credential's name */

struct keybundle_entry {
	struct keys_item item;
	size_t len;
	uint8_t key[KEYS_KEY_BYTES];
};

/* Lives in sodium_malloc'd memory (keybundle_new) and is wiped on free. */
struct keybundle {
	enum role role;
	size_t n;
	struct keybundle_entry e[KEYS_BUNDLE_MAX];
};

struct keybundle *keybundle_new(void);
void keybundle_free(struct keybundle *kb);

/* Derives role r's bundle from the SMK and serialises it into w. */
int keybundle_build(struct wr *w, enum role r, const uint8_t smk[KEYS_SMK_BYTES]) WUR;
/* Parses a bundle that must belong to role `expect` and hold exactly the keys
 * keys_role_bundle() names, in that order. -EBADMSG on any mismatch. */
int keybundle_parse(struct keybundle *kb, const uint8_t *p, size_t len, enum role expect) WUR;

/* A fixed key of the bundle (NULL if the role does not hold it). */
const uint8_t *keybundle_key(const struct keybundle *kb, enum server_key which);
/* The pair key of channel client -> server (NULL if the role does not hold it). */
const uint8_t *keybundle_pair(const struct keybundle *kb, enum role client, enum role server);

/* A channel server's key lookup (chan_key_lookup_fn): the pair key of client
 * towards the bundle's own role; ctx is the struct keybundle. -ENOKEY if the
 * role holds none. */
int keybundle_server_lookup(enum role client, uint8_t out[KEYS_KEY_BYTES], void *ctx);

#endif
