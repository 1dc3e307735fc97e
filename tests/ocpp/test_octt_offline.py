"""Boot rules, connection loss and the transaction-message queue (OCTT TC_001, TC_036–TC_039;
EVerest booting.py, broken.py and message_queue.py), against the real stack.

Extra keys are appended to the config's last table, ``[ocpp.keys]``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ocpp.v16 import call

from evnetd.plant.model import CARD_HOLD_S
from tests.ocpp.conftest import Charger
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration
TAG = "04A1B2C3"


def _session_by_card(charger: Charger, csms: Csms, mark: int) -> None:
    charger.ctl("sim", "plug")
    charger.ctl("sim", "rfid", TAG)
    charger.ctl("sim", "ev-state", "C")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Charging"}, after=mark)


def test_tc_001_rejected_boot_waits_the_interval_and_answers_nothing(tmp_path: Path, csms: Csms) -> None:
    csms.behaviour.boot_status = "Rejected"
    csms.behaviour.boot_interval = 3
    charger = Charger(tmp_path, csms)
    try:
        first = csms.wait_for("BootNotification")
        time.sleep(0.5)  # the charger has read the answer
        with pytest.raises(TimeoutError):  # Rejected: the charger must not answer the CSMS (§4.2)
            csms.call(call.GetConfiguration(key=["HeartbeatInterval"]), timeout=1.5)
        csms.behaviour.boot_status = "Accepted"
        second = csms.wait_for("BootNotification", after=csms.frames.index(first) + 1)
        assert second.at - first.at >= 2.9
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        assert not [f for f in csms.frames if f.action == "StatusNotification" and f.at < second.at]
    finally:
        charger.stop()


def test_pending_boot_answers_but_rejects_remote_start(tmp_path: Path, csms: Csms) -> None:
    csms.behaviour.boot_status = "Pending"
    csms.behaviour.boot_interval = 60
    charger = Charger(tmp_path, csms)
    try:
        csms.wait_for("BootNotification")
        assert len(csms.call(call.GetConfiguration())["configurationKey"]) > 20
        assert csms.call(call.RemoteStartTransaction(id_tag=TAG, connector_id=1))["status"] == "Rejected"
        assert not csms.sent("StatusNotification")  # nothing unrequested while Pending
        assert charger.status()["ocpp_registration"] == "Pending"
    finally:
        charger.stop()


def test_reconnect_after_a_dropped_link_sends_no_new_boot(charger: Charger, csms: Csms) -> None:
    boots = len(csms.sent("BootNotification"))
    connections = len(csms.connections)
    csms.drop()
    deadline = time.monotonic() + 10
    while len(csms.connections) == connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(csms.connections) == connections + 1
    mark = csms.mark()
    assert csms.call(call.TriggerMessage(requested_message="Heartbeat"))["status"] == "Accepted"
    csms.wait_for("Heartbeat", after=mark)
    assert len(csms.sent("BootNotification")) == boots


def test_tc_036_meter_values_taken_offline_arrive_in_order_after_reconnect(tmp_path: Path, csms: Csms) -> None:
    charger = Charger(tmp_path, csms, extra='ClockAlignedDataInterval = "0"\n')
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        assert csms.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="1"))["status"] == "Accepted"
        mark = csms.mark()
        _session_by_card(charger, csms, mark)
        csms.wait_for("MeterValues", after=mark)
        csms.refuse()
        time.sleep(4.0)  # offline: samples keep being taken and queued
        assert charger.status()["ocpp_queue"] >= 2
        offline_until = time.monotonic()
        csms.accept()
        deadline = time.monotonic() + 15
        while charger.status()["ocpp_queue"] > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        values = [f for f in csms.sent("MeterValues", after=mark) if "transactionId" in f.payload]
        stamps = [f.payload["meterValue"][0]["timestamp"] for f in values]
        assert stamps == sorted(stamps)
        late = [f for f in values if f.at > offline_until]
        assert len(late) >= 3  # the ones taken while offline, then the live ones
        context = {sv["context"] for f in values for sv in f.payload["meterValue"][0]["sampledValue"]}
        assert context == {"Sample.Periodic"}
    finally:
        charger.stop()


def test_tc_039_offline_transaction_is_delivered_start_then_stop(tmp_path: Path, csms: Csms) -> None:
    charger = Charger(tmp_path, csms, free=True)
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        csms.refuse()
        charger.ctl("sim", "plug")
        charger.ctl("sim", "ev-state", "C")
        time.sleep(1.5)
        charger.ctl("sim", "unplug")
        time.sleep(0.5)
        assert charger.status()["ocpp_queue"] >= 2
        mark = csms.mark()
        csms.accept()
        start = csms.wait_for("StartTransaction", after=mark)
        stop = csms.wait_for("StopTransaction", after=mark)
        assert start.at < stop.at
        assert stop.payload["reason"] == "EVDisconnected"
        assert stop.payload["transactionId"] == csms.last_transaction_id
    finally:
        charger.stop()


def test_start_transaction_retried_after_call_errors_and_stop_uses_the_late_id(tmp_path: Path, csms: Csms) -> None:
    """EVerest broken.py: CALLERRORs, then success within TransactionMessageAttempts."""
    charger = Charger(tmp_path, csms, free=True, extra='TransactionMessageAttempts = "5"\n')
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        csms.behaviour.start_errors = 2
        mark = csms.mark()
        charger.ctl("sim", "plug")
        deadline = time.monotonic() + 15
        while len(csms.sent("StartTransaction", after=mark)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        attempts = csms.sent("StartTransaction", after=mark)
        assert len(attempts) == 3
        assert len({f.unique_id for f in attempts}) == 3  # a new message id for each attempt
        assert attempts[2].at - attempts[1].at >= 1.9  # retry interval × attempts (1 s × 2)
        time.sleep(0.5)
        charger.ctl("sim", "unplug")
        stop = csms.wait_for("StopTransaction", after=mark)
        assert stop.payload["transactionId"] == csms.last_transaction_id
    finally:
        charger.stop()


def test_start_transaction_given_up_after_the_attempts_stop_has_minus_one(tmp_path: Path, csms: Csms) -> None:
    """EVerest message_queue.py: attempts = 3 → exactly three StartTransactions, then stop sent anyway."""
    charger = Charger(tmp_path, csms, free=True, extra='TransactionMessageAttempts = "3"\n')
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        csms.behaviour.start_errors = 1000
        mark = csms.mark()
        charger.ctl("sim", "plug")
        time.sleep(5.0)  # 1 s + 2 s of retry waits, and some more
        assert len(csms.sent("StartTransaction", after=mark)) == 3
        charger.ctl("sim", "unplug")
        stop = csms.wait_for("StopTransaction", after=mark)
        assert stop.payload["transactionId"] == -1 and stop.payload["reason"] == "EVDisconnected"
        assert len(csms.sent("StartTransaction", after=mark)) == 3
    finally:
        charger.stop()


@pytest.mark.parametrize(("stop_on_invalid", "expected"), [("true", "DeAuthorized"), ("false", "SuspendedEVSE")])
def test_tc_037_start_transaction_conf_invalid(tmp_path: Path, csms: Csms, stop_on_invalid: str, expected: str) -> None:
    charger = Charger(tmp_path, csms, extra=f'StopTransactionOnInvalidId = "{stop_on_invalid}"\n')
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        csms.behaviour.start_tag_status = "Invalid"
        mark = csms.mark()
        charger.ctl("sim", "plug")
        charger.ctl("sim", "rfid", TAG)
        charger.ctl("sim", "ev-state", "C")
        csms.wait_for("StartTransaction", after=mark)
        if expected == "DeAuthorized":
            stop = csms.wait_for("StopTransaction", after=mark)
            assert stop.payload["reason"] == "DeAuthorized"
        else:
            csms.wait_for("StatusNotification", {"connectorId": 1, "status": "SuspendedEVSE"}, after=mark)
            assert charger.status()["session"] is not None
            time.sleep(CARD_HOLD_S)
    finally:
        charger.stop()


def test_tc_037_1_offline_start_with_a_cached_tag_and_tc_038_offline_stop(tmp_path: Path, csms: Csms) -> None:
    charger = Charger(tmp_path, csms)
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        assert csms.call(call.ClearCache())["status"] == "Accepted"
        charger.ctl("sim", "rfid", TAG)  # online: the CSMS accepts it and the cache remembers
        csms.wait_for("Authorize", {"idTag": TAG})
        time.sleep(CARD_HOLD_S + 0.3)
        assert charger.status()["session"] is None  # no plug: the authorisation waits, then lapses
        charger.ctl("stop", check=False)
        csms.refuse()
        mark = csms.mark()
        charger.ctl("sim", "plug")
        charger.ctl("sim", "rfid", TAG)  # offline: the cached entry decides (LocalAuthorizeOffline)
        deadline = time.monotonic() + 10
        while charger.status()["session"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert charger.status()["session"] is not None
        time.sleep(CARD_HOLD_S + 0.3)
        charger.ctl("sim", "rfid", TAG)  # offline stop
        deadline = time.monotonic() + 10
        while charger.status()["session"] is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        csms.accept()
        start = csms.wait_for("StartTransaction", {"idTag": TAG}, after=mark)
        stop = csms.wait_for("StopTransaction", after=mark)
        assert start.at < stop.at and stop.payload["reason"] == "Local"
        assert not csms.sent("Authorize", after=mark)
    finally:
        charger.stop()
