/* fuzz_deliver_dkimtag.c: the tag-list parser (src/deliver/dkimtag.c) and the
 * DKIM verifier behind it on arbitrary bytes must never crash, read out of
 * bounds or break the parser's promises (docs/PROTOCOL.md section 20.1).
 * The first input byte picks a mode:
 *   even: the rest is a tag list; every accepted tag is checked;
 *   odd:  the rest is "KEYRECORD NUL MESSAGE": the message is verified with a
 *         DNS that answers every TXT question with KEYRECORD (and, second,
 *         the RFC 8463 Ed25519 key), so key parsing, canonicalisation and
 *         hashing run on fuzzed data. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"
#include "deliver/dkimtag.h"

static const char ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

struct keyctx {
	const uint8_t *rec;
	size_t len;
	unsigned asked;
};

static int key_lookup(void *ctx, uint8_t type, const char *name, uint8_t family,
                      const uint8_t ip[16], struct enq_answer *ret)
{
	struct keyctx *k = ctx;
	k->asked++;
	if (type != ENQ_TXT || !auth_domain_valid(name, strlen(name)))
		abort();
	memset(ret, 0, sizeof(*ret));
	ret->type = type;
	ret->status = CHST_OK;
	ret->count = 2;
	ret->rec[0].data = k->rec;
	ret->rec[0].len = k->len;
	ret->rec[1].data = (const uint8_t *)ed_key;
	ret->rec[1].len = strlen(ed_key);
	return 0;
}

static void tags(const uint8_t *p, size_t n)
{
	struct dkimtag_list l;
	if (dkimtag_parse(&l, p, n) != 0)
		return;
	if (n > DKIMTAG_LIST_MAX || l.count > DKIMTAG_TAGS_MAX)
		abort();
	for (size_t k = 0; k < l.count; k++) {
		const struct dkimtag *t = &l.tag[k];
		if (t->name < p || t->name + t->name_len > p + n || t->name_len == 0 ||
		    t->name_len > DKIMTAG_NAME_MAX)
			abort();
		if (t->val < p || t->val + t->val_len > p + n || t->raw_start > t->raw_end ||
		    t->raw_end > n || (size_t)(t->val - p) < t->raw_start ||
		    (size_t)(t->val - p) + t->val_len > t->raw_end)
			abort();
		if (t->raw_end < n && p[t->raw_end] != ';')
			abort();
		for (size_t i = 0; i < t->val_len; i++)
			if (!(t->val[i] == '\t' || t->val[i] == '\r' || t->val[i] == '\n' ||
			      (t->val[i] >= 0x20 && t->val[i] <= 0x7E && t->val[i] != ';')))
				abort();
		for (size_t j = 0; j < k; j++)
			if (l.tag[j].name_len == t->name_len &&
			    memcmp(l.tag[j].name, t->name, t->name_len) == 0)
				abort(); /* repeated tags are refused */
		if (dkimtag_get(&l, "v") && dkimtag_get(&l, "v")->name[0] != 'v')
			abort();
		size_t pos = 0, il, items = 0;
		const uint8_t *it;
		while (dkimtag_next_item(t, &pos, &it, &il)) {
			if (it < t->val || it + il > t->val + t->val_len || ++items > t->val_len + 1)
				abort();
		}
	}
}

static void verify(const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, 0, n);
	struct keyctx k = { p, nul ? (size_t)(nul - p) : n, 0 };
	const uint8_t *msg = nul ? nul + 1 : p + n;
	size_t ml = nul ? n - k.len - 1 : 0;
	struct auth_dns dns = { key_lookup, &k, 0 };
	struct msg_dkim out[MSG_DKIM_MAX];
	size_t c = auth_dkim_verify(msg, ml, 1528637909, "joe@football.example.com",
	                            "joe@football.example.com", NULL, &dns, out);
	if (c > MSG_DKIM_MAX || k.asked > c)
		abort();
	for (size_t i = 0; i < c; i++) {
		const struct msg_dkim *d = &out[i];
		if (d->result > MSG_DKIM_RESULT_MAX || d->algo > MSG_DKIM_ALGO_MAX ||
		    (d->flags & ~MSG_DKIM_F_ALL) || d->domain.len > MSG_DKIM_DOMAIN_MAX ||
		    d->selector.len > MSG_DKIM_SELECTOR_MAX)
			abort();
		if (d->domain.len && (d->domain.p < msg || d->domain.p + d->domain.len > msg + ml))
			abort();
		if (d->result == MSG_DKIM_PASS && d->algo != MSG_DKIM_ALGO_ED25519_SHA256 &&
		    d->algo != MSG_DKIM_ALGO_RSA_SHA256)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0)
		abort();
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		tags(data + 1, size - 1);
	else
		verify(data + 1, size - 1);
	return 0;
}
