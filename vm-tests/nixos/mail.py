# The test script of vm-tests/nixos/mail.nix (NixOS test driver; CA and
# SMTP_SEND are set by mail.nix before this text). Server: the appliance,
# initialised at its first boot. Client: sends mail over SMTP with STARTTLS
# and reads it with the allears client.
import json
import re

DOMAIN = "example.test"
HOST = "mail.example.test"
SENDER = "sendr7x@client.test"
RCPT_NAME = "canarybob"
SUBJECT = "nixos canary subject 5e1d"
BODY = "nixos-canary-body-93af"
SUBJECT2 = "nixos second canary 7c2e"
BODY2 = "nixos-canary-again-41b0"
ROLES = ["account", "storage", "deliver", "enquiry", "mta", "api", "web"]
# systemd-analyze security thresholds (10 = an exposure of 1.0), as
# tests/integration/test_units.py keeps them: 0.5 without egress, 1.0 with.
EGRESS = ["enquiry"]
SECRETS = "/root/allears-initial-secrets.txt"


def allears(user: str, args: str) -> str:
    return f"ALLEARS_HOME=/root/{user} allears {args}"


def send_mail(subject: str, body: str) -> None:
    client.succeed(
        f"python3 {SMTP_SEND} --ca {CA} --host {HOST} --sender {SENDER} "
        f"--rcpt {RCPT_NAME}@{DOMAIN} --subject '{subject}' --body '{body}'"
    )


def read_mail(subject: str, body: str) -> None:
    client.wait_until_succeeds(
        allears("bob", "--json mail list") + f" | grep -F '{subject}'", timeout=180
    )
    listed = json.loads(client.succeed(allears("bob", "--json mail list")))["messages"]
    found = [m for m in listed if subject in json.dumps(m)]
    assert len(found) == 1, f"expected one message with the subject, got {listed}"
    text = client.succeed(allears("bob", f"mail read {found[0]['id']}"))
    assert body in text, "the body is not in the decrypted message"
    assert "TLS" in text, "the arrival summary does not show TLS"


start_all()

with subtest("first boot: installation made, keys in a root-only file, roles up"):
    server.wait_for_unit("allears-init.service")
    server.wait_for_unit("allears.target")
    for role in ROLES:
        server.wait_for_unit(f"allears-{role}.service")
    server.succeed(f'test "$(stat -c %a:%U {SECRETS})" = 600:root')
    secrets = server.succeed(f"cat {SECRETS}")
    umk_match = re.search(r"User Master Key\n\(shown once[^\n]*\n\s+(\S+)", secrets)
    smk_match = re.search(r"Server Master Key[^\n]*\n\s+(\S+)", secrets)
    assert umk_match and smk_match, "the secrets file has no UMK or SMK"
    umk = umk_match.group(1)
    smk = smk_match.group(1)
    server.succeed(
        f"journalctl -b -o cat -u allears-init.service | grep -F 'are in {SECRETS}'"
    )
    # Encrypted for this host, not plain key bundles.
    for role in ["account", "storage", "deliver", "enquiry", "mta", "api"]:
        server.succeed(f"systemd-creds decrypt --name=keys /etc/allears/credentials/{role}.keys.cred - >/dev/null")

client.wait_for_unit("multi-user.target")

with subtest("the API and the web role answer over TLS"):
    code = client.succeed(
        f"curl -sS --cacert {CA} -o /dev/null -w '%{{http_code}}' https://{HOST}:302/"
    )
    assert code != "000", "no HTTP answer from the API"
    policy = client.succeed(
        f"curl -sS --fail --cacert {CA} https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"
    )
    assert "version: STSv1" in policy and f"mx: {HOST}" in policy, policy
    client.succeed(f"curl -sS --fail --cacert {CA} -o /dev/null https://mta-sts.{DOMAIN}/")

with subtest("admin and user set up with the allears client"):
    for user in ["admin", "bob"]:
        client.succeed(f"install -d -m 0700 /root/{user}")
        client.succeed(f"printf 'server = {HOST}\\nport = 302\\n' > /root/{user}/config")
    client.succeed(allears("admin", f"key import {umk} --uid 0"))
    who = json.loads(client.succeed(allears("admin", "--json whoami")))
    assert who.get("uid") == 0 and who.get("level") == 3, who
    invitation = json.loads(client.succeed(allears("admin", "--json admin invite --level 1")))[
        "invitation"
    ]
    client.succeed(allears("bob", "init"))
    client.succeed(allears("bob", f"register {invitation}"))
    client.succeed(allears("bob", f"address add {RCPT_NAME}"))
    client.succeed(allears("bob", f"address flags {RCPT_NAME} +accept-external"))

with subtest("mail over SMTP with STARTTLS arrives and is read with the client"):
    send_mail(SUBJECT, BODY)
    read_mail(SUBJECT, BODY)

with subtest("no unit logged an error"):
    for role in ROLES:
        errors = server.succeed(
            f"journalctl -b -p err -o cat _SYSTEMD_UNIT=allears-{role}.service"
        )
        assert errors.strip() == "", f"allears-{role} logged errors: {errors}"

with subtest("systemd-analyze security holds for every unit"):
    for role in ROLES:
        threshold = 10 if role in EGRESS else 5
        server.succeed(
            f"systemd-analyze security --threshold={threshold} allears-{role}.service"
        )

with subtest("restarting and killing roles recovers"):
    for role in ROLES:
        server.succeed(f"systemctl restart allears-{role}.service")
        server.wait_for_unit(f"allears-{role}.service")
    for role in ROLES:
        unit = f"allears-{role}.service"
        before = int(server.succeed(f"systemctl show -P NRestarts {unit}").strip())
        server.succeed(f"systemctl kill --signal=SIGKILL {unit}")
        server.wait_until_succeeds(
            f"test $(systemctl show -P NRestarts {unit}) -gt {before} && systemctl is-active {unit}"
        )
    server.succeed("systemctl restart allears.target")
    for role in ROLES:
        server.wait_for_unit(f"allears-{role}.service")
    send_mail(SUBJECT2, BODY2)
    read_mail(SUBJECT2, BODY2)

with subtest("after a reboot: no new installation, the mail is still there"):
    server.shutdown()
    server.start()
    server.wait_for_unit("allears.target")
    for role in ROLES:
        server.wait_for_unit(f"allears-{role}.service")
    # The credential exists, so allears-init.service did not run again.
    server.succeed('test "$(systemctl show -P ConditionResult allears-init.service)" = no')
    assert server.succeed(f"cat {SECRETS}") == secrets, "the secrets file changed"
    read_mail(SUBJECT, BODY)
    read_mail(SUBJECT2, BODY2)

with subtest("no address, text or key in the journal or in clear in the state"):
    journal = server.succeed("journalctl -o cat").lower()
    for needle in [RCPT_NAME, SENDER.split("@")[0], SUBJECT, BODY, SUBJECT2, BODY2, umk, smk]:
        assert needle.lower() not in journal, f"{needle!r} is in the journal"
    for needle in [RCPT_NAME, SUBJECT, BODY, SUBJECT2, BODY2]:
        # grep: 1 = nothing found (2, an error, fails too).
        server.succeed(
            f"grep -r -a -i -l -F -e '{needle}' /var/lib/private/allears; test $? -eq 1"
        )
