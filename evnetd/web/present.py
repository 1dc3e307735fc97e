"""The services' values as the API shows them: JSON-safe, null for "unknown".

D-Bus carries "unknown" as NaN, −1 or an empty string (it has no null); JSON has null and
no NaN at all (``json.dumps`` would write an invalid ``NaN``). Everything the API sends
goes through here.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from evnetd.status import compose_status


def json_safe(value: Any) -> Any:
    """NaN and infinities → None, recursively (tuples become lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _known(value: Any) -> Any:
    """None for the bus's unknowns: NaN, empty text, −1 ids."""
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return None
    return json_safe(value)


def status(props: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """`evnetctl status --json`'s object plus what the dashboard shows beside it."""
    result = compose_status(props)
    charger = props.get("charger") or {}
    meter = props.get("meter") or {}
    result["error_info"] = _known(charger.get("ErrorInfo"))
    result["signalled_current_a"] = _known(charger.get("SignalledCurrent"))
    result["limits"] = charger.get("Limits")
    result["rcd_selftest"] = _known(meter.get("RcdSelfTest"))
    result["station_name"] = _known((charger.get("Settings") or {}).get("station_name"))
    energy = props.get("energy")
    result["energy"] = None if energy is None else {
        "mode": energy.get("Mode"),
        "limit_a": energy.get("Limit"),
        "paused": energy.get("Paused"),
        "reason": energy.get("Reason"),
        "source": energy.get("Source"),
        "site_current_a": energy.get("SiteCurrent"),
        "house_current_a": energy.get("HouseCurrent"),
        "surplus_a": energy.get("Surplus"),
    }  # fmt: skip
    ocpp = props.get("ocpp")
    result["ocpp"] = None if ocpp is None else {
        "connected": ocpp.get("Connected"),
        "registration": _known(ocpp.get("Registration")),
        "url": ocpp.get("Url"),
        "charge_point_id": ocpp.get("ChargePointId"),
        "last_error": _known(ocpp.get("LastError")),
        "queue_length": ocpp.get("QueueLength"),
    }  # fmt: skip
    safe: dict[str, Any] = json_safe(result)
    return safe


def session(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``Charger1.Sessions``."""
    return {
        "id": row.get("id"),
        "id_tag": row.get("id_tag", ""),
        "started_at": _known(row.get("started_at")),
        "stopped_at": _known(row.get("stopped_at")),
        "start_wh": _known(row.get("start_wh")),
        "stop_wh": _known(row.get("last_wh")),
        "energy_wh": _known(row.get("energy_wh")),
        "stop_reason": _known(row.get("stop_reason")),
        "transaction_id": _known(row.get("transaction_id")),
        "reservation_id": _known(row.get("reservation_id")),
    }


def fault(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``Charger1.Faults``; ``cleared_at`` 0 (still active) → None."""
    cleared = row.get("cleared_at") or None
    return {
        "fault": row.get("fault", ""),
        "error_code": row.get("error_code", ""),
        "info": row.get("info", ""),
        "raised_at": json_safe(row.get("raised_at")),
        "cleared_at": json_safe(cleared),
        "source": row.get("source", ""),
    }


CSV_COLUMNS = ("id", "id_tag", "started_at", "stopped_at", "energy_wh", "start_wh", "stop_wh", "stop_reason",
               "transaction_id")  # fmt: skip


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name.endswith("_at"):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if not isinstance(value, str):
        return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    # text a spreadsheet would run as a formula (an id tag from an app can be any text)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def sessions_csv(sessions: Iterable[dict[str, Any]]) -> str:
    """Sessions (as ``session`` shows them) as CSV, times in ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in sessions:
        writer.writerow([_cell(name, row.get(name)) for name in CSV_COLUMNS])
    return out.getvalue()
