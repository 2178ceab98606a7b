/* test_userid.c: usernames for all 4096 UserIDs, the original's examples, and
 * every kind of malformed name. */
#include <errno.h>
#include <stdbool.h>

#include "check.h"
#include "common/userid.h"

static void known_names(void)
{
	static const struct {
		uint16_t uid;
		const char *name;
	} v[] = {
		{ 0, "aaa" }, { 1, "baa" }, { 15, "paa" }, { 16, "aba" }, { 255, "ppa" },
		{ 256, "aab" }, { 0x123, "dcb" }, { 4095, "ppp" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char name[USERID_NAME_LEN + 1];
		uint16_t uid = 9999;
		userid_to_name(v[i].uid, name);
		CHECK(strcmp(name, v[i].name) == 0);
		CHECK(userid_from_name(v[i].name, 3, &uid) == 0 && uid == v[i].uid);
	}
}

static void round_trips_all_4096(void)
{
	static bool seen[USERID_COUNT];
	for (unsigned uid = 0; uid < USERID_COUNT; uid++) {
		char name[USERID_NAME_LEN + 1];
		uint16_t back = 0xffff;
		userid_to_name((uint16_t)uid, name);
		CHECK(strlen(name) == USERID_NAME_LEN && strspn(name, "abcdefghijklmnop") == 3);
		CHECK(userid_from_name(name, 3, &back) == 0 && back == uid);
		if (back < USERID_COUNT) {
			CHECK(!seen[back]);
			seen[back] = true;
		}
		for (int i = 0; i < 3; i++)
			name[i] = (char)(name[i] - 'a' + 'A');
		back = 0xffff;
		CHECK(userid_from_name(name, 3, &back) == 0 && back == uid);
	}
}

static void rejects_malformed(void)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		{ "", 0 }, { "a", 1 }, { "aa", 2 }, { "aaaa", 4 }, { "aaa", 2 }, { "qaa", 3 },
		{ "aaq", 3 }, { "aQa", 3 }, { "zzz", 3 }, { "`aa", 3 }, { "@aa", 3 }, { "aa1", 3 },
		{ "a a", 3 }, { "a\0a", 3 }, { "\xe1" "aa", 3 }, { "aa\xc1", 3 }, { "Paq", 3 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint16_t uid = 0x7777;
		CHECK(userid_from_name(bad[i].s, bad[i].len, &uid) == -EINVAL);
		CHECK(uid == 0x7777);
	}
	/* Only a-p and A-P are accepted, out of all 256 byte values in each position. */
	for (int pos = 0; pos < 3; pos++)
		for (unsigned c = 0; c < 256; c++) {
			char s[3] = { 'a', 'a', 'a' };
			uint16_t uid;
			s[pos] = (char)c;
			bool ok = (c >= 'a' && c <= 'p') || (c >= 'A' && c <= 'P');
			CHECK((userid_from_name(s, 3, &uid) == 0) == ok);
		}
}

int main(void)
{
	check_init();
	RUN(known_names);
	RUN(round_trips_all_4096);
	RUN(rejects_malformed);
	return check_finish();
}
