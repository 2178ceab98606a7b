/* test_apireq.c: API request cryptography and codecs: golden vectors (also
 * recomputed by tests/cross/test_apireq_cross.py and shown in PROTOCOL.md
 * 12.10), every tampering, the response padding rules, invitations and
 * registration, every command's argument layout with each rejection, and the
 * ACC_API channel message. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "common/apireq.h"
#include "common/bytes.h"
#include "common/chanmsg.h"

#define TS 1767225600000ull
#define UID 291

static uint8_t uak[32];
static uint8_t nonce_req[24], nonce_resp[24], nonce_reg[24];

static void setup(void)
{
	for (int i = 0; i < 32; i++)
		uak[i] = (uint8_t)i;
	for (int i = 0; i < 24; i++) {
		nonce_req[i] = (uint8_t)(0x40 + i);
		nonce_resp[i] = (uint8_t)(0x60 + i);
		nonce_reg[i] = (uint8_t)(0x80 + i);
	}
}

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	int n = check_unhex(hex, out, max);
	return n < 0 ? 0 : (size_t)n;
}

/* ---- golden vectors ---- */

static void golden_url_and_keys(void)
{
	char t[APIREQ_URL_TEXT_LEN + 1];
	uint8_t kr[32], ks[32], want[32];
	uint64_t ts;
	uint16_t uid;
	apireq_url_to_text(t, TS, UID);
	CHECK(strcmp(t, "AKjadpsBAAAjAQ") == 0);
	CHECK(apireq_url_from_text(t, strlen(t), &ts, &uid) == 0 && ts == TS && uid == UID);
	apireq_keys(kr, ks, uak, TS, UID);
	unhex("5edbd379f35732261e7f8e9742b010bd9e627e5aabe53e5887610ac71e8756a7", want, 32);
	CHECK_MEM(kr, want, 32);
	unhex("5a74cd43ea01a2792f1abbcecf61c8e4af137a2152abd03b6863a53a3c62f67e", want, 32);
	CHECK_MEM(ks, want, 32);
	/* Either output alone gives the same value. */
	memset(kr, 0, 32);
	apireq_keys(kr, NULL, uak, TS, UID);
	apireq_keys(NULL, ks, uak, TS, UID);
	CHECK_MEM(ks, want, 32);
}

static void golden_request(void)
{
	uint8_t body[42], want[42], plain[2];
	size_t n;
	CHECK(apireq_body_len(0) == 42);
	CHECK(apireq_seal_with_nonce(body, sizeof(body), uak, TS, UID, APIREQ_ACCOUNT_INFO, 0, NULL,
	                             0, nonce_req) == 0);
	unhex("404142434445464748494a4b4c4d4e4f5051525354555657aab94685828b90467561ecaae6c4e52f9958",
	      want, sizeof(want));
	CHECK_MEM(body, want, sizeof(want));
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS, UID, body, sizeof(body)) == 0);
	CHECK(n == 2 && plain[0] == 1 && plain[1] == 0);
}

static const char golden_resp_hex[] =
	"606162636465666768696a6b6c6d6e6f7071727374757677a25fb9a2a33b91a391b1d7e403f32ded2e1b3dddaf"
	"b2ac047cc5cd21017d2a7573034a6476eed5fdcdbae3943f774f6f0aa525bad560834961248aac2004ec4ab890"
	"c4b8ff4d48b35c6d68240fd8ceb7d0b873b0c827571e1b4db8a889280ba88540000d35c749c1e9e240e7a52ba6"
	"45916d686b78e75fc61f50d350c8ddd022817e96224178da15a9c9261acf659374200ceb696c5bbe5c57017354"
	"4ea55eaa7c763fb67b3abbe23111a212138cc66b6210633154611b339e0992b68ff23f826fbbf130ba4b73b190"
	"e93006a3c6894808575080286d2fd2f62b50904d6b6037f643edc711162bb98b0c204ba10eff99dce9a17878ca"
	"2b5ff5ce0cb6dd613ae6a8b84c117a18c2cf97130f5c85a6669a";

static void golden_response(void)
{
	uint8_t ks[32], body[296], want[296], plain[256];
	const uint8_t *data;
	size_t dlen;
	uint8_t status;
	apireq_keys(NULL, ks, uak, TS, UID);
	CHECK(apireq_response_len(2) == 296);
	CHECK(apireq_response_seal_with_nonce(body, sizeof(body), ks, TS, UID, 0,
	                                      (const uint8_t *)"ok", 2, nonce_resp) == 0);
	CHECK(unhex(golden_resp_hex, want, sizeof(want)) == sizeof(want));
	CHECK_MEM(body, want, sizeof(want));
	CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID, body, sizeof(body), &status,
	                           &data, &dlen) == 0);
	CHECK(status == 0 && dlen == 2 && memcmp(data, "ok", 2) == 0);
}

