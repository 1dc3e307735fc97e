"""Schedules: weekly windows (midnight, weekday sets), cheap periods, the UK random delay."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from evnetd.energy.decision import duration_text
from evnetd.energy.schedule import Schedule, ScheduleAction, ScheduleSettings, ScheduleState, Window

ALLOW, BLOCK = ScheduleAction.ALLOW, ScheduleAction.BLOCK
WEEKDAYS = frozenset(range(5))
DAILY = frozenset(range(7))
MONDAY = dt.date(2026, 6, 15)  # a Monday


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """Local time on the day ``day`` days after Monday 15 June 2026 (0 = Monday)."""
    return dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(hour, minute, second))


def window(days: frozenset[int] | set[int], start: str, end: str) -> Window:
    return Window(frozenset(days), dt.time.fromisoformat(start), dt.time.fromisoformat(end))


@pytest.mark.parametrize(
    ("win", "moment", "inside"),
    [
        (window(WEEKDAYS, "08:00", "12:00"), at(0, 8), True),
        (window(WEEKDAYS, "08:00", "12:00"), at(0, 7, 59, 59), False),
        (window(WEEKDAYS, "08:00", "12:00"), at(0, 11, 59, 59), True),
        (window(WEEKDAYS, "08:00", "12:00"), at(0, 12), False),  # the end is outside
        (window(WEEKDAYS, "08:00", "12:00"), at(4, 9), True),  # Friday
        (window(WEEKDAYS, "08:00", "12:00"), at(5, 9), False),  # Saturday
        # Friday 22:00–06:00 crosses midnight: the morning part is Saturday's.
        (window({4}, "22:00", "06:00"), at(4, 21, 59), False),
        (window({4}, "22:00", "06:00"), at(4, 22), True),
        (window({4}, "22:00", "06:00"), at(5, 0), True),
        (window({4}, "22:00", "06:00"), at(5, 5, 59, 59), True),
        (window({4}, "22:00", "06:00"), at(5, 6), False),
        (window({4}, "22:00", "06:00"), at(4, 3), False),  # Friday morning belongs to Thursday
        (window({4}, "22:00", "06:00"), at(5, 23), False),
        # Sunday night into Monday: the week wraps.
        (window({6}, "23:00", "01:00"), at(7, 0, 30), True),
        (window({6}, "23:00", "01:00"), at(0, 0, 30), True),
        (window({6}, "23:00", "01:00"), at(1, 0, 30), False),
        # end == start: 24 hours from the start ("Mo 00:00-24:00").
        (window({0}, "00:00", "00:00"), at(0, 0), True),
        (window({0}, "00:00", "00:00"), at(0, 23, 59), True),
        (window({0}, "00:00", "00:00"), at(1, 0), False),
        (window({0}, "00:00", "00:00"), at(6, 23, 59), False),
        (window(set(), "00:00", "00:00"), at(0, 12), False),
    ],
)
def test_window_contains(win: Window, moment: dt.datetime, inside: bool) -> None:
    assert win.contains(moment) is inside


def test_window_days_are_weekdays() -> None:
    with pytest.raises(ValueError, match="window days"):
        window({7}, "08:00", "09:00")


PEAK_BLOCKED = ScheduleSettings(
    windows=(
        (window(WEEKDAYS, "16:00", "19:00"), BLOCK),
        (window(DAILY, "17:00", "18:00"), ALLOW),  # never reached on weekdays: the first match wins
    )
)
NIGHT_ONLY = ScheduleSettings(default=BLOCK, windows=((window(DAILY, "22:00", "06:00"), ALLOW),))
OFF_PEAK = ScheduleSettings(cheap=(window(DAILY, "00:30", "04:30"),), cheap_only=True)


@pytest.mark.parametrize(
    ("settings", "moment", "allowed", "cheap", "reason", "seconds"),
    [
        (ScheduleSettings(), at(0, 12), True, False, "schedule: allowed", None),
        (ScheduleSettings(default=BLOCK), at(0, 12), False, False, "schedule: blocked", None),
        (PEAK_BLOCKED, at(0, 15), True, False, "schedule: allowed until 16:00", 3600.0),
        (PEAK_BLOCKED, at(0, 17, 30), False, False, "schedule: blocked until 19:00", 5400.0),
        (PEAK_BLOCKED, at(4, 19), True, False, "schedule: allowed until Mon 16:00", None),
        (PEAK_BLOCKED, at(5, 17, 30), True, False, "schedule: allowed until Mon 16:00", None),
        (NIGHT_ONLY, at(0, 21), False, False, "schedule: blocked until 22:00", 3600.0),
        (NIGHT_ONLY, at(0, 23), True, False, "schedule: allowed until Tue 06:00", 7 * 3600.0),
        (NIGHT_ONLY, at(1, 5, 59, 30), True, False, "schedule: allowed until 06:00", 30.0),
        # Off-peak only: grid charging waits for the cheap period.
        (OFF_PEAK, at(0, 23), False, False, "schedule: blocked (cheap periods only) until Tue 00:30", 5400.0),
        (OFF_PEAK, at(1, 1), True, True, "schedule: cheap period until 04:30", 3.5 * 3600),
        (OFF_PEAK, at(1, 4, 30), False, False, "schedule: blocked (cheap periods only) until Wed 00:30", None),
        # A blocking window wins over a cheap period inside it.
        (
            ScheduleSettings(windows=((window(DAILY, "01:00", "02:00"), BLOCK),), cheap=OFF_PEAK.cheap),
            at(0, 1, 30),
            False,
            True,
            "schedule: blocked until 02:00",
            1800.0,
        ),
        # Cheap without cheap_only: grid charging is allowed all day; the period is reported.
        (ScheduleSettings(cheap=OFF_PEAK.cheap), at(0, 1), True, True, "schedule: cheap period", 3.5 * 3600),
        (ScheduleSettings(cheap=OFF_PEAK.cheap), at(0, 12), True, False, "schedule: allowed", 12.5 * 3600),
    ],
)
def test_windows_and_cheap_periods(
    settings: ScheduleSettings,
    moment: dt.datetime,
    allowed: bool,
    cheap: bool,
    reason: str,
    seconds: float | None,
) -> None:
    state = Schedule(settings, random.Random(1)).decide(moment, 1000.0)
    assert (state.allowed, state.cheap, state.reason) == (allowed, cheap, reason)
    if seconds is not None:
        assert state.next_change == 1000.0 + seconds


def test_next_change_is_none_when_nothing_ever_changes() -> None:
    settings = ScheduleSettings(windows=((window(DAILY, "08:00", "09:00"), ALLOW),))  # allows what default allows
    assert Schedule(settings, random.Random(1)).decide(at(0, 12), 0.0) == ScheduleState(
        True, False, "schedule: allowed", None
    )


@pytest.mark.parametrize("settings", [PEAK_BLOCKED, NIGHT_ONLY, OFF_PEAK])
def test_next_change_lands_on_the_edge_through_a_week(settings: ScheduleSettings) -> None:
    """Walking a week in 7-minute steps with one Schedule (its cache in use): the state
    matches a fresh Schedule's, holds until next_change and differs right at it."""
    schedule = Schedule(settings, random.Random(1))
    start = at(0, 0, 3)
    for step in range(7 * 24 * 60 // 7):
        moment = start + dt.timedelta(minutes=7 * step)
        now = float(step * 420)
        state = schedule.decide(moment, now)
        fresh = Schedule(settings, random.Random(1)).decide(moment, now)
        assert state == fresh
        assert state.next_change is not None
        edge = moment + dt.timedelta(seconds=state.next_change - now)
        before = Schedule(settings, random.Random(1)).decide(edge - dt.timedelta(seconds=1), 0.0)
        after = Schedule(settings, random.Random(1)).decide(edge, 0.0)
        assert (before.allowed, before.cheap) == (state.allowed, state.cheap)
        assert (after.allowed, after.cheap) != (state.allowed, state.cheap)


def _delay_of(seed: int, max_s: float = 600.0) -> float:
    """Blocked before 22:00, allowed after: how long the change to allowed is delayed."""
    schedule = Schedule(dataclasses.replace(NIGHT_ONLY, random_delay_max_s=max_s), random.Random(seed))
    assert not schedule.decide(at(0, 21, 59, 59), 99.0).allowed
    state = schedule.decide(at(0, 22), 100.0)
    if state.allowed:
        return 0.0
    assert state.next_change is not None
    return state.next_change - 100.0


def test_random_delay_is_drawn_from_the_rng_within_bounds() -> None:
    delays = [_delay_of(seed) for seed in range(200)]
    assert delays[0] == pytest.approx(random.Random(0).uniform(0.0, 600.0))
    assert all(0.0 <= d <= 600.0 for d in delays)
    assert max(delays) - min(delays) > 500.0  # spread over the range, not a constant
    assert all(0.0 <= _delay_of(seed, 30.0) <= 30.0 for seed in range(50))


def test_random_delay_holds_then_allows() -> None:
    delay = random.Random(5).uniform(0.0, 600.0)
    settings = dataclasses.replace(NIGHT_ONLY, random_delay_max_s=600.0)
    schedule = Schedule(settings, random.Random(5))
    schedule.decide(at(0, 21, 59), 40.0)
    state = schedule.decide(at(0, 22), 100.0)
    assert state == ScheduleState(False, False, f"schedule: random delay {duration_text(delay)}", 100.0 + delay)
    assert not schedule.decide(at(0, 22, 1), 100.0 + delay - 0.001).allowed
    assert schedule.decide(at(0, 22, 5), 100.0 + delay).reason == "schedule: allowed until Tue 06:00"
    assert schedule.decide(at(0, 23), 3600.0).allowed


def test_random_delay_ends_with_a_block_and_is_drawn_again() -> None:
    settings = ScheduleSettings(
        default=BLOCK, windows=((window(DAILY, "22:00", "22:05"), ALLOW), (window(DAILY, "22:10", "23:00"), ALLOW)),
        random_delay_max_s=600.0,
    )  # fmt: skip
    rng = random.Random(0)
    expected = random.Random(0)
    first, second = expected.uniform(0.0, 600.0), expected.uniform(0.0, 600.0)
    assert first > 300.0  # this seed's first delay outlasts the 5-minute window
    schedule = Schedule(settings, rng)
    schedule.decide(at(0, 21), 0.0)
    assert schedule.decide(at(0, 22), 3600.0).next_change == 3600.0 + 300.0  # the window ends first
    assert schedule.decide(at(0, 22, 5), 3900.0).reason == "schedule: blocked until 22:10"
    state = schedule.decide(at(0, 22, 10), 4200.0)
    assert not state.allowed
    assert state.next_change == 4200.0 + second


def test_the_user_may_cancel_the_delay() -> None:
    settings = dataclasses.replace(NIGHT_ONLY, random_delay_max_s=600.0)
    schedule = Schedule(settings, random.Random(2))
    schedule.decide(at(0, 21), 0.0)
    assert not schedule.decide(at(0, 22), 10.0).allowed
    schedule.cancel_delay()
    assert schedule.decide(at(0, 22), 11.0).allowed


@pytest.mark.parametrize(
    ("max_s", "first", "delayed"),
    [
        (0.0, at(0, 21), False),  # no delay configured
        (600.0, at(0, 22), False),  # the first decide has nothing to change from
        (600.0, at(0, 21), True),
    ],
)
def test_delay_only_on_a_change_from_blocked(max_s: float, first: dt.datetime, delayed: bool) -> None:
    settings = dataclasses.replace(NIGHT_ONLY, random_delay_max_s=max_s)
    schedule = Schedule(settings, random.Random(3))
    schedule.decide(first, 0.0)
    assert schedule.decide(at(0, 22, 0, 1), 1.0).allowed is not delayed


def test_cheap_only_start_is_delayed_too() -> None:
    settings = ScheduleSettings(cheap=OFF_PEAK.cheap, cheap_only=True, random_delay_max_s=600.0)
    schedule = Schedule(settings, random.Random(4))
    schedule.decide(at(0, 0, 29), 0.0)
    state = schedule.decide(at(0, 0, 30), 60.0)
    assert (state.allowed, state.cheap) == (False, True)


@pytest.mark.parametrize("max_s", [-1.0, 600.1])
def test_random_delay_is_at_most_600_s(max_s: float) -> None:
    with pytest.raises(ValueError, match="random_delay_max_s"):
        ScheduleSettings(random_delay_max_s=max_s)


def _london() -> dt.tzinfo:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        return zoneinfo.ZoneInfo("Europe/London")  # type: ignore[no-any-return]
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone data")


@pytest.mark.parametrize(
    ("day", "seconds"),
    [
        # Spring forward (29 March 2026): 00:30 GMT → 06:00 BST is 4.5 h of real time.
        (dt.date(2026, 3, 29), 4.5 * 3600),
        # Fall back (25 October 2026): 00:30 BST → 06:00 GMT is 6.5 h; the deadline comes
        # at the wall-clock 5.5 h, an hour early, never late.
        (dt.date(2026, 10, 25), 5.5 * 3600),
        (dt.date(2026, 6, 14), 5.5 * 3600),  # an ordinary Sunday
    ],
)
def test_daylight_saving_deadline_is_never_late(day: dt.date, seconds: float) -> None:
    """At 00:30 local, blocked until 06:00."""
    london = _london()
    settings = ScheduleSettings(default=BLOCK, windows=((window(DAILY, "06:00", "22:00"), ALLOW),))
    state = Schedule(settings, random.Random(1)).decide(dt.datetime.combine(day, dt.time(0, 30), london), 0.0)
    assert (state.allowed, state.reason, state.next_change) == (False, "schedule: blocked until 06:00", seconds)


def test_windows_follow_the_wall_clock_across_the_change() -> None:
    london = _london()
    settings = ScheduleSettings(default=BLOCK, windows=((window(DAILY, "06:00", "22:00"), ALLOW),))
    schedule = Schedule(settings, random.Random(1))
    assert schedule.decide(dt.datetime(2026, 3, 29, 6, 0, tzinfo=london), 0.0).allowed
    assert not schedule.decide(dt.datetime(2026, 10, 25, 5, 59, tzinfo=london), 0.0).allowed
