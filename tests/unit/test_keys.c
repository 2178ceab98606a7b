/* test_keys.c: the key tree against the golden vectors of docs/PROTOCOL.md
 * section 3.8, the strict text forms, the channel allow-list, role bundles and
 * the secret file names. */
#include <errno.h>

#include "check.h"
#include "common/keys.h"

static uint8_t smk0[KEYS_SMK_BYTES];
static uint8_t umk0[KEYS_UMK_BYTES];

static void fill_vectors(void)
{
	for (int i = 0; i < KEYS_SMK_BYTES; i++)
		smk0[i] = (uint8_t)i;
	for (int i = 0; i < KEYS_UMK_BYTES; i++)
		umk0[i] = (uint8_t)i;
}

static bool hex_is(const uint8_t *p, size_t n, const char *hex)
{
	uint8_t want[64];
	return check_unhex(hex, want, sizeof(want)) == (int)n && memcmp(p, want, n) == 0;
}

static const char golden_perm[] = "fxZOymbT6wAMNo3uvCdDiP92FLa+7crIUK8qXWQ0G4sS_1EzHknl5pgYthJVeRBj";

static void smk_golden_vectors(void)
{
	static const struct {
		enum server_key which;
		const char *hex;
	} want[] = {
		{ SERVER_KEY_ACC_STATE, "d196f783f404b9241d72f6a16c55228a0c1237a8e328737892d541bf4e17cfea" },
		{ SERVER_KEY_ACC_ADDR_SALT, "045c8677aef980ed694730926a68dc7c" },
		{ SERVER_KEY_ACC_SHIELD, "95ae3b97d6d52c3bdaab41e9d5f396f1" },
		{ SERVER_KEY_ACC_INVITE, "3c94da7205e837e3595bee8e39e71dbfe8ede92241f6ed5946db7603a13c701b" },
		{ SERVER_KEY_STO_STATE, "243b9430a6bda1101a3e752a856ff9a42659e497ed658bdbe2650fbf3b5c2357" },
		{ SERVER_KEY_STO_NAME, "94ed168e51cc8a9555468b44d257ce840d77e84c8516e5184d8fd697cad1b5f5" },
		{ SERVER_KEY_API_MSGID, "06a8cbebda876439f7f905f89050edf69042cb787818d76e09d687a5294bf4db" },
	};
	uint8_t k[KEYS_KEY_BYTES];
	keys_smk_root(k, smk0);
	CHECK(hex_is(k, 32, "f167bcf5b6db25ef0d9c8bd07d33ab2f1740bb4e910519ad474e0907d1f8febe"));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		size_t len = keys_server_key_len(want[i].which);
		CHECK(len == strlen(want[i].hex) / 2);
		memset(k, 0, sizeof(k));
		CHECK(keys_smk_derive(k, len, want[i].which, smk0) == 0);
		CHECK(hex_is(k, len, want[i].hex));
	}
}

