/* mime.c: one raw email to the parts of an ExtMsg (docs/PROTOCOL.md 19):
 * the header block, the MIME tree (boundaries, transfer encodings, charsets),
 * the text versions assembled into one CET body, and the attachments.
 * Broken input is repaired, never refused; every count, depth and size is
 * bounded. Header field details are in mimehdr.c, HTML in html.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cet.h"
#include "common/message.h"
#include "common/utf8.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

/* Longest "Name: value" line kept in `headers`. */
#define MIME_HEADER_KEEP_MAX 16384u
/* Most text versions (alternatives) a body keeps; the last ones win. */
#define MIME_VERSIONS_MAX 32u
/* One attachment's decoded size when the caller gives no limit. */
#define MIME_ATTACH_BYTES_DEFAULT (32u * 1024 * 1024)
/* Where an unlabelled HTML part is searched for a <meta> charset. */
#define MIME_META_SNIFF_BYTES 1024u
/* Longest boundary accepted (RFC 2046 allows 70). */
#define MIME_BOUNDARY_MAX 256u
/* Longest name made from a forwarded message's subject. */
#define MIME_EML_NAME_MAX 200u

struct field {
	const uint8_t *name, *val;
	size_t name_len, val_len;
};

struct fields {
	struct field *f;
	size_t n, cap;
	bool trunc; /* more than MIME_HEADER_LINES_MAX */
};

enum node_kind { N_NONE, N_LEAF, N_ALT, N_MULTI };

struct node {
	enum node_kind kind;
	size_t leaf;
	size_t first, last, next; /* children and siblings; SIZE_MAX = none */
};

struct ctx {
	struct mime_result *r;
	size_t attach_max;
	struct node nodes[MIME_PARTS_MAX];
	size_t nnodes;
	struct wr leaves[MIME_PARTS_MAX];
	size_t nleaves;
	size_t budget; /* CET bytes the leaves may still take */
};

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

/* ---- header block ---- */

static bool name_is(const struct field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp((const char *)f->name, name, f->name_len) == 0;
}

static const struct field *field_find(const struct fields *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++)
		if (name_is(&fs->f[i], name))
			return &fs->f[i];
	return NULL;
}

/* Splits p into header fields and returns the offset of the body. A line
 * that is neither a field nor a continuation ends the header block there. */
static size_t header_block(const uint8_t *p, size_t len, bool top, struct fields *fs, uint16_t *flags)
{
	size_t i = 0;
	struct field *cur = NULL;
	if (top && len >= 5 && memcmp(p, "From ", 5) == 0) { /* mbox separator */
		const uint8_t *nl = memchr(p, '\n', len);
		i = nl ? (size_t)(nl - p) + 1 : len;
	}
	while (i < len) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - p) : len, next = nl ? e + 1 : len;
		size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
		if (le == i)
			return next; /* the blank line */
		if (p[i] == ' ' || p[i] == '\t') {
			if (cur)
				cur->val_len = le - (size_t)(cur->val - p);
			else
				*flags |= MIME_F_REPAIRED;
			i = next;
			continue;
		}
		size_t k = i;
		while (k < le && p[k] > ' ' && p[k] < 0x7F && p[k] != ':')
			k++;
		size_t c = k;
		while (c < le && (p[c] == ' ' || p[c] == '\t'))
			c++;
		if (k == i || c >= le || p[c] != ':') {
			*flags |= MIME_F_REPAIRED; /* not a header: the body starts here */
			return i;
		}
		if (fs->n >= MIME_HEADER_LINES_MAX) {
			fs->trunc = true;
			cur = NULL;
		} else {
			if (fs->n == fs->cap) {
				fs->cap = fs->cap ? fs->cap * 2 : 32;
				fs->f = xrealloc(fs->f, fs->cap * sizeof(*fs->f));
			}
			cur = &fs->f[fs->n++];
			cur->name = p + i;
			cur->name_len = k - i;
			cur->val = p + c + 1;
			cur->val_len = le - (c + 1);
		}
		i = next;
	}
	return len; /* headers only, no body */
}

static void fields_free(struct fields *fs)
{
	free(fs->f);
	memset(fs, 0, sizeof(*fs));
}

/* ---- transfer encodings ---- */

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lenient quoted-printable: "=XX" (either case), soft line breaks, trailing
 * whitespace dropped; a stray '=' stays. */
