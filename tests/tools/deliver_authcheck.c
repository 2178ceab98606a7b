/* deliver_authcheck.c: runs the DKIM, SPF and DMARC checks of src/deliver on
 * one message file against a DNS table file, and prints the results as JSON
 * (for tests/cross/test_auth_cross.py).
 *   deliver_authcheck --msg FILE --dns FILE [--ip IP] [--helo NAME]
 *       [--mail-from ADDR] [--now UNIXTIME] [--psl FILE] [--from-domain D]
 *       [--max-lookups N] [--trace]
 * DNS table: one record a line, "TYPE name value", '#' starts a comment:
 *   A name 192.0.2.1 | AAAA name 2001:db8::1 | MX name 10 mx.example.com
 *   TXT name text to the end of the line | PTR 192.0.2.1 host.example.com
 *   TEMPFAIL TYPE name   (that question fails temporarily)
 * A name with no line at all is NXDOMAIN; a name with lines of other types
 * only answers "no data". The header From and Reply-To addresses are taken
 * from the message with a simple parser (the first <...>, else the value).
 * Exit status: 0 ok, 1 usage or I/O. */
#include <arpa/inet.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/chanmsg.h"
#include "deliver/auth.h"

#define TABLE_MAX 4096
#define LINE_MAX_BYTES 16384
#define MSG_FILE_MAX (64u * 1024 * 1024)

struct entry {
	uint8_t type; /* enum enq_msg; 0 = TEMPFAIL marker */
	uint8_t tf_type;
	char *name;
	char *value;
	uint16_t pref;
	uint8_t ip[16];
};

struct table {
	struct entry e[TABLE_MAX];
	size_t n;
	unsigned queries;
	bool trace;
};

static uint8_t type_of(const char *s)
{
	static const char *const names[] = { NULL, "A", "AAAA", "MX", "TXT", "PTR" };
	for (uint8_t k = 1; k < ARRAY_SIZE(names); k++)
		if (strcasecmp(s, names[k]) == 0)
			return k;
	return 0;
}

static void strip_dot(char *s)
{
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = 0;
}

static int load_table(struct table *t, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = xmalloc(LINE_MAX_BYTES);
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, LINE_MAX_BYTES, f)) {
		line[strcspn(line, "\r\n")] = 0;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		char *type = strsep(&p, " ");
		char *name = p ? strsep(&p, " ") : NULL;
		if (!name || !p || t->n == TABLE_MAX) {
			fprintf(stderr, "bad table line: %s\n", line);
			return -1;
		}
		struct entry *e = &t->e[t->n];
		memset(e, 0, sizeof(*e));
		if (strcasecmp(type, "TEMPFAIL") == 0) {
			e->tf_type = type_of(name);
			name = strsep(&p, " ");
			if (!e->tf_type || !name) {
				fprintf(stderr, "bad TEMPFAIL line\n");
				return -1;
			}
		} else {
			e->type = type_of(type);
			if (!e->type) {
				fprintf(stderr, "bad type: %s\n", type);
				return -1;
			}
		}
		e->name = xstrdup(name);
		strip_dot(e->name);
		e->value = xstrdup(p ? p : "");
		if (e->type == ENQ_A && inet_pton(AF_INET, e->value, e->ip) != 1) {
			fprintf(stderr, "bad A value: %s\n", e->value);
			return -1;
		}
		if (e->type == ENQ_AAAA && inet_pton(AF_INET6, e->value, e->ip) != 1) {
			fprintf(stderr, "bad AAAA value: %s\n", e->value);
			return -1;
		}
		if (e->type == ENQ_MX) {
			char *v = e->value, *pref = strsep(&v, " ");
			e->pref = (uint16_t)atoi(pref);
			e->value = xstrdup(v ? v : "");
			strip_dot(e->value);
			if (strcmp(e->value, ".") == 0)
				e->value[0] = 0;
		}
		if (e->type == ENQ_PTR)
			strip_dot(e->value);
		t->n++;
	}
	free(line);
	fclose(f);
	return 0;
}

