#!/usr/bin/python3
"""mkcert.py: a throw-away CA and a server certificate for the guest's API
(names: localhost, 127.0.0.1, the nspawn lane's server address and
mail.allears.vm). Writes OUT/ca.pem, OUT/server.crt (the chain the API loads
as tls.crt) and OUT/server.key (PKCS#8 PEM, encrypted into tls.key in the
guest). Usage: mkcert.py OUT SERVER_IP"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def main():
    out, ip = sys.argv[1], sys.argv[2]
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("allears vm-test CA"))
          .issuer_name(name("allears vm-test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("mail.allears.vm"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("mail.allears.vm"), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.IPAddress(ipaddress.ip_address(ip))]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(out, 0o755, exist_ok=True)
    pem = serialization.Encoding.PEM
    for fname, data in (("ca.pem", ca.public_bytes(pem)),
                        ("server.crt", leaf.public_bytes(pem)),
                        ("server.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))):
        with open(os.path.join(out, fname), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