static const uint8_t golden_epk_hex[] =
	"ff48cf243b6e0ada0994c48544e30e2acb0c11b98545735d6d2e5b27e8d8ad5c";

static void golden_registration(void)
{
	uint8_t inv[32], id[16], kinv[32], want[122], body[122], epk[32], uak2[32], epk2[32];
	char text[APIREQ_INVITE_TEXT_LEN + 1];
	uint16_t wanted;
	for (int i = 0; i < 32; i++)
		inv[i] = (uint8_t)(0xa0 + i);
	unhex((const char *)golden_epk_hex, epk, 32);
	apireq_invite_to_text(text, inv);
	CHECK(strcmp(text, "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8") == 0);
	apireq_invite_id(id, inv);
	unhex("bd521698e4475792a43bbe82924ef560", want, 16);
	CHECK_MEM(id, want, 16);
	apireq_invite_key(kinv, inv);
	unhex("ed77cd1d0c56ee0c60c09dfb5c373175fe0b893d3c303358e6ad06388e6c8bb8", want, 32);
	CHECK_MEM(kinv, want, 32);
	CHECK(apireq_register_seal_with_nonce(body, inv, TS, APIREQ_UID_REGISTER, 0xFFFF, uak, epk,
	                                      nonce_reg) == 0);
	unhex("bd521698e4475792a43bbe82924ef560808182838485868788898a8b8c8d8e8f9091929394959697"
	      "09f25eda0225ed7049fc218f53382c7bcde007616c7f3cfe2f818305aac318f1bd03073bbbd3f7d3"
	      "18db2313e779e36558dcaf8146505c3ce5b58abed35633f553815bd90602cdbab74c5e40df655370"
	      "47d8",
	      want, sizeof(want));
	CHECK_MEM(body, want, sizeof(want));
	CHECK(apireq_register_open(kinv, TS, APIREQ_UID_REGISTER, body, sizeof(body), &wanted, uak2,
	                           epk2) == 0);
	CHECK(wanted == 0xFFFF);
	CHECK_MEM(uak2, uak, 32);
	CHECK_MEM(epk2, epk, 32);
	uint8_t ks[32];
	apireq_keys(NULL, ks, kinv, TS, APIREQ_UID_REGISTER);
	unhex("31facc6e0096b132ae97f845c689b3e35487af369e0d3e80c8c65f20611928e1", want, 32);
	CHECK_MEM(ks, want, 32);
}

/* ---- tampering ---- */

static void request_tamper(void)
{
	uint8_t args[5] = { 1, 2, 3, 4, 5 };
	uint8_t body[47], t[47], plain[64], other[32];
	size_t n;
	CHECK(apireq_seal(body, sizeof(body), uak, TS, UID, 7, 0, args, sizeof(args)) == 0);
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS, UID, body, sizeof(body)) == 0);
	CHECK(n == 7 && plain[0] == 7 && memcmp(plain + 2, args, 5) == 0);
	/* Every single flipped bit, anywhere: nonce, ciphertext, tag. */
	int fails = 0;
	for (size_t i = 0; i < sizeof(body) * 8; i++) {
		memcpy(t, body, sizeof(body));
		t[i / 8] ^= (uint8_t)(1u << (i % 8));
		memset(plain, 0xAA, sizeof(plain));
		fails += apireq_open(plain, sizeof(plain), &n, uak, TS, UID, t, sizeof(t)) == -EBADMSG &&
		         sodium_is_zero(plain, 7);
	}
	CHECK(fails == (int)sizeof(body) * 8);
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS, UID + 1, body, sizeof(body)) == -EBADMSG);
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS + 1, UID, body, sizeof(body)) == -EBADMSG);
	memcpy(other, uak, 32);
	other[31] ^= 1;
	CHECK(apireq_open(plain, sizeof(plain), &n, other, TS, UID, body, sizeof(body)) == -EBADMSG);
	/* A response key never opens a request, nor the reverse. */
	uint8_t ks[32];
	apireq_keys(NULL, ks, uak, TS, UID);
	CHECK(apireq_open(plain, sizeof(plain), &n, ks, TS, UID, body, sizeof(body)) == -EBADMSG);
	/* Lengths. */
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS, UID, body, 41) == -EINVAL);
	CHECK(apireq_open(plain, 6, &n, uak, TS, UID, body, sizeof(body)) == -EINVAL);
	CHECK(apireq_open(plain, sizeof(plain), &n, uak, TS, UID, body, APIREQ_BODY_MAX + 1) ==
	      -EINVAL);
	CHECK(apireq_seal(body, 46, uak, TS, UID, 7, 0, args, 5) == -EINVAL);
	CHECK(apireq_seal(body, sizeof(body), uak, TS, UID, 7, 0, NULL, 5) == -EINVAL);
	CHECK(apireq_body_len(APIREQ_ARGS_MAX) == APIREQ_BODY_MAX);
	CHECK(apireq_body_len(APIREQ_ARGS_MAX + 1) == 0);
}

