#!/usr/bin/python3
"""postfix_peer.py: a throw-away private Postfix instance, the peer of the SMTP
benchmark (tests/bench/smtpbench.py, docs/BENCHMARKS.md "SMTP").

It never touches the system's /etc/postfix or a running system Postfix: its own
config_directory, queue_directory and data_directory under one temporary
directory, smtpd on two loopback high ports, no chroot, no DNS (no reverse
lookup of the client, no DNS in the SMTP client either), logging to a file
(postlogd) instead of syslog. Two listeners, same smtpd, same queue:

  hold port:    every message is accepted into the queue and put on hold
                (smtpd_data_restrictions = HOLD): smtpd answers 250 only once
                cleanup has fsync'd the queue file; nothing is delivered, so the
                queue files can be counted afterwards (accept rate);
  deliver port: every message is accepted and then delivered by virtual(8) into
                one maildir per recipient under <root>/mail (accept + final
                delivery to disk).

Needs root (Postfix's master starts as root and runs its daemons as the
`postfix` user that the Debian package made). Usage as a program (a self-test):
  /usr/bin/python3 tests/bench/postfix_peer.py"""

import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTSUPER = "/usr/sbin/postsuper"
MASTER = "/usr/lib/postfix/sbin/master"

# Services in master.cf: no chroot anywhere (column 5 = n), the smtpd
# listeners are added by PostfixPeer. Only what receiving and local virtual
# delivery need (no pickup: nothing is posted with sendmail; no smtp client).
MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PeerError(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_stat(pid):
    """(ppid, own CPU seconds, CPU seconds of reaped children) of one process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / tck,
            (int(fields[13]) + int(fields[14])) / tck)


class PostfixPeer:
    """One private Postfix instance. start() ... stop(); stop() also removes
    every file, and is safe to call after a failed start()."""

    def __init__(self, domain, locals_, root=None):
        self.domain = domain
        self.locals = list(locals_)  # local parts that have a maildir
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="allears-bench-postfix-")
        self.conf = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        self.data = os.path.join(self.root, "data")
        self.mail = os.path.join(self.root, "mail")
        self.maillog = os.path.join(self.root, "log", "maillog")
        self.port_hold = free_port()
        self.port_deliver = free_port()
        while self.port_deliver == self.port_hold:
            self.port_deliver = free_port()
        self.started = False
        self.env = dict(os.environ, MAIL_CONFIG=self.conf)

    # ---- set-up ----
    def _write_config(self):
        pw = pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")  # KeyError when the package's group is missing
        for d in (self.conf, self.queue, os.path.dirname(self.maillog)):
            os.makedirs(d, mode=0o755, exist_ok=True)
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        os.makedirs(self.mail, mode=0o700, exist_ok=True)
        for d in (self.data, self.mail):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        # The master opens its lock file in data_directory, and virtual(8)
        # writes the maildirs, as the postfix user: it must reach them.
        os.chmod(self.root, 0o755)
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for local in self.locals:
                f.write("%s@%s %s/\n" % (local, self.domain, local))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix-bench",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.root,
            "myhostname": "postfix-bench.invalid",
            "mydomain": "invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions": "",
            # No DNS anywhere: no reverse lookup of the client, none in the
            # SMTP client (which is not even in master.cf), /etc/hosts style
            # lookups only.
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "virtual_mailbox_domains": self.domain,
            "virtual_mailbox_maps": "texthash:" + os.path.join(self.conf, "vmailbox"),
            "virtual_mailbox_base": self.mail,
            "virtual_uid_maps": "static:%d" % pw.pw_uid,
            "virtual_gid_maps": "static:%d" % pw.pw_gid,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtpd_banner": "$myhostname ESMTP",
            "meta_directory": "/etc/postfix",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port_deliver)
            f.write("  -o syslog_name=postfix-bench/deliver\n")
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port_hold)
            f.write("  -o syslog_name=postfix-bench/hold\n")
            f.write("  -o smtpd_data_restrictions=check_client_access,static:HOLD\n")

    def start(self):
        if not os.access(POSTFIX, os.X_OK) or not os.access(MASTER, os.X_OK):
            raise PeerError("Postfix is not installed (%s)" % POSTFIX)
        if os.geteuid() != 0:
            raise PeerError("the Postfix peer needs root (its master runs as root)")
        try:
            self._write_config()
        except KeyError as e:
            raise PeerError("Postfix's user or group is missing: %s" % e)
        r = subprocess.run([POSTFIX, "-c", self.conf, "start"], env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.started = True  # stop() tries even after a failed start
        if r.returncode != 0:
            raise PeerError("postfix start failed: %s %s %s (log: %s)" % (
                r.stdout.strip(), r.stderr.strip(), self._why(), self._log_tail()))
        # `postfix start` runs `master -w`, which returns once the master has
        # bound its listeners: each must greet now.
        for port in (self.port_hold, self.port_deliver):
            self._expect_greeting(port)
        return self

    def _expect_greeting(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            line = s.makefile("rb").readline()
            if not line.startswith(b"220 "):
                raise PeerError("Postfix on port %d greeted %r" % (port, line))
            s.sendall(b"QUIT\r\n")

    def _why(self):
        """Postfix commands report their errors to syslog (there is none here)
        or, when stderr is a terminal, there: `postfix check` under a pty."""
        try:
            r = subprocess.run(["script", "-qec", "%s -c %s check" % (POSTFIX, self.conf),
                                "/dev/null"], env=self.env, capture_output=True, text=True,
                               timeout=60)
            return r.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    def _log_tail(self, n=20):
        try:
            with open(self.maillog, errors="replace") as f:
                return "".join(f.readlines()[-n:]).strip()
        except OSError:
            return "(no log)"

    def master_pid(self):
        with open(os.path.join(self.queue, "pid", "master.pid")) as f:
            return int(f.read().split()[0])

    def stop(self):
        """Stops the instance and removes every file. Returns the master's log
        lines with warnings or errors (empty when all went well)."""
        problems = ""
        if self.started:
            try:
                pid = self.master_pid()
            except (OSError, ValueError):
                pid = None
            subprocess.run([POSTFIX, "-c", self.conf, "stop"], env=self.env,
                           capture_output=True, text=True, timeout=60)
            if pid is not None:
                # `postfix stop` waits for the master; make sure it is gone
                # before the directory goes (it is not our child: poll).
                for _ in range(500):
                    if not os.path.exists("/proc/%d" % pid):
                        break
                    time.sleep(0.01)
            problems = self.log_problems()
            self.started = False
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems

    def log_problems(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return "".join(line for line in f
                               if " fatal: " in line or " panic: " in line or
                               " error: " in line)
        except OSError:
            return ""

    # ---- what was stored ----
    def held_count(self):
        """Queue files on hold: messages smtpd accepted on the hold port."""
        return self._count_files(os.path.join(self.queue, "hold"))

    def queued_count(self):
        """Queue files not yet delivered (incoming, active, deferred)."""
        return sum(self._count_files(os.path.join(self.queue, q))
                   for q in ("incoming", "active", "deferred", "maildrop"))

    def delivered_count(self):
        """Files in the maildirs' new/ directories."""
        return sum(self._count_files(os.path.join(self.mail, local, "new"))
                   for local in self.locals)

    def delivered_per_local(self):
        return {local: self._count_files(os.path.join(self.mail, local, "new"))
                for local in self.locals}

    @staticmethod
    def _count_files(d):
        n = 0
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        n += PostfixPeer._count_files(e.path)
                    else:
                        n += 1
        except FileNotFoundError:
            return 0
        return n

    def clear(self):
        """Deletes held messages and delivered files (between measurements)."""
        subprocess.run([POSTSUPER, "-c", self.conf, "-d", "ALL", "hold"], env=self.env,
                       capture_output=True, check=True, timeout=120)
        for local in self.locals:
            d = os.path.join(self.mail, local, "new")
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for name in names:
                os.unlink(os.path.join(d, name))

    def cpu_seconds(self):
        """CPU seconds the whole instance has used so far: the master, the
        children it has reaped (smtpd, cleanup... exit after max_use) and those
        alive now."""
        master = self.master_pid()
        _, own, reaped = proc_stat(master)
        total = own + reaped
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                ppid, c_own, c_reaped = proc_stat(int(name))
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                total += c_own + c_reaped
        return total


def _selftest():
    """Starts a peer, sends 3 messages to each port with smtp-source, checks
    they were held / delivered, stops it."""
    peer = PostfixPeer("allears.test", ["bench", "2bench"])
    try:
        peer.start()
        print("postfix peer: hold port %d, deliver port %d, root %s" % (
            peer.port_hold, peer.port_deliver, peer.root))
        src = ["smtp-source", "-m", "3", "-r", "2", "-l", "1000", "-f", "bench@sender.test",
               "-t", "bench@allears.test", "-M", "sender.test"]
        subprocess.run(src + ["127.0.0.1:%d" % peer.port_hold], check=True, timeout=60)
        subprocess.run(src + ["127.0.0.1:%d" % peer.port_deliver], check=True, timeout=60)
        for _ in range(1000):
            if peer.delivered_count() >= 6 and peer.queued_count() == 0:
                break
            time.sleep(0.01)
        print("held %d (want 3), delivered %s (want 3 each), queued %d, cpu %.2f s" % (
            peer.held_count(), peer.delivered_per_local(), peer.queued_count(),
            peer.cpu_seconds()))
        ok = peer.held_count() == 3 and peer.delivered_per_local() == {"bench": 3, "2bench": 3}
        peer.clear()
        ok = ok and peer.held_count() == 0 and peer.delivered_count() == 0
    finally:
        problems = peer.stop()
    if problems:
        print(problems)
    print("postfix peer self-test: %s" % ("PASS" if ok and not problems else "FAIL"))
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    raise SystemExit(_selftest())
