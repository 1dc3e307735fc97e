"""Opening a daemon's parts by backend name, as python-can opens an interface.

``general.board`` in the config names the backend: ``linux`` opens the device nodes of
DESIGN.md §3, ``sim`` connects the same interfaces to the plant simulator. Each daemon
opens only the parts it owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from dbus_fast.aio import MessageBus

from evnetd.hal.errors import BackendNotFoundError
from evnetd.hal.interfaces import (
    DigitalInput,
    DigitalOutput,
    Eeprom,
    LedDriver,
    NfcReader,
    Pwm,
    SampleAdc,
    SlowAdc,
    TemperatureSensor,
)
from evnetd.runtime.config import Config

BACKENDS = ("linux", "sim")


@dataclass
class _Parts:
    def close(self) -> None:
        """Release every part (outputs fall to their safe level)."""
        for f in fields(self):
            part = getattr(self, f.name)
            if part is not None:
                part.close()


@dataclass
class MeterHardware(_Parts):
    adc: SampleAdc
    permit: DigitalOutput
    rcd_fault: DigitalInput
    rcd_test: DigitalOutput
    tamper: DigitalInput
    temperature: TemperatureSensor
    eeprom: Eeprom


@dataclass
class ChargerHardware(_Parts):
    pilot_adc: SlowAdc
    pwm: Pwm
    contactor: DigitalOutput
    mirror: DigitalInput
    lock_a: DigitalOutput
    lock_b: DigitalOutput
    lock_feedback: DigitalInput
    buzzer: DigitalOutput
    nfc: NfcReader
    led: LedDriver


def _spi(path: str) -> tuple[int, int]:
    match = re.fullmatch(r"/dev/spidev(\d+)\.(\d+)", path)
    assert match, path  # the config model enforces the pattern
    return int(match[1]), int(match[2])


async def open_meter_hardware(config: Config, bus: MessageBus, gains: tuple[float, ...]) -> MeterHardware:
    """The meter's parts; ``gains`` (calibration) lets the sim ADC scale its waveforms."""
    board, hw = config.general.board, config.hardware
    if board == "sim":
        from evnetd.hal.sim.adc import SimSampleAdc
        from evnetd.hal.sim.link import PlantLink
        from evnetd.hal.sim.parts import SimEeprom, SimInput, SimOutput, SimTemperature

        link = await PlantLink(bus).open()
        return MeterHardware(
            adc=SimSampleAdc(link, gains),
            permit=SimOutput(link, "permit"),
            rcd_fault=SimInput(link, "rcd_fault"),
            rcd_test=SimOutput(link, "rcd_test"),
            tamper=SimInput(link, "tamper"),
            temperature=SimTemperature(link),
            eeprom=SimEeprom(),
        )
    if board == "linux":
        from evnetd.hal.linux.ads131m08 import Ads131m08
        from evnetd.hal.linux.eeprom24c32 import Eeprom24c32
        from evnetd.hal.linux.gpio import GpioChip
        from evnetd.hal.linux.tmp1075 import Tmp1075

        chip = GpioChip(hw.gpiochip)
        permit = chip.output("permit", initial=False)  # PERMIT low until the self-checks pass
        spi_bus, spi_device = _spi(hw.spi_meter)
        return MeterHardware(
            adc=Ads131m08.open(chip.edge_waiter("ads_drdy"), bus=spi_bus, device=spi_device),
            permit=permit,
            rcd_fault=chip.input("rcd_fault"),
            rcd_test=chip.output("rcd_test", initial=False),
            tamper=chip.input("tamper"),
            temperature=Tmp1075.open(bus=hw.i2c_bus),
            eeprom=Eeprom24c32.open(bus=hw.i2c_bus),
        )
    raise BackendNotFoundError(f"board backend {board!r}: must be one of {', '.join(BACKENDS)}")


async def open_charger_hardware(config: Config, bus: MessageBus) -> ChargerHardware:
    board, hw = config.general.board, config.hardware
    if board == "sim":
        from evnetd.hal.sim.link import PlantLink
        from evnetd.hal.sim.parts import SimInput, SimLed, SimNfc, SimOutput, SimPwm, SimSlowAdc

        link = await PlantLink(bus).open()
        return ChargerHardware(
            pilot_adc=SimSlowAdc(link),
            pwm=SimPwm(link),
            contactor=SimOutput(link, "contactor"),
            mirror=SimInput(link, "mirror"),
            lock_a=SimOutput(link, "lock_a"),
            lock_b=SimOutput(link, "lock_b"),
            lock_feedback=SimInput(link, "lock_feedback"),
            buzzer=SimOutput(link, "buzzer"),
            nfc=SimNfc(link),
            led=SimLed(link),
        )
    if board == "linux":
        from evnetd.hal.linux.gpio import GpioChip
        from evnetd.hal.linux.mcp3204 import Mcp3204
        from evnetd.hal.linux.pca9633 import Pca9633
        from evnetd.hal.linux.pn532 import Pn532
        from evnetd.hal.linux.pwm import SysfsPwm

        chip = GpioChip(hw.gpiochip)
        spi_bus, spi_device = _spi(hw.spi_pilot)
        return ChargerHardware(
            pilot_adc=Mcp3204.open(bus=spi_bus, device=spi_device),
            pwm=SysfsPwm(Path(f"/sys/class/pwm/pwmchip{hw.pwm_chip}"), hw.pwm_channel),
            contactor=chip.output("contactor", initial=False),
            mirror=chip.input("mirror"),
            lock_a=chip.output("lock_a", initial=False),
            lock_b=chip.output("lock_b", initial=False),
            lock_feedback=chip.input("lock_feedback"),
            buzzer=chip.output("buzzer", initial=False),
            nfc=Pn532.open(bus=hw.i2c_bus),
            led=Pca9633.open(bus=hw.i2c_bus),
        )
    raise BackendNotFoundError(f"board backend {board!r}: must be one of {', '.join(BACKENDS)}")
