/* test_enquiry_dns.c: Enquiry's DNS query builder and strict response parser
 * (src/enquiry/dns.c) on hand-made packets: compression pointers and loops,
 * truncation at every length, wrong ids and questions, CNAME chains, RCODEs,
 * authority/additional sections, MX order, long and oversized TXT, record
 * caps; also the answer cache (cache.c) and resolver address parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "check.h"
#include "common/chanmsg.h"
#include "enquiry/cache.h"
#include "enquiry/dns.h"
#include "enquiry/resolve.h"

/* ---- a tiny packet writer ---- */

struct pkt {
	uint8_t b[DNS_MSG_MAX];
	size_t n;
};

static void p8(struct pkt *p, uint8_t v) { p->b[p->n++] = v; }
static void p16(struct pkt *p, uint16_t v)
{
	p8(p, (uint8_t)(v >> 8));
	p8(p, (uint8_t)v);
}
static void p32(struct pkt *p, uint32_t v)
{
	p16(p, (uint16_t)(v >> 16));
	p16(p, (uint16_t)v);
}
static void pbytes(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}
/* Labels of text ("a.b"; "" writes nothing), then a root or nothing. */
static void plabels(struct pkt *p, const char *text)
{
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);
		p8(p, (uint8_t)l);
		pbytes(p, text, l);
		text += l + (dot ? 1 : 0);
	}
}
static void pname(struct pkt *p, const char *text)
{
	plabels(p, text);
	p8(p, 0);
}
static void pptr(struct pkt *p, size_t off) { p16(p, (uint16_t)(0xC000 | off)); }

static void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                   uint16_t ns, uint16_t ar)
{
	p->n = 0;
	p16(p, id);
	p16(p, flags);
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}
/* RR fixed part after the owner; returns where rdlength goes. */
static size_t rr_start(struct pkt *p, uint16_t type, uint16_t cls, uint32_t ttl)
{
	p16(p, type);
	p16(p, cls);
	p32(p, ttl);
	p16(p, 0);
	return p->n - 2;
}
static void rr_end(struct pkt *p, size_t at)
{
	size_t len = p->n - at - 2;
	p->b[at] = (uint8_t)(len >> 8);
	p->b[at + 1] = (uint8_t)len;
}

#define QOFF 12         /* where the question's name starts */
#define RESP 0x8180     /* QR, RD, RA, NOERROR */

static struct dns_question Q;
static uint8_t qbuf[DNS_QUERY_MAX];
static struct dns_result R;

static void ask(const char *name, uint8_t type)
{
	size_t len;
	int rc = dns_query_build(&Q, qbuf, &len, 0x4242, (const uint8_t *)name, strlen(name), type);
	if (rc != 0)
		abort();
}

/* The response header and question for Q's name (as text qname). */
static void resp(struct pkt *p, uint16_t flags, const char *qname, uint16_t qtype, uint16_t an,
                 uint16_t ns, uint16_t ar)
{
	header(p, Q.id, flags, 1, an, ns, ar);
	pname(p, qname);
	p16(p, qtype);
	p16(p, DNS_CLASS_IN);
}

static int parse(const struct pkt *p) { return dns_response_parse(&R, &Q, p->b, p->n); }

static bool rec_is(int i, const char *s)
{
	return R.ans.rec[i].len == strlen(s) && memcmp(R.ans.rec[i].data, s, strlen(s)) == 0;
}

/* ---- tests ---- */

static void test_query_build(void)
{
	size_t len;
	struct dns_question q;
	uint8_t out[DNS_QUERY_MAX];
	CHECK(dns_query_build(&q, out, &len, 0x1234, (const uint8_t *)"Example.COM", 11, ENQ_MX) == 0);
	uint8_t want[64];
	int n = check_unhex("123401000001000000000001076578616d706c6503636f6d00000f0001"
	                    "0000290" "4d0000000000000",
	                    want, sizeof(want));
	CHECK(n == 40 && len == 40);
	if (len == 40)
		CHECK_MEM(out, want, 40);
	CHECK(q.id == 0x1234 && q.qtype == DNS_T_MX && q.enq_type == ENQ_MX && q.wire_len == 13);
	CHECK(dns_query_build(&q, out, &len, 1, (const uint8_t *)"a..b", 4, ENQ_A) == -EINVAL);
	CHECK(dns_query_build(&q, out, &len, 1, (const uint8_t *)"a.b", 3, 9) == -EINVAL);
	/* the longest name fits DNS_QUERY_MAX */
	char name[254];
	memset(name, 'b', 253);
	name[63] = name[127] = name[191] = '.';
	CHECK(dns_query_build(&q, out, &len, 1, (const uint8_t *)name, 253, ENQ_TXT) == 0);
	CHECK(len == 12 + 255 + 4 + 11 && len <= DNS_QUERY_MAX);
}

