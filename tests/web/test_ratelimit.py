"""Login rate limiting per client address, on a fake clock."""

from __future__ import annotations

import pytest

from evnetd.web.ratelimit import MAX_TRACKED, LoginLimiter


def test_allowed_until_the_limit_then_refused_until_the_oldest_failure_leaves() -> None:
    limiter = LoginLimiter(attempts=3, window_s=300)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("a", t) == 0
        limiter.failed("a", t)
    assert limiter.retry_after("a", 20.0) == pytest.approx(280.0)
    assert limiter.retry_after("a", 299.9) == pytest.approx(0.1)
    assert limiter.retry_after("a", 300.0) == 0  # the failure at 0 s has left the window


@pytest.mark.parametrize(
    ("failures", "now", "wait"),
    [
        ([], 0.0, 0.0),
        ([0.0, 1.0], 2.0, 0.0),  # below the limit
        ([0.0, 1.0, 2.0], 2.0, 298.0),
        ([0.0, 100.0, 200.0, 250.0], 250.0, 150.0),  # four failures: the second-oldest decides
        ([0.0, 1.0, 2.0], 301.5, 0.0),  # two left the window
    ],
)
def test_retry_after(failures: list[float], now: float, wait: float) -> None:
    limiter = LoginLimiter(attempts=3, window_s=300)
    for t in failures:
        limiter.failed("a", t)
    assert limiter.retry_after("a", now) == pytest.approx(wait)


def test_addresses_are_counted_apart_and_success_forgets() -> None:
    limiter = LoginLimiter(attempts=2, window_s=60)
    limiter.failed("a", 0.0)
    limiter.failed("a", 1.0)
    assert limiter.retry_after("a", 2.0) > 0
    assert limiter.retry_after("b", 2.0) == 0
    limiter.failed("b", 2.0)
    limiter.succeeded("b")
    limiter.failed("b", 3.0)
    assert limiter.retry_after("b", 3.0) == 0  # one failure since the success


def test_memory_is_bounded_forgetting_the_stalest_address() -> None:
    limiter = LoginLimiter(attempts=1, window_s=1000)
    limiter.failed("first", 0.0)
    for n in range(MAX_TRACKED):
        limiter.failed(f"client-{n}", 1.0)
    assert limiter.retry_after("first", 2.0) == 0
    assert limiter.retry_after(f"client-{MAX_TRACKED - 1}", 2.0) > 0
