"""Smart charging core: validation, stacking, purposes, time rules, units, the OCTT/EVerest numbers.

Profiles are built the way ``ocpp`` 2.1.0 hands them to the handler (snake_case, Decimal
limits, ISO strings); the clock is passed in. ``T0`` is a whole second so the expected
start periods are exact; where the OCTT table says "x = seconds since the profiles were
set", the composite is asked x seconds (and a fraction) later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evnetd.ocpp.profiles import ProfileStore
from evnetd.ocpp.smartcharging import (
    ActiveTransaction,
    ProfileError,
    SmartCharging,
    SmartChargingSettings,
    parse_profile,
    parse_time,
)

T0 = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)  # a Monday
TX = ActiveTransaction(transaction_id=42, started_at=T0)
CP_MAX, TX_DEFAULT, TX_PROFILE = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(
    profile_id: int,
    purpose: str = TX_DEFAULT,
    stack: int = 0,
    periods: Sequence[tuple[int, float]] = ((0, 16),),
    *,
    kind: str = "Absolute",
    start: datetime | None = T0,
    duration: int | None = None,
    unit: str = "A",
    phases: int | None = None,
    transaction_id: int | None = None,
    recurrency: str | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> dict[str, Any]:
    """A profile as the library delivers it; None fields are left out, limits are Decimal."""
    schedule: dict[str, Any] = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [
            {"start_period": s, "limit": Decimal(str(limit))}
            | ({"number_phases": phases} if phases is not None else {})
            for s, limit in periods
        ],
    }
    if duration is not None:
        schedule["duration"] = duration
    if start is not None and kind != "Relative":
        schedule["start_schedule"] = iso(start)
    raw: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": stack,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": schedule,
    }
    optional = {
        "transaction_id": transaction_id,
        "recurrency_kind": recurrency,
        "valid_from": iso(valid_from) if valid_from else None,
        "valid_to": iso(valid_to) if valid_to else None,
    }
    return raw | {k: v for k, v in optional.items() if v is not None}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ocpp-profiles.db"


def make(path: Path, **settings: Any) -> SmartCharging:
    return SmartCharging(ProfileStore(path), SmartChargingSettings(**settings))


@pytest.fixture
def sc(path: Path) -> SmartCharging:
    return make(path)


def install(sc: SmartCharging, connector: int, *profiles: dict[str, Any], tx: ActiveTransaction | None = TX) -> None:
    for p in profiles:
        assert sc.set_profile(connector, p, tx, T0) == "Accepted", p


def schedule(
    sc: SmartCharging,
    seconds: float,
    duration: int,
    *,
    connector: int = 1,
    unit: str | None = "A",
    tx: ActiveTransaction | None = TX,
) -> list[tuple[int, float]]:
    """The composite's periods as (start_period, limit)."""
    composite = sc.composite(connector, duration, unit, at(seconds), tx)
    assert composite is not None
    return [(p["start_period"], p["limit"]) for p in composite["charging_schedule_period"]]


# --- parsing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T12:00:00Z", T0),
        ("2024-05-06T13:00:00+01:00", T0),
        ("2024-05-06T12:00:00.250Z", T0 + timedelta(milliseconds=250)),
        ("2024-05-06T12:00:00.123456", T0 + timedelta(microseconds=123456)),  # naive: read as UTC
    ],
)
def test_timestamps_with_offsets_and_fractions_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("limit", [Decimal("13.3"), 13.3, 13])
def test_limits_are_taken_as_decimal_float_or_int(limit: Decimal | float) -> None:
    raw = profile(1, phases=3)
    raw["charging_schedule"]["charging_schedule_period"][0]["limit"] = limit
    period = parse_profile(raw).schedule.periods[0]
    assert period.limit == float(limit) and isinstance(period.limit, float) and period.number_phases == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.pop("stack_level"),
        lambda p: p.update(charging_profile_purpose="Other"),
        lambda p: p.update(charging_profile_kind="Sometimes"),
        lambda p: p.update(recurrency_kind="Monthly"),
        lambda p: p.update(valid_from="yesterday"),
        lambda p: p.update(charging_profile_id="7"),
        lambda p: p["charging_schedule"].update(charging_rate_unit="kW"),
        lambda p: p["charging_schedule"]["charging_schedule_period"][0].update(limit=True),
        lambda p: p["charging_schedule"]["charging_schedule_period"][0].update(limit=float("nan")),
        lambda p: p["charging_schedule"]["charging_schedule_period"][0].pop("start_period"),
        lambda p: p.update(charging_schedule=None),
    ],
)
def test_malformed_profiles_raise_profile_error_and_are_rejected(damage: Any, sc: SmartCharging) -> None:
    raw = profile(1)
    damage(raw)
    with pytest.raises(ProfileError):
        parse_profile(raw)
    assert sc.set_profile(1, raw, None, T0) == "Rejected"
    assert sc.installed == []


