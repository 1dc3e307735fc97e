"""TI TMP1075: the relay/PCB temperature sensor (I2C1 at 0x48).

Registers are 16 bits, sent MSB first. smbus2's ``read_word_data`` assembles words
little-endian (the SMBus convention), which would swap the bytes, so both registers are
read as 2-byte blocks. The temperature is 12 bits left-justified, two's complement,
0.0625 °C per LSB. The device ID register (0x0F) reads 0x7500 on this part; anything else
at this address is another sensor, whose reading we must not trust.
"""

from __future__ import annotations

from evnetd.hal.errors import DeviceIdentityError
from evnetd.hal.interfaces import TemperatureSensor
from evnetd.hal.linux.buses import I2cBus, io_errors, open_i2c

ADDRESS = 0x48
REG_TEMPERATURE = 0x00
REG_DEVICE_ID = 0x0F
DEVICE_ID = 0x7500
CELSIUS_PER_LSB = 0.0625


def celsius(raw: int) -> float:
    """Temperature of a raw 16-bit register value (12-bit left-justified two's complement)."""
    signed = raw - 0x10000 if raw & 0x8000 else raw
    return (signed >> 4) * CELSIUS_PER_LSB


class Tmp1075(TemperatureSensor):
    """The temperature sensor; checks the device ID at construction. Owns ``bus``."""

    def __init__(self, bus: I2cBus, *, address: int = ADDRESS) -> None:
        self._bus = bus
        self._address = address
        ident = self._read16(REG_DEVICE_ID)
        if ident != DEVICE_ID:
            raise DeviceIdentityError(f"TMP1075: device ID {ident:#06x}, expected 0x7500")

    @classmethod
    def open(cls, *, bus: int = 1) -> Tmp1075:
        """The sensor on the board: I2C1, address 0x48."""
        return cls(open_i2c(bus))

    def _read16(self, register: int) -> int:
        with io_errors("TMP1075"):
            high, low = self._bus.read_i2c_block_data(self._address, register, 2)
        return (high << 8) | low

    def read_celsius(self) -> float:
        return celsius(self._read16(REG_TEMPERATURE))

    def close(self) -> None:
        self._bus.close()
