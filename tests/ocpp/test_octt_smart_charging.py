"""OCTT 1.6 Smart Charging cases (TC_056–TC_067) against the real stack on the simulated board.

The composite schedule is what the CSMS believes we will draw, so every case checks it
period by period; and because a composite that the charger does not obey is worse than none,
the cases with a session also check what the charger really offers the EV
(``evnetctl status``: ``offered_current_a`` and ``limit_source``).

Profiles start at ``T0`` (now, whole seconds); a composite asked for ``x`` seconds later starts
at its ``scheduleStart`` and every period edge moves ``x`` seconds earlier (OCTT's "50 - x").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.v16 import call

from tests.ocpp.conftest import VALID_TAG, Charger, remote_start_charging, wait_until
from tests.ocpp.csms import Csms

pytestmark = pytest.mark.integration

Periods = list[tuple[int, float]]  # (startPeriod, limit)
BLOCKED_TAG = "BADCAFE1"
LOCAL_LIMIT_A = 32  # [charger] max_current_a: what the composite shows where no profile speaks (TC_067)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _profile(
    profile_id: int,
    purpose: str,
    periods: Periods,
    *,
    stack: int = 0,
    start: datetime | None = None,
    duration: int | None = None,
    kind: str = "Absolute",
    transaction_id: int | None = None,
    unit: str = "A",
) -> dict[str, Any]:
    """A csChargingProfiles in the library's snake_case; Absolute ones start at ``start``."""
    schedule: dict[str, Any] = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": s, "limit": limit} for s, limit in periods],
    }
    if duration is not None:
        schedule["duration"] = duration
    if kind != "Relative":
        schedule["start_schedule"] = _iso(start or _now())
    profile: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": stack,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": schedule,
    }
    if transaction_id is not None:
        profile["transaction_id"] = transaction_id
    return profile


def _set(csms: Csms, connector_id: int, profile: dict[str, Any]) -> str:
    answer = csms.call(call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile))
    return str(answer["status"])


def _composite(csms: Csms, duration: int, unit: str = "A", connector_id: int = 1) -> dict[str, Any]:
    answer = csms.call(call.GetCompositeSchedule(connector_id=connector_id, duration=duration, charging_rate_unit=unit))
    assert answer["status"] == "Accepted", answer
    return answer


def _periods(answer: dict[str, Any]) -> Periods:
    return [(p["startPeriod"], float(p["limit"])) for p in answer["chargingSchedule"]["chargingSchedulePeriod"]]


def _elapsed(answer: dict[str, Any], t0: datetime) -> int:
    """x: whole seconds between the profiles' start and the composite's start."""
    start = datetime.fromisoformat(answer["scheduleStart"])
    return int((start - t0).total_seconds())


def _shifted(periods: Periods, x: int, duration: int) -> Periods:
    """``periods`` (from ``T0``) as a composite starting ``x`` s later shows them: edges at s - x,
    the period running at x starting at 0, nothing at or past ``duration``, equal limits merged."""
    out: Periods = []
    for start, limit in periods:
        offset = max(0, start - x)
        if offset >= duration:
            break
        if out and out[-1][0] == offset:
            out[-1] = (offset, limit)
        else:
            out.append((offset, limit))
    merged: Periods = []
    for period in out:
        if not merged or merged[-1][1] != period[1]:
            merged.append(period)
    return merged


def _check_header(answer: dict[str, Any], duration: int, unit: str, connector_id: int = 1) -> None:
    """What OCTT checks besides the periods: connector, duration, unit, startSchedule ≈ now (DESIGN §10.2)."""
    schedule = answer["chargingSchedule"]
    assert answer["connectorId"] == connector_id
    assert schedule["duration"] == duration and schedule["chargingRateUnit"] == unit
    assert schedule["startSchedule"] == answer["scheduleStart"]
    drift = abs((datetime.fromisoformat(answer["scheduleStart"]) - datetime.now(UTC)).total_seconds())
    assert drift < 3, answer["scheduleStart"]
    assert all(p.get("numberPhases", 1) == 1 for p in schedule["chargingSchedulePeriod"])


def _offers(charger: Charger, amps: float) -> Callable[[], bool]:
    def check() -> bool:
        status = charger.status()
        return bool(status["offered_current_a"] == amps and status["limit_source"] == "ocpp")

    return check