# --- validation ---------------------------------------------------------------------------------------------


def _too_many_periods() -> dict[str, Any]:
    return profile(1, periods=[(i * 10, 16) for i in range(25)])


REJECTED = [
    ("stack above ChargeProfileMaxStackLevel", 1, profile(1, stack=9), TX),
    ("negative stack", 1, profile(1, stack=-1), TX),
    ("more periods than ChargingScheduleMaxPeriods", 1, _too_many_periods(), TX),
    ("no periods", 1, profile(1, periods=()), TX),
    ("number_phases 0", 1, profile(1, phases=0), TX),
    ("number_phases 4", 1, profile(1, phases=4), TX),
    ("negative limit", 1, profile(1, periods=[(0, -1)]), TX),
    ("first period not at 0", 1, profile(1, periods=[(10, 16)]), TX),
    ("periods not increasing", 1, profile(1, periods=[(0, 16), (60, 10), (60, 8)]), TX),
    ("Absolute without start_schedule", 1, profile(1, start=None), TX),
    ("Recurring without start_schedule", 1, profile(1, kind="Recurring", recurrency="Daily", start=None), TX),
    ("Recurring without recurrency_kind (EVerest recurring 1)", 1, profile(1, kind="Recurring"), TX),
    ("ChargePointMax on a connector", 1, profile(1, CP_MAX), TX),
    ("ChargePointMax Relative", 0, profile(1, CP_MAX, kind="Relative"), TX),
    ("TxProfile on connector 0", 0, profile(1, TX_PROFILE, transaction_id=42), TX),
    ("TC_058_1 TxProfile without a transaction", 1, profile(1, TX_PROFILE), None),
    ("TC_058_2 TxProfile for another transaction", 1, profile(1, TX_PROFILE, transaction_id=41), TX),
    ("connector beyond the charger", 2, profile(1), TX),
    ("negative connector", -1, profile(1), TX),
    ("valid_to not after valid_from", 1, profile(1, valid_from=at(10), valid_to=at(10)), TX),
    ("negative duration", 1, profile(1, duration=-1), TX),
]


