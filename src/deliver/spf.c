/* spf.c: SPF check_host() (RFC 7208) for the envelope sender. Each record is
 * checked whole before any term is evaluated; DNS-querying terms, void
 * lookups, MX and PTR names, include depth and macro expansion are bounded.
 * Rules: docs/PROTOCOL.md section 20.3. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"

#define SPF_RECORD_MAX ENQ_TXT_MAX /* bytes in one record */
#define SPF_DEPTH_MAX 10           /* nested include/redirect */
#define SPF_MX_MAX 10              /* RFC 7208 4.6.4 */
#define SPF_PTR_MAX 10             /* RFC 7208 4.6.4 */
#define SPF_EXPAND_MAX 1024        /* bytes of one expanded macro-string before truncation */
#define SPF_SENDER_MAX 320         /* bytes of the sender address */
#define SPF_PARTS_MAX 128          /* parts of a macro value split at delimiters */
#define SPF_DIGITS_MAX 3           /* digits of a macro transformer */

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_REDIRECT, M_EXP,
	        M_UNKNOWN_MOD };

struct term {
	enum mech mech;
	char qual;
	const char *spec; /* domain-spec (may be NULL: the current domain) */
	size_t spec_len;
	unsigned cidr4, cidr6;
	uint8_t ip[16];
};

struct spf {
	const struct auth_dns *dns;
	unsigned dns_used;
	unsigned terms; /* DNS-querying terms so far */
	unsigned voids;
	uint8_t fam;    /* 4 or 6 */
	uint8_t ip[16]; /* v4 in ip[0..3] */
	const char *sender;
	const char *local;
	size_t local_len;
	const char *sdomain;
	const char *helo;
};

/* RFC 7208 2.6 results, internal, mapped to enum msg_spf at the end */
typedef uint8_t res_t;

static int lookup(struct spf *s, uint8_t type, const char *name, struct enq_answer *a)
{
	if (s->dns->max_lookups && s->dns_used >= s->dns->max_lookups)
		return -1;
	s->dns_used++;
	memset(a, 0, sizeof(*a));
	if (s->dns->lookup(s->dns->ctx, type, name, s->fam, s->ip, a) < 0)
		return -1;
	if (a->count > ENQ_RECORDS_MAX || (a->status == CHST_OK && a->count == 0))
		return -1;
	return 0;
}

/* ---- syntax ---- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

/* Checks a macro-string; *ret_macro_end says whether it ends in a
 * macro-expand. exp: the letters c, r, t are allowed (exp= only). */
static int macro_check(const char *p, size_t n, bool exp, bool *ret_macro_end)
{
	bool macro_end = false;
	for (size_t i = 0; i < n;) {
		char c = p[i];
		if (c != '%') {
			if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7E)
				return -EBADMSG;
			macro_end = false;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return -EBADMSG;
		c = p[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			macro_end = true;
			i += 2;
			continue;
		}
		if (c != '{' || i + 2 >= n)
			return -EBADMSG;
		char l = (char)(p[i + 2] | 0x20);
		if (!strchr("sloidpvh", l) && !(exp && strchr("crt", l)))
			return -EBADMSG;
		size_t k = i + 3, d = 0;
		while (k < n && is_digit(p[k])) {
			if (++d > SPF_DIGITS_MAX || (d == 1 && p[k] == '0'))
				return -EBADMSG;
			k++;
		}
		if (k < n && (p[k] == 'r' || p[k] == 'R'))
			k++;
		while (k < n && is_delim(p[k]))
			k++;
		if (k >= n || p[k] != '}')
			return -EBADMSG;
		i = k + 1;
		macro_end = true;
	}
	*ret_macro_end = macro_end;
	return 0;
}

/* toplabel (RFC 7208 7.1): LDH, no '-' at either end, not all digits
 * unless it holds a '-'. */
