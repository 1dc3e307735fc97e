"""TMP1075 driver: byte order, sign, resolution and the device ID check."""

from __future__ import annotations

import pytest

from evnetd.hal.errors import DeviceIdentityError, DeviceIOError
from evnetd.hal.linux import tmp1075
from evnetd.hal.linux.tmp1075 import Tmp1075

from .fakes import FakeSMBus, Tmp1075Model


@pytest.mark.parametrize(
    ("raw", "celsius"),
    [
        (0x0000, 0.0),
        (0x1900, 25.0),
        (0x1910, 25.0625),
        (0x0C80, 12.5),
        (0x7FF0, 127.9375),
        (0xFFF0, -0.0625),
        (0xE700, -25.0),
        (0x8000, -128.0),
        (0x190F, 25.0),  # the 4 unused low bits are ignored
    ],
)
def test_celsius(raw: int, celsius: float) -> None:
    assert tmp1075.celsius(raw) == celsius


def test_read_celsius_is_big_endian() -> None:
    model = Tmp1075Model(temperature_raw=0x4B10)  # 75.0625 °C; swapped bytes would be 0x104B
    sensor = Tmp1075(FakeSMBus({0x48: model}))
    assert sensor.read_celsius() == 75.0625
    model.regs[0x00] = 0xF380
    assert sensor.read_celsius() == -12.5


@pytest.mark.parametrize("device_id", [0x0075, 0x1117, 0x0000, 0xFFFF])
def test_wrong_device_id(device_id: int) -> None:
    with pytest.raises(DeviceIdentityError):
        Tmp1075(FakeSMBus({0x48: Tmp1075Model(device_id=device_id)}))


def test_bus_errors_and_close() -> None:
    with pytest.raises(DeviceIOError):
        Tmp1075(FakeSMBus({}))
    bus = FakeSMBus({0x48: Tmp1075Model()})
    sensor = Tmp1075(bus)
    del bus.devices[0x48]
    with pytest.raises(DeviceIOError):
        sensor.read_celsius()
    sensor.close()
    assert bus.closed
