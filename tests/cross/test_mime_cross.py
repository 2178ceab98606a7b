#!/usr/bin/python3
"""Cross test of Deliver's MIME parser (docs/PROTOCOL.md section 19) against
Python's email package (policy.default) as the reference parser.

For every message in tests/data/mail/*.eml, plus a generated HTML message of
more than 1 MiB, build/tests/deliver_mimedump prints our result as JSON and
this script compares it with what Python's email package finds:
  subject      the decoded Subject (whitespace normalised)
  addresses    From, To, Cc, Reply-To: the addr-specs in order, and the display
               names where Python has one
  text         every text/plain part not marked as an attachment appears in
               our body (whitespace normalised; format=flowed lines joined)
  html         every visible word of every text/html part appears in our body
  attachments  names (Python's name with the path removed) and the exact
               decoded bytes (SHA-256), in order
  checks       the tool exits 0, and every field passed its text class and the
               body passed cet_validate
Raw 8-bit header bytes, which Python keeps as surrogate escapes, are decoded by
our documented rule (UTF-8 if valid, else windows-1252) before comparing.

Usage: /usr/bin/python3 test_mime_cross.py <builddir>
Prints PASS/FAIL per file and check; exits non-zero on any failure.
"""
import email
import email.header
import email.policy
import hashlib
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "tests", "data", "mail")
failures = 0


def case(name, ok, detail=""):
    global failures
    if ok:
        print(f"PASS {name}")
    else:
        failures += 1
        print(f"FAIL {name}")
        if detail:
            print(f"  {detail}")


def norm(s):
    """Whitespace normalised, controls dropped (as our text classes do)."""
    s = "".join(" " if c in "\t\r\n\x0b\x0c" else c for c in s
                if not (ord(c) < 0x20 and c not in "\t\r\n\x0b\x0c") and not (0x7F <= ord(c) <= 0x9F))
    return " ".join(s.split())


def fix_surrogates(s):
    """Raw 8-bit header bytes: UTF-8 if valid, else windows-1252 (our rule)."""
    if not any(0xDC80 <= ord(c) <= 0xDCFF for c in s):
        return s
    b = s.encode("utf-8", "surrogateescape")
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("cp1252", "replace")


