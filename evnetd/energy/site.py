"""Main-fuse protection from the site CT clamp: our limit = fuse − house load − margin.

The CT clamp on the incoming supply measures the whole site, signed (positive = import),
our own EV included; the house load is that minus our own current. What is left under the
fuse, less a margin for the load steps that arrive between two readings, is what the EV
may take.

* A rise of the house load lowers the limit on the reading that shows it: the fuse's
  trip curve leaves seconds, and the EV needs up to 5 s to follow a lower offer.
* A fall raises the limit only once the lower load has held ``raise_delay_s`` (the limit
  follows the highest house load of that window). A kettle or a heat pump that cycles
  would otherwise make the offer hunt up and down with it, and the EV chase it.
* Export (a negative house load, solar exceeding the house) does not raise the limit above
  ``main_fuse_a − margin_a``: the PV can vanish under a cloud within a second, faster than
  the EV follows a lower offer, and the fuse would then carry the whole EV current.
* Below 6 A nothing can be signalled: pause.
* No reading for ``stale_after_s`` (or none yet): we no longer know the house load, so we
  fall back to ``safe_current_a`` (or pause), the fail-safe that users of load managers
  ask for after a meter feed dropped out with the car still charging at full current.

Readings that are not finite numbers are ignored, so a broken feed ends in the fallback.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from evnetd.energy.decision import Decision, amps_text, duration_text
from evnetd.iec61851.duty import MIN_CURRENT_A
from evnetd.timing import reached


@dataclass(frozen=True, slots=True)
class SiteSettings:
    main_fuse_a: float = 40.0
    margin_a: float = 2.0
    stale_after_s: float = 10.0
    safe_current_a: float | None = 6.0
    """Limit while the readings are stale; None = pause."""
    raise_delay_s: float = 5.0
    """A fall of the house load raises the limit only after it held this long."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.main_fuse_a) and self.main_fuse_a > 0):
            raise ValueError(f"main_fuse_a {self.main_fuse_a} A: must be a finite value > 0")
        if not 0 <= self.margin_a < self.main_fuse_a:
            raise ValueError(f"margin_a {self.margin_a} A: must be ≥ 0 and below the main fuse")
        if not (math.isfinite(self.stale_after_s) and self.stale_after_s > 0):
            raise ValueError(f"stale_after_s {self.stale_after_s} s: must be a finite value > 0")
        if self.safe_current_a is not None and not (math.isfinite(self.safe_current_a) and self.safe_current_a >= 0):
            raise ValueError(f"safe_current_a {self.safe_current_a} A: must be a finite value ≥ 0 or None")
        if not (math.isfinite(self.raise_delay_s) and self.raise_delay_s >= 0):
            raise ValueError(f"raise_delay_s {self.raise_delay_s} s: must be a finite value ≥ 0")


class SiteLimiter:
    """Feed it every site CT reading with our own current; ask ``decide`` for the limit."""

    def __init__(self, settings: SiteSettings) -> None:
        self.settings = settings
        self._last_at: float | None = None  # monotonic time of the latest reading
        # (house_a, ended_at) of the readings that may still be the window's highest, in
        # order, values falling: a reading holds until the next one arrives (ended_at,
        # inf for the latest) and counts until raise_delay_s after that. A reading that a
        # later one equals or exceeds can never be the highest again, so it is dropped.
        self._peaks: deque[tuple[float, float]] = deque()

    def observe(self, now: float, site_a: float, own_a: float) -> None:
        if not (math.isfinite(site_a) and math.isfinite(own_a)):
            return
        house = site_a - own_a
        if self._peaks:
            self._peaks[-1] = (self._peaks[-1][0], now)  # the latest reading ends here
        while self._peaks and self._peaks[-1][0] <= house:
            self._peaks.pop()
        self._peaks.append((house, math.inf))
        self._last_at = now
        self._forget(now)

    def decide(self, now: float) -> Decision:
        s = self.settings
        if self._last_at is None or reached(now, self._last_at, s.stale_after_s):
            return self._fallback(now)
        self._forget(now)
        house, ended_at = self._peaks[0]
        amps = s.main_fuse_a - max(house, 0.0) - s.margin_a
        reason = f"site: fuse {amps_text(s.main_fuse_a)} − house {amps_text(house)} − margin {amps_text(s.margin_a)}"
        # The highest reading leaving the window raises the limit; silence makes it stale.
        next_change = min(ended_at + s.raise_delay_s, self._last_at + s.stale_after_s)
        if amps < MIN_CURRENT_A:
            return Decision(None, f"{reason} = {amps_text(amps)} < 6 A: pause", "site", next_change)
        return Decision(amps, reason, "site", next_change)

    def _forget(self, now: float) -> None:
        """Drop the peaks that ended raise_delay_s ago or more (the latest never ends)."""
        while reached(now, self._peaks[0][1], self.settings.raise_delay_s):
            self._peaks.popleft()

    def _fallback(self, now: float) -> Decision:
        safe = self.settings.safe_current_a
        if self._last_at is not None:
            why = f"site: no CT reading for {duration_text(now - self._last_at)}"
        else:
            why = "site: no CT reading yet"
        if safe is None or safe < MIN_CURRENT_A:
            return Decision(None, f"{why}: pause", "fallback")
        return Decision(safe, f"{why}: safe {amps_text(safe)}", "fallback")
