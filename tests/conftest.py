"""Shared fixtures: a private dbus-daemon, and daemons as real subprocesses."""

from __future__ import annotations

import subprocess
import sys
import tempfile
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
