"""The charger service builds its cores from the [charger] section."""

from __future__ import annotations

from evnetd.charger.service import ChargerService
from evnetd.limits.arbitration import KeepAwake, PulseTiming
from evnetd.runtime.config import ChargerConfig, Config


def test_pulse_keep_awake_and_connection_timeout_come_from_the_config() -> None:
    charger = ChargerConfig(keep_awake="pulse", pulse_on_s=30, pulse_period_s=600, connection_timeout_s=15)
    service = ChargerService(Config(charger=charger))
    assert service.arbiter.keep_awake is KeepAwake.PULSE
    assert service.arbiter.pulse == PulseTiming(30.0, 600.0)
    assert service.pending.timeout_s == 15


def test_defaults() -> None:
    service = ChargerService(Config())
    assert service.arbiter.keep_awake is KeepAwake.PAUSE
    assert service.pending.timeout_s == 60
    assert not service.config.charger.rcd_selftest_before_session
