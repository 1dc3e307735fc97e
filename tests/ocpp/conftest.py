"""Fixtures for the OCPP tests: a CSMS on loopback and the whole charger connected to it."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.integration.sim import Sim
from tests.ocpp.csms import Csms

CHARGE_POINT_ID = "CP-TEST-1"
VALID_TAG = "04A1B2C3"
CONFIG = """
[general]
charge_point_id = "{cp}"
[charger]
auth_mode = "{auth}"
offline_charge = false
[ocpp]
reconnect_min_s = 0.2
reconnect_max_s = 1.0
{ocpp_settings}[ocpp.keys]
HeartbeatInterval = "{heartbeat}"
MeterValueSampleInterval = "0"
TransactionMessageRetryInterval = "1"
MinimumStatusDuration = "0"
"""


class Charger:
    """The simulated charger (`evnetd sim`) connected to a test CSMS."""

    def __init__(
        self,
        tmp: Path,
        csms: Csms,
        heartbeat: int = 300,
        extra: str = "",
        free: bool = False,
        keys: Mapping[str, str] | None = None,
        ocpp_settings: str = "",
    ) -> None:
        """``keys``: more OCPP configuration keys, rendered into CONFIG's ``[ocpp.keys]`` table (a
        second ``[ocpp.keys]`` header in ``extra`` would be invalid TOML); ``ocpp_settings``: TOML
        lines for the ``[ocpp]`` table."""
        self.csms = csms
        self.state_dir = tmp / "state"
        self.config = tmp / "evnet.toml"
        auth = "free" if free else "ocpp"
        key_lines = "".join(f"{name} = {json.dumps(value)}\n" for name, value in (keys or {}).items())
        text = CONFIG.format(cp=CHARGE_POINT_ID, heartbeat=heartbeat, auth=auth, ocpp_settings=ocpp_settings)
        self.config.write_text(text + key_lines + extra)
        self.sim = Sim(self.state_dir, "--config", str(self.config), "--csms", csms.url)
        assert self.sim.ready_line == "READY", self.sim.log()

    def ctl(self, *args: str, check: bool = True) -> str:
        return self.sim.ctl(*args, check=check).stdout

    def status(self) -> dict:  # type: ignore[type-arg]
        return self.sim.status()

    def stop(self) -> None:
        if self.sim.process.poll() is None:
            self.sim.stop()

    def kill_service(self, name: str) -> int:
        """kill -9 one service of the stack (the launcher restarts it, as systemd would); its old pid."""
        pid = self.sim.service_pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid


@pytest.fixture
def csms() -> Iterator[Csms]:
    server = Csms().start()
    yield server
    server.close()


@pytest.fixture
def charger(tmp_path: Path, csms: Csms) -> Iterator[Charger]:
    running = Charger(tmp_path, csms)
    csms.wait_for("BootNotification")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"})
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
    yield running
    running.stop()


@pytest.fixture
def start_charger(tmp_path: Path, csms: Csms) -> Iterator[Callable[..., Charger]]:
    """A factory for chargers with their own settings (``Charger``'s keyword arguments).

    It returns once the charger has booted and reported connector 1 in ``status`` (a charger
    restarted Inoperative comes back Unavailable). Calling it again with the same ``tmp_path``
    after ``stop()`` restarts the charger on its kept state (a power cycle). Every charger it
    started is stopped at teardown.
    """
    started: list[Charger] = []

    def start(status: str = "Available", **kwargs: object) -> Charger:
        mark = csms.mark()
        running = Charger(tmp_path, csms, **kwargs)  # type: ignore[arg-type]
        started.append(running)
        csms.wait_for("BootNotification", after=mark)
        csms.wait_for("StatusNotification", {"connectorId": 1, "status": status}, after=mark)
        return running

    yield start
    for running in started:
        running.stop()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``predicate`` (e.g. on ``evnetctl status``) until true; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def remote_start_transaction(
    charger: Charger, csms: Csms, id_tag: str = VALID_TAG, profile: dict[str, object] | None = None
) -> int:
    """plug → Preparing → RemoteStart (Accepted) → StartTransaction; the transaction id once the
    charger knows it. The EV does not ask for energy: use this where a transaction is enough (the
    contactor closes at most every 10 s, so every Charging costs time)."""
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    request = call.RemoteStartTransaction(id_tag=id_tag, connector_id=1, charging_profile=profile)
    assert csms.call(request)["status"] == "Accepted"
    csms.wait_for("StartTransaction", {"idTag": id_tag, "connectorId": 1}, after=mark)
    wait_until(lambda: (charger.status()["session"] or {}).get("transaction_id") is not None, "the transaction id")
    return int(charger.status()["session"]["transaction_id"])


def remote_start_charging(
    charger: Charger, csms: Csms, id_tag: str = VALID_TAG, profile: dict[str, object] | None = None
) -> int:
    """OCTT's reusable *Charging* state: `remote_start_transaction`, then the EV asks (state C) → SN
    Charging; returns the transaction id."""
    mark = csms.mark()
    transaction_id = remote_start_transaction(charger, csms, id_tag, profile)
    charger.ctl("sim", "ev-state", "C")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Charging"}, after=mark)
    return transaction_id
