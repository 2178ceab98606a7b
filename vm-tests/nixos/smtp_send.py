"""smtp_send.py: sends one message to an SMTP server over STARTTLS, as another
mail server would, verifying the server's certificate against a given CA.
Fails (non-zero exit) if STARTTLS is not offered, the certificate does not
verify, or a recipient is refused. Run on the client node of vm-tests/nixos."""

import argparse
import smtplib
import ssl
import sys
from email.message import EmailMessage


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--ca", required=True)
    p.add_argument("--helo", default="client.test")
    p.add_argument("--sender", required=True)
    p.add_argument("--rcpt", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--body", required=True)
    a = p.parse_args()

    msg = EmailMessage()
    msg["From"] = a.sender
    msg["To"] = a.rcpt
    msg["Subject"] = a.subject
    msg["Message-ID"] = "<%s@%s>" % (a.subject.replace(" ", "."), a.helo)
    msg.set_content(a.body + "\n")

    ctx = ssl.create_default_context(cafile=a.ca)
    with smtplib.SMTP(a.host, a.port, local_hostname=a.helo, timeout=120) as s:
        s.ehlo()
        if not s.has_extn("starttls"):
            print("the server does not offer STARTTLS", file=sys.stderr)
            return 1
        s.starttls(context=ctx)
        s.ehlo()
        refused = s.send_message(msg, from_addr=a.sender, to_addrs=[a.rcpt])
        if refused:
            print("refused: %r" % (refused,), file=sys.stderr)
            return 1
    print("sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
