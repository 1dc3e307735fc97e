"""Half-cycle RMS: exact for a sine wherever the window starts; follows a jump quickly."""

from __future__ import annotations

import math

import pytest

from evnetd.hal.interfaces import SampleBlock
from evnetd.metering.calibration import DEFAULT_CALIBRATION, Channel
from evnetd.metering.halfcycle import HalfCycleRms

RATE = 4000.0


def block(t0: float, n: int, vrms: float, npe: float, f: float = 50.0) -> SampleBlock:
    gain_v = DEFAULT_CALIBRATION.gains[Channel.LINE_VOLTAGE]
    gain_n = DEFAULT_CALIBRATION.gains[Channel.N_PE_VOLTAGE]
    times = [t0 + i / RATE for i in range(n)]
    line = [vrms * math.sqrt(2) * math.sin(2 * math.pi * f * t) / gain_v for t in times]
    neutral = [npe * math.sqrt(2) * math.sin(2 * math.pi * f * t) / gain_n for t in times]
    zeros = [0.0] * n
    return SampleBlock(t0, RATE, (line, zeros, neutral, zeros, zeros, zeros, zeros, zeros))


@pytest.mark.parametrize("start", [0.0, 0.0013, 0.0071])
def test_exact_for_a_sine_at_any_phase(start: float) -> None:
    rms = HalfCycleRms(DEFAULT_CALIBRATION, RATE)
    assert rms.feed(block(start, 20, 230.0, 5.0)) is None  # not full yet
    result = rms.feed(block(start + 20 / RATE, 20, 230.0, 5.0))
    assert result is not None
    assert result[0] == pytest.approx(230.0, rel=1e-9)
    assert result[1] == pytest.approx(5.0, rel=1e-9)


@pytest.mark.parametrize("frequency", [49.0, 51.0])
def test_off_nominal_frequency_within_one_percent(frequency: float) -> None:
    rms = HalfCycleRms(DEFAULT_CALIBRATION, RATE)
    worst = 0.0
    for k in range(40):
        result = rms.feed(block(k * 20 / RATE, 20, 230.0, 0.0, frequency))
        if result:
            worst = max(worst, abs(result[0] - 230.0) / 230.0)
    assert worst < 0.011  # the window is 10 ms, the half period 9.8–10.2 ms


def test_jump_to_overvoltage_is_seen_within_a_block_or_two() -> None:
    rms = HalfCycleRms(DEFAULT_CALIBRATION, RATE)
    for k in range(4):
        rms.feed(block(k * 0.005, 20, 230.0, 1.0))
    seen = [rms.feed(block((4 + k) * 0.005, 20, 320.0, 1.0)) for k in range(2)]
    assert seen[0] is not None and 230.0 < seen[0][0] < 320.0  # half the window is new
    assert seen[1] is not None and seen[1][0] == pytest.approx(320.0, rel=1e-6)
