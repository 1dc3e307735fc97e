"""Cycle-by-cycle metering from ADC sample blocks.

The meter cuts the sample stream into windows and reports each as a CycleMeasurement:

* locked: a window runs from one rising zero-crossing of the line voltage to the next, so
  RMS and power are taken over exactly one period whatever the frequency, and the period
  gives the frequency;
* free: without crossings (mains absent, below ``min_peak_v``) windows are a fixed 20 ms,
  so the protection still sees current, N-PE voltage and the loss of mains;
* a locked window that finds no crossing within 1 / ``min_frequency_hz`` ends there and
  the meter goes free; in free mode the first crossing ends the window if it is at least
  ``min_window_s`` long, otherwise the window runs on to the next crossing. Windows are
  never shorter than ``min_window_s``, so a partial cycle can not inflate an RMS value
  into a false over-voltage.

Windows tile time without gaps or overlaps (boundaries fall between samples, the
segment being split on the linear interpolation), so Σ P·duration is the energy of
every sample received. A discontinuity in the sample stream (a block whose ``t0`` is not
where the previous block ended, within ``gap_tolerance_s``) closes the open window at
the last sample before the gap (dropped if shorter than ``min_window_s``) and restarts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evnetd.hal.interfaces import SampleBlock
from evnetd.metering.calibration import (
    DEFAULT_CALIBRATION,
    METERED_CHANNELS,
    NOMINAL_FREQUENCY_HZ,
    Calibration,
    Channel,
)
from evnetd.metering.cycles import POWER_CURRENTS, CrossingDetector, WindowSums
from evnetd.metering.measurement import CycleMeasurement


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """Window rules; the defaults suit 50 Hz mains sampled at 4 kSPS."""

    min_peak_v: float = 20.0
    """Line voltage below this peak makes no crossings: the mains counts as absent."""
    min_frequency_hz: float = 40.0
    """A cycle longer than 1 / this ends without a crossing and the meter goes free."""
    max_frequency_hz: float = 70.0
    """A crossing sooner than 1 / this after the previous one is ignored as noise."""
    fallback_window_s: float = 0.02
    """Window length when no crossing is found."""
    min_window_s: float = 0.01
    """Shortest window ever reported."""
    gap_tolerance_s: float = 0.005
    """Jitter of block timestamps accepted before a block counts as a discontinuity."""
    min_apparent_va_for_pf: float = 1.0
    """Below this apparent power the power factor is reported as 1.0."""
    min_vrms_for_site_current: float = 50.0
    """Below this line voltage the signed site current is NaN: the supply is gone or
    collapsing (far under the 115 V trip), and P / V would turn a few watts of noise into
    amps that are not there."""

    def __post_init__(self) -> None:
        if not 0.0 < self.min_frequency_hz < self.max_frequency_hz:
            raise ValueError("need 0 < min_frequency_hz < max_frequency_hz")
        if not 0.0 < self.min_window_s <= self.fallback_window_s:
            raise ValueError("need 0 < min_window_s <= fallback_window_s")
        if self.min_peak_v <= 0.0 or self.gap_tolerance_s <= 0.0 or self.min_vrms_for_site_current <= 0.0:
            raise ValueError("min_peak_v, gap_tolerance_s and min_vrms_for_site_current must be positive")


DEFAULT_METER_CONFIG = MeterConfig()


class Meter:
    """Feed it every SampleBlock in order; it returns the windows each block completed."""

    def __init__(
        self,
        calibration: Calibration = DEFAULT_CALIBRATION,
        config: MeterConfig = DEFAULT_METER_CONFIG,
    ) -> None:
        self._cal = calibration
        self._config = config
        self._detector = CrossingDetector(
            zero=calibration.offsets[Channel.LINE_VOLTAGE],
            arm_depth=config.min_peak_v / calibration.gains[Channel.LINE_VOLTAGE],
        )
        self._sums = WindowSums(0.0, 0.0)
        self._rate: float | None = None
        self._next_t0 = 0.0
        self._last_t: float | None = None
        self._tail: list[list[float]] = []
        # Positions are fractional ext indices of the block being processed.
        self._pos = 0.0
        self._win_start = 0.0
        self._last_cross: float | None = None
        self._min_period = 0.0
        self._max_period = 0.0
        self._fallback = 0.0
        self._min_window = 0.0

    @property
    def last_sample_t(self) -> float | None:
        """Monotonic time of the newest sample received (for the ADC-silent watchdog)."""
        return self._last_t

    def feed(self, block: SampleBlock) -> list[CycleMeasurement]:
        """Consume one block (any length); return the windows it completed, oldest first.

        A window ends on the sample after its last one, so a window whose end falls in
        the last sample interval of a block is reported with the next block.
        """
        n = block.length
        if n == 0:
            return []
        if len(block.channels) < METERED_CHANNELS:
            raise ValueError(f"sample block has {len(block.channels)} channels, need 5")
        out: list[CycleMeasurement] = []
        if (
            block.rate_hz != self._rate
            or abs(block.t0 - self._next_t0) > self._config.gap_tolerance_s
        ):
            if self._rate is not None:
                self._close_before_gap(out)
            self._restart(block)
        rate = block.rate_hz
        tail = self._sums.tail
        ext = [self._tail[ch] + list(block.channels[ch]) for ch in range(METERED_CHANNELS)]
        last = tail + n - 1
        crossings = self._detector.find(ext[Channel.LINE_VOLTAGE], tail)
        t_origin = block.t0 - tail / rate  # time of ext index 0
        ci = 0
        while True:
            if self._last_cross is not None:
                deadline = self._last_cross + self._max_period
            else:
                deadline = self._win_start + self._fallback
            if ci < len(crossings) and crossings[ci] <= deadline:
                self._on_crossing(ext, crossings[ci], t_origin, rate, out)
                ci += 1
            elif deadline <= last:
                self._close(ext, deadline, t_origin, rate, None, out)
                self._last_cross = None
            else:
                break
        self._sums.add(ext, self._pos, last)
        self._pos = last - n
        self._win_start -= n
        if self._last_cross is not None:
            self._last_cross -= n
        self._tail = [channel[-tail:] for channel in ext]
        self._next_t0 = block.t0 + n / rate
        self._last_t = block.t0 + (n - 1) / rate
        return out

    def _restart(self, block: SampleBlock) -> None:
        """Start afresh on this block: free mode, empty window, tail = first samples."""
        rate = block.rate_hz
        cfg = self._config
        self._rate = rate
        self._min_period = rate / cfg.max_frequency_hz
        self._max_period = rate / cfg.min_frequency_hz
        self._fallback = cfg.fallback_window_s * rate
        self._min_window = cfg.min_window_s * rate
        delay = self._cal.ev_current_phase_deg / 360.0 * rate / NOMINAL_FREQUENCY_HZ
        self._sums = WindowSums(delay, 2.0 * math.pi * NOMINAL_FREQUENCY_HZ / rate)
        tail = self._sums.tail
        self._tail = [[block.channels[ch][0]] * tail for ch in range(METERED_CHANNELS)]
        self._detector.reset()
        self._pos = float(tail)
        self._win_start = float(tail)
        self._last_cross = None

    def _close_before_gap(self, out: list[CycleMeasurement]) -> None:
        assert self._rate is not None and self._last_t is not None
        if self._sums.width >= self._min_window:
            out.append(self._measure(self._last_t, self._rate, None))

    def _on_crossing(
        self,
        ext: list[list[float]],
        at: float,
        t_origin: float,
        rate: float,
        out: list[CycleMeasurement],
    ) -> None:
        if self._last_cross is not None:
            period = at - self._last_cross
            if period < self._min_period:
                return
            if self._win_start == self._last_cross:
                mean_v = self._close(ext, at, t_origin, rate, rate / period, out)
                # Track the DC of the voltage path so the next crossings are at true zero.
                self._detector.zero = mean_v
            else:
                # The window began before the previous crossing (free mode merged into
                # this cycle): not one period, so no frequency and no DC estimate.
                self._close(ext, at, t_origin, rate, None, out)
        elif at - self._win_start >= self._min_window:
            self._close(ext, at, t_origin, rate, None, out)
        self._last_cross = at

    def _close(
        self,
        ext: list[list[float]],
        at: float,
        t_origin: float,
        rate: float,
        frequency: float | None,
        out: list[CycleMeasurement],
    ) -> float:
        """End the window at ``at``, report it, return its mean line voltage (ADC volts)."""
        self._sums.add(ext, self._pos, at)
        self._pos = at
        mean_v = self._sums.s1[Channel.LINE_VOLTAGE] / self._sums.width
        out.append(self._measure(t_origin + at / rate, rate, frequency))
        self._sums.clear()
        self._win_start = at
        return mean_v

    def _measure(self, t_end: float, rate: float, frequency: float | None) -> CycleMeasurement:
        sums = self._sums
        width = sums.width
        gains = self._cal.gains
        means = [s / width for s in sums.s1]
        rms = [
            math.sqrt(max(sums.s2[ch] / width - means[ch] * means[ch], 0.0)) * abs(gains[ch])
            for ch in range(METERED_CHANNELS)
        ]
        v_mean = means[Channel.LINE_VOLTAGE]
        v_scale = gains[Channel.LINE_VOLTAGE] / sums.delay_gain
        # mean(v·i) minus the product of the DC parts: the offsets drop out of each power
        power, site_power = (
            (sp / width - v_mean * means[current]) * v_scale * gains[current]
            for sp, current in zip(sums.sp, POWER_CURRENTS, strict=True)
        )
        vrms = rms[Channel.LINE_VOLTAGE]
        irms = rms[Channel.EV_CURRENT]
        apparent = vrms * irms
        meaningful = apparent >= self._config.min_apparent_va_for_pf
        pf = max(-1.0, min(1.0, power / apparent)) if meaningful else 1.0
        return CycleMeasurement(
            t_end=t_end,
            duration=width / rate,
            vrms=vrms,
            irms=irms,
            power_w=power,
            apparent_va=apparent,
            power_factor=pf,
            frequency_hz=frequency,
            npe_vrms=rms[Channel.N_PE_VOLTAGE],
            site_irms=rms[Channel.SITE_CURRENT],
            load_vrms=rms[Channel.LOAD_VOLTAGE],
            site_power_w=site_power,
            site_active_current=site_power / vrms if vrms >= self._config.min_vrms_for_site_current else math.nan,
        )
