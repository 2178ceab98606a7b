/* dkimtag.h: the tag=value list of RFC 6376 3.2, shared by DKIM-Signature
 * fields, DKIM key records and DMARC records. Strict: any syntax error, a
 * repeated tag or a limit passed rejects the whole list. Rules and bounds:
 * docs/PROTOCOL.md section 20.1. */
#ifndef ALLEARS_DELIVER_DKIMTAG_H
#define ALLEARS_DELIVER_DKIMTAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define DKIMTAG_LIST_MAX 8192 /* bytes in one list */
#define DKIMTAG_TAGS_MAX 32   /* tags in one list */
#define DKIMTAG_NAME_MAX 32   /* bytes in one tag name */

struct dkimtag {
	const uint8_t *name; /* into the parsed text */
	size_t name_len;
	const uint8_t *val;  /* the value without surrounding whitespace; may be empty */
	size_t val_len;
	size_t raw_start;    /* offset just after '=' */
	size_t raw_end;      /* offset of the ';' ending the tag, or of the end of the list */
};

struct dkimtag_list {
	size_t count;
	struct dkimtag tag[DKIMTAG_TAGS_MAX];
};

/* Parses p[0..n). Whitespace (SP, HTAB, CR, LF) is allowed around names,
 * '=' and values and inside values between runs of VALCHAR (0x21-0x3A,
 * 0x3C-0x7E). Returns 0 or -EBADMSG; *ret is written only on success. */
int dkimtag_parse(struct dkimtag_list *ret, const uint8_t *p, size_t n) WUR;

/* The tag named name (case-sensitive, as RFC 6376 says), or NULL. */
const struct dkimtag *dkimtag_get(const struct dkimtag_list *l, const char *name);

/* True when the value equals s exactly (case-sensitive) or, for the _ci
 * form, ignoring ASCII case. */
bool dkimtag_is(const struct dkimtag *t, const char *s);
bool dkimtag_is_ci(const struct dkimtag *t, const char *s);

/* Walks a colon-separated value list ("a : b:c"), whitespace around items
 * dropped. Start with *pos = 0; returns false at the end; an empty item
 * ("a::b") is returned as an empty span. */
bool dkimtag_next_item(const struct dkimtag *t, size_t *pos, const uint8_t **ret_p,
                       size_t *ret_len);

#endif
