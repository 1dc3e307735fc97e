"""The RCD module self-test: pulse its test input, watch its fault output trip and release.

A test proves the whole chain (module, wiring, GPIO) still works: the fault input must go
active within ``rcd_test_trip_within_s`` of the start of a ``rcd_test_pulse_s`` pulse on
the test output, and go inactive again within ``rcd_test_release_within_s`` of the end
of the pulse. A test only starts while the fault input is known inactive: a test started
on an active input could not tell a trip caused by the pulse from a real one.

The owner feeds it the current input level and the time; it answers with the level of the
test output, its status and, once, the outcome.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from evnetd.protection.config import ProtectionConfig
from evnetd.timing import reached


class SelfTestStatus(enum.Enum):
    IDLE = "idle"
    """Never requested."""
    PENDING = "pending"
    """Requested; waits for the fault input to be known inactive."""
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SelfTestOutcome:
    passed: bool
    detail: str
    """Why it failed, in words for the journal; empty when passed."""


class RcdSelfTest:
    def __init__(self, config: ProtectionConfig) -> None:
        self._config = config
        self.status = SelfTestStatus.IDLE
        self.output = False
        """Level to drive on the RCD module's test input."""
        self._started = 0.0
        self._tripped = False

    @property
    def running(self) -> bool:
        return self.status is SelfTestStatus.RUNNING

    def request(self) -> None:
        """Ask for a test; a running test is not restarted."""
        if self.status is not SelfTestStatus.RUNNING:
            self.status = SelfTestStatus.PENDING

    @property
    def deadline(self) -> float | None:
        """When :meth:`step` must next run even if the input does not change."""
        if self.status is not SelfTestStatus.RUNNING:
            return None
        cfg = self._config
        pulse_end = self._started + cfg.rcd_test_pulse_s
        if self.output:
            return pulse_end
        if not self._tripped:
            return self._started + cfg.rcd_test_trip_within_s
        return pulse_end + cfg.rcd_test_release_within_s

    def step(self, now: float, fault_input: bool | None) -> SelfTestOutcome | None:
        """Advance to ``now`` with the fault input at ``fault_input`` (None: unknown)."""
        if self.status is SelfTestStatus.PENDING:
            if fault_input is False:
                self.status = SelfTestStatus.RUNNING
                self.output = True
                self._started = now
                self._tripped = False
            return None
        if self.status is not SelfTestStatus.RUNNING:
            return None
        cfg = self._config
        pulse_end = self._started + cfg.rcd_test_pulse_s
        if self.output and reached(now, self._started, cfg.rcd_test_pulse_s):
            self.output = False
        if not self._tripped:
            if reached(now, self._started, cfg.rcd_test_trip_within_s):
                return self._finish(
                    False,
                    f"fault input did not go active within "
                    f"{cfg.rcd_test_trip_within_s * 1000:.0f} ms of the test pulse",
                )
            self._tripped = bool(fault_input)
        if self._tripped:
            if not self.output and not fault_input:
                return self._finish(True, "")
            if reached(now, pulse_end, cfg.rcd_test_release_within_s):
                return self._finish(
                    False,
                    f"fault input did not release within "
                    f"{cfg.rcd_test_release_within_s:.1f} s of the end of the test pulse",
                )
        return None

    def _finish(self, passed: bool, detail: str) -> SelfTestOutcome:
        self.status = SelfTestStatus.PASSED if passed else SelfTestStatus.FAILED
        self.output = False
        return SelfTestOutcome(passed, detail)
