"""What the meter reports for each mains cycle (or fixed window when there is no mains)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CycleMeasurement:
    """RMS values and power over one window, DC removed, in volts, amps, watts, VA.

    A window normally spans one mains cycle, rising zero-crossing to rising zero-crossing;
    then ``frequency_hz`` is 1 / that period. When the line voltage is absent or no
    crossing is found the meter closes fixed 20 ms windows instead, so current, N-PE
    voltage and mains loss are still seen; those windows, and the ones that lose or
    regain the lock, have ``frequency_hz`` None.
    ``power_factor`` is P / S with the sign of P (1.0 when S is too small to mean
    anything). Windows tile time: the sum of ``power_w * duration`` over them is the energy.

    The site CT is reported twice: ``site_irms`` (magnitude only) and the signed pair
    ``site_power_w`` / ``site_active_current``, which tell import from export. The signed
    pair defaults to NaN (unknown) so that windows built by hand, which do not model the
    site, need not invent it.
    """

    t_end: float
    """Monotonic time (s) of the end of the window."""
    duration: float
    """Length of the window (s)."""
    vrms: float
    """Line-neutral voltage (channel 0)."""
    irms: float
    """EV current (channel 1)."""
    power_w: float
    """Active power, positive when the EV imports."""
    apparent_va: float
    power_factor: float
    frequency_hz: float | None
    npe_vrms: float
    """Neutral-to-PE voltage (channel 2): the PEN-fault indicator."""
    site_irms: float
    """Site CT clamp current (channel 3)."""
    load_vrms: float
    """Voltage after the contactor (channel 4): weld detection."""
    site_power_w: float = math.nan
    """Active power through the site CT clamp: positive when the site imports, negative
    when it exports (solar)."""
    site_active_current: float = math.nan
    """``site_power_w / vrms``: the in-phase part of the site current, signed like the
    power; NaN when the line voltage is too low to tell the direction."""
