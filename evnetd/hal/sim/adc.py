"""The meter's ADS131M08, synthesised from the plant's quantities.

Waveforms are made here, in the meter process, from the plant's RMS values: mains with
a little 3rd and 5th harmonic, an EV current with harmonics and a lagging power factor,
noise on every channel. Only the RMS quantities cross the bus; the samples never do.
Blocks are delivered in real time; while the plant says the ADC is silent, no block
comes and ``read_block`` times out as the real DRDY wait would.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Sequence

from evnetd.hal.errors import DeviceTimeoutError
from evnetd.hal.interfaces import SampleAdc, SampleBlock
from evnetd.hal.sim.link import PlantLink

RATE_HZ = 4000.0
BLOCK = 20  # 5 ms: short blocks keep the simulated trip path close to the real one
SILENT_TIMEOUT_S = 0.05
MAX_LAG_S = 0.1
EV_POWER_FACTOR = 0.98
NOISE_ADC_V = 20e-6
_TAU = 2 * math.pi


class SimSampleAdc(SampleAdc):
    channel_count = 8
    rate_hz = RATE_HZ

    def __init__(self, link: PlantLink, gains: Sequence[float], seed: int | None = None) -> None:
        """``gains``: physical unit per ADC volt for channels 0–4 (the default calibration)."""
        self.link = link
        self.gains = tuple(gains)
        self._random = random.Random(seed)
        self._t = time.monotonic()
        self._phase = 0.0
        self._ev_lag = math.acos(EV_POWER_FACTOR)

    async def read_block(self) -> SampleBlock:
        t_end = self._t + BLOCK / RATE_HZ
        delay = t_end - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.link.values["AdcSilent"]:
            await asyncio.sleep(SILENT_TIMEOUT_S)
            self._t = time.monotonic()
            raise DeviceTimeoutError("no DRDY from the ADC for 50 ms")
        now = time.monotonic()
        if now - t_end > MAX_LAG_S:  # the process stalled: the real ADC would have overrun
            self._t = now - BLOCK / RATE_HZ
        block = self._synthesise(self._t)
        self._t += BLOCK / RATE_HZ
        return block

    def _synthesise(self, t0: float) -> SampleBlock:
        v = self.link.values
        vpk = v["GridVoltage"] * math.sqrt(2)
        ipk = v["EvCurrent"] * math.sqrt(2)
        npe = v["NpeVoltage"] * math.sqrt(2)
        site = (v["SiteCurrent"] - v["SolarCurrent"] + v["EvCurrent"]) * math.sqrt(2)
        load = v["LoadVoltage"] * math.sqrt(2)
        step = _TAU * v["GridFrequency"] / RATE_HZ
        g = self.gains
        gauss = self._random.gauss
        lag = self._ev_lag
        channels: tuple[list[float], ...] = tuple([] for _ in range(self.channel_count))
        phase = self._phase
        for _ in range(BLOCK):
            s1 = math.sin(phase)
            mains = s1 + 0.02 * math.sin(3 * phase) + 0.01 * math.sin(5 * phase)
            ev = math.sin(phase - lag) + 0.05 * math.sin(3 * (phase - lag))
            channels[0].append(vpk * mains / g[0] + gauss(0, NOISE_ADC_V))
            channels[1].append(ipk * ev / g[1] + gauss(0, NOISE_ADC_V))
            channels[2].append(npe * s1 / g[2] + gauss(0, NOISE_ADC_V))
            channels[3].append(site * s1 / g[3] + gauss(0, NOISE_ADC_V))
            channels[4].append(load * mains / g[4] + gauss(0, NOISE_ADC_V))
            for k in range(5, self.channel_count):
                channels[k].append(gauss(0, NOISE_ADC_V))
            phase = (phase + step) % _TAU
        self._phase = phase
        return SampleBlock(t0, RATE_HZ, channels)

    def close(self) -> None:
        """Nothing held."""
