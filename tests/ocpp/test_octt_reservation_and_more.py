"""Reservation (OCTT TC_046–TC_052), fault behaviour (TC_041), DataTransfer (TC_062),
heartbeats (TC_001), power failure (TC_032_2) and sampled meter values with transactionData.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocpp.v16 import call

from evnetd.plant.model import CARD_HOLD_S
from tests.ocpp.conftest import VALID_TAG, Charger, wait_until
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration
OTHER_TAG = "0BADCAFE"


def _expiry(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reserve(csms: Csms, seconds: float, reservation_id: int = 7, connector_id: int = 1) -> str:
    request = call.ReserveNow(connector_id=connector_id, expiry_date=_expiry(seconds), id_tag=VALID_TAG,
                              reservation_id=reservation_id)  # fmt: skip
    return str(csms.call(request)["status"])


def test_tc_046_1_reserved_connector_local_start(charger: Charger, csms: Csms) -> None:
    mark = csms.mark()
    assert _reserve(csms, 120) == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Reserved"}, after=mark)
    charger.ctl("sim", "plug")
    charger.ctl("sim", "rfid", OTHER_TAG)  # another tag: refused, the reservation stands
    time.sleep(CARD_HOLD_S + 0.3)
    assert charger.status()["session"] is None
    charger.ctl("sim", "rfid", VALID_TAG)
    start = csms.wait_for("StartTransaction", {"idTag": VALID_TAG}, after=mark)
    assert start.payload["reservationId"] == 7
    assert _reserve(csms, 60, reservation_id=8) == "Occupied"  # TC_048_2


def test_tc_047_expiry_tc_051_cancel_tc_052_unknown(charger: Charger, csms: Csms) -> None:
    mark = csms.mark()
    assert _reserve(csms, 3) == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Reserved"}, after=mark)
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark, timeout=10)
    mark = csms.mark()
    assert _reserve(csms, 120, reservation_id=9) == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Reserved"}, after=mark)
    assert csms.call(call.CancelReservation(reservation_id=99))["status"] == "Rejected"
    assert csms.call(call.CancelReservation(reservation_id=9))["status"] == "Accepted"
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)
    assert _reserve(csms, 60, connector_id=0) == "Rejected"  # ReserveConnectorZeroSupported is false
    assert csms.call(call.ChangeAvailability(connector_id=1, type="Inoperative"))["status"] == "Accepted"
    assert _reserve(csms, 60, reservation_id=10) == "Unavailable"  # TC_048_3


def test_tc_041_fault_behaviour(charger: Charger, csms: Csms) -> None:
    mark = csms.mark()
    charger.ctl("sim", "fault", "rcd-ac", "on")
    faulted = csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Faulted"}, after=mark)
    assert faulted.payload["errorCode"] == "GroundFailure"
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Faulted"}, after=mark)
    assert csms.call(call.RemoteStartTransaction(id_tag=VALID_TAG, connector_id=1))["status"] == "Rejected"
    assert not csms.sent("StartTransaction", after=mark)
    charger.ctl("sim", "fault", "rcd-ac", "off")
    charger.ctl("clear-faults", check=False)
    wait_until(lambda: charger.status()["status"] == "Available", "recovery", timeout=30)


def test_tc_062_data_transfer_unknown_vendor(charger: Charger, csms: Csms) -> None:
    answer = csms.call(call.DataTransfer(vendor_id="com.example", message_id="x", data="y"))
    assert answer["status"] == "UnknownVendorId" and answer.get("data") is None


def test_tc_001_heartbeats_at_the_boot_interval(tmp_path: Path, csms: Csms) -> None:
    csms.behaviour.boot_interval = 1
    charger = Charger(tmp_path, csms)
    try:
        booted = csms.wait_for("BootNotification")
        first = csms.wait_for("Heartbeat", after=csms.frames.index(booted))
        second = csms.wait_for("Heartbeat", after=csms.frames.index(first) + 1)
        assert 0.8 <= second.at - first.at <= 1.6
    finally:
        charger.stop()


def test_sampled_meter_values_and_transaction_data(tmp_path: Path, csms: Csms) -> None:
    keys = {"StopTxnSampledData": "Energy.Active.Import.Register", "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,Voltage"}  # noqa: E501
    charger = Charger(tmp_path, csms, keys=keys)
    try:
        csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
        assert csms.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="1"))["status"] == "Accepted"
        mark = csms.mark()
        charger.ctl("sim", "plug")
        charger.ctl("sim", "rfid", VALID_TAG)
        charger.ctl("sim", "ev-state", "C")
        start = csms.wait_for("StartTransaction", after=mark)
        time.sleep(3.5)
        charger.ctl("sim", "unplug")
        stop = csms.wait_for("StopTransaction", after=mark).payload
        values = [f for f in csms.sent("MeterValues", after=mark) if f.at > start.at]
        assert len(values) >= 2
        sampled = values[-1].payload["meterValue"][0]["sampledValue"]
        assert {v["measurand"] for v in sampled} == {"Energy.Active.Import.Register", "Power.Active.Import", "Voltage"}
        assert all(v["context"] == "Sample.Periodic" for v in sampled)
        contexts = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
        assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
        assert stop["meterStop"] >= start.payload["meterStart"]
    finally:
        charger.stop()


def test_tc_032_2_power_failure_without_backup(tmp_path: Path, csms: Csms) -> None:
    """The whole charger dies (SIGKILL of every process) mid-transaction and comes back with the
    EV unplugged: the transaction is stopped with reason PowerLoss after the new boot."""
    charger = Charger(tmp_path, csms)
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})  # booted
    mark = csms.mark()
    charger.ctl("sim", "plug")
    charger.ctl("sim", "rfid", VALID_TAG)
    charger.ctl("sim", "ev-state", "C")
    start = csms.wait_for("StartTransaction", after=mark)
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Charging"}, after=mark)
    for pid in sorted(charger.sim.descendants):  # power cut: nobody gets to clean up
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    charger.sim.process.kill()
    charger.sim.process.wait()
    time.sleep(0.5)
    again = Charger(tmp_path, csms)  # the plant starts unplugged: the EV is gone
    try:
        stop = csms.wait_for("StopTransaction", after=mark, timeout=30).payload
        assert stop["reason"] == "PowerLoss"
        assert stop["transactionId"] == csms.last_transaction_id
        assert stop["meterStop"] >= start.payload["meterStart"]
        assert len(csms.sent("BootNotification", after=mark)) == 1
    finally:
        again.stop()