static void test_ptr_name(void)
{
	char out[DNS_PTR_NAME_MAX + 1];
	uint8_t ip[16] = { 192, 0, 2, 10 };
	CHECK(dns_ptr_name(out, 4, ip) == 23 && strcmp(out, "10.2.0.192.in-addr.arpa") == 0);
	uint8_t v6[16];
	CHECK(inet_pton(AF_INET6, "2001:db8::567:89ab", v6) == 1);
	int n = dns_ptr_name(out, 6, v6);
	CHECK(n == DNS_PTR_NAME_MAX);
	CHECK(strcmp(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") ==
	      0);
	CHECK(enq_name_valid((const uint8_t *)out, (size_t)n));
	CHECK(dns_ptr_name(out, 5, ip) == -EINVAL);
}

/* A good A answer: two records, owners compressed to the question. */
static void a_answer(struct pkt *p)
{
	ask("host.example", ENQ_A);
	resp(p, RESP, "host.example", DNS_T_A, 2, 0, 0);
	pptr(p, QOFF);
	size_t at = rr_start(p, DNS_T_A, DNS_CLASS_IN, 300);
	pbytes(p, "\xc0\x00\x02\x01", 4);
	rr_end(p, at);
	pptr(p, QOFF);
	at = rr_start(p, DNS_T_A, DNS_CLASS_IN, 100);
	pbytes(p, "\xc0\x00\x02\x02", 4);
	rr_end(p, at);
}

static void test_a_answer(void)
{
	static struct pkt p;
	a_answer(&p);
	CHECK(parse(&p) == 0);
	CHECK(!R.truncated && R.ans.status == CHST_OK && R.ans.flags == 0 && R.ans.count == 2);
	CHECK(memcmp(R.ans.rec[0].ip, "\xc0\x00\x02\x01", 4) == 0);
	CHECK(memcmp(R.ans.rec[1].ip, "\xc0\x00\x02\x02", 4) == 0);
	CHECK(R.ttl == 100);
	CHECK(R.encoded == 4 + 8);
	struct wr w = WR_INIT;
	CHECK(enq_answer_encode(&w, &R.ans) == 0 && w.len == R.encoded);
	wr_free(&w);

	/* Every shorter prefix fails; none is taken for an answer. */
	size_t full = p.n;
	int bad = 0;
	for (size_t n = 0; n < full; n++) {
		p.n = n;
		int rc = parse(&p);
		if (rc != -EBADMSG && !(n < 2 && rc == -ESRCH))
			bad++;
	}
	CHECK(bad == 0);
	/* bytes after the last section are ignored */
	p.n = full;
	p8(&p, 0xAB);
	CHECK(parse(&p) == 0 && R.ans.count == 2);
}

static void test_not_ours(void)
{
	static struct pkt p;
	a_answer(&p);
	p.b[1] ^= 1; /* another id */
	CHECK(parse(&p) == -ESRCH);
	a_answer(&p);
	p.b[2] &= 0x7F; /* a query, not a response */
	CHECK(parse(&p) == -ESRCH);
	a_answer(&p);
	p.b[QOFF + 1] = 'x'; /* another name */
	CHECK(parse(&p) == -ESRCH);
	a_answer(&p);
	p.b[QOFF + 1] = 'H'; /* the same name in another case */
	p.b[QOFF + 6] = 'E';
	CHECK(parse(&p) == 0 && R.ans.count == 2);
	a_answer(&p);
	p.b[QOFF + 14 + 1] = DNS_T_AAAA; /* another type */
	CHECK(parse(&p) == -ESRCH);
	a_answer(&p);
	p.b[QOFF + 14 + 3] = 3; /* class CH */
	CHECK(parse(&p) == -ESRCH);
	a_answer(&p);
	p.b[2] |= 0x08; /* opcode 1 */
	CHECK(parse(&p) == -EBADMSG);
	a_answer(&p);
	p.b[5] = 2; /* QDCOUNT 2 */
	CHECK(parse(&p) == -EBADMSG);
	a_answer(&p);
	p.b[5] = 0;
	CHECK(parse(&p) == -EBADMSG);
	a_answer(&p);
	p.b[7] = 3; /* ANCOUNT larger than what follows */
	CHECK(parse(&p) == -EBADMSG);
	a_answer(&p);
	p.b[p.n - 5] = 5; /* the second A's RDLENGTH 5 runs past the end */
	CHECK(parse(&p) == -EBADMSG);
}

static void test_compression(void)
{
	static struct pkt p;
	ask("a.example", ENQ_A);
	/* A pointer to itself. */
	resp(&p, RESP, "a.example", DNS_T_A, 1, 0, 0);
	size_t self = p.n;
	pptr(&p, self);
	size_t at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);
	/* A forward pointer, in an otherwise good message: the answer's owner
	 * points at a copy of the name in the data of the next record. */
	resp(&p, RESP, "a.example", DNS_T_A, 2, 0, 0);
	size_t start = p.n;
	pptr(&p, start + 28);
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	pptr(&p, QOFF);
	at = rr_start(&p, 99, DNS_CLASS_IN, 1);
	CHECK(p.n == start + 28);
	pname(&p, "a.example");
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);
	p.b[start + 1] = QOFF; /* the same pointing backwards is fine */
	CHECK(parse(&p) == 0 && R.ans.status == CHST_OK);
	/* Into the header. */
	resp(&p, RESP, "a.example", DNS_T_A, 1, 0, 0);
	pptr(&p, 4);
	CHECK(parse(&p) == -EBADMSG);
	/* Two names pointing at each other: the second one's pointer goes
	 * backwards, into the first, whose pointer goes forwards. */
	resp(&p, RESP, "a.example", DNS_T_A, 2, 0, 0);
	size_t first = p.n;
	p8(&p, 1);
	p8(&p, 'x');
	size_t fix = p.n;
	pptr(&p, 0); /* patched below */
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	size_t second = p.n;
	p8(&p, 1);
	p8(&p, 'y');
	pptr(&p, first);
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	p.b[fix] = (uint8_t)(0xC0 | second >> 8);
	p.b[fix + 1] = (uint8_t)second;
	CHECK(parse(&p) == -EBADMSG);
	/* Reserved label types 0x40 and 0x80. */
	for (int k = 0; k < 2; k++) {
		resp(&p, RESP, "a.example", DNS_T_A, 1, 0, 0);
		p8(&p, k ? 0x80 : 0x41);
		p8(&p, 0);
		CHECK(parse(&p) == -EBADMSG);
	}
	/* A name over 255 bytes made of pointers to earlier labels: the labels
	 * sit in the data of a record of another type, the next record's owner
	 * points at them. With 3 labels (191 bytes) the name is fine. */
	for (int labels = 3; labels <= 5; labels += 2) {
		resp(&p, RESP, "a.example", DNS_T_A, 2, 0, 0);
		pptr(&p, QOFF);
		at = rr_start(&p, 99, DNS_CLASS_IN, 1);
		size_t prev = QOFF;
		for (int i = 0; i < labels; i++) { /* 60-byte labels, each pointing at the last */
			size_t here = p.n;
			p8(&p, 59);
			for (int k = 0; k < 59; k++)
				p8(&p, 'z');
			pptr(&p, prev);
			prev = here;
		}
		rr_end(&p, at);
		pptr(&p, prev);
		at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
		pbytes(&p, "\x01\x02\x03\x04", 4);
		rr_end(&p, at);
		if (labels == 3)
			CHECK(parse(&p) == 0 && R.ans.status == CHST_NOT_FOUND);
		else
			CHECK(parse(&p) == -EBADMSG);
	}
	/* A legitimate chain: owner "www" + pointer to the question's "example". */
	resp(&p, RESP, "a.example", DNS_T_A, 1, 0, 0);
	p8(&p, 1);
	p8(&p, 'a');
	pptr(&p, QOFF + 2);
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 1);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	CHECK(parse(&p) == 0 && R.ans.status == CHST_OK && R.ans.count == 1);
}

