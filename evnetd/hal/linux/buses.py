"""Typed views of the SPI and I2C bus objects, and the code that opens the real ones.

The drivers take an already open bus so tests can hand them fakes that answer byte for
byte. What a driver needs from spidev's ``SpiDev`` and smbus2's ``SMBus`` is spelled out
here as protocols, so the drivers type-check without the C extensions being present.
spidev and smbus2 are imported inside the functions: the package must import on machines
that have neither (the simulator, CI).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError

if TYPE_CHECKING:
    from smbus2 import i2c_msg


class SpiDevice(Protocol):
    """The part of ``spidev.SpiDev`` the drivers use: one full-duplex transfer per frame."""

    def xfer2(self, values: list[int]) -> list[int]: ...

    def close(self) -> None: ...


class I2cBus(Protocol):
    """The part of ``smbus2.SMBus`` the drivers use."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...

    def close(self) -> None: ...


@contextmanager
def io_errors(part: str) -> Iterator[None]:
    """Turn the OSError of a failed bus transfer (EIO, EREMOTEIO...) into DeviceIOError."""
    try:
        yield
    except OSError as exc:
        raise DeviceIOError(f"{part}: bus transfer failed: {exc}") from exc


def open_spi(bus: int, device: int, *, mode: int, max_speed_hz: int) -> SpiDevice:
    """Open ``/dev/spidev<bus>.<device>`` with the given SPI mode and clock."""
    try:
        spidev = importlib.import_module("spidev")
    except ImportError as exc:
        raise DeviceNotFoundError("the spidev module is not installed") from exc
    raw = spidev.SpiDev()
    try:
        raw.open(bus, device)
    except OSError as exc:
        raise DeviceNotFoundError(f"/dev/spidev{bus}.{device}: {exc}") from exc
    raw.mode = mode
    raw.max_speed_hz = max_speed_hz
    dev: SpiDevice = raw
    return dev


def open_i2c(bus: int) -> I2cBus:
    """Open ``/dev/i2c-<bus>``. Each driver opens its own handle and closes it on close()."""
    try:
        smbus2 = importlib.import_module("smbus2")
    except ImportError as exc:
        raise DeviceNotFoundError("the smbus2 module is not installed") from exc
    try:
        handle: I2cBus = smbus2.SMBus(bus)
    except OSError as exc:
        raise DeviceNotFoundError(f"/dev/i2c-{bus}: {exc}") from exc
    return handle


def i2c_write(bus: I2cBus, address: int, data: bytes) -> None:
    """One plain I2C write (START, address+W, data, STOP), longer than SMBus blocks allow."""
    from smbus2 import i2c_msg

    bus.i2c_rdwr(i2c_msg.write(address, data))


def i2c_read(bus: I2cBus, address: int, length: int) -> bytes:
    """One plain I2C read of ``length`` bytes (no register pointer written first)."""
    from smbus2 import i2c_msg

    msg = i2c_msg.read(address, length)
    bus.i2c_rdwr(msg)
    return bytes(msg)


def i2c_write_read(bus: I2cBus, address: int, data: bytes, length: int) -> bytes:
    """A write then a read joined by a repeated START, so no other master can slip between."""
    from smbus2 import i2c_msg

    msg = i2c_msg.read(address, length)
    bus.i2c_rdwr(i2c_msg.write(address, data), msg)
    return bytes(msg)