static void response_rules(void)
{
	uint8_t ks[32], data[600], body[40 + 768], plain[768];
	const uint8_t *d;
	size_t dlen;
	uint8_t status;
	apireq_keys(NULL, ks, uak, TS, UID);
	randombytes_buf(data, sizeof(data));
	/* Sizes are whole blocks of 256: 5 + n rounded up. */
	CHECK(apireq_response_len(0) == 40 + 256);
	CHECK(apireq_response_len(251) == 40 + 256);
	CHECK(apireq_response_len(252) == 40 + 512);
	CHECK(apireq_response_len(APIREQ_RESP_DATA_MAX + 1) == 0);
	size_t sizes[] = { 0, 1, 251, 252, 507, 508, 600 };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i], blen = apireq_response_len(n);
		CHECK(blen <= sizeof(body));
		CHECK(apireq_response_seal(body, blen, ks, TS, UID, 3, data, n) == 0);
		CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID, body, blen, &status, &d,
		                           &dlen) == 0);
		CHECK(status == 3 && dlen == n && (n == 0 || memcmp(d, data, n) == 0));
		body[blen - 1] ^= 1;
		CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID, body, blen, &status, &d,
		                           &dlen) == -EBADMSG);
	}
	CHECK(apireq_response_seal(body, 296, ks, TS, UID, 0, data, 1) == 0);
	CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID ^ 1, body, 296, &status, &d,
	                           &dlen) == -EBADMSG);
	CHECK(apireq_response_open(plain, sizeof(plain), ks, TS + 1, UID, body, 296, &status, &d,
	                           &dlen) == -EBADMSG);
	CHECK(apireq_response_open(plain, sizeof(plain), uak, TS, UID, body, 296, &status, &d,
	                           &dlen) == -EBADMSG);
	/* Lengths that are not whole blocks, too short, or a short buffer. */
	CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID, body, 295, &status, &d,
	                           &dlen) == -EINVAL);
	CHECK(apireq_response_open(plain, sizeof(plain), ks, TS, UID, body, 40, &status, &d,
	                           &dlen) == -EINVAL);
	CHECK(apireq_response_open(plain, 255, ks, TS, UID, body, 296, &status, &d, &dlen) == -EINVAL);
	CHECK(apireq_response_seal(body, 297, ks, TS, UID, 0, data, 1) == -EINVAL);
}