static bool toplabel(const char *p, size_t n)
{
	bool alpha = false, dash = false;
	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_alpha(p[i]))
			alpha = true;
		else if (p[i] == '-')
			dash = true;
		else if (!is_digit(p[i]))
			return false;
	}
	return alpha || dash;
}

static int domain_spec_check(const char *p, size_t n)
{
	bool macro_end;
	if (n == 0 || macro_check(p, n, false, &macro_end) != 0)
		return -EBADMSG;
	if (macro_end)
		return 0;
	if (p[n - 1] == '.')
		n--;
	size_t s = n;
	while (s > 0 && p[s - 1] != '.')
		s--;
	if (s == 0 || !toplabel(p + s, n - s)) /* needs "." toplabel */
		return -EBADMSG;
	return 0;
}

/* "/" 1*DIGIT without leading zero, at most max */
static int cidr_num(const char *p, size_t n, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -EBADMSG;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Splits a trailing dual-cidr-length off p[0..*n). */
static int dual_cidr(const char *p, size_t *n, unsigned *c4, unsigned *c6)
{
	size_t e = *n, k = e;
	while (k > 0 && is_digit(p[k - 1]))
		k--;
	if (k >= 2 && k < e && p[k - 1] == '/' && p[k - 2] == '/') {
		if (cidr_num(p + k, e - k, 128, c6) != 0)
			return -EBADMSG;
		e = k - 2;
		k = e;
		while (k > 0 && is_digit(p[k - 1]))
			k--;
	}
	if (k >= 1 && k < e && p[k - 1] == '/') {
		if (cidr_num(p + k, e - k, 32, c4) != 0)
			return -EBADMSG;
		e = k - 1;
	}
	*n = e;
	return 0;
}

static int parse_ip(const char *p, size_t n, int af, uint8_t out[16], unsigned *cidr)
{
	char buf[64];
	const char *slash = memchr(p, '/', n);
	size_t al = slash ? (size_t)(slash - p) : n;
	if (al == 0 || al >= sizeof(buf))
		return -EBADMSG;
	if (slash && cidr_num(slash + 1, n - al - 1, af == AF_INET ? 32 : 128, cidr) != 0)
		return -EBADMSG;
	memcpy(buf, p, al);
	buf[al] = 0;
	memset(out, 0, 16);
	return inet_pton(af, buf, out) == 1 ? 0 : -EBADMSG;
}

/* One term p[0..n) (no spaces). */
static int parse_term(const char *p, size_t n, struct term *t)
{
	size_t i = 0;
	memset(t, 0, sizeof(*t));
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (n && strchr("+-~?", p[0])) {
		t->qual = p[0];
		i = 1;
	}
	size_t ns = i;
	while (i < n && (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '-' || p[i] == '_' ||
	                 p[i] == '.'))
		i++;
	const char *name = p + ns;
	size_t nl = i - ns;
	if (nl == 0 || !is_alpha(name[0]))
		return -EBADMSG;
	if (i < n && p[i] == '=') { /* a modifier */
		if (ns != 0)
			return -EBADMSG;
		const char *v = p + i + 1;
		size_t vl = n - i - 1;
		bool me;
		if (nl == 8 && strncasecmp(name, "redirect", 8) == 0) {
			t->mech = M_REDIRECT;
			if (domain_spec_check(v, vl) != 0)
				return -EBADMSG;
		} else if (nl == 3 && strncasecmp(name, "exp", 3) == 0) {
			t->mech = M_EXP;
			if (domain_spec_check(v, vl) != 0)
				return -EBADMSG;
		} else {
			t->mech = M_UNKNOWN_MOD;
			if (macro_check(v, vl, true, &me) != 0)
				return -EBADMSG;
		}
		t->spec = v;
		t->spec_len = vl;
		return 0;
	}
	static const struct { const char *name; enum mech m; } mechs[] = {
		{ "all", M_ALL }, { "include", M_INCLUDE }, { "a", M_A }, { "mx", M_MX },
		{ "ptr", M_PTR }, { "ip4", M_IP4 }, { "ip6", M_IP6 }, { "exists", M_EXISTS },
	};
	size_t k;
	for (k = 0; k < ARRAY_SIZE(mechs); k++)
		if (strlen(mechs[k].name) == nl && strncasecmp(mechs[k].name, name, nl) == 0)
			break;
	if (k == ARRAY_SIZE(mechs))
		return -EBADMSG;
	t->mech = mechs[k].m;
	const char *r = p + i;
	size_t rl = n - i;
	switch (t->mech) {
	case M_ALL:
		return rl == 0 ? 0 : -EBADMSG;
	case M_INCLUDE:
	case M_EXISTS:
		if (rl < 2 || r[0] != ':')
			return -EBADMSG;
		t->spec = r + 1;
		t->spec_len = rl - 1;
		return domain_spec_check(t->spec, t->spec_len);
	case M_A:
	case M_MX:
		if (dual_cidr(r, &rl, &t->cidr4, &t->cidr6) != 0)
			return -EBADMSG;
		/* fall through */
	case M_PTR:
		if (rl == 0)
			return 0;
		if (rl < 2 || r[0] != ':')
			return -EBADMSG;
		t->spec = r + 1;
		t->spec_len = rl - 1;
		return domain_spec_check(t->spec, t->spec_len);
	case M_IP4:
	case M_IP6:
		if (rl < 2 || r[0] != ':')
			return -EBADMSG;
		return parse_ip(r + 1, rl - 1, t->mech == M_IP4 ? AF_INET : AF_INET6, t->ip,
		                t->mech == M_IP4 ? &t->cidr4 : &t->cidr6);
	default:
		return -EBADMSG;
	}
}

/* Walks the terms after "v=spf1": returns false at the end. */
static bool next_term(const char *rec, size_t n, size_t *pos, const char **ret_p, size_t *ret_n)
{
	size_t i = *pos;
	while (i < n && rec[i] == ' ')
		i++;
	if (i == n)
		return false;
	size_t s = i;
	while (i < n && rec[i] != ' ')
		i++;
	*ret_p = rec + s;
	*ret_n = i - s;
	*pos = i;
	return true;
}

/* The whole record (RFC 7208 4.6): 0, or -EBADMSG for permerror. */
static int record_check(const char *rec, size_t n)
{
	size_t pos = 6;
	const char *p;
	size_t pl;
	struct term t;
	int redirects = 0, exps = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rec[i] < 0x20 || (unsigned char)rec[i] > 0x7E)
			return -EBADMSG;
	if (n > 6 && rec[6] != ' ')
		return -EBADMSG;
	while (next_term(rec, n, &pos, &p, &pl)) {
		if (parse_term(p, pl, &t) != 0)
			return -EBADMSG;
		if ((t.mech == M_REDIRECT && ++redirects > 1) || (t.mech == M_EXP && ++exps > 1))
			return -EBADMSG;
	}
	return 0;
}

