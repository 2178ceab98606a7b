/* dkim.c: DKIM verification (RFC 6376; RFC 8463 ed25519-sha256; RFC 8301
 * rejects rsa-sha1 and RSA keys under 1024 bits). One pass over the body feeds
 * every signature's hash; each header field is canonicalised at most once
 * per canonicalisation. Rules, bounds and flags: docs/PROTOCOL.md section 20.2. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"
#include "deliver/dkimtag.h"

#define DKIM_FIELDS_MAX 4096     /* header fields looked at; more: every signature permerror */
#define DKIM_H_MAX 64            /* names in h= */
#define DKIM_SIG_MAX_BYTES 512   /* decoded b= (RSA 4096) */
#define DKIM_KEY_DER_MAX 1024    /* decoded p= */
#define DKIM_RSA_BITS_MIN 1024   /* RFC 8301 */
#define DKIM_RSA_BITS_MAX 4096   /* what wolfSSL's SP_INT_BITS supports everywhere */
#define DKIM_L_DIGITS_MAX 76     /* RFC 6376 l= */
#define DKIM_TIME_DIGITS_MAX 12  /* RFC 6376 t=, x= */
#define DKIM_CANON_BUF 4096

struct field {
	size_t start, end; /* raw bytes, without the final line end */
	size_t name_len;   /* field name without WSP before ':' */
	size_t colon;      /* offset of ':' (== end when there is none) */
	size_t canon_off[2], canon_len[2];
	bool canon_done[2];
};

struct hdrs {
	const uint8_t *msg;
	struct field *f;
	size_t count;
	bool overflow;
	size_t body_start;
	uint8_t *arena; /* canonical forms, by offset (the arena moves) */
	size_t arena_len, arena_cap;
};

enum { ST_PENDING, ST_DONE };

struct sig {
	struct msg_dkim *out;
	int state;
	size_t field;
	struct dkimtag_list tags;
	const struct dkimtag *b, *h;
	uint8_t bh[32];
	uint8_t sigbytes[DKIM_SIG_MAX_BYTES];
	size_t sig_len;
	bool has_l;
	uint64_t l;
	const uint8_t *i_dom; /* i= domain, or NULL */
	size_t i_dom_len;
	/* key */
	uint8_t ed_pk[32];
	RsaKey rsa;
	bool rsa_init;
	size_t rsa_bytes;
	/* body hash */
	crypto_hash_sha256_state bst;
	uint64_t bdone;
};

/* ---- small helpers ---- */

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool ieq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && strncasecmp((const char *)a, (const char *)b, al) == 0;
}

static bool ieq_str(const uint8_t *a, size_t al, const char *s)
{
	return ieq(a, al, (const uint8_t *)s, strlen(s));
}

