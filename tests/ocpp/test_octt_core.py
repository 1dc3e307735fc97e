"""OCTT 1.6 Core test cases against the real stack on the simulated board.

Each test is named after its OCTT id (reference/ocpp16.md §2). The CSMS is the `ocpp`
library's server side on loopback; the charger is `evnetd sim` with every service.
"""

from __future__ import annotations

import time

import pytest
from ocpp.v16 import call

from evnetd.plant.model import CARD_HOLD_S
from tests.ocpp.conftest import CHARGE_POINT_ID, Charger
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration
TAG = "04A1B2C3"


def _charging_by_card(charger: Charger, csms: Csms) -> int:
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    charger.ctl("sim", "rfid", TAG)
    csms.wait_for("Authorize", {"idTag": TAG}, after=mark)
    start = csms.wait_for("StartTransaction", {"idTag": TAG, "connectorId": 1}, after=mark)
    assert isinstance(start.payload["meterStart"], int)
    charger.ctl("sim", "ev-state", "C")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Charging"}, after=mark)
    return int(charger.status()["session"]["transaction_id"])


def test_tc_001_cold_boot(charger: Charger, csms: Csms) -> None:
    boot = csms.wait_for("BootNotification").payload
    assert boot["chargePointVendor"] == "EVNET" and boot["chargePointModel"]
    assert boot["chargeBoxSerialNumber"] == CHARGE_POINT_ID
    assert csms.connections[0][0].endswith("/" + CHARGE_POINT_ID)
    csms.wait_for("StatusNotification", {"connectorId": 0, "status": "Available"})
    assert charger.status()["ocpp_connected"] is True


def test_tc_003_regular_charging_session_plugin_first(charger: Charger, csms: Csms) -> None:
    transaction_id = _charging_by_card(charger, csms)
    assert transaction_id >= 1
    mark = csms.mark()
    time.sleep(CARD_HOLD_S + 0.3)  # the card is taken away
    charger.ctl("sim", "rfid", TAG)
    stop = csms.wait_for("StopTransaction", after=mark).payload
    assert stop["transactionId"] == transaction_id and stop.get("reason", "Local") == "Local"
    assert stop["idTag"] == TAG
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Finishing"}, after=mark)
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)


def test_tc_010_remote_start_and_tc_013_remote_stop(charger: Charger, csms: Csms) -> None:
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    answer = csms.call(call.RemoteStartTransaction(id_tag=TAG, connector_id=1))
    assert answer["status"] == "Accepted"
    start = csms.wait_for("StartTransaction", {"idTag": TAG}, after=mark)
    charger.ctl("sim", "ev-state", "C")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Charging"}, after=mark)
    transaction_id = int(charger.status()["session"]["transaction_id"])
    assert transaction_id >= 1
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id + 100))["status"] == "Rejected"
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))["status"] == "Accepted"
    stop = csms.wait_for("StopTransaction", after=start.at and mark).payload
    assert stop["reason"] == "Remote" and stop["transactionId"] == transaction_id
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)


def test_tc_027_remote_start_on_connector_zero_is_rejected(charger: Charger, csms: Csms) -> None:
    assert csms.call(call.RemoteStartTransaction(id_tag=TAG, connector_id=0))["status"] == "Rejected"
    assert charger.status()["session"] is None


def test_tc_019_get_configuration_and_tc_040_change(charger: Charger, csms: Csms) -> None:
    everything = csms.call(call.GetConfiguration())
    keys = {k["key"]: k for k in everything["configurationKey"]}
    assert len(keys) > 20
    assert keys["NumberOfConnectors"]["readonly"] is True and keys["NumberOfConnectors"]["value"] == "1"
    assert "AuthorizationKey" not in keys or "value" not in keys["AuthorizationKey"]
    one = csms.call(call.GetConfiguration(key=["HeartbeatInterval", "Nonsense"]))
    assert one["unknownKey"] == ["Nonsense"]
    assert csms.call(call.ChangeConfiguration(key="Testing", value="1"))["status"] == "NotSupported"
    assert csms.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="-1"))["status"] == "Rejected"
    assert csms.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="30"))["status"] == "Accepted"
    read_back = csms.call(call.GetConfiguration(key=["MeterValueSampleInterval"]))
    assert read_back["configurationKey"][0]["value"] == "30"


def test_tc_031_unlock_unknown_connector(charger: Charger, csms: Csms) -> None:
    assert csms.call(call.UnlockConnector(connector_id=2))["status"] == "NotSupported"
    assert csms.call(call.UnlockConnector(connector_id=1))["status"] == "Unlocked"


def test_tc_055_trigger_rejected_and_tc_054_trigger(charger: Charger, csms: Csms) -> None:
    assert csms.call(call.TriggerMessage(requested_message="MeterValues", connector_id=2))["status"] == "Rejected"
    mark = csms.mark()
    assert csms.call(call.TriggerMessage(requested_message="Heartbeat"))["status"] == "Accepted"
    csms.wait_for("Heartbeat", after=mark)
    assert csms.call(call.TriggerMessage(requested_message="StatusNotification", connector_id=1))["status"] == (
        "Accepted"
    )
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)
    assert csms.call(call.TriggerMessage(requested_message="DiagnosticsStatusNotification"))["status"] == "Accepted"
    csms.wait_for("DiagnosticsStatusNotification", {"status": "Idle"}, after=mark)
    assert csms.call(call.TriggerMessage(requested_message="MeterValues", connector_id=1))["status"] == "Accepted"
    values = csms.wait_for("MeterValues", after=mark).payload
    assert values["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"


def test_tc_023_minimum_status_duration_skips_short_statuses(charger: Charger, csms: Csms) -> None:
    assert csms.call(call.ChangeConfiguration(key="MinimumStatusDuration", value="5"))["status"] == "Accepted"
    mark = csms.mark()
    charger.ctl("sim", "plug")
    charger.ctl("sim", "unplug")  # Preparing for a moment only: never reported
    charger.ctl("sim", "plug")
    plugged = time.monotonic()
    preparing = csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    assert preparing.at - plugged >= 4.0
    statuses = [(f.payload["connectorId"], f.payload["status"]) for f in csms.sent("StatusNotification", after=mark)]
    assert statuses == [(1, "Preparing")]
    assert csms.call(call.ChangeConfiguration(key="MinimumStatusDuration", value="0"))["status"] == "Accepted"
