"""Firmware updates: OCPP 1.6 UpdateFirmware (§5.19) and SignedUpdateFirmware (Security WP, L01).

The procedures are coroutines with their I/O injected, so that the OCPP daemon only wires them to
its ``@on`` handlers and queues the statuses they report:

* plain: Downloading → DownloadFailed, once per attempt; or Downloading → Downloaded, then
  Installing → Installed | InstallationFailed;
* signed: DownloadScheduled (if retrieveDateTime is ahead), then as plain up to Downloaded, then
  SignatureVerified | InvalidSignature, InstallScheduled (if installDateTime is ahead), Installing,
  InstallRebooting (if the installer asks for a reboot), Installed | InstallationFailed.

``retries`` counts the retries after the first attempt (errata 3.50): 2 means three downloads.

Installing is delegated to a command (``installer``, ``{file}`` replaced by the image path): a .deb
on Debian, a bundle on Yocto. Its exit status is the contract: 0 installed and running,
:data:`EXIT_REBOOT_REQUIRED` installed but active only after a reboot, anything else failed. The
installer runs only once ``wait_until_idle`` returns, i.e. when no EV is charging (§5.19: do not
interrupt a session). Because Installed must follow the reboot, a small JSON marker is written to the
state directory before the installer runs; :func:`pending_after_reboot` turns it into the status to
send once the daemon is connected again: Installed after a requested reboot, InstallationFailed if
the marker still says "installing" (power lost or daemon killed mid-install).

A signed image is accepted only with a signing certificate that chains to an installed
ManufacturerRootCertificate (checked before the request is answered: InvalidCertificate), and a
signature over the whole file that the certificate's key verifies. The whitepaper names RSA-PSS
(or ECSchnorr) with SHA-256; in the field both PSS and PKCS#1 v1.5 RSA signatures and ECDSA ones
are produced by CSMS tool chains, so all three are accepted with SHA-256, and for PSS any salt
length: the certificate chain, not the padding, is what carries the trust.

:class:`FirmwareUpdater` holds the one running update: a new request cancels it (AcceptedCanceled),
except while the installer runs, which is never interrupted (the new request is refused).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import re
import ssl
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from ocpp.v16.enums import FirmwareStatus, UpdateFirmwareStatus

from evnetd.ocpp import transfer
from evnetd.ocpp.certificates import CertificateStore, InvalidCertificate
from evnetd.ocpp.jobs import BackgroundJob, Report
from evnetd.ocpp.timestamps import parse_optional_time, parse_time, utc_now
from evnetd.ocpp.transfer import TransferError, write_atomically

log = logging.getLogger(__name__)

SecurityEventSink = Callable[[str, str | None], Awaitable[None]]

EXIT_REBOOT_REQUIRED = 10
MARKER_NAME = "firmware-pending.json"
DEFAULT_INSTALL_TIMEOUT = 1800.0
_INSTALLING = frozenset({str(FirmwareStatus.installing), str(FirmwareStatus.install_rebooting)})
_OUTPUT_TAIL = 2000


class InvalidFirmwareSignature(Exception):
    """The signature is not valid base64, or the signing key does not verify it over the image."""


@dataclass(frozen=True)
class PlainRequest:
    """UpdateFirmware.req."""

    location: str
    retrieve_date: datetime
    retries: int = 0
    retry_interval: float = 0.0

    @classmethod
    def from_ocpp(
        cls, location: str, retrieve_date: str, retries: int | None = None, retry_interval: int | None = None
    ) -> PlainRequest:
        """From the keyword arguments the ``ocpp`` library passes to the handler."""
        return cls(location, parse_time(retrieve_date), retries or 0, float(retry_interval or 0))


@dataclass(frozen=True)
class SignedRequest:
    """SignedUpdateFirmware.req."""

    request_id: int
    location: str
    retrieve_date: datetime
    signing_certificate: str
    signature: str
    install_date: datetime | None = None
    retries: int = 0
    retry_interval: float = 0.0

    @classmethod
    def from_ocpp(
        cls,
        request_id: int,
        firmware: Mapping[str, str],
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> SignedRequest:
        """From the handler's keyword arguments (``firmware`` is the snake_case dict the library passes)."""
        return cls(
            request_id=request_id,
            location=firmware["location"],
            retrieve_date=parse_time(firmware["retrieve_date_time"]),
            signing_certificate=firmware["signing_certificate"],
            signature=firmware.get("signature") or "",
            install_date=parse_optional_time(firmware.get("install_date_time")),
            retries=retries or 0,
            retry_interval=float(retry_interval or 0),
        )


