#!/usr/bin/python3
"""Writes the MIME test corpus (tests/data/mail/*.eml) for Deliver's parser.

Well-formed messages are built with Python's email package; broken ones are
written by hand below. The output is committed; run this again after changing
it: /usr/bin/python3 tests/data/mail/make-corpus.py. The huge HTML case (over
1 MiB) is not here: tests/cross/test_mime_cross.py makes it at test time.
"""
import base64
import email.policy
import hashlib
import os
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = email.policy.SMTP  # CRLF line ends


def blob(seed, n):
    """Deterministic bytes."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}-{i}".encode()).digest()
        i += 1
    return out[:n]


PNG = b"\x89PNG\r\n\x1a\n" + blob("png", 300)
PDF = b"%PDF-1.4\n" + blob("pdf", 700) + b"\n%%EOF\n"


def boundaries(msg, name):
    n = 0
    for part in msg.walk():
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            n += 1
            part.set_boundary(f"=_{name}_{n}_b0undary")


def base_headers(msg, subject, frm="Alice Example <alice@example.org>", to="bob@ae.test"):
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Tue, 01 Jul 2025 10:52:37 +0200"
    msg["Message-ID"] = f"<{abs(hash(subject)) % 10**8}.corpus@example.org>"


def write(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, name + ".eml"), "wb") as f:
        f.write(data)


def emit(name, msg):
    boundaries(msg, name)
    write(name, msg.as_bytes(policy=POLICY))


def legacy_headers(m, subject, frm="Alice Example <alice@example.org>", to="bob@ae.test"):
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Tue, 01 Jul 2025 10:52:37 +0200"
    m["Message-ID"] = "<%s.legacy@example.org>" % hashlib.sha256(subject.encode()).hexdigest()[:12]


def main():
    # 1. plain ASCII
    m = EmailMessage()
    base_headers(m, "Plain ASCII message")
    m.set_content("Hello Bob,\n\nthis is a plain message with a few lines.\n\n-- \nAlice\n")
    emit("plain_ascii", m)

    # 2. UTF-8 8bit body, encoded subject
    m = EmailMessage()
    base_headers(m, "Grüße aus Köln – ünïcödé ✓", frm="Jürgen Müller <jm@example.de>")
    m.set_content("Grüße aus Köln!\nDas Wetter ist schön, 25 °C.\nЗдравствуйте, 你好, مرحبا\n", cte="8bit")
    emit("plain_utf8_8bit", m)

    # 3. ISO-8859-1 quoted-printable with soft breaks
    m = MIMEText("Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade. " * 6 + "\nEnde.\n", "plain", "iso-8859-1")
    legacy_headers(m, "Latin-1 quoted-printable")
    write("plain_latin1_qp", m.as_bytes(policy=POLICY))

    # 4. windows-1252 8bit: smart quotes, euro, dashes
    body = "He said \u201chello\u201d \u2013 it costs \u20ac5 \u2026 don\u2019t worry.\n".encode("cp1252")
    write("plain_cp1252", b"From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          b"Subject: Windows-1252 body\r\nDate: Tue, 01 Jul 2025 10:52:37 +0200\r\n"
          b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\n"
          b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)

    # 5. Shift_JIS base64 body and subject
    jp = "\u65e5\u672c\u8a9e\u306e\u30c6\u30b9\u30c8\u3067\u3059\u3002\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\n"
    subj = "=?shift_jis?B?" + base64.b64encode("\u4ef6\u540d\u30c6\u30b9\u30c8".encode("shift_jis")).decode() + "?="
    write("plain_shift_jis", "From: Taro <taro@example.jp>\r\nTo: bob@ae.test\r\nSubject: %s\r\n"
          "Date: Tue, 01 Jul 2025 10:52:37 +0900\r\nMIME-Version: 1.0\r\n"
          "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
          % (subj, base64.encodebytes(jp.encode("shift_jis")).decode().replace("\n", "\r\n")))

    # 6. ISO-2022-JP 7bit, encoded subject
    jis_body = jp.encode("iso2022_jp")
    subj = "=?ISO-2022-JP?B?" + base64.b64encode("\u4ef6\u540d".encode("iso2022_jp")).decode() + "?="
    write("plain_iso2022jp", b"From: Hanako <hanako@example.jp>\r\nTo: bob@ae.test\r\nSubject: "
          + subj.encode() + b"\r\nDate: Tue, 01 Jul 2025 10:52:37 +0900\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
          + jis_body.replace(b"\n", b"\r\n"))

    # 7. multipart/alternative
    m = EmailMessage()
    base_headers(m, "Alternative text and HTML")
    m.set_content("Plain version: see https://example.com/plain\n")
    m.add_alternative("<html><body><p>HTML version with <b>bold</b> and "
                      "<a href='https://example.com/html'>a link</a>.</p></body></html>", subtype="html")
    emit("alt_text_html", m)

    # 8. mixed(related(alternative(plain, html), image), pdf)
    m = EmailMessage()
    base_headers(m, "Nested mixed related alternative")
    m.set_content("Nested plain text part.\n")
    m.add_alternative("<p>Nested <i>HTML</i> part with an image: <img src='cid:img1' alt='the logo'></p>",
                      subtype="html")
    m.get_payload()[1].add_related(PNG, "image", "png", cid="<img1>")
    m.add_attachment(PDF, "application", "pdf", filename="report.pdf")
    emit("nested_mixed_related_alt", m)

    # 9. attachment named by Content-Disposition
    m = EmailMessage()
    base_headers(m, "Attachment with filename")
    m.set_content("See the attached file.\n")
    m.add_attachment(PDF, "application", "pdf", filename="Quarterly results 2025.pdf")
    emit("attach_disposition_filename", m)

    # 10. attachment named only by Content-Type name=
    outer = MIMEMultipart("mixed")
    legacy_headers(outer, "Attachment with Content-Type name")
    outer.attach(MIMEText("Picture below.\n", "plain", "us-ascii"))
    img = MIMEBase("image", "png", name="photo.png")
    img.set_payload(PNG)
    from email import encoders
    encoders.encode_base64(img)
    outer.attach(img)
    write_b = outer
    boundaries(write_b, "attach_ctype_name")
    write("attach_ctype_name", write_b.as_bytes(policy=POLICY))

    # 11. RFC 2231 filename*= and continuations
    write("attach_rfc2231", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: RFC 2231 names\r\n"
          "Date: Tue, 01 Jul 2025 10:52:37 +0200\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
          "--XX\r\nContent-Type: text/plain\r\n\r\nTwo files with RFC 2231 names.\r\n"
          "--XX\r\nContent-Type: application/octet-stream\r\n"
          "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates%20%C3%A9t%C3%A9.txt\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"euro rates\n").decode() + "\r\n"
          "--XX\r\nContent-Type: application/octet-stream\r\n"
          "Content-Disposition: attachment;\r\n filename*0*=iso-8859-1''Tr%E8s%20long%20;\r\n"
          " filename*1=\"file name \";\r\n filename*2*=%E9t%E9.dat\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(blob("dat", 40)).decode() + "\r\n"
          "--XX--\r\n")

    # 12. base64 text
    m = MIMEText("Base64 encoded UTF-8 text: \u00e5\u00e4\u00f6 \u00df.\n" * 3, "plain", "utf-8")
    legacy_headers(m, "Base64 text body")
    write("base64_text", m.as_bytes(policy=POLICY))

    # 13. broken base64: junk characters, no padding
    good = base64.b64encode("Broken base64 still decodes: hello world, this is fine.\n".encode()).decode()
    good = good.rstrip("=")
    junk = good[:20] + "!!*" + good[20:40] + "\r\n  " + good[40:]
    write("base64_broken", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Broken base64\r\n"
          "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n" + junk + "\r\n")

    # 14. subjects: Q with underscores, adjacent words in mixed charsets
    write("subject_encoded_words", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          "Subject: =?iso-8859-1?q?caf=E9_au_lait?= =?utf-8?b?4pyTIGRvbmU=?=\r\n =?UTF-8?Q?_and_?= plain text\r\n"
          "Date: Tue, 01 Jul 2025 10:52:37 +0200\r\nContent-Type: text/plain\r\n\r\nbody\r\n")

    # 15. encoded names, groups, comments, quoted names
    write("names_encoded", "From: =?utf-8?b?w4lsb2RpZSBEdXBvbnQ=?= <elodie@example.fr>\r\n"
          "To: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>, \"Smith, Anna\" <anna@example.com>,\r\n"
          " friends: carl@example.com, Dora <dora@example.com>;, eve@example.com (Eve E.)\r\n"
          "Cc: undisclosed-recipients:;\r\nReply-To: \"Support Team\" <support@example.org>\r\n"
          "Subject: Names\r\nDate: Tue, 01 Jul 2025 10:52:37 +0200\r\n"
          "Content-Type: text/plain; charset=us-ascii\r\n\r\nNames test.\r\n")

    # 16. broken: no closing boundary
    write("broken_no_end_boundary", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          "Subject: Missing end boundary\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"abc\"\r\n\r\n--abc\r\nContent-Type: text/plain\r\n\r\n"
          "First part text.\r\n--abc\r\nContent-Type: text/plain\r\n\r\nSecond part never closed.\r\n")

    # 17. broken: the boundary parameter does not match the body
    write("broken_wrong_boundary", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          "Subject: Wrong boundary\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"right\"\r\n\r\n--wrong\r\nContent-Type: text/plain\r\n\r\n"
          "Text behind a wrong boundary must not be lost.\r\n--wrong--\r\n")

    # 18. broken: headers only, no blank line, no body
    write("broken_header_only", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Headers only")

    # 19. broken: bare LF line ends
    write("broken_bare_lf", "From: Alice <alice@example.org>\nTo: bob@ae.test\nSubject: Bare LF\n"
          "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=zz\n\n--zz\n"
          "Content-Type: text/plain\n\nBare LF plain part.\n--zz\nContent-Type: text/html\n\n"
          "<p>Bare LF html part.</p>\n--zz--\n")

    # 20. broken: NUL bytes in body and header
    write("broken_nul_bytes", b"From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          b"Subject: NUL\x00 bytes\r\nContent-Type: text/plain\r\n\r\nBefore\x00after NUL.\r\n")

    # 21. broken: raw 8-bit headers (UTF-8 subject, latin-1 name)
    write("broken_8bit_headers", "Subject: Raw UTF-8 Grüße ✓\r\n".encode()
          + b"From: J\xf6rg Meier <joerg@example.de>\r\nTo: bob@ae.test\r\n"
          b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Körper.\r\n".encode())

    # 22. rich HTML
    rich = """<!DOCTYPE html><html><head><title>Hidden title</title>
