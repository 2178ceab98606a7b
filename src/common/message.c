/* message.c: encoders and decoders for the four Message formats (see
 * docs/PROTOCOL.md section 5). Each type has one check function that both the
 * encoder and the decoder call, so what one accepts the other accepts too. */
#include "common/message.h"

#include <errno.h>
#include <string.h>

#include "common/addr32.h"
#include "common/utf8.h"

/* ---- Text ---- */

bool msg_text_valid(const uint8_t *p, size_t n, enum msg_text cls)
{
	if (cls == MSG_TEXT_UTF8)
		return utf8_valid(p, n);
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F) {
				bool ok = (c == 0x0A && cls != MSG_TEXT_LINE) ||
				          (c == 0x7F && cls == MSG_TEXT_ADDRS);
				if (!ok)
					return false;
			}
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0 || cp < 0xA0) /* invalid, or a C1 control */
			return false;
		i += k;
	}
	return true;
}

void msg_text_sanitize(uint8_t *p, size_t n, enum msg_text cls)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			if (cls != MSG_TEXT_UTF8 && !msg_text_valid(p + i, 1, cls))
				p[i] = '?';
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (k == 0) {
			p[i++] = '?';
		} else if (cp < 0xA0 && cls != MSG_TEXT_UTF8) {
			memset(p + i, '?', k);
			i += k;
		} else {
			i += k;
		}
	}
}

size_t msg_text_cut(const uint8_t *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && (p[k] & 0xC0) == 0x80)
		k--;
	return k;
}

/* ---- Field helpers ---- */

static bool str_ok(struct msg_str s, size_t min, size_t max, int cls)
{
	if (s.len < min || s.len > max || (s.len && !s.p))
		return false;
	return cls < 0 || msg_text_valid(s.p, s.len, (enum msg_text)cls);
}
#define BINARY (-1)

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* One representation per peer: v4 in the first 4 bytes with a zero tail, and
 * no v4-mapped v6 (::ffff:a.b.c.d must be stored as family 4). */
static bool ip_ok(uint8_t family, const uint8_t ip[MSG_IP_BYTES], bool none_allowed)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
	switch (family) {
	case MSG_IP_NONE:
		return none_allowed && all_zero(ip, MSG_IP_BYTES);
	case MSG_IP_V4:
		return all_zero(ip + 4, MSG_IP_BYTES - 4);
	case MSG_IP_V6:
		return memcmp(ip, mapped, sizeof(mapped)) != 0;
	default:
		return false;
	}
}

static bool tls_ok(uint8_t version, uint16_t suite)
{
	return version <= MSG_TLS_MAX && (version == MSG_TLS_NONE) == (suite == 0);
}

/* Addr32 values must classify as NORMAL or SHIELD (docs/PROTOCOL.md 2.4):
 * not empty, no stray bits, not "system" or the forbidden shield value. */
static bool addr32_ok(const uint8_t a[MSG_ADDR32_BYTES])
{
	return addr32_classify(a) != ADDR32_INVALID;
}

static size_t str_size(unsigned width, struct msg_str s) { return width + s.len; }

static struct msg_str rd_str(struct rd *r, unsigned width)
{
	size_t n = width == 1 ? rd_u8(r) : width == 2 ? rd_u16(r) : rd_u32(r);
	const uint8_t *p = rd_take(r, n);
	return (struct msg_str){ p, p ? n : 0 };
}

static void wr_str(struct wr *w, unsigned width, struct msg_str s)
{
	if (width == 1)
		wr_u8(w, (uint8_t)s.len);
	else if (width == 2)
		wr_u16(w, (uint16_t)s.len);
	else
		wr_u32(w, (uint32_t)s.len);
	wr_bytes(w, s.p, s.len);
}

static void wr_header(struct wr *w, enum msg_type type, uint64_t ts)
{
	wr_u8(w, MSG_VERSION);
	wr_u8(w, (uint8_t)type);
	wr_u16(w, 0);
	wr_u64(w, ts);
}