static void qp_decode(struct wr *out, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	size_t start = out->len;
	uint8_t *d = wr_reserve(out, n);
	size_t k = 0, i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c == '=') {
			if (i + 2 < n + 0 && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
				d[k++] = (uint8_t)(hexv(p[i + 1]) << 4 | hexv(p[i + 2]));
				i += 3;
				continue;
			}
			size_t j = i + 1;
			while (j < n && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j == n || p[j] == '\n' || (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')) {
				i = j == n ? n : p[j] == '\n' ? j + 1 : j + 2; /* soft line break */
				continue;
			}
			d[k++] = '=';
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			size_t j = i;
			while (j < n && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j < n && (p[j] == '\n' || p[j] == '\r')) {
				i = j; /* trailing whitespace is not content */
				continue;
			}
			memcpy(d + k, p + i, j - i);
			k += j - i;
			i = j;
			continue;
		}
		d[k++] = c;
		i++;
	}
	out->len = start + k;
}

/* Lenient base64: bytes outside the alphabet are skipped, '=' ends a group,
 * a lone last sextet is dropped. */
static void b64_decode(struct wr *out, const uint8_t *p, size_t n)
{
	size_t start = out->len;
	uint8_t *d = wr_reserve(out, n / 4 * 3 + 3);
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		int v = ch >= 'A' && ch <= 'Z'   ? ch - 'A'
		        : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
		        : ch >= '0' && ch <= '9' ? ch - '0' + 52
		        : ch == '+'              ? 62
		        : ch == '/'              ? 63
		                                 : -1;
		if (v < 0) {
			if (p[i] == '=')
				acc = 0, bits = 0;
			continue;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[k++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out->len = start + k;
}

static enum cte cte_of(const struct fields *fs)
{
	const struct field *f = field_find(fs, "content-transfer-encoding");
	if (!f)
		return CTE_IDENTITY;
	const uint8_t *v = f->val;
	size_t n = f->val_len;
	while (n && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n == 16 && strncasecmp((const char *)v, "quoted-printable", 16) == 0)
		return CTE_QP;
	if (n == 6 && strncasecmp((const char *)v, "base64", 6) == 0)
		return CTE_BASE64;
	return CTE_IDENTITY; /* 7bit, 8bit, binary and unknown ones */
}

/* Decoded content: either p itself (identity) or tmp. */
static void content_decode(enum cte e, const uint8_t *p, size_t n, struct wr *tmp,
                           const uint8_t **ret_p, size_t *ret_n)
{
	if (e == CTE_IDENTITY) {
		*ret_p = p, *ret_n = n;
		return;
	}
	tmp->len = 0;
	if (e == CTE_QP)
		qp_decode(tmp, p, n);
	else
		b64_decode(tmp, p, n);
	*ret_p = tmp->p, *ret_n = tmp->len;
}

/* ---- text ---- */

/* RFC 3676: joins the lines of format=flowed text. */
static void unflow(struct wr *out, const uint8_t *p, size_t n, bool delsp)
{
	bool open = false, first = true;
	size_t open_q = 0;
	for (size_t i = 0; i <= n;) {
		if (i == n && (n == 0 || p[n - 1] == '\n'))
			break;
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n, next = nl ? e + 1 : n + 1;
		size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
		size_t q = 0, s = i;
		while (s < le && p[s] == '>')
			q++, s++;
		if (s < le && p[s] == ' ')
			s++; /* space-stuffing */
		bool sig = le - s == 3 && memcmp(p + s, "-- ", 3) == 0;
		bool flowed = !sig && le > s && p[le - 1] == ' ';
		if (!(open && q == open_q)) {
			if (!first)
				wr_u8(out, '\n');
			for (size_t k = 0; k < q; k++)
				wr_u8(out, '>');
			if (q && le > s)
				wr_u8(out, ' ');
		}
		first = false;
		size_t cl = le - s;
		if (flowed && delsp)
			cl--;
		wr_put(out, p + s, cl);
		open = flowed;
		open_q = q;
		i = next;
	}
}

static size_t sniff_meta_charset(const uint8_t *p, size_t n, char *label)
{
	size_t m = n < MIME_META_SNIFF_BYTES ? n : MIME_META_SNIFF_BYTES;
	for (size_t i = 0; i + 8 <= m; i++) {
		if (strncasecmp((const char *)p + i, "charset=", 8) != 0)
			continue;
		size_t j = i + 8, k = 0;
		while (j < m && (p[j] == '"' || p[j] == '\'' || p[j] == ' '))
			j++;
		while (j < m && k < CHARSET_LABEL_MAX &&
		       ((p[j] | 0x20) >= 'a' && (p[j] | 0x20) <= 'z' ? true : (p[j] >= '0' && p[j] <= '9') || p[j] == '-' || p[j] == '_' || p[j] == '.' || p[j] == ':'))
			label[k++] = (char)p[j++];
		label[k] = '\0';
		return k;
	}
	label[0] = '\0';
	return 0;
}

static size_t leaf_text(struct ctx *c, const struct mimehdr_ctype *ct, bool html, enum cte e,
                        const uint8_t *raw, size_t raw_n)
{
	if (c->nleaves >= MIME_PARTS_MAX)
		return SIZE_MAX;
	struct wr tmp = WR_INIT, u = WR_INIT, f = WR_INIT;
	const uint8_t *p;
	size_t n;
	content_decode(e, raw, raw_n, &tmp, &p, &n);
	char label[CHARSET_LABEL_MAX + 1];
	size_t ll = ct->charset.len < CHARSET_LABEL_MAX ? ct->charset.len : CHARSET_LABEL_MAX;
	if (ct->charset.len) {
		memcpy(label, ct->charset.p, ll);
		label[ll] = '\0';
		if (ct->charset.len > CHARSET_LABEL_MAX)
			label[0] = '?', label[1] = '\0'; /* unknown: UTF-8 or U+FFFD */
	} else if (!html || sniff_meta_charset(p, n, label) == 0) {
		label[0] = '\0';
	}
	if (charset_to_utf8(&u, label, p, n) < 0)
		utf8_append_lenient(&u, p, n);
	wr_free(&tmp);
	size_t id = c->nleaves++;
	struct wr *out = &c->leaves[id];
	*out = (struct wr)WR_INIT;
	if (html) {
		bool cut = false;
		if (html_convert(out, u.p, u.len, c->budget, &cut) < 0 || cut)
			c->r->flags |= MIME_F_BODY_TRUNC;
	} else {
		const uint8_t *t = u.p;
		size_t tn = u.len;
		if (ct->flowed) {
			unflow(&f, u.p, u.len, ct->delsp);
			t = f.p, tn = f.len;
		}
		size_t keep = msg_text_cut(t, tn, c->budget);
		if (keep < tn)
			c->r->flags |= MIME_F_BODY_TRUNC;
		if (cet_from_plain(out, t, keep) < 0)
			c->r->flags |= MIME_F_BODY_TRUNC;
	}
	c->budget -= out->len <= c->budget ? out->len : c->budget;
	wr_free(&u);
	wr_free(&f);
	return id;
}

/* ---- attachments ---- */

static const struct {
	const char *type;
	const char *ext;
} exts[] = {
	{ "application/gzip", "gz" },       { "application/json", "json" },
	{ "application/msword", "doc" },    { "application/pdf", "pdf" },
	{ "application/pgp-encrypted", "pgp" }, { "application/pgp-keys", "asc" },
	{ "application/pgp-signature", "asc" }, { "application/pkcs7-signature", "p7s" },
	{ "application/x-pkcs7-signature", "p7s" }, { "application/zip", "zip" },
	{ "audio/mpeg", "mp3" },            { "image/gif", "gif" },
	{ "image/jpeg", "jpg" },            { "image/png", "png" },
	{ "image/svg+xml", "svg" },         { "image/webp", "webp" },
	{ "message/delivery-status", "txt" }, { "message/global", "eml" },
	{ "message/rfc822", "eml" },        { "text/calendar", "ics" },
	{ "text/csv", "csv" },              { "text/html", "html" },
	{ "text/plain", "txt" },            { "video/mp4", "mp4" },
};

static const char *ext_of(const char *media)
{
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++)
		if (strcmp(media, exts[i].type) == 0)
			return exts[i].ext;
	if (strncmp(media, "text/", 5) == 0)
		return "txt";
	return "bin";
}

/* Makes name a valid UplMsg file name (LINE, no '/', not "." or "..",
 * 1..255 bytes); returns false when nothing usable is left. */
static bool name_fix(struct wr *name)
{
	mimehdr_clean_line(name, 0);
	size_t s = 0;
	for (size_t i = 0; i < name->len; i++)
		if (name->p[i] == '/' || name->p[i] == '\\')
			s = i + 1;
	if (s) {
		memmove(name->p, name->p + s, name->len - s);
		name->len -= s;
		mimehdr_clean_line(name, 0);
	}
	if (name->len == 0 || (name->len == 1 && name->p[0] == '.') ||
	    (name->len == 2 && name->p[0] == '.' && name->p[1] == '.'))
		return false;
	if (name->len > MSG_FILENAME_MAX) {
		const uint8_t *dot = NULL;
		for (size_t i = name->len; i-- > 1;)
			if (name->p[i] == '.') {
				dot = name->p + i;
				break;
			}
		size_t ext = dot ? name->len - (size_t)(dot - name->p) : 0;
		if (ext > 16)
			ext = 0;
		size_t stem = msg_text_cut(name->p, name->len - ext, MSG_FILENAME_MAX - ext);
		memmove(name->p + stem, name->p + name->len - ext, ext);
		name->len = stem + ext;
	}
	return true;
}

static void eml_name(struct wr *name, const uint8_t *p, size_t n)
{
	struct fields fs = { 0 };
	uint16_t fl = 0;
	header_block(p, n, false, &fs, &fl);
	const struct field *f = field_find(&fs, "subject");
	if (f) {
		struct wr u = WR_INIT;
		mimehdr_unfold(&u, f->val, f->val_len);
		mimehdr_decode_text(name, u.p, u.len);
		wr_free(&u);
		name->len = msg_text_cut(name->p, name->len, MIME_EML_NAME_MAX);
		for (size_t i = 0; i < name->len; i++)
			if (name->p[i] == '/' || name->p[i] == '\\')
				name->p[i] = '_';
		mimehdr_clean_line(name, 0);
		if (name->len)
			wr_put(name, ".eml", 4);
	}
	fields_free(&fs);
}

static void attachment(struct ctx *c, const struct mimehdr_ctype *ct, const struct mimehdr_ctype *disp,
                       enum cte e, const uint8_t *raw, size_t raw_n, bool message)
{
	struct mime_result *r = c->r;
	size_t seq = ++r->attach_seen;
	if (r->attach_count >= MIME_ATTACH_MAX) {
		r->flags |= MIME_F_ATTACH_DROPPED;
		return;
	}
	struct wr tmp = WR_INIT;
	const uint8_t *p;
	size_t n;
	content_decode(e, raw, raw_n, &tmp, &p, &n);
	if (n > c->attach_max) {
		r->flags |= MIME_F_ATTACH_DROPPED;
		wr_free(&tmp);
		return;
	}
	struct mime_attachment *a = &r->attach[r->attach_count++];
	*a = (struct mime_attachment){ WR_INIT, WR_INIT, WR_INIT };
	char media[MSG_MEDIA_TYPE_MAX + 1];
	int ml = snprintf(media, sizeof(media), "%s/%s", ct->type, ct->subtype);
	if (!ct->type[0] || !ct->subtype[0] || ml < 3 || ml > MSG_MEDIA_TYPE_MAX)
		ml = snprintf(media, sizeof(media), "application/octet-stream");
	wr_put(&a->media_type, media, (size_t)ml);
	if (disp->name.len)
		wr_put(&a->name, disp->name.p, disp->name.len);
	else if (ct->name.len)
		wr_put(&a->name, ct->name.p, ct->name.len);
	else if (message)
		eml_name(&a->name, p, n);
	if (!name_fix(&a->name)) {
		char made[64];
		int k = snprintf(made, sizeof(made), "attachment-%zu.%s", seq, ext_of(media));
		a->name.len = 0;
		wr_put(&a->name, made, (size_t)k);
	}
	if (p == tmp.p) {
		a->data = tmp; /* take the buffer */
	} else {
		wr_put(&a->data, p, n);
		wr_free(&tmp);
	}
}

/* ---- the MIME tree ---- */

static size_t node_new(struct ctx *c, enum node_kind k)
{
	if (c->nnodes >= MIME_PARTS_MAX)
		return SIZE_MAX;
	size_t id = c->nnodes++;
	c->nodes[id] = (struct node){ k, SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	return id;
}

static void node_add(struct ctx *c, size_t parent, size_t child)
{
	if (parent == SIZE_MAX || child == SIZE_MAX)
		return;
	struct node *p = &c->nodes[parent];
	if (p->last == SIZE_MAX)
		p->first = child;
	else
		c->nodes[p->last].next = child;
	p->last = child;
}

/* Is line p[0..n) the delimiter "--boundary" (close: "--boundary--"),
 * with only whitespace after? */
static int delimiter(const uint8_t *p, size_t n, const uint8_t *b, size_t bl)
{
	if (n < bl + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, bl) != 0)
		return 0;
	size_t i = bl + 2;
	int kind = 1;
	if (i + 1 < n + 0 && p[i] == '-' && p[i + 1] == '-')
		kind = 2, i += 2;
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return kind;
}

/* A boundary guessed from the body of a multipart without one: the first
 * line that looks like a delimiter. */
static bool boundary_guess(const uint8_t *p, size_t n, struct wr *b)
{
	for (size_t i = 0; i < n;) {
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n;
		size_t le = e;
		while (le > i && (p[le - 1] == '\r' || p[le - 1] == ' ' || p[le - 1] == '\t'))
			le--;
		if (le - i > 2 && le - i - 2 <= MIME_BOUNDARY_MAX && p[i] == '-' && p[i + 1] == '-') {
			bool ok = true;
			for (size_t k = i + 2; k < le; k++)
				if (p[k] <= ' ' || p[k] >= 0x7F)
					ok = false;
			if (ok) {
				wr_put(b, p + i + 2, le - i - 2);
				return true;
			}
		}
		i = nl ? e + 1 : n;
	}
	return false;
}

static size_t walk(struct ctx *c, const struct fields *fs, const uint8_t *body, size_t blen,
                   size_t depth, bool digest);

static size_t multipart(struct ctx *c, const struct mimehdr_ctype *ct, const uint8_t *body,
                        size_t blen, size_t depth, size_t self)
{
	const uint8_t *b = ct->boundary.p;
	size_t bl = ct->boundary.len;
	bool digest = strcmp(ct->subtype, "digest") == 0;
	size_t part_start = SIZE_MAX, found = 0;
	bool closed = false;
	for (size_t i = 0; i < blen && !closed;) {
		const uint8_t *nl = memchr(body + i, '\n', blen - i);
		size_t e = nl ? (size_t)(nl - body) : blen, next = nl ? e + 1 : blen;
		int d = delimiter(body + i, e - i, b, bl);
		if (d) {
			found++;
			if (part_start != SIZE_MAX) {
				size_t pe = i; /* the line break before the delimiter is its own */
				if (pe > part_start && body[pe - 1] == '\n')
					pe--;
				if (pe > part_start && body[pe - 1] == '\r')
					pe--;
				if (pe < part_start)
					pe = part_start;
				struct fields pf = { 0 };
				size_t off = header_block(body + part_start, pe - part_start, false, &pf, &c->r->flags);
				if (pf.trunc)
					c->r->flags |= MIME_F_REPAIRED;
				node_add(c, self, walk(c, &pf, body + part_start + off, pe - part_start - off, depth + 1, digest));
				fields_free(&pf);
			}
			if (d == 2)
				closed = true;
			part_start = next;
		}
		i = next;
	}
	if (found == 0)
		return 0;
	if (!closed) {
		c->r->flags |= MIME_F_REPAIRED; /* no close delimiter: the last part runs to the end */
		if (part_start != SIZE_MAX && part_start < blen) {
			struct fields pf = { 0 };
			size_t off = header_block(body + part_start, blen - part_start, false, &pf, &c->r->flags);
			node_add(c, self, walk(c, &pf, body + part_start + off, blen - part_start - off, depth + 1, digest));
			fields_free(&pf);
		}
	}
	return found;
}

static size_t walk(struct ctx *c, const struct fields *fs, const uint8_t *body, size_t blen,
                   size_t depth, bool digest)
{
	if (c->nnodes >= MIME_PARTS_MAX) {
		c->r->flags |= MIME_F_BODY_TRUNC; /* parts past the limit are not read */
		return SIZE_MAX;
	}
	struct mimehdr_ctype ct = { 0 }, disp = { 0 };
	const struct field *f = field_find(fs, "content-type");
	struct wr u = WR_INIT;
	if (f) {
		mimehdr_unfold(&u, f->val, f->val_len);
		mimehdr_ctype_parse(&ct, u.p, u.len, false);
		if (!ct.type[0])
			c->r->flags |= MIME_F_REPAIRED;
	}
	if (!ct.type[0]) {
		snprintf(ct.type, sizeof(ct.type), "%s", digest ? "message" : "text");
		snprintf(ct.subtype, sizeof(ct.subtype), "%s", digest ? "rfc822" : "plain");
	}
	f = field_find(fs, "content-disposition");
	if (f) {
		u.len = 0;
		mimehdr_unfold(&u, f->val, f->val_len);
		mimehdr_ctype_parse(&disp, u.p, u.len, true);
	}
	wr_free(&u);
	enum cte e = cte_of(fs);
	size_t id = SIZE_MAX;
	bool is_attach = strcmp(disp.type, "attachment") == 0;

	if (strcmp(ct.type, "multipart") == 0) {
		if (depth >= MIME_DEPTH_MAX) {
			c->r->flags |= MIME_F_REPAIRED; /* too deep: kept whole, as a file */
			attachment(c, &ct, &disp, CTE_IDENTITY, body, blen, false);
			id = node_new(c, N_NONE);
			goto done;
		}
		if (!ct.has_boundary || ct.boundary.len > MIME_BOUNDARY_MAX) {
			c->r->flags |= MIME_F_REPAIRED;
			ct.boundary.len = 0;
			if (!boundary_guess(body, blen, &ct.boundary))
				goto as_text;
		}
		id = node_new(c, strcmp(ct.subtype, "alternative") == 0 ? N_ALT : N_MULTI);
		if (id == SIZE_MAX)
			goto done;
		size_t found = multipart(c, &ct, body, blen, depth, id);
		if (found == 0 && ct.has_boundary) {
			/* the declared boundary is nowhere: try the one the body uses */
			c->r->flags |= MIME_F_REPAIRED;
			ct.boundary.len = 0;
			if (boundary_guess(body, blen, &ct.boundary))
				found = multipart(c, &ct, body, blen, depth, id);
		}
		if (found == 0) {
			c->r->flags |= MIME_F_REPAIRED; /* no delimiter at all: the text is kept */
			c->nodes[id].kind = N_MULTI;
			goto as_text_in;
		}
		goto done;
	}
	if (strcmp(ct.type, "message") == 0 &&
	    (strcmp(ct.subtype, "rfc822") == 0 || strcmp(ct.subtype, "global") == 0)) {
		attachment(c, &ct, &disp, e, body, blen, true);
		id = node_new(c, N_NONE);
		goto done;
	}
	if (strcmp(ct.type, "text") == 0 && !is_attach &&
	    (strcmp(ct.subtype, "plain") == 0 || strcmp(ct.subtype, "html") == 0 ||
	     strcmp(ct.subtype, "enriched") == 0 || strcmp(ct.subtype, "richtext") == 0)) {
		id = node_new(c, N_LEAF);
		if (id != SIZE_MAX)
			c->nodes[id].leaf = leaf_text(c, &ct, strcmp(ct.subtype, "html") == 0, e, body, blen);
		goto done;
	}
	attachment(c, &ct, &disp, e, body, blen, false);
	id = node_new(c, N_NONE);
	goto done;

as_text: /* a multipart that cannot be split: its body is shown as text */
	id = node_new(c, N_LEAF);
	if (id != SIZE_MAX) {
		struct mimehdr_ctype plain = { 0 };
		c->nodes[id].leaf = leaf_text(c, &plain, false, CTE_IDENTITY, body, blen);
	}
	goto done;
as_text_in: {
	size_t leaf = node_new(c, N_LEAF);
	if (leaf != SIZE_MAX) {
		struct mimehdr_ctype plain = { 0 };
		c->nodes[leaf].leaf = leaf_text(c, &plain, false, CTE_IDENTITY, body, blen);
		node_add(c, id, leaf);
	}
}
done:
	mimehdr_ctype_free(&ct);
	mimehdr_ctype_free(&disp);
	return id;
}

/* ---- versions: the tree to a list of alternatives ---- */

struct version {
	size_t *leaf;
	size_t n;
};

struct vset {
	struct version v[MIME_VERSIONS_MAX];
	size_t n;
};

static void vset_free(struct vset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].leaf);
	s->n = 0;
}

