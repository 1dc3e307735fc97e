"""Current-limit arbitration: the offered current is the lowest active limit, with its source.

Every party that may cap the current publishes a limit under its own source; the arbiter
keeps one per source and answers the minimum, naming the source in control (what
`evnetctl status` shows as ``limit_source``). Ties go to the source listed first in
``LimitSource``.

Expiry. A limit with ``expires_at`` is a promise its source keeps refreshing. When it
lapses we do not know what that source would say now, so:

* Sources that guard something physical or contractual — thermal derating (the meter),
  the OCPP composite schedule (the CSMS's grid or tariff limit), energy management (the
  site's main fuse via the CT clamp, solar surplus, CAN sharing) — fall back to
  ``min(last value, fallback)``, the fallback defaulting to 6 A. 6 A is the least current
  that keeps a session alive (a pause sends many EVs to sleep, see the wake-up rules) and
  bounds what a silent source can let through to 1.4 kW; taking the minimum with the last
  value means an expiry never *raises* the offer (a source that had paused us keeps us
  paused). This is the "failsafe limit" idea of EEBus LPC, which falls back to a
  configured value when the energy manager's heartbeat stops. The fallback per source is
  configuration.
* A person's temporary limit (user, remote) that lapses has simply ended: it is dropped.
* Hardware, installer, cable and vehicle limits are facts of the installation or of the
  plugged EV: they take no expiry.

Below 6 A no current can be signalled: the answer is a pause (``offered_a`` None). The
keep-awake modes apply only when energy management's choices (``ENERGY``: solar surplus,
schedule) are what push below 6 A and every other limit allows 6 A: they trade some grid
import for a session that does not fall asleep, which is a choice about surplus, never
about protection, a person's cap or the CSMS's. That is why energy management sends its
protective caps, the main fuse and the CAN sharing group's allocation, as a source of their
own (``SITE``): 6 A held against them would overload the fuse or take current the group
never allotted. MINIMUM holds 6 A for as long as that lasts. PULSE pauses, but offers 6 A for
``on_s`` at the end of every ``period_s`` (default 60 s every 15 min): far less import
than MINIMUM, and an EV that is woken before its own sleep timer gives up. The cycle
starts with the pause (the EV was drawing current just before, a burst then would add
nothing) and is anchored where the condition began, so the arbiter remembers that
moment: call ``resolve`` with a non-decreasing ``now``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from evnetd.iec61851.duty import MIN_CURRENT_A

DEFAULT_HARDWARE_A = 32.0
DEFAULT_FALLBACK_A = 6.0
DEFAULT_PULSE_ON_S = 60.0
DEFAULT_PULSE_PERIOD_S = 900.0


class LimitSource(enum.Enum):
    """Who set a limit; the order breaks ties when two limits are equal."""

    HARDWARE = "hardware"  # the charger's rating
    INSTALLER = "installer"  # commissioning maximum (supply, cable run)
    USER = "user"  # the owner's maximum from the app, whole amps
    CABLE = "cable"  # PP rating of the plugged cable
    VEHICLE = "vehicle"  # what the EV itself may draw (simplified pilot: 10 A)
    THERMAL = "thermal"  # derating 72–78 °C from the meter
    OCPP = "ocpp"  # composite charging schedule
    ENERGY = "energy"  # energy management's choices: solar surplus, schedules
    SITE = "site"  # energy management's protection: main fuse (site CT clamp), CAN sharing group
    REMOTE = "remote"  # an operator's temporary limit (`evnetctl limit`, web)


_FIXED = frozenset({LimitSource.HARDWARE, LimitSource.INSTALLER, LimitSource.CABLE, LimitSource.VEHICLE})
_FAILSAFE = frozenset({LimitSource.THERMAL, LimitSource.OCPP, LimitSource.ENERGY, LimitSource.SITE})
_ORDER = {source: index for index, source in enumerate(LimitSource)}


class KeepAwake(enum.Enum):
    """What to do when the limits leave less than 6 A."""

    PAUSE = "pause"
    MINIMUM = "minimum"  # hold 6 A when energy management is what limits
    PULSE = "pulse"  # pause, with 6 A bursts of ``on_s`` every ``period_s``


@dataclass(frozen=True, slots=True)
class PulseTiming:
    """The PULSE mode's bursts: 6 A for ``on_s`` at the end of every ``period_s``."""

    on_s: float = DEFAULT_PULSE_ON_S
    period_s: float = DEFAULT_PULSE_PERIOD_S

    def __post_init__(self) -> None:
        if not (math.isfinite(self.on_s) and math.isfinite(self.period_s) and 0 < self.on_s < self.period_s):
            raise ValueError(f"pulse {self.on_s:g} s every {self.period_s:g} s: need 0 < on_s < period_s")

    def burst(self, since: float, now: float) -> tuple[bool, float]:
        """Whether ``now`` is in a burst of a cycle started at ``since``, and the next edge."""
        cycle_start = since + math.floor((now - since) / self.period_s) * self.period_s
        burst_start = cycle_start + self.period_s - self.on_s
        if now >= burst_start:
            return True, cycle_start + self.period_s
        return False, burst_start


