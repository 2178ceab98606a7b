#!/usr/bin/python3
"""test_tls_http.py: the TLS layer (src/ipc/tls.c) and the HTTP parser
(src/common/http.c) through build/tests/tlsecho, driven by clients nobody here
wrote: openssl s_client, Python's ssl and smtplib, and curl. Certificates (a
root CA, an intermediate and leaves of several key types) are made at test time
in a temporary directory.

Usage: /usr/bin/python3 test_tls_http.py <builddir>
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import datetime
import ipaddress
import os
import queue
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
TLSECHO = os.path.join(BUILD, "tests", "tlsecho")
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")

# The policy (docs/PROTOCOL.md section 13): IANA numbers by OpenSSL name.
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
                "TLS_CHACHA20_POLY1305_SHA256": 0x1303}
TLS12_ECDSA = {"ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B, "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
               "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9}
TLS12_RSA = {"ECDHE-RSA-AES128-GCM-SHA256": 0xC02F, "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
             "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8}
ALLOWED = dict(TLS13_SUITES, **TLS12_ECDSA, **TLS12_RSA)

failures = 0


def case(name, cond, detail=""):
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()
    return cond


def skip(name, why):
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


# ---- certificates ----

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, key, issuer_cn, issuer_key, ca=False):
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             issuer_key.public_key()), False))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False), True))
    else:
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
             .add_extension(x509.SubjectAlternativeName(
                 [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                 False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
    algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(issuer_key, algo)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key, fmt="pkcs8"):
    f = (serialization.PrivateFormat.PKCS8 if fmt == "pkcs8"
         else serialization.PrivateFormat.TraditionalOpenSSL)
    return key.private_bytes(serialization.Encoding.PEM, f, serialization.NoEncryption())


class Certs:
    """A root CA, an intermediate CA, and leaves signed by the intermediate."""

    def __init__(self, d):
        self.d = d
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = make_cert("allears test root", self.root_key, "allears test root",
                              self.root_key, ca=True)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.int = make_cert("allears test intermediate", self.int_key, "allears test root",
                             self.root_key, ca=True)
        self.root_file = self.write("root.pem", pem(self.root))

    def write(self, name, data):
        path = os.path.join(self.d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def leaf(self, name, key, fmt="pkcs8", chain=True):
        """Writes name.chain.pem (leaf + intermediate, like an ACME fullchain.pem)
        and name.key.pem; returns both paths."""
        cert = make_cert("localhost", key, "allears test intermediate", self.int_key)
        body = pem(cert) + (pem(self.int) if chain else b"")
        return (self.write(name + ".chain.pem", body), self.write(name + ".key.pem",
                                                                  key_pem(key, fmt)))


# ---- the server ----

class Server:
    def __init__(self, mode, chain, key, *extra):
        self.p = subprocess.Popen([TLSECHO, mode, chain, key] + list(extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("PORT "):
            self.p.kill()
            raise RuntimeError("tlsecho did not start: %r %s" % (line, self.p.stderr.read()))
        self.port = int(line.split()[1])
        self.events = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.events.put(line.strip())

    def event(self, timeout=5):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def event_like(self, prefix, timeout=5):
        """The next event starting with prefix, skipping others (a successful
        connection's "TLS ..." line can arrive late on a loaded machine)."""
        end = time.time() + timeout
        while True:
            ev = self.event(max(0.0, end - time.time()))
            if ev is None or ev.startswith(prefix):
                return ev

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        err = self.p.stderr.read()
        self.p.stderr.close()
        self.t.join(timeout=5)
        self.p.stdout.close()
        return self.p.returncode, err


def client_ctx(cafile, tls_max=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if tls_max:
        ctx.maximum_version = tls_max
    return ctx


def tls_connect(port, ctx, timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out += b
    return out


def s_client(port, *args, send=None, wait_for=None, brief=True, timeout=8):
    """Runs openssl s_client; returns its stdout and stderr together."""
    cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port] + (["-brief"] if brief else [])
    cmd += list(args)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = b""
    steps = list(send) if isinstance(send, list) else ([send] if send else [])
    if not steps:
        p.stdin.close()
    deadline = time.time() + timeout
    fd = p.stdout.fileno()
    while time.time() < deadline:
        if steps and (b"CONNECTION ESTABLISHED" in out or b"Verify return code" in out
                      or b"---\n" in out):
            step = steps.pop(0)
            if isinstance(step, float):
                time.sleep(step)
            else:
                try:
                    p.stdin.write(step)
                    p.stdin.flush()
                except BrokenPipeError:  # s_client has ended the connection
                    steps = []
            if not steps and not wait_for and not p.stdin.closed:
                try:
                    p.stdin.close()
                except BrokenPipeError:
                    pass
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
        if wait_for and wait_for in out and not steps:
            break
    if p.poll() is None:
        p.kill()
    p.wait()
    if not p.stdin.closed:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
    p.stdout.close()
    return out.decode("latin-1")


def established(out):
    return "CONNECTION ESTABLISHED" in out or "New, TLSv1" in out


# ---- HTTP helpers ----

def parse_responses(buf):
    """Splits buf into complete responses: [(status, {lower name: value}, body)]."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        hdrs = {}
        for line in head[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        if len(buf) < end + 4 + n:
            return out, buf
        out.append((status, hdrs, buf[end + 4:end + 4 + n]))
        buf = buf[end + 4 + n:]


def https_exchange(port, ctx, chunks, want, timeout=5):
    """Sends the chunks (one TLS record each), reads until `want` responses or EOF;
    returns (responses, closed_by_server)."""
    s = tls_connect(port, ctx, timeout)
    try:
        for c in chunks:
            s.sendall(c)
        buf, resps, closed = b"", [], False
        while len(resps) < want:
            try:
                b = s.recv(65536)
            except (socket.timeout, ssl.SSLError, ConnectionError):
                break
            if not b:
                closed = True
                break
            buf += b
            got, _ = parse_responses(buf)
            resps = got
        if len(resps) >= want and not closed:
            s.settimeout(0.5)
            try:
                closed = s.recv(1) == b""
            except (socket.timeout, ssl.SSLError, ConnectionError):
                closed = False
        return resps, closed
    finally:
        s.close()


def hexcode(ev):
    """'TLS version=0304 cipher=1301' -> (0x0304, 0x1301)."""
    if not ev or not ev.startswith("TLS "):
        return None
    kv = dict(x.split("=") for x in ev.split()[1:])
    return int(kv["version"], 16), int(kv["cipher"], 16)


# ---- cases ----

def openssl_cases(certs, ec_srv, rsa_srv):
    if not OPENSSL:
        for n in ("s_client_tls13", "s_client_tls12", "s_client_tls11_refused",
                  "s_client_cbc_refused", "s_client_rsa_kex_refused", "s_client_dhe_refused",
                  "s_client_every_suite", "s_client_groups", "s_client_renegotiation_refused"):
            skip(n, "openssl is not installed")
        return
    ec_srv.drain()
    out = s_client(ec_srv.port, "-tls1_3", "-CAfile", certs.root_file,
                   send=b"ping over tls13\n", wait_for=b"ping over tls13")
    ev = hexcode(ec_srv.event())
    suite = [n for n in TLS13_SUITES if "Ciphersuite: " + n in out]
    case("s_client_tls13", "Protocol version: TLSv1.3" in out and suite and
         out.count("ping over tls13") >= 1 and "Verification: OK" in out and
         ev == (0x0304, TLS13_SUITES[suite[0]]), out[-600:] + " ev=%r" % (ev,))

    out = s_client(ec_srv.port, "-tls1_2", "-CAfile", certs.root_file,
                   send=b"ping over tls12\n", wait_for=b"ping over tls12")
    ev = hexcode(ec_srv.event())
    suite = [n for n in TLS12_ECDSA if "Ciphersuite: " + n in out]
    case("s_client_tls12", "Protocol version: TLSv1.2" in out and suite and
         "ping over tls12" in out and ev == (0x0303, TLS12_ECDSA[suite[0]]), out[-600:])

    out = s_client(ec_srv.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    ev = ec_srv.event()
    case("s_client_tls11_refused", not established(out) and ev == "TLSFAIL class=version",
         "%s ev=%r" % (out[-300:], ev))

    cbc = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:" \
          "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256"
    out = s_client(ec_srv.port, "-tls1_2", "-cipher", cbc)
    ev = ec_srv.event()
    out2 = s_client(rsa_srv.port, "-tls1_2", "-cipher", cbc)
    ev2 = rsa_srv.event()
    case("s_client_cbc_refused", not established(out) and not established(out2) and
         ev == "TLSFAIL class=cipher" and ev2 == "TLSFAIL class=cipher", "%r %r" % (ev, ev2))

    out = s_client(rsa_srv.port, "-tls1_2", "-cipher",
                   "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA256")
    ev = rsa_srv.event()
    case("s_client_rsa_kex_refused", not established(out) and ev == "TLSFAIL class=cipher",
         "%s ev=%r" % (out[-300:], ev))

    out = s_client(rsa_srv.port, "-tls1_2", "-cipher",
                   "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")
    ev = rsa_srv.event()
    out2 = s_client(ec_srv.port, "-tls1_3", "-ciphersuites",
                    "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256")
    ev2 = ec_srv.event()
    case("s_client_dhe_refused", not established(out) and ev == "TLSFAIL class=cipher" and
         not established(out2) and ev2 and ev2.startswith("TLSFAIL"), "%r %r" % (ev, ev2))

    # every allowed suite can be negotiated, and the server records its IANA number
    bad = []
    for name, num in TLS13_SUITES.items():
        out = s_client(ec_srv.port, "-tls1_3", "-ciphersuites", name)
        if hexcode(ec_srv.event()) != (0x0304, num) or "Ciphersuite: " + name not in out:
            bad.append(name)
    for srv, suites in ((ec_srv, TLS12_ECDSA), (rsa_srv, TLS12_RSA)):
        for name, num in suites.items():
            out = s_client(srv.port, "-tls1_2", "-cipher", name)
            if hexcode(srv.event()) != (0x0303, num) or "Ciphersuite: " + name not in out:
                bad.append(name)
    case("s_client_every_suite", not bad, str(bad))

    # key exchange groups: X25519 and P-256 only, in both versions
    bad = []
    for ver in ("-tls1_3", "-tls1_2"):
        for grp, shown in (("X25519", "X25519"), ("P-256", "prime256v1")):
            out = s_client(rsa_srv.port, ver, "-groups", grp, brief=False)
            rsa_srv.event()
            if "Server Temp Key: " not in out or shown not in out.split("Server Temp Key: ")[1][:40]:
                bad.append((ver, grp, "not used"))
        for grp in ("P-384", "P-521", "X448"):
            out = s_client(rsa_srv.port, ver, "-groups", grp, brief=False)
            rsa_srv.drain()
            if "New, TLSv1" in out:
                bad.append((ver, grp, "accepted"))
    case("s_client_groups", not bad, str(bad))

    # a client-initiated renegotiation ("R") ends the connection; nothing is echoed after it
    out = s_client(rsa_srv.port, "-tls1_2", brief=False,
                   send=[b"before\n", 0.5, b"R\n", 1.0, b"after-reneg\n", 1.0])
    rsa_srv.drain()
    case("s_client_renegotiation_refused", "RENEGOTIATING" in out and "before" in out and
         out.count("after-reneg") == 0, out[-400:])


def python_cases(certs, d):
    chain, key = certs.leaf("p256", ec.generate_private_key(ec.SECP256R1()))
    srv = Server("echo", chain, key, "--handshake-ms", "1500")
    ctx = client_ctx(certs.root_file)
    try:
        # the chain: the client knows only the root, so the intermediate must come from us
        data = os.urandom(100000)
        s = tls_connect(srv.port, ctx)
        s.sendall(data)
        back = recv_exact(s, len(data))
        ver, cipher = s.version(), s.cipher()[0]
        s.close()
        ev = hexcode(srv.event())
        case("py_echo_roundtrip", back == data and ver == "TLSv1.3" and cipher in ALLOWED and
             ev == (0x0304, ALLOWED[cipher]), "%s %s %r" % (ver, cipher, ev))

        s = tls_connect(srv.port, client_ctx(certs.root_file, ssl.TLSVersion.TLSv1_2))
        s.sendall(b"twelve")
        back = recv_exact(s, 6)
        ver, cipher = s.version(), s.cipher()[0]
        s.close()
        ev = hexcode(srv.event())
        case("py_tls12", back == b"twelve" and ver == "TLSv1.2" and cipher in TLS12_ECDSA and
             ev == (0x0303, ALLOWED[cipher]), "%s %s %r" % (ver, cipher, ev))

        # several connections at once
        results = []
        barrier = threading.Barrier(16)

        def worker(i):
            try:
                barrier.wait(timeout=5)
                c = tls_connect(srv.port, ctx)
                ok = True
                for k in range(3):
                    msg = ("conn %d msg %d " % (i, k)).encode() * 50
                    c.sendall(msg)
                    ok = ok and recv_exact(c, len(msg)) == msg
                c.close()
                results.append(ok)
            except Exception as e:  # noqa: BLE001
                results.append(repr(e))

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=20)
        case("py_concurrent", results.count(True) == 16, str(results))
        srv.drain()

        # a client that stops mid-handshake (and one that sends nothing) blocks nobody
        stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
        silent = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.time()
        c = tls_connect(srv.port, ctx, timeout=3)
        c.sendall(b"still served")
        back = recv_exact(c, 12)
        c.close()
        srv.event()  # its "TLS ..." line
        case("py_stalled_handshake_blocks_nobody", back == b"still served" and time.time() - t0 < 1.0,
             "%.2fs" % (time.time() - t0))
        # ... and the caller's handshake timer closes them
        t0 = time.time()
        closed = []
        for sock in (stalled, silent):
            try:
                closed.append(sock.recv(100) == b"")
            except ConnectionResetError:
                closed.append(True)
            except socket.timeout:
                closed.append(False)
            sock.close()
        evs = [srv.event_like("TIMEOUT"), srv.event_like("TIMEOUT")]
        case("py_handshake_timeout", all(closed) and time.time() - t0 < 5 and
             evs == ["TIMEOUT", "TIMEOUT"],
             "%r %r" % (closed, evs))

        # garbage instead of a ClientHello is a protocol failure, not a crash
        g = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        g.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            g.recv(100)
        except ConnectionError:
            pass
        g.close()
        ev = srv.event_like("TLSFAIL")
        case("py_plaintext_to_tls_port", ev == "TLSFAIL class=protocol", repr(ev))

        # ALPN: http/1.1 is chosen when offered; a client offering only h2 goes on without
        hs = Server("http", chain, key)
        try:
            a = client_ctx(certs.root_file)
            a.set_alpn_protocols(["h2", "http/1.1"])
            s = tls_connect(hs.port, a)
            sel = s.selected_alpn_protocol()
            s.close()
            b = client_ctx(certs.root_file)
            b.set_alpn_protocols(["h2"])
            s = tls_connect(hs.port, b)
            sel2 = s.selected_alpn_protocol()
            s.close()
            case("py_alpn", sel == "http/1.1" and sel2 is None, "%r %r" % (sel, sel2))
        finally:
            hs.stop()
    finally:
        rc, err = srv.stop()
        case("tlsecho_clean_stop", rc == 0 and err == "", "rc=%r stderr=%r" % (rc, err))


def cert_type_cases(certs):
    """Certificate chains and keys as operators have them (ACME: ECDSA or RSA, PKCS#8
    or the traditional formats), and the refusals."""
    kinds = [("p256_sec1", ec.generate_private_key(ec.SECP256R1()), "trad"),
             ("p384", ec.generate_private_key(ec.SECP384R1()), "pkcs8"),
             ("rsa2048_pkcs1", rsa.generate_private_key(public_exponent=65537, key_size=2048),
              "trad"),
             ("rsa2048", rsa.generate_private_key(public_exponent=65537, key_size=2048), "pkcs8"),
             ("ed25519", ed25519.Ed25519PrivateKey.generate(), "pkcs8")]
    bad = []
    for name, k, fmt in kinds:
        chain, key = certs.leaf(name, k, fmt)
        srv = Server("echo", chain, key)
        try:
            s = tls_connect(srv.port, client_ctx(certs.root_file))
            s.sendall(b"hi")
            if recv_exact(s, 2) != b"hi":
                bad.append(name)
            s.close()
        except Exception as e:  # noqa: BLE001
            bad.append("%s: %r" % (name, e))
        finally:
            srv.stop()
    case("cert_types", not bad, str(bad))

    # without the intermediate the client cannot verify: the chain test above means something
    chain, key = certs.leaf("leafonly", ec.generate_private_key(ec.SECP256R1()), chain=False)
    srv = Server("echo", chain, key)
    try:
        tls_connect(srv.port, client_ctx(certs.root_file)).close()
        ok = False
    except ssl.SSLCertVerificationError:
        ok = True
    finally:
        srv.stop()
    case("chain_needed_for_verification", ok)

    # a key that is not the certificate's, and PEM that is not PEM, are refused at start
    c1, _ = certs.leaf("m1", ec.generate_private_key(ec.SECP256R1()))
    _, k2 = certs.leaf("m2", ec.generate_private_key(ec.SECP256R1()))
    junk = certs.write("junk.pem", b"-----BEGIN CERTIFICATE-----\nnot base64\n"
                                   b"-----END CERTIFICATE-----\n")
    codes = []
    for c, k in ((c1, k2), (junk, k2), (c1, junk)):
        r = subprocess.run([TLSECHO, "echo", c, k], capture_output=True, text=True, timeout=10)
        codes.append((r.returncode, "refused" in r.stderr))
    case("bad_key_or_pem_refused", codes == [(1, True)] * 3, str(codes))

    if OPENSSL:
        # a certificate made the usual way with openssl req
        d = certs.d
        r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                            os.path.join(d, "o.key"), "-out", os.path.join(d, "o.crt"), "-days",
                            "1", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost"], capture_output=True)
        srv = Server("echo", os.path.join(d, "o.crt"), os.path.join(d, "o.key"))
        try:
            s = tls_connect(srv.port, client_ctx(os.path.join(d, "o.crt")))
            s.sendall(b"ok")
            ok = r.returncode == 0 and recv_exact(s, 2) == b"ok"
            s.close()
        finally:
            srv.stop()
        case("openssl_req_certificate", ok)
    else:
        skip("openssl_req_certificate", "openssl is not installed")


def starttls_cases(certs, chain, key):
    srv = Server("smtp", chain, key)
    try:
        ctx = client_ctx(certs.root_file)
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=5)
        code1, ehlo1 = s.ehlo()
        code2, _ = s.starttls(context=ctx)  # verifies 127.0.0.1 against the IP SAN
        code3, ehlo2 = s.ehlo()
        code4, _ = s.noop()
        ver = s.sock.version()
        s.quit()
        ev = hexcode(srv.event())
        case("smtplib_starttls", code1 == 250 and b"STARTTLS" in ehlo1 and code2 == 220 and
             code3 == 250 and b"STARTTLS" not in ehlo2 and code4 == 250 and ver == "TLSv1.3" and
             ev is not None and ev[0] == 0x0304, "%r %r" % (ver, ev))

        # plaintext pipelined after STARTTLS must not be carried into the TLS session
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"EHLO x\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\nRCPT TO:<injected@example.org>\r\n")
        reply = f.readline()
        rest = f.read()
        raw.close()
        ev = srv.event()
        case("starttls_injection_refused", reply.startswith(b"554") and rest == b"" and
             ev == "PLAINTEXT-REFUSED", "%r %r %r" % (reply, rest, ev))

        if OPENSSL:
            out = s_client(srv.port, "-starttls", "smtp", "-CAfile", certs.root_file,
                           send=b"NOOP\r\n", wait_for=b"250 2.0.0 Ok")
            ev = hexcode(srv.event())
            suite = [n for n in TLS13_SUITES if "Ciphersuite: " + n in out]
            case("s_client_starttls_smtp", "Protocol version: TLSv1.3" in out and suite and
                 "250 2.0.0 Ok" in out and ev == (0x0304, TLS13_SUITES[suite[0]]), out[-500:])
        else:
            skip("s_client_starttls_smtp", "openssl is not installed")
    finally:
        srv.stop()


def http_cases(certs, chain, key):
    srv = Server("http", chain, key)
    ctx = client_ctx(certs.root_file)
    port = srv.port
    url = "https://localhost:%d" % port
    try:
        if CURL:
            class Out:
                pass

            def curl(*args):
                r = subprocess.run([CURL, "-sS", "--cacert", certs.root_file] + list(args),
                                   capture_output=True, timeout=20)
                o = Out()  # decoded without newline translation: CRLF stays visible
                o.returncode, o.stdout, o.stderr = (r.returncode, r.stdout.decode("latin-1"),
                                                    r.stderr.decode("latin-1"))
                return o

            r = curl("-i", url + "/")
            case("curl_get", r.returncode == 0 and r.stdout.startswith("HTTP/1.1 200 OK\r\n") and
                 r.stdout.endswith("\r\n\r\nhello from allears\n") and
                 "Content-Length: 19\r\n" in r.stdout, r.stdout + r.stderr)
            srv.drain()

            r = curl("-v", url + "/", url + "/")
            evs = [e for e in srv.drain() if e.startswith("TLS ")]
            case("curl_keepalive_two_requests",
                 r.returncode == 0 and r.stdout == "hello from allears\n" * 2 and
                 "Re-using existing connection" in r.stderr and len(evs) == 1 and
                 "ALPN: server accepted http/1.1" in r.stderr, r.stderr[-800:] + str(evs))

            r = curl("-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", url + "/nope",
                     url + "/", "-X", "DELETE")
            case("curl_404_405", r.stdout == "404 1\n405 0\n", repr(r.stdout))

            # a request curl sends in asterisk-form is malformed for an origin server: 400
            r = curl("-i", "--request-target", "*", url + "/")
            case("curl_malformed_400", r.stdout.startswith("HTTP/1.1 400 Bad Request\r\n") and
                 "Connection: close\r\n" in r.stdout, r.stdout + r.stderr)

            r = curl("-o", "/dev/null", "-w", "%{http_code}", url + "/" + "a" * 3000)
            case("curl_long_target_414", r.stdout == "414", repr(r.stdout))

            body = os.urandom(3000).hex()[:4000]
            r = curl("-v", "-H", "Expect: 100-continue", "--data-binary", body, url + "/echo")
            case("curl_post_expect_100", r.stdout == body and "HTTP/1.1 100 Continue" in r.stderr,
                 r.stderr[-500:])

            r = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "x" * 5000,
                     url + "/echo")
            case("curl_body_too_large_413", r.stdout == "413", repr(r.stdout))
        else:
            for n in ("curl_get", "curl_keepalive_two_requests", "curl_404_405",
                      "curl_malformed_400", "curl_long_target_414", "curl_post_expect_100",
                      "curl_body_too_large_413"):
                skip(n, "curl is not installed")

        # raw requests over TLS from Python
        resps, closed = https_exchange(port, ctx, [b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"], 1)
        case("https_bad_header_400_close", len(resps) == 1 and resps[0][0] == 400 and
             resps[0][1].get("connection") == "close" and closed, str(resps))

        four = (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"
                b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n")
        resps, closed = https_exchange(port, ctx, [four], 4)
        case("https_pipelined_four",
             [(r[0], r[2]) for r in resps] == [(200, b"hello from allears\n"), (200, b"hello"),
                                               (405, b""), (404, b"")] and not closed, str(resps))

        # HEAD: the GET's Content-Length, no body
        s = tls_connect(port, ctx)
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        raw = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            raw += b
        s.close()
        case("https_head", raw.startswith(b"HTTP/1.1 200 OK\r\n") and
             b"\r\nContent-Length: 19\r\n" in raw and raw.endswith(b"\r\n\r\n"), repr(raw))

        req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        resps, closed = https_exchange(port, ctx, [req[i:i + 1] for i in range(len(req))], 1)
        case("https_byte_at_a_time", len(resps) == 1 and resps[0][0] == 200 and closed and
             resps[0][1].get("connection") == "close", str(resps))

        resps, closed = https_exchange(port, ctx, [b"GET / HTTP/1.0\r\n\r\n"], 1)
        resps2, closed2 = https_exchange(
            port, ctx, [b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"], 1)
        case("https_http10_keepalive_rules", len(resps) == 1 and closed and
             len(resps2) == 1 and not closed2 and resps2[0][1].get("connection") == "keep-alive",
             "%r %r" % (resps, resps2))

        resps, closed = https_exchange(port, ctx, [b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"], 1)
        resps2, _ = https_exchange(port, ctx, [b"POST /echo HTTP/1.1\r\nHost: a\r\n\r\n"], 1)
        resps3, _ = https_exchange(
            port, ctx, [b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n0\r\n\r\n"], 1)
        many = b"".join(b"X-%d: v\r\n" % i for i in range(40))
        resps4, _ = https_exchange(port, ctx, [b"GET / HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n"], 1)
        case("https_error_statuses", [r[0][0] if r else None for r in
                                      (resps, resps2, resps3, resps4)] == [505, 411, 501, 431] and
             closed, "%r" % ([resps, resps2, resps3, resps4],))
    finally:
        rc, err = srv.stop()
        case("tlsecho_http_clean_stop", rc == 0 and err == "", "rc=%r %r" % (rc, err))


def main():
    if not os.access(TLSECHO, os.X_OK):
        case("tlsecho_built", False, TLSECHO)
        return 1
    with tempfile.TemporaryDirectory(prefix="allears-tls-") as d:
        certs = Certs(d)
        ec_chain, ec_key = certs.leaf("ec", ec.generate_private_key(ec.SECP256R1()))
        rsa_chain, rsa_key = certs.leaf(
            "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        ec_srv = Server("echo", ec_chain, ec_key)
        rsa_srv = Server("echo", rsa_chain, rsa_key)
        try:
            openssl_cases(certs, ec_srv, rsa_srv)
        finally:
            ec_srv.stop()
            rsa_srv.stop()
        python_cases(certs, d)
        cert_type_cases(certs)
        starttls_cases(certs, ec_chain, ec_key)
        http_cases(certs, ec_chain, ec_key)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
