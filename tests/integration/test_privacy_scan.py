#!/usr/bin/python3
"""test_privacy_scan.py: what Account and Storage leave on disk. Through the
local launcher, users register (their private fields hold canary text), add
normal and shield addresses, and receive mail of every kind with canary
subjects, bodies, senders, file names and file data: ExtMsg, attachment and
source from Deliver; an internal message and uploads (small, and large through
a memfd) through Account and the API; the MTA looks the addresses up. Then the
daemons stop and every byte of every file under the state directory (lib/*,
log/*, and the rest of the launcher's directory) is scanned for:
  - the canary token (ASCII/UTF-8), in every canary above;
  - each address in text form, as its 10-byte Addr32 and its 8-byte hash;
  - every user's UAK, EPK and ESK, raw;
  - an open invitation, raw and as text;
  - the names of Account's user files (32 hex) in raw and text form;
and every finding is reported with file and offset. File names are checked
too: Msg/ and users/ hold exactly the secret names of sections 3.5 and 8.2,
and no file name anywhere is a UserID in decimal, hex or username form, or
holds an address or the canary. The logs must not name a user (username) or
a user file.

Usage: /usr/bin/python3 test_privacy_scan.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import os
import re
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_storage import *  # noqa: E402,F401,F403
import itest  # noqa: E402

CANONICAL = "abcdefghjkmnpqrstuwxyz0123456789"  # Addr32 symbols that fold to themselves


def main():
    system = System(BUILD, roles=["storage", "account"], quiet=True, keep=True).start()
    status = None
    try:
        secrets = populate(system)
        status = system.stop()
        scan(system, secrets)
    finally:
        if status is None:
            status = system.stop()
        shutil.rmtree(system.state, ignore_errors=True)
        cleanup()
        case("clean_stop", status.get("account") == 0 and status.get("storage") == 0, str(status))


def name_of(uid):
    return run(ADDRTOOL, "username", str(uid)).strip()


def populate(system):
    """Runs the traffic; returns what must not be on disk: {label: bytes}."""
    token = "Cnry" + os.urandom(6).hex()
    secrets = {"canary token": token.encode()}
    clock = Clock()
    keys = ServerKeys(system)
    api = Chan(system, "api", "account")
    mta = Chan(system, "mta", "account")
    sto = Sto(system, keys, "api")
    dlv = Sto(system, keys, "deliver")
    admin = register_admin(system, api, clock)
    users = [admin]
    for _ in range(3):
        u = User()
        if register_user(api, clock, admin.client, u) != OK:
            raise RuntimeError("registration failed")
        users.append(u)
    alice, bob, carol = users[1:]
    info = admin.client.req(INFO).data
    params, salt = info[24:32], info[32:48]
    for u in users:
        tag = name_of(u.uid)
        secrets["UAK of %s" % tag] = u.uak
        secrets["EPK of %s" % tag] = u.epk
        secrets["ESK of %s" % tag] = u.esk
        case("private_set_%s" % tag, u.client.req(
            PRIV_SET, ("%s private field of %s" % (token, tag)).encode()).status == OK)
    # addresses: normal ones (hashed by the client), shield ones (made by Account)
    addrs = {}
    for u, label in ((alice, "alice"), (bob, "bob"), (admin, "admin")):
        text = label[0] + "".join(CANONICAL[b % 32] for b in os.urandom(10))
        a32 = addr32(text)
        h = normal_hash(a32, salt, params)
        ok = u.client.req(ADD_NORMAL, h).status == OK
        ans = u.client.req(ADD_SHIELD)
        ok = ok and ans.status == OK and len(ans.data) == 18
        shield = ans.data[8:]
        stext = run(ADDRTOOL, "decode", stdin=shield.hex() + "\n").split()[1]
        case("addresses_%s" % label, ok and addr32(stext) == shield)
        addrs[label] = (a32, h)
        for kind, t, raw, hh in (("normal", text, a32, h), ("shield", stext, shield, ans.data[:8])):
            secrets["%s address text of %s" % (kind, label)] = t.encode()
            secrets["%s Addr32 of %s" % (kind, label)] = raw
            secrets["%s address hash of %s" % (kind, label)] = hh
        case("lookup_%s" % label, lookup(mta, a32) == (OK, u.uid, 0x0C) and
             lookup(mta, shield)[:2] == (OK, u.uid))
    # bob accepts internal mail; alice writes to him
    bob.client.req(SET_FLAGS, addrs["bob"][1] + bytes([0, 0x0F]))
    subject = ("%s internal subject" % token).encode()
    body = ("%s internal body text" % token).encode()
    ans = alice.client.req(SEND, addrs["alice"][0] + addrs["bob"][0] + bytes([len(subject)]) +
                           subject + struct.pack("<I", len(body)) + body)
    ok = ans.status == OK and ans.sto_type == STO_STORE and ans.bulk is not None
    if ok:
        fd = memfd_of(ans.bulk)
        p, _ = sto.call(STO_STORE, ans.sto_args, fd)
        os.close(fd)
        ok = p[:1] == bytes([OK])
    case("internal_mail_stored", ok)
    # uploads through Account: small, and large in a memfd both ways
    up_name = ("%s-upload.bin" % token).encode()
    up_data = ("%s upload data " % token).encode() * 20
    ans = alice.client.req(UPLOAD, bytes([len(up_name)]) + up_name + up_data)
    ok = ans.status == OK and ans.bulk is not None
    if ok:
        fd = memfd_of(ans.bulk)
        p, _ = sto.call(STO_STORE, ans.sto_args, fd)
        os.close(fd)
        ok = p[:1] == bytes([OK])
    case("upload_stored", ok)
    big = ("%s large upload " % token).encode() * 12000
    name = ("%s-big.bin" % token).encode()
    argfile = os.path.join(alice.client.tmp, "args.bin")
    with open(argfile, "wb") as f:
        f.write(bytes([len(name)]) + name + big)
    ts = clock.next()
    body_hex = run(APITOOL, "seal", alice.uak.hex(), str(ts), str(alice.uid), str(UPLOAD), "0",
                   "@" + argfile).strip()
    os.unlink(argfile)
    ans = alice.client.send_memfd(ts, bytes.fromhex(body_hex))
    ok = ans.status == OK and ans.bulk is not None and ans.bulk.endswith(big)
    if ok:
        fd = memfd_of(ans.bulk)
        p, _ = sto.call(STO_STORE, ans.sto_args, fd)
        os.close(fd)
        ok = p[:1] == bytes([OK])
    case("large_upload_stored", ok)
    # what Deliver stores: mail from outside, its attachment and its source
    ext = ext_msg("%s external subject" % token, "%s external body" % token,
                  "%s Sender <sender@example.net>" % token)
    att = upl_msg(1, "%s-attachment.pdf" % token, ("%s attachment data" % token).encode() * 50)
    src = upl_msg(2, "%s-source.eml" % token, ("Subject: %s source\r\n\r\n" % token).encode())
    ok = True
    for u in (alice, bob, carol, admin):
        for m in (ext, att, src):
            ok = ok and dlv.store(u.uid, m)[0] == OK
    ok = ok and sto.store(carol.uid, int_msg("%s system subject" % token, "%s system" %
                                             token))[0] == OK
    case("deliver_stored", ok)
    # one deleted, one user emptied: their bytes must be gone too
    case("delete_and_empty", sto.status(STO_DELETE, struct.pack("<HI", bob.uid, 1)) == OK and
         sto.status(STO_EMPTY, struct.pack("<H", carol.uid)) == OK)
    # everything stored opens for its owner, and holds the canary (so the scan is meaningful)
    ok = True
    for u in users:
        for _, env in browse_all(sto, u.uid):
            ok = ok and token.encode() in env_open(env, u.esk, u.epk)
    case("stored_mail_holds_the_canary", ok)
    ans = admin.client.req(INVITE, bytes([1, 0, 0, 0]) + struct.pack("<I", 3600))
    inv = ans.data[:32]
    secrets["open invitation"] = inv
    secrets["open invitation text"] = base64.urlsafe_b64encode(inv).rstrip(b"=")
    for u in users:
        name = keys.acc_name(u.uid)
        secrets["Account file name of %s" % name_of(u.uid)] = name.encode()
        secrets["Account file name of %s, raw" % name_of(u.uid)] = bytes.fromhex(name)
    sto.reset()
    dlv.reset()
    system.secrets_users = users
    system.secrets_keys = keys
    return secrets


def find_all(data, secrets):
    """Every (label, offset) at which a secret occurs in data."""
    out = []
    for label, pat in secrets.items():
        at = data.find(pat)
        while at >= 0:
            out.append((label, at))
            at = data.find(pat, at + 1)
    return out


def scan(system, secrets):
    users, keys = system.secrets_users, system.secrets_keys
    files = []
    for top, dirs, names in os.walk(system.state):
        for n in names:
            p = os.path.join(top, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
    rel = lambda p: os.path.relpath(p, system.state)  # noqa: E731
    case("scan_covers_state_and_logs",
         any(rel(p).startswith("lib/storage/Msg/") for p in files) and
         any(rel(p) == "lib/storage/journal" for p in files) and
         any(rel(p).startswith("lib/account/users/") for p in files) and
         any(rel(p) == "log/storage.log" for p in files) and
         any(rel(p) == "log/account.log" for p in files))
    # the scanner itself finds what is there
    planted = b"xx" + secrets["canary token"] + b"y" + secrets["UAK of aaa"] + b"z"
    case("scanner_finds_planted", find_all(planted, secrets) ==
         [("canary token", 2), ("UAK of aaa", 3 + len(secrets["canary token"]))],
         repr(find_all(planted, secrets)))
    total = 0
    findings = []
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        total += len(data)
        findings += ["%s at %s+%d" % (label, rel(p), at) for label, at in find_all(data, secrets)]
    print("  scanned %d files, %d bytes, for %d patterns" % (len(files), total, len(secrets)))
    for f in findings:
        print("  finding: " + f)
    case("no_secret_in_any_file", not findings, "%d findings" % len(findings))

    # file names
    uid_forms = {}
    for u in users:
        for form in (str(u.uid), "%x" % u.uid, "%04x" % u.uid, "%032x" % u.uid,
                     name_of(u.uid), name_of(u.uid).upper()):
            uid_forms[form] = u.uid
    text_secrets = [s.decode() for label, s in secrets.items()
                    if "text" in label or label == "canary token"]
    bad = []
    for top, dirs, names in os.walk(system.state):
        for n in names + dirs:
            if n in uid_forms:
                bad.append("%s is the UserID %d" % (os.path.join(rel(top), n), uid_forms[n]))
            for s in text_secrets:
                if s in n:
                    bad.append("%s holds %s" % (os.path.join(rel(top), n), s))
    for b in bad:
        print("  finding: " + b)
    case("no_user_in_file_names", not bad)
    msg_dir = system.path("lib", "storage", "Msg")
    users_dir = system.path("lib", "account", "users")
    case("msg_names_are_secret", sorted(os.listdir(msg_dir)) ==
         sorted(keys.sto_name(u.uid) for u in users))
    case("account_names_are_secret", sorted(os.listdir(users_dir)) ==
         sorted(keys.acc_name(u.uid) for u in users))
    # the logs name no user
    bad = []
    for n in os.listdir(system.path("log")):
        with open(system.path("log", n), errors="replace") as f:
            text = f.read()
        for u in users:
            if re.search(r"\b%s\b" % name_of(u.uid), text, re.I):
                bad.append("%s names %s" % (n, name_of(u.uid)))
    for b in bad:
        print("  finding: " + b)
    case("logs_name_no_user", not bad)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_privacy_scan crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
