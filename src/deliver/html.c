/* html.c: HTML to CET for Deliver (docs/PROTOCOL.md 19.5). A tolerant
 * tokenizer, not a DOM: one pass over the input, a small stack of open
 * layout elements (tables and lists, at most CET_DEPTH_MAX) and counters for
 * the text styles. Whitespace is collapsed and block boundaries become line
 * breaks as a browser would show them; only http and https links survive.
 * Every construct is closed at the end, so the output always passes
 * cet_validate and can be followed by more CET. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/cet.h"
#include "common/utf8.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

/* Longest tag name told apart (longer ones are unknown elements). */
#define HTML_TAG_NAME_MAX 12
/* Longest entity name looked up. */
#define HTML_ENTITY_NAME_MAX 32
/* Bytes kept back so that every open toggle and layout element can be closed. */
#define HTML_CLOSE_RESERVE (9 + CET_DEPTH_MAX)
/* Style nesting counters saturate here. */
#define HTML_STYLE_MAX 0xFFFF

struct entity {
	const char *name;
	uint32_t cp;
	uint8_t legacy; /* also recognised without the ';' */
};

/* HTML 4.01's entities (with HTML5's values), &apos;, the upper-case legacy
 * forms, and a few HTML5 names common in mail; sorted by name (bytes). */
