"""Test-side access to a running stack: plant calls and property reads through busctl."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any


class BusTool:
    """busctl against one private bus: the real CLI, no shared code with the services."""

    def __init__(self, address: str) -> None:
        self.address = address

    def _busctl(self, *args: str) -> str:
        result = subprocess.run(
            ["busctl", f"--address={self.address}", "--json=short", *args],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip())
        return result.stdout

    def call(self, service: str, member: str, signature: str = "", *args: str) -> Any:
        path = "/org/evnet/" + service
        iface = "org.evnet." + service
        out = self._busctl("call", iface, path, iface, member, *((signature, *args) if signature else ()))
        return json.loads(out)["data"] if out.strip() else None

    def pid_of(self, name: str) -> int:
        out = self._busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "GetConnectionUnixProcessID", "s", name)  # fmt: skip
        return int(json.loads(out)["data"][0])

    def call_error(self, service: str, member: str, signature: str = "", *args: str) -> str:
        try:
            self.call(service, member, signature, *args)
        except RuntimeError as exc:
            return str(exc)
        raise AssertionError(f"{member} did not fail")

    def get(self, service: str, name: str) -> Any:
        path = "/org/evnet/" + service
        iface = "org.evnet." + service
        return json.loads(self._busctl("get-property", iface, path, iface, name))["data"]

    def plant(self, member: str, signature: str = "", *args: str) -> Any:
        return self.call("Plant1", member, signature, *args)

    def events(self, since: float = 0.0) -> list[tuple[float, str, str]]:
        data = self.plant("Events", "d", str(since))
        return [tuple(item) for item in data[0]]  # type: ignore[misc]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except RuntimeError:
                pass  # the service is not (yet, or no longer) on the bus
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")
