/* test_deliver_html.c: HTML to CET (docs/PROTOCOL.md 19.5) with exact
 * expected CET for every tag class, entities, whitespace, the link scheme
 * rules, tables and lists (implied and unclosed), the depth and size bounds. */
#include "check.h"

#include "common/cet.h"
#include "deliver/mime.h"
#include "deliver/mimeint.h"

static void show(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s: \"", what);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F || p[i] == '"')
			fprintf(stderr, "\\x%02x", p[i]);
		else
			fputc(p[i], stderr);
	}
	fprintf(stderr, "\"\n");
}

/* Converts html and compares with want (and checks cet_validate). */
static void expect(const char *html, const char *want)
{
	struct wr out = WR_INIT;
	CHECK(html_to_cet(&out, (const uint8_t *)html, strlen(html), CET_MAX_BYTES) == 0);
	CHECK(cet_validate(out.p, out.len, NULL) == 0);
	if (out.len != strlen(want) || memcmp(out.p, want, out.len) != 0) {
		check_case_failures++;
		fprintf(stderr, "  html: %s\n", html);
		show("got ", out.p, out.len);
		show("want", (const uint8_t *)want, strlen(want));
	}
	wr_free(&out);
}

static void test_whitespace_and_blocks(void)
{
	expect("  Hello   \n world  ", "Hello world");
	expect("<p>a</p><p>b</p>", "a\n\nb");
	expect("<div>a</div><div>b</div>", "a\nb");
	expect("a<br>b<br><br>c", "a\nb\n\nc");
	expect("a <br> b", "a\nb");
	expect("a<hr>b", "a\x0b" "b");
	expect("<p>  </p><p>x</p>", "x");
	expect("a<span> b </span>c", "a b c");
	expect("<blockquote>q</blockquote>after", "q\n\nafter");
}

static void test_styles(void)
{
	expect("<h1>T</h1>x", "\x11T\x11\n\nx");
	expect("<b>b</b> <i>i</i> <u>u</u> <s>s</s>",
	       "\x16" "b\x16 \x17i\x17 \x18u\x18 \x19s\x19");
	expect("<sub>1</sub><sup>2</sup><small>m</small><code>c</code>",
	       "\x13" "1\x13\x14" "2\x14\x12m\x12\x15" "c\x15");
	/* adjacent runs of one style merge: no toggle pair in between */
	expect("<strong>x</strong><em>y</em><del>z</del><strike>w</strike><tt>t</tt><big>g</big>",
	       "\x16x\x16\x17y\x17\x19zw\x19\x15t\x15\x11g\x11");
	expect("<b>a<b>b</b>c</b>d", "\x16" "abc\x16" "d");
	expect("<b>x", "\x16x\x16");                /* closed at the end */
	expect("</b>x", "x");                       /* a stray end tag */
	expect("<b></b>x", "x");                    /* no empty toggles */
	expect("<u>a</u> <u>b</u>", "\x18" "a b\x18");
	expect("<u>a</u> b", "\x18" "a\x18 b"); /* the space after a style is outside it */
}

static void test_pre(void)
{
	expect("<pre>\n  a\n   b</pre>c", "\x15  a\n   b\x15\n\nc");
	expect("<pre>a\tb</pre>", "\x15" "a       b\x15");
	expect("<pre>x\r\ny</pre>", "\x15x\ny\x15");
	expect("<code>  a   b  </code>", "\x15" "a b\x15");
	expect("<plaintext><b>x</b>", "<b>x</b>");
}

