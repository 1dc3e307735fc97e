"""``org.evnet.Energy1``: what energy management decided, why, and the owner's settings.

``Limit`` is the cap sent to charge control as the ``energy`` limit: amps, 0 for a pause,
NaN when energy management does not limit. ``Reason`` and ``Source`` say which rule set it
(site fuse, solar, schedule, sharing, fallback), the question every user of a load
manager asks when the car charges slower than expected.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from dbus_fast import Variant

from evnetd.bus.client import unwrap
from evnetd.bus.errors import InvalidArgument
from evnetd.bus.names import ENERGY
from evnetd.bus.service import PublishedInterface, bus_method
from evnetd.energy.settings import SIGNATURES
from evnetd.runtime.settings import SettingError

INITIAL: dict[str, Any] = {
    "Mode": "normal", "Settings": {}, "Limit": math.nan, "Paused": False, "Reason": "starting", "Source": "none",
    "SiteCurrent": math.nan, "HouseCurrent": math.nan, "Surplus": math.nan, "SolarRunning": False,
    "ScheduleAllowed": True, "Cheap": False, "SharingState": "off", "Allocation": {},
}  # fmt: skip

def settings_variants(values: dict[str, Any]) -> dict[str, Variant]:
    return {name: Variant(SIGNATURES.get(name, "d"), value) for name, value in values.items()}


class EnergyActions(Protocol):
    def change_settings(self, changes: dict[str, Any]) -> None: ...


class EnergyInterface(PublishedInterface):
    """``SiteCurrent`` is signed (import > 0, export < 0) and includes this charger;
    ``HouseCurrent`` excludes it; ``Surplus`` is what the EV could take from export alone.
    ``SharingState``: off, alone, sharing, conflict or fallback; ``Allocation``: node → amps."""

    PROPERTIES = {
        "Mode": "s", "Settings": "a{sv}", "Limit": "d", "Paused": "b", "Reason": "s", "Source": "s",
        "SiteCurrent": "d", "HouseCurrent": "d", "Surplus": "d", "SolarRunning": "b", "ScheduleAllowed": "b",
        "Cheap": "b", "SharingState": "s", "Allocation": "a{yd}",
    }  # fmt: skip

    def __init__(self, actions: EnergyActions) -> None:
        self.actions = actions
        super().__init__(ENERGY.interface, INITIAL)

    @bus_method("a{sv}")
    def ChangeSettings(self, changes: dict[str, Any]) -> None:
        """Apply the owner's settings all at once, or none (InvalidArgument names field, value and rule)."""
        try:
            self.actions.change_settings(unwrap(changes))
        except SettingError as exc:
            raise InvalidArgument(str(exc)) from None
