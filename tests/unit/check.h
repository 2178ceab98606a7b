/* check.h: the unit-test harness. Each TEST prints "PASS name" or "FAIL name";
 * tests/run-tests.sh counts those lines across every tier. A binary that dies
 * before printing its summary counts as a failure. */
#ifndef ALLEARS_CHECK_H
#define ALLEARS_CHECK_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_case_failures;
static int check_case_skipped;
static int check_failed_cases;
static int check_passed_cases;

#define CHECK(cond)                                                                        \
	do {                                                                                   \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
			check_case_failures++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_MEM(a, b, n)                                                                 \
	do {                                                                                   \
		if (memcmp((a), (b), (n)) != 0) {                                                  \
			fprintf(stderr, "  %s:%d: CHECK_MEM failed: %s != %s\n", __FILE__, __LINE__,  \
			        #a, #b);                                                               \
			check_case_failures++;                                                         \
		}                                                                                  \
	} while (0)

/* Ends a test case that cannot run here: reported as SKIP, never as PASS. */
#define SKIP(reason)                                                                       \
	do {                                                                                   \
		fprintf(stderr, "  skipped: %s\n", (reason));                                      \
		check_case_skipped = 1;                                                            \
		return;                                                                            \
	} while (0)

#define RUN(fn)                                                                            \
	do {                                                                                   \
		check_case_failures = 0;                                                           \
		check_case_skipped = 0;                                                            \
		fn();                                                                              \
		if (check_case_skipped && !check_case_failures) {                                  \
			printf("SKIP %s\n", #fn);                                                      \
		} else if (check_case_failures) {                                                         \
			printf("FAIL %s\n", #fn);                                                      \
			check_failed_cases++;                                                          \
		} else {                                                                           \
			printf("PASS %s\n", #fn);                                                      \
			check_passed_cases++;                                                          \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

static inline void check_init(void)
{
	if (sodium_init() < 0) {
		printf("FAIL sodium_init\n");
		exit(1);
	}
}

static inline int check_finish(void)
{
	printf("# %d passed, %d failed\n", check_passed_cases, check_failed_cases);
	return check_failed_cases ? 1 : 0;
}

/* Parses hex into out; returns the byte count, or -1 on bad input. */
static inline int check_unhex(const char *hex, unsigned char *out, size_t max)
{
	size_t bin_len;
	if (sodium_hex2bin(out, max, hex, strlen(hex), NULL, &bin_len, NULL) != 0)
		return -1;
	return (int)bin_len;
}

#endif
