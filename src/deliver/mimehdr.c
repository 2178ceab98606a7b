/* mimehdr.c: header fields of an email for Deliver: unfolding, 8-bit bytes,
 * RFC 2047 encoded words, address lists (ADDRS), Message-IDs, RFC 5322 dates
 * and Content-Type/Content-Disposition parameters with RFC 2231. Lenient
 * where real mail is broken, bounded everywhere, linear in the input.
 * Rules: docs/PROTOCOL.md section 19. */
#include <string.h>
#include <strings.h>

#include "common/message.h"
#include "common/utf8.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

static bool is_wsp(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c; }
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void mimehdr_unfold(struct wr *out, const uint8_t *v, size_t n)
{
	if (n == 0)
		return;
	size_t start = out->len;
	uint8_t *d = wr_reserve(out, n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] != '\r' && v[i] != '\n')
			d[k++] = v[i];
	out->len = start + k;
	if (!utf8_valid(out->p + start, k)) {
		struct wr tmp = WR_INIT;
		text_append_auto(&tmp, out->p + start, k);
		out->len = start;
		wr_put(out, tmp.p, tmp.len);
		wr_free(&tmp);
	}
}

void mimehdr_clean_line(struct wr *w, size_t from)
{
	uint8_t *p = w->p;
	size_t n = w->len, k = from;
	bool space = true; /* drops leading whitespace */
	for (size_t i = from; i < n;) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				if (!space)
					p[k++] = ' ';
				space = true;
			} else if (c >= 0x20 && c != 0x7F) {
				p[k++] = c;
				space = false;
			}
			continue;
		}
		uint32_t cp;
		size_t len = utf8_seq_len(p + i, n - i, &cp);
		if (len == 0) { /* callers give valid UTF-8; never keep a stray byte */
			i++;
			continue;
		}
		if (cp > 0x9F) {
			memmove(p + k, p + i, len);
			k += len;
			space = false;
		}
		i += len;
	}
	if (k > from && p[k - 1] == ' ')
		k--;
	w->len = k;
}

/* ---- RFC 2047 ---- */

static void b64_decode_lenient(struct wr *out, const uint8_t *p, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+' || c == '-')
			v = 62;
		else if (c == '/' || c == '_')
			v = 63;
		else if (c == '=') {
			acc = 0, bits = 0; /* a padded group ends here */
			continue;
		} else
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			wr_u8(out, (uint8_t)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
}

static void q_decode(struct wr *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '_') {
			wr_u8(out, ' ');
		} else if (p[i] == '=' && i + 2 < n + 0 && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			wr_u8(out, (uint8_t)(hexval(p[i + 1]) << 4 | hexval(p[i + 2])));
			i += 2;
		} else {
			wr_u8(out, p[i]);
		}
	}
}

struct ew {
	char charset[MIMEHDR_EW_CHARSET_MAX + 1];
	size_t end; /* offset just past "?=" */
};

/* Tries an encoded word at v[i] ("=?cs?X?text?="); on success decodes its
 * bytes into raw (appended) and fills e. */
static bool ew_parse(const uint8_t *v, size_t n, size_t i, struct wr *raw, struct ew *e)
{
	if (i + 1 >= n || v[i] != '=' || v[i + 1] != '?')
		return false;
	size_t j = i + 2, cs = j;
	while (j < n && v[j] != '?' && !is_wsp(v[j]) && j - cs <= MIMEHDR_EW_CHARSET_MAX)
		j++;
	if (j >= n || v[j] != '?' || j == cs || j - cs > MIMEHDR_EW_CHARSET_MAX)
		return false;
	size_t cs_len = j - cs;
	if (j + 2 >= n || v[j + 2] != '?')
		return false;
	uint8_t enc = lower(v[j + 1]);
	if (enc != 'b' && enc != 'q')
		return false;
	size_t t = j + 3, k = t;
	while (k < n && v[k] != '?' && !is_wsp(v[k]))
		k++;
	if (k + 1 >= n || v[k] != '?' || v[k + 1] != '=')
		return false;
	memcpy(e->charset, v + cs, cs_len);
	e->charset[cs_len] = '\0';
	for (size_t x = 0; x < cs_len; x++)
		e->charset[x] = (char)lower((uint8_t)e->charset[x]);
	char *star = strchr(e->charset, '*'); /* RFC 2231 language */
	if (star)
		*star = '\0';
	e->end = k + 2;
	if (enc == 'b')
		b64_decode_lenient(raw, v + t, k - t);
	else
		q_decode(raw, v + t, k - t);
	return true;
}