/* CNAME owner -> target (the target written in full). */
static void cname(struct pkt *p, const char *owner, const char *target)
{
	pname(p, owner);
	size_t at = rr_start(p, DNS_T_CNAME, DNS_CLASS_IN, 50);
	pname(p, target);
	rr_end(p, at);
}

static void a_rec(struct pkt *p, const char *owner, const char *ip4)
{
	pname(p, owner);
	size_t at = rr_start(p, DNS_T_A, DNS_CLASS_IN, 500);
	pbytes(p, ip4, 4);
	rr_end(p, at);
}

static void test_cname(void)
{
	static struct pkt p;
	ask("www.example", ENQ_A);
	/* Out of order: the address first, then the chain www -> c1 -> C2. */
	resp(&p, RESP, "www.example", DNS_T_A, 4, 0, 0);
	a_rec(&p, "c2.other", "\x0a\x00\x00\x01");
	a_rec(&p, "unrelated.example", "\x0a\x00\x00\x09");
	cname(&p, "c1.example", "C2.other");
	cname(&p, "WWW.example", "c1.example");
	CHECK(parse(&p) == 0);
	CHECK(R.ans.status == CHST_OK && R.ans.count == 1);
	CHECK(memcmp(R.ans.rec[0].ip, "\x0a\x00\x00\x01", 4) == 0);
	CHECK(R.ttl == 50);

	/* A chain that ends without the type asked: NODATA. */
	resp(&p, RESP, "www.example", DNS_T_A, 1, 0, 0);
	cname(&p, "www.example", "nowhere.example");
	CHECK(parse(&p) == 0 && R.ans.status == CHST_NOT_FOUND && R.ans.flags == 0);

	/* Eight CNAMEs are followed, nine are not. */
	char names[10][16];
	for (int len = 8; len <= 9; len++) {
		resp(&p, RESP, "www.example", DNS_T_A, (uint16_t)(len + 1), 0, 0);
		for (int i = 0; i < len; i++) {
			snprintf(names[i], sizeof(names[i]), "n%d.example", i + 1);
			cname(&p, i == 0 ? "www.example" : names[i - 1], names[i]);
		}
		a_rec(&p, names[len - 1], "\x0a\x00\x00\x02");
		CHECK(parse(&p) == 0);
		CHECK(R.ans.status == (len == 8 ? CHST_OK : CHST_TEMPFAIL));
	}
	/* A loop. */
	resp(&p, RESP, "www.example", DNS_T_A, 2, 0, 0);
	cname(&p, "www.example", "b.example");
	cname(&p, "b.example", "www.example");
	CHECK(parse(&p) == 0 && R.ans.status == CHST_TEMPFAIL);
	/* A CNAME whose data is not exactly one name. */
	resp(&p, RESP, "www.example", DNS_T_A, 1, 0, 0);
	pname(&p, "www.example");
	size_t at = rr_start(&p, DNS_T_CNAME, DNS_CLASS_IN, 50);
	pname(&p, "b.example");
	p8(&p, 0);
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);
}

