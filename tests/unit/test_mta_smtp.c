/* test_mta_smtp.c: the MTA's pure parts: the SMTP command parser (RFC 5321
 * 4.1 with SMTPUTF8), the DATA stream (dot-unstuffing, the end marker, odd
 * input, any split), the per-network limits and fairness tag, and the
 * record patching and answer check (docs/PROTOCOL.md sections 16 and 18). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/chanmsg.h"
#include "common/dlvrec.h"
#include "ipc/memfd.h"
#include "mta/datastream.h"
#include "mta/limits.h"
#include "mta/record.h"
#include "mta/smtp.h"

static struct smtp_cmd parse(const char *line)
{
	struct smtp_cmd c;
	smtp_parse((const uint8_t *)line, strlen(line), &c);
	return c;
}

static bool is(const uint8_t *p, size_t n, const char *s)
{
	return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void verbs(void)
{
	CHECK(parse("EHLO mx.example").verb == SMTP_EHLO);
	CHECK(parse("ehlo mx.example").verb == SMTP_EHLO);
	CHECK(parse("HeLo mx").verb == SMTP_HELO);
	CHECK(parse("DATA").verb == SMTP_DATA && parse("DATA").err == SMTP_OK);
	CHECK(parse("data").verb == SMTP_DATA);
	CHECK(parse("QUIT").verb == SMTP_QUIT && parse("RSET").verb == SMTP_RSET);
	CHECK(parse("STARTTLS").verb == SMTP_STARTTLS && parse("starttls").err == SMTP_OK);
	CHECK(parse("NOOP").verb == SMTP_NOOP && parse("NOOP anything at all").err == SMTP_OK);
	CHECK(parse("HELP").verb == SMTP_HELP && parse("HELP MAIL").err == SMTP_OK);
	CHECK(parse("VRFY bob").verb == SMTP_VRFY && parse("VRFY bob").err == SMTP_OK);
	CHECK(parse("VRFY").err == SMTP_E_SYNTAX);
	CHECK(parse("EXPN list").verb == SMTP_UNSUPPORTED);
	CHECK(parse("BDAT 100 LAST").verb == SMTP_UNSUPPORTED);
	CHECK(parse("AUTH PLAIN").verb == SMTP_UNSUPPORTED);
	CHECK(parse("GET / HTTP/1.1").verb == SMTP_UNKNOWN);
	CHECK(parse("").verb == SMTP_UNKNOWN);
	CHECK(parse("DATAX").verb == SMTP_UNKNOWN);
	CHECK(parse("MAILFROM:<a@b.c>").verb == SMTP_UNKNOWN);
	/* Commands without arguments refuse them. */
	CHECK(parse("DATA now").err == SMTP_E_SYNTAX);
	CHECK(parse("QUIT x").err == SMTP_E_SYNTAX);
	CHECK(parse("STARTTLS x").err == SMTP_E_SYNTAX);
	/* Trailing spaces are tolerated but noted. */
	struct smtp_cmd c = parse("QUIT ");
	CHECK(c.err == SMTP_OK && c.lenient);
	CHECK(!parse("QUIT").lenient);
	/* Control bytes are not text. */
	uint8_t nul[] = "NOOP a\0b";
	smtp_parse(nul, sizeof(nul) - 1, &c);
	CHECK(c.verb == SMTP_NOOP && c.err == SMTP_E_SYNTAX);
}

static void helo(void)
{
	struct smtp_cmd c = parse("EHLO mx.example.org");
	CHECK(c.err == SMTP_OK && !c.lenient && is(c.arg, c.arg_len, "mx.example.org"));
	c = parse("EHLO [192.0.2.1]");
	CHECK(c.err == SMTP_OK && !c.lenient);
	c = parse("EHLO [IPv6:2001:db8::1]");
	CHECK(c.err == SMTP_OK && !c.lenient);
	c = parse("EHLO my_host");
	CHECK(c.err == SMTP_OK && c.lenient && is(c.arg, c.arg_len, "my_host"));
	c = parse("EHLO mx.example extra words");
	CHECK(c.err == SMTP_OK && c.lenient && is(c.arg, c.arg_len, "mx.example"));
	CHECK(parse("EHLO").err == SMTP_E_SYNTAX);
	CHECK(parse("EHLO ").err == SMTP_E_SYNTAX);
	CHECK(parse("HELO a\x01z").err == SMTP_E_SYNTAX);
	CHECK(parse("EHLO b\xc3\xbc" "cher.example").err == SMTP_OK);
	CHECK(parse("EHLO \xff").err == SMTP_E_SYNTAX);
}