struct ewrun {
	struct wr raw;
	char charset[MIMEHDR_EW_CHARSET_MAX + 1];
	bool active;
};

static void ewrun_flush(struct wr *out, struct ewrun *r)
{
	if (!r->active)
		return;
	if (charset_to_utf8(out, r->charset, r->raw.p, r->raw.len) < 0)
		utf8_append_lenient(out, r->raw.p, r->raw.len);
	r->raw.len = 0;
	r->active = false;
}

/* Appends v with encoded words decoded: whitespace between two encoded words
 * is dropped, and adjacent words in the same charset are converted together
 * (so a character split across two words survives). */
static void decode_words(struct wr *out, const uint8_t *v, size_t n)
{
	struct ewrun run = { .raw = WR_INIT };
	struct wr tmp = WR_INIT;
	size_t ws = 0, ws_len = 0; /* whitespace held back after an encoded word */
	bool after_ew = false;
	size_t i = 0;
	while (i < n) {
		if (is_wsp(v[i])) {
			size_t s = i;
			while (i < n && is_wsp(v[i]))
				i++;
			ws = s, ws_len = i - s;
			if (!after_ew) {
				wr_put(out, v + ws, ws_len);
				ws_len = 0;
			}
			continue;
		}
		struct ew e;
		tmp.len = 0;
		if (v[i] == '=' && ew_parse(v, n, i, &tmp, &e)) {
			if (!after_ew)
				ws_len = 0;
			if (run.active && strcmp(run.charset, e.charset) != 0)
				ewrun_flush(out, &run);
			if (!run.active) {
				memcpy(run.charset, e.charset, sizeof(run.charset));
				run.active = true;
			}
			wr_put(&run.raw, tmp.p, tmp.len);
			ws_len = 0;
			after_ew = true;
			i = e.end;
			continue;
		}
		ewrun_flush(out, &run);
		if (after_ew && ws_len)
			wr_put(out, v + ws, ws_len);
		ws_len = 0;
		after_ew = false;
		/* a run of ordinary bytes, up to whitespace or the next "=?" */
		size_t s = i++;
		while (i < n && !is_wsp(v[i]) && !(v[i] == '=' && i + 1 < n && v[i + 1] == '?'))
			i++;
		wr_put(out, v + s, i - s);
	}
	ewrun_flush(out, &run);
	if (after_ew && ws_len)
		wr_put(out, v + ws, ws_len);
	wr_free(&run.raw);
	wr_free(&tmp);
}

void mimehdr_decode_text(struct wr *out, const uint8_t *v, size_t n)
{
	size_t start = out->len;
	decode_words(out, v, n);
	mimehdr_clean_line(out, start);
}

/* ---- address lists ---- */

struct addr_acc {
	struct wr name;    /* display name, raw (encoded words decoded later) */
	struct wr comment; /* first comment, for "addr (Name)" */
	struct wr spec;    /* addr-spec outside angle brackets */
	struct wr angle;   /* addr-spec inside angle brackets */
	bool has_angle;
	bool has_comment;
	bool spec_ws;      /* whitespace between words of spec */
};

static void acc_reset(struct addr_acc *a)
{
	a->name.len = a->comment.len = a->spec.len = a->angle.len = 0;
	a->has_angle = a->has_comment = a->spec_ws = false;
}

