/* enqtool.c: asks Enquiry one question over its channel, as Deliver or the
 * API would, and prints the decoded answer as one line of JSON. For the
 * integration tests (tests/integration/test_enquiry.py). Not installed.
 *   enqtool [--as ROLE2] SOCKET KEYSFILE ROLE TYPE QUESTION
 *   enqtool [--as ROLE2] --raw SOCKET KEYSFILE ROLE TYPENUM HEX
 * KEYSFILE is ROLE's key bundle; TYPE is a, aaaa, mx, txt or ptr; QUESTION a
 * name, or for ptr an IPv4 or IPv6 address. --raw sends the payload HEX ("-"
 * for none) as frame type TYPENUM, unchecked. --as claims ROLE2 in the
 * handshake while using ROLE's pair key (a peer that lies about its role).
 * Output: {"status":"ok"|"not_found"|..., "code":N, "flags":[...],
 * "records":[...]}; bytes of TXT text outside printable ASCII appear as
 * \u00XX (decode the string as Latin-1 to get the bytes back). An answer that
 * does not decode prints "decoded":false and its hex. Exit status: 0 when an
 * answer came, 2 when the call failed (the connection was refused or closed). */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chanmsg.h"
#include "common/enqmsg.h"
#include "common/keybundle.h"
#include "ipc/rpc.h"

static const char *const type_names[] = { NULL, "a", "aaaa", "mx", "txt", "ptr" };

static enum role role_by_name(const char *s)
{
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX; r++)
		if (strcmp(role_name((enum role)r), s) == 0)
			return (enum role)r;
	fatalx("unknown role %s", s);
}

static const char *status_name(uint8_t s)
{
	switch (s) {
	case CHST_OK:
		return "ok";
	case CHST_NOT_FOUND:
		return "not_found";
	case CHST_TEMPFAIL:
		return "tempfail";
	case CHST_INVALID:
		return "invalid";
	case CHST_DENIED:
		return "denied";
	default:
		return "other";
	}
}

