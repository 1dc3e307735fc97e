"""Shared fixtures: a private dbus-daemon, and daemons as real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evnetd.sim.launcher import start_bus

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def private_bus() -> Iterator[str]:
    """The address of a dbus-daemon of our own, torn down after the module."""
    runtime = Path(tempfile.mkdtemp(prefix="evnet-test-"))
    daemon, address = start_bus(runtime)
    try:
        yield address
    finally:
        daemon.terminate()
        daemon.wait(5)
        for path in runtime.iterdir():
            path.unlink()
        runtime.rmdir()


def evnetctl(bus: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real evnetctl against ``bus``."""
    result = subprocess.run(
        [sys.executable, "-m", "evnetd.cli.evnetctl", "--bus", bus, *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"evnetctl {' '.join(args)} failed: {result.stderr}")
    return result


class ServiceProcess:
    """One `evnetd <service>` process; waits for READY=1 on its own notify socket."""

    def __init__(self, name: str, bus: str, state_dir: Path, config: Path | None = None) -> None:
        import socket

        self.name = name
        self._dir = Path(tempfile.mkdtemp(prefix="evnet-svc-"))
        self._notify_path = self._dir / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self._notify_path))
        argv = [sys.executable, "-m", "evnetd", name, "--bus", bus, "--state-dir", str(state_dir)]
        if config:
            argv += ["--config", str(config)]
        env = dict(os.environ, NOTIFY_SOCKET=str(self._notify_path))
        self.process = subprocess.Popen(argv, env=env, cwd=REPO)

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}")
            self.notify.settimeout(0.2)
            try:
                if b"READY=1" in self.notify.recv(4096):
                    return
            except TimeoutError:
                continue
        raise AssertionError(f"{self.name} not ready in {timeout} s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.notify.close()
        self._notify_path.unlink(missing_ok=True)
        self._dir.rmdir()
        return self.process.returncode


@pytest.fixture
def start_service(private_bus: str, tmp_path: Path) -> Iterator[object]:
    """Start named services on the module's private bus; all stopped at teardown."""
    started: list[ServiceProcess] = []

    def start(name: str, config: Path | None = None) -> ServiceProcess:
        service = ServiceProcess(name, private_bus, tmp_path / "state", config)
        started.append(service)
        service.wait_ready()
        return service

    yield start
    for service in reversed(started):
        service.stop()
