"""At most one live update per interval, however fast the services' properties change.

The meter publishes once a second, but the charger can change five properties within a
millisecond (status, pilot, current, contactor, session), in several signals: a browser on
a phone needs the result, not every step. The first change after a quiet spell goes out
after a short settling time (so one control step's signals leave together, well inside the
live-latency target); later ones wait for the interval to end and leave as one. Pure: the
caller passes the monotonic time and runs the timer.
"""

from __future__ import annotations


class Coalescer:
    def __init__(self, interval_s: float, settle_s: float) -> None:
        self.interval_s = interval_s
        self.settle_s = settle_s
        self._last_sent = float("-inf")
        self._pending = False

    def changed(self, now: float) -> float | None:
        """A change: the delay after which to send, or None when a send is already due."""
        if self._pending:
            return None
        self._pending = True
        return max(self.settle_s, self._last_sent + self.interval_s - now)

    def sent(self, now: float) -> None:
        self._pending = False
        self._last_sent = now
