/* cet.c: Control-Enriched Text: the strict validator, the terminal renderer
 * and the text/plain importer. The grammar, the limits and the rendering
 * rules are in docs/PROTOCOL.md section 6; the renderer only ever runs on
 * input the validator accepted. */
#include "common/cet.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

/* ---- character classes ---- */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_alnum(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved, reserved and '%': everything else (space, quotes, <>,
 * controls, non-ASCII) must be percent-encoded by whoever writes the span. */
static bool is_url_char(uint8_t c)
{
	return is_alnum(c) || (c != 0 && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static bool is_link_char(uint8_t c) { return c >= CET_LINK_HTTP && c <= CET_FILE_HTTPS; }
static bool is_toggle(uint8_t c) { return c >= CET_BIG && c <= CET_STRIKE; }
static bool is_layout(uint8_t c) { return c >= CET_TABLE && c <= CET_ITEM; }

/* Bidirectional formatting characters: they let a sender reorder what the
 * reader sees (Trojan Source), so the renderer drops them. */
static bool is_bidi_control(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}
static bool is_line_separator(uint32_t cp) { return cp == 0x2028 || cp == 0x2029; }

/* ---- validation ---- */

bool cet_url_valid(const uint8_t *u, size_t n)
{
	if (n == 0 || n > CET_URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_url_char(u[i]))
			return false;
		if (u[i] == '%' && (n - i < 3 || !is_hex(u[i + 1]) || !is_hex(u[i + 2])))
			return false;
	}
	/* The span starts with the authority: host, then an optional port. No
	 * userinfo (a phishing aid) and so no room for "javascript:" or a second
	 * scheme, which would need a non-numeric "port". */
	size_t a = 0;
	while (a < n && u[a] != '/' && u[a] != '?' && u[a] != '#')
		a++;
	size_t h;
	if (u[0] == '[') {
		bool colon = false;
		for (h = 1; h < a && (is_hex(u[h]) || u[h] == ':' || u[h] == '.'); h++)
			colon |= u[h] == ':';
		if (h >= a || u[h] != ']' || !colon)
			return false;
		h++;
	} else {
		if (!is_alnum(u[0]))
			return false;
		for (h = 0; h < a && (is_alnum(u[h]) || u[h] == '-' || u[h] == '.' || u[h] == '_'); h++)
			;
	}
	if (h > CET_HOST_MAX)
		return false;
	if (h == a)
		return true;
	if (u[h] != ':')
		return false;
	size_t digits = a - h - 1;
	if (digits < 1 || digits > 5)
		return false;
	uint32_t port = 0;
	for (size_t i = h + 1; i < a; i++) {
		if (!is_digit(u[i]))
			return false;
		port = port * 10 + (uint32_t)(u[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* Text and inline markup may only appear where a reader would see them:
 * at the top level, in a cell or in a list item. */
static bool is_flow(uint8_t top) { return top == 0 || top == CET_CELL || top == CET_ITEM; }

static bool layout_may_open(uint8_t c, uint8_t top)
{
	switch (c) {
	case CET_TABLE:
	case CET_OL:
	case CET_UL:
		return is_flow(top);
	case CET_ROW:
		return top == CET_TABLE;
	case CET_CELL:
		return top == CET_ROW;
	case CET_ITEM:
		return top == CET_OL || top == CET_UL;
	default:
		return false;
	}
}

int cet_validate(const uint8_t *p, size_t len, struct cet_stats *ret_stats)
{
	if (len > CET_MAX_BYTES)
		return -E2BIG;
	uint8_t stack[CET_DEPTH_MAX];
	size_t depth = 0;
	struct cet_stats st = { .alternatives = 1 };
	size_t i = 0;
	while (i < len) {
		uint8_t c = p[i];
		uint8_t top = depth ? stack[depth - 1] : 0;
		if (is_layout(c)) {
			if (depth > 0 && top == c) {
				depth--;
			} else {
				if (!layout_may_open(c, top) || depth == CET_DEPTH_MAX)
					return -EBADMSG;
				stack[depth++] = c;
			}
			i++;
			continue;
		}
		if (c == CET_SEP) {
			/* a new alternative: whatever was open ends with the previous one */
			if (++st.alternatives > CET_ALT_MAX)
				return -EBADMSG;
			depth = 0;
			i++;
			continue;
		}
		if (!is_flow(top))
			return -EBADMSG;
		if (c >= 0x80) {
			uint32_t cp;
			size_t n = utf8_seq_len(p + i, len - i, &cp);
			if (n == 0 || cp <= 0x9F) /* C1 controls, e.g. U+009B (CSI) */
				return -EBADMSG;
			i += n;
			continue;
		}
		if (c >= 0x20 || c == CET_LF || c == CET_HR || is_toggle(c)) {
			i++;
			continue;
		}
		if (!is_link_char(c))
			return -EBADMSG;
		size_t j = i + 1;
		while (j < len && p[j] != c && j - i <= CET_URL_MAX)
			j++;
		if (j >= len || p[j] != c || !cet_url_valid(p + i + 1, j - i - 1))
			return -EBADMSG;
		if (c <= CET_LINK_HTTPS)
			st.links++;
		else
			st.media++;
		i = j + 1;
	}
	if (ret_stats)
		*ret_stats = st;
	return 0;
}

/* ---- rendering ---- */

enum { A_BOLD = 1, A_DIM = 2, A_ITALIC = 4, A_UNDERLINE = 8, A_STRIKE = 16 };
#define TOGGLE_BIT(c) (1u << ((c) - CET_BIG))
/* Room kept free under the cap for the final reset and the truncation note. */
#define RENDER_RESERVE 32u
static const char truncated_note[] = "[rendering truncated]\n";

struct rend {
	struct wr *out;
	size_t start, limit;
	unsigned width;
	bool ansi, trunc;
	uint8_t stack[CET_DEPTH_MAX];
	/* per level: items so far (lists), cells so far (rows), text column (items) */
	size_t aux[CET_DEPTH_MAX];
	size_t depth;
	unsigned toggles;
	unsigned sgr;       /* attributes the terminal currently has */
	bool line_used;     /* something was written on the current line */
	bool pending_space; /* after an item marker or cell separator */
	size_t links, media, alt_out_start;
};

static void emit(struct rend *r, const void *s, size_t n)
{
	if (r->trunc)
		return;
	if (r->out->len - r->start + n > r->limit - RENDER_RESERVE) {
		r->trunc = true;
		return;
	}
	wr_bytes(r->out, s, n);
}

static void emit_str(struct rend *r, const char *s) { emit(r, s, strlen(s)); }

static void emit_repeat(struct rend *r, char ch, size_t n)
{
	char buf[64];
	memset(buf, ch, sizeof(buf));
	while (n > 0 && !r->trunc) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		emit(r, buf, k);
		n -= k;
	}
}

static unsigned wanted_sgr(const struct rend *r)
{
	if (!r->ansi)
		return 0;
	unsigned t = r->toggles, a = 0;
	if (t & (TOGGLE_BIT(CET_BOLD) | TOGGLE_BIT(CET_BIG)))
		a |= A_BOLD;
	else if (t & TOGGLE_BIT(CET_SMALL))
		a |= A_DIM;
	if (t & TOGGLE_BIT(CET_ITALIC))
		a |= A_ITALIC;
	if (t & TOGGLE_BIT(CET_UNDERLINE))
		a |= A_UNDERLINE;
	if (t & TOGGLE_BIT(CET_STRIKE))
		a |= A_STRIKE;
	return a;
}

/* Every sequence starts from a reset, so the terminal state never depends on
 * what came before. */
static void set_sgr(struct rend *r, unsigned a)
{
	if (a == r->sgr)
		return;
	char buf[24] = "\x1b[0";
	size_t n = 3;
	static const struct { unsigned bit; char code; } map[] = {
		{ A_BOLD, '1' }, { A_DIM, '2' }, { A_ITALIC, '3' }, { A_UNDERLINE, '4' }, { A_STRIKE, '9' },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (a & map[i].bit) {
			buf[n++] = ';';
			buf[n++] = map[i].code;
		}
	}
	buf[n++] = 'm';
	emit(r, buf, n);
	r->sgr = a;
}

/* Text column of the innermost open list item: where continuation lines start. */
static size_t cur_indent(const struct rend *r)
{
	for (size_t d = r->depth; d-- > 0;)
		if (r->stack[d] == CET_ITEM)
			return r->aux[d];
	return 0;
}

static void begin_visible(struct rend *r, bool styled, bool leading_space)
{
	if (!r->line_used) {
		set_sgr(r, 0);
		emit_repeat(r, ' ', cur_indent(r));
		r->line_used = true;
	}
	if (r->pending_space) {
		r->pending_space = false;
		if (!leading_space) {
			set_sgr(r, 0);
			emit(r, " ", 1);
		}
	}
	set_sgr(r, styled ? wanted_sgr(r) : 0);
}

static void put_text(struct rend *r, const uint8_t *s, size_t n)
{
	begin_visible(r, true, s[0] == ' ');
	emit(r, s, n);
}

static void put_deco(struct rend *r, const char *s)
{
	begin_visible(r, false, false);
	emit_str(r, s);
}

static void newline(struct rend *r)
{
	set_sgr(r, 0);
	emit(r, "\n", 1);
	r->line_used = false;
	r->pending_space = false;
}

static void ensure_line(struct rend *r)
{
	if (r->line_used)
		newline(r);
}

static const char *scheme(uint8_t c)
{
	return (c == CET_LINK_HTTPS || c == CET_FILE_HTTPS) ? "https://" : "http://";
}

static void layout_open(struct rend *r, uint8_t c)
{
	if (r->depth == CET_DEPTH_MAX) /* unreachable after cet_validate */
		return;
	size_t parent = r->depth - (r->depth > 0); /* index of the parent level, if any */
	size_t aux = 0;
	char buf[48];
	switch (c) {
	case CET_TABLE:
	case CET_OL:
	case CET_UL:
	case CET_ROW:
		ensure_line(r);
		break;
	case CET_CELL:
		if (r->depth > 0 && ++r->aux[parent] > 1) {
			put_deco(r, r->line_used ? " |" : "|");
			r->pending_space = true;
		}
		break;
	case CET_ITEM: {
		size_t number = r->depth > 0 ? ++r->aux[parent] : 1;
		bool ordered = r->depth > 0 && r->stack[parent] == CET_OL;
		ensure_line(r);
		size_t base = cur_indent(r);
		if (base == 0)
			base = 2;
		int m = ordered ? snprintf(buf, sizeof(buf), "%zu.", number) : snprintf(buf, sizeof(buf), "-");
		set_sgr(r, 0);
		emit_repeat(r, ' ', base);
		emit(r, buf, (size_t)m);
		r->line_used = true;
		r->pending_space = true;
		aux = base + (size_t)m + 1;
		break;
	}
	}
	r->stack[r->depth] = c;
	r->aux[r->depth] = aux;
	r->depth++;
}

static void layout_close(struct rend *r, uint8_t c)
{
	if (c != CET_CELL)
		ensure_line(r);
	r->depth--;
}

static void media_link(struct rend *r, uint8_t c, const uint8_t *url, size_t n)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "[media %zu: ", ++r->media);
	put_deco(r, buf);
	emit_str(r, scheme(c));
	emit(r, url, n);
	emit(r, "]", 1);
}

static void begin_alt(struct rend *r, size_t alt, size_t alts)
{
	r->links = r->media = 0;
	if (alts > 1) {
		char buf[64];
		if (alt > 1)
			newline(r); /* a blank line between sections */
		snprintf(buf, sizeof(buf), "---- alternative %zu ----", alt);
		put_deco(r, buf);
		newline(r);
	}
	r->alt_out_start = r->out->len;
}

/* Closes whatever the section left open and lists its document links, found
 * by a second pass over the section so no list has to be kept. */
static void end_alt(struct rend *r, const uint8_t *p, size_t len)
{
	ensure_line(r);
	r->depth = 0;
	r->toggles = 0;
	if (r->links == 0)
		return;
	if (r->out->len > r->alt_out_start)
		newline(r);
	size_t k = 0;
	for (size_t i = 0; i < len && !r->trunc; i++) {
		uint8_t c = p[i];
		if (!is_link_char(c))
			continue;
		const uint8_t *end = memchr(p + i + 1, c, len - i - 1);
		if (end == NULL) /* unreachable after cet_validate */
			return;
		size_t n = (size_t)(end - (p + i + 1));
		if (c <= CET_LINK_HTTPS) {
			char buf[32];
			snprintf(buf, sizeof(buf), "[%zu] ", ++k);
			put_deco(r, buf);
			emit_str(r, scheme(c));
			emit(r, p + i + 1, n);
			newline(r);
		}
		i += n + 1;
	}
}

int cet_render_text(struct wr *out, const uint8_t *p, size_t len, const struct cet_render_opts *o)
{
	static const struct cet_render_opts defaults;
	if (o == NULL)
		o = &defaults;
	unsigned width = o->width ? o->width : CET_WIDTH_DEFAULT;
	size_t limit = o->max_bytes ? o->max_bytes : CET_RENDER_MAX;
	if (width > CET_WIDTH_MAX || limit < CET_RENDER_MIN || limit > CET_RENDER_MAX)
		return -EINVAL;
	struct cet_stats st;
	int rc = cet_validate(p, len, &st);
	if (rc < 0)
		return rc;
	if (len == 0) /* an empty struct wr has p == NULL */
		p = (const uint8_t *)"";

	struct rend r = { .out = out, .start = out->len, .limit = limit, .width = width, .ansi = o->ansi };
	size_t alt = 1, alt_start = 0, i = 0;
	begin_alt(&r, alt, st.alternatives);
	while (i < len && !r.trunc) {
		uint8_t c = p[i];
		if (c >= 0x20 && c != CET_SEP) {
			/* a run of text up to the next markup byte or dropped character */
			size_t j = i, n = 1;
			uint32_t cp = c;
			while (j < len && p[j] >= 0x20 && p[j] != CET_SEP) {
				n = 1;
				cp = p[j];
				if (p[j] >= 0x80) {
					n = utf8_seq_len(p + j, len - j, &cp);
					if (n == 0) { /* unreachable after cet_validate: skip the byte */
						n = 1;
						cp = 0;
						break;
					}
					if (is_bidi_control(cp) || is_line_separator(cp))
						break;
				}
				j += n;
			}
			if (j > i) {
				put_text(&r, p + i, j - i);
				i = j;
			} else {
				if (is_line_separator(cp))
					newline(&r);
				i += n;
			}
			continue;
		}
		if (is_link_char(c)) {
			const uint8_t *end = memchr(p + i + 1, c, len - i - 1);
			if (end == NULL) /* unreachable after cet_validate */
				break;
			size_t n = (size_t)(end - (p + i + 1));
			if (c <= CET_LINK_HTTPS) {
				char buf[32];
				snprintf(buf, sizeof(buf), "[%zu]", ++r.links);
				put_deco(&r, buf);
			} else {
				media_link(&r, c, p + i + 1, n);
			}
			i += n + 2;
			continue;
		}
		if (is_toggle(c)) {
			r.toggles ^= TOGGLE_BIT(c);
		} else if (is_layout(c)) {
			if (r.depth > 0 && r.stack[r.depth - 1] == c)
				layout_close(&r, c);
			else
				layout_open(&r, c);
		} else if (c == CET_LF) {
			newline(&r);
		} else if (c == CET_HR) {
			ensure_line(&r);
			begin_visible(&r, false, false);
			emit_repeat(&r, '-', r.width);
			newline(&r);
		} else if (c == CET_SEP) {
			end_alt(&r, p + alt_start, i - alt_start);
			alt_start = i + 1;
			begin_alt(&r, ++alt, st.alternatives);
		}
		i++;
	}
	if (!r.trunc)
		end_alt(&r, p + alt_start, len - alt_start);
	if (r.trunc) {
		/* The reserve guarantees room for these. */
		if (r.sgr)
			wr_bytes(out, "\x1b[0m", 4);
		if (r.line_used)
			wr_bytes(out, "\n", 1);
		wr_bytes(out, truncated_note, sizeof(truncated_note) - 1);
	}
	return 0;
}

/* ---- text/plain import ---- */

int cet_from_plain(struct wr *out, const uint8_t *p, size_t len)
{
	static const uint8_t lfs[CET_PLAIN_MAX_LF] = { '\n', '\n', '\n' };
	static const uint8_t replacement[3] = { 0xEF, 0xBF, 0xBD }; /* U+FFFD */
	if (len > CET_MAX_BYTES)
		return -E2BIG;
	size_t start = out->len, pending_lf = 0;
	bool any = false;
	for (size_t i = 0; i < len;) {
		uint8_t c = p[i];
		const uint8_t *s = p + i;
		size_t n = 1, step = 1;
		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < len && p[i + 1] == '\n')
				step = 2;
			pending_lf++;
			i += step;
			continue;
		}
		if (c == '\t') {
			s = (const uint8_t *)" ";
		} else if (c < 0x20 || c == 0x7F) {
			i++;
			continue;
		} else if (c >= 0x80) {
			uint32_t cp = 0;
			n = step = utf8_seq_len(p + i, len - i, &cp);
			if (n == 0) {
				s = replacement;
				n = sizeof(replacement);
				step = 1;
			} else if (cp <= 0x9F) {
				i += step;
				continue;
			} else if (is_line_separator(cp)) {
				pending_lf++;
				i += step;
				continue;
			}
		}
		if (pending_lf > 0 && any)
			wr_bytes(out, lfs, pending_lf < CET_PLAIN_MAX_LF ? pending_lf : CET_PLAIN_MAX_LF);
		pending_lf = 0;
		wr_bytes(out, s, n);
		any = true;
		i += step;
		if (out->len - start > CET_MAX_BYTES) {
			sodium_memzero(out->p + start, out->len - start);
			out->len = start;
			return -E2BIG;
		}
	}
	return 0;
}
