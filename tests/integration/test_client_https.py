#!/usr/bin/python3
"""test_client_https.py: the allears client's HTTPS transport
(src/client/https.c, through the hidden `allears debug-post` subcommand)
against a server nobody here wrote: Python's ssl + http.server on loopback,
with a throw-away CA and certificates made by python3-cryptography. Checks
that a good certificate and host name work (by name and by IP address, SNI
sent only for names), that a wrong name, an unknown CA, a self-signed or an
expired certificate and TLS 1.1 are refused with a clear message, that
keep-alive reuses one connection, that a server that refuses, closes, stays
silent or answers garbage gives the "server down" (or protocol) error with
exit status 3, and that the HTTP statuses of PROTOCOL.md 14.2 become the
messages and exit codes of allears(1).

Usage: /usr/bin/python3 test_client_https.py <builddir>
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import datetime
import email.utils
import hashlib
import http.server
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
ALLEARS = os.path.join(BUILD, "allears")
failures = 0


def case(name, cond, detail=""):
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()


def skip(name, why):
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


# ---- certificates ----

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(cn):
    key = make_key()
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, names, ips=(), days=1, expired=False, self_signed=False):
    key = make_key()
    now = datetime.datetime.utcnow()
    if expired:
        nb, na = now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)
    else:
        nb, na = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
    sans = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i))
                                               for i in ips]
    issuer = _name(names[0] if names else "leaf") if self_signed else ca_cert.subject
    b = (x509.CertificateBuilder().subject_name(_name(names[0] if names else "leaf"))
         .issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
         .add_extension(x509.SubjectAlternativeName(sans), False))
    if not self_signed:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), False)
    cert = b.sign(key if self_signed else ca_key, hashes.SHA256())
    return key, cert


def write_pem(path, *objs):
    with open(path, "wb") as f:
        for o in objs:
            if isinstance(o, x509.Certificate):
                f.write(o.public_bytes(serialization.Encoding.PEM))
            else:
                f.write(o.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return path


# ---- servers ----

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        srv = self.server
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        srv.seen.append((self.client_address[1], self.path, self.headers.get("Host"),
                         len(body)))
        path = self.path
        if path.startswith("/v1/echo"):
            self.reply(200, hashlib.sha256(body).digest())
        elif path == "/v1/close":
            self.reply(200, b"bye", close=True)
        elif path.startswith("/v1/big/"):
            size = int(path.split("/")[-1])
            self.reply(200, bytes(i % 251 for i in range(size)))
        elif path.startswith("/v1/status/"):
            code = int(path.split("/")[3])
            extra = {}
            if code == 412:
                extra["Date"] = email.utils.formatdate(time.time() - 100, usegmt=True)
            if code == 503:
                extra["Retry-After"] = "5"
            self.reply(code, b"", headers=extra)
        elif path == "/v1/slow":
            time.sleep(3)
            self.reply(200, b"late")
        else:
            self.reply(404, b"")

    def reply(self, code, body, close=False, headers=None):
        self.send_response_only(code)
        headers = dict(headers or {})
        headers.setdefault("Date", self.date_time_string())
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, certfile, keyfile, max_version=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen = []
        self.sni = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if max_version:
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            ctx.maximum_version = max_version
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.load_cert_chain(certfile, keyfile)
        ctx.sni_callback = lambda s, name, c: self.sni.append(name)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose leave broken pipes behind

    def stop(self):
        self.shutdown()
        self.server_close()


def raw_server(behaviour, tls_ctx=None):
    """A TCP server that misbehaves: 'close' closes at once, 'silent' never
    speaks, 'tls-close' completes TLS and closes, 'garbage' answers with
    something that is not HTTP after TLS."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    held = []

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            if behaviour == "close":
                c.close()
            elif behaviour == "silent":
                held.append(c)
            else:
                try:
                    t = tls_ctx.wrap_socket(c, server_side=True)
                    if behaviour == "tls-close":
                        t.recv(65536)
                        t.close()
                    elif behaviour == "garbage":
                        t.recv(65536)
                        t.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                        time.sleep(0.5)
                        t.close()
                except (OSError, ssl.SSLError):
                    c.close()

    threading.Thread(target=loop, daemon=True).start()
    return s, s.getsockname()[1]


# ---- the client ----