def unflow(text, delsp):
    out, open_q, is_open = [], 0, False
    for line in text.split("\n"):
        line = line.rstrip("\r")
        q = len(line) - len(line.lstrip(">"))
        content = line[q:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content != "-- " and content.endswith(" ")
        if flowed and delsp:
            content = content[:-1]
        if is_open and q == open_q:
            out[-1] += content
        else:
            out.append(">" * q + (" " if q and content else "") + content)
        is_open, open_q = flowed, q
    return "\n".join(out)


class Visible(html.parser.HTMLParser):
    """Visible text; inline elements do not split words, other tags do."""
    SKIP = {"script", "style", "title", "head", "noscript", "template", "svg"}
    INLINE = {"a", "b", "i", "u", "s", "em", "strong", "sub", "sup", "span", "font", "small", "big",
              "code", "tt", "kbd", "samp", "var", "cite", "dfn", "del", "ins", "strike", "abbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        if tag not in self.INLINE:
            self.parts.append(" ")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip:
                self.parts.append(alt + " ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        if tag not in self.INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)

    def text(self):
        return "".join(self.parts)


def words_of(s):
    return set(re.findall(r"\w+", s))


def part_text(part):
    try:
        return part.get_content()
    except (LookupError, KeyError):
        return part.get_payload(decode=True).decode("utf-8", "replace")


def leaves(part):
    """Depth first, without going into attached messages."""
    if part.get_content_type() in ("message/rfc822", "message/global"):
        yield part
    elif part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.get_payload():
            yield from leaves(sub)
    else:
        yield part


def addrs(msg, name):
    out = []
    for h in msg.get_all(name) or []:
        try:
            for a in h.addresses:
                for m in (a.addresses if hasattr(a, "addresses") else [a]):
                    out.append((fix_surrogates(m.display_name or ""), m.addr_spec))
        except (AttributeError, TypeError):
            return None  # Python could not parse it: nothing to compare
    return out


def clean_name(name):
    name = fix_surrogates(name)
    if "=?" in name:
        name = str(email.header.make_header(email.header.decode_header(name)))
    name = re.split(r"[/\\]", name)[-1]
    return norm(name)


def check_file(tool, path, label):
    data = open(path, "rb").read()
    res = subprocess.run([tool, path], capture_output=True)
    case(f"{label} runs", res.returncode == 0, res.stderr.decode(errors="replace")[-300:])
    if res.returncode != 0:
        return
    try:
        ours = json.loads(res.stdout)
    except ValueError as e:
        case(f"{label} json", False, str(e))
        return
    checks = ours["checks"]
    case(f"{label} classes and CET", all(checks.values()), str(checks))

    msg = email.message_from_bytes(data, policy=email.policy.default)
    subj = msg.get("subject")
    want = norm(fix_surrogates(str(subj))) if subj is not None else ""
    case(f"{label} subject", norm(ours["subject"]) == want, f"{ours['subject']!r} != {want!r}")

    for field, key in (("from", "from"), ("to", "to"), ("cc", "cc"), ("reply-to", "reply_to")):
        ref = addrs(msg, field)
        if ref is None:
            continue
        mine = [(e["name"], e["addr"]) for e in ours[key]]
        ok = [a for _, a in mine] == [a for _, a in ref] and all(
            not rn or norm(rn) == norm(mn) for (mn, _), (rn, _) in zip(mine, ref))
        case(f"{label} {field}", ok, f"{mine} != {ref}")

    body_text = norm(" ".join(ours["body_versions"]))
    body_words = words_of(" ".join(ours["body_versions"]))
    attach_ref = []
    text_ok, html_ok, detail = True, True, ""
    for part in leaves(msg):
        ctype = part.get_content_type()
        disp = part.get_content_disposition()
        if ctype in ("text/plain", "text/html") and disp != "attachment":
            text = part_text(part)
            if ctype == "text/plain":
                if part.get_param("format", "").lower() == "flowed":
                    text = unflow(text, part.get_param("delsp", "").lower() == "yes")
                t = norm(text.replace("\ufeff", ""))
                if t and t not in body_text:
                    text_ok, detail = False, f"plain text not in body: {t[:120]!r}"
            else:
                v = Visible()
                v.feed(text)
                v.close()
                missing = [w for w in words_of(v.text()) if w not in body_words]
                if missing:
                    html_ok, detail = False, f"html words missing: {missing[:10]}"
            continue
        if part.get_content_maintype() == "multipart":
            # Python found no delimiter: the text must still be in our body
            raw = part.get_payload()
            raw = raw if isinstance(raw, str) else ""
            t = norm(re.sub(r"(?m)^--\S+\s*$|^Content-Type:.*$", " ", raw))
            if t and t not in body_text:
                text_ok, detail = False, f"unsplit multipart text not in body: {t[:120]!r}"
            continue
        if ctype in ("message/rfc822", "message/global"):
            attach_ref.append((clean_name(part.get_filename() or ""), None, ctype))
        else:
            payload = part.get_payload(decode=True) or b""
            attach_ref.append((clean_name(part.get_filename() or ""), hashlib.sha256(payload).hexdigest(),
                               ctype))
    case(f"{label} text parts", text_ok, detail)
    case(f"{label} html words", html_ok, detail)

    mine = ours["attachments"]
    ok = ours["attach_seen"] == len(attach_ref) and len(mine) == min(len(attach_ref), 64)
    why = f"seen {ours['attach_seen']} kept {len(mine)} python {len(attach_ref)}"
    for a, (rname, rsha, rtype) in zip(mine, attach_ref):
        if rname and a["name"] != rname:
            ok, why = False, f"name {a['name']!r} != {rname!r}"
        if rsha and a["sha256"] != rsha:
            ok, why = False, f"bytes of {a['name']!r} differ"
        if a["type"] != rtype:
            ok, why = False, f"type {a['type']} != {rtype}"
    case(f"{label} attachments", ok, why)


def huge_html(tmp):
    """More than 1 MiB of HTML: nested tables, lists, links, entities."""
    rows = []
    for i in range(6000):
        rows.append(f"<tr><td>row{i} &amp; cell</td><td><a href='https://example.com/r/{i}'>link{i}</a>"
                    f"</td><td><ul><li>item{i}</li></ul></td></tr>")
    body = ("<html><head><style>td{}</style></head><body><h1>Huge report</h1><table>"
            + "".join(rows) + "</table><p>" + "filler words here " * 20000 + "</p><p>endmarker</p></body></html>")
    path = os.path.join(tmp, "huge_html.eml")
    with open(path, "wb") as f:
        f.write(b"From: Big <big@example.org>\r\nTo: bob@ae.test\r\nSubject: Huge HTML\r\n"
                b"Content-Type: text/html; charset=utf-8\r\n\r\n" + body.encode())
    assert os.path.getsize(path) > 1024 * 1024
    return path


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    tool = os.path.join(build, "tests", "deliver_mimedump")
    if not os.access(tool, os.X_OK):
        print(f"FAIL deliver_mimedump missing ({tool})")
        sys.exit(1)
    files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml"))
    case("corpus has at least 30 messages", len(files) >= 30, str(len(files)))
    for f in files:
        check_file(tool, os.path.join(CORPUS, f), f[:-4])
    with tempfile.TemporaryDirectory() as tmp:
        check_file(tool, huge_html(tmp), "huge_html")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
