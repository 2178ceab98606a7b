/* test_client_result.c: what the client parses from the server
 * (src/client/result.c, the response-head parser of https.c), the messages
 * for HTTP errors (api.c), and the upload format (upload.c, golden vector
 * computed independently in Python from docs section 15.8). */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "client/api.h"
#include "client/exitcode.h"
#include "client/https.h"
#include "client/result.h"
#include "client/upload.h"
#include "common/bytes.h"
#include "common/envelope.h"

static void info(void)
{
	uint8_t p[RESULT_INFO_FIXED + 2 * RESULT_INFO_ENTRY];
	memset(p, 0, sizeof(p));
	le16_store(p, 291);
	p[2] = 1;
	p[3] = 2;
	le32_store(p + 4, 1024);
	p[8] = 10, p[9] = 31, p[10] = 1;
	le64_store(p + 12, 123456);
	le32_store(p + 20, 7);
	CHECK(check_unhex("0103000000800000", p + 24, 8) == 8);
	memset(p + 32, 0xAB, 16);
	le16_store(p + 48, 297);
	memset(p + 52, 1, 8);
	p[60] = 0x0e;
	memset(p + 61, 2, 8);
	p[69] = 0x8e;
	struct result_info r;
	CHECK(result_info_decode(&r, p, sizeof(p)) == 0);
	CHECK(r.uid == 291 && r.level == 1 && r.count == 2 && r.storage_mib == 1024);
	CHECK(r.max_normal == 10 && r.max_shield == 31 && r.usage_known && r.used_bytes == 123456);
	CHECK(r.used_count == 7 && r.params.opslimit == 3 && r.params.memlimit_kib == 32768);
	CHECK(r.salt[0] == 0xAB && r.private_len == 297 && r.addr[1].flags == 0x8e);
	/* Every rule: one field out of range at a time. */
	static const struct {
		size_t off;
		uint8_t v;
	} bad[] = { { 1, 0x10 },  /* uid 4096+ */
		        { 2, 4 },     /* level */
		        { 8, 32 },    /* max_normal */
		        { 9, 32 },    /* max_shield */
		        { 10, 2 },    /* usage_known */
		        { 11, 1 },    /* reserved */
		        { 24, 2 },    /* params version */
		        { 25, 0 },    /* opslimit */
		        { 49, 0x21 }, /* private_len 8449 */
		        { 50, 1 },    /* reserved */
		        { 60, 0x4e }, /* flag 0x40 */
		        { 7, 1 } };   /* storage_mib over 1 TiB */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t q[sizeof(p)];
		memcpy(q, p, sizeof(p));
		q[bad[i].off] = bad[i].v;
		CHECK(result_info_decode(&r, q, sizeof(q)) == -EBADMSG);
	}
	CHECK(result_info_decode(&r, p, sizeof(p) - 1) == -EBADMSG);
	CHECK(result_info_decode(&r, p, RESULT_INFO_FIXED) == -EBADMSG); /* count says 2 */
	p[10] = 0; /* usage unknown but numbers set */
	CHECK(result_info_decode(&r, p, sizeof(p)) == -EBADMSG);
	le64_store(p + 12, 0);
	le32_store(p + 20, 0);
	CHECK(result_info_decode(&r, p, sizeof(p)) == 0 && !r.usage_known);
}