static void test_rcodes(void)
{
	static struct pkt p;
	ask("gone.example", ENQ_TXT);
	resp(&p, RESP | DNS_R_NXDOMAIN, "gone.example", DNS_T_TXT, 0, 1, 0);
	/* authority: the zone's SOA, TTL 30, MINIMUM 20 */
	pname(&p, "example");
	size_t at = rr_start(&p, DNS_T_SOA, DNS_CLASS_IN, 30);
	pname(&p, "ns.example");
	pname(&p, "admin.example");
	p32(&p, 1);
	p32(&p, 2);
	p32(&p, 3);
	p32(&p, 4);
	p32(&p, 20);
	rr_end(&p, at);
	CHECK(parse(&p) == 0);
	CHECK(R.ans.status == CHST_NOT_FOUND && R.ans.flags == ENQ_F_NXDOMAIN && R.ttl == 20);
	CHECK(R.ans.count == 0 && R.encoded == 4);
	/* a malformed SOA is a malformed message */
	p.b[at + 1] -= 1;
	p.n -= 1;
	CHECK(parse(&p) == -EBADMSG);

	/* NOERROR, no data, no SOA: the default negative TTL */
	resp(&p, RESP, "gone.example", DNS_T_TXT, 0, 0, 0);
	CHECK(parse(&p) == 0 && R.ans.status == CHST_NOT_FOUND && R.ans.flags == 0 &&
	      R.ttl == DNS_NEG_TTL_DEFAULT);
	/* an SOA with a long TTL is capped */
	resp(&p, RESP | DNS_R_NXDOMAIN, "gone.example", DNS_T_TXT, 0, 1, 0);
	pname(&p, "example");
	at = rr_start(&p, DNS_T_SOA, DNS_CLASS_IN, 86400);
	pptr(&p, QOFF + 5);
	pptr(&p, QOFF + 5);
	for (int i = 0; i < 5; i++)
		p32(&p, 86400);
	rr_end(&p, at);
	CHECK(parse(&p) == 0 && R.ttl == DNS_NEG_TTL_DEFAULT);

	uint16_t fail[] = { DNS_R_SERVFAIL, DNS_R_REFUSED, DNS_R_FORMERR, DNS_R_NOTIMP, 9 };
	for (size_t i = 0; i < ARRAY_SIZE(fail); i++) {
		resp(&p, (uint16_t)(RESP | fail[i]), "gone.example", DNS_T_TXT, 0, 0, 0);
		CHECK(parse(&p) == 0 && R.ans.status == CHST_TEMPFAIL && !R.truncated);
	}
	/* TC: nothing else is read */
	resp(&p, RESP | 0x0200, "gone.example", DNS_T_TXT, 3, 0, 0);
	CHECK(parse(&p) == 0 && R.truncated);
}

