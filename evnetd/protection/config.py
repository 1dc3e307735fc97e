"""Protection thresholds and timers, with the defaults of DESIGN.md §4."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class ProtectionConfig:
    """Every limit the protection core applies; validated on construction."""

    # Mains voltage (DESIGN.md §4: > 300 V / < 115 V, back once 207–253 V for 10 s).
    overvoltage_v: float = 300.0
    undervoltage_v: float = 115.0
    voltage_confirm_s: float = 0.0
    """0: trip on the first cycle out of limits."""
    voltage_recovery_low_v: float = 207.0
    voltage_recovery_high_v: float = 253.0
    voltage_recovery_s: float = 10.0

    # EV current (> 1.2 × Imax; back after 60 s, three times a session, then latched).
    hardware_max_a: float = 32.0
    """Imax when nothing narrower is offered (``imax_a`` None) and the derating start."""
    overcurrent_factor: float = 1.2
    overcurrent_confirm_s: float = 1.0
    """Rides through inrush and the EV's current regulation settling, far below what
    heats a 32 A cable; the reference uses 7 s for a 1.1 × rule."""
    overcurrent_min_imax_a: float = 6.0
    """Floor of Imax for the rule: 0 A offered (paused) must not trip on meter noise;
    the charger itself opens the contactor if the EV keeps drawing (6 s rule)."""
    offered_decrease_grace_s: float = 10.0
    """After the offered current drops, the previous value still counts this long: the
    EV may take 5 s to follow a PWM change, some a few seconds more."""
    overcurrent_recovery_s: float = 60.0
    overcurrent_auto_recoveries: int = 3

    # PEN / N-PE voltage (> 70 V, act within 5 s; back once < 50 V for 60 s).
    pen_trip_v: float = 70.0
    pen_confirm_s: float = 0.0
    """At most 5 s (BS 7671); 0 trips on the first cycle, for the 20 ms latency target."""
    pen_recovery_v: float = 50.0
    pen_recovery_s: float = 60.0

    # Temperature (derate 72–78 °C down to 6 A, trip at 79 °C, back below 70 °C).
    derate_start_c: float = 72.0
    derate_end_c: float = 78.0
    derate_min_a: float = 6.0
    derate_exit_hysteresis_c: float = 1.0
    """Derating ends below ``derate_start_c`` minus this, so sensor noise at 72 °C does
    not flood the journal and the CSMS with warning events."""
    overtemp_trip_c: float = 79.0
    overtemp_recovery_c: float = 70.0

    # Metering ADC watchdog (no samples for 50 ms; back once flowing for 5 s).
    adc_silent_s: float = 0.05
    adc_recovery_s: float = 5.0
    adc_startup_grace_s: float = 1.0
    """Time the first sample may take after start-up before the ADC counts as silent."""

    # RCD self-test: pulse the test output, the fault input must follow and release.
    rcd_test_pulse_s: float = 0.04
    rcd_test_trip_within_s: float = 0.1
    """From the start of the pulse."""
    rcd_test_release_within_s: float = 1.0
    """From the end of the pulse."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{field.name} must be a finite non-negative number: {value}")
        _require(
            self.undervoltage_v
            < self.voltage_recovery_low_v
            < self.voltage_recovery_high_v
            < self.overvoltage_v,
            "need undervoltage_v < voltage_recovery_low_v < voltage_recovery_high_v"
            " < overvoltage_v",
        )
        _require(self.overcurrent_factor > 1.0, "overcurrent_factor must be above 1")
        _require(self.hardware_max_a > 0.0, "hardware_max_a must be positive")
        _require(self.pen_recovery_v < self.pen_trip_v, "need pen_recovery_v < pen_trip_v")
        _require(self.pen_confirm_s <= 5.0, "pen_confirm_s must be at most 5 s")
        _require(
            self.derate_start_c < self.derate_end_c < self.overtemp_trip_c,
            "need derate_start_c < derate_end_c < overtemp_trip_c",
        )
        _require(
            self.overtemp_recovery_c < self.overtemp_trip_c,
            "need overtemp_recovery_c < overtemp_trip_c",
        )
        _require(
            self.derate_min_a <= self.hardware_max_a, "need derate_min_a <= hardware_max_a"
        )
        _require(self.adc_silent_s > 0.0, "adc_silent_s must be positive")
        _require(
            0.0 < self.rcd_test_pulse_s < self.rcd_test_trip_within_s,
            "need 0 < rcd_test_pulse_s < rcd_test_trip_within_s",
        )
        _require(self.rcd_test_release_within_s > 0.0, "rcd_test_release_within_s must be > 0")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


DEFAULT_PROTECTION_CONFIG = ProtectionConfig()
