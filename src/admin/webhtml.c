/* webhtml.c: the page check and its CSP (see webhtml.h; docs/PROTOCOL.md
 * section 21.1). Tokenizing follows the HTML standard closely enough to find
 * every start tag, its attributes and the raw text of script and style; it is
 * not a renderer, and the browser's CSP stays the enforcement. */
#include "admin/webhtml.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

/* A directive's source list, space separated, without duplicates. */
struct srcs {
	char s[WEBPAGE_CSP_MAX + 1];
	size_t len;
	unsigned n;
};

struct attr {
	const char *name;
	size_t name_len;
	const char *val; /* NULL when the attribute has no value */
	size_t val_len;
};

struct scan {
	const char *p;
	size_t n;
	size_t i;
	char *err;
	struct srcs script, style;
	struct webhtml_result *res;
	struct attr attrs[WEBHTML_ATTRS_MAX];
	size_t nattrs;
};

PRINTF(3, 4) static int fail(struct scan *sc, size_t at, const char *fmt, ...)
{
	unsigned line = 1;
	for (size_t i = 0; i < at && i < sc->n; i++)
		line += sc->p[i] == '\n';
	char msg[WEBHTML_ERR_MAX - 20];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(sc->err, WEBHTML_ERR_MAX, "line %u: %s", line, msg);
	return -EINVAL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool eq_nocase(const char *a, size_t n, const char *b)
{
	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != b[i])
			return false;
	return true;
}

static bool same_nocase(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool starts_nocase(const char *a, size_t n, const char *b)
{
	size_t m = strlen(b);
	return n >= m && eq_nocase(a, m, b);
}

/* Finds needle (lower case) from `from`, ASCII case-insensitively; n when absent. */
static size_t find_nocase(const struct scan *sc, size_t from, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = from; i + m <= sc->n; i++)
		if (eq_nocase(sc->p + i, m, needle))
			return i;
	return sc->n;
}

static const struct attr *attr_get(const struct scan *sc, const char *name)
{
	for (size_t i = 0; i < sc->nattrs; i++)
		if (eq_nocase(sc->attrs[i].name, sc->attrs[i].name_len, name))
			return &sc->attrs[i];
	return NULL;
}

/* The value without leading and trailing ASCII whitespace. */
static void trimmed(const struct attr *a, const char **ret, size_t *ret_len)
{
	const char *v = a->val ? a->val : "";
	size_t n = a->val ? a->val_len : 0;
	while (n && is_space(v[0])) {
		v++;
		n--;
	}
	while (n && is_space(v[n - 1]))
		n--;
	*ret = v;
	*ret_len = n;
}

/* Whether a whitespace-separated token list (rel) holds token. */
static bool has_token(const struct attr *a, const char *token)
{
	if (!a || !a->val)
		return false;
	size_t i = 0;
	while (i < a->val_len) {
		while (i < a->val_len && is_space(a->val[i]))
			i++;
		size_t j = i;
		while (j < a->val_len && !is_space(a->val[j]))
			j++;
		if (j > i && eq_nocase(a->val + i, j - i, token))
			return true;
		i = j;
	}
	return false;
}

/* The scheme of a URL value as a browser reads it (tabs and newlines are
 * removed from URLs), lower case into out; false when there is none. */
static bool url_scheme(const struct attr *a, char *out, size_t cap, bool *ret_entity)
{
	const char *v;
	size_t n, k = 0;
	trimmed(a, &v, &n);
	*ret_entity = false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == ':') {
			out[k] = '\0';
			return k > 0;
		}
		if (c == '&')
			*ret_entity = true;
		if (!is_alpha(c) && !(k > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' ||
		                                c == '.' || c == '&' || c == '#' || c == ';')))
			return false;
		if (k + 1 >= cap)
			return false;
		out[k++] = lower(c);
	}
	return false;
}

