"""How the services' values are shown: null for unknowns, valid JSON, CSV safe for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest

from evnetd.web import present


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (math.nan, None),
        (math.inf, None),
        (1.5, 1.5),
        ({"a": [math.nan, 2.0, (3, -math.inf)]}, {"a": [None, 2.0, [3, None]]}),
        ({1: "x"}, {"1": "x"}),
    ],
)
def test_json_safe(value: Any, shown: Any) -> None:
    assert present.json_safe(value) == shown


def test_status_adds_energy_and_ocpp_and_is_valid_json() -> None:
    props: dict[str, dict[str, Any] | None] = {
        "charger": {"Status": "Charging", "Pilot": "C", "OfferedCurrent": 16.0, "SignalledCurrent": math.nan,
                    "ErrorInfo": "", "Limits": {"user": 16.0}, "Settings": {"station_name": "Garage"},
                    "Session": {"id": 3, "id_tag": "", "energy_wh": 120.5, "transaction_id": -1}},
        "meter": {"Voltage": math.nan, "RcdSelfTest": "passed"},
        "ocpp": {"Connected": True, "Registration": "Accepted", "Url": "ws://x", "ChargePointId": "CP",
                 "LastError": "", "QueueLength": 0},
        "energy": {"Mode": "solar", "Limit": math.nan, "Paused": False, "Reason": "surplus 8.0 A",
                   "Source": "solar", "SiteCurrent": -8.0, "HouseCurrent": 2.0, "Surplus": 8.0},
        "plant": None,
    }  # fmt: skip
    status = present.status(props)
    json.loads(json.dumps(status, allow_nan=False))  # no NaN anywhere
    assert status["status"] == "Charging"
    assert status["voltage_v"] is None
    assert status["signalled_current_a"] is None
    assert status["error_info"] is None
    assert status["station_name"] == "Garage"
    assert status["limits"] == {"user": 16.0}
    assert status["energy"] == {"mode": "solar", "limit_a": None, "paused": False, "reason": "surplus 8.0 A",
                                "source": "solar", "site_current_a": -8.0, "house_current_a": 2.0,
                                "surplus_a": 8.0}  # fmt: skip
    assert status["ocpp"]["connected"] is True
    assert status["ocpp"]["last_error"] is None


def test_status_of_a_stack_that_is_not_there() -> None:
    status = present.status(dict.fromkeys(("plant", "meter", "charger", "ocpp", "energy")))
    assert status["status"] is None and status["energy"] is None and status["ocpp"] is None
    assert status["services"] == []


def test_session_row_unknowns_are_null() -> None:
    row = {"id": 7, "id_tag": "04A1B2C3", "started_at": 1700000000.0, "start_wh": 100.0, "last_wh": 1100.0,
           "energy_wh": 1000.0, "stopped_at": math.nan, "stop_reason": "", "transaction_id": -1,
           "reservation_id": -1}  # fmt: skip
    assert present.session(row) == {
        "id": 7, "id_tag": "04A1B2C3", "started_at": 1700000000.0, "stopped_at": None, "start_wh": 100.0,
        "stop_wh": 1100.0, "energy_wh": 1000.0, "stop_reason": None, "transaction_id": None, "reservation_id": None,
    }  # fmt: skip


def test_fault_still_active_has_no_clear_time() -> None:
    row = {"fault": "rcd", "error_code": "GroundFailure", "info": "", "raised_at": 5.0, "cleared_at": 0.0,
           "source": "meter"}  # fmt: skip
    assert present.fault(row)["cleared_at"] is None
    assert present.fault({**row, "cleared_at": 9.0})["cleared_at"] == 9.0


def test_sessions_csv() -> None:
    sessions = [
        {"id": 2, "id_tag": "=HYPERLINK(\"x\")", "started_at": 1700000000.0, "stopped_at": None, "energy_wh": 1234.5,
         "start_wh": -0.25, "stop_wh": 1234.25, "stop_reason": None, "transaction_id": 17},
        {"id": 1, "id_tag": "04A1B2C3", "started_at": 1699990000.0, "stopped_at": 1699993600.0,
         "energy_wh": 7000.0, "start_wh": 0.0, "stop_wh": 7000.0, "stop_reason": "EVDisconnected",
         "transaction_id": None},
    ]  # fmt: skip
    rows = list(csv.reader(io.StringIO(present.sessions_csv(sessions))))
    assert rows[0] == list(present.CSV_COLUMNS)
    assert rows[1] == ["2", '\'=HYPERLINK("x")', "2023-11-14T22:13:20Z", "", "1234.5", "-0.25", "1234.25", "", "17"]
    assert rows[2] == ["1", "04A1B2C3", "2023-11-14T19:26:40Z", "2023-11-14T20:26:40Z", "7000", "0", "7000",
                       "EVDisconnected", ""]  # fmt: skip