static void vset_add(struct vset *s, struct version v)
{
	if (s->n == MIME_VERSIONS_MAX) { /* keep the last (preferred) ones */
		free(s->v[0].leaf);
		memmove(s->v, s->v + 1, (MIME_VERSIONS_MAX - 1) * sizeof(s->v[0]));
		s->n--;
	}
	s->v[s->n++] = v;
}

static void versions(struct ctx *c, size_t id, struct vset *out)
{
	out->n = 0;
	if (id == SIZE_MAX)
		return;
	struct node *nd = &c->nodes[id];
	if (nd->kind == N_LEAF) {
		if (nd->leaf != SIZE_MAX && c->leaves[nd->leaf].len > 0) {
			struct version v = { xmalloc(sizeof(size_t)), 1 };
			v.leaf[0] = nd->leaf;
			vset_add(out, v);
		}
		return;
	}
	if (nd->kind == N_ALT) {
		for (size_t ch = nd->first; ch != SIZE_MAX; ch = c->nodes[ch].next) {
			struct vset *cs = xmalloc(sizeof(*cs));
			versions(c, ch, cs);
			for (size_t k = 0; k < cs->n; k++)
				vset_add(out, cs->v[k]);
			free(cs);
		}
		return;
	}
	if (nd->kind != N_MULTI)
		return;
	size_t nch = 0, k = 0;
	for (size_t ch = nd->first; ch != SIZE_MAX; ch = c->nodes[ch].next)
		nch++;
	if (nch == 0)
		return;
	struct vset *cs = xcalloc(nch, sizeof(*cs));
	size_t i = 0;
	for (size_t ch = nd->first; ch != SIZE_MAX; ch = c->nodes[ch].next, i++) {
		versions(c, ch, &cs[i]);
		if (cs[i].n > k)
			k = cs[i].n;
	}
	/* version j takes each child's version j, or its last one */
	for (size_t j = 0; j < k; j++) {
		size_t total = 0;
		for (i = 0; i < nch; i++)
			if (cs[i].n)
				total += cs[i].v[j < cs[i].n ? j : cs[i].n - 1].n;
		struct version v = { xmalloc(total * sizeof(size_t)), 0 };
		for (i = 0; i < nch; i++) {
			if (!cs[i].n)
				continue;
			struct version *src = &cs[i].v[j < cs[i].n ? j : cs[i].n - 1];
			memcpy(v.leaf + v.n, src->leaf, src->n * sizeof(size_t));
			v.n += src->n;
		}
		vset_add(out, v);
	}
	for (i = 0; i < nch; i++)
		vset_free(&cs[i]);
	free(cs);
}

