"""`evnetd sim` end to end: READY, the sim verbs through evnetctl, clean stop."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.sim import Sim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    running = Sim(tmp_path_factory.mktemp("sim"))
    yield running
    if running.process.poll() is None:
        running.stop()


def test_ready_within_10_s_and_bus_file_written(sim: Sim) -> None:
    assert sim.ready_line == "READY"
    assert sim.ready_after < 10.0
    state_dir = Path(sim.process.args[5])  # type: ignore[index]
    assert (state_dir / "bus").read_text().strip() == sim.bus


def test_sim_verbs_change_the_plant(sim: Sim) -> None:
    sim.ctl("sim", "plug", "--cable", "20")
    sim.ctl("sim", "ev-state", "C")
    sim.ctl("sim", "ev-max", "13")
    sim.ctl("sim", "grid", "--voltage", "240", "--frequency", "50.5")
    sim.ctl("sim", "site", "--current", "12.5")
    sim.ctl("sim", "solar", "--current", "3")
    sim.ctl("sim", "fault", "weld", "on")
    sim.ctl("sim", "rfid", "04A1B2C3")
    plant = sim.status()["plant"]
    assert plant["Plugged"] is True and plant["CableRating"] == 20
    assert plant["EvState"] == "C" and plant["EvMaxCurrent"] == 13.0
    assert plant["GridVoltage"] == 240.0 and plant["GridFrequency"] == 50.5
    assert plant["SiteCurrent"] == 12.5 and plant["SolarCurrent"] == 3.0
    assert plant["Faults"] == ["weld"]
    assert plant["Card"] == "04A1B2C3"
    assert plant["PpOhms"] == 680.0
    sim.ctl("sim", "fault", "weld", "off")
    sim.ctl("sim", "unplug")
    plant = sim.status()["plant"]
    assert plant["Plugged"] is False and plant["Faults"] == [] and plant["EvState"] == "A"


def test_plant_properties_visible_with_busctl(sim: Sim) -> None:
    sim.ctl("sim", "plug")
    out = subprocess.run(
        ["busctl", f"--address={sim.bus}", "get-property", "org.evnet.Plant1",
         "/org/evnet/Plant1", "org.evnet.Plant1", "Plugged"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "b true"
    sim.ctl("sim", "unplug")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sim", "ev-state", "X"), "invalid choice"),
        (("sim", "plug", "--cable", "25"), "invalid choice"),
        (("sim", "fault", "gremlins", "on"), "invalid choice"),
        (("sim", "ev-max", "lots"), "not a number"),
        (("sim", "rfid", "nothex"), "hexadecimal"),
        (("sim", "grid", "--voltage", "900"), "grid voltage 900"),
    ],
)
def test_invalid_cli_input_is_one_clear_line(sim: Sim, args: tuple[str, ...], message: str) -> None:
    def plant() -> dict:  # type: ignore[type-arg]
        """What the sim verbs set (the daemons move the rest: lock, PWM, contactor)."""
        state = sim.status()["plant"]
        keys = ("Plugged", "CableRating", "EvState", "EvMaxCurrent", "GridVoltage", "GridFrequency",
                "SiteCurrent", "SolarCurrent", "Faults")  # fmt: skip
        return {key: state[key] for key in keys}

    before = plant()
    result = sim.ctl(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert plant() == before


def test_unknown_fields_are_null_not_invented(sim: Sim) -> None:
    status = sim.status()
    for key in ("status", "error_code", "pilot", "offered_current_a", "limit_source",
                "voltage_v", "current_a", "power_w", "energy_wh", "temperature_c",
                "locked", "contactor_closed", "ocpp_connected", "session"):  # fmt: skip
        assert key in status
    running = set(status["services"])
    if "charger" not in running:
        assert status["status"] is None and status["locked"] is None
    if "ocpp" not in running:
        assert status["ocpp_connected"] is None


def test_sigterm_stops_everything(tmp_path: Path) -> None:
    sim = Sim(tmp_path)
    assert sim.ready_line == "READY"
    assert sim.descendants, "the launcher should have children"
    assert sim.stop() == 0
    time.sleep(0.2)
    alive = [pid for pid in sim.descendants if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]  # fmt: skip
    assert alive == []


def test_bad_config_exits_78_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "evnet.toml"
    config.write_text('[charger]\nmax_current_a = 40\n')
    result = subprocess.run(
        [sys.executable, "-m", "evnetd", "sim", "--config", str(config), "--state-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=20,
    )  # fmt: skip
    assert result.returncode == 78
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "charger.max_current_a = 40" in lines[0] and "less than or equal to 32" in lines[0]
