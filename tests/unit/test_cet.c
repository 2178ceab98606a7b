/* test_cet.c: CET validation rules (each accepted and rejected), the golden
 * renderings in tests/data/cet/, terminal-injection attempts, limits, and the
 * text/plain importer (docs/PROTOCOL.md section 6). */
#include "check.h"
#include "common/cet.h"
#include "common/utf8.h"

#include <dirent.h>
#include <errno.h>

#define U8(s) ((const uint8_t *)(s))

static int val(const char *s, size_t n) { return cet_validate(U8(s), n, NULL); }
#define VAL(lit) val((lit), sizeof(lit) - 1)

/* Renders and returns a NUL-terminated copy (caller frees), or NULL on error. */
static char *render(const void *p, size_t n, bool ansi, int *ret_rc)
{
	struct wr w = WR_INIT;
	struct cet_render_opts o = { .ansi = ansi };
	int rc = cet_render_text(&w, p, n, &o);
	if (ret_rc)
		*ret_rc = rc;
	if (rc < 0) {
		wr_free(&w);
		return NULL;
	}
	char *s = xmalloc(w.len + 1);
	if (w.len)
		memcpy(s, w.p, w.len);
	s[w.len] = 0;
	wr_free(&w);
	return s;
}
#define RENDER(lit, ansi) render((lit), sizeof(lit) - 1, (ansi), NULL)

/* The renderer's promise: valid UTF-8 with no control character but LF, no
 * C1 control, no bidi control, and ESC only as "ESC [ digits/; m". */
static bool terminal_safe(const uint8_t *s, size_t n, bool ansi)
{
	if (!utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_seq_len(s + i, n - i, &cp);
		if (cp == 0x1B) {
			if (!ansi || i + 2 >= n || s[i + 1] != '[')
				return false;
			size_t j = i + 2;
			while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';'))
				j++;
			if (j >= n || s[j] != 'm')
				return false;
			i = j + 1;
			continue;
		}
		if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F))
			return false;
		if (cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return false;
		i += k;
	}
	return true;
}

static void char_set_values(void)
{
	CHECK(CET_LINK_HTTP == 0x01 && CET_LINK_HTTPS == 0x02);
	CHECK(CET_FILE_HTTP == 0x03 && CET_FILE_HTTPS == 0x04);
	CHECK(CET_LF == 0x0A && CET_HR == 0x0B);
	CHECK(CET_BIG == 0x11 && CET_SMALL == 0x12 && CET_SUB == 0x13 && CET_SUP == 0x14);
	CHECK(CET_MONO == 0x15 && CET_BOLD == 0x16 && CET_ITALIC == 0x17);
	CHECK(CET_UNDERLINE == 0x18 && CET_STRIKE == 0x19);
	CHECK(CET_TABLE == 0x1A && CET_ROW == 0x1B && CET_CELL == 0x1C);
	CHECK(CET_OL == 0x1D && CET_UL == 0x1E && CET_ITEM == 0x1F && CET_SEP == 0x7F);
}

/* ---- golden files ---- */

static bool read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	struct wr w = WR_INIT;
	uint8_t buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		wr_bytes(&w, buf, n);
	fclose(f);
	*ret = w.p ? w.p : xmalloc(1);
	*ret_len = w.len;
	return true;
}

static void golden_files(void)
{
	/* __FILE__ is tests/unit/test_cet.c; the data sits in tests/data/cet. */
	char dir[1024];
	const char *slash = strrchr(__FILE__, '/');
	int plen = slash ? (int)(slash - __FILE__) : 0;
	snprintf(dir, sizeof(dir), "%.*s%s../data/cet", plen, __FILE__, slash ? "/" : "");
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (!d)
		return;
	int cases = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		if (nl < 4 || strcmp(e->d_name + nl - 3, ".in") != 0)
			continue;
		char in_path[2048], exp_path[2048];
		snprintf(in_path, sizeof(in_path), "%s/%s", dir, e->d_name);
		snprintf(exp_path, sizeof(exp_path), "%s/%.*s.exp", dir, (int)(nl - 3), e->d_name);
		uint8_t *in = NULL, *exp = NULL;
		size_t in_len = 0, exp_len = 0;
		bool ok = read_file(in_path, &in, &in_len) && read_file(exp_path, &exp, &exp_len);
		if (!ok) {
			fprintf(stderr, "  golden %s: cannot read .in/.exp\n", e->d_name);
			check_case_failures++;
			free(in);
			free(exp);
			continue;
		}
		bool ansi = strncmp(e->d_name, "ansi_", 5) == 0;
		struct wr w = WR_INIT;
		struct cet_render_opts o = { .ansi = ansi };
		int rc = cet_render_text(&w, in, in_len, &o);
		if (rc != 0 || w.len != exp_len || (exp_len && memcmp(w.p, exp, exp_len) != 0)) {
			fprintf(stderr, "  golden %s: rc=%d, got %zu bytes:\n%.*s\n  expected %zu bytes\n",
			        e->d_name, rc, w.len, (int)w.len, w.p ? (char *)w.p : "", exp_len);
			check_case_failures++;
		}
		if (!terminal_safe(w.p ? w.p : U8(""), w.len, ansi)) {
			fprintf(stderr, "  golden %s: output not terminal-safe\n", e->d_name);
			check_case_failures++;
		}
		wr_free(&w);
		free(in);
		free(exp);
		cases++;
	}
	closedir(d);
	CHECK(cases >= 40); /* the directory really was found and walked */
}