@pytest.mark.parametrize(("connector", "raw", "tx"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_invalid_profiles_are_rejected(
    sc: SmartCharging, connector: int, raw: dict[str, Any], tx: ActiveTransaction | None
) -> None:
    assert sc.set_profile(connector, raw, tx, T0) == "Rejected"
    assert sc.installed == []


ACCEPTED = [
    ("TxDefault on connector 0", 0, profile(1), None),
    ("TxDefault on connector 1 without transaction", 1, profile(1), None),
    ("ChargePointMax on connector 0", 0, profile(1, CP_MAX), None),
    ("TxProfile with the running transaction", 1, profile(1, TX_PROFILE, transaction_id=42), TX),
    ("stack at ChargeProfileMaxStackLevel", 1, profile(1, stack=8), None),
    ("24 periods", 1, profile(1, periods=[(i * 10, 16) for i in range(24)]), None),
    ("Relative TxDefault needs no start_schedule", 1, profile(1, kind="Relative", start=None), None),
    ("Recurring Weekly", 1, profile(1, kind="Recurring", recurrency="Weekly"), None),
    ("W with 3 phases", 1, profile(1, unit="W", phases=3, periods=[(0, 11000)]), None),
    ("zero limit", 1, profile(1, periods=[(0, 0)]), None),
]


@pytest.mark.parametrize(("connector", "raw", "tx"), [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_valid_profiles_are_accepted(
    sc: SmartCharging, connector: int, raw: dict[str, Any], tx: ActiveTransaction | None
) -> None:
    assert sc.set_profile(connector, raw, tx, T0) == "Accepted"
    assert [e.connector_id for e in sc.installed] == [connector]


def test_a_unit_outside_the_allowed_ones_is_rejected(path: Path) -> None:
    sc = make(path, allowed_units=("A",))
    assert sc.set_profile(1, profile(1, unit="W", periods=[(0, 6000)]), None, T0) == "Rejected"
    assert sc.set_profile(1, profile(1), None, T0) == "Accepted"


def test_a_tx_profile_without_transaction_id_is_bound_to_the_running_transaction(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, TX_PROFILE))
    assert sc.installed[0].profile.transaction_id == 42
    assert sc.installed[0].raw["transaction_id"] == 42


def test_max_profiles_counts_what_stays_installed(path: Path) -> None:
    sc = make(path, max_profiles=2)
    install(sc, 1, profile(1), profile(2, stack=1))
    assert sc.set_profile(1, profile(3, stack=2), None, T0) == "Rejected"
    assert sc.set_profile(1, profile(2, stack=1, periods=[(0, 10)]), None, T0) == "Accepted"  # same id
    assert sc.set_profile(1, profile(4, stack=1), None, T0) == "Accepted"  # same purpose + stack
    assert [e.profile.profile_id for e in sc.installed] == [1, 4]


def test_expired_profiles_do_not_count(path: Path) -> None:
    sc = make(path, max_profiles=1)
    install(sc, 1, profile(1, valid_to=at(60)))
    assert sc.set_profile(1, profile(2, stack=1), None, at(30)) == "Rejected"
    assert sc.set_profile(1, profile(2, stack=1), None, at(60)) == "Accepted"
    assert [e.profile.profile_id for e in sc.installed] == [2]


# --- replacement ------------------------------------------------------------------------------------------------


def test_the_same_id_replaces_a_profile_anywhere(sc: SmartCharging) -> None:
    """EVerest unplausible 1: one id reused for ChargePointMax, TxDefault, then TxProfile."""
    install(sc, 0, profile(1, CP_MAX, duration=86400, periods=[(0, 10)]))
    install(sc, 1, profile(1, duration=300, periods=[(0, 6), (60, 10), (120, 8)]))
    install(sc, 1, profile(1, TX_PROFILE, duration=300, periods=[(0, 12), (60, 10), (120, 6)], transaction_id=42))
    assert [(e.connector_id, e.profile.purpose) for e in sc.installed] == [(1, TX_PROFILE)]
    assert schedule(sc, 0, 300) == [(0, 12), (60, 10), (120, 6)]


def test_same_purpose_and_stack_replaces_only_on_the_same_connector(sc: SmartCharging) -> None:
    install(sc, 0, profile(1, CP_MAX, periods=[(0, 10)]), profile(2, CP_MAX, periods=[(0, 20)]))
    install(sc, 0, profile(3), profile(4, TX_DEFAULT, stack=1))
    install(sc, 1, profile(5))
    assert [(e.connector_id, e.profile.profile_id) for e in sc.installed] == [(0, 2), (0, 3), (0, 4), (1, 5)]
    assert schedule(sc, 0, 60, connector=0) == [(0, 20)]


# --- OCTT and EVerest composite numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "limit", "phases", "expected"),
    [("A", 6, None, 6.0), ("W", 6000, 1, 6000.0), ("W", 6000, None, 6000.0)],
)
def test_tc056_tx_default_profile(
    sc: SmartCharging, unit: str, limit: float, phases: int | None, expected: float
) -> None:
    install(sc, 1, profile(1, unit=unit, periods=[(0, limit)], phases=phases), tx=None)
    composite = sc.composite(1, 300, unit, at(2.7), None)
    assert composite == {
        "duration": 300,
        "start_schedule": "2024-05-06T12:00:02Z",
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": 0, "limit": expected, "number_phases": 1}],
    }


def test_everest_tx_default_falls_back_to_the_local_limit_when_it_ends(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, duration=300, periods=[(0, 6), (60, 10), (120, 8)]), tx=None)
    assert schedule(sc, 5, 300, tx=None) == [(0, 6), (55, 10), (115, 8), (295, 32)]


def test_tc057_tx_profile_during_a_transaction(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, TX_PROFILE, duration=260, periods=[(0, 6), (60, 10), (120, 8)], transaction_id=42))
    assert schedule(sc, 5, 300) == [(0, 6), (55, 10), (115, 8), (255, 32)]
    assert schedule(sc, 5, 300, tx=None) == [(0, 32)]  # not this transaction's: no TxProfile applies


