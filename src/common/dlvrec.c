/* dlvrec.c: the delivery record of DLV_DELIVER (see dlvrec.h): its header
 * codec and the strict decoder Deliver runs on the mapped memfd. Layout and
 * rules: docs/PROTOCOL.md section 16. */
#include "common/dlvrec.h"

#include <errno.h>
#include <string.h>

/* The header's flags (offset 2) and ts (offset 4) sit at fixed offsets so
 * the MTA can patch them once the message has arrived (section 16.1). */
#define DLVREC_RCPT_FLAGS 0x3Cu /* ORIGIN, REQUIRE_TLS, ATTACH, ALLVER */
#define DLVREC_UID_MAX 4095u
#define DLVREC_UID_NONE 0xFFFFu
/* Flags that only an ESMTP session can carry. */
#define DLVREC_FLAGS_NEED_ESMTP (MSG_EXT_F_PIPELINING | MSG_EXT_F_8BITMIME | MSG_EXT_F_SMTPUTF8)

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static bool str_ok(const struct msg_str *s, size_t min, size_t max)
{
	if (s->len < min || s->len > max || (s->len && !s->p))
		return false;
	return msg_text_valid(s->p, s->len, MSG_TEXT_LINE);
}

/* Every rule of section 16.1 except the message's own length. */
static bool head_valid(const struct dlvrec *r)
{
	if (r->flags & ~DLVREC_FLAGS_ALLOWED)
		return false;
	if ((r->flags & DLVREC_FLAGS_NEED_ESMTP) && !(r->flags & MSG_EXT_F_ESMTP))
		return false;
	if (r->ip_family == MSG_IP_V4) {
		if (!zero(r->ip + 4, MSG_IP_BYTES - 4))
			return false;
	} else if (r->ip_family == MSG_IP_V6) {
		if (memcmp(r->ip, v4mapped, sizeof(v4mapped)) == 0)
			return false; /* the MTA turns these into IPv4 */
	} else {
		return false;
	}
	if (r->tls_version > MSG_TLS_MAX || (r->tls_version == MSG_TLS_NONE) != (r->tls_suite == 0))
		return false;
	if (((r->flags & MSG_EXT_F_STARTTLS) != 0) != (r->tls_version != MSG_TLS_NONE))
		return false;
	if (!str_ok(&r->helo, 0, MSG_HELO_MAX) || !str_ok(&r->env_from, 0, MSG_ENV_FROM_MAX))
		return false;
	if (r->rcpt_count < 1 || r->rcpt_count > DLVREC_RCPT_MAX)
		return false;
	for (unsigned i = 0; i < r->rcpt_count; i++) {
		const struct dlvrec_rcpt *t = &r->rcpt[i];
		if (t->uid > DLVREC_UID_MAX && t->uid != DLVREC_UID_NONE)
			return false;
		if (t->flags & ~DLVREC_RCPT_FLAGS)
			return false;
		if (!str_ok(&t->local, 1, DLVREC_LOCAL_MAX))
			return false;
	}
	return true;
}

int dlvrec_encode_head(struct wr *w, const struct dlvrec *r)
{
	if (!head_valid(r))
		return -EINVAL;
	wr_u8(w, DLVREC_VERSION);
	wr_u8(w, 0);
	wr_u16(w, r->flags);
	wr_u64(w, r->ts);
	wr_u8(w, r->ip_family);
	wr_bytes(w, r->ip, MSG_IP_BYTES);
	wr_u8(w, r->tls_version);
	wr_u16(w, r->tls_suite);
	wr_u8(w, r->rcpt_count);
	wr_u8(w, (uint8_t)r->helo.len);
	wr_bytes(w, r->helo.p, r->helo.len);
	wr_u8(w, (uint8_t)r->env_from.len);
	wr_bytes(w, r->env_from.p, r->env_from.len);
	for (unsigned i = 0; i < r->rcpt_count; i++) {
		const struct dlvrec_rcpt *t = &r->rcpt[i];
		wr_u16(w, t->uid);
		wr_u8(w, t->flags);
		wr_u8(w, (uint8_t)t->local.len);
		wr_bytes(w, t->local.p, t->local.len);
	}
	return 0;
}

static struct msg_str rd_str8(struct rd *rd)
{
	size_t n = rd_u8(rd);
	const uint8_t *p = rd_take(rd, n);
	return (struct msg_str){ p, p ? n : 0 };
}

int dlvrec_decode(struct dlvrec *ret, const uint8_t *p, size_t len)
{
	struct dlvrec r;
	memset(&r, 0, sizeof(r));
	struct rd rd = rd_init(p, len);
	if (rd_u8(&rd) != DLVREC_VERSION || rd_u8(&rd) != 0)
		return -EBADMSG;
	r.flags = rd_u16(&rd);
	r.ts = rd_u64(&rd);
	r.ip_family = rd_u8(&rd);
	rd_copy(&rd, r.ip, MSG_IP_BYTES);
	r.tls_version = rd_u8(&rd);
	r.tls_suite = rd_u16(&rd);
	r.rcpt_count = rd_u8(&rd);
	r.helo = rd_str8(&rd);
	r.env_from = rd_str8(&rd);
	if (rd.bad || r.rcpt_count > DLVREC_RCPT_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < r.rcpt_count; i++) {
		r.rcpt[i].uid = rd_u16(&rd);
		r.rcpt[i].flags = rd_u8(&rd);
		r.rcpt[i].local = rd_str8(&rd);
	}
	if (rd.bad || !head_valid(&r))
		return -EBADMSG;
	size_t rest = rd_left(&rd);
	if (rest > DLVREC_MESSAGE_MAX)
		return -EBADMSG;
	r.message = (struct msg_str){ rd_take(&rd, rest), rest };
	if (!rd_done(&rd))
		return -EBADMSG;
	*ret = r;
	return 0;
}
