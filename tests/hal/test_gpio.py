"""gpiod v2 lines against a fake gpiod module whose edge events arrive through a pipe."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.interfaces import Edge
from evnetd.hal.linux.gpio import BOARD_LINES, GpioChip, LineSpec

from .fakes import Direction, FakeGpioChip, LineEdge, Value, fake_gpiod_module


@pytest.fixture
def chip() -> FakeGpioChip:
    return FakeGpioChip()


@pytest.fixture
def gpio(chip: FakeGpioChip) -> GpioChip:
    return GpioChip(gpiod_module=fake_gpiod_module(chip))


def test_board_map() -> None:
    offsets = {name: spec.offset for name, spec in BOARD_LINES.items()}
    assert offsets == {
        "permit": 27,
        "contactor": 17,
        "mirror": 22,
        "lock_a": 5,
        "lock_b": 6,
        "lock_feedback": 13,
        "rcd_fault": 23,
        "rcd_test": 12,
        "tamper": 16,
        "buzzer": 26,
        "ads_drdy": 25,
        "ads_reset": 24,
    }
    assert [name for name, spec in BOARD_LINES.items() if spec.active_low] == ["rcd_fault"]


def test_output(gpio: GpioChip, chip: FakeGpioChip) -> None:
    permit = gpio.output("permit")
    (request,) = chip.requests
    settings = request.config[27]
    assert settings.direction is Direction.OUTPUT
    assert settings.output_value is Value.INACTIVE
    assert request.consumer == "evnetd:permit"
    assert chip.levels[27] is False and permit.get() is False
    permit.set(True)
    assert chip.levels[27] is True and permit.get() is True
    permit.set(False)
    assert chip.levels[27] is False
    permit.close()
    assert chip.requests == []


def test_output_initial_level(gpio: GpioChip, chip: FakeGpioChip) -> None:
    buzzer = gpio.output("buzzer", initial=True)
    assert chip.requests[0].config[26].output_value is Value.ACTIVE
    assert chip.levels[26] is True and buzzer.get() is True


def test_active_low_input_value(gpio: GpioChip, chip: FakeGpioChip) -> None:
    chip.levels[23] = True  # RCD module output high: no fault
    rcd = gpio.input("rcd_fault")
    settings = chip.requests[0].config[23]
    assert settings.active_low and settings.edge_detection is LineEdge.BOTH
    assert settings.direction is Direction.INPUT
    assert rcd.value() is False
    chip.levels[23] = False
    assert rcd.value() is True


async def test_edges_in_order(gpio: GpioChip, chip: FakeGpioChip) -> None:
    mirror = gpio.input("mirror")
    chip.drive(22, True, 1_000_000_000)
    chip.drive(22, False, 1_250_000_000)
    first = await mirror.wait_edge()
    second = await mirror.wait_edge()
    assert (first.line, first.edge, first.timestamp) == ("mirror", Edge.RISING, 1.0)
    assert (second.edge, second.timestamp) == (Edge.FALLING, 1.25)


async def test_edge_wakes_a_waiting_coroutine(gpio: GpioChip, chip: FakeGpioChip) -> None:
    tamper = gpio.input("tamper")
    waiter = asyncio.create_task(tamper.wait_edge())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    chip.drive(16, True, 5_000)
    event = await asyncio.wait_for(waiter, 1.0)
    assert event.edge is Edge.RISING and event.timestamp == pytest.approx(5e-6)


async def test_active_low_edges_are_logical(gpio: GpioChip, chip: FakeGpioChip) -> None:
    chip.levels[23] = True
    rcd = gpio.input("rcd_fault")
    chip.drive(23, False, 10)  # physical fall = fault asserted
    assert (await rcd.wait_edge()).edge is Edge.RISING


async def test_cancelled_wait_leaves_no_reader(gpio: GpioChip, chip: FakeGpioChip) -> None:
    lock = gpio.input("lock_feedback")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(lock.wait_edge(), 0.02)
    chip.drive(13, True, 7)
    assert (await asyncio.wait_for(lock.wait_edge(), 1.0)).edge is Edge.RISING
    lock.close()


def test_edge_waiter(gpio: GpioChip, chip: FakeGpioChip) -> None:
    chip.levels[25] = True
    drdy = gpio.edge_waiter("ads_drdy")
    assert chip.requests[0].config[25].edge_detection is LineEdge.FALLING
    assert drdy(0.01) is False
    chip.drive(25, False, 1)
    assert drdy(0.01) is True
    chip.drive(25, True, 2)  # a rising edge is not asked for
    assert drdy(0.01) is False
    drdy.close()


def test_errors(gpio: GpioChip, chip: FakeGpioChip) -> None:
    with pytest.raises(ValueError):
        gpio.output("nonexistent")
    gpio.output("contactor")
    with pytest.raises(DeviceIOError):
        gpio.output("contactor")  # EBUSY: already requested
    missing = GpioChip("/dev/gpiochip7", gpiod_module=fake_gpiod_module(chip))
    with pytest.raises(DeviceNotFoundError):
        missing.input("mirror")


def test_custom_line_map(chip: FakeGpioChip) -> None:
    gpio = GpioChip(lines={"led": LineSpec(3, active_low=True)}, gpiod_module=fake_gpiod_module(chip))
    gpio.output("led").set(True)
    assert chip.levels[3] is False


@pytest.mark.skipif(importlib.util.find_spec("gpiod") is None, reason="gpiod not installed")
def test_real_gpiod_without_chip() -> None:
    with pytest.raises(DeviceNotFoundError):
        GpioChip("/dev/gpiochip-absent").output("permit")