def test_tc082_tx_default_set_during_a_transaction_applies_at_once(sc: SmartCharging) -> None:
    assert sc.limit_at(at(10), TX) == (None, None)
    assert sc.set_profile(1, profile(1, start=at(10), periods=[(0, 10)]), TX, at(10)) == "Accepted"
    assert schedule(sc, 10, 120) == [(0, 10)]
    assert sc.limit_at(at(10), TX) == (10.0, None)


def _tc066(sc: SmartCharging, scale: float, unit: str) -> None:
    install(sc, 0, profile(1, CP_MAX, duration=86400, periods=[(0, 10 * scale)], unit=unit))
    tx_default = [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)]
    install(sc, 1, profile(2, duration=300, periods=[(s, v * scale) for s, v in tx_default], unit=unit))
    tx_profile = [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)]
    tx = [(s, v * scale) for s, v in tx_profile]
    install(sc, 1, profile(3, TX_PROFILE, stack=0, duration=260, periods=tx, unit=unit, transaction_id=42))


@pytest.mark.parametrize(("scale", "unit"), [(1, "A"), (1000, "W")])
def test_tc066_get_composite_schedule_with_everest_fall_back(sc: SmartCharging, scale: float, unit: str) -> None:
    _tc066(sc, scale, unit)
    x = 5
    expected = [(0, 8), (50 - x, 10), (200 - x, 6), (240 - x, 10), (260 - x, 8), (300 - x, 10)]
    assert schedule(sc, x + 0.6, 400, unit=unit) == [(s, v * scale) for s, v in expected]


def test_tc066_after_the_transaction_ends_only_tx_default_and_cp_max_remain(sc: SmartCharging) -> None:
    _tc066(sc, 1, "A")
    sc.end_transaction(42)
    assert schedule(sc, 0, 400, tx=None) == [(0, 6), (60, 10), (120, 8), (180, 10), (260, 8), (300, 10)]


def test_tc067_clear_charging_profile(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, stack=1, duration=300, periods=[(0, 6), (100, 8), (200, 10)]), tx=None)
    install(sc, 1, profile(2, stack=0, duration=300, periods=[(0, 7), (150, 9)]), tx=None)
    install(sc, 0, profile(3, CP_MAX, duration=300, periods=[(0, 11), (150, 12)]), tx=None)
    assert schedule(sc, 0, 300, tx=None) == [(0, 6), (100, 8), (200, 10)]
    assert sc.clear(profile_id=1) == "Accepted"
    assert schedule(sc, 0, 300, tx=None) == [(0, 7), (150, 9)]
    assert sc.clear(purpose=TX_DEFAULT, stack_level=0) == "Accepted"
    assert schedule(sc, 0, 300, tx=None) == [(0, 11), (150, 12)]
    assert sc.clear() == "Accepted"
    assert schedule(sc, 0, 300, tx=None) == [(0, 32)]
    assert sc.clear() == "Unknown"