<style>p { color: red } .hidden { display: none }</style>
<script>var secret = "scriptword";</script></head>
<body><!-- a comment with commentword --><h1>Newsletter &amp; news</h1>
<p>Prices: &euro;10 &lt; &pound;20 &gt; &yen;5 &copy; 2025 &mdash; caf&eacute; &#233;t&#xE9; &hellip;</p>
<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>33</td></tr></table>
<ul><li>first item</li><li>second <em>item</em></li></ul><ol><li>one</li><li>two</li></ol>
<p><a href="http://example.com/plain">http link</a>, <a href="https://example.com/secure?a=1&amp;b=2">https link</a>,
<a href="javascript:alert(1)">script link</a>, <a href="data:text/html,evil">data link</a>,
<a href="mailto:x@example.com">mail link</a></p>
<pre>  preformatted
    text   kept</pre><p>Sub<sub>2</sub> sup<sup>3</sup> <s>old</s> <u>under</u> <small>fine print</small></p>
<img src="https://example.com/pixel.gif" alt="tracking pixel"><br>last line</body></html>"""
    m = EmailMessage()
    base_headers(m, "Rich HTML")
    m.set_content(rich, subtype="html")
    emit("html_rich", m)

    # 23. message/rfc822 attached
    inner = EmailMessage()
    base_headers(inner, "The original message", frm="Carol <carol@example.net>")
    inner.set_content("This is the forwarded message body.\n")
    m = EmailMessage()
    base_headers(m, "Fwd: The original message")
    m.set_content("Forwarding this.\n")
    m.add_attachment(inner)
    emit("message_rfc822", m)

    # 24/25. empty message, empty body
    write("empty", b"")
    write("empty_body", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Empty body\r\n\r\n")

    # 26. format=flowed
    write("flowed", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Flowed\r\n"
          "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
          "This paragraph is \r\nflowed over \r\nthree lines.\r\n\r\n> Quoted text \r\n> continues here.\r\n"
          ">> Deeper quote.\r\n \r\n-- \r\nSignature\r\n")

    # 27. HTML only, charset in <meta> only
    write("html_meta_charset", b"From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Meta charset\r\n"
          b"Content-Type: text/html\r\n\r\n<html><head><meta charset=\"windows-1252\"></head>"
          b"<body><p>Quote \x93marks\x94 and \x80uro</p></body></html>\r\n")

    # 28. multipart/signed
    write("multipart_signed", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Signed\r\n"
          "MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n"
          " protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n--sig\r\n"
          "Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned text.\r\n--sig\r\n"
          "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n"
          "-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--sig--\r\n")

    # 29. multipart/digest: parts default to message/rfc822
    write("digest", "From: list@example.org\r\nTo: bob@ae.test\r\nSubject: Digest\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/digest; boundary=\"dg\"\r\n\r\n--dg\r\n\r\n"
          "From: a@example.org\r\nSubject: First digest entry\r\n\r\nEntry one.\r\n--dg\r\n\r\n"
          "From: b@example.org\r\nSubject: Second digest entry\r\n\r\nEntry two.\r\n--dg--\r\n")

    # 30. more attachments than MIME_ATTACH_MAX (64)
    m = EmailMessage()
    base_headers(m, "Seventy attachments")
    m.set_content("Many files.\n")
    for i in range(70):
        m.add_attachment(blob(f"att{i}", 20 + i), "application", "octet-stream", filename=f"file{i:02d}.bin")
    emit("many_attachments", m)

    # 31. mailing list footer after an alternative
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("List post plain.\n", "plain", "utf-8"))
    alt.attach(MIMEText("<p>List post <b>html</b>.</p>", "html", "utf-8"))
    outer = MIMEMultipart("mixed")
    legacy_headers(outer, "List post")
    outer.attach(alt)
    outer.attach(MIMEText("--\nList footer: unsubscribe at https://lists.example.org\n", "plain", "us-ascii"))
    boundaries(outer, "list_footer")
    write("list_footer", outer.as_bytes(policy=POLICY))

    # 32. text/plain attachment
    m = EmailMessage()
    base_headers(m, "Text attachment")
    m.set_content("Body text.\n")
    m.add_attachment("notes in a file\n", filename="notes.txt")
    emit("text_attachment", m)

    # 33. Apple Mail: alternative(plain, mixed(html, image, html))
    mixed = MIMEMultipart("mixed")
    mixed.attach(MIMEText("<p>Before the picture.</p>", "html", "utf-8"))
    pic = MIMEBase("image", "png", name="inline.png")
    pic.add_header("Content-Disposition", "inline", filename="inline.png")
    pic.set_payload(PNG)
    encoders.encode_base64(pic)
    mixed.attach(pic)
    mixed.attach(MIMEText("<p>After the picture.</p>", "html", "utf-8"))
    alt = MIMEMultipart("alternative")
    legacy_headers(alt, "Apple style")
    alt.attach(MIMEText("Before the picture.\n\nAfter the picture.\n", "plain", "utf-8"))
    alt.attach(mixed)
    boundaries(alt, "apple")
    write("apple_inline", alt.as_bytes(policy=POLICY))

    # 34. obsolete date and zone
    write("date_obsolete", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: Old date\r\n"
          "Date: 5 Nov 99 23:15 EST\r\nContent-Type: text/plain\r\n\r\nOld style date.\r\n")

    # 35. many trace headers, DKIM, long folded header
    hdrs = "".join("Received: from relay%d.example.net by mx.example.org; Tue, 1 Jul 2025 10:%02d:00 +0000\r\n"
                   % (i, i) for i in range(30))
    write("long_headers", hdrs + "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\r\n"
          " bh=AAAA; b=BBBB\r\nFrom: Alice <alice@example.org>\r\nTo: bob@ae.test\r\n"
          "X-Long: " + " ".join("word%d" % i for i in range(200)).replace("word99 ", "word99\r\n ") + "\r\n"
          "Subject: Long headers\r\nList-Id: <list.example.org>\r\n\r\nBody after many headers.\r\n")

    # 36. quoted-printable HTML with soft breaks inside tags, windows-1252
    write("html_qp_cp1252", "From: Alice <alice@example.org>\r\nTo: bob@ae.test\r\nSubject: QP HTML\r\n"
          "Content-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "<div><a href=3D\"https://example.com/a-very-long-path/that-is-broken-by-a-so=\r\nft-break\">"
          "Read more</a> =93quoted=94 =E9l=E8ve</div>\r\n")


if __name__ == "__main__":
    main()
