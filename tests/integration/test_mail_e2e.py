#!/usr/bin/python3
"""test_mail_e2e.py: incoming mail end to end. Real SMTP clients (Python's
smtplib, plain and STARTTLS, and swaks) send to the MTA; Deliver converts the
mail, asks Enquiry (which asks a dnsmasq this test runs on loopback) for DKIM
keys, SPF and DMARC policies and reverse DNS, and stores the Envelopes; the
recipient reads every message with the `allears` client and finds the subject,
sender, text, links and attachments that were sent, and the authentication
results the published records call for.

Also: known and unknown normal addresses get identical replies; an unknown
shield address gets 550 5.1.1; with Storage stopped senders get 4xx and their
retries land after it is back; kill -9 of Deliver while mail flows loses
nothing that was acknowledged; nothing the server wrote holds a canary.

Usage: /usr/bin/python3 test_mail_e2e.py <builddir>"""

import base64
import email
import email.policy
import glob
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from dnsserver import DNSServer  # noqa: E402
import itest  # noqa: E402
from itest import case, BUILD, ClientUser  # noqa: E402

import dkim  # noqa: E402  (Debian python3-dkim: the independent signer)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOMAIN = "allears.test"
SENDER_DOMAIN = "sender.test"
HELO = "mx.sender.test"
CANARY_SUBJECT = "mail-e2e canary subject 5c1e"
CANARY_BODY = "mail-e2e-canary-body-90ab"
ROLES = ["enquiry", "storage", "account", "deliver", "mta", "api"]


def dkim_keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    rsa_pub = rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_raw = ed_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
    ed_pub = ed_key.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
    return rsa_pem, rsa_pub, base64.b64encode(ed_raw), ed_pub


