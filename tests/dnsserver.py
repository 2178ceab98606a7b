"""dnsserver.py: a throw-away DNS server for the integration tests: dnsmasq on
127.0.0.1 on a free port (UDP and TCP), answering only from records given as
Python data, never forwarding anywhere (--no-resolv, every domain local).

    from dnsserver import DNSServer
    with DNSServer([("A", "mx.example.test", "192.0.2.1"),
                    ("MX", "example.test", 10, "mx.example.test"),
                    ("TXT", "sel._domainkey.example.test", "v=DKIM1; p=..."),
                    ("TXT", "multi.example.test", ["first string", "second"]),
                    ("AAAA", "v6.example.test", "2001:db8::1"),
                    ("PTR", "192.0.2.7", "host.example.test"),
                    ("CNAME", "www.example.test", "mx.example.test")]) as dns:
        resolver = "127.0.0.1:%d" % dns.port

Records (types are case-insensitive):
  ("A", name, "192.0.2.1") and ("AAAA", name, "2001:db8::1"): an address. dnsmasq
      also answers the matching PTR (it serves host records both ways).
  ("MX", name, preference, exchange)
  ("TXT", name, text): one record; a str or bytes longer than 255 bytes is split
      into 255-byte strings (RFC 7208 3.3 / RFC 6376 3.6.2.2). A list gives the
      strings of one record as they are. Several TXT tuples for one name give
      several records. Printable ASCII only (dnsmasq's configuration syntax).
  ("PTR", address or reverse name, target)
  ("CNAME", alias, target): dnsmasq answers a CNAME only when the target is a
      name it holds records for (A/AAAA here).
A name nobody gave gets NXDOMAIN; a given name asked for a type it lacks gets
NOERROR with no answer (NODATA). Every answer has the TTL `ttl` (default 300).

Used by test_enquiry.py and by the DKIM/SPF/DMARC tests to publish keys and
policies. Needs dnsmasq (Debian package dnsmasq-base) and python3-dnspython.
"""

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time

TXT_STRING_MAX = 255
CONF_LINE_MAX = 1800  # dnsmasq reads configuration lines of about 2 KB
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class DNSServerError(Exception):
    pass