static void test_sections(void)
{
	static struct pkt p;
	ask("example", ENQ_MX);
	resp(&p, RESP, "example", DNS_T_MX, 5, 2, 2);
	uint16_t prefs[] = { 30, 10, 20, 10 };
	const char *ex[] = { "mx3.example", "MX1.Example", "mx2.example", "mx1b.example" };
	for (int i = 0; i < 4; i++) {
		pptr(&p, QOFF);
		size_t at = rr_start(&p, DNS_T_MX, DNS_CLASS_IN, 600);
		p16(&p, prefs[i]);
		pname(&p, ex[i]);
		rr_end(&p, at);
	}
	/* an exchange that is no host name: left out */
	pptr(&p, QOFF);
	size_t at = rr_start(&p, DNS_T_MX, DNS_CLASS_IN, 600);
	p16(&p, 5);
	pname(&p, "bad name.example");
	rr_end(&p, at);
	/* authority: two NS; additional: an A and the OPT record */
	for (int i = 0; i < 2; i++) {
		pptr(&p, QOFF);
		at = rr_start(&p, 2, DNS_CLASS_IN, 600);
		pname(&p, i ? "ns2.example" : "ns1.example");
		rr_end(&p, at);
	}
	pname(&p, "ns1.example");
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 600);
	pbytes(&p, "\x01\x01\x01\x01", 4);
	rr_end(&p, at);
	p8(&p, 0);
	at = rr_start(&p, DNS_T_OPT, 1232, 0);
	rr_end(&p, at);
	CHECK(parse(&p) == 0);
	CHECK(R.ans.status == CHST_OK && R.ans.count == 4);
	CHECK(R.ans.rec[0].pref == 10 && rec_is(0, "mx1.example"));
	CHECK(R.ans.rec[1].pref == 10 && rec_is(1, "mx1b.example"));
	CHECK(R.ans.rec[2].pref == 20 && rec_is(2, "mx2.example"));
	CHECK(R.ans.rec[3].pref == 30 && rec_is(3, "mx3.example"));
	struct wr w = WR_INIT;
	CHECK(enq_answer_encode(&w, &R.ans) == 0 && w.len == R.encoded);
	wr_free(&w);
	/* a malformed record in the additional section spoils the message */
	p.b[p.n - 1] = 1; /* the OPT's RDLENGTH 1 with no data */
	CHECK(parse(&p) == -EBADMSG);

	/* null MX (RFC 7505) */
	resp(&p, RESP, "example", DNS_T_MX, 1, 0, 0);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_MX, DNS_CLASS_IN, 600);
	p16(&p, 0);
	p8(&p, 0);
	rr_end(&p, at);
	CHECK(parse(&p) == 0 && R.ans.status == CHST_OK && R.ans.count == 1 && R.ans.rec[0].len == 0);
	/* MX data with a byte after the name */
	resp(&p, RESP, "example", DNS_T_MX, 1, 0, 0);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_MX, DNS_CLASS_IN, 600);
	p16(&p, 0);
	p8(&p, 0);
	p8(&p, 0);
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);
	/* too short for a preference */
	resp(&p, RESP, "example", DNS_T_MX, 1, 0, 0);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_MX, DNS_CLASS_IN, 600);
	p8(&p, 0);
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);
}