def records(rsa_pub, ed_pub):
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return [
        ("A", HELO, "127.0.0.1"),  # also answers the PTR of 127.0.0.1
        ("MX", SENDER_DOMAIN, 10, HELO),
        ("TXT", "rsa._domainkey." + SENDER_DOMAIN, "v=DKIM1; k=rsa; p=" + b64(rsa_pub)),
        ("TXT", "ed._domainkey." + SENDER_DOMAIN, "v=DKIM1; k=ed25519; p=" + b64(ed_pub)),
        ("TXT", SENDER_DOMAIN, "v=spf1 ip4:127.0.0.1 -all"),
        ("TXT", "_dmarc." + SENDER_DOMAIN, "v=DMARC1; p=reject"),
        ("TXT", "other.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("TXT", "_dmarc.other.test", "v=DMARC1; p=quarantine"),
    ]


class Mailer:
    def __init__(self, system):
        self.port = system.port("smtp")
        self.ca = system.tls_ca

    def smtp(self, tls=False):
        s = smtplib.SMTP("127.0.0.1", self.port, local_hostname=HELO, timeout=60)
        s.ehlo()
        if tls:
            s.starttls(context=ssl.create_default_context(cafile=self.ca))
            s.ehlo()
        return s

    def send_retrying(self, raw, rcpts, tries=50):
        """As a sender does: a 4xx means try again later (here: 0.2 s later)."""
        code = 0
        for _ in range(tries):
            code, _ = self.send(raw, rcpts)
            if not 400 <= code < 500:
                break
            time.sleep(0.2)
        return code

    def send(self, raw, rcpts, mail_from="alice@" + SENDER_DOMAIN, tls=False, options=()):
        """Sends raw bytes; returns (code, text) of the reply to the end of DATA,
        or the first refusal."""
        s = self.smtp(tls)
        try:
            code, text = s.mail(mail_from, list(options))
            if code != 250:
                return code, text
            for r in rcpts:
                code, text = s.rcpt(r)
                if code not in (250, 251):
                    return code, text
            return s.data(raw)
        finally:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass


def list_all(user):
    return user.json("mail", "list")["messages"]


def find(mails, subject):
    return [m for m in mails if m.get("subject") == subject]


def wait_for(fn, timeout=30):
    """Polls fn (a client query) until it returns a true value."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.2)


def main():
    root = tempfile.mkdtemp(prefix="allears-mail-e2e-")
    rsa_pem, rsa_pub, ed_priv, ed_pub = dkim_keys()
    with DNSServer(records(rsa_pub, ed_pub)) as dns:
        system = System(BUILD, roles=ROLES, init_admin=True,
                        config_extra={"enquiry": {"resolvers": [dns.address]},
                                      # Many messages from one address: the per-IP
                                      # limits are test_mta.py's subject, not this one's.
                                      "mta": {"rcpts_per_ip_minute": 100000,
                                              "max_sessions_per_ip": 200}}).start()
        try:
            tests(system, root, (rsa_pem, ed_priv))
        finally:
            status = system.stop()
            case("clean_stop", all(v == 0 for v in status.values()), str(status))
            scan_privacy(system)
            if system.own_state:
                shutil.rmtree(system.state, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)


def setup_users(system, root):
    admin, bob = ClientUser(system, root, "admin"), ClientUser(system, root, "bob")
    admin.run("key", "import", system.admin_umk, "--uid", "0")
    inv = admin.json("admin", "invite", "--level", "1")["invitation"]
    bob.run("init")
    bob.json("register", inv)
    case("bob_normal_address", bob.run("address", "add", "Bob.Smith", "--nick", "main")
         .returncode == 0)
    case("bob_keeps_originals", bob.run("address", "flags", "main", "+keep-original")
         .returncode == 0)
    shield = bob.json("address", "shield")["address"]
    return admin, bob, shield


def tests(system, root, keys):
    admin, bob, shield = setup_users(system, root)
    m = Mailer(system)
    bob_addr = "bob.smith@" + DOMAIN
    seen = set()

    def new_mail(subject):
        found = wait_for(lambda: [x for x in list_all(bob) if x.get("subject") == subject
                                  and x["id"] not in seen], 10)
        for x in found:
            seen.add(x["id"])
        return [bob.json("mail", "read", str(x["id"])) for x in found]

    # 1. multipart/alternative with a link and an attachment, plain SMTP.
    att = os.urandom(50000)
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@%s>" % SENDER_DOMAIN
    msg["To"] = "Bob <%s>" % bob_addr
    msg["Subject"] = CANARY_SUBJECT
    msg["Message-ID"] = "<e2e-1@%s>" % SENDER_DOMAIN
    msg.set_content("Hello Bob,\n%s\nSee https://example.org/page for more.\n" % CANARY_BODY)
    msg.add_alternative("<html><body><p>Hello <b>Bob</b>, %s</p>"
                        "<p><a href=\"https://example.org/page\">the page</a></p>"
                        "<script>alert(1)</script></body></html>" % CANARY_BODY,
                        subtype="html")
    msg.add_attachment(att, maintype="application", subtype="pdf", filename="report.pdf")
    code, _ = m.send(msg.as_bytes(), [bob_addr])
    case("plain_smtp_250", code == 250, code)
    got = new_mail(CANARY_SUBJECT)
    ok = len(got) == 1
    case("plain_mail_arrives_once", ok, got)
    if ok:
        g = got[0]
        case("plain_mail_sender", "alice@" + SENDER_DOMAIN in g.get("header_from", "") and
             g.get("envelope_from") == "alice@" + SENDER_DOMAIN, g.get("header_from"))
        case("plain_mail_text", CANARY_BODY in g.get("body", "") and "Hello" in g["body"],
             g.get("body", "")[:400])
        case("plain_mail_link", "example.org/page" in g.get("body", ""), g.get("body", "")[:400])
        case("plain_mail_no_script", "alert(1)" not in g.get("body", ""))
        case("plain_mail_no_tls", g.get("tls") in ("none", "", None) or "none" in str(g["tls"])
             .lower(), g.get("tls"))
        names = [a.get("subject") or a.get("from") for a in g.get("attachments", [])]
        case("plain_mail_attachment_listed", any("report.pdf" in str(a) for a in
                                                 g.get("attachments", [])), names)
        pdf = [a for a in g.get("attachments", []) if "report.pdf" in str(a)]
        if pdf:
            out = os.path.join(root, "report.pdf")
            dl = bob.run("download", str(pdf[0]["id"]), "-o", out)
            data = open(out, "rb").read() if dl.returncode == 0 else b""
            case("plain_mail_attachment_bytes", data == att, dl.stderr[-300:])
        src = [a for a in g.get("attachments", []) if "original" in str(a).lower()
               or ".eml" in str(a)]
        case("plain_mail_original_kept", len(src) == 1, g.get("attachments"))
        case("plain_mail_message_id", g.get("message_id") == "e2e-1@" + SENDER_DOMAIN,
             g.get("message_id"))
        case("plain_mail_spf_pass", g.get("spf") == "pass", g.get("spf"))
        case("plain_mail_rdns", g.get("rdns") == HELO, g.get("rdns"))
        case("plain_mail_ip", g.get("ip") == "127.0.0.1", g.get("ip"))

    # 2. STARTTLS with a text/plain message.
    msg = EmailMessage()
    msg["From"] = "alice@" + SENDER_DOMAIN
    msg["To"] = bob_addr
    msg["Subject"] = "over tls"
    msg.set_content("This one was encrypted in transit.\n")
    code, _ = m.send(msg.as_bytes(), [bob_addr], tls=True)
    case("starttls_250", code == 250, code)
    got = new_mail("over tls")
    case("starttls_mail_records_tls", len(got) == 1 and "1.3" in str(got[0].get("tls")) and
         "encrypted in transit" in got[0].get("body", ""), got[0] if got else got)

    # 3. SMTPUTF8 and 8BITMIME declared by smtplib: UTF-8 in headers and body.
    subj = "Grüße aus Köln ☃"
    raw = ("From: Jürgen <alice@%s>\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Schöne Grüße, 東京\r\n" % (SENDER_DOMAIN, bob_addr, subj)).encode()
    code, _ = m.send(raw, [bob_addr], options=("BODY=8BITMIME", "SMTPUTF8"))
    case("smtputf8_250", code == 250, code)
    got = new_mail(subj)
    case("utf8_subject_and_body", len(got) == 1 and "東京" in got[0].get("body", "") and
         "Jürgen" in got[0].get("header_from", ""), got[0] if got else got)
    case("utf8_flags_recorded", len(got) == 1 and (got[0].get("flags", 0) & 0x0600) == 0x0600,
         got[0].get("flags") if got else None)

    # 4. swaks: pipelining, an 8-bit body, many recipients (bob among unknowns).
    rcpts = [bob_addr] + ["nobody%d@%s" % (i, DOMAIN) for i in range(30)]
    body = "Zeile mit Umlauten: äöü\nswaks pipelined body\n"
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(m.port), "--pipeline",
                        "--helo", HELO, "--from", "carol@" + SENDER_DOMAIN,
                        "--to", ",".join(rcpts), "--header", "Subject: swaks pipelined",
                        "--body", body, "--timeout", "60"],
                       capture_output=True, text=True, timeout=120)
    case("swaks_pipelining_accepted", p.returncode == 0 and "PIPELINING" in p.stdout,
         p.stdout[-800:] + p.stderr[-300:])
    got = new_mail("swaks pipelined")
    case("swaks_mail_once_for_bob", len(got) == 1 and "swaks pipelined body" in
         got[0].get("body", "") and (got[0].get("flags", 0) & 0x0004), got)

    # 5. DKIM with RSA and Ed25519 keys published in DNS; an altered copy fails.
    rsa_pem, ed_priv = keys
    base = ("From: Alice <alice@%s>\r\nTo: %s\r\nSubject: %%s\r\nDate: %s\r\n"
            "Message-ID: <%%s@%s>\r\n\r\nSigned body line.\r\n" %
            (SENDER_DOMAIN, bob_addr, email.utils.formatdate(), SENDER_DOMAIN))
    for algo, sel, key in (("rsa-sha256", b"rsa", rsa_pem), ("ed25519-sha256", b"ed", ed_priv)):
        raw = (base % ("dkim " + algo, "dkim-" + algo)).encode()
        sig = dkim.sign(raw, sel, SENDER_DOMAIN.encode(), key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        signature_algorithm=algo.encode(),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        code, _ = m.send(sig + raw, [bob_addr])
        got = new_mail("dkim " + algo)
        d = got[0].get("dkim", []) if got else []
        case("dkim_%s_pass" % algo, code == 250 and len(d) == 1 and d[0]["result"] == "pass" and
             d[0]["domain"] == SENDER_DOMAIN, d)
        case("dmarc_pass_%s" % algo, got and got[0].get("dmarc") == "pass",
             got[0].get("dmarc") if got else None)
        altered = (sig + raw).replace(b"Signed body line.", b"Signed body line!")
        altered = altered.replace(("dkim " + algo).encode(), ("altered " + algo).encode())
        code, _ = m.send(altered, [bob_addr])
        got = new_mail("altered " + algo)
        d = got[0].get("dkim", []) if got else []
        case("dkim_%s_altered_fails" % algo, code == 250 and len(d) == 1 and
             d[0]["result"] == "fail", d)

    # 6. SPF and DMARC fail: other.test allows only 192.0.2.1.
    raw = ("From: mallory@other.test\r\nTo: %s\r\nSubject: spoofed\r\n\r\nhi\r\n" %
           bob_addr).encode()
    code, _ = m.send(raw, [bob_addr], mail_from="mallory@other.test")
    got = new_mail("spoofed")
    case("spf_fail_dmarc_fail_recorded_not_rejected",
         code == 250 and len(got) == 1 and got[0].get("spf") == "fail" and
         got[0].get("dmarc") == "fail", got[0] if got else got)

    # 7. Known and unknown normal addresses: identical replies (over TLS, since
    # Account gives some unknown addresses the REQUIRE_TLS flag, as real
    # addresses may have it).
    def dialogue(rcpt):
        s = m.smtp(tls=True)
        try:
            r1 = s.mail("alice@" + SENDER_DOMAIN)
            r2 = s.rcpt(rcpt)
            r3 = s.data(b"Subject: probe\r\n\r\nprobe\r\n")
            return r1, r2, r3
        finally:
            s.quit()
    known, unknown = dialogue(bob_addr), dialogue("zz9plural@" + DOMAIN)
    case("known_unknown_normal_identical_replies", known == unknown, (known, unknown))
    new_mail("probe")

    # 8. Unknown shield: 550 5.1.1; the real shield works.
    s = m.smtp()
    s.mail("alice@" + SENDER_DOMAIN)
    code, text = s.rcpt("abcdefghjkmnpqrs@" + DOMAIN)
    case("unknown_shield_550_5_1_1", code == 550 and text.startswith(b"5.1.1"), (code, text))
    code, text = s.rcpt("%s@%s" % (shield.replace("-", ""), DOMAIN))
    case("real_shield_250", code == 250, (code, text))
    s.quit()

    # 9. Storage stopped: 4xx; after it is back, the retry lands.
    system.kill("storage", signal.SIGTERM)
    raw = ("From: alice@%s\r\nTo: %s\r\nSubject: while storage is down\r\n\r\nretry me\r\n" %
           (SENDER_DOMAIN, bob_addr)).encode()
    code, _ = m.send(raw, [bob_addr])
    case("storage_down_4xx", 400 <= code < 500, code)
    # A message only for an unknown address gets the same answer (over TLS:
    # some unknown addresses carry the decoy REQUIRE_TLS flag).
    code, _ = m.send(raw, ["zz9plural@" + DOMAIN], tls=True)
    case("storage_down_unknown_address_4xx_too", 400 <= code < 500, code)
    system.restart("storage")
    code = 0
    for _ in range(50):
        code, _ = m.send(raw, [bob_addr])
        if code == 250:
            break
        time.sleep(0.2)  # a sender's retry interval, kept short
    got = new_mail("while storage is down")
    case("storage_back_retry_delivered", code == 250 and len(got) == 1, (code, got))

    # 10. kill -9 of Deliver while senders keep sending: every 250 is readable.
    acked, lock = [], threading.Lock()

    def sender(k):
        for i in range(6):
            subject = "flow %d-%d" % (k, i)
            raw = ("From: alice@%s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody %s\r\n" %
                   (SENDER_DOMAIN, bob_addr, subject, subject)).encode()
            for _ in range(100):
                try:
                    code, _ = m.send(raw, [bob_addr])
                except (smtplib.SMTPException, OSError):
                    code = 0
                if code == 250:
                    with lock:
                        acked.append(subject)
                    break
                time.sleep(0.1)
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    system.kill("deliver", signal.SIGKILL)
    system.restart("deliver")
    for t in threads:
        t.join()
    subjects = [x.get("subject") for x in list_all(bob)]
    lost = [s for s in acked if s not in subjects]
    case("kill_deliver_nothing_acknowledged_lost", len(acked) == 24 and not lost,
         "acked %d, lost %s" % (len(acked), lost))

    # 11. The corpus goes through SMTP and reads back with its text.
    corpus(m, bob, bob_addr, seen)


def corpus(m, bob, bob_addr, seen):
    files = sorted(glob.glob(os.path.join(TOP, "tests", "data", "mail", "*.eml")))
    if not case("corpus_present", len(files) >= 30, len(files)):
        return
    bad, sent = [], {}
    for i, path in enumerate(files):
        raw = open(path, "rb").read()
        tag = "corpus-%03d" % i
        # A header to find it by, in front of the message's own headers. Deliver
        # was killed just before: the MTA may still be reconnecting (4xx, retried).
        code = m.send_retrying(b"X-Corpus-Tag: " + tag.encode() + b"\r\n" + raw, [bob_addr])
        if code != 250:
            bad.append((os.path.basename(path), "reply %d" % code))
        else:
            sent[tag] = path
    got = {}
    for x in list_all(bob):
        if x["id"] in seen or x.get("type") != "mail":
            continue
        full = bob.json("mail", "read", str(x["id"]))
        for tag in sent:
            if "X-Corpus-Tag: " + tag in full.get("headers", ""):
                got.setdefault(tag, []).append(full)
    for tag, path in sent.items():
        ref = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
        words = []
        for part in text_parts(ref):
            if part.get_content_type() == "text/plain" and not part.is_attachment():
                try:
                    words += part.get_content().split()[:20]
                except (LookupError, ValueError, AssertionError):
                    pass
        words = [w for w in words if w.isalnum()][:10]
        mails = got.get(tag, [])
        if len(mails) != 1:
            bad.append((os.path.basename(path), "found %d times" % len(mails)))
            continue
        missing = [w for w in words if w not in mails[0].get("body", "")]
        if missing:
            bad.append((os.path.basename(path), "missing %s" % missing[:5]))
    case("corpus_through_smtp_text_intact", not bad, bad)


def text_parts(msg):
    """The parts of msg as walk() gives them, except inside a forwarded message
    (message/rfc822, also in a digest): Deliver keeps that as an .eml attachment."""
    if msg.get_content_maintype() == "message" and msg.get_content_subtype() == "rfc822":
        return
    yield msg
    if msg.is_multipart():
        for sub in msg.iter_parts():
            yield from text_parts(sub)


def scan_privacy(system):
    needles = [CANARY_SUBJECT, CANARY_BODY, "bob.smith", "alice@" + SENDER_DOMAIN]
    hits = []
    for dirpath, _, names in os.walk(system.state):
        if "/keys" in dirpath or "/tls" in dirpath or dirpath.endswith("credentials"):
            continue
        for n in names:
            p = os.path.join(dirpath, n)
            if n == "config.json" or not os.path.isfile(p):
                continue
            data = open(p, "rb").read()
            for s in needles:
                if s.encode() in data or s.lower().encode() in data.lower():
                    hits.append((p, s))
    case("privacy_no_canary_in_state_or_logs", not hits, hits[:5])


if __name__ == "__main__":
    main()
    sys.exit(1 if itest.failures else 0)