def _text(s):
    """One TXT string as text, checked: printable ASCII."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    for ch in s:
        if not (0x20 <= ord(ch) < 0x7F):
            raise DNSServerError("TXT text must be printable ASCII: %r" % s[:40])
    return s


def _quote(s):
    return '"' + _text(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    if not text:
        return [b""]
    return [text[i:i + TXT_STRING_MAX] for i in range(0, len(text), TXT_STRING_MAX)]


def reverse_name(addr):
    """The PTR name of an IPv4 or IPv6 address (in-addr.arpa / ip6.arpa)."""
    return ipaddress.ip_address(addr).reverse_pointer


def _name(n):
    n = n.rstrip(".")
    if not n or "," in n or "/" in n or any(c.isspace() for c in n):
        raise DNSServerError("bad name %r" % n)
    return n


def config_lines(records, quoted=True):
    """dnsmasq configuration lines for the records (see the module comment).
    quoted=False: the command-line form of TXT records (dnsmasq does not unquote
    there), or None for one whose text holds a comma."""
    lines = []
    for rec in records:
        kind = rec[0].upper()
        if kind in ("A", "AAAA"):
            _, name, addr = rec
            ip = ipaddress.ip_address(addr)
            if (kind == "A") != (ip.version == 4):
                raise DNSServerError("%s record with address %s" % (kind, addr))
            lines.append("host-record=%s,%s" % (_name(name), ip.compressed))
        elif kind == "MX":
            _, name, pref, exchange = rec
            lines.append("mx-host=%s,%s,%d" % (_name(name), _name(exchange), int(pref)))
        elif kind == "TXT":
            _, name, text = rec
            strings = text if isinstance(text, list) else _split(text)
            for s in strings:
                if len(s) > TXT_STRING_MAX:
                    raise DNSServerError("a TXT string is at most 255 bytes")
            if quoted:
                lines.append("txt-record=%s,%s" % (_name(name),
                                                   ",".join(_quote(s) for s in strings)))
            elif any("," in _text(s) for s in strings):
                lines.append(None)
            else:
                lines.append("txt-record=%s,%s" % (_name(name),
                                                   ",".join(_text(s) for s in strings)))
        elif kind == "PTR":
            _, name, target = rec
            try:
                name = reverse_name(name)
            except ValueError:
                pass
            lines.append("ptr-record=%s,%s" % (_name(name), _name(target)))
        elif kind == "CNAME":
            _, alias, target = rec
            lines.append("cname=%s,%s" % (_name(alias), _name(target)))
        else:
            raise DNSServerError("unsupported record type %r" % rec[0])
    return lines


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP (at the time of asking)."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise DNSServerError("no free port")


class DNSServer:
    def __init__(self, records, ttl=300, log_queries=False):
        self.records = list(records)
        self.ttl = int(ttl)
        self.log_queries = log_queries
        self.port = None
        self.proc = None
        self.dir = None
        self.log_path = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        if not os.access(DNSMASQ, os.X_OK):
            raise DNSServerError("dnsmasq is not installed (Debian: dnsmasq-base)")
        self.dir = tempfile.mkdtemp(prefix="allears-dns-")
        # dnsmasq cuts configuration file lines at about 2 KB, too short for a
        # long TXT record: those go on the command line, where dnsmasq takes
        # the text as it is (no quotes, so no commas inside a string).
        conf = os.path.join(self.dir, "dnsmasq.conf")
        options = []
        with open(conf, "w") as f:
            for line, raw in zip(config_lines(self.records), config_lines(self.records, False)):
                if len(line) < CONF_LINE_MAX:
                    f.write(line + "\n")
                elif raw is None:
                    raise DNSServerError("a TXT record this long cannot hold a comma")
                else:
                    options.append("--" + raw)
        os.chmod(self.dir, 0o755)
        os.chmod(conf, 0o644)
        self.log_path = os.path.join(self.dir, "dnsmasq.log")
        for _ in range(5):
            self.port = free_port()
            args = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll",
                    "--conf-file=" + conf, "--listen-address=127.0.0.1", "--bind-interfaces",
                    "--port=%d" % self.port, "--local=/#/", "--local-ttl=%d" % self.ttl,
                    "--neg-ttl=%d" % self.ttl, "--pid-file=", "--cache-size=0",
                    "--log-facility=-"] + options
            if self.log_queries:
                args.append("--log-queries=extra")
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            if self._wait(timeout):
                return self
            self.proc.kill()
            self.proc.wait()
        raise DNSServerError("dnsmasq did not start (log: %s)" % self.log_path)

    def _wait(self, timeout):
        """Asks until dnsmasq answers (over UDP) or exits."""
        import dns.message
        import dns.query
        deadline = time.monotonic() + timeout
        q = dns.message.make_query("readiness.invalid", "A")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.2)
                return True
            except Exception:  # not listening yet: ask again
                continue
        return False

    def query(self, name, rdtype, tcp=False, payload=None):
        """A direct question (dnspython), for tests that check the server itself."""
        import dns.message
        import dns.query
        q = dns.message.make_query(name, rdtype, use_edns=payload is not None,
                                   payload=payload or 512)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=2)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SilentServer:
    """A bound UDP (and listening TCP) socket on 127.0.0.1 that never answers:
    a resolver that is down without saying so."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def received(self):
        """How many datagrams arrived (drains them)."""
        n = 0
        self.udp.setblocking(False)
        while True:
            try:
                self.udp.recv(65536)
                n += 1
            except BlockingIOError:
                return n

    def close(self):
        self.udp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
