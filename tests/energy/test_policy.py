"""The combination rules, one table row per rule of the policy module's table."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from evnetd.energy.decision import Decision
from evnetd.energy.policy import Inputs, combine, solar_mode_for
from evnetd.energy.schedule import Schedule, ScheduleSettings, ScheduleState
from evnetd.energy.site import SiteLimiter, SiteSettings
from evnetd.energy.solar import SolarController, SolarMode, SolarSettings

OFF, SOLAR, SOLAR_MIN = SolarMode.OFF, SolarMode.SOLAR, SolarMode.SOLAR_MIN

SITE_20 = Decision(20.0, "site: 20", "site")
SITE_10 = Decision(10.0, "site: 10", "site")
SITE_PAUSE = Decision(None, "site: pause", "site")
SOLAR_8 = Decision(8.0, "solar: 8", "solar")
SOLAR_10 = Decision(10.0, "solar: 10", "solar")
SOLAR_PAUSE = Decision(None, "solar: paused", "solar")
NO_SOLAR = Decision(math.inf, "solar: off", "none")
ALLOWED = ScheduleState(True, False, "schedule: allowed", None)
BLOCKED = ScheduleState(False, False, "schedule: blocked until 22:00", None)
CHEAP = ScheduleState(True, True, "schedule: cheap period until 04:30", None)
BLOCKED_CHEAP = ScheduleState(False, True, "schedule: blocked until 02:00", None)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # Rule 1, safety first: never above site or sharing; the limiting one is named.
        (Inputs(SITE_10, SOLAR_8, ALLOWED, SOLAR), (8.0, "solar: 8", "solar")),
        (Inputs(SITE_10, Decision(12.0, "solar: 12", "solar"), ALLOWED, SOLAR), (10.0, "site: 10", "site")),
        (
            Inputs(SITE_20, SOLAR_8, ALLOWED, SOLAR, Decision(7.0, "sharing: 7", "sharing")),
            (7.0, "sharing: 7", "sharing"),
        ),
        (Inputs(SITE_PAUSE, SOLAR_8, ALLOWED, SOLAR), (None, "site: pause", "site")),
        (
            Inputs(SITE_20, NO_SOLAR, ALLOWED, OFF, Decision(None, "sharing: 0", "sharing")),
            (None, "sharing: 0", "sharing"),
        ),
        (
            Inputs(SITE_20, NO_SOLAR, ALLOWED, OFF, Decision(4.0, "sharing: 4", "sharing")),
            (None, "sharing: 4", "sharing"),
        ),
        (
            Inputs(SITE_20, NO_SOLAR, ALLOWED, OFF, Decision(6.0, "fallback: 6", "fallback")),
            (6.0, "fallback: 6", "fallback"),
        ),
        # ... ties go to the safety source: site, then sharing.
        (Inputs(SITE_10, SOLAR_10, ALLOWED, SOLAR), (10.0, "site: 10", "site")),
        (
            Inputs(SITE_10, SOLAR_10, ALLOWED, SOLAR, Decision(10.0, "sharing: 10", "sharing")),
            (10.0, "site: 10", "site"),
        ),
        (
            Inputs(SITE_20, SOLAR_10, ALLOWED, SOLAR, Decision(10.0, "sharing: 10", "sharing")),
            (10.0, "sharing: 10", "sharing"),
        ),
        (Inputs(SITE_PAUSE, SOLAR_PAUSE, ALLOWED, SOLAR), (None, "site: pause", "site")),
        (Inputs(SITE_PAUSE, NO_SOLAR, BLOCKED, OFF), (None, "site: pause", "site")),
        # Rule 2: blocked without a solar mode pauses, in the schedule's words.
        (Inputs(SITE_20, NO_SOLAR, BLOCKED, OFF), (None, "schedule: blocked until 22:00", "schedule")),
        # Rule 3: blocked with a solar mode still charges from the surplus (the controller
        # was asked in "solar" mode for solar-min: solar_mode_for).
        (Inputs(SITE_20, SOLAR_8, BLOCKED, SOLAR), (8.0, "solar: 8; schedule: blocked until 22:00", "solar")),
        (Inputs(SITE_20, SOLAR_8, BLOCKED, SOLAR_MIN), (8.0, "solar: 8; schedule: blocked until 22:00", "solar")),
        (
            Inputs(SITE_20, SOLAR_PAUSE, BLOCKED, SOLAR_MIN),
            (None, "solar: paused; schedule: blocked until 22:00", "solar"),
        ),
        (Inputs(SITE_10, SOLAR_10, BLOCKED, SOLAR), (10.0, "site: 10", "site")),
        # ... a blocking window wins over a cheap period inside it.
        (
            Inputs(SITE_20, SOLAR_PAUSE, BLOCKED_CHEAP, SOLAR),
            (None, "solar: paused; schedule: blocked until 02:00", "solar"),
        ),
        (Inputs(SITE_20, NO_SOLAR, BLOCKED_CHEAP, OFF), (None, "schedule: blocked until 02:00", "schedule")),
        # Rule 4: a cheap period with a solar mode lifts the solar cap; the site still caps.
        (Inputs(SITE_20, SOLAR_PAUSE, CHEAP, SOLAR), (20.0, "site: 20", "site")),
        (Inputs(SITE_20, Decision(6.0, "solar-min: 6", "solar"), CHEAP, SOLAR_MIN), (20.0, "site: 20", "site")),
        (Inputs(SITE_20, NO_SOLAR, CHEAP, OFF), (20.0, "site: 20", "site")),  # cheap_only: allowed in the period
        (
            Inputs(SITE_20, SOLAR_PAUSE, CHEAP, SOLAR, Decision(12.0, "sharing: 12", "sharing")),
            (12.0, "sharing: 12", "sharing"),
        ),
        # Rule 5: otherwise solar decides under the caps.
        (Inputs(SITE_20, SOLAR_PAUSE, ALLOWED, SOLAR), (None, "solar: paused", "solar")),
        (Inputs(SITE_20, Decision(6.0, "solar-min: 6", "solar"), ALLOWED, SOLAR_MIN), (6.0, "solar-min: 6", "solar")),
        (Inputs(SITE_20, NO_SOLAR, ALLOWED, OFF), (20.0, "site: 20", "site")),
        # No CT clamp fitted (the service's "no cap" site decision) and nothing else: no cap.
        (Inputs(Decision(math.inf, "no site CT", "none"), NO_SOLAR, ALLOWED, OFF), (math.inf, "no site CT", "none")),
    ],
)
def test_combination_rules(inputs: Inputs, expected: tuple[float | None, str, str]) -> None:
    decision = combine(inputs)
    assert (decision.amps, decision.reason, decision.source) == expected


@pytest.mark.parametrize(
    ("mode", "schedule", "asked"),
    [
        (SOLAR_MIN, BLOCKED, SOLAR),  # no 6 A from the grid while blocked
        (SOLAR_MIN, BLOCKED_CHEAP, SOLAR),
        (SOLAR_MIN, ALLOWED, SOLAR_MIN),
        (SOLAR_MIN, CHEAP, SOLAR_MIN),
        (SOLAR, BLOCKED, SOLAR),
        (OFF, BLOCKED, OFF),
    ],
)
def test_solar_mode_for(mode: SolarMode, schedule: ScheduleState, asked: SolarMode) -> None:
    assert solar_mode_for(mode, schedule) is asked


def test_next_change_is_the_earliest_of_all_inputs() -> None:
    inputs = Inputs(
        site=Decision(20.0, "site", "site", 50.0),
        solar=Decision(8.0, "solar", "solar", 40.0),
        schedule=ScheduleState(True, False, "schedule", 30.0),
        solar_mode=SOLAR,
        sharing=Decision(16.0, "sharing", "sharing", 35.0),
    )
    assert combine(inputs).next_change == 30.0
    assert combine(Inputs(SITE_20, SOLAR_8, ALLOWED, SOLAR)).next_change is None
    assert combine(Inputs(SITE_20, Decision(8.0, "s", "solar", 12.0), ALLOWED, SOLAR)).next_change == 12.0


def _decide(mode: SolarMode, schedule_settings: ScheduleSettings, surplus: float) -> Decision:
    """The service's sequence with the real cores: schedule, solar for its mode, combine."""
    solar = SolarController(SolarSettings(mode=mode, smoothing_s=0.0))
    site = SiteLimiter(SiteSettings())
    solar.observe(0.0, -surplus, 0.0)
    site.observe(0.0, -surplus, 0.0)
    state = Schedule(schedule_settings, random.Random(1)).decide(dt.datetime(2026, 6, 15, 12), 0.0)
    return combine(Inputs(site.decide(0.0), solar.decide(0.0, solar_mode_for(mode, state)), state, mode))


@pytest.mark.parametrize(
    ("mode", "settings", "amps", "source"),
    [
        (SOLAR_MIN, ScheduleSettings(), 6.0, "solar"),  # 6 A from the grid + 2 A of surplus
        (SOLAR_MIN, ScheduleSettings(cheap_only=True), None, "solar"),  # blocked: as "solar", not started
        (SOLAR, ScheduleSettings(), None, "solar"),
        (OFF, ScheduleSettings(cheap_only=True), None, "schedule"),
        (OFF, ScheduleSettings(), 38.0, "site"),
    ],
)
def test_with_the_real_cores(mode: SolarMode, settings: ScheduleSettings, amps: float | None, source: str) -> None:
    decision = _decide(mode, settings, surplus=2.0)
    assert (decision.amps, decision.source) == (amps, source)
