"""evnet-energy end to end: the real services on the simulated board, driven by `evnetctl sim`."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sim import Sim, _children_of

pytestmark = pytest.mark.integration


def until(check: Callable[[], Any], timeout: float, what: str, sim: Sim | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + ("\n" + sim.log()[-3000:] if sim else ""))
        time.sleep(0.05)


def energy(sim: Sim) -> dict[str, Any]:
    return json.loads(sim.ctl("energy", "--json").stdout)  # type: ignore[no-any-return]


def start(tmp_path: Path, name: str, config: str = "") -> Sim:
    path = tmp_path / f"{name}.toml"
    path.write_text(config)
    return Sim(tmp_path / name, "--config", str(path))


@pytest.fixture
def stacks() -> Iterator[list[Sim]]:
    running: list[Sim] = []
    yield running
    for sim in running:
        if sim.process.poll() is None:
            sim.stop()


def charging(sim: Sim, ev_max: float = 32) -> None:
    sim.ctl("sim", "ev-max", f"{ev_max:g}")
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    until(lambda: sim.status()["contactor_closed"], 30, "contactor closed", sim)


def offered(sim: Sim) -> float | None:
    return sim.status()["offered_current_a"]  # type: ignore[no-any-return]


def offers(sim: Sim, amps: float) -> bool:
    """The offer is ``amps`` within the PWM's resolution."""
    value = offered(sim)
    return value is not None and abs(value - amps) < 0.5


def test_house_load_step_lowers_the_offer_and_a_fall_raises_it_after_the_delay(tmp_path: Path,
                                                                                stacks: list[Sim]) -> None:
    sim = start(tmp_path, "site", "[energy]\nmain_fuse_a = 40\nmargin_a = 2\nraise_delay_s = 2\n")
    stacks.append(sim)
    charging(sim)
    until(lambda: offers(sim, 32), 3, "offer 32 A", sim)
    sim.ctl("sim", "site", "--current", "20")  # house 20 A: 40 − 20 − 2 = 18 A left for the EV
    until(lambda: offers(sim, 18), 5, "offer 18 A", sim)  # how fast: bench/bench_energy.py
    status = sim.status()
    assert status["limit_source"] == "site"  # the fuse: a cap no keep-awake mode may override
    assert "site" in energy(sim)["Reason"]
    sim.ctl("sim", "site", "--current", "37")  # 1 A left: below 6 A → pause
    until(lambda: sim.status()["status"] == "SuspendedEVSE", 3, "paused", sim)
    assert energy(sim)["Paused"] is True
    sim.ctl("sim", "site", "--current", "10")
    fell = time.monotonic()
    until(lambda: offers(sim, 28), 6, "offer 28 A after the raise delay", sim)
    assert time.monotonic() - fell >= 1.8  # a fall of the house load raises only after raise_delay_s


def test_solar_only_starts_on_surplus_and_stops_when_it_is_gone(tmp_path: Path, stacks: list[Sim]) -> None:
    sim = start(tmp_path, "solar", "[energy]\nmode = \"solar\"\nsolar_start_delay_s = 2\nsolar_stop_delay_s = 3\n"
                                   "solar_min_on_s = 0\nsolar_min_off_s = 0\n")  # fmt: skip
    stacks.append(sim)
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    until(lambda: sim.status()["status"] == "SuspendedEVSE", 15, "waiting for surplus", sim)
    assert energy(sim)["Source"] == "solar"
    sim.ctl("sim", "solar", "--current", "14")
    until(lambda: sim.status()["contactor_closed"], 15, "started on surplus", sim)
    until(lambda: 12 <= (offered(sim) or 0) <= 16, 10, "offer follows the surplus", sim)
    assert energy(sim)["SolarRunning"] is True
    sim.ctl("sim", "solar", "--current", "0")
    gone = time.monotonic()
    until(lambda: not energy(sim)["SolarRunning"], 15, "stopped without surplus", sim)
    assert time.monotonic() - gone >= 2.5  # the stop timer held it first (6 A from the grid meanwhile)
    assert energy(sim)["Paused"] is True
    # charge control opens once the EV stops drawing, or after its 6 s under-load timeout
    until(lambda: not sim.status()["contactor_closed"], 15, "contactor open", sim)
    assert sim.status()["session"] is not None  # paused, not ended: the session goes on


def test_schedule_window_blocks_and_the_owner_lifts_it_over_the_bus(tmp_path: Path, stacks: list[Sim]) -> None:
    now = dt.datetime.now()
    days = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
    begin, end = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=30)
    window = f"{days[begin.weekday()]} {begin:%H:%M}-{end:%H:%M} block"
    sim = start(tmp_path, "schedule", f"[energy]\nwindows = [\"{window}\"]\n")
    stacks.append(sim)
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    until(lambda: sim.status()["status"] == "SuspendedEVSE", 15, "blocked by the schedule", sim)
    props = energy(sim)
    assert props["ScheduleAllowed"] is False and props["Source"] == "schedule", props
    refused = sim.ctl("energy", "set", "windows", "Xx 10:00-11:00 allow", check=False)
    assert refused.returncode == 1 and "windows" in refused.stderr and "Xx" in refused.stderr
    assert energy(sim)["Settings"]["windows"] == [window]  # nothing changed
    sim.ctl("energy", "set", "windows")  # no windows: allowed all week
    until(lambda: sim.status()["contactor_closed"], 8, "charging once the window is gone", sim)


def test_three_chargers_share_a_limit_and_reclaim_a_killed_ones_share(tmp_path: Path, stacks: list[Sim]) -> None:
    can = tmp_path / "can"
    can.mkdir()
    for node in (1, 2, 3):
        stacks.append(start(tmp_path, f"node{node}", (
            f"[general]\ncharge_point_id = \"NODE{node}\"\n[hardware]\ncan_channel = \"{can}\"\n"
            f"[energy]\nsharing = true\nsharing_node = {node}\nsharing_group_limit_a = 30\n"
        )))  # fmt: skip
    for sim in stacks:
        charging(sim)
    until(lambda: all(offers(sim, 10) for sim in stacks), 30, "three shares of 10 A", stacks[0])
    assert energy(stacks[0])["SharingState"] == "sharing"
    victim = stacks.pop()
    for pid in _children_of(victim.process.pid) | {victim.process.pid}:
        os.kill(pid, signal.SIGKILL)
    victim.process.wait(5)
    # its share goes back to the others, less the fixed safe share (6 A) that a charger cut off
    # from the bus may still draw on its own: 30 − 6 = 24 A for two
    until(lambda: all(offers(sim, 12) for sim in stacks), 30, "the silent charger's share reclaimed", stacks[0])
    assert all(sum(energy(sim)["Allocation"].values()) <= 30 for sim in stacks)
    assert "silent" in energy(stacks[0])["Reason"]
