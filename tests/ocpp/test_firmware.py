"""UpdateFirmware and SignedUpdateFirmware: exact status sequences against a local HTTP server and a shell installer."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from evnetd.ocpp.certificates import MANUFACTURER_ROOT, CertificateStore
from evnetd.ocpp.firmware import (
    MARKER_NAME,
    FirmwareSetup,
    FirmwareUpdater,
    PendingStatus,
    PlainRequest,
    SignedRequest,
    clear_pending_after_reboot,
    pending_after_reboot,
    signed_update_firmware,
    update_firmware,
)
from tests.ocpp.test_certificates import PrivateKey, ec_key, issue, make_root, pem, rsa_key
from tests.ocpp.test_transfer import FileServer, serving

IMAGE = b"EVNET firmware 2.0\n" * 5000
PAST = datetime(2020, 1, 1, tzinfo=UTC)
PLAIN_OK = ["Downloading", "Downloaded", "Installing", "Installed"]


@dataclass
class Rig:
    """The injected world of one test: what was reported, installed, rebooted, logged."""

    tmp_path: Path
    server: FileServer
    store: CertificateStore
    statuses: list[str] = field(default_factory=list)
    events: list[tuple[str, str | None]] = field(default_factory=list)
    reboots: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()
        self.installer("exit 0")

    @property
    def state_dir(self) -> Path:
        return self.tmp_path / "state"

    @property
    def installed(self) -> Path:
        return self.tmp_path / "installed.bin"

    def installer(self, tail: str) -> None:
        script = self.tmp_path / "install-firmware"
        script.write_text(
            f'#!/bin/sh\ncp "$1" "{self.installed}"\necho "$1" > "{self.tmp_path}/installer-arg"\n{tail}\n'
        )
        script.chmod(0o755)

    def url(self, path: str = "/fw/evnet-2.0.deb") -> str:
        return f"{self.server.url}{path}"

    async def report(self, status: str) -> None:
        self.statuses.append(status)

    async def security_event(self, kind: str, tech_info: str | None) -> None:
        self.events.append((kind, tech_info))

    async def wait_until_idle(self) -> None:
        await self.idle.wait()

    async def reboot(self) -> None:
        self.reboots += 1

    @property
    def setup(self) -> FirmwareSetup:
        return FirmwareSetup(
            download_dir=self.tmp_path / "download",
            state_dir=self.state_dir,
            installer=[str(self.tmp_path / "install-firmware"), "{file}"],
            wait_until_idle=self.wait_until_idle,
            reboot=self.reboot,
            security_event=self.security_event,
            certificates=self.store,
            download_timeout=5,
        )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with serving(FileServer()) as server:
        server.files["/fw/evnet-2.0.deb"] = IMAGE
        yield Rig(tmp_path, server, CertificateStore(tmp_path / "certs"))


def plain(rig: Rig, **kwargs: Any) -> PlainRequest:
    return PlainRequest(**{"location": rig.url(), "retrieve_date": PAST, **kwargs})


# Plain UpdateFirmware


async def test_download_and_install(rig: Rig) -> None:
    await update_firmware(plain(rig), rig.report, rig.setup)
    assert rig.statuses == PLAIN_OK
    assert rig.installed.read_bytes() == IMAGE
    assert (rig.tmp_path / "installer-arg").read_text().strip().endswith("-evnet-2.0.deb")
    assert rig.events == [("FirmwareUpdated", None)]
    assert list((rig.tmp_path / "download").iterdir()) == []
    assert pending_after_reboot(rig.state_dir) == []


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (2, 3)])
async def test_download_failed_once_per_attempt_then_nothing(rig: Rig, retries: int, attempts: int) -> None:
    request = plain(rig, location=rig.url("/missing.deb"), retries=retries, retry_interval=0.1)
    started = time.monotonic()
    await update_firmware(request, rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "DownloadFailed"] * attempts
    assert time.monotonic() - started >= 0.1 * retries
    assert not rig.installed.exists()


async def test_a_retry_that_succeeds(rig: Rig) -> None:
    rig.server.fail[("GET", "/fw/evnet-2.0.deb")] = 500

    async def report(status: str) -> None:
        rig.statuses.append(status)
        if status == "DownloadFailed":
            rig.server.fail.clear()

    await update_firmware(plain(rig, retries=2, retry_interval=0.01), report, rig.setup)
    assert rig.statuses == ["Downloading", "DownloadFailed", *PLAIN_OK]


@pytest.mark.parametrize("tail", ["exit 1", "exit 3"])
async def test_installation_failed(rig: Rig, tail: str) -> None:
    rig.installer(tail)
    await update_firmware(plain(rig), rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert rig.events == []
    assert pending_after_reboot(rig.state_dir) == []


async def test_a_missing_installer_is_an_installation_failure(rig: Rig) -> None:
    setup = replace(rig.setup, installer=[str(rig.tmp_path / "no-such-installer"), "{file}"])
    await update_firmware(plain(rig), rig.report, setup)
    assert rig.statuses[-1] == "InstallationFailed"


async def test_an_installer_that_hangs_is_killed(rig: Rig) -> None:
    rig.installer("exec sleep 30")
    started = time.monotonic()
    await update_firmware(plain(rig), rig.report, replace(rig.setup, install_timeout=0.5))
    assert rig.statuses[-1] == "InstallationFailed"
    assert time.monotonic() - started < 10


async def test_install_waits_until_no_ev_charges(rig: Rig) -> None:
    rig.idle.clear()
    task = asyncio.create_task(update_firmware(plain(rig), rig.report, rig.setup))
    await asyncio.sleep(0.3)
    assert rig.statuses == ["Downloading", "Downloaded"]
    assert not rig.installed.exists()
    rig.idle.set()
    await task
    assert rig.statuses == PLAIN_OK


async def test_download_starts_at_the_retrieve_date(rig: Rig) -> None:
    started = time.monotonic()
    await update_firmware(plain(rig, retrieve_date=datetime.now(UTC) + timedelta(seconds=0.4)), rig.report, rig.setup)
    assert time.monotonic() - started >= 0.35
    assert rig.statuses == PLAIN_OK


async def test_installed_is_reported_after_the_reboot(rig: Rig) -> None:
    rig.installer("exit 10")
    await update_firmware(plain(rig), rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "Downloaded", "Installing"]
    assert rig.reboots == 1
    assert json.loads((rig.state_dir / MARKER_NAME).read_text())["phase"] == "rebooting"
    # the next start of the daemon:
    assert pending_after_reboot(rig.state_dir) == [PendingStatus(signed=False, status="Installed", request_id=None)]
    clear_pending_after_reboot(rig.state_dir)
    assert pending_after_reboot(rig.state_dir) == []


def test_an_unreadable_marker_is_ignored(tmp_path: Path) -> None:
    (tmp_path / MARKER_NAME).write_text("{not json")
    assert pending_after_reboot(tmp_path) == []


# Signed firmware


@dataclass
class Signer:
    certificate: x509.Certificate
    key: PrivateKey

    def sign(self, data: bytes, scheme: str = "default") -> str:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        elif scheme == "pkcs1":
            signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
            signature = self.key.sign(data, pss, hashes.SHA256())
        return base64.b64encode(signature).decode()


def manufacturer(store: CertificateStore, key: PrivateKey | None = None) -> Signer:
    """A manufacturer root installed in ``store`` and a signing certificate it issued."""
    root, root_key = make_root("EVNET Manufacturer Root")
    assert store.install(MANUFACTURER_ROOT, pem(root)).status == "Accepted"
    key = key or ec_key()
    return Signer(issue("EVNET Firmware Signing", key.public_key(), root, root_key), key)


def signed(rig: Rig, signer: Signer, **kwargs: Any) -> SignedRequest:
    fields: dict[str, Any] = {
        "request_id": 7,
        "location": rig.url(),
        "retrieve_date": PAST,
        "signing_certificate": pem(signer.certificate),
        "signature": signer.sign(IMAGE),
        **kwargs,
    }
    return SignedRequest(**fields)


SIGNED_OK = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]


@pytest.mark.parametrize(
    ("key", "scheme"), [(ec_key, "default"), (rsa_key, "pss"), (rsa_key, "pkcs1")], ids=["ecdsa", "rsa-pss", "pkcs1"]
)
async def test_signed_update(rig: Rig, key: Any, scheme: str) -> None:
    signer = manufacturer(rig.store, key())
    updater = FirmwareUpdater(rig.setup)
    request = signed(rig, signer, signature=signer.sign(IMAGE, scheme))
    assert await updater.start_signed(request, rig.report) == "Accepted"
    assert updater.request_id == 7
    await updater.wait()
    assert rig.statuses == SIGNED_OK
    assert rig.installed.read_bytes() == IMAGE
    assert rig.events == [("FirmwareUpdated", None)]
    assert updater.status == "Idle"


@pytest.mark.parametrize("signature", ["tampered", "not base64!", ""])
async def test_invalid_signature(rig: Rig, signature: str) -> None:
    signer = manufacturer(rig.store, rsa_key())
    text = signer.sign(IMAGE + b"tampered") if signature == "tampered" else signature
    await signed_update_firmware(signed(rig, signer, signature=text), signer.certificate, rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "Downloaded", "InvalidSignature"]
    assert [kind for kind, _ in rig.events] == ["InvalidFirmwareSignature"]
    assert not rig.installed.exists()
    assert list((rig.tmp_path / "download").iterdir()) == []


async def test_signing_certificate_from_another_root_is_refused_before_anything(rig: Rig) -> None:
    manufacturer(rig.store)
    stranger_root, stranger_key = make_root("Somebody")
    key = ec_key()
    stranger = Signer(issue("Fake Signing", key.public_key(), stranger_root, stranger_key), key)
    updater = FirmwareUpdater(rig.setup)
    assert await updater.start_signed(signed(rig, stranger), rig.report) == "InvalidCertificate"
    assert not updater.busy
    assert rig.statuses == []
    assert [kind for kind, _ in rig.events] == ["InvalidFirmwareSigningCertificate"]


async def test_signing_certificate_without_manufacturer_roots_or_as_garbage(rig: Rig) -> None:
    key = ec_key()
    signer = Signer(issue("Self", key.public_key(), None, key), key)
    updater = FirmwareUpdater(rig.setup)
    assert await updater.start_signed(signed(rig, signer), rig.report) == "InvalidCertificate"
    request = replace(signed(rig, signer), signing_certificate="garbage")
    assert await updater.start_signed(request, rig.report) == "InvalidCertificate"


async def test_signed_scheduled_download_and_install(rig: Rig) -> None:
    signer = manufacturer(rig.store)
    now = datetime.now(UTC)
    request = signed(rig, signer, retrieve_date=now + timedelta(seconds=0.2), install_date=now + timedelta(seconds=0.4))
    await signed_update_firmware(request, signer.certificate, rig.report, rig.setup)
    expected = ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"]
    assert rig.statuses == [*expected, "Installing", "Installed"]


async def test_signed_download_failures(rig: Rig) -> None:
    signer = manufacturer(rig.store)
    request = signed(rig, signer, location=rig.url("/missing"), retries=2, retry_interval=0.01)
    await signed_update_firmware(request, signer.certificate, rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "DownloadFailed"] * 3


async def test_signed_reboot_then_installed_with_the_request_id(rig: Rig) -> None:
    signer = manufacturer(rig.store)
    rig.installer("exit 10")
    await signed_update_firmware(signed(rig, signer), signer.certificate, rig.report, rig.setup)
    assert rig.statuses == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    assert rig.reboots == 1
    assert pending_after_reboot(rig.state_dir) == [PendingStatus(signed=True, status="Installed", request_id=7)]


# One update at a time


async def test_a_new_request_cancels_the_running_download(rig: Rig) -> None:
    signer = manufacturer(rig.store)
    rig.server.slow.add("/slow.deb")
    first: list[str] = []
    updater = FirmwareUpdater(rig.setup)

    async def report_first(status: str) -> None:
        first.append(status)

    assert await updater.start_signed(signed(rig, signer, request_id=1, location=rig.url("/slow.deb")), report_first)
    await asyncio.sleep(0.3)
    assert updater.status == "Downloading" and updater.request_id == 1
    assert await updater.start_signed(signed(rig, signer, request_id=2), rig.report) == "AcceptedCanceled"
    await updater.wait()
    assert first == ["Downloading"]
    assert rig.statuses == SIGNED_OK
    assert updater.request_id == 2
    leftovers = [p.name for p in (rig.tmp_path / "download").iterdir()]
    for _ in range(100):  # the cancelled download's thread removes its partial file within a chunk
        if not leftovers:
            break
        await asyncio.sleep(0.02)
        leftovers = [p.name for p in (rig.tmp_path / "download").iterdir()]
    assert leftovers == []


async def test_a_running_installation_is_not_interrupted(rig: Rig) -> None:
    signer = manufacturer(rig.store)
    rig.installer("exec sleep 30")
    updater = FirmwareUpdater(rig.setup)
    assert await updater.start_plain(plain(rig), rig.report)
    for _ in range(200):
        if updater.installing:
            break
        await asyncio.sleep(0.02)
    assert updater.status == "Installing"
    assert await updater.start_signed(signed(rig, signer), rig.report) == "Rejected"
    assert not await updater.start_plain(plain(rig), rig.report)
    # shutting down mid-install kills the installer; the next start reports the failure
    assert await updater.cancel()
    assert pending_after_reboot(rig.state_dir) == [PendingStatus(False, "InstallationFailed", None)]
    assert not await updater.cancel()


async def test_plain_request_replaces_a_waiting_one(rig: Rig) -> None:
    updater = FirmwareUpdater(rig.setup)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await updater.start_plain(plain(rig, retrieve_date=later), rig.report)
    assert updater.busy and updater.status == "Idle"
    assert await updater.start_plain(plain(rig), rig.report)
    await updater.wait()
    assert rig.statuses == PLAIN_OK


def test_requests_from_the_handler_arguments() -> None:
    assert PlainRequest.from_ocpp("ftp://h/f.bin", "2025-01-02T03:04:05Z", 2, 30) == PlainRequest(
        "ftp://h/f.bin", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), 2, 30.0
    )
    firmware = {
        "location": "https://h/f.bin",
        "retrieve_date_time": "2025-01-02T03:04:05.123+01:00",
        "install_date_time": "2025-01-02T04:00:00Z",
        "signing_certificate": "PEM",
        "signature": "c2ln",
    }
    request = SignedRequest.from_ocpp(request_id=9, firmware=firmware)
    assert request.retrieve_date == datetime(2025, 1, 2, 2, 4, 5, 123000, tzinfo=UTC)
    assert request.install_date == datetime(2025, 1, 2, 4, 0, tzinfo=UTC)
    assert (request.request_id, request.retries, request.retry_interval, request.signature) == (9, 0, 0.0, "c2ln")
