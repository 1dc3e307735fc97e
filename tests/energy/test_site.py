"""Main-fuse limit from the site CT: fuse − house − margin, fast down, slow up, fail safe."""

from __future__ import annotations

import math

import pytest

from evnetd.energy.decision import Decision
from evnetd.energy.site import SiteLimiter, SiteSettings


def limiter(**settings: float | None) -> SiteLimiter:
    return SiteLimiter(SiteSettings(**settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("site_a", "own_a", "amps", "reason"),
    [
        (41.2, 10.0, 6.8, "site: fuse 40 A − house 31.2 A − margin 2 A"),
        (10.0, 0.0, 28.0, "site: fuse 40 A − house 10 A − margin 2 A"),
        (26.0, 16.0, 28.0, "site: fuse 40 A − house 10 A − margin 2 A"),  # our own current is not house load
        (32.0, 0.0, 6.0, "site: fuse 40 A − house 32 A − margin 2 A"),  # exactly 6 A is offered
        (0.0, 0.0, 38.0, "site: fuse 40 A − house 0 A − margin 2 A"),
        # Export makes no room above the fuse: PV can vanish faster than the EV follows.
        (-15.0, 5.0, 38.0, "site: fuse 40 A − house -20 A − margin 2 A"),
        (32.1, 0.0, None, "site: fuse 40 A − house 32.1 A − margin 2 A = 5.9 A < 6 A: pause"),
        (50.0, 10.0, None, "site: fuse 40 A − house 40 A − margin 2 A = -2 A < 6 A: pause"),
    ],
)
def test_fuse_minus_house_minus_margin(site_a: float, own_a: float, amps: float | None, reason: str) -> None:
    site = limiter()
    site.observe(0.0, site_a, own_a)
    decision = site.decide(0.0)
    assert (decision.amps, decision.reason, decision.source) == (
        pytest.approx(amps) if amps is not None else None,
        reason,
        "site",
    )


def test_other_fuse_and_margin() -> None:
    site = limiter(main_fuse_a=63.0, margin_a=5.0)
    site.observe(0.0, 20.0, 0.0)
    assert site.decide(0.0).amps == 38.0


@pytest.mark.parametrize(
    ("readings", "at", "amps"),
    [
        # A rise lowers the limit on the reading that shows it.
        ([(0.0, 10.0), (1.0, 20.0)], 1.0, 18.0),
        ([(0.0, 10.0), (1.0, 35.0)], 1.0, None),
        # A fall raises it only once the lower load has held raise_delay_s (5 s).
        ([(0.0, 20.0), (1.0, 10.0)], 1.0, 18.0),
        ([(0.0, 20.0), (1.0, 10.0), (2.0, 10.0), (5.0, 10.0)], 5.999, 18.0),
        ([(0.0, 20.0), (1.0, 10.0), (2.0, 10.0), (5.0, 10.0)], 6.0, 28.0),
        # A partial fall: the highest load of the last 5 s counts.
        ([(0.0, 30.0), (1.0, 20.0), (3.0, 10.0)], 5.999, 8.0),
        ([(0.0, 30.0), (1.0, 20.0), (3.0, 10.0)], 6.0, 18.0),
        ([(0.0, 30.0), (1.0, 20.0), (3.0, 10.0)], 8.0, 28.0),
        # A rise during the wait counts at once and restarts it.
        ([(0.0, 20.0), (1.0, 10.0), (3.0, 25.0), (4.0, 10.0)], 6.0, 13.0),
        ([(0.0, 20.0), (1.0, 10.0), (3.0, 25.0), (4.0, 10.0)], 9.0, 28.0),
    ],
)
def test_fast_decrease_delayed_raise(readings: list[tuple[float, float]], at: float, amps: float | None) -> None:
    site = limiter()
    for now, house in readings:
        site.observe(now, house, 0.0)
    assert site.decide(at).amps == amps


def test_no_delay_raises_at_once() -> None:
    site = limiter(raise_delay_s=0.0)
    site.observe(0.0, 20.0, 0.0)
    site.observe(1.0, 10.0, 0.0)
    assert site.decide(1.0).amps == 28.0


def test_a_cycling_load_does_not_make_the_limit_hunt() -> None:
    """A heater switching 10 A on and off every 2 s: the limit stays at its low value."""
    site = limiter()
    limits = set()
    for second in range(120):
        site.observe(float(second), 20.0 if second // 2 % 2 == 0 else 10.0, 0.0)
        limits.add(site.decide(float(second)).amps)
    assert limits == {18.0}


def test_next_change_is_the_raise_or_the_staleness() -> None:
    site = limiter()
    site.observe(0.0, 20.0, 0.0)
    assert site.decide(0.0).next_change == 10.0  # no pending raise: stale at 10 s
    site.observe(1.0, 10.0, 0.0)
    assert site.decide(1.0).next_change == 6.0  # the 20 A reading ended at 1 s
    assert site.decide(6.0) == Decision(28.0, "site: fuse 40 A − house 10 A − margin 2 A", "site", 11.0)


@pytest.mark.parametrize(
    ("safe", "readings", "at", "expected"),
    [
        (6.0, [], 0.0, Decision(6.0, "site: no CT reading yet: safe 6 A", "fallback")),
        (None, [], 0.0, Decision(None, "site: no CT reading yet: pause", "fallback")),
        (0.0, [], 0.0, Decision(None, "site: no CT reading yet: pause", "fallback")),
        (10.0, [0.0], 9.999, None),  # still fresh
        (10.0, [0.0], 10.0, Decision(10.0, "site: no CT reading for 10 s: safe 10 A", "fallback")),
        (None, [0.0, 5.0], 15.5, Decision(None, "site: no CT reading for 11 s: pause", "fallback")),
        (6.0, [0.0, 5.0], 14.9, None),
        (6.0, [0.0, 30.0], 30.0, None),  # readings are back
    ],
)
def test_stale_readings_fall_back(
    safe: float | None, readings: list[float], at: float, expected: Decision | None
) -> None:
    site = limiter(safe_current_a=safe)
    for now in readings:
        site.observe(now, 10.0, 0.0)
    decision = site.decide(at)
    if expected is None:
        assert (decision.amps, decision.source) == (28.0, "site")
    else:
        assert decision == expected


def test_readings_that_are_not_numbers_are_ignored() -> None:
    site = limiter()
    site.observe(0.0, 10.0, 0.0)
    for second in range(1, 12):
        site.observe(float(second), math.nan, 0.0)
        site.observe(float(second), 10.0, math.inf)
    assert site.decide(11.0).source == "fallback"


@pytest.mark.parametrize(
    "settings",
    [
        {"main_fuse_a": 0.0},
        {"main_fuse_a": math.inf},
        {"margin_a": -1.0},
        {"margin_a": 40.0},
        {"stale_after_s": 0.0},
        {"safe_current_a": -1.0},
        {"safe_current_a": math.nan},
        {"raise_delay_s": -0.1},
    ],
)
def test_settings_are_checked(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        SiteSettings(**settings)
