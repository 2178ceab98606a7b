/* json.c: the client's --json output. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/json.h"
#include "common/message.h"

json_t *json_safe_string(const uint8_t *p, size_t n)
{
	struct wr w = WR_INIT;
	render_text(&w, p, n, 0);
	json_t *s = json_stringn(w.len ? (const char *)w.p : "", w.len);
	wr_free(&w);
	return s ? s : json_string("");
}

static json_t *json_wr(struct wr *w)
{
	json_t *s = json_stringn(w->len ? (const char *)w->p : "", w->len);
	wr_free(w);
	return s ? s : json_string("");
}

static json_t *str(struct msg_str s) { return json_safe_string(s.p, s.len); }

json_t *json_mail_summary(const struct mail *m)
{
	struct wr from = WR_INIT, subj = WR_INIT;
	char date[RENDER_DATE_MAX];
	render_from(&from, m, 0);
	render_subject(&subj, m, 0);
	render_date(date, m->ts, true);
	uint64_t size = m->type == MSG_UPL && m->upl_open ? m->upl_content.len : m->len;
	return json_pack("{s:I, s:s, s:I, s:s, s:o, s:o, s:I, s:I}", "id", (json_int_t)m->id, "type",
	                 mail_type_name(m->type), "ts", (json_int_t)m->ts, "date", date, "from",
	                 json_wr(&from), "subject", json_wr(&subj), "size", (json_int_t)size,
	                 "envelope_size", (json_int_t)m->env_len);
}

static json_t *ext_details(const struct msg_ext *e)
{
	char ip[64];
	render_ip(ip, e->ip_family, e->ip);
	json_t *dkim = json_array();
	for (size_t i = 0; i < e->dkim_count; i++)
		json_array_append_new(dkim, json_pack("{s:s, s:o, s:o, s:i}", "result",
		                                      render_dkim_result_name(e->dkim[i].result),
		                                      "domain", str(e->dkim[i].domain), "selector",
		                                      str(e->dkim[i].selector), "key_bits",
		                                      (int)e->dkim[i].key_bits));
	struct wr from = WR_INIT, to = WR_INIT, cc = WR_INIT, rt = WR_INIT;
	render_addrs(&from, e->hdr_from.p, e->hdr_from.len, 0);
	render_addrs(&to, e->hdr_to.p, e->hdr_to.len, 0);
	render_addrs(&cc, e->cc.p, e->cc.len, 0);
	render_addrs(&rt, e->reply_to.p, e->reply_to.len, 0);
	char country[3] = { (char)e->country[0], (char)e->country[1], 0 };
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:i, "
	                 "s:s, s:s, s:o, s:i, s:o}",
	                 "header_from", json_wr(&from), "header_to", json_wr(&to), "cc", json_wr(&cc),
	                 "reply_to", json_wr(&rt), "envelope_from", str(e->env_from), "envelope_to",
	                 str(e->env_to), "helo", str(e->helo), "rdns", str(e->rdns), "asn",
	                 str(e->asn), "message_id", str(e->msg_id), "ip", ip, "country", country,
	                 "tls", render_tls_name(e->tls_version), "tls_suite", (int)e->tls_suite,
	                 "spf", render_spf_name(e->spf), "dmarc", render_dmarc_name(e->dmarc), "dkim",
	                 dkim, "flags", (int)e->flags, "headers", str(e->headers));
}

json_t *json_mail_full(const struct mail *m, const struct mail *const *att, size_t n_att)
{
	json_t *j = json_mail_summary(m);
	char a[ADDR32_TEXT_MAX + 8];
	switch (m->type) {
	case MSG_EXT:
		json_object_update_new(j, ext_details(&m->m.ext));
		break;
	case MSG_INT:
		render_addr32(a, m->m.in.from);
		json_object_set_new(j, "from_address", json_string(m->m.in.kind ? a : "system"));
		render_addr32(a, m->m.in.to);
		json_object_set_new(j, "to_address", json_string(m->m.in.kind ? a : ""));
		json_object_set_new(j, "admin", json_boolean(m->m.in.flags & MSG_INT_F_ADMIN));
		json_object_set_new(j, "broadcast", json_boolean(m->m.in.flags & MSG_INT_F_BROADCAST));
		break;
	case MSG_OUT: {
		char ip[64];
		render_ip(ip, m->m.out.ip_family, m->m.out.ip);
		json_object_update_new(
			j, json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:I}", "status",
		                 render_out_status_name(m->m.out.status), "sender", str(m->m.out.sender),
		                 "rcpt", str(m->m.out.rcpt), "mx", str(m->m.out.mx), "ip", ip, "tls",
		                 render_tls_name(m->m.out.tls_version), "greeting",
		                 str(m->m.out.greeting), "reply", str(m->m.out.reply), "sent_bytes",
		                 (json_int_t)m->m.out.body.len));
		break;
	}
	case MSG_UPL:
		json_object_update_new(j, json_pack("{s:s, s:o, s:b, s:s}", "kind",
		                                    render_upl_kind_name(m->m.upl.kind), "media_type",
		                                    str(m->m.upl.media_type), "decrypted", m->upl_open,
		                                    "parent", ""));
		if (m->m.upl.kind != MSG_UPL_USER) {
			char ref[17];
			snprintf(ref, sizeof(ref), "%016" PRIx64, m->m.upl.parent);
			json_object_set_new(j, "parent", json_string(ref));
		}
		break;
	}
	if (m->type == MSG_EXT) {
		char ref[17];
		snprintf(ref, sizeof(ref), "%016" PRIx64, m->m.ext.ref);
		json_object_set_new(j, "ref", json_string(ref));
	}
	if (m->type == MSG_EXT || m->type == MSG_INT) {
		struct wr body = WR_INIT;
		struct render_opts o = { .ansi = false, .width = 0 };
		if (render_body(&body, m, &o) != 0)
			wr_free(&body);
		json_object_set_new(j, "body", json_wr(&body));
	}
	json_t *files = json_array();
	for (size_t i = 0; i < n_att; i++)
		json_array_append_new(files, json_mail_summary(att[i]));
	json_object_set_new(j, "attachments", files);
	return j;
}

int json_emit(json_t *j)
{
	if (!j)
		return -EINVAL;
	int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return -EIO;
	return 0;
}
