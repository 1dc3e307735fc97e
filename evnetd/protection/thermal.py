"""The thermal derating curve: 72 °C → full current, 78 °C → 6 A, linear between."""

from __future__ import annotations

from evnetd.protection.config import ProtectionConfig


def derating_limit_a(celsius: float, config: ProtectionConfig) -> float:
    """Current the relay/PCB temperature allows, clamped to the ends of the ramp."""
    start, end = config.derate_start_c, config.derate_end_c
    top, bottom = config.hardware_max_a, config.derate_min_a
    if celsius <= start:
        return top
    if celsius >= end:
        return bottom
    return top - (celsius - start) / (end - start) * (top - bottom)
