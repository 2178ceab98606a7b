/* test_addrhash.c: address hashes against golden vectors (confirmed with
 * python3-argon2 and a Python SipHash, tests/cross/test_addr_cross.py), the
 * fold, every rejected parameter, and the 8-byte parameter block. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "common/addrhash.h"

static const char *salt_hex = "101112131415161718191a1b1c1d1e1f";
static const char *key_hex = "000102030405060708090a0b0c0d0e0f";

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	if (check_unhex(hex, out, n) != (int)n)
		abort();
}

static const struct addrhash_params small = { .opslimit = 1, .memlimit_kib = 8192 };

static void normal_golden(void)
{
	static const struct {
		const char *addr;
		uint8_t ops;
		uint32_t mem;
		const char *hash;
	} v[] = {
		{ "2a97bcb8000000000000", 1, 8192, "6acb46199d7f9f07" },  /* abuse */
		{ "2a9b40d4000000000000", 1, 8192, "85681668d3eadfe0" },  /* admin */
		{ "55819d5159d3b0000000", 1, 8192, "4fc03a775fd4f1c6" },  /* postmaster */
		{ "2a97bcb8000000000000", 3, 32768, "d7bc3e635b9014b3" }, /* defaults */
		{ "2a9b40d4000000000000", 3, 32768, "31b19b60da27a588" },
		{ "55819d5159d3b0000000", 3, 32768, "90114e2cb5290d4b" },
	};
	uint8_t salt[ADDRHASH_SALT_BYTES];
	unhex(salt_hex, salt, sizeof(salt));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t a[ADDR32_BYTES], want[ADDRHASH_BYTES], h[ADDRHASH_BYTES];
		unhex(v[i].addr, a, sizeof(a));
		unhex(v[i].hash, want, sizeof(want));
		struct addrhash_params p = { .opslimit = v[i].ops, .memlimit_kib = v[i].mem };
		CHECK(addrhash_normal(h, a, salt, &p) == 0);
		CHECK_MEM(h, want, ADDRHASH_BYTES);
	}
	struct addrhash_params d = addrhash_params_default();
	CHECK(d.opslimit == 3 && d.memlimit_kib == 32768 && addrhash_params_check(&d) == 0);
}

static void normal_is_folded_argon2id(void)
{
	uint8_t salt[ADDRHASH_SALT_BYTES], a[ADDR32_BYTES], full[16], h[ADDRHASH_BYTES];
	unhex(salt_hex, salt, sizeof(salt));
	CHECK(addr32_parse("folding", 7, a) == ADDR32_NORMAL);
	CHECK(crypto_pwhash(full, sizeof(full), (const char *)a, sizeof(a), salt, 1, 8192u * 1024,
	                    crypto_pwhash_ALG_ARGON2ID13) == 0);
	CHECK(addrhash_normal(h, a, salt, &small) == 0);
	for (int i = 0; i < ADDRHASH_BYTES; i++)
		CHECK(h[i] == (full[i] ^ full[i + 8]));
	CHECK(memcmp(h, full, ADDRHASH_BYTES) != 0);
}

static void normal_depends_on_every_input(void)
{
	uint8_t salt[ADDRHASH_SALT_BYTES], a[ADDR32_BYTES], b[ADDR32_BYTES];
	uint8_t h0[ADDRHASH_BYTES], h[ADDRHASH_BYTES];
	unhex(salt_hex, salt, sizeof(salt));
	CHECK(addr32_parse("alice", 5, a) == ADDR32_NORMAL);
	CHECK(addr32_parse("ALICE", 5, b) == ADDR32_NORMAL);
	CHECK(addrhash_normal(h0, a, salt, &small) == 0);
	CHECK(addrhash_normal(h, b, salt, &small) == 0 && memcmp(h, h0, sizeof(h)) == 0);
	CHECK(addr32_parse("alicf", 5, b) == ADDR32_NORMAL);
	CHECK(addrhash_normal(h, b, salt, &small) == 0 && memcmp(h, h0, sizeof(h)) != 0);
	salt[15] ^= 1;
	CHECK(addrhash_normal(h, a, salt, &small) == 0 && memcmp(h, h0, sizeof(h)) != 0);
	salt[15] ^= 1;
	struct addrhash_params p = { .opslimit = 2, .memlimit_kib = 8192 };
	CHECK(addrhash_normal(h, a, salt, &p) == 0 && memcmp(h, h0, sizeof(h)) != 0);
	p = (struct addrhash_params){ .opslimit = 1, .memlimit_kib = 9216 };
	CHECK(addrhash_normal(h, a, salt, &p) == 0 && memcmp(h, h0, sizeof(h)) != 0);
}

