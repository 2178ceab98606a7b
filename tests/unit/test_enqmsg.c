/* test_enqmsg.c: Enquiry's channel messages (enqmsg.h, PROTOCOL.md section
 * 17): name rules, requests, golden answer bytes, and every rule the strict
 * answer decoder enforces. */
#include <errno.h>

#include "check.h"
#include "common/chanmsg.h"
#include "common/enqmsg.h"

static bool valid(const char *s) { return enq_name_valid((const uint8_t *)s, strlen(s)); }

static void test_name_valid(void)
{
	CHECK(valid("example.com"));
	CHECK(valid("a"));
	CHECK(valid("sel_1._domainkey.Mail-Host.example"));
	CHECK(valid("1.2.0.192.in-addr.arpa"));
	CHECK(!valid(""));
	CHECK(!valid("."));
	CHECK(!valid("example.com."));
	CHECK(!valid(".example.com"));
	CHECK(!valid("a..b"));
	CHECK(!valid("a b"));
	CHECK(!valid("*.example"));
	CHECK(!valid("ex\xc3\xa4mple"));
	CHECK(!enq_name_valid((const uint8_t *)"a\0b", 3));
	char label[80];
	memset(label, 'a', 63);
	label[63] = '\0';
	CHECK(valid(label));
	memset(label, 'a', 64);
	label[64] = '\0';
	CHECK(!valid(label));
	/* 253 characters is the longest: four labels of 62/63 and dots */
	char name[260];
	memset(name, 'b', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	CHECK(valid(name));
	name[253] = 'b';
	name[254] = '\0';
	CHECK(!valid(name));
}

static void test_requests(void)
{
	struct wr w = WR_INIT;
	CHECK(enq_request_name(&w, "Example.COM") == 0);
	CHECK(w.len == 11 && memcmp(w.p, "Example.COM", 11) == 0);
	w.len = 0;
	CHECK(enq_request_name(&w, "bad..name") == -EINVAL);
	CHECK(enq_request_name(&w, "") == -EINVAL);
	CHECK(w.len == 0);
	uint8_t ip[16] = { 192, 0, 2, 1 };
	CHECK(enq_request_ptr(&w, 4, ip) == 0);
	CHECK(w.len == 17 && w.p[0] == 4 && w.p[1] == 192 && w.p[4] == 1 && w.p[16] == 0);
	w.len = 0;
	CHECK(enq_request_ptr(&w, 5, ip) == -EINVAL);
	ip[15] = 1; /* IPv4 with bytes after the fourth */
	CHECK(enq_request_ptr(&w, 4, ip) == -EINVAL);
	CHECK(enq_request_ptr(&w, 6, ip) == 0);
	CHECK(w.len == 17 && w.p[0] == 6 && w.p[16] == 1);
	wr_free(&w);
}

/* Encodes a, compares with hex, decodes it back and re-encodes. */
static void golden(const struct enq_answer *a, const char *hex)
{
	uint8_t want[256];
	int n = check_unhex(hex, want, sizeof(want));
	struct wr w = WR_INIT;
	CHECK(n > 0);
	CHECK(enq_answer_encode(&w, a) == 0);
	CHECK(w.len == (size_t)n);
	if (w.len == (size_t)n)
		CHECK_MEM(w.p, want, (size_t)n);
	struct enq_answer d;
	CHECK(enq_answer_decode(&d, a->type, want, (size_t)n) == 0);
	CHECK(d.status == a->status && d.flags == a->flags && d.count == a->count &&
	      d.type == a->type);
	struct wr w2 = WR_INIT;
	CHECK(enq_answer_encode(&w2, &d) == 0);
	CHECK(w2.len == (size_t)n && memcmp(w2.p, want, (size_t)n) == 0);
	wr_free(&w);
	wr_free(&w2);
}

#define TXT(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static void test_golden(void)
{
	struct enq_answer a;
	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_A;
	a.count = 2;
	memcpy(a.rec[0].ip, "\xc0\x00\x02\x01", 4);
	memcpy(a.rec[1].ip, "\x0a\x00\x00\x07", 4);
	golden(&a, "00000200" "c0000201" "0a000007");

	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.flags = ENQ_F_CACHED;
	a.type = ENQ_AAAA;
	a.count = 1;
	a.rec[0].ip[0] = 0x20;
	a.rec[0].ip[1] = 0x01;
	a.rec[0].ip[15] = 0x01;
	golden(&a, "00040100" "20010000000000000000000000000001");

	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_MX;
	a.count = 2;
	a.rec[0].pref = 10;
	a.rec[0].data = (const uint8_t *)"mx.a";
	a.rec[0].len = 4;
	a.rec[1].pref = 0x0102;
	a.rec[1].data = (const uint8_t *)"";
	a.rec[1].len = 0; /* null MX */
	golden(&a, "00000200" "0a0004" "6d782e61" "020100");

	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.flags = ENQ_F_TRUNC;
	a.type = ENQ_TXT;
	a.count = 2;
	a.rec[0].data = (const uint8_t *)"v=1";
	a.rec[0].len = 3;
	a.rec[1].data = (const uint8_t *)"";
	a.rec[1].len = 0;
	golden(&a, "00020200" "0300763d31" "0000");

	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_PTR;
	a.count = 1;
	a.rec[0].data = (const uint8_t *)"h.x";
	a.rec[0].len = 3;
	golden(&a, "00000100" "03682e78");

	memset(&a, 0, sizeof(a));
	a.status = CHST_NOT_FOUND;
	a.flags = ENQ_F_NXDOMAIN | ENQ_F_CACHED;
	a.type = ENQ_TXT;
	golden(&a, "01050000");

	memset(&a, 0, sizeof(a));
	a.status = CHST_TEMPFAIL;
	a.type = ENQ_PTR;
	golden(&a, "05000000");
}

static bool rejects(uint8_t type, const char *hex)
{
	uint8_t buf[512];
	int n = check_unhex(hex, buf, sizeof(buf));
	struct enq_answer a;
	a.count = 77;
	return n >= 0 && enq_answer_decode(&a, type, buf, (size_t)n) == -EBADMSG && a.count == 77;
}

static void test_decode_rejects(void)
{
	CHECK(rejects(ENQ_A, ""));
	CHECK(rejects(ENQ_A, "000001"));           /* short header */
	CHECK(rejects(ENQ_A, "00000100c00002"));   /* short record */
	CHECK(rejects(ENQ_A, "00000100c000020100")); /* trailing byte */
	CHECK(rejects(ENQ_A, "00000000"));         /* OK without records */
	CHECK(rejects(ENQ_A, "01000100c0000201")); /* NOT_FOUND with a record */
	CHECK(rejects(ENQ_A, "02000000"));         /* status EXISTS */
	CHECK(rejects(ENQ_A, "07000000"));         /* status INTERNAL */
	CHECK(rejects(ENQ_A, "01080000"));         /* unknown flag */
	CHECK(rejects(ENQ_A, "00010100c0000201")); /* NXDOMAIN with OK */
	CHECK(rejects(ENQ_A, "05020000"));         /* TRUNC with TEMPFAIL */
	CHECK(rejects(ENQ_A, "04040000"));         /* CACHED with INVALID */
	CHECK(rejects(0, "05000000"));             /* type 0 */
	CHECK(rejects(6, "05000000"));             /* type 6 */
	/* count 33 */
	char hex[600] = "00002100";
	for (int i = 0; i < 33; i++)
		strcat(hex, "01020304");
	CHECK(rejects(ENQ_A, hex));
	hex[5] = '0'; /* count 0x20 */
	hex[8 + 32 * 8] = '\0'; /* 32 records: fine */
	CHECK(!rejects(ENQ_A, hex));
	CHECK(rejects(ENQ_MX, "00000100" "0a00044d582e61"));   /* upper case */
	CHECK(rejects(ENQ_MX, "00000100" "0a00056d782e612e")); /* trailing dot */
	CHECK(rejects(ENQ_MX, "00000100" "0a00056d782e61"));   /* length past the end */
	CHECK(rejects(ENQ_MX, "00000200" "0a00016d" "090001" "6d")); /* not sorted */
	CHECK(!rejects(ENQ_MX, "00000200" "090001" "6d" "0a00016d"));
	CHECK(rejects(ENQ_PTR, "00000100" "00"));            /* empty PTR name */
	CHECK(rejects(ENQ_PTR, "00000100" "022a2a"));        /* "**" */
	CHECK(rejects(ENQ_TXT, "00000100" "0110" "00"));     /* TXT of 4097 bytes */
	CHECK(rejects(ENQ_TXT, "00000100" "0500" "6162"));   /* short text */
}

static void test_encode_limits(void)
{
	static uint8_t big[ENQ_TXT_MAX + 1];
	memset(big, 'x', sizeof(big));
	struct enq_answer a;
	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_TXT;
	a.count = 1;
	a.rec[0].data = big;
	a.rec[0].len = ENQ_TXT_MAX + 1;
	struct wr w = WR_INIT;
	CHECK(enq_answer_encode(&w, &a) == -EINVAL);
	a.rec[0].len = ENQ_TXT_MAX;
	CHECK(enq_answer_encode(&w, &a) == 0);
	CHECK(w.len == 4 + 2 + ENQ_TXT_MAX);
	struct enq_answer d;
	CHECK(enq_answer_decode(&d, ENQ_TXT, w.p, w.len) == 0);
	CHECK(d.rec[0].len == ENQ_TXT_MAX && d.rec[0].data == w.p + 6);
	/* eight 4096-byte records exceed ENQ_ANSWER_MAX */
	a.count = 8;
	for (int i = 0; i < 8; i++)
		a.rec[i] = a.rec[0];
	w.len = 0;
	CHECK(enq_answer_encode(&w, &a) == -EMSGSIZE);
	CHECK(w.len == 0);
	a.count = 7;
	CHECK(enq_answer_encode(&w, &a) == 0);
	CHECK(w.len <= ENQ_ANSWER_MAX);
	/* the decoder refuses more than ENQ_ANSWER_MAX bytes outright */
	uint8_t *huge = calloc(1, ENQ_ANSWER_MAX + 1);
	CHECK(enq_answer_decode(&d, ENQ_TXT, huge, ENQ_ANSWER_MAX + 1) == -EBADMSG);
	free(huge);
	/* rules the encoder checks too */
	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_A;
	CHECK(enq_answer_encode(&w, &a) == -EINVAL); /* no records */
	a.status = CHST_NOT_FOUND;
	a.flags = ENQ_F_NXDOMAIN;
	CHECK(enq_answer_encode(&w, &a) == 0);
	a.status = CHST_OK;
	a.count = 1;
	CHECK(enq_answer_encode(&w, &a) == -EINVAL); /* NXDOMAIN with OK */
	memset(&a, 0, sizeof(a));
	a.status = CHST_OK;
	a.type = ENQ_PTR;
	a.count = 1;
	a.rec[0].data = (const uint8_t *)"Upper.case";
	a.rec[0].len = 10;
	CHECK(enq_answer_encode(&w, &a) == -EINVAL);
	wr_free(&w);
}

int main(void)
{
	check_init();
	RUN(test_name_valid);
	RUN(test_requests);
	RUN(test_golden);
	RUN(test_decode_rejects);
	RUN(test_encode_limits);
	return check_finish();
}
