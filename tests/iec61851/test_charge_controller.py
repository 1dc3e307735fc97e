"""The connector state machine, driven with a fake clock and a tiny plant.

``Rig`` stands for the board and the EV: after each step the mirror contact follows the
coil (request AND PERMIT), the lock follows its motor pulses, the pilot shows F while we
drive 0 %, and the diode shows PRESENT only once PWM has been running (one reading late,
as the detector would). Faults are injected by switching those behaviours off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import pytest

from evnetd.iec61851.contactor import MIN_CLOSE_INTERVAL_S, MIRROR_FOLLOW_S
from evnetd.iec61851.controller import (
    C1_FORCED_OPEN_S,
    DUTY_CHANGE_INTERVAL_S,
    STATE_F_AFTER_FAULT_S,
    WAKE_UP_AFTER_S,
    WAKE_UP_F_S,
    WAKE_UP_X1_S,
    Actions,
    ChargeController,
    ControllerConfig,
    Observation,
)
from evnetd.iec61851.lock import LOCK_ATTEMPT_S, LOCK_ATTEMPTS, LockCommand
from evnetd.iec61851.pilot import Diode, GeneratorMode, PilotState
from evnetd.iec61851.proximity import Plug, Proximity
from evnetd.iec61851.status import NO_FAULT, ConnectorStatus, ErrorCode, Fault

S = ConnectorStatus
CABLE_32 = Proximity(Plug.PRESENT, 32)
DUTY_32A = 0.533
DUTY_16A = 0.266
DUTY_13A = 0.216
X1, F = 1.0, 0.0
TICK = 0.01  # the service steps on every pilot reading; 10 ms here


@dataclass
class Rig:
    """A controller plus a plant that answers its outputs one step later."""

    config: ControllerConfig
    obs: Observation
    ev: PilotState = PilotState.B
    now: float = 0.0
    mirror_follows: bool = True
    welded: bool = False
    lock_jammed: bool = False
    diode_fitted: bool = True
    last: Actions | None = None

    def __post_init__(self) -> None:
        self.ctl = ChargeController(self.config)

    def step(self, dt: float = 0.0, **changes: Any) -> Actions:
        self.now = round(self.now + dt, 9)  # whole ticks: no drift across band edges
        if "ev" in changes:
            self.ev = changes.pop("ev")
        self.obs = replace(self.obs, **changes)
        self.obs = replace(self.obs, pilot=self._pilot(), diode=self._diode())
        actions = self.ctl.step(self.obs, self.now)
        self._plant(actions)
        self.last = actions
        return actions

    def run(self, until: float, dt: float = TICK, **changes: Any) -> list[tuple[float, Actions]]:
        """Step every ``dt`` up to ``until`` (inclusive); the changes apply at the first step."""
        seen = [(self.now + dt, self.step(dt, **changes))]
        while self.now + dt <= until + 1e-9:
            seen.append((self.now + dt, self.step(dt)))
        return seen

    def _duty(self) -> float:
        return X1 if self.last is None else self.last.duty

    def _pilot(self) -> PilotState:
        return PilotState.F if self._duty() == F else self.ev

    def _diode(self) -> Diode:
        connected = self.ev in (PilotState.B, PilotState.C, PilotState.D)
        if GeneratorMode.of(self._duty()) is not GeneratorMode.PWM or not connected:
            return Diode.UNKNOWN
        return Diode.PRESENT if self.diode_fitted else Diode.MISSING

    def _plant(self, actions: Actions) -> None:
        coil = actions.contactor and self.obs.permit
        closed = self.obs.contactor_closed
        if self.mirror_follows and not (self.welded and closed):
            closed = coil
        locked = self.obs.locked
        if actions.lock is not None and not self.lock_jammed:
            locked = actions.lock is LockCommand.LOCK
        self.obs = replace(self.obs, contactor_closed=closed, locked=locked)


def observation(**changes: Any) -> Observation:
    base = Observation(
        pilot=PilotState.A,
        diode=Diode.UNKNOWN,
        proximity=CABLE_32,
        permit=True,
        contactor_closed=False,
        load_voltage=False,
        locked=False,
        offered_a=32.0,
        authorised=False,
        available=True,
        meter_alive=True,
        meter_fault=None,
    )
    return replace(base, **changes)


def rig(config: ControllerConfig | None = None, ev: PilotState = PilotState.B, **obs: Any) -> Rig:
    return Rig(config or ControllerConfig(), observation(**obs), ev=ev)


def charging(config: ControllerConfig | None = None, **obs: Any) -> Rig:
    """A rig with an authorised EV charging at 32 A, contactor closed and mirrored."""
    r = rig(config, authorised=True, **obs)
    r.step()  # B, authorised: lock
    r.step(TICK)  # locked: PWM
    r.step(TICK)  # diode seen
    r.step(TICK, ev=PilotState.C)
    a = r.step(TICK)
    assert a.status is S.CHARGING and r.obs.contactor_closed, a
    return r


def first(seen: list[tuple[float, Actions]], pred: Any) -> float:
    return next(t for t, a in seen if pred(a))


def test_timing_rules_are_the_reference_numbers() -> None:
    """IEC 61851-1 / implementation values from reference/iec61851.md §3 and DESIGN §3."""
    assert C1_FORCED_OPEN_S == 6.0
    assert STATE_F_AFTER_FAULT_S == 0.3
    assert DUTY_CHANGE_INTERVAL_S == 5.0
    assert (WAKE_UP_AFTER_S, WAKE_UP_F_S, WAKE_UP_X1_S) == (30.0, 4.0, 0.75)
    assert MIN_CLOSE_INTERVAL_S == 10.0
    assert MIRROR_FOLLOW_S == 0.25
    assert LOCK_ATTEMPTS == 5


# --- the happy path --------------------------------------------------------------------
def test_session_from_plug_in_to_charging() -> None:
    r = rig()
    a = r.step()
    assert (a.status, a.duty, a.contactor, a.lock) == (S.PREPARING, X1, False, None)
    a = r.step(TICK, authorised=True)
    assert a.lock is LockCommand.LOCK and a.duty == X1 and a.status is S.SUSPENDED_EVSE
    a = r.step(TICK)  # lock confirmed: offer
    assert a.duty == DUTY_32A and a.signalled_a == pytest.approx(31.98)
    assert a.status is S.SUSPENDED_EV
    a = r.step(TICK)
    a = r.step(TICK, ev=PilotState.C)
    assert a.contactor, "closes in the step the C request is seen"
    a = r.step(TICK)
    assert a.status is S.CHARGING and a.error == NO_FAULT


def test_close_is_within_3_s_of_c_even_right_after_pwm_starts() -> None:
    """Simplified-mode EV: already in C when PWM appears; diode seen on the next reading."""
    r = rig(ev=PilotState.C, authorised=True, locked=True)
    seen = r.run(5.0)
    closed_at = first(seen, lambda a: a.contactor)
    pwm_at = first(seen, lambda a: a.duty == DUTY_32A)
    assert closed_at - pwm_at <= 3.0
    assert closed_at - pwm_at <= 2 * TICK


def test_cable_rating_caps_the_offer() -> None:
    r = rig(authorised=True, locked=True, proximity=Proximity(Plug.PRESENT, 13))
    assert r.step().duty == DUTY_13A


def test_tethered_charges_without_any_lock() -> None:
    r = rig(ControllerConfig(tethered=True), authorised=True, proximity=Proximity(Plug.PRESENT, 32))
    seen = r.run(0.05)
    seen += r.run(1.0, ev=PilotState.C)
    assert all(a.lock is None for _, a in seen)
    assert r.last is not None and r.last.status is S.CHARGING and not r.obs.locked


# --- never close without ... ------------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {"permit": False},
        {"authorised": False},
        {"offered_a": 5.9},
        {"offered_a": None},
        {"available": False},
        {"proximity": Proximity(Plug.ABSENT)},
        {"meter_alive": False},
    ],
)
def test_never_closes_without_everything(changes: dict[str, Any]) -> None:
    r = rig(**{"authorised": True, "locked": True, **changes})
    seen = r.run(1.0)
    seen += r.run(20.0, ev=PilotState.C)
    assert not any(a.contactor for _, a in seen)
    assert all(a.duty in (X1, F) for _, a in seen), "no PWM: C would then demand a closing"


def test_never_closes_without_a_locked_plug() -> None:
    r = rig(authorised=True)
    r.lock_jammed = True
    seen = r.run(1.0)
    seen += r.run(20.0, ev=PilotState.C)
    assert not any(a.contactor or a.duty not in (X1, F) for _, a in seen)


def test_never_closes_before_the_diode_is_seen() -> None:
    r = rig(authorised=True, locked=True)
    ctl, obs = r.ctl, replace(r.obs, pilot=PilotState.C, diode=Diode.UNKNOWN)
    for tick in range(300):
        a = ctl.step(obs, tick * TICK)
        assert a.duty == DUTY_32A and not a.contactor
    assert ctl.step(replace(obs, diode=Diode.PRESENT), 3.0).contactor


# --- open in the same step --------------------------------------------------------------
@pytest.mark.parametrize(
    ("ev", "changes"),
    [
        (PilotState.B, {}),  # C→B: EV pauses
        (PilotState.A, {}),  # C→A: unplugged under load
        (PilotState.E, {}),  # CP short
        (PilotState.INVALID, {}),
        (PilotState.D, {}),  # D not allowed
        (PilotState.C, {"permit": False}),
        (PilotState.C, {"locked": False}),  # lock lost
        (PilotState.C, {"proximity": Proximity(Plug.ABSENT)}),  # PP breaks first on unplug
        (PilotState.C, {"proximity": Proximity(Plug.INVALID)}),
        (PilotState.C, {"meter_alive": False}),
        (PilotState.C, {"meter_fault": Fault(ErrorCode.GROUND_FAILURE, "rcd-ac")}),
    ],
)
def test_opens_in_the_same_step(ev: PilotState, changes: dict[str, Any]) -> None:
    r = charging()
    a = r.step(TICK, ev=ev, **changes)
    assert not a.contactor


def test_diode_missing_opens_and_faults() -> None:
    r = charging()
    r.diode_fitted = False
    a = r.step(TICK)
    assert not a.contactor
    assert a.status is S.FAULTED and a.error == Fault(ErrorCode.EV_COMMUNICATION_ERROR, "diode")


# --- EVSE pause and the 6 s rule --------------------------------------------------------
@pytest.mark.parametrize("changes", [{"offered_a": None}, {"authorised": False}, {"available": False}])
def test_ev_ignoring_pwm_stop_is_cut_off_after_6_s(changes: dict[str, Any]) -> None:
    r = charging()
    t0 = r.now + TICK
    a = r.step(TICK, **changes)
    assert a.duty == X1 and a.contactor
    assert a.next_deadline == pytest.approx(t0 + C1_FORCED_OPEN_S)
    seen = r.run(t0 + 7.0)
    opened = first(seen, lambda a: not a.contactor)
    assert opened == pytest.approx(t0 + C1_FORCED_OPEN_S)


def test_ev_obeying_pwm_stop_is_opened_at_once() -> None:
    r = charging()
    r.step(TICK, offered_a=None)
    r.run(r.now + 1.0)
    a = r.step(TICK, ev=PilotState.B)
    assert not a.contactor and a.status is S.SUSPENDED_EVSE


def test_resumed_pwm_within_6_s_keeps_the_contactor() -> None:
    r = charging()
    t0 = r.now + TICK
    r.step(TICK, offered_a=None)
    seen = r.run(t0 + 10.0, offered_a=32.0)
    assert all(a.contactor for _, a in seen)
    assert first(seen, lambda a: a.duty == DUTY_32A) == pytest.approx(t0 + DUTY_CHANGE_INTERVAL_S)


def test_each_pwm_stop_gives_the_ev_its_own_6_s() -> None:
    r = charging()
    t0 = r.now + TICK
    r.step(TICK, offered_a=None)
    r.run(t0 + DUTY_CHANGE_INTERVAL_S + 0.5, offered_a=32.0)  # PWM back at t0 + 5
    t1 = r.now + TICK
    seen = r.run(t1 + 7.0, offered_a=None)
    assert first(seen, lambda a: not a.contactor) == pytest.approx(t1 + C1_FORCED_OPEN_S)


# --- closing spacing ------------------------------------------------------------------
def test_closings_are_at_least_10_s_apart() -> None:
    r = charging()
    closed_at = r.now - TICK  # charging() closed one step before its last
    r.step(TICK, ev=PilotState.B)
    r.run(closed_at + 2.0)
    seen = r.run(closed_at + 12.0, ev=PilotState.C)
    reclosed = first(seen, lambda a: a.contactor)
    assert reclosed >= closed_at + MIN_CLOSE_INTERVAL_S
    assert reclosed <= closed_at + MIN_CLOSE_INTERVAL_S + 2 * TICK
    # While waiting, the EV in C is not shown PWM (PWM + C must mean "closing now").
    assert all(a.duty == X1 for t, a in seen if t < reclosed - TICK)


# --- duty change limiting ---------------------------------------------------------------
def test_reductions_apply_at_once_and_rises_wait_5_s() -> None:
    r = charging()
    t0 = r.now + TICK
    assert r.step(TICK, offered_a=16.0).duty == DUTY_16A
    assert r.step(TICK, offered_a=10.0).duty == 0.166  # a second cut: also at once
    a = r.step(TICK, offered_a=32.0)
    assert a.duty == 0.166
    assert a.next_deadline == pytest.approx(t0 + TICK + DUTY_CHANGE_INTERVAL_S)
    seen = r.run(t0 + 12.0)
    raised = first(seen, lambda a: a.duty == DUTY_32A)
    assert raised == pytest.approx(t0 + TICK + DUTY_CHANGE_INTERVAL_S)
    assert all(a.contactor for _, a in seen)


def test_two_rises_are_5_s_apart() -> None:
    r = rig(authorised=True, locked=True, offered_a=10.0)
    assert r.step().duty == 0.166  # the first offer counts as a change
    seen = r.run(7.0, offered_a=16.0)
    seen += r.run(20.0, offered_a=32.0)
    rises = [t for (_, a), (t, b) in pairwise(seen) if a.duty != b.duty]
    assert rises == [pytest.approx(5.0), pytest.approx(10.0)]


# --- faults -----------------------------------------------------------------------------
def test_state_f_for_300_ms_after_a_fault_then_x1() -> None:
    r = charging()
    t0 = r.now + TICK
    rcd = Fault(ErrorCode.GROUND_FAILURE, "rcd-ac")
    a = r.step(TICK, meter_fault=rcd, permit=False)
    assert (a.duty, a.contactor, a.status, a.error) == (F, False, S.FAULTED, rcd)
    seen = r.run(t0 + 1.0)
    assert all(a.duty == F for t, a in seen if t < t0 + STATE_F_AFTER_FAULT_S - 1e-9)
    assert all(a.duty == X1 for t, a in seen if t >= t0 + STATE_F_AFTER_FAULT_S - 1e-9)
    # The meter clears it: charging resumes once the 10 s closing spacing has passed.
    seen = r.run(t0 + 12.0, meter_fault=None, permit=True)
    assert seen[-1][1].status is S.CHARGING
    assert first(seen, lambda a: a.contactor) >= t0 - 2 * TICK + MIN_CLOSE_INTERVAL_S


def test_a_further_fault_drives_f_again() -> None:
    r = charging()
    r.step(TICK, meter_alive=False)
    r.run(r.now + 1.0)
    t0 = r.now + TICK
    seen = r.run(t0 + 1.0, ev=PilotState.E)
    assert [t for t, a in seen if a.duty == F] == pytest.approx(
        [t for t, _ in seen if t < t0 + STATE_F_AFTER_FAULT_S - 1e-9]
    )


def test_fault_recovery_rules() -> None:
    r = charging()
    a = r.step(TICK, ev=PilotState.E)
    assert a.error == Fault(ErrorCode.EV_COMMUNICATION_ERROR, "cp-short")
    r.run(r.now + 1.0)
    a = r.step(TICK, ev=PilotState.B)  # short gone but EV still there: stays faulted
    assert a.status is S.FAULTED
    a = r.step(TICK, ev=PilotState.A)  # unplug clears it
    assert a.status is S.AVAILABLE


def test_meter_silence_is_an_internal_error_that_recovers_by_itself() -> None:
    r = charging()
    a = r.step(TICK, meter_alive=False)
    assert a.error.code is ErrorCode.INTERNAL_ERROR and not a.contactor
    seen = r.run(r.now + 10.0, meter_alive=True)
    assert seen[-1][1].status is S.CHARGING


def test_proximity_invalid_faults_until_valid() -> None:
    r = charging()
    a = r.step(TICK, proximity=Proximity(Plug.INVALID))
    assert a.error == Fault(ErrorCode.OTHER_ERROR, "proximity")
    a = r.step(TICK, proximity=CABLE_32)
    assert a.status is not S.FAULTED


def test_reported_fault_priority() -> None:
    r = charging()
    rcd = Fault(ErrorCode.GROUND_FAILURE, "rcd-ac")
    a = r.step(TICK, meter_fault=rcd, meter_alive=False, proximity=Proximity(Plug.INVALID))
    assert a.error == rcd


# --- contactor supervision --------------------------------------------------------------
def test_mirror_not_following_within_250_ms_is_a_power_switch_failure() -> None:
    r = rig(authorised=True, locked=True, ev=PilotState.C)
    r.mirror_follows = False
    seen = r.run(1.0)
    closed_at = first(seen, lambda a: a.contactor)
    failed_at = first(seen, lambda a: a.status is S.FAULTED)
    assert failed_at - closed_at == pytest.approx(0.25)
    a = r.last
    assert a is not None
    assert a.error == Fault(ErrorCode.POWER_SWITCH_FAILURE, "no-close") and not a.contactor
    assert not a.drop_permit
    r.run(r.now + 60.0, ev=PilotState.A)
    assert r.last is not None and r.last.status is S.FAULTED  # latched: unplug is not enough
    r.ctl.clear_faults()
    assert r.step(TICK).status is S.AVAILABLE


def test_weld_latches_drops_permit_and_keeps_the_plug_locked() -> None:
    r = charging()
    r.welded = True
    t0 = r.now + TICK
    seen = r.run(t0 + 1.0, ev=PilotState.B)
    failed_at = first(seen, lambda a: a.status is S.FAULTED)
    assert failed_at == pytest.approx(t0 + 0.25)
    a = seen[-1][1]
    assert a.error == Fault(ErrorCode.POWER_SWITCH_FAILURE, "weld") and a.drop_permit
    assert all(a.lock is None for _, a in seen) and r.obs.locked
    r.ctl.clear_faults()  # still welded: refused
    assert r.step(TICK).status is S.FAULTED
    r.welded = False
    r.obs = replace(r.obs, contactor_closed=False)
    r.ctl.clear_faults()
    a = r.step(TICK)
    assert a.status is not S.FAULTED and not a.drop_permit


@pytest.mark.parametrize(("live_for", "faulted"), [(1.99, False), (2.0, True)])
def test_load_voltage_with_contactor_open_is_a_weld(live_for: float, faulted: bool) -> None:
    r = rig(authorised=True, locked=True)
    r.step()
    r.step(TICK, load_voltage=True)
    t0 = r.now
    r.run(t0 + live_for - TICK)
    a = r.step(t0 + live_for - r.now)
    assert (a.status is S.FAULTED) is faulted
    if faulted:
        assert a.error == Fault(ErrorCode.POWER_SWITCH_FAILURE, "weld")
        assert r.step(TICK, load_voltage=False).status is S.FAULTED  # latched


def test_permit_drop_is_expected_to_open_the_mirror() -> None:
    r = charging()
    seen = r.run(r.now + 1.0, permit=False)
    assert all(a.error.code is not ErrorCode.POWER_SWITCH_FAILURE for _, a in seen)


# --- lock -------------------------------------------------------------------------------
def test_five_lock_attempts_then_connector_lock_failure() -> None:
    r = rig(authorised=True)
    r.lock_jammed = True
    seen = r.run(10.0)
    tries = [t for t, a in seen if a.lock is LockCommand.LOCK]
    assert len(tries) == LOCK_ATTEMPTS
    assert tries[-1] - tries[0] == pytest.approx((LOCK_ATTEMPTS - 1) * LOCK_ATTEMPT_S)
    failed_at = first(seen, lambda a: a.status is S.FAULTED)
    assert failed_at == pytest.approx(tries[-1] + LOCK_ATTEMPT_S)
    assert seen[-1][1].error == Fault(ErrorCode.CONNECTOR_LOCK_FAILURE, "lock")
    assert not any(a.contactor or a.duty not in (X1, F) for _, a in seen)
    a = r.step(TICK, ev=PilotState.A)
    assert a.status is S.AVAILABLE


def test_lock_retry_that_succeeds_is_no_fault() -> None:
    r = rig(authorised=True)
    r.lock_jammed = True
    r.run(2.5)
    r.lock_jammed = False
    seen = r.run(5.0)
    assert r.obs.locked and all(a.status is not S.FAULTED for _, a in seen)


def test_unlock_on_unplug_once_the_contactor_reads_open() -> None:
    r = charging()
    a = r.step(TICK, ev=PilotState.A)
    assert not a.contactor and a.lock is None and a.status is S.AVAILABLE
    a = r.step(TICK)
    assert a.lock is LockCommand.UNLOCK


def test_unlock_when_the_session_ends_and_finishing() -> None:
    r = charging()
    r.step(TICK, authorised=False)
    a = r.step(TICK, ev=PilotState.B)
    assert not a.contactor
    a = r.step(TICK)
    assert a.lock is LockCommand.UNLOCK and a.status is S.FINISHING


def test_unlock_command_stops_opens_then_unlocks_and_holds() -> None:
    r = charging()
    r.ctl.request_unlock()
    a = r.step(TICK)
    assert a.duty == X1 and a.contactor and a.lock is None  # never unlock while closed
    a = r.step(TICK, ev=PilotState.B)
    assert not a.contactor
    a = r.step(TICK)
    assert a.lock is LockCommand.UNLOCK and a.status is S.FINISHING
    seen = r.run(r.now + 5.0)
    assert all(a.lock is None for _, a in seen)  # still authorised, but held unlocked
    r.step(TICK, authorised=False)
    a = r.step(TICK, authorised=True)  # a new session may lock again
    assert a.lock is LockCommand.LOCK


def test_unlock_command_is_ignored_when_tethered() -> None:
    r = charging(ControllerConfig(tethered=True))
    r.ctl.request_unlock()
    assert r.step(TICK).status is S.CHARGING


def test_unlock_after_a_fault_once_open() -> None:
    r = charging()
    r.diode_fitted = False
    a = r.step(TICK)
    assert not a.contactor and a.lock is None  # mirror still closed this step
    a = r.step(TICK)
    assert a.lock is LockCommand.UNLOCK


def test_lock_lost_while_charging_opens_and_relocks() -> None:
    r = charging()
    a = r.step(TICK, locked=False)
    assert not a.contactor and a.lock is LockCommand.LOCK
    assert r.obs.locked


def test_unlock_failure_clears_once_the_pin_reads_unlocked() -> None:
    r = charging()
    r.lock_jammed = True
    seen = r.run(r.now + 8.0, ev=PilotState.A)
    assert sum(a.lock is LockCommand.UNLOCK for _, a in seen) == LOCK_ATTEMPTS
    assert seen[-1][1].error == Fault(ErrorCode.CONNECTOR_LOCK_FAILURE, "unlock")
    a = r.step(TICK, locked=False)
    assert a.status is S.AVAILABLE


# --- state D ----------------------------------------------------------------------------
def test_state_d_is_refused_unless_configured() -> None:
    r = rig(authorised=True, locked=True, ev=PilotState.D)
    seen = r.run(20.0)
    assert not any(a.contactor for _, a in seen)
    a = seen[-1][1]
    assert a.duty == X1 and a.status is S.SUSPENDED_EVSE
    assert a.error == Fault(ErrorCode.OTHER_ERROR, "ventilation")


def test_state_d_charges_when_allowed() -> None:
    r = rig(ControllerConfig(state_d_allowed=True), authorised=True, locked=True, ev=PilotState.D)
    seen = r.run(1.0)
    assert seen[-1][1].status is S.CHARGING and seen[-1][1].error == NO_FAULT


# --- wake-up ----------------------------------------------------------------------------
def test_wake_up_sequence_for_an_ev_asleep_in_b2() -> None:
    r = rig(authorised=True, locked=True)
    a = r.step()
    t0 = r.now
    assert a.duty == DUTY_32A and a.next_deadline == pytest.approx(t0 + WAKE_UP_AFTER_S)
    seen = r.run(t0 + 100.0)
    f_start = t0 + WAKE_UP_AFTER_S
    x1_start = f_start + WAKE_UP_F_S
    pwm_again = x1_start + WAKE_UP_X1_S
    eps = 1e-6
    for t, act in seen:
        expected = F if f_start - eps <= t < x1_start - eps else X1
        if not f_start - eps <= t < pwm_again - eps:
            expected = DUTY_32A
        assert act.duty == expected, t
        assert act.status is S.SUSPENDED_EV


def test_no_wake_up_when_disabled_or_when_the_ev_asked_once() -> None:
    r = rig(ControllerConfig(wake_up=False), authorised=True, locked=True)
    assert all(a.duty == DUTY_32A for _, a in r.run(100.0))
    r = charging()
    r.step(TICK, ev=PilotState.B)
    assert all(a.duty == DUTY_32A for _, a in r.run(r.now + 100.0))


def test_ev_waking_during_the_sequence_is_served() -> None:
    r = rig(authorised=True, locked=True)
    r.step()
    r.run(r.now + WAKE_UP_AFTER_S + WAKE_UP_F_S + 0.1)  # in the X1 phase
    seen = r.run(r.now + 1.0, ev=PilotState.C)
    assert seen[0][1].duty == DUTY_32A
    assert seen[-1][1].status is S.CHARGING


# --- status -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ev", "changes", "status"),
    [
        (PilotState.A, {}, S.AVAILABLE),
        (PilotState.A, {"available": False}, S.UNAVAILABLE),
        (PilotState.B, {}, S.PREPARING),
        (PilotState.B, {"authorised": True, "locked": True}, S.SUSPENDED_EV),
        (PilotState.B, {"authorised": True, "locked": True, "offered_a": None}, S.SUSPENDED_EVSE),
        (PilotState.C, {"authorised": True, "locked": True, "permit": False}, S.SUSPENDED_EVSE),
        (PilotState.B, {"available": False, "authorised": True}, S.UNAVAILABLE),
        (PilotState.E, {}, S.FAULTED),
    ],
)
def test_status(ev: PilotState, changes: dict[str, Any], status: ConnectorStatus) -> None:
    r = rig(ev=ev, **changes)
    assert r.run(0.5)[-1][1].status is status


def test_a_new_ev_gets_its_first_offer_at_once() -> None:
    r = charging(offered_a=16.0)
    r.step(TICK, offered_a=32.0)  # a rise is now pending, limited to 5 s
    r.run(r.now + 0.1, ev=PilotState.A, authorised=False)
    r.step(TICK, ev=PilotState.B, authorised=True)
    seen = r.run(r.now + 0.1)
    assert seen[-1][1].duty == DUTY_32A


def test_finishing_only_after_a_session() -> None:
    r = rig()
    assert r.step().status is S.PREPARING
    r.step(TICK, authorised=True)
    assert r.step(TICK, authorised=False).status is S.FINISHING
    r.step(TICK, ev=PilotState.A)
    assert r.step(TICK, ev=PilotState.B).status is S.PREPARING


def test_stepping_only_at_deadlines_runs_every_timer() -> None:
    """A service that sleeps until ``next_deadline`` must see each timer fire then."""
    r = rig(authorised=True)
    r.lock_jammed = True
    a = r.step()
    while a.status is not S.FAULTED:
        assert a.next_deadline is not None
        a = r.step(a.next_deadline - r.now)
    assert r.now == pytest.approx(LOCK_ATTEMPTS * LOCK_ATTEMPT_S)

    r = rig(authorised=True, locked=True)
    a = r.step()
    assert a.next_deadline is not None
    a = r.step(a.next_deadline - r.now)
    assert r.now == pytest.approx(WAKE_UP_AFTER_S) and a.duty == F

    r = charging()
    a = r.step(TICK, offered_a=None)
    t0 = r.now
    while a.contactor:
        assert a.next_deadline is not None
        a = r.step(a.next_deadline - r.now)
    assert r.now == pytest.approx(t0 + C1_FORCED_OPEN_S)


def test_idle_has_no_deadline() -> None:
    r = rig(ev=PilotState.A)
    assert r.step().next_deadline is None


def test_closing_sets_the_mirror_deadline() -> None:
    r = rig(authorised=True, locked=True, ev=PilotState.C)
    seen = r.run(0.1)
    t, a = next((t, a) for t, a in seen if a.contactor)
    assert a.next_deadline == pytest.approx(t + 0.25)


# --- simplified pilot (A → C without B): at most 10 A ----------------------------------
DUTY_10A = 0.166


@pytest.mark.parametrize(
    ("states", "simplified"),
    [
        ((PilotState.A, PilotState.C), True),  # straight from A to C
        ((PilotState.A, PilotState.D), True),
        ((PilotState.A, PilotState.B, PilotState.C), False),  # the basic pilot, through B
        ((PilotState.C,), False),  # first state after start-up: we did not see it arrive
        ((PilotState.A, PilotState.C, PilotState.B, PilotState.C), True),  # a pause does not undo it
        ((PilotState.A, PilotState.C, PilotState.A, PilotState.B, PilotState.C), False),  # a new plug-in
        ((PilotState.A, PilotState.B, PilotState.A, PilotState.C), True),
    ],
)
def test_simplified_pilot_is_detected_from_the_plug_in(states: tuple[PilotState, ...], simplified: bool) -> None:
    config = ControllerConfig(state_d_allowed=True, simplified_limit=True)
    r = rig(config, ev=states[0], authorised=True, locked=True)
    for state in states:
        r.run(r.now + 0.5, ev=state)
    assert r.last is not None and r.last.simplified is simplified


SIMPLIFIED = ControllerConfig(simplified_limit=True)


def test_a_simplified_ev_is_offered_at_most_10_a() -> None:
    r = rig(SIMPLIFIED, ev=PilotState.A, authorised=True, locked=True)
    r.step()
    seen = r.run(1.0, ev=PilotState.C)
    assert r.last is not None and r.last.status is S.CHARGING and r.obs.contactor_closed
    offers = {a.duty for _, a in seen if GeneratorMode.of(a.duty) is GeneratorMode.PWM}
    assert offers == {DUTY_10A}  # never more, not even for one step
    assert r.last.signalled_a == pytest.approx(9.96)


@pytest.mark.parametrize(("offered", "duty"), [(8.0, 0.133), (10.0, DUTY_10A), (32.0, DUTY_10A)])
def test_the_10_a_cap_only_lowers(offered: float, duty: float) -> None:
    r = rig(SIMPLIFIED, ev=PilotState.A, authorised=True, locked=True, offered_a=offered)
    r.step()
    r.run(1.0, ev=PilotState.C)
    assert r.last is not None and r.last.duty == duty


def test_the_10_a_cap_is_off_unless_configured() -> None:
    r = rig(ev=PilotState.A, authorised=True, locked=True)
    r.step()
    r.run(1.0, ev=PilotState.C)
    assert r.last is not None and r.last.duty == DUTY_32A and not r.last.simplified
