/* test_deliver_spf.c: SPF check_host() (src/deliver/spf.c): the macro
 * examples of RFC 7208 7.4, mechanisms, qualifiers, the record syntax, and
 * the lookup, void-lookup, MX and depth limits of section 20.3. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/chanmsg.h"
#include "deliver/auth.h"

struct rr {
	uint8_t type;
	const char *name;
	const char *val; /* TXT text, MX exchange, PTR name, A/AAAA text; NULL: TEMPFAIL */
};

struct fake {
	const struct rr *rr;
	size_t n;
	unsigned asked;
	char last[300]; /* the last name asked */
};

static int fake_lookup(void *ctx, uint8_t type, const char *name, uint8_t family,
                       const uint8_t ip[16], struct enq_answer *ret)
{
	struct fake *f = ctx;
	char key[64];
	bool exists = false;
	f->asked++;
	if (type == ENQ_PTR) {
		inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, key, sizeof(key));
		name = key;
	}
	snprintf(f->last, sizeof(f->last), "%s", name);
	memset(ret, 0, sizeof(*ret));
	ret->type = type;
	for (size_t k = 0; k < f->n; k++) {
		const struct rr *r = &f->rr[k];
		if (strcasecmp(r->name, name) != 0)
			continue;
		exists = true;
		if (r->type != type)
			continue;
		if (!r->val) {
			ret->status = CHST_TEMPFAIL;
			ret->count = 0;
			return 0;
		}
		struct enq_record *e = &ret->rec[ret->count++];
		if (type == ENQ_A)
			inet_pton(AF_INET, r->val, e->ip);
		else if (type == ENQ_AAAA)
			inet_pton(AF_INET6, r->val, e->ip);
		else {
			e->data = (const uint8_t *)r->val;
			e->len = strlen(r->val);
		}
	}
	ret->status = ret->count ? CHST_OK : CHST_NOT_FOUND;
	if (!ret->count && !exists)
		ret->flags = ENQ_F_NXDOMAIN;
	return 0;
}

static uint8_t spf(const char *ip, const char *from, const struct rr *rr, size_t n,
                   struct fake *ret_f)
{
	static struct fake f;
	uint8_t a[16] = { 0 }, fam = 4;
	if (inet_pton(AF_INET, ip, a) != 1) {
		fam = 6;
		if (inet_pton(AF_INET6, ip, a) != 1)
			abort();
	}
	f = (struct fake){ .rr = rr, .n = n };
	struct auth_dns dns = { fake_lookup, &f, 0 };
	uint8_t r = auth_spf_check(fam, a, from, "helo.example.org", &dns);
	if (ret_f)
		*ret_f = f;
	return r;
}

/* RFC 7208 7.4: sender strong-bad@email.example.com, IP 192.0.2.3 (or
 * 2001:db8::cb01). Each macro is checked as the name an exists: asks. */
static void test_macro_examples(void)
{
	static const struct { const char *macro, *want; } ex[] = {
		{ "%{s}", "strong-bad@email.example.com" }, /* not a DNS name: no question */
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
		{ "%{p}.%{h}", "unknown.helo.example.org" },
		{ "a%%b%_c%-d.example.com", "" }, /* "a%b c%20d...": not a DNS name */
		{ "%{L}.x.example.com", "strong-bad.x.example.com" },
	};
	for (size_t k = 0; k < ARRAY_SIZE(ex); k++) {
		char rec[256];
		snprintf(rec, sizeof(rec), "v=spf1 exists:%s -all", ex[k].macro);
		const struct rr rr[] = { { ENQ_TXT, "email.example.com", rec } };
		struct fake f;
		uint8_t r = spf("192.0.2.3", "strong-bad@email.example.com", rr, 1, &f);
		bool dnsname = strchr(ex[k].want, '@') == NULL && ex[k].want[0];
		bool ok = r == MSG_SPF_FAIL &&
		          (dnsname ? f.asked == 2 && strcmp(f.last, ex[k].want) == 0 : f.asked == 1);
		if (!ok)
			fprintf(stderr, "  macro %s: result %u, asked %u, last %s\n", ex[k].macro, r,
			        f.asked, f.last);
		CHECK(ok);
	}
	const struct rr rr6[] = { { ENQ_TXT, "email.example.com",
		                        "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all" } };
	struct fake f;
	CHECK(spf("2001:db8::cb01", "strong-bad@email.example.com", rr6, 1, &f) == MSG_SPF_FAIL);
	CHECK(strcmp(f.last, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
	                     ".ip6._spf.example.com") == 0);
	/* URL escaping of an upper-case macro: '+' becomes %2B, not a DNS name */
	const struct rr esc[] = { { ENQ_TXT, "example.com", "v=spf1 exists:%{L}.x.%{d} -all" },
		                      { ENQ_A, "a_b.x.example.com", "127.0.0.2" } };
	CHECK(spf("192.0.2.3", "a+b@example.com", esc, 2, &f) == MSG_SPF_FAIL);
	CHECK(f.asked == 1);
	CHECK(spf("192.0.2.3", "a_b@example.com", esc, 2, &f) == MSG_SPF_PASS);
	/* more than 253 bytes: labels dropped from the left */
	const struct rr lng[] = { { ENQ_TXT, "example.com",
		                        "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.%{d} -all" } };
	char from[100];
	memset(from, 'a', 60);
	strcpy(from + 60, "@example.com");
	CHECK(spf("192.0.2.3", from, lng, 1, &f) == MSG_SPF_FAIL);
	CHECK(strlen(f.last) == 3 * 61 + 11); /* 316 bytes, less two labels */
}

