/* test_deliver_dmarc.c: DMARC (src/deliver/dmarc.c) and the organizational
 * domain from the Public Suffix List (psl.c): record discovery and fallback,
 * policies, alignment modes, and the list's wildcard and exception rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "common/chanmsg.h"
#include "deliver/auth.h"

struct rr {
	const char *name;
	const char *txt; /* NULL: TEMPFAIL */
};

struct fake {
	const struct rr *rr;
	size_t n;
	unsigned asked;
};

static int fake_lookup(void *ctx, uint8_t type, const char *name, uint8_t family,
                       const uint8_t ip[16], struct enq_answer *ret)
{
	struct fake *f = ctx;
	f->asked++;
	memset(ret, 0, sizeof(*ret));
	ret->type = type;
	ret->status = CHST_NOT_FOUND;
	for (size_t k = 0; k < f->n && type == ENQ_TXT; k++) {
		if (strcmp(f->rr[k].name, name) != 0)
			continue;
		if (!f->rr[k].txt) {
			ret->status = CHST_TEMPFAIL;
			ret->count = 0;
			return 0;
		}
		ret->status = CHST_OK;
		ret->rec[ret->count].data = (const uint8_t *)f->rr[k].txt;
		ret->rec[ret->count++].len = strlen(f->rr[k].txt);
	}
	return 0;
}

static struct msg_dkim sig(const char *domain, uint8_t result)
{
	struct msg_dkim d;
	memset(&d, 0, sizeof(d));
	d.result = result;
	d.algo = MSG_DKIM_ALGO_RSA_SHA256;
	d.domain = (struct msg_str){ (const uint8_t *)domain, strlen(domain) };
	return d;
}

static uint8_t dmarc(const char *from, uint8_t spf, const char *spf_dom, const char *dkim_dom,
                     const struct rr *rr, size_t n, struct auth_dmarc_info *info)
{
	struct fake f = { rr, n, 0 };
	struct auth_dns dns = { fake_lookup, &f, 0 };
	struct msg_dkim d = sig(dkim_dom ? dkim_dom : "", MSG_DKIM_PASS);
	return auth_dmarc_evaluate(from, spf, spf_dom, &d, dkim_dom ? 1 : 0, &dns, info);
}

static void test_alignment(void)
{
	struct auth_dmarc_info i;
	const struct rr r[] = { { "_dmarc.example.com", "v=DMARC1; p=reject" } };
	CHECK(dmarc("example.com", MSG_SPF_FAIL, "x.org", "example.com", r, 1, &i) ==
	      MSG_DMARC_PASS);
	CHECK(i.dkim_aligned && !i.spf_aligned && i.policy == AUTH_DMARC_P_REJECT);
	CHECK(strcmp(i.record_domain, "example.com") == 0 && !i.org_record);
	CHECK(dmarc("Example.COM.", MSG_SPF_PASS, "EXAMPLE.com", NULL, r, 1, &i) == MSG_DMARC_PASS);
	CHECK(i.spf_aligned && !i.dkim_aligned);
	CHECK(dmarc("example.com", MSG_SPF_PASS, "mail.example.com", "sub.example.com", r, 1, &i) ==
	      MSG_DMARC_PASS); /* relaxed by default */
	CHECK(i.spf_aligned && i.dkim_aligned);
	CHECK(dmarc("example.com", MSG_SPF_SOFTFAIL, "example.com", "example.org", r, 1, &i) ==
	      MSG_DMARC_FAIL);
	CHECK(dmarc("example.com", MSG_SPF_PASS, "notexample.com", "xample.com", r, 1, &i) ==
	      MSG_DMARC_FAIL);
	/* a DKIM result other than pass does not count */
	struct fake f = { r, 1, 0 };
	struct auth_dns dns = { fake_lookup, &f, 0 };
	struct msg_dkim d[3] = { sig("example.com", MSG_DKIM_FAIL),
		                     sig("example.com", MSG_DKIM_POLICY),
		                     sig("other.com", MSG_DKIM_PASS) };
	CHECK(auth_dmarc_check("example.com", MSG_SPF_NONE, NULL, d, 3, &dns) == MSG_DMARC_FAIL);
	d[1].result = MSG_DKIM_PASS;
	CHECK(auth_dmarc_check("example.com", MSG_SPF_NONE, NULL, d, 3, &dns) == MSG_DMARC_PASS);
	/* strict modes */
	const struct rr s[] = { { "_dmarc.example.com", "v=DMARC1; p=none; adkim=s; aspf=s" } };
	CHECK(dmarc("example.com", MSG_SPF_PASS, "mail.example.com", "sub.example.com", s, 1, &i) ==
	      MSG_DMARC_FAIL);
	CHECK(i.policy == AUTH_DMARC_P_NONE);
	CHECK(dmarc("example.com", MSG_SPF_FAIL, "mail.example.com", "example.com", s, 1, &i) ==
	      MSG_DMARC_PASS);
	CHECK(dmarc("example.com", MSG_SPF_PASS, "example.com", NULL, s, 1, &i) == MSG_DMARC_PASS);
}