@pytest.mark.parametrize("x", [0, 7, 30])
def test_tc072_stacking(sc: SmartCharging, x: int) -> None:
    install(sc, 1, profile(1, stack=0, duration=400, periods=[(0, 6), (100, 8), (200, 10)]))
    install(sc, 1, profile(2, stack=1, duration=150, periods=[(0, 7), (100, 9)]))
    assert schedule(sc, x, 350) == [(0, 7), (100 - x, 9), (150 - x, 8), (200 - x, 10)]


def test_tc059_remote_start_tx_profile_binds_to_the_transaction_and_starts_with_it(sc: SmartCharging) -> None:
    remote = profile(1, TX_PROFILE, stack=2, kind="Relative", periods=[(0, 10), (60, 16)])
    assert sc.set_profile(1, remote, None, T0, from_remote_start=True) == "Accepted"
    assert sc.installed == []  # pending until the transaction exists
    assert sc.limit_at(T0, None) == (None, None)
    started = ActiveTransaction(7, at(20))
    sc.bind_transaction(started)
    assert [(e.profile.transaction_id, e.raw["transaction_id"]) for e in sc.installed] == [(7, 7)]
    assert schedule(sc, 30, 120, tx=started) == [(0, 10), (50, 16)]  # relative to the transaction start


def test_tc060_remote_start_with_a_non_tx_profile_is_rejected(sc: SmartCharging) -> None:
    assert sc.set_profile(1, profile(1), None, T0, from_remote_start=True) == "Rejected"
    assert sc.set_profile(1, profile(2, CP_MAX), None, T0, from_remote_start=True) == "Rejected"


def test_a_remote_start_that_comes_to_nothing_leaves_no_profile(sc: SmartCharging) -> None:
    assert sc.set_profile(1, profile(1, TX_PROFILE), None, T0, from_remote_start=True) == "Accepted"
    sc.discard_pending()
    sc.bind_transaction(TX)
    assert sc.installed == []


# --- recurring, relative, validity --------------------------------------------------------------------------


def _recurring(recurrency: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kw: dict[str, Any] = {"kind": "Recurring", "recurrency": recurrency, "valid_from": T0, "valid_to": at(3 * 86400)}
    low = profile(1, stack=0, periods=[(0, 14), (5000, 16), (15000, 20)], **kw)
    high = profile(2, stack=1, duration=86400, periods=[(0, 10), (10000, 22), (20000, 6)], **kw)
    return low, high


def test_everest_recurring_daily_covers_the_lower_stack_every_day(sc: SmartCharging) -> None:
    install(sc, 1, *_recurring("Daily"))
    expected = [(0, 10), (10000, 22), (20000, 6), (86400, 10), (96400, 22), (106400, 6)]
    assert schedule(sc, 0, 172800) == expected


def test_everest_recurring_weekly_falls_back_to_the_lower_stack_after_a_day(sc: SmartCharging) -> None:
    install(sc, 1, *_recurring("Weekly"))
    assert schedule(sc, 0, 172800) == [(0, 10), (10000, 22), (20000, 6), (86400, 20)]


def test_a_daily_window_shorter_than_the_day_leaves_gaps_and_repeats(sc: SmartCharging) -> None:
    evening = profile(1, kind="Recurring", recurrency="Daily", start=at(6 * 3600), duration=4 * 3600)
    install(sc, 1, evening)
    hours = [(s // 3600, v) for s, v in schedule(sc, 0, 2 * 86400)]
    assert hours == [(0, 32), (6, 16), (10, 32), (30, 16), (34, 32)]


def test_a_recurring_profile_does_not_apply_before_its_start(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, kind="Recurring", recurrency="Daily", start=at(86400), periods=[(0, 10)]))
    assert schedule(sc, 0, 2 * 86400) == [(0, 32), (86400, 10)]


def test_a_recurring_schedule_longer_than_its_cycle_is_cut_at_the_cycle(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, kind="Recurring", recurrency="Daily", periods=[(0, 10), (90000, 20)], duration=100000))
    assert schedule(sc, 0, 2 * 86400) == [(0, 10)]


@pytest.mark.parametrize(("tx_started", "expected"), [(0, [(0, 16), (50, 20)]), (-30, [(0, 16), (20, 20)])])
def test_everest_relative_1_tx_profile_starts_with_the_transaction(
    sc: SmartCharging, tx_started: int, expected: list[tuple[int, float]]
) -> None:
    tx = ActiveTransaction(1, at(tx_started))
    rel = profile(1, TX_PROFILE, kind="Relative", transaction_id=1, periods=[(0, 16), (50, 20)], phases=3)
    assert sc.set_profile(1, rel, tx, T0) == "Accepted"
    assert schedule(sc, 0, 400, tx=tx) == expected


def test_everest_relative_2_connector_0_default_at_a_higher_stack_wins_until_it_ends(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, stack=0, kind="Relative", periods=[(0, 16), (100, 20)]))
    install(sc, 0, profile(2, stack=1, kind="Relative", duration=200, periods=[(0, 10), (50, 6)]))
    assert schedule(sc, 0, 300) == [(0, 10), (50, 6), (200, 20)]


