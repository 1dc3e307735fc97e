"""A daemon as a child process that reports READY on a notify socket of its own.

The launcher, the tests and the benchmarks all run the real daemons this way, playing
the part systemd plays on the charger (Type=notify).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when its parent dies, even by kill -9."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LogCopy:
    """The children's stderr, copied line by line to our stderr and to a log file.

    `evnetd sim` has no journal: this file is where the web client's journal view reads the
    stack's log. Whole lines under one lock, so lines of two services never interleave.
    """

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb", buffering=0)  # this run's log only
        self._lock = threading.Lock()

    def follow(self, stream: IO[bytes]) -> None:
        threading.Thread(target=self._copy, args=(stream,), daemon=True, name="log-copy").start()

    def _copy(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                with self._lock, contextlib.suppress(OSError, ValueError):  # our stderr or the file closed
                    self._file.write(line)
                    sys.stderr.buffer.write(line)
                    sys.stderr.buffer.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class ServiceProcess:
    """One `evnetd <service>` process with its notify socket."""

    def __init__(self, name: str, bus: str, state_dir: Path, config: Path | None = None,
                 extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None,
                 log: LogCopy | None = None) -> None:  # fmt: skip
        self.name = name
        self._log = log
        self._dir = Path(tempfile.mkdtemp(prefix="evnet-notify-"))
        self._notify_path = self._dir / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.notify.bind(str(self._notify_path))
        self.argv = [sys.executable, "-m", "evnetd", name, "--bus", bus, "--state-dir", str(state_dir)]
        if config:
            self.argv += ["--config", str(config)]
        self.argv += extra_args or []
        self.env = dict(os.environ, NOTIFY_SOCKET=str(self._notify_path), EVNET_BUS=bus, **(extra_env or {}))
        self.env.pop("WATCHDOG_USEC", None)
        self.ready = False
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.ready = False
        stderr = subprocess.PIPE if self._log else None
        process = subprocess.Popen(self.argv, env=self.env, stderr=stderr, preexec_fn=die_with_parent)
        if self._log and process.stderr is not None:
            self._log.follow(process.stderr)
        return process

    def respawn(self) -> None:
        self.process = self._spawn()

    def read_notify(self) -> None:
        """Take one pending notify datagram; only READY=1 matters here."""
        data = self.notify.recv(4096).decode(errors="replace")
        if "READY=1" in data.splitlines():
            self.ready = True

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        self.notify.settimeout(0.2)
        try:
            while not self.ready:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready in {timeout:.0f} s")
                try:
                    self.read_notify()
                except TimeoutError:
                    continue
        finally:
            self.notify.settimeout(None)

    def kill(self) -> None:
        """kill -9, as a crash or power cut would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def close(self) -> int:
        code = self.terminate()
        self.notify.close()
        self._notify_path.unlink(missing_ok=True)
        self._dir.rmdir()
        return code
