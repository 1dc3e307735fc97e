"""What the meter reports for each mains cycle (or fixed window when there is no mains)."""

from __future__ import annotations

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
