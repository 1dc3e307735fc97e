"""The owner's charger settings and the store that keeps them (with the operator state).

The web client and the app hold no state of their own (issue 8): every setting they show
lives here, is changed over D-Bus (``ChangeSettings``, or ``SetUserLimit`` for the user
maximum) and survives a restart. The config file's ``[charger]`` values are the defaults
until a setting is first changed; only changed settings are stored, so an installer's
later config edit still reaches the settings the owner never touched.

Every path judges a value by the same rule with the same message (the config loader for
the station name, D-Bus, the web API through D-Bus): ``SettingError`` names the field, the
value and the rule, the text the web client shows beside the field. A change is all or
nothing: one bad entry rejects the request and nothing is applied or stored.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evnetd.charger.authorization import MODES
from evnetd.charger.led import Brightness
from evnetd.limits.arbitration import KeepAwake
from evnetd.runtime.settings import SettingError, flag, one_of
from evnetd.runtime.storage import open_database

log = logging.getLogger("evnet.charger")

_MIGRATIONS = ("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)

USER_MAX_A = (6, 32)  # a user maximum of 32 A is no user limit (the hardware's own)
STATION_NAME_MAX = 40
KEEP_AWAKE = {"off": KeepAwake.PAUSE, "minimum": KeepAwake.MINIMUM, "pulse": KeepAwake.PULSE}
BRIGHTNESS = tuple(level.name.lower() for level in Brightness)

SIGNATURES = {
    "user_max_a": "d", "auth_mode": "s", "offline_charge": "b", "keep_awake": "s", "led_brightness": "s",
    "station_name": "s",
}  # fmt: skip
"""The D-Bus type of each setting in ``Settings`` and ``ChangeSettings`` (a{sv})."""

USER_LIMIT_KEY = "user_limit_a"  # stored only below 32 A; also what SetUserLimit always wrote


@dataclass(frozen=True, slots=True)
class ChargerSettings:
    user_max_a: float
    auth_mode: str
    offline_charge: bool
    keep_awake: str
    led_brightness: str
    station_name: str


def _user_max(value: Any) -> float:
    low, high = USER_MAX_A
    if not (isinstance(value, float) and math.isfinite(value) and value == math.floor(value) and low <= value <= high):
        raise ValueError(f"must be whole amps from {low} to {high}")
    return value


def check_station_name(value: Any) -> str:
    """1–40 printable characters (it is shown on a phone and sent in app payloads)."""
    if not (isinstance(value, str) and 1 <= len(value) <= STATION_NAME_MAX and value.isprintable()):
        raise ValueError(f"must be 1 to {STATION_NAME_MAX} printable characters")
    return value


RULES: dict[str, Callable[[Any], Any]] = {
    "user_max_a": _user_max,
    "auth_mode": one_of(*MODES),
    "offline_charge": flag,
    "keep_awake": one_of(*KEEP_AWAKE),
    "led_brightness": one_of(*BRIGHTNESS),
    "station_name": check_station_name,
}
assert set(RULES) == set(SIGNATURES) == {f.name for f in dataclasses.fields(ChargerSettings)}


def apply_changes(current: ChargerSettings, changes: Mapping[str, tuple[str, Any]]) -> ChargerSettings:
    """``current`` with ``changes`` (name → (D-Bus signature, value)) applied, or SettingError for
    the first entry that is unknown, of the wrong D-Bus type or breaks its rule."""
    checked: dict[str, Any] = {}
    for name, (signature, value) in changes.items():
        rule = RULES.get(name)
        if rule is None:
            raise SettingError(name, value, f"unknown setting (known: {', '.join(RULES)})")
        if signature != SIGNATURES[name]:
            raise SettingError(name, value, f"must be of D-Bus type {SIGNATURES[name]!r}, not {signature!r}")
        try:
            checked[name] = rule(value)
        except ValueError as exc:
            raise SettingError(name, value, str(exc)) from None
    return dataclasses.replace(current, **checked)


def defaults(config: Any) -> ChargerSettings:
    """The first-start values: the ``[charger]`` config section (no user maximum: 32 A)."""
    return ChargerSettings(
        user_max_a=float(USER_MAX_A[1]), auth_mode=config.auth_mode, offline_charge=config.offline_charge,
        keep_awake=config.keep_awake, led_brightness=config.led_brightness, station_name=config.station_name,
    )  # fmt: skip


def _stored_text(name: str, value: Any) -> str | None:
    """How a setting is kept in the store; None: not stored (the user maximum at 32 A)."""
    if name == "user_max_a":
        return f"{value:g}" if value < USER_MAX_A[1] else None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _from_text(name: str, text: str) -> Any:
    if SIGNATURES[name] == "d":
        return float(text)
    if SIGNATURES[name] == "b":
        return text == "1"
    return text


class SettingsStore:
    """Key → text in SQLite (WAL): the owner's settings and the operator state (availability,
    reservation, ConnectionTimeOut), kept across restarts and kill -9."""

    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _MIGRATIONS)

    def get(self, key: str, default: str) -> str:
        value = self._value(key)
        return default if value is None else value

    def _value(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self.set_many({key: value})

    def set_many(self, values: Mapping[str, str | None]) -> None:
        """Store every value, deleting the keys given None, in one transaction (all or nothing)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for key, value in values.items():
                if value is None:
                    self._db.execute("DELETE FROM settings WHERE key = ?", (key,))
                else:
                    self._db.execute(
                        "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, value),
                    )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def delete(self, key: str) -> None:
        self.set_many({key: None})

    def load_settings(self, first_start: ChargerSettings) -> ChargerSettings:
        """The stored settings over ``first_start``; a stored value that no longer passes its
        rule (a rule tightened by an update) is dropped in favour of the default, with a warning."""
        settings = first_start
        for name, signature in SIGNATURES.items():
            key = USER_LIMIT_KEY if name == "user_max_a" else name
            text = self._value(key)
            if text is None:
                continue
            try:
                settings = apply_changes(settings, {name: (signature, _from_text(name, text))})
            except (SettingError, ValueError) as exc:
                log.warning("stored setting ignored, the default applies: %s", exc)
        return settings

    def save_settings(self, settings: ChargerSettings, names: Iterable[str]) -> None:
        """Store the settings ``names`` of ``settings`` in one transaction."""
        self.set_many({
            USER_LIMIT_KEY if name == "user_max_a" else name: _stored_text(name, getattr(settings, name))
            for name in names
        })  # fmt: skip

    def close(self) -> None:
        self._db.close()
