#!/usr/bin/python3
"""test_mta.py: allears-mta through the local launcher, with Account and
Storage and a stand-in for Deliver (build/tests/dlvstub, which writes every
delivery record it receives into a directory and answers what a control file
says). Driven by clients nobody here wrote: Python's smtplib and ssl, swaks and
openssl s_client, plus raw sockets for what they cannot send (bare LF,
garbage, plaintext after STARTTLS). Each test uses its own loopback source
address (127.0.0.N), so the per-network limits of one do not touch another.

Usage: /usr/bin/python3 test_mta.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import glob
import json
import os
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from itest import *  # noqa: E402,F401,F403
import itest  # noqa: E402

DOMAIN = "allears.test"
STUB = os.path.join(BUILD, "tests", "dlvstub")
# Session flags of the record (message.h MSG_EXT_F_*).
F_ESMTP, F_STARTTLS, F_PIPELINING = 0x1, 0x2, 0x4
F_BARE_LF, F_PROTO, F_INVALID, F_RARE, F_8BIT, F_UTF8 = 0x20, 0x40, 0x80, 0x100, 0x200, 0x400
MAX_MESSAGE = 100000
CONFIG = {"mta": {
    "command_timeout_ms": 3000,
    "data_timeout_ms": 2000,
    "deliver_timeout_ms": 2000,
    "max_message_bytes": MAX_MESSAGE,
    "max_sessions": 12,
    "max_sessions_per_ip": 5,
    "rcpts_per_ip_minute": 120,
    "greeting_delay_ms": 150,  # so a client can talk before the greeting
}}

out_dir = tempfile.mkdtemp(prefix="mta-test-records-")
control = os.path.join(out_dir, "control")


def set_stub(status):
    with open(control + ".tmp", "w") as f:
        f.write(status + "\n")
    os.rename(control + ".tmp", control)


def records():
    return sorted(glob.glob(os.path.join(out_dir, "*.json")))


def record(path):
    with open(path) as f:
        r = json.load(f)
    with open(path[:-5] + ".eml", "rb") as f:
        r["message"] = f.read()
    return r


def last_record():
    return record(records()[-1])


class Raw:
    """An SMTP session over a plain socket, for what real clients never send."""

    def __init__(self, port, src):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15,
                                          source_address=(src, 0))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def reply(self):
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]), lines

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, data):
        self.send(data + b"\r\n")
        return self.reply()

    def eof(self):
        """True once the server has closed (reads what is left first)."""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def smtp(port, src):
    return smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(src, 0))


def tls_context(system):
    ctx = ssl.create_default_context(cafile=system.tls_ca)
    return ctx


def setup_users(system):
    """The master admin with alice (normal), secure (normal, REQUIRE_TLS) and a
    shield address; returns the shield address as text."""
    clock = Clock()
    api = Chan(system, "api", "account")
    with open(os.path.join(system.state_dir("account"), "bootstrap-invite")) as f:
        invite = f.read().strip()
    uak, epk = new_user_keys()
    ts, ans = register(api, clock, invite, uak, epk)
    if ans.status != OK:
        raise RuntimeError("registration failed: %d" % ans.status)
    admin = Client(api, clock, uak, 0)
    info = admin.req(INFO).data
    params, salt = info[24:32], info[32:48]
    for name in ("alice", "secure"):
        if admin.req(ADD_NORMAL, normal_hash(addr32(name), salt, params)).status != OK:
            raise RuntimeError("adding %s failed" % name)
    h = normal_hash(addr32("secure"), salt, params)
    if admin.req(SET_FLAGS, h + bytes([0, 0x1E])).status != OK:
        raise RuntimeError("set flags failed")
    ans = admin.req(ADD_SHIELD)
    shield = ans.data[8:]
    text = run(ADDRTOOL, "decode", stdin=shield.hex() + "\n").split()[-1]
    return text, shield


def decoys(system):
    """Unknown normal addresses whose decoy flags lack and carry REQUIRE_TLS."""
    mta = Chan(system, "mta", "account")
    plain = tls = None
    seen = {}
    for i in range(200):
        name = "nobody%d" % i
        st, uid, fl = lookup(mta, addr32(name))
        seen[name] = fl
        if st == OK and uid == 0xFFFF:
            if fl & 0x10 and tls is None:
                tls = name
            elif not fl & 0x10 and plain is None:
                plain = name
        if plain and tls and i >= 15:
            break
    return plain, tls, seen


def main():
    if not os.access(STUB, os.X_OK):
        print("FAIL dlvstub_built %s is missing" % STUB)
        return 1
    set_stub("ok")
    system = System(BUILD, roles=["storage", "account", "deliver", "mta"], quiet=True,
                    config_extra=CONFIG,
                    binaries={"deliver": [STUB, "--out", out_dir, "--control", control]})
    system.start()
    try:
        tests(system)
    finally:
        status = system.stop()
        case("clean_stop", all(v == 0 for v in status.values()), str(status))
        shutil.rmtree(out_dir, ignore_errors=True)
    return 1 if itest.failures else 0


def tests(system):
    port = system.port("smtp")
    shield_text, shield = setup_users(system)
    plain_decoy, tls_decoy, decoy_flags = decoys(system)
    n_tls = sum(1 for f in decoy_flags.values() if f & 0x10)
    print("# Account's decoys: %d of %d unknown normal addresses carry REQUIRE_TLS (flags %s)"
          % (n_tls, len(decoy_flags), sorted(set("0x%02x" % f for f in decoy_flags.values()))))
    case("decoy_flags_seen", plain_decoy is not None and tls_decoy is not None,
         str((plain_decoy, tls_decoy)))

    # ---- smtplib, plain ----
    c = smtp(port, "127.0.0.2")
    code, ehlo = c.ehlo("client.example")
    feats = ehlo.decode().split("\n")
    case("ehlo_extensions", code == 250 and feats[0] == DOMAIN and
         {"PIPELINING", "SIZE %d" % MAX_MESSAGE, "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME",
          "SMTPUTF8"} <= set(feats), ehlo)
    body = (b"From: a@b.example\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading\r\n"
            b"mid.dle\r\nend\r\n")
    before = len(records())
    refused = c.sendmail("sender@b.example", ["alice@" + DOMAIN], body)
    case("plain_accepted", refused == {} and len(records()) == before + 1)
    r = last_record()
    case("record_bytes_unstuffed", r["message"] == body, repr(r["message"][:80]))
    case("record_facts_plain",
         r["ip"] == "127.0.0.2" and r["ip_family"] == 4 and r["helo"] == "client.example" and
         r["env_from"] == "sender@b.example" and r["tls_version"] == 0 and
         r["tls_suite"] == 0 and r["flags"] == F_ESMTP and
         r["rcpts"] == [{"uid": 0, "flags": 0x0C, "local": "alice"}] and
         abs(r["ts"] - time.time() * 1000) < 60000, str(r))
    # Known and unknown normal addresses answer alike.
    c.rset()
    c.mail("sender@b.example")
    known = c.rcpt("alice@" + DOMAIN)
    unknown = c.rcpt(plain_decoy + "@" + DOMAIN)
    case("known_unknown_identical", known == unknown == (250, b"2.1.5 Recipient OK"),
         str((known, unknown)))
    bad_shield = bytes([shield[0]]) + bytes(b ^ 0x5A for b in shield[1:])
    bad_text = run(ADDRTOOL, "decode", stdin=bad_shield.hex() + "\n").split()[-1]
    case("unknown_shield_550", c.rcpt(bad_text + "@" + DOMAIN)[0] == 550 and
         c.rcpt(bad_text + "@" + DOMAIN)[1].startswith(b"5.1.1"))
    case("known_shield_250", c.rcpt(shield_text + "@" + DOMAIN)[0] == 250)
    case("relay_refused", c.rcpt("bob@example.org") == (550, b"5.7.1 Relaying denied: not a "
                                                          b"domain served here"))
    case("invalid_address_550", c.rcpt("system@" + DOMAIN)[0] == 550)
    # REQUIRE_TLS: the real one and a decoy refuse plain text the same way.
    rs = c.rcpt("secure@" + DOMAIN)
    rd = c.rcpt(tls_decoy + "@" + DOMAIN)
    case("require_tls_plain_450", rs[0] == 450 and b"requires TLS" in rs[1] and rs == rd,
         str((rs, rd)))
    c.quit()

    # ---- smtplib with STARTTLS ----
    c = smtp(port, "127.0.0.3")
    c.starttls(context=tls_context(system))
    code, ehlo = c.ehlo("tls.example")
    case("starttls_verified", c.sock.version() == "TLSv1.3" and b"STARTTLS" not in ehlo,
         c.sock.version())
    rs = c.rcpt("secure@" + DOMAIN) if c.mail("s@b.example")[0] == 250 else None
    rd = c.rcpt(tls_decoy + "@" + DOMAIN)
    rp = c.rcpt("Postmaster")
    case("require_tls_over_tls_250", rs == rd == rp == (250, b"2.1.5 Recipient OK"),
         str((rs, rd, rp)))
    code, resp = c.data(b"Subject: tls\r\n\r\nover TLS\r\n")
    r = last_record()
    case("record_facts_tls", code == 250 and r["tls_version"] == 4 and
         r["tls_suite"] in (0x1301, 0x1302, 0x1303) and r["flags"] == F_ESMTP | F_STARTTLS and
         r["helo"] == "tls.example" and
         [x["local"] for x in r["rcpts"]] == ["secure", tls_decoy, "Postmaster"] and
         r["rcpts"][0]["uid"] == 0 and r["rcpts"][0]["flags"] == 0x1C and
         r["rcpts"][1]["uid"] == 0xFFFF, str(r))
    c.quit()

    # ---- 8BITMIME and SMTPUTF8 (over TLS: an unknown address may carry a
    # REQUIRE_TLS decoy) ----
    c = smtp(port, "127.0.0.4")
    c.starttls(context=tls_context(system))
    c.ehlo("utf8.example")
    body = "Subject: Grüße\r\n\r\nÄpfel und Birnen\r\n".encode()
    refused = c.sendmail("jörg@bücher.example", ["alice@" + DOMAIN, "jörg@" + DOMAIN], body,
                         mail_options=["BODY=8BITMIME", "SMTPUTF8"])
    r = last_record()
    case("smtputf8_8bitmime", refused == {} and
         r["flags"] == F_ESMTP | F_STARTTLS | F_8BIT | F_UTF8 and
         r["env_from"] == "jörg@bücher.example" and r["rcpts"][1]["local"] == "jörg" and
         r["message"] == body, str(r))
    c.mail("a@b.example")
    case("utf8_needs_smtputf8", c.rcpt("jörg@" + DOMAIN)[0] == 553)
    c.rset()
    case("size_declared_too_big", c.mail("a@b.example", ["SIZE=%d" % (MAX_MESSAGE + 1)])[0] == 552)
    c.quit()

    # ---- swaks: pipelining, 100 recipients (unknown ones: TLS, for the
    # decoys), the 101st refused ----
    rcpts = ["r%d@%s" % (i, DOMAIN) for i in range(101)]
    before = len(records())
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--local-interface",
                        "127.0.0.5", "--pipeline", "-tls", "--tls-verify", "--tls-ca-path",
                        system.tls_ca, "--h-To", "list@" + DOMAIN, "--from", "bulk@b.example", "--to",
                        ",".join(rcpts), "--helo", "swaks.example", "--body", "many",
                        "--timeout", "60"], capture_output=True, text=True)
    outp = p.stdout
    ok_rcpts = outp.count("<~  250 2.1.5") + outp.count("<  250 2.1.5")
    r = last_record() if len(records()) == before + 1 else {}
    case("swaks_100_recipients", "452 4.5.3 Too many recipients" in outp and
         [x["local"] for x in r.get("rcpts", [])] == ["r%d" % i for i in range(100)] and
         r["flags"] & F_PIPELINING and
         not r["flags"] & F_PROTO and "250 2.0.0" in outp,
         "ok %d; %s" % (ok_rcpts, outp[-600:]))

    # ---- the stub's answers ----
    msg = b"Subject: retry\r\n\r\nsame message\r\n"
    c = smtp(port, "127.0.0.6")
    set_stub("tempfail")
    try:
        c.sendmail("a@b.example", ["alice@" + DOMAIN], msg)
        res = None
    except smtplib.SMTPDataError as e:
        res = (e.smtp_code, e.smtp_error)
    case("deliver_tempfail_451", res is not None and res[0] == 451, str(res))
    set_stub("limit")
    try:
        c.sendmail("a@b.example", ["alice@" + DOMAIN], msg)
        res = None
    except smtplib.SMTPDataError as e:
        res = (e.smtp_code, e.smtp_error)
    case("deliver_limit_452", res is not None and res[0] == 452 and res[1].startswith(b"4.2.2"),
         str(res))
    set_stub("ok")
    case("retry_accepted", c.sendmail("a@b.example", ["alice@" + DOMAIN], msg) == {} and
         last_record()["message"] == msg)
    set_stub("hang")
    t0 = time.monotonic()
    try:
        c.sendmail("a@b.example", ["alice@" + DOMAIN], msg)
        res = None
    except smtplib.SMTPDataError as e:
        res = (e.smtp_code, e.smtp_error)
    took = time.monotonic() - t0
    case("deliver_silent_451_after_deadline", res is not None and res[0] == 451 and
         1.8 < took < 10, "%s after %.1f s" % (res, took))
    set_stub("ok")
    case("session_usable_after_deadline",
         c.sendmail("a@b.example", ["alice@" + DOMAIN], msg) == {})
    system.kill("deliver")
    try:
        c.sendmail("a@b.example", ["alice@" + DOMAIN], msg)
        res = None
    except smtplib.SMTPDataError as e:
        res = (e.smtp_code, e.smtp_error)
    case("deliver_down_451", res is not None and res[0] == 451, str(res))
    system.restart("deliver")
    deadline = time.monotonic() + 10
    res = None
    while time.monotonic() < deadline:
        # The MTA reconnects at most every 200 ms (PROTOCOL.md 7.9).
        try:
            res = c.sendmail("a@b.example", ["alice@" + DOMAIN], msg)
            break
        except smtplib.SMTPDataError as e:
            res = e.smtp_code
            time.sleep(0.25)
    case("deliver_back_250", res == {}, str(res))
    system.kill("account")
    c.mail("a@b.example")
    ra = c.rcpt("alice@" + DOMAIN)
    case("account_down_451", ra[0] == 451, str(ra))
    c.rset()
    system.restart("account")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # The MTA reconnects at most every 200 ms (PROTOCOL.md 7.9).
        c.mail("a@b.example")
        ra = c.rcpt("alice@" + DOMAIN)
        c.rset()
        if ra[0] == 250:
            break
        time.sleep(0.25)
    case("account_back_250", ra[0] == 250, str(ra))
    c.quit()

    # ---- size limit: read to the end, refuse, stay in step ----
    c = smtp(port, "127.0.0.7")
    c.ehlo("big.example")
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (MAX_MESSAGE // 1000 + 2)
    c.mail("a@b.example")  # without SIZE=, so the limit is met while reading
    ra = c.rcpt("alice@" + DOMAIN)
    try:
        res = c.data(big)
    except smtplib.SMTPDataError as e:
        res = (e.smtp_code, e.smtp_error, ra)
    case("size_limit_552", res is not None and res[0] == 552 and res[1].startswith(b"5.3.4"),
         str(res))
    case("size_limit_session_in_step",
         c.sendmail("a@b.example", ["alice@" + DOMAIN], b"small\r\n") == {} and
         last_record()["message"] == b"small\r\n")
    c.quit()

    # ---- bare LF, and no smuggling ----
    s = Raw(port, "127.0.0.8")
    s.reply()
    s.cmd(b"EHLO raw.example")
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.cmd(b"RCPT TO:<alice@" + DOMAIN.encode() + b">")
    code, _ = s.cmd(b"DATA")
    s.send(b"line1\nline2\r\n.\nMAIL FROM:<evil@x.example>\r\nsmuggled\r\n.\r\n")
    code, lines = s.reply()
    r = last_record()
    case("bare_lf_kept_and_flagged", code == 250 and
         r["message"] == b"line1\nline2\r\n.\nMAIL FROM:<evil@x.example>\r\nsmuggled\r\n" and
         r["flags"] & F_BARE_LF, str((code, r.get("flags"), r.get("message"))))
    case("bare_lf_command", s.cmd(b"NOOP")[0] == 250)
    s.send(b"RSET\n")
    case("bare_lf_command_accepted", s.reply()[0] == 250)
    s.close()

    # ---- garbage, unknown and rare commands ----
    s = Raw(port, "127.0.0.9")
    s.reply()
    case("data_before_ehlo_503", s.cmd(b"MAIL FROM:<a@b.example>")[0] == 503)
    s.cmd(b"EHLO raw.example")
    case("unknown_500", s.cmd(b"\x01\x02garbage\xff")[0] == 500)
    case("expn_502", s.cmd(b"EXPN list")[0] == 502)
    case("vrfy_252", s.cmd(b"VRFY alice")[0] == 252)
    case("help_214", s.cmd(b"HELP")[0] == 214)
    case("rcpt_before_mail_503", s.cmd(b"RCPT TO:<alice@allears.test>")[0] == 503)
    case("long_line_500", s.cmd(b"NOOP " + b"x" * 600)[0] == 500)
    s.cmd(b"MAIL FROM:<a@b.example>")
    case("data_without_rcpt_554", s.cmd(b"DATA")[0] == 554)
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    code, _ = s.cmd(b"x\x00y\r\n.")
    r = last_record()
    case("odd_session_flags", code == 250 and r["flags"] & F_INVALID and r["flags"] & F_RARE and
         r["flags"] & F_PROTO and r["message"] == b"x\x00y\r\n", str(r.get("flags")))
    errors = 0
    code = 0
    while code != 421 and errors < 20:
        code, _ = s.cmd(b"BOGUS %d" % errors)
        errors += 1
    case("too_many_errors_421", code == 421 and errors <= 10 and s.eof(), "after %d" % errors)
    s.close()

    # ---- pipelining ----
    s = Raw(port, "127.0.0.10")
    s.reply()
    s.cmd(b"EHLO pipe.example")
    s.send(b"MAIL FROM:<p@b.example>\r\nRCPT TO:<alice@allears.test>\r\n"
           b"RCPT TO:<x@other.example>\r\nRCPT TO:<" + plain_decoy.encode() +
           b"@allears.test>\r\nRCPT TO:<" + bad_text.encode() + b"@allears.test>\r\nDATA\r\n")
    codes = [s.reply()[0] for _ in range(6)]
    s.send(b"pipelined\r\n.\r\nQUIT\r\n")
    codes += [s.reply()[0], s.reply()[0]]
    r = last_record()
    case("pipelining_in_order", codes == [250, 250, 550, 250, 550, 354, 250, 221], str(codes))
    case("pipelining_flag", r["flags"] & F_PIPELINING and not r["flags"] & F_PROTO and
         len(r["rcpts"]) == 2, str(r))
    s.close()
    # A client that pipelined after EHLO and then says HELO is plain SMTP from
    # there on: its next message is still delivered, recorded without PIPELINING.
    s = Raw(port, "127.0.0.12")
    s.reply()
    s.cmd(b"EHLO pipe.example")
    s.send(b"MAIL FROM:<p@b.example>\r\nRSET\r\n")
    codes = [s.reply()[0], s.reply()[0]]
    s.cmd(b"HELO pipe.example")
    s.cmd(b"MAIL FROM:<p@b.example>")
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    code, _ = s.cmd(b"after helo\r\n.")
    r = last_record()
    case("helo_after_pipelined_ehlo_still_delivers", codes == [250, 250] and code == 250 and
         r["message"] == b"after helo\r\n" and not r["flags"] & F_PIPELINING, (codes, code))
    s.close()
    s = Raw(port, "127.0.0.11")
    s.reply()
    s.send(b"HELO old.example\r\nMAIL FROM:<p@b.example>\r\n")
    codes = [s.reply()[0], s.reply()[0]]
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    code, _ = s.cmd(b"x\r\n.")
    r = last_record()
    case("pipelining_without_ehlo_flagged", codes == [250, 250] and code == 250 and
         r["flags"] & F_PROTO and not r["flags"] & (F_PIPELINING | F_ESMTP), str(r["flags"]))
    s.close()

    # ---- STARTTLS injection (CVE-2011-0411) ----
    s = Raw(port, "127.0.0.12")
    s.reply()
    s.cmd(b"EHLO inject.example")
    s.send(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
    code, lines = s.reply()
    case("starttls_injection_refused", code == 554 and s.eof(), str(lines))
    s.close()
    s = Raw(port, "127.0.0.12")
    s.reply()
    s.cmd(b"EHLO inject.example")
    code, _ = s.cmd(b"STARTTLS")
    s.send(b"MAIL FROM:<evil@x.example>\r\n")  # plaintext where a ClientHello belongs
    case("plaintext_after_220_fails_tls", code == 220 and s.eof())
    s.close()

    # ---- openssl s_client: TLS 1.3 and 1.2 only ----
    def s_client(*args):
        p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                            "127.0.0.1:%d" % port, "-CAfile", system.tls_ca,
                            "-verify_ip", "127.0.0.1", "-bind", "127.0.0.13:0"] +
                           list(args), input="QUIT\r\n", capture_output=True, text=True,
                           timeout=30)
        return p.returncode, p.stdout + p.stderr
    rc, o13 = s_client("-tls1_3")
    case("openssl_tls13", "New, TLSv1.3, Cipher is TLS_" in o13 and
         "Verify return code: 0" in o13, o13[-400:])
    rc, o12 = s_client("-tls1_2")
    case("openssl_tls12", "New, TLSv1.2, Cipher is ECDHE-" in o12 and
         "Verify return code: 0" in o12, o12[-400:])
    rc, o11 = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    case("openssl_tls11_refused", "alert protocol version" in o11 and
         "New, (NONE), Cipher is (NONE)" in o11, o11[-400:])

    # ---- timeouts (the server's 421, not our sleeps) ----
    s = Raw(port, "127.0.0.14")
    s.reply()
    t0 = time.monotonic()
    code, lines = s.reply()
    took = time.monotonic() - t0
    case("command_timeout_421", code == 421 and b"4.4.2" in lines[0] and 2.5 < took < 8 and
         s.eof(), "%d after %.1f s" % (code, took))
    s.close()
    s = Raw(port, "127.0.0.14")
    s.reply()
    s.cmd(b"EHLO slow.example")
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    s.send(b"partial line")
    t0 = time.monotonic()
    code, lines = s.reply()
    took = time.monotonic() - t0
    case("data_timeout_421", code == 421 and 1.5 < took < 6, "%d after %.1f s" % (code, took))
    s.close()

    # ---- per-network and global session caps ----
    held = [Raw(port, "127.0.0.50") for _ in range(5)]
    case("per_ip_sessions_allowed", all(h.reply()[0] == 220 for h in held))
    extra = Raw(port, "127.0.0.50")
    code, lines = extra.reply()
    case("per_ip_cap_421", code == 421 and extra.eof(), str(lines))
    extra.close()
    other = Raw(port, "127.0.0.51")
    case("other_ip_unaffected", other.reply()[0] == 220)
    held[0].cmd(b"QUIT")
    held[0].eof()
    held[0].close()
    again = Raw(port, "127.0.0.50")
    case("per_ip_slot_freed", again.reply()[0] == 220)
    held[0] = again
    # 5 + 1 held: fill the global cap of 12 from other networks.
    more = [Raw(port, "127.0.0.%d" % (60 + i)) for i in range(6)]
    case("global_sessions_allowed", all(m.reply()[0] == 220 for m in more))
    over = Raw(port, "127.0.0.70")
    code, lines = over.reply()
    case("global_cap_421", code == 421 and b"Too many connections" in lines[0], str(lines))
    # QUIT and wait for the server's close, so the next test starts with
    # every slot free again.
    for x in held + more + [other]:
        x.cmd(b"QUIT")
        x.eof()
        x.close()
    over.close()

    # ---- recipients per network per minute, checked before Account ----
    s = Raw(port, "127.0.0.80")
    s.reply()
    s.cmd(b"EHLO rate.example")
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.send(b"".join(b"RCPT TO:<alice@allears.test>\r\n" for _ in range(100)))
    codes = [s.reply()[0] for _ in range(100)]
    s.cmd(b"RSET")
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.send(b"".join(b"RCPT TO:<alice@allears.test>\r\n" for _ in range(40)))
    codes += [s.reply() for _ in range(40)]
    # 120 a minute: 100 + 20 pass at once; the bucket refills 2 a second.
    limited = [c for c in codes[120:] if c[0] == 450 and c[1][0].startswith(b"450 4.7.1")]
    case("rcpt_rate_limit", codes[:100] == [250] * 100 and
         all(c[0] == 250 for c in codes[100:120]) and len(limited) >= 10,
         "%d limited" % len(limited))
    s.close()
    s = Raw(port, "127.0.0.81")
    s.reply()
    s.cmd(b"EHLO rate.example")
    s.cmd(b"MAIL FROM:<a@b.example>")
    case("rcpt_rate_other_network", s.cmd(b"RCPT TO:<alice@allears.test>")[0] == 250)
    s.close()

    # ---- a client that talks before the greeting ----
    s = Raw(port, "127.0.0.15")
    s.send(b"EHLO early.example\r\n")
    codes = [s.reply()[0], s.reply()[0]]
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    code, _ = s.cmd(b"early\r\n.")
    r = last_record()
    case("talk_before_greeting_flagged", codes == [220, 250] and code == 250 and
         r["flags"] == F_ESMTP | F_PROTO, str(r["flags"]))
    s.close()

    # ---- stopping: a message in Deliver's hands is answered first ----
    set_stub("ok 1500")
    s = Raw(port, "127.0.0.16")
    s.reply()
    s.cmd(b"EHLO stop.example")
    s.cmd(b"MAIL FROM:<a@b.example>")
    s.cmd(b"RCPT TO:<alice@allears.test>")
    s.cmd(b"DATA")
    before = len(records())
    s.send(b"stopping\r\n.\r\n")
    deadline = time.monotonic() + 10
    while len(records()) == before and time.monotonic() < deadline:
        time.sleep(0.02)  # until the stub has the record (it answers 1.5 s later)
    mta = system.daemons["mta"].proc
    mta.terminate()
    replies = [s.reply(), s.reply()]
    rc = mta.wait(timeout=20)
    case("stop_answers_deliver_first", replies[0][0] == 250 and replies[1][0] == 421 and
         s.eof() and rc == 0, str((replies, rc)))
    s.close()
    set_stub("ok")
    system.restart("mta")
    c = smtp(port, "127.0.0.17")
    case("restarted", c.sendmail("a@b.example", ["alice@" + DOMAIN], b"again\r\n") == {})
    c.quit()

    # ---- logs: counters, no addresses or IPs ----
    with open(system.path("log", "mta.log"), "rb") as f:
        log = f.read()
    leaks = [w for w in (b"alice", b"127.0.0", b"b.example", plain_decoy.encode(),
                         shield_text.encode(), b"secure") if w in log]
    case("log_private", not leaks, str(leaks))


if __name__ == "__main__":
    sys.exit(main())
