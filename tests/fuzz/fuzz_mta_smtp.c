/* fuzz_mta_smtp.c: the MTA's parsers of outside and cross-role input. The
 * first byte picks one: 0 an SMTP command line (smtp_parse: every pointer it
 * returns must lie inside the line, and lengths within RFC 5321's limits),
 * 1 the DATA stream fed in random pieces (same result as all at once, never
 * more output than input), 2 Deliver's answer (mta_record_answer). */
#include <stdlib.h>
#include <string.h>

#include "mta/datastream.h"
#include "mta/record.h"
#include "mta/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *p, size_t n, const uint8_t *line, size_t len)
{
	if (p && (p < line || p + n > line + len))
		abort();
	if (!p && n)
		abort();
}

static void command(const uint8_t *line, size_t len)
{
	if (len > SMTP_LINE_MAX - 2)
		len = SMTP_LINE_MAX - 2;
	struct smtp_cmd c;
	smtp_parse(line, len, &c);
	inside(c.arg, c.arg_len, line, len);
	if (c.err != SMTP_OK)
		return;
	inside(c.path.local, c.path.local_len, line, len);
	inside(c.path.domain, c.path.domain_len, line, len);
	inside(c.path.mailbox, c.path.mailbox_len, line, len);
	if ((c.verb == SMTP_MAIL || c.verb == SMTP_RCPT) && !c.path.null) {
		if (!c.path.local_len || c.path.local_len > SMTP_LOCAL_MAX)
			abort();
		if (c.path.domain_len > SMTP_DOMAIN_MAX || (!c.path.postmaster && !c.path.domain_len))
			abort();
		if (c.path.mailbox_len + 2 > SMTP_PATH_MAX)
			abort();
	}
	if (c.verb != SMTP_MAIL && (c.params.size_given || c.params.body || c.params.smtputf8))
		abort();
}

static void stream(const uint8_t *in, size_t n)
{
	static uint8_t ref[65536 + DATASTREAM_SLACK], out[65536 + DATASTREAM_SLACK];
	if (n < 1 || n > 65536)
		return;
	uint8_t seed = in[0];
	in++;
	n--;
	struct datastream a, b;
	datastream_init(&a);
	size_t ro;
	size_t ru = datastream_feed(&a, in, n, ref, &ro);
	if (ro > ru || ru > n || (ru < n && !a.done))
		abort();
	datastream_init(&b);
	size_t bo = 0, bu = 0, step = (size_t)(seed % 7) + 1;
	while (bu < n && !b.done) {
		size_t k = n - bu < step ? n - bu : step;
		size_t o;
		size_t u = datastream_feed(&b, in + bu, k, out + bo, &o);
		if (o > k + DATASTREAM_SLACK || u > k)
			abort();
		bo += o;
		bu += u;
		step = step * 3 % 11 + 1;
	}
	if (bu != ru || bo != ro || a.done != b.done || a.odd != b.odd || memcmp(out, ref, ro) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		command(data + 1, size - 1);
		break;
	case 1:
		stream(data + 1, size - 1);
		break;
	default:
		if (size >= 2)
			(void)mta_record_answer(data + 2, size - 2, data[1]);
		break;
	}
	return 0;
}
