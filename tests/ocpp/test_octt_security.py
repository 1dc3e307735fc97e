"""OCTT 1.6 security cases (Security Whitepaper profile 1: HTTP Basic auth) against the real stack.

The AuthorizationKey is the charger's password at the CSMS: it must reach the CSMS in the
upgrade request exactly as `Basic base64(<chargePointId>:<key>)` (TC_085, reference/ocpp16.md
§1.7), a new one must be used at once (TC_073), it must never be read back (GetConfiguration),
and the security profile can only go up (TC_084).
"""

from __future__ import annotations

import base64
import time

import pytest
from ocpp.v16 import call

from tests.ocpp.conftest import CHARGE_POINT_ID, Charger, wait_until
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration

KEY = "0123456789ABCDEF0123"  # 20 characters (16–40 allowed)
OCTT_KEY = b"OCA_OCTT_admin_test".hex()  # what OCTT TC_073 sets: 38 hex characters


def _change(csms: Csms, key: str, value: str) -> str:
    return str(csms.call(call.ChangeConfiguration(key=key, value=value))["status"])


def _settle(csms: Csms, before: int, timeout: float = 2.0) -> None:
    """Let a reconnect after a new key finish before the next CALL (on profile 0 the key is not in
    use, so the charger need not reconnect: wait at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    while len(csms.connections) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    csms.wait_connected()


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{CHARGE_POINT_ID}:{key}".encode()).decode()


def _reconnected(csms: Csms, before: int, what: str) -> dict[str, str]:
    """The request headers of the first websocket opened after ``before`` connections."""
    wait_until(lambda: len(csms.connections) > before, what)
    path, headers = csms.connections[before]
    assert path.rsplit("/", 1)[-1] == CHARGE_POINT_ID, path  # TC_085: the id is the last path segment
    csms.wait_connected()
    return headers


def _value(csms: Csms, key: str) -> str | None:
    entries = csms.call(call.GetConfiguration(key=[key]))["configurationKey"]
    assert len(entries) == 1 and entries[0]["key"] == key, entries
    value = entries[0].get("value")
    return None if value is None else str(value)


def test_tc_085_basic_auth_tc_084_downgrade_tc_073_new_key(charger: Charger, csms: Csms) -> None:
    """Profile 1 before a key is set is Rejected (its prerequisite, WP A05); key lengths outside
    16–40 are Rejected; a valid key is Accepted and never disclosed; SecurityProfile 1 makes the
    charger reconnect with Basic auth (TC_085); going back to 0 is Rejected (TC_084); a new key on
    profile 1 reconnects with it, without a new BootNotification (TC_073), and the link works
    afterwards; profile and key survive a restart of the service."""
    assert _change(csms, "SecurityProfile", "1") == "Rejected"  # no key yet: the prerequisite is missing
    assert _value(csms, "SecurityProfile") == "0"
    before = len(csms.connections)
    assert _change(csms, "AuthorizationKey", "0123456789ABCDE") == "Rejected"  # 15
    assert _change(csms, "AuthorizationKey", "0" * 41) == "Rejected"
    assert len(csms.connections) == before, "a Rejected key must not make the charger reconnect"
    assert _change(csms, "AuthorizationKey", KEY) == "Accepted"
    _settle(csms, before)
    assert _value(csms, "AuthorizationKey") is None
    everything = csms.call(call.GetConfiguration())["configurationKey"]
    assert all(KEY not in str(entry.get("value", "")) for entry in everything)

    before = len(csms.connections)
    assert _change(csms, "SecurityProfile", "1") == "Accepted"
    wait_until(lambda: any(h.get("authorization") for _, h in csms.connections[before:]), "a Basic-auth reconnect")
    headers = next(h for _, h in csms.connections[before:] if h.get("authorization"))
    assert headers["authorization"] == _basic(KEY)
    csms.wait_connected()
    assert _value(csms, "SecurityProfile") == "1"

    assert _change(csms, "SecurityProfile", "0") == "Rejected"
    assert _value(csms, "SecurityProfile") == "1"

    mark = csms.mark()
    before = len(csms.connections)
    assert _change(csms, "AuthorizationKey", OCTT_KEY) == "Accepted"
    headers = _reconnected(csms, before, "a reconnect with the new key")
    assert headers["authorization"] == _basic(OCTT_KEY)
    assert csms.call(call.TriggerMessage(requested_message="Heartbeat"))["status"] == "Accepted"
    csms.wait_for("Heartbeat", after=mark)
    assert csms.sent("BootNotification", after=mark) == [], "a new key needs no new BootNotification"

    # both are kept on disk: the restarted OCPP service connects with Basic auth at once
    before = len(csms.connections)
    charger.kill_service("ocpp")
    csms.wait_for("BootNotification", after=mark, timeout=30)
    assert csms.connections[before][1].get("authorization") == _basic(OCTT_KEY)
