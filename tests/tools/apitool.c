/* apitool.c: command-line access to the API request cryptography
 * (src/common/apireq.c), for the cross-implementation test and the
 * integration tests until the real client exists. Not installed.
 *   apitool url TS UID                         URL text
 *   apitool url-parse TEXT                     "TS UID"
 *   apitool keys KEYHEX TS UID                 "kreq HEX" and "kresp HEX"
 *   apitool seal UAKHEX TS UID CMD FLAGS ARGS [NONCEHEX]   request body hex
 *   apitool open UAKHEX TS UID BODY            "CMD FLAGS ARGSHEX"
 *   apitool resp-seal KRESPHEX TS UID STATUS DATA [NONCEHEX]  response body hex
 *   apitool resp-open KRESPHEX TS UID BODY     "STATUS DATAHEX"
 *   apitool invite-new                         invitation text
 *   apitool invite-info TEXT                   "id HEX", "key HEX", "bytes HEX"
 *   apitool reg-seal INVITE TS WANTED UAKHEX EPKHEX [NONCEHEX]  registration body hex
 *   apitool reg-open KINVHEX TS BODY           "WANTED UAKHEX EPKHEX"
 *   apitool args HEX                           decode cmd||flags||args, re-encode: hex
 *   apitool -                                  batch: one command per stdin line
 * ARGS, DATA and BODY are hex, "-" for empty, or @FILE for a file's raw bytes.
 * In batch mode each line is a command above without "apitool" (words split
 * at spaces); its output is flushed at once, and a command that fails prints
 * "error N" (N its exit status) instead, so a reader never waits in vain.
 * The URL uid of a registration is always 65535. Output hex is lowercase.
 * Exit status: 0 ok, 1 usage or I/O, 2 -EINVAL, 3 -EBADMSG. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/apireq.h"

#define APITOOL_FILE_MAX (APIREQ_BODY_MAX + 1024)
#define APITOOL_LINE_MAX (2 * APITOOL_FILE_MAX + 1024) /* batch mode */
#define APITOOL_WORDS_MAX 16

static int usage(void)
{
	fputs("usage: apitool url|url-parse|keys|seal|open|resp-seal|resp-open|invite-new|"
	      "invite-info|reg-seal|reg-open|args ...\n",
	      stderr);
	return 1;
}

static int exit_of(int rc)
{
	if (rc == -EINVAL)
		return 2;
	if (rc == -EBADMSG)
		return 3;
	return rc == 0 ? 0 : 1;
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("open %s", path);
	size_t cap = 4096, len = 0;
	uint8_t *p = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > APITOOL_FILE_MAX)
				fatalx("%s is too large", path);
			cap *= 2;
			p = xrealloc(p, cap);
		}
		size_t n = fread(p + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		fatal("read %s", path);
	fclose(f);
	*ret_len = len;
	return p;
}

/* Hex, "-" or @FILE into a fresh buffer (never NULL). */
static uint8_t *blob(const char *arg, size_t *ret_len)
{
	if (arg[0] == '@')
		return read_file(arg + 1, ret_len);
	if (strcmp(arg, "-") == 0) {
		*ret_len = 0;
		return xmalloc(1);
	}
	size_t n = strlen(arg), bin_len = 0;
	const char *end = NULL;
	uint8_t *p = xmalloc(n / 2 + 1);
	if (n % 2 || sodium_hex2bin(p, n / 2 + 1, arg, n, NULL, &bin_len, &end) != 0 ||
	    end != arg + n)
		fatalx("bad hex");
	*ret_len = bin_len;
	return p;
}

static void fixed(uint8_t *out, size_t want, const char *arg)
{
	size_t n;
	uint8_t *p = blob(arg, &n);
	if (n != want)
		fatalx("want %zu bytes of hex", want);
	memcpy(out, p, n);
	free(p);
}

static uint64_t num(const char *s, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > max)
		fatalx("bad number: %s", s);
	return v;
}

