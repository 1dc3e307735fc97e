"""The optional RCD self-test before each session: a session may draw energy only after it.

Vendors test the RCD module before each charge (nexblue: "before each charge or at least
every 24 h"; SmartEVSE pulses its test pin at every entry to C). The test belongs to the
metering service, which owns the RCD input and PERMIT: the charger asks with
``Meter1.SelfTestRcd()`` and follows the ``RcdSelfTest`` property
(idle/pending/running/passed/failed). The method only starts the test, so the result
must be one the meter reached *after* the request: a ``passed`` left from the start-up
test must not count. The meter publishes ``running`` (or ``pending``, while the RCD input
is active) before it answers the call, so "started" is seen first, then the outcome.

A test that does not end within ``TIMEOUT_S`` fails: the meter normally decides within
~1.1 s (trip within 100 ms of a 40 ms pulse, release within 1 s); a pending test means
the RCD input is active, and that is no passed test either.

Pure: the owner feeds the meter's status strings and the monotonic time, and asks
``poll`` for the timeout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

TIMEOUT_S = 5.0
_STARTED = ("pending", "running")


class GateState(enum.Enum):
    IDLE = "idle"  # no test asked for (no session, or the rule is off)
    WAITING = "waiting"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class GateOutcome:
    passed: bool
    detail: str  # why it failed, in words for the journal; "" when passed


class RcdGate:
    def __init__(self) -> None:
        self.state = GateState.IDLE
        self._started = False
        self._deadline = 0.0

    def request(self, meter_status: str, now: float) -> None:
        """A session starts; ``meter_status`` is the meter's RcdSelfTest right now.

        A test already under way when the session starts counts: it ends after the
        request, which is all the rule asks.
        """
        self.state = GateState.WAITING
        self._started = meter_status in _STARTED
        self._deadline = now + TIMEOUT_S

    def reset(self) -> None:
        """The session ended: the next one needs a test of its own."""
        self.state = GateState.IDLE

    def observe(self, meter_status: str, now: float) -> GateOutcome | None:
        """A new RcdSelfTest value from the meter; the outcome, once, when it decides."""
        if self.state is not GateState.WAITING:
            return None
        if meter_status in _STARTED:
            self._started = True
            return None
        if not self._started:
            return self.poll(now)  # an old result: still waiting for this test to start
        if meter_status == "passed":
            return self._finish(True, "")
        if meter_status == "failed":
            return self._finish(False, "the meter reports the test failed")
        return self.poll(now)

    def call_failed(self, reason: str) -> GateOutcome | None:
        """The meter could not be asked (not running, refused): no test, no energy."""
        if self.state is not GateState.WAITING:
            return None
        return self._finish(False, f"could not ask the meter: {reason}")

    def poll(self, now: float) -> GateOutcome | None:
        if self.state is GateState.WAITING and now >= self._deadline:
            return self._finish(False, f"no result within {TIMEOUT_S:g} s")
        return None

    @property
    def deadline(self) -> float | None:
        return self._deadline if self.state is GateState.WAITING else None

    def _finish(self, passed: bool, detail: str) -> GateOutcome:
        self.state = GateState.PASSED if passed else GateState.FAILED
        return GateOutcome(passed, detail)
