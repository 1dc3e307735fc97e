"""Downloads and uploads against real local servers: http.server (HTTP and HTTPS) and pyftpdlib (FTP).

The server fixtures here (``http_server``, ``ftp_server``) are also used by the firmware and log tests.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evnetd.ocpp import transfer
from evnetd.ocpp.transfer import (
    BadLocation,
    DownloadFailed,
    DownloadTooLarge,
    UnsupportedProtocol,
    UploadDenied,
    UploadFailed,
    UploadNotSupported,
    download,
    redact,
    upload,
    write_atomically,
)
from tests.ocpp.test_certificates import ec_key, issue, key_pem, make_root, pem

# HTTP(S)


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` to GET, keeps PUT and POST bodies in ``received``; ``fail`` forces a status."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.received: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.fail: dict[tuple[str, str], int] = {}
        self.slow: set[str] = set()
        self.scheme = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"  # no name lookup: minimal roots lack one


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _failed(self) -> bool:
        code = self.server.fail.get((self.command, self.path))
        if code:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))  # as servers with lingering close do
            self.send_error(code)
        return bool(code)

    def do_GET(self) -> None:
        if self._failed():
            return
        if self.path in self.server.slow:
            self._send_slowly()
            return
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_slowly(self) -> None:
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x" * 65536)
                time.sleep(0.02)
        except OSError:
            pass

    def _receive(self) -> None:
        if self._failed():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received[self.path] = body
        self.server.headers[self.path] = dict(self.headers)
        self.send_response(201 if self.command == "PUT" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = _receive
    do_POST = _receive


@contextmanager
def serving(server: FileServer) -> Iterator[FileServer]:
    """``server`` answering in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server() -> Iterator[FileServer]:
    with serving(FileServer()) as server:
        yield server


@dataclass
class Tls:
    server: FileServer
    client_context: ssl.SSLContext


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[Tls]:
    ca, ca_key = make_root("Test CA")
    key = ec_key()
    (tmp_path / "server.pem").write_text(pem(issue("files", key.public_key(), ca, ca_key, ip="127.0.0.1")))
    (tmp_path / "server.key").write_bytes(key_pem(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server = FileServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.scheme = "https"
    client = ssl.create_default_context(cadata=pem(ca))
    with serving(server) as running:
        yield Tls(running, client)


# FTP


@dataclass
class FtpSite:
    root: Path
    port: int
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, user: str = "user", password: str = "secret") -> str:
        return f"ftp://{user}:{password}@127.0.0.1:{self.port}/{path}"


@contextmanager
def ftp_site(root: Path) -> Iterator[FtpSite]:
    """A pyftpdlib server on ``root`` (users "user" read-write and "reader" read-only, password "secret")."""
    authorizers = pytest.importorskip("pyftpdlib.authorizers")
    handlers = pytest.importorskip("pyftpdlib.handlers")
    servers = pytest.importorskip("pyftpdlib.servers")
    authorizer = authorizers.DummyAuthorizer()
    authorizer.add_user("user", "secret", str(root), perm="elradfmwMT")
    authorizer.add_user("reader", "secret", str(root), perm="elr")
    attributes = {"authorizer": authorizer, "banner": "test", "auth_failed_timeout": 0.01}
    server = servers.FTPServer(("127.0.0.1", 0), type("Handler", (handlers.FTPHandler,), attributes))
    site = FtpSite(root, server.socket.getsockname()[1])

    def run() -> None:
        while not site.stop.is_set():
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.stop.set()
        thread.join(5)


@pytest.fixture
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpSite]:
    with ftp_site(tmp_path_factory.mktemp("ftp")) as site:
        yield site


# Locations


def test_bad_and_unsupported_locations(tmp_path: Path) -> None:
    for url, error in [
        ("not a url", BadLocation),
        ("http://", BadLocation),
        ("http://host:port/x", BadLocation),
        ("sftp://host/x", UnsupportedProtocol),
        ("file:///etc/passwd", BadLocation),
    ]:
        with pytest.raises(error):
            asyncio.run(download(url, tmp_path / "x"))


def test_redact_hides_the_password_only() -> None:
    assert redact("ftp://user:secret@host:21/dir/") == "ftp://user:***@host:21/dir/"
    assert redact("https://host/x") == "https://host/x"


def test_write_atomically_sets_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "key.pem"
    write_atomically(target, b"one")
    write_atomically(target, b"two", mode=0o600)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["key.pem"]


# HTTP downloads


async def test_http_download(http_server: FileServer, tmp_path: Path) -> None:
    http_server.files["/fw/image.bin"] = b"\x00firmware" * 10000
    dest = tmp_path / "image.bin"
    assert await download(f"{http_server.url}/fw/image.bin", dest) == 90000
    assert dest.read_bytes() == b"\x00firmware" * 10000
    assert [p.name for p in tmp_path.iterdir()] == ["image.bin"]


@pytest.mark.parametrize("code", [404, 500])
async def test_http_download_failure_keeps_the_old_file(http_server: FileServer, tmp_path: Path, code: int) -> None:
    http_server.fail[("GET", "/image.bin")] = code
    dest = tmp_path / "image.bin"
    dest.write_bytes(b"old")
    with pytest.raises(DownloadFailed, match=str(code)):
        await download(f"{http_server.url}/image.bin", dest)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["image.bin"]


async def test_http_download_above_the_limit(http_server: FileServer, tmp_path: Path) -> None:
    http_server.files["/big"] = b"x" * 5000
    with pytest.raises(DownloadTooLarge):
        await download(f"{http_server.url}/big", tmp_path / "big", max_bytes=4999)
    assert list(tmp_path.iterdir()) == []