static void page(void)
{
	/* Two envelopes: ids 9 and 4, 4 and 5 blocks. */
	size_t n = RESULT_PAGE_HEADER + 2 * 8 + 128 + 160;
	uint8_t *p = calloc(1, n + 32);
	p[0] = 1;
	le32_store(p + 3, 2);
	le32_store(p + 7, 10);
	le64_store(p + 15, 5000);
	le32_store(p + 23, 9);
	le32_store(p + 27, 4);
	le32_store(p + 31, 4);
	le32_store(p + 35, 5);
	memset(p + 39, 0x11, 128);
	memset(p + 39 + 128, 0x22, 160);
	struct result_page pg;
	CHECK(result_page_decode(&pg, p, n) == 0);
	CHECK(pg.more && pg.count == 2 && pg.total_count == 10 && pg.total_bytes == 5000);
	size_t off = 0;
	uint32_t id;
	const uint8_t *env;
	size_t len;
	result_page_entry(&pg, 0, &off, &id, &env, &len);
	CHECK(id == 9 && len == 128 && env[0] == 0x11 && env[127] == 0x11);
	result_page_entry(&pg, 1, &off, &id, &env, &len);
	CHECK(id == 4 && len == 160 && env[0] == 0x22 && off == 288);
	/* Trailing byte, missing byte, bad block counts, reserved, count over the total. */
	CHECK(result_page_decode(&pg, p, n + 1) == -EBADMSG);
	CHECK(result_page_decode(&pg, p, n - 1) == -EBADMSG);
	CHECK(result_page_decode(&pg, p, 22) == -EBADMSG);
	le32_store(p + 27, 3); /* 96 bytes: below the smallest envelope */
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 27, ENVELOPE_MAX_BLOCKS + 1);
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 27, 0xFFFFFFFFu);
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 27, 5); /* 5 + 5 blocks: one block more than there is */
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 27, 4);
	p[0] = 2;
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	p[0] = 0;
	p[1] = 1;
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	p[1] = 0;
	le32_store(p + 7, 1);
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 7, 10);
	le32_store(p + 3, 0xFFFFFFFFu); /* a count no page could hold */
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	le32_store(p + 3, 2);
	le64_store(p + 15, 100); /* total below this page */
	CHECK(result_page_decode(&pg, p, n) == -EBADMSG);
	/* An empty page. */
	uint8_t e[RESULT_PAGE_HEADER] = { 0 };
	CHECK(result_page_decode(&pg, e, sizeof(e)) == 0 && pg.count == 0 && !pg.more);
	free(p);
}

static void users_invite_shield(void)
{
	uint8_t p[2 + 3 * 5] = { 3, 0, 0, 0, 3, 0, 3, 1, 0, 0, 2, 5, 0xFF, 0x0F, 0, 31, 0 };
	struct result_user *u;
	size_t n;
	CHECK(result_users_decode(&u, &n, p, sizeof(p)) == 0 && n == 3);
	CHECK(u[2].uid == 4095 && u[2].normal == 31 && u[1].shield == 5);
	free(u);
	CHECK(result_users_decode(&u, &n, p, sizeof(p) - 1) == -EBADMSG);
	p[7] = 0; /* uid 0 after uid 0: not increasing */
	CHECK(result_users_decode(&u, &n, p, sizeof(p)) == -EBADMSG);
	p[7] = 1;
	p[16] = 1; /* 31 + 1 addresses */
	CHECK(result_users_decode(&u, &n, p, sizeof(p)) == -EBADMSG);
	p[16] = 0;
	p[4] = 4; /* level */
	CHECK(result_users_decode(&u, &n, p, sizeof(p)) == -EBADMSG);
	uint8_t z[2] = { 0, 0 };
	CHECK(result_users_decode(&u, &n, z, 2) == 0 && n == 0 && u == NULL);

	uint8_t inv[40], got[32];
	uint64_t exp;
	memset(inv, 7, 32);
	le64_store(inv + 32, 1767225600000ull);
	CHECK(result_invite_decode(got, &exp, inv, 40) == 0 && exp == 1767225600000ull);
	CHECK(result_invite_decode(got, &exp, inv, 39) == -EBADMSG);

	uint8_t sh[18], h[8], a[10];
	memset(sh, 0xFF, sizeof(sh));
	CHECK(result_shield_decode(h, a, sh, sizeof(sh)) == 0 && a[0] == 0xFF);
	CHECK(addr32_parse("alice", 5, sh + 8) == ADDR32_NORMAL);
	CHECK(result_shield_decode(h, a, sh, sizeof(sh)) == -EBADMSG);
	CHECK(result_shield_decode(h, a, sh, 17) == -EBADMSG);
}

static int head(const char *s, struct https_head *h)
{
	return https_parse_head(h, s, strlen(s));
}

