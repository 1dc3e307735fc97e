"""GetDiagnostics and GetLog: the files built, the exact status sequences, cancellation, failure mapping."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evnetd.ocpp.logs import DiagnosticsRequest, LogRequest, LogSetup, LogUploader, journal_command
from evnetd.ocpp.security import SecurityLog
from tests.ocpp.test_transfer import FileServer, ftp_site, serving

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
JOURNAL = "2025-03-01T10:00:01+00:00 cm4 evnet-charger[42]: state B\n"


@dataclass
class Rig:
    tmp_path: Path
    server: FileServer
    statuses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        logs = self.tmp_path / "logs"
        logs.mkdir()
        (logs / "charger.log").write_text("sim charger log\n")
        self.journalctl(f"printf '%s' '{JOURNAL}'")

    def journalctl(self, body: str) -> None:
        script = self.tmp_path / "journalctl"
        script.write_text(f'#!/bin/sh\necho "$@" > {self.tmp_path}/journal-args\n{body}\n')
        script.chmod(0o755)

    async def snapshot(self) -> Mapping[str, Any]:
        return {"connector": "Available", "energy_wh": 1234}

    async def report(self, status: str) -> None:
        self.statuses.append(status)

    @property
    def setup(self) -> LogSetup:
        return LogSetup(
            spool_dir=self.tmp_path / "spool",
            file_prefix="EVNET-0042",
            security_log=SecurityLog(self.tmp_path / "state" / "security.jsonl"),
            status_snapshot=self.snapshot,
            log_dir=self.tmp_path / "logs",
            journalctl=[str(self.tmp_path / "journalctl")],
            upload_timeout=5,
        )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with serving(FileServer()) as server:
        yield Rig(tmp_path, server)


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


# GetDiagnostics


async def test_diagnostics_with_the_journal(rig: Rig) -> None:
    uploader = LogUploader(rig.setup)
    request = DiagnosticsRequest(f"{rig.server.url}/diag/", start_time=T0, stop_time=T1)
    name = await uploader.start_diagnostics(request, rig.report)
    assert name is not None and name.startswith("EVNET-0042-diagnostics-") and name.endswith(".tar.gz")
    await uploader.wait()
    assert rig.statuses == ["Uploading", "Uploaded"]
    files = members(rig.server.received[f"/diag/{name}"])
    assert files["journal.log"].decode() == JOURNAL
    assert json.loads(files["status.json"]) == {"connector": "Available", "energy_wh": 1234}
    args = (rig.tmp_path / "journal-args").read_text()
    assert "-o short-iso" in args and "-u evnet-*" in args
    assert "--since 2025-03-01 10:00:00 UTC --until 2025-03-01 12:30:00 UTC" in args
    assert list((rig.tmp_path / "spool").iterdir()) == []
    assert uploader.diagnostics_status == "Idle"


@pytest.mark.parametrize("journal", ["missing", "fails", "empty"])
async def test_diagnostics_without_a_journal_take_the_log_directory(rig: Rig, journal: str) -> None:
    setup = rig.setup
    if journal == "missing":
        setup = replace(setup, journalctl=[str(rig.tmp_path / "no-journalctl")])
    else:
        rig.journalctl("exit 1" if journal == "fails" else "exit 0")
    uploader = LogUploader(setup)
    name = await uploader.start_diagnostics(DiagnosticsRequest(f"{rig.server.url}/"), rig.report)
    await uploader.wait()
    files = members(rig.server.received[f"/{name}"])
    assert set(files) == {"status.json", "logs/charger.log"}
    assert files["logs/charger.log"] == b"sim charger log\n"


async def test_diagnostics_upload_failed_once_per_attempt(rig: Rig) -> None:
    rig.server.fail[("PUT", "/diag")] = 500
    uploader = LogUploader(rig.setup)
    request = DiagnosticsRequest(f"{rig.server.url}/diag", retries=2, retry_interval=0.01)
    assert await uploader.start_diagnostics(request, rig.report)
    await uploader.wait()
    assert rig.statuses == ["Uploading", "UploadFailed"] * 3
    assert list((rig.tmp_path / "spool").iterdir()) == []


async def test_diagnostics_over_ftp(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> None:
    uploader = LogUploader(rig.setup)
    with ftp_site(tmp_path_factory.mktemp("ftp")) as site:
        name = await uploader.start_diagnostics(DiagnosticsRequest(site.url("")), rig.report)
        await uploader.wait()
    assert rig.statuses == ["Uploading", "Uploaded"]
    assert name is not None and "journal.log" in members((site.root / name).read_bytes())


async def test_no_file_no_upload(rig: Rig) -> None:
    (rig.tmp_path / "spool").write_text("a file where the spool directory should be")
    uploader = LogUploader(rig.setup)
    assert await uploader.start_diagnostics(DiagnosticsRequest(f"{rig.server.url}/"), rig.report) is None
    log_request = LogRequest(1, "SecurityLog", f"{rig.server.url}/")
    assert await uploader.start_log(log_request, rig.report) == ("Rejected", None)
    assert rig.statuses == []


# GetLog


async def test_security_log(rig: Rig) -> None:
    setup = rig.setup
    setup.security_log.record("StartupOfTheDevice")
    setup.security_log.record("SettingSystemTime", "from the CSMS")
    uploader = LogUploader(setup)
    status, name = await uploader.start_log(LogRequest(1, "SecurityLog", f"{rig.server.url}/logs/"), rig.report)
    assert status == "Accepted" and name is not None and name.endswith(".jsonl")
    assert uploader.log_request_id == 1
    await uploader.wait()
    assert rig.statuses == ["Uploading", "Uploaded"]
    lines = [json.loads(line) for line in rig.server.received[f"/logs/{name}"].decode().splitlines()]
    assert [line["type"] for line in lines] == ["StartupOfTheDevice", "SettingSystemTime"]


async def test_security_log_window(rig: Rig) -> None:
    setup = rig.setup
    setup.security_log.record("StartupOfTheDevice")
    uploader = LogUploader(setup)
    request = LogRequest(2, "SecurityLog", f"{rig.server.url}/", oldest=T0, latest=T1)  # long before now
    _, name = await uploader.start_log(request, rig.report)
    await uploader.wait()
    assert rig.server.received[f"/{name}"] == b""


async def test_diagnostics_log(rig: Rig) -> None:
    uploader = LogUploader(rig.setup)
    request = LogRequest(3, "DiagnosticsLog", f"{rig.server.url}/", oldest=T0)
    status, name = await uploader.start_log(request, rig.report)
    assert status == "Accepted" and name is not None and name.startswith("EVNET-0042-log-")
    await uploader.wait()
    assert rig.statuses == ["Uploading", "Uploaded"]
    assert set(members(rig.server.received[f"/{name}"])) == {"status.json", "journal.log"}
    assert "--since 2025-03-01 10:00:00 UTC" in (rig.tmp_path / "journal-args").read_text()


@pytest.mark.parametrize(
    ("location", "code", "status"),
    [
        ("{url}/denied", 403, "PermissionDenied"),
        ("{url}/broken", 500, "UploadFailure"),
        ("{url}/readonly", 501, "NotSupportedOperation"),
        ("sftp://csms.example/logs/", None, "NotSupportedOperation"),
        ("http://", None, "BadMessage"),
    ],
)
async def test_log_upload_failures_are_named(rig: Rig, location: str, code: int | None, status: str) -> None:
    if code:
        path = location.removeprefix("{url}")
        rig.server.fail[("PUT", path)] = code
        rig.server.fail[("POST", path)] = code
    uploader = LogUploader(rig.setup)
    await uploader.start_log(LogRequest(4, "SecurityLog", location.format(url=rig.server.url)), rig.report)
    await uploader.wait()
    assert rig.statuses == ["Uploading", status]


async def test_log_retries_against_an_unreachable_ftp_server(rig: Rig) -> None:
    with FileServer() as closed:
        port = closed.server_address[1]
    uploader = LogUploader(replace(rig.setup, upload_timeout=2))
    request = LogRequest(5, "SecurityLog", f"ftp://user:pass@127.0.0.1:{port}/", retries=2, retry_interval=0.01)
    await uploader.start_log(request, rig.report)
    await uploader.wait()
    assert rig.statuses == ["Uploading", "UploadFailure"] * 3


async def test_a_new_get_log_cancels_the_running_one(rig: Rig) -> None:
    rig.server.fail[("PUT", "/first")] = 500
    uploader = LogUploader(rig.setup)
    first: list[str] = []

    async def report_first(status: str) -> None:
        first.append(status)

    request = LogRequest(1, "SecurityLog", f"{rig.server.url}/first", retries=3, retry_interval=30)
    assert (await uploader.start_log(request, report_first))[0] == "Accepted"
    while first != ["Uploading", "UploadFailure"]:
        await asyncio.sleep(0.01)
    assert uploader.log_status == "UploadFailure"
    status, _ = await uploader.start_log(LogRequest(2, "SecurityLog", f"{rig.server.url}/second/"), rig.report)
    assert status == "AcceptedCanceled"
    await uploader.wait()
    assert first == ["Uploading", "UploadFailure"]
    assert rig.statuses == ["Uploading", "Uploaded"]
    assert uploader.log_request_id == 2 and uploader.log_status == "Idle"
    assert list((rig.tmp_path / "spool").iterdir()) == []


async def test_cancel_stops_both(rig: Rig) -> None:
    rig.server.fail[("PUT", "/x")] = 500
    uploader = LogUploader(rig.setup)
    await uploader.start_diagnostics(
        DiagnosticsRequest(f"{rig.server.url}/x", retries=1, retry_interval=30), rig.report
    )
    await uploader.start_log(
        LogRequest(1, "SecurityLog", f"{rig.server.url}/x", retries=1, retry_interval=30), rig.report
    )
    while len(rig.statuses) < 4:
        await asyncio.sleep(0.01)
    await uploader.cancel()
    assert uploader.diagnostics_status == uploader.log_status == "Idle"
    assert sorted(rig.statuses) == ["UploadFailed", "UploadFailure", "Uploading", "Uploading"]


def test_requests_from_the_handler_arguments() -> None:
    assert DiagnosticsRequest.from_ocpp(
        location="ftp://h/", retries=1, retry_interval=5, start_time="2025-03-01T10:00:00Z"
    ) == DiagnosticsRequest("ftp://h/", T0, None, 1, 5.0)
    log = {"remote_location": "https://h/", "oldest_timestamp": "2025-03-01T11:00:00+01:00"}
    assert LogRequest.from_ocpp(log=log, log_type="DiagnosticsLog", request_id=3) == LogRequest(
        3, "DiagnosticsLog", "https://h/", oldest=T0
    )


async def _no_status() -> Mapping[str, Any]:
    return {}


def test_journal_command_without_a_window(tmp_path: Path) -> None:
    setup = LogSetup(tmp_path, "cp", SecurityLog(tmp_path / "s"), _no_status, units=("a", "b"))
    assert journal_command(setup, None, None) == [
        "journalctl",
        "--no-pager",
        "--quiet",
        "--utc",
        "-o",
        "short-iso",
        "-n",
        "100000",
        "-u",
        "a",
        "-u",
        "b",
    ]
