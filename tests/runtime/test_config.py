"""Config: defaults, and errors that name the field, the value and the rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evnetd.runtime.config import Config, ConfigError, example_toml, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_empty_file_is_all_defaults() -> None:
    assert parse_config("") == Config()
    assert Config().general.board == "sim"
    assert Config().charger.max_current_a == 32.0


def test_shipped_example_parses_to_the_defaults() -> None:
    assert load_config(REPO / "etc/evnet/evnet.toml") == Config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[charger]\nmax_current_a = 40", "charger.max_current_a = 40: Input should be less than or equal to 32"),
        ("[charger]\nmax_curent_a = 16", "charger.max_curent_a: unknown setting"),
        ('[general]\nboard = "arduino"', "general.board = 'arduino': Input should be 'sim' or 'linux'"),
        ('[ocpp]\nurl = "http://x"', "ocpp.url = 'http://x': Value error, must start with ws:// or wss://"),
        ("[charger]\nlocal_tokens = ['']", "charger.local_tokens.0 = '': String should have at least 1 character"),
        ("[charger\n", "not valid TOML"),
    ],
)
def test_errors_name_field_value_and_rule(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "evnet.toml")
    message = str(caught.value)
    assert message.startswith("evnet.toml: ")
    assert expected in message
    assert "\n" not in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_shipped_example_lists_every_key() -> None:
    assert (REPO / "etc/evnet/evnet.toml").read_text() == example_toml()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line_voltage_gain = 5000.0",
         "calibration.line_voltage_gain = 5000.0: Value error, must be within 400–600 V per ADC volt"),
        ("line_voltage_gain = -500.0", "calibration.line_voltage_gain = -500.0: Value error, must be positive"),
        ("site_current_gain = -10.0", "calibration.site_current_gain = -10.0: Value error, must be within ±80–120"),
        ("ev_current_offset = 0.5", "calibration.ev_current_offset = 0.5: Input should be less than or equal to 0.1"),
        ("ev_current_phase_deg = -12", "calibration.ev_current_phase_deg = -12: Input should be greater than"),
        ("site_current_phase_deg = 1", "calibration.site_current_phase_deg: unknown setting"),
    ],
)  # fmt: skip
def test_calibration_errors_name_field_value_and_rule(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[calibration]\n" + text, "evnet.toml")
    assert expected in str(caught.value)


def test_calibration_overrides_keep_their_values() -> None:
    config = parse_config("[calibration]\nline_voltage_gain = 510\nev_current_gain = -49.5\nload_voltage_offset = 1e-3")
    assert config.calibration.line_voltage_gain == 510.0 and isinstance(config.calibration.line_voltage_gain, float)
    assert config.calibration.ev_current_gain == -49.5
    assert config.calibration.load_voltage_offset == 0.001
    assert config.calibration.n_pe_voltage_gain is None


def test_command_line_overrides_are_validated_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "evnet.toml"
    path.write_text('[general]\nlog_level = "debug"\n')
    config = load_config(path, {"general": {"state_dir": tmp_path, "charge_point_id": "CP-7"}})
    assert config.general.state_dir == tmp_path and isinstance(config.general.state_dir, Path)
    assert (config.general.charge_point_id, config.general.log_level) == ("CP-7", "debug")
    with pytest.raises(ConfigError, match=r"general\.charge_point_id = 'no spaces': String should match pattern"):
        load_config(path, {"general": {"charge_point_id": "no spaces"}})


def test_models_are_frozen_plain_data_with_pydantic_s_reading_api() -> None:
    config = parse_config("[charger]\nmax_current_a = 16")
    with pytest.raises(AttributeError):
        config.charger.max_current_a = 20.0  # type: ignore[misc]
    assert config.charger.model_dump()["max_current_a"] == 16.0
    assert config.model_copy(update={"charger": Config().charger}) == Config()
    assert dict(config.general) == config.general.model_dump()
    first, second = Config(), Config()
    assert first.charger.local_tokens is not second.charger.local_tokens  # defaults are copied, as pydantic does


def test_daemons_never_import_pydantic() -> None:
    """The memory budget: pydantic (~13 MB) lives only in the short-lived validator."""
    probe = (
        "import sys\n"
        "from evnetd.cli.evnetd_main import effective_config, _parser\n"
        "from evnetd.services import SERVICES\n"
        "config = effective_config(_parser().parse_args(['meter', '--state-dir', '/tmp']))\n"
        "for name in SERVICES: SERVICES[name].factory()(config)\n"
        "print(sorted(m for m in sys.modules if m.startswith('pydantic')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
