"""Moving files between the charger and a URL the CSMS gives: firmware down, diagnostics and logs up.

Only the standard library (urllib, http.client, ftplib) is used: HTTP, HTTPS and FTP are what
``SupportedFileTransferProtocols`` advertises, and a curl binding or binary would be one more
thing to package for both the .deb and the Yocto image.

Blocking I/O runs in a worker thread so the OCPP loop keeps answering while a 50 MB image
arrives. Cancelling the awaiting task sets an event that the copy loop checks on every chunk,
so the thread stops within one chunk (or one socket timeout) and removes its partial file
instead of finishing unseen in the background. ``timeout`` is the socket inactivity timeout.

Downloads are atomic: the bytes go to a temporary file beside the destination, which is
fsynced, renamed over it, and the directory fsynced. After a power cut the destination is the
old file or the complete new one, never a prefix that an installer might take for an image.

Upload targets follow ``curl -T``: a location ending in ``/`` is a directory and the file keeps
its name there; otherwise the location names the file itself. FTP also accepts a directory
without the trailing slash (OCPP calls the location a directory), found by trying to enter it.
FTP paths are relative to the login directory (RFC 1738).

HTTP uploads use PUT; a server that refuses the method (405/501) gets a multipart/form-data
POST with the file as field ``file``, which is what web-form style CSMS endpoints accept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import ftplib
import http.client
import os
import ssl
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

SUPPORTED_SCHEMES = ("ftp", "http", "https")
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_CHUNK = 64 * 1024
_FTP_DENIED = ("530", "532", "550")
_FTP_NOT_SUPPORTED = ("502", "504")
_HTTP_DENIED = (401, 403)
_HTTP_METHOD_REFUSED = (405, 501)

_T = TypeVar("_T")


class TransferError(Exception):
    """A download or upload did not complete."""


class BadLocation(TransferError):
    """The location is not a URL with a host."""


class UnsupportedProtocol(TransferError):
    """The location's scheme is none of :data:`SUPPORTED_SCHEMES`."""


class DownloadFailed(TransferError):
    """The file could not be fetched (network, server status, local disk or cancellation)."""


class DownloadTooLarge(DownloadFailed):
    """The file is larger than the size limit."""


class UploadFailed(TransferError):
    """The file could not be delivered."""


class UploadDenied(UploadFailed):
    """The server refused our credentials or the target (HTTP 401/403, FTP 530/532/550)."""


class UploadNotSupported(UploadFailed):
    """The server does not accept uploads there (HTTP 405/501 to PUT and POST, FTP 502/504)."""


@dataclass(frozen=True)
class _Location:
    scheme: str
    netloc: str  # without the credentials
    host: str
    port: int | None
    path: str  # percent-decoded
    query: str
    user: str
    password: str

    @property
    def url(self) -> str:
        """The URL without the credentials."""
        return urllib.parse.urlunsplit((self.scheme, self.netloc, urllib.parse.quote(self.path), self.query, ""))

    def target(self, name: str) -> _Location:
        """This location, with ``name`` appended when it is a directory (``curl -T``)."""
        return dataclasses.replace(self, path=self.path + name) if self.path.endswith("/") else self


