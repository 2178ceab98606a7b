/* keys.c: the key tree of docs/PROTOCOL.md section 3. Intermediate roots live on
 * the stack only for the duration of one derivation and are wiped before return. */
#include "common/keys.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* personal = the ASCII label padded with NUL bytes to 16 (the BLAKE2b limit). */
#define ROOT_SMK_PERSONAL "allears SMK v1"
#define ROOT_UMK_PERSONAL "allears UMK v1"
#define USER_KEYS_CTX "usr-keys"
#define CHANNEL_CTX "channel_"

struct server_key_def {
	const char *ctx;   /* exactly KEYS_CTX_BYTES characters */
	uint64_t id;
	size_t len;
	enum role holder;
};

static const struct server_key_def server_keys[SERVER_KEY_COUNT] = {
	[SERVER_KEY_ACC_STATE] = { "acc-stat", 1, KEYS_KEY_BYTES, ROLE_ACCOUNT },
	[SERVER_KEY_ACC_ADDR_SALT] = { "acc-addr", 1, KEYS_ADDR_SALT_BYTES, ROLE_ACCOUNT },
	[SERVER_KEY_ACC_SHIELD] = { "acc-addr", 2, KEYS_SHIELD_KEY_BYTES, ROLE_ACCOUNT },
	[SERVER_KEY_ACC_INVITE] = { "acc-invt", 1, KEYS_KEY_BYTES, ROLE_ACCOUNT },
	[SERVER_KEY_STO_STATE] = { "sto-stat", 1, KEYS_KEY_BYTES, ROLE_STORAGE },
	[SERVER_KEY_STO_NAME] = { "sto-name", 1, KEYS_KEY_BYTES, ROLE_STORAGE },
	/* Message-IDs are made when mail leaves, so the outgoing role holds it. */
	[SERVER_KEY_API_MSGID] = { "api-msid", 1, KEYS_KEY_BYTES, ROLE_OUTGOING },
	[SERVER_KEY_CHANNEL] = { CHANNEL_CTX, 0, KEYS_KEY_BYTES, ROLE_NONE },
};

static void personal_root(uint8_t root[KEYS_ROOT_BYTES], const uint8_t *in, size_t in_len,
                          const char *label)
{
	uint8_t salt[crypto_generichash_blake2b_SALTBYTES] = { 0 };
	uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] = { 0 };
	memcpy(personal, label, strlen(label));
	/* Cannot fail: every length is within BLAKE2b's limits. */
	if (crypto_generichash_blake2b_salt_personal(root, KEYS_ROOT_BYTES, in, in_len, NULL, 0,
	                                             salt, personal) != 0)
		fatalx("keys: BLAKE2b root derivation failed");
}

void keys_smk_root(uint8_t root[KEYS_ROOT_BYTES], const uint8_t smk[KEYS_SMK_BYTES])
{
	personal_root(root, smk, KEYS_SMK_BYTES, ROOT_SMK_PERSONAL);
}

void keys_umk_root(uint8_t root[KEYS_ROOT_BYTES], const uint8_t umk[KEYS_UMK_BYTES])
{
	personal_root(root, umk, KEYS_UMK_BYTES, ROOT_UMK_PERSONAL);
}

static void kdf(uint8_t *out, size_t len, uint64_t id, const char *ctx,
                const uint8_t root[KEYS_ROOT_BYTES])
{
	if (crypto_kdf_derive_from_key(out, len, id, ctx, root) != 0)
		fatalx("keys: crypto_kdf_derive_from_key(%zu) failed", len);
}

static void smk_kdf(uint8_t *out, size_t len, uint64_t id, const char *ctx,
                    const uint8_t smk[KEYS_SMK_BYTES])
{
	uint8_t root[KEYS_ROOT_BYTES];
	keys_smk_root(root, smk);
	kdf(out, len, id, ctx, root);
	sodium_memzero(root, sizeof(root));
}

void keys_smk_generate(uint8_t smk[KEYS_SMK_BYTES]) { randombytes_buf(smk, KEYS_SMK_BYTES); }
void keys_umk_generate(uint8_t umk[KEYS_UMK_BYTES]) { randombytes_buf(umk, KEYS_UMK_BYTES); }

void keys_smk_to_text(char out[KEYS_SMK_TEXT_LEN + 1], const uint8_t smk[KEYS_SMK_BYTES])
{
	sodium_bin2hex(out, KEYS_SMK_TEXT_LEN + 1, smk, KEYS_SMK_BYTES);
}

