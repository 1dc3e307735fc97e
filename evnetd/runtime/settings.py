"""What every service's runtime settings share: the error that names field, value and rule,
and the small rules several settings tables use.

The charger (``evnetd.charger.settings``) and energy management (``evnetd.energy.settings``)
each keep a table of rules for the settings they own; the web API, evnetctl and D-Bus all
report a refusal through ``SettingError`` so the field can be shown next to its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SettingError(ValueError):
    """A value breaks its rule; the text is "<field>: <value!r>: <rule>"."""

    def __init__(self, field: str, value: Any, rule: str) -> None:
        super().__init__(f"{field}: {value!r}: {rule}")
        self.field, self.value, self.rule = field, value, rule


def one_of(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return check


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value