static const struct entity entities[] = {
	{ "AElig", 0xC6, 1 }, { "AMP", 0x26, 1 }, { "Aacute", 0xC1, 1 }, { "Acirc", 0xC2, 1 },
	{ "Agrave", 0xC0, 1 }, { "Alpha", 0x391, 0 }, { "Aring", 0xC5, 1 }, { "Atilde", 0xC3, 1 },
	{ "Auml", 0xC4, 1 }, { "Beta", 0x392, 0 }, { "COPY", 0xA9, 1 }, { "Ccedil", 0xC7, 1 },
	{ "Chi", 0x3A7, 0 }, { "Dagger", 0x2021, 0 }, { "Delta", 0x394, 0 }, { "ETH", 0xD0, 1 },
	{ "Eacute", 0xC9, 1 }, { "Ecirc", 0xCA, 1 }, { "Egrave", 0xC8, 1 }, { "Epsilon", 0x395, 0 },
	{ "Eta", 0x397, 0 }, { "Euml", 0xCB, 1 }, { "GT", 0x3E, 1 }, { "Gamma", 0x393, 0 },
	{ "Iacute", 0xCD, 1 }, { "Icirc", 0xCE, 1 }, { "Igrave", 0xCC, 1 }, { "Iota", 0x399, 0 },
	{ "Iuml", 0xCF, 1 }, { "Kappa", 0x39A, 0 }, { "LT", 0x3C, 1 }, { "Lambda", 0x39B, 0 },
	{ "Mu", 0x39C, 0 }, { "NewLine", 0xA, 0 }, { "Ntilde", 0xD1, 1 }, { "Nu", 0x39D, 0 },
	{ "OElig", 0x152, 0 }, { "Oacute", 0xD3, 1 }, { "Ocirc", 0xD4, 1 }, { "Ograve", 0xD2, 1 },
	{ "Omega", 0x3A9, 0 }, { "Omicron", 0x39F, 0 }, { "Oslash", 0xD8, 1 }, { "Otilde", 0xD5, 1 },
	{ "Ouml", 0xD6, 1 }, { "Phi", 0x3A6, 0 }, { "Pi", 0x3A0, 0 }, { "Prime", 0x2033, 0 },
	{ "Psi", 0x3A8, 0 }, { "QUOT", 0x22, 1 }, { "REG", 0xAE, 1 }, { "Rho", 0x3A1, 0 },
	{ "Scaron", 0x160, 0 }, { "Sigma", 0x3A3, 0 }, { "THORN", 0xDE, 1 }, { "Tab", 0x9, 0 },
	{ "Tau", 0x3A4, 0 }, { "Theta", 0x398, 0 }, { "Uacute", 0xDA, 1 }, { "Ucirc", 0xDB, 1 },
	{ "Ugrave", 0xD9, 1 }, { "Upsilon", 0x3A5, 0 }, { "Uuml", 0xDC, 1 }, { "Xi", 0x39E, 0 },
	{ "Yacute", 0xDD, 1 }, { "Yuml", 0x178, 0 }, { "Zeta", 0x396, 0 }, { "aacute", 0xE1, 1 },
	{ "acirc", 0xE2, 1 }, { "acute", 0xB4, 1 }, { "aelig", 0xE6, 1 }, { "agrave", 0xE0, 1 },
	{ "alefsym", 0x2135, 0 }, { "alpha", 0x3B1, 0 }, { "amp", 0x26, 1 }, { "and", 0x2227, 0 },
	{ "ang", 0x2220, 0 }, { "apos", 0x27, 0 }, { "aring", 0xE5, 1 }, { "ast", 0x2A, 0 },
	{ "asymp", 0x2248, 0 }, { "atilde", 0xE3, 1 }, { "auml", 0xE4, 1 }, { "bdquo", 0x201E, 0 },
	{ "beta", 0x3B2, 0 }, { "brvbar", 0xA6, 1 }, { "bsol", 0x5C, 0 }, { "bull", 0x2022, 0 },
	{ "bullet", 0x2022, 0 }, { "cap", 0x2229, 0 }, { "ccedil", 0xE7, 1 }, { "cedil", 0xB8, 1 },
	{ "cent", 0xA2, 1 }, { "check", 0x2713, 0 }, { "chi", 0x3C7, 0 }, { "circ", 0x2C6, 0 },
	{ "clubs", 0x2663, 0 }, { "colon", 0x3A, 0 }, { "comma", 0x2C, 0 }, { "cong", 0x2245, 0 },
	{ "copy", 0xA9, 1 }, { "crarr", 0x21B5, 0 }, { "cup", 0x222A, 0 }, { "curren", 0xA4, 1 },
	{ "dArr", 0x21D3, 0 }, { "dagger", 0x2020, 0 }, { "darr", 0x2193, 0 }, { "dash", 0x2010, 0 },
	{ "deg", 0xB0, 1 }, { "delta", 0x3B4, 0 }, { "diams", 0x2666, 0 }, { "divide", 0xF7, 1 },
	{ "dollar", 0x24, 0 }, { "eacute", 0xE9, 1 }, { "ecirc", 0xEA, 1 }, { "egrave", 0xE8, 1 },
	{ "empty", 0x2205, 0 }, { "emsp", 0x2003, 0 }, { "ensp", 0x2002, 0 }, { "epsilon", 0x3B5, 0 },
	{ "equals", 0x3D, 0 }, { "equiv", 0x2261, 0 }, { "eta", 0x3B7, 0 }, { "eth", 0xF0, 1 },
	{ "euml", 0xEB, 1 }, { "euro", 0x20AC, 0 }, { "excl", 0x21, 0 }, { "exist", 0x2203, 0 },
	{ "female", 0x2640, 0 }, { "fnof", 0x192, 0 }, { "forall", 0x2200, 0 }, { "frac12", 0xBD, 1 },
	{ "frac14", 0xBC, 1 }, { "frac34", 0xBE, 1 }, { "frasl", 0x2044, 0 }, { "gamma", 0x3B3, 0 },
	{ "ge", 0x2265, 0 }, { "grave", 0x60, 0 }, { "gt", 0x3E, 1 }, { "hArr", 0x21D4, 0 },
	{ "harr", 0x2194, 0 }, { "hearts", 0x2665, 0 }, { "hellip", 0x2026, 0 },
	{ "hyphen", 0x2010, 0 }, { "iacute", 0xED, 1 }, { "icirc", 0xEE, 1 }, { "iexcl", 0xA1, 1 },
	{ "igrave", 0xEC, 1 }, { "image", 0x2111, 0 }, { "infin", 0x221E, 0 }, { "int", 0x222B, 0 },
	{ "iota", 0x3B9, 0 }, { "iquest", 0xBF, 1 }, { "isin", 0x2208, 0 }, { "iuml", 0xEF, 1 },
	{ "kappa", 0x3BA, 0 }, { "lArr", 0x21D0, 0 }, { "lambda", 0x3BB, 0 }, { "lang", 0x27E8, 0 },
	{ "laquo", 0xAB, 1 }, { "larr", 0x2190, 0 }, { "lceil", 0x2308, 0 }, { "lcub", 0x7B, 0 },
	{ "ldquo", 0x201C, 0 }, { "le", 0x2264, 0 }, { "lfloor", 0x230A, 0 }, { "lowast", 0x2217, 0 },
	{ "lowbar", 0x5F, 0 }, { "loz", 0x25CA, 0 }, { "lpar", 0x28, 0 }, { "lrm", 0x200E, 0 },
	{ "lsaquo", 0x2039, 0 }, { "lsqb", 0x5B, 0 }, { "lsquo", 0x2018, 0 }, { "lt", 0x3C, 1 },
	{ "macr", 0xAF, 1 }, { "male", 0x2642, 0 }, { "mdash", 0x2014, 0 }, { "micro", 0xB5, 1 },
	{ "middot", 0xB7, 1 }, { "minus", 0x2212, 0 }, { "mu", 0x3BC, 0 }, { "nabla", 0x2207, 0 },
	{ "nbsp", 0xA0, 1 }, { "ndash", 0x2013, 0 }, { "ne", 0x2260, 0 }, { "ni", 0x220B, 0 },
	{ "not", 0xAC, 1 }, { "notin", 0x2209, 0 }, { "nsub", 0x2284, 0 }, { "ntilde", 0xF1, 1 },
	{ "nu", 0x3BD, 0 }, { "num", 0x23, 0 }, { "oacute", 0xF3, 1 }, { "ocirc", 0xF4, 1 },
	{ "oelig", 0x153, 0 }, { "ograve", 0xF2, 1 }, { "oline", 0x203E, 0 }, { "omega", 0x3C9, 0 },
	{ "omicron", 0x3BF, 0 }, { "oplus", 0x2295, 0 }, { "or", 0x2228, 0 }, { "ordf", 0xAA, 1 },
	{ "ordm", 0xBA, 1 }, { "oslash", 0xF8, 1 }, { "otilde", 0xF5, 1 }, { "otimes", 0x2297, 0 },
	{ "ouml", 0xF6, 1 }, { "para", 0xB6, 1 }, { "part", 0x2202, 0 }, { "percnt", 0x25, 0 },
	{ "period", 0x2E, 0 }, { "permil", 0x2030, 0 }, { "perp", 0x22A5, 0 }, { "phi", 0x3C6, 0 },
	{ "phone", 0x260E, 0 }, { "pi", 0x3C0, 0 }, { "piv", 0x3D6, 0 }, { "plus", 0x2B, 0 },
	{ "plusmn", 0xB1, 1 }, { "pound", 0xA3, 1 }, { "prime", 0x2032, 0 }, { "prod", 0x220F, 0 },
	{ "prop", 0x221D, 0 }, { "psi", 0x3C8, 0 }, { "quest", 0x3F, 0 }, { "quot", 0x22, 1 },
	{ "rArr", 0x21D2, 0 }, { "radic", 0x221A, 0 }, { "rang", 0x27E9, 0 }, { "raquo", 0xBB, 1 },
	{ "rarr", 0x2192, 0 }, { "rceil", 0x2309, 0 }, { "rcub", 0x7D, 0 }, { "rdquo", 0x201D, 0 },
	{ "real", 0x211C, 0 }, { "reg", 0xAE, 1 }, { "rfloor", 0x230B, 0 }, { "rho", 0x3C1, 0 },
	{ "rlm", 0x200F, 0 }, { "rpar", 0x29, 0 }, { "rsaquo", 0x203A, 0 }, { "rsqb", 0x5D, 0 },
	{ "rsquo", 0x2019, 0 }, { "sbquo", 0x201A, 0 }, { "scaron", 0x161, 0 }, { "sdot", 0x22C5, 0 },
	{ "sect", 0xA7, 1 }, { "semi", 0x3B, 0 }, { "shy", 0xAD, 1 }, { "sigma", 0x3C3, 0 },
	{ "sigmaf", 0x3C2, 0 }, { "sim", 0x223C, 0 }, { "sol", 0x2F, 0 }, { "spades", 0x2660, 0 },
	{ "star", 0x2606, 0 }, { "starf", 0x2605, 0 }, { "sub", 0x2282, 0 }, { "sube", 0x2286, 0 },
	{ "sum", 0x2211, 0 }, { "sup", 0x2283, 0 }, { "sup1", 0xB9, 1 }, { "sup2", 0xB2, 1 },
	{ "sup3", 0xB3, 1 }, { "supe", 0x2287, 0 }, { "szlig", 0xDF, 1 }, { "tau", 0x3C4, 0 },
	{ "there4", 0x2234, 0 }, { "theta", 0x3B8, 0 }, { "thetasym", 0x3D1, 0 },
	{ "thinsp", 0x2009, 0 }, { "thorn", 0xFE, 1 }, { "tilde", 0x2DC, 0 }, { "times", 0xD7, 1 },
	{ "trade", 0x2122, 0 }, { "uArr", 0x21D1, 0 }, { "uacute", 0xFA, 1 }, { "uarr", 0x2191, 0 },
	{ "ucirc", 0xFB, 1 }, { "ugrave", 0xF9, 1 }, { "uml", 0xA8, 1 }, { "upsih", 0x3D2, 0 },
	{ "upsilon", 0x3C5, 0 }, { "uuml", 0xFC, 1 }, { "verbar", 0x7C, 0 }, { "weierp", 0x2118, 0 },
	{ "xi", 0x3BE, 0 }, { "yacute", 0xFD, 1 }, { "yen", 0xA5, 1 }, { "yuml", 0xFF, 1 },
	{ "zeta", 0x3B6, 0 }, { "zwj", 0x200D, 0 }, { "zwnj", 0x200C, 0 },
};

