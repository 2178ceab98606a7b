/* fuzz_client_result.c: what the client parses from the server, on
 * arbitrary input. The first byte picks a mode:
 *   0: ACCOUNT_INFO data; 1: a MSG_BROWSE page (every entry is walked and
 *   must stay inside the input); 2: ADMIN_LIST_USERS; 3: ADDRESS_ADD_SHIELD
 *   and ADMIN_INVITE; 4: an HTTP response head (https_parse_head) and a Date
 *   value; 5: an upload's data opened under a fixed key, and the rest
 *   sealed as an upload and opened again (round trip); 6: render_text and
 *   render_addrs on raw bytes: the output must be terminal-safe. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/https.h"
#include "client/render.h"
#include "client/result.h"
#include "client/upload.h"
#include "common/envelope.h"
#include "common/utf8.h"

static uint8_t key[UPLOAD_KEY_BYTES];

static void setup(void)
{
	static int done;
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(key, 0x3a, sizeof(key));
	done = 1;
}

static void page(const uint8_t *p, size_t n)
{
	struct result_page pg;
	if (result_page_decode(&pg, p, n) != 0)
		return;
	size_t off = 0;
	for (uint32_t i = 0; i < pg.count; i++) {
		uint32_t id;
		const uint8_t *env;
		size_t len;
		result_page_entry(&pg, i, &off, &id, &env, &len);
		if (!envelope_size_valid(len) || env < p || env + len > p + n)
			abort();
	}
	if (off != pg.envs_len)
		abort();
}

static void safe(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
		    cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			abort();
		i += k;
	}
}

static void upload(const uint8_t *p, size_t n)
{
	uint8_t *plain;
	size_t pl;
	struct msg_str name, content;
	if (upload_open(p, n, key, &plain, &pl, &name, &content) == 0)
		upload_free(plain, pl);
	if (n < 1)
		return;
	size_t nl = p[0] % 32 + 1;
	if (nl > n - 1)
		return;
	struct wr w = WR_INIT;
	int rc = upload_seal(&w, (const char *)p + 1, nl, p + 1 + nl, n - 1 - nl, key);
	if (rc == 0) {
		if (upload_open(w.p, w.len, key, &plain, &pl, &name, &content) != 0 || name.len != nl ||
		    memcmp(name.p, p + 1, nl) != 0 || content.len != n - 1 - nl ||
		    memcmp(content.p, p + 1 + nl, content.len) != 0)
			abort();
		upload_free(plain, pl);
	} else if (rc != -EINVAL || upload_name_valid((const char *)p + 1, nl)) {
		abort();
	}
	wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 7) {
	case 0: {
		struct result_info r;
		if (result_info_decode(&r, p, n) == 0 &&
		    (r.count > APIREQ_ADDR_MAX || n != RESULT_INFO_FIXED + 9u * r.count))
			abort();
		break;
	}
	case 1: page(p, n); break;
	case 2: {
		struct result_user *u;
		size_t k;
		if (result_users_decode(&u, &k, p, n) == 0) {
			for (size_t i = 1; i < k; i++)
				if (u[i].uid <= u[i - 1].uid)
					abort();
			free(u);
		}
		break;
	}
	case 3: {
		uint8_t h[8], a[10], inv[32];
		uint64_t e;
		if (result_shield_decode(h, a, p, n) == 0 && addr32_classify(a) != ADDR32_SHIELD)
			abort();
		(void)result_invite_decode(inv, &e, p, n);
		break;
	}
	case 4: {
		struct https_head h;
		int rc = https_parse_head(&h, (const char *)p, n);
		if (rc == 0 && (h.status < 100 || h.status > 599 || (h.has_length && h.length > HTTPS_BODY_MAX)))
			abort();
		int64_t t;
		(void)https_parse_date((const char *)p, n, &t);
		break;
	}
	case 5: upload(p, n); break;
	case 6: {
		struct wr w = WR_INIT;
		render_text(&w, p, n, n % 7 ? n % 50 : 0);
		safe(w.p, w.len);
		wr_free(&w);
		render_addrs(&w, p, n, 0);
		safe(w.p, w.len);
		wr_free(&w);
		break;
	}
	}
	return 0;
}
