"""Certificate store: install/list/delete roots, hash data, CSR and CertificateSigned, TLS contexts.

The small PKI helpers here (``make_root``, ``issue``, ``pem``) are also used by the firmware and
transfer tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from ocpp.v16.datatypes import CertificateHashData

from evnetd.ocpp.certificates import (
    CENTRAL_SYSTEM_ROOT,
    MANUFACTURER_ROOT,
    CertificateStore,
    InvalidCertificate,
    MissingCertificate,
    Outcome,
    certificate_hash_data,
    verify_chain,
)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOW = datetime.now(UTC)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    subject: str | x509.Name,
    public_key: Any,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    *,
    ca: bool = False,
    serial: int | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
    dns_name: str | None = None,
    ip: str | None = None,
) -> x509.Certificate:
    """A certificate for ``public_key``; self-signed when ``issuer`` is None; ``dns_name`` and ``ip``
    go into the subject alternative names (servers reached as 127.0.0.1 need the ``ip``)."""
    name = _name(subject) if isinstance(subject, str) else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    names: list[x509.GeneralName] = [x509.DNSName(dns_name)] if dns_name else []
    names += [x509.IPAddress(ipaddress.ip_address(ip))] if ip else []
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_root(name: str, key: PrivateKey | None = None, **kwargs: Any) -> tuple[x509.Certificate, PrivateKey]:
    key = key or ec_key()
    return issue(name, key.public_key(), None, key, ca=True, **kwargs), key


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture
def store(tmp_path: Path) -> CertificateStore:
    return CertificateStore(tmp_path / "certs")


# InstallCertificate / GetInstalledCertificateIds / DeleteCertificate


def _independent_hash_data(cert: x509.Certificate) -> tuple[str, str, str]:
    """Name hash from the subject (a root's issuer), key hash from the key's own raw encoding."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        raw = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    serial = hex(cert.serial_number)[2:]
    return hashlib.sha256(cert.subject.public_bytes()).hexdigest(), hashlib.sha256(raw).hexdigest(), serial


@pytest.mark.parametrize("key_factory", [ec_key, rsa_key], ids=["ec", "rsa"])
def test_install_then_list_gives_the_ocsp_style_hash_data(store: CertificateStore, key_factory: Any) -> None:
    root, _ = make_root("CSMS Root", key_factory(), serial=0x0ABCDEF12)
    assert store.install(CENTRAL_SYSTEM_ROOT, pem(root)) == Outcome("Accepted")
    status, ids = store.installed_ids(CENTRAL_SYSTEM_ROOT)
    assert status == "Accepted"
    name_hash, key_hash, serial = _independent_hash_data(root)
    assert serial == "abcdef12"
    assert ids == [CertificateHashData("SHA256", name_hash, key_hash, serial)]
    assert store.installed_ids(MANUFACTURER_ROOT) == ("NotFound", [])


def test_hash_data_match_what_openssl_puts_in_an_ocsp_request(tmp_path: Path) -> None:
    root, _ = make_root("Manufacturer Root", rsa_key())
    path = tmp_path / "root.pem"
    path.write_text(pem(root))
    try:
        text = subprocess.run(
            ["openssl", "ocsp", "-sha256", "-issuer", path, "-cert", path, "-no_nonce", "-req_text"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl ocsp not usable: {exc}")
    fields = dict(re.findall(r"(Issuer Name Hash|Issuer Key Hash|Serial Number): (\w+)", text))
    mine = certificate_hash_data(root)
    assert mine.issuer_name_hash == fields["Issuer Name Hash"].lower()
    assert mine.issuer_key_hash == fields["Issuer Key Hash"].lower()
    assert int(mine.serial_number, 16) == int(fields["Serial Number"], 16)


def test_installing_the_same_root_twice_keeps_one(store: CertificateStore) -> None:
    root, _ = make_root("Root")
    store.install(MANUFACTURER_ROOT, pem(root))
    assert store.install(MANUFACTURER_ROOT, pem(root)).status == "Accepted"
    assert len(store.roots(MANUFACTURER_ROOT)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        pem(make_root("Expired", not_after=NOW - timedelta(days=1))[0]),
        pem(make_root("Not yet", not_before=NOW + timedelta(days=1))[0]),
        pem(issue("Not a CA", ec_key().public_key(), None, ec_key())),
        pem(make_root("One")[0], make_root("Two")[0]),
    ],
    ids=["garbage", "bad-der", "expired", "not-yet-valid", "not-ca", "two-certificates"],
)
def test_invalid_central_system_root_is_rejected_with_a_security_event(store: CertificateStore, text: str) -> None:
    assert store.install(CENTRAL_SYSTEM_ROOT, text) == Outcome("Rejected", "InvalidCentralSystemCertificate")
    assert store.installed_ids(CENTRAL_SYSTEM_ROOT) == ("NotFound", [])


def test_a_ca_that_is_not_self_signed_is_no_root(store: CertificateStore) -> None:
    root, root_key = make_root("Root")
    sub_key = ec_key()
    sub_ca = issue("Sub CA", sub_key.public_key(), root, root_key, ca=True)
    assert store.install(MANUFACTURER_ROOT, pem(sub_ca)) == Outcome("Rejected", None)


def test_store_max_length_counts_both_kinds(store: CertificateStore) -> None:
    store.install(CENTRAL_SYSTEM_ROOT, pem(make_root("A")[0]), max_length=2)
    store.install(MANUFACTURER_ROOT, pem(make_root("B")[0]), max_length=2)
    assert store.install(MANUFACTURER_ROOT, pem(make_root("C")[0]), max_length=2) == Outcome("Failed")


def test_delete_then_not_found(store: CertificateStore) -> None:
    root, _ = make_root("Manufacturer")
    store.install(MANUFACTURER_ROOT, pem(root))
    _, [ids] = store.installed_ids(MANUFACTURER_ROOT)
    assert store.delete(ids, security_profile=0) == "Accepted"
    assert store.installed_ids(MANUFACTURER_ROOT) == ("NotFound", [])
    assert store.delete(ids, security_profile=0) == "NotFound"


def test_delete_takes_the_handler_dict_any_case_leading_zeros_and_sha512(store: CertificateStore) -> None:
    root, _ = make_root("Root", serial=0x1234)
    store.install(MANUFACTURER_ROOT, pem(root))
    data = certificate_hash_data(root, algorithm="SHA512")
    request = {
        "hash_algorithm": "SHA512",
        "issuer_name_hash": data.issuer_name_hash.upper(),
        "issuer_key_hash": data.issuer_key_hash,
        "serial_number": "001234",
    }
    assert store.delete(request, security_profile=0) == "Accepted"


def test_the_last_central_system_root_stays_while_tls_needs_it(store: CertificateStore) -> None:
    first, second = make_root("First")[0], make_root("Second")[0]
    store.install(CENTRAL_SYSTEM_ROOT, pem(first))
    assert store.delete(certificate_hash_data(first), security_profile=2) == "Failed"
    store.install(CENTRAL_SYSTEM_ROOT, pem(second))
    assert store.delete(certificate_hash_data(first), security_profile=3) == "Accepted"
    assert store.delete(certificate_hash_data(second), security_profile=1) == "Accepted"


# SignCertificate / CertificateSigned


def _csr_and_csms_ca(store: CertificateStore) -> tuple[x509.CertificateSigningRequest, x509.Certificate, PrivateKey]:
    root, root_key = make_root("CSMS Root")
    store.install(CENTRAL_SYSTEM_ROOT, pem(root))
    csr = x509.load_pem_x509_csr(store.make_csr("EVNET-0042", "Example CPO").encode())
    return csr, root, root_key


def test_csr_names_the_serial_and_the_cpo_with_a_p256_key(store: CertificateStore) -> None:
    csr = x509.load_pem_x509_csr(store.make_csr("EVNET-0042", "Example CPO").encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "EVNET-0042"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example CPO"
    key = csr.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert (store.directory / "csr-key.pem").stat().st_mode & 0o777 == 0o600


def test_certificate_signed_installs_the_leaf_with_the_pending_key(store: CertificateStore) -> None:
    csr, root, root_key = _csr_and_csms_ca(store)
    sub_key = ec_key()
    sub_ca = issue("CSMS Sub CA", sub_key.public_key(), root, root_key, ca=True)
    leaf = issue(csr.subject, csr.public_key(), sub_ca, sub_key)
    assert not store.has_charge_point_certificate()
    assert store.certificate_signed(pem(leaf, sub_ca), max_chain_size=10000) == Outcome("Accepted")
    assert store.has_charge_point_certificate()
    installed = store.directory / "ChargePointCertificate.pem"
    assert installed.stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificates(installed.read_bytes())[0] == leaf
    assert not (store.directory / "csr-key.pem").exists()


def _rejected(store: CertificateStore, chain: str, max_chain_size: int = 10000) -> None:
    expected = Outcome("Rejected", "InvalidChargePointCertificate")
    assert store.certificate_signed(chain, max_chain_size=max_chain_size) == expected
    assert not store.has_charge_point_certificate()


def test_certificate_signed_rejects_garbage(store: CertificateStore) -> None:
    _csr_and_csms_ca(store)
    _rejected(store, "not a certificate")


def test_certificate_signed_rejects_a_chain_above_the_size_limit(store: CertificateStore) -> None:
    csr, root, root_key = _csr_and_csms_ca(store)
    chain = pem(issue(csr.subject, csr.public_key(), root, root_key))
    _rejected(store, chain, max_chain_size=len(chain) - 1)
    assert store.certificate_signed(chain, max_chain_size=len(chain)).status == "Accepted"


def test_certificate_signed_rejects_a_leaf_for_another_key(store: CertificateStore) -> None:
    csr, root, root_key = _csr_and_csms_ca(store)
    _rejected(store, pem(issue(csr.subject, ec_key().public_key(), root, root_key)))


def test_certificate_signed_rejects_an_expired_leaf(store: CertificateStore) -> None:
    csr, root, root_key = _csr_and_csms_ca(store)
    _rejected(store, pem(issue(csr.subject, csr.public_key(), root, root_key, not_after=NOW - timedelta(hours=1))))


def test_certificate_signed_rejects_a_leaf_from_an_unknown_ca(store: CertificateStore) -> None:
    csr, _, _ = _csr_and_csms_ca(store)
    other, other_key = make_root("Someone else")
    _rejected(store, pem(issue(csr.subject, csr.public_key(), other, other_key), other))


def test_certificate_signed_without_a_pending_csr_is_rejected(store: CertificateStore) -> None:
    root, root_key = make_root("CSMS Root")
    store.install(CENTRAL_SYSTEM_ROOT, pem(root))
    _rejected(store, pem(issue("EVNET-0042", ec_key().public_key(), root, root_key)))


def test_verify_chain_refuses_an_intermediate_that_is_not_a_ca() -> None:
    root, root_key = make_root("Root")
    middle_key = ec_key()
    middle = issue("Middle", middle_key.public_key(), root, root_key, ca=False)
    leaf = issue("Leaf", ec_key().public_key(), middle, middle_key)
    with pytest.raises(InvalidCertificate, match="does not chain"):
        verify_chain([leaf, middle], [root], NOW)


# TLS


def test_profiles_0_and_1_are_plain(store: CertificateStore) -> None:
    assert store.ssl_context(0) is None
    assert store.ssl_context(1) is None
    with pytest.raises(ValueError):
        store.ssl_context(4)


def test_tls_profiles_need_their_certificates(store: CertificateStore) -> None:
    with pytest.raises(MissingCertificate):
        store.ssl_context(2)
    store.install(CENTRAL_SYSTEM_ROOT, pem(make_root("Root")[0]))
    assert store.ssl_context(2) is not None
    with pytest.raises(MissingCertificate):
        store.ssl_context(3)


def _server_context(
    tmp_path: Path, ca: x509.Certificate, ca_key: PrivateKey, client_ca: x509.Certificate | None = None
) -> ssl.SSLContext:
    key = ec_key()
    cert = issue("csms.test", key.public_key(), ca, ca_key, dns_name="localhost")
    (tmp_path / "server.pem").write_text(pem(cert))
    (tmp_path / "server.key").write_bytes(key_pem(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=pem(client_ca))
    return context


async def _handshake(server_context: ssl.SSLContext, client_context: ssl.SSLContext, hostname: str) -> str:
    """Connect, and return what the server says: the CN of our certificate, or '-' without one."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert")
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        writer.write(f"{subject.get('commonName', '-')} {writer.get_extra_info('ssl_object').version()}\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context, server_hostname=hostname)
        line = (await reader.readline()).decode().strip()
        writer.close()
        return line
    finally:
        server.close()
        await server.wait_closed()


async def test_profile_2_trusts_the_installed_root_and_checks_the_host_name(
    store: CertificateStore, tmp_path: Path
) -> None:
    ca, ca_key = make_root("CSMS Root")
    store.install(CENTRAL_SYSTEM_ROOT, pem(ca))
    context = store.ssl_context(2)
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    answer = await _handshake(_server_context(tmp_path, ca, ca_key), context, "localhost")
    assert answer.split()[0] == "-"
    assert answer.split()[1] in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(_server_context(tmp_path, ca, ca_key), context, "csms.example.org")


async def test_profile_2_refuses_a_server_from_another_root(store: CertificateStore, tmp_path: Path) -> None:
    store.install(CENTRAL_SYSTEM_ROOT, pem(make_root("Our CSMS Root")[0]))
    stranger, stranger_key = make_root("Stranger")
    context = store.ssl_context(2)
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(_server_context(tmp_path, stranger, stranger_key), context, "localhost")


async def test_profile_3_presents_the_certificate_from_certificate_signed(
    store: CertificateStore, tmp_path: Path
) -> None:
    csr, root, root_key = _csr_and_csms_ca(store)
    leaf = issue(csr.subject, csr.public_key(), root, root_key)
    assert store.certificate_signed(pem(leaf), max_chain_size=0).status == "Accepted"
    context = store.ssl_context(3)
    assert context is not None
    answer = await _handshake(_server_context(tmp_path, root, root_key, client_ca=root), context, "localhost")
    assert answer.split()[0] == "EVNET-0042"