enum style { ST_BIG, ST_SMALL, ST_SUB, ST_SUP, ST_MONO, ST_BOLD, ST_ITALIC, ST_UNDER, ST_STRIKE,
	         ST_COUNT };

static const uint8_t style_char[ST_COUNT] = {
	CET_BIG, CET_SMALL, CET_SUB, CET_SUP, CET_MONO, CET_BOLD, CET_ITALIC, CET_UNDERLINE, CET_STRIKE,
};

enum kind {
	K_NONE,      /* no effect (span, font, unknown) */
	K_BLOCK,     /* arg: line breaks before and after (1, or 2 for a blank line) */
	K_STYLE,     /* arg: enum style */
	K_HEADING,   /* block 2 + BIG */
	K_PRE,       /* block 2 + MONO + whitespace kept */
	K_BR,
	K_HR,
	K_A,
	K_IMG,
	K_MEDIA,     /* src= is a file link */
	K_FRAME,     /* src= is a document link, content skipped */
	K_SKIP,      /* content skipped up to the end tag (raw text) */
	K_PLAINTEXT, /* the rest of the input is text */
	K_TABLE,
	K_TR,
	K_TD,
	K_UL,
	K_OL,
	K_LI,
	K_HEAD,
	K_BODY,
	K_HEADMETA,  /* void elements of the head (meta, link, base) */
};

struct element {
	const char *name;
	uint8_t kind;
	uint8_t arg;
};

/* Sorted by name. */
static const struct element elements[] = {
	{ "a", K_A, 0 },            { "address", K_BLOCK, 1 },   { "article", K_BLOCK, 1 },
	{ "aside", K_BLOCK, 1 },    { "audio", K_MEDIA, 0 },     { "b", K_STYLE, ST_BOLD },
	{ "base", K_HEADMETA, 0 },  { "big", K_STYLE, ST_BIG },  { "blockquote", K_BLOCK, 2 },
	{ "body", K_BODY, 0 },      { "br", K_BR, 0 },           { "caption", K_BLOCK, 1 },
	{ "center", K_BLOCK, 1 },   { "cite", K_STYLE, ST_ITALIC }, { "code", K_STYLE, ST_MONO },
	{ "dd", K_BLOCK, 1 },       { "del", K_STYLE, ST_STRIKE }, { "details", K_BLOCK, 1 },
	{ "dfn", K_STYLE, ST_ITALIC }, { "dialog", K_BLOCK, 1 }, { "dir", K_UL, 0 },
	{ "div", K_BLOCK, 1 },      { "dl", K_BLOCK, 2 },        { "dt", K_BLOCK, 1 },
	{ "em", K_STYLE, ST_ITALIC }, { "embed", K_MEDIA, 0 },   { "fieldset", K_BLOCK, 1 },
	{ "figcaption", K_BLOCK, 1 }, { "figure", K_BLOCK, 2 },  { "footer", K_BLOCK, 1 },
	{ "form", K_BLOCK, 1 },     { "frame", K_FRAME, 0 },     { "h1", K_HEADING, 0 },
	{ "h2", K_HEADING, 0 },     { "h3", K_HEADING, 0 },      { "h4", K_HEADING, 0 },
	{ "h5", K_HEADING, 0 },     { "h6", K_HEADING, 0 },      { "head", K_HEAD, 0 },
	{ "header", K_BLOCK, 1 },   { "hgroup", K_BLOCK, 1 },    { "hr", K_HR, 0 },
	{ "i", K_STYLE, ST_ITALIC }, { "iframe", K_FRAME, 0 },   { "img", K_IMG, 0 },
	{ "ins", K_STYLE, ST_UNDER }, { "kbd", K_STYLE, ST_MONO }, { "legend", K_BLOCK, 1 },
	{ "li", K_LI, 0 },          { "link", K_HEADMETA, 0 },   { "listing", K_PRE, 0 },
	{ "main", K_BLOCK, 1 },     { "menu", K_UL, 0 },         { "meta", K_HEADMETA, 0 },
	{ "nav", K_BLOCK, 1 },      { "noembed", K_SKIP, 0 },    { "noframes", K_SKIP, 0 },
	{ "noscript", K_SKIP, 0 },  { "ol", K_OL, 0 },           { "option", K_BLOCK, 1 },
	{ "p", K_BLOCK, 2 },        { "plaintext", K_PLAINTEXT, 0 }, { "pre", K_PRE, 0 },
	{ "s", K_STYLE, ST_STRIKE }, { "samp", K_STYLE, ST_MONO }, { "script", K_SKIP, 0 },
	{ "section", K_BLOCK, 1 },  { "small", K_STYLE, ST_SMALL }, { "source", K_MEDIA, 0 },
	{ "strike", K_STYLE, ST_STRIKE }, { "strong", K_STYLE, ST_BOLD }, { "style", K_SKIP, 0 },
	{ "sub", K_STYLE, ST_SUB }, { "summary", K_BLOCK, 1 },  { "sup", K_STYLE, ST_SUP },
	{ "svg", K_SKIP, 0 },       { "table", K_TABLE, 0 },     { "td", K_TD, 0 },
	{ "template", K_SKIP, 0 },  { "textarea", K_PRE, 0 },    { "th", K_TD, 0 },
	{ "title", K_SKIP, 0 },     { "tr", K_TR, 0 },           { "track", K_MEDIA, 0 },
	{ "tt", K_STYLE, ST_MONO }, { "u", K_STYLE, ST_UNDER },  { "ul", K_UL, 0 },
	{ "var", K_STYLE, ST_ITALIC }, { "video", K_MEDIA, 0 },  { "xmp", K_PRE, 0 },
};

