/* psl.c: the Public Suffix List and the organizational domain of RFC 7489
 * 3.2. A small built-in list serves until auth_psl_load reads the real one
 * (publicsuffix.org format). Rules and bounds: docs/PROTOCOL.md section 20.5. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/auth.h"

#define PSL_FILE_MAX (4u * 1024 * 1024) /* bytes in a list file */
#define PSL_RULES_MAX 65536
#define PSL_RULE_MAX 255                /* bytes in one rule, with its '!' or "*." */

/* Multi-label suffixes common in mail; single-label TLDs need no entry (the
 * default rule "*" covers them). Kept sorted (strcmp order) for bsearch. */
static const char *const builtin_rules[] = {
	"ac.jp", "ac.nz", "ac.uk", "ac.za", "co.id", "co.il", "co.in", "co.jp", "co.kr",
	"co.nz", "co.th", "co.uk", "co.za", "com.ar", "com.au", "com.br", "com.cn", "com.co",
	"com.hk", "com.mx", "com.my", "com.pl", "com.sg", "com.tr", "com.tw", "com.ua",
	"edu.au", "gen.nz", "go.jp", "gov.au", "gov.br", "gov.cn", "gov.uk", "ltd.uk",
	"me.uk", "ne.jp", "net.au", "net.br", "net.cn", "net.in", "net.nz", "net.uk",
	"nhs.uk", "or.jp", "org.au", "org.br", "org.cn", "org.in", "org.nz", "org.uk",
	"org.za", "plc.uk", "sch.uk",
};

/* The list in use: the built-in one, or a loaded file's (set at start-up,
 * read-only afterwards). */
static const char *const *rules = builtin_rules;
static size_t rule_count = ARRAY_SIZE(builtin_rules);
static const char **rule_list; /* a loaded file's sorted rules, into rule_blob */
static char *rule_blob;

static int cmp_rule(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_rule(const char *s)
{
	return bsearch(&s, rules, rule_count, sizeof(*rules), cmp_rule) != NULL;
}

/* One rule as the list writes it: lower-case ASCII labels, '*' labels and a
 * leading '!'. Rules in Unicode (IDN) are skipped: the domains asked about
 * are A-labels. */
static bool rule_ok(const char *s, size_t n)
{
	if (n == 0 || n > PSL_RULE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '*' || c == '_' || (c == '!' && i == 0)))
			return false;
	}
	return true;
}

int auth_psl_load(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *buf = xmalloc(PSL_FILE_MAX + 1);
	size_t n = fread(buf, 1, PSL_FILE_MAX + 1, f);
	int err = ferror(f);
	fclose(f);
	if (err || n > PSL_FILE_MAX) {
		free(buf);
		return err ? -EIO : -EFBIG;
	}
	buf[n] = 0;
	/* rules are copied in place: each ends where its line's first whitespace was */
	const char **list = xmalloc(PSL_RULES_MAX * sizeof(*list));
	size_t count = 0;
	char *p = buf, *end = buf + n;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		size_t w = 0;
		while (p + w < le && p[w] != ' ' && p[w] != '\t' && p[w] != '\r')
			w++;
		bool comment = w >= 2 && p[0] == '/' && p[1] == '/';
		if (w > 0 && !comment) {
			for (size_t i = 0; i < w; i++)
				if (p[i] >= 'A' && p[i] <= 'Z')
					p[i] = (char)(p[i] + 32);
			if (rule_ok(p, w)) {
				if (count == PSL_RULES_MAX) {
					free(list);
					free(buf);
					return -E2BIG;
				}
				p[w] = 0; /* overwrites whitespace, the LF or the final NUL */
				list[count++] = p;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (count == 0) {
		free(list);
		free(buf);
		return -EBADMSG;
	}
	qsort(list, count, sizeof(*list), cmp_rule);
	free(rule_list);
	free(rule_blob);
	rule_list = list;
	rules = list;
	rule_count = count;
	rule_blob = buf;
	return 0;
}

void auth_org_domain(const char *domain, char *out, size_t cap)
{
	char d[ENQ_NAME_MAX + 2], cand[ENQ_NAME_MAX + 4];
	size_t n = domain ? strlen(domain) : 0;
	size_t lab[128], nlab = 0;

	if (cap == 0)
		return;
	out[0] = 0;
	if (!domain || !auth_domain_valid(domain, n))
		return;
	if (domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n; i++)
		d[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ? (char)(domain[i] + 32) : domain[i];
	d[n] = 0;
	lab[nlab++] = 0;
	for (size_t i = 0; i < n && nlab < ARRAY_SIZE(lab); i++)
		if (d[i] == '.')
			lab[nlab++] = i + 1;

	/* the longest matching rule (RFC 7489 3.2 steps 3 and 4) */
	size_t org = nlab >= 2 ? nlab - 2 : 0; /* default rule "*": the TLD */
	for (size_t i = 0; i < nlab; i++) {
		const char *c = d + lab[i];
		snprintf(cand, sizeof(cand), "!%s", c);
		if (has_rule(cand)) { /* exception: the suffix is c minus its first label */
			org = i;
			break;
		}
		bool hit = has_rule(c);
		if (!hit && i + 1 < nlab) {
			snprintf(cand, sizeof(cand), "*.%s", d + lab[i + 1]);
			hit = has_rule(cand);
		}
		if (hit) {
			org = i > 0 ? i - 1 : 0; /* a suffix itself is its own org domain */
			break;
		}
	}
	const char *o = d + lab[org];
	if (strlen(o) < cap)
		memcpy(out, o, strlen(o) + 1);
}