static void normal_rejects_bad_input(void)
{
	uint8_t salt[ADDRHASH_SALT_BYTES] = { 0 }, a[ADDR32_BYTES], h[ADDRHASH_BYTES];
	static const uint8_t untouched[ADDRHASH_BYTES] = { 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee };
	/* Not normal addresses: shield, "system", empty, bits past the length. */
	static const char *bad_addr[] = { "80000000000000000000", "367d9d3a800000000000",
		                              "00000000000000000000", "08000000000000000001" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_addr); i++) {
		unhex(bad_addr[i], a, sizeof(a));
		memcpy(h, untouched, sizeof(h));
		CHECK(addrhash_normal(h, a, salt, &small) == -EINVAL);
		CHECK_MEM(h, untouched, ADDRHASH_BYTES);
	}
	static const struct addrhash_params bad[] = {
		{ 0, 8192 }, { 11, 8192 }, { 255, 8192 }, { 1, 0 }, { 1, 7168 }, { 1, 8191 },
		{ 1, 8193 }, { 1, 9000 }, { 1, 1048576 + 1024 }, { 1, UINT32_MAX },
	};
	CHECK(addr32_parse("alice", 5, a) == ADDR32_NORMAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(h, untouched, sizeof(h));
		CHECK(addrhash_normal(h, a, salt, &bad[i]) == -EINVAL);
		CHECK(addrhash_params_check(&bad[i]) == -EINVAL);
		CHECK_MEM(h, untouched, ADDRHASH_BYTES);
	}
}

/* With the address space capped below the 1 GiB the hash asks for, Argon2
 * cannot allocate and the hash must fail cleanly, not crash. */
static void normal_fails_without_memory(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 256u << 20, 256u << 20 };
		uint8_t salt[ADDRHASH_SALT_BYTES] = { 0 }, a[ADDR32_BYTES], h[ADDRHASH_BYTES];
		static const uint8_t untouched[ADDRHASH_BYTES] = { 0 };
		memset(h, 0, sizeof(h));
		struct addrhash_params big = { .opslimit = 1, .memlimit_kib = ADDRHASH_MEMLIMIT_KIB_MAX };
		if (setrlimit(RLIMIT_AS, &rl) != 0 || addr32_parse("alice", 5, a) != ADDR32_NORMAL)
			_exit(2);
		int r = addrhash_normal(h, a, salt, &big);
		_exit(r == -ENOMEM && memcmp(h, untouched, sizeof(h)) == 0 ? 0 : 1);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void shield_golden(void)
{
	static const struct {
		const char *addr, *hash;
	} v[] = {
		{ "f8022190a63a12a5b1ae", "9ee25241996ab6f1" },
		{ "80000000000000000000", "e0f18191d74ae6af" },
		{ "ffffffffffffffffffff", "2d257c52934c282d" },
	};
	uint8_t key[ADDRHASH_SHIELD_KEY_BYTES];
	unhex(key_hex, key, sizeof(key));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t a[ADDR32_BYTES], want[ADDRHASH_BYTES], h[ADDRHASH_BYTES];
		unhex(v[i].addr, a, sizeof(a));
		unhex(v[i].hash, want, sizeof(want));
		addrhash_shield(h, a, key);
		CHECK_MEM(h, want, ADDRHASH_BYTES);
		key[0] ^= 1; /* wrong key, different hash */
		addrhash_shield(h, a, key);
		CHECK(memcmp(h, want, ADDRHASH_BYTES) != 0);
		key[0] ^= 1;
	}
}

