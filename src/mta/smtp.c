/* smtp.c: SMTP command lines (see smtp.h). Grammar: RFC 5321 4.1.2 (paths,
 * domains, address literals, ESMTP parameters), extended by RFC 6531 with
 * UTF-8 in local parts and domains. Strict where RFC 5321 is, lenient only
 * where real senders commonly differ (and then the caller flags it). */
#include "mta/smtp.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/utf8.h"

struct verb {
	const char *name;
	enum smtp_verb verb;
};

static const struct verb verbs[] = {
	{ "HELO", SMTP_HELO },        { "EHLO", SMTP_EHLO },     { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT },        { "DATA", SMTP_DATA },     { "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP },        { "QUIT", SMTP_QUIT },     { "VRFY", SMTP_VRFY },
	{ "HELP", SMTP_HELP },        { "STARTTLS", SMTP_STARTTLS },
	/* Verbs of RFC 5321 and its extensions that we do not offer. */
	{ "EXPN", SMTP_UNSUPPORTED }, { "TURN", SMTP_UNSUPPORTED }, { "ETRN", SMTP_UNSUPPORTED },
	{ "ATRN", SMTP_UNSUPPORTED }, { "BDAT", SMTP_UNSUPPORTED }, { "AUTH", SMTP_UNSUPPORTED },
	{ "SEND", SMTP_UNSUPPORTED }, { "SOML", SMTP_UNSUPPORTED }, { "SAML", SMTP_UNSUPPORTED },
};

static bool is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_letdig(uint8_t c) { return is_alpha(c) || is_digit(c); }

static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c; }

bool smtp_ascii_caseeq(const uint8_t *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		if (lower(a[i]) != lower((uint8_t)b[i]))
			return false;
	}
	return true;
}

/* Length of a UTF-8 sequence for a non-ASCII character at p, or 0. */
static size_t utf8_char(const uint8_t *p, size_t left)
{
	uint32_t cp;
	size_t k = utf8_seq_len(p, left, &cp);
	return k >= 2 ? k : 0;
}

