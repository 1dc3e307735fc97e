"""Every protection fault through the whole simulated stack: inject, PERMIT low, the D-Bus
signal, the connector Faulted with its error code and LED pattern, remove, recover."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.plant import BusTool
from tests.integration.test_sim_launcher import Sim

pytestmark = pytest.mark.integration

# the recovery rules with short times, so every recovery is seen within the test
CONFIG = """
[protection]
voltage_recovery_s = 1
pen_recovery_s = 1
overcurrent_recovery_s = 1
adc_recovery_s = 1
"""


class MeterSignals:
    """FaultRaised/FaultCleared as busctl monitor sees them on the bus."""

    def __init__(self, bus: str) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.process = subprocess.Popen(
            ["busctl", f"--address={bus}", "monitor", "--json=short",
             "--match=type='signal',interface='org.evnet.Meter1'"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("member") in ("FaultRaised", "FaultCleared"):
                fault, code = message["payload"]["data"][:2]
                self.seen.append((message["member"], fault, code))

    def wait(self, member: str, fault: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m, f, code in self.seen:
                if (m, f) == (member, fault):
                    return code
            time.sleep(0.05)
        raise AssertionError(f"no {member}({fault}) signal; seen {self.seen}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Sim, BusTool, MeterSignals]]:
    config = tmp_path / "evnet.toml"
    config.write_text(CONFIG)
    sim = Sim(tmp_path / "state", "--config", str(config))
    assert sim.ready_line == "READY"
    signals = MeterSignals(sim.bus)
    yield sim, BusTool(sim.bus), signals
    signals.close()
    sim.stop()


def charger(tool: BusTool, name: str) -> object:
    return tool.get("Charger1", name)


def red_blinking(led: list[float]) -> bool:
    return list(led[:3]) == [255, 0, 0] and led[4] > 0


def wait(tool: BusTool, what: str, predicate: object, timeout: float = 10.0) -> None:
    tool.wait_for(predicate, timeout, what)  # type: ignore[arg-type]


# (name, inject, remove, meter fault, OCPP error code, how it recovers)
FAULTS = [
    ("rcd-ac", ("fault", "rcd-ac", "on"), ("fault", "rcd-ac", "off"), "rcd", "GroundFailure", "unplug"),
    ("rcd-dc", ("fault", "rcd-dc", "on"), ("fault", "rcd-dc", "off"), "rcd", "GroundFailure", "unplug"),
    ("pen", ("fault", "pen", "on"), ("fault", "pen", "off"), "pen", "GroundFailure", "auto"),
    ("overtemp", ("fault", "overtemp", "on"), ("fault", "overtemp", "off"), "overtemp", "HighTemperature", "auto"),
    ("tamper", ("fault", "tamper", "on"), ("fault", "tamper", "off"), "tamper", "OtherError", "operator"),
    ("adc-silent", ("fault", "adc-silent", "on"), ("fault", "adc-silent", "off"), "adc-silent",
     "PowerMeterFailure", "auto"),
    ("overvoltage", ("grid", "--voltage", "320"), ("grid", "--voltage", "230"), "overvoltage", "OverVoltage", "auto"),
    ("undervoltage", ("grid", "--voltage", "100"), ("grid", "--voltage", "230"), "undervoltage", "UnderVoltage",
     "auto"),
    ("overcurrent", ("fault", "ev-overdraw", "on"), ("fault", "ev-overdraw", "off"), "overcurrent",
     "OverCurrentFailure", "auto"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "inject", "remove", "fault", "code", "recovery"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_trips_reports_and_recovers(
    stack: tuple[Sim, BusTool, MeterSignals], name: str, inject: tuple[str, ...], remove: tuple[str, ...],
    fault: str, code: str, recovery: str,
) -> None:  # fmt: skip
    sim, tool, signals = stack
    if name == "overcurrent":
        sim.ctl("sim", "ev-max", "40")  # the faulty EV will draw 40 A against 32 A offered
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    wait(tool, "charging", lambda: charger(tool, "Status") == "Charging", 15)

    sim.ctl("sim", *inject)
    wait(tool, "PERMIT low", lambda: tool.get("Plant1", "Permit") is False)
    assert signals.wait("FaultRaised", fault) == code
    wait(tool, "connector Faulted", lambda: charger(tool, "Status") == "Faulted")
    assert charger(tool, "ErrorCode") == code
    wait(tool, "contactor open", lambda: tool.get("Plant1", "ContactorClosed") is False)
    wait(tool, "red blinking ring", lambda: red_blinking(tool.get("Plant1", "Led")))

    sim.ctl("sim", *remove)
    if recovery == "unplug":
        sim.ctl("sim", "unplug")
    elif recovery == "operator":
        time.sleep(0.3)
        assert f"cleared {fault}" in sim.ctl("clear-faults").stdout
    assert signals.wait("FaultCleared", fault, timeout=15) == code
    wait(tool, "PERMIT high again", lambda: tool.get("Plant1", "Permit") is True, 15)
    wait(tool, "connector no longer Faulted", lambda: charger(tool, "Status") != "Faulted", 15)
