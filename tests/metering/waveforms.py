"""Synthetic ADC sample blocks with exactly known RMS values and power."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from evnetd.hal.interfaces import SampleBlock
from evnetd.metering.calibration import DEFAULT_CALIBRATION, Calibration, Channel

Harmonic = tuple[int, float, float]  # order, RMS value, phase (radians)


@dataclass(frozen=True)
class Wave:
    harmonics: tuple[Harmonic, ...] = ()
    dc: float = 0.0

    @property
    def rms(self) -> float:
        """RMS of the AC part (what the meter reports: it removes DC)."""
        return math.sqrt(sum(r * r for _, r, _ in self.harmonics))

    def at(self, f: float, t: float) -> float:
        w = 2.0 * math.pi * f * t
        return self.dc + sum(
            r * math.sqrt(2.0) * math.sin(h * w + p) for h, r, p in self.harmonics
        )


def sine(rms: float, phase_deg: float = 0.0) -> Wave:
    return Wave(((1, rms, math.radians(phase_deg)),))


def active_power(v: Wave, i: Wave) -> float:
    """Mean of v·i: only harmonics of the same order contribute."""
    return sum(
        vr * ir * math.cos(vp - ip)
        for vh, vr, vp in v.harmonics
        for ih, ir, ip in i.harmonics
        if vh == ih
    )


MAINS = sine(230.0)
NOTHING = Wave()


def blocks(
    *,
    f: float = 50.0,
    v: Wave = MAINS,
    i: Wave = NOTHING,
    npe: Wave = NOTHING,
    site: Wave = NOTHING,
    load: Wave | None = None,
    seconds: float = 1.0,
    rate: float = 4000.0,
    size: int = 80,
    t0: float = 100.0,
    calibration: Calibration = DEFAULT_CALIBRATION,
    noise_adc: float = 0.0,
    current_lag_s: float = 0.0,
    site_lag_s: float = 0.0,
    seed: int = 1,
) -> list[SampleBlock]:
    """Blocks of ``size`` samples; ``current_lag_s`` delays the EV current path,
    ``site_lag_s`` the site CT's."""
    rng = random.Random(seed)
    n = round(seconds * rate)
    sources = (
        (Channel.LINE_VOLTAGE, v, 0.0),
        (Channel.EV_CURRENT, i, current_lag_s),
        (Channel.N_PE_VOLTAGE, npe, 0.0),
        (Channel.SITE_CURRENT, site, site_lag_s),
        (Channel.LOAD_VOLTAGE, v if load is None else load, 0.0),
    )
    channels: list[list[float]] = []
    for channel, wave, lag in sources:
        channels.append(
            [
                calibration.adc_volts(channel, wave.at(f, k / rate - lag))
                + (rng.gauss(0.0, noise_adc) if noise_adc else 0.0)
                for k in range(n)
            ]
        )
    channels += [[0.0] * n for _ in range(3)]
    return [
        SampleBlock(t0 + s / rate, rate, tuple(ch[s : s + size] for ch in channels))
        for s in range(0, n, size)
    ]
