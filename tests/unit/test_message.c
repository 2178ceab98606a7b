/* test_message.c: the four Message formats against golden encodings written by
 * hand from docs/PROTOCOL.md section 5, round trips, and every rejection class. */
#include "check.h"
#include "common/bytes.h"
#include "common/message.h"

#include <errno.h>

/* ---- Golden encodings (hand-written from the layout tables) ---- */

#define TS_HEX "00a8da769b010000" /* 1,767,225,600,000 ms */
#define TS 1767225600000ull

static const char G_EXT_MIN[] =
	"01" "00" "0000" TS_HEX                 /* header: v1, ExtMsg */
	"0100000000000000"                      /* ref = 1 */
	"04" "00" "0000"                        /* IPv4, no TLS, suite 0 */
	"c0000201" "000000000000000000000000"   /* 192.0.2.1 */
	"0000" "00" "00" "0080"                 /* flags, spf, dmarc, tz absent */
	"00" "00" "00000080" "0000"             /* dkim 0, attach 0, delta absent, country unknown */
	"00" "0162" "00" "00" "00"              /* env From "", env To "b", HELO, rDNS, ASN */
	"0000" "0000" "0000" "0000" "0000" "0000" "0000" /* From To Cc Reply-To Msg-ID In-Reply-To Subject */
	"00000000" "00000000";                  /* headers, body */

static const char G_EXT_FULL[] =
	"01" "00" "0000" TS_HEX
	"efcdab8967452301"                      /* ref 0x0123456789abcdef */
	"06" "04" "0213"                        /* IPv6, TLS 1.3, suite 0x1302 */
	"20010db8000000000000000000000025"      /* 2001:db8::25 */
	"1f02"                                  /* ESMTP STARTTLS PIPELINING HELO_MATCH RDNS_MATCH 8BITMIME */
	"03" "02"                               /* SPF pass, DMARC pass */
	"d4fe"                                  /* tz -300 */
	"02" "03"                               /* 2 DKIM records, 3 attachments */
	"2a000000"                              /* delta +42 s */
	"4649"                                  /* "FI" */
	/* DKIM 1: rsa-sha256 pass relaxed/simple 2048 bits, T|X|I_HDR_FROM */
	"02" "01" "01" "00" "0008" "0601" "9cb8556900000000" "1cf35e6900000000"
	"0b" "6578616d706c652e6f7267" "04" "73656c31"           /* example.org, sel1 */
	/* DKIM 2: ed25519-sha256 fail simple/relaxed 256 bits, no flags */
	"03" "02" "00" "01" "0001" "0000" "0000000000000000" "0000000000000000"
	"06" "65782e6e6574" "02" "6564"                         /* ex.net, ed */
	"11" "616c696365406578616d706c652e6f7267"               /* alice@example.org */
	"03" "626f62"                                           /* bob */
	"10" "6d61696c2e6578616d706c652e6f7267"                 /* mail.example.org */
	"10" "6d61696c2e6578616d706c652e6f7267"
	"0a" "4578616d706c65204153"                             /* Example AS */
	"1700" "416c6963657f616c696365406578616d706c652e6f7267" /* Alice 7F alice@example.org */
	"0b00" "626f624061652e74657374"                         /* bob@ae.test */
	"0000" "0000"                                           /* Cc, Reply-To */
	"0f00" "696431406578616d706c652e6f7267"                 /* id1@example.org */
	"0000"                                                  /* In-Reply-To */
	"0500" "486920c3a9"                                     /* "Hi é" */
	"0d000000" "582d413a20310a582d423a2032"                 /* X-A: 1 LF X-B: 2 */
	"0d000000" "48656c6c6f0a16776f726c6416";                /* Hello LF 16 world 16 */

static const char G_INT_MIN[] =
	"01" "01" "0000" TS_HEX "00" "00"
	"00000000000000000000" "00000000000000000000" "00" "00000000";

static const char G_INT_FULL[] =
	"01" "01" "0000" TS_HEX "01" "01"  /* user, ADMIN */
	"2a9b40d4000000000000"             /* from admin */
	"2a97bcb8000000000000"             /* to abuse */
	"07" "57656c636f6d65"              /* Welcome */
	"04000000" "16486916";             /* 16 Hi 16 */

static const char G_OUT_MIN[] =
	"01" "02" "0000" TS_HEX "03" "00" "00" "00" "0000"  /* not attempted */
	"00000000000000000000000000000000"
	"0161" "03624063" "00" "0000" "0000" "0000" "00000000";  /* a, b@c */

static const char G_OUT_FULL[] =
	"01" "02" "0000" TS_HEX "00" "04" "04" "1f" "0113"  /* delivered, v4, TLS 1.3, all flags, 0x1301 */
	"c6336407000000000000000000000000"                  /* 198.51.100.7 */
	"05" "616c696365"                                   /* alice */
	"0f" "626f62406578616d706c652e6f7267"               /* bob@example.org */
	"0e" "6d782e6578616d706c652e6f7267"                 /* mx.example.org */
	"0c00" "323230206d782045534d5450"                   /* 220 mx ESMTP */
	"0c00" "32353020322e302e30204f6b"                   /* 250 2.0.0 Ok */
	"0200" "4869"                                       /* Hi */
	"12000000" "5375626a6563743a2048690d0a0d0a780d0a";  /* Subject: Hi CRLF CRLF x CRLF */

static const char G_UPL_MIN[] =
	"01" "03" "0000" TS_HEX "0000000000000000" "00" "00" "0166" "00000000";

static const char G_UPL_FULL[] =
	"01" "03" "0000" TS_HEX "efcdab8967452301" "01"
	"0a" "746578742f706c61696e"  /* text/plain */
	"05" "612e747874"            /* a.txt */
	"05000000" "68656c6c6f";     /* hello */

struct golden {
	const char *name;
	int type;
	const char *hex;
	size_t len; /* expected length, from the doc */
};
static const struct golden goldens[] = {
	{ "ext_min", MSG_EXT, G_EXT_MIN, 82 },   { "ext_full", MSG_EXT, G_EXT_FULL, 298 },
	{ "int_min", MSG_INT, G_INT_MIN, 39 },   { "int_full", MSG_INT, G_INT_FULL, 50 },
	{ "out_min", MSG_OUT, G_OUT_MIN, 51 },   { "out_full", MSG_OUT, G_OUT_FULL, 125 },
	{ "upl_min", MSG_UPL, G_UPL_MIN, 28 },   { "upl_full", MSG_UPL, G_UPL_FULL, 47 },
};

#define BUFMAX 1024
static size_t load(const char *hex, uint8_t *out)
{
	int n = check_unhex(hex, out, BUFMAX);
	if (n < 0) {
		fprintf(stderr, "bad hex constant\n");
		exit(1);
	}
	return (size_t)n;
}

