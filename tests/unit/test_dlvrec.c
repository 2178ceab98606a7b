/* test_dlvrec.c: the delivery record of DLV_DELIVER (docs/PROTOCOL.md
 * section 16): a golden vector built byte by byte from the layout table,
 * round trips, and one rejection per rule, for the encoder and the decoder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/dlvrec.h"

/* The record of section 16.4's worked example. */
static void example(struct dlvrec *r)
{
	memset(r, 0, sizeof(*r));
	r->ts = 0x0000019B2E5F1A40ull;
	r->ip_family = MSG_IP_V4;
	r->ip[0] = 192;
	r->ip[1] = 0;
	r->ip[2] = 2;
	r->ip[3] = 7;
	r->tls_version = MSG_TLS_1_3;
	r->tls_suite = 0x1301;
	r->flags = MSG_EXT_F_ESMTP | MSG_EXT_F_STARTTLS | MSG_EXT_F_8BITMIME;
	r->helo = MSG_STR("mx.example");
	r->env_from = MSG_STR("a@b.example");
	r->rcpt_count = 2;
	r->rcpt[0] = (struct dlvrec_rcpt){ 5, 0x0C, MSG_STR("alice") };
	r->rcpt[1] = (struct dlvrec_rcpt){ 0xFFFF, 0x1C, MSG_STR("bob") };
}

static const char example_hex[] =
	"01"                               /* version */
	"00"                               /* reserved */
	"0302"                             /* flags 0x0203 */
	"401a5f2e9b010000"                 /* ts */
	"04"                               /* ip family */
	"c0000207000000000000000000000000" /* ip */
	"04"                               /* TLS 1.3 */
	"0113"                             /* suite 0x1301 */
	"02"                               /* recipients */
	"0a" "6d782e6578616d706c65"        /* helo "mx.example" */
	"0b" "6140622e6578616d706c65"      /* env_from "a@b.example" */
	"0500" "0c" "05" "616c696365"      /* uid 5, flags 0x0c, "alice" */
	"ffff" "1c" "03" "626f62"          /* uid 65535, flags 0x1c, "bob" */
	"48690d0a";                        /* message "Hi\r\n" */

static uint8_t *with_message(const struct wr *w, const void *m, size_t n, size_t *len)
{
	uint8_t *p = xmalloc(w->len + n + 1);
	memcpy(p, w->p, w->len);
	memcpy(p + w->len, m, n);
	*len = w->len + n;
	return p;
}

static void golden(void)
{
	struct dlvrec r;
	example(&r);
	struct wr w = WR_INIT;
	CHECK(dlvrec_encode_head(&w, &r) == 0);
	size_t len;
	uint8_t *p = with_message(&w, "Hi\r\n", 4, &len);
	uint8_t want[256];
	int n = check_unhex(example_hex, want, sizeof(want));
	CHECK(n > 0 && (size_t)n == len);
	if (n > 0 && (size_t)n == len)
		CHECK_MEM(p, want, len);
	struct dlvrec d;
	CHECK(dlvrec_decode(&d, p, len) == 0);
	CHECK(d.ts == r.ts && d.ip_family == 4 && memcmp(d.ip, r.ip, 16) == 0);
	CHECK(d.tls_version == MSG_TLS_1_3 && d.tls_suite == 0x1301 && d.flags == r.flags);
	CHECK(d.helo.len == 10 && memcmp(d.helo.p, "mx.example", 10) == 0);
	CHECK(d.env_from.len == 11 && memcmp(d.env_from.p, "a@b.example", 11) == 0);
	CHECK(d.rcpt_count == 2 && d.rcpt[0].uid == 5 && d.rcpt[0].flags == 0x0C);
	CHECK(d.rcpt[1].uid == 0xFFFF && d.rcpt[1].flags == 0x1C && d.rcpt[1].local.len == 3);
	CHECK(d.message.len == 4 && memcmp(d.message.p, "Hi\r\n", 4) == 0);
	/* The message is the rest: an empty one is fine. */
	CHECK(dlvrec_decode(&d, p, w.len) == 0 && d.message.len == 0);
	free(p);
	wr_free(&w);
}

static void ipv6_and_plain(void)
{
	struct dlvrec r;
	example(&r);
	r.ip_family = MSG_IP_V6;
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	memcpy(r.ip, v6, 16);
	r.tls_version = 0;
	r.tls_suite = 0;
	r.flags = 0; /* HELO, no TLS */
	r.env_from = (struct msg_str){ NULL, 0 }; /* <> */
	r.helo = (struct msg_str){ NULL, 0 };
	struct wr w = WR_INIT;
	CHECK(dlvrec_encode_head(&w, &r) == 0);
	struct dlvrec d;
	CHECK(dlvrec_decode(&d, w.p, w.len) == 0);
	CHECK(d.ip_family == 6 && memcmp(d.ip, v6, 16) == 0 && d.env_from.len == 0 &&
	      d.helo.len == 0 && d.tls_version == 0);
	wr_free(&w);
}

/* Encodes the example after `mutate`; both sides must refuse it. */
static int refused(void (*mutate)(struct dlvrec *))
{
	struct dlvrec r;
	example(&r);
	mutate(&r);
	struct wr w = WR_INIT;
	int rc = dlvrec_encode_head(&w, &r);
	wr_free(&w);
	return rc;
}