/* RFC 5322 atext. */
static bool is_atext(uint8_t c)
{
	return is_letdig(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Text of an argument: no control characters, valid UTF-8. */
static bool text_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_char(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* ---- domains and literals ---- */

bool smtp_domain_valid(const uint8_t *p, size_t len, bool utf8)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		bool last_hyphen = false;
		while (i < len && p[i] != '.') {
			if (p[i] >= 0x80) {
				size_t k = utf8 ? utf8_char(p + i, len - i) : 0;
				if (!k)
					return false;
				i += k;
				last_hyphen = false;
				continue;
			}
			if (p[i] == '-') {
				if (i == start)
					return false; /* a label starts with a letter or digit */
				last_hyphen = true;
			} else if (is_letdig(p[i])) {
				last_hyphen = false;
			} else {
				return false;
			}
			i++;
		}
		if (i == start || i - start > 63 || last_hyphen)
			return false;
		if (i < len) {
			i++; /* the dot */
			if (i == len)
				return false; /* no trailing dot */
		}
	}
	return true;
}

static bool ipv4_literal(const uint8_t *p, size_t n)
{
	int parts = 0;
	size_t i = 0;
	while (parts < 4) {
		unsigned v = 0;
		size_t digits = 0;
		while (i < n && is_digit(p[i]) && digits < 3) {
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
			digits++;
		}
		if (!digits || v > 255)
			return false;
		parts++;
		if (parts < 4) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

bool smtp_literal_valid(const uint8_t *p, size_t len)
{
	if (len < 3 || p[0] != '[' || p[len - 1] != ']')
		return false;
	const uint8_t *in = p + 1;
	size_t n = len - 2;
	if (ipv4_literal(in, n))
		return true;
	/* General-address-literal: Standardized-tag ":" 1*dcontent. */
	size_t colon = 0;
	while (colon < n && in[colon] != ':')
		colon++;
	if (colon == 0 || colon >= n - 1)
		return false;
	for (size_t i = 0; i < colon; i++) {
		if (!is_letdig(in[i]) && !(in[i] == '-' && i > 0 && i + 1 < colon))
			return false;
	}
	for (size_t i = colon + 1; i < n; i++) {
		uint8_t c = in[i];
		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	if (smtp_ascii_caseeq(in, colon, "IPv6", 4)) {
		char buf[64];
		size_t m = n - colon - 1;
		if (m >= sizeof(buf))
			return false;
		memcpy(buf, in + colon + 1, m);
		buf[m] = 0;
		struct in6_addr a;
		return inet_pton(AF_INET6, buf, &a) == 1;
	}
	return true;
}

/* ---- paths (RFC 5321 4.1.2) ---- */

/* Reads a domain or an address literal starting at p[*i], stopping before the
 * first byte that cannot be part of one. */
static bool take_domain(const uint8_t *p, size_t n, size_t *i, bool *literal, bool *utf8)
{
	size_t s = *i;
	if (s < n && p[s] == '[') {
		size_t e = s + 1;
		while (e < n && p[e] != ']' && p[e] != '>' && p[e] != ' ')
			e++;
		if (e >= n || p[e] != ']' || !smtp_literal_valid(p + s, e + 1 - s))
			return false;
		*i = e + 1;
		*literal = true;
		return true;
	}
	size_t e = s;
	bool hi = false;
	while (e < n && (is_letdig(p[e]) || p[e] == '-' || p[e] == '.' || p[e] >= 0x80)) {
		if (p[e] >= 0x80)
			hi = true;
		e++;
	}
	if (!smtp_domain_valid(p + s, e - s, true))
		return false;
	*i = e;
	*literal = false;
	if (hi)
		*utf8 = true;
	return true;
}

static bool take_local(const uint8_t *p, size_t n, size_t *i, bool *utf8)
{
	size_t j = *i;
	if (j < n && p[j] == '"') {
		j++;
		for (;;) {
			if (j >= n)
				return false;
			uint8_t c = p[j];
			if (c == '"') {
				j++;
				break;
			}
			if (c == '\\') {
				if (j + 1 >= n || p[j + 1] < 32 || p[j + 1] > 126)
					return false;
				j += 2;
				continue;
			}
			if (c >= 0x80) {
				size_t k = utf8_char(p + j, n - j);
				if (!k)
					return false;
				*utf8 = true;
				j += k;
				continue;
			}
			if (c < 32 || c > 126)
				return false;
			j++;
		}
		*i = j;
		return true;
	}
	/* Dot-string: atoms separated by single dots. */
	bool need_atom = true;
	for (;;) {
		if (j < n && is_atext(p[j])) {
			j++;
			need_atom = false;
		} else if (j < n && p[j] >= 0x80) {
			size_t k = utf8_char(p + j, n - j);
			if (!k)
				return false;
			*utf8 = true;
			j += k;
			need_atom = false;
		} else if (j < n && p[j] == '.' && !need_atom) {
			j++;
			need_atom = true;
		} else {
			break;
		}
	}
	if (need_atom)
		return false;
	*i = j;
	return true;
}

/* Parses "<...>" at p[*i]; is_mail allows "<>", !is_mail allows "<Postmaster>". */
static enum smtp_err take_path(const uint8_t *p, size_t n, size_t *i, bool is_mail,
                               struct smtp_path *ret)
{
	size_t j = *i;
	struct smtp_path path = { 0 };
	if (j >= n || p[j] != '<')
		return SMTP_E_PATH;
	size_t open = j++;
	if (j < n && p[j] == '>') {
		if (!is_mail)
			return SMTP_E_PATH;
		path.null = true;
		*i = j + 1;
		*ret = path;
		return SMTP_OK;
	}
	/* A source route (A-d-l) is accepted and ignored (RFC 5321 C). */
	if (j < n && p[j] == '@') {
		for (;;) {
			if (j >= n || p[j] != '@')
				return SMTP_E_PATH;
			j++;
			bool lit = false, u = false;
			if (!take_domain(p, n, &j, &lit, &u))
				return SMTP_E_PATH;
			if (j < n && p[j] == ',') {
				j++;
				continue;
			}
			if (j < n && p[j] == ':') {
				j++;
				break;
			}
			return SMTP_E_PATH;
		}
	}
	size_t mb = j;
	if (!take_local(p, n, &j, &path.utf8))
		return SMTP_E_PATH;
	path.local = p + mb;
	path.local_len = j - mb;
	if (j < n && p[j] == '>' && !is_mail &&
	    smtp_ascii_caseeq(path.local, path.local_len, "postmaster", 10)) {
		path.postmaster = true;
	} else {
		if (j >= n || p[j] != '@')
			return SMTP_E_PATH;
		j++;
		size_t ds = j;
		if (!take_domain(p, n, &j, &path.literal, &path.utf8))
			return SMTP_E_PATH;
		path.domain = p + ds;
		path.domain_len = j - ds;
	}
	if (j >= n || p[j] != '>')
		return SMTP_E_PATH;
	path.mailbox = p + mb;
	path.mailbox_len = j - mb;
	j++;
	if (path.local_len > SMTP_LOCAL_MAX || path.domain_len > SMTP_DOMAIN_MAX ||
	    j - open > SMTP_PATH_MAX)
		return SMTP_E_PATH;
	*i = j;
	*ret = path;
	return SMTP_OK;
}

/* ---- ESMTP parameters ---- */

static enum smtp_err take_params(const uint8_t *p, size_t n, bool is_mail, struct smtp_cmd *c)
{
	size_t i = 0;
	bool seen_size = false, seen_body = false, seen_utf8 = false;
	enum smtp_err first = SMTP_OK;
	while (i < n) {
		if (p[i] == ' ') {
			c->lenient = true; /* more than one space */
			i++;
			continue;
		}
		size_t ks = i;
		if (!is_letdig(p[i]))
			return SMTP_E_SYNTAX;
		while (i < n && (is_letdig(p[i]) || p[i] == '-'))
			i++;
		size_t klen = i - ks;
		const uint8_t *val = NULL;
		size_t vlen = 0;
		if (i < n && p[i] == '=') {
			i++;
			size_t vs = i;
			while (i < n && p[i] != ' ') {
				if (p[i] >= 0x80) {
					size_t k = utf8_char(p + i, n - i);
					if (!k)
						return SMTP_E_SYNTAX;
					i += k;
					continue;
				}
				if (p[i] < 33 || p[i] > 126 || p[i] == '=')
					return SMTP_E_SYNTAX;
				i++;
			}
			val = p + vs;
			vlen = i - vs;
			if (!vlen)
				return SMTP_E_SYNTAX;
		} else if (i < n && p[i] != ' ') {
			return SMTP_E_SYNTAX;
		}
		enum smtp_err e = SMTP_OK;
		if (!is_mail) {
			e = SMTP_E_PARAM; /* no RCPT parameters are offered (no DSN) */
		} else if (smtp_ascii_caseeq(p + ks, klen, "SIZE", 4)) {
			if (seen_size || !val || vlen > SMTP_SIZE_DIGITS_MAX) {
				e = SMTP_E_PARAM_VALUE;
			} else {
				uint64_t v = 0;
				for (size_t k = 0; k < vlen && e == SMTP_OK; k++) {
					if (!is_digit(val[k]))
						e = SMTP_E_PARAM_VALUE;
					else if (v > (UINT64_MAX - 9) / 10)
						v = UINT64_MAX; /* 20 digits may not fit: too big anyway */
					else
						v = v * 10 + (uint64_t)(val[k] - '0');
				}
				c->params.size_given = true;
				c->params.size = v;
			}
			seen_size = true;
		} else if (smtp_ascii_caseeq(p + ks, klen, "BODY", 4)) {
			if (seen_body || !val)
				e = SMTP_E_PARAM_VALUE;
			else if (smtp_ascii_caseeq(val, vlen, "7BIT", 4))
				c->params.body = SMTP_BODY_7BIT;
			else if (smtp_ascii_caseeq(val, vlen, "8BITMIME", 8))
				c->params.body = SMTP_BODY_8BITMIME;
			else if (smtp_ascii_caseeq(val, vlen, "BINARYMIME", 10))
				e = SMTP_E_PARAM; /* RFC 3030, not offered */
			else
				e = SMTP_E_PARAM_VALUE;
			seen_body = true;
		} else if (smtp_ascii_caseeq(p + ks, klen, "SMTPUTF8", 8)) {
			if (seen_utf8 || val)
				e = SMTP_E_PARAM_VALUE;
			c->params.smtputf8 = true;
			seen_utf8 = true;
		} else {
			e = SMTP_E_PARAM;
		}
		if (first == SMTP_OK)
			first = e;
		if (i < n)
			i++; /* the one space between parameters */
	}
	return first;
}

/* ---- commands ---- */

/* "FROM:" / "TO:" then the path and the parameters. */
static void parse_path_cmd(const uint8_t *a, size_t n, const char *kw, bool is_mail,
                           struct smtp_cmd *c)
{
	size_t kl = strlen(kw);
	if (n < kl || !smtp_ascii_caseeq(a, kl, kw, kl)) {
		c->err = SMTP_E_SYNTAX;
		return;
	}
	size_t i = kl;
	if (i < n && a[i] == ' ') {
		c->lenient = true; /* "MAIL FROM: <a@b>" is common, though not RFC 5321 */
		while (i < n && a[i] == ' ')
			i++;
	}
	enum smtp_err e = take_path(a, n, &i, is_mail, &c->path);
	if (e) {
		c->err = e;
		return;
	}
	if (i == n)
		return;
	if (a[i] != ' ') {
		c->err = SMTP_E_PATH; /* bytes glued to the closing '>' */
		return;
	}
	i++;
	c->err = take_params(a + i, n - i, is_mail, c);
}

static void parse_helo(const uint8_t *a, size_t n, struct smtp_cmd *c)
{
	size_t e = 0;
	while (e < n && a[e] != ' ')
		e++;
	if (e == 0 || !text_ok(a, n)) {
		c->err = SMTP_E_SYNTAX;
		return;
	}
	c->arg = a;
	c->arg_len = e;
	if (e != n)
		c->lenient = true; /* more words than the name */
	if (!smtp_domain_valid(a, e, true) && !smtp_literal_valid(a, e))
		c->lenient = true; /* "EHLO my_host": common, and harmless to record */
}

void smtp_parse(const uint8_t *line, size_t len, struct smtp_cmd *ret)
{
	struct smtp_cmd c;
	memset(&c, 0, sizeof(c));
	size_t vl = 0;
	while (vl < len && line[vl] != ' ')
		vl++;
	c.verb = SMTP_UNKNOWN;
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (smtp_ascii_caseeq(line, vl, verbs[k].name, strlen(verbs[k].name))) {
			c.verb = verbs[k].verb;
			break;
		}
	}
	if (c.verb == SMTP_UNKNOWN || c.verb == SMTP_UNSUPPORTED) {
		*ret = c;
		return;
	}
	size_t i = vl;
	if (i < len) {
		i++; /* the one space RFC 5321 puts after the verb */
		if (i == len || line[i] == ' ') {
			c.lenient = true;
			while (i < len && line[i] == ' ')
				i++;
		}
	}
	const uint8_t *a = line + i;
	size_t n = len - i;
	/* Trailing spaces are common (and harmless); anything else is strict. */
	while (n > 0 && a[n - 1] == ' ') {
		n--;
		c.lenient = true;
	}
	switch (c.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		parse_helo(a, n, &c);
		break;
	case SMTP_MAIL:
		parse_path_cmd(a, n, "FROM:", true, &c);
		break;
	case SMTP_RCPT:
		parse_path_cmd(a, n, "TO:", false, &c);
		break;
	case SMTP_DATA:
	case SMTP_RSET:
	case SMTP_QUIT:
	case SMTP_STARTTLS:
		if (n)
			c.err = SMTP_E_SYNTAX;
		break;
	case SMTP_VRFY:
	case SMTP_NOOP:
	case SMTP_HELP:
		if ((c.verb == SMTP_VRFY && !n) || !text_ok(a, n)) {
			c.err = SMTP_E_SYNTAX;
			break;
		}
		c.arg = a;
		c.arg_len = n;
		break;
	default:
		break;
	}
	if (c.err)
		memset(&c.path, 0, sizeof(c.path));
	*ret = c;
}