def test_tc_056_tx_default_tc_058_tx_profile_rules_tc_057_tx_profile(charger: Charger, csms: Csms) -> None:
    """TxDefault 6/10/8 A (EVerest's values) on connector 1: the composite follows it and then the
    charger's own limit; a session really gets 6 A from OCPP. TxProfiles need the running
    transaction (TC_058_1/2); with it (TC_057) they override the TxDefault, and go with the transaction."""
    t0 = _now()
    tx_default = [(0, 6.0), (60, 10.0), (120, 8.0)]
    assert _set(csms, 1, _profile(1, "TxDefaultProfile", tx_default, start=t0, duration=300)) == "Accepted"
    answer = _composite(csms, 300)
    _check_header(answer, 300, "A")
    x = _elapsed(answer, t0)
    assert _periods(answer) == _shifted([*tx_default, (300, LOCAL_LIMIT_A)], x, 300)

    assert _set(csms, 2, _profile(9, "TxDefaultProfile", [(0, 6.0)])) == "Rejected"  # no connector 2

    # TC_058_1: a TxProfile without a transaction
    assert _set(csms, 1, _profile(2, "TxProfile", [(0, 10.0)], transaction_id=1)) == "Rejected"
    assert _set(csms, 1, _profile(2, "TxProfile", [(0, 10.0)])) == "Rejected"

    transaction_id = remote_start_charging(charger, csms)
    wait_until(_offers(charger, 6.0), "6 A offered by the OCPP limit")

    # TC_058_2: the wrong transaction
    wrong = _profile(2, "TxProfile", [(0, 10.0)], transaction_id=transaction_id + 1, stack=1)
    assert _set(csms, 1, wrong) == "Rejected"

    # TC_057: the TxProfile of the running transaction overrides the TxDefault
    t1 = _now()
    tx_profile = [(0, 10.0), (100, 7.0)]
    mine = _profile(2, "TxProfile", tx_profile, start=t1, transaction_id=transaction_id, stack=1)
    assert _set(csms, 1, mine) == "Accepted"
    answer = _composite(csms, 200)
    _check_header(answer, 200, "A")
    assert _periods(answer) == _shifted(tx_profile, _elapsed(answer, t1), 200)
    wait_until(_offers(charger, 10.0), "10 A offered by the TxProfile")

    # the TxProfile ends with its transaction (§3.13.1): the TxDefault applies again
    mark = csms.mark()
    assert csms.call(call.RemoteStopTransaction(transaction_id=transaction_id))["status"] == "Accepted"
    csms.wait_for("StopTransaction", {"transactionId": transaction_id}, after=mark)

    def tx_default_again() -> bool:
        answer = _composite(csms, 200)
        return _periods(answer) == _shifted([*tx_default, (300, LOCAL_LIMIT_A)], _elapsed(answer, t0), 200)

    wait_until(tx_default_again, "the composite of the TxDefault alone")
    time.sleep(0.5)  # the StopTransaction.conf was answered at once; its handling deletes the TxProfile
    assert csms.call(call.ClearChargingProfile(id=2))["status"] == "Unknown", "the TxProfile outlived its transaction"