static void channel_pair_golden_vectors(void)
{
	static const struct {
		enum role c, s;
		const char *hex;
	} want[] = {
		{ ROLE_ACCOUNT, ROLE_STORAGE, "ec54ab55e1b9d8e9fdcdb1ac71c69d3df82cb49bfeadfc694e45fc73ab85c1d0" },
		{ ROLE_STORAGE, ROLE_ACCOUNT, "95f7981132e1286e452071801cdbba4df3db6d12ed073c771397ca7ed0e0f492" },
		{ ROLE_DELIVER, ROLE_STORAGE, "3f96417cd490722f4f203f1efb1b4217ccbf6b8c3f8508ef1e191479125519fc" },
		{ ROLE_DELIVER, ROLE_ENQUIRY, "6db4f8e156dca10175f966243e614c839b8d6fe9a5ad2ccf99ec939dfe871757" },
		{ ROLE_MTA, ROLE_ACCOUNT, "550ee355bc8cf20fd44224ede6f8aba3985077781e1ebef39cea2b02eb563fe3" },
		{ ROLE_MTA, ROLE_DELIVER, "52c6bab99a71679690aa13d1426aa19bde3d376d183b841df58239ffb3c3fd66" },
		{ ROLE_API, ROLE_ACCOUNT, "c068abbc5a1f7513a749513cb62e15aef39c9baa3bda0cc19e728ea98e63da4c" },
		{ ROLE_API, ROLE_STORAGE, "2606238966da5dbe6b98bd058160352da0851efd63cfe05e3f1188a3e6d89182" },
		{ ROLE_API, ROLE_ENQUIRY, "cb66e4da312d8d244a74509f728bbb9ab431638cdfb3eb90560f57eebb7fdfab" },
		{ ROLE_API, ROLE_OUTGOING, "0558a810217ebefc4cd8a0237ff5bae24bb148bf2b89f099e3cb7edc28ed3dd3" },
		{ ROLE_OUTGOING, ROLE_ENQUIRY, "7a8211c81d83200a142f08fce505c2e2adfdc84ab4e75d8b32349ca2ac283ea6" },
	};
	uint8_t k[KEYS_KEY_BYTES];
	int allowed = 0;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK(keys_channel_pair(k, want[i].c, want[i].s, smk0) == 0);
		CHECK(hex_is(k, 32, want[i].hex));
	}
	/* The golden list is exactly the allowed list. */
	for (int c = 0; c <= ROLE_MAX; c++)
		for (int s = 0; s <= ROLE_MAX; s++)
			allowed += role_channel_allowed(c, s);
	CHECK(allowed == (int)ARRAY_SIZE(want));
}

static void channel_pair_refuses_other_pairs(void)
{
	uint8_t k[KEYS_KEY_BYTES], untouched[KEYS_KEY_BYTES];
	memset(untouched, 0xAA, sizeof(untouched));
	for (int c = -1; c <= ROLE_MAX + 2; c++) {
		for (int s = -1; s <= ROLE_MAX + 2; s++) {
			bool ok = c >= 0 && s >= 0 && c <= ROLE_MAX && s <= ROLE_MAX &&
			          role_channel_allowed(c, s);
			memset(k, 0xAA, sizeof(k));
			int rc = keys_channel_pair(k, (enum role)c, (enum role)s, smk0);
			CHECK(rc == (ok ? 0 : -EINVAL));
			if (!ok)
				CHECK_MEM(k, untouched, sizeof(k));
		}
	}
	/* Direction matters: the reverse of an allowed pair is refused. */
	CHECK(keys_channel_pair(k, ROLE_ACCOUNT, ROLE_MTA, smk0) == -EINVAL);
	CHECK(keys_channel_pair(k, ROLE_WEB, ROLE_ACCOUNT, smk0) == -EINVAL);
}

static void smk_derive_rejects_bad_arguments(void)
{
	uint8_t k[KEYS_KEY_BYTES];
	CHECK(keys_smk_derive(k, 16, SERVER_KEY_ACC_STATE, smk0) == -EINVAL);
	CHECK(keys_smk_derive(k, 32, SERVER_KEY_ACC_ADDR_SALT, smk0) == -EINVAL);
	CHECK(keys_smk_derive(k, 0, SERVER_KEY_STO_NAME, smk0) == -EINVAL);
	CHECK(keys_smk_derive(k, 32, SERVER_KEY_CHANNEL, smk0) == -EINVAL);
	CHECK(keys_smk_derive(k, 32, SERVER_KEY_COUNT, smk0) == -EINVAL);
	CHECK(keys_smk_derive(k, 32, (enum server_key)-1, smk0) == -EINVAL);
	CHECK(keys_server_key_len(SERVER_KEY_COUNT) == 0);
	CHECK(strcmp(keys_server_key_ctx(SERVER_KEY_COUNT), "invalid") == 0);
	CHECK(strcmp(keys_server_key_ctx(SERVER_KEY_ACC_SHIELD), "acc-addr") == 0);
	CHECK(keys_server_key_id(SERVER_KEY_ACC_SHIELD) == 2);
}

