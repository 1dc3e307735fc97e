"""Synthetic ADS131M08 sample blocks of known waveforms, and their exact integrals.

Shared by the metering benchmarks (not a benchmark itself: no ``bench_`` prefix).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from evnetd.hal.interfaces import SampleBlock
from evnetd.metering.calibration import DEFAULT_CALIBRATION, Channel

RATE_HZ = 4000.0
BLOCK = 80
ADC_LSB_V = 1.2 / 2**23
"""24-bit ADC at ±1.2 V full scale."""
ADC_NOISE_V = 20e-6
"""Gaussian input noise, about four times the ADS131M08's figure at 4 kSPS (pessimistic)."""

Harmonic = tuple[int, float, float]  # order, RMS, phase (rad)


@dataclass(frozen=True)
class Signal:
    frequency_hz: float
    voltage: tuple[Harmonic, ...]
    current: tuple[Harmonic, ...]
    npe_rms: float = 2.0

    @staticmethod
    def rms(harmonics: Sequence[Harmonic]) -> float:
        return math.sqrt(sum(r * r for _, r, _ in harmonics))

    def energy_ws(self, t_a: float, t_b: float) -> float:
        """Exact ∫ v·i dt from t_a to t_b (seconds from the first sample)."""
        w = 2.0 * math.pi * self.frequency_hz
        total = 0.0
        for h, vr, vp in self.voltage:
            for k, ir, ip in self.current:
                # 2·sin(a)·sin(b) = cos(a - b) - cos(a + b)
                for order, phase, sign in ((h - k, vp - ip, 1.0), (h + k, vp + ip, -1.0)):
                    if order == 0:
                        part = math.cos(phase) * (t_b - t_a)
                    else:
                        part = (
                            math.sin(order * w * t_b + phase) - math.sin(order * w * t_a + phase)
                        ) / (order * w)
                    total += sign * vr * ir * part
        return total


def _samples(
    harmonics: Sequence[Harmonic], f: float, n: int, gain: float, rng: random.Random | None
) -> list[float]:
    w = 2.0 * math.pi * f / RATE_HZ
    amps = [(h * w, r * math.sqrt(2.0) / gain, p) for h, r, p in harmonics]
    sin = math.sin
    out = [sum(a * sin(hw * k + p) for hw, a, p in amps) for k in range(n)]
    if rng is not None:
        gauss = rng.gauss
        out = [round((x + gauss(0.0, ADC_NOISE_V)) / ADC_LSB_V) * ADC_LSB_V for x in out]
    return out


def blocks(signal: Signal, seconds: float, *, noise: bool, t0: float = 1000.0, seed: int = 7):
    """8-channel blocks of BLOCK samples: ch0/ch4 voltage, ch1 current, ch2 N-PE,
    ch3 site CT (the EV current seen by the clamp), ch5–7 zero."""
    n = round(seconds * RATE_HZ)
    f = signal.frequency_hz
    rng = random.Random(seed) if noise else None
    gains = DEFAULT_CALIBRATION.gains
    v = _samples(signal.voltage, f, n, gains[Channel.LINE_VOLTAGE], rng)
    i = _samples(signal.current, f, n, gains[Channel.EV_CURRENT], rng)
    npe = _samples(((1, signal.npe_rms, 0.0),), f, n, gains[Channel.N_PE_VOLTAGE], rng)
    site = _samples(signal.current, f, n, gains[Channel.SITE_CURRENT], rng)
    zero = [0.0] * n
    channels = (v, i, npe, site, v, zero, zero, zero)
    return [
        SampleBlock(t0 + s / RATE_HZ, RATE_HZ, tuple(ch[s : s + BLOCK] for ch in channels))
        for s in range(0, n, BLOCK)
    ]