/* The field limits alone keep ExtMsg, IntMsg and OutMsg within
 * MESSAGE_MAX_BYTES, so only UplMsg (whose data may use it all) checks the
 * total when encoding. */
#define EXT_MAX_SIZE                                                                   \
	((size_t)MSG_EXT_FIXED_BYTES +                                                     \
	 MSG_DKIM_MAX * ((size_t)MSG_DKIM_FIXED_BYTES + 2 + MSG_DKIM_DOMAIN_MAX +          \
	                 MSG_DKIM_SELECTOR_MAX) +                                          \
	 5 + MSG_ENV_FROM_MAX + MSG_ENV_TO_MAX + MSG_HELO_MAX + MSG_RDNS_MAX + MSG_ASN_MAX + \
	 4 * (2 + (size_t)MSG_ADDR_LIST_MAX) + 2 * (2 + (size_t)MSG_MSGID_MAX) + 2 +         \
	 MSG_SUBJECT_MAX + 4 + (size_t)MSG_HEADERS_MAX + 4 + (size_t)MSG_BODY_MAX)
#define INT_MAX_SIZE ((size_t)MSG_INT_FIXED_BYTES + 1 + MSG_INT_SUBJECT_MAX + 4 + (size_t)MSG_BODY_MAX)
#define OUT_MAX_SIZE                                                                   \
	((size_t)MSG_OUT_FIXED_BYTES + 3 + MSG_LOCAL_MAX + MSG_RCPT_MAX + MSG_MX_MAX +     \
	 2 * (2 + (size_t)MSG_SMTP_LINE_MAX) + 2 + MSG_SUBJECT_MAX + 4 + (size_t)MSG_BODY_MAX)
_Static_assert(EXT_MAX_SIZE <= MESSAGE_MAX_BYTES, "ExtMsg limits exceed the message limit");
_Static_assert(INT_MAX_SIZE <= MESSAGE_MAX_BYTES, "IntMsg limits exceed the message limit");
_Static_assert(OUT_MAX_SIZE <= MESSAGE_MAX_BYTES, "OutMsg limits exceed the message limit");

/* ---- Header ---- */

int msg_header_decode(struct msg_header *ret, const uint8_t *p, size_t len)
{
	if (len > MESSAGE_MAX_BYTES)
		return -EMSGSIZE;
	struct rd r = rd_init(p, len);
	struct msg_header h;
	h.version = rd_u8(&r);
	h.type = rd_u8(&r);
	uint16_t reserved = rd_u16(&r);
	h.ts = rd_u64(&r);
	if (r.bad || h.version != MSG_VERSION || h.type > MSG_TYPE_MAX || reserved != 0)
		return -EBADMSG;
	*ret = h;
	return h.type;
}

/* Reads the header of a message of the expected type into *ret_ts. */
static int header_expect(struct rd *r, enum msg_type type, uint64_t *ret_ts)
{
	struct msg_header h;
	int t = msg_header_decode(&h, r->p, r->len);
	if (t < 0)
		return t;
	if (t != (int)type)
		return -EBADMSG;
	(void)rd_take(r, MSG_HEADER_BYTES);
	*ret_ts = h.ts;
	return 0;
}

/* ---- ExtMsg ---- */

static bool dkim_ok(const struct msg_dkim *d)
{
	if (d->algo > MSG_DKIM_ALGO_MAX || d->result > MSG_DKIM_RESULT_MAX ||
	    d->head_canon > MSG_DKIM_CANON_MAX || d->body_canon > MSG_DKIM_CANON_MAX ||
	    (d->flags & ~MSG_DKIM_F_ALL))
		return false;
	if ((!(d->flags & MSG_DKIM_F_T) && (d->t || (d->flags & MSG_DKIM_F_FUTURE))) ||
	    (!(d->flags & MSG_DKIM_F_X) && (d->x || (d->flags & MSG_DKIM_F_EXPIRED))))
		return false;
	return str_ok(d->domain, 0, MSG_DKIM_DOMAIN_MAX, MSG_TEXT_LINE) &&
	       str_ok(d->selector, 0, MSG_DKIM_SELECTOR_MAX, MSG_TEXT_LINE);
}

