#!/usr/bin/python3
"""test_web.py: allears-web and `allears-admin web` through the local launcher,
driven by clients nobody here wrote: Python's ssl and http.client, curl and
openssl s_client. docs/PROTOCOL.md section 21 (and 13 for HTTP and TLS).

Covers: the page in each variant (identity, gzip, br) with Accept-Encoding
negotiation and its exact head (every security field), ETags and 304, HEAD,
the MTA-STS policy in each mode with configured and default mx, robots.txt,
404 and 405, keep-alive, pipelining and HTTP/1.0, oversized and malformed
requests (each status, and the close), slow and silent clients, plaintext on
the TLS port, the connection cap, the TLS versions and suites, the page file
read independently (written from the document) in both directions, the
builder's refusals, configuration errors (exit 78), a graceful stop, and logs
that hold nothing about a client.

Usage: /usr/bin/python3 test_web.py <builddir>
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import base64
import email.utils
import gzip
import hashlib
import http.client
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System, LaunchError, EXIT_CONFIG  # noqa: E402
from itest import case, BUILD  # noqa: E402
import itest  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PAGE = os.path.join(TOP, "data", "web", "index.html")
ADMIN = os.path.join(BUILD, "allears-admin")
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
BROTLI = shutil.which("brotli")
TMP = tempfile.mkdtemp(prefix="web-test-")

TIMEOUT_MS = 500
MAX_CONNS = 8
MX = ["mail.allears.test", "*.mx.allears.test"]
CONFIG = {"web": {"handshake_timeout_ms": TIMEOUT_MS, "request_timeout_ms": TIMEOUT_MS,
                  "idle_timeout_ms": 1500, "max_connections": MAX_CONNS,
                  "mta_sts_mode": "testing", "mx": MX, "mta_sts_max_age": 86400}}

TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
TLS12_ECDSA = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
               "ECDHE-ECDSA-CHACHA20-POLY1305"]

# The fields every response carries, exactly (section 21.4).
SECURITY = {
    "strict-transport-security": "max-age=63072000",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "accelerometer=(), autoplay=(), camera=(), display-capture=(), "
    "encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), "
    "idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), "
    "usb=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(self), "
    "browsing-topics=()",
}
CSP_STRICT = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def skip(name, why):
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


# ---- the page file, read and written from docs/PROTOCOL.md section 21.2 ----

def parse_page_file(data):
    """Returns (max_age, csp, {coding: body}) or raises ValueError."""
    body, total = data[:-32], data[-32:]
    if hashlib.blake2b(body, digest_size=32).digest() != total:
        raise ValueError("checksum")
    if body[:6] != b"AEWEBP" or body[6] != 1:
        raise ValueError("magic/version")
    n = body[7]
    max_age, csp_len = struct.unpack_from("<IH", body, 8)
    pos = 14
    csp = body[pos:pos + csp_len].decode("ascii")
    pos += csp_len
    variants = {}
    for _ in range(n):
        coding = body[pos]
        tag = body[pos + 1:pos + 17]
        (length,) = struct.unpack_from("<I", body, pos + 17)
        pos += 21
        v = body[pos:pos + length]
        pos += length
        if hashlib.blake2b(v, digest_size=16).digest() != tag:
            raise ValueError("tag")
        variants[{0: "identity", 1: "gzip", 2: "br"}[coding]] = v
    if pos != len(body):
        raise ValueError("trailing bytes")
    return max_age, csp, variants


def write_page_file(variants, csp, max_age):
    csp = csp.encode()
    out = b"AEWEBP" + bytes([1, len(variants)]) + struct.pack("<IH", max_age, len(csp)) + csp
    for coding, v in variants:
        out += bytes([coding]) + hashlib.blake2b(v, digest_size=16).digest()
        out += struct.pack("<I", len(v)) + v
    return out + hashlib.blake2b(out, digest_size=32).digest()


def etag_of(body):
    return '"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest()


def expected_csp(html):
    """The default page's CSP, computed here: its one inline style by SHA-256."""
    styles = re.findall(rb"<style>(.*?)</style>", html, re.S)
    srcs = " ".join("'sha256-%s'" % base64.b64encode(hashlib.sha256(s).digest()).decode()
                    for s in styles)
    return ("default-src 'none'; script-src 'none'; style-src %s; img-src data:; "
            "font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            % (srcs or "'none'"))


# ---- HTTP over TLS by hand ----

class Web:
    def __init__(self, system):
        self.system = system
        self.port = system.port("web")
        self.ctx = ssl.create_default_context(cafile=system.tls_ca)

    def tls(self, timeout=10):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.ctx.wrap_socket(raw, server_hostname="localhost")

    def tcp(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def get(self, path, headers=None, method="GET"):
        c = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=10)
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.getheaders()


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping what follows one.
    head_only: the response to a HEAD (no body follows, whatever its length)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError
        self.buf += b

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_only or status == 304 else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def closed_within(sock, seconds):
    """Waits for the peer to close; returns the seconds it took, or None."""
    t0 = time.monotonic()
    sock.setblocking(False)
    while time.monotonic() - t0 < seconds:
        r, _, _ = select.select([sock], [], [], 0.05)
        if not r:
            continue
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except (ssl.SSLWantReadError, BlockingIOError):
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - t0
    return None


def raw(web, data, head_only=False):
    """Sends data on a new TLS connection; returns (status, headers, body, closed)."""
    s = web.tls()
    try:
        s.sendall(data)
        st, h, b = Reader(s).response(head_only)
        closed = closed_within(s, 3) is not None
    finally:
        s.close()
    return st, h, b, closed


def security_ok(h, csp):
    bad = {k: h.get(k) for k, v in SECURITY.items() if h.get(k) != v}
    if h.get("content-security-policy") != csp:
        bad["content-security-policy"] = h.get("content-security-policy")
    if "server" in h:
        bad["server"] = h["server"]
    return not bad, bad


def date_ok(h):
    try:
        return abs(email.utils.parsedate_to_datetime(h["date"]).timestamp() - time.time()) < 60
    except (KeyError, TypeError, ValueError):
        return False


# ---- cases ----

def page_cases(web, html, variants):
    csp = expected_csp(html)
    st, h, body, order = web.get("/")
    ok, bad = security_ok(h, csp)
    case("page_identity_200", st == 200 and body == html, "%d %d bytes" % (st, len(body)))
    case("page_security_fields_exact", ok, bad)
    case("page_fields", h.get("content-type") == "text/html; charset=utf-8" and
         h.get("vary") == "Accept-Encoding" and h.get("etag") == etag_of(html) and
         h.get("cache-control") == "max-age=3600, no-transform" and
         "content-encoding" not in h and h.get("content-length") == str(len(html)) and
         date_ok(h), h)
    names = [k for k, _ in order]
    case("page_no_duplicate_fields", len(names) == len({n.lower() for n in names}), names)

    st, h, body, _ = web.get("/", {"Accept-Encoding": "gzip"})
    case("page_gzip", st == 200 and h.get("content-encoding") == "gzip" and
         gzip.decompress(body) == html and h.get("etag") == etag_of(body) and
         body == variants.get("gzip"), h)
    if "br" in variants and BROTLI:
        st, h, body, _ = web.get("/", {"Accept-Encoding": "gzip, deflate, br"})
        dec = subprocess.run([BROTLI, "-d", "-c"], input=body, capture_output=True).stdout
        case("page_br_preferred", st == 200 and h.get("content-encoding") == "br" and
             dec == html and h.get("etag") == etag_of(body), h)
    else:
        skip("page_br_preferred", "brotli is not installed: the builder made no br variant")

    def coding(ae_list):
        s = web.tls()
        req = "GET / HTTP/1.1\r\nHost: localhost\r\n"
        for ae in ae_list:
            req += "Accept-Encoding: %s\r\n" % ae
        s.sendall((req + "Connection: close\r\n\r\n").encode())
        st_, h_, _ = Reader(s).response()
        s.close()
        return st_, h_.get("content-encoding", "identity")

    br = "br" if "br" in variants else "gzip"
    tests = [(["gzip;q=0.5, br;q=0.1"], "gzip"), (["br;q=0, gzip;q=0"], "identity"),
             (["*"], br), (["identity;q=0, *;q=0"], "identity"), (["gzip;q=2"], "identity"),
             (["x-gzip"], "gzip"), (["identity", "gzip"], "gzip"), ([""], "identity"),
             (["GZIP ; Q=0.9 , br;q=0.8"], "gzip"), (["gzip;q=0.5, *;q=0.7"], br),
             (["deflate, compress"], "identity"), (["gzip;;q=1"], "identity")]
    bad = []
    for ae, want in tests:
        st, got = coding(ae)
        if st != 200 or got != want:
            bad.append((ae, want, got))
    case("accept_encoding_negotiation", not bad, bad)

    out = None
    if CURL:
        r = subprocess.run([CURL, "-sS", "--compressed", "--cacert", web.system.tls_ca,
                            "https://localhost:%d/" % web.port], capture_output=True)
        out = r.stdout
        case("curl_compressed_page", r.returncode == 0 and out == html, r.stderr[-200:])
    else:
        skip("curl_compressed_page", "curl is not installed")

    # HEAD: the GET's head, no body (a GET pipelined after it is read right after).
    s = web.tls()
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"
              b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    rd = Reader(s)
    st, h, b = rd.response(head_only=True)
    st2, _, b2 = rd.response()
    s.close()
    case("head_page", st == 200 and b == b"" and h.get("content-length") ==
         str(len(variants["gzip"])) and h.get("content-encoding") == "gzip" and
         h.get("etag") == etag_of(variants["gzip"]) and st2 == 200 and
         b2.startswith(b"User-agent"), (st, h, st2, b2[:40]))

    # Conditional requests.
    tag_id, tag_gz = etag_of(html), etag_of(variants["gzip"])
    st, h, b, _ = web.get("/", {"If-None-Match": tag_id})
    ok, bad = security_ok(h, csp)
    case("etag_304", st == 304 and b == b"" and h.get("etag") == tag_id and
         "content-length" not in h and h.get("vary") == "Accept-Encoding" and ok, (st, h))
    results = []
    for inm, ae, want in [('"x", W/%s' % tag_id, None, 304), ("*", None, 304),
                          (tag_gz, None, 200), (tag_gz, "gzip", 304), ('"abc"', None, 200),
                          (tag_id[1:], None, 200), ('%s junk' % tag_id, None, 200)]:
        hd = {"If-None-Match": inm}
        if ae:
            hd["Accept-Encoding"] = ae
        results.append((inm, ae, want, web.get("/", hd)[0]))
    case("etag_match_rules", all(r[2] == r[3] for r in results),
         [r for r in results if r[2] != r[3]])
    return out


def text_cases(web):
    st, h, b, _ = web.get("/.well-known/mta-sts.txt")
    want = ("version: STSv1\r\nmode: testing\r\nmx: mail.allears.test\r\n"
            "mx: *.mx.allears.test\r\nmax_age: 86400\r\n").encode()
    ok, bad = security_ok(h, CSP_STRICT)
    case("mta_sts_configured", st == 200 and b == want and
         h.get("content-type") == "text/plain; charset=utf-8" and
         h.get("cache-control") == "no-cache", (st, b, h))
    case("mta_sts_security_fields", ok, bad)
    st, h, b, _ = web.get("/robots.txt")
    case("robots_txt", st == 200 and b == b"User-agent: *\r\nDisallow: /\r\n" and
         h.get("content-type") == "text/plain; charset=utf-8" and
         h.get("cache-control") == "max-age=86400" and security_ok(h, CSP_STRICT)[0], (st, b))
    st, h, b, _ = web.get("/robots.txt", method="HEAD")
    case("head_robots", st == 200 and b == b"" and h.get("content-length") == "28", h)
    st, h, b, _ = web.get("/?utm_source=x")
    case("page_query_ignored", st == 200 and b.startswith(b"<!DOCTYPE html>"), st)

    bad = []
    for path in ("/index.html", "/favicon.ico", "/.well-known/mta-sts.txt/", "/%2e",
                 "/robots.txt/", "//", "/.well-known/", "/ROBOTS.TXT"):
        st, h, b, _ = web.get(path)
        if (st != 404 or b != b"404 Not Found\n" or h.get("cache-control") != "no-store" or
                not security_ok(h, CSP_STRICT)[0] or not date_ok(h)):
            bad.append((path, st, b))
    case("not_found_404", not bad, bad)
    st, h, b, _ = web.get("/nothing", method="HEAD")
    case("head_404_no_body", st == 404 and b == b"" and h.get("content-length") == "14", h)

    # 405 keeps the connection (no body); the next request is answered.
    s = web.tls()
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
              b"DELETE /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"
              b"OPTIONS /.well-known/mta-sts.txt HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rd = Reader(s)
    got = [rd.response() for _ in range(4)]
    s.close()
    case("method_405_allow", [g[0] for g in got] == [405, 405, 405, 200] and
         all(g[1].get("allow") == "GET, HEAD" for g in got[:3]) and
         got[0][2] == b"405 Method Not Allowed\n", [(g[0], g[1].get("allow")) for g in got])
    st, h, b, closed = raw(web, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    case("post_with_body_405_closes", st == 405 and closed and h.get("connection") == "close",
         (st, h))


def connection_cases(web):
    # Keep-alive: several requests on one connection, then pipelined ones.
    s = web.tls()
    rd = Reader(s)
    seq = []
    for path in ("/", "/robots.txt", "/.well-known/mta-sts.txt", "/x", "/"):
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
        seq.append(rd.response()[0])
    case("keep_alive_sequence", seq == [200, 200, 200, 404, 200], seq)
    s.sendall(b"".join(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % p).encode()
                       for p in ("/robots.txt", "/nope", "/")))
    seq = [rd.response()[0] for _ in range(3)]
    case("pipelined_in_order", seq == [200, 404, 200], seq)
    s.close()
    # HTTP/1.0
    st, h, b, closed = raw(web, b"GET /robots.txt HTTP/1.0\r\n\r\n")
    case("http10_closes", st == 200 and h.get("connection") == "close" and closed, h)
    s = web.tls()
    s.sendall(b"GET /robots.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    rd = Reader(s)
    st, h, _ = rd.response()
    s.sendall(b"GET /robots.txt HTTP/1.0\r\n\r\n")
    st2, _, _ = rd.response()
    s.close()
    case("http10_keep_alive", st == 200 and h.get("connection") == "keep-alive" and st2 == 200,
         h)
    st, h, b, closed = raw(web, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    case("connection_close_honoured", st == 200 and h.get("connection") == "close" and closed)


def malformed_cases(web):
    long_target = "/" + "a" * 3000
    cases = [
        ("request_line_too_long_414", ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % long_target)
         .encode(), 414),
        ("field_too_long_431", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 3000 +
         b"\r\n\r\n", 431),
        ("too_many_fields_431", b"GET / HTTP/1.1\r\nHost: x\r\n" +
         b"".join(b"X-%d: y\r\n" % i for i in range(40)) + b"\r\n", 431),
        ("bare_lf_400", b"GET / HTTP/1.1\nHost: x\n\n", 400),
        ("http2_version_505", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("no_host_400", b"GET / HTTP/1.1\r\n\r\n", 400),
        ("get_with_body_413", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
         413),
        ("transfer_encoding_501", b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
         b"\r\n\r\n0\r\n\r\n", 501),
        ("lowercase_method_501", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("absolute_form_400", b"GET https://localhost/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("control_in_field_400", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400),
        ("two_hosts_400", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        ("expect_417", b"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417),
    ]
    for name, data, want in cases:
        try:
            st, h, b, closed = raw(web, data)
        except (EOFError, OSError) as e:
            case(name, False, repr(e))
            continue
        ok, bad = security_ok(h, CSP_STRICT)
        case(name, st == want and closed and h.get("connection") == "close" and ok and
             b == ("%d " % want).encode() + b.split(b" ", 1)[1] and b.endswith(b"\n"),
             (st, h.get("connection"), closed, b, bad))
    # A flood of header bytes is refused at the limit, not buffered without end.
    s = web.tls()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(9):
            s.sendall(b"X-Fill: " + b"b" * 1000 + b"\r\n")
        st, h, _ = Reader(s).response()
    except (OSError, EOFError):
        st = None
    s.close()
    case("header_block_over_8k_431", st == 431, st)


def slow_cases(web):
    s = web.tcp()
    t = closed_within(s, 5)
    s.close()
    case("silent_client_handshake_timeout", t is not None and 0.3 < t < 3, t)
    s = web.tcp()
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    t = closed_within(s, 5)
    s.close()
    case("plaintext_on_tls_port_closed", t is not None and t < 3, t)
    s = web.tls()
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    t = closed_within(s, 5)
    s.close()
    case("partial_head_request_timeout", t is not None and 0.3 < t < 3, t)
    s = web.tls()
    t0 = time.monotonic()
    try:
        for ch in b"GET / HTTP/1.1\r\nHost: localhost\r\n":
            s.sendall(bytes([ch]))
            time.sleep(0.05)
        cut = False
    except OSError:
        cut = True
    t = closed_within(s, 5)
    s.close()
    case("trickled_head_cut_at_deadline", (cut or t is not None) and
         time.monotonic() - t0 < 4, (cut, t))
    s = web.tls()
    s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    Reader(s).response()
    t = closed_within(s, 5)
    s.close()
    case("idle_keep_alive_closed", t is not None and 1.0 < t < 3.5, t)


def cap_cases(web):
    conns = [web.tls() for _ in range(MAX_CONNS)]
    extra = web.tcp()
    t = closed_within(extra, 3)
    extra.close()
    case("connection_cap_refuses_extra", t is not None and t < 1, t)
    for c in conns:
        c.close()
    time.sleep(0.2)  # the closes reach the server: no readiness signal for a peer's close
    st = web.get("/robots.txt")[0]
    case("served_after_cap", st == 200, st)


def tls_cases(web):
    def handshake(ctx):
        try:
            s = socket.create_connection(("127.0.0.1", web.port), timeout=5)
            t = ctx.wrap_socket(s, server_hostname="localhost")
            v, c, alpn = t.version(), t.cipher()[0], t.selected_alpn_protocol()
            t.close()
            return v, c, alpn
        except (ssl.SSLError, OSError) as e:
            return None, str(e), None

    ctx = ssl.create_default_context(cafile=web.system.tls_ca)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    v, c, alpn = handshake(ctx)
    case("python_tls13_alpn_http11", v == "TLSv1.3" and c in TLS13 and alpn == "http/1.1",
         (v, c, alpn))
    ctx = ssl.create_default_context(cafile=web.system.tls_ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    v, c, _ = handshake(ctx)
    case("python_tls12", v == "TLSv1.2" and c in TLS12_ECDSA, (v, c))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    except ssl.SSLError:
        pass
    v, c, _ = handshake(ctx)
    case("python_tls11_refused", v is None, (v, c))
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:@SECLEVEL=0")
    names = sorted({x["name"] for x in probe.get_ciphers() if x["protocol"] == "TLSv1.2"})
    accepted = []
    for name in names:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(name + ":@SECLEVEL=0")
        except ssl.SSLError:
            continue
        v, c, _ = handshake(ctx)
        if v:
            accepted.append(c)
    case("tls12_only_aead_suites", sorted(accepted) == sorted(TLS12_ECDSA) and len(names) > 10,
         (accepted, len(names)))

    if not OPENSSL:
        skip("s_client_policy", "openssl is not installed")
        return

    def s_client(*args):
        cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % web.port, "-brief",
               "-CAfile", web.system.tls_ca, "-servername", "localhost", "-ign_eof"] + list(args)
        try:
            r = subprocess.run(cmd, input=b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n"
                               b"Connection: close\r\n\r\n", capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            return ""
        return (r.stdout + r.stderr).decode(errors="replace")

    out = s_client("-tls1_3")
    case("s_client_tls13", "Protocol version: TLSv1.3" in out and "Verification: OK" in out and
         "HTTP/1.1 200 OK" in out, out[-400:])
    out = s_client("-tls1_2")
    case("s_client_tls12", "Protocol version: TLSv1.2" in out and "HTTP/1.1 200 OK" in out and
         any("Ciphersuite: " + n in out for n in TLS12_ECDSA), out[-400:])
    out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    case("s_client_tls11_refused", "Protocol version" not in out and "HTTP/1.1" not in out,
         out[-300:])
    out = s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
                   "AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256")
    case("s_client_weak_suites_refused", "Protocol version" not in out and "HTTP/1.1" not in out,
         out[-300:])
    bad = [n for n in TLS13 if "Ciphersuite: " + n not in s_client("-tls1_3", "-ciphersuites", n)]
    out = s_client("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256")
    case("s_client_tls13_suites", not bad and "HTTP/1.1" not in out, (bad, out[-200:]))


def build(html, *args, out=None):
    src = os.path.join(TMP, "in.html")
    with open(src, "wb") as f:
        f.write(html)
    out = out or os.path.join(TMP, "out.page")
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([ADMIN, "web", "--out", out] + list(args) + [src], capture_output=True,
                       text=True)
    return r, out


SRI = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"


def builder_cases(html):
    r, out = build(html)
    case("builder_default_page", r.returncode == 0 and os.path.exists(out), r.stderr)
    with open(out, "rb") as f:
        data = f.read()
    try:
        max_age, csp, variants = parse_page_file(data)
        ok = (max_age == 3600 and csp == expected_csp(html) and variants["identity"] == html and
              gzip.decompress(variants["gzip"]) == html and len(variants["gzip"]) < len(html))
    except (ValueError, KeyError, OSError) as e:
        ok, variants = False, {}
        print("  %r" % e)
    case("builder_file_matches_document", ok)
    case("builder_mode_0644", (os.stat(out).st_mode & 0o777) == 0o644, oct(os.stat(out).st_mode))
    r2, out2 = build(html, out=os.path.join(TMP, "again.page"))
    with open(out2, "rb") as f:
        case("builder_deterministic", f.read() == data)
    r, out = build(html, "--gzip", "none", "--brotli", "none", "--max-age", "0")
    with open(out, "rb") as f:
        max_age, _, v = parse_page_file(f.read())
    case("builder_identity_only", r.returncode == 0 and list(v) == ["identity"] and max_age == 0,
         (r.stderr, list(v)))
    r, _ = build(html, "--gzip", "/nonexistent/gzip")
    case("builder_named_tool_missing_fails", r.returncode == 1, r.stderr)
    r, _ = build(html, "--max-age", "99999999999")
    case("builder_usage_error_2", r.returncode == 2, r.stderr)

    ext = (b'<!doctype html><html><head><script src="https://cdn.example.org/x/lib.js?v=2" '
           b'integrity="%s" crossorigin="anonymous"></script>'
           b'<link rel="stylesheet" href="https://cdn.example.org/s.css" integrity="sha256-'
           b'47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" crossorigin>'
           b'<script>\r\nlet a = 1;\r\n</script></head><body><img src="data:image/png;base64,AA">'
           b'<a href="https://example.org/">x</a></body></html>' % SRI.encode())
    r, out = build(ext)
    inline = base64.b64encode(hashlib.sha256(b"\nlet a = 1;\n").digest()).decode()
    want = ("default-src 'none'; script-src '%s' https://cdn.example.org/x/lib.js 'sha256-%s'; "
            "style-src 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
            "https://cdn.example.org/s.css; img-src data:; font-src data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'" % (SRI, inline))
    got = None
    if r.returncode == 0:
        with open(out, "rb") as f:
            got = parse_page_file(f.read())[1]
    case("builder_sri_csp", got == want, (r.stderr, got))

    refusals = [
        ("no_integrity", b'<script src="https://cdn.example.org/a.js" crossorigin></script>'),
        ("no_crossorigin", b'<script src="https://cdn.example.org/a.js" integrity="%s">'
         b'</script>' % SRI.encode()),
        ("http_url", b'<script src="http://cdn.example.org/a.js" integrity="%s" crossorigin>'
         b'</script>' % SRI.encode()),
        ("relative_url", b'<script src="/a.js" integrity="%s" crossorigin></script>'
         % SRI.encode()),
        ("bad_integrity", b'<script src="https://cdn.example.org/a.js" integrity="sha384-abc" '
         b'crossorigin></script>'),
        ("md5_integrity", b'<script src="https://cdn.example.org/a.js" integrity="md5-'
         b'1B2M2Y8AsgTpgAmY7PhCfg==" crossorigin></script>'),
        # A UTF-8 character inside the base64 (libsodium 1.0.18 decodes bytes >= 0x80 as
        # letters): it would have gone into the CSP header as it was.
        ("integrity_8bit", b'<script src="https://cdn.example.org/a.js" integrity="sha256-'
         b'47DEQpj8HBSa+\xd1\xa4ImW+5JCeuQeRkm5NMpJWZG3hSuFU=" crossorigin></script>'),
        ("stylesheet_no_integrity", b'<link rel="stylesheet" href="https://cdn.example.org/'
         b'a.css" crossorigin>'),
        ("event_handler", b'<body onload="x()"></body>'),
        ("style_attribute", b'<p style="color:red">x</p>'),
        ("javascript_url", b'<a href=" JaVa\tscript:alert(1)">x</a>'),
        ("iframe", b'<iframe src="data:text/html,x"></iframe>'),
        ("external_image", b'<img src="https://example.org/a.png">'),
        ("form", b'<form><input></form>'),
        ("base", b'<base href="https://example.org/">'),
        ("meta_csp", b'<meta http-equiv="Content-Security-Policy" content="x">'),
        ("unclosed_script", b'<script>let a;'),
        ("unclosed_comment", b'<!-- x'),
        ("duplicate_attribute", b'<a href="#a" HREF="#b">x</a>'),
        ("nul_byte", b'<p>\x00</p>'),
        ("invalid_utf8", b'<p>\xff\xfe</p>'),
        ("too_large", b"<p>" + b"x" * (256 * 1024) + b"</p>"),
        ("empty", b""),
        ("directory_url", b'<script src="https://cdn.example.org/lib/" integrity="%s" '
         b'crossorigin></script>' % SRI.encode()),
        ("preconnect", b'<link rel="preconnect" href="https://cdn.example.org">'),
    ]
    bad = []
    for name, page in refusals:
        r, out = build(page)
        if r.returncode != 1 or os.path.exists(out) or "allears-admin:" not in r.stderr:
            bad.append((name, r.returncode, r.stderr.strip()))
    case("builder_refusals", not bad, bad)
    r, _ = build(b"<p>line one</p>\n<p>\n<b onclick=x>")
    case("builder_error_names_line", "line 3" in r.stderr, r.stderr)


def config_cases():
    def start_fails(extra, name, prepare=None):
        system = System(BUILD, roles=["web"], config_extra=extra)
        try:
            system.prepare()
            if prepare:
                prepare(system)
            system.start(timeout=10)
            ok = False
            detail = "started"
        except LaunchError as e:
            ok = "status %d" % EXIT_CONFIG in str(e)
            detail = str(e)
        finally:
            system.stop()
        case(name, ok, detail)

    start_fails({"web": {"mta_sts_mode": "strict"}}, "config_bad_mode_78")
    start_fails({"web": {"mx": ["-bad.example"]}}, "config_bad_mx_78")
    start_fails({"web": {"mx": []}}, "config_empty_mx_78")
    start_fails({"web": {"mta_sts_max_age": 31557601}}, "config_max_age_range_78")
    start_fails({"web": {"colour": "blue"}}, "config_unknown_key_78")
    start_fails({"web": {"page_file": "/nonexistent/page"}}, "config_missing_page_file_78")

    def corrupt(system):
        p = os.path.join(system.credentials_dir("web"), "web")
        with open(p, "rb") as f:
            d = bytearray(f.read())
        d[40] ^= 1
        os.chmod(p, 0o600)
        with open(p, "wb") as f:
            f.write(d)

    start_fails({}, "config_corrupt_page_78", corrupt)

    def empty_page(system):
        # (a missing one would be made again by the launcher's start)
        p = os.path.join(system.credentials_dir("web"), "web")
        os.chmod(p, 0o600)
        open(p, "wb").close()

    start_fails({}, "config_empty_page_credential_78", empty_page)

    # Defaults: mode enforce, mx = the domain, max_age one week; mode none.
    for extra, want in [({}, b"version: STSv1\r\nmode: enforce\r\nmx: allears.test\r\n"
                             b"max_age: 604800\r\n"),
                        ({"web": {"mta_sts_mode": "none", "mta_sts_max_age": 0,
                                  "hsts_include_subdomains": True}},
                         b"version: STSv1\r\nmode: none\r\nmx: allears.test\r\nmax_age: 0\r\n")]:
        system = System(BUILD, roles=["web"], config_extra=extra).start()
        try:
            st, h, b, _ = Web(system).get("/.well-known/mta-sts.txt")
        finally:
            system.stop()
        sub = extra.get("web", {}).get("hsts_include_subdomains")
        case("mta_sts_%s" % ("defaults" if not extra else "none_and_subdomains"),
             st == 200 and b == want and h.get("strict-transport-security") ==
             "max-age=63072000" + ("; includeSubDomains" if sub else ""), (st, b, h))

    # A page file from a path, written here from the document (not by the builder).
    html = b"<!DOCTYPE html><title>t</title><p>hand made</p>"
    gz = gzip.compress(html * 20, mtime=0)
    page = os.path.join(TMP, "hand.page")
    with open(page, "wb") as f:
        f.write(write_page_file([(0, html * 20), (1, gz)], "default-src 'none'", 77))
    os.chmod(page, 0o644)
    system = System(BUILD, roles=["web"], config_extra={"web": {"page_file": page}}).start()
    try:
        w = Web(system)
        st, h, b, _ = w.get("/")
        st2, h2, b2, _ = w.get("/", {"Accept-Encoding": "gzip"})
    finally:
        system.stop()
    case("page_file_from_document", st == 200 and b == html * 20 and
         h.get("content-security-policy") == "default-src 'none'" and
         h.get("cache-control") == "max-age=77, no-transform" and st2 == 200 and b2 == gz and
         h2.get("content-encoding") == "gzip", (st, h, st2))


def stop_cases(system, web):
    s = web.tls()
    s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    Reader(s).response()
    d = system.daemons["web"]
    d.proc.send_signal(signal.SIGTERM)
    t = closed_within(s, 5)
    s.close()
    rc = d.proc.wait(timeout=10)
    case("sigterm_closes_idle_and_exits_0", rc == 0 and t is not None and t < 2, (rc, t))
    with open(system.path("log", "web.log")) as f:
        log = f.read()
    case("exit_log_counts", re.search(r"web: \d+ connections .* \d+ answers, \d+ HTTP errors",
                                      log) is not None, log[-300:])
    case("log_has_no_client_data", "127.0.0.1" not in log and "localhost" not in log and
         "robots" not in log and "User-agent" not in log, log[-500:])


def main():
    for b in ("allears-web", "allears-admin"):
        if not os.access(os.path.join(BUILD, b), os.X_OK):
            print("FAIL web %s is not built in %s" % (b, BUILD))
            return 1
    with open(PAGE, "rb") as f:
        html = f.read()
    builder_cases(html)
    system = System(BUILD, roles=["web"], config_extra=CONFIG).start()
    try:
        with open(os.path.join(system.credentials_dir("web"), "web"), "rb") as f:
            _, _, variants = parse_page_file(f.read())
        web = Web(system)
        page_cases(web, html, variants)
        text_cases(web)
        connection_cases(web)
        malformed_cases(web)
        slow_cases(web)
        cap_cases(web)
        tls_cases(web)
        stop_cases(system, web)
    finally:
        system.stop()
    config_cases()
    return 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(1 if itest.failures or rc else 0)
