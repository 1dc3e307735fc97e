"""Resident memory of the daemons after they have run for a while with an EV charging.

Target from the metering issue: the meter service ≤ 35 MB RSS. The others are reported
for the record (the board has 1–8 GB, but every MB is a MB of page cache lost). PSS and
private memory (``/proc/PID/smaps_rollup``) say what a daemon costs beyond the pages it
shares with the others (the interpreter, libpython); ``pydantic_mapped`` lists the
daemons that have pydantic-core loaded, which none should (config validation runs in a
child process, see evnetd/runtime/schema.py).
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


def rollup_mb(pid: int) -> dict[str, float]:
    """PSS and private (clean + dirty) memory in MB."""
    kb: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        kb[name.rstrip(":")] = int(value)
    return {"pss": kb["Pss"] / 1024, "private": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024}


def pydantic_mapped(pid: int) -> bool:
    return "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()


async def _measure() -> dict[str, object]:
    stack = await Stack(with_charger=True).open()
    try:
        await stack.wait_permit(True)
        await stack.plant_call("Plug", "u", 32)
        await stack.plant_call("SetEvState", "s", "C")
        await asyncio.sleep(RUN_S)
        assert stack.charger is not None
        pids = {"meter": stack.meter.process.pid, "charger": stack.charger.process.pid,
                "plant": stack.plant.process.pid}  # fmt: skip
        sizes = {f"{name}_mb": rss_mb(pid) for name, pid in pids.items()}
        for name in ("meter", "charger"):
            rollup = rollup_mb(pids[name])
            sizes[f"{name}_pss_mb"], sizes[f"{name}_private_mb"] = rollup["pss"], rollup["private"]
        with_pydantic = [name for name, pid in pids.items() if pydantic_mapped(pid)]
        charging = (await stack.plant_props())["ContactorClosed"]
    finally:
        stack.close()
    result: dict[str, object] = {k: round(v, 1) for k, v in sizes.items()}
    result.update(
        seconds=RUN_S, charging=charging, pydantic_mapped=with_pydantic, target_meter_mb=TARGET_METER_MB,
        **{"pass": sizes["meter_mb"] <= TARGET_METER_MB and charging},
    )  # fmt: skip
    return result


def run() -> dict[str, object]:
    return asyncio.run(_measure())