class LimitError(ValueError):
    """A limit the arbiter refuses; the message names the source, the value and the rule."""


class UserLimitStepError(LimitError):
    """User limits are set in whole amps."""


class LimitSourceError(LimitError):
    """The source does not allow this (expiring a fixed limit, clearing the hardware one)."""


@dataclass(frozen=True, slots=True)
class Limit:
    source: LimitSource
    amps: float
    expires_at: float | None = None  # monotonic seconds; None = until changed
    fallback: bool = False  # the source let it expire: this is its fallback value


@dataclass(frozen=True, slots=True)
class Resolution:
    offered_a: float | None  # the current to offer; None = pause
    limit_a: float  # the lowest active limit (before the 6 A rule)
    source: LimitSource  # whose limit that is
    limits: tuple[Limit, ...]  # every active limit, lowest first
    next_expiry: float | None  # when a limit lapses or a pulse starts/ends next: resolve again then
    keep_awake: bool = False  # offered_a is a keep-awake 6 A, not what the limits allow


class Arbiter:
    """Holds one limit per source; ``resolve`` is pure with respect to ``now``."""

    def __init__(
        self,
        hardware_a: float = DEFAULT_HARDWARE_A,
        keep_awake: KeepAwake = KeepAwake.PAUSE,
        fallback_a: Mapping[LimitSource, float] | None = None,
        pulse: PulseTiming | None = None,
    ) -> None:
        _check_amps(LimitSource.HARDWARE, hardware_a)
        self.keep_awake = keep_awake
        self.pulse = pulse or PulseTiming()
        self._asleep_since: float | None = None  # when energy management went below 6 A
        self._fallback = dict.fromkeys(_FAILSAFE, DEFAULT_FALLBACK_A)
        for source, amps in (fallback_a or {}).items():
            if source not in _FAILSAFE:
                raise LimitSourceError(f"{source.value}: has no fallback (it does not expire)")
            _check_amps(source, amps)
            self._fallback[source] = amps
        self._limits: dict[LimitSource, Limit] = {
            LimitSource.HARDWARE: Limit(LimitSource.HARDWARE, hardware_a)
        }

    def set(self, source: LimitSource, amps: float, expires_at: float | None = None) -> None:
        """Set (or refresh) the limit of ``source``."""
        if source is LimitSource.HARDWARE:
            raise LimitSourceError("hardware: the charger's rating is fixed at start-up")
        _check_amps(source, amps)
        if source is LimitSource.USER and amps != math.floor(amps):
            raise UserLimitStepError(f"user limit {amps} A: must be whole amps")
        if expires_at is not None and source in _FIXED:
            raise LimitSourceError(f"{source.value} limit: does not expire")
        self._limits[source] = Limit(source, float(amps), expires_at)

    def clear(self, source: LimitSource) -> None:
        """Remove the limit of ``source`` (no effect if it has none)."""
        if source is LimitSource.HARDWARE:
            raise LimitSourceError("hardware: the charger's rating cannot be cleared")
        self._limits.pop(source, None)

    def resolve(self, now: float) -> Resolution:
        active = [limit for limit in (self._effective(lim, now) for lim in self._limits.values()) if limit]
        active.sort(key=lambda limit: (limit.amps, _ORDER[limit.source]))
        lowest = active[0]  # the hardware limit never lapses
        offered: float | None = lowest.amps
        held = False
        pending = [
            limit.expires_at
            for limit in self._limits.values()
            if limit.expires_at is not None and limit.expires_at > now
        ]
        surplus_only = lowest.amps < MIN_CURRENT_A and all(
            limit.amps >= MIN_CURRENT_A for limit in active if limit.source is not LimitSource.ENERGY
        )
        if not surplus_only or self.keep_awake is not KeepAwake.PULSE:
            self._asleep_since = None
        if lowest.amps < MIN_CURRENT_A:
            if surplus_only and self.keep_awake is KeepAwake.MINIMUM:
                held = True
            elif surplus_only and self.keep_awake is KeepAwake.PULSE:
                if self._asleep_since is None:
                    self._asleep_since = now
                held, edge = self.pulse.burst(self._asleep_since, now)
                pending.append(edge)
            offered = MIN_CURRENT_A if held else None
        return Resolution(
            offered_a=offered,
            limit_a=lowest.amps,
            source=lowest.source,
            limits=tuple(active),
            next_expiry=min(pending) if pending else None,
            keep_awake=held,
        )

    def _effective(self, limit: Limit, now: float) -> Limit | None:
        if limit.expires_at is None or now < limit.expires_at:
            return limit
        fallback = self._fallback.get(limit.source)
        if fallback is None:
            return None
        return Limit(limit.source, min(limit.amps, fallback), fallback=True)


def _check_amps(source: LimitSource, amps: float) -> None:
    if not math.isfinite(amps) or amps < 0:
        raise LimitError(f"{source.value} limit {amps} A: must be a finite value ≥ 0 A")
