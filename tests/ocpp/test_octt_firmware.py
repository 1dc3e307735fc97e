"""Firmware Management and diagnostics through the real service (OCTT TC_044, TC_045, TC_054
status triggers): files come from and go to a local HTTP server, the installer is a script.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.ocpp.conftest import Charger
from tests.ocpp.csms import Csms
from tests.ocpp.test_transfer import FileServer, serving

pytestmark = pytest.mark.integration


def _statuses(csms: Csms, action: str, after: int) -> list[str]:
    return [f.payload["status"] for f in csms.sent(action, after=after)]


def _wait_statuses(csms: Csms, action: str, after: int, last: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _statuses(csms, action, after)
        if seen and seen[-1] == last:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{action}: {_statuses(csms, action, after)}, never {last}")


def _charger(tmp_path: Path, csms: Csms, exit_status: int) -> Charger:
    installer = tmp_path / "install.sh"
    installer.write_text(f'#!/bin/sh\ncp "$1" "{tmp_path}/installed.bin"\nexit {exit_status}\n')
    installer.chmod(0o755)
    charger = Charger(tmp_path, csms, ocpp_settings=f'firmware_installer = ["{installer}", "{{file}}"]\n')
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
    return charger


def test_tc_044_1_download_and_install(tmp_path: Path, csms: Csms) -> None:
    charger = _charger(tmp_path, csms, 0)
    try:
        with serving(FileServer()) as files:
            files.files["/fw/evnet.deb"] = b"new firmware"
            mark = csms.mark()
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            assert csms.call(call.UpdateFirmware(location=files.url + "/fw/evnet.deb", retrieve_date=soon)) == {}
            seen = _wait_statuses(csms, "FirmwareStatusNotification", mark, "Installed")
        assert seen == ["Downloading", "Downloaded", "Installing", "Installed"]
        assert (tmp_path / "installed.bin").read_bytes() == b"new firmware"
        trigger = csms.mark()
        assert csms.call(call.TriggerMessage(requested_message="FirmwareStatusNotification"))["status"] == "Accepted"
        csms.wait_for("FirmwareStatusNotification", {"status": "Idle"}, after=trigger)
    finally:
        charger.stop()


def test_tc_044_2_download_failed_and_tc_044_3_installation_failed(tmp_path: Path, csms: Csms) -> None:
    charger = _charger(tmp_path, csms, 1)
    try:
        with serving(FileServer()) as files:
            files.files["/fw/evnet.deb"] = b"broken firmware"
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            mark = csms.mark()
            csms.call(call.UpdateFirmware(location=files.url + "/missing.deb", retrieve_date=now, retries=0))
            assert _wait_statuses(csms, "FirmwareStatusNotification", mark, "DownloadFailed") == [
                "Downloading", "DownloadFailed",
            ]  # fmt: skip
            mark = csms.mark()
            csms.call(call.UpdateFirmware(location=files.url + "/fw/evnet.deb", retrieve_date=now))
            seen = _wait_statuses(csms, "FirmwareStatusNotification", mark, "InstallationFailed")
        assert seen == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
        assert charger.status()["status"] == "Available"
    finally:
        charger.stop()


def test_tc_045_1_get_diagnostics_and_tc_045_2_upload_failed(charger: Charger, csms: Csms) -> None:
    with serving(FileServer()) as files:
        mark = csms.mark()
        answer = csms.call(call.GetDiagnostics(location=files.url + "/upload/"))
        name = answer["fileName"]
        assert name
        assert _wait_statuses(csms, "DiagnosticsStatusNotification", mark, "Uploaded") == ["Uploading", "Uploaded"]
        assert files.received[f"/upload/{name}"][:2] == b"\x1f\x8b"  # a gzip'd archive
    mark = csms.mark()
    csms.call(call.GetDiagnostics(location="http://127.0.0.1:9/nowhere/", retries=0))  # nothing listens there
    assert _wait_statuses(csms, "DiagnosticsStatusNotification", mark, "UploadFailed") == ["Uploading", "UploadFailed"]
