"""The combination rules: how site, sharing, solar and schedule make one energy limit.

First what the owner's choices let the EV take (solar mode and schedule), then the caps
that protect the installation over it:

| schedule | solar mode      | cheap period | the EV may take                            | source   |
|----------|-----------------|--------------|--------------------------------------------|----------|
| blocked  | off             | –            | nothing: pause                             | schedule |
| blocked  | solar           | –            | the solar decision (surplus is free)       | solar    |
| blocked  | solar-min       | –            | the solar decision as in "solar"           | solar    |
| allowed  | off             | –            | no cap                                     | none     |
| allowed  | solar/solar-min | yes          | no cap: cheap power beats waiting for sun  | schedule |
| allowed  | solar/solar-min | no           | the solar decision                         | solar    |

Then safety first: the result is the lowest of that, the site decision and the sharing
decision (when sharing is on), a pause counting as 0 A; its reason and source are those
of the decision that limits, and a tie goes to the safety source (site, then sharing), so
the user sees the fuse when the fuse is what holds the car back. A result below 6 A is a
pause; ``next_change`` is the earliest of all the inputs' deadlines.

"blocked" means the schedule does not allow grid charging now: a blocking window, outside
a cheap period with ``cheap_only``, or during the random delay. "solar-min" would draw
its 6 A from the grid, so while blocked it behaves as "solar": the caller asks the solar
controller for the mode ``solar_mode_for`` names, and ``combine`` takes that decision
as given. A blocking window wins over a cheap period inside it: the owner's block is
explicit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evnetd.energy.decision import Decision
from evnetd.energy.schedule import ScheduleState
from evnetd.energy.solar import SolarMode
from evnetd.iec61851.duty import MIN_CURRENT_A


@dataclass(frozen=True, slots=True)
class Inputs:
    site: Decision
    solar: Decision
    """The solar controller's decision for ``solar_mode_for(solar_mode, schedule)``."""
    schedule: ScheduleState
    solar_mode: SolarMode
    """The mode the owner chose."""
    sharing: Decision | None = None
    """From CAN sharing when it is on."""


def solar_mode_for(mode: SolarMode, schedule: ScheduleState) -> SolarMode:
    """The mode to ask the solar controller for: "solar-min" acts as "solar" while blocked."""
    if mode is SolarMode.SOLAR_MIN and not schedule.allowed:
        return SolarMode.SOLAR
    return mode


def combine(inputs: Inputs) -> Decision:
    wanted = _wanted(inputs)
    caps = [inputs.site] if inputs.sharing is None else [inputs.site, inputs.sharing]
    limiting = min([*caps, wanted], key=lambda d: 0.0 if d.amps is None else d.amps)  # first of equals
    pending = (*(d.next_change for d in (*caps, inputs.solar)), inputs.schedule.next_change)
    deadlines = [t for t in pending if t is not None]
    amps = limiting.amps if limiting.amps is not None and limiting.amps >= MIN_CURRENT_A else None
    return Decision(amps, limiting.reason, limiting.source, min(deadlines, default=None))


def _wanted(inputs: Inputs) -> Decision:
    """What the solar mode and the schedule let the EV take, before the safety caps."""
    schedule = inputs.schedule
    if not schedule.allowed:
        if inputs.solar_mode is SolarMode.OFF:
            return Decision(None, schedule.reason, "schedule")
        solar = inputs.solar
        return Decision(solar.amps, f"{solar.reason}; {schedule.reason}", solar.source)
    if schedule.cheap and inputs.solar_mode is not SolarMode.OFF:
        return Decision(math.inf, schedule.reason, "schedule")
    return inputs.solar