struct layout {
	uint8_t c; /* CET_TABLE .. CET_ITEM */
	uint16_t saved[ST_COUNT];
};

struct conv {
	struct wr *out;
	size_t limit;      /* out->len may not pass this (the close reserve is beyond) */
	bool stop;         /* output full: no more content */
	struct layout stack[CET_DEPTH_MAX];
	size_t depth;
	size_t flat;       /* tables and lists not opened (no depth left) */
	uint16_t want[ST_COUNT];
	bool on[ST_COUNT];
	bool styles_dirty; /* want may differ from on */
	unsigned pend_lf;  /* line breaks wanted before the next content (0-2) */
	bool pend_space;
	unsigned trailing_lf; /* line breaks since the last visible content */
	bool line_used;    /* visible content on the current line */
	bool flow_has;     /* visible content in the current flow context */
	unsigned pre;      /* inside pre-like elements */
	bool pre_skip_lf;  /* the LF right after <pre> is not shown */
	unsigned col;      /* column, for tabs in pre */
	struct wr scratch;
	struct wr url;
};

/* Where each first letter's names start in elements[]. */
static uint8_t element_first[27];
static pthread_once_t element_once = PTHREAD_ONCE_INIT;

static void element_index(void)
{
	size_t k = 0;
	for (int ch = 0; ch < 26; ch++) {
		element_first[ch] = (uint8_t)k;
		while (k < ARRAY_SIZE(elements) && elements[k].name[0] == 'a' + ch)
			k++;
	}
	element_first[26] = (uint8_t)k;
}

static const struct element *element_find(const char *name, size_t len)
{
	pthread_once(&element_once, element_index);
	if (len == 0 || name[0] < 'a' || name[0] > 'z')
		return NULL;
	int ch = name[0] - 'a';
	for (size_t i = element_first[ch]; i < element_first[ch + 1]; i++)
		if (elements[i].name[1] == name[1] && strcmp(elements[i].name, name) == 0)
			return &elements[i];
	return NULL;
}

