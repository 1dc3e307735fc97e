"""sysfs PWM driver against a pwmchip directory that enforces the kernel's rules."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.linux import pwm
from evnetd.hal.linux.pwm import SysfsPwm

from .fakes import FakeClock, FakePwmSysfs


@pytest.mark.parametrize(
    ("duty", "ns"),
    [
        (0.0, 0),
        (1.0, 1_000_000),
        (0.1, 100_000),
        (0.16, 160_000),
        (0.57, 570_000),  # 0.57 * 1e6 is 569999.99999999994 in binary floating point
        (0.0999999, 99_999),
        (0.5333333, 533_333),
        (0.9999999999, 999_999),  # rounds down, never up to the next ns
        (0.25, 250_000),
    ],
)
def test_duty_to_ns(duty: float, ns: int) -> None:
    assert pwm.duty_to_ns(duty, 1_000_000) == ns


@pytest.mark.parametrize("duty", [-0.01, 1.01, float("nan"), float("inf")])
def test_duty_out_of_range(duty: float) -> None:
    with pytest.raises(ValueError):
        pwm.duty_to_ns(duty, 1_000_000)


@pytest.fixture
def sysfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePwmSysfs:
    fake = FakePwmSysfs(tmp_path / "pwmchip0")
    fake.install(monkeypatch)
    return fake


def read(sysfs: FakePwmSysfs, name: str) -> int:
    return int((sysfs.root / "pwm0" / name).read_text())


def test_exports_and_starts_at_full_duty(sysfs: FakePwmSysfs) -> None:
    SysfsPwm(sysfs.root)
    assert sysfs.writes == [
        ("export", "0\n"),
        ("pwm0/period", "1000000\n"),  # period first: the fresh channel has period 0
        ("pwm0/duty_cycle", "1000000\n"),
        ("pwm0/enable", "1\n"),
    ]


def test_shorter_period_writes_duty_first(sysfs: FakePwmSysfs) -> None:
    sysfs.add_channel(0, period=2_000_000, duty=1_500_000, enable=1)
    SysfsPwm(sysfs.root, initial_duty=0.5)
    assert sysfs.writes[0] == ("pwm0/duty_cycle", "500000\n")
    assert read(sysfs, "period") == 1_000_000 and read(sysfs, "duty_cycle") == 500_000


def test_set_duty(sysfs: FakePwmSysfs) -> None:
    channel = SysfsPwm(sysfs.root)
    sysfs.writes.clear()
    channel.set_duty(0.1)  # 6 A
    assert read(sysfs, "duty_cycle") == 100_000
    assert channel.duty() == 0.1
    channel.set_duty(0.1)
    assert sysfs.writes == [("pwm0/duty_cycle", "100000\n")]  # unchanged: not rewritten
    channel.set_duty(0.0)  # state F
    assert read(sysfs, "duty_cycle") == 0
    with pytest.raises(ValueError):
        channel.set_duty(1.5)
    assert read(sysfs, "duty_cycle") == 0


def test_duty_reports_what_the_hardware_got(sysfs: FakePwmSysfs) -> None:
    channel = SysfsPwm(sysfs.root)
    channel.set_duty(0.9999999999)
    assert channel.duty() == 0.999999


def test_close_returns_to_full_duty(sysfs: FakePwmSysfs) -> None:
    channel = SysfsPwm(sysfs.root)
    channel.set_duty(0.5)
    channel.close()
    assert read(sysfs, "duty_cycle") == 1_000_000
    assert read(sysfs, "enable") == 1


def test_export_appears_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysfs = FakePwmSysfs(tmp_path / "pwmchip0", export_creates=False)
    sysfs.install(monkeypatch)
    clock = FakeClock()

    def udev_is_slow(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            sysfs.add_channel(0)

    SysfsPwm(sysfs.root, clock=clock.monotonic, sleep=udev_is_slow)
    assert read(sysfs, "enable") == 1


def test_export_never_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysfs = FakePwmSysfs(tmp_path / "pwmchip0", export_creates=False)
    sysfs.install(monkeypatch)
    clock = FakeClock()
    with pytest.raises(DeviceNotFoundError):
        SysfsPwm(sysfs.root, clock=clock.monotonic, sleep=clock.sleep)
    assert clock.now >= pwm.EXPORT_TIMEOUT_S


def test_missing_chip(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFoundError):
        SysfsPwm(tmp_path / "pwmchip9")


def test_write_refused(sysfs: FakePwmSysfs) -> None:
    sysfs.failures["pwm0/enable"] = PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(DeviceIOError):
        SysfsPwm(sysfs.root)


def test_bad_period(sysfs: FakePwmSysfs) -> None:
    with pytest.raises(ValueError):
        SysfsPwm(sysfs.root, period_ns=0)
