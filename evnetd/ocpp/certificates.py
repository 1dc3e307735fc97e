"""The charger's certificate store (OCPP 1.6 Security Whitepaper, use cases A02, A03, M03–M05).

A directory, owned by the OCPP daemon, holds:

* ``CentralSystemRootCertificate/<sha256>.pem``: the roots the CSMS's TLS certificate must chain to
  (security profiles 2 and 3);
* ``ManufacturerRootCertificate/<sha256>.pem``: the roots firmware signing certificates must chain to;
* ``ChargePointCertificate.pem``: our TLS client certificate chain and its key in one file (0600),
  so that CertificateSigned replaces both with a single rename: a power cut can never pair a new
  certificate with the old key;
* ``csr-key.pem``: the key of the CSR sent with SignCertificate, until CertificateSigned matches it.

Only self-signed CA certificates are accepted as roots: a sub-CA would need its issuer's key for the
hash data below, and OpenSSL would not use it as a trust anchor anyway.

The hash data that identify a certificate in GetInstalledCertificateIds and DeleteCertificate are
those of OCSP (RFC 6960 CertID, as the whitepaper's CertificateHashDataType describes): the hash of
the DER encoding of the issuer's name, the hash of the issuer's public key (the contents of the
subjectPublicKey BIT STRING, read from the certificate itself, not re-encoded), and the serial
number in lower-case hex without leading zeros. A root is its own issuer.

The store decides and reports; it sends nothing. Results carry the security event the caller must
log and push (InvalidCentralSystemCertificate, InvalidChargePointCertificate).
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.v16.datatypes import CertificateHashData
from ocpp.v16.enums import (
    CertificateSignedStatus,
    CertificateStatus,
    CertificateUse,
    DeleteCertificateStatus,
    GetInstalledCertificateStatus,
    HashAlgorithm,
)

from evnetd.ocpp.timestamps import utc_now
from evnetd.ocpp.transfer import write_atomically

log = logging.getLogger(__name__)

CENTRAL_SYSTEM_ROOT = CertificateUse.central_system_root_certificate.value
MANUFACTURER_ROOT = CertificateUse.manufacturer_root_certificate.value
DEFAULT_STORE_MAX_LENGTH = 10
# Security WP A00.FR.318: the ECDHE-ECDSA and RSA AES-GCM suites for TLS 1.2; TLS 1.3 suites are all AEAD.
_TLS12_CIPHERS = "ECDHE+AESGCM:AES128-GCM-SHA256:AES256-GCM-SHA384"
_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    HashAlgorithm.sha256.value: hashlib.sha256,
    HashAlgorithm.sha384.value: hashlib.sha384,
    HashAlgorithm.sha512.value: hashlib.sha512,
}


class CertificateError(Exception):
    """Base of the store's errors."""


class InvalidCertificate(CertificateError):
    """Not a usable certificate: unparsable, out of its validity period, not a CA, or not chaining to a root."""


class MissingCertificate(CertificateError):
    """A TLS context was asked for a security profile whose certificates are not installed."""


@dataclass(frozen=True)
class Outcome:
    """The status for the .conf, and the security event to log and push, if any."""

    status: str
    security_event: str | None = None