/* ---- validation ---- */

static void empty_input(void)
{
	struct cet_stats st = { 99, 99, 99 };
	CHECK(cet_validate(U8(""), 0, &st) == 0);
	CHECK(st.links == 0 && st.media == 0 && st.alternatives == 1);
	int rc = -1;
	char *s = render("", 0, false, &rc);
	CHECK(rc == 0 && s && s[0] == 0);
	free(s);
	s = render("", 0, true, &rc);
	CHECK(rc == 0 && s && s[0] == 0);
	free(s);
	/* an empty struct wr has p == NULL: every function takes (NULL, 0) */
	struct wr w = WR_INIT;
	CHECK(cet_validate(NULL, 0, NULL) == 0);
	CHECK(cet_render_text(&w, NULL, 0, NULL) == 0 && w.len == 0);
	CHECK(cet_from_plain(&w, NULL, 0) == 0 && w.len == 0);
	wr_free(&w);
}

static void single_bytes_allowed_and_forbidden(void)
{
	for (int c = 0; c < 0x80; c++) {
		if ((c >= CET_LINK_HTTP && c <= CET_FILE_HTTPS) || (c >= CET_TABLE && c <= CET_ITEM) ||
		    c == CET_SEP)
			continue; /* structure characters have tests of their own */
		char s[3] = { 'a', (char)c, 'b' };
		bool allowed = c >= 0x20 || c == CET_LF || c == CET_HR || (c >= CET_BIG && c <= CET_STRIKE);
		int rc = val(s, 3);
		if (rc != (allowed ? 0 : -EBADMSG)) {
			fprintf(stderr, "  byte 0x%02x: rc %d\n", c, rc);
			check_case_failures++;
		}
	}
	/* the never-valid ones, by name */
	CHECK(VAL("\x00") == -EBADMSG);
	CHECK(VAL("\x05") == -EBADMSG && VAL("\x09") == -EBADMSG); /* tab */
	CHECK(VAL("\x0c") == -EBADMSG && VAL("\x0d") == -EBADMSG); /* FF, CR */
	CHECK(VAL("\x10") == -EBADMSG);
}

static void c1_controls_rejected(void)
{
	for (unsigned cp = 0x80; cp <= 0x9F; cp++) {
		char s[4] = { 'x', (char)(0xC2), (char)(0x80 | (cp & 0x3F)), 'y' };
		CHECK(val(s, 4) == -EBADMSG);
	}
	CHECK(VAL("x\xC2\xA0y") == 0);         /* U+00A0, the first non-control */
	CHECK(VAL("\xC2\x9B" "31m") == -EBADMSG); /* CSI as U+009B */
	CHECK(VAL("\x9B" "31m") == -EBADMSG);     /* raw 8-bit CSI: not UTF-8 */
}

static void invalid_utf8_rejected(void)
{
	CHECK(VAL("ok \xC3\xA9") == 0);
	CHECK(VAL("ok \xC3") == -EBADMSG);        /* truncated at the end */
	CHECK(VAL("\xC0\xAF") == -EBADMSG);       /* overlong */
	CHECK(VAL("\xED\xA0\x80") == -EBADMSG);   /* surrogate */
	CHECK(VAL("\xF4\x90\x80\x80") == -EBADMSG);
	CHECK(VAL("\xFF") == -EBADMSG);
}

