#!/usr/bin/python3
# make-cases.py: writes the CET golden files <case>.in (raw CET bytes) and
# <case>.exp (expected cet_render_text output) in this directory. The cases are
# written out by hand here so the control bytes stay readable; tests/unit/
# test_cet.c walks the directory. Cases named ansi_* render with opts.ansi set.
# Run: /usr/bin/python3 tests/data/cet/make-cases.py
import os

LINK, LINKS, FILE, FILES = b"\x01", b"\x02", b"\x03", b"\x04"
LF, HR = b"\n", b"\x0b"
BIG, SMALL, SUB, SUP, MONO = b"\x11", b"\x12", b"\x13", b"\x14", b"\x15"
BOLD, ITALIC, UNDER, STRIKE = b"\x16", b"\x17", b"\x18", b"\x19"
TABLE, ROW, CELL, OL, UL, ITEM = b"\x1a", b"\x1b", b"\x1c", b"\x1d", b"\x1e", b"\x1f"
SEP = b"\x7f"
E = "\x1b["  # SGR introducer in expected ANSI output
DASHES = "-" * 72


def u(s):
    return s.encode("utf-8")


CASES = {
    "empty": (b"", ""),
    "plain_text": (b"Hello, world!\nSecond line", "Hello, world!\nSecond line\n"),
    "trailing_newline_kept_once": (b"one\n", "one\n"),
    "blank_lines": (b"a\n\n\nb", "a\n\n\nb\n"),
    "utf8_text": (u("Grüße, 世界 😀"), "Grüße, 世界 😀\n"),
    "toggles_dropped_plain": (
        BOLD + b"bold" + BOLD + b" " + ITALIC + b"it" + ITALIC + b" " + UNDER + b"u" + UNDER
        + b" " + STRIKE + b"s" + STRIKE + b" " + SMALL + b"sm" + SMALL + b" " + MONO + b"m"
        + MONO + b" x" + SUB + b"2" + SUB + b" y" + SUP + b"3" + SUP,
        "bold it u s sm m x2 y3\n",
    ),
    "heading": (BIG + b"Title" + BIG + LF + b"Body", "Title\nBody\n"),
    "toggle_left_open": (BOLD + b"never closed", "never closed\n"),
    "rule": (b"above" + HR + b"below", "above\n" + DASHES + "\nbelow\n"),
    "rule_at_start": (HR + b"x", DASHES + "\nx\n"),
    "links": (
        b"See " + LINKS + b"example.com/a?b=1#c" + LINKS + b"the page and "
        + LINK + b"example.org:8080" + LINK + b".",
        "See [1]the page and [2].\n\n[1] https://example.com/a?b=1#c\n[2] http://example.org:8080\n",
    ),
    "media": (
        b"Logo: " + FILES + b"cdn.example.com/logo.png" + FILES + b" and "
        + FILE + b"[2001:db8::1]/a.mp3" + FILE,
        "Logo: [media 1: https://cdn.example.com/logo.png] and [media 2: http://[2001:db8::1]/a.mp3]\n",
    ),
    "links_and_media_numbered_apart": (
        LINKS + b"a.example" + LINKS + b"A " + FILES + b"b.example/i.gif" + FILES + b" "
        + LINKS + b"c.example/x" + LINKS + b"C",
        "[1]A [media 1: https://b.example/i.gif] [2]C\n\n[1] https://a.example\n[2] https://c.example/x\n",
    ),
    "only_a_link": (LINKS + b"example.com" + LINKS, "[1]\n\n[1] https://example.com\n"),
    "unordered_list": (
        b"Intro" + UL + ITEM + b"one" + ITEM + ITEM + b"two" + ITEM + UL + b"Outro",
        "Intro\n  - one\n  - two\nOutro\n",
    ),
    "ordered_list": (
        OL + ITEM + b"first" + ITEM + ITEM + b"second" + ITEM + OL,
        "  1. first\n  2. second\n",
    ),
    "nested_lists": (
        UL + ITEM + b"one" + UL + ITEM + b"two" + ITEM + ITEM + b"three"
        + OL + ITEM + b"deep" + ITEM + OL + ITEM + UL + ITEM + ITEM + b"done" + ITEM + UL,
        "  - one\n    - two\n    - three\n      1. deep\n  - done\n",
    ),
    "list_item_continuation": (
        OL + ITEM + b"line1\nline2" + ITEM + OL + b"after",
        "  1. line1\n     line2\nafter\n",
    ),
    "list_numbers_widen": (
        OL + b"".join(ITEM + b"i" + ITEM for _ in range(10)) + OL,
        "".join("  %d. i\n" % n for n in range(1, 11)),
    ),
    "list_left_open": (UL + ITEM + b"open", "  - open\n"),
    "empty_item": (UL + ITEM + ITEM + UL, "  -\n"),
    "table": (
        TABLE + ROW + CELL + b"Name" + CELL + CELL + b"Age" + CELL + ROW
        + ROW + CELL + b"Bob" + CELL + CELL + b"42" + CELL + ROW + TABLE,
        "Name | Age\nBob | 42\n",
    ),
    "table_empty_cells": (
        TABLE + ROW + CELL + CELL + CELL + b"x" + CELL + CELL + CELL + ROW + TABLE,
        "| x |\n",
    ),
    "table_between_text": (
        b"before" + TABLE + ROW + CELL + b"a" + CELL + ROW + TABLE + b"after",
        "before\na\nafter\n",
    ),
    "table_multiline_cell": (
        TABLE + ROW + CELL + b"a\nb" + CELL + CELL + b"c" + CELL + ROW + TABLE,
        "a\nb | c\n",
    ),
    "nested_table": (
        TABLE + ROW + CELL + b"outer" + CELL + CELL
        + TABLE + ROW + CELL + b"in1" + CELL + CELL + b"in2" + CELL + ROW + TABLE
        + CELL + CELL + b"last" + CELL + ROW + TABLE,
        "outer |\nin1 | in2\n| last\n",
    ),
    "list_in_table": (
        TABLE + ROW + CELL + b"k" + CELL + CELL + UL + ITEM + b"v1" + ITEM + ITEM + b"v2" + ITEM
        + UL + CELL + ROW + TABLE,
        "k |\n  - v1\n  - v2\n",
    ),
    "table_in_list": (
        UL + ITEM + b"x" + TABLE + ROW + CELL + b"a" + CELL + CELL + b"b" + CELL + ROW + TABLE
        + ITEM + UL,
        "  - x\n    a | b\n",
    ),
    "alternatives": (
        b"plain version" + SEP + BOLD + b"rich" + BOLD + b" version",
        "---- alternative 1 ----\nplain version\n\n---- alternative 2 ----\nrich version\n",
    ),
    "alternatives_links_per_section": (
        LINKS + b"a.example" + LINKS + b"x" + SEP + LINKS + b"b.example" + LINKS + b"y",
        "---- alternative 1 ----\n[1]x\n\n[1] https://a.example\n\n"
        "---- alternative 2 ----\n[1]y\n\n[1] https://b.example\n",
    ),
    "alternatives_empty": (SEP, "---- alternative 1 ----\n\n---- alternative 2 ----\n"),
    "separator_closes_layout": (
        UL + ITEM + b"a" + SEP + b"b",
        "---- alternative 1 ----\n  - a\n\n---- alternative 2 ----\nb\n",
    ),
    "bidi_stripped": (
        u("abc\u202edef\u2066g\u2069\u200eh\u200fi\u061cj\u202a\u202b\u202c\u202dk\u2067\u2068"),
        "abcdefghijk\n",
    ),
    "line_separators": (u("a\u2028b\u2029c"), "a\nb\nc\n"),
    "ansi_formatting": (
        BOLD + b"bold" + BOLD + b" and " + ITALIC + b"italic" + ITALIC + b" " + UNDER + b"u" + UNDER
        + b" " + STRIKE + b"s" + STRIKE + b" " + SMALL + b"small" + SMALL,
        E + "0;1mbold" + E + "0m and " + E + "0;3mitalic" + E + "0m " + E + "0;4mu" + E + "0m "
        + E + "0;9ms" + E + "0m " + E + "0;2msmall" + E + "0m\n",
    ),
    "ansi_combined": (
        BOLD + ITALIC + b"both" + BOLD + b"it" + ITALIC,
        E + "0;1;3mboth" + E + "0;3mit" + E + "0m\n",
    ),
    "ansi_bold_beats_small": (
        SMALL + b"s" + BIG + b"S" + BIG + SMALL,
        E + "0;2ms" + E + "0;1mS" + E + "0m\n",
    ),
    "ansi_reset_each_line": (
        BOLD + b"a\n\nb" + BOLD + b"c",
        E + "0;1ma" + E + "0m\n\n" + E + "0;1mb" + E + "0mc\n",
    ),
    "ansi_left_open": (ITALIC + b"open", E + "0;3mopen" + E + "0m\n"),
    "ansi_decoration_unstyled": (
        BOLD + UL + ITEM + b"a" + LINKS + b"x.example" + LINKS + b"b" + ITEM + UL,
        "  - " + E + "0;1ma" + E + "0m[1]" + E + "0;1mb" + E + "0m\n\n[1] https://x.example\n",
    ),
    "ansi_mono_sub_sup_silent": (MONO + b"m" + MONO + SUB + b"s" + SUB + SUP + b"p" + SUP, "msp\n"),
    "ansi_plain_text_unchanged": (b"no styles\nhere", "no styles\nhere\n"),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name in os.listdir(here):
        if name.endswith(".in") or name.endswith(".exp"):
            os.unlink(os.path.join(here, name))
    for name, (cet, exp) in sorted(CASES.items()):
        with open(os.path.join(here, name + ".in"), "wb") as f:
            f.write(cet)
        with open(os.path.join(here, name + ".exp"), "wb") as f:
            f.write(exp.encode("utf-8"))
    print("wrote %d cases" % len(CASES))


if __name__ == "__main__":
    main()
