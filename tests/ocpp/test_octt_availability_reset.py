"""OCTT 1.6 availability, unlock and reset cases against the real stack on the simulated board.

ChangeAvailability is how an operator takes a charger out of service: it must hold across
power cycles (§4.9, TC_034) and must never cut a running transaction (Scheduled, §5.2). Reset
and UnlockConnector end transactions, so the CSMS must hear why (StopTransaction reason)
before the charger goes away (§5.14, §5.18; reference/ocpp16.md §6.10–6.12).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from ocpp.v16 import call

from tests.ocpp.conftest import Charger, remote_start_charging, remote_start_transaction, wait_until
from tests.ocpp.csms import Csms, Frame

pytestmark = pytest.mark.integration

QUIET_S = 1.5  # how long "no StatusNotification" is watched for (the status loop turns every second)
REBOOT_S = 10.0  # a Reset's restart and new BootNotification (takes ~1 s)

def _availability(csms: Csms, connector_id: int, kind: str) -> str:
    return str(csms.call(call.ChangeAvailability(connector_id=connector_id, type=kind))["status"])


def _statuses(csms: Csms, after: int) -> list[tuple[int, str]]:
    return [(f.payload["connectorId"], f.payload["status"]) for f in csms.sent("StatusNotification", after=after)]


def _index(csms: Csms, frame: Frame) -> int:
    return csms.frames.index(frame)


def _rebooted(charger: Charger, csms: Csms, after: int, old_pid: int) -> Frame:
    """The BootNotification of the OCPP service restarted by a Reset. A restart takes ~1 s; if none
    comes, the stuck process is killed (the launcher restarts it, so teardown stays quick) and the
    test fails saying so."""
    try:
        return csms.wait_for("BootNotification", after=after, timeout=REBOOT_S)
    except AssertionError:
        if charger.sim.service_pid("ocpp") == old_pid:
            charger.kill_service("ocpp")
            raise AssertionError(f"Reset: the OCPP service (pid {old_pid}) never restarted: stuck stopping") from None
        raise


def test_change_availability_tc_034_unavailable_persists(start_charger: Callable[..., Charger], csms: Csms) -> None:
    """Inoperative on the connector, then on the charge point (0): SN Unavailable for each; the same
    request again is Accepted with no StatusNotification (EVerest test_change_availability). After a
    power cycle the charger boots Unavailable (TC_034); Operative makes it Available again, and
    Inoperative on connector 0 takes the connector with it."""
    charger = start_charger()
    mark = csms.mark()
    assert _availability(csms, 1, "Inoperative") == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Unavailable"}, after=mark)
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Unavailable"}, after=mark)
    assert charger.status()["status"] == "Unavailable"

    again = csms.mark()
    assert _availability(csms, 1, "Inoperative") == "Accepted"
    assert _availability(csms, 0, "Inoperative") == "Accepted"
    time.sleep(QUIET_S)
    assert _statuses(csms, again) == [], "an unchanged availability must not be reported again"
    assert _availability(csms, 2, "Inoperative") == "Rejected"

    charger.stop()  # power cycle: the same state directory, a new boot
    boot = csms.mark()
    charger = start_charger(status="Unavailable")
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Unavailable"}, after=boot)
    assert "Available" not in {status for _, status in _statuses(csms, boot)}, _statuses(csms, boot)

    operative = csms.mark()
    assert _availability(csms, 0, "Operative") == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=operative)
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"}, after=operative)

    whole = csms.mark()
    assert _availability(csms, 0, "Inoperative") == "Accepted"  # the charge point: every connector
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Unavailable"}, after=whole)
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Unavailable"}, after=whole)


def test_tc_018_1_unlock_with_transaction_and_scheduled_availability(charger: Charger, csms: Csms) -> None:
    """UnlockConnector while charging stops the transaction first (reason UnlockCommand), answers
    Unlocked and frees the plug (TC_018_1, §5.18). Then, in a new transaction, Inoperative is
    Scheduled and the transaction goes on; once it stops the connector is Unavailable, also after
    the unplug (§5.2). A later Operative replaces a Scheduled Inoperative."""
    transaction_id = remote_start_charging(charger, csms)
    mark = csms.mark()
    assert csms.call(call.UnlockConnector(connector_id=1))["status"] == "Unlocked"
    stop = csms.wait_for("StopTransaction", {"transactionId": transaction_id}, after=mark).payload
    assert stop["reason"] == "UnlockCommand"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=mark)
    charger.ctl("sim", "ev-state", "B")  # the EV answers the withdrawn PWM (else the charger waits 6 s)
    wait_until(lambda: charger.status()["locked"] is False, "the plug unlocked")
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)

    transaction_id = remote_start_transaction(charger, csms)  # charging or not: a transaction
    mark = csms.mark()
    assert _availability(csms, 1, "Inoperative") == "Scheduled"
    time.sleep(QUIET_S)
    assert charger.status()["session"] is not None, "Scheduled must not end the transaction"
    assert csms.sent("StopTransaction", after=mark) == []
    assert "Unavailable" not in {status for _, status in _statuses(csms, mark)}, _statuses(csms, mark)
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))["status"] == "Accepted"
    csms.wait_for("StopTransaction", {"transactionId": transaction_id, "reason": "Remote"}, after=mark)
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Unavailable"}, after=mark)
    charger.ctl("sim", "unplug")
    time.sleep(QUIET_S)
    assert charger.status()["status"] == "Unavailable", "Unavailable after the unplug too"
    mark = csms.mark()
    assert _availability(csms, 1, "Operative") == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)

    # a later Operative replaces the Scheduled Inoperative: the connector stays in service
    transaction_id = remote_start_transaction(charger, csms)
    mark = csms.mark()
    assert _availability(csms, 1, "Inoperative") == "Scheduled"
    assert _availability(csms, 1, "Operative") == "Accepted"
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))["status"] == "Accepted"
    csms.wait_for("StopTransaction", {"transactionId": transaction_id}, after=mark)
    time.sleep(QUIET_S)
    assert "Unavailable" not in {status for _, status in _statuses(csms, mark)}, _statuses(csms, mark)
    assert charger.status()["status"] != "Unavailable"


def test_tc_014_soft_reset_without_transaction_keeps_unavailable(charger: Charger, csms: Csms) -> None:
    """Reset Soft without a transaction: Accepted, the OCPP service restarts itself and boots again
    (a new BootNotification), and the connector set Inoperative before is still Unavailable (TC_013/014)."""
    mark = csms.mark()
    assert _availability(csms, 1, "Inoperative") == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Unavailable"}, after=mark)
    old = charger.sim.service_pid("ocpp")
    reset = csms.mark()
    assert csms.call(call.Reset(type="Soft"))["status"] == "Accepted"
    boot = _rebooted(charger, csms, reset, old)
    after_boot = _index(csms, boot)
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Unavailable"}, after=after_boot)
    assert csms.sent("StopTransaction", after=reset) == []
    operative = csms.mark()
    assert _availability(csms, 1, "Operative") == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=operative)


def test_tc_015_hard_reset_with_transaction(charger: Charger, csms: Csms) -> None:
    """Reset Hard while charging: Accepted, the transaction stops with reason HardReset, and that
    StopTransaction reaches the CSMS before the BootNotification of the restarted service (§5.14)."""
    transaction_id = remote_start_charging(charger, csms)
    old = charger.sim.service_pid("ocpp")
    mark = csms.mark()
    assert csms.call(call.Reset(type="Hard"))["status"] == "Accepted"
    stop = csms.wait_for("StopTransaction", {"transactionId": transaction_id}, after=mark)
    assert stop.payload["reason"] == "HardReset"
    boot = _rebooted(charger, csms, mark, old)
    assert _index(csms, stop) < _index(csms, boot)
    csms.wait_for("StatusNotification", {"connectorId": 1}, after=_index(csms, boot))
    assert charger.status()["session"] is None
