"""24C32: the 4 KiB identity/calibration EEPROM (I2C1 at 0x50).

Addresses are 12 bits sent as two bytes, high first. A write may cover at most one
32-byte page: bytes past the page end wrap to the page start and overwrite earlier data,
so writes are split at page boundaries. After each page the part runs its internal write
cycle (5 ms max) and does not acknowledge its address meanwhile; the next page waits
until an address write is acknowledged again ("ACK polling"). Reads set the address and
read in one combined transaction; the address counter runs on across pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from evnetd.hal.errors import DeviceTimeoutError
from evnetd.hal.interfaces import Eeprom
from evnetd.hal.linux.buses import I2cBus, i2c_write, i2c_write_read, io_errors, open_i2c

ADDRESS = 0x50
SIZE = 4096
PAGE = 32
WRITE_TIMEOUT_S = 0.02  # four times the datasheet's 5 ms write cycle
POLL_INTERVAL_S = 0.0005


def page_chunks(address: int, length: int) -> list[tuple[int, int]]:
    """(start, length) pieces of a write, none crossing a page boundary."""
    chunks = []
    end = address + length
    while address < end:
        size = min(end, (address // PAGE + 1) * PAGE) - address
        chunks.append((address, size))
        address += size
    return chunks


class Eeprom24c32(Eeprom):
    """The EEPROM. Owns ``bus``."""

    size = SIZE

    def __init__(
        self,
        bus: I2cBus,
        *,
        address: int = ADDRESS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bus = bus
        self._address = address
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def open(cls, *, bus: int = 1) -> Eeprom24c32:
        """The EEPROM on the board: I2C1, address 0x50."""
        return cls(open_i2c(bus))

    def _check(self, address: int, length: int) -> None:
        if length < 0 or address < 0 or address + length > SIZE:
            raise ValueError(f"24C32: {length} bytes at {address} do not fit in {SIZE}")

    def read(self, address: int, length: int) -> bytes:
        self._check(address, length)
        if length == 0:
            return b""
        with io_errors("24C32"):
            return i2c_write_read(self._bus, self._address, address.to_bytes(2, "big"), length)

    def write(self, address: int, data: bytes) -> None:
        self._check(address, len(data))
        for start, size in page_chunks(address, len(data)):
            offset = start - address
            with io_errors("24C32"):
                i2c_write(
                    self._bus,
                    self._address,
                    start.to_bytes(2, "big") + data[offset : offset + size],
                )
            self._wait_write_cycle(start)

    def _wait_write_cycle(self, address: int) -> None:
        """Poll until the part acknowledges again; while it is busy the write NACKs (OSError)."""
        deadline = self._clock() + WRITE_TIMEOUT_S
        while True:
            try:
                i2c_write(self._bus, self._address, address.to_bytes(2, "big"))
            except OSError:
                if self._clock() >= deadline:
                    raise DeviceTimeoutError(
                        f"24C32: write cycle not finished after {WRITE_TIMEOUT_S * 1000:.0f} ms"
                    ) from None
                self._sleep(POLL_INTERVAL_S)
            else:
                return

    def close(self) -> None:
        self._bus.close()