static const struct rr base[] = {
	{ ENQ_A, "example.com", "192.0.2.10" },
	{ ENQ_AAAA, "example.com", "2001:db8::10" },
	{ ENQ_MX, "example.com", "mx.example.com" },
	{ ENQ_A, "mx.example.com", "192.0.2.20" },
	{ ENQ_TXT, "inc.example.net", "v=spf1 ip4:203.0.113.0/24 -all" },
	{ ENQ_TXT, "red.example.net", "v=spf1 ip4:203.0.113.0/24 ~all" },
	{ ENQ_TXT, "tf.example.net", NULL },
	{ ENQ_A, "tfa.example.net", NULL },
	{ ENQ_PTR, "192.0.2.55", "h.example.com" },
	{ ENQ_A, "h.example.com", "192.0.2.55" },
};

static uint8_t rec(const char *txt, const char *ip)
{
	struct rr rr[ARRAY_SIZE(base) + 1];
	memcpy(rr, base, sizeof(base));
	rr[ARRAY_SIZE(base)] = (struct rr){ ENQ_TXT, "example.com", txt };
	return spf(ip, "user@example.com", rr, ARRAY_SIZE(rr), NULL);
}

static void test_mechanisms(void)
{
	CHECK(rec("v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.200") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 ip4:192.0.2.0/25 -all", "192.0.2.200") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 ip4:192.0.2.0/25 ~all", "192.0.2.200") == MSG_SPF_SOFTFAIL);
	CHECK(rec("v=spf1 ip4:192.0.2.0/25 ?all", "192.0.2.200") == MSG_SPF_NEUTRAL);
	CHECK(rec("v=spf1 ip4:192.0.2.0/25", "192.0.2.200") == MSG_SPF_NEUTRAL);
	CHECK(rec("v=spf1 -ip4:192.0.2.200 +all", "192.0.2.200") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 ip4:0.0.0.0/0 -all", "198.51.100.1") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 ip6:2001:db8::/33 -all", "2001:db8:7fff::1") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 ip6:2001:db8::/33 -all", "2001:db8:8000::1") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 ip4:192.0.2.0/24 -all", "2001:db8::1") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 ip4:192.0.2.0/24 -all", "::ffff:192.0.2.1") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 a -all", "192.0.2.10") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 a -all", "192.0.2.11") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 a/30 -all", "192.0.2.11") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 a//64 -all", "2001:db8::ffff") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 a:mx.example.com -all", "192.0.2.20") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 mx -all", "192.0.2.20") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 mx:example.com/24 -all", "192.0.2.99") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 include:inc.example.net -all", "203.0.113.9") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 include:inc.example.net ~all", "198.51.100.9") == MSG_SPF_SOFTFAIL);
	CHECK(rec("v=spf1 include:none.example.net ~all", "198.51.100.9") == MSG_SPF_PERMERROR);
	CHECK(rec("v=spf1 include:tf.example.net ~all", "198.51.100.9") == MSG_SPF_TEMPERROR);
	CHECK(rec("v=spf1 redirect=red.example.net", "198.51.100.9") == MSG_SPF_SOFTFAIL);
	CHECK(rec("v=spf1 redirect=red.example.net", "203.0.113.1") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 redirect=none.example.net", "203.0.113.1") == MSG_SPF_PERMERROR);
	CHECK(rec("v=spf1 a:tfa.example.net -all", "192.0.2.10") == MSG_SPF_TEMPERROR);
	CHECK(rec("v=spf1 ptr -all", "192.0.2.55") == MSG_SPF_PASS);
	CHECK(rec("v=spf1 ptr:other.com -all", "192.0.2.55") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 ptr -all", "192.0.2.56") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 exp=explain.%{d} -all", "192.0.2.56") == MSG_SPF_FAIL);
	CHECK(rec("v=spf1 unknown-mod=%{c}x -all", "192.0.2.56") == MSG_SPF_FAIL);
	CHECK(rec("V=SPF1 IP4:192.0.2.0/24 -ALL", "192.0.2.1") == MSG_SPF_PASS);
	CHECK(rec("v=spf1  ip4:192.0.2.0/24   -all ", "192.0.2.1") == MSG_SPF_PASS);
}

