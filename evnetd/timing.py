"""Comparing times that are sums of floats.

Cycle end times are sums of sample periods and a fake clock advances by 20 ms steps, so a
period that has exactly elapsed can come out a rounding error short (0.99999999 s). One
microsecond of tolerance, far below anything the rules resolve, makes "for 1 s" mean
1 s in every test and on the device alike.
"""

from __future__ import annotations

TOLERANCE_S = 1e-6


def reached(now: float, since: float, period: float) -> bool:
    """Whether ``period`` seconds have passed from ``since`` to ``now``."""
    return now >= since + period - TOLERANCE_S
