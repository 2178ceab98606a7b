#!/usr/bin/python3
"""test_mta_fdlimit.py: the MTA under a descriptor limit lower than its
session cap: connections past what the limit allows get 421 and are closed,
the MTA keeps serving the others and new ones once some leave (it must not
exit on EMFILE, which would drop every session).

Usage: /usr/bin/python3 test_mta_fdlimit.py <builddir>"""

import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
import itest  # noqa: E402
from itest import case, BUILD  # noqa: E402

NOFILE = 48
PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"


def greeting(s):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(512)
        if not chunk:
            break
        data += chunk
    return data


def main():
    system = System(BUILD, roles=["storage", "account", "mta"], binaries={
        "mta": [PRLIMIT, "--nofile=%d:%d" % (NOFILE, NOFILE), os.path.join(BUILD, "allears-mta")]},
        config_extra={"mta": {"max_sessions": 1000, "max_sessions_per_ip": 1000}}).start()
    socks = []
    try:
        port = system.port("smtp")
        replies = []
        for _ in range(NOFILE):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(s)
            replies.append(greeting(s)[:3])
        served = replies.count(b"220")
        refused = replies.count(b"421")
        case("sessions_past_the_fd_limit_refused_421", served > 0 and refused > 0 and
             served + refused == NOFILE, replies)
        alive = system.daemons["mta"].proc.poll() is None
        case("mta_survives_the_fd_limit", alive)
        first = socks[0]
        first.sendall(b"EHLO x.example\r\n")
        case("earlier_sessions_still_served", greeting(first).startswith(b"250"))
        for s in socks:
            s.close()
        socks = []
        # The MTA sees those sessions end when it reads their EOFs: ask again
        # (as a sender would) until it has.
        got = b""
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(s)
            got = greeting(s)
            if got.startswith(b"220"):
                break
            s.close()
            socks.pop()
            time.sleep(0.1)
        case("new_session_after_others_left", got.startswith(b"220"), got)
    finally:
        for s in socks:
            s.close()
        status = system.stop()
        case("clean_stop", all(v == 0 for v in status.values()), status)


if __name__ == "__main__":
    main()
    sys.exit(1 if itest.failures else 0)
