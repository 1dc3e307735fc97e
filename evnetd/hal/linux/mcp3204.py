"""Microchip MCP3204: the 4-channel 12-bit ADC of the pilot stage (SPI0 CE1).

One conversion is one 3-byte transfer. The first byte carries five leading zeros, the start
bit, SGL = 1 (single-ended) and D2; the second byte D1 D0 in its top bits. The part answers
with a sample period, a null bit and B11..B8 in the low nibble of the second byte, B7..B0 in
the third byte; the high bits of the second byte are not driven and are masked off.

Board channels: 0 CP positive peak, 1 CP negative peak, 2 PP, 3 socket NTC. The volts
returned are at the ADC pin; the divider of the pilot stage is calibration, done elsewhere.
"""

from __future__ import annotations

from evnetd.hal.interfaces import SlowAdc
from evnetd.hal.linux.buses import SpiDevice, io_errors, open_spi

SPI_MODE = 0
SPI_MAX_HZ = 1_000_000  # the part's limit at 2.7 V supply; safe at 3.3 V
CHANNELS = 4
FULL_SCALE_CODES = 4096


def command(channel: int) -> list[int]:
    """The 3 bytes that start a single-ended conversion of ``channel``."""
    return [0x06 | (channel >> 2), (channel & 0x03) << 6, 0x00]


def decode(rx: list[int]) -> int:
    """The 12-bit code from the 3 bytes clocked back."""
    return ((rx[1] & 0x0F) << 8) | rx[2]


class Mcp3204(SlowAdc):
    """The slow ADC. The driver owns ``spi`` and closes it."""

    def __init__(self, spi: SpiDevice, *, vref: float = 3.3) -> None:
        if vref <= 0:
            raise ValueError("MCP3204: vref must be positive")
        self._spi = spi
        self._vref = vref

    @classmethod
    def open(cls, *, bus: int = 0, device: int = 1, vref: float = 3.3) -> Mcp3204:
        """The part on the board: ``/dev/spidev0.1``."""
        return cls(open_spi(bus, device, mode=SPI_MODE, max_speed_hz=SPI_MAX_HZ), vref=vref)

    def read_code(self, channel: int) -> int:
        if not 0 <= channel < CHANNELS:
            raise ValueError(f"MCP3204: channel {channel} is not 0..3")
        with io_errors("MCP3204"):
            rx = self._spi.xfer2(command(channel))
        return decode(rx)

    def read_volts(self, channel: int) -> float:
        return self.read_code(channel) / FULL_SCALE_CODES * self._vref

    def close(self) -> None:
        self._spi.close()