static const struct entity *entity_find(const uint8_t *name, size_t n)
{
	size_t lo = 0, hi = ARRAY_SIZE(entities);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *e = entities[mid].name;
		int c = strncmp((const char *)name, e, n);
		if (c == 0 && e[n] != '\0')
			c = -1; /* name is a proper prefix of e */
		if (c == 0)
			return &entities[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_html_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c; }

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

/* Decodes the character reference at p[i] == '&'. Returns the bytes it takes
 * (0: not a reference, the '&' is text) and its code point. */
static size_t entity_decode(const uint8_t *p, size_t n, size_t i, bool in_attr, uint32_t *ret_cp)
{
	size_t j = i + 1;
	if (j < n && p[j] == '#') {
		j++;
		bool hex = j < n && (p[j] == 'x' || p[j] == 'X');
		if (hex)
			j++;
		size_t s = j;
		uint32_t v = 0;
		while (j < n && (hex ? hexval(p[j]) >= 0 : (p[j] >= '0' && p[j] <= '9'))) {
			uint32_t d = (uint32_t)(hex ? hexval(p[j]) : p[j] - '0');
			v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + d;
			j++;
		}
		if (j == s)
			return 0;
		if (j < n && p[j] == ';')
			j++;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		else if (v >= 0x80 && v <= 0x9F)
			v = cp1252_to_cp((uint8_t)v);
		*ret_cp = v;
		return j - i;
	}
	size_t s = j;
	while (j < n && j - s <= HTML_ENTITY_NAME_MAX && is_alnum(p[j]))
		j++;
	size_t len = j - s;
	if (len == 0 || len > HTML_ENTITY_NAME_MAX)
		return 0;
	if (j < n && p[j] == ';') {
		const struct entity *e = entity_find(p + s, len);
		if (e) {
			*ret_cp = e->cp;
			return len + 2;
		}
	}
	/* legacy names without ';': the longest prefix that is one */
	for (size_t k = len < 6 ? len : 6; k >= 2; k--) {
		const struct entity *e = entity_find(p + s, k);
		if (!e || !e->legacy)
			continue;
		if (in_attr && s + k < n && (is_alnum(p[s + k]) || p[s + k] == '='))
			return 0;
		*ret_cp = e->cp;
		return k + 1;
	}
	return 0;
}

/* ---- output ---- */

static bool room(struct conv *c, size_t n)
{
	if (c->stop)
		return false;
	if (n > c->limit - c->out->len || c->out->len > c->limit) {
		c->stop = true;
		return false;
	}
	return true;
}

static void put(struct conv *c, const void *p, size_t n)
{
	if (room(c, n))
		wr_put(c->out, p, n);
}

static void put_u8(struct conv *c, uint8_t b) { put(c, &b, 1); }

static uint8_t top(const struct conv *c) { return c->depth ? c->stack[c->depth - 1].c : 0; }

static void push(struct conv *c, uint8_t ch)
{
	if (!room(c, 1) || c->depth >= CET_DEPTH_MAX)
		return;
	wr_u8(c->out, ch);
	struct layout *l = &c->stack[c->depth++];
	l->c = ch;
	memcpy(l->saved, c->want, sizeof(l->saved));
	c->pend_lf = 0;
	c->pend_space = false;
	c->line_used = false;
	c->flow_has = false;
	c->trailing_lf = 0;
	c->col = 0;
}

/* Closing always fits: the reserve keeps room for it. */
static void pop(struct conv *c)
{
	struct layout *l = &c->stack[--c->depth];
	wr_u8(c->out, l->c);
	memcpy(c->want, l->saved, sizeof(c->want));
	c->styles_dirty = true;
	c->pend_lf = 0;
	c->pend_space = false;
	c->line_used = false;
	c->flow_has = true;
	c->trailing_lf = 1;
	c->col = 0;
}

/* Pops up to and including stack index idx. */
static void pop_to(struct conv *c, size_t idx)
{
	while (c->depth > idx)
		pop(c);
}

#define LBIT(ch) (1u << ((ch) - CET_TABLE))

/* Index of the topmost entry whose character is in set (LBIT mask), not
 * looking past one in stop; or SIZE_MAX. */
static size_t find(const struct conv *c, unsigned set, unsigned stopset)
{
	for (size_t i = c->depth; i-- > 0;) {
		unsigned b = LBIT(c->stack[i].c);
		if (b & set)
			return i;
		if (b & stopset)
			return SIZE_MAX;
	}
	return SIZE_MAX;
}

static const unsigned set_table = LBIT(CET_TABLE) | LBIT(CET_ROW) | LBIT(CET_CELL);
static const unsigned set_list = LBIT(CET_OL) | LBIT(CET_UL);
static const unsigned set_item = LBIT(CET_ITEM) | LBIT(CET_OL) | LBIT(CET_UL) | LBIT(CET_TABLE) |
                                 LBIT(CET_ROW) | LBIT(CET_CELL);

/* Levels ensure_flow would open. */
static size_t flow_cost(const struct conv *c)
{
	uint8_t t = top(c);
	return t == CET_TABLE ? 2 : t == CET_ROW || t == CET_OL || t == CET_UL ? 1 : 0;
}

/* Content needs a flow context: open the row, cell or item it implies. */
static void ensure_flow(struct conv *c)
{
	uint8_t t = top(c);
	if (t == CET_TABLE) {
		push(c, CET_ROW);
		t = CET_ROW;
	}
	if (t == CET_ROW)
		push(c, CET_CELL);
	else if (t == CET_OL || t == CET_UL)
		push(c, CET_ITEM);
}

static void sync_styles(struct conv *c, bool turn_on)
{
	if (!c->styles_dirty)
		return;
	for (int i = 0; i < ST_COUNT; i++) {
		bool want = c->want[i] > 0;
		if (c->on[i] != want && want == turn_on) {
			put_u8(c, style_char[i]);
			if (!c->stop)
				c->on[i] = want;
		}
	}
}

/* Before visible content: the implied flow context, the line breaks asked
 * for, the styles that end, the pending space, the styles that start. */
static void begin_content(struct conv *c, bool space_ok)
{
	c->pre_skip_lf = false;
	ensure_flow(c);
	sync_styles(c, false);
	if (c->pend_lf && c->flow_has && c->pend_lf > c->trailing_lf) {
		static const uint8_t lfs[2] = { '\n', '\n' };
		size_t k = c->pend_lf - c->trailing_lf;
		put(c, lfs, k > 2 ? 2 : k);
		c->trailing_lf = c->pend_lf;
		c->line_used = false;
		c->pend_space = false;
		c->col = 0;
	}
	c->pend_lf = 0;
	if (c->pend_space && c->line_used && space_ok) {
		put_u8(c, ' ');
		c->col++;
	}
	c->pend_space = false;
	sync_styles(c, true);
	if (!c->stop)
		c->styles_dirty = false;
}

static void content_done(struct conv *c)
{
	c->line_used = true;
	c->flow_has = true;
	c->trailing_lf = 0;
}

/* Visible text, already valid UTF-8 without controls or whitespace. */
static void text(struct conv *c, const uint8_t *p, size_t n)
{
	if (n == 0 || c->stop)
		return;
	begin_content(c, true);
	if (!room(c, n)) {
		/* as much as fits, whole characters only */
		size_t left = c->limit > c->out->len ? c->limit - c->out->len : 0;
		size_t k = 0;
		while (k < n) {
			size_t l = p[k] < 0x80 ? 1 : utf8_seq_len(p + k, n - k, NULL);
			if (l == 0 || k + l > left)
				break;
			k += l;
		}
		wr_put(c->out, p, k);
		return;
	}
	wr_put(c->out, p, n);
	c->col += (unsigned)n;
	content_done(c);
}

static void line_break(struct conv *c)
{
	begin_content(c, false);
	put_u8(c, '\n');
	c->trailing_lf++;
	c->line_used = false;
	c->flow_has = true;
	c->col = 0;
}

static void block(struct conv *c, unsigned lf)
{
	if (c->pend_lf < lf)
		c->pend_lf = lf;
	c->pend_space = false;
}

/* A code point from a reference or from text that needs a look. */
static void text_cp(struct conv *c, uint32_t cp)
{
	if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f') {
		if (c->pre) {
			if (cp == '\n' || cp == '\r')
				line_break(c);
			else
				text(c, (const uint8_t *)" ", 1);
		} else {
			c->pend_space = true;
		}
		return;
	}
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
		return; /* controls: never text */
	struct wr *s = &c->scratch;
	s->len = 0;
	utf8_put(s, cp);
	text(c, s->p, s->len);
}

/* Whitespace inside pre: kept (tabs to the next multiple of 8). */
static void pre_space(struct conv *c, uint8_t b, bool crlf)
{
	if (b == '\n' || (b == '\r' && !crlf)) {
		if (c->pre_skip_lf) {
			c->pre_skip_lf = false;
			return;
		}
		line_break(c);
		return;
	}
	c->pre_skip_lf = false;
	if (b == '\r' || b == '\f')
		return;
	static const uint8_t spaces[8] = "        ";
	size_t k = b == '\t' ? 8 - c->col % 8 : 1;
	text(c, spaces, k);
}

/* ---- links ---- */

