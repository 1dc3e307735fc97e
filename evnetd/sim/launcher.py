"""Start a private dbus-daemon, the plant and every service; stop them all on SIGTERM.

It plays systemd's part for the simulation: each service gets its own NOTIFY_SOCKET so
the launcher knows when it is READY, a service that dies is restarted (as Restart= would),
and every child is asked to die with the launcher (PR_SET_PDEATHSIG) so that not even a
kill -9 of the launcher leaves processes behind.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from evnetd.runtime.config import Config
from evnetd.services import SIMULATED_STACK

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
RESTART_DELAY_S = 0.5
_PR_SET_PDEATHSIG = 1

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "evnet-sim"


def start_bus(runtime: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A dbus-daemon on a socket in ``runtime``; returns it and its address."""
    config = runtime / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=runtime / "bus.sock"))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().decode().strip()
    if not address:
        daemon.wait()
        raise RuntimeError("dbus-daemon did not start")
    return daemon, address


@dataclass
class Child:
    """One service process and the notify socket it reports on."""

    name: str
    argv: list[str]
    env: dict[str, str]
    notify: socket.socket
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    restarts: int = 0
    restart_at: float | None = None
    status: str = field(default="")

    def spawn(self) -> None:
        self.ready = False
        self.process = subprocess.Popen(self.argv, env=self.env, preexec_fn=_die_with_parent)


class Launcher:
    def __init__(self, args: argparse.Namespace, config: Config) -> None:
        self.args = args
        self.config = config
        self.state_dir: Path = args.state_dir or default_state_dir()
        self.runtime = Path(tempfile.mkdtemp(prefix="evnet-"))
        self.children: list[Child] = []
        self.bus: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def _child(self, name: str, address: str) -> Child:
        path = self.runtime / f"{name}.notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.bind(str(path))
        argv = [sys.executable, "-m", "evnetd", name, "--bus", address,
                "--state-dir", str(self.state_dir)]  # fmt: skip
        if self.args.config:
            argv += ["--config", str(self.args.config)]
        env = dict(os.environ, NOTIFY_SOCKET=str(path), EVNET_BUS=address)
        env.pop("WATCHDOG_USEC", None)
        return Child(name, argv, env, sock)

    def run(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            self.bus, address = start_bus(self.runtime)
            (self.state_dir / "bus").write_text(address + "\n")
            print(f"EVNET_BUS={address}", flush=True)
            self.children = [self._child(name, address) for name in SIMULATED_STACK]
            for child in self.children:
                child.spawn()
            return self._supervise()
        finally:
            self._stop_all()

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _supervise(self) -> int:
        selector = selectors.DefaultSelector()
        for child in self.children:
            selector.register(child.notify, selectors.EVENT_READ, child)
        started = time.monotonic()
        announced = False
        while not self.stopping:
            for key, _ in selector.select(timeout=0.1):
                self._on_notify(key.data)
            if not announced and all(c.ready for c in self.children):
                print("READY", flush=True)
                announced = True
            if not announced and time.monotonic() - started > READY_TIMEOUT_S:
                late = ", ".join(c.name for c in self.children if not c.ready)
                print(f"evnetd sim: not ready after {READY_TIMEOUT_S:.0f} s: {late}", file=sys.stderr)
                return 1
            if self.bus is not None and self.bus.poll() is not None:
                print("evnetd sim: dbus-daemon exited", file=sys.stderr)
                return 1
            self._restart_dead()
        return 0

    def _on_notify(self, child: Child) -> None:
        data = child.notify.recv(4096).decode(errors="replace")
        for line in data.splitlines():
            if line == "READY=1":
                child.ready = True
            elif line.startswith("STATUS="):
                child.status = line[7:]

    def _restart_dead(self) -> None:
        now = time.monotonic()
        for child in self.children:
            assert child.process is not None
            code = child.process.poll()
            if code is None:
                continue
            if child.restart_at is None:
                print(f"evnetd sim: {child.name} exited ({code}); restarting", file=sys.stderr)
                child.restart_at = now + RESTART_DELAY_S
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                child.spawn()

    def _stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self.children):
            if child.process:
                try:
                    child.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(f"evnetd sim: {child.name} did not stop; killing", file=sys.stderr)
                    child.process.kill()
                    child.process.wait()
            child.notify.close()
        if self.bus and self.bus.poll() is None:
            self.bus.terminate()
            self.bus.wait()
        shutil.rmtree(self.runtime, ignore_errors=True)


def run_simulation(args: argparse.Namespace, config: Config) -> int:
    if shutil.which("dbus-daemon") is None:
        print("evnetd sim: dbus-daemon not found (apt install dbus)", file=sys.stderr)
        return 69
    return Launcher(args, config).run()