def test_everest_relative_3_amps_at_stack_2_beat_watts_at_stack_1(sc: SmartCharging) -> None:
    install(sc, 0, profile(1, stack=1, kind="Relative", unit="W", periods=[(0, 11000), (90, 22000)]))
    install(sc, 0, profile(2, stack=2, kind="Relative", periods=[(0, 32), (6, 20), (12, 8)]))
    assert schedule(sc, 0, 90) == [(0, 32), (6, 20), (12, 8)]


def test_a_relative_default_without_transaction_starts_at_the_composite_start(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, kind="Relative", periods=[(0, 10), (60, 20)]), tx=None)
    assert schedule(sc, 1000.5, 120, tx=None) == [(0, 10), (60, 20)]


def test_valid_from_and_valid_to_bound_a_profile_and_the_lower_stack_shows_through(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, stack=0, periods=[(0, 10)]))
    install(sc, 1, profile(2, stack=1, periods=[(0, 20)], valid_from=at(100), valid_to=at(200)))
    assert schedule(sc, 0, 300) == [(0, 10), (100, 20), (200, 10)]


def test_a_profile_valid_from_a_fraction_after_the_floored_start_counts_from_now(sc: SmartCharging) -> None:
    """EVerest sets validFrom = startSchedule = the moment it sends; the composite floors to the second."""
    set_at = at(0.4)
    raw = profile(1, start=set_at, valid_from=set_at, duration=300, periods=[(0, 6), (60, 10)])
    assert sc.set_profile(1, raw, None, set_at) == "Accepted"
    assert schedule(sc, 0.7, 300, tx=None) == [(0, 6), (61, 10)]  # edges round up to the next whole second


# --- purposes, connectors, units ------------------------------------------------------------------------------


def test_a_connectors_own_default_beats_the_connector_0_one_at_the_same_stack(sc: SmartCharging) -> None:
    install(sc, 0, profile(1, stack=1, periods=[(0, 10)]))
    install(sc, 1, profile(2, stack=1, periods=[(0, 20)], duration=100))
    assert schedule(sc, 0, 200) == [(0, 20), (100, 10)]


def test_connector_0_composite_is_the_charge_point_max_or_the_local_limit(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, periods=[(0, 6)]))
    assert schedule(sc, 0, 100, connector=0) == [(0, 32)]
    install(sc, 0, profile(2, CP_MAX, duration=50, periods=[(0, 20)]))
    assert schedule(sc, 0, 100, connector=0) == [(0, 20), (50, 32)]


def test_charge_point_max_caps_the_connector(sc: SmartCharging) -> None:
    install(sc, 0, profile(1, CP_MAX, periods=[(0, 12)]))
    install(sc, 1, profile(2, periods=[(0, 16), (100, 8)]))
    assert schedule(sc, 0, 200) == [(0, 12), (100, 8)]


