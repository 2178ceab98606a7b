/* test_deliver_dkim.c: DKIM verification (src/deliver/dkim.c) and the tag-list
 * parser (dkimtag.c): the RFC 8463 appendix A vectors (Ed25519 and RSA),
 * canonical forms written out by hand and signed here with Ed25519, key
 * record rules, signature tag rules and the flags of section 20.2. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/chanmsg.h"
#include "deliver/auth.h"
#include "deliver/dkimtag.h"

/* ---- a DNS table ---- */

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
	ret->flags = ENQ_F_NXDOMAIN;
	if (type != ENQ_TXT)
		return 0;
	for (size_t k = 0; k < f->n; k++) {
		if (strcmp(f->rr[k].name, name) != 0)
			continue;
		if (!f->rr[k].txt) {
			ret->status = CHST_TEMPFAIL;
			ret->count = 0;
			return 0;
		}
		ret->status = CHST_OK;
		ret->flags = 0;
		ret->rec[ret->count].data = (const uint8_t *)f->rr[k].txt;
		ret->rec[ret->count].len = strlen(f->rr[k].txt);
		ret->count++;
	}
	return 0;
}

static size_t verify(const char *msg, const struct rr *rr, size_t nrr, uint64_t now,
                     struct msg_dkim out[MSG_DKIM_MAX])
{
	struct fake f = { rr, nrr, 0 };
	struct auth_dns dns = { fake_lookup, &f, 0 };
	return auth_dkim_verify((const uint8_t *)msg, strlen(msg), now, NULL, NULL, NULL, &dns, out);
}

/* ---- RFC 8463 appendix A ---- */

#define RFC_ED_KEY "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC_RSA_KEY                                                                      \
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"              \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"             \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"             \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

static const char rfc_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static const struct rr rfc_rr[] = {
	{ "brisbane._domainkey.football.example.com", RFC_ED_KEY },
	{ "test._domainkey.football.example.com", RFC_RSA_KEY },
};

static const uint64_t rfc_now = 1528637909 + 60;

static void test_rfc8463_both_pass(void)
{
	struct msg_dkim d[MSG_DKIM_MAX];
	size_t n = verify(rfc_msg, rfc_rr, 2, rfc_now, d);
	CHECK(n == 2);
	CHECK(d[0].result == MSG_DKIM_PASS);
	CHECK(d[0].algo == MSG_DKIM_ALGO_ED25519_SHA256);
	CHECK(d[0].key_bits == 256);
	CHECK(d[1].result == MSG_DKIM_PASS);
	CHECK(d[1].algo == MSG_DKIM_ALGO_RSA_SHA256);
	CHECK(d[1].key_bits == 1024);
	for (size_t k = 0; k < 2; k++) {
		CHECK(d[k].head_canon == MSG_DKIM_RELAXED && d[k].body_canon == MSG_DKIM_RELAXED);
		CHECK(d[k].flags == MSG_DKIM_F_T);
		CHECK(d[k].t == 1528637909 && d[k].x == 0);
		CHECK(d[k].domain.len == 20 && memcmp(d[k].domain.p, "football.example.com", 20) == 0);
		/* domain and selector point into the message */
		CHECK(d[k].domain.p > (const uint8_t *)rfc_msg &&
		      d[k].domain.p < (const uint8_t *)rfc_msg + sizeof(rfc_msg));
	}
	CHECK(d[0].selector.len == 8 && memcmp(d[0].selector.p, "brisbane", 8) == 0);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	if (!p)
		return strdup(s);
	size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to);
	char *r = malloc(strlen(s) - fl + tl + 1);
	memcpy(r, s, a);
	memcpy(r + a, to, tl);
	strcpy(r + a + tl, p + fl);
	return r;
}

