"""Solar surplus charging: "solar" (from export alone) and "solar-min" (at least 6 A).

The surplus is what the EV could take without importing: our own current minus the site
CT current (``own_a − site_a``, the export the house leaves over). It is averaged with a
time constant of ``smoothing_s`` so that a passing cloud edge or a kettle does not jerk
the offer.

"solar" runs a start/stop state machine, because an EV cannot charge below 6 A and every
start and stop is a contactor operation and a wake/sleep of the car:

* start: the surplus has been ≥ ``start_surplus_a`` for ``start_delay_s`` without a break,
  and the charger has been stopped for at least ``min_off_s``;
* while running, offer ``max(6 A, surplus)``: a dip below 6 A imports the difference from
  the grid rather than stopping at once;
* stop: the surplus has been below ``6 A − import_allowance_a`` for ``stop_delay_s``
  without a break, and the charger has run for at least ``min_on_s``.

Current changes between 6 and 32 A pass freely; only the start and the stop are held
back (the pattern of SmartEVSE's start hold and stop timer and OpenEVSE's minimum charge
time). "solar-min" offers ``max(6 A, surplus)`` at all times: the grid tops the surplus
up to 6 A. The state machine runs in every mode, so that the combination rules can ask
for the "solar" answer while a schedule forbids grid charging (``decide``'s
``mode_override``) without a start delay of their own.

No reading for ``stale_after_s``: the surplus is unknown, which counts as a stop (the
average and the start timer begin afresh with the next reading); "solar" pauses,
"solar-min" offers its 6 A (the site limiter has its own fallback for the fuse).

Timers run on the readings' timeline: a condition holds from the reading that first
showed it, and every call first brings the state machine to ``now`` with the readings as
they were, so a timer that expired between two calls takes effect at its deadline.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from evnetd.energy.decision import Decision, amps_text, duration_text
from evnetd.iec61851.duty import MIN_CURRENT_A
from evnetd.timing import reached


class SolarMode(enum.Enum):
    OFF = "off"
    SOLAR = "solar"
    SOLAR_MIN = "solar-min"


@dataclass(frozen=True, slots=True)
class SolarSettings:
    mode: SolarMode = SolarMode.OFF
    start_surplus_a: float = 6.0
    """Surplus needed to start ("solar")."""
    start_delay_s: float = 60.0
    """... held this long."""
    stop_delay_s: float = 300.0
    """Surplus below 6 A − import_allowance_a this long: stop."""
    import_allowance_a: float = 0.0
    """Grid import tolerated while running before the stop timer starts (SmartEVSE "IMPORT")."""
    min_on_s: float = 300.0
    """Once started, run at least this long (contactor and car care)."""
    min_off_s: float = 300.0
    """Once stopped, stay off at least this long."""
    smoothing_s: float = 5.0
    """Time constant of the surplus average; 0 = no averaging."""
    stale_after_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("start_delay_s", "stop_delay_s", "import_allowance_a", "min_on_s", "min_off_s", "smoothing_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} {value}: must be a finite value ≥ 0")
        if not (math.isfinite(self.start_surplus_a) and self.start_surplus_a >= MIN_CURRENT_A):
            raise ValueError(f"start_surplus_a {self.start_surplus_a} A: must be at least 6 A")
        if not (math.isfinite(self.stale_after_s) and self.stale_after_s > 0):
            raise ValueError(f"stale_after_s {self.stale_after_s} s: must be a finite value > 0")


class SolarController:
    """Feed it every site CT reading with our own current; ask ``decide`` for the limit.

    ``settings`` may be replaced at run time (a change of mode keeps the averaged surplus
    and the timers, so switching between "solar" and "solar-min" needs no new start delay).
    """

    def __init__(self, settings: SolarSettings) -> None:
        self.settings = settings
        self._surplus: float | None = None  # averaged; None: no fresh reading
        self._last_at: float | None = None  # time of the latest reading
        self._running = False
        self._started_at: float | None = None
        self._stopped_at: float | None = None
        self._start_since: float | None = None  # surplus enough to start since
        self._stop_since: float | None = None  # surplus too low to keep running since

    @property
    def running(self) -> bool:
        """Whether "solar" charges now (the state machine runs in every mode; OFF: False)."""
        return self._running and self.settings.mode is not SolarMode.OFF

    def observe(self, now: float, site_a: float, own_a: float) -> None:
        if not (math.isfinite(site_a) and math.isfinite(own_a)):
            return
        self._advance(now)
        s = self.settings
        surplus = own_a - site_a
        if self._surplus is None or self._last_at is None or s.smoothing_s == 0:
            self._surplus = surplus
        else:
            self._surplus += (surplus - self._surplus) * (1.0 - math.exp(-(now - self._last_at) / s.smoothing_s))
        self._last_at = now
        if self._surplus >= s.start_surplus_a:
            self._start_since = now if self._start_since is None else self._start_since
        else:
            self._start_since = None
        if self._surplus < MIN_CURRENT_A - s.import_allowance_a:
            self._stop_since = now if self._stop_since is None else self._stop_since
        else:
            self._stop_since = None
        self._advance(now)

    def decide(self, now: float, mode_override: SolarMode | None = None) -> Decision:
        """The solar cap for ``mode_override`` (default: the settings' mode); math.inf when OFF."""
        mode = self.settings.mode if mode_override is None else mode_override
        if mode is SolarMode.OFF:
            return Decision(math.inf, "solar: off", "none")
        self._advance(now)
        surplus = self._surplus
        stale_at = self._stale_at()
        if mode is SolarMode.SOLAR_MIN:
            if surplus is None:
                return Decision(MIN_CURRENT_A, "solar-min: no CT reading: 6 A from the grid", "solar", stale_at)
            if surplus >= MIN_CURRENT_A:
                return Decision(surplus, f"solar-min: surplus {amps_text(surplus)}", "solar", stale_at)
            grid = MIN_CURRENT_A - max(surplus, 0.0)
            reason = f"solar-min: surplus {amps_text(max(surplus, 0.0))} + {amps_text(grid)} from the grid"
            return Decision(MIN_CURRENT_A, reason, "solar", stale_at)
        pending = [t for t in (stale_at, self._deadline()) if t is not None]
        next_change = min(pending, default=None)
        if surplus is None:
            return Decision(None, "solar: no CT reading: pause", "solar", next_change)
        if self._running:
            return Decision(max(MIN_CURRENT_A, surplus), self._running_reason(now, surplus), "solar", next_change)
        return Decision(None, self._stopped_reason(now, surplus), "solar", next_change)

    # --- the state machine ------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        """Apply what happened up to ``now`` with the readings as they were, in order: a
        start or a stop whose timers ran out (each at its own deadline), the staleness of
        the readings (a stop, and the timers start afresh with the next reading)."""
        while True:
            stale_at = self._stale_at()
            deadline = self._deadline()
            if deadline is not None and (stale_at is None or deadline < stale_at) and reached(now, deadline, 0.0):
                if self._running:
                    self._running, self._stopped_at, self._stop_since = False, deadline, None
                else:
                    # A stop timer counts from a reading taken while running: a low surplus
                    # seen before the start starts it afresh.
                    self._running, self._started_at, self._start_since, self._stop_since = True, deadline, None, None
            elif stale_at is not None and reached(now, stale_at, 0.0):
                if self._running:
                    self._running, self._stopped_at = False, stale_at
                self._surplus = self._start_since = self._stop_since = None
            else:
                return

    def _stale_at(self) -> float | None:
        """When the readings go stale unless another arrives; None if stale already or none yet."""
        if self._surplus is None or self._last_at is None:
            return None
        return self._last_at + self.settings.stale_after_s

    def _deadline(self) -> float | None:
        """When the pending start or stop takes effect, None if none is pending."""
        s = self.settings
        if self._running:
            if self._stop_since is None:
                return None
            return max(self._stop_since + s.stop_delay_s, _after(self._started_at, s.min_on_s))
        if self._start_since is None:
            return None
        return max(self._start_since + s.start_delay_s, _after(self._stopped_at, s.min_off_s))

    # --- the reason in words ----------------------------------------------------------------
    def _running_reason(self, now: float, surplus: float) -> str:
        s = self.settings
        if surplus >= MIN_CURRENT_A:
            return f"solar: surplus {amps_text(surplus)}"
        text = f"solar: surplus {amps_text(max(surplus, 0.0))}, holding 6 A"
        deadline = self._deadline()
        if deadline is None:  # within the import allowance
            return text
        if self._started_at is not None and deadline == self._started_at + s.min_on_s:
            return f"{text}; minimum run time, stopping in {duration_text(deadline - now)}"
        return f"{text}; stopping in {duration_text(deadline - now)}"

    def _stopped_reason(self, now: float, surplus: float) -> str:
        s = self.settings
        deadline = self._deadline()
        if deadline is None:
            return f"solar: surplus {amps_text(max(surplus, 0.0))} < {amps_text(s.start_surplus_a)}: paused"
        if self._stopped_at is not None and deadline == self._stopped_at + s.min_off_s:
            return f"solar: surplus {amps_text(surplus)}; minimum off time, starting in {duration_text(deadline - now)}"
        return f"solar: surplus {amps_text(surplus)}, starting in {duration_text(deadline - now)}"


def _after(since: float | None, period: float) -> float:
    return -math.inf if since is None else since + period
