"""How amps and durations are written in the reasons."""

from __future__ import annotations

import pytest

from evnetd.energy.decision import amps_text, duration_text


@pytest.mark.parametrize(
    ("amps", "text"),
    [
        (40.0, "40 A"),
        (31.2, "31.2 A"),
        (31.25, "31.2 A"),
        (6.0, "6 A"),
        (-0.04, "0 A"),
        (-2.0, "-2 A"),
        (0.06, "0.1 A"),
    ],
)
def test_amps_text(amps: float, text: str) -> None:
    assert amps_text(amps) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (0.2, "1 s"),  # a running timer never reads 0 s
        (42.0, "42 s"),
        (59.99999999999, "1 min"),  # a sum of float steps that is really a minute
        (60.0, "1 min"),
        (252.0, "4 min 12 s"),
        (3600.0, "1 h"),
        (3900.0, "1 h 5 min"),
        (-3.0, "0 s"),
    ],
)
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
