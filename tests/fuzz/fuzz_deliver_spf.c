/* fuzz_deliver_spf.c: SPF check_host() (src/deliver/spf.c) with a fake DNS
 * whose TXT answers come from the input: the record parser, the macro
 * expander and every mechanism must never crash, and the lookup limits of
 * docs/PROTOCOL.md section 20.3 must hold. Input: byte 0 picks the client
 * address family and address; then LF-separated lines: the first is the
 * envelope sender, the others are TXT records, the one answered for a name
 * chosen by a hash of the name (some names get none, or a temporary error). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"

#define LINES_MAX 16

struct ctx {
	const uint8_t *line[LINES_MAX];
	size_t len[LINES_MAX];
	size_t n;
	unsigned asked;
	char names[8][ENQ_NAME_MAX + 1];
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int lookup(void *vc, uint8_t type, const char *name, uint8_t family,
                  const uint8_t ip[16], struct enq_answer *ret)
{
	struct ctx *c = vc;
	c->asked++;
	if (type < ENQ_A || type > ENQ_PTR)
		abort();
	if (type != ENQ_PTR && (!auth_domain_valid(name, strlen(name)) || strlen(name) > 253))
		abort(); /* only valid names are asked */
	uint32_t h = hash(type == ENQ_PTR ? "ptr" : name) ^ type;
	memset(ret, 0, sizeof(*ret));
	ret->type = type;
	if (h % 11 == 0)
		return -1;
	if (h % 7 == 0) {
		ret->status = CHST_TEMPFAIL;
		return 0;
	}
	if (h % 5 == 0) {
		ret->status = CHST_NOT_FOUND;
		ret->flags = ENQ_F_NXDOMAIN;
		return 0;
	}
	ret->status = CHST_OK;
	switch (type) {
	case ENQ_TXT:
		if (c->n <= 1) {
			ret->status = CHST_NOT_FOUND;
			return 0;
		}
		ret->count = 1 + (h >> 8) % 2;
		for (size_t k = 0; k < ret->count; k++) {
			size_t i = 1 + (h + k) % (c->n - 1);
			ret->rec[k].data = c->line[i];
			ret->rec[k].len = c->len[i];
		}
		break;
	case ENQ_A:
	case ENQ_AAAA:
		ret->count = 1 + (h >> 4) % 3;
		for (size_t k = 0; k < ret->count; k++) {
			memset(ret->rec[k].ip, 0, 16);
			ret->rec[k].ip[0] = type == ENQ_A ? 192 : 0x20;
			ret->rec[k].ip[1] = (uint8_t)(h >> (8 + k));
			ret->rec[k].ip[3] = (uint8_t)k;
		}
		break;
	default: /* MX, PTR: names */
		ret->count = 1 + (h >> 4) % 12;
		for (size_t k = 0; k < ret->count; k++) {
			const char *nm = c->names[(h + k) % 8];
			ret->rec[k].data = (const uint8_t *)nm;
			ret->rec[k].len = strlen(nm);
		}
		if (ret->count > 8 && type == ENQ_MX)
			ret->rec[0].len = 0; /* a null MX among them */
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	if (size < 2)
		return 0;
	memset(&c, 0, sizeof(c));
	static const char *const nm[8] = { "example.com", "mx.example.com", "a.example.org",
		                               "h.example.com", "x", "", "b.c.example.com",
		                               "ex-ample.net" };
	for (int i = 0; i < 8; i++)
		strcpy(c.names[i], nm[i]);
	uint8_t fam = (data[0] & 1) ? 6 : 4, ip[16] = { 0 };
	ip[0] = fam == 4 ? 192 : 0x20;
	ip[1] = data[0];
	ip[3] = (uint8_t)(data[0] >> 4);
	if (fam == 6 && (data[0] & 2)) { /* v4-mapped */
		memset(ip, 0, 16);
		ip[10] = ip[11] = 0xFF;
		ip[12] = 192;
	}
	const uint8_t *p = data + 1, *end = data + size;
	while (p <= end && c.n < LINES_MAX) {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *e = lf ? lf : end;
		c.line[c.n] = p;
		c.len[c.n++] = (size_t)(e - p);
		if (!lf)
			break;
		p = lf + 1;
	}
	char from[512];
	size_t fl = c.len[0] < sizeof(from) - 1 ? c.len[0] : sizeof(from) - 1;
	memcpy(from, c.line[0], fl);
	from[fl] = 0;
	if (strlen(from) != fl)
		return 0; /* a NUL inside: not a C string the caller would pass */
	struct auth_dns dns = { lookup, &c, 0 };
	uint8_t r = auth_spf_check(fam, ip, from, "helo.example.com", &dns);
	if (r < MSG_SPF_NONE || r > MSG_SPF_MAX)
		abort();
	/* 10 terms, each at most 1 + 10 address questions, plus the records'
	 * own TXT questions (1 + 10) and the PTR validations */
	if (c.asked > 11 + 10 * 11 + 10)
		abort();
	return 0;
}
