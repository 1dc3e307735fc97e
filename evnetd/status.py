"""The one status object `evnetctl status` prints, composed from every service's properties.

A field whose service is not running, or that the service does not know yet (NaN on the
bus), is null: nothing is invented.
"""

from __future__ import annotations

import math
from typing import Any

# status key → (service, property)
_FIELDS: dict[str, tuple[str, str]] = {
    "status": ("charger", "Status"),
    "error_code": ("charger", "ErrorCode"),
    "pilot": ("charger", "Pilot"),
    "offered_current_a": ("charger", "OfferedCurrent"),
    "limit_source": ("charger", "LimitSource"),
    "voltage_v": ("meter", "Voltage"),
    "current_a": ("meter", "Current"),
    "power_w": ("meter", "Power"),
    "frequency_hz": ("meter", "Frequency"),
    "energy_wh": ("meter", "EnergyWh"),
    "temperature_c": ("meter", "Temperature"),
    "permit": ("meter", "Permit"),
    "faults": ("meter", "ActiveFaults"),
    "locked": ("charger", "Locked"),
    "contactor_closed": ("charger", "ContactorClosed"),
    "ocpp_connected": ("ocpp", "Connected"),
    "ocpp_registration": ("ocpp", "Registration"),
    "ocpp_queue": ("ocpp", "QueueLength"),
    "energy_mode": ("energy", "Mode"),
    "energy_reason": ("energy", "Reason"),
}


def _known(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and value == "":
        return None
    return value


def compose_status(props: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """``props``: service name → its properties (None when not running)."""
    status: dict[str, Any] = {}
    for key, (service, name) in _FIELDS.items():
        values = props.get(service)
        status[key] = _known(values.get(name)) if values else None
    charger = props.get("charger")
    session = charger.get("Session") if charger else None
    status["session"] = {k: _known(v) for k, v in session.items()} if session else None
    status["services"] = sorted(name for name, values in props.items() if values is not None)
    plant = props.get("plant")
    status["plant"] = plant
    return status


def format_status(status: dict[str, Any]) -> str:
    """Human-readable, one field a line."""
    lines = []
    for key, value in status.items():
        if key == "plant" and value:
            lines.append("plant: " + ", ".join(f"{k}={v}" for k, v in sorted(value.items())))
        elif key == "session" and value:
            lines.append("session: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        else:
            shown = "-" if value is None else value
            lines.append(f"{key}: {shown}")
    return "\n".join(lines)
