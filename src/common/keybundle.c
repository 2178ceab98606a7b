/* keybundle.c: per-role key credentials (see keybundle.h). */
#include "common/keybundle.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/util.h"

struct keybundle *keybundle_new(void)
{
	struct keybundle *kb = sodium_malloc(sizeof(*kb));
	if (!kb)
		fatal("sodium_malloc");
	memset(kb, 0, sizeof(*kb));
	return kb;
}

void keybundle_free(struct keybundle *kb)
{
	if (kb)
		sodium_free(kb); /* sodium_free wipes */
}

int keybundle_build(struct wr *w, enum role r, const uint8_t smk[KEYS_SMK_BYTES])
{
	struct keys_item items[KEYS_BUNDLE_MAX];
	int n = keys_role_bundle(items, r);
	if (n < 0)
		return n;
	wr_bytes(w, KEYBUNDLE_MAGIC, KEYBUNDLE_MAGIC_BYTES);
	wr_u8(w, KEYBUNDLE_VERSION);
	wr_u8(w, (uint8_t)r);
	wr_u8(w, (uint8_t)n);
	for (int i = 0; i < n; i++) {
		size_t len = keys_item_len(&items[i]);
		wr_u8(w, (uint8_t)items[i].which);
		wr_u8(w, (uint8_t)items[i].client);
		wr_u8(w, (uint8_t)items[i].server);
		wr_u8(w, (uint8_t)len);
		int rc = keys_item_derive(wr_reserve(w, len), len, &items[i], smk);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int keybundle_parse(struct keybundle *kb, const uint8_t *p, size_t len, enum role expect)
{
	struct keys_item want[KEYS_BUNDLE_MAX];
	int n = keys_role_bundle(want, expect);
	if (n < 0)
		return n;
	struct rd r = rd_init(p, len);
	const uint8_t *magic = rd_take(&r, KEYBUNDLE_MAGIC_BYTES);
	if (!magic || memcmp(magic, KEYBUNDLE_MAGIC, KEYBUNDLE_MAGIC_BYTES) != 0)
		return -EBADMSG;
	if (rd_u8(&r) != KEYBUNDLE_VERSION || rd_u8(&r) != (uint8_t)expect || rd_u8(&r) != (uint8_t)n)
		return -EBADMSG;
	kb->role = expect;
	kb->n = 0;
	for (int i = 0; i < n; i++) {
		struct keybundle_entry *e = &kb->e[i];
		uint8_t which = rd_u8(&r), client = rd_u8(&r), server = rd_u8(&r), klen = rd_u8(&r);
		if (which != (uint8_t)want[i].which || client != (uint8_t)want[i].client ||
		    server != (uint8_t)want[i].server || klen != keys_item_len(&want[i]))
			return -EBADMSG;
		e->item = want[i];
		e->len = klen;
		rd_copy(&r, e->key, klen);
	}
	if (!rd_done(&r)) {
		sodium_memzero(kb->e, sizeof(kb->e));
		return -EBADMSG;
	}
	kb->n = (size_t)n;
	return 0;
}

const uint8_t *keybundle_key(const struct keybundle *kb, enum server_key which)
{
	for (size_t i = 0; i < kb->n; i++)
		if (kb->e[i].item.which == which && which != SERVER_KEY_CHANNEL)
			return kb->e[i].key;
	return NULL;
}

const uint8_t *keybundle_pair(const struct keybundle *kb, enum role client, enum role server)
{
	for (size_t i = 0; i < kb->n; i++)
		if (kb->e[i].item.which == SERVER_KEY_CHANNEL && kb->e[i].item.client == client &&
		    kb->e[i].item.server == server)
			return kb->e[i].key;
	return NULL;
}

int keybundle_server_lookup(enum role client, uint8_t out[KEYS_KEY_BYTES], void *ctx)
{
	const struct keybundle *kb = ctx;
	const uint8_t *k = keybundle_pair(kb, client, kb->role);
	if (!k)
		return -ENOKEY;
	memcpy(out, k, KEYS_KEY_BYTES);
	return 0;
}