def test_tc_060_remote_start_with_tx_default_rejected_tc_059_with_tx_profile(charger: Charger, csms: Csms) -> None:
    """RemoteStartTransaction may carry only a TxProfile (§5.11): TxDefault → Rejected and no session;
    a Relative TxProfile → Accepted, and it governs the transaction it started (composite and offer),
    not one left behind by an accepted RemoteStart whose tag the CSMS refused."""
    mark = csms.mark()
    charger.ctl("sim", "plug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=mark)
    wrong = _profile(5, "TxDefaultProfile", [(0, 7.0)], kind="Relative")
    answer = csms.call(call.RemoteStartTransaction(id_tag=VALID_TAG, connector_id=1, charging_profile=wrong))
    assert answer["status"] == "Rejected"
    assert charger.status()["session"] is None
    assert csms.sent("StartTransaction", after=mark) == []
    charger.ctl("sim", "unplug")
    csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)

    # an Accepted RemoteStart whose tag the CSMS then refuses (AuthorizeRemoteTxRequests): no
    # transaction, so its TxProfile must not wait around for the next one
    csms.behaviour.tags[BLOCKED_TAG] = "Blocked"
    assert csms.call(call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"))["status"] == "Accepted"
    stale = _profile(7, "TxProfile", [(0, 5.0)], kind="Relative", stack=3)
    answer = csms.call(call.RemoteStartTransaction(id_tag=BLOCKED_TAG, connector_id=1, charging_profile=stale))
    assert answer["status"] == "Accepted"
    csms.wait_for("Authorize", {"idTag": BLOCKED_TAG}, after=mark)

    profile = _profile(6, "TxProfile", [(0, 7.0), (600, 9.0)], kind="Relative", stack=2)
    remote_start_charging(charger, csms, profile=profile)
    wait_until(_offers(charger, 7.0), "7 A offered by the RemoteStart TxProfile")
    answer = _composite(csms, 900)
    _check_header(answer, 900, "A")
    periods = _periods(answer)
    assert [limit for _, limit in periods] == [7.0, 9.0]
    # 600 s after the transaction began, seen from a composite that starts at a whole second: up to 1 s
    # later when asked within the second the transaction began
    assert periods[0][0] == 0 and 590 <= periods[1][0] <= 601
    assert csms.call(call.ClearChargingProfile(id=7))["status"] == "Unknown", "the refused start's TxProfile stayed"


def test_tc_066_get_composite_schedule(charger: Charger, csms: Csms) -> None:
    """OCTT TC_066 with EVerest's fall-back periods (DESIGN §10.1): min(ChargePointMax 10 A,
    TxProfile else TxDefault) is 8, 10 @50-x, 6 @200-x, 10 @240-x, then 8 @260-x once the TxProfile
    ended and 10 @300-x once the TxDefault ended too. Also in W (× 230 V × 1 phase, DESIGN §10.3)."""
    transaction_id = remote_start_charging(charger, csms)
    t0 = _now()
    cp_max = _profile(1, "ChargePointMaxProfile", [(0, 10.0)], start=t0, duration=86400)
    tx_default = _profile(
        2, "TxDefaultProfile", [(0, 6.0), (60, 10.0), (120, 8.0), (180, 15.0), (260, 8.0)], start=t0, duration=300
    )
    tx_profile = _profile(
        3, "TxProfile", [(0, 8.0), (50, 11.0), (140, 16.0), (200, 6.0), (240, 12.0)],
        start=t0, duration=260, transaction_id=transaction_id,
    )  # fmt: skip
    assert _set(csms, 0, cp_max) == "Accepted"
    assert _set(csms, 0, tx_default) == "Accepted"  # TxDefault on connector 0: for every connector
    assert _set(csms, 1, tx_profile) == "Accepted"
    answer = _composite(csms, 400)
    _check_header(answer, 400, "A")
    x = _elapsed(answer, t0)
    expected = [(0, 8.0), (50, 10.0), (200, 6.0), (240, 10.0), (260, 8.0), (300, 10.0)]
    assert _periods(answer) == _shifted(expected, x, 400)
    unknown = csms.call(call.GetCompositeSchedule(connector_id=2, duration=400, charging_rate_unit="A"))
    assert unknown["status"] == "Rejected"
    watts = _composite(csms, 400, "W")
    _check_header(watts, 400, "W")
    assert _periods(watts) == _shifted([(s, limit * 230) for s, limit in expected], _elapsed(watts, t0), 400)
    wait_until(_offers(charger, 8.0), "8 A offered (TxProfile under the ChargePointMax)")


def test_tc_067_clear_charging_profile_and_persistence(charger: Charger, csms: Csms) -> None:
    """Three profiles survive a kill -9 of the OCPP service (errata 3.37), then go one way each:
    by id (→ TxDefault stack 0: 7/9), by purpose + stack (→ ChargePointMax: 11/12), all (→ the
    charger's local limit, OCTT TC_067)."""
    t0 = _now()
    stack_1 = [(0, 6.0), (60, 8.0), (120, 10.0)]
    stack_0 = [(0, 7.0), (90, 9.0)]
    cp_max = [(0, 11.0), (150, 12.0)]
    assert _set(csms, 1, _profile(11, "TxDefaultProfile", stack_1, stack=1, start=t0)) == "Accepted"
    assert _set(csms, 1, _profile(12, "TxDefaultProfile", stack_0, stack=0, start=t0)) == "Accepted"
    assert _set(csms, 0, _profile(13, "ChargePointMaxProfile", cp_max, start=t0)) == "Accepted"
    answer = _composite(csms, 300)
    assert _periods(answer) == _shifted(stack_1, _elapsed(answer, t0), 300)

    mark = csms.mark()
    old = charger.kill_service("ocpp")
    csms.wait_for("BootNotification", after=mark, timeout=30)
    assert charger.sim.service_pid("ocpp") != old
    answer = _composite(csms, 300)
    assert _periods(answer) == _shifted(stack_1, _elapsed(answer, t0), 300), "profiles lost in the restart"

    assert csms.call(call.ClearChargingProfile(id=99))["status"] == "Unknown"
    assert csms.call(call.ClearChargingProfile(id=11))["status"] == "Accepted"
    answer = _composite(csms, 300)
    assert _periods(answer) == _shifted(stack_0, _elapsed(answer, t0), 300)

    cleared = csms.call(call.ClearChargingProfile(charging_profile_purpose="TxDefaultProfile", stack_level=0))
    assert cleared["status"] == "Accepted"
    answer = _composite(csms, 300)
    assert _periods(answer) == _shifted(cp_max, _elapsed(answer, t0), 300)

    assert csms.call(call.ClearChargingProfile())["status"] == "Accepted"
    assert _periods(_composite(csms, 300)) == [(0, LOCAL_LIMIT_A)]


def test_clearing_the_profiles_lifts_the_ocpp_limit(charger: Charger, csms: Csms) -> None:
    """Once no profile applies the CSMS no longer limits us (composite: the local limit, TC_067),
    so the charger must offer its own maximum again rather than the last OCPP limit."""
    assert _set(csms, 0, _profile(1, "TxDefaultProfile", [(0, 6.0)])) == "Accepted"
    remote_start_charging(charger, csms)
    wait_until(_offers(charger, 6.0), "6 A offered by the OCPP limit")
    assert csms.call(call.ClearChargingProfile())["status"] == "Accepted"
    assert _periods(_composite(csms, 60)) == [(0, LOCAL_LIMIT_A)]
    wait_until(lambda: charger.status()["limit_source"] != "ocpp", "the OCPP limit to be lifted", timeout=8)
    assert charger.status()["offered_current_a"] > 6
