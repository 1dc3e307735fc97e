"""The signed site current: measured per cycle from samples, and when it goes on the bus."""

import dataclasses
import itertools
import math

import pytest

from evnetd.hal.sim.adc import SimSampleAdc
from evnetd.hal.sim.link import PlantLink
from evnetd.metering.aggregate import average
from evnetd.metering.calibration import DEFAULT_CALIBRATION, Calibration
from evnetd.metering.measurement import CycleMeasurement
from evnetd.metering.meter import Meter
from evnetd.metering.sitereport import SiteReporter

from .waveforms import NOTHING, Wave, active_power, blocks, sine


def run(block_list, meter=None):
    meter = meter or Meter()
    out = []
    for block in block_list:
        out += meter.feed(block)
    return out


def locked(block_list, meter=None):
    """The windows measured crossing to crossing, after the first (start-up) one."""
    return [c for c in run(block_list, meter)[1:] if c.frequency_hz is not None]


HARMONIC_V = Wave(((1, 229.0, 0.0), (3, 11.0, math.radians(40)), (5, 6.0, 0.0)))
SITE_CASES = {
    # name: (voltage, site CT wave, expected active current)
    "import": (sine(230.0), sine(20.0), 20.0),
    "export": (sine(230.0), sine(25.0, 180.0), -25.0),
    "zero": (sine(230.0), NOTHING, 0.0),
    "inductive-60deg": (sine(230.0), sine(20.0, -60.0), 10.0),
    "capacitive-60deg": (sine(230.0), sine(20.0, 60.0), 10.0),
    "quadrature": (sine(230.0), sine(12.0, -90.0), 0.0),
    "export-lagging": (sine(230.0), sine(10.0, 150.0), -10.0 * math.cos(math.radians(30.0))),
    # only the fundamental of a clean current meets the fundamental of the voltage
    "harmonic-voltage": (HARMONIC_V, sine(16.0), 16.0 * 229.0 / HARMONIC_V.rms),
}


@pytest.mark.parametrize("f", [49.0, 50.0, 51.0])
@pytest.mark.parametrize("case", sorted(SITE_CASES))
def test_signed_site_current_is_active_power_over_voltage(case, f):
    v, site, amps = SITE_CASES[case]
    cycles = locked(blocks(f=f, v=v, i=sine(16.0, -30.0), site=site, seconds=0.4))
    assert len(cycles) >= 15
    for c in cycles:
        assert c.site_power_w == pytest.approx(active_power(v, site), abs=2e-4 * v.rms * max(site.rms, 1.0))
        assert c.site_active_current == pytest.approx(amps, abs=2e-4 * max(site.rms, 1.0))
        assert c.site_irms == pytest.approx(site.rms, rel=2e-4, abs=1e-6)  # the RMS stays unsigned
        # the EV's figures are not disturbed by the second product
        assert c.power_w == pytest.approx(active_power(v, sine(16.0, -30.0)), rel=5e-4)


def test_offsets_drop_out_of_the_site_power():
    cal = Calibration(offsets=(0.01, 0.0, 0.0, -0.004, 0.0))
    cycles = locked(blocks(v=sine(230.0), site=sine(25.0, 180.0), calibration=cal, seconds=0.4), Meter(cal))
    assert all(c.site_active_current == pytest.approx(-25.0, rel=2e-4) for c in cycles)


def test_a_negative_site_gain_turns_a_reversed_clamp_round():
    cal = Calibration(gains=(500.0, 50.0, 500.0, -100.0, 500.0))
    cycles = locked(blocks(v=sine(230.0), site=sine(20.0), calibration=cal, seconds=0.3), Meter(cal))
    assert all(c.site_active_current == pytest.approx(20.0, rel=2e-4) for c in cycles)


