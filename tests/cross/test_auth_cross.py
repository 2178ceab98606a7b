#!/usr/bin/python3
"""test_auth_cross.py: DKIM signatures made by an independent implementation
(Debian's python3-dkim, keys from python3-cryptography and python3-nacl) and
SPF / DMARC DNS setups, checked against src/deliver's verifier through
build/tests/deliver_authcheck (docs/PROTOCOL.md section 20).

Usage: /usr/bin/python3 test_auth_cross.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
TOOL = os.path.join(BUILD, "tests", "deliver_authcheck")
PSL = "/usr/share/publicsuffix/public_suffix_list.dat"
WORK = tempfile.mkdtemp(prefix="authcross-")
failures = 0


def case(name, ok, detail=""):
    global failures
    if ok:
        print("PASS " + name)
    else:
        failures += 1
        print("FAIL " + name)
        if detail:
            print("  " + str(detail)[:2000])
    sys.stdout.flush()


def run(msg, dns, ip="192.0.2.1", helo="mail.example.com", mail_from="", now=None,
        from_domain=None, psl=False, extra=()):
    mp = os.path.join(WORK, "msg")
    dp = os.path.join(WORK, "dns")
    with open(mp, "wb") as f:
        f.write(msg)
    with open(dp, "w") as f:
        f.write("\n".join(dns) + "\n")
    args = [TOOL, "--msg", mp, "--dns", dp, "--ip", ip, "--helo", helo, "--mail-from",
            mail_from, "--now", str(now if now is not None else int(time.time()))]
    if from_domain is not None:
        args += ["--from-domain", from_domain]
    if psl:
        args += ["--psl", PSL]
    args += list(extra)
    p = subprocess.run(args, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("authcheck failed: " + p.stderr.decode(errors="replace"))
    return json.loads(p.stdout)


# ---- keys ----------------------------------------------------------------

def rsa_key(bits):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    priv = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption())
    spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = k.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.PKCS1)
    return priv, base64.b64encode(spki).decode(), base64.b64encode(pkcs1).decode()


def ed_key():
    k = ed25519.Ed25519PrivateKey.generate()
    seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(seed), base64.b64encode(pub).decode()


MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: Hello   there\r\n"
       b" folded part\r\n"
       b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
       b"Message-ID: <1@example.com>\r\n"
       b"\r\n"
       b"Hello Bob,  \r\n"
       b"\r\n"
       b"this  is\ta test.\r\n"
       b"\r\n"
       b"\r\n")
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


class DKIMExtra(dkim.DKIM):
    """python3-dkim has no x= option: this sets tags (replacing its own of the
    same name) before b= when signing."""
    extra = []

    def gen_header(self, fields, *a, **k):
        names = {n for n, _ in self.extra}
        b = fields[-1]
        fields = [f for f in fields[:-1] if f[0] not in names] + self.extra + [b]
        return super().gen_header(fields, *a, **k)


def sign(msg, sel, dom, priv, canon=(b"relaxed", b"relaxed"), algo=b"rsa-sha256", length=False,
         identity=None, extra=None, headers=HEADERS):
    if extra:
        d = DKIMExtra(msg)
        d.extra = extra
        return d.sign(sel, dom, priv, signature_algorithm=algo, canonicalize=canon,
                      include_headers=headers, length=length, identity=identity) + msg
    return dkim.sign(msg, sel, dom, priv, canonicalize=canon, signature_algorithm=algo,
                     include_headers=headers, length=length, identity=identity) + msg


def keyrec(sel, dom, pub, k="rsa", extra=""):
    return "TXT %s._domainkey.%s v=DKIM1; k=%s;%s p=%s" % (sel, dom, k, extra, pub)


def dkim_cases():
    r1024, p1024, _ = rsa_key(1024)
    r2048, p2048, p2048_pkcs1 = rsa_key(2048)
    edpriv, edpub = ed_key()
    dns = [keyrec("s1", "example.com", p1024), keyrec("s2", "example.com", p2048),
           keyrec("ed", "example.com", edpub, k="ed25519"),
           keyrec("bare", "example.com", p2048_pkcs1),
           keyrec("test", "example.com", p2048, extra=" t=y:s;"),
           "TXT gone._domainkey.example.com v=DKIM1; k=rsa; p=",
           "TEMPFAIL TXT tf._domainkey.example.com",
           keyrec("s2", "example.org", p2048)]

    def one(name, msg, want="pass", **kw):
        try:
            out = run(msg, dns, **kw)
            d = out["dkim"]
            ok = len(d) >= 1 and d[0]["result"] == want
            case(name, ok, out)
            return d
        except Exception as e:  # noqa: BLE001
            case(name, False, e)
            return []

    for canon in [(b"simple", b"simple"), (b"relaxed", b"relaxed"), (b"relaxed", b"simple"),
                  (b"simple", b"relaxed")]:
        cn = canon[0].decode() + "/" + canon[1].decode()
        for sel, priv, bits in [("s1", r1024, 1024), ("s2", r2048, 2048)]:
            m = sign(MSG, sel.encode(), b"example.com", priv, canon=canon)
            d = one("dkim_rsa%d_%s_pass" % (bits, cn.replace("/", "_")), m)
            if d:
                case("dkim_rsa%d_%s_fields" % (bits, cn.replace("/", "_")),
                     d[0]["key_bits"] == bits and d[0]["algo"] == "rsa-sha256" and
                     d[0]["head_canon"] == canon[0].decode() and
                     d[0]["body_canon"] == canon[1].decode() and d[0]["domain"] == "example.com"
                     and d[0]["selector"] == sel and "t" in d[0]["flags"], d)
        m = sign(MSG, b"ed", b"example.com", edpriv, canon=canon, algo=b"ed25519-sha256")
        d = one("dkim_ed25519_%s_pass" % cn.replace("/", "_"), m)
        if d:
            case("dkim_ed25519_%s_fields" % cn.replace("/", "_"),
                 d[0]["algo"] == "ed25519-sha256" and d[0]["key_bits"] == 256, d)

    m = sign(MSG, b"s2", b"example.com", r2048)
    # altering a signed header or the body breaks it
    one("dkim_altered_subject_fail", m.replace(b"Subject: Hello", b"Subject: Hallo"), "fail")
    one("dkim_altered_body_fail", m.replace(b"this  is", b"that is"), "fail")
    me = sign(MSG, b"ed", b"example.com", edpriv, algo=b"ed25519-sha256")
    one("dkim_ed25519_altered_body_fail", me.replace(b"this  is", b"that is"), "fail")
    one("dkim_ed25519_altered_from_fail", me.replace(b"From: Alice", b"From: Mallory"), "fail")
    # relaxed tolerates whitespace changes, simple does not
    one("dkim_relaxed_ws_change_pass", m.replace(b"Hello   there", b"Hello there"))
    ms = sign(MSG, b"s2", b"example.com", r2048, canon=(b"simple", b"simple"))
    one("dkim_simple_ws_change_fail", ms.replace(b"Hello   there", b"Hello there"), "fail")
    # trailing empty lines do not count; an unsigned header may be added
    one("dkim_trailing_lines_pass", m + b"\r\n\r\n")
    one("dkim_unsigned_header_added_pass", b"X-Extra: 1\r\n" + m)
    # LF line ends, as a store may keep them
    one("dkim_lf_only_pass", m.replace(b"\r\n", b"\n"))
    one("dkim_lf_only_simple_pass", ms.replace(b"\r\n", b"\n"))
    # l=: appended text after the signed length still verifies
    ml = sign(MSG, b"s2", b"example.com", r2048, length=True)
    d = one("dkim_length_pass", ml)
    case("dkim_length_flag", bool(d) and "length" in d[0]["flags"], d)
    one("dkim_length_appended_pass", ml + b"-- \r\nappended by a list\r\n")
    one("dkim_length_truncated_fail", ml.replace(b"this  is\ta test.\r\n", b""), "fail")
    # x= in the past: valid signature, but expired -> policy; in the future -> pass
    now = int(time.time())
    mx = sign(MSG, b"s2", b"example.com", r2048,
              extra=[(b"t", str(now - 100).encode()), (b"x", str(now - 10).encode())])
    d = one("dkim_expired_policy", mx, "policy")
    case("dkim_expired_flags", bool(d) and "expired" in d[0]["flags"] and "x" in d[0]["flags"], d)
    mx2 = sign(MSG, b"s2", b"example.com", r2048, extra=[(b"x", str(now + 3600).encode())])
    d = one("dkim_x_future_pass", mx2)
    case("dkim_x_future_flags", bool(d) and "x" in d[0]["flags"] and
         "expired" not in d[0]["flags"] and d[0]["x"] == now + 3600, d)
    # two signatures on one message
    two = sign(sign(MSG, b"s2", b"example.org", r2048), b"ed", b"example.com", edpriv,
               algo=b"ed25519-sha256")
    try:
        out = run(two, dns)
        d = out["dkim"]
        case("dkim_two_signatures_pass", len(d) == 2 and all(x["result"] == "pass" for x in d) and
             {x["domain"] for x in d} == {"example.com", "example.org"}, out)
    except Exception as e:  # noqa: BLE001
        case("dkim_two_signatures_pass", False, e)
    two_bad = two.replace(b"this  is", b"that is")
    try:
        out = run(two_bad, dns)
        case("dkim_two_signatures_body_fail",
             [x["result"] for x in out["dkim"]] == ["fail", "fail"], out)
    except Exception as e:  # noqa: BLE001
        case("dkim_two_signatures_body_fail", False, e)
    # keys: missing, revoked, temporary failure, bare RSAPublicKey, t=y:s
    one("dkim_missing_key_permerror", sign(MSG, b"nokey", b"example.com", r2048), "permerror")
    one("dkim_revoked_key_permerror", sign(MSG, b"gone", b"example.com", r2048), "permerror")
    one("dkim_key_tempfail_temperror", sign(MSG, b"tf", b"example.com", r2048), "temperror")
    one("dkim_wrong_key_fail", sign(MSG, b"s2", b"example.com", r1024), "fail")
    one("dkim_pkcs1_key_pass", sign(MSG, b"bare", b"example.com", r2048))
    d = one("dkim_testing_key_pass", sign(MSG, b"test", b"example.com", r2048))
    case("dkim_testing_key_flags", bool(d) and "test" in d[0]["flags"] and
         "strict" in d[0]["flags"], d)
    # rsa-sha1 is recorded and refused (RFC 8301)
    try:
        msha1 = sign(MSG, b"s2", b"example.com", r2048, algo=b"rsa-sha1")
        d = one("dkim_rsa_sha1_permerror", msha1, "permerror")
        case("dkim_rsa_sha1_algo", bool(d) and d[0]["algo"] == "rsa-sha1", d)
    except Exception as e:  # noqa: BLE001
        case("dkim_rsa_sha1_permerror", False, e)
    # a 512-bit key is refused (RFC 8301), its size recorded
    try:
        r512, p512, _ = rsa_key(512)
        dns.append(keyrec("small", "example.com", p512))
        d = one("dkim_rsa512_permerror", sign(MSG, b"small", b"example.com", r512), "permerror")
        case("dkim_rsa512_bits", bool(d) and d[0]["key_bits"] == 512, d)
    except ValueError as e:
        print("SKIP dkim_rsa512_permerror (%s)" % e)
    # i= identities become flags
    mi = sign(MSG, b"s2", b"example.com", r2048, identity=b"alice@example.com")
    d = one("dkim_identity_pass", mi, mail_from="alice@example.com")
    case("dkim_identity_flags", bool(d) and "i_hdr_from" in d[0]["flags"] and
         "i_env_from" in d[0]["flags"] and "i_reply_to" not in d[0]["flags"], d)
    # no signature at all
    try:
        out = run(MSG, dns)
        case("dkim_unsigned_none", out["dkim"] == [], out)
    except Exception as e:  # noqa: BLE001
        case("dkim_unsigned_none", False, e)


# ---- SPF -------------------------------------------------------------------

def spf_cases():
    base = ["A example.com 192.0.2.10", "A mx1.example.com 192.0.2.20",
            "A mx2.example.com 198.51.100.20", "MX example.com 10 mx1.example.com",
            "MX example.com 20 mx2.example.com", "AAAA example.com 2001:db8::10"]

    def one(name, rec, ip, want, mail_from="alice@example.com", extra=(), helo="mail.example.com"):
        dns = base + (["TXT example.com " + rec] if rec is not None else []) + list(extra)
        try:
            out = run(MSG, dns, ip=ip, mail_from=mail_from, helo=helo)
            case(name, out["spf"] == want, out)
            return out
        except Exception as e:  # noqa: BLE001
            case(name, False, e)
            return None

    one("spf_ip4_pass", "v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.1", "pass")
    one("spf_ip4_fail", "v=spf1 ip4:192.0.2.0/24 -all", "198.51.100.1", "fail")
    one("spf_softfail", "v=spf1 ip4:192.0.2.0/24 ~all", "198.51.100.1", "softfail")
    one("spf_neutral", "v=spf1 ip4:192.0.2.0/24 ?all", "198.51.100.1", "neutral")
    one("spf_no_all_neutral", "v=spf1 ip4:192.0.2.0/24", "198.51.100.1", "neutral")
    one("spf_ip4_cidr_edge", "v=spf1 ip4:192.0.2.0/31 -all", "192.0.2.2", "fail")
    one("spf_ip6_cidr_pass", "v=spf1 ip6:2001:db8::/32 -all", "2001:db8:1::5", "pass")
    one("spf_ip6_cidr_fail", "v=spf1 ip6:2001:db8::/48 -all", "2001:db8:1::5", "fail")
    one("spf_ip4_mapped_v6", "v=spf1 ip4:192.0.2.0/24 -all", "::ffff:192.0.2.7", "pass")
    one("spf_a_pass", "v=spf1 a -all", "192.0.2.10", "pass")
    one("spf_a_cidr_pass", "v=spf1 a/24 -all", "192.0.2.99", "pass")
    one("spf_a_domain_pass", "v=spf1 a:mx2.example.com -all", "198.51.100.20", "pass")
    one("spf_a_ipv6_pass", "v=spf1 a -all", "2001:db8::10", "pass")
    one("spf_a_dual_cidr", "v=spf1 a/32//64 -all", "2001:db8::99", "pass")
    one("spf_mx_pass", "v=spf1 mx -all", "198.51.100.20", "pass")
    one("spf_mx_fail", "v=spf1 mx -all", "198.51.100.21", "fail")
    one("spf_include_pass", "v=spf1 include:_spf.other.net -all", "203.0.113.5", "pass",
        extra=["TXT _spf.other.net v=spf1 ip4:203.0.113.0/24 -all"])
    one("spf_include_nomatch_fail", "v=spf1 include:_spf.other.net -all", "198.51.100.9", "fail",
        extra=["TXT _spf.other.net v=spf1 ip4:203.0.113.0/24 -all"])
    one("spf_include_none_permerror", "v=spf1 include:_spf.none.net -all", "198.51.100.9",
        "permerror")
    one("spf_redirect_pass", "v=spf1 redirect=_spf.other.net", "203.0.113.5", "pass",
        extra=["TXT _spf.other.net v=spf1 ip4:203.0.113.0/24 ~all"])
    one("spf_redirect_softfail", "v=spf1 redirect=_spf.other.net", "198.51.100.9", "softfail",
        extra=["TXT _spf.other.net v=spf1 ip4:203.0.113.0/24 ~all"])
    one("spf_redirect_ignored_with_all", "v=spf1 ?all redirect=_spf.other.net", "203.0.113.5",
        "neutral", extra=["TXT _spf.other.net v=spf1 ip4:203.0.113.0/24 ~all"])
    one("spf_exists_macro_pass", "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all", "192.0.2.77", "pass",
        extra=["A 77.2.0.192.in-addr._spf.example.com 127.0.0.2"])
    one("spf_exists_macro_fail", "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all", "192.0.2.78", "fail",
        extra=["A 77.2.0.192.in-addr._spf.example.com 127.0.0.2"])
    one("spf_macro_local_part", "v=spf1 exists:%{l1r+}.users.%{o} -all", "198.51.100.1", "pass",
        mail_from="alice+tag@example.com", extra=["A alice.users.example.com 127.0.0.2"])
    one("spf_macro_d2", "v=spf1 exists:x.%{d2} -all", "198.51.100.1", "pass",
        mail_from="a@sub.deep.example.org",
        extra=["TXT sub.deep.example.org v=spf1 exists:x.%{d2} -all",
               "A x.example.org 127.0.0.2"])
    one("spf_macro_ipv6_nibbles", "v=spf1 exists:%{i}.v6.example.com -all", "2001:db8::1",
        "pass", extra=["A 2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1"
                       ".v6.example.com 127.0.0.2"])
    one("spf_macro_bad_permerror", "v=spf1 exists:%{q}.example.com -all", "192.0.2.1",
        "permerror")
    one("spf_syntax_permerror", "v=spf1 ip4:192.0.2.0/24 foo -all", "192.0.2.1", "permerror")
    one("spf_bad_cidr_permerror", "v=spf1 ip4:192.0.2.0/33 -all", "192.0.2.1", "permerror")
    one("spf_two_records_permerror", "v=spf1 -all", "192.0.2.1", "permerror",
        extra=["TXT example.com v=spf1 +all"])
    one("spf_no_record_none", None, "192.0.2.1", "none")
    one("spf_other_txt_none", None, "192.0.2.1", "none",
        extra=["TXT example.com google-site-verification=abc"])
    one("spf_tempfail_temperror", None, "192.0.2.1", "temperror",
        extra=["TEMPFAIL TXT example.com"])
    one("spf_a_tempfail_temperror", "v=spf1 a:tf.example.com -all", "192.0.2.1", "temperror",
        extra=["TEMPFAIL A tf.example.com"])
    # 10 DNS-querying terms are allowed, the 11th is a permerror
    ten = " ".join("a:h%d.example.com" % i for i in range(9)) + " mx"
    hosts = ["A h%d.example.com 10.0.0.%d" % (i, i) for i in range(12)]
    one("spf_ten_lookups_ok", "v=spf1 " + ten + " -all", "198.51.100.20", "pass", extra=hosts)
    eleven = " ".join("a:h%d.example.com" % i for i in range(10)) + " mx"
    one("spf_eleven_lookups_permerror", "v=spf1 " + eleven + " -all", "198.51.100.20",
        "permerror", extra=hosts)
    chain = ["TXT l%d.example.com v=spf1 include:l%d.example.com -all" % (i, i + 1)
             for i in range(12)]
    one("spf_include_loop_permerror", "v=spf1 include:l0.example.com -all", "192.0.2.1",
        "permerror", extra=chain + ["TXT loop.example.com v=spf1 include:loop.example.com"])
    # void lookups: two are tolerated, the third is a permerror
    one("spf_two_voids_ok", "v=spf1 a:v1.example.com a:v2.example.com ip4:192.0.2.0/24 -all",
        "192.0.2.1", "pass")
    one("spf_three_voids_permerror",
        "v=spf1 a:v1.example.com a:v2.example.com a:v3.example.com ip4:192.0.2.0/24 -all",
        "192.0.2.1", "permerror")
    many_mx = ["MX many.example.com %d m%d.example.com" % (i, i) for i in range(11)]
    one("spf_mx_over_ten_permerror", "v=spf1 mx:many.example.com -all", "192.0.2.1",
        "permerror", extra=many_mx)
    one("spf_ptr_pass", "v=spf1 ptr -all", "192.0.2.55", "pass",
        extra=["PTR 192.0.2.55 host.example.com", "A host.example.com 192.0.2.55"])
    one("spf_ptr_unvalidated_fail", "v=spf1 ptr -all", "192.0.2.56", "fail",
        extra=["PTR 192.0.2.56 host2.example.com", "A host2.example.com 192.0.2.99"])
    one("spf_empty_mail_from_uses_helo", "v=spf1 -all", "192.0.2.1", "pass", mail_from="",
        helo="helo.example.net", extra=["TXT helo.example.net v=spf1 ip4:192.0.2.1 -all"])
    one("spf_single_label_none", "v=spf1 +all", "192.0.2.1", "none", mail_from="a@localhost")


# ---- DMARC -----------------------------------------------------------------

def dmarc_cases():
    r2048, p2048, _ = rsa_key(2048)
    keys = [keyrec("s", "example.com", p2048), keyrec("s", "other.org", p2048),
            keyrec("s", "news.example.com", p2048), keyrec("s", "example.co.uk", p2048)]
    spf = ["TXT example.com v=spf1 ip4:192.0.2.0/24 -all",
           "TXT bounce.example.com v=spf1 ip4:192.0.2.0/24 -all",
           "TXT other.org v=spf1 ip4:192.0.2.0/24 -all"]

    def one(name, msg, dmarc_recs, want, policy=None, ip="198.51.100.1",
            mail_from="alice@other.org", **kw):
        try:
            out = run(msg, keys + spf + dmarc_recs, ip=ip, mail_from=mail_from, psl=True, **kw)
            ok = out["dmarc"] == want and (policy is None or out["dmarc_policy"] == policy)
            case(name, ok, out)
            return out
        except Exception as e:  # noqa: BLE001
            case(name, False, e)
            return None

    rej = ["TXT _dmarc.example.com v=DMARC1; p=reject; rua=mailto:d@example.com"]
    aligned = sign(MSG, b"s", b"example.com", r2048)
    unaligned = sign(MSG, b"s", b"other.org", r2048)
    one("dmarc_dkim_aligned_pass", aligned, rej, "pass", "reject")
    one("dmarc_unaligned_fail", unaligned, rej, "fail", "reject")
    one("dmarc_spf_aligned_pass", unaligned, rej, "pass", "reject", ip="192.0.2.9",
        mail_from="alice@example.com")
    one("dmarc_spf_relaxed_pass", MSG, rej, "pass", ip="192.0.2.9",
        mail_from="b@bounce.example.com")
    one("dmarc_spf_strict_fail", MSG,
        ["TXT _dmarc.example.com v=DMARC1; p=reject; aspf=s"], "fail", ip="192.0.2.9",
        mail_from="b@bounce.example.com")
    one("dmarc_spf_fail_unaligned", MSG, rej, "fail", ip="198.51.100.1",
        mail_from="alice@example.com")
    one("dmarc_quarantine", unaligned, ["TXT _dmarc.example.com v=DMARC1; p=quarantine"],
        "fail", "quarantine")
    one("dmarc_p_none", unaligned, ["TXT _dmarc.example.com v=DMARC1; p=none"], "fail", "none")
    one("dmarc_no_record_none", aligned, [], "none")
    one("dmarc_tempfail", aligned, ["TEMPFAIL TXT _dmarc.example.com"], "temperror")
    one("dmarc_syntax_permerror", aligned, ["TXT _dmarc.example.com v=DMARC1; p=reject; adkim=x"],
        "permerror")
    one("dmarc_two_records_none", aligned, rej + ["TXT _dmarc.example.com v=DMARC1; p=none"],
        "none")
    one("dmarc_bad_p_with_rua_acts_none", unaligned,
        ["TXT _dmarc.example.com v=DMARC1; p=bogus; rua=mailto:d@example.com"], "fail", "none")
    one("dmarc_bad_p_without_rua_none", unaligned,
        ["TXT _dmarc.example.com v=DMARC1; p=bogus"], "none")
    # subdomain From: record found at the organizational domain, sp= applies
    sub = MSG.replace(b"alice@example.com", b"alice@news.example.com")
    sub_signed_org = sign(sub, b"s", b"example.com", r2048)
    out = one("dmarc_org_fallback_relaxed_pass", sub_signed_org,
              ["TXT _dmarc.example.com v=DMARC1; p=reject; sp=quarantine"], "pass", "quarantine")
    case("dmarc_org_fallback_record", bool(out) and out["dmarc_org_record"] and
         out["dmarc_record"] == "example.com", out)
    one("dmarc_strict_dkim_fail", sub_signed_org,
        ["TXT _dmarc.example.com v=DMARC1; p=reject; adkim=s"], "fail", "reject")
    one("dmarc_strict_dkim_pass", sign(sub, b"s", b"news.example.com", r2048),
        ["TXT _dmarc.example.com v=DMARC1; p=reject; adkim=s"], "pass", "reject")
    one("dmarc_sub_own_record_p", sub_signed_org,
        ["TXT _dmarc.example.com v=DMARC1; p=none; sp=none",
         "TXT _dmarc.news.example.com v=DMARC1; p=reject"], "pass", "reject")
    one("dmarc_no_sp_uses_p", MSG.replace(b"alice@example.com", b"alice@news.example.com"),
        ["TXT _dmarc.example.com v=DMARC1; p=reject"], "fail", "reject")
    # the Public Suffix List decides the organizational domain
    uk = MSG.replace(b"alice@example.com", b"alice@mail.example.co.uk")
    out = one("dmarc_psl_co_uk_pass", sign(uk, b"s", b"example.co.uk", r2048),
              ["TXT _dmarc.example.co.uk v=DMARC1; p=reject"], "pass", "reject")
    case("dmarc_psl_org_domain", bool(out) and out["org_domain"] == "example.co.uk", out)
    one("dmarc_psl_no_co_uk_alignment", sign(uk, b"s", b"co.uk", r2048),
        ["TXT _dmarc.example.co.uk v=DMARC1; p=reject", keyrec("s", "co.uk", p2048)], "fail")


def main():
    if not os.path.exists(TOOL):
        print("FAIL tool_missing (%s)" % TOOL)
        return 1
    dkim_cases()
    spf_cases()
    dmarc_cases()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
