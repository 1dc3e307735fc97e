"""Live updates: the first change goes at once, a burst leaves as one, at most one per interval."""

from __future__ import annotations

import itertools

import pytest

from evnetd.web.coalesce import Coalescer


def test_first_change_after_quiet_goes_after_the_settling_time() -> None:
    c = Coalescer(0.2, settle_s=0.02)
    assert c.changed(10.0) == 0.02


def test_a_burst_is_one_send() -> None:
    c = Coalescer(0.2, settle_s=0.02)
    assert c.changed(10.0) == 0.02
    assert c.changed(10.0) is None
    assert c.changed(10.001) is None


def test_a_change_soon_after_a_send_waits_for_the_interval() -> None:
    c = Coalescer(0.2, settle_s=0.02)
    c.changed(10.0)
    c.sent(10.02)
    assert c.changed(10.05) == pytest.approx(0.17)
    c.sent(10.22)
    assert c.changed(10.5) == 0.02  # quiet for longer than the interval


def test_rate_never_exceeds_one_per_interval() -> None:
    c = Coalescer(0.2, settle_s=0.0)
    sends: list[float] = []
    due: float | None = None
    t = 0.0
    while t < 3.0:  # a change every 10 ms for 3 s
        delay = c.changed(t)
        if delay is not None:
            due = t + delay
        if due is not None and t >= due - 1e-9:
            c.sent(t)
            sends.append(t)
            due = None
        t = round(t + 0.01, 2)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert len(sends) == 15
    assert min(gaps) >= 0.2 - 1e-9