@dataclass(frozen=True)
class FirmwareSetup:
    """What the procedures need from the charger: directories, the installer and the callbacks."""

    download_dir: Path
    state_dir: Path
    installer: Sequence[str]
    wait_until_idle: Callable[[], Awaitable[None]]
    reboot: Callable[[], Awaitable[None]]
    security_event: SecurityEventSink
    certificates: CertificateStore
    download_timeout: float = transfer.DEFAULT_TIMEOUT
    max_bytes: int = transfer.DEFAULT_MAX_BYTES
    install_timeout: float = DEFAULT_INSTALL_TIMEOUT
    ssl_context: ssl.SSLContext | None = None
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass(frozen=True)
class PendingStatus:
    """A status owed to the CSMS from before a restart (send it once connected)."""

    signed: bool
    status: str
    request_id: int | None = None


# Signature


def _sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as image:
        while chunk := image.read(1024 * 1024):
            digest.update(chunk)
    return digest.digest()


def verify_signature(image: Path, certificate: x509.Certificate, signature: str) -> None:
    """Check ``signature`` (base64) over the whole ``image`` with the certificate's key.

    RSA: PSS (any salt length) or PKCS#1 v1.5; EC: ECDSA; always SHA-256 (see the module docstring).
    Raises :class:`InvalidFirmwareSignature`.
    """
    try:
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidFirmwareSignature(f"the signature is not base64: {exc}") from exc
    digest = _sha256_file(image)
    key = certificate.public_key()
    prehashed = Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        for scheme in (pss, padding.PKCS1v15()):
            with contextlib.suppress(InvalidSignature):
                key.verify(raw, digest, scheme, prehashed)
                return
    elif isinstance(key, ec.EllipticCurvePublicKey):
        with contextlib.suppress(InvalidSignature):
            key.verify(raw, digest, ec.ECDSA(prehashed))
            return
    else:
        raise InvalidFirmwareSignature(f"unsupported signing key {type(key).__name__}")
    raise InvalidFirmwareSignature(
        f"the signature does not verify with the key of {certificate.subject.rfc4514_string()}"
    )


# The steps


async def _sleep_until(moment: datetime, clock: Callable[[], datetime]) -> None:
    delay = (moment - clock()).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


def _fresh_image_path(download_dir: Path, location: str) -> Path:
    """A new name in the emptied download directory, keeping the URL's file name (installers look at it).

    The name is unique so that a cancelled download whose thread renames its file a moment after
    the cancellation cannot replace the image of the request that followed.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    for stale in download_dir.iterdir():
        if stale.is_file():
            stale.unlink(missing_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(urllib.parse.urlsplit(location).path).name).lstrip(".")
    return download_dir / f"{uuid.uuid4().hex[:8]}-{name or 'firmware.bin'}"


async def _download(
    location: str, retries: int, retry_interval: float, report: Report, setup: FirmwareSetup
) -> Path | None:
    """The image, after 1 + ``retries`` attempts at most; None when every one failed."""
    image = _fresh_image_path(setup.download_dir, location)
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(retry_interval)
        await report(FirmwareStatus.downloading)
        try:
            size = await transfer.download(
                location,
                image,
                timeout=setup.download_timeout,
                max_bytes=setup.max_bytes,
                ssl_context=setup.ssl_context,
            )
        except TransferError as exc:
            log.warning("firmware download %d of %d failed: %s", attempt + 1, retries + 1, exc)
            await report(FirmwareStatus.download_failed)
            continue
        log.info("firmware downloaded: %s, %d bytes", image, size)
        await report(FirmwareStatus.downloaded)
        return image
    return None


async def _run_installer(command: Sequence[str], image: Path, timeout: float) -> int | None:
    """The installer's exit status; None when it could not be started or ran too long."""
    args = [part.replace("{file}", str(image)) for part in command]
    try:
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:
        log.error("cannot run the firmware installer %s: %s", args[0], exc)
        return None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        log.error("the firmware installer ran longer than %.0f s; killed", timeout)
        await _kill(process)
        return None
    except asyncio.CancelledError:
        await _kill(process)
        raise
    log.info("firmware installer exited %d: %s", process.returncode, output.decode(errors="replace")[-_OUTPUT_TAIL:])
    return process.returncode


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


def _marker(state_dir: Path) -> Path:
    return state_dir / MARKER_NAME


def _write_marker(state_dir: Path, phase: str, request_id: int | None) -> None:
    record = {"phase": phase, "signed": request_id is not None, "request_id": request_id}
    write_atomically(_marker(state_dir), json.dumps(record).encode())


async def _install(image: Path, report: Report, setup: FirmwareSetup, request_id: int | None) -> None:
    """Installing → Installed | InstallationFailed, or InstallRebooting (signed) and a reboot."""
    await report(FirmwareStatus.installing)
    _write_marker(setup.state_dir, "installing", request_id)
    try:
        code = await _run_installer(setup.installer, image, setup.install_timeout)
    finally:
        image.unlink(missing_ok=True)
    if code == EXIT_REBOOT_REQUIRED:
        _write_marker(setup.state_dir, "rebooting", request_id)
        if request_id is not None:
            await report(FirmwareStatus.install_rebooting)
        await setup.reboot()
        return
    _marker(setup.state_dir).unlink(missing_ok=True)
    if code == 0:
        await report(FirmwareStatus.installed)
        await setup.security_event("FirmwareUpdated", None)
    else:
        await report(FirmwareStatus.installation_failed)


