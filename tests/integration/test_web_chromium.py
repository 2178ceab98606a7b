#!/usr/bin/python3
"""test_web_chromium.py: the page allears-web serves, rendered by headless
Chromium (Debian's chromium package), driven over the DevTools protocol with
python3-websocket. Every Content-Security-Policy violation is caught three
ways (the console's Log domain, the Audits issues and a securitypolicyviolation
listener in the page), a screenshot is taken, and the page's style (allowed
only by its CSP hash) is checked to apply.

The default page must render with no violation. Two deliberately violating
pages prove the detection: one whose CSP leaves out its style's hash (a page
file written here from docs/PROTOCOL.md section 21.2, not by the builder) and
one whose CSS loads an image from another site, which the builder cannot see.

Chromium reaches nothing but loopback: every host name but localhost resolves
to nothing inside the browser (--host-resolver-rules), background networking
is off, and the test certificate is trusted by its public key hash only.

Usage: /usr/bin/python3 test_web_chromium.py <builddir>
Prints PASS/FAIL/SKIP lines; exits non-zero if any case fails."""

import base64
import hashlib
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from itest import case, BUILD  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ADMIN = os.path.join(BUILD, "allears-admin")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TMP = tempfile.mkdtemp(prefix="web-chromium-")
# Where the screenshots are kept (printed); everything else is removed.
SHOTS = os.environ.get("ALLEARS_SCREENSHOTS") or tempfile.mkdtemp(prefix="allears-web-shots-")

try:
    import websocket  # python3-websocket
except ImportError:
    websocket = None


def skip(name, why):
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


# ---- the page file, written from docs/PROTOCOL.md section 21.2 ----

def page_file(html, csp, max_age=60):
    """A page file with only the identity variant, and the CSP given."""
    csp = csp.encode()
    body = b"AEWEBP" + bytes([1, 1]) + struct.pack("<IH", max_age, len(csp)) + csp
    tag = hashlib.blake2b(html, digest_size=16).digest()
    body += bytes([0]) + tag + struct.pack("<I", len(html)) + html
    return body + hashlib.blake2b(body, digest_size=32).digest()


# ---- a small DevTools protocol client ----