bool auth_domain_valid(const char *d, size_t n)
{
	size_t label = 0;
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > ENQ_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		           c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* Base64 with the FWS RFC 6376 allows inside it. */
static int b64_decode(uint8_t *out, size_t cap, size_t *ret_len, const uint8_t *p, size_t n)
{
	return b64_decode_strict(out, cap, ret_len, (const char *)p, n, " \t\r\n") < 0 ? -EBADMSG
	                                                                               : 0;
}

/* 1..maxd decimal digits; saturates at UINT64_MAX. */
static int parse_dec(const struct dkimtag *t, size_t maxd, uint64_t *ret)
{
	uint64_t v = 0;
	if (t->val_len == 0 || t->val_len > maxd)
		return -EBADMSG;
	for (size_t i = 0; i < t->val_len; i++) {
		uint8_t c = t->val[i];
		if (c < '0' || c > '9')
			return -EBADMSG;
		if (v > (UINT64_MAX - 9) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + (uint64_t)(c - '0');
	}
	*ret = v;
	return 0;
}

static int dns_txt(const struct auth_dns *dns, unsigned *used, const char *name,
                   struct enq_answer *ret)
{
	if (dns->max_lookups && *used >= dns->max_lookups)
		return -1;
	(*used)++;
	if (dns->lookup(dns->ctx, ENQ_TXT, name, 0, NULL, ret) < 0)
		return -1;
	return 0;
}

/* ---- the message: header fields and the start of the body ---- */

/* The end of the line starting at i (index of its LF, or n). */
static size_t line_end(const uint8_t *p, size_t n, size_t i)
{
	const uint8_t *lf = memchr(p + i, '\n', n - i);
	return lf ? (size_t)(lf - p) : n;
}

/* Content end of a line ending at LF index e (drops the CR of CRLF). */
static size_t content_end(const uint8_t *p, size_t s, size_t e)
{
	return (e > s && p[e - 1] == '\r') ? e - 1 : e;
}

static void split_headers(struct hdrs *h, const uint8_t *p, size_t n)
{
	size_t i = 0, cap = 0;

	memset(h, 0, sizeof(*h));
	h->msg = p;
	while (i < n) {
		size_t e = line_end(p, n, i);
		size_t ce = content_end(p, i, e);
		if (ce == i) { /* the empty line */
			h->body_start = e < n ? e + 1 : n;
			return;
		}
		/* a field: this line and its continuation lines */
		size_t start = i, fend = ce;
		i = e < n ? e + 1 : n;
		while (i < n && is_wsp(p[i])) {
			e = line_end(p, n, i);
			fend = content_end(p, i, e);
			i = e < n ? e + 1 : n;
		}
		if (h->count == DKIM_FIELDS_MAX) {
			h->overflow = true;
			continue;
		}
		if (h->count == cap) {
			cap = cap ? cap * 2 : 64;
			h->f = xrealloc(h->f, cap * sizeof(*h->f));
		}
		struct field *f = &h->f[h->count++];
		memset(f, 0, sizeof(*f));
		f->start = start;
		f->end = fend;
		const uint8_t *c = memchr(p + start, ':', fend - start);
		f->colon = c ? (size_t)(c - p) : fend;
		size_t ne = f->colon;
		while (ne > start && is_wsp(p[ne - 1]))
			ne--;
		f->name_len = ne - start;
	}
	h->body_start = n;
}

static void arena_put(struct hdrs *h, const uint8_t *p, size_t n)
{
	if (h->arena_cap - h->arena_len < n) {
		size_t cap = h->arena_cap ? h->arena_cap : 4096;
		while (cap - h->arena_len < n)
			cap *= 2;
		h->arena = xrealloc(h->arena, cap);
		h->arena_cap = cap;
	}
	memcpy(h->arena + h->arena_len, p, n);
	h->arena_len += n;
}

static void arena_byte(struct hdrs *h, uint8_t c)
{
	arena_put(h, &c, 1);
}

/* Appends the canonical form of raw field bytes p[0..n) (RFC 6376 3.4.1 and
 * 3.4.2), with the final CRLF when crlf. */
static void canon_field(struct hdrs *h, int relaxed, const uint8_t *p, size_t n, size_t colon,
                        bool crlf)
{
	if (!relaxed) {
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
				arena_byte(h, '\r');
			arena_byte(h, p[i]);
		}
	} else {
		size_t ne = colon;
		while (ne > 0 && is_wsp(p[ne - 1]))
			ne--;
		for (size_t i = 0; i < ne; i++) {
			uint8_t c = p[i];
			arena_byte(h, (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c);
		}
		arena_byte(h, ':');
		bool ws = false, any = false;
		for (size_t i = colon + 1; i < n; i++) {
			uint8_t c = p[i];
			if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n'))
				continue; /* unfold */
			if (is_wsp(c)) {
				ws = true;
				continue;
			}
			if (ws && any)
				arena_byte(h, ' ');
			ws = false;
			any = true;
			arena_byte(h, c);
		}
	}
	if (crlf)
		arena_put(h, (const uint8_t *)"\r\n", 2);
}

static void field_canon(struct hdrs *h, size_t k, int relaxed)
{
	struct field *f = &h->f[k];
	if (f->canon_done[relaxed])
		return;
	size_t off = h->arena_len;
	canon_field(h, relaxed, h->msg + f->start, f->end - f->start, f->colon - f->start, true);
	f->canon_off[relaxed] = off;
	f->canon_len[relaxed] = h->arena_len - off;
	f->canon_done[relaxed] = true;
}

/* ---- body canonicalisation, one pass for all signatures ---- */

struct bcanon {
	int relaxed;
	uint64_t pend_crlf; /* empty lines not yet known to be inside the body */
	uint64_t total;     /* canonical bytes emitted */
	uint8_t buf[DKIM_CANON_BUF];
	size_t blen;
	struct sig *sinks[MSG_DKIM_MAX];
	size_t nsinks;
};

static void bc_flush(struct bcanon *bc)
{
	for (size_t k = 0; k < bc->nsinks; k++) {
		struct sig *s = bc->sinks[k];
		uint64_t take = bc->blen;
		if (s->has_l && s->l - s->bdone < take)
			take = s->l - s->bdone;
		if (take)
			crypto_hash_sha256_update(&s->bst, bc->buf, take);
		s->bdone += take;
	}
	bc->total += bc->blen;
	bc->blen = 0;
}

static void bc_emit(struct bcanon *bc, const uint8_t *p, size_t n)
{
	while (n) {
		size_t take = sizeof(bc->buf) - bc->blen;
		if (take > n)
			take = n;
		memcpy(bc->buf + bc->blen, p, take);
		bc->blen += take;
		p += take;
		n -= take;
		if (bc->blen == sizeof(bc->buf))
			bc_flush(bc);
	}
}

static void bc_pending(struct bcanon *bc)
{
	for (; bc->pend_crlf; bc->pend_crlf--)
		bc_emit(bc, (const uint8_t *)"\r\n", 2);
}

/* One line's content p[0..n) (without its line end). */
static void bc_line(struct bcanon *bc, const uint8_t *p, size_t n)
{
	if (!bc->relaxed) {
		if (n == 0) {
			bc->pend_crlf++;
			return;
		}
		bc_pending(bc);
		bc_emit(bc, p, n);
		bc_emit(bc, (const uint8_t *)"\r\n", 2);
		return;
	}
	bool ws = false, nonempty = false;
	size_t i = 0;
	while (i < n) {
		if (is_wsp(p[i])) {
			ws = true;
			i++;
			continue;
		}
		size_t s = i;
		while (i < n && !is_wsp(p[i]))
			i++;
		if (!nonempty) {
			bc_pending(bc);
			nonempty = true;
		}
		if (ws)
			bc_emit(bc, (const uint8_t *)" ", 1);
		ws = false;
		bc_emit(bc, p + s, i - s);
	}
	if (nonempty)
		bc_emit(bc, (const uint8_t *)"\r\n", 2);
	else
		bc->pend_crlf++;
}

static void body_hash(const uint8_t *p, size_t n, struct bcanon *bc[2])
{
	size_t i = 0;
	while (i < n) {
		size_t e = line_end(p, n, i);
		size_t ce = content_end(p, i, e);
		for (int c = 0; c < 2; c++)
			if (bc[c]->nsinks)
				bc_line(bc[c], p + i, ce - i);
		i = e < n ? e + 1 : n;
	}
	for (int c = 0; c < 2; c++) {
		/* RFC 6376 3.4.3: an empty body is one CRLF in simple. */
		if (!bc[c]->relaxed && bc[c]->total == 0 && bc[c]->blen == 0 && bc[c]->nsinks)
			bc_emit(bc[c], (const uint8_t *)"\r\n", 2);
		bc_flush(bc[c]);
	}
}

/* ---- keys ---- */

/* Strict DER: one TLV of the given tag at p[*i]; definite length, minimal. */
static int der_get(const uint8_t *p, size_t n, size_t *i, uint8_t tag, const uint8_t **ret_v,
                   size_t *ret_len)
{
	size_t k = *i, len;
	if (k + 2 > n || p[k] != tag)
		return -EBADMSG;
	uint8_t l0 = p[k + 1];
	k += 2;
	if (l0 < 0x80) {
		len = l0;
	} else if (l0 == 0x81) {
		if (k + 1 > n || p[k] < 0x80)
			return -EBADMSG;
		len = p[k];
		k += 1;
	} else if (l0 == 0x82) {
		if (k + 2 > n || p[k] == 0)
			return -EBADMSG;
		len = (size_t)p[k] << 8 | p[k + 1];
		if (len < 0x100)
			return -EBADMSG;
		k += 2;
	} else {
		return -EBADMSG;
	}
	if (len > n - k)
		return -EBADMSG;
	*ret_v = p + k;
	*ret_len = len;
	*i = k + len;
	return 0;
}

/* A positive INTEGER's magnitude without leading zero bytes. */
static int der_uint(const uint8_t *p, size_t n, size_t *i, const uint8_t **ret_v, size_t *ret_len)
{
	const uint8_t *v;
	size_t len;
	if (der_get(p, n, i, 0x02, &v, &len) != 0 || len == 0 || (v[0] & 0x80))
		return -EBADMSG;
	if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
		return -EBADMSG; /* not minimal */
	while (len > 0 && v[0] == 0) {
		v++;
		len--;
	}
	if (len == 0)
		return -EBADMSG;
	*ret_v = v;
	*ret_len = len;
	return 0;
}

/* RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }, all of p. */
static int rsa_pub_parse(const uint8_t *p, size_t n, const uint8_t **ret_n, size_t *ret_nl,
                         const uint8_t **ret_e, size_t *ret_el)
{
	size_t i = 0, j = 0, sl;
	const uint8_t *s;
	if (der_get(p, n, &i, 0x30, &s, &sl) != 0 || i != n)
		return -EBADMSG;
	if (der_uint(s, sl, &j, ret_n, ret_nl) != 0 || der_uint(s, sl, &j, ret_e, ret_el) != 0 ||
	    j != sl)
		return -EBADMSG;
	return 0;
}

/* p= of an RSA key: SubjectPublicKeyInfo (RFC 6376 3.6.1), or a bare RSAPublicKey. */
static int rsa_key_parse(const uint8_t *p, size_t n, const uint8_t **ret_n, size_t *ret_nl,
                         const uint8_t **ret_e, size_t *ret_el)
{
	static const uint8_t oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	size_t i = 0, j = 0, k = 0, sl, al, ol, bl, nl;
	const uint8_t *s, *a, *o, *b, *nul;

	if (rsa_pub_parse(p, n, ret_n, ret_nl, ret_e, ret_el) == 0)
		return 0;
	if (der_get(p, n, &i, 0x30, &s, &sl) != 0 || i != n)
		return -EBADMSG;
	if (der_get(s, sl, &j, 0x30, &a, &al) != 0 || der_get(a, al, &k, 0x06, &o, &ol) != 0 ||
	    ol != sizeof(oid_rsa) || memcmp(o, oid_rsa, ol) != 0)
		return -EBADMSG;
	if (k != al && (der_get(a, al, &k, 0x05, &nul, &nl) != 0 || nl != 0 || k != al))
		return -EBADMSG;
	if (der_get(s, sl, &j, 0x03, &b, &bl) != 0 || j != sl || bl < 1 || b[0] != 0)
		return -EBADMSG;
	return rsa_pub_parse(b + 1, bl - 1, ret_n, ret_nl, ret_e, ret_el);
}

static unsigned bits_of(const uint8_t *v, size_t len)
{
	unsigned bits = (unsigned)(len * 8);
	for (uint8_t top = v[0]; !(top & 0x80); top <<= 1)
		bits--;
	return bits;
}

/* Parses one key record into s; returns an enum msg_dkim_result, PASS meaning
 * "usable". */
static uint8_t key_record(struct sig *s, const uint8_t *txt, size_t len)
{
	struct dkimtag_list kl;
	const struct dkimtag *t;
	uint8_t der[DKIM_KEY_DER_MAX];
	size_t der_len = 0, pos;
	const uint8_t *it;
	size_t il;
	bool ok;
	bool ed = s->out->algo == MSG_DKIM_ALGO_ED25519_SHA256;

	if (dkimtag_parse(&kl, txt, len) != 0)
		return MSG_DKIM_PERMERROR;
	if ((t = dkimtag_get(&kl, "v")) && (t != &kl.tag[0] || !dkimtag_is(t, "DKIM1")))
		return MSG_DKIM_PERMERROR;
	if ((t = dkimtag_get(&kl, "h"))) {
		ok = false;
		for (pos = 0; dkimtag_next_item(t, &pos, &it, &il);)
			ok |= ieq_str(it, il, "sha256");
		if (!ok)
			return MSG_DKIM_PERMERROR;
	}
	t = dkimtag_get(&kl, "k");
	if (t ? !dkimtag_is_ci(t, ed ? "ed25519" : "rsa") : ed)
		return MSG_DKIM_PERMERROR;
	if ((t = dkimtag_get(&kl, "s"))) {
		ok = false;
		for (pos = 0; dkimtag_next_item(t, &pos, &it, &il);)
			ok |= ieq_str(it, il, "email") || ieq_str(it, il, "*");
		if (!ok)
			return MSG_DKIM_PERMERROR;
	}
	if ((t = dkimtag_get(&kl, "t"))) {
		for (pos = 0; dkimtag_next_item(t, &pos, &it, &il);) {
			if (ieq_str(it, il, "y"))
				s->out->flags |= MSG_DKIM_F_TEST;
			if (ieq_str(it, il, "s"))
				s->out->flags |= MSG_DKIM_F_STRICT;
		}
	}
	t = dkimtag_get(&kl, "p");
	if (!t || t->val_len == 0) /* absent, or revoked (RFC 6376 3.6.1) */
		return MSG_DKIM_PERMERROR;
	if (b64_decode(der, sizeof(der), &der_len, t->val, t->val_len) != 0)
		return MSG_DKIM_PERMERROR;
	if ((s->out->flags & MSG_DKIM_F_STRICT) && s->i_dom &&
	    !ieq(s->i_dom, s->i_dom_len, s->out->domain.p, s->out->domain.len))
		return MSG_DKIM_PERMERROR; /* t=s: i= may not be a subdomain of d= */
	if (ed) {
		if (der_len != 32)
			return MSG_DKIM_PERMERROR;
		memcpy(s->ed_pk, der, 32);
		s->out->key_bits = 256;
		return MSG_DKIM_PASS;
	}
	const uint8_t *nv, *ev;
	size_t nl, el;
	if (rsa_key_parse(der, der_len, &nv, &nl, &ev, &el) != 0 || el > 8)
		return MSG_DKIM_PERMERROR;
	unsigned bits = bits_of(nv, nl);
	s->out->key_bits = (uint16_t)(bits > UINT16_MAX ? UINT16_MAX : bits);
	if (bits < DKIM_RSA_BITS_MIN || bits > DKIM_RSA_BITS_MAX)
		return MSG_DKIM_PERMERROR;
	if (wc_InitRsaKey(&s->rsa, NULL) != 0)
		return MSG_DKIM_TEMPERROR;
	s->rsa_init = true;
	if (wc_RsaPublicKeyDecodeRaw(nv, (word32)nl, ev, (word32)el, &s->rsa) != 0)
		return MSG_DKIM_PERMERROR;
	s->rsa_bytes = nl;
	return MSG_DKIM_PASS;
}

/* ---- one signature's tags ---- */

static bool h_name_valid(const uint8_t *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7E || p[i] == ':')
			return false;
	return true;
}

static bool addr_eq(const uint8_t *p, size_t n, const char *addr)
{
	return addr && *addr && ieq_str(p, n, addr);
}

/* Validates the signature's tags (RFC 6376 3.5, 6.1.1); fills the record's
 * fields. Returns PASS when verification can go on. */
static uint8_t sig_tags(struct sig *s, const uint8_t *v, size_t vl, uint64_t now,
                        const char *env_from, const char *hdr_from, const char *reply_to)
{
	struct msg_dkim *o = s->out;
	const struct dkimtag *t, *d, *sel;
	size_t pos, il, bl;
	const uint8_t *it;

	if (dkimtag_parse(&s->tags, v, vl) != 0)
		return MSG_DKIM_PERMERROR;
	struct dkimtag_list *l = &s->tags;
	/* record what can be recorded before judging */
	if ((t = dkimtag_get(l, "a"))) {
		if (dkimtag_is(t, "rsa-sha256"))
			o->algo = MSG_DKIM_ALGO_RSA_SHA256;
		else if (dkimtag_is(t, "ed25519-sha256"))
			o->algo = MSG_DKIM_ALGO_ED25519_SHA256;
		else if (dkimtag_is(t, "rsa-sha1"))
			o->algo = MSG_DKIM_ALGO_RSA_SHA1;
	}
	d = dkimtag_get(l, "d");
	sel = dkimtag_get(l, "s");
	if (d && d->val_len <= MSG_DKIM_DOMAIN_MAX)
		o->domain = (struct msg_str){ d->val, d->val_len };
	if (sel && sel->val_len <= MSG_DKIM_SELECTOR_MAX)
		o->selector = (struct msg_str){ sel->val, sel->val_len };
	if ((t = dkimtag_get(l, "c"))) {
		const uint8_t *slash = memchr(t->val, '/', t->val_len);
		size_t hl = slash ? (size_t)(slash - t->val) : t->val_len;
		if (ieq_str(t->val, hl, "relaxed"))
			o->head_canon = MSG_DKIM_RELAXED;
		else if (!ieq_str(t->val, hl, "simple"))
			return MSG_DKIM_PERMERROR;
		if (slash) {
			const uint8_t *bp = slash + 1;
			size_t bl2 = t->val_len - hl - 1;
			if (ieq_str(bp, bl2, "relaxed"))
				o->body_canon = MSG_DKIM_RELAXED;
			else if (!ieq_str(bp, bl2, "simple"))
				return MSG_DKIM_PERMERROR;
		}
	}
	if ((t = dkimtag_get(l, "t"))) {
		if (parse_dec(t, DKIM_TIME_DIGITS_MAX, &o->t) != 0)
			return MSG_DKIM_PERMERROR;
		o->flags |= MSG_DKIM_F_T;
		if (o->t > now)
			o->flags |= MSG_DKIM_F_FUTURE;
	}
	if ((t = dkimtag_get(l, "x"))) {
		if (parse_dec(t, DKIM_TIME_DIGITS_MAX, &o->x) != 0)
			return MSG_DKIM_PERMERROR;
		o->flags |= MSG_DKIM_F_X;
		if (o->x < now)
			o->flags |= MSG_DKIM_F_EXPIRED;
		if ((o->flags & MSG_DKIM_F_T) && o->x < o->t)
			return MSG_DKIM_PERMERROR;
	}
	if ((t = dkimtag_get(l, "l"))) {
		if (parse_dec(t, DKIM_L_DIGITS_MAX, &s->l) != 0)
			return MSG_DKIM_PERMERROR;
		s->has_l = true;
		o->flags |= MSG_DKIM_F_LENGTH;
	}
	if ((t = dkimtag_get(l, "i"))) {
		if (addr_eq(t->val, t->val_len, env_from))
			o->flags |= MSG_DKIM_F_I_ENV_FROM;
		if (addr_eq(t->val, t->val_len, hdr_from))
			o->flags |= MSG_DKIM_F_I_HDR_FROM;
		if (addr_eq(t->val, t->val_len, reply_to))
			o->flags |= MSG_DKIM_F_I_REPLY_TO;
	}
	/* now judge */
	if (!dkimtag_is(dkimtag_get(l, "v"), "1"))
		return MSG_DKIM_PERMERROR;
	if (o->algo == MSG_DKIM_ALGO_UNKNOWN || o->algo == MSG_DKIM_ALGO_RSA_SHA1)
		return MSG_DKIM_PERMERROR; /* RFC 8301: rsa-sha1 must not be accepted */
	if (!d || !o->domain.len || !auth_domain_valid((const char *)d->val, d->val_len) ||
	    d->val[d->val_len - 1] == '.')
		return MSG_DKIM_PERMERROR;
	if (!sel || !o->selector.len ||
	    !auth_domain_valid((const char *)sel->val, sel->val_len) ||
	    sel->val[sel->val_len - 1] == '.' ||
	    sel->val_len + sizeof("._domainkey.") - 1 + d->val_len > ENQ_NAME_MAX)
		return MSG_DKIM_PERMERROR;
	if ((t = dkimtag_get(l, "q"))) {
		bool ok = false;
		for (pos = 0; dkimtag_next_item(t, &pos, &it, &il);)
			ok |= ieq_str(it, il, "dns/txt");
		if (!ok)
			return MSG_DKIM_PERMERROR;
	}
	if ((t = dkimtag_get(l, "i"))) {
		const uint8_t *at = NULL;
		for (size_t k = 0; k < t->val_len; k++)
			if (t->val[k] == '@')
				at = t->val + k;
		if (!at)
			return MSG_DKIM_PERMERROR;
		s->i_dom = at + 1;
		s->i_dom_len = t->val_len - (size_t)(at + 1 - t->val);
		bool sub = s->i_dom_len > d->val_len &&
		           s->i_dom[s->i_dom_len - d->val_len - 1] == '.' &&
		           ieq(s->i_dom + s->i_dom_len - d->val_len, d->val_len, d->val, d->val_len);
		if (!sub && !ieq(s->i_dom, s->i_dom_len, d->val, d->val_len))
			return MSG_DKIM_PERMERROR;
	}
	s->h = dkimtag_get(l, "h");
	if (!s->h)
		return MSG_DKIM_PERMERROR;
	size_t hcount = 0;
	bool from = false;
	for (pos = 0; dkimtag_next_item(s->h, &pos, &it, &il);) {
		if (++hcount > DKIM_H_MAX || !h_name_valid(it, il))
			return MSG_DKIM_PERMERROR;
		from |= ieq_str(it, il, "from");
	}
	if (!from)
		return MSG_DKIM_PERMERROR;
	if (!(t = dkimtag_get(l, "bh")) || b64_decode(s->bh, sizeof(s->bh), &bl, t->val,
	                                              t->val_len) != 0 || bl != sizeof(s->bh))
		return MSG_DKIM_PERMERROR;
	s->b = dkimtag_get(l, "b");
	if (!s->b || s->b->val_len == 0 ||
	    b64_decode(s->sigbytes, sizeof(s->sigbytes), &s->sig_len, s->b->val, s->b->val_len) != 0)
		return MSG_DKIM_PERMERROR;
	if (o->algo == MSG_DKIM_ALGO_ED25519_SHA256 && s->sig_len != crypto_sign_BYTES)
		return MSG_DKIM_PERMERROR;
	return MSG_DKIM_PASS;
}

static uint8_t lookup_key(struct sig *s, const struct auth_dns *dns, unsigned *used)
{
	char name[ENQ_NAME_MAX + 1];
	struct enq_answer a;
	const struct msg_dkim *o = s->out;

	memcpy(name, o->selector.p, o->selector.len);
	memcpy(name + o->selector.len, "._domainkey.", 12);
	memcpy(name + o->selector.len + 12, o->domain.p, o->domain.len);
	name[o->selector.len + 12 + o->domain.len] = 0;
	memset(&a, 0, sizeof(a));
	if (dns_txt(dns, used, name, &a) != 0 || a.status == CHST_TEMPFAIL)
		return MSG_DKIM_TEMPERROR;
	if (a.status != CHST_OK || a.count == 0 || a.count > ENQ_RECORDS_MAX)
		return MSG_DKIM_PERMERROR; /* no key for signature */
	/* RFC 6376 3.6.2.2: several records; use the first that is a usable key. */
	uint8_t r = MSG_DKIM_PERMERROR;
	for (size_t k = 0; k < a.count; k++) {
		if (!a.rec[k].data || a.rec[k].len > ENQ_TXT_MAX)
			continue;
		uint16_t flags = s->out->flags;
		r = key_record(s, a.rec[k].data, a.rec[k].len);
		if (r == MSG_DKIM_PASS)
			break;
		s->out->flags = flags;
		s->out->key_bits = r == MSG_DKIM_PERMERROR ? s->out->key_bits : 0;
		if (s->rsa_init) {
			wc_FreeRsaKey(&s->rsa);
			s->rsa_init = false;
		}
	}
	return r;
}

/* Picks header fields bottom-up as h= lists them (RFC 6376 5.4.2) and hashes
 * their canonical forms, then the signature field itself without b=. */
static void header_hash(struct sig *s, struct hdrs *hd, bool *used, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	int rel = s->out->head_canon == MSG_DKIM_RELAXED;
	size_t pos, il;
	const uint8_t *it;

	crypto_hash_sha256_init(&st);
	memset(used, 0, hd->count * sizeof(*used));
	used[s->field] = true;
	for (pos = 0; dkimtag_next_item(s->h, &pos, &it, &il);) {
		for (size_t k = hd->count; k-- > 0;) {
			struct field *f = &hd->f[k];
			if (used[k] || !ieq(hd->msg + f->start, f->name_len, it, il))
				continue;
			used[k] = true;
			field_canon(hd, k, rel);
			crypto_hash_sha256_update(&st, hd->arena + f->canon_off[rel], f->canon_len[rel]);
			break;
		}
	}
	/* the DKIM-Signature field with the value of b= (and its whitespace) removed */
	const struct field *f = &hd->f[s->field];
	const uint8_t *raw = hd->msg + f->start;
	size_t vstart = f->colon + 1 - f->start; /* the tag list's offsets are from here */
	size_t cut_s = vstart + s->b->raw_start, cut_e = vstart + s->b->raw_end;
	size_t rl = f->end - f->start;
	uint8_t *tmp = xmalloc(rl);
	memcpy(tmp, raw, cut_s);
	memcpy(tmp + cut_s, raw + cut_e, rl - cut_e);
	size_t off = hd->arena_len;
	canon_field(hd, rel, tmp, rl - (cut_e - cut_s), f->colon - f->start, false);
	crypto_hash_sha256_update(&st, hd->arena + off, hd->arena_len - off);
	hd->arena_len = off;
	free(tmp);
	crypto_hash_sha256_final(&st, out);
}

static uint8_t verify_sig(struct sig *s, const uint8_t hash[32])
{
	if (s->out->algo == MSG_DKIM_ALGO_ED25519_SHA256)
		return crypto_sign_verify_detached(s->sigbytes, hash, 32, s->ed_pk) == 0
		           ? MSG_DKIM_PASS
		           : MSG_DKIM_FAIL;
	/* RSASSA-PKCS1-v1_5: DigestInfo for SHA-256, with or without NULL parameters */
	static const uint8_t di_null[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
		                                 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		                                 0x01, 0x05, 0x00, 0x04, 0x20 };
	static const uint8_t di_bare[17] = { 0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09,
		                                 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
		                                 0x04, 0x02, 0x01, 0x04, 0x20 };
	uint8_t dec[DKIM_SIG_MAX_BYTES], want[sizeof(di_null) + 32];
	if (s->sig_len != s->rsa_bytes)
		return MSG_DKIM_FAIL;
	int n = wc_RsaSSL_Verify(s->sigbytes, (word32)s->sig_len, dec, sizeof(dec), &s->rsa);
	if (n == (int)sizeof(di_null) + 32) {
		memcpy(want, di_null, sizeof(di_null));
		memcpy(want + sizeof(di_null), hash, 32);
	} else if (n == (int)sizeof(di_bare) + 32) {
		memcpy(want, di_bare, sizeof(di_bare));
		memcpy(want + sizeof(di_bare), hash, 32);
	} else {
		return MSG_DKIM_FAIL;
	}
	return sodium_memcmp(dec, want, (size_t)n) == 0 ? MSG_DKIM_PASS : MSG_DKIM_FAIL;
}

size_t auth_dkim_verify(const uint8_t *msg, size_t len, uint64_t now, const char *env_from,
                        const char *hdr_from, const char *reply_to, const struct auth_dns *dns,
                        struct msg_dkim out[MSG_DKIM_MAX])
{
	struct hdrs hd;
	struct sig *sigs;
	size_t ns = 0;
	unsigned used_dns = 0;

	split_headers(&hd, msg, len);
	sigs = xcalloc(MSG_DKIM_MAX, sizeof(*sigs));
	for (size_t k = 0; k < hd.count && ns < MSG_DKIM_MAX; k++) {
		struct field *f = &hd.f[k];
		if (!ieq_str(msg + f->start, f->name_len, "DKIM-Signature") || f->colon == f->end)
			continue;
		struct sig *s = &sigs[ns];
		s->out = &out[ns++];
		memset(s->out, 0, sizeof(*s->out));
		s->field = k;
		uint8_t r = sig_tags(s, msg + f->colon + 1, f->end - f->colon - 1, now, env_from,
		                     hdr_from, reply_to);
		if (r == MSG_DKIM_PASS && hd.overflow)
			r = MSG_DKIM_PERMERROR;
		if (r == MSG_DKIM_PASS)
			r = lookup_key(s, dns, &used_dns);
		s->out->result = r;
		s->state = r == MSG_DKIM_PASS ? ST_PENDING : ST_DONE;
	}

	/* body hashes: one pass, both canonicalisations as needed */
	struct bcanon *bc[2];
	bc[0] = xcalloc(1, sizeof(*bc[0]));
	bc[1] = xcalloc(1, sizeof(*bc[1]));
	bc[1]->relaxed = 1;
	bool any = false;
	for (size_t k = 0; k < ns; k++) {
		struct sig *s = &sigs[k];
		if (s->state != ST_PENDING)
			continue;
		crypto_hash_sha256_init(&s->bst);
		struct bcanon *c = bc[s->out->body_canon == MSG_DKIM_RELAXED];
		c->sinks[c->nsinks++] = s;
		any = true;
	}
	if (any)
		body_hash(msg + hd.body_start, len - hd.body_start, bc);

	bool *usedf = any ? xcalloc(hd.count ? hd.count : 1, sizeof(bool)) : NULL;
	for (size_t k = 0; k < ns; k++) {
		struct sig *s = &sigs[k];
		if (s->state != ST_PENDING)
			continue;
		uint8_t bh[32], hh[32];
		crypto_hash_sha256_final(&s->bst, bh);
		uint64_t total = bc[s->out->body_canon == MSG_DKIM_RELAXED]->total;
		if (s->has_l && s->l > total)
			s->out->result = MSG_DKIM_FAIL; /* fewer body bytes than signed */
		else if (sodium_memcmp(bh, s->bh, 32) != 0)
			s->out->result = MSG_DKIM_FAIL;
		else {
			header_hash(s, &hd, usedf, hh);
			s->out->result = verify_sig(s, hh);
		}
		if (s->out->result == MSG_DKIM_PASS && (s->out->flags & MSG_DKIM_F_EXPIRED))
			s->out->result = MSG_DKIM_POLICY; /* valid, but past its x= */
	}
	for (size_t k = 0; k < ns; k++)
		if (sigs[k].rsa_init)
			wc_FreeRsaKey(&sigs[k].rsa);
	free(usedf);
	free(bc[0]);
	free(bc[1]);
	free(sigs);
	free(hd.f);
	free(hd.arena);
	return ns;
}