static void http_head(void)
{
	struct https_head h;
	CHECK(head("HTTP/1.1 200 OK\r\nContent-Length: 296\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
	           "Cache-Control: no-store\r\n\r\n",
	           &h) == 0);
	CHECK(h.status == 200 && h.has_length && h.length == 296 && !h.close && h.has_date);
	CHECK(h.date == 1767225600);
	CHECK(head("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n"
	           "Connection: foo, Close\r\n\r\n",
	           &h) == 0);
	CHECK(h.status == 503 && h.retry_after == 5 && h.close && h.length == 0);
	CHECK(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &h) == 0 && h.close);
	CHECK(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &h) == 0 &&
	      !h.close);
	CHECK(head("HTTP/1.1 204\r\n\r\n", &h) == 0 && h.status == 204 && !h.has_length);
	/* A bad Date is ignored, not fatal. */
	CHECK(head("HTTP/1.1 200 OK\r\nDate: yesterday\r\nContent-Length: 0\r\n\r\n", &h) == 0 &&
	      !h.has_date);
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",                    /* bare LF */
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\r\n\r\n",                /* bare CR */
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 600 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", /* twice */
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",                         /* obs-fold */
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\001b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\n",                                           /* no empty line */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (head(bad[i], &h) != -EBADMSG) {
			fprintf(stderr, "  accepted bad head %zu\n", i);
			CHECK(0);
		}
	CHECK(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &h) == -ENOTSUP);
	CHECK(head("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", &h) ==
	      -EFBIG);
	char big[64];
	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
	         (size_t)HTTPS_BODY_MAX + 1);
	CHECK(head(big, &h) == -EFBIG);
	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
	         (size_t)HTTPS_BODY_MAX);
	CHECK(head(big, &h) == 0 && h.length == HTTPS_BODY_MAX);
	/* Too many lines, too long. */
	char *many = malloc(HTTPS_HEAD_MAX + 100);
	strcpy(many, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= HTTPS_HEADER_LINES_MAX; i++)
		strcat(many, "X: y\r\n");
	strcat(many, "\r\n");
	CHECK(head(many, &h) == -E2BIG);
	CHECK(https_parse_head(&h, many, HTTPS_HEAD_MAX + 1) == -E2BIG);
	free(many);
}

static void http_date(void)
{
	int64_t t;
	CHECK(https_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t) == 0 && t == 784111777);
	CHECK(https_parse_date("Thu, 29 Feb 2024 23:59:59 GMT", 29, &t) == 0 && t == 1709251199);
	CHECK(https_parse_date("Sun, 06 Nov 1994 08:49:37 UTC", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 06 Nov 1994 08:49:37 GM", 28, &t) == -EINVAL);
	CHECK(https_parse_date("Xyz, 06 Nov 1994 08:49:37 GMT", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 31 Nov 1994 08:49:37 GMT", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 29 Feb 2023 08:49:37 GMT", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 06 Nov 1994 24:49:37 GMT", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t) == -EINVAL);
	CHECK(https_parse_date("Sun, 6  Nov 1994 08:49:37 GMT", 29, &t) == -EINVAL);
}

static void http_errors(void)
{
	char m[API_ERR_MAX];
	uint64_t now = 1767225600000ull;
	CHECK(api_http_error(m, sizeof(m), 403, false, 0, 0, now, "h:302", false) == CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "wrong key or unknown user") != NULL);
	CHECK(api_http_error(m, sizeof(m), 403, false, 0, 0, now, "h:302", true) == CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "invitation") != NULL);
	CHECK(api_http_error(m, sizeof(m), 409, false, 0, 0, now, "h:302", false) == CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "replayed request (your clock went backwards?)") != NULL);
	CHECK(api_http_error(m, sizeof(m), 412, true, 1767225600 - 95, 0, now, "h", false) ==
	      CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "your clock is 95 s off from the server's (ahead)") != NULL);
	CHECK(api_http_error(m, sizeof(m), 412, true, 1767225600 + 3600, 0, now, "h", false) ==
	      CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "your clock is 3600 s off from the server's (behind)") != NULL);
	CHECK(api_http_error(m, sizeof(m), 412, false, 0, 0, now, "h", false) == CLIENT_EXIT_AUTH);
	CHECK(strstr(m, "check your clock") != NULL);
	CHECK(api_http_error(m, sizeof(m), 503, false, 0, 5, now, "h", false) == CLIENT_EXIT_NET);
	CHECK(strstr(m, "server busy, try again in 5 s") != NULL);
	CHECK(api_http_error(m, sizeof(m), 404, false, 0, 0, now, "h:9", false) == CLIENT_EXIT_NET);
	CHECK(strstr(m, "no allears API at h:9") != NULL);
	CHECK(api_http_error(m, sizeof(m), 400, false, 0, 0, now, "h", false) == CLIENT_EXIT_ERROR);
	CHECK(api_http_error(m, sizeof(m), 418, false, 0, 0, now, "h", false) == CLIENT_EXIT_NET);
	CHECK(api_status_exit(5) == CLIENT_EXIT_NET && api_status_exit(9) == CLIENT_EXIT_AUTH);
	CHECK(api_status_exit(0) == 0 && api_status_exit(200) == CLIENT_EXIT_ERROR);
	CHECK(strcmp(api_status_text(200), "failed with an unknown status") == 0);
}

