"""roundtrip.py: the first admin (made by allears-admin init) imports their key
and invites a user; the user registers, adds an address that accepts internal
mail; the admin sends to it, the user lists and reads the message. Every
request goes over HTTPS from outside the guest. Also the helpers the other
scenarios use to send and to check what arrived."""

import json
import secrets
import string
import time

from vmlib import case, Client, GuestError

def send(env, subject, body):
    """The admin sends one internal message to the user; returns the client's
    exit status (0 = acknowledged by the server)."""
    p = env.admin.run("send", env.admin_address, env.user_address, subject, "-",
                      stdin=(body + "\n").encode())
    return p.returncode, p.stderr.decode(errors="replace")


def subjects(env):
    """The user's listed messages as JSON texts (raises if they cannot be listed)."""
    return [json.dumps(m) for m in env.user.json("mail", "list").get("messages", [])]


def has_subject(env, subject):
    return any(subject in m for m in subjects(env))


def wait_working(env, timeout=60):
    """Polls a cheap authenticated request until the system answers it."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        p = env.user.run("whoami")
        if p.returncode == 0:
            return True
        last = p
        time.sleep(0.2)
    return last is None


def run(env):
    admin = env.admin = Client(env, "admin")
    user = env.user = Client(env, "user")
    p = admin.run("key", "import", env.admin_umk, "--uid", "0")
    case("admin_key_import", p.returncode == 0, p.stderr)
    who = admin.json("whoami")
    case("admin_is_uid_0_level_3_over_https", who.get("uid") == 0 and who.get("level") == 3, who)

    inv = admin.json("admin", "invite", "--level", "1")["invitation"]
    env.secrets.add(inv)
    case("user_init", user.run("init").returncode == 0)
    reg = user.json("register", inv)
    env.user_uid = reg.get("uid")
    case("user_registers_with_invitation", isinstance(env.user_uid, int) and env.user_uid > 0, reg)
    umk = user.json("key", "export")["umk"]
    env.secrets.add(umk)

    # Addresses are 1-15 letters and digits: letters only, so no normalisation
    # (0/o, 1/l) changes what the privacy scan looks for.
    env.user_address = "vmr" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    env.admin_address = "vma" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    env.needles.update([env.user_address, env.admin_address])
    p = user.run("address", "add", env.user_address, "--nick", "main")
    case("user_adds_address", p.returncode == 0, p.stderr)
    p = user.run("address", "flags", "main", "+accept-internal")
    case("user_accepts_internal_mail", p.returncode == 0, p.stderr)
    p = admin.run("address", "add", env.admin_address)
    case("admin_adds_address", p.returncode == 0, p.stderr)

    subject, body = env.canary("subject"), env.canary("body")
    rc, err = send(env, subject, body)
    case("internal_message_sent", rc == 0, err)
    msgs = [m for m in user.json("mail", "list")["messages"] if subject in json.dumps(m)]
    case("message_listed_for_user", len(msgs) == 1, msgs)
    if not msgs:
        raise GuestError("the round trip failed; later scenarios need it")
    read = user.run("mail", "read", str(msgs[0]["id"]))
    text = read.stdout.decode(errors="replace")
    case("message_read_and_decrypted_on_client", read.returncode == 0 and body in text
         and subject in text, text[:300])