def run(home, args, timeout=30):
    env = dict(os.environ, ALLEARS_HOME=home)
    env.pop("ALLEARS_SERVER", None)
    t0 = time.monotonic()
    p = subprocess.run([ALLEARS] + args, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.monotonic() - t0


def post(home, port, ca, pairs, server="localhost", extra=()):
    args = ["--server", server, "--port", str(port), "--ca", ca, "--timeout", "2"] + list(extra)
    args.append("debug-post")
    for path, body in pairs:
        args += [path, body]
    return run(home, args)


def main():
    if not os.path.exists(ALLEARS):
        print("FAIL build: %s is missing" % ALLEARS)
        return 1
    d = tempfile.mkdtemp(prefix="client_https.")
    home = os.path.join(d, "home")
    os.mkdir(home, 0o700)
    ca_key, ca = make_ca("allears test CA")
    ca2_key, ca2 = make_ca("another CA")
    ca_pem = write_pem(os.path.join(d, "ca.pem"), ca)
    k, c = make_leaf(ca_key, ca, ["localhost"], ["127.0.0.1", "::1"])
    good = (write_pem(os.path.join(d, "good.pem"), c), write_pem(os.path.join(d, "good.key"), k))
    k, c = make_leaf(ca_key, ca, ["localhost"])
    nameonly = (write_pem(os.path.join(d, "n.pem"), c), write_pem(os.path.join(d, "n.key"), k))
    k, c = make_leaf(ca_key, ca, ["other.example"], ["192.0.2.1"])
    wrong = (write_pem(os.path.join(d, "w.pem"), c), write_pem(os.path.join(d, "w.key"), k))
    k, c = make_leaf(ca2_key, ca2, ["localhost"], ["127.0.0.1"])
    foreign = (write_pem(os.path.join(d, "f.pem"), c), write_pem(os.path.join(d, "f.key"), k))
    k, c = make_leaf(None, None, ["localhost"], ["127.0.0.1"], self_signed=True)
    selfs = (write_pem(os.path.join(d, "s.pem"), c), write_pem(os.path.join(d, "s.key"), k))
    k, c = make_leaf(ca_key, ca, ["localhost"], ["127.0.0.1"], expired=True)
    expired = (write_pem(os.path.join(d, "e.pem"), c), write_pem(os.path.join(d, "e.key"), k))
    body = os.path.join(d, "body")
    payload = os.urandom(3000)
    with open(body, "wb") as f:
        f.write(payload)
    want = hashlib.sha256(payload).hexdigest()

    # Good certificate, by name: the request arrives intact, SNI is the name.
    srv = TLSServer(*good)
    rc, out, err, _ = post(home, srv.port, ca_pem, [("/v1/echo", body)])
    case("good_certificate_by_name", rc == 0 and out.split() == ["200", "32", "1", want],
         "rc=%d out=%r err=%r" % (rc, out, err))
    case("sni_sent_for_name", srv.sni[-1:] == ["localhost"], repr(srv.sni))
    case("host_header", srv.seen and srv.seen[-1][2] == "localhost:%d" % srv.port,
         repr(srv.seen[-1:]))

    # By IP address: the certificate's IP SAN is checked; no SNI is sent.
    srv.sni.clear()
    rc, out, err, _ = post(home, srv.port, ca_pem, [("/v1/echo", body)], server="127.0.0.1")
    case("good_certificate_by_ip", rc == 0 and out.startswith("200 32 1 " + want), err)
    case("no_sni_for_ip", srv.sni == [None], repr(srv.sni))

    # Keep-alive: three requests, one connection (client and server agree).
    n_before = len(srv.seen)
    rc, out, err, _ = post(home, srv.port, ca_pem,
                           [("/v1/echo/1", body), ("/v1/echo/2", body), ("/v1/big/5000", body)])
    lines = out.splitlines()
    ports = {s[0] for s in srv.seen[n_before:]}
    case("keep_alive_reuses_connection",
         rc == 0 and len(lines) == 3 and all(l.split()[2] == "1" for l in lines)
         and len(ports) == 1 and lines[2].split()[1] == "5000",
         "rc=%d out=%r ports=%r err=%r" % (rc, out, ports, err))

    # The server closes after an answer (Connection: close): the next request
    # reconnects.
    n_before = len(srv.seen)
    rc, out, err, _ = post(home, srv.port, ca_pem, [("/v1/close", body), ("/v1/echo", body)])
    lines = out.splitlines()
    ports = {s[0] for s in srv.seen[n_before:]}
    case("reconnect_after_close",
         rc == 0 and len(lines) == 2 and lines[0].split()[2] == "1"
         and lines[1].split()[2] == "2" and len(ports) == 2,
         "out=%r err=%r" % (out, err))

    # Large bodies both ways (several TLS records, several reads).
    big = os.path.join(d, "bigbody")
    bigdata = os.urandom(3 * 1024 * 1024 + 17)
    with open(big, "wb") as f:
        f.write(bigdata)
    rc, out, err, _ = post(home, srv.port, ca_pem,
                           [("/v1/echo", big), ("/v1/big/%d" % (5 * 1024 * 1024), body)])
    lines = out.splitlines()
    case("large_bodies",
         rc == 0 and len(lines) == 2 and lines[0].split()[3] == hashlib.sha256(bigdata).hexdigest()
         and lines[1].split()[1] == str(5 * 1024 * 1024)
         and lines[1].split()[3] == bytes(i % 251 for i in range(32)).hex(),
         "out=%r err=%r" % (out, err))

    # HTTP statuses -> messages and exit codes (allears(1), PROTOCOL.md 14.2).
    for code, exitc, text in ((403, 4, "wrong key or unknown user"),
                              (409, 4, "replayed request (your clock went backwards?)"),
                              (503, 3, "server busy, try again in 5 s"),
                              (404, 3, "no allears API at localhost:%d" % srv.port)):
        rc, out, err, _ = post(home, srv.port, ca_pem, [("/v1/status/%d" % code, body)])
        case("http_%d" % code, rc == exitc and text in err, "rc=%d err=%r" % (rc, err))
    rc, out, err, _ = post(home, srv.port, ca_pem, [("/v1/status/412", body)])
    ok = rc == 4 and any("your clock is %d s off from the server's (ahead)" % n in err
                         for n in (99, 100, 101))
    case("http_412_clock_offset_from_date", ok, "rc=%d err=%r" % (rc, err))

    # A server slower than the timeout.
    rc, out, err, took = post(home, srv.port, ca_pem, [("/v1/slow", body)])
    case("slow_answer_times_out",
         rc == 3 and "server down at localhost:%d (no answer within 2 s)" % srv.port in err
         and took < 10, "rc=%d err=%r took=%.1f" % (rc, err, took))
    srv.stop()

    # Certificates that must be refused.
    for name, pair, server, text in (
            ("wrong_host_name", wrong, "localhost", "is not for localhost"),
            ("ip_not_in_certificate", nameonly, "127.0.0.1", "is not for 127.0.0.1"),
            ("unknown_ca", foreign, "localhost", "is not signed by a trusted CA"),
            ("self_signed", selfs, "localhost", "is not signed by a trusted CA"),
            ("expired", expired, "localhost", "has expired")):
        s = TLSServer(*pair)
        rc, out, err, _ = post(home, s.port, ca_pem, [("/v1/echo", body)], server=server)
        case("refuse_" + name, rc == 3 and text in err and out == "",
             "rc=%d out=%r err=%r" % (rc, out, err))
        s.stop()

    # A missing CA file.
    s = TLSServer(*good)
    rc, out, err, _ = post(home, s.port, os.path.join(d, "nothing.pem"), [("/v1/echo", body)])
    case("missing_ca_file", rc == 3 and "cannot load CA certificates from" in err, err)
    s.stop()

    # TLS 1.1 only: refused (the client speaks TLS 1.2 and 1.3 only).
    try:
        s = TLSServer(*good, max_version=ssl.TLSVersion.TLSv1_1)
    except (ssl.SSLError, ValueError) as e:
        skip("refuse_tls_1_1", "this OpenSSL cannot serve TLS 1.1: %s" % e)
    else:
        rc, out, err, _ = post(home, s.port, ca_pem, [("/v1/echo", body)])
        case("refuse_tls_1_1", rc == 3 and out == "" and "TLS with localhost" in err,
             "rc=%d err=%r" % (rc, err))
        s.stop()

    # Servers that are down in the various ways.
    tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ctx.load_cert_chain(*good)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    rc, out, err, _ = post(home, port, ca_pem, [("/v1/echo", body)], server="127.0.0.1")
    case("connection_refused",
         rc == 3 and "server down at 127.0.0.1:%d (connection refused)" % port in err, err)
    for behaviour, text in (("close", "(it closed the connection)"),
                            ("silent", "(no answer within 2 s)"),
                            ("tls-close", "(it closed the connection)")):
        s, p = raw_server(behaviour, tls_ctx)
        rc, out, err, took = post(home, p, ca_pem, [("/v1/echo", body)])
        case("server_" + behaviour.replace("-", "_"),
             rc == 3 and ("server down at localhost:%d " % p + text) in err and took < 10,
             "rc=%d err=%r took=%.1f" % (rc, err, took))
        s.close()
    s, p = raw_server("garbage", tls_ctx)
    rc, out, err, _ = post(home, p, ca_pem, [("/v1/echo", body)])
    case("not_http", rc == 3 and "did not answer in acceptable HTTP" in err, err)
    s.close()

    # A real command against a server that is down: the same message, exit 3.
    rc, out, err, _ = run(home, ["--server", "127.0.0.1", "--port", str(port), "init"])
    rc, out, err, _ = run(home, ["--server", "127.0.0.1", "--port", str(port),
                                 "register", "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8"])
    case("register_server_down",
         rc == 3 and "server down at 127.0.0.1:%d (connection refused)" % port in err, err)

    subprocess.run(["rm", "-rf", d])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