/* Non-canonical plaintexts, sealed by hand under the right key. */
static void seal_raw(uint8_t *body, const uint8_t *plain, size_t plen, const uint8_t ks[32])
{
	uint8_t ad[33];
	memcpy(ad, APIREQ_LABEL_AD_RESP, 23);
	apireq_url_pack(ad + 23, TS, UID);
	memcpy(body, nonce_resp, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(body + 24, NULL, plain, plen, ad, sizeof(ad), NULL,
	                                           body, ks);
}

static void response_noncanonical(void)
{
	uint8_t ks[32], p[512], body[40 + 512], out[512];
	const uint8_t *d;
	size_t dlen;
	uint8_t status;
	apireq_keys(NULL, ks, uak, TS, UID);
	/* Dirty padding. */
	memset(p, 0, sizeof(p));
	le32_store(p + 1, 2);
	p[100] = 1;
	seal_raw(body, p, 256, ks);
	CHECK(apireq_response_open(out, sizeof(out), ks, TS, UID, body, 296, &status, &d, &dlen) ==
	      -EBADMSG);
	/* A whole block more than needed. */
	p[100] = 0;
	seal_raw(body, p, 512, ks);
	CHECK(apireq_response_open(out, sizeof(out), ks, TS, UID, body, 552, &status, &d, &dlen) ==
	      -EBADMSG);
	/* Length beyond the plaintext. */
	le32_store(p + 1, 252);
	seal_raw(body, p, 256, ks);
	CHECK(apireq_response_open(out, sizeof(out), ks, TS, UID, body, 296, &status, &d, &dlen) ==
	      -EBADMSG);
	/* The longest that fits is fine. */
	le32_store(p + 1, 251);
	seal_raw(body, p, 256, ks);
	CHECK(apireq_response_open(out, sizeof(out), ks, TS, UID, body, 296, &status, &d, &dlen) == 0 &&
	      dlen == 251);
}

/* ---- text forms ---- */

static void url_text_rules(void)
{
	uint64_t ts = 1;
	uint16_t uid = 1;
	char t[APIREQ_URL_TEXT_LEN + 1];
	apireq_url_to_text(t, UINT64_MAX, 0xFFFF);
	CHECK(strcmp(t, "_____________w") == 0);
	CHECK(apireq_url_from_text(t, 14, &ts, &uid) == 0 && ts == UINT64_MAX && uid == 0xFFFF);
	apireq_url_to_text(t, 0, 0);
	CHECK(strcmp(t, "AAAAAAAAAAAAAA") == 0);
	CHECK(apireq_url_from_text("AAAAAAAAAAAAAB", 14, &ts, &uid) == -EINVAL); /* low bits set */
	CHECK(apireq_url_from_text("AAAAAAAAAAAAAQ", 14, &ts, &uid) == 0 && ts == 0 && uid == 256);
	CHECK(apireq_url_from_text("AAAAAAAAAAAAA", 13, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAAAAA", 15, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA+A", 14, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA/A", 14, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA=A", 14, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA A", 14, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA\xc0" "A", 14, &ts, &uid) == -EINVAL);
	CHECK(apireq_url_from_text("AAAAAAAAAAAA\0A", 14, &ts, &uid) == -EINVAL);
	CHECK(ts == 0 && uid == 256); /* failures wrote nothing */
}

static void invite_text_rules(void)
{
	uint8_t inv[32], back[32];
	char t[APIREQ_INVITE_TEXT_LEN + 1];
	for (int i = 0; i < 50; i++) {
		apireq_invite_new(inv);
		apireq_invite_to_text(t, inv);
		CHECK(strlen(t) == 43);
		CHECK(apireq_invite_from_text(back, t, 43) == 0);
		CHECK_MEM(back, inv, 32);
	}
	memset(inv, 0, 32);
	apireq_invite_to_text(t, inv);
	CHECK(strcmp(t, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == 0);
	t[42] = 'B'; /* the last 2 bits must be zero */
	CHECK(apireq_invite_from_text(back, t, 43) == -EINVAL);
	t[42] = 'E';
	CHECK(apireq_invite_from_text(back, t, 43) == 0 && back[31] == 1);
	CHECK(apireq_invite_from_text(back, t, 42) == -EINVAL);
	t[5] = '+';
	CHECK(apireq_invite_from_text(back, t, 43) == -EINVAL);
	t[5] = '\xff';
	CHECK(apireq_invite_from_text(back, t, 43) == -EINVAL);
}

static void registration_rules(void)
{
	uint8_t inv[32], kinv[32], body[122], t[122], epk[32], u2[32], e2[32], zero[32] = { 0 };
	uint16_t w;
	apireq_invite_new(inv);
	apireq_invite_key(kinv, inv);
	randombytes_buf(epk, 32);
	CHECK(apireq_register_seal(body, inv, TS, 5, 7, uak, epk) == -EINVAL); /* URL uid */
	CHECK(apireq_register_seal(body, inv, TS, APIREQ_UID_REGISTER, 4096, uak, epk) == -EINVAL);
	CHECK(apireq_register_seal(body, inv, TS, APIREQ_UID_REGISTER, 7, zero, epk) == -EINVAL);
	CHECK(apireq_register_seal(body, inv, TS, APIREQ_UID_REGISTER, 4095, uak, epk) == 0);
	CHECK(apireq_register_open(kinv, TS, APIREQ_UID_REGISTER, body, 122, &w, u2, e2) == 0 &&
	      w == 4095);
	int fails = 0;
	for (size_t i = 0; i < sizeof(body) * 8; i++) {
		memcpy(t, body, sizeof(body));
		t[i / 8] ^= (uint8_t)(1u << (i % 8));
		fails += apireq_register_open(kinv, TS, APIREQ_UID_REGISTER, t, 122, &w, u2, e2) ==
		         -EBADMSG;
	}
	CHECK(fails == 122 * 8);
	CHECK(apireq_register_open(kinv, TS + 1, APIREQ_UID_REGISTER, body, 122, &w, u2, e2) ==
	      -EBADMSG);
	CHECK(apireq_register_open(kinv, TS, 4095, body, 122, &w, u2, e2) == -EINVAL);
	CHECK(apireq_register_open(kinv, TS, APIREQ_UID_REGISTER, body, 121, &w, u2, e2) == -EINVAL);
	CHECK(apireq_register_open(uak, TS, APIREQ_UID_REGISTER, body, 122, &w, u2, e2) == -EBADMSG);
	/* Another invitation's id in front does not open either. */
	uint8_t inv2[32];
	apireq_invite_new(inv2);
	memcpy(t, body, 122);
	apireq_invite_id(t, inv2);
	CHECK(apireq_register_open(kinv, TS, APIREQ_UID_REGISTER, t, 122, &w, u2, e2) == -EBADMSG);
}

/* ---- command arguments ---- */

/* Decodes hex; on success re-encodes and compares. Returns decode's rc. */
static int args_hex(const char *hex, struct apireq_args *ret)
{
	uint8_t buf[256];
	struct apireq_args a;
	size_t n = unhex(hex, buf, sizeof(buf));
	int rc = apireq_args_decode(&a, buf, n);
	if (rc == 0) {
		struct wr w = WR_INIT;
		CHECK(apireq_args_encode(&w, &a) == 0);
		CHECK(w.len == n && memcmp(w.p, buf, n) == 0);
		wr_free(&w);
		if (ret)
			*ret = a;
	}
	return rc;
}

static void args_no_arguments(void)
{
	static const uint8_t cmds[] = { APIREQ_ACCOUNT_INFO, APIREQ_ACCOUNT_DELETE,
		                            APIREQ_PRIVATE_GET, APIREQ_ADDRESS_ADD_SHIELD,
		                            APIREQ_MSG_EMPTY, APIREQ_ADMIN_LIST_USERS };
	for (size_t i = 0; i < sizeof(cmds); i++) {
		uint8_t p[3] = { cmds[i], 0, 0 };
		struct apireq_args a;
		CHECK(apireq_args_decode(&a, p, 2) == 0 && a.cmd == cmds[i]);
		CHECK(apireq_args_decode(&a, p, 3) == -EBADMSG); /* trailing byte */
		p[1] = 1;
		CHECK(apireq_args_decode(&a, p, 2) == -EBADMSG); /* flags */
		CHECK(apireq_args_decode(&a, p, 1) == -EBADMSG); /* no flags byte */
	}
	struct apireq_args a;
	CHECK(apireq_args_decode(&a, (const uint8_t *)"", 0) == -EBADMSG);
	/* Unknown commands. */
	static const uint8_t unknown[] = { 0, 9, 15, 21, 31, 37, 255 };
	for (size_t i = 0; i < sizeof(unknown); i++) {
		uint8_t p[2] = { unknown[i], 0 };
		CHECK(apireq_args_decode(&a, p, 2) == -EBADMSG);
	}
}

static void args_private(void)
{
	static uint8_t p[2 + APIREQ_PRIVATE_MAX + 1];
	struct apireq_args a;
	p[0] = APIREQ_PRIVATE_SET;
	CHECK(apireq_args_decode(&a, p, 2) == 0 && a.u.priv.len == 0 && a.u.priv.p == NULL);
	CHECK(apireq_args_decode(&a, p, 2 + APIREQ_PRIVATE_MAX) == 0 &&
	      a.u.priv.len == APIREQ_PRIVATE_MAX && a.u.priv.p == p + 2);
	CHECK(apireq_args_decode(&a, p, 2 + APIREQ_PRIVATE_MAX + 1) == -EBADMSG);
	struct wr w = WR_INIT;
	a.u.priv.len = APIREQ_PRIVATE_MAX + 1;
	CHECK(apireq_args_encode(&w, &a) == -EINVAL && w.len == 0);
}

static void args_addresses(void)
{
	struct apireq_args a;
	CHECK(args_hex("0500" "0102030405060708", &a) == 0 && a.u.addr.hash[7] == 8 &&
	      a.u.addr.kind == APIREQ_KIND_NORMAL);
	CHECK(args_hex("0500" "01020304050607", NULL) == -EBADMSG);
	CHECK(args_hex("0500" "010203040506070809", NULL) == -EBADMSG);
	CHECK(args_hex("0700" "0102030405060708" "01", &a) == 0 && a.u.addr.kind == 1);
	CHECK(args_hex("0700" "0102030405060708" "00", NULL) == 0);
	CHECK(args_hex("0700" "0102030405060708" "02", NULL) == -EBADMSG);
	CHECK(args_hex("0700" "0102030405060708", NULL) == -EBADMSG);
	CHECK(args_hex("0800" "0102030405060708" "00" "3f", &a) == 0 && a.u.addr.flags == 0x3F);
	CHECK(args_hex("0800" "0102030405060708" "01" "40", NULL) == -EBADMSG);
	CHECK(args_hex("0800" "0102030405060708" "01" "80", NULL) == -EBADMSG);
	CHECK(args_hex("0800" "0102030405060708" "02" "00", NULL) == -EBADMSG);
	CHECK(args_hex("0800" "0102030405060708" "00" "00" "00", NULL) == -EBADMSG);
}

static void args_messages(void)
{
	struct apireq_args a;
	CHECK(args_hex("1000" "03" "00" "05000000" "00000001" "00100000", &a) == 0 &&
	      a.u.browse.flags == 3 && a.u.browse.from_id == 5 &&
	      a.u.browse.max_bytes == APIREQ_BROWSE_MAX_BYTES &&
	      a.u.browse.max_count == APIREQ_BROWSE_MAX_COUNT);
	CHECK(args_hex("1000" "04" "00" "05000000" "00000000" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("1000" "00" "01" "05000000" "00000000" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("1000" "00" "00" "05000000" "01000001" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("1000" "00" "00" "05000000" "00000000" "01100000", NULL) == -EBADMSG);
	CHECK(args_hex("1000" "00" "00" "05000000" "00000000" "000000", NULL) == -EBADMSG);
	CHECK(args_hex("1100" "78563412", &a) == 0 && a.u.del.id == 0x12345678);
	CHECK(args_hex("1100" "785634", NULL) == -EBADMSG);
	CHECK(args_hex("1100" "7856341200", NULL) == -EBADMSG);
	/* Upload: name 1..255, data the rest. */
	CHECK(args_hex("1300" "01" "61", &a) == 0 && a.u.upload.name.len == 1 &&
	      a.u.upload.data.len == 0);
	CHECK(args_hex("1300" "02" "6162" "ffee", &a) == 0 && a.u.upload.data.len == 2 &&
	      a.u.upload.data.p[0] == 0xFF);
	CHECK(args_hex("1300" "00", NULL) == -EBADMSG);
	CHECK(args_hex("1300" "00" "61", NULL) == -EBADMSG);
	CHECK(args_hex("1300" "03" "6162", NULL) == -EBADMSG);
	CHECK(args_hex("1300", NULL) == -EBADMSG);
}

static void args_upload_limit(void)
{
	size_t room = MESSAGE_MAX_BYTES - APIREQ_UPLOAD_OVERHEAD - 1;
	uint8_t *p = xcalloc(1, 2 + 1 + 1 + room + 1);
	struct apireq_args a;
	p[0] = APIREQ_MSG_UPLOAD;
	p[2] = 1;
	p[3] = 'x';
	CHECK(apireq_args_decode(&a, p, 4 + room) == 0 && a.u.upload.data.len == room);
	CHECK(apireq_args_decode(&a, p, 4 + room + 1) == -EBADMSG);
	/* The UplMsg it becomes is exactly MESSAGE_MAX_BYTES. */
	struct msg_upl m = { .kind = MSG_UPL_USER, .name = a.u.upload.name,
		                 .data = { p + 4, room } };
	struct wr w = WR_INIT;
	CHECK(apireq_args_decode(&a, p, 4 + room) == 0);
	m.name = a.u.upload.name;
	CHECK(msg_upl_encode(&w, &m) == 0 && w.len == MESSAGE_MAX_BYTES);
	wr_free(&w);
	free(p);
}

static void args_send(void)
{
	struct apireq_args a;
	/* from "admin" (normal), to the all-zero-but-shield "0000000000000000". */
	const char *from = "2a9b40d4000000000000", *to = "80000000000000000000";
	char hex[256];
	snprintf(hex, sizeof(hex), "1400%s%s" "02" "6869" "03000000" "616263", from, to);
	CHECK(args_hex(hex, &a) == 0 && a.u.send.subject.len == 2 && a.u.send.body.len == 3 &&
	      a.u.send.from[0] == 0x2a && a.u.send.to[0] == 0x80);
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "00000000", from, to);
	CHECK(args_hex(hex, &a) == 0 && a.u.send.subject.p == NULL && a.u.send.body.p == NULL);
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "01000000", from, to); /* body short */
	CHECK(args_hex(hex, NULL) == -EBADMSG);
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "00000000" "00", from, to); /* trailing */
	CHECK(args_hex(hex, NULL) == -EBADMSG);
	snprintf(hex, sizeof(hex), "1400%s%s" "05" "6869" "00000000", from, to); /* subject short */
	CHECK(args_hex(hex, NULL) == -EBADMSG);
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "01000002", from, to); /* body over max */
	CHECK(args_hex(hex, NULL) == -EBADMSG);
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "00000000", "00000000000000000000", to);
	CHECK(args_hex(hex, NULL) == -EBADMSG); /* empty address */
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "00000000", from, "367d9d3a800000000000");
	CHECK(args_hex(hex, NULL) == -EBADMSG); /* "system" */
	snprintf(hex, sizeof(hex), "1400%s%s" "00" "00000000", from, "2a9b40d4000000000001");
	CHECK(args_hex(hex, NULL) == -EBADMSG); /* non-canonical normal */
	struct wr w = WR_INIT;
	a.u.send.subject.len = 256;
	CHECK(apireq_args_encode(&w, &a) == -EINVAL && w.len == 0);
}