static void txt_rec(struct pkt *p, const char *const *strings, size_t n, uint16_t cls)
{
	pptr(p, QOFF);
	size_t at = rr_start(p, DNS_T_TXT, cls, 0x80000000u);
	for (size_t i = 0; i < n; i++) {
		p8(p, (uint8_t)strlen(strings[i]));
		pbytes(p, strings[i], strlen(strings[i]));
	}
	rr_end(p, at);
}

static void test_txt(void)
{
	static struct pkt p;
	static char s255[256];
	memset(s255, 'k', 255);
	ask("_dmarc.Example", ENQ_TXT);
	const char *two[] = { "v=DMARC1; ", "p=reject" };
	const char *one[] = { "other" };
	const char *eight[8];
	for (int i = 0; i < 8; i++)
		eight[i] = s255;
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 4, 0, 0);
	txt_rec(&p, two, 2, DNS_CLASS_IN);
	txt_rec(&p, one, 1, 3); /* class CH: ignored */
	txt_rec(&p, eight, 8, DNS_CLASS_IN);
	txt_rec(&p, one, 0, DNS_CLASS_IN); /* no strings at all: empty text */
	CHECK(parse(&p) == 0);
	CHECK(R.ans.status == CHST_OK && R.ans.count == 3 && R.ans.flags == 0);
	CHECK(rec_is(0, "v=DMARC1; p=reject"));
	CHECK(R.ans.rec[1].len == 8 * 255 && R.ans.rec[1].data[2039] == 'k');
	CHECK(R.ans.rec[2].len == 0);
	CHECK(R.ttl == 0); /* TTL with the top bit set reads as 0 */

	/* a record over ENQ_TXT_MAX is left out, and the answer says TRUNC */
	const char *many[17];
	for (int i = 0; i < 17; i++)
		many[i] = s255; /* 4335 bytes */
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 2, 0, 0);
	txt_rec(&p, many, 17, DNS_CLASS_IN);
	txt_rec(&p, one, 1, DNS_CLASS_IN);
	CHECK(parse(&p) == 0);
	CHECK(R.ans.status == CHST_OK && R.ans.count == 1 && (R.ans.flags & ENQ_F_TRUNC));
	CHECK(rec_is(0, "other"));
	/* ... and with nothing else: NOT_FOUND with TRUNC */
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 1, 0, 0);
	txt_rec(&p, many, 17, DNS_CLASS_IN);
	CHECK(parse(&p) == 0 && R.ans.status == CHST_NOT_FOUND && R.ans.flags == ENQ_F_TRUNC);

	/* a string longer than the record's data */
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 1, 0, 0);
	pptr(&p, QOFF);
	size_t at = rr_start(&p, DNS_T_TXT, DNS_CLASS_IN, 1);
	p8(&p, 10);
	pbytes(&p, "abc", 3);
	rr_end(&p, at);
	p8(&p, 0); /* bytes after the record exist, but are not its data */
	p8(&p, 0);
	p8(&p, 0);
	p8(&p, 0);
	p8(&p, 0);
	p8(&p, 0);
	p8(&p, 0);
	CHECK(parse(&p) == -EBADMSG);

	/* 40 records: 32 are kept, TRUNC set */
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 40, 0, 0);
	for (int i = 0; i < 40; i++)
		txt_rec(&p, one, 1, DNS_CLASS_IN);
	CHECK(parse(&p) == 0 && R.ans.count == ENQ_RECORDS_MAX && (R.ans.flags & ENQ_F_TRUNC));
	/* 10 records of 4000 bytes: as many as fit ENQ_ANSWER_MAX */
	const char *big[16];
	for (int i = 0; i < 16; i++)
		big[i] = s255 + 5; /* 250 bytes */
	resp(&p, RESP, "_dmarc.example", DNS_T_TXT, 10, 0, 0);
	for (int i = 0; i < 10; i++)
		txt_rec(&p, big, 16, DNS_CLASS_IN);
	CHECK(parse(&p) == 0);
	CHECK(R.ans.count == 8 && (R.ans.flags & ENQ_F_TRUNC) && R.encoded <= ENQ_ANSWER_MAX);
	struct wr w = WR_INIT;
	CHECK(enq_answer_encode(&w, &R.ans) == 0 && w.len == R.encoded);
	wr_free(&w);
}