static int command(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	int n = argc - 2;
	char **a = argv + 2;
	uint8_t key[APIREQ_KEY_BYTES], k2[APIREQ_KEY_BYTES], nonce[APIREQ_NONCE_BYTES];
	int rc = 0;

	if (strcmp(cmd, "url") == 0 && n == 2) {
		char t[APIREQ_URL_TEXT_LEN + 1];
		apireq_url_to_text(t, num(a[0], UINT64_MAX), (uint16_t)num(a[1], UINT16_MAX));
		printf("%s\n", t);
	} else if (strcmp(cmd, "url-parse") == 0 && n == 1) {
		uint64_t ts;
		uint16_t uid;
		rc = apireq_url_from_text(a[0], strlen(a[0]), &ts, &uid);
		if (rc == 0)
			printf("%llu %u\n", (unsigned long long)ts, uid);
	} else if (strcmp(cmd, "keys") == 0 && n == 3) {
		fixed(key, sizeof(key), a[0]);
		uint8_t kr[APIREQ_KEY_BYTES], ks[APIREQ_KEY_BYTES];
		apireq_keys(kr, ks, key, num(a[1], UINT64_MAX), (uint16_t)num(a[2], UINT16_MAX));
		printf("kreq ");
		print_hex(kr, sizeof(kr));
		printf("\nkresp ");
		print_hex(ks, sizeof(ks));
		printf("\n");
	} else if (strcmp(cmd, "seal") == 0 && (n == 6 || n == 7)) {
		size_t alen;
		fixed(key, sizeof(key), a[0]);
		uint8_t *args = blob(a[5], &alen);
		size_t blen = apireq_body_len(alen);
		uint8_t *body = xmalloc(blen ? blen : 1);
		if (n == 7)
			fixed(nonce, sizeof(nonce), a[6]);
		else
			randombytes_buf(nonce, sizeof(nonce));
		rc = apireq_seal_with_nonce(body, blen, key, num(a[1], UINT64_MAX),
		                            (uint16_t)num(a[2], UINT16_MAX), (uint8_t)num(a[3], 255),
		                            (uint8_t)num(a[4], 255), args, alen, nonce);
		if (rc == 0) {
			print_hex(body, blen);
			printf("\n");
		}
		free(args);
		free(body);
	} else if (strcmp(cmd, "open") == 0 && n == 4) {
		size_t blen, plen;
		fixed(key, sizeof(key), a[0]);
		uint8_t *body = blob(a[3], &blen);
		uint8_t *plain = xmalloc(blen + 1);
		rc = apireq_open(plain, blen + 1, &plen, key, num(a[1], UINT64_MAX),
		                 (uint16_t)num(a[2], UINT16_MAX), body, blen);
		if (rc == 0) {
			printf("%u %u ", plain[0], plain[1]);
			if (plen > 2)
				print_hex(plain + 2, plen - 2);
			else
				printf("-");
			printf("\n");
		}
		free(body);
		free(plain);
	} else if (strcmp(cmd, "resp-seal") == 0 && (n == 5 || n == 6)) {
		size_t dlen;
		fixed(key, sizeof(key), a[0]);
		uint8_t *data = blob(a[4], &dlen);
		size_t blen = apireq_response_len(dlen);
		uint8_t *body = xmalloc(blen ? blen : 1);
		if (n == 6)
			fixed(nonce, sizeof(nonce), a[5]);
		else
			randombytes_buf(nonce, sizeof(nonce));
		rc = apireq_response_seal_with_nonce(body, blen, key, num(a[1], UINT64_MAX),
		                                     (uint16_t)num(a[2], UINT16_MAX),
		                                     (uint8_t)num(a[3], 255), data, dlen, nonce);
		if (rc == 0) {
			print_hex(body, blen);
			printf("\n");
		}
		free(data);
		free(body);
	} else if (strcmp(cmd, "resp-open") == 0 && n == 4) {
		size_t blen, dlen;
		uint8_t status;
		const uint8_t *data;
		fixed(key, sizeof(key), a[0]);
		uint8_t *body = blob(a[3], &blen);
		uint8_t *plain = xmalloc(blen + 1);
		rc = apireq_response_open(plain, blen + 1, key, num(a[1], UINT64_MAX),
		                          (uint16_t)num(a[2], UINT16_MAX), body, blen, &status, &data,
		                          &dlen);
		if (rc == 0) {
			printf("%u ", status);
			if (dlen)
				print_hex(data, dlen);
			else
				printf("-");
			printf("\n");
		}
		free(body);
		free(plain);
	} else if (strcmp(cmd, "invite-new") == 0 && n == 0) {
		uint8_t inv[APIREQ_INVITE_BYTES];
		char t[APIREQ_INVITE_TEXT_LEN + 1];
		apireq_invite_new(inv);
		apireq_invite_to_text(t, inv);
		printf("%s\n", t);
	} else if (strcmp(cmd, "invite-info") == 0 && n == 1) {
		uint8_t inv[APIREQ_INVITE_BYTES], id[APIREQ_INVITE_ID_BYTES];
		rc = apireq_invite_from_text(inv, a[0], strlen(a[0]));
		if (rc == 0) {
			apireq_invite_id(id, inv);
			apireq_invite_key(key, inv);
			printf("id ");
			print_hex(id, sizeof(id));
			printf("\nkey ");
			print_hex(key, sizeof(key));
			printf("\nbytes ");
			print_hex(inv, sizeof(inv));
			printf("\n");
		}
	} else if (strcmp(cmd, "reg-seal") == 0 && (n == 5 || n == 6)) {
		uint8_t inv[APIREQ_INVITE_BYTES], body[APIREQ_REGISTER_BODY_BYTES];
		rc = apireq_invite_from_text(inv, a[0], strlen(a[0]));
		fixed(key, sizeof(key), a[3]);
		fixed(k2, sizeof(k2), a[4]);
		if (n == 6)
			fixed(nonce, sizeof(nonce), a[5]);
		else
			randombytes_buf(nonce, sizeof(nonce));
		if (rc == 0)
			rc = apireq_register_seal_with_nonce(body, inv, num(a[1], UINT64_MAX),
			                                     APIREQ_UID_REGISTER,
			                                     (uint16_t)num(a[2], UINT16_MAX), key, k2, nonce);
		if (rc == 0) {
			print_hex(body, sizeof(body));
			printf("\n");
		}
	} else if (strcmp(cmd, "reg-open") == 0 && n == 3) {
		size_t blen;
		uint16_t wanted;
		uint8_t uak[APIREQ_KEY_BYTES], epk[APIREQ_EPK_BYTES];
		fixed(key, sizeof(key), a[0]);
		uint8_t *body = blob(a[2], &blen);
		rc = apireq_register_open(key, num(a[1], UINT64_MAX), APIREQ_UID_REGISTER, body, blen,
		                          &wanted, uak, epk);
		if (rc == 0) {
			printf("%u ", wanted);
			print_hex(uak, sizeof(uak));
			printf(" ");
			print_hex(epk, sizeof(epk));
			printf("\n");
		}
		free(body);
	} else if (strcmp(cmd, "args") == 0 && n == 1) {
		size_t len;
		struct apireq_args args;
		struct wr w = WR_INIT;
		uint8_t *p = blob(a[0], &len);
		rc = apireq_args_decode(&args, p, len);
		if (rc == 0)
			rc = apireq_args_encode(&w, &args);
		if (rc == 0) {
			print_hex(w.p, w.len);
			printf("\n");
		}
		wr_free(&w);
		free(p);
	} else {
		return usage();
	}
	if (fflush(stdout) != 0)
		return 1;
	return exit_of(rc);
}

/* Runs the commands of stdin's lines in this one process. */
static int batch(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if ((size_t)n > APITOOL_LINE_MAX)
			fatalx("input line too long");
		char *words[APITOOL_WORDS_MAX + 1] = { "apitool" };
		int nw = 1;
		for (char *save = NULL, *w = strtok_r(line, " \t\n", &save); w;
		     w = strtok_r(NULL, " \t\n", &save)) {
			if (nw == APITOOL_WORDS_MAX)
				fatalx("too many words");
			words[nw++] = w;
		}
		if (nw == 1)
			continue;
		int rc = command(nw, words);
		if (rc != 0)
			printf("error %d\n", rc);
		if (fflush(stdout) != 0)
			return 1;
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (argc == 2 && strcmp(argv[1], "-") == 0)
		return batch();
	return command(argc, argv);
}
