/* charset.c: any charset label to UTF-8 for Deliver (docs/PROTOCOL.md 19.6).
 * UTF-8 and windows-1252 (which also serves latin-1 and unlabelled 8-bit
 * text, as browsers do) are decoded here; everything else goes through glibc
 * iconv, with a small per-thread cache of open converters because
 * iconv_open loads modules and is far slower than a conversion. */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

/* Open converters kept per thread. */
#define CHARSET_CACHE_SLOTS 8

static const uint8_t replacement[3] = { 0xEF, 0xBF, 0xBD }; /* U+FFFD */

/* windows-1252 0x80..0x9F; 0xFFFD where the code page defines nothing. */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

uint32_t cp1252_to_cp(uint8_t b)
{
	return b >= 0x80 && b < 0xA0 ? cp1252_high[b - 0x80] : b;
}

void utf8_put(struct wr *out, uint32_t cp)
{
	uint8_t b[4];
	size_t n;
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		b[0] = (uint8_t)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xE0 | cp >> 12), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		b[0] = (uint8_t)(0xF0 | cp >> 18), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	wr_put(out, b, n);
}

void utf8_append_lenient(struct wr *out, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	size_t i = 0, run = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i, NULL);
		if (k) {
			i += k;
			continue;
		}
		wr_put(out, p + run, i - run);
		wr_put(out, replacement, sizeof(replacement));
		run = ++i;
	}
	wr_put(out, p + run, n - run);
}

static void cp1252_append(struct wr *out, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80)
			continue;
		wr_put(out, p + run, i - run);
		utf8_put(out, p[i] >= 0xA0 ? p[i] : cp1252_high[p[i] - 0x80]);
		run = i + 1;
	}
	wr_put(out, p + run, n - run);
}

void text_append_auto(struct wr *out, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (utf8_valid(p, n))
		wr_put(out, p, n);
	else
		cp1252_append(out, p, n);
}

enum cs_kind { CS_AUTO, CS_UTF8, CS_CP1252, CS_ICONV };

/* Labels decoded without iconv, and aliases that iconv would read
 * differently from mail clients (WHATWG Encoding Standard choices). */
static const struct {
	const char *label;
	enum cs_kind kind;
	const char *iconv_name;
} cs_aliases[] = {
	{ "646", CS_AUTO, NULL },
	{ "ansi_x3.4-1968", CS_AUTO, NULL },
	{ "ascii", CS_AUTO, NULL },
	{ "big5", CS_ICONV, "BIG5-HKSCS" },
	{ "chinese", CS_ICONV, "GBK" },
	{ "cp1252", CS_CP1252, NULL },
	{ "cp819", CS_CP1252, NULL },
	{ "csgb2312", CS_ICONV, "GBK" },
	{ "csshiftjis", CS_ICONV, "CP932" },
	{ "default", CS_AUTO, NULL },
	{ "euc-kr", CS_ICONV, "CP949" },
	{ "gb2312", CS_ICONV, "GBK" },
	{ "gb_2312-80", CS_ICONV, "GBK" },
	{ "iso-8859-1", CS_CP1252, NULL },
	{ "iso8859-1", CS_CP1252, NULL },
	{ "iso_8859-1", CS_CP1252, NULL },
	{ "iso646-us", CS_AUTO, NULL },
	{ "ks_c_5601-1987", CS_ICONV, "CP949" },
	{ "ksc5601", CS_ICONV, "CP949" },
	{ "l1", CS_CP1252, NULL },
	{ "latin1", CS_CP1252, NULL },
	{ "ms_kanji", CS_ICONV, "CP932" },
	{ "shift-jis", CS_ICONV, "CP932" },
	{ "shift_jis", CS_ICONV, "CP932" },
	{ "sjis", CS_ICONV, "CP932" },
	{ "unicode-1-1-utf-8", CS_UTF8, NULL },
	{ "unknown", CS_AUTO, NULL },
	{ "unknown-8bit", CS_AUTO, NULL },
	{ "us", CS_AUTO, NULL },
	{ "us-ascii", CS_AUTO, NULL },
	{ "utf-8", CS_UTF8, NULL },
	{ "utf8", CS_UTF8, NULL },
	{ "windows-1252", CS_CP1252, NULL },
	{ "windows-31j", CS_ICONV, "CP932" },
	{ "x-cp1252", CS_CP1252, NULL },
	{ "x-sjis", CS_ICONV, "CP932" },
	{ "x-unknown", CS_AUTO, NULL },
	{ "x-user-defined", CS_AUTO, NULL },
};

