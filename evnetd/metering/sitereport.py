"""When the signed site current goes on the bus: once a second, and at once on a rise.

Energy management keeps the charger under the main fuse, so a rise of the house load must
reach it within a few cycles, not up to a second later with the next 1 Hz update: a window
whose signed site current is ``rise_a`` or more above the last published value is
published the cycle it is measured. A fall only frees headroom and waits for the 1 Hz
update. High-rate data stays off the bus (a noisy clamp could cross the threshold every
cycle), so fast updates come at most every ``min_interval_s``, counted from the previous
update of either kind; a rise seen during that pause goes out with the first window after
it, which is at most one cycle late.

Each 1 Hz value is the mean of the windows since the previous update, fast or not: the
cycles before a step, already superseded by a fast update, are not averaged into the next
value, so the published current does not fall back to a half-way figure after a step.
"""

from __future__ import annotations

import math

from evnetd.metering.aggregate import average
from evnetd.metering.measurement import CycleMeasurement

RISE_A = 1.0
"""A rise this large above the last published signed site current is published at once."""
MIN_INTERVAL_S = 0.1
"""Fast updates never follow the previous update sooner than this."""


class SiteReporter:
    """Feed it every window and call :meth:`take` for the 1 Hz update; the caller
    publishes whatever either returns (``site_power_w`` and ``site_active_current``)."""

    def __init__(self, rise_a: float = RISE_A, min_interval_s: float = MIN_INTERVAL_S) -> None:
        if rise_a <= 0.0 or min_interval_s < 0.0:
            raise ValueError("need rise_a > 0 and min_interval_s >= 0")
        self._rise = rise_a
        self._interval = min_interval_s
        self._pending: list[CycleMeasurement] = []
        self._last_value = math.nan
        self._last_t = -math.inf

    def observe(self, window: CycleMeasurement, now: float) -> CycleMeasurement | None:
        """Take one window; return it when it must be published now (a rise), else None.

        Going from unknown (NaN, nothing published yet or no mains) to a known value
        counts as a rise: energy management is waiting for it on its safe fallback.
        """
        value = window.site_active_current
        rose = value >= self._last_value + self._rise or (math.isnan(self._last_value) and not math.isnan(value))
        if rose and now - self._last_t >= self._interval:
            self._published(value, now)
            return window
        self._pending.append(window)
        return None

    def take(self, now: float) -> CycleMeasurement | None:
        """The 1 Hz update: the mean of the windows since the previous update (None: none
        came, the last published values stand)."""
        if not self._pending:
            return None
        mean = average(self._pending)
        self._published(mean.site_active_current, now)
        return mean

    def _published(self, value: float, now: float) -> None:
        self._pending = []
        self._last_value = value
        self._last_t = now