async def test_http_download_from_a_closed_port(tmp_path: Path) -> None:
    with FileServer() as server:
        port = server.server_address[1]
    with pytest.raises(DownloadFailed):
        await download(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=2)


async def test_cancelled_download_stops_its_thread_and_removes_the_partial_file(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.slow.add("/slow")
    task = asyncio.create_task(download(f"{http_server.url}/slow", tmp_path / "slow"))
    for _ in range(250):
        if any(p.name.endswith(".part") for p in tmp_path.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not list(tmp_path.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert list(tmp_path.iterdir()) == []


async def test_https_download_with_the_given_trust(https_server: Tls, tmp_path: Path) -> None:
    https_server.server.files["/image.bin"] = b"signed bytes"
    url = f"{https_server.server.url}/image.bin"
    with pytest.raises(DownloadFailed):
        await download(url, tmp_path / "image.bin", ssl_context=ssl.create_default_context())
    await download(url, tmp_path / "image.bin", ssl_context=https_server.client_context)
    assert (tmp_path / "image.bin").read_bytes() == b"signed bytes"


# HTTP uploads


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "cp-diagnostics.tar.gz"
    path.write_bytes(b"\x1f\x8b diagnostics " * 1000)
    return path


async def test_http_put_into_a_directory_keeps_the_file_name(http_server: FileServer, log_file: Path) -> None:
    await upload(log_file, f"{http_server.url}/upload/")
    assert http_server.received["/upload/cp-diagnostics.tar.gz"] == log_file.read_bytes()


async def test_http_put_to_a_file_url_with_credentials(http_server: FileServer, log_file: Path) -> None:
    await upload(log_file, f"http://cp:pa%3Ass@127.0.0.1:{http_server.server_address[1]}/logs/today.tgz")
    assert http_server.received["/logs/today.tgz"] == log_file.read_bytes()
    expected = "Basic " + base64.b64encode(b"cp:pa:ss").decode()
    assert http_server.headers["/logs/today.tgz"]["Authorization"] == expected


async def test_http_post_multipart_when_put_is_refused(http_server: FileServer, log_file: Path) -> None:
    http_server.fail[("PUT", "/upload")] = 405
    await upload(log_file, f"{http_server.url}/upload")
    body = http_server.received["/upload"]
    assert http_server.headers["/upload"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="cp-diagnostics.tar.gz"' in body
    assert log_file.read_bytes() in body


@pytest.mark.parametrize(
    ("put", "post", "error"),
    [(403, None, UploadDenied), (401, None, UploadDenied), (500, None, UploadFailed), (405, 405, UploadNotSupported)],
)
async def test_http_upload_refusals(
    http_server: FileServer, log_file: Path, put: int, post: int | None, error: type[UploadFailed]
) -> None:
    http_server.fail[("PUT", "/upload")] = put
    if post:
        http_server.fail[("POST", "/upload")] = post
    with pytest.raises(error) as caught:
        await upload(log_file, f"{http_server.url}/upload")
    assert type(caught.value) is error


# FTP


async def test_ftp_download(ftp_server: FtpSite, tmp_path: Path) -> None:
    (ftp_server.root / "fw").mkdir()
    (ftp_server.root / "fw" / "image.deb").write_bytes(b"deb" * 50000)
    dest = tmp_path / "image.deb"
    assert await download(ftp_server.url("fw/image.deb"), dest) == 150000
    assert dest.read_bytes() == b"deb" * 50000


async def test_ftp_download_of_a_missing_file(ftp_server: FtpSite, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="550"):
        await download(ftp_server.url("nothing.bin"), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


async def test_ftp_download_above_the_limit_without_a_declared_size(ftp_server: FtpSite, tmp_path: Path) -> None:
    (ftp_server.root / "big").write_bytes(b"x" * 300000)
    with pytest.raises(DownloadTooLarge):
        await download(ftp_server.url("big"), tmp_path / "big", max_bytes=200000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "stored"),
    [("", "cp-diagnostics.tar.gz"), ("in/", "in/cp-diagnostics.tar.gz"), ("in", "in/cp-diagnostics.tar.gz")],
)
async def test_ftp_upload_into_a_directory(ftp_server: FtpSite, log_file: Path, path: str, stored: str) -> None:
    (ftp_server.root / "in").mkdir()
    await upload(log_file, ftp_server.url(path))
    assert (ftp_server.root / stored).read_bytes() == log_file.read_bytes()


async def test_ftp_upload_to_a_file_name(ftp_server: FtpSite, log_file: Path) -> None:
    await upload(log_file, ftp_server.url("renamed.tgz"))
    assert (ftp_server.root / "renamed.tgz").read_bytes() == log_file.read_bytes()


async def test_ftp_upload_refusals(ftp_server: FtpSite, log_file: Path) -> None:
    with pytest.raises(UploadDenied, match="530"):
        await upload(log_file, ftp_server.url("", password="wrong"))
    with pytest.raises(UploadDenied, match="550"):
        await upload(log_file, ftp_server.url("", user="reader"))


async def test_ftp_server_gone(tmp_path: Path, log_file: Path) -> None:
    with FileServer() as server:
        port = server.server_address[1]
    with pytest.raises(UploadFailed):
        await upload(log_file, f"ftp://127.0.0.1:{port}/", timeout=2)
    assert transfer.SUPPORTED_SCHEMES == ("ftp", "http", "https")
