"""The imported-energy register: what the user pays for, so it must never go backwards.

Energy is kept as an integer count of milli-watt-hours plus a float remainder below one
mWh. The integer part is exact however long the charger runs (a float total would lose
the sub-Wh increments of a 20 ms cycle once the register reaches a few MWh); the
remainder keeps every cycle's contribution, so nothing is lost to rounding. Persist
``milli_wh``; at most one mWh is lost across a restart.
"""

from __future__ import annotations

import math

_WS_PER_MWH = 3.6  # watt-seconds in one milli-watt-hour


class EnergyRegister:
    """Accumulates imported energy from P·dt; export (negative power) counts as zero."""

    def __init__(self, milli_wh: int = 0) -> None:
        """Start from a persisted count of mWh (0 for a new register)."""
        if milli_wh < 0:
            raise ValueError(f"an energy register can not be negative: {milli_wh} mWh")
        self._milli_wh = milli_wh
        self._remainder = 0.0  # mWh, always in [0, 1)

    @property
    def milli_wh(self) -> int:
        """Whole milli-watt-hours: the value to persist."""
        return self._milli_wh

    @property
    def total_wh(self) -> float:
        """The register in Wh, with its sub-mWh remainder."""
        return (self._milli_wh + self._remainder) / 1000.0

    def add(self, power_w: float, duration_s: float) -> None:
        """Add ``power_w`` held for ``duration_s``.

        Negative, NaN or infinite power, and non-positive durations, add nothing: a
        glitch must never move the register, let alone backwards.
        """
        if not (power_w > 0.0 and duration_s > 0.0) or math.isinf(power_w * duration_s):
            return
        total = self._remainder + power_w * duration_s / _WS_PER_MWH
        whole = math.floor(total)
        self._milli_wh += whole
        self._remainder = total - whole
