/* enqmsg.c: the codec of Enquiry's channel messages (enqmsg.h): questions
 * (a name, or an address for PTR) and strict, canonical answers.
 * Layout: docs/PROTOCOL.md section 17. */
#include "common/enqmsg.h"

#include <errno.h>
#include <string.h>

#include "common/chanmsg.h"

#define ENQ_LABEL_MAX 63
#define ENQ_ANSWER_HEADER 4 /* status u8, flags u8, count u16 */

static bool name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool enq_name_valid(const uint8_t *p, size_t n)
{
	if (n == 0 || n > ENQ_NAME_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (name_char(p[i])) {
			if (++label > ENQ_LABEL_MAX)
				return false;
		} else {
			return false;
		}
	}
	return label > 0; /* no trailing dot */
}

/* Answer names are canonical: valid and lower case. */
static bool answer_name_valid(const uint8_t *p, size_t n)
{
	if (!enq_name_valid(p, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			return false;
	return true;
}

int enq_request_name(struct wr *w, const char *name)
{
	size_t n = strlen(name);
	if (!enq_name_valid((const uint8_t *)name, n))
		return -EINVAL;
	wr_bytes(w, name, n);
	return 0;
}

int enq_request_ptr(struct wr *w, uint8_t family, const uint8_t ip[16])
{
	if (family != 4 && family != 6)
		return -EINVAL;
	if (family == 4)
		for (int i = 4; i < 16; i++)
			if (ip[i])
				return -EINVAL;
	wr_u8(w, family);
	wr_bytes(w, ip, 16);
	return 0;
}

static bool status_known(uint8_t s)
{
	return s == CHST_OK || s == CHST_NOT_FOUND || s == CHST_TEMPFAIL || s == CHST_INVALID ||
	       s == CHST_DENIED;
}

/* The header rules shared by both directions. */
static bool header_valid(uint8_t type, uint8_t status, uint8_t flags, uint16_t count)
{
	if (type < ENQ_A || type > ENQ_TYPE_MAX || !status_known(status) || (flags & ~ENQ_F_ALL))
		return false;
	if ((flags & ENQ_F_NXDOMAIN) && status != CHST_NOT_FOUND)
		return false;
	if ((flags & (ENQ_F_TRUNC | ENQ_F_CACHED)) && status != CHST_OK &&
	    status != CHST_NOT_FOUND)
		return false;
	if (status == CHST_OK)
		return count >= 1 && count <= ENQ_RECORDS_MAX;
	return count == 0;
}

/* Encoded size of one record, or 0 when it breaks a rule. */
static size_t record_size(uint8_t type, const struct enq_record *r)
{
	switch (type) {
	case ENQ_A:
		return 4;
	case ENQ_AAAA:
		return 16;
	case ENQ_MX:
		/* len 0 is the null MX "." (RFC 7505) */
		if (r->len != 0 && !answer_name_valid(r->data, r->len))
			return 0;
		return 3 + r->len;
	case ENQ_TXT:
		if (r->len > ENQ_TXT_MAX || (r->len && !r->data))
			return 0;
		return 2 + r->len;
	case ENQ_PTR:
		if (!answer_name_valid(r->data, r->len))
			return 0;
		return 1 + r->len;
	default:
		return 0;
	}
}

int enq_answer_encode(struct wr *w, const struct enq_answer *a)
{
	if (!header_valid(a->type, a->status, a->flags, a->count))
		return -EINVAL;
	size_t total = ENQ_ANSWER_HEADER;
	for (uint16_t i = 0; i < a->count; i++) {
		size_t n = record_size(a->type, &a->rec[i]);
		if (n == 0)
			return -EINVAL;
		if (a->type == ENQ_MX && i > 0 && a->rec[i].pref < a->rec[i - 1].pref)
			return -EINVAL;
		total += n;
	}
	if (total > ENQ_ANSWER_MAX)
		return -EMSGSIZE;
	wr_u8(w, a->status);
	wr_u8(w, a->flags);
	wr_u16(w, a->count);
	for (uint16_t i = 0; i < a->count; i++) {
		const struct enq_record *r = &a->rec[i];
		switch (a->type) {
		case ENQ_A:
			wr_bytes(w, r->ip, 4);
			break;
		case ENQ_AAAA:
			wr_bytes(w, r->ip, 16);
			break;
		case ENQ_MX:
			wr_u16(w, r->pref);
			wr_u8(w, (uint8_t)r->len);
			wr_bytes(w, r->data, r->len);
			break;
		case ENQ_TXT:
			wr_u16(w, (uint16_t)r->len);
			wr_bytes(w, r->data, r->len);
			break;
		case ENQ_PTR:
			wr_u8(w, (uint8_t)r->len);
			wr_bytes(w, r->data, r->len);
			break;
		}
	}
	return 0;
}

int enq_answer_decode(struct enq_answer *ret, uint8_t type, const uint8_t *p, size_t len)
{
	if (len > ENQ_ANSWER_MAX)
		return -EBADMSG;
	struct rd r = rd_init(p, len);
	struct enq_answer a;
	memset(&a, 0, sizeof(a));
	a.type = type;
	a.status = rd_u8(&r);
	a.flags = rd_u8(&r);
	a.count = rd_u16(&r);
	if (r.bad || !header_valid(type, a.status, a.flags, a.count))
		return -EBADMSG;
	for (uint16_t i = 0; i < a.count; i++) {
		struct enq_record *e = &a.rec[i];
		switch (type) {
		case ENQ_A:
			rd_copy(&r, e->ip, 4);
			break;
		case ENQ_AAAA:
			rd_copy(&r, e->ip, 16);
			break;
		case ENQ_MX:
			e->pref = rd_u16(&r);
			e->len = rd_u8(&r);
			e->data = rd_take(&r, e->len);
			if (i > 0 && e->pref < a.rec[i - 1].pref)
				rd_fail(&r);
			break;
		case ENQ_TXT:
			e->len = rd_u16(&r);
			e->data = rd_take(&r, e->len);
			break;
		case ENQ_PTR:
			e->len = rd_u8(&r);
			e->data = rd_take(&r, e->len);
			break;
		}
		if (r.bad || (type >= ENQ_MX && record_size(type, e) == 0))
			return -EBADMSG;
	}
	if (!rd_done(&r))
		return -EBADMSG;
	*ret = a;
	return 0;
}
