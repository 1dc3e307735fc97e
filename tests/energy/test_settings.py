"""The owner's energy settings: window lines, rules, all-or-nothing changes, storage."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from evnetd.energy.schedule import ScheduleAction, Window
from evnetd.energy.settings import OwnerSettings, dumps, from_config, loads, validate
from evnetd.energy.windows import WindowError, parse_period, parse_window
from evnetd.runtime.settings import SettingError


@pytest.mark.parametrize(("line", "days", "start", "end", "action"), [
    ("Mo-Fr 22:00-06:00 allow", {0, 1, 2, 3, 4}, dt.time(22), dt.time(6), ScheduleAction.ALLOW),
    ("daily 00:00-24:00 block", set(range(7)), dt.time(0), dt.time(0), ScheduleAction.BLOCK),
    ("Mo,We,Sa-Su 7:30-9:00 BLOCK", {0, 2, 5, 6}, dt.time(7, 30), dt.time(9), ScheduleAction.BLOCK),
    ("su 23:00-24:00 allow", {6}, dt.time(23), dt.time(0), ScheduleAction.ALLOW),
])  # fmt: skip
def test_window_lines(line: str, days: set[int], start: dt.time, end: dt.time, action: ScheduleAction) -> None:
    assert parse_window(line) == (Window(frozenset(days), start, end), action)


@pytest.mark.parametrize(("line", "message"), [
    ("Xx 10:00-11:00 allow", "day 'Xx'"),
    ("Fr-Mo 10:00-11:00 allow", "range runs forward"),
    ("Mo 25:00-11:00 allow", "time '25:00'"),
    ("Mo 24:00-11:00 allow", "cannot start at 24:00"),
    ("Mo 10:00-10:00 allow", "start and end are equal"),
    ("Mo 10:00 allow", "START-END"),
    ("Mo 10:00-11:00 maybe", "allow or block"),
    ("Mo 10:00-11:00", "must be"),
])  # fmt: skip
def test_bad_window_lines_name_the_part_and_the_rule(line: str, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        parse_window(line)


def test_cheap_periods_take_no_action() -> None:
    assert parse_period("daily 00:30-04:30") == Window(frozenset(range(7)), dt.time(0, 30), dt.time(4, 30))
    with pytest.raises(WindowError):
        parse_period("daily 00:30-04:30 allow")


@pytest.mark.parametrize(("changes", "field", "rule"), [
    ({"mode": "turbo"}, "mode", "one of normal, solar, solar-min"),
    ({"main_fuse_a": 5}, "main_fuse_a", "6–400 A"),
    ({"main_fuse_a": "40"}, "main_fuse_a", "a number"),
    ({"main_fuse_a": float("nan")}, "main_fuse_a", "a number"),
    ({"cheap_only": 1}, "cheap_only", "true or false"),
    ({"safe_current_a": 3}, "safe_current_a", "0 (pause) or at least 6 A"),
    ({"random_delay_max_s": 601}, "random_delay_max_s", "0–600"),
    ({"windows": "Mo 10:00-11:00 allow"}, "windows", "a list"),
    ({"windows": ["Mo 10:00-11:00 allow", "Xx 1:00-2:00 block"]}, "windows", "day 'Xx'"),
    ({"windows": ["daily 01:00-02:00 block"] * 21}, "windows", "at most 20"),
    ({"colour": "red"}, "colour", "unknown setting"),
    ({"mode": "solar", "margin_a": -1}, "margin_a", "0–50"),
])  # fmt: skip
def test_a_bad_field_rejects_the_whole_change(changes: dict[str, Any], field: str, rule: str) -> None:
    before = OwnerSettings()
    with pytest.raises(SettingError) as caught:
        validate(before, changes)
    assert caught.value.field == field and rule in caught.value.rule
    assert before == OwnerSettings()


def test_valid_changes_apply_and_normalise_lines() -> None:
    after = validate(OwnerSettings(), {"mode": "solar-min", "main_fuse_a": 63, "windows": ["Mo  10:00-11:00   allow"]})
    assert (after.mode, after.main_fuse_a, after.windows) == ("solar-min", 63.0, ("Mo 10:00-11:00 allow",))


def test_config_values_pass_the_same_rules() -> None:
    section = SimpleNamespace(**{**vars_of(OwnerSettings()), "main_fuse_a": 2.0})
    with pytest.raises(SettingError, match="main_fuse_a"):
        from_config(section)


def test_stored_settings_survive_and_a_value_broken_by_a_new_rule_keeps_the_default() -> None:
    changed = validate(OwnerSettings(), {"mode": "solar", "cheap": ["daily 00:30-04:30"]})
    assert loads(dumps(changed), OwnerSettings()) == changed
    assert loads('{"mode": "warp", "margin_a": 3}', OwnerSettings()) == OwnerSettings(margin_a=3.0)


def vars_of(settings: OwnerSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in OwnerSettings.__dataclass_fields__}


def test_the_config_file_names_a_bad_window() -> None:
    from evnetd.runtime.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"energy.*Xx"):
        parse_config('[energy]\nwindows = ["Xx 10:00-11:00 allow"]\n')
    assert parse_config('[energy]\nmode = "solar"\n').energy.mode == "solar"