/* Wraps url in a span of kind c and validates "x<c>url<c>y". */
static int link_rc(uint8_t c, const char *url)
{
	struct wr w = WR_INIT;
	wr_u8(&w, 'x');
	wr_u8(&w, c);
	wr_bytes(&w, url, strlen(url));
	wr_u8(&w, c);
	wr_u8(&w, 'y');
	int rc = cet_validate(w.p, w.len, NULL);
	wr_free(&w);
	return rc;
}

static void link_spans(void)
{
	for (uint8_t c = CET_LINK_HTTP; c <= CET_FILE_HTTPS; c++) {
		CHECK(link_rc(c, "example.com/path?q=1#f") == 0);
		CHECK(link_rc(c, "") == -EBADMSG);                   /* empty */
		CHECK(link_rc(c, "example.com/a b") == -EBADMSG);    /* space */
		CHECK(link_rc(c, "javascript:alert(1)") == -EBADMSG);
	}
	CHECK(VAL("\x02" "example.com") == -EBADMSG);            /* never closed */
	CHECK(VAL("\x02" "example.com\x01") == -EBADMSG);        /* closed by another kind */
	CHECK(VAL("\x02" "example.com\x02\x02") == -EBADMSG);    /* a second span left open */
	CHECK(VAL("\x02" "exa\x16mple.com\x02") == -EBADMSG);    /* a toggle inside */
	CHECK(VAL("\x02" "exa\nmple.com\x02") == -EBADMSG);      /* a line break inside */
	CHECK(VAL("\x02" "exa\x1bmple.com\x02") == -EBADMSG);    /* ESC inside */
	CHECK(VAL("\x02" "ex\xC3\xA4mple.com\x02") == -EBADMSG); /* non-ASCII must be encoded */
	CHECK(VAL("\x02" "xn--exmple-cua.com\x02") == 0);
	/* links are only allowed where text is */
	CHECK(VAL("\x1a\x02" "example.com\x02\x1a") == -EBADMSG);
	CHECK(VAL("\x1a\x1b\x1c\x02" "example.com\x02\x1c\x1b\x1a") == 0);
}

static void url_rules(void)
{
	static const char *good[] = {
		"a", "example.com", "example.com/", "example.com:8080", "example.com:1/x",
		"example.com:65535", "sub_domain.example.com", "[::1]", "[2001:db8::1]:443/p",
		"example.com?x", "example.com#frag", "e.com/%41%2f", "e.com/a-._~:/?#[]@!$&'()*+,;=",
		"1.2.3.4/x",
	};
	static const char *bad[] = {
		"", "/path", "//example.com", "http://example.com", "https:x", "javascript:alert(1)",
		"data:text/html,x", "mailto:a@b", "user@example.com", "user:pw@example.com/",
		"example.com:", "example.com:0", "example.com:65536", "example.com:123456",
		"example.com:80x", "-example.com", ".example.com", "exa%41mple.com", "e.com/%4",
		"e.com/%zz", "e.com/a\"b", "e.com/<x>", "e.com/a\\b", "e.com/{x}", "e.com/a|b",
		"e.com/a^b", "e.com/a`b", "[]", "[::1", "[g::1]", "[1.2]", "[::1]x", "[::1]:",
		"ex ample.com", "a@1", "a!8080", "a;1/x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (!cet_url_valid(U8(good[i]), strlen(good[i]))) {
			fprintf(stderr, "  rejected good url %s\n", good[i]);
			check_case_failures++;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cet_url_valid(U8(bad[i]), strlen(bad[i]))) {
			fprintf(stderr, "  accepted bad url %s\n", bad[i]);
			check_case_failures++;
		}
	}
	/* host length: CET_HOST_MAX characters pass, one more fails */
	char host[CET_HOST_MAX + 2];
	memset(host, 'h', sizeof(host));
	CHECK(cet_url_valid(U8(host), CET_HOST_MAX));
	CHECK(!cet_url_valid(U8(host), CET_HOST_MAX + 1));
}