@pytest.mark.parametrize(
    ("unit", "limit", "phases", "settings", "amps"),
    [
        ("W", 6900, 3, {}, 10.0),  # per phase: 6900 / (230 × 3)
        ("W", 6900, None, {}, 30.0),  # no numberPhases: default_phases = 1
        ("W", 6900, None, {"default_phases": 3}, 10.0),
        ("W", 6000, None, {"supply_voltage_v": 240.0}, 25.0),
        ("A", 10, 3, {}, 10.0),  # an A limit applies as given whatever the phases (errata 3.34)
    ],
)
def test_watts_become_amps_with_the_supply_voltage_and_phases(
    path: Path, unit: str, limit: float, phases: int | None, settings: dict[str, Any], amps: float
) -> None:
    sc = make(path, **settings)
    install(sc, 1, profile(1, unit=unit, periods=[(0, limit)], phases=phases), tx=None)
    assert sc.limit_at(T0, None)[0] == pytest.approx(amps)


def test_the_composite_reports_in_the_requested_unit_rounded_to_a_tenth(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, unit="W", periods=[(0, 7000), (60, 3450)]), tx=None)
    assert schedule(sc, 0, 120, unit="A", tx=None) == [(0, 30.4), (60, 15.0)]
    assert schedule(sc, 0, 120, unit="W", tx=None) == [(0, 7000.0), (60, 3450.0)]
    assert schedule(sc, 0, 120, unit=None, tx=None) == [(0, 30.4), (60, 15.0)]  # first allowed unit


def test_gaps_are_reported_in_watts_too(sc: SmartCharging) -> None:
    assert schedule(sc, 0, 60, unit="W", tx=None) == [(0, 7360.0)]


def test_adjacent_equal_periods_merge_and_low_limits_stay_as_given(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, periods=[(0, 10), (30, 10), (60, 5), (90, 0)]), tx=None)
    assert schedule(sc, 0, 120, tx=None) == [(0, 10), (60, 5), (90, 0)]


@pytest.mark.parametrize(
    ("connector", "unit", "settings"),
    [(2, "A", {}), (-1, "A", {}), (1, "W", {"allowed_units": ("A",)}), (1, "kW", {})],
)
def test_composite_is_refused_for_unknown_connectors_and_units(
    path: Path, connector: int, unit: str, settings: dict[str, Any]
) -> None:
    assert make(path, **settings).composite(connector, 60, unit, T0, None) is None


def test_composite_of_duration_zero_has_one_period(sc: SmartCharging) -> None:
    assert schedule(sc, 0, 0) == [(0, 32)]


# --- clearing and transactions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "left"),
    [
        ({"profile_id": 2}, [1, 3, 4]),
        ({"profile_id": 2, "purpose": CP_MAX}, [1, 3, 4]),  # the id decides alone
        ({"connector_id": 0}, [3, 4]),
        ({"connector_id": 1, "purpose": TX_DEFAULT}, [1, 2, 4]),
        ({"purpose": TX_DEFAULT, "stack_level": 0}, [1, 4]),
        ({"stack_level": 1}, [1, 2, 3]),
        ({"purpose": TX_PROFILE}, [1, 2, 3]),
        ({}, []),
    ],
)
def test_clear_by_id_connector_purpose_and_stack(sc: SmartCharging, criteria: dict[str, Any], left: list[int]) -> None:
    install(sc, 0, profile(1, CP_MAX), profile(2, TX_DEFAULT))
    install(sc, 1, profile(3, TX_DEFAULT), profile(4, TX_PROFILE, stack=1))
    assert sc.clear(**criteria) == "Accepted"
    assert [e.profile.profile_id for e in sc.installed] == left


@pytest.mark.parametrize(
    "criteria", [{"profile_id": 9}, {"connector_id": 1}, {"purpose": CP_MAX}, {"purpose": TX_DEFAULT, "stack_level": 1}]
)
def test_clear_matching_nothing_is_unknown(sc: SmartCharging, criteria: dict[str, Any]) -> None:
    install(sc, 0, profile(1))
    assert sc.clear(**criteria) == "Unknown"
    assert len(sc.installed) == 1


def test_clear_also_drops_a_pending_remote_start_profile(sc: SmartCharging) -> None:
    assert sc.set_profile(1, profile(5, TX_PROFILE), None, T0, from_remote_start=True) == "Accepted"
    assert sc.clear(profile_id=5) == "Accepted"
    sc.bind_transaction(TX)
    assert sc.installed == []


