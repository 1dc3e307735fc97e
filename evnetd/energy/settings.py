"""The owner's energy settings: one table of rules for the config file, D-Bus and the web.

These are the settings a home owner changes (solar mode, fuse, schedules); the config
file's ``[energy]`` values are their defaults until the first change, which the service
keeps in its own state. Every path that sets them (the config loader, ``ChangeSettings``
on D-Bus, which the web API and ``evnetctl energy set`` use) goes through ``validate`` so
a value is judged by the same rule, with the same message, wherever it comes from. A
change is all or nothing: one bad field rejects the whole request.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evnetd.energy.windows import WindowError, parse_period, parse_window
from evnetd.runtime.settings import SettingError, flag, one_of

MODES = ("normal", "solar", "solar-min")
SIGNATURES = {"mode": "s", "default": "s", "windows": "as", "cheap": "as", "cheap_only": "b", "sharing": "b"}
"""D-Bus types of the settings that are not numbers (those are ``d``)."""


@dataclass(frozen=True, slots=True)
class OwnerSettings:
    mode: str = "normal"
    main_fuse_a: float = 40.0
    margin_a: float = 2.0
    safe_current_a: float = 6.0
    solar_start_delay_s: float = 60.0
    solar_stop_delay_s: float = 300.0
    windows: tuple[str, ...] = ()
    default: str = "allow"
    cheap: tuple[str, ...] = ()
    cheap_only: bool = False
    random_delay_max_s: float = 0.0
    sharing: bool = False


def _number(low: float, high: float, unit: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("must be a number")
        if not low <= value <= high:
            raise ValueError(f"must be {low:g}–{high:g} {unit}")
        return float(value)

    return check


def _lines(parse: Callable[[str], object]) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or not all(isinstance(line, str) for line in value):
            raise ValueError("must be a list of text lines")
        if len(value) > 20:
            raise ValueError("at most 20 lines")
        for line in value:
            try:
                parse(line)
            except WindowError as exc:
                raise ValueError(str(exc)) from None
        return tuple(" ".join(line.split()) for line in value)

    return check


RULES: dict[str, Callable[[Any], Any]] = {
    "mode": one_of(*MODES),
    "main_fuse_a": _number(6, 400, "A"),
    "margin_a": _number(0, 50, "A"),
    "safe_current_a": _number(0, 32, "A (0: pause)"),
    "solar_start_delay_s": _number(0, 3600, "s"),
    "solar_stop_delay_s": _number(0, 3600, "s"),
    "windows": _lines(parse_window),
    "default": one_of("allow", "block"),
    "cheap": _lines(parse_period),
    "cheap_only": flag,
    "random_delay_max_s": _number(0, 600, "s"),
    "sharing": flag,
}
assert set(RULES) == {f.name for f in dataclasses.fields(OwnerSettings)}


def validate(current: OwnerSettings, changes: Mapping[str, Any]) -> OwnerSettings:
    """``current`` with ``changes`` applied, or SettingError for the first field that breaks
    a rule (unknown names included); ``current`` itself is never modified."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        rule = RULES.get(name)
        if rule is None:
            raise SettingError(name, value, f"unknown setting (known: {', '.join(RULES)})")
        try:
            checked[name] = rule(value)
        except ValueError as exc:
            raise SettingError(name, value, str(exc)) from None
    if "safe_current_a" in checked and 0 < checked["safe_current_a"] < 6:
        raise SettingError("safe_current_a", changes["safe_current_a"], "must be 0 (pause) or at least 6 A")
    return dataclasses.replace(current, **checked)


def from_config(section: Any) -> OwnerSettings:
    """The config section's values of the owner's settings (checked by the same rules)."""
    return validate(OwnerSettings(), {name: getattr(section, name) for name in RULES})


def as_dict(settings: OwnerSettings) -> dict[str, Any]:
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(settings).items()}  # fmt: skip


def dumps(settings: OwnerSettings) -> str:
    return json.dumps(as_dict(settings), sort_keys=True)


def loads(text: str, defaults: OwnerSettings) -> OwnerSettings:
    """Stored settings over ``defaults``; a stored value that no longer passes its rule
    (a rule tightened by an update) keeps the default and is dropped."""
    stored = json.loads(text)
    settings = defaults
    for name, value in stored.items():
        try:
            settings = validate(settings, {name: value})
        except SettingError:
            continue
    return settings