static void upload_format(void)
{
	static const char golden[] = "01000102030405060708090a0b0c0d0e0f10111213141516170ab7c2a3"
	                             "b54940f8fe8092ed8299415743b0901ec655ddd4eac5dc";
	uint8_t ufk[32], nonce[24], want[64];
	CHECK(check_unhex("d666a1f49e8435ba3c949e46d2b7badfc98bd0984a0431d29dd9f110f4895abc", ufk,
	                  32) == 32);
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)i;
	int n = check_unhex(golden, want, sizeof(want));
	struct wr w = WR_INIT;
	CHECK(upload_seal_with_nonce(&w, "a.txt", 5, (const uint8_t *)"hello", 5, ufk, nonce) == 0);
	CHECK(w.len == (size_t)n && memcmp(w.p, want, (size_t)n) == 0);
	uint8_t *plain;
	size_t pl;
	struct msg_str name, content;
	CHECK(upload_open(want, (size_t)n, ufk, &plain, &pl, &name, &content) == 0);
	CHECK(name.len == 5 && !memcmp(name.p, "a.txt", 5) && content.len == 5);
	upload_free(plain, pl);
	/* Every bit flipped somewhere: refused; the wrong key: -EACCES. */
	int refused = 0;
	for (int i = 0; i < n; i++) {
		want[i] ^= 0x10;
		refused += upload_open(want, (size_t)n, ufk, &plain, &pl, &name, &content) != 0;
		want[i] ^= 0x10;
	}
	CHECK(refused == n);
	ufk[0] ^= 1;
	CHECK(upload_open(want, (size_t)n, ufk, &plain, &pl, &name, &content) == -EACCES);
	CHECK(upload_open(want, 42, ufk, &plain, &pl, &name, &content) == -EBADMSG);
	/* Names. */
	CHECK(upload_seal(&w, "a/b", 3, NULL, 0, ufk) == -EINVAL);
	CHECK(upload_seal(&w, "..", 2, NULL, 0, ufk) == -EINVAL);
	CHECK(upload_seal(&w, ".", 1, NULL, 0, ufk) == -EINVAL);
	CHECK(upload_seal(&w, "", 0, NULL, 0, ufk) == -EINVAL);
	CHECK(upload_seal(&w, "a\nb", 3, NULL, 0, ufk) == -EINVAL);
	CHECK(upload_seal(&w, "a\xff", 2, NULL, 0, ufk) == -EINVAL);
	char n256[256];
	memset(n256, 'n', sizeof(n256));
	CHECK(upload_seal(&w, n256, 256, NULL, 0, ufk) == -EINVAL);
	size_t before = w.len;
	CHECK(upload_seal(&w, n256, 255, NULL, 0, ufk) == 0 && w.len == before + 41 + 256);
	/* The largest content for a name fits the largest UplMsg exactly. */
	CHECK(UPLOAD_CONTENT_MAX(5) + 5 + 1 + UPLOAD_OVERHEAD + APIREQ_UPLOAD_OVERHEAD +
	          sizeof(UPLOAD_SERVER_NAME) - 1 ==
	      MESSAGE_MAX_BYTES);
	CHECK(upload_seal(&w, "a", 1, (const uint8_t *)"", UPLOAD_CONTENT_MAX(1) + 1, ufk) == -EFBIG);
	wr_free(&w);
}

int main(void)
{
	check_init();
	RUN(info);
	RUN(page);
	RUN(users_invite_shield);
	RUN(http_head);
	RUN(http_date);
	RUN(http_errors);
	RUN(upload_format);
	return check_finish();
}
