/* addrtool.c: command-line access to addr32, addrhash and userid, for the
 * cross-implementation test (tests/cross/test_addr_cross.py) and for measuring
 * Argon2id costs. Not installed. One input per stdin line, one output line each. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/addr32.h"
#include "common/addrhash.h"
#include "common/userid.h"

#define ADDRTOOL_LINE_MAX 16384

static const char *kind_name(enum addr32_kind k)
{
	switch (k) {
	case ADDR32_NORMAL:
		return "normal";
	case ADDR32_SHIELD:
		return "shield";
	default:
		return "invalid";
	}
}

static void usage(void)
{
	fputs("usage: addrtool encode | encode-hex | decode\n"
	      "       addrtool hash-normal <salthex> <ops> <memkib> | hash-shield <keyhex>\n"
	      "       addrtool params <ops> <memkib> | params-decode <hex>\n"
	      "       addrtool username <uid> | userid <name>\n"
	      "       addrtool bench <ops> <memkib> <count>\n"
	      "encode reads raw lines, encode-hex and the others read hex lines, from stdin.\n",
	      stderr);
	exit(2);
}

/* Reads one line without its newline into buf; returns its length or -1 at EOF. */
static long read_line(char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, stdin))
		return -1;
	size_t n = strlen(buf); /* encode lines hold no NUL: the cross test sends those as hex */
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(stdin))
		fatalx("input line longer than %d bytes", ADDRTOOL_LINE_MAX - 2);
	return (long)n;
}

static size_t unhex_or_die(const char *hex, uint8_t *out, size_t max)
{
	size_t n;
	if (sodium_hex2bin(out, max, hex, strlen(hex), NULL, &n, NULL) != 0)
		fatalx("bad hex");
	return n;
}

