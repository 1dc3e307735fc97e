"""The two sample-level pieces of the meter: zero-crossing detection and window sums.

Both work on one channel list per ADC channel, extended in front with the last samples of
the previous block (the "tail"), so a crossing or a delayed sample that straddles two
blocks needs no special case. Indices into those lists are called *ext* indices.

Speed matters (pure Python on a CM4 at 4 kSPS × 5 channels): the per-sample Python loop
is only the crossing search on channel 0; every sum runs in C through ``sum`` and
``map(operator.mul, ...)`` over slices.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence
from operator import mul

from evnetd.metering.calibration import METERED_CHANNELS, Channel


class CrossingDetector:
    """Rising zero-crossings of the line voltage, with hysteresis and interpolation.

    A crossing counts only after the signal has been below ``zero - arm_depth`` since the
    previous one, so noise and harmonics around zero cannot make a second crossing, and a
    signal smaller than ``arm_depth`` (mains absent) makes none. The crossing instant is
    interpolated linearly between the two samples around the zero level.
    """

    def __init__(self, zero: float, arm_depth: float) -> None:
        self.zero = zero
        """Zero level in ADC volts: the calibration offset at first, then each cycle's DC."""
        self._arm_depth = arm_depth
        self._armed = False

    def reset(self) -> None:
        self._armed = False

    def find(self, ext: Sequence[float], start: int) -> list[float]:
        """Crossings among ``ext[start:]`` as fractional ext indices (> start - 1)."""
        zero = self.zero
        arm = zero - self._arm_depth
        armed = self._armed
        found: list[float] = []
        prev = ext[start - 1]
        index = start
        for x in ext[start:]:
            if armed:
                if x >= zero:
                    # armed implies prev < zero, so x - prev > 0
                    found.append(index - 1 + (zero - prev) / (x - prev))
                    armed = False
            elif x < arm:
                armed = True
            prev = x
            index += 1
        self._armed = armed
        return found


POWER_CURRENTS = (Channel.EV_CURRENT, Channel.SITE_CURRENT)
"""Current channels whose product with the line voltage is summed: the EV's active power,
and the site's, whose sign tells import from export."""


class WindowSums:
    """Trapezoidal integrals over one window of Σx, Σx² per channel and Σ v·i per current.

    Positions are fractional ext indices; a window may start and end between samples
    (at an interpolated crossing), the partial segment being integrated on the linear
    interpolation. Each product uses a delayed copy of one of its two channels to undo the
    CT's phase lag: ``delay`` samples = ``whole + frac``, the voltage delayed when it is
    positive, the current when negative. ``sp[k]`` is the product of the voltage and
    ``POWER_CURRENTS[k]``. All sums are in ADC volts and sample periods; calibration is
    applied by the caller.
    """

    def __init__(self, delay_samples: float, nominal_radians_per_sample: float) -> None:
        voltage = Channel.LINE_VOLTAGE
        self.pairs = tuple(
            (voltage, current) if delay_samples >= 0.0 else (current, voltage) for current in POWER_CURRENTS
        )
        """(delayed, other) channels of each product, in the order of POWER_CURRENTS."""
        self.whole = int(abs(delay_samples))
        self.frac = abs(delay_samples) - self.whole
        self.delay_gain = abs(
            (1.0 - self.frac) + self.frac * cmath.exp(-1j * nominal_radians_per_sample)
        )
        """Amplitude linear interpolation keeps at the nominal frequency (0.9992 for half
        a sample at 80 samples a cycle): the caller divides the product by it."""
        self.tail = self.whole + 2
        """Samples of history needed in front of a block (delay plus one to interpolate)."""
        self.width = 0.0
        self.s1 = [0.0] * METERED_CHANNELS
        self.s2 = [0.0] * METERED_CHANNELS
        self.sp = [0.0] * len(POWER_CURRENTS)

    def clear(self) -> None:
        self.width = 0.0
        self.s1 = [0.0] * METERED_CHANNELS
        self.s2 = [0.0] * METERED_CHANNELS
        self.sp = [0.0] * len(POWER_CURRENTS)

    def add(self, ext: Sequence[Sequence[float]], a: float, b: float) -> None:
        """Integrate from ext position ``a`` to ``b`` (a ≤ b, both ≥ ``tail - 1``)."""
        ja = math.floor(a)
        ia = math.ceil(a)
        ib = math.floor(b)
        if ia > ib:
            self._add_partial(ext, ja, a - ja, b - ja)
            return
        if ia > a:
            self._add_partial(ext, ja, a - ja, 1.0)
        if ib > ia:
            self._add_full(ext, ia, ib)
        if b > ib:
            self._add_partial(ext, ib, 0.0, b - ib)

    def _delayed_at(self, d: Sequence[float], e: int) -> float:
        frac = self.frac
        return (1.0 - frac) * d[e - self.whole] + frac * d[e - self.whole - 1]

    def _add_full(self, ext: Sequence[Sequence[float]], ia: int, ib: int) -> None:
        """Whole segments between samples ia and ib: Σ x - (x_ia + x_ib) / 2."""
        s1 = self.s1
        s2 = self.s2
        slices = [ext[ch][ia : ib + 1] for ch in range(METERED_CHANNELS)]
        for ch, sl in enumerate(slices):
            first = sl[0]
            last = sl[-1]
            s1[ch] += sum(sl) - 0.5 * (first + last)
            s2[ch] += sum(map(mul, sl, sl)) - 0.5 * (first * first + last * last)
        whole = self.whole
        frac = self.frac
        sp = self.sp
        for k, (delayed, other) in enumerate(self.pairs):
            d = ext[delayed]
            o = ext[other]
            so = slices[other]
            # no whole-sample delay (the usual case): the delayed slice is the one above
            now = slices[delayed] if whole == 0 else d[ia - whole : ib - whole + 1]
            total = sum(map(mul, now, so))
            if frac:
                later = sum(map(mul, d[ia - whole - 1 : ib - whole], so))
                total = (1.0 - frac) * total + frac * later
            ends = self._delayed_at(d, ia) * o[ia] + self._delayed_at(d, ib) * o[ib]
            sp[k] += total - 0.5 * ends
        self.width += ib - ia

    def _add_partial(self, ext: Sequence[Sequence[float]], j: int, fa: float, fb: float) -> None:
        """Part [j + fa, j + fb] of the segment from sample j to j + 1 (0 ≤ fa < fb ≤ 1)."""
        h = fb - fa
        half = 0.5 * h
        s1 = self.s1
        s2 = self.s2
        for ch in range(METERED_CHANNELS):
            x = ext[ch]
            x0 = x[j]
            step = x[j + 1] - x0
            xa = x0 + fa * step
            xb = x0 + fb * step
            s1[ch] += half * (xa + xb)
            s2[ch] += half * (xa * xa + xb * xb)
        sp = self.sp
        for k, (delayed, other) in enumerate(self.pairs):
            d = ext[delayed]
            o = ext[other]
            d0 = self._delayed_at(d, j)
            d_step = self._delayed_at(d, j + 1) - d0
            o0 = o[j]
            o_step = o[j + 1] - o0
            sp[k] += half * (
                (d0 + fa * d_step) * (o0 + fa * o_step) + (d0 + fb * d_step) * (o0 + fb * o_step)
            )
        self.width += h
