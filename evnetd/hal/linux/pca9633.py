"""NXP PCA9633: the 4-channel LED driver of the RGB ring (I2C1 at 0x62).

LED0/1/2 are red/green/blue. Steady colours use individual PWM (LEDOUT = 10 per LED);
blinking uses the group blinker: MODE2.DMBLNK = 1, GRPFREQ sets the period
((GRPFREQ + 1) / 24 s, 41 ms to 10.73 s), GRPPWM the on-time (0x80 = 50 %), and the LEDs
follow both their PWMx and the group (LEDOUT = 11).

The driver keeps a copy of the registers and writes only those whose value changes: the
ring is refreshed often with the same state, and the I2C bus is shared with the NFC reader.
Single-register writes are used, so MODE1's auto-increment is never needed.

Reference: NXP PCA9633 product data sheet, §7.3 register descriptions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from evnetd.hal.interfaces import LedDriver, LedState
from evnetd.hal.linux.buses import I2cBus, io_errors, open_i2c

ADDRESS = 0x62

MODE1 = 0x00
MODE2 = 0x01
PWM0 = 0x02  # red
PWM1 = 0x03  # green
PWM2 = 0x04  # blue
GRPPWM = 0x06
GRPFREQ = 0x07
LEDOUT = 0x08
REGISTERS = range(MODE1, LEDOUT + 1)

MODE1_SLEEP = 1 << 4
MODE2_DMBLNK = 1 << 5
LEDOUT_OFF = 0x00
LEDOUT_PWM = 0b00_10_10_10  # LED0-2 individual PWM, LED3 off
LEDOUT_PWM_GROUP = 0b00_11_11_11  # LED0-2 individual PWM + group blinking, LED3 off
BLINK_DUTY = 0x80  # 50 % on
OSCILLATOR_START_S = 0.0005  # the oscillator needs 500 µs after SLEEP is cleared


def pwm_value(colour: int, brightness: float) -> int:
    """PWM register value of one colour component scaled by the brightness."""
    return min(255, max(0, round(colour * brightness)))


def grpfreq_value(period_s: float) -> int:
    """GRPFREQ for a blink period: (GRPFREQ + 1) / 24 s, clamped to the register range."""
    return min(255, max(0, round(period_s * 24) - 1))


def registers_for(state: LedState) -> dict[int, int]:
    """PWMx, group and LEDOUT values that show ``state`` (MODE2 is derived from LEDOUT)."""
    if not all(0 <= c <= 255 for c in (state.red, state.green, state.blue)):
        raise ValueError("PCA9633: colour components must be 0..255")
    if not 0.0 <= state.brightness <= 1.0:
        raise ValueError("PCA9633: brightness must be 0.0..1.0")
    if not (math.isfinite(state.blink_period_s) and state.blink_period_s >= 0.0):
        raise ValueError("PCA9633: blink period must be >= 0")
    values = {
        PWM0: pwm_value(state.red, state.brightness),
        PWM1: pwm_value(state.green, state.brightness),
        PWM2: pwm_value(state.blue, state.brightness),
    }
    if state.blink_period_s > 0:
        values[GRPFREQ] = grpfreq_value(state.blink_period_s)
        values[GRPPWM] = BLINK_DUTY
        values[LEDOUT] = LEDOUT_PWM_GROUP
    else:
        values[LEDOUT] = LEDOUT_PWM
    return values


class Pca9633(LedDriver):
    """The LED ring driver. Wakes the part at construction; owns ``bus``."""

    def __init__(
        self,
        bus: I2cBus,
        *,
        address: int = ADDRESS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bus = bus
        self._address = address
        with io_errors("PCA9633"):
            self._cache = {reg: bus.read_byte_data(address, reg) for reg in REGISTERS}
        if self._cache[MODE1] & MODE1_SLEEP:
            self._write(MODE1, self._cache[MODE1] & ~MODE1_SLEEP)
            sleep(OSCILLATOR_START_S)

    @classmethod
    def open(cls, *, bus: int = 1) -> Pca9633:
        """The driver on the board: I2C1, address 0x62."""
        return cls(open_i2c(bus))

    def _write(self, register: int, value: int) -> None:
        if self._cache[register] == value:
            return
        with io_errors("PCA9633"):
            self._bus.write_byte_data(self._address, register, value)
        self._cache[register] = value

    def show(self, state: LedState) -> None:
        values = registers_for(state)
        ledout = values.pop(LEDOUT)
        for register, value in values.items():
            self._write(register, value)
        # Group control is set to blinking (or back to dimming) before LEDOUT ties the LEDs
        # to it; MODE2's other bits (output drive, inversion) keep their board setting.
        mode2 = self._cache[MODE2] & ~MODE2_DMBLNK
        self._write(MODE2, mode2 | MODE2_DMBLNK if ledout == LEDOUT_PWM_GROUP else mode2)
        self._write(LEDOUT, ledout)

    def close(self) -> None:
        """Switch the ring off, so a stopped daemon does not leave a stale status shown."""
        try:
            self._write(LEDOUT, LEDOUT_OFF)
        finally:
            self._bus.close()
