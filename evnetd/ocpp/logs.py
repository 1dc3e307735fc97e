"""Sending logs to the CSMS: GetDiagnostics (OCPP 1.6 §5.9) and GetLog (Security WP, N01).

The file is built while the request is being answered, so the .conf can name a file that exists
(GetDiagnostics.conf carries no fileName when there is nothing to send; GetLog.conf is Rejected),
and the upload then runs in the background, reporting:

* GetDiagnostics: Uploading → Uploaded | UploadFailed (DiagnosticsStatusNotification);
* GetLog: Uploading → Uploaded | UploadFailure | BadMessage | NotSupportedOperation |
  PermissionDenied (LogStatusNotification, with the requestId), the failure named after what the
  server or the location was wrong about.

Each attempt reports its own pair, and ``retries`` counts the retries after the first attempt,
as for firmware: retries=2 gives three Uploading/UploadFailed pairs, then nothing (EVerest's
firmware_and_diagnostics_tests.py checks exactly that). A new GetLog cancels the running one
(AcceptedCanceled); a new GetDiagnostics replaces the running one too (1.6 does not say, and two
uploads racing for one link help nobody).

The diagnostics file is a tar.gz with ``status.json`` (the caller's status snapshot) and either
``journal.log``, the journal of our units (``journalctl -o short-iso``) in the requested window, or,
when journalctl is missing, fails or finds nothing (the simulator, a container), the newest files of
a log directory the caller names. The security log is uploaded as the JSON lines it is kept in.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import ssl
import stat
import tarfile
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.v16.enums import DiagnosticsStatus, Log, LogStatus, UploadLogStatus

from evnetd.ocpp import transfer
from evnetd.ocpp.jobs import BackgroundJob, Report
from evnetd.ocpp.security import SecurityLog
from evnetd.ocpp.timestamps import parse_optional_time, utc_now

log = logging.getLogger(__name__)

StatusSnapshot = Callable[[], Awaitable[Mapping[str, Any]]]

UPLOADING = str(DiagnosticsStatus.uploading)
UPLOADED = str(DiagnosticsStatus.uploaded)
DEFAULT_JOURNAL_LINES = 100_000
DEFAULT_LOG_DIR_BYTES = 20 * 1024 * 1024
_JOURNAL_TIMEOUT = 30.0


@dataclass(frozen=True)
class DiagnosticsRequest:
    """GetDiagnostics.req."""

    location: str
    start_time: datetime | None = None
    stop_time: datetime | None = None
    retries: int = 0
    retry_interval: float = 0.0

    @classmethod
    def from_ocpp(
        cls,
        location: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: str | None = None,
        stop_time: str | None = None,
    ) -> DiagnosticsRequest:
        """From the keyword arguments the ``ocpp`` library passes to the handler."""
        return cls(
            location,
            parse_optional_time(start_time),
            parse_optional_time(stop_time),
            retries or 0,
            float(retry_interval or 0),
        )


@dataclass(frozen=True)
class LogRequest:
    """GetLog.req."""

    request_id: int
    log_type: str  # DiagnosticsLog or SecurityLog
    location: str
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int = 0
    retry_interval: float = 0.0

    @classmethod
    def from_ocpp(
        cls,
        log: Mapping[str, str],
        log_type: str,
        request_id: int,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> LogRequest:
        """From the handler's keyword arguments (``log`` is the snake_case dict the library passes)."""
        return cls(
            request_id=request_id,
            log_type=str(log_type),
            location=log["remote_location"],
            oldest=parse_optional_time(log.get("oldest_timestamp")),
            latest=parse_optional_time(log.get("latest_timestamp")),
            retries=retries or 0,
            retry_interval=float(retry_interval or 0),
        )


@dataclass(frozen=True)
class LogSetup:
    """Where files are built and where their contents come from."""

    spool_dir: Path
    file_prefix: str  # the charge point id, so that files from many chargers do not collide
    security_log: SecurityLog
    status_snapshot: StatusSnapshot
    log_dir: Path | None = None  # used when there is no journal
    units: Sequence[str] = ("evnet-*",)
    journalctl: Sequence[str] = ("journalctl",)
    journal_lines: int = DEFAULT_JOURNAL_LINES
    log_dir_bytes: int = DEFAULT_LOG_DIR_BYTES
    upload_timeout: float = transfer.DEFAULT_TIMEOUT
    ssl_context: ssl.SSLContext | None = None
    clock: Callable[[], datetime] = field(default=utc_now)


