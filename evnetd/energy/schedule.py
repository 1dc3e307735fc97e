"""Weekly charging windows, cheap-tariff periods and the UK randomised delay.

Windows allow or block grid charging at set hours of set weekdays; the first window that
contains the moment decides, ``default`` applies outside all of them. Tariff periods mark
when power is cheap: with ``cheap_only`` the grid may be used only then (off-peak
charging), and the combination rules (``policy``) let a cheap period lift the solar cap.

Randomised delay: each change from blocked to allowed takes effect after a random
0..``random_delay_max_s`` (at most 600 s), as the UK Smart Charge Points Regulations 2021
require of default schedules, so that a street of chargers does not switch on together at
the start of the off-peak tariff. The delay is drawn from the ``rng`` handed in (seeded in
tests) and anchored at the ``now`` of the first ``decide`` that sees the change, which is
why the service calls ``decide`` again by ``next_change``; a block during the delay
cancels it, and so may the user (``cancel_delay``). The first ``decide`` has no earlier
state to change from and applies no delay.

Time. Windows are decided by the wall-clock fields of ``local`` (weekday and time of
day), so "22:00" means 22:00 as the household's clocks show it, on either side of a
daylight-saving change. A window edge that falls into the hour skipped in spring takes
effect when the clocks reach the first moment after it; an edge in the hour repeated in
autumn takes effect when the clocks first reach it (and again on the second pass if the
window's state differs there). ``next_change`` is a monotonic deadline: ``now`` plus the
time to the next edge, taken as the smaller of the wall-clock difference and, for
timezone-aware ``local``, the real elapsed time, so it is never late; across a change of
the clocks it may be an hour early, and the call then simply computes the rest.
"""

from __future__ import annotations

import datetime
import enum
import random
from dataclasses import dataclass

from evnetd.energy.decision import duration_text
from evnetd.timing import reached

MAX_RANDOM_DELAY_S = 600.0
_HORIZON_DAYS = 8  # a weekly schedule that does not change within a week never changes
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]
    """The days it starts on: 0 = Monday … 6 = Sunday (``datetime.weekday()``)."""
    start: datetime.time
    end: datetime.time
    """end ≤ start: the window crosses midnight into the next day (22:00–06:00); end ==
    start makes it 24 hours long."""

    def __post_init__(self) -> None:
        if not self.days <= frozenset(range(7)):
            raise ValueError(f"window days {sorted(self.days)}: must be 0 (Monday) … 6 (Sunday)")

    def contains(self, local: datetime.datetime) -> bool:
        day, time = local.weekday(), local.time()
        if self.start < self.end:
            return day in self.days and self.start <= time < self.end
        return (day in self.days and time >= self.start) or ((day - 1) % 7 in self.days and time < self.end)


