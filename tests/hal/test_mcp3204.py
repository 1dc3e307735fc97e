"""MCP3204 driver against a bit-level model of the part."""

from __future__ import annotations

import pytest

from evnetd.hal.errors import DeviceIOError
from evnetd.hal.linux import mcp3204
from evnetd.hal.linux.mcp3204 import Mcp3204

from .fakes import FakeSpiDev, Mcp3204Model


@pytest.mark.parametrize(
    ("channel", "tx"),
    [(0, [0x06, 0x00, 0x00]), (1, [0x06, 0x40, 0x00]), (2, [0x06, 0x80, 0x00]), (3, [0x06, 0xC0, 0x00])],
)
def test_command_bytes(channel: int, tx: list[int]) -> None:
    assert mcp3204.command(channel) == tx


CODES = {0: 0, 1: 4095, 2: 2048, 3: 0x5A5}


@pytest.mark.parametrize(
    ("channel", "code", "volts"),
    [(0, 0, 0.0), (1, 4095, 3.2991943359375), (2, 2048, 1.65), (3, 0x5A5, 1445 / 4096 * 3.3)],
)
def test_read(channel: int, code: int, volts: float) -> None:
    model = Mcp3204Model(CODES)
    adc = Mcp3204(FakeSpiDev(model))
    assert adc.read_code(channel) == code
    assert adc.read_volts(channel) == pytest.approx(volts)
    assert model.channels_read == [channel, channel]


def test_undriven_high_bits_are_masked() -> None:
    spi = FakeSpiDev(Mcp3204Model(CODES))
    Mcp3204(spi).read_code(0)
    _, rx = spi.transfers[0]
    assert rx[1] & 0xF0 == 0xE0  # the model reads the high-Z bits as 1
    assert mcp3204.decode(list(rx)) == 0


def test_vref_is_configurable() -> None:
    adc = Mcp3204(FakeSpiDev(Mcp3204Model(CODES)), vref=5.0)
    assert adc.read_volts(2) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        Mcp3204(FakeSpiDev(Mcp3204Model(CODES)), vref=0.0)


@pytest.mark.parametrize("channel", [-1, 4, 8])
def test_channel_out_of_range(channel: int) -> None:
    spi = FakeSpiDev(Mcp3204Model(CODES))
    with pytest.raises(ValueError):
        Mcp3204(spi).read_volts(channel)
    assert spi.transfers == []


def test_bus_error_and_close() -> None:
    spi = FakeSpiDev(Mcp3204Model(CODES))
    adc = Mcp3204(spi)
    spi.error = OSError(5, "Input/output error")
    with pytest.raises(DeviceIOError):
        adc.read_volts(0)
    adc.close()
    assert spi.closed