/* ---- macros (RFC 7208 7) ---- */

static size_t ip_text(const struct spf *s, char *out, size_t cap)
{
	if (s->fam == 4) {
		return (size_t)snprintf(out, cap, "%u.%u.%u.%u", s->ip[0], s->ip[1], s->ip[2], s->ip[3]);
	}
	size_t k = 0;
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 16 && k + 4 <= cap; i++) {
		out[k++] = hx[s->ip[i] >> 4];
		out[k++] = '.';
		out[k++] = hx[s->ip[i] & 15];
		if (i < 15)
			out[k++] = '.';
	}
	out[k] = 0;
	return k;
}

static int put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
	if (n > cap - *len)
		return -E2BIG;
	memcpy(out + *len, p, n);
	*len += n;
	return 0;
}

/* Expands a checked macro-string into out (NUL-terminated). */
static int expand(const struct spf *s, const char *p, size_t n, const char *domain, char *out,
                  size_t cap, size_t *ret_len)
{
	size_t len = 0;
	char ipbuf[80];
	cap--; /* the NUL */
	for (size_t i = 0; i < n;) {
		if (p[i] != '%') {
			if (put(out, cap, &len, p + i, 1) != 0)
				return -E2BIG;
			i++;
			continue;
		}
		char c = p[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			if (put(out, cap, &len, c == '%' ? "%" : c == '_' ? " " : "%20",
			        c == '-' ? 3 : 1) != 0)
				return -E2BIG;
			i += 2;
			continue;
		}
		/* %{ letter digits [r] delims } */
		char letter = p[i + 2];
		bool upper = letter >= 'A' && letter <= 'Z';
		const char *val;
		size_t vl;
		switch (letter | 0x20) {
		case 's': val = s->sender; vl = strlen(val); break;
		case 'l': val = s->local; vl = s->local_len; break;
		case 'o': val = s->sdomain; vl = strlen(val); break;
		case 'd': val = domain; vl = strlen(val); break;
		case 'i': vl = ip_text(s, ipbuf, sizeof(ipbuf)); val = ipbuf; break;
		case 'p': val = "unknown"; vl = 7; break;
		case 'v': val = s->fam == 4 ? "in-addr" : "ip6"; vl = strlen(val); break;
		case 'h': val = s->helo; vl = strlen(val); break;
		default: return -EBADMSG;
		}
		size_t k = i + 3;
		unsigned keep = 0;
		while (is_digit(p[k]))
			keep = keep * 10 + (unsigned)(p[k++] - '0');
		bool rev = false;
		if (p[k] == 'r' || p[k] == 'R') {
			rev = true;
			k++;
		}
		const char *delims = p + k;
		size_t dn = 0;
		while (is_delim(p[k])) {
			k++;
			dn++;
		}
		i = k + 1; /* past '}' */
		/* split */
		size_t ps[SPF_PARTS_MAX], pl[SPF_PARTS_MAX], np = 0, st = 0;
		for (size_t j = 0; j <= vl; j++) {
			bool d = j < vl && (dn ? memchr(delims, val[j], dn) != NULL : val[j] == '.');
			if (j == vl || d) {
				if (np == SPF_PARTS_MAX)
					return -E2BIG;
				ps[np] = st;
				pl[np++] = j - st;
				st = j + 1;
			}
		}
		size_t count = np;
		if (keep && keep < np)
			count = keep;
		/* after optional reversal, the rightmost count parts */
		for (size_t q = 0; q < count; q++) {
			size_t idx = rev ? (count - 1 - q) : (np - count + q);
			if (q && put(out, cap, &len, ".", 1) != 0)
				return -E2BIG;
			const char *part = val + ps[idx];
			for (size_t b = 0; b < pl[idx]; b++) {
				char ch = part[b];
				if (upper && !(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' ||
				               ch == '_' || ch == '~')) {
					char esc[4];
					snprintf(esc, sizeof(esc), "%%%02X", (unsigned char)ch);
					if (put(out, cap, &len, esc, 3) != 0)
						return -E2BIG;
				} else if (put(out, cap, &len, &ch, 1) != 0) {
					return -E2BIG;
				}
			}
		}
	}
	out[len] = 0;
	*ret_len = len;
	return 0;
}