def redact(url: str) -> str:
    """``url`` with any password replaced, for log lines and status texts."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<malformed URL>"
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def _parse(url: str) -> _Location:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadLocation(f"malformed location {redact(url)!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise BadLocation(f"location {redact(url)!r} has no host")
    if scheme not in SUPPORTED_SCHEMES:
        raise UnsupportedProtocol(f"unsupported protocol {scheme!r} (supported: {', '.join(SUPPORTED_SCHEMES)})")
    return _Location(
        scheme=scheme,
        netloc=parts.netloc.rsplit("@", 1)[-1],
        host=parts.hostname,
        port=port,
        path=urllib.parse.unquote(parts.path),
        query=parts.query,
        user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
    )


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that a power cut leaves the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace_from(lambda out: out.write(data), path, mode)


def _replace_from(fill: Callable[[BinaryIO], _T], path: Path, mode: int) -> _T:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            result = fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)
    return result


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Stoppable:
    """A readable that raises once ``stop`` is set: how a cancelled upload ends its thread."""

    def __init__(self, source: _Reader, stop: threading.Event) -> None:
        self._source = source
        self._stop = stop

    def read(self, size: int = -1) -> bytes:
        if self._stop.is_set():
            raise UploadFailed("cancelled")
        return self._source.read(size)


def _copy(source: _Reader, out: BinaryIO, limit: int, stop: threading.Event) -> int:
    total = 0
    while chunk := source.read(_CHUNK):
        if stop.is_set():
            raise DownloadFailed("cancelled")
        total += len(chunk)
        if total > limit:
            raise DownloadTooLarge(f"larger than the limit of {limit} bytes")
        out.write(chunk)
    return total


def _save(source: _Reader, dest: Path, limit: int, stop: threading.Event) -> int:
    return _replace_from(lambda out: _copy(source, out, limit, stop), dest, 0o644)


def _http_request(
    url: str, location: _Location, *, method: str, body: _Reader | bytes | None = None, headers: dict[str, str]
) -> urllib.request.Request:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    if location.user:
        token = base64.b64encode(f"{location.user}:{location.password}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    return request


def _http_download(
    location: _Location, dest: Path, limit: int, timeout: float, context: ssl.SSLContext | None, stop: threading.Event
) -> int:
    request = _http_request(location.url, location, method="GET", headers={})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise DownloadTooLarge(f"{declared} bytes announced, the limit is {limit}")
            return _save(response, dest, limit, stop)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        raise DownloadFailed(f"HTTP {exc.code} {exc.reason} from {location.url}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadFailed(f"{location.url}: {exc}") from exc


@contextlib.contextmanager
def _ftp_session(location: _Location, timeout: float) -> Iterator[ftplib.FTP]:
    """A logged-in FTP session, closed at the end.

    QUIT is sent only after success: ftplib's own ``with`` sends it after a failure too, and a late
    426 in answer would replace the error that ended the transfer.
    """
    ftp = ftplib.FTP(timeout=timeout)
    try:
        ftp.connect(location.host, location.port or ftplib.FTP_PORT)
        ftp.login(location.user or "anonymous", location.password or "anonymous@")
        yield ftp
        with contextlib.suppress(*ftplib.all_errors):
            ftp.quit()
    finally:
        ftp.close()


def _ftp_download(location: _Location, dest: Path, limit: int, timeout: float, stop: threading.Event) -> int:
    try:
        with _ftp_session(location, timeout) as ftp:
            ftp.voidcmd("TYPE I")
            with ftp.transfercmd(f"RETR {location.path.lstrip('/')}") as conn, conn.makefile("rb") as stream:
                size = _save(stream, dest, limit, stop)
            ftp.voidresp()
            return size
    except ftplib.all_errors as exc:
        raise DownloadFailed(f"{location.url}: {exc}") from exc


def _multipart(source: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{source.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + source.read_bytes() + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _http_upload_error(exc: urllib.error.HTTPError, url: str) -> UploadFailed:
    message = f"HTTP {exc.code} {exc.reason} from {url}"
    if exc.code in _HTTP_DENIED:
        return UploadDenied(message)
    if exc.code in _HTTP_METHOD_REFUSED:
        return UploadNotSupported(message)
    return UploadFailed(message)


def _http_send(request: urllib.request.Request, timeout: float, context: ssl.SSLContext | None) -> None:
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        response.read()


def _http_upload(
    location: _Location, source: Path, timeout: float, context: ssl.SSLContext | None, stop: threading.Event
) -> None:
    try:
        try:
            with source.open("rb") as body:
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(source.stat().st_size)}
                put = _http_request(location.url, location, method="PUT", body=_Stoppable(body, stop), headers=headers)
                _http_send(put, timeout, context)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code not in _HTTP_METHOD_REFUSED:
                raise
            data, content_type = _multipart(source)
            post = _http_request(
                location.url, location, method="POST", body=data, headers={"Content-Type": content_type}
            )
            _http_send(post, timeout, context)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _http_upload_error(exc, location.url) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise UploadFailed(f"{location.url}: {exc}") from exc


def _ftp_remote_name(ftp: ftplib.FTP, path: str, name: str) -> str:
    """Enter the target directory and return the name to STOR (see the module docstring)."""
    relative = path.lstrip("/")
    if not relative or relative.endswith("/"):
        if relative:
            ftp.cwd(relative)
        return name
    try:
        ftp.cwd(relative)
    except ftplib.error_perm:
        return relative
    return name


def _ftp_upload_error(exc: ftplib.error_perm, url: str) -> UploadFailed:
    message = f"{url}: {exc}"
    code = str(exc)[:3]
    if code in _FTP_DENIED:
        return UploadDenied(message)
    if code in _FTP_NOT_SUPPORTED:
        return UploadNotSupported(message)
    return UploadFailed(message)


def _ftp_upload(location: _Location, source: Path, name: str, timeout: float, stop: threading.Event) -> None:
    try:
        with _ftp_session(location, timeout) as ftp, source.open("rb") as body:
            remote = _ftp_remote_name(ftp, location.path, name)
            ftp.storbinary(f"STOR {remote}", _Stoppable(body, stop))
    except ftplib.error_perm as exc:
        raise _ftp_upload_error(exc, location.url) from exc
    except ftplib.all_errors as exc:
        raise UploadFailed(f"{location.url}: {exc}") from exc


async def _in_thread(work: Callable[[threading.Event], _T]) -> _T:
    stop = threading.Event()
    try:
        return await asyncio.to_thread(work, stop)
    except asyncio.CancelledError:
        stop.set()
        raise


async def download(
    url: str,
    dest: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Fetch ``url`` into ``dest`` atomically and return its size in bytes.

    ``ssl_context`` is used for https (None: the system's trust store). Raises
    :class:`BadLocation`, :class:`UnsupportedProtocol` or :class:`DownloadFailed`.
    """
    location = _parse(url)
    if location.scheme == "ftp":
        return await _in_thread(lambda stop: _ftp_download(location, dest, max_bytes, timeout, stop))
    return await _in_thread(lambda stop: _http_download(location, dest, max_bytes, timeout, ssl_context, stop))


async def upload(
    source: Path,
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Deliver ``source`` to ``url`` (a directory when it ends in ``/``, see the module docstring).

    Raises :class:`BadLocation`, :class:`UnsupportedProtocol` or :class:`UploadFailed`
    (:class:`UploadDenied`, :class:`UploadNotSupported` for the server's specific refusals).
    """
    location = _parse(url)
    if location.scheme == "ftp":
        return await _in_thread(lambda stop: _ftp_upload(location, source, source.name, timeout, stop))
    target = location.target(source.name)
    return await _in_thread(lambda stop: _http_upload(target, source, timeout, ssl_context, stop))
