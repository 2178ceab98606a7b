/* test_deliver_mime.c: Deliver's MIME parser (docs/PROTOCOL.md 19): header
 * fields (RFC 2047, ADDRS, Message-ID, dates, RFC 2231 parameters), charsets,
 * transfer encodings, the body assembled from alternatives and parts,
 * attachments and every bound, with exact expected output. */
#include "check.h"

#include "common/cet.h"
#include "common/message.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

static bool same(const struct wr *w, const char *want)
{
	size_t n = strlen(want);
	if (w->len == n && (n == 0 || memcmp(w->p, want, n) == 0))
		return true;
	fprintf(stderr, "  got \"");
	for (size_t i = 0; i < w->len; i++)
		fprintf(stderr, w->p[i] < 0x20 || w->p[i] == 0x7F ? "\\x%02x" : "%c", w->p[i]);
	fprintf(stderr, "\"\n  want \"");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, (uint8_t)want[i] < 0x20 || want[i] == 0x7F ? "\\x%02x" : "%c", (uint8_t)want[i]);
	fprintf(stderr, "\"\n");
	return false;
}

static void text_case(const char *in, const char *want)
{
	struct wr w = WR_INIT;
	mimehdr_decode_text(&w, (const uint8_t *)in, strlen(in));
	CHECK(same(&w, want));
	CHECK(msg_text_valid(w.p, w.len, MSG_TEXT_LINE));
	wr_free(&w);
}

static void test_rfc2047(void)
{
	text_case("=?utf-8?q?a_b=C3=A9?=", "a b\xc3\xa9");
	text_case("=?UTF-8?B?w6k=?= =?utf-8?b?w6k=?=", "\xc3\xa9\xc3\xa9");
	/* one character split over two words in the same charset */
	text_case("=?utf-8?b?4pw=?=\r\n =?utf-8?b?kw==?=", "\xe2\x9c\x93");
	text_case("=?iso-8859-1?q?caf=E9?= =?utf-8?q?_ok?=", "caf\xc3\xa9 ok");
	text_case("a =?utf-8?q?b?= c", "a b c");
	text_case("=?utf-8?x?abc?= =?utf-8?q?unclosed", "=?utf-8?x?abc?= =?utf-8?q?unclosed");
	text_case("x=?utf-8?q?y?=z", "xyz");
	text_case("=?x-nope?q?abc=FF?=", "abc\xef\xbf\xbd");
	text_case("=?utf-8*en?q?lang?=", "lang");
	text_case("=?ISO-2022-JP?B?GyRCN29MPhsoQg==?=", "\xe4\xbb\xb6\xe5\x90\x8d");
	text_case("=?shift_jis?B?jI+WvA==?=", "\xe4\xbb\xb6\xe5\x90\x8d");
	text_case("  tabs\tand\r\n  folds  ", "tabs and folds");
	text_case("=?utf-8?q?ctl=01=0A=7F=C2=85x?=", "ctl x");
	text_case("=?utf-8?b?SGVs!bG8=?=", "Hello"); /* junk inside B is skipped */
}

static void addrs_case(const char *in, size_t max, const char *want, bool want_cut)
{
	struct wr w = WR_INIT;
	bool cut = mimehdr_addrs(&w, (const uint8_t *)in, strlen(in), max);
	CHECK(same(&w, want));
	CHECK(cut == want_cut);
	CHECK(msg_text_valid(w.p, w.len, MSG_TEXT_ADDRS));
	wr_free(&w);
}

