"""`evnetd sim` as a test fixture: the whole stack as real processes on a private bus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, evnetctl


def _children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.add(int(entry.name))
    return found | {g for c in found for g in _children_of(c)} if found else found


class Sim:
    """The stack's log goes to ``<state_dir>.log`` (a pipe nobody reads would fill and block it)."""

    def __init__(self, state_dir: Path, *extra: str) -> None:
        self.started = time.monotonic()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = state_dir.with_name(state_dir.name + ".log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evnetd", "sim", "--state-dir", str(state_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("a"),
            text=True,
            cwd=REPO,
            env=dict(os.environ, XDG_STATE_HOME=str(state_dir)),
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        assert first.startswith("EVNET_BUS="), first + self.log()
        self.bus = first.split("=", 1)[1]
        self.ready_line = self.process.stdout.readline().strip()
        self.ready_after = time.monotonic() - self.started
        self.descendants = _children_of(self.process.pid)

    def service_pid(self, name: str) -> int:
        """The pid of the running `evnetd <name>` child (it changes when it is restarted)."""
        for pid in _children_of(self.process.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"evnetd" in argv and name.encode() in argv[:4]:
                return pid
        raise LookupError(f"no running {name} service")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return evnetctl(self.bus, *args, check=check)

    def status(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.ctl("status", "--json").stdout)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)
