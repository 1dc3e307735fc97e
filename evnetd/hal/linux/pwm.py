"""The control-pilot PWM through the Linux sysfs PWM class (pwmchip0, channel 0 = GPIO18).

sysfs takes the period and the duty cycle in nanoseconds and refuses (EINVAL) any state in
which the duty cycle exceeds the period, so the order of the two writes depends on whether
the period grows or shrinks. The duty cycle is rounded *down* to the nanosecond so the EV
is never offered more current than intended (reference/iec61851.md §2).

At start-up the output is 100 % (steady +12 V, "EVSE not ready"), the safe level before
the charge controller has decided anything; close() returns to it, so a stopped daemon
never leaves a current offer on the pilot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.interfaces import Pwm

CHIP_ROOT = Path("/sys/class/pwm/pwmchip0")
PERIOD_NS = 1_000_000  # 1 kHz
EXPORT_TIMEOUT_S = 1.0  # udev must create and chmod the channel directory
POLL_INTERVAL_S = 0.01
# duty * period in floating point can land a hair under the integer the caller meant
# (0.57 * 1e6 = 569999.9999999999); this margin keeps rounding down from losing a whole ns.
_FLOAT_MARGIN_NS = 1e-6


def duty_to_ns(duty: float, period_ns: int) -> int:
    """The duty cycle in whole nanoseconds, rounded down."""
    if not (math.isfinite(duty) and 0.0 <= duty <= 1.0):
        raise ValueError(f"PWM: duty {duty} is not within 0.0..1.0")
    return min(period_ns, math.floor(duty * period_ns + _FLOAT_MARGIN_NS))


class SysfsPwm(Pwm):
    """One sysfs PWM channel at a fixed period."""

    def __init__(
        self,
        root: Path = CHIP_ROOT,
        channel: int = 0,
        *,
        period_ns: int = PERIOD_NS,
        initial_duty: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if period_ns <= 0:
            raise ValueError("PWM: the period must be positive")
        if not root.is_dir():
            raise DeviceNotFoundError(f"PWM: {root} does not exist")
        self._dir = root / f"pwm{channel}"
        self._period_ns = period_ns
        if not self._dir.is_dir():
            self._write(root / "export", channel)
            deadline = clock() + EXPORT_TIMEOUT_S
            while not (self._dir / "enable").exists():
                if clock() >= deadline:
                    raise DeviceNotFoundError(f"PWM: {self._dir} did not appear after export")
                sleep(POLL_INTERVAL_S)
        duty_ns = duty_to_ns(initial_duty, period_ns)
        old_period = int(self._read("period"))
        if period_ns >= old_period:
            self._write(self._dir / "period", period_ns)
            self._write(self._dir / "duty_cycle", duty_ns)
        else:
            self._write(self._dir / "duty_cycle", duty_ns)
            self._write(self._dir / "period", period_ns)
        self._duty_ns = duty_ns
        self._write(self._dir / "enable", 1)

    def _read(self, name: str) -> str:
        try:
            return (self._dir / name).read_text().strip()
        except OSError as exc:
            raise DeviceIOError(f"PWM: cannot read {self._dir / name}: {exc}") from exc

    @staticmethod
    def _write(path: Path, value: int) -> None:
        try:
            path.write_text(f"{value}\n")
        except OSError as exc:
            raise DeviceIOError(f"PWM: cannot write {value} to {path}: {exc}") from exc

    def set_duty(self, duty: float) -> None:
        duty_ns = duty_to_ns(duty, self._period_ns)
        if duty_ns != self._duty_ns:
            self._write(self._dir / "duty_cycle", duty_ns)
            self._duty_ns = duty_ns

    def duty(self) -> float:
        """The duty cycle the hardware was given (after rounding down)."""
        return self._duty_ns / self._period_ns

    def close(self) -> None:
        self.set_duty(1.0)