static void test_addrs(void)
{
	addrs_case("\"Doe, John\" <j@x>, b@y (Bob), undisclosed:;, Group: c@z, D <d@z>;", 1000,
	           "Doe, John\x7fj@x\nBob\x7f" "b@y\nc@z\nD\x7f" "d@z", false);
	addrs_case("=?utf-8?q?J=C3=B6rg?= M <jm@x.de>", 1000, "J\xc3\xb6rg M\x7fjm@x.de", false);
	addrs_case("\"=?utf-8?b?w4k=?=\" <e@x>", 1000, "\xc3\x89\x7f" "e@x", false);
	addrs_case("\"a b\"@x, \"ab\"@y", 1000, "\"a b\"@x\nab@y", false);
	addrs_case("<@r1,@r2:u@x>", 1000, "u@x", false);
	addrs_case("John (the man) <j@x>", 1000, "John\x7fj@x", false);
	addrs_case("Mail Daemon", 1000, "Mail Daemon", false);
	addrs_case("a@x, b@x, c@x", 7, "a@x\nb@x", true);
	addrs_case("x\x7fy <a\nb@c>", 1000, "xy\x7f" "ab@c", false);
	addrs_case("", 1000, "", false);
	/* appending a second To: field */
	struct wr w = WR_INIT;
	CHECK(!mimehdr_addrs(&w, (const uint8_t *)"a@x", 3, 100));
	CHECK(!mimehdr_addrs(&w, (const uint8_t *)"b@x", 3, 100));
	CHECK(same(&w, "a@x\nb@x"));
	wr_free(&w);
}