/* Expands a domain-spec to a name for a DNS question (RFC 7208 7.3:
 * over 253 bytes, labels are dropped from the left). Returns 0, -E2BIG
 * (permerror) or -EINVAL (not a name that can be asked: no match). */
static int target(const struct spf *s, const struct term *t, const char *domain, char *out)
{
	char buf[SPF_EXPAND_MAX + 1];
	size_t n;
	if (!t->spec) {
		snprintf(out, ENQ_NAME_MAX + 1, "%s", domain);
		return 0;
	}
	if (expand(s, t->spec, t->spec_len, domain, buf, sizeof(buf), &n) != 0)
		return -E2BIG;
	if (n && buf[n - 1] == '.')
		buf[--n] = 0;
	char *p = buf;
	while (n > ENQ_NAME_MAX) {
		char *dot = memchr(p, '.', n);
		if (!dot)
			return -EINVAL;
		n -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (!auth_domain_valid(p, n))
		return -EINVAL;
	memcpy(out, p, n + 1);
	return 0;
}

/* ---- evaluation ---- */

static bool cidr_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	size_t full = bits / 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (bits % 8) {
		uint8_t mask = (uint8_t)(0xFF << (8 - bits % 8));
		return (a[full] & mask) == (b[full] & mask);
	}
	return true;
}