static int table_lookup(void *ctx, uint8_t type, const char *name, uint8_t family,
                        const uint8_t ip[16], struct enq_answer *ret)
{
	struct table *t = ctx;
	char key[64];
	bool exists = false;

	t->queries++;
	if (type == ENQ_PTR) {
		if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, key, sizeof(key)))
			return -1;
		name = key;
	}
	if (t->trace)
		fprintf(stderr, "query %u %s\n", type, name);
	memset(ret, 0, sizeof(*ret));
	ret->type = type;
	for (size_t k = 0; k < t->n; k++) {
		struct entry *e = &t->e[k];
		if (strcasecmp(e->name, name) != 0)
			continue;
		exists = true;
		if (e->tf_type == type) {
			ret->status = CHST_TEMPFAIL;
			ret->count = 0;
			return 0;
		}
		if (e->type != type)
			continue;
		if (ret->count == ENQ_RECORDS_MAX) {
			ret->flags |= ENQ_F_TRUNC;
			continue;
		}
		struct enq_record *r = &ret->rec[ret->count++];
		r->pref = e->pref;
		memcpy(r->ip, e->ip, 16);
		if (type != ENQ_A && type != ENQ_AAAA) {
			r->data = (const uint8_t *)e->value;
			r->len = strlen(e->value);
		}
	}
	if (ret->count) {
		ret->status = CHST_OK;
	} else {
		ret->status = CHST_NOT_FOUND;
		if (!exists)
			ret->flags |= ENQ_F_NXDOMAIN;
	}
	return 0;
}

/* The address of the first header field named name (unfolded), or "". */
static void header_addr(const uint8_t *m, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;
	out[0] = 0;
	while (i < n) {
		const uint8_t *lf = memchr(m + i, '\n', n - i);
		size_t e = lf ? (size_t)(lf - m) : n;
		if (e == i || (e == i + 1 && m[i] == '\r'))
			return; /* end of the header */
		if (e - i > nl && strncasecmp((const char *)m + i, name, nl) == 0 && m[i + nl] == ':') {
			/* gather the field with its continuation lines */
			size_t s = i + nl + 1, fe = e;
			while (fe + 1 < n && (m[fe + 1] == ' ' || m[fe + 1] == '\t')) {
				lf = memchr(m + fe + 1, '\n', n - fe - 1);
				fe = lf ? (size_t)(lf - m) : n;
			}
			char buf[2048];
			size_t bl = 0;
			for (size_t k = s; k < fe && bl + 1 < sizeof(buf); k++)
				if (m[k] != '\r' && m[k] != '\n')
					buf[bl++] = (char)m[k];
			buf[bl] = 0;
			char *a = strchr(buf, '<'), *z;
			if (a && (z = strchr(a, '>'))) {
				*z = 0;
				a++;
			} else {
				a = buf;
				while (*a == ' ' || *a == '\t')
					a++;
				z = a + strlen(a);
				while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
					*--z = 0;
			}
			snprintf(out, cap, "%s", a);
			return;
		}
		i = e < n ? e + 1 : n;
	}
}

static const char *spf_name(uint8_t r)
{
	static const char *const n[] = { "unchecked", "none", "neutral", "pass", "fail",
		                             "softfail", "temperror", "permerror" };
	return r < ARRAY_SIZE(n) ? n[r] : "?";
}

static const char *dmarc_name(uint8_t r)
{
	static const char *const n[] = { "unchecked", "none", "pass", "fail", "temperror",
		                             "permerror" };
	return r < ARRAY_SIZE(n) ? n[r] : "?";
}

static const char *dkim_name(uint8_t r)
{
	static const char *const n[] = { "none", "pass", "fail", "neutral", "temperror",
		                             "permerror", "policy" };
	return r < ARRAY_SIZE(n) ? n[r] : "?";
}

static const char *algo_name(uint8_t a)
{
	static const char *const n[] = { "unknown", "rsa-sha1", "rsa-sha256", "ed25519-sha256" };
	return a < ARRAY_SIZE(n) ? n[a] : "?";
}

static json_t *dkim_json(const struct msg_dkim *d)
{
	static const char *const flag_names[] = { "length", "t", "x", "expired", "future",
		                                      "test", "strict", "i_env_from", "i_hdr_from",
		                                      "i_reply_to" };
	json_t *flags = json_array();
	for (size_t k = 0; k < ARRAY_SIZE(flag_names); k++)
		if (d->flags & (1u << k))
			json_array_append_new(flags, json_string(flag_names[k]));
	return json_pack("{s:s, s:s, s:s%, s:s%, s:s, s:s, s:i, s:o, s:I, s:I}", "result",
	                 dkim_name(d->result), "algo", algo_name(d->algo), "domain",
	                 (const char *)d->domain.p ? (const char *)d->domain.p : "",
	                 d->domain.len, "selector",
	                 (const char *)d->selector.p ? (const char *)d->selector.p : "",
	                 d->selector.len, "head_canon", d->head_canon ? "relaxed" : "simple",
	                 "body_canon", d->body_canon ? "relaxed" : "simple", "key_bits",
	                 (int)d->key_bits, "flags", flags, "t", (json_int_t)d->t, "x",
	                 (json_int_t)d->x);
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		perror(path);
		return NULL;
	}
	uint8_t *buf = xmalloc(MSG_FILE_MAX + 1);
	size_t n = fread(buf, 1, MSG_FILE_MAX + 1, f);
	fclose(f);
	if (n > MSG_FILE_MAX) {
		free(buf);
		return NULL;
	}
	*ret_len = n;
	return buf;
}