static void test_addresses(void)
{
	static struct pkt p;
	ask("v6.example", ENQ_AAAA);
	resp(&p, RESP, "v6.example", DNS_T_AAAA, 2, 0, 0);
	pptr(&p, QOFF);
	size_t at = rr_start(&p, DNS_T_AAAA, DNS_CLASS_IN, 7);
	pbytes(&p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	rr_end(&p, at);
	/* an A record in an AAAA answer is not what was asked: ignored */
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_A, DNS_CLASS_IN, 7);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	CHECK(parse(&p) == 0 && R.ans.count == 1 && R.ans.rec[0].ip[15] == 1 && R.ttl == 7);
	/* a 4-byte AAAA */
	resp(&p, RESP, "v6.example", DNS_T_AAAA, 1, 0, 0);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_AAAA, DNS_CLASS_IN, 7);
	pbytes(&p, "\x01\x02\x03\x04", 4);
	rr_end(&p, at);
	CHECK(parse(&p) == -EBADMSG);

	/* PTR */
	char rev[DNS_PTR_NAME_MAX + 1];
	uint8_t ip[16] = { 198, 51, 100, 7 };
	CHECK(dns_ptr_name(rev, 4, ip) > 0);
	ask(rev, ENQ_PTR);
	resp(&p, RESP, rev, DNS_T_PTR, 2, 0, 0);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_PTR, DNS_CLASS_IN, 9);
	pname(&p, "Host.Example");
	rr_end(&p, at);
	pptr(&p, QOFF);
	at = rr_start(&p, DNS_T_PTR, DNS_CLASS_IN, 9);
	p8(&p, 0); /* the root: no host name, left out */
	rr_end(&p, at);
	CHECK(parse(&p) == 0 && R.ans.count == 1 && rec_is(0, "host.example"));
}

static void test_cache(void)
{
	struct cache *c = cache_new(3, 1000);
	size_t len;
	const uint8_t *v;
	cache_put(c, 1, (const uint8_t *)"a", 1, (const uint8_t *)"AAAA", 4, 1000, 10);
	cache_put(c, 2, (const uint8_t *)"a", 1, (const uint8_t *)"BB", 2, 1000, 10);
	CHECK(cache_count(c) == 2);
	v = cache_get(c, 1, (const uint8_t *)"a", 1, 1500, &len);
	CHECK(v && len == 4 && memcmp(v, "AAAA", 4) == 0);
	v = cache_get(c, 2, (const uint8_t *)"a", 1, 1500, &len);
	CHECK(v && len == 2);
	CHECK(!cache_get(c, 3, (const uint8_t *)"a", 1, 1500, &len));
	CHECK(!cache_get(c, 1, (const uint8_t *)"b", 1, 1500, &len));
	/* expiry at TTL */
	CHECK(cache_get(c, 1, (const uint8_t *)"a", 1, 10999, &len) != NULL);
	CHECK(cache_get(c, 1, (const uint8_t *)"a", 1, 11000, &len) == NULL);
	CHECK(cache_count(c) == 1);
	/* ttl 0: not kept; a TTL over the cap is capped */
	cache_put(c, 1, (const uint8_t *)"z", 1, (const uint8_t *)"Z", 1, 1000, 0);
	CHECK(cache_count(c) == 1);
	cache_put(c, 1, (const uint8_t *)"y", 1, (const uint8_t *)"Y", 1, 0, 86400);
	CHECK(cache_get(c, 1, (const uint8_t *)"y", 1, CACHE_TTL_MAX_S * 1000ull - 1, &len));
	CHECK(!cache_get(c, 1, (const uint8_t *)"y", 1, CACHE_TTL_MAX_S * 1000ull, &len));
	/* entries bound: the least recently used goes */
	cache_free(c);
	c = cache_new(3, 1000);
	cache_put(c, 1, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1, 0, 100);
	cache_put(c, 1, (const uint8_t *)"b", 1, (const uint8_t *)"2", 1, 0, 100);
	cache_put(c, 1, (const uint8_t *)"c", 1, (const uint8_t *)"3", 1, 0, 100);
	CHECK(cache_get(c, 1, (const uint8_t *)"a", 1, 1, &len)); /* a is now recent */
	cache_put(c, 1, (const uint8_t *)"d", 1, (const uint8_t *)"4", 1, 0, 100);
	CHECK(cache_count(c) == 3);
	CHECK(!cache_get(c, 1, (const uint8_t *)"b", 1, 1, &len));
	CHECK(cache_get(c, 1, (const uint8_t *)"a", 1, 1, &len));
	/* replacing keeps one entry */
	cache_put(c, 1, (const uint8_t *)"a", 1, (const uint8_t *)"55", 2, 0, 100);
	CHECK(cache_count(c) == 3);
	v = cache_get(c, 1, (const uint8_t *)"a", 1, 1, &len);
	CHECK(v && len == 2 && v[0] == '5');
	/* bytes bound */
	static uint8_t big[600];
	cache_put(c, 1, (const uint8_t *)"e", 1, big, sizeof(big), 0, 100);
	cache_put(c, 1, (const uint8_t *)"f", 1, big, sizeof(big), 0, 100);
	CHECK(cache_bytes(c) <= 1000 && cache_count(c) >= 1);
	CHECK(cache_get(c, 1, (const uint8_t *)"f", 1, 1, &len));
	CHECK(!cache_get(c, 1, (const uint8_t *)"e", 1, 1, &len));
	cache_put(c, 1, (const uint8_t *)"g", 1, big, 1000, 0, 100); /* over the bound alone */
	CHECK(!cache_get(c, 1, (const uint8_t *)"g", 1, 1, &len));
	cache_free(c);
	/* a cache of 0 entries keeps nothing */
	c = cache_new(0, 1000);
	cache_put(c, 1, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1, 0, 100);
	CHECK(cache_count(c) == 0 && !cache_get(c, 1, (const uint8_t *)"a", 1, 1, &len));
	cache_free(c);
}