static void url_length_limit(void)
{
	/* "e.com/" then a path up to exactly CET_URL_MAX bytes */
	char *u = xmalloc(CET_URL_MAX + 2);
	memcpy(u, "e.com/", 6);
	memset(u + 6, 'p', CET_URL_MAX + 2 - 6);
	u[CET_URL_MAX] = 0;
	CHECK(link_rc(CET_LINK_HTTPS, u) == 0);
	CHECK(cet_url_valid(U8(u), CET_URL_MAX));
	u[CET_URL_MAX] = 'p';
	u[CET_URL_MAX + 1] = 0;
	CHECK(link_rc(CET_LINK_HTTPS, u) == -EBADMSG);
	CHECK(!cet_url_valid(U8(u), CET_URL_MAX + 1));
	free(u);
}

static void layout_containment(void)
{
	/* accepted structures */
	CHECK(VAL("\x1a\x1b\x1c" "a\x1c\x1b\x1a") == 0);
	CHECK(VAL("\x1d\x1f" "a\x1f\x1d") == 0);
	CHECK(VAL("\x1e\x1f" "a\x1e\x1f" "b\x1f\x1e\x1f\x1e") == 0);
	CHECK(VAL("\x1a\x1a") == 0);                     /* empty table */
	CHECK(VAL("\x1a\x1b\x1c\x1e\x1f" "x\x1f\x1e\x1c\x1b\x1a") == 0);
	/* row, cell, item outside their container */
	CHECK(VAL("\x1b") == -EBADMSG);
	CHECK(VAL("\x1c") == -EBADMSG);
	CHECK(VAL("\x1f") == -EBADMSG);
	CHECK(VAL("\x1a\x1c") == -EBADMSG);              /* cell directly in a table */
	CHECK(VAL("\x1a\x1b\x1b\x1c") == -EBADMSG);      /* cell after its row closed */
	CHECK(VAL("\x1a\x1b\x1c\x1f") == -EBADMSG);      /* item in a cell, no list */
	CHECK(VAL("\x1e\x1b") == -EBADMSG);              /* row in a list */
	/* containers only in flow context */
	CHECK(VAL("\x1a\x1a\x1a") == 0);
	CHECK(VAL("\x1a\x1b\x1a") == -EBADMSG);          /* table directly in a row */
	CHECK(VAL("\x1e\x1d") == -EBADMSG);              /* list directly in a list */
	/* closing out of order: the outer character opens a new (invalid) level */
	CHECK(VAL("\x1a\x1b\x1c" "a\x1a") == 0);         /* nested table in the cell: fine */
	CHECK(VAL("\x1a\x1b\x1c" "a\x1b") == -EBADMSG);  /* closing the row with the cell open */
	CHECK(VAL("\x1e\x1f" "a\x1e\x1e") == 0);        /* in an item, ul opens a nested list */
	CHECK(VAL("\x1e\x1f" "a\x1e" "b") == -EBADMSG); /* ...so closing it early leaves text in a list */
	/* text and inline markup never directly in table, row or list */
	CHECK(VAL("\x1a" "x\x1a") == -EBADMSG);
	CHECK(VAL("\x1a\x1b" "x\x1b\x1a") == -EBADMSG);
	CHECK(VAL("\x1e" "x\x1e") == -EBADMSG);
	CHECK(VAL("\x1e\n\x1e") == -EBADMSG);
	CHECK(VAL("\x1e\x0b\x1e") == -EBADMSG);
	CHECK(VAL("\x1e\x16\x1e") == -EBADMSG);
	CHECK(VAL("\x1e\xC3\xA9\x1e") == -EBADMSG);
	/* ESC is the row character: it is markup, never an escape */
	CHECK(VAL("\x1b[31mred") == -EBADMSG);
	CHECK(VAL("\x1a\x1b[31m\x1b\x1a") == -EBADMSG);
}

static void open_at_end_tolerated(void)
{
	CHECK(VAL("\x16\x17\x18" "open toggles") == 0);
	CHECK(VAL("\x1a\x1b\x1c" "open cell") == 0);
	CHECK(VAL("\x1e\x1f" "open item") == 0);
	/* a separator ends everything that is open */
	CHECK(VAL("\x1e\x1f" "a\x7f" "b") == 0);
	CHECK(VAL("\x1e\x7f\x1f") == -EBADMSG);          /* the list did not survive it */
	CHECK(VAL("\x1a\x7f" "text") == 0);
}

static void build_depth(struct wr *w, unsigned levels)
{
	/* ul, li, ul, li, ... */
	for (unsigned i = 0; i < levels; i++)
		wr_u8(w, i % 2 ? CET_ITEM : CET_UL);
}