class ScheduleAction(enum.Enum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    default: ScheduleAction = ScheduleAction.ALLOW
    """Outside every window."""
    windows: tuple[tuple[Window, ScheduleAction], ...] = ()
    """The first window that contains the moment wins."""
    cheap: tuple[Window, ...] = ()
    """Tariff periods with a cheap price."""
    cheap_only: bool = False
    """Charge from the grid only in cheap periods (off-peak)."""
    random_delay_max_s: float = 0.0
    """Each change from blocked to allowed is delayed by a random 0..this (UK default mode)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_delay_max_s <= MAX_RANDOM_DELAY_S:
            raise ValueError(f"random_delay_max_s {self.random_delay_max_s} s: must be 0–600 s")


@dataclass(frozen=True, slots=True)
class ScheduleState:
    allowed: bool
    """Grid charging allowed now (after the random delay)."""
    cheap: bool
    """Inside a cheap tariff period."""
    reason: str
    next_change: float | None
    """Monotonic deadline of the next window edge or the end of the delay; None: never."""


@dataclass(frozen=True, slots=True)
class _Edges:
    """The next changes after ``since``, valid while the clock stays in [since, first change)."""

    since: datetime.datetime
    change: datetime.datetime | None  # of (allowed, cheap)
    allowed_change: datetime.datetime | None  # of allowed alone, for the reason


class Schedule:
    def __init__(self, settings: ScheduleSettings, rng: random.Random) -> None:
        self.settings = settings
        self._rng = rng
        self._was_allowed: bool | None = None  # by the windows alone, at the previous decide
        self._delay_until: float | None = None
        self._edges: _Edges | None = None

    def decide(self, local: datetime.datetime, now: float) -> ScheduleState:
        allowed, cheap = self._state_at(local)
        edges = self._next_edges(local)
        next_change = None if edges.change is None else now + _seconds_until(local, edges.change)
        if not allowed:
            self._delay_until = None
        elif self._was_allowed is False and self.settings.random_delay_max_s > 0:
            self._delay_until = now + self._rng.uniform(0.0, self.settings.random_delay_max_s)
        self._was_allowed = allowed
        if self._delay_until is not None and reached(now, self._delay_until, 0.0):
            self._delay_until = None
        if self._delay_until is not None:
            reason = f"schedule: random delay {duration_text(self._delay_until - now)}"
            deadline = self._delay_until if next_change is None else min(self._delay_until, next_change)
            return ScheduleState(False, cheap, reason, deadline)
        return ScheduleState(allowed, cheap, self._reason(local, allowed, cheap, edges.allowed_change), next_change)

    def cancel_delay(self) -> None:
        """The user asked to charge now: end a running random delay."""
        self._delay_until = None

    def _window_allows(self, local: datetime.datetime) -> bool:
        s = self.settings
        action = next((action for window, action in s.windows if window.contains(local)), s.default)
        return action is ScheduleAction.ALLOW

    def _state_at(self, local: datetime.datetime) -> tuple[bool, bool]:
        """(grid charging allowed, cheap) by the windows and periods alone."""
        cheap = any(period.contains(local) for period in self.settings.cheap)
        return self._window_allows(local) and (cheap or not self.settings.cheap_only), cheap

    def _next_edges(self, local: datetime.datetime) -> _Edges:
        """The next moments (wall clock) at which the state changes, from a cache while valid."""
        cached = self._edges
        if cached is not None and cached.since <= local and (cached.change is None or local < cached.change):
            return cached
        state = self._state_at(local)
        s = self.settings
        times = {w.start for w, _ in s.windows} | {w.end for w, _ in s.windows}
        times |= {w.start for w in s.cheap} | {w.end for w in s.cheap}
        candidates = sorted(
            moment
            for day in range(_HORIZON_DAYS)
            for time in times
            if (moment := datetime.datetime.combine(local.date() + datetime.timedelta(days=day), time, local.tzinfo))
            > local
        )
        change: datetime.datetime | None = None
        allowed_change: datetime.datetime | None = None
        for moment in candidates:
            then = self._state_at(moment)
            if change is None and then != state:
                change = moment
            if then[0] != state[0]:
                allowed_change = moment
                break
        self._edges = _Edges(local, change, allowed_change)
        return self._edges

    def _reason(self, local: datetime.datetime, allowed: bool, cheap: bool, until: datetime.datetime | None) -> str:
        if allowed:
            text = "schedule: cheap period" if cheap else "schedule: allowed"
        elif self.settings.cheap_only and not cheap and self._window_allows(local):
            text = "schedule: blocked (cheap periods only)"
        else:
            text = "schedule: blocked"
        return text if until is None else f"{text} until {_moment_text(local, until)}"


def _seconds_until(local: datetime.datetime, moment: datetime.datetime) -> float:
    """Time from ``local`` to the later wall-clock ``moment``, never more than really passes."""
    wall = (moment.replace(tzinfo=None) - local.replace(tzinfo=None)).total_seconds()
    if local.tzinfo is None:
        return wall
    real = (moment.astimezone(datetime.UTC) - local.astimezone(datetime.UTC)).total_seconds()
    return min(wall, real) if real > 0 else wall


def _moment_text(local: datetime.datetime, moment: datetime.datetime) -> str:
    clock = moment.strftime("%H:%M")
    return clock if moment.date() == local.date() else f"{_DAY_NAMES[moment.weekday()]} {clock}"
