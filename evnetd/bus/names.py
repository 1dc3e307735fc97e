"""Well-known names, object paths and interfaces of every evnetd service.

Versioned from the first release (name, interface and path carry the major version), so
an incompatible API can later be served beside the old one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one service's main object lives on the bus."""

    bus_name: str
    path: str
    interface: str


def _endpoint(part: str) -> Endpoint:
    return Endpoint(f"org.evnet.{part}1", f"/org/evnet/{part}1", f"org.evnet.{part}1")


PLANT = _endpoint("Plant")
METER = _endpoint("Meter")
CHARGER = _endpoint("Charger")
OCPP = _endpoint("Ocpp")
ENERGY = _endpoint("Energy")
PROPERTIES = "org.freedesktop.DBus.Properties"
