"""Current ↔ duty: the EVSE table (rounded down) and the EV's reading of it."""

from __future__ import annotations

import math

import pytest

from evnetd.iec61851.duty import current_for_duty, duty_for_current


@pytest.mark.parametrize(
    ("amps", "duty"),
    [
        (-1.0, 1.0),
        (0.0, 1.0),
        (5.99, 1.0),  # below 6 A: X1, nothing offered
        (6.0, 0.100),
        (10.0, 0.166),  # 16.67 % rounded down
        (13.0, 0.216),
        (16.0, 0.266),
        (20.0, 0.333),
        (25.0, 0.416),
        (32.0, 0.533),
        (51.0, 0.850),  # last value of A / 0.6
        (52.0, 0.848),  # first range above 51 A: A / 2.5 + 64
        (63.0, 0.892),
        (80.0, 0.960),
        (100.0, 0.960),  # clamped to 80 A: less than asked, never more
    ],
)
def test_duty_for_current_table(amps: float, duty: float) -> None:
    assert duty_for_current(amps) == duty


@pytest.mark.parametrize(
    ("amps", "resolution", "duty"),
    [
        (32.0, 0.0001, 0.5333),
        (32.0, 0.01, 0.53),
        (10.0, 0.01, 0.16),
        (6.0, 0.01, 0.10),
        (16.0, 0.000001, 0.266666),
    ],
)
def test_duty_rounds_down_to_the_resolution(amps: float, resolution: float, duty: float) -> None:
    assert duty_for_current(amps, resolution) == duty


@pytest.mark.parametrize("resolution", [0.0, -0.001, 0.003, 1.5])
def test_resolution_must_divide_the_period(resolution: float) -> None:
    with pytest.raises(ValueError, match="resolution"):
        duty_for_current(16.0, resolution)


def test_nan_current_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        duty_for_current(math.nan)


@pytest.mark.parametrize(
    ("duty", "amps"),
    [
        (0.0, None),  # F
        (0.05, None),  # 5 %: digital communication
        (0.079, None),  # 7–8 %: error
        (0.08, 6.0),
        (0.0999, 6.0),
        (0.10, 6.0),
        (0.166, 9.96),
        (0.533, 31.98),
        (0.85, 51.0),  # upper edge of d × 0.6
        (0.851, 52.75),  # (85.1 − 64) × 2.5
        (0.96, 80.0),
        (0.965, 80.0),
        (0.97, 80.0),
        (0.971, None),
        (1.0, None),  # X1
    ],
)
def test_current_for_duty_table(duty: float, amps: float | None) -> None:
    got = current_for_duty(duty)
    if amps is None:
        assert got is None
    else:
        assert got == pytest.approx(amps, abs=1e-9)


def test_the_ev_never_reads_more_than_was_meant() -> None:
    """Round trip over 6–80 A in 0.1 A steps: at most what was asked, within one step.

    51–52.75 A is the table's own gap (A / 2.5 + 64 lands at or below 85 %, read as d × 0.6):
    there the EV reads 50.6–51 A.
    """
    for tenth in range(60, 801):
        amps = tenth / 10
        read = current_for_duty(duty_for_current(amps))
        assert read is not None
        floor = 50.6 if 51 < amps < 52.75 else amps - 0.25
        assert floor <= read <= amps, amps
