"""sd_notify over a real datagram socket, and the watchdog interval rules."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from evnetd.runtime.notify import notify, watchdog_interval


def test_notify_sends_datagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_notify_without_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [("2000000", None, 1.0), ("2000000", "self", 1.0), ("2000000", "other", None), ("0", None, None),
     ("junk", None, None), (None, None, None)],
)  # fmt: skip
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None,
                           expected: float | None) -> None:  # fmt: skip
    pids = {"self": str(os.getpid()), "other": str(os.getpid() + 1), None: None}
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pids[pid])):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert watchdog_interval() == expected


def test_notify_never_blocks_when_the_reader_falls_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        results = [notify(f"STATUS={i}") for i in range(1000)]  # nobody reads
    assert results[0] and not all(results)  # the first arrive, the rest are dropped, no hang
