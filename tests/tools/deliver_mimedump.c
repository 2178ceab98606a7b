/* deliver_mimedump.c: runs Deliver's MIME parser on one message file and
 * prints the result as JSON, for tests/cross/test_mime_cross.py and for
 * people looking at a strange email. Not installed.
 *   deliver_mimedump FILE [BODY_MAX]   the JSON of mime_parse
 *   deliver_mimedump --html FILE       html_to_cet only: the CET and its text
 *   deliver_mimedump --bench N FILE    N runs of mime_parse; ms per run on stderr
 * The JSON holds every field, the body as raw CET, as plain text per version
 * (link spans and markup dropped) and as cet_render_text output, and per
 * attachment its media type, name, size and SHA-256. "checks" says whether
 * every field passed its text class and the body passed cet_validate. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cet.h"
#include "common/message.h"
#include "deliver/mime.h"

#define MIMEDUMP_IN_MAX (64u * 1024 * 1024)

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("cannot open %s", path);
	uint8_t *p = xmalloc(MIMEDUMP_IN_MAX);
	size_t n = fread(p, 1, MIMEDUMP_IN_MAX, f);
	if (ferror(f) || n >= MIMEDUMP_IN_MAX)
		fatalx("cannot read %s (or it is too large)", path);
	fclose(f);
	*ret_len = n;
	return p;
}

static void jstr(const uint8_t *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7F)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jwr(const struct wr *w) { jstr(w->p, w->len); }

/* ADDRS as [{"name": ..., "addr": ...}] */
static void jaddrs(const struct wr *w)
{
	putchar('[');
	size_t i = 0;
	bool first = true;
	while (i < w->len) {
		const uint8_t *nl = memchr(w->p + i, '\n', w->len - i);
		size_t e = nl ? (size_t)(nl - w->p) : w->len;
		const uint8_t *sep = memchr(w->p + i, 0x7F, e - i);
		printf("%s{\"name\": ", first ? "" : ", ");
		if (sep) {
			jstr(w->p + i, (size_t)(sep - (w->p + i)));
			printf(", \"addr\": ");
			jstr(sep + 1, e - (size_t)(sep + 1 - w->p));
		} else {
			printf("\"\", \"addr\": ");
			jstr(w->p + i, e - i);
		}
		putchar('}');
		first = false;
		i = nl ? e + 1 : w->len;
	}
	putchar(']');
}

/* CET to plain text: spans dropped, markup to nothing or line breaks. */
static void cet_plain(struct wr *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= 0x01 && c <= 0x04) {
			const uint8_t *e = memchr(p + i + 1, c, n - i - 1);
			i = e ? (size_t)(e - p) : n;
			wr_u8(out, ' ');
		} else if (c == 0x0A || c == 0x0B || (c >= 0x1A && c <= 0x1F)) {
			wr_u8(out, '\n');
		} else if (c >= 0x11 && c <= 0x19) {
			continue;
		} else {
			wr_u8(out, c);
		}
	}
}

static void jversions(const struct wr *body)
{
	putchar('[');
	size_t i = 0;
	bool first = true;
	do {
		const uint8_t *sep = memchr(body->p ? (const void *)(body->p + i) : "", 0x7F, body->len - i);
		size_t e = sep ? (size_t)(sep - body->p) : body->len;
		struct wr t = WR_INIT;
		cet_plain(&t, body->p + i, e - i);
		printf("%s", first ? "" : ", ");
		jwr(&t);
		wr_free(&t);
		first = false;
		i = sep ? e + 1 : body->len;
		if (!sep)
			break;
	} while (true);
	putchar(']');
}

static bool classes_ok(const struct mime_result *r)
{
	bool ok = msg_text_valid(r->from.p, r->from.len, MSG_TEXT_ADDRS) &&
	          msg_text_valid(r->to.p, r->to.len, MSG_TEXT_ADDRS) &&
	          msg_text_valid(r->cc.p, r->cc.len, MSG_TEXT_ADDRS) &&
	          msg_text_valid(r->reply_to.p, r->reply_to.len, MSG_TEXT_ADDRS) &&
	          msg_text_valid(r->msg_id.p, r->msg_id.len, MSG_TEXT_LINE) &&
	          msg_text_valid(r->in_reply_to.p, r->in_reply_to.len, MSG_TEXT_LINE) &&
	          msg_text_valid(r->subject.p, r->subject.len, MSG_TEXT_LINE) &&
	          msg_text_valid(r->headers.p, r->headers.len, MSG_TEXT_LINES);
	ok = ok && r->from.len <= MSG_ADDR_LIST_MAX && r->to.len <= MSG_ADDR_LIST_MAX &&
	     r->cc.len <= MSG_ADDR_LIST_MAX && r->reply_to.len <= MSG_ADDR_LIST_MAX &&
	     r->msg_id.len <= MSG_MSGID_MAX && r->in_reply_to.len <= MSG_MSGID_MAX &&
	     r->subject.len <= MSG_SUBJECT_MAX && r->headers.len <= MSG_HEADERS_MAX &&
	     r->body.len <= MSG_BODY_MAX && r->body_last <= r->body.len &&
	     r->attach_count <= MIME_ATTACH_MAX && r->attach_count <= r->attach_seen;
	for (size_t i = 0; i < r->attach_count; i++) {
		const struct mime_attachment *a = &r->attach[i];
		ok = ok && a->name.len >= 1 && a->name.len <= MSG_FILENAME_MAX &&
		     msg_text_valid(a->name.p, a->name.len, MSG_TEXT_LINE) &&
		     !memchr(a->name.p, '/', a->name.len) && a->media_type.len >= 3 &&
		     a->media_type.len <= MSG_MEDIA_TYPE_MAX;
	}
	return ok;
}