static void umk_golden_vectors(void)
{
	static const char *const want[] = {
		"0ae365259f7e9c3acff59d2d8dcfacdbdd52eb03b759251b9b0c8ea612f84667",
		"cc2af05ad86d4bea1bd0603da6f5fed16ce0e5f2d263f358f349271094a75171",
		"ed3e4d106f10405aee3021b4aac9d95850ab4bb083752c676348f82afafcea10",
		"d666a1f49e8435ba3c949e46d2b7badfc98bd0984a0431d29dd9f110f4895abc",
	};
	uint8_t k[KEYS_KEY_BYTES], epk[KEYS_KEY_BYTES], esk[KEYS_KEY_BYTES];
	keys_umk_root(k, umk0);
	CHECK(hex_is(k, 32, "ec5689d20a8c56cfd30ad8c9347dec192fbe1d8a6df45620d6a03db6bfbb03ca"));
	for (int id = USER_KEY_UAK; id <= USER_KEY_UFK; id++) {
		CHECK(keys_umk_derive(k, (enum user_key)id, umk0) == 0);
		CHECK(hex_is(k, 32, want[id - 1]));
	}
	CHECK(keys_envelope_keypair(epk, esk, umk0) == 0);
	CHECK(hex_is(esk, 32, want[1]));
	CHECK(hex_is(epk, 32, "ff48cf243b6e0ada0994c48544e30e2acb0c11b98545735d6d2e5b27e8d8ad5c"));
	CHECK(keys_umk_derive(k, (enum user_key)0, umk0) == -EINVAL);
	CHECK(keys_umk_derive(k, (enum user_key)5, umk0) == -EINVAL);
}

/* Every key of the tree differs from every other (contexts and ids distinct). */
static void all_keys_distinct(void)
{
	uint8_t keys[64][KEYS_KEY_BYTES];
	int n = 0;
	memset(keys, 0, sizeof(keys));
	for (int w = 0; w < SERVER_KEY_CHANNEL; w++)
		CHECK(keys_smk_derive(keys[n++], keys_server_key_len(w), (enum server_key)w, smk0) == 0);
	for (int c = 1; c <= ROLE_MAX; c++)
		for (int s = 1; s <= ROLE_MAX; s++)
			if (role_channel_allowed(c, s))
				CHECK(keys_channel_pair(keys[n++], c, s, smk0) == 0);
	for (int id = USER_KEY_UAK; id <= USER_KEY_UFK; id++)
		CHECK(keys_umk_derive(keys[n++], (enum user_key)id, umk0) == 0);
	keys_smk_root(keys[n++], smk0);
	keys_umk_root(keys[n++], umk0);
	CHECK(n == 7 + 11 + 4 + 2);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			CHECK(memcmp(keys[i], keys[j], 16) != 0);
	/* A one-bit change of the master key changes the root. */
	uint8_t smk1[KEYS_SMK_BYTES], r0[32], r1[32];
	memcpy(smk1, smk0, sizeof(smk1));
	smk1[45] ^= 1;
	keys_smk_root(r0, smk0);
	keys_smk_root(r1, smk1);
	CHECK(memcmp(r0, r1, 32) != 0);
}