/* Reads a quoted string starting at v[i] == '"' into out (unescaped);
 * returns the offset after it (the end for an unclosed one). */
static size_t read_quoted(const uint8_t *v, size_t n, size_t i, struct wr *out)
{
	i++;
	while (i < n && v[i] != '"') {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		if (out)
			wr_u8(out, v[i]);
		i++;
	}
	return i < n ? i + 1 : n;
}

/* Reads a comment starting at v[i] == '(' (nested to any depth: a counter);
 * its text goes to out when out is not NULL. Returns the offset after it. */
static size_t read_comment(const uint8_t *v, size_t n, size_t i, struct wr *out)
{
	size_t depth = 0;
	for (; i < n; i++) {
		uint8_t c = v[i];
		if (c == '\\' && i + 1 < n) {
			i++;
			if (out)
				wr_u8(out, v[i]);
			continue;
		}
		if (c == '(') {
			if (depth++ == 0)
				continue;
		} else if (c == ')') {
			if (--depth == 0)
				return i + 1;
		}
		if (out)
			wr_u8(out, c);
	}
	return n;
}

static bool is_atext_or_dot(const uint8_t *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c <= ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' || c == ';' ||
		    c == '<' || c == '>' || c == '@' || c == '[' || c == ']' || c == '\\' || c == 0x7F)
			return false;
	}
	return true;
}

/* Appends an addr-spec written in v[0..n) without comments and whitespace;
 * a quoted local part stays quoted only when it needs to be. */
static void spec_append(struct wr *out, const uint8_t *v, size_t n)
{
	struct wr q = WR_INIT;
	size_t i = 0;
	/* a source route ("@a,@b:") before the address is dropped */
	if (n && v[0] == '@') {
		for (size_t j = 0; j < n; j++) {
			if (v[j] == '"')
				break;
			if (v[j] == ':') {
				i = j + 1;
				break;
			}
		}
	}
	while (i < n) {
		uint8_t c = v[i];
		if (is_wsp(c)) {
			i++;
		} else if (c == '(') {
			i = read_comment(v, n, i, NULL);
		} else if (c == '"') {
			q.len = 0;
			i = read_quoted(v, n, i, &q);
			if (is_atext_or_dot(q.p, q.len)) {
				wr_put(out, q.p, q.len);
			} else {
				wr_u8(out, '"');
				for (size_t k = 0; k < q.len; k++) {
					if (q.p[k] == '"' || q.p[k] == '\\')
						wr_u8(out, '\\');
					wr_u8(out, q.p[k]);
				}
				wr_u8(out, '"');
			}
		} else {
			wr_u8(out, c);
			i++;
		}
	}
	wr_free(&q);
}

/* Cleans an ADDRS part in place from `from`: no control character, no DEL,
 * whitespace collapsed. */
static void addrs_clean(struct wr *w, size_t from) { mimehdr_clean_line(w, from); }

/* Appends v with its quoted strings unquoted (a display name). */
static void unquote_append(struct wr *out, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (v[i] == '"') {
			i = read_quoted(v, n, i, out);
		} else {
			wr_u8(out, v[i]);
			i++;
		}
	}
}

/* Unquotes, then decodes encoded words (also those inside quotes, as most
 * mail readers do). */
static void phrase_append(struct wr *out, const uint8_t *v, size_t n)
{
	struct wr u = WR_INIT;
	unquote_append(&u, v, n);
	decode_words(out, u.p, u.len);
	wr_free(&u);
}

