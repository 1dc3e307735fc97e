"""Weekly time windows written as one line of text: ``Mo-Fr 22:00-06:00 allow``.

Schedules are set by people: in the config file, with ``evnetctl energy set``, in the web
client. One short line per window reads the same in all three, where a nested structure
would need a different editor in each. The grammar:

    DAYS START-END [ACTION]

* DAYS: ``Mo Tu We Th Fr Sa Su``, a range ``Mo-Fr``, a list ``Mo,We,Sa-Su``, or ``daily``.
* START, END: ``HH:MM`` (``24:00`` may end a window); END ≤ START crosses midnight, and the
  part after midnight belongs to the next day (``Fr 22:00-06:00`` covers Saturday 0–6 h).
* ACTION: ``allow`` or ``block`` for charging windows; cheap-tariff periods take none.

A bad line raises WindowError naming the part and the rule, so the config loader, the D-Bus
method and the web API all give the same message.
"""

from __future__ import annotations

import datetime as dt
import re

from evnetd.energy.schedule import ScheduleAction, Window

DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


class WindowError(ValueError):
    """A window line breaks the grammar; the text names the part and the rule."""


def _day(name: str) -> int:
    try:
        return DAY_NAMES.index(name.capitalize())
    except ValueError:
        raise WindowError(f"day {name!r}: must be one of {' '.join(DAY_NAMES)}") from None


def parse_days(text: str) -> frozenset[int]:
    if text.lower() == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = _day(first)
        end = _day(last) if last else start
        if end < start:
            raise WindowError(f"days {part!r}: a range runs forward (Mo-Fr, not Fr-Mo)")
        days.update(range(start, end + 1))
    return frozenset(days)


def parse_time(text: str) -> dt.time | None:
    """``HH:MM``; ``24:00`` as None (the end of the day)."""
    match = _TIME.match(text)
    if not match or (match[1] == "24" and match[2] != "00"):
        raise WindowError(f"time {text!r}: must be HH:MM between 00:00 and 24:00")
    if match[1] == "24":
        return None
    return dt.time(int(match[1]), int(match[2]))


def _parse(line: str, with_action: bool) -> tuple[Window, ScheduleAction | None]:
    parts = line.split()
    expected = "DAYS HH:MM-HH:MM allow|block" if with_action else "DAYS HH:MM-HH:MM"
    if len(parts) != (3 if with_action else 2):
        raise WindowError(f"window {line!r}: must be {expected!r}, e.g. 'Mo-Fr 22:00-06:00{' allow' * with_action}'")
    days = parse_days(parts[0])
    first, sep, last = parts[1].partition("-")
    if not sep:
        raise WindowError(f"window {line!r}: times must be START-END, e.g. 22:00-06:00")
    start, end = parse_time(first), parse_time(last)
    if start is None:
        raise WindowError(f"window {line!r}: cannot start at 24:00")
    window = Window(days, start, end if end is not None else dt.time(0, 0))
    if end is not None and end == start:
        raise WindowError(f"window {line!r}: start and end are equal (use 00:00-24:00 for a whole day)")
    if not with_action:
        return window, None
    try:
        return window, ScheduleAction(parts[2].lower())
    except ValueError:
        raise WindowError(f"window {line!r}: action {parts[2]!r} must be allow or block") from None


def parse_window(line: str) -> tuple[Window, ScheduleAction]:
    window, action = _parse(line, with_action=True)
    assert action is not None
    return window, action


def parse_period(line: str) -> Window:
    """A cheap-tariff period: a window without an action."""
    return _parse(line, with_action=False)[0]