/* Decodes p as `type`; on success re-encodes into *re (if given). */
static int decode_as(int type, const uint8_t *p, size_t len, struct wr *re)
{
	int e;
	switch (type) {
	case MSG_EXT: {
		struct msg_ext m;
		e = msg_ext_decode(&m, p, len);
		if (e == 0 && re)
			e = msg_ext_encode(re, &m);
		break;
	}
	case MSG_INT: {
		struct msg_int m;
		e = msg_int_decode(&m, p, len);
		if (e == 0 && re)
			e = msg_int_encode(re, &m);
		break;
	}
	case MSG_OUT: {
		struct msg_out m;
		e = msg_out_decode(&m, p, len);
		if (e == 0 && re)
			e = msg_out_encode(re, &m);
		break;
	}
	default: {
		struct msg_upl m;
		e = msg_upl_decode(&m, p, len);
		if (e == 0 && re)
			e = msg_upl_encode(re, &m);
		break;
	}
	}
	return e;
}

static bool str_is(struct msg_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- Structs matching the goldens ---- */

static struct msg_ext ext_full_struct(void)
{
	struct msg_ext m = { 0 };
	m.ts = TS;
	m.ref = 0x0123456789abcdefull;
	m.ip_family = MSG_IP_V6;
	static const uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x25 };
	memcpy(m.ip, ip, 16);
	m.tls_version = MSG_TLS_1_3;
	m.tls_suite = 0x1302;
	m.flags = MSG_EXT_F_ESMTP | MSG_EXT_F_STARTTLS | MSG_EXT_F_PIPELINING | MSG_EXT_F_HELO_MATCH |
	          MSG_EXT_F_RDNS_MATCH | MSG_EXT_F_8BITMIME;
	m.spf = MSG_SPF_PASS;
	m.dmarc = MSG_DMARC_PASS;
	m.tz_minutes = -300;
	m.date_delta = 42;
	m.country[0] = 'F';
	m.country[1] = 'I';
	m.attach_count = 3;
	m.dkim_count = 2;
	m.dkim[0] = (struct msg_dkim){ .algo = MSG_DKIM_ALGO_RSA_SHA256, .result = MSG_DKIM_PASS,
	                               .head_canon = MSG_DKIM_RELAXED, .body_canon = MSG_DKIM_SIMPLE,
	                               .key_bits = 2048,
	                               .flags = MSG_DKIM_F_T | MSG_DKIM_F_X | MSG_DKIM_F_I_HDR_FROM,
	                               .t = 1767225500, .x = 1767830300,
	                               .domain = MSG_STR("example.org"), .selector = MSG_STR("sel1") };
	m.dkim[1] = (struct msg_dkim){ .algo = MSG_DKIM_ALGO_ED25519_SHA256, .result = MSG_DKIM_FAIL,
	                               .head_canon = MSG_DKIM_SIMPLE, .body_canon = MSG_DKIM_RELAXED,
	                               .key_bits = 256, .domain = MSG_STR("ex.net"),
	                               .selector = MSG_STR("ed") };
	m.env_from = MSG_STR("alice@example.org");
	m.env_to = MSG_STR("bob");
	m.helo = MSG_STR("mail.example.org");
	m.rdns = MSG_STR("mail.example.org");
	m.asn = MSG_STR("Example AS");
	m.hdr_from = MSG_STR("Alice\x7f" "alice@example.org");
	m.hdr_to = MSG_STR("bob@ae.test");
	m.msg_id = MSG_STR("id1@example.org");
	m.subject = MSG_STR("Hi \xc3\xa9");
	m.headers = MSG_STR("X-A: 1\nX-B: 2");
	m.body = MSG_STR("Hello\n\x16world\x16");
	return m;
}

static struct msg_ext ext_min_struct(void)
{
	struct msg_ext m = { 0 };
	m.ts = TS;
	m.ref = 1;
	m.ip_family = MSG_IP_V4;
	m.ip[0] = 192, m.ip[1] = 0, m.ip[2] = 2, m.ip[3] = 1;
	m.tz_minutes = MSG_TZ_NONE;
	m.date_delta = MSG_DATE_DELTA_NONE;
	m.env_to = MSG_STR("b");
	return m;
}

static struct msg_int int_full_struct(void)
{
	struct msg_int m = { 0 };
	m.ts = TS;
	m.kind = MSG_INT_USER;
	m.flags = MSG_INT_F_ADMIN;
	memcpy(m.from, "\x2a\x9b\x40\xd4\0\0\0\0\0\0", 10);
	memcpy(m.to, "\x2a\x97\xbc\xb8\0\0\0\0\0\0", 10);
	m.subject = MSG_STR("Welcome");
	m.body = MSG_STR("\x16Hi\x16");
	return m;
}

static struct msg_out out_full_struct(void)
{
	struct msg_out m = { 0 };
	m.ts = TS;
	m.status = MSG_OUT_DELIVERED;
	m.ip_family = MSG_IP_V4;
	m.ip[0] = 198, m.ip[1] = 51, m.ip[2] = 100, m.ip[3] = 7;
	m.tls_version = MSG_TLS_1_3;
	m.tls_suite = 0x1301;
	m.flags = MSG_OUT_F_ALL;
	m.sender = MSG_STR("alice");
	m.rcpt = MSG_STR("bob@example.org");
	m.mx = MSG_STR("mx.example.org");
	m.greeting = MSG_STR("220 mx ESMTP");
	m.reply = MSG_STR("250 2.0.0 Ok");
	m.subject = MSG_STR("Hi");
	m.body = MSG_STR("Subject: Hi\r\n\r\nx\r\n");
	return m;
}

static struct msg_out out_min_struct(void)
{
	struct msg_out m = { 0 };
	m.ts = TS;
	m.status = MSG_OUT_NOT_ATTEMPTED;
	m.sender = MSG_STR("a");
	m.rcpt = MSG_STR("b@c");
	return m;
}

static struct msg_upl upl_full_struct(void)
{
	struct msg_upl m = { 0 };
	m.ts = TS;
	m.parent = 0x0123456789abcdefull;
	m.kind = MSG_UPL_ATTACHMENT;
	m.media_type = MSG_STR("text/plain");
	m.name = MSG_STR("a.txt");
	m.data = MSG_STR("hello");
	return m;
}

static struct msg_upl upl_min_struct(void)
{
	struct msg_upl m = { 0 };
	m.ts = TS;
	m.name = MSG_STR("f");
	return m;
}

/* Encodes with fn and compares against the golden hex. */
#define CHECK_ENCODES(fn, mp, hex)                                                         \
	do {                                                                                   \
		uint8_t exp_[BUFMAX];                                                              \
		size_t n_ = load(hex, exp_);                                                       \
		struct wr w_ = WR_INIT;                                                            \
		CHECK(fn(&w_, mp) == 0);                                                           \
		CHECK(w_.len == n_);                                                               \
		if (w_.len == n_)                                                                  \
			CHECK_MEM(w_.p, exp_, n_);                                                     \
		wr_free(&w_);                                                                      \
	} while (0)

/* ---- Header ---- */

