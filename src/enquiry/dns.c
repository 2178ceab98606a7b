/* dns.c: DNS queries and the strict response parser of Enquiry (dns.h).
 * Every length, count and pointer is checked against the message; a
 * compression pointer must point strictly backwards, so no name can loop.
 * Rules: docs/PROTOCOL.md section 17. */
#include "enquiry/dns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/chanmsg.h"

#define DNS_POINTER_HOPS 64 /* compression pointers followed in one name */
#define DNS_RR_FIXED 10     /* type, class, ttl, rdlength */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

uint16_t dns_qtype(uint8_t enq_type)
{
	switch (enq_type) {
	case ENQ_A:
		return DNS_T_A;
	case ENQ_AAAA:
		return DNS_T_AAAA;
	case ENQ_MX:
		return DNS_T_MX;
	case ENQ_TXT:
		return DNS_T_TXT;
	case ENQ_PTR:
		return DNS_T_PTR;
	default:
		return 0;
	}
}

int dns_ptr_name(char *out, uint8_t family, const uint8_t ip[16])
{
	static const char hex[] = "0123456789abcdef";
	if (family == 4)
		return snprintf(out, DNS_PTR_NAME_MAX + 1, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2],
		                ip[1], ip[0]);
	if (family != 6)
		return -EINVAL;
	char *p = out;
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[ip[i] & 15];
		*p++ = '.';
		*p++ = hex[ip[i] >> 4];
		*p++ = '.';
	}
	memcpy(p, "ip6.arpa", 9);
	return (int)(p - out) + 8;
}

int dns_query_build(struct dns_question *q, uint8_t *out, size_t *ret_len, uint16_t id,
                    const uint8_t *name, size_t name_len, uint8_t enq_type)
{
	uint16_t qtype = dns_qtype(enq_type);
	if (!qtype || !enq_name_valid(name, name_len))
		return -EINVAL;
	/* Presentation to wire form: each dot becomes the next label's length. */
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= name_len; i++) {
		if (i == name_len || name[i] == '.') {
			q->wire[n++] = (uint8_t)(i - start);
			for (size_t k = start; k < i; k++)
				q->wire[n++] = lower(name[k]);
			start = i + 1;
		}
	}
	q->wire[n++] = 0;
	q->wire_len = n;
	q->id = id;
	q->qtype = qtype;
	q->enq_type = enq_type;

	uint8_t *p = out;
	put16(p, id);
	put16(p + 2, DNS_FLAG_RD);
	put16(p + 4, 1);  /* QDCOUNT */
	put16(p + 6, 0);  /* ANCOUNT */
	put16(p + 8, 0);  /* NSCOUNT */
	put16(p + 10, 1); /* ARCOUNT: the OPT record */
	p += DNS_HEADER_BYTES;
	memcpy(p, q->wire, n);
	p += n;
	put16(p, qtype);
	put16(p + 2, DNS_CLASS_IN);
	p += 4;
	/* OPT: root name, type 41, class = UDP payload size, TTL 0 (extended
	 * RCODE 0, version 0, DO clear), no options. */
	*p++ = 0;
	put16(p, DNS_T_OPT);
	put16(p + 2, DNS_EDNS_PAYLOAD);
	memset(p + 4, 0, 6);
	p += 10;
	*ret_len = (size_t)(p - out);
	return 0;
}

/* Reads the (possibly compressed) name at *pos into out in lower-case wire
 * form and moves *pos past it. */