/* The longest prefix of CET p (valid) within max that ends neither inside
 * a link span nor inside a UTF-8 sequence. */
static size_t cet_cut(const uint8_t *p, size_t n, size_t max)
{
	size_t i = 0;
	while (i < n) {
		size_t step = 1;
		if (p[i] >= 0x01 && p[i] <= 0x04) {
			const uint8_t *e = memchr(p + i + 1, p[i], n - i - 1);
			step = e ? (size_t)(e - (p + i)) + 1 : n - i;
		} else if (p[i] >= 0x80) {
			step = utf8_seq_len(p + i, n - i, NULL);
			if (step == 0)
				step = 1;
		}
		if (i + step > max)
			break;
		i += step;
	}
	return i;
}

static void body_assemble(struct ctx *c, size_t root, size_t body_max)
{
	struct mime_result *r = c->r;
	struct vset *vs = xmalloc(sizeof(*vs));
	versions(c, root, vs);
	bool stop = false;
	for (size_t k = 0; k < vs->n && !stop; k++) {
		if (r->body.len) {
			if (body_max - r->body.len < 2) {
				r->flags |= MIME_F_BODY_TRUNC;
				break;
			}
			wr_u8(&r->body, CET_SEP);
		}
		r->body_last = r->body.len;
		for (size_t j = 0; j < vs->v[k].n; j++) {
			const struct wr *l = &c->leaves[vs->v[k].leaf[j]];
			size_t sep = j > 0 ? 1 : 0;
			size_t left = body_max - r->body.len;
			if (l->len + sep > left) {
				r->flags |= MIME_F_BODY_TRUNC;
				if (left > sep) {
					if (sep)
						wr_u8(&r->body, CET_HR);
					wr_put(&r->body, l->p, cet_cut(l->p, l->len, left - sep));
				}
				stop = true;
				break;
			}
			if (sep)
				wr_u8(&r->body, CET_HR);
			wr_put(&r->body, l->p, l->len);
		}
	}
	vset_free(vs);
	free(vs);
}