static void header_golden_and_rejects(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_INT_MIN, b);
	struct msg_header h = { 0 };
	CHECK(msg_header_decode(&h, b, n) == MSG_INT);
	CHECK(h.version == 1 && h.type == MSG_INT && h.ts == TS);
	CHECK(msg_header_decode(&h, b, MSG_HEADER_BYTES) == MSG_INT); /* header alone is enough */
	CHECK(msg_header_decode(&h, b, MSG_HEADER_BYTES - 1) == -EBADMSG);
	CHECK(msg_header_decode(&h, b, 0) == -EBADMSG);

	b[0] = 2; /* version */
	CHECK(msg_header_decode(&h, b, n) == -EBADMSG);
	b[0] = 0;
	CHECK(msg_header_decode(&h, b, n) == -EBADMSG);
	b[0] = 1;
	b[1] = 4; /* type */
	CHECK(msg_header_decode(&h, b, n) == -EBADMSG);
	b[1] = 0xFF;
	CHECK(msg_header_decode(&h, b, n) == -EBADMSG);
	b[1] = MSG_INT;
	for (int bit = 0; bit < 16; bit++) { /* reserved u16 */
		b[2 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(msg_header_decode(&h, b, n) == -EBADMSG);
		b[2 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK(msg_header_decode(&h, b, n) == MSG_INT);
	/* Failure leaves the output alone. */
	struct msg_header keep = { .version = 9, .type = 9, .ts = 9 };
	b[0] = 7;
	CHECK(msg_header_decode(&keep, b, n) < 0);
	CHECK(keep.version == 9 && keep.type == 9 && keep.ts == 9);
}

static void header_any_type_dispatch(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		struct msg_header h;
		CHECK(msg_header_decode(&h, b, n) == goldens[i].type);
		CHECK(msg_check(b, n) == goldens[i].type);
	}
}

/* ---- Golden decodes ---- */

static void golden_lengths_match_doc(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		if (load(goldens[i].hex, b) != goldens[i].len) {
			fprintf(stderr, "  %s: length differs from the doc\n", goldens[i].name);
			CHECK(0);
		}
	}
}

static void ext_golden_full(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_FULL, b);
	struct msg_ext m;
	CHECK(msg_ext_decode(&m, b, n) == 0);
	CHECK(m.ts == TS && m.ref == 0x0123456789abcdefull);
	CHECK(m.ip_family == 6 && m.ip[0] == 0x20 && m.ip[3] == 0xb8 && m.ip[15] == 0x25);
	CHECK(m.tls_version == MSG_TLS_1_3 && m.tls_suite == 0x1302);
	CHECK(m.flags == 0x021f && m.spf == MSG_SPF_PASS && m.dmarc == MSG_DMARC_PASS);
	CHECK(m.tz_minutes == -300 && m.date_delta == 42);
	CHECK(m.country[0] == 'F' && m.country[1] == 'I');
	CHECK(m.attach_count == 3 && m.dkim_count == 2);
	CHECK(m.dkim[0].algo == MSG_DKIM_ALGO_RSA_SHA256 && m.dkim[0].result == MSG_DKIM_PASS);
	CHECK(m.dkim[0].head_canon == MSG_DKIM_RELAXED && m.dkim[0].body_canon == MSG_DKIM_SIMPLE);
	CHECK(m.dkim[0].key_bits == 2048 && m.dkim[0].flags == 0x0106);
	CHECK(m.dkim[0].t == 1767225500 && m.dkim[0].x == 1767830300);
	CHECK(str_is(m.dkim[0].domain, "example.org") && str_is(m.dkim[0].selector, "sel1"));
	CHECK(m.dkim[1].algo == MSG_DKIM_ALGO_ED25519_SHA256 && m.dkim[1].result == MSG_DKIM_FAIL);
	CHECK(m.dkim[1].key_bits == 256 && m.dkim[1].flags == 0 && m.dkim[1].t == 0);
	CHECK(str_is(m.dkim[1].domain, "ex.net") && str_is(m.dkim[1].selector, "ed"));
	CHECK(str_is(m.env_from, "alice@example.org") && str_is(m.env_to, "bob"));
	CHECK(str_is(m.helo, "mail.example.org") && str_is(m.rdns, "mail.example.org"));
	CHECK(str_is(m.asn, "Example AS"));
	CHECK(str_is(m.hdr_from, "Alice\x7f" "alice@example.org") && str_is(m.hdr_to, "bob@ae.test"));
	CHECK(m.cc.len == 0 && m.reply_to.len == 0 && m.in_reply_to.len == 0);
	CHECK(str_is(m.msg_id, "id1@example.org") && str_is(m.subject, "Hi \xc3\xa9"));
	CHECK(str_is(m.headers, "X-A: 1\nX-B: 2") && str_is(m.body, "Hello\n\x16world\x16"));
	/* Strings point into the input, not into copies. */
	CHECK(m.body.p >= b && m.body.p + m.body.len == b + n);

	struct msg_ext want = ext_full_struct();
	CHECK_ENCODES(msg_ext_encode, &want, G_EXT_FULL);
}

static void ext_golden_min(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_MIN, b);
	struct msg_ext m;
	CHECK(msg_ext_decode(&m, b, n) == 0);
	CHECK(m.ref == 1 && m.ip_family == 4 && m.ip[0] == 192 && m.ip[3] == 1);
	CHECK(m.tls_version == 0 && m.tls_suite == 0 && m.flags == 0 && m.dkim_count == 0);
	CHECK(m.tz_minutes == MSG_TZ_NONE && m.date_delta == MSG_DATE_DELTA_NONE);
	CHECK(str_is(m.env_to, "b") && m.env_from.len == 0 && m.body.len == 0);
	struct msg_ext want = ext_min_struct();
	CHECK_ENCODES(msg_ext_encode, &want, G_EXT_MIN);
}

static void int_goldens(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_INT_FULL, b);
	struct msg_int m;
	CHECK(msg_int_decode(&m, b, n) == 0);
	CHECK(m.kind == MSG_INT_USER && m.flags == MSG_INT_F_ADMIN);
	CHECK(m.from[0] == 0x2a && m.from[3] == 0xd4 && m.to[1] == 0x97);
	CHECK(str_is(m.subject, "Welcome") && str_is(m.body, "\x16Hi\x16"));
	struct msg_int want = int_full_struct();
	CHECK_ENCODES(msg_int_encode, &want, G_INT_FULL);

	n = load(G_INT_MIN, b);
	CHECK(msg_int_decode(&m, b, n) == 0);
	CHECK(m.kind == MSG_INT_SYSTEM && m.subject.len == 0 && m.body.len == 0);
	struct msg_int sys = { .ts = TS };
	CHECK_ENCODES(msg_int_encode, &sys, G_INT_MIN);
}

static void out_goldens(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_OUT_FULL, b);
	struct msg_out m;
	CHECK(msg_out_decode(&m, b, n) == 0);
	CHECK(m.status == MSG_OUT_DELIVERED && m.ip_family == 4 && m.ip[0] == 198);
	CHECK(m.tls_version == MSG_TLS_1_3 && m.tls_suite == 0x1301 && m.flags == 0x1f);
	CHECK(str_is(m.sender, "alice") && str_is(m.rcpt, "bob@example.org"));
	CHECK(str_is(m.mx, "mx.example.org") && str_is(m.greeting, "220 mx ESMTP"));
	CHECK(str_is(m.reply, "250 2.0.0 Ok") && str_is(m.subject, "Hi"));
	CHECK(str_is(m.body, "Subject: Hi\r\n\r\nx\r\n"));
	struct msg_out want = out_full_struct();
	CHECK_ENCODES(msg_out_encode, &want, G_OUT_FULL);

	n = load(G_OUT_MIN, b);
	CHECK(msg_out_decode(&m, b, n) == 0);
	CHECK(m.status == MSG_OUT_NOT_ATTEMPTED && m.ip_family == 0 && str_is(m.rcpt, "b@c"));
	struct msg_out min = out_min_struct();
	CHECK_ENCODES(msg_out_encode, &min, G_OUT_MIN);
}