static void test_server_parse(void)
{
	struct resolve_server s;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&s.sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s.sa;
	CHECK(resolve_server_parse(&s, "127.0.0.1") == 0 && v4->sin_family == AF_INET &&
	      ntohs(v4->sin_port) == 53 && s.len == sizeof(*v4));
	CHECK(resolve_server_parse(&s, "127.0.0.1:5353") == 0 && ntohs(v4->sin_port) == 5353);
	CHECK(resolve_server_parse(&s, "[::1]:54") == 0 && v6->sin6_family == AF_INET6 &&
	      ntohs(v6->sin6_port) == 54);
	CHECK(resolve_server_parse(&s, "2001:db8::1") == 0 && ntohs(v6->sin6_port) == 53);
	const char *bad[] = { "", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		                  "127.0.0.1:53x", "[::1]", "[::1]:", "[127.0.0.1]:53", "::1]:53",
		                  "1.2.3.4:+53", "1.2.3.4:053", "[::1]:5:3" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = resolve_server_parse(&s, bad[i]);
		if (rc != -EINVAL)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		CHECK(rc == -EINVAL);
	}
	char path[] = "/tmp/enq-resolv-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *conf = "# comment\nsearch example\nnameserver 10.0.0.1\nnameserver ::1\n"
	                   "nameserver fe80::1%eth0\noptions rotate\nnameserver\n";
	CHECK(write(fd, conf, strlen(conf)) == (ssize_t)strlen(conf));
	close(fd);
	struct resolve_server out[RESOLVE_SERVERS_MAX];
	CHECK(resolve_conf_servers(path, out, RESOLVE_SERVERS_MAX) == 2);
	CHECK(resolve_conf_servers(path, out, 1) == 1);
	unlink(path);
	CHECK(resolve_conf_servers(path, out, 1) == -ENOENT);
}

int main(void)
{
	check_init();
	RUN(test_query_build);
	RUN(test_ptr_name);
	RUN(test_a_answer);
	RUN(test_not_ours);
	RUN(test_compression);
	RUN(test_cname);
	RUN(test_rcodes);
	RUN(test_sections);
	RUN(test_txt);
	RUN(test_addresses);
	RUN(test_cache);
	RUN(test_server_parse);
	return check_finish();
}
