"""The two supervisors on their own: lock attempts, mirror/weld checks, closing spacing."""

from __future__ import annotations

import pytest

from evnetd.iec61851.contactor import (
    MIN_CLOSE_INTERVAL_S,
    MIRROR_FOLLOW_S,
    WELD_CONFIRM_S,
    ContactorSupervisor,
    SwitchFailure,
)
from evnetd.iec61851.lock import LOCK_ATTEMPT_S, LOCK_ATTEMPTS, LockCommand, LockSupervisor


def test_lock_reached_on_first_attempt() -> None:
    lock = LockSupervisor()
    assert lock.drive(True, False, 0.0) is LockCommand.LOCK
    assert (lock.target, lock.deadline) == (True, LOCK_ATTEMPT_S)
    assert lock.poll(True, 0.5) is None
    assert (lock.target, lock.deadline, lock.failed) == (None, None, False)
    assert lock.drive(True, True, 0.6) is None


def test_lock_gives_up_after_the_attempts() -> None:
    lock = LockSupervisor()
    commands = [lock.drive(True, False, 0.0)]
    for tick in range(1, 100):
        now = tick * 0.1
        commands.append(lock.poll(False, now))
        if lock.failed:
            break
    assert commands.count(LockCommand.LOCK) == LOCK_ATTEMPTS
    assert now == pytest.approx(LOCK_ATTEMPTS * LOCK_ATTEMPT_S)
    assert lock.drive(True, False, now) is None  # same target: still given up
    assert lock.drive(False, False, now) is None and not lock.failed  # new target, already there


def test_unlock_attempt() -> None:
    lock = LockSupervisor()
    assert lock.drive(False, True, 0.0) is LockCommand.UNLOCK
    assert lock.poll(True, LOCK_ATTEMPT_S) is LockCommand.UNLOCK  # retry
    assert lock.poll(False, 1.5) is None and lock.target is None


def test_mirror_must_follow_within_250_ms() -> None:
    contactor = ContactorSupervisor()
    contactor.command(True, 1.0)
    assert contactor.deadline() == 1.0 + MIRROR_FOLLOW_S
    assert contactor.check(True, False, False, 1.0 + MIRROR_FOLLOW_S - 0.001) is None
    failure = contactor.check(True, False, False, 1.0 + MIRROR_FOLLOW_S)
    assert failure is SwitchFailure.NO_CLOSE


def test_mirror_following_clears_the_window() -> None:
    contactor = ContactorSupervisor()
    contactor.command(True, 0.0)
    assert contactor.check(True, True, True, 0.02) is None
    assert contactor.deadline() is None


def test_mirror_stuck_closed_is_a_weld() -> None:
    contactor = ContactorSupervisor()
    contactor.command(True, 0.0)
    contactor.check(True, True, True, 0.02)
    contactor.command(False, 5.0)
    assert contactor.check(True, True, True, 5.2) is None
    assert contactor.check(True, True, True, 5.25) is SwitchFailure.WELD


def test_permit_low_means_the_coil_is_off() -> None:
    contactor = ContactorSupervisor()
    contactor.command(True, 0.0)
    contactor.check(True, True, False, 0.02)
    assert contactor.check(False, True, False, 1.0) is None  # PERMIT just dropped
    assert contactor.check(False, True, False, 1.0 + MIRROR_FOLLOW_S) is SwitchFailure.WELD


def test_load_voltage_while_open_must_persist_to_be_a_weld() -> None:
    contactor = ContactorSupervisor()
    assert contactor.check(True, False, True, 0.0) is None
    assert contactor.check(True, False, False, 1.0) is None  # gone: window restarts
    assert contactor.check(True, False, True, 2.0) is None
    assert contactor.deadline() == 2.0 + WELD_CONFIRM_S
    assert contactor.check(True, False, True, 2.0 + WELD_CONFIRM_S) is SwitchFailure.WELD


def test_closing_spacing() -> None:
    contactor = ContactorSupervisor()
    assert contactor.may_close(0.0) and contactor.close_allowed_at() is None
    contactor.command(True, 3.0)
    contactor.command(False, 4.0)
    assert not contactor.may_close(3.0 + MIN_CLOSE_INTERVAL_S - 0.001)
    assert contactor.may_close(3.0 + MIN_CLOSE_INTERVAL_S)