static int check_not_javascript(struct scan *sc, size_t at, const struct attr *a)
{
	char scheme[32];
	bool entity;
	if (!a->val || !url_scheme(a, scheme, sizeof(scheme), &entity))
		return 0;
	if (entity)
		return fail(sc, at, "a character reference in the scheme of a URL (%.*s)",
		            (int)a->name_len, a->name);
	if (strcmp(scheme, "javascript") == 0)
		return fail(sc, at, "a javascript: URL (%.*s): the page's CSP blocks it",
		            (int)a->name_len, a->name);
	return 0;
}

static bool is_data_url(const struct attr *a)
{
	char scheme[32];
	bool entity;
	return a->val && url_scheme(a, scheme, sizeof(scheme), &entity) && !entity &&
	       strcmp(scheme, "data") == 0;
}

static int add_source(struct scan *sc, size_t at, struct srcs *l, const char *src, size_t n)
{
	size_t i = 0;
	while (i < l->len) {
		size_t j = i;
		while (j < l->len && l->s[j] != ' ')
			j++;
		if (j - i == n && memcmp(l->s + i, src, n) == 0)
			return 0;
		i = j + 1;
	}
	if (l->n == WEBHTML_SOURCES_MAX || n + 1 > sizeof(l->s) - 1 - l->len)
		return fail(sc, at, "too many scripts and styles for one Content-Security-Policy");
	if (l->len)
		l->s[l->len++] = ' ';
	memcpy(l->s + l->len, src, n);
	l->len += n;
	l->s[l->len] = '\0';
	l->n++;
	return 0;
}

/* https://host[:port]/path[?query][#fragment] -> "https://host[:port]/path"
 * (a CSP source expression matching that one file). */
