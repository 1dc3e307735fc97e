"""Nothing lost: kill -9 of the OCPP service at random points of 50 sessions.

The CSMS must receive every StartTransaction and StopTransaction, each session's Start
before its Stop and the sessions in order. Duplicates are allowed (a kill between the
CSMS's answer and our bookkeeping re-sends a message, as OCPP-J permits); losses and
reordering are not.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time

import pytest

from tests.ocpp.conftest import Charger
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration
SESSIONS = 50


@pytest.fixture
def free_charger(tmp_path, csms: Csms):  # type: ignore[no-untyped-def]
    running = Charger(tmp_path, csms, free=True)
    csms.wait_for("BootNotification")
    yield running
    running.stop()


def _kill_ocpp(charger: Charger) -> None:
    with contextlib.suppress(LookupError):  # it is being restarted right now
        os.kill(charger.sim.service_pid("ocpp"), signal.SIGKILL)


def test_kill_9_at_random_points_of_50_sessions_loses_nothing(free_charger: Charger, csms: Csms) -> None:
    rng = random.Random(1234)
    for n in range(SESSIONS):
        free_charger.ctl("sim", "plug")
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 0.4))
            _kill_ocpp(free_charger)
        time.sleep(1.05)  # StartTransaction timestamps have whole seconds: one session per second
        free_charger.ctl("sim", "unplug")
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.3))
            _kill_ocpp(free_charger)
        time.sleep(0.3)
        if n % 10 == 9:
            csms.drop()  # connection losses as well as crashes
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        starts = {f.payload["timestamp"] for f in csms.sent("StartTransaction")}
        if len(starts) >= SESSIONS and len(csms.sent("StopTransaction")) >= SESSIONS:
            break
        time.sleep(0.5)
    transactions = [f for f in csms.frames if f.action in ("StartTransaction", "StopTransaction")]
    order: list[tuple[str, str]] = []
    for frame in transactions:
        entry = (frame.action, frame.payload["timestamp"])
        if entry not in order:
            order.append(entry)
    starts = [t for action, t in order if action == "StartTransaction"]
    stops = [t for action, t in order if action == "StopTransaction"]
    assert len(starts) == SESSIONS, f"{len(starts)} distinct StartTransactions"
    assert len(stops) == SESSIONS, f"{len(stops)} distinct StopTransactions"
    assert starts == sorted(starts) and stops == sorted(stops)
    for start, stop in zip(starts, stops, strict=True):
        assert order.index(("StartTransaction", start)) < order.index(("StopTransaction", stop))
        assert start <= stop