int keys_smk_from_text(uint8_t ret_smk[KEYS_SMK_BYTES], const char *text, size_t len)
{
	uint8_t bin[KEYS_SMK_BYTES];
	size_t bin_len = 0;
	const char *end = NULL;
	if (len != KEYS_SMK_TEXT_LEN)
		return -EINVAL;
	/* sodium_hex2bin also takes uppercase; the text form is lowercase only. */
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
	}
	if (sodium_hex2bin(bin, sizeof(bin), text, len, NULL, &bin_len, &end) != 0 ||
	    bin_len != KEYS_SMK_BYTES || end != text + len) {
		sodium_memzero(bin, sizeof(bin));
		return -EINVAL;
	}
	memcpy(ret_smk, bin, KEYS_SMK_BYTES);
	sodium_memzero(bin, sizeof(bin));
	return 0;
}

void keys_umk_to_text(char out[KEYS_UMK_TEXT_LEN + 1], const uint8_t umk[KEYS_UMK_BYTES])
{
	sodium_bin2base64(out, KEYS_UMK_TEXT_LEN + 1, umk, KEYS_UMK_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
}

int keys_umk_from_text(uint8_t ret_umk[KEYS_UMK_BYTES], const char *text, size_t len)
{
	uint8_t bin[KEYS_UMK_BYTES];
	size_t bin_len = 0;
	int rc = -EINVAL;
	if (len != KEYS_UMK_TEXT_LEN)
		return -EINVAL;
	/* 45 bytes are exactly 60 characters: no padding and no spare bits, so
	 * every accepted text is the canonical one. */
	if (b64_decode_strict(bin, sizeof(bin), &bin_len, text, len, NULL) == 0 &&
	    bin_len == KEYS_UMK_BYTES) {
		memcpy(ret_umk, bin, KEYS_UMK_BYTES);
		rc = 0;
	}
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

size_t keys_server_key_len(enum server_key which)
{
	if ((unsigned)which >= SERVER_KEY_COUNT)
		return 0;
	return server_keys[which].len;
}

const char *keys_server_key_ctx(enum server_key which)
{
	if ((unsigned)which >= SERVER_KEY_COUNT)
		return "invalid";
	return server_keys[which].ctx;
}

uint64_t keys_server_key_id(enum server_key which)
{
	if ((unsigned)which >= SERVER_KEY_COUNT)
		return 0;
	return server_keys[which].id;
}

int keys_smk_derive(uint8_t *out, size_t len, enum server_key which,
                    const uint8_t smk[KEYS_SMK_BYTES])
{
	if ((unsigned)which >= SERVER_KEY_COUNT || which == SERVER_KEY_CHANNEL ||
	    len != server_keys[which].len)
		return -EINVAL;
	smk_kdf(out, len, server_keys[which].id, server_keys[which].ctx, smk);
	return 0;
}

int keys_channel_pair(uint8_t out[KEYS_KEY_BYTES], enum role client, enum role server,
                      const uint8_t smk[KEYS_SMK_BYTES])
{
	if ((unsigned)client > ROLE_MAX || (unsigned)server > ROLE_MAX ||
	    !role_channel_allowed(client, server))
		return -EINVAL;
	smk_kdf(out, KEYS_KEY_BYTES, ((uint64_t)client << 8) | (uint64_t)server, CHANNEL_CTX, smk);
	return 0;
}

int keys_umk_derive(uint8_t out[KEYS_KEY_BYTES], enum user_key which,
                    const uint8_t umk[KEYS_UMK_BYTES])
{
	uint8_t root[KEYS_ROOT_BYTES];
	if (which < USER_KEY_UAK || which > USER_KEY_UFK)
		return -EINVAL;
	keys_umk_root(root, umk);
	kdf(out, KEYS_KEY_BYTES, (uint64_t)which, USER_KEYS_CTX, root);
	sodium_memzero(root, sizeof(root));
	return 0;
}

int keys_envelope_keypair(uint8_t epk[KEYS_KEY_BYTES], uint8_t esk[KEYS_KEY_BYTES],
                          const uint8_t umk[KEYS_UMK_BYTES])
{
	uint8_t sk[KEYS_KEY_BYTES], pk[KEYS_KEY_BYTES];
	int rc = -EINVAL;
	if (keys_umk_derive(sk, USER_KEY_ESK, umk) == 0 && crypto_scalarmult_base(pk, sk) == 0) {
		memcpy(esk, sk, KEYS_KEY_BYTES);
		memcpy(epk, pk, KEYS_KEY_BYTES);
		rc = 0;
	}
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

bool keys_role_holds(enum role r, enum server_key which)
{
	if ((unsigned)which >= SERVER_KEY_COUNT || which == SERVER_KEY_CHANNEL || r == ROLE_NONE)
		return false;
	return server_keys[which].holder == r;
}

int keys_role_bundle(struct keys_item out[KEYS_BUNDLE_MAX], enum role r)
{
	int n = 0;
	if ((unsigned)r == ROLE_NONE || (unsigned)r > ROLE_MAX)
		return -EINVAL;
	for (int k = 0; k < SERVER_KEY_COUNT; k++) {
		if (keys_role_holds(r, (enum server_key)k))
			out[n++] = (struct keys_item){ (enum server_key)k, ROLE_NONE, ROLE_NONE };
	}
	for (int c = ROLE_NONE + 1; c <= ROLE_MAX; c++) {
		for (int s = ROLE_NONE + 1; s <= ROLE_MAX; s++) {
			if ((c == (int)r || s == (int)r) && role_channel_allowed(c, s)) {
				if (n == KEYS_BUNDLE_MAX)
					fatalx("keys: KEYS_BUNDLE_MAX too small for role %d", r);
				out[n++] = (struct keys_item){ SERVER_KEY_CHANNEL, c, s };
			}
		}
	}
	return n;
}

size_t keys_item_len(const struct keys_item *it) { return keys_server_key_len(it->which); }

int keys_item_derive(uint8_t *out, size_t len, const struct keys_item *it,
                     const uint8_t smk[KEYS_SMK_BYTES])
{
	if (it->which == SERVER_KEY_CHANNEL) {
		if (len != KEYS_KEY_BYTES)
			return -EINVAL;
		return keys_channel_pair(out, it->client, it->server, smk);
	}
	if (it->client != ROLE_NONE || it->server != ROLE_NONE)
		return -EINVAL;
	return keys_smk_derive(out, len, it->which, smk);
}

/* Keystream bytes one at a time: ChaCha20-IETF, zero nonce, counter from 0. */
struct keystream {
	uint8_t block[64];
	size_t pos;
	uint32_t counter;
	const uint8_t *key;
};

static uint8_t keystream_next(struct keystream *ks)
{
	static const uint8_t zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	if (ks->pos == sizeof(ks->block)) {
		memset(ks->block, 0, sizeof(ks->block));
		crypto_stream_chacha20_ietf_xor_ic(ks->block, ks->block, sizeof(ks->block),
		                                   zero_nonce, ks->counter++, ks->key);
		ks->pos = 0;
	}
	return ks->block[ks->pos++];
}

void keys_filename_perm(char perm[KEYS_FILENAME_CHARS], const uint8_t key[KEYS_KEY_BYTES])
{
	struct keystream ks = { .pos = sizeof(ks.block), .counter = 0, .key = key };
	memcpy(perm, KEYS_FILENAME_ALPHABET, KEYS_FILENAME_CHARS);
	for (unsigned i = KEYS_FILENAME_CHARS - 1; i >= 1; i--) {
		unsigned n = i + 1;
		unsigned limit = 256 - (256 % n); /* unbiased: reject the short last bucket */
		unsigned b;
		do
			b = keystream_next(&ks);
		while (b >= limit);
		unsigned j = b % n;
		char t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	sodium_memzero(&ks, sizeof(ks));
}

int keys_user_filename_perm(char out[KEYS_FILENAME_LEN + 1], uint16_t uid,
                            const char perm[KEYS_FILENAME_CHARS])
{
	if (uid >= KEYS_MAX_USERS)
		return -EINVAL;
	out[0] = perm[uid & 63];
	out[1] = perm[uid >> 6];
	out[2] = '\0';
	return 0;
}

int keys_user_filename(char out[KEYS_FILENAME_LEN + 1], uint16_t uid,
                       const uint8_t key[KEYS_KEY_BYTES])
{
	char perm[KEYS_FILENAME_CHARS];
	if (uid >= KEYS_MAX_USERS)
		return -EINVAL;
	keys_filename_perm(perm, key);
	int rc = keys_user_filename_perm(out, uid, perm);
	sodium_memzero(perm, sizeof(perm));
	return rc;
}

static int perm_index(const char perm[KEYS_FILENAME_CHARS], char c)
{
	for (int i = 0; i < KEYS_FILENAME_CHARS; i++)
		if (perm[i] == c)
			return i;
	return -1;
}

int keys_filename_uid(uint16_t *ret_uid, const char *name, size_t len,
                      const char perm[KEYS_FILENAME_CHARS])
{
	if (len != KEYS_FILENAME_LEN)
		return -EINVAL;
	int lo = perm_index(perm, name[0]);
	int hi = perm_index(perm, name[1]);
	if (lo < 0 || hi < 0)
		return -EINVAL;
	*ret_uid = (uint16_t)(lo | (hi << 6));
	return 0;
}