static void upl_goldens(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_UPL_FULL, b);
	struct msg_upl m;
	CHECK(msg_upl_decode(&m, b, n) == 0);
	CHECK(m.kind == MSG_UPL_ATTACHMENT && m.parent == 0x0123456789abcdefull);
	CHECK(str_is(m.media_type, "text/plain") && str_is(m.name, "a.txt") && str_is(m.data, "hello"));
	struct msg_upl want = upl_full_struct();
	CHECK_ENCODES(msg_upl_encode, &want, G_UPL_FULL);

	n = load(G_UPL_MIN, b);
	CHECK(msg_upl_decode(&m, b, n) == 0);
	CHECK(m.kind == MSG_UPL_USER && m.parent == 0 && str_is(m.name, "f") && m.data.len == 0);
	struct msg_upl min = upl_min_struct();
	CHECK_ENCODES(msg_upl_encode, &min, G_UPL_MIN);
}

/* ---- Generic rejection classes over every golden ---- */

static void round_trips(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		struct wr w = WR_INIT;
		CHECK(decode_as(goldens[i].type, b, n, &w) == 0);
		CHECK(w.len == n && memcmp(w.p, b, n) == 0);
		wr_free(&w);
	}
}

static void every_truncation_fails(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		for (size_t k = 0; k < n; k++) {
			/* A copy of exactly k bytes, so ASan would see any over-read. */
			uint8_t *t = xmalloc(k ? k : 1);
			memcpy(t, b, k);
			if (decode_as(goldens[i].type, t, k, NULL) != -EBADMSG || msg_check(t, k) >= 0) {
				fprintf(stderr, "  %s accepted at %zu of %zu bytes\n", goldens[i].name, k, n);
				CHECK(0);
			}
			free(t);
		}
	}
}

static void trailing_byte_fails(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		b[n] = 0;
		CHECK(decode_as(goldens[i].type, b, n + 1, NULL) == -EBADMSG);
		CHECK(msg_check(b, n + 1) == -EBADMSG);
	}
}

static void wrong_type_fails(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		for (int t = 0; t <= MSG_TYPE_MAX; t++) {
			if (t != goldens[i].type)
				CHECK(decode_as(t, b, n, NULL) == -EBADMSG);
		}
	}
}

static void reserved_header_bytes_fail(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		uint8_t b[BUFMAX];
		size_t n = load(goldens[i].hex, b);
		for (int bit = 0; bit < 16; bit++) {
			b[2 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
			CHECK(decode_as(goldens[i].type, b, n, NULL) == -EBADMSG);
			b[2 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		b[0] = 2;
		CHECK(decode_as(goldens[i].type, b, n, NULL) == -EBADMSG);
	}
}

static void decode_failure_leaves_output(void)
{
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_FULL, b);
	struct msg_ext m;
	memset(&m, 0xA5, sizeof(m));
	CHECK(msg_ext_decode(&m, b, n - 1) < 0);
	struct msg_ext ref;
	memset(&ref, 0xA5, sizeof(ref));
	CHECK_MEM(&m, &ref, sizeof(m));
}

static void oversize_input_fails(void)
{
	size_t big = (size_t)MESSAGE_MAX_BYTES + 1;
	uint8_t *b = xcalloc(1, big);
	size_t n = load(G_UPL_MIN, b);
	(void)n;
	struct msg_header h;
	CHECK(msg_header_decode(&h, b, big) == -EMSGSIZE);
	CHECK(msg_check(b, big) == -EMSGSIZE);
	for (int t = 0; t <= MSG_TYPE_MAX; t++) {
		b[1] = (uint8_t)t;
		CHECK(decode_as(t, b, big, NULL) == -EMSGSIZE);
	}
	free(b);
}

/* ---- Patching helpers: decode must fail after the patch ---- */

static int patched(const char *hex, int type, size_t off, uint8_t v)
{
	uint8_t b[BUFMAX];
	size_t n = load(hex, b);
	b[off] = v;
	return decode_as(type, b, n, NULL);
}

static void ext_enums_and_fixed_values(void)
{
	CHECK(patched(G_EXT_MIN, MSG_EXT, 12, 0) == -EBADMSG);          /* ref 0 */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 20, 0) == -EBADMSG);          /* family 0 */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 20, 5) == -EBADMSG);
	CHECK(patched(G_EXT_MIN, MSG_EXT, 20, 6) == 0);                 /* v6 192.0.2.1:: is fine */
	CHECK(patched(G_EXT_FULL, MSG_EXT, 21, 5) == -EBADMSG);         /* TLS version 5 */
	CHECK(patched(G_EXT_FULL, MSG_EXT, 21, 1) == 0);                /* TLS 1.0 with a suite */
	CHECK(patched(G_EXT_FULL, MSG_EXT, 21, 0) == -EBADMSG);         /* suite without version */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 21, 4) == -EBADMSG);          /* version without suite */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 42, 7) == 0);                 /* SPF permerror */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 42, 8) == -EBADMSG);
	CHECK(patched(G_EXT_MIN, MSG_EXT, 43, 5) == 0);                 /* DMARC permerror */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 43, 6) == -EBADMSG);
	CHECK(patched(G_EXT_MIN, MSG_EXT, 47, 64) == 0);                /* attachments */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 47, 65) == -EBADMSG);
	CHECK(patched(G_EXT_MIN, MSG_EXT, 46, 9) == -EBADMSG);          /* DKIM count over max */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 46, 255) == -EBADMSG);        /* (no record read past 8) */
	CHECK(patched(G_EXT_FULL, MSG_EXT, 46, 1) == -EBADMSG);         /* count disagrees */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 52, 'F') == -EBADMSG);        /* half a country */
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_MIN, b);
	b[52] = 'f', b[53] = 'i';
	CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == -EBADMSG); /* lower case */
	b[52] = 'Z', b[53] = 'A';
	CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == 0);
	b[52] = '@', b[53] = 'A';
	CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == -EBADMSG);
}

static void ext_ip_rules(void)
{
	/* IPv4 with a non-zero byte anywhere in 4..15. */
	for (size_t k = 4; k < 16; k++)
		CHECK(patched(G_EXT_MIN, MSG_EXT, 24 + k, 1) == -EBADMSG);
	/* IPv4-mapped IPv6 must be family 4. */
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_FULL, b);
	static const uint8_t mapped[16] = { [10] = 0xFF, [11] = 0xFF, 192, 0, 2, 1 };
	memcpy(b + 24, mapped, 16);
	struct msg_ext m;
	CHECK(msg_ext_decode(&m, b, n) == -EBADMSG);
	b[34] = 0xFE; /* ::fffe:... is plain IPv6 */
	CHECK(msg_ext_decode(&m, b, n) == 0);
	struct msg_ext e = ext_min_struct();
	e.ip[15] = 1;
	struct wr w = WR_INIT;
	CHECK(msg_ext_encode(&w, &e) == -EINVAL);
	CHECK(w.len == 0);
	wr_free(&w);
}