static int external_url(struct scan *sc, size_t at, const struct attr *a, char *out, size_t cap)
{
	const char *v;
	size_t n;
	trimmed(a, &v, &n);
	if (n > WEBHTML_URL_MAX)
		return fail(sc, at, "a URL longer than %d bytes", WEBHTML_URL_MAX);
	if (n < 8 || memcmp(v, "https://", 8) != 0)
		return fail(sc, at, "an external script or style must be an absolute https:// URL");
	size_t i = 8, k = 0;
	memcpy(out, "https://", 8);
	k = 8;
	size_t label = 0, host_start = i;
	for (; i < n && v[i] != '/' && v[i] != ':' && v[i] != '?' && v[i] != '#'; i++) {
		char c = lower(v[i]);
		if (c == '.') {
			if (label == 0 || v[i - 1] == '-')
				return fail(sc, at, "a URL with a malformed host name");
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return fail(sc, at, "a URL with a malformed host name");
		} else {
			return fail(sc, at, "a URL with a malformed host name");
		}
		out[k++] = c;
	}
	if (i == host_start || label == 0 || v[i - 1] == '-')
		return fail(sc, at, "a URL with a malformed host name");
	if (i < n && v[i] == ':') {
		size_t p0 = i;
		unsigned port = 0;
		out[k++] = v[i++];
		while (i < n && v[i] >= '0' && v[i] <= '9' && i - p0 <= 5) {
			port = port * 10 + (unsigned)(v[i] - '0');
			out[k++] = v[i++];
		}
		if (i - p0 < 2 || port == 0 || port > 65535)
			return fail(sc, at, "a URL with a malformed port");
	}
	if (i >= n || v[i] != '/')
		return fail(sc, at, "an external script or style URL must name a file (a path)");
	for (; i < n && v[i] != '?' && v[i] != '#'; i++) {
		char c = v[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          (c != '\0' && strchr("-._~/+@!$()*=:", c) != NULL);
		if (c == '%') {
			ok = i + 2 < n && is_hex(v[i + 1]) && is_hex(v[i + 2]);
		}
		if (!ok)
			return fail(sc, at, "a URL path with a character a CSP cannot hold (%c)", c);
		out[k++] = c;
	}
	if (out[k - 1] == '/')
		return fail(sc, at, "an external script or style URL must name a file, not a directory");
	if (k >= cap)
		return fail(sc, at, "a URL too long");
	out[k] = '\0';
	return 0;
}

/* integrity = 1*( hash-expression ), each "sha256-", "sha384-" or "sha512-"
 * and the standard base64 of a digest of that size, optionally "?options". */
static int add_integrity(struct scan *sc, size_t at, struct srcs *l, const struct attr *a)
{
	static const struct {
		const char *alg;
		size_t bytes;
	} algs[] = { { "sha256", 32 }, { "sha384", 48 }, { "sha512", 64 } };
	if (!a || !a->val)
		return fail(sc, at, "an external script or style without an integrity attribute "
		                    "(Subresource Integrity is required)");
	unsigned found = 0;
	size_t i = 0;
	while (i < a->val_len) {
		while (i < a->val_len && is_space(a->val[i]))
			i++;
		size_t j = i;
		while (j < a->val_len && !is_space(a->val[j]))
			j++;
		if (j == i)
			break;
		const char *t = a->val + i;
		size_t tn = j - i, q = 0;
		while (q < tn && t[q] != '?')
			q++;
		tn = q; /* options are not part of the hash */
		bool ok = false;
		for (size_t k = 0; k < ARRAY_SIZE(algs) && !ok; k++) {
			size_t al = strlen(algs[k].alg);
			if (tn <= al + 1 || memcmp(t, algs[k].alg, al) != 0 || t[al] != '-')
				continue;
			uint8_t digest[64];
			size_t dlen;
			const char *b64 = t + al + 1;
			size_t b64len = tn - al - 1;
			/* Strict: the value goes into the CSP header as it is. */
			if (b64_decode_strict(digest, sizeof(digest), &dlen, b64, b64len, NULL) != 0 ||
			    dlen != algs[k].bytes)
				return fail(sc, at, "an integrity value that is not a %s digest in base64",
				            algs[k].alg);
			char src[128];
			int m = snprintf(src, sizeof(src), "'%.*s'", (int)tn, t);
			if (add_source(sc, at, l, src, (size_t)m) < 0)
				return -EINVAL;
			ok = true;
		}
		if (!ok)
			return fail(sc, at, "an integrity value that is not sha256-, sha384- or sha512-");
		found++;
		i = j;
	}
	if (!found)
		return fail(sc, at, "an empty integrity attribute");
	return 0;
}

static int check_crossorigin(struct scan *sc, size_t at)
{
	const struct attr *a = attr_get(sc, "crossorigin");
	const char *v;
	size_t n;
	if (!a)
		return fail(sc, at, "an external script or style without crossorigin=\"anonymous\" "
		                    "(browsers check integrity only on CORS requests)");
	trimmed(a, &v, &n);
	if (n != 0 && !eq_nocase(v, n, "anonymous"))
		return fail(sc, at, "crossorigin must be \"anonymous\" (credentials are never sent)");
	return 0;
}

/* An external script (kind script) or style: its exact URL and its hashes. */
static int add_external(struct scan *sc, size_t at, struct srcs *l, const struct attr *url)
{
	char src[WEBHTML_URL_MAX + 16];
	if (external_url(sc, at, url, src, sizeof(src)) < 0 ||
	    add_integrity(sc, at, l, attr_get(sc, "integrity")) < 0 || check_crossorigin(sc, at) < 0)
		return -EINVAL;
	return add_source(sc, at, l, src, strlen(src));
}

/* An inline script or style: the SHA-256 of its text as the browser sees it
 * (CR LF and lone CR read as LF, HTML section 13.2.3.5). */
static int add_inline(struct scan *sc, size_t at, struct srcs *l, size_t from, size_t to)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	for (size_t i = from; i < to; i++) {
		if (sc->p[i] == '\r') {
			crypto_hash_sha256_update(&st, (const uint8_t *)"\n", 1);
			if (i + 1 < to && sc->p[i + 1] == '\n')
				i++;
			continue;
		}
		size_t j = i;
		while (j < to && sc->p[j] != '\r')
			j++;
		crypto_hash_sha256_update(&st, (const uint8_t *)sc->p + i, j - i);
		i = j - 1;
	}
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, h);
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	char src[96];
	int m = snprintf(src, sizeof(src), "'sha256-%s'", b64);
	return add_source(sc, at, l, src, (size_t)m);
}

