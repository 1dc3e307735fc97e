"""Solar-only charging over a simulated day: grid import and contactor closings.

A day from 06:00 to 20:00 in 1 s steps on a fake clock: a bell-shaped PV export current
(peak ``PV_PEAK_A``) under seeded cloud events of 1–10 min that cut it by 50–90 %, a
house load of a base plus seeded appliance steps, and an EV that draws min(offered,
32 A), reaching each new offer by a linear 2 s ramp. The site CT reads house − PV + EV.
Every second the readings go to SolarController ("solar", DEFAULT settings) and
SiteLimiter, the schedule (default: always allowed) is asked, ``combine`` decides, and
the result becomes the EV's offer (a pause opens the contactor).

Figures: energy charged; grid import attributable to the EV, max(0, min(EV, site)) × 230 V
(the EV is the last load the house would have had anyway: import beyond the EV's own
current is the house's); import_ratio = import / charged (target ≤ 0.05); contactor
closings and closings per 10 min (target ≤ 1 on average). ``EVNET_BENCH_SEED`` picks
another day (default 7); the ``worst_*`` figures are over ``days`` seeds from there.

The defaults meet the targets untuned: the import is almost all the 6 A held while the
stop timer runs under a cloud (by design: a stop costs a contactor operation and a car
wake-up). ``import_ratio_stop_600s`` shows why the stop timer defaults to 300 s and not
SmartEVSE's 10 min: on a cloudy day that alone breaks the 5 % target.
"""

from __future__ import annotations

import datetime
import math
import os
import random
from dataclasses import dataclass

from evnetd.energy.policy import Inputs, combine, solar_mode_for
from evnetd.energy.schedule import Schedule, ScheduleSettings
from evnetd.energy.site import SiteLimiter, SiteSettings
from evnetd.energy.solar import SolarController, SolarMode, SolarSettings

VOLTS = 230.0
DAY_START_S = 6 * 3600
DAY_END_S = 20 * 3600
PV_PEAK_A = 25.0  # a 6 kWp array at noon
EV_MAX_A = 32.0
EV_RAMP_S = 2.0
HOUSE_BASE_A = 1.5
TARGET_IMPORT_RATIO = 0.05
TARGET_CLOSINGS_PER_10MIN = 1.0
SEEDS = 5


@dataclass(frozen=True, slots=True)
class _Event:
    start: float
    end: float
    value: float  # clouds: the fraction of PV cut; house: amps added


def _events(rng: random.Random, mean_gap_s: float, duration_s: tuple[float, float],
            value: tuple[float, float]) -> list[_Event]:  # fmt: skip
    events, t = [], float(DAY_START_S)
    while (t := t + rng.expovariate(1.0 / mean_gap_s)) < DAY_END_S:
        events.append(_Event(t, t + rng.uniform(*duration_s), rng.uniform(*value)))
    return events


def _pv_a(t: float, clouds: list[_Event]) -> float:
    x = (t - DAY_START_S) / (DAY_END_S - DAY_START_S)
    clear = PV_PEAK_A * math.pow(math.sin(math.pi * x), 1.5)
    cut = max((c.value for c in clouds if c.start <= t < c.end), default=0.0)
    return clear * (1.0 - cut)


def _house_a(t: float, steps: list[_Event]) -> float:
    return HOUSE_BASE_A + sum(s.value for s in steps if s.start <= t < s.end)


class _Ev:
    """Draws min(offer, 32 A); each change of the offer is reached by a linear 2 s ramp."""

    def __init__(self) -> None:
        self.amps = 0.0
        self._target = 0.0
        self._from = 0.0
        self._since = 0.0

    def step(self, t: float, offer: float | None) -> None:
        """The current drawn over the second that starts at ``t`` (the ramp's value at its end)."""
        target = 0.0 if offer is None else min(offer, EV_MAX_A)
        if target != self._target:
            self._target, self._from, self._since = target, self.amps, t
        progress = min(1.0, (t + 1.0 - self._since) / EV_RAMP_S)
        self.amps = self._from + (self._target - self._from) * progress


def simulate(seed: int, solar_settings: SolarSettings | None = None) -> dict[str, float]:
    rng = random.Random(seed)
    clouds = _events(rng, mean_gap_s=1800.0, duration_s=(60.0, 600.0), value=(0.5, 0.9))
    steps = _events(rng, mean_gap_s=2700.0, duration_s=(120.0, 1800.0), value=(2.0, 10.0))
    solar = SolarController(solar_settings or SolarSettings(mode=SolarMode.SOLAR))
    site = SiteLimiter(SiteSettings())
    schedule = Schedule(ScheduleSettings(), random.Random(seed))
    midnight = datetime.datetime(2026, 6, 15)
    ev = _Ev()
    offer: float | None = None
    charged_as = imported_as = pv_as = 0.0
    closings = 0
    for second in range(DAY_START_S, DAY_END_S):
        t = float(second)
        ev.step(t, offer)
        pv = _pv_a(t, clouds)
        site_a = _house_a(t, steps) - pv + ev.amps
        solar.observe(t, site_a, ev.amps)
        site.observe(t, site_a, ev.amps)
        state = schedule.decide(midnight + datetime.timedelta(seconds=t), t)
        decision = combine(Inputs(
            site=site.decide(t), solar=solar.decide(t, solar_mode_for(SolarMode.SOLAR, state)),
            schedule=state, solar_mode=SolarMode.SOLAR,
        ))  # fmt: skip
        if offer is None and decision.amps is not None:
            closings += 1
        offer = decision.amps
        charged_as += ev.amps
        imported_as += max(0.0, min(ev.amps, site_a))
        pv_as += pv
    hours = (DAY_END_S - DAY_START_S) / 3600.0
    charged_kwh = charged_as * VOLTS / 3.6e6
    import_kwh = imported_as * VOLTS / 3.6e6
    return {
        "pv_kwh": round(pv_as * VOLTS / 3.6e6, 2),
        "charged_kwh": round(charged_kwh, 2),
        "import_kwh": round(import_kwh, 3),
        "import_ratio": round(import_kwh / charged_kwh, 4) if charged_kwh else 0.0,
        "closings": closings,
        "closings_per_10min": round(closings / (hours * 6), 3),
    }


def run() -> dict[str, object]:
    seed = int(os.environ.get("EVNET_BENCH_SEED", "7"))
    day = simulate(seed)
    days = [simulate(seed + n) for n in range(1, SEEDS)]
    worst_ratio = max(d["import_ratio"] for d in (day, *days))
    worst_closings = max(d["closings_per_10min"] for d in (day, *days))
    return {
        **day,
        "pass_import": day["import_ratio"] <= TARGET_IMPORT_RATIO,
        "pass_closings": day["closings_per_10min"] <= TARGET_CLOSINGS_PER_10MIN,
        "days": len(days) + 1,
        "worst_import_ratio": worst_ratio,
        "worst_closings_per_10min": worst_closings,
        "pass_all_days": worst_ratio <= TARGET_IMPORT_RATIO and worst_closings <= TARGET_CLOSINGS_PER_10MIN,
        "import_ratio_stop_600s": simulate(seed, SolarSettings(mode=SolarMode.SOLAR, stop_delay_s=600.0))[
            "import_ratio"
        ],
    }
