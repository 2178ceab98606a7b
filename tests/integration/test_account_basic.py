#!/usr/bin/python3
"""test_account_basic.py: allears-account with allears-storage through the local
launcher. Registers the first admin with the bootstrap invitation, runs API
requests as the API role would (build/tests/apitool seals them,
build/tests/chantool carries them over the channel), answers the MTA's
address lookups, and follows forwarded commands through to Storage.

Usage: /usr/bin/python3 test_account_basic.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from itest import *  # noqa: E402,F401,F403
import itest  # noqa: E402

import argon2.low_level  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

def main():
    system = System(BUILD, roles=["storage", "account"], quiet=True).start()
    try:
        tests(system)
    finally:
        status = system.stop()
        case("clean_stop", status.get("account") == 0 and status.get("storage") == 0, str(status))


def tests(system):
    clock = Clock()
    api = Chan(system, "api", "account")
    mta = Chan(system, "mta", "account")
    sto_as_storage = Chan(system, "storage", "account")
    api_to_storage = Chan(system, "api", "storage")
    acc_to_storage = Chan(system, "account", "storage")
    acc_dir = system.state_dir("account")
    boot = os.path.join(acc_dir, "bootstrap-invite")

    with open(boot) as f:
        text = f.read()
    case("bootstrap_invite_file", len(text) == 44 and text.endswith("\n") and
         (os.stat(boot).st_mode & 0o777) == 0o600)
    invite = text.strip()

    # ---- registration of the master admin ----
    uak, epk = new_user_keys()
    ts, ans = register(api, clock, run(APITOOL, "invite-new").strip(), uak, epk)
    case("register_unknown_invite", ans.status == AUTH and ans.key == bytes(32))
    ts, ans = register(api, clock, invite, uak, epk, wanted=5)
    case("register_master_wrong_uid", ans.status == INVALID)
    ts, ans = register(api, clock, invite, uak, epk)
    case("register_admin", ans.status == OK and ans.data == b"\x00\x00\x03", ans.raw.hex())
    kinv = bytes.fromhex(run(APITOOL, "invite-info", invite).split("\n")[1].split()[1])
    want_key = hashlib.blake2b(b"allears response v1" + struct.pack("<QH", ts, 0xFFFF),
                               digest_size=32, key=kinv).digest()
    case("register_response_key", ans.key == want_key)
    # The API encrypts the answer with that key; the client opens it.
    body = run(APITOOL, "resp-seal", ans.key.hex(), str(ts), "65535", str(ans.status),
               ans.data.hex()).strip()
    opened = run(APITOOL, "resp-open", want_key.hex(), str(ts), "65535", body).split()
    case("register_response_opens", opened == ["0", "000003"])
    time.sleep(0.2)
    case("bootstrap_file_removed", not os.path.exists(boot))
    ts, ans = register(api, clock, invite, os.urandom(32), epk)
    case("invite_single_use", ans.status == AUTH)

    admin = Client(api, clock, uak, 0)

    # ---- request authentication ----
    ts = clock.next()
    body = admin.body(ts, INFO)
    ans = admin.send(ts, body)
    case("info_ok", ans.status == OK and ans.cmd == INFO and ans.disp == 0, ans.raw[:4].hex())
    kresp = bytes.fromhex(run(APITOOL, "keys", uak.hex(), str(ts), "0").split("\n")[1].split()[1])
    case("info_response_key", ans.key == kresp)
    info = ans.data
    uid, level, naddr, mib, maxn, maxs, known = struct.unpack_from("<HBBIBBB", info)
    used_bytes, used_count = struct.unpack_from("<QI", info, 12)
    params, salt = info[24:32], info[32:48]
    case("info_fields", uid == 0 and level == 3 and naddr == 0 and mib == 65536 and
         maxn == 31 and maxs == 31 and known == 1 and used_bytes == 0 and used_count == 0 and
         params == bytes.fromhex("0103000000800000") and len(info) == 52, info.hex())
    ans = admin.send(ts, body)
    case("replay_refused", ans.status == REPLAY and ans.key == bytes(32))
    old = clock.next() - 60000
    case("old_ts_refused", admin.send(old, admin.body(old, INFO)).status == TIME)
    future = clock.next() + 60000
    case("future_ts_refused", admin.send(future, admin.body(future, INFO)).status == TIME)
    ts = clock.next()
    tampered = bytearray(admin.body(ts, INFO))
    tampered[30] ^= 1
    case("tampered_refused", admin.send(ts, bytes(tampered)).status == AUTH)
    ts = clock.next()
    case("tampered_changed_nothing", admin.send(ts, admin.body(ts, INFO)).status == OK)
    ts = clock.next()
    case("unknown_uid", admin.send(ts, admin.body(ts, INFO, uid=77), uid=77).status == AUTH)
    ts = clock.next()
    case("wrong_uid_in_url", admin.send(ts, admin.body(ts, INFO, uid=0), uid=1).status == AUTH)
    case("bad_args", admin.req(INFO, b"\x00").status == INVALID)

    # ---- addresses ----
    alice = addr32("alice")
    ans = admin.req(ADD_NORMAL, normal_hash(alice, salt, params))
    case("add_normal", ans.status == OK)
    case("add_normal_again", admin.req(ADD_NORMAL, normal_hash(alice, salt, params)).status == EXISTS)
    ans = admin.req(ADD_SHIELD)
    case("add_shield", ans.status == OK and len(ans.data) == 18 and ans.data[8] & 0x80)
    shield = ans.data[8:]
    ans = admin.req(INFO)
    case("info_lists_addresses", ans.data[3] == 2 and len(ans.data) == 52 + 18)

    # ---- the MTA's lookups ----
    case("lookup_normal", lookup(mta, alice) == (OK, 0, 0x0C))
    case("lookup_shield", lookup(mta, shield) == (OK, 0, 0x0C))
    st, u, fl = lookup(mta, addr32("nobody"))
    case("lookup_unknown_normal", st == OK and u == 0xFFFF and fl in (0x0C, 0x1C))
    case("lookup_unknown_normal_stable", lookup(mta, addr32("nobody"), tag=9) == (st, u, fl))
    case("lookup_unknown_shield", lookup(mta, bytes([0x80 | shield[0]]) + os.urandom(9))[0] ==
         NOT_FOUND)
    case("lookup_invalid", lookup(mta, bytes(10))[0] == INVALID)
    # Timing class: an answer from the cache is held back as long as a hash takes,
    # so it does not tell that someone asked for the address lately.
    fresh = [addr32("qz%dqz" % i) for i in range(8)]
    cached = addr32("nobody")
    t_fresh = mta.batch([(ACC_LOOKUP, a + struct.pack("<IB", 3, 0)) for a in fresh])
    t_cached = mta.batch([(ACC_LOOKUP, cached + struct.pack("<IB", 3, 0))] * 8)
    case("lookup_cache_hit_timing", t_cached > 0.5 * t_fresh, "%.3f %.3f" % (t_cached, t_fresh))
    rtype, raw = mta.call(ACC_LOOKUP, alice + struct.pack("<IB", 1, 1))
    case("lookup_flags_must_be_zero", raw[0] == INVALID)
    rtype, raw = api.call(ACC_LOOKUP, alice + struct.pack("<IB", 1, 0))
    case("lookup_only_from_mta", raw == bytes([DENIED]))
    # Flags: without ACCEXT a normal address answers like an unknown one.
    ans = admin.req(SET_FLAGS, normal_hash(alice, salt, params) + bytes([0, 0x01]))
    st, u, fl = lookup(mta, alice)
    case("lookup_without_accext_is_decoy", ans.status == OK and st == OK and u == 0xFFFF)
    admin.req(SET_FLAGS, normal_hash(alice, salt, params) + bytes([0, 0x0E]))

    # ---- Storage's question ----
    rtype, raw = sto_as_storage.call(ACC_USER_INFO, struct.pack("<H", 0))
    case("user_info", len(raw) == 42 and raw[0] == OK and raw[1] == 3 and raw[2:34] == epk and
         struct.unpack_from("<Q", raw, 34)[0] == 65536 << 20)
    rtype, raw = sto_as_storage.call(ACC_USER_INFO, struct.pack("<H", 9))
    case("user_info_unknown", raw == bytes([NOT_FOUND]))

    # ---- a second user by invitation ----
    ans = admin.req(INVITE, bytes([0, 0, 0, 0]) + struct.pack("<I", 3600))
    case("admin_invite", ans.status == OK and len(ans.data) == 40)
    inv2 = base64.urlsafe_b64encode(ans.data[:32]).decode().rstrip("=")
    uak2, epk2 = new_user_keys()
    ts, ans = register(api, clock, inv2, uak2, epk2, wanted=0)
    case("register_uid0_refused", ans.status == FORBIDDEN)
    ts, ans = register(api, clock, inv2, uak, epk2)
    case("register_duplicate_uak", ans.status == EXISTS)
    ts, ans = register(api, clock, inv2, uak2, epk2)
    case("register_user", ans.status == OK and ans.data == b"\x01\x00\x00", ans.raw.hex())
    user = Client(api, clock, uak2, 1)
    case("user_not_admin", user.req(LIST).status == DENIED)
    ans = admin.req(LIST)
    case("admin_list", ans.status == OK and ans.data == bytes.fromhex("0200") +
         bytes.fromhex("0000030101") + bytes.fromhex("0100000000"), ans.data.hex())
    bob = addr32("bob")
    case("user_add_normal", user.req(ADD_NORMAL, normal_hash(bob, salt, params)).status == OK)
    case("user_reserved_name", user.req(ADD_NORMAL, normal_hash(addr32("postmaster"), salt,
                                                                 params)).status == EXISTS)

    # ---- internal mail, forwarded to Storage ----
    subject, text = b"hello", b"hi bob"
    args = alice + bob + bytes([len(subject)]) + subject + struct.pack("<I", len(text)) + text
    ans = admin.req(SEND, args)
    case("send_internal", ans.status == OK and ans.disp == 1 and ans.sto_type == STO_STORE and
         ans.sto_args == bytes.fromhex("01000000") and ans.bulk is not None and
         ans.bulk[:2] == b"\x01\x01" and alice in ans.bulk and text in ans.bulk, ans.raw[:40].hex())
    msg = os.path.join(user.tmp, "msg.bin")
    with open(msg, "wb") as f:
        f.write(ans.bulk)
    rtype, raw = api_to_storage.call(STO_STORE, ans.sto_args, fd_in=msg)
    case("store_forwarded", raw[:1] == bytes([OK]))
    back = bob + alice + bytes([1]) + b"x" + struct.pack("<I", 1) + b"y"
    case("send_declined", user.req(SEND, back).status == DECLINED)
    case("send_not_owner", user.req(SEND, alice + alice + bytes([0]) + bytes(4)).status == NOT_OWNER)
    case("send_self", admin.req(SEND, alice + shield + bytes([0]) + bytes(4)).status == SELF)
    case("send_unknown", admin.req(SEND, alice + addr32("zed") + bytes([0]) + bytes(4)).status ==
         NOT_FOUND)
    case("send_bad_cet", admin.req(SEND, alice + bob + bytes([0]) + struct.pack("<I", 1) +
                                   b"\x00").status == INVALID)
    ans = user.req(BROWSE, bytes([0, 0]) + struct.pack("<III", 0, 0, 0))
    case("browse_forward", ans.status == OK and ans.disp == 1 and ans.sto_type == STO_BROWSE and
         ans.sto_args == bytes.fromhex("0100") + bytes(14))
    out = os.path.join(user.tmp, "browse.bin")
    rtype, raw = api_to_storage.call(STO_BROWSE, ans.sto_args, fd_out=out)
    case("browse_storage", raw[8] == OK and struct.unpack_from("<I", raw, 12)[0] == 1)
    ans = user.req(UPLOAD, bytes([4]) + b"a.gz" + b"DATA")
    case("upload_forward", ans.status == OK and ans.sto_type == STO_STORE and
         ans.bulk is not None and ans.bulk[1] == 3 and ans.bulk.endswith(b"DATA"))
    # A large upload: the request body travels in a memfd, and so does the UplMsg.
    big = os.urandom(200000)
    args = bytes([5]) + b"b.bin" + big
    argfile = os.path.join(user.tmp, "args.bin")
    with open(argfile, "wb") as f:
        f.write(args)
    ts = clock.next()
    body = bytes.fromhex(run(APITOOL, "seal", uak2.hex(), str(ts), "1", str(UPLOAD), "0",
                             "@" + argfile).strip())
    ans = user.send_memfd(ts, body)
    case("upload_large_memfd", ans.status == OK and ans.sto_type == STO_STORE and
         ans.bulk is not None and ans.bulk.endswith(big) and len(ans.bulk) == 27 + 5 + len(big))
    with open(msg, "wb") as f:
        f.write(ans.bulk)
    rtype, raw = api_to_storage.call(STO_STORE, ans.sto_args, fd_in=msg)
    case("upload_large_stored", raw[:1] == bytes([OK]))
    case("upload_bad_name", user.req(UPLOAD, bytes([1]) + b"/" + b"DATA").status == INVALID)

    # ---- private field ----
    case("private_set", user.req(PRIV_SET, b"secret-blob").status == OK)
    ans = user.req(PRIV_GET)
    case("private_get", ans.status == OK and ans.data == b"secret-blob")

    # ---- restart: state survives, the bootstrap invitation stays gone ----
    system.restart("account")
    clock.last = max(clock.last, int(time.time() * 1000))
    ans = user.req(PRIV_GET)
    case("restart_keeps_state", ans.status == OK and ans.data == b"secret-blob")
    case("restart_no_bootstrap", not os.path.exists(boot))
    case("restart_lookup", lookup(mta, alice) == (OK, 0, 0x0C))

    # ---- deletion ----
    case("master_cannot_delete", admin.req(DELETE).status == FORBIDDEN)
    case("user_delete", user.req(DELETE).status == OK)
    rtype, raw = sto_as_storage.call(ACC_USER_INFO, struct.pack("<H", 1))
    case("deleted_user_gone", raw == bytes([NOT_FOUND]))
    gone = False
    for _ in range(50):
        rtype, raw = acc_to_storage.call(STO_USAGE, struct.pack("<H", 1))
        if raw[:1] == bytes([NOT_FOUND]):
            gone = True
            break
        time.sleep(0.1)
    case("deleted_user_storage_removed", gone)
    case("deleted_user_auth", user.req(INFO).status == AUTH)
    case("lookup_deleted_address", lookup(mta, bob)[1] == 0xFFFF)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_account_basic crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