static void mail_from(void)
{
	struct smtp_cmd c = parse("MAIL FROM:<alice@example.org>");
	CHECK(c.verb == SMTP_MAIL && c.err == SMTP_OK && !c.lenient);
	CHECK(is(c.path.local, c.path.local_len, "alice"));
	CHECK(is(c.path.domain, c.path.domain_len, "example.org"));
	CHECK(is(c.path.mailbox, c.path.mailbox_len, "alice@example.org"));
	c = parse("mail from:<>");
	CHECK(c.err == SMTP_OK && c.path.null);
	c = parse("MAIL FROM: <alice@example.org>");
	CHECK(c.err == SMTP_OK && c.lenient);
	c = parse("MAIL FROM:<@relay.example,@r2.example:alice@example.org>");
	CHECK(c.err == SMTP_OK && is(c.path.mailbox, c.path.mailbox_len, "alice@example.org"));
	c = parse("MAIL FROM:<\"john doe\\\"x\"@example.org>");
	CHECK(c.err == SMTP_OK && is(c.path.local, c.path.local_len, "\"john doe\\\"x\""));
	c = parse("MAIL FROM:<a.b.c@[192.0.2.1]>");
	CHECK(c.err == SMTP_OK && c.path.literal);
	c = parse("MAIL FROM:<a@[IPv6:::1]>");
	CHECK(c.err == SMTP_OK && c.path.literal);
	c = parse("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8");
	CHECK(c.err == SMTP_OK && c.path.utf8 && c.params.smtputf8);
	/* Sizes and bodies. */
	c = parse("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8");
	CHECK(c.err == SMTP_OK && c.params.size_given && c.params.size == 1000 &&
	      c.params.body == SMTP_BODY_8BITMIME && c.params.smtputf8 && !c.lenient);
	c = parse("MAIL FROM:<a@b.example> SIZE=1000  BODY=8BITMIME");
	CHECK(c.err == SMTP_OK && c.params.body == SMTP_BODY_8BITMIME && c.lenient);
	c = parse("MAIL FROM:<a@b.example> body=7bit size=0");
	CHECK(c.err == SMTP_OK && c.params.body == SMTP_BODY_7BIT && c.params.size == 0);
	c = parse("MAIL FROM:<a@b.example> SIZE=99999999999999999999");
	CHECK(c.err == SMTP_OK && c.params.size == UINT64_MAX);
	CHECK(parse("MAIL FROM:<a@b.example> SIZE=123456789012345678901").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> SIZE=12a").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> SIZE").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> SIZE=1 SIZE=2").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> BODY=BINARYMIME").err == SMTP_E_PARAM);
	CHECK(parse("MAIL FROM:<a@b.example> BODY=9BIT").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> SMTPUTF8=yes").err == SMTP_E_PARAM_VALUE);
	CHECK(parse("MAIL FROM:<a@b.example> RET=HDRS").err == SMTP_E_PARAM);
	CHECK(parse("MAIL FROM:<a@b.example> =x").err == SMTP_E_SYNTAX);
	CHECK(parse("MAIL FROM:<a@b.example> X=").err == SMTP_E_SYNTAX);
	/* Paths. */
	CHECK(parse("MAIL FROM:a@b.example").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@b.example").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@b.example>x").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a..b@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<.a@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a.@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a b@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@-b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@b-.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@b.example.>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@[192.0.2.256]>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a@[IPv6:zz]>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<\"unterminated@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<a\xff@b.example>").err == SMTP_E_PATH);
	CHECK(parse("MAIL FROM:<Postmaster>").err == SMTP_E_PATH);
	CHECK(parse("MAIL TO:<a@b.example>").err == SMTP_E_SYNTAX);
	CHECK(parse("MAIL").err == SMTP_E_SYNTAX);
	/* Limits: 64-octet local part, 63-octet label. */
	char l[200];
	snprintf(l, sizeof(l), "MAIL FROM:<%.64s@b.example>",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK(parse(l).err == SMTP_OK);
	snprintf(l, sizeof(l), "MAIL FROM:<%.65s@b.example>",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK(parse(l).err == SMTP_E_PATH);
	snprintf(l, sizeof(l), "MAIL FROM:<a@%.63s.example>",
	         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	CHECK(parse(l).err == SMTP_OK);
	snprintf(l, sizeof(l), "MAIL FROM:<a@%.64s.example>",
	         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	CHECK(parse(l).err == SMTP_E_PATH);
}

static void rcpt_to(void)
{
	struct smtp_cmd c = parse("RCPT TO:<bob@allears.test>");
	CHECK(c.verb == SMTP_RCPT && c.err == SMTP_OK && is(c.path.local, c.path.local_len, "bob"));
	c = parse("RCPT TO:<Postmaster>");
	CHECK(c.err == SMTP_OK && c.path.postmaster && !c.path.domain);
	c = parse("rcpt to:<postmaster@allears.test>");
	CHECK(c.err == SMTP_OK && !c.path.postmaster);
	CHECK(parse("RCPT TO:<>").err == SMTP_E_PATH);
	CHECK(parse("RCPT TO:<bob>").err == SMTP_E_PATH);
	CHECK(parse("RCPT TO:<bob@allears.test> NOTIFY=NEVER").err == SMTP_E_PARAM);
	CHECK(parse("RCPT FROM:<bob@allears.test>").err == SMTP_E_SYNTAX);
	c = parse("RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@allears.test>");
	CHECK(c.err == SMTP_OK && c.path.utf8);
}

static void domains(void)
{
	CHECK(smtp_domain_valid((const uint8_t *)"a", 1, false));
	CHECK(smtp_domain_valid((const uint8_t *)"a-b.c", 5, false));
	CHECK(!smtp_domain_valid((const uint8_t *)"a_b", 3, false));
	CHECK(!smtp_domain_valid((const uint8_t *)"", 0, false));
	CHECK(!smtp_domain_valid((const uint8_t *)"a..b", 4, false));
	CHECK(!smtp_domain_valid((const uint8_t *)"b\xc3\xbc", 3, false));
	CHECK(smtp_domain_valid((const uint8_t *)"b\xc3\xbc", 3, true));
	CHECK(smtp_literal_valid((const uint8_t *)"[1.2.3.4]", 9));
	CHECK(!smtp_literal_valid((const uint8_t *)"[1.2.3]", 7));
	CHECK(!smtp_literal_valid((const uint8_t *)"[1.2.3.4.5]", 11));
	CHECK(smtp_literal_valid((const uint8_t *)"[x-tag:abc]", 11));
	CHECK(!smtp_literal_valid((const uint8_t *)"[:abc]", 6));
	CHECK(smtp_ascii_caseeq((const uint8_t *)"AllEars.Test", 12, "allears.test", 12));
	CHECK(!smtp_ascii_caseeq((const uint8_t *)"allears.tes", 11, "allears.test", 12));
}

/* ---- DATA stream ---- */

struct fed {
	uint8_t out[4096];
	size_t out_len;
	size_t used;
	bool done;
	uint8_t odd;
};

/* Feeds s in pieces of `step` bytes (0: all at once). */
static struct fed feed(const char *s, size_t step)
{
	struct fed f = { .out_len = 0 };
	struct datastream d;
	datastream_init(&d);
	size_t n = strlen(s), i = 0;
	uint8_t tmp[4096 + DATASTREAM_SLACK];
	while (i < n && !d.done) {
		size_t k = step ? (n - i < step ? n - i : step) : n - i;
		size_t o;
		size_t u = datastream_feed(&d, (const uint8_t *)s + i, k, tmp, &o);
		memcpy(f.out + f.out_len, tmp, o);
		f.out_len += o;
		i += u;
		if (u < k && !d.done)
			break;
	}
	f.used = i;
	f.done = d.done;
	f.odd = d.odd;
	return f;
}

static bool out_is(const struct fed *f, const char *s)
{
	return f->out_len == strlen(s) && memcmp(f->out, s, f->out_len) == 0;
}

static void stream_cases(void)
{
	static const struct {
		const char *in;
		const char *out;
		bool done;
		size_t used; /* 0: all */
		uint8_t odd;
	} t[] = {
		{ ".\r\n", "", true, 0, 0 },
		{ "Hi\r\n.\r\n", "Hi\r\n", true, 0, 0 },
		{ "..x\r\n.\r\n", ".x\r\n", true, 0, 0 },
		{ "a\r\n..\r\n.\r\n", "a\r\n.\r\n", true, 0, 0 },
		{ "a\r\n.\r\nQUIT\r\n", "a\r\n", true, 6, 0 },
		/* Bare LF never ends the message (no SMTP smuggling). */
		{ "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", true, 0, DATASTREAM_BARE_LF },
		{ "a\r\n.\nb\r\n.\r\n", "a\r\n.\nb\r\n", true, 0, DATASTREAM_BARE_LF },
		{ "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", true, 0, DATASTREAM_BARE_LF },
		{ "a\r.\r\n", "a\r.\r\n", false, 0, DATASTREAM_BARE_CR },
		{ "a\r\n.\rx\r\n.\r\n", "a\r\n\rx\r\n", true, 0, DATASTREAM_BARE_CR },
		{ "x\r\r\n.\r\n", "x\r\r\n", true, 0, DATASTREAM_BARE_CR },
		{ "a\r\n", "a\r\n", false, 0, 0 },
		{ "a\r\n.", "a\r\n", false, 0, 0 },
		{ "a\r\n.\r", "a\r\n", false, 0, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		for (size_t step = 0; step <= 4; step++) {
			struct fed f = feed(t[i].in, step);
			size_t used = t[i].used ? t[i].used : strlen(t[i].in);
			bool ok = out_is(&f, t[i].out) && f.done == t[i].done && f.used == used &&
			          f.odd == t[i].odd;
			if (!ok)
				fprintf(stderr, "  case %zu step %zu: out %zu done %d used %zu odd %u\n", i,
				        step, f.out_len, f.done, f.used, f.odd);
			CHECK(ok);
		}
	}
	struct datastream d;
	datastream_init(&d);
	uint8_t in[] = { 'a', 0, 'b', '\r', '\n', '.', '\r', '\n' }, out[16];
	size_t o;
	CHECK(datastream_feed(&d, in, sizeof(in), out, &o) == sizeof(in) && d.done && o == 5 &&
	      (d.odd & DATASTREAM_NUL));
	/* After the end, nothing more is taken. */
	CHECK(datastream_feed(&d, in, sizeof(in), out, &o) == 0 && o == 0);
}

static void stream_long_lines(void)
{
	static char buf[3000];
	/* 998 octets and CRLF: allowed. 999: flagged. */
	memset(buf, 'x', 998);
	strcpy(buf + 998, "\r\n.\r\n");
	struct fed f = feed(buf, 0);
	CHECK(f.done && f.odd == 0 && f.out_len == 1000);
	memset(buf, 'x', 999);
	strcpy(buf + 999, "\r\n.\r\n");
	f = feed(buf, 7);
	CHECK(f.done && f.odd == DATASTREAM_LONG_LINE && f.out_len == 1001);
	/* A stuffed dot does not count. */
	buf[0] = '.';
	memset(buf + 1, 'x', 998);
	strcpy(buf + 999, "\r\n.\r\n");
	f = feed(buf, 0);
	CHECK(f.done && f.odd == 0 && f.out_len == 1000);
}

/* Random text, every split: the output is the same as all at once. */
static void stream_any_split(void)
{
	static const char alphabet[] = { '.', '\r', '\n', 'a', '.', '\r', '\n', 0 };
	uint8_t in[64], ref[128], out[128 + DATASTREAM_SLACK];
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + randombytes_uniform(sizeof(in));
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)alphabet[randombytes_uniform(sizeof(alphabet))];
		struct datastream a, b;
		datastream_init(&a);
		size_t ro;
		size_t ru = datastream_feed(&a, in, n, ref, &ro);
		datastream_init(&b);
		size_t bo = 0, bu = 0;
		while (bu < n && !b.done) {
			size_t k = 1 + randombytes_uniform((uint32_t)(n - bu));
			size_t o;
			size_t u = datastream_feed(&b, in + bu, k, out + bo, &o);
			CHECK(o <= k + DATASTREAM_SLACK);
			bo += o;
			bu += u;
		}
		CHECK(bu == ru && bo == ro && a.done == b.done && a.odd == b.odd &&
		      memcmp(out, ref, ro) == 0);
		/* Message bytes never exceed the input, and never hold the end marker. */
		CHECK(ro <= ru);
	}
}

/* ---- limits ---- */

static void limits_sessions(void)
{
	struct mta_limits *l = mta_limits_new(2, 100, 10);
	uint8_t a[16] = { 192, 0, 2, 1 }, b[16] = { 192, 0, 2, 2 };
	struct mta_ipent *e1, *e2, *e3, *f1;
	CHECK(mta_limits_open(l, 4, a, 0, &e1) == 0);
	CHECK(mta_limits_open(l, 4, a, 0, &e2) == 0 && e1 == e2);
	CHECK(mta_limits_open(l, 4, a, 0, &e3) == -EUSERS);
	CHECK(mta_limits_open(l, 4, b, 0, &f1) == 0 && f1 != e1);
	mta_limits_close(l, e1, 0);
	CHECK(mta_limits_open(l, 4, a, 0, &e3) == 0);
	CHECK(mta_limits_tag(e1) != mta_limits_tag(f1));
	/* IPv6: one /64 is one client. */
	uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 2 };
	uint8_t v6c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct mta_ipent *x, *y, *z, *w;
	CHECK(mta_limits_open(l, 6, v6a, 0, &x) == 0);
	CHECK(mta_limits_open(l, 6, v6b, 0, &y) == 0 && x == y);
	CHECK(mta_limits_open(l, 6, v6b, 0, &w) == -EUSERS);
	CHECK(mta_limits_open(l, 6, v6c, 0, &z) == 0 && z != x);
	CHECK(mta_limits_tag(x) == mta_limits_tag(y) && mta_limits_tag(x) != mta_limits_tag(z));
	/* The same 4 bytes as IPv4 and as the start of an IPv6 /64 are different clients. */
	uint8_t v4as6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct mta_ipent *v;
	CHECK(mta_limits_open(l, 4, v4as6, 0, &v) == 0 && v != x);
	mta_limits_free(l);
}

static void limits_bucket(void)
{
	/* 3 per minute: 3 at once, then one per 20 s. */
	struct mta_limits *l = mta_limits_new(5, 3, 10);
	uint8_t a[16] = { 198, 51, 100, 9 };
	struct mta_ipent *e;
	CHECK(mta_limits_open(l, 4, a, 1000, &e) == 0);
	CHECK(mta_limits_take_rcpt(l, e, 1000));
	CHECK(mta_limits_take_rcpt(l, e, 1000));
	CHECK(mta_limits_take_rcpt(l, e, 1000));
	CHECK(!mta_limits_take_rcpt(l, e, 1000));
	CHECK(!mta_limits_take_rcpt(l, e, 20999));
	CHECK(mta_limits_take_rcpt(l, e, 21000));
	CHECK(!mta_limits_take_rcpt(l, e, 21000));
	/* A closed session does not refill the bucket: the network is remembered. */
	mta_limits_close(l, e, 21000);
	CHECK(mta_limits_open(l, 4, a, 21000, &e) == 0);
	CHECK(!mta_limits_take_rcpt(l, e, 21000));
	/* A day later it is full again, no more. */
	CHECK(mta_limits_take_rcpt(l, e, 86400000));
	CHECK(mta_limits_take_rcpt(l, e, 86400000));
	CHECK(mta_limits_take_rcpt(l, e, 86400000));
	CHECK(!mta_limits_take_rcpt(l, e, 86400000));
	mta_limits_free(l);
}

static void limits_eviction(void)
{
	struct mta_limits *l = mta_limits_new(1, 10, 10);
	uint8_t ip[16] = { 10 };
	struct mta_ipent *e;
	for (uint32_t i = 0; i < 1000; i++) {
		memcpy(ip + 1, &i, 3);
		CHECK(mta_limits_open(l, 4, ip, 0, &e) == 0);
		mta_limits_close(l, e, 0);
	}
	CHECK(mta_limits_entries(l) == 1000);
	/* A minute later, idle networks are forgotten as new ones arrive. */
	uint8_t other[16] = { 11, 1, 1, 1 };
	CHECK(mta_limits_open(l, 4, other, 60000, &e) == 0);
	CHECK(mta_limits_entries(l) == 1);
	mta_limits_free(l);
}

/* ---- record ---- */

static void record_patch(void)
{
	struct dlvrec r;
	memset(&r, 0, sizeof(r));
	r.ts = 1;
	r.ip_family = MSG_IP_V4;
	r.flags = MSG_EXT_F_ESMTP;
	r.rcpt_count = 1;
	r.rcpt[0] = (struct dlvrec_rcpt){ 7, 0x0C, MSG_STR("bob") };
	struct wr w = WR_INIT;
	CHECK(dlvrec_encode_head(&w, &r) == 0);
	struct memfd_writer mw;
	CHECK(memfd_writer_open(&mw, "test") == 0);
	CHECK(memfd_writer_append(&mw, w.p, w.len) == 0);
	CHECK(memfd_writer_append(&mw, "body", 4) == 0);
	uint16_t fl = MSG_EXT_F_ESMTP | MSG_EXT_F_BARE_LF | MSG_EXT_F_PIPELINING;
	CHECK(mta_record_patch(mw.fd, fl, 0x0102030405060708ull) == 0);
	int fd = memfd_writer_finish(&mw);
	CHECK(fd >= 0);
	const uint8_t *map;
	size_t len;
	CHECK(memfd_map_sealed(fd, 1 << 20, &map, &len) == 0);
	struct dlvrec d;
	CHECK(dlvrec_decode(&d, map, len) == 0);
	CHECK(d.flags == fl && d.ts == 0x0102030405060708ull && d.message.len == 4);
	CHECK(d.rcpt_count == 1 && d.rcpt[0].uid == 7);
	/* Sealed: no more patching. */
	CHECK(mta_record_patch(fd, 0, 0) < 0);
	memfd_unmap(map, len);
	close(fd);
	wr_free(&w);
}

static void record_answer(void)
{
	const uint8_t ok[] = { CHST_OK, 2, CHST_OK, CHST_OK };
	const uint8_t tf[] = { CHST_TEMPFAIL, 2, CHST_OK, CHST_TEMPFAIL };
	const uint8_t inv0[] = { CHST_INVALID, 0 };
	CHECK(mta_record_answer(ok, sizeof(ok), 2) == CHST_OK);
	CHECK(mta_record_answer(tf, sizeof(tf), 2) == CHST_TEMPFAIL);
	CHECK(mta_record_answer(inv0, sizeof(inv0), 2) == CHST_INVALID);
	CHECK(mta_record_answer(ok, sizeof(ok), 3) == -EBADMSG);  /* count differs */
	CHECK(mta_record_answer(ok, 3, 2) == -EBADMSG);           /* short */
	CHECK(mta_record_answer(ok, 1, 2) == -EBADMSG);
	CHECK(mta_record_answer(ok, 0, 2) == -EBADMSG);
	const uint8_t zero_ok[] = { CHST_OK, 0 };
	CHECK(mta_record_answer(zero_ok, sizeof(zero_ok), 2) == -EBADMSG);
	/* Deliver busy or stopping refuses the whole request without per-recipient bytes. */
	const uint8_t busy[] = { CHST_TEMPFAIL, 0 };
	CHECK(mta_record_answer(busy, sizeof(busy), 2) == CHST_TEMPFAIL);
	const uint8_t denied[] = { CHST_DENIED, 0 };
	CHECK(mta_record_answer(denied, sizeof(denied), 2) == CHST_DENIED);
	const uint8_t zero_limit[] = { CHST_LIMIT, 0 };
	CHECK(mta_record_answer(zero_limit, sizeof(zero_limit), 2) == -EBADMSG);
	const uint8_t badst[] = { 200, 1, CHST_OK };
	CHECK(mta_record_answer(badst, sizeof(badst), 1) == -EBADMSG);
	const uint8_t badrc[] = { CHST_OK, 1, 99 };
	CHECK(mta_record_answer(badrc, sizeof(badrc), 1) == -EBADMSG);
	const uint8_t extra[] = { CHST_OK, 1, CHST_OK, 0 };
	CHECK(mta_record_answer(extra, sizeof(extra), 1) == -EBADMSG);
}

int main(void)
{
	check_init();
	RUN(verbs);
	RUN(helo);
	RUN(mail_from);
	RUN(rcpt_to);
	RUN(domains);
	RUN(stream_cases);
	RUN(stream_long_lines);
	RUN(stream_any_split);
	RUN(limits_sessions);
	RUN(limits_bucket);
	RUN(limits_eviction);
	RUN(record_patch);
	RUN(record_answer);
	return check_finish();
}