@pytest.mark.parametrize("lag_deg", [2.0, -1.5, 8.0, -8.0])
def test_the_ev_phase_correction_applies_to_the_site_product(lag_deg):
    """A clamp lagging like the EV CT: uncorrected the active current is off by more than
    2 %, corrected it is exact (either sign of the correction: voltage or current delayed;
    less than one sample of delay, and more)."""
    lag_s = lag_deg / 360.0 / 50.0
    kwargs = {"v": sine(230.0), "site": sine(20.0, -60.0), "seconds": 0.5, "site_lag_s": lag_s}
    uncorrected = locked(blocks(**kwargs))
    assert abs(uncorrected[-1].site_active_current - 10.0) > 0.2
    corrected = locked(blocks(**kwargs), Meter(Calibration(ev_current_phase_deg=lag_deg)))
    assert all(c.site_active_current == pytest.approx(10.0, rel=5e-4) for c in corrected)


@pytest.mark.parametrize(("volts", "known"), [(0.0, False), (30.0, False), (49.0, False), (51.0, True)])
def test_no_direction_without_voltage(volts, known):
    late = run(blocks(v=sine(volts), site=sine(20.0), seconds=0.3))[3:]
    assert len(late) >= 10
    assert all(math.isnan(c.site_active_current) is not known for c in late)
    if known:
        assert all(c.site_active_current == pytest.approx(20.0, rel=1e-3) for c in late)


def test_the_second_averages_the_signed_values_and_an_unknown_window_spoils_it():
    cycles = locked(blocks(v=sine(230.0), site=sine(10.0), seconds=0.2))
    exported = locked(blocks(v=sine(230.0), site=sine(30.0, 180.0), seconds=0.2))
    mean = average(cycles[:5] + exported[:5])
    assert mean.site_active_current == pytest.approx(-10.0, rel=1e-3)
    assert mean.site_power_w == pytest.approx(-2300.0, rel=1e-3)
    dead = run(blocks(v=NOTHING, site=sine(10.0), seconds=0.1))
    assert dead and math.isnan(average(cycles[:5] + dead).site_active_current)


def _sim_cycles(**plant: float) -> list:
    """Windows the meter makes from the simulated board's ADC with these plant values."""
    link = PlantLink(bus=None)  # type: ignore[arg-type]
    link.values = {"GridVoltage": 230.0, "GridFrequency": 50.0, "EvCurrent": 0.0, "NpeVoltage": 0.5,
                   "LoadVoltage": 0.0, "SiteCurrent": 0.0, "SolarCurrent": 0.0, **plant}  # fmt: skip
    adc = SimSampleAdc(link, DEFAULT_CALIBRATION.gains, seed=3)
    meter = Meter()
    out = []
    t = 50.0
    for _ in range(60):  # 0.3 s
        out += meter.feed(adc._synthesise(t))
        t += 20 / adc.rate_hz
    return [c for c in out[1:] if c.frequency_hz is not None]


@pytest.mark.parametrize(
    ("plant", "amps"),
    [({"SiteCurrent": 20.0}, 20.0), ({"SiteCurrent": 5.0, "SolarCurrent": 30.0}, -25.0),
     ({"SiteCurrent": 5.0, "SolarCurrent": 30.0, "EvCurrent": 16.0}, -9.0), ({}, 0.0)],
)  # fmt: skip
def test_the_simulated_clamp_shows_export_as_negative(plant, amps):
    cycles = _sim_cycles(**plant)
    assert len(cycles) >= 12
    for c in cycles:
        assert c.site_active_current == pytest.approx(amps, abs=0.05)
        assert c.site_power_w == pytest.approx(amps * 230.0, abs=12.0)


# --- when the signed values are published --------------------------------------------


BASE = CycleMeasurement(t_end=0.0, duration=0.02, vrms=230.0, irms=0.0, power_w=0.0, apparent_va=0.0,
                        power_factor=1.0, frequency_hz=50.0, npe_vrms=0.5, site_irms=0.0, load_vrms=230.0)  # fmt: skip


def _window(t, amps):
    return dataclasses.replace(BASE, t_end=t, site_active_current=amps, site_power_w=amps * 230.0)


def replay(steps, reporter=None):
    """Steps: (t, amps) is a window measured at t, (t, None) the 1 Hz update. Returns the
    updates published: (t, "fast" or "1Hz", amps)."""
    reporter = reporter or SiteReporter()
    out = []
    for t, amps in steps:
        if amps is None:
            m = reporter.take(t)
            kind = "1Hz"
        else:
            m = reporter.observe(_window(t, amps), t)
            kind = "fast"
        if m is not None:
            out.append((t, kind, m.site_active_current))
    return out


