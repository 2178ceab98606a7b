/* dkimtag.c: the strict tag=value list parser (RFC 6376 3.2) behind DKIM
 * signatures, DKIM key records and DMARC records (section 20.1). */
#include <errno.h>
#include <string.h>

#include "deliver/dkimtag.h"

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_valchar(uint8_t c)
{
	return (c >= 0x21 && c <= 0x3A) || (c >= 0x3C && c <= 0x7E);
}

static size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && is_ws(p[i]))
		i++;
	return i;
}

int dkimtag_parse(struct dkimtag_list *ret, const uint8_t *p, size_t n)
{
	struct dkimtag_list l;
	size_t i = 0;

	if (n > DKIMTAG_LIST_MAX)
		return -EBADMSG;
	l.count = 0;
	for (;;) {
		i = skip_ws(p, n, i);
		if (i == n)
			break; /* empty list, or a trailing ';' */
		/* tag-name = ALPHA *ALNUMPUNC */
		size_t ns = i;
		if (!is_alpha(p[i]))
			return -EBADMSG;
		while (i < n && (is_alpha(p[i]) || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			i++;
		size_t nl = i - ns;
		if (nl > DKIMTAG_NAME_MAX)
			return -EBADMSG;
		i = skip_ws(p, n, i);
		if (i == n || p[i] != '=')
			return -EBADMSG;
		i++;
		size_t raw_start = i;
		i = skip_ws(p, n, i);
		size_t vs = i, ve = i;
		/* tag-value = [ tval *( 1*(WSP / FWS) tval ) ] */
		while (i < n && p[i] != ';') {
			if (is_valchar(p[i])) {
				i++;
				ve = i;
			} else if (is_ws(p[i])) {
				i++;
			} else {
				return -EBADMSG;
			}
		}
		for (size_t k = 0; k < l.count; k++)
			if (l.tag[k].name_len == nl && memcmp(l.tag[k].name, p + ns, nl) == 0)
				return -EBADMSG; /* a repeated tag: RFC 6376 3.2 */
		if (l.count == DKIMTAG_TAGS_MAX)
			return -EBADMSG;
		l.tag[l.count++] = (struct dkimtag){ .name = p + ns, .name_len = nl, .val = p + vs,
			                                 .val_len = ve - vs, .raw_start = raw_start,
			                                 .raw_end = i };
		if (i == n)
			break;
		i++; /* the ';' */
	}
	*ret = l;
	return 0;
}

const struct dkimtag *dkimtag_get(const struct dkimtag_list *l, const char *name)
{
	size_t nl = strlen(name);
	for (size_t k = 0; k < l->count; k++)
		if (l->tag[k].name_len == nl && memcmp(l->tag[k].name, name, nl) == 0)
			return &l->tag[k];
	return NULL;
}

bool dkimtag_is(const struct dkimtag *t, const char *s)
{
	size_t sl = strlen(s);
	return t && t->val_len == sl && memcmp(t->val, s, sl) == 0;
}

bool dkimtag_is_ci(const struct dkimtag *t, const char *s)
{
	size_t sl = strlen(s);
	return t && t->val_len == sl && strncasecmp((const char *)t->val, s, sl) == 0;
}

bool dkimtag_next_item(const struct dkimtag *t, size_t *pos, const uint8_t **ret_p,
                       size_t *ret_len)
{
	size_t i = *pos, n = t->val_len;
	const uint8_t *p = t->val;

	if (i > n)
		return false; /* past the last item */
	i = skip_ws(p, n, i);
	size_t s = i, e = i;
	while (i < n && p[i] != ':') {
		if (!is_ws(p[i]))
			e = i + 1;
		i++;
	}
	*ret_p = p + s;
	*ret_len = e - s;
	*pos = i < n ? i + 1 : n + 1; /* after a ':' another item follows, maybe empty */
	return true;
}