static void test_rfc8463_lf_and_tamper(void)
{
	struct msg_dkim d[MSG_DKIM_MAX];
	/* LF line ends give the same canonical forms */
	char *lf = malloc(sizeof(rfc_msg));
	size_t j = 0;
	for (size_t i = 0; rfc_msg[i]; i++)
		if (rfc_msg[i] != '\r')
			lf[j++] = rfc_msg[i];
	lf[j] = 0;
	CHECK(verify(lf, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PASS && d[1].result == MSG_DKIM_PASS);
	free(lf);

	char *body = replace(rfc_msg, "hungry", "Hungry");
	CHECK(verify(body, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_FAIL && d[1].result == MSG_DKIM_FAIL);
	free(body);
	char *hdr = replace(rfc_msg, "dinner ready", "dinner  ready"); /* relaxed: same */
	CHECK(verify(hdr, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PASS && d[1].result == MSG_DKIM_PASS);
	free(hdr);
	hdr = replace(rfc_msg, "dinner ready", "lunch ready");
	CHECK(verify(hdr, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_FAIL && d[1].result == MSG_DKIM_FAIL);
	free(hdr);
	/* h= lists from and subject twice: a second Subject breaks it (oversigning) */
	hdr = replace(rfc_msg, "Subject: Is", "Subject: extra\r\nSubject: Is");
	CHECK(verify(hdr, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_FAIL && d[1].result == MSG_DKIM_FAIL);
	free(hdr);
	/* an unsigned field may be added */
	hdr = replace(rfc_msg, "Subject: Is", "X-Spam: no\r\nSubject: Is");
	CHECK(verify(hdr, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PASS && d[1].result == MSG_DKIM_PASS);
	free(hdr);
	/* a changed signature byte */
	hdr = replace(rfc_msg, "b=/gCr", "b=/gCs");
	CHECK(verify(hdr, rfc_rr, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_FAIL && d[1].result == MSG_DKIM_PASS);
	free(hdr);
}

static void test_keys(void)
{
	struct msg_dkim d[MSG_DKIM_MAX];
	/* no record, a temporary failure, a revoked key, a key of the wrong type */
	CHECK(verify(rfc_msg, NULL, 0, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PERMERROR && d[1].result == MSG_DKIM_PERMERROR);
	const struct rr tf[] = { { "brisbane._domainkey.football.example.com", NULL },
		                     { "test._domainkey.football.example.com", "v=DKIM1; p=" } };
	CHECK(verify(rfc_msg, tf, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_TEMPERROR && d[1].result == MSG_DKIM_PERMERROR);
	const struct rr swapped[] = {
		{ "brisbane._domainkey.football.example.com", RFC_RSA_KEY },
		{ "test._domainkey.football.example.com", RFC_ED_KEY },
	};
	CHECK(verify(rfc_msg, swapped, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PERMERROR && d[1].result == MSG_DKIM_PERMERROR);
	/* v= must be first and DKIM1; s= must allow email; h= must allow sha256 */
	const char *bad[] = {
		"k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR\xc3\xa9=",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=; p=x",
	};
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		const struct rr r[] = { { "brisbane._domainkey.football.example.com", bad[k] } };
		CHECK(verify(rfc_msg, r, 1, rfc_now, d) == 2);
		if (d[0].result != MSG_DKIM_PERMERROR)
			fprintf(stderr, "  bad key record %zu accepted\n", k);
		CHECK(d[0].result == MSG_DKIM_PERMERROR);
	}
	/* allowed variations: s=*, h=sha1:sha256, whitespace in p=, t=y:s, unknown tags,
	 * and a second unusable record before the good one */
	const struct rr ok[] = {
		{ "brisbane._domainkey.football.example.com", "v=spf1 -all" },
		{ "brisbane._domainkey.football.example.com",
		  "v=DKIM1; k=ed25519; s=*; h=sha1:sha256; t=y:s; n=notes; zz=1;"
		  " p=11qYAYKxCrfVS/7TyWQ HOg7hcvPapiMlrwIaaPcHURo= ;" },
	};
	CHECK(verify(rfc_msg, ok, 2, rfc_now, d) == 2);
	CHECK(d[0].result == MSG_DKIM_PASS);
	CHECK(d[0].flags == (MSG_DKIM_F_T | MSG_DKIM_F_TEST | MSG_DKIM_F_STRICT));
}

/* ---- hand-written canonical forms, signed here with Ed25519 ---- */

static uint8_t ed_pk[32], ed_sk[64];
static char ed_rec[128];

static void ed_setup(void)
{
	uint8_t seed[32];
	char b64[64];
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(7 * i + 1);
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
	sodium_bin2base64(b64, sizeof(b64), ed_pk, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(ed_rec, sizeof(ed_rec), "v=DKIM1; k=ed25519; p=%s", b64);
}

/* Signs: msg_tmpl holds %BH% and %B%; canon_hdr is the exact header hash
 * input (with %BH%) and canon_body the exact canonical body. */
static char *sign_by_hand(const char *msg_tmpl, const char *canon_hdr, const char *canon_body)
{
	uint8_t bh[32], hh[32], sig[64];
	char bh64[64], sig64[128];
	crypto_hash_sha256(bh, (const uint8_t *)canon_body, strlen(canon_body));
	sodium_bin2base64(bh64, sizeof(bh64), bh, 32, sodium_base64_VARIANT_ORIGINAL);
	char *h = replace(canon_hdr, "%BH%", bh64);
	crypto_hash_sha256(hh, (const uint8_t *)h, strlen(h));
	crypto_sign_detached(sig, NULL, hh, 32, ed_sk);
	sodium_bin2base64(sig64, sizeof(sig64), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	char *m1 = replace(msg_tmpl, "%BH%", bh64);
	char *m2 = replace(m1, "%B%", sig64);
	free(h);
	free(m1);
	return m2;
}

static const struct rr ed_rr_tmpl[] = { { "ed._domainkey.example.com", ed_rec } };

static uint8_t one_result(const char *msg, uint64_t now, struct msg_dkim *ret)
{
	struct msg_dkim d[MSG_DKIM_MAX];
	size_t n = verify(msg, ed_rr_tmpl, 1, now, d);
	if (n != 1)
		return 0xFF;
	if (ret)
		*ret = d[0];
	return d[0].result;
}

static void test_relaxed_by_hand(void)
{
	const char *msg =
		"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=ed;\r\n"
		" h=From : Subject : X-Missing; bh=%BH%;\r\n"
		"  b= %B% \r\n"
		"fROM :  Alice\r\n"
		"   <a@example.com>  \r\n"
		"Subject:\tHello \t World\r\n"
		"\r\n"
		" body  line \t\r\n"
		"\r\n"
		"second\r\n"
		" \t \r\n"
		"\r\n";
	const char *hdr = "from:Alice <a@example.com>\r\n"
	                  "subject:Hello World\r\n"
	                  "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; "
	                  "s=ed; h=From : Subject : X-Missing; bh=%BH%; b=";
	const char *body = " body line\r\n\r\nsecond\r\n";
	char *m = sign_by_hand(msg, hdr, body);
	CHECK(one_result(m, 0, NULL) == MSG_DKIM_PASS);
	/* the same canonical forms from other raw bytes */
	char *m2 = replace(m, "Subject:\tHello", "SUBJECT   :   Hello  ");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_PASS);
	free(m2);
	m2 = replace(m, "second\r\n", "second   \r\n\r\n\r\n\r\n");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_PASS);
	free(m2);
	/* but not a changed word, an added X-Missing, or text inside a word */
	m2 = replace(m, "second", "Second");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	m2 = replace(m, "Subject:", "X-Missing: 1\r\nSubject:");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	m2 = replace(m, "body  line", "bo dy line");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	free(m);

	/* an empty body is empty in relaxed, and a missing body is the same */
	const char *msg_e = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; "
	                    "d=example.com; s=ed; h=from; bh=%BH%; b=%B%\r\n"
	                    "From: a@example.com\r\n\r\n\r\n\r\n";
	m = sign_by_hand(msg_e,
	                 "from:a@example.com\r\ndkim-signature:v=1; a=ed25519-sha256; "
	                 "c=relaxed/relaxed; d=example.com; s=ed; h=from; bh=%BH%; b=",
	                 "");
	CHECK(one_result(m, 0, NULL) == MSG_DKIM_PASS);
	CHECK(strstr(m, "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;") != NULL);
	m2 = replace(m, "\r\n\r\n\r\n\r\n", "\r\n");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_PASS);
	free(m2);
	free(m);
}

static void test_simple_by_hand(void)
{
	const char *msg =
		"DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.com; s=ed;\r\n"
		" h=From : Subject; bh=%BH%;\r\n"
		" b=%B%\r\n"
		"fROM :  Alice\r\n"
		"   <a@example.com>  \r\n"
		"Subject:\tHello \t World\r\n"
		"\r\n"
		" body  line \t\r\n"
		"\r\n"
		"second\r\n"
		" \t \r\n"
		"\r\n"
		"\r\n";
	const char *hdr = "fROM :  Alice\r\n   <a@example.com>  \r\n"
	                  "Subject:\tHello \t World\r\n"
	                  "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.com; "
	                  "s=ed;\r\n h=From : Subject; bh=%BH%;\r\n b=";
	const char *body = " body  line \t\r\n\r\nsecond\r\n \t \r\n";
	char *m = sign_by_hand(msg, hdr, body);
	CHECK(one_result(m, 0, NULL) == MSG_DKIM_PASS);
	char *m2 = replace(m, "Subject:\tHello", "Subject: Hello");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	m2 = replace(m, "fROM", "From");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	m2 = replace(m, "second\r\n \t \r\n", "second\r\n\t \r\n");
	CHECK(one_result(m2, 0, NULL) == MSG_DKIM_FAIL);
	free(m2);
	/* a body without its last line end gets one */
	size_t ml = strlen(m);
	m[ml - 6] = 0; /* drops "\r\n\r\n\r\n" after " \t " */
	CHECK(one_result(m, 0, NULL) == MSG_DKIM_PASS);
	free(m);

	/* an empty body is one CRLF in simple */
	const char *msg_e = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from;"
	                    " bh=%BH%; b=%B%\r\nFrom: a@example.com\r\n";
	m = sign_by_hand(msg_e,
	                 "From: a@example.com\r\nDKIM-Signature: v=1; a=ed25519-sha256; "
	                 "d=example.com; s=ed; h=from; bh=%BH%; b=",
	                 "\r\n");
	CHECK(one_result(m, 0, NULL) == MSG_DKIM_PASS);
	CHECK(strstr(m, "bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=;") != NULL);
	free(m);
}

static void test_length_and_times(void)
{
	struct msg_dkim r;
	const char *msg = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"
	                  " s=ed; l=9; t=1000; x=2000; h=from; bh=%BH%; b=%B%\r\n"
	                  "From: a@example.com\r\n\r\nsigned\r\nappended\r\n";
	const char *hdr = "from:a@example.com\r\ndkim-signature:v=1; a=ed25519-sha256; "
	                  "c=relaxed/relaxed; d=example.com; s=ed; l=9; t=1000; x=2000; h=from; "
	                  "bh=%BH%; b=";
	char *m = sign_by_hand(msg, hdr, "signed\r\na");
	CHECK(one_result(m, 1500, &r) == MSG_DKIM_PASS);
	CHECK(r.flags == (MSG_DKIM_F_LENGTH | MSG_DKIM_F_T | MSG_DKIM_F_X));
	CHECK(r.t == 1000 && r.x == 2000);
	CHECK(one_result(m, 500, &r) == MSG_DKIM_PASS);
	CHECK(r.flags & MSG_DKIM_F_FUTURE);
	CHECK(one_result(m, 2001, &r) == MSG_DKIM_POLICY); /* valid but expired */
	CHECK(r.flags & MSG_DKIM_F_EXPIRED);
	char *m2 = replace(m, "appended", "Appended");
	CHECK(one_result(m2, 1500, NULL) == MSG_DKIM_FAIL); /* inside the 9 bytes */
	free(m2);
	m2 = replace(m, "appended\r\n", "aXXXX\r\nmore text\r\n");
	CHECK(one_result(m2, 1500, NULL) == MSG_DKIM_PASS); /* after them */
	free(m2);
	m2 = replace(m, "signed\r\nappended\r\n", "signed\r\n");
	CHECK(one_result(m2, 1500, NULL) == MSG_DKIM_FAIL); /* shorter than l= */
	free(m2);
	free(m);
}

static void test_identity_flags(void)
{
	struct msg_dkim d[MSG_DKIM_MAX];
	const char *msg = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed;"
	                  " i=Alice@Sub.Example.com; h=from; bh=%BH%; b=%B%\r\n"
	                  "From: a@example.com\r\n\r\nx\r\n";
	char *m = sign_by_hand(msg,
	                       "From: a@example.com\r\nDKIM-Signature: v=1; a=ed25519-sha256; "
	                       "d=example.com; s=ed; i=Alice@Sub.Example.com; h=from; bh=%BH%; b=",
	                       "x\r\n");
	struct fake f = { ed_rr_tmpl, 1, 0 };
	struct auth_dns dns = { fake_lookup, &f, 0 };
	CHECK(auth_dkim_verify((const uint8_t *)m, strlen(m), 0, "alice@sub.example.com",
	                       "bob@example.com", "ALICE@sub.example.com", &dns, d) == 1);
	CHECK(d[0].result == MSG_DKIM_PASS);
	CHECK(d[0].flags == (MSG_DKIM_F_I_ENV_FROM | MSG_DKIM_F_I_REPLY_TO));
	/* t=s in the key: i= may not be a subdomain of d= */
	char strict[160];
	snprintf(strict, sizeof(strict), "%s; t=s", ed_rec);
	const struct rr srr[] = { { "ed._domainkey.example.com", strict } };
	f = (struct fake){ srr, 1, 0 };
	CHECK(auth_dkim_verify((const uint8_t *)m, strlen(m), 0, NULL, NULL, NULL, &dns, d) == 1);
	CHECK(d[0].result == MSG_DKIM_PERMERROR);
	free(m);
}

static void test_signature_tags(void)
{
	/* each variant of a valid signature field that must be a permerror,
	 * checked before any DNS question */
	const char *bad[] = {
		"v=2; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%; b=%B%",
		"a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha512; d=example.com; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=rsa-sha1; d=example.com; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=to; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%",
		"v=1; a=ed25519-sha256; d=example.com; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=exa mple.com; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com.; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; i=a@example.org; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; i=a@xexample.com; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; c=relaxed/fancy; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; c=loose; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; q=http; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; t=10; x=9; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; t=1234567890123; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; l=-1; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from:; bh=%BH%; b=%B%",
		"v=1; v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=AAAA; b=%B%",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%; b=AAAA",
		"v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=%BH%; b=%B%; 1x=2",
	};
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		char tmpl[512], canon[600];
		snprintf(tmpl, sizeof(tmpl), "DKIM-Signature: %s\r\nFrom: a@example.com\r\n\r\nx\r\n",
		         bad[k]);
		snprintf(canon, sizeof(canon), "from:a@example.com\r\ndkim-signature:%s", bad[k]);
		char *cut = strstr(canon, "b=%B%");
		if (cut)
			strcpy(cut, "b=");
		char *m = sign_by_hand(tmpl, canon, "x\r\n");
		struct msg_dkim d[MSG_DKIM_MAX];
		struct fake f = { ed_rr_tmpl, 1, 0 };
		struct auth_dns dns = { fake_lookup, &f, 0 };
		size_t n = auth_dkim_verify((const uint8_t *)m, strlen(m), 0, NULL, NULL, NULL, &dns, d);
		CHECK(n == 1);
		if (n != 1 || d[0].result != MSG_DKIM_PERMERROR || f.asked != 0)
			fprintf(stderr, "  signature %zu: result %u, %u questions\n", k,
			        n ? d[0].result : 99, f.asked);
		CHECK(n == 1 && d[0].result == MSG_DKIM_PERMERROR && f.asked == 0);
		if (strstr(bad[k], "rsa-sha1"))
			CHECK(d[0].algo == MSG_DKIM_ALGO_RSA_SHA1);
		free(m);
	}
}

static void test_signature_count_bound(void)
{
	/* more than MSG_DKIM_MAX signatures: only the first MSG_DKIM_MAX are looked at */
	char msg[8192] = "";
	for (int i = 0; i < MSG_DKIM_MAX + 3; i++)
		strcat(msg, "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from;"
		            " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n");
	strcat(msg, "From: a@example.com\r\n\r\n");
	struct msg_dkim d[MSG_DKIM_MAX];
	CHECK(verify(msg, ed_rr_tmpl, 1, 0, d) == MSG_DKIM_MAX);
	/* a message with no header/body separator, and an empty one */
	CHECK(verify("From: a@example.com", ed_rr_tmpl, 1, 0, d) == 0);
	CHECK(verify("", ed_rr_tmpl, 1, 0, d) == 0);
}

/* ---- the tag-list parser ---- */

static int parse(const char *s, struct dkimtag_list *l)
{
	return dkimtag_parse(l, (const uint8_t *)s, strlen(s));
}

static void test_tag_list(void)
{
	struct dkimtag_list l;
	const char *s = " a = 1 ;\r\n b=x y\r\n\tz ; c=;d=e;";
	CHECK(parse(s, &l) == 0);
	CHECK(l.count == 4);
	CHECK(l.tag[0].name_len == 1 && l.tag[0].name[0] == 'a');
	CHECK(dkimtag_is(&l.tag[0], "1"));
	CHECK(l.tag[1].val_len == 7 && memcmp(l.tag[1].val, "x y\r\n\tz", 7) == 0);
	CHECK(l.tag[2].val_len == 0);
	CHECK(dkimtag_is(dkimtag_get(&l, "d"), "e"));
	CHECK(dkimtag_get(&l, "D") == NULL);
	/* raw offsets: from just after '=' to the ';' */
	CHECK(l.tag[0].raw_start == 4 && s[l.tag[0].raw_end] == ';');
	CHECK(parse("", &l) == 0 && l.count == 0);
	CHECK(parse(" ; ", &l) != 0 || l.count == 0);
	const char *bad[] = { "a", "a=1;a=2", "=1", "1a=2", "a b=1", "a=1;;b=2", "a=\x01",
		                  "a=x;y", "a=\xc3\xa9", "a=;=" };
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		int rc = parse(bad[k], &l);
		if (rc == 0)
			fprintf(stderr, "  accepted bad tag list %zu\n", k);
		CHECK(rc != 0);
	}
	/* bounds: tag count, name length, total length */
	char many[1024] = "";
	for (int i = 0; i < DKIMTAG_TAGS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "t%d=1;", i);
	CHECK(parse(many, &l) == 0 && l.count == DKIMTAG_TAGS_MAX);
	strcat(many, "zz=1");
	CHECK(parse(many, &l) != 0);
	char name[64];
	memset(name, 'n', sizeof(name));
	name[DKIMTAG_NAME_MAX] = '=';
	name[DKIMTAG_NAME_MAX + 1] = 0;
	CHECK(parse(name, &l) == 0);
	name[DKIMTAG_NAME_MAX] = 'n';
	name[DKIMTAG_NAME_MAX + 1] = '=';
	name[DKIMTAG_NAME_MAX + 2] = 0;
	CHECK(parse(name, &l) != 0);
	char *big = malloc(DKIMTAG_LIST_MAX + 2);
	memset(big, 'x', DKIMTAG_LIST_MAX + 1);
	memcpy(big, "a=", 2);
	big[DKIMTAG_LIST_MAX] = 0;
	CHECK(parse(big, &l) == 0);
	big[DKIMTAG_LIST_MAX] = 'x';
	big[DKIMTAG_LIST_MAX + 1] = 0;
	CHECK(parse(big, &l) != 0);
	free(big);
	/* colon lists */
	CHECK(parse("h= from : To:subject ", &l) == 0);
	size_t pos = 0, il, items = 0;
	const uint8_t *it;
	const char *want[] = { "from", "To", "subject" };
	while (dkimtag_next_item(&l.tag[0], &pos, &it, &il)) {
		CHECK(items < 3 && il == strlen(want[items]) && memcmp(it, want[items], il) == 0);
		items++;
	}
	CHECK(items == 3);
}

int main(void)
{
	check_init();
	ed_setup();
	RUN(test_rfc8463_both_pass);
	RUN(test_rfc8463_lf_and_tamper);
	RUN(test_keys);
	RUN(test_relaxed_by_hand);
	RUN(test_simple_by_hand);
	RUN(test_length_and_times);
	RUN(test_identity_flags);
	RUN(test_signature_tags);
	RUN(test_signature_count_bound);
	RUN(test_tag_list);
	return check_finish();
}
