"""Config: defaults, and errors that name the field, the value and the rule."""

from __future__ import annotations

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
