"""HTTPS with a per-device self-signed certificate, made at first start.

A charger on its own access point or a home LAN has no name a public CA would sign, so
each device makes its own key and certificate (EC P-256, ten years) and keeps them in
``STATE_DIR/web`` (key 0600). The browser warns once; the traffic (PIN, session cookie,
OCPP password) is encrypted all the same, and no two chargers share a key.
The certificate is made in a short-lived child process (``python -m evnetd.web.tls``), as
the config is validated in one: ``cryptography`` would otherwise stay loaded in the daemon
(about 10 MB) for a job done once in its life.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

CERTIFICATE = "certificate.pem"
KEY = "key.pem"
VALID_DAYS = 3650


def _subject_names(host: str) -> list[str]:
    names = {"localhost", "127.0.0.1", "::1", socket.gethostname()}
    if host:
        names.add(host)
    return sorted(names)


def ensure_certificate(directory: Path, common_name: str, host: str) -> tuple[Path, Path]:
    """The device's (certificate, key) paths, made now (in a child process) if missing."""
    cert_path, key_path = directory / CERTIFICATE, directory / KEY
    if not (cert_path.exists() and key_path.exists()):
        done = subprocess.run([sys.executable, "-m", "evnetd.web.tls", str(directory), common_name, host],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"cannot make the TLS certificate: {done.stderr.strip()[-500:]}")
    return cert_path, key_path


def make_certificate(directory: Path, common_name: str, host: str) -> None:
    """A new key and self-signed certificate in ``directory`` (the key written 0600 first)."""
    cert_path, key_path = directory / CERTIFICATE, directory / KEY
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    alternative: list[x509.GeneralName] = []
    for name in _subject_names(host):
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EVNET charger"),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    partial = key_path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_pem)
    partial.replace(key_path)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_context(directory: Path, common_name: str, host: str) -> ssl.SSLContext:
    cert_path, key_path = ensure_certificate(directory, common_name, host)
    # not create_default_context(): it loads the system's CA list to check client certificates,
    # which a server without client certificates never uses (a megabyte of memory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


if __name__ == "__main__":
    make_certificate(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
