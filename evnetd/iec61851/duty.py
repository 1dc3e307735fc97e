"""Current ↔ PWM duty on the control pilot (IEC 61851-1 Annex A, as tabulated by test gear).

Both directions live here so the EVSE and the simulated EV read the same table. The EVSE
side rounds the duty *down* to the PWM resolution: the EV must never see more current
than the arbitration allowed (the standard's rounding rule is not public; SmartEVSE
truncates too). Arithmetic is exact (fractions), so 6 A gives exactly 10 % and not
9.999 % → 9.9 %.
"""

from __future__ import annotations

import math
from fractions import Fraction

MIN_CURRENT_A = 6.0
"""The lowest current a duty can signal (10 %); below it the EVSE offers nothing (X1)."""

MAX_CURRENT_A = 80.0
"""The highest current a duty can signal (96 %)."""

LOW_RANGE_MAX_A = 51.0
"""Up to here duty = A / 0.6 %; above, duty = A / 2.5 + 64 %."""

X1_DUTY = 1.0
"""100 %: steady +12 V, no current offered."""

DEFAULT_RESOLUTION = 0.001
"""0.1 % of the period."""


def duty_for_current(amps: float, resolution: float = DEFAULT_RESOLUTION) -> float:
    """The duty (fraction) that advertises ``amps``, rounded down to ``resolution``.

    Below 6 A the answer is 1.0 (X1: no charging). Above 80 A the duty for 80 A is given:
    signalling less than asked is safe, more never is.
    """
    if math.isnan(amps):
        raise ValueError("current is NaN")
    steps_per_period = _steps(resolution)
    if amps < MIN_CURRENT_A:
        return X1_DUTY
    exact = Fraction(min(amps, MAX_CURRENT_A))
    low_range = exact <= Fraction(LOW_RANGE_MAX_A)
    percent = exact / Fraction(6, 10) if low_range else exact / Fraction(5, 2) + 64
    return math.floor(percent / 100 * steps_per_period) / steps_per_period


def current_for_duty(duty: float) -> float | None:
    """The current an EV reads from ``duty`` (fraction); None when it means "no charging".

    8–10 % → 6 A; 10–85 % → d × 0.6 A; 85–96 % → (d − 64) × 2.5 A; 96–97 % → 80 A
    (Fluke FEV300 table). Everything else (X1, F, 5 % digital communication, errors) is None.
    """
    # Exact percent of the binary value, limited to a millionth of a percent so 0.85 is 85.
    d = Fraction(duty).limit_denominator(10**8) * 100
    if 8 <= d < 10:
        return MIN_CURRENT_A
    if 10 <= d <= 85:
        return float(d * Fraction(6, 10))
    if 85 < d <= 96:
        return float((d - 64) * Fraction(5, 2))
    if 96 < d <= 97:
        return MAX_CURRENT_A
    return None


def _steps(resolution: float) -> int:
    """Number of duty steps per period; the resolution must divide the period evenly."""
    steps = round(1 / resolution) if resolution > 0 else 0
    if steps < 1 or not math.isclose(steps * resolution, 1.0, rel_tol=1e-9):
        raise ValueError(f"PWM resolution {resolution}: must be 1/N of the period (N ≥ 1)")
    return steps