class Browser:
    def __init__(self, spki):
        self.dir = tempfile.mkdtemp(prefix="profile-", dir=TMP)
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
                "--ignore-certificate-errors-spki-list=" + spki,
                "--user-data-dir=" + self.dir, "--remote-debugging-port=0",
                "--window-size=1024,900", "about:blank"]
        self.log = open(os.path.join(TMP, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.PIPE)
        # Chromium prints its DevTools endpoint once it listens (the readiness signal).
        url = None
        deadline = time.monotonic() + 60
        buf = b""
        while url is None and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 1)
            if not r:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"DevTools listening on (ws://\S+)", buf)
            if m:
                url = m.group(1).decode()
        if url is None:
            raise RuntimeError("chromium did not start: %r" % buf[-2000:])
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        mid = self.next_id
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == mid:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, session, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no %s within %d s" % (method, timeout))
            self.ws.settimeout(left)
            self.events.append(json.loads(self.ws.recv()))

    def visit(self, url, shot):
        """Loads url in a new tab; returns (violations, console errors, the page's
        findings, PNG bytes)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                       "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Audits"):
            self.send(domain + ".enable", session=session)
        # Runs before the page's own code; DevTools scripts are not subject to its CSP.
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": """
            window.__csp = [];
            document.addEventListener('securitypolicyviolation', function (e) {
                window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
            });"""}, session=session)
        self.events = [e for e in self.events if e.get("sessionId") != session]
        nav = self.send("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            raise RuntimeError("navigation failed: %s" % nav["errorText"])
        self.wait_event("Page.loadEventFired", session)
        found = self.send("Runtime.evaluate", {"expression": """JSON.stringify({
            csp: window.__csp, title: document.title,
            maxWidth: getComputedStyle(document.querySelector('main') || document.body).maxWidth,
            h1: (document.querySelector('h1') || {}).textContent || ''})""",
            "returnByValue": True}, session=session)["result"]["value"]
        found = json.loads(found)
        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"},
                                         session=session)["data"])
        os.makedirs(SHOTS, exist_ok=True)
        with open(os.path.join(SHOTS, shot), "wb") as f:
            f.write(png)
        # A round trip after the screenshot: every event sent before it has arrived.
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)
        violations, errors = list(found["csp"]), []
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            if e.get("method") == "Log.entryAdded":
                entry = e["params"]["entry"]
                text = entry.get("text", "")
                if "Content Security Policy" in text:
                    violations.append("console: " + text)
                elif entry.get("level") == "error":
                    errors.append(text)
            elif e.get("method") == "Audits.issueAdded":
                issue = e["params"]["issue"]
                if issue.get("code") == "ContentSecurityPolicyIssue":
                    violations.append("issue: %s" % json.dumps(issue.get("details", {}))[:200])
        self.send("Target.closeTarget", {"targetId": target})
        return violations, errors, found, png

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def spki_of(cert_path):
    """base64 SHA-256 of the certificate's SubjectPublicKeyInfo (what
    --ignore-certificate-errors-spki-list takes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def build_page(html, name):
    path = os.path.join(TMP, name + ".html")
    out = os.path.join(TMP, name + ".page")
    with open(path, "wb") as f:
        f.write(html)
    r = subprocess.run([ADMIN, "web", "--out", out, path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("allears-admin web: %s" % r.stderr)
    return out


def serve(page_path):
    """A web role serving page_path (through the page_file setting)."""
    return System(BUILD, roles=["web"], config_extra={"web": {"page_file": page_path}}).start()


def main():
    if not CHROMIUM or websocket is None:
        skip("web_chromium", "needs the chromium and python3-websocket packages")
        return 0
    if not os.access(os.path.join(BUILD, "allears-web"), os.X_OK):
        print("FAIL web_chromium allears-web is not built in %s" % BUILD)
        return 1
    # 1. the default page, from the launcher's credential
    system = System(BUILD, roles=["web"]).start()
    browser = None
    try:
        browser = Browser(spki_of(os.path.join(system.credentials_dir("web"), "tls.crt")))
        url = "https://localhost:%d/" % system.port("web")
        v, errors, found, png = browser.visit(url, "default.png")
        case("chromium_default_page_no_csp_violation", v == [], "; ".join(v))
        case("chromium_default_page_no_console_error", errors == [], "; ".join(errors))
        case("chromium_default_page_rendered",
             found["title"] == "allears mail server" and found["h1"] == "allears", found)
        # 44rem: the inline style applies only through its CSP hash.
        case("chromium_default_page_hashed_style_applies", found["maxWidth"] == "704px", found)
        case("chromium_screenshot_taken",
             png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, "%d bytes" % len(png))
        print("  screenshot: %s" % os.path.join(SHOTS, "default.png"))
    finally:
        if browser:
            browser.close()
        system.stop()

    # 2. detection proof: a page whose CSP omits its style's hash
    style_page = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>v</title>"
                  b"<link rel='icon' href='data:,'><style>main{max-width:20rem}</style>"
                  b"</head><body><main><h1>v</h1></main></body></html>")
    path = os.path.join(TMP, "nohash.page")
    with open(path, "wb") as f:
        f.write(page_file(style_page, "default-src 'none'; style-src 'none'; "
                                      "frame-ancestors 'none'"))
    system = serve(path)
    browser = Browser(spki_of(os.path.join(system.credentials_dir("web"), "tls.crt")))
    try:
        v, _, found, _ = browser.visit("https://localhost:%d/" % system.port("web"),
                                       "violation-style.png")
        case("chromium_detects_unhashed_style_violation",
             any("style-src" in x for x in v), v)
        case("chromium_unhashed_style_blocked",
             found["maxWidth"] == "none", found)
    finally:
        browser.close()
        system.stop()

    # 3. detection proof: CSS loading an image from elsewhere (the builder does
    # not read CSS; the browser's CSP stops it)
    css_page = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>c</title>"
                b"<link rel='icon' href='data:,'>"
                b"<style>main{background:url(https://tracker.example/p.png)}</style>"
                b"</head><body><main><h1>c</h1></main></body></html>")
    system = serve(build_page(css_page, "cssurl"))
    browser = Browser(spki_of(os.path.join(system.credentials_dir("web"), "tls.crt")))
    try:
        v, _, _, _ = browser.visit("https://localhost:%d/" % system.port("web"),
                                   "violation-img.png")
        case("chromium_detects_css_image_violation",
             any("img-src" in x for x in v), v)
    finally:
        browser.close()
        system.stop()
    return 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    import itest
    sys.exit(1 if itest.failures or rc else 0)