static void depth_limit(void)
{
	struct wr w = WR_INIT;
	build_depth(&w, CET_DEPTH_MAX);
	wr_bytes(&w, "deep", 4);
	CHECK(cet_validate(w.p, w.len, NULL) == 0);
	struct wr out = WR_INIT;
	CHECK(cet_render_text(&out, w.p, w.len, NULL) == 0);
	/* 16 nested items: item k has its marker after 2k spaces; the text after the last */
	struct wr exp = WR_INIT;
	for (int k = 1; k <= 16; k++) {
		for (int sp = 0; sp < 2 * k; sp++)
			wr_u8(&exp, ' ');
		wr_bytes(&exp, k < 16 ? "-\n" : "- deep\n", k < 16 ? 2 : 7);
	}
	CHECK(out.len == exp.len && memcmp(out.p, exp.p, exp.len) == 0);
	wr_free(&exp);
	wr_free(&out);
	wr_free(&w);

	build_depth(&w, CET_DEPTH_MAX + 1);
	CHECK(cet_validate(w.p, w.len, NULL) == -EBADMSG);
	wr_free(&w);

	/* tables count the same way: 10 nested table/row/cell triples = 30 levels */
	for (int i = 0; i < 10; i++)
		wr_bytes(&w, "\x1a\x1b\x1c", 3);
	CHECK(cet_validate(w.p, w.len, NULL) == 0);
	wr_bytes(&w, "\x1a\x1b", 2);
	CHECK(cet_validate(w.p, w.len, NULL) == 0);
	wr_u8(&w, CET_CELL);
	CHECK(cet_validate(w.p, w.len, NULL) == -EBADMSG);
	wr_free(&w);

	/* closing restores room: depth is nesting, not a count of containers */
	for (int i = 0; i < 1000; i++)
		wr_bytes(&w, "\x1e\x1f" "x\x1f\x1e", 5);
	CHECK(cet_validate(w.p, w.len, NULL) == 0);
	wr_free(&w);
}

static void size_limit(void)
{
	uint8_t *big = xmalloc(CET_MAX_BYTES + 1);
	memset(big, 'a', CET_MAX_BYTES + 1);
	CHECK(cet_validate(big, CET_MAX_BYTES, NULL) == 0);
	CHECK(cet_validate(big, CET_MAX_BYTES + 1, NULL) == -E2BIG);
	struct wr w = WR_INIT;
	CHECK(cet_render_text(&w, big, CET_MAX_BYTES + 1, NULL) == -E2BIG && w.len == 0);
	CHECK(cet_from_plain(&w, big, CET_MAX_BYTES + 1) == -E2BIG && w.len == 0);
	CHECK(cet_from_plain(&w, big, CET_MAX_BYTES) == 0 && w.len == CET_MAX_BYTES);
	wr_free(&w);
	/* a result that grows past the limit (invalid bytes become U+FFFD) */
	memset(big, 0xFF, CET_MAX_BYTES / 2);
	wr_bytes(&w, "keep", 4);
	CHECK(cet_from_plain(&w, big, CET_MAX_BYTES / 2) == -E2BIG);
	CHECK(w.len == 4 && memcmp(w.p, "keep", 4) == 0);
	wr_free(&w);
	free(big);
}

static void alternatives_limit(void)
{
	struct wr w = WR_INIT;
	for (unsigned i = 1; i < CET_ALT_MAX; i++)
		wr_bytes(&w, "x\x7f", 2);
	struct cet_stats st;
	CHECK(cet_validate(w.p, w.len, &st) == 0 && st.alternatives == CET_ALT_MAX);
	wr_u8(&w, CET_SEP);
	CHECK(cet_validate(w.p, w.len, NULL) == -EBADMSG);
	wr_free(&w);
}

static void stats_counted_and_kept_on_failure(void)
{
	static const char doc[] = "\x02" "a.example\x02" "x\x01" "b.example\x01\x03" "c.example/i\x03"
	                          "\x7f\x04" "d.example/v\x04\x7f";
	struct cet_stats st = { 0, 0, 0 };
	CHECK(cet_validate(U8(doc), sizeof(doc) - 1, &st) == 0);
	CHECK(st.links == 2 && st.media == 2 && st.alternatives == 3);
	struct cet_stats keep = { 7, 8, 9 };
	CHECK(VAL("\x02" "a.example\x02\x00") == -EBADMSG);
	CHECK(cet_validate(U8("\x02" "a.example\x02\x00"), 12, &keep) == -EBADMSG);
	CHECK(keep.links == 7 && keep.media == 8 && keep.alternatives == 9);
}