def _der_next(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """The DER item at ``offset``: (tag, contents, offset after it)."""
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, data[start : start + length], start + length


def _subject_public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents, as RFC 6960 hashes them, straight from the TBS."""
    _, tbs, _ = _der_next(cert.tbs_certificate_bytes, 0)
    tag, _, offset = _der_next(tbs, 0)
    if tag != 0xA0:  # no explicit [0] version: the serial number comes first
        offset = 0
    for _ in range(5):  # serialNumber, signature, issuer, validity, subject
        _, _, offset = _der_next(tbs, offset)
    _, spki, _ = _der_next(tbs, offset)
    _, _, offset = _der_next(spki, 0)  # the algorithm identifier
    _, bits, _ = _der_next(spki, offset)
    return bits[1:]  # the first byte counts the unused bits


def certificate_hash_data(
    cert: x509.Certificate, issuer: x509.Certificate | None = None, algorithm: str = HashAlgorithm.sha256.value
) -> CertificateHashData:
    """The OCPP CertificateHashData of ``cert``; ``issuer`` defaults to ``cert`` itself (a root)."""
    digest = _HASHES[algorithm]
    issuer = issuer or cert
    return CertificateHashData(
        hash_algorithm=HashAlgorithm(algorithm),
        issuer_name_hash=digest(cert.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=digest(_subject_public_key_bits(issuer)).hexdigest(),
        serial_number=format(cert.serial_number, "x"),
    )


def _same_certificate(cert: x509.Certificate, wanted: CertificateHashData) -> bool:
    algorithm = str(wanted.hash_algorithm)
    if algorithm not in _HASHES:
        return False
    mine = certificate_hash_data(cert, algorithm=algorithm)
    return bool(
        mine.issuer_name_hash == wanted.issuer_name_hash.lower()
        and mine.issuer_key_hash == wanted.issuer_key_hash.lower()
        and mine.serial_number == (wanted.serial_number.lower().lstrip("0") or "0")
    )


def _hash_data(value: CertificateHashData | Mapping[str, str]) -> CertificateHashData:
    """Accept the dataclass or the snake_case dict the ``ocpp`` library hands to a handler."""
    if isinstance(value, CertificateHashData):
        return value
    return CertificateHashData(
        hash_algorithm=HashAlgorithm(value["hash_algorithm"]),
        issuer_name_hash=value["issuer_name_hash"],
        issuer_key_hash=value["issuer_key_hash"],
        serial_number=value["serial_number"],
    )


def _parse_chain(pem: str) -> list[x509.Certificate]:
    """All certificates of ``pem``, at least one, else :class:`InvalidCertificate`."""
    try:
        chain = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise InvalidCertificate(f"not a PEM X.509 certificate: {exc}") from exc
    return chain


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def _check_period(cert: x509.Certificate, now: datetime) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise InvalidCertificate(
            f"{_describe(cert)} is valid from {cert.not_valid_before_utc} to {cert.not_valid_after_utc}, not at {now}"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if not _is_ca(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_chain(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], now: datetime) -> None:
    """Check that ``chain[0]`` chains to one of ``roots`` through ``chain[1:]`` (any order), all in their periods.

    Raises :class:`InvalidCertificate` naming the first problem.
    """
    current, pool = chain[0], list(chain[1:])
    while True:
        _check_period(current, now)
        root = next((r for r in roots if _issued_by(current, r)), None)
        if root is not None:
            _check_period(root, now)
            return
        issuer = next((c for c in pool if _issued_by(current, c)), None)
        if issuer is None:
            raise InvalidCertificate(f"{_describe(current)} does not chain to an installed root")
        pool.remove(issuer)
        current = issuer


def _check_root(chain: list[x509.Certificate], now: datetime) -> x509.Certificate:
    if len(chain) != 1:
        raise InvalidCertificate(f"expected one certificate, got {len(chain)}")
    cert = chain[0]
    _check_period(cert, now)
    if not _issued_by(cert, cert):
        raise InvalidCertificate(f"{_describe(cert)} is not a self-signed CA certificate")
    return cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _public_key_der(key: ec.EllipticCurvePrivateKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class CertificateStore:
    """The certificate directory described in the module docstring."""

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.directory = directory
        self._clock = clock
        self._charge_point = directory / "ChargePointCertificate.pem"
        self._csr_key = directory / "csr-key.pem"

    # Roots: InstallCertificate, GetInstalledCertificateIds, DeleteCertificate

    def roots(self, use: str) -> list[x509.Certificate]:
        """The installed roots of ``use`` (a CertificateUse value)."""
        return [cert for _, cert in self._entries(use)]

    def install(self, use: str, pem: str, *, max_length: int = DEFAULT_STORE_MAX_LENGTH) -> Outcome:
        """InstallCertificate: Accepted, Rejected (+ InvalidCentralSystemCertificate for a CS root) or Failed.

        ``max_length`` is CertificateStoreMaxLength, counted over both kinds of root. Installing a
        root that is already there is Accepted and changes nothing.
        """
        try:
            cert = _check_root(_parse_chain(pem), self._clock())
        except InvalidCertificate as exc:
            log.warning("InstallCertificate(%s) rejected: %s", use, exc)
            event = "InvalidCentralSystemCertificate" if use == CENTRAL_SYSTEM_ROOT else None
            return Outcome(CertificateStatus.rejected, event)
        path = self.directory / use / f"{cert.fingerprint(hashes.SHA256()).hex()}.pem"
        if path.exists():
            return Outcome(CertificateStatus.accepted)
        if sum(len(self._entries(kind)) for kind in CertificateUse) >= max_length:
            log.warning("InstallCertificate(%s) failed: the store holds %d certificates already", use, max_length)
            return Outcome(CertificateStatus.failed)
        write_atomically(path, _pem(cert).encode())
        log.info("installed %s %s", use, _describe(cert))
        return Outcome(CertificateStatus.accepted)

    def installed_ids(self, use: str) -> tuple[str, list[CertificateHashData]]:
        """GetInstalledCertificateIds: (Accepted, hash data) or (NotFound, [])."""
        found = [certificate_hash_data(cert) for cert in self.roots(use)]
        return (GetInstalledCertificateStatus.accepted if found else GetInstalledCertificateStatus.not_found), found

    def delete(self, hash_data: CertificateHashData | Mapping[str, str], *, security_profile: int) -> str:
        """DeleteCertificate: Accepted, NotFound, or Failed for the last CS root while the profile needs TLS."""
        wanted = _hash_data(hash_data)
        for use in CertificateUse:
            entries = self._entries(use)
            for path, cert in entries:
                if not _same_certificate(cert, wanted):
                    continue
                if use == CENTRAL_SYSTEM_ROOT and security_profile >= 2 and len(entries) == 1:
                    log.warning(
                        "DeleteCertificate refused: the last CS root, needed by security profile %d", security_profile
                    )
                    return str(DeleteCertificateStatus.failed)
                path.unlink()
                log.info("deleted %s %s", use, _describe(cert))
                return str(DeleteCertificateStatus.accepted)
        return str(DeleteCertificateStatus.not_found)

    def _entries(self, use: str) -> list[tuple[Path, x509.Certificate]]:
        folder = self.directory / use
        if not folder.is_dir():
            return []
        entries = []
        for path in sorted(folder.glob("*.pem")):
            try:
                entries.append((path, x509.load_pem_x509_certificate(path.read_bytes())))
            except ValueError:
                log.error("ignoring unreadable certificate %s", path)
        return entries

    # Firmware signing certificates (SignedUpdateFirmware)

    def verify_signing_certificate(self, pem: str) -> x509.Certificate:
        """The firmware signing certificate of ``pem`` once it chains to a ManufacturerRootCertificate.

        Raises :class:`InvalidCertificate`.
        """
        chain = _parse_chain(pem)
        roots = self.roots(MANUFACTURER_ROOT)
        if not roots:
            raise InvalidCertificate("no ManufacturerRootCertificate is installed")
        verify_chain(chain, roots, self._clock())
        return chain[0]

    # Our own certificate: SignCertificate, CertificateSigned

    def make_csr(self, serial: str, cpo_name: str) -> str:
        """A PEM CSR (CN = ``serial``, O = ``cpo_name``) for a fresh EC P-256 key, kept until CertificateSigned."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, serial), x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomically(self._csr_key, key_pem, mode=0o600)
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def certificate_signed(self, chain_pem: str, *, max_chain_size: int) -> Outcome:
        """CertificateSigned: Accepted (installed with the CSR's key) or Rejected + InvalidChargePointCertificate.

        ``max_chain_size`` is CertificateSignedMaxChainSize in characters (0: no limit).
        """
        try:
            self._install_charge_point_certificate(chain_pem, max_chain_size)
        except InvalidCertificate as exc:
            log.warning("CertificateSigned rejected: %s", exc)
            return Outcome(CertificateSignedStatus.rejected, "InvalidChargePointCertificate")
        return Outcome(CertificateSignedStatus.accepted)

    def has_charge_point_certificate(self) -> bool:
        """Whether security profile 3 has its client certificate."""
        return self._charge_point.exists()

    def _install_charge_point_certificate(self, chain_pem: str, max_chain_size: int) -> None:
        if max_chain_size and len(chain_pem) > max_chain_size:
            raise InvalidCertificate(f"{len(chain_pem)} characters, CertificateSignedMaxChainSize is {max_chain_size}")
        chain = _parse_chain(chain_pem)
        key = self._pending_key()
        if _public_key_der(chain[0]) != _public_key_der(key):
            raise InvalidCertificate(f"{_describe(chain[0])} is not for the key of our last CSR")
        verify_chain(chain, self.roots(CENTRAL_SYSTEM_ROOT), self._clock())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomically(self._charge_point, "".join(map(_pem, chain)).encode() + key_pem, mode=0o600)
        self._csr_key.unlink()
        log.info("installed the charge point certificate %s", _describe(chain[0]))

    def _pending_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self._csr_key.read_bytes(), password=None)
        except FileNotFoundError as exc:
            raise InvalidCertificate("no CSR is pending") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidCertificate(f"the pending key {self._csr_key} is not an EC key")
        return key

    # TLS for the websocket

    def ssl_context(self, profile: int) -> ssl.SSLContext | None:
        """The client TLS context for security ``profile``: None for 0 and 1 (plain ws://).

        Profiles 2 and 3: TLS 1.2 or newer, the CSMS verified against the installed CS roots with
        its host name checked; profile 3 also presents our certificate. Raises
        :class:`MissingCertificate` when those are not installed, ValueError for an unknown profile.
        """
        if profile not in (0, 1, 2, 3):
            raise ValueError(f"no security profile {profile}")
        if profile < 2:
            return None
        roots = self.roots(CENTRAL_SYSTEM_ROOT)
        if not roots:
            raise MissingCertificate(f"security profile {profile} needs a CentralSystemRootCertificate")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(_TLS12_CIPHERS)
        context.load_verify_locations(cadata="".join(map(_pem, roots)))
        if profile == 3:
            if not self.has_charge_point_certificate():
                raise MissingCertificate("security profile 3 needs a charge point certificate")
            context.load_cert_chain(os.fspath(self._charge_point))
        return context