/* Address records of name against the client IP. Returns 1 match, 0 none
 * (void set when the name had no data), or a negative TEMPERROR signal. */
static int addr_match(struct spf *s, const char *name, const struct term *t, bool *ret_void)
{
	struct enq_answer a;
	*ret_void = false;
	if (lookup(s, s->fam == 4 ? ENQ_A : ENQ_AAAA, name, &a) != 0 || a.status == CHST_TEMPFAIL)
		return -1;
	if (a.status != CHST_OK) {
		*ret_void = true;
		return 0;
	}
	for (size_t k = 0; k < a.count; k++) {
		if (s->fam == 4 ? cidr_match(a.rec[k].ip, s->ip, t->cidr4)
		                : cidr_match(a.rec[k].ip, s->ip, t->cidr6))
			return 1;
	}
	return 0;
}

#define R_NOMATCH 0xFF

static res_t check_host(struct spf *s, const char *domain, unsigned depth);

static bool void_over(struct spf *s)
{
	return ++s->voids > AUTH_SPF_VOID_MAX;
}

static bool term_over(struct spf *s)
{
	return ++s->terms > AUTH_SPF_LOOKUPS_MAX;
}

/* Evaluates one mechanism: R_NOMATCH, or the result to return. */
static res_t mechanism(struct spf *s, const struct term *t, const char *domain, unsigned depth)
{
	char name[ENQ_NAME_MAX + 1];
	struct enq_answer a;
	bool v;
	int rc;
	res_t match;

	switch (t->qual) {
	case '-': match = MSG_SPF_FAIL; break;
	case '~': match = MSG_SPF_SOFTFAIL; break;
	case '?': match = MSG_SPF_NEUTRAL; break;
	default: match = MSG_SPF_PASS; break;
	}
	if (t->mech == M_ALL)
		return match;
	if (t->mech == M_IP4)
		return s->fam == 4 && cidr_match(t->ip, s->ip, t->cidr4) ? match : R_NOMATCH;
	if (t->mech == M_IP6)
		return s->fam == 6 && cidr_match(t->ip, s->ip, t->cidr6) ? match : R_NOMATCH;

	if (term_over(s))
		return MSG_SPF_PERMERROR;
	rc = target(s, t, domain, name);
	if (rc == -E2BIG)
		return MSG_SPF_PERMERROR;
	if (rc != 0) /* a name no DNS question can carry: nothing there */
		return void_over(s) ? MSG_SPF_PERMERROR : R_NOMATCH;

	switch (t->mech) {
	case M_INCLUDE: {
		res_t r = check_host(s, name, depth + 1);
		if (r == MSG_SPF_PASS)
			return match;
		if (r == MSG_SPF_TEMPERROR)
			return r;
		if (r == MSG_SPF_PERMERROR || r == MSG_SPF_NONE)
			return MSG_SPF_PERMERROR;
		return R_NOMATCH;
	}
	case M_A:
		rc = addr_match(s, name, t, &v);
		if (rc < 0)
			return MSG_SPF_TEMPERROR;
		if (v && void_over(s))
			return MSG_SPF_PERMERROR;
		return rc ? match : R_NOMATCH;
	case M_EXISTS:
		/* always an A question, whatever the client's family */
		if (lookup(s, ENQ_A, name, &a) != 0 || a.status == CHST_TEMPFAIL)
			return MSG_SPF_TEMPERROR;
		if (a.status != CHST_OK)
			return void_over(s) ? MSG_SPF_PERMERROR : R_NOMATCH;
		return match;
	case M_MX: {
		char mx[SPF_MX_MAX][ENQ_NAME_MAX + 1];
		size_t nmx = 0;
		if (lookup(s, ENQ_MX, name, &a) != 0 || a.status == CHST_TEMPFAIL)
			return MSG_SPF_TEMPERROR;
		if (a.status != CHST_OK)
			return void_over(s) ? MSG_SPF_PERMERROR : R_NOMATCH;
		if (a.count > SPF_MX_MAX || (a.flags & ENQ_F_TRUNC))
			return MSG_SPF_PERMERROR;
		for (size_t k = 0; k < a.count; k++) {
			const struct enq_record *r = &a.rec[k];
			if (!r->data || r->len == 0 || r->len > ENQ_NAME_MAX) /* null MX (RFC 7505) */
				continue;
			memcpy(mx[nmx], r->data, r->len);
			mx[nmx][r->len] = 0;
			if (auth_domain_valid(mx[nmx], r->len))
				nmx++;
		}
		for (size_t k = 0; k < nmx; k++) {
			rc = addr_match(s, mx[k], t, &v);
			if (rc < 0)
				return MSG_SPF_TEMPERROR;
			if (rc)
				return match;
		}
		return R_NOMATCH;
	}
	case M_PTR: {
		char ptr[SPF_PTR_MAX][ENQ_NAME_MAX + 1];
		size_t np = 0;
		if (lookup(s, ENQ_PTR, "", &a) != 0 || a.status == CHST_TEMPFAIL)
			return R_NOMATCH; /* RFC 7208 5.5: a DNS error is no match */
		if (a.status != CHST_OK)
			return void_over(s) ? MSG_SPF_PERMERROR : R_NOMATCH;
		for (size_t k = 0; k < a.count && np < SPF_PTR_MAX; k++) {
			const struct enq_record *r = &a.rec[k];
			if (!r->data || r->len == 0 || r->len > ENQ_NAME_MAX)
				continue;
			memcpy(ptr[np], r->data, r->len);
			ptr[np][r->len] = 0;
			if (auth_domain_valid(ptr[np], r->len))
				np++;
		}
		size_t tl = strlen(name);
		struct term any = *t;
		any.cidr4 = 32;
		any.cidr6 = 128;
		for (size_t k = 0; k < np; k++) {
			size_t pl = strlen(ptr[k]);
			bool sub = pl == tl ? strcasecmp(ptr[k], name) == 0
			                    : pl > tl && ptr[k][pl - tl - 1] == '.' &&
			                          strcasecmp(ptr[k] + pl - tl, name) == 0;
			if (!sub)
				continue;
			rc = addr_match(s, ptr[k], &any, &v);
			if (rc > 0)
				return match; /* validated, and within the target domain */
		}
		return R_NOMATCH;
	}
	default:
		return MSG_SPF_PERMERROR;
	}
}

