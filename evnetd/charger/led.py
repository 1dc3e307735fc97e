"""What the LED ring shows for each connector status, online or offline.

One colour per status, so a user can tell from across the garage; blinking means
"something is happening or wrong"; and when the OCPP link is down (a charger that is
configured for a CSMS) every steady pattern turns into a slow blink of the same colour,
so the owner sees "offline" without losing the status.
"""

from __future__ import annotations

import enum

from evnetd.hal.interfaces import LedState
from evnetd.iec61851.status import ConnectorStatus


class Brightness(enum.Enum):
    LOW = 0.15
    MEDIUM = 0.5
    HIGH = 1.0


OFFLINE_BLINK_S = 2.0
FAULT_BLINK_S = 0.5

# status → (red, green, blue, blink period online in s; 0 = steady)
_PATTERNS: dict[str, tuple[int, int, int, float]] = {
    ConnectorStatus.AVAILABLE.value: (0, 255, 0, 0.0),
    "Reserved": (255, 160, 0, 0.0),
    ConnectorStatus.PREPARING.value: (0, 80, 255, 1.0),
    ConnectorStatus.CHARGING.value: (0, 80, 255, 0.0),
    ConnectorStatus.SUSPENDED_EV.value: (0, 200, 200, 0.0),
    ConnectorStatus.SUSPENDED_EVSE.value: (0, 200, 200, 1.0),
    ConnectorStatus.FINISHING.value: (0, 255, 0, 1.0),
    ConnectorStatus.UNAVAILABLE.value: (255, 255, 255, 0.0),
    ConnectorStatus.FAULTED.value: (255, 0, 0, FAULT_BLINK_S),
}


def led_for(status: str, online: bool, brightness: Brightness) -> LedState:
    """The ring pattern for an OCPP status string (incl. "Reserved")."""
    red, green, blue, blink = _PATTERNS[status]
    if not online and blink == 0.0:
        blink = OFFLINE_BLINK_S
    return LedState(red, green, blue, brightness.value, blink)
