"""Resident memory of the daemons after they have run for a while with an EV charging.

Target from the metering issue: the meter service ≤ 35 MB RSS. The others are reported
for the record (the board has 1–8 GB, but every MB is a MB of page cache lost).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench._stack import Stack

TARGET_METER_MB = 35.0
RUN_S = 10.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def _measure() -> dict[str, object]:
    stack = await Stack(with_charger=True).open()
    try:
        await stack.wait_permit(True)
        await stack.plant_call("Plug", "u", 32)
        await stack.plant_call("SetEvState", "s", "C")
        await asyncio.sleep(RUN_S)
        assert stack.charger is not None
        sizes = {
            "meter_mb": rss_mb(stack.meter.process.pid),
            "charger_mb": rss_mb(stack.charger.process.pid),
            "plant_mb": rss_mb(stack.plant.process.pid),
        }
        charging = (await stack.plant_props())["ContactorClosed"]
    finally:
        stack.close()
    result: dict[str, object] = {k: round(v, 1) for k, v in sizes.items()}
    result.update(
        seconds=RUN_S, charging=charging, target_meter_mb=TARGET_METER_MB,
        **{"pass": sizes["meter_mb"] <= TARGET_METER_MB and charging},
    )  # fmt: skip
    return result


def run() -> dict[str, object]:
    return asyncio.run(_measure())
