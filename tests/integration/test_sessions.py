"""Sessions through the whole stack with cards (local list), app start, charger-side faults,
and a kill -9 of the charger mid-session."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.plant import BusTool
from tests.integration.test_sim_launcher import Sim

pytestmark = pytest.mark.integration

CARD = "04A1B2C3"
CONFIG = f"""
[charger]
auth_mode = "rfid"
local_tokens = ["{CARD.lower()}"]
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Sim, BusTool]]:
    config = tmp_path / "evnet.toml"
    config.write_text(CONFIG)
    sim = Sim(tmp_path / "state", "--config", str(config))
    assert sim.ready_line == "READY"
    yield sim, BusTool(sim.bus)
    sim.stop()


def plain(value: object) -> object:
    """busctl's JSON shows variants as {"type", "data"}: keep the data."""
    if isinstance(value, dict):
        if set(value) == {"type", "data"}:
            return plain(value["data"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def prop(tool: BusTool, name: str) -> Any:
    return plain(tool.get("Charger1", name))


def until(tool: BusTool, what: str, check: object, timeout: float = 10.0) -> None:
    tool.wait_for(check, timeout, what)  # type: ignore[arg-type]


def beeps(tool: BusTool, since: float) -> int:
    return sum(1 for _, name, value in tool.events(since) if (name, value) == ("buzzer", "1"))


def test_card_session_pause_resume_unplug(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    time.sleep(1.0)
    assert prop(tool, "Status") == "Preparing" and tool.get("Plant1", "ContactorClosed") is False
    since = time.monotonic()
    sim.ctl("sim", "rfid", CARD)
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging")
    assert beeps(tool, since) == 1  # accepted
    until(tool, "32 A drawn", lambda: tool.get("Plant1", "EvCurrent") >= 31.9)
    assert prop(tool, "Session")["id_tag"] == CARD
    sim.ctl("sim", "ev-state", "B")
    until(tool, "SuspendedEV", lambda: prop(tool, "Status") == "SuspendedEV")
    until(tool, "contactor open", lambda: tool.get("Plant1", "ContactorClosed") is False, 1)
    sim.ctl("sim", "ev-state", "C")
    until(tool, "charging again", lambda: prop(tool, "Status") == "Charging", 15)  # 10 s re-close spacing
    sim.ctl("sim", "unplug")
    until(tool, "available", lambda: prop(tool, "Status") == "Available")
    sessions: Any = plain(tool.call("Charger1", "Sessions", "u", "1")[0])
    assert sessions[0]["stop_reason"] == "EVDisconnected"
    assert sessions[0]["energy_wh"] > 0


def test_unknown_card_is_rejected_and_app_start_works(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    since = time.monotonic()
    sim.ctl("sim", "rfid", "DEADBEEF")
    time.sleep(1.5)
    assert beeps(tool, since) == 3  # rejected
    assert prop(tool, "Session") == {} and tool.get("Plant1", "ContactorClosed") is False
    sim.ctl("start", "--id-tag", "APP-USER")
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging")
    assert prop(tool, "Session")["id_tag"] == "APP-USER"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("diode", "Faulted", "EVCommunicationError"), ("cp-short", "Faulted", "EVCommunicationError"),
     ("lock-jam", "Faulted", "ConnectorLockFailure")],
)  # fmt: skip
def test_charger_side_faults(stack: tuple[Sim, BusTool], fault: str, status: str, code: str) -> None:
    sim, tool = stack
    sim.ctl("sim", "fault", fault, "on")
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    sim.ctl("start", "--id-tag", "APP-USER")
    until(tool, status, lambda: prop(tool, "Status") == status, 15)
    assert prop(tool, "ErrorCode") == code
    assert tool.get("Plant1", "ContactorClosed") is False
    led = tool.get("Plant1", "Led")
    assert list(led[:3]) == [255, 0, 0]
    sim.ctl("sim", "fault", fault, "off")
    sim.ctl("sim", "unplug")  # these faults clear on unplug
    # a start given while the fault hid the EV may still wait for a plug (Preparing until the
    # connection timeout): the operator withdraws it
    sim.ctl("stop", check=False)
    until(tool, "available again", lambda: prop(tool, "Status") == "Available", 15)


def test_weld_holds_permit_until_an_operator_clears_it(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    sim.ctl("start")
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging")
    sim.ctl("sim", "fault", "weld", "on")
    sim.ctl("sim", "ev-state", "B")  # the contactor should open: it sticks
    until(tool, "PowerSwitchFailure", lambda: prop(tool, "ErrorCode") == "PowerSwitchFailure", 10)
    until(tool, "PERMIT held low", lambda: tool.get("Plant1", "Permit") is False)
    assert "hold" in tool.get("Meter1", "ActiveFaults")


def test_kill_9_of_the_charger_opens_the_contactor_and_keeps_the_session(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    sim.ctl("start", "--id-tag", "APP-USER")
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging")
    until(tool, "some energy", lambda: prop(tool, "Session")["energy_wh"] > 1.0, 20)
    session = prop(tool, "Session")
    charger = tool.pid_of("org.evnet.Charger1")
    since = time.monotonic()
    os.kill(charger, signal.SIGKILL)
    until(tool, "PERMIT low", lambda: tool.get("Plant1", "Permit") is False, 5)
    until(tool, "contactor open", lambda: tool.get("Plant1", "ContactorClosed") is False, 1)
    opened = next(t for t, name, value in tool.events(since) if (name, value) == ("contactor-closed", "0"))
    assert opened - since < 1.0
    until(tool, "the charger back", lambda: prop(tool, "Status") in ("Charging", "SuspendedEVSE", "Preparing"), 20)
    resumed = prop(tool, "Session")
    assert resumed["id"] == session["id"] and resumed["energy_wh"] >= session["energy_wh"] - 0.01


def test_token_from_the_web_or_an_app_and_stop_with_a_reason(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    assert "must not be empty" in tool.call_error("Charger1", "PresentToken", "s", "")
    tool.call("Charger1", "PresentToken", "s", CARD.lower())
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging")
    assert "stop reason" in tool.call_error("Charger1", "StopSessionWithReason", "s", "Because")
    tool.call("Charger1", "StopSessionWithReason", "s", "DeAuthorized")
    until(tool, "stopped", lambda: prop(tool, "Session") == {})
    sessions: Any = plain(tool.call("Charger1", "Sessions", "u", "1")[0])
    assert sessions[0]["stop_reason"] == "DeAuthorized"