static bool country_ok(const uint8_t c[2])
{
	if (c[0] == 0 && c[1] == 0)
		return true;
	return c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z';
}

static bool ext_ok(const struct msg_ext *m)
{
	if (m->ref == 0 || !ip_ok(m->ip_family, m->ip, false) ||
	    !tls_ok(m->tls_version, m->tls_suite) || (m->flags & ~MSG_EXT_F_ALL) ||
	    m->spf > MSG_SPF_MAX || m->dmarc > MSG_DMARC_MAX || !country_ok(m->country) ||
	    m->attach_count > MSG_ATTACH_MAX || m->dkim_count > MSG_DKIM_MAX)
		return false;
	if (m->tz_minutes != MSG_TZ_NONE &&
	    (m->tz_minutes < -MSG_TZ_MAX_MINUTES || m->tz_minutes > MSG_TZ_MAX_MINUTES))
		return false;
	for (unsigned i = 0; i < m->dkim_count; i++) {
		if (!dkim_ok(&m->dkim[i]))
			return false;
	}
	return str_ok(m->env_from, 0, MSG_ENV_FROM_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->env_to, 1, MSG_ENV_TO_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->helo, 0, MSG_HELO_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->rdns, 0, MSG_RDNS_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->asn, 0, MSG_ASN_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->hdr_from, 0, MSG_ADDR_LIST_MAX, MSG_TEXT_ADDRS) &&
	       str_ok(m->hdr_to, 0, MSG_ADDR_LIST_MAX, MSG_TEXT_ADDRS) &&
	       str_ok(m->cc, 0, MSG_ADDR_LIST_MAX, MSG_TEXT_ADDRS) &&
	       str_ok(m->reply_to, 0, MSG_ADDR_LIST_MAX, MSG_TEXT_ADDRS) &&
	       str_ok(m->msg_id, 0, MSG_MSGID_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->in_reply_to, 0, MSG_MSGID_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->subject, 0, MSG_SUBJECT_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->headers, 0, MSG_HEADERS_MAX, MSG_TEXT_LINES) &&
	       str_ok(m->body, 0, MSG_BODY_MAX, MSG_TEXT_UTF8);
}

int msg_ext_encode(struct wr *w, const struct msg_ext *m)
{
	if (!ext_ok(m))
		return -EINVAL;
	wr_header(w, MSG_EXT, m->ts);
	wr_u64(w, m->ref);
	wr_u8(w, m->ip_family);
	wr_u8(w, m->tls_version);
	wr_u16(w, m->tls_suite);
	wr_bytes(w, m->ip, MSG_IP_BYTES);
	wr_u16(w, m->flags);
	wr_u8(w, m->spf);
	wr_u8(w, m->dmarc);
	wr_u16(w, (uint16_t)m->tz_minutes);
	wr_u8(w, m->dkim_count);
	wr_u8(w, m->attach_count);
	wr_u32(w, (uint32_t)m->date_delta);
	wr_bytes(w, m->country, 2);
	for (unsigned i = 0; i < m->dkim_count; i++) {
		const struct msg_dkim *d = &m->dkim[i];
		wr_u8(w, d->algo);
		wr_u8(w, d->result);
		wr_u8(w, d->head_canon);
		wr_u8(w, d->body_canon);
		wr_u16(w, d->key_bits);
		wr_u16(w, d->flags);
		wr_u64(w, d->t);
		wr_u64(w, d->x);
		wr_str(w, 1, d->domain);
		wr_str(w, 1, d->selector);
	}
	wr_str(w, 1, m->env_from);
	wr_str(w, 1, m->env_to);
	wr_str(w, 1, m->helo);
	wr_str(w, 1, m->rdns);
	wr_str(w, 1, m->asn);
	wr_str(w, 2, m->hdr_from);
	wr_str(w, 2, m->hdr_to);
	wr_str(w, 2, m->cc);
	wr_str(w, 2, m->reply_to);
	wr_str(w, 2, m->msg_id);
	wr_str(w, 2, m->in_reply_to);
	wr_str(w, 2, m->subject);
	wr_str(w, 4, m->headers);
	wr_str(w, 4, m->body);
	return 0;
}