/* The end of raw text or RCDATA: the offset of "</name" followed by a space,
 * '/' or '>', or n. */
static size_t raw_text_end(const struct scan *sc, size_t from, const char *name)
{
	char needle[16];
	snprintf(needle, sizeof(needle), "</%s", name);
	size_t m = strlen(needle);
	for (size_t i = from;; i++) {
		i = find_nocase(sc, i, needle);
		if (i + m >= sc->n)
			return sc->n;
		char c = sc->p[i + m];
		if (is_space(c) || c == '/' || c == '>')
			return i;
	}
}

static int element_rules(struct scan *sc, size_t at, const char *tag, size_t tag_len)
{
	static const char *const refused[] = { "base", "iframe", "frame", "frameset", "object",
		                                   "embed", "applet", "form", "portal", "fencedframe" };
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		if (eq_nocase(tag, tag_len, refused[i]))
			return fail(sc, at, "<%s> is not allowed: the page's CSP blocks it", refused[i]);
	bool is_script = eq_nocase(tag, tag_len, "script");
	for (size_t i = 0; i < sc->nattrs; i++) {
		const struct attr *a = &sc->attrs[i];
		if (a->name_len > 2 && starts_nocase(a->name, a->name_len, "on"))
			return fail(sc, at, "an event handler attribute (%.*s): the page's CSP blocks "
			                    "inline script; use a script file with integrity",
			            (int)a->name_len, a->name);
		if (eq_nocase(a->name, a->name_len, "style"))
			return fail(sc, at, "a style attribute: the page's CSP blocks it; use a class "
			                    "and a <style> element");
		if (eq_nocase(a->name, a->name_len, "srcset") ||
		    eq_nocase(a->name, a->name_len, "formaction"))
			return fail(sc, at, "a %.*s attribute is not allowed", (int)a->name_len, a->name);
		if (check_not_javascript(sc, at, a) < 0)
			return -EINVAL;
		bool fetches = (!is_script && eq_nocase(a->name, a->name_len, "src")) ||
		               eq_nocase(a->name, a->name_len, "poster") ||
		               eq_nocase(a->name, a->name_len, "background");
		if (fetches && !is_data_url(a))
			return fail(sc, at, "%.*s must be a data: URL (the page loads no other resources)",
			            (int)a->name_len, a->name);
	}
	if (eq_nocase(tag, tag_len, "image") || eq_nocase(tag, tag_len, "use") ||
	    eq_nocase(tag, tag_len, "feimage")) {
		const struct attr *h = attr_get(sc, "href");
		if (!h)
			h = attr_get(sc, "xlink:href");
		if (h && h->val && !is_data_url(h) && !(h->val_len && h->val[0] == '#'))
			return fail(sc, at, "an SVG reference must be a data: URL or a #fragment");
	}
	if (eq_nocase(tag, tag_len, "meta")) {
		const struct attr *he = attr_get(sc, "http-equiv");
		const char *v;
		size_t n;
		if (he) {
			trimmed(he, &v, &n);
			if (eq_nocase(v, n, "content-security-policy") || eq_nocase(v, n, "refresh") ||
			    eq_nocase(v, n, "set-cookie"))
				return fail(sc, at, "<meta http-equiv=\"%.*s\"> is not allowed", (int)n, v);
		}
	}
	if (eq_nocase(tag, tag_len, "link")) {
		const struct attr *rel = attr_get(sc, "rel");
		const struct attr *href = attr_get(sc, "href");
		static const char *const no_fetch[] = { "dns-prefetch", "preconnect", "prefetch",
			                                    "prerender", "manifest" };
		for (size_t i = 0; i < ARRAY_SIZE(no_fetch); i++)
			if (has_token(rel, no_fetch[i]))
				return fail(sc, at, "<link rel=\"%s\"> is not allowed", no_fetch[i]);
		if (has_token(rel, "stylesheet")) {
			if (!href)
				return fail(sc, at, "a stylesheet link without href");
			sc->res->external_styles++;
			return add_external(sc, at, &sc->style, href);
		}
		if (has_token(rel, "preload") || has_token(rel, "modulepreload")) {
			const struct attr *as = attr_get(sc, "as");
			const char *v = "";
			size_t n = 0;
			if (as)
				trimmed(as, &v, &n);
			bool style = eq_nocase(v, n, "style");
			if (!href || (!style && !eq_nocase(v, n, "script") && !has_token(rel, "modulepreload")))
				return fail(sc, at, "a preload must be of a script or a style, with href");
			return add_external(sc, at, style ? &sc->style : &sc->script, href);
		}
		if (has_token(rel, "icon") && href && !is_data_url(href))
			return fail(sc, at, "an icon must be a data: URL (the page loads no images)");
	}
	return 0;
}