static void ext_flag_bits(void)
{
	CHECK(patched(G_EXT_MIN, MSG_EXT, 41, 0x40) == 0);   /* bit 14 defined */
	CHECK(patched(G_EXT_MIN, MSG_EXT, 41, 0x80) == -EBADMSG); /* bit 15 reserved */
	/* DKIM flags bits 10..15 reserved (record 1 flags at 54 + 6). */
	for (int bit = 10; bit < 16; bit++) {
		uint8_t b[BUFMAX];
		size_t n = load(G_EXT_FULL, b);
		b[60 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == -EBADMSG);
	}
}

static void ext_tz_and_delta(void)
{
	struct msg_ext m = ext_min_struct();
	struct wr w = WR_INIT;
	const int16_t good[] = { MSG_TZ_NONE, 0, 5999, -5999, 840, -720 };
	const int16_t bad[] = { 6000, -6000, INT16_MAX, INT16_MIN + 1 };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		m.tz_minutes = good[i];
		w.len = 0;
		CHECK(msg_ext_encode(&w, &m) == 0);
		struct msg_ext d;
		CHECK(msg_ext_decode(&d, w.p, w.len) == 0 && d.tz_minutes == good[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		m.tz_minutes = bad[i];
		CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	}
	/* Byte level: 6000 = 0x1770. */
	uint8_t b[BUFMAX];
	size_t n = load(G_EXT_MIN, b);
	b[44] = 0x70, b[45] = 0x17;
	CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == -EBADMSG);
	b[44] = 0x6f; /* 5999 */
	CHECK(msg_ext_decode(&(struct msg_ext){ 0 }, b, n) == 0);
	m.tz_minutes = 0;
	m.date_delta = INT32_MAX;
	w.len = 0;
	CHECK(msg_ext_encode(&w, &m) == 0);
	m.date_delta = -1;
	w.len = 0;
	CHECK(msg_ext_encode(&w, &m) == 0);
	struct msg_ext d;
	CHECK(msg_ext_decode(&d, w.p, w.len) == 0 && d.date_delta == -1);
	wr_free(&w);
}

static void ext_dkim_rules(void)
{
	struct msg_ext m = ext_full_struct();
	struct wr w = WR_INIT;
	struct msg_dkim ok = m.dkim[0];
	struct msg_dkim *d = &m.dkim[0];
	d->algo = 4;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->result = 7;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->head_canon = 2;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->body_canon = 2;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->flags &= (uint16_t)~MSG_DKIM_F_T; /* t without its flag */
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->flags &= (uint16_t)~MSG_DKIM_F_X;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok, d->flags = 0, d->t = 0, d->x = 0, d->flags = MSG_DKIM_F_EXPIRED; /* needs X */
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	d->flags = MSG_DKIM_F_FUTURE; /* needs T */
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	d->flags = MSG_DKIM_F_FUTURE | MSG_DKIM_F_T; /* t=0 with T is allowed */
	CHECK(msg_ext_encode(&w, &m) == 0);
	*d = ok, d->domain = MSG_STR("exa\nmple.org");
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	*d = ok;
	/* The byte level: algorithm 4, result 7, canon 2 in record 1. */
	CHECK(patched(G_EXT_FULL, MSG_EXT, 54, 4) == -EBADMSG);
	CHECK(patched(G_EXT_FULL, MSG_EXT, 55, 7) == -EBADMSG);
	CHECK(patched(G_EXT_FULL, MSG_EXT, 56, 2) == -EBADMSG);
	CHECK(patched(G_EXT_FULL, MSG_EXT, 57, 2) == -EBADMSG);
	CHECK(patched(G_EXT_FULL, MSG_EXT, 60, 0x04) == -EBADMSG); /* T cleared, t non-zero */
	/* Eight records encode and decode; nine are refused. */
	m.dkim_count = MSG_DKIM_MAX;
	for (int i = 0; i < MSG_DKIM_MAX; i++)
		m.dkim[i] = ok;
	w.len = 0;
	CHECK(msg_ext_encode(&w, &m) == 0);
	struct msg_ext back;
	CHECK(msg_ext_decode(&back, w.p, w.len) == 0 && back.dkim_count == MSG_DKIM_MAX);
	m.dkim_count = MSG_DKIM_MAX + 1;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	wr_free(&w);
}

/* Offsets of the variable-part length prefixes: walk the strings in order. */
static size_t prefix_offset(const uint8_t *b, size_t start, const unsigned *widths, size_t idx)
{
	size_t off = start;
	for (size_t i = 0; i < idx; i++) {
		size_t n = widths[i] == 1 ? b[off] : widths[i] == 2 ? le16_load(b + off) : le32_load(b + off);
		off += widths[i] + n;
	}
	return off;
}

/* Grows the string at prefix `off` by one byte 'a' (prefix + 1, byte inserted
 * at its end). Returns the new length. */
static size_t grow_field(uint8_t *b, size_t n, size_t off, unsigned width)
{
	size_t len = width == 1 ? b[off] : width == 2 ? le16_load(b + off) : le32_load(b + off);
	if (width == 1)
		b[off]++;
	else if (width == 2)
		le16_store(b + off, (uint16_t)(len + 1));
	else
		le32_store(b + off, (uint32_t)(len + 1));
	size_t end = off + width + len;
	memmove(b + end + 1, b + end, n - end);
	b[end] = 'a';
	return n + 1;
}

static const unsigned ext_widths[] = { 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 4, 4 };

static struct msg_str *ext_field(struct msg_ext *m, size_t i)
{
	switch (i) {
	case 0: return &m->env_from;
	case 1: return &m->env_to;
	case 2: return &m->helo;
	case 3: return &m->rdns;
	case 4: return &m->asn;
	case 5: return &m->hdr_from;
	case 6: return &m->hdr_to;
	case 7: return &m->cc;
	case 8: return &m->reply_to;
	case 9: return &m->msg_id;
	case 10: return &m->in_reply_to;
	case 11: return &m->subject;
	case 12: return &m->headers;
	default: return &m->body;
	}
}
static const size_t ext_limits[] = { MSG_ENV_FROM_MAX, MSG_ENV_TO_MAX, MSG_HELO_MAX,
	                                 MSG_RDNS_MAX, MSG_ASN_MAX, MSG_ADDR_LIST_MAX,
	                                 MSG_ADDR_LIST_MAX, MSG_ADDR_LIST_MAX, MSG_ADDR_LIST_MAX,
	                                 MSG_MSGID_MAX, MSG_MSGID_MAX, MSG_SUBJECT_MAX,
	                                 MSG_HEADERS_MAX, MSG_BODY_MAX };

