"""Solar surplus: start and stop timers, minimum on/off, hysteresis, no chatter, staleness."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import pytest

from evnetd.energy.decision import Decision
from evnetd.energy.solar import SolarController, SolarMode, SolarSettings

SOLAR, SOLAR_MIN, OFF = SolarMode.SOLAR, SolarMode.SOLAR_MIN, SolarMode.OFF


def controller(mode: SolarMode = SOLAR, /, **settings: float) -> SolarController:
    """No averaging unless asked, so the thresholds are exact."""
    return SolarController(SolarSettings(mode=mode, **{"smoothing_s": 0.0, **settings}))


def feed(solar: SolarController, surplus: Callable[[float], float], start: float, end: float) -> list[float]:
    """Readings every second in [start, end), surplus(t) from export alone; returns the
    times at which ``running`` changed to True (decide called after every reading)."""
    starts = []
    now = start
    while now < end:
        was = solar.running
        solar.observe(now, -surplus(now), 0.0)
        solar.decide(now)
        if solar.running and not was:
            starts.append(now)
        now += 1.0
    return starts


def steady(amps: float) -> Callable[[float], float]:
    return lambda _: amps


def test_off_sets_no_cap() -> None:
    solar = controller(OFF)
    solar.observe(0.0, -20.0, 0.0)
    assert solar.decide(0.0) == Decision(math.inf, "solar: off", "none")
    assert not solar.running


def test_surplus_counts_our_own_current() -> None:
    solar = controller(SOLAR_MIN)
    solar.observe(0.0, -2.0, 10.0)  # exporting 2 A while we draw 10 A: 12 A of surplus
    assert solar.decide(0.0).amps == 12.0


@pytest.mark.parametrize(
    ("at", "running", "amps"),
    [
        (59.0, False, None),
        (59.999, False, None),
        (60.0, True, 8.0),  # exactly start_delay_s after the first reading of 8 A
        (61.0, True, 8.0),
    ],
)
def test_start_after_exactly_the_start_delay(at: float, running: bool, amps: float | None) -> None:
    solar = controller()
    feed(solar, steady(8.0), 0.0, 60.0)  # readings at 0 … 59 s
    decision = solar.decide(at)
    assert (solar.running, decision.amps) == (running, amps)


@pytest.mark.parametrize(
    ("surplus", "starts"),
    [
        (steady(6.0), [60.0]),  # the threshold itself starts
        (steady(5.99), []),
        # A break resets the start timer.
        (lambda t: 4.0 if t == 30.0 else 8.0, [91.0]),
    ],
)
def test_start_timer(surplus: Callable[[float], float], starts: list[float]) -> None:
    assert feed(controller(), surplus, 0.0, 200.0) == starts


def test_start_threshold_above_6_a() -> None:
    assert feed(controller(start_surplus_a=7.0), steady(6.5), 0.0, 200.0) == []
    assert feed(controller(start_surplus_a=7.0), steady(7.0), 0.0, 200.0) == [60.0]


@pytest.mark.parametrize(
    ("surplus", "amps"),
    [(12.3, 12.3), (6.0, 6.0), (5.0, 6.0), (0.0, 6.0), (-3.0, 6.0)],  # a dip imports up to 6 A
)
def test_running_offers_the_surplus_and_at_least_6_a(surplus: float, amps: float) -> None:
    solar = controller()
    feed(solar, steady(10.0), 0.0, 61.0)
    solar.observe(61.0, -surplus, 0.0)
    assert solar.decide(61.0).amps == amps


def _run_then_drop(solar: SolarController, drop_at: float, low: float = 3.0) -> list[float]:
    """Surplus 10 A from 0 s (start at 60 s), ``low`` from ``drop_at``; returns when it stopped."""
    stops = []
    now = 0.0
    while now < 2000.0:
        was = solar.running
        solar.observe(now, -(10.0 if now < drop_at else low), 0.0)
        solar.decide(now)
        if was and not solar.running:
            stops.append(now)
        now += 1.0
    return stops


@pytest.mark.parametrize(
    ("settings", "drop_at", "low", "stops"),
    [
        ({}, 400.0, 3.0, [700.0]),  # stop_delay_s (300 s) after the first low reading
        ({"stop_delay_s": 120.0}, 400.0, 3.0, [520.0]),
        ({}, 100.0, 3.0, [400.0]),  # started at 60 s: min_on_s (300 s) is over by then
        ({"stop_delay_s": 10.0}, 100.0, 3.0, [360.0]),  # min_on_s holds it until 60 + 300
        ({"min_on_s": 600.0, "stop_delay_s": 10.0}, 100.0, 3.0, [660.0]),
        ({}, 400.0, 5.99, [700.0]),  # just below 6 A stops
        ({}, 400.0, 6.0, []),  # 6 A does not
        # Import allowance: the stop timer starts only below 6 − 2 = 4 A (hysteresis).
        ({"import_allowance_a": 2.0}, 400.0, 4.0, []),
        ({"import_allowance_a": 2.0}, 400.0, 3.9, [700.0]),
    ],
)
def test_stop_timer_and_minimum_run_time(
    settings: dict[str, float], drop_at: float, low: float, stops: list[float]
) -> None:
    assert _run_then_drop(controller(**settings), drop_at, low) == stops


def test_a_surplus_back_in_time_cancels_the_stop() -> None:
    solar = controller()
    feed(solar, lambda t: 3.0 if 400.0 <= t < 690.0 else 10.0, 0.0, 1500.0)
    assert solar.running


@pytest.mark.parametrize(
    ("settings", "restart"),
    [
        ({}, 1000.0),  # stopped at 700 s: off at least 300 s although 8 A has held since 701 s
        ({"min_off_s": 0.0}, 761.0),  # only the start delay, from the first 8 A at 701 s
        ({"min_off_s": 30.0}, 761.0),
    ],
)
def test_minimum_off_time(settings: dict[str, float], restart: float) -> None:
    solar = controller(**settings)
    starts = feed(solar, lambda t: 3.0 if 400.0 <= t <= 700.0 else 8.0, 0.0, 2000.0)
    assert starts == [60.0, restart]


def test_reasons_say_what_holds_the_charger() -> None:
    solar = controller(min_on_s=600.0, stale_after_s=1000.0)
    solar.observe(0.0, -8.0, 0.0)
    assert solar.decide(0.0).reason == "solar: surplus 8 A, starting in 1 min"
    assert solar.decide(17.5).reason == "solar: surplus 8 A, starting in 43 s"
    solar.observe(60.0, -8.0, 0.0)
    assert solar.decide(60.0).reason == "solar: surplus 8 A"
    solar.observe(61.0, -2.0, 0.0)
    assert solar.decide(61.0).reason == "solar: surplus 2 A, holding 6 A; minimum run time, stopping in 9 min 59 s"
    solar.observe(400.0, -2.0, 0.0)
    assert solar.decide(400.0).reason == "solar: surplus 2 A, holding 6 A; minimum run time, stopping in 4 min 20 s"
    solar.observe(660.0, -9.0, 0.0)
    assert solar.decide(660.0).reason == "solar: surplus 9 A; minimum off time, starting in 5 min"
    solar.observe(950.0, -4.0, 0.0)
    assert solar.decide(961.0).reason == "solar: surplus 4 A < 6 A: paused"
    solar = controller(stale_after_s=1000.0)
    for now, surplus in ((0.0, 8.0), (60.0, 8.0), (100.0, 2.0)):
        solar.observe(now, -surplus, 0.0)
    assert solar.decide(100.0).reason == "solar: surplus 2 A, holding 6 A; stopping in 5 min"


def test_no_chatter_when_the_surplus_swings_around_6_a_every_30_s() -> None:
    """15 s at 8 A, 15 s at 4 A, for two hours (default averaging): from stopped it never
    starts; once running it never stops (the stop timer never runs 300 s)."""

    def swing(t: float) -> float:
        return 8.0 if t % 30.0 < 15.0 else 4.0

    assert feed(SolarController(SolarSettings(mode=SOLAR)), swing, 0.0, 7200.0) == []
    solar = SolarController(SolarSettings(mode=SOLAR))
    starts = feed(solar, lambda t: 10.0 if t < 120.0 else swing(t), 0.0, 7200.0)
    assert len(starts) == 1
    assert solar.running


def test_any_surplus_keeps_starts_apart_by_the_minimum_on_and_off_times() -> None:
    rng = random.Random(3)
    levels = [rng.uniform(0.0, 14.0) for _ in range(400)]  # a new level every 40 s
    solar = SolarController(SolarSettings(mode=SOLAR, start_delay_s=0.0, stop_delay_s=0.0))
    starts = feed(solar, lambda t: levels[int(t // 40)], 0.0, 16000.0)
    assert len(starts) > 10
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 600.0


def test_averaging_rides_through_a_spike_and_follows_a_step() -> None:
    solar = SolarController(SolarSettings(mode=SOLAR_MIN, smoothing_s=5.0))
    solar.observe(0.0, -8.0, 0.0)
    solar.observe(1.0, -20.0, 0.0)
    assert solar.decide(1.0).amps == pytest.approx(8.0 + 12.0 * (1.0 - math.exp(-0.2)))
    for second in range(2, 40):
        solar.observe(float(second), -20.0, 0.0)
    assert solar.decide(39.0).amps == pytest.approx(20.0, abs=0.01)


@pytest.mark.parametrize(
    ("at", "amps", "reason"),
    [
        (0.0, 8.0, "solar-min: surplus 8 A"),
        (1.0, 6.0, "solar-min: surplus 2.5 A + 3.5 A from the grid"),
        (2.0, 6.0, "solar-min: surplus 0 A + 6 A from the grid"),  # importing already
    ],
)
def test_solar_min_takes_at_least_6_a_at_all_times(at: float, amps: float, reason: str) -> None:
    solar = controller(SOLAR_MIN)
    for now, surplus in ((0.0, 8.0), (1.0, 2.5), (2.0, -4.0)):
        solar.observe(now, -surplus, 0.0)
        if now == at:
            assert solar.decide(at) == Decision(amps, reason, "solar", now + 10.0)


def test_solar_min_in_solar_mode_waits_for_the_start() -> None:
    solar = controller(SOLAR_MIN)
    feed(solar, steady(8.0), 0.0, 30.0)
    assert solar.decide(29.0).amps == 8.0
    assert solar.decide(29.0, mode_override=SOLAR).amps is None
    feed(solar, steady(8.0), 30.0, 61.0)
    assert solar.decide(60.0, mode_override=SOLAR).amps == 8.0
    assert solar.decide(60.0, mode_override=OFF).amps == math.inf


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (SOLAR, Decision(None, "solar: no CT reading: pause", "solar")),
        (SOLAR_MIN, Decision(6.0, "solar-min: no CT reading: 6 A from the grid", "solar")),
    ],
)
def test_no_reading_yet(mode: SolarMode, expected: Decision) -> None:
    assert controller(mode).decide(0.0) == expected


def test_stale_readings_stop_and_the_restart_waits() -> None:
    solar = controller()
    feed(solar, steady(10.0), 0.0, 100.0)  # running since 60 s, last reading at 99 s
    assert solar.decide(108.9).amps == 10.0
    assert solar.decide(109.0) == Decision(None, "solar: no CT reading: pause", "solar")
    assert not solar.running
    # Back at 200 s: the start delay runs again, and the minimum off time counts from 109 s.
    assert feed(solar, steady(10.0), 200.0, 600.0) == [409.0]


def test_a_start_due_before_the_readings_went_stale_happened() -> None:
    """Readings up to 55 s: the start (60 s) came before the staleness (65 s), so the stop
    at 65 s is followed by the minimum off time, even though nobody asked until 70 s."""
    solar = controller()
    feed(solar, steady(8.0), 0.0, 56.0)
    assert solar.decide(70.0).amps is None
    assert feed(solar, steady(8.0), 100.0, 500.0) == [365.0]


def test_solar_min_falls_back_to_6_a_when_stale() -> None:
    solar = controller(SOLAR_MIN)
    solar.observe(0.0, -20.0, 0.0)
    assert solar.decide(10.0).amps == 6.0


@pytest.mark.parametrize(
    ("readings", "at", "next_change"),
    [
        ([(0.0, 8.0)], 0.0, 60.0),  # the start
        ([(0.0, 3.0)], 0.0, 1000.0),  # nothing pending but staleness
        ([(0.0, 8.0), (60.0, 8.0), (61.0, 3.0)], 61.0, 361.0),  # the stop
        ([(0.0, 8.0), (60.0, 8.0), (61.0, 3.0), (361.0, 8.0)], 361.0, 661.0),  # minimum off time
    ],
)
def test_next_change_is_the_pending_start_or_stop(
    readings: list[tuple[float, float]], at: float, next_change: float | None
) -> None:
    solar = controller(stale_after_s=1000.0)
    for now, surplus in readings:
        solar.observe(now, -surplus, 0.0)
    assert solar.decide(at).next_change == next_change


def test_next_change_includes_staleness() -> None:
    solar = controller()
    solar.observe(0.0, -8.0, 0.0)
    assert solar.decide(0.0).next_change == 10.0
    assert solar.decide(10.0).next_change is None  # stale: only a reading changes it


def test_a_late_call_applies_the_timer_at_its_deadline() -> None:
    """The start took effect at 60 s even though nobody asked until 200 s: the minimum run
    time counts from 60 s."""
    solar = controller(stale_after_s=1000.0, stop_delay_s=0.0)
    solar.observe(0.0, -8.0, 0.0)
    solar.observe(200.0, -2.0, 0.0)  # brings the start to 60 s, then the low reading
    assert solar.running
    assert solar.decide(359.0).amps == 6.0
    assert solar.decide(360.0).amps is None


def test_mode_can_change_at_run_time() -> None:
    solar = controller(SOLAR_MIN)
    feed(solar, steady(8.0), 0.0, 61.0)
    solar.settings = SolarSettings(mode=SOLAR, smoothing_s=0.0)
    assert solar.running
    assert solar.decide(60.0).amps == 8.0


@pytest.mark.parametrize(
    "settings",
    [
        {"start_surplus_a": 5.0},
        {"start_delay_s": -1.0},
        {"stop_delay_s": math.inf},
        {"import_allowance_a": -0.5},
        {"min_on_s": math.nan},
        {"min_off_s": -1.0},
        {"smoothing_s": -1.0},
        {"stale_after_s": 0.0},
    ],
)
def test_settings_are_checked(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        SolarSettings(**settings)  # type: ignore[arg-type]
