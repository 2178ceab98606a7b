/* test_client_render.c: mail as the client shows it (src/client/mail.c,
 * render.c, json.c). Messages are built with message.h, sealed with
 * envelope.h for the EPK of the UMK golden vector, then opened and
 * rendered: the golden ExtMsg of PROTOCOL.md 5.11 renders exactly as
 * expected, every type renders, attachments are listed, the wrong key is
 * refused, and hostile headers and bodies never put a terminal escape, a
 * control or a bidi character on the screen or into JSON. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "client/json.h"
#include "client/mail.h"
#include "client/render.h"
#include "client/upload.h"
#include "common/keys.h"
#include "common/utf8.h"

#define TS_HEX "00a8da769b010000" /* 1,767,225,600,000 = 2026-01-01T00:00:00Z */

static const char G_EXT_FULL[] =
	"01" "00" "0000" TS_HEX "efcdab8967452301" "06" "04" "0213"
	"20010db8000000000000000000000025" "1f02" "03" "02" "d4fe" "02" "03" "2a000000" "4649"
	"02" "01" "01" "00" "0008" "0601" "9cb8556900000000" "1cf35e6900000000"
	"0b" "6578616d706c652e6f7267" "04" "73656c31"
	"03" "02" "00" "01" "0001" "0000" "0000000000000000" "0000000000000000"
	"06" "65782e6e6574" "02" "6564"
	"11" "616c696365406578616d706c652e6f7267" "03" "626f62"
	"10" "6d61696c2e6578616d706c652e6f7267" "10" "6d61696c2e6578616d706c652e6f7267"
	"0a" "4578616d706c65204153"
	"1700" "416c6963657f616c696365406578616d706c652e6f7267" "0b00" "626f624061652e74657374"
	"0000" "0000" "0f00" "696431406578616d706c652e6f7267" "0000" "0500" "486920c3a9"
	"0d000000" "582d413a20310a582d423a2032" "0d000000" "48656c6c6f0a16776f726c6416";

static const char EXT_FULL_TEXT[] =
	"From:     Alice <alice@example.org>\n"
	"To:       bob@ae.test\n"
	"Subject:  Hi \xc3\xa9\n"
	"Date:     2026-01-01 00:00:00 +0000 (received)\n"
	"Envelope: alice@example.org -> bob\n"
	"Via:      mail.example.org [2001:db8::25] rDNS mail.example.org FI, Example AS\n"
	"Security: TLS 1.3 (0x1302), SPF pass, DMARC pass, DKIM pass example.org, DKIM fail ex.net\n"
	"\n"
	"Hello\n"
	"world\n";

static struct mail_keys keys, other_keys;

static void setup_keys(void)
{
	uint8_t umk[KEYS_UMK_BYTES];
	for (int i = 0; i < KEYS_UMK_BYTES; i++)
		umk[i] = (uint8_t)i;
	CHECK(keys_envelope_keypair(keys.epk, keys.esk, umk) == 0);
	CHECK(keys_umk_derive(keys.ufk, USER_KEY_UFK, umk) == 0);
	umk[0] ^= 1;
	CHECK(keys_envelope_keypair(other_keys.epk, other_keys.esk, umk) == 0);
	CHECK(keys_umk_derive(other_keys.ufk, USER_KEY_UFK, umk) == 0);
}

/* True when the output is exactly want; prints it when not. */
static int same(const struct wr *w, const char *want, size_t n)
{
	if (w->len == n && memcmp(w->p, want, n) == 0)
		return 1;
	fprintf(stderr, "  got:\n%.*s\n", (int)w->len, (const char *)w->p);
	return 0;
}

/* Seals a Message for keys.epk and opens it as the client does. */
static int seal_open(struct mail *m, uint32_t id, const uint8_t *msg, size_t n,
                     const struct mail_keys *k)
{
	size_t el = envelope_size_for(n);
	uint8_t *env = malloc(el);
	CHECK(envelope_seal(env, el, msg, n, keys.epk) == 0);
	int rc = mail_open(m, id, env, el, k);
	free(env);
	return rc;
}

/* The terminal-safety property of PROTOCOL.md 6.3, for any output here:
 * valid UTF-8, no C0 but LF, no DEL, no C1, no bidi formatting character,
 * and in ANSI mode ESC only as ESC [ 0 (;digit)* m. */
static int terminal_safe(const uint8_t *p, size_t n, int ansi)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] == 0x1b) {
			if (!ansi || i + 3 > n || p[i + 1] != '[' || p[i + 2] != '0')
				return 0;
			i += 3;
			while (i + 1 < n && p[i] == ';' && p[i + 1] >= '0' && p[i + 1] <= '9')
				i += 2;
			if (i >= n || p[i] != 'm')
				return 0;
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0 || (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
		    cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029)
			return 0;
		i += k;
	}
	return 1;
}