/* Writes one entry; returns false (writing nothing) when it would not fit. */
static bool entry_emit(struct wr *out, struct addr_acc *a, size_t max, bool *wrote_any)
{
	struct wr e = WR_INIT;
	/* name: decoded phrase, else the comment of "addr (Name)" */
	if (a->name.len)
		phrase_append(&e, a->name.p, a->name.len);
	addrs_clean(&e, 0);
	if (e.len == 0 && a->has_comment && a->comment.len) {
		decode_words(&e, a->comment.p, a->comment.len);
		addrs_clean(&e, 0);
	}
	size_t name_len = e.len;
	size_t addr_start;
	if (a->has_angle) {
		wr_u8(&e, 0x7F);
		addr_start = e.len;
		spec_append(&e, a->angle.p, a->angle.len);
	} else if (a->spec_ws && memchr(a->spec.p ? (const void *)a->spec.p : "", '@', a->spec.len) == NULL) {
		/* words without an address ("From: Mail Daemon"): kept as text */
		e.len = 0;
		wr_u8(&e, 0x7F);
		addr_start = e.len;
		phrase_append(&e, a->spec.p, a->spec.len);
	} else {
		wr_u8(&e, 0x7F);
		addr_start = e.len;
		spec_append(&e, a->spec.p, a->spec.len);
	}
	addrs_clean(&e, addr_start);
	size_t addr_len = e.len - addr_start;
	bool ok = true;
	if (addr_len == 0 && name_len == 0) {
		wr_free(&e);
		return true; /* nothing there (an empty group, ",,") */
	}
	const uint8_t *entry = e.p;
	size_t entry_len = e.len;
	if (name_len == 0) { /* no name: just the address */
		entry = e.p + addr_start;
		entry_len = addr_len;
	} else if (addr_len == 0) { /* a name without any address */
		entry_len = name_len;
	}
	size_t need = entry_len + (out->len ? 1 : 0);
	if (need > max - out->len || out->len > max) {
		ok = false;
	} else {
		if (out->len)
			wr_u8(out, '\n');
		wr_put(out, entry, entry_len);
		*wrote_any = true;
	}
	wr_free(&e);
	return ok;
}

bool mimehdr_addrs(struct wr *out, const uint8_t *v, size_t n, size_t max)
{
	struct addr_acc a = { .name = WR_INIT, .comment = WR_INIT, .spec = WR_INIT, .angle = WR_INIT };
	bool cut = false, wrote = false, last_ws = false;
	size_t i = 0;
	while (i <= n) {
		uint8_t c = i < n ? v[i] : ',';
		if (i == n || c == ',' || c == ';') {
			if (!entry_emit(out, &a, max, &wrote))
				cut = true;
			acc_reset(&a);
			last_ws = false;
			i++;
			continue;
		}
		if (is_wsp(c)) {
			last_ws = true;
			i++;
			continue;
		}
		if (c == '(') {
			i = read_comment(v, n, i, a.has_comment ? NULL : &a.comment);
			a.has_comment = true;
			last_ws = true;
			continue;
		}
		if (c == ':' && !a.has_angle && memchr(a.spec.p ? (const void *)a.spec.p : "", '@', a.spec.len) == NULL) {
			/* group "name:" - the name is not an address; its members follow */
			acc_reset(&a);
			last_ws = false;
			i++;
			continue;
		}
		if (c == '<') {
			/* the words so far were the display name */
			if (a.spec.len) {
				if (a.name.len)
					wr_u8(&a.name, ' ');
				wr_put(&a.name, a.spec.p, a.spec.len);
				a.spec.len = 0;
			}
			a.has_angle = true;
			a.angle.len = 0;
			i++;
			while (i < n && v[i] != '>') {
				if (v[i] == '"') {
					size_t s = i;
					i = read_quoted(v, n, i, NULL);
					wr_put(&a.angle, v + s, i - s);
					continue;
				}
				wr_u8(&a.angle, v[i]);
				i++;
			}
			if (i < n)
				i++;
			last_ws = false;
			continue;
		}
		if (a.has_angle) { /* text after <addr>: ignored, like a comment */
			i++;
			continue;
		}
		/* a word: atom, quoted string or special */
		if (last_ws && a.spec.len) {
			wr_u8(&a.spec, ' ');
			a.spec_ws = true;
		}
		last_ws = false;
		if (c == '"') {
			size_t s = i;
			i = read_quoted(v, n, i, NULL);
			/* as a name the quotes go; as a local part spec_append keeps them */
			wr_put(&a.spec, v + s, i - s);
			continue;
		}
		if (c == '[') { /* domain literal */
			size_t s = i;
			while (i < n && v[i] != ']')
				i++;
			if (i < n)
				i++;
			wr_put(&a.spec, v + s, i - s);
			continue;
		}
		wr_u8(&a.spec, c);
		i++;
	}
	wr_free(&a.name);
	wr_free(&a.comment);
	wr_free(&a.spec);
	wr_free(&a.angle);
	(void)wrote;
	return cut;
}

