"""CPU cost of the metering/protection hot path: 60 s of samples, target ≥ 100× real time.

Pushes 60 s of pre-generated 8-channel 4 kSPS samples (80-sample blocks, as the ADC
driver delivers them) through Meter, EnergyRegister, the 1 Hz SecondAggregator, the
SiteReporter (signed site current: rises at once, the rest at 1 Hz) and ProtectionCore
(cycle windows and the half-cycle fast path), exactly as the service loop does, and
measures process CPU time.
"""

from __future__ import annotations

import math
import time

from bench._synth import BLOCK, RATE_HZ, Signal, blocks
from evnetd.metering import EnergyRegister, Meter, SecondAggregator, SiteReporter
from evnetd.metering.calibration import DEFAULT_CALIBRATION
from evnetd.metering.halfcycle import HalfCycleRms
from evnetd.protection import ProtectionCore

SECONDS = 60.0
TARGET_REALTIME_FACTOR = 100.0


def _ready_core(t0: float) -> ProtectionCore:
    """A core whose start-up RCD self-test has passed just before the samples start."""
    core = ProtectionCore(now=t0 - 0.1)
    core.observe_rcd(False, t0 - 0.1)
    core.observe_rcd(True, t0 - 0.09)
    core.poll(t0 - 0.06)
    core.observe_rcd(False, t0 - 0.05)
    core.observe_plug(True, t0 - 0.05)
    core.set_offered_current(32.0, t0 - 0.05)
    return core


def run() -> dict[str, object]:
    signal = Signal(
        50.0,
        voltage=((1, 229.0, 0.4), (3, 6.9, 0.4 + math.pi)),
        current=((1, 31.6, 0.3), (3, 4.0, 1.0), (5, 2.0, 0.0), (7, 1.0, 2.0)),
    )
    t0 = 1000.0
    block_list = blocks(signal, SECONDS, noise=True, t0=t0)
    meter = Meter()
    register = EnergyRegister()
    aggregator = SecondAggregator()
    site = SiteReporter()
    core = _ready_core(t0)
    half_cycle = HalfCycleRms(DEFAULT_CALIBRATION, RATE_HZ)
    published = 0
    site_updates = 0
    windows = 0
    events = 0
    start = time.process_time()
    for block in block_list:
        cycles = meter.feed(block)
        now = block.t0 + BLOCK / RATE_HZ
        windows += len(cycles)
        for cycle in cycles:
            register.add(cycle.power_w, cycle.duration)
            if site.observe(cycle, now) is not None:
                site_updates += 1
            if aggregator.push(cycle) is not None:
                published += 1
                site_updates += site.take(now) is not None
        fast = half_cycle.feed(block)
        if fast is not None:
            events += len(core.observe_half_cycle(fast[0], fast[1], now).events)
        decision = core.observe_metering(cycles, now - 1.0 / RATE_HZ, now)
        events += len(decision.events)
    cpu_s = time.process_time() - start
    factor = SECONDS / cpu_s
    return {
        "seconds_of_samples": SECONDS,
        "samples": len(block_list) * BLOCK,
        "blocks": len(block_list),
        "cpu_s": round(cpu_s, 4),
        "cpu_us_per_cycle": round(cpu_s / windows * 1e6, 1),
        "realtime_factor": round(factor, 1),
        "target_realtime_factor": TARGET_REALTIME_FACTOR,
        "energy_wh": round(register.total_wh, 3),
        "publications": published,
        "site_updates": site_updates,
        "protection_events": events,
        "permit_at_end": decision.permit,
        "pass": factor >= TARGET_REALTIME_FACTOR and events == 0 and decision.permit,
    }