/* ---- rendering ---- */

static void render_rejects_invalid_and_keeps_out(void)
{
	struct wr w = WR_INIT;
	wr_bytes(&w, "prev", 4);
	CHECK(cet_render_text(&w, U8("a\x1b[2Jb"), 6, NULL) == -EBADMSG);
	CHECK(cet_render_text(&w, U8("\x02" "javascript:x\x02"), 14, NULL) == -EBADMSG);
	CHECK(w.len == 4 && memcmp(w.p, "prev", 4) == 0);
	/* and appends after what is there on success */
	CHECK(cet_render_text(&w, U8("x"), 1, NULL) == 0);
	CHECK(w.len == 6 && memcmp(w.p, "prevx\n", 6) == 0);
	wr_free(&w);
}

static void render_injection_attempts(void)
{
	/* Every classic escape is invalid CET, so nothing of it reaches a terminal. */
	static const char *const attacks[] = {
		"\x1b[2J\x1b[H",                  /* clear screen */
		"\x1b]8;;http://evil/\x1b\\x",     /* OSC 8 hyperlink */
		"\x1b]0;title\x07",               /* set window title */
		"\xC2\x9B" "6n",                  /* CSI as U+009B: device status report */
		"\xC2\x9D" "0;x\xC2\x9C",         /* OSC/ST as C1 */
		"\x9B" "31m",                     /* 8-bit CSI byte */
		"a\rb",                           /* carriage return overwrite */
		"a\bb",                           /* backspace overwrite */
		"\x07",                           /* bell */
		"\x0e\x0f",                       /* shift out/in (charset switch) */
		"\x1a\x1b\x1c\x1b[31m",           /* ESC as a row inside a cell: wrong place */
	};
	for (size_t i = 0; i < ARRAY_SIZE(attacks); i++) {
		int rc = 0;
		char *s = render(attacks[i], strlen(attacks[i]), true, &rc);
		if (rc != -EBADMSG || s != NULL) {
			fprintf(stderr, "  attack %zu rendered (rc %d)\n", i, rc);
			check_case_failures++;
		}
		free(s);
	}
	/* Trojan-source style reordering: valid text, stripped on output. */
	char *s = RENDER("if (x) { \xE2\x80\xAE } \xE2\x81\xA6 ok \xE2\x81\xA9", true);
	CHECK(s && strcmp(s, "if (x) {  }  ok \n") == 0);
	CHECK(s && terminal_safe(U8(s), strlen(s), false));
	free(s);
	/* a bidi override right after a link marker or inside a list */
	s = RENDER("\x1e\x1f\xE2\x80\xAE" "abc\x1f\x1e", false);
	CHECK(s && strcmp(s, "  - abc\n") == 0);
	free(s);
}

static void render_width_and_options(void)
{
	struct wr w = WR_INIT;
	struct cet_render_opts o = { .width = 10 };
	CHECK(cet_render_text(&w, U8("\x0b"), 1, &o) == 0);
	CHECK(w.len == 11 && memcmp(w.p, "----------\n", 11) == 0);
	wr_free(&w);
	o.width = CET_WIDTH_MAX;
	CHECK(cet_render_text(&w, U8("\x0b"), 1, &o) == 0 && w.len == CET_WIDTH_MAX + 1);
	wr_free(&w);
	o.width = CET_WIDTH_MAX + 1;
	CHECK(cet_render_text(&w, U8("\x0b"), 1, &o) == -EINVAL && w.len == 0);
	o.width = 0;
	o.max_bytes = CET_RENDER_MIN - 1;
	CHECK(cet_render_text(&w, U8("x"), 1, &o) == -EINVAL);
	o.max_bytes = CET_RENDER_MAX + 1;
	CHECK(cet_render_text(&w, U8("x"), 1, &o) == -EINVAL);
	o.max_bytes = CET_RENDER_MIN;
	CHECK(cet_render_text(&w, U8("x"), 1, &o) == 0 && w.len == 2);
	wr_free(&w);
	/* a rule inside a list item is indented like the item's text */
	char *s = RENDER("\x1e\x1f" "a\x0b" "b\x1f\x1e", false);
	CHECK(s && strlen(s) == 6 + 4 + 72 + 1 + 6 && strncmp(s, "  - a\n    ---", 13) == 0);
	CHECK(s && strcmp(s + strlen(s) - 6, "    b\n") == 0);
	free(s);
}

