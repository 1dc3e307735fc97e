"""What a policy answers, and how its reason is written.

Every policy returns a Decision carrying its limit and the reason in words. The reason is
what `evnetctl energy` and the web client show, so it names the numbers that produced the
limit ("fuse 40 A − house 31.2 A − margin 2 A"): a user who sees the car charge slowly
wants to know which rule did it and with which values, not just that energy management did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    amps: float | None
    """The cap in amps; None = pause; math.inf = this policy does not cap."""
    reason: str
    source: str
    """Which rule limits: "site", "solar", "schedule", "sharing", "fallback" or "none"."""
    next_change: float | None = None
    """Monotonic deadline at which the decision may change without new input (a timer
    firing, a window edge), or None when only new input can change it."""


def amps_text(amps: float) -> str:
    """``31.2`` → "31.2 A", ``40.0`` → "40 A": a tenth of an amp is what a CT clamp resolves."""
    return f"{round(amps, 1) + 0.0:g} A"  # + 0.0 turns -0.0 into 0.0


def duration_text(seconds: float) -> str:
    """``252`` → "4 min 12 s": whole seconds rounded up, so a running timer never reads 0 s."""
    total = max(0, math.ceil(seconds - 1e-9))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