static void test_discovery(void)
{
	struct auth_dmarc_info i;
	const struct rr r[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:a@b.c" },
		{ "_dmarc.own.example.com", "v=DMARC1; p=none" },
		{ "_dmarc.other.com", "v=spf1 -all" },
		{ "_dmarc.other.com", "v=DMARC1;p=quarantine" },
		{ "_dmarc.two.com", "v=DMARC1; p=none" },
		{ "_dmarc.two.com", "v=DMARC1; p=reject" },
		{ "_dmarc.tf.com", NULL },
		{ "_dmarc.bad.com", "v=DMARC1; p=reject; adkim=x" },
		{ "_dmarc.badpct.com", "v=DMARC1; p=reject; pct=101" },
		{ "_dmarc.syntax.com", "v=DMARC1; p=reject; p=none" },
		{ "_dmarc.nop.com", "v=DMARC1; rua=mailto:x@nop.com" },
		{ "_dmarc.nop2.com", "v=DMARC1; sp=reject" },
		{ "_dmarc.badsp.com", "v=DMARC1; p=reject; sp=maybe" },
		{ "_dmarc.lower.com", "v=dmarc1; p=reject" },
	};
	size_t n = ARRAY_SIZE(r);
	/* subdomain: record at the organizational domain, sp= applies */
	CHECK(dmarc("a.b.example.com", MSG_SPF_NONE, NULL, "example.com", r, n, &i) ==
	      MSG_DMARC_PASS);
	CHECK(i.org_record && i.policy == AUTH_DMARC_P_QUARANTINE);
	CHECK(strcmp(i.record_domain, "example.com") == 0);
	CHECK(dmarc("example.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_FAIL);
	CHECK(!i.org_record && i.policy == AUTH_DMARC_P_REJECT);
	/* a subdomain's own record wins */
	CHECK(dmarc("own.example.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_FAIL);
	CHECK(!i.org_record && i.policy == AUTH_DMARC_P_NONE);
	/* other TXT records are ignored; several DMARC records mean no policy */
	CHECK(dmarc("other.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_FAIL);
	CHECK(i.policy == AUTH_DMARC_P_QUARANTINE);
	CHECK(dmarc("two.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("none.com", MSG_SPF_PASS, "none.com", NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("lower.com", MSG_SPF_PASS, "lower.com", NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("tf.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_TEMPERROR);
	CHECK(dmarc("x.tf.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_TEMPERROR);
	CHECK(dmarc("bad.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_PERMERROR);
	CHECK(dmarc("badpct.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_PERMERROR);
	CHECK(dmarc("syntax.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_PERMERROR);
	/* no valid p=: with a rua= address act as p=none, else no policy */
	CHECK(dmarc("nop.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_FAIL);
	CHECK(i.policy == AUTH_DMARC_P_NONE);
	CHECK(dmarc("nop2.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("badsp.com", MSG_SPF_NONE, NULL, NULL, r, n, &i) == MSG_DMARC_NONE);
	/* no usable From domain */
	CHECK(dmarc(NULL, MSG_SPF_PASS, "example.com", NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("", MSG_SPF_PASS, "example.com", NULL, r, n, &i) == MSG_DMARC_NONE);
	CHECK(dmarc("exa mple.com", MSG_SPF_PASS, "example.com", NULL, r, n, &i) == MSG_DMARC_NONE);
	/* the lookup budget */
	struct fake f = { r, n, 0 };
	struct auth_dns dns = { fake_lookup, &f, 1 };
	CHECK(auth_dmarc_check("a.none.com", MSG_SPF_NONE, NULL, NULL, 0, &dns) ==
	      MSG_DMARC_TEMPERROR);
	CHECK(f.asked == 1);
}

static void org(const char *d, const char *want)
{
	char out[256];
	auth_org_domain(d, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  org(%s) = %s, want %s\n", d ? d : "(null)", out, want);
	CHECK(strcmp(out, want) == 0);
}

static void test_psl(void)
{
	/* the built-in list */
	org("example.com", "example.com");
	org("a.b.example.com", "example.com");
	org("mail.example.co.uk", "example.co.uk");
	org("co.uk", "co.uk");
	org("com", "com");
	org("A.Example.COM.", "example.com");
	org("x.y.z.unknowntld", "z.unknowntld");
	org("bad..name", "");
	org(NULL, "");

	/* a list file with wildcard and exception rules */
	char path[] = "/tmp/test_psl_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *list = "// comment\n"
	                   "com\n"
	                   "ck\n*.ck\n!www.ck\n"
	                   "\n"
	                   "UK  trailing words are ignored\n"
	                   "co.uk\n"
	                   "// ===BEGIN PRIVATE DOMAINS===\n"
	                   "github.io\n"
	                   "\xc3\xa9xample\n"
	                   "jp\nkobe.jp\n*.kobe.jp\n!city.kobe.jp\n";
	CHECK(write(fd, list, strlen(list)) == (ssize_t)strlen(list));
	close(fd);
	CHECK(auth_psl_load(path) == 0);
	org("a.b.example.com", "example.com");
	org("www.ck", "www.ck");
	org("a.www.ck", "www.ck");
	org("a.b.other.ck", "b.other.ck");
	org("other.ck", "other.ck");
	org("user.github.io", "user.github.io");
	org("x.user.github.io", "user.github.io");
	org("a.b.c.kobe.jp", "b.c.kobe.jp");
	org("a.city.kobe.jp", "city.kobe.jp");
	org("mail.example.co.uk", "example.co.uk");
	org("example.org", "example.org"); /* not in this list: the default rule */
	org("a.example.org", "example.org");
	/* a missing or empty file leaves the list as it was */
	CHECK(auth_psl_load("/nonexistent/psl.dat") < 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "// only a comment\n", 18) == 18);
	close(fd);
	CHECK(auth_psl_load(path) < 0);
	org("a.www.ck", "www.ck");
	unlink(path);
	/* Debian's list, when installed */
	if (access("/usr/share/publicsuffix/public_suffix_list.dat", R_OK) == 0) {
		CHECK(auth_psl_load("/usr/share/publicsuffix/public_suffix_list.dat") == 0);
		org("a.b.example.co.uk", "example.co.uk");
		org("x.user.github.io", "user.github.io");
		org("mail.example.com.au", "example.com.au");
		org("a.city.kobe.jp", "city.kobe.jp");
	}
}

int main(void)
{
	check_init();
	RUN(test_alignment);
	RUN(test_discovery);
	RUN(test_psl);
	return check_finish();
}