/* ---- Message-ID ---- */

void mimehdr_msgid(struct wr *out, const uint8_t *v, size_t n)
{
	size_t start = out->len;
	const uint8_t *lt = memchr(v ? (const void *)v : "", '<', n);
	size_t i, end;
	if (lt) {
		i = (size_t)(lt - v) + 1;
		const uint8_t *gt = memchr(v + i, '>', n - i);
		end = gt ? (size_t)(gt - v) : n;
	} else {
		i = 0;
		while (i < n && (is_wsp(v[i]) || v[i] == '(')) {
			if (v[i] == '(')
				i = read_comment(v, n, i, NULL);
			else
				i++;
		}
		end = i;
		while (end < n && !is_wsp(v[end]) && v[end] != '(')
			end++;
	}
	for (; i < end; i++)
		if (!is_wsp(v[i]))
			wr_u8(out, v[i]);
	mimehdr_clean_line(out, start);
}

/* ---- Date ---- */

#define DATE_TOKENS_MAX 16

enum dtok_kind { DT_NUM, DT_SIGNED, DT_WORD, DT_COLON };

struct dtok {
	enum dtok_kind kind;
	int sign;
	unsigned digits;
	long value;
	char word[12];
};

static int month_of(const char *w)
{
	static const char names[12][4] = { "jan", "feb", "mar", "apr", "may", "jun",
		                               "jul", "aug", "sep", "oct", "nov", "dec" };
	if (strlen(w) < 3)
		return 0;
	for (int m = 0; m < 12; m++)
		if (memcmp(w, names[m], 3) == 0)
			return m + 1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned month_days(long y, int m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static size_t date_tokens(const uint8_t *v, size_t n, struct dtok *t)
{
	size_t count = 0, i = 0;
	while (i < n && count < DATE_TOKENS_MAX) {
		uint8_t c = v[i];
		if (c == '(') {
			i = read_comment(v, n, i, NULL);
			continue;
		}
		struct dtok *k = &t[count];
		memset(k, 0, sizeof(*k));
		if (is_digit(c) || ((c == '+' || c == '-') && i + 1 < n && is_digit(v[i + 1]))) {
			k->kind = is_digit(c) ? DT_NUM : DT_SIGNED;
			k->sign = c == '-' ? -1 : 1;
			if (!is_digit(c))
				i++;
			while (i < n && is_digit(v[i])) {
				if (k->digits < 9)
					k->value = k->value * 10 + (v[i] - '0');
				k->digits++;
				i++;
			}
			count++;
		} else if (is_alpha(c)) {
			size_t w = 0;
			while (i < n && is_alpha(v[i])) {
				if (w < sizeof(k->word) - 1)
					k->word[w++] = (char)lower(v[i]);
				i++;
			}
			k->kind = DT_WORD;
			count++;
		} else if (c == ':') {
			k->kind = DT_COLON;
			i++;
			count++;
		} else {
			i++; /* whitespace, commas, dots */
		}
	}
	return count;
}

static bool zone_word(const char *w, int *ret_min)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
		{ "est", -300 }, { "edt", -240 }, { "cst", -360 }, { "cdt", -300 },
		{ "mst", -420 }, { "mdt", -360 }, { "pst", -480 }, { "pdt", -420 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		if (strcmp(w, zones[i].name) == 0) {
			*ret_min = zones[i].minutes;
			return true;
		}
	}
	/* military letters and unknown names: RFC 5322 4.3 says treat as -0000 */
	*ret_min = 0;
	return w[0] != '\0';
}

bool mimehdr_date(const uint8_t *v, size_t n, int64_t *ret_time, int16_t *ret_tz)
{
	struct dtok t[DATE_TOKENS_MAX];
	size_t cnt = date_tokens(v, n, t), i = 0;
	long day = -1, year = -1, hour, min, sec = 0;
	int month = 0, tz = 0;
	unsigned year_digits = 0;
	if (i < cnt && t[i].kind == DT_WORD && !month_of(t[i].word))
		i++; /* day of week */
	if (i + 1 < cnt && t[i].kind == DT_NUM && t[i + 1].kind == DT_WORD) {
		day = t[i].value, month = month_of(t[i + 1].word), i += 2;
	} else if (i + 1 < cnt && t[i].kind == DT_WORD && t[i + 1].kind == DT_NUM) {
		month = month_of(t[i].word), day = t[i + 1].value, i += 2; /* "Jan 2" */
	}
	if (!month || t[i - 1].digits > 2 || (i >= 2 && t[i - 2].kind == DT_NUM && t[i - 2].digits > 2))
		return false;
	if (i < cnt && t[i].kind == DT_NUM && !(i + 1 < cnt && t[i + 1].kind == DT_COLON)) {
		year = t[i].value, year_digits = t[i].digits, i++;
	}
	if (!(i + 2 < cnt && t[i].kind == DT_NUM && t[i + 1].kind == DT_COLON && t[i + 2].kind == DT_NUM))
		return false;
	if (t[i].digits > 2 || t[i + 2].digits != 2)
		return false;
	hour = t[i].value, min = t[i + 2].value, i += 3;
	if (i + 1 < cnt && t[i].kind == DT_COLON && t[i + 1].kind == DT_NUM) {
		if (t[i + 1].digits != 2)
			return false;
		sec = t[i + 1].value, i += 2;
	}
	if (year < 0 && i < cnt && t[i].kind == DT_NUM) /* asctime: year after the time */
		year = t[i].value, year_digits = t[i].digits, i++;
	if (i < cnt && t[i].kind == DT_SIGNED) {
		if (t[i].digits != 4)
			return false;
		long hh = t[i].value / 100, mm = t[i].value % 100;
		if (mm > 59)
			return false;
		tz = t[i].sign * (int)(hh * 60 + mm);
		i++;
	} else if (i < cnt && t[i].kind == DT_WORD) {
		zone_word(t[i].word, &tz);
		i++;
	}
	if (year < 0 || year_digits > 4)
		return false;
	if (year_digits <= 2)
		year += year < 50 ? 2000 : 1900;
	else if (year_digits == 3)
		year += 1900;
	if (year < 1900 || year > 9999 || day < 1 || day > (long)month_days(year, month) || hour > 23 ||
	    min > 59 || sec > 60)
		return false;
	if (tz > MSG_TZ_MAX_MINUTES || tz < -MSG_TZ_MAX_MINUTES)
		return false;
	int64_t days = days_from_civil(year, (unsigned)month, (unsigned)day);
	*ret_time = days * 86400 + hour * 3600 + min * 60 + sec - (int64_t)tz * 60;
	*ret_tz = (int16_t)tz;
	return true;
}

/* ---- Content-Type and Content-Disposition ---- */

struct param_sec {
	size_t off, len; /* in the values buffer */
	bool ext;
	bool present;
};

static bool is_token_char(uint8_t c)
{
	return c > ' ' && c < 0x7F && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* Reads a token into buf (lower-case); returns the offset after it. */
static size_t read_token(const uint8_t *v, size_t n, size_t i, char *buf, size_t cap, bool *ret_ok)
{
	size_t k = 0;
	*ret_ok = true;
	while (i < n && is_token_char(v[i])) {
		if (k + 1 < cap)
			buf[k++] = (char)lower(v[i]);
		else
			*ret_ok = false;
		i++;
	}
	buf[k] = '\0';
	if (k == 0)
		*ret_ok = false;
	return i;
}

static size_t skip_cfws(const uint8_t *v, size_t n, size_t i)
{
	while (i < n) {
		if (is_wsp(v[i]))
			i++;
		else if (v[i] == '(')
			i = read_comment(v, n, i, NULL);
		else
			break;
	}
	return i;
}

static void pct_decode(struct wr *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n + 0 && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			wr_u8(out, (uint8_t)(hexval(p[i + 1]) << 4 | hexval(p[i + 2])));
			i += 2;
		} else {
			wr_u8(out, p[i]);
		}
	}
}