static bool url_ok_byte(uint8_t b)
{
	if (is_alnum(b))
		return true;
	return b > ' ' && b < 0x7F && b != '"' && b != '%' && b != '<' && b != '>' && b != '\\' &&
	       b != '^' && b != '`' && b != '{' && b != '|' && b != '}';
}

/* Makes the CET span content of an http(s) URL in c->url; returns the link
 * character for it (doc or file), or 0 when it is not an acceptable one. */
static uint8_t url_span(struct conv *c, const uint8_t *v, size_t n, bool file)
{
	struct wr *u = &c->url;
	u->len = 0;
	size_t i = 0;
	while (i < n && v[i] <= ' ')
		i++;
	while (n > i && v[n - 1] <= ' ')
		n--;
	bool https;
	if (n - i >= 6 && strncasecmp((const char *)v + i, "https:", 6) == 0)
		https = true, i += 6;
	else if (n - i >= 5 && strncasecmp((const char *)v + i, "http:", 5) == 0)
		https = false, i += 5;
	else
		return 0;
	while (i < n && (v[i] == '/' || v[i] == '\\' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r'))
		i++;
	for (; i < n; i++) {
		uint8_t b = v[i];
		if (b == '\t' || b == '\n' || b == '\r')
			continue;
		if (b == '\\')
			b = '/';
		if (b == '%' && i + 2 < n && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			wr_u8(u, '%');
		} else if (url_ok_byte(b) && b != '%') {
			wr_u8(u, b);
		} else {
			static const char hx[] = "0123456789ABCDEF";
			uint8_t e[3] = { '%', (uint8_t)hx[b >> 4], (uint8_t)hx[b & 15] };
			wr_put(u, e, 3);
		}
		if (u->len > CET_URL_MAX)
			return 0;
	}
	if (!cet_url_valid(u->p, u->len))
		return 0;
	if (file)
		return https ? CET_FILE_HTTPS : CET_FILE_HTTP;
	return https ? CET_LINK_HTTPS : CET_LINK_HTTP;
}

/* Attribute values decoded (references resolved) into c->scratch. */
static void attr_decode(struct conv *c, const uint8_t *v, size_t n)
{
	struct wr *s = &c->scratch;
	s->len = 0;
	size_t run = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k;
		if (v[i] == '&' && (k = entity_decode(v, n, i, true, &cp)) > 0) {
			wr_put(s, v + run, i - run);
			utf8_put(s, cp);
			i += k;
			run = i;
		} else {
			i++;
		}
	}
	wr_put(s, v + run, n - run);
}

static void link(struct conv *c, const uint8_t *v, size_t n, bool file)
{
	attr_decode(c, v, n);
	uint8_t ch = url_span(c, c->scratch.p, c->scratch.len, file);
	if (!ch)
		return;
	begin_content(c, true);
	if (!room(c, c->url.len + 2))
		return;
	wr_u8(c->out, ch);
	wr_put(c->out, c->url.p, c->url.len);
	wr_u8(c->out, ch);
	content_done(c);
}

/* ---- text runs ---- */

static bool is_c1(const uint8_t *p) { return p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F; }

/* Text from p[i]: a run of ordinary characters, written at once. Returns
 * the offset after what it consumed. */
static size_t text_run(struct conv *c, const uint8_t *p, size_t n, size_t i)
{
	size_t s = i;
	while (i < n) {
		uint8_t b = p[i];
		if (b < 0x80) {
			if (b == ' ' && i > s && i + 1 < n && p[i + 1] > ' ' && p[i + 1] < 0x7F &&
			    p[i + 1] != '<' && p[i + 1] != '&') {
				i += 2; /* one space between words: part of the run */
				continue;
			}
			if (b <= ' ' || b == '<' || b == '&' || b == 0x7F)
				break;
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i, NULL);
		if (k == 0 || (k == 2 && is_c1(p + i)))
			break;
		i += k;
	}
	if (i > s) {
		text(c, p + s, i - s);
		return i;
	}
	/* one byte that needs a look */
	uint8_t b = p[i];
	if (b < 0x80)
		return i + 1; /* a control: dropped (whitespace is handled by the caller) */
	size_t k = utf8_seq_len(p + i, n - i, NULL);
	if (k == 0) {
		static const uint8_t fffd[3] = { 0xEF, 0xBF, 0xBD };
		text(c, fffd, 3);
		return i + 1;
	}
	return i + k; /* C1 control: dropped */
}

/* The rest of the input as pre text (after <plaintext>). */
static void plaintext(struct conv *c, const uint8_t *p, size_t n, size_t i)
{
	c->pre++;
	while (i < n && !c->stop) {
		if (is_html_space(p[i])) {
			pre_space(c, p[i], p[i] == '\r' && i + 1 < n && p[i + 1] == '\n');
			i++;
		} else if (p[i] == '<' || p[i] == '&') {
			text(c, p + i, 1);
			i++;
		} else {
			i = text_run(c, p, n, i);
		}
	}
}

/* Text from an attribute (alt=): whitespace collapsed, no markup. */
static void attr_text(struct conv *c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && !c->stop;) {
		if (is_html_space(p[i])) {
			c->pend_space = true;
			i++;
		} else if (p[i] == '<' || p[i] == '&') {
			text(c, p + i, 1);
			i++;
		} else {
			i = text_run(c, p, n, i);
		}
	}
}

/* ---- tags ---- */

struct attrs {
	const uint8_t *href, *src, *alt;
	size_t href_n, src_n, alt_n;
};

static size_t skip_to_gt(const uint8_t *p, size_t n, size_t i)
{
	const uint8_t *g = memchr(p + i, '>', n - i);
	return g ? (size_t)(g - p) + 1 : n;
}

/* i just past "<!--"; returns the offset after the comment (the end when unclosed). */
static size_t comment_end(const uint8_t *p, size_t n, size_t i)
{
	if (i < n && p[i] == '>')
		return i + 1;
	if (i + 1 < n && p[i] == '-' && p[i + 1] == '>')
		return i + 2;
	while (i < n) {
		const uint8_t *d = memchr(p + i, '-', n - i);
		if (!d)
			return n;
		size_t x = (size_t)(d - p);
		if (x + 2 < n && p[x + 1] == '-' && p[x + 2] == '>')
			return x + 3;
		if (x + 3 < n && p[x + 1] == '-' && p[x + 2] == '!' && p[x + 3] == '>')
			return x + 4;
		i = x + 1;
	}
	return n;
}