static void dump(const struct mime_result *r)
{
	printf("{\"from\": ");
	jaddrs(&r->from);
	printf(",\n \"to\": ");
	jaddrs(&r->to);
	printf(",\n \"cc\": ");
	jaddrs(&r->cc);
	printf(",\n \"reply_to\": ");
	jaddrs(&r->reply_to);
	printf(",\n \"msg_id\": ");
	jwr(&r->msg_id);
	printf(",\n \"in_reply_to\": ");
	jwr(&r->in_reply_to);
	printf(",\n \"subject\": ");
	jwr(&r->subject);
	printf(",\n \"headers\": ");
	jwr(&r->headers);
	if (r->has_date)
		printf(",\n \"date\": %lld, \"tz\": %d", (long long)r->date, r->tz_minutes);
	else
		printf(",\n \"date\": null, \"tz\": null");
	printf(",\n \"flags\": %u, \"repaired\": %s, \"body_trunc\": %s, \"headers_trunc\": %s, "
	       "\"attach_dropped\": %s",
	       r->flags, r->flags & MIME_F_REPAIRED ? "true" : "false",
	       r->flags & MIME_F_BODY_TRUNC ? "true" : "false",
	       r->flags & MIME_F_HEADERS_TRUNC ? "true" : "false",
	       r->flags & MIME_F_ATTACH_DROPPED ? "true" : "false");
	printf(",\n \"body_cet\": ");
	jwr(&r->body);
	printf(",\n \"body_last\": %zu", r->body_last);
	printf(",\n \"body_versions\": ");
	jversions(&r->body);
	struct wr rendered = WR_INIT;
	int rc = cet_render_text(&rendered, r->body.p, r->body.len, NULL);
	printf(",\n \"body_rendered\": ");
	jwr(&rendered);
	wr_free(&rendered);
	printf(",\n \"attach_seen\": %zu, \"attachments\": [", r->attach_seen);
	for (size_t i = 0; i < r->attach_count; i++) {
		const struct mime_attachment *a = &r->attach[i];
		uint8_t h[crypto_hash_sha256_BYTES];
		char hex[2 * sizeof(h) + 1];
		crypto_hash_sha256(h, a->data.p ? a->data.p : (const uint8_t *)"", a->data.len);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		printf("%s\n  {\"type\": ", i ? "," : "");
		jwr(&a->media_type);
		printf(", \"name\": ");
		jwr(&a->name);
		printf(", \"size\": %zu, \"sha256\": \"%s\"}", a->data.len, hex);
	}
	printf("],\n \"checks\": {\"cet_valid\": %s, \"render_ok\": %s, \"classes_valid\": %s}}\n",
	       cet_validate(r->body.p, r->body.len, NULL) == 0 ? "true" : "false",
	       rc == 0 ? "true" : "false", classes_ok(r) ? "true" : "false");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (argc == 3 && strcmp(argv[1], "--html") == 0) {
		size_t len;
		uint8_t *p = read_file(argv[2], &len);
		struct wr out = WR_INIT, plain = WR_INIT;
		double t0 = now();
		if (html_to_cet(&out, p, len, MSG_BODY_MAX) < 0)
			fatalx("html_to_cet failed");
		double t1 = now();
		fprintf(stderr, "html_to_cet: %zu bytes in %.3f ms\n", len, (t1 - t0) * 1e3);
		cet_plain(&plain, out.p, out.len);
		printf("{\"cet\": ");
		jwr(&out);
		printf(", \"text\": ");
		jwr(&plain);
		printf(", \"cet_valid\": %s}\n", cet_validate(out.p, out.len, NULL) == 0 ? "true" : "false");
		wr_free(&out);
		wr_free(&plain);
		free(p);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "--bench") == 0) {
		long runs = strtol(argv[2], NULL, 10);
		size_t len;
		uint8_t *p = read_file(argv[3], &len);
		double best = 1e9, total = 0;
		for (long i = 0; i < runs; i++) {
			struct mime_result *r = xmalloc(sizeof(*r));
			double t0 = now();
			if (mime_parse(p, len, NULL, r) != 0)
				fatalx("mime_parse failed");
			double t = now() - t0;
			total += t;
			if (t < best)
				best = t;
			mime_result_free(r);
			free(r);
		}
		fprintf(stderr, "mime_parse: %zu bytes, %ld runs, best %.3f ms, mean %.3f ms\n", len, runs,
		        best * 1e3, runs ? total / (double)runs * 1e3 : 0.0);
		free(p);
		return 0;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: deliver_mimedump FILE [BODY_MAX] | --html FILE | --bench N FILE\n");
		return 2;
	}
	size_t len;
	uint8_t *p = read_file(argv[1], &len);
	struct mime_limits lim = { 0 };
	if (argc == 3)
		lim.body_max = strtoul(argv[2], NULL, 10);
	struct mime_result *r = xmalloc(sizeof(*r));
	if (mime_parse(p, len, &lim, r) != 0)
		fatalx("mime_parse failed");
	dump(r);
	mime_result_free(r);
	free(r);
	free(p);
	return 0;
}
