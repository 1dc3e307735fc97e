"""OCPP-J 1.6 RPC robustness through the real OCPP service (not the RPC layer alone).

A CSMS bug or a line error must cost one CALLERROR (with the code OCPP-J 1.6 §4.2.3 names,
DESIGN §10.9, EVerest ``ocpp16/broken.py``), never the connection or the service: the charger
goes on answering on the same websocket in the same process. The same holds for a CSMS
whose answers to the charger's own CALLs break the schema (reference/ocpp16.md §1.8 pitfall 4).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from ocpp.v16 import call

from evnetd.plant.model import CARD_HOLD_S
from tests.ocpp.conftest import VALID_TAG, Charger
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration


def _error(csms: Csms, text: str) -> tuple[str, str]:
    """(unique id, error code) of the CALLERROR the charger answers ``text`` with."""
    answer = csms.call_raw(text, timeout=5)
    assert answer[0] == 4, f"expected a CALLERROR for {text!r}, got {answer}"
    assert isinstance(answer[3], str) and isinstance(answer[4], dict), answer
    return answer[1], answer[2]


def _frame(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, unique_id, action, payload])


def _link_works(csms: Csms) -> None:
    mark = csms.mark()
    assert csms.call(call.TriggerMessage(requested_message="Heartbeat"))["status"] == "Accepted"
    csms.wait_for("Heartbeat", after=mark, timeout=5)


def test_rpc_errors_keep_the_connection(charger: Charger, csms: Csms) -> None:
    """Each broken CALL gets its 1.6 CALLERROR with its own unique id; afterwards the same
    connection of the same process still works."""
    pid = charger.sim.service_pid("ocpp")
    connections = len(csms.connections)
    assert _error(csms, '[2, "bad-json", "Heartbeat", {') == ("bad-json", "GenericError")
    assert _error(csms, _frame("unknown", "FooBar", {})) == ("unknown", "NotImplemented")
    assert _error(csms, _frame("unsupported", "BootNotification", {"chargePointVendor": "X",
                                                                   "chargePointModel": "Y"})) == (
        "unsupported", "NotSupported",
    )  # fmt: skip
    assert _error(csms, _frame("missing", "ChangeAvailability", {"connectorId": 1})) == (
        "missing", "FormationViolation",
    )  # fmt: skip
    assert _error(csms, _frame("enum", "ChangeAvailability", {"connectorId": 1, "type": "Sideways"})) == (
        "enum", "PropertyConstraintViolation",
    )  # fmt: skip
    assert _error(csms, _frame("type", "ChangeAvailability", {"connectorId": "one", "type": "Operative"})) == (
        "type", "FormationViolation",
    )  # fmt: skip
    assert _error(csms, _frame("long", "RemoteStartTransaction", {"idTag": "X" * 21})) == (
        "long", "FormationViolation",
    )  # fmt: skip
    assert _error(csms, '[2, "short-frame", "Heartbeat"]') == ("short-frame", "FormationViolation")
    assert charger.status()["session"] is None, "a refused RemoteStartTransaction started something"
    _link_works(csms)
    assert len(csms.connections) == connections, "the charger reconnected"
    assert charger.sim.service_pid("ocpp") == pid, "the OCPP service restarted"


def test_schema_breaking_csms_answers_do_not_crash(charger: Charger, csms: Csms) -> None:
    """Authorize.conf with an empty idTagInfo (EVerest test_wrong_auth_payload) is a failure to
    process, judged by the offline rules (an unknown tag: refused), not a crash; a Heartbeat.conf
    without currentTime likewise. The service and its connection live on."""
    pid = charger.sim.service_pid("ocpp")
    connections = len(csms.connections)
    csms.behaviour.raw_answers["Authorize"] = {"idTagInfo": {}}
    csms.behaviour.raw_answers["Heartbeat"] = {}
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    charger.ctl("sim", "rfid", VALID_TAG)
    csms.wait_for("Authorize", {"idTag": VALID_TAG}, after=mark)
    assert csms.call(call.TriggerMessage(requested_message="Heartbeat"))["status"] == "Accepted"
    csms.wait_for("Heartbeat", after=mark)
    time.sleep(CARD_HOLD_S)
    assert charger.status()["session"] is None
    assert csms.sent("StartTransaction", after=mark) == []

    csms.behaviour.raw_answers.clear()
    _link_works(csms)
    assert len(csms.connections) == connections, "the charger reconnected"
    assert charger.sim.service_pid("ocpp") == pid, "the OCPP service restarted"
    charger.ctl("sim", "rfid", VALID_TAG)  # a sane CSMS again: the same card now charges
    csms.wait_for("StartTransaction", {"idTag": VALID_TAG}, after=mark)