/* Offset of the "</name" that ends raw text from i, or n. */
static size_t raw_end(const uint8_t *p, size_t n, size_t i, const char *name)
{
	size_t k = strlen(name);
	while (i < n) {
		const uint8_t *lt = memchr(p + i, '<', n - i);
		if (!lt)
			return n;
		size_t x = (size_t)(lt - p);
		if (x + 2 + k <= n && p[x + 1] == '/' && strncasecmp((const char *)p + x + 2, name, k) == 0 &&
		    (x + 2 + k == n || is_html_space(p[x + 2 + k]) || p[x + 2 + k] == '/' ||
		     p[x + 2 + k] == '>'))
			return x;
		i = x + 1;
	}
	return n;
}

static bool attr_is(const uint8_t *p, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp((const char *)p, name, n) == 0;
}

static void bullet(struct conv *c)
{
	block(c, 1);
	text(c, (const uint8_t *)"-", 1);
	c->pend_space = true;
}

static void start_tag(struct conv *c, const struct element *e, const struct attrs *a)
{
	switch (e->kind) {
	case K_BLOCK:
		block(c, e->arg);
		break;
	case K_STYLE:
		if (c->want[e->arg] < HTML_STYLE_MAX)
			c->want[e->arg]++;
		c->styles_dirty = true;
		break;
	case K_HEADING:
		block(c, 2);
		if (c->want[ST_BIG] < HTML_STYLE_MAX)
			c->want[ST_BIG]++;
		c->styles_dirty = true;
		break;
	case K_PRE:
		block(c, 2);
		if (c->want[ST_MONO] < HTML_STYLE_MAX)
			c->want[ST_MONO]++;
		c->styles_dirty = true;
		if (c->pre < HTML_STYLE_MAX)
			c->pre++;
		c->pre_skip_lf = true;
		break;
	case K_BR:
		line_break(c);
		break;
	case K_HR:
		ensure_flow(c);
		c->pend_lf = 0;
		c->pend_space = false;
		put_u8(c, CET_HR);
		c->line_used = false;
		c->flow_has = true;
		c->trailing_lf = 1;
		c->col = 0;
		break;
	case K_A:
		if (a->href)
			link(c, a->href, a->href_n, false);
		break;
	case K_IMG:
		if (a->src)
			link(c, a->src, a->src_n, true);
		if (a->alt) {
			struct wr alt = WR_INIT;
			attr_decode(c, a->alt, a->alt_n);
			wr_put(&alt, c->scratch.p, c->scratch.len);
			attr_text(c, alt.p, alt.len);
			wr_free(&alt);
		}
		break;
	case K_MEDIA:
		if (a->src)
			link(c, a->src, a->src_n, true);
		break;
	case K_FRAME:
		if (a->src)
			link(c, a->src, a->src_n, false);
		break;
	case K_TABLE:
		if (c->flat || c->depth + flow_cost(c) + 3 > CET_DEPTH_MAX) {
			c->flat++;
			block(c, 1);
			break;
		}
		ensure_flow(c);
		push(c, CET_TABLE);
		break;
	case K_UL:
	case K_OL:
		if (c->flat || c->depth + flow_cost(c) + 2 > CET_DEPTH_MAX) {
			c->flat++;
			block(c, 1);
			break;
		}
		ensure_flow(c);
		push(c, e->kind == K_UL ? CET_UL : CET_OL);
		break;
	case K_TR: {
		size_t idx = c->flat ? SIZE_MAX : find(c, set_table, 0);
		if (idx == SIZE_MAX) {
			block(c, 1);
			break;
		}
		uint8_t t = c->stack[idx].c;
		pop_to(c, t == CET_CELL ? idx - 1 : t == CET_ROW ? idx : idx + 1);
		push(c, CET_ROW);
		break;
	}
	case K_TD: {
		size_t idx = c->flat ? SIZE_MAX : find(c, set_table, 0);
		if (idx == SIZE_MAX) {
			c->pend_space = true;
			break;
		}
		uint8_t t = c->stack[idx].c;
		pop_to(c, t == CET_CELL ? idx : idx + 1);
		if (t == CET_TABLE)
			push(c, CET_ROW);
		push(c, CET_CELL);
		break;
	}
	case K_LI: {
		size_t idx = c->flat ? SIZE_MAX : find(c, set_item, 0);
		uint8_t t = idx == SIZE_MAX ? 0 : c->stack[idx].c;
		if (t == CET_ITEM) {
			pop_to(c, idx);
		} else if (t == CET_OL || t == CET_UL) {
			pop_to(c, idx + 1);
		} else {
			bullet(c); /* an item outside any list */
			break;
		}
		push(c, CET_ITEM);
		break;
	}
	default:
		break;
	}
}

static void end_tag(struct conv *c, const struct element *e)
{
	switch (e->kind) {
	case K_BLOCK:
		block(c, e->arg);
		break;
	case K_STYLE:
		if (c->want[e->arg] > 0)
			c->want[e->arg]--;
		c->styles_dirty = true;
		break;
	case K_HEADING:
		if (c->want[ST_BIG] > 0)
			c->want[ST_BIG]--;
		c->styles_dirty = true;
		block(c, 2);
		break;
	case K_PRE:
		if (c->pre > 0) {
			c->pre--;
			if (c->want[ST_MONO] > 0)
				c->want[ST_MONO]--;
			c->styles_dirty = true;
		}
		c->pre_skip_lf = false;
		block(c, 2);
		break;
	case K_BR:
		line_break(c);
		break;
	case K_TABLE:
	case K_UL:
	case K_OL: {
		if (c->flat) {
			c->flat--;
			block(c, 1);
			break;
		}
		size_t idx = e->kind == K_TABLE ? find(c, LBIT(CET_TABLE), 0) : find(c, set_list, set_table);
		if (idx != SIZE_MAX)
			pop_to(c, idx);
		break;
	}
	case K_TR:
	case K_TD: {
		if (c->flat)
			break;
		size_t idx = find(c, set_table, 0);
		if (idx == SIZE_MAX)
			break;
		uint8_t t = c->stack[idx].c;
		if (t == CET_CELL)
			pop_to(c, e->kind == K_TR ? idx - 1 : idx);
		else if (t == CET_ROW && e->kind == K_TR)
			pop_to(c, idx);
		break;
	}
	case K_LI: {
		size_t idx = c->flat ? SIZE_MAX : find(c, set_item, 0);
		if (idx != SIZE_MAX && c->stack[idx].c == CET_ITEM)
			pop_to(c, idx);
		break;
	}
	default:
		break;
	}
}