static void smk_text_form(void)
{
	static const char golden[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	                             "202122232425262728292a2b2c2d";
	char text[KEYS_SMK_TEXT_LEN + 1], bad[KEYS_SMK_TEXT_LEN + 2];
	uint8_t smk[KEYS_SMK_BYTES], sentinel[KEYS_SMK_BYTES];
	keys_smk_to_text(text, smk0);
	CHECK(strlen(text) == KEYS_SMK_TEXT_LEN);
	CHECK(strcmp(text, golden) == 0);
	CHECK(keys_smk_from_text(smk, text, strlen(text)) == 0);
	CHECK_MEM(smk, smk0, sizeof(smk));

	memset(sentinel, 0x5A, sizeof(sentinel));
	memcpy(smk, sentinel, sizeof(smk));
	CHECK(keys_smk_from_text(smk, text, KEYS_SMK_TEXT_LEN - 1) == -EINVAL);
	CHECK(keys_smk_from_text(smk, text, KEYS_SMK_TEXT_LEN - 2) == -EINVAL);
	CHECK(keys_smk_from_text(smk, text, 0) == -EINVAL);
	memcpy(bad, text, sizeof(text));
	bad[KEYS_SMK_TEXT_LEN] = '0';
	bad[KEYS_SMK_TEXT_LEN + 1] = '\0';
	CHECK(keys_smk_from_text(smk, bad, KEYS_SMK_TEXT_LEN + 1) == -EINVAL);
	static const char rejects[] = { 'A', 'F', 'g', ' ', '\n', ':', '\0', 'x' };
	for (size_t i = 0; i < sizeof(rejects); i++) {
		memcpy(bad, text, sizeof(text));
		bad[i * 11] = rejects[i];
		CHECK(keys_smk_from_text(smk, bad, KEYS_SMK_TEXT_LEN) == -EINVAL);
	}
	CHECK_MEM(smk, sentinel, sizeof(smk));
}

static void umk_text_form(void)
{
	static const char golden[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss";
	char text[KEYS_UMK_TEXT_LEN + 1], bad[KEYS_UMK_TEXT_LEN + 2];
	uint8_t umk[KEYS_UMK_BYTES], sentinel[KEYS_UMK_BYTES], r[KEYS_UMK_BYTES];
	keys_umk_to_text(text, umk0);
	CHECK(strcmp(text, golden) == 0);
	CHECK(keys_umk_from_text(umk, text, strlen(text)) == 0);
	CHECK_MEM(umk, umk0, sizeof(umk));
	/* '+' and '/' are in the alphabet: bytes fb ff bf encode as "+/+/". */
	for (int i = 0; i < 20; i++) {
		keys_umk_generate(r);
		r[0] = 0xfb;
		r[1] = 0xff;
		r[2] = 0xbf;
		keys_umk_to_text(text, r);
		CHECK(memcmp(text, "+/+/", 4) == 0);
		CHECK(keys_umk_from_text(umk, text, KEYS_UMK_TEXT_LEN) == 0);
		CHECK_MEM(umk, r, sizeof(r));
	}

	memset(sentinel, 0x5A, sizeof(sentinel));
	memcpy(umk, sentinel, sizeof(umk));
	CHECK(keys_umk_from_text(umk, golden, KEYS_UMK_TEXT_LEN - 4) == -EINVAL);
	CHECK(keys_umk_from_text(umk, golden, KEYS_UMK_TEXT_LEN - 1) == -EINVAL);
	memcpy(bad, golden, sizeof(golden));
	bad[KEYS_UMK_TEXT_LEN] = 'A';
	CHECK(keys_umk_from_text(umk, bad, KEYS_UMK_TEXT_LEN + 1) == -EINVAL);
	static const char rejects[] = { '-', '_', '=', ' ', '\n', '\0', '.', '*' };
	for (size_t i = 0; i < sizeof(rejects); i++) {
		memcpy(bad, golden, sizeof(golden));
		bad[i * 7 + 3] = rejects[i];
		CHECK(keys_umk_from_text(umk, bad, KEYS_UMK_TEXT_LEN) == -EINVAL);
	}
	/* Padding at the end of a 60-character text would mean a shorter key. */
	memcpy(bad, golden, sizeof(golden));
	bad[58] = '=';
	bad[59] = '=';
	CHECK(keys_umk_from_text(umk, bad, KEYS_UMK_TEXT_LEN) == -EINVAL);
	CHECK_MEM(umk, sentinel, sizeof(umk));
}

/* libsodium 1.0.18 decodes bytes >= 0x80 as if they were '/': the parser must
 * not accept them (found by fuzz_textforms). */
static void umk_text_refuses_high_bit_bytes(void)
{
	char text[KEYS_UMK_TEXT_LEN + 1];
	uint8_t umk[KEYS_UMK_BYTES], back[KEYS_UMK_BYTES];
	for (size_t i = 0; i < sizeof(umk); i++)
		umk[i] = (uint8_t)(7 * i + 1);
	keys_umk_to_text(text, umk);
	CHECK(keys_umk_from_text(back, text, KEYS_UMK_TEXT_LEN) == 0);
	for (size_t pos = 0; pos < KEYS_UMK_TEXT_LEN; pos++) {
		char bad[KEYS_UMK_TEXT_LEN];
		memcpy(bad, text, sizeof(bad));
		bad[pos] = (char)0x91;
		CHECK(keys_umk_from_text(back, bad, KEYS_UMK_TEXT_LEN) == -EINVAL);
		bad[pos] = (char)0xff;
		CHECK(keys_umk_from_text(back, bad, KEYS_UMK_TEXT_LEN) == -EINVAL);
	}
}

static void generate_gives_fresh_keys(void)
{
	uint8_t a[KEYS_SMK_BYTES], b[KEYS_SMK_BYTES], c[KEYS_UMK_BYTES], d[KEYS_UMK_BYTES];
	keys_smk_generate(a);
	keys_smk_generate(b);
	keys_umk_generate(c);
	keys_umk_generate(d);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(c, d, sizeof(c)) != 0);
}

static void filename_golden_and_bijective(void)
{
	uint8_t key[KEYS_KEY_BYTES];
	char perm[KEYS_FILENAME_CHARS], name[KEYS_FILENAME_LEN + 1];
	static bool seen[KEYS_FILENAME_CHARS * KEYS_FILENAME_CHARS];
	CHECK(keys_smk_derive(key, sizeof(key), SERVER_KEY_STO_NAME, smk0) == 0);
	keys_filename_perm(perm, key);
	CHECK(memcmp(perm, golden_perm, KEYS_FILENAME_CHARS) == 0);

	static const struct {
		uint16_t uid;
		const char *name;
	} ex[] = { { 0, "ff" }, { 1, "xf" }, { 63, "jf" }, { 64, "fx" }, { 100, "Xx" }, { 4095, "jj" } };
	for (size_t i = 0; i < ARRAY_SIZE(ex); i++) {
		CHECK(keys_user_filename(name, ex[i].uid, key) == 0);
		CHECK(strcmp(name, ex[i].name) == 0);
	}

	memset(seen, 0, sizeof(seen));
	for (unsigned uid = 0; uid < KEYS_MAX_USERS; uid++) {
		uint16_t back = 0xFFFF;
		CHECK(keys_user_filename_perm(name, (uint16_t)uid, perm) == 0);
		CHECK(strlen(name) == 2);
		const char *a = strchr(KEYS_FILENAME_ALPHABET, name[0]);
		const char *b = strchr(KEYS_FILENAME_ALPHABET, name[1]);
		CHECK(a && b);
		if (a && b) {
			size_t idx = (size_t)(a - KEYS_FILENAME_ALPHABET) * 64 + (size_t)(b - KEYS_FILENAME_ALPHABET);
			CHECK(!seen[idx]);
			seen[idx] = true;
		}
		CHECK(keys_filename_uid(&back, name, 2, perm) == 0);
		CHECK(back == uid);
	}
}

static void filename_rejects_bad_input(void)
{
	uint8_t key[KEYS_KEY_BYTES];
	char perm[KEYS_FILENAME_CHARS], name[KEYS_FILENAME_LEN + 1] = "zz";
	uint16_t uid = 77;
	CHECK(keys_smk_derive(key, sizeof(key), SERVER_KEY_STO_NAME, smk0) == 0);
	keys_filename_perm(perm, key);
	CHECK(keys_user_filename(name, 4096, key) == -EINVAL);
	CHECK(keys_user_filename(name, 0xFFFF, key) == -EINVAL);
	CHECK(keys_user_filename_perm(name, 4096, perm) == -EINVAL);
	CHECK(strcmp(name, "zz") == 0);
	CHECK(keys_filename_uid(&uid, "ff", 1, perm) == -EINVAL);
	CHECK(keys_filename_uid(&uid, "fff", 3, perm) == -EINVAL);
	CHECK(keys_filename_uid(&uid, "f/", 2, perm) == -EINVAL);
	CHECK(keys_filename_uid(&uid, "-f", 2, perm) == -EINVAL);
	CHECK(keys_filename_uid(&uid, "f\0", 2, perm) == -EINVAL);
	CHECK(uid == 77);
}

/* A different key gives a different permutation, and each is a permutation. */
static void filename_perm_depends_on_key(void)
{
	uint8_t key[KEYS_KEY_BYTES];
	char p1[KEYS_FILENAME_CHARS], p2[KEYS_FILENAME_CHARS];
	randombytes_buf(key, sizeof(key));
	keys_filename_perm(p1, key);
	key[0] ^= 1;
	keys_filename_perm(p2, key);
	CHECK(memcmp(p1, p2, sizeof(p1)) != 0);
	for (int i = 0; i < KEYS_FILENAME_CHARS; i++) {
		CHECK(memchr(p1, KEYS_FILENAME_ALPHABET[i], sizeof(p1)) != NULL);
		CHECK(memchr(p2, KEYS_FILENAME_ALPHABET[i], sizeof(p2)) != NULL);
	}
}

static bool item_is(const struct keys_item *it, enum server_key w, enum role c, enum role s)
{
	return it->which == w && it->client == c && it->server == s;
}

static void role_bundles(void)
{
	struct keys_item it[KEYS_BUNDLE_MAX];
	CHECK(keys_role_bundle(it, ROLE_ACCOUNT) == 8);
	CHECK(item_is(&it[0], SERVER_KEY_ACC_STATE, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[1], SERVER_KEY_ACC_ADDR_SALT, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[2], SERVER_KEY_ACC_SHIELD, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[3], SERVER_KEY_ACC_INVITE, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[4], SERVER_KEY_CHANNEL, ROLE_ACCOUNT, ROLE_STORAGE));
	CHECK(item_is(&it[5], SERVER_KEY_CHANNEL, ROLE_STORAGE, ROLE_ACCOUNT));
	CHECK(item_is(&it[6], SERVER_KEY_CHANNEL, ROLE_MTA, ROLE_ACCOUNT));
	CHECK(item_is(&it[7], SERVER_KEY_CHANNEL, ROLE_API, ROLE_ACCOUNT));

	CHECK(keys_role_bundle(it, ROLE_STORAGE) == 6);
	CHECK(item_is(&it[0], SERVER_KEY_STO_STATE, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[1], SERVER_KEY_STO_NAME, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[2], SERVER_KEY_CHANNEL, ROLE_ACCOUNT, ROLE_STORAGE));
	CHECK(item_is(&it[3], SERVER_KEY_CHANNEL, ROLE_STORAGE, ROLE_ACCOUNT));
	CHECK(item_is(&it[4], SERVER_KEY_CHANNEL, ROLE_DELIVER, ROLE_STORAGE));
	CHECK(item_is(&it[5], SERVER_KEY_CHANNEL, ROLE_API, ROLE_STORAGE));

	CHECK(keys_role_bundle(it, ROLE_DELIVER) == 3);
	CHECK(item_is(&it[0], SERVER_KEY_CHANNEL, ROLE_DELIVER, ROLE_STORAGE));
	CHECK(item_is(&it[1], SERVER_KEY_CHANNEL, ROLE_DELIVER, ROLE_ENQUIRY));
	CHECK(item_is(&it[2], SERVER_KEY_CHANNEL, ROLE_MTA, ROLE_DELIVER));

	CHECK(keys_role_bundle(it, ROLE_ENQUIRY) == 3);
	CHECK(item_is(&it[0], SERVER_KEY_CHANNEL, ROLE_DELIVER, ROLE_ENQUIRY));
	CHECK(item_is(&it[1], SERVER_KEY_CHANNEL, ROLE_API, ROLE_ENQUIRY));
	CHECK(item_is(&it[2], SERVER_KEY_CHANNEL, ROLE_OUTGOING, ROLE_ENQUIRY));

	CHECK(keys_role_bundle(it, ROLE_MTA) == 2);
	CHECK(item_is(&it[0], SERVER_KEY_CHANNEL, ROLE_MTA, ROLE_ACCOUNT));
	CHECK(item_is(&it[1], SERVER_KEY_CHANNEL, ROLE_MTA, ROLE_DELIVER));

	CHECK(keys_role_bundle(it, ROLE_API) == 4);
	CHECK(item_is(&it[0], SERVER_KEY_CHANNEL, ROLE_API, ROLE_ACCOUNT));
	CHECK(item_is(&it[1], SERVER_KEY_CHANNEL, ROLE_API, ROLE_STORAGE));
	CHECK(item_is(&it[2], SERVER_KEY_CHANNEL, ROLE_API, ROLE_ENQUIRY));
	CHECK(item_is(&it[3], SERVER_KEY_CHANNEL, ROLE_API, ROLE_OUTGOING));

	CHECK(keys_role_bundle(it, ROLE_WEB) == 0);

	CHECK(keys_role_bundle(it, ROLE_OUTGOING) == 3);
	CHECK(item_is(&it[0], SERVER_KEY_API_MSGID, ROLE_NONE, ROLE_NONE));
	CHECK(item_is(&it[1], SERVER_KEY_CHANNEL, ROLE_API, ROLE_OUTGOING));
	CHECK(item_is(&it[2], SERVER_KEY_CHANNEL, ROLE_OUTGOING, ROLE_ENQUIRY));

	CHECK(keys_role_bundle(it, ROLE_NONE) == -EINVAL);
	CHECK(keys_role_bundle(it, (enum role)(ROLE_MAX + 1)) == -EINVAL);

	CHECK(keys_role_holds(ROLE_ACCOUNT, SERVER_KEY_ACC_SHIELD));
	CHECK(!keys_role_holds(ROLE_STORAGE, SERVER_KEY_ACC_SHIELD));
	CHECK(!keys_role_holds(ROLE_API, SERVER_KEY_ACC_ADDR_SALT));
	CHECK(!keys_role_holds(ROLE_ACCOUNT, SERVER_KEY_CHANNEL));
	CHECK(!keys_role_holds(ROLE_NONE, SERVER_KEY_STO_NAME));
	CHECK(!keys_role_holds(ROLE_STORAGE, SERVER_KEY_COUNT));
}

static void bundle_items_derive_the_table_keys(void)
{
	struct keys_item it[KEYS_BUNDLE_MAX];
	uint8_t a[KEYS_KEY_BYTES], b[KEYS_KEY_BYTES];
	for (int r = 1; r <= ROLE_MAX; r++) {
		int n = keys_role_bundle(it, (enum role)r);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			size_t len = keys_item_len(&it[i]);
			CHECK(len == 16 || len == 32);
			CHECK(keys_item_derive(a, len, &it[i], smk0) == 0);
			if (it[i].which == SERVER_KEY_CHANNEL)
				CHECK(keys_channel_pair(b, it[i].client, it[i].server, smk0) == 0);
			else
				CHECK(keys_smk_derive(b, len, it[i].which, smk0) == 0);
			CHECK_MEM(a, b, len);
			CHECK(keys_item_derive(a, len + 1, &it[i], smk0) == -EINVAL);
		}
	}
	struct keys_item bad = { SERVER_KEY_CHANNEL, ROLE_WEB, ROLE_ACCOUNT };
	CHECK(keys_item_derive(a, 32, &bad, smk0) == -EINVAL);
	struct keys_item mixed = { SERVER_KEY_ACC_STATE, ROLE_API, ROLE_ACCOUNT };
	CHECK(keys_item_derive(a, 32, &mixed, smk0) == -EINVAL);
}

int main(void)
{
	check_init();
	fill_vectors();
	RUN(smk_golden_vectors);
	RUN(channel_pair_golden_vectors);
	RUN(channel_pair_refuses_other_pairs);
	RUN(smk_derive_rejects_bad_arguments);
	RUN(umk_golden_vectors);
	RUN(all_keys_distinct);
	RUN(smk_text_form);
	RUN(umk_text_form);
	RUN(umk_text_refuses_high_bit_bytes);
	RUN(generate_gives_fresh_keys);
	RUN(filename_golden_and_bijective);
	RUN(filename_rejects_bad_input);
	RUN(filename_perm_depends_on_key);
	RUN(role_bundles);
	RUN(bundle_items_derive_the_table_keys);
	return check_finish();
}
