"""Aggregating cycle measurements into the 1 Hz values published on the bus.

RMS values are averaged quadratically (the RMS over the second, as IEC 61000-4-30 does),
powers and the signed site current arithmetically weighted by window duration (so the
second's P times its length is its energy), and the frequency as cycles counted over the
time they took. A window whose signed site current is unknown (NaN) makes the average
unknown: a second that lost the mains for a while cannot say which way the site flowed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evnetd.metering.measurement import CycleMeasurement


def average(measurements: Sequence[CycleMeasurement]) -> CycleMeasurement:
    """One measurement spanning all of ``measurements`` (consecutive windows, non-empty)."""
    if not measurements:
        raise ValueError("nothing to average")
    total = math.fsum(m.duration for m in measurements)

    def rms(values: Sequence[tuple[float, float]]) -> float:
        return math.sqrt(math.fsum(v * v * d for v, d in values) / total)

    def mean(values: Sequence[tuple[float, float]]) -> float:
        return math.fsum(v * d for v, d in values) / total

    power = mean([(m.power_w, m.duration) for m in measurements])
    apparent = mean([(m.apparent_va, m.duration) for m in measurements])
    cycles = [m.duration for m in measurements if m.frequency_hz is not None]
    return CycleMeasurement(
        t_end=measurements[-1].t_end,
        duration=total,
        vrms=rms([(m.vrms, m.duration) for m in measurements]),
        irms=rms([(m.irms, m.duration) for m in measurements]),
        power_w=power,
        apparent_va=apparent,
        power_factor=max(-1.0, min(1.0, power / apparent)) if apparent > 0.0 else 1.0,
        frequency_hz=len(cycles) / math.fsum(cycles) if cycles else None,
        npe_vrms=rms([(m.npe_vrms, m.duration) for m in measurements]),
        site_irms=rms([(m.site_irms, m.duration) for m in measurements]),
        load_vrms=rms([(m.load_vrms, m.duration) for m in measurements]),
        site_power_w=mean([(m.site_power_w, m.duration) for m in measurements]),
        site_active_current=mean([(m.site_active_current, m.duration) for m in measurements]),
    )


class SecondAggregator:
    """Collects windows and hands back their average once about ``period_s`` is covered.

    A period is closed at the window boundary nearest to ``period_s`` (within half a
    window), so 50 Hz gives exactly 50 cycles per second and every window lands in
    exactly one published value.
    """

    def __init__(self, period_s: float = 1.0) -> None:
        if period_s <= 0.0:
            raise ValueError("period_s must be positive")
        self._period = period_s
        self._pending: list[CycleMeasurement] = []
        self._covered = 0.0

    def push(self, measurement: CycleMeasurement) -> CycleMeasurement | None:
        self._pending.append(measurement)
        self._covered += measurement.duration
        if self._covered + 0.5 * measurement.duration < self._period:
            return None
        result = average(self._pending)
        self._pending = []
        self._covered = 0.0
        return result
