/* dmarc.c: DMARC (RFC 7489): the policy record of the header From domain or
 * of its organizational domain, and identifier alignment of the SPF and DKIM
 * results. Rules: docs/PROTOCOL.md section 20.4. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"
#include "deliver/dkimtag.h"

#define DMARC_NAME_MAX (ENQ_NAME_MAX + 1)

enum found { F_NONE, F_ONE, F_MANY, F_TEMP };

/* Normalised copy (lower case, no trailing dot) of a valid domain, or "". */
static void norm_domain(const char *in, size_t n, char out[DMARC_NAME_MAX])
{
	out[0] = 0;
	if (!in || !auth_domain_valid(in, n))
		return;
	if (in[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
	out[n] = 0;
}

static bool starts_dmarc1(const uint8_t *p, size_t n)
{
	return n >= 8 && memcmp(p, "v=DMARC1", 8) == 0 &&
	       (n == 8 || p[8] == ';' || p[8] == ' ' || p[8] == '\t');
}

/* The one DMARC record at _dmarc.<domain> (RFC 7489 6.6.3), copied out. */
static enum found fetch(const struct auth_dns *dns, unsigned *used, const char *domain,
                        uint8_t rec[ENQ_TXT_MAX], size_t *ret_len)
{
	char name[DMARC_NAME_MAX + 8];
	struct enq_answer a;
	size_t found = 0;

	if (strlen(domain) + 7 > ENQ_NAME_MAX)
		return F_NONE; /* no such name can exist */
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (dns->max_lookups && *used >= dns->max_lookups)
		return F_TEMP;
	(*used)++;
	memset(&a, 0, sizeof(a));
	if (dns->lookup(dns->ctx, ENQ_TXT, name, 0, NULL, &a) < 0 || a.status == CHST_TEMPFAIL)
		return F_TEMP;
	if (a.status != CHST_OK || a.count > ENQ_RECORDS_MAX)
		return F_NONE;
	for (size_t k = 0; k < a.count; k++) {
		const struct enq_record *r = &a.rec[k];
		if (!r->data || !starts_dmarc1(r->data, r->len))
			continue;
		if (++found > 1)
			return F_MANY;
		if (r->len > ENQ_TXT_MAX)
			return F_MANY; /* cannot be a valid answer: treat as unusable */
		memcpy(rec, r->data, r->len);
		*ret_len = r->len;
	}
	return found ? F_ONE : F_NONE;
}

static bool aligned(const char *id, const char *from, const char *from_org, bool strict)
{
	char d[DMARC_NAME_MAX], org[DMARC_NAME_MAX];
	norm_domain(id, strlen(id), d);
	if (!d[0])
		return false;
	if (strcmp(d, from) == 0)
		return true;
	if (strict)
		return false;
	auth_org_domain(d, org, sizeof(org));
	return org[0] && strcmp(org, from_org) == 0;
}

static int policy_of(const struct dkimtag *t)
{
	if (dkimtag_is_ci(t, "none"))
		return AUTH_DMARC_P_NONE;
	if (dkimtag_is_ci(t, "quarantine"))
		return AUTH_DMARC_P_QUARANTINE;
	if (dkimtag_is_ci(t, "reject"))
		return AUTH_DMARC_P_REJECT;
	return -1;
}

/* adkim/aspf: 0 relaxed, 1 strict, -1 invalid */
static int mode_of(const struct dkimtag *t)
{
	if (!t || dkimtag_is_ci(t, "r"))
		return 0;
	if (dkimtag_is_ci(t, "s"))
		return 1;
	return -1;
}

static bool pct_ok(const struct dkimtag *t)
{
	unsigned v = 0;
	if (!t)
		return true;
	if (t->val_len == 0 || t->val_len > 3)
		return false;
	for (size_t i = 0; i < t->val_len; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return false;
		v = v * 10 + (unsigned)(t->val[i] - '0');
	}
	return v <= 100;
}

uint8_t auth_dmarc_evaluate(const char *hdr_from_domain, uint8_t spf, const char *spf_domain,
                            const struct msg_dkim *dkim, size_t dkim_count,
                            const struct auth_dns *dns, struct auth_dmarc_info *ret_info)
{
	struct auth_dmarc_info info;
	char from[DMARC_NAME_MAX], org[DMARC_NAME_MAX];
	uint8_t rec[ENQ_TXT_MAX];
	size_t rl = 0;
	unsigned used = 0;
	struct dkimtag_list l;

	memset(&info, 0, sizeof(info));
	info.result = MSG_DMARC_NONE;
	norm_domain(hdr_from_domain, hdr_from_domain ? strlen(hdr_from_domain) : 0, from);
	if (!from[0])
		goto out; /* no usable From domain: DMARC does not apply */
	auth_org_domain(from, org, sizeof(org));

	enum found f = fetch(dns, &used, from, rec, &rl);
	if (f == F_NONE && org[0] && strcmp(org, from) != 0) {
		f = fetch(dns, &used, org, rec, &rl);
		info.org_record = true;
	}
	if (f == F_TEMP) {
		info.result = MSG_DMARC_TEMPERROR;
		goto out;
	}
	if (f != F_ONE) {
		info.org_record = false;
		goto out; /* none, or several: no DMARC processing (RFC 7489 6.6.3) */
	}
	snprintf(info.record_domain, sizeof(info.record_domain), "%s",
	         info.org_record ? org : from);
	if (dkimtag_parse(&l, rec, rl) != 0 || l.count == 0 || !dkimtag_is(&l.tag[0], "DMARC1") ||
	    l.tag[0].name_len != 1 || l.tag[0].name[0] != 'v') {
		info.result = MSG_DMARC_PERMERROR;
		goto out;
	}
	int p = policy_of(dkimtag_get(&l, "p"));
	const struct dkimtag *spt = dkimtag_get(&l, "sp");
	int sp = spt ? policy_of(spt) : p;
	if (p < 0 || sp < 0) {
		/* RFC 7489 6.6.3 step 6: with a reporting address, act as p=none */
		const struct dkimtag *rua = dkimtag_get(&l, "rua");
		if (!rua || rua->val_len < 8 || strncasecmp((const char *)rua->val, "mailto:", 7) != 0)
			goto out;
		p = sp = AUTH_DMARC_P_NONE;
	}
	int adkim = mode_of(dkimtag_get(&l, "adkim")), aspf = mode_of(dkimtag_get(&l, "aspf"));
	if (adkim < 0 || aspf < 0 || !pct_ok(dkimtag_get(&l, "pct"))) {
		info.result = MSG_DMARC_PERMERROR;
		goto out;
	}
	info.policy = (uint8_t)((info.org_record && strcmp(from, org) != 0) ? sp : p);

	for (size_t k = 0; k < dkim_count && !info.dkim_aligned; k++) {
		char d[DMARC_NAME_MAX];
		const struct msg_dkim *r = &dkim[k];
		if (r->result != MSG_DKIM_PASS || r->domain.len == 0 || r->domain.len > ENQ_NAME_MAX)
			continue;
		memcpy(d, r->domain.p, r->domain.len);
		d[r->domain.len] = 0;
		info.dkim_aligned = aligned(d, from, org, adkim == 1);
	}
	if (spf == MSG_SPF_PASS && spf_domain)
		info.spf_aligned = aligned(spf_domain, from, org, aspf == 1);
	info.result = (info.dkim_aligned || info.spf_aligned) ? MSG_DMARC_PASS : MSG_DMARC_FAIL;
out:
	if (ret_info)
		*ret_info = info;
	return info.result;
}

uint8_t auth_dmarc_check(const char *hdr_from_domain, uint8_t spf, const char *spf_domain,
                         const struct msg_dkim *dkim, size_t dkim_count,
                         const struct auth_dns *dns)
{
	return auth_dmarc_evaluate(hdr_from_domain, spf, spf_domain, dkim, dkim_count, dns, NULL);
}