static void golden_ext(void)
{
	uint8_t msg[400];
	int n = check_unhex(G_EXT_FULL, msg, sizeof(msg));
	CHECK(n == 298);
	struct mail m;
	CHECK(seal_open(&m, 7, msg, (size_t)n, &keys) == 0);
	CHECK(m.type == MSG_EXT && m.id == 7 && m.len == 298 && m.env_len == 352);
	struct wr w = WR_INIT;
	struct render_opts o = { .ansi = false, .width = 0 };
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	CHECK(same(&w, EXT_FULL_TEXT, sizeof(EXT_FULL_TEXT) - 1));
	wr_free(&w);
	/* ANSI: labels and the bold "world", nothing else. */
	o.ansi = true;
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	CHECK(terminal_safe(w.p, w.len, 1));
	CHECK(memmem(w.p, w.len, "\x1b[0;1mworld", 11) != NULL);
	CHECK(memmem(w.p, w.len, "\x1b[0;1mFrom:", 11) != NULL);
	wr_free(&w);
	/* The list line. */
	render_list_line(&w, &m);
	static const char line[] = "       7  2026-01-01 00:00  Alice                         Hi \xc3\xa9"
	                           "                                              298 B\n";
	CHECK(same(&w, line, sizeof(line) - 1));
	wr_free(&w);
	mail_free(&m);
}

static void wrong_key_and_sizes(void)
{
	uint8_t msg[400];
	int n = check_unhex(G_EXT_FULL, msg, sizeof(msg));
	struct mail m;
	memset(&m, 0x5a, sizeof(m));
	CHECK(seal_open(&m, 1, msg, (size_t)n, &other_keys) == -EBADMSG);
	uint8_t env[128] = { 0 };
	CHECK(mail_open(&m, 1, env, 100, &keys) == -EINVAL);
	CHECK(mail_open(&m, 1, env, 0, &keys) == -EINVAL);
	/* An envelope that opens but holds no valid Message. */
	uint8_t junk[20] = "not a message at all";
	CHECK(seal_open(&m, 1, junk, sizeof(junk), &keys) == -EBADMSG);
}

/* A well-formed ExtMsg carrying what a hostile sender can get past the
 * decoder: bidi overrides, line separators, DEL inside address lists, long
 * fields, and a body that is not valid CET (ESC [ 2 J). */