static void args_admin(void)
{
	struct apireq_args a;
	CHECK(args_hex("2100" "ff0f" "03", &a) == 0 && a.u.user.uid == 4095 && a.u.user.level == 3);
	CHECK(args_hex("2100" "0010" "03", NULL) == -EBADMSG);
	CHECK(args_hex("2100" "0100" "04", NULL) == -EBADMSG);
	CHECK(args_hex("2100" "0100", NULL) == -EBADMSG);
	CHECK(args_hex("2400" "0100", &a) == 0 && a.u.user.uid == 1);
	CHECK(args_hex("2400" "0010", NULL) == -EBADMSG);
	CHECK(args_hex("2400" "010000", NULL) == -EBADMSG);
	CHECK(args_hex("2200" "02" "1f" "1e" "00" "00001000", &a) == 0 && a.u.limits.level == 2 &&
	      a.u.limits.max_normal == 31 && a.u.limits.max_shield == 30 &&
	      a.u.limits.storage_mib == APIREQ_STORAGE_MIB_MAX);
	CHECK(args_hex("2200" "04" "00" "00" "00" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("2200" "00" "20" "00" "00" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("2200" "00" "00" "20" "00" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("2200" "00" "00" "00" "01" "00000000", NULL) == -EBADMSG);
	CHECK(args_hex("2200" "00" "00" "00" "00" "01001000", NULL) == -EBADMSG);
	CHECK(args_hex("2300" "03" "000000" "3c000000", &a) == 0 && a.u.invite.level == 3 &&
	      a.u.invite.lifetime_s == 60);
	CHECK(args_hex("2300" "00" "000000" "008d2700", &a) == 0 &&
	      a.u.invite.lifetime_s == APIREQ_INVITE_LIFETIME_MAX_S);
	CHECK(args_hex("2300" "00" "000000" "3b000000", NULL) == -EBADMSG);
	CHECK(args_hex("2300" "00" "000000" "018d2700", NULL) == -EBADMSG);
	CHECK(args_hex("2300" "04" "000000" "3c000000", NULL) == -EBADMSG);
	CHECK(args_hex("2300" "00" "000100" "3c000000", NULL) == -EBADMSG);
	CHECK(args_hex("2300" "00" "000000" "3c0000", NULL) == -EBADMSG);
}

/* ---- the ACC_API channel message ---- */

static void chan_request(void)
{
	uint8_t p[12 + 122];
	struct apireq_chan_req q;
	memset(p, 0, sizeof(p));
	le64_store(p, TS);
	le16_store(p + 8, 4095);
	CHECK(apireq_chan_req_decode(&q, p, 12 + 42, NULL, 0, false) == 0 && q.uid == 4095 &&
	      q.ts == TS && q.kind == 0 && q.body == p + 12 && q.body_len == 42);
	CHECK(apireq_chan_req_decode(&q, p, 12 + 41, NULL, 0, false) == -EBADMSG);
	CHECK(apireq_chan_req_decode(&q, p, 11, NULL, 0, false) == -EBADMSG);
	/* Body in a memfd: nothing inline after the fixed part. */
	CHECK(apireq_chan_req_decode(&q, p, 12, p, 42, true) == 0 && q.body == p && q.body_len == 42);
	CHECK(apireq_chan_req_decode(&q, p, 13, p, 42, true) == -EBADMSG);
	CHECK(apireq_chan_req_decode(&q, p, 12, p, 41, true) == -EBADMSG);
	CHECK(apireq_chan_req_decode(&q, p, 12, p, APIREQ_BODY_MAX + 1, true) == -EBADMSG);
	le16_store(p + 8, 4096);
	CHECK(apireq_chan_req_decode(&q, p, 12 + 42, NULL, 0, false) == -EBADMSG);
	le16_store(p + 8, 1);
	p[11] = 1;
	CHECK(apireq_chan_req_decode(&q, p, 12 + 42, NULL, 0, false) == -EBADMSG);
	p[11] = 0;
	p[10] = 2;
	CHECK(apireq_chan_req_decode(&q, p, 12 + 42, NULL, 0, false) == -EBADMSG);
	/* Registration: uid 65535 and exactly 122 bytes. */
	p[10] = 1;
	CHECK(apireq_chan_req_decode(&q, p, 12 + 122, NULL, 0, false) == -EBADMSG);
	le16_store(p + 8, APIREQ_UID_REGISTER);
	CHECK(apireq_chan_req_decode(&q, p, 12 + 122, NULL, 0, false) == 0 && q.kind == 1);
	CHECK(apireq_chan_req_decode(&q, p, 12 + 121, NULL, 0, false) == -EBADMSG);
	p[10] = 0;
	CHECK(apireq_chan_req_decode(&q, p, 12 + 122, NULL, 0, false) == -EBADMSG);
	/* Encoding. */
	struct apireq_chan_req r = { .ts = TS, .uid = 7, .kind = 0, .body = p + 12, .body_len = 50 };
	struct wr w = WR_INIT;
	CHECK(apireq_chan_req_encode(&w, &r, false) == 0 && w.len == 62);
	CHECK(apireq_chan_req_decode(&q, w.p, w.len, NULL, 0, false) == 0 && q.uid == 7);
	wr_free(&w);
	CHECK(apireq_chan_req_encode(&w, &r, true) == 0 && w.len == 12);
	wr_free(&w);
	r.uid = 4096;
	CHECK(apireq_chan_req_encode(&w, &r, false) == -EINVAL && w.len == 0);
}

static void chan_answer(void)
{
	struct apireq_chan_answer a, b;
	struct wr w = WR_INIT;
	uint8_t data[5] = { 9, 8, 7, 6, 5 };
	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.cmd = 3;
	memset(a.key, 0x11, 32);
	a.data = data;
	a.data_len = 5;
	CHECK(apireq_chan_answer_encode(&w, &a, false) == 0 && w.len == 41);
	CHECK(w.p[0] == 0 && w.p[1] == 3 && w.p[2] == 0 && w.p[3] == 0 && w.p[4] == 0x11);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, NULL, 0, false) == 0 && b.data_len == 5 &&
	      memcmp(b.data, data, 5) == 0);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, data, 5, true) == -EBADMSG); /* both */
	CHECK(apireq_chan_answer_decode(&b, w.p, 35, NULL, 0, false) == -EBADMSG);
	w.p[3] = 1;
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, NULL, 0, false) == -EBADMSG);
	w.p[3] = 0;
	w.p[2] = 2;
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, NULL, 0, false) == -EBADMSG);
	wr_free(&w);
	/* Reply data in a memfd. */
	CHECK(apireq_chan_answer_encode(&w, &a, true) == 0 && w.len == 36);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, data, 5, true) == 0 && b.data == data);
	wr_free(&w);
	/* Failures carry nothing. */
	a.status = CHST_AUTH;
	CHECK(apireq_chan_answer_encode(&w, &a, false) == 0 && w.len == 36);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, NULL, 0, false) == 0 && b.data_len == 0);
	uint8_t longer[37];
	memcpy(longer, w.p, 36);
	longer[36] = 0;
	CHECK(apireq_chan_answer_decode(&b, longer, 37, NULL, 0, false) == -EBADMSG);
	CHECK(apireq_chan_answer_decode(&b, w.p, 36, data, 5, true) == -EBADMSG);
	w.p[2] = APIREQ_DISP_FORWARD;
	CHECK(apireq_chan_answer_decode(&b, w.p, 36, NULL, 0, false) == -EBADMSG);
	wr_free(&w);
	/* Forwarding. */
	memset(&a, 0, sizeof(a));
	a.disp = APIREQ_DISP_FORWARD;
	a.sto_type = STO_DELETE;
	a.sto_args_len = 6;
	memset(a.sto_args, 0x22, 6);
	CHECK(apireq_chan_answer_encode(&w, &a, false) == 0 && w.len == 36 + 4 + 6);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, NULL, 0, false) == 0 &&
	      b.sto_type == STO_DELETE && b.sto_args_len == 6 && b.sto_args[5] == 0x22);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len - 1, NULL, 0, false) == -EBADMSG);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, data, 5, true) == -EBADMSG); /* fd not STORE */
	wr_free(&w);
	a.sto_type = STO_STORE;
	a.sto_args_len = 4;
	a.data = data;
	a.data_len = 5;
	CHECK(apireq_chan_answer_encode(&w, &a, false) == -EINVAL); /* STORE needs the memfd */
	CHECK(apireq_chan_answer_encode(&w, &a, true) == 0 && w.len == 44);
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, data, 5, true) == 0 && b.data_len == 5);
	w.p[38] = 17; /* args length over the limit */
	CHECK(apireq_chan_answer_decode(&b, w.p, w.len, data, 5, true) == -EBADMSG);
	/* Found by fuzz_apireq: a long args length with the bytes present must
	 * not be copied into the 16-byte field. */
	uint8_t big[36 + 4 + 255];
	memset(big, 0xCF, sizeof(big));
	memcpy(big, w.p, 40);
	big[38] = 255;
	CHECK(apireq_chan_answer_decode(&b, big, sizeof(big), data, 5, true) == -EBADMSG);
	wr_free(&w);
	a.sto_type = 0;
	CHECK(apireq_chan_answer_encode(&w, &a, false) == -EINVAL && w.len == 0);
}

int main(void)
{
	check_init();
	setup();
	RUN(golden_url_and_keys);
	RUN(golden_request);
	RUN(golden_response);
	RUN(golden_registration);
	RUN(request_tamper);
	RUN(response_rules);
	RUN(response_noncanonical);
	RUN(url_text_rules);
	RUN(invite_text_rules);
	RUN(registration_rules);
	RUN(args_no_arguments);
	RUN(args_private);
	RUN(args_addresses);
	RUN(args_messages);
	RUN(args_upload_limit);
	RUN(args_send);
	RUN(args_admin);
	RUN(chan_request);
	RUN(chan_answer);
	return check_finish();
}