def _cycles(t0, values):
    return [(round(t0 + 0.02 * k, 3), v) for k, v in enumerate(values)]


NAN = math.nan
REPORT_CASES = {
    "first value goes out at once": (
        [(0.02, 5.0), (0.04, 5.0), (1.0, None)],
        [(0.02, "fast", 5.0), (1.0, "1Hz", 5.0)],
    ),
    "rise of exactly 1 A is published, 0.9 A is not": (
        [(0.0, 5.0), (0.2, 5.9), (0.4, 6.0), (0.6, 6.9)],
        [(0.0, "fast", 5.0), (0.4, "fast", 6.0)],
    ),
    "a fall waits for the 1 Hz update": (
        [(0.0, 20.0), *_cycles(0.5, [4.0] * 5), (1.0, None)],
        [(0.0, "fast", 20.0), (1.0, "1Hz", 4.0)],
    ),
    "export to import is a rise": (
        [(0.0, -25.0), (0.2, -23.5), (0.4, 3.0)],
        [(0.0, "fast", -25.0), (0.2, "fast", -23.5), (0.4, "fast", 3.0)],
    ),
    "the 1 Hz value is the mean since the last fast update, not a half-way figure": (
        [(0.0, 0.0), *_cycles(0.1, [0.0] * 10), *_cycles(0.3, [20.0] * 10), (0.6, None)],
        [(0.0, "fast", 0.0), (0.3, "fast", 20.0), (0.6, "1Hz", 20.0)],
    ),
    "nothing since the last update: the 1 Hz update leaves the values": (
        [(0.0, 3.0), (1.0, None), (2.0, None)],
        [(0.0, "fast", 3.0)],
    ),
    "a rise during the pause goes out with the first window after it": (
        [(0.0, 0.0), (0.02, 5.0), (0.04, 5.0), (0.08, 5.0), (0.10, 5.0), (0.12, 5.0)],
        [(0.0, "fast", 0.0), (0.10, "fast", 5.0)],
    ),
    "the 1 Hz update counts for the pause": (
        [(0.0, 0.0), (0.5, 0.0), (1.0, None), (1.04, 9.0), (1.1, 9.0)],
        [(0.0, "fast", 0.0), (1.0, "1Hz", 0.0), (1.1, "fast", 9.0)],
    ),
    "an unknown window is no rise; known after unknown is": (
        [(0.0, 5.0), (0.2, NAN), (1.0, None), (1.02, NAN), (1.2, 5.0)],
        [(0.0, "fast", 5.0), (1.0, "1Hz", NAN), (1.2, "fast", 5.0)],
    ),
}


@pytest.mark.parametrize("case", sorted(REPORT_CASES))
def test_when_site_values_are_published(case):
    steps, expected = REPORT_CASES[case]
    got = replay(steps)
    assert [(t, kind) for t, kind, _ in got] == [(t, kind) for t, kind, _ in expected]
    for (_, _, amps), (_, _, want) in zip(got, expected, strict=True):
        assert amps == pytest.approx(want, nan_ok=True)


LOADS = {
    # a clamp with ±2 A of noise every cycle, and a load ramping up 1.5 A every cycle
    "noise": lambda k: 10.0 + (2.0 if k % 2 else -2.0),
    "ramp": lambda k: 1.5 * k,
}


@pytest.mark.parametrize("load", sorted(LOADS))
def test_fast_updates_come_at_most_every_100_ms(load):
    steps = []
    for second in range(5):
        steps += _cycles(second + 0.02, [LOADS[load](50 * second + k) for k in range(50)])
        steps.append((second + 1.0, None))
    fast = [t for t, kind, _ in replay(steps) if kind == "fast"]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(fast))
    assert len(fast) <= 5 * 10
    if load == "ramp":  # a rising load is followed as closely as the limit allows
        assert len(fast) >= 5 * 8


@pytest.mark.parametrize(("rise", "interval"), [(0.0, 0.1), (-1.0, 0.1), (1.0, -0.1)])
def test_reporter_settings_are_checked(rise, interval):
    with pytest.raises(ValueError):
        SiteReporter(rise, interval)