/* At p[i] == '<'; returns the offset after the tag (or after the raw text
 * it starts). */
static size_t tag(struct conv *c, const uint8_t *p, size_t n, size_t i)
{
	size_t j = i + 1;
	if (j >= n) {
		text(c, p + i, 1);
		return n;
	}
	uint8_t b = p[j];
	if (b == '!') {
		if (j + 2 < n && p[j + 1] == '-' && p[j + 2] == '-')
			return comment_end(p, n, j + 3);
		return skip_to_gt(p, n, j);
	}
	if (b == '?')
		return skip_to_gt(p, n, j);
	bool end = false;
	if (b == '/') {
		end = true;
		j++;
		if (j >= n) {
			text(c, p + i, 2);
			return n;
		}
		if (p[j] == '>')
			return j + 1;
		if (!((p[j] | 0x20) >= 'a' && (p[j] | 0x20) <= 'z'))
			return skip_to_gt(p, n, j);
	} else if (!((b | 0x20) >= 'a' && (b | 0x20) <= 'z')) {
		text(c, p + i, 1);
		return j;
	}
	char name[HTML_TAG_NAME_MAX + 1];
	size_t k = 0;
	bool long_name = false;
	while (j < n && !is_html_space(p[j]) && p[j] != '/' && p[j] != '>') {
		if (k < HTML_TAG_NAME_MAX)
			name[k++] = (char)lower(p[j]);
		else
			long_name = true;
		j++;
	}
	name[k] = '\0';
	struct attrs a = { 0 };
	bool self_close = false;
	for (;;) {
		while (j < n && (is_html_space(p[j]) || p[j] == '/')) {
			self_close = p[j] == '/';
			j++;
		}
		if (j >= n)
			return n; /* the input ends inside the tag: dropped, as browsers do */
		if (p[j] == '>') {
			j++;
			break;
		}
		self_close = false;
		size_t ns = j++;
		while (j < n && !is_html_space(p[j]) && p[j] != '/' && p[j] != '>' && p[j] != '=')
			j++;
		size_t nl = j - ns;
		while (j < n && is_html_space(p[j]))
			j++;
		const uint8_t *v = NULL;
		size_t vl = 0;
		if (j < n && p[j] == '=') {
			j++;
			while (j < n && is_html_space(p[j]))
				j++;
			if (j < n && (p[j] == '"' || p[j] == '\'')) {
				const uint8_t *q = memchr(p + j + 1, p[j], n - j - 1);
				if (!q)
					return n;
				v = p + j + 1;
				vl = (size_t)(q - v);
				j = (size_t)(q - p) + 1;
			} else {
				size_t vs = j;
				while (j < n && !is_html_space(p[j]) && p[j] != '>')
					j++;
				v = p + vs;
				vl = j - vs;
			}
		}
		if (end || !v)
			continue;
		if (!a.href && attr_is(p + ns, nl, "href"))
			a.href = v, a.href_n = vl;
		else if (!a.src && attr_is(p + ns, nl, "src"))
			a.src = v, a.src_n = vl;
		else if (!a.alt && attr_is(p + ns, nl, "alt"))
			a.alt = v, a.alt_n = vl;
	}
	const struct element *e = long_name ? NULL : element_find(name, k);
	if (!e)
		return j;
	if (end) {
		end_tag(c, e);
		return j;
	}
	start_tag(c, e, &a);
	if (e->kind == K_PLAINTEXT) {
		plaintext(c, p, n, j);
		return n;
	}
	if (e->kind == K_SKIP || e->kind == K_FRAME) {
		if (self_close && strcmp(name, "svg") == 0)
			return j; /* <svg/>: foreign content honours the slash */
		return raw_end(p, n, j, name);
	}
	return j;
}

int html_convert(struct wr *out, const uint8_t *html, size_t len, size_t max_out, bool *ret_truncated)
{
	struct conv c = { .out = out, .scratch = WR_INIT, .url = WR_INIT };
	c.limit = out->len + (max_out > HTML_CLOSE_RESERVE ? max_out - HTML_CLOSE_RESERVE : 0);
	/* one allocation up front: the output is rarely larger than the input */
	size_t guess = len < max_out ? len : max_out;
	if (guess) {
		wr_reserve(out, guess);
		out->len -= guess;
	}
	size_t i = 0;
	if (len >= 3 && html[0] == 0xEF && html[1] == 0xBB && html[2] == 0xBF)
		i = 3; /* byte order mark */
	while (i < len && !c.stop) {
		uint8_t b = html[i];
		if (b == '<') {
			i = tag(&c, html, len, i);
		} else if (b == '&') {
			uint32_t cp;
			size_t k = entity_decode(html, len, i, false, &cp);
			if (k) {
				text_cp(&c, cp);
				i += k;
			} else {
				text(&c, html + i, 1);
				i++;
			}
		} else if (is_html_space(b)) {
			if (c.pre) {
				pre_space(&c, b, b == '\r' && i + 1 < len && html[i + 1] == '\n');
				i++;
			} else {
				c.pend_space = true;
				while (i < len && is_html_space(html[i]))
					i++;
			}
		} else {
			i = text_run(&c, html, len, i);
		}
	}
	/* close everything (layout first: a toggle is content, which a table or
	 * list context does not admit); the reserve guarantees the room */
	while (c.depth)
		pop(&c);
	for (int s = 0; s < ST_COUNT; s++)
		if (c.on[s])
			wr_u8(out, style_char[s]);
	wr_free(&c.scratch);
	wr_free(&c.url);
	if (ret_truncated)
		*ret_truncated = c.stop;
	return 0;
}

int html_to_cet(struct wr *out, const uint8_t *html, size_t len, size_t max_out)
{
	return html_convert(out, html, len, max_out, NULL);
}