static void test_msgid(void)
{
	const char *cases[][2] = {
		{ " <abc@def.example> ", "abc@def.example" },
		{ "(comment) <a@b> <c@d>", "a@b" },
		{ "no-brackets@x trailing", "no-brackets@x" },
		{ "<a b\x01@c>", "ab@c" },
		{ "", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct wr w = WR_INIT;
		mimehdr_msgid(&w, (const uint8_t *)cases[i][0], strlen(cases[i][0]));
		CHECK(same(&w, cases[i][1]));
		wr_free(&w);
	}
}

static void test_dates(void)
{
	const struct {
		const char *s;
		bool ok;
		int64_t t;
		int16_t tz;
	} cases[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", true, 1057049557, 120 },
		{ "5 Nov 99 23:15 EST", true, 941861700, -300 },
		{ "Thu, 1 Jan 1970 00:00:00 -0130", true, 5400, -90 },
		{ "Sat, 29 Feb 2020 12:00:00 +0000", true, 1582977600, 0 },
		{ "1 Jan 2020 10:00:00 GMT (comment)", true, 1577872800, 0 },
		{ "Wed, 01 Jan 2020 10:00:00 +0000 (UTC)", true, 1577872800, 0 },
		{ "1 Jan 2020 10:00:00 Q", true, 1577872800, 0 }, /* military: -0000 */
		{ "Mon, 29 Feb 2021 12:00:00 +0000", false, 0, 0 },
		{ "1 Jan 2020 24:00:00 +0000", false, 0, 0 },
		{ "1 Jan 2020 10:00:00 +0099", false, 0, 0 },
		{ "yesterday", false, 0, 0 },
		{ "", false, 0, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t t = -1;
		int16_t tz = -1;
		bool ok = mimehdr_date((const uint8_t *)cases[i].s, strlen(cases[i].s), &t, &tz);
		CHECK(ok == cases[i].ok);
		if (ok && cases[i].ok) {
			CHECK(t == cases[i].t);
			CHECK(tz == cases[i].tz);
		}
		if (ok != cases[i].ok || (ok && (t != cases[i].t || tz != cases[i].tz)))
			fprintf(stderr, "  date %s: %d %lld %d\n", cases[i].s, ok, (long long)t, tz);
	}
}

static void ctype_case(const char *v, bool disp, const char *type, const char *name)
{
	struct mimehdr_ctype ct = { 0 };
	mimehdr_ctype_parse(&ct, (const uint8_t *)v, strlen(v), disp);
	CHECK(strcmp(ct.type, type) == 0);
	CHECK(same(&ct.name, name));
	mimehdr_ctype_free(&ct);
}

static void test_params(void)
{
	ctype_case("attachment; filename=\"a b.pdf\"", true, "attachment", "a b.pdf");
	ctype_case("attachment; filename*=UTF-8''%E2%82%AC%20x.txt", true, "attachment", "\xe2\x82\xac x.txt");
	ctype_case("attachment; filename*0*=iso-8859-1''caf%E9; filename*1=\" au lait\"; filename*2*=.txt", true,
	           "attachment", "caf\xc3\xa9 au lait.txt");
	ctype_case("inline; filename=\"=?utf-8?b?w6k=?=.png\"", true, "inline", "\xc3\xa9.png");
	ctype_case("attachment; filename*=''plain; filename=ignored", true, "attachment", "plain");
	ctype_case("Attachment ; (c) FileName = x.bin", true, "attachment", "x.bin");
	struct mimehdr_ctype ct = { 0 };
	const char *v = "Text/HTML; Charset=\"ISO-8859-1\"; format=flowed; delsp=yes; boundary=\"b;q\"; name=n";
	mimehdr_ctype_parse(&ct, (const uint8_t *)v, strlen(v), false);
	CHECK(strcmp(ct.type, "text") == 0 && strcmp(ct.subtype, "html") == 0);
	CHECK(same(&ct.charset, "iso-8859-1"));
	CHECK(ct.flowed && ct.delsp && ct.has_boundary);
	CHECK(same(&ct.boundary, "b;q"));
	CHECK(same(&ct.name, "n"));
	mimehdr_ctype_free(&ct);
	memset(&ct, 0, sizeof(ct));
	mimehdr_ctype_parse(&ct, (const uint8_t *)"text", 4, false); /* no subtype: invalid */
	CHECK(ct.type[0] == '\0');
	mimehdr_ctype_free(&ct);
	memset(&ct, 0, sizeof(ct));
	mimehdr_ctype_parse(&ct, (const uint8_t *)"image/p\xc3\xa9ng", 11, false); /* found by the fuzzer */
	CHECK(strcmp(ct.type, "image") == 0 && strcmp(ct.subtype, "p") == 0); /* tokens stay ASCII */
	mimehdr_ctype_free(&ct);
}

static void cs_case(const char *label, const char *in, size_t n, const char *want)
{
	struct wr w = WR_INIT;
	CHECK(charset_to_utf8(&w, label, (const uint8_t *)in, n) == 0);
	CHECK(same(&w, want));
	wr_free(&w);
}

static void test_charsets(void)
{
	cs_case("iso-8859-1", "caf\xe9", 4, "caf\xc3\xa9");
	cs_case("latin1", "\x80", 1, "\xe2\x82\xac"); /* latin-1 read as windows-1252 */
	cs_case("Windows-1252", "\x93x\x94\x81", 4, "\xe2\x80\x9cx\xe2\x80\x9d\xef\xbf\xbd");
	cs_case("utf-8", "a\xffz\xc3", 4, "a\xef\xbf\xbdz\xef\xbf\xbd");
	cs_case("us-ascii", "caf\xc3\xa9", 5, "caf\xc3\xa9"); /* valid UTF-8 kept */
	cs_case("us-ascii", "caf\xe9", 4, "caf\xc3\xa9");     /* else windows-1252 */
	cs_case(NULL, "caf\xe9", 4, "caf\xc3\xa9");
	cs_case("x-nope", "ok\xff", 3, "ok\xef\xbf\xbd");
	cs_case("../../etc/x", "ok\xff", 3, "ok\xef\xbf\xbd");
	cs_case("\"utf-8\"", "\xc3\xa9", 2, "\xc3\xa9");
	cs_case("shift_jis", "\x93\xfa\x96\x7b", 4, "\xe6\x97\xa5\xe6\x9c\xac");
	cs_case("shift_jis", "\x93\xfa\xff", 3, "\xe6\x97\xa5\xef\xbf\xbd");
	cs_case("iso-2022-jp", "\x1b$BF|K\\\x1b(Bx", 11, "\xe6\x97\xa5\xe6\x9c\xac" "x");
	cs_case("koi8-r", "\xf0\xd2\xc9", 3, "\xd0\x9f\xd1\x80\xd0\xb8");
}

/* ---- whole messages ---- */

static struct mime_result *parse(const char *msg, const struct mime_limits *lim)
{
	struct mime_result *r = xmalloc(sizeof(*r));
	CHECK(mime_parse((const uint8_t *)msg, strlen(msg), lim, r) == 0);
	CHECK(cet_validate(r->body.p, r->body.len, NULL) == 0);
	return r;
}

static void done(struct mime_result *r)
{
	mime_result_free(r);
	free(r);
}

static void test_simple_message(void)
{
	struct mime_result *r = parse("From: Alice <a@x>\r\nTo: b@y\r\nCc: c@z\r\nReply-To: r@x\r\n"
	                              "Subject: =?utf-8?q?Hi_=C3=A9?=\r\nMessage-ID: <id1@x>\r\n"
	                              "In-Reply-To: <id0@x>\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
	                              "Received: from a by b\r\nDKIM-Signature: v=1\r\nMIME-Version: 1.0\r\n"
	                              "X-A: 1\r\nX-B:  two\r\n  folded\r\nSubject: second\r\n\r\nHello\r\nworld\r\n",
	                              NULL);
	CHECK(same(&r->from, "Alice\x7f" "a@x"));
	CHECK(same(&r->to, "b@y"));
	CHECK(same(&r->cc, "c@z"));
	CHECK(same(&r->reply_to, "r@x"));
	CHECK(same(&r->subject, "Hi \xc3\xa9"));
	CHECK(same(&r->msg_id, "id1@x"));
	CHECK(same(&r->in_reply_to, "id0@x"));
	CHECK(same(&r->headers, "X-A: 1\nX-B: two folded\nSubject: second"));
	CHECK(same(&r->body, "Hello\nworld"));
	CHECK(r->has_date && r->date == 1057049557 && r->tz_minutes == 120);
	CHECK(r->flags == 0 && r->body_last == 0 && r->attach_count == 0);
	done(r);
}

static void test_transfer_encodings(void)
{
	struct mime_result *r = parse("Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                              "a=\r\nb=3D=3d c  \r\nd=  \r\ne =XY=\n", NULL);
	CHECK(same(&r->body, "ab== c\nde =XY"));
	done(r);
	r = parse("Content-Transfer-Encoding: BASE64\r\n\r\nSGVs!!bG8g\r\nV29y*bGQ\r\n", NULL);
	CHECK(same(&r->body, "Hello World"));
	done(r);
	r = parse("Content-Transfer-Encoding: base64\r\n\r\nSGk=SGk=\r\n", NULL); /* padded groups joined */
	CHECK(same(&r->body, "HiHi"));
	done(r);
	r = parse("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	          "caf\xe9\r\n", NULL);
	CHECK(same(&r->body, "caf\xc3\xa9"));
	done(r);
	r = parse("Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\nab \r\ncd\r\n> q \r\n> r\r\n", NULL);
	CHECK(same(&r->body, "abcd\n> qr"));
	done(r);
	r = parse("Content-Type: text/plain; format=flowed\r\n\r\nab \r\ncd\r\n-- \r\nsig\r\n", NULL);
	CHECK(same(&r->body, "ab cd\n-- \nsig"));
	done(r);
}

static void test_alternatives(void)
{
	struct mime_result *r = parse("Content-Type: multipart/alternative; boundary=b\r\n\r\npreamble\r\n"
	                              "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
	                              "--b\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--b--\r\nepilogue\r\n",
	                              NULL);
	CHECK(same(&r->body, "plain\x7f\x16html\x16"));
	CHECK(r->body_last == 6);
	CHECK(r->flags == 0);
	done(r);
	/* mixed(alternative(A, B), F): the footer goes with every version */
	r = parse("Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
	          "Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nA\r\n--i\r\n"
	          "Content-Type: text/html\r\n\r\n<p>B</p>\r\n--i--\r\n--o\r\n\r\nF\r\n--o--\r\n",
	          NULL);
	CHECK(same(&r->body, "A\x0b" "F\x7f" "B\x0b" "F"));
	CHECK(r->body_last == 4);
	done(r);
	/* empty versions are left out */
	r = parse("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\n\r\n"
	          "--b\r\nContent-Type: text/html\r\n\r\n<p>only</p>\r\n--b--\r\n",
	          NULL);
	CHECK(same(&r->body, "only"));
	CHECK(r->body_last == 0);
	done(r);
}

static void test_attachments(void)
{
	struct mime_result *r = parse(
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n"
		"--b\r\nContent-Type: application/pdf; name=\"ct.pdf\"\r\nContent-Disposition: attachment; "
		"filename=\"C:\\\\dir\\\\d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n"
		"--b\r\nContent-Type: application/pdf; name=\"ct.pdf\"\r\n\r\nraw\r\n"
		"--b\r\nContent-Type: application/pdf\r\n\r\nx\r\n"
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=..\r\n\r\nnotes\r\n"
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: Inner / one\r\n\r\ninner body\r\n"
		"--b\r\nContent-Type: bad type\r\n\r\n\r\n--b--\r\n",
		NULL);
	CHECK(r->attach_count == 5 && r->attach_seen == 5);
	if (r->attach_count == 5) {
		CHECK(same(&r->attach[0].name, "d.pdf"));
		CHECK(same(&r->attach[0].media_type, "application/pdf"));
		CHECK(same(&r->attach[0].data, "%PDF"));
		CHECK(same(&r->attach[1].name, "ct.pdf"));
		CHECK(same(&r->attach[1].data, "raw"));
		CHECK(same(&r->attach[2].name, "attachment-3.pdf"));
		CHECK(same(&r->attach[3].name, "attachment-4.txt"));
		CHECK(same(&r->attach[3].data, "notes"));
		CHECK(same(&r->attach[4].name, "Inner _ one.eml"));
		CHECK(same(&r->attach[4].media_type, "message/rfc822"));
		CHECK(same(&r->attach[4].data, "Subject: Inner / one\r\n\r\ninner body"));
	}
	/* "bad type" is an invalid Content-Type: text/plain, empty, so no text */
	CHECK(same(&r->body, "body"));
	CHECK(r->flags & MIME_F_REPAIRED);
	done(r);
}

static void test_attachment_limits(void)
{
	struct wr m = WR_INIT;
	const char *h = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
	wr_bytes(&m, h, strlen(h));
	for (int i = 0; i < 70; i++) {
		char part[128];
		int k = snprintf(part, sizeof(part), "--b\r\nContent-Type: image/png\r\n\r\n%s\r\n",
		                 i == 0 ? "0123456789abcdefghij" : "x");
		wr_bytes(&m, part, (size_t)k);
	}
	wr_bytes(&m, "--b--\r\n", 7);
	struct mime_result *r = xmalloc(sizeof(*r));
	struct mime_limits lim = { .attach_max_bytes = 10 };
	CHECK(mime_parse(m.p, m.len, &lim, r) == 0);
	CHECK(r->attach_seen == 70);
	CHECK(r->attach_count == MIME_ATTACH_MAX);
	CHECK(r->flags & MIME_F_ATTACH_DROPPED);
	if (r->attach_count)
		CHECK(same(&r->attach[0].name, "attachment-2.png")); /* the first one was too large */
	done(r);
	wr_free(&m);
}

static void test_broken(void)
{
	struct mime_result *r = parse("", NULL);
	CHECK(r->body.len == 0 && r->subject.len == 0 && r->flags == 0);
	done(r);
	r = parse("just text, no headers\n", NULL);
	CHECK(same(&r->body, "just text, no headers"));
	CHECK(r->flags & MIME_F_REPAIRED);
	done(r);
	r = parse("Subject: only headers", NULL);
	CHECK(same(&r->subject, "only headers") && r->body.len == 0);
	done(r);
	r = parse("Content-Type: multipart/mixed; boundary=right\r\n\r\n--wrong\r\n\r\nkept\r\n--wrong--\r\n", NULL);
	CHECK(same(&r->body, "kept"));
	CHECK(r->flags & MIME_F_REPAIRED);
	done(r);
	r = parse("Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n", NULL);
	CHECK(same(&r->body, "no boundary at all"));
	CHECK(r->flags & MIME_F_REPAIRED);
	done(r);
	r = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nopen end\r\n", NULL);
	CHECK(same(&r->body, "open end"));
	CHECK(r->flags & MIME_F_REPAIRED);
	done(r);
	r = parse("Subject: caf\xe9 \xe2\x9c\x93\r\nFrom: J\xf6rg <j@x>\r\n\r\nb\r\n", NULL);
	CHECK(same(&r->subject, "caf\xc3\xa9 \xc3\xa2\xc5\x93\xe2\x80\x9c")); /* invalid UTF-8: all cp1252 */
	CHECK(same(&r->from, "J\xc3\xb6rg\x7fj@x"));
	done(r);
	r = parse("Subject: ok \xe2\x9c\x93\r\n\r\n", NULL);
	CHECK(same(&r->subject, "ok \xe2\x9c\x93"));
	done(r);
}

static void test_nesting_bounds(void)
{
	struct wr m = WR_INIT;
	for (int i = 0; i < 40; i++) {
		char line[128];
		int k = snprintf(line, sizeof(line), "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		wr_bytes(&m, line, (size_t)k);
	}
	wr_bytes(&m, "\r\ndeep text\r\n", 13);
	struct mime_result *r = xmalloc(sizeof(*r));
	CHECK(mime_parse(m.p, m.len, NULL, r) == 0);
	CHECK(r->flags & MIME_F_REPAIRED);
	CHECK(r->attach_seen == 1); /* the part below MIME_DEPTH_MAX is kept as a file */
	CHECK(cet_validate(r->body.p, r->body.len, NULL) == 0);
	done(r);
	wr_free(&m);

	const char *h = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
	wr_bytes(&m, h, strlen(h));
	for (int i = 0; i < 600; i++)
		wr_bytes(&m, "--b\r\n\r\nt\r\n", 10);
	r = xmalloc(sizeof(*r));
	CHECK(mime_parse(m.p, m.len, NULL, r) == 0);
	CHECK(r->flags & MIME_F_BODY_TRUNC);
	CHECK(cet_validate(r->body.p, r->body.len, NULL) == 0);
	done(r);
	wr_free(&m);
}

static void test_field_bounds(void)
{
	struct wr m = WR_INIT;
	wr_bytes(&m, "Subject: ", 9);
	for (int i = 0; i < 1000; i++)
		wr_bytes(&m, "\xc3\xa9\xc3\xa9 ", 5); /* 5000 bytes */
	wr_bytes(&m, "\r\nTo: ", 6);
	for (int i = 0; i < 3000; i++)
		wr_bytes(&m, "abcd@example.org, ", 18);
	wr_bytes(&m, "\r\nMessage-ID: <", 15);
	for (int i = 0; i < 1200; i++)
		wr_u8(&m, 'm');
	wr_bytes(&m, ">\r\n", 3);
	for (int i = 0; i < 1100; i++)
		wr_bytes(&m, "X-H: v\r\n", 8);
	wr_bytes(&m, "\r\n", 2);
	for (int i = 0; i < 100; i++)
		wr_bytes(&m, "0123456789", 10);
	struct mime_result *r = xmalloc(sizeof(*r));
	struct mime_limits lim = { .body_max = 100 };
	CHECK(mime_parse(m.p, m.len, &lim, r) == 0);
	CHECK(r->subject.len <= MSG_SUBJECT_MAX && r->subject.len > MSG_SUBJECT_MAX - 2);
	CHECK(msg_text_valid(r->subject.p, r->subject.len, MSG_TEXT_LINE));
	CHECK(r->to.len <= MSG_ADDR_LIST_MAX && r->to.len > MSG_ADDR_LIST_MAX - 20);
	CHECK(r->to.p[r->to.len - 1] == 'g'); /* whole entries only */
	CHECK(r->msg_id.len == MSG_MSGID_MAX);
	CHECK(r->flags & MIME_F_HEADERS_TRUNC);
	CHECK(r->body.len == 100);
	CHECK(r->flags & MIME_F_BODY_TRUNC);
	done(r);
	wr_free(&m);
}

static void test_body_cut_is_valid(void)
{
	/* cutting never splits a link span or a character */
	const char *msg = "Content-Type: text/html\r\n\r\n<a href='https://example.com/long/path'>\xc3\xa9\xc3\xa9</a>";
	for (size_t max = 1; max < 60; max++) {
		struct mime_result *r = xmalloc(sizeof(*r));
		struct mime_limits lim = { .body_max = max };
		CHECK(mime_parse((const uint8_t *)msg, strlen(msg), &lim, r) == 0);
		CHECK(r->body.len <= max);
		CHECK(cet_validate(r->body.p, r->body.len, NULL) == 0);
		done(r);
	}
}

int main(void)
{
	check_init();
	RUN(test_rfc2047);
	RUN(test_addrs);
	RUN(test_msgid);
	RUN(test_dates);
	RUN(test_params);
	RUN(test_charsets);
	RUN(test_simple_message);
	RUN(test_transfer_encodings);
	RUN(test_alternatives);
	RUN(test_attachments);
	RUN(test_attachment_limits);
	RUN(test_broken);
	RUN(test_nesting_bounds);
	RUN(test_field_bounds);
	RUN(test_body_cut_is_valid);
	return check_finish();
}
