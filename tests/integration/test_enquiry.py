#!/usr/bin/python3
"""test_enquiry.py: allears-enquiry through the local launcher, asking a
dnsmasq started by tests/dnsserver.py (and small fake resolvers written here)
through build/tests/enqtool, as Deliver and the API do: every record type,
CNAMEs, NXDOMAIN against NODATA, TXT records over 255 and over 1232 bytes (the
second makes dnsmasq set TC at Enquiry's EDNS size, so Enquiry must ask again
over TCP), the cache, malformed questions and a peer that lies about its role,
a resolver that never answers (TEMPFAIL within the deadline, then the next
resolver), one that answers SERVFAIL, forged answers with a wrong id, the
in-flight limit, and SIGTERM with a question in flight. The log must hold no
name that was asked.

Usage: /usr/bin/python3 test_enquiry.py <builddir>
Needs dnsmasq (Debian: dnsmasq-base) and python3-dnspython."""

import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from itest import case, BUILD  # noqa: E402
import itest  # noqa: E402
from dnsserver import DNSServer, SilentServer  # noqa: E402

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

ENQTOOL = os.path.join(BUILD, "tests", "enqtool")
DEADLINE_S = 8.0  # ENQUIRY_DEADLINE_MS
LONG_TXT = "".join(chr(ord("a") + i % 26) for i in range(2000))  # > 1232: TC, then TCP
TXT_300 = "v=DKIM1; k=rsa; p=" + "Q" * 282

RECORDS = [
    ("A", "mx1.example.test", "192.0.2.1"),
    ("A", "mx2.example.test", "192.0.2.2"),
    ("AAAA", "v6.example.test", "2001:db8::1"),
    ("MX", "example.test", 20, "mx2.example.test"),
    ("MX", "example.test", 10, "mx1.example.test"),
    ("TXT", "spf.example.test", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("TXT", "multi.example.test", ["part one, ", "part two"]),
    ("TXT", "multi.example.test", "another record"),
    ("TXT", "dkim300.example.test", TXT_300),
    ("TXT", "sel._domainkey.example.test", LONG_TXT),
    ("PTR", "192.0.2.77", "host77.example.test"),
    ("PTR", "2001:db8::77", "host6.example.test"),
    ("CNAME", "www.example.test", "mx1.example.test"),
]
# Every name asked in this test: none may appear in a log.
ASKED_WORDS = ["example.test", "mx1", "spf.example", "multi", "dkim300", "_domainkey", "host77",
               "host6", "nothere", "forged", "wrongid"]


def ask(system, qtype, question, role="deliver", raw=False, claim=None):
    """Runs enqtool; returns (exit status, parsed JSON or None, seconds)."""
    args = [ENQTOOL]
    if claim:
        args += ["--as", claim]
    if raw:
        args.append("--raw")
    args += [system.channel_socket("enquiry"), system.path("keys", role + ".keys"), role,
             str(qtype), question]
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True)
    took = time.monotonic() - t0
    try:
        out = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        out = None
    return r.returncode, out, took


