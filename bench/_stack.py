"""A private bus with the plant, the meter (and the charger) as real processes, for the benches."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from dbus_fast.aio import MessageBus

from evnetd.bus.client import call, get_all
from evnetd.bus.connection import connect
from evnetd.bus.names import PLANT
from evnetd.sim.launcher import start_bus
from evnetd.sim.processes import ServiceProcess


class Stack:
    def __init__(self, config_text: str = "", with_charger: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="evnet-bench-"))
        self.config = self.dir / "evnet.toml"
        self.config.write_text(config_text)
        self.daemon, self.address = start_bus(self.dir)
        self.plant = ServiceProcess("plant", self.address, self.dir / "state", self.config)
        self.plant.wait_ready()
        self.meter = ServiceProcess("meter", self.address, self.dir / "state", self.config)
        self.meter.wait_ready()
        self.charger: ServiceProcess | None = None
        if with_charger:
            self.charger = ServiceProcess("charger", self.address, self.dir / "state", self.config)
            self.charger.wait_ready()
        self.bus: MessageBus | None = None

    async def open(self) -> Stack:
        self.bus = await connect(self.address)
        return self

    async def plant_call(self, member: str, signature: str = "", *body: Any) -> Any:
        assert self.bus is not None
        return await call(self.bus, PLANT, member, signature, list(body))

    async def plant_props(self) -> dict[str, Any]:
        assert self.bus is not None
        return await get_all(self.bus, PLANT)

    async def wait_permit(self, level: bool, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (await self.plant_props())["Permit"] is not level:
            if time.monotonic() > deadline:
                raise TimeoutError(f"PERMIT did not go {'high' if level else 'low'}")
            await asyncio.sleep(0.01)

    async def events(self, since: float) -> list[tuple[float, str, str]]:
        return [tuple(e) for e in await self.plant_call("Events", "d", since)]  # type: ignore[misc]

    async def first_event(self, since: float, name: str, value: str | None = None, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, n, v in await self.events(since):
                if n == name and (value is None or v == value):
                    return t
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no event {name}={value} after {since}")

    def restart_meter(self) -> None:
        self.meter.kill()
        self.meter.close()
        self.meter = ServiceProcess("meter", self.address, self.dir / "state", self.config)
        self.meter.wait_ready()

    def close(self) -> None:
        if self.bus:
            self.bus.disconnect()
        if self.charger:
            self.charger.close()
        self.meter.close()
        self.plant.close()
        self.daemon.terminate()
        self.daemon.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
