/* fuzz_client_mail.c: `mail read` and `mail list` on any Message a sender or
 * the server could put in an envelope. The input is sealed for a fixed key
 * pair, opened (mail_open), and when it decodes it is rendered as text (plain
 * and ANSI), as a list line and as JSON. The output must keep the
 * terminal-safety guarantee of PROTOCOL.md 6.3: valid UTF-8, no C0 but LF, no
 * DEL, no C1, no bidi formatting character, ESC only in our own SGR
 * sequences; the JSON must be ASCII and parse back. */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/json.h"
#include "client/mail.h"
#include "client/render.h"
#include "common/utf8.h"

static struct mail_keys keys;

static void setup(void)
{
	static int done;
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(keys.esk, 0x21, sizeof(keys.esk));
	crypto_scalarmult_base(keys.epk, keys.esk);
	memset(keys.ufk, 0x42, sizeof(keys.ufk));
	done = 1;
}

static void safe(const uint8_t *p, size_t n, int ansi)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] == 0x1b) {
			if (!ansi || i + 3 > n || p[i + 1] != '[' || p[i + 2] != '0')
				abort();
			i += 3;
			while (i + 1 < n && p[i] == ';' && p[i + 1] >= '0' && p[i + 1] <= '9')
				i += 2;
			if (i >= n || p[i] != 'm')
				abort();
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0 || (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
		    cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			abort();
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size > 1 << 20)
		return 0;
	size_t el = envelope_size_for(size);
	uint8_t *env = malloc(el);
	if (envelope_seal(env, el, data, size, keys.epk) != 0)
		abort();
	struct mail m;
	int rc = mail_open(&m, 1, env, el, &keys);
	free(env);
	if (rc != 0)
		return 0;
	const struct mail *att[1] = { &m };
	for (int ansi = 0; ansi < 2; ansi++) {
		struct wr w = WR_INIT;
		struct render_opts o = { .ansi = ansi, .width = 30 };
		if (render_mail(&w, &m, att, 1, &o) != 0)
			abort();
		safe(w.p, w.len, ansi);
		wr_free(&w);
	}
	struct wr w = WR_INIT;
	render_list_line(&w, &m);
	safe(w.p, w.len - 1, 0); /* without its final LF */
	if (memchr(w.p, '\n', w.len - 1))
		abort();
	wr_free(&w);
	json_t *j = json_mail_full(&m, att, 1);
	if (!j)
		abort();
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!s)
		abort();
	for (char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			abort();
	json_error_t err;
	json_t *back = json_loads(s, 0, &err);
	if (!back)
		abort();
	json_decref(back);
	free(s);
	json_decref(j);
	mail_free(&m);
	return 0;
}