def test_ending_a_transaction_removes_only_its_tx_profiles(sc: SmartCharging) -> None:
    install(sc, 1, profile(1), profile(2, TX_PROFILE))
    sc.end_transaction(41)
    assert len(sc.installed) == 2
    sc.end_transaction(42)
    assert [e.profile.purpose for e in sc.installed] == [TX_DEFAULT]


# --- limit_at ---------------------------------------------------------------------------------------------------


def test_limit_at_gives_the_limit_and_when_it_next_changes(sc: SmartCharging) -> None:
    assert sc.limit_at(T0, TX) == (None, None)
    install(sc, 0, profile(1, CP_MAX, duration=300, periods=[(0, 20)]))
    install(sc, 1, profile(2, TX_PROFILE, duration=200, periods=[(0, 0), (100, 16)]))
    assert sc.limit_at(at(50), TX) == (0.0, at(100))  # 0: suspend
    assert sc.limit_at(at(150), TX) == (16.0, at(200))
    assert sc.limit_at(at(250), TX) == (20.0, at(300))  # TxProfile over: ChargePointMax alone
    assert sc.limit_at(at(300), TX) == (None, None)


def test_limit_at_follows_a_recurrence_and_validity(sc: SmartCharging) -> None:
    daily = profile(1, kind="Recurring", recurrency="Daily", duration=3600, periods=[(0, 10)], valid_to=at(3 * 86400))
    install(sc, 1, daily, tx=None)
    assert sc.limit_at(at(1800), None) == (10.0, at(3600))
    assert sc.limit_at(at(7200), None) == (None, at(86400))
    assert sc.limit_at(at(3 * 86400 - 1), None) == (None, at(3 * 86400))


def test_limit_at_a_relative_profile_counts_from_the_transaction_start(sc: SmartCharging) -> None:
    install(sc, 1, profile(1, kind="Relative", periods=[(0, 10), (600, 20)]))
    assert sc.limit_at(at(100), TX) == (10.0, at(600))
    assert sc.limit_at(at(700), TX) == (20.0, None)


# --- persistence ------------------------------------------------------------------------------------------------


def test_profiles_survive_a_restart(path: Path) -> None:
    sc = make(path)
    _tc066(sc, 1, "A")
    sc.clear(profile_id=1)
    before = sc.composite(1, 400, "A", at(5), TX)
    sc2 = make(path)
    assert [e.profile.profile_id for e in sc2.installed] == [2, 3]
    assert sc2.composite(1, 400, "A", at(5), TX) == before
    sc2.end_transaction(42)
    assert [e.profile.profile_id for e in make(path).installed] == [2]


def test_a_bound_remote_start_profile_survives_a_restart_with_its_transaction(path: Path) -> None:
    sc = make(path)
    assert sc.set_profile(1, profile(1, TX_PROFILE, periods=[(0, 8)]), None, T0, from_remote_start=True) == "Accepted"
    sc.bind_transaction(TX)
    assert make(path).limit_at(T0, TX) == (8.0, None)


def test_everest_cp_max_replaced_by_a_new_id_cleared_and_restarted(path: Path) -> None:
    """EVerest test_clear_charging_profiles_for_connector_0."""
    sc = make(path)
    install(sc, 0, profile(1, CP_MAX, periods=[(0, 10)]), profile(2, CP_MAX, periods=[(0, 12)]))
    assert [e.profile.profile_id for e in make(path).installed] == [2]
    assert schedule(make(path), 0, 60, connector=0) == [(0, 12)]
    assert make(path).clear(profile_id=2) == "Accepted"
    assert schedule(make(path), 0, 60, connector=0) == [(0, 32)]


def test_an_unreadable_stored_profile_is_skipped(path: Path) -> None:
    store = ProfileStore(path)
    store.save(1, profile(1) | {"charging_profile_kind": "Sometimes"})
    store.save(1, profile(2, stack=1))
    store.close()
    assert [e.profile.profile_id for e in make(path).installed] == [2]