static void render_truncation(void)
{
	/* 1,000 rules at width 1,024 would be ~1 MB: capped at 4,096 bytes */
	struct wr in = WR_INIT;
	for (int i = 0; i < 1000; i++)
		wr_bytes(&in, "\x16x\x0b", 3);
	for (int ansi = 0; ansi < 2; ansi++) {
		struct wr w = WR_INIT;
		wr_bytes(&w, "pre", 3);
		struct cet_render_opts o = { .ansi = ansi, .width = CET_WIDTH_MAX, .max_bytes = 4096 };
		CHECK(cet_render_text(&w, in.p, in.len, &o) == 0);
		CHECK(w.len - 3 <= 4096 && w.len > 3 + 2048);
		static const char note[] = "[rendering truncated]\n";
		CHECK(w.len > sizeof(note) &&
		      memcmp(w.p + w.len - (sizeof(note) - 1), note, sizeof(note) - 1) == 0);
		CHECK(terminal_safe(w.p + 3, w.len - 3, ansi));
		wr_free(&w);
	}
	/* in ANSI mode the style is reset before the note */
	wr_free(&in);
	for (int i = 0; i < 100; i++)
		wr_bytes(&in, "\x16xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\x16", 35);
	wr_bytes(&in, "\x16", 1);
	for (int i = 0; i < 200; i++)
		wr_bytes(&in, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", 32);
	struct wr w = WR_INIT;
	struct cet_render_opts o = { .ansi = true, .max_bytes = 1000 };
	CHECK(cet_render_text(&w, in.p, in.len, &o) == 0);
	static const char tail[] = "\x1b[0m\n[rendering truncated]\n";
	CHECK(w.len <= 1000 && w.len > sizeof(tail) &&
	      memcmp(w.p + w.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0);
	wr_free(&w);
	wr_free(&in);
}

/* Deterministic pseudo-random CET-ish documents: every one that validates
 * must render terminal-safe in both modes. */
static void render_random_documents_are_safe(void)
{
	static const char *const pieces[] = {
		"a", " ", "\n", "\x0b", "\x11", "\x12", "\x13", "\x14", "\x15", "\x16", "\x17", "\x18",
		"\x19", "\x1a", "\x1b", "\x1c", "\x1d", "\x1e", "\x1f", "\x7f", "\x02" "e.com/x\x02",
		"\x03" "e.com/i.png\x03", "\xC3\xA9", "\xE2\x80\xAE", "\xE2\x80\xA8", "\xF0\x9F\x98\x80",
		"[", "m", "\x1b[1m",
	};
	uint32_t seed = 12345;
	int valid = 0;
	for (int doc = 0; doc < 20000; doc++) {
		struct wr in = WR_INIT;
		seed = seed * 1103515245u + 12345u;
		int n = (int)((seed >> 16) % 24);
		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % ARRAY_SIZE(pieces)];
			wr_bytes(&in, p, strlen(p));
		}
		if (cet_validate(in.p ? in.p : U8(""), in.len, NULL) == 0) {
			valid++;
			for (int ansi = 0; ansi < 2; ansi++) {
				struct wr w = WR_INIT;
				struct cet_render_opts o = { .ansi = ansi, .width = 5 };
				if (cet_render_text(&w, in.p ? in.p : U8(""), in.len, &o) != 0 ||
				    !terminal_safe(w.p ? w.p : U8(""), w.len, ansi) ||
				    (w.len > 0 && w.p[w.len - 1] != '\n')) {
					check_case_failures++;
					fprintf(stderr, "  random doc %d unsafe (ansi %d)\n", doc, ansi);
				}
				wr_free(&w);
			}
		}
		wr_free(&in);
	}
	CHECK(valid > 2000); /* the generator really exercised the renderer */
}

/* ---- text/plain import ---- */

static char *plain(const char *s, size_t n)
{
	struct wr w = WR_INIT;
	int rc = cet_from_plain(&w, U8(s), n);
	CHECK(rc == 0);
	CHECK(cet_validate(w.p ? w.p : U8(""), w.len, NULL) == 0);
	char *r = xmalloc(w.len + 1);
	if (w.len)
		memcpy(r, w.p, w.len);
	r[w.len] = 0;
	wr_free(&w);
	return r;
}
#define PLAIN_IS(in, exp)                                                                   \
	do {                                                                                    \
		char *got_ = plain((in), sizeof(in) - 1);                                           \
		if (strcmp(got_, (exp)) != 0) {                                                     \
			fprintf(stderr, "  %s:%d: from_plain gave \"%s\"\n", __FILE__, __LINE__, got_); \
			check_case_failures++;                                                          \
		}                                                                                   \
		free(got_);                                                                         \
	} while (0)