/* Parses the start tag at sc->i ('<' then a letter) and what it holds. */
static int start_tag(struct scan *sc)
{
	size_t at = sc->i, j = sc->i + 1;
	const char *p = sc->p;
	size_t n = sc->n;
	const char *tag = p + j;
	while (j < n && !is_space(p[j]) && p[j] != '/' && p[j] != '>')
		j++;
	size_t tag_len = (size_t)(p + j - tag);
	sc->nattrs = 0;
	for (;;) {
		while (j < n && (is_space(p[j]) || p[j] == '/'))
			j++;
		if (j >= n)
			return fail(sc, at, "a tag that is not closed with >");
		if (p[j] == '>') {
			j++;
			break;
		}
		size_t a0 = j;
		while (j < n && !is_space(p[j]) && p[j] != '/' && p[j] != '>' && p[j] != '=') {
			if (p[j] == '"' || p[j] == '\'' || p[j] == '<')
				return fail(sc, at, "a malformed attribute name");
			j++;
		}
		if (j == a0)
			return fail(sc, at, "an attribute without a name");
		struct attr a = { p + a0, j - a0, NULL, 0 };
		size_t k = j;
		while (k < n && is_space(p[k]))
			k++;
		if (k < n && p[k] == '=') {
			k++;
			while (k < n && is_space(p[k]))
				k++;
			if (k >= n)
				return fail(sc, at, "a tag that is not closed with >");
			if (p[k] == '"' || p[k] == '\'') {
				char qc = p[k];
				const char *e = memchr(p + k + 1, qc, n - k - 1);
				if (!e)
					return fail(sc, at, "an attribute value whose quote is not closed");
				a.val = p + k + 1;
				a.val_len = (size_t)(e - a.val);
				j = (size_t)(e - p) + 1;
			} else {
				size_t v0 = k;
				while (k < n && !is_space(p[k]) && p[k] != '>') {
					if (p[k] == '"' || p[k] == '\'' || p[k] == '<' || p[k] == '=' || p[k] == '`')
						return fail(sc, at, "a malformed unquoted attribute value");
					k++;
				}
				a.val = p + v0;
				a.val_len = k - v0;
				j = k;
			}
		}
		for (size_t i = 0; i < sc->nattrs; i++)
			if (same_nocase(sc->attrs[i].name, sc->attrs[i].name_len, a.name, a.name_len))
				return fail(sc, at, "a duplicate attribute (%.*s)", (int)a.name_len, a.name);
		if (sc->nattrs == WEBHTML_ATTRS_MAX)
			return fail(sc, at, "more than %d attributes on one tag", WEBHTML_ATTRS_MAX);
		sc->attrs[sc->nattrs++] = a;
	}
	sc->i = j;
	if (element_rules(sc, at, tag, tag_len) < 0)
		return -EINVAL;

	bool script = eq_nocase(tag, tag_len, "script"), style = eq_nocase(tag, tag_len, "style");
	if (script || style) {
		size_t end = raw_text_end(sc, j, script ? "script" : "style");
		if (end == n)
			return fail(sc, at, "<%s> without its end tag", script ? "script" : "style");
		const struct attr *src = script ? attr_get(sc, "src") : NULL;
		int rc;
		if (src) {
			sc->res->external_scripts++;
			rc = add_external(sc, at, &sc->script, src);
		} else {
			if (script && find_nocase(sc, j, "<!--") < end)
				return fail(sc, at, "an inline script holding <!-- (its end is ambiguous)");
			if (script)
				sc->res->inline_scripts++;
			else
				sc->res->inline_styles++;
			rc = add_inline(sc, at, script ? &sc->script : &sc->style, j, end);
		}
		if (rc < 0)
			return rc;
		sc->i = end;
	} else if (eq_nocase(tag, tag_len, "textarea") || eq_nocase(tag, tag_len, "title")) {
		size_t end = raw_text_end(sc, j, eq_nocase(tag, tag_len, "title") ? "title" : "textarea");
		if (end == n)
			return fail(sc, at, "<%.*s> without its end tag", (int)tag_len, tag);
		sc->i = end;
	}
	return 0;
}