int msg_ext_decode(struct msg_ext *ret, const uint8_t *p, size_t len)
{
	struct rd r = rd_init(p, len);
	struct msg_ext m;
	memset(&m, 0, sizeof(m));
	int e = header_expect(&r, MSG_EXT, &m.ts);
	if (e < 0)
		return e;
	m.ref = rd_u64(&r);
	m.ip_family = rd_u8(&r);
	m.tls_version = rd_u8(&r);
	m.tls_suite = rd_u16(&r);
	rd_copy(&r, m.ip, MSG_IP_BYTES);
	m.flags = rd_u16(&r);
	m.spf = rd_u8(&r);
	m.dmarc = rd_u8(&r);
	m.tz_minutes = (int16_t)rd_u16(&r);
	m.dkim_count = rd_u8(&r);
	m.attach_count = rd_u8(&r);
	m.date_delta = (int32_t)rd_u32(&r);
	rd_copy(&r, m.country, 2);
	if (m.dkim_count > MSG_DKIM_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < m.dkim_count; i++) {
		struct msg_dkim *d = &m.dkim[i];
		d->algo = rd_u8(&r);
		d->result = rd_u8(&r);
		d->head_canon = rd_u8(&r);
		d->body_canon = rd_u8(&r);
		d->key_bits = rd_u16(&r);
		d->flags = rd_u16(&r);
		d->t = rd_u64(&r);
		d->x = rd_u64(&r);
		d->domain = rd_str(&r, 1);
		d->selector = rd_str(&r, 1);
	}
	m.env_from = rd_str(&r, 1);
	m.env_to = rd_str(&r, 1);
	m.helo = rd_str(&r, 1);
	m.rdns = rd_str(&r, 1);
	m.asn = rd_str(&r, 1);
	m.hdr_from = rd_str(&r, 2);
	m.hdr_to = rd_str(&r, 2);
	m.cc = rd_str(&r, 2);
	m.reply_to = rd_str(&r, 2);
	m.msg_id = rd_str(&r, 2);
	m.in_reply_to = rd_str(&r, 2);
	m.subject = rd_str(&r, 2);
	m.headers = rd_str(&r, 4);
	m.body = rd_str(&r, 4);
	if (!rd_done(&r) || !ext_ok(&m))
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- IntMsg ---- */

static bool int_ok(const struct msg_int *m)
{
	if (m->kind > MSG_INT_KIND_MAX || (m->flags & ~MSG_INT_F_ALL))
		return false;
	if (m->kind == MSG_INT_SYSTEM) {
		if (m->flags || !all_zero(m->from, MSG_ADDR32_BYTES) ||
		    !all_zero(m->to, MSG_ADDR32_BYTES))
			return false;
	} else if (m->flags & MSG_INT_F_BROADCAST) {
		if (!(m->flags & MSG_INT_F_ADMIN) || !addr32_ok(m->from) ||
		    !all_zero(m->to, MSG_ADDR32_BYTES))
			return false;
	} else if (!addr32_ok(m->from) || !addr32_ok(m->to)) {
		return false;
	}
	return str_ok(m->subject, 0, MSG_INT_SUBJECT_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->body, 0, MSG_BODY_MAX, MSG_TEXT_UTF8);
}

int msg_int_encode(struct wr *w, const struct msg_int *m)
{
	if (!int_ok(m))
		return -EINVAL;
	wr_header(w, MSG_INT, m->ts);
	wr_u8(w, m->kind);
	wr_u8(w, m->flags);
	wr_bytes(w, m->from, MSG_ADDR32_BYTES);
	wr_bytes(w, m->to, MSG_ADDR32_BYTES);
	wr_str(w, 1, m->subject);
	wr_str(w, 4, m->body);
	return 0;
}

int msg_int_decode(struct msg_int *ret, const uint8_t *p, size_t len)
{
	struct rd r = rd_init(p, len);
	struct msg_int m;
	memset(&m, 0, sizeof(m));
	int e = header_expect(&r, MSG_INT, &m.ts);
	if (e < 0)
		return e;
	m.kind = rd_u8(&r);
	m.flags = rd_u8(&r);
	rd_copy(&r, m.from, MSG_ADDR32_BYTES);
	rd_copy(&r, m.to, MSG_ADDR32_BYTES);
	m.subject = rd_str(&r, 1);
	m.body = rd_str(&r, 4);
	if (!rd_done(&r) || !int_ok(&m))
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- OutMsg ---- */

static bool out_ok(const struct msg_out *m)
{
	if (m->status > MSG_OUT_STATUS_MAX || !ip_ok(m->ip_family, m->ip, true) ||
	    !tls_ok(m->tls_version, m->tls_suite) || (m->flags & ~MSG_OUT_F_ALL))
		return false;
	if ((m->flags & (MSG_OUT_F_CERT_VALID | MSG_OUT_F_CERT_NAME)) &&
	    m->tls_version == MSG_TLS_NONE)
		return false;
	/* No connection: nothing can have been negotiated or greeted. */
	if (m->ip_family == MSG_IP_NONE &&
	    (m->tls_version != MSG_TLS_NONE || m->flags || m->greeting.len))
		return false;
	if ((m->status == MSG_OUT_DELIVERED && m->ip_family == MSG_IP_NONE) ||
	    (m->status == MSG_OUT_NOT_ATTEMPTED && m->ip_family != MSG_IP_NONE))
		return false;
	return str_ok(m->sender, 1, MSG_LOCAL_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->rcpt, 1, MSG_RCPT_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->mx, 0, MSG_MX_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->greeting, 0, MSG_SMTP_LINE_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->reply, 0, MSG_SMTP_LINE_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->subject, 0, MSG_SUBJECT_MAX, MSG_TEXT_LINE) &&
	       str_ok(m->body, 0, MSG_BODY_MAX, BINARY);
}

int msg_out_encode(struct wr *w, const struct msg_out *m)
{
	if (!out_ok(m))
		return -EINVAL;
	wr_header(w, MSG_OUT, m->ts);
	wr_u8(w, m->status);
	wr_u8(w, m->ip_family);
	wr_u8(w, m->tls_version);
	wr_u8(w, m->flags);
	wr_u16(w, m->tls_suite);
	wr_bytes(w, m->ip, MSG_IP_BYTES);
	wr_str(w, 1, m->sender);
	wr_str(w, 1, m->rcpt);
	wr_str(w, 1, m->mx);
	wr_str(w, 2, m->greeting);
	wr_str(w, 2, m->reply);
	wr_str(w, 2, m->subject);
	wr_str(w, 4, m->body);
	return 0;
}

int msg_out_decode(struct msg_out *ret, const uint8_t *p, size_t len)
{
	struct rd r = rd_init(p, len);
	struct msg_out m;
	memset(&m, 0, sizeof(m));
	int e = header_expect(&r, MSG_OUT, &m.ts);
	if (e < 0)
		return e;
	m.status = rd_u8(&r);
	m.ip_family = rd_u8(&r);
	m.tls_version = rd_u8(&r);
	m.flags = rd_u8(&r);
	m.tls_suite = rd_u16(&r);
	rd_copy(&r, m.ip, MSG_IP_BYTES);
	m.sender = rd_str(&r, 1);
	m.rcpt = rd_str(&r, 1);
	m.mx = rd_str(&r, 1);
	m.greeting = rd_str(&r, 2);
	m.reply = rd_str(&r, 2);
	m.subject = rd_str(&r, 2);
	m.body = rd_str(&r, 4);
	if (!rd_done(&r) || !out_ok(&m))
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- UplMsg ---- */

/* "type/subtype": printable ASCII without space, exactly one '/', not at
 * either end. Parameters (charset=...) are not kept. */
static bool media_type_ok(struct msg_str s)
{
	if (s.len < 3 || s.len > MSG_MEDIA_TYPE_MAX || !s.p)
		return false;
	size_t slashes = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < 0x21 || s.p[i] > 0x7E)
			return false;
		slashes += s.p[i] == '/';
	}
	return slashes == 1 && s.p[0] != '/' && s.p[s.len - 1] != '/';
}

static bool filename_ok(struct msg_str s)
{
	if (!str_ok(s, 1, MSG_FILENAME_MAX, MSG_TEXT_LINE))
		return false;
	if (memchr(s.p, '/', s.len))
		return false;
	return !(s.len == 1 && s.p[0] == '.') && !(s.len == 2 && s.p[0] == '.' && s.p[1] == '.');
}

static bool upl_ok(const struct msg_upl *m)
{
	if (m->kind > MSG_UPL_KIND_MAX || (m->kind == MSG_UPL_USER) != (m->parent == 0))
		return false;
	if (m->kind == MSG_UPL_ATTACHMENT ? !media_type_ok(m->media_type) : m->media_type.len != 0)
		return false;
	return filename_ok(m->name) && str_ok(m->data, 0, MSG_DATA_MAX, BINARY);
}

int msg_upl_encode(struct wr *w, const struct msg_upl *m)
{
	if (!upl_ok(m))
		return -EINVAL;
	size_t size = MSG_UPL_FIXED_BYTES + str_size(1, m->media_type) + str_size(1, m->name) +
	              str_size(4, m->data);
	if (size > MESSAGE_MAX_BYTES)
		return -EMSGSIZE;
	wr_header(w, MSG_UPL, m->ts);
	wr_u64(w, m->parent);
	wr_u8(w, m->kind);
	wr_str(w, 1, m->media_type);
	wr_str(w, 1, m->name);
	wr_str(w, 4, m->data);
	return 0;
}

int msg_upl_decode(struct msg_upl *ret, const uint8_t *p, size_t len)
{
	struct rd r = rd_init(p, len);
	struct msg_upl m;
	memset(&m, 0, sizeof(m));
	int e = header_expect(&r, MSG_UPL, &m.ts);
	if (e < 0)
		return e;
	m.parent = rd_u64(&r);
	m.kind = rd_u8(&r);
	m.media_type = rd_str(&r, 1);
	m.name = rd_str(&r, 1);
	m.data = rd_str(&r, 4);
	if (!rd_done(&r) || !upl_ok(&m))
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- Any type ---- */

int msg_check(const uint8_t *p, size_t len)
{
	struct msg_header h;
	int t = msg_header_decode(&h, p, len);
	if (t < 0)
		return t;
	int e;
	switch (t) {
	case MSG_EXT: {
		struct msg_ext m;
		e = msg_ext_decode(&m, p, len);
		break;
	}
	case MSG_INT: {
		struct msg_int m;
		e = msg_int_decode(&m, p, len);
		break;
	}
	case MSG_OUT: {
		struct msg_out m;
		e = msg_out_decode(&m, p, len);
		break;
	}
	default: {
		struct msg_upl m;
		e = msg_upl_decode(&m, p, len);
		break;
	}
	}
	return e < 0 ? e : t;
}