static void json_str(const uint8_t *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_answer(uint8_t type, const uint8_t *p, size_t len)
{
	struct enq_answer a;
	if (len == 0 || enq_answer_decode(&a, type, p, len) < 0) {
		printf("{\"decoded\":false,\"code\":%d,\"hex\":\"", len ? p[0] : -1);
		for (size_t i = 0; i < len; i++)
			printf("%02x", p[i]);
		printf("\"}\n");
		return;
	}
	printf("{\"decoded\":true,\"status\":\"%s\",\"code\":%u,\"flags\":[", status_name(a.status),
	       a.status);
	const char *sep = "";
	static const char *const fl[] = { "nxdomain", "trunc", "cached" };
	for (int i = 0; i < 3; i++)
		if (a.flags & (1 << i)) {
			printf("%s\"%s\"", sep, fl[i]);
			sep = ",";
		}
	printf("],\"type\":\"%s\",\"records\":[", type_names[type]);
	for (uint16_t i = 0; i < a.count; i++) {
		const struct enq_record *r = &a.rec[i];
		printf("%s{", i ? "," : "");
		if (type == ENQ_A || type == ENQ_AAAA) {
			char buf[INET6_ADDRSTRLEN];
			inet_ntop(type == ENQ_A ? AF_INET : AF_INET6, r->ip, buf, sizeof(buf));
			printf("\"ip\":\"%s\"", buf);
		} else if (type == ENQ_MX) {
			printf("\"pref\":%u,\"name\":", r->pref);
			json_str(r->data, r->len);
		} else if (type == ENQ_PTR) {
			printf("\"name\":");
			json_str(r->data, r->len);
		} else {
			printf("\"text\":");
			json_str(r->data, r->len);
		}
		printf("}");
	}
	printf("]}\n");
}

static uint8_t *read_file(const char *path, size_t max, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("open %s", path);
	uint8_t *p = xmalloc(max + 1);
	size_t n = fread(p, 1, max + 1, f);
	if (ferror(f) || n > max)
		fatalx("cannot read %s (or it is too large)", path);
	fclose(f);
	*ret_len = n;
	return p;
}

int main(int argc, char **argv)
{
	int i = 1;
	bool raw = false;
	const char *claim = NULL;
	if (sodium_init() < 0)
		fatalx("sodium_init");
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
			i++;
		} else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
			claim = argv[i + 1];
			i += 2;
		} else {
			break;
		}
	}
	if (argc - i != 5) {
		fputs("usage: enqtool [--as ROLE2] [--raw] SOCKET KEYSFILE ROLE TYPE QUESTION\n", stderr);
		return 1;
	}
	const char *sock = argv[i], *keys = argv[i + 1], *q = argv[i + 4];
	enum role me = role_by_name(argv[i + 2]);

	uint16_t type = 0;
	struct wr w = WR_INIT;
	if (raw) {
		type = (uint16_t)atoi(argv[i + 3]);
		if (strcmp(q, "-") != 0) {
			size_t n = strlen(q), bin = 0;
			uint8_t *p = wr_reserve(&w, n / 2 + 1);
			if (sodium_hex2bin(p, n / 2 + 1, q, n, NULL, &bin, NULL) != 0)
				fatalx("bad hex");
			w.len = bin;
		}
	} else {
		for (uint16_t t = ENQ_A; t <= ENQ_TYPE_MAX; t++)
			if (strcmp(argv[i + 3], type_names[t]) == 0)
				type = t;
		if (!type)
			fatalx("unknown type %s (a, aaaa, mx, txt, ptr)", argv[i + 3]);
		if (type == ENQ_PTR) {
			uint8_t ip[16] = { 0 };
			uint8_t family = 4;
			if (inet_pton(AF_INET, q, ip) != 1) {
				family = 6;
				if (inet_pton(AF_INET6, q, ip) != 1)
					fatalx("not an IP address: %s", q);
			}
			if (enq_request_ptr(&w, family, ip) < 0)
				fatalx("bad address");
		} else if (enq_request_name(&w, q) < 0) {
			fatalx("not a valid name: %s", q);
		}
	}

	if (!w.p) { /* an empty payload still needs a buffer */
		(void)wr_reserve(&w, 1);
		w.len = 0;
	}

	size_t klen;
	uint8_t *kbytes = read_file(keys, KEYBUNDLE_MAX_BYTES, &klen);
	struct keybundle *kb = keybundle_new();
	if (keybundle_parse(kb, kbytes, klen, me) < 0)
		fatalx("%s is not %s's key bundle", keys, role_name(me));
	sodium_memzero(kbytes, klen);
	free(kbytes);
	const uint8_t *pair = keybundle_pair(kb, me, ROLE_ENQUIRY);
	if (!pair)
		fatalx("%s holds no key for %s -> enquiry", keys, role_name(me));

	struct rpc_sync c;
	int rc = rpc_sync_connect(&c, sock, claim ? role_by_name(claim) : me, ROLE_ENQUIRY, pair);
	keybundle_free(kb);
	if (rc < 0) {
		printf("{\"error\":\"connect: %s\"}\n", strerror(-rc));
		wr_free(&w);
		return 2;
	}
	static uint8_t reply[CHAN_FRAME_MAX];
	uint16_t rtype;
	size_t rlen;
	int rfd = -1;
	rc = rpc_sync_call(&c, type, w.p, w.len, -1, &rtype, reply, sizeof(reply), &rlen, &rfd);
	wr_free(&w);
	rpc_sync_close(&c);
	if (rc < 0) {
		printf("{\"error\":\"call: %s\"}\n", strerror(-rc));
		return 2;
	}
	if (rfd >= 0 || rtype != type)
		fatalx("unexpected answer (type %u, fd %d)", rtype, rfd);
	print_answer((uint8_t)type, reply, rlen);
	return 0;
}