static void ext_string_limits(void)
{
	size_t top = MSG_BODY_MAX + 2;
	uint8_t *fill = xmalloc(top);
	memset(fill, 'a', top);
	for (size_t i = 0; i < ARRAY_SIZE(ext_widths); i++) {
		struct msg_ext m = ext_min_struct();
		size_t max = ext_limits[i];
		*ext_field(&m, i) = (struct msg_str){ fill, max };
		struct wr w = WR_INIT;
		CHECK(msg_ext_encode(&w, &m) == 0);
		struct msg_ext d;
		CHECK(msg_ext_decode(&d, w.p, w.len) == 0 && ext_field(&d, i)->len == max);
		size_t n = w.len;
		/* One byte over, through the encoder. */
		*ext_field(&m, i) = (struct msg_str){ fill, max + 1 };
		size_t before = w.len;
		CHECK(msg_ext_encode(&w, &m) == -EINVAL);
		CHECK(w.len == before);
		/* One byte over, at the byte level (not expressible in a u8 prefix at 255). */
		if (max < (ext_widths[i] == 1 ? 255u : ext_widths[i] == 2 ? 65535u : 0xFFFFFFFFu)) {
			(void)wr_reserve(&w, 1);
			size_t off = prefix_offset(w.p, MSG_EXT_FIXED_BYTES, ext_widths, i);
			size_t n2 = grow_field(w.p, n, off, ext_widths[i]);
			if (msg_ext_decode(&d, w.p, n2) != -EBADMSG) {
				fprintf(stderr, "  ext field %zu accepted over its limit\n", i);
				CHECK(0);
			}
		}
		wr_free(&w);
	}
	/* Envelope To may not be empty. */
	struct msg_ext m = ext_min_struct();
	m.env_to.len = 0;
	struct wr w = WR_INIT;
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	CHECK(patched(G_EXT_MIN, MSG_EXT, 55, 0) == -EBADMSG); /* env To length 1 -> 0 leaves a byte */
	/* A NULL pointer with a length is refused, not read. */
	m = ext_min_struct();
	m.subject = (struct msg_str){ NULL, 3 };
	CHECK(msg_ext_encode(&w, &m) == -EINVAL);
	wr_free(&w);
	free(fill);
}

static void ext_text_classes(void)
{
	struct {
		size_t field;
		const char *s;
		bool ok;
	} cases[] = {
		{ 11, "plain", true },
		{ 11, "tab\there", false },
		{ 11, "nl\nhere", false },
		{ 11, "del\x7fhere", false },
		{ 11, "c1\xc2\x85here", false },     /* U+0085 */
		{ 11, "nbsp\xc2\xa0ok", true },      /* U+00A0 */
		{ 11, "bad\xc3", false },            /* truncated */
		{ 11, "\xc0\xaf", false },           /* overlong */
		{ 11, "\xed\xa0\x80", false },       /* surrogate */
		{ 5, "A\x7f" "a@b\nB\x7f" "b@c", true }, /* ADDRS: LF and DEL */
		{ 5, "a@b\tc", false },
		{ 5, "a\rb", false },
		{ 12, "A: 1\nB: 2", true },          /* LINES: LF */
		{ 12, "A: 1\r\nB: 2", false },
		{ 12, "A:\x7f", false },
		{ 13, "\x01x\x01\x16\x7f\n", true }, /* UTF8: controls fine */
		{ 13, "\xff", false },
		{ 0, "a@b\x00", false },             /* NUL is a control */
		{ 2, "h\xe9lo", false },             /* Latin-1, not UTF-8 */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct msg_ext m = ext_min_struct();
		size_t len = strlen(cases[i].s);
		if (cases[i].field == 0)
			len = 4; /* includes the NUL */
		*ext_field(&m, cases[i].field) = (struct msg_str){ (const uint8_t *)cases[i].s, len };
		struct wr w = WR_INIT;
		int e = msg_ext_encode(&w, &m);
		if ((e == 0) != cases[i].ok) {
			fprintf(stderr, "  text case %zu: encode %d\n", i, e);
			CHECK(0);
		}
		/* Same verdict at the byte level: encode a placeholder of the same
		 * length, then overwrite it with the test bytes. */
		struct msg_ext p = ext_min_struct();
		uint8_t fill[64];
		memset(fill, 'a', sizeof(fill));
		*ext_field(&p, cases[i].field) = (struct msg_str){ fill, len };
		w.len = 0;
		CHECK(msg_ext_encode(&w, &p) == 0);
		size_t off = prefix_offset(w.p, MSG_EXT_FIXED_BYTES, ext_widths, cases[i].field);
		memcpy(w.p + off + ext_widths[cases[i].field], cases[i].s, len);
		struct msg_ext d;
		CHECK((msg_ext_decode(&d, w.p, w.len) == 0) == cases[i].ok);
		wr_free(&w);
	}
}

/* ---- IntMsg rules ---- */

static void int_rules(void)
{
	struct wr w = WR_INIT;
	struct msg_int m = int_full_struct();
	CHECK(msg_int_encode(&w, &m) == 0);

	struct msg_int sys = { .ts = TS };
	sys.from[9] = 1; /* system with a from address */
	CHECK(msg_int_encode(&w, &sys) == -EINVAL);
	sys.from[9] = 0, sys.to[0] = 1;
	CHECK(msg_int_encode(&w, &sys) == -EINVAL);
	sys.to[0] = 0, sys.flags = MSG_INT_F_ADMIN; /* system with flags */
	CHECK(msg_int_encode(&w, &sys) == -EINVAL);

	m = int_full_struct();
	memset(m.from, 0, 10); /* user with no sender */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.to[9] = 1; /* garbage in an unused character slot of "abuse" */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.to[3] |= 0x01; /* bit 48: the 6th character's slot, unused for length 5 */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.to[3] |= 0x02; /* bit 49: top bit of the 6th character's slot */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.to[3] |= 0x04; /* bit 50: still the 5th character, fine */
	CHECK(msg_int_encode(&w, &m) == 0);
	m = int_full_struct();
	m.to[0] = 0x02; /* length 0 but non-zero characters */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	memset(m.to, 0xFF, 10); /* a shield address */
	CHECK(msg_int_encode(&w, &m) == 0);
	memcpy(m.to + 2, "\x40\xd4\x39\xd6\x15\xa0\x60\x00", 8); /* the forbidden shield */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	memcpy(m.from, "\x36\x7d\x9d\x3a\x80\0\0\0\0\0", 10); /* "system" */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);

	m = int_full_struct();
	m.flags = MSG_INT_F_BROADCAST; /* broadcast needs ADMIN */
	memset(m.to, 0, 10);
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m.flags = MSG_INT_F_BROADCAST | MSG_INT_F_ADMIN;
	CHECK(msg_int_encode(&w, &m) == 0);
	m.to[0] = 0x2a; /* broadcast with a recipient */
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.kind = 2;
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.subject = MSG_STR("two\nlines");
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	uint8_t s[256];
	memset(s, 's', sizeof(s));
	m.subject = (struct msg_str){ s, 255 };
	CHECK(msg_int_encode(&w, &m) == 0);
	m.subject.len = 256;
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	m = int_full_struct();
	m.body = MSG_STR("\xe2\x82");
	CHECK(msg_int_encode(&w, &m) == -EINVAL);
	wr_free(&w);

	/* Byte level. */
	CHECK(patched(G_INT_FULL, MSG_INT, 12, 2) == -EBADMSG); /* kind */
	for (int bit = 2; bit < 8; bit++)
		CHECK(patched(G_INT_FULL, MSG_INT, 13, (uint8_t)(0x01 | (1u << bit))) == -EBADMSG);
	CHECK(patched(G_INT_FULL, MSG_INT, 13, 0) == 0);
	CHECK(patched(G_INT_MIN, MSG_INT, 12, 1) == -EBADMSG);  /* user kind with zero addresses */
	CHECK(patched(G_INT_MIN, MSG_INT, 23, 1) == -EBADMSG);  /* system with a from byte */
	CHECK(patched(G_INT_MIN, MSG_INT, 13, 1) == -EBADMSG);  /* system with ADMIN */
	CHECK(patched(G_INT_FULL, MSG_INT, 35, 0x0a) == -EBADMSG); /* LF in subject */
	CHECK(patched(G_INT_FULL, MSG_INT, 46, 0xff) == -EBADMSG); /* bad UTF-8 in body */
	CHECK(patched(G_INT_FULL, MSG_INT, 46, 0x01) == 0);        /* controls fine in CET */
}