# Building the files


def _journal_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def journal_command(setup: LogSetup, since: datetime | None, until: datetime | None) -> list[str]:
    """The journalctl invocation for our units within the window."""
    command = [*setup.journalctl, "--no-pager", "--quiet", "--utc", "-o", "short-iso", "-n", str(setup.journal_lines)]
    for unit in setup.units:
        command += ["-u", unit]
    if since is not None:
        command += ["--since", _journal_time(since)]
    if until is not None:
        command += ["--until", _journal_time(until)]
    return command


async def _read_journal(setup: LogSetup, since: datetime | None, until: datetime | None) -> bytes | None:
    """The journal text, or None when journalctl is missing, fails, hangs or finds nothing."""
    command = journal_command(setup, since, until)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        log.info("no journal (%s): diagnostics from the log directory", exc)
        return None
    try:
        output, errors = await asyncio.wait_for(process.communicate(), _JOURNAL_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        log.warning("journalctl took longer than %.0f s: diagnostics from the log directory", _JOURNAL_TIMEOUT)
        return None
    if process.returncode != 0 or not output.strip():
        log.info("journalctl gave nothing (exit %s, %s)", process.returncode, errors.decode(errors="replace").strip())
        return None
    return output


def _newest_files(directory: Path, budget: int) -> list[Path]:
    """The newest regular files under ``directory`` whose sizes add up to at most ``budget``."""
    found: list[tuple[float, int, Path]] = []
    for path in directory.rglob("*"):
        with contextlib.suppress(OSError):  # rotated away meanwhile
            info = path.stat()
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime, info.st_size, path))
    chosen: list[Path] = []
    for _, size, path in sorted(found, reverse=True):
        budget -= size
        if budget < 0:
            break
        chosen.append(path)
    return chosen


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    archive.addfile(info, io.BytesIO(data))


def _write_archive(path: Path, snapshot: bytes, journal: bytes | None, setup: LogSetup, mtime: float) -> None:
    with tarfile.open(path, "w:gz") as archive:
        _add_bytes(archive, "status.json", snapshot, mtime)
        if journal is not None:
            _add_bytes(archive, "journal.log", journal, mtime)
        elif setup.log_dir is not None and setup.log_dir.is_dir():
            for file in _newest_files(setup.log_dir, setup.log_dir_bytes):
                with contextlib.suppress(FileNotFoundError):
                    archive.add(file, arcname=f"logs/{file.relative_to(setup.log_dir)}")


def _spool_path(setup: LogSetup, kind: str, suffix: str) -> Path:
    setup.spool_dir.mkdir(parents=True, exist_ok=True)
    return setup.spool_dir / f"{setup.file_prefix}-{kind}-{setup.clock().strftime('%Y%m%dT%H%M%SZ')}{suffix}"


async def build_diagnostics(setup: LogSetup, since: datetime | None, until: datetime | None, kind: str) -> Path:
    """The diagnostics archive (see the module docstring) in the spool directory; raises OSError."""
    path = _spool_path(setup, kind, ".tar.gz")
    journal = await _read_journal(setup, since, until)
    snapshot = json.dumps(await setup.status_snapshot(), indent=2, sort_keys=True, default=str).encode()
    await asyncio.to_thread(_write_archive, path, snapshot, journal, setup, setup.clock().timestamp())
    return path


async def build_security_log(setup: LogSetup, since: datetime | None, until: datetime | None) -> Path:
    """The security log within the window, as JSON lines, in the spool directory; raises OSError."""
    path = _spool_path(setup, "securitylog", ".jsonl")
    await asyncio.to_thread(setup.security_log.export, path, since, until)
    return path


# Uploading


def _diagnostics_failure(_: transfer.TransferError) -> str:
    return str(DiagnosticsStatus.upload_failed)


