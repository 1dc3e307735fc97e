"""A charging session through the whole simulated stack (`evnetd sim`), measured at the plant."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.plant import BusTool
from tests.integration.test_sim_launcher import Sim

pytestmark = pytest.mark.integration


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    running = Sim(tmp_path)
    assert running.ready_line == "READY"
    yield running
    running.stop()


def status(sim: Sim) -> dict:  # type: ignore[type-arg]
    return json.loads(sim.ctl("status", "--json").stdout)


def wait_status(sim: Sim, key: str, value: object, timeout: float = 10.0,  # type: ignore[type-arg]
                tolerance: float = 0.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(sim)
        if current[key] == value or (tolerance and current[key] is not None
                                     and abs(current[key] - value) <= tolerance):  # type: ignore[operator]
            return current
        time.sleep(0.1)
    raise AssertionError(f"{key} never became {value!r}: {current}")


def test_plug_and_charge_session(sim: Sim) -> None:
    tool = BusTool(sim.bus)
    wait_status(sim, "status", "Available")
    since = time.monotonic()  # before the plug: free charging locks at plug-in, maybe before the C
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    # Charging is published from the step the closing is requested, the mirror follows
    charging = wait_status(sim, "contactor_closed", True)
    assert charging["locked"] is True and charging["status"] == "Charging"
    assert charging["offered_current_a"] == 32.0 and charging["limit_source"] == "hardware"
    asked = next(t for t, name, value in tool.events(since) if (name, value) == ("ev-state", "C"))
    closed = next(t for t, name, value in tool.events(since) if (name, value) == ("contactor-closed", "1"))
    assert closed - asked < 3.0  # IEC 61851-1: close within 3 s of a valid C
    locked = next(t for t, name, value in tool.events(since) if (name, value) == ("locked", "1"))
    assert locked < closed  # the plug is locked before the contactor closes
    deadline = time.monotonic() + 10
    while status(sim)["power_w"] is None or status(sim)["power_w"] < 7000:
        assert time.monotonic() < deadline, "the EV never drew full power"
        time.sleep(0.2)
    session = status(sim)["session"]
    assert session["id_tag"] == "FREE" and session["energy_wh"] >= 0

    # EV pauses (C→B): contactor open within 100 ms of the pilot change
    since = time.monotonic()
    sim.ctl("sim", "ev-state", "B")
    wait_status(sim, "contactor_closed", False)
    paused = next(t for t, name, value in tool.events(since) if (name, value) == ("ev-state", "B"))
    opened = next(t for t, name, value in tool.events(since) if (name, value) == ("contactor", "0"))
    assert opened - paused < 0.1
    assert status(sim)["status"] == "SuspendedEV"

    sim.ctl("sim", "unplug")
    after = wait_status(sim, "status", "Available")
    assert after["session"] is None
    wait_status(sim, "locked", False)  # the motor needs a moment


def test_user_limit_lowers_the_offer_and_bad_values_are_refused(sim: Sim) -> None:
    wait_status(sim, "status", "Available")
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    wait_status(sim, "status", "Charging")
    sim.ctl("limit", "16")
    limited = wait_status(sim, "offered_current_a", 16.0)
    assert limited["limit_source"] == "user"
    refused = sim.ctl("limit", "10.5", check=False)
    assert refused.returncode == 1 and "whole amps" in refused.stderr
    assert status(sim)["offered_current_a"] == 16.0


def test_fault_opens_contactor_and_faults_the_connector(sim: Sim) -> None:
    wait_status(sim, "status", "Available")
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    wait_status(sim, "status", "Charging")
    sim.ctl("sim", "fault", "rcd-dc", "on")
    faulted = wait_status(sim, "status", "Faulted")
    assert faulted["error_code"] == "GroundFailure" and faulted["contactor_closed"] is False


def test_stop_and_unlock_commands(sim: Sim) -> None:
    wait_status(sim, "status", "Available")
    refused = sim.ctl("stop", check=False)
    assert refused.returncode == 1 and "no session" in refused.stderr
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    wait_status(sim, "status", "Charging")
    sim.ctl("stop")
    stopped = wait_status(sim, "contactor_closed", False)
    assert stopped["session"] is None
    sim.ctl("unlock")
    wait_status(sim, "locked", False)


def test_limits_from_other_services_expire_to_their_fallback(sim: Sim) -> None:
    """Energy management leases its limits (5 s): hung, it no longer holds the charger up."""
    tool = BusTool(sim.bus)
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    sim.ctl("sim", "site", "--current", "28")  # 40 A fuse − 28 A house − 2 A margin: 10 A
    limited = wait_status(sim, "offered_current_a", 10.0, tolerance=0.5)  # house load as measured
    assert limited["limit_source"] == "site"
    energy = sim.service_pid("energy")
    os.kill(energy, signal.SIGSTOP)  # hung: it stops refreshing
    try:
        fallback = wait_status(sim, "offered_current_a", 6.0, timeout=10)  # the source went quiet
        assert fallback["limit_source"] in ("site", "energy")
    finally:
        os.kill(energy, signal.SIGCONT)
    wait_status(sim, "offered_current_a", 10.0, tolerance=0.5)  # back, and refreshing again
    assert "limit source" in tool.call_error("Charger1", "SetLimit", "sdd", "hardware", "10", "0")
    assert "limit source" in tool.call_error("Charger1", "SetLimit", "sdd", "gremlins", "10", "0")
