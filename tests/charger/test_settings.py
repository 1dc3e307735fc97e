"""The owner's charger settings: one rule per field, all or nothing, kept across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from evnetd.charger.settings import ChargerSettings, SettingsStore, apply_changes, defaults
from evnetd.runtime.config import ChargerConfig
from evnetd.runtime.settings import SettingError

FIRST = defaults(ChargerConfig())


def test_the_config_gives_the_first_start_values() -> None:
    config = ChargerConfig(auth_mode="rfid", offline_charge=False, keep_awake="pulse", led_brightness="low",
                           station_name="Garage")  # fmt: skip
    assert defaults(config) == ChargerSettings(
        user_max_a=32.0, auth_mode="rfid", offline_charge=False, keep_awake="pulse", led_brightness="low",
        station_name="Garage",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "signature", "value"),
    [
        ("user_max_a", "d", 6.0),
        ("user_max_a", "d", 16.0),
        ("user_max_a", "d", 32.0),
        ("auth_mode", "s", "free"),
        ("auth_mode", "s", "rfid"),
        ("auth_mode", "s", "app"),
        ("auth_mode", "s", "ocpp"),
        ("offline_charge", "b", False),
        ("keep_awake", "s", "minimum"),
        ("keep_awake", "s", "pulse"),
        ("led_brightness", "s", "medium"),
        ("station_name", "s", "Garage Ø 2"),
        ("station_name", "s", "x" * 40),
    ],
)
def test_valid_values_are_taken(name: str, signature: str, value: Any) -> None:
    assert getattr(apply_changes(FIRST, {name: (signature, value)}), name) == value


@pytest.mark.parametrize(
    ("name", "signature", "value", "message"),
    [
        ("user_max_a", "d", 5.0, "user_max_a: 5.0: must be whole amps from 6 to 32"),
        ("user_max_a", "d", 33.0, "user_max_a: 33.0: must be whole amps from 6 to 32"),
        ("user_max_a", "d", 10.5, "user_max_a: 10.5: must be whole amps from 6 to 32"),
        ("user_max_a", "d", float("nan"), "user_max_a: nan: must be whole amps from 6 to 32"),
        ("user_max_a", "i", 16, "user_max_a: 16: must be of D-Bus type 'd', not 'i'"),
        ("user_max_a", "s", "16", "user_max_a: '16': must be of D-Bus type 'd', not 's'"),
        ("auth_mode", "s", "local", "auth_mode: 'local': must be one of free, rfid, app, ocpp"),
        ("offline_charge", "s", "yes", "offline_charge: 'yes': must be of D-Bus type 'b', not 's'"),
        ("keep_awake", "s", "sleep", "keep_awake: 'sleep': must be one of off, minimum, pulse"),
        ("led_brightness", "s", "HIGH", "led_brightness: 'HIGH': must be one of low, medium, high"),
        ("station_name", "s", "", "station_name: '': must be 1 to 40 printable characters"),
        ("station_name", "s", "x" * 41, f"station_name: {'x' * 41!r}: must be 1 to 40 printable characters"),
        ("station_name", "s", "a\nb", "station_name: 'a\\nb': must be 1 to 40 printable characters"),
        ("station_name", "o", "/org/x", "station_name: '/org/x': must be of D-Bus type 's', not 'o'"),
        ("colour", "s", "red", "colour: 'red': unknown setting (known: user_max_a, auth_mode,"),
    ],
)
def test_bad_values_name_field_value_and_rule(name: str, signature: str, value: Any, message: str) -> None:
    with pytest.raises(SettingError) as caught:
        apply_changes(FIRST, {name: (signature, value)})
    assert str(caught.value).startswith(message)
    assert caught.value.field == name


def test_one_bad_entry_rejects_the_whole_change() -> None:
    with pytest.raises(SettingError, match="keep_awake"):
        apply_changes(FIRST, {"user_max_a": ("d", 16.0), "keep_awake": ("s", "never")})


def test_settings_survive_a_reopen_and_only_changed_ones_are_stored(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.db")
    changed = apply_changes(FIRST, {"user_max_a": ("d", 16.0), "station_name": ("s", "Garage")})
    store.save_settings(changed, ["user_max_a", "station_name"])
    store.close()
    reopened = SettingsStore(tmp_path / "s.db")
    installer_edit = defaults(ChargerConfig(led_brightness="low"))  # a later config change still applies
    loaded = reopened.load_settings(installer_edit)
    assert (loaded.user_max_a, loaded.station_name, loaded.led_brightness) == (16.0, "Garage", "low")
    assert reopened.get("user_limit_a", "") == "16"  # where SetUserLimit kept it before


def test_32_amps_removes_the_stored_user_limit(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.db")
    store.save_settings(apply_changes(FIRST, {"user_max_a": ("d", 10.0)}), ["user_max_a"])
    store.save_settings(FIRST, ["user_max_a"])
    assert store.get("user_limit_a", "none") == "none"
    assert store.load_settings(FIRST).user_max_a == 32.0


@pytest.mark.parametrize(("key", "text"), [("user_limit_a", "3"), ("user_limit_a", "many"), ("auth_mode", "local")])
def test_a_stored_value_that_breaks_todays_rule_falls_back_to_the_default(tmp_path: Path, key: str, text: str) -> None:
    store = SettingsStore(tmp_path / "s.db")
    store.set(key, text)
    assert store.load_settings(FIRST) == FIRST


def test_set_many_is_all_or_nothing(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.db")
    store.set("a", "1")
    with pytest.raises(sqlite3.Error):
        store.set_many({"a": "2", "b": object()})  # type: ignore[dict-item]
    assert (store.get("a", ""), store.get("b", "none")) == ("1", "none")
