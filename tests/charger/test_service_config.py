"""The charger service builds its cores from the [charger] section."""

from __future__ import annotations

import pytest

from evnetd.charger.service import ChargerService
from evnetd.limits.arbitration import KeepAwake, PulseTiming
from evnetd.runtime.config import ChargerConfig, Config, ConfigError, parse_config


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('auth_mode = "local"', "charger.auth_mode = 'local': Input should be 'free', 'rfid', 'app' or 'ocpp'"),
        ('local_tokens = ["04A1B2"]', "Value error, '04A1B2': must be a card UID of 4, 7 or 10 bytes in hex"),
        ('station_name = "a\\tb"', "charger.station_name = 'a\\tb': Value error, must be 1 to 40 printable characters"),
    ],
)
def test_the_config_is_judged_by_the_settings_rules(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[charger]\n{text}\n", "evnet.toml")
    assert expected in str(caught.value)


def test_config_tokens_are_kept_normalised() -> None:
    config = parse_config('[charger]\nauth_mode = "rfid"\nlocal_tokens = ["04:a1:b2:c3"]\n')
    service = ChargerService(config)
    assert config.charger.local_tokens == ["04A1B2C3"]
    assert service.tokens.uids == ["04A1B2C3"] and service.authorizer.mode == "rfid"
