"""Socket lock actuator supervision: drive toward a wanted position, count the attempts.

The motor is pulsed by the service (one ``LockCommand`` = one pulse); the feedback switch
says where the pin is. An attempt that has not reached the position when its window ends
is retried, up to ``LOCK_ATTEMPTS`` in all (the product manual's five, §2.4); then the
supervisor gives up and the controller raises ConnectorLockFailure. Whether the lock is
*wanted* is the controller's business, not this module's.
"""

from __future__ import annotations

import enum

LOCK_ATTEMPTS = 5
LOCK_ATTEMPT_S = 1.0
"""One attempt: a ~600 ms motor pulse (chargebyte, SmartEVSE) plus time for the feedback."""


class LockCommand(enum.Enum):
    LOCK = "lock"
    UNLOCK = "unlock"


class LockSupervisor:
    """Attempts toward one target position at a time; ``failed`` once all attempts are spent."""

    def __init__(self) -> None:
        self._target: bool | None = None  # True = locked; None = idle
        self._attempts = 0
        self._deadline: float | None = None
        self.failed = False

    @property
    def target(self) -> bool | None:
        """The position being driven (or given up on); None when idle."""
        return self._target

    @property
    def deadline(self) -> float | None:
        """When the running attempt ends; None when no attempt runs."""
        return self._deadline

    def poll(self, locked: bool, now: float) -> LockCommand | None:
        """Follow the running attempt: done, retried, or given up (sets ``failed``)."""
        if self._target is None:
            return None
        if locked is self._target:
            self._target, self._attempts, self._deadline, self.failed = None, 0, None, False
            return None
        if self._deadline is None or now < self._deadline:
            return None
        if self._attempts >= LOCK_ATTEMPTS:
            self._deadline, self.failed = None, True
            return None
        return self._attempt(now)

    def drive(self, want_locked: bool, locked: bool, now: float) -> LockCommand | None:
        """Start driving toward ``want_locked`` unless already there or already on it."""
        if want_locked is self._target:
            return None
        self._target, self._attempts, self.failed = want_locked, 0, False
        if locked is want_locked:
            self._target, self._deadline = None, None
            return None
        return self._attempt(now)

    def _attempt(self, now: float) -> LockCommand:
        self._attempts += 1
        self._deadline = now + LOCK_ATTEMPT_S
        return LockCommand.LOCK if self._target else LockCommand.UNLOCK
