"""PCA9633 driver against a register file: values, blink registers, writes only on change."""

from __future__ import annotations

import pytest

from evnetd.hal.errors import DeviceIOError
from evnetd.hal.interfaces import LedState
from evnetd.hal.linux import pca9633
from evnetd.hal.linux.pca9633 import Pca9633

from .fakes import FakeClock, FakeSMBus, Pca9633Model

MODE1, MODE2, PWM0, PWM1, PWM2, GRPPWM, GRPFREQ, LEDOUT = 0, 1, 2, 3, 4, 6, 7, 8


def make_driver() -> tuple[Pca9633, Pca9633Model, FakeClock, FakeSMBus]:
    model = Pca9633Model()
    clock = FakeClock()
    bus = FakeSMBus({0x62: model})
    driver = Pca9633(bus, sleep=clock.sleep)
    return driver, model, clock, bus


def test_open_wakes_the_oscillator() -> None:
    _, model, clock, _ = make_driver()
    assert model.writes == [(MODE1, 0x01)]  # SLEEP cleared, ALL CALL kept
    assert clock.sleeps == [0.0005]


def test_open_when_already_awake_writes_nothing() -> None:
    model = Pca9633Model()
    model.regs[MODE1] = 0x01
    clock = FakeClock()
    Pca9633(FakeSMBus({0x62: model}), sleep=clock.sleep)
    assert model.writes == []
    assert clock.sleeps == []


def test_steady_colour() -> None:
    driver, model, _, _ = make_driver()
    model.writes.clear()
    driver.show(LedState(255, 0, 0))
    assert model.writes == [(PWM0, 255), (LEDOUT, 0b00101010)]  # PWM1/2 and MODE2 unchanged
    model.writes.clear()
    driver.show(LedState(255, 0, 0))
    assert model.writes == []  # same state: no bus traffic


@pytest.mark.parametrize(
    ("state", "pwm"),
    [
        (LedState(255, 128, 0, brightness=0.5), (128, 64, 0)),
        (LedState(10, 20, 30, brightness=1.0), (10, 20, 30)),
        (LedState(255, 255, 255, brightness=0.0), (0, 0, 0)),
        (LedState(200, 100, 50, brightness=0.25), (50, 25, 12)),
    ],
)
def test_brightness_scales_pwm(state: LedState, pwm: tuple[int, int, int]) -> None:
    driver, model, _, _ = make_driver()
    driver.show(state)
    assert tuple(model.regs[PWM0 : PWM2 + 1]) == pwm


@pytest.mark.parametrize(
    ("period", "grpfreq"),
    [(1 / 24, 0), (0.5, 11), (1.0, 23), (2.0, 47), (10.0, 239), (10.73, 255), (60.0, 255), (0.01, 0)],
)
def test_grpfreq(period: float, grpfreq: int) -> None:
    assert pca9633.grpfreq_value(period) == grpfreq


def test_blinking_registers() -> None:
    driver, model, _, _ = make_driver()
    model.writes.clear()
    driver.show(LedState(0, 0, 255, blink_period_s=1.0))
    assert model.writes == [
        (PWM2, 255),
        (GRPFREQ, 23),  # (23 + 1) / 24 = 1 s
        (GRPPWM, 0x80),  # 50 % on
        (MODE2, 0x25),  # DMBLNK set, the reset bits 0x05 kept
        (LEDOUT, 0b00111111),  # LED0-2 individual + group
    ]


def test_blink_back_to_steady() -> None:
    driver, model, _, _ = make_driver()
    driver.show(LedState(0, 255, 0, blink_period_s=0.5))
    model.writes.clear()
    driver.show(LedState(0, 255, 0))
    assert model.writes == [(MODE2, 0x05), (LEDOUT, 0b00101010)]
    assert model.regs[GRPFREQ] == 11  # left as it was: don't care without DMBLNK


@pytest.mark.parametrize(
    "state",
    [
        LedState(256, 0, 0),
        LedState(0, -1, 0),
        LedState(0, 0, 0, brightness=1.5),
        LedState(0, 0, 0, brightness=-0.1),
        LedState(0, 0, 0, blink_period_s=-1.0),
        LedState(0, 0, 0, blink_period_s=float("nan")),
    ],
)
def test_invalid_states(state: LedState) -> None:
    driver, model, _, _ = make_driver()
    model.writes.clear()
    with pytest.raises(ValueError):
        driver.show(state)
    assert model.writes == []


def test_close_switches_off() -> None:
    driver, model, _, bus = make_driver()
    driver.show(LedState(1, 2, 3))
    driver.close()
    assert model.regs[LEDOUT] == 0
    assert bus.closed


def test_bus_error() -> None:
    driver, _, _, bus = make_driver()
    del bus.devices[0x62]
    with pytest.raises(DeviceIOError):
        driver.show(LedState(9, 9, 9))
    with pytest.raises(DeviceIOError):
        Pca9633(FakeSMBus({}))