static res_t check_host(struct spf *s, const char *domain, unsigned depth)
{
	struct enq_answer a;
	char *rec;
	size_t n = 0, found = 0;

	if (depth > SPF_DEPTH_MAX)
		return MSG_SPF_PERMERROR;
	if (!auth_domain_valid(domain, strlen(domain)) || !strchr(domain, '.'))
		return MSG_SPF_NONE; /* RFC 7208 4.3 */
	if (lookup(s, ENQ_TXT, domain, &a) != 0 || a.status == CHST_TEMPFAIL)
		return MSG_SPF_TEMPERROR;
	if (a.status != CHST_OK)
		return MSG_SPF_NONE;
	rec = xmalloc(SPF_RECORD_MAX + 1);
	for (size_t k = 0; k < a.count; k++) {
		const struct enq_record *r = &a.rec[k];
		if (!r->data || r->len < 6 || strncasecmp((const char *)r->data, "v=spf1", 6) != 0 ||
		    (r->len > 6 && r->data[6] != ' '))
			continue;
		if (++found > 1 || r->len > SPF_RECORD_MAX)
			break;
		memcpy(rec, r->data, r->len);
		n = r->len;
	}
	res_t res;
	if (found == 0) {
		res = MSG_SPF_NONE;
		goto out;
	}
	if (found > 1 || record_check(rec, n) != 0) {
		res = MSG_SPF_PERMERROR;
		goto out;
	}
	rec[n] = 0;

	size_t pos = 6, pl;
	const char *p;
	struct term t, redirect;
	bool has_redirect = false;
	while (next_term(rec, n, &pos, &p, &pl)) {
		if (parse_term(p, pl, &t) != 0) {
			res = MSG_SPF_PERMERROR;
			goto out;
		}
		if (t.mech == M_REDIRECT) {
			redirect = t;
			has_redirect = true;
			continue;
		}
		if (t.mech == M_EXP || t.mech == M_UNKNOWN_MOD)
			continue;
		res = mechanism(s, &t, domain, depth);
		if (res != R_NOMATCH)
			goto out;
	}
	if (!has_redirect) {
		res = MSG_SPF_NEUTRAL;
		goto out;
	}
	char name[ENQ_NAME_MAX + 1];
	if (term_over(s)) {
		res = MSG_SPF_PERMERROR;
		goto out;
	}
	int rc = target(s, &redirect, domain, name);
	if (rc != 0) {
		res = MSG_SPF_PERMERROR;
		goto out;
	}
	res = check_host(s, name, depth + 1);
	if (res == MSG_SPF_NONE) /* RFC 7208 6.1 */
		res = MSG_SPF_PERMERROR;
out:
	free(rec);
	return res;
}