static void params_bounds(void)
{
	for (unsigned ops = 0; ops < 256; ops++) {
		struct addrhash_params p = { .opslimit = (uint8_t)ops, .memlimit_kib = 32768 };
		CHECK((addrhash_params_check(&p) == 0) == (ops >= 1 && ops <= 10));
	}
	static const struct {
		uint32_t kib;
		bool ok;
	} m[] = {
		{ 0, false }, { 1024, false }, { 7168, false }, { 8191, false }, { 8192, true },
		{ 8704, false }, { 9216, true }, { 65536, true }, { 1047552, true },
		{ 1048576, true }, { 1048577, false }, { 1049600, false }, { UINT32_MAX, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		struct addrhash_params p = { .opslimit = 3, .memlimit_kib = m[i].kib };
		CHECK((addrhash_params_check(&p) == 0) == m[i].ok);
	}
}

static void params_block_golden(void)
{
	static const struct {
		uint8_t ops;
		uint32_t kib;
		const char *hex;
	} v[] = {
		{ 3, 32768, "0103000000800000" },
		{ 1, 8192, "0101000000200000" },
		{ 10, 1048576, "010a000000001000" },
		{ 3, 65536, "0103000000000100" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct addrhash_params p = { .opslimit = v[i].ops, .memlimit_kib = v[i].kib }, q = { 0, 0 };
		uint8_t out[ADDRHASH_PARAMS_BYTES], want[ADDRHASH_PARAMS_BYTES];
		unhex(v[i].hex, want, sizeof(want));
		CHECK(addrhash_params_encode(&p, out) == 0);
		CHECK_MEM(out, want, sizeof(want));
		CHECK(addrhash_params_decode(want, sizeof(want), &q) == 0);
		CHECK(q.opslimit == v[i].ops && q.memlimit_kib == v[i].kib);
	}
	struct addrhash_params bad = { .opslimit = 0, .memlimit_kib = 8192 };
	uint8_t out[ADDRHASH_PARAMS_BYTES] = { 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55 };
	CHECK(addrhash_params_encode(&bad, out) == -EINVAL);
	CHECK(out[0] == 0x55 && out[7] == 0x55);
}

static void params_block_rejects(void)
{
	uint8_t good[ADDRHASH_PARAMS_BYTES + 1], b[ADDRHASH_PARAMS_BYTES + 1];
	unhex("010300000080000000", good, sizeof(good)); /* one spare byte for the trailing case */
	struct addrhash_params q = { 0x77, 0x77 };
	CHECK(addrhash_params_decode(good, 0, &q) == -EBADMSG);
	CHECK(addrhash_params_decode(good, 7, &q) == -EBADMSG);
	CHECK(addrhash_params_decode(good, 9, &q) == -EBADMSG); /* trailing byte */
	memcpy(b, good, sizeof(b));
	b[0] = 0;
	CHECK(addrhash_params_decode(b, 8, &q) == -EBADMSG); /* unknown version */
	b[0] = 2;
	CHECK(addrhash_params_decode(b, 8, &q) == -EBADMSG);
	for (int i = 2; i < 4; i++) { /* reserved bytes */
		memcpy(b, good, sizeof(b));
		b[i] = 1;
		CHECK(addrhash_params_decode(b, 8, &q) == -EBADMSG);
	}
	static const char *out_of_range[] = {
		"0100000000800000", /* ops 0 */
		"010b000000800000", /* ops 11 */
		"01030000001c0000", /* 7 MiB */
		"0103000001200000", /* 8 MiB + 1 KiB */
		"0103000000041000", /* 1 GiB + 1 MiB */
		"01030000ffffffff",
	};
	for (size_t i = 0; i < ARRAY_SIZE(out_of_range); i++) {
		unhex(out_of_range[i], b, ADDRHASH_PARAMS_BYTES);
		CHECK(addrhash_params_decode(b, 8, &q) == -EINVAL);
	}
	CHECK(q.opslimit == 0x77 && q.memlimit_kib == 0x77);
}

/* addrhash_normal_any hashes what addrhash_normal refuses (the server needs
 * the hash of "system"), and agrees with it on every valid address. */
static void normal_any_covers_forbidden_values(void)
{
	uint8_t salt[ADDRHASH_SALT_BYTES] = { 7 }, a[ADDR32_BYTES], h1[ADDRHASH_BYTES],
	        h2[ADDRHASH_BYTES];
	struct addrhash_params p = { .opslimit = 1, .memlimit_kib = 8192 };
	CHECK(addrhash_normal(h1, addr32_system, salt, &p) == -EINVAL);
	CHECK(addrhash_normal_any(h1, addr32_system, salt, &p) == 0);
	CHECK(addr32_parse("alice", 5, a) == ADDR32_NORMAL);
	CHECK(addrhash_normal(h1, a, salt, &p) == 0);
	CHECK(addrhash_normal_any(h2, a, salt, &p) == 0);
	CHECK_MEM(h1, h2, ADDRHASH_BYTES);
	struct addrhash_params bad = { .opslimit = 0, .memlimit_kib = 8192 };
	CHECK(addrhash_normal_any(h2, a, salt, &bad) == -EINVAL);
}

int main(void)
{
	check_init();
	RUN(normal_any_covers_forbidden_values);
	RUN(normal_golden);
	RUN(normal_is_folded_argon2id);
	RUN(normal_depends_on_every_input);
	RUN(normal_rejects_bad_input);
	RUN(normal_fails_without_memory);
	RUN(shield_golden);
	RUN(params_bounds);
	RUN(params_block_golden);
	RUN(params_block_rejects);
	return check_finish();
}