int main(int argc, char **argv)
{
	const char *msgp = NULL, *dnsp = NULL, *ipt = "192.0.2.1", *helo = "", *mail_from = "",
	           *psl = NULL, *from_dom = NULL;
	uint64_t now = 0;
	unsigned max_lookups = 0;
	static struct table table;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--trace") == 0) {
			table.trace = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s needs a value\n", a);
			return 1;
		}
		i++;
		if (strcmp(a, "--msg") == 0)
			msgp = v;
		else if (strcmp(a, "--dns") == 0)
			dnsp = v;
		else if (strcmp(a, "--ip") == 0)
			ipt = v;
		else if (strcmp(a, "--helo") == 0)
			helo = v;
		else if (strcmp(a, "--mail-from") == 0)
			mail_from = v;
		else if (strcmp(a, "--now") == 0)
			now = strtoull(v, NULL, 10);
		else if (strcmp(a, "--psl") == 0)
			psl = v;
		else if (strcmp(a, "--from-domain") == 0)
			from_dom = v;
		else if (strcmp(a, "--max-lookups") == 0)
			max_lookups = (unsigned)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "unknown option %s\n", a);
			return 1;
		}
	}
	if (!msgp || !dnsp) {
		fprintf(stderr, "usage: deliver_authcheck --msg FILE --dns FILE [options]\n");
		return 1;
	}
	if (sodium_init() < 0 || load_table(&table, dnsp) != 0)
		return 1;
	if (psl && auth_psl_load(psl) != 0) {
		fprintf(stderr, "cannot load %s\n", psl);
		return 1;
	}
	uint8_t fam, ip[16] = { 0 };
	if (inet_pton(AF_INET, ipt, ip) == 1)
		fam = 4;
	else if (inet_pton(AF_INET6, ipt, ip) == 1)
		fam = 6;
	else {
		fprintf(stderr, "bad --ip\n");
		return 1;
	}
	size_t len;
	uint8_t *msg = read_file(msgp, &len);
	if (!msg)
		return 1;
	char hdr_from[1024], reply_to[1024], fd[256] = "";
	header_addr(msg, len, "From", hdr_from, sizeof(hdr_from));
	header_addr(msg, len, "Reply-To", reply_to, sizeof(reply_to));
	if (from_dom) {
		snprintf(fd, sizeof(fd), "%s", from_dom);
	} else {
		const char *at = strrchr(hdr_from, '@');
		if (at)
			snprintf(fd, sizeof(fd), "%s", at + 1);
	}

	struct auth_dns dns = { .lookup = table_lookup, .ctx = &table, .max_lookups = max_lookups };
	struct msg_dkim dk[MSG_DKIM_MAX];
	size_t nd = auth_dkim_verify(msg, len, now, mail_from, hdr_from, reply_to, &dns, dk);
	unsigned q_dkim = table.queries;
	uint8_t spf = auth_spf_check(fam, ip, mail_from, helo, &dns);
	unsigned q_spf = table.queries - q_dkim;
	const char *spf_dom = *mail_from ? strrchr(mail_from, '@') : NULL;
	spf_dom = spf_dom ? spf_dom + 1 : (*mail_from ? mail_from : helo);
	struct auth_dmarc_info info;
	uint8_t dmarc = auth_dmarc_evaluate(fd, spf, spf_dom, dk, nd, &dns, &info);
	char org[256];
	auth_org_domain(fd, org, sizeof(org));

	json_t *arr = json_array();
	for (size_t k = 0; k < nd; k++)
		json_array_append_new(arr, dkim_json(&dk[k]));
	static const char *const pol[] = { "none", "quarantine", "reject" };
	json_t *o = json_pack(
		"{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:i, s:i, s:i}", "dkim", arr,
		"spf", spf_name(spf), "spf_domain", spf_dom, "dmarc", dmarc_name(dmarc),
		"dmarc_policy", pol[info.policy < 3 ? info.policy : 0], "dmarc_record",
		info.record_domain, "from_domain", fd, "dmarc_org_record", info.org_record,
		"dkim_aligned", info.dkim_aligned, "spf_aligned", info.spf_aligned, "org_domain", org,
		"dns_queries", (int)table.queries, "dns_queries_dkim", (int)q_dkim, "dns_queries_spf",
		(int)q_spf);
	if (!o)
		return 1;
	char *s = json_dumps(o, JSON_SORT_KEYS);
	puts(s);
	free(s);
	json_decref(o);
	free(msg);
	return 0;
}
