/* fuzz_deliver_mime.c: libFuzzer target for Deliver's MIME parser and its
 * header field parsers (docs/PROTOCOL.md 19). The first byte picks limits.
 * Checks: mime_parse never fails; every field passes its ExtMsg text class
 * and limit; the body passes cet_validate and body_last lies on an
 * alternative boundary; attachments have valid UplMsg names and media types;
 * the field parsers keep their classes on raw input too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cet.h"
#include "common/message.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define must(ok) must_at((ok), __LINE__)

static void must_at(bool ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_deliver_mime: check at line %d failed\n", line);
		abort();
	}
}

static bool media_ok(const struct wr *m)
{
	if (m->len < 3 || m->len > MSG_MEDIA_TYPE_MAX)
		return false;
	size_t slash = 0, at = 0;
	for (size_t i = 0; i < m->len; i++) {
		if (m->p[i] < 0x21 || m->p[i] > 0x7E)
			return false;
		if (m->p[i] == '/')
			slash++, at = i;
	}
	return slash == 1 && at > 0 && at < m->len - 1;
}

static void fields(const uint8_t *p, size_t n)
{
	struct wr u = WR_INIT, w = WR_INIT;
	mimehdr_unfold(&u, p, n);
	must(msg_text_valid(u.p, u.len, MSG_TEXT_UTF8));
	mimehdr_decode_text(&w, u.p, u.len);
	must(msg_text_valid(w.p, w.len, MSG_TEXT_LINE));
	w.len = 0;
	bool cut = mimehdr_addrs(&w, u.p, u.len, 300);
	must(w.len <= 300 && msg_text_valid(w.p, w.len, MSG_TEXT_ADDRS));
	(void)cut;
	w.len = 0;
	mimehdr_msgid(&w, u.p, u.len);
	must(msg_text_valid(w.p, w.len, MSG_TEXT_LINE));
	int64_t t;
	int16_t tz;
	if (mimehdr_date(u.p, u.len, &t, &tz))
		must(tz >= -MSG_TZ_MAX_MINUTES && tz <= MSG_TZ_MAX_MINUTES);
	for (int disp = 0; disp < 2; disp++) {
		struct mimehdr_ctype ct = { 0 };
		mimehdr_ctype_parse(&ct, u.p, u.len, disp);
		must(msg_text_valid(ct.name.p, ct.name.len, MSG_TEXT_LINE));
		mimehdr_ctype_free(&ct);
	}
	w.len = 0;
	if (charset_to_utf8(&w, n > 12 ? "shift_jis" : "iso-2022-jp", p, n) == 0)
		must(msg_text_valid(w.p, w.len, MSG_TEXT_UTF8));
	wr_free(&u);
	wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (mode & 0x80) {
		fields(p, n);
		return 0;
	}
	struct mime_limits lim = {
		.body_max = mode & 1 ? 64u + (mode >> 1) * 16u : 0,
		.attach_max_bytes = mode & 2 ? 100 : 0,
	};
	struct mime_result *r = malloc(sizeof(*r));
	if (!r)
		abort();
	must(mime_parse(p, n, &lim, r) == 0);
	must(msg_text_valid(r->from.p, r->from.len, MSG_TEXT_ADDRS) && r->from.len <= MSG_ADDR_LIST_MAX);
	must(msg_text_valid(r->to.p, r->to.len, MSG_TEXT_ADDRS) && r->to.len <= MSG_ADDR_LIST_MAX);
	must(msg_text_valid(r->cc.p, r->cc.len, MSG_TEXT_ADDRS) && r->cc.len <= MSG_ADDR_LIST_MAX);
	must(msg_text_valid(r->reply_to.p, r->reply_to.len, MSG_TEXT_ADDRS) &&
	     r->reply_to.len <= MSG_ADDR_LIST_MAX);
	must(msg_text_valid(r->msg_id.p, r->msg_id.len, MSG_TEXT_LINE) && r->msg_id.len <= MSG_MSGID_MAX);
	must(msg_text_valid(r->in_reply_to.p, r->in_reply_to.len, MSG_TEXT_LINE) &&
	     r->in_reply_to.len <= MSG_MSGID_MAX);
	must(msg_text_valid(r->subject.p, r->subject.len, MSG_TEXT_LINE) && r->subject.len <= MSG_SUBJECT_MAX);
	must(msg_text_valid(r->headers.p, r->headers.len, MSG_TEXT_LINES) && r->headers.len <= MSG_HEADERS_MAX);
	must(msg_text_valid(r->body.p, r->body.len, MSG_TEXT_UTF8));
	must(cet_validate(r->body.p, r->body.len, NULL) == 0);
	must(r->body.len <= (lim.body_max ? lim.body_max : MSG_BODY_MAX));
	must(r->body_last <= r->body.len);
	must(r->body_last == 0 || r->body.p[r->body_last - 1] == CET_SEP);
	must((r->flags & ~(MIME_F_REPAIRED | MIME_F_BODY_TRUNC | MIME_F_HEADERS_TRUNC | MIME_F_ATTACH_DROPPED)) == 0);
	must(r->attach_count <= MIME_ATTACH_MAX && r->attach_count <= r->attach_seen);
	if (r->has_date)
		must(r->tz_minutes >= -MSG_TZ_MAX_MINUTES && r->tz_minutes <= MSG_TZ_MAX_MINUTES);
	for (size_t i = 0; i < r->attach_count; i++) {
		const struct mime_attachment *a = &r->attach[i];
		must(a->name.len >= 1 && a->name.len <= MSG_FILENAME_MAX);
		must(msg_text_valid(a->name.p, a->name.len, MSG_TEXT_LINE));
		must(!memchr(a->name.p, '/', a->name.len));
		must(!(a->name.len == 1 && a->name.p[0] == '.'));
		must(!(a->name.len == 2 && a->name.p[0] == '.' && a->name.p[1] == '.'));
		must(media_ok(&a->media_type));
		must(a->data.len <= (lim.attach_max_bytes ? lim.attach_max_bytes : 32u * 1024 * 1024));
	}
	mime_result_free(r);
	free(r);
	return 0;
}
