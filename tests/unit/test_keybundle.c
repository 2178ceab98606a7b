/* test_keybundle.c: per-role key credentials: every role's bundle round-trips,
 * holds exactly its keys, and any other byte string is refused. */
#include "check.h"

#include <errno.h>

#include "common/keybundle.h"

static uint8_t smk[KEYS_SMK_BYTES];

static void every_role_round_trips_with_its_own_keys(void)
{
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX; r++) {
		struct wr w = WR_INIT;
		CHECK(keybundle_build(&w, (enum role)r, smk) == 0);
		struct keybundle *kb = keybundle_new();
		CHECK(keybundle_parse(kb, w.p, w.len, (enum role)r) == 0);
		struct keys_item items[KEYS_BUNDLE_MAX];
		int n = keys_role_bundle(items, (enum role)r);
		CHECK(n >= 0 && kb->n == (size_t)n);
		for (int i = 0; i < n; i++) {
			uint8_t want[KEYS_KEY_BYTES];
			size_t len = keys_item_len(&items[i]);
			CHECK(keys_item_derive(want, len, &items[i], smk) == 0);
			const uint8_t *got = items[i].which == SERVER_KEY_CHANNEL
			                         ? keybundle_pair(kb, items[i].client, items[i].server)
			                         : keybundle_key(kb, items[i].which);
			CHECK(got != NULL && memcmp(got, want, len) == 0);
		}
		/* a bundle never opens as another role's */
		for (int o = ROLE_ACCOUNT; o <= ROLE_MAX; o++)
			if (o != r)
				CHECK(keybundle_parse(kb, w.p, w.len, (enum role)o) == -EBADMSG);
		keybundle_free(kb);
		wr_free(&w);
	}
}

static void account_holds_its_keys_and_nothing_else(void)
{
	struct wr w = WR_INIT;
	CHECK(keybundle_build(&w, ROLE_ACCOUNT, smk) == 0);
	struct keybundle *kb = keybundle_new();
	CHECK(keybundle_parse(kb, w.p, w.len, ROLE_ACCOUNT) == 0);
	CHECK(keybundle_key(kb, SERVER_KEY_ACC_STATE) != NULL);
	CHECK(keybundle_key(kb, SERVER_KEY_ACC_ADDR_SALT) != NULL);
	CHECK(keybundle_key(kb, SERVER_KEY_STO_STATE) == NULL);
	CHECK(keybundle_key(kb, SERVER_KEY_STO_NAME) == NULL);
	CHECK(keybundle_pair(kb, ROLE_MTA, ROLE_ACCOUNT) != NULL);
	CHECK(keybundle_pair(kb, ROLE_ACCOUNT, ROLE_STORAGE) != NULL);
	CHECK(keybundle_pair(kb, ROLE_DELIVER, ROLE_STORAGE) == NULL);
	keybundle_free(kb);
	wr_free(&w);
}

static void malformed_bundles_are_refused(void)
{
	struct wr w = WR_INIT;
	CHECK(keybundle_build(&w, ROLE_STORAGE, smk) == 0);
	struct keybundle *kb = keybundle_new();
	for (size_t cut = 0; cut < w.len; cut++)
		CHECK(keybundle_parse(kb, w.p, cut, ROLE_STORAGE) == -EBADMSG);
	uint8_t *longer = xmalloc(w.len + 1);
	memcpy(longer, w.p, w.len);
	longer[w.len] = 0;
	CHECK(keybundle_parse(kb, longer, w.len + 1, ROLE_STORAGE) == -EBADMSG);
	/* every header byte and every entry header byte matters */
	for (size_t i = 0; i < w.len; i++) {
		bool is_key_byte = false;
		size_t off = KEYBUNDLE_HEADER_BYTES;
		while (off < w.len) {
			size_t klen = w.p[off + 3];
			if (i >= off + KEYBUNDLE_ENTRY_HEADER && i < off + KEYBUNDLE_ENTRY_HEADER + klen)
				is_key_byte = true;
			off += KEYBUNDLE_ENTRY_HEADER + klen;
		}
		memcpy(longer, w.p, w.len);
		longer[i] ^= 0x01;
		int rc = keybundle_parse(kb, longer, w.len, ROLE_STORAGE);
		CHECK(is_key_byte ? rc == 0 : rc == -EBADMSG);
	}
	free(longer);
	keybundle_free(kb);
	wr_free(&w);
}

int main(void)
{
	check_init();
	for (size_t i = 0; i < sizeof(smk); i++)
		smk[i] = (uint8_t)i;
	RUN(every_role_round_trips_with_its_own_keys);
	RUN(account_holds_its_keys_and_nothing_else);
	RUN(malformed_bundles_are_refused);
	return check_finish();
}
