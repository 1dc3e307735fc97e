"""The rolling security log: what is pushed, what is kept, bounds, torn lines, export and clear."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evnetd.ocpp.security import CRITICAL_EVENTS, TECH_INFO_MAX, SecurityEvent, SecurityLog

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_log(tmp_path: Path, max_bytes: int = 64 * 1024) -> SecurityLog:
    return SecurityLog(tmp_path / "state" / "security.jsonl", max_bytes=max_bytes, clock=Clock())


def test_critical_and_certificate_events_are_returned_for_pushing(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    for kind in [*sorted(CRITICAL_EVENTS), "InvalidFirmwareSignature", "InvalidChargePointCertificate"]:
        event = log.record(kind, "why")
        assert event is not None and event.type == kind and event.tech_info == "why"
    assert log.record("FailedToAuthenticateAtCentralSystem") is None
    assert log.record("ReconfigurationOfSecurityParameters") is None
    assert [e.type for e in log.events()][-2:] == [
        "FailedToAuthenticateAtCentralSystem",
        "ReconfigurationOfSecurityParameters",
    ]


def test_events_survive_a_new_instance_with_their_times(tmp_path: Path) -> None:
    make_log(tmp_path).record("StartupOfTheDevice")
    [event] = SecurityLog(tmp_path / "state" / "security.jsonl").events()
    assert event == SecurityEvent("StartupOfTheDevice", START + timedelta(seconds=1), None)


def test_tech_info_is_cut_to_the_message_limit(tmp_path: Path) -> None:
    event = make_log(tmp_path).record("ResetOrReboot", "x" * 1000)
    assert event is not None and event.tech_info == "x" * TECH_INFO_MAX


def test_the_log_stays_within_two_generations(tmp_path: Path) -> None:
    log = make_log(tmp_path, max_bytes=2000)
    for n in range(200):
        log.record("InvalidMessages", f"message {n}")
    files = sorted(p.name for p in log.path.parent.iterdir())
    assert files == ["security.jsonl", "security.jsonl.1"]
    assert sum(p.stat().st_size for p in log.path.parent.iterdir()) < 2 * 2000 + 200
    kept = [e.tech_info for e in log.events()]
    assert kept[-1] == "message 199"
    assert kept == [f"message {n}" for n in range(200 - len(kept), 200)]


def test_a_line_cut_by_a_power_loss_is_skipped(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.record("StartupOfTheDevice")
    with log.path.open("a") as out:
        out.write('{"type": "ResetOrRe')
    log.path.write_text(log.path.read_text() + "\n")
    log.record("SettingSystemTime")
    assert [e.type for e in log.events()] == ["StartupOfTheDevice", "SettingSystemTime"]


def test_export_selects_the_window(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    for kind in ("StartupOfTheDevice", "SettingSystemTime", "ResetOrReboot"):
        log.record(kind)  # at START + 1 s, + 2 s, + 3 s
    dest = tmp_path / "out.jsonl"
    assert log.export(dest, START + timedelta(seconds=2), START + timedelta(seconds=3)) == 2
    lines = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["SettingSystemTime", "ResetOrReboot"]
    assert lines[0]["timestamp"] == "2025-03-01T12:00:02.000+00:00"


def test_clear_leaves_only_the_clearing_event_and_returns_it(tmp_path: Path) -> None:
    log = make_log(tmp_path, max_bytes=200)
    for _ in range(10):
        log.record("InvalidMessages")
    event = log.clear()
    assert event is not None and event.type == "SecurityLogWasCleared"
    assert [e.type for e in log.events()] == ["SecurityLogWasCleared"]