def ask_async(system, qtype, question):
    return subprocess.Popen([ENQTOOL, system.channel_socket("enquiry"),
                             system.path("keys", "deliver.keys"), "deliver", qtype, question],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ok(out, *want):
    return out is not None and out.get("status") == "ok" and out.get("records") == list(want)


def status(out):
    return None if out is None else (out.get("status"), sorted(out.get("flags", [])))


def enquiry_system(resolvers, **extra):
    cfg = {"resolvers": resolvers}
    cfg.update(extra)
    return System(BUILD, roles=["enquiry"], config_extra={"enquiry": cfg})


def stop_and_log(system):
    path = system.path("log", "enquiry.log")
    system.keep = True
    status_by_role = system.stop()
    with open(path, "rb") as f:
        log = f.read().decode(errors="replace")
    import shutil
    shutil.rmtree(system.state, ignore_errors=True)
    return status_by_role.get("enquiry"), log


def counters(log):
    m = re.search(r"dns: (\d+) udp, (\d+) tcp, (\d+) truncated, (\d+) timeouts, (\d+) failures, "
                  r"(\d+) malformed, (\d+) ignored", log)
    keys = ["udp", "tcp", "truncated", "timeouts", "failures", "malformed", "ignored"]
    return dict(zip(keys, map(int, m.groups()))) if m else None


def no_names(name, log):
    leaked = [w for w in ASKED_WORDS if w in log]
    case(name, not leaked, "the log holds %s" % leaked)


class FakeResolver:
    """A UDP resolver on 127.0.0.1 answering by name: forged.* first sends an
    answer with a wrong id (6.6.6.6), then the right one (192.0.2.9);
    wrongid.* only the forged one; everything else SERVFAIL."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.queries = 0
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def answer(self, q, ip):
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", ip))
        return r

    def run(self):
        while True:
            ready, _, _ = select.select([self.sock, self.stop_r], [], [])
            if self.stop_r in ready:
                return
            data, peer = self.sock.recvfrom(4096)
            self.queries += 1
            q = dns.message.from_wire(data)
            name = q.question[0].name.to_text()
            if name.startswith(("forged.", "wrongid.")):
                bad = self.answer(q, "6.6.6.6")
                bad.id = q.id ^ 0x5555
                self.sock.sendto(bad.to_wire(), peer)
                if name.startswith("forged."):
                    self.sock.sendto(self.answer(q, "192.0.2.9").to_wire(), peer)
            else:
                r = dns.message.make_response(q)
                r.set_rcode(dns.rcode.SERVFAIL)
                self.sock.sendto(r.to_wire(), peer)

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join()
        self.sock.close()
        os.close(self.stop_r)
        os.close(self.stop_w)


def test_types(dnsd):
    # The premise of the TCP test: dnsmasq really truncates this answer at
    # Enquiry's EDNS size, and gives it whole over TCP.
    r = dnsd.query("sel._domainkey.example.test", "TXT", payload=1232)
    case("dnsmasq sets TC for a 2000-byte TXT at EDNS 1232", bool(r.flags & dns.flags.TC))
    r = dnsd.query("sel._domainkey.example.test", "TXT", tcp=True)
    case("dnsmasq answers it whole over TCP",
         b"".join(r.answer[0][0].strings).decode() == LONG_TXT)

    system = enquiry_system([dnsd.address]).start()
    try:
        rc, out, _ = ask(system, "a", "mx1.example.test")
        case("A", rc == 0 and ok(out, {"ip": "192.0.2.1"}), out)
        rc, out, _ = ask(system, "a", "MX2.Example.TEST", role="api")
        case("A asked by the API, in upper case", rc == 0 and ok(out, {"ip": "192.0.2.2"}), out)
        rc, out, _ = ask(system, "aaaa", "v6.example.test")
        case("AAAA", ok(out, {"ip": "2001:db8::1"}), out)
        rc, out, _ = ask(system, "mx", "example.test")
        case("MX sorted by preference",
             ok(out, {"pref": 10, "name": "mx1.example.test"},
                {"pref": 20, "name": "mx2.example.test"}), out)
        rc, out, _ = ask(system, "txt", "spf.example.test")
        case("TXT", ok(out, {"text": "v=spf1 ip4:192.0.2.0/24 -all"}), out)
        rc, out, _ = ask(system, "txt", "multi.example.test")
        texts = sorted(r["text"] for r in out["records"]) if out and "records" in out else None
        case("TXT: two records, each one's strings joined",
             texts == ["another record", "part one, part two"], out)
        rc, out, _ = ask(system, "txt", "dkim300.example.test")
        case("TXT of 300 bytes (two strings) joined", ok(out, {"text": TXT_300}), out)
        rc, out, _ = ask(system, "txt", "sel._domainkey.example.test")
        case("TXT of 2000 bytes (truncated over UDP, asked again over TCP)",
             ok(out, {"text": LONG_TXT}), status(out))
        rc, out, _ = ask(system, "ptr", "192.0.2.77")
        case("PTR of an IPv4 address", ok(out, {"name": "host77.example.test"}), out)
        rc, out, _ = ask(system, "ptr", "2001:db8::77")
        case("PTR of an IPv6 address", ok(out, {"name": "host6.example.test"}), out)
        rc, out, _ = ask(system, "a", "www.example.test")
        case("A through a CNAME", ok(out, {"ip": "192.0.2.1"}), out)
        rc, out, _ = ask(system, "a", "nothere.example.test")
        case("NXDOMAIN: not_found with the nxdomain flag",
             status(out) == ("not_found", ["nxdomain"]), out)
        rc, out, _ = ask(system, "aaaa", "mx1.example.test")
        case("NODATA: not_found without the flag", status(out) == ("not_found", []), out)
        rc, out, _ = ask(system, "ptr", "192.0.2.200")
        case("PTR of an address without one", status(out) == ("not_found", ["nxdomain"]), out)

        # The cache: the same questions again.
        rc, out, _ = ask(system, "a", "mx1.example.test", role="api")
        case("cache: a second answer is marked cached",
             out is not None and out.get("flags") == ["cached"] and
             out.get("records") == [{"ip": "192.0.2.1"}], out)
        rc, out, _ = ask(system, "a", "MX1.example.test")
        case("cache: the name's case does not matter", out and "cached" in out["flags"], out)
        rc, out, _ = ask(system, "a", "nothere.example.test")
        case("cache: negative answers too",
             status(out) == ("not_found", ["cached", "nxdomain"]), out)
        rc, out, _ = ask(system, "txt", "sel._domainkey.example.test")
        case("cache: the long TXT", out is not None and out["flags"] == ["cached"] and
             out["records"] == [{"text": LONG_TXT}], status(out))
        rc, out, _ = ask(system, "mx", "mx1.example.test")
        case("cache: another type is another question", status(out) == ("not_found", []), out)

        # Malformed questions.
        for name, qtype, payload in [("a name with an empty label", 1, b"bad..example".hex()),
                                     ("a name with a trailing dot", 3, b"example.test.".hex()),
                                     ("a name with a space", 4, b"a b.test".hex()),
                                     ("an empty name", 1, "-"),
                                     ("a name of 255 bytes", 1, (b"a." * 127).hex()[:-2] + "6161"),
                                     ("PTR with family 5", 5, "05" + "00" * 16),
                                     ("PTR of IPv4 with bytes after the address",
                                      5, "04c0000201" + "00" * 11 + "01"),
                                     ("PTR of 16 bytes", 5, "04" + "00" * 15),
                                     ("an unknown type", 9, b"example.test".hex()),
                                     ("type 6", 6, b"example.test".hex())]:
            rc, out, _ = ask(system, qtype, payload, raw=True)
            case("refused as invalid: " + name, rc == 0 and out is not None and
                 out.get("code") == itest.INVALID, out)

        # A peer with deliver's key claiming to be the MTA (a role Enquiry has
        # no key for): the handshake fails, Enquiry keeps serving.
        rc, out, _ = ask(system, "a", "mx1.example.test", claim="mta")
        case("a wrong role is refused at the handshake", rc == 2 and out and "error" in out, out)
        rc, out, _ = ask(system, "a", "mx1.example.test", claim="api")
        case("a role with another role's key is refused", rc == 2, out)
        rc, out, _ = ask(system, "a", "mx1.example.test")
        case("still serving after refused peers",
             out is not None and out.get("records") == [{"ip": "192.0.2.1"}], out)
    finally:
        code, log = stop_and_log(system)
    case("SIGTERM: exit status 0", code == 0, code)
    c = counters(log)
    case("the log counts a truncated answer and a TCP query",
         c is not None and c["truncated"] >= 1 and c["tcp"] >= 1, c)
    case("one UDP query per question asked of the resolver (cache hits ask nothing)",
         c is not None and c["udp"] == 15, c)
    no_names("the log holds no name asked", log)


def test_silent():
    silent = SilentServer()
    system = enquiry_system([silent.address], timeout_ms=300, max_inflight=1).start()
    try:
        rc, out, took = ask(system, "a", "mx1.example.test")
        case("a resolver that never answers: tempfail", status(out) == ("tempfail", []), out)
        case("... after two tries of 300 ms, well within the deadline",
             0.55 <= took < DEADLINE_S, "%.2f s" % took)
        case("... asked twice, each time afresh", silent.received() == 2)

        # max_inflight 1: while one question waits, another is refused at once,
        # and the same question joins the one in flight.
        first = ask_async(system, "a", "spf.example.test")
        select.select([silent.udp], [], [], 5)  # the first question has reached the resolver
        rc, out, took = ask(system, "txt", "multi.example.test")
        case("over max_inflight: tempfail at once", status(out) == ("tempfail", []) and
             took < 0.25, "%s %.2f s" % (out, took))
        joined = ask_async(system, "a", "spf.example.test")
        out1, _ = first.communicate(timeout=10)
        out2, _ = joined.communicate(timeout=10)
        case("the same question joins the one in flight",
             status(json.loads(out1)) == ("tempfail", []) and
             status(json.loads(out2)) == ("tempfail", []) and silent.received() == 2)

        # SIGTERM with a question in flight: it is answered, then Enquiry exits 0.
        pending = ask_async(system, "mx", "example.test")
        select.select([silent.udp], [], [], 5)
        system.daemons["enquiry"].proc.terminate()
        out, _ = pending.communicate(timeout=10)
        case("SIGTERM: the question in flight is answered",
             pending.returncode == 0 and status(json.loads(out)) == ("tempfail", []), out)
        code = system.daemons["enquiry"].proc.wait(timeout=10)
        case("SIGTERM: exit status 0 after it", code == 0, code)
    finally:
        code, log = stop_and_log(system)
        silent.close()
    c = counters(log)
    case("the log counts the timeouts", c is not None and c["timeouts"] >= 4, c)
    no_names("the log holds no name asked (silent resolver)", log)


def test_fake():
    fake = FakeResolver()
    system = enquiry_system([fake.address], timeout_ms=300).start()
    try:
        rc, out, _ = ask(system, "a", "forged.example.test")
        case("an answer with a wrong id is ignored, the right one taken",
             ok(out, {"ip": "192.0.2.9"}), out)
        rc, out, took = ask(system, "a", "wrongid.example.test")
        case("only answers with a wrong id: tempfail", status(out) == ("tempfail", []), out)
        before = fake.queries
        rc, out, took = ask(system, "a", "mx1.example.test")
        case("SERVFAIL: tempfail, without waiting for a timeout",
             status(out) == ("tempfail", []) and took < 0.25, "%s %.2f s" % (out, took))
        case("SERVFAIL: asked again (twice in all)", fake.queries - before == 2)
    finally:
        code, log = stop_and_log(system)
        fake.close()
    c = counters(log)
    case("the log counts forged answers as ignored", c is not None and c["ignored"] >= 3, c)
    no_names("the log holds no name asked (fake resolver)", log)


def test_failover(dnsd):
    fake = FakeResolver()
    system = enquiry_system([fake.address, dnsd.address], timeout_ms=300).start()
    try:
        rc, out, took = ask(system, "a", "mx1.example.test")
        case("SERVFAIL from the first resolver: the second answers at once",
             ok(out, {"ip": "192.0.2.1"}) and took < 0.25, "%s %.2f s" % (out, took))
    finally:
        stop_and_log(system)
        fake.close()
    silent = SilentServer()
    system = enquiry_system([silent.address, dnsd.address], timeout_ms=300).start()
    try:
        rc, out, took = ask(system, "a", "mx2.example.test")
        case("a silent first resolver: the second answers after one timeout",
             ok(out, {"ip": "192.0.2.2"}) and 0.28 <= took < 2, "%s %.2f s" % (out, took))
        rc, out, took = ask(system, "aaaa", "v6.example.test")
        case("... and is asked first from then on",
             ok(out, {"ip": "2001:db8::1"}) and took < 0.25 and silent.received() == 1,
             "%s %.2f s" % (out, took))
    finally:
        stop_and_log(system)
        silent.close()


def main():
    if not os.access(ENQTOOL, os.X_OK):
        print("FAIL enqtool is not built (%s)" % ENQTOOL)
        return 1
    with DNSServer(RECORDS) as dnsd:
        test_types(dnsd)
        test_failover(dnsd)
    test_silent()
    test_fake()
    return 1 if itest.failures else 0


if __name__ == "__main__":
    sys.exit(main())