/* charset'lang'pct-encoded -> UTF-8 */
static void ext_value_append(struct wr *out, const uint8_t *p, size_t n, struct wr *raw,
                             char *charset, bool first)
{
	size_t i = 0;
	if (first) {
		const uint8_t *q1 = memchr(p ? (const void *)p : "", '\'', n);
		const uint8_t *q2 = q1 ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - p)) : NULL;
		if (q2) {
			size_t cl = (size_t)(q1 - p);
			if (cl > CHARSET_LABEL_MAX)
				cl = 0;
			memcpy(charset, p, cl);
			charset[cl] = '\0';
			i = (size_t)(q2 + 1 - p);
		}
	}
	(void)out;
	pct_decode(raw, p + i, n - i);
}

void mimehdr_ctype_parse(struct mimehdr_ctype *ct, const uint8_t *v, size_t n, bool is_disp)
{
	struct wr vals = WR_INIT;
	wr_reserve(&vals, 1); /* never NULL below, even when every value is empty */
	vals.len = 0;
	struct param_sec secs[MIMEHDR_PARAM_SECTIONS_MAX];
	struct param_sec plain = { 0 }, single = { 0 };
	bool ok;
	memset(secs, 0, sizeof(secs));
	size_t i = skip_cfws(v, n, 0);
	i = read_token(v, n, i, ct->type, sizeof(ct->type), &ok);
	if (!ok)
		ct->type[0] = '\0';
	if (!is_disp) {
		i = skip_cfws(v, n, i);
		if (i < n && v[i] == '/') {
			i = skip_cfws(v, n, i + 1);
			i = read_token(v, n, i, ct->subtype, sizeof(ct->subtype), &ok);
			if (!ok)
				ct->type[0] = ct->subtype[0] = '\0';
		} else {
			ct->type[0] = ct->subtype[0] = '\0';
		}
	}
	const char *want = is_disp ? "filename" : "name";
	while (i < n) {
		/* to the next ';' outside quotes */
		while (i < n && v[i] != ';') {
			if (v[i] == '"')
				i = read_quoted(v, n, i, NULL);
			else if (v[i] == '(')
				i = read_comment(v, n, i, NULL);
			else
				i++;
		}
		if (i >= n)
			break;
		i = skip_cfws(v, n, i + 1);
		char pname[MIMEHDR_PARAM_NAME_MAX + 1];
		size_t k = 0;
		while (i < n && is_token_char(v[i]) && v[i] != '*') {
			if (k < MIMEHDR_PARAM_NAME_MAX)
				pname[k++] = (char)lower(v[i]);
			i++;
		}
		pname[k] = '\0';
		long section = -1;
		bool ext = false;
		if (i < n && v[i] == '*') {
			i++;
			if (i < n && is_digit(v[i])) {
				section = 0;
				while (i < n && is_digit(v[i])) {
					if (section < 1000)
						section = section * 10 + (v[i] - '0');
					i++;
				}
				if (i < n && v[i] == '*')
					ext = true, i++;
			} else {
				ext = true;
			}
		}
		i = skip_cfws(v, n, i);
		if (i >= n || v[i] != '=')
			continue;
		i = skip_cfws(v, n, i + 1);
		size_t off = vals.len;
		if (i < n && v[i] == '"') {
			i = read_quoted(v, n, i, &vals);
		} else {
			size_t s = i;
			while (i < n && v[i] != ';')
				i++;
			size_t e = i;
			while (e > s && is_wsp(v[e - 1]))
				e--;
			wr_put(&vals, v + s, e - s);
		}
		struct param_sec ps = { off, vals.len - off, ext, true };
		if (strcmp(pname, want) == 0) {
			if (section >= 0 && section < MIMEHDR_PARAM_SECTIONS_MAX) {
				if (!secs[section].present)
					secs[section] = ps;
			} else if (section < 0 && ext) {
				if (!single.present)
					single = ps;
			} else if (section < 0 && !plain.present) {
				plain = ps;
			}
		} else if (section < 0 && !ext) {
			const uint8_t *pv = vals.p + off;
			size_t pl = vals.len - off;
			if (!is_disp && strcmp(pname, "boundary") == 0 && !ct->has_boundary && pl > 0) {
				wr_put(&ct->boundary, pv, pl);
				ct->has_boundary = true;
			} else if (!is_disp && strcmp(pname, "charset") == 0 && ct->charset.len == 0) {
				for (size_t x = 0; x < pl; x++)
					wr_u8(&ct->charset, lower(pv[x]));
			} else if (!is_disp && strcmp(pname, "format") == 0) {
				ct->flowed = pl == 6 && strncasecmp((const char *)pv, "flowed", 6) == 0;
			} else if (!is_disp && strcmp(pname, "delsp") == 0) {
				ct->delsp = pl == 3 && strncasecmp((const char *)pv, "yes", 3) == 0;
			}
		} else if (!is_disp && strcmp(pname, "charset") == 0 && ct->charset.len == 0 && ext) {
			/* charset*=''utf-8 (seen in the wild) */
			struct wr tmp = WR_INIT;
			char cs[CHARSET_LABEL_MAX + 1] = "";
			ext_value_append(NULL, vals.p + off, vals.len - off, &tmp, cs, true);
			for (size_t x = 0; x < tmp.len; x++)
				wr_u8(&ct->charset, lower(tmp.p[x]));
			wr_free(&tmp);
		}
	}
	/* the name: RFC 2231 sections, else name*=, else the plain value */
	struct wr raw = WR_INIT;
	char cs[CHARSET_LABEL_MAX + 1] = "";
	if (secs[0].present) {
		for (size_t s = 0; s < MIMEHDR_PARAM_SECTIONS_MAX && secs[s].present; s++) {
			if (secs[s].ext)
				ext_value_append(NULL, vals.p + secs[s].off, secs[s].len, &raw, cs, s == 0);
			else
				wr_put(&raw, vals.p + secs[s].off, secs[s].len);
		}
		if (charset_to_utf8(&ct->name, cs, raw.p, raw.len) < 0)
			utf8_append_lenient(&ct->name, raw.p, raw.len);
		mimehdr_clean_line(&ct->name, 0);
	} else if (single.present) {
		ext_value_append(NULL, vals.p + single.off, single.len, &raw, cs, true);
		if (charset_to_utf8(&ct->name, cs, raw.p, raw.len) < 0)
			utf8_append_lenient(&ct->name, raw.p, raw.len);
		mimehdr_clean_line(&ct->name, 0);
	}
	if (ct->name.len == 0 && plain.present)
		mimehdr_decode_text(&ct->name, vals.p + plain.off, plain.len);
	wr_free(&raw);
	wr_free(&vals);
}

void mimehdr_ctype_free(struct mimehdr_ctype *ct)
{
	wr_free(&ct->boundary);
	wr_free(&ct->charset);
	wr_free(&ct->name);
}