static void hostile_ext(void)
{
	struct msg_ext e;
	memset(&e, 0, sizeof(e));
	e.ts = 1767225600000ull;
	e.ref = 0x1122334455667788ull;
	e.ip_family = 4;
	e.ip[0] = 192, e.ip[1] = 0, e.ip[2] = 2, e.ip[3] = 1;
	e.tz_minutes = MSG_TZ_NONE;
	e.date_delta = MSG_DATE_DELTA_NONE;
	e.env_to = MSG_STR("bob");
	e.subject = MSG_STR("Invoice \xe2\x80\xae" "fdp.exe\xe2\x80\xa8" "next \xe2\x81\xa6x");
	e.hdr_from = MSG_STR("Bank \xe2\x80\xae" "evil\x7f" "a@b\nc\x7f\x7f" "d");
	e.hdr_to = MSG_STR("\x7f");
	e.headers = MSG_STR("X-A: \xd8\x9c");
	static const char body[] = "\x1b[2J\x1b]0;pwned\x07";
	e.body = (struct msg_str){ (const uint8_t *)body, sizeof(body) - 1 };
	struct wr enc = WR_INIT;
	CHECK(msg_ext_encode(&enc, &e) == 0);
	struct mail m;
	CHECK(seal_open(&m, 3, enc.p, enc.len, &keys) == 0);
	for (int ansi = 0; ansi < 2; ansi++) {
		struct wr w = WR_INIT;
		struct render_opts o = { .ansi = ansi, .width = 40 };
		CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
		CHECK(terminal_safe(w.p, w.len, ansi));
		CHECK(memmem(w.p, w.len, "not valid CET", 13) != NULL);
		CHECK(memmem(w.p, w.len, "pwned", 5) == NULL);
		CHECK(memmem(w.p, w.len, "Invoice fdp.exe next x", 22) != NULL);
		CHECK(memmem(w.p, w.len, "Bank evil <a@b>, c <?d>", 23) != NULL);
		wr_free(&w);
		render_list_line(&w, &m);
		CHECK(terminal_safe(w.p, w.len, 0));
		wr_free(&w);
	}
	/* JSON: ASCII only, no raw control anywhere, and still parseable. */
	json_t *j = json_mail_full(&m, NULL, 0);
	CHECK(j != NULL);
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	CHECK(s != NULL);
	for (const char *p = s; p && *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
	CHECK(s && strstr(s, "\\u202e") == NULL && strstr(s, "\\u001b") == NULL);
	json_error_t jerr;
	json_t *back = json_loads(s, 0, &jerr);
	CHECK(back && json_is_object(back));
	CHECK(json_string_value(json_object_get(back, "subject")) &&
	      strcmp(json_string_value(json_object_get(back, "subject")),
	             "Invoice fdp.exe next x") == 0);
	json_decref(back);
	free(s);
	json_decref(j);
	mail_free(&m);
	wr_free(&enc);
}

static void render_text_raw(void)
{
	/* Raw bytes no decoder would pass: render_text still makes them safe. */
	static const char raw[] = "a\x1b[31mb\x07\x08\r\n\x7f\xc2\x9b\xff\xfe\xe2\x80\x8f" "c\x00z";
	struct wr w = WR_INIT;
	render_text(&w, (const uint8_t *)raw, sizeof(raw) - 1, 0);
	CHECK(terminal_safe(w.p, w.len, 0) && memchr(w.p, '\n', w.len) == NULL);
	CHECK(same(&w, "a?[31mb????????c?z", 18));
	wr_free(&w);
	/* Cut with an ellipsis, counted in characters. */
	render_text(&w, (const uint8_t *)"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, 4);
	CHECK(w.len == 9 && memcmp(w.p, "\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6", 9) == 0);
	wr_free(&w);
	render_text(&w, (const uint8_t *)"abcd", 4, 4);
	CHECK(w.len == 4 && memcmp(w.p, "abcd", 4) == 0);
	wr_free(&w);
}

static void int_out_upl(void)
{
	/* IntMsg from an admin. */
	struct msg_int in;
	memset(&in, 0, sizeof(in));
	in.ts = 1767225600000ull;
	in.kind = MSG_INT_USER;
	in.flags = MSG_INT_F_ADMIN;
	CHECK(addr32_parse("admin", 5, in.from) == ADDR32_NORMAL);
	CHECK(addr32_parse("abuse", 5, in.to) == ADDR32_NORMAL);
	in.subject = MSG_STR("Welcome");
	in.body = MSG_STR("See \x02" "example.com/a\x02" "the page");
	struct wr enc = WR_INIT, w = WR_INIT;
	CHECK(msg_int_encode(&enc, &in) == 0);
	struct mail m;
	struct render_opts o = { 0 };
	CHECK(seal_open(&m, 2, enc.p, enc.len, &keys) == 0 && m.type == MSG_INT);
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	static const char want_int[] = "From:     adm1n (administrator)\nTo:       abuse\n"
	                               "Subject:  Welcome\nDate:     2026-01-01 00:00:00 +0000\n\n"
	                               "See [1]the page\n\n[1] https://example.com/a\n";
	CHECK(same(&w, want_int, sizeof(want_int) - 1));
	wr_free(&w);
	mail_free(&m);
	wr_free(&enc);

	/* OutMsg: the report, never the raw email. */
	struct msg_out out;
	memset(&out, 0, sizeof(out));
	out.ts = 1767225600000ull;
	out.status = MSG_OUT_PERMFAIL;
	out.ip_family = 4;
	out.ip[0] = 198, out.ip[1] = 51, out.ip[2] = 100, out.ip[3] = 7;
	out.tls_version = MSG_TLS_1_3;
	out.tls_suite = 0x1301;
	out.sender = MSG_STR("alice");
	out.rcpt = MSG_STR("bob@example.org");
	out.mx = MSG_STR("mx.example.org");
	out.reply = MSG_STR("550 5.1.1 no such user");
	out.subject = MSG_STR("Hi");
	out.body = MSG_STR("Subject: Hi\r\n\r\n\x1b[2Jsecret\r\n");
	CHECK(msg_out_encode(&enc, &out) == 0);
	CHECK(seal_open(&m, 4, enc.p, enc.len, &keys) == 0 && m.type == MSG_OUT);
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	CHECK(terminal_safe(w.p, w.len, 0));
	CHECK(memmem(w.p, w.len, "Report:   permanent failure\n", 28) != NULL);
	CHECK(memmem(w.p, w.len, "Server:   mx.example.org [198.51.100.7] TLS 1.3", 47) != NULL);
	CHECK(memmem(w.p, w.len, "secret", 6) == NULL);
	wr_free(&w);
	render_list_line(&w, &m);
	CHECK(memmem(w.p, w.len, "to bob@example.org", 18) != NULL);
	CHECK(memmem(w.p, w.len, "[permanent failure] Hi", 22) != NULL);
	wr_free(&w);
	mail_free(&m);
	wr_free(&enc);

	/* A user upload, encrypted with the UFK: its real name shows only with
	 * the right key. */
	struct wr data = WR_INIT;
	CHECK(upload_seal(&data, "notes \xe2\x80\xae.txt", 13, (const uint8_t *)"content", 7,
	                  keys.ufk) == 0);
	struct msg_upl u;
	memset(&u, 0, sizeof(u));
	u.ts = 1767225600000ull;
	u.kind = MSG_UPL_USER;
	u.name = MSG_STR(UPLOAD_SERVER_NAME);
	u.data = (struct msg_str){ data.p, data.len };
	CHECK(msg_upl_encode(&enc, &u) == 0);
	CHECK(seal_open(&m, 5, enc.p, enc.len, &keys) == 0 && m.upl_open);
	CHECK(m.upl_content.len == 7 && memcmp(m.upl_content.p, "content", 7) == 0);
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	CHECK(terminal_safe(w.p, w.len, 0));
	CHECK(memmem(w.p, w.len, "File:     notes .txt\n", 21) != NULL);
	CHECK(memmem(w.p, w.len, "(encrypted by you)", 18) != NULL);
	CHECK(memmem(w.p, w.len, "Size:     7 B", 13) != NULL);
	wr_free(&w);
	mail_free(&m);
	/* Sealed for keys.epk but the UFK differs: opens, but the file does not. */
	struct mail_keys mixed = keys;
	memcpy(mixed.ufk, other_keys.ufk, 32);
	CHECK(seal_open(&m, 5, enc.p, enc.len, &mixed) == 0 && !m.upl_open);
	CHECK(render_mail(&w, &m, NULL, 0, &o) == 0);
	CHECK(memmem(w.p, w.len, "cannot decrypt", 14) != NULL);
	wr_free(&w);
	mail_free(&m);
	wr_free(&enc);
	wr_free(&data);
}

static void attachments_listed(void)
{
	uint8_t msg[400];
	int n = check_unhex(G_EXT_FULL, msg, sizeof(msg));
	struct mail m, a[2];
	CHECK(seal_open(&m, 10, msg, (size_t)n, &keys) == 0);
	struct msg_upl u;
	memset(&u, 0, sizeof(u));
	u.ts = 1767225600000ull;
	u.kind = MSG_UPL_ATTACHMENT;
	u.parent = m.m.ext.ref;
	u.media_type = MSG_STR("application/pdf");
	u.name = MSG_STR("report.pdf");
	u.data = MSG_STR("%PDF-1.7");
	struct wr enc = WR_INIT;
	CHECK(msg_upl_encode(&enc, &u) == 0);
	CHECK(seal_open(&a[0], 11, enc.p, enc.len, &keys) == 0);
	wr_free(&enc);
	u.kind = MSG_UPL_SOURCE;
	u.media_type = MSG_STR("");
	u.name = MSG_STR("original.eml");
	CHECK(msg_upl_encode(&enc, &u) == 0);
	CHECK(seal_open(&a[1], 12, enc.p, enc.len, &keys) == 0);
	wr_free(&enc);
	const struct mail *att[2] = { &a[0], &a[1] };
	struct wr w = WR_INIT;
	struct render_opts o = { 0 };
	CHECK(render_mail(&w, &m, att, 2, &o) == 0);
	static const char files[] = "Files:\n  #11  report.pdf  application/pdf  8 B\n"
	                            "  #12  original.eml  8 B  (original email)\n\nHello\n";
	if (!memmem(w.p, w.len, files, sizeof(files) - 1))
		CHECK(same(&w, files, sizeof(files) - 1));
	wr_free(&w);
	/* Only files are listed, whatever the caller passes. */
	const struct mail *not_files[2] = { &m, &m };
	CHECK(render_mail(&w, &m, not_files, 2, &o) == 0);
	CHECK(memmem(w.p, w.len, "Files:", 6) == NULL);
	wr_free(&w);
	/* The attachment itself. */
	CHECK(render_mail(&w, &a[0], NULL, 0, &o) == 0);
	CHECK(memmem(w.p, w.len, "Kind:     attachment of mail ref 0123456789abcdef", 49) != NULL);
	wr_free(&w);
	json_t *j = json_mail_full(&m, att, 2);
	CHECK(json_array_size(json_object_get(j, "attachments")) == 2);
	CHECK(!strcmp(json_string_value(json_object_get(j, "ref")), "0123456789abcdef"));
	CHECK(!strcmp(json_string_value(json_object_get(j, "body")), "Hello\nworld\n"));
	json_decref(j);
	mail_free(&a[0]);
	mail_free(&a[1]);
	mail_free(&m);
}

int main(void)
{
	check_init();
	setenv("TZ", "UTC", 1);
	tzset();
	RUN(setup_keys);
	RUN(golden_ext);
	RUN(wrong_key_and_sizes);
	RUN(hostile_ext);
	RUN(render_text_raw);
	RUN(int_out_upl);
	RUN(attachments_listed);
	return check_finish();
}