struct cs_slot {
	char name[CHARSET_LABEL_MAX + 1];
	iconv_t cd; /* (iconv_t)-1: iconv does not know the name */
	unsigned long used;
};

static _Thread_local struct cs_slot cs_cache[CHARSET_CACHE_SLOTS];
static _Thread_local unsigned long cs_clock;

static iconv_t cs_open(const char *name)
{
	struct cs_slot *victim = &cs_cache[0];
	cs_clock++;
	for (size_t i = 0; i < CHARSET_CACHE_SLOTS; i++) {
		struct cs_slot *s = &cs_cache[i];
		if (s->used && strcmp(s->name, name) == 0) {
			s->used = cs_clock;
			return s->cd;
		}
		if (s->used < victim->used)
			victim = s;
	}
	if (victim->used && victim->cd != (iconv_t)-1)
		iconv_close(victim->cd);
	snprintf(victim->name, sizeof(victim->name), "%s", name);
	victim->cd = iconv_open("UTF-8", name);
	victim->used = cs_clock;
	return victim->cd;
}

static void iconv_append(struct wr *out, iconv_t cd, const uint8_t *p, size_t n)
{
	char buf[4096];
	char *in = (char *)(uintptr_t)p;
	size_t inleft = n;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (inleft > 0) {
		char *o = buf;
		size_t oleft = sizeof(buf);
		size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
		int err = rc == (size_t)-1 ? errno : 0;
		wr_put(out, buf, (size_t)(o - buf));
		if (err == 0 || err == E2BIG)
			continue;
		wr_put(out, replacement, sizeof(replacement));
		if (err == EILSEQ) {
			in++, inleft--;
			continue;
		}
		break; /* EINVAL: a sequence cut at the end */
	}
	char *o = buf;
	size_t oleft = sizeof(buf);
	iconv(cd, NULL, NULL, &o, &oleft); /* back to the initial shift state */
	wr_put(out, buf, (size_t)(o - buf));
}

int charset_to_utf8(struct wr *out, const char *charset, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	char label[CHARSET_LABEL_MAX + 1];
	size_t len = 0;
	bool ok = true;
	if (charset) {
		const char *s = charset;
		while (*s == ' ' || *s == '\t' || *s == '"')
			s++;
		for (; *s && *s != '"' && *s != ' ' && *s != '\t' && *s != '*'; s++) {
			char c = *s;
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			               c == '_' || c == '.' || c == ':';
			if (!allowed || len == CHARSET_LABEL_MAX) {
				ok = false;
				break;
			}
			label[len++] = c;
		}
	}
	label[len] = '\0';
	if (len == 0 && ok) {
		text_append_auto(out, p, n);
		return 0;
	}
	enum cs_kind kind = CS_ICONV;
	const char *iname = label;
	if (!ok) {
		kind = CS_UTF8; /* a label iconv must never see: unknown */
	} else {
		size_t lo = 0, hi = ARRAY_SIZE(cs_aliases);
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = strcmp(label, cs_aliases[mid].label);
			if (c == 0) {
				kind = cs_aliases[mid].kind;
				if (cs_aliases[mid].iconv_name)
					iname = cs_aliases[mid].iconv_name;
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	switch (kind) {
	case CS_AUTO:
		text_append_auto(out, p, n);
		return 0;
	case CS_UTF8:
		utf8_append_lenient(out, p, n);
		return 0;
	case CS_CP1252:
		cp1252_append(out, p, n);
		return 0;
	case CS_ICONV:
		break;
	}
	iconv_t cd = cs_open(iname);
	if (cd == (iconv_t)-1) {
		utf8_append_lenient(out, p, n); /* unknown label */
		return 0;
	}
	size_t start = out->len;
	iconv_append(out, cd, p, n);
	/* iconv's UTF-8 output is valid, but never trust a converter module. */
	if (out->len > start && !utf8_valid(out->p + start, out->len - start)) {
		struct wr tmp = WR_INIT;
		utf8_append_lenient(&tmp, out->p + start, out->len - start);
		out->len = start;
		wr_put(out, tmp.p, tmp.len);
		wr_free(&tmp);
	}
	return 0;
}