/* ---- OutMsg rules ---- */

static void out_rules(void)
{
	struct wr w = WR_INIT;
	struct msg_out m;
	m = out_full_struct(), m.status = 4;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.flags = 0x20;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.tls_suite = 0; /* version without suite */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.tls_version = 0; /* suite without version */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.tls_version = 0, m.tls_suite = 0; /* cert flags need TLS */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m.flags = MSG_OUT_F_ESMTP | MSG_OUT_F_STARTTLS_OFFERED | MSG_OUT_F_DKIM_SIGNED;
	CHECK(msg_out_encode(&w, &m) == 0);
	m = out_full_struct(), m.ip[4] = 1; /* v4 tail */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_min_struct(), m.ip[0] = 1; /* family 0 with an address */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_min_struct(), m.greeting = MSG_STR("220 x"); /* greeting without connection */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_min_struct(), m.reply = MSG_STR("no MX for example.org");
	CHECK(msg_out_encode(&w, &m) == 0);
	m = out_min_struct(), m.status = MSG_OUT_TEMPFAIL; /* temp failure before connecting */
	CHECK(msg_out_encode(&w, &m) == 0);
	m.status = MSG_OUT_DELIVERED; /* delivered needs an address */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.status = MSG_OUT_NOT_ATTEMPTED; /* not attempted has none */
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.sender.len = 0;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.rcpt.len = 0;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.reply = MSG_STR("550 no\r\n");
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	m = out_full_struct(), m.body = MSG_STR("\xff\xfe binary is fine");
	CHECK(msg_out_encode(&w, &m) == 0);
	uint8_t big[MSG_SMTP_LINE_MAX + 1];
	memset(big, 'x', sizeof(big));
	m = out_full_struct(), m.greeting = (struct msg_str){ big, MSG_SMTP_LINE_MAX };
	CHECK(msg_out_encode(&w, &m) == 0);
	m.greeting.len++;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	uint8_t loc[MSG_LOCAL_MAX + 1];
	memset(loc, 'l', sizeof(loc));
	m = out_full_struct(), m.sender = (struct msg_str){ loc, MSG_LOCAL_MAX };
	CHECK(msg_out_encode(&w, &m) == 0);
	m.sender.len++;
	CHECK(msg_out_encode(&w, &m) == -EINVAL);
	wr_free(&w);

	CHECK(patched(G_OUT_FULL, MSG_OUT, 12, 4) == -EBADMSG);    /* status */
	CHECK(patched(G_OUT_FULL, MSG_OUT, 13, 5) == -EBADMSG);    /* family */
	CHECK(patched(G_OUT_FULL, MSG_OUT, 14, 5) == -EBADMSG);    /* TLS version */
	for (int bit = 5; bit < 8; bit++)
		CHECK(patched(G_OUT_FULL, MSG_OUT, 15, (uint8_t)(0x1f | (1u << bit))) == -EBADMSG);
	CHECK(patched(G_OUT_FULL, MSG_OUT, 22, 1) == -EBADMSG);    /* v4 tail */
	CHECK(patched(G_OUT_MIN, MSG_OUT, 12, 0) == -EBADMSG);     /* delivered, family 0 */
	CHECK(patched(G_OUT_MIN, MSG_OUT, 15, 1) == -EBADMSG);     /* flags with no connection */
	CHECK(patched(G_OUT_MIN, MSG_OUT, 34, 0) == -EBADMSG);     /* empty sender (leaves a byte) */
	/* Byte-level u16 limit: greeting of 512 then grown to 513. */
	m = out_full_struct();
	m.greeting = (struct msg_str){ big, MSG_SMTP_LINE_MAX };
	w = (struct wr)WR_INIT;
	CHECK(msg_out_encode(&w, &m) == 0);
	size_t n = w.len;
	(void)wr_reserve(&w, 1);
	static const unsigned out_widths[] = { 1, 1, 1, 2, 2, 2, 4 };
	size_t off = prefix_offset(w.p, MSG_OUT_FIXED_BYTES, out_widths, 3);
	CHECK(le16_load(w.p + off) == MSG_SMTP_LINE_MAX);
	n = grow_field(w.p, n, off, 2);
	CHECK(msg_out_decode(&(struct msg_out){ 0 }, w.p, n) == -EBADMSG);
	wr_free(&w);
}

/* ---- UplMsg rules ---- */