static int scan_all(struct scan *sc)
{
	const char *p = sc->p;
	size_t n = sc->n;
	while (sc->i < n) {
		const char *lt = memchr(p + sc->i, '<', n - sc->i);
		if (!lt)
			break;
		size_t i = (size_t)(lt - p);
		sc->i = i;
		if (n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
			size_t e = find_nocase(sc, i + 4, "-->");
			if (e == n)
				return fail(sc, i, "a comment that is not closed with -->");
			sc->i = e + 3;
		} else if (i + 1 < n && (p[i + 1] == '!' || p[i + 1] == '?' || p[i + 1] == '/')) {
			const char *gt = memchr(p + i, '>', n - i);
			if (!gt)
				return fail(sc, i, "a tag that is not closed with >");
			sc->i = (size_t)(gt - p) + 1;
		} else if (i + 1 < n && is_alpha(p[i + 1])) {
			if (start_tag(sc) < 0)
				return -EINVAL;
		} else {
			sc->i = i + 1;
		}
	}
	return 0;
}

int webhtml_check(const uint8_t *html, size_t len, struct webhtml_result *ret,
                  char err[WEBHTML_ERR_MAX])
{
	static struct scan zero;
	struct scan *sc = xmalloc(sizeof(*sc)); /* about 10 KiB: off the stack */
	*sc = zero;
	struct webhtml_result res;
	memset(&res, 0, sizeof(res));
	sc->p = (const char *)html;
	sc->n = len;
	sc->err = err;
	sc->res = &res;
	err[0] = '\0';
	int rc = 0;
	if (len == 0 || len > WEBPAGE_HTML_MAX) {
		snprintf(err, WEBHTML_ERR_MAX, "the page must have 1 to %u bytes", WEBPAGE_HTML_MAX);
		rc = -EINVAL;
	} else if (memchr(html, '\0', len)) {
		rc = fail(sc, (size_t)((const uint8_t *)memchr(html, '\0', len) - html),
		          "a NUL byte");
	} else if (!utf8_valid(html, len)) {
		snprintf(err, WEBHTML_ERR_MAX, "the page is not valid UTF-8");
		rc = -EINVAL;
	} else {
		rc = scan_all(sc);
	}
	if (rc == 0) {
		int m = snprintf(res.csp, sizeof(res.csp),
		                 "default-src 'none'; script-src %s; style-src %s; img-src data:; "
		                 "font-src data:; base-uri 'none'; form-action 'none'; "
		                 "frame-ancestors 'none'",
		                 sc->script.len ? sc->script.s : "'none'",
		                 sc->style.len ? sc->style.s : "'none'");
		if (m < 0 || (size_t)m >= sizeof(res.csp)) {
			snprintf(err, WEBHTML_ERR_MAX, "the Content-Security-Policy would be longer than %d "
			                               "bytes: fewer scripts or styles",
			         WEBPAGE_CSP_MAX);
			rc = -EINVAL;
		} else {
			*ret = res;
		}
	}
	free(sc);
	return rc;
}