static void test_syntax(void)
{
	const char *bad[] = {
		"v=spf1 ip4:192.0.2.0/33 -all", "v=spf1 ip4:192.0.2 -all",
		"v=spf1 ip4:192.0.2.0/024 -all", "v=spf1 ip6:2001:db8::/129 -all",
		"v=spf1 ip6:zz:: -all", "v=spf1 foo -all", "v=spf1 -all!",
		"v=spf1 include -all", "v=spf1 include: -all", "v=spf1 a:example -all",
		"v=spf1 a:example.com/33 -all", "v=spf1 exists:%{x}.example.com -all",
		"v=spf1 exists:%{d0}.example.com -all", "v=spf1 exists:%{d -all",
		"v=spf1 exists:%{c}.example.com -all", "v=spf1 redirect=a.example.com redirect=b.example.com",
		"v=spf1 exp=a.example.com exp=b.example.com -all", "v=spf1 -redirect=a.example.com",
		"v=spf1 ip4:192.0.2.1 -all \x80",
		"v=spf1 all:x", "v=spf1 =x", "v=spf1 1mod=x -all", "v=spf1 a:1.2.3.4 -all",
		"v=spf1 mx:%{d}%-x -all%",
	};
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		uint8_t r = rec(bad[k], "192.0.2.1");
		if (r != MSG_SPF_PERMERROR)
			fprintf(stderr, "  record %zu gave %u\n", k, r);
		CHECK(r == MSG_SPF_PERMERROR);
	}
	/* the whole record is checked before anything is evaluated */
	CHECK(rec("v=spf1 +all foo", "192.0.2.1") == MSG_SPF_PERMERROR);
	/* not SPF records, or none */
	CHECK(rec("v=spf10 +all", "192.0.2.1") == MSG_SPF_NONE);
	CHECK(rec("spf1 +all", "192.0.2.1") == MSG_SPF_NONE);
	CHECK(rec("v=spf1\tip4:192.0.2.1 -all", "192.0.2.1") == MSG_SPF_NONE);
	const struct rr two[] = { { ENQ_TXT, "example.com", "v=spf1 +all" },
		                      { ENQ_TXT, "example.com", "v=spf1 -all" } };
	CHECK(spf("192.0.2.1", "a@example.com", two, 2, NULL) == MSG_SPF_PERMERROR);
	const struct rr tf[] = { { ENQ_TXT, "example.com", NULL } };
	CHECK(spf("192.0.2.1", "a@example.com", tf, 1, NULL) == MSG_SPF_TEMPERROR);
	/* senders: malformed or single-label domains are none; <> uses the HELO name */
	CHECK(spf("192.0.2.1", "a@localhost", two, 2, NULL) == MSG_SPF_NONE);
	CHECK(spf("192.0.2.1", "a@exa..mple.com", two, 2, NULL) == MSG_SPF_NONE);
	const struct rr helo[] = { { ENQ_TXT, "helo.example.org", "v=spf1 ip4:192.0.2.1 -all" } };
	CHECK(spf("192.0.2.1", "", helo, 1, NULL) == MSG_SPF_PASS);
	CHECK(spf("192.0.2.2", NULL, helo, 1, NULL) == MSG_SPF_FAIL);
	const struct rr pm[] = { { ENQ_TXT, "example.com", "v=spf1 exists:%{l}.%{o} -all" },
		                     { ENQ_A, "postmaster.example.com", "127.0.0.1" } };
	CHECK(spf("192.0.2.1", "@example.com", pm, 2, NULL) == MSG_SPF_PASS);
	CHECK(spf("192.0.2.1", "example.com", pm, 2, NULL) == MSG_SPF_PASS);
}

