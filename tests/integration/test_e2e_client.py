#!/usr/bin/python3
"""test_e2e_client.py: the allears client against the real Storage, Account and
API daemons through the local launcher (HTTPS with a throw-away CA).

The installation is made by the creator utility (`allears-admin init`: SMK,
credentials, Account's state with the master admin); the admin imports the
User Master Key it printed and invites a user; the
user registers, adds a normal and a shield address (kept in clear only in the
client-encrypted private field, read back on a fresh client home), receives an
internal message, lists and reads it, uploads and downloads a file, deletes
messages; the admin changes the user's level and limits and deletes the user.
Also: a wrong key is refused with the authentication exit code, and the server
never sees the plaintext of an address or of the message body in its state.

Usage: /usr/bin/python3 test_e2e_client.py <builddir>"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
import itest  # noqa: E402
from itest import case, BUILD  # noqa: E402

CLIENT = os.path.join(BUILD, "allears")
CANARY_BODY = "e2e-canary-body-4d1f"
CANARY_SUBJECT = "e2e canary subject 77aa"


User = itest.ClientUser


def main():
    root = tempfile.mkdtemp(prefix="allears-e2e-")
    system = System(BUILD, roles=["storage", "account", "api"], init_admin=True).start()
    try:
        tests(system, root)
    finally:
        status = system.stop()
        shutil.rmtree(root, ignore_errors=True)
        case("clean_stop", all(v == 0 for v in status.values()), str(status))


def tests(system, root):
    admin, bob = User(system, root, "admin"), User(system, root, "bob")
    invite_path = os.path.join(system.state_dir("account"), "bootstrap-invite")
    case("no_bootstrap_invite_when_init_made_the_admin", not os.path.exists(invite_path))
    case("admin_key_import", admin.run("key", "import", system.admin_umk, "--uid", "0")
         .returncode == 0)
    who = admin.json("whoami")
    case("admin_is_uid_0_level_3", who.get("uid") == 0 and who.get("level") == 3, who)

    inv = admin.json("admin", "invite", "--level", "1")["invitation"]
    case("bob_init", bob.run("init").returncode == 0)
    reg = bob.json("register", inv)
    bob_uid = reg.get("uid")
    case("bob_registered", isinstance(bob_uid, int) and bob_uid > 0 and reg.get("level") == 1, reg)
    again = User(system, root, "mallory").run("register", inv)
    case("invitation_single_use", again.returncode != 0)

    case("bob_normal_address", bob.run("address", "add", "Bob.Smith", "--nick", "main").returncode == 0)
    shield = bob.json("address", "shield")
    case("bob_shield_address", len(shield.get("address", "").replace("-", "").replace(".", "")) >= 16,
         shield)
    case("accept_internal", bob.run("address", "flags", "main", "+accept-internal").returncode == 0)
    listed = bob.json("address", "list")["addresses"]
    names = [a.get("address", "").lower().replace(".", "") for a in listed]
    case("address_list_from_private_field", any("b0bsm1th" in n or "bobsmith" in n for n in names)
         and len(listed) == 2, listed)

    # The private field travels encrypted: a fresh home with the same key reads it back.
    umk = bob.json("key", "export")["umk"]
    bob2 = User(system, root, "bob2")
    case("key_import", bob2.run("key", "import", umk, "--uid", str(bob_uid)).returncode == 0)
    listed2 = bob2.json("address", "list")["addresses"]
    case("private_field_read_back", len(listed2) == 2 and sorted(map(str, listed2)) ==
         sorted(map(str, listed)), listed2)

    case("admin_address", admin.run("address", "add", "postmaster").returncode == 0)
    sent = admin.run("send", "postmaster", "bob.smith", CANARY_SUBJECT, "-",
                     stdin=("Hello Bob\n" + CANARY_BODY + "\n").encode())
    case("internal_message_sent", sent.returncode == 0, sent.stderr)

    mails = bob.json("mail", "list")["messages"]
    with_subject = [m for m in mails if CANARY_SUBJECT in json.dumps(m)]
    case("mail_listed", len(with_subject) == 1, mails)
    mid = with_subject[0]["id"] if with_subject else 0
    read = bob.run("mail", "read", str(mid))
    text = read.stdout.decode(errors="replace")
    case("mail_read_decrypts_locally", read.returncode == 0 and CANARY_BODY in text and
         CANARY_SUBJECT in text, text[:500])
    case("mail_read_no_escapes_when_piped", "\x1b" not in text)

    data = os.urandom(3 * 1024 * 1024 + 17)
    src = os.path.join(root, "file.bin")
    with open(src, "wb") as f:
        f.write(data)
    up = bob.json("upload", src)
    back = os.path.join(root, "back.bin")
    dl = bob.run("download", str(up.get("id")), "-o", back)
    ok = dl.returncode == 0 and os.path.exists(back)
    if ok:
        with open(back, "rb") as f:
            ok = f.read() == data
    case("upload_download_round_trip", ok, dl.stderr)

    before = bob.json("mail", "list")["total_count"]
    case("mail_rm", bob.run("mail", "rm", str(mid)).returncode == 0 and
         bob.json("mail", "list")["total_count"] == before - 1)
    case("mail_empty", bob.run("mail", "empty", "--yes").returncode == 0 and
         bob.json("mail", "list")["total_count"] == 0)

    case("admin_level", admin.run("admin", "level", str(bob_uid), "2").returncode == 0)
    case("admin_limits", admin.run("admin", "limits", "2", "64", "5", "7").returncode == 0)
    who = bob.json("whoami")
    case("bob_sees_new_level_and_limits", who.get("level") == 2 and "64" in json.dumps(who), who)
    users = admin.json("admin", "users")["users"]
    case("admin_lists_users", sorted(u["uid"] for u in users) == [0, bob_uid], users)
    case("non_admin_refused", bob.run("admin", "users").returncode != 0)

    # A wrong key is an authentication failure (exit 4), not a crash or a server error.
    wrong = User(system, root, "wrong")
    other_umk = base64.b64encode(os.urandom(45)).decode()
    case("wrong_key_import", wrong.run("key", "import", other_umk, "--uid",
                                       str(bob_uid)).returncode == 0)
    p = wrong.run("whoami")
    case("wrong_key_refused", p.returncode == 4, (p.returncode, p.stderr))

    case("admin_rm_user", admin.run("admin", "rm", str(bob_uid), "--yes").returncode == 0)
    p = bob.run("whoami")
    case("deleted_user_refused", p.returncode == 4, (p.returncode, p.stderr))

    # Nothing the server wrote holds the address or the message text in clear.
    found = []
    for top, _, files in os.walk(system.path("lib")):
        for name in files:
            with open(os.path.join(top, name), "rb") as f:
                blob = f.read()
            for needle in (CANARY_BODY.encode(), CANARY_SUBJECT.encode(), b"bobsmith", b"Bob.Smith"):
                if needle in blob:
                    found.append((name, needle))
    case("state_holds_no_plaintext", not found, found)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_e2e_client crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
