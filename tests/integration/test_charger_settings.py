"""The owner's settings, the card list and the fault history through the whole stack: changed
over D-Bus and evnetctl, applied at once, kept across a kill -9 of the charger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integration.plant import BusTool
from tests.integration.sim import Sim
from tests.integration.test_sessions import plain, prop, until

pytestmark = pytest.mark.integration

CONFIG = """
[charger]
led_brightness = "low"
local_tokens = ["0badcafe"]
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Sim, BusTool]]:
    config = tmp_path / "evnet.toml"
    config.write_text(CONFIG)
    sim = Sim(tmp_path / "state", "--config", str(config))
    assert sim.ready_line == "READY", sim.log()
    yield sim, BusTool(sim.bus)
    sim.stop()


def settings(tool: BusTool) -> dict[str, Any]:
    return prop(tool, "Settings")  # type: ignore[no-any-return]


def test_settings_apply_at_once_are_all_or_nothing_and_survive_kill_9(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    assert settings(tool) == {
        "user_max_a": 32.0, "auth_mode": "free", "offline_charge": True, "keep_awake": "off",
        "led_brightness": "low", "station_name": "EVNET charger",
    }  # fmt: skip
    until(tool, "a low ring", lambda: tool.get("Plant1", "Led")[3] == pytest.approx(0.15))
    sim.ctl("sim", "plug")
    sim.ctl("sim", "ev-state", "C")
    until(tool, "32 A offered", lambda: prop(tool, "OfferedCurrent") == 32.0)

    tool.call("Charger1", "ChangeSettings", "a{sv}", "3", "user_max_a", "d", "16", "led_brightness", "s", "high",
              "station_name", "s", "Garage")  # fmt: skip
    until(tool, "16 A offered", lambda: prop(tool, "OfferedCurrent") == 16.0, 3)
    assert prop(tool, "LimitSource") == "user"
    until(tool, "a bright ring", lambda: tool.get("Plant1", "Led")[3] == 1.0, 1)

    refused = tool.call_error("Charger1", "ChangeSettings", "a{sv}", "2", "user_max_a", "d", "20",
                              "keep_awake", "s", "never")  # fmt: skip
    assert "keep_awake: 'never': must be one of off, minimum, pulse" in refused
    assert "user_max_a: '20': must be of D-Bus type 'd', not 's'" in tool.call_error(
        "Charger1", "ChangeSettings", "a{sv}", "1", "user_max_a", "s", "20"
    )
    assert "whole amps from 6 to 32" in sim.ctl("limit", "5", check=False).stderr
    sim.ctl("settings", "offline_charge", "false")
    sim.ctl("tokens", "add", "04:a1:b2:c3", "Anna")
    assert settings(tool)["user_max_a"] == 16.0  # nothing of the refused changes was applied
    assert "offline_charge = false" in sim.ctl("settings").stdout
    assert sim.ctl("settings", "station_name").stdout == 'station_name = "Garage"\n'

    os.kill(tool.pid_of("org.evnet.Charger1"), signal.SIGKILL)
    until(tool, "the charger back", lambda: prop(tool, "Pilot") != "", 20)
    assert settings(tool) == {
        "user_max_a": 16.0, "auth_mode": "free", "offline_charge": False, "keep_awake": "off",
        "led_brightness": "high", "station_name": "Garage",
    }  # fmt: skip
    assert prop(tool, "Tokens") == [["0BADCAFE", ""], ["04A1B2C3", "Anna"]]
    until(tool, "16 A offered again", lambda: prop(tool, "OfferedCurrent") == 16.0, 10)


def test_cards_learned_added_removed_and_the_auth_mode_changed_at_runtime(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    assert prop(tool, "Tokens") == [["0BADCAFE", ""]]  # the config's list at first start
    refused = sim.ctl("tokens", "add", "xyz", check=False)
    assert refused.returncode == 1 and "uid: 'xyz': must be a card UID of 4, 7 or 10 bytes in hex" in refused.stderr
    assert "not in the token list" in tool.call_error("Charger1", "RemoveToken", "s", "11223344")
    sim.ctl("tokens", "remove", "0badcafe")
    assert prop(tool, "Tokens") == []

    learner = subprocess.Popen(
        [sys.executable, "-m", "evnetd.cli.evnetctl", "--bus", sim.bus, "tokens", "learn", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    until(tool, "learning", lambda: prop(tool, "Learning") is True)
    sim.ctl("sim", "rfid", "0a0b0c0d")
    out, _ = learner.communicate(timeout=15)
    assert (learner.returncode, out) == (0, "0A0B0C0D\n")
    assert prop(tool, "Tokens") == [["0A0B0C0D", ""]] and prop(tool, "Learning") is False
    assert prop(tool, "Status") != "Preparing" and prop(tool, "Session") == {}  # learned, not authorised

    sim.ctl("settings", "auth_mode", "rfid")
    until(tool, "the card taken away", lambda: tool.get("Plant1", "Card") == "")  # a card held is one presentation
    sim.ctl("sim", "plug")
    time.sleep(1.0)
    assert prop(tool, "Session") == {}  # no plug-and-charge in rfid mode
    sim.ctl("sim", "rfid", "0A0B0C0D")
    until(tool, "a session for the learned card", lambda: prop(tool, "Session").get("id_tag") == "0A0B0C0D")

    tool.call("Charger1", "LearnToken", "d", "0.5")
    until(tool, "learning", lambda: prop(tool, "Learning") is True, 0.5)
    until(tool, "learning timed out", lambda: prop(tool, "Learning") is False, 2)
    assert prop(tool, "Tokens") == [["0A0B0C0D", ""]]


def test_fault_history_of_the_charger_and_the_meter(stack: tuple[Sim, BusTool]) -> None:
    sim, tool = stack
    started = time.time()
    sim.ctl("sim", "fault", "tamper", "on")
    until(tool, "Faulted", lambda: prop(tool, "Status") == "Faulted")
    sim.ctl("sim", "fault", "tamper", "off")
    sim.ctl("clear-faults")
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    sim.ctl("sim", "plug")
    sim.ctl("sim", "fault", "cp-short", "on")

    def injected() -> list[dict[str, Any]]:  # a loaded machine may add the meter's adc-silent
        everything: Any = plain(tool.call("Charger1", "Faults", "u", "10")[0])
        return [f for f in everything if f["fault"] in ("tamper", "cp-short")]

    until(tool, "cp-short in the history", lambda: len(injected()) == 2, 20)
    assert prop(tool, "Status") == "Faulted"
    history = injected()
    rows = [(f["source"], f["fault"], f["error_code"], f["info"], f["cleared_at"] == 0) for f in history]
    assert rows == [
        ("charger", "cp-short", "EVCommunicationError", "cp-short", True),
        ("meter", "tamper", "OtherError", "", False),
    ]
    assert all(started <= f["raised_at"] <= time.time() for f in history)
    assert history[1]["raised_at"] < history[1]["cleared_at"] <= history[0]["raised_at"]
    printed = sim.ctl("faults", "--history").stdout.splitlines()
    lines = [line for line in printed if "tamper" in line or "cp-short" in line]
    assert len(lines) == 2 and "active" in lines[0] and "cp-short" in lines[0] and "tamper" in lines[1]