static void test_limits(void)
{
	struct rr rr[64];
	size_t n = 0;
	char names[16][64];
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d.example.com", i);
		rr[n++] = (struct rr){ ENQ_A, names[i], "10.0.0.1" };
	}
	/* 10 querying terms pass; the 11th is a permerror, even unreached by a match */
	char txt[1024] = "v=spf1";
	for (int i = 0; i < 10; i++)
		snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt), " a:h%d.example.com", i);
	strcat(txt, " ip4:192.0.2.1 -all");
	rr[n] = (struct rr){ ENQ_TXT, "example.com", txt };
	CHECK(spf("192.0.2.1", "a@example.com", rr, n + 1, NULL) == MSG_SPF_PASS);
	char txt11[1100];
	snprintf(txt11, sizeof(txt11), "v=spf1 a:h10.example.com%s", txt + 6);
	rr[n] = (struct rr){ ENQ_TXT, "example.com", txt11 };
	CHECK(spf("192.0.2.1", "a@example.com", rr, n + 1, NULL) == MSG_SPF_PERMERROR);
	/* ip4/ip6/all cost nothing */
	char cheap[2048] = "v=spf1";
	for (int i = 0; i < 40; i++)
		snprintf(cheap + strlen(cheap), sizeof(cheap) - strlen(cheap), " ip4:10.1.%d.0/24", i);
	strcat(cheap, " ip4:192.0.2.1 -all");
	rr[n] = (struct rr){ ENQ_TXT, "example.com", cheap };
	CHECK(spf("192.0.2.1", "a@example.com", rr, n + 1, NULL) == MSG_SPF_PASS);
	/* void lookups: 2 tolerated, the third a permerror */
	rr[n] = (struct rr){ ENQ_TXT, "example.com",
		                 "v=spf1 a:v1.example.com mx:v2.example.com ip4:192.0.2.1 -all" };
	CHECK(spf("192.0.2.1", "a@example.com", rr, n + 1, NULL) == MSG_SPF_PASS);
	rr[n] = (struct rr){ ENQ_TXT, "example.com",
		                 "v=spf1 a:v1.example.com mx:v2.example.com exists:v3.example.com "
		                 "ip4:192.0.2.1 -all" };
	CHECK(spf("192.0.2.1", "a@example.com", rr, n + 1, NULL) == MSG_SPF_PERMERROR);
	/* more than 10 MX names */
	size_t m = n;
	for (int i = 0; i < 11; i++)
		rr[m++] = (struct rr){ ENQ_MX, "many.example.com", names[i] };
	rr[m] = (struct rr){ ENQ_TXT, "example.com", "v=spf1 mx:many.example.com -all" };
	CHECK(spf("10.0.0.1", "a@example.com", rr, m + 1, NULL) == MSG_SPF_PERMERROR);
	rr[m - 1] = (struct rr){ ENQ_A, "other.example.com", "10.0.0.2" }; /* now 10 */
	CHECK(spf("10.0.0.1", "a@example.com", rr, m + 1, NULL) == MSG_SPF_PASS);
	/* include loops end in a permerror */
	const struct rr loop[] = { { ENQ_TXT, "example.com", "v=spf1 include:example.com -all" } };
	struct fake f;
	CHECK(spf("192.0.2.1", "a@example.com", loop, 1, &f) == MSG_SPF_PERMERROR);
	CHECK(f.asked <= 12);
	const struct rr rloop[] = { { ENQ_TXT, "example.com", "v=spf1 redirect=example.com" } };
	CHECK(spf("192.0.2.1", "a@example.com", rloop, 1, &f) == MSG_SPF_PERMERROR);
	CHECK(f.asked <= 12);
	/* the caller's lookup budget: past it, a temperror */
	rr[n] = (struct rr){ ENQ_TXT, "example.com", txt };
	struct fake g = { .rr = rr, .n = n + 1 };
	struct auth_dns dns = { fake_lookup, &g, 5 };
	uint8_t ip[16] = { 192, 0, 2, 1 };
	CHECK(auth_spf_check(4, ip, "a@example.com", "h", &dns) == MSG_SPF_TEMPERROR);
	CHECK(g.asked == 5);
}

int main(void)
{
	check_init();
	RUN(test_macro_examples);
	RUN(test_mechanisms);
	RUN(test_syntax);
	RUN(test_limits);
	return check_finish();
}