/* ---- header fields of the result ---- */

static bool excluded(const struct field *f)
{
	static const char *const names[] = {
		"dkim-signature", "received", "mime-version", "content-type", "content-transfer-encoding",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (name_is(f, names[i]))
			return true;
	return false;
}

static void cut_field(struct wr *w, size_t max, uint16_t *flags)
{
	if (w->len > max) {
		w->len = msg_text_cut(w->p, w->len, max);
		*flags |= MIME_F_HEADERS_TRUNC;
	}
}

static void header_fields(struct ctx *c, const struct fields *fs)
{
	struct mime_result *r = c->r;
	bool have_from = false, have_rt = false, have_subj = false, have_id = false, have_irt = false,
	     have_date = false;
	struct wr u = WR_INIT, line = WR_INIT;
	bool headers_full = false;
	for (size_t i = 0; i < fs->n; i++) {
		const struct field *f = &fs->f[i];
		if (excluded(f))
			continue;
		u.len = 0;
		mimehdr_unfold(&u, f->val, f->val_len);
		if (name_is(f, "from") && !have_from) {
			have_from = true;
			if (mimehdr_addrs(&r->from, u.p, u.len, MSG_ADDR_LIST_MAX))
				r->flags |= MIME_F_HEADERS_TRUNC;
		} else if (name_is(f, "to")) {
			if (mimehdr_addrs(&r->to, u.p, u.len, MSG_ADDR_LIST_MAX))
				r->flags |= MIME_F_HEADERS_TRUNC;
		} else if (name_is(f, "cc")) {
			if (mimehdr_addrs(&r->cc, u.p, u.len, MSG_ADDR_LIST_MAX))
				r->flags |= MIME_F_HEADERS_TRUNC;
		} else if (name_is(f, "reply-to") && !have_rt) {
			have_rt = true;
			if (mimehdr_addrs(&r->reply_to, u.p, u.len, MSG_ADDR_LIST_MAX))
				r->flags |= MIME_F_HEADERS_TRUNC;
		} else if (name_is(f, "subject") && !have_subj) {
			have_subj = true;
			mimehdr_decode_text(&r->subject, u.p, u.len);
			cut_field(&r->subject, MSG_SUBJECT_MAX, &r->flags);
		} else if (name_is(f, "message-id") && !have_id) {
			have_id = true;
			mimehdr_msgid(&r->msg_id, u.p, u.len);
			cut_field(&r->msg_id, MSG_MSGID_MAX, &r->flags);
		} else if (name_is(f, "in-reply-to") && !have_irt) {
			have_irt = true;
			mimehdr_msgid(&r->in_reply_to, u.p, u.len);
			cut_field(&r->in_reply_to, MSG_MSGID_MAX, &r->flags);
		} else if (name_is(f, "date") && !have_date) {
			have_date = true;
			r->has_date = mimehdr_date(u.p, u.len, &r->date, &r->tz_minutes);
		} else if (!headers_full) {
			line.len = 0;
			wr_put(&line, f->name, f->name_len);
			wr_put(&line, ": ", 2);
			mimehdr_decode_text(&line, u.p, u.len);
			if (line.len > MIME_HEADER_KEEP_MAX) {
				line.len = msg_text_cut(line.p, line.len, MIME_HEADER_KEEP_MAX);
				r->flags |= MIME_F_HEADERS_TRUNC;
			}
			size_t need = line.len + (r->headers.len ? 1 : 0);
			if (need > MSG_HEADERS_MAX - r->headers.len) {
				headers_full = true;
				r->flags |= MIME_F_HEADERS_TRUNC;
				continue;
			}
			if (r->headers.len)
				wr_u8(&r->headers, '\n');
			wr_put(&r->headers, line.p, line.len);
		} else {
			r->flags |= MIME_F_HEADERS_TRUNC;
		}
	}
	wr_free(&u);
	wr_free(&line);
}

/* A last guard: every field within its class, whatever happened above. */
static void result_check(struct mime_result *r)
{
	struct {
		struct wr *w;
		enum msg_text cls;
	} f[] = {
		{ &r->from, MSG_TEXT_ADDRS },   { &r->to, MSG_TEXT_ADDRS },    { &r->cc, MSG_TEXT_ADDRS },
		{ &r->reply_to, MSG_TEXT_ADDRS }, { &r->msg_id, MSG_TEXT_LINE }, { &r->in_reply_to, MSG_TEXT_LINE },
		{ &r->subject, MSG_TEXT_LINE }, { &r->headers, MSG_TEXT_LINES },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (!msg_text_valid(f[i].w->p, f[i].w->len, f[i].cls)) {
			log_err("mime: a field failed its text class (a bug); sanitized");
			msg_text_sanitize(f[i].w->p, f[i].w->len, f[i].cls);
		}
	}
	for (size_t i = 0; i < r->attach_count; i++) {
		struct wr *n = &r->attach[i].name;
		if (!msg_text_valid(n->p, n->len, MSG_TEXT_LINE) || memchr(n->p, '/', n->len)) {
			log_err("mime: an attachment name failed its class (a bug); replaced");
			n->len = 0;
			wr_put(n, "attachment.bin", 14);
		}
	}
	if (cet_validate(r->body.p, r->body.len, NULL) != 0) {
		log_err("mime: produced invalid CET (a bug); body dropped");
		r->body.len = 0;
		r->body_last = 0;
		r->flags |= MIME_F_REPAIRED;
	}
}

int mime_parse(const uint8_t *msg, size_t len, const struct mime_limits *lim, struct mime_result *ret)
{
	struct mime_result *r = ret;
	memset(r, 0, sizeof(*r));
	size_t body_max = lim && lim->body_max ? lim->body_max : MSG_BODY_MAX;
	if (body_max > MSG_BODY_MAX)
		body_max = MSG_BODY_MAX;
	struct ctx *c = xcalloc(1, sizeof(*c));
	c->r = r;
	c->attach_max = lim && lim->attach_max_bytes ? lim->attach_max_bytes : MIME_ATTACH_BYTES_DEFAULT;
	c->budget = body_max;
	if (!msg)
		len = 0;
	struct fields fs = { 0 };
	size_t off = header_block(msg ? msg : (const uint8_t *)"", len, true, &fs, &r->flags);
	if (fs.trunc)
		r->flags |= MIME_F_HEADERS_TRUNC;
	header_fields(c, &fs);
	size_t root = walk(c, &fs, (msg ? msg : (const uint8_t *)"") + off, len - off, 0, false);
	body_assemble(c, root, body_max);
	fields_free(&fs);
	for (size_t i = 0; i < c->nleaves; i++)
		wr_free(&c->leaves[i]);
	free(c);
	if (!r->has_date)
		r->date = 0, r->tz_minutes = 0;
	result_check(r);
	return 0;
}

void mime_result_free(struct mime_result *r)
{
	struct wr *w[] = { &r->from, &r->to, &r->cc, &r->reply_to, &r->msg_id,
		               &r->in_reply_to, &r->subject, &r->headers, &r->body };
	for (size_t i = 0; i < ARRAY_SIZE(w); i++)
		wr_free(w[i]);
	for (size_t i = 0; i < r->attach_count; i++) {
		wr_free(&r->attach[i].media_type);
		wr_free(&r->attach[i].name);
		wr_free(&r->attach[i].data);
	}
	memset(r, 0, sizeof(*r));
}