static void from_plain_rules(void)
{
	PLAIN_IS("", "");
	PLAIN_IS("hello", "hello");
	PLAIN_IS("a\r\nb\rc\nd", "a\nb\nc\nd");              /* CRLF, CR, LF */
	PLAIN_IS("a\tb", "a b");                             /* tab */
	PLAIN_IS("a\x01\x02\x0b\x16\x1a\x1b[31mb\x7f", "a[31mb"); /* controls, CET chars, DEL */
	PLAIN_IS("a\xC2\x9B" "b\xC2\x85" "c", "abc");        /* C1 controls */
	PLAIN_IS("a\xFF" "b\xC3", "a\xEF\xBF\xBD" "b\xEF\xBF\xBD"); /* invalid UTF-8 */
	PLAIN_IS("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate, per byte */
	PLAIN_IS("a\n\nb", "a\n\nb");
	PLAIN_IS("a\n\n\nb", "a\n\n\nb");                    /* two blank lines kept */
	PLAIN_IS("a\n\n\n\n\n\nb", "a\n\n\nb");              /* more collapse to two */
	PLAIN_IS("a\r\n\r\n\r\n\r\n\r\nb", "a\n\n\nb");
	PLAIN_IS("a\n\x01\n\x02\n\n\nb", "a\n\n\nb");        /* stripped controls do not split */
	PLAIN_IS("\n\n\nstart", "start");                    /* leading line breaks dropped */
	PLAIN_IS("end\n\n", "end");                          /* trailing line breaks dropped */
	PLAIN_IS("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c", "a\nb\nc"); /* LS, PS */
	PLAIN_IS("-- \nsig", "-- \nsig");                    /* signature separator intact */
	PLAIN_IS("\xE2\x80\xAE" "rtl", "\xE2\x80\xAE" "rtl"); /* bidi kept: the renderer strips it */
	PLAIN_IS("\x02" "example.com\x02", "example.com");   /* no links out of plain text */
}

static void from_plain_idempotent_and_appends(void)
{
	static const char in[] = "x\r\n\r\n\r\n\r\ny\t\x1b[1m\xFF\xC2\x9Bz\n";
	struct wr a = WR_INIT, b = WR_INIT;
	wr_bytes(&a, "head", 4);
	CHECK(cet_from_plain(&a, U8(in), sizeof(in) - 1) == 0);
	CHECK(a.len > 4 && memcmp(a.p, "head", 4) == 0);
	CHECK(cet_from_plain(&b, a.p + 4, a.len - 4) == 0);
	CHECK(b.len == a.len - 4 && memcmp(b.p, a.p + 4, b.len) == 0);
	CHECK(cet_validate(b.p, b.len, NULL) == 0);
	/* rendering plain-derived CET gives the text back with a final LF */
	struct wr r = WR_INIT;
	CHECK(cet_render_text(&r, b.p, b.len, NULL) == 0);
	CHECK(r.len == b.len + 1 && memcmp(r.p, b.p, b.len) == 0 && r.p[b.len] == '\n');
	wr_free(&a);
	wr_free(&b);
	wr_free(&r);
}

int main(void)
{
	check_init();
	RUN(char_set_values);
	RUN(golden_files);
	RUN(empty_input);
	RUN(single_bytes_allowed_and_forbidden);
	RUN(c1_controls_rejected);
	RUN(invalid_utf8_rejected);
	RUN(link_spans);
	RUN(url_rules);
	RUN(url_length_limit);
	RUN(layout_containment);
	RUN(open_at_end_tolerated);
	RUN(depth_limit);
	RUN(size_limit);
	RUN(alternatives_limit);
	RUN(stats_counted_and_kept_on_failure);
	RUN(render_rejects_invalid_and_keeps_out);
	RUN(render_injection_attempts);
	RUN(render_width_and_options);
	RUN(render_truncation);
	RUN(render_random_documents_are_safe);
	RUN(from_plain_rules);
	RUN(from_plain_idempotent_and_appends);
	return check_finish();
}