# The procedures


async def update_firmware(request: PlainRequest, report: Report, setup: FirmwareSetup) -> None:
    """UpdateFirmware, from the wait for retrieveDate to Installed (or the reboot before it)."""
    await _sleep_until(request.retrieve_date, setup.clock)
    image = await _download(request.location, request.retries, request.retry_interval, report, setup)
    if image is None:
        return
    await setup.wait_until_idle()
    await _install(image, report, setup, request_id=None)


async def signed_update_firmware(
    request: SignedRequest, signing_certificate: x509.Certificate, report: Report, setup: FirmwareSetup
) -> None:
    """SignedUpdateFirmware after acceptance; ``signing_certificate`` as verified by the certificate store."""
    if request.retrieve_date > setup.clock():
        await report(FirmwareStatus.download_scheduled)
        await _sleep_until(request.retrieve_date, setup.clock)
    image = await _download(request.location, request.retries, request.retry_interval, report, setup)
    if image is None:
        return
    try:
        await asyncio.to_thread(verify_signature, image, signing_certificate, request.signature)
    except InvalidFirmwareSignature as exc:
        log.warning("firmware %s rejected: %s", image.name, exc)
        image.unlink(missing_ok=True)
        await report(FirmwareStatus.invalid_signature)
        await setup.security_event("InvalidFirmwareSignature", str(exc))
        return
    await report(FirmwareStatus.signature_verified)
    if request.install_date is not None and request.install_date > setup.clock():
        await report(FirmwareStatus.install_scheduled)
        await _sleep_until(request.install_date, setup.clock)
    await setup.wait_until_idle()
    await _install(image, report, setup, request_id=request.request_id)


def pending_after_reboot(state_dir: Path) -> list[PendingStatus]:
    """The firmware status owed from before the restart (at most one); clear it once queued.

    For an Installed status the caller also logs the FirmwareUpdated security event, which the
    procedure could not do before the reboot.
    """
    try:
        record = json.loads(_marker(state_dir).read_text(encoding="utf-8"))
        phase, signed, request_id = record["phase"], bool(record["signed"]), record.get("request_id")
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("unreadable firmware marker %s: %s", _marker(state_dir), exc)
        return []
    status = FirmwareStatus.installed if phase == "rebooting" else FirmwareStatus.installation_failed
    return [PendingStatus(signed, str(status), request_id)]


def clear_pending_after_reboot(state_dir: Path) -> None:
    """Forget the marker, once its status is in the durable queue."""
    _marker(state_dir).unlink(missing_ok=True)


class FirmwareUpdater:
    """The one firmware update in progress, plain or signed."""

    def __init__(self, setup: FirmwareSetup) -> None:
        self._setup = setup
        self._job = BackgroundJob("firmware-update")
        self.request_id: int | None = None

    @property
    def busy(self) -> bool:
        return self._job.running

    @property
    def status(self) -> str:
        """The last status reported, or Idle when no update runs (for TriggerMessage)."""
        return self._job.status

    @property
    def installing(self) -> bool:
        return self._job.status in _INSTALLING

    async def start_plain(self, request: PlainRequest, report: Report) -> bool:
        """Start UpdateFirmware, cancelling a running update; False (ignored) while one installs."""
        if self.installing:
            log.warning("UpdateFirmware ignored: an installation is running")
            return False
        await self.cancel()
        self._launch(update_firmware(request, self._job.tracked(report), self._setup), None)
        return True

    async def start_signed(self, request: SignedRequest, report: Report) -> str:
        """The SignedUpdateFirmware.conf status; the update runs on when it is Accepted or AcceptedCanceled."""
        try:
            certificate = self._setup.certificates.verify_signing_certificate(request.signing_certificate)
        except InvalidCertificate as exc:
            log.warning("SignedUpdateFirmware %d: %s", request.request_id, exc)
            await self._setup.security_event("InvalidFirmwareSigningCertificate", str(exc))
            return str(UpdateFirmwareStatus.invalid_certificate)
        if self.installing:
            log.warning("SignedUpdateFirmware %d rejected: an installation is running", request.request_id)
            return str(UpdateFirmwareStatus.rejected)
        canceled = await self.cancel()
        procedure = signed_update_firmware(request, certificate, self._job.tracked(report), self._setup)
        self._launch(procedure, request.request_id)
        return str(UpdateFirmwareStatus.accepted_canceled if canceled else UpdateFirmwareStatus.accepted)

    async def cancel(self) -> bool:
        """Stop the running update, if any (True); nothing more is reported for it."""
        return await self._job.cancel()

    async def wait(self) -> None:
        """Until the running update, if any, has ended."""
        await self._job.wait()

    def _launch(self, procedure: Coroutine[Any, Any, None], request_id: int | None) -> None:
        self.request_id = request_id
        self._job.launch(procedure)