uint8_t auth_spf_check(uint8_t ip_family, const uint8_t ip[16], const char *env_from,
                       const char *helo, const struct auth_dns *dns)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
	struct spf s;
	char sender[SPF_SENDER_MAX + 16];

	memset(&s, 0, sizeof(s));
	s.dns = dns;
	if (ip_family == 4) {
		s.fam = 4;
		memcpy(s.ip, ip, 4);
	} else if (ip_family == 6 && memcmp(ip, mapped, 12) == 0) {
		s.fam = 4; /* RFC 7208 5: IPv4-mapped addresses are IPv4 */
		memcpy(s.ip, ip + 12, 4);
	} else if (ip_family == 6) {
		s.fam = 6;
		memcpy(s.ip, ip, 16);
	} else {
		return MSG_SPF_NONE;
	}
	s.helo = helo ? helo : "";
	if (env_from && *env_from) {
		if (strlen(env_from) > SPF_SENDER_MAX)
			return MSG_SPF_NONE;
		const char *at = strrchr(env_from, '@');
		if (at && at != env_from) {
			snprintf(sender, sizeof(sender), "%s", env_from);
		} else {
			/* no local part: postmaster (RFC 7208 4.3) */
			snprintf(sender, sizeof(sender), "postmaster@%s", at ? at + 1 : env_from);
		}
	} else {
		if (!helo || !*helo || strlen(helo) > ENQ_NAME_MAX)
			return MSG_SPF_NONE;
		snprintf(sender, sizeof(sender), "postmaster@%s", helo);
	}
	char *at = strrchr(sender, '@');
	s.sender = sender;
	s.local = sender;
	s.local_len = (size_t)(at - sender);
	s.sdomain = at + 1;
	char domain[ENQ_NAME_MAX + 2];
	size_t dl = strlen(s.sdomain);
	if (dl == 0 || dl > ENQ_NAME_MAX + 1)
		return MSG_SPF_NONE;
	memcpy(domain, s.sdomain, dl + 1);
	if (domain[dl - 1] == '.')
		domain[dl - 1] = 0;
	return check_host(&s, domain, 0);
}
