"""Journal entries from the sim log and from journalctl's JSON, in one shape."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from evnetd.web.journal import journal_entry, read_sim_log, sim_log_entry


def test_sim_log_line() -> None:
    entry = sim_log_entry("2026-01-02 03:04:05,678 evnet-charger WARNING evnet.charger: lock failed [FAULT=lock]")
    assert entry == {
        "time": datetime(2026, 1, 2, 3, 4, 5).timestamp() + 0.678,
        "unit": "evnet-charger",
        "priority": 4,
        "message": "evnet.charger: lock failed [FAULT=lock]",
    }


def test_a_line_that_is_no_record_is_kept_whole() -> None:
    assert sim_log_entry("Traceback (most recent call last):") == {
        "time": None, "unit": None, "priority": None, "message": "Traceback (most recent call last):",
    }  # fmt: skip


def test_read_sim_log_returns_the_last_lines_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "sim.log"
    log.write_text("".join(f"2026-01-02 03:04:{n:02d},000 evnet-meter INFO m: line {n}\n" for n in range(30)))
    assert [e["message"] for e in read_sim_log(log, 3)] == ["m: line 27", "m: line 28", "m: line 29"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"MESSAGE": "ready", "__REALTIME_TIMESTAMP": "1700000000500000", "_SYSTEMD_UNIT": "evnet-meter.service",
          "PRIORITY": "6"},
         {"time": 1700000000.5, "unit": "evnet-meter.service", "priority": 6, "message": "ready"}),
        ({"MESSAGE": [104, 105, 255], "SYSLOG_IDENTIFIER": "evnet-web"},
         {"time": None, "unit": "evnet-web", "priority": None, "message": "hi\ufffd"}),
    ],
)  # fmt: skip
def test_journal_entry(record: dict[str, Any], expected: dict[str, Any]) -> None:
    assert journal_entry(record) == expected