static void test_entities(void)
{
	expect("&amp;&lt;&gt;&quot;&apos;&nbsp;&eacute;&#233;&#xE9;&#x20AC;&euro;&hellip;&copy",
	       "&<>\"'\xc2\xa0\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac\xe2\x80\xa6\xc2\xa9");
	expect("&#0;&#x110000;&#xD800;", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect("&#128;&#150;", "\xe2\x82\xac\xe2\x80\x93"); /* windows-1252 in 0x80-0x9F */
	expect("&bogus; AT&T &", "&bogus; AT&T &");
	expect("&notit;", "\xc2\xac" "it;");
	expect("&AMP;&COPY;&lang;", "&\xc2\xa9\xe2\x9f\xa8");
	expect("a&#32;&#32;b&#10;c", "a b c");
	expect("x&#1;y&#x7f;z&#x9b;", "xyz\xe2\x80\xba"); /* controls dropped; 0x9B is cp1252 */
}

static void test_skipped(void)
{
	expect("a<script>x<b>y</b></script>b<style>z</style>c<!-- d -->e<!--->f", "abcef");
	expect("<html><head><title>T</title><meta charset=x></head><body>B</body></html>", "B");
	expect("a<!-- never closed", "a");
	expect("<!DOCTYPE html><?xml version='1.0'?>x", "x");
	expect("<!--[if mso]>m<![endif]-->n", "n");
	expect("<svg/>x<svg><text>hidden</text></svg>y", "xy");
	expect("<template>t</template><noscript>n</noscript>v", "v");
	expect("a<script>never closed", "a");
	expect("1 < 2 <3 x<", "1 < 2 <3 x<");
	expect("a<b", "a"); /* input ends inside a tag */
	expect("x</>y</ 3>z", "xyz");
}

static void test_controls(void)
{
	expect("a\x01" "b\x1b" "c\x7f" "d", "abcd");
	expect("\xff" "x", "\xef\xbf\xbdx");
	expect("a\xc2\x85" "b", "ab"); /* C1 NEL */
	expect("\xef\xbb\xbfhi", "hi");  /* BOM */
}

static void test_tables(void)
{
	expect("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>x",
	       "\x1a\x1b\x1c" "a\x1c\x1c" "b\x1c\x1b\x1b\x1c" "c\x1c\x1b\x1ax");
	expect("<table><td>a<td>b</table>", "\x1a\x1b\x1c" "a\x1c\x1c" "b\x1c\x1b\x1a");
	expect("<table>x</table>", "\x1a\x1b\x1cx\x1c\x1b\x1a");
	expect("<table><thead><tr><th>H</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>",
	       "\x1a\x1b\x1cH\x1c\x1b\x1b\x1c" "1\x1c\x1b\x1a");
	expect("<table><tr><td>a", "\x1a\x1b\x1c" "a\x1c\x1b\x1a"); /* closed at the end */
	expect("<td>a</td><td>b</td>", "a b");                     /* cells outside a table */
	expect("<table><tr><td><b>x</td><td>y</td></tr></table>",
	       "\x1a\x1b\x1c\x16x\x1c\x1c\x16y\x1c\x1b\x1a"); /* styles end with the cell */
	/* styles still open at the end close after the layout (found by the fuzzer) */
	expect("<table><tr><td><tt>x<table>", "\x1a\x1b\x1c\x15x\x1a\x1a\x1c\x1b\x1a\x15");
	expect("<table><tr><td><table><tr><td>in</td></tr></table></td></tr></table>",
	       "\x1a\x1b\x1c\x1a\x1b\x1cin\x1c\x1b\x1a\x1c\x1b\x1a");
}

static void test_lists(void)
{
	expect("<ul><li>a</li><li>b<ol><li>c</ol></ul>",
	       "\x1e\x1f" "a\x1f\x1f" "b\x1d\x1f" "c\x1f\x1d\x1f\x1e");
	expect("<ul><li>a<li>b</ul>", "\x1e\x1f" "a\x1f\x1f" "b\x1f\x1e");
	expect("<ul>text</ul>", "\x1e\x1ftext\x1f\x1e");
	expect("<li>x", "- x");
	expect("<ul><li><table><tr><td>c<li>d</table></ul>",
	       "\x1e\x1f\x1a\x1b\x1c" "c\n- d\x1c\x1b\x1a\x1f\x1e");
}

static void test_links(void)
{
	expect("<a href=\"https://example.com/a?b=1&amp;c=2\">t</a>", "\x02" "example.com/a?b=1&c=2\x02t");
	expect("see <a href='http://example.com'>x</a>", "see \x01" "example.com\x01x");
	expect("<a href=\"javascript:alert(1)\">j</a>", "j");
	expect("<a href=\"data:text/html,x\">d</a>", "d");
	expect("<a href=\"mailto:a@b.c\">m</a>", "m");
	expect("<a href=\"HTTPS://Example.com\">u</a>", "\x02" "Example.com\x02u");
	expect("<a href=\" https://e.com/a b\">s</a>", "\x02" "e.com/a%20b\x02s");
	expect("<a href=\"https://user@evil.com/\">p</a>", "p");
	expect("<a href=\"https://e.com/\xc3\xbc\">n</a>", "\x02" "e.com/%C3%BC\x02n");
	expect("<a href=\"https:\\\\e.com\\x\">b</a>", "\x02" "e.com/x\x02" "b");
	expect("<a href=\"https://\">e</a>", "e");
	expect("<a href=https://e.com/x>q</a>", "\x02" "e.com/x\x02q");
	expect("<img src=\"http://e.com/i.png\" alt=\"A &amp; B\">", "\x03" "e.com/i.png\x03" "A & B");
	expect("<img src=\"https://e.com/i.png\">", "\x04" "e.com/i.png\x04");
	expect("<img src=\"cid:x\" alt=\"logo\">", "logo");
	expect("<iframe src=\"https://e.com/f\">fallback</iframe>z", "\x02" "e.com/f\x02z");
}

static void test_depth_bound(void)
{
	char html[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(html, "<ul><li>");
	strcat(html, "deep<table><tr><td>cell</td></tr></table>");
	struct wr out = WR_INIT;
	CHECK(html_to_cet(&out, (const uint8_t *)html, strlen(html), CET_MAX_BYTES) == 0);
	struct cet_stats st;
	CHECK(cet_validate(out.p, out.len, &st) == 0);
	CHECK(memmem(out.p, out.len, "deep", 4) != NULL);
	CHECK(memmem(out.p, out.len, "cell", 4) != NULL);
	wr_free(&out);

	/* 40 nested tables */
	html[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(html, "<table><tr><td>");
	strcat(html, "x");
	CHECK(html_to_cet(&out, (const uint8_t *)html, strlen(html), CET_MAX_BYTES) == 0);
	CHECK(cet_validate(out.p, out.len, NULL) == 0);
	CHECK(memchr(out.p, 'x', out.len) != NULL);
	wr_free(&out);

	/* tables opened straight inside tables imply a row and a cell each (found by the fuzzer) */
	html[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(html, i % 3 ? "<table>" : "<ul>");
	strcat(html, "y<");
	CHECK(html_to_cet(&out, (const uint8_t *)html, strlen(html), CET_MAX_BYTES) == 0);
	CHECK(cet_validate(out.p, out.len, NULL) == 0);
	CHECK(memchr(out.p, 'y', out.len) != NULL);
	wr_free(&out);
}

static void test_size_bound(void)
{
	struct wr in = WR_INIT;
	for (int i = 0; i < 2000; i++)
		wr_bytes(&in, "<table><tr><td><b>word</b> <a href='https://e.com/x'>l</a>", 58);
	for (size_t max = 0; max < 400; max += 7) {
		struct wr out = WR_INIT;
		wr_bytes(&out, "pre", 3);
		bool cut = false;
		CHECK(html_convert(&out, in.p, in.len, max, &cut) == 0);
		CHECK(out.len - 3 <= max);
		CHECK(cut);
		CHECK(cet_validate(out.p, out.len, NULL) == 0);
		wr_free(&out);
	}
	struct wr out = WR_INIT;
	bool cut = true;
	CHECK(html_convert(&out, (const uint8_t *)"<b>ok</b>", 9, 1000, &cut) == 0);
	CHECK(!cut && out.len == 4);
	wr_free(&out);
	wr_free(&in);
}

static void test_self_contained(void)
{
	/* what follows the converted HTML starts with every toggle and layout closed */
	struct wr out = WR_INIT;
	const char *h = "<ul><li><b><i>open";
	CHECK(html_to_cet(&out, (const uint8_t *)h, strlen(h), CET_MAX_BYTES) == 0);
	CHECK(cet_from_plain(&out, (const uint8_t *)"x", 1) == 0);
	struct wr txt = WR_INIT;
	CHECK(cet_render_text(&txt, out.p, out.len, &(struct cet_render_opts){ .ansi = true }) == 0);
	/* the final x is written with attributes off: the last SGR before it resets */
	CHECK(txt.len >= 2 && memcmp(txt.p + txt.len - 2, "x\n", 2) == 0);
	const uint8_t *last = NULL;
	for (size_t i = 0; i + 1 < txt.len; i++)
		if (txt.p[i] == 0x1b)
			last = txt.p + i;
	CHECK(last && memcmp(last, "\x1b[0m", 4) == 0);
	wr_free(&txt);
	wr_free(&out);
}

int main(void)
{
	check_init();
	RUN(test_whitespace_and_blocks);
	RUN(test_styles);
	RUN(test_pre);
	RUN(test_entities);
	RUN(test_skipped);
	RUN(test_controls);
	RUN(test_tables);
	RUN(test_lists);
	RUN(test_links);
	RUN(test_depth_bound);
	RUN(test_size_bound);
	RUN(test_self_contained);
	return check_finish();
}