static void m_flag(struct dlvrec *r) { r->flags |= MSG_EXT_F_MIME_REPAIRED; }
static void m_pipe_no_esmtp(struct dlvrec *r) { r->flags = MSG_EXT_F_PIPELINING | MSG_EXT_F_STARTTLS; }
static void m_fam(struct dlvrec *r) { r->ip_family = 5; }
static void m_fam0(struct dlvrec *r) { r->ip_family = MSG_IP_NONE; }
static void m_v4tail(struct dlvrec *r) { r->ip[15] = 1; }
static void m_mapped(struct dlvrec *r)
{
	r->ip_family = MSG_IP_V6;
	memset(r->ip, 0, 16);
	r->ip[10] = r->ip[11] = 0xff;
	r->ip[12] = 1;
}
static void m_tls5(struct dlvrec *r) { r->tls_version = 5; }
static void m_suite0(struct dlvrec *r) { r->tls_suite = 0; }
static void m_starttls(struct dlvrec *r) { r->flags &= (uint16_t)~MSG_EXT_F_STARTTLS; }
static void m_helo_ctl(struct dlvrec *r) { r->helo = MSG_STR("a\tb"); }
static void m_from_utf8(struct dlvrec *r) { r->env_from = MSG_STR("a\xc3@b"); }
static void m_count0(struct dlvrec *r) { r->rcpt_count = 0; }
static void m_count101(struct dlvrec *r) { r->rcpt_count = 101; }
static void m_uid4096(struct dlvrec *r) { r->rcpt[0].uid = 4096; }
static void m_uid65534(struct dlvrec *r) { r->rcpt[1].uid = 65534; }
static void m_rflags(struct dlvrec *r) { r->rcpt[0].flags = 0x0E; }
static void m_local0(struct dlvrec *r) { r->rcpt[1].local = (struct msg_str){ NULL, 0 }; }
static void m_local65(struct dlvrec *r)
{
	r->rcpt[0].local = MSG_STR("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

static void encoder_refuses(void)
{
	void (*const m[])(struct dlvrec *) = { m_flag,   m_pipe_no_esmtp, m_fam,     m_fam0,
		                                   m_v4tail, m_mapped,        m_tls5,    m_suite0,
		                                   m_starttls, m_helo_ctl,    m_from_utf8, m_count0,
		                                   m_count101, m_uid4096,     m_uid65534, m_rflags,
		                                   m_local0, m_local65 };
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		int rc = refused(m[i]);
		if (rc != -EINVAL)
			fprintf(stderr, "  mutation %zu encoded\n", i);
		CHECK(rc == -EINVAL);
	}
	/* The 64-byte local part is the longest allowed. */
	struct dlvrec r;
	example(&r);
	r.rcpt[0].local = MSG_STR("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	struct wr w = WR_INIT;
	CHECK(dlvrec_encode_head(&w, &r) == 0);
	wr_free(&w);
}

/* Byte-level mutations of the golden vector that the decoder must refuse. */
static void decoder_refuses(void)
{
	uint8_t g[256];
	int n = check_unhex(example_hex, g, sizeof(g));
	CHECK(n > 0);
	if (n <= 0)
		return;
	struct dlvrec d;
	CHECK(dlvrec_decode(&d, g, (size_t)n) == 0);
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 2 },     /* version */
		{ 1, 1 },     /* reserved */
		{ 3, 0x80 },  /* flag bit 0x8000 */
		{ 12, 0 },    /* family 0 */
		{ 12, 7 },    /* family 7 */
		{ 20, 1 },    /* IPv4 with bytes after the fourth */
		{ 29, 0 },    /* no TLS but a suite */
		{ 29, 9 },    /* TLS version out of range */
		{ 32, 0 },    /* no recipient */
		{ 32, 101 },  /* too many */
		{ 35, 7 },    /* a control character in the HELO name */
		{ 46, 0x80 }, /* a stray continuation byte in the sender */
		{ 58, 0x01 }, /* recipient flags outside 0x3C */
		{ 57, 0x10 }, /* uid 0x1005 */
		{ 59, 0 },    /* empty local part */
		{ 59, 65 },   /* local part longer than 64 */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t m[256];
		memcpy(m, g, (size_t)n);
		m[bad[i].off] = bad[i].val;
		int rc = dlvrec_decode(&d, m, (size_t)n);
		if (rc != -EBADMSG)
			fprintf(stderr, "  byte %zu = %u decoded\n", bad[i].off, bad[i].val);
		CHECK(rc == -EBADMSG);
	}
	/* Every truncation inside the header fails; past it, the message is shorter. */
	size_t head = (size_t)n - 4;
	for (size_t len = 0; len < head; len++)
		CHECK(dlvrec_decode(&d, g, len) == -EBADMSG);
	/* The message may not exceed DLVREC_MESSAGE_MAX. */
	size_t big = head + DLVREC_MESSAGE_MAX + 1;
	uint8_t *p = xcalloc(1, big);
	memcpy(p, g, head);
	CHECK(dlvrec_decode(&d, p, big) == -EBADMSG);
	CHECK(dlvrec_decode(&d, p, big - 1) == 0 && d.message.len == DLVREC_MESSAGE_MAX);
	free(p);
}

static void hundred_recipients(void)
{
	struct dlvrec r;
	example(&r);
	r.rcpt_count = DLVREC_RCPT_MAX;
	for (unsigned i = 0; i < DLVREC_RCPT_MAX; i++)
		r.rcpt[i] = (struct dlvrec_rcpt){ (uint16_t)i, 0x0C, MSG_STR("someone") };
	struct wr w = WR_INIT;
	CHECK(dlvrec_encode_head(&w, &r) == 0);
	struct dlvrec d;
	CHECK(dlvrec_decode(&d, w.p, w.len) == 0 && d.rcpt_count == 100 && d.rcpt[99].uid == 99);
	wr_free(&w);
}

int main(void)
{
	check_init();
	RUN(golden);
	RUN(ipv6_and_plain);
	RUN(encoder_refuses);
	RUN(decoder_refuses);
	RUN(hundred_recipients);
	return check_finish();
}
