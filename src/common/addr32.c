/* addr32.c: Addr32 folding, packing, classification and decoding
 * (docs/PROTOCOL.md section 2). Addresses are not secrets, so plain table
 * lookups and early exits are fine here. */
#include "common/addr32.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>

static const char addr32_alphabet[32] = "0123456789abcdefghjkmnpqrstuwxyz";

/* Bit layout (MSB-first over the 80 bits): bit 0 is the shield flag, bits 1-4
 * the length (or the 16th character's low 4 bits), then c0..c14 at 5 bits. */
#define ADDR32_CHAR_BIT0 5
#define ADDR32_CHAR_BITS 5
#define ADDR32_SHIELD_FLAG 0x80
#define ADDR32_NIBBLE_SHIFT 3

const uint8_t addr32_system[ADDR32_BYTES] = { 0x36, 0x7d, 0x9d, 0x3a, 0x80, 0, 0, 0, 0, 0 };

/* Bytes 2-9 of the encoding of "administrator": a shield address ending in
 * them is forbidden, as in the original. */
static const uint8_t addr32_forbidden_shield_tail[ADDR32_BYTES - 2] = {
	0x40, 0xd4, 0x39, 0xd6, 0x15, 0xa0, 0x60, 0x00,
};

/* Section 2.5; tests/unit/test_addr32.c checks each against addr32_encode. */
static const uint8_t addr32_reserved[][ADDR32_BYTES] = {
	{ 0x2a, 0x97, 0xbc, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* abuse */
	{ 0x2a, 0x9b, 0x40, 0xd4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* admin */
	{ 0x6a, 0x9b, 0x40, 0xd4, 0x39, 0xd6, 0x15, 0xa0, 0x60, 0x00 }, /* administrator */
	{ 0x24, 0x5c, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* help */
	{ 0x54, 0x41, 0x9d, 0x51, 0x59, 0xd3, 0xb0, 0x00, 0x00, 0x00 }, /* hostmaster */
	{ 0x20, 0x6a, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* info */
	{ 0x55, 0x81, 0x9d, 0x51, 0x59, 0xd3, 0xb0, 0x00, 0x00, 0x00 }, /* postmaster */
	{ 0x46, 0x5c, 0xcd, 0xe0, 0x3a, 0xf0, 0x00, 0x00, 0x00, 0x00 }, /* security */
	{ 0x3e, 0x77, 0x6b, 0x03, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* support */
	{ 0x4f, 0x1c, 0xba, 0x2b, 0x3a, 0x76, 0x00, 0x00, 0x00, 0x00 }, /* webmaster */
};

/* Value 0-31 of a significant byte, -1 for a byte that is dropped. */
static int addr32_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if (c < 'a' || c > 'z')
		return -1;
	switch (c) {
	case 'o':
		return 0;
	case 'i':
	case 'l':
		return 1;
	case 'v':
		c = 'w';
		break;
	default:
		break;
	}
	const char *p = memchr(addr32_alphabet, c, sizeof(addr32_alphabet));
	return p ? (int)(p - addr32_alphabet) : -1;
}

static void put_bits(uint8_t a[ADDR32_BYTES], unsigned pos, unsigned v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, pos++)
		if (v & (1u << (n - 1 - i)))
			a[pos / 8] |= (uint8_t)(0x80u >> (pos % 8));
}

static unsigned get_bits(const uint8_t a[ADDR32_BYTES], unsigned pos, unsigned n)
{
	unsigned v = 0;
	for (unsigned i = 0; i < n; i++, pos++)
		v = (v << 1) | ((a[pos / 8] >> (7 - pos % 8)) & 1u);
	return v;
}

/* True if any bit from pos to the end of the 80 bits is set. */
static bool any_bits_from(const uint8_t a[ADDR32_BYTES], unsigned pos)
{
	for (; pos < ADDR32_BYTES * 8; pos++)
		if ((a[pos / 8] >> (7 - pos % 8)) & 1u)
			return true;
	return false;
}

static unsigned char_bit(unsigned i) { return ADDR32_CHAR_BIT0 + ADDR32_CHAR_BITS * i; }

int addr32_encode(const char *s, size_t len, uint8_t out[ADDR32_BYTES])
{
	unsigned vals[ADDR32_SHIELD_CHARS];
	size_t count = 0;

	for (size_t i = 0; i < len; i++) {
		int v = addr32_value((unsigned char)s[i]);
		if (v < 0)
			continue;
		if (count < ADDR32_SHIELD_CHARS)
			vals[count] = (unsigned)v;
		if (count < (size_t)INT_MAX)
			count++;
	}

	unsigned n = count < ADDR32_SHIELD_CHARS ? (unsigned)count : ADDR32_SHIELD_CHARS;
	memset(out, 0, ADDR32_BYTES);
	if (n == ADDR32_SHIELD_CHARS)
		out[0] = (uint8_t)(ADDR32_SHIELD_FLAG | ((vals[15] & 15u) << ADDR32_NIBBLE_SHIFT));
	else
		out[0] = (uint8_t)(n << ADDR32_NIBBLE_SHIFT);
	for (unsigned i = 0; i < n && i < ADDR32_MAX_NORMAL; i++)
		put_bits(out, char_bit(i), vals[i], ADDR32_CHAR_BITS);
	return (int)count;
}

/* 0 for a well-formed value, -EINVAL for a malformed one, -EPERM for a
 * well-formed but forbidden one. */
static int addr32_check(const uint8_t a[ADDR32_BYTES])
{
	if (a[0] & ADDR32_SHIELD_FLAG) {
		if (memcmp(a + 2, addr32_forbidden_shield_tail, sizeof(addr32_forbidden_shield_tail)) == 0)
			return -EPERM;
		return 0;
	}
	unsigned n = (a[0] >> ADDR32_NIBBLE_SHIFT) & 15u;
	if (n == 0)
		return -EINVAL;
	if (any_bits_from(a, char_bit(n)))
		return -EINVAL;
	if (memcmp(a, addr32_system, ADDR32_BYTES) == 0)
		return -EPERM;
	return 0;
}

enum addr32_kind addr32_classify(const uint8_t a[ADDR32_BYTES])
{
	if (addr32_check(a) != 0)
		return ADDR32_INVALID;
	return (a[0] & ADDR32_SHIELD_FLAG) ? ADDR32_SHIELD : ADDR32_NORMAL;
}

enum addr32_kind addr32_parse(const char *s, size_t len, uint8_t out[ADDR32_BYTES])
{
	int count = addr32_encode(s, len, out);
	if (count < 1 || count > ADDR32_SHIELD_CHARS)
		return ADDR32_INVALID;
	return addr32_classify(out);
}

int addr32_decode(const uint8_t a[ADDR32_BYTES], char out[ADDR32_TEXT_MAX])
{
	int r = addr32_check(a);
	if (r < 0)
		return r;
	bool shield = a[0] & ADDR32_SHIELD_FLAG;
	unsigned nibble = (a[0] >> ADDR32_NIBBLE_SHIFT) & 15u;
	unsigned n = shield ? ADDR32_MAX_NORMAL : nibble;
	for (unsigned i = 0; i < n; i++)
		out[i] = addr32_alphabet[get_bits(a, char_bit(i), ADDR32_CHAR_BITS)];
	if (shield)
		out[n++] = addr32_alphabet[16 + nibble];
	out[n] = '\0';
	return (int)n;
}

bool addr32_is_reserved(const uint8_t a[ADDR32_BYTES])
{
	for (size_t i = 0; i < ARRAY_SIZE(addr32_reserved); i++)
		if (memcmp(a, addr32_reserved[i], ADDR32_BYTES) == 0)
			return true;
	return false;
}

void addr32_shield_random(uint8_t out[ADDR32_BYTES])
{
	do {
		randombytes_buf(out, ADDR32_BYTES);
		out[0] |= ADDR32_SHIELD_FLAG;
	} while (addr32_classify(out) != ADDR32_SHIELD);
}