static void upl_rules(void)
{
	struct wr w = WR_INIT;
	struct msg_upl m;
	m = upl_min_struct(), m.parent = 5; /* upload with a parent */
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	m = upl_full_struct(), m.parent = 0; /* attachment without one */
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	m = upl_full_struct(), m.kind = MSG_UPL_SOURCE; /* source carries no media type */
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	m.media_type.len = 0;
	CHECK(msg_upl_encode(&w, &m) == 0);
	m.kind = 3;
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	m = upl_min_struct(), m.media_type = MSG_STR("a/b"); /* upload carries none */
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);

	const char *media_bad[] = { "", "text", "/plain", "text/", "text/pl ain", "a/b/c",
		                        "text/pl\xc3\xa9", "te\x01t/x" };
	for (size_t i = 0; i < ARRAY_SIZE(media_bad); i++) {
		m = upl_full_struct();
		m.media_type = (struct msg_str){ (const uint8_t *)media_bad[i], strlen(media_bad[i]) };
		CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	}
	const char *media_good[] = { "a/b", "application/vnd.ms-excel", "image/svg+xml" };
	for (size_t i = 0; i < ARRAY_SIZE(media_good); i++) {
		m = upl_full_struct();
		m.media_type = (struct msg_str){ (const uint8_t *)media_good[i], strlen(media_good[i]) };
		CHECK(msg_upl_encode(&w, &m) == 0);
	}
	uint8_t mt[MSG_MEDIA_TYPE_MAX + 1];
	memset(mt, 'x', sizeof(mt));
	mt[1] = '/';
	m = upl_full_struct(), m.media_type = (struct msg_str){ mt, MSG_MEDIA_TYPE_MAX };
	CHECK(msg_upl_encode(&w, &m) == 0);
	m.media_type.len++;
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);

	const char *name_bad[] = { "", ".", "..", "a/b", "/", "tab\tx", "nul\0x", "\xc3", "del\x7f" };
	const size_t name_bad_len[] = { 0, 1, 2, 3, 1, 5, 5, 1, 4 };
	for (size_t i = 0; i < ARRAY_SIZE(name_bad); i++) {
		m = upl_min_struct();
		m.name = (struct msg_str){ (const uint8_t *)name_bad[i], name_bad_len[i] };
		CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	}
	const char *name_good[] = { "...", ".profile", "a\\b", "r\xc3\xa9sum\xc3\xa9.pdf", "a b" };
	for (size_t i = 0; i < ARRAY_SIZE(name_good); i++) {
		m = upl_min_struct();
		m.name = (struct msg_str){ (const uint8_t *)name_good[i], strlen(name_good[i]) };
		CHECK(msg_upl_encode(&w, &m) == 0);
	}
	uint8_t nm[MSG_FILENAME_MAX + 1];
	memset(nm, 'n', sizeof(nm));
	m = upl_min_struct(), m.name = (struct msg_str){ nm, MSG_FILENAME_MAX };
	CHECK(msg_upl_encode(&w, &m) == 0);
	m.name.len++;
	CHECK(msg_upl_encode(&w, &m) == -EINVAL);
	wr_free(&w);

	CHECK(patched(G_UPL_MIN, MSG_UPL, 20, 3) == -EBADMSG);     /* kind */
	CHECK(patched(G_UPL_MIN, MSG_UPL, 20, 1) == -EBADMSG);     /* attachment, parent 0 */
	CHECK(patched(G_UPL_MIN, MSG_UPL, 12, 1) == -EBADMSG);     /* upload with a parent */
	CHECK(patched(G_UPL_MIN, MSG_UPL, 23, '/') == -EBADMSG);   /* name "/" */
	CHECK(patched(G_UPL_MIN, MSG_UPL, 23, '.') == -EBADMSG);   /* name "." */
	CHECK(patched(G_UPL_FULL, MSG_UPL, 26, ' ') == -EBADMSG);  /* space in media type */
	CHECK(patched(G_UPL_FULL, MSG_UPL, 20, 2) == -EBADMSG);    /* source with media type */
}

static void upl_total_size(void)
{
	/* data filling the message to exactly MESSAGE_MAX_BYTES: 21 + 1 + 2 + 4 + data. */
	size_t data_max = MESSAGE_MAX_BYTES - (MSG_UPL_FIXED_BYTES + 1 + 2 + 4);
	uint8_t *data = xcalloc(1, data_max + 1);
	struct msg_upl m = upl_min_struct();
	m.data = (struct msg_str){ data, data_max };
	struct wr w = WR_INIT;
	CHECK(msg_upl_encode(&w, &m) == 0);
	CHECK(w.len == MESSAGE_MAX_BYTES);
	struct msg_upl d;
	CHECK(msg_upl_decode(&d, w.p, w.len) == 0 && d.data.len == data_max);
	CHECK(msg_check(w.p, w.len) == MSG_UPL);
	size_t before = w.len;
	m.data.len++;
	CHECK(msg_upl_encode(&w, &m) == -EMSGSIZE);
	CHECK(w.len == before);
	wr_free(&w);
	free(data);
}

static void encoder_appends(void)
{
	/* Encoders append to what the writer already holds. */
	struct wr w = WR_INIT;
	wr_u8(&w, 0xEE);
	struct msg_upl m = upl_min_struct();
	CHECK(msg_upl_encode(&w, &m) == 0);
	uint8_t b[BUFMAX];
	size_t n = load(G_UPL_MIN, b);
	CHECK(w.len == n + 1 && w.p[0] == 0xEE && memcmp(w.p + 1, b, n) == 0);
	wr_free(&w);
}

/* ---- Text helpers ---- */

static void text_sanitize_and_cut(void)
{
	uint8_t s[] = "a\tb\nc\x7f" "d\xc2\x85" "e\xff" "f\xc3\xa9" "g\xe2\x82";
	size_t n = sizeof(s) - 1;
	uint8_t t[sizeof(s)];
	memcpy(t, s, sizeof(s));
	CHECK(!msg_text_valid(t, n, MSG_TEXT_LINE));
	msg_text_sanitize(t, n, MSG_TEXT_LINE);
	CHECK(msg_text_valid(t, n, MSG_TEXT_LINE));
	CHECK(memcmp(t, "a?b?c?d??e?f\xc3\xa9g??", n) == 0);

	memcpy(t, s, sizeof(s));
	msg_text_sanitize(t, n, MSG_TEXT_ADDRS);
	CHECK(memcmp(t, "a?b\nc\x7f" "d??e?f\xc3\xa9g??", n) == 0);
	memcpy(t, s, sizeof(s));
	msg_text_sanitize(t, n, MSG_TEXT_LINES);
	CHECK(memcmp(t, "a?b\nc?d??e?f\xc3\xa9g??", n) == 0);
	memcpy(t, s, sizeof(s));
	msg_text_sanitize(t, n, MSG_TEXT_UTF8);
	CHECK(memcmp(t, "a\tb\nc\x7f" "d\xc2\x85" "e?f\xc3\xa9g??", n) == 0);
	CHECK(msg_text_valid(t, n, MSG_TEXT_UTF8));

	const uint8_t *u = (const uint8_t *)"ab\xe2\x82\xac" "c"; /* a b EURO c */
	CHECK(msg_text_cut(u, 6, 10) == 6);
	CHECK(msg_text_cut(u, 6, 6) == 6);
	CHECK(msg_text_cut(u, 6, 5) == 5);
	CHECK(msg_text_cut(u, 6, 4) == 2);
	CHECK(msg_text_cut(u, 6, 3) == 2);
	CHECK(msg_text_cut(u, 6, 2) == 2);
	CHECK(msg_text_cut(u, 6, 0) == 0);
	CHECK(msg_text_valid(NULL, 0, MSG_TEXT_LINE));
}

int main(void)
{
	check_init();
	RUN(header_golden_and_rejects);
	RUN(header_any_type_dispatch);
	RUN(golden_lengths_match_doc);
	RUN(ext_golden_full);
	RUN(ext_golden_min);
	RUN(int_goldens);
	RUN(out_goldens);
	RUN(upl_goldens);
	RUN(round_trips);
	RUN(every_truncation_fails);
	RUN(trailing_byte_fails);
	RUN(wrong_type_fails);
	RUN(reserved_header_bytes_fail);
	RUN(decode_failure_leaves_output);
	RUN(oversize_input_fails);
	RUN(ext_enums_and_fixed_values);
	RUN(ext_ip_rules);
	RUN(ext_flag_bits);
	RUN(ext_tz_and_delta);
	RUN(ext_dkim_rules);
	RUN(ext_string_limits);
	RUN(ext_text_classes);
	RUN(int_rules);
	RUN(out_rules);
	RUN(upl_rules);
	RUN(upl_total_size);
	RUN(encoder_appends);
	RUN(text_sanitize_and_cut);
	return check_finish();
}