static int name_read(const uint8_t *m, size_t len, size_t *pos, uint8_t *out, size_t *ret_len)
{
	size_t p = *pos, n = 0, end = 0, limit = *pos;
	bool jumped = false;
	int hops = 0;
	for (;;) {
		if (p >= len)
			return -EBADMSG;
		uint8_t c = m[p];
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= len)
				return -EBADMSG;
			size_t target = (size_t)(c & 0x3F) << 8 | m[p + 1];
			if (!jumped) {
				end = p + 2;
				jumped = true;
			}
			/* Strictly backwards, before every label read so far: no loops. */
			if (target < DNS_HEADER_BYTES || target >= limit || ++hops > DNS_POINTER_HOPS)
				return -EBADMSG;
			limit = target;
			p = target;
			continue;
		}
		if (c & 0xC0) /* 0x40 and 0x80: extended and reserved label types */
			return -EBADMSG;
		if (n + 1 + c > DNS_NAME_WIRE_MAX)
			return -EBADMSG;
		if (c == 0) {
			out[n++] = 0;
			if (!jumped)
				end = p + 1;
			break;
		}
		if (c > len - p - 1)
			return -EBADMSG;
		out[n++] = c;
		for (size_t i = 0; i < c; i++)
			out[n++] = lower(m[p + 1 + i]);
		p += 1 + (size_t)c;
	}
	*pos = end;
	*ret_len = n;
	return 0;
}

/* Wire to presentation form (no trailing dot; the root is ""). Returns the
 * length, or -1 when a label holds a byte a host name cannot. */
