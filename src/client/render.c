/* render.c: mail as terminal text (see render.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/render.h"
#include "client/upload.h"
#include "common/cet.h"
#include "common/utf8.h"

static void put(struct wr *out, const char *s) { wr_bytes(out, s, strlen(s)); }

static void putf(struct wr *out, const char *fmt, ...) PRINTF(2, 3);
static void putf(struct wr *out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	wr_bytes(out, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static bool is_bidi(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void render_text(struct wr *out, const uint8_t *p, size_t n, size_t max_cols)
{
	size_t cols = 0, i = 0;
	/* First pass: is a cut needed? (characters that will be written) */
	bool cut = false;
	if (max_cols) {
		size_t count = 0;
		for (size_t j = 0; j < n;) {
			uint32_t cp;
			size_t k = utf8_seq_len(p + j, n - j, &cp);
			if (k == 0)
				k = 1;
			else if (is_bidi(cp)) {
				j += k;
				continue;
			}
			j += k;
			count++;
		}
		cut = count > max_cols;
	}
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_seq_len(p + i, n - i, &cp);
		if (cut && cols + 1 >= max_cols) {
			put(out, "\xe2\x80\xa6"); /* U+2026 */
			return;
		}
		if (k == 0) {
			wr_u8(out, '?');
			i++;
			cols++;
			continue;
		}
		if (is_bidi(cp)) {
			i += k;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			wr_u8(out, '?');
		else if (cp == 0x2028 || cp == 0x2029)
			wr_u8(out, ' ');
		else
			wr_bytes(out, p + i, k);
		i += k;
		cols++;
	}
}

void render_addrs(struct wr *out, const uint8_t *p, size_t n, size_t max_cols)
{
	/* Build the plain form first, then make it safe in one pass (so the
	 * column limit applies to the whole). */
	struct wr tmp = WR_INIT;
	size_t i = 0;
	bool first = true;
	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t e = lf ? (size_t)(lf - p) : n;
		if (e > i) {
			if (!first)
				wr_bytes(&tmp, ", ", 2);
			first = false;
			const uint8_t *sep = memchr(p + i, 0x7F, e - i);
			if (sep) {
				size_t nl = (size_t)(sep - (p + i));
				wr_bytes(&tmp, p + i, nl);
				wr_bytes(&tmp, " <", 2);
				wr_bytes(&tmp, sep + 1, e - i - nl - 1);
				wr_u8(&tmp, '>');
			} else {
				wr_bytes(&tmp, p + i, e - i);
			}
		}
		i = e + 1;
	}
	render_text(out, tmp.p, tmp.len, max_cols);
	wr_free(&tmp);
}

/* The first mailbox of an ADDRS field: its display name if any, else the
 * address. */
static void first_addr(struct wr *out, const uint8_t *p, size_t n, size_t max_cols)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t e = lf ? (size_t)(lf - p) : n;
	const uint8_t *sep = memchr(p, 0x7F, e);
	if (sep && sep > p)
		render_text(out, p, (size_t)(sep - p), max_cols);
	else if (sep)
		render_text(out, sep + 1, e - (size_t)(sep - p) - 1, max_cols);
	else
		render_text(out, p, e, max_cols);
}

void render_addr32(char out[ADDR32_TEXT_MAX + 8], const uint8_t a[ADDR32_BYTES])
{
	static const uint8_t zero[ADDR32_BYTES];
	if (memcmp(a, zero, ADDR32_BYTES) == 0) {
		strcpy(out, "system");
		return;
	}
	if (addr32_decode(a, out) < 0)
		strcpy(out, "?");
}

void render_date(char out[RENDER_DATE_MAX], uint64_t ts_ms, bool full)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	if (ts_ms / 1000 > (uint64_t)INT64_MAX / 2 || !localtime_r(&t, &tm) ||
	    strftime(out, RENDER_DATE_MAX, full ? "%Y-%m-%d %H:%M:%S %z" : "%Y-%m-%d %H:%M", &tm) ==
	        0)
		snprintf(out, RENDER_DATE_MAX, "@%" PRIu64, ts_ms);
}

void render_size(char out[32], uint64_t b)
{
	if (b < 1024)
		snprintf(out, 32, "%" PRIu64 " B", b);
	else if (b < 1024 * 1024)
		snprintf(out, 32, "%.1f KiB", (double)b / 1024);
	else if (b < 1024ull * 1024 * 1024)
		snprintf(out, 32, "%.1f MiB", (double)b / (1024 * 1024));
	else
		snprintf(out, 32, "%.1f GiB", (double)b / (1024.0 * 1024 * 1024));
}

