/* fuzz_client_private.c: the client's decoders of its own stored formats on
 * arbitrary input. The first byte picks a mode:
 *   0: private-field plaintext (private_plain_decode); what decodes must
 *      re-encode to the same bytes (the layout is canonical);
 *   1: the rest sealed as a private field under a fixed key, then opened:
 *      it must give exactly what the plaintext decoder gives;
 *   2: a stored private field opened under the fixed key (nearly always a
 *      failed tag; must never crash);
 *   3: a UMK file without a passphrase (keyfile_decode never runs Argon2
 *      here); an unprotected file that decodes re-encodes to itself;
 *   4: the state file (state_parse); what parses formats back to itself;
 *   5: a config file (config_parse). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/config.h"
#include "client/keyfile.h"
#include "client/private.h"
#include "client/state.h"

static uint8_t key[PRIVATE_KEY_BYTES];

static void setup(void)
{
	static int done;
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(key, 0x5c, sizeof(key));
	done = 1;
}

static void plain(const uint8_t *p, size_t n)
{
	struct private_data d;
	int rc = private_plain_decode(&d, p, n);
	if (rc != 0) {
		if (rc != -EBADMSG)
			abort();
		return;
	}
	struct wr w = WR_INIT;
	if (private_plain_encode(&w, &d) != 0 || w.len != n || memcmp(w.p, p, n) != 0)
		abort();
	for (int i = 0; i < d.count; i++)
		if (!private_entry_valid(&d.e[i]) || !private_text_safe((const uint8_t *)d.e[i].nick,
		                                                        d.e[i].nick_len))
			abort();
	wr_free(&w);
}

static void sealed(const uint8_t *p, size_t n)
{
	if (n > PRIVATE_PLAIN_MAX)
		return;
	struct private_data a, b;
	int ra = private_plain_decode(&a, p, n);
	uint8_t nonce[PRIVATE_NONCE_BYTES] = { 0 };
	uint8_t a_ad[sizeof(PRIVATE_LABEL)];
	memcpy(a_ad, PRIVATE_LABEL, sizeof(PRIVATE_LABEL) - 1);
	a_ad[sizeof(PRIVATE_LABEL) - 1] = PRIVATE_VERSION;
	/* Seal the raw bytes as the plaintext, whatever they are. */
	size_t len = 1 + PRIVATE_NONCE_BYTES + n + PRIVATE_TAG_BYTES;
	uint8_t *s = malloc(len);
	s[0] = PRIVATE_VERSION;
	memcpy(s + 1, nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(s + 1 + PRIVATE_NONCE_BYTES, NULL, p, n, a_ad,
	                                           sizeof(a_ad), NULL, nonce, key);
	int rb = private_open(&b, s, len, key);
	free(s);
	if (n == 0)
		return; /* an empty stored field is the empty list; a sealed one is not */
	if ((ra == 0) != (rb == 0))
		abort();
	if (ra == 0 && (a.count != b.count || memcmp(&a, &b, sizeof(a)) != 0))
		abort();
}

static void stored(const uint8_t *p, size_t n)
{
	struct private_data d;
	int rc = private_open(&d, p, n, key);
	if (rc != 0 && rc != -EBADMSG && rc != -EACCES)
		abort();
}

static void umk(const uint8_t *p, size_t n)
{
	uint8_t u[KEYS_UMK_BYTES], out[KEYFILE_MAX_BYTES];
	int rc = keyfile_decode(u, p, n, NULL, 0);
	if (rc == 0) {
		size_t len;
		if (keyfile_protection(p, n) != 0 || keyfile_encode(out, &len, u, NULL, 0, NULL) != 0 ||
		    len != n || memcmp(out, p, n) != 0)
			abort();
	} else if (rc != -EBADMSG && rc != -ENOKEY) {
		abort();
	}
}

static void state(const uint8_t *p, size_t n)
{
	struct state s;
	if (state_parse(&s, (const char *)p, n) != 0)
		return;
	char out[STATE_FILE_MAX];
	size_t len = state_format(&s, out);
	if (len != n || memcmp(out, p, n) != 0)
		abort();
}

static void config(const uint8_t *p, size_t n)
{
	struct config c;
	char err[CONFIG_ERR_MAX];
	config_defaults(&c);
	int rc = config_parse(&c, (const char *)p, n, "fuzz", "/base", err, sizeof(err));
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (c.port == 0 || c.timeout_s == 0 || c.timeout_s > CONFIG_TIMEOUT_MAX_S ||
	    strlen(c.server) > CONFIG_HOST_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 6) {
	case 0: plain(p, n); break;
	case 1: sealed(p, n); break;
	case 2: stored(p, n); break;
	case 3: umk(p, n); break;
	case 4: state(p, n); break;
	case 5: config(p, n); break;
	}
	return 0;
}
