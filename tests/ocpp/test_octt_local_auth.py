"""OCTT 1.6 Local Authorization List and authorization-cache cases against the real stack.

Why these matter: with LocalPreAuthorize the charger starts on what it already knows, without
waiting for the CSMS (OCPP 1.6 §3.5); a charger that still sends Authorize.req is merely slow,
but one that trusts a stale or wrong entry gives away energy. So the cases check both that no
Authorize.req goes out when the list or the cache decides, and that one does go out when they
must not (cleared cache, a tag known as not valid).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from ocpp.v16 import call

from evnetd.plant.model import CARD_HOLD_S
from tests.ocpp.conftest import VALID_TAG, Charger, remote_start_charging, remote_start_transaction, wait_until
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration

OTHER_TAG = "0A0B0C0D"
INVALID_TAG = "DEADBEEF"


def _entry(id_tag: str, status: str = "Accepted") -> dict[str, Any]:
    return {"id_tag": id_tag, "id_tag_info": {"status": status}}


def _send_list(csms: Csms, version: int, update: str, entries: list[dict[str, Any]] | None = None) -> str:
    request = call.SendLocalList(list_version=version, update_type=update, local_authorization_list=entries)
    return str(csms.call(request)["status"])


def _version(csms: Csms) -> int:
    return int(csms.call(call.GetLocalListVersion())["listVersion"])


def _change(csms: Csms, key: str, value: str) -> None:
    assert csms.call(call.ChangeConfiguration(key=key, value=value))["status"] == "Accepted", key


def _stop_and_unplug(charger: Charger, csms: Csms, transaction_id: int) -> None:
    mark = csms.mark()
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))["status"] == "Accepted"
    csms.wait_for("StopTransaction", {"transactionId": transaction_id}, after=mark)
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)


def test_tc_042_tc_043_local_list_versions(charger: Charger, csms: Csms) -> None:
    """Disabled list: version -1 and SendLocalList NotSupported (TC_042_1, TC_043_1). Enabled: an
    empty Full list is version 0 (TC_042_2); Full then Differential both Accepted (TC_043); a
    Differential older than the list is VersionMismatch and changes nothing (TC_043_2)."""
    _change(csms, "LocalAuthListEnabled", "false")
    assert _version(csms) == -1
    assert _send_list(csms, 1, "Full", [_entry(VALID_TAG)]) == "NotSupported"
    _change(csms, "LocalAuthListEnabled", "true")

    assert _send_list(csms, 1, "Full") == "Accepted"
    assert _version(csms) == 0

    assert _send_list(csms, 1, "Full", [_entry(VALID_TAG)]) == "Accepted"
    assert _version(csms) == 1
    assert _send_list(csms, 2, "Differential", [_entry(OTHER_TAG, "Blocked")]) == "Accepted"
    assert _version(csms) == 2

    assert _send_list(csms, 2, "Full", [_entry(VALID_TAG)]) == "Accepted"
    assert _version(csms) == 2
    assert _send_list(csms, 5, "Differential", [_entry(OTHER_TAG)]) == "Accepted"
    assert _version(csms) == 5
    assert _send_list(csms, 4, "Differential", [_entry(INVALID_TAG)]) == "VersionMismatch"
    assert _version(csms) == 5


def test_tc_008_start_with_id_in_local_list(start_charger: Callable[..., Charger], csms: Csms) -> None:
    """LocalPreAuthorize, cache off, list on: a listed tag starts at once, by RemoteStart (with
    AuthorizeRemoteTxRequests) and by card, and no Authorize.req is ever sent for it."""
    keys = {
        "LocalPreAuthorize": "true", "AuthorizationCacheEnabled": "false", "LocalAuthListEnabled": "true",
        "AuthorizeRemoteTxRequests": "true",
    }  # fmt: skip
    charger = start_charger(keys=keys)
    mark = csms.mark()
    assert _version(csms) == 0
    assert _send_list(csms, 1, "Full", [_entry(VALID_TAG)]) == "Accepted"
    transaction_id = remote_start_charging(charger, csms)  # StartTransaction and SN Charging
    _stop_and_unplug(charger, csms, transaction_id)

    card = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=card)
    charger.ctl("sim", "rfid", VALID_TAG)
    csms.wait_for("StartTransaction", {"idTag": VALID_TAG}, after=card)
    assert csms.sent("Authorize", after=mark) == [], "the local list should have decided"


def test_tc_023_invalid_tc_007_cached_id_tc_061_clear_cache(start_charger: Callable[..., Charger], csms: Csms) -> None:
    """LocalPreAuthorize with the cache: a tag the CSMS calls Invalid starts nothing and is asked
    about again next time (a not-valid cache entry never decides online, §3.5.1); an Accepted tag
    is asked about once, then starts from the cache (TC_007); after ClearCache it is asked about
    again (TC_061)."""
    keys = {"LocalPreAuthorize": "true", "AuthorizeRemoteTxRequests": "true", "AuthorizationCacheEnabled": "true"}
    charger = start_charger(keys=keys)
    csms.behaviour.tags[INVALID_TAG] = "Invalid"
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    charger.ctl("sim", "rfid", INVALID_TAG)
    csms.wait_for("Authorize", {"idTag": INVALID_TAG}, after=mark)
    time.sleep(CARD_HOLD_S + 0.3)  # the card is taken away, and presented again
    charger.ctl("sim", "rfid", INVALID_TAG)
    wait_until(lambda: len(csms.sent("Authorize", after=mark)) == 2, "a second Authorize for the invalid tag")
    assert charger.status()["session"] is None
    assert csms.sent("StartTransaction", after=mark) == []
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)

    first = csms.mark()
    transaction_id = remote_start_transaction(charger, csms)
    csms.wait_for("Authorize", {"idTag": VALID_TAG}, after=first)
    _stop_and_unplug(charger, csms, transaction_id)

    second = csms.mark()
    transaction_id = remote_start_transaction(charger, csms)
    assert csms.sent("Authorize", after=second) == [], "the cached tag should have started without Authorize"
    _stop_and_unplug(charger, csms, transaction_id)

    assert csms.call(call.ClearCache())["status"] == "Accepted"
    third = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=third)
    charger.ctl("sim", "rfid", VALID_TAG)
    csms.wait_for("Authorize", {"idTag": VALID_TAG}, after=third)
    csms.wait_for("StartTransaction", {"idTag": VALID_TAG}, after=third)
