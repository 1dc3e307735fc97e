"""The fault history: raise/clear from complete active sets, restart reconciliation, the bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from evnetd.charger.faultlog import FaultLog, meter_error_code


def test_raise_and_clear_by_source(tmp_path: Path) -> None:
    log = FaultLog(tmp_path / "f.db")
    assert log.update("meter", {"rcd": ("GroundFailure", "")}, 100.0) == (["rcd"], [])
    assert log.update("charger", {"lock": ("ConnectorLockFailure", "lock")}, 101.0) == (["lock"], [])
    assert log.update("meter", {"rcd": ("GroundFailure", "")}, 102.0) == ([], [])  # still active: one record
    assert log.update("meter", {}, 103.0) == ([], ["rcd"])  # the charger's lock stays open
    log.update("meter", {"rcd": ("GroundFailure", "")}, 104.0)  # raised again: a new record
    rows = [(r.source, r.fault, r.error_code, r.info, r.raised_at, r.cleared_at) for r in log.recent(10)]
    assert rows == [
        ("meter", "rcd", "GroundFailure", "", 104.0, None),
        ("charger", "lock", "ConnectorLockFailure", "lock", 101.0, None),
        ("meter", "rcd", "GroundFailure", "", 100.0, 103.0),
    ]
    assert [r.fault for r in log.recent(1)] == ["rcd"]


def test_a_restart_reconciles_with_what_is_active_now(tmp_path: Path) -> None:
    before = FaultLog(tmp_path / "f.db")
    before.update("meter", {"tamper": ("OtherError", ""), "pen": ("GroundFailure", "")}, 10.0)
    before.close()
    after = FaultLog(tmp_path / "f.db")
    assert after.update("meter", {"tamper": ("OtherError", "")}, 50.0) == ([], ["pen"])
    assert {(r.fault, r.cleared_at) for r in after.recent(10)} == {("tamper", None), ("pen", 50.0)}


def test_the_history_keeps_the_newest_records_and_every_open_one(tmp_path: Path) -> None:
    log = FaultLog(tmp_path / "f.db", size=5)
    log.update("charger", {"weld": ("PowerSwitchFailure", "weld")}, 0.0)  # stays active throughout
    for t in range(1, 20):
        log.update("meter", {"overcurrent": ("OverCurrentFailure", "")}, float(t))
        log.update("meter", {}, t + 0.5)
    kept = log.recent(100)
    assert len(kept) == 6 and kept[-1].fault == "weld"
    assert [r.raised_at for r in kept[:5]] == [19.0, 18.0, 17.0, 16.0, 15.0]


def test_an_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fault source 'web'"):
        FaultLog(tmp_path / "f.db").update("web", {}, 0.0)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("rcd", "GroundFailure"),
        ("rcd-selftest", "GroundFailure"),
        ("overvoltage", "OverVoltage"),
        ("adc-silent", "PowerMeterFailure"),
        ("tamper", "OtherError"),
        ("hold", "PowerSwitchFailure"),
        ("from-the-future", "OtherError"),
    ],
)
def test_meter_fault_names_map_to_ocpp_error_codes(name: str, code: str) -> None:
    assert meter_error_code(name) == code