static void unhex_exact(const char *hex, uint8_t *out, size_t want)
{
	if (unhex_or_die(hex, out, want) != want)
		fatalx("want %zu bytes of hex", want);
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* "<count> <hex> <classify> <parse> <decoded|-> <reserved 0|1>" */
static void encode_one(const char *s, size_t len)
{
	uint8_t a[ADDR32_BYTES], b[ADDR32_BYTES];
	char text[ADDR32_TEXT_MAX];
	int count = addr32_encode(s, len, a);
	enum addr32_kind parsed = addr32_parse(s, len, b);
	if (memcmp(a, b, sizeof(a)) != 0)
		fatalx("addr32_parse wrote something else than addr32_encode");
	printf("%d ", count);
	print_hex(a, sizeof(a));
	int r = addr32_decode(a, text);
	printf(" %s %s %s %d\n", kind_name(addr32_classify(a)), kind_name(parsed), r < 0 ? "-" : text,
	       addr32_is_reserved(a) ? 1 : 0);
}

static int cmd_encode(bool hex)
{
	static char line[ADDRTOOL_LINE_MAX];
	static uint8_t bin[ADDRTOOL_LINE_MAX / 2];
	long n;
	while ((n = read_line(line, sizeof(line))) >= 0) {
		if (hex) {
			size_t len = unhex_or_die(line, bin, sizeof(bin));
			encode_one((const char *)bin, len);
		} else {
			encode_one(line, (size_t)n);
		}
	}
	return 0;
}

/* "<classify> <decoded|error-code>" for each 10-byte hex value. */
static int cmd_decode(void)
{
	char line[ADDRTOOL_LINE_MAX];
	while (read_line(line, sizeof(line)) >= 0) {
		uint8_t a[ADDR32_BYTES];
		char text[ADDR32_TEXT_MAX];
		unhex_exact(line, a, sizeof(a));
		int r = addr32_decode(a, text);
		printf("%s ", kind_name(addr32_classify(a)));
		if (r < 0)
			printf("%d\n", r);
		else
			printf("%s\n", text);
	}
	return 0;
}

static struct addrhash_params params_arg(const char *ops, const char *mem)
{
	return (struct addrhash_params){ .opslimit = (uint8_t)strtoul(ops, NULL, 10),
		                             .memlimit_kib = (uint32_t)strtoul(mem, NULL, 10) };
}

static int cmd_hash_normal(const char *salthex, const char *ops, const char *mem)
{
	uint8_t salt[ADDRHASH_SALT_BYTES];
	unhex_exact(salthex, salt, sizeof(salt));
	struct addrhash_params p = params_arg(ops, mem);
	char line[ADDRTOOL_LINE_MAX];
	while (read_line(line, sizeof(line)) >= 0) {
		uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
		unhex_exact(line, a, sizeof(a));
		int r = addrhash_normal(h, a, salt, &p);
		if (r < 0) {
			printf("error %d\n", r);
			continue;
		}
		print_hex(h, sizeof(h));
		putchar('\n');
	}
	return 0;
}

static int cmd_hash_shield(const char *keyhex)
{
	uint8_t key[ADDRHASH_SHIELD_KEY_BYTES];
	unhex_exact(keyhex, key, sizeof(key));
	char line[ADDRTOOL_LINE_MAX];
	while (read_line(line, sizeof(line)) >= 0) {
		uint8_t a[ADDR32_BYTES], h[ADDRHASH_BYTES];
		unhex_exact(line, a, sizeof(a));
		addrhash_shield(h, a, key);
		print_hex(h, sizeof(h));
		putchar('\n');
	}
	return 0;
}

static int cmd_params(const char *ops, const char *mem)
{
	struct addrhash_params p = params_arg(ops, mem);
	uint8_t out[ADDRHASH_PARAMS_BYTES];
	int r = addrhash_params_encode(&p, out);
	if (r < 0) {
		printf("error %d\n", r);
		return 1;
	}
	print_hex(out, sizeof(out));
	putchar('\n');
	return 0;
}

static int cmd_params_decode(const char *hex)
{
	uint8_t in[64];
	size_t n = unhex_or_die(hex, in, sizeof(in));
	struct addrhash_params p;
	int r = addrhash_params_decode(in, n, &p);
	if (r < 0) {
		printf("error %d\n", r);
		return 1;
	}
	printf("%u %u\n", p.opslimit, p.memlimit_kib);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints the median and minimum time of one normal-address hash. */
static int cmd_bench(const char *ops, const char *mem, const char *count)
{
	struct addrhash_params p = params_arg(ops, mem);
	long n = strtol(count, NULL, 10);
	if (n < 1 || n > 1000 || addrhash_params_check(&p) < 0)
		usage();
	uint8_t salt[ADDRHASH_SALT_BYTES] = { 0 }, a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	double *t = xcalloc((size_t)n, sizeof(*t));
	if (addr32_parse("benchmark", 9, a) != ADDR32_NORMAL)
		fatalx("benchmark address");
	for (long i = 0; i < n; i++) {
		double t0 = now_ms();
		if (addrhash_normal(h, a, salt, &p) < 0)
			fatalx("addrhash_normal failed");
		t[i] = now_ms() - t0;
	}
	for (long i = 1; i < n; i++) /* insertion sort: n is small */
		for (long j = i; j > 0 && t[j - 1] > t[j]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	printf("ops %u mem %u KiB: median %.1f ms, min %.1f ms (%ld runs)\n", p.opslimit,
	       p.memlimit_kib, t[n / 2], t[0], n);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (argc < 2)
		usage();
	const char *c = argv[1];
	if (!strcmp(c, "encode") && argc == 2)
		return cmd_encode(false);
	if (!strcmp(c, "encode-hex") && argc == 2)
		return cmd_encode(true);
	if (!strcmp(c, "decode") && argc == 2)
		return cmd_decode();
	if (!strcmp(c, "hash-normal") && argc == 5)
		return cmd_hash_normal(argv[2], argv[3], argv[4]);
	if (!strcmp(c, "hash-shield") && argc == 3)
		return cmd_hash_shield(argv[2]);
	if (!strcmp(c, "params") && argc == 4)
		return cmd_params(argv[2], argv[3]);
	if (!strcmp(c, "params-decode") && argc == 3)
		return cmd_params_decode(argv[2]);
	if (!strcmp(c, "username") && argc == 3) {
		long uid = strtol(argv[2], NULL, 10);
		if (uid < 0 || uid >= USERID_COUNT)
			usage();
		char name[USERID_NAME_LEN + 1];
		userid_to_name((uint16_t)uid, name);
		printf("%s\n", name);
		return 0;
	}
	if (!strcmp(c, "userid") && argc == 3) {
		uint16_t uid;
		if (userid_from_name(argv[2], strlen(argv[2]), &uid) < 0) {
			printf("error\n");
			return 1;
		}
		printf("%u\n", uid);
		return 0;
	}
	if (!strcmp(c, "bench") && argc == 5)
		return cmd_bench(argv[2], argv[3], argv[4]);
	usage();
}
