"""Package-level promises: imports without the hardware modules, bus opening, error mapping."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.linux import buses
from evnetd.hal.linux.ads131m08 import Ads131m08
from evnetd.hal.linux.eeprom24c32 import Eeprom24c32
from evnetd.hal.linux.mcp3204 import Mcp3204
from evnetd.hal.linux.pca9633 import Pca9633
from evnetd.hal.linux.pn532 import Pn532
from evnetd.hal.linux.tmp1075 import Tmp1075

MODULES = ["ads131m08", "mcp3204", "pn532", "pca9633", "tmp1075", "eeprom24c32", "gpio", "pwm", "can"]

IMPORT_WITHOUT_HARDWARE = f"""
import sys
for name in ("spidev", "smbus2", "gpiod"):
    sys.modules[name] = None  # any import of them now fails
import importlib
for module in {MODULES!r}:
    importlib.import_module("evnetd.hal.linux." + module)
loaded = [name for name in ("spidev", "smbus2", "gpiod", "can") if sys.modules.get(name)]
assert not loaded, loaded
"""


def test_drivers_import_without_hardware_modules() -> None:
    subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_HARDWARE], check=True)


@pytest.mark.skipif(os.path.exists("/dev/spidev0.0"), reason="this machine has SPI")
def test_open_spi_without_device_node() -> None:
    with pytest.raises(DeviceNotFoundError):
        buses.open_spi(0, 0, mode=1, max_speed_hz=1_000_000)
    with pytest.raises(DeviceNotFoundError):
        Ads131m08.open(lambda timeout: True)
    with pytest.raises(DeviceNotFoundError):
        Mcp3204.open()


@pytest.mark.skipif(os.path.exists("/dev/i2c-1"), reason="this machine has I2C")
@pytest.mark.parametrize("driver", [Pn532, Pca9633, Tmp1075, Eeprom24c32])
def test_open_i2c_without_device_node(driver: type) -> None:
    with pytest.raises(DeviceNotFoundError):
        driver.open()


def test_io_errors_maps_os_errors_only() -> None:
    with pytest.raises(DeviceIOError) as caught, buses.io_errors("part"):
        raise OSError(121, "Remote I/O error")
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(KeyError), buses.io_errors("part"):
        raise KeyError("not a bus error")
