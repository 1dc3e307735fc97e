"""24C32 driver against a model that wraps inside pages and NACKs during its write cycle."""

from __future__ import annotations

import pytest

from evnetd.hal.errors import DeviceIOError, DeviceTimeoutError
from evnetd.hal.linux import eeprom24c32
from evnetd.hal.linux.eeprom24c32 import Eeprom24c32

from .fakes import Eeprom24c32Model, FakeClock, FakeSMBus


def make_eeprom() -> tuple[Eeprom24c32, Eeprom24c32Model, FakeClock, FakeSMBus]:
    clock = FakeClock()
    model = Eeprom24c32Model(clock)
    bus = FakeSMBus({0x50: model})
    return Eeprom24c32(bus, clock=clock.monotonic, sleep=clock.sleep), model, clock, bus


@pytest.mark.parametrize(
    ("address", "length", "chunks"),
    [
        (0, 32, [(0, 32)]),
        (0, 33, [(0, 32), (32, 1)]),
        (30, 40, [(30, 2), (32, 32), (64, 6)]),
        (4064, 32, [(4064, 32)]),
        (31, 1, [(31, 1)]),
        (5, 0, []),
    ],
)
def test_page_chunks(address: int, length: int, chunks: list[tuple[int, int]]) -> None:
    assert eeprom24c32.page_chunks(address, length) == chunks


def test_write_splits_at_pages_and_reads_back() -> None:
    eeprom, model, _, _ = make_eeprom()
    data = bytes(range(100, 140))
    eeprom.write(30, data)
    assert model.page_writes == [(30, 2), (32, 32), (64, 6)]
    assert bytes(model.memory[30:70]) == data
    assert model.memory[29] == 0xFF and model.memory[70] == 0xFF
    assert eeprom.read(30, 40) == data


def test_each_page_waits_for_the_write_cycle() -> None:
    eeprom, model, clock, _ = make_eeprom()
    eeprom.write(0, bytes(range(64)))
    assert model.page_writes == [(0, 32), (32, 32)]
    assert model.nacks > 0  # the part was polled while busy
    assert clock.now >= 2 * model.write_cycle_s
    assert clock.now < 2 * model.write_cycle_s + 2 * eeprom24c32.POLL_INTERVAL_S


def test_stuck_write_cycle_times_out() -> None:
    eeprom, model, clock, _ = make_eeprom()
    model.stuck = True
    with pytest.raises(DeviceTimeoutError):
        eeprom.write(100, b"\x01\x02")
    assert model.page_writes == [(100, 2)]
    assert clock.now >= eeprom24c32.WRITE_TIMEOUT_S
    assert clock.now < eeprom24c32.WRITE_TIMEOUT_S + 2 * eeprom24c32.POLL_INTERVAL_S


def test_read_is_one_combined_transaction() -> None:
    eeprom, model, _, bus = make_eeprom()
    model.memory[0x123:0x126] = b"abc"
    bus.log.clear()
    assert eeprom.read(0x123, 3) == b"abc"
    assert bus.log == [("i2c_rdwr", ("w", 0x50, b"\x01\x23"), ("r", 0x50, 3))]


def test_read_across_pages_and_to_the_end() -> None:
    eeprom, model, _, _ = make_eeprom()
    model.memory[:] = bytes(i % 251 for i in range(4096))
    assert eeprom.read(4000, 96) == bytes(i % 251 for i in range(4000, 4096))
    assert eeprom.read(0, 4096) == bytes(model.memory)
    assert eeprom.read(17, 0) == b""


@pytest.mark.parametrize(
    ("address", "length"), [(-1, 1), (4095, 2), (4096, 1), (0, 4097), (0, -1)]
)
def test_bounds(address: int, length: int) -> None:
    eeprom, _, _, bus = make_eeprom()
    with pytest.raises(ValueError):
        eeprom.read(address, length)
    if length >= 0:
        with pytest.raises(ValueError):
            eeprom.write(address, bytes(length))
    assert bus.log == []


def test_last_page_write() -> None:
    eeprom, model, _, _ = make_eeprom()
    eeprom.write(4064, b"\xaa" * 32)
    assert bytes(model.memory[4064:]) == b"\xaa" * 32


def test_absent_eeprom() -> None:
    clock = FakeClock()
    eeprom = Eeprom24c32(FakeSMBus({}), clock=clock.monotonic, sleep=clock.sleep)
    with pytest.raises(DeviceIOError):
        eeprom.read(0, 1)
    with pytest.raises(DeviceIOError):
        eeprom.write(0, b"\x00")


def test_close() -> None:
    eeprom, _, _, bus = make_eeprom()
    eeprom.close()
    assert bus.closed