def log_failure_status(error: transfer.TransferError) -> str:
    """The LogStatusNotification status for a failed upload."""
    if isinstance(error, transfer.BadLocation):
        return str(UploadLogStatus.bad_message)
    if isinstance(error, transfer.UnsupportedProtocol | transfer.UploadNotSupported):
        return str(UploadLogStatus.not_supported_operation)
    if isinstance(error, transfer.UploadDenied):
        return str(UploadLogStatus.permission_denied)
    return str(UploadLogStatus.upload_failure)


async def upload_with_retries(
    path: Path,
    location: str,
    retries: int,
    retry_interval: float,
    report: Report,
    setup: LogSetup,
    failure_status: Callable[[transfer.TransferError], str],
) -> bool:
    """Uploading → Uploaded, or Uploading → ``failure_status(error)`` per attempt; whether it arrived."""
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(retry_interval)
        await report(UPLOADING)
        try:
            await transfer.upload(path, location, timeout=setup.upload_timeout, ssl_context=setup.ssl_context)
        except transfer.TransferError as exc:
            log.warning("upload %d of %d of %s failed: %s", attempt + 1, retries + 1, path.name, exc)
            await report(failure_status(exc))
            continue
        log.info("uploaded %s to %s", path.name, transfer.redact(location))
        await report(UPLOADED)
        return True
    return False


async def _upload_and_remove(path: Path, upload: Coroutine[Any, Any, bool]) -> None:
    try:
        await upload
    finally:
        path.unlink(missing_ok=True)


class LogUploader:
    """The running GetDiagnostics and GetLog uploads (at most one of each)."""

    def __init__(self, setup: LogSetup) -> None:
        self._setup = setup
        self._diagnostics = BackgroundJob("get-diagnostics")
        self._log = BackgroundJob("get-log")
        self.log_request_id: int | None = None

    @property
    def diagnostics_status(self) -> str:
        """For TriggerMessage(DiagnosticsStatusNotification): Uploading while one runs, else Idle."""
        return self._diagnostics.status

    @property
    def log_status(self) -> str:
        """For ExtendedTriggerMessage(LogStatusNotification), with :attr:`log_request_id`."""
        return self._log.status

    async def start_diagnostics(self, request: DiagnosticsRequest, report: Report) -> str | None:
        """Build the file and start its upload; its name for GetDiagnostics.conf, None when none could be made."""
        await self._diagnostics.cancel()
        try:
            path = await build_diagnostics(self._setup, request.start_time, request.stop_time, "diagnostics")
        except OSError as exc:
            log.error("GetDiagnostics: cannot build the file: %s", exc)
            return None
        upload = upload_with_retries(
            path,
            request.location,
            request.retries,
            request.retry_interval,
            self._diagnostics.tracked(report),
            self._setup,
            _diagnostics_failure,
        )
        self._diagnostics.launch(_upload_and_remove(path, upload))
        return path.name

    async def start_log(self, request: LogRequest, report: Report) -> tuple[str, str | None]:
        """(GetLog.conf status, file name): Accepted or AcceptedCanceled with the upload started, or Rejected."""
        canceled = await self._log.cancel()
        try:
            if request.log_type == Log.security_log:
                path = await build_security_log(self._setup, request.oldest, request.latest)
            else:
                path = await build_diagnostics(self._setup, request.oldest, request.latest, "log")
        except OSError as exc:
            log.error("GetLog %d: cannot build the file: %s", request.request_id, exc)
            return str(LogStatus.rejected), None
        upload = upload_with_retries(
            path,
            request.location,
            request.retries,
            request.retry_interval,
            self._log.tracked(report),
            self._setup,
            log_failure_status,
        )
        self.log_request_id = request.request_id
        self._log.launch(_upload_and_remove(path, upload))
        return str(LogStatus.accepted_canceled if canceled else LogStatus.accepted), path.name

    async def cancel(self) -> None:
        """Stop both uploads (shutdown)."""
        await self._diagnostics.cancel()
        await self._log.cancel()

    async def wait(self) -> None:
        """Until the running uploads have ended."""
        await self._diagnostics.wait()
        await self._log.wait()