const char *render_tls_name(uint8_t v)
{
	static const char *const n[] = { "none", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

const char *render_spf_name(uint8_t v)
{
	static const char *const n[] = { "not checked", "none",      "neutral",   "pass",
		                             "fail",        "softfail", "temperror", "permerror" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

const char *render_dmarc_name(uint8_t v)
{
	static const char *const n[] = { "not checked", "none", "pass", "fail", "temperror",
		                             "permerror" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

const char *render_dkim_result_name(uint8_t v)
{
	static const char *const n[] = { "none",      "pass",      "fail",  "neutral",
		                             "temperror", "permerror", "policy" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

const char *render_out_status_name(uint8_t v)
{
	static const char *const n[] = { "delivered", "temporary failure", "permanent failure",
		                             "not attempted" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

const char *render_upl_kind_name(uint8_t v)
{
	static const char *const n[] = { "upload", "attachment", "original email" };
	return v < ARRAY_SIZE(n) ? n[v] : "?";
}

void render_ip(char out[64], uint8_t family, const uint8_t ip[16])
{
	out[0] = '\0';
	if (family == 4)
		inet_ntop(AF_INET, ip, out, 64);
	else if (family == 6)
		inet_ntop(AF_INET6, ip, out, 64);
}

void render_from(struct wr *out, const struct mail *m, size_t max_cols)
{
	char a[ADDR32_TEXT_MAX + 8];
	switch (m->type) {
	case MSG_EXT:
		if (m->m.ext.hdr_from.len)
			first_addr(out, m->m.ext.hdr_from.p, m->m.ext.hdr_from.len, max_cols);
		else if (m->m.ext.env_from.len)
			render_text(out, m->m.ext.env_from.p, m->m.ext.env_from.len, max_cols);
		else
			put(out, "(no sender)");
		break;
	case MSG_INT:
		render_addr32(a, m->m.in.from);
		put(out, m->m.in.kind == MSG_INT_SYSTEM ? "system" : a);
		break;
	case MSG_OUT:
		put(out, "to ");
		render_text(out, m->m.out.rcpt.p, m->m.out.rcpt.len, max_cols > 3 ? max_cols - 3 : 1);
		break;
	case MSG_UPL:
		put(out, "(");
		put(out, render_upl_kind_name(m->m.upl.kind));
		put(out, ")");
		break;
	default:
		put(out, "?");
	}
}

void render_subject(struct wr *out, const struct mail *m, size_t max_cols)
{
	const struct msg_str *s = NULL;
	struct wr tmp = WR_INIT;
	switch (m->type) {
	case MSG_EXT: s = &m->m.ext.subject; break;
	case MSG_INT: s = &m->m.in.subject; break;
	case MSG_OUT:
		put(&tmp, "[");
		put(&tmp, render_out_status_name(m->m.out.status));
		put(&tmp, "] ");
		wr_bytes(&tmp, m->m.out.subject.p, m->m.out.subject.len);
		render_text(out, tmp.p, tmp.len, max_cols);
		wr_free(&tmp);
		return;
	case MSG_UPL:
		if (m->m.upl.kind != MSG_UPL_USER)
			s = &m->m.upl.name;
		else if (m->upl_open)
			s = &m->upl_name;
		else {
			put(out, "(cannot decrypt: not uploaded with this key)");
			return;
		}
		break;
	default: return;
	}
	if (s->len)
		render_text(out, s->p, s->len, max_cols);
	else
		put(out, "(no subject)");
}

/* Pads to cols characters (counted as UTF-8 sequences). */
static void pad_to(struct wr *out, size_t start, size_t cols)
{
	size_t chars = 0;
	for (size_t i = start; i < out->len; i++)
		if ((out->p[i] & 0xC0) != 0x80)
			chars++;
	while (chars++ < cols)
		wr_u8(out, ' ');
}

void render_list_line(struct wr *out, const struct mail *m)
{
	char date[RENDER_DATE_MAX], size[32];
	render_date(date, m->ts, false);
	render_size(size, m->type == MSG_UPL && m->upl_open ? m->upl_content.len : m->len);
	putf(out, "%8" PRIu32 "  %s  ", m->id, date);
	size_t s = out->len;
	render_from(out, m, RENDER_FROM_COLS);
	pad_to(out, s, RENDER_FROM_COLS);
	put(out, "  ");
	s = out->len;
	render_subject(out, m, RENDER_SUBJECT_COLS);
	pad_to(out, s, RENDER_SUBJECT_COLS);
	putf(out, "  %9s\n", size);
}

/* ---- the whole message ---- */

static void label(struct wr *out, const char *name, const struct render_opts *o)
{
	if (o->ansi)
		put(out, "\x1b[0;1m");
	putf(out, "%-9s", name);
	if (o->ansi)
		put(out, "\x1b[0m");
	put(out, " ");
}

static void hdr_text(struct wr *out, const char *name, struct msg_str s,
                     const struct render_opts *o)
{
	if (!s.len)
		return;
	label(out, name, o);
	render_text(out, s.p, s.len, RENDER_HEADER_COLS);
	put(out, "\n");
}

static void hdr_addrs(struct wr *out, const char *name, struct msg_str s,
                      const struct render_opts *o)
{
	if (!s.len)
		return;
	label(out, name, o);
	render_addrs(out, s.p, s.len, RENDER_HEADER_COLS);
	put(out, "\n");
}

static void hdr_date(struct wr *out, const struct mail *m, const struct render_opts *o)
{
	char date[RENDER_DATE_MAX];
	render_date(date, m->ts, true);
	label(out, "Date:", o);
	put(out, date);
	if (m->type == MSG_EXT) {
		const struct msg_ext *e = &m->m.ext;
		put(out, " (received)");
		if (e->date_delta != MSG_DATE_DELTA_NONE &&
		    (e->date_delta > 300 || e->date_delta < -300))
			putf(out, "; the sender's Date is %" PRId32 " s %s", e->date_delta < 0 ? -e->date_delta : e->date_delta,
			     e->date_delta > 0 ? "earlier" : "later");
	}
	put(out, "\n");
}

static void ext_security(struct wr *out, const struct msg_ext *e, const struct render_opts *o)
{
	char ip[64];
	render_ip(ip, e->ip_family, e->ip);
	label(out, "Via:", o);
	render_text(out, e->helo.p, e->helo.len, 253);
	putf(out, " [%s]", ip);
	if (e->rdns.len) {
		put(out, " rDNS ");
		render_text(out, e->rdns.p, e->rdns.len, 253);
	}
	if (e->country[0])
		putf(out, " %c%c", e->country[0], e->country[1]);
	if (e->asn.len) {
		put(out, ", ");
		render_text(out, e->asn.p, e->asn.len, 100);
	}
	put(out, "\n");
	label(out, "Security:", o);
	if (e->tls_version)
		putf(out, "%s (0x%04x)", render_tls_name(e->tls_version), e->tls_suite);
	else
		put(out, "no TLS");
	putf(out, ", SPF %s, DMARC %s", render_spf_name(e->spf), render_dmarc_name(e->dmarc));
	if (!e->dkim_count)
		put(out, ", no DKIM");
	for (size_t i = 0; i < e->dkim_count; i++) {
		putf(out, ", DKIM %s ", render_dkim_result_name(e->dkim[i].result));
		render_text(out, e->dkim[i].domain.p, e->dkim[i].domain.len, 100);
	}
	put(out, "\n");
	static const struct {
		uint16_t bit;
		const char *text;
	} notes[] = { { MSG_EXT_F_BODY_TRUNC, "body truncated" },
		          { MSG_EXT_F_HEADERS_TRUNC, "headers truncated" },
		          { MSG_EXT_F_MIME_REPAIRED, "broken MIME repaired" },
		          { MSG_EXT_F_ATTACH_DROPPED, "attachments not stored" } };
	bool any = false;
	for (size_t i = 0; i < ARRAY_SIZE(notes); i++) {
		if (!(e->flags & notes[i].bit))
			continue;
		if (!any)
			label(out, "Notes:", o);
		putf(out, "%s%s", any ? ", " : "", notes[i].text);
		any = true;
	}
	if (any)
		put(out, "\n");
}

static void attachments(struct wr *out, const struct mail *const *att, size_t n,
                        const struct render_opts *o)
{
	size_t files = 0;
	for (size_t i = 0; i < n; i++)
		files += att[i]->type == MSG_UPL;
	if (!files)
		return;
	if (o->ansi)
		put(out, "\x1b[0;1mFiles:\x1b[0m\n");
	else
		put(out, "Files:\n");
	for (size_t i = 0; i < n; i++) {
		if (att[i]->type != MSG_UPL)
			continue; /* only files are listed, whatever the caller passed */
		const struct msg_upl *u = &att[i]->m.upl;
		char size[32];
		render_size(size, u->data.len);
		putf(out, "  #%" PRIu32 "  ", att[i]->id);
		render_text(out, u->name.p, u->name.len, 100);
		if (u->media_type.len) {
			put(out, "  ");
			render_text(out, u->media_type.p, u->media_type.len, 127);
		}
		putf(out, "  %s%s\n", size, u->kind == MSG_UPL_SOURCE ? "  (original email)" : "");
	}
}

int render_body(struct wr *out, const struct mail *m, const struct render_opts *o)
{
	const struct msg_str *b = NULL;
	if (m->type == MSG_EXT)
		b = &m->m.ext.body;
	else if (m->type == MSG_INT)
		b = &m->m.in.body;
	if (!b || !b->len)
		return 0;
	struct cet_render_opts co = { .ansi = o->ansi, .width = o->width, .max_bytes = 0 };
	int rc = cet_render_text(out, b->p, b->len, &co);
	if (rc == -EINVAL)
		return rc;
	if (rc != 0)
		put(out, "[the body is not valid CET and is not shown]\n");
	return 0;
}

int render_mail(struct wr *out, const struct mail *m, const struct mail *const *att,
                size_t n_att, const struct render_opts *o)
{
	if (o->width > CET_WIDTH_MAX)
		return -EINVAL;
	char a[ADDR32_TEXT_MAX + 8], size[32], ip[64];
	switch (m->type) {
	case MSG_EXT: {
		const struct msg_ext *e = &m->m.ext;
		if (e->hdr_from.len)
			hdr_addrs(out, "From:", e->hdr_from, o);
		else
			hdr_text(out, "From:", e->env_from, o);
		hdr_addrs(out, "To:", e->hdr_to, o);
		hdr_addrs(out, "Cc:", e->cc, o);
		hdr_addrs(out, "Reply-To:", e->reply_to, o);
		label(out, "Subject:", o);
		render_subject(out, m, RENDER_HEADER_COLS);
		put(out, "\n");
		hdr_date(out, m, o);
		label(out, "Envelope:", o);
		if (e->env_from.len)
			render_text(out, e->env_from.p, e->env_from.len, 255);
		else
			put(out, "<>");
		put(out, " -> ");
		render_text(out, e->env_to.p, e->env_to.len, 64);
		put(out, "\n");
		ext_security(out, e, o);
		attachments(out, att, n_att, o);
		break;
	}
	case MSG_INT: {
		const struct msg_int *in = &m->m.in;
		label(out, "From:", o);
		render_addr32(a, in->from);
		put(out, in->kind == MSG_INT_SYSTEM ? "system" : a);
		if (in->flags & MSG_INT_F_ADMIN)
			put(out, " (administrator)");
		put(out, "\n");
		label(out, "To:", o);
		if (in->flags & MSG_INT_F_BROADCAST) {
			put(out, "every user");
		} else {
			render_addr32(a, in->to);
			put(out, in->kind == MSG_INT_SYSTEM ? "you" : a);
		}
		put(out, "\n");
		label(out, "Subject:", o);
		render_subject(out, m, RENDER_HEADER_COLS);
		put(out, "\n");
		hdr_date(out, m, o);
		break;
	}
	case MSG_OUT: {
		const struct msg_out *r = &m->m.out;
		label(out, "Report:", o);
		putf(out, "%s\n", render_out_status_name(r->status));
		hdr_text(out, "From:", r->sender, o);
		hdr_text(out, "To:", r->rcpt, o);
		label(out, "Subject:", o);
		render_text(out, r->subject.p, r->subject.len, RENDER_HEADER_COLS);
		put(out, "\n");
		hdr_date(out, m, o);
		if (r->ip_family) {
			render_ip(ip, r->ip_family, r->ip);
			label(out, "Server:", o);
			render_text(out, r->mx.p, r->mx.len, 255);
			putf(out, " [%s] %s%s%s\n", ip, r->tls_version ? render_tls_name(r->tls_version) : "no TLS",
			     r->flags & MSG_OUT_F_CERT_VALID ? ", certificate valid" : "",
			     r->flags & MSG_OUT_F_CERT_NAME ? ", name matches" : "");
		}
		hdr_text(out, "Greeting:", r->greeting, o);
		hdr_text(out, "Reply:", r->reply, o);
		render_size(size, r->body.len);
		label(out, "Sent:", o);
		putf(out, "%s (save it with: allears download %" PRIu32 ")\n", size, m->id);
		return 0;
	}
	case MSG_UPL: {
		const struct msg_upl *u = &m->m.upl;
		label(out, "File:", o);
		render_subject(out, m, RENDER_HEADER_COLS);
		put(out, "\n");
		label(out, "Kind:", o);
		put(out, render_upl_kind_name(u->kind));
		if (u->kind == MSG_UPL_USER)
			put(out, m->upl_open ? " (encrypted by you)" : " (does not open with your key)");
		else
			putf(out, " of mail ref %016" PRIx64, u->parent);
		put(out, "\n");
		if (u->media_type.len)
			hdr_text(out, "Type:", u->media_type, o);
		render_size(size, m->upl_open ? m->upl_content.len : u->data.len);
		label(out, "Size:", o);
		putf(out, "%s\n", size);
		hdr_date(out, m, o);
		label(out, "Save:", o);
		putf(out, "allears download %" PRIu32 "\n", m->id);
		return 0;
	}
	default:
		return -EINVAL;
	}
	put(out, "\n");
	return render_body(out, m, o);
}
