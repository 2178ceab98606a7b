/* datastream.c: DATA text to message bytes (see datastream.h). States: at a
 * line start (after CR LF), after a "." there, after "." CR there, inside a
 * line, after a CR inside a line. Only CR LF makes a line start, so a "."
 * after a bare LF is kept and "LF . LF" or "CR LF . LF" end nothing. */
#include "mta/datastream.h"

#include <string.h>

#include "mta/smtp.h"

enum { S_LS = 0, S_DOT, S_DOTCR, S_MID, S_CR };

/* Longest line content before its CR LF. */
#define LINE_CONTENT_MAX (SMTP_TEXT_LINE_MAX - 2)

void datastream_init(struct datastream *d) { memset(d, 0, sizeof(*d)); }

static inline void put(struct datastream *d, uint8_t *out, size_t *o, uint8_t c)
{
	out[(*o)++] = c;
	if (c == 0)
		d->odd |= DATASTREAM_NUL;
	if (++d->line_len > LINE_CONTENT_MAX)
		d->odd |= DATASTREAM_LONG_LINE;
}

static inline void bare_lf(struct datastream *d, uint8_t *out, size_t *o)
{
	out[(*o)++] = '\n';
	d->odd |= DATASTREAM_BARE_LF;
	d->line_len = 0;
	d->state = S_MID;
}

size_t datastream_feed(struct datastream *d, const uint8_t *in, size_t n, uint8_t *out,
                       size_t *ret_out)
{
	size_t o = 0, i = 0;
	if (d->done) {
		*ret_out = 0;
		return 0;
	}
	while (i < n) {
		uint8_t c = in[i];
		switch (d->state) {
		case S_MID: {
			/* The common case: a run of ordinary bytes. */
			size_t j = i;
			while (j < n && in[j] != '\r' && in[j] != '\n' && in[j] != 0)
				j++;
			if (j > i) {
				size_t run = j - i;
				memcpy(out + o, in + i, run);
				o += run;
				d->line_len += run;
				if (d->line_len > LINE_CONTENT_MAX)
					d->odd |= DATASTREAM_LONG_LINE;
				i = j;
				continue;
			}
			if (c == '\r')
				d->state = S_CR;
			else if (c == '\n')
				bare_lf(d, out, &o);
			else
				put(d, out, &o, c);
			i++;
			break;
		}
		case S_LS:
			if (c == '.') {
				d->state = S_DOT;
			} else if (c == '\r') {
				d->state = S_CR;
			} else if (c == '\n') {
				bare_lf(d, out, &o);
			} else {
				put(d, out, &o, c);
				d->state = S_MID;
			}
			i++;
			break;
		case S_DOT:
			if (c == '\r') {
				d->state = S_DOTCR;
			} else if (c == '\n') {
				put(d, out, &o, '.');
				bare_lf(d, out, &o);
			} else {
				/* A stuffed line: the leading dot goes (RFC 5321 4.5.2). */
				put(d, out, &o, c);
				d->state = S_MID;
			}
			i++;
			break;
		case S_DOTCR:
			if (c == '\n') {
				d->done = true;
				*ret_out = o;
				return i + 1;
			}
			/* "." CR and something else: the dot was stuffing, the CR is bare.
			 * The byte is looked at again inside the line. */
			put(d, out, &o, '\r');
			d->odd |= DATASTREAM_BARE_CR;
			d->state = S_MID;
			break;
		case S_CR:
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				d->line_len = 0;
				d->state = S_LS;
				i++;
				break;
			}
			put(d, out, &o, '\r');
			d->odd |= DATASTREAM_BARE_CR;
			if (c == '\r') {
				i++; /* still after a CR */
				break;
			}
			d->state = S_MID;
			break;
		}
	}
	*ret_out = o;
	return n;
}