static int name_text(const uint8_t *w, size_t wlen, uint8_t *out)
{
	size_t n = 0, i = 0;
	while (i < wlen && w[i] != 0) {
		uint8_t l = w[i++];
		if (n)
			out[n++] = '.';
		for (uint8_t k = 0; k < l; k++, i++) {
			uint8_t c = w[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -1;
			out[n++] = c;
		}
	}
	return (int)n;
}

struct rr {
	size_t owner;
	uint16_t type;
	uint16_t cls;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

/* Reads one resource record's fixed part and moves past its data. */
static int rr_read(const uint8_t *m, size_t len, size_t *pos, struct rr *ret)
{
	uint8_t scratch[DNS_NAME_WIRE_MAX];
	size_t slen;
	ret->owner = *pos;
	if (name_read(m, len, pos, scratch, &slen) < 0)
		return -EBADMSG;
	if (len - *pos < DNS_RR_FIXED)
		return -EBADMSG;
	const uint8_t *f = m + *pos;
	ret->type = be16(f);
	ret->cls = be16(f + 2);
	ret->ttl = be32(f + 4);
	if (ret->ttl & 0x80000000u) /* RFC 2181 8: read as zero */
		ret->ttl = 0;
	ret->rdlen = be16(f + 8);
	*pos += DNS_RR_FIXED;
	if (ret->rdlen > len - *pos)
		return -EBADMSG;
	ret->rdata = *pos;
	*pos += ret->rdlen;
	return 0;
}

static bool owner_is(const uint8_t *m, size_t len, const struct rr *r, const uint8_t *w,
                     size_t wlen)
{
	uint8_t o[DNS_NAME_WIRE_MAX];
	size_t olen, pos = r->owner;
	if (name_read(m, len, &pos, o, &olen) < 0)
		return false;
	return olen == wlen && memcmp(o, w, wlen) == 0;
}

/* A name that must fill rdata[off..rdlen) exactly. */
static int rdata_name(const uint8_t *m, const struct rr *r, size_t off, uint8_t *w, size_t *wlen)
{
	size_t pos = r->rdata + off;
	if (off >= r->rdlen)
		return -EBADMSG;
	/* Reads may follow pointers anywhere before, but the name itself ends in rdata. */
	if (name_read(m, r->rdata + r->rdlen, &pos, w, wlen) < 0 || pos != r->rdata + r->rdlen)
		return -EBADMSG;
	return 0;
}

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* The SOA's negative-caching TTL (RFC 2308 5): min(its TTL, MINIMUM). */
static int soa_ttl(const uint8_t *m, const struct rr *r, uint32_t *ret)
{
	uint8_t w[DNS_NAME_WIRE_MAX];
	size_t wlen, pos = r->rdata, end = r->rdata + r->rdlen;
	if (name_read(m, end, &pos, w, &wlen) < 0 || name_read(m, end, &pos, w, &wlen) < 0 ||
	    end - pos != 20)
		return -EBADMSG;
	uint32_t minimum = be32(m + pos + 16);
	*ret = min32(r->ttl, minimum & 0x80000000u ? 0 : minimum);
	return 0;
}

/* Adds one record's data to the answer; false when it does not fit. */
static bool answer_add(struct dns_result *res, const struct enq_record *rec, size_t size)
{
	struct enq_answer *a = &res->ans;
	if (a->count >= ENQ_RECORDS_MAX || res->encoded + size > ENQ_ANSWER_MAX)
		return false;
	a->rec[a->count++] = *rec;
	res->encoded += size;
	return true;
}

/* Turns record r into an answer record; 1 added, 0 left out (ENQ_F_TRUNC set
 * when for lack of room), -EBADMSG when malformed. */
static int record_take(struct dns_result *res, const uint8_t *m, size_t len, const struct rr *r,
                       size_t *arena_used)
{
	struct enq_record rec;
	memset(&rec, 0, sizeof(rec));
	uint8_t *dst = res->arena + *arena_used;
	size_t room = sizeof(res->arena) - *arena_used;
	uint8_t w[DNS_NAME_WIRE_MAX];
	size_t wlen, size;
	int n;
	switch (res->ans.type) {
	case ENQ_A:
	case ENQ_AAAA:
		size = res->ans.type == ENQ_A ? 4 : 16;
		if (r->rdlen != size)
			return -EBADMSG;
		memcpy(rec.ip, m + r->rdata, size);
		break;
	case ENQ_MX:
	case ENQ_PTR: {
		size_t off = res->ans.type == ENQ_MX ? 2 : 0;
		if (rdata_name(m, r, off, w, &wlen) < 0)
			return -EBADMSG;
		if (off)
			rec.pref = be16(m + r->rdata);
		if (room < DNS_NAME_WIRE_MAX)
			goto full;
		n = name_text(w, wlen, dst);
		if (n < 0 || (n == 0 && res->ans.type == ENQ_PTR))
			return 0; /* not a host name: left out */
		rec.data = dst;
		rec.len = (size_t)n;
		size = 1 + off + rec.len;
		break;
	}
	case ENQ_TXT: {
		size_t pos = r->rdata, end = r->rdata + r->rdlen, total = 0;
		while (pos < end) {
			uint8_t l = m[pos++];
			if (l > end - pos)
				return -EBADMSG;
			if (total + l <= ENQ_TXT_MAX && total + l <= room)
				memcpy(dst + total, m + pos, l);
			total += l;
			pos += l;
		}
		if (total > ENQ_TXT_MAX || total > room)
			goto full;
		rec.data = dst;
		rec.len = total;
		size = 2 + total;
		break;
	}
	default:
		return -EBADMSG;
	}
	if (!answer_add(res, &rec, size))
		goto full;
	if (rec.data)
		*arena_used += rec.len;
	return 1;
full:
	res->ans.flags |= ENQ_F_TRUNC;
	return 0;
}

int dns_response_parse(struct dns_result *ret, const struct dns_question *q, const uint8_t *p,
                       size_t len)
{
	if (len < 2 || be16(p) != q->id)
		return -ESRCH;
	if (len < DNS_HEADER_BYTES)
		return -EBADMSG;
	uint16_t flags = be16(p + 2);
	if (!(flags & DNS_FLAG_QR))
		return -ESRCH;
	if (((flags >> 11) & 15) != 0) /* OPCODE must be QUERY */
		return -EBADMSG;
	uint16_t qd = be16(p + 4), an = be16(p + 6), ns = be16(p + 8), ar = be16(p + 10);
	if (qd != 1)
		return -EBADMSG;

	size_t pos = DNS_HEADER_BYTES;
	uint8_t w[DNS_NAME_WIRE_MAX];
	size_t wlen;
	if (name_read(p, len, &pos, w, &wlen) < 0 || len - pos < 4)
		return -EBADMSG;
	if (wlen != q->wire_len || memcmp(w, q->wire, wlen) != 0 || be16(p + pos) != q->qtype ||
	    be16(p + pos + 2) != DNS_CLASS_IN)
		return -ESRCH;
	pos += 4;

	ret->truncated = false;
	ret->rcode = flags & 15;
	ret->ttl = 0;
	ret->encoded = 4;
	memset(&ret->ans, 0, sizeof(ret->ans));
	ret->ans.type = q->enq_type;
	if (flags & DNS_FLAG_TC) {
		ret->truncated = true;
		return 0;
	}
	if (ret->rcode != DNS_R_NOERROR && ret->rcode != DNS_R_NXDOMAIN) {
		ret->ans.status = CHST_TEMPFAIL;
		return 0;
	}

	/* Every section must be well formed; only the answer section is used,
	 * and the authority section's SOA for the negative TTL. */
	struct rr rrs[DNS_RR_MAX];
	size_t nrr = 0;
	bool more = false;
	uint32_t neg_ttl = DNS_NEG_TTL_DEFAULT;
	bool have_soa = false;
	for (uint32_t i = 0; i < (uint32_t)an + ns + ar; i++) {
		struct rr r;
		if (rr_read(p, len, &pos, &r) < 0)
			return -EBADMSG;
		if (i < an) {
			if (nrr < DNS_RR_MAX)
				rrs[nrr++] = r;
			else
				more = true;
		} else if (i < (uint32_t)an + ns && r.type == DNS_T_SOA && r.cls == DNS_CLASS_IN &&
		           !have_soa) {
			if (soa_ttl(p, &r, &neg_ttl) < 0)
				return -EBADMSG;
			neg_ttl = min32(neg_ttl, DNS_NEG_TTL_DEFAULT);
			have_soa = true;
		}
	}
	/* Bytes after the last section are ignored. */

	if (ret->rcode == DNS_R_NXDOMAIN) {
		ret->ans.status = CHST_NOT_FOUND;
		ret->ans.flags = ENQ_F_NXDOMAIN;
		ret->ttl = neg_ttl;
		return 0;
	}

	/* Follow the CNAME chain from the question's name. */
	uint8_t cur[DNS_NAME_WIRE_MAX];
	size_t cur_len = q->wire_len;
	memcpy(cur, q->wire, cur_len);
	uint32_t ttl = UINT32_MAX;
	for (int hops = 0;; hops++) {
		const struct rr *c = NULL;
		for (size_t i = 0; i < nrr && !c; i++)
			if (rrs[i].type == DNS_T_CNAME && rrs[i].cls == DNS_CLASS_IN &&
			    owner_is(p, len, &rrs[i], cur, cur_len))
				c = &rrs[i];
		if (!c)
			break;
		if (hops == DNS_CNAME_MAX) { /* a loop, or too long a chain */
			ret->ans.status = CHST_TEMPFAIL;
			return 0;
		}
		if (rdata_name(p, c, 0, cur, &cur_len) < 0)
			return -EBADMSG;
		ttl = min32(ttl, c->ttl);
	}

	/* The records of the type asked, at the chain's end; MX by preference. */
	size_t idx[DNS_RR_MAX], nidx = 0;
	for (size_t i = 0; i < nrr; i++) {
		if (rrs[i].type != q->qtype || rrs[i].cls != DNS_CLASS_IN ||
		    !owner_is(p, len, &rrs[i], cur, cur_len))
			continue;
		if (q->qtype == DNS_T_MX && rrs[i].rdlen < 3)
			return -EBADMSG;
		idx[nidx++] = i;
	}
	if (q->qtype == DNS_T_MX) {
		for (size_t i = 1; i < nidx; i++) { /* stable insertion sort */
			size_t v = idx[i], j = i;
			uint16_t pref = be16(p + rrs[v].rdata);
			while (j > 0 && be16(p + rrs[idx[j - 1]].rdata) > pref) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = v;
		}
	}
	size_t arena_used = 0;
	for (size_t i = 0; i < nidx; i++) {
		int rc = record_take(ret, p, len, &rrs[idx[i]], &arena_used);
		if (rc < 0)
			return rc;
		if (rc > 0)
			ttl = min32(ttl, rrs[idx[i]].ttl);
	}
	if (more)
		ret->ans.flags |= ENQ_F_TRUNC;
	if (ret->ans.count == 0) {
		ret->ans.status = CHST_NOT_FOUND;
		ret->ttl = neg_ttl;
		ret->encoded = 4;
	} else {
		ret->ans.status = CHST_OK;
		ret->ttl = ttl;
	}
	return 0;
}
